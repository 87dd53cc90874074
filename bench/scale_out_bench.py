#!/usr/bin/env python3
"""Scale-out benchmark: `ember run --instance` over one `ember broker`
(librdkafka's mock cluster, on the same machine).

  python3 bench/scale_out_bench.py          1M records, 1M-key restore
  QUICK=1 python3 bench/scale_out_bench.py  200K records, 200K-key restore
  SKIP_RESTORE=1                            the throughput part only
  EMBER=path/to/ember                       default build/ember (the -O2 build)

(a) throughput  N keyed records (200 keys, key = the state key) in a topic of
                6 partitions; k = 1, 2, 3 instances start together on a fresh
                group and checkpoint; records/s = N / (time from the start of
                the instances until their instance.json offsets sum to N),
                and steady: the records of every task's batches over the
                span from the first batch's plan to the last one's end
                (progress.jsonl of every task; start-up and the group's join
                excluded); batches of at most 20K records per task;
                count() sum(v) by key into `sink kafka` (one transaction per
                task per batch: rows + changelog + offsets + marker)
(b) restore     one instance builds the state of K distinct keys over 8
                tasks (4 with QUICK; the mock keeps ~5 MB per partition, and
                the changelog of a task must fit), then stops; a second
                instance with an empty directory takes every task and
                restores them from the changelog (in parallel, a thread per
                task): seconds per million keys from its start until
                instance.json shows every task running; also the changelog
                bytes and the tasks' own restore times, summed.
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
N = 200_000 if QUICK else 1_000_000
KEYS = 200_000 if QUICK else 1_000_000
PARTS = 6
RPARTS = 4 if QUICK else 8  # the mock keeps ~5 MB per partition: the changelog must fit


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


def processing_rate(d, names):
    """Records over the span from the first batch's plan to the last batch's
    end, over every task's progress.jsonl (start-up and the join excluded)."""
    first, last, records = None, None, 0
    for n in names:
        tasks = os.path.join(d, n, "tasks")
        for t in os.listdir(tasks) if os.path.isdir(tasks) else []:
            try:
                lines = open(os.path.join(tasks, t, "progress.jsonl")).read().splitlines()
            except OSError:
                continue
            for line in lines:
                b = json.loads(line)
                if b["replay"] or not b["records_in"]:
                    continue
                start = b["batch_time_ms"]
                end = start + b["processing_ms"] + b["wal_ms"]
                first = start if first is None else min(first, start)
                last = end if last is None else max(last, end)
                records += b["records_in"]
    return records * 1000.0 / max(last - first, 1.0)


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
        path = job(d, addr, 20_000)
        names = ["i%d" % i for i in range(k)]
        t0 = time.time()
        procs = [start(d, path, n) for n in names]
        while offsets_sum(d, names) < N:
            if time.time() - t0 > 900:
                sys.exit("not caught up in 900 s")
            time.sleep(0.05)
        secs = time.time() - t0
        stop(procs)
        return N / secs, processing_rate(d, names)
    finally:
        b.send_signal(signal.SIGTERM)
        b.wait()
        shutil.rmtree(d, ignore_errors=True)


def restore():
    """K keys over RPARTS tasks; returns (wall s per million keys until the
    second instance runs every task, changelog bytes, summed task restore ms)."""
    d = tempfile.mkdtemp(prefix="ember-bench-so-")
    b, addr = broker(*("%s:%d" % (t, RPARTS) for t in ("in", "out", "so-tasks",
                                                       "so-state-changelog")))
    try:
        produce(addr, "in", ["k%d|k%d,1" % (x, x) for x in range(KEYS)], d)
        path = job(d, addr, 200_000)
        a = start(d, path, "a")
        t0 = time.time()
        while offsets_sum(d, ["a"]) < KEYS and time.time() - t0 < 900:
            time.sleep(0.2)
        stop([a])
        t0 = time.time()
        c = start(d, path, "b")
        done = None
        while done is None and time.time() - t0 < 900:
            try:
                with open(os.path.join(d, "b", "instance.json")) as f:
                    tasks = json.load(f)["tasks"]
                if len(tasks) == RPARTS and all(t["phase"] == "running" for t in tasks):
                    done = time.time() - t0
                    nbytes = sum(t["restore"]["bytes"] for t in tasks)
                    task_ms = sum(t["restore"]["ms"] for t in tasks)
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        stop([c])
        return done * 1e6 / KEYS, nbytes, task_ms
    finally:
        b.send_signal(signal.SIGTERM)
        b.wait()
        shutil.rmtree(d, ignore_errors=True)


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}


def main():
    res = {"records": N, "partitions": PARTS, "keys_restored": KEYS}
    for k in (1, 2, 3):
        runs = [throughput(k) for _ in range(3)]
        res["instances_%d" % k] = summary([r[0] for r in runs])
        res["instances_%d_steady" % k] = summary([r[1] for r in runs])
        print("%d instance(s): %.0f records/s from the start, %.0f records/s steady "
              "(medians of 3)" % (k, res["instances_%d" % k]["median"],
                                               res["instances_%d_steady" % k]["median"]),
              flush=True)
    if os.environ.get("SKIP_RESTORE") == "1":
        runs = []
    else:
        runs = [restore() for _ in range(3)]
    if not runs:
        print(json.dumps(res, indent=2))
        return
    res["restore_s_per_million_keys"] = summary([r[0] for r in runs])
    res["changelog_bytes"] = runs[0][1]
    res["task_restore_ms_summed"] = summary([r[2] for r in runs])
    print("restore: %.2f s per million keys (median of 3, wall, %d tasks in parallel), "
          "changelog %d bytes for %d keys, task restores %.0f ms summed" % (
              res["restore_s_per_million_keys"]["median"], RPARTS, runs[0][1], KEYS,
              res["task_restore_ms_summed"]["median"]))
    os.makedirs("bench/results", exist_ok=True)
    out = "bench/results/scale-out-%s.json" % datetime.date.today().isoformat()
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
    print("wrote", out)


if __name__ == "__main__":
    main()
