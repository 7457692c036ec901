#!/usr/bin/env bash
# fuzz.sh [FUZZTIME] — runs every Fuzz* target in the module for FUZZTIME.
set -euo pipefail
t=${1:-10s}
found=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		found=1
		echo "== $pkg $target ($t)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$t" "$pkg"
	done
done
[ "$found" = 1 ] || { echo "no fuzz targets found" >&2; exit 1; }
