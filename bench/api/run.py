#!/usr/bin/env python3
"""AceJudge API benchmark: the daemon's overhead over running the same tests bare.

Measures, against a real `acejudge serve` (release build) on 127.0.0.1:
  1. latency  - one judged Python submission, POST ?wait=true -> verdict, vs the
                same hidden tests run bare with the same interpreter and driver
                (goal: <= 1.15x);
  2. throughput - N submissions through 2 worker slots vs the same test runs
                2 at a time, bare (goal: >= 0.9x);
  3. idle RSS - the daemon's resident memory after start-up, idle (goal: <= 20 MB);
  4. enqueue  - 10,000 POSTs (no wait) from 32 connections, and a count of the
                rows afterwards (goal: <= 10 s, none lost).

Usage (as root, from the repository root, after `cargo build --release --workspace`):
    python3 bench/api/run.py [--runs 10] [--throughput 20] [--enqueue 10000]
Prints a Markdown table for bench/RESULTS.md. Standard library only.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, "target", "release", "acejudge")
CHALLENGE = "rate-limiter-api-gateway"
PYTHON = "/usr/bin/python3"
DRIVER = os.path.join(ROOT, "runners", "python", "src", "acejudge_unittest.py")


def solution():
    folder = os.path.join(ROOT, "challenges", CHALLENGE, "python")
    entry = os.listdir(os.path.join(folder, "solution"))[0]
    with open(os.path.join(folder, "solution", entry)) as f:
        return entry, f.read()


class Daemon:
    def __init__(self, workdir, slots, backlog):
        self.dir = workdir
        config = os.path.join(workdir, "acejudge.toml")
        with open(config, "w") as f:
            f.write(
                f'[server]\nlisten = "127.0.0.1:0"\ndata_dir = "{workdir}/data"\n'
                f'challenges_dir = "{ROOT}/challenges"\n'
                f"[queue]\nslots = {slots}\nbacklog = {backlog}\nwait_timeout_secs = 600\n"
                f"[auth]\nrate_limit = 0\n"
            )
        env = dict(os.environ)
        env.pop("ACEJUDGE_LISTEN", None)
        env.pop("ACEJUDGE_DATA_DIR", None)
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--config", config], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
        )
        line = self.proc.stdout.readline().strip()
        prefix = "acejudge: listening on http://"
        if not line.startswith(prefix):
            self.proc.kill()
            sys.exit(f"acejudge serve did not start: {line!r}")
        host, port = line[len(prefix):].rsplit(":", 1)
        self.host, self.port = host, int(port)

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=600)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def request(conn, method, path, body=None):
    payload = None if body is None else json.dumps(body)
    conn.request(method, path, body=payload, headers={"content-type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    return response.status, json.loads(data) if data else None


def submission_body():
    entry, content = solution()
    return {"challenge": CHALLENGE, "language": "python", "files": [{"name": entry, "content": content}]}


def bare_box():
    """A directory with the solution, the hidden tests and the runner's driver, like the judge's box."""
    box = tempfile.mkdtemp(prefix="acejudge-bare-")
    folder = os.path.join(ROOT, "challenges", CHALLENGE, "python")
    entry, content = solution()
    with open(os.path.join(box, entry), "w") as f:
        f.write(content)
    for name in os.listdir(os.path.join(folder, "tests")):
        shutil.copy(os.path.join(folder, "tests", name), box)
    shutil.copy(DRIVER, os.path.join(box, "_acejudge_unittest.py"))
    return box


def bare_run(box):
    start = time.perf_counter()
    subprocess.run(
        [PYTHON, "-I", "-S", "_acejudge_unittest.py", "-s", ".", "-p", "test_*.py", "-v"],
        cwd=box, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"}, check=False,
    )
    return time.perf_counter() - start


def judged_run(daemon, body):
    conn = daemon.connection()
    start = time.perf_counter()
    status, record = request(conn, "POST", "/v1/submissions?wait=true", body)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, status, record


def latency(daemon, runs):
    body = submission_body()
    box = bare_box()
    bare_run(box)
    judged_run(daemon, body)  # warm-up both
    bare = [bare_run(box) for _ in range(runs)]
    judged, verdicts = [], set()
    for _ in range(runs):
        elapsed, status, record = judged_run(daemon, body)
        judged.append(elapsed)
        verdicts.add((status, record.get("verdict") if record else None))
    shutil.rmtree(box, ignore_errors=True)
    return statistics.median(bare), statistics.median(judged), verdicts


def throughput(daemon, count):
    body = submission_body()
    box_a, box_b = bare_box(), bare_box()
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda i: bare_run(box_a if i % 2 else box_b), range(count)))
    bare = count / (time.perf_counter() - start)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        results = list(pool.map(lambda _: judged_run(daemon, body), range(count)))
    judged = count / (time.perf_counter() - start)
    shutil.rmtree(box_a, ignore_errors=True)
    shutil.rmtree(box_b, ignore_errors=True)
    verdicts = {(status, record.get("verdict") if record else None) for _, status, record in results}
    return bare, judged, verdicts


def enqueue(daemon, total, clients=32):
    body = submission_body()
    statuses = {}
    lock = threading.Lock()
    per_client = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]

    def client(n):
        conn = daemon.connection()
        local = {}
        for _ in range(n):
            status, _ = request(conn, "POST", "/v1/submissions", body)
            local[status] = local.get(status, 0) + 1
        conn.close()
        with lock:
            for k, v in local.items():
                statuses[k] = statuses.get(k, 0) + v

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, per_client))
    elapsed = time.perf_counter() - start
    db = sqlite3.connect(os.path.join(daemon.dir, "data", "acejudge.db"))
    rows = db.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
    db.close()
    return elapsed, statuses, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--throughput", type=int, default=20)
    parser.add_argument("--enqueue", type=int, default=10000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the sandbox needs root: run as root")
    if not os.path.isfile(BINARY):
        sys.exit(f"{BINARY} is missing: cargo build --release --workspace")

    rows = []
    with tempfile.TemporaryDirectory(prefix="acejudge-bench-") as workdir:
        daemon = Daemon(workdir, slots=2, backlog=1000)
        time.sleep(2)
        rss = daemon.rss_kib() / 1024
        rows.append(("daemon idle RSS", f"{rss:.1f} MB", "<= 20 MB", rss <= 20))
        bare, judged, verdicts = latency(daemon, args.runs)
        ok = verdicts == {(200, "accepted")}
        note = "" if ok else f" (verdicts {sorted(verdicts, key=str)}: not a valid measurement)"
        rows.append((
            f"latency, judged Python submission (median of {args.runs})",
            f"{judged * 1000:.0f} ms vs {bare * 1000:.0f} ms bare = {judged / bare:.2f}x{note}",
            "<= 1.15x", ok and judged / bare <= 1.15,
        ))
        bare_rate, judged_rate, verdicts = throughput(daemon, args.throughput)
        ok = verdicts == {(200, "accepted")}
        note = "" if ok else f" (verdicts {sorted(verdicts, key=str)}: not a valid measurement)"
        rows.append((
            f"throughput, 2 slots, {args.throughput} submissions",
            f"{judged_rate:.2f}/s vs {bare_rate:.2f}/s bare = {judged_rate / bare_rate:.2f}x{note}",
            ">= 0.9x", ok and judged_rate / bare_rate >= 0.9,
        ))
        daemon.stop()

    with tempfile.TemporaryDirectory(prefix="acejudge-bench-") as workdir:
        daemon = Daemon(workdir, slots=1, backlog=args.enqueue + 100)
        elapsed, statuses, stored = enqueue(daemon, args.enqueue)
        accepted = statuses.get(202, 0)
        rows.append((
            f"enqueue {args.enqueue} submissions (32 connections)",
            f"{elapsed:.2f} s ({args.enqueue / elapsed:.0f}/s); {accepted} answered 202, {stored} rows stored; statuses {statuses}",
            "<= 10 s, none lost", elapsed <= 10 and accepted == args.enqueue and stored == args.enqueue,
        ))
        daemon.stop()

    print("| measure | result | goal | met |")
    print("|---|---|---|---|")
    for name, result, goal, met in rows:
        print(f"| {name} | {result} | {goal} | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    main()
