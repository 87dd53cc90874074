"""The example jobs cut down for a comparison run: fewer records, batches
of a fixed size (no rate, 1 ms interval, so every batch holds the same
records on every run), a file sink in a scratch directory. Used by
test_examples_unchanged.py and by tests/fixtures/examples-0.3/make.py,
which wrote the fixtures with the previous release."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = ["fraud", "iot_sensors", "market", "recommendations", "sensors", "trends"]


def small_job(name, d):
    with open(os.path.join(ROOT, "examples", name + ".job")) as f:
        text = f.read()
    text = re.sub(r"^batch .*$", "batch      interval=1ms max-records=2500", text, flags=re.M)
    text = re.sub(r" rate=\d+", "", text)
    text = re.sub(r"count=\d+", "count=12000", text)
    if "count=" not in text:
        text = re.sub(r"^(source\s+generator .*)$", r"\1 count=12000", text, flags=re.M)
    text = re.sub(r"^sink .*$", "sink       file dir=%s/out" % d, text, flags=re.M)
    text = re.sub(r"^checkpoint .*$", "checkpoint dir=%s/ckpt" % d, text, flags=re.M)
    if "checkpoint dir=" not in text:
        text = text.replace("\nsource", "\ncheckpoint dir=%s/ckpt\nsource" % d, 1)
    return text


def run_small(ember, name, d):
    """Runs the cut-down example; returns its batch files as one text."""
    os.makedirs(d, exist_ok=True)
    with open(d + "/j.job", "w") as f:
        f.write(small_job(name, d))
    p = subprocess.run([ember, "run", d + "/j.job", "--until-idle", "--drain"], capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (name, p.returncode, p.stderr[-2000:]))
    out = []
    for f in sorted(os.listdir(d + "/out")):
        if f.endswith(".tsv"):
            out.append("== %s\n" % f + open(os.path.join(d, "out", f)).read())
    return "".join(out)
