#!/usr/bin/env python3
"""Pools bench/runners/run.sh's hyperfine samples and writes the "## Runners"
section of bench/RESULTS.md: per language, bare vs `acejudge run`, medians,
their ratio, and the goal."""
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

rows = []
go_new = None
for lang in ["python", "node", "java", "go"]:
    bare, ours, fresh = [], [], []
    for r in range(1, rounds + 1):
        with open(os.path.join(out, f"{lang}-{r}.json")) as f:
            for result in json.load(f)["results"]:
                command = result["command"]
                target = ours if "acejudge" in command else fresh if "date +%s%N" in command else bare
                target.extend(result["times"])
    b, o = statistics.median(bare) * 1000, statistics.median(ours) * 1000
    ratio = o / b
    goal = goals[lang]
    verdict = "met" if ratio <= goal else "**not met**"
    rows.append(f"| {labels[lang]} | {b:.1f} ms | {o:.1f} ms | {o - b:+.1f} ms | {ratio:.2f}× | ≤ {goal}× {verdict} |")
    if fresh:
        f_ms = statistics.median(fresh) * 1000
        go_new = f"| Go, new program (std cached, program not) | {f_ms:.1f} ms | {o:.1f} ms | {o - f_ms:+.1f} ms | {o / f_ms:.2f}× | (context) |"
if go_new:
    rows.append(go_new)

mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
machine = f"{os.cpu_count()} cores, {mem:.0f} GiB, kernel {platform.release()}, load average {load} at the end"
section = f"""## Runners

`bench/runners/run.sh` (raw hyperfine results in `bench/runners/results/`):
hello world reading `world` from stdin, bare toolchain command vs `acejudge
run --lang L` (release build: loads the plugins, sets up the sandbox, runs the
runner's compile and run steps in it, prints the output). {rounds} rounds per
language alternating which command goes first, all samples pooled; medians.

Machine: {machine}.

| language | bare | `acejudge run` | overhead | ratio | goal |
|---|---|---|---|---|---|
""" + "\n".join(rows) + """

Reading it:
- Every `acejudge run` is a one-shot process: it loads the four plugins, asks
  the runner for its toolchain (a version probe: ~1 ms for Python, ~4 ms for
  Node), builds a `Sandbox` (seccomp compile, cgroups, network namespace) and
  a box, then runs each step through the full sandbox. The sandbox's own share
  is what `acejudge exec` costs over bare in the Sandbox section above
  (~9–12 ms); the plugin layer adds ~2–5 ms on top. The daemon pays the set-up
  once, so a submission there costs the per-run figure (~2.5 ms) instead.
  With a fixed ~10–20 ms, the 1.15× goal is out of reach for programs that
  start in 10–40 ms (Python, Node) through the CLI.
- Java comes out faster than bare because the runner's JVM flags (C1 only,
  serial GC, class-data sharing) start `javac` and `java` faster than the
  defaults; the sandbox costs far less than that.
- Go: the bare warm `go build` finds even the program's own compiled package
  and link in its cache. A run's writes go to a throw-away overlay layer (so
  no run can poison the shared cache), so every run compiles and links the
  user's package; only the standard library comes from the prepared cache.
  Against a new program with the standard library cached (the case a judge
  meets), the overhead is the last row.
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
