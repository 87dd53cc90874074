"""The application examples (examples/*.job) run for real on a smaller count,
and their output is checked against Python over the generated input
(`ember gen` with the job's kind and seed). The generators' events are at most
50 ms out of order and every example's watermark waits longer, so nothing is
late: the union of a job's output is exactly the windows that closed before
the final watermark, each with all of its records."""
import os
import re

from harness import ROOT, batch_files, check, close, ember, gen_file, main, read_csv, tmpdir, write

COUNT = 60000


def run_example(name, count=COUNT):
    """Runs examples/NAME.job on `count` records in a scratch directory; returns
    (output rows, header, generated input rows, the job text)."""
    d = tmpdir("ex-" + name)
    with open(os.path.join(ROOT, "examples", name + ".job")) as f:
        text = f.read()
    kind = re.search(r"kind=(\w+)", text).group(1)
    seed = int(re.search(r"seed=(\d+)", text).group(1))
    text = re.sub(r"count=\d+", "count=%d" % count, text)
    text = text.replace("./ckpt/", d + "/ckpt/").replace("./out/", d + "/out/")
    write(d + "/job.job", text)
    ember("run", d + "/job.job", "--until-idle", check_rc=0)
    gen_file(kind, count, seed, d + "/in.csv")
    out_dir = re.search(r"sink\s+file dir=(\S+)", text).group(1)
    files = batch_files(out_dir)
    rows = [r for _, _, rs in files for r in rs]
    return rows, files[-1][1] if files else None, read_csv(d + "/in.csv"), text


def windows_of(t, size, slide):
    first = (t // slide) * slide
    return [(s, s + size) for s in range(first - size + slide, first + 1, slide)]


def closed(rows_ts, delay):
    return max(rows_ts) - delay


def test_iot_sensors():
    rows, header, data, _ = run_example("iot_sensors")
    check(header == ["sensor", "window_start", "window_end", "count", "avg_temp", "max_temp"],
          "header %s" % header)
    wm = closed([int(r[1]) for r in data], 1000)
    win = {}
    for s, ts, temp in data:
        temp = float(temp)
        if s == "test" or temp <= -50:
            continue
        for w in windows_of(int(ts), 30000, 5000):
            if w[1] <= wm:
                c, sm, mx = win.get((s, w), (0, 0.0, -1e9))
                win[(s, w)] = (c + 1, sm + temp, max(mx, temp))
    want = {k: v for k, v in win.items() if v[2] > 44.5}
    got = {(r[0], (int(r[1]), int(r[2]))): r for r in rows}
    check(len(got) == len(rows) == len(want) > 0, "%d alert rows, oracle %d" % (
        len(rows), len(want)))
    for k, (c, sm, mx) in want.items():
        r = got[k]
        check(int(r[3]) == c and close(float(r[4]), sm / c) and close(float(r[5]), mx),
              "%s: %s vs %s" % (k, r, (c, sm / c, mx)))


def test_fraud():
    rows, header, data, _ = run_example("fraud", 40000)
    check(header == ["card", "window_start", "window_end", "count", "sum_amount",
                     "max_amount"], "header %s" % header)
    wm = closed([int(r[3]) for r in data], 2000)
    win = {}
    for card, _, amount, ts in data:
        for w in windows_of(int(ts), 60000, 10000):
            if w[1] <= wm:
                c, sm = win.get((card, w), (0, 0.0))
                win[(card, w)] = (c + 1, sm + float(amount))
    want = {k: v for k, v in win.items() if v[0] > 2 or v[1] > 5000}
    got = {(r[0], (int(r[1]), int(r[2]))): (int(r[3]), float(r[4])) for r in rows}
    check(len(rows) == len(got) and set(got) == set(want) and len(want) > 0,
          "%d flagged windows, oracle %d" % (len(got), len(want)))
    for k, (c, sm) in want.items():
        check(got[k][0] == c and close(got[k][1], sm), "%s: %s vs %s" % (k, got[k], (c, sm)))


def test_trends():
    rows, header, data, _ = run_example("trends", 200000)
    check(header == ["hashtag", "window_start", "window_end", "count",
                     "count_distinct_user"], "header %s" % header)
    wm = closed([int(r[2]) for r in data], 2000)
    win = {}
    for user, tag, ts in data:
        s = int(ts) // 60000 * 60000
        if s + 60000 <= wm:
            e = win.setdefault(s, {}).setdefault(tag, [0, set()])
            e[0] += 1
            e[1].add(user)
    check(len(win) >= 2, "only %d closed minutes" % len(win))
    for s, tags in win.items():
        top = sorted(tags.items(), key=lambda kv: (-kv[1][0], kv[0]))[:5]
        got = [r for r in rows if int(r[1]) == s]
        check([r[0] for r in got] == [t for t, _ in top],
              "minute %d: %s, oracle %s" % (s, [r[0] for r in got], [t for t, _ in top]))
        for r, (_, (c, users)) in zip(got, top):
            check(int(r[3]) == c and abs(int(r[4]) - len(users)) <= 0.2 * len(users),
                  "%s: %s vs %d, %d users" % (s, r, c, len(users)))
    minutes = [[r[0] for r in rows if int(r[1]) == s] for s in sorted(win)]
    check(any(m[:1] != minutes[0][:1] or m != minutes[0] for m in minutes[1:]),
          "the trending hashtag changes between minutes")


def test_recommendations():
    rows, header, data, _ = run_example("recommendations", 100000)
    check(header == ["user", "item", "window_start", "window_end", "count"], "header %s" % header)
    wm = closed([int(r[2]) for r in data], 1000)
    events = {}
    for user, item, ts in data:
        events.setdefault((user, item), []).append(int(ts))
    want = {}
    for k, ts in events.items():
        ts.sort()
        first = last = ts[0]
        n = 0
        for t in ts + [None]:
            if t is not None and t < last + 30000:
                last, n = max(last, t), n + 1
                continue
            if last + 30000 <= wm:
                want[(k, first)] = (last + 30000, n)
            if t is not None:
                first, last, n = t, t, 1
    got = {((r[0], r[1]), int(r[2])): (int(r[3]), int(r[4])) for r in rows}
    check(len(rows) == len(got) and got == want and len(want) > 1000,
          "%d session rows, oracle %d" % (len(got), len(want)))


def test_market():
    rows, header, data, _ = run_example("market", 200000)
    check(header == ["symbol", "window_start", "window_end", "count", "wavg_price",
                     "avg_price", "sum_qty"], "header %s" % header)
    wm = closed([int(r[3]) for r in data], 1000)
    win = {}
    for sym, price, qty, ts in data:
        for w in windows_of(int(ts), 300000, 60000):
            if w[1] <= wm:
                e = win.setdefault((sym, w), [0, 0.0, 0.0, 0])
                e[0] += 1
                e[1] += float(price) * int(qty)
                e[2] += float(price)
                e[3] += int(qty)
    got = {(r[0], (int(r[1]), int(r[2]))): r for r in rows}
    check(len(got) == len(rows) == len(win) >= 50, "%d windows, oracle %d" % (
        len(got), len(win)))
    for k, (c, pq, p, q) in win.items():
        r = got[k]
        check(int(r[3]) == c and close(float(r[4]), pq / q) and close(float(r[5]), p / c)
              and int(r[6]) == q, "%s: %s" % (k, r))


if __name__ == "__main__":
    main([test_iot_sensors, test_fraud, test_trends, test_recommendations, test_market])
