"""Scale-out: `ember run JOB --instance ID` instances of one job sharing its
partitions through a consumer group, state following its task through the
changelog topic (README, "Scale-out").

One scenario on `ember broker` (127.0.0.1): three instances; kill -9 one
(its tasks move and restore from the changelog); start a fourth; SIGTERM
one; SIGSTOP one past the session timeout (its tasks move) and SIGCONT it
(a zombie: fenced by the task markers). Input keyed by the state key. At
the end the oracle, computed here from the input alone, must equal
  * every key's state over the instances (`ember state DIR --task N`, from
    the instance whose local commit is the task's counted head), and
  * the output topic read back with the task markers folded here (an
    independent reading of the rule F1-F3 of core/kafka/taskmark.h): per
    key, the last counted row; no counted batch missing, none twice.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import check, ember, main, tmpdir, write, EMBER  # noqa: E402
from test_kafka import Broker, kcat  # noqa: E402

PARTS = 4
JOB = "so"


def job_text(addr, d, keyed=True):
    """keyed: the input's message key is the state key; else the input is
    spread at random and the job filters (v >= 100) before its key."""
    return f"""job        {JOB}
batch      interval=200ms max-records=400
checkpoint dir={d}/unused every=5 keep=2
source     kafka brokers={addr} topic=in group=so-group keyed-by={'k' if keyed else 'none'}
parse      csv fields=k,v:int
{'' if keyed else 'filter     v >= 100'}
key        k
aggregate  count() sum(v)
sink       kafka brokers={addr} topic=out
"""


def topics(keyed):
    names = ["in", "out", JOB + "-tasks", JOB + "-state-changelog"]
    if not keyed:
        names += [JOB + ".0-tasks", JOB + ".0-state-changelog", JOB + "-repartition-0"]
    return ["%s:%d" % (t, PARTS) for t in names]


def produce(addr, d, n, seed, oracle, keyed=True):
    r = random.Random(seed)
    lines = []
    for _ in range(n):
        k = "k%d" % r.randrange(200)
        v = r.randrange(1000)
        lines.append("%s|%s,%d" % (k, k, v) if keyed else "%s,%d" % (k, v))
        if keyed or v >= 100:
            c, s = oracle.get(k, (0, 0))
            oracle[k] = (c + 1, s + v)
    path = os.path.join(d, "in-%d.txt" % seed)
    write(path, "\n".join(lines) + "\n")
    how = ["-K", "|"] if keyed else ["-p", "-1"]  # by key, or at random
    p = subprocess.run(["kcat", "-P", "-b", addr, "-t", "in"] + how + ["-l", path],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "kcat -P: " + p.stderr[-300:])


class Instance:
    def __init__(self, d, name):
        self.name, self.dir = name, os.path.join(d, name)
        self.log = open(os.path.join(d, name + ".log"), "ab")
        self.p = subprocess.Popen([EMBER, "run", os.path.join(d, "so.job"), "--instance", name,
                                   "--dir", self.dir], stdout=self.log, stderr=self.log)

    def status(self):
        try:
            with open(os.path.join(self.dir, "instance.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        rc = self.p.wait(timeout=60)
        check(sig == signal.SIGKILL or rc == 0, "instance %s exited %d" % (self.name, rc))


def wait_caught_up(live, total, what, timeout=90):
    """Every task running on a live instance, their input offsets summing to
    the input, no lag (a repartitioned job's second stage too)."""
    give_up = time.time() + timeout
    while time.time() < give_up:
        tasks, fresh, lag = {}, True, 0
        for inst in live:
            st = inst.status()
            if not st or st["time_ms"] < (time.time() - 3) * 1000:
                fresh = False
                continue
            for t in st["tasks"]:
                lag += t["lag"] + (t["phase"] != "running" or t["fenced"])
                if t["topic"] == "in" and t["phase"] == "running" and not t["fenced"]:
                    tasks[t["task"]] = max(t["offset"], 0)
        if (fresh and not lag and sorted(tasks) == list(range(PARTS))
                and sum(tasks.values()) == total):
            return
        time.sleep(0.5)
    check(False, "%s: not caught up within %d s: %r" % (what, timeout,
                                                        [i.status() for i in live]))


def fold_markers(addr):
    """Per task: {batch: attempt} counted, by F1-F3 (written here anew)."""
    chains = {p: {"epoch": 0, "owner": "", "head": 0, "att": {}} for p in range(PARTS)}
    for line in kcat(addr, JOB + "-tasks", "%p|%s\\n").splitlines():
        p, v = line.split("|", 1)
        kind, *fields = v.split()
        f = dict(x.split("=", 1) for x in fields)
        c = chains[int(p)]
        if kind == "claim":
            if int(f["epoch"]) > c["epoch"] and int(f["base"]) == c["head"]:
                c["epoch"], c["owner"] = int(f["epoch"]), f["owner"]
        elif (int(f["epoch"]) == c["epoch"] and f["owner"] == c["owner"]
              and int(f["batch"]) == c["head"] + 1):
            c["head"] = int(f["batch"])
            c["att"][c["head"]] = f["attempt"]
    return chains


def output_by_key(addr, chains):
    """The last counted row of every key; counted batches seen per task."""
    last, seen = {}, {p: set() for p in range(PARTS)}
    for line in kcat(addr, "out", "%h|%s\\n").splitlines():
        headers, value = line.split("|", 1)
        h = dict(x.split("=", 1) for x in headers.split(","))
        t, b = int(h["ember.task"]), int(h["ember.batch"])
        if chains[t]["att"].get(b) != h["ember.attempt"]:
            continue  # an attempt that did not count (aborted, a zombie's)
        seen[t].add(b)
        k, c, s = value.split("\t")
        prev = last.get(k)
        check(prev is None or prev[0] == t, "key %s in tasks %r and %d" % (k, prev, t))
        check(prev is None or prev[1] < b, "key %s: batch %d after %r" % (k, b, prev))
        check(prev is None or prev[2] < int(c), "key %s: count %s after %r" % (k, c, prev))
        last[k] = (t, b, int(c), int(s))
    return last, seen


def task_state(instances, chains, op="aggregate"):
    """Every key's state, per task from the instance holding the counted head."""
    state = {}
    for t in range(PARTS):
        found = False
        for inst in instances:
            d = os.path.join(inst.dir, "tasks", str(t))
            if not os.path.isdir(os.path.join(d, "db")):
                continue
            rc, out, _ = ember("inspect", d, "--format", "json")
            if rc != 0 or json.loads(out).get("committed", {}).get("batch") != chains[t]["head"]:
                continue
            rc, out, err = ember("state", inst.dir, "--task", str(t), "--op", op,
                                 "--format", "json", check_rc=0)
            for row in json.loads(out):
                check(row["k"] not in state, "key %s in two tasks" % row["k"])
                state[row["k"]] = (row["count"], row["sum_v"])
            found = True
            break
        check(found, "task %d: no instance holds its counted head %d" % (t, chains[t]["head"]))
    return state


def kill_left(instances, broker):
    """The `finally` of every case: instances still running are killed
    (resumed first, if stopped), then the broker stops."""
    for inst in instances:
        if inst and inst.p.poll() is None:
            inst.p.send_signal(signal.SIGCONT)
            inst.p.kill()
            inst.p.wait()
    broker.stop()


def check_oracle(addr, instances, oracle, what, chains=None, op="aggregate"):
    """The output topic (the last counted row per key) and the state of
    every task both equal the oracle."""
    chains = chains or fold_markers(addr)
    last, _ = output_by_key(addr, chains)
    check({k: (v[2], v[3]) for k, v in last.items()} == oracle, "%s: output != oracle" % what)
    check(task_state(instances, chains, op) == oracle, "%s: state != oracle" % what)


def scale_out(keyed):
    d = tmpdir("scale-out")
    b = Broker(*topics(keyed))
    oracle, total, everyone = {}, 0, []
    try:
        write(os.path.join(d, "so.job"), job_text(b.addr, d, keyed))

        def more(seed, n=1500):
            nonlocal total
            produce(b.addr, d, n, seed, oracle, keyed)
            total += n

        more(1)
        a, bb, c = (Instance(d, n) for n in ("a", "b", "c"))
        everyone += [a, bb, c]
        wait_caught_up([a, bb, c], total, "three instances")
        bb.stop(signal.SIGKILL)
        more(2)
        wait_caught_up([a, c], total, "after kill -9 of b")
        dd = Instance(d, "d")
        everyone.append(dd)
        more(3)
        wait_caught_up([a, c, dd], total, "with a fourth instance")
        c.stop(signal.SIGTERM)
        more(4)
        wait_caught_up([a, dd], total, "after SIGTERM of c")
        a.p.send_signal(signal.SIGSTOP)
        more(5)
        time.sleep(9)  # past the 6 s session timeout: a's tasks move to d
        wait_caught_up([dd], total, "a stopped (SIGSTOP)")
        a.p.send_signal(signal.SIGCONT)
        more(6)
        wait_caught_up([a, dd], total, "a back (SIGCONT)")
        for inst in (a, dd):
            inst.stop(signal.SIGTERM)
        chains = fold_markers(b.addr)
        last, seen = output_by_key(b.addr, chains)
        for t in range(PARTS):
            check(seen[t] <= set(chains[t]["att"]), "task %d: output of uncounted batches" % t)
        got_out = {k: (v[2], v[3]) for k, v in last.items()}
        check(got_out == oracle, "output topic != oracle: %d keys vs %d; first differences %r" % (
            len(got_out), len(oracle),
            [(k, got_out.get(k), oracle.get(k)) for k in sorted(set(got_out) | set(oracle))
             if got_out.get(k) != oracle.get(k)][:5]))
        got_state = task_state(everyone, chains)
        check(got_state == oracle, "state != oracle: %r" % (
            [(k, got_state.get(k), oracle.get(k)) for k in sorted(set(got_state) | set(oracle))
             if got_state.get(k) != oracle.get(k)][:5]))
        logs = "".join(open(os.path.join(d, n + ".log"), errors="replace").read()
                       for n in ("a", "b", "c", "d"))
        check("AddressSanitizer" not in logs and "runtime error" not in logs, "sanitizer report")
        check("restored batches" in logs, "no task restored from the changelog")
        print("       %s: %d records, %d keys, heads %r" % (
            "keyed" if keyed else "repartitioned", total, len(oracle),
            [chains[t]["head"] for t in range(PARTS)]))
    finally:
        kill_left(everyone, b)


def test_scale_out_keyed_input():
    scale_out(keyed=True)


def test_scale_out_repartitioned_input():
    scale_out(keyed=False)


def test_repartitioned_results_equal_with_1_2_3_instances():
    """The same input (spread at random over the partitions) through 1, 2
    and 3 instances: state and output equal the oracle every time."""
    for k in (1, 2, 3):
        d = tmpdir("scale-out-%d" % k)
        b = Broker(*topics(False))
        oracle, insts = {}, []
        try:
            write(os.path.join(d, "so.job"), job_text(b.addr, d, keyed=False))
            produce(b.addr, d, 3000, 21, oracle, keyed=False)
            insts = [Instance(d, "i%d" % i) for i in range(k)]
            wait_caught_up(insts, 3000, "%d instance(s)" % k)
            for inst in insts:
                inst.stop()
            check_oracle(b.addr, insts, oracle, "%d instance(s)" % k)
        finally:
            kill_left(insts, b)


def test_repartitioned_replay_after_a_crash():
    """A crash after a batch's PLAN is durable and before its commit: the
    new process replays the planned batch of each stage. The second stage's
    planned range of the repartition topic must read the same records as
    the first time, which only the first stage's markers decide (a new
    process has folded none of them yet: it lost 200 records once, seen by
    the scale-out chaos scenario)."""
    for n in (9, 13):
        d = tmpdir("scale-out-replay-%d" % n)
        b = Broker(*topics(False))
        oracle, inst = {}, None
        try:
            write(os.path.join(d, "so.job"), job_text(b.addr, d, keyed=False))
            produce(b.addr, d, 3000, 41, oracle, keyed=False)
            env = dict(os.environ, EMBER_FAILPOINTS="wal.after_append=crash@%d" % n)
            log = open(os.path.join(d, "a.log"), "ab")
            p = subprocess.Popen([EMBER, "run", os.path.join(d, "so.job"), "--instance", "a",
                                  "--dir", os.path.join(d, "a")], stdout=log, stderr=log, env=env)
            rc = p.wait(timeout=120)
            check(rc == -signal.SIGKILL, "crash@%d: exited %d, not at the failpoint" % (n, rc))
            inst = Instance(d, "a")
            wait_caught_up([inst], 3000, "after the crash at the %dth PLAN" % n)
            inst.stop()
            text = open(os.path.join(d, "a.log"), errors="replace").read()
            check("recovery: replayed 1 batch" in text, "crash@%d: no batch replayed" % n)
            check_oracle(b.addr, [inst], oracle, "crash@%d" % n)
        finally:
            kill_left([inst], b)


def test_co_partitioned_inputs():
    """Two input topics keyed alike (a union of two streams): task N reads
    partition N of both, so every key's state gathers both inputs."""
    d = tmpdir("scale-out-copart")
    b = Broker(*(topics(True) + ["in2:%d" % PARTS]))
    oracle, insts = {}, []
    try:
        write(os.path.join(d, "so.job"), f"""job        {JOB}
batch      interval=200ms max-records=400
checkpoint dir={d}/unused every=5 keep=2
stream a
source     kafka brokers={b.addr} topic=in group=so-group keyed-by=k
parse      csv fields=k,v:int
stream b
source     kafka brokers={b.addr} topic=in2 keyed-by=k
parse      csv fields=k,v:int
stream u from a, b
key        k
aggregate  count() sum(v)
sink       kafka brokers={b.addr} topic=out
""")
        produce(b.addr, d, 2000, 31, oracle)
        os.rename(os.path.join(d, "in-31.txt"), os.path.join(d, "in2.txt"))
        p = subprocess.run(["kcat", "-P", "-b", b.addr, "-t", "in2", "-K", "|", "-l",
                            os.path.join(d, "in2.txt")], capture_output=True, text=True,
                           timeout=60)
        check(p.returncode == 0, "kcat -P in2: " + p.stderr[-300:])
        # produce() wrote seed 31 to `in` as well: count it twice in the oracle
        oracle = {k: (c * 2, s * 2) for k, (c, s) in oracle.items()}
        insts = [Instance(d, n) for n in ("a", "b")]
        wait_caught_up(insts, 2000, "two instances, two inputs")
        give_up, got = time.time() + 60, None
        while time.time() < give_up:
            chains = fold_markers(b.addr)
            last, _ = output_by_key(b.addr, chains)
            got = {k: (v[2], v[3]) for k, v in last.items()}
            if got == oracle:
                break
            time.sleep(1)
        check(got == oracle, "output != oracle over both inputs: %d keys vs %d" % (
            len(got or {}), len(oracle)))
        for inst in insts:
            inst.stop()
        # the graph's aggregate is node 2's family (state/layout.h)
        check(task_state(insts, fold_markers(b.addr), "aggregate.2") == oracle,
              "state != oracle")
    finally:
        kill_left(insts, b)


def test_fenced_by_a_claim():
    """Another owner's claim (written here, as a new owner's restore would)
    fences the running owner: its next commit of that task is refused, it
    gives the task up without writing, and nothing it produced after the
    claim counts. The group still gives it the task: a session timeout
    later it restores, claims a newer epoch and catches up by itself."""
    d = tmpdir("scale-out-fence")
    b = Broker(*topics(True))
    oracle, inst = {}, None
    try:
        write(os.path.join(d, "so.job"), job_text(b.addr, d))
        produce(b.addr, d, 1000, 11, oracle)
        inst = Instance(d, "a")
        wait_caught_up([inst], 1000, "one instance")
        head = fold_markers(b.addr)[0]["head"]
        p = subprocess.run(["kcat", "-P", "-b", b.addr, "-t", JOB + "-tasks", "-p", "0"],
                           input="claim epoch=99 owner=intruder base=%d\n" % head,
                           capture_output=True, text=True, timeout=30)
        check(p.returncode == 0, "kcat: " + p.stderr)
        produce(b.addr, d, 1000, 12, oracle)
        give_up = time.time() + 60
        while time.time() < give_up:
            st = inst.status()
            if st and any(t["task"] == 0 and t["fenced"] for t in st["tasks"]):
                break
            time.sleep(0.3)
        check(time.time() < give_up, "task 0 not fenced: %r" % inst.status())
        fenced_at = time.time()
        chains = fold_markers(b.addr)
        check(chains[0]["owner"] == "intruder" and chains[0]["head"] == head,
              "task 0 after the claim: %r" % chains[0])
        wait_caught_up([inst], 2000, "after the fence")
        check(time.time() - fenced_at > 5, "task 0 claimed again before a session timeout")
        inst.stop()
        log = open(os.path.join(d, "a.log"), errors="replace").read()
        check("refused: the task was claimed by intruder" in log, "no refusal logged")
        chains = fold_markers(b.addr)
        check(chains[0]["owner"] == "a" and chains[0]["epoch"] == 100, "%r" % chains[0])
        check_oracle(b.addr, [inst], oracle, "after the fence", chains)
    finally:
        kill_left([inst], b)


def test_sigterm_before_the_first_assignment():
    """SIGTERM at any moment of joining, before or after the group's first
    assignment, ends the instance with exit code 0: librdkafka 2.0.2 aborts
    when a cooperative-sticky member is destroyed between its JoinGroup and
    its first SyncGroup (librdkafka issue 4312); seen in 3 of 25 tries at
    random moments before the instance waited for its assignment."""
    d = tmpdir("scale-out-early-term")
    b = Broker(*topics(True))
    others = []
    try:
        write(os.path.join(d, "so.job"), job_text(b.addr, d))
        others = [Instance(d, "a"), Instance(d, "b")]
        time.sleep(2)
        r = random.Random(5)
        for round_ in range(3):  # four at a time join a group with members: rebalances
            joining = [Instance(d, "x%d.%d" % (round_, i)) for i in range(4)]
            t0 = time.time()
            for delay, inst in sorted(((r.uniform(0.2, 3.0), inst) for inst in joining),
                                      key=lambda x: x[0]):
                time.sleep(max(0.0, t0 + delay - time.time()))
                inst.p.send_signal(signal.SIGTERM)
            for inst in joining:
                inst.stop()  # exit code 0
                log = open(os.path.join(d, inst.name + ".log"), errors="replace").read()
                check("Assertion" not in log, "%s: %s" % (inst.name, log[-300:]))
        for inst in others:
            inst.stop()
    finally:
        kill_left(others, b)


if __name__ == "__main__":
    main([test_sigterm_before_the_first_assignment, test_fenced_by_a_claim,
          test_repartitioned_replay_after_a_crash, test_co_partitioned_inputs,
          test_repartitioned_results_equal_with_1_2_3_instances,
          test_scale_out_keyed_input, test_scale_out_repartitioned_input])
