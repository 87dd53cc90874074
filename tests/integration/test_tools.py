"""Checkpoint inspection and repair commands (checkpoints, inspect, wal,
verify, restore, diff) against directories made by real `ember run`
processes, sound and damaged; JSON output parsed and compared with a Python
recount of the job's input."""
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time

from harness import EMBER, check, ember, gen_file, main, read_csv, state_json, tmpdir, write

BATCH = 2000
N = 30000


def make_checkpoint():
    d = tmpdir("tools")
    gen_file("transactions", N, 2, d + "/in.csv")
    write(d + "/t.job", f"""job tools
batch      interval=1ms max-records={BATCH}
checkpoint dir={d}/ckpt every=3 keep=3
source     file path={d}/in.csv
parse      csv fields=card,merchant,amount:float,ts:int
key        merchant
aggregate  count() sum(amount)
sink       file dir={d}/out
""")
    ember("run", d + "/t.job", "--until-idle", check_rc=0)
    with open(d + "/in.csv", "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    ends = [0]
    for l in lines:
        ends.append(ends[-1] + len(l) + 1)
    return d, read_csv(d + "/in.csv"), ends


def counts(rows):
    out = {}
    for _, m, amount, _ in rows:
        c, s = out.get(m, (0, 0.0))
        out[m] = (c + 1, s + float(amount))
    return out


def jrun(*args, rc=0):
    _, out, _ = ember(*args, "--format", "json", check_rc=rc)
    return json.loads(out)


def test_checkpoints_inspect_wal():
    d, rows, ends = make_checkpoint()
    ck = d + "/ckpt"
    cps = jrun("checkpoints", ck)
    check([c["kind"] for c in cps] == ["live", "snapshot", "snapshot", "snapshot"], str(cps))
    check(cps[0]["batch"] == 15 and cps[0]["offsets"] == {"0": ends[N]}, "live %s" % cps[0])
    for c in cps[1:]:
        check(c["verified"] is True and c["offsets"] == {"0": ends[c["batch"] * BATCH]}
              and c["bytes"] > 0, "snapshot %s" % c)
    check([c["batch"] for c in cps[1:]] == [9, 12, 15], "kept snapshots")
    ins = jrun("inspect", ck, "--batch", "14")
    check(ins["committed"]["batch"] == 15 and ins["committed"]["records"] == N
          and ins["committed"]["sink"] == {"kind": "file", "batch": 15}, str(ins["committed"]))
    check(ins["plan"]["ranges"] == [{"partition": 0, "from": ends[13 * BATCH],
                                     "to": ends[14 * BATCH]}], str(ins["plan"]))
    check("key       merchant" in ins["job_spec"] and len(ins["spec_hash"]) == 16, "spec")
    wal = jrun("wal", ck)
    check([(r["type"], r["batch"]) for r in wal["records"]] == [("PLAN", b) for b in range(1, 16)]
          and wal["damage"] is None, "wal records %s" % wal["records"][:2])
    part = jrun("wal", ck, "--from", "5", "--to", "6")
    check([r["batch"] for r in part["records"]] == [5, 6], "wal --from --to")


def test_diff_against_recount():
    d, rows, _ = make_checkpoint()
    before, after = counts(rows[:12 * BATCH]), counts(rows[:15 * BATCH])
    diff = jrun("diff", d + "/ckpt", "12", "15")
    added = {c["key"] for c in diff["changes"] if c["change"] == "added"}
    changed = {c["key"]: c for c in diff["changes"] if c["change"] == "changed"}
    check(added == set(after) - set(before), "added keys")
    want_changed = {k for k in before if after[k] != before[k]}
    check(set(changed) == want_changed and diff["removed"] == 0, "changed keys")
    for k, c in changed.items():
        check(c["old"]["count"] == before[k][0] and c["new"]["count"] == after[k][0],
              "%s: %s" % (k, c))
    same = jrun("diff", d + "/ckpt", "15", "live")
    check(same["changes"] == [] and same["changed"] == 0, "snapshot 15 equals live")


def test_verify_and_damage():
    d, _, _ = make_checkpoint()
    ck = d + "/ckpt"
    v = jrun("verify", ck)
    check(v["sound"] is True and v["problems"] == [], str(v))
    # torn WAL tail: half a header at the end of the last segment
    seg = sorted(os.listdir(ck + "/wal"))[-1]
    with open(os.path.join(ck, "wal", seg), "ab") as f:
        f.write(b"\x20\x00\x00")
    w = jrun("wal", ck)
    check(w["damage"]["kind"] == "torn" and w["damage"]["segment"] == seg, str(w["damage"]))
    check(jrun("verify", ck)["sound"] is True, "a torn tail is a note, not a problem")
    # one flipped byte in snapshot 12, snapshot 9 without its MANIFEST
    snap = ck + "/snapshots/%020d/db" % 12
    sst = sorted(f for f in os.listdir(snap) if f.endswith(".sst"))[0]
    with open(os.path.join(snap, sst), "r+b") as f:
        f.seek(10)
        b = f.read(1)
        f.seek(10)
        f.write(bytes([b[0] ^ 0x40]))
    os.unlink(ck + "/snapshots/%020d/MANIFEST" % 9)
    rc, out, _ = ember("verify", ck)
    problems = [l for l in out.splitlines() if l.startswith("problem:")]
    check(rc == 1 and len(problems) == 2 and "snapshot 12" in problems[1] and sst in problems[1]
          and "snapshot 9" in problems[0], "verify: %d %s" % (rc, out))
    cps = {c["batch"]: c for c in jrun("checkpoints", ck, rc=1) if c["kind"] == "snapshot"}
    check(cps[12]["verified"] is False and cps[9]["verified"] is False
          and cps[15]["verified"] is True, "checkpoints flags the damaged snapshots")


def test_restore_then_run_continues():
    d, rows, _ = make_checkpoint()
    ck = d + "/ckpt"
    with open(d + "/out/%012d.tsv" % 15) as f:
        last_batch_file = f.read()
    # live state lost: verify says so, restore to 12, the next run replays 13..15
    shutil.rmtree(ck + "/db")
    rc, out, _ = ember("verify", ck)
    check(rc == 1 and "cannot be opened" in out, "verify without live state: %s" % out)
    with open(ck + "/LOCK", "a") as lock:  # a running job holds the lock
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        rc, _, err = ember("restore", ck, "--batch", "12")
        check(rc == 1 and "in use by another ember process" in err, "restore while locked: %d %s" % (rc, err))
    ember("restore", ck, "--batch", "12", check_rc=0)
    got = {r["merchant"]: (r["count"], r["sum_amount"]) for r in state_json(ck)}
    want = counts(rows[:12 * BATCH])
    check({k: c for k, (c, _) in got.items()} == {k: c for k, (c, _) in want.items()},
          "restored state is the recount of the first 12 batches")
    _, _, err = ember("run", d + "/t.job", "--until-idle", check_rc=0)
    check("replayed 3 batches" in err, "the run replays 13..15 from the WAL: %s" % err)
    got = {r["merchant"]: r["count"] for r in state_json(ck)}
    check(got == {k: c for k, (c, _) in counts(rows).items()}, "state after the replay")
    with open(d + "/out/%012d.tsv" % 15) as f:
        check(f.read() == last_batch_file, "replayed batch 15 wrote the same bytes")
    rc, _, err = ember("restore", ck, "--batch", "7")
    check(rc == 1 and "7" in err, "restore of a missing snapshot: %s" % err)


def test_while_a_job_runs():
    """Every read-only command works on the directory of a running job."""
    d = tmpdir("tools-live")
    write(d + "/g.job", f"""job live
batch      interval=100ms max-records=5000
checkpoint dir={d}/ckpt every=10 keep=3
source     generator kind=transactions seed=4 rate=40000
parse      csv fields=card,merchant,amount:float,ts:int
key        merchant
aggregate  count()
sink       file dir={d}/out
""")
    p = subprocess.Popen([EMBER, "run", d + "/g.job"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(250):  # bounded: up to 25 s for two snapshots
            if os.path.isdir(d + "/ckpt/snapshots") and len(os.listdir(d + "/ckpt/snapshots")) >= 2:
                break
            time.sleep(0.1)
        snaps = [c["batch"] for c in jrun("checkpoints", d + "/ckpt") if c["kind"] == "snapshot"]
        check(len(snaps) >= 2, "snapshots while running: %s" % snaps)
        # the newest two snapshots outlive the next two (keep=3, one a second)
        diff = jrun("diff", d + "/ckpt", str(snaps[-2]), str(snaps[-1]))
        check(diff["changed"] + diff["added"] > 0 and diff["removed"] == 0, "diff while running")
        check(jrun("inspect", d + "/ckpt")["committed"]["batch"] >= snaps[-1], "inspect")
        check(jrun("verify", d + "/ckpt")["sound"] is True, "verify while running")
        check(jrun("wal", d + "/ckpt")["records"], "wal while running")
        check(p.poll() is None, "the job kept running")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    check(p.returncode == 0, "SIGTERM ends the job cleanly")


def test_bad_arguments_and_directories():
    d = tmpdir("tools-bad")
    for cmd in ("checkpoints", "inspect", "wal", "verify"):
        rc, _, err = ember(cmd, d)
        check(rc == 1 and "not an ember checkpoint" in err and len(err.strip().splitlines()) == 1,
              "%s on a non-checkpoint: %d %s" % (cmd, rc, err))
        rc, _, err = ember(cmd, d + "/missing")
        check(rc == 1 and "No such file" in err, "%s on a missing dir: %s" % (cmd, err))
        rc, out, _ = ember(cmd, "--help")
        check(rc == 0 and out.startswith("usage: ember " + cmd), "%s --help" % cmd)
        rc, _, err = ember(cmd, d, "--bogus")
        check(rc == 2, "%s --bogus: exit %d" % (cmd, rc))
    check(ember("restore", d)[0] == 2, "restore without --batch is bad usage")
    check(ember("diff", d, "1")[0] == 2, "diff needs two versions")
    check(ember("diff", d, "x", "live")[0] in (1, 2), "diff of a bad version")


if __name__ == "__main__":
    main([test_checkpoints_inspect_wal, test_diff_against_recount, test_verify_and_damage,
          test_restore_then_run_continues, test_while_a_job_runs,
          test_bad_arguments_and_directories])
