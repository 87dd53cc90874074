"""Kafka client properties (`kafka.NAME=VALUE`) and the sink's on-oversize.

Each test starts its own `ember broker` and reads what ember wrote with kcat
as a read_committed consumer; the oracle is the input file, written here.
"""
import os
import random
import signal
import subprocess
import time

from harness import EMBER, batch_files, check, ember, main, tmpdir, write
from test_kafka import Broker, kcat, no_sanitizer_report

LIMIT = 1000  # kafka.message.max.bytes in these tests (librdkafka's minimum)
SEED = int(os.environ.get("SEED") or random.SystemRandom().randrange(1, 10**6))
rng = random.Random(SEED)


def input_file(path, n, big_every=0):
    """n CSV lines "rNNN,payload"; every big_every-th payload is 3000 bytes."""
    rows = []
    for i in range(n):
        big = big_every and i % big_every == big_every - 1
        rows.append("r%04d,%s" % (i, ("x%d" % i) * (3000 // len("x%d" % i)) if big else "v%d" % i))
    write(path, "".join(r + "\n" for r in rows))
    return rows


def props_job(d, addr, sink_extra="", max_records=40, interval="10ms"):
    write(d + "/p.job", f"""job props
batch      interval={interval} max-records={max_records}
checkpoint dir={d}/ckpt every=100000
source     file path={d}/in.csv
parse      csv fields=id,payload
sink       kafka brokers={addr} topic=out {sink_extra}
""")
    return d + "/p.job"


def output_rows(addr):
    """The output topic's values (id TAB payload) as the read_committed kcat sees them."""
    return [l for l in kcat(addr, "out", "%s\\n").splitlines() if l]


def as_tsv(rows):
    return [r.replace(",", "\t", 1) for r in rows]


def test_lz4_sink_read_back():
    """compression.codec=lz4 (and a linger) reach the producer; kcat reads the rows back."""
    d = tmpdir("kprops-lz4")
    b = Broker("out:2")
    try:
        rows = input_file(d + "/in.csv", 300)
        job = props_job(d, b.addr, "kafka.compression.codec=lz4 kafka.linger.ms=20 "
                        "kafka.batch.num.messages=50")
        # librdkafka's own debug lines (EMBER_KAFKA_DEBUG) name each produce
        # request's compression.
        rc, _, err = ember("run", job, "--until-idle", env={"EMBER_KAFKA_DEBUG": "msg"},
                           timeout=120)
        check(rc == 0, "lz4 run exit %d: %s" % (rc, err[-1500:]))
        no_sanitizer_report(err)
        sets = [l for l in err.splitlines() if "Produce MessageSet" in l and " out [" in l]
        check(sets and all(l.endswith(", lz4)") for l in sets), "produce requests not lz4: %r"
              % sets[:3])
        got = output_rows(b.addr)
        check(sorted(got) == sorted(as_tsv(rows)), "lz4 output: %d rows for %d input rows" % (
            len(got), len(rows)))
        # The source takes consumer properties too.
        rc, _, err = ember("gen", "sensors", "--count", 50, "--seed", 1,
                           "--to", "kafka://%s/in" % b.addr)
        check(rc == 0, "gen: " + err[-500:])
        d2 = tmpdir("kprops-src")
        write(d2 + "/s.job", f"""job src
checkpoint dir={d2}/ckpt
source     kafka brokers={b.addr} topic=in kafka.fetch.max.bytes=2000000 kafka.client.id=props
parse      csv fields=sensor,ts:int,temp:float
sink       file dir={d2}/out
""")
        rc, _, err = ember("run", d2 + "/s.job", "--until-idle", timeout=120)
        check(rc == 0, "source with kafka.* exit %d: %s" % (rc, err[-1500:]))
        n = sum(len(r) for _, _, r in batch_files(d2 + "/out"))
        check(n == 50, "source read %d of 50 records" % n)
        # kafka.* options are not part of the state layout: a restart may change them.
        text = open(d2 + "/s.job").read().replace("kafka.client.id=props", "kafka.client.id=p2")
        write(d2 + "/s.job", text)
        rc, _, err = ember("run", d2 + "/s.job", "--until-idle", timeout=120)
        check(rc == 0, "restart with another kafka.client.id: exit %d: %s" % (rc, err[-1500:]))
    finally:
        b.stop()


def refused(job_text, d, *want):
    write(d + "/bad.job", job_text)
    rc, _, err = ember("run", d + "/bad.job", "--until-idle", timeout=60)
    check(rc == 2, "exit %d (wanted 2, refused at load): %s" % (rc, err[-800:]))
    lines = [l for l in err.splitlines() if l]
    check(len(lines) == 1, "not one line: %r" % err)
    for w in want:
        check(w in err, "%r not in %r" % (w, err))
    check(not os.path.exists(d + "/ckpt"), "a refused job made its checkpoint")


def test_unknown_or_invalid_property_refused():
    d = tmpdir("kprops-unknown")
    base = "job u\ncheckpoint dir=%s/ckpt\nsource generator kind=sensors count=5\n" % d
    refused(base + "sink kafka brokers=embedded topic=o kafka.compresion.codec=lz4\n", d,
            "bad.job:4:", "kafka.compresion.codec", "no property 'compresion.codec'")
    refused(base + "sink kafka brokers=embedded topic=o kafka.compression.codec=brotli\n", d,
            "kafka.compression.codec", "brotli")
    refused(base + "sink kafka brokers=embedded topic=o kafka.linger.ms=soon\n", d,
            "kafka.linger.ms")
    refused("job u\ncheckpoint dir=%s/ckpt\nsource kafka brokers=embedded topic=i "
            "kafka.compression.codec=lz4\n" % d, d,
            "kafka.compression.codec", "producer property")
    refused(base + "sink kafka brokers=embedded topic=o kafka.=1\n", d, "kafka.NAME=VALUE")


def test_protected_property_refused():
    d = tmpdir("kprops-protected")
    base = "job p\ncheckpoint dir=%s/ckpt\nsource generator kind=sensors count=5\n" % d
    refused(base + "sink kafka brokers=embedded topic=o kafka.transactional.id=mine\n", d,
            "kafka.transactional.id", "transactional-id=")
    refused(base + "sink kafka brokers=embedded topic=o kafka.bootstrap.servers=h:1\n", d,
            "kafka.bootstrap.servers", "brokers=")
    refused(base + "sink kafka brokers=embedded topic=o kafka.enable.idempotence=false\n", d,
            "kafka.enable.idempotence")
    refused(base + "sink kafka brokers=embedded topic=o kafka.acks=1\n", d, "kafka.acks",
            "acks=all")
    refused("job p\ncheckpoint dir=%s/ckpt\nsource kafka brokers=embedded topic=i "
            "kafka.isolation.level=read_uncommitted\n" % d, d, "kafka.isolation.level")
    refused("job p\ncheckpoint dir=%s/ckpt\nsource kafka brokers=embedded topic=i "
            "kafka.enable.auto.commit=true\n" % d, d, "kafka.enable.auto.commit")
    refused("job p\ncheckpoint dir=%s/ckpt\nsource kafka brokers=embedded topic=i "
            "kafka.group.id=g\n" % d, d, "kafka.group.id", "group=")


def test_oversize_dead_letter_once_across_crashes():
    """Rows over kafka.message.max.bytes go to the dead-letter file, every one
    exactly once, across crashes at the sink's failpoints; the rest reach the
    topic exactly once."""
    d = tmpdir("kprops-dead")
    b = Broker("out:2")
    try:
        rows = input_file(d + "/in.csv", 1500, big_every=7)
        big = [r for r in rows if len(r) > LIMIT]
        small = [r for r in rows if len(r) <= LIMIT]
        # 150 batches of 10 rows, one per 20 ms at most: kills land mid-run.
        job = props_job(d, b.addr, "kafka.message.max.bytes=%d on-oversize=dead-letter:%s/big.tsv"
                        % (LIMIT, d), max_records=10, interval="20ms")
        err_all = ""
        for fp in ("sink.after_commit=crash@2", "sink.before_commit=crash@2",
                   "state.before_commit=crash@1", "sink.after_commit=crash@1",
                   "recovery.after_dead_letter_truncate=crash@1"):
            rc, _, err = ember("run", job, "--until-idle", env={"EMBER_FAILPOINTS": fp},
                               timeout=120)
            err_all += err
            check(rc == -signal.SIGKILL, "%s: exit %d: %s" % (fp, rc, err[-1500:]))
        kills = 0
        for _ in range(3):  # and kill -9 at random moments
            p = subprocess.Popen([EMBER, "run", job, "--until-idle"], stderr=subprocess.PIPE,
                                 text=True)
            time.sleep(rng.uniform(0.5, 1.5))
            p.send_signal(signal.SIGKILL)
            err_all += p.communicate(timeout=60)[1]
            kills += p.returncode == -signal.SIGKILL
        rc, _, err = ember("run", job, "--until-idle", timeout=120)
        err_all += err
        check(rc == 0, "final run exit %d: %s" % (rc, err[-1500:]))
        no_sanitizer_report(err_all)
        check(kills, "no random kill landed before the job finished")
        check("set aside in" in err_all, "no line about a set-aside row")
        dead = open(d + "/big.tsv").read().splitlines()
        check(dead == as_tsv(big), "dead-letter file: %d lines for %d oversized rows (%d "
              "distinct)" % (len(dead), len(big), len(set(dead))))
        got = output_rows(b.addr)
        check(sorted(got) == sorted(as_tsv(small)), "topic: %d rows for %d (%d distinct)" % (
            len(got), len(small), len(set(got))))
        print("       %d rows set aside once, %d in the topic once, %d random kills, seed %d"
              % (len(dead), len(got), kills, SEED))
    finally:
        b.stop()


def test_oversize_without_dead_letter_stops():
    d = tmpdir("kprops-fail")
    b = Broker("out:1")
    try:
        input_file(d + "/in.csv", 100, big_every=50)
        job = props_job(d, b.addr, "kafka.message.max.bytes=%d" % LIMIT, max_records=20)
        for attempt in range(2):
            rc, _, err = ember("run", job, "--until-idle", timeout=120)
            no_sanitizer_report(err)
            lines = [l for l in err.splitlines() if "size limit" in l]
            check(rc == 1 and len(lines) == 1, "run %d: exit %d: %s" % (attempt, rc, err[-1500:]))
            check("batch 3" in lines[0] and "limit of %d" % LIMIT in lines[0] and
                  "on-oversize=dead-letter:PATH" in lines[0], "message: " + lines[0])
            size = int(lines[0].split("record is ")[1].split(" ")[0])
            check(size > 3000, "size %d" % size)
    finally:
        b.stop()


if __name__ == "__main__":
    main([test_unknown_or_invalid_property_refused, test_protected_property_refused,
          test_lz4_sink_read_back, test_oversize_dead_letter_once_across_crashes,
          test_oversize_without_dead_letter_stops])
