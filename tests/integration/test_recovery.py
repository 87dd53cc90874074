"""Recovery decisions seen from the outside: input that vanished before a
planned batch could be replayed (fail with a message naming the partition and
range, or skip and count it with on-data-loss=skip), and the recovery lines."""
import os

from harness import check, ember, gen_file, main, tmpdir, write


def job(d, extra=""):
    write(d + "/r.job", f"""job rec
batch      interval=1ms max-records=1000
checkpoint dir={d}/ckpt every=0 {extra}
source     file path={d}/in.csv
parse      csv fields=sensor,ts:int,temp:float
key        sensor
aggregate  count()
sink       file dir={d}/out
""")
    return d + "/r.job"


def crash_after_plan_then_truncate(d, extra=""):
    gen_file("sensors", 5000, 3, d + "/in.csv")
    j = job(d, extra)
    rc, _, _ = ember("run", j, "--until-idle", env={"EMBER_FAILPOINTS": "wal.after_append=crash@3"})
    check(rc == -9, "crash failpoint kills the job, got %d" % rc)
    os.truncate(d + "/in.csv", 1500)  # batch 3's planned bytes are gone
    return j


def test_missing_input_stops_with_the_range():
    d = tmpdir("loss")
    j = crash_after_plan_then_truncate(d)
    rc, _, err = ember("run", j, "--until-idle")
    check(rc == 1, "exit 1 on data loss, got %d" % rc)
    check("partition 0" in err and "is gone" in err and "on-data-loss=skip" in err, err)
    check("committed batch 2 found" in err, err)


def test_on_data_loss_skip_logs_and_goes_on():
    d = tmpdir("skip")
    j = crash_after_plan_then_truncate(d, "on-data-loss=skip")
    rc, _, err = ember("run", j, "--until-idle")
    check(rc == 0, "exit 0 with on-data-loss=skip, got %d: %s" % (rc, err))
    check("recovery: on-data-loss=skip" in err and "planned records skipped" in err, err)


if __name__ == "__main__":
    main([test_missing_input_stops_with_the_range, test_on_data_loss_skip_logs_and_goes_on])
