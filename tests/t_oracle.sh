# Every invariant of SPEC 5, checked two ways over several seeds and edge
# counts: by the independent Python oracle (tests/check_invariants.py, on the
# stream and on its merged data.json) and by `revops-stream validate`.
# Sourced by tests/run.sh (helpers in tests/lib.sh).

oracle=("python3" "$TESTS_DIR/check_invariants.py")
work=$(mktemp -d)
export SOURCE_DATE_EPOCH=1771477209

# oracle_case NAME GENERATE-OPTIONS...: generate, merge, then check both
# files with the oracle and with validate (same options: the oracle and
# validate read --seed/--reps/--accounts/--opportunities/--set alike).
oracle_case() {
    local name=$1; shift
    local s="$work/s.ndjson" d="$work/data.json"
    if ! "$RS" "$@" >"$s" 2>"$work/err"; then
        fail "$name: generate" "$(cat "$work/err")"; return
    fi
    if ! "$RS" merge "$@" <"$s" >"$d" 2>"$work/err"; then
        fail "$name: merge" "$(cat "$work/err")"; return
    fi
    check "$name: oracle on stream and data.json" "${oracle[@]}" "$d" --stream "$s" "$@"
    check "$name: validate stream" "$RS" validate "$@" "$s"
    check "$name: validate data.json" "$RS" validate "$@" "$d"
}

seeds="1 2 3 4 5"
quick && seeds="1 2"
for seed in $seeds; do
    oracle_case "seed $seed, default counts" --seed "$seed"
    oracle_case "seed $seed, 0 opportunities" --seed "$seed" --opportunities 0
    # One account's TAM rarely reaches the default pipeline minimum (180000
    # for 2 opportunities); generate rightly fails then, so lift the bound.
    oracle_case "seed $seed, 1 account, 1 rep, 2 opportunities" \
        --seed "$seed" --accounts 1 --reps 1 --opportunities 2 --set TOTAL_PIPELINE_MIN=0
    oracle_case "seed $seed, OPPS_PER_ACCOUNT_MIN=1" \
        --seed "$seed" --set OPPS_PER_ACCOUNT_MIN=1 --accounts 50 --opportunities 80
    oracle_case "seed $seed, every account at OPPS_PER_ACCOUNT_MAX" \
        --seed "$seed" --accounts 50 --opportunities 100
    oracle_case "seed $seed, 5000 opportunities" \
        --seed "$seed" --reps 300 --accounts 3000 --opportunities 5000
done
oracle_case "as-of 2025-06-30 shifts every window" --seed 9 --as-of 2025-06-30
if ! quick; then
    oracle_case "200000 opportunities" --seed 7 --reps 1000 --accounts 120000 --opportunities 200000
fi

# The oracle must be able to fail: break one invariant at a time in a real
# data.json (with jq) and expect the oracle to name the rule. This tests the
# Python, not the binary: once is enough (not again under sanitizers).
if quick; then rm -rf "$work"; return 0; fi
"$RS" --seed 3 >"$work/s.ndjson" && "$RS" merge <"$work/s.ndjson" >"$work/good.json"

# broken NAME RULE-PATTERN JQ-PROGRAM: the mutated file fails with RULE.
broken() {
    local name=$1 pat=$2 prog=$3 out st
    if ! jq "$prog" "$work/good.json" >"$work/bad.json" 2>"$work/err"; then
        fail "oracle catches: $name" "jq: $(cat "$work/err")"; return
    fi
    out=$("${oracle[@]}" "$work/bad.json" --seed 3 2>&1); st=$?
    if [ "$st" = 1 ] && grep -Eq -- "$pat" <<<"$out"; then pass "oracle catches: $name"
    else fail "oracle catches: $name" "exit $st, want 1 and /$pat/: $out"; fi
}

check "oracle accepts the unbroken file" "${oracle[@]}" "$work/good.json" --seed 3
broken "duplicate rep name" 'reps: unique names' '.reps[1].name = .reps[0].name'
broken "dangling repId" 'repId resolves' '.accounts[0].repId = 999'
broken "account state != owner" 'state == owner' '.accounts[0].state = "XX"'
broken "opportunity repId != account" 'repId == account' \
    '.opportunities[0].repId = (.opportunities[0].repId % 30 + 1)'
broken "inPipeline wrong" 'inPipeline' '.accounts[0].inPipeline = (.accounts[0].inPipeline | not)'
broken "amount over TAM" 'TAM' '.opportunities[0].amount = 100000000000'
broken "quota off by one" 'quota formula' '.reps[0].quota += 1'
broken "close date before created" 'closeDate >= created_date|recent or future' \
    '.opportunities[0].closeDate = "2020-01-01"'
broken "one more null closeDate" 'null closeDates' \
    '(.opportunities | map(.closeDate != null) | index(true)) as $i | .opportunities[$i].closeDate = null'
broken "region not the state's" 'region' '.reps[0].region = "Atlantis"'
broken "territory renamed" 'Territory' '.territories[0].name = "Nowhere"'
broken "ids not 1..n" 'ids run 1..n' '.accounts[3].id = 1000'
broken "field order" 'fields and types' '.reps[0] = (.reps[0] | to_entries | reverse | from_entries)'
broken "amount as float" 'fields and types' '.opportunities[0].amount = 1.5'
broken "history chain broken" 'previous new_value|last new_value|forward|vocabulary' \
    '.opportunity_history[-1].old_value = "no such value"'
broken "history last value" 'last new_value|forward|slip' \
    '(.opportunity_history | map(select(.field_name == "stage")) | last | .id) as $h
     | .opportunity_history |= map(if .id == $h then .new_value = "0 - New Opportunity" else . end)'

# The stream checks must be able to fail too.
"$RS" --seed 3 >"$work/s.ndjson"
sed 's/,"/, "/' "$work/s.ndjson" >"$work/spaced.ndjson"
out=$("${oracle[@]}" "$work/good.json" --stream "$work/spaced.ndjson" 2>&1)
if [ $? = 1 ] && grep -q 'compact' <<<"$out"; then pass "oracle catches: spaces in the stream"
else fail "oracle catches: spaces in the stream" "$out"; fi
head -n -1 "$work/s.ndjson" >"$work/nofooter.ndjson"
out=$("${oracle[@]}" "$work/good.json" --stream "$work/nofooter.ndjson" 2>&1)
if [ $? = 1 ] && grep -q 'footer present' <<<"$out"; then pass "oracle catches: missing footer"
else fail "oracle catches: missing footer" "$out"; fi

rm -rf "$work"
unset SOURCE_DATE_EPOCH
