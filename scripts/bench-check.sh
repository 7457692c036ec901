#!/usr/bin/env bash
# bench-check.sh — wall time of a full `connectdb check` (every check, the
# pipelined privilege probe) against a loopback PostgreSQL (default 17) over
# TLS (verify-full) with a password, next to the NATIVE clients doing the
# least a client can: `psql -c 'select 1'` and pg_isready, same server, same
# TLS. Debian's /usr/bin/psql and /usr/bin/pg_isready are Perl wrappers (tens
# of ms of start-up), so the real binaries in /usr/lib/postgresql/15/bin are
# used, installed from postgresql-client-15 when missing. The three run in
# turn, the order rotating every round; the figures are medians, and the
# ratios are medians of the per-round ratios. Each client's CPU (user +
# system) and the load average before and after are printed too: on a
# shared machine the load is part of the figures.
# Target (issue 17): check <= 1.0 x native psql -c 'select 1'.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONNECTDB_TEST_PG="${CONNECTDB_TEST_PG:-17}"
native=/usr/lib/postgresql/15/bin
if [ ! -x "$native/psql" ] || [ ! -x "$native/pg_isready" ]; then
	echo "bench-check: installing postgresql-client-15 for the native psql and pg_isready" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql-client-15 >&2
fi
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$dir/connectdb" ./cmd/connectdb
# The machine's load is part of the figures: print it before and after.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
CONNECTDB_BIN="$dir/connectdb" CONNECTDB_PSQL="$native/psql" CONNECTDB_PG_ISREADY="$native/pg_isready" \
	go test -run '^$' -bench BenchmarkCheckVsPsql -benchtime "${ROUNDS:-40}x" -count=1 -v ./internal/check \
	| grep -E 'rounds:|psql:|^ok|FAIL' | grep -v ' 1 rounds:' | awk '!seen[$0]++'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
