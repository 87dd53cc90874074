#!/usr/bin/env python3
"""Recovery time: seconds from `ember run` start to its first new committed
batch after a kill -9, with KEYS keys of state.

Two cases, each run REPEAT times (median and spread reported):
  live   kill -9 before batch F+10's commit (F = KEYS/100000 batches built
         the keys); recovery opens the live state and replays that batch;
  lost   the same, and the live state directory is deleted too: recovery
         restores snapshot F and replays the 10 batches F+1..F+10 from the
         WAL (each 100000 records over the KEYS keys).

Usage: bench/recovery_bench.py [KEYS] (default 1000000; EMBER=build/ember)
Prints one JSON object on the last line."""
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

EMBER = os.environ.get("EMBER", "build/ember")
KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
BATCH = 100000
REPEAT = int(os.environ.get("REPEAT", "3"))


def run(args, env=None):
    e = dict(os.environ)
    e.pop("EMBER_FAILPOINTS", None)
    e.update(env or {})
    t0 = time.monotonic()
    p = subprocess.run([EMBER, *args], capture_output=True, text=True, env=e)
    return p, time.monotonic() - t0


def build(d):
    """KEYS keys in batches 1..F (F = KEYS/BATCH, a snapshot at F), 9 batches
    of updates committed after it, and batch F+10 planned but killed."""
    rnd = random.Random(1)
    n_first = KEYS // BATCH
    with open(d + "/in.csv", "w") as f:
        for i in range(KEYS):
            f.write("k%08d,%d\n" % (i, i % 100))
        for i in range(11 * BATCH):
            f.write("k%08d,%d\n" % (rnd.randrange(KEYS), i % 100))
    with open(d + "/r.job", "w") as f:
        f.write(f"""job recovery-bench
batch      interval=1ms max-records={BATCH}
checkpoint dir={d}/ckpt every={n_first} keep=3 cache=64MB
source     file path={d}/in.csv
parse      csv fields=k,v:int
key        k
aggregate  count() sum(v)
sink       file dir={d}/out
""")
    p, _ = run(["run", d + "/r.job", "--batches", str(n_first + 9)])
    if p.returncode != 0:
        sys.exit("build failed: " + p.stderr[-2000:])
    p, _ = run(["run", d + "/r.job", "--batches", "1"],
               {"EMBER_FAILPOINTS": "state.before_commit=crash@1"})
    if p.returncode != -9:
        sys.exit("the kill before commit did not happen: %d" % p.returncode)


def measure(d, lose_live):
    work = d + "/work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(d + "/ckpt", work + "/ckpt")
    shutil.copytree(d + "/out", work + "/out")
    if lose_live:
        shutil.rmtree(work + "/ckpt/db")
    p, secs = run(["run", d + "/r.job", "--dir", work + "/ckpt", "--batches", "1"])
    if p.returncode != 0:
        sys.exit("recovery run failed: " + p.stderr[-2000:])
    m = re.search(r"replayed (\d+) batches \((\d+) records\) in (\d+) ms", p.stderr)
    batch_line = [l for l in p.stderr.splitlines() if l.startswith("batch ")][-1]
    batch_ms = float(re.search(r"\| ([\d.]+) ms", batch_line).group(1))
    return {"replayed_batches": int(m.group(1)) if m else 0,
            "recovery_ms": int(m.group(3)) if m else None,
            "to_first_new_batch_s": secs, "first_batch_ms": batch_ms}


def main():
    d = tempfile.mkdtemp(prefix="ember-recovery-bench-")
    t0 = time.monotonic()
    build(d)
    built = time.monotonic() - t0
    res = {"keys": KEYS, "batch_records": BATCH, "build_s": round(built, 1)}
    for case, lose in (("live", False), ("lost", True)):
        runs = [measure(d, lose) for _ in range(REPEAT)]
        secs = [r["to_first_new_batch_s"] for r in runs]
        rec = [r["recovery_ms"] for r in runs if r["recovery_ms"] is not None]
        res[case] = {"replayed_batches": runs[0]["replayed_batches"],
                     "to_first_new_batch_s_median": round(statistics.median(secs), 3),
                     "spread_s": [round(min(secs), 3), round(max(secs), 3)],
                     "recovery_ms_median": statistics.median(rec) if rec else None,
                     "first_batch_ms_median": statistics.median(r["first_batch_ms"]
                                                                for r in runs)}
        print("%-5s replayed %2d batches: %.2f s to the first new batch (recovery %s ms)" % (
            case, runs[0]["replayed_batches"], statistics.median(secs),
            res[case]["recovery_ms_median"]))
    shutil.rmtree(d, ignore_errors=True)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
