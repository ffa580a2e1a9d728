#!/usr/bin/env bash
# Benchmarks for SPEC 7 (run by `make bench`): prints figures, asserts nothing.
#   peak RSS of generate at 10^4 and 10^7 opportunities (/usr/bin/time -v),
#   single-thread generate to /dev/null at 10^7 opportunities (median of 3),
#   merge of a 10^6-opportunity stream to /dev/null (median of 3).
# Counts keep the default proportions: reps = 0.3 x opps, accounts = 0.7 x opps.
# RS_BIN: the binary (default ./revops-stream). BENCH_BIG: the large count.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${RS_BIN:-./revops-stream}
big=${BENCH_BIG:-10000000}
big_label=$big
[ "$big" = 10000000 ] && big_label="10^7"
export SOURCE_DATE_EPOCH=1771477209
work=$(mktemp -d "${TMPDIR:-/tmp}/rs-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# counts N: the options for N opportunities, in the array C.
counts() { C=(--reps $(($1 * 3 / 10)) --accounts $(($1 * 7 / 10)) --opportunities "$1"); }
now() { date +%s%N; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
# rate BYTES NANOSECONDS: MB/s (10^6 bytes).
rate() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.0f", b / (ns / 1e9) / 1e6 }'; }

# The single-thread option exists once -j does; the figure is the same either way.
threads=()
"$bin" --help 2>/dev/null | grep -Eq -- '(^|[ ,])-j[ ,]' && threads=(-j 1)

# peak_rss CMD...: "N.N MiB" from /usr/bin/time -v (package "time").
peak_rss() {
    if [ ! -x /usr/bin/time ]; then echo "n/a (no /usr/bin/time)"; return; fi
    /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt"
    awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2 / 1024 }' "$work/time.txt"
}

row() { printf '%-46s %s\n' "$1" "$2"; }
row "figure" "value"
row "------" "-----"

counts 10000
row "peak RSS, generate 10^4 opportunities" "$(peak_rss "$bin" "${C[@]}")"
counts "$big"
row "peak RSS, generate $big_label opportunities" "$(peak_rss "$bin" "${C[@]}")"

counts 100000
t0=$(now); "$bin" "${C[@]}" >/dev/null; t1=$(now)
row "generate 10^5 opportunities, wall time" "$(( (t1 - t0) / 1000000 )) ms"

# Size and record count of the big stream, from one pass through a pipe.
counts "$big"
mkfifo "$work/fifo"
tail -n 1 <"$work/fifo" >"$work/footer" &
tail_pid=$!
"$bin" "${threads[@]}" "${C[@]}" | tee "$work/fifo" | wc -c >"$work/bytes"
wait "$tail_pid"
bytes=$(cat "$work/bytes")
records=$(python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["data"]["records"].values()))' <"$work/footer")
times=()
for _ in 1 2 3; do
    t0=$(now); "$bin" "${threads[@]}" "${C[@]}" >/dev/null; t1=$(now)
    times+=($((t1 - t0)))
done
ns=$(median3 "${times[@]}")
row "generate $big_label opps -> /dev/null, 1 thread" \
    "$(rate "$bytes" "$ns") MB/s, $(awk -v r="$records" -v ns="$ns" 'BEGIN { printf "%.1f", r / (ns / 1e9) / 1e6 }') M records/s"
row "  (stream size, records, median time)" \
    "$((bytes / 1000000)) MB, $records records, $(awk -v ns="$ns" 'BEGIN { printf "%.2f", ns / 1e9 }') s"

counts 1000000
"$bin" "${C[@]}" >"$work/m.ndjson"
mbytes=$(stat -c %s "$work/m.ndjson")
times=()
for _ in 1 2 3; do
    t0=$(now); "$bin" merge <"$work/m.ndjson" >/dev/null; t1=$(now)
    times+=($((t1 - t0)))
done
row "merge 10^6-opportunity stream -> /dev/null" "$(rate "$mbytes" "$(median3 "${times[@]}")") MB/s of NDJSON"
row "peak RSS, merge 10^6 opportunities" "$(peak_rss "$bin" merge "$work/m.ndjson")"
