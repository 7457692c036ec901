#!/usr/bin/env bash
# Fails when a test left a PostgreSQL server running: a postmaster started by
# internal/pgtest (data folder $TMPDIR/connectdb-pgtest/PID-*/data) whose
# starting process PID is gone. Servers of test runs still in progress (other
# checkouts share the binary cache) are not counted.
set -u
runtime=${TMPDIR:-/tmp}/connectdb-pgtest
sleep 0.5
left=()
while read -r pid args; do
	[ -n "${pid:-}" ] || continue
	data=$(sed -n 's/.* -D \([^ ]*\).*/\1/p' <<<"$args")
	case "$data" in "$runtime"/*) ;; *) continue ;; esac
	owner=${data#"$runtime"/}
	owner=${owner%%-*}
	if ! kill -0 "$owner" 2>/dev/null && [ ! -d "/proc/$owner" ]; then
		left+=("$pid")
	fi
done < <(pgrep -a -f "/bin/postgres -D " || true)
if [ ${#left[@]} -gt 0 ]; then
	echo "FAIL: PostgreSQL servers left running by tests that have ended:" >&2
	ps -o pid,user,args -p "$(IFS=,; echo "${left[*]}")" >&2
	exit 1
fi
echo "no PostgreSQL server left running by an ended test"
