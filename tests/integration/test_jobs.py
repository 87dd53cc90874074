"""End-to-end jobs: real `ember run` processes; results checked against
oracles computed here in Python over the same input file."""
import os
import subprocess
import time

from harness import (check, close, ember, gen_file, latest_rows, main, read_csv, sensor_stats,
                     state_json, tmpdir, write, batch_files, EMBER)


def sensors_job(d, src, extra="", max_records=7000, every=3):
    job = os.path.join(d, "s.job")
    write(job, f"""job sensors-it
batch      interval=1ms max-records={max_records}
checkpoint dir={d}/ckpt every={every} keep=2
source     {src}
parse      csv fields=sensor,ts:int,temp:float
filter     temp > -50 and sensor != "test"
key        sensor
aggregate  count() sum(temp) min(temp) max(temp) avg(temp)
sink       file dir={d}/out
{extra}""")
    return job


def keep(r):
    return float(r[2]) > -50 and r[0] != "test"


def check_against_oracle(d, rows):
    want = sensor_stats(rows, keep=keep)
    header, got = latest_rows(d + "/out")
    check(header == ["sensor", "count", "sum_temp", "min_temp", "max_temp", "avg_temp"],
          "header %r" % header)
    check(set(got) == set(want), "keys differ: %d vs %d" % (len(got), len(want)))
    for k, (c, s, lo, hi) in want.items():
        r = got[k]
        check(int(r[1]) == c, "count of %s: %s != %d" % (k, r[1], c))
        check(close(float(r[2]), s, 1e-9), "sum of %s: %s != %r" % (k, r[2], s))
        check(float(r[3]) == lo and float(r[4]) == hi, "min/max of %s" % k)
        check(close(float(r[5]), s / c, 1e-9), "avg of %s" % k)
    state = {o["sensor"]: o for o in state_json(d + "/ckpt")}
    check(set(state) == set(want), "state keys differ")
    for k, (c, s, lo, hi) in want.items():
        check(state[k]["count"] == c and close(state[k]["sum_temp"], s), "state of %s" % k)


def test_file_source_matches_oracle():
    d = tmpdir("file")
    gen_file("sensors", 30000, 7, d + "/in.csv")
    job = sensors_job(d, "file path=%s/in.csv" % d)
    ember("run", job, "--until-idle", check_rc=0)
    check_against_oracle(d, read_csv(d + "/in.csv"))
    check(len(batch_files(d + "/out")) == 5, "30000 records / 7000 per batch = 5 batches")


def test_generator_source_equals_gen_output():
    d = tmpdir("gen")
    gen_file("sensors", 20000, 3, d + "/in.csv")
    job = sensors_job(d, "generator kind=sensors seed=3 count=20000")
    ember("run", job, "--until-idle", "--threads", "2", check_rc=0)
    check_against_oracle(d, read_csv(d + "/in.csv"))


def test_batch_limit_and_resume():
    d = tmpdir("resume")
    gen_file("sensors", 30000, 5, d + "/in.csv")
    job = sensors_job(d, "file path=%s/in.csv" % d)
    ember("run", job, "--batches", "2", check_rc=0)
    check(len(batch_files(d + "/out")) == 2, "two batches then stop")
    _, _, err = ember("run", job, "--until-idle", check_rc=0)
    check("committed batch 2 found" in err, "recovery line: " + err)
    check_against_oracle(d, read_csv(d + "/in.csv"))


def test_growing_file_never_splits_lines():
    d = tmpdir("grow")
    gen_file("sensors", 20000, 9, d + "/all.csv")
    data = open(d + "/all.csv").read()
    # Write the first part ending mid-line: the partial line must wait.
    cut = len(data) // 2 + 7
    write(d + "/in.csv", data[:cut])
    job = sensors_job(d, "file path=%s/in.csv" % d)
    ember("run", job, "--until-idle", check_rc=0)
    with open(d + "/in.csv", "a") as f:
        f.write(data[cut:])
    ember("run", job, "--until-idle", check_rc=0)
    check_against_oracle(d, read_csv(d + "/all.csv"))


def test_appends_during_a_run():
    d = tmpdir("append")
    gen_file("sensors", 40000, 11, d + "/all.csv")
    lines = open(d + "/all.csv").read().splitlines(True)
    write(d + "/in.csv", "")
    job = sensors_job(d, "file path=%s/in.csv" % d)
    p = subprocess.Popen([EMBER, "run", job], stderr=subprocess.DEVNULL)
    try:
        for i in range(0, len(lines), 4000):
            with open(d + "/in.csv", "a") as f:
                chunk = "".join(lines[i:i + 4000])
                f.write(chunk[:-10])
                f.flush()
                time.sleep(0.02)
                f.write(chunk[-10:])
            time.sleep(0.03)
        deadline = time.time() + 60
        while time.time() < deadline:
            _, got = latest_rows(d + "/out")
            if sum(int(r[1]) for r in got.values()) == sum(1 for r in read_csv(d + "/all.csv") if keep(r)):
                break
            time.sleep(0.1)
    finally:
        p.terminate()
        p.wait(timeout=30)
    check(p.returncode == 0, "SIGTERM finishes the batch and exits 0, got %d" % p.returncode)
    check_against_oracle(d, read_csv(d + "/all.csv"))


def test_stateless_select_to_file():
    d = tmpdir("select")
    gen_file("sensors", 5000, 2, d + "/in.csv")
    write(d + "/j.job", f"""job sel
batch interval=1ms max-records=1000
checkpoint dir={d}/ckpt
source file path={d}/in.csv
parse csv fields=sensor,ts:int,temp:float
filter temp >= 30.5 or (sensor == "s0001" and not temp < 0)
select sensor, temp * 1.8 + 32 as temp_f, ts - 1700000000000 as dt
sink file dir={d}/out
""")
    ember("run", d + "/j.job", "--until-idle", check_rc=0)
    want = [(r[0], float(r[2]) * 1.8 + 32, int(r[1]) - 1700000000000)
            for r in read_csv(d + "/in.csv")
            if float(r[2]) >= 30.5 or (r[0] == "s0001" and not float(r[2]) < 0)]
    got = [row for _, h, rows in batch_files(d + "/out") for row in rows]
    check(len(got) == len(want), "%d rows, want %d" % (len(got), len(want)))
    for g, w in zip(got, want):
        check(g[0] == w[0] and close(float(g[1]), w[1], 1e-12) and int(g[2]) == w[2],
              "row %r vs %r" % (g, w))


def test_wordcount_c_api():
    d = tmpdir("wc")
    words = ("the quick brown fox jumps over the lazy dog The DOG barks at a Fox " * 300).split()
    write(d + "/words.txt", "\n".join(words) + "\n")
    wc = os.environ.get("WORDCOUNT", "build/wordcount")
    p = subprocess.run([wc, d + "/words.txt", d + "/ckpt", d + "/out"], capture_output=True,
                       text=True, timeout=120)
    check(p.returncode == 0, "wordcount failed: " + p.stderr[-2000:])
    want = {}
    for w in words:
        if len(w) >= 3:
            want[w.lower()] = want.get(w.lower(), 0) + 1
    _, got = latest_rows(d + "/out")
    check({k: int(v[1]) for k, v in got.items()} == want, "word counts differ")


def test_bad_records():
    d = tmpdir("bad")
    write(d + "/in.csv", "s1,1,10.5\ns2,2,abc\ns1,3,11.5\ns3,x,1\ns2,5,1.0\n")
    base = f"""job bad
batch interval=1ms
checkpoint dir={d}/ckpt-%s
source file path={d}/in.csv
parse csv fields=sensor,ts:int,temp:float on-error=%s
key sensor
aggregate count() sum(temp)
sink file dir={d}/out-%s
"""
    write(d + "/fail.job", base % ("f", "fail", "f"))
    rc, _, err = ember("run", d + "/fail.job", "--until-idle")
    check(rc == 1, "on-error=fail exits 1, got %d" % rc)
    # the file and line of the bad record, as an editor would take it
    check(f"{d}/in.csv:2: field 3 'temp': 'abc' is not a float" in err and "s2,2,abc" in err,
          err)
    write(d + "/skip.job", base % ("s", "skip", "s"))
    _, _, err = ember("run", d + "/skip.job", "--until-idle", check_rc=0)
    check("bad 2" in err, "progress counts skipped records: " + err)
    _, got = latest_rows(d + "/out-s")
    check(got["s1"][1] == "2" and got["s2"][1] == "1" and "s3" not in got, repr(got))
    write(d + "/dl.job", base % ("d", "dead-letter:" + d + "/dead.txt", "d"))
    ember("run", d + "/dl.job", "--until-idle", check_rc=0)
    dead = open(d + "/dead.txt").read().splitlines()
    check(len(dead) == 2 and dead[0].endswith("\ts2,2,abc") and dead[1].endswith("\ts3,x,1"),
          repr(dead))


def test_second_writer_is_refused():
    d = tmpdir("lock")
    job = sensors_job(d, "generator kind=sensors seed=1 rate=1000")
    p = subprocess.Popen([EMBER, "run", job], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while not os.path.exists(d + "/ckpt/wal") and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        rc, _, err = ember("run", job, "--batches", "1")
        check(rc == 2, "second writer exits 2, got %d" % rc)
        check("in use by another ember process" in err, err)
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_spec_change_checked():
    d = tmpdir("spec")
    gen_file("sensors", 3000, 1, d + "/in.csv")
    job = sensors_job(d, "file path=%s/in.csv" % d)
    ember("run", job, "--batches", "1", check_rc=0)
    text = open(job).read()
    write(job, text.replace("max-records=7000", "max-records=500").replace(f"{d}/out", f"{d}/out2"))
    ember("run", job, "--until-idle", check_rc=0)
    write(job, text.replace("key        sensor", "key        ts"))
    rc, _, err = ember("run", job, "--until-idle")
    check(rc == 2 and "state layout" in err and "key sensor" in err and "key ts" in err, err)


def test_kill9_then_restart_is_exact():
    d = tmpdir("kill")
    gen_file("sensors", 60000, 13, d + "/in.csv")
    job = sensors_job(d, "file path=%s/in.csv" % d, max_records=2000, every=4)
    for delay in (0.15, 0.3, 0.45):
        p = subprocess.Popen([EMBER, "run", job, "--until-idle"], stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.kill()
        p.wait()
    ember("run", job, "--until-idle", check_rc=0)
    check_against_oracle(d, read_csv(d + "/in.csv"))


if __name__ == "__main__":
    main([test_file_source_matches_oracle, test_generator_source_equals_gen_output,
          test_batch_limit_and_resume, test_growing_file_never_splits_lines,
          test_appends_during_a_run, test_stateless_select_to_file, test_wordcount_c_api,
          test_bad_records, test_second_writer_is_refused, test_spec_change_checked,
          test_kill9_then_restart_is_exact])
