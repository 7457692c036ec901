#!/usr/bin/env bash
# bench-check.sh — wall time of a full `connectdb check` against a loopback
# PostgreSQL (default 17, TLS on) next to pg_isready on the same server.
# Target: check <= 1.5 x pg_isready + 100 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONNECTDB_TEST_PG="${CONNECTDB_TEST_PG:-17}"
bin="$(mktemp -d)/connectdb"
trap 'rm -rf "$(dirname "$bin")"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$bin" ./cmd/connectdb
CONNECTDB_BIN="$bin" go test -run '^$' -bench BenchmarkCheckVsPgIsready -benchtime "${BENCHTIME:-20x}" -count=1 -v ./internal/cmd/check \
  | grep -E 'Benchmark|check .*pg_isready|ok|FAIL'
