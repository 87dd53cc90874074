"""--drain: the end of bounded input emits every open window (Flink's end of
input, Beam's drain), survives a crash inside the drain batch, and later
records count as late. Windows are checked against Python over the input."""
import glob
import os
import random
import re
import signal
import subprocess
import time

from harness import EMBER, check, ember, main, tmpdir, write


def make_input(path, n, seed):
    rnd = random.Random(seed)
    rows = [("k%d" % rnd.randrange(4), 700 * i + rnd.randrange(300)) for i in range(n)]
    write(path, "".join("%s,%d\n" % r for r in rows))
    return rows


def windows_oracle(rows, size_ms):
    out = {}
    for k, ts in rows:
        w = (k, ts // size_ms * size_ms)
        out[w] = out.get(w, 0) + 1
    return out


def job_text(d, extra=""):
    return f"""job dr
batch interval=1ms max-records=400
source file path={d}/in.csv
parse csv fields=k,ts:int
key k
window tumbling 10s on ts watermark 2s {extra}
aggregate count() as n
sink file dir={d}/out
"""


def emitted(d):
    got = {}
    for path in sorted(glob.glob(d + "/out/*.tsv")):
        for line in open(path).read().splitlines()[1:]:
            k, start, _, n = line.split("\t")
            check((k, int(start)) not in got, "window %s %s emitted twice" % (k, start))
            got[(k, int(start))] = int(n)
    return got


def test_drain_emits_every_window():
    d = tmpdir("drain")
    rows = make_input(d + "/in.csv", 2000, 3)
    write(d + "/j.job", job_text(d))
    ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    want = windows_oracle(rows, 10000)
    before = emitted(d)
    check(set(before) < set(want), "without --drain the newest windows stay open")
    _, _, err = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", "--drain",
                      check_rc=0)
    check(re.search(r"drain: batch \d+ emitted every open window", err), err)
    check(emitted(d) == want, "after the drain every window, with its count")


def test_crash_in_the_drain_batch_replays_it():
    ref, d = tmpdir("drainref"), tmpdir("draincrash")
    for x in (ref, d):
        make_input(x + "/in.csv", 1500, 9)
        write(x + "/j.job", job_text(x))
    ember("run", ref + "/j.job", "--dir", ref + "/ck", "--until-idle", "--drain", check_rc=0)
    batches = len(glob.glob(ref + "/out/*.tsv"))
    env = dict(os.environ, EMBER_FAILPOINTS="state.before_commit=crash@%d" % batches)
    rc, _, _ = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", "--drain", env=env)
    check(rc != 0, "killed in the drain batch")
    _, wal, _ = ember("wal", d + "/ck")
    check(re.search(r"DRAIN\s+%d\b" % batches, wal), "the WAL marks batch %d DRAIN" % batches)
    _, _, err = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    check("batch %d (replay)" % batches in err, err)
    for path in sorted(glob.glob(ref + "/out/*.tsv")):
        other = d + "/out/" + os.path.basename(path)
        check(open(path).read() == open(other).read(), "%s differs" % os.path.basename(path))


def test_records_after_a_drain_are_late():
    d = tmpdir("drainlate")
    make_input(d + "/in.csv", 500, 4)
    write(d + "/j.job", job_text(d))
    ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", "--drain", check_rc=0)
    with open(d + "/in.csv", "a") as f:
        f.write("k1,9999999\nk2,10000000\nk3,1\n")
    _, _, err = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    check("the job was drained at batch" in err, err)
    late = sum(int(x) for x in re.findall(r" late (\d+)", err))
    check(late == 3, "3 records after the drain are late, got %d: %s" % (late, err))


def test_sigterm_drains():
    d = tmpdir("drainterm")
    rows = make_input(d + "/in.csv", 800, 6)
    write(d + "/j.job", job_text(d))
    p = subprocess.Popen([EMBER, "run", d + "/j.job", "--dir", d + "/ck", "--drain"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(glob.glob(d + "/out/*.tsv")) < 2:
        time.sleep(0.05)
    time.sleep(0.3)  # the input is all read: the job idles
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    check(p.returncode == 0, "rc %d: %s" % (p.returncode, err))
    check("emitted every open window" in err, err)
    check(emitted(d) == windows_oracle(rows, 10000), "SIGTERM with --drain emits every window")


if __name__ == "__main__":
    main([test_drain_emits_every_window, test_crash_in_the_drain_batch_replays_it,
          test_records_after_a_drain_are_late, test_sigterm_drains])
