"""What ember says about Kafka, and what its test broker can and cannot do.

- `ember gen --to kafka://` with nothing listening names the address within
  a few seconds (`cannot connect to HOST:PORT: ...`), not librdkafka's raw
  `%3|...|rdkafka#producer-1|...` lines and a 30 s timeout;
- every librdkafka log line goes through ember's own log (`kafka ...`), even
  with EMBER_KAFKA_DEBUG, never raw;
- a restarted `brokers=embedded` job says its broker forgot the data and
  what to do, not `position N is past the end of the log (0)`;
- `ember broker`'s limits (controller id, unsupported APIs) are what the
  README and `ember broker --help` say, probed over the Kafka protocol.
"""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time

from harness import EMBER, ROOT, check, ember, main, tmpdir, write
from test_kafka import Broker, produce
from test_signals import Job, free_port

RAW = re.compile(r"^%\d+\|")


def no_raw_lines(text, what):
    raw = [l for l in text.splitlines() if RAW.match(l)]
    check(not raw, "%s: raw librdkafka lines:\n%s" % (what, "\n".join(raw[:5])))


def test_gen_without_a_broker():
    port = free_port()
    t0 = time.time()
    rc, out, err = ember("gen", "sensors", "--count", 10, "--to",
                         "kafka://127.0.0.1:%d/in" % port, timeout=60)
    took = time.time() - t0
    check(rc == 1, "exit %d" % rc)
    check(took < 5, "took %.1f s" % took)
    check("ember gen: cannot connect to 127.0.0.1:%d: Connection refused" % port in err,
          "message: " + err)
    check("acknowledged" not in out, "nothing was produced: " + out)
    no_raw_lines(err, "gen")
    with socket.socket() as s:  # the default port, when nothing listens there
        default_free = s.connect_ex(("127.0.0.1", 9092)) != 0
    if default_free:
        rc, _, err = ember("gen", "sensors", "--count", 10, "--to", "kafka://127.0.0.1/in",
                           timeout=60)
        check(rc == 1 and "cannot connect to 127.0.0.1:9092" in err, "default port: " + err)
        no_raw_lines(err, "gen, default port")


def test_librdkafka_lines_go_through_ember():
    """EMBER_KAFKA_DEBUG turns librdkafka's debug log on: its lines come as
    ember's `kafka NAME FACILITY: ...` lines, from gen and from a job."""
    b = Broker("in:2")
    try:
        env = {"EMBER_KAFKA_DEBUG": "broker"}
        rc, out, err = ember("gen", "sensors", "--count", 50, "--to", "kafka://%s/in" % b.addr,
                             env=env, timeout=60)
        check(rc == 0 and "acknowledged 50 records" in out, "gen: %d %s" % (rc, err[-500:]))
        no_raw_lines(err, "gen with EMBER_KAFKA_DEBUG")
        check(re.search(r"^kafka rdkafka#producer-\d+ \w+: ", err, re.M),
              "no librdkafka line through ember's log: " + err[-500:])
        d = tmpdir("kafka-log")
        write(d + "/k.job", f"""job klog
checkpoint dir={d}/ckpt
source     kafka brokers={b.addr} topic=in
sink       file dir={d}/out
""")
        rc, _, err = ember("run", d + "/k.job", "--until-idle", env=env, timeout=120)
        check(rc == 0, "run: %d %s" % (rc, err[-800:]))
        no_raw_lines(err, "run with EMBER_KAFKA_DEBUG")
        check(re.search(r"^kafka rdkafka#consumer-\d+ \w+: ", err, re.M),
              "no consumer line through ember's log")
        rc, _, err = ember("run", d + "/k.job", "--until-idle", timeout=120)
        check(rc == 0 and not re.search(r"^kafka", err, re.M), "without EMBER_KAFKA_DEBUG "
              "a healthy run shows no librdkafka line:\n" + err[-800:])
    finally:
        b.stop()


def committed_records(ckpt):
    try:
        lines = open(ckpt + "/progress.jsonl").read().splitlines()
    except OSError:
        return 0
    return sum(json.loads(lines[-1])["offsets"].values()) if lines else 0


def test_embedded_broker_forgets_at_exit():
    d = tmpdir("kafka-embedded")
    write(d + "/e.job", f"""job emb
batch      interval=50ms
checkpoint dir={d}/ckpt
source     kafka brokers=embedded topic=in
parse      csv fields=sensor,ts:int,temp:float
key        sensor
aggregate  count()
sink       file dir={d}/out
""")
    job = Job(d + "/e.job")
    job.wait_for(r"embedded broker at 127\.0\.0\.1:\d+")
    addr = next(re.search(r"embedded broker at (127\.0\.0\.1:\d+)", l).group(1)
                for l in job.lines if "embedded broker at" in l)
    produce(addr, "in", 500, 3)
    deadline = time.time() + 60
    while committed_records(d + "/ckpt") < 500 and time.time() < deadline:
        time.sleep(0.1)
    check(committed_records(d + "/ckpt") == 500, "the job committed the 500 records")
    job.stop(signal.SIGINT)
    check(job.p.returncode == 0, "stop: exit %d" % job.p.returncode)
    rc, _, err = ember("run", d + "/e.job", "--until-idle", timeout=120)
    check(rc == 1, "restart: exit %d: %s" % (rc, err[-800:]))
    check("brokers=embedded keeps its topics in memory and forgot them when the previous run "
          "exited" in err, "restart says why: " + err[-800:])
    check("remove %s/ckpt" % d in err and "ember broker" in err, "and what to do: " + err[-800:])
    check("deleted and recreated" not in err, "not the message for a recreated topic")
    # The sink side: committed batches missing from its (new, empty) topic.
    write(d + "/s.job", f"""job embs
checkpoint dir={d}/ckpt-sink
source     generator kind=sensors count=300
sink       kafka brokers=embedded topic=out
""")
    ember("run", d + "/s.job", "--until-idle", check_rc=0, timeout=120)
    _, _, err = ember("run", d + "/s.job", "--until-idle", check_rc=0, timeout=120)
    check(re.search(r"batches 1\.\.\d+ are committed but not in topic out \(brokers=embedded "
                    r"keeps topics in memory and forgot them", err), "sink restart: " + err[-800:])


# ---------------------------------------------------------------- the broker's limits

def kafka_request(sock, key, version, body=b""):
    """One request (header v1, client id "test") and its response body."""
    header = struct.pack(">hhih", key, version, 1, 4) + b"test"
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)

    def take(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            check(chunk, "the broker closed the connection")
            data += chunk
        return data
    size = struct.unpack(">i", take(4))[0]
    return take(size)[4:]  # minus the correlation id


def api_versions(sock):
    body = kafka_request(sock, 18, 0)
    err, n = struct.unpack_from(">hi", body)
    check(err == 0, "ApiVersions error %d" % err)
    return {struct.unpack_from(">h", body, 6 + 6 * i)[0]: struct.unpack_from(">hh", body, 8 + 6 * i)
            for i in range(n)}


def metadata_v1(sock):
    """(broker ids, controller id) from a Metadata v1 response (all topics)."""
    body = kafka_request(sock, 3, 1, struct.pack(">i", -1))
    at, ids = 4, []
    for _ in range(struct.unpack_from(">i", body)[0]):
        ids.append(struct.unpack_from(">i", body, at)[0])
        at += 4
        at += 2 + struct.unpack_from(">h", body, at)[0] + 4  # host, port
        at += 2 + max(0, struct.unpack_from(">h", body, at)[0])  # rack (nullable)
    return ids, struct.unpack_from(">i", body, at)[0]


# Client-facing APIs an admin tool or another client library may send.
ADMIN_APIS = {15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake", 19: "CreateTopics",
              20: "DeleteTopics", 21: "DeleteRecords", 32: "DescribeConfigs",
              33: "AlterConfigs", 36: "SaslAuthenticate", 37: "CreatePartitions",
              42: "DeleteGroups", 60: "DescribeCluster"}


def readme_unsupported():
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"#### What `ember broker` does not do\n(.*?)\n#", text, re.S)
    check(m, "README has no section 'What `ember broker` does not do'")
    return m.group(1), {int(k): name for name, k in re.findall(r"`(\w+)` \((\d+)\)", m.group(1))}


def test_broker_limits_are_documented():
    section, listed = readme_unsupported()
    rc, help_text, _ = ember("broker", "--help")
    check(rc == 0 and "controller 0" in help_text and "CreateTopics" in help_text and
          "DescribeGroups" in help_text, "broker --help states the limits:\n" + help_text)
    b = Broker()
    try:
        host, port = b.addr.split(",")[0].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.settimeout(10)
            versions = api_versions(s)
            ids, controller = metadata_v1(s)
    finally:
        b.stop()
    for key, name in listed.items():
        check(key not in versions, "README lists %s (%d) as unsupported; the broker "
              "advertises it" % (name, key))
    missing = {k: n for k, n in ADMIN_APIS.items() if k not in versions and k not in listed}
    check(not missing, "unsupported, not in the README: %s" % missing)
    check(controller not in ids, "the broker now names controller %d among brokers %s: make the "
          "README and `ember broker --help` say so" % (controller, ids))
    check("controller %d" % controller in section and "controller %d" % controller in help_text,
          "README/help name controller %d" % controller)
    print("       brokers %s, controller %d; unsupported: %s" % (ids, controller, ", ".join(
        sorted(listed.values()))))


if __name__ == "__main__":
    main([test_gen_without_a_broker, test_librdkafka_lines_go_through_ember,
          test_embedded_broker_forgets_at_exit, test_broker_limits_are_documented])
