#!/usr/bin/env python3
"""The cost of the status page: YSB from the CSV file (bench.py's job, 100K-
record batches so that the page's per-batch publication happens often) with
and without `--ui 127.0.0.1:0`, where the run with it has a client polling
/api/v1/status, /api/v1/batches?n=100 and /metrics every 100 ms. Runs are
interleaved (without, with, without, ...) so a shared machine's load hits
both alike; reports records/s of wall time and of ember's CPU time and the
with/without ratios.

    python3 bench/ui_bench.py [EMBER] [--runs N] [--records N]
    python3 bench/ui_bench.py [EMBER] --callgrind [--records N]

--callgrind runs each once under valgrind's callgrind instead (instruction
counts per thread: exact where a shared machine makes wall time noisy) and
reports the batch thread's instructions with and without the page and the
server thread's instructions per answered request.
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (YSB_JOB, ysb_inputs)

ROUTES = ["/api/v1/status", "/api/v1/batches?n=100", "/metrics"]


def poll(port, stop, counts, p):
    """Every 100 ms, each route once; counts the answers and the failures
    while the job runs (not the refusals once it has exited)."""
    while not stop.is_set():
        for r in ROUTES:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, r), timeout=2) as f:
                    f.read()
                    counts[0] += 1
            except OSError:
                counts[1] += p.poll() is None
        stop.wait(0.1)


def run(ember, job, ui, prefix=()):
    """(wall s, CPU s of ember, answers, failures)."""
    argv = [*prefix, ember, "run", job, "--until-idle"] + (["--ui", "127.0.0.1:0"] if ui else [])
    t0 = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop, counts, poller = threading.Event(), [0, 0], None
    for line in p.stderr:
        m = re.match(r"^ui: http://127\.0\.0\.1:(\d+)/$", line.strip())
        if m:
            poller = threading.Thread(target=poll, args=(int(m.group(1)), stop, counts, p))
            poller.start()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.time() - t0
    stop.set()
    if poller:
        poller.join()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("%s failed" % " ".join(argv))
    return wall, usage.ru_utime + usage.ru_stime, counts[0], counts[1]


def thread_instructions(out_dir):
    """{"main": Ir, "server": Ir} from callgrind's per-thread files."""
    res = {"main": 0, "server": 0}
    for name in os.listdir(out_dir):
        text = open(os.path.join(out_dir, name)).read()
        m = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        ir = int(m.group(1)) if m else 0
        if name.endswith("-01"):
            res["main"] = ir
        elif "MHD_" in text:
            res["server"] += ir
    return res


def callgrind(ember, text, tmp):
    res = {}
    for ui in (False, True):
        d = tempfile.mkdtemp(prefix="run-", dir=tmp)
        with open(d + "/b.job", "w") as f:
            f.write(text.replace("@DIR@", d))
        os.mkdir(d + "/cg")
        prefix = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                  "--callgrind-out-file=%s/cg/cg.%%p" % d]
        _, _, answers, _ = run(ember, d + "/b.job", ui, prefix)
        res[ui] = (thread_instructions(d + "/cg"), answers)
    a, b = res[False][0], res[True][0]
    print("| run | batch thread instructions | server thread instructions | answers |")
    print("| --- | --- | --- | --- |")
    print("| without | %d | - | - |" % a["main"])
    print("| with --ui, polled | %d | %d | %d |" % (b["main"], b["server"], res[True][1]))
    print("| with/without | %.4f | %d per answer | |" % (
        b["main"] / a["main"], b["server"] // max(1, res[True][1])))


def main():
    args = sys.argv[1:]
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 7
    count = int(args[args.index("--records") + 1]) if "--records" in args else 4_000_000
    pos = [a for i, a in enumerate(args) if not a.startswith("--") and
           (i == 0 or args[i - 1] not in ("--runs", "--records"))]
    ember = os.path.abspath(pos[0] if pos else "build/ember")
    bench.EMBER = ember
    tmp = tempfile.mkdtemp(prefix="ember-uibench-")
    ads, table = bench.ysb_inputs(tmp, count)
    text = bench.YSB_JOB.format(interval="1ms", batch=100_000, source="file path=" + ads,
                                table=table, window="10s")
    if "--callgrind" in args:
        callgrind(ember, text, tmp)
        subprocess.run(["rm", "-rf", tmp])
        return
    res = {False: [], True: []}
    for i in range(runs):
        for ui in (False, True):
            d = tempfile.mkdtemp(prefix="run-", dir=tmp)
            with open(d + "/b.job", "w") as f:
                f.write(text.replace("@DIR@", d))
            res[ui].append(run(ember, d + "/b.job", ui))
            subprocess.run(["rm", "-rf", d])
    subprocess.run(["rm", "-rf", tmp])
    med = lambda xs: statistics.median(xs)
    print("| run | records/s (wall), median [min, max] | records per CPU s, median | answers/run |")
    print("| --- | --- | --- | --- |")
    for ui in (False, True):
        wall = [count / r[0] for r in res[ui]]
        cpu = [count / r[1] for r in res[ui]]
        answers = med([r[2] for r in res[ui]])
        fails = sum(r[3] for r in res[ui])
        print("| %s | %.2fM/s [%.2f, %.2f] | %.2fM | %d (%d failed) |" % (
            "with --ui, polled" if ui else "without", med(wall) / 1e6, min(wall) / 1e6,
            max(wall) / 1e6, med(cpu) / 1e6, answers, fails))
    ratio_wall = med([count / r[0] for r in res[True]]) / med([count / r[0] for r in res[False]])
    ratio_cpu = med([count / r[1] for r in res[True]]) / med([count / r[1] for r in res[False]])
    pairs = [a[0] / b[0] for a, b in zip(res[False], res[True])]
    print("| with/without | %.3f (wall), pairs %.3f [%.3f, %.3f] | %.3f (CPU) | |" % (
        ratio_wall, med(pairs), min(pairs), max(pairs), ratio_cpu))


if __name__ == "__main__":
    main()
