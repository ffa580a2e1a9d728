# The bad-input matrix of SPEC 8, in one place: every case runs to stdout and,
# where the subcommand writes a file, with -o into an empty directory, both
# with a private TMPDIR. Each run must exit with the case's status, print
# exactly one line on stderr ("revops-stream: ..." matching the case's
# pattern, FILE:LINE for merge/validate input), print nothing on stdout, and
# leave no output or temp file behind. Then full disks, closed pipes and
# signals. Other files test many of these too, next to the feature; this one
# is the checklist. Sourced by tests/run.sh (helpers in tests/lib.sh).

work=$(mktemp -d)
out="$work/out" # -o goes here: must stay empty
tmp="$work/tmp" # TMPDIR: must stay empty
mkdir -p "$out" "$tmp"
export SOURCE_DATE_EPOCH=1771477209
cases=0
equals() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got:  $2"$'\n'"want: $3"; fi; }

# bad NAME STATUS PATTERN ARGS...: revops-stream ARGS fails as above; with
# -o too when ARGS is a generate, merge or split command (and NO_O is unset).
# ENV: more VAR=VALUE words for env.
bad() {
    local name=$1 st=$2 pat=$3; shift 3
    cases=$((cases + 1))
    # shellcheck disable=SC2086
    expect_error "$name" "$st" "$pat" env TMPDIR="$tmp" ${ENV:-} "$RS" "$@"
    case "${NO_O:-}${1:-}" in
        1* | validate) ;;
        *) # shellcheck disable=SC2086
           expect_error "$name (-o)" "$st" "$pat" env TMPDIR="$tmp" ${ENV:-} "$RS" "$@" -o "$out/result" ;;
    esac
    if [ -z "$(ls -A "$out" "$tmp" 2>/dev/null | grep -v ':$' | grep -v '^$')" ]; then pass "$name: no file left"
    else fail "$name: no file left" "left: $(ls -A "$out" "$tmp")"; rm -rf "${out:?}"/* "${tmp:?}"/*; fi
}
# bad_input NAME PATTERN FILE: merge and validate both refuse FILE (status 1).
bad_input() {
    bad "merge: $1" 1 "$2" merge "$3"
    bad "validate: $1" 1 "$2" validate "$3"
}

# ---- generate: options, counts, settings, dates, vocabularies
bad "unknown option" 2 'generate: unknown option "--bogus"' --bogus
NO_O=1 bad "option without its value" 2 'option --reps needs a value' --reps
bad "negative count" 2 '--reps: expected a non-negative integer' --reps -1
bad "overflowing count" 2 '--opportunities: expected a non-negative integer up to 2\^48, got "99999999999999999999"' \
    --opportunities 99999999999999999999
bad "non-numeric count" 2 '--accounts: expected a non-negative integer' --accounts ten
bad "count in exponent form" 2 '--accounts: expected a non-negative integer' --accounts 1e3
bad "non-numeric seed" 2 '--seed: expected a non-negative 64-bit integer' --seed abc
bad "seed past 2^64" 2 '--seed: expected a non-negative 64-bit integer' --seed 18446744073709551616
bad "pct above 1" 2 'IS_CUSTOMER_RATE: expected a number between 0 and 1, got "1.5"' --set IS_CUSTOMER_RATE=1.5
bad "negative pct" 2 'MISSING_CLOSE_PCT: expected a number between 0 and 1' --set MISSING_CLOSE_PCT=-0.1
bad "pct not a number" 2 'RECENT_CLOSE_PCT: expected a number between 0 and 1' --set RECENT_CLOSE_PCT=half
bad "recent + missing over 1" 2 'RECENT_CLOSE_PCT \+ MISSING_CLOSE_PCT is greater than 1' \
    --set RECENT_CLOSE_PCT=0.6 --set MISSING_CLOSE_PCT=0.5
bad "inverted date window" 2 'RECENT_CLOSE_WINDOW: start is after end' \
    --set 'RECENT_CLOSE_WINDOW=DateWindow(start="2026-02-18", end="2025-10-01")'
bad "invalid date in a window" 2 'FUTURE_CLOSE_WINDOW: .*2026-02-30' \
    --set 'FUTURE_CLOSE_WINDOW=DateWindow(start="2026-02-30", end="2026-09-30")'
bad "invalid --as-of date" 2 '--as-of: expected a date YYYY-MM-DD, got "2026-02-30"' --as-of 2026-02-30
bad "impossible opportunity count" 2 '--opportunities 1000 is impossible with 10 accounts of 0..2 opportunities each' \
    --accounts 10 --opportunities 1000
bad "impossible per-account range" 2 'OPPS_PER_ACCOUNT' --set OPPS_PER_ACCOUNT_MIN=3 --set OPPS_PER_ACCOUNT_MAX=2
bad "too few reps for the territories" 2 'too few reps for the 10 territories' --reps 2
bad "no reps for the accounts" 2 '--reps 0: accounts need reps to own them' --reps 0
bad "unknown setting in --set" 2 'unknown setting "NOPE"' --set NOPE=1
bad "unknown --types" 2 '--types: unknown type "planet"' --types planet
bad "shard past the count" 2 '--shard: expected K/N' --shard 3/2
bad "zero threads" 2 '-j: expected a thread count' -j 0
bad "unknown compression" 2 '--compress: expected zstd' --compress gzip
bad "bad --generated-at" 2 '--generated-at: not an ISO-8601 date-time' --generated-at nope
ENV=SOURCE_DATE_EPOCH=abc bad "bad SOURCE_DATE_EPOCH" 2 'SOURCE_DATE_EPOCH: not a number' --seed 1
mkdir "$work/v-empty" "$work/v-blank" "$work/v-utf8" "$work/v-region"
: >"$work/v-empty/nouns.txt"
printf '\n  \n\n' >"$work/v-blank/last-names.txt"
printf 'Ok\n\xff\xfeBad\n' >"$work/v-utf8/industries.txt"
printf '{"CA": 7}' >"$work/v-region/regions.json"
bad "empty vocabulary file" 2 'v-empty/nouns.txt: has no tokens' --vocab "$work/v-empty"
bad "vocabulary of blank lines" 2 'v-blank/last-names.txt: has no tokens' --vocab "$work/v-blank"
bad "non-UTF-8 vocabulary" 2 'v-utf8/industries.txt: not valid UTF-8' --vocab "$work/v-utf8"
bad "malformed region map" 2 'v-region/regions.json' --vocab "$work/v-region"
# yajl frees its tree recursively: 500000 levels used to overflow the stack.
mkdir "$work/v-deep"
python3 -c "import sys; d = 500000; sys.stdout.write('{\"states\":' + '[' * d + ']' * d + '}')" >"$work/v-deep/regions.json"
bad "region map nested 500000 deep" 2 'v-deep/regions.json: nested deeper than a regions file is' --vocab "$work/v-deep"
bad "missing vocabulary directory" 2 '--vocab: .*no-such-dir: No such file or directory' --vocab "$work/no-such-dir"
printf 'NUM_REPS = 40\nFOO = 1\n' >"$work/unknown.conf"
bad "settings file with an unknown name" 2 'unknown.conf:2: unknown setting "FOO"' --settings "$work/unknown.conf"
printf 'NUM_REPS = forty\n' >"$work/badval.conf"
bad "settings file with a bad value" 2 'badval.conf:1: .*NUM_REPS' --settings "$work/badval.conf"
bad "settings file that never ends a line (/dev/zero)" 2 '/dev/zero:1: line longer than 1 MiB' --settings /dev/zero
cases=$((cases + 1))
expect_error "settings from an endless pipe of comments" 2 'larger than 16 MiB: not a settings file' \
    bash -c '"$0" --settings <(yes "#")' "$RS"
mkdir "$work/v-zero" && ln -s /dev/zero "$work/v-zero/nouns.txt"
bad "vocabulary file without end (/dev/zero)" 2 'v-zero/nouns.txt: larger than 64 MiB' --vocab "$work/v-zero"
bad "missing settings file" 2 '--settings: .*missing.conf: No such file or directory' --settings "$work/missing.conf"

# ---- merge and validate: bad streams, each naming FILE:LINE
g="$work/g.ndjson"
"$RS" --seed 5 >"$g"
n=$(wc -l <"$g")
rep=$(grep -n '"type":"rep"' "$g" | head -1 | cut -d: -f1)
# mutate LINE PYTHON-EXPR NAME: $work/NAME is g with line LINE replaced by the
# expression (l = the line's text).
mutate() { replace_line "$g" "$1" "$2" >"$work/$3"; }
mutate 5 '"{not json"' nonjson.ndjson
bad_input "non-JSON line" 'nonjson.ndjson:5: invalid JSON' "$work/nonjson.ndjson"
head -n $((n - 1)) "$g" >"$work/trunc.ndjson"
bad_input "truncated stream (no footer)" "trunc.ndjson:$((n - 1)): truncated stream" "$work/trunc.ndjson"
: >"$work/empty.ndjson"
bad_input "empty input" 'empty.ndjson:1: empty input' "$work/empty.ndjson"
mutate 3 'l.replace("\"territory\"", "\"planet\"")' unknown.ndjson
bad_input "unknown record type" 'unknown.ndjson:3: unknown record type "planet"' "$work/unknown.ndjson"
mutate "$rep" 'json.dumps({"type": "rep", "data": {k: v for k, v in json.loads(l)["data"].items() if k != "region"}}, separators=(",", ":"))' missing.ndjson
bad_input "missing field" "missing.ndjson:$rep: rep record: missing field \"region\"" "$work/missing.ndjson"
mutate "$rep" 'l[:-2] + ",\"extra\":1}}"' extra.ndjson
bad_input "extra field" "extra.ndjson:$rep: rep record: unknown field \"extra\"" "$work/extra.ndjson"
mutate "$rep" 'l.replace("\"quota\":", "\"quota\":\"").replace(",\"territoryId\"", "\",\"territoryId\"")' mistyped.ndjson
bad_input "mistyped field" "mistyped.ndjson:$rep: rep record: field \"quota\": expected integer, got string" \
    "$work/mistyped.ndjson"
mutate $((rep + 1)) 'l.replace("\"id\":2,", "\"id\":1,", 1)' dup.ndjson
bad "merge: duplicate id" 1 "dup.ndjson:$((rep + 1)): duplicate rep id 1" merge "$work/dup.ndjson"
mutate $((rep + 1)) 'l.replace("\"id\":2,", "\"id\":3,", 1)' gap.ndjson
bad "merge: missing id" 1 "gap.ndjson:$((rep + 1)): missing rep id 2 \\(found id 3\\)" merge "$work/gap.ndjson"
mutate 4 'l.replace("Territory", "Terr\x00itory")' nul.ndjson
bad_input "NUL byte" 'nul.ndjson:4: NUL byte' "$work/nul.ndjson"
python3 -c 'import sys
b = open(sys.argv[1], "rb").read().split(b"\n")
b[5] = b[5].replace(b"\"name\":\"", b"\"name\":\"\xc3\x28", 1)
sys.stdout.buffer.write(b"\n".join(b))' "$g" >"$work/utf8.ndjson"
bad_input "invalid UTF-8" 'utf8.ndjson:6: invalid UTF-8' "$work/utf8.ndjson"
mutate "$n" 'l.replace("\"rep\":30", "\"rep\":31")' footer.ndjson
bad "merge: footer count mismatch" 1 "footer.ndjson:$n: footer counts 31 rep records, the stream has 30" \
    merge "$work/footer.ndjson"
mutate "$rep" 'l.replace("\"territoryId\":", "\"territoryId\":9", 1)' rule.ndjson
bad "merge: a record that breaks a data-model rule" 1 'rule.ndjson:[0-9]+: rule [a-z-]+: ' merge "$work/rule.ndjson"
bad "merge: missing input file" 1 'no-such.ndjson: cannot open: No such file or directory' merge "$work/no-such.ndjson"
bad "validate: missing input file" 1 'no-such.ndjson' validate "$work/no-such.ndjson"

"$RS" --seed 5 --shard 1/2 >"$work/s1.ndjson"
"$RS" --seed 5 --shard 2/2 >"$work/s2.ndjson"
"$RS" --seed 6 --shard 2/2 >"$work/s2-seed6.ndjson"
"$RS" --seed 5 --shard 2/2 --set IS_CUSTOMER_RATE=0.5 >"$work/s2-other.ndjson"
bad "merge: mixed seeds" 1 's2-seed6.ndjson:1: shard 2 of 2 is foreign to .*s1.ndjson:1: seed 6, not 5' \
    merge "$work/s1.ndjson" "$work/s2-seed6.ndjson"
bad "merge: mixed settings" 1 's2-other.ndjson:1: shard 2 of 2 is foreign to .*settings digest' \
    merge "$work/s1.ndjson" "$work/s2-other.ndjson"
bad "merge: missing shard" 1 'merge: shard 2 of 2 is missing' merge "$work/s1.ndjson"
bad "merge: repeated shard" 1 's1.ndjson:1: shard 1 of 2 repeated' merge "$work/s1.ndjson" "$work/s1.ndjson" "$work/s2.ndjson"
bad "validate: one shard of several" 1 'validate checks a whole data set' validate "$work/s1.ndjson"

zstd -q -c "$g" >"$work/g.zst"
python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0xff
open(sys.argv[2], "wb").write(b)' "$work/g.zst" "$work/corrupt.zst"
bad_input "corrupt zstd" 'corrupt.zst: corrupt zstd input' "$work/corrupt.zst"
head -c 30 "$work/g.zst" >"$work/cut.zst"
bad_input "truncated zstd" 'cut.zst: corrupt zstd input: truncated' "$work/cut.zst"

# A 300 MB line from a pipe: refused at 16 MiB, without reading it all.
cases=$((cases + 1))
expect_error "merge: a 300 MB line" 1 '<stdin>:2: line longer than 16 MiB' \
    bash -c '{ head -1 "$1"; head -c 300000000 /dev/zero | tr "\0" x; } | "$0" merge' "$RS" "$g"
expect_error "validate: a 300 MB line" 1 '<stdin>:2: line longer than 16 MiB' \
    bash -c '{ head -1 "$1"; head -c 300000000 /dev/zero | tr "\0" x; } | "$0" validate' "$RS" "$g"

"$RS" merge "$g" >"$work/g.json"
head -c 2000 "$work/g.json" >"$work/cut.json"
bad "split: truncated data.json" 1 'cut.json:[0-9]+: ' split "$work/cut.json"
bad "split: not JSON" 1 'nonjson.ndjson:1: ' split "$work/nonjson.ndjson"
bad "split: a stream, not a data.json" 1 'g.ndjson:1: ' split "$g"

# ---- full disks: one line, status 1, every subcommand
cases=$((cases + 1))
for c in "generate" "merge $g" "split $work/g.json" "validate $g"; do
    # shellcheck disable=SC2086
    expect_error "$c to a full disk (stdout)" 1 '(stdout|write).*No space left on device' \
        bash -c 'exec "$0" "$@" >/dev/full' "$RS" $c
done
expect_error "generate -o /dev/full" 1 '/dev/full: write failed: No space left on device' "$RS" -o /dev/full

# ---- closed pipes end quietly with status 0
cases=$((cases + 1))
for c in "--reps 30000 --accounts 70000 --opportunities 100000" "merge $work/big.ndjson" "split $work/big.json"; do
    if [ ! -e "$work/big.ndjson" ]; then
        "$RS" --reps 3000 --accounts 7000 --opportunities 10000 >"$work/big.ndjson"
        "$RS" merge "$work/big.ndjson" >"$work/big.json"
    fi
    # shellcheck disable=SC2086
    st=$( ("$RS" $c 2>"$work/pipe.err"; echo $? >"$work/pipe.st") | head -1 >/dev/null; cat "$work/pipe.st")
    equals "$c | head -1: status 0, nothing on stderr" "$st:$(cat "$work/pipe.err")" "0:"
done

# ---- signals: temp files removed, 130 for SIGINT, 143 for SIGTERM
# signal_case NAME SIG STATUS PROBE CMD...: CMD runs in the background until
# PROBE (a shell test; $pid is CMD's process) holds, then gets SIG.
signal_case() {
    local name=$1 sig=$2 want=$3 probe=$4; shift 4
    cases=$((cases + 1))
    "$@" 2>/dev/null &
    pid=$!
    local seen=false
    for _ in $(seq 200); do
        if eval "$probe"; then seen=true; break; fi
        sleep 0.05
    done
    kill -"$sig" "$pid"; wait "$pid"; local st=$?
    if $seen && [ "$st" = "$want" ] && [ -z "$(ls -A "$out" "$tmp" | grep -v ':$' | grep -v '^$')" ]; then
        pass "$name: status $want, no file left"
    else fail "$name" "reached the probe: $seen, status $st (want $want), left: $(ls -A "$out" "$tmp")"; fi
}
huge="--reps 3000000 --accounts 7000000 --opportunities 10000000"
# shellcheck disable=SC2086
signal_case "generate -o, SIGINT mid-run" INT 130 '[ -n "$(ls -A "$out")" ]' env TMPDIR="$tmp" "$RS" $huge -o "$out/big.ndjson"
# shellcheck disable=SC2086
signal_case "generate -o, SIGTERM mid-run" TERM 143 '[ -n "$(ls -A "$out")" ]' env TMPDIR="$tmp" "$RS" $huge -o "$out/big.ndjson"
# merge of shuffled lines spills to TMPDIR; a FIFO keeps it reading.
shuffle_lines 3 "$work/big.ndjson" >"$work/shuf.ndjson"
mkfifo "$work/fifo"
( cat "$work/shuf.ndjson"; sleep 20 ) >"$work/fifo" &
feeder=$!
signal_case "merge while spilling, SIGINT" INT 130 'ls -l /proc/$pid/fd 2>/dev/null | grep -q "$tmp/revops-stream-merge"' \
    env TMPDIR="$tmp" "$RS" merge --memory 1M --no-validate -o "$out/data.json" "$work/fifo"
kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null

echo "# bad-input cases: $cases"
rm -rf "$work"
