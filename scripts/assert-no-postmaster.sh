#!/usr/bin/env bash
# Fails when the tests of this checkout left a PostgreSQL server running:
# any postgres process started from this checkout's binary cache.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${CONNECTDB_PG_CACHE:-$root/.cache/postgres}
sleep 0.5
if pids=$(pgrep -f "^$cache/.*/bin/postgres"); then
	echo "FAIL: PostgreSQL processes left running after the tests:" >&2
	ps -o pid,user,args -p "$(echo $pids | tr ' ' ,)" >&2
	exit 1
fi
echo "no PostgreSQL server left running from $cache"
