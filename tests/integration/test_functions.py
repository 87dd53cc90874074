"""Functions in expressions through a real `ember run`: a filter and a select
full of functions over a generated CSV file, checked row by row against a
Python oracle (str methods, re, datetime, decimal) over the same file."""
import datetime
import decimal
import random
import re

from harness import batch_files, check, close, ember, main, tmpdir, write

PAGES = ["Home/1", "HOME/22", "home", "homepage/7", "about/3", "Contact", "hOmE/x", "/home/4"]


def make_input(path, n, seed):
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        rows.append(("user%d" % rnd.randrange(20), rnd.choice(PAGES), rnd.randrange(0, 31),
                     1700000000000 + rnd.randrange(0, 3 * 86400000),
                     rnd.choice(["", "  ads ", "mail", " "]), rnd.randrange(2000) / 4))
    write(path, "".join("%s,%s,%d,%d,%s,%r\n" % r for r in rows))
    return rows


def round_half_up(x, places):
    q = decimal.Decimal(1).scaleb(-places)
    return float(decimal.Decimal(x).quantize(q, rounding=decimal.ROUND_HALF_UP))


def oracle(rows):
    out = []
    for user, page, ts, at, ref, v in rows:
        if not (page.lower().startswith("home") and 10 <= ts <= 20):
            continue
        day = datetime.datetime.fromtimestamp(at // 1000, datetime.timezone.utc)
        iso = datetime.datetime.fromtimestamp(at / 1000, datetime.timezone.utc)
        m = re.search(r"/([0-9]+)$", page)
        out.append([user.upper(), str(at // 3600000 * 3600000),
                    iso.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    str(len(page)), "early" if ts < 15 else "late",
                    ref.strip() if ref.strip() else "direct", m.group(1) if m else "",
                    round_half_up(v * 1.5, 1), str(day.hour), str(day.isoweekday()),
                    "x" if ts in (10, 12, 14) else "-"])
    return out


def test_filter_and_select_with_functions():
    d = tmpdir("functions")
    rows = make_input(d + "/in.csv", 5000, 7)
    write(d + "/j.job", f"""job functions
batch      interval=1ms max-records=700
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=user,page,ts:int,at:int,ref,v:float
filter     lower(page) like 'home%' and ts between 10 and 20
select     upper(user) as u, date_trunc('hour', at) as h, to_iso(at) as iso, length(page) as n, case when ts < 15 then 'early' else 'late' end as part, coalesce(nullif(trim(ref), ''), 'direct') as src, regexp_extract(page, '/([0-9]+)$') as id, round(v * 1.5, 1) as r, hour(at) as hr, day_of_week(at) as dow, if(ts in (10, 12, 14), 'x', '-') as mark
sink       file dir={d}/out
""")
    ember("run", d + "/j.job", "--until-idle", check_rc=0)
    batches = batch_files(d + "/out")
    check(batches, "no output files")
    check(batches[0][1] == ["u", "h", "iso", "n", "part", "src", "id", "r", "hr", "dow", "mark"],
          "header %r" % (batches[0][1],))
    got = [row for _, _, rs in batches for row in rs]
    want = oracle(rows)
    check(len(want) > 100, "the oracle keeps %d rows: too few to test" % len(want))
    check(len(got) == len(want), "%d rows, want %d" % (len(got), len(want)))
    for g, w in zip(got, want):
        same = g[:7] == w[:7] and close(float(g[7]), w[7], 1e-15) and g[8:] == w[8:]
        check(same, "row %r, want %r" % (g, w))


def test_count_of_a_field_skips_nulls():
    """count() counts records, count(ref) those with a ref (an empty CSV
    field is NULL); `not (ref = 'mail')` would drop the NULLs too, so the
    filter keeps them explicitly."""
    d = tmpdir("functions-count")
    rows = make_input(d + "/in.csv", 3000, 8)
    write(d + "/j.job", f"""job counts
batch      interval=1ms max-records=500
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=user,page,ts:int,at:int,ref,v:float
filter     not (ref = 'mail') or ref is null
key        user
aggregate  count() as n, count(ref) as refs, count(ts) as t
sink       file dir={d}/out
""")
    ember("run", d + "/j.job", "--until-idle", check_rc=0)
    want = {}
    for user, _, _, _, ref, _ in rows:
        if ref == "mail":
            continue
        n, refs = want.get(user, (0, 0))
        want[user] = (n + 1, refs + (ref != ""))
    latest = {}
    for _, h, rs in batch_files(d + "/out"):
        check(h == ["user", "n", "refs", "t"], "header %r" % (h,))
        for r in rs:
            latest[r[0]] = r
    got = {u: (int(r[1]), int(r[2])) for u, r in latest.items()}
    check(got == want, "counts %r, want %r" % (sorted(got.items())[:3], sorted(want.items())[:3]))
    check(all(r[1] == r[3] for r in latest.values()), "count(ts) = count() without NULL ts")
    check(any(a < b for b, a in got.values()), "some users have records without a ref")


def test_unknown_function_is_a_load_error_naming_the_column():
    d = tmpdir("functions-err")
    write(d + "/in.csv", "a,1\n")
    write(d + "/j.job", f"""job bad
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=user,ts:int
select     uper(user) as u
sink       stdout
""")
    rc, _, err = ember("run", d + "/j.job", "--until-idle")
    check(rc != 0, "an unknown function must fail the load")
    check("uper" in err and "did you mean 'upper'" in err, "message: %s" % err.strip())


def test_aggregates_of_only_nulls_are_null():
    """sum, min, max and avg of a key whose values are all NULL are NULL
    (empty in the TSV batch file); count(v) is 0 and count() counts rows."""
    import random
    d = tmpdir("functions-nullsum")
    rnd = random.Random(9)
    rows = [(k, "" if k == "none" else str(rnd.randrange(-50, 50)) if rnd.random() < 0.8 else "")
            for k in (rnd.choice(["none", "some", "more"]) for _ in range(500))]
    write(d + "/in.csv", "".join("%s,%s\n" % r for r in rows))
    write(d + "/j.job", f"""job nulls
batch interval=1ms max-records=50
checkpoint dir={d}/ckpt
source file path={d}/in.csv
parse csv fields=k,v:int
key k
aggregate count() as n, count(v) as nv, sum(v) as s, min(v) as lo, max(v) as hi, avg(v) as mean
sink file dir={d}/out
""")
    ember("run", d + "/j.job", "--until-idle", check_rc=0)
    latest = {}
    for _, _, rs in batch_files(d + "/out"):
        for r in rs:
            latest[r[0]] = r
    for k in ("none", "some", "more"):
        vals = [int(v) for kk, v in rows if kk == k and v != ""]
        n = sum(1 for kk, _ in rows if kk == k)
        if not n:
            continue
        want = [k, str(n), str(len(vals))] + (
            [str(sum(vals)), str(min(vals)), str(max(vals))] if vals else ["", "", ""])
        check(latest[k][:6] == want, "key %s: %s, want %s" % (k, latest[k][:6], want))
        if not vals:
            check(latest[k][6] == "", "avg of only NULLs: %r" % latest[k][6])


if __name__ == "__main__":
    main([test_filter_and_select_with_functions, test_count_of_a_field_skips_nulls,
          test_aggregates_of_only_nulls_are_null,
          test_unknown_function_is_a_load_error_naming_the_column])
