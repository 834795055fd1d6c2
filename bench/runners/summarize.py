#!/usr/bin/env python3
"""Pools bench/runners/run.sh's hyperfine samples and writes the "## Runners"
section of bench/RESULTS.md: per language, bare vs `acejudge run` one-shot and
through a serving daemon, medians, their ratios, and the goal."""
import json
import os
import platform
import statistics
import sys

out, rounds, load, results = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
goals = {"python": 1.15, "node": 1.15, "java": 1.15, "go": 1.2}
labels = {
    "python": "Python (`python3 -I -S`)",
    "node": "Node",
    "java": "Java (javac + java)",
    "go": "Go (warm go build + run)",
}

def pooled(lang):
    """Samples by kind: bare, one-shot, served; and the same for Go's new-program commands."""
    kinds = {}
    for r in range(1, rounds + 1):
        with open(os.path.join(out, f"{lang}-{r}.json")) as f:
            for result in json.load(f)["results"]:
                command = result["command"]
                kind = "served" if "/served " in command else "one-shot" if "acejudge" in command else "bare"
                if "date +%s%N" in command:
                    kind = "new " + kind
                kinds.setdefault(kind, []).extend(result["times"])
    return {kind: statistics.median(times) * 1000 for kind, times in kinds.items()}


def row(label, b, o, s, goal):
    if goal is None:
        verdicts = ("(context)", "(context)")
    else:
        verdicts = tuple("met" if x / b <= goal else "**not met**" for x in (o, s))
    return (f"| {label} | {b:.1f} ms | {o:.1f} ms | {o / b:.2f}× {verdicts[0]} "
            f"| {s:.1f} ms | {s / b:.2f}× {verdicts[1]} | {'' if goal is None else f'≤ {goal}×'} |")


rows = []
go_new = None
for lang in ["python", "node", "java", "go"]:
    m = pooled(lang)
    rows.append(row(labels[lang], m["bare"], m["one-shot"], m["served"], goals[lang]))
    if "new bare" in m:
        go_new = row("Go, a new program each time (standard library cached, program not)",
                     m["new bare"], m["new one-shot"], m["new served"], None)
if go_new:
    rows.append(go_new)

mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
machine = f"{os.cpu_count()} cores, {mem:.0f} GiB, kernel {platform.release()}, load average {load} at the end"
section = f"""## Runners

`bench/runners/run.sh` (raw hyperfine results in `bench/runners/results/`):
hello world reading `world` from stdin, the bare toolchain command against
`acejudge run --lang L` both ways it works (release build):
- *one-shot*: no daemon on its data dir: the command loads the runner's
  plugin, sets up its own sandbox, runs the compile and run steps in it;
- *served*: `acejudge serve` runs on its data dir, so the command hands the
  program to it over the local socket (`DATA_DIR/run/api.sock`) and prints
  the answer; the daemon's sandbox, runners and caches are already warm.

{rounds} rounds per language, alternating which command goes first, all
samples pooled; medians. Machine: {machine}.

| language | bare | one-shot `acejudge run` | ratio | served `acejudge run` | ratio | goal |
|---|---|---|---|---|---|---|
""" + "\n".join(rows) + """

Reading it:
- Java and Go: repeating the same program hits the compile-output cache (the
  binary or classes of byte-identical inputs, stored after a successful
  compile), as the bare warm `go build` hits Go's build cache; only the run
  step executes. Java's JVM flags (C1 only, serial GC, class-data sharing) also
  start faster than the defaults.
- One-shot: the command builds a `Sandbox` (seccomp program, cgroups, a
  network namespace, the slot's tmpfs and template root) for one run, and
  starts a 60 MB binary; ~5–8 ms that a program starting in 7–30 ms (Python,
  Node) cannot hide.
- Served, Python and Node: warm starts. After each ad-hoc run the daemon's
  worker slot starts its next run of the same kind ahead of time, in a fresh
  sandbox of its own, with the interpreter loaded and waiting for the program
  (`plugins/warm.rs`); the program then starts at once, and its clocks start
  with it. What is left is the client's own start (the `acejudge` binary,
  ~1.5 ms, against `env`'s ~0.7 ms in the bare command), one local HTTP round
  trip, the program itself, and the sandbox's exit path. Run back to back as
  here, the next run's interpreter loads on the second core meanwhile; Node's
  warm start also hides the ~3 ms its heap cap (`--max-old-space-size`)
  costs at each start.
- Served Python sits on its goal: four runs of this script on 2026-12-05
  gave 1.12×, 1.20×, 1.16× and 1.07× (the last recorded here; median of the
  four 1.14×), so the noise of this machine decides. Back to back, the
  2 cores are saturated: each iteration costs ~14 ms of CPU (the client
  ~1.4, the daemon's threads ~2.1, the run and the next run's interpreter
  ~10.5) against the bare command's ~8 on one core, so the next run's
  interpreter is often still loading when its program comes. With 20 ms
  between runs (`hyperfine --prepare "sleep 0.02"`) the same served run
  took 8.1 ms against 8.7 bare (0.93×). A minimal C client instead of
  `acejudge run` changes nothing (8.3 vs 8.2 ms): the time is the daemon's
  and the machine's, not the command's start.
- Served, Java and Go: no warm start (a compile step comes first); the
  compile-output cache and the daemon's warm sandbox do the work.
- The last row is the cold case for Go: a new program every time, bare with
  the standard library in Go's cache, AceJudge with its prepared read-only
  standard-library cache and a compile-cache miss.
"""

try:
    with open(results) as f:
        text = f.read()
except FileNotFoundError:
    text = "# Benchmark results\n"
start = text.find("## Runners")
if start == -1:
    text = text.rstrip("\n") + "\n\n" + section
else:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + ("" if end == -1 else text[end:])
with open(results, "w") as f:
    f.write(text)
print(section)
