"""`ember top DIR`: a real `ember run` writes progress.jsonl, then `ember top
DIR --once` prints one frame whose numbers must equal sums and values
computed here over progress.jsonl (and over the input for records in); into
a pipe without --once it follows the file (a batch appended by a second run
shows up) and ends by itself when the file stops growing; bad usage exits 2,
a directory that is not a checkpoint exits 1."""
import json
import os
import pty
import re
import select
import signal
import subprocess
import time

from harness import EMBER, check, ember, main, tmpdir, write

N = 5000
BATCH = 400
KEYS = 23


def make_job(d, count=N):
    with open(d + "/in.csv", "w") as f:
        for i in range(count):
            # every 97th record does not parse: bad records to count
            f.write("k%02d,%s\n" % (i % KEYS, "x" if i % 97 == 5 else i))
    write(d + "/t.job", f"""job toptest
batch      interval=1ms max-records={BATCH}
checkpoint dir={d}/ckpt every=4 keep=2
source     file path={d}/in.csv
parse      csv fields=k,v:int on-error=skip
key        k
aggregate  count() sum(v)
sink       file dir={d}/out
""")
    return d + "/t.job"


def progress(d):
    return [json.loads(l) for l in open(d + "/ckpt/progress.jsonl")]


def field(frame, label, pattern):
    m = re.search(r"^%s\s+%s" % (re.escape(label), pattern), frame, re.M)
    check(m, "no %r line matching %r in:\n%s" % (label, pattern, frame))
    return m.groups()


def test_once_matches_progress_jsonl():
    d = tmpdir("top")
    ember("run", make_job(d), "--until-idle", check_rc=0)
    lines = progress(d)
    _, out, _ = ember("top", d + "/ckpt", "--once", check_rc=0)
    check("job toptest" in out.splitlines()[0], out)
    (batches,) = field(out, "batches", r"(\d+)")
    check(int(batches) == len(lines) == -(-N // BATCH), "batches %s, lines %d" % (batches, len(lines)))
    rin, kept, rows, bad, late = map(int, field(
        out, "records", r"in (\d+)  kept (\d+)  out (\d+)  bad (\d+)  late (\d+)"))
    check(rin == sum(l["records_in"] for l in lines) == N, "records in %d" % rin)
    check(kept == sum(l["records_kept"] for l in lines), "kept %d" % kept)
    check(rows == sum(l["rows"] for l in lines), "out %d" % rows)
    want_bad = sum(1 for i in range(N) if i % 97 == 5)
    check(bad == sum(l["bad_records"] for l in lines) == want_bad, "bad %d, want %d" % (bad, want_bad))
    check(late == sum(l["late_records"] for l in lines) == 0, "late %d" % late)
    last = lines[-1]
    keys, nbytes = map(int, field(out, "state", r"keys (\d+)  bytes (\d+)"))
    check(keys == last["state_keys"] == KEYS, "keys %d" % keys)
    check(nbytes == last["state_bytes"], "bytes %d vs %d" % (nbytes, last["state_bytes"]))
    (offs,) = field(out, "offsets", r"(.*)$")
    check(offs == " ".join("p%s=%d" % kv for kv in last["offsets"].items()), offs)
    check(last["offsets"]["0"] == os.path.getsize(d + "/in.csv"), "offset %r" % last["offsets"])
    rate, ms = field(out, "processing", r"([\d.]+) rec/s  ([\d.]+) ms")
    check(abs(float(rate) - last["processing_rate"]) <= 0.05 + 1e-9, "processing rate %s" % rate)
    check(abs(float(ms) - last["processing_ms"]) <= 0.0005, "processing ms %s" % ms)
    (delay,) = field(out, "sched delay", r"([\d.]+) ms")
    check(abs(float(delay) - last["scheduling_delay_ms"]) <= 0.0005, "delay %s" % delay)
    rate_now, rate_avg, n_avg = field(out, "input rate", r"([\d.]+) rec/s  \(avg ([\d.]+) over (\d+)")
    window = lines[-60:]
    rated = [l["input_rate"] for l in window if l["input_rate"] is not None]
    check(int(n_avg) == len(window), "window %s" % n_avg)
    check(abs(float(rate_now) - last["input_rate"]) <= 0.05 + 1e-9, "input rate %s" % rate_now)
    check(abs(float(rate_avg) - sum(rated) / len(rated)) <= 0.05 + 1e-9, "avg %s" % rate_avg)
    steps = dict(re.findall(r" (\w+) ([\d.]+)", field(out, "last batch", r"(\d+:.*) ms$")[0]))
    for s in ("wal", "read", "transform", "state", "sink", "commit", "snapshot"):
        # printed to 0.01: half of that off at most (plus the binary rounding of 0.005)
        check(abs(float(steps[s]) - last[s + "_ms"]) <= 0.005 + 1e-9, "%s: %s vs %r" % (s, steps[s], last))
    spark = [l for l in out.splitlines() if l.startswith("input rate") and "last" in l][0]
    bars = re.search(r"input rate\s+(\S+)\s", spark).group(1)
    check(len(bars) == len(window), "sparkline %r: %d bars for %d batches" % (bars, len(bars), len(window)))


def test_pipe_follows_the_file_and_ends_by_itself():
    d = tmpdir("topf")
    job = make_job(d, count=800)
    ember("run", job, "--until-idle", check_rc=0)
    before = len(progress(d))
    p = subprocess.Popen([EMBER, "top", d + "/ckpt", "--interval", "100"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    with open(d + "/in.csv", "a") as f:  # a second run reads what was added
        for i in range(800, 1000):
            f.write("k%02d,%d\n" % (i % KEYS, i))
    ember("run", job, "--until-idle", check_rc=0)
    start = time.time()
    out, err = p.communicate(timeout=30)
    took = time.time() - start
    check(p.returncode == 0, "exit %d: %s" % (p.returncode, err))
    check(took < 15, "ended %.1f s after the last batch" % took)
    frames = [f for f in out.split("ember top ") if f]
    after = len(progress(d))
    check(after > before, "the second run added batches")
    counts = [int(field(f, "batches", r"(\d+)")[0]) for f in frames]
    check(counts[0] == before and counts[-1] == after, "frames say %r, want %d then %d" %
          (counts, before, after))
    rin = int(field(frames[-1], "records", r"in (\d+)")[0])
    check(rin == 1000, "records in %d after both runs" % rin)


def read_pty(fd, want, timeout):
    """Bytes from the terminal until `want` shows up or timeout (bounded)."""
    got, end = b"", time.time() + timeout
    while want not in got and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                got += os.read(fd, 65536)
            except OSError:  # the other side closed
                break
    return got


def test_terminal_redraws_until_q_or_ctrl_c():
    d = tmpdir("toptty")
    ember("run", make_job(d, count=800), "--until-idle", check_rc=0)
    want = str(len(progress(d))).encode()
    for stop in (b"q", None):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(EMBER, [EMBER, "top", d + "/ckpt", "--interval", "100"])
        try:
            out = read_pty(fd, b"batches      " + want, 10)
            out += read_pty(fd, b"\033[H\033[2J", 2)  # a second frame: it redraws
            check(out.count(b"\033[H\033[2J") >= 2, "frames on the terminal: %r" % out[-500:])
            check(b"(q quits)" in out, "the header says how to quit: %r" % out[:300])
            if stop:
                os.write(fd, stop)
            else:
                os.kill(pid, signal.SIGINT)
            end, done, status = time.time() + 5, 0, 0
            while time.time() < end and not done:
                read_pty(fd, b"\0", 0.1)
                done, status = os.waitpid(pid, os.WNOHANG)
            check(done == pid and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
                  "%s: still running or failed (%r)" % (stop or "SIGINT", status))
            pid = 0
        finally:
            if pid:  # a failed check: do not leave it running
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)


def test_usage_and_bad_directories():
    rc, _, err = ember("top")
    check(rc == 2, "no DIR: exit %d" % rc)
    rc, _, err = ember("top", "/tmp", "--interval", "x")
    check(rc == 2 and "--interval" in err, "bad interval: %d %s" % (rc, err))
    rc, _, err = ember("top", "/tmp", "--nope")
    check(rc == 2, "unknown flag: exit %d" % rc)
    d = tmpdir("topbad")
    rc, _, err = ember("top", d, "--once")
    check(rc == 1 and "JOB" in err, "not a checkpoint: %d %s" % (rc, err))
    rc, out, _ = ember("top", "--help")
    check(rc == 0 and "--once" in out, "help")
    # a checkpoint before its first batch: a frame that says so
    write(d + "/JOB", "job empty\nsource file path=%s/x\nparse csv fields=a\nsink stdout\n" % d)
    rc, out, err = ember("top", d, "--once")
    check(rc == 0 and "no batches yet" in out, "empty: %d %s %s" % (rc, out, err))


if __name__ == "__main__":
    main([test_once_matches_progress_jsonl, test_pipe_follows_the_file_and_ends_by_itself,
          test_terminal_redraws_until_q_or_ctrl_c, test_usage_and_bad_directories])
