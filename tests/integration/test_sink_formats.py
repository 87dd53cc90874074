"""format=csv|tsv|json on the file, stdout and kafka sinks.

Each test runs a job over JSON lines generated here (strings with commas,
quotes, tabs, newlines, backslashes, control bytes, unicode, empty strings
and nulls; floats such as 0.1, 1e300, -0.0 and 5e-324; a select column
that nullif makes NULL) and reads what the sink wrote with a reader written
here for the format (Python's json module; an RFC 4180 tokenizer beside
Python's csv module; a PostgreSQL text COPY unescaper), then compares every
row's values and types against the rows computed from the input in Python.
The plain form (no format=) is checked byte for byte against the text
earlier releases wrote.
"""
import csv
import io
import json
import math
import os
import random
import selectors
import signal
import subprocess

from harness import EMBER, check, ember, main, tmpdir, write

SEED = int(os.environ.get("SEED") or random.SystemRandom().randrange(1, 10**6))
rng = random.Random(SEED)

STRINGS = ["plain", "a,b", 'say "hi"', '"', "tab\there", "line\nbreak", "cr\rlf\r\n",
           "back\\slash", "\\N", "ctl\x01\x1f\x7f", "héllo ✓ 日本 😀", "", " spaced ", ",",
           "\u2028sep", "mixed,\"\t\n\\"]
FLOATS = [0.1, 1e300, -0.0, 0.0, 2.5, 20.0, 5e-324, 1.7976931348623157e308,
          0.30000000000000004, -123456.789, 1e-7, 1e16, 123456789012345680.0]
FIELDS = ["id", "s", "x", "n"]


def make_input(count):
    """JSON lines and the rows the job must write: (id, s, x, nullif(s, ''))."""
    lines, rows = [], []
    for i in range(count):
        s = None if i % 11 == 5 else STRINGS[i % len(STRINGS)] if i < 64 else \
            "".join(rng.choice('ab ,"\t\n\\é✓') for _ in range(rng.randrange(0, 8)))
        x = None if i % 13 == 7 else FLOATS[i % len(FLOATS)] if i < 64 else \
            rng.choice([rng.uniform(-1e6, 1e6), rng.random(), float(rng.randrange(-50, 50))])
        rec = {"id": i}
        if s is not None or i % 2:
            rec["s"] = s  # a missing member and a JSON null are both NULL
        if x is not None or i % 2:
            rec["x"] = x
        lines.append(json.dumps(rec))
        rows.append((i, s, x, None if s == "" else s))
    return "\n".join(lines) + "\n", rows


def job_text(d, sink):
    return ("job        fmt\nbatch      interval=20ms max-records=%d\n"
            "source     file path=%s/in.jsonl\nparse      json fields=id:int,s,x:float\n"
            "select     id, s, x, nullif(s, \"\") as n\n%s\n"
            % (rng.randrange(5, 40), d, sink))


# ------------------------------------------------------------ readers

def csv_tokens(text):
    """RFC 4180 records as lists of (value, quoted): independent of ember and
    of Python's csv module (which cannot tell "" from an empty field)."""
    recs, rec, i, n = [], [], 0, len(text)
    while i < n:
        if text[i] == '"':
            j, val = i + 1, []
            while True:
                k = text.index('"', j)
                val.append(text[j:k])
                if k + 1 < n and text[k + 1] == '"':
                    val.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            rec.append(("".join(val), True))
        else:
            j = i
            while j < n and text[j] not in ",\n":
                j += 1
            rec.append((text[i:j], False))
            i = j
        check(i == n or text[i] in ",\n", "csv: junk after a quoted field at %d" % i)
        if i < n and text[i] == "\n":
            recs.append(rec)
            rec = []
        i += 1
    check(not rec, "csv: the last record has no line end")
    return recs


def tsv_cell(t):
    if t == "\\N":
        return None
    out, i = [], 0
    while i < len(t):
        if t[i] == "\\":
            out.append({"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}[t[i + 1]])
            i += 2
        else:
            out.append(t[i])
            i += 1
    return "".join(out)


def typed(cells):
    """Text cells (None = NULL) to the row's types: id int, x float."""
    i, s, x, n = cells
    return (int(i), s, None if x is None else float(x), n)


def parse_csv(text, header=True):
    toks = csv_tokens(text)
    plain = list(csv.reader(io.StringIO(text, newline="")))
    check([[v for v, _ in r] for r in toks] == plain, "csv: tokens differ from Python's csv")
    if header:
        check([v for v, _ in toks[0]] == FIELDS, "csv header %r" % toks[0])
        toks = toks[1:]
    rows = []
    for r in toks:
        check(len(r) == 4, "csv row %r" % r)
        rows.append(typed([None if (v == "" and not q) else v for v, q in r]))
    return rows


def parse_tsv(text, header=True):
    check(text.endswith("\n"), "tsv does not end with a newline")
    lines = text[:-1].split("\n")
    if header:
        check(lines[0].split("\t") == FIELDS, "tsv header %r" % lines[0])
        lines = lines[1:]
    rows = []
    for line in lines:
        cells = line.split("\t")
        check(len(cells) == 4, "tsv row %r" % line)
        rows.append(typed([tsv_cell(c) for c in cells]))
    return rows


def parse_json(text, header=None):
    check(text.endswith("\n"), "json does not end with a newline")
    rows = []
    for line in text[:-1].split("\n"):
        obj = json.loads(line)
        check(list(obj) == FIELDS, "json names %r" % list(obj))
        check(type(obj["id"]) is int, "json id %r" % line)
        check(obj["x"] is None or type(obj["x"]) is float, "json x not a float: %r" % line)
        rows.append((obj["id"], obj["s"], obj["x"], obj["n"]))
    return rows


READERS = {"csv": parse_csv, "tsv": parse_tsv, "json": parse_json}


def same(got, want, what):
    check(len(got) == len(want), "%s: %d rows, wanted %d" % (what, len(got), len(want)))
    for g, w in zip(sorted(got, key=lambda r: r[0]), want):
        ok = g[:2] == w[:2] and g[3] == w[3] and (
            g[2] == w[2] if w[2] is None else
            g[2] is not None and g[2] == w[2] and math.copysign(1, g[2]) == math.copysign(1, w[2]))
        check(ok, "%s: row %r, wanted %r" % (what, g, w))


# ------------------------------------------------------------ file sink

def run_file(fmt):
    d = tmpdir("fmt-file")
    text, rows = make_input(400)
    write(d + "/in.jsonl", text)
    opt = " format=" + fmt if fmt else ""
    write(d + "/j.job", job_text(d, "sink       file dir=%s/out%s" % (d, opt)))
    ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    ext = {"csv": "csv", "json": "jsonl"}.get(fmt, "tsv")
    names = sorted(os.listdir(d + "/out"))
    files = [n for n in names if not n.startswith(".")]
    check(files and all(n.endswith("." + ext) for n in files), "batch files %r" % names)
    got = []
    for n in files:
        with open(os.path.join(d, "out", n), newline="", encoding="utf-8") as f:
            body = f.read()
        got += READERS[fmt or "tsv"](body) if fmt else [body]
    return got, rows


def test_file_csv_tsv_json():
    for fmt in ("csv", "tsv", "json"):
        got, rows = run_file(fmt)
        same(got, rows, "file format=" + fmt)


def plain_value(v):
    """The text earlier releases wrote: Python's repr digits in %g form
    (no '.0' on a whole number), NULL empty, strings unescaped."""
    if v is None:
        return ""
    if isinstance(v, float):
        r = repr(v)
        if "e" in r:
            m, e = r.split("e")
            m = m[:-2] if m.endswith(".0") else m
            return "%se%s%02d" % (m, "-" if e[0] == "-" else "+", abs(int(e)))
        if r.endswith(".0") and abs(v) < 1e16:
            return r[:-2]
        return r
    return str(v)


def test_file_without_format_is_unchanged():
    bodies, rows = run_file(None)
    header = "id\ts\tx\tn\n"
    check(all(b.startswith(header) for b in bodies), "plain header")
    got = "".join(b[len(header):] for b in bodies)
    want = "".join("\t".join(plain_value(v) for v in r) + "\n" for r in rows)
    check(got == want, "plain text differs: first at byte %d" %
          next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want))))


def test_unknown_format_is_refused():
    d = tmpdir("fmt-bad")
    write(d + "/in.jsonl", "{}\n")
    write(d + "/j.job", job_text(d, "sink       file dir=%s/out format=xml" % d))
    rc, _, err = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle")
    check(rc == 2, "exit %d" % rc)
    check("j.job:6:" in err and "'xml'" in err and "csv|tsv|json" in err, "message: " + err)


# ------------------------------------------------------------ stdout sink

def test_stdout_csv_tsv_json():
    for fmt in ("csv", "tsv", "json"):
        d = tmpdir("fmt-stdout")
        text, rows = make_input(300)
        write(d + "/in.jsonl", text)
        write(d + "/j.job", job_text(d, "sink       stdout format=" + fmt))
        # bytes, not text mode: universal newlines would turn a CR into LF
        p = subprocess.run([EMBER, "run", d + "/j.job", "--dir", d + "/ck", "--until-idle"],
                           capture_output=True, timeout=300)
        check(p.returncode == 0, "exit %d: %r" % (p.returncode, p.stderr[-2000:]))
        same(READERS[fmt](p.stdout.decode()), rows, "stdout format=" + fmt)


# ------------------------------------------------------------ kafka sink

class Broker:
    def __init__(self, *topics):
        args = [EMBER, "broker"]
        for t in topics:
            args += ["--topic", t]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sel = selectors.DefaultSelector()
        sel.register(self.p.stdout, selectors.EVENT_READ)
        check(sel.select(timeout=30), "ember broker printed no address within 30 s")
        self.addr = self.p.stdout.readline().strip()
        check(self.addr.startswith("127.0.0.1:"), "broker address %r" % self.addr)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise


def kafka_values(addr, topic):
    """Every record's (key, value) as bytes, framed by their lengths (values
    may hold newlines)."""
    p = subprocess.run(["kcat", "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", "%K %S %k%s"],
                       capture_output=True, timeout=60)
    check(p.returncode == 0, "kcat: %r" % p.stderr[-500:])
    out, buf = [], p.stdout
    while buf:
        klen, vlen, rest = buf.split(b" ", 2)
        klen, vlen = max(int(klen), 0), max(int(vlen), 0)
        out.append((rest[:klen].decode(), rest[klen:klen + vlen].decode()))
        buf = rest[klen + vlen:]
    return out


def test_kafka_csv_tsv_json():
    b = Broker("out-csv:2", "out-tsv:2", "out-json:2")
    try:
        for fmt in ("csv", "tsv", "json"):
            d = tmpdir("fmt-kafka")
            text, rows = make_input(200)
            write(d + "/in.jsonl", text)
            topic = "out-" + fmt
            write(d + "/j.job", job_text(d, "sink       kafka brokers=%s topic=%s format=%s"
                                         % (b.addr, topic, fmt)).replace("job        fmt",
                                                                         "job        fmt-" + fmt))
            ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0, timeout=240)
            recs = kafka_values(b.addr, topic)
            check(all(k == "" for k, _ in recs), "keys on a keyless stream")
            got = [READERS[fmt](v + "\n", header=False)[0] for _, v in recs]
            same(got, rows, "kafka format=" + fmt)
    finally:
        b.stop()


def test_kafka_json_key_is_an_object():
    b = Broker("agg:2")
    try:
        d = tmpdir("fmt-kafka-key")
        words = ["a,b", "tab\t", "é", "q\"", "x"]
        recs = [{"w": rng.choice(words), "v": rng.randrange(100)} for _ in range(300)]
        write(d + "/in.jsonl", "".join(json.dumps(r) + "\n" for r in recs))
        write(d + "/j.job", "job        fmt-key\nbatch      interval=20ms max-records=50\n"
              "source     file path=%s/in.jsonl\nparse      json fields=w,v:int\n"
              "key        w\naggregate  count() sum(v)\n"
              "sink       kafka brokers=%s topic=agg format=json\n" % (d, b.addr))
        ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0, timeout=240)
        latest = {}
        for k, v in kafka_values(b.addr, "agg"):
            key, val = json.loads(k), json.loads(v)
            check(list(key) == ["w"] and val["w"] == key["w"], "key %r value %r" % (k, v))
            latest[key["w"]] = val
        want = {}
        for r in recs:
            c, s = want.get(r["w"], (0, 0))
            want[r["w"]] = (c + 1, s + r["v"])
        got = {w: tuple(v for n, v in val.items() if n != "w") for w, val in latest.items()}
        check(got == want, "running count, sum: %r, wanted %r" % (got, want))
    finally:
        b.stop()


if __name__ == "__main__":
    main([test_file_csv_tsv_json, test_file_without_format_is_unchanged,
          test_unknown_format_is_refused, test_stdout_csv_tsv_json, test_kafka_csv_tsv_json,
          test_kafka_json_key_is_an_object])
