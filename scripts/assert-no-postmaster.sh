#!/usr/bin/env bash
# Fails when a test left a PostgreSQL server running as the harness user.
set -u
user=connectdb-pg
[ "$(id -u)" = 0 ] || user=$(id -un)
sleep 0.5
if pids=$(pgrep -u "$user" -x postgres); then
	echo "FAIL: PostgreSQL processes left running after the tests:" >&2
	ps -o pid,args -p "$(echo $pids | tr ' ' ,)" >&2
	exit 1
fi
echo "no postmaster left running (user $user)"
