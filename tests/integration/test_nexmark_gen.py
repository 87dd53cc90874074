"""`generator kind=nexmark` and `ember gen nexmark` against the spec of the
nexmark/nexmark project's generator (GeneratorConfig, PersonGenerator,
AuctionGenerator, BidGenerator with their defaults), re-derived here in
Python from the event number alone: the kind of each event, the ids, the
hot sellers, auctions and bidders, the value ranges, the times; then
determinism and replay (same bytes from two runs, from a job's batches, and
from a job that crashed and replayed a batch in the middle)."""
import collections
import math
import os
import re

from harness import batch_files, check, ember, main, tmpdir, write

N = 100000
EPOCH = 1700000000000
FIELDS = 24
TOTAL, PERSON, AUCTION = 50, 1, 3  # proportions 1 : 3 : 46
FIRST_NAMES = {"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah",
               "Deiter", "Walter"}
LAST_NAMES = {"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones",
              "Noris"}
CITIES = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond",
          "Seattle", "Kent", "Cheyenne"}
STATES = {"AZ", "CA", "ID", "OR", "WA", "WY"}
HOT_CHANNELS = {"Google", "Facebook", "Baidu", "Apple"}
_cache = {}


def gen(count=N, seed=1, *extra):
    key = (count, seed, extra)
    if key not in _cache:
        d = tmpdir("nexmark-gen")
        path = d + "/ev.csv"
        ember("gen", "nexmark", "--count", count, "--seed", seed, *extra, "--to", "file:" + path,
              check_rc=0)
        with open(path, "rb") as f:
            _cache[key] = f.read()
    return _cache[key]


def rows(data):
    return [line.split(",") for line in data.decode().split("\n")[:-1]]


# Ids from the event id e = seq + 2 (firstEventId 1 + firstEventNumber 1).
def last_person(e):
    return e // TOTAL


def last_auction(e):
    epoch, off = divmod(e, TOTAL)
    if off < PERSON:
        return (epoch - 1) * AUCTION + AUCTION - 1
    if off >= PERSON + AUCTION:
        return epoch * AUCTION + AUCTION - 1
    return epoch * AUCTION + off - PERSON


def random_person_range(e):
    people = last_person(e) + 1
    active = min(people, 1000)
    return people - active, people - active + active + 10  # [lo, hi)


def test_event_kinds_follow_the_proportions():
    rs = rows(gen())
    check(len(rs) == N, "%d lines" % len(rs))
    kinds = collections.Counter()
    for seq, r in enumerate(rs):
        check(len(r) == FIELDS, "line %d: %d fields" % (seq + 1, len(r)))
        off = (seq + 2) % TOTAL
        want = 0 if off < PERSON else 1 if off < PERSON + AUCTION else 2
        check(r[0] == str(want), "line %d: event_type %s, want %d" % (seq + 1, r[0], want))
        kinds[want] += 1
        empty = {0: range(9, 24), 1: list(range(2, 9)) + list(range(18, 24)),
                 2: range(2, 18)}[want]
        check(all(r[i] == "" for i in empty), "line %d: other kinds' fields set" % (seq + 1))
    for k, share in ((0, 0.02), (1, 0.06), (2, 0.92)):
        check(abs(kinds[k] / N - share) < 0.001, "kind %d: %d of %d" % (k, kinds[k], N))


def test_date_time_is_monotone_from_the_base_time():
    for rate, extra in ((1000, ()), (10000, ("--event-rate", "10000"))):
        prev = 0
        for seq, r in enumerate(rows(gen(20000, 1, *extra))):
            ts = int(r[1])
            check(ts == EPOCH + (seq + 1) * 1000 // rate, "rate %d line %d: %d" % (rate, seq, ts))
            check(ts >= prev, "date_time goes back at line %d" % seq)
            prev = ts


def test_person_fields():
    n = 0
    sizes = []
    for seq, r in enumerate(rows(gen())):
        if r[0] != "0":
            continue
        n += 1
        e = seq + 2
        check(int(r[2]) == 1000 + last_person(e), "person id %s at e=%d" % (r[2], e))
        first, _, last = r[3].partition(" ")
        check(first in FIRST_NAMES and last in LAST_NAMES, "name %r" % r[3])
        check(re.fullmatch(r"[a-z ]{0,6}@[a-z ]{0,4}\.com", r[4]) and
              r[4] == "@".join(p.strip() for p in r[4].split("@")), "email %r" % r[4])
        check(re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", r[5]), "credit card %r" % r[5])
        check(r[6] in CITIES and r[7] in STATES, "city/state %r %r" % (r[6], r[7]))
        check(re.fullmatch(r"[a-z]*", r[8]), "extra %r" % r[8][:40])
        base = 8 + sum(len(r[i]) for i in range(3, 8))
        want = 200 - base
        delta = math.floor(want * 0.2 + 0.5)
        check(want - delta <= len(r[8]) < want + delta, "person extra %d for %d" % (len(r[8]), base))
        sizes.append(base + len(r[8]))
    check(n == 2000, "%d persons" % n)
    check(abs(sum(sizes) / n - 200) < 3, "person size averages %.1f" % (sum(sizes) / n))


def test_auction_fields():
    ids, hot, sizes = [], 0, []
    for seq, r in enumerate(rows(gen())):
        if r[0] != "1":
            continue
        e, ts = seq + 2, int(r[1])
        aid, initial, reserve, expires, seller, cat = (int(r[i]) for i in (9, 12, 13, 14, 15, 16))
        check(aid == 1000 + last_auction(e), "auction id %d at e=%d" % (aid, e))
        ids.append(aid)
        check(10 <= cat <= 14, "category %d" % cat)
        check(100 <= initial <= 10 ** 8 and initial + 100 <= reserve <= initial + 10 ** 8,
              "initial %d reserve %d" % (initial, reserve))
        horizon = EPOCH + (seq + 1 + 1666) * 1000 // 1000 - ts
        check(ts + 1 <= expires <= ts + 2 * horizon, "expires %d at %d" % (expires, ts))
        s0, (lo, hi) = seller - 1000, random_person_range(e)
        is_hot = s0 == last_person(e) // 100 * 100
        hot += is_hot
        check(is_hot or lo <= s0 < hi, "seller %d at e=%d" % (seller, e))
        check(len(r[10]) <= 19 and len(r[11]) <= 99 and r[10] == r[10].strip() and
              re.fullmatch(r"[a-z ]*", r[10] + r[11]), "strings %r %r" % (r[10], r[11][:30]))
        base = 8 + len(r[10]) + len(r[11]) + 40
        want = 500 - base
        delta = math.floor(want * 0.2 + 0.5)
        check(want - delta <= len(r[17]) < want + delta and re.fullmatch(r"[a-z]*", r[17]),
              "auction extra %d for %d" % (len(r[17]), base))
        sizes.append(base + len(r[17]))
    check(ids == list(range(1001, 1001 + len(ids))) and len(ids) == 6000, "auction ids")
    check(0.73 < hot / len(ids) < 0.80, "hot sellers %.3f (3/4 plus chance)" % (hot / len(ids)))
    check(abs(sum(sizes) / len(sizes) - 500) < 5, "auction size %.1f" % (sum(sizes) / len(sizes)))


def reverse32(i):
    """Java's Math.abs(Integer.reverse(i)) (abs of INT_MIN stays INT_MIN)."""
    v = int("{:032b}".format(i)[::-1], 2)
    v = v - (1 << 32) if v >= 1 << 31 else v
    return v if v == -(1 << 31) else abs(v)


def test_bid_fields():
    hot_a = hot_b = n = 0
    prices, urls, sizes = [], {}, []
    auctions_seen = set()
    for seq, r in enumerate(rows(gen())):
        if r[0] == "1":
            auctions_seen.add(int(r[9]))
        if r[0] != "2":
            continue
        n += 1
        e = seq + 2
        a0, b0, price = int(r[18]) - 1000, int(r[19]) - 1000, int(r[20])
        last_a = last_auction(e)
        is_hot = a0 == last_a // 100 * 100
        hot_a += is_hot
        check(is_hot or max(last_a - 100, 0) <= a0 <= last_a + 10, "auction %d at e=%d" % (a0, e))
        check(a0 + 1000 in auctions_seen or a0 > last_a or a0 == 0,
              "bid on auction %d that does not exist at e=%d" % (a0 + 1000, e))
        lo, hi = random_person_range(e)
        is_hot = b0 == last_person(e) // 100 * 100 + 1
        hot_b += is_hot
        check(is_hot or lo <= b0 < hi, "bidder %d at e=%d" % (b0, e))
        check(100 <= price <= 10 ** 8, "price %d" % price)
        prices.append(math.log10(price / 100))
        ch, url = r[21], r[22]
        check(urls.setdefault(ch, url) == url, "channel %s has two URLs" % ch)
        m = re.fullmatch(r"https://www\.nexmark\.com/[a-z_]{3,4}/[a-z_]{3,4}/[a-z_]{3,4}/"
                         r"item\.htm\?query=1(&channel_id=(-?\d+))?", url)
        check(m, "url %r" % url)
        if ch in HOT_CHANNELS:
            check(m.group(1) is None, "hot channel %s with a channel_id" % ch)
        else:
            num = int(re.fullmatch(r"channel-(\d+)", ch).group(1))
            check(num < 10000 and (m.group(2) is None or int(m.group(2)) == reverse32(num)),
                  "channel %s url %s" % (ch, url))
        want = 100 - 32
        check(54 <= len(r[23]) < 82 and re.fullmatch(r"[a-z]*", r[23]), "bid extra %r" % r[23])
        sizes.append(32 + len(r[23]))
    check(0.49 < hot_a / n < 0.53, "hot auctions %.3f (1/2 plus chance)" % (hot_a / n))
    check(0.74 < hot_b / n < 0.77, "hot bidders %.3f (3/4 plus chance)" % (hot_b / n))
    mean = sum(prices) / n
    check(abs(mean - 3) < 0.03, "log10(price/100) averages %.3f, want 3 (uniform on [0, 6))" % mean)
    hot_share = sum(1 for ch in urls if ch in HOT_CHANNELS)
    check(hot_share == 4 and len(urls) > 5000, "%d channels" % len(urls))
    check(abs(sum(sizes) / n - want - 32) < 1, "bid size %.1f" % (sum(sizes) / n))


def test_same_seed_same_bytes_other_seed_other_events():
    d = tmpdir("nexmark-det")
    ember("gen", "nexmark", "--count", 5000, "--to", "file:" + d + "/a.csv", check_rc=0)
    _, out, _ = ember("gen", "nexmark", "--count", 5000, check_rc=0)  # stdout without --to
    with open(d + "/a.csv") as f:
        check(f.read() == out, "two runs differ")
    other = rows(gen(5000, 2))
    same = sum(a == b for a, b in zip(rows(out.encode()), other))
    check(same == 0, "%d events equal under seed 2" % same)
    check([r[0] for r in rows(out.encode())] == [r[0] for r in other], "kinds follow e alone")


def job_lines(d, name, count, extra=""):
    write(d + "/j.job", f"""job {name}
batch      interval=1ms max-records=7777
checkpoint dir={d}/ckpt
source     generator kind=nexmark seed=3 count={count}{extra}
sink       file dir={d}/out
""")


def job_output(d):
    files = batch_files(d + "/out")
    check(all(h == ["line"] for _, h, _ in files), "raw lines")
    return "".join(r[0] + "\n" for _, _, rs in files for r in rs), len(files)


def test_job_output_equals_ember_gen():
    """Each batch regenerates its planned range on its own; their union is
    what `ember gen` writes in one go."""
    d = tmpdir("nexmark-job")
    job_lines(d, "nx", 50000)
    ember("run", d + "/j.job", "--until-idle", check_rc=0)
    got, n = job_output(d)
    check(n >= 7, "%d batches" % n)
    check(got.encode() == gen(50000, 3), "job output differs from ember gen")


def test_replayed_middle_batch_is_regenerated_exactly():
    """A crash before batch 4's commit leaves its range planned; the restart
    regenerates that range alone, and the output is still `ember gen`'s."""
    d = tmpdir("nexmark-replay")
    job_lines(d, "nxr", 50000)
    rc, _, _ = ember("run", d + "/j.job", "--until-idle",
                     env={"EMBER_FAILPOINTS": "state.before_commit=crash@4"})
    check(rc != 0, "the failpoint did not stop the job")
    ember("run", d + "/j.job", "--until-idle", check_rc=0)
    got, _ = job_output(d)
    check(got.encode() == gen(50000, 3), "output after replay differs from ember gen")


if __name__ == "__main__":
    main([test_event_kinds_follow_the_proportions, test_date_time_is_monotone_from_the_base_time,
          test_person_fields, test_auction_fields, test_bid_fields,
          test_same_seed_same_bytes_other_seed_other_events, test_job_output_equals_ember_gen,
          test_replayed_middle_batch_is_regenerated_exactly])
