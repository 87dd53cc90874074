"""ckpt: reads an ember checkpoint directory for the test and bench scripts,
independently of ember's C code (the formats are re-implemented here from
their specifications, so a script that reads a checkpoint through this module
checks ember against its documented formats, not against itself).

  DIR/wal/<20 digits>.wal   WAL segments (checkpoint/wal.c). Each record:
                              u32 payload_len | u8 type | u64 batch |
                              u64 xxh64(type | batch | payload_len | payload,
                                        seed 0x656d626572) | payload
                            all little-endian; a segment has no header.
  PLAN payload              u64 batch_time_ms | u32 n |
                            n x (u32 partition | u64 from | u64 to)
                            (core/source/source.h, plan_encode)
  DIR/progress.jsonl        one JSON object per batch (a SIGKILL can tear the
                            last line)
  DIR/snapshots/<20 digits> complete snapshots (checkpoint/snapshot.h)

Used from tests/integration, tests/chaos and bench/ with

    sys.path.insert(0, <the tests/ directory>)
    import ckpt

`python3 tests/ckpt.py DIR` prints the WAL's records and checks every
checksum; `python3 tests/ckpt.py --selftest` checks xxh64 against the
reference vectors.
"""
import json
import os
import re
import struct
import sys
from collections import namedtuple

WAL_HEADER_BYTES = 21
WAL_SEED = 0x656D626572  # "ember"
PLAN, DATA, DRAIN = 1, 2, 3

Record = namedtuple("Record", "segment offset type batch payload checksum")
Plan = namedtuple("Plan", "time_ms ranges")  # ranges: [(partition, from, to)]

_SEGMENT = re.compile(r"^\d{20}\.wal$")
_SNAPSHOT = re.compile(r"^\d{20}$")

# ------------------------------------------------------------------ xxh64
# From the xxHash specification (doc/xxhash_spec.md, "XXH64 algorithm").

_M = (1 << 64) - 1
_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc, lane):
    return (_rotl((acc + lane * _P2) & _M, 31) * _P1) & _M


def _merge(acc, v):
    return (((acc ^ _round(0, v)) * _P1) + _P4) & _M


def xxh64(data, seed=0):
    """XXH64 of bytes `data` (pure Python: fine for headers and PLANs, slow
    for megabytes)."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed & _M, (seed - _P1) & _M]
        while i + 32 <= n:
            lanes = struct.unpack_from("<4Q", data, i)
            v = [_round(a, b) for a, b in zip(v, lanes)]
            i += 32
        acc = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M
        for x in v:
            acc = _merge(acc, x)
    else:
        acc = (seed + _P5) & _M
    acc = (acc + n) & _M
    while i + 8 <= n:
        acc ^= _round(0, struct.unpack_from("<Q", data, i)[0])
        acc = (_rotl(acc, 27) * _P1 + _P4) & _M
        i += 8
    if i + 4 <= n:
        acc ^= (struct.unpack_from("<I", data, i)[0] * _P1) & _M
        acc = (_rotl(acc, 23) * _P2 + _P3) & _M
        i += 4
    while i < n:
        acc ^= (data[i] * _P5) & _M
        acc = (_rotl(acc, 11) * _P1) & _M
        i += 1
    acc ^= acc >> 33
    acc = (acc * _P2) & _M
    acc ^= acc >> 29
    acc = (acc * _P3) & _M
    return acc ^ (acc >> 32)


def wal_checksum(typ, batch, payload):
    return xxh64(struct.pack("<BQI", typ, batch, len(payload)) + payload, WAL_SEED)


# ------------------------------------------------------------------ WAL

def wal_segments(ckpt):
    """Segment file names of DIR/wal in batch order (FileNotFoundError
    without a WAL: a test reading the plans of a job that has none is
    wrong)."""
    names = os.listdir(os.path.join(ckpt, "wal"))
    return sorted(n for n in names if _SEGMENT.match(n))


def wal_records(ckpt, verify=False):
    """Every whole record of every segment, in order. A segment's scan stops
    at a record cut short (a torn tail); with verify=True also at the first
    record whose checksum does not match, as ember's own scan does."""
    for seg in wal_segments(ckpt):
        with open(os.path.join(ckpt, "wal", seg), "rb") as f:
            data = f.read()
        i = 0
        while i + WAL_HEADER_BYTES <= len(data):
            n, typ, batch, checksum = struct.unpack_from("<IBQQ", data, i)
            payload = data[i + WAL_HEADER_BYTES:i + WAL_HEADER_BYTES + n]
            if len(payload) < n:
                break
            if verify and wal_checksum(typ, batch, payload) != checksum:
                break
            yield Record(seg, i, typ, batch, payload, checksum)
            i += WAL_HEADER_BYTES + n


def plan_decode(payload):
    """A PLAN payload as Plan(time_ms, [(partition, from, to)]); ValueError
    when its length does not match its range count."""
    if len(payload) < 12:
        raise ValueError("PLAN of %d bytes is too short" % len(payload))
    time_ms, count = struct.unpack_from("<QI", payload, 0)
    if len(payload) != 12 + 20 * count:
        raise ValueError("PLAN says %d ranges but holds %d bytes" % (count, len(payload)))
    return Plan(time_ms, [struct.unpack_from("<IQQ", payload, 12 + 20 * k) for k in range(count)])


def wal_plans(ckpt, verify=False):
    """{batch: Plan(time_ms, ranges)} from the WAL's PLAN records (a batch
    planned again after a crash keeps its last PLAN)."""
    return {r.batch: plan_decode(r.payload) for r in wal_records(ckpt, verify) if r.type == PLAN}


def wal_ranges(ckpt, verify=False):
    """{batch: [(partition, from, to)]}: wal_plans without the batch times."""
    return {b: p.ranges for b, p in wal_plans(ckpt, verify).items()}


# ------------------------------------------------------------------ checkpoint

def progress(ckpt):
    """The objects of DIR/progress.jsonl, in order; a torn line (SIGKILL in
    the middle of writing it) is left out."""
    out = []
    try:
        f = open(os.path.join(ckpt, "progress.jsonl"))
    except FileNotFoundError:
        return out
    with f:
        for line in f:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def snapshots(ckpt):
    """Batch numbers of the complete snapshots, ascending (in-progress .tmp-
    and half-deleted .del- directories are not snapshots)."""
    try:
        names = os.listdir(os.path.join(ckpt, "snapshots"))
    except FileNotFoundError:
        return []
    return sorted(int(n) for n in names if _SNAPSHOT.match(n))


def snapshot_dir(ckpt, batch):
    return os.path.join(ckpt, "snapshots", "%020d" % batch)


# ------------------------------------------------------------------ command line

_VECTORS = [  # (input, seed, XXH64) from the reference implementation's tests
    (b"", 0, 0xEF46DB3751D8E999),
    (b"a", 0, 0xD24EC4F1A98C6E5B),
    (b"abc", 0, 0x44BC2CF5AD770999),
    (b"message digest", 0, 0x066ED728FCEEB3BE),
    (b"abcdefghijklmnopqrstuvwxyz", 0, 0xCFE1F278FA89835C),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 0, 0xAAA46907D3047814),
    (b"12345678901234567890123456789012345678901234567890123456789012345678901234567890", 0,
     0xE04A477F19EE145D),
]


def selftest():
    bad = [(d, s, w, xxh64(d, s)) for d, s, w in _VECTORS if xxh64(d, s) != w]
    for d, s, w, g in bad:
        print("xxh64(%r, %d) = %016x, expected %016x" % (d, s, g, w))
    return not bad


def _main(argv):
    if argv == ["--selftest"]:
        ok = selftest()
        print("xxh64: %s" % ("ok" if ok else "FAILED"))
        return 0 if ok else 1
    if len(argv) != 1:
        print("usage: ckpt.py CHECKPOINT_DIR | --selftest", file=sys.stderr)
        return 2
    bad = 0
    names = {PLAN: "PLAN", DATA: "DATA", DRAIN: "DRAIN"}
    for r in wal_records(argv[0]):
        ok = wal_checksum(r.type, r.batch, r.payload) == r.checksum
        bad += not ok
        what = ""
        if r.type == PLAN:
            p = plan_decode(r.payload)
            what = "time %d ranges %s" % (p.time_ms, p.ranges)
        print("%s@%d batch %d %s %d bytes %s%s" % (r.segment, r.offset, r.batch,
                                                   names.get(r.type, r.type), len(r.payload),
                                                   what, "" if ok else " CHECKSUM MISMATCH"))
    print("snapshots %s, %d progress lines, %d bad checksums" % (
        snapshots(argv[0]), len(progress(argv[0])), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
