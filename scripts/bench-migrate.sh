#!/usr/bin/env bash
# bench-migrate.sh — connectdb migrate vs pgloader on the same generated
# SQLite files (10k and 1M rows by default) and the same local PostgreSQL:
# rows/s and peak RSS side by side. Targets: >= 2x pgloader's rows/s, peak
# RSS < 100 MB and flat from 10k to 1M rows.
#   ROWS=10000,1000000 PG=17 bash scripts/bench-migrate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CONNECTDB_TEST_PG="${PG:-${CONNECTDB_TEST_PG:-17}}"
ROWS="${ROWS:-10000,1000000}"
if ! command -v pgloader >/dev/null 2>&1; then
	echo "pgloader not found; trying: apt-get install -y pgloader" >&2
	if ! (apt-get install -y pgloader >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y pgloader >/dev/null 2>&1)); then
		echo "pgloader is unavailable; showing connectdb's own figures only" >&2
	fi
fi
if [ ! -x /usr/bin/time ]; then
	echo "/usr/bin/time is missing (apt-get install -y time); peak RSS cannot be measured" >&2
	exit 1
fi
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/connectdb ./cmd/connectdb
go run ./internal/migrate/benchmigrate -connectdb bin/connectdb -rows "$ROWS" "$@"
