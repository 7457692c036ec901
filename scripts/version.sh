#!/usr/bin/env bash
# version.sh — prints the version to stamp into connectdb (without a leading v).
#
# On a commit tagged vX.Y.Z: X.Y.Z, which must equal the VERSION file (a
# release). Anywhere else: VERSION-dev.N+gSHA (N commits since the root, the
# commit's SHA, ".dirty" for uncommitted changes): never a bare SHA, and
# semver-ordered before the release it leads to.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
base=$(tr -d ' \n' <VERSION)
if ! [[ $base =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
	echo "version.sh: VERSION holds '$base', not X.Y.Z; write the next release's version there" >&2
	exit 2
fi
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "$base-dev"
	exit 0
fi
if tag=$(git describe --tags --exact-match --match 'v[0-9]*.[0-9]*.[0-9]*' 2>/dev/null); then
	if [ "${tag#v}" != "$base" ]; then
		echo "version.sh: the commit is tagged $tag but VERSION says $base; make them agree before a release" >&2
		exit 2
	fi
	v=$base
	[ -z "$(git status --porcelain --untracked-files=no)" ] || v="$v+dirty"
	echo "$v"
	exit 0
fi
v="$base-dev.$(git rev-list --count HEAD)+g$(git rev-parse --short=12 HEAD)"
[ -z "$(git status --porcelain --untracked-files=no)" ] || v="$v.dirty"
echo "$v"
