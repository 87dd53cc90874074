#!/usr/bin/env python3
"""What an independent snapshot costs (issue 19, item 1).

Snapshots are RocksDB checkpoints: their tables are hard links to the live
db's and to each other's. ember keeps the oldest kept snapshot an
independent copy (snap_prune copies every file it shares before older
snapshots go) and restores by copying. This runs the same job with two
binaries, EMBER_BASE (hard links only, e.g. a build of main before the
change) and EMBER (this tree), and reports per binary:

  - records/s of the whole run and the mean snapshot_ms per snapshot batch
    (progress.jsonl: checkpoint + MANIFEST + prune, which now copies);
  - bytes on disk of DIR/db + DIR/snapshots at the end, each inode once
    (what `du` counts), and the bytes the snapshots alone add;
  - seconds of `ember restore --batch <oldest>` (a copy, before: links).

    EMBER_BASE=/tmp/ember-main EMBER=build/ember python3 bench/snapshot_copies.py [--quick]

Two states: 100K keys (agg100k: transactions by card, 100K-record batches)
and 1M keys (a running count over a file, 100K-record batches, 30 of
them); snapshots every 10 batches, keep=3.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--quick" in sys.argv
BINARIES = [("base", os.environ.get("EMBER_BASE")),
            ("ember", os.environ.get("EMBER") or os.path.join(ROOT, "build", "ember"))]

AGG = """job snapcost
batch      interval=1ms max-records=100000
checkpoint dir=@DIR@/ckpt every=10 keep=3 cache=512MB
source     generator kind=transactions seed=1 count={count}
parse      csv fields=card,merchant,amount:float,ts:int
key        card
aggregate  count() sum(amount)
sink       file dir=@DIR@/out
"""

SCALE = """job snapcost
batch      interval=1ms max-records=100000
checkpoint dir=@DIR@/ckpt every=10 keep=3 cache=512MB
source     file path={input}
parse      csv fields=k,v:int
key        k
aggregate  count() sum(v)
sink       file dir=@DIR@/out
"""


def inode_bytes(*dirs):
    seen, total = set(), 0
    for d in dirs:
        for r, _, fs in os.walk(d):
            for f in fs:
                st = os.lstat(os.path.join(r, f))
                if st.st_ino not in seen:
                    seen.add(st.st_ino)
                    total += st.st_size
    return total


def one(ember, text, records):
    d = tempfile.mkdtemp(prefix="ember-snapcost-")
    with open(d + "/j.job", "w") as f:
        f.write(text.replace("@DIR@", d))
    t0 = time.time()
    p = subprocess.run([ember, "run", d + "/j.job", "--until-idle"], capture_output=True,
                       text=True)
    wall = time.time() - t0
    if p.returncode:
        sys.exit("run failed: " + p.stderr[-1500:])
    prog = [json.loads(l) for l in open(d + "/ckpt/progress.jsonl") if l.strip()]
    snaps = [b["snapshot_ms"] for b in prog if b["batch"] % 10 == 0]
    ck = d + "/ckpt"
    live = inode_bytes(ck + "/db")
    total = inode_bytes(ck + "/db", ck + "/snapshots")
    oldest = sorted(x for x in os.listdir(ck + "/snapshots") if x.isdigit())[0]
    t0 = time.time()
    subprocess.run([ember, "restore", ck, "--batch", str(int(oldest))], check=True,
                   capture_output=True)
    restore = time.time() - t0
    shutil.rmtree(d, ignore_errors=True)
    return {"records_per_s": records / wall, "snapshot_ms_mean": statistics.mean(snaps),
            "bytes_live": live, "bytes_db_and_snapshots": total,
            "bytes_snapshots_add": total - live, "restore_s": restore}


def main():
    runs = 1 if QUICK else 3
    count = 2_000_000 if QUICK else 5_000_000
    tmp = tempfile.mkdtemp(prefix="ember-snapcost-in-")
    keys, n_scale = 1_000_000, 3_000_000
    with open(tmp + "/in.csv", "w") as f:  # 1M keys first, then updates of 100K-key ranges
        f.writelines("k%09d,%d\n" % (i % keys, i % 100) for i in range(n_scale))
    only = os.environ.get("ONLY")
    cases = [("100K keys (agg100k, %dM records)" % (count // 1_000_000),
              AGG.format(count=count), count),
             ("1M keys (3M records)", SCALE.format(input=tmp + "/in.csv"), n_scale)]
    out = {}
    for name, text, records in cases:
        if only and only not in name:
            continue
        for label, ember in BINARIES:
            if not ember:
                continue
            rs = [one(ember, text, records) for _ in range(runs)]
            med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            out["%s / %s" % (name, label)] = med
            print("%-34s %-6s %8.0f rec/s  snapshot %7.1f ms  live %6.1f MB  db+snapshots "
                  "%6.1f MB (+%5.1f MB)  restore %.2f s" % (
                      name, label, med["records_per_s"], med["snapshot_ms_mean"],
                      med["bytes_live"] / 1e6, med["bytes_db_and_snapshots"] / 1e6,
                      med["bytes_snapshots_add"] / 1e6, med["restore_s"]), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
