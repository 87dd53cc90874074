"""What new users tripped over (issue 20), items 2, 5, 6, 8, 9 and 11, through
real ember processes: `ember state` decoding timers and composite keys and
counting keys exactly; numbers (the shortest text that reads back, ISO-8601
window bounds for humans, signs and spaces in input); TSV without quoting
(examples/wordcount.c on real text); help and "did you mean"; relative paths;
one name per meaning in the progress line and progress.jsonl. Every oracle is
computed here in Python (repr() for the shortest round-trip digits,
datetime for ISO-8601, the generators' records read back from `ember gen`)."""
import datetime
import json
import os
import random
import re
import struct
import subprocess

from harness import (ROOT, batch_files, check, ember, gen_file, latest_rows, main, read_csv,
                     state_json, tmpdir, write)


def iso(ms):
    t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def digits(text):
    """The significant digits of a number's text: '0.0500' -> '5'."""
    m = text.lower().lstrip("-+").split("e")[0].replace(".", "").strip("0")
    return m or "0"


def same_shortest(text, x):
    """text reads back as x and has the digits Python's repr picks."""
    return float(text) == x and digits(text) == digits(repr(x))


# ------------------------------------------------------------------ item 2

def windowed_job(d, name, kind, count, fields, key, window, aggs="count()", batch=5000):
    gen_file(kind, count, 3, d + "/in.csv")
    write(d + "/%s.job" % name, f"""job {name}
batch      interval=1ms max-records={batch}
checkpoint dir={d}/ckpt-{name} every=0
source     file path={d}/in.csv
parse      csv fields={fields}
key        {key}
window     {window}
aggregate  {aggs}
sink       file dir={d}/out-{name}
""")
    ember("run", d + "/%s.job" % name, "--until-idle", check_rc=0)
    return d + "/ckpt-" + name, read_csv(d + "/in.csv")


def test_state_decodes_pane_timers():
    """Tumbling and sliding windows keep a pane index (pane start | key): the
    timers are those panes whose last window has not fired, pane_end the
    pane's end (`--op timers` printed the key bytes as a start time)."""
    d = tmpdir("timers")
    for name, kind, fields, key, window, size, slide, tcol in [
            ("tumble", "posts", "user,hashtag,ts:int", "hashtag",
             "tumbling 1m on ts watermark 2s", 60000, 60000, 2),
            ("slide", "transactions", "card,merchant,amount:float,ts:int", "merchant",
             "sliding 60s every 10s on ts watermark 2s", 60000, 10000, 3)]:
        ck, rows = windowed_job(d, name, kind, 150000, fields, key, window)
        wm = max(int(r[tcol]) for r in rows) - 2000
        kcol = 1
        want = set()
        for r in rows:
            p = int(r[tcol]) // slide * slide
            if p + size > wm:
                want.add((p, p + slide, r[kcol]))
        got = {(t["pane_start"], t["pane_end"], t["key"]) for t in state_json(ck, "timers")}
        check(len(want) > 10 and got == want, "%s: %d timers, oracle %d (e.g. %s)" % (
            name, len(got), len(want), sorted(got ^ want)[:3]))
        _, out, _ = ember("state", ck, "--op", "timers", "--limit", "3", check_rc=0)
        lines = out.splitlines()
        check(lines[0].split() == ["pane_start", "pane_end", "key"], "header %r" % lines[0])
        first = sorted(want)[0]
        check(lines[1].split() == [iso(first[0]), iso(first[1]), first[2]],
              "%s: first timer %r, oracle %r" % (name, lines[1], first))


def test_state_composite_keys_and_sessions():
    """Session timers (end | key | start) and composite keys shown as
    `u0978,i0870`, the form --key takes (not `u0978\\u001fi0870`)."""
    d = tmpdir("sessions")
    ck, rows = windowed_job(d, "sess", "clicks", 60000, "user,item,ts:int", "user, item",
                            "session 30s on ts watermark 1s")
    wm = max(int(r[2]) for r in rows) - 1000
    events = {}
    for user, item, ts in rows:
        events.setdefault(user + "," + item, []).append(int(ts))
    open_sessions, open_counts = set(), {}
    for k, ts in events.items():
        ts.sort()
        first = last = ts[0]
        n = 1
        for t in ts[1:] + [None]:
            if t is not None and t - last < 30000:
                last = t
                n += 1
                continue
            if last + 30000 > wm:
                open_sessions.add((last + 30000, k, first))
                open_counts[k] = open_counts.get(k, 0) + n
            if t is not None:
                first = last = t
                n = 1
    got = {(t["window_end"], t["key"], t["window_start"]) for t in state_json(ck, "timers")}
    check(len(open_sessions) > 100 and got == open_sessions,
          "%d session timers, oracle %d (e.g. %s)" % (len(got), len(open_sessions),
                                                      sorted(got ^ open_sessions)[:3]))
    end, key, start = sorted(open_sessions)[0]
    _, out, _ = ember("state", ck, "--op", "timers", "--limit", "1", check_rc=0)
    check(out.splitlines()[1].split() == [iso(end), key, iso(start)],
          "table row %r, oracle %r" % (out.splitlines()[1], (iso(end), key, iso(start))))
    # --key without --op reads the aggregate; a composite key as 'user,item'
    user, item = key.split(",")
    n = open_counts[key]
    rc, out, err = ember("state", ck, "--key", key, "--format", "tsv")
    lines = out.splitlines()
    check(rc == 0 and lines[0] == "user\titem\twindow_start\twindow_end\tcount",
          "--key without --op: exit %d, %r %s" % (rc, lines[:2], err))
    check(all(l.split("\t")[:2] == [user, item] for l in lines[1:]) and
          sum(int(l.split("\t")[4]) for l in lines[1:]) == n,
          "rows of %s: %r, %d events" % (key, lines[1:], n))


def test_state_counts_keys_exactly():
    """`ember state DIR` shows the key count committed with the batch, not
    RocksDB's estimate (which counts every unflushed overwrite)."""
    d = tmpdir("keys")
    gen_file("sensors", 60000, 5, d + "/in.csv")
    write(d + "/s.job", f"""job s
batch      interval=1ms max-records=10000
checkpoint dir={d}/ckpt every=0
source     file path={d}/in.csv
parse      csv fields=sensor,ts:int,temp:float
key        sensor
aggregate  count() avg(temp)
sink       file dir={d}/out
""")
    ember("run", d + "/s.job", "--until-idle", check_rc=0)
    keys = len({r[0] for r in read_csv(d + "/in.csv")})
    _, out, _ = ember("state", d + "/ckpt", check_rc=0)
    line = [l for l in out.splitlines() if l.startswith("aggregate\t")][0]
    check(line.split("\t")[1] == "%d keys" % keys, "listing %r, %d keys in the input" % (
        line, keys))
    _, out, _ = ember("state", d + "/ckpt", "--format", "json", check_rc=0)
    agg = [o for o in json.loads(out) if o["op"] == "aggregate"][0]
    check(agg["keys"] == keys and agg["exact"] is True, "json listing %r" % agg)
    # --key without --op works; a missing key prints no header, one line, exit 1
    rc, out, err = ember("state", d + "/ckpt", "--key", "s0001")
    check(rc == 0 and len(out.splitlines()) == 2 and out.split()[:4] == [
        "sensor", "count", "avg_temp", "s0001"], "--key s0001: %d %r" % (rc, out))
    for fmt in ("table", "tsv", "json"):
        rc, out, err = ember("state", d + "/ckpt", "--key", "nosuch", "--format", fmt)
        check(rc == 1 and out == "" and err == "ember state: key 'nosuch' not found in aggregate\n",
              "--key nosuch (%s): exit %d, stdout %r, stderr %r" % (fmt, rc, out, err))


# ------------------------------------------------------------------ item 5

def float_cases():
    rnd = random.Random(20)
    xs = []
    while len(xs) < 1500:
        x = struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
        if x == x and abs(x) != float("inf"):
            xs.append(x)
    xs += [rnd.uniform(0, 100) + rnd.uniform(0, 100) for _ in range(1500)]   # sums
    xs += [round(rnd.uniform(-50, 50), 2) * 3 for _ in range(500)]
    xs += [2.0 ** k for k in range(-1074, 1024, 7)] + [-(2.0 ** -1017), 2.0 ** -1017]
    xs += [5e-324, 0.1 + 0.2, 284.09, 6.819599999999999, 1e15, 1e16, 1e22, 1.7976931348623157e308]
    return xs


def test_floats_print_shortest_everywhere():
    """Batch files and `ember state` print the shortest text that reads back
    as the same double: repr()'s digits (not 17 where 16 suffice)."""
    d = tmpdir("floats")
    xs = float_cases()
    write(d + "/in.csv", "".join("k%05d,%r\n" % (i, x) for i, x in enumerate(xs)))
    write(d + "/f.job", f"""job f
batch      interval=1ms max-records=2000
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=k,x:float
key        k
aggregate  max(x) min(x)
sink       file dir={d}/out
""")
    ember("run", d + "/f.job", "--until-idle", check_rc=0)
    want = {"k%05d" % i: x for i, x in enumerate(xs)}
    _, rows = latest_rows(d + "/out")
    bad = [(k, r[1], repr(want[k])) for k, r in rows.items()
           if not (same_shortest(r[1], want[k]) and same_shortest(r[2], want[k]))]
    check(len(rows) == len(xs) and not bad, "batch files: %d of %d differ, e.g. %s" % (
        len(bad), len(rows), bad[:3]))
    for fmt, col in (("tsv", 1), ("table", 1)):
        _, out, _ = ember("state", d + "/ckpt", "--op", "aggregate", "--format", fmt, check_rc=0)
        cells = [l.split() for l in out.splitlines()[1:]]
        bad = [(c[0], c[col]) for c in cells if not same_shortest(c[col], want[c[0]])]
        check(len(cells) == len(xs) and not bad, "state %s: %d differ, e.g. %s" % (
            fmt, len(bad), bad[:3]))
    got = {o["k"]: o["max_x"] for o in state_json(d + "/ckpt")}
    check(got == want, "state json reads back other doubles")


def test_stdout_sink_and_state_table_for_humans():
    """The stdout sink prints the same shortest floats (it rounded to 3
    decimals) and window bounds as ISO-8601 UTC, as does `ember state`'s
    table, whose columns line up whatever the cells' widths; files keep
    epoch milliseconds."""
    d = tmpdir("human")
    rows = ["s%d,%d,%r" % (i % 3, 1700000000000 + i * 7000, 20 + i / 7.0) for i in range(12)]
    write(d + "/in.csv", "\n".join(rows) + "\n")
    write(d + "/w.job", f"""job w
batch      interval=1ms max-records=100
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=s,ts:int,x:float
key        s
window     tumbling 1m on ts emit=update
aggregate  count() max(x)
sink       stdout max-rows=100
""")
    _, out, _ = ember("run", d + "/w.job", "--until-idle", check_rc=0)
    win = {}
    for r in rows:
        s, ts, x = r.split(",")
        w = int(ts) // 60000 * 60000
        c, m = win.get((s, w), (0, None))
        win[(s, w)] = (c + 1, max(m, float(x)) if m is not None else float(x))
    lines = out.splitlines()
    check(lines[1].split() == ["s", "window_start", "window_end", "count", "max_x"],
          "header %r" % lines[1])
    for l in lines[2:]:
        s, start, end, c, m = l.split()
        w = [k for k in win if k[0] == s and iso(k[1]) == start]
        check(w and end == iso(w[0][1] + 60000) and int(c) == win[w[0]][0] and
              same_shortest(m, win[w[0]][1]), "stdout row %r, oracle %r" % (l, w and win[w[0]]))
    _, out, _ = ember("state", d + "/ckpt", "--op", "aggregate", check_rc=0)
    lines = out.splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    for l in lines[1:]:
        check([m.start() for m in re.finditer(r"\S+", l)] == starts, "columns of %r vs %r" % (
            l, lines[0]))
        s, start, end = l.split()[:3]
        check(any(k[0] == s and iso(k[1]) == start and iso(k[1] + 60000) == end for k in win),
              "state row %r" % l)
    tsv = ember("state", d + "/ckpt", "--op", "aggregate", "--format", "tsv", check_rc=0)[1]
    check(all(c.split("\t")[1].isdigit() for c in tsv.splitlines()[1:]),
          "tsv keeps epoch ms: %r" % tsv.splitlines()[1])


def test_signs_and_spaces_in_numbers():
    """The decision (README, Numbers and text): ' 5', '+5' and '5 ' are the
    int 5; '+ 5' is a bad record, and so is a hex float."""
    d = tmpdir("signs")
    write(d + "/in.csv", "a, 5,1.5\nb,+5,+2.5\nc,5 , 3\nd,+ 5,1\ne,5,0x10\nf,-5,-.5e1\n")
    write(d + "/n.job", f"""job n
batch      interval=1ms
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=k,n:int,x:float on-error=skip
key        k
aggregate  sum(n) sum(x)
sink       file dir={d}/out
""")
    _, _, err = ember("run", d + "/n.job", "--until-idle", check_rc=0)
    got = {o["k"]: (o["sum_n"], o["sum_x"]) for o in state_json(d + "/ckpt")}
    check(got == {"a": (5, 1.5), "b": (5, 2.5), "c": (5, 3.0), "f": (-5, -5.0)},
          "state %r" % got)
    check(" bad 2 " in err, "two bad records (+ 5, 0x10): %s" % err)


# ------------------------------------------------------------------ item 6

def test_wordcount_on_real_text():
    """`tr -s ' ' '\\n' < README.md | build/wordcount` (it failed with
    `unterminated quoted field: '"Batches'`): TSV has no quoting."""
    d = tmpdir("wc-real")
    wc = os.path.abspath(os.environ.get("WORDCOUNT", os.path.join(ROOT, "build/wordcount")))
    readme = os.path.join(ROOT, "README.md")
    p = subprocess.run("tr -s ' ' '\\n' < %s | %s" % (readme, wc), shell=True, cwd=d,
                       capture_output=True, timeout=300)
    check(p.returncode == 0, "wordcount: %s" % p.stderr.decode()[-1500:])
    words = subprocess.run("tr -s ' ' '\\n' < %s" % readme, shell=True, capture_output=True,
                           check=True).stdout.split(b"\n")
    want = {}
    for w in words:
        if len(w) >= 3:
            want[w.lower()] = want.get(w.lower(), 0) + 1
    check(any(w.startswith(b'"') for w in want), "the text has words with quotes")
    _, got = latest_rows(d + "/out/wordcount")
    got = {k.encode(): int(v[1]) for k, v in got.items()}
    check(got == want, "%d words counted, oracle %d; e.g. %s" % (
        len(got), len(want), sorted(set(got.items()) ^ set(want.items()))[:3]))


def test_tsv_quote_option():
    d = tmpdir("quote")
    write(d + "/in.tsv", '"hello\t1\nsay "hi"\t2\n"quoted"\t3\n')
    for quote, want_rc in (("", 0), ("quote=on", 1)):
        write(d + "/q.job", f"""job q
batch      interval=1ms
checkpoint dir={d}/ckpt{quote[-2:]}
source     file path={d}/in.tsv
parse      tsv fields=w,n:int on-error=fail {quote}
key        w
aggregate  sum(n)
sink       file dir={d}/out{quote[-2:]}
""")
        rc, _, err = ember("run", d + "/q.job", "--until-idle")
        check(rc == want_rc, "%s: exit %d: %s" % (quote or "default", rc, err[-500:]))
    got = {o["w"]: o["sum_n"] for o in state_json(d + "/ckpt")}
    check(got == {'"hello': 1, 'say "hi"': 2, '"quoted"': 3}, "tsv without quoting: %r" % got)


# ------------------------------------------------------------------ item 8

def test_help_lists_kinds_and_steps():
    kinds = ["sensors", "ads", "transactions", "posts", "clicks", "trades"]
    rc, _, err = ember("gen", "sensor", "--to", "-")
    check(rc == 2 and "did you mean 'sensors'?" in err and all(k in err for k in kinds),
          "gen sensor: %d %s" % (rc, err))
    _, out, _ = ember("run", "--help", check_rc=0)
    check("sensors, ads, transactions)" not in out and
          "sensors|ads|transactions|posts|clicks|trades" in out, "run --help kinds")
    for step in ("job NAME", "batch OPTS", "checkpoint OPTS", "source KIND", "parse csv|tsv",
                 "filter EXPR", "select ITEM", "join table", "dedupe FIELD within D", "key F",
                 "ttl D", "window tumbling", "aggregate FN", "having EXPR", "top K by COL",
                 "sink KIND"):
        check("\n  " + step in out, "run --help does not document '%s'" % step)
    check("--batches N    stop after N new batches (0: no limit" in out, "--batches 0")
    _, out, _ = ember("state", "--help", check_rc=0)
    check("--snapshot B   read snapshot B instead of the live state (0: the live state)" in out,
          "state --snapshot 0")
    _, out, _ = ember("inspect", "--help", check_rc=0)
    check("--batch 0 is the newest" in out, "inspect --batch 0")
    readme = open(os.path.join(ROOT, "README.md")).read()
    check("`--batches 0`" in readme and "`--snapshot 0`" in readme and "`--batch 0`" in readme,
          "README documents the zeros")


def test_did_you_mean():
    d = tmpdir("suggest")
    head = ("job x\nbatch interval=1ms\ncheckpoint dir=%s/ckpt\nsource generator kind=sensors "
            "count=10\nparse csv fields=sensor,ts:int,temp:float\n" % d)
    for tail, want in [("batch max-record=5\n", "unknown option 'max-record'; did you mean "
                                                "'max-records'?"),
                       ("filtr temp > 3\n", "did you mean 'filter'?"),
                       ("filter tmp > 3\n", "unknown field 'tmp'; did you mean 'temp'?"),
                       ("key sensor\naggregate agv(temp)\n", "did you mean 'avg'?"),
                       ("sink fil dir=%s/o\n" % d, "did you mean 'file'?")]:
        text = head + tail if not tail.startswith("batch") else head.replace(
            "batch interval=1ms\n", tail)
        write(d + "/x.job", text)
        rc, _, err = ember("run", d + "/x.job", "--until-idle")
        check(rc == 2 and want in err, "%r: exit %d: %s" % (tail, rc, err))
    write(d + "/x.job", head.replace("interval=1ms", "interval=5"))
    rc, _, err = ember("run", d + "/x.job", "--until-idle")
    check(rc == 2 and "'5' needs a unit: 5ms, 5s, 5m or 5h" in err, "interval=5: %d %s" % (rc, err))
    check(not os.path.exists(d + "/ckpt"), "a bad job file creates no checkpoint")
    rc, _, err = ember("stat", d)
    check(rc == 2 and "did you mean 'state'?" in err, "ember stat: %s" % err)
    rc, _, err = ember("run", d + "/x.job", "--batch", "1")
    check(rc == 2 and "did you mean '--batches'?" in err, "--batch: %s" % err)


# ------------------------------------------------------------------ item 9

def test_relative_paths_and_no_checkpoint_on_failure():
    """Relative paths are relative to the current directory (not the job
    file's); a job that fails to start leaves no ./ckpt/NAME."""
    d = os.path.realpath(tmpdir("paths"))
    os.makedirs(d + "/jobs")
    write(d + "/jobs/p.job", """job pathy
batch      interval=1ms
source     file path=in.csv
parse      csv fields=a,b:int
key        a
aggregate  sum(b)
sink       file dir=out/p
""")
    rc, _, err = ember_in(d, "run", "jobs/p.job", "--until-idle")
    check(rc == 1 and err.strip().endswith(
        "source file in.csv (relative to %s): No such file or directory" % d),
        "missing source: exit %d: %s" % (rc, err))
    check(not os.path.exists(d + "/ckpt"), "a job that fails to start created ./ckpt")
    write(d + "/jobs/in.csv", "x,1\n")   # beside the job file: not where it is looked for
    rc, _, err = ember_in(d, "run", "jobs/p.job", "--until-idle")
    check(rc == 1 and "relative to %s)" % d in err, "still missing: %s" % err)
    write(d + "/jobs/q.job", open(d + "/jobs/p.job").read().replace(
        "parse      csv fields=a,b:int",
        "parse      csv fields=a,b:int on-error=dead-letter:bad/x.bad").replace(
        "path=in.csv", "path=jobs/in.csv"))
    rc, _, err = ember_in(d, "run", "jobs/q.job", "--until-idle")
    check(rc == 1 and "dead-letter file bad/x.bad (relative to %s): directory bad: No such "
          "file or directory" % d in err, "dead-letter dir: %s" % err)
    check(not os.path.exists(d + "/ckpt"), "no ./ckpt after a failed start")
    write(d + "/in.csv", "x,1\ny,2\nx,3\n")
    ember_in(d, "run", "jobs/p.job", "--until-idle", check_rc=0)
    check(os.path.isdir(d + "/ckpt/pathy") and os.path.isdir(d + "/out/p"),
          "checkpoint and output under the current directory")
    check({o["a"]: o["sum_b"] for o in state_json(d + "/ckpt/pathy")} == {"x": 4, "y": 2},
          "state of the relative-path job")


def ember_in(cwd, *args, check_rc=None):
    exe = os.path.abspath(os.environ.get("EMBER", "build/ember"))
    p = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if check_rc is not None:
        check(p.returncode == check_rc, "ember %s: exit %d: %s" % (args, p.returncode, p.stderr))
    return p.returncode, p.stdout, p.stderr


# ------------------------------------------------------------------ item 11

def test_progress_names_and_state_size():
    """`rows` (sink rows) in both the line and progress.jsonl, `records_kept`
    (records past parse/filter) only in the file: no name means two things.
    The state size is real on snapshot batches too (it showed 0.0 MB)."""
    d = tmpdir("names")
    gen_file("sensors", 30000, 9, d + "/in.csv")
    write(d + "/n.job", f"""job n
batch      interval=1ms max-records=10000
checkpoint dir={d}/ckpt every=1
source     file path={d}/in.csv
parse      csv fields=sensor,ts:int,temp:float
filter     temp > 30
key        sensor
aggregate  count()
sink       file dir={d}/out
""")
    _, _, err = ember("run", d + "/n.job", "--until-idle", check_rc=0)
    lines = [l for l in err.splitlines() if l.startswith("batch ")]
    files = {b: rows for b, _, rows in batch_files(d + "/out")}
    check(len(lines) == 3 and all(" out " not in l for l in lines), "lines %r" % lines)
    for l in lines:
        m = re.match(r"batch (\d+): in (\d+) rows (\d+) bad 0 \|.* state (\d+) KB$", l)
        check(m and int(m.group(3)) == len(files[int(m.group(1))]) and int(m.group(4)) > 0,
              "progress line %r" % l)
    prog = [json.loads(l) for l in open(d + "/ckpt/progress.jsonl")]
    rows = read_csv(d + "/in.csv")
    kept = sum(1 for r in rows if float(r[2]) > 30)
    check(all("records_out" not in p for p in prog), "records_out is gone")
    check(sum(p["records_kept"] for p in prog) == kept and
          [p["rows"] for p in prog] == [len(files[p["batch"]]) for p in prog],
          "records_kept %r (oracle %d), rows %r" % ([p["records_kept"] for p in prog], kept,
                                                    [p["rows"] for p in prog]))
    du = sum(os.path.getsize(os.path.join(d + "/ckpt/db", f)) for f in os.listdir(d + "/ckpt/db"))
    check(all(p["state_bytes"] > 4096 for p in prog) and abs(prog[-1]["state_bytes"] - du) < 65536,
          "state_bytes %r, db on disk %d" % ([p["state_bytes"] for p in prog], du))


def test_readme_example_paths():
    """The README names the directories the example jobs really write."""
    readme = re.sub(r"\s+", " ", open(os.path.join(ROOT, "README.md")).read())
    for name in sorted(os.listdir(os.path.join(ROOT, "examples"))):
        if not name.endswith(".job"):
            continue
        text = open(os.path.join(ROOT, "examples", name)).read()
        job = re.search(r"^job\s+(\S+)", text, re.M).group(1)
        out = re.search(r"^sink\s+file dir=(\S+)", text, re.M)
        bullet = re.search(r"\(`%s`[^)]*\)" % re.escape(name), readme)
        check(bullet, "README's examples do not mention %s" % name)
        if out:
            check("output `%s`" % out.group(1) in bullet.group(0),
                  "%s writes %s; the README says %s" % (name, out.group(1), bullet.group(0)))
        check("checkpoint `./ckpt/%s`" % job in bullet.group(0),
              "%s checkpoints in ./ckpt/%s; the README says %s" % (name, job, bullet.group(0)))


if __name__ == "__main__":
    main([test_state_decodes_pane_timers, test_state_composite_keys_and_sessions,
          test_state_counts_keys_exactly, test_floats_print_shortest_everywhere,
          test_stdout_sink_and_state_table_for_humans, test_signs_and_spaces_in_numbers,
          test_wordcount_on_real_text, test_tsv_quote_option, test_help_lists_kinds_and_steps,
          test_did_you_mean, test_relative_paths_and_no_checkpoint_on_failure,
          test_progress_names_and_state_size, test_readme_example_paths])
