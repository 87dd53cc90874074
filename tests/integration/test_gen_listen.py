"""`ember gen --to tcp-listen://HOST:PORT`: gen listens (like `nc -lk`) and
serves the generated records to whoever connects, which is what `source
socket` needs. Checked against `ember gen --to file:` with the same seed."""
import os
import socket
import subprocess
import time

from harness import EMBER, batch_files, check, ember, gen_file, main, tmpdir, write


def socket_job(d, port):
    write(d + "/s.job", f"""job listen
batch      interval=10ms max-records=700
checkpoint dir={d}/ckpt
source     socket host=127.0.0.1 port={port}
parse      csv fields=sensor,ts,temp
sink       file dir={d}/out
""")
    return d + "/s.job"


def output_lines(d):
    return [",".join(r) for _, _, rows in batch_files(d + "/out") for r in rows]


def start_gen(*args):
    """`ember gen ... --to tcp-listen://127.0.0.1:0`; returns (process, port)."""
    p = subprocess.Popen([EMBER, "gen", *map(str, args), "--to", "tcp-listen://127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    addr = p.stdout.readline().strip()
    check(addr.startswith("127.0.0.1:"), "first stdout line %r, stderr %s" % (
        addr, p.stderr.read() if p.poll() is not None else ""))
    return p, int(addr.rsplit(":", 1)[1])


def finish(p):
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    check(p.returncode == 0, "gen exit %d: %s" % (p.returncode, err[-800:]))
    return err


def test_socket_source_reads_what_gen_serves():
    d = tmpdir("gen-listen")
    gen_file("sensors", 5000, 9, d + "/want.csv")
    want = open(d + "/want.csv").read().splitlines()
    p, port = start_gen("sensors", "--count", 5000, "--seed", 9)
    ember("run", socket_job(d, port), "--until-idle", check_rc=0, timeout=120)
    finish(p)
    got = output_lines(d)
    check(got == want, "socket source got %d records, gen served %d (first difference at %s)" % (
        len(got), len(want), next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                                  min(len(got), len(want)))))


def test_next_client_goes_on_where_the_last_stopped():
    """A client that reads part and leaves: the next one gets the records
    after it, not record 0 again, through to the last. (Paced, so that gen
    still has records to send when the first client leaves: what the kernel
    had already taken for a client that leaves is lost, as with nc -lk.)"""
    d = tmpdir("gen-listen2")
    gen_file("sensors", 3000, 4, d + "/want.csv")
    want = open(d + "/want.csv").read().splitlines()
    p, port = start_gen("sensors", "--count", 3000, "--seed", 4, "--rate", 2000)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        first = b""
        while first.count(b"\n") < 100:
            first += c.recv(4096)
    time.sleep(0.2)  # gen sees the closed connection on its next sends
    ember("run", socket_job(d, port), "--until-idle", check_rc=0, timeout=120)
    err = finish(p)
    check("went away" in err, "gen said nothing about the first client: " + err)
    got = output_lines(d)
    head = [l.decode() for l in first.split(b"\n")[:100]]
    check(head == want[:100], "the first client got the first records")
    check(got and got[-1] == want[-1], "the job got the stream through to the last record")
    start = want.index(got[0])
    check(start >= 100, "the second client started at record %d, not after the first's" % start)
    check(got == want[start:], "the second client's records are contiguous from %d" % start)


def test_help_and_bad_destinations():
    rc, out, _ = ember("gen", "--help")
    check(rc == 0 and "tcp-listen://HOST:PORT" in out and "source socket" in out,
          "gen --help documents tcp-listen: " + out)
    check("a TCP listener (e.g. a socket source)" not in out, "the old, wrong tcp:// line")
    rc, _, err = ember("gen", "sensors", "--count", 1, "--to", "tcp-listen://nocolon")
    check(rc == 2 and "tcp-listen://HOST:PORT" in err, "malformed: exit %d %s" % (rc, err))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        rc, _, err = ember("gen", "sensors", "--count", 1, "--to",
                           "tcp-listen://127.0.0.1:%d" % port)
        check(rc == 1 and "Address already in use" in err, "port taken: exit %d %s" % (rc, err))
    rc, _, err = ember("gen", "sensors", "--count", 1, "--to", "udp://x:1")
    check(rc == 2 and "tcp-listen://" in err, "unknown destination lists tcp-listen: " + err)


if __name__ == "__main__":
    main([test_socket_source_reads_what_gen_serves, test_next_client_goes_on_where_the_last_stopped,
          test_help_and_bad_destinations])
