#!/usr/bin/env python3
"""`parse json` beside `parse csv` on the same records.

    python3 bench/parse_bench.py [--records N] [--runs R]   (QUICK=1: 500K records, 3 runs)

Generates N records of 5 fields (user string, page string, ts int, temp
float, bytes int; seeded) once as CSV and once as JSON lines
({"user":...,"page":...,...}, Python's json.dumps, compact), then runs two
jobs over each file with the file source and the blackhole sink, every
batch committed (1M-record batches, no snapshots):

  stateless  parse -> filter temp > -1000 (keeps every record) -> blackhole
  keyed      parse -> key user (1000 users) -> count() sum(bytes) -> blackhole

Runs are interleaved (csv, json, csv, json, ...) so the shared machine's
load falls on both alike. Prints MB/s (input bytes / wall time of
`ember run --until-idle`, process start to exit) and records/s per job and
format, median [min, max] of the runs, and the JSON/CSV ratio of medians;
the last line is the same as JSON for bench.py.
"""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMBER = os.path.abspath(os.environ.get("EMBER") or os.path.join(ROOT, "build", "ember"))
QUICK = bool(os.environ.get("QUICK"))
FIELDS = "user,page,ts:int,temp:float,bytes:int"

JOBS = {
    "stateless": "filter     temp > -1000\n",
    "keyed": "key        user\naggregate  count() sum(bytes)\n",
}


def arg(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def make_inputs(d, count):
    """The same records as CSV and as JSON lines; returns {fmt: (path, bytes)}."""
    rng = random.Random(1)
    pages = ["/p/%d" % i for i in range(200)]
    paths = {"csv": os.path.join(d, "in.csv"), "json": os.path.join(d, "in.jsonl")}
    with open(paths["csv"], "w") as c, open(paths["json"], "w") as j:
        for i in range(count):
            rec = {"user": "u%d" % rng.randrange(1000), "page": rng.choice(pages),
                   "ts": 1700000000000 + i, "temp": round(rng.uniform(-40, 60), 2),
                   "bytes": rng.randrange(100, 100000)}
            c.write("%s,%s,%d,%r,%d\n" % tuple(rec.values()))
            j.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return {f: (p, os.path.getsize(p)) for f, p in paths.items()}


def run_once(d, fmt, path, job, count):
    ck = tempfile.mkdtemp(prefix="ckpt-", dir=d)
    with open(os.path.join(ck, "b.job"), "w") as f:
        f.write("job        parse-bench\nbatch      interval=1ms max-records=1000000\n"
                "checkpoint dir=%s/ckpt every=0\nsource     file path=%s\n"
                "parse      %s fields=%s\n%ssink       blackhole\n"
                % (ck, path, fmt, FIELDS, JOBS[job]))
    t0 = time.monotonic()
    p = subprocess.run([EMBER, "run", os.path.join(ck, "b.job"), "--until-idle"],
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("parse_bench: %s %s: exit %d: %s" % (job, fmt, p.returncode, p.stderr[-1000:]))
    seen = 0
    with open(os.path.join(ck, "ckpt", "progress.jsonl")) as f:
        for line in f:
            seen += json.loads(line).get("records_in", 0)
    if seen != count:
        sys.exit("parse_bench: %s %s read %d records of %d" % (job, fmt, seen, count))
    shutil.rmtree(ck, ignore_errors=True)
    return wall


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def main():
    count = arg("--records", 500_000 if QUICK else 2_000_000)
    runs = arg("--runs", 3 if QUICK else 5)
    d = tempfile.mkdtemp(prefix="ember-parse-bench-")
    try:
        inputs = make_inputs(d, count)
        walls = {(j, f): [] for j in JOBS for f in inputs}
        for _ in range(runs):
            for job in JOBS:
                for fmt, (path, _) in inputs.items():
                    walls[(job, fmt)].append(run_once(d, fmt, path, job, count))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    res = {"records": count, "runs": runs,
           "bytes": {f: b for f, (_, b) in inputs.items()}, "jobs": {}}
    print("| job | format | input | MB/s | records/s |\n| --- | --- | --- | --- | --- |")
    for job in JOBS:
        r = res["jobs"][job] = {}
        for fmt, (_, size) in inputs.items():
            mbs = [size / 1e6 / w for w in walls[(job, fmt)]]
            rps = [count / w for w in walls[(job, fmt)]]
            r[fmt] = {"mb_per_s": spread(mbs), "records_per_s": spread(rps)}
            print("| %s | %s | %.0f MB | %.1f [%.1f, %.1f] | %.2fM [%.2fM, %.2fM] |" % (
                job, fmt, size / 1e6, *(spread(mbs)[k] for k in ("median", "min", "max")),
                *(spread(rps)[k] / 1e6 for k in ("median", "min", "max"))))
        r["json_vs_csv_records"] = (r["json"]["records_per_s"]["median"] /
                                    r["csv"]["records_per_s"]["median"])
        r["json_vs_csv_mb"] = r["json"]["mb_per_s"]["median"] / r["csv"]["mb_per_s"]["median"]
        print("| %s | json / csv | | %.2f | %.2f |" % (job, r["json_vs_csv_mb"],
                                                   r["json_vs_csv_records"]))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
