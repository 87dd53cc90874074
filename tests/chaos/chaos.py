"""Chaos suite: kills real `ember run` processes at random moments and at every
crash failpoint, injects I/O errors, tears the WAL, flips a byte in a snapshot,
deletes the live state, simulates power loss, changes the job between restarts,
and checks after every scenario that the final state and the union of the file
sink's output equal an oracle computed here in Python from the input: no
record lost, none counted twice.

The input carries per-key sequence numbers (key, seq, value), so besides the
totals the oracle checks that every key's recovered state is an exact prefix of
its input with no holes (max(seq) == count - 1) after every crash.

  make chaos [CRASHES=N] [SEED=S]     full run (default 300 crashes)
  make test                            runs `chaos.py --short` (>= 100 crashes)
  chaos.py --only kafka-kill-9,...     only the scenarios named (as printed)
kafka-kill-9 runs kafka -> aggregate -> exactly-once kafka sink against
`ember broker` and checks every batch of the output topic (read_committed).
scale-out runs three `ember run --instance` processes of a repartitioned job
and kills, crashes, stops and pauses them (see scenario_scale_out).
damage damages every file of a checkpoint directory in turn (and a seeded
sample of flips, cuts and deletions), checks that no inspection command exits
0 over the damage with anything but what it said before, and runs the job to
the end: the oracle, or one clear line and exit 1 (counts per outcome; the
short run stops after a minute).
Every run prints its seed; the same SEED reproduces the same choices.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ckpt  # noqa: E402 (tests/ckpt.py: the WAL and checkpoint reader)

EMBER = os.environ.get("EMBER", "build/ember")
SHORT = "--short" in sys.argv
# --only NAME[,NAME...]: just those scenarios (names as printed)
ONLY = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv[:-1] else []
CRASHES = int(os.environ.get("CRASHES") or (120 if SHORT else 300))
SEED = int(os.environ.get("SEED") or random.SystemRandom().randrange(1, 10**9))
rng = random.Random(SEED)

CRASH_POINTS = ["wal.after_append", "transform.after", "sink.before_commit", "sink.after_commit",
                "state.before_commit", "state.after_commit", "snapshot.mid_copy",
                "snapshot.before_rename", "snapshot.after_rename", "snapshot.prune",
                "wal.delete_segment", "recovery.mid_replay"]
IO_FAULTS = ["io.write=enospc", "io.write=eio", "io.write=short", "io.fsync=eio",
             "state.write=eio", "io.rename=eio"]


class Bad(Exception):
    pass


class Stats:
    def __init__(self, name):
        self.name, self.crashes, self.replayed, self.runs = name, 0, 0, 0
        self.hits = {}


class Dataset:
    """The input file and its oracle: per key, the count and sum of values."""

    def __init__(self, path, n_keys):
        self.path, self.n_keys = path, n_keys
        self.seqs = [0] * n_keys
        self.want = {}
        open(path, "w").close()

    def append(self, n_records):
        with open(self.path, "a") as f:
            for _ in range(n_records):
                k = rng.randrange(self.n_keys)
                v = rng.randrange(-1000, 1000)
                f.write("k%03d,%d,%d\n" % (k, self.seqs[k], v))
                c, s = self.want.get("k%03d" % k, (0, 0))
                self.want["k%03d" % k] = (c + 1, s + v)
                self.seqs[k] += 1


def write_job(d, max_records=rng.choice([150, 300, 500])):
    with open(d + "/c.job", "w") as f:
        f.write(f"""job chaos
batch      interval=1ms max-records={max_records}
checkpoint dir={d}/ckpt every=3 keep=2 wal-segment=2KB
source     file path={d}/in.csv
parse      csv fields=k,seq:int,v:int
key        k
aggregate  count() max(seq) sum(v)
sink       file dir={d}/out
""")
    return d + "/c.job"


def run(d, st, env=None, until_idle=True, timeout=300):
    e = dict(os.environ)
    e.pop("EMBER_FAILPOINTS", None)
    e["EMBER_FAILPOINT_STATS"] = d + "/fp.stats"
    e["EMBER_FAILPOINT_SEED"] = str(rng.randrange(1, 10**6))
    if env:
        e.update(env)
    args = [EMBER, "run", d + "/c.job"] + (["--until-idle"] if until_idle else [])
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=e)
    scan_stderr(p.stderr, st)
    st.runs += 1
    return p


def scan_stderr(err, st):
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "Segmentation"):
        if bad in err:
            raise Bad("sanitizer or crash report:\n" + err[-3000:])
    for line in err.splitlines():
        if line.startswith("recovery: replayed "):
            st.replayed += int(line.split()[2])


def kill_randomly(d, st, delay, data):
    e = dict(os.environ)
    e.pop("EMBER_FAILPOINTS", None)
    p = subprocess.Popen([EMBER, "run", d + "/c.job", "--until-idle"], stderr=subprocess.PIPE,
                         text=True, env=e)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    _, err = p.communicate()
    scan_stderr(err, st)
    st.runs += 1
    if p.returncode == -signal.SIGKILL:
        st.crashes += 1
    elif p.returncode == 0:
        data.append(3000)  # it finished first: give the next run more to do
    else:
        raise Bad("run exited %d: %s" % (p.returncode, err[-1500:]))


def state(d):
    p = subprocess.run([EMBER, "state", d + "/ckpt", "--op", "aggregate", "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Bad("ember state failed: " + p.stderr)
    return {o["k"]: o for o in json.loads(p.stdout)}


def sink_latest(d):
    latest = {}
    for name in sorted(os.listdir(d + "/out")):
        if ".tmp" in name or name.startswith("."):  # .ember-checkpoint: the owner mark
            continue
        text = open(os.path.join(d + "/out", name)).read()
        if not text.startswith("k\tcount\tmax_seq\tsum_v\n") or not text.endswith("\n"):
            raise Bad("batch file %s is not whole" % name)
        for line in text.splitlines()[1:]:
            r = line.split("\t")
            latest[r[0]] = (int(r[1]), int(r[2]), int(r[3]))
    return latest


def verify(d, want, st):
    got = state(d)
    lost = dup = 0
    for k, (c, s) in want.items():
        g = got.get(k, {"count": 0, "max_seq": -1, "sum_v": 0})
        if g["count"] < c:
            lost += c - g["count"]
        elif g["count"] > c:
            dup += g["count"] - c
        if g["count"] and g["max_seq"] != g["count"] - 1:
            raise Bad("key %s: count %d but max seq %d (a hole or a duplicate)" % (
                k, g["count"], g["max_seq"]))
        if g["count"] == c and g["sum_v"] != s:
            raise Bad("key %s: sum %d, oracle %d" % (k, g["sum_v"], s))
    sink = sink_latest(d)
    for k, g in got.items():
        if sink.get(k) != (g["count"], g["max_seq"], g["sum_v"]):
            raise Bad("sink's newest row for %s %r differs from state %r" % (k, sink.get(k), g))
    read_hits(d, st)
    print("  %-22s crashes %4d  runs %4d  batches replayed %4d  lost %d  duplicated %d" % (
        st.name, st.crashes, st.runs, st.replayed, lost, dup))
    if lost or dup:
        raise Bad("%s: %d records lost, %d duplicated" % (st.name, lost, dup))


def read_hits(d, st):
    if not os.path.exists(d + "/fp.stats"):
        return
    for line in open(d + "/fp.stats"):
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            st.hits[parts[0]] = st.hits.get(parts[0], 0) + int(parts[1])


def fresh(name, n_keys=20, n_records=6000):
    d = tempfile.mkdtemp(prefix="ember-chaos-%s-" % name)
    data = Dataset(d + "/in.csv", n_keys)
    data.append(n_records)
    write_job(d)
    return d, data, Stats(name)


def crash_run(d, st, data, env):
    """A run that should die at an armed failpoint; grows the input if it finished."""
    p = run(d, st, env)
    if p.returncode == -signal.SIGKILL:
        st.crashes += 1
    elif p.returncode == 0:
        data.append(2000)
    else:
        raise Bad("%s: exit %d: %s" % (env, p.returncode, p.stderr[-1500:]))
    return p


def finish(d, data, st):
    want = data.want
    p = run(d, st)
    if p.returncode != 0:
        raise Bad("%s: the final clean run failed (%d): %s" % (st.name, p.returncode, p.stderr[-2000:]))
    verify(d, want, st)
    shutil.rmtree(d, ignore_errors=True)
    return st


def scenario_random_kills(n):
    d, data, st = fresh("random-kill-9", n_records=8000)
    while st.crashes < n:
        kill_randomly(d, st, rng.uniform(0.05, 0.6), data)
    return finish(d, data, st)


def scenario_failpoint_crashes(rounds):
    d, data, st = fresh("failpoint-crash", n_records=9000)
    i = 0
    while st.crashes < rounds and st.runs < rounds * 3:  # a run that ends first does not count
        point = CRASH_POINTS[i % len(CRASH_POINTS)]
        i += 1
        crash_run(d, st, data, {"EMBER_FAILPOINTS": "%s=crash@%d" % (point, rng.randint(1, 4))})
    return finish(d, data, st)


def scenario_power_loss(rounds):
    d, data, st = fresh("power-loss", n_records=6000)
    while st.crashes < rounds and st.runs < rounds * 3:
        point = rng.choice(CRASH_POINTS[:9])
        crash_run(d, st, data, {"EMBER_FAILPOINTS": "%s=crash@%d" % (point, rng.randint(1, 5)),
                                "EMBER_POWERLOSS": "1"})
    return finish(d, data, st)


def scenario_io_errors(rounds):
    d, data, st = fresh("io-errors", n_records=6000)
    for i in range(rounds):
        fault = IO_FAULTS[i % len(IO_FAULTS)]
        p = run(d, st, {"EMBER_FAILPOINTS": "%s@%d" % (fault, rng.randint(1, 40))})
        if p.returncode not in (0, 1):
            raise Bad("%s: exit %d, expected 1 with a message: %s" % (fault, p.returncode, p.stderr[-1500:]))
        if p.returncode == 1 and not p.stderr.strip().splitlines()[-1].startswith("ember run: "):
            raise Bad("%s: no clear message: %s" % (fault, p.stderr[-500:]))
        st.crashes += p.returncode == 1
        if p.returncode == 0:
            data.append(2000)
    return finish(d, data, st)


def scenario_torn_wal(rounds):
    d, data, st = fresh("torn-wal-tail")
    for _ in range(rounds):
        crash_run(d, st, data, {"EMBER_FAILPOINTS": "wal.after_append=crash@%d" % rng.randint(1, 6)})
        segs = sorted(os.listdir(d + "/ckpt/wal"))
        last = os.path.join(d + "/ckpt/wal", segs[-1])
        size = os.path.getsize(last)
        if size > 30:
            os.truncate(last, size - rng.randint(1, 30))  # the PLAN's tail never reached disk
    return finish(d, data, st)


def scenario_flipped_snapshot(rounds):
    d, data, st = fresh("flipped-snapshot")
    for _ in range(rounds):
        crash_run(d, st, data, {"EMBER_FAILPOINTS": "state.after_commit=crash@%d" % rng.randint(6, 12)})
        snaps = sorted(x for x in os.listdir(d + "/ckpt/snapshots") if x.isdigit())
        if len(snaps) < 2:
            continue
        db = d + "/ckpt/snapshots/%s/db" % snaps[-1]
        files = sorted(f for f in os.listdir(db) if f.endswith(".sst"))
        if files:
            data_bytes = bytearray(open(db + "/" + files[0], "rb").read())
            data_bytes[rng.randrange(len(data_bytes))] ^= 0x40
            open(db + "/" + files[0], "wb").write(bytes(data_bytes))
            shutil.rmtree(d + "/ckpt/db")  # recovery must skip the damaged snapshot
    return finish(d, data, st)


def scenario_live_state_deleted(rounds):
    d, data, st = fresh("live-state-deleted")
    for _ in range(rounds):
        crash_run(d, st, data, {"EMBER_FAILPOINTS": "state.after_commit=crash@%d" % rng.randint(2, 9)})
        shutil.rmtree(d + "/ckpt/db", ignore_errors=True)
    return finish(d, data, st)


def scenario_compatible_change(rounds):
    d, data, st = fresh("compatible-change")
    for _ in range(rounds):
        write_job(d, rng.choice([100, 200, 400, 700]))
        kill_randomly(d, st, rng.uniform(0.05, 0.5), data)
    return finish(d, data, st)


def scenario_stateful_operators(rounds):
    """dedupe -> join -> sliding event-time window with out-of-order and late
    events, killed at random moments and at every failpoint; the batch files
    must equal a Python simulation of the documented semantics, batch by batch
    (windows fire once, with the same values; duplicates dropped once)."""
    d = tempfile.mkdtemp(prefix="ember-chaos-operators-")
    st = Stats("stateful-operators")
    batch = rng.choice([100, 200])
    groups = {"k%02d" % k: "g%d" % (k % 6) for k in range(30)}
    with open(d + "/groups.csv", "w") as f:
        f.write("k,grp\n" + "".join("%s,%s\n" % kv for kv in sorted(groups.items())))
    lines, base, sent = [], 1_700_000_000_000, []
    for i in range(30000):
        if sent and rng.random() < 0.1:  # a redelivery of an earlier event
            lines.append(rng.choice(sent[-500:]))
            continue
        t = base + i * 5 + rng.randint(-700, 700) - (20000 if rng.random() < 0.01 else 0)
        line = "e%d,k%02d,%d,%d,%d" % (i, rng.randrange(32), i, t, rng.randrange(-100, 100))
        sent.append(line)
        lines.append(line)
    with open(d + "/in.csv", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(d + "/c.job", "w") as f:
        f.write(f"""job operators
batch      interval=1ms max-records={batch}
checkpoint dir={d}/ckpt every=3 keep=2 wal-segment=4KB
source     file path={d}/in.csv
parse      csv fields=id,k,seq:int,ts:int,v:int
dedupe     id within 1h
join       table path={d}/groups.csv key=k fields=grp
key        grp
window     sliding 4s every 2s on ts watermark 1s late=file:{d}/late.csv
aggregate  count() sum(v) max(v)
sink       file dir={d}/out
""")
    i = 0
    while st.crashes < rounds and st.runs < rounds * 4:
        if i % 2:
            point = CRASH_POINTS[i % len(CRASH_POINTS)]
            p = run(d, st, {"EMBER_FAILPOINTS": "%s=crash@%d" % (point, rng.randint(1, 3))})
        else:
            e = dict(os.environ)
            e.pop("EMBER_FAILPOINTS", None)
            p = subprocess.Popen([EMBER, "run", d + "/c.job", "--until-idle"],
                                 stderr=subprocess.PIPE, text=True, env=e)
            time.sleep(rng.uniform(0.02, 0.4))
            p.send_signal(signal.SIGKILL)
            _, err = p.communicate()
            scan_stderr(err, st)
            st.runs += 1
        i += 1
        if p.returncode == -signal.SIGKILL:
            st.crashes += 1
        elif p.returncode == 0:
            break  # the input is fixed: the job finished
        else:
            raise Bad("operators: exit %d" % p.returncode)
    p = run(d, st)
    if p.returncode != 0:
        raise Bad("operators: the final run failed: " + p.stderr[-2000:])
    out, late = simulate_operator_batches(lines, batch, groups)
    got = batch_rows(d)
    if got != out:
        diff = [(b, g, w) for b, (g, w) in enumerate(zip(got, out)) if g != w][:2]
        raise Bad("operators: output differs from the simulation (%d vs %d batches) %s" % (
            len(got), len(out), diff))
    with open(d + "/late.csv") as f:
        if f.read().splitlines() != late:
            raise Bad("operators: late file differs from the simulation")
    read_hits(d, st)
    print("  %-22s crashes %4d  replayed batches %4d  lost 0  duplicated 0" % (
        st.name, st.crashes, st.replayed))
    shutil.rmtree(d, ignore_errors=True)
    return st


def scenario_rocksdb_io_faults(rounds):
    """libfiu (fiu-run -x, an LD_PRELOAD) fails POSIX calls at random in the
    whole process, so RocksDB's own write, pwrite, fsync and fdatasync fail
    too (posix/io/rw/* and posix/io/sync/*: read, pread, write, pwrite,
    ftruncate, fsync, fdatasync...). A faulted run must end with exit 0
    or exit 1 and one `ember run: ...` line: never a signal, a RocksDB abort
    included. After each faulted run the fault clears and a clean restart must
    resume with the state equal to the oracle (nothing lost or duplicated).
    Exit 2 is accepted only for a failed read of the job file itself (the CLI
    reports every job-file load failure as bad usage) and counted."""
    if not shutil.which("fiu-run"):
        raise Bad("fiu-run is missing (make deps installs fiu-utils)")
    d, data, st = fresh("rocksdb-io-faults", n_records=6000)
    job_read_errors = 0
    while st.crashes < rounds and st.runs < rounds * 8:
        prob = rng.uniform(0.002, 0.03)
        cmds = ["enable_random name=posix/io/rw/*,probability=%.4f" % prob,
                "enable_random name=posix/io/sync/*,probability=%.4f" % prob]
        e = dict(os.environ)
        e.pop("EMBER_FAILPOINTS", None)
        args = ["fiu-run", "-x", "-f", ""]
        for c in cmds:
            args += ["-c", c]
        p = subprocess.run(args + [EMBER, "run", d + "/c.job", "--until-idle"],
                           capture_output=True, text=True, timeout=300, env=e)
        scan_stderr(p.stderr, st)
        st.runs += 1
        msgs = [l for l in p.stderr.splitlines() if l.startswith("ember run:")]
        if p.returncode < 0 or p.returncode > 128:
            what = [l for l in p.stderr.splitlines() if "Assertion" in l or "terminate" in l]
            raise Bad("%s: killed by signal %d%s: %s" % (
                cmds, -p.returncode if p.returncode < 0 else p.returncode - 128,
                " (RocksDB aborted)" if what else "", (what or [p.stderr[-1500:]])[-1]))
        if p.returncode == 2 and len(msgs) == 1 and msgs[0].startswith(
                "ember run: read %s/c.job" % d):
            job_read_errors += 1
        elif p.returncode not in (0, 1) or (p.returncode == 1) != (len(msgs) == 1):
            raise Bad("%s: exit %d without one clear message: %s" % (cmds, p.returncode,
                                                                     p.stderr[-1500:]))
        if p.returncode:
            st.crashes += 1
        data.append(rng.choice([0, 500, 2000]))
        p = run(d, st)  # the fault cleared: a clean restart resumes exactly
        if p.returncode != 0:
            raise Bad("%s: the restart after the fault failed (%d): %s" % (
                cmds, p.returncode, p.stderr[-1500:]))
        lost, dup = oracle_diff(d, data.want)
        if lost or dup:
            raise Bad("%s: after the restart %d records lost, %d duplicated" % (cmds, lost, dup))
    if job_read_errors:
        print("  %-22s %d faults hit the read of the job file (exit 2)" % (st.name, job_read_errors))
    return finish(d, data, st)


def oracle_diff(d, want):
    """(records lost, records duplicated) of the state against the oracle."""
    got = state(d)
    lost = dup = 0
    for k, (c, _) in want.items():
        n = got.get(k, {"count": 0})["count"]
        lost, dup = lost + max(c - n, 0), dup + max(n - c, 0)
    return lost, dup


RECOVERY_POINTS = ["recovery.after_restore", "recovery.after_wal_truncate",
                   "recovery.after_dead_letter_truncate", "recovery.mid_replay",
                   "state.before_commit", "state.after_commit", "sink.before_commit"]


def scenario_recovery_crashes(rounds):
    """Crashes inside recovery itself, again and again. Each round leaves work
    for recovery: a batch planned but not committed, or the live state deleted
    (a snapshot is restored and the WAL replayed from it), or the live state
    rolled back to the oldest snapshot with `ember restore` (a longer replay),
    or a torn WAL tail. Then 2-5 recoveries in a row are killed: at a recovery
    failpoint (after the snapshot restore, after the WAL tail truncation,
    after the dead-letter truncation, between replayed batches), inside a
    replayed batch's commit, or by SIGKILL at a random instant; with power loss
    in a third of the rounds. Input has malformed lines going to a dead-letter
    file, which must hold each of them exactly once, in order."""
    d, data, st = fresh("recovery-crashes", n_records=3000)
    dead = []
    with open(d + "/c.job", "w") as f:
        f.write(f"""job chaos
batch      interval=1ms max-records={rng.choice([150, 300])}
checkpoint dir={d}/ckpt every=4 keep=2 wal-segment=2KB
source     file path={d}/in.csv
parse      csv fields=k,seq:int,v:int on-error=dead-letter:{d}/dead.txt
key        k
aggregate  count() max(seq) sum(v)
sink       file dir={d}/out
""")
    in_recovery = 0
    while in_recovery < rounds and st.runs < rounds * 8:
        append_with_bad_lines(data, dead, rng.randint(200, 1500))
        leave_recovery_work(d, st, data)
        env = {"EMBER_POWERLOSS": "1"} if rng.random() < 0.33 else {}
        for _ in range(rng.randint(2, 5)):
            in_recovery += kill_recovery(d, st, env)
    p = run(d, st)
    if p.returncode != 0:
        raise Bad("recovery-crashes: the final run failed (%d): %s" % (p.returncode,
                                                                       p.stderr[-2000:]))
    got = [l.split("\t", 1)[1] for l in open(d + "/dead.txt").read().splitlines()]
    if got != dead:
        raise Bad("recovery-crashes: %d dead letters, %d malformed lines in the input" % (
            len(got), len(dead)))
    print("  %-22s %d of the crashes inside recovery, %d dead letters exact" % (
        st.name, in_recovery, len(dead)))
    verify(d, data.want, st)
    shutil.rmtree(d, ignore_errors=True)
    return st


def append_with_bad_lines(data, dead, n):
    """n records, about 2% of them malformed (seq not an int) for the dead letters."""
    for _ in range(n // 50):
        data.append(49)
        line = "k%03d,x%d,1" % (rng.randrange(data.n_keys), rng.randrange(10**6))
        with open(data.path, "a") as f:
            f.write(line + "\n")
        dead.append(line)


def leave_recovery_work(d, st, data):
    """A run that stops with something for the next recovery to do."""
    how = rng.random()
    p = crash_run(d, st, data, {"EMBER_FAILPOINTS": "%s=crash@%d" % (
        "wal.after_append" if how < 0.25 else "state.before_commit", rng.randint(1, 8))})
    snaps = sorted(x for x in os.listdir(d + "/ckpt/snapshots") if x.isdigit()) \
        if os.path.isdir(d + "/ckpt/snapshots") else []
    if how < 0.25 and p.returncode == -signal.SIGKILL:
        # the PLAN's tail never reached the disk (only when the run died
        # right after appending it: the last record of a run that ended is
        # the PLAN of a committed batch, whose loss would be damage, not a
        # torn tail; ember inspect rightly calls that unreplayable)
        segs = sorted(os.listdir(d + "/ckpt/wal"))
        last = os.path.join(d + "/ckpt/wal", segs[-1])
        if os.path.getsize(last) > 30:
            os.truncate(last, os.path.getsize(last) - rng.randint(1, 30))
    elif how < 0.5 and snaps:
        shutil.rmtree(d + "/ckpt/db")
    elif how < 0.75 and snaps:
        p = subprocess.run([EMBER, "restore", d + "/ckpt", "--batch", str(int(snaps[0]))],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise Bad("ember restore failed (%d): %s" % (p.returncode, p.stderr[-1000:]))
        # Restore must delete the snapshots newer than B: a recovery that fell
        # back to one would extend the dead-letter file (cut back to B's
        # length) with zeros up to that snapshot's commit. Builds before
        # tools/cmd_restore.c did so kept them: drop any left.
        for s in snaps[1:]:
            shutil.rmtree(d + "/ckpt/snapshots/" + s, ignore_errors=True)


def kill_recovery(d, st, env):
    """Starts a recovery and kills it; 1 if it surely died before recovery
    ended (at a recovery failpoint, inside a replayed batch, or killed before
    the replay was done), else 0."""
    pending = recovery_pending(d)
    if rng.random() < 0.25:
        e = dict(os.environ)
        e.pop("EMBER_FAILPOINTS", None)
        e.update(env)
        p = subprocess.Popen([EMBER, "run", d + "/c.job", "--until-idle"],
                             stderr=subprocess.PIPE, text=True, env=e)
        time.sleep(rng.uniform(0.005, 0.25))
        p.send_signal(signal.SIGKILL)
        err = p.communicate()[1]
        scan_stderr(err, st)
        st.runs += 1
    else:
        point = rng.choice(RECOVERY_POINTS)
        if point == "recovery.after_restore" and os.path.isdir(d + "/ckpt/db"):
            shutil.rmtree(d + "/ckpt/db")  # make recovery restore a snapshot
            pending = True
        n = rng.randint(1, 3) if point == "recovery.mid_replay" else 1
        p = run(d, st, dict(env, EMBER_FAILPOINTS="%s=crash@%d" % (point, n)))
        err = p.stderr
    if p.returncode not in (0, -signal.SIGKILL):
        raise Bad("recovery-crashes: exit %d: %s" % (p.returncode, err[-1500:]))
    if p.returncode == 0:
        return 0
    st.crashes += 1
    lines = err.splitlines()
    if any(l.startswith("failpoint recovery.") for l in lines):
        return 1
    after = any(l.startswith("batch ") and "(replay)" not in l for l in lines) or \
        any(l.startswith("recovery: replayed ") for l in lines)
    started = any(l.startswith(("recovery: committed", "recovery: no committed")) for l in lines)
    return 0 if after or (started and not pending) else 1


def recovery_pending(d):
    """Whether the next run has batches to replay (or a snapshot to restore)."""
    if not os.path.isdir(d + "/ckpt/db"):
        return True
    p = subprocess.run([EMBER, "inspect", d + "/ckpt", "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Bad("ember inspect failed (%d): %s" % (p.returncode, p.stderr[-1000:]))
    plan = json.loads(p.stdout)["plan"]
    return bool(plan and not plan["committed"])


def simulate_operator_batches(lines, batch, groups):
    """Per input batch: dedupe (first copy of an id ever), join (drop unknown
    keys), then sliding 4s/2s windows with watermark 1s, emit=final."""
    size, slide, delay = 4000, 2000, 1000
    seen, panes, out, late, maxt = set(), {}, [], [], None
    for b in range(0, len(lines), batch):
        wm_old = None if maxt is None else maxt - delay
        for line in lines[b:b + batch]:
            ident, k, _, ts, v = line.split(",")
            if ident in seen:
                continue
            seen.add(ident)
            if k not in groups:
                continue
            t, g = int(ts), groups[k]
            p = t // slide * slide
            if wm_old is not None and p + size <= wm_old:
                late.append(line)
                continue
            c, s, m = panes.get((g, p), (0, 0, None))
            panes[(g, p)] = (c + 1, s + int(v), int(v) if m is None else max(m, int(v)))
            maxt = t if maxt is None else max(maxt, t)
        wm_new = None if maxt is None else maxt - delay
        fire = set()
        for (g, p) in panes:
            for e in range(p + slide, p + size + 1, slide):
                if (wm_old is None or e > wm_old) and wm_new is not None and e <= wm_new:
                    fire.add((g, e))
        rows = []
        for g, e in sorted(fire):
            c = s = 0
            m = None
            for p in range(e - size, e, slide):
                if (g, p) in panes:
                    pc, ps, pm = panes[(g, p)]
                    c, s, m = c + pc, s + ps, pm if m is None else max(m, pm)
            rows.append("%s\t%d\t%d\t%d\t%d\t%d" % (g, e - size, e, c, s, m))
        out.append(rows)
    return out, late


def batch_rows(d):
    res = []
    for name in sorted(os.listdir(d + "/out")):
        if name.endswith(".tsv") and ".tmp" not in name:
            with open(os.path.join(d, "out", name)) as f:
                res.append(f.read().splitlines()[1:])
    return res


KAFKA_CRASH_POINTS = ["sink.before_commit", "sink.after_commit", "state.before_commit",
                      "state.after_commit", "wal.after_append", "transform.after",
                      "recovery.mid_replay", "snapshot.mid_copy"]


class KafkaBroker:
    """`ember broker` (librdkafka's mock cluster); addr is its first stdout line."""

    def __init__(self, d, *topics):
        args = [EMBER, "broker"]
        for t in topics:
            args += ["--topic", t]
        self.err = open(d + "/broker.err", "w")
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.addr = self.p.stdout.readline().strip()
        if not self.addr.startswith("127.0.0.1:"):
            self.stop()
            raise Bad("ember broker printed %r, not an address" % self.addr)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()


def kcat_read(addr, topic, fmt):
    """Every record of `topic` as a read_committed consumer sees it."""
    p = subprocess.run(["kcat", "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", fmt],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Bad("kcat -C %s: exit %d: %s" % (topic, p.returncode, p.stderr[-500:]))
    return p.stdout


def kafka_produce(addr, data, n_records):
    """Appends n records to the dataset's file and produces them (kcat -P,
    one message per line, no key: they spread over the partitions)."""
    start = os.path.getsize(data.path)
    data.append(n_records)
    with open(data.path, "rb") as f:
        f.seek(start)
        p = subprocess.run(["kcat", "-P", "-b", addr, "-t", "in"], input=f.read(),
                           capture_output=True, timeout=120)
    if p.returncode != 0:
        raise Bad("kcat -P: exit %d: %s" % (p.returncode, p.stderr[-500:]))


def kafka_verify(d, addr, data, st):
    """The state against the oracle (as verify()), then the output topic batch
    by batch: each batch's rows must be exactly the running (count, max seq,
    sum) of the keys its planned offsets touched, each once; one marker per
    batch."""
    inputs = {}
    for line in kcat_read(addr, "in", "%p %o %s\\n").splitlines():
        part, off, v = line.split(" ", 2)
        inputs[(int(part), int(off))] = v
    want = {}
    for v in inputs.values():
        k, seq, val = v.split(",")
        c, s, m = want.get(k, (0, 0, -1))
        want[k] = (c + 1, s + int(val), max(m, int(seq)))
    plans = ckpt.wal_plans(d + "/ckpt")
    if sorted(plans) != list(range(1, len(plans) + 1)):
        raise Bad("kafka: WAL PLANs are not batches 1..%d" % len(plans))
    expect, running = {}, {}
    for b in sorted(plans):
        touched = set()
        for part, lo, hi in plans[b][1]:
            for o in range(lo, hi):
                k, seq, val = inputs[(part, o)].split(",")
                c, s, m = running.get(k, (0, 0, -1))
                running[k] = (c + 1, s + int(val), max(m, int(seq)))
                touched.add(k)
        expect[b] = sorted("%s\t%d\t%d\t%d" % (k, running[k][0], running[k][2], running[k][1])
                           for k in touched)  # the row: k, count, max_seq, sum_v
    got = {}
    for line in kcat_read(addr, "out", "%h|%s\\n").splitlines():
        headers, value = line.split("|", 1)
        h = dict(x.split("=", 1) for x in headers.split(","))
        got.setdefault(int(h["ember.batch"]), []).append(value)
    rows_lost = sum(len(set(expect[b]) - set(got.get(b, []))) for b in expect)
    rows_dup = sum(len(rows) - len(set(rows)) for rows in got.values())
    wrong = [b for b in got if b not in expect or sorted(got[b]) != expect[b]]
    marks = [int(v.split()[0].split("=")[1]) for v in
             kcat_read(addr, "out.ember-markers", "%s\\n").splitlines() if v]
    lost, dup = 0, 0
    state_rows = state(d)
    for k, (c, s, m) in want.items():
        g = state_rows.get(k, {"count": 0, "max_seq": -1, "sum_v": 0})
        lost, dup = lost + max(c - g["count"], 0), dup + max(g["count"] - c, 0)
        if g["count"] == c and (g["sum_v"], g["max_seq"]) != (s, c - 1):
            raise Bad("kafka: key %s: sum %d max seq %d, oracle %d %d" % (
                k, g["sum_v"], g["max_seq"], s, c - 1))
    print("  %-22s crashes %4d  runs %4d  batches replayed %4d  lost %d  duplicated %d" % (
        st.name, st.crashes, st.runs, st.replayed, lost, dup))
    print("  %-22s topic out (read_committed): %d batches, %d rows lost, %d duplicated, "
          "%d batches differ, %d markers for %d batches; %d input records; %d restarts "
          "found rows of an interrupted transaction" % (
              "", len(got), rows_lost, rows_dup, len(wrong), len(marks), len(plans),
              len(inputs), st.interrupted))
    if lost or dup or rows_lost or rows_dup or wrong:
        raise Bad("kafka: %d records lost, %d duplicated in the state; %d rows lost, %d "
                  "duplicated in the topic; batches %s differ from the oracle" % (
                      lost, dup, rows_lost, rows_dup, wrong[:5]))
    if sorted(marks) != list(range(1, len(plans) + 1)):
        raise Bad("kafka: %d markers for %d batches" % (len(marks), len(plans)))
    if {k: v[:2] for k, v in want.items()} != data.want:
        raise Bad("kafka: the input topic does not hold exactly the records produced")


def scenario_kafka_kills(kills):
    """kafka -> count/max(seq)/sum by key -> kafka (exactly-once sink), killed
    with SIGKILL at random moments and at crash failpoints (half each), with
    more input produced between runs; the state and every batch of the output
    topic, read with isolation.level=read_committed, must match the oracle.
    `ember broker` does not isolate transactions, so rows of aborted attempts
    are visible too: the sink must not send them again."""
    d, data, st = fresh("kafka-kill-9", n_records=0)
    st.interrupted = 0  # restarts that found rows of an interrupted transaction
    with open(d + "/c.job", "w") as f:
        f.write(f"""job kchaos
batch      interval=20ms max-records={rng.choice([200, 400, 700])}
checkpoint dir={d}/ckpt every=4 keep=2
source     kafka brokers=ADDR topic=in
parse      csv fields=k,seq:int,v:int
key        k
aggregate  count() max(seq) sum(v)
sink       kafka brokers=ADDR topic=out
""")
    broker = KafkaBroker(d, "in:3")
    try:
        job = open(d + "/c.job").read().replace("ADDR", broker.addr)
        open(d + "/c.job", "w").write(job)
        kafka_produce(broker.addr, data, 8000)
        i = 0
        while st.crashes < kills and st.runs < kills * 3:
            if i % 2 == 0:
                p = subprocess.Popen([EMBER, "run", d + "/c.job", "--until-idle"],
                                     stderr=subprocess.PIPE, text=True,
                                     env={k: v for k, v in os.environ.items()
                                          if k != "EMBER_FAILPOINTS"})
                time.sleep(rng.uniform(0.3, 2.0))  # startup (init_transactions) ~1 s
                p.send_signal(signal.SIGKILL)
                err = p.communicate(timeout=120)[1]
                scan_stderr(err, st)
                st.runs += 1
            else:
                point = KAFKA_CRASH_POINTS[(i // 2) % len(KAFKA_CRASH_POINTS)]
                p = run(d, st, {"EMBER_FAILPOINTS": "%s=crash@%d" % (point, rng.randint(1, 4))})
                err = p.stderr
            i += 1
            st.interrupted += "from an interrupted attempt are there" in err
            if p.returncode == -signal.SIGKILL:
                st.crashes += 1
            elif p.returncode != 0:
                raise Bad("kafka: exit %d: %s" % (p.returncode, err[-1500:]))
            if p.returncode == 0 or rng.random() < 0.5:
                kafka_produce(broker.addr, data, rng.randint(500, 2500))
        p = run(d, st)
        if p.returncode != 0:
            raise Bad("kafka: the final run failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
        read_hits(d, st)
        kafka_verify(d, broker.addr, data, st)
    finally:
        broker.stop()
    shutil.rmtree(d, ignore_errors=True)
    return st


# ---------------------------------------------------------------- TTL

TTL_MS = 150


def write_ttl_job(d):
    with open(d + "/t.job", "w") as f:
        f.write(f"""job chaos-ttl
batch      interval=15ms max-records={rng.choice([40, 80, 120])}
checkpoint dir={d}/ckpt every=1000000 wal-segment=2KB
source     file path={d}/in.csv
parse      csv fields=k,seq:int,v:int
key        k
ttl        {TTL_MS}ms
aggregate  count() max(seq) sum(v)
sink       file dir={d}/out
""")


def ttl_append(d, seqs, n):
    """n records over 60 keys with a skew (k00-k09 hot, the rest seldom), so
    cold keys go idle past the TTL while the job runs."""
    with open(d + "/in.csv", "a") as f:
        for _ in range(n):
            k = rng.randrange(10) if rng.random() < 0.9 else rng.randrange(10, 60)
            f.write("k%02d,%d,%d\n" % (k, seqs[k], rng.randrange(-100, 100)))
            seqs[k] += 1


def ttl_oracle(d):
    """The state a TTL job must hold, simulated over the batches it ran: their
    batch times and end offsets come from the WAL's PLAN records (the job
    never reaches a snapshot, and only a snapshot lets the WAL's older
    segments go, so every PLAN stays; progress.jsonl is not
    enough: a SIGKILL between a commit and its progress line leaves a batch
    out), their records from the input file. At batch time T a key untouched
    by the batch whose last update + TTL <= T is deleted; a touched key folds
    the batch in and its last update becomes T."""
    batches = {b: (t, [r[2] for r in ranges if r[0] == 0][0])
               for b, (t, ranges) in ckpt.wal_plans(d + "/ckpt").items()}
    if sorted(batches) != list(range(1, len(batches) + 1)):
        raise Bad("ttl: the WAL's PLANs are not batches 1..%d" % len(batches))
    for line in open(d + "/ckpt/progress.jsonl"):
        try:
            b = json.loads(line)
        except ValueError:
            continue  # a line torn by SIGKILL
        if batches.get(b["batch"]) != (b["batch_time_ms"], b["offsets"]["0"]):
            raise Bad("ttl: batch %d ran as %r, its PLAN says %r" % (
                b["batch"], (b["batch_time_ms"], b["offsets"]["0"]), batches.get(b["batch"])))
    data = open(d + "/in.csv", "rb").read()
    state, last, at = {}, {}, 0
    for b in sorted(batches):
        t, end = batches[b]
        touched = set()
        for line in data[at:end].decode().splitlines():
            k, seq, v = line.split(",")
            c, m, sm = state.get(k, (0, -1, 0))
            state[k] = (c + 1, max(m, int(seq)), sm + int(v))
            touched.add(k)
        for k in list(state):
            if k in touched:
                last[k] = t
            elif last[k] + TTL_MS <= t:
                del state[k], last[k]
        at = end
    if at != len(data):
        raise Bad("the batches end at byte %d of %d" % (at, len(data)))
    return state, len(batches)


def scenario_ttl_kills(rounds):
    """ttl 150ms on batch time under random kill -9 and failpoint crashes:
    the state after the last run equals the simulation over the committed
    batches, expired keys gone and live ones exact."""
    d = tempfile.mkdtemp(prefix="ember-chaos-ttl-")
    st, seqs = Stats("ttl-expiry"), [0] * 60
    ttl_append(d, seqs, 3000)
    write_ttl_job(d)
    points = ["transform.after", "state.before_commit", "state.after_commit",
              "sink.before_commit", "wal.after_append", "snapshot.mid_copy", "recovery.mid_replay"]
    while st.crashes < rounds and st.runs < rounds * 4:
        e = dict(os.environ)
        e.pop("EMBER_FAILPOINTS", None)
        e["EMBER_FAILPOINT_STATS"] = d + "/fp.stats"
        if rng.random() < 0.5:
            e["EMBER_FAILPOINTS"] = "%s=crash@%d" % (rng.choice(points), rng.randint(1, 12))
        p = subprocess.Popen([EMBER, "run", d + "/t.job", "--until-idle"],
                             stderr=subprocess.PIPE, text=True, env=e)
        try:
            _, err = p.communicate(timeout=rng.uniform(0.05, 0.6))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            _, err = p.communicate()
        scan_stderr(err, st)
        st.runs += 1
        if p.returncode == -signal.SIGKILL:
            st.crashes += 1
        elif p.returncode != 0:
            raise Bad("ttl run exited %d: %s" % (p.returncode, err[-1500:]))
        ttl_append(d, seqs, rng.choice([300, 1000, 2000]))
    e = dict(os.environ)
    e.pop("EMBER_FAILPOINTS", None)
    p = subprocess.run([EMBER, "run", d + "/t.job", "--until-idle"], capture_output=True,
                       text=True, timeout=300, env=e)
    scan_stderr(p.stderr, st)
    if p.returncode != 0:
        raise Bad("ttl: the final run failed (%d): %s" % (p.returncode, p.stderr[-1500:]))
    read_hits(d, st)
    want, n_batches = ttl_oracle(d)
    q = subprocess.run([EMBER, "state", d + "/ckpt", "--op", "aggregate", "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    if q.returncode != 0:
        raise Bad("ember state failed: " + q.stderr)
    got = {o["k"]: (o["count"], o["max_seq"], o["sum_v"]) for o in json.loads(q.stdout)}
    expired = sum(seqs[k] > 0 for k in range(60)) - len(want)
    lost = sum(max(0, w[0] - got.get(k, (0,))[0]) for k, w in want.items())
    dup = sum(max(0, g[0] - want.get(k, (0,))[0]) for k, g in got.items())
    print("  %-22s crashes %4d  runs %4d  batches replayed %4d  lost %d  duplicated %d  "
          "(%d batches, %d keys live, %d expired)" % (st.name, st.crashes, st.runs, st.replayed,
                                                       lost, dup, n_batches, len(want), expired))
    if got != want:
        diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        raise Bad("ttl: %d keys differ from the simulation, e.g. %s: state %r, oracle %r" % (
            len(diff), diff[0], got.get(diff[0]), want.get(diff[0])))
    shutil.rmtree(d, ignore_errors=True)
    return st


def write_db_job(d, name, sink):
    with open(d + "/c.job", "w") as f:
        f.write(f"""job {name}
batch      interval=1ms max-records={rng.choice([150, 300, 500])}
checkpoint dir={d}/ckpt every=3 keep=2 wal-segment=2KB
source     file path={d}/in.csv
parse      csv fields=k,seq:int,v:int
key        k
aggregate  count() max(seq) sum(v)
sink       {sink}
""")


def db_sink_kills(name, sink, rows_of, rounds, midway=None):
    """A database sink under kill -9 at random moments and at every crash
    failpoint (and midway(), e.g. a server restart, half way): the table
    (rows_of(d): key -> (count, max_seq, sum_v)) equals the state and the
    oracle."""
    d, data, st = fresh(name, n_records=5000)
    write_db_job(d, "chaos-" + name, sink(d))
    i = 0
    while st.crashes < rounds and st.runs < rounds * 3:
        if midway and i == rounds // 2:
            midway()
        if i % 2:
            kill_randomly(d, st, rng.uniform(0.05, 0.6), data)
        else:
            point = CRASH_POINTS[(i // 2) % len(CRASH_POINTS)]
            crash_run(d, st, data, {"EMBER_FAILPOINTS": "%s=crash@%d" % (point, rng.randint(1, 4))})
        i += 1
    p = run(d, st)
    if p.returncode != 0:
        raise Bad("%s: the final clean run failed: %s" % (name, p.stderr[-2000:]))
    got, rows = state(d), rows_of(d)
    lost = dup = 0
    for k, (c, s) in data.want.items():
        have = rows.get(k, (0, -1, 0))
        lost += max(c - have[0], 0)
        dup += max(have[0] - c, 0)
        if have[0] == c and have[2] != s:
            raise Bad("%s row %s: sum %d, oracle %d" % (name, k, have[2], s))
        g = got.get(k)
        if not g or (g["count"], g["max_seq"], g["sum_v"]) != have:
            raise Bad("%s row %s %r differs from state %r" % (name, k, have, g))
    read_hits(d, st)
    print("  %-22s crashes %4d  runs %4d  batches replayed %4d  lost %d  duplicated %d" % (
        st.name, st.crashes, st.runs, st.replayed, lost, dup))
    if lost or dup:
        raise Bad("%s: %d records lost, %d duplicated" % (name, lost, dup))
    return d, st


def scenario_sqlite_kills(rounds):
    import sqlite3

    def rows_of(d):
        con = sqlite3.connect(d + "/out.db")
        try:
            return {r[0]: r[1:] for r in con.execute("SELECT k, count, max_seq, sum_v FROM totals")}
        finally:
            con.close()
    d, st = db_sink_kills("sqlite-kill-9", lambda d: "sqlite path=%s/out.db table=totals "
                          "create=yes" % d, rows_of, rounds)
    shutil.rmtree(d, ignore_errors=True)
    return st


def scenario_postgres_kills(rounds):
    """With a restart of the PostgreSQL server half way; the marker must be
    the committed batch at the end."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
    import pg
    server = pg.Server()
    try:
        def rows_of(d):
            return {r[0]: tuple(int(x) for x in r[1:])
                    for r in server.psql("SELECT k, count, max_seq, sum_v FROM totals")}

        def restart():
            server.stop("immediate")
            server.start()
        d, st = db_sink_kills("postgres", lambda d: "postgres conninfo=%s table=totals "
                              "create=yes" % server.conninfo, rows_of, rounds, restart)
        out = subprocess.run([EMBER, "inspect", d + "/ckpt", "--format", "json"],
                             capture_output=True, text=True).stdout
        committed = json.loads(out or "{}").get("committed", {}).get("batch")
        mark = server.psql("SELECT batch FROM ember_sink_batches WHERE job = 'chaos-postgres'")
        if [[str(committed)]] != mark:
            raise Bad("postgres marker %r, committed batch %r" % (mark, committed))
        shutil.rmtree(d, ignore_errors=True)
        return st
    finally:
        server.close()


def scenario_kinesis_kills(rounds):
    """kinesis (kinesalite, 2 shards) -> count/max(seq)/sum by key -> file,
    killed with SIGKILL at random moments and at crash failpoints (half
    each), with more records put between runs: 0 lost, 0 duplicated."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "integration"))
    import test_kinesis as tk
    d, data, st = fresh("kinesis-kill-9", n_records=0)
    if not os.path.exists(tk.CLI):
        print("  %-22s skipped: kinesalite is not installed (make deps)" % st.name)
        return st
    kin, sent = tk.Kinesalite(), [0]
    saved = {k: os.environ.get(k) for k in tk.CREDS}
    os.environ.update(tk.CREDS)

    def put_new():  # what Dataset.append added to in.csv goes to the stream
        with open(data.path) as f:
            f.seek(sent[0])
            kin.put("in", f.read().splitlines())
            sent[0] = f.tell()
    try:
        kin.create("in", 2)
        job = open(d + "/c.job").read().replace("file path=%s/in.csv" % d,
                                                 "kinesis stream=in endpoint=" + kin.url)
        open(d + "/c.job", "w").write(job)
        data.append(4000)
        put_new()
        i = 0
        while st.crashes < rounds and st.runs < rounds * 3:
            if i % 2:
                kill_randomly(d, st, rng.uniform(0.2, 1.2), data)
            else:
                point = CRASH_POINTS[(i // 2) % len(CRASH_POINTS)]
                crash_run(d, st, data, {"EMBER_FAILPOINTS": "%s=crash@%d" % (
                    point, rng.randint(1, 4))})
            i += 1
            data.append(rng.randint(0, 800))
            put_new()
        return finish(d, data, st)
    finally:
        kin.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
# ---------------------------------------------------------------- damage

DAMAGE_KINDS = ["flip", "truncate", "delete", "empty"]
INSPECTIONS = [["state", "{ck}", "--op", "aggregate", "--format", "json"], ["verify", "{ck}"],
               ["checkpoints", "{ck}", "--format", "json"], ["inspect", "{ck}", "--format", "json"],
               ["diff", "{ck}", "{snap}", "live", "--format", "json"]]


def damage_file(path, kind, r):
    """Damages one file: a flipped bit, cut at a random length, deleted or
    emptied. Returns a description, or None when there is nothing to damage
    (a flip or a cut of an empty file)."""
    size = os.path.getsize(path)
    if kind == "delete":
        os.unlink(path)
        return "deleted"
    if kind == "empty":
        if size == 0:
            return None
        open(path, "w").close()
        return "emptied (%d bytes)" % size
    if size == 0:
        return None
    if kind == "truncate":
        at = r.randrange(size)
        os.truncate(path, at)
        return "cut at %d of %d" % (at, size)
    data = bytearray(open(path, "rb").read())
    at, bit = r.randrange(size), r.randrange(8)
    data[at] ^= 1 << bit
    open(path, "wb").write(bytes(data))
    return "bit %d of byte %d of %d flipped" % (bit, at, size)


def masked(cmd, out):
    """What an inspection printed, less what a damaged file may change
    without being wrong (sizes on disk, the time a listing was taken)."""
    if cmd == "checkpoints":
        try:
            rows = json.loads(out)
        except ValueError:
            return out
        for r in rows:
            r.pop("bytes", None)
        return json.dumps(rows, sort_keys=True)
    if cmd == "inspect":
        try:
            o = json.loads(out)
        except ValueError:
            return out
        for s in o.get("wal_segments", []):
            s.pop("bytes", None)
        return json.dumps(o, sort_keys=True)
    return out


def inspect_all(ck, snap):
    res = {}
    for tmpl in INSPECTIONS:
        cmd = [a.format(ck=ck, snap=snap) for a in tmpl]
        p = subprocess.run([EMBER] + cmd, capture_output=True, timeout=120)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        # a message, and JSON, must not hand damaged bytes on raw (a table
        # may show a damaged file as it is)
        if "\ufffd" in err or ("json" in cmd and "\ufffd" in out):
            raise Bad("ember %s printed bytes that are not UTF-8:\n%s" % (
                " ".join(cmd), (err if "\ufffd" in err else out)[-1500:]))
        scan_stderr(err, Stats("inspect"))
        res[cmd[0]] = (p.returncode, masked(cmd[0], out), err)
    return res


def one_clear_line(err):
    """The one `ember run: ...` line of a run that stopped, or None."""
    lines = err.splitlines()
    msgs = [l for l in lines if l.startswith("ember run: ")]
    if len(msgs) != 1 or not lines or lines[-1] != msgs[0] or any(not l.strip() for l in lines):
        return None
    return msgs[0]


def scenario_damage(seconds, n_random, windowed=False):
    """Every file of a checkpoint directory in turn, then a seeded random
    sample of byte flips, truncations and deletions, each in a fresh copy
    (hard links kept: cp -a) of one directory that committed part of the
    input. Then: every inspection command either exits 0 with what it
    printed over the undamaged copy, or exits non-zero with messages of one
    line each; and `ember run` to the end either reaches the state of the
    same run over the undamaged copy, which is the oracle's (directly, or on
    the next start after one run that stopped with one clear line), or stops
    with one clear line and exit 1 (exit 2 only for a damaged JOB, the
    stored job spec, or ID, the output identity). Counts per outcome. windowed: a tumbling
    event-time window (on seq) with snapshots every 5, keep 3, as in the
    issue's case, instead of a plain aggregate with every 4, keep 3."""
    d = tempfile.mkdtemp(prefix="ember-chaos-damage-")
    st = Stats("damage-windowed" if windowed else "damage")
    data = Dataset(d + "/in.csv", 20)
    data.append(9000)
    with open(d + "/c.job", "w") as f:
        f.write(f"""job chaos
batch      interval=1ms max-records=300
checkpoint dir={d}/ckpt every={5 if windowed else 4} keep=3 wal-segment=1KB
source     file path={d}/in.csv
parse      csv fields=k,seq:int,v:int
key        k
{"window     tumbling 40ms on seq watermark 20ms" if windowed else ""}
aggregate  count() max(seq) sum(v)
sink       file dir={d}/out
""")
    e = dict(os.environ)
    e.pop("EMBER_FAILPOINTS", None)
    p = subprocess.run([EMBER, "run", d + "/c.job", "--batches", "22"], capture_output=True,
                       text=True, timeout=300, env=e)  # 22 of 30 batches: 8 left to run
    scan_stderr(p.stderr, st)
    if p.returncode != 0:
        raise Bad("damage: the first run failed: " + p.stderr[-1500:])
    ck, pristine, out_pristine = d + "/ckpt", d + "/pristine", d + "/out.pristine"
    subprocess.run(["cp", "-a", ck, pristine], check=True)
    subprocess.run(["cp", "-a", d + "/out", out_pristine], check=True)
    snaps = sorted(x for x in os.listdir(ck + "/snapshots") if x.isdigit())
    snap = str(int(snaps[-1]))
    want = inspect_all(ck, snap)
    for name, (rc, _, err) in want.items():
        if rc != 0:
            raise Bad("damage: %s fails over the undamaged directory: %s" % (name, err[-500:]))
    p = run(d, st)  # the reference: the undamaged copy run to the end
    if p.returncode != 0:
        raise Bad("damage: the undamaged run failed: " + p.stderr[-1500:])
    if not windowed:
        lost, dup = oracle_diff(d, data.want)
        if lost or dup:
            raise Bad("damage: the undamaged run lost %d, duplicated %d" % (lost, dup))
    reference = state_text(d)
    r = random.Random(rng.randrange(10**9))
    every_file = sorted(os.path.relpath(os.path.join(root, n), pristine)
                        for root, _, names in os.walk(pristine) for n in names)
    r.shuffle(every_file)
    cases = [(f, DAMAGE_KINDS[i % len(DAMAGE_KINDS)]) for i, f in enumerate(every_file)]
    cases += [(r.choice(every_file), r.choice(["flip", "flip", "truncate", "delete"]))
              for _ in range(n_random)]
    outcomes, t0, done, stopped = {}, time.time(), 0, []
    for rel, kind in cases:
        if seconds and time.time() - t0 > seconds:
            break
        for x in (ck, d + "/out"):
            shutil.rmtree(x, ignore_errors=True)
        subprocess.run(["cp", "-a", pristine, ck], check=True)
        subprocess.run(["cp", "-a", out_pristine, d + "/out"], check=True)
        what = damage_file(os.path.join(ck, rel), kind, r)
        if what is None:
            continue
        case = "%s %s" % (rel, what)
        done += 1
        got = inspect_all(ck, snap)
        # RocksDB's own log cut short (or gone) is what a crash mid-write
        # leaves: the previous commit is the state, and the run replays the
        # rest from the WAL. Not damage the tools can tell from a crash.
        # JOB is checksummed: any change to it is refused as damage (JOB
        # deleted is no checkpoint at all). ID (the checkpoint's output
        # identity, items 9-11 of issue 19) deleted reads as a checkpoint made
        # before ids (inspect: "id": null); the run then refuses the output.
        torn = rel.startswith("db/") and rel.endswith(".log") and kind != "flip"
        for name, (rc, out, err) in got.items():
            if rc == 0 and out != want[name][1] and (torn or rel == "ID"):
                note = ("inspections show the commit before a torn RocksDB log" if torn else
                        "inspections show the %s as it is now" % rel)
                outcomes[note] = outcomes.get(note, 0) + 1
                break
            if rc == 0 and out != want[name][1]:
                raise Bad("damage: %s: `ember %s` exits 0 over the damage and prints what "
                          "differs from the undamaged directory" % (case, name))
            said = err.strip() or (name == "verify" and "problem: " in out) or (
                name == "checkpoints" and '"problem": "' in out)
            if rc != 0 and (not said or any(not l.strip() or not l.startswith("ember ")
                                            for l in err.splitlines())):
                raise Bad("damage: %s: `ember %s` exit %d without one line per message: %r" % (
                    case, name, rc, err[-600:]))
        o, line = outcome_of_damage(d, st, reference, windowed, case, rel)
        outcomes[o] = outcomes.get(o, 0) + 1
        if o.startswith("stopped"):
            stopped.append("%s: %s" % (case, line))
    shutil.rmtree(d, ignore_errors=True)
    print("  %-22s %d damaged copies (%d files, seed %d): %s" % (
        st.name, done, len(every_file), SEED, ", ".join(
            "%s %d" % kv for kv in sorted(outcomes.items()))))
    for line in stopped:
        print("  %-22s   stopped: %s" % ("", line[:300]))
    st.crashes = done
    return st


def state_text(d):
    p = subprocess.run([EMBER, "state", d + "/ckpt", "--op", "aggregate", "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Bad("ember state failed: " + p.stderr)
    return p.stdout


def outcome_of_damage(d, st, reference, windowed, case, rel):
    """Runs the job to the end over one damaged copy; returns its outcome
    (and the line of a run that stopped)."""
    stops = 0
    for attempt in range(3):
        p = run(d, st)
        if p.returncode == 0:
            try:
                got = state_text(d)
            except Bad as ex:
                raise Bad("damage: %s: `ember run` exit 0, then %s" % (case, ex))
            if got != reference:
                raise Bad("damage: %s: exit 0 with a state other than the undamaged run's" % case)
            if not windowed:
                verify_sink(d, case)
            return ("recovered" if not stops else "recovered on the next start"), None
        line = one_clear_line(p.stderr)
        ok_codes = (1, 2) if rel in ("JOB", "ID") else (1,)
        if p.returncode not in ok_codes or line is None:
            raise Bad("damage: %s: `ember run` exit %d without one clear line: %r" % (
                case, p.returncode, p.stderr[-800:]))
        stops += 1
        if attempt == 1:  # stopped twice: it cannot recover by itself
            return "stopped (exit %d, one line)" % p.returncode, line
    raise Bad("damage: %s: unreachable" % case)


def verify_sink(d, case):
    got = state(d)
    sink = sink_latest(d)
    for k, g in got.items():
        if sink.get(k) != (g["count"], g["max_seq"], g["sum_v"]):
            raise Bad("damage: %s: the sink's newest row for %s %r differs from the state %r" % (
                case, k, sink.get(k), g))


def scenario_http_kills(rounds):
    """source http: a client posts records with ids and sends again whatever
    got no 200, while ember is killed with -9 at random moments `rounds`
    times; the job dedupes on the id. Every record counts once."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                    "integration"))
    import threading
    import test_http_source as th
    st = Stats("http-kill-9")
    d, port = tempfile.mkdtemp(prefix="ember-chaos-http-"), th.free_port()
    jobfile = th.job(d, port)
    records = [("r%06d" % i, "k%d" % rng.randrange(9), rng.randrange(100)) for i in range(4000)]
    posts, i = [], 0
    while i < len(records):
        n = rng.randint(1, 50)
        posts.append(records[i:i + n])
        i += n
    done = [0]

    def client():
        for p in posts:
            body = "".join("%s,%s,%d\n" % r for r in p)
            deadline = time.time() + 120
            while time.time() < deadline:
                if th.post(port, body)[0] == 200:
                    done[0] += 1
                    break
                time.sleep(0.05)
    proc = th.start(d, jobfile)
    t = threading.Thread(target=client)
    t.start()
    while t.is_alive() and st.crashes < rounds:
        time.sleep(rng.uniform(0.2, 0.9))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        st.crashes += 1
        st.runs += 1
        proc = th.start(d, jobfile)
    t.join(timeout=240)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    if proc.wait(timeout=60) != 0:
        raise Bad("http-kill-9: the last run did not stop cleanly")
    want = {}
    for _, k, v in records:
        c, s = want.get(k, (0, 0))
        want[k] = (c + 1, s + v)
    p = subprocess.run([EMBER, "state", d + "/ck", "--op", "aggregate", "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    got = {o["k"]: (o["count"], o["sum_v"]) for o in json.loads(p.stdout or "[]")}
    lost = sum(max(c - got.get(k, (0, 0))[0], 0) for k, (c, _) in want.items())
    dup = sum(max(got.get(k, (0, 0))[0] - c, 0) for k, (c, _) in want.items())
    print("  %-22s crashes %4d  runs %4d  posts %d answered  lost %d  duplicated %d" % (
        st.name, st.crashes, st.runs, done[0], lost, dup))
    if done[0] != len(posts) or got != want:
        raise Bad("http-kill-9: %d of %d posts answered, %d lost, %d duplicated" % (
            done[0], len(posts), lost, dup))
    shutil.rmtree(d, ignore_errors=True)
    return st


def write_graph_job(d):
    with open(d + "/c.job", "w") as f:
        f.write(f"""job chaos-graph
batch interval=1ms max-records=40
checkpoint dir={d}/ckpt every=7 keep=2
stream a
source file path={d}/a.csv
parse csv fields=k,seq:int,ts:int
watermark ts 2s
stream b
source file path={d}/b.csv
parse csv fields=k,seq:int,ts:int
watermark ts 2s
stream u from a, b
sink file dir={d}/out/raw
key k
window tumbling 10s
aggregate count() as n, sum(seq) as s
sink file dir={d}/out/win
stream tot from u
key k
aggregate sum(n) as n, count() as windows
sink file dir={d}/out/tot
""")


def graph_inputs(d, n):
    """Two sources, event times rising (jitter under the watermark delay)."""
    rows = {}
    for name, step in (("a", 97), ("b", 131)):
        t, out = 0, []
        for i in range(n):
            t += rng.randrange(0, 2 * step)
            out.append(("k%d" % rng.randrange(7), i, t + rng.randrange(0, 1500)))
        with open("%s/%s.csv" % (d, name), "w") as f:
            f.write("".join("%s,%d,%d\n" % r for r in out))
        rows[name] = out
    return rows


def graph_files(d):
    files = {}
    for sub in ("raw", "win", "tot"):
        for name in sorted(os.listdir(d + "/out/" + sub)):
            if not name.startswith(".") and ".tmp" not in name:
                files[sub + "/" + name] = open(os.path.join(d, "out", sub, name), "rb").read()
    return files


def graph_check(d, rows, st):
    """0 lost and 0 duplicated in every sink, against the input."""
    files = graph_files(d)
    raw = sorted(l for k, v in files.items() if k.startswith("raw/")
                 for l in v.decode().splitlines()[1:])
    want_raw = sorted("%s\t%d\t%d" % r for rs in rows.values() for r in rs)
    lost = len(set(want_raw) - set(raw)) + max(len(want_raw) - len(raw), 0)
    dup = max(len(raw) - len(want_raw), 0)
    win = {}
    for k, v in files.items():
        if k.startswith("win/"):
            for l in v.decode().splitlines()[1:]:
                r = l.split("\t")
                if (r[0], r[1]) in win:
                    dup += 1
                win[(r[0], r[1])] = (int(r[3]), int(r[4]))
    want_win = {}
    for rs in rows.values():
        for k, seq, ts in rs:
            c, s = want_win.get((k, str(ts // 10000 * 10000)), (0, 0))
            want_win[(k, str(ts // 10000 * 10000))] = (c + 1, s + seq)
    for key, (c, s) in want_win.items():
        g = win.get(key, (0, 0))
        lost += max(c - g[0], 0)
        dup += max(g[0] - c, 0)
        if g[0] == c and g[1] != s:
            raise Bad("graph window %s: sum %d, oracle %d" % (key, g[1], s))
    tot = {}
    for k, v in sorted(files.items()):
        if k.startswith("tot/"):
            for l in v.decode().splitlines()[1:]:
                r = l.split("\t")
                tot[r[0]] = (int(r[1]), int(r[2]))
    want_tot = {}
    for (k, _), (c, _) in want_win.items():
        n, w = want_tot.get(k, (0, 0))
        want_tot[k] = (n + c, w + 1)
    if tot != want_tot:
        raise Bad("graph totals %s, oracle %s" % (sorted(tot.items()), sorted(want_tot.items())))
    return lost, dup, files


def scenario_graph(rounds):
    """Two sources, a union, a raw sink, a windowed aggregate and a chained
    aggregate of it, with kill -9 at random moments and at every crash
    failpoint: 0 lost, 0 duplicated, and every sink's files byte-identical
    to a run without crashes."""
    st = Stats("graph")
    ref = tempfile.mkdtemp(prefix="ember-chaos-graph-ref-")
    d = tempfile.mkdtemp(prefix="ember-chaos-graph-")
    rows = graph_inputs(ref, 4000)  # 100 batches: most runs crash before the end
    for name in ("a", "b"):
        shutil.copy("%s/%s.csv" % (ref, name), "%s/%s.csv" % (d, name))
    write_graph_job(ref)
    write_graph_job(d)
    p = subprocess.run([EMBER, "run", ref + "/c.job", "--until-idle", "--drain"],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise Bad("graph: the run without crashes failed: " + p.stderr[-2000:])
    ignore = []  # a run that ends first still counts as a run
    i = 0
    while st.crashes < rounds and st.runs < rounds * 3:
        if i % 2:
            kill_randomly(d, st, rng.uniform(0.05, 0.5), ignore)
        else:
            point = CRASH_POINTS[(i // 2) % len(CRASH_POINTS)]
            crash_run(d, st, ignore, {"EMBER_FAILPOINTS": "%s=crash@%d" % (point, rng.randint(1, 6))})
        i += 1
    p = subprocess.run([EMBER, "run", d + "/c.job", "--until-idle", "--drain"],
                       capture_output=True, text=True, timeout=300)
    scan_stderr(p.stderr, st)
    if p.returncode != 0:
        raise Bad("graph: the final clean run failed: " + p.stderr[-2000:])
    lost, dup, files = graph_check(d, rows, st)
    _, _, ref_files = graph_check(ref, rows, st)
    read_hits(d, st)
    print("  %-22s crashes %4d  runs %4d  batches replayed %4d  lost %d  duplicated %d" % (
        st.name, st.crashes, st.runs, st.replayed, lost, dup))
    if lost or dup:
        raise Bad("graph: %d records lost, %d duplicated" % (lost, dup))
    differ = sorted(k for k in set(files) | set(ref_files) if files.get(k) != ref_files.get(k))
    if differ:
        raise Bad("graph: %d sink files differ from the run without crashes: %s" % (
            len(differ), differ[:5]))
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(ref, ignore_errors=True)
    return st


# ---------------------------------------------------------------- scale-out

SO_PARTS = 3


def so_fold(addr, topic):
    """Per task {batch: attempt} its markers count (rule F1-F3 of
    core/kafka/taskmark.h, written here anew) and the task's head."""
    chains = {}
    for line in kcat_read(addr, topic, "%p|%s\\n").splitlines():
        part, v = line.split("|", 1)
        kind, *fields = v.split()
        f = dict(x.split("=", 1) for x in fields)
        c = chains.setdefault(int(part), {"epoch": 0, "owner": "", "head": 0, "att": {}})
        if kind == "claim":
            if int(f["epoch"]) > c["epoch"] and int(f["base"]) == c["head"]:
                c["epoch"], c["owner"] = int(f["epoch"]), f["owner"]
        elif (int(f["epoch"]) == c["epoch"] and f["owner"] == c["owner"]
              and int(f["batch"]) == c["head"] + 1):
            c["head"] = int(f["batch"])
            c["att"][c["head"]] = f["attempt"]
    return chains


def so_caught_up(d, names, total, timeout=300):
    give_up = time.time() + timeout
    while time.time() < give_up:
        tasks, lag = {}, 0
        for n in names:
            try:
                with open("%s/%s/instance.json" % (d, n)) as f:
                    stt = json.load(f)
            except (OSError, ValueError):
                lag += 1
                continue
            lag += stt["time_ms"] < (time.time() - 10) * 1000  # a busy machine writes late
            for t in stt["tasks"]:
                lag += t["lag"] + (t["phase"] != "running" or t["fenced"])
                if t["topic"] == "in" and t["phase"] == "running" and not t["fenced"]:
                    tasks[t["task"]] = max(t["offset"], 0)
        if not lag and sorted(tasks) == list(range(SO_PARTS)) and sum(tasks.values()) == total:
            return
        time.sleep(0.5)
    for n in names:  # what each instance said last, for the report
        try:
            with open("%s/%s/instance.json" % (d, n)) as f:
                stt = json.load(f)
            print("    %s: pid %d, %.0f s ago: %s" % (n, stt["pid"], time.time() - stt["time_ms"] / 1000,
                  ", ".join("task %d.%d %s%s offset %d lag %d" % (
                      t["task"], t["stage"], t["phase"], " fenced" if t["fenced"] else "",
                      t["offset"], t["lag"]) for t in stt["tasks"])))
        except (OSError, ValueError) as ex:
            print("    %s: no status (%s)" % (n, ex))
    raise Bad("scale-out: not caught up within %d s (the instances' logs are in %s)" % (timeout, d))


def so_verify(d, addr, data):
    """Lost and duplicated records of the output topic (counted attempts
    only, the last row of every key) against the oracle: count, max(seq),
    sum per key of the input."""
    want = {}
    for line in open(data.path):
        k, seq, v = line.strip().split(",")
        c, m, s = want.get(k, (0, -1, 0))
        want[k] = (c + 1, max(m, int(seq)), s + int(v))
    chains = so_fold(addr, "schaos-tasks")
    last = {}
    for line in kcat_read(addr, "out", "%h|%s\\n").splitlines():
        headers, value = line.split("|", 1)
        h = dict(x.split("=", 1) for x in headers.split(","))
        t, b = int(h["ember.task"]), int(h["ember.batch"])
        if chains.get(t, {}).get("att", {}).get(b) != h["ember.attempt"]:
            continue
        k, c, m, sm = value.split("\t")
        if k in last and last[k][0] >= b:
            raise Bad("scale-out: key %s: batch %d after %d" % (k, b, last[k][0]))
        last[k] = (b, (int(c), int(m), int(sm)))
    got = {k: v[1] for k, v in last.items()}
    lost = sum(max(w[0] - got.get(k, (0,))[0], 0) for k, w in want.items())
    dup = sum(max(g[0] - want.get(k, (0,))[0], 0) for k, g in got.items())
    if got != want and not lost and not dup:
        raise Bad("scale-out: rows differ from the oracle in max or sum")
    return lost, dup


def scenario_scale_out(rounds):
    """Three instances of a repartitioned job (kafka -> two stages per task
    -> kafka) under kill -9, failpoint crashes, SIGTERM and SIGSTOP/SIGCONT
    past the session timeout of random instances, more input between; at the
    end every instance runs until caught up and the output topic, read with
    the task markers folded here, must equal the oracle."""
    d, data, st = fresh("scale-out", n_records=0)
    names = ["a", "b", "c"]
    topics = ["in:3", "out:3"] + ["%s:%d" % (t, SO_PARTS) for t in (
        "schaos-tasks", "schaos-state-changelog", "schaos.0-tasks", "schaos.0-state-changelog",
        "schaos-repartition-0")]
    broker = KafkaBroker(d, *topics)
    procs, armed = {}, set()

    def start(n, env=None):
        e = {k: v for k, v in os.environ.items() if k != "EMBER_FAILPOINTS"}
        e.update(env or {})
        armed.discard(n)
        if "EMBER_FAILPOINTS" in e:
            armed.add(n)
        log = open("%s/%s.log" % (d, n), "a")
        procs[n] = subprocess.Popen([EMBER, "run", d + "/c.job", "--instance", n, "--dir",
                                     "%s/%s" % (d, n)], stdout=log, stderr=log, env=e)

    try:
        with open(d + "/c.job", "w") as f:
            f.write(f"""job schaos
batch      interval=50ms max-records={rng.choice([200, 400, 700])}
checkpoint dir={d}/unused every=4 keep=2
source     kafka brokers={broker.addr} topic=in group=schaos keyed-by=none
parse      csv fields=k,seq:int,v:int
key        k
aggregate  count() max(seq) sum(v)
sink       kafka brokers={broker.addr} topic=out
""")
        kafka_produce(broker.addr, data, 3000)
        for n in names:
            start(n)
        for _ in range(rounds):
            time.sleep(rng.uniform(0.5, 3.0))
            n = rng.choice(names)
            action = rng.choice(["kill", "crash", "term", "stop"])
            p = procs[n]
            if action == "stop":
                p.send_signal(signal.SIGSTOP)
                time.sleep(8)  # past the 6 s session timeout: its tasks move
                p.send_signal(signal.SIGCONT)
            else:
                p.send_signal(signal.SIGTERM if action == "term" else signal.SIGKILL)
                p.wait(timeout=120)
                point = rng.choice(["state.before_commit", "sink.after_commit",
                                    "state.after_commit", "wal.after_append"])
                start(n, {"EMBER_FAILPOINTS": "%s=crash@%d" % (point, rng.randint(2, 20))}
                      if action == "crash" else None)
            st.crashes += 1
            st.runs += 1
            kafka_produce(broker.addr, data, rng.randint(200, 1500))
        for n in names:  # the last runs are clean: one armed with a failpoint may crash later
            if n in armed or procs[n].poll() is not None or rng.random() < 0.5:
                procs[n].kill()
                procs[n].wait()
                start(n)
        total = sum(1 for _ in open(data.path))
        so_caught_up(d, names, total)
        for n in names:
            procs[n].send_signal(signal.SIGTERM)
            procs[n].wait(timeout=120)
        logs = "".join(open("%s/%s.log" % (d, n), errors="replace").read() for n in names)
        if "AddressSanitizer" in logs or "runtime error" in logs or "Assertion" in logs:
            raise Bad("scale-out: a sanitizer report or a failed assertion in the instances' logs")
        lost, dup = so_verify(d, broker.addr, data)
        print("  %-22s crashes %4d  runs %4d  restores %4d  lost %d  duplicated %d" % (
            st.name, st.crashes, st.runs, logs.count("restored batches"), lost, dup))
        if lost or dup:
            raise Bad("scale-out: %d records lost, %d duplicated" % (lost, dup))
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()
        broker.stop()
    shutil.rmtree(d, ignore_errors=True)
    return st


NEXMARK_CHAOS = ["q4", "q5", "q7", "q8", "q9"]


def nexmark_rows(d, q):
    """The query's output as the oracle's canonical lines (q4: the newest
    row per category, its average truncated as Flink's BIGINT AVG; q9: the
    newest row per auction)."""
    out = d + "/out/nexmark-" + q
    rows = []
    for name in sorted(os.listdir(out)):
        if name.endswith(".tsv") and ".tmp" not in name:
            rows += [l.replace("\t", ",") for l in open(os.path.join(out, name)).read().splitlines()[1:]]
    if q == "q4":
        latest = {}
        for r in rows:
            k, v = r.split(",")
            latest[k] = v
        rows = ["%s,%d" % (k, int(float(v))) for k, v in latest.items()]
    if q == "q9":  # top 1 per auction: an auction's newest row is its winning bid
        latest = {}
        for r in rows:
            latest[r.split(",", 1)[0]] = r
        rows = list(latest.values())
    return sorted(rows)


def scenario_nexmark(rounds):
    """The stateful Nexmark queries (joins, chained and retracting aggregates)
    under kill -9 at random moments and at every crash failpoint: every row
    equals the oracle's (tests/nexmark/oracle.py): 0 lost, 0 duplicated."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nexmark"))
    import oracle
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    st = Stats("nexmark")
    base = tempfile.mkdtemp(prefix="ember-chaos-nexmark-")
    n = 20000
    ev_path = base + "/ev.csv"
    with open(ev_path, "w") as f:
        subprocess.run([EMBER, "gen", "nexmark", "--count", str(n), "--seed", "1"], stdout=f,
                       check=True, timeout=300)
    ev = oracle.read_events(ev_path)
    lost = dup = 0
    for q in NEXMARK_CHAOS:
        d = base + "/" + q
        os.makedirs(d)
        text = open(os.path.join(root, "examples", "nexmark", q + ".job")).read()
        text = re.sub(r"count=\d+", "count=%d" % n, text)
        text = re.sub(r"^batch .*$", "batch      interval=1ms max-records=%d" % rng.choice([700, 1500]),
                      text, flags=re.M)
        text = text.replace("./ckpt/", d + "/ckpt/").replace("./out/", d + "/out/")
        text = text.replace("checkpoint dir=%s/ckpt/nexmark-%s" % (d, q),
                            "checkpoint dir=%s/ckpt every=5 keep=2" % d)
        with open(d + "/c.job", "w") as f:
            f.write(text)
        ignore = []
        i = 0
        while i < rounds * 2 and st.runs < rounds * 12:
            if i % 2:
                kill_randomly(d, st, rng.uniform(0.05, 0.8), ignore)
            else:
                point = CRASH_POINTS[(i // 2 + len(q)) % len(CRASH_POINTS)]
                crash_run(d, st, ignore, {"EMBER_FAILPOINTS": "%s=crash@%d" % (point, rng.randint(1, 5))})
            i += 1
        p = subprocess.run([EMBER, "run", d + "/c.job", "--until-idle", "--drain"],
                           capture_output=True, text=True, timeout=600)
        scan_stderr(p.stderr, st)
        if p.returncode != 0:
            raise Bad("nexmark %s: the final clean run failed: %s" % (q, p.stderr[-2000:]))
        read_hits(d, st)
        got, want = nexmark_rows(d, q), sorted(oracle.run(q, ev))
        missing = len(want) - sum(min(got.count(w), want.count(w)) for w in set(want))
        extra = len(got) - (len(want) - missing)
        lost += missing
        dup += extra
        if got != want:
            print("  nexmark %s: %d rows, oracle %d; missing %s; extra %s" % (
                q, len(got), len(want), sorted(set(want) - set(got))[:2],
                sorted(set(got) - set(want))[:2]))
    print("  %-22s crashes %4d  runs %4d  batches replayed %4d  lost %d  duplicated %d" % (
        st.name, st.crashes, st.runs, st.replayed, lost, dup))
    if lost or dup:
        raise Bad("nexmark: %d rows lost, %d duplicated against the oracle" % (lost, dup))
    shutil.rmtree(base, ignore_errors=True)
    return st


def main():
    print("chaos: seed %d (make chaos SEED=%d reproduces), %d crashes asked, ember %s" % (
        SEED, SEED, CRASHES, EMBER))
    share = max(CRASHES // 8, 4)
    scenarios = [
        ("random-kill-9", lambda: scenario_random_kills(share * 2)),
        ("failpoint-crash", lambda: scenario_failpoint_crashes(share * 2)),
        ("power-loss", lambda: scenario_power_loss(share)),
        ("io-errors", lambda: scenario_io_errors(max(share // 2, 6))),
        ("torn-wal-tail", lambda: scenario_torn_wal(max(share // 2, 4))),
        ("flipped-snapshot", lambda: scenario_flipped_snapshot(max(share // 3, 3))),
        ("live-state-deleted", lambda: scenario_live_state_deleted(max(share // 3, 3))),
        ("compatible-change", lambda: scenario_compatible_change(max(share // 2, 4))),
        ("stateful-operators", lambda: scenario_stateful_operators(max(share // 2, 6))),
        ("recovery-crashes", lambda: scenario_recovery_crashes(max(share // 2, 6))),
        ("kafka-kill-9", lambda: scenario_kafka_kills(max(share // 3, 4))),
        ("ttl-expiry", lambda: scenario_ttl_kills(max(share // 3, 6))),
        ("sqlite-kill-9", lambda: scenario_sqlite_kills(max(share // 3, 6))),
        ("postgres", lambda: scenario_postgres_kills(max(share // 3, 6))),
        ("kinesis-kill-9", lambda: scenario_kinesis_kills(max(share // 4, 4))),
        ("damage", lambda: scenario_damage(60 if SHORT else 0, 10 if SHORT else 150)),
        ("graph", lambda: scenario_graph(max(share // 2, 2 * len(CRASH_POINTS)))),
        ("nexmark", lambda: scenario_nexmark(3 if SHORT else len(CRASH_POINTS))),
        ("scale-out", lambda: scenario_scale_out(3 if SHORT else max(share // 3, 8))),
    ]
    if not SHORT:  # a full run only: its client waits out the restarts
        scenarios.append(("http-kill-9", lambda: scenario_http_kills(max(share // 4, 6))))
    if not SHORT:
        scenarios.append(("damage-windowed", lambda: scenario_damage(0, 100, windowed=True)))
    if not SHORT:  # libfiu's LD_PRELOAD cannot come before the ASan runtime of `make test`
        scenarios.append(("rocksdb-io-faults",
                          lambda: scenario_rocksdb_io_faults(max(share // 2, 6))))
    if ONLY:
        unknown = set(ONLY) - set(name for name, _ in scenarios)
        if unknown:
            print("chaos: no scenario %s (have: %s)" % (", ".join(sorted(unknown)), ", ".join(
                name for name, _ in scenarios)))
            sys.exit(2)
        scenarios = [(name, s) for name, s in scenarios if name in ONLY]
    t0 = time.time()
    total, hits, failed = 0, {}, 0
    for _, s in scenarios:
        try:
            st = s()
            total += st.crashes
            for k, v in st.hits.items():
                hits[k] = hits.get(k, 0) + v
        except Bad as ex:
            failed += 1
            print("  FAIL:", ex)
    print("failpoints hit: " + ", ".join("%s %d" % kv for kv in sorted(hits.items())))
    print("chaos: %d crashes/faults injected in %.0f s, %d scenarios failed (seed %d)" % (
        total, time.time() - t0, failed, SEED))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
