#!/usr/bin/env bash
# Sandbox overhead: each program bare, under `acejudge exec`, and under
# bubblewrap with a comparable setup, measured in one run.
#
# Two views:
# - CLI: hyperfine times whole commands (`acejudge exec` includes its own
#   start-up: policy compile, cgroup and network-namespace setup);
# - daemon: examples/sandbox_bench times runs through one long-lived Sandbox,
#   interleaving bare, AceJudge and bwrap runs so load noise hits all three.
# Overhead = median(sandboxed) - median(bare); the goal compares overheads as a
# ratio measured in the same run. Needs root, gcc, javac, hyperfine, bwrap.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${RUNS:-200}
out=${OUT:-$here/results}
mkdir -p "$out"
cd "$repo"
cargo build --release -p acejudge --example sandbox_bench >/dev/null
target=${CARGO_TARGET_DIR:-$repo/target}
bin=$target/release/acejudge
bench=$target/release/examples/sandbox_bench
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
gcc -O2 -static -o "$work/hello" "$here/hello.c"
cp "$here/Hello.java" "$work/" && javac -d "$work" "$work/Hello.java"
data=$work/data

bwrap_args=(--unshare-all --die-with-parent --new-session --ro-bind /usr /usr --ro-bind /etc/alternatives /etc/alternatives)
[ -d /etc/java-17-openjdk ] && bwrap_args+=(--ro-bind /etc/java-17-openjdk /etc/java-17-openjdk)
bwrap_args+=(--symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --bind "$work" /box --chdir /box --proc /proc --dev /dev --tmpfs /tmp --clearenv --setenv PATH /usr/bin:/bin)

declare -A programs=(
  [c-static-hello]="./hello"
  [python-pass]="/usr/bin/python3 -I -S -c pass"
  [node-e-0]="/usr/bin/node -e 0"
  [java-hello]="/usr/bin/java -Xshare:auto -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp . Hello"
)
{
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(grep ^PRETTY_NAME /etc/os-release | cut -d= -f2)"
  echo "cgroups: $(grep -c cgroup /proc/self/mountinfo) hierarchies mounted; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "date: $(date -u +%FT%TZ), runs per point: $runs"
} > "$out/machine.txt"
for name in c-static-hello python-pass node-e-0 java-hello; do
  read -r -a argv <<< "${programs[$name]}"
  mem=256M; [ "$name" = java-hello ] && mem=1G
  extra=(); [ "$name" = java-hello ] && extra=(--ro /etc/java-17-openjdk --cgroup-view)
  (cd "$work" && hyperfine -N --warmup 5 --runs "$runs" --export-json "$out/cli-$name.json" \
    -n bare "${argv[*]}" \
    -n acejudge-exec "$bin --data-dir $data exec --mem $mem --pids 128 --dir $work ${extra[*]} -- ${argv[*]}" \
    -n bwrap "bwrap ${bwrap_args[*]} -- ${argv[*]}" >/dev/null)
  "$bench" "$runs" "$work" "${argv[@]}" > "$out/daemon-$name.json"
done
/usr/bin/python3 "$here/summarize.py" "$out"
