#!/usr/bin/env bash
# bench.sh — Go benchmarks for every package. Command-level comparisons
# (check vs pg_isready, show-locks vs psql, migrate vs pgloader) are added
# by their packages' benchmarks and printed side by side.
set -euo pipefail
go test -run='^$' -bench=. -benchmem -count=1 ./...
