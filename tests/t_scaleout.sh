# Scale-out (SPEC 3): -j never changes the bytes; --shard K/N recombines into
# the unsharded records (checked with Python, not with our merge); zstd output
# (checked with the zstd CLI); scripts/parallel-shards.sh (GNU parallel) equals
# the single-process merge. Sourced by tests/run.sh (helpers in tests/lib.sh).

work=$(mktemp -d)
export SOURCE_DATE_EPOCH=1771477209
recipe="$TESTS_DIR/../scripts/parallel-shards.sh"

same() { if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(cmp "$2" "$3" 2>&1 | head -1)"; fi; }
# counts N: options for N opportunities in the default proportions, in array C.
counts() { C=(--reps $(($1 * 3 / 10)) --accounts $(($1 * 7 / 10)) --opportunities "$1"); }

# ---- -j: the bytes never depend on the number of threads
# 0 opportunities (no opportunity or history block at all), the defaults, and
# enough records to span many blocks of every type.
big=200000
quick && big=20000
j_cases=("--opportunities 0" "--seed 9" "--seed 3 --reps $((big * 3 / 10)) --accounts $((big * 7 / 10)) --opportunities $big")
for opts in "${j_cases[@]}"; do
    read -ra o <<<"$opts"
    "$RS" -j 1 "${o[@]}" >"$work/j1"
    ok=true msg=""
    # Into a pipe (piped), workers up to the CPUs write their own blocks in turn.
    for j in 2 7 default piped-2 piped-default; do
        case $j in
        default) "$RS" "${o[@]}" >"$work/jn" ;;
        piped-2) "$RS" -j 2 --quiet "${o[@]}" | cat >"$work/jn" ;;
        piped-default) "$RS" --quiet "${o[@]}" | cat >"$work/jn" ;;
        *) "$RS" -j "$j" "${o[@]}" >"$work/jn" ;;
        esac
        cmp -s "$work/j1" "$work/jn" || { ok=false; msg+="-j $j differs; "; }
    done
    tail -1 "$work/j1" | grep -q '"type":"footer"' || { ok=false; msg+="no footer; "; }
    if $ok; then pass "-j 1, 2, 7 and the default, to a file and into a pipe, give the same bytes ($opts)"
    else fail "-j 1, 2, 7 and the default, to a file and into a pipe, give the same bytes ($opts)" "$msg"; fi
done
rm -f "$work/j1" "$work/jn"
expect_error "-j x is a usage error" 2 '' "$RS" -j x
expect_error "--threads without a value is a usage error" 2 '' "$RS" --threads

# ---- --shard K/N recombines into the unsharded records
cat >"$work/shards.py" <<'EOF'
# shards.py N WHOLE SHARD_1 .. SHARD_N: prints what is wrong, exits 1 if anything.
import json, sys
TYPES = ["territory", "rep", "account", "opportunity", "opportunity_history"]
n_shards, whole_path, shard_paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
errors = []

def load(path):
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines[-1] != b"":
        errors.append(f"{path}: no final newline")
    lines = lines[:-1]
    recs = [json.loads(l) for l in lines]
    if recs[0]["type"] != "header" or recs[-1]["type"] != "footer":
        errors.append(f"{path}: not header ... footer")
    raw = {t: [] for t in TYPES}
    data = {t: [] for t in TYPES}
    last = 0
    for line, rec in zip(lines[1:-1], recs[1:-1]):
        t = TYPES.index(rec["type"])
        if t < last:
            errors.append(f"{path}: {rec['type']} after {TYPES[last]}")
        last = t
        raw[rec["type"]].append(line)
        data[rec["type"]].append(rec["data"])
    return recs[0]["data"], recs[-1]["data"], raw, data

w_head, w_foot, w_raw, w_data = load(whole_path)
total = {t: len(w_data[t]) for t in TYPES}
want_head = {k: v for k, v in w_head.items() if k != "shard"}
opp_range = {}
shards = []
for k, path in enumerate(shard_paths, 1):
    head, foot, raw, data = load(path)
    shards.append(raw)
    shard = {"index": k, "count": n_shards}
    if list(head.keys()) != list(w_head.keys()) or {x: v for x, v in head.items() if x != "shard"} != want_head:
        errors.append(f"shard {k}: header differs from the whole set's beyond 'shard': {head}")
    if list(head.get("shard", {}).items()) != list(shard.items()):
        errors.append(f"shard {k}: header shard {head.get('shard')}")
    if list(foot.get("shard", {}).items()) != list(shard.items()):
        errors.append(f"shard {k}: footer shard {foot.get('shard')}")
    own = {t: len(data[t]) for t in TYPES}
    if list(foot.get("records", {}).items()) != list(own.items()):
        errors.append(f"shard {k}: footer records {foot.get('records')}, has {own}")
    if k > 1 and data["territory"]:
        errors.append(f"shard {k}: has territories")
    # Range K of ids 1..n: floor((K-1)n/N)+1 .. floor(Kn/N), so sizes differ by <= 1.
    for t in ("rep", "account", "opportunity"):
        n = total[t]
        lo, hi = (k - 1) * n // n_shards + 1, k * n // n_shards
        ids = [d["id"] for d in data[t]]
        if ids != list(range(lo, hi + 1)):
            errors.append(f"shard {k}: {t} ids {ids[:1]}..{ids[-1:]} ({len(ids)}), want {lo}..{hi}")
        if not (n // n_shards <= len(ids) <= -(-n // n_shards)):
            errors.append(f"shard {k}: {len(ids)} {t}s of {n} is not near-equal")
        if t == "opportunity":
            opp_range = (lo, hi)
    stray = [d["id"] for d in data["opportunity_history"]
             if not opp_range[0] <= d["opportunity_id"] <= opp_range[1]]
    if stray:
        errors.append(f"shard {k}: history ids {stray[:3]} belong to other shards' opportunities")
for t in TYPES:
    joined = [line for raw in shards for line in raw[t]]
    if joined != w_raw[t]:
        at = next((i for i, (a, b) in enumerate(zip(joined, w_raw[t])) if a != b), min(len(joined), len(w_raw[t])))
        errors.append(f"{t}: shards 1..{n_shards} give {len(joined)} records, whole {len(w_raw[t])}; first difference at record {at + 1}")
for e in errors[:20]:
    print(e)
sys.exit(1 if errors else 0)
EOF

# Shard counts per case: fewer, and a smaller medium case, in quick mode.
counts 5000
n_lists=("1 2 3 7 64" "1 2 3 7 64" "1 2 3 7 64")
if quick; then counts 1000; n_lists=("1 2 3 7 64" "3 64" "3"); fi
shard_cases=("--seed 4" "--seed 8 ${C[*]}" "--opportunities 0")
for i in "${!shard_cases[@]}"; do
    opts=${shard_cases[$i]}
    read -ra o <<<"$opts"
    "$RS" "${o[@]}" >"$work/whole.ndjson"
    for n in ${n_lists[$i]}; do
        files=() st=0
        for k in $(seq 1 "$n"); do
            "$RS" --shard "$k/$n" "${o[@]}" >"$work/s$k.ndjson" || st=$?
            files+=("$work/s$k.ndjson")
        done
        if [ $st != 0 ]; then fail "shards of $n recombine ($opts)" "a shard exited $st"
        elif out=$(python3 "$work/shards.py" "$n" "$work/whole.ndjson" "${files[@]}" 2>&1); then
            pass "shards 1..$n: records type by type = unsharded, ranges contiguous and near-equal, footers count their own ($opts)"
        else fail "shards 1..$n recombine ($opts)" "$out"; fi
        rm -f "${files[@]}"
    done
done
"$RS" --shard 1/1 --seed 4 >"$work/s1.ndjson"
"$RS" --seed 4 >"$work/whole.ndjson"
same "--shard 1/1 is the unsharded stream byte for byte" "$work/whole.ndjson" "$work/s1.ndjson"

read -ra o <<<"${shard_cases[1]}"
"$RS" -j 1 --shard 5/7 "${o[@]}" >"$work/a"
"$RS" -j 7 --shard 5/7 "${o[@]}" >"$work/b"
same "--shard 5/7: -j 7 gives the bytes of -j 1" "$work/a" "$work/b"
"$RS" --shard 2/3 --types opportunity_history "${o[@]}" | grep -v '"type":"\(header\|footer\)"' >"$work/a"
"$RS" --shard 2/3 "${o[@]}" | grep '"type":"opportunity_history"' >"$work/b"
if [ -s "$work/b" ] && cmp -s "$work/a" "$work/b"; then pass "--shard with --types: the shard's records of those types"
else fail "--shard with --types" "$(wc -l "$work/a" "$work/b")"; fi

for bad in 0/3 4/3 x 1/0 3 -1/3 2/3x; do
    expect_error "--shard $bad is a usage error" 2 'shard' "$RS" --shard "$bad"
done
expect_error "--shard without a value is a usage error" 2 '' "$RS" --shard

# ---- zstd output, with the zstd CLI as the oracle
counts 20000
read -ra o <<<"--seed 6 ${C[*]}"
"$RS" "${o[@]}" >"$work/plain"
"$RS" "${o[@]}" -j 1 --compress zstd >"$work/c.zst"
if zstd -q -d -c "$work/c.zst" >"$work/d" 2>"$work/err" && cmp -s "$work/plain" "$work/d" &&
   [ "$(stat -c %s "$work/c.zst")" -lt "$(stat -c %s "$work/plain")" ]; then
    pass "--compress zstd: zstd -d gives the plain bytes"
else fail "--compress zstd round trip" "$(cat "$work/err"; cmp "$work/plain" "$work/d" 2>&1)"; fi
"$RS" "${o[@]}" -o "$work/out.ndjson.zst"
if zstd -q -d -c "$work/out.ndjson.zst" 2>"$work/err" | cmp -s "$work/plain" -; then
    pass "-o PATH.zst: zstd -d gives the plain bytes"
else fail "-o PATH.zst round trip" "$(cat "$work/err")"; fi
[ "$(ls -A "$work" | grep -c 'out\.ndjson\.zst')" = 1 ] && pass "-o PATH.zst leaves no temp file" ||
    fail "-o PATH.zst leaves no temp file" "$(ls -A "$work")"
# Level 19 is slow (seconds a MB): a small stream.
"$RS" --seed 6 >"$work/small"
"$RS" --seed 6 --compress zstd:1 >"$work/c1.zst"
"$RS" --seed 6 --compress zstd:19 >"$work/c19.zst"
if zstd -q -d -c "$work/c19.zst" | cmp -s "$work/small" - &&
   [ "$(stat -c %s "$work/c19.zst")" -lt "$(stat -c %s "$work/c1.zst")" ]; then
    pass "--compress zstd:19 round-trips and is smaller than zstd:1"
else fail "--compress zstd:19" "sizes: $(stat -c %s "$work/c1.zst") (1), $(stat -c %s "$work/c19.zst") (19)"; fi
"$RS" "${o[@]}" -j 2 --compress zstd >"$work/c2.zst"
if zstd -q -d -c "$work/c2.zst" | cmp -s "$work/plain" -; then pass "--compress zstd -j 2: zstd -d gives the plain bytes"
else fail "--compress zstd -j 2 round trip"; fi
"$RS" "${o[@]}" -j 7 --compress zstd >"$work/c7.zst"
# SPEC 3: the output bytes never depend on -j, compressed ones included.
if cmp -s "$work/c.zst" "$work/c2.zst" && cmp -s "$work/c.zst" "$work/c7.zst"; then
    pass "--compress zstd: -j 1, 2 and 7 write the same compressed bytes"
else fail "--compress zstd: -j 1, 2 and 7 write the same compressed bytes" \
    "sizes $(stat -c %s "$work/c.zst") $(stat -c %s "$work/c2.zst") $(stat -c %s "$work/c7.zst")"; fi
"$RS" --shard 2/3 "${o[@]}" >"$work/plain"
"$RS" --shard 2/3 "${o[@]}" -o "$work/s2.zst"
if zstd -q -d -c "$work/s2.zst" | cmp -s "$work/plain" -; then pass "--shard 2/3 -o PATH.zst round-trips"
else fail "--shard 2/3 -o PATH.zst round trip"; fi
"$RS" --opportunities 0 --compress zstd | zstd -q -d -c >"$work/d"
"$RS" --opportunities 0 >"$work/plain"
same "--compress zstd, 0 opportunities" "$work/plain" "$work/d"
rm -f "$work"/*.zst "$work/plain" "$work/small" "$work/d"
expect_error "--compress gzip is a usage error" 2 'gzip|compress' "$RS" --compress gzip
expect_error "--compress zstd:x is a usage error" 2 'compress|level' "$RS" --compress zstd:x
expect_error "--compress without a value is a usage error" 2 '' "$RS" --compress

# ---- the GNU parallel recipe equals the single-process merge
if ! command -v parallel >/dev/null 2>&1; then
    echo "note - GNU parallel is missing: scripts/parallel-shards.sh not run (scripts/install-deps.sh installs it)"
else
    counts 3000
    read -ra o <<<"--seed 7 ${C[*]}"
    "$RS" "${o[@]}" | "$RS" merge >"$work/single.json"
    # A TMPDIR of its own, to see that the recipe (and merge's spill) leave nothing.
    mkdir "$work/tmp"
    export TMPDIR="$work/tmp"
    RS_BIN="$RS" "$recipe" -n 3 -o "$work/files.json" -- "${o[@]}" 2>"$work/err"
    st=$?
    if [ $st = 0 ] && cmp -s "$work/single.json" "$work/files.json"; then
        pass "parallel-shards.sh -n 3 (zstd shard files) = single-process merge"
    else fail "parallel-shards.sh -n 3" "status $st: $(cat "$work/err")"; fi
    RS_BIN="$RS" "$recipe" -n 7 --zstd-level 0 -S : --bin "$RS" -- "${o[@]}" >"$work/plain.json" 2>"$work/err"
    st=$?
    if [ $st = 0 ] && cmp -s "$work/single.json" "$work/plain.json"; then
        pass "parallel-shards.sh -n 7 -S : (plain shard files, to stdout) = single-process merge"
    else fail "parallel-shards.sh -n 7 -S :" "status $st: $(cat "$work/err")"; fi
    RS_BIN="$RS" "$recipe" -n 5 --line-buffer --memory 4M -o "$work/lines.json" -- "${o[@]}" 2>"$work/err"
    st=$?
    if [ $st = 0 ] && cmp -s "$work/single.json" "$work/lines.json"; then
        pass "parallel-shards.sh -n 5 --line-buffer (interleaved lines into merge) = single-process merge"
    else fail "parallel-shards.sh --line-buffer" "status $st: $(cat "$work/err")"; fi

    # A failing shard (a usage error in every shard, in an option plan does
    # not take), or a failing plan (impossible counts): one line, status 2,
    # no output file.
    mkdir "$work/out"
    for mode in "" --line-buffer; do
        for bad in "--types bogus|shard .*revops-stream: --types" "--opportunities 10 --accounts 2|plan failed: revops-stream: "; do
            read -ra b <<<"${bad%%|*}"
            RS_BIN="$RS" "$recipe" -n 3 $mode -o "$work/out/x.json" -- "${b[@]}" >"$work/stdout" 2>"$work/err"
            st=$?
            if [ $st = 2 ] && [ "$(wc -l <"$work/err")" = 1 ] && grep -q "^parallel-shards.sh: ${bad#*|}" "$work/err" &&
               [ ! -s "$work/stdout" ] && [ -z "$(ls -A "$work/out")" ]; then
                pass "parallel-shards.sh ${mode:-(files)} -- ${bad%%|*}: one line, status $st, no output"
            else fail "parallel-shards.sh ${mode:-(files)} -- ${bad%%|*}" "status $st, stderr: $(cat "$work/err"), left: $(ls -A "$work/out")"; fi
        done
    done
    # The shards skip the analysis passes: they are given the plan.
    RS_BIN="$RS" bash -x "$recipe" -n 2 -o "$work/out/x.json" -- --seed 3 2>"$work/trace" >/dev/null
    if grep -q -- "--shard '{}/2' -j 1 .*--plan .*plan.json" "$work/trace"; then pass "parallel-shards.sh gives the shards --plan"
    else fail "parallel-shards.sh gives the shards --plan" "$(grep -m2 -- '--shard' "$work/trace")"; fi
    rm -f "$work/out/x.json"
    # SIGTERM mid-run: shards and merge stopped, temp files and output gone.
    counts 1000000
    for mode in "" --line-buffer; do
        # --seed $$ marks this run's shards apart from any other run's.
        RS_BIN="$RS" "$recipe" -n 4 $mode -o "$work/out/x.json" -- --seed $$ "${C[@]}" 2>/dev/null &
        pid=$!
        sleep 0.5
        kill -TERM "$pid"
        wait "$pid"
        st=$?
        # Shards get TERM from parallel; give a loaded machine time to end them.
        for _ in $(seq 50); do
            left=$(pgrep -f -- "--shard [0-9]+/4 -j 1.* --seed $$ .*--opportunities 1000000" || true)
            [ -z "$left" ] && break
            sleep 0.1
        done
        if [ $st = 143 ] && [ -z "$(find "$work/out" "$TMPDIR" -mindepth 1)" ] && [ -z "$left" ]; then
            pass "parallel-shards.sh ${mode:-(files)}: SIGTERM stops the shards and leaves no file"
        else fail "parallel-shards.sh ${mode:-(files)}: SIGTERM" "status $st; left: $(find "$work/out" "$TMPDIR" -mindepth 1) $left"; fi
    done
    no_files_left "parallel-shards.sh leaves nothing in TMPDIR" "$TMPDIR"
    "$recipe" -n 0 >/dev/null 2>"$work/err"
    st=$?
    if [ $st = 2 ] && [ "$(wc -l <"$work/err")" = 1 ]; then pass "parallel-shards.sh -n 0 is a usage error"
    else fail "parallel-shards.sh -n 0" "status $st: $(cat "$work/err")"; fi
fi
rm -rf "$work"

# Generate options that would make shards overwrite each other are refused.
for bad in "-o x.zst" "--shard 1/2" "--compress zstd"; do
    # shellcheck disable=SC2086
    msg=$(cd / && TMPDIR=/tmp "$TESTS_DIR/../scripts/parallel-shards.sh" -n 2 --bin "$RS" -- $bad 2>&1 >/dev/null)
    st=$?
    if [ "$st" = 2 ] && [ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] && printf '%s' "$msg" | grep -q 'set by this script'; then
        pass "parallel-shards.sh -- $bad is a usage error"
    else fail "parallel-shards.sh -- $bad" "status $st: $msg"; fi
done
