#!/usr/bin/env bash
# Runs one challenge's hidden tests against one solution directory, outside any
# sandbox, exactly as the runner plugins run them. For challenge authors.
# Usage: challenges/verify-bare.sh SLUG LANG DIR_WITH_ENTRY_FILE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
slug=$1 lang=$2 src=$3
box=$(mktemp -d)
trap 'rm -rf "$box"' EXIT
cp -r "$src"/. "$box"/
cp -r "$here/$slug/$lang/tests"/. "$box"/
cd "$box"
case "$lang" in
  go) GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0 GOCACHE=${GOCACHE:-/tmp/acejudge-gocache} go test -json -count=1 . ;;
  python) /usr/bin/python3 -I -S -m unittest discover -s . -p 'test_*.py' -v ;;
  node) node --test --test-reporter=spec ./*.test.js ;;
  java)
    J=/usr/share/java
    javac -d out -cp "$J/junit-jupiter-api.jar:$J/apiguardian-api.jar:$J/opentest4j.jar:$J/junit-platform-commons.jar" ./*.java
    java -Xss8m -jar "$J/junit-platform-console-standalone.jar" -cp out --scan-class-path --disable-banner --details=tree ;;
  *) echo "unknown language $lang" >&2; exit 2 ;;
esac
