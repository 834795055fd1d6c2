#!/usr/bin/env bash
# Sets AceJudge up on this machine and starts it: installs the toolchains,
# builds the release binaries, checks the host with `acejudge doctor`, then
# serves on 127.0.0.1:8080 with the bundled challenges and its state in ./data
# (config/acejudge.toml; ACEJUDGE_LISTEN and ACEJUDGE_DATA_DIR override it).
# Run as root (the sandbox needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "the sandbox needs root: run 'sudo $0'" >&2
  exit 1
fi
./scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --workspace --release --locked
export ACEJUDGE_DATA_DIR="${ACEJUDGE_DATA_DIR:-$PWD/data}"
./target/release/acejudge doctor
exec ./target/release/acejudge serve
