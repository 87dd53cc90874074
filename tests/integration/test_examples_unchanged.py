"""Every example job (cut down: examples_small.py) writes byte for byte the
batch files the previous release wrote (tests/fixtures/examples-0.3/, made by
the build of e695105 with tests/fixtures/examples-0.3/make.py): the dataflow
graph left the output of linear jobs unchanged."""
import os

from examples_small import NAMES, run_small
from harness import EMBER, ROOT, check, main, tmpdir


def make_test(name):
    def test():
        got = run_small(EMBER, name, tmpdir("unchanged-" + name))
        with open(os.path.join(ROOT, "tests/fixtures/examples-0.3", name + ".out")) as f:
            want = f.read()
        if got != want:
            a, b = got.splitlines(), want.splitlines()
            i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            check(False, "%s: line %d is %r, the previous release wrote %r" % (
                name, i + 1, a[i] if i < len(a) else None, b[i] if i < len(b) else None))
    test.__name__ = "test_%s_unchanged" % name
    return test


if __name__ == "__main__":
    main([make_test(n) for n in NAMES])
