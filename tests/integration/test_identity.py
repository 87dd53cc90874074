"""Output identity (issue 19 items 9-11): a sink's output belongs to one
checkpoint, a second copy of a job stops, consumer-group offsets reach the
group after another client used it.

Every checkpoint directory has an id (DIR/ID); the file sink marks its
directory with it (DIR/.ember-checkpoint), the kafka sink its markers and
rows (ckpt=ID, header ember.checkpoint). Real `ember run` processes against
`ember broker`; outputs are checked against oracles computed here from the
inputs (the WAL's PLAN records give the Kafka batch boundaries).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ckpt as ckpt_reader  # noqa: E402 (tests/ckpt.py: the WAL and checkpoint reader)
from harness import (EMBER, batch_files, check, ember, gen_file, main, read_csv, tmpdir,
                     write)
from test_kafka import (Broker, expected_batches, kafka_job, kcat, no_sanitizer_report,
                        produce, read_input)


def ckpt_id(ckpt):
    m = re.search(r"^id ([0-9a-f]{32})$", open(ckpt + "/ID").read(), re.M)
    check(m, "%s/ID has no id" % ckpt)
    return m.group(1)


def file_job(d, path, name="fj", extra_sink=""):
    write(d + "/f.job", f"""job {name}
batch      max-records=1000
checkpoint dir={d}/ckpt
source     file path={path}
parse      csv fields=sensor,ts:int,temp:float
key        sensor
aggregate  count() sum(temp)
sink       file dir={d}/out {extra_sink}
""")
    return d + "/f.job"


def expected_file_batches(rows, per_batch=1000):
    """{batch: {sensor: count}} of the keys each batch of `per_batch` rows changed."""
    counts, out = {}, {}
    for i in range(0, len(rows), per_batch):
        changed = {}
        for r in rows[i:i + per_batch]:
            counts[r[0]] = counts.get(r[0], 0) + 1
            changed[r[0]] = counts[r[0]]
        out[i // per_batch + 1] = changed
    return out


def got_file_batches(out):
    return {b: {r[0]: int(r[1]) for r in rows} for b, _, rows in batch_files(out)}


def dir_bytes(out):
    return {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out))}


# ------------------------------------------------------------ item 9, file sink

def test_file_sink_fresh_checkpoint_refuses_old_output():
    """A re-run of a smaller input with a new --dir (or after deleting the
    checkpoint) must not leave stale batch files beside new ones."""
    d = tmpdir("id-file")
    gen_file("sensors", 5000, 3, d + "/big.csv")
    lines = open(d + "/big.csv").read().splitlines(True)
    write(d + "/small.csv", "".join(lines[:2000]))
    job = file_job(d, d + "/big.csv")
    ember("run", job, "--until-idle", check_rc=0)
    check(sorted(got_file_batches(d + "/out")) == [1, 2, 3, 4, 5], "first run: 5 batches")
    old = dir_bytes(d + "/out")

    job = file_job(d, d + "/small.csv")
    for how in ("--dir", "rm"):
        if how == "rm":
            shutil.rmtree(d + "/ckpt")  # what the layout-change message suggests
            args = []
        else:
            args = ["--dir", d + "/ck2"]
        rc, _, err = ember("run", job, "--until-idle", *args)
        check(rc == 2, "%s: a fresh checkpoint over old output: exit %d: %s" % (how, rc, err[-800:]))
        if how == "--dir":
            first_id = ckpt_id(d + "/ckpt")
            check("checkpoint %s\n" % first_id in old[".ember-checkpoint"].decode(),
                  "out/.ember-checkpoint does not name the checkpoint")
        line = [l for l in err.splitlines() if l.startswith("ember run:")]
        check(len(line) == 1 and "another checkpoint" in line[0] and "--reset-output" in line[0]
              and first_id[:8] in line[0], "%s: refusal message: %s" % (how, err[-800:]))
        check(dir_bytes(d + "/out") == old, "%s: the refused run changed out/" % how)

    rc, _, err = ember("run", job, "--until-idle", "--reset-output", check_rc=0)
    aside = glob.glob(d + "/out.*")
    check(len(aside) == 1 and dir_bytes(aside[0]) == old,
          "--reset-output: old output not moved aside whole: %s" % aside)
    check("moved" in err and aside[0] in err, "no line about the move: " + err[-800:])
    want = expected_file_batches(read_csv(d + "/small.csv"))
    got = got_file_batches(d + "/out")
    check(sorted(got) == [1, 2], "new out/ holds batches %s, not 1-2 only" % sorted(got))
    check(got == want, "new out/ differs from the small input's oracle")
    new_id = ckpt_id(d + "/ckpt")
    check(new_id != first_id, "a fresh checkpoint reused the old id")
    check(new_id in open(d + "/out/.ember-checkpoint").read(), "new out/ not marked")
    # The same command line again (a restart): out/ is this checkpoint's now.
    rc, _, err = ember("run", job, "--until-idle", "--reset-output", check_rc=0)
    check(len(glob.glob(d + "/out.*")) == 1 and "nothing to reset" in err,
          "a second --reset-output moved this checkpoint's own output: " + err[-500:])


def test_file_sink_mark_cases():
    """Unmarked batch files of a checkpoint that committed them are its own
    (written before ids); a damaged mark and a damaged ID are refused with
    what to do; unrelated files survive --reset-output."""
    d = tmpdir("id-mark")
    gen_file("sensors", 3000, 5, d + "/in.csv")
    job = file_job(d, d + "/in.csv")
    ember("run", job, "--until-idle", check_rc=0)
    check(os.path.exists(d + "/out/.ember-checkpoint"), "out/ has no owner mark")
    os.unlink(d + "/out/.ember-checkpoint")
    with open(d + "/in.csv", "a") as f:
        f.write("s0001,1700000009999,1.5\n")
    rc, _, err = ember("run", job, "--until-idle")
    check(rc == 0 and "before checkpoint ids" in err, "legacy output: exit %d: %s" % (rc, err[-600:]))
    check(ckpt_id(d + "/ckpt") in open(d + "/out/.ember-checkpoint").read(), "mark not rewritten")

    mark = d + "/out/.ember-checkpoint"
    text = open(mark).read()
    write(mark, text.replace("job fj", "job fk"))  # checksum no longer matches
    rc, _, err = ember("run", job, "--until-idle")
    check(rc == 2 and "damaged" in err and "--reset-output" in err,
          "damaged mark: exit %d: %s" % (rc, err[-600:]))
    write(mark, text)

    idf = d + "/ckpt/ID"
    good = open(idf).read()
    write(idf, good.replace(good[4:5], "X" if good[4:5] != "X" else "Y", 1))
    rc, _, err = ember("run", job, "--until-idle")
    check(rc == 1 and "ID is damaged" in err and "--reset-output" in err,
          "damaged ID: exit %d: %s" % (rc, err[-600:]))
    rc, out, err = ember("inspect", d + "/ckpt")
    check(rc == 1 and "ID is damaged" in err, "inspect over a damaged ID: exit %d %s" % (rc, err))
    write(d + "/out/notes.txt", "mine\n")
    rc, _, err = ember("run", job, "--until-idle", "--reset-output")
    check(rc == 0, "damaged ID, --reset-output: exit %d: %s" % (rc, err[-600:]))
    aside = glob.glob(d + "/out.*")
    check(len(aside) == 1 and os.path.exists(aside[0] + "/000000000001.tsv")
          and open(d + "/out/notes.txt").read() == "mine\n"
          and not os.path.exists(aside[0] + "/notes.txt"),
          "batch files moved aside, the user's file kept: %s %s" % (
              aside, os.listdir(d + "/out")))
    check(ckpt_id(d + "/ckpt") not in good, "the damaged ID was not replaced")


def test_file_sink_second_copy_stops():
    """A second copy of the job that takes the directory over (--reset-output)
    stops the first one at its next commit."""
    d = tmpdir("id-file2")
    write(d + "/g.job", f"""job gj
batch      interval=100ms max-records=100
checkpoint dir={d}/a
source     generator kind=sensors count=100000 rate=1000
parse      csv fields=sensor,ts:int,temp:float
key        sensor
aggregate  count()
sink       file dir={d}/out
""")
    a = subprocess.Popen([EMBER, "run", d + "/g.job"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not glob.glob(d + "/out/*.tsv"):
            time.sleep(0.1)
        rc, _, err = ember("run", d + "/g.job", "--dir", d + "/b", "--batches", "3")
        check(rc == 2 and "another checkpoint" in err, "second copy started: exit %d %s" % (
            rc, err[-500:]))
        ember("run", d + "/g.job", "--dir", d + "/b", "--batches", "3", "--reset-output",
              check_rc=0)
        _, err = a.communicate(timeout=60)
    finally:
        if a.poll() is None:
            a.kill()
            a.communicate()
    check(a.returncode == 1 and "took" in err and "over" in err,
          "first copy: exit %d: %s" % (a.returncode, err[-800:]))
    no_sanitizer_report(err)
    check(sorted(got_file_batches(d + "/out")) == [1, 2, 3], "out/ is the second copy's")


# ------------------------------------------------------------ item 9, kafka sink

def output_of(addr, topic, job, ckpt):
    """{batch: sorted [(key, count)]} of the rows checkpoint `ckpt` wrote."""
    out = {}
    for line in kcat(addr, topic, "%h|%k|%s\\n").splitlines():
        headers, key, value = line.split("|", 2)
        h = dict(x.split("=", 1) for x in headers.split(","))
        if h.get("ember.job") != job or h.get("ember.checkpoint") != ckpt:
            continue
        k, c = value.split("\t")
        out.setdefault(int(h["ember.batch"]), []).append((k, int(c)))
    return {b: sorted(rows) for b, rows in out.items()}


def markers_of(addr, topic, job, ckpt):
    seen = []
    for line in kcat(addr, topic + ".ember-markers", "%k|%s\\n").splitlines():
        key, value = line.split("|", 1)
        if key == job and ("ckpt=%s" % ckpt) in value.split():
            seen.append(int(value.split()[0].split("=")[1]))
    return seen


def check_checkpoint_output(addr, ckpt, job):
    """The rows of checkpoint ckpt equal the oracle for every batch it
    planned; one marker per batch."""
    ident = ckpt_id(ckpt)
    plans = ckpt_reader.wal_ranges(ckpt)
    want, _ = expected_batches(read_input(addr, "in"), plans)
    got = output_of(addr, "out", job, ident)
    check(sorted(got) == sorted(want), "%s: batches %s in the topic, %s planned" % (
        ckpt, sorted(got)[:8], sorted(want)[:8]))
    for b in want:
        check(got[b] == want[b], "%s batch %d differs from the oracle" % (ckpt, b))
    m = [b for b in markers_of(addr, "out", job, ident) if b > 0]
    check(sorted(m) == sorted(want), "%s: markers %s" % (ckpt, sorted(m)[:10]))


def test_kafka_fresh_checkpoint_not_suppressed():
    """A fresh checkpoint with the same job name: refused while the topic
    holds the old run's markers; with --reset-output it writes every batch
    (before: `holds batches up to 4`, nothing written, exit 0)."""
    d = tmpdir("id-kafka")
    b = Broker("in:2")
    try:
        produce(b.addr, "in", 4000, 21)
        job = kafka_job(d, b.addr, name="fj", max_records=1000)
        ember("run", job, "--until-idle", check_rc=0, timeout=120)
        rc, _, err = ember("run", job, "--until-idle", "--dir", d + "/ck2", timeout=120)
        check(rc == 2 and "another checkpoint" in err and "--reset-output" in err,
              "fresh checkpoint over old markers: exit %d: %s" % (rc, err[-800:]))
        check_checkpoint_output(b.addr, d + "/ckpt", "fj")
        check(not output_of(b.addr, "out", "fj", ckpt_id(d + "/ck2")), "refused run wrote rows")
        rc, _, err = ember("run", job, "--until-idle", "--dir", d + "/ck2", "--reset-output",
                           timeout=120)
        check(rc == 0, "--reset-output: exit %d: %s" % (rc, err[-800:]))
        no_sanitizer_report(err)
        check_checkpoint_output(b.addr, d + "/ck2", "fj")
        check_checkpoint_output(b.addr, d + "/ckpt", "fj")  # the old rows are still there
        # The old checkpoint no longer owns the topic's sequence.
        produce(b.addr, "in", 500, 22)
        rc, _, err = ember("run", job, "--until-idle", timeout=120)
        check(rc == 2 and "another checkpoint" in err, "old checkpoint after the reset: exit %d %s"
              % (rc, err[-600:]))
        rc, _, err = ember("run", job, "--until-idle", "--dir", d + "/ck2", timeout=120)
        check(rc == 0, "ck2 again: exit %d: %s" % (rc, err[-800:]))
        check_checkpoint_output(b.addr, d + "/ck2", "fj")
    finally:
        b.stop()


# ------------------------------------------------------------ item 10

def progress_in(ckpt):
    try:
        return len(open(ckpt + "/progress.jsonl").read().splitlines())
    except OSError:
        return 0


def test_two_copies_on_the_embedded_broker_stop():
    """Two copies of one job (two checkpoint directories) writing one topic on
    `ember broker`, which fences no transactional producer: ember's own
    markers give the second writer away and a copy stops with a message
    (before: both exit 0, rows and markers written twice)."""
    d = tmpdir("id-two")
    b = Broker("in:2")
    try:
        produce(b.addr, "in", 40000, 31)
        job = kafka_job(d, b.addr, name="tw", max_records=200, interval="50ms")
        ps = [subprocess.Popen([EMBER, "run", job, "--until-idle", "--dir", d + "/c%d" % i],
                               stderr=subprocess.PIPE, text=True) for i in (1, 2)]
        res = [p.communicate(timeout=180) for p in ps]
        rcs = [p.returncode for p in ps]
        errs = [r[1] for r in res]
        for e in errs:
            no_sanitizer_report(e)
        check(rcs != [0, 0], "both copies exited 0")
        stopped = [e for rc, e in zip(rcs, errs) if rc != 0]
        check(all(rc in (0, 1, 2) for rc in rcs), "exit codes %s" % rcs)
        check(any("another copy of job tw" in e or "another checkpoint" in e for e in stopped),
              "no clear message: %s" % [e[-600:] for e in stopped])

        # A runs; B is refused while A's markers are the newest; B with
        # --reset-output takes the topic over and A stops at its next batch.
        job = kafka_job(d, b.addr, name="tk", max_records=200, interval="50ms")
        a = subprocess.Popen([EMBER, "run", job, "--until-idle", "--dir", d + "/a"],
                             stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 30
            while time.time() < deadline and progress_in(d + "/a") < 3:
                time.sleep(0.1)
            check(a.poll() is None and progress_in(d + "/a") >= 3, "copy A did not run")
            rc, _, err = ember("run", job, "--until-idle", "--dir", d + "/b", timeout=120)
            check(rc == 2 and "another checkpoint" in err, "B while A runs: exit %d %s" % (
                rc, err[-600:]))
            rc, _, err = ember("run", job, "--until-idle", "--dir", d + "/b", "--reset-output",
                               timeout=180)
            check(rc == 0, "B with --reset-output: exit %d: %s" % (rc, err[-800:]))
            _, aerr = a.communicate(timeout=120)
        finally:
            if a.poll() is None:
                a.kill()
                a.communicate()
        check(a.returncode == 1 and "another copy of job tk" in aerr,
              "A after B took over: exit %d: %s" % (a.returncode, aerr[-800:]))
        no_sanitizer_report(aerr)
        check_checkpoint_output(b.addr, d + "/b", "tk")
    finally:
        b.stop()


# ------------------------------------------------------------ item 11

def group_offsets(addr, d, group):
    """The group's committed offsets, as a fresh job with group=G reads them."""
    p = tmpdir("id-probe")
    job = kafka_job(p, addr, name="probe", sink="file", source_extra="group=" + group)
    _, _, err = ember("run", job, "--until-idle", check_rc=0, timeout=120)
    return {int(m.group(1)): int(m.group(2)) for m in
            re.finditer(r"partition (\d+) starts at offset (\d+) \(committed by group", err)}


def checkpoint_offsets(ckpt):
    last = json.loads(open(ckpt + "/progress.jsonl").read().splitlines()[-1])
    return {int(p): o for p, o in last["offsets"].items()}


def other_consumer(addr, group, session_ms=None):
    """kcat in group G reads what is there and leaves the group."""
    args = ["kcat", "-b", addr, "-G", group, "in", "-e", "-q", "-f", "%p %o\\n"]
    if session_ms:
        args += ["-X", "session.timeout.ms=%d" % session_ms]
    p = subprocess.run(args, capture_output=True, text=True, timeout=90)
    check(p.returncode == 0, "kcat -G: %s" % p.stderr[-500:])


def test_group_offsets_after_another_consumer():
    """group=G after another client joined G and left: the job's offsets
    still reach G (before: `OffsetCommit ... Broker: Unknown member`, the
    group stayed behind the checkpoint)."""
    d = tmpdir("id-group")
    b = Broker("in:2")
    try:
        produce(b.addr, "in", 3000, 41)
        job = kafka_job(d, b.addr, name="gg", sink="file", source_extra="group=lag")
        ember("run", job, "--until-idle", check_rc=0, timeout=120)
        check(group_offsets(b.addr, d, "lag") == checkpoint_offsets(d + "/ckpt"), "first run")
        other_consumer(b.addr, "lag", session_ms=6000)
        produce(b.addr, "in", 1500, 42)
        rc, _, err = ember("run", job, "--until-idle", timeout=120)
        check(rc == 0, "run after the other consumer: exit %d: %s" % (rc, err[-800:]))
        check("Unknown member" not in err and "not committed" not in err,
              "group commit failed: " + err[-1000:])
        want = checkpoint_offsets(d + "/ckpt")
        check(sum(want.values()) == 4500, "checkpoint offsets %s" % want)
        got = group_offsets(b.addr, d, "lag")
        check(got == want, "group lag holds %s, the checkpoint %s" % (got, want))
    finally:
        b.stop()


def test_group_commit_failure_is_reported():
    """A commit that cannot reach the group before the job exits is reported
    in one line naming the offsets (before: the asynchronous result came
    after exit, and the failure was printed once in three runs)."""
    d = tmpdir("id-groupfail")
    b = Broker("in:2")
    try:
        produce(b.addr, "in", 2000, 51)
        job = kafka_job(d, b.addr, name="gf", sink="file", source_extra="group=lag timeout=2s")
        ember("run", job, "--until-idle", check_rc=0, timeout=120)
        # librdkafka's default session timeout (45 s): the mock keeps the
        # group rebalancing that long after kcat left, so the job cannot
        # join it within timeout=2s.
        other_consumer(b.addr, "lag")
        for i in range(3):
            produce(b.addr, "in", 300, 52 + i)
            rc, _, err = ember("run", job, "--until-idle", timeout=120)
            check(rc == 0, "run %d: exit %d: %s" % (i, rc, err[-600:]))
            lines = [l for l in err.splitlines() if "not committed" in l]
            want = checkpoint_offsets(d + "/ckpt")
            offs = " ".join("p%d=%d" % (p, want[p]) for p in sorted(want))
            check(len(lines) == 1 and "group lag" in lines[0] and offs in lines[0],
                  "run %d: failure not reported in one line naming %s:\n%s" % (i, offs,
                                                                              err[-1500:]))
    finally:
        b.stop()


# ------------------------------------------------------------ inspect

def test_inspect_shows_checkpoint_id():
    d = tmpdir("id-inspect")
    gen_file("sensors", 1500, 7, d + "/in.csv")
    ember("run", file_job(d, d + "/in.csv"), "--until-idle", check_rc=0)
    ident = ckpt_id(d + "/ckpt")
    _, out, _ = ember("inspect", d + "/ckpt", check_rc=0)
    check("checkpoint id: %s\n" % ident in out, "inspect text: " + out[-800:])
    _, out, _ = ember("inspect", d + "/ckpt", "--format", "json", check_rc=0)
    check(json.loads(out)["checkpoint_id"] == ident, "inspect json")
    os.unlink(d + "/ckpt/ID")
    _, out, _ = ember("inspect", d + "/ckpt", check_rc=0)
    check("checkpoint id: none" in out, "inspect without ID: " + out[-500:])
    _, out, _ = ember("inspect", d + "/ckpt", "--format", "json", check_rc=0)
    check(json.loads(out)["checkpoint_id"] is None, "inspect json without ID")


if __name__ == "__main__":
    main([test_file_sink_fresh_checkpoint_refuses_old_output, test_file_sink_mark_cases,
          test_file_sink_second_copy_stops, test_inspect_shows_checkpoint_id,
          test_kafka_fresh_checkpoint_not_suppressed, test_two_copies_on_the_embedded_broker_stop,
          test_group_offsets_after_another_consumer, test_group_commit_failure_is_reported])
