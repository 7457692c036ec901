# connectdb — build, test and demo targets. `make help` lists them.
GO       ?= go
PG       ?= 17
MATRIX   ?= 13 14 15 16 17
FUZZTIME ?= 10s
# Pinned tool versions (never @latest: a new release must not break CI).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GORELEASER_VERSION := v2.15.1
# Built once per version and kept (compiling GoReleaser takes minutes);
# point TOOLS_BIN at a folder that outlives the checkout to keep it in CI.
TOOLS_BIN ?= $(CURDIR)/.cache/bin
GORELEASER := $(TOOLS_BIN)/goreleaser-$(GORELEASER_VERSION)/goreleaser
PKG      := github.com/connectdb/connectdb
VERSION  ?= v$(shell bash scripts/version.sh)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/internal/buildinfo.version=$(VERSION) -X $(PKG)/internal/buildinfo.commit=$(COMMIT)

.PHONY: help build pg test test-matrix demo bench bench-smoke fuzz man lint clean dist dist-test

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## static binary in bin/connectdb
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/connectdb ./cmd/connectdb

pg: ## fetch the PostgreSQL $(PG) binaries used by tests (cache: /var/cache/connectdb-pg for root, else .cache/)
	bash scripts/fetch-postgres.sh $(PG)
	bash scripts/fetch-pgbouncer.sh

test: pg ## vet, then every test with -race against a real PostgreSQL $(PG)
	@echo "go vet ./... (compiles every package; the first run takes a few minutes)"
	$(GO) vet ./...
	CONNECTDB_TEST_PG=$(PG) $(GO) run ./tools/testprogress -race -count=1 ./...
	bash scripts/assert-no-postmaster.sh

test-matrix: ## the whole suite once per PostgreSQL major in MATRIX
	bash scripts/fetch-postgres.sh $(MATRIX)
	@set -e; for v in $(MATRIX); do \
		echo "== PostgreSQL $$v =="; \
		CONNECTDB_TEST_PG=$$v $(GO) run ./tools/testprogress -count=1 ./...; \
	done
	bash scripts/assert-no-postmaster.sh

demo: build pg ## run connectdb against a throwaway local PostgreSQL
	CONNECTDB_TEST_PG=$(PG) $(GO) run ./tools/demo ./bin/connectdb

bench: build pg ## benchmarks, with comparisons against reference tools
	CONNECTDB_TEST_PG=$(PG) bash scripts/bench.sh

bench-smoke: build pg ## every benchmark once at the smallest sizes, so none rots (CI)
	BENCH_SMOKE=1 CONNECTDB_TEST_PG=$(PG) bash scripts/bench.sh

fuzz: ## run every fuzz target for FUZZTIME each
	bash scripts/fuzz.sh $(FUZZTIME)

man: ## regenerate the manual pages in docs/man from the command tree
	rm -f docs/man/*.1
	$(GO) run ./tools/genman docs/man

lint: ## gofmt, go vet, staticcheck (pinned), go mod tidy -diff
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff

$(GORELEASER):
	@echo "building GoReleaser $(GORELEASER_VERSION) into $(dir $@) (once; takes a few minutes)"
	GOBIN=$(dir $@) $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

dist: $(GORELEASER) ## archives, SHA256SUMS, .deb and .rpm in dist/ (GoReleaser snapshot, offline)
	CONNECTDB_VERSION=$$(bash scripts/version.sh) CONNECTDB_COMMIT=$(COMMIT) $(GORELEASER) release --snapshot --clean

dist-test: ## install dist/'s .deb into this system, check it, remove it; inspect the .rpm (root)
	bash scripts/dist-test.sh

clean: ## remove build output (keeps the PostgreSQL cache)
	rm -rf bin/ dist/
