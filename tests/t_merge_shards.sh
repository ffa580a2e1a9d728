# merge of many inputs (SPEC 3): shards made with --shard K/N in any file
# order, one after another in one pipe, with their lines interleaved (as
# `parallel --line-buffer` writes them) or fully shuffled, sorted within a
# tiny --memory: each equals the merge of the unsharded stream byte for byte.
# Missing, repeated and foreign shards; zstd input with the zstd CLI as the
# oracle; corrupt zstd; spill files never left behind, even on SIGTERM.
# Sourced by tests/run.sh (helpers in tests/lib.sh).

work=$(mktemp -d)
export SOURCE_DATE_EPOCH=1771477209
tmp="$work/tmp" # a private $TMPDIR: whatever merge spills must be gone after
mkdir "$tmp"

same() { if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(cmp "$2" "$3" 2>&1 | head -1)"; fi; }
equals() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got:  $2"$'\n'"want: $3"; fi; }
# merged NAME WANT CMD...: CMD (a merge) exits 0, writes WANT's bytes, leaves $tmp empty.
merged() {
    local name=$1 want=$2; shift 2
    if ! "$@" >"$work/got" 2>"$work/err"; then fail "$name" "exit $?: $(cat "$work/err")"; return; fi
    if ! cmp -s "$work/got" "$want"; then fail "$name" "$(cmp "$work/got" "$want" 2>&1 | head -1)"; return; fi
    if [ -n "$(ls -A "$tmp")" ]; then fail "$name" "left in \$TMPDIR: $(ls -A "$tmp")"; return; fi
    pass "$name"
}

# mix.py MODE SEED OUT FILE...: MODE interleave: the files' lines mixed at
# random, each file's lines in their order (as parallel --line-buffer does);
# shuffle: every line anywhere.
cat >"$work/mix.py" <<'EOF'
import random, sys
mode, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
streams = [open(p, "rb").read().split(b"\n")[:-1] for p in sys.argv[4:]]
rnd = random.Random(seed)
if mode == "shuffle":
    lines = [l for s in streams for l in s]
    rnd.shuffle(lines)
else:
    pos, lines = [0] * len(streams), []
    live = [i for i, s in enumerate(streams) if s]
    while live:
        i = rnd.choice(live)
        lines.append(streams[i][pos[i]])
        pos[i] += 1
        if pos[i] == len(streams[i]):
            live.remove(i)
open(out, "wb").write(b"".join(l + b"\n" for l in lines))
EOF
mix() { python3 "$work/mix.py" "$@"; }
# order SEED FILE...: the files in a shuffled order, one per line.
order() { python3 -c 'import random, sys; f = sys.argv[2:]; random.Random(int(sys.argv[1])).shuffle(f); print("\n".join(f))' "$@"; }

n_opp=20000
quick && n_opp=3000
# Small enough that sorting spills. The data-model checks would take most of
# such a budget (they keep about 40 bytes per rep, account and opportunity,
# out of --memory), so the sorting cases skip them; one case below sorts,
# spills and checks.
MEM="1M --no-validate"
export MEM
# opts SEED N: generate options for N opportunities in the default proportions.
opts() { echo "--seed $1 --reps $(($2 * 3 / 10)) --accounts $(($2 * 7 / 10)) --opportunities $2"; }
read -ra O <<<"$(opts 12 "$n_opp")"
"$RS" "${O[@]}" >"$work/whole.ndjson"
"$RS" merge "$work/whole.ndjson" >"$work/whole.json"
"$RS" merge --compact "$work/whole.ndjson" >"$work/whole.c.json"
export TMPDIR="$tmp"

# ---- shards in separate files, in any order
for n in 2 3 7; do
    files=()
    for k in $(seq 1 "$n"); do
        "$RS" "${O[@]}" --shard "$k/$n" >"$work/s$n-$k.ndjson"
        files+=("$work/s$n-$k.ndjson")
    done
    mapfile -t shuffled < <(order "$n" "${files[@]}")
    merged "shards of $n in shuffled file order == the unsharded merge" "$work/whole.json" \
        "$RS" merge "${shuffled[@]}"
    merged "shards of $n, one after another in one pipe (shuffled order)" "$work/whole.json" \
        bash -c 'cat "$@" | "$0" merge --memory $MEM' "$RS" "${shuffled[@]}"
done
merged "shards of 3 --compact == the unsharded merge --compact" "$work/whole.c.json" \
    "$RS" merge --compact "$work/s3-2.ndjson" "$work/s3-3.ndjson" "$work/s3-1.ndjson"
merged "shards of 3 from files and stdin (-)" "$work/whole.json" \
    bash -c '"$0" merge "$1" - "$2" <"$3"' "$RS" "$work/s3-3.ndjson" "$work/s3-1.ndjson" "$work/s3-2.ndjson"
cat "$work/s3-1.ndjson" "$work/s3-3.ndjson" >"$work/s13.ndjson"
merged "shards of 3: two in one file, one in another" "$work/whole.json" \
    "$RS" merge "$work/s3-2.ndjson" "$work/s13.ndjson"
d=$(mktemp -d -p "$work")
"$RS" merge -o "$d/data.json" "$work/s7-4.ndjson" "$work/s7-"{1,2,3,5,6,7}.ndjson
same "shards of 7 with -o" "$d/data.json" "$work/whole.json"
equals "-o leaves only the output" "$(ls -A "$d")" "data.json"
rm -rf "$d"

# ---- interleaved and shuffled lines, sorted within --memory $MEM (spilling)
mix interleave 1 "$work/inter.ndjson" "$work"/s7-*.ndjson
merged "7 shards' lines interleaved, each shard in order, --memory 1M" "$work/whole.json" \
    "$RS" merge --memory $MEM "$work/inter.ndjson"
merged "7 shards' lines interleaved, default --memory (sorted in memory)" "$work/whole.json" \
    "$RS" merge "$work/inter.ndjson"
mix shuffle 2 "$work/shuf.ndjson" "$work"/s7-*.ndjson
merged "7 shards' lines fully shuffled, --memory 1M" "$work/whole.json" \
    "$RS" merge --memory $MEM "$work/shuf.ndjson"
merged "7 shards' lines fully shuffled, --compact" "$work/whole.c.json" \
    "$RS" merge --compact --memory $MEM "$work/shuf.ndjson"
mix shuffle 3 "$work/wshuf.ndjson" "$work/whole.ndjson"
merged "the unsharded stream's lines fully shuffled, from a pipe, --memory 1M" "$work/whole.json" \
    bash -c '"$0" merge --memory $MEM <"$1"' "$RS" "$work/wshuf.ndjson"
mix interleave 4 "$work/i3.ndjson" "$work"/s3-*.ndjson
mix shuffle 5 "$work/sh2.ndjson" "$work"/s2-*.ndjson
merged "shards of 3 interleaved in one file, --memory 1M" "$work/whole.json" \
    "$RS" merge --memory $MEM "$work/i3.ndjson"
merged "a shuffled file of shards 1-2 of 2 given with nothing else" "$work/whole.json" \
    "$RS" merge --memory $MEM "$work/sh2.ndjson"
mix interleave 6 "$work/i12.ndjson" "$work/s3-1.ndjson" "$work/s3-2.ndjson"
merged "shards 1+2 interleaved in one file, shard 3 in another" "$work/whole.json" \
    "$RS" merge --memory $MEM "$work/s3-3.ndjson" "$work/i12.ndjson"
merged "GNU parallel --line-buffer: 4 shards into one pipe" "$work/whole.json" \
    bash -c 'parallel -j 4 --line-buffer "$0 $1 --shard {}/4" ::: 1 2 3 4 | "$0" merge --memory $MEM' \
    "$RS" "${O[*]}"

# Sorting, spilling and the data-model checks together: 6M leaves the sort
# less than the shuffled stream needs.
merged "7 shards' lines fully shuffled, checked, --memory 6M" "$work/whole.json" \
    "$RS" merge --memory 6M "$work/shuf.ndjson"
# The checks' memory comes out of a given --memory even when sorting starts
# before the header is read (here the header is deep in a shuffled file).
if [ -x /usr/bin/time ] && ! quick; then
    "$RS" --seed 4 --reps 60000 --accounts 140000 --opportunities 200000 >"$work/s200k.ndjson"
    shuffle_lines 5 "$work/s200k.ndjson" >"$work/sh200k.ndjson"
    "$RS" merge --no-validate "$work/s200k.ndjson" >"$work/want200k.json"
    /usr/bin/time -f %M -o "$work/rss" "$RS" merge --memory 48M -o "$work/m200k.json" "$work/sh200k.ndjson"
    rss=$(tail -1 "$work/rss")
    if cmp -s "$work/m200k.json" "$work/want200k.json" && [ "$rss" -lt $(((48 + 16) << 10)) ]; then
        pass "merge --memory 48M, checked, header deep in a shuffled file: ${rss} KB"
    else fail "merge --memory 48M, checked, header deep in a shuffled file" "peak RSS ${rss} KB"; fi
    rm -f "$work/s200k.ndjson" "$work/sh200k.ndjson" "$work/want200k.json" "$work/m200k.json"
fi
# Sorting holds memory to --memory: a flat few MiB for 1M, whatever the input.
if [ -x /usr/bin/time ] && ! quick; then
    /usr/bin/time -f %M -o "$work/rss" "$RS" merge --memory $MEM -o "$work/m.json" "$work/shuf.ndjson"
    rss=$(tail -1 "$work/rss")
    size=$(($(stat -c %s "$work/shuf.ndjson") >> 10))
    if [ "$rss" -lt $((16 << 10)) ]; then pass "merge --memory $MEM of $size KB shuffled in ${rss} KB"
    else fail "merge --memory $MEM of $size KB shuffled in under 16 MiB" "peak RSS ${rss} KB"; fi
fi

expect_error "merge: spilling to a \$TMPDIR that does not exist" 1 "nope: cannot create a temp file to spill to: No such file" \
    env TMPDIR="$work/nope" "$RS" merge --memory $MEM "$work/shuf.ndjson"

# ---- generated_at: the earliest instant of the shards (not the smallest text)
sed '1s/"generated_at":"[^"]*"/"generated_at":"2026-02-19T06:00:00.5+02:00"/' "$work/s3-2.ndjson" >"$work/g2.ndjson"
"$RS" merge "$work/s3-1.ndjson" "$work/g2.ndjson" "$work/s3-3.ndjson" >"$work/g.json"
equals "generated_at: the earliest shard's (06:00+02:00 is before 05:00:09Z)" \
    "$(jq -r .generated_at "$work/g.json")" "2026-02-19T06:00:00.5+02:00"
equals "generated_at: nothing else changes" "$(jq -c 'del(.generated_at)' "$work/g.json" | md5sum)" \
    "$(jq -c 'del(.generated_at)' "$work/whole.json" | md5sum)"
"$RS" merge --generated-at 2030-01-01T00:00:00+00:00 "$work/s3-1.ndjson" "$work/g2.ndjson" "$work/s3-3.ndjson" \
    >"$work/g.json"
equals "--generated-at wins over the shards'" "$(jq -r .generated_at "$work/g.json")" "2030-01-01T00:00:00+00:00"

# ---- missing, repeated, foreign shards: status 1, one line naming the files, nothing written
s1="$work/s3-1.ndjson" s2="$work/s3-2.ndjson" s3="$work/s3-3.ndjson"
# bad_shards NAME PATTERN FILE...: to stdout and with -o (which must leave nothing).
bad_shards() {
    local name=$1 pat=$2; shift 2
    expect_error "merge: $name" 1 "$pat" "$RS" merge "$@"
    local d; d=$(mktemp -d -p "$work")
    expect_error "merge -o: $name" 1 "$pat" "$RS" merge -o "$d/data.json" "$@"
    no_files_left "merge -o: $name: nothing written" "$d"
    rmdir "$d" 2>/dev/null
}
# bad_late NAME PATTERN FILE...: the same for problems found only after
# output began: stdout may hold the start of the document, -o nothing.
bad_late() {
    local name=$1 pat=$2; shift 2
    "$RS" merge "$@" >/dev/null 2>"$work/err"
    local st=$? lines; lines=$(wc -l <"$work/err")
    if [ $st = 1 ] && [ "$lines" = 1 ] && grep -Eq -- "^revops-stream: .*$pat" "$work/err"; then pass "merge: $name"
    else fail "merge: $name" "exit $st: $(cat "$work/err")"; fi
    local d; d=$(mktemp -d -p "$work")
    expect_error "merge -o: $name" 1 "$pat" "$RS" merge -o "$d/data.json" "$@"
    no_files_left "merge -o: $name: nothing written" "$d"
    rmdir "$d" 2>/dev/null
}
bad_shards "missing shard" "merge: shard 2 of 3 is missing \\(inputs: .*s3-1.ndjson, .*s3-3.ndjson\\)" "$s1" "$s3"
bad_shards "missing shards" "merge: 4 of 7 shards are missing: 1, 3, 5, 7 \\(inputs: " \
    "$work/s7-2.ndjson" "$work/s7-4.ndjson" "$work/s7-6.ndjson"
bad_shards "missing shard, interleaved input" "merge: shard 3 of 3 is missing \\(inputs: .*i12.ndjson\\)" \
    "$work/i12.ndjson"
bad_shards "repeated shard" "s3-2.ndjson:1: shard 2 of 3 repeated \\(also at .*s3-2.ndjson:1\\)" "$s1" "$s2" "$s2" "$s3"
bad_shards "repeated shard inside an interleaved file" "i3.ndjson:[0-9]+: shard [123] of 3 repeated \\(also at .*s3-[123].ndjson:1\\)" \
    "$s1" "$s2" "$s3" "$work/i3.ndjson"
read -ra F <<<"$(opts 13 "$n_opp")"
"$RS" "${F[@]}" --shard 2/3 >"$work/f-seed.ndjson"
bad_shards "foreign shard (other seed)" "f-seed.ndjson:1: shard 2 of 3 is foreign to .*s3-1.ndjson:1: seed 13, not 12" \
    "$s1" "$work/f-seed.ndjson" "$s3"
"$RS" "${O[@]}" --shard 2/4 >"$work/f-count.ndjson"
bad_shards "foreign shard (other shard count)" "f-count.ndjson:1: shard 2 of 4 is foreign to .*s3-1.ndjson:1: it is one of 4 shards, not 3" \
    "$s1" "$work/f-count.ndjson" "$s3"
"$RS" "${O[@]}" --set RECENT_CLOSE_PCT=0.2 --shard 3/3 >"$work/f-set.ndjson"
bad_shards "foreign shard (other settings)" "f-set.ndjson:1: shard 3 of 3 is foreign to .*s3-1.ndjson:1: settings digest" \
    "$s1" "$s2" "$work/f-set.ndjson"
read -ra F <<<"$(opts 12 $((n_opp + 2)))"
"$RS" "${F[@]}" --shard 3/3 >"$work/f-n.ndjson"
bad_shards "foreign shard (other counts)" "f-n.ndjson:1: shard 3 of 3 is foreign to .*s3-1.ndjson:1: (counts|settings)" \
    "$s1" "$s2" "$work/f-n.ndjson"
mix interleave 7 "$work/fi.ndjson" "$s1" "$s2" "$work/f-seed.ndjson"
bad_shards "foreign shard inside an interleaved file" "fi.ndjson:[0-9]+: shard [0-9] of 3 is foreign to .*fi.ndjson:1: seed 1[23], not 1[23]" \
    "$work/fi.ndjson"

# A shard that is not what its footer says.
n2=$(wc -l <"$s2")
sed "${n2}s/\"rep\":\\([0-9]*\\)/\"rep\":1\\1/" "$s2" >"$work/b-foot.ndjson"
bad_late "a shard's footer miscounts" "b-foot.ndjson:$n2: footer counts 1[0-9]+ rep records, shard 2 of 3 has [0-9]+" \
    "$s1" "$work/b-foot.ndjson" "$s3"
head -n $((n2 - 1)) "$s2" >"$work/b-trunc.ndjson"
bad_late "a truncated shard (no footer)" "b-trunc.ndjson:$((n2 - 1)): truncated stream: no footer after this line" \
    "$s1" "$work/b-trunc.ndjson" "$s3"
rep2=$(grep -m1 -n '"type":"rep"' "$s2" | cut -d: -f1)
sed "${rep2}d" "$s2" >"$work/b-hole.ndjson"
bad_late "a record missing from a shard" "b-hole.ndjson:$rep2: missing rep id [0-9]+ \\(found id [0-9]+\\)" \
    "$s1" "$work/b-hole.ndjson" "$s3"
# Shards 2 and 3 with each other's labels: counts agree, the ranges do not.
sed '1s/"index":2,/"index":3,/; $s/"index":2,/"index":3,/' "$s2" >"$work/as3.ndjson"
sed '1s/"index":3,/"index":2,/; $s/"index":3,/"index":2,/' "$s3" >"$work/as2.ndjson"
if [ "$(grep -c '"rep"' "$s2")" = "$(grep -c '"rep"' "$s3")" ]; then
    bad_late "shards with swapped labels" "shard [23] of 3 holds [a-z_]+ records [0-9]+\\.\\.[0-9]+ of the whole, its footer's counts make it" \
        "$s1" "$work/as2.ndjson" "$work/as3.ndjson"
fi
{ cat "$s1"; sed -n "$((rep2 + 1))p" "$s3"; } >"$work/b-stray.ndjson"
bad_late "a record of shard 3 in shard 1's input" "b-stray.ndjson:$(($(wc -l <"$s1") + 1)): (duplicate rep id|rep id [0-9]+ is shard 3 of 3's by the footers' counts)" \
    "$work/b-stray.ndjson" "$s2" "$s3"
expect_error "merge: stdin given twice" 2 "stdin \\(-\\) given 2 times" "$RS" merge - "$s1" -

# ---- zstd input, the zstd CLI as the oracle
merged "generate | zstd | merge == merge" "$work/whole.json" \
    bash -c '"$0" "${@}" | zstd -q -c | "$0" merge' "$RS" "${O[@]}"
zstd -q -c "$work/whole.ndjson" >"$work/whole.ndjson.zst"
cp "$work/whole.ndjson.zst" "$work/whole.data"
merged "merge FILE.zst == merge" "$work/whole.json" "$RS" merge "$work/whole.ndjson.zst"
merged "zstd recognised by magic number, not name" "$work/whole.json" "$RS" merge "$work/whole.data"
zstd -q -c "$s1" >"$work/s1.zst"
zstd -q -c "$s3" >"$work/s3.zst"
merged "shards, some compressed" "$work/whole.json" "$RS" merge "$work/s3.zst" "$s2" "$work/s1.zst"
zstd -q -c "$work/shuf.ndjson" >"$work/shuf.zst"
merged "shuffled and compressed, --memory 1M" "$work/whole.json" "$RS" merge --memory $MEM "$work/shuf.zst"
# Concatenated frames, the cut in the middle of a line; and a skippable frame first.
half=$(($(stat -c %s "$work/whole.ndjson") / 2 + 7))
{ head -c "$half" "$work/whole.ndjson" | zstd -q -c; tail -c +$((half + 1)) "$work/whole.ndjson" | zstd -q -c; } \
    >"$work/two.zst"
{ printf '\x50\x2a\x4d\x18\x05\x00\x00\x00skip!'; cat "$work/whole.ndjson.zst"; } >"$work/skip.zst"
for f in two skip; do
    if zstd -q -d -c "$work/$f.zst" | cmp -s - "$work/whole.ndjson"; then
        merged "zstd input of $f frames (zstd -d agrees)" "$work/whole.json" "$RS" merge "$work/$f.zst"
    else fail "zstd -d of the $f-frame fixture gives the stream back"; fi
done
merged "concatenated frames on stdin" "$work/whole.json" bash -c '"$0" merge <"$1"' "$RS" "$work/two.zst"
zstd -q -c "$work/whole.json" >"$work/whole.json.zst"
"$RS" split "$work/whole.json" >"$work/split.ndjson"
"$RS" split "$work/whole.json.zst" >"$work/split.zst.ndjson"
same "split FILE.zst == split FILE" "$work/split.zst.ndjson" "$work/split.ndjson"
"$RS" split <"$work/whole.json.zst" >"$work/split.zst.ndjson"
same "split of zstd on stdin (spooled compressed, read twice)" "$work/split.zst.ndjson" "$work/split.ndjson"
check "validate FILE.zst (a stream)" "$RS" validate "$work/whole.ndjson.zst"
check "validate of a zstd stream on stdin" bash -c '"$0" validate <"$1"' "$RS" "$work/two.zst"
check "validate FILE.zst (a data.json)" "$RS" validate "${O[@]}" "$work/whole.json.zst"
check "validate of a zstd data.json through a pipe" bash -c 'cat "$1" | "$0" validate "${@:2}"' "$RS" \
    "$work/whole.json.zst" "${O[@]}"

# Corrupt zstd: one line naming the file, status 1, nothing written.
python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read())
m = len(b) // 2
for i in range(m, m + 16): b[i] ^= 0x55
open(sys.argv[2], "wb").write(b)' "$work/whole.ndjson.zst" "$work/flip.zst"
head -c $(($(stat -c %s "$work/whole.ndjson.zst") / 2)) "$work/whole.ndjson.zst" >"$work/cut.zst"
{ cat "$work/whole.ndjson.zst"; printf 'garbage after the frame\n'; } >"$work/trail.zst"
for f in flip cut trail; do
    if zstd -q -t "$work/$f.zst" 2>/dev/null; then fail "zstd -t finds $f.zst corrupt"; continue; fi
    bad_late "corrupt zstd ($f)" "$f.zst: corrupt zstd input: " "$work/$f.zst"
    expect_error "validate: corrupt zstd ($f)" 1 "$f.zst: corrupt zstd input: " "$RS" validate "$work/$f.zst"
done
bad_late "truncated zstd says so" "cut.zst: corrupt zstd input: truncated" "$work/cut.zst"
d=$(mktemp -d -p "$work")
expect_error "merge -o: truncated zstd on stdin" 1 "<stdin>: corrupt zstd input: truncated" \
    bash -c 'exec "$0" merge -o "$1" <"$2"' "$RS" "$d/data.json" "$work/cut.zst"
no_files_left "merge -o: truncated zstd on stdin: nothing written" "$d"
rm -rf "$d"
head -c $(($(stat -c %s "$work/whole.json.zst") / 2)) "$work/whole.json.zst" >"$work/cutj.zst"
expect_error "split: truncated zstd" 1 "cutj.zst: corrupt zstd input: truncated" "$RS" split "$work/cutj.zst"
expect_error "split: truncated zstd on stdin" 1 "<stdin>: corrupt zstd input: truncated" \
    bash -c 'exec "$0" split <"$1"' "$RS" "$work/cutj.zst"
printf '\x28\xb5\x2f\xfd' >"$work/magic.zst"
expect_error "merge: a zstd magic number alone" 1 "magic.zst: corrupt zstd input: truncated" "$RS" merge "$work/magic.zst"
no_files_left "no spill file left in \$TMPDIR after all the errors" "$tmp"

# ---- SIGTERM while spilling: the spill file goes with the process
d=$(mktemp -d -p "$work")
mkfifo "$d/in"
mkdir "$d/out"
( cat "$work/shuf.ndjson"; sleep 10 ) >"$d/in" &
feeder=$!
"$RS" merge --memory $MEM -o "$d/out/data.json" "$d/in" 2>/dev/null &
pid=$!
spilling=false
for _ in $(seq 100); do
    if ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "$tmp/revops-stream-merge"; then spilling=true; break; fi
    sleep 0.1
done
kill -TERM "$pid"; wait "$pid"; st=$?
kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null
if $spilling; then pass "merge was spilling to \$TMPDIR when killed"; else fail "merge was spilling to \$TMPDIR when killed"; fi
equals "merge killed while spilling exits 143" "$st" 143
no_files_left "merge killed while spilling leaves no spill file in \$TMPDIR" "$tmp"
no_files_left "merge -o killed while spilling leaves no output" "$d/out"
rm -rf "$d"

rm -rf "$work"
