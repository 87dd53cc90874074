"""Windows through real `ember run` processes: tumbling, sliding and session
windows on event time with a watermark, late records (dropped and sent to a
file), emit=final and emit=update, processing-time windows, `having`, and
kill -9 at every step of the cycle. The oracle is a plain Python simulation
of the documented semantics over the same input, batch by batch (the file
source cuts batches of exactly max-records lines)."""
import os
import random

from harness import batch_files, check, close, ember, main, tmpdir, write

BATCH = 700


def make_input(path, n=6000, seed=7, keys=40, step=9, jitter=400, late_every=450):
    """key,ts,v lines: times advance `step` ms per record with jitter, and every
    `late_every`-th record is 30 s behind (late for any short window)."""
    rnd = random.Random(seed)
    base = 1_700_000_000_000
    lines = []
    for i in range(n):
        t = base + i * step + rnd.randint(-jitter, jitter)
        if late_every and i % late_every == late_every - 1:
            t -= 30_000
        lines.append("k%02d,%d,%.2f" % (rnd.randrange(keys), t, rnd.uniform(-50, 50)))
    write(path, "\n".join(lines) + "\n")
    return [(l.split(",")[0], int(l.split(",")[1]), float(l.split(",")[2]), l) for l in lines]


def window_job(d, spec, emit="", having="", extra=""):
    write(d + "/w.job", f"""job win
batch      interval=1ms max-records={BATCH}
checkpoint dir={d}/ckpt {extra}
source     file path={d}/in.csv
parse      csv fields=k,ts:int,v:float
key        k
window     {spec} {emit}
aggregate  count() sum(v) max(v)
{having}
sink       file dir={d}/out
""")
    return d + "/w.job"


def add(acc, v):
    if acc is None:
        return [1, v, v]
    return [acc[0] + 1, acc[1] + v, max(acc[2], v)]


def merge(a, b):
    if a is None or b is None:
        return a or b
    return [a[0] + b[0], a[1] + b[1], max(a[2], b[2])]


def simulate_panes(recs, size, slide, delay, emit):
    """Per batch, the rows ember must write: (key, start, end, count, sum, max)."""
    panes, out, late, maxt = {}, [], [], None
    for b in range(0, len(recs), BATCH):
        wm_old = None if maxt is None else maxt - delay
        touched = set()
        for k, t, v, line in recs[b:b + BATCH]:
            p = t // slide * slide
            if wm_old is not None and p + size <= wm_old:
                late.append(line)
                continue
            panes[(k, p)] = add(panes.get((k, p)), v)
            touched.add((k, p))
            maxt = t if maxt is None else max(maxt, t)
        wm_new = None if maxt is None else maxt - delay
        fire, upd = set(), set()
        for (k, p) in panes:
            for e in range(p + slide, p + size + 1, slide):
                if (wm_old is None or e > wm_old) and wm_new is not None and e <= wm_new:
                    fire.add((k, e))
                if emit == "update" and (k, p) in touched and (wm_old is None or e > wm_old):
                    upd.add((k, e))
        rows = []
        for k, e in sorted(upd if emit == "update" else fire):
            acc = None
            for p in range(e - size, e, slide):
                acc = merge(acc, panes.get((k, p)))
            rows.append((k, e - size, e, *acc))
        out.append(rows)
    return out, late


def simulate_sessions(recs, gap, delay, emit):
    sessions, out, late, maxt = {}, [], [], None
    for b in range(0, len(recs), BATCH):
        wm_old = None if maxt is None else maxt - delay
        new = {}
        for k, t, v, line in recs[b:b + BATCH]:
            if wm_old is not None and t + gap <= wm_old:
                late.append(line)
                continue
            new.setdefault(k, []).append((t, v))
            maxt = t if maxt is None else max(maxt, t)
        wm_new = maxt - delay
        changed = []
        for k, evs in new.items():
            items = [(s[0], s[1], s[2], False) for s in sessions.get(k, [])]
            items += [(t, t, [1, v, v], True) for t, v in evs]
            items.sort(key=lambda x: (x[0], not x[3]))
            merged = []
            for first, last, acc, is_new in items:
                if merged and first < merged[-1][1] + gap:
                    m = merged[-1]
                    merged[-1] = [m[0], max(m[1], last), merge(m[2], acc), m[3] or is_new]
                else:
                    merged.append([first, last, acc, is_new])
            sessions[k] = [[m[0], m[1], m[2]] for m in merged]
            changed += [(k, m[0], m[1] + gap, m[2]) for m in merged if m[3]]
        rows = []
        if emit == "update":
            rows = [(k, s, e, *acc) for k, s, e, acc in changed]
        for k in list(sessions):
            keep = []
            for s in sessions[k]:
                if s[1] + gap <= wm_new:
                    if emit != "update":
                        rows.append((k, s[0], s[1] + gap, *s[2]))
                else:
                    keep.append(s)
            sessions[k] = keep
        rows.sort(key=lambda r: (r[0], r[2], r[1]))
        out.append(rows)
    return out, late


def check_batches(d, want, header_tail=("count", "sum_v", "max_v")):
    got = batch_files(d + "/out")
    check(len(got) == len(want), "%d batch files, oracle has %d batches" % (len(got), len(want)))
    total = 0
    for (b, header, rows), wrows in zip(got, want):
        check(header == ["k", "window_start", "window_end", *header_tail],
              "batch %d header %s" % (b, header))
        check(len(rows) == len(wrows), "batch %d: %d rows, oracle %d" % (b, len(rows), len(wrows)))
        for r, w in zip(rows, wrows):
            ok = (r[0] == w[0] and int(r[1]) == w[1] and int(r[2]) == w[2] and int(r[3]) == w[3]
                  and close(float(r[4]), w[4]) and close(float(r[5]), w[5]))
            check(ok, "batch %d: row %s, oracle %s" % (b, r, w))
        total += len(rows)
    return total


def test_tumbling_event_time_with_late_file():
    d = tmpdir("win-tumble")
    recs = make_input(d + "/in.csv")
    j = window_job(d, "tumbling 2s on ts watermark 500ms late=file:%s/late.csv" % d)
    ember("run", j, "--until-idle", check_rc=0)
    want, late = simulate_panes(recs, 2000, 2000, 500, "final")
    n = check_batches(d, want)
    check(n > 500 and len(late) > 5, "a real test: %d windows, %d late" % (n, len(late)))
    with open(d + "/late.csv") as f:
        got_late = f.read().splitlines()
    check(got_late == late, "late file has %d lines, oracle %d" % (len(got_late), len(late)))


def test_sliding_event_time():
    d = tmpdir("win-slide")
    recs = make_input(d + "/in.csv", seed=11)
    ember("run", window_job(d, "sliding 3s every 1s on ts watermark 400ms"), "--until-idle",
          check_rc=0)
    want, late = simulate_panes(recs, 3000, 1000, 400, "final")
    n = check_batches(d, want)
    check(n > 1000 and late, "%d windows, %d late" % (n, len(late)))


def test_sliding_emit_update():
    d = tmpdir("win-update")
    recs = make_input(d + "/in.csv", seed=5)
    ember("run", window_job(d, "sliding 2s every 500ms on ts watermark 300ms", "emit=update"),
          "--until-idle", check_rc=0)
    want, _ = simulate_panes(recs, 2000, 500, 300, "update")
    check(check_batches(d, want) > 1000, "update mode emits every changed window")


def session_input(path, seed=3, users=25, n=5000):
    """Users click in bursts: gaps inside a burst < 2 s, between bursts 5-20 s."""
    rnd = random.Random(seed)
    t = {u: 1_700_000_000_000 + rnd.randint(0, 5000) for u in range(users)}
    recs = []
    for i in range(n):
        u = rnd.randrange(users)
        t[u] += rnd.randint(5000, 20000) if rnd.random() < 0.08 else rnd.randint(10, 1900)
        recs.append((u, t[u]))
    recs.sort(key=lambda r: r[1] + rnd.randint(-800, 800))  # out of order, bounded
    lines = ["u%02d,%d,%.2f" % (u, ts, rnd.uniform(0, 10)) for u, ts in recs]
    write(path, "\n".join(lines) + "\n")
    return [(l.split(",")[0], int(l.split(",")[1]), float(l.split(",")[2]), l) for l in lines]


def test_session_event_time():
    for emit in ("final", "update"):
        d = tmpdir("win-session")
        recs = session_input(d + "/in.csv")
        ember("run", window_job(d, "session 3s on ts watermark 1s", "emit=" + emit),
              "--until-idle", check_rc=0)
        want, _ = simulate_sessions(recs, 3000, 1000, emit)
        n = check_batches(d, want)
        check(n > 300, "%s: %d sessions" % (emit, n))


def test_processing_time_and_having():
    d = tmpdir("win-proc")
    recs = make_input(d + "/in.csv", n=3000, late_every=0)
    j = window_job(d, "tumbling 1h", "emit=update", having="having count >= 3")
    ember("run", j, "--until-idle", check_rc=0)
    latest = {}
    for b, header, rows in batch_files(d + "/out"):
        for r in rows:
            check(int(r[3]) >= 3, "having count >= 3 let through %s" % r)
            check(int(r[2]) - int(r[1]) == 3600_000 and int(r[1]) % 3600_000 == 0,
                  "processing-time window bounds %s" % r)
            latest[(r[0], r[1])] = int(r[3])
    per_key = {}
    for (k, _), c in latest.items():
        per_key[k] = per_key.get(k, 0) + c
    want = {}
    for k, _, _, _ in recs:
        want[k] = want.get(k, 0) + 1
    check(per_key == want, "counts per key over processing-time windows %s != %s" % (
        sorted(per_key.items())[:3], sorted(want.items())[:3]))


def test_kill9_at_every_step():
    """Crash at every cycle step in turn, restart, and the batch files must be
    exactly the oracle's: windows fire once, with the same values."""
    d = tmpdir("win-crash")
    recs = make_input(d + "/in.csv", n=20000, seed=21)
    j = window_job(d, "sliding 2s every 1s on ts watermark 500ms late=file:%s/late.csv" % d,
                   extra="every=3 keep=2")
    points = ["wal.after_append", "transform.after", "sink.before_commit",
              "state.before_commit", "state.after_commit", "snapshot.mid_copy"]
    crashes = 0
    for i in range(40):
        fp = "%s=crash@%d" % (points[i % len(points)], 1 + i % 3)
        rc, _, err = ember("run", j, "--until-idle", env={"EMBER_FAILPOINTS": fp})
        if rc == 0:
            break
        check(rc == -9, "crash failpoint: exit %d\n%s" % (rc, err[-2000:]))
        crashes += 1
    ember("run", j, "--until-idle", check_rc=0)
    want, late = simulate_panes(recs, 2000, 1000, 500, "final")
    check_batches(d, want)
    with open(d + "/late.csv") as f:
        check(f.read().splitlines() == late, "late file after crashes")
    check(crashes >= 10, "only %d crashes" % crashes)


def test_wavg_count_distinct_top():
    """Per symbol and 5 s tumbling window: wavg (a VWAP), approximate distinct
    users (HyperLogLog, within 3 standard errors), and only the 3 symbols
    with the most trades of each window."""
    d = tmpdir("win-top")
    rnd = random.Random(17)
    base = 1_700_000_000_000
    lines, recs = [], []
    for i in range(40000):
        sym = "S%02d" % min(int(rnd.expovariate(0.25)), 19)
        t = base + i + rnd.randint(-20, 20)
        price, qty, user = round(rnd.uniform(10, 20), 2), rnd.randint(1, 100), rnd.randrange(5000)
        lines.append("%s,%.2f,%d,u%d,%d" % (sym, price, qty, user, t))
        recs.append((sym, price, qty, user, t))
    write(d + "/in.csv", "\n".join(lines) + "\n")
    write(d + "/w.job", f"""job top
batch      interval=1ms max-records=4000
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=sym,price:float,qty:int,user,ts:int
key        sym
window     tumbling 5s on ts watermark 100ms
aggregate  count() wavg(price, qty) count_distinct(user, approx)
top        3 by count
sink       file dir={d}/out
""")
    ember("run", d + "/w.job", "--until-idle", check_rc=0)
    win = {}
    for sym, price, qty, user, t in recs:
        w = win.setdefault((t // 5000 * 5000, sym), [0, 0.0, 0, set()])
        w[0] += 1
        w[1] += price * qty
        w[2] += qty
        w[3].add(user)
    maxt = max(r[4] for r in recs)
    closed = sorted({s for s, _ in win if s + 5000 <= maxt - 100})
    files = batch_files(d + "/out")
    got = [r for _, _, rows in files for r in rows]
    check(files[-1][1] == ["sym", "window_start", "window_end", "count", "wavg_price",
                "count_distinct_user"], "header %s" % files[-1][1])
    want_rows = 0
    for s in closed:
        ranked = sorted(((-w[0], sym) for (st, sym), w in win.items() if st == s))[:3]
        rows = [r for r in got if int(r[1]) == s]
        check([r[0] for r in rows] == [sym for _, sym in ranked],
              "window %d: top 3 %s, oracle %s" % (s, [r[0] for r in rows], ranked))
        for r in rows:
            c, pq, q, users = win[(s, r[0])]
            check(int(r[3]) == c and close(float(r[4]), pq / q), "row %s vs %d %f" % (r, c, pq / q))
            err = abs(int(r[5]) - len(users)) / len(users)
            check(err < 3 * 1.04 / 16, "distinct users %s, exact %d" % (r[5], len(users)))
        want_rows += len(rows)
    check(want_rows == len(got) and len(closed) >= 6, "%d rows in %d windows" % (
        len(got), len(closed)))


def test_bad_window_specs():
    d = tmpdir("win-bad")
    write(d + "/in.csv", "a,1,1\n")
    cases = [
        ("sliding 10s every 3s", "slide must divide"),
        ("tumbling 10s watermark 1s", "watermark needs event time"),
        ("tumbling 10s on k", "must be an int"),
        ("hopping 10s", "expected a window kind"),
        ("tumbling ten", "positive duration"),
        ("tumbling 1s on ts emit=sometimes", "unexpected 'emit=sometimes'"),
    ]
    for spec, msg in cases:
        rc, _, err = ember("run", window_job(d, spec), "--until-idle")
        check(rc == 2 and msg in err and "w.job:7:" in err,
              "window %s: exit %d, %s" % (spec, rc, err.strip()))


if __name__ == "__main__":
    main([test_tumbling_event_time_with_late_file, test_sliding_event_time,
          test_sliding_emit_update, test_session_event_time, test_processing_time_and_having,
          test_kill9_at_every_step, test_wavg_count_distinct_top, test_bad_window_specs])
