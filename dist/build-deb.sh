#!/usr/bin/env bash
# Builds the Debian package: the release binary, its completions and man page (generated
# from the binary itself), the systemd units and the maintainer scripts.
# Needs cargo-deb (`cargo install cargo-deb --locked`). Prints the .deb's path.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p mailcert
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets"
bin=target/release/mailcert
"$bin" completions bash > "$assets/mailcert.bash"
"$bin" completions zsh > "$assets/_mailcert"
"$bin" completions fish > "$assets/mailcert.fish"
"$bin" man | gzip -9n > "$assets/mailcert.1.gz"
cargo deb -p mailcert --no-build --output target/debian/ >/dev/null
ls -1 target/debian/mailcert_*.deb | tail -n 1
