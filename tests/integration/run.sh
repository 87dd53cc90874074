#!/bin/sh
# Runs every integration test (tests/integration/test_*.py) against $EMBER.
# Each test is a Python script that runs real ember processes and checks their
# output against an oracle computed in Python over the same input.
set -u
cd "$(dirname "$0")/../.."
: "${EMBER:=build/ember}"
export EMBER
fail=0; total=0
for t in tests/integration/test_*.py; do
  total=$((total + 1))
  echo "== $t"
  t0=$(date +%s)
  if ! python3 "$t"; then fail=$((fail + 1)); echo "FAILED: $t"; fi
  echo "   ($(( $(date +%s) - t0 )) s)"
done
echo "integration tests: $total run, $fail failed"
[ "$fail" -eq 0 ]
