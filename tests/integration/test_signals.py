"""SIGINT/SIGTERM end every wait of `ember run` within a second and exit 0.

A stop arrives while the job waits: a socket source retrying its connection,
a Kafka source whose cluster is unreachable, brokers taken down mid-run
(`kill -USR1` of `ember broker`) while the source plans or the sink waits for
acknowledgements. Each time the job must exit 0 soon after the signal, end
with the line `stopped after batch N, committed` (N = the checkpoint's last
commit), and a second run after the cluster is back must give exactly-once
output: nothing committed before the stop is lost, nothing is doubled.
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from harness import EMBER, check, main, tmpdir, write
from test_kafka import Broker, kafka_job, kcat, markers, no_sanitizer_report, produce, \
    verify_exactly_once

# "within a second" of the signal; the process's own exit (RocksDB close,
# LeakSanitizer's scan in the sanitizer build) comes on top of that.
STOP_WITHIN_S = 1.0
EXIT_SLACK_S = 0.5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Job:
    """`ember run JOB` in the background, its stderr collected line by line."""

    def __init__(self, job, *args):
        self.p = subprocess.Popen([EMBER, "run", job, *args], stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(re.search(pattern, l) for l in self.lines):
                return
            check(self.p.poll() is None, "the job exited (%s) before %r:\n%s" % (
                self.p.returncode, pattern, "\n".join(self.lines[-20:])))
            time.sleep(0.05)
        check(False, "no line matching %r within %d s:\n%s" % (pattern, timeout,
                                                                "\n".join(self.lines[-20:])))

    def stop(self, sig=signal.SIGINT, repeat=1):
        """Sends sig (repeat times, 100 ms apart); returns seconds until exit."""
        t0 = time.time()
        for i in range(repeat):
            if i:
                time.sleep(0.1)
            self.p.send_signal(sig)
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            check(False, "still running 60 s after %s" % sig.name)
        self.reader.join(timeout=10)
        return time.time() - t0

    def text(self):
        return "\n".join(self.lines)


def check_stopped(job, took, sig, last):
    err = job.text()
    no_sanitizer_report(err)
    raw = [l for l in job.lines if re.match(r"%\d+\|", l)]
    check(not raw, "raw librdkafka lines on stderr:\n" + "\n".join(raw[:5]))
    check(job.p.returncode == 0, "%s: exit %d:\n%s" % (sig.name, job.p.returncode, err[-2000:]))
    check(took < STOP_WITHIN_S + EXIT_SLACK_S, "%s: exited %.1f s after the signal:\n%s" % (
        sig.name, took, err[-1500:]))
    check(job.lines and re.fullmatch(last, job.lines[-1]), "last line %r, wanted %r" % (
        job.lines[-1] if job.lines else None, last))
    print("       %s: exit 0 after %.2f s: %s" % (sig.name, took, job.lines[-1]))


def committed_batch(ckpt):
    """The newest committed batch, from the checkpoint's progress.jsonl."""
    lines = open(ckpt + "/progress.jsonl").read().splitlines()
    return json.loads(lines[-1])["batch"] if lines else 0


def test_socket_connect_retries():
    """No server: the source retries its connection (20 times, ~30 s)."""
    d = tmpdir("sig-socket")
    write(d + "/s.job", f"""job s
checkpoint dir={d}/ckpt
source     socket host=127.0.0.1 port={free_port()}
parse      csv fields=a,b
sink       file dir={d}/out
""")
    for sig, repeat in ((signal.SIGINT, 1), (signal.SIGINT, 2), (signal.SIGTERM, 1)):
        job = Job(d + "/s.job")
        job.wait_for(r"retrying in [48]00 ms")  # in its third or fourth backoff
        took = job.stop(sig, repeat)
        check_stopped(job, took, sig, r"stopped before the first batch, nothing committed")


def test_kafka_unreachable_at_start():
    """Nothing listens at the address: the source retries until its timeout (30 s)."""
    d = tmpdir("sig-kafka")
    port = free_port()
    write(d + "/k.job", f"""job k
checkpoint dir={d}/ckpt
source     kafka brokers=127.0.0.1:{port} topic=in
sink       file dir={d}/out
""")
    for sig in (signal.SIGINT, signal.SIGTERM):
        job = Job(d + "/k.job")
        job.wait_for(r"cannot reach Kafka at 127\.0\.0\.1:%d.*retrying" % port)
        time.sleep(0.5)
        took = job.stop(sig)
        check_stopped(job, took, sig, r"stopped before the first batch, nothing committed")
    # The sink waits as long (init_transactions); the generator source is ready.
    write(d + "/s.job", f"""job s
checkpoint dir={d}/ckpt-sink
source     generator kind=sensors count=100
sink       kafka brokers=127.0.0.1:{port} topic=out
""")
    job = Job(d + "/s.job")
    job.wait_for(r"127\.0\.0\.1:%d.*retrying" % port)
    took = job.stop(signal.SIGINT)
    check_stopped(job, took, signal.SIGINT, r"stopped before the first batch, nothing committed")


def test_brokers_down_mid_run():
    """kafka -> count -> kafka with the brokers down: the source cannot plan,
    or the sink waits for acknowledgements. SIGINT ends either wait; the
    restarted job, brokers back, is exactly-once."""
    d = tmpdir("sig-outage")
    b = Broker("in:3")
    try:
        produce(b.addr, "in", 20000, 5)
        job_file = kafka_job(d, b.addr, max_records=200, interval="100ms")
        for attempt in range(2):
            job = Job(job_file)
            job.wait_for(r"^batch %d:" % (3 + attempt * 30))
            b.signal(signal.SIGUSR1)
            time.sleep(2.5)  # a request to the cluster is retried for up to 5 s
            took = job.stop(signal.SIGINT)
            n = committed_batch(d + "/ckpt")
            check_stopped(job, took, signal.SIGINT, r"stopped after batch %d, committed" % n)
            b.signal(signal.SIGUSR2)
        rc = subprocess.run([EMBER, "run", job_file, "--until-idle"], capture_output=True,
                            text=True, timeout=180)
        check(rc.returncode == 0, "catch-up run exit %d: %s" % (rc.returncode, rc.stderr[-1500:]))
        batches, records = verify_exactly_once(d, b.addr)
        print("       after 2 stops during outages: %d batches, %d records, exactly once" % (
            batches, records))
    finally:
        b.stop()


def test_sink_waiting_for_acknowledgements():
    """generator -> kafka: the source always has input, so with the brokers
    down the sink's transaction waits for acknowledgements. SIGINT ends the
    wait; the interrupted batch replays on the next run, once."""
    d = tmpdir("sig-acks")
    b = Broker()
    try:
        def job_file(rate):  # rate paces the generator only: not part of the state layout
            write(d + "/g.job", f"""job g
batch      interval=50ms max-records=500
checkpoint dir={d}/ckpt
source     generator kind=sensors count=30000 rate={rate}
parse      csv fields=sensor,ts:int,temp:float
key        sensor
aggregate  count()
sink       kafka brokers={b.addr} topic=out
""")
        job_file(4000)
        job = Job(d + "/g.job")
        job.wait_for(r"^batch 4:")
        b.signal(signal.SIGUSR1)
        job.wait_for(r"not yet acknowledged|retrying", timeout=30)
        took = job.stop(signal.SIGINT)
        n = committed_batch(d + "/ckpt")
        check_stopped(job, took, signal.SIGINT, r"stopped after batch %d, committed" % n)
        b.signal(signal.SIGUSR2)
        job_file(0)  # --until-idle: a paced generator looks idle between its records
        rc = subprocess.run([EMBER, "run", d + "/g.job", "--until-idle"], capture_output=True,
                            text=True, timeout=180)
        check(rc.returncode == 0, "catch-up run exit %d: %s" % (rc.returncode, rc.stderr[-1500:]))
        seen, newest = set(), {}
        for line in kcat(b.addr, "out", "%h|%s\\n").splitlines():
            headers, value = line.split("|", 1)
            batch = dict(x.split("=", 1) for x in headers.split(","))["ember.batch"]
            key, count = value.split("\t")
            check((batch, key) not in seen, "batch %s key %s twice in the topic" % (batch, key))
            seen.add((batch, key))
            newest[key] = max(newest.get(key, 0), int(count))
        m = markers(b.addr, "out", "g")
        check(m == sorted(set(m)) and m == list(range(1, len(m) + 1)), "markers %s" % m[-5:])
        check(sum(newest.values()) == 30000, "counts add up to %d, not 30000" % sum(
            newest.values()))
    finally:
        b.stop()


if __name__ == "__main__":
    main([test_socket_connect_retries, test_kafka_unreachable_at_start, test_brokers_down_mid_run,
          test_sink_waiting_for_acknowledgements])
