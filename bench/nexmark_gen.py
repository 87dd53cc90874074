#!/usr/bin/env python3
"""The Nexmark generator's speed: events per second (wall and per CPU second)
of

  gen        `ember gen nexmark --count N --to file:/dev/null`
  job_raw    `source generator kind=nexmark` -> `sink blackhole` (the lines
             as they come, exactly-once commit every batch)
  job_parse  the same with `parse csv` of the 24 columns and `filter
             event_type = 2`: the floor every Nexmark query's job pays

with 1 and 2 worker threads for the jobs; the median of RUNS runs with the
spread. Prints one JSON object per figure and a markdown table.

    python3 bench/nexmark_gen.py [--events N] [--runs R]    (EMBER=build/ember)
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMBER = os.environ.get("EMBER", os.path.join(ROOT, "build", "ember"))
sys.path.insert(0, os.path.join(ROOT, "tests", "nexmark"))
import oracle  # noqa: E402  (only for the column list)



def parse_spec():
    ints = {"date_time", "person_id", "auction_id", "auction_initial_bid", "auction_reserve",
            "auction_expires", "auction_seller", "auction_category", "bid_auction", "bid_bidder",
            "bid_price"}
    return ",".join(c + (":int" if c in ints or c == "event_type" else "")
                    for c in oracle.COLUMNS)


def timed(argv):
    """(wall seconds, CPU seconds of the child: user + system)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), p.returncode, err[-2000:]))
    return wall, ru.ru_utime + ru.ru_stime


def job_text(d, n, parse):
    steps = ("parse      csv fields=%s\nfilter     event_type = 2\n" % parse_spec()) if parse else ""
    return ("job        nexmark-gen-bench\nbatch      interval=1ms max-records=1000000\n"
            "checkpoint dir=%s/ckpt every=0\nsource     generator kind=nexmark seed=1 count=%d\n"
            "%ssink       blackhole\n" % (d, n, steps))


def one_run(case, n, threads):
    d = tempfile.mkdtemp(prefix="ember-nexmark-bench-")
    try:
        if case == "gen":
            return timed([EMBER, "gen", "nexmark", "--count", str(n), "--to", "file:/dev/null"])
        with open(d + "/b.job", "w") as f:
            f.write(job_text(d, n, case == "job_parse"))
        return timed([EMBER, "run", d + "/b.job", "--until-idle", "--threads", str(threads)])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def measure(case, n, threads, runs):
    walls, cpus = [], []
    for _ in range(runs):
        w, c = one_run(case, n, threads)
        walls.append(n / w)
        cpus.append(n / c)
    return {"case": case, "threads": threads, "events": n,
            "events_per_s": {"median": statistics.median(walls), "min": min(walls),
                             "max": max(walls)},
            "events_per_cpu_s": {"median": statistics.median(cpus), "min": min(cpus),
                                 "max": max(cpus)}}


def bytes_per_event(n=100000):
    out = subprocess.run([EMBER, "gen", "nexmark", "--count", str(n)], capture_output=True,
                         check=True).stdout
    return len(out) / n


def table(results, size):
    rows = ["| case | threads | events/s (wall) median [min, max] | events per CPU-second | MB/s |",
            "| --- | --- | --- | --- | --- |"]
    for r in results:
        w, c = r["events_per_s"], r["events_per_cpu_s"]
        rows.append("| %s | %s | %.2fM [%.2fM, %.2fM] | %.2fM | %.0f |" % (
            r["case"], r["threads"] if r["case"] != "gen" else "-", w["median"] / 1e6,
            w["min"] / 1e6, w["max"] / 1e6, c["median"] / 1e6, w["median"] * size / 1e6))
    return "\n".join(rows)


def main(argv):
    n, runs = 10_000_000, 3
    if "--events" in argv:
        n = int(argv[argv.index("--events") + 1])
    if "--runs" in argv:
        runs = int(argv[argv.index("--runs") + 1])
    results = [measure("gen", n, 1, runs)]
    for case in ("job_raw", "job_parse"):
        for threads in (1, 2):
            results.append(measure(case, n, threads, runs))
    size = bytes_per_event()
    for r in results:
        r["bytes_per_event"] = size
        print(json.dumps(r))
    print(table(results, size))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
