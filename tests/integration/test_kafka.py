"""Kafka: `ember broker`, the kafka source and the exactly-once kafka sink.

Each test starts its own `ember broker` (librdkafka's mock cluster on
127.0.0.1), produces input with `ember gen ... --to kafka://`, and checks
what ember wrote with kcat as a read_committed consumer against an oracle
computed here from the input read back with kcat. Batch boundaries come from
the PLAN records of the job's WAL (read with tests/ckpt.py), so every output
batch is compared row by row: nothing lost, nothing twice.
"""
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time

from harness import check, ember, main, tmpdir, write, batch_files, EMBER

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ckpt  # noqa: E402 (tests/ckpt.py: the WAL and checkpoint reader)

SEED = int(os.environ.get("SEED") or random.SystemRandom().randrange(1, 10**6))
rng = random.Random(SEED)


class Broker:
    """`ember broker` in the background; addr is the line it prints first."""

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

    def signal(self, sig):
        self.p.send_signal(sig)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            _, err = self.p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise
        check(self.p.returncode == 0, "ember broker exited %d: %s" % (self.p.returncode, err[-500:]))
        check("AddressSanitizer" not in err and "runtime error" not in err, "broker: " + err[-2000:])


def kcat(addr, topic, fmt, timeout=60):
    """Every record of `topic` as a read_committed consumer sees it."""
    p = subprocess.run(["kcat", "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", fmt],
                       capture_output=True, text=True, timeout=timeout)
    check(p.returncode == 0, "kcat %s: %s" % (topic, p.stderr[-500:]))
    return p.stdout


def produce(addr, topic, count, seed):
    _, out, _ = ember("gen", "sensors", "--count", count, "--seed", seed,
                      "--to", "kafka://%s/%s" % (addr, topic), check_rc=0)
    check(out.strip() == "acknowledged %d records" % count, "gen: " + out)


def read_input(addr, topic):
    """{(partition, offset): line} of the input topic."""
    recs = {}
    for line in kcat(addr, topic, "%p %o %s\\n").splitlines():
        p, o, v = line.split(" ", 2)
        recs[(int(p), int(o))] = v
    return recs


def expected_batches(inputs, plans):
    """Per batch, the rows count() by sensor must give: (key, count) of every
    key the batch's input touched, its running count after the batch."""
    counts, out = {}, {}
    for b in sorted(plans):
        changed = set()
        for p, lo, hi in plans[b]:
            for o in range(lo, hi):
                k = inputs[(p, o)].split(",")[0]
                counts[k] = counts.get(k, 0) + 1
                changed.add(k)
        out[b] = sorted((k, counts[k]) for k in changed)
    return out, counts


def output_batches(addr, topic, job):
    """{batch: sorted [(key, count)]} from the output topic (read_committed)."""
    out = {}
    for line in kcat(addr, topic, "%h|%k|%s\\n").splitlines():
        headers, key, value = line.split("|", 2)
        h = dict(x.split("=", 1) for x in headers.split(","))
        check(h.get("ember.job") == job, "record of another job: %r" % line)
        k, c = value.split("\t")
        check(k == key, "record key %r, row %r" % (key, value))
        out.setdefault(int(h["ember.batch"]), []).append((k, int(c)))
    return {b: sorted(rows) for b, rows in out.items()}


def markers(addr, topic, job):
    seen = []
    for line in kcat(addr, topic + ".ember-markers", "%k|%s\\n").splitlines():
        key, value = line.split("|", 1)
        if key == job:
            seen.append(int(value.split()[0].split("=")[1]))
    return seen


def kafka_job(d, addr, name="kk", source_extra="", sink="kafka", max_records=2500,
              interval="20ms", batch_extra=""):
    sink_line = ("sink       kafka brokers=%s topic=out" % addr if sink == "kafka"
                 else "sink       file dir=%s/out" % d)
    write(d + "/k.job", f"""job {name}
batch      interval={interval} max-records={max_records} {batch_extra}
checkpoint dir={d}/ckpt every=100000
source     kafka brokers={addr} topic=in {source_extra}
parse      csv fields=sensor,ts:int,temp:float
key        sensor
aggregate  count()
{sink_line}
""")
    return d + "/k.job"


def progress_records(d):
    """Input records the job has committed (the newest progress line's offsets)."""
    try:
        lines = open(d + "/ckpt/progress.jsonl").read().splitlines()
    except OSError:
        return 0
    return sum(json.loads(lines[-1])["offsets"].values()) if lines else 0


def run_bg(job):
    return subprocess.Popen([EMBER, "run", job], stderr=subprocess.PIPE, text=True)


def no_sanitizer_report(err):
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        check(bad not in err, "sanitizer report:\n" + err[-3000:])


def verify_exactly_once(d, addr, job="kk"):
    """Every batch of the output topic equals the oracle's rows for its
    planned input; every batch has exactly one marker; final counts match."""
    inputs = read_input(addr, "in")
    plans = ckpt.wal_ranges(d + "/ckpt")
    want, totals = expected_batches(inputs, plans)
    got = output_batches(addr, "out", job)
    check(sorted(plans) == list(range(1, len(plans) + 1)), "WAL batches not dense")
    lost = sum(len(set(want[b]) - set(got.get(b, []))) for b in want)
    dup = sum(len(got[b]) - len(set(got[b])) for b in got)
    extra = [b for b in got if b not in want]
    check(not lost and not dup and not extra, "output: %d rows lost, %d duplicated, batches %s "
          "not planned" % (lost, dup, extra[:5]))
    for b in want:
        check(got.get(b, []) == want[b], "batch %d: output differs from the oracle" % b)
    m = markers(addr, "out", job)
    check(sorted(m) == list(range(1, len(plans) + 1)),
          "markers: %d for %d batches (duplicates: %s)" % (len(m), len(plans),
                                                           sorted(set(x for x in m if m.count(x) > 1))))
    latest = {}
    for b in sorted(got):
        latest.update(dict(got[b]))
    check(latest == totals, "newest count per key differs from the input's")
    check(sum(totals.values()) == len(inputs), "the job read %d of %d input records" % (
        sum(totals.values()), len(inputs)))
    return len(plans), len(inputs)


def test_broker_cli():
    rc, out, _ = ember("broker", "--help")
    check(rc == 0 and "--topic" in out, "broker --help")
    rc, _, err = ember("broker", "--topic", "x")
    check(rc == 2 and "NAME:PARTITIONS" in err, "bad --topic: exit %d %s" % (rc, err))
    rc, _, err = ember("broker", "--bogus")
    check(rc == 2, "unknown flag exit %d" % rc)
    b = Broker("in:3")
    try:
        md = subprocess.run(["kcat", "-L", "-b", b.addr, "-t", "in"], capture_output=True,
                            text=True, timeout=30).stdout
        check('topic "in" with 3 partitions' in md, "metadata: " + md)
    finally:
        b.stop()


def test_kill9_exactly_once():
    """kafka -> count by key -> kafka, kill -9 at random moments, more input
    between the runs: every batch exactly once in the read_committed output."""
    d = tmpdir("kafka-kill")
    b = Broker("in:3")
    try:
        produce(b.addr, "in", 30000, 7)
        job = kafka_job(d, b.addr)
        kills, err_all = 0, ""
        for i in range(6):
            p = run_bg(job)
            time.sleep(rng.uniform(0.5, 3.0))
            p.send_signal(signal.SIGKILL)
            _, err = p.communicate(timeout=60)
            err_all += err
            kills += p.returncode == -signal.SIGKILL
            if i % 2 == 1:
                produce(b.addr, "in", 6000, 100 + i)
        rc, _, err = ember("run", job, "--until-idle", timeout=240)
        err_all += err
        check(rc == 0, "final run exit %d: %s" % (rc, err[-2000:]))
        no_sanitizer_report(err_all)
        batches, records = verify_exactly_once(d, b.addr)
        print("       %d kills, %d batches, %d records, seed %d: 0 lost, 0 duplicated" % (
            kills, batches, records, SEED))
    finally:
        b.stop()


def test_broker_outage_mid_run():
    """Brokers down for a few seconds while the job runs: it retries with a
    message, does not exit, and the output stays exactly-once."""
    d = tmpdir("kafka-outage")
    b = Broker("in:3")
    try:
        produce(b.addr, "in", 20000, 3)
        # 100 batches of 200, one per 100 ms: the job is busy through the outage.
        job = kafka_job(d, b.addr, max_records=200, interval="100ms")
        p = run_bg(job)
        time.sleep(2.0)
        b.signal(signal.SIGUSR1)
        time.sleep(7.0)  # longer than a request timeout (5 s): the job must say it waits
        b.signal(signal.SIGUSR2)
        produce(b.addr, "in", 3000, 4)
        deadline = time.time() + 90
        while time.time() < deadline and p.poll() is None and progress_records(d) < 23000:
            time.sleep(0.3)
        if p.poll() is not None:  # (stderr is read only then: the job still holds it open)
            check(False, "the job exited during the outage: %s" % p.stderr.read()[-2000:])
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        check(p.returncode == 0, "SIGTERM: exit %d: %s" % (p.returncode, err[-2000:]))
        no_sanitizer_report(err)
        check("retrying" in err or "waiting" in err, "no retry message during the outage:\n" +
              err[-2000:])
        rc, _, err = ember("run", job, "--until-idle", timeout=120)
        check(rc == 0, "catch-up run exit %d: %s" % (rc, err[-1500:]))
        verify_exactly_once(d, b.addr)
    finally:
        b.stop()


def test_missing_topic_and_wrong_address():
    b = Broker("in:1")
    try:
        d = tmpdir("kafka-missing")
        write(d + "/m.job", f"""job m
checkpoint dir={d}/ckpt
source     kafka brokers={b.addr} topic=nope
sink       file dir={d}/out
""")
        rc, _, err = ember("run", d + "/m.job", "--until-idle", timeout=60)
        check(rc == 1 and "topic 'nope' does not exist" in err, "missing topic: exit %d: %s" % (
            rc, err[-800:]))
    finally:
        b.stop()
    d = tmpdir("kafka-address")
    write(d + "/a.job", f"""job a
checkpoint dir={d}/ckpt
source     kafka brokers=no-such-host.invalid:9092 topic=in
sink       file dir={d}/out
""")
    rc, _, err = ember("run", d + "/a.job", "--until-idle", timeout=60)
    check(rc == 2 and "does not resolve" in err, "unresolvable address: exit %d: %s" % (rc, err[-800:]))
    write(d + "/a.job", f"""job a
checkpoint dir={d}/ckpt2
source     kafka brokers=127.0.0.1:1 topic=in timeout=1s
sink       file dir={d}/out
""")
    t0 = time.time()
    rc, _, err = ember("run", d + "/a.job", "--until-idle", timeout=60)
    check(rc == 1 and "cannot reach Kafka at 127.0.0.1:1" in err and "refused" in err,
          "nothing listening: exit %d: %s" % (rc, err[-800:]))
    check(time.time() - t0 < 30, "gave up after %.0f s" % (time.time() - t0))
    write(d + "/s.job", f"""job s
checkpoint dir={d}/ckpt3
source     generator kind=sensors count=10
sink       kafka brokers=127.0.0.1:1 topic=out timeout=1s
""")
    rc, _, err = ember("run", d + "/s.job", "--until-idle", timeout=60)
    check(rc == 1 and "127.0.0.1:1" in err, "sink, nothing listening: exit %d: %s" % (rc, err[-800:]))


def count_state(ckpt):
    rc, out, err = ember("state", ckpt, "--op", "aggregate", "--format", "tsv", check_rc=0)
    return sum(int(l.split("\t")[1]) for l in out.splitlines()[1:] if l)


def test_retention_data_loss():
    """The broker keeps ~5 MB per partition. Input deleted before the job
    planned it stops the job (or is skipped with on-data-loss=skip); a
    planned batch whose input is gone cannot be replayed."""
    b = Broker("in:1")
    try:
        produce(b.addr, "in", 2000, 1)
        d1, d2 = tmpdir("kafka-ret1"), tmpdir("kafka-ret2")
        job1 = kafka_job(d1, b.addr, name="r1", sink="file")
        ember("run", job1, "--until-idle", check_rc=0, timeout=120)
        job2 = kafka_job(d2, b.addr, name="r2", sink="file")
        rc, _, _ = ember("run", job2, "--until-idle", env={
            "EMBER_FAILPOINTS": "sink.before_commit=crash@1"}, timeout=120)
        check(rc == -signal.SIGKILL, "failpoint crash: exit %d" % rc)
        produce(b.addr, "in", 260000, 2)  # > 5 MB: the log start moves past 2000
        lo = min(o for (_, o) in read_input(b.addr, "in"))
        check(lo > 2000, "retention did not delete the start (log starts at %d)" % lo)
        rc, _, err = ember("run", job1, "--until-idle", timeout=120)
        check(rc == 1 and "deleted by retention" in err and "[2000, %d)" % lo in err,
              "unplanned loss: exit %d: %s" % (rc, err[-800:]))
        kafka_job(d1, b.addr, name="r1", sink="file", source_extra="on-data-loss=skip")
        rc, _, err = ember("run", job1, "--until-idle", timeout=180)
        check(rc == 0 and "skipped" in err, "on-data-loss=skip: exit %d: %s" % (rc, err[-800:]))
        check(count_state(d1 + "/ckpt") == 2000 + 262000 - lo, "skip read the wrong records")
        rc, _, err = ember("run", job2, "--until-idle", timeout=120)
        check(rc == 1 and "cannot be replayed" in err and "deleted by retention" in err,
              "planned loss: exit %d: %s" % (rc, err[-800:]))
    finally:
        b.stop()


def test_group_offsets():
    """group=G: offsets are committed to the group; a fresh job in the same
    group starts where the first one stopped."""
    b = Broker("in:2")
    try:
        produce(b.addr, "in", 5000, 9)
        d1, d2 = tmpdir("kafka-g1"), tmpdir("kafka-g2")
        ember("run", kafka_job(d1, b.addr, name="g1", sink="file", source_extra="group=lag"),
              "--until-idle", check_rc=0, timeout=120)
        produce(b.addr, "in", 700, 10)
        _, _, err = ember("run", kafka_job(d2, b.addr, name="g2", sink="file",
                                           source_extra="group=lag"),
                          "--until-idle", check_rc=0, timeout=120)
        check("committed by group lag" in err, "fresh job did not start from the group: " + err[-800:])
        check(count_state(d2 + "/ckpt") == 700, "second job read %d records, not the 700 new ones" %
              count_state(d2 + "/ckpt"))
        check(count_state(d1 + "/ckpt") == 5000, "first job")
    finally:
        b.stop()


def test_backpressure_keeps_max_per_partition():
    """backpressure=on: a plan takes at most bound x interval records, split
    over the partitions, and max-per-partition stays a hard cap on each
    partition's range whatever the bound."""
    b = Broker("in:4")
    try:
        produce(b.addr, "in", 40000, 12)
        d = tmpdir("kafka-bp")
        job = kafka_job(d, b.addr, name="bp", max_records=100000, interval="50ms",
                        source_extra="max-per-partition=3000",
                        batch_extra="backpressure=on initial-rate=40000 min-rate=20000")
        ember("run", job, "--until-idle", check_rc=0, timeout=120)
        lines = [json.loads(l) for l in open(d + "/ckpt/progress.jsonl")]
        # Before an estimate: initial-rate 40000/s x 50 ms = 2000 records.
        check([(l["records_in"], l["record_budget"]) for l in lines[:2]] ==
              [(2000, 2000), (2000, 2000)], "first batches %r" % lines[:2])
        for batch, ranges in ckpt.wal_ranges(d + "/ckpt").items():
            for p, lo, hi in ranges:
                check(hi - lo <= 3000, "batch %d partition %d took %d > max-per-partition" % (
                    batch, p, hi - lo))
        check(all(l["records_in"] <= min(l["record_budget"], 12000) for l in lines),
              "a batch over its budget or the partitions' caps")
        verify_exactly_once(d, b.addr, job="bp")
    finally:
        b.stop()


if __name__ == "__main__":
    print("test_kafka: seed %d" % SEED)
    main([test_broker_cli, test_missing_topic_and_wrong_address, test_kill9_exactly_once,
          test_broker_outage_mid_run, test_retention_data_loss, test_group_offsets,
          test_backpressure_keeps_max_per_partition])
