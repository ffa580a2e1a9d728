# Shared helpers for the command tests (tests/t_*.sh), sourced by tests/run.sh.
# Each check prints one line; run.sh prints the totals.
# RS_BIN: the binary under test. RS_QUICK=1: skip the slow cases (sanitizer pass).
: "${RS_BIN:?RS_BIN must name the revops-stream binary}"
RS="$RS_BIN"
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

pass() { echo "ok   - $1"; echo pass >>"$RS_RESULTS"; }
fail() { echo "FAIL - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | head -20 | sed 's/^/       /'; echo fail >>"$RS_RESULTS"; }

# check NAME CMD...: passes when CMD exits 0.
check() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}

# expect_error NAME STATUS PATTERN CMD...: CMD must exit STATUS, print exactly
# one line on stderr starting "revops-stream: " and matching PATTERN (grep -E),
# and print nothing on stdout.
expect_error() {
    local name=$1 want=$2 pat=$3; shift 3
    local d; d=$(mktemp -d)
    "$@" >"$d/out" 2>"$d/err" </dev/null
    local st=$?
    local lines; lines=$(wc -l <"$d/err")
    if [ "$st" != "$want" ]; then fail "$name" "exit $st, want $want; stderr: $(cat "$d/err")"
    elif [ "$lines" != 1 ]; then fail "$name" "stderr has $lines lines: $(cat "$d/err")"
    elif ! grep -q '^revops-stream: ' "$d/err"; then fail "$name" "stderr: $(cat "$d/err")"
    elif ! grep -Eq -- "$pat" "$d/err"; then fail "$name" "stderr does not match /$pat/: $(cat "$d/err")"
    elif [ -s "$d/out" ]; then fail "$name" "stdout not empty"
    else pass "$name"; fi
    rm -rf "$d"
}

# no_files_left NAME DIR: DIR holds no file at all (no output, no temp file).
no_files_left() {
    if [ -z "$(ls -A "$2")" ]; then pass "$1"; else fail "$1" "left: $(ls -A "$2")"; fi
}

quick() { [ "${RS_QUICK:-}" = 1 ]; }

# replace_line FILE LINE PYTHON-EXPR: FILE on stdout with line LINE (1-based)
# replaced by the expression, evaluated with `l` = that line's text and
# `json` imported.
replace_line() {
    python3 -c 'import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
i = int(sys.argv[2]) - 1
l = lines[i]
lines[i] = eval(sys.argv[3])
sys.stdout.write("\n".join(lines))' "$@"
}

# shuffle_lines SEED FILE: FILE's lines on stdout in a shuffled order that
# SEED fixes.
shuffle_lines() {
    python3 -c 'import random, sys
l = open(sys.argv[2]).read().splitlines(True); random.Random(int(sys.argv[1])).shuffle(l); sys.stdout.write("".join(l))' "$@"
}
