"""source kinesis against kinesalite (a local Kinesis, build/npm, `make deps`):
a 2-shard stream, records put through the API (SigV4-signed here too), per-key
counts against a Python oracle over what was put; kill -9 at random moments
with 0 lost and 0 duplicated; a split shard read parent first; records gone
from a recreated stream are data loss (on-data-loss=fail|skip)."""
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from harness import EMBER, ROOT, check, ember, main, state_json, tmpdir, write

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ckpt  # noqa: E402 (tests/ckpt.py: the WAL and checkpoint reader)

CLI = os.path.join(ROOT, "build/npm/node_modules/kinesalite/cli.js")
CREDS = {"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret",
         "AWS_REGION": "us-east-1"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def signature(headers, body, key_id, secret, region="us-east-1", service="kinesis"):
    """The Authorization value of AWS Signature Version 4 over the headers
    content-type, host, x-amz-date, x-amz-target (and x-amz-security-token
    when present), written from AWS's description, independent of ember."""
    h = {k.lower(): v.strip() for k, v in headers.items()}
    names = sorted(n for n in h if n in ("content-type", "host", "x-amz-date", "x-amz-target",
                                         "x-amz-security-token"))
    signed = ";".join(names)
    canon = "POST\n/\n\n" + "".join("%s:%s\n" % (n, h[n]) for n in names) + "\n" + signed + \
        "\n" + hashlib.sha256(body).hexdigest()
    amzdate = h["x-amz-date"]
    scope = "%s/%s/%s/aws4_request" % (amzdate[:8], region, service)
    to_sign = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amzdate, scope,
                                               hashlib.sha256(canon.encode()).hexdigest())
    k = ("AWS4" + secret).encode()
    for part in (amzdate[:8], region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        key_id, scope, signed, sig)


class Kinesalite:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(["node", CLI, "--port", str(self.port), "--createStreamMs",
                                      "0", "--updateStreamMs", "0", "--deleteStreamMs", "0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("kinesalite did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def call(self, op, body, token=None):
        data = json.dumps(body).encode()
        amzdate = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        h = {"Content-Type": "application/x-amz-json-1.1", "Host": "127.0.0.1:%d" % self.port,
             "X-Amz-Date": amzdate, "X-Amz-Target": "Kinesis_20131202." + op}
        h["Authorization"] = signature(h, data, CREDS["AWS_ACCESS_KEY_ID"],
                                       CREDS["AWS_SECRET_ACCESS_KEY"])
        req = urllib.request.Request(self.url + "/", data=data, method="POST", headers=h)
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return json.loads(text) if text else {}

    def create(self, name, shards=2):
        self.call("CreateStream", {"StreamName": name, "ShardCount": shards})
        for _ in range(100):
            d = self.call("DescribeStream", {"StreamName": name})["StreamDescription"]
            if d["StreamStatus"] == "ACTIVE":
                return d
            time.sleep(0.05)
        raise RuntimeError("stream %s not active" % name)

    def put(self, name, lines):
        for i in range(0, len(lines), 500):
            recs = [{"Data": base64.b64encode(l.encode()).decode(), "PartitionKey": l.split(",")[0]}
                    for l in lines[i:i + 500]]
            out = self.call("PutRecords", {"StreamName": name, "Records": recs})
            check(out.get("FailedRecordCount", 0) == 0, "PutRecords failed: %s" % out)

    def shards(self, name):
        return self.call("ListShards", {"StreamName": name})["Shards"]


def records(n, seed, first=0):
    rnd = random.Random(seed)
    return ["k%d,%d" % (rnd.randrange(20), first + i) for i in range(n)]


def oracle(lines):
    out = {}
    for l in lines:
        k = l.split(",")[0]
        c, s = out.get(k, (0, 0))
        out[k] = (c + 1, s + int(l.split(",")[1]))
    return out


def job(d, kin, stream, extra="", max_records=300):
    write(d + "/j.job", f"""job kin
batch interval=20ms max-records={max_records}
source kinesis stream={stream} endpoint={kin.url} {extra}
parse csv fields=k,v:int
key k
aggregate count() sum(v)
sink file dir={d}/out
""")
    return d + "/j.job"


def counts(d):
    return {o["k"]: (o["count"], o["sum_v"]) for o in state_json(d + "/ck")}


def run_idle(d, jobfile, rc=0, extra_env=None):
    env = dict(CREDS)
    env.update(extra_env or {})
    return ember("run", jobfile, "--dir", d + "/ck", "--until-idle", env=env, check_rc=rc)


def test_counts_match_the_oracle_over_two_shards():
    kin, d = Kinesalite(), tmpdir("kinesis")
    try:
        kin.create("s1", 2)
        lines = records(2000, 1)
        kin.put("s1", lines)
        run_idle(d, job(d, kin, "s1"))
        check(counts(d) == oracle(lines), "counts differ from the oracle")
        more = records(700, 2, first=5000)
        kin.put("s1", more)
        run_idle(d, job(d, kin, "s1"))  # a restart goes on from the committed offsets
        check(counts(d) == oracle(lines + more), "counts after a restart differ from the oracle")
    finally:
        kin.stop()


def test_kill9_at_random_moments_loses_and_duplicates_nothing():
    kin, d = Kinesalite(), tmpdir("kinesis-kill")
    rnd = random.Random(int(os.environ.get("SEED") or 7))
    try:
        kin.create("s2", 2)
        lines = records(6000, 3)
        kin.put("s2", lines)
        jobfile = job(d, kin, "s2", max_records=40)
        env = dict(os.environ)
        env.update(CREDS)
        for i in range(5):
            p = subprocess.Popen([EMBER, "run", jobfile, "--dir", d + "/ck"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=open(d + "/err.log", "a"))
            time.sleep(rnd.uniform(0.3, 1.5))
            p.send_signal(signal.SIGKILL)
            p.wait()
            if i == 2:  # new records between crashes
                extra = records(1000, 4, first=10000)
                kin.put("s2", extra)
                lines += extra
        run_idle(d, jobfile)
        log = open(d + "/err.log").read()
        resumed = set(l for l in log.splitlines() if "committed batch" in l)
        check(len(resumed) >= 3, "the kills did not hit a running job:\n" + log[-2000:])
        got, want = counts(d), oracle(lines)
        lost = sum(c for c, _ in want.values()) - sum(c for c, _ in got.values())
        check(got == want, "after kill -9: counts differ from the oracle (%d records lost)" % lost)
    finally:
        kin.stop()


def test_split_shard_reads_the_parent_to_its_end_first():
    kin, d = Kinesalite(), tmpdir("kinesis-split")
    try:
        kin.create("s3", 1)
        before = records(800, 5)
        kin.put("s3", before)
        s0 = kin.shards("s3")[0]
        lo, hi = int(s0["HashKeyRange"]["StartingHashKey"]), int(s0["HashKeyRange"]["EndingHashKey"])
        kin.call("SplitShard", {"StreamName": "s3", "ShardToSplit": s0["ShardId"],
                                "NewStartingHashKey": str((lo + hi) // 2)})
        time.sleep(0.3)
        after = records(800, 6, first=1000)
        kin.put("s3", after)
        _, _, err = run_idle(d, job(d, kin, "s3", max_records=200))
        check(counts(d) == oracle(before + after), "counts after a split differ from the oracle")
        check("shardId-000000000000 read to its end" in err, "no end of the parent: " + err[-800:])
        ranges = ckpt.wal_ranges(d + "/ck")
        parent = [b for b, rs in ranges.items() for p, lo, hi in rs if p == 0 and hi > lo]
        children = [b for b, rs in ranges.items() for p, lo, hi in rs if p in (1, 2) and hi > lo]
        check(parent and children and max(parent) < min(children),
              "children read before the parent ended: parent in batches %s, children in %s" % (
                  parent, children))
    finally:
        kin.stop()


def test_records_gone_from_a_recreated_stream_are_data_loss():
    kin, d = Kinesalite(), tmpdir("kinesis-loss")
    try:
        kin.create("s4", 1)
        kin.put("s4", records(500, 7))
        jobfile = job(d, kin, "s4")
        run_idle(d, jobfile)
        kin.call("DeleteStream", {"StreamName": "s4"})
        time.sleep(0.3)
        kin.create("s4", 1)
        fresh = records(100, 8, first=900)
        kin.put("s4", fresh)
        _, _, err = run_idle(d, jobfile, rc=1)
        check("holds only 100" in err and "shardId-000000000000" in err,
              "no data-loss message: " + err[-800:])
        run_idle(d, job(d, kin, "s4", "on-data-loss=skip"))
        more = records(50, 9, first=2000)
        kin.put("s4", more)
        run_idle(d, job(d, kin, "s4", "on-data-loss=skip"))
        want = oracle(records(500, 7) + fresh + more)  # the new stream is read from its start
        check(counts(d) == want, "after skip: counts differ (the recreated stream's records "
              "must count once)")
    finally:
        kin.stop()


def test_missing_stream_and_credentials_are_one_line_errors():
    kin, d = Kinesalite(), tmpdir("kinesis-err")
    try:
        _, _, err = run_idle(d, job(d, kin, "nosuch"), rc=1)
        check("stream 'nosuch' does not exist" in err, "no missing-stream message: " + err)
        env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
        _, _, err = run_idle(d, job(d, kin, "nosuch"), rc=1, extra_env=env)
        check("AWS_ACCESS_KEY_ID" in err, "no credentials message: " + err)
    finally:
        kin.stop()


def test_unreachable_service_is_retried_then_given_up_and_sigterm_stops_the_wait():
    d, port = tmpdir("kinesis-down"), free_port()  # nothing listens there
    write(d + "/j.job", "source kinesis stream=s endpoint=http://127.0.0.1:%d timeout=1s\n"
          "sink stdout\n" % port)
    t0 = time.time()
    _, _, err = run_idle(d, d + "/j.job", rc=1)
    check("gave up after 1000 ms" in err, "no give-up message: " + err)
    check(err.count("retrying") == 1, "not one line per change of state: " + err)
    check(time.time() - t0 < 20, "gave up late")
    write(d + "/j.job", "source kinesis stream=s endpoint=http://127.0.0.1:%d timeout=0s\n"
          "sink stdout\n" % port)
    env = dict(os.environ)
    env.update(CREDS)
    p = subprocess.Popen([EMBER, "run", d + "/j.job", "--dir", d + "/ck2"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    check(time.time() - t0 < 3, "SIGTERM took %.1f s to stop the wait" % (time.time() - t0))
    check("AddressSanitizer" not in err and "runtime error" not in err, err[-2000:])
    check(p.returncode == 0, "SIGTERM while waiting: exit %d: %s" % (p.returncode, err[-1000:]))


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request ResourceNotFoundException and keeps it."""
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Recorder.seen.append((dict(self.headers), body))
        out = json.dumps({"__type": "ResourceNotFoundException", "message": "no"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


def test_requests_carry_a_valid_signature_v4():
    d = tmpdir("kinesis-sig")
    srv = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d" % srv.server_address[1]
        for token in ("", "session-token-1"):
            Recorder.seen = []
            write(d + "/j.job", "source kinesis stream=s endpoint=%s region=eu-west-1\n"
                  "sink stdout\n" % url)
            _, _, err = run_idle(d, d + "/j.job", rc=1, extra_env={"AWS_SESSION_TOKEN": token})
            check(Recorder.seen, "no request reached the endpoint: " + err)
            h, body = Recorder.seen[0]
            check(h.get("X-Amz-Target") == "Kinesis_20131202.ListShards", "target: %s" % h)
            check(json.loads(body) == {"StreamName": "s"}, "body: %r" % body)
            check(bool(token) == ("X-Amz-Security-Token" in h), "token header: %s" % h)
            want = signature(h, body, CREDS["AWS_ACCESS_KEY_ID"], CREDS["AWS_SECRET_ACCESS_KEY"],
                             region="eu-west-1")
            check(h.get("Authorization") == want, "signature %s, expected %s" % (
                h.get("Authorization"), want))
    finally:
        srv.shutdown()


if __name__ == "__main__":
    if not os.path.exists(CLI):
        print("  skip: kinesalite is not installed (make deps)")
        sys.exit(0)
    main([test_counts_match_the_oracle_over_two_shards,
          test_kill9_at_random_moments_loses_and_duplicates_nothing,
          test_split_shard_reads_the_parent_to_its_end_first,
          test_records_gone_from_a_recreated_stream_are_data_loss,
          test_missing_stream_and_credentials_are_one_line_errors,
          test_requests_carry_a_valid_signature_v4,
          test_unreachable_service_is_retried_then_given_up_and_sigterm_stops_the_wait])
