"""Backpressure (`batch backpressure=on`): when a batch takes longer than the
interval, the next batches shrink toward what the job processes in one
interval; max-records stays a hard cap; every record is still processed
exactly once. Oracles: per-sensor counts over `ember gen`'s file, the
generator's count, and the offsets in progress.jsonl."""
import json
import os
from collections import Counter

from harness import check, ember, gen_file, main, state_json, tmpdir, write

INTERVAL_MS = 20
MAX_RECORDS = 400000
COUNT = 1500000
# A batch also has a fixed cost (the commit's fsync): an interval shorter
# than that fits no batch, and the bound would sit at min-rate. The floor of
# min-rate x interval = 10000 records keeps the test's run short on a slow
# disk; unhindered, the settled batches here are larger than that.
MIN_RATE = 500000


def bp_job(d, batch, count=COUNT, every=0):
    job = os.path.join(d, "bp.job")
    write(job, f"""job bp-it
batch      {batch}
checkpoint dir={d}/ckpt every={every} keep=2
source     generator kind=sensors seed=11 count={count}
parse      csv fields=sensor,ts:int,temp:float
key        sensor
aggregate  count()
sink       file dir={d}/out
""")
    return job


def progress(d):
    return [json.loads(l) for l in open(d + "/ckpt/progress.jsonl")]


def oracle_counts(d, count):
    """Records per sensor of the generator's first `count` records."""
    path = d + "/in.csv"
    gen_file("sensors", count, 11, path)
    with open(path) as f:
        counts = Counter(line.split(",", 1)[0] for line in f)
    os.unlink(path)
    return counts


def check_exactly_once(d, lines, count):
    """Offsets advance by exactly each batch's records, end at `count`, and
    the state's counts match the oracle's."""
    prev = 0
    for l in lines:
        end = l["offsets"]["0"]
        check(end - prev == l["records_in"],
              "batch %d: offsets %d -> %d but %d records" % (l["batch"], prev, end,
                                                              l["records_in"]))
        prev = end
    check(prev == count, "last offset %d, generated %d" % (prev, count))
    want = oracle_counts(d, count)
    got = {o["sensor"]: o["count"] for o in state_json(d + "/ckpt")}
    check(sum(got.values()) == count, "state counts %d records, generated %d" % (
        sum(got.values()), count))
    check(got == dict(want), "per-sensor counts differ from the oracle")


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def test_batches_shrink_to_what_one_interval_processes():
    d = tmpdir("bp")
    job = bp_job(d, f"interval={INTERVAL_MS}ms max-records={MAX_RECORDS} backpressure=on "
                 f"min-rate={MIN_RATE}")
    _, _, err = ember("run", job, "--until-idle", "--progress", check_rc=0)
    lines = progress(d)
    check(all(l["backpressure"] is True for l in lines), "backpressure flag in progress")
    for l in lines:
        check(l["records_in"] <= MAX_RECORDS, "batch %d took %d > max-records" % (
            l["batch"], l["records_in"]))
        check(l["record_budget"] <= MAX_RECORDS and l["records_in"] <= l["record_budget"],
              "batch %d: %d records, budget %r" % (l["batch"], l["records_in"],
                                                   l["record_budget"]))
        for k in ("input_rate", "processing_rate", "scheduling_delay_ms"):
            check(l[k] >= 0, "batch %d: %s %r" % (l["batch"], k, l[k]))
    first = lines[0]
    check(first["records_in"] == MAX_RECORDS and first["rate_bound"] is None,
          "first batch: no estimate yet, takes max-records: %r" % first)
    check(first["processing_ms"] > 3 * INTERVAL_MS,
          "the test needs batches slower than the interval: %.1f ms" % first["processing_ms"])
    check(lines[1]["scheduling_delay_ms"] > INTERVAL_MS,
          "an overrun shows as the next batch's delay: %r" % lines[1]["scheduling_delay_ms"])
    bounded = [l for l in lines if l["rate_bound"] is not None]
    check(len(bounded) >= 5, "%d batches ran under a bound" % len(bounded))
    for l in bounded:
        want = min(MAX_RECORDS, max(MIN_RATE * INTERVAL_MS // 1000,
                                    int(l["rate_bound"] * INTERVAL_MS / 1000)))
        check(abs(l["record_budget"] - want) <= 1,  # the bound is printed rounded
              "batch %d: budget %d for bound %.1f" % (l["batch"], l["record_budget"],
                                                      l["rate_bound"]))
    # Settled: the bound follows the processing rate, so a batch takes about
    # one interval (the last one is cut short by count=, leave it out).
    settled = bounded[len(bounded) // 2:-1]
    check(settled, "no settled batches")
    check(max(l["records_in"] for l in settled) < MAX_RECORDS / 2,
          "settled batches still take %d" % max(l["records_in"] for l in settled))
    check(median([l["processing_ms"] for l in settled]) < first["processing_ms"] / 2,
          "settled batches take %.1f ms, the first %.1f ms" % (
              median([l["processing_ms"] for l in settled]), first["processing_ms"]))
    check(", bound " in err and "input " in err, "progress line shows the bound and rates")
    check_exactly_once(d, lines, COUNT)


def test_off_takes_max_records():
    d = tmpdir("bp-off")
    count = 250000
    job = bp_job(d, "interval=5ms max-records=100000", count=count)
    _, _, err = ember("run", job, "--until-idle", check_rc=0)
    lines = progress(d)
    check([l["records_in"] for l in lines] == [100000, 100000, 50000],
          "batches %r" % [l["records_in"] for l in lines])
    for l in lines:
        check(l["backpressure"] is False and l["rate_bound"] is None and
              l["record_budget"] == 100000, "progress %r" % l)
    check(", bound " not in err, "no bound without backpressure")
    check_exactly_once(d, lines, count)


def test_option_may_change_across_restarts():
    d = tmpdir("bp-restart")
    count = 300000
    ember("run", bp_job(d, "interval=10ms max-records=100000 backpressure=on min-rate=1000000",
                        count=count), "--batches", "2", check_rc=0)
    ember("run", bp_job(d, "interval=10ms max-records=60000 backpressure=off", count=count),
          "--batches", "1", check_rc=0)
    ember("run", bp_job(d, "interval=10ms max-records=100000 backpressure=on min-rate=1000000",
                        count=count), "--until-idle", check_rc=0)
    lines = progress(d)
    check(lines[2]["records_in"] == 60000 and lines[2]["backpressure"] is False,
          "the run with backpressure=off: %r" % lines[2])
    check_exactly_once(d, lines, count)


def test_replay_uses_the_planned_ranges():
    d = tmpdir("bp-replay")
    count = 200000
    job = bp_job(d, "interval=50ms max-records=100000 backpressure=on initial-rate=400000 "
                 "min-rate=100000", count=count, every=2)
    rc, _, _ = ember("run", job, "--until-idle",
                     env={"EMBER_FAILPOINTS": "state.before_commit=crash@4"})
    check(rc != 0, "the failpoint should kill the run")
    _, out, _ = ember("inspect", d + "/ckpt", "--format", "json", check_rc=0)
    plan = json.loads(out)["plan"]
    check(plan["batch"] == 4 and not plan["committed"], "plan %r" % plan)
    r = plan["ranges"][0]
    check(r["to"] - r["from"] <= 100000, "planned range %r" % r)
    ember("run", job, "--until-idle", check_rc=0)
    lines = progress(d)
    replay = [l for l in lines if l["replay"]]
    check(len(replay) == 1 and replay[0]["batch"] == 4, "replays %r" % replay)
    check(replay[0]["records_in"] == r["to"] - r["from"] and
          replay[0]["offsets"]["0"] == r["to"], "replay of %r: %r" % (r, replay[0]))
    check(replay[0]["record_budget"] is None and replay[0]["rate_bound"] is None,
          "a replay has no pacing: %r" % replay[0])
    check_exactly_once(d, lines, count)


def test_bad_option_is_a_usage_error():
    d = tmpdir("bp-bad")
    job = bp_job(d, "interval=10ms backpressure=maybe")
    _, _, err = ember("run", job, check_rc=2)
    check("bp.job:2:" in err and "backpressure" in err, "error: " + err)


if __name__ == "__main__":
    main([test_batches_shrink_to_what_one_interval_processes, test_off_takes_max_records,
          test_option_may_change_across_restarts, test_replay_uses_the_planned_ranges,
          test_bad_option_is_a_usage_error])
