#!/usr/bin/env bash
# Builds the acejudge Debian package with cargo-deb, from the metadata in
# daemon/Cargo.toml ([package.metadata.deb]) and the files in packaging/ and systemd/.
#
# Usage: packaging/build-deb.sh [--binaries DIR] [--output DIR]
#   (no option)     cargo deb builds the release profile (in target/deb-build)
#                   and packages it
#   --binaries DIR  packages the acejudge binary and runner plugins already built
#                   in DIR (tests/packaging.rs passes target/debug: same layout,
#                   unoptimised code) without building anything
#   --output DIR    where the .deb goes (default target/debian); its path is
#                   printed on the last line
# Needs cargo-deb (scripts/install-deps.sh installs it) and dpkg-dev.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    sed -n '5,13p' "$0" | sed 's/^# \{0,1\}//'
}

binaries=""
output="target/debian"
while [ $# -gt 0 ]; do
    case "$1" in
        --binaries)
            binaries=${2:?--binaries needs a directory}
            shift 2
            ;;
        --output)
            output=${2:?--output needs a directory}
            shift 2
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            echo "unknown argument: $1" >&2
            usage >&2
            exit 2
            ;;
    esac
done

if ! cargo deb --version >/dev/null 2>&1; then
    echo "cargo-deb is missing: run scripts/install-deps.sh (cargo install cargo-deb --locked)" >&2
    exit 1
fi
mkdir -p "$output"

if [ -z "$binaries" ]; then
    # Paths of the build machine (this checkout, the cargo registry) are
    # remapped out of the binaries' panic locations; those flags differ from a
    # plain release build's, hence a target directory of their own.
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/deb-build}"
    export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$PWD=/build/acejudge --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
    cargo deb -p acejudge --locked --strip --output "$output"
    exit 0
fi

# cargo-deb reads `target/release/...` assets from $CARGO_TARGET_DIR/release:
# stage copies of the given binaries there (copies: stripping must not touch DIR).
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/release"
for file in acejudge libacejudge_runner_go.so libacejudge_runner_java.so libacejudge_runner_node.so libacejudge_runner_python.so; do
    if [ ! -f "$binaries/$file" ]; then
        echo "$binaries/$file is missing: build the workspace first (cargo build --workspace)" >&2
        exit 1
    fi
    cp "$binaries/$file" "$stage/release/$file"
done
CARGO_TARGET_DIR="$stage" cargo deb -p acejudge --no-build --strip --output "$output"
