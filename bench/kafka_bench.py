#!/usr/bin/env python3
"""Kafka benchmark: ember's Kafka source and exactly-once Kafka sink against
one `ember broker` (librdkafka's mock cluster, on the same machine).

  python3 bench/kafka_bench.py            2M sensor records
  QUICK=1 python3 bench/kafka_bench.py    300K records, shorter latency runs
  EMBER=path/to/ember                     default build/ember (the -O2 build)

(a) kcat   `kcat -C -b ADDR -t in -o beginning -e -q > /dev/null` reading the
           whole input topic: records/s from its wall time;
(b) source `source kafka` -> parse csv -> key sensor -> count() -> sink file
           (<= 1000 rows per batch, so almost no sink cost), --until-idle:
           records/s from the process's wall time, and the steady rate from
           progress.jsonl (records / (last batch's end - first batch's plan));
           ratio ember/kcat of the medians;
(c) eo     the same count into `sink kafka` (exactly-once: one transaction and
           one marker per batch, committed every batch), batch interval=100ms:
           records/s over a backlog of N records as in (b); then latency under
           a steady load: `ember gen --rate R` (R = half of (c)'s throughput,
           at most 100K/s) produces for T seconds while the job runs, and for
           every input record
             latency = commit time of the batch that read it - the record's
                       Kafka timestamp (CreateTime: set by the producer when
                       ember gen hands it to librdkafka, i.e. about when it
                       becomes available in the topic; + up to linger.ms 5)
           with the record's batch from the WAL's PLAN ranges and two
           measures of the commit time: "sink commit" = PLAN wall time
           (batch_time_ms) + read + transform + state + sink ms of
           progress.jsonl, i.e. when the output transaction's
           commit_transaction returned, minus the WAL append+fsync between
           plan and read that progress.jsonl does not time (a lower bound);
           "batch done" = when the job's "batch N:" line reached this script
           (written after the state commit; an upper bound).
Each measurement runs 3 times: median and min..max. Prints a markdown table
and writes bench/results/kafka-<date>.json.
"""
import datetime
import json
import math
import os
import platform
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import ckpt  # noqa: E402 (tests/ckpt.py: the WAL and checkpoint reader)
EMBER = os.path.abspath(os.environ.get("EMBER") or os.path.join(ROOT, "build", "ember"))
QUICK = bool(os.environ.get("QUICK")) or "--quick" in sys.argv
N = 300_000 if QUICK else 2_000_000
RUNS = 3
LAT_SECONDS = 8 if QUICK else 15
LAT_MAX_RATE = 100_000
BYTES_PER_RECORD = 48  # a sensors line (~26 B) plus its record overhead in the log


def partitions_for(records):
    """`ember broker` keeps ~5 MB per partition: enough partitions that
    nothing is deleted (4 MB each at most)."""
    return max(4, math.ceil(records * BYTES_PER_RECORD / 4e6))


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"cpu": cpu, "nproc": os.cpu_count(), "platform": platform.platform(),
            "loadavg_at_start": load}


class Broker:
    def __init__(self, topics):
        args = [EMBER, "broker"]
        for t in topics:
            args += ["--topic", t]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
        sel = selectors.DefaultSelector()
        sel.register(self.p.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=30):
            raise SystemExit("ember broker printed no address")
        self.addr = self.p.stdout.readline().strip()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=30)


def produce(addr, topic, count, seed, rate=0):
    args = [EMBER, "gen", "sensors", "--count", str(count), "--seed", str(seed),
            "--to", "kafka://%s/%s" % (addr, topic)]
    if rate:
        args += ["--rate", str(rate)]
    t0 = time.time()
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if p.returncode != 0 or p.stdout.strip() != "acknowledged %d records" % count:
        raise SystemExit("ember gen: exit %d: %s %s" % (p.returncode, p.stdout, p.stderr[-500:]))
    return time.time() - t0


def kcat(addr, topic, fmt=None, out=subprocess.PIPE):
    args = ["kcat", "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q"]
    if fmt:
        args += ["-f", fmt]
    p = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("kcat %s: %s" % (topic, p.stderr[-500:]))
    return p.stdout


def bench_kcat(addr):
    # Everything must still be in the log (the broker's retention): count once.
    n = len(kcat(addr, "in", "x"))
    if n != N:
        raise SystemExit("topic in holds %d records, not %d (retention?)" % (n, N))
    rates = []
    for _ in range(RUNS):
        t0 = time.time()
        with open(os.devnull, "w") as null:
            kcat(addr, "in", out=null)
        rates.append(N / (time.time() - t0))
    return {"records_per_s": spread(rates)}


def job_text(name, d, addr, topic, sink, interval, max_records):
    return f"""job {name}
batch      interval={interval} max-records={max_records}
checkpoint dir={d}/ckpt
source     kafka brokers={addr} topic={topic}
parse      csv fields=sensor,ts:int,temp:float
key        sensor
aggregate  count()
{sink}
"""


def progress(d):
    with open(d + "/ckpt/progress.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def sink_done_ms(b):
    """Wall ms when the batch's sink step (the Kafka transaction's commit)
    ended; the WAL append+fsync before the read is not in progress.jsonl."""
    return b["batch_time_ms"] + b["read_ms"] + b["transform_ms"] + b["state_ms"] + b["sink_ms"]


def run_backlog(name, addr, sink_kind, interval, max_records):
    """One --until-idle run over the whole input topic: (wall rate, steady rate)."""
    d = tempfile.mkdtemp(prefix="ember-kbench-")
    sink = ("sink       file dir=%s/out" % d if sink_kind == "file"
            else "sink       kafka brokers=%s topic=%s-out" % (addr, name))
    with open(d + "/k.job", "w") as f:
        f.write(job_text(name, d, addr, "in", sink, interval, max_records))
    t0 = time.time()
    p = subprocess.run([EMBER, "run", d + "/k.job", "--until-idle"], capture_output=True,
                       text=True, timeout=1200)
    wall = time.time() - t0
    if p.returncode != 0:
        raise SystemExit("%s: exit %d: %s" % (name, p.returncode, p.stderr[-1500:]))
    batches = progress(d)
    got = sum(b["records_in"] for b in batches)
    if got != N:
        raise SystemExit("%s read %d records, not %d" % (name, got, N))
    span_ms = max(sink_done_ms(b) + b["commit_ms"] for b in batches) - batches[0]["batch_time_ms"]
    subprocess.run(["rm", "-rf", d])
    return N / wall, N / (span_ms / 1e3), len(batches)


def bench_backlog(addr, label, sink_kind, interval, max_records):
    wall, steady, nb = [], [], 0
    for i in range(RUNS):
        w, s, nb = run_backlog("kb-%s-%d" % (label, i), addr, sink_kind, interval, max_records)
        wall.append(w)
        steady.append(s)
    return {"records_per_s_wall": spread(wall), "records_per_s_steady": spread(steady),
            "batches": nb, "interval": interval, "max_records": max_records}


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run_latency(i, addr, rate):
    """The eo job running; a warm-up of 1000 records (the first transaction
    costs ~1 s), then `ember gen --rate` for LAT_SECONDS; latencies of the
    timed records only."""
    name, topic = "kb-lat-%d" % i, "lat%d" % i
    d = tempfile.mkdtemp(prefix="ember-klat-")
    with open(d + "/k.job", "w") as f:
        f.write(job_text(name, d, addr, topic, "sink       kafka brokers=%s topic=%s-out" % (
            addr, topic), "100ms", 1_000_000))
    job = subprocess.Popen([EMBER, "run", d + "/k.job"], stderr=subprocess.PIPE, text=True)
    arrived = {}

    def read_stderr():
        for line in job.stderr:
            word = line.split()[1].rstrip(":") if line.startswith("batch ") else ""
            if word.isdigit():
                arrived[int(word)] = time.time() * 1e3

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    count = rate * LAT_SECONDS
    produce(addr, topic, 1000, 100 + i)
    wait_committed(d, 1000, job)
    t_start_ms = time.time() * 1e3
    produce(addr, topic, count, 200 + i, rate)
    wait_committed(d, 1000 + count, job)
    job.send_signal(signal.SIGTERM)
    job.wait(timeout=60)
    reader.join(timeout=10)
    plans = ckpt.wal_ranges(d + "/ckpt")
    batch_of = {}
    for b, ranges in plans.items():
        for part, lo, hi in ranges:
            for o in range(lo, hi):
                batch_of[(part, o)] = b
    by_batch = {b["batch"]: b for b in progress(d)}
    lo_lat, hi_lat = [], []
    for line in kcat(addr, topic, "%p %o %T\\n").splitlines():
        part, off, ts = map(int, line.split())
        if ts < t_start_ms:
            continue  # warm-up
        b = batch_of[(part, off)]
        lo_lat.append(sink_done_ms(by_batch[b]) - ts)
        hi_lat.append(arrived[b] - ts)
    timed = [by_batch[b] for b in by_batch if b in arrived and by_batch[b]["records_in"] and
             by_batch[b]["batch_time_ms"] >= t_start_ms]
    subprocess.run(["rm", "-rf", d])
    return {"records": len(lo_lat),
            "sink_commit_p50_ms": pct(lo_lat, 0.50), "sink_commit_p99_ms": pct(lo_lat, 0.99),
            "batch_done_p50_ms": pct(hi_lat, 0.50), "batch_done_p99_ms": pct(hi_lat, 0.99),
            "max_ms": max(hi_lat),
            "batches": len(timed),
            "batch_records_median": statistics.median(b["records_in"] for b in timed),
            "plan_to_sink_commit_p50_ms": pct([sink_done_ms(b) - b["batch_time_ms"]
                                               for b in timed], 0.5),
            "sink_ms_p50": pct([b["sink_ms"] for b in timed], 0.5),
            "scheduling_delay_p50_ms": pct([b["scheduling_delay_ms"] for b in timed], 0.5)}


def wait_committed(d, records, job, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if job.poll() is not None:
            raise SystemExit("the latency job exited %d" % job.returncode)
        try:
            if sum(b["records_in"] for b in progress(d)) >= records:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise SystemExit("the latency job did not commit %d records in %d s" % (records, timeout))


def bench_latency(addr, rate):
    runs = [run_latency(i, addr, rate) for i in range(RUNS)]
    out = {"rate": rate, "seconds": LAT_SECONDS, "runs": runs}
    for k in ("sink_commit_p50_ms", "sink_commit_p99_ms", "batch_done_p50_ms",
              "batch_done_p99_ms", "plan_to_sink_commit_p50_ms", "sink_ms_p50",
              "batch_records_median"):
        out[k] = spread([r[k] for r in runs])
    return out


def fmt_rate(s):
    return "%s (%s..%s)" % tuple("{:,.0f}".format(s[k]) for k in ("median", "min", "max"))


def fmt_ms(s):
    return "%.0f (%.0f..%.0f)" % (s["median"], s["min"], s["max"])


def table(res):
    a, b, c, lat = res["kcat"], res["source"], res["eo"], res["latency"]
    ratio = b["records_per_s_wall"]["median"] / a["records_per_s"]["median"]
    ratio_s = b["records_per_s_steady"]["median"] / a["records_per_s"]["median"]
    rows = [
        ("(a) kcat -C -e -q > /dev/null, records/s", fmt_rate(a["records_per_s"]), "ceiling"),
        ("(b) source kafka -> count -> file sink, records/s (wall)",
         fmt_rate(b["records_per_s_wall"]), "%.2fx kcat" % ratio),
        ("(b) the same, steady (progress.jsonl)", fmt_rate(b["records_per_s_steady"]),
         "%.2fx kcat" % ratio_s),
        ("(c) kafka -> count -> kafka exactly-once, records/s (wall)",
         fmt_rate(c["records_per_s_wall"]),
         "%.2fx (b)" % (c["records_per_s_wall"]["median"] / b["records_per_s_wall"]["median"])),
        ("(c) the same, steady (progress.jsonl)", fmt_rate(c["records_per_s_steady"]), ""),
        ("(c) latency at %s records/s: p50 to sink commit, ms" % "{:,}".format(lat["rate"]),
         fmt_ms(lat["sink_commit_p50_ms"]), "lower bound"),
        ("(c) p99 to sink commit, ms", fmt_ms(lat["sink_commit_p99_ms"]), "lower bound"),
        ("(c) p50 to batch done (stderr line), ms", fmt_ms(lat["batch_done_p50_ms"]),
         "upper bound"),
        ("(c) p99 to batch done, ms", fmt_ms(lat["batch_done_p99_ms"]), "upper bound"),
        ("(c) per batch: plan to sink commit p50, ms / sink step p50, ms",
         "%s / %s" % (fmt_ms(lat["plan_to_sink_commit_p50_ms"]), fmt_ms(lat["sink_ms_p50"])),
         "%.0f records per batch" % lat["batch_records_median"]["median"]),
    ]
    out = ["| figure | median (min..max), %d runs | note |" % RUNS, "| --- | --- | --- |"]
    out += ["| %s | %s | %s |" % r for r in rows]
    return "\n".join(out)


def main():
    if not os.access(EMBER, os.X_OK):
        raise SystemExit("no %s: make build/ember first" % EMBER)
    res = {"date": datetime.date.today().isoformat(), "machine": machine(), "records": N,
           "command": ("QUICK=1 " if QUICK else "") + "python3 bench/kafka_bench.py"}
    try:
        res["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                       capture_output=True, text=True).stdout.strip()
    except OSError:
        res["commit"] = "?"
    parts = partitions_for(max(N, LAT_MAX_RATE * LAT_SECONDS + 1000))
    res["partitions"] = parts
    broker = Broker(["in:%d" % parts] + ["lat%d:%d" % (i, parts) for i in range(RUNS)])
    try:
        print("broker %s, %d partitions per topic; producing %d records" % (
            broker.addr, parts, N), flush=True)
        res["produce_s"] = produce(broker.addr, "in", N, 1)
        res["kcat"] = bench_kcat(broker.addr)
        print("(a) kcat", fmt_rate(res["kcat"]["records_per_s"]), flush=True)
        res["source"] = bench_backlog(broker.addr, "src", "file", "10ms", 500_000)
        print("(b) source", fmt_rate(res["source"]["records_per_s_wall"]), flush=True)
        res["eo"] = bench_backlog(broker.addr, "eo", "kafka", "100ms", 200_000)
        print("(c) eo", fmt_rate(res["eo"]["records_per_s_wall"]), flush=True)
        rate = int(min(LAT_MAX_RATE, res["eo"]["records_per_s_steady"]["median"] / 2) // 1000
                   * 1000) or 1000
        res["latency"] = bench_latency(broker.addr, rate)
    finally:
        broker.stop()
    print()
    print(table(res))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "kafka-%s%s.json" % (
        res["date"], "-quick" if QUICK else ""))
    with open(path, "w") as f:
        json.dump(res, f, indent=2)
    print("wrote", path)


if __name__ == "__main__":
    main()
