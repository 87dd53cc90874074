#!/usr/bin/env python3
"""sink postgres beside `psql \\copy` of the same rows, into a local server
started here (tests/integration/pg.py: initdb in a temp dir, unix socket).

    python3 bench/postgres_bench.py [--rows N]

ember: a stateless job (file -> parse -> sink postgres mode=append), rows/s
over the whole run (WAL, commits and the sink's transactions included).
psql: `\\copy T FROM FILE` of the same rows into an empty table of the same
columns. Both runs median of 3, interleaved; the ratio is the figure to
keep (this machine is shared)."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import pg  # noqa: E402

EMBER = os.path.abspath(os.environ.get("EMBER") or os.path.join(ROOT, "build", "ember"))


def main():
    rows = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 500_000
    tmp = tempfile.mkdtemp(prefix="ember-pgbench-")
    data = os.path.join(tmp, "in.csv")
    subprocess.run([EMBER, "gen", "sensors", "--count", str(rows), "--seed", "1", "--to",
                    "file:" + data], check=True, capture_output=True)
    server = pg.Server()
    ember_rates, copy_rates = [], []
    try:
        for i in range(3):
            d = os.path.join(tmp, "run%d" % i)
            os.mkdir(d)
            with open(d + "/j.job", "w") as f:
                f.write(f"""job pgbench
batch interval=1ms max-records=200000
checkpoint dir={d}/ckpt every=0
source file path={data}
parse csv fields=sensor,ts:int,temp:float
sink postgres conninfo={server.conninfo} table=e{i} create=yes mode=append
""")
            t0 = time.time()
            subprocess.run([EMBER, "run", d + "/j.job", "--until-idle"], check=True,
                           capture_output=True)
            ember_rates.append(rows / (time.time() - t0))
            server.psql("CREATE TABLE c%d (sensor text, ts bigint, temp double precision)" % i)
            t0 = time.time()
            subprocess.run(["psql", "-X", "-q", server.conninfo, "-c",
                            "\\copy c%d FROM '%s' WITH (FORMAT csv)" % (i, data)], check=True)
            copy_rates.append(rows / (time.time() - t0))
        got = server.psql("SELECT count(*) FROM e0")[0][0]
        if int(got) != rows:
            sys.exit("ember wrote %s rows, expected %d" % (got, rows))
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    e, c = statistics.median(ember_rates), statistics.median(copy_rates)
    print("| sink postgres, %d rows | %.0fK rows/s [%.0fK, %.0fK] |" % (
        rows, e / 1e3, min(ember_rates) / 1e3, max(ember_rates) / 1e3))
    print("| psql \\copy, same rows | %.0fK rows/s [%.0fK, %.0fK] |" % (
        c / 1e3, min(copy_rates) / 1e3, max(copy_rates) / 1e3))
    print("| ember / psql | %.2f |" % (e / c))


if __name__ == "__main__":
    main()
