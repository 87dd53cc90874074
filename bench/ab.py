#!/usr/bin/env python3
"""A/B: the same jobs with two ember binaries, runs interleaved (A B A B ...)
so load on a shared machine hits both alike. Reports records/s of wall time
and of CPU time (user+sys: less sensitive to other processes) per binary,
and B/A ratios. Used for before/after tables of a change:

    python3 bench/ab.py OLD_EMBER NEW_EMBER [--runs N] [--records N]
"""
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (YSB_JOB, AGG_JOB, ysb_inputs, run_measured)


def job_dir(text):
    d = tempfile.mkdtemp(prefix="ember-ab-")
    with open(d + "/b.job", "w") as f:
        f.write(text.replace("@DIR@", d))
    return d


def cases(inputs, count):
    ads, table = inputs
    ysb = bench.YSB_JOB.format(interval="1ms", batch=1_000_000, source="file path=" + ads,
                               table=table, window="10s")
    agg = bench.AGG_JOB.format(batch=1_000_000, count=count)
    return [("YSB from the file, 1 thread", ysb), ("agg, 100K-card transactions", agg)]


def main():
    argv, args = sys.argv[1:], []
    while argv:
        a = argv.pop(0)
        if a.startswith("--"):
            argv.pop(0)  # its value
        else:
            args.append(a)
    if len(args) != 2:
        sys.exit(__doc__)
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
    count = int(sys.argv[sys.argv.index("--records") + 1]) if "--records" in sys.argv else 2_000_000
    binaries = [os.path.abspath(a) for a in args]
    bench.EMBER = binaries[1]
    tmp = tempfile.mkdtemp(prefix="ember-ab-in-")
    inputs = bench.ysb_inputs(tmp, count)
    print("| scenario | binary | records/s (wall), median [min, max] | records per CPU s, median |")
    print("| --- | --- | --- | --- |")
    for name, text in cases(inputs, count):
        wall = {b: [] for b in binaries}
        cpu = {b: [] for b in binaries}
        for _ in range(runs):
            for b in binaries:
                d = job_dir(text)
                w, _, _, c = bench.run_measured([b, "run", d + "/b.job", "--until-idle"], cpu=True)
                wall[b].append(count / w)
                cpu[b].append(count / c)
                shutil.rmtree(d, ignore_errors=True)
        for i, b in enumerate(binaries):
            print("| %s | %s | %.2fM/s [%.2f, %.2f] | %.2fM |" % (
                name, "A (before)" if i == 0 else "B (after)", statistics.median(wall[b]) / 1e6,
                min(wall[b]) / 1e6, max(wall[b]) / 1e6, statistics.median(cpu[b]) / 1e6))
        ra = statistics.median(wall[binaries[1]]) / statistics.median(wall[binaries[0]])
        rc = statistics.median(cpu[binaries[1]]) / statistics.median(cpu[binaries[0]])
        print("| %s | B/A | %.2f (wall) | %.2f (CPU) |" % (name, ra, rc))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
