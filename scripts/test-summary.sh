#!/usr/bin/env bash
# Runs the tap suite (compiled tests under build/) and ends with a plain
# "N passed, N failed" line, which tap itself does not print.
# Exit status is tap's: non-zero on a failing test OR coverage below the
# thresholds in package.json "tap".
set -uo pipefail
mkdir -p .tap
npx tap -R tap "$@" | tee .tap/last-run.tap
rc=${PIPESTATUS[0]}
line=$(grep -E '^# \{ total: ' .tap/last-run.tap | tail -1)
n() { local v; v=$(printf '%s' "$line" | sed -nE "s/.*[{,] $1: ([0-9]+).*/\1/p"); echo "${v:-0}"; }
if [ "$rc" -ne 0 ] && [ "$(n fail)" = 0 ]; then
  echo "tap exited $rc with no failed test: coverage is below the thresholds in package.json \"tap\" (see the table above)"
fi
[ "$(n skip)" = 0 ] || echo "$(n skip) skipped"
echo "$(n pass) passed, $(n fail) failed"
exit "$rc"
