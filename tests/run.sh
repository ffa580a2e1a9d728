#!/usr/bin/env bash
# Runs every tests/t_*.sh (or those named) against $RS_BIN and prints
# "N passed, N failed"; exits non-zero if any check failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export RS_RESULTS; RS_RESULTS=$(mktemp)
export TMPDIR="${TMPDIR:-/tmp}"
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=("$here"/t_*.sh)
for t in "${scripts[@]}"; do
    echo "== $(basename "$t")"
    bash -c 'set -u; source "$1/lib.sh"; source "$2"' _ "$here" "$t" || echo fail >>"$RS_RESULTS"
done
p=$(grep -c '^pass$' "$RS_RESULTS"); f=$(grep -c '^fail$' "$RS_RESULTS")
rm -f "$RS_RESULTS"
echo "$p passed, $f failed"
[ "$f" = 0 ] && [ "$p" -gt 0 ]
