"""sink postgres against a real PostgreSQL (started here, pg.py) and counts
computed here: upserted aggregates, appended records, exactly once across
kill -9 and a server restart, a server that is down at start, a stop while
it is down, refused tables and a rejected row."""
import os
import random
import signal
import subprocess
import time

import pg
from harness import EMBER, check, ember, main, tmpdir, write

SERVER = None


def server():
    global SERVER
    if SERVER is None:
        SERVER = pg.Server()
    return SERVER


def make_input(path, n, seed):
    rnd = random.Random(seed)
    rows = [("s%02d" % rnd.randrange(40), i, round(rnd.uniform(0, 50), 2)) for i in range(n)]
    write(path, "".join("%s,%d,%.2f\n" % r for r in rows))
    return rows


def agg_job(d, table, extra="", max_records=500, interval="1ms"):
    write(d + "/j.job", f"""job pgj
batch interval={interval} max-records={max_records}
source file path={d}/in.csv
parse csv fields=sensor,ts:int,temp:float
key sensor
aggregate count() as n, sum(temp) as total, max(temp) as hottest
sink postgres conninfo={server().conninfo} table={table} create=yes {extra}
""")
    return d + "/j.job"


def check_table(table, rows):
    want = {}
    for s, _, t in rows:
        n, tot, hi = want.get(s, (0, 0.0, None))
        want[s] = (n + 1, tot + t, t if hi is None else max(hi, t))
    got = {r[0]: r[1:] for r in server().psql("SELECT sensor, n, total, hottest FROM %s" % table)}
    check(set(got) == set(want), "keys %d vs %d" % (len(got), len(want)))
    for k, (n, tot, hi) in want.items():
        g = got[k]
        check(int(g[0]) == n and abs(float(g[1]) - tot) < 1e-6 and float(g[2]) == hi,
              "%s: %r vs %r" % (k, g, (n, tot, hi)))


def marker(table):
    rows = server().psql("SELECT batch FROM ember_sink_batches WHERE sink = 'postgres:%s'" % table)
    return int(rows[0][0]) if rows else 0


def test_upsert_aggregates_match_python():
    d = tmpdir("pg")
    rows = make_input(d + "/in.csv", 3000, 1)
    ember("run", agg_job(d, "t_upsert"), "--dir", d + "/ck", "--until-idle", check_rc=0)
    check_table("t_upsert", rows)
    check(marker("t_upsert") == 6, "marker = the last batch (6)")
    cols = server().psql("SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_name = 't_upsert' ORDER BY ordinal_position")
    check(cols == [["sensor", "text"], ["n", "bigint"], ["total", "double precision"],
                   ["hottest", "double precision"]], cols)


def test_kill_at_every_sink_point_is_exact():
    for i, point in enumerate(("sink.before_commit", "sink.after_commit", "state.before_commit")):
        d = tmpdir("pgkill")
        rows = make_input(d + "/in.csv", 2500, 2 + i)
        table = "t_kill%d" % i
        job = agg_job(d, table)
        env = dict(os.environ, EMBER_FAILPOINTS="%s=crash@3" % point)
        rc, _, _ = ember("run", job, "--dir", d + "/ck", "--until-idle", env=env)
        check(rc != 0, "%s killed the job" % point)
        ember("run", job, "--dir", d + "/ck", "--until-idle", check_rc=0)
        check_table(table, rows)


def test_append_records_once_across_a_kill():
    d = tmpdir("pgappend")
    rows = make_input(d + "/in.csv", 2000, 7)
    write(d + "/j.job", f"""job pga
batch interval=1ms max-records=300
source file path={d}/in.csv
parse csv fields=sensor,ts:int,temp:float
filter temp > 25
sink postgres conninfo={server().conninfo} table=t_append create=yes mode=append
""")
    env = dict(os.environ, EMBER_FAILPOINTS="sink.after_commit=crash@4")
    ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", env=env)
    ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    got = sorted((r[0], int(r[1]), float(r[2]))
                 for r in server().psql("SELECT sensor, ts, temp FROM t_append"))
    want = sorted((s, ts, t) for s, ts, t in rows if t > 25)
    check(got == want, "%d rows vs %d" % (len(got), len(want)))


def test_server_restart_mid_run_loses_nothing():
    d = tmpdir("pgrestart")
    rows = make_input(d + "/in.csv", 6000, 9)
    job = agg_job(d, "t_restart", max_records=200, interval="20ms")
    p = subprocess.Popen([EMBER, "run", job, "--dir", d + "/ck", "--until-idle"],
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and marker("t_restart") < 5:
        time.sleep(0.05)
    server().stop("immediate")  # as a crash of the database would
    time.sleep(1.5)
    server().start()
    _, err = p.communicate(timeout=120)
    check(p.returncode == 0, "rc %d: %s" % (p.returncode, err[-2000:]))
    check("cannot connect" in err or "connection lost" in err, "the outage was seen: " + err[-1500:])
    check("sink postgres: connected" in err, err[-1500:])
    check_table("t_restart", rows)


def test_down_at_start_then_up():
    d = tmpdir("pgdown")
    rows = make_input(d + "/in.csv", 800, 11)
    job = agg_job(d, "t_down")
    server().stop()
    p = subprocess.Popen([EMBER, "run", job, "--dir", d + "/ck", "--until-idle"],
                         stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    server().start()
    _, err = p.communicate(timeout=120)
    check(p.returncode == 0, "rc %d: %s" % (p.returncode, err))
    check(err.count("cannot connect") == 1, "one line for the outage: " + err)
    check_table("t_down", rows)


def test_stop_while_the_server_is_down():
    d = tmpdir("pgstop")
    make_input(d + "/in.csv", 100, 12)
    job = agg_job(d, "t_stop")
    server().stop()
    try:
        p = subprocess.Popen([EMBER, "run", job, "--dir", d + "/ck", "--until-idle"],
                             stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        t0 = time.time()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        check(time.time() - t0 < 1.5, "stopped within a second")
        check(p.returncode == 0, "a stop is exit 0, got %d: %s" % (p.returncode, err))
    finally:
        server().start()


def test_table_without_a_column_is_refused():
    d = tmpdir("pgcols")
    make_input(d + "/in.csv", 10, 13)
    server().psql("CREATE TABLE t_cols (sensor text PRIMARY KEY, n bigint, total float8)")
    rc, _, err = ember("run", agg_job(d, "t_cols"), "--dir", d + "/ck", "--until-idle")
    check(rc == 2 and "t_cols has no column 'hottest' (double precision)" in err, err)


def test_rejected_row_names_batch_and_row():
    d = tmpdir("pgreject")
    rows = make_input(d + "/in.csv", 1000, 14)
    server().psql("CREATE TABLE t_rej (sensor text PRIMARY KEY, n bigint, total float8, "
                  "hottest float8 CHECK (hottest < 49))")
    rc, _, err = ember("run", agg_job(d, "t_rej"), "--dir", d + "/ck", "--until-idle")
    check(rc == 1 and "batch 1 row " in err and "t_rej_hottest_check" in err, "rc %d: %s" % (rc, err))
    check(server().psql("SELECT count(*) FROM t_rej") == [["0"]], "the batch left nothing")
    check(max(t for _, _, t in rows[:500]) >= 49, "the input has a row the CHECK rejects")


if __name__ == "__main__":
    try:
        main([test_upsert_aggregates_match_python, test_kill_at_every_sink_point_is_exact,
              test_append_records_once_across_a_kill, test_server_restart_mid_run_loses_nothing,
              test_down_at_start_then_up, test_stop_while_the_server_is_down,
              test_table_without_a_column_is_refused, test_rejected_row_names_batch_and_row])
    finally:
        if SERVER:
            SERVER.close()
