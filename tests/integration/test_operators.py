"""State TTL, dedupe, the stream-static join and the summary aggregates
(exact count_distinct, topk) through real `ember run` processes, each checked
against a Python oracle over the same input."""
import json
import os
import random
import time

from harness import (batch_files, check, close, ember, latest_rows, main, state_json,
                     tmpdir, write)


def ttl_job(d, ttl="1s"):
    write(d + "/t.job", f"""job ttl
batch      interval=1ms max-records=100000
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=k,v:int
key        k
ttl        {ttl}
aggregate  count() sum(v)
sink       file dir={d}/out
""")
    return d + "/t.job"


def test_ttl_expires_idle_keys():
    """Phase 1 touches keys A; after more than the TTL of batch time, phase 2
    touches keys B. Keys of A not in B expire; keys in both keep their sums."""
    d = tmpdir("ttl")
    rnd = random.Random(4)
    a = [("a%03d" % rnd.randrange(300), rnd.randrange(100)) for _ in range(2000)]
    b = [("a%03d" % rnd.randrange(150, 450), rnd.randrange(100)) for _ in range(2000)]
    write(d + "/in.csv", "".join("%s,%d\n" % r for r in a))
    j = ttl_job(d)
    ember("run", j, "--until-idle", check_rc=0)
    time.sleep(1.3)
    with open(d + "/in.csv", "a") as f:
        f.write("".join("%s,%d\n" % r for r in b))
    _, _, err = ember("run", j, "--until-idle", check_rc=0)
    in_b = {k for k, _ in b}
    want = {}
    for k, v in a + b:
        if k in in_b:
            c, s = want.get(k, (0, 0))
            want[k] = (c + 1, s + v)
    got = {r["k"]: (r["count"], r["sum_v"]) for r in state_json(d + "/ckpt")}
    check(got == want, "state after expiry: %d keys, oracle %d" % (len(got), len(want)))
    expired = len({k for k, _ in a} - in_b)
    check(("expired %d " % expired) in err, "progress line counts %d expired keys: %s" % (
        expired, err.strip().splitlines()[-1]))
    timers = state_json(d + "/ckpt", "timers")
    check(sorted(t["key"] for t in timers) == sorted(want),
          "one timer per live key, none for expired ones")


def join_job(d, keep=False):
    write(d + "/j.job", f"""job join
batch      interval=1ms max-records=1000
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=user,ad,v:int
join       table path={d}/ads.csv key=ad fields=campaign,weight:int{" on-miss=keep" if keep else ""}
key        campaign
aggregate  count() sum(weight) sum(v)
sink       file dir={d}/out
""")
    return d + "/j.job"


def write_table(path, mapping):
    tmp = path + ".tmp"
    write(tmp, "ad,campaign,weight\n" + "".join("%s,%s,%d\n" % (a, c, w)
                                                 for a, (c, w) in mapping.items()))
    os.rename(tmp, path)


def join_oracle(rows, mapping, keep):
    out = {}
    for user, ad, v in rows:
        c, w = mapping.get(ad, ("", None))
        if ad not in mapping and not keep:
            continue
        n, sw, sv = out.get(c, (0, None, 0))
        sw = sw if w is None else (sw or 0) + w
        out[c] = (n + 1, sw, sv + v)
    return out


def check_join_state(d, want):
    got = {r["campaign"]: (r["count"], r["sum_weight"], r["sum_v"])
           for r in state_json(d + "/ckpt")}
    check(got == want, "join state %s != oracle %s" % (sorted(got.items())[:4],
                                                        sorted(want.items())[:4]))


def test_join_table_reload_and_replay():
    """Phase 1 joins with table 1; table 2 replaces it; phase 2 crashes before
    its commit, the file is then put back to table 1, and the replay must
    still join phase 2 with table 2, the version that batch first ran with."""
    d = tmpdir("join")
    rnd = random.Random(9)
    t1 = {"ad%03d" % i: ("c%02d" % (i % 10), i % 7) for i in range(100)}
    t2 = {"ad%03d" % i: ("c%02d" % (i % 13), i % 5) for i in range(50, 150)}
    p1 = [("u%d" % rnd.randrange(50), "ad%03d" % rnd.randrange(160), rnd.randrange(10))
          for _ in range(3000)]
    p2 = [("u%d" % rnd.randrange(50), "ad%03d" % rnd.randrange(160), rnd.randrange(10))
          for _ in range(3000)]
    write_table(d + "/ads.csv", t1)
    write(d + "/in.csv", "".join("%s,%s,%d\n" % r for r in p1))
    j = join_job(d)
    ember("run", j, "--until-idle", check_rc=0)
    check_join_state(d, join_oracle(p1, t1, False))
    write_table(d + "/ads.csv", t2)
    with open(d + "/in.csv", "a") as f:
        f.write("".join("%s,%s,%d\n" % r for r in p2))
    rc, _, err = ember("run", j, "--until-idle",
                       env={"EMBER_FAILPOINTS": "state.before_commit=crash@2"})
    check(rc == -9 and "reloaded: 100 rows" in err, "crash after the reload: %d %s" % (rc, err))
    write_table(d + "/ads.csv", t1)
    ember("run", j, "--until-idle", check_rc=0)  # replay with table 2, then table 1
    # Batches of 1000: p2's first 1000 ran before the crash (committed, table 2), the
    # next 1000 were planned (replayed with table 2), the last 1000 ran after the
    # file went back to table 1.
    want = join_oracle(p1, t1, False)
    for part, table in ((p2[:2000], t2), (p2[2000:], t1)):
        for c, (n, sw, sv) in join_oracle(part, table, False).items():
            n0, sw0, sv0 = want.get(c, (0, None, 0))
            want[c] = (n0 + n, (sw0 or 0) + (sw or 0) if sw is not None or sw0 is not None
                       else None, sv0 + sv)
    check_join_state(d, want)
    _, out, _ = ember("state", d + "/ckpt", "--op", "join1", "--format", "json", check_rc=0)
    stored = {r["key"]: r["row"] for r in json.loads(out)}
    check(stored == {a: "%s,%s,%d" % (a, c, w) for a, (c, w) in t1.items()},
          "the join1 column family holds the table version in force")


def test_join_on_miss_keep_and_bad_tables():
    d = tmpdir("join-keep")
    rows = [("u1", "ad001", 1), ("u2", "zzz", 2), ("u3", "ad002", 3)]
    write_table(d + "/ads.csv", {"ad001": ("c1", 5), "ad002": ("c1", 6)})
    write(d + "/in.csv", "".join("%s,%s,%d\n" % r for r in rows))
    ember("run", join_job(d, keep=True), "--until-idle", check_rc=0)
    got = {r["campaign"]: (r["count"], r["sum_weight"], r["sum_v"])
           for r in state_json(d + "/ckpt")}
    # sum() over only NULLs is NULL, as in SQL (README: Changes in 0.4.0)
    check(got == {"c1": (2, 11, 4), "": (1, None, 2)}, "on-miss=keep: %s" % got)
    for text, msg in (("ad,campaign,weight\na,c,1\na,d,2\n", "ads.csv:3: key 'a' appears twice"),
                      ("ad,campaign\na,c\n", "ads.csv:1: the header has no column 'weight'"),
                      ("ad,campaign,weight\na,c,x\n", "ads.csv:2")):
        e = tmpdir("join-bad")
        write(e + "/ads.csv", text)
        write(e + "/in.csv", "u,a,1\n")
        rc, _, err = ember("run", join_job(e), "--until-idle")
        check(rc in (1, 2) and msg in err and len(err.strip().splitlines()) <= 2,
              "bad table: exit %d, %s" % (rc, err.strip()))


def dedupe_job(d, within="1h", extra=""):
    write(d + "/d.job", f"""job dedupe
batch      interval=1ms max-records=500
checkpoint dir={d}/ckpt {extra}
source     file path={d}/in.csv
parse      csv fields=id,cat,v:int
filter     v >= 0
dedupe     id within {within}
key        cat
aggregate  count() sum(v)
sink       file dir={d}/out
""")
    return d + "/d.job"


def dedupe_input(rnd, n, ids):
    """Ids repeat at random distances (inside one batch and across batches);
    a repeated id carries the same category and value, as a redelivery would."""
    out = []
    for _ in range(n):
        i = rnd.randrange(ids)
        out.append(("e%05d" % i, "c%d" % (i % 7), (i * 37) % 100 - 5))
    return out


def dedupe_oracle(rows):
    seen, out = set(), {}
    for i, c, v in rows:
        if v < 0 or i in seen:
            continue
        seen.add(i)
        n, s = out.get(c, (0, 0))
        out[c] = (n + 1, s + v)
    return out


def check_dedupe_state(d, want):
    got = {r["cat"]: (r["count"], r["sum_v"]) for r in state_json(d + "/ckpt")}
    check(got == want, "dedupe state %s != oracle %s" % (sorted(got.items()), sorted(want.items())))


def test_dedupe_with_kill9():
    d = tmpdir("dedupe")
    rows = dedupe_input(random.Random(12), 12000, 4000)
    write(d + "/in.csv", "".join("%s,%s,%d\n" % r for r in rows))
    j = dedupe_job(d, extra="every=4 keep=2")
    points = ["transform.after", "sink.before_commit", "state.before_commit",
              "state.after_commit", "wal.after_append"]
    crashes = 0
    for i in range(30):
        rc, _, err = ember("run", j, "--until-idle",
                           env={"EMBER_FAILPOINTS": "%s=crash@%d" % (points[i % 5], 1 + i % 4)})
        if rc == 0:
            break
        check(rc == -9, "exit %d: %s" % (rc, err[-1500:]))
        crashes += 1
    ember("run", j, "--until-idle", check_rc=0)
    check(crashes >= 8, "only %d crashes" % crashes)
    check_dedupe_state(d, dedupe_oracle(rows))
    dups = sum(1 for i, _, v in rows if v >= 0) - sum(n for n, _ in dedupe_oracle(rows).values())
    check(dups > 5000, "the input has %d duplicates" % dups)


def test_dedupe_horizon_expires():
    """Ids of phase 1 come back after the horizon: counted again; the ids
    that did not come back are gone from the state (bounded by the horizon)."""
    d = tmpdir("dedupe-exp")
    rnd = random.Random(3)
    p1 = dedupe_input(rnd, 1500, 600)
    p2 = dedupe_input(rnd, 1500, 300)
    write(d + "/in.csv", "".join("%s,%s,%d\n" % r for r in p1))
    j = dedupe_job(d, within="3s")  # phase 1 runs well inside it, even under ASan
    ember("run", j, "--until-idle", check_rc=0)
    time.sleep(3.2)
    with open(d + "/in.csv", "a") as f:
        f.write("".join("%s,%s,%d\n" % r for r in p2))
    ember("run", j, "--until-idle", check_rc=0)
    want = dedupe_oracle(p1)
    for c, (n, s) in dedupe_oracle(p2).items():
        n0, s0 = want.get(c, (0, 0))
        want[c] = (n0 + n, s0 + s)
    check_dedupe_state(d, want)
    _, out, _ = ember("state", d + "/ckpt", "--op", "dedupe", "--format", "json", check_rc=0)
    ids = {r["id"] for r in json.loads(out)}
    check(ids == {i for i, _, v in p2 if v >= 0}, "dedupe state holds only ids of the horizon")


def summary_job(d, window="", aggs="count() count_distinct(user) count_distinct(v) topk(item, 4)",
                name="s"):
    write(d + "/%s.job" % name, f"""job summary
batch      interval=1ms max-records=2000
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=k,user,item,v:int,ts:int
key        k
{"window     " + window if window else ""}
aggregate  {aggs}
sink       file dir={d}/out
""")
    return d + "/%s.job" % name


def summary_input(rnd, n, keys=12, users=240, start=1_700_000_000_000):
    """Items are skewed (a few frequent, 24 in all: within topk's counters,
    so its counts are exact); under 256 distinct users per key."""
    rows = []
    for i in range(n):
        item = "i%02d" % min(int(rnd.expovariate(0.3)), 23)
        rows.append(("k%02d" % rnd.randrange(keys), "u%d" % rnd.randrange(users), item,
                     rnd.randrange(-50, 50), start + i + rnd.randint(-20, 20)))
    return rows


def summary_oracle(rows, k=4):
    """{key: (count, distinct users, distinct v, "item:n|...")}: ties by item."""
    acc = {}
    for key, user, item, v, _ in rows:
        a = acc.setdefault(key, [0, set(), set(), {}])
        a[0] += 1
        a[1].add(user)
        a[2].add(v)
        a[3][item] = a[3].get(item, 0) + 1
    return {key: (c, len(u), len(vs), topk_text(items, k)) for key, (c, u, vs, items) in acc.items()}


def topk_text(counts, k):
    top = sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:k]
    return "|".join("%s:%d" % x for x in top)


def write_rows(path, rows):
    write(path, "".join("%s,%s,%s,%d,%d\n" % r for r in rows))


def summary_state(d):
    return {r["k"]: (r["count"], r["count_distinct_user"], r["count_distinct_v"], r["topk_item"])
            for r in state_json(d + "/ckpt")}


def out_files(d):
    res = {}
    for name in sorted(os.listdir(d + "/out")):
        if name.endswith(".tsv") and ".tmp" not in name:
            with open(os.path.join(d + "/out", name)) as f:
                res[name] = f.read()
    return res


def test_count_distinct_exact_and_topk_with_crash():
    """Exact count_distinct (string and int fields) and topk per key equal the
    oracle; a run killed after the transform of batch 3 and restarted writes
    the same state and the same batch files as a run without a crash."""
    rows = summary_input(random.Random(21), 24000)
    want = summary_oracle(rows)
    clean, crashed = tmpdir("summary"), tmpdir("summary-crash")
    for d in (clean, crashed):
        write_rows(d + "/in.csv", rows)
    ember("run", summary_job(clean), "--until-idle", check_rc=0)
    got = summary_state(clean)
    check(got == want, "state %s\noracle %s" % (sorted(got.items())[:3], sorted(want.items())[:3]))
    check(max(u for _, u, _, _ in want.values()) > 200, "keys have over 200 distinct users")
    _, latest = latest_rows(clean + "/out")
    check({k: r[4] for k, r in latest.items()} == {k: w[3] for k, w in want.items()},
          "the topk column of the output")
    j = summary_job(crashed)
    rc, _, err = ember("run", j, "--until-idle",
                       env={"EMBER_FAILPOINTS": "transform.after=crash@3"})
    check(rc == -9, "crash at batch 3: exit %d %s" % (rc, err[-800:]))
    ember("run", j, "--until-idle", check_rc=0)
    check(summary_state(crashed) == want, "state after the crash and replay")
    check(out_files(crashed) == out_files(clean), "batch files after the crash and replay")


def window_oracle(rows, size, slide, delay, k=3):
    """Windows [s, s + size), s a multiple of slide, closed at the last
    watermark: {(key, s): (count, distinct users, topk items)}."""
    maxt = max(r[4] for r in rows)
    acc = {}
    for key, user, item, _, t in rows:
        s = t // slide * slide
        while s > t - size:
            if s + size <= maxt - delay:
                a = acc.setdefault((key, s), [0, set(), {}])
                a[0] += 1
                a[1].add(user)
                a[2][item] = a[2].get(item, 0) + 1
            s -= slide
    return {w: (c, len(u), topk_text(items, k)) for w, (c, u, items) in acc.items()}


def test_count_distinct_topk_windows():
    """Per key and window, tumbling and sliding (panes merged: set union and
    sketch merge), the emitted rows equal the oracle, and a run killed before
    a commit and restarted writes the same batch files."""
    rows = summary_input(random.Random(5), 30000, keys=6, users=150)
    for spec, size, slide in (("tumbling 5s on ts watermark 100ms", 5000, 5000),
                              ("sliding 10s every 5s on ts watermark 100ms", 10000, 5000)):
        d = tmpdir("summary-win")
        write_rows(d + "/in.csv", rows)
        j = summary_job(d, spec, "count() count_distinct(user) topk(item, 3)")
        ember("run", j, "--until-idle", check_rc=0)
        files = batch_files(d + "/out")
        check(files[-1][1] == ["k", "window_start", "window_end", "count", "count_distinct_user",
                               "topk_item"], "header %s" % files[-1][1])
        got = {(r[0], int(r[1])): (int(r[3]), int(r[4]), r[5])
               for _, _, rs in files for r in rs}
        want = window_oracle(rows, size, slide, 100)
        bad = [(w, got.get(w), want.get(w)) for w in sorted(set(got) | set(want))
               if got.get(w) != want.get(w)]
        check(not bad, "%s: %d windows differ, e.g. %s" % (spec, len(bad), bad[:3]))
        check(len(want) >= 30, "%s: %d windows" % (spec, len(want)))
        c = tmpdir("summary-win-crash")  # killed before the commit of batch 4
        write_rows(c + "/in.csv", rows)
        j = summary_job(c, spec, "count() count_distinct(user) topk(item, 3)")
        rc, _, err = ember("run", j, "--until-idle",
                           env={"EMBER_FAILPOINTS": "state.before_commit=crash@4"})
        check(rc == -9, "%s: crash at batch 4: exit %d %s" % (spec, rc, err[-800:]))
        ember("run", j, "--until-idle", check_rc=0)
        check(out_files(c) == out_files(d), "%s: batch files after the crash" % spec)


def session_oracle(rows, gap, delay, k=3):
    """Sessions (a key's records less than gap apart) closed at the last
    watermark: {(key, first): (last + gap, count, distinct users, topk)}."""
    maxt = max(r[4] for r in rows)
    by_key, out = {}, {}
    for r in rows:
        by_key.setdefault(r[0], []).append(r)
    for key, rs in by_key.items():
        rs.sort(key=lambda r: r[4])
        sess = []
        for r in rs + [None]:
            if sess and (r is None or r[4] >= sess[-1][4] + gap):
                end = sess[-1][4] + gap
                if end <= maxt - delay:
                    items = {}
                    for x in sess:
                        items[x[2]] = items.get(x[2], 0) + 1
                    out[(key, sess[0][4])] = (end, len(sess), len({x[1] for x in sess}),
                                              topk_text(items, k))
                sess = []
            if r is not None:
                sess.append(r)
    return out


def test_count_distinct_topk_sessions():
    """Session windows merge the summaries of the sessions a record joins."""
    rnd = random.Random(8)
    rows = [r[:4] + (1_700_000_000_000 + 9 * i + rnd.randint(-20, 20),)
            for i, r in enumerate(summary_input(rnd, 6000, keys=8, users=60))]
    d = tmpdir("summary-sess")
    write_rows(d + "/in.csv", rows)
    j = summary_job(d, "session 120ms on ts watermark 100ms",
                    "count() count_distinct(user) topk(item, 3)")
    ember("run", j, "--until-idle", check_rc=0)
    got = {(r[0], int(r[1])): (int(r[2]), int(r[3]), int(r[4]), r[5])
           for _, _, rs in batch_files(d + "/out") for r in rs}
    want = session_oracle(rows, 120, 100)
    bad = [(w, got.get(w), want.get(w)) for w in sorted(set(got) | set(want))
           if got.get(w) != want.get(w)]
    check(not bad, "%d sessions differ, e.g. %s" % (len(bad), bad[:3]))
    check(len(want) >= 50 and max(v[1] for v in want.values()) >= 10,
          "%d sessions, longest %d records" % (len(want), max(v[1] for v in want.values())))


def test_count_distinct_bound_and_bad_specs():
    """Past 256 distinct values of one key the run fails naming the key (and
    fails again the same way on restart); approx has no bound. Bad topk and
    count_distinct arguments are usage errors naming the column."""
    d = tmpdir("summary-bound")
    rows = [("small", "u%d" % (i % 10), "i", 1, i) for i in range(500)]
    rows += [("big", "u%d" % i, "i", 1, 500 + i) for i in range(300)]
    write_rows(d + "/in.csv", rows)
    j = summary_job(d)
    for _ in range(2):
        rc, _, err = ember("run", j, "--until-idle")
        check(rc == 1 and "key 'big'" in err and "more than 256 distinct values" in err,
              "exit %d: %s" % (rc, err.strip()[-600:]))
    d2 = tmpdir("summary-approx")
    write_rows(d2 + "/in.csv", rows)
    ember("run", summary_job(d2, aggs="count_distinct(user, approx)"), "--until-idle",
          check_rc=0)
    got = {r["k"]: r["count_distinct_user"] for r in state_json(d2 + "/ckpt")}
    check(got["small"] == 10 and abs(got["big"] - 300) < 300 * 3 * 1.04 / 16, "approx %s" % got)
    for aggs, msg in (("topk(item)", "topk needs a count"),
                      ("topk(item, 0)", "from 1 to 32"),
                      ("topk(item, 33)", "from 1 to 32"),
                      ("topk(item, many)", "from 1 to 32"),
                      ("count_distinct(user, roughly)", "expected 'approx'")):
        rc, _, err = ember("run", summary_job(d, aggs=aggs, name="bad"), "--until-idle")
        check(rc == 2 and msg in err and "bad.job:8:" in err,
              "%s: exit %d, %s" % (aggs, rc, err.strip()))


if __name__ == "__main__":
    main([test_ttl_expires_idle_keys, test_join_table_reload_and_replay,
          test_join_on_miss_keep_and_bad_tables, test_dedupe_with_kill9,
          test_dedupe_horizon_expires, test_count_distinct_exact_and_topk_with_crash,
          test_count_distinct_topk_windows, test_count_distinct_topk_sessions,
          test_count_distinct_bound_and_bad_specs])
