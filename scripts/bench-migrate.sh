#!/usr/bin/env bash
# bench-migrate.sh — connectdb migrate against the floor (the same rows
# loaded by PostgreSQL itself: server-side COPY … FREEZE of binary files in
# one transaction, then the same keys, indexes and foreign keys, ANALYZE),
# into an empty database and into a Connect-created schema, on wide
# (Connect-shaped) and narrow (two bigints) tables; pgloader too when it is
# installed (up to 2M rows). Rounds alternate the contenders; the figures
# are medians and the ratios medians of per-round ratios. Peak RSS and CPU
# come from /usr/bin/time -v.
# Targets (issues 14 and 17): <= 1.15x the floor with keys (verification
# included), <= 2x the bare COPY FREEZE, peak RSS < 40 MB at 10M rows,
# rows/s within 10% of an older binary given as BASELINE.
#   ROWS=1000000,10000000 SHAPES=wide,narrow REPEAT=3 PG=17 bash scripts/bench-migrate.sh
#   BASELINE=/path/to/old/connectdb bash scripts/bench-migrate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CONNECTDB_TEST_PG="${PG:-${CONNECTDB_TEST_PG:-17}}"
if [ ! -x /usr/bin/time ]; then
	echo "bench-migrate: installing time for /usr/bin/time -v (peak RSS)" >&2
	apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq time >/dev/null; }
fi
pgloader=none
if [ "${PGLOADER:-1}" = 1 ]; then
	if ! command -v pgloader >/dev/null 2>&1; then
		echo "bench-migrate: pgloader not found; trying: apt-get install -y pgloader" >&2
		apt-get install -y -qq pgloader >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq pgloader >/dev/null 2>&1) || true
	fi
	pgloader=pgloader
fi
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/connectdb ./cmd/connectdb
go run ./internal/migrate/benchmigrate -connectdb bin/connectdb -baseline "${BASELINE:-}" -pgloader "$pgloader" \
	-rows "${ROWS:-10000,1000000}" -shapes "${SHAPES:-wide,narrow}" -modes "${MODES:-derived,existing}" -repeat "${REPEAT:-3}" "$@"
