#!/usr/bin/env bash
# Installs what AceJudge needs on Debian/Ubuntu: the language toolchains the
# runners use, gcc (test payloads), the benchmark tools, and a Rust toolchain.
# Idempotent: installs only what is missing. Needs root.
set -euo pipefail

packages=(gcc libc6-dev golang-go default-jdk-headless junit5 nodejs python3 hyperfine bubblewrap shellcheck jq)
# The Debian package and the unit (tests/packaging.rs): dpkg-deb, lintian, a
# clean Debian root, systemd-analyze, setpriv/unshare.
packages+=(dpkg-dev lintian debootstrap systemd util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "installing Rust with rustup"
  apt-get install -y -qq --no-install-recommends curl ca-certificates
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
fi
cargo --version

# cargo-deb builds the .deb (packaging/build-deb.sh); pinned so CI builds the same package.
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -qx "cargo-deb $CARGO_DEB_VERSION"; then
  echo "installing cargo-deb $CARGO_DEB_VERSION"
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi
