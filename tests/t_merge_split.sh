# merge and split: canonical bytes against Python's json module (an oracle
# that builds the payload from the stream itself), --compact, round trips
# merge(split(x)) == x from files and pipes, -o atomicity, options, and every
# bad input of SPEC 8 that merge/split own: one error line naming FILE:LINE,
# status 1, and no file left behind.
# Sourced by tests/run.sh (helpers in tests/lib.sh).

work=$(mktemp -d)
fx="$TESTS_DIR/fixtures"
export SOURCE_DATE_EPOCH=1771477209

same() { if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(cmp "$2" "$3" 2>&1 | head -1)"; fi; }
equals() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got:  $2"$'\n'"want: $3"; fi; }

# py_payload STREAM MODE: the data.json Python writes for a stream, built by
# Python alone (json.loads per line, grouped by type) - MODE indent|compact.
py_payload() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert lines[-1] == ""
recs = [json.loads(l) for l in lines[:-1]]
assert recs[0]["type"] == "header" and recs[-1]["type"] == "footer"
h = recs[0]["data"]
out = {"schema": h["schema"], "generated_at": h["generated_at"], "reps": [], "accounts": [],
       "opportunities": [], "territories": [], "opportunity_history": []}
key = {"rep": "reps", "account": "accounts", "opportunity": "opportunities",
       "territory": "territories", "opportunity_history": "opportunity_history"}
for r in recs[1:-1]:
    out[key[r["type"]]].append(r["data"])
# json.dumps gives the bytes json.dump(out, f, indent=2) writes, much faster.
sys.stdout.write(json.dumps(out, indent=2) if sys.argv[2] == "indent" else json.dumps(out))
EOF
}

# py_redump FILE MODE: json.load, then json.dump(indent=2) or json.dumps.
py_redump() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
sys.stdout.write(json.dumps(d, indent=2) if sys.argv[2] == "indent" else json.dumps(d))' "$1" "$2"
}

# canonical NAME STREAM: merge and merge --compact equal the Python oracle,
# re-dumping the output changes nothing, and split inverts merge. CHECK:
# merge options (--no-validate for fixtures that only exercise JSON).
canonical() {
    local name=$1 s=$2
    if ! "$RS" merge ${CHECK:-} "$s" >"$work/m.json" 2>"$work/err"; then fail "$name: merge" "$(cat "$work/err")"; return; fi
    py_payload "$s" indent >"$work/py.json"
    same "$name: merge == Python json.dump(indent=2) of the stream" "$work/m.json" "$work/py.json"
    py_redump "$work/m.json" indent >"$work/re.json"
    same "$name: json.load + json.dump(indent=2) of merge's output changes nothing" "$work/m.json" "$work/re.json"
    "$RS" merge ${CHECK:-} --compact "$s" >"$work/c.json"
    py_payload "$s" compact >"$work/pyc.json"
    same "$name: merge --compact == Python json.dumps" "$work/c.json" "$work/pyc.json"
    "$RS" split "$work/m.json" >"$work/split.ndjson"
    "$RS" merge ${CHECK:-} "$work/split.ndjson" >"$work/m2.json"
    same "$name: merge(split(x)) == x (files)" "$work/m.json" "$work/m2.json"
    cat "$work/m.json" | "$RS" split | "$RS" merge ${CHECK:-} >"$work/m3.json"
    same "$name: merge(split(x)) == x (pipes: split spools stdin)" "$work/m.json" "$work/m3.json"
    "$RS" split <"$work/c.json" | "$RS" merge ${CHECK:-} --compact >"$work/c2.json"
    same "$name: split of the compact form, merged compact, is unchanged" "$work/c.json" "$work/c2.json"
    tail -n +2 "$s" >"$work/a.body"
    tail -n +2 "$work/split.ndjson" >"$work/b.body"
    same "$name: split writes the records and footer of the original stream" "$work/a.body" "$work/b.body"
}

# ---- canonical bytes and round trips
# The fixture exercises JSON spelling, not the data model: no data-model checks.
CHECK=--no-validate canonical "fixture (escapes, controls, DEL, non-BMP, U+2028)" "$fx/tiny.ndjson"
# Any JSON spelling of the records: spaces, needless escapes, -0, CR/tab around.
"$RS" merge --no-validate "$fx/loose.ndjson" >"$work/l.json"
py_payload "$fx/loose.ndjson" indent >"$work/l.py"
same "loose NDJSON (spaces, escapes, \\/, -0) == Python json.dump(indent=2)" "$work/l.json" "$work/l.py"
"$RS" merge --no-validate --compact "$fx/loose.ndjson" >"$work/l.json"
py_payload "$fx/loose.ndjson" compact >"$work/l.py"
same "loose NDJSON --compact == Python json.dumps" "$work/l.json" "$work/l.py"
"$RS" --seed 5 >"$work/g5.ndjson"
canonical "generated --seed 5" "$work/g5.ndjson"
"$RS" --seed 5 --opportunities 0 >"$work/g0.ndjson"
canonical "generated, 0 opportunities (empty arrays)" "$work/g0.ndjson"
"$RS" --seed 3 --reps 300 --accounts 3000 --opportunities 5000 >"$work/gbig.ndjson"
canonical "generated, 5000 opportunities (data.json spans many read chunks)" "$work/gbig.ndjson"
"$RS" --seed 5 | "$RS" merge >"$work/p.json"
"$RS" merge "$work/g5.ndjson" >"$work/f.json"
same "generate | merge (stdin) == merge FILE" "$work/p.json" "$work/f.json"
"$RS" merge - <"$work/g5.ndjson" >"$work/p.json"
same "merge - reads stdin" "$work/p.json" "$work/f.json"

# data.json from another tool: other whitespace, \/ and \u00E9 escapes, raw UTF-8
"$RS" split "$fx/other-tool.json" >"$work/o.ndjson"
"$RS" merge "$work/o.ndjson" >/dev/null 2>"$work/err"
if grep -q 'rule quota failed .*no settings digest (split writes such): give merge the --as-of, --set, --settings and --vocab the data was made with, --lenient' "$work/err"
then pass "merge of another tool's data (split) checks the formulas, and says what to give"
else fail "merge of another tool's data (split) checks the formulas" "$(cat "$work/err")"; fi
"$RS" merge --lenient "$work/o.ndjson" >"$work/o.json"
py_redump "$fx/other-tool.json" indent >"$work/o.py"
same "split + merge of another tool's data.json == Python's canonical dump" "$work/o.json" "$work/o.py"
equals "split header: counts from the arrays, seed/as_of/settings null" \
    "$(head -1 "$work/o.ndjson" | jq -c '.data | del(.generated_at)')" \
    '{"schema":"revops-agent-skeleton","generator":"revops-stream 0.1.0","seed":null,"as_of":null,"settings":null,"counts":{"reps":1,"accounts":1,"opportunities":0},"shard":{"index":1,"count":1}}'
equals "split footer counts every type" "$(tail -1 "$work/o.ndjson" | jq -c .data.records)" \
    '{"territory":1,"rep":1,"account":1,"opportunity":0,"opportunity_history":0}'
equals "split keeps generated_at" "$(head -1 "$work/o.ndjson" | jq -r .data.generated_at)" \
    "2025-12-31T23:59:59+01:00"
equals "split output is compact NDJSON with UTF-8 as is" "$(sed -n 3p "$work/o.ndjson")" \
    '{"type":"rep","data":{"id":1,"name":"Renée / Smith","homeState":"TX","region":"South","quota":300000,"territoryId":1}}'

if ! quick; then
    "$RS" --seed 11 --reps 1000 --accounts 15000 --opportunities 25000 >"$work/g25k.ndjson"
    canonical "generated, 25000 opportunities" "$work/g25k.ndjson"
fi

# ---- options
"$RS" merge --generated-at 2030-01-02T03:04:05.000006+00:00 "$work/g5.ndjson" >"$work/ga.json"
equals "--generated-at replaces the header's" "$(jq -r .generated_at "$work/ga.json")" \
    "2030-01-02T03:04:05.000006+00:00"
equals "--generated-at changes nothing else" "$(jq -c 'del(.generated_at)' "$work/ga.json" | md5sum)" \
    "$(jq -c 'del(.generated_at)' "$work/f.json" | md5sum)"
expect_error "--generated-at not ISO-8601" 2 "generated-at" "$RS" merge --generated-at yesterday "$work/g5.ndjson"
check "--memory 64M accepted" "$RS" merge --memory 64M -o "$work/mem.json" "$work/g5.ndjson"
check "--memory 2G accepted" "$RS" merge --memory 2G -o "$work/mem.json" "$work/g5.ndjson"
same "--memory does not change the bytes" "$work/mem.json" "$work/f.json"
expect_error "--memory nonsense" 2 "--memory" "$RS" merge --memory lots "$work/g5.ndjson"
expect_error "--memory 12Q" 2 "--memory" "$RS" merge --memory 12Q "$work/g5.ndjson"
expect_error "--memory too small" 2 "--memory" "$RS" merge --memory 100 "$work/g5.ndjson"
expect_error "--memory overflow" 2 "--memory" "$RS" merge --memory 99999999999999999999G "$work/g5.ndjson"
expect_error "merge: unknown option" 2 "unknown option" "$RS" merge --frobnicate "$work/g5.ndjson"
expect_error "merge: -o without a value" 2 "needs a value" "$RS" merge -o
expect_error "split: unknown option" 2 "unknown option" "$RS" split -x "$work/f.json"
out=$("$RS" merge --help); st=$?
if [ $st = 0 ] && printf '%s' "$out" | grep -q '^Usage: revops-stream merge'; then pass "merge --help"; else fail "merge --help" "$out"; fi
out=$("$RS" split --help); st=$?
if [ $st = 0 ] && printf '%s' "$out" | grep -q '^Usage: revops-stream split'; then pass "split --help"; else fail "split --help" "$out"; fi
expect_error "merge: missing file" 1 "nope.ndjson: cannot open" "$RS" merge "$work/nope.ndjson"
expect_error "split: missing file" 1 "nope.json: cannot open" "$RS" split "$work/nope.json"

# ---- -o is atomic
d=$(mktemp -d)
check "merge -o writes the file" "$RS" merge -o "$d/data.json" "$work/g5.ndjson"
same "merge -o holds the same bytes as stdout" "$d/data.json" "$work/f.json"
equals "merge -o leaves no temp file" "$(ls -A "$d")" "data.json"
check "split -o writes the file" "$RS" split -o "$d/s.ndjson" "$d/data.json"
equals "split -o leaves no temp file" "$(ls -A "$d" | tr '\n' ' ')" "data.json s.ndjson "
printf 'old' >"$d/keep.json"
head -5 "$work/g5.ndjson" >"$work/trunc.ndjson"
"$RS" merge -o "$d/keep.json" "$work/trunc.ndjson" 2>/dev/null
equals "a failed merge -o leaves the old file alone" "$(cat "$d/keep.json")" "old"
rm -rf "$d"
expect_error "merge to a full disk" 1 "write failed" bash -c 'exec "$0" merge "$1" >/dev/full' "$RS" "$work/g5.ndjson"
"$RS" --seed 3 --reps 300 --accounts 12000 --opportunities 20000 >"$work/g20k.ndjson"
( set -o pipefail; "$RS" merge "$work/g20k.ndjson" 2>"$work/err" | head -c 10 >/dev/null ); st=$?
if [ $st = 0 ] && [ ! -s "$work/err" ]; then pass "merge | head ends quietly"; else fail "merge | head ends quietly" "exit $st: $(cat "$work/err")"; fi

# ---- a regular file is parsed in its memory mapping (mapin.c), a pipe is
# read: the same bytes either way, also from a regular file on stdin that
# merge starts reading part-way (the mapping starts at stdin's offset).
"$RS" merge "$work/g20k.ndjson" >"$work/m20k-file.json"
cat "$work/g20k.ndjson" | "$RS" merge >"$work/m20k-pipe.json"
same "merge of a 13 MB file (mapped) = merge of it through a pipe" "$work/m20k-file.json" "$work/m20k-pipe.json"
"$RS" merge <"$work/g20k.ndjson" >"$work/m20k-stdin.json"
same "merge <FILE (mapped stdin) = merge through a pipe" "$work/m20k-stdin.json" "$work/m20k-pipe.json"
{ echo "not a record"; cat "$work/g20k.ndjson"; } >"$work/g20k-after-junk.ndjson"
{ head -1 >/dev/null; "$RS" merge >"$work/m20k-offset.json"; } <"$work/g20k-after-junk.ndjson"
same "merge of stdin read from past its first line (mapped from that offset)" "$work/m20k-offset.json" \
    "$work/m20k-pipe.json"
# Out of order near its end: merge sorts from there on, and the checker
# must have read what it was given in the mapping before the file goes.
python3 -c '
import sys
lines = open(sys.argv[1]).read().splitlines(True)
i = len(lines) - 20
lines[i], lines[i + 1] = lines[i + 1], lines[i]
open(sys.argv[2], "w").writelines(lines)' "$work/g20k.ndjson" "$work/g20k-swapped.ndjson"
"$RS" merge "$work/g20k-swapped.ndjson" >"$work/m20k-swapped.json"
same "a mapped file out of order near its end merges to the same bytes" "$work/m20k-swapped.json" \
    "$work/m20k-pipe.json"
# A file that grows while it is merged (appended to while merge waits on
# its output) is read to its new end, as a file read with read() would be.
head -c 5000000 "$work/g20k.ndjson" >"$work/growing.ndjson"
( "$RS" merge "$work/growing.ndjson"; echo $? >"$work/st" ) |
    { sleep 1; tail -c +5000001 "$work/g20k.ndjson" >>"$work/growing.ndjson"; cat >"$work/m20k-grown.json"; }
equals "merge of a file that grows under it exits 0" "$(cat "$work/st")" 0
same "merge of a file that grows under it reads it all" "$work/m20k-grown.json" "$work/m20k-pipe.json"
# A file truncated under the merge: one line and status 1, not a crash.
# The merge blocks on its full stdout pipe with most of the file unread;
# the file is cut meanwhile, then the pipe drained.
cp "$work/g20k.ndjson" "$work/shrinking.ndjson"
( "$RS" merge "$work/shrinking.ndjson" 2>"$work/err"; echo $? >"$work/st" ) |
    { sleep 1; truncate -s 100000 "$work/shrinking.ndjson"; cat >/dev/null; }
equals "merge of a file truncated under it exits 1" "$(cat "$work/st")" 1
equals "merge of a file truncated under it says so in one line" "$(cat "$work/err")" \
    "revops-stream: an input file was truncated (or could not be read) while it was being read: the output is incomplete (an -o file is not written)"

# ---- SIGTERM mid-run: merge -o leaves no temp file, split no spool in $TMPDIR
d=$(mktemp -d)
mkfifo "$d/in"
( head -5 "$work/g5.ndjson"; sleep 3 ) >"$d/in" &
feeder=$!
mkdir "$d/out"
"$RS" merge -o "$d/out/data.json" "$d/in" 2>/dev/null &
pid=$!
sleep 0.5
kill -TERM "$pid"; wait "$pid"; st=$?
kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null
equals "merge -o killed by SIGTERM exits 143" "$st" 143
no_files_left "merge -o killed by SIGTERM leaves no file" "$d/out"
mkdir "$d/tmp"
( head -c 20000 "$work/f.json"; sleep 3 ) | TMPDIR="$d/tmp" "$RS" split -o "$d/out/s.ndjson" 2>/dev/null &
pid=$!
sleep 0.5
kill -TERM "$pid"; wait "$pid"; st=$?
wait
equals "split killed by SIGTERM exits 143" "$st" 143
no_files_left "split killed mid-input leaves no spool file in \$TMPDIR" "$d/tmp"
no_files_left "split -o killed mid-input leaves no output" "$d/out"
rm -rf "$d"

# ---- memory stays flat: a few MiB of buffers, whatever the count
if [ -x /usr/bin/time ] && ! quick; then
    /usr/bin/time -f %M -o "$work/rss" "$RS" merge --no-validate -o "$work/m20k.json" "$work/g20k.ndjson"
    rss=$(tail -1 "$work/rss")
    if [ "$rss" -lt $((8 << 10)) ]; then pass "merge --no-validate of 20000 opportunities in ${rss} KB"
    else fail "merge --no-validate of 20000 opportunities in under 8 MiB" "peak RSS ${rss} KB"; fi
    # The checks add about 40 bytes a record (1 MB here), the checking
    # thread's eight batches of compact records (about 1 MB) and the mapped
    # pages it may still read.
    /usr/bin/time -f %M -o "$work/rss" "$RS" merge -o "$work/m20k.json" "$work/g20k.ndjson"
    rss=$(tail -1 "$work/rss")
    if [ "$rss" -lt $((12 << 10)) ]; then pass "merge of 20000 opportunities, checked, in ${rss} KB"
    else fail "merge of 20000 opportunities, checked, in under 12 MiB" "peak RSS ${rss} KB"; fi
    # Out of order a tenth of the way in: the rest is sorted, and the mapped
    # pages the checker had been reading are not kept meanwhile.
    python3 -c '
import sys
lines = open(sys.argv[1]).read().splitlines(True)
i = len(lines) // 10
lines[i], lines[i + 1] = lines[i + 1], lines[i]
open(sys.argv[2], "w").writelines(lines)' "$work/g20k.ndjson" "$work/g20k-early.ndjson"
    /usr/bin/time -f %M -o "$work/rss" "$RS" merge -o "$work/m20k.json" "$work/g20k-early.ndjson"
    rss=$(tail -1 "$work/rss")
    if [ "$rss" -lt $((16 << 10)) ]; then pass "merge of 20000 opportunities out of order early, checked, in ${rss} KB"
    else fail "merge of 20000 opportunities out of order early, checked, in under 16 MiB" "peak RSS ${rss} KB"; fi
    /usr/bin/time -f %M -o "$work/rss" "$RS" split -o "$work/s20k.ndjson" "$work/m20k.json"
    rss=$(tail -1 "$work/rss")
    if [ "$rss" -lt $((8 << 10)) ]; then pass "split of 20000 opportunities in ${rss} KB"
    else fail "split of 20000 opportunities in under 8 MiB" "peak RSS ${rss} KB"; fi
fi

# ---- bad streams: status 1, one line with FILE:LINE, no file left by -o
g="$work/g5.ndjson"
n=$(wc -l <"$g")
# bad_merge NAME PATTERN FILE [more merge args]: both to stdout and with -o.
bad_merge() {
    local name=$1 pat=$2 f=$3; shift 3
    expect_error "merge: $name" 1 "$pat" "$RS" merge "$@" "$f"
    local d; d=$(mktemp -d)
    expect_error "merge -o: $name" 1 "$pat" "$RS" merge "$@" -o "$d/data.json" "$f"
    no_files_left "merge -o: $name: no file left" "$d"
    rmdir "$d" 2>/dev/null
}
# mutate LINE PYTHON-EXPR: g5 with line LINE (1-based) replaced by the expression
# evaluated with `l` = that line's text and `json` imported.
mutate() { replace_line "$g" "$1" "$2" >"$work/bad.ndjson"; }

mutate 5 '"{not json"'
bad_merge "non-JSON line" "bad.ndjson:5: invalid JSON" "$work/bad.ndjson"
head -n $((n - 1)) "$g" >"$work/bad.ndjson"
bad_merge "truncated stream (no footer)" "bad.ndjson:$((n - 1)): truncated stream" "$work/bad.ndjson"
head -n 7 "$g" >"$work/bad.ndjson"
bad_merge "stream cut after a record" "bad.ndjson:7: truncated stream" "$work/bad.ndjson"
head -c -1 "$g" >"$work/bad.ndjson"
bad_merge "last line without newline" "bad.ndjson:$n: last line has no newline" "$work/bad.ndjson"
: >"$work/bad.ndjson"
bad_merge "empty input" "bad.ndjson:1: empty input" "$work/bad.ndjson"
mutate 3 'l.replace("\"territory\"", "\"planet\"")'
bad_merge "unknown type" 'bad.ndjson:3: unknown record type "planet"' "$work/bad.ndjson"
rep=$(grep -n '"type":"rep"' "$g" | head -1 | cut -d: -f1)
mutate "$rep" 'json.dumps({"type": "rep", "data": {k: v for k, v in json.loads(l)["data"].items() if k != "region"}}, separators=(",", ":"))'
bad_merge "missing field" "bad.ndjson:$rep: rep record: missing field \"region\"" "$work/bad.ndjson"
mutate "$rep" 'l[:-2] + ",\"extra\":1}}"'
bad_merge "extra field" "bad.ndjson:$rep: rep record: unknown field \"extra\"" "$work/bad.ndjson"
mutate "$rep" 'l.replace("\"quota\":", "\"quota\":\"") .replace(",\"territoryId\"", "\",\"territoryId\"")'
bad_merge "mistyped field (string quota)" "bad.ndjson:$rep: rep record: field \"quota\": expected integer, got string" "$work/bad.ndjson"
acc=$(grep -n '"type":"account"' "$g" | head -1 | cut -d: -f1)
opp=$(grep -n '"type":"opportunity"' "$g" | head -1 | cut -d: -f1)
mutate "$acc" 'l.replace("\"isCustomer\":false", "\"isCustomer\":0").replace("\"isCustomer\":true", "\"isCustomer\":1")'
bad_merge "mistyped field (number for boolean)" "bad.ndjson:$acc: account record: field \"isCustomer\": expected boolean" "$work/bad.ndjson"
mutate $((rep + 1)) 'l.replace("\"id\":2,", "\"id\":1,", 1)'
bad_merge "duplicate id" "bad.ndjson:$((rep + 1)): duplicate rep id 1" "$work/bad.ndjson"
mutate $((rep + 1)) 'l.replace("\"id\":2,", "\"id\":3,", 1)'
bad_merge "missing id" "bad.ndjson:$((rep + 1)): missing rep id 2 \\(found id 3\\)" "$work/bad.ndjson"
his=$(grep -n '"type":"opportunity_history"' "$g" | sed -n 2p | cut -d: -f1)
mutate "$his" 'l.replace("\"id\":2,", "\"id\":1,", 1)'
bad_merge "duplicate history id" "bad.ndjson:$his: opportunity_history id 1 after id 1" "$work/bad.ndjson"
mutate 4 'l.replace("Territory", "Terr\x00itory")'
bad_merge "NUL byte" "bad.ndjson:4: NUL byte" "$work/bad.ndjson"
python3 -c 'import sys
b = open(sys.argv[1], "rb").read().split(b"\n")
b[5] = b[5].replace(b"\"name\":\"", b"\"name\":\"\xc3\x28", 1)
sys.stdout.buffer.write(b"\n".join(b))' "$g" >"$work/bad.ndjson"
bad_merge "invalid UTF-8" "bad.ndjson:6: invalid UTF-8" "$work/bad.ndjson"
mutate 4 'l.replace("Territory", "\\ud800 Territory")'
bad_merge "lone surrogate escape" "bad.ndjson:4: unpaired UTF-16 surrogate" "$work/bad.ndjson"
mutate "$n" 'l.replace("\"rep\":30", "\"rep\":31")'
bad_merge "footer count mismatch" "bad.ndjson:$n: footer counts 31 rep records, the stream has 30" "$work/bad.ndjson"
mutate "$n" 'l.replace("\"opportunity_history\":", "\"opportunity_history\":1")'
bad_merge "footer history count mismatch" "bad.ndjson:$n: footer counts 1[0-9]+ opportunity_history records" "$work/bad.ndjson"
# A header's counts are part of its settings digest: the data-model checks
# stop at the header; the structural checks (--no-validate) at the records.
mutate 1 'l.replace("\"accounts\":70", "\"accounts\":71")'
bad_merge "header count mismatch" "bad.ndjson:1: rule settings: header: header digest [0-9a-f]+, but the given settings" "$work/bad.ndjson"
bad_merge "header count mismatch, --no-validate" "bad.ndjson:$((opp)): opportunity records after 70 account records of the header's 71" "$work/bad.ndjson" --no-validate
mutate 1 'l.replace("\"reps\":30", "\"reps\":29")'
bad_merge "more records than the header says, --no-validate" "bad.ndjson:$((rep + 29)): more rep records than the header's count 29" "$work/bad.ndjson" --no-validate
# ---- merge never writes a data.json that validate rejects (issue 5)
mutate "$rep" 'l.replace("\"territoryId\":", "\"territoryId\":9", 1)'
"$RS" validate "$work/bad.ndjson" >/dev/null 2>&1
equals "validate rejects a rep in a territory that does not exist" "$?" 1
bad_merge "a record that breaks a data-model rule" \
    "bad.ndjson:[0-9]+: rule (foreign-keys|account-territory): .*\(validate lists every rule\)" "$work/bad.ndjson"
# A violation only the end can show (a quota: it needs every amount), in a
# stream large enough that most of the document is out before it.
"$RS" --seed 5 --reps 3000 --accounts 7000 --opportunities 10000 >"$work/big5.ndjson"
python3 - "$work/big5.ndjson" >"$work/badq.ndjson" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
for i, l in enumerate(lines):
    if l.startswith('{"type":"rep"'):
        lines[i] = l.replace('"quota":', '"quota":1', 1)
        break
sys.stdout.write("\n".join(lines))
PY
"$RS" merge "$work/badq.ndjson" >"$work/partial.json" 2>"$work/err"; st=$?
if [ $st = 1 ] && [ "$(wc -c <"$work/partial.json")" -gt 1000000 ] &&
    ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$work/partial.json" 2>/dev/null &&
    grep -q '^revops-stream: merge: rule quota failed' "$work/err"; then
    pass "an invalid merge on stdout never ends as a complete JSON document"
else fail "an invalid merge on stdout never ends as a complete JSON document" \
    "status $st, $(wc -c <"$work/partial.json") bytes: $(cat "$work/err")"; fi
"$RS" merge --no-validate "$work/bad.ndjson" >"$work/nv.json"; st=$?
equals "merge --no-validate writes it anyway (structure only)" "$st" 0
opp_line=$(grep -n '"type":"opportunity"' "$g" | head -1 | cut -d: -f1)
python3 - "$g" "$opp_line" >"$work/bad.ndjson" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
i = int(sys.argv[2]) - 1
lines[i] = re.sub(r'"amount":[0-9]+', '"amount":999999999999', lines[i])
sys.stdout.write("\n".join(lines))
PY
bad_merge "amounts over an account's TAM (a rule over all records)" \
    "merge: rule amount-tam failed \(1 violation; first account [0-9]+: .*\) \(validate lists every rule\)" \
    "$work/bad.ndjson"
"$RS" --seed 5 --set QUOTA_MIN=100000 --set IS_CUSTOMER_RATE=0.5 >"$work/custom.ndjson"
bad_merge "a stream of other settings, merged without them" \
    "custom.ndjson:1: rule settings: header: header digest [0-9a-f]+, but .*give merge the settings options given to generate, or --no-validate" \
    "$work/custom.ndjson"
if "$RS" merge --set QUOTA_MIN=100000 --set IS_CUSTOMER_RATE=0.5 "$work/custom.ndjson" >"$work/custom.json" &&
    "$RS" validate --set QUOTA_MIN=100000 --set IS_CUSTOMER_RATE=0.5 "$work/custom.json" >/dev/null; then
    pass "merge with generate's --set options; validate agrees"
else fail "merge with generate's --set options"; fi
"$RS" --seed 5 --reps 3000 --accounts 7000 --opportunities 10000 >"$work/g10k.ndjson"
bad_merge "--memory too small for the data-model checks" \
    "g10k.ndjson:1: checking the data model keeps about [0-9]+ MiB for these counts, over half of --memory \(1 MiB\): give --memory [0-9]+M or more, or --no-validate" \
    "$work/g10k.ndjson" --memory 1M
"$RS" merge --memory 1M --no-validate "$work/g10k.ndjson" >/dev/null
equals "the same with --no-validate" "$?" 0
# --settings from a pipe is read once, so it means the same as from a file.
printf 'IS_CUSTOMER_RATE = 0.5\nQUOTA_MIN = 100000\n' >"$work/custom.conf"
if "$RS" merge --settings <(cat "$work/custom.conf") "$work/custom.ndjson" | cmp -s - "$work/custom.json"; then
    pass "merge --settings from a pipe == from the --set options"
else fail "merge --settings from a pipe"; fi
expect_error "merge --no-validate still checks --vocab" 2 "merge: --vocab: .*nope" \
    "$RS" merge --no-validate --vocab "$work/nope" "$g"
expect_error "merge: --lenient with --no-validate" 2 "exclude each other" "$RS" merge --lenient --no-validate "$g"
expect_error "merge: --set of an unknown setting" 2 "merge: unknown setting \"NOPE\"" "$RS" merge --set NOPE=1 "$g"
expect_error "merge: --vocab of a missing directory" 2 "merge: --vocab: .*nope" "$RS" merge --vocab "$work/nope" "$g"

{ cat "$g"; tail -1 "$g"; } >"$work/bad.ndjson"
bad_merge "a second footer" "bad.ndjson:$((n + 1)): footer of shard 1 of 1 repeated \\(also at .*bad.ndjson:$n\\)" "$work/bad.ndjson"
{ cat "$g"; sed -n 3p "$g"; } >"$work/bad.ndjson"
bad_merge "a record after the footer (a duplicate)" "bad.ndjson:$((n + 1)): duplicate territory id 2" "$work/bad.ndjson"
{ cat "$g"; sed -n "${rep}p" "$g" | sed 's/"id":1,/"id":31,/'; } >"$work/bad.ndjson"
bad_merge "an extra record after the footer" "bad.ndjson:$((n + 1)): more rep records than the header's count 30" "$work/bad.ndjson"
# Records out of order are sorted (t_merge_shards.sh); a duplicate placed
# before the records it repeats is reported where the repeat is found.
{ head -1 "$g"; sed -n "${rep}p" "$g"; sed -n '2,$p' "$g"; } >"$work/bad.ndjson"
bad_merge "types out of dependency order, with a duplicate" "bad.ndjson:$((rep + 1)): duplicate rep id 1" "$work/bad.ndjson"
sed -n '2,$p' "$g" >"$work/bad.ndjson"
bad_merge "no header" "bad.ndjson:1: expected a header record first" "$work/bad.ndjson"
{ sed -n 2p "$g"; cat "$g"; } >"$work/bad.ndjson"
bad_merge "a record before the header (a duplicate)" "bad.ndjson:3: duplicate territory id 1" "$work/bad.ndjson"
{ head -1 "$g"; cat "$g"; } >"$work/bad.ndjson"
bad_merge "second header" "bad.ndjson:2: shard 1 of 1 repeated \\(also at .*bad.ndjson:1\\)" "$work/bad.ndjson"
mutate 1 'l.replace("\"shard\":{\"index\":1,\"count\":1}", "\"shard\":{\"index\":1,\"count\":2}")'
bad_merge "a shard of several, its footer not" "bad.ndjson:$n: footer shard 1/1 does not match the header's 1/2" "$work/bad.ndjson"
sed 's/"shard":{"index":1,"count":1}/"shard":{"index":1,"count":2}/' "$g" >"$work/bad.ndjson"
bad_merge "one shard of two" "merge: shard 2 of 2 is missing \\(inputs: .*bad.ndjson\\)" "$work/bad.ndjson"
"$RS" --seed 5 --types opportunity,opportunity_history >"$work/bad.ndjson"
bad_merge "stream made with --types" "opportunity records but no rep records before them \\(made with --types\\?\\)" "$work/bad.ndjson"
{ head -1 "$g"; printf '{"type":"territory","data":{"id":1,"name":"'; head -c $((20 << 20)) /dev/zero | tr '\0' x; printf '"}}\n'; sed -n '3,$p' "$g"; } >"$work/bad.ndjson"
measure_rss=false
[ -x /usr/bin/time ] && ! quick && measure_rss=true
$measure_rss && /usr/bin/time -f %M -o "$work/rss" "$RS" merge -o "$work/never.json" "$work/bad.ndjson" 2>"$work/err"
bad_merge "a 20 MiB line" "bad.ndjson:2: line longer than 16 MiB" "$work/bad.ndjson"
# The line buffer stops at 16 MiB + one read; sanitizers distort RSS.
if $measure_rss; then
    rss=$(tail -1 "$work/rss")
    if [ "$rss" -lt $((24 << 10)) ]; then pass "a 20 MiB line is refused in bounded memory (${rss} KB)"
    else fail "a 20 MiB line is refused in bounded memory" "peak RSS ${rss} KB"; fi
fi
expect_error "merge: the same stream twice" 1 "g5.ndjson:1: shard 1 of 1 repeated \\(also at .*g5.ndjson:1\\)" \
    "$RS" merge "$g" "$g"
expect_error "merge: stdin twice" 2 "stdin \\(-\\) given 2 times" "$RS" merge - -
mutate 5 '"{not json"'
mv "$work/bad.ndjson" "$work/bad5.ndjson"
expect_error "merge: stdin errors are named <stdin>:LINE" 1 "<stdin>:5: invalid JSON" \
    bash -c 'exec "$0" merge <"$1"' "$RS" "$work/bad5.ndjson"

# ---- bad data.json for split: status 1, FILE:LINE, no file left by -o
"$RS" merge "$g" >"$work/good.json"
# bad_split NAME PATTERN FILE
bad_split() {
    local name=$1 pat=$2 f=$3
    expect_error "split: $name" 1 "$pat" "$RS" split "$f"
    local d; d=$(mktemp -d)
    expect_error "split -o: $name" 1 "$pat" "$RS" split -o "$d/s.ndjson" "$f"
    no_files_left "split -o: $name: no file left" "$d"
    rmdir "$d" 2>/dev/null
}
printf 'not json\n' >"$work/bad.json"
bad_split "not JSON" "bad.json:1: invalid JSON" "$work/bad.json"
head -c 5000 "$work/good.json" >"$work/bad.json"
bad_split "truncated" "bad.json:[0-9]+: unexpected end of file" "$work/bad.json"
sed 's/"accounts": \[/"acounts": [/' "$work/good.json" >"$work/bad.json"
line=$(grep -n '"acounts"' "$work/bad.json" | cut -d: -f1)
bad_split "misspelt top-level key" "bad.json:$line: expected top-level key \"accounts\", got \"acounts\"" "$work/bad.json"
sed '0,/"quota": /s//"quota": 1.5, "x": /' "$work/good.json" >"$work/bad.json"
line=$(grep -n '"quota": 1.5' "$work/bad.json" | cut -d: -f1)
bad_split "fraction for an integer" "bad.json:$line: reps element: field \"quota\": expected integer, got fraction" "$work/bad.json"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["extra"] = 1; json.dump(d, sys.stdout, indent=2)' \
    "$work/good.json" >"$work/bad.json"
bad_split "an eighth top-level key" "unexpected key \"extra\" after \"opportunity_history\"" "$work/bad.json"
{ cat "$work/good.json"; printf '\n{}'; } >"$work/bad.json"
bad_split "trailing data" "invalid JSON" "$work/bad.json"
printf '{"schema": "s", "generated_at": "\xff"}' >"$work/bad.json"
bad_split "invalid UTF-8" "bad.json:1: invalid UTF-8" "$work/bad.json"
expect_error "split: stdin errors are named <stdin>:LINE" 1 "<stdin>:1: invalid UTF-8" \
    bash -c 'exec "$0" split <"$1"' "$RS" "$work/bad.json"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["reps"].reverse(); json.dump(d, sys.stdout, indent=2)' \
    "$work/good.json" >"$work/bad.json"
bad_split "arrays out of id order" "bad.json:[0-9]+: rep id [0-9]+ is out of order \\(expected 1\\)" "$work/bad.json"

rm -rf "$work"
