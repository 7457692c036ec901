#!/usr/bin/env bash
# dist-assets.sh DIR — writes what every archive and package ships besides the
# binary: gzipped manual pages (DIR/man/*.1.gz) and shell completions
# (DIR/completions/connectdb.{bash,zsh,fish}). GoReleaser runs it first.
set -euo pipefail
dir=${1:?usage: dist-assets.sh DIR}
rm -rf "$dir"
mkdir -p "$dir/man" "$dir/completions"
go run ./tools/genman "$dir/man"
gzip -9n "$dir"/man/*.1
go build -o "$dir/connectdb" ./cmd/connectdb
for sh in bash zsh fish; do
	"$dir/connectdb" completion "$sh" >"$dir/completions/connectdb.$sh"
done
rm "$dir/connectdb"
