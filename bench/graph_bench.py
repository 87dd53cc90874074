#!/usr/bin/env python3
"""YSB written as a graph beside the linear YSB job (issue 14's target: the
graph at least 0.9 of the linear job's records/s).

The graph adds a branch sink of the raw views (`sink blackhole` after the
select) and so runs two nodes: the first parses, filters and selects, hands
its rows to the blackhole sink and to the second, which joins, keys, windows
and counts. Runs alternate (linear, graph, linear, ...) over the same CSV
file; each is timed by wall clock and by CPU seconds (user + sys, from
wait4), and the ratio is the median of the per-pair ratios, so load from
other work on the machine falls on both sides alike.

    python3 bench/graph_bench.py [--records N] [--pairs K]    (build/ember)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import EMBER, ysb_inputs  # noqa: E402  the same input as bench.py's YSB

LINEAR = """job ysb
batch      interval=1ms max-records=1000000
checkpoint dir=@DIR@/ckpt every=0
source     file path=@ADS@
parse      csv fields=user_id,page_id,ad_id,ad_type,event_type,event_time:int,ip
filter     event_type == "view"
select     ad_id, event_time
join       table path=@TABLE@ key=ad_id fields=campaign_id
key        campaign_id
window     tumbling 10s on event_time watermark 100ms
aggregate  count()
sink       file dir=@DIR@/out
"""
GRAPH = LINEAR.replace("select     ad_id, event_time\n",
                       "select     ad_id, event_time\nsink       blackhole\n")


def run(text, ads, table):
    d = tempfile.mkdtemp(prefix="ember-graph-bench-")
    with open(d + "/j.job", "w") as f:
        f.write(text.replace("@DIR@", d).replace("@ADS@", ads).replace("@TABLE@", table))
    t0 = time.monotonic()
    p = subprocess.Popen([EMBER, "run", d + "/j.job", "--until-idle"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit("ember run failed (%d) in %s" % (status, d))
    subprocess.run(["rm", "-rf", d])
    return wall, ru.ru_utime + ru.ru_stime


def main():
    n = int(sys.argv[sys.argv.index("--records") + 1]) if "--records" in sys.argv else 2_000_000
    pairs = int(sys.argv[sys.argv.index("--pairs") + 1]) if "--pairs" in sys.argv else 7
    d = tempfile.mkdtemp(prefix="ember-graph-bench-in-")
    ads, table = ysb_inputs(d, n)
    res = {"linear": [], "graph": []}
    for _ in range(pairs):
        for name, text in (("linear", LINEAR), ("graph", GRAPH)):
            res[name].append(run(text, ads, table))
    for name in res:
        walls = [n / w for w, _ in res[name]]
        cpus = [n / c for _, c in res[name]]
        print("%-7s records/s median %.0f (%.0f..%.0f), per CPU s median %.0f" % (
            name, statistics.median(walls), min(walls), max(walls), statistics.median(cpus)))
    wall_ratio = statistics.median(l[0] / g[0] for l, g in zip(res["linear"], res["graph"]))
    cpu_ratio = statistics.median(l[1] / g[1] for l, g in zip(res["linear"], res["graph"]))
    print("graph / linear: %.3f by wall clock, %.3f by CPU seconds (%d pairs, %d records)" % (
        wall_ratio, cpu_ratio, pairs, n))
    subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    main()
