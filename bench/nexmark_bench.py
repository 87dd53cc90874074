#!/usr/bin/env python3
"""Nexmark: every query ember runs (examples/nexmark/qN.job) over
`generator kind=nexmark`, its sink replaced by the blackhole sink, one
transform thread, beside Flink's published figures per core
(nexmark/nexmark's README: Flink 1.13, 8 workers x 8 cores, 100M events at
10M/s, "Throughput/Cores"). ember's figure per core is events per CPU second
(user + sys of the whole process, from wait4), the same unit.

    python3 bench/nexmark_bench.py [--events N] [--runs K] [--queries q0,q5]   (build/ember)

Prints a Markdown table and, last, one JSON line (for bench.py)."""
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

EMBER = os.environ.get("EMBER", "build/ember")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# nexmark/nexmark README, "Benchmark Results": Throughput/Cores, K events/s.
FLINK_PER_CORE = {
    "q0": 155.02, "q1": 157.94, "q2": 175.21, "q3": 152.12, "q4": 34.33, "q5": 22.14,
    "q7": 12.33, "q8": 146.14, "q9": 14.24, "q10": 57.81, "q11": 39.7, "q12": 75.67,
    "q13": 130.73, "q14": 161.23, "q15": 72.42, "q16": 18.65, "q17": 116.8, "q18": 53.7,
    "q19": 44.04, "q20": 18.98, "q21": 98.49, "q22": 129.96,
}


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def bench_job(q, events, d):
    with open(os.path.join(ROOT, "examples", "nexmark", q + ".job")) as f:
        text = f.read()
    text = re.sub(r"count=\d+", "count=%d" % events, text)
    text = re.sub(r"^sink .*$", "sink       blackhole", text, flags=re.M)
    text = re.sub(r"^batch .*$", "batch      interval=1ms max-records=500000", text, flags=re.M)
    text = re.sub(r"^checkpoint .*$", "checkpoint dir=%s/ckpt every=0" % d, text, flags=re.M)
    text = text.replace("./side_input.csv", d + "/side_input.csv")
    if "side_input.csv" in text:
        with open(d + "/side_input.csv", "w") as f:
            f.write("side_key,value\n" + "".join("%d,%d\n" % (i, i) for i in range(10000)))
    with open(d + "/j.job", "w") as f:
        f.write(text)
    return d + "/j.job"


def run_once(q, events):
    d = tempfile.mkdtemp(prefix="ember-nexmark-bench-")
    job = bench_job(q, events, d)
    t0 = time.monotonic()
    p = subprocess.Popen([EMBER, "run", job, "--until-idle", "--drain"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode()
    subprocess.run(["rm", "-rf", d])
    if status != 0:
        sys.exit("%s failed: %s" % (q, err[-1000:]))
    return events / wall, events / (ru.ru_utime + ru.ru_stime)


def main():
    events = int(arg("--events", "2000000"))
    runs = int(arg("--runs", "3"))
    have = sorted((os.path.basename(p)[:-4] for p in glob.glob(os.path.join(ROOT, "examples",
                                                                            "nexmark", "q*.job"))),
                  key=lambda q: int(q[1:]))
    queries = arg("--queries", ",".join(have)).split(",")
    res = {}
    print("| query | ember events/s | ember events per CPU s | Flink per core | ember / Flink |")
    print("| --- | --- | --- | --- | --- |")
    for q in queries:
        walls, cpus = zip(*(run_once(q, events) for _ in range(runs)))
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        flink = FLINK_PER_CORE.get(q)
        res[q] = {"events_per_s": round(wall), "events_per_cpu_s": round(cpu),
                  "flink_per_core": flink and flink * 1000}
        print("| %s | %.0fK | %.0fK | %s | %s |" % (
            q, wall / 1e3, cpu / 1e3, "%.0fK" % flink if flink else "(not run)",
            "%.1fx" % (cpu / (flink * 1000)) if flink else ""))
    print(json.dumps({"events": events, "runs": runs, "queries": res}))


if __name__ == "__main__":
    main()
