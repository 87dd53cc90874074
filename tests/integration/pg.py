"""A real PostgreSQL for the tests: initdb into a temporary directory as the
`postgres` user, pg_ctl with the unix socket in that directory and no TCP
listener, stopped by stop(). Debian's postgresql package (make deps)."""
import glob
import os
import shutil
import subprocess
import tempfile
import time


def bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server (make deps installs Debian's postgresql)")
    return os.path.dirname(found[-1])


def as_postgres(args, timeout=120):
    cmd = args if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ember-pg-")
        os.chmod(self.dir, 0o777)
        self.data = os.path.join(self.dir, "data")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        p = as_postgres([bindir() + "/initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                         "--no-sync"])
        if p.returncode:
            raise RuntimeError("initdb failed: " + p.stderr)
        self.start()

    @property
    def conninfo(self):
        """A libpq URI (no spaces, so it needs no quotes in a job file)."""
        return "postgresql:///postgres?host=%s&user=postgres" % self.dir

    def start(self):
        p = as_postgres([bindir() + "/pg_ctl", "-D", self.data, "-l", self.dir + "/log", "-w",
                         "-t", "60", "-o", "-k %s -c listen_addresses='' -c fsync=on" % self.dir,
                         "start"])
        if p.returncode:
            raise RuntimeError("pg_ctl start failed: %s %s" % (p.stderr, open(self.dir + "/log").read()[-2000:]))

    def stop(self, mode="fast"):
        as_postgres([bindir() + "/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"])

    def psql(self, sql):
        p = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            self.conninfo, "-c", sql], capture_output=True, text=True, timeout=60)
        if p.returncode:
            raise RuntimeError("psql: " + p.stderr)
        return [line.split("\t") for line in p.stdout.splitlines() if line]

    def close(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
