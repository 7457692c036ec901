#!/usr/bin/env bash
# bench.sh — every Go benchmark, then each command-level comparison script
# (scripts/bench-*.sh: show-locks vs psql, check vs pg_isready, migrate vs
# pgloader), each printing connectdb's figure next to the reference tool's.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== Go benchmarks"
go test -run='^$' -bench=. -benchmem -count=1 ./...
for s in scripts/bench-*.sh; do
	[ -e "$s" ] || continue
	echo
	echo "== $s"
	bash "$s"
done
