#!/usr/bin/env python3
"""The README's reference tables come from ember's own tables.

    python3 tests/docs.py EMBER README.md          # fails (exit 1) when stale
    python3 tests/docs.py EMBER README.md --write  # rewrites them (make docs)

Each block between `<!-- reference:NAME -->` and `<!-- /reference:NAME -->`
is the output of `EMBER reference NAME`.
"""
import re
import subprocess
import sys

BLOCK = re.compile(r"(<!-- reference:(\w+) -->\n)(.*?)(<!-- /reference:\2 -->)", re.S)


def render(ember, text):
    def fill(m):
        out = subprocess.run([ember, "reference", m.group(2)], check=True,
                             capture_output=True, text=True).stdout
        return m.group(1) + out + m.group(4)
    return BLOCK.sub(fill, text)


def main():
    if len(sys.argv) < 3:
        print("usage: docs.py EMBER README.md [--write]", file=sys.stderr)
        return 2
    ember, path = sys.argv[1], sys.argv[2]
    text = open(path).read()
    names = [m.group(2) for m in BLOCK.finditer(text)]
    if not names:
        print(f"{path}: no <!-- reference:NAME --> blocks", file=sys.stderr)
        return 1
    new = render(ember, text)
    if "--write" in sys.argv:
        open(path, "w").write(new)
        print(f"docs: {path}: {len(names)} reference blocks written")
        return 0
    stale = [n for n, a, b in zip(names, BLOCK.finditer(text), BLOCK.finditer(new))
             if a.group(0) != b.group(0)]
    if stale:
        print(f"docs: {path}: reference blocks {', '.join(stale)} are stale; run `make docs`")
        return 1
    print(f"docs: {path}: {len(names)} reference blocks up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
