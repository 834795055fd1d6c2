#!/usr/bin/env bash
# Runs every test AceJudge has: formatting, lints, unit tests and the
# integration tests against the real kernel sandbox and toolchains.
# Run as root (the sandbox needs it); installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "the sandbox tests need root: run 'sudo $0'" >&2
  exit 1
fi
./scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --locked
cargo test --workspace --locked
