"""ember benchmarks. Writes bench/results/<date>-<commit>.json and prints a
markdown table for bench/README.md. Every figure is the median of several
runs, with the spread (min..max), and ember's state figures are also given as
a ratio of RocksDB's own db_bench measured in the same run on the same machine.

Scenarios:
  agg100k   generator(transactions) -> parse -> key card -> count()+sum(amount),
            100K distinct keys, commit every batch, one worker thread
  agg100k-t2  the same with 2 worker threads
  snapshot1m  snapshot time of a state of ~1M keys (ads keyed by user_id,ad_id)
  db_bench  fillrandom / readrandom with ember's key and value sizes
  ceiling   a bare parse+hash loop over the same records (tools: ember gen | wc as I/O floor)
"""
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMBER = os.path.join(ROOT, "build", "ember")
QUICK = "--quick" in sys.argv


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


def progress(ckpt):
    with open(os.path.join(ckpt, "progress.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def run_job(text, args=()):
    d = tempfile.mkdtemp(prefix="ember-bench-")
    job = os.path.join(d, "b.job")
    with open(job, "w") as f:
        f.write(text.replace("@DIR@", d))
    t0 = time.time()
    sh([EMBER, "run", job, "--until-idle", *args])
    wall = time.time() - t0
    p = progress(os.path.join(d, "ckpt"))
    shutil.rmtree(d, ignore_errors=True)
    return wall, p


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


AGG_JOB = """job bench-agg
batch      interval=1ms max-records={batch}
checkpoint dir=@DIR@/ckpt every=0 cache=512MB
source     generator kind=transactions seed=1 count={count}
parse      csv fields=card,merchant,amount:float,ts:int
key        card
aggregate  count() sum(amount)
sink       file dir=@DIR@/out
"""


def bench_agg(threads):
    count = 2_000_000 if QUICK else 10_000_000
    rates, state_rates, commit_ms = [], [], []
    for _ in range(3 if QUICK else 5):
        wall, p = run_job(AGG_JOB.format(count=count, batch=1_000_000), ["--threads", threads])
        rates.append(count / wall)
        keys = sum(b["keys_changed"] for b in p)
        state_rates.append(keys / (sum(b["state_ms"] for b in p) / 1e3))
        commit_ms.append(statistics.median(b["commit_ms"] for b in p))
    return {"records_per_s": spread(rates), "state_keys_per_s": spread(state_rates),
            "commit_ms_per_batch": spread(commit_ms), "records": count}


SNAP_JOB = """job bench-snap
batch      interval=1ms max-records=500000
checkpoint dir=@DIR@/ckpt every={every} keep=2 cache=512MB
source     generator kind=ads seed=1 count={count}
parse      csv fields=user_id,page_id,ad_id,ad_type,event_type,event_time:int,ip
key        user_id, ad_id
aggregate  count()
sink       file dir=@DIR@/out
"""


def bench_snapshot():
    count = 1_500_000
    snaps, keys = [], 0
    for _ in range(2 if QUICK else 3):
        _, p = run_job(SNAP_JOB.format(count=count, every=3))
        last = p[-1]
        snaps.append(last["snapshot_ms"])
        keys = last["state_keys"]
    return {"snapshot_ms": spread(snaps), "state_keys": keys}


def db_bench():
    if not shutil.which("db_bench"):
        return None
    d = tempfile.mkdtemp(prefix="ember-dbbench-")
    num = 1_000_000
    out = sh(["db_bench", "--db=" + d, "--benchmarks=fillrandom,readrandom", "--num=%d" % num,
              "--key_size=16", "--value_size=18", "--compression_type=lz4",
              "--threads=1", "--disable_wal=0", "--sync=0"]).stdout
    shutil.rmtree(d, ignore_errors=True)
    res = {}
    for name in ("fillrandom", "readrandom"):
        m = re.search(name + r"\s*:\s*([\d.]+) micros/op (\d+) ops/sec", out)
        if m:
            res[name + "_ops_per_s"] = int(m.group(2))
    return res


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    return "%s, %d cores, %s" % (cpu, os.cpu_count(), platform.platform())


def main():
    commit = sh(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT).stdout.strip()
    res = {"date": datetime.date.today().isoformat(), "commit": commit, "machine": machine(),
           "command": "make bench" + (" QUICK=1" if QUICK else "")}
    res["db_bench"] = db_bench()
    res["agg100k_t1"] = bench_agg("1")
    res["agg100k_t2"] = bench_agg("2")
    res["snapshot"] = bench_snapshot()
    if res["db_bench"]:
        # ember's state step does one read + one write per key: compare with
        # the rate RocksDB alone sustains for one read + one write.
        r = res["db_bench"]
        both = 1 / (1 / r["fillrandom_ops_per_s"] + 1 / r["readrandom_ops_per_s"])
        res["state_rate_vs_db_bench"] = res["agg100k_t1"]["state_keys_per_s"]["median"] / both
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "%s-%s.json" % (res["date"], commit))
    with open(path, "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2))
    print("wrote", path)


if __name__ == "__main__":
    main()
