#!/usr/bin/env bash
# Generates a data set as N shards with GNU parallel (local cores, or ssh hosts
# that have revops-stream installed) and merges them into one data.json.
# The merge equals `revops-stream [OPTIONS] | revops-stream merge` byte for byte.
# The analysis passes run once (revops-stream plan); the shards get --plan.
#
# Two ways to carry the shards to the merge:
#   files (default)  each shard is written zstd-compressed to a temp dir that is
#                    removed on exit; merge then reads them all. Costs disk (about
#                    a tenth of the NDJSON size) and keeps the shards apart.
#   --line-buffer    shards stream as whole lines through `parallel --line-buffer`
#                    straight into `merge -`, interleaved; no shard files, but
#                    merge must sort the interleaved lines within --memory (it
#                    spills to $TMPDIR) and parallel's line copying is the limit.
set -uo pipefail

me=parallel-shards.sh
usage="usage: $me [-n N] [-o PATH] [-S LOGIN]... [--jobs N] [--line-buffer] [--zstd-level L]
       [--bin PATH] [--compact] [--memory SIZE] [--] [GENERATE OPTIONS...]"

help() {
    cat <<EOF
$usage

Generates shards 1..N of the data set that GENERATE OPTIONS describe (as for
revops-stream generate, e.g. --seed 7 --opportunities 10000000) with GNU
parallel, then merges them into data.json on stdout or -o PATH.

  -n, --shards N        number of shards (default: local cores, $(nproc 2>/dev/null || echo 1) here)
  -o PATH               write data.json to PATH (atomically) instead of stdout
  -S, --sshlogin LOGIN  run shards on these hosts too (passed to parallel -S;
                        comma-separated or repeated; ':' is this machine);
                        each host needs revops-stream on its PATH
  --jobs N              shards at once per host (parallel -j; default: one
                        per core of each host)
  --line-buffer         stream shard lines through parallel into merge instead
                        of writing shard files
  --zstd-level L        zstd level of shard files (default 1; 0 = plain NDJSON)
  --bin PATH            revops-stream that runs the shards (default: on hosts
                        given with -S, revops-stream on their PATH; locally,
                        \$RS_BIN, else this checkout's build, else PATH)
  --compact, --memory SIZE, --no-validate, --lenient
                        passed to revops-stream merge (which checks every
                        record against the data model: its memory, about 40
                        bytes per rep, account and opportunity, comes out of
                        a --memory given; --no-validate skips the checks)
  -h, --help            show this help

Without -S, \`revops-stream plan\` first runs the analysis passes here, once,
and each shard gets their results (--plan) rather than repeating them over
the whole data set. With -S each shard runs them itself, unless GENERATE
OPTIONS hold a --plan FILE that every host has (used as it is).
Each shard runs single-threaded (-j 1) unless GENERATE OPTIONS say otherwise.
The settings options among GENERATE OPTIONS (--seed, --reps, --accounts,
--opportunities, --as-of, --set, --settings, --vocab, or abbreviations of
them) go to the plan and the merge too, so that it checks the records
against them.
If a shard fails, the others are stopped and the first error is one line on
stderr; the exit status is then the shard's (2 for a usage error in GENERATE
OPTIONS) or 1. A failing merge exits with its own status.
EOF
}

die() { echo "$me: $1" >&2; exit "${2:-1}"; }
usage_error() { echo "$me: $1 (see --help)" >&2; exit 2; }
posint() { [[ "$1" =~ ^[1-9][0-9]{0,8}$ ]]; }

shards="" out="" jobs="" mode=files level=1 gen="" compact=() memory=() checks=()
ssh=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) help; exit 0 ;;
        -n|--shards) [ $# -ge 2 ] || usage_error "$1 needs a value"
            posint "$2" || usage_error "$1: not a positive count: '$2'"; shards=$2; shift 2 ;;
        -o) [ $# -ge 2 ] && [ -n "$2" ] || usage_error "-o needs a path"; out=$2; shift 2 ;;
        -S|--sshlogin) [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a login"
            ssh+=(-S "$2"); shift 2 ;;
        --jobs) [ $# -ge 2 ] || usage_error "--jobs needs a value"
            posint "$2" || usage_error "--jobs: not a positive count: '$2'"; jobs=$2; shift 2 ;;
        --line-buffer) mode=stream; shift ;;
        --zstd-level) [ $# -ge 2 ] && [[ "$2" =~ ^(1?[0-9])$ ]] ||
                usage_error "--zstd-level: not a level 0..19: '${2:-}'"
            level=$2; shift 2 ;;
        --bin) [ $# -ge 2 ] && [ -n "$2" ] || usage_error "--bin needs a path"; gen=$2; shift 2 ;;
        --compact) compact=(--compact); shift ;;
        --no-validate | --lenient) checks+=("$1"); shift ;;
        --memory) [ $# -ge 2 ] || usage_error "--memory needs a size"; memory=(--memory "$2"); shift 2 ;;
        --) shift; break ;;
        -*) usage_error "unknown option '$1'" ;;
        *) usage_error "unexpected argument '$1' (generate options go after --)" ;;
    esac
done
# The long options of generate. getopt takes any unambiguous abbreviation
# of them (--acc for --accounts), so this script reads them the same way.
gen_long="seed reps accounts opportunities as-of generated-at set settings vocab types shard plan threads
    compress output connect-timeout listen max-clients once kafka-key rate progress quiet help version"
# long_name ARG: for --NAME or --NAME=VALUE, the option of generate it names
# (an exact name, else the only one NAME starts), without dashes; else "".
long_name() {
    local a=${1#--} o hit=""
    [[ $1 == --?* ]] || return 0
    a=${a%%=*}
    for o in $gen_long; do
        [ "$o" = "$a" ] && { echo "$o"; return; }
        if [[ $o == "$a"* ]]; then
            [ -n "$hit" ] && return 0 # ambiguous: generate will say so
            hit=$o
        fi
    done
    echo "$hit"
}

# What is left in "$@" are the generate options, passed to every shard as they are.
# Those that choose where and how a shard is written belong to this script.
for a in "$@"; do
    case "$a" in -o | -o?*) usage_error "generate option $a is set by this script; give -o before --" ;; esac
    case "$(long_name "$a")" in
        shard | compress | output) usage_error "generate option $a is set by this script; give -o before --" ;;
    esac
done

# GNU parallel, not the moreutils program of the same name.
command -v parallel >/dev/null 2>&1 ||
    die "GNU parallel not found (Debian package 'parallel'; scripts/install-deps.sh installs it)"
parallel --version 2>/dev/null | grep -q 'GNU parallel' ||
    die "'parallel' on PATH is not GNU parallel (Debian package 'parallel')"

# The local revops-stream: runs the merge, and the shards when no host is given.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${RS_BIN:-}" ]; then local_bin=$RS_BIN
elif [ -x "$here/../revops-stream" ]; then local_bin="$here/../revops-stream"
else local_bin=revops-stream; fi
command -v "$local_bin" >/dev/null 2>&1 || die "revops-stream not found (build it with make, or set RS_BIN)"
if [ -z "$gen" ]; then
    if [ ${#ssh[@]} -gt 0 ]; then gen=revops-stream; else gen=$local_bin; fi
fi
[ -n "$shards" ] || shards=$(nproc 2>/dev/null || echo 1)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-shards.XXXXXX") || die "cannot create a temporary directory"
pids=()
# Children run in the background so that a signal reaches this script at once;
# parallel passes TERM on to the shards it runs.
stop() {
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
    wait 2>/dev/null
    exit "$1"
}
trap 'rm -rf "$tmp"' EXIT
trap 'stop 130' INT
trap 'stop 143' TERM

popts=(--will-cite -q --halt now,fail=1 --joblog "$tmp/joblog" "${ssh[@]}")
[ -n "$jobs" ] && popts+=(-j "$jobs")
# Hosts get the same timestamp as this machine (merge takes the earliest anyway).
[ -n "${SOURCE_DATE_EPOCH:-}" ] && [ ${#ssh[@]} -gt 0 ] && popts+=(--env SOURCE_DATE_EPOCH)
merge=("$local_bin" merge "${compact[@]}" "${memory[@]}" "${checks[@]}")
[ -n "$out" ] && merge+=(-o "$out")
# merge checks every record against the data model, and plan runs the
# analysis passes: both take the settings options of the shards.
gen_opts=("$@") settings=() user_plan=false
for ((i = 0; i < ${#gen_opts[@]}; i++)); do
    a=${gen_opts[i]} name=$(long_name "${gen_opts[i]}")
    case "$name" in
        seed | reps | accounts | opportunities | as-of | set | settings | vocab)
            if [[ $a == *=* ]]; then settings+=("--$name=${a#*=}")
            else settings+=("--$name" "${gen_opts[i + 1]:-}"); i=$((i + 1)); fi ;;
        plan) user_plan=true ;;
        # Other options with a value: skip the value, which may look like an option.
        generated-at | types | threads | connect-timeout | listen | max-clients | rate)
            [[ $a == *=* ]] || i=$((i + 1)) ;;
    esac
done
merge+=("${settings[@]}")

# first_error FILE...: the first line that names a revops-stream error, else the
# first non-empty line of these files (the failed shard's own stderr comes first).
first_error() {
    local line
    line=$(grep -h -m1 '^revops-stream: ' "$@" 2>/dev/null | head -1)
    [ -n "$line" ] || line=$(cat "$@" 2>/dev/null | grep -v -m1 '^[[:space:]]*$')
    printf '%s' "$line"
}

# failed_job: "STATUS K" of the first shard that exited non-zero by itself (not
# one that parallel stopped after the failure), from the job log.
failed_job() {
    awk -F'\t' 'NR > 1 && $7 != 0 && $8 == 0 {
        if (match($NF, /--shard [0-9]+/)) print $7, substr($NF, RSTART + 8, RLENGTH - 8); exit }' \
        "$tmp/joblog" 2>/dev/null
}
failed_shard() { failed_job | cut -s -d' ' -f2; }

# report_shard_failure STATUS ERRFILES...: one line, and the shard's own exit
# status (2 for a usage error in the generate options), else 1.
report_shard_failure() {
    local st=$1; shift
    local job k code msg
    job=$(failed_job)
    k=${job#* } code=${job%% *}
    msg=$(first_error "$@")
    [ -n "$msg" ] || msg="parallel exited with status $st"
    [[ "$code" =~ ^[12]$ ]] || code=1
    die "shard ${k:-?}/$shards failed: $msg" "$code"
}

# The analysis passes (two sweeps over all accounts, the same for every
# shard) run once, here, with every local core, by the program that runs
# the shards; each shard takes their results with --plan. Shards on other
# hosts (-S) run the passes themselves: the file would have to be copied
# there (give --plan FILE yourself if FILE is on every host).
plan=()
if ! $user_plan && [ ${#ssh[@]} -eq 0 ]; then
    "$gen" plan "${settings[@]}" -o "$tmp/plan.json" 2>"$tmp/plan.err" </dev/null &
    pids=($!)
    wait "${pids[0]}"; st=$?
    pids=()
    if [ $st != 0 ]; then
        msg=$(first_error "$tmp/plan.err")
        [[ "$st" =~ ^[12]$ ]] || st=1
        die "plan failed: ${msg:-status $st}" "$st"
    fi
    plan=(--plan "$tmp/plan.json")
fi

if [ "$mode" = files ]; then
    compress=(--compress "zstd:$level") ext=.ndjson.zst
    [ "$level" = 0 ] && compress=() ext=.ndjson
    # --results stores each job's stdout in the named local file (for ssh hosts
    # too) and its stderr beside it in FILE.err.
    parallel "${popts[@]}" --results "$tmp/shard-{}$ext" \
        "$gen" --shard "{}/$shards" -j 1 "${compress[@]}" "${plan[@]}" "$@" \
        ::: $(seq 1 "$shards") >/dev/null 2>"$tmp/parallel.err" </dev/null &
    pids=($!)
    wait "${pids[0]}"; st=$?
    pids=()
    if [ $st != 0 ]; then
        k=$(failed_shard)
        report_shard_failure "$st" ${k:+"$tmp/shard-$k$ext.err"} "$tmp"/shard-*.err "$tmp/parallel.err"
    fi
    files=()
    for k in $(seq 1 "$shards"); do files+=("$tmp/shard-$k$ext"); done
    "${merge[@]}" "${files[@]}" &
    pids=($!)
    wait "${pids[0]}" || exit $?
else
    mkfifo "$tmp/lines" || die "cannot create a FIFO in $tmp"
    parallel "${popts[@]}" --line-buffer \
        "$gen" --shard "{}/$shards" -j 1 "${plan[@]}" "$@" \
        ::: $(seq 1 "$shards") >"$tmp/lines" 2>"$tmp/parallel.err" </dev/null &
    pids=($!)
    "${merge[@]}" - <"$tmp/lines" 2>"$tmp/merge.err" &
    pids+=($!)
    wait "${pids[0]}"; pst=$?
    wait "${pids[1]}"; mst=$?
    pids=()
    # A shard that fails makes merge fail too (a shard goes missing), and a merge
    # that fails makes parallel fail (broken pipe): report the cause.
    [ $pst != 0 ] && [ -n "$(failed_shard)" ] && report_shard_failure "$pst" "$tmp/parallel.err"
    if [ $mst != 0 ]; then cat "$tmp/merge.err" >&2; exit $mst; fi
    [ $pst = 0 ] || report_shard_failure "$pst" "$tmp/parallel.err"
fi
