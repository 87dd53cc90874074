"""The job-language features Nexmark's remaining queries need (issue #15,
part 2): conditional aggregates (q15, q16), dedupe keep=last (q18) and top K
per group over a stream without a window (q19). Input: bids drawn here in
Python (auction, bidder, price, channel, ts); every expected result is
computed in Python over that input, never from ember's output."""
import os
import random

from harness import batch_files, check, ember, main, tmpdir, write

CHANNELS = ["apple", "google", "facebook", "baidu", "x"]


def make_bids(path, n, seed, auctions=40, bidders=60):
    """Bids, one CSV line each; prices in the three q15 ranks."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        rank = rnd.randrange(3)
        price = [rnd.randrange(1, 10000), rnd.randrange(10000, 1000000),
                 rnd.randrange(1000000, 3000000)][rank]
        rows.append((rnd.randrange(auctions), rnd.randrange(bidders), price,
                     rnd.choice(CHANNELS), 1000 * i))
    write(path, "".join("%d,%d,%d,%s,%d\n" % r for r in rows))
    return rows


def run(job_path, ckpt, *extra):
    return ember("run", job_path, "--dir", ckpt, "--until-idle", *extra, check_rc=0)


def last_rows(out_dir, key_cols):
    """The newest row of every key (by the named columns) across the batches."""
    latest, header = {}, None
    for _, header, rows in batch_files(out_dir):
        idx = [header.index(c) for c in key_cols]
        for r in rows:
            latest[tuple(r[i] for i in idx)] = dict(zip(header, r))
    return latest


# ------------------------------------------------------------ conditional aggregates

Q15 = """job q15
batch interval=1ms max-records={batch}
source file path={d}/bids.csv
parse csv fields=auction:int,bidder:int,price:int,channel,ts:int
key channel
aggregate count() as total_bids,
  count() filter (where price < 10000) as rank1_bids,
  count() filter (where price >= 10000 and price < 1000000) as rank2_bids,
  count_distinct(bidder) filter (where price >= 1000000) as rank3_bidders,
  sum(price) filter (where channel = "apple" and price < 10000) as apple_cheap,
  max(price) filter (where price < 0) as never
sink file dir={d}/out
"""


def q15_oracle(rows):
    want = {}
    for auction, bidder, price, channel, ts in rows:
        w = want.setdefault(channel, {"total": 0, "r1": 0, "r2": 0, "r3": set(), "apple": None})
        w["total"] += 1
        w["r1"] += price < 10000
        w["r2"] += 10000 <= price < 1000000
        if price >= 1000000:
            w["r3"].add(bidder)
        if channel == "apple" and price < 10000:
            w["apple"] = (w["apple"] or 0) + price
    return want


def check_q15(got, want):
    check(set(got) == {(c,) for c in want}, "channels %r" % sorted(got))
    for (channel,), row in got.items():
        w = want[channel]
        exp = {"total_bids": str(w["total"]), "rank1_bids": str(w["r1"]),
               "rank2_bids": str(w["r2"]), "rank3_bidders": str(len(w["r3"])),
               "apple_cheap": "" if w["apple"] is None else str(w["apple"]), "never": ""}
        for col, v in exp.items():
            check(row[col] == v, "%s %s: %r, want %r" % (channel, col, row[col], v))


def test_filtered_aggregates_match_python():
    d = tmpdir("nxf-q15")
    rows = make_bids(d + "/bids.csv", 6000, 15)
    # the aggregate list on one line (a job line is one step)
    write(d + "/q15.job", Q15.format(d=d, batch=900).replace(",\n  ", ", "))
    run(d + "/q15.job", d + "/ck")
    check_q15(last_rows(d + "/out", ["channel"]), q15_oracle(rows))


def test_filtered_aggregates_survive_a_restart():
    """Half the batches, a new process, the rest: the filtered counts read
    their own slots back from RocksDB."""
    d = tmpdir("nxf-q15r")
    rows = make_bids(d + "/bids.csv", 5000, 16)
    write(d + "/q15.job", Q15.format(d=d, batch=500).replace(",\n  ", ", "))
    ember("run", d + "/q15.job", "--dir", d + "/ck", "--batches", "4", check_rc=0)
    run(d + "/q15.job", d + "/ck")
    check_q15(last_rows(d + "/out", ["channel"]), q15_oracle(rows))


def test_filter_errors_name_the_place():
    d = tmpdir("nxf-bad")
    cases = [
        ("count() filter (where price + 1) as n", "must be a condition"),
        ("count() filter (where prize < 3) as n", "unknown field 'prize'; did you mean 'price'?"),
        ("count() filter (price < 3) as n", "expected 'where' after 'filter ('"),
        ("sum(price) filter (where price < 3 as n", "has no closing ')'"),
        ("count() filter where price < 3", "expected '(where CONDITION)' after 'filter'"),
    ]
    for agg, msg in cases:
        write(d + "/j.job", "job b\nsource file path=%s/x\nparse csv fields=price:int,c\n"
                            "key c\naggregate %s\nsink stdout\n" % (d, agg))
        rc, _, err = ember("run", d + "/j.job", "--dir", d + "/ck")
        check(rc == 2 and "j.job:5:" in err and msg in err, "%s: rc %d %s" % (agg, rc, err))
    # the column points into the condition: 'prize' is at column 33 of the line
    write(d + "/j.job", "job b\nsource file path=%s/x\nparse csv fields=price:int,c\n"
                        "key c\naggregate count() filter (where prize < 3)\nsink stdout\n" % d)
    _, _, err = ember("run", d + "/j.job", "--dir", d + "/ck")
    check("j.job:5:33:" in err, err)


if __name__ == "__main__":
    main([test_filtered_aggregates_match_python, test_filtered_aggregates_survive_a_restart,
          test_filter_errors_name_the_place])
