#!/bin/sh
# Runs every Check suite binary given as argument and prints a total.
# Each suite prints Check's own summary line ("100%: Checks: N, ...").
set -u
fail=0; total=0
for t in "$@"; do
  total=$((total + 1))
  echo "== $t"
  if ! "$t"; then fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "unit suites: $total run, $fail failed"
[ "$fail" -eq 0 ]
