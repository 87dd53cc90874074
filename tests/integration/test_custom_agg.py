"""An aggregate defined in C (examples/custom_agg.c: the geometric mean of
value per sensor and window, through ember_job_aggregate_fn) against a Python
oracle over the same input: tumbling, sliding and session windows on event
time, batch by batch (the file source cuts batches of exactly max-records
lines). Then kill -9 at several moments and a restart give byte-identical
batch files; the tools read the job (its DIR/JOB declares the aggregate) and
`ember run` refuses to run it without the callbacks."""
import math
import os
import random
import signal
import subprocess
import time

from harness import EMBER, batch_files, check, ember, main, tmpdir, write

BATCH = 500  # max-records in examples/custom_agg.c
PROG = os.environ.get("CUSTOM_AGG", os.path.join(os.path.dirname(EMBER), "custom_agg"))
FIXED_ONE = 4294967296.0


def make_input(path, n=6000, seed=17, sensors=12, step=15, jitter=500, late_every=450):
    """sensor,ts,value lines: ~3% empty values, ~2% zero or negative (no
    logarithm), every late_every-th record 30 s behind."""
    rnd = random.Random(seed)
    base = 1_700_000_000_000
    lines, recs = [], []
    for i in range(n):
        t = base + i * step + rnd.randint(-jitter, jitter)
        if i % late_every == late_every - 1:
            t -= 30_000
        r = rnd.random()
        v = "" if r < 0.03 else ("%.3f" % -rnd.uniform(0, 5) if r < 0.04 else
                                 "0" if r < 0.05 else "%.3f" % rnd.uniform(0.5, 200))
        k = "s%02d" % rnd.randrange(sensors)
        lines.append("%s,%d,%s" % (k, t, v))
        recs.append((k, t, float(v) if v else None))
    write(path, "\n".join(lines) + "\n")
    return recs


# The accumulator: [count, n, log_sum], as count() and the C callbacks keep it.
def add(acc, v):
    acc = acc or [0, 0, 0]
    acc = [acc[0] + 1, acc[1], acc[2]]
    if v is not None and v > 0 and not math.isinf(v):
        acc[1] += 1
        acc[2] += math.floor(math.log(v) * FIXED_ONE + 0.5)
    return acc


def merge(a, b):
    if a is None or b is None:
        return a or b
    return [a[0] + b[0], a[1] + b[1], a[2] + b[2]]


def fmt(d):
    """The shortest text that reads back as d (Python's repr), as ember
    writes floats; repr's "1e+16" style exponents are "%g"-style there."""
    if d == int(d) and abs(d) < 1e15:
        return "%d" % d
    s = repr(d)
    if "e" in s:
        mant, exp = s.split("e")
        s = "%se%s%02d" % (mant, "-" if exp.startswith("-") else "+", abs(int(exp)))
    return s


def cells(acc):
    geo = "" if acc[1] == 0 else fmt(math.exp(float(acc[2]) / float(acc[1]) / FIXED_ONE))
    return [str(acc[0]), geo]


def simulate_panes(recs, size, slide, delay):
    panes, out, maxt = {}, [], None
    for b in range(0, len(recs), BATCH):
        wm_old = None if maxt is None else maxt - delay
        for k, t, v in recs[b:b + BATCH]:
            p = t // slide * slide
            if wm_old is not None and p + size <= wm_old:
                continue  # late: dropped
            panes[(k, p)] = add(panes.get((k, p)), v)
            maxt = t if maxt is None else max(maxt, t)
        wm_new = None if maxt is None else maxt - delay
        fire = set()
        for (k, p) in panes:
            for e in range(p + slide, p + size + 1, slide):
                if (wm_old is None or e > wm_old) and wm_new is not None and e <= wm_new:
                    fire.add((k, e))
        rows = []
        for k, e in sorted(fire):
            acc = None
            for p in range(e - size, e, slide):
                acc = merge(acc, panes.get((k, p)))
            rows.append([k, str(e - size), str(e), *cells(acc)])
        out.append(rows)
    return out


def simulate_sessions(recs, gap, delay):
    sessions, out, maxt = {}, [], None
    for b in range(0, len(recs), BATCH):
        wm_old = None if maxt is None else maxt - delay
        new = {}
        for k, t, v in recs[b:b + BATCH]:
            if wm_old is not None and t + gap <= wm_old:
                continue
            new.setdefault(k, []).append((t, v))
            maxt = t if maxt is None else max(maxt, t)
        wm_new = maxt - delay
        for k, evs in new.items():
            items = [(s[0], s[1], s[2], False) for s in sessions.get(k, [])]
            items += [(t, t, add(None, v), True) for t, v in evs]
            items.sort(key=lambda x: (x[0], not x[3]))
            merged = []
            for first, last, acc, is_new in items:
                if merged and first < merged[-1][1] + gap:
                    m = merged[-1]
                    merged[-1] = [m[0], max(m[1], last), merge(m[2], acc), m[3] or is_new]
                else:
                    merged.append([first, last, acc, is_new])
            sessions[k] = [[m[0], m[1], m[2]] for m in merged]
        rows = []
        for k in list(sessions):
            keep = []
            for s in sessions[k]:
                if s[1] + gap <= wm_new:
                    rows.append([k, str(s[0]), str(s[1] + gap), *cells(s[2])])
                else:
                    keep.append(s)
            sessions[k] = keep
        rows.sort(key=lambda r: (r[0], int(r[2]), int(r[1])))
        out.append(rows)
    return out


def run(d, interval="1ms", window=None, out="out"):
    args = [PROG, d + "/in.csv", d + "/ckpt", d + "/" + out, interval] + ([window] if window else [])
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "custom_agg failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
    return p.stderr


def check_against_oracle(d, want, out="out"):
    got = batch_files(d + "/" + out)
    check(len(got) == len(want), "%d batch files, oracle has %d batches" % (len(got), len(want)))
    total = nulls = 0
    for (b, header, rows), wrows in zip(got, want):
        check(header == ["sensor", "window_start", "window_end", "count", "geo_mean"],
              "batch %d header %s" % (b, header))
        check(rows == wrows, "batch %d: %d rows, oracle %d; first difference: %s" % (
            b, len(rows), len(wrows),
            next(((r, w) for r, w in zip(rows, wrows) if r != w), "(lengths)")))
        total += len(rows)
        nulls += sum(1 for r in rows if r[4] == "")
    return total, nulls


def test_tumbling_matches_oracle():
    d = tmpdir("cagg-tumble")
    recs = make_input(d + "/in.csv")
    run(d)
    n, _ = check_against_oracle(d, simulate_panes(recs, 10_000, 10_000, 1000))
    check(n > 50, "a real test: %d windows" % n)


def test_sliding_matches_oracle():
    d = tmpdir("cagg-slide")
    recs = make_input(d + "/in.csv", seed=5)
    run(d, window="sliding 6s every 2s on ts watermark 700ms")
    n, _ = check_against_oracle(d, simulate_panes(recs, 6000, 2000, 700))
    check(n > 200, "a real test: %d windows" % n)


def test_sessions_match_oracle():
    d = tmpdir("cagg-session")
    recs = make_input(d + "/in.csv", seed=9, sensors=40, step=40)
    run(d, window="session 1500ms on ts watermark 1s")
    n, nulls = check_against_oracle(d, simulate_sessions(recs, 1500, 1000))
    check(n > 200 and nulls > 0, "a real test: %d sessions, %d without a positive value" % (
        n, nulls))


def tsv_files(out_dir):
    res = {}
    for name in sorted(os.listdir(out_dir)):
        if name.endswith(".tsv") and ".tmp" not in name:
            with open(os.path.join(out_dir, name), "rb") as f:
                res[name] = f.read()
    return res


def test_kill_9_and_restart_give_the_same_files():
    d = tmpdir("cagg-kill")
    recs = make_input(d + "/in.csv", seed=23)
    clean = tmpdir("cagg-clean")
    os.symlink(d + "/in.csv", clean + "/in.csv")
    run(clean)
    want = tsv_files(clean + "/out")
    check(len(want) == (len(recs) + BATCH - 1) // BATCH, "%d batch files" % len(want))
    kills = 0
    rnd = random.Random(4)
    for target in (1, 3, 6, 8):  # kill once this many batch files exist
        p = subprocess.Popen([PROG, d + "/in.csv", d + "/ckpt", d + "/out", "40ms"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while p.poll() is None and time.time() < deadline:
            have = len(tsv_files(d + "/out")) if os.path.isdir(d + "/out") else 0
            if have >= target:
                time.sleep(rnd.uniform(0, 0.04))  # somewhere inside the next batch
                p.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.002)
        p.wait()
    check(kills >= 3, "only %d kills landed" % kills)
    err = run(d)
    check("committed batch" in err, "the restart recovers: " + err[-500:])
    got = tsv_files(d + "/out")
    check(sorted(got) == sorted(want), "batch files %s, clean run %s" % (sorted(got), sorted(want)))
    for name in want:
        check(got[name] == want[name], "%s differs from the clean run" % name)
    check_against_oracle(d, simulate_panes(recs, 10_000, 10_000, 1000))


def test_tools_read_the_job_but_run_refuses_it():
    d = tmpdir("cagg-tools")
    make_input(d + "/in.csv", n=2000)
    run(d)
    with open(d + "/ckpt/JOB") as f:
        job = f.read()
    check("aggregate_fn geo_mean fields=value state=16 type=float\n" in job, job)
    _, out, _ = ember("state", d + "/ckpt", "--op", "aggregate", "--format", "json", check_rc=0)
    check('"geo_mean": null' in out and '"count": ' in out, out[:500])
    ember("verify", d + "/ckpt", check_rc=0)
    rc, _, err = ember("run", d + "/ckpt/JOB", "--until-idle")
    check(rc != 0 and "aggregate_fn geo_mean is defined in C" in err, "rc %d: %s" % (rc, err))


if __name__ == "__main__":
    main([test_tumbling_matches_oracle, test_sliding_matches_oracle, test_sessions_match_oracle,
          test_kill_9_and_restart_give_the_same_files, test_tools_read_the_job_but_run_refuses_it])
