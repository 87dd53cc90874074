"""Shared helpers for integration and chaos tests: run ember, read its output,
compute oracles in plain Python (independent of ember's code)."""
import csv
import json
import os
import subprocess
import sys
import time
import tempfile

EMBER = os.environ.get("EMBER", "build/ember")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def ember(*args, env=None, timeout=300, check_rc=None, stdin=None):
    """Runs ember; returns (rc, stdout, stderr)."""
    e = dict(os.environ)
    e.pop("EMBER_FAILPOINTS", None)
    if env:
        e.update(env)
    p = subprocess.run([EMBER, *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env=e, input=stdin)
    if check_rc is not None and p.returncode != check_rc:
        raise Failure("ember %s: exit %d (wanted %d)\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(map(str, args)), p.returncode, check_rc, p.stdout[-3000:], p.stderr[-3000:]))
    return p.returncode, p.stdout, p.stderr


def tmpdir(prefix):
    return tempfile.mkdtemp(prefix="ember-" + prefix + "-")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def gen_file(kind, count, seed, path):
    ember("gen", kind, "--count", count, "--seed", seed, "--to", "file:" + path, check_rc=0)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def sensor_stats(rows, key=lambda r: r[0], keep=lambda r: True, value=lambda r: float(r[2])):
    """count, sum, min, max per key over CSV rows: the oracle."""
    out = {}
    for r in rows:
        if not keep(r):
            continue
        k = key(r)
        v = value(r)
        c, s, lo, hi = out.get(k, (0, 0.0, v, v))
        out[k] = (c + 1, s + v, min(lo, v), max(hi, v))
    return out


def batch_files(out_dir):
    """Batch files of a file sink, in batch order: list of (batch, header, rows)."""
    res = []
    for name in sorted(os.listdir(out_dir)):
        if not name.endswith(".tsv") or ".tmp" in name:
            continue
        with open(os.path.join(out_dir, name)) as f:
            lines = f.read().split("\n")
        check(lines[-1] == "", "%s does not end with a newline" % name)
        header = lines[0].split("\t")
        rows = [l.split("\t") for l in lines[1:-1]]
        res.append((int(name.split(".")[0]), header, rows))
    return res


def latest_rows(out_dir):
    """Newest value of every key across the batch files (key = first column)."""
    latest = {}
    header = None
    for _, h, rows in batch_files(out_dir):
        header = h
        for r in rows:
            latest[r[0]] = r
    return header, latest


def state_json(ckpt, op="aggregate", *extra):
    _, out, _ = ember("state", ckpt, "--op", op, "--format", "json", *extra, check_rc=0)
    return json.loads(out)


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def main(tests):
    failed = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
            print("  ok   %s (%.0f s)" % (t.__name__, time.monotonic() - t0))
        except Exception as ex:  # report every failure, keep going
            failed += 1
            print("  FAIL %s: %s (%.0f s)" % (t.__name__, ex, time.monotonic() - t0))
    print("%d/%d passed" % (len(tests) - failed, len(tests)))
    sys.exit(1 if failed else 0)
