"""source http: an acknowledging receiver. A client posts records with ids
and sends again whatever was not answered 200; ember is killed with -9 at
random moments and restarted; the job dedupes on the id. Every record counts
exactly once, against the client's own tally. Also 413, 404, 405 and 503."""
import os
import random
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from harness import EMBER, check, ember, main, state_json, tmpdir, write


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def job(d, port, extra="", host="127.0.0.1:"):
    write(d + "/j.job", f"""job hs
batch interval=20ms max-records=500
source http listen={host}{port} {extra}
parse csv fields=id,k,v:int
dedupe id within 1h
key k
aggregate count() sum(v)
sink file dir={d}/out
""")
    return d + "/j.job"


def post(port, body, path="/ingest", method="POST", timeout=5):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body.encode(),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError):
        return None, ""


def start(d, jobfile):
    return subprocess.Popen([EMBER, "run", jobfile, "--dir", d + "/ck"],
                            stderr=open(d + "/err.log", "a"), stdout=subprocess.DEVNULL)


def wait_listening(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def test_acknowledged_records_survive_kill9_once():
    d, port = tmpdir("http"), free_port()
    jobfile = job(d, port)
    rnd = random.Random(5)
    records = [("r%05d" % i, "k%d" % rnd.randrange(7), rnd.randrange(100)) for i in range(3000)]
    posts = []
    i = 0
    while i < len(records):
        n = rnd.randint(1, 40)
        posts.append(records[i:i + n])
        i += n
    acked, sent = [0], [0]

    def client():
        for p in posts:
            body = "".join("%s,%s,%d\n" % r for r in p)
            deadline = time.time() + 120
            while time.time() < deadline:
                sent[0] += 1
                status, _ = post(port, body)
                if status == 200:
                    acked[0] += 1
                    break
                time.sleep(0.05)

    proc = start(d, jobfile)
    t = threading.Thread(target=client)
    t.start()
    kills = 0
    while t.is_alive() and kills < 6:
        time.sleep(rnd.uniform(0.3, 1.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        proc = start(d, jobfile)
    t.join(timeout=180)
    check(acked[0] == len(posts), "every post answered 200 in the end (%d of %d)" % (
        acked[0], len(posts)))
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    check(proc.wait(timeout=30) == 0, "a stop exits 0")
    want = {}
    for _, k, v in records:
        c, s = want.get(k, (0, 0))
        want[k] = (c + 1, s + v)
    got = {o["k"]: (o["count"], o["sum_v"]) for o in state_json(d + "/ck")}
    check(got == want, "state %r, client tally %r (%d kills, %d sends for %d posts)" % (
        got, want, kills, sent[0], len(posts)))


def test_answers_for_bad_requests():
    d, port = tmpdir("httpbad"), free_port()
    proc = start(d, job(d, port, "max-body=100 max-pending=200"))
    try:
        check(wait_listening(port, time.time() + 30), "listening")
        status, _ = post(port, "x" * 101 + "\n")
        check(status == 413, "over max-body: %r" % status)
        check(post(port, "a,b,1\n", path="/other")[0] == 404, "other path")
        check(post(port, "", method="PUT")[0] == 405, "other method")
        status, text = post(port, "id1,k,1\nid2,k,2\n")
        check(status == 200 and "accepted 2 records" in text, (status, text))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_listens_on_loopback_only_by_default():
    d, port = tmpdir("httplo"), free_port()
    proc = start(d, job(d, port, host=""))
    try:
        check(wait_listening(port, time.time() + 30), "listening on 127.0.0.1")
        out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
        lines = [l for l in out.splitlines() if ":%d " % port in l]
        check(lines and all("127.0.0.1:%d" % port in l for l in lines), lines)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


if __name__ == "__main__":
    main([test_acknowledged_records_survive_kill9_once, test_answers_for_bad_requests,
          test_listens_on_loopback_only_by_default])
