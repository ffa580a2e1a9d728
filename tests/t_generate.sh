# generate: determinism, the stream format (checked with jq), --types, -o
# atomicity, --settings (NAME = VALUE and Python settings.py), --vocab with
# non-ASCII tokens, --help/--version, and the bad-input matrix of SPEC 8.
# Sourced by tests/run.sh (helpers in tests/lib.sh).

work=$(mktemp -d)
oracle=("python3" "$TESTS_DIR/check_invariants.py")
export SOURCE_DATE_EPOCH=1771477209
small=(--seed 5 --reps 40 --accounts 90 --opportunities 150)

# same/differ NAME A B: the two files are (not) byte-identical.
same() { if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(cmp "$2" "$3" 2>&1 | head -1)"; fi; }
differ() { if cmp -s "$2" "$3"; then fail "$1" "files are identical"; else pass "$1"; fi; }
# equals NAME GOT WANT: two strings are equal.
equals() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got:  $2"$'\n'"want: $3"; fi; }

# ---- determinism
"$RS" "${small[@]}" >"$work/a.ndjson"
"$RS" "${small[@]}" >"$work/b.ndjson"
same "same options, same bytes" "$work/a.ndjson" "$work/b.ndjson"
"$RS" generate "${small[@]}" >"$work/b.ndjson"
same "explicit 'generate' is the default subcommand" "$work/a.ndjson" "$work/b.ndjson"
"$RS" "${small[@]}" --seed 6 | tail -n +2 >"$work/c.body"
tail -n +2 "$work/a.ndjson" >"$work/a.body"
differ "another seed, other records" "$work/a.body" "$work/c.body"
SOURCE_DATE_EPOCH=1000000000 "$RS" "${small[@]}" >"$work/d.ndjson"
tail -n +2 "$work/d.ndjson" >"$work/d.body"
same "another time, same records" "$work/a.body" "$work/d.body"
equals "another time, header differs only in generated_at" \
    "$(head -1 "$work/d.ndjson" | jq -c '.data | del(.generated_at)')" \
    "$(head -1 "$work/a.ndjson" | jq -c '.data | del(.generated_at)')"
equals "SOURCE_DATE_EPOCH sets generated_at" \
    "$(head -1 "$work/d.ndjson" | jq -r .data.generated_at)" "2001-09-09T01:46:40.000000+00:00"
equals "SOURCE_DATE_EPOCH=0" \
    "$(SOURCE_DATE_EPOCH=0 "$RS" --opportunities 0 | head -1 | jq -r .data.generated_at)" \
    "1970-01-01T00:00:00.000000+00:00"
equals "--generated-at is honoured (over SOURCE_DATE_EPOCH)" \
    "$("$RS" --generated-at 2025-01-02T03:04:05.678901+00:00 --opportunities 0 | head -1 | jq -r .data.generated_at)" \
    "2025-01-02T03:04:05.678901+00:00"
now=$(env -u SOURCE_DATE_EPOCH "$RS" --opportunities 0 | head -1 | jq -r .data.generated_at)
if [[ "$now" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00$ ]] &&
   [ "${now:0:10}" = "$(date -u +%F)" ]; then pass "generated_at defaults to now"
else fail "generated_at defaults to now" "$now"; fi

# ---- the stream format, with jq
s="$work/a.ndjson"
equals "types in dependency order" "$(jq -r .type "$s" | uniq | paste -sd' ')" \
    "header territory rep account opportunity opportunity_history footer"
equals "header fields in order" "$(head -1 "$s" | jq -c '.data | keys_unsorted')" \
    '["schema","generated_at","generator","seed","as_of","settings","counts","shard"]'
equals "header values" \
    "$(head -1 "$s" | jq -c '.data | [.schema, .generator, .seed, .as_of, .counts, .shard, (.settings | type)]')" \
    '["revops-agent-skeleton","revops-stream 0.1.0",5,"2026-02-19",{"reps":40,"accounts":90,"opportunities":150},{"index":1,"count":1},"string"]'
equals "footer fields in order" "$(tail -1 "$s" | jq -c '.data | keys_unsorted')" '["records","shard"]'
count_types='[inputs | .type | select(. != "header" and . != "footer")] as $t
    | reduce ($types | split(",") | .[]) as $k ({}; .[$k] = ($t | map(select(. == $k)) | length))'
all_types=territory,rep,account,opportunity,opportunity_history
equals "footer counts every type exactly" "$(tail -1 "$s" | jq -c .data.records)" \
    "$(jq -n -c --arg types "$all_types" "$count_types" "$s")"
equals "footer shard" "$(tail -1 "$s" | jq -c .data.shard)" '{"index":1,"count":1}'
fields() { jq -c --arg t "$1" 'select(.type == $t) | .data | keys_unsorted' "$s" | sort -u | paste -sd' '; }
equals "territory fields" "$(fields territory)" '["id","name"]'
equals "rep fields" "$(fields rep)" '["id","name","homeState","region","quota","territoryId"]'
equals "account fields" "$(fields account)" \
    '["id","name","annualRevenue","numDevelopers","state","industry","isCustomer","inPipeline","repId","territoryId"]'
equals "opportunity fields" "$(fields opportunity)" \
    '["id","name","amount","stage","closeDate","repId","accountId","created_date"]'
equals "opportunity_history fields" "$(fields opportunity_history)" \
    '["id","opportunity_id","field_name","old_value","new_value","change_date"]'
equals "ids ascend 1..n per type" \
    "$(jq -r 'select(.data.id) | "\(.type) \(.data.id)"' "$s" | awk '{ if ($2 != ++n[$1]) { print; exit } }')" ""
jq -c . "$s" >"$work/compact.ndjson"
same "lines are compact JSON (as jq -c writes them)" "$s" "$work/compact.ndjson"
equals "envelope is {type, data}" "$(jq -c 'keys_unsorted' "$s" | sort -u)" '["type","data"]'
equals "last byte is a newline" "$(tail -c 1 "$s" | od -An -c | tr -d ' ')" '\n'

# ---- --types
"$RS" "${small[@]}" --types opportunity,opportunity_history >"$work/t.ndjson"
equals "--types: only those types" "$(jq -r .type "$work/t.ndjson" | uniq | paste -sd' ')" \
    "header opportunity opportunity_history footer"
equals "--types: footer lists only those" "$(tail -1 "$work/t.ndjson" | jq -c .data.records)" \
    "$(jq -n -c --arg types opportunity,opportunity_history "$count_types" "$work/t.ndjson")"
grep '^{"type":"opportunity' "$s" >"$work/t.full"
grep '^{"type":"opportunity' "$work/t.ndjson" >"$work/t.only"
same "--types: the same records as the full stream" "$work/t.full" "$work/t.only"

# ---- -o: atomic output
mkdir "$work/o"
"$RS" "${small[@]}" -o "$work/o/out.ndjson"
same "-o writes the stream" "$s" "$work/o/out.ndjson"
equals "-o leaves only the output file" "$(ls -A "$work/o")" "out.ndjson"
mkdir "$work/keep" && echo old >"$work/keep/out.ndjson"
"$RS" --accounts 2 --opportunities 10 -o "$work/keep/out.ndjson" 2>/dev/null
equals "-o: a failing run keeps the old file untouched" \
    "$(ls -A "$work/keep"):$(cat "$work/keep/out.ndjson")" "out.ndjson:old"
if ! quick; then
    # SIGTERM while the output is being written: no temp file left behind.
    mkdir "$work/sig"
    "$RS" --reps 3000000 --accounts 7000000 --opportunities 10000000 -o "$work/sig/big.ndjson" &
    pid=$!
    for _ in $(seq 100); do [ -n "$(ls -A "$work/sig")" ] && break; sleep 0.05; done
    sleep 0.1
    kill -TERM "$pid"; wait "$pid"; st=$?
    if [ "$st" = 143 ] && [ -z "$(ls -A "$work/sig")" ]; then pass "-o: SIGTERM mid-run removes the temp file"
    else fail "-o: SIGTERM mid-run removes the temp file" "exit $st, left: $(ls -A "$work/sig")"; fi
fi
st=$( ("$RS" --reps 30000 --accounts 70000 --opportunities 100000 2>"$work/pipe.err"; echo $? >"$work/pipe.st") | head -c 100 >/dev/null; cat "$work/pipe.st")
equals "a closed pipe ends generate quietly" "$st:$(cat "$work/pipe.err")" "0:"

# ---- --settings and --set
cat >"$work/plain.conf" <<'EOF'
# NAME = VALUE lines
RECENT_CLOSE_PCT = 0.2
NUM_ACCOUNTS = 1_000
NUM_OPPORTUNITIES = 1500

PRODUCTS = ("Core", "Cloud")
RECENT_CLOSE_WINDOW = DateWindow(start="2025-11-01", end="2026-02-18")
EOF
plain_set=(--set RECENT_CLOSE_PCT=0.2 --set NUM_ACCOUNTS=1000 --set NUM_OPPORTUNITIES=1500
           --set 'PRODUCTS=("Core", "Cloud")'
           --set 'RECENT_CLOSE_WINDOW=DateWindow(start="2025-11-01", end="2026-02-18")')
"$RS" --settings "$work/plain.conf" >"$work/p1.ndjson"
"$RS" "${plain_set[@]}" >"$work/p2.ndjson"
same "--settings NAME = VALUE file == the same --set options" "$work/p1.ndjson" "$work/p2.ndjson"
"$RS" >"$work/default.ndjson"
differ "--settings changes the output" "$work/default.ndjson" "$work/p1.ndjson"
"$RS" merge --settings "$work/plain.conf" <"$work/p1.ndjson" >"$work/p1.json"
check "--settings output meets every invariant (oracle)" \
    "${oracle[@]}" "$work/p1.json" --stream "$work/p1.ndjson" "${plain_set[@]}"

cat >"$work/settings.py" <<'EOF'
# Settings of the reference generator (generator/settings.py).
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DateWindow:
    start: str
    end: str

    def days(self) -> int:
        return 0


# Counts
NUM_REPS = 40
NUM_ACCOUNTS = 1_000
NUM_OPPORTUNITIES = 1_500  # total across all accounts

PARETO_ALPHA = 1.2
IS_CUSTOMER_RATE = 0.25
PRODUCTS = ("Core", 'Cloud', "Edge")
OPPS_PER_ACCOUNT_MAX = 3
FUTURE_CLOSE_WINDOW = DateWindow(start="2026-02-19", end="2026-12-31")
QUOTA_MIN = 150_000
EOF
py_set=(--set NUM_REPS=40 --set NUM_ACCOUNTS=1000 --set NUM_OPPORTUNITIES=1500
        --set PARETO_ALPHA=1.2 --set IS_CUSTOMER_RATE=0.25 --set 'PRODUCTS=("Core", "Cloud", "Edge")'
        --set OPPS_PER_ACCOUNT_MAX=3
        --set 'FUTURE_CLOSE_WINDOW=DateWindow(start="2026-02-19", end="2026-12-31")' --set QUOTA_MIN=150000)
"$RS" --settings "$work/settings.py" >"$work/py1.ndjson"
"$RS" "${py_set[@]}" >"$work/py2.ndjson"
same "--settings settings.py == the same --set options" "$work/py1.ndjson" "$work/py2.ndjson"
differ "settings.py changes the output" "$work/default.ndjson" "$work/py1.ndjson"
"$RS" merge --settings "$work/settings.py" <"$work/py1.ndjson" >"$work/py1.json"
check "settings.py output meets every invariant (oracle)" \
    "${oracle[@]}" "$work/py1.json" --stream "$work/py1.ndjson" "${py_set[@]}"

# ---- --vocab with non-ASCII tokens
vocab="$TESTS_DIR/vocab-utf8"
if "$RS" --vocab "$vocab" >"$work/v.ndjson" 2>"$work/err" && "$RS" merge --vocab "$vocab" <"$work/v.ndjson" >"$work/v.json" 2>"$work/err"
then pass "--vocab tests/vocab-utf8: generate and merge"
else fail "--vocab tests/vocab-utf8: generate and merge" "$(cat "$work/err")"; fi
check "--vocab: every line is UTF-8 JSON" python3 -c '
import json, sys
for n, raw in enumerate(open(sys.argv[1], "rb"), 1):
    try:
        json.loads(raw.decode("utf-8"))
    except ValueError as e:
        sys.exit(f"line {n}: {e}")
' "$work/v.ndjson"
check "--vocab: merge escapes as Python's json.dump(indent=2)" python3 -c '
import json, sys
raw = open(sys.argv[1], "rb").read()
want = json.dumps(json.loads(raw), indent=2).encode()
sys.exit(0 if raw == want else "differs from json.dump(indent=2)")
' "$work/v.json"
check "--vocab: the odd tokens arrive intact" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = " ".join(r["name"] for r in d["reps"] + d["accounts"])
for token in ("D\"Arcy", "Rocket \U0001F680", "\u592a\u90ce", "Back\\slash", "Zo\u00eb"):
    if token not in names:
        sys.exit(f"{token!r} missing")
if {t["name"] for t in d["territories"]} - {"\u00c9nergie Territory", "Sant\u00e9 et services sociaux Territory",
        "\u65e5\u672c\u306e\u88fd\u9020\u696d Territory", "Caf\u00e9 \u2615 & B\u00e4ckerei Territory"}:
    sys.exit("unexpected territory")
' "$work/v.json"
check "--vocab: every invariant (oracle)" "${oracle[@]}" "$work/v.json" --stream "$work/v.ndjson" --vocab "$vocab"
mkdir "$work/flat" && printf '{"Qu\\u00e9bec": "Est", "Ontario": "Centre"}\n' >"$work/flat/regions.json"
"$RS" --vocab "$work/flat" >"$work/flat.ndjson"
equals "--vocab: regions.json as {STATE: REGION}" \
    "$(jq -r 'select(.type == "rep") | "\(.data.region):\(.data.homeState)"' "$work/flat.ndjson" | sort -u | paste -sd' ')" \
    "Centre:Ontario Est:Québec"

# ---- --help, --version
out=$("$RS" --help 2>"$work/err"); st=$?
if [ "$st" = 0 ] && grep -qi 'usage' <<<"$out" && grep -q -- '--seed' <<<"$out" && [ ! -s "$work/err" ]
then pass "--help: usage on stdout, exit 0"; else fail "--help: usage on stdout, exit 0" "exit $st: $out"; fi
out=$("$RS" generate --help); st=$?
if [ "$st" = 0 ] && grep -q -- '--opportunities' <<<"$out"; then pass "generate --help"
else fail "generate --help" "exit $st: $out"; fi
equals "--version" "$("$RS" --version)" "revops-stream 0.1.0"

# ---- bad input (SPEC 8): status, one line naming the problem, no file left
# bad NAME STATUS PATTERN ARGS...: generate -o into an empty directory.
bad() {
    local name=$1 status=$2 pat=$3; shift 3
    local dir; dir=$(mktemp -d)
    expect_error "$name" "$status" "$pat" "$RS" -o "$dir/out.ndjson" "$@"
    no_files_left "$name: no file left" "$dir"
    rm -rf "$dir"
}
bad "unknown option" 2 'bogus' --bogus
bad "missing option value" 2 'seed' --seed
bad "stray argument" 2 'stray' stray
bad "negative count" 2 'reps|NUM_REPS' --reps -1
bad "overflowing count" 2 'reps|NUM_REPS' --reps 99999999999999999999999
bad "non-numeric count" 2 'reps|NUM_REPS' --reps abc
bad "fractional count" 2 'opportunities|NUM_OPPORTUNITIES' --opportunities 1.5
bad "non-numeric seed" 2 'seed|SEED' --seed x1
bad "pct above 1" 2 'RECENT_CLOSE_PCT' --set RECENT_CLOSE_PCT=1.5
bad "negative pct" 2 'MISSING_CLOSE_PCT' --set MISSING_CLOSE_PCT=-0.1
bad "recent + missing > 1" 2 'RECENT_CLOSE_PCT|MISSING_CLOSE_PCT' \
    --set RECENT_CLOSE_PCT=0.7 --set MISSING_CLOSE_PCT=0.5
bad "invalid --as-of date" 2 'as-of|AS_OF' --as-of 2026-02-30
bad "malformed --as-of" 2 'as-of|AS_OF' --as-of 19-02-2026
bad "inverted window" 2 'RECENT_CLOSE_WINDOW' \
    --set 'RECENT_CLOSE_WINDOW=DateWindow(start="2026-02-18", end="2025-10-01")'
bad "invalid window date" 2 'FUTURE_CLOSE_WINDOW' \
    --set 'FUTURE_CLOSE_WINDOW=DateWindow(start="2026-02-19", end="2026-13-01")'
bad "too many opportunities for the accounts" 2 'opportunit|OPPORTUNIT' --accounts 2 --opportunities 10
bad "too few opportunities for OPPS_PER_ACCOUNT_MIN" 2 'opportunit|OPPORTUNIT' \
    --set OPPS_PER_ACCOUNT_MIN=2 --accounts 10 --opportunities 5
bad "too few reps for the territories" 2 'rep|REPS|territor' --reps 1 --accounts 500
bad "unknown setting" 2 'NOPE' --set NOPE=1
bad "--set without =" 2 'NUM_REPS|set' --set NUM_REPS
bad "bad setting value" 2 'PARETO_ALPHA' --set PARETO_ALPHA=fast
bad "unknown type" 2 'foo|types' --types foo
bad "bad --generated-at" 2 'generated-at' --generated-at yesterday
printf 'NUM_REPS = 40\nNOPE = 1\n' >"$work/unknown.conf"
bad "settings file with an unknown name" 2 'NOPE' --settings "$work/unknown.conf"
bad "missing settings file" 2 'no-such.conf' --settings "$work/no-such.conf"
mkdir "$work/empty" && : >"$work/empty/nouns.txt"
bad "vocab: empty file" 2 'nouns' --vocab "$work/empty"
mkdir "$work/blank" && printf '\n  \n\n' >"$work/blank/stages.txt"
bad "vocab: only blank lines" 2 'stages' --vocab "$work/blank"
mkdir "$work/latin1" && printf 'Caf\351\n' >"$work/latin1/nouns.txt"
bad "vocab: non-UTF-8 file" 2 'nouns.*(UTF|utf)|(UTF|utf).*nouns' --vocab "$work/latin1"
mkdir "$work/badjson" && printf '{"CA": ' >"$work/badjson/regions.json"
bad "vocab: broken regions.json" 2 'regions' --vocab "$work/badjson"
bad "vocab: missing directory" 2 'no-such-dir' --vocab "$work/no-such-dir"
expect_error "bad SOURCE_DATE_EPOCH" 2 'SOURCE_DATE_EPOCH' env SOURCE_DATE_EPOCH=soon "$RS" --opportunities 0
expect_error "-o into a missing directory" 1 'no-such-dir' "$RS" -o "$work/no-such-dir/out.ndjson"

rm -rf "$work"
unset SOURCE_DATE_EPOCH

# Found by fuzzing: a bare product list with a blank item looped forever.
printf 'PRODUCTS = \f\r,\r,x\n' >"${TMPDIR:-/tmp}/rs-blank-products.conf"
expect_error "a blank product name is an error, not a hang" 2 'PRODUCTS: expected a tuple' \
    timeout 10 "$RS" --settings "${TMPDIR:-/tmp}/rs-blank-products.conf"
rm -f "${TMPDIR:-/tmp}/rs-blank-products.conf"
