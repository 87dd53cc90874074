#!/usr/bin/env python3
"""The layer rule: a file may include headers of its own layer or of a lower
one, never of a higher one, and never of a sibling on the same rank.

    rank  layer            what lives there
    0     core/fault       failpoints, the power-loss simulator
    1     core/base        errors, log, I/O, arena, endian, options, text buffers
    2     core/ops         record-level operations: schema, CSV, expressions,
                           windows, aggregate functions, value text, generators
    3     core/kafka       the Kafka client and the embedded broker
    4     core/source      source plugins and their registry
    4     core/sink        sink plugins and their registry
    5     core/job         the job spec, the job-file loader, the plugin tables
    6     state            keyed state over RocksDB
    7     checkpoint       WAL, commit record, snapshots, the checkpoint dir
    8     recovery         the restart protocol (returns data, never calls up)
    9     core/engine      the batch cycle, transform workers, reporting
    10    ui               the status page, its HTTP server and JSON API
    11    tools            the ember CLI

include/ember.h is the public API: anyone may include it.
Exit 1 and one line per violation; run by `make lint` and `make test`.
"""
import os
import re
import sys

LAYERS = [
    ("core/fault", 0), ("core/base", 1), ("core/ops", 2), ("core/kafka", 3),
    ("core/source", 4), ("core/sink", 4), ("core/job", 5), ("state", 6),
    ("checkpoint", 7), ("recovery", 8), ("core/engine", 9), ("ui", 10), ("tools", 11),
]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path):
    for folder, rank in LAYERS:
        if path.startswith(folder + "/"):
            return folder, rank
    return None, None


def violations(root):
    found = []
    for folder, rank in LAYERS:
        top = os.path.join(root, folder)
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                text = open(os.path.join(root, path), errors="replace").read()
                for m in INCLUDE.finditer(text):
                    inc = m.group(1)
                    if inc == "ember.h":
                        continue
                    other, other_rank = layer_of(inc)
                    if other is None:
                        found.append(f"{path}: includes {inc}, which belongs to no layer")
                    elif other_rank > rank or (other_rank == rank and other != folder):
                        line = text.count("\n", 0, m.start()) + 1
                        found.append(f"{path}:{line}: {folder} (layer {rank}) includes "
                                     f"{inc} ({other}, layer {other_rank})")
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad = violations(root)
    for v in bad:
        print(v)
    print(f"layers: {len(bad)} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
