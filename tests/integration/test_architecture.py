"""The plugin tables and the engine's lifecycle, seen from outside: real
`ember` processes; expectations come from the registration files and from
counts computed here over the input."""
import os
import re

from harness import check, ember, main, tmpdir, write

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def registered(path, macro):
    text = open(os.path.join(ROOT, path)).read()
    return re.findall(r"^%s\((\w+)\)" % macro, text, re.M)


def test_reference_lists_every_registered_plugin():
    sources = registered("core/source/sources.def", "SOURCE")
    sinks = registered("core/sink/sinks.def", "SINK")
    check("blackhole" in sinks and "kafka" in sources, (sources, sinks))
    _, out, _ = ember("reference", "sources", check_rc=0)
    got = re.findall(r"^\| `(\w+)` \|", out, re.M)
    check(got == sources, "reference sources %r, sources.def %r" % (got, sources))
    _, out, _ = ember("reference", "sinks", check_rc=0)
    got = re.findall(r"^\| `(\w+)` \|", out, re.M)
    check(got == sinks, "reference sinks %r, sinks.def %r" % (got, sinks))
    ember("reference", "nosuch", check_rc=2)


def test_unknown_kind_lists_the_registered_ones():
    d = tmpdir("kinds")
    write(d + "/j.job", "job k\nsource file path=x\nsink jdbc\n")
    rc, _, err = ember("run", d + "/j.job", "--dir", d + "/ck")
    sinks = registered("core/sink/sinks.def", "SINK")
    want = ", ".join(sinks[:-1]) + " or " + sinks[-1]
    check(rc == 2 and "unknown sink 'jdbc' (expected %s)" % want in err, err)
    check(not os.path.exists(d + "/ck"), "a job that fails to load creates no checkpoint")


def test_blackhole_counts_the_rows_it_discards():
    d = tmpdir("bh")
    lines = ["k%d,%d" % (i % 7, i) for i in range(1000)]
    write(d + "/in.csv", "\n".join(lines) + "\n")
    write(d + "/j.job", f"""job bh
batch interval=1ms max-records=300
source file path={d}/in.csv
parse csv fields=k,v:int
filter v % 2 = 0
sink blackhole
""")
    _, _, err = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    kept = sum(1 for i in range(1000) if i % 2 == 0)
    batches = -(-1000 // 300)
    check("sink blackhole: %d rows discarded in %d batches" % (kept, batches) in err, err)


def test_restartable_option_may_change_layout_option_may_not():
    d = tmpdir("layout")
    job = """job lay
batch interval=1ms max-records=100
source generator kind=sensors seed=%d rate=%d count=300
parse csv fields=sensor,ts:int,temp:float
key sensor
aggregate count()
sink file dir=%s/out
"""
    write(d + "/a.job", job % (1, 0, d))
    ember("run", d + "/a.job", "--dir", d + "/ck", "--batches", "1", check_rc=0)
    write(d + "/b.job", job % (1, 100000, d))  # rate is OPT_RESTARTABLE
    ember("run", d + "/b.job", "--dir", d + "/ck", "--batches", "1", check_rc=0)
    write(d + "/c.job", job % (2, 100000, d))  # seed decides what the offsets mean
    rc, _, err = ember("run", d + "/c.job", "--dir", d + "/ck", "--batches", "1")
    check(rc == 2 and "layout" in err, "seed change refused: rc %d %s" % (rc, err))


def test_recovery_counts_replayed_records_not_bytes():
    d = tmpdir("replay")
    lines = ["s%d,%d,1.5" % (i % 5, i) for i in range(200)]
    write(d + "/in.csv", "\n".join(lines) + "\n")
    write(d + "/j.job", f"""job rp
batch interval=1ms max-records=50
source file path={d}/in.csv
parse csv fields=s,ts:int,t:float
key s
aggregate count()
sink file dir={d}/out
""")
    env = dict(os.environ, EMBER_FAILPOINTS="state.before_commit=crash@1")
    rc, _, _ = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", env=env)
    check(rc != 0, "the crash failpoint killed the first commit")
    _, _, err = ember("run", d + "/j.job", "--dir", d + "/ck", "--until-idle", check_rc=0)
    check("no committed batch in %s/ck; 1 planned batch in the WAL will be replayed" % d in err,
          err)
    check("starting fresh" not in err, err)
    check(re.search(r"recovery: replayed 1 batch \(50 records\)", err), err)


if __name__ == "__main__":
    main([test_reference_lists_every_registered_plugin,
          test_unknown_kind_lists_the_registered_ones,
          test_blackhole_counts_the_rows_it_discards,
          test_restartable_option_may_change_layout_option_may_not,
          test_recovery_counts_replayed_records_not_bytes])
