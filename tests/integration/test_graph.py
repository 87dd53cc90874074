"""The dataflow graph (issue 14): named streams, a union of two sources with
their watermarks, fan-out sinks, a chained aggregate, retractions over an
updating stream, idleness, and the load-time messages. Every output is
checked against Python over the same input."""
import json
import os
import random

from harness import ROOT, batch_files, check, ember, main, state_json, tmpdir, write

MINUTE = 60000


def make_inputs(d, n_views, n_clicks, seed):
    """Two sources whose event times rise with jitter below the 5 s
    watermark delay, so no record is ever late: every window is complete."""
    rnd = random.Random(seed)
    pages = ["Home", "home", "CART", "cart", "Search", "", "help"]
    users = ["u%d" % i for i in range(12)]
    views, clicks = [], []
    t = 1000
    for _ in range(n_views):
        t += rnd.randrange(0, 900)
        views.append((rnd.choice(users), rnd.choice(pages), t + rnd.randrange(-2000, 2000)))
    t = 3000
    for _ in range(n_clicks):
        t += rnd.randrange(0, 1500)
        clicks.append((rnd.choice(users), rnd.choice(pages), t + rnd.randrange(-2000, 2000)))
    write(d + "/views.csv", "".join("%s,%s,%d\n" % v for v in views))
    write(d + "/clicks.jsonl",
          "".join(json.dumps({"user": u, "page": p, "ts": ts}) + "\n" for u, p, ts in clicks))
    return views, clicks


def example_text(d):
    """The issue's example as written, its paths moved into d."""
    with open(os.path.join(ROOT, "examples", "pages.job")) as f:
        text = f.read()
    text = text.replace("./ckpt/", d + "/ckpt/").replace("./out/", d + "/out/")
    text = text.replace("path=views.csv", "path=%s/views.csv" % d)
    return text.replace("path=clicks.jsonl", "path=%s/clicks.jsonl" % d)


def oracle(views, clicks):
    raw = [(u, p.lower(), ts) for u, p, ts in views + clicks if p != ""]
    hits = {}
    for u, p, ts in raw:
        w = ts // MINUTE * MINUTE
        c, us = hits.get((p, w), (0, set()))
        us.add(u)
        hits[(p, w)] = (c + 1, us)
    best = {}
    for (p, w), (c, _) in hits.items():
        b, tot = best.get(w, (0, 0))
        best[w] = (max(b, c), tot + c)
    return raw, hits, best


def rows_of(out_dir):
    return [r for _, _, rs in batch_files(out_dir) for r in rs]


def check_example(d, views, clicks):
    raw, hits, best = oracle(views, clicks)
    got_raw = []
    for name in sorted(os.listdir(d + "/out/raw")):
        if name.endswith(".jsonl") or name.endswith(".json"):
            with open(os.path.join(d, "out/raw", name)) as f:
                got_raw += [json.loads(l) for l in f if l.strip()]
    check(sorted((r["user"], r["page"], r["ts"]) for r in got_raw) == sorted(raw),
          "raw: %d rows, want %d" % (len(got_raw), len(raw)))
    got = {}
    for r in rows_of(d + "/out/hits"):
        key = (r[0], int(r[1]))
        check(key not in got, "window %s emitted twice (emit=final)" % (key,))
        check(int(r[2]) == key[1] + MINUTE, "window_end of %s is %s" % (key, r[2]))
        got[key] = (int(r[3]), int(r[4]))
    check(set(got) == set(hits), "hits windows %s, want %s" % (sorted(got)[:5], sorted(hits)[:5]))
    for k, (c, users) in hits.items():
        check(got[k][0] == c, "hits of %s: %d, want %d" % (k, got[k][0], c))
        check(abs(got[k][1] - len(users)) <= max(1, len(users) // 10),
              "users of %s: %d, want about %d" % (k, got[k][1], len(users)))
    latest = {}
    for r in rows_of(d + "/out/best"):
        latest[int(r[0])] = (int(r[1]), int(r[2]))
    check(latest == best, "best: %s, want %s" % (sorted(latest.items())[:4],
                                                   sorted(best.items())[:4]))


def test_example_as_written():
    d = tmpdir("graph")
    views, clicks = make_inputs(d, 3000, 1500, 7)
    text = example_text(d).replace("interval=500ms", "interval=1ms max-records=400")
    write(d + "/pages.job", text)
    _, out, err = ember("run", d + "/pages.job", "--until-idle", "--drain", check_rc=0)
    check_example(d, views, clicks)
    check("window_start" in out, "stdout sink printed nothing")


def test_example_replay_is_byte_identical():
    """A kill after the sinks wrote and before the commit: the replay writes
    the same bytes into every sink's files."""
    outs = []
    for crash in (False, True):
        d = tmpdir("graph-replay")
        views, clicks = make_inputs(d, 1200, 600, 11)
        write(d + "/pages.job", example_text(d).replace("interval=500ms", "interval=1ms max-records=300"))
        if crash:
            rc, _, _ = ember("run", d + "/pages.job", "--until-idle",
                             env={"EMBER_FAILPOINTS": "state.before_commit=crash@3"})
            check(rc != 0, "the failpoint did not stop the run")
        ember("run", d + "/pages.job", "--until-idle", "--drain", check_rc=0)
        check_example(d, views, clicks)
        files = {}
        for sub in ("raw", "hits", "best"):
            for name in sorted(os.listdir(d + "/out/" + sub)):
                if not name.startswith("."):
                    with open(os.path.join(d, "out", sub, name), "rb") as f:
                        files[sub + "/" + name] = f.read()
        outs.append(files)
    check(outs[0] == outs[1], "a crashed and recovered run wrote other bytes: %s" %
          sorted(k for k in outs[0] if outs[0].get(k) != outs[1].get(k))[:5])


def test_example_with_kafka_as_second_source():
    """clicks come from a topic of `ember broker` instead of a file."""
    import subprocess
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from test_kafka import Broker
    d = tmpdir("graph-kafka")
    views, clicks = make_inputs(d, 2000, 1000, 5)
    broker = Broker("clicks:1")  # one partition: the clicks keep their order
    try:
        with open(d + "/clicks.jsonl") as f:
            p = subprocess.run(["kcat", "-P", "-b", broker.addr, "-t", "clicks"], stdin=f,
                               capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "kcat -P: " + p.stderr[-500:])
        text = example_text(d).replace("interval=500ms", "interval=20ms max-records=500")
        text = text.replace("source     file path=%s/clicks.jsonl" % d,
                            "source     kafka brokers=%s topic=clicks" % broker.addr)
        check("source     kafka" in text, "the example has no clicks file source to replace")
        write(d + "/pages.job", text)
        ember("run", d + "/pages.job", "--until-idle", "--drain", check_rc=0)
        check_example(d, views, clicks)
    finally:
        broker.stop()


def test_retraction_over_a_running_aggregate():
    """totals (a running count per user) updates its rows; dist counts users
    per total and must retract a user's old total before adding the new."""
    d = tmpdir("graph-retract")
    rnd = random.Random(3)
    users = [rnd.choice(["a", "b", "c", "d", "e", "f"]) for _ in range(2000)]
    amounts = [rnd.randrange(1, 50) for _ in users]
    write(d + "/in.csv", "".join("%s,%d\n" % r for r in zip(users, amounts)))
    write(d + "/j.job", f"""job retract
batch interval=1ms max-records=97
checkpoint dir={d}/ckpt
stream totals
source file path={d}/in.csv
parse csv fields=user,amount:int
key user
aggregate count() as n, sum(amount) as spent
sink file dir={d}/out/totals
stream dist from totals
key n
aggregate count() as users, sum(spent) as spent, avg(spent) as mean
sink file dir={d}/out/dist
""")
    ember("run", d + "/j.job", "--until-idle", check_rc=0)
    n, spent = {}, {}
    for u, a in zip(users, amounts):
        n[u] = n.get(u, 0) + 1
        spent[u] = spent.get(u, 0) + a
    want = {}
    for u in n:
        c, s = want.get(n[u], (0, 0))
        want[n[u]] = (c + 1, s + spent[u])
    latest = {}
    for r in rows_of(d + "/out/dist"):
        latest[int(r[0])] = (int(r[1]), int(r[2]))
    # ember state decodes each node's own family: node 0 is totals
    st = {r["user"]: (r["n"], r["spent"]) for r in state_json(d + "/ckpt", "aggregate.0")}
    check(st == {u: (n[u], spent[u]) for u in n}, "ember state --op aggregate.0: %s" %
          sorted(st.items())[:3])
    # a total no user has any more ends at 0 users
    now = {k: v for k, v in latest.items() if v[0] != 0}
    check(now == want, "users per total %s, want %s" % (sorted(now.items())[:6],
                                                        sorted(want.items())[:6]))


def test_retraction_over_emit_update_windows():
    """Windows with emit=update re-emit a window each batch it changes; the
    aggregate after them takes the window's previous row back first, so
    sum(n) per page ends at the records in every window holding them
    (tumbling: once, sliding 10s every 5s: twice) and count() at the number
    of windows."""
    for win, per_record in (("tumbling 10s", 1), ("sliding 10s every 5s", 2)):
        d = tmpdir("graph-retract-win")
        rnd = random.Random(len(win))
        t, rows = 0, []
        for _ in range(3000):
            t += rnd.randrange(0, 40)
            rows.append((rnd.choice("abcd"), t + rnd.randrange(0, 500)))
        write(d + "/in.csv", "".join("%s,%d\n" % r for r in rows))
        write(d + "/j.job", f"""job rw
batch interval=1ms max-records=113
checkpoint dir={d}/ckpt
stream up
source file path={d}/in.csv
parse csv fields=page,ts:int
watermark ts 1s
key page
window {win} emit=update
aggregate count() as n
stream tot from up
key page
aggregate sum(n) as total, count() as windows
sink file dir={d}/out
""")
        ember("run", d + "/j.job", "--until-idle", "--drain", check_rc=0)
        latest = {}
        for r in rows_of(d + "/out"):
            latest[r[0]] = (int(r[1]), int(r[2]))
        want = {}
        for page, ts in rows:
            starts = {ts // 10000 * 10000} if per_record == 1 else {
                ts // 5000 * 5000, ts // 5000 * 5000 - 5000}
            c, ws = want.get(page, (0, set()))
            ws |= {(page, s) for s in starts}
            want[page] = (c + per_record, ws)
        want = {p: (c, len(ws)) for p, (c, ws) in want.items()}
        check(latest == want, "%s: %s, want %s" % (win, sorted(latest.items()), sorted(want.items())))


def test_idle_input_lets_the_union_watermark_advance():
    d = tmpdir("graph-idle")
    write(d + "/a.csv", "".join("x,%d\n" % (1000 * i) for i in range(400)))
    write(d + "/b.csv", "y,500\n")
    results = {}
    for idle in ("", " idle=100ms"):
        sub = d + ("/idle" if idle else "/plain")
        os.makedirs(sub)
        write(sub + "/j.job", f"""job idle
batch interval=20ms max-records=10
checkpoint dir={sub}/ckpt
stream a
source file path={d}/a.csv
parse csv fields=k,ts:int
watermark ts 1s
stream b
source file path={d}/b.csv
parse csv fields=k,ts:int
watermark ts 1s{idle}
stream u from a, b
key k
window tumbling 10s
aggregate count() as n
sink file dir={sub}/out
""")
        ember("run", sub + "/j.job", "--until-idle", check_rc=0)
        results[idle] = rows_of(sub + "/out")
    check(results[""] == [], "without idleness b holds the union's watermark at 0s, "
          "yet %d windows closed" % len(results[""]))
    closed = {(r[0], int(r[1])): int(r[3]) for r in results[" idle=100ms"]}
    check(len(closed) >= 10, "with idle=100ms only %d windows closed" % len(closed))
    for (k, w), c in closed.items():
        want = 10 if k == "x" else 1  # y has one record, at 0.5 s
        check(c == want and (k == "x" or w == 0), "window %s,%d has %d records, want %d" %
              (k, w, c, want))


def join_inputs(d, seed, n=300):
    rnd = random.Random(seed)
    sides = {}
    for name in ("a", "b"):
        t, rows = 0, []
        for i in range(n):
            t += rnd.randrange(0, 400)
            rows.append(("k%d" % rnd.randrange(5), i, t + rnd.randrange(0, 300)))
        write("%s/%s.csv" % (d, name), "".join("%s,%d,%d\n" % r for r in rows))
        sides[name] = rows
    return sides["a"], sides["b"]


def join_job(d, cond, extra=""):
    return f"""job jj
batch interval=1ms max-records=37
checkpoint dir={d}/ckpt
stream a
source file path={d}/a.csv
parse csv fields=k,id:int,ts:int
watermark ts 1s
stream b
source file path={d}/b.csv
parse csv fields=k,id:int,ts:int
watermark ts 1s
stream j join a, b on a.k = b.k {cond}
select a.k as k, a.id as aid, b.id as bid{extra}
sink file dir={d}/out
"""


def test_stream_joins_against_all_pairs():
    """Interval (within, between) and tumbling-window joins, inner and
    outer, through the graph: every pair once, outer rows once with NULLs."""
    cases = [
        ("within 2s type=left", lambda x, y: abs(x[2] - y[2]) <= 2000, "left"),
        ("and b.ts between a.ts - 1s and a.ts + 3s", lambda x, y: -1000 <= y[2] - x[2] <= 3000,
         "inner"),
        ("window tumbling 5s type=full", lambda x, y: x[2] // 5000 == y[2] // 5000, "full"),
    ]
    for cond, match, kind in cases:
        d = tmpdir("graph-join")
        A, B = join_inputs(d, len(cond))
        write(d + "/j.job", join_job(d, cond))
        ember("run", d + "/j.job", "--until-idle", "--drain", check_rc=0)
        want = []
        for x in A:
            m = [y for y in B if y[0] == x[0] and match(x, y)]
            want += [(x[0], str(x[1]), str(y[1])) for y in m]
            if not m and kind in ("left", "full"):
                want.append((x[0], str(x[1]), ""))
        if kind == "full":
            for y in B:
                if not any(x[0] == y[0] and match(x, y) for x in A):
                    want.append(("", "", str(y[1])))
        got = [tuple(r) for r in rows_of(d + "/out")]
        check(sorted(got) == sorted(want), "join %s: %d rows, want %d (%s)" % (
            cond, len(got), len(want), sorted(set(want) ^ set(got))[:4]))


def expect_load_error(text, *words):
    d = tmpdir("graph-err")
    write(d + "/in.csv", "a,1\n")
    write(d + "/j.job", text.replace("IN", d + "/in.csv"))
    rc, _, err = ember("run", d + "/j.job", "--until-idle")
    check(rc in (1, 2), "exit %d for a bad graph" % rc)
    for w in words:
        check(w in err, "message %r does not say %r" % (err.strip(), w))


def test_load_time_messages():
    expect_load_error("""job e
stream a
source file path=IN
parse csv fields=k,v:int
stream b
source file path=IN
parse csv fields=k,w:int
stream c from a, b
sink stdout
""", "j.job:8", "'a' and 'b'", "field 2", "'v' int", "'w' int")
    expect_load_error("""job e
stream a
source file path=IN
parse csv fields=k,v:int
stream c from a, bb
sink stdout
""", "j.job:5", "unknown stream 'bb'", "streams so far: a")
    expect_load_error("""job e
stream a
source file path=IN
parse csv fields=k,v:int
stream c from a
key k
""", "stream 'c'", "'key' needs an 'aggregate'")
    expect_load_error("""job e
stream a
source file path=IN
parse csv fields=k,v:int
key k
aggregate sum(v) as s
stream c from a
key s
aggregate max(s) as m
sink stdout
""", "'m' over an updating stream", "count, sum and avg")
    expect_load_error("""job e
stream a
source file path=IN
parse csv fields=k,v:int
""", "stream 'a' goes nowhere")
    expect_load_error("""job e
stream a
source file path=IN
parse csv fields=k,v:int
watermark v 5x
sink stdout
""", "j.job:5", "not a duration")


if __name__ == "__main__":
    main([test_example_as_written, test_example_replay_is_byte_identical,
          test_example_with_kafka_as_second_source,
          test_retraction_over_a_running_aggregate, test_retraction_over_emit_update_windows,
          test_idle_input_lets_the_union_watermark_advance, test_stream_joins_against_all_pairs,
          test_load_time_messages])
