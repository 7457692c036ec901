#!/usr/bin/env bash
# bench-locks.sh — `connectdb show-locks` against `psql -c 'select * from pg_locks'`
# on a dedicated PostgreSQL server (max_connections 230) where 200 backends hold
# 10,000 advisory locks in total (half bigint keys, half two-int4 keys).
#
# Prints, per run, the wall time of each command (both over TCP, output
# discarded) and their ratio; the goal is ratio <= 1.2. Also prints the
# in-process cost of show-locks' query (BenchmarkRead) next to a plain
# `select * from pg_locks` (BenchmarkSelectPgLocks) and the server's share
# (BenchmarkReadSQLOnly).
#
#   scripts/bench-locks.sh            # 20 iterations
#   ITER=50 scripts/bench-locks.sh
#   PSQL=/usr/lib/postgresql/15/bin/psql scripts/bench-locks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CONNECTDB_PG_CACHE="${CONNECTDB_PG_CACHE:-/work/main/.cache/postgres}"
iter="${ITER:-20}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/connectdb" ./cmd/connectdb
export CONNECTDB_BENCH_BIN="$tmp/connectdb"
export CONNECTDB_BENCH_PSQL="${PSQL:-/usr/bin/psql}"
"$CONNECTDB_BENCH_PSQL" --version
go test -run '^$' -bench 'BenchmarkShowLocksVsPsql|BenchmarkRead|BenchmarkSelectPgLocks' \
	-benchtime "${iter}x" -count 1 ./internal/locks | tee "$tmp/out.txt"
awk '/BenchmarkShowLocksVsPsql/ {
	for (i = 1; i <= NF; i++) {
		if ($(i+1) == "show-locks-ms/op") c = $i
		if ($(i+1) == "psql-ms/op") p = $i
		if ($(i+1) == "ratio") r = $i
	}
	printf "\nshow-locks: %s ms   psql select * from pg_locks: %s ms   ratio %s (goal <= 1.2)\n", c, p, r
	if (r + 0 > 1.2) { print "GOAL MISSED"; exit 1 }
}' "$tmp/out.txt"
