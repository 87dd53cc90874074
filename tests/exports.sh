#!/bin/sh
# Checks what a public archive exports (make lint, make test): every global
# symbol it defines begins with ember_ (the API) or em_ (internal), and every
# function include/ember.h declares is there (a declaration without EMBER_API
# would be hidden, and programs using it would fail to link).
# Usage: tests/exports.sh build/libember.a [build/asan/libember.a ...]
set -u
cd "$(dirname "$0")/.."
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-gcc} -fpreprocessed -dD -E include/ember.h | grep -oE 'ember_[a-z0-9_]+ *\(' |
    tr -d ' (' | sort -u > "$tmp/declared"
for a in "$@"; do
  bad=0
  nm -g --defined-only "$a" | awk 'NF == 3 { print $2, $3 }' > "$tmp/syms" || { fail=1; continue; }
  awk '$2 !~ /^(ember_|em_)/ { print "  " $2 }' "$tmp/syms" > "$tmp/stray"
  awk '$1 == "T" { print $2 }' "$tmp/syms" | sort -u > "$tmp/exported"
  comm -23 "$tmp/declared" "$tmp/exported" | sed 's/^/  /' > "$tmp/missing"
  if [ -s "$tmp/stray" ]; then
    echo "$a: global symbols outside ember_/em_ (make them static or leave them hidden;"
    echo "  objects built before -fvisibility=hidden was added need a make clean):"
    cat "$tmp/stray"
    bad=1
  fi
  if [ -s "$tmp/missing" ]; then
    echo "$a: declared in include/ember.h but not exported (EMBER_API missing, or no definition):"
    cat "$tmp/missing"
    bad=1
  fi
  [ "$bad" -eq 0 ] && echo "$a: $(wc -l < "$tmp/syms") global symbols, all ember_ or em_; all of ember.h exported"
  [ "$bad" -eq 0 ] || fail=1
done
exit "$fail"
