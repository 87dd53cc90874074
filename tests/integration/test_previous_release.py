"""Checkpoints made by the previous release keep working.

tests/fixtures/ckpt-0.3/ holds three checkpoint directories that the ember
of the commit named in its README made (make_fixtures.py there): a keyed
running aggregate, an event-time tumbling window with a watermark, and a
dedupe before a keyed aggregate, each after 3 batches over part of its
input. Each test copies one, appends more input, runs this build's ember on
the copy, and checks that it recovers (resumes after batch 3, no refusal of
the layout or the job spec) and that the final state and output equal an
oracle computed here over the whole input file: every record exactly once.
"""
import json
import os
import shutil
import subprocess
import sys

from harness import EMBER, ROOT, check, main, tmpdir, batch_files

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "ckpt-0.3")
sys.path.insert(0, FIXTURES)
import make_fixtures  # noqa: E402 (the fixtures' own input generator)

BIN = os.path.abspath(EMBER)


def run(d, *args):
    p = subprocess.run([BIN, *args], cwd=d, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def resume(name, extra_args=()):
    """A copy of fixture `name` with 300 more input lines, run to the end of
    its input; returns (copy dir, whole input lines)."""
    d = os.path.join(tmpdir("prev-" + name), name)
    shutil.copytree(os.path.join(FIXTURES, name), d)
    with open(os.path.join(d, "input.csv"), "a") as f:
        f.write(make_fixtures.lines(name, 300, seed=99, start=500))
    rc, _, err = run(d, "run", name + ".job", "--until-idle", *extra_args)
    check(rc == 0, "%s: exit %d:\n%s" % (name, rc, err[-3000:]))
    low = err.lower()
    check("layout" not in low and "spec" not in low and "refus" not in low,
          "%s: a layout or spec complaint:\n%s" % (name, err[-3000:]))
    check("committed batch 3 found" in err, "%s: did not recover:\n%s" % (name, err[-2000:]))
    with open(os.path.join(d, "input.csv")) as f:
        rows = [l.split(",") for l in f.read().splitlines()]
    check(len(rows) == 800, "%s: %d input lines" % (name, len(rows)))
    return d, rows


def state(d, op="aggregate"):
    rc, out, err = run(d, "state", "ckpt", "--op", op, "--format", "json")
    check(rc == 0, "ember state: exit %d: %s" % (rc, err[-1000:]))
    return json.loads(out)


def newest_rows(d, n_key):
    """The newest output row of every key across the batch files (old and new)."""
    latest = {}
    for _, header, rows in batch_files(os.path.join(d, "out")):
        for r in rows:
            latest[tuple(r[:n_key])] = dict(zip(header, r))
    return latest


def running_oracle(rows, value_of):
    out = {}
    for user, v in rows:
        c, s, m = out.get(user, (0, 0, None))
        v = value_of(v)
        out[user] = (c + 1, s + v, v if m is None else max(m, v))
    return out


def test_running_aggregate_resumes():
    d, rows = resume("running")
    want = running_oracle(rows, int)
    got = {r["user"]: (r["count"], r["sum_v"], r["max_v"]) for r in state(d)}
    check(got == want, "state %r, wanted %r" % (got, want))
    out = {k[0]: (int(r["count"]), int(r["sum_v"]), int(r["max_v"]))
           for k, r in newest_rows(d, 1).items()}
    check(out == want, "output %r, wanted %r" % (out, want))


def test_windowed_job_resumes():
    d, rows = resume("windowed", ["--drain"])
    want = {}
    for sensor, ts, v in rows:
        start = int(ts) // 10000 * 10000
        c, s, m = want.get((sensor, start), (0, 0, None))
        v = int(v)
        want[(sensor, start)] = (c + 1, s + v, v if m is None else min(m, v))
    got = {}
    for b, header, out in batch_files(os.path.join(d, "out")):
        check(header == ["sensor", "window_start", "window_end", "count", "sum_v", "min_v"],
              "header %r" % header)
        for r in out:
            k = (r[0], int(r[1]))
            check(k not in got, "window %r emitted twice (batch %d)" % (k, b))
            check(int(r[2]) == k[1] + 10000, "window end %r" % r)
            got[k] = (int(r[3]), int(r[4]), int(r[5]))
    check(got == want, "%d windows emitted, wanted %d; differences %r" % (
        len(got), len(want), sorted(set(got.items()) ^ set(want.items()))[:6]))


def test_dedupe_job_resumes():
    d, rows = resume("dedupe")
    seen, first = set(), []
    for i, user, v in rows:
        if i not in seen:
            seen.add(i)
            first.append((user, v))
    want = {u: (c, s) for u, (c, s, _) in running_oracle(first, int).items()}
    got = {r["user"]: (r["count"], r["sum_v"]) for r in state(d)}
    check(got == want, "state %r, wanted %r" % (got, want))
    check(len(state(d, "dedupe")) == len(seen), "dedupe state does not hold every id")
    out = {k[0]: (int(r["count"]), int(r["sum_v"])) for k, r in newest_rows(d, 1).items()}
    check(out == want, "output %r, wanted %r" % (out, want))


if __name__ == "__main__":
    main([test_running_aggregate_resumes, test_windowed_job_resumes, test_dedupe_job_resumes])
