#!/usr/bin/env python3
"""Scale-out benchmark: `ember run --instance` over one `ember broker`
(librdkafka's mock cluster, on the same machine).

  python3 bench/scale_out_bench.py          400K records, 1M-key restore
  QUICK=1 python3 bench/scale_out_bench.py  100K records, 200K-key restore
  EMBER=path/to/ember                       default build/ember (the -O2 build)

(a) throughput  N keyed records (200 keys, key = the state key) in a topic of
                6 partitions; k = 1, 2, 3 instances start together on a fresh
                group and checkpoint; records/s = N / (time from the start of
                the instances until their instance.json offsets sum to N);
                count() sum(v) by key into `sink kafka` (one transaction per
                task per batch: rows + changelog + offsets + marker)
(b) restore     one instance builds the state of K distinct keys in a topic
                of 1 partition (one task), then stops; a second instance
                with an empty directory takes the task and restores it from
                the changelog: the restore time its "restored batches" line
                reports, per million keys.
Each measurement runs 3 times (median, min..max); writes
bench/results/scale-out-<date>.json.
"""
import datetime
import json
import os
import random
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

EMBER = os.environ.get("EMBER", "build/ember")
QUICK = os.environ.get("QUICK") == "1"
N = 100_000 if QUICK else 400_000
KEYS = 200_000 if QUICK else 1_000_000
PARTS = 6


def broker(*topics):
    p = subprocess.Popen([EMBER, "broker"] + [a for t in topics for a in ("--topic", t)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    if not sel.select(timeout=30):
        sys.exit("ember broker printed no address")
    return p, p.stdout.readline().strip()


def produce(addr, topic, lines, d):
    path = os.path.join(d, "in.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["kcat", "-P", "-b", addr, "-t", topic, "-K", "|", "-l", path], check=True,
                   timeout=600)


def job(d, addr, max_records):
    path = os.path.join(d, "so.job")
    with open(path, "w") as f:
        f.write(f"""job        so
batch      interval=100ms max-records={max_records}
checkpoint dir={d}/unused every=0
source     kafka brokers={addr} topic=in group=so-group
parse      csv fields=k,v:int
key        k
aggregate  count() sum(v)
sink       kafka brokers={addr} topic=out
""")
    return path


def start(d, path, name):
    log = open(os.path.join(d, name + ".log"), "w")
    return subprocess.Popen([EMBER, "run", path, "--instance", name, "--dir",
                             os.path.join(d, name)], stdout=log, stderr=log)


def offsets_sum(d, names):
    total = 0
    for n in names:
        try:
            with open(os.path.join(d, n, "instance.json")) as f:
                total += sum(max(t["offset"], 0) for t in json.load(f)["tasks"])
        except (OSError, ValueError):
            pass
    return total


def stop(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=120)


def throughput(k):
    d = tempfile.mkdtemp(prefix="ember-bench-so-")
    b, addr = broker("in:%d" % PARTS, "out:%d" % PARTS, "so-tasks:%d" % PARTS,
                     "so-state-changelog:%d" % PARTS)
    try:
        r = random.Random(k)
        produce(addr, "in", ["k%d|k%d,%d" % (x, x, r.randrange(1000))
                             for x in (r.randrange(200) for _ in range(N))], d)
        path = job(d, addr, 50_000)
        names = ["i%d" % i for i in range(k)]
        t0 = time.time()
        procs = [start(d, path, n) for n in names]
        while offsets_sum(d, names) < N:
            if time.time() - t0 > 900:
                sys.exit("not caught up in 900 s")
            time.sleep(0.2)
        secs = time.time() - t0
        stop(procs)
        return N / secs
    finally:
        b.send_signal(signal.SIGTERM)
        b.wait()
        shutil.rmtree(d, ignore_errors=True)


def restore():
    d = tempfile.mkdtemp(prefix="ember-bench-so-")
    b, addr = broker("in:1", "out:1", "so-tasks:1", "so-state-changelog:1")
    try:
        produce(addr, "in", ["k%d|k%d,1" % (x, x) for x in range(KEYS)], d)
        path = job(d, addr, 200_000)
        a = start(d, path, "a")
        t0 = time.time()
        while offsets_sum(d, ["a"]) < KEYS and time.time() - t0 < 900:
            time.sleep(0.2)
        stop([a])
        c = start(d, path, "b")
        t0 = time.time()
        ms = None
        while ms is None and time.time() - t0 < 900:
            m = re.search(r"restored batches \S+ \((\d+) bytes in all\) from \S+ in (\d+) ms",
                          open(os.path.join(d, "b.log")).read())
            if m:
                nbytes, ms = int(m.group(1)), int(m.group(2))
            time.sleep(0.2)
        stop([c])
        return ms / 1000.0 * 1e6 / KEYS, nbytes
    finally:
        b.send_signal(signal.SIGTERM)
        b.wait()
        shutil.rmtree(d, ignore_errors=True)


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}


def main():
    res = {"records": N, "partitions": PARTS, "keys_restored": KEYS}
    for k in (1, 2, 3):
        res["instances_%d" % k] = summary([throughput(k) for _ in range(3)])
        print("%d instance(s): %.0f records/s (median of 3)" % (
            k, res["instances_%d" % k]["median"]), flush=True)
    runs = [restore() for _ in range(3)]
    res["restore_s_per_million_keys"] = summary([r[0] for r in runs])
    res["changelog_bytes"] = runs[0][1]
    print("restore: %.2f s per million keys (median of 3), changelog %d bytes for %d keys" % (
        res["restore_s_per_million_keys"]["median"], runs[0][1], KEYS))
    os.makedirs("bench/results", exist_ok=True)
    out = "bench/results/scale-out-%s.json" % datetime.date.today().isoformat()
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
    print("wrote", out)


if __name__ == "__main__":
    main()
