"""Keyed state in RocksDB and the commit cycle, through real `ember run`
processes: a cache far smaller than the state, snapshots and their pruning,
WAL segment deletion, progress.jsonl, and reading state while a job runs."""
import json
import os
import subprocess
import time

from harness import (check, close, ember, gen_file, main, read_csv, state_json, tmpdir, write,
                     EMBER)


def txn_job(d, extra_ckpt="", count=None, src=None, batch=4000):
    src = src or "file path=%s/in.csv" % d
    write(d + "/t.job", f"""job txn
batch      interval=1ms max-records={batch}
checkpoint dir={d}/ckpt {extra_ckpt}
source     {src}
parse      csv fields=card,merchant,amount:float,ts:int
key        card
aggregate  count() sum(amount) max(ts)
sink       file dir={d}/out
""")
    return d + "/t.job"


def oracle(rows):
    out = {}
    for card, _, amount, ts in rows:
        c, s, m = out.get(card, (0, 0.0, None))
        out[card] = (c + 1, s + float(amount), max(m or int(ts), int(ts)))
    return out


def check_state(ckpt, want, *extra):
    got = {o["card"]: o for o in state_json(ckpt, "aggregate", *extra)}
    check(len(got) == len(want), "%d keys in state, %d in the input" % (len(got), len(want)))
    for k, (c, s, m) in want.items():
        g = got[k]
        check(g["count"] == c and close(g["sum_amount"], s) and g["max_ts"] == m,
              "key %s: %r vs %r" % (k, g, (c, s, m)))


def test_state_larger_than_cache():
    d = tmpdir("cache")
    gen_file("transactions", 60000, 4, d + "/in.csv")
    ember("run", txn_job(d, "cache=16KB every=0"), "--until-idle", check_rc=0)
    rows = read_csv(d + "/in.csv")
    want = oracle(rows)
    check(len(want) > 20000, "the state (%d keys) must dwarf a 16 KB cache" % len(want))
    check_state(d + "/ckpt", want)


def test_snapshots_are_pruned_and_wal_truncated():
    d = tmpdir("snap")
    gen_file("transactions", 40000, 8, d + "/in.csv")
    job = txn_job(d, "every=2 keep=2 wal-segment=200B", batch=2000)
    ember("run", job, "--until-idle", check_rc=0)
    snaps = sorted(os.listdir(d + "/ckpt/snapshots"))
    check(snaps == ["%020d" % 18, "%020d" % 20], "kept snapshots: %r" % snaps)
    for s in snaps:
        man = open(d + "/ckpt/snapshots/%s/MANIFEST" % s).read()
        check(man.startswith("ember-manifest 1\n") and "\nchecksum " in man, man[:200])
    segs = sorted(os.listdir(d + "/ckpt/wal"))
    first = int(segs[0].split(".")[0])
    check(first <= 19, "WAL keeps the batches after the oldest snapshot: %r" % segs)
    check(first > 1, "older WAL segments are deleted: %r" % segs)
    rows = read_csv(d + "/in.csv")
    # the snapshot of batch 18 holds exactly the first 18 * 2000 records
    check_state(d + "/ckpt", oracle(rows[:36000]), "--snapshot", "18")
    check_state(d + "/ckpt", oracle(rows))


def test_progress_jsonl():
    d = tmpdir("progress")
    gen_file("transactions", 10000, 2, d + "/in.csv")
    ember("run", txn_job(d, "every=0"), "--until-idle", check_rc=0)
    lines = [json.loads(l) for l in open(d + "/ckpt/progress.jsonl")]
    check([l["batch"] for l in lines] == [1, 2, 3], "batches %r" % [l["batch"] for l in lines])
    check(sum(l["records_in"] for l in lines) == 10000, "records_in")
    for key in ("state_keys", "state_bytes", "wal_ms", "state_ms", "commit_ms", "snapshot_ms",
                "processing_rate", "scheduling_delay_ms"):
        check(key in lines[0], "progress has " + key)
    size = os.path.getsize(d + "/in.csv")
    check(lines[-1]["offsets"] == {"0": size}, "offsets %r, file %d" % (lines[-1]["offsets"], size))


def test_state_readable_while_running():
    d = tmpdir("live")
    job = txn_job(d, "every=0", src="generator kind=transactions seed=5 rate=20000", batch=2000)
    p = subprocess.Popen([EMBER, "run", job], stderr=subprocess.DEVNULL)
    try:
        seen = []
        deadline = time.time() + 60
        while len(seen) < 3 and time.time() < deadline:
            time.sleep(0.3)
            if not os.path.exists(d + "/ckpt/db"):
                continue
            rc, out, _ = ember("state", d + "/ckpt", "--op", "aggregate", "--format", "json")
            if rc == 0:
                seen.append(sum(o["count"] for o in json.loads(out)))
        check(len(seen) == 3, "ember state answered while the job ran: %r" % seen)
        check(seen == sorted(seen) and seen[-1] > 0, "counts only grow: %r" % seen)
    finally:
        p.terminate()
        p.wait(timeout=30)
    check(p.returncode == 0, "exit %r" % p.returncode)


if __name__ == "__main__":
    main([test_state_larger_than_cache, test_snapshots_are_pruned_and_wal_truncated,
          test_progress_jsonl, test_state_readable_while_running])
