# validate: generated data is clean as a stream and as a data.json (files,
# seekable stdin, pipes), for several seeds and edge counts; copies broken
# with jq or python fail naming the right rule and first record; --lenient
# turns formulas into warnings; bad options and malformed input are one
# error line. Sourced by tests/run.sh (helpers in tests/lib.sh).

work=$(mktemp -d)
fx="$TESTS_DIR/fixtures-validate"
export SOURCE_DATE_EPOCH=1771477209

# clean NAME VALIDATE-ARGS...: validate exits 0 with "0 failed" and no FAIL line.
clean() {
    local name=$1; shift
    local out st
    out=$("$RS" validate "$@" 2>&1); st=$?
    if [ "$st" = 0 ] && ! grep -q '^FAIL' <<<"$out" && grep -Eq '^validate: [0-9]+ rules, 0 failed, ' <<<"$out"
    then pass "$name"; else fail "$name" "exit $st: $out"; fi
}

# clean_pipe NAME FILE VALIDATE-ARGS...: the same, with FILE piped in (not seekable).
clean_pipe() {
    local name=$1 file=$2; shift 2
    local out st
    out=$(cat "$file" | "$RS" validate "$@" 2>&1); st=$?
    if [ "$st" = 0 ] && grep -Eq '^validate: [0-9]+ rules, 0 failed, ' <<<"$out"
    then pass "$name"; else fail "$name" "exit $st: $out"; fi
}

# fails_with NAME PATTERN VALIDATE-ARGS...: validate exits 1, a stdout line
# matches PATTERN (grep -E), stderr is empty.
fails_with() {
    local name=$1 pat=$2; shift 2
    "$RS" validate "$@" >"$work/out" 2>"$work/err"
    local st=$?
    if [ "$st" != 1 ]; then fail "$name" "exit $st, want 1: $(cat "$work/out" "$work/err")"
    elif [ -s "$work/err" ]; then fail "$name" "stderr: $(cat "$work/err")"
    elif ! grep -Eq -- "$pat" "$work/out"; then fail "$name" "no line matches /$pat/: $(cat "$work/out")"
    else pass "$name"; fi
}

# ---- generated data validates clean

gen_case() {
    local name=$1; shift
    local s="$work/g.ndjson" d="$work/g.json"
    if ! "$RS" "$@" >"$s" 2>"$work/err"; then fail "$name: generate" "$(cat "$work/err")"; return; fi
    clean "$name: stream file" "$@" "$s"
    if ! "$RS" merge "$@" <"$s" >"$d" 2>"$work/err"; then fail "$name: merge" "$(cat "$work/err")"; return; fi
    clean "$name: data.json file" "$@" "$d"
}

seeds="1 3 8"
quick && seeds="3"
for seed in $seeds; do
    gen_case "seed $seed" --seed "$seed"
    clean "seed $seed: stream on seekable stdin" - <"$work/g.ndjson"
    clean_pipe "seed $seed: stream through a pipe" "$work/g.ndjson"
    clean "seed $seed: data.json on seekable stdin" <"$work/g.json"
    clean_pipe "seed $seed: data.json through a pipe" "$work/g.json"
done
gen_case "0 opportunities" --seed 4 --opportunities 0
gen_case "1 account, 1 rep, 2 opportunities" --seed 3 --accounts 1 --reps 1 --opportunities 2
gen_case "1 account, 3 reps, 0 opportunities" --seed 3 --accounts 1 --reps 3 --opportunities 0
gen_case "nothing at all" --accounts 0 --reps 0 --opportunities 0
gen_case "OPPS_PER_ACCOUNT_MIN=1" --seed 3 --set OPPS_PER_ACCOUNT_MIN=1 --accounts 50 --opportunities 80
gen_case "as-of 2025-06-30" --seed 5 --as-of 2025-06-30
gen_case "non-ASCII vocabularies" --seed 2 --vocab "$TESTS_DIR/vocab-utf8"
gen_case "5000 opportunities" --seed 6 --reps 300 --accounts 3000 --opportunities 5000
if ! quick; then
    gen_case "200000 opportunities" --seed 7 --reps 60000 --accounts 140000 --opportunities 200000
fi

out=$("$RS" --seed 3 | "$RS" validate 2>&1)
if grep -q '^validate: 24 rules, 0 failed, ' <<<"$out"; then pass "generate | validate"
else fail "generate | validate" "$out"; fi
out=$("$RS" --seed 3 | "$RS" merge | "$RS" validate 2>&1)
if grep -q '^validate: 24 rules, 0 failed, ' <<<"$out"; then pass "generate | merge | validate"
else fail "generate | merge | validate" "$out"; fi

out=$("$RS" --seed 3 | "$RS" merge | "$RS" split | "$RS" validate 2>&1)
if grep -q '^validate: 24 rules, 0 failed, ' <<<"$out"; then pass "generate | merge | split | validate"
else fail "generate | merge | split | validate" "$out"; fi

# ---- what the header supplies, and what only options can

"$RS" --seed 5 --reps 40 --accounts 90 --opportunities 150 >"$work/s.ndjson"
"$RS" merge <"$work/s.ndjson" >"$work/d.json"
clean "the header supplies seed and counts" "$work/s.ndjson"
clean "data.json: counts not given are not checked" "$work/d.json"
clean "data.json: given counts that hold" --reps 40 --accounts 90 --opportunities 150 "$work/d.json"
fails_with "data.json: a given count that does not hold" '^FAIL counts: opportunity 151 \(1 violation\)' \
    --opportunities 200 "$work/d.json"
fails_with "an explicit count overrides the header" '^FAIL counts: opportunity 100 ' \
    --opportunities 99 "$work/s.ndjson"
grep -v '"type":"footer"' "$work/s.ndjson" >"$work/t.ndjson"
sed 's/"opportunity":150,/"opportunity":149,/' <(tail -1 "$work/s.ndjson") >>"$work/t.ndjson"
fails_with "footer count mismatch" '^FAIL counts: opportunity 150 ' "$work/t.ndjson"

"$RS" --seed 5 --as-of 2025-06-30 >"$work/a.ndjson"
"$RS" merge <"$work/a.ndjson" >"$work/a.json"
clean "the header supplies as-of" "$work/a.ndjson"
fails_with "data.json of another as-of fails without --as-of" '^FAIL created-date: opportunity [0-9]+ ' "$work/a.json"
clean "data.json with --as-of" --as-of 2025-06-30 "$work/a.json"
fails_with "an explicit --as-of overrides the header" '^FAIL created-date: ' --as-of 2026-02-19 "$work/a.ndjson"
fails_with "an explicit --as-of other than the header's" '^FAIL settings: header .*as_of 2025-06-30' \
    --as-of 2026-02-19 "$work/a.ndjson"
fails_with "an explicit --seed other than the header's" '^FAIL settings: header .*seed 5, but --seed 6' \
    --seed 6 "$work/a.ndjson"
clean "an explicit --seed equal to the header's" --seed 5 "$work/a.ndjson"

"$RS" --seed 5 --set QUOTA_MIN=100000 >"$work/q.ndjson"
fails_with "other settings than generate's: the digest says so" '^FAIL settings: header \(1 violation\)' \
    "$work/q.ndjson"
clean "the same --set as generate" --set QUOTA_MIN=100000 "$work/q.ndjson"
printf 'QUOTA_MIN = 100_000\n' >"$work/q.settings"
clean "the same setting from --settings" --settings "$work/q.settings" "$work/q.ndjson"
fails_with "other vocabularies than generate's" '^FAIL vocabulary: account 1 ' \
    "$work/g.ndjson" --vocab "$TESTS_DIR/vocab-utf8"

# ---- broken copies name the rule and the first offending record

"$RS" --seed 3 >"$work/good.ndjson"
"$RS" merge <"$work/good.ndjson" >"$work/good.json"

# broken_json NAME PATTERN JQ-PROGRAM [VALIDATE-ARGS...]: the data.json changed by
# JQ-PROGRAM fails with a line matching PATTERN.
broken_json() {
    local name=$1 pat=$2 prog=$3; shift 3
    if ! jq "$prog" "$work/good.json" >"$work/bad.json" 2>"$work/err"; then
        fail "data.json: $name" "jq: $(cat "$work/err")"; return
    fi
    fails_with "data.json: $name" "$pat" "$@" "$work/bad.json"
}

# broken_stream NAME PATTERN PYTHON-EXPR: the stream with PYTHON-EXPR applied
# to each record r (r["type"], d = r["data"]) fails with PATTERN.
broken_stream() {
    local name=$1 pat=$2 expr=$3
    if ! python3 -c '
import json, sys
expr = sys.argv[1]
out = []
recs = [json.loads(l) for l in open(sys.argv[2])]
for r in recs:
    d = r["data"]
    exec(expr, {"r": r, "d": d, "recs": recs})
    out.append(json.dumps(r, separators=(",", ":"), ensure_ascii=False))
open(sys.argv[3], "w").write("\n".join(out) + "\n")
' "$expr" "$work/good.ndjson" "$work/bad.ndjson" 2>"$work/err"; then
        fail "stream: $name" "python: $(cat "$work/err")"; return
    fi
    fails_with "stream: $name" "$pat" "$work/bad.ndjson"
}

broken_json "one quota changed" '^FAIL quota: rep 5 \(1 violation\)' '.reps[4].quota += 1'
broken_json "a duplicated account name" '^FAIL unique-names: account 3 \(1 violation\)' \
    '.accounts[2].name = .accounts[1].name'
broken_json "a broken foreign key" '^FAIL foreign-keys: opportunity 7 \(1 violation\)' \
    '.opportunities[6].accountId = 99999'
broken_json "a created_date on as-of" '^FAIL created-date: opportunity 9 \(1 violation\)' \
    '.opportunities[8].created_date = "2026-02-19"'
# The second event of a field's chain gets an old_value off the chain.
broken_json "a broken history chain" '^FAIL history-coherence: opportunity_history [0-9]+ \(1 violation\)' '
    (.opportunity_history | [range(1; length) as $i | select(.[$i].opportunity_id == .[$i-1].opportunity_id
        and .[$i].field_name == "closeDate" and .[$i-1].field_name == "closeDate") | $i] | first) as $k
    | .opportunity_history[$k].old_value = "2099-01-01"'
broken_json "an account state off its rep's" '^FAIL account-state: account 1 \(1 violation\)' \
    '.accounts[0].state = (if .accounts[0].state == "CA" then "NY" else "CA" end)'
broken_json "a territory name" '^FAIL territory-names: territory 2 ' \
    '.territories[1].name = "Nothing Territory"'
broken_json "inPipeline flipped" '^FAIL in-pipeline: account 4 \(1 violation\)' \
    '.accounts[3].inPipeline = (.accounts[3].inPipeline | not)'
broken_json "an opportunity owned off its account" '^FAIL opportunity-rep: opportunity 2 ' \
    '.opportunities[1].repId = (if .opportunities[1].repId == 1 then 2 else 1 end)'
broken_json "a stage not in the vocabulary" '^FAIL vocabulary: opportunity 3 \(1 violation\)' \
    '.opportunities[2].stage = "8 - Lost"'
broken_json "a history id repeated" '^FAIL ids: opportunity_history 2 ' \
    '.opportunity_history[2].id = 2'
broken_json "a rep region off its state" '^FAIL region-map: rep 1 ' \
    '.reps[0].region = (if .reps[0].region == "West" then "South" else "West" end)'
broken_json "a negative amount" '^FAIL amount-integer: opportunity 1 ' '.opportunities[0].amount = -5'

broken_stream "one quota changed" '^FAIL quota: rep 5 \(1 violation\)' \
    'if r["type"] == "rep" and d["id"] == 5: d["quota"] += 1'
broken_stream "a duplicated rep name" '^FAIL unique-names: rep 2 \(1 violation\)' \
    'if r["type"] == "rep" and d["id"] == 2: d["name"] = next(x["data"]["name"] for x in recs if x["type"] == "rep")'
broken_stream "a created_date after as-of" '^FAIL created-date: opportunity 12 \(1 violation\)' \
    'if r["type"] == "opportunity" and d["id"] == 12: d["created_date"] = "2026-03-01"'
broken_stream "a history event pointing nowhere" '^FAIL foreign-keys: opportunity_history 1 ' \
    'if r["type"] == "opportunity_history" and d["id"] == 1: d["opportunity_id"] = 100000'
broken_stream "a rep territory that does not exist" '^FAIL foreign-keys: rep 3 ' \
    'if r["type"] == "rep" and d["id"] == 3: d["territoryId"] = 77'

# Territories after the history began (validate takes them anywhere): the
# checks of reps and accounts, run early on the territories then known,
# are run again on all of them at the end.
python3 -c '
import sys
lines = open(sys.argv[1]).read().splitlines()
ter = [l for l in lines if "\"type\":\"territory\"" in l]
rest = [l for l in lines if "\"type\":\"territory\"" not in l]
open(sys.argv[2], "w").write("\n".join(rest[:1] + ter[:2] + rest[1:-1] + ter[2:] + rest[-1:]) + "\n")
' "$work/good.ndjson" "$work/late.ndjson"
clean "stream with most territories after the history" "$work/late.ndjson"
sed 's/^\({"type":"account","data":{"id":4,.*"territoryId":\)[0-9]*}}$/\199}}/' "$work/late.ndjson" >"$work/late-bad.ndjson"
fails_with "the same with an account in no territory" '^FAIL foreign-keys: account 4 ' "$work/late-bad.ndjson"

# ---- --lenient

jq '.reps[4].quota += 1' "$work/good.json" >"$work/bad.json"
out=$("$RS" validate --lenient "$work/bad.json" 2>&1); st=$?
if [ "$st" = 0 ] && grep -q '^WARN quota: rep 5 (1 violation)' <<<"$out" && ! grep -q '^FAIL' <<<"$out" &&
    grep -q '^validate: 24 rules, 0 failed, 1 warning, ' <<<"$out"
then pass "--lenient: a quota off the formula only warns"
else fail "--lenient: a quota off the formula only warns" "exit $st: $out"; fi
jq '.opportunities[6].accountId = 99999' "$work/good.json" >"$work/bad.json"
fails_with "--lenient: a broken foreign key still fails" '^FAIL foreign-keys: opportunity 7 ' --lenient "$work/bad.json"

clean "hand-written tiny stream" --settings "$fx/tiny.settings" "$fx/tiny.ndjson"
# Accounts 1 and 2 are named "IAjClNkd@ A @   " and "KxtngCYMsH~Y`aa]", whose
# name fingerprints were equal before they took a per-run key: two names,
# not a repeat, so the stream is valid and merges.
clean "names that collided under an unkeyed fingerprint" "$fx/fp-collision.ndjson"
check "merge: names that collided under an unkeyed fingerprint" "$RS" merge -o "$work/fp.json" "$fx/fp-collision.ndjson"
fails_with "hand-written tiny stream with default quota bounds" '^FAIL quota: rep 1 \(3 violations\)' "$fx/tiny.ndjson"
fails_with "another tool's data.json: formulas and history" '^FAIL history-coherence: opportunity_history 5 ' \
    --settings "$fx/tiny.settings" "$fx/other-tool.json"
out=$("$RS" validate --lenient --settings "$fx/tiny.settings" "$fx/other-tool.json" 2>&1); st=$?
if [ "$st" = 0 ] && [ "$(grep -c '^WARN \(quota\|history-coherence\|close-date-counts\): ' <<<"$out")" = 3 ] &&
    grep -q '^validate: 24 rules, 0 failed, 3 warnings, 17 records$' <<<"$out"
then pass "another tool's data.json passes --lenient with warnings"
else fail "another tool's data.json passes --lenient with warnings" "exit $st: $out"; fi

# ---- errors

expect_error "unknown option" 2 'validate: unknown option "?--bogus' "$RS" validate --bogus
expect_error "option without its value" 2 'validate: option --reps needs a value' "$RS" validate --reps
expect_error "non-numeric count" 2 'validate: .*NUM_REPS' "$RS" validate --reps abc "$work/good.json"
expect_error "unknown setting" 2 'validate: .*NOPE' "$RS" validate --set NOPE=1 "$work/good.json"
expect_error "impossible date" 2 'validate: .*AS_OF' "$RS" validate --as-of 2026-02-30 "$work/good.json"
expect_error "two files" 2 'validate: takes at most one FILE' "$RS" validate "$work/good.json" "$work/good.json"
expect_error "missing file" 1 'validate: .*no-such\.ndjson' "$RS" validate "$work/no-such.ndjson"
expect_error "truncated stream" 1 'validate: .*truncated\.ndjson:8: truncated stream' "$RS" validate "$fx/truncated.ndjson"
expect_error "types out of order" 1 'validate: .*out-of-order\.ndjson:8: rep record after account records' \
    "$RS" validate "$fx/out-of-order.ndjson"
{ head -3 "$work/good.ndjson"; echo 'not json'; tail -n +4 "$work/good.ndjson"; } >"$work/bad.ndjson"
expect_error "a line that is not JSON" 1 'validate: .*bad\.ndjson:4: ' "$RS" validate "$work/bad.ndjson"
expect_error "empty input" 1 'validate: <stdin>:1: ' "$RS" validate
head -c 5000 "$work/good.json" >"$work/cut.json"
expect_error "truncated data.json" 1 'validate: .*cut\.json:[0-9]+: ' "$RS" validate "$work/cut.json"
expect_error "a full disk for the report" 1 'validate: write error' \
    bash -c '"$0" validate "$1" >/dev/full' "$RS" "$work/good.json"

out=$("$RS" validate --help); st=$?
if [ "$st" = 0 ] && grep -q '^Usage: revops-stream validate' <<<"$out" && grep -q -- '--lenient' <<<"$out" &&
    grep -q 'counts' <<<"$out"
then pass "--help"; else fail "--help" "exit $st: $out"; fi

rm -rf "$work"
