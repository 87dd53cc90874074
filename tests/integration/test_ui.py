"""`ember run --ui` and `ember ui DIR`: the status page, /metrics and /api/v1/.

The oracles are progress.jsonl (one line per committed batch, written before
the batch is published to the page) and the file sink's batch files: the
counters of /metrics are sums over progress.jsonl's lines of this run, the
histograms are counted again here from its per-batch times, every batch of
/api/v1/batches equals its line, the lag is count= minus the committed offset,
the newest output rows are the last rows of the batch files. /metrics is read
by a parser of the text exposition format written here. A headless chromium
(Debian's, through playwright-core in build/npm) opens the page, checks the
charts, the numbers, a batch's detail and keeps working across a kill -9.
Request paths, query strings and methods are fuzzed over raw sockets.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from harness import EMBER, ROOT, check, main, tmpdir, write

COUNT = 5_000_000  # the generator's count=: its end, for the lag
OUT_DIR = os.path.join(ROOT, "build", "test-output")
NODE_MODULES = os.path.join(ROOT, "build", "npm", "node_modules", "playwright-core")
BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]


def job_text(d, rate=20000, interval="200ms"):
    return f"""job ui-test
batch interval={interval} max-records=100000
checkpoint dir={d}/ckpt every=4 keep=2
source generator kind=sensors seed=7 rate={rate} count={COUNT}
parse csv fields=sensor,ts:int,temp:float on-error=skip
filter temp > -50
key sensor
aggregate count() sum(temp) max(temp)
sink file dir={d}/out
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Job:
    """`ember run JOB --ui LISTEN` in the background, stderr collected."""

    def __init__(self, job, listen):
        self.p = subprocess.Popen([EMBER, "run", job, "--ui", listen], stderr=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, text=True)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for l in list(self.lines):
                m = re.search(pattern, l)
                if m:
                    return m
            check(self.p.poll() is None, "the job exited (%s):\n%s" % (
                self.p.returncode, "\n".join(self.lines[-20:])))
            time.sleep(0.05)
        check(False, "no line matching %r in %d s:\n%s" % (pattern, timeout,
                                                            "\n".join(self.lines[-20:])))

    def port(self):
        return int(self.wait_for(r"^ui: http://127\.0\.0\.1:(\d+)/$").group(1))

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        time.sleep(0.2)  # the reader thread takes the last lines
        report = [l for l in self.lines if "Sanitizer" in l or "runtime error:" in l]
        check(not report, "sanitizer report:\n" + "\n".join(self.lines[-40:]))

    def kill9(self):
        self.p.kill()
        self.p.wait()


def http_get(port, path, timeout=10):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def progress(d):
    """progress.jsonl's lines (a kill -9 may cut the last one: skipped)."""
    out = []
    path = os.path.join(d, "ckpt", "progress.jsonl")
    for line in open(path):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def wait_batches(d, n, timeout=60, start=0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(os.path.join(d, "ckpt", "progress.jsonl")) and \
                len(progress(d)) - start >= n:
            return
        time.sleep(0.1)
    check(False, "fewer than %d batches in %d s" % (n, timeout))


# ------------------------------------------------------------ Prometheus text format

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        check(m, "bad label set %r" % text)
        labels[m.group(1)] = re.sub(r'\\(.)', lambda x: "\n" if x.group(1) == "n" else x.group(1),
                                    m.group(2))
        pos = m.end()
    return labels


def parse_metrics(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}; checks
    that every sample follows its family's HELP and TYPE lines."""
    families, current = {}, None
    check(text.endswith("\n"), "the exposition does not end with a newline")
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name, help_ = line[7:].split(" ", 1)
            current = families.setdefault(name, {"samples": []})
            current["help"] = help_
        elif line.startswith("# TYPE "):
            name, type_ = line[7:].split(" ")
            check(name in families and type_ in ("counter", "gauge", "histogram"),
                  "TYPE without HELP or a bad type: %r" % line)
            families[name]["type"] = type_
        else:
            m = SAMPLE.match(line)
            check(m, "not a sample line: %r" % line)
            name, labels, value = m.group(1), parse_labels(m.group(3) or ""), float(m.group(4))
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            fam = families.get(name) or families.get(base)
            check(fam is not None and fam is current, "sample %s outside its family" % name)
            fam["samples"].append((name, labels, value))
    return families


def value(fams, name, **labels):
    for fam in fams.values():
        for n, l, v in fam["samples"]:
            if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
                return v
    raise AssertionError("no sample %s %s" % (name, labels))


def check_histogram(fams, name, seconds):
    check(fams[name]["type"] == "histogram", "%s is not a histogram" % name)
    check(value(fams, name + "_count") == len(seconds), "%s_count" % name)
    check(abs(value(fams, name + "_sum") - sum(seconds)) < 1e-5 * len(seconds) + 1e-9,
          "%s_sum %s, progress.jsonl says %s" % (name, value(fams, name + "_sum"), sum(seconds)))
    for b in BOUNDS:
        got = value(fams, name + "_bucket", le="%g" % b)
        # progress.jsonl rounds to the microsecond: a time that close to a
        # bound may fall on either side of it
        lo = sum(1 for s in seconds if s <= b - 1e-6)
        hi = sum(1 for s in seconds if s <= b + 1e-6)
        check(lo <= got <= hi, "%s le=%g: %s, progress.jsonl says %d..%d" % (name, b, got, lo, hi))
    check(value(fams, name + "_bucket", le="+Inf") == len(seconds), "%s +Inf" % name)


# ------------------------------------------------------------ tests


def bad_listen_is_usage():
    d = tmpdir("ui-flags")
    write(f"{d}/j.job", job_text(d))
    for bad in ("1.2.3:80", "70000", "abc", "127.0.0.1:", "::1:80", "-1"):
        p = subprocess.run([EMBER, "run", f"{d}/j.job", "--ui", bad], capture_output=True,
                           text=True, timeout=30)
        check(p.returncode == 2 and "--ui" in p.stderr and "\n" == p.stderr[-1:],
              "--ui %s: exit %d, %r" % (bad, p.returncode, p.stderr))
    check(not os.path.exists(f"{d}/ckpt"), "a bad --ui started the job")
    shutil.rmtree(d)


def api_and_metrics_equal_progress():
    d = tmpdir("ui-api")
    write(f"{d}/j.job", job_text(d))
    job = Job(f"{d}/j.job", "127.0.0.1:0")
    try:
        port = job.port()
        wait_batches(d, 10)
        status, ctype, text = http_get(port, "/metrics")
        check(status == 200 and ctype.startswith("text/plain; version=0.0.4"), "/metrics %s" % ctype)
        fams = parse_metrics(text)
        lines = progress(d)  # after the scrape: holds every batch it counted
        n = int(value(fams, "ember_batches_total"))
        check(n >= 10 and len(lines) >= n, "batches %d, %d lines" % (n, len(lines)))
        run = lines[:n]
        for metric, field in (("records_in", "records_in"), ("bad_records", "bad_records"),
                              ("filtered_records", "filtered_out"), ("rows_out", "rows"),
                              ("records_kept", "records_kept")):
            want = sum(l[field] for l in run)
            got = value(fams, "ember_%s_total" % metric)
            check(fams["ember_%s_total" % metric]["type"] == "counter" and got == want,
                  "ember_%s_total %s, progress.jsonl says %s" % (metric, got, want))
        check_histogram(fams, "ember_processing_seconds", [l["processing_ms"] / 1e3 for l in run])
        check_histogram(fams, "ember_scheduling_delay_seconds",
                        [l["scheduling_delay_ms"] / 1e3 for l in run])
        check_histogram(fams, "ember_end_to_end_delay_seconds",
                        [(l["scheduling_delay_ms"] + l["processing_ms"]) / 1e3 for l in run])
        last = run[-1]
        check(value(fams, "ember_last_batch") == last["batch"], "ember_last_batch")
        check(value(fams, "ember_source_lag_records", partition=0) == COUNT - last["offsets"]["0"],
              "lag")
        check(value(fams, "ember_state_keys", operator="aggregate") == last["state_keys"], "keys")
        check(value(fams, "ember_commit_seconds") == round(last["commit_ms"], 3) / 1e3 or
              abs(value(fams, "ember_commit_seconds") * 1e3 - last["commit_ms"]) < 0.001, "commit")
        check(value(fams, "ember_snapshots_total") == n // 4, "snapshots_total")
        check(value(fams, "ember_last_snapshot_batch") == (last["batch"] // 4) * 4, "last snapshot")
        check(value(fams, "ember_wal_bytes") > 0, "wal bytes")
        check_batches_api(port, d)
        check_output_api(port, d)
        check_other_apis(port, d)
    finally:
        job.stop()
    check(job.p.returncode == 0, "the job exited %s" % job.p.returncode)
    shutil.rmtree(d)


def check_batches_api(port, d):
    status, ctype, text = http_get(port, "/api/v1/batches?n=600")
    check(status == 200 and ctype == "application/json", "/api/v1/batches %s" % status)
    got = json.loads(text)["batches"]
    lines = {l["batch"]: l for l in progress(d)}
    check(len(got) >= 10, "%d batches" % len(got))
    prev_end = 0
    for b in got:
        l = lines[b["batch"]]
        for f in ("records_in", "rows", "bad_records", "records_kept", "filtered_out",
                  "state_keys", "batch_time_ms"):
            check(b[f] == l[f], "batch %d %s: api %s, progress.jsonl %s" % (b["batch"], f, b[f], l[f]))
        for step in ("wal", "read", "transform", "state", "sink", "commit", "snapshot"):
            check(abs(b["steps_ms"][step] - l[step + "_ms"]) <= 0.0006, "batch %d %s_ms" % (
                b["batch"], step))
        check(abs(b["processing_ms"] - l["processing_ms"]) <= 0.0006, "processing_ms")
        check(b["plan"] == [{"source": 0, "partition": 0, "from": prev_end,
                             "to": l["offsets"]["0"]}],
              "batch %d plan %s" % (b["batch"], b["plan"]))
        prev_end = l["offsets"]["0"]
    status, _, text = http_get(port, "/api/v1/batches?n=3")
    check(status == 200 and len(json.loads(text)["batches"]) == 3, "?n=3")


def sink_rows_upto(out, batch):
    """Every row of a file sink's batch files up to `batch`, comma-separated."""
    rows = []
    names = {int(n.split(".")[0]): n for n in os.listdir(out) if n.split(".")[0].isdigit()}
    for b in range(1, batch + 1):
        if b in names:
            body = open(os.path.join(out, names[b])).read().split("\n")[1:-1]  # header first
            rows += [r.replace("\t", ",") for r in body]
    return rows


def check_output_api(port, d, outs=("out",)):
    status, _, text = http_get(port, "/api/v1/output")
    sinks = json.loads(text)["sinks"]
    check(len(sinks) == len(outs), "%d sinks, wanted %d" % (len(sinks), len(outs)))
    for sink, out in zip(sinks, outs):
        check(sink["sink"] == "file" and 0 < len(sink["rows"]) <= 64, "output %s" % text[:200])
        rows = sink_rows_upto(os.path.join(d, out), sink["batch"])
        check(sink["rows"] == rows[-len(sink["rows"]):],
              "newest rows of %s differ from its batch files" % out)


def check_other_apis(port, d):
    lines = progress(d)
    src = json.loads(http_get(port, "/api/v1/sources")[2])["sources"][0]
    p = src["partitions"][0]
    check(src["kind"] == "generator" and p["end"] == COUNT and p["lag"] == COUNT - p["committed"],
          "sources %s" % src)
    check(p["committed"] in {l["offsets"]["0"] for l in lines}, "committed offset")
    ops = json.loads(http_get(port, "/api/v1/operators")[2])["operators"]
    check(ops[0]["name"] == "aggregate", "operators %s" % ops)
    snaps = json.loads(http_get(port, "/api/v1/snapshots")[2])
    on_disk = sorted(int(n) for n in os.listdir(f"{d}/ckpt/snapshots") if n.isdigit())
    check([s["batch"] for s in snaps["snapshots"]] in (on_disk, on_disk[1:], on_disk[:-1]),
          "snapshots %s, on disk %s" % (snaps["snapshots"], on_disk))
    check(snaps["wal_segments"] and all(w["bytes"] > 0 for w in snaps["wal_segments"]), "wal")
    st = json.loads(http_get(port, "/api/v1/status")[2])
    check(st["job"] == "ui-test" and st["source"] == "generator" and "aggregate count()" in
          st["job_text"], "status %s" % st["job"])
    status, _, text = http_get(port, "/api/v1/dir/state/get?key=s0001&op=aggregate")
    check(status == 200 and json.loads(text)["rows"][0]["sensor"] == "s0001", "dir api: %s" % text)


def request_errors():
    d = tmpdir("ui-errors")
    write(f"{d}/j.job", job_text(d))
    job = Job(f"{d}/j.job", "127.0.0.1:0")
    try:
        port = job.port()
        wait_batches(d, 2)
        for path, want in (("/nope", 404), ("/api/v1/nope", 404), ("/api/v1/batches?n=0", 400),
                           ("/api/v1/batches?n=601", 400), ("/api/v1/batches?n=1x", 400),
                           ("/api/v1/batches?m=1", 400), ("/metrics?x=1", 400),
                           ("/api/v1/status?a=b", 400), ("/../../etc/passwd", 404),
                           ("/%2e%2e/JOB", 404), ("/app.js", 200), ("/", 200)):
            got = http_get(port, path)[0]
            check(got == want, "%s: %s, wanted %s" % (path, got, want))
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/status", method=method,
                                         data=b"x")
            try:
                urllib.request.urlopen(req, timeout=5)
                check(False, "%s answered 2xx" % method)
            except urllib.error.HTTPError as e:
                check(e.code == 405 and e.headers.get("Allow") == "GET", "%s: %s" % (method, e.code))
        fuzz(port, job, d)
    finally:
        job.stop()
    check(job.p.returncode == 0, "the job exited %s" % job.p.returncode)
    shutil.rmtree(d)


def raw_request(port, data, timeout=5):
    """The status code of the reply, or None when the server closed without one."""
    reply = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            while len(reply) < 16:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
    return int(m.group(1)) if m else None


def fuzz_request(rng):
    junk = lambda n: bytes(rng.choice(b"abc/%.?&=\x00\xff+ #;~") for _ in range(n))
    routes = [b"/", b"/metrics", b"/api/v1/status", b"/api/v1/batches", b"/api/v1/output", b"/app.js"]
    kind = rng.randrange(5)
    if kind == 0:  # a method other than GET on a real route
        method = rng.choice([b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"PATCH", b"FOO"])
        return method + b" " + rng.choice(routes) + b" HTTP/1.1\r\nHost: x\r\n\r\n", (405, 400, 501)
    if kind == 1:  # an unknown path
        path = b"/" + junk(rng.randrange(1, 60)).replace(b" ", b"%20").replace(b"#", b"%23")
        if path.split(b"?")[0] in routes:
            path = b"/x" + path
        return b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n", (400, 404, 414)
    if kind == 2:  # a real route with a bad query
        q = junk(rng.randrange(1, 40)).replace(b" ", b"%20").replace(b"#", b"%23")
        return b"GET " + rng.choice(routes) + b"?z" + q + b" HTTP/1.1\r\nHost: x\r\n\r\n", (400, 404)
    if kind == 3:  # a long line
        n = rng.choice([5000, 40000, 100000])
        return b"GET /" + b"a" * n + b" HTTP/1.1\r\nHost: x\r\n\r\n", (404, 414, 431, 400)
    # %-encodings and NULs in the path
    enc = rng.choice([b"%00", b"%2e%2e%2f", b"%ff%fe", b"%", b"%zz", b"%c0%ae", b"\x00"])
    return b"GET /api/v1/" + enc + b"status HTTP/1.1\r\nHost: x\r\n\r\n", (400, 404)


def fuzz(port, job, d):
    rng = random.Random(17)
    before = len(progress(d))
    for i in range(300):
        data, allowed = fuzz_request(rng)
        got = raw_request(port, data)
        check(got in allowed or (got is None and b"\x00" in data.split(b"\r\n")[0]),
              "request %d %r: %s, wanted one of %s" % (i, data[:80], got, allowed))
    # slow clients: connections that never finish their request hold no batch up
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    for s in slow:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost")
    mid = len(progress(d))
    time.sleep(2.0)
    check(len(progress(d)) >= mid + 5, "batches stalled behind slow clients")
    check(http_get(port, "/api/v1/status")[0] == 200, "a slow client blocked the others")
    for s in slow:
        s.close()
    check(job.p.poll() is None, "the job died under fuzzing")
    check(len(progress(d)) > before, "no batch during the fuzzing")


def browser_available():
    return os.path.exists("/usr/bin/chromium") and os.path.exists(NODE_MODULES) and \
        shutil.which("node")


def page_in_browser():
    if not browser_available():
        print("  SKIP page_in_browser: /usr/bin/chromium or build/npm playwright-core missing "
              "(make deps installs both)")
        return
    d = tmpdir("ui-page")
    write(f"{d}/j.job", job_text(d, rate=5000, interval="250ms"))
    port = free_port()
    os.makedirs(OUT_DIR, exist_ok=True)
    shot = os.path.join(OUT_DIR, "ui.png")
    job = Job(f"{d}/j.job", f"127.0.0.1:{port}")
    node = subprocess.Popen(["node", "tests/ui/page.mjs", f"http://127.0.0.1:{port}/", shot],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        job.port()
        shown = read_node(node, "shown", job)
        check_page(shown, progress(d), 0)
        job.kill9()
        first = len(progress(d))
        job = Job(f"{d}/j.job", f"127.0.0.1:{port}")
        job.port()
        node.stdin.write("restarted\n")
        node.stdin.flush()
        again = read_node(node, "again", job)
        check(again["last_batch"] > shown["last_batch"], "the page did not follow the restart")
        check_page(again, progress(d), first)
        check(node.wait(timeout=60) == 0, "page.mjs failed")
        check(os.path.getsize(shot) > 10000, "no screenshot")
    finally:
        if node.poll() is None:
            node.kill()
        job.stop()
    shutil.rmtree(d)


def read_node(node, tag, job):
    result = {}

    def read():
        line = node.stdout.readline()
        if line.startswith(tag + " "):
            result["v"] = json.loads(line[len(tag) + 1:])

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(90)
    check("v" in result, "page.mjs said nothing for %s (exit %s)" % (tag, node.poll()))
    check(not result["v"]["errors"], "page errors: %s" % result["v"]["errors"])
    return result["v"]


def check_page(shown, lines, first):
    """What the page shows against progress.jsonl's lines of the run that
    started at line `first`."""
    run = lines[first:]
    by_batch = {l["batch"]: l for l in run}
    check(shown["conn"] == "live", "connection %s" % shown["conn"])
    t = shown["total_batches"]
    check(0 < t <= len(run), "total batches %d of %d lines" % (t, len(run)))
    check(shown["total_records_in"] == sum(l["records_in"] for l in run[:t]), "records on the page")
    check(shown["total_rows"] == sum(l["rows"] for l in run[:t]), "rows on the page")
    for r in shown["rows"]:
        l = by_batch[r["batch"]]
        check(r["records"] == l["records_in"] and r["rows"] == l["rows"], "row of batch %d" % r["batch"])
    for c in shown["charts"]:
        check(c["points"] >= 4 and c["polyline"] == c["points"] and c["histogram"] == c["points"],
              "chart %s: %s" % (c["series"], c))
    check({c["series"] for c in shown["charts"]} ==
          {"input_rate", "processing_ms", "scheduling_delay_ms", "total_delay_ms"}, "series")
    check(shown["graph"] == ["source", "parse", "filter", "key", "aggregate", "sink"],
          "graph %s" % shown["graph"])
    check(shown["sources"] and shown["output"], "sources or output missing")
    det = shown.get("detail")
    if det:
        l = by_batch[det["batch"]]
        prev = max((x["offsets"]["0"] for x in lines if x["batch"] < det["batch"]), default=0)
        check(det["plan"] == [[0, 0, prev, l["offsets"]["0"]]], "detail plan %s" % det["plan"])
        for step in ("wal", "read", "transform", "state", "sink", "commit", "snapshot"):
            check(abs(det["steps"][step] - l[step + "_ms"]) <= 0.0011, "detail %s" % step)


def kafka_lag():
    """Kafka: each partition's end is the log end kcat sees, lag = end - committed."""
    from test_kafka import Broker, kafka_job, produce, read_input
    b = Broker("in:3")
    d = tmpdir("ui-kafka")
    job = None
    try:
        produce(b.addr, "in", 3000, 5)
        kafka_job(d, b.addr, name="uik", sink="file", max_records=300, interval="50ms")
        job = Job(d + "/k.job", "127.0.0.1:0")
        port = job.port()
        for extra in (0, 1):
            if extra:
                produce(b.addr, "in", 900, 6)
            ends = {}
            for (p, o) in read_input(b.addr, "in"):
                ends[p] = max(ends.get(p, 0), o + 1)
            deadline, parts = time.time() + 60, []
            while time.time() < deadline:
                parts = json.loads(http_get(port, "/api/v1/sources")[2])["sources"][0]["partitions"]
                for p in parts:
                    check(p["end"] is None or p["lag"] == p["end"] - p["committed"], "lag %s" % p)
                if len(parts) == 3 and all(p["committed"] == ends[p["partition"]] and
                                           p["end"] == ends[p["partition"]] for p in parts):
                    break
                time.sleep(0.2)
            check(len(parts) == 3 and all(p["end"] == ends[p["partition"]] and p["lag"] == 0
                                          for p in parts),
                  "partitions %s, kcat ends %s" % (parts, ends))
            fams = parse_metrics(http_get(port, "/metrics")[2])
            for p in range(3):
                check(value(fams, "ember_source_lag_records", partition=p) == 0, "metric lag")
    finally:
        if job:
            job.stop()
        b.stop()
    shutil.rmtree(d)


def graph_job():
    """Two sources and two sinks: lag per source, the newest rows of each sink."""
    d = tmpdir("ui-graph")
    counts = (30000, 20000)
    write(f"{d}/g.job", f"""job ui-graph
batch interval=100ms max-records=3000
checkpoint dir={d}/ckpt every=5 keep=2
stream a
source generator kind=sensors seed=1 count={counts[0]}
parse csv fields=sensor,ts:int,temp:float
sink file dir={d}/out_a
stream b
source generator kind=sensors seed=2 count={counts[1]}
parse csv fields=sensor,ts:int,temp:float
stream u from a, b
key sensor
aggregate count()
sink file dir={d}/out_u
""")
    job = Job(f"{d}/g.job", "127.0.0.1:0")
    try:
        port = job.port()
        wait_batches(d, 4)
        srcs = json.loads(http_get(port, "/api/v1/sources")[2])["sources"]
        check([(s["stream"], s["kind"], s["source"]) for s in srcs] ==
              [("a", "generator", 0), ("b", "generator", 1)], "sources %s" % srcs)
        parts = [p for s in srcs for p in s["partitions"]]
        check(sorted((p["source"], p["partition"]) for p in parts) == [(0, 0), (1, 0)],
              "partitions %s" % parts)
        ops = json.loads(http_get(port, "/api/v1/operators")[2])["operators"]
        check([(o["name"], o["stream"]) for o in ops] == [("aggregate.2", "u")],
              "operators of the graph %s" % ops)
        for p in parts:
            check(p["end"] == counts[p["source"]] and p["lag"] == p["end"] - p["committed"],
                  "source %d: %s" % (p["source"], p))
        offsets = {int(k): v for l in progress(d) for k, v in l["offsets"].items()}
        for p in parts:  # progress.jsonl's keys carry the source in the top byte
            check((p["source"] << 24 | p["partition"]) in offsets, "offsets %s" % offsets)
        check_output_api(port, d, ("out_a", "out_u"))
        fams = parse_metrics(http_get(port, "/metrics")[2])
        for p in parts:
            check(value(fams, "ember_source_lag_records", source=p["source"], partition=0) >= 0,
                  "lag metric of source %d" % p["source"])
    finally:
        job.stop()
    check(job.p.returncode == 0, "the job exited %s" % job.p.returncode)
    shutil.rmtree(d)


def ui_dir_command():
    d = tmpdir("ui-dir")
    write(f"{d}/j.job", job_text(d))
    subprocess.run([EMBER, "run", f"{d}/j.job", "--batches", "6"], capture_output=True,
                   timeout=120, check=True)
    p = subprocess.run([EMBER, "ui", f"{d}/nothing"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and "not a checkpoint directory" in p.stderr, "ui on no dir")
    ui = subprocess.Popen([EMBER, "ui", f"{d}/ckpt", "--listen", "127.0.0.1:0"],
                          stderr=subprocess.PIPE, text=True)
    try:
        m = re.match(r"^ui: http://127\.0\.0\.1:(\d+)/$", ui.stderr.readline().strip())
        check(m, "no ui: line")
        port = int(m.group(1))
        check(json.loads(http_get(port, "/api/v1/mode")[2])["mode"] == "dir", "mode")
        hist = json.loads(http_get(port, "/api/v1/dir/history?n=100")[2])
        check([h["batch"] for h in hist] == [l["batch"] for l in progress(d)], "history")
        check(http_get(port, "/")[0] == 200 and http_get(port, "/api/v1/status")[0] == 404, "routes")
        check(http_get(port, "/api/v1/dir/nope")[0] == 404, "unknown dir route")
    finally:
        ui.send_signal(signal.SIGINT)
        check(ui.wait(timeout=10) == 0, "ember ui did not stop on SIGINT")
        rest = ui.stderr.read()
        check("Sanitizer" not in rest and "runtime error:" not in rest, "ember ui: " + rest)
    shutil.rmtree(d)


if __name__ == "__main__":
    main([bad_listen_is_usage, api_and_metrics_equal_progress, request_errors, page_in_browser,
          kafka_lag, graph_job, ui_dir_command])
