#!/usr/bin/env python3
"""Recovery time: seconds from `ember run` start to its first new batch
committed, with KEYS keys of state and 10 planned-but-uncommitted batches to
replay.

How the 10 uncommitted PLANs are made (documented behaviour of `ember
restore`): the state is built in F batches (every key once, a snapshot at
batch F), then 10 batches of UPDATE random updates each are run and
committed (PLANs F+1..F+10 in the WAL), then `ember restore DIR --batch F`
rolls the live state back to snapshot F. The live commit is F and the WAL
still plans F+1..F+10: the next `ember run` must replay all 10 (the same
thing a crash leaves, only ten deep) before it reads anything new. A few
hundred new records wait after them, so the first new batch is small and the
figure is recovery, not batch cost.

Each measured run starts from a fresh copy of that directory. Timestamps
come from ember's stderr as it runs: "recovery: committed batch" (state
open), "recovery: replayed N batches (R records) in X ms" (replay done) and
the first non-replay "batch N:" progress line (written after that batch's
commit); progress.jsonl is checked to hold batch F+11; the CPU seconds
(user + sys) of the run tell contention on a shared machine from work.
Median of REPEAT runs (default 3) and [min, max].

  bench/recovery_bench.py               1M and 10M keys
  QUICK=1 bench/recovery_bench.py       1M keys only
  KEYS=N UPDATE=N REPEAT=N EMBER=path   overrides (UPDATE default 10000)
  COLD=1                                also drop the page cache before each run
Prints a table and one JSON object per size on the last lines."""
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

EMBER = os.path.abspath(os.environ.get("EMBER", "build/ember"))
BUILD_BATCH = 500000  # records per batch while the keys are created
UPDATE = int(os.environ.get("UPDATE", "10000"))  # records per replayed batch
REPLAY = 10
NEW_RECORDS = 500
REPEAT = int(os.environ.get("REPEAT", "3"))


def ember(args, check=True):
    e = dict(os.environ)
    e.pop("EMBER_FAILPOINTS", None)
    p = subprocess.run([EMBER, *args], capture_output=True, text=True, env=e)
    if check and p.returncode != 0:
        sys.exit("ember %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr[-2000:]))
    return p


def write_job(d, max_records, every):
    with open(d + "/r.job", "w") as f:
        f.write(f"""job recovery-bench
batch      interval=1ms max-records={max_records}
checkpoint dir={d}/ckpt every={every} keep=3 cache=256MB
source     file path={d}/in.csv
parse      csv fields=k,v:int
key        k
aggregate  count() sum(v)
sink       file dir={d}/out
""")


def build(d, keys):
    """State of `keys` keys at batch F, PLANs F+1..F+10 uncommitted."""
    rnd = random.Random(1)
    n_first = -(-keys // BUILD_BATCH)
    with open(d + "/in.csv", "w") as f:
        for i in range(keys):
            f.write("k%09d,%d\n" % (i, i % 100))
    write_job(d, BUILD_BATCH, n_first)
    ember(["run", d + "/r.job", "--until-idle"])
    with open(d + "/in.csv", "a") as f:
        for i in range(REPLAY * UPDATE):
            f.write("k%09d,%d\n" % (rnd.randrange(keys), i % 100))
    write_job(d, UPDATE, 0)  # a harmless change: batch size and snapshots
    ember(["run", d + "/r.job", "--until-idle"])
    ember(["restore", d + "/ckpt", "--batch", str(n_first)])
    with open(d + "/in.csv", "a") as f:
        for i in range(NEW_RECORDS):
            f.write("k%09d,%d\n" % (rnd.randrange(keys), i % 100))
    plan = json.loads(ember(["inspect", d + "/ckpt", "--format", "json"]).stdout)
    if plan["committed"]["batch"] != n_first or plan["plan"]["batch"] != n_first + REPLAY \
            or plan["plan"]["committed"]:
        sys.exit("expected batch %d committed and PLANs up to %d uncommitted: %s" % (
            n_first, n_first + REPLAY, plan))
    return n_first


def drop_caches():
    subprocess.run(["sync"])
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def measure(d, first, cold):
    work = d + "/work"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    subprocess.run(["cp", "-a", d + "/ckpt", d + "/out", work + "/"], check=True)
    if cold:
        drop_caches()
    e = dict(os.environ)
    e.pop("EMBER_FAILPOINTS", None)
    marks = {}
    t0 = time.monotonic()
    p = subprocess.Popen([EMBER, "run", d + "/r.job", "--dir", work + "/ckpt", "--batches", "1"],
                         stderr=subprocess.PIPE, text=True, env=e)
    replay_ms = replayed = None
    for line in p.stderr:
        t = time.monotonic() - t0
        if line.startswith("recovery: committed batch"):
            marks.setdefault("open_s", t)
        m = re.match(r"recovery: replayed (\d+) batches \((\d+) records\) in (\d+) ms", line)
        if m:
            replayed, replay_ms = int(m.group(1)), int(m.group(3))
            marks["replayed_s"] = t
        if re.match(r"batch \d+: ", line):
            marks.setdefault("first_new_batch_s", t)
    _, status, usage = os.wait4(p.pid, 0)
    rc = p.returncode = os.waitstatus_to_exitcode(status)
    marks["cpu_s"] = usage.ru_utime + usage.ru_stime
    if rc != 0 or "first_new_batch_s" not in marks or replayed != REPLAY:
        sys.exit("recovery run: exit %d, replayed %s, marks %s" % (rc, replayed, marks))
    with open(work + "/ckpt/progress.jsonl") as f:
        batches = [json.loads(l).get("batch") for l in f if l.strip()]
    if first + REPLAY + 1 not in batches:
        sys.exit("progress.jsonl has no batch %d" % (first + REPLAY + 1))
    return dict(marks, recovery_line_ms=replay_ms)


def summary(runs, key):
    v = [r[key] for r in runs]
    return {"median": round(statistics.median(v), 3), "min": round(min(v), 3),
            "max": round(max(v), 3)}


def bench(keys, cold):
    d = tempfile.mkdtemp(prefix="ember-recovery-bench-", dir=os.environ.get("TMPDIR", "/tmp"))
    t0 = time.monotonic()
    first = build(d, keys)
    res = {"keys": keys, "replayed_batches": REPLAY, "records_per_replayed_batch": UPDATE,
           "new_records": NEW_RECORDS, "build_s": round(time.monotonic() - t0, 1),
           "db_bytes": sum(os.path.getsize(os.path.join(r, f))
                           for r, _, fs in os.walk(d + "/ckpt/db") for f in fs)}
    for case in (["warm", "cold"] if cold else ["warm"]):
        runs = [measure(d, first, case == "cold") for _ in range(REPEAT)]
        res[case] = {k: summary(runs, k) for k in
                     ("open_s", "replayed_s", "first_new_batch_s", "recovery_line_ms", "cpu_s")}
        s = res[case]
        print("%10d keys %-4s  state open %.2f s  replay done %.2f s  first new batch %.2f s "
              "[%.2f, %.2f]  (recovery line %d ms, CPU %.2f s)" % (
                  keys, case, s["open_s"]["median"], s["replayed_s"]["median"],
                  s["first_new_batch_s"]["median"], s["first_new_batch_s"]["min"],
                  s["first_new_batch_s"]["max"], s["recovery_line_ms"]["median"],
                  s["cpu_s"]["median"]), flush=True)
    shutil.rmtree(d, ignore_errors=True)
    return res


def main():
    if os.environ.get("KEYS"):
        sizes = [int(os.environ["KEYS"])]
    else:
        sizes = [1000000] if os.environ.get("QUICK") == "1" else [1000000, 10000000]
    cold = os.environ.get("COLD") == "1"
    results = [bench(k, cold) for k in sizes]
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
