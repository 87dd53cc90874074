"""tests/nexmark/oracle.py on tiny hand-made event lists, one or more per
query, with the expected rows worked out by hand from each query's Flink SQL
(nexmark/nexmark's queries/qN.sql) and written out literally. No ember
process runs here: this checks the oracle the other nexmark tests trust."""
import os
import sys

from harness import ROOT, check, main

sys.path.insert(0, os.path.join(ROOT, "tests", "nexmark"))
import oracle  # noqa: E402

T = 1700000000000  # 2023-11-14T22:13:20Z, a multiple of 10 s
URL = "https://www.nexmark.com/ab/cd/ef/item.htm?query=1"


def person(pid, ts, name="Ann Lee", city="Portland", state="OR", extra="px"):
    return "0,%d,%d,%s,a@b.com,1111 2222 3333 4444,%s,%s,%s" % (
        ts, pid, name, city, state, extra) + "," * 15


def auction(aid, ts, expires, seller, category=10, initial=100, reserve=200, extra="ax"):
    return "1,%d" % ts + "," * 7 + ",%d,item%d,desc,%d,%d,%d,%d,%d,%s" % (
        aid, aid, initial, reserve, expires, seller, category, extra) + "," * 6


def bid(auc, bidder, price, ts, channel="Google", url=URL, extra="bx"):
    return "2,%d" % ts + "," * 16 + ",%d,%d,%d,%s,%s,%s" % (auc, bidder, price, channel, url, extra)


def run(query, lines, **kw):
    ev = oracle.events_from_lines(lines)
    return oracle.render(getattr(oracle, query)(ev, **kw))


def expect(query, lines, want, **kw):
    got = run(query, lines, **kw)
    check(got == sorted(want), "%s: got %s, want %s" % (query, got, sorted(want)))


# The auction house of q3, q4, q6, q9 and q20: two persons, four auctions
# (2003's seller does not exist, 2002 is category 11 and expires early).
HOUSE = [
    person(1000, T, "Ann Lee", "Portland", "OR"),
    person(1001, T + 1, "Bob Ray", "Seattle", "WA"),
    auction(2000, T + 2, T + 5000, 1000),
    auction(2001, T + 3, T + 5000, 1001),
    auction(2002, T + 4, T + 100, 1000, category=11),
    auction(2003, T + 5, T + 5000, 1002),
    bid(2000, 1001, 500, T + 10),
    bid(2000, 1000, 700, T + 20),
    bid(2002, 1001, 300, T + 50),
    bid(2002, 1001, 900, T + 200),  # after 2002 expires
    bid(2001, 1000, 701, T + 30),
    bid(2000, 1001, 700, T + 40),  # ties 700 with the earlier one
    bid(2460, 1000, 42, T + 60),   # 2460 = 20 * 123, an auction never created
]


def test_parse_and_format():
    ev = oracle.events_from_lines(HOUSE)
    check(len(ev.persons) == 2 and len(ev.auctions) == 4 and len(ev.bids) == 7, "kinds")
    check(ev.auctions[2] == oracle.Auction(2002, "item2002", "desc", 100, 200, T + 4, T + 100,
                                           1000, 11, "ax"), "auction %s" % (ev.auctions[2],))
    check(ev.bids[0] == oracle.Bid(2000, 1001, 500, "Google", URL, T + 10, "bx", 6), "bid")
    for d, s in ((20.0, "20"), (1e15, "1e+15"), (0.1, "0.1"), (1e-5, "1e-05"),
                 (123456.5, "123456.5"), (0.1 + 0.2, "0.30000000000000004"), (-2.5, "-2.5"),
                 (908.0, "908"), (0.0001, "0.0001")):
        check(oracle.fmt_float(d) == s, "fmt_float(%r) = %s, want %s" % (d, oracle.fmt_float(d), s))
    try:
        oracle.parse_line("2,1,2", 0)
        check(False, "a short line must be refused")
    except ValueError as e:
        check("line 1: 3 fields" in str(e), str(e))


def test_q0_q1_q2_bids():
    lines = [bid(1, 2, 1000, T), bid(246, 3, 3, T + 1, extra="")]
    expect("q0", lines, ["1,2,1000,%d,bx" % T, "246,3,3,%d," % (T + 1)])
    expect("q1", lines, ["1,2,908,%d,bx" % T, "246,3,2.724,%d," % (T + 1)])
    expect("q2", HOUSE, ["2460,42"])
    expect("q2", lines, ["246,3"])


def test_q3_local_sellers_of_category_10():
    expect("q3", HOUSE, ["Ann Lee,Portland,OR,2000"])


def test_q4_average_winning_price_per_category():
    # 2000: 500, 700, 700 -> 700; 2001: 701; 2002: 300 (900 came after it
    # expired). Category 10: (700 + 701) / 2 truncated; 11: 300.
    expect("q4", HOUSE, ["10,700", "11,300"])


def test_q5_hot_items_in_hopping_windows():
    # Windows of 10 s every 2 s. Auctions 1 and 3 have 2 bids each in every
    # window from T-8 s to T (a tie: both), auction 2 has 1 there; the
    # window at T+2 s holds the three bids of 2, the ones after it two.
    lines = [bid(1, 9, 1, T + 1000), bid(3, 9, 1, T + 1200), bid(3, 9, 1, T + 1300),
             bid(1, 9, 1, T + 1500), bid(2, 9, 1, T + 3000), bid(2, 9, 1, T + 11000),
             bid(2, 9, 1, T + 11500)]
    expect("q5", lines, ["1,2"] * 5 + ["3,2"] * 5 + ["2,3"] + ["2,2"] * 4)


def test_q6_average_of_last_closed_auctions_per_seller():
    # Seller 1000 won 700 (at T+20, auction 2000) then 300 (T+50, 2002);
    # seller 1001 701.
    expect("q6", HOUSE, ["1000,700", "1000,500", "1001,701"])
    many = [auction(10 + i, T + i, T + 1000, 5) for i in range(12)]
    many += [bid(10 + i, 7, 100 * (i + 1), T + 100 + i) for i in range(12)]
    # Row i averages the first i + 1 prices, 50 * (i + 2), up to 11 rows;
    # the 12th averages its own and the 10 before it, 200..1200: 700 (all
    # 12 would be 650).
    expect("q6", many, ["5,%d" % (50 * (i + 2)) for i in range(11)] + ["5,700"])


def test_q7_highest_bid_of_each_window():
    lines = [bid(1, 1, 5, T + 1000), bid(2, 1, 9, T + 2000), bid(3, 1, 9, T + 9999),
             bid(4, 1, 3, T + 10000), bid(5, 1, 7, T + 15000)]
    expect("q7", lines, ["2,1,9,%d,bx" % (T + 2000), "3,1,9,%d,bx" % (T + 9999),
                         "5,1,7,%d,bx" % (T + 15000)])
    # A bid exactly on a window's end meets both windows (BETWEEN is inclusive).
    lines[3] = bid(4, 1, 9, T + 10000)
    expect("q7", lines, ["2,1,9,%d,bx" % (T + 2000), "3,1,9,%d,bx" % (T + 9999)] +
           ["4,1,9,%d,bx" % (T + 10000)] * 2)


def test_q8_new_persons_who_sell_in_their_first_window():
    lines = [person(1, T + 1000, "A B"), person(2, T + 5000, "C D"), person(3, T + 12000, "E F"),
             auction(10, T + 9000, T + 99999, 1), auction(11, T + 10000, T + 99999, 2),
             auction(12, T + 15000, T + 99999, 3), auction(13, T + 16000, T + 99999, 3)]
    expect("q8", lines, ["1,A B,%d" % T, "3,E F,%d" % (T + 10000)])


def test_q9_winning_bid_of_each_auction():
    a = "item%d,desc,100,200,%d,%d,%d,%d,ax"
    expect("q9", HOUSE, [
        "2000," + a % (2000, T + 2, T + 5000, 1000, 10) + ",2000,1000,700,%d,bx" % (T + 20),
        "2001," + a % (2001, T + 3, T + 5000, 1001, 10) + ",2001,1000,701,%d,bx" % (T + 30),
        "2002," + a % (2002, T + 4, T + 100, 1000, 11) + ",2002,1001,300,%d,bx" % (T + 50)])


def test_q10_day_and_minute():
    expect("q10", [bid(1, 2, 3, T + 100000)],
           ["1,2,3,%d,bx,2023-11-14,22:15" % (T + 100000)])


def test_q11_sessions():
    lines = [bid(1, 1, 1, T), bid(1, 1, 1, T + 5000), bid(1, 1, 1, T + 15000),
             bid(1, 1, 1, T + 30000), bid(1, 2, 1, T + 1)]
    # T+15000 is exactly 10 s after T+5000: Flink's windows touch and merge.
    expect("q11", lines, ["1,3,%d,%d" % (T, T + 25000), "1,1,%d,%d" % (T + 30000, T + 40000),
                          "2,1,%d,%d" % (T + 1, T + 10001)])
    expect("q11", lines, ["1,2,%d,%d" % (T, T + 15000), "1,1,%d,%d" % (T + 15000, T + 25000),
                          "1,1,%d,%d" % (T + 30000, T + 40000),
                          "2,1,%d,%d" % (T + 1, T + 10001)], touching=False)


def test_q12_bids_per_bidder():
    expect("q12", HOUSE, ["1001,4", "1000,3"])


def test_q13_side_input():
    lines = [bid(12345, 1, 2, T), bid(7, 1, 3, T + 1)]
    expect("q13", lines, ["12345,1,2,%d,2345" % T, "7,1,3,%d,7" % (T + 1)])
    expect("q13", lines, ["7,1,3,%d,seven" % (T + 1)], side={7: "seven"})


def test_q14_expensive_bids_and_time_of_day():
    h = 3600000
    nine = T + 38800000  # 2023-11-15T09:00:00Z
    lines = [bid(1, 1, 2000000, nine, extra="cccx"),   # 1816000, dayTime, 3 c's
             bid(2, 1, 2000000, nine + 10 * h),          # 19:00 otherTime
             bid(3, 1, 2000000, nine - 2 * h),           # 07:00 otherTime
             bid(4, 1, 2000000, nine - 3 * h),           # 06:00 nightTime
             bid(5, 1, 1101321, T),                      # 999999.468: out
             bid(6, 1, 1101322, T),                      # 1000000.376: in
             bid(7, 1, 55066079, T),                     # 49999999.732: in
             bid(8, 1, 55066080, T)]                     # 50000000.64: out
    expect("q14", lines, [
        "1,1,1816000,dayTime,%d,cccx,3" % nine, "2,1,1816000,otherTime,%d,bx,0" % (nine + 10 * h),
        "3,1,1816000,otherTime,%d,bx,0" % (nine - 2 * h),
        "4,1,1816000,nightTime,%d,bx,0" % (nine - 3 * h),
        "6,1,%s,nightTime,%d,bx,0" % (oracle.fmt_float(0.908 * 1101322), T),
        "7,1,%s,nightTime,%d,bx,0" % (oracle.fmt_float(0.908 * 55066079), T)])
    check(oracle.fmt_float(0.908 * 1101322)[:11] == "1000000.376", "q14 price text")


DAYS = [bid(1, 1, 5000, T), bid(2, 1, 20000, T + 60000), bid(1, 2, 2000000, T + 120000),
        bid(1, 2, 9999, T + 1000), bid(3, 3, 100, T + 86400000, channel="channel-7")]


def test_q15_daily_statistics():
    expect("q15", DAYS, ["2023-11-14,4,2,1,1,2,2,1,1,2,1,1,1",
                         "2023-11-15,1,1,0,0,1,1,0,0,1,1,0,0"])


def test_q16_channel_statistics():
    expect("q16", DAYS, ["Google,2023-11-14,22:15,4,2,1,1,2,2,1,1,2,1,1,1",
                         "channel-7,2023-11-15,22:13,1,1,0,0,1,1,0,0,1,1,0,0"])


def test_q17_auction_statistics():
    # Auction 1 on the 14th: 5000, 2000000, 9999: average 671666.33 truncated.
    expect("q17", DAYS, ["1,2023-11-14,3,2,0,1,5000,2000000,671666,2014999",
                         "2,2023-11-14,1,0,1,0,20000,20000,20000,20000",
                         "3,2023-11-15,1,1,0,0,100,100,100,100"])


def test_q18_last_bid_per_bidder_and_auction():
    lines = [bid(1, 1, 10, T), bid(1, 1, 20, T + 5), bid(1, 1, 30, T + 5), bid(1, 2, 40, T + 1),
             bid(1, 1, 50, T + 3)]
    expect("q18", lines, ["1,1,30,Google,%s,%d,bx" % (URL, T + 5),
                          "1,2,40,Google,%s,%d,bx" % (URL, T + 1)])


def test_q19_top_10_bids_per_auction():
    prices = [5, 12, 7, 12, 1, 2, 3, 4, 6, 8, 9, 10]
    lines = [bid(1, 100 + i, p, T + i) for i, p in enumerate(prices)] + [bid(2, 9, 1, T)]
    order = [(12, 101), (12, 103), (10, 111), (9, 110), (8, 109), (7, 102), (6, 108),
             (5, 100), (4, 107), (3, 106)]
    want = ["1,%d,%d,Google,%s,%d,bx,%d" % (b, p, URL, T + b - 100, r + 1)
            for r, (p, b) in enumerate(order)]
    expect("q19", lines, want + ["2,9,1,Google,%s,%d,bx,1" % (URL, T)])


def test_q20_bids_with_their_category_10_auction():
    a = "item%d,desc,100,200,%d,%d,%d,10,ax"
    expect("q20", HOUSE, [
        "2000,1001,500,Google,%s,%d,bx," % (URL, T + 10) + a % (2000, T + 2, T + 5000, 1000),
        "2000,1000,700,Google,%s,%d,bx," % (URL, T + 20) + a % (2000, T + 2, T + 5000, 1000),
        "2000,1001,700,Google,%s,%d,bx," % (URL, T + 40) + a % (2000, T + 2, T + 5000, 1000),
        "2001,1000,701,Google,%s,%d,bx," % (URL, T + 30) + a % (2001, T + 3, T + 5000, 1001)])


def test_q21_channel_ids():
    lines = [bid(1, 1, 1, T, "Apple"), bid(2, 1, 1, T, "GOOGLE"),
             bid(3, 1, 1, T, "channel-5", URL + "&channel_id=77&x=1"),
             bid(4, 1, 1, T, "channel-6", URL),
             bid(5, 1, 1, T, "channel-8", "channel_id=9&x=1"),
             bid(6, 1, 1, T, "channel-9", "https://x/?xchannel_id=5"),
             bid(7, 1, 1, T, "Baidu", URL + "&channel_id=12")]
    expect("q21", lines, ["1,1,1,Apple,0", "2,1,1,GOOGLE,1", "3,1,1,channel-5,77",
                          "5,1,1,channel-8,9", "7,1,1,Baidu,3"])


def test_q22_url_directories():
    expect("q22", [bid(1, 2, 3, T), bid(4, 5, 6, T, url="https://x")],
           ["1,2,3,Google,ab,cd,ef", "4,5,6,Google,,,"])


if __name__ == "__main__":
    main([test_parse_and_format, test_q0_q1_q2_bids, test_q3_local_sellers_of_category_10,
          test_q4_average_winning_price_per_category, test_q5_hot_items_in_hopping_windows,
          test_q6_average_of_last_closed_auctions_per_seller,
          test_q7_highest_bid_of_each_window, test_q8_new_persons_who_sell_in_their_first_window,
          test_q9_winning_bid_of_each_auction, test_q10_day_and_minute, test_q11_sessions,
          test_q12_bids_per_bidder, test_q13_side_input, test_q14_expensive_bids_and_time_of_day,
          test_q15_daily_statistics, test_q16_channel_statistics, test_q17_auction_statistics,
          test_q18_last_bid_per_bidder_and_auction, test_q19_top_10_bids_per_auction,
          test_q20_bids_with_their_category_10_auction, test_q21_channel_ids,
          test_q22_url_directories])
