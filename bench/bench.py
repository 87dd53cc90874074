"""ember benchmarks (issue "Benchmarks"). Writes bench/results/<date>-<commit>.json
and prints a markdown table for bench/README.md. Every figure is the median of
several runs with the spread (min..max); each ember figure is also given as a
ratio of its ceiling measured in the same run on the same machine.

Scenarios:
  ysb         Yahoo Streaming Benchmark: generator(ads) -> filter view ->
              select ad_id, event_time -> join campaigns table -> key
              campaign_id -> tumbling 10 s event-time window -> count() ->
              file sink, exactly-once commit every batch; 1 and 2 worker
              threads; the same from the ads CSV file (file source)
  ysb-latency the generator paced at half the 1-thread peak, 100 ms batches:
              p50/p99 from a window's end being available to its output
              committed
  ceiling     build/bench/ceiling: a bare C loop that parses the same CSV,
              filters, joins (hash lookup) and counts per window, nothing else;
              and `ember gen ads --to file:` (the generator alone)
  state-scale running count over 10K, 1M, 10M distinct keys (the last with a
              block cache far smaller than the state): records/s, bytes on
              disk, peak RSS
  checkpoint  agg100k with snapshots every batch, 10, 100 and never
  agg100k     generator(transactions) -> key card -> count()+sum(amount),
              100K keys, 1 and 2 threads (the state-bound case)
  db_bench    RocksDB's fillrandom / readrandom with ember's key/value sizes
  recovery    bench/recovery_bench.py (1M keys; 10M too without QUICK)
  parse       bench/parse_bench.py: `parse json` beside `parse csv` on the same
              records (2M of 5 fields; 500K with QUICK), a stateless and a
              keyed job: MB/s, records/s, JSON/CSV ratio
  nexmark_gen bench/nexmark_gen.py: `ember gen nexmark` to /dev/null and
              generator(nexmark) -> blackhole jobs, raw and parsed
  nexmark     bench/nexmark_bench.py: every Nexmark query ember runs into the
              blackhole sink, events per CPU second beside Flink's per core
  kafka       bench/kafka_bench.py when present (ember's Kafka source vs
              `kcat -C -e`; kafka -> count -> kafka exactly-once), full run only
"""
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMBER = os.path.abspath(os.environ.get("EMBER") or os.path.join(ROOT, "build", "ember"))
QUICK = "--quick" in sys.argv


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)


def progress(ckpt):
    with open(os.path.join(ckpt, "progress.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


CEILING = os.path.join(ROOT, "build", "bench", "ceiling")


def run_job(text, args=()):
    """Runs a job to idle; (wall s, progress records)."""
    d = tempfile.mkdtemp(prefix="ember-bench-")
    job = os.path.join(d, "b.job")
    with open(job, "w") as f:
        f.write(text.replace("@DIR@", d).replace("@ROOT@", ROOT))
    t0 = time.time()
    p = subprocess.Popen([EMBER, "run", job, "--until-idle", *args],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = p.communicate()
    wall = time.time() - t0
    if p.returncode != 0:
        sys.exit("bench job failed (%d): %s" % (p.returncode, err.decode()[-2000:]))
    prog = progress(os.path.join(d, "ckpt"))
    shutil.rmtree(d, ignore_errors=True)
    return wall, prog


def run_measured(argv, cpu=False):
    """Runs argv; (wall s, peak RSS MB, stdout[, user+sys CPU s])."""
    t0 = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.time() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        sys.exit("%s failed (%d): %s" % (" ".join(argv), rc, err.decode()[-2000:]))
    res = (wall, usage.ru_maxrss / 1024.0, out.decode())
    return res + (usage.ru_utime + usage.ru_stime,) if cpu else res


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": len(xs)}


AGG_JOB = """job bench-agg
batch      interval=1ms max-records={batch}
checkpoint dir=@DIR@/ckpt every=0 cache=512MB
source     generator kind=transactions seed=1 count={count}
parse      csv fields=card,merchant,amount:float,ts:int
key        card
aggregate  count() sum(amount)
sink       file dir=@DIR@/out
"""


def bench_agg(threads):
    count = 1_000_000 if QUICK else 10_000_000
    rates, state_rates, commit_ms = [], [], []
    for _ in range(2 if QUICK else 5):
        wall, p = run_job(AGG_JOB.format(count=count, batch=1_000_000), ["--threads", threads])
        rates.append(count / wall)
        keys = sum(b["keys_changed"] for b in p)
        state_rates.append(keys / (sum(b["state_ms"] for b in p) / 1e3))
        commit_ms.append(statistics.median(b["commit_ms"] for b in p))
    return {"records_per_s": spread(rates), "state_keys_per_s": spread(state_rates),
            "commit_ms_per_batch": spread(commit_ms), "records": count}


SNAP_JOB = """job bench-snap
batch      interval=1ms max-records=500000
checkpoint dir=@DIR@/ckpt every={every} keep=2 cache=512MB
source     generator kind=ads seed=1 count={count}
parse      csv fields=user_id,page_id,ad_id,ad_type,event_type,event_time:int,ip
key        user_id, ad_id
aggregate  count()
sink       file dir=@DIR@/out
"""


def bench_snapshot():
    count = 1_500_000
    snaps, keys = [], 0
    for _ in range(2 if QUICK else 3):
        _, p = run_job(SNAP_JOB.format(count=count, every=3))
        last = p[-1]
        snaps.append(last["snapshot_ms"])
        keys = last["state_keys"]
    return {"snapshot_ms": spread(snaps), "state_keys": keys}


def db_bench():
    if not shutil.which("db_bench"):
        return None
    d = tempfile.mkdtemp(prefix="ember-dbbench-")
    num = 1_000_000
    out = sh(["db_bench", "--db=" + d, "--benchmarks=fillrandom,readrandom", "--num=%d" % num,
              "--key_size=16", "--value_size=18", "--compression_type=lz4",
              "--threads=1", "--disable_wal=0", "--sync=0"]).stdout
    shutil.rmtree(d, ignore_errors=True)
    res = {}
    for name in ("fillrandom", "readrandom"):
        m = re.search(name + r"\s*:\s*([\d.]+) micros/op (\d+) ops/sec", out)
        if m:
            res[name + "_ops_per_s"] = int(m.group(2))
    return res


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    return "%s, %d cores, %s" % (cpu, os.cpu_count(), platform.platform())


# ---------------------------------------------------------------- YSB

YSB_JOB = """job bench-ysb
batch      interval={interval} max-records={batch}
checkpoint dir=@DIR@/ckpt every=0
source     {source}
parse      csv fields=user_id,page_id,ad_id,ad_type,event_type,event_time:int,ip
filter     event_type == "view"
select     ad_id, event_time
join       table path={table} key=ad_id fields=campaign_id
key        campaign_id
window     tumbling {window} on event_time watermark 100ms
aggregate  count()
sink       file dir=@DIR@/out
"""


# Event time advances EVENT_RATE records per second (as if the events were
# stamped when produced at 1M/s), so a 10 s window holds 10M events, as in
# YSB, not 10K (the generator's default of 1 ms per record would make every
# 1M-record batch close 100 windows per campaign).
EVENT_RATE = 1_000_000


def ysb_inputs(d, count):
    """The ads CSV file and the campaigns table (every ad's campaign is its
    first 32 characters + "0000", see core/gen.c)."""
    ads = os.path.join(d, "ads.csv")
    sh([EMBER, "gen", "ads", "--count", str(count), "--seed", "1", "--event-rate",
        str(EVENT_RATE), "--to", "file:" + ads])
    seen = set()
    with open(ads) as f:
        for i, line in enumerate(f):
            seen.add(line.split(",", 3)[2])
            if i > 200_000:
                break
    table = os.path.join(d, "campaigns.csv")
    with open(table, "w") as f:
        f.write("ad_id,campaign_id\n")
        for a in sorted(seen):
            f.write("%s,%s0000\n" % (a, a[:32]))
    if len(seen) != 1000:
        sys.exit("expected 1000 ads, saw %d" % len(seen))
    return ads, table


def window_rows(d):
    """(rows, total count) over the job's batch files."""
    rows = total = 0
    out = os.path.join(d, "out")
    for name in os.listdir(out):
        if name.endswith(".tsv"):
            with open(os.path.join(out, name)) as f:
                for line in f.read().splitlines()[1:]:
                    rows += 1
                    total += int(line.rsplit("\t", 1)[1])
    return rows, total


def bench_ysb(inputs, count, runs):
    ads, table = inputs
    res = {"records": count}
    gen = "generator kind=ads seed=1 count=%d event-rate=%d" % (count, EVENT_RATE)
    cases = [("generator_t1", gen, "1"), ("generator_t2", gen, "2"),
             ("file_t1", "file path=" + ads, "1")]
    for name, source, threads in cases:
        rates, rss, kept, cpu = [], [], [], []
        for _ in range(runs):
            job = YSB_JOB.format(interval="1ms", batch=1_000_000, source=source, table=table,
                                 window="10s")
            d = tempfile.mkdtemp(prefix="ember-bench-ysb-")
            with open(d + "/b.job", "w") as f:
                f.write(job.replace("@DIR@", d))
            wall, mb, _, cpu_s = run_measured([EMBER, "run", d + "/b.job", "--until-idle",
                                               "--threads", threads], cpu=True)
            rates.append(count / wall)
            cpu.append(count / cpu_s)
            rss.append(mb)
            kept.append(d)
        res[name] = {"records_per_s": spread(rates), "records_per_cpu_s": spread(cpu),
                     "peak_rss_mb": spread(rss)}
        res[name]["window_rows"], res[name]["window_total"] = window_rows(kept[-1])
        p = progress(kept[-1] + "/ckpt")
        res[name]["ms_per_batch"] = {k: round(statistics.median(b[k] for b in p), 1) for k in
                                     ("read_ms", "transform_ms", "state_ms", "sink_ms",
                                      "commit_ms")}
        for d in kept:
            shutil.rmtree(d, ignore_errors=True)
    return res


def bench_ceiling(inputs, count, runs):
    """The bare loop over the same file, and the generator alone."""
    ads, table = inputs
    rates, gen_rates, out = [], [], ""
    for _ in range(runs):
        out = sh([CEILING, ads, table]).stdout  # (its loop is timed inside: CPU-bound)
        rates.append(float(re.search(r"records_per_s (\d+)", out).group(1)))
        d = tempfile.mkdtemp(prefix="ember-bench-gen-")
        wall, _, _ = run_measured([EMBER, "gen", "ads", "--count", str(count), "--event-rate",
                                   str(EVENT_RATE), "--to", "file:" + d + "/x.csv"])
        gen_rates.append(count / wall)
        shutil.rmtree(d, ignore_errors=True)
    fields = dict(re.findall(r"(\w+) (\d+)", out))
    return {"parse_filter_join_count_per_s": spread(rates), "generator_per_s": spread(gen_rates),
            "windows": int(fields["windows"]), "total": int(fields["total"])}


def bench_ysb_latency(inputs, peak):
    """Paced at half the peak, 100 ms batches. Record seq becomes available at
    start + seq / rate s (the generator's pacing, anchored when the job opens
    its source, a little after `start`: the figures are upper bounds). With
    event-rate = rate its event time is EPOCH + seq / rate s (+-50 ms jitter):
    event time runs with the wall clock, and window [S, E) is complete at
    start + (E - EPOCH) ms. Its output is committed at the emitting batch's
    batch_time_ms + processing_ms. The latency includes the 100 ms watermark
    delay (the jitter needs it: no event is late) and up to one interval of
    waiting for the next batch. The windows are 1 s here, not 10 s, so that a
    run of 10-30 s has 10-30 window ends per campaign to take percentiles of."""
    _, table = inputs
    rate = int(peak / 2)
    seconds = 10 if QUICK else 30
    count = rate * seconds
    epoch = 1700000000000
    d = tempfile.mkdtemp(prefix="ember-bench-lat-")
    job = YSB_JOB.format(interval="100ms", batch=10_000_000, table=table, window="1s",
                         source="generator kind=ads seed=1 count=%d rate=%d event-rate=%d" % (
                             count, rate, rate))
    with open(d + "/b.job", "w") as f:
        f.write(job.replace("@DIR@", d))
    start_ms = time.time() * 1000.0
    # A paced source is idle between batches: run until every record is in,
    # then SIGTERM (the batch running finishes and commits).
    p = subprocess.Popen([EMBER, "run", d + "/b.job"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    deadline = time.time() + seconds * 3 + 30
    while time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
        try:
            if progress(d + "/ckpt")[-1]["offsets"]["0"] >= count:
                break
        except (OSError, IndexError, ValueError, KeyError):
            pass
    p.terminate()
    _, err = p.communicate(timeout=120)
    if p.returncode != 0:
        sys.exit("latency run failed (%d): %s" % (p.returncode, err.decode()[-2000:]))
    commit_at = {b["batch"]: b["batch_time_ms"] + b["processing_ms"]
                 for b in progress(d + "/ckpt")}
    lat = []
    for name in os.listdir(d + "/out"):
        if not name.endswith(".tsv"):
            continue
        batch = int(name.split(".")[0])
        with open(os.path.join(d, "out", name)) as f:
            for line in f.read().splitlines()[1:]:
                end = int(line.split("\t")[2])
                available = start_ms + (end - epoch)
                lat.append(commit_at[batch] - available)
    shutil.rmtree(d, ignore_errors=True)
    lat.sort()
    q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))], 1)
    return {"rate": rate, "seconds": seconds, "windows": len(lat), "p50_ms": q(0.50),
            "p99_ms": q(0.99), "max_ms": round(lat[-1], 1), "batch_interval_ms": 100}


# ---------------------------------------------------------------- state scale

SCALE_JOB = """job bench-scale
batch      interval=1ms max-records=1000000
checkpoint dir=@DIR@/ckpt every=0 cache={cache}
source     file path={input}
parse      csv fields=k,v:int
key        k
aggregate  count() sum(v)
sink       file dir=@DIR@/out
"""


def bench_state_scale(sizes, runs):
    res = {}
    for keys in sizes:
        d = tempfile.mkdtemp(prefix="ember-bench-scale-")
        records = max(keys, 2_000_000)
        with open(d + "/in.csv", "w") as f:
            f.writelines("k%09d,%d\n" % (i % keys, i % 100) for i in range(records))
        cache = "64MB" if keys >= 10_000_000 else "512MB"
        rates, rss, disk = [], [], 0
        for _ in range(runs):
            w = d + "/w"
            shutil.rmtree(w, ignore_errors=True)
            os.makedirs(w)
            with open(w + "/b.job", "w") as f:
                f.write(SCALE_JOB.format(cache=cache, input=d + "/in.csv").replace("@DIR@", w))
            wall, mb, _ = run_measured([EMBER, "run", w + "/b.job", "--until-idle"])
            rates.append(records / wall)
            rss.append(mb)
            disk = sum(os.path.getsize(os.path.join(r, f))
                       for r, _, fs in os.walk(w + "/ckpt/db") for f in fs)
        res["%d" % keys] = {"records": records, "cache": cache, "records_per_s": spread(rates),
                            "peak_rss_mb": spread(rss), "state_bytes_on_disk": disk}
        shutil.rmtree(d, ignore_errors=True)
    return res


# ---------------------------------------------------------------- checkpoint cost

def bench_checkpoint_cost(runs):
    count = 1_000_000 if QUICK else 5_000_000
    res = {}
    for every in (1, 10, 100, 0):
        job = AGG_JOB.format(count=count, batch=100_000).replace(
            "every=0", "every=%d keep=2" % every)
        rates, commit, snap = [], [], []
        for _ in range(runs):
            wall, p = run_job(job)
            rates.append(count / wall)
            commit.append(statistics.median(b["commit_ms"] for b in p))
            snap.append(statistics.mean(b["snapshot_ms"] for b in p))
        res["every_%s" % (every or "never")] = {
            "records_per_s": spread(rates), "commit_ms_per_batch": spread(commit),
            "snapshot_ms_per_batch_mean": spread(snap)}
    never = res["every_never"]["records_per_s"]["median"]
    for k, v in res.items():
        v["throughput_vs_never"] = round(v["records_per_s"]["median"] / never, 3)
    return res


# ---------------------------------------------------------------- others

def bench_recovery():
    env = dict(os.environ, EMBER=EMBER, REPEAT="2" if QUICK else "3")
    if QUICK:
        env["QUICK"] = "1"
    out = sh([sys.executable, os.path.join(ROOT, "bench", "recovery_bench.py")], env=env).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def bench_ysb_kafka(inputs, runs):
    """The YSB pipeline from Kafka to Kafka: `ember broker` with an ads topic
    of 64 partitions, the records produced by `ember gen --to kafka://`, the
    exactly-once kafka sink (one transaction per batch). The embedded broker
    keeps ~5 MB per partition (librdkafka's mock), ~30K ads records: 64
    partitions hold 1M."""
    _, table = inputs
    count = 300_000 if QUICK else 1_000_000
    b = subprocess.Popen([EMBER, "broker", "--topic", "ads:64", "--topic", "out:4"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        addr = b.stdout.readline().strip()
        sh([EMBER, "gen", "ads", "--count", str(count), "--event-rate", str(EVENT_RATE),
            "--to", "kafka://%s/ads" % addr])
        rates = []
        for i in range(runs):
            d = tempfile.mkdtemp(prefix="ember-bench-ysbk-")
            job = YSB_JOB.format(interval="1ms", batch=1_000_000, table=table, window="10s",
                                 source="kafka brokers=%s topic=ads" % addr)
            job = job.replace("job bench-ysb", "job bench-ysb-kafka-%d" % i).replace(
                "sink       file dir=@DIR@/out", "sink       kafka brokers=%s topic=out" % addr)
            with open(d + "/b.job", "w") as f:
                f.write(job.replace("@DIR@", d))
            wall, _, _ = run_measured([EMBER, "run", d + "/b.job", "--until-idle"])
            got = sum(p["records_in"] for p in progress(d + "/ckpt"))
            if got != count:
                sys.exit("ysb kafka: the job read %d records of %d" % (got, count))
            rates.append(count / wall)
            shutil.rmtree(d, ignore_errors=True)
        return {"records": count, "records_per_s": spread(rates)}
    finally:
        b.terminate()
        b.wait(timeout=30)


def bench_parse():
    env = dict(os.environ, EMBER=EMBER)
    if QUICK:
        env["QUICK"] = "1"
    out = sh([sys.executable, os.path.join(ROOT, "bench", "parse_bench.py")], env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_nexmark_gen():
    """bench/nexmark_gen.py: the Nexmark generator alone, into a blackhole
    job, and with the parse every Nexmark query pays."""
    argv = [sys.executable, os.path.join(ROOT, "bench", "nexmark_gen.py"),
            "--events", "2000000" if QUICK else "10000000", "--runs", "2" if QUICK else "3"]
    out = sh(argv, env=dict(os.environ, EMBER=EMBER)).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def bench_nexmark():
    """bench/nexmark_bench.py: every Nexmark query ember runs, beside Flink's
    published events/s per core."""
    argv = [sys.executable, os.path.join(ROOT, "bench", "nexmark_bench.py"),
            "--events", "500000" if QUICK else "2000000", "--runs", "1" if QUICK else "3"]
    out = sh(argv, env=dict(os.environ, EMBER=EMBER)).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_kafka():
    script = os.path.join(ROOT, "bench", "kafka_bench.py")
    if QUICK or not os.path.exists(script) or not shutil.which("kcat"):
        return None
    out = sh([sys.executable, script], env=dict(os.environ, EMBER=EMBER)).stdout
    return {"output": out[-4000:]}


def fmt_rate(x):
    return "%.2fM/s" % (x / 1e6)


def table(res):
    """The markdown rows for bench/README.md."""
    rows = ["| scenario | figure | median [min, max] | ratio |", "| --- | --- | --- | --- |"]
    y, c = res["ysb"], res["ceiling"]
    ceil = c["parse_filter_join_count_per_s"]["median"]
    for name in ("generator_t1", "generator_t2", "file_t1"):
        r = y[name]["records_per_s"]
        rows.append("| YSB %s | records/s | %s [%s, %s] | %.2f of the bare loop |" % (
            name, fmt_rate(r["median"]), fmt_rate(r["min"]), fmt_rate(r["max"]),
            r["median"] / ceil))
    rows.append("| YSB ceiling | bare parse+filter+join+count loop | %s | 1 |" % fmt_rate(ceil))
    rows.append("| YSB ceiling | `ember gen ads` alone | %s | |" % fmt_rate(
        c["generator_per_s"]["median"]))
    lat = res["ysb_latency"]
    rows.append("| YSB latency at %s (half peak), 100 ms batches, 1 s windows | window end -> committed | "
                "p50 %.0f ms, p99 %.0f ms (max %.0f) | p99 = %.1f intervals |" % (
                    fmt_rate(lat["rate"]), lat["p50_ms"], lat["p99_ms"], lat["max_ms"],
                    lat["p99_ms"] / 100.0))
    if res.get("ysb_kafka"):
        r = res["ysb_kafka"]["records_per_s"]
        rows.append("| YSB kafka -> kafka (exactly-once sink), 1 thread | records/s | %s [%s, %s] "
                    "| |" % (fmt_rate(r["median"]), fmt_rate(r["min"]), fmt_rate(r["max"])))
    for keys, v in res["state_scale"].items():
        rows.append("| running count, %s keys (cache %s) | records/s, disk, peak RSS | %s [%s, %s], "
                    "%.0f MB, %.0f MB | |" % (
                        keys, v["cache"], fmt_rate(v["records_per_s"]["median"]),
                        fmt_rate(v["records_per_s"]["min"]), fmt_rate(v["records_per_s"]["max"]),
                        v["state_bytes_on_disk"] / 1e6, v["peak_rss_mb"]["median"]))
    for k, v in res["checkpoint"].items():
        rows.append("| agg100k, snapshots %s | records/s, commit ms/batch | %s, %.1f ms | %.2f of "
                    "never |" % (k.replace("_", " "), fmt_rate(v["records_per_s"]["median"]),
                                 v["commit_ms_per_batch"]["median"], v["throughput_vs_never"]))
    for t in ("agg100k_t1", "agg100k_t2"):
        r = res[t]
        rows.append("| %s | records/s, state keys/s | %s, %.0f keys/s | %s |" % (
            t, fmt_rate(r["records_per_s"]["median"]), r["state_keys_per_s"]["median"],
            "%.2f of db_bench read+write" % res["state_rate_vs_db_bench"]
            if t == "agg100k_t1" and res.get("state_rate_vs_db_bench") else ""))
    if res.get("db_bench"):
        rows.append("| db_bench | fillrandom, readrandom ops/s | %d, %d | |" % (
            res["db_bench"]["fillrandom_ops_per_s"], res["db_bench"]["readrandom_ops_per_s"]))
    for r in res.get("nexmark_gen") or []:
        w = r["events_per_s"]
        rows.append("| nexmark generator, %s%s | events/s, per CPU-second | %s [%s, %s], %s | |" % (
            r["case"], "" if r["case"] == "gen" else " t%d" % r["threads"], fmt_rate(w["median"]),
            fmt_rate(w["min"]), fmt_rate(w["max"]), fmt_rate(r["events_per_cpu_s"]["median"])))
    for r in res.get("recovery") or []:
        w = r["warm"]["first_new_batch_s"]
        rows.append("| recovery, %d keys, 10 batches to replay | s to the first new batch | "
                    "%.2f [%.2f, %.2f] | |" % (r["keys"], w["median"], w["min"], w["max"]))
    for job, r in ((res.get("parse") or {}).get("jobs") or {}).items():
        for fmt in ("csv", "json"):
            rows.append("| parse %s, %s job, %d records of 5 fields | MB/s, records/s | %.1f MB/s, "
                        "%s | %s |" % (fmt, job, res["parse"]["records"],
                                       r[fmt]["mb_per_s"]["median"],
                                       fmt_rate(r[fmt]["records_per_s"]["median"]),
                                       "%.2f of csv (records/s)" % r["json_vs_csv_records"]
                                       if fmt == "json" else ""))
    return "\n".join(rows)


def main():
    commit = sh(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT).stdout.strip()
    res = {"date": datetime.date.today().isoformat(), "commit": commit, "machine": machine(),
           "command": "make bench" + (" QUICK=1" if QUICK else ""),
           "load_before": os.getloadavg()}
    runs = 3 if QUICK else 5
    d = tempfile.mkdtemp(prefix="ember-bench-in-")
    count = 3_000_000 if QUICK else 10_000_000
    inputs = ysb_inputs(d, count)
    steps = [
        ("ceiling", lambda: bench_ceiling(inputs, count, runs)),
        ("ysb", lambda: bench_ysb(inputs, count, runs)),
        ("ysb_latency", lambda: bench_ysb_latency(
            inputs, res["ysb"]["generator_t1"]["records_per_s"]["median"])),
        ("ysb_kafka", lambda: bench_ysb_kafka(inputs, 3)),
        ("db_bench", db_bench),
        ("agg100k_t1", lambda: bench_agg("1")),
        ("agg100k_t2", lambda: bench_agg("2")),
        ("checkpoint", lambda: bench_checkpoint_cost(2 if QUICK else 3)),
        ("state_scale", lambda: bench_state_scale(
            [10_000, 1_000_000] if QUICK else [10_000, 1_000_000, 10_000_000], 2 if QUICK else 3)),
        ("snapshot", bench_snapshot),
        ("recovery", bench_recovery),
        ("parse", bench_parse),
        ("nexmark_gen", bench_nexmark_gen),
        ("nexmark", bench_nexmark),
        ("kafka", bench_kafka),
    ]
    for name, fn in steps:
        t0 = time.time()
        res[name] = fn()
        print("bench: %s done in %.0f s" % (name, time.time() - t0), file=sys.stderr, flush=True)
    shutil.rmtree(d, ignore_errors=True)
    if res["db_bench"]:
        # ember's state step does one read + one write per key: compare with
        # the rate RocksDB alone sustains for one read + one write.
        r = res["db_bench"]
        both = 1 / (1 / r["fillrandom_ops_per_s"] + 1 / r["readrandom_ops_per_s"])
        res["state_rate_vs_db_bench"] = res["agg100k_t1"]["state_keys_per_s"]["median"] / both
    res["load_after"] = os.getloadavg()
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", "%s-%s.json" % (res["date"], commit))
    with open(path, "w") as f:
        json.dump(res, f, indent=2)
    md = table(res)
    print(md)
    print("wrote", path)
    update_readme(res, md)


def update_readme(res, md):
    """Replaces the block between the two markers in bench/README.md."""
    path = os.path.join(ROOT, "bench", "README.md")
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    with open(path) as f:
        text = f.read()
    block = "%s\n`%s` at commit %s, %s; %s; load average %.1f before, %.1f after.\n\n%s\n%s" % (
        begin, res["command"], res["commit"], res["date"], res["machine"], res["load_before"][0],
        res["load_after"][0], md, end)
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n## Latest `make bench`\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
