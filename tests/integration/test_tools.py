"""Checkpoint inspection and repair commands (checkpoints, inspect, wal,
verify, restore, diff) against directories made by real `ember run`
processes, sound and damaged (a flipped byte in a snapshot file, a missing
MANIFEST, a torn or corrupt WAL record, a missing WAL segment, the live state
deleted, unreadable files); JSON output parsed and compared with a Python
recount of the job's input. `restore` is also killed at every durable step
and must leave the old or the new state, and the next run must end at the
recount of the whole input."""
import fcntl
import json
import os
import shutil
import signal
import struct
import subprocess
import time

from harness import (EMBER, check, close, ember, gen_file, main, read_csv, state_json, tmpdir,
                     write)

BATCH = 2000
N = 30000
WAL_HEADER = struct.Struct("<IBQQ")  # len, type, batch, xxh64: checkpoint/wal.h


_fixture = []


def make_checkpoint(prefix="tools"):
    """A copy of one checkpoint of 15 batches of 2000 transactions from a
    file: snapshots 9, 12, 15 kept; WAL segments of ~4 PLANs, the ones before
    batch 10 deleted. Returns (dir of the copy, input rows, end offset of each
    line). The job is made once; run_job() runs it on a copy."""
    if not _fixture:
        d = tmpdir("tools-job")
        gen_file("transactions", N, 2, d + "/in.csv")
        write(d + "/t.job", f"""job tools
batch      interval=1ms max-records={BATCH}
checkpoint dir={d}/ckpt every=3 keep=3 wal-segment=200B
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
        _fixture.extend([d, read_csv(d + "/in.csv"), ends])
    job_dir, rows, ends = _fixture
    d = tmpdir(prefix)
    shutil.copytree(job_dir + "/ckpt", d + "/ckpt", symlinks=True)
    return d, rows, ends


def run_job(d):
    """`ember run` of the fixture's job on the copy in d (its batch files go
    to the fixture's out/, rewritten with the same bytes); returns stderr."""
    return ember("run", _fixture[0] + "/t.job", "--dir", d + "/ckpt", "--until-idle",
                 check_rc=0)[2]


def out_file(batch):
    with open(_fixture[0] + "/out/%012d.tsv" % batch) as f:
        return f.read()


def counts(rows):
    """The oracle: count and sum(amount) per merchant."""
    out = {}
    for _, m, amount, _ in rows:
        c, s = out.get(m, (0, 0.0))
        out[m] = (c + 1, s + float(amount))
    return out


def state_counts(ck, *extra):
    return {r["merchant"]: (r["count"], r["sum_amount"]) for r in state_json(ck, "aggregate", *extra)}


def same_counts(got, want):
    return got.keys() == want.keys() and all(
        got[k][0] == want[k][0] and close(got[k][1], want[k][1]) for k in want)


def jrun(*args, rc=0):
    _, out, _ = ember(*args, "--format", "json", check_rc=rc)
    return json.loads(out)


def one_line_error(args, rc, *words):
    """The command fails with exit rc and exactly one stderr line holding words."""
    got, out, err = ember(*args)
    lines = err.strip().splitlines()
    check(got == rc and len(lines) == 1 and all(w in err for w in words),
          "ember %s: exit %d (wanted %d), stderr %r" % (" ".join(args), got, rc, err))
    return out


def wal_records(ck):
    """(segment, offset, type, batch, length) of every WAL record, parsed here."""
    recs = []
    for seg in sorted(os.listdir(ck + "/wal")):
        with open(os.path.join(ck, "wal", seg), "rb") as f:
            data = f.read()
        off = 0
        while off + WAL_HEADER.size <= len(data):
            n, typ, batch, _ = WAL_HEADER.unpack_from(data, off)
            recs.append((seg, off, typ, batch, n))
            off += WAL_HEADER.size + n
    return recs


def flip_byte(path, at):
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x40]))


def test_checkpoints_inspect_wal():
    d, rows, ends = make_checkpoint()
    ck = d + "/ckpt"
    cps = jrun("checkpoints", ck)
    check([c["kind"] for c in cps] == ["live", "snapshot", "snapshot", "snapshot"], str(cps))
    live = cps[0]
    check(live["batch"] == 15 and live["offsets"] == {"0": ends[N]} and live["verified"] is None
          and live["problem"] is None and live["bytes"] > 0, "live %s" % live)
    for c in cps[1:]:
        check(c["verified"] is True and c["problem"] is None
              and c["offsets"] == {"0": ends[c["batch"] * BATCH]} and c["bytes"] > 0
              and c["time_ms"] > 1.6e12, "snapshot %s" % c)
    check([c["batch"] for c in cps[1:]] == [9, 12, 15], "kept snapshots")
    check(cps[3]["time_ms"] == live["time_ms"], "snapshot 15 carries batch 15's time")
    ins = jrun("inspect", ck, "--batch", "14")
    check(ins["committed"]["batch"] == 15 and ins["committed"]["records"] == N
          and ins["committed"]["offsets"] == {"0": ends[N]}
          and ins["committed"]["sink"] == {"kind": "file", "batch": 15}
          and ins["committed"]["sink_markers"] == [{"kind": "file", "batch": 15}],
          str(ins["committed"]))
    check(ins["plan"] == {"batch": 14, "time_ms": ins["plan"]["time_ms"], "committed": True,
                          "ranges": [{"partition": 0, "from": ends[13 * BATCH],
                                      "to": ends[14 * BATCH]}]}, str(ins["plan"]))
    check("key       merchant" in ins["job_spec"] and len(ins["spec_hash"]) == 16, "spec")
    segs = sorted(os.listdir(ck + "/wal"))
    check([s["name"] for s in ins["wal_segments"]] == segs and all(
        s["bytes"] == os.path.getsize(os.path.join(ck, "wal", s["name"]))
        for s in ins["wal_segments"]), "wal segments %s" % ins["wal_segments"])
    check(jrun("inspect", ck)["plan"]["batch"] == 15, "inspect shows the newest PLAN")
    one_line_error(("inspect", ck, "--batch", "3"), 1, "no PLAN of batch 3")
    wal = jrun("wal", ck)
    mine = [(s, o, b, n) for s, o, t, b, n in wal_records(ck) if t == 1]
    got = [(r["segment"], r["offset"], r["batch"], r["bytes"]) for r in wal["records"]]
    check(got == mine and all(r["type"] == "PLAN" and r["checksum"] == "ok"
                              for r in wal["records"]) and wal["damage"] is None,
          "wal records %s vs %s" % (got, mine))
    # the WAL keeps the PLANs after the oldest snapshot (9): 10..15 at least
    batches = [r["batch"] for r in wal["records"]]
    check(batches == list(range(batches[0], 16)) and batches[0] <= 10 and len(segs) > 1,
          "WAL after pruning: %s in %s" % (batches, segs))
    part = jrun("wal", ck, "--from", "11", "--to", "12")
    check([r["batch"] for r in part["records"]] == [11, 12], "wal --from --to")
    rc, out, _ = ember("checkpoints", ck)
    check(rc == 0 and out.splitlines()[0].split()[:2] == ["kind", "batch"] and "yes" in out,
          "checkpoints table: %s" % out)


def test_diff_against_recount():
    d, rows, _ = make_checkpoint()
    before, after = counts(rows[:12 * BATCH]), counts(rows[:15 * BATCH])
    diff = jrun("diff", d + "/ckpt", "12", "15")
    added = {c["key"]: c for c in diff["changes"] if c["change"] == "added"}
    changed = {c["key"]: c for c in diff["changes"] if c["change"] == "changed"}
    check(set(added) == set(after) - set(before), "added keys")
    want_changed = {k for k in before if after[k] != before[k]}
    check(set(changed) == want_changed and diff["removed"] == 0, "changed keys")
    check(diff["added"] == len(added) and diff["changed"] == len(changed), "diff totals")
    for k, c in changed.items():
        check(c["old"]["count"] == before[k][0] and c["new"]["count"] == after[k][0]
              and close(c["new"]["sum_amount"], after[k][1]) and c["new"]["merchant"] == k,
              "%s: %s" % (k, c))
    for k, c in added.items():
        check(c["old"] is None and c["new"]["count"] == after[k][0], "added %s" % c)
    back = jrun("diff", d + "/ckpt", "15", "9")
    check(back["added"] == 0 and back["removed"] == len(set(after) - set(counts(rows[:9 * BATCH]))),
          "diff backwards removes the keys added since")
    same = jrun("diff", d + "/ckpt", "15", "live")
    check(same["changes"] == [] and same["changed"] == 0, "snapshot 15 equals live")
    rc, out, _ = ember("diff", d + "/ckpt", "12", "15")
    check(rc == 0 and out.strip().endswith("%d added, 0 removed, %d changed"
                                           % (len(added), len(changed))), "diff table")
    one_line_error(("diff", d + "/ckpt", "12", "15", "--op", "nope"), 1, "no operator 'nope'")
    one_line_error(("diff", d + "/ckpt", "7", "15"), 1, "snapshot 7")


def test_diff_of_windowed_state():
    """Windowed keys carry a binary window suffix: diff prints the key fields,
    and A + diff(A, B) == B for the state `ember state` reads."""
    d = tmpdir("tools-win")
    gen_file("transactions", 8000, 3, d + "/in.csv")
    write(d + "/w.job", f"""job win
batch      interval=1ms max-records=1000
checkpoint dir={d}/ckpt every=2 keep=3
source     file path={d}/in.csv
parse      csv fields=card,merchant,amount:float,ts:int
key        merchant
window     tumbling 1s on ts watermark 300ms
aggregate  count() sum(amount)
sink       file dir={d}/out
""")
    ember("run", d + "/w.job", "--until-idle", check_rc=0)
    ck = d + "/ckpt"

    def panes(*extra):
        return {(r["merchant"], r["window_start"]): r for r in state_json(ck, "aggregate", *extra)}

    a, b = panes("--snapshot", "4"), panes("--snapshot", "8")
    diff = jrun("diff", ck, "4", "8")
    for c in diff["changes"]:
        row = c["new"] or c["old"]
        check(c["key"] == row["merchant"] and c["key"].isprintable(), "key %r" % c["key"])
        pane = (c["key"], row["window_start"])
        if c["change"] == "removed":
            check(a.pop(pane) == c["old"], "removed %s" % c)
        else:
            check(a.get(pane) == c["old"], "old value of %s" % c)
            a[pane] = c["new"]
    check(a == b and diff["removed"] > 0 and diff["added"] > 0,
          "snapshot 4 + diff == snapshot 8 (%d panes)" % len(b))
    timers = jrun("diff", ck, "4", "8", "--op", "timers")
    check(timers["added"] + timers["removed"] > 0 and all(
        c["key"].isprintable() for c in timers["changes"]), "raw diff of timers")


def test_verify_and_damage():
    d, _, _ = make_checkpoint()
    ck = d + "/ckpt"
    v = jrun("verify", ck)
    check(v["sound"] is True and v["problems"] == [] and len(v["notes"]) >= 5, str(v))
    # torn WAL tail: half a header at the end of the last segment
    seg = sorted(os.listdir(ck + "/wal"))[-1]
    size = os.path.getsize(os.path.join(ck, "wal", seg))
    with open(os.path.join(ck, "wal", seg), "ab") as f:
        f.write(b"\x20\x00\x00")
    w = jrun("wal", ck)
    check(w["damage"] == {"kind": "torn", "segment": seg, "offset": size,
                          "reason": w["damage"]["reason"]}, str(w["damage"]))
    check(w["records"][-1]["batch"] == 15, "records before the torn tail are listed")
    v = jrun("verify", ck)
    check(v["sound"] is True and any("torn" in n for n in v["notes"]), "a torn tail is a note")
    # one flipped byte in snapshot 12, snapshot 9 without its MANIFEST
    snap = ck + "/snapshots/%020d/db" % 12
    sst = sorted(f for f in os.listdir(snap) if f.endswith(".sst"))[0]
    flip_byte(os.path.join(snap, sst), 10)
    os.unlink(ck + "/snapshots/%020d/MANIFEST" % 9)
    rc, out, _ = ember("verify", ck)
    problems = [l for l in out.splitlines() if l.startswith("problem:")]
    check(rc == 1 and len(problems) == 2 and "snapshot 12" in problems[1] and sst in problems[1]
          and "snapshot 9" in problems[0] and "MANIFEST" in problems[0]
          and out.splitlines()[-1] == "DAMAGED", "verify: %d %s" % (rc, out))
    cps = {c["batch"]: c for c in jrun("checkpoints", ck, rc=1) if c["kind"] == "snapshot"}
    check(cps[12]["verified"] is False and sst in cps[12]["problem"]
          and cps[9]["verified"] is False and cps[15]["verified"] is True
          and cps[15]["problem"] is None, "checkpoints flags the damaged snapshots")
    one_line_error(("diff", ck, "12", "15"), 1, "snapshot 12", sst)
    one_line_error(("restore", ck, "--batch", "12"), 1, "snapshot 12", "nothing restored")


def test_wal_damage():
    d, _, _ = make_checkpoint()
    ck = d + "/ckpt"
    recs = {b: (s, o, n) for s, o, t, b, n in wal_records(ck)}
    # the PLAN of batch 11 cut out of its segment: a gap after the oldest snapshot
    gap = d + "/gap"
    shutil.copytree(ck, gap, symlinks=True)
    seg, off, n = recs[11]
    path = os.path.join(gap, "wal", seg)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:off] + data[off + WAL_HEADER.size + n:])
    v = jrun("verify", gap, rc=1)
    check(len(v["problems"]) == 1 and "PLAN of batch 12 follows batch 10" in v["problems"][0],
          str(v))
    one_line_error(("restore", gap, "--batch", "9"), 1, "wal", "could not replay")
    ember("restore", gap, "--batch", "12", check_rc=0)  # the PLANs after 12 are whole
    # the segment holding batch 10 gone: the live state (15) needs no PLAN before 16, but
    # a fallback to snapshot 9 could not replay: damage, not sound (issue 19)
    head = d + "/head"
    shutil.copytree(ck, head, symlinks=True)
    os.unlink(os.path.join(head, "wal", recs[10][0]))
    v = jrun("verify", head, rc=1)
    check(len(v["problems"]) == 1 and "snapshot 9 could not replay" in v["problems"][0], str(v))
    one_line_error(("restore", head, "--batch", "9"), 1, "first PLAN after batch 9 is of batch")
    # a flipped checksum byte in the PLAN of batch 13: corrupt, nothing after it read
    seg, off, n = recs[13]
    flip_byte(os.path.join(ck, "wal", seg), off + 13)
    w = jrun("wal", ck, rc=1)
    check(w["damage"]["kind"] == "corrupt" and w["damage"]["segment"] == seg
          and w["damage"]["offset"] == off and "checksum" in w["damage"]["reason"]
          and w["records"][-1]["batch"] == 12, "corrupt record: %s" % w["damage"])
    rc, out, _ = ember("wal", ck)
    check(rc == 1 and "CORRUPT" in out, "wal table flags the record: %s" % out)
    v = jrun("verify", ck, rc=1)
    check(any("corrupt record" in p and seg in p for p in v["problems"]), str(v))
    # no WAL directory at all: one line from wal, a problem for verify
    shutil.rmtree(ck + "/wal")
    one_line_error(("wal", ck), 1, ck + "/wal")
    check(any("wal" in p for p in jrun("verify", ck, rc=1)["problems"]), "verify without wal/")


def test_live_state_deleted():
    d, rows, _ = make_checkpoint()
    ck = d + "/ckpt"
    shutil.rmtree(ck + "/db")
    cps = jrun("checkpoints", ck, rc=1)
    check(cps[0]["kind"] == "live" and ck + "/db" in cps[0]["problem"]
          and [c["verified"] for c in cps[1:]] == [True] * 3, "checkpoints: %s" % cps)
    _, out, err = ember("inspect", ck, "--format", "json", check_rc=1)
    ins = json.loads(out)
    check(ins["committed"] is None and ins["plan"]["committed"] is None
          and len(err.strip().splitlines()) == 1 and ck + "/db" in err, "inspect: %s" % err)
    v = jrun("verify", ck, rc=1)
    check(len(v["problems"]) == 1 and "db" in v["problems"][0], str(v))
    one_line_error(("diff", ck, "12", "live"), 1, ck + "/db")
    # restore rebuilds the live state from snapshot 12; the next run replays 13..15
    ember("restore", ck, "--batch", "12", check_rc=0)
    check(jrun("verify", ck)["sound"], "sound after the restore")
    err = run_job(d)
    check("committed batch 12 found" in err and "replayed 3 batches" in err, err)
    check(same_counts(state_counts(ck), counts(rows)), "state after the replay")


def test_restore_then_run_continues():
    d, rows, _ = make_checkpoint()
    ck = d + "/ckpt"
    last_batch_file = out_file(15)
    with open(ck + "/LOCK", "a") as lock:  # a running job holds the lock
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        one_line_error(("restore", ck, "--batch", "12"), 2, "in use by another ember process")
    check(jrun("inspect", ck)["committed"]["batch"] == 15, "a refused restore changes nothing")
    # the oldest snapshot: the WAL must still plan every batch after it
    _, out, _ = ember("restore", ck, "--batch", "9", check_rc=0)
    check("replays batches 10..15" in out and "deleted 2 snapshots newer than batch 9" in out, out)
    check([c["batch"] for c in jrun("checkpoints", ck)] == [9, 9], "only snapshot 9 is left")
    check(same_counts(state_counts(ck), counts(rows[:9 * BATCH])), "restored state = batches 1..9")
    check(jrun("inspect", ck)["committed"]["batch"] == 9 and jrun("verify", ck)["sound"],
          "inspect and verify after the restore")
    err = run_job(d)
    check("replayed 6 batches" in err, "the run replays 10..15 from the WAL: %s" % err)
    check(same_counts(state_counts(ck), counts(rows)), "state after the replay")
    check(out_file(15) == last_batch_file, "replayed batch 15 wrote the same bytes")
    check([c["batch"] for c in jrun("checkpoints", ck)] == [15, 9, 12, 15],
          "the replay took snapshots 12 and 15 again")
    # without the WAL the next run reads on from the snapshot's offsets
    ember("restore", ck, "--batch", "12", check_rc=0)
    shutil.rmtree(ck + "/wal")
    _, out, _ = ember("restore", ck, "--batch", "12", check_rc=0)
    check("continues from these offsets" in out, out)
    err = run_job(d)
    check("replayed" not in err, "nothing to replay: %s" % err)
    check(same_counts(state_counts(ck), counts(rows)), "state after reading on from offsets")
    one_line_error(("restore", ck, "--batch", "7"), 1, "no snapshot 7")


def test_restore_then_losing_the_live_state():
    """After a restore to B, recovery may only fall back to B or what the
    replay snapshots again, never to an older run's newer snapshot: the
    dead-letter file (cut back to B's committed length by the next run) must
    end up holding every bad line once, and the state the recount."""
    d = tmpdir("tools-dl")
    _, rows, _ = make_checkpoint()
    lines = ["bad line %d" % i if i % 50 == 0 else ",".join(r) for i, r in enumerate(rows[:6000])]
    write(d + "/in.csv", "\n".join(lines) + "\n")
    write(d + "/d.job", f"""job dl
batch      interval=1ms max-records=500
checkpoint dir={d}/ckpt every=3 keep=3
source     file path={d}/in.csv
parse      csv fields=card,merchant,amount:float,ts:int on-error=dead-letter:{d}/dead.txt
key        merchant
aggregate  count() sum(amount)
sink       file dir={d}/out
""")
    ember("run", d + "/d.job", "--until-idle", check_rc=0)
    _, out, _ = ember("restore", d + "/ckpt", "--batch", "6", check_rc=0)
    check("deleted 2 snapshots newer than batch 6" in out, out)
    # killed after replaying two batches, then the live state is lost
    rc, _, _ = ember("run", d + "/d.job", "--until-idle",
                     env={"EMBER_FAILPOINTS": "recovery.mid_replay=crash@2"})
    check(rc == -signal.SIGKILL, "the replay was killed: %d" % rc)
    shutil.rmtree(d + "/ckpt/db")
    _, _, err = ember("run", d + "/d.job", "--until-idle", check_rc=0)
    check("restoring snapshot 6" in err, err)
    with open(d + "/dead.txt") as f:
        dead = [l.split("\t")[-1] for l in f.read().split("\n")[:-1]]
    check(dead == [l for l in lines if l.startswith("bad")], "dead letters: %s" % dead[:3])
    good = [r for i, r in enumerate(rows[:6000]) if i % 50]
    check(same_counts(state_counts(d + "/ckpt"), counts(good)), "state after the fallback")


def test_restore_killed_at_every_step():
    """kill -9 at each rename of restore and at its first and last fsyncs:
    DIR/db is the old live state (batch 15) or snapshot 12, no snapshot is
    newer than it, and the next run recovers."""
    d, rows, _ = make_checkpoint()
    ck, pristine = d + "/ckpt", _fixture[0] + "/ckpt"
    stats = d + "/fp-stats"
    ember("restore", ck, "--batch", "12", check_rc=0,
          env={"EMBER_FAILPOINTS": "io.fsync=delay(0)", "EMBER_FAILPOINT_STATS": stats})
    with open(stats) as f:
        hits = dict((l.split("\t")[0], int(l.split("\t")[1])) for l in f.read().splitlines())
    fsyncs = hits["io.fsync"]
    seen = {}
    for point, n in [("io.rename", i) for i in range(1, hits["io.rename"] + 1)] + [
            ("io.fsync", 1), ("io.fsync", fsyncs - 1), ("io.fsync", fsyncs)]:
        shutil.rmtree(ck)
        shutil.copytree(pristine, ck, symlinks=True)
        rc, _, _ = ember("restore", ck, "--batch", "12",
                         env={"EMBER_FAILPOINTS": "%s=crash@%d" % (point, n)})
        check(rc == -signal.SIGKILL, "%s@%d: exit %d" % (point, n, rc))
        cps = jrun("checkpoints", ck)
        batch = cps[0]["batch"]
        check(batch in (12, 15) and all(c["batch"] <= batch for c in cps[1:]),
              "%s@%d: live state of batch %s, snapshots %s" % (point, n, batch, cps[1:]))
        seen[batch] = (point, n)
    check(set(seen) == {12, 15}, "crashes before and after the exchange: %s" % seen)
    # the last crash left the restored state and its staging directory
    check(os.path.isdir(ck + "/db.restoring"), "crashed before removing the staging copy")
    run_job(d)
    check(not os.path.exists(ck + "/db.restoring") and sorted(os.listdir(ck + "/snapshots")) ==
          sorted(os.listdir(pristine + "/snapshots")), "the run cleans up, snapshots rebuilt")
    check(same_counts(state_counts(ck), counts(rows)), "state after a crashed restore and a run")


def test_while_a_job_runs():
    """Every read-only command works on the directory of a running job;
    restore refuses."""
    d = tmpdir("tools-live")
    write(d + "/g.job", f"""job live
batch      interval=100ms max-records=5000
checkpoint dir={d}/ckpt every=4 keep=4
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
        # the newest two snapshots outlive the next two (keep=4, one per 0.4 s)
        diff = jrun("diff", d + "/ckpt", str(snaps[-2]), str(snaps[-1]))
        check(diff["changed"] + diff["added"] > 0 and diff["removed"] == 0, "diff while running")
        check(jrun("inspect", d + "/ckpt")["committed"]["batch"] >= snaps[-1], "inspect")
        check(jrun("verify", d + "/ckpt")["sound"] is True, "verify while running")
        check(jrun("wal", d + "/ckpt")["records"], "wal while running")
        one_line_error(("restore", d + "/ckpt", "--batch", str(snaps[-1])), 2,
                       "in use by another ember process")
        check(p.poll() is None, "the job kept running")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    check(p.returncode == 0, "SIGTERM ends the job cleanly")
    # generator offsets are sequence numbers: one merchant count per record
    for c in jrun("checkpoints", d + "/ckpt"):
        extra = ("--snapshot", str(c["batch"])) if c["kind"] == "snapshot" else ()
        total = sum(r["count"] for r in state_json(d + "/ckpt", "aggregate", *extra))
        check(c["offsets"] == {"0": total} and total > 0, "offsets of %s: %d records" % (c, total))
        if c["kind"] == "live":
            committed = jrun("inspect", d + "/ckpt")["committed"]["records"]
            check(committed == total, "%d records committed, %d counted" % (committed, total))


def test_bad_arguments_and_directories():
    d = tmpdir("tools-bad")
    write(d + "/file", "x")
    cmds = ("checkpoints", "inspect", "wal", "verify", "restore", "diff")
    for i, cmd in enumerate(cmds):
        extra = ("--batch", "1") if cmd == "restore" else ("1", "live") if cmd == "diff" else ()
        one_line_error((cmd, d) + extra, 1, "not an ember checkpoint", d)
        bad = (d + "/missing", "No such file") if i % 2 else (d + "/file", "not a directory")
        one_line_error((cmd, bad[0]) + extra, 1, *bad)
        rc, out, _ = ember(cmd, "--help")
        check(rc == 0 and out.startswith("usage: ember " + cmd), "%s --help" % cmd)
        one_line_error((cmd, d, "--bogus") + extra, 2, "unknown option '--bogus'")
    one_line_error(("verify", d, "--format", "xml"), 2, "--format takes table or json")
    one_line_error(("restore", d), 2, "needs --batch")
    one_line_error(("diff", d, "1"), 2, "needs 1 more argument")
    one_line_error(("wal", d, "--from", "5", "--to", "2"), 2, "--from 5 is after --to 2")
    one_line_error(("inspect", d, "--batch", "x"), 2, "--batch needs a number")
    one_line_error(("diff", d, "x", "live"), 2, "'x' is neither a snapshot batch nor 'live'")


def test_unreadable_files():
    """Run as an unprivileged user: each unreadable part gets one line naming it."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("  (skipped: needs root and setpriv to act as another user)")
        return
    d, _, _ = make_checkpoint("tools-perm")
    os.chmod(d, 0o755)
    ck = d + "/ckpt"
    for root, dirs, files in os.walk(ck):
        for x in dirs + files:
            os.chmod(os.path.join(root, x), 0o755 if x in dirs else 0o644)
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", EMBER)

    def as_nobody(*args):
        p = subprocess.run(nobody + args, capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def fails(path, mode, args, *words):
        os.chmod(path, mode)
        try:
            rc, out, err = as_nobody(*args)
        finally:
            os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
        check(rc == 1 and len(err.strip().splitlines()) <= 1 and all(
            w in err + out for w in words), "%s: %d %r %r" % (args, rc, out[-500:], err))
        return out

    check(as_nobody("verify", ck)[0] == 0, "a readable checkpoint verifies as nobody")
    for cmd in ("checkpoints", "inspect", "wal", "verify", "diff"):
        extra = ("9", "12") if cmd == "diff" else ()
        fails(ck, 0o700, (cmd, ck) + extra, ck + ": Permission denied")
    fails(ck + "/JOB", 0o600, ("checkpoints", ck), ck + "/JOB: Permission denied")
    out = fails(ck + "/db", 0o700, ("checkpoints", ck, "--format", "json"))
    check(json.loads(out)[0]["problem"] == ck + "/db: Permission denied", out)
    fails(ck + "/wal", 0o700, ("wal", ck), ck + "/wal", "Permission denied")
    snap = ck + "/snapshots/%020d" % 12
    fails(snap, 0o700, ("verify", ck), snap, "Permission denied")
    fails(ck, 0o555, ("restore", ck, "--batch", "12"), ck + "/LOCK", "Permission denied")


if __name__ == "__main__":
    main([test_checkpoints_inspect_wal, test_diff_against_recount, test_diff_of_windowed_state,
          test_verify_and_damage, test_wal_damage, test_live_state_deleted,
          test_restore_then_run_continues, test_restore_then_losing_the_live_state,
          test_restore_killed_at_every_step,
          test_while_a_job_runs, test_bad_arguments_and_directories, test_unreadable_files])
