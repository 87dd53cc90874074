#!/usr/bin/env python3
"""An independent implementation of the Nexmark queries q0..q22 over the
events `ember gen nexmark` writes, to check ember's jobs against.

    python3 tests/nexmark/oracle.py qN events.csv [--side-input F] > out

It reads only the CSV (24 columns, see tests/nexmark/README.md) and never
calls ember. The definition of every query is its Flink SQL in the
nexmark/nexmark project (nexmark-flink/src/main/resources/queries/qN.sql);
windows are event-time windows on date_time emitted once, when final (what
ember emits with a watermark and --drain), and stateful operators give their
final result over the whole input (Flink's retractions folded in).

Canonical text (what the CLI prints and what a comparison uses): one line
per result row, the columns of the query's Flink sink table in order joined
by ',', ints in decimal, timestamps as epoch milliseconds, strings as they
are, floats as ember writes them (the shortest %g form that reads back),
NULL as the empty string; the lines sorted as strings (duplicates kept).
The README beside this file lists each query's columns and the choices made
where the SQL leaves something open.
"""
import collections
import sys
import time

COLUMNS = ("event_type date_time person_id person_name person_email_address "
           "person_credit_card person_city person_state person_extra auction_id "
           "auction_item_name auction_description auction_initial_bid auction_reserve "
           "auction_expires auction_seller auction_category auction_extra bid_auction "
           "bid_bidder bid_price bid_channel bid_url bid_extra").split()

Person = collections.namedtuple(
    "Person", "id name email_address credit_card city state date_time extra")
Auction = collections.namedtuple(
    "Auction", "id item_name description initial_bid reserve date_time expires seller "
    "category extra")
Bid = collections.namedtuple("Bid", "auction bidder price channel url date_time extra seq")

Events = collections.namedtuple("Events", "persons auctions bids")

HOT_CHANNELS = {"apple": "0", "google": "1", "facebook": "2", "baidu": "3"}

_RANKS = ("total_bids rank1_bids rank2_bids rank3_bids total_bidders rank1_bidders "
          "rank2_bidders rank3_bidders total_auctions rank1_auctions rank2_auctions "
          "rank3_auctions")
_BID = "auction bidder price channel url date_time extra"
# The columns of each query's canonical lines: its Flink sink table's, in
# snake case (what an ember job names them).
HEADERS = {q: cols.split() for q, cols in {
    "q0": "auction bidder price date_time extra",
    "q1": "auction bidder price date_time extra",
    "q2": "auction price",
    "q3": "name city state id",
    "q4": "id final",
    "q5": "auction num",
    "q6": "seller avg_price",
    "q7": "auction bidder price date_time extra",
    "q8": "id name stime",
    "q9": "id item_name description initial_bid reserve date_time expires seller category "
          "extra auction bidder price bid_date_time bid_extra",
    "q10": "auction bidder price date_time extra dt hm",
    "q11": "bidder bid_count starttime endtime",
    "q12": "bidder bid_count",
    "q13": "auction bidder price date_time value",
    "q14": "auction bidder price bid_time_type date_time extra c_counts",
    "q15": "day " + _RANKS,
    "q16": "channel day minute " + _RANKS,
    "q17": "auction day total_bids rank1_bids rank2_bids rank3_bids min_price max_price "
           "avg_price sum_price",
    "q18": _BID,
    "q19": _BID + " rank_number",
    "q20": "auction bidder price channel url bid_date_time bid_extra item_name description "
           "initial_bid reserve auction_date_time expires seller category auction_extra",
    "q21": "auction bidder price channel channel_id",
    "q22": "auction bidder price channel dir1 dir2 dir3",
}.items()}


# ------------------------------------------------------------------ input

def parse_line(line, seq):
    """One CSV line into a Person, Auction or Bid (no field holds a comma or
    a quote, so a split is the whole CSV grammar needed)."""
    f = line.rstrip("\n").split(",")
    if len(f) != len(COLUMNS):
        raise ValueError("line %d: %d fields, expected %d" % (seq + 1, len(f), len(COLUMNS)))
    kind, ts = int(f[0]), int(f[1])
    if kind == 0:
        return Person(int(f[2]), f[3], f[4], f[5], f[6], f[7], ts, f[8])
    if kind == 1:
        return Auction(int(f[9]), f[10], f[11], int(f[12]), int(f[13]), ts, int(f[14]),
                       int(f[15]), int(f[16]), f[17])
    if kind == 2:
        # 10004 channels and URLs in all: one copy each (a million events
        # fit in ~0.45 GB).
        return Bid(int(f[18]), int(f[19]), int(f[20]), sys.intern(f[21]), sys.intern(f[22]), ts,
                   f[23], seq)
    raise ValueError("line %d: event_type %d" % (seq + 1, kind))


def events_from_lines(lines):
    persons, auctions, bids = [], [], []
    for seq, line in enumerate(lines):
        e = parse_line(line, seq)
        (persons if isinstance(e, Person) else auctions if isinstance(e, Auction)
         else bids).append(e)
    return Events(persons, auctions, bids)


def read_events(path):
    with open(path) as f:
        return events_from_lines(f)


# ------------------------------------------------------------------ text

def fmt_float(d):
    """ember's float text: the shortest digits that read back (Python's repr
    picks the same) in %g form with precision max(15, digits)."""
    if d == 0:
        return "-0" if str(d).startswith("-") else "0"
    sign, digits, exp = _decimal_parts(d)
    prec = max(15, len(digits))
    if exp < -4 or exp >= prec:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, mant, "-" if exp < 0 else "+", abs(exp))
    if exp < 0:
        return sign + "0." + "0" * (-exp - 1) + digits
    if len(digits) <= exp + 1:
        return sign + digits + "0" * (exp + 1 - len(digits))
    return sign + digits[:exp + 1] + "." + digits[exp + 1:]


def _decimal_parts(d):
    """(sign, significant digits without trailing zeros, decimal exponent of
    the first digit) of repr(d)."""
    r = repr(d)
    sign = "-" if r.startswith("-") else ""
    r = r.lstrip("-")
    mant, _, e = r.partition("e")
    exp = int(e) if e else 0
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    lead = len(whole.lstrip("0")) if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")))
    exp += lead - 1
    return sign, digits.rstrip("0") or "0", exp


def cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return fmt_float(v)
    return str(v)


def render(rows):
    return sorted(",".join(cell(v) for v in row) for row in rows)


def utc(ts_ms, fmt):
    return time.strftime(fmt, time.gmtime(ts_ms // 1000))


def day(ts_ms):
    return utc(ts_ms, "%Y-%m-%d")


def hour(ts_ms):
    return time.gmtime(ts_ms // 1000).tm_hour


# ------------------------------------------------------------------ helpers

def tumble(ts, size):
    start = ts - ts % size
    return start, start + size


def hops(ts, size, slide):
    """Every [s, s + size) with s a multiple of slide that holds ts."""
    last = ts - ts % slide
    return [(s, s + size) for s in range(last - size + slide, last + 1, slide)]


def bids_in_auction(ev):
    """Per auction id, its auction and the bids on it made between the
    auction's date_time and its expires (both inclusive: BETWEEN)."""
    by_auction = collections.defaultdict(list)
    for b in ev.bids:
        by_auction[b.auction].append(b)
    out = {}
    for a in ev.auctions:
        inside = [b for b in by_auction.get(a.id, ()) if a.date_time <= b.date_time <= a.expires]
        if inside:
            out[a.id] = (a, inside)
    return out


def best_bid(bids):
    """Highest price, then earliest date_time, then the first in the input."""
    return min(bids, key=lambda b: (-b.price, b.date_time, b.seq))


def price_rank(price):
    return 1 if price < 10000 else 2 if price < 1000000 else 3


def int_avg(total, n):
    """Flink's AVG of a BIGINT is a BIGINT: the sum divided, truncated."""
    q = abs(total) // n
    return q if total >= 0 else -q


# ------------------------------------------------------------------ queries

def q0(ev):
    return [(b.auction, b.bidder, b.price, b.date_time, b.extra) for b in ev.bids]


def q1(ev):
    return [(b.auction, b.bidder, 0.908 * b.price, b.date_time, b.extra) for b in ev.bids]


def q2(ev):
    return [(b.auction, b.price) for b in ev.bids if b.auction % 123 == 0]


def q3(ev):
    people = {p.id: p for p in ev.persons if p.state in ("OR", "ID", "CA")}
    return [(people[a.seller].name, people[a.seller].city, people[a.seller].state, a.id)
            for a in ev.auctions if a.category == 10 and a.seller in people]


def q4(ev):
    finals = collections.defaultdict(list)
    for a, bids in bids_in_auction(ev).values():
        finals[a.category].append(max(b.price for b in bids))
    return [(cat, int_avg(sum(v), len(v))) for cat, v in finals.items()]


def q5(ev):
    counts = collections.defaultdict(collections.Counter)
    for b in ev.bids:
        for w in hops(b.date_time, 10000, 2000):
            counts[w][b.auction] += 1
    rows = []
    for per_auction in counts.values():
        top = max(per_auction.values())
        rows.extend((auc, n) for auc, n in per_auction.items() if n >= top)
    return rows


def q6(ev):
    closed = collections.defaultdict(list)
    for a, bids in bids_in_auction(ev).values():
        w = best_bid(bids)
        closed[a.seller].append((w.date_time, a.id, w.price))
    rows = []
    for seller, wins in closed.items():
        wins.sort()
        for i in range(len(wins)):
            last = [p for _, _, p in wins[max(0, i - 10):i + 1]]
            rows.append((seller, int_avg(sum(last), len(last))))
    return rows


def q7(ev):
    maxima = {}
    for b in ev.bids:
        w = tumble(b.date_time, 10000)
        maxima[w] = max(maxima.get(w, b.price), b.price)
    rows = []
    for b in ev.bids:
        # A bid can meet two windows: its own, and the one before when it
        # sits exactly on that window's end (BETWEEN is inclusive).
        start = tumble(b.date_time, 10000)[0]
        for w in ((start, start + 10000), (start - 10000, start)):
            if w[1] - 10000 <= b.date_time <= w[1] and maxima.get(w) == b.price:
                rows.append((b.auction, b.bidder, b.price, b.date_time, b.extra))
    return rows


def q8(ev):
    sellers = {(a.seller, tumble(a.date_time, 10000)) for a in ev.auctions}
    people = {(p.id, p.name, tumble(p.date_time, 10000)) for p in ev.persons}
    return [(pid, name, w[0]) for pid, name, w in people if (pid, w) in sellers]


def q9(ev):
    rows = []
    for a, bids in bids_in_auction(ev).values():
        b = best_bid(bids)
        rows.append(tuple(a) + (b.auction, b.bidder, b.price, b.date_time, b.extra))
    return rows


def q10(ev):
    return [(b.auction, b.bidder, b.price, b.date_time, b.extra, day(b.date_time),
             utc(b.date_time, "%H:%M")) for b in ev.bids]


def sessions(times, gap, touching=True):
    """Flink's session windows of sorted times: a window [t, t + gap) per
    record, merged while they intersect (Flink's TimeWindow.intersects is
    inclusive, so records exactly `gap` apart share a session; with
    touching=False they do not, as in ember, whose windows are half-open)."""
    out, start, last, n = [], None, None, 0
    for t in times:
        if start is not None and (t - last <= gap if touching else t - last < gap):
            last, n = t, n + 1
            continue
        if start is not None:
            out.append((start, last + gap, n))
        start, last, n = t, t, 1
    if start is not None:
        out.append((start, last + gap, n))
    return out


def q11(ev, touching=True):
    times = collections.defaultdict(list)
    for b in ev.bids:
        times[b.bidder].append(b.date_time)
    return [(bidder, n, s, e) for bidder, ts in times.items()
            for s, e, n in sessions(sorted(ts), 10000, touching)]


def q12(ev):
    counts = collections.Counter(b.bidder for b in ev.bids)
    return list(counts.items())


def q13(ev, side=None):
    table = side if side is not None else {k: str(k) for k in range(10000)}
    return [(b.auction, b.bidder, b.price, b.date_time, table[b.auction % 10000])
            for b in ev.bids if b.auction % 10000 in table]


def bid_time_type(ts):
    h = hour(ts)
    if 8 <= h <= 18:
        return "dayTime"
    if h <= 6 or h >= 20:
        return "nightTime"
    return "otherTime"


def q14(ev):
    return [(b.auction, b.bidder, 0.908 * b.price, bid_time_type(b.date_time), b.date_time,
             b.extra, b.extra.count("c"))
            for b in ev.bids if 1000000 < 0.908 * b.price < 50000000]


def rank_counts(bids):
    """total and per price rank: bids, distinct bidders, distinct auctions."""
    n = [0, 0, 0, 0]
    bidders = [set(), set(), set(), set()]
    auctions = [set(), set(), set(), set()]
    for b in bids:
        for r in (0, price_rank(b.price)):
            n[r] += 1
            bidders[r].add(b.bidder)
            auctions[r].add(b.auction)
    return tuple(n) + tuple(len(s) for s in bidders) + tuple(len(s) for s in auctions)


def group(bids, key):
    groups = collections.defaultdict(list)
    for b in bids:
        groups[key(b)].append(b)
    return groups


def q15(ev):
    return [(d,) + rank_counts(bids) for d, bids in group(ev.bids, lambda b: day(b.date_time)).items()]


def q16(ev):
    rows = []
    for (ch, d), bids in group(ev.bids, lambda b: (b.channel, day(b.date_time))).items():
        minute = max(utc(b.date_time, "%H:%M") for b in bids)
        rows.append((ch, d, minute) + rank_counts(bids))
    return rows


def q17(ev):
    rows = []
    for (auc, d), bids in group(ev.bids, lambda b: (b.auction, day(b.date_time))).items():
        n = [0, 0, 0, 0]
        for b in bids:
            n[0] += 1
            n[price_rank(b.price)] += 1
        prices = [b.price for b in bids]
        rows.append((auc, d) + tuple(n) + (min(prices), max(prices),
                                           int_avg(sum(prices), len(prices)), sum(prices)))
    return rows


def q18(ev):
    last = {}
    for b in ev.bids:  # the latest date_time; at equal times the later in the input
        k = (b.bidder, b.auction)
        if k not in last or b.date_time >= last[k].date_time:
            last[k] = b
    return [(b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra)
            for b in last.values()]


def q19(ev):
    rows = []
    for auc, bids in group(ev.bids, lambda b: b.auction).items():
        top = sorted(bids, key=lambda b: (-b.price, b.seq))[:10]
        rows.extend((b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra, i + 1)
                    for i, b in enumerate(top))
    return rows


def q20(ev):
    tens = {a.id: a for a in ev.auctions if a.category == 10}
    rows = []
    for b in ev.bids:
        a = tens.get(b.auction)
        if a:
            rows.append((b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra,
                         a.item_name, a.description, a.initial_bid, a.reserve, a.date_time,
                         a.expires, a.seller, a.category, a.extra))
    return rows


def channel_id(url):
    """REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2): the value after the
    first 'channel_id=' at the start or after a '&'; None without one."""
    for i in range(len(url)):
        if url.startswith("channel_id=", i) and (i == 0 or url[i - 1] == "&"):
            return url[i + len("channel_id="):].split("&")[0]
    return None


def q21(ev):
    rows = []
    for b in ev.bids:
        cid = channel_id(b.url)
        low = b.channel.lower()
        if cid is None and low not in HOT_CHANNELS:
            continue
        rows.append((b.auction, b.bidder, b.price, b.channel, HOT_CHANNELS.get(low, cid)))
    return rows


def split_index(s, sep, i):
    parts = s.split(sep)
    return parts[i] if i < len(parts) else None


def q22(ev):
    return [(b.auction, b.bidder, b.price, b.channel, split_index(b.url, "/", 3),
             split_index(b.url, "/", 4), split_index(b.url, "/", 5)) for b in ev.bids]


QUERIES = {"q%d" % i: globals()["q%d" % i] for i in range(23)}


def run(query, ev, side=None):
    """The canonical lines of `query` over the events."""
    if query == "q13":
        return render(q13(ev, side))
    return render(QUERIES[query](ev))


def read_side_input(path):
    """Flink's side_input.txt: KEY,VALUE lines (its generator writes i,i for
    i < 10000, the default here)."""
    table = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition(",")
            table[int(k)] = v
    return table


def main(argv):
    if len(argv) not in (3, 5) or argv[1] not in QUERIES or (len(argv) == 5 and
                                                           argv[3] != "--side-input"):
        print("usage: oracle.py qN EVENTS.csv [--side-input FILE]   (N = 0..22)",
              file=sys.stderr)
        return 2
    side = read_side_input(argv[4]) if len(argv) == 5 else None
    out = sys.stdout
    for line in run(argv[1], read_events(argv[2]), side):
        out.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
