"""Aggregate forms users bring from SQL: `f(...) as NAME`, aggregates
separated by commas, and an aggregate without a key (one global group),
windowed or not; checked against Python over the same input."""
import random

from harness import batch_files, check, close, ember, main, tmpdir, write


def make_input(path, n, seed):
    rnd = random.Random(seed)
    rows = [("s%d" % rnd.randrange(9), 1000 * i, round(rnd.uniform(-10, 40), 2))
            for i in range(n)]
    write(path, "".join("%s,%d,%.2f\n" % r for r in rows))
    return rows


def test_named_global_aggregate():
    d = tmpdir("global")
    rows = make_input(d + "/in.csv", 3000, 5)
    write(d + "/j.job", f"""job g
batch interval=1ms max-records=700
source file path={d}/in.csv
parse csv fields=sensor,ts:int,temp:float
aggregate count() as readings, avg(temp) as mean, max(temp) as hottest
sink file dir={d}/out
""")
    ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    files = batch_files(d + "/out")
    check(len(files) == 5, "3000 records / 700 per batch: %d files" % len(files))
    _, header, rows_out = files[-1]
    check(header == ["readings", "mean", "hottest"], header)
    check(len(rows_out) == 1, "one global group per batch, got %r" % rows_out)
    row = rows_out[0]
    temps = [t for _, _, t in rows]
    check(int(row[0]) == len(temps), row)
    check(close(float(row[1]), sum(temps) / len(temps), 1e-9), row)
    check(float(row[2]) == max(temps), row)


def test_global_tumbling_window_with_names():
    d = tmpdir("gwin")
    rows = make_input(d + "/in.csv", 2000, 8)
    write(d + "/j.job", f"""job gw
batch interval=1ms max-records=500
source file path={d}/in.csv
parse csv fields=sensor,ts:int,temp:float
window tumbling 60s on ts
aggregate count() as n, min(temp) as coldest
sink file dir={d}/out
""")
    ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    want = {}
    for _, ts, t in rows:
        start = ts // 60000 * 60000
        n, lo = want.get(start, (0, None))
        want[start] = (n + 1, t if lo is None else min(lo, t))
    last = max(want)  # the newest window is still open (the watermark has not passed it)
    got = {}
    for path in sorted(__import__("glob").glob(d + "/out/*.tsv")):
        lines = open(path).read().splitlines()
        check(lines[0].split("\t") == ["window_start", "window_end", "n", "coldest"], lines[0])
        for line in lines[1:]:
            f = line.split("\t")
            got[int(f[0])] = (int(f[2]), float(f[3]))
    check(set(got) == set(want) - {last}, "windows %r" % sorted(got))
    for start, (n, lo) in got.items():
        check((n, lo) == want[start], "window %d: %r vs %r" % (start, (n, lo), want[start]))


def test_bad_alias_points_at_it():
    d = tmpdir("alias")
    write(d + "/j.job", "job a\nsource file path=x\nparse csv fields=a:int\n"
                        "aggregate sum(a) as 9lives\n")
    rc, _, err = ember("run", d + "/j.job", "--dir", d + "/ck")
    check(rc == 2 and "j.job:4:" in err and "expected a column name after 'as'" in err, err)


if __name__ == "__main__":
    main([test_named_global_aggregate, test_global_tumbling_window_with_names,
          test_bad_alias_points_at_it])
