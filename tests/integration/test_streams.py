"""Sources that cannot be replayed (stdin, socket): their batches' records go
into the WAL before processing, so a kill -9 never loses or duplicates what a
batch took. Checked with real `ember run` processes against the input sent."""
import glob
import os
import socket
import subprocess
import threading
import time

from harness import check, ember, main, tmpdir, write, batch_files, EMBER


def stream_job(d, src, batch=300):
    write(d + "/s.job", f"""job stream
batch      interval=5ms max-records={batch}
checkpoint dir={d}/ckpt every=3
source     {src}
parse      csv fields=k,seq:int
sink       file dir={d}/out
""")
    return d + "/s.job"


def output_seqs(d):
    return [int(r[1]) for _, _, rows in batch_files(d + "/out") for r in rows]


def test_stdin_until_eof():
    d = tmpdir("stdin")
    lines = "".join("k%d,%d\n" % (i % 7, i) for i in range(5000))
    ember("run", stream_job(d, "stdin"), "--until-idle", stdin=lines, check_rc=0)
    check(output_seqs(d) == list(range(5000)), "stdin records in order, once each")


class Feeder:
    """A TCP server that sends seq-numbered lines to whoever connects."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.next = 0

    def serve(self, count, pace_every=200, pause=0.01):
        conn, _ = self.srv.accept()
        end = self.next + count
        try:
            while self.next < end:
                conn.sendall(("k%d,%d\n" % (self.next % 5, self.next)).encode())
                self.next += 1
                if self.next % pace_every == 0:
                    time.sleep(pause)
        except OSError:
            pass  # the job was killed mid-stream
        conn.close()


def test_socket_kill9_in_flight():
    d = tmpdir("socket")
    feeder = Feeder()
    job = stream_job(d, "socket host=127.0.0.1 port=%d" % feeder.port)
    t = threading.Thread(target=feeder.serve, args=(20000,))
    t.start()
    p = subprocess.Popen([EMBER, "run", job], stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(glob.glob(d + "/out/*.tsv")) < 2:
        time.sleep(0.05)
    p.kill()
    p.wait()
    t.join(timeout=60)
    first_phase = feeder.next
    t = threading.Thread(target=feeder.serve, args=(3000, 100, 0.0))
    t.start()
    _, _, err = ember("run", job, "--until-idle", check_rc=0)
    t.join(timeout=60)
    seqs = output_seqs(d)
    check(len(seqs) == len(set(seqs)), "no record is output twice")
    phase1 = [s for s in seqs if s < first_phase]
    check(phase1 == list(range(len(phase1))), "phase 1 output is a prefix with no holes")
    check(len(phase1) > 0, "some records were processed before the kill")
    phase2 = [s for s in seqs if s >= first_phase]
    check(phase2 == list(range(first_phase, first_phase + 3000)), "phase 2 complete")


if __name__ == "__main__":
    main([test_stdin_until_eof, test_socket_kill9_in_flight])
