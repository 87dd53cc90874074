#!/bin/sh
# make bench [QUICK=1]: runs bench/bench.py against build/ember (the -O2 build).
set -eu
cd "$(dirname "$0")/.."
exec python3 bench/bench.py ${QUICK:+--quick}
