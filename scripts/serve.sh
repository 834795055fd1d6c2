#!/usr/bin/env bash
# Sets AceJudge up on this machine and starts it: installs the toolchains,
# builds the release binaries, checks the host with `acejudge doctor`, then
# serves with the bundled challenges and its state in ./data.
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
if ./target/release/acejudge help serve >/dev/null 2>&1; then
  exec ./target/release/acejudge serve
fi
echo "acejudge is built and the host checks pass; the HTTP server (acejudge serve) is not built yet."
echo "Try the sandbox: ./target/release/acejudge exec -- /usr/bin/python3 -c 'print(42)'"
