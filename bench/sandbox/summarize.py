"""Turns bench/sandbox/run.sh's raw results into the Markdown table for bench/RESULTS.md."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
print((out / "machine.txt").read_text())
print("| program | bare | acejudge exec (CLI) | bwrap (CLI) | CLI overhead ratio | daemon: acejudge run | daemon: bwrap | daemon overhead ratio |")
print("|---|---|---|---|---|---|---|---|")
for name in ["c-static-hello", "python-pass", "node-e-0", "java-hello"]:
    cli = {r["command"]: r for r in json.loads((out / f"cli-{name}.json").read_text())["results"]}
    med = {k: v["median"] * 1000 for k, v in cli.items()}
    cli_ratio = (med["acejudge-exec"] - med["bare"]) / (med["bwrap"] - med["bare"])
    d = json.loads((out / f"daemon-{name}.json").read_text())
    print(
        f"| {name} | {med['bare']:.2f} ms | {med['acejudge-exec']:.2f} ms | {med['bwrap']:.2f} ms | {cli_ratio:.2f}× "
        f"| {d['acejudge_median_us'] / 1000:.2f} ms (bare {d['bare_median_us'] / 1000:.2f}) | {d['bwrap_median_us'] / 1000:.2f} ms "
        f"| {d['overhead_ratio']:.2f}× |"
    )
