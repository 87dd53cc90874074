"""sink sqlite against Python's sqlite3 and counts computed here: upserted
aggregates, appended records, exactly once across kill -9 at the sink's and
the state's commit, refused tables, and a rejected row."""
import os
import random
import sqlite3

from harness import check, ember, main, tmpdir, write


def make_input(path, n, seed):
    rnd = random.Random(seed)
    rows = [("s%02d" % rnd.randrange(30), i, round(rnd.uniform(0, 50), 2)) for i in range(n)]
    write(path, "".join("%s,%d,%.2f\n" % r for r in rows))
    return rows


def agg_job(d, extra=""):
    write(d + "/j.job", f"""job sq
batch interval=1ms max-records=500
source file path={d}/in.csv
parse csv fields=sensor,ts:int,temp:float
key sensor
aggregate count() as n, sum(temp) as total, max(temp) as hottest
sink sqlite path={d}/out.db table=readings create=yes {extra}
""")
    return d + "/j.job"


def oracle(rows):
    out = {}
    for s, _, t in rows:
        n, tot, hi = out.get(s, (0, 0.0, None))
        out[s] = (n + 1, tot + t, t if hi is None else max(hi, t))
    return out


def table(d, sql):
    con = sqlite3.connect(d + "/out.db")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def check_aggregates(d, rows):
    want = oracle(rows)
    got = {r[0]: r[1:] for r in table(d, "SELECT sensor, n, total, hottest FROM readings")}
    check(set(got) == set(want), "keys %d vs %d" % (len(got), len(want)))
    for k, (n, tot, hi) in want.items():
        check(got[k][0] == n and abs(got[k][1] - tot) < 1e-6 and got[k][2] == hi,
              "%s: %r vs %r" % (k, got[k], (n, tot, hi)))


def test_upsert_aggregates_match_python():
    d = tmpdir("sqlite")
    rows = make_input(d + "/in.csv", 3000, 1)
    ember("run", agg_job(d), "--dir", d + "/ck", "--until-idle", check_rc=0)
    check_aggregates(d, rows)
    check(table(d, "SELECT job, sink, batch FROM ember_sink_batches") == [("sq", "sqlite:readings", 6)],
          "marker of the last batch")
    cols = [r[1] for r in table(d, "PRAGMA table_info(readings)")]
    check(cols == ["sensor", "n", "total", "hottest"], cols)


def test_kill_between_sink_and_state_commit_is_exact():
    for point in ("sink.after_commit", "sink.before_commit", "state.before_commit"):
        d = tmpdir("sqlitekill")
        rows = make_input(d + "/in.csv", 3000, 2)
        job = agg_job(d)
        env = dict(os.environ, EMBER_FAILPOINTS="%s=crash@3" % point)
        rc, _, _ = ember("run", job, "--dir", d + "/ck", "--until-idle", env=env)
        check(rc != 0, "%s killed the job" % point)
        _, _, err = ember("run", job, "--dir", d + "/ck", "--until-idle", check_rc=0)
        if point == "sink.after_commit":
            check("holds batches up to 3 (state committed 2)" in err, err)
        check_aggregates(d, rows)


def test_append_records_once_across_a_kill():
    d = tmpdir("sqliteappend")
    rows = make_input(d + "/in.csv", 2000, 3)
    write(d + "/j.job", f"""job ap
batch interval=1ms max-records=300
source file path={d}/in.csv
parse csv fields=sensor,ts:int,temp:float
filter temp > 25
sink sqlite path={d}/out.db table=hot create=yes mode=append
""")
    env = dict(os.environ, EMBER_FAILPOINTS="sink.after_commit=crash@4")
    ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", env=env)
    ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    got = sorted(table(d, "SELECT sensor, ts, temp FROM hot"))
    want = sorted((s, ts, t) for s, ts, t in rows if t > 25)
    check(got == want, "%d rows vs %d" % (len(got), len(want)))


def test_a_table_without_a_column_is_refused():
    d = tmpdir("sqlitecols")
    make_input(d + "/in.csv", 10, 4)
    con = sqlite3.connect(d + "/out.db")
    con.execute("CREATE TABLE readings (sensor TEXT PRIMARY KEY, n INTEGER, total REAL)")
    con.close()
    rc, _, err = ember("run", agg_job(d), "--dir", d + "/ck", "--until-idle")
    check(rc == 2 and "has no column 'hottest' (REAL)" in err, "rc %d: %s" % (rc, err))


def test_a_rejected_row_stops_the_job_with_batch_and_row():
    d = tmpdir("sqlitereject")
    rows = make_input(d + "/in.csv", 1000, 5)
    con = sqlite3.connect(d + "/out.db")
    con.execute("CREATE TABLE readings (sensor TEXT PRIMARY KEY, n INTEGER, total REAL, "
                "hottest REAL CHECK (hottest < 49.9))")
    con.close()
    rc, _, err = ember("run", agg_job(d), "--dir", d + "/ck", "--until-idle")
    check(rc == 1 and "rejected: CHECK constraint failed" in err and "batch 1 row" in err,
          "rc %d: %s" % (rc, err))
    check(table(d, "SELECT count(*) FROM readings") == [(0,)], "the failed batch left nothing")
    check(max(t for _, _, t in rows[:500]) >= 49.9, "the input has a row the CHECK rejects")


if __name__ == "__main__":
    main([test_upsert_aggregates_match_python, test_kill_between_sink_and_state_commit_is_exact,
          test_append_records_once_across_a_kill, test_a_table_without_a_column_is_refused,
          test_a_rejected_row_stops_the_job_with_batch_and_row])
