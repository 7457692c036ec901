#!/usr/bin/env bash
# bench-locks.sh — `connectdb show-locks` against NATIVE psql on a dedicated
# PostgreSQL server where 200 backends hold 10,000 advisory locks (half bigint
# keys, half two-int4 keys).
#
# Baselines, both run by Debian's native psql binary (never the Perl wrapper
# /usr/bin/psql, whose start-up alone costs tens of milliseconds):
#   select  psql -c 'select * from pg_locks'                      target: ratio <= 1.0
#   join    psql -c 'select * from pg_locks l join pg_stat_activity a
#                    on a.pid = l.pid where l.locktype = ''advisory'''  target: ratio <= 0.5
#           (the join an administrator would type to see who holds what)
# All three commands connect over TCP with the same URL and discard their
# output. For each baseline, connectdb and psql run in pairs, alternating
# which one goes first; each run is measured with /usr/bin/time (wall, user
# + system CPU, peak RSS). The script prints the medians, the peak RSS and
# the MEDIAN OF THE PER-PAIR RATIOS (wall and CPU), then the in-process Go
# benchmarks of the read, verdict and render path.
#
#   scripts/bench-locks.sh             # 21 pairs per baseline
#   PAIRS=51 scripts/bench-locks.sh
#   PSQL=/path/to/native/psql scripts/bench-locks.sh
#   CONNECTDB_TEST_PG=15 scripts/bench-locks.sh   # server major (default 17)
#   CONNECTDB_BIN=/tmp/old/connectdb scripts/bench-locks.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
pairs="${PAIRS:-21}"
psql="${PSQL:-/usr/lib/postgresql/15/bin/psql}"

if [ ! -x "$psql" ] && [ -z "${PSQL:-}" ]; then
	echo "bench-locks: native psql missing; installing postgresql-client-15 with apt" >&2
	apt-get install -y -q postgresql-client-15 >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql-client-15 >&2; }
fi
if [ ! -x "$psql" ]; then
	echo "bench-locks: $psql is not an executable; set PSQL to a native psql binary" >&2
	exit 2
fi
if [ "$(head -c 2 "$psql")" = "#!" ]; then
	echo "bench-locks: $psql is a script (Debian's wrapper?), not the native binary; use /usr/lib/postgresql/15/bin/psql" >&2
	exit 2
fi
if [ ! -x /usr/bin/time ]; then
	echo "bench-locks: /usr/bin/time missing; installing it with apt" >&2
	apt-get install -y -q time >&2
fi

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
	exec 9>&- 2>/dev/null || true # closing the server's stdin stops it
	[ -n "$server_pid" ] && wait "$server_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ -n "${CONNECTDB_BIN:-}" ]; then
	cp "$CONNECTDB_BIN" "$tmp/connectdb"
else
	CGO_ENABLED=0 go build -trimpath -o "$tmp/connectdb" ./cmd/connectdb
fi
go build -o "$tmp/benchserver" ./internal/locks/lockstest/benchserver
mkfifo "$tmp/stdin"
"$tmp/benchserver" <"$tmp/stdin" >"$tmp/url" 2>"$tmp/server.log" &
server_pid=$!
exec 9>"$tmp/stdin"
echo "bench-locks: starting the server and 200 lock-holding sessions..." >&2
until [ -s "$tmp/url" ]; do
	if ! kill -0 "$server_pid" 2>/dev/null; then
		cat "$tmp/server.log" >&2
		exit 1
	fi
	sleep 0.2
done
url="$(head -n 1 "$tmp/url")"

echo "psql: $("$psql" --version) ($psql)"
echo "connectdb: $("$tmp/connectdb" version 2>/dev/null | head -n 1 || echo built from this tree)"
echo "server: PostgreSQL $("$psql" -X -A -t -d "$url" -c 'show server_version'), $("$psql" -X -A -t -d "$url" -c "select count(*) from pg_locks where locktype = 'advisory'") advisory locks, $("$psql" -X -A -t -d "$url" -c "select count(*) from pg_stat_activity where backend_type = 'client backend'") client backends"
echo "machine: $(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo

export NO_COLOR=1 PGAPPNAME=bench-locks
cdb=("$tmp/connectdb" show-locks --url "$url" --lock-id 4242)
q_select='select * from pg_locks'
q_join="select * from pg_locks l join pg_stat_activity a on a.pid = l.pid where l.locktype = 'advisory'"

# run NAME CMD...: one measured run; appends "wall_s cpu_s maxrss_kb" to $tmp/NAME.
run() {
	local name=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || {
		echo "bench-locks: $* failed:" >&2
		cat "$tmp/err" >&2
		exit 1
	}
	awk '{ printf "%s %.3f %s\n", $1, $2 + $3, $4 }' "$tmp/t" >>"$tmp/$name"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# compare LABEL TARGET QUERY: PAIRS alternating pairs, then the summary line.
compare() {
	local label=$1 target=$2 query=$3 a="cdb-$1" b="psql-$1"
	rm -f "$tmp/$a" "$tmp/$b"
	run warm "${cdb[@]}"
	run warm "$psql" -X -q -d "$url" -c "$query"
	for ((i = 0; i < pairs; i++)); do
		if ((i % 2 == 0)); then
			run "$a" "${cdb[@]}"
			run "$b" "$psql" -X -q -d "$url" -c "$query"
		else
			run "$b" "$psql" -X -q -d "$url" -c "$query"
			run "$a" "${cdb[@]}"
		fi
	done
	local wall_ratio cpu_ratio
	wall_ratio=$(paste -d ' ' "$tmp/$a" "$tmp/$b" | awk '{ print $1 / $4 }' | median)
	cpu_ratio=$(paste -d ' ' "$tmp/$a" "$tmp/$b" | awk '{ c = $5 > 0 ? $5 : 0.001; print $2 / c }' | median)
	printf '%-7s show-locks %6.1f ms (cpu %6.1f ms, peak %6.1f MB)   psql %6.1f ms (cpu %6.1f ms, peak %6.1f MB)   ratio wall %.2f  cpu %.2f   target <= %s  %s\n' \
		"$label" \
		"$(cut -d ' ' -f 1 "$tmp/$a" | median | awk '{ print $1 * 1000 }')" \
		"$(cut -d ' ' -f 2 "$tmp/$a" | median | awk '{ print $1 * 1000 }')" \
		"$(cut -d ' ' -f 3 "$tmp/$a" | sort -g | tail -n 1 | awk '{ print $1 / 1024 }')" \
		"$(cut -d ' ' -f 1 "$tmp/$b" | median | awk '{ print $1 * 1000 }')" \
		"$(cut -d ' ' -f 2 "$tmp/$b" | median | awk '{ print $1 * 1000 }')" \
		"$(cut -d ' ' -f 3 "$tmp/$b" | sort -g | tail -n 1 | awk '{ print $1 / 1024 }')" \
		"$wall_ratio" "$cpu_ratio" "$target" \
		"$(awk -v r="$wall_ratio" -v t="$target" 'BEGIN { print (r <= t) ? "met" : "MISSED" }')"
}

echo "$pairs alternating pairs per baseline; medians; ratio = median of per-pair ratios (show-locks / psql)"
compare select 1.0 "$q_select"
compare join 0.5 "$q_join"

echo
echo "In-process (go test -bench): read + decode, verdicts, text render"
exec 9>&- # stop the scene's server before the Go benchmarks start their own
wait "$server_pid" 2>/dev/null || true
server_pid=""
go test -run '^$' -bench 'BenchmarkRead$|BenchmarkSelectPgLocks|BenchmarkBuildReport' -benchmem -count 1 ./internal/locks |
	grep -E '^(Benchmark|ok|FAIL)'
go test -run '^$' -bench 'BenchmarkText' -benchmem -count 1 ./internal/cmd/showlocks | grep -E '^(Benchmark|ok|FAIL)'
