#!/usr/bin/env bash
# dist-test.sh — tests the artifacts `make dist` left in dist/ on this machine
# (Debian/Ubuntu, as root): checksums, archive contents, static binaries, the
# .deb installed into the real system with dpkg and removed again, and the
# .rpm's file list and metadata. Installs man-db and rpm with apt-get when
# they are missing (needs the Debian archive). Exit 0 only if all holds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/dist"

fail() { echo "dist-test: FAIL: $*" >&2; exit 1; }
step() { echo "dist-test: $*"; }

[ "$(id -u)" -eq 0 ] || fail "run as root: the test installs the .deb into this system with dpkg -i"
command -v dpkg >/dev/null || fail "dpkg is missing; dist-test runs on Debian or Ubuntu"
apt_install() {
	step "installing $* with apt-get"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } ||
		fail "apt-get install $* failed"
}

version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' metadata.json)
[ -n "$version" ] || fail "dist/metadata.json names no version; run make dist first"
step "version $version"
case "$version" in
[0-9]*.[0-9]*.[0-9]*) ;;
*) fail "version '$version' is not X.Y.Z[-pre][+meta]" ;;
esac

# 1. Checksums cover every archive and package, and match.
[ -s SHA256SUMS ] || fail "dist/SHA256SUMS is missing"
sha256sum --quiet -c SHA256SUMS || fail "sha256sum -c SHA256SUMS"
for f in *.tar.gz *.deb *.rpm; do
	grep -q "  $f\$" SHA256SUMS || fail "$f is not listed in SHA256SUMS"
done
step "SHA256SUMS: $(wc -l <SHA256SUMS) files verified"

# 2. Every archive holds the binary, README, LICENSE, man pages and completions;
#    the linux binaries are static; the one for this machine runs.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for target in linux_amd64 linux_arm64 darwin_amd64 darwin_arm64; do
	tgz=connectdb_${version}_${target}.tar.gz
	[ -f "$tgz" ] || fail "$tgz is missing"
	top=connectdb_${version}_${target}
	list=$(tar tzf "$tgz")
	for want in connectdb README.md LICENSE CHANGELOG.md man/man1/connectdb.1.gz man/man1/connectdb-check.1.gz \
		completions/connectdb.bash completions/connectdb.zsh completions/connectdb.fish; do
		grep -qx "$top/$want" <<<"$list" || fail "$tgz lacks $want"
	done
	mkdir -p "$tmp/$target"
	tar xzf "$tgz" -C "$tmp/$target"
	bin=$tmp/$target/$top/connectdb
	case $target in
	linux_*)
		file -b "$bin" | grep -q "statically linked" || fail "$tgz: connectdb is not statically linked: $(file -b "$bin")"
		;;
	esac
done
step "archives: 4 targets with binary, README, LICENSE, man pages and completions; linux binaries static"
arch=$(dpkg --print-architecture)
"$tmp/linux_$arch/connectdb_${version}_linux_$arch/connectdb" version | grep -qF "connectdb v$version" ||
	fail "the linux_$arch archive's binary does not report v$version"

# 3. The .deb installs into the real system and comes out cleanly.
debs=(connectdb_*_"$arch".deb)
[ -f "${debs[0]}" ] && [ ${#debs[@]} -eq 1 ] || fail "want one connectdb_*_$arch.deb in dist/, found: ${debs[*]}"
deb=${debs[0]}
if dpkg -s connectdb >/dev/null 2>&1; then
	fail "a connectdb package is already installed; remove it first (dpkg -r connectdb)"
fi
command -v man >/dev/null && command -v mandb >/dev/null || apt_install man-db
mapfile -t files < <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}')
for f in /usr/bin/connectdb /usr/share/man/man1/connectdb.1.gz /usr/share/man/man1/connectdb-check.1.gz \
	/usr/share/bash-completion/completions/connectdb /usr/share/zsh/vendor-completions/_connectdb \
	/usr/share/fish/vendor_completions.d/connectdb.fish /usr/share/doc/connectdb/copyright; do
	printf '%s\n' "${files[@]}" | grep -qx "$f" || fail "$deb does not install $f"
done
for f in "${files[@]}"; do
	[ ! -e "$f" ] || fail "$f exists before the package is installed; dist-test would remove someone else's file"
done
# Minimal images exclude /usr/share/man from every package (path-exclude in
# /etc/dpkg/dpkg.cfg.d); include connectdb's pages so man can find them.
dpkg --path-include='/usr/share/man/man1/connectdb*' -i "$deb" >/dev/null
installed=yes
cleanup_deb() { [ "${installed:-}" = yes ] && dpkg --purge connectdb >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup_deb EXIT
step "dpkg -i $deb"

[ "$(command -v connectdb)" = /usr/bin/connectdb ] || fail "connectdb on PATH is $(command -v connectdb), not /usr/bin/connectdb"
out=$(/usr/bin/connectdb version) || fail "/usr/bin/connectdb version exited $?"
grep -qF "connectdb v$version" <<<"$out" || fail "/usr/bin/connectdb version says '$out', want v$version"
grep -qiE '^commit [0-9a-f]{40}' <<<"$out" || fail "/usr/bin/connectdb version names no full commit: '$out'"
help=$(/usr/bin/connectdb check --help) || fail "/usr/bin/connectdb check --help exited $?"
grep -q '^Usage:' <<<"$help" && grep -q -- '--only' <<<"$help" || fail "connectdb check --help does not show usage and --only"
page=$(man -w connectdb) || fail "man -w connectdb finds no page"
[ "$page" = /usr/share/man/man1/connectdb.1.gz ] || fail "man -w connectdb = $page"
man -w connectdb-check >/dev/null || fail "man -w connectdb-check finds no page"
[ -f /usr/share/bash-completion/completions/connectdb ] || fail "bash completion file missing"
bash -c 'source /usr/share/bash-completion/completions/connectdb && complete -p connectdb' >/dev/null ||
	fail "the bash completion file does not register a completion for connectdb"
step "/usr/bin/connectdb version and check --help run; man -w connectdb = $page; bash completion loads"

dpkg --purge connectdb >/dev/null
installed=no
! dpkg -s connectdb >/dev/null 2>&1 || fail "dpkg still lists connectdb after --purge"
for f in "${files[@]}"; do
	[ ! -e "$f" ] || fail "$f is left after dpkg --purge connectdb"
done
[ ! -e /usr/share/doc/connectdb ] || fail "/usr/share/doc/connectdb is left after dpkg --purge connectdb"
step "dpkg --purge connectdb: none of its ${#files[@]} files is left"

# 4. The .rpm: metadata and file list.
rpmarch=$(case $arch in amd64) echo x86_64 ;; arm64) echo aarch64 ;; esac)
rpms=(connectdb-*."$rpmarch".rpm)
[ -f "${rpms[0]}" ] && [ ${#rpms[@]} -eq 1 ] || fail "want one connectdb-*.$rpmarch.rpm in dist/, found: ${rpms[*]}"
rpmfile=${rpms[0]}
command -v rpm >/dev/null || apt_install rpm
info=$(rpm -qpi "$rpmfile" 2>/dev/null) || fail "rpm -qpi $rpmfile"
grep -qE '^Name *: connectdb$' <<<"$info" || fail "$rpmfile: Name is not connectdb"
grep -qE '^License *: Apache-2.0$' <<<"$info" || fail "$rpmfile: License is not Apache-2.0"
grep -qE "^Architecture *: $rpmarch\$" <<<"$info" || fail "$rpmfile: Architecture is not $rpmarch"
rlist=$(rpm -qpl "$rpmfile" 2>/dev/null)
for f in /usr/bin/connectdb /usr/share/man/man1/connectdb.1.gz /usr/share/man/man1/connectdb-check.1.gz \
	/usr/share/bash-completion/completions/connectdb /usr/share/zsh/site-functions/_connectdb \
	/usr/share/fish/vendor_completions.d/connectdb.fish /usr/share/licenses/connectdb/LICENSE; do
	grep -qx "$f" <<<"$rlist" || fail "$rpmfile does not install $f"
done
step "$rpmfile: $(grep -cx '/.*' <<<"$rlist") files; Name, License, Architecture and file list as expected"
echo "dist-test: all artifacts of connectdb $version pass"
