#!/usr/bin/env bash
# fetch-pgbouncer.sh — installs PgBouncer for the live pooler tests.
#
# Tests start a real PgBouncer (Debian package pgbouncer, 1.18 on bookworm)
# in front of the test PostgreSQL, in session and transaction mode. The
# package is installed with apt only when the binary is missing, so the
# script is cheap on a machine that has it and works offline then.
# CONNECTDB_PGBOUNCER names another binary and skips the install.
set -euo pipefail

if [ -n "${CONNECTDB_PGBOUNCER:-}" ]; then
	[ -x "$CONNECTDB_PGBOUNCER" ] && exit 0
	echo "fetch-pgbouncer: CONNECTDB_PGBOUNCER=$CONNECTDB_PGBOUNCER is not an executable file" >&2
	exit 1
fi
if [ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "fetch-pgbouncer: PgBouncer is missing and apt-get is not available; install pgbouncer (1.18 or later) or set CONNECTDB_PGBOUNCER" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "fetch-pgbouncer: installing pgbouncer needs root; run: apt-get install -y pgbouncer" >&2
		exit 1
	fi
	sudo="sudo"
fi
echo "fetch-pgbouncer: installing pgbouncer with apt-get" >&2
$sudo apt-get update -qq >&2
# The package's own service is not wanted: tests start their own instances.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends pgbouncer >&2
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	$sudo systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi
/usr/sbin/pgbouncer --version >&2
