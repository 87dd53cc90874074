#!/usr/bin/env python3
"""Compares an ember job's output (a file sink's batch files, in the default
format: a header line, then tab-separated values) with the
oracle's result of the same query over the same events.

    python3 tests/nexmark/compare.py qN EVENTS.csv OUT_DIR [--as EMBER=CANON ...]
                                     [--latest N] [--truncate COL ...] [--half-open]

The columns are taken by name: the oracle's (oracle.HEADERS[qN]) from the
batch files' header, `--as window_start=starttime` naming an ember column
after the oracle's. `--latest N`: the output of a running aggregate (each
batch writes the changed keys' new rows), the last row of each key, the key
being the first N canonical columns. `--truncate COL`: an ember float
average truncated to Flink's BIGINT. `--half-open` (q11): sessions as ember
cuts them, split where two bids are exactly the gap apart (Flink merges
them). Exit 0 when the rows are equal, 1 with a summary of the difference, 2
on bad usage.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402


def batch_rows(out_dir):
    """(header, rows) of the batch files of a file sink, in batch order."""
    header, rows = None, []
    for name in sorted(os.listdir(out_dir)):
        if not name.endswith(".tsv") or ".tmp" in name:
            continue
        with open(os.path.join(out_dir, name)) as f:
            lines = f.read().split("\n")[:-1]
        header = lines[0].split("\t")
        rows.extend(l.split("\t") for l in lines[1:])
    return header, rows


def canonical(query, header, rows, rename=None, latest=0, truncate=()):
    """ember's rows as the oracle's canonical lines."""
    names = [(rename or {}).get(h, h) for h in header]
    want = oracle.HEADERS[query]
    missing = [c for c in want if c not in names]
    if missing:
        raise ValueError("%s: the output has no column %s (it has %s)" % (
            query, ", ".join(missing), ", ".join(names)))
    idx = [names.index(c) for c in want]
    cut = {want.index(c) for c in truncate}
    picked = []
    for r in rows:
        v = [r[i] for i in idx]
        for i in cut:
            v[i] = str(int(float(v[i]))) if v[i] else v[i]
        picked.append(v)
    if latest:
        last = {}
        for v in picked:
            last[tuple(v[:latest])] = v
        picked = list(last.values())
    return sorted(",".join(v) for v in picked)


def diff(got, want, limit=3):
    """'' when equal, else a one-paragraph summary."""
    if got == want:
        return ""
    g, w = set(got), set(want)
    return "%d rows, oracle %d; missing %s; extra %s" % (
        len(got), len(want), sorted(w - g)[:limit], sorted(g - w)[:limit])


def parse_args(argv):
    if len(argv) < 4 or argv[1] not in oracle.QUERIES:
        return None
    opts = {"rename": {}, "latest": 0, "truncate": [], "half_open": "--half-open" in argv}
    rest = [a for a in argv[4:] if a != "--half-open"]
    while rest:
        flag, value, rest = rest[0], rest[1] if len(rest) > 1 else None, rest[2:]
        if value is None:
            return None
        if flag == "--as" and "=" in value:
            k, v = value.split("=", 1)
            opts["rename"][k] = v
        elif flag == "--latest" and value.isdigit():
            opts["latest"] = int(value)
        elif flag == "--truncate":
            opts["truncate"].append(value)
        else:
            return None
    return opts


def main(argv):
    opts = parse_args(argv)
    if opts is None:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    query, events, out_dir = argv[1:4]
    header, rows = batch_rows(out_dir) if os.path.isdir(out_dir) else (None, [])
    if header is None:
        print("%s: no batch files in %s" % (query, out_dir), file=sys.stderr)
        return 1
    half_open = opts.pop("half_open")
    got = canonical(query, header, rows, **opts)
    ev = oracle.read_events(events)
    if half_open and query == "q11":
        want = oracle.render(oracle.q11(ev, touching=False))
    else:
        want = oracle.run(query, ev)
    d = diff(got, want)
    print("%s: %s" % (query, d or "%d rows equal to the oracle's" % len(got)))
    return 1 if d else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
