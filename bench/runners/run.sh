#!/usr/bin/env bash
# Runner overhead: `acejudge run --lang L hello` against the bare toolchain
# command on the same hello world, per language, in one run of this script,
# both ways `acejudge run` works:
# - one-shot: no daemon on its data dir, so the command loads the plugin, sets
#   up its own sandbox and runs the compile and run steps in it;
# - served: `acejudge serve` runs on its data dir (started here, 127.0.0.1:0),
#   so the command hands the program to the daemon over the local socket.
# Repeating the same program, Go and Java hit AceJudge's compile-output cache,
# as the bare warm `go build` hits Go's own cache.
#
# Bare commands run with the same clean environment the runners give their
# steps (the host's NODE_EXTRA_CA_CERTS alone costs node ~40 ms): python3 -I -S
# hello.py; node hello.js; javac + java; go build + run with a warm build cache
# and the same build settings. For Go a second baseline edits the source before
# each build, so only the standard library is cached (what a new submission meets).
# Each language is measured in ROUNDS hyperfine rounds that alternate which
# command goes first, so load drifting on this shared machine hits both; all
# samples are pooled and compared by median. Needs root and hyperfine.
# Writes results/<lang>-<round>.json and the "## Runners" section of ../RESULTS.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${RUNS:-20}
rounds=${ROUNDS:-3}
out=${OUT:-$here/results}
mkdir -p "$out"
cd "$repo"
cargo build --release -p acejudge -p acejudge-runner-go -p acejudge-runner-java -p acejudge-runner-node -p acejudge-runner-python >/dev/null
target=${CARGO_TARGET_DIR:-$repo/target}
bin=$target/release/acejudge
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cp "$here"/hello.py "$here"/hello.js "$here"/hello.go "$here"/Main.java "$work/"
echo world > "$work/in.txt"
data=$work/data
served=$work/served
# The daemon for the "served" rows: bundled config (2 slots on this machine), its own data dir.
(cd "$repo" && exec "$bin" --data-dir "$served" serve --listen 127.0.0.1:0 >"$work/serve.log" 2>&1) &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do [ -S "$served/run/api.sock" ] && break; sleep 0.1; done
[ -S "$served/run/api.sock" ] || { cat "$work/serve.log" >&2; echo "acejudge serve did not start" >&2; exit 1; }
cd "$work"

clean="env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8"
gone="$clean CGO_ENABLED=0 GOFLAGS=-mod=mod GOPROXY=off GOENV=off GOCACHE=$work/gocache GOPATH=$work/gopath"
aj() { echo "$bin --data-dir $data run --lang $1 $2 --stdin in.txt"; }
aj_served() { echo "$bin --data-dir $served run --lang $1 $2 --stdin in.txt"; }
declare -A bare=(
  [python]="$clean /usr/bin/python3 -I -S hello.py < in.txt"
  [node]="$clean /usr/bin/node hello.js < in.txt"
  [java]="$clean javac -d out Main.java && $clean java -cp out Main < in.txt"
  [go]="$gone go build -o hello-bin hello.go && ./hello-bin < in.txt"
)
# Go, standard library cached but the program new: a fresh comment before each
# build, bare and through acejudge (a compile-cache miss every time).
cp hello.go hello-new.go
cp hello.go hello-aj-new.go
cp hello.go hello-served-new.go
go_new="echo // \$(date +%s%N) >> hello-new.go && $gone go build -o hello-new-bin hello-new.go && ./hello-new-bin < in.txt"
go_new_ours="echo // \$(date +%s%N) >> hello-aj-new.go && $(aj go hello-aj-new.go)"
go_new_served="echo // \$(date +%s%N) >> hello-served-new.go && $(aj_served go hello-served-new.go)"
declare -A ours=(
  [python]="$(aj python hello.py)"
  [node]="$(aj node hello.js)"
  [java]="$(aj java Main.java)"
  [go]="$(aj go hello.go)"
)
declare -A through=(
  [python]="$(aj_served python hello.py)"
  [node]="$(aj_served node hello.js)"
  [java]="$(aj_served java Main.java)"
  [go]="$(aj_served go hello.go)"
)
for lang in python node java go; do
  # Both must print the same thing before anything is timed (this also prepares Go's cache).
  expected=$(sh -c "${bare[$lang]}")
  got=$(sh -c "${ours[$lang]}" 2>/dev/null)
  got_served=$(sh -c "${through[$lang]}" 2>&1 >/dev/null | grep -c "through acejudge serve" || true)
  if [ "$expected" != "hello world" ] || [ "$got" != "hello world" ] || [ "$got_served" != 1 ]; then
    echo "$lang: bare said '$expected', acejudge said '$got', served runs marked: $got_served" >&2
    exit 1
  fi
  for round in $(seq 1 "$rounds"); do
    if (( round % 2 )); then
      order=("${bare[$lang]}" "${ours[$lang]}" "${through[$lang]}")
    else
      order=("${through[$lang]}" "${ours[$lang]}" "${bare[$lang]}")
    fi
    if [ "$lang" = go ]; then order+=("$go_new" "$go_new_ours" "$go_new_served"); fi
    hyperfine --style basic --warmup 3 --runs "$runs" --export-json "$out/$lang-$round.json" "${order[@]}" >/dev/null
  done
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
python3 "$here/summarize.py" "$out" "$rounds" "$load" "$repo/bench/RESULTS.md"
