"""State TTL, dedupe and the stream-static join through real `ember run`
processes, each checked against a Python oracle over the same input."""
import random
import time

from harness import batch_files, check, close, ember, main, state_json, tmpdir, write


def ttl_job(d, ttl="1s"):
    write(d + "/t.job", f"""job ttl
batch      interval=1ms max-records=100000
checkpoint dir={d}/ckpt
source     file path={d}/in.csv
parse      csv fields=k,v:int
key        k
ttl        {ttl}
aggregate  count() sum(v)
sink       file dir={d}/out
""")
    return d + "/t.job"


def test_ttl_expires_idle_keys():
    """Phase 1 touches keys A; after more than the TTL of batch time, phase 2
    touches keys B. Keys of A not in B expire; keys in both keep their sums."""
    d = tmpdir("ttl")
    rnd = random.Random(4)
    a = [("a%03d" % rnd.randrange(300), rnd.randrange(100)) for _ in range(2000)]
    b = [("a%03d" % rnd.randrange(150, 450), rnd.randrange(100)) for _ in range(2000)]
    write(d + "/in.csv", "".join("%s,%d\n" % r for r in a))
    j = ttl_job(d)
    ember("run", j, "--until-idle", check_rc=0)
    time.sleep(1.3)
    with open(d + "/in.csv", "a") as f:
        f.write("".join("%s,%d\n" % r for r in b))
    _, _, err = ember("run", j, "--until-idle", check_rc=0)
    in_b = {k for k, _ in b}
    want = {}
    for k, v in a + b:
        if k in in_b:
            c, s = want.get(k, (0, 0))
            want[k] = (c + 1, s + v)
    got = {r["k"]: (r["count"], r["sum_v"]) for r in state_json(d + "/ckpt")}
    check(got == want, "state after expiry: %d keys, oracle %d" % (len(got), len(want)))
    expired = len({k for k, _ in a} - in_b)
    check(("expired %d " % expired) in err, "progress line counts %d expired keys: %s" % (
        expired, err.strip().splitlines()[-1]))
    timers = state_json(d + "/ckpt", "timers")
    check(sorted(t["key"] for t in timers) == sorted(want),
          "one timer per live key, none for expired ones")


if __name__ == "__main__":
    main([test_ttl_expires_idle_keys])
