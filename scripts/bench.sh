#!/usr/bin/env bash
# Benchmarks for SPEC 7 and the scale-out figures of SPEC 3 (run by `make bench`):
# prints figures, asserts nothing.
#   peak RSS of generate at 10^4, 10^6, 10^7 and 10^8 opportunities;
#   generate at 10^7 opportunities with -j 1 and -j 2, to /dev/null and through
#   `| cat > /dev/null`, beside the pipe's ceiling (/dev/zero through cat) and
#   the ceiling program (scripts/bench/ceiling.c: a bare formatter of one fixed
#   opportunity line, the same number of records) and the ratios to it;
#   time of shard 1/8 (and 8/8) over the whole run at 10^7;
#   merge of a 10^6-opportunity stream: in order, and shuffled with a small
#   --memory so that it spills; scripts/parallel-shards.sh at 10^6.
# Times are medians of 3 runs (the two vCPUs are shared: compare within a run).
# A ratio (generate over the ceiling program, merge over generate) comes from
# BENCH_ROUNDS (default 5) rounds that each run the two back to back: the
# median of the rounds' ratios, so that both sides meet the same minute of a
# machine whose speed drifts.
# Counts keep the default proportions: reps = 0.3 x opps, accounts = 0.7 x opps.
# RS_BIN: the binary (default ./revops-stream). RS_CEILING: the ceiling program
# (default build/bench/ceiling; `make bench` builds it). BENCH_BIG: the large
# count; BENCH_MERGE: the merge count (default 10^6); BENCH_HUGE: the count of
# the last peak-RSS row (default 10^8, a full run to /dev/null with the default
# -j; 0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${RS_BIN:-./revops-stream}
big=${BENCH_BIG:-10000000}
mcount=${BENCH_MERGE:-1000000}
huge=${BENCH_HUGE:-100000000}
ceiling=${RS_CEILING:-build/bench/ceiling}
label() { case "$1" in 10000) echo "10^4";; 1000000) echo "10^6";; 10000000) echo "10^7";; 100000000) echo "10^8";; *) echo "$1";; esac; }
big_label=$(label "$big")
m_label=$(label "$mcount")
export SOURCE_DATE_EPOCH=1771477209
# generate shows a progress line when stderr is a terminal; the figures are
# of the plain path, so its stderr becomes a pipe to the terminal.
if [ -t 2 ]; then exec 2> >(cat >&2); fi
work=$(mktemp -d "${TMPDIR:-/tmp}/rs-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# counts N: the options for N opportunities, in the array C.
counts() { C=(--reps $(($1 * 3 / 10)) --accounts $(($1 * 7 / 10)) --opportunities "$1"); }
now() { date +%s%N; }
# median N...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
# rate BYTES NANOSECONDS: MB/s (10^6 bytes).
rate() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.0f", b / (ns / 1e9) / 1e6 }'; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.2f s", ns / 1e9 }'; }
# Rounds of the paired measurements behind the ratios (BENCH_ROUNDS, odd).
rounds=${BENCH_ROUNDS:-5}
[ "$rounds" -ge 1 ] 2>/dev/null || { echo "bench: BENCH_ROUNDS must be a count >= 1" >&2; exit 2; }
# pair A B: $rounds rounds of the shell snippets A then B (for eval). Sets
# NS_A and NS_B to their median wall times in ns, and TR to the median over
# the rounds of B's time over A's: on shared vCPUs whose speed drifts by
# minutes, a ratio of rates needs both runs of each round in the same minute.
pair() {
    local ta=() tb=() tr=() t0 t1 t2
    for _ in $(seq "$rounds"); do
        t0=$(now); eval "$1"; t1=$(now); eval "$2"; t2=$(now)
        ta+=($((t1 - t0)))
        tb+=($((t2 - t1)))
        tr+=("$(awk -v a=$((t1 - t0)) -v b=$((t2 - t1)) 'BEGIN { printf "%.6f", b / a }')")
    done
    NS_A=$(median "${ta[@]}")
    NS_B=$(median "${tb[@]}")
    TR=$(median "${tr[@]}")
}

# time3 CMD...: median wall time of 3 runs of CMD (a shell snippet for eval), in ns.
time3() {
    local t=() t0 t1
    for _ in 1 2 3; do
        t0=$(now); eval "$1"; t1=$(now)
        t+=($((t1 - t0)))
    done
    median "${t[@]}"
}

has_opt() { "$bin" "$@" --help 2>/dev/null | grep -Eq -- "$OPT_RE"; }
OPT_RE='(^|[ ,])-j[ ,]'; has_j=false; has_opt && has_j=true
OPT_RE='--shard'; has_shard=false; has_opt && has_shard=true
# -j 1 where the option exists; the single-thread figure is the same either way.
j1=(); $has_j && j1=(-j 1)

# peak_rss CMD...: "N.N MiB" from /usr/bin/time -v (package "time").
peak_rss() {
    if [ ! -x /usr/bin/time ]; then echo "n/a (no /usr/bin/time)"; return; fi
    /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt"
    awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2 / 1024 }' "$work/time.txt"
}

# measure3 CMD...: runs CMD 3 times with stdout to /dev/null; sets NS to the
# median wall time in ns and RSS to the largest peak RSS ("N.N MiB", from
# /usr/bin/time, package "time").
measure3() {
    local t=() r=() t0 t1
    for _ in 1 2 3; do
        t0=$(now)
        if [ -x /usr/bin/time ]; then /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null; r+=("$(tail -1 "$work/rss")")
        else "$@" >/dev/null; fi
        t1=$(now)
        t+=($((t1 - t0)))
    done
    NS=$(median "${t[@]}")
    RSS="n/a (no /usr/bin/time)"
    [ ${#r[@]} -gt 0 ] && RSS=$(printf '%s\n' "${r[@]}" | sort -n | tail -1 | awk '{ printf "%.1f MiB", $1 / 1024 }')
    return 0
}

row() { printf '%-52s %s\n' "$1" "$2"; }
row "figure" "value"
row "------" "-----"

# Peak RSS should not depend on the count (default -j: every worker's buffers).
for n in 10000 1000000; do
    counts $n
    row "peak RSS, generate $(label $n) opportunities" "$(peak_rss "$bin" "${C[@]}")"
done

counts 100000
t0=$(now); "$bin" "${C[@]}" >/dev/null; t1=$(now)
row "generate 10^5 opportunities, wall time" "$(( (t1 - t0) / 1000000 )) ms"

# Size and record count of the big stream, from one pass through a pipe.
counts "$big"
mkfifo "$work/fifo"
tail -n 1 <"$work/fifo" >"$work/footer" &
tail_pid=$!
"$bin" "${C[@]}" | tee "$work/fifo" | wc -c >"$work/bytes"
wait "$tail_pid"
bytes=$(cat "$work/bytes")
records=$(python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["data"]["records"].values()))' <"$work/footer")
row "  (stream size, records at $big_label)" "$((bytes / 1000000)) MB, $records records"
# gen_row LABEL NS: throughput of the big stream in NS nanoseconds.
gen_row() {
    row "$1" "$(rate "$bytes" "$2") MB/s, $(awk -v r="$records" -v ns="$2" \
        'BEGIN { printf "%.1f", r / (ns / 1e9) / 1e6 }') M records/s ($(secs "$2"))"
}

# The ceiling of a pipe on this machine: the same bytes from /dev/zero through cat.
ns=$(time3 'head -c "$bytes" /dev/zero | cat >/dev/null')
row "pipe ceiling: /dev/zero | cat, same bytes" "$(rate "$bytes" "$ns") MB/s"
# The ceiling program: as many fixed opportunity lines as the stream has
# records. Each of generate's figures below is paired with the ceiling's
# (pair: alternating rounds), and its ratio is the median of the rounds'.
have_ceiling=false
if [ -x "$ceiling" ]; then
    have_ceiling=true
    cbytes=$("$ceiling" "$records" | wc -c)
else
    row "ceiling program" "n/a (no $ceiling; make bench builds it)"
fi
# crow LABEL NS: the ceiling's throughput.
crow() { row "$1" "$(rate "$cbytes" "$2") MB/s, $(awk -v r="$records" -v ns="$2" \
    'BEGIN { printf "%.1f", r / (ns / 1e9) / 1e6 }') M records/s ($(secs "$2"))"; }
# versus LABEL GEN SINK: generate (GEN: a shell snippet without its output)
# against the ceiling program, both into SINK (a snippet: ">/dev/null" or
# "| cat >/dev/null"); sets NS to generate's median time.
versus() {
    if $have_ceiling; then
        pair "$2 $3" '"$ceiling" "$records" '"$3"
        NS=$NS_A
        gen_row "$1" "$NS_A"
        crow "  the ceiling program, the same rounds" "$NS_B"
        row "  over the ceiling program (median of $rounds rounds)" "$(awk -v b="$bytes" -v cb="$cbytes" -v r="$TR" \
            'BEGIN { printf "%.2f of its MB/s, %.2f of its records/s", b / cb * r, r }')"
    else
        NS=$(time3 "$2 $3")
        gen_row "$1" "$NS"
    fi
}
versus "generate $big_label -> /dev/null, -j 1" '"$bin" "${j1[@]}" "${C[@]}"' '>/dev/null'
ns_whole=$NS
row "  peak RSS" "$(peak_rss "$bin" "${j1[@]}" "${C[@]}")"
versus "generate $big_label | cat > /dev/null, -j 1" '"$bin" "${j1[@]}" "${C[@]}"' '| cat >/dev/null'
if $has_j; then
    versus "generate $big_label -> /dev/null, -j 2" '"$bin" -j 2 "${C[@]}"' '>/dev/null'
    row "  peak RSS" "$(peak_rss "$bin" -j 2 "${C[@]}")"
    versus "generate $big_label | cat > /dev/null, -j 2" '"$bin" -j 2 "${C[@]}"' '| cat >/dev/null'
else
    row "generate with -j 2" "n/a (no -j)"
fi
if [ "$huge" -gt 0 ]; then
    counts "$huge"
    t0=$(now)
    rss=$(peak_rss "$bin" "${C[@]}")
    t1=$(now)
    row "peak RSS, generate $(label "$huge") opportunities" "$rss ($(secs $((t1 - t0))) to /dev/null)"
    counts "$big"
fi

# A shard should cost its own share: shard K/8 over the whole run, both -j 1
# (target <= 0.2; 0.125 is the share itself). 8/8 shows the cost of locating
# a shard's start, which grows with K if anything does. Without a plan each
# shard runs the analysis passes over the whole data set; with --plan
# (written once by `revops-stream plan`) it does not.
if $has_shard; then
    for k in 1 8; do
        measure3 "$bin" "${j1[@]}" --shard "$k/8" "${C[@]}"
        row "shard $k/8 time / whole run, $big_label, -j 1" \
            "$(awk -v a="$NS" -v b="$ns_whole" 'BEGIN { printf "%.3f", a / b }') ($(secs "$NS"), peak RSS $RSS)"
    done
    if "$bin" plan "${j1[@]}" "${C[@]}" -o "$work/plan.json" 2>/dev/null; then
        for k in 1 8; do
            measure3 "$bin" "${j1[@]}" --shard "$k/8" --plan "$work/plan.json" "${C[@]}"
            row "shard $k/8 with --plan / whole run, $big_label, -j 1" \
                "$(awk -v a="$NS" -v b="$ns_whole" 'BEGIN { printf "%.3f", a / b }') ($(secs "$NS"), peak RSS $RSS)"
        done
        measure3 "$bin" plan "${j1[@]}" "${C[@]}"
        row "plan (the analysis passes alone), $big_label, -j 1" \
            "$(secs "$NS"), $(awk -v a="$NS" -v b="$ns_whole" 'BEGIN { printf "%.3f", a / b }') of the whole run"
    else
        row "shard with --plan" "n/a (no plan subcommand)"
    fi
else
    row "shard 1/8 time / whole run" "n/a (no --shard)"
fi

# merge: in order; then the same records as 8 shard files in reverse order, as
# the lines of 8 shards interleaved by `parallel --line-buffer`, and shuffled
# line by line, the last two with a --memory well under the input so that
# merge spills sorted runs to $TMPDIR (the data-model checks take about 75 MiB
# of a --memory given at 10^6).
G=("${C[@]}") # the big data set, which merge is compared with
counts "$mcount"
"$bin" "${C[@]}" >"$work/m.ndjson"
mbytes=$(stat -c %s "$work/m.ndjson")
"$bin" merge "$work/m.ndjson" >"$work/m.json"
row "  (merge input at $m_label)" "$((mbytes / 1000000)) MB"
# merge_rows LABEL MERGE-ARGS...: MB/s (median of 3) and peak RSS of a merge whose
# output is checked against the in-order merge first.
merge_rows() {
    local name=$1; shift
    if ! "$bin" merge "$@" 2>"$work/merge.err" | cmp -s - "$work/m.json"; then
        row "merge $m_label, $name" "n/a ($(head -c 100 "$work/merge.err" || echo "output differs"))"
        return
    fi
    measure3 "$bin" merge "$@"
    row "merge $m_label, $name" "$(rate "$mbytes" "$NS") MB/s of NDJSON ($(secs "$NS"))"
    row "  peak RSS" "$RSS"
}
# Merge against generate, MB/s over MB/s (target >= 0.5), both -j 1: with
# the data-model checks (the default) and without (--no-validate). Each
# merge run is paired with a run of generate (pair), as the ceiling above.
for checks in "" --no-validate; do
    name="merge $m_label, in order${checks:+, $checks}"
    if ! "$bin" merge ${checks:+"$checks"} "$work/m.ndjson" 2>"$work/merge.err" | cmp -s - "$work/m.json"; then
        row "$name" "n/a ($(head -c 100 "$work/merge.err" || echo "output differs"))"
        continue
    fi
    pair '"$bin" merge '"$checks"' "$work/m.ndjson" >/dev/null' '"$bin" "${j1[@]}" "${G[@]}" >/dev/null'
    row "$name" "$(rate "$mbytes" "$NS_A") MB/s of NDJSON ($(secs "$NS_A"))"
    row "  peak RSS" "$(peak_rss "$bin" merge ${checks:+"$checks"} "$work/m.ndjson")"
    row "  generate $big_label -> /dev/null, -j 1, the same rounds" "$(rate "$bytes" "$NS_B") MB/s"
    row "  over generate (median of $rounds rounds)" "$(awk -v mb="$mbytes" -v b="$bytes" -v r="$TR" \
        'BEGIN { printf "%.2f", mb / b * r }')"
done
if $has_shard; then
    for k in 8 7 6 5 4 3 2 1; do "$bin" --shard "$k/8" "${C[@]}" -o "$work/shard-$k.ndjson"; done
    merge_rows "8 shard files, reverse order" "$work"/shard-{8,7,6,5,4,3,2,1}.ndjson
    rm -f "$work"/shard-*.ndjson
    if command -v parallel >/dev/null 2>&1; then
        seq 8 | parallel --will-cite -j 8 --line-buffer "$bin" --shard {}/8 "${C[@]}" >"$work/mixed.ndjson"
        merge_rows "8 shards interleaved, --memory 256M" --memory 256M "$work/mixed.ndjson"
        rm -f "$work/mixed.ndjson"
    fi
    shuf --random-source=<(yes) "$work/m.ndjson" >"$work/shuffled.ndjson"
    merge_rows "lines shuffled, --memory 256M" --memory 256M "$work/shuffled.ndjson"
    merge_rows "lines shuffled, --memory 64M --no-validate" --memory 64M --no-validate "$work/shuffled.ndjson"
    rm -f "$work/shuffled.ndjson"
fi

# The GNU parallel recipe against one process each for generate and merge, same
# data set, to /dev/null; one run each (context, not a figure of SPEC 7).
if $has_shard && command -v parallel >/dev/null 2>&1; then
    t0=$(now); "$bin" "${C[@]}" | "$bin" merge >/dev/null; t1=$(now)
    row "generate | merge, $m_label" "$(secs $((t1 - t0)))"
    for mode in "" --line-buffer; do
        name="scripts/parallel-shards.sh -n 2${mode:+ $mode}, $m_label"
        t0=$(now)
        if RS_BIN="$bin" scripts/parallel-shards.sh -n 2 $mode -- "${C[@]}" 2>"$work/ps.err" | cmp -s - "$work/m.json"; then
            t1=$(now)
            row "$name" "$(secs $((t1 - t0)))"
        else
            row "$name" "n/a ($(head -c 100 "$work/ps.err" || echo "output differs"))"
        fi
    done
fi

# Sockets (SPEC 7: socket output >= 80% of stdout throughput): the same
# 10^6-opportunity stream to stdout (/dev/null), to a socat reader over
# loopback TCP and a Unix socket (--output), and served to one socat client
# (--listen --once; the time runs from the server's start to its exit, so both
# sides include planning). Then the server's peak RSS with 1 and 8 clients.
has_net=false; OPT_RE='--listen'; has_opt && has_net=true
if $has_net && command -v socat >/dev/null 2>&1; then
    counts "$mcount"
    sbytes=$("$bin" "${C[@]}" | wc -c)
    row "  (socket stream at $m_label)" "$((sbytes / 1000000)) MB"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    sink() { socat -u -b 1048576 "$1" OPEN:/dev/null; }
    # to_socket J URL LISTEN-ADDRESS: one --output run into a fresh socat reader.
    to_socket() { sink "$3" & timeout 600 "$bin" -j "$1" "${C[@]}" --output "$2" --connect-timeout 10; wait; }
    # served J URL CONNECT-ADDRESS: one --listen --once run with a socat client.
    served() {
        # A fresh file: the server's redirection may truncate the last run's
        # announcement only after the wait below has read it.
        rm -f "$work/srv.err"; : >"$work/srv.err"
        timeout 600 "$bin" -j "$1" "${C[@]}" --listen "$2" --once 2>>"$work/srv.err" &
        local sp=$!
        until grep -qs 'listening on' "$work/srv.err"; do sleep 0.01; done
        sink "$3"
        wait "$sp"
    }
    # pct A B: A's time over B's, as a percentage of A's rate.
    pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
    for j in 1 2; do
        ns_out=$(time3 '"$bin" -j $j "${C[@]}" >/dev/null')
        row "stdout -> /dev/null, -j $j" "$(rate "$sbytes" "$ns_out") MB/s"
        # The same reader through a pipe: what a consumer costs on 2 cores.
        ns_pipe=$(time3 '"$bin" -j $j "${C[@]}" | socat -u -b 1048576 - OPEN:/dev/null')
        row "stdout | socat, -j $j" "$(rate "$sbytes" "$ns_pipe") MB/s, $(pct "$ns_out" "$ns_pipe") of stdout"
        for kind in tcp unix; do
            if [ $kind = tcp ]; then url=tcp://127.0.0.1:$port; addr=TCP:127.0.0.1:$port; laddr=TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr
            else url=unix:$work/bench.sock; addr=UNIX:$work/bench.sock; laddr=UNIX-LISTEN:$work/bench.sock; fi
            ns=$(time3 'to_socket $j "$url" "$laddr"')
            row "--output $kind -> socat, -j $j" "$(rate "$sbytes" "$ns") MB/s, $(pct "$ns_out" "$ns") of stdout, $(pct "$ns_pipe" "$ns") of the pipe"
            ns=$(time3 'served $j "$url" "$addr"')
            row "--listen $kind --once -> socat, -j $j" "$(rate "$sbytes" "$ns") MB/s, $(pct "$ns_out" "$ns") of stdout, $(pct "$ns_pipe" "$ns") of the pipe"
        done
    done
    # Peak RSS of a server (-j 1 per client) that serves 1, then 8 clients at once.
    for n in 1 8; do
        "$bin" -j 1 "${C[@]}" --listen "unix:$work/rss.sock" --max-clients 8 2>/dev/null &
        sp=$!
        for _ in $(seq 200); do [ -S "$work/rss.sock" ] && break; sleep 0.05; done
        t0=$(now)
        for _ in $(seq "$n"); do sink "UNIX:$work/rss.sock" & done
        wait $(jobs -p | grep -v "^$sp\$")
        t1=$(now)
        hwm=$(awk '/VmHWM/ { printf "%.1f MiB", $2 / 1024 }' /proc/$sp/status)
        kill -TERM "$sp"; wait "$sp" || true
        row "--listen unix, $n client(s) at once, $m_label each" "peak RSS $hwm, $(rate $((sbytes * n)) $((t1 - t0))) MB/s in all"
    done
else
    row "socket throughput" "n/a (no --listen or no socat)"
fi
