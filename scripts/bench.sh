#!/usr/bin/env bash
# bench.sh — every Go benchmark, then each command-level comparison script
# (scripts/bench-*.sh: show-locks and check against native psql and
# pg_isready, migrate against the COPY FREEZE floor and pgloader), each
# printing connectdb's figures next to the reference's.
#
# BENCH_SMOKE=1 runs everything once at the smallest sizes (CI does, so that
# no benchmark rots); its figures mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=()
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	benchtime=(-benchtime 1x)
	export PAIRS=1 ROUNDS=2 ROWS=2000 REPEAT=1 PGLOADER=0 SHAPES=wide,narrow MODES=derived,existing
fi
# The check benchmark needs the native psql and pg_isready (bench-check.sh
# installs them when missing).
native=/usr/lib/postgresql/15/bin
if [ ! -x "$native/psql" ] || [ ! -x "$native/pg_isready" ]; then
	echo "bench: installing postgresql-client-15 for the native psql and pg_isready" >&2
	apt-get install -y -qq --no-install-recommends postgresql-client-15 >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends postgresql-client-15 >&2; }
fi
echo "== Go benchmarks"
go test -run='^$' -bench=. "${benchtime[@]}" -benchmem -count=1 ./...
for s in scripts/bench-*.sh; do
	[ -e "$s" ] || continue
	echo
	echo "== $s"
	bash "$s"
done
