# Feeding live systems: --kafka-key (checked against jq and through kcat and
# a Kafka broker), --rate (pace, smoothness, same bytes), --progress and
# --quiet, on stdout, -o, --compress, --output and --listen.
d=$(mktemp -d)
export SOURCE_DATE_EPOCH=1700000000
A="--seed 9 --reps 300 --accounts 700 --opportunities 1000"
"$RS" $A >"$d/ref"
lines=$(wc -l <"$d/ref")

same() {
    if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(cmp "$2" "$3" 2>&1)"; fi
}

# ---- --kafka-key ----
"$RS" $A --kafka-key >"$d/keyed"
cut -f2- "$d/keyed" >"$d/unkeyed"
same "--kafka-key: the records after the tab are the plain stream" "$d/unkeyed" "$d/ref"
# The keys jq reads off the records: TYPE:ID, header and footer by name.
jq -r 'if .type == "header" or .type == "footer" then .type else "\(.type):\(.data.id)" end' "$d/ref" >"$d/jq.keys"
cut -f1 "$d/keyed" >"$d/keys"
same "--kafka-key: each key is TYPE:ID as jq reads it (header, footer)" "$d/keys" "$d/jq.keys"
if [ "$(awk -F'\t' 'NF != 2' "$d/keyed" | wc -l)" = 0 ]; then pass "--kafka-key: exactly one tab a line"
else fail "--kafka-key: exactly one tab a line"; fi

"$RS" $A --kafka-key -j 2 --shard 2/3 --types opportunity,opportunity_history --compress zstd | zstd -dc >"$d/k2"
"$RS" $A --shard 2/3 --types opportunity,opportunity_history |
    jq -r 'if .type == "header" or .type == "footer" then .type else "\(.type):\(.data.id)" end' >"$d/k2.want"
"$RS" $A --shard 2/3 --types opportunity,opportunity_history >"$d/k2.plain"
if cmp -s <(cut -f1 "$d/k2") "$d/k2.want" && cmp -s <(cut -f2- "$d/k2") "$d/k2.plain"; then
    pass "--kafka-key with -j 2, --shard, --types and --compress zstd (keys before compression)"
else fail "--kafka-key with -j 2, --shard, --types, --compress"; fi

"$RS" $A --kafka-key -o "$d/k.ndjson.zst"
same "--kafka-key -o FILE.zst" <(zstd -dc "$d/k.ndjson.zst") "$d/keyed"

# kcat produces the keyed lines to a broker (librdkafka's mock cluster, run
# by a kcat consumer, a real Kafka protocol endpoint on loopback); a second
# kcat reads them back with their keys, split at the tab as -K '\t' does.
if ! command -v kcat >/dev/null; then
    fail "kcat is installed (scripts/install-deps.sh)"
else
    timeout 60 kcat -C -b 127.0.0.1:1 -t revops -X test.mock.num.brokers=1 -d mock -o beginning -c "$lines" \
        -f '%k\t%s\n' >"$d/kcat.out" 2>"$d/kcat.err" &
    kpid=$!
    broker=""
    for _ in $(seq 100); do
        broker=$(grep -o 'bootstrap.servers=127.0.0.1:[0-9]*' "$d/kcat.err" 2>/dev/null | head -1 | cut -d= -f2)
        [ -n "$broker" ] && break
        sleep 0.1
    done
    if [ -z "$broker" ]; then
        fail "kcat mock broker started" "$(tail -5 "$d/kcat.err")"
        kill $kpid 2>/dev/null
    else
        "$RS" $A --kafka-key | timeout 60 kcat -P -b "$broker" -t revops -K '\t' 2>"$d/kcat-p.err"; pst=$?
        wait $kpid; cst=$?
        # Keys spread the messages over partitions: compare as sets of lines.
        if [ $pst = 0 ] && [ $cst = 0 ] && cmp -s <(sort "$d/kcat.out") <(sort "$d/keyed"); then
            pass "kcat -P -K '\\t' takes each line as key TYPE:ID and the record as value ($lines messages)"
        else fail "kcat round trip" "producer $pst consumer $cst; $(diff <(sort "$d/kcat.out") <(sort "$d/keyed") | head -5)"; fi
    fi
fi

# ---- --rate ----
"$RS" $A --rate 1000000 >"$d/fast"
same "--rate: the same bytes as an unthrottled run" "$d/fast" "$d/ref"

# A reader stamps each read; the stream must arrive no faster than the rate
# (plus one 10 ms slice of catch-up) and take about lines/rate seconds. It
# reads a FIFO or a Unix socket and runs before the first byte is written,
# so a late start cannot make lines pile up before it reads.
cat >"$d/pace.py" <<'EOF'
import os, socket, sys, time
rate, want, src, dst = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if src.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX)
    for _ in range(200):
        try:
            s.connect(src[5:])
            break
        except OSError:
            time.sleep(0.05)
    fd = s.fileno()
else:
    fd = os.open(src, os.O_RDONLY)
# zstd input: no lines to count, so the check is that bytes keep coming
# (a read per slice at least) for as long as the lines take.
compressed = len(sys.argv) > 5
t0 = None; n = 0; reads = 0; worst = 0.0; data = []
while True:
    b = os.read(fd, 1 << 16)
    if not b:
        break
    now = time.monotonic()
    data.append(b)
    reads += 1
    if t0 is None:
        t0 = now
    n += b.count(b"\n")
    # lines ahead of the rate: 1 at once, then rate * elapsed
    worst = max(worst, n - (1 + rate * (now - t0)))
took = time.monotonic() - t0 if t0 else 0
open(dst, "wb").write(b"".join(data))
slow_enough = (want - 1) / rate * 0.9 <= took <= (want - 1) / rate * 1.5 + 0.5
if compressed:
    print(f"{reads} reads in {took:.3f} s")
    ok = slow_enough and reads >= (want - 1) / (rate / 100)
else:
    print(f"{n} lines in {took:.3f} s, at most {worst:.0f} ahead")
    ok = n == want and slow_enough and worst <= rate / 100 + 3
sys.exit(0 if ok else 1)
EOF
small="--seed 9 --reps 100 --accounts 200 --opportunities 300"
"$RS" $small >"$d/small"
"$RS" $small --kafka-key >"$d/small.keyed"
sl=$(wc -l <"$d/small")
mkfifo "$d/f1"

# paced NAME RATE WANT-FILE CMD...: CMD writes into $d/f1 while pace.py reads it.
paced() {
    local name=$1 rate=$2 want=$3
    shift 3
    python3 "$d/pace.py" "$rate" "$sl" "$d/f1" "$d/paced" >"$d/pace.txt" &
    local ppid=$!
    "$@"
    local st=$?
    wait $ppid
    local pst=$?
    if [ $st = 0 ] && [ $pst = 0 ] && cmp -s "$d/paced" "$want"; then pass "$name ($(cat "$d/pace.txt"))"
    else fail "$name" "status $st, reader $pst: $(cat "$d/pace.txt")"; fi
}
paced "--rate 2000: $sl lines arrive smoothly, the same bytes" 2000 "$d/small" "$RS" $small --rate 2000 -o "$d/f1"
paced "--rate 5000 with -j 2 and --kafka-key" 5000 "$d/small.keyed" "$RS" $small -j 2 --kafka-key --rate 5000 -o "$d/f1"
# zstd: a flushed block every slice, so compressed bytes flow at the pace too
# (zstd -d itself buffers its output, so the reader sees the compressed side).
python3 "$d/pace.py" 3000 "$sl" "$d/f1" "$d/paced.zst" compressed >"$d/pace.txt" &
ppid=$!
"$RS" $small --rate 3000 --compress zstd -o "$d/f1"; st=$?
wait $ppid; pst=$?
if [ $st = 0 ] && [ $pst = 0 ] && zstd -qdc "$d/paced.zst" | cmp -s - "$d/small"; then
    pass "--rate 3000 --compress zstd: compressed blocks flow at the pace ($(cat "$d/pace.txt"))"
else fail "--rate with --compress zstd" "status $st, reader $pst: $(cat "$d/pace.txt")"; fi

# ---- --listen with keys and rate, and --quiet ----
timeout 60 "$RS" $small --kafka-key --rate 5000 --quiet --once --listen unix:"$d/s.sock" 2>"$d/srv.err" &
spid=$!
python3 "$d/pace.py" 5000 "$sl" unix:"$d/s.sock" "$d/srv.out" >"$d/pace.txt"; rst=$?
wait $spid; sst=$?
if [ $rst = 0 ] && [ $sst = 0 ] && cmp -s "$d/srv.out" "$d/small.keyed"; then
    pass "--listen with --kafka-key and --rate: the keyed bytes, paced ($(cat "$d/pace.txt"))"
else fail "--listen with --kafka-key --rate" "reader $rst server $sst $(cat "$d/pace.txt")"; fi
if [ $sst = 0 ] && [ ! -s "$d/srv.err" ]; then pass "--quiet --listen: no \"listening on\" line"
else fail "--quiet --listen" "$(cat "$d/srv.err")"; fi

# ---- --progress / --quiet ----
"$RS" $A --progress >"$d/p.out" 2>"$d/p.err"; st=$?
same "--progress: stdout unchanged" "$d/p.out" "$d/ref"
if [ $st = 0 ] && grep -Eq "^revops-stream: $lines records, [0-9.]+ MB in [0-9.]+ s, [0-9.]+ MB/s *\$" <(tr '\r' '\n' <"$d/p.err") &&
    [ "$(wc -l <"$d/p.err")" = 1 ]; then
    pass "--progress: one line on stderr, refreshed with \\r, ending with the totals"
else fail "--progress line" "$(cat -A "$d/p.err" | head -3)"; fi
"$RS" $A --rate 8000 --progress -o "$d/p2.ndjson" 2>"$d/p2.err"
if tr '\r' '\n' <"$d/p2.err" | grep -Eq "^revops-stream: [0-9]+ of $lines records \([0-9.]+%\), [0-9.]+ MB, [0-9.]+ MB/s, ETA [0-9]+:[0-9]{2}:[0-9]{2}"; then
    pass "--progress: records of the expected total, percent, MB/s and ETA while it runs"
else fail "--progress while running" "$(cat -A "$d/p2.err" | head -3)"; fi
"$RS" $A >/dev/null 2>"$d/q.err"
if [ ! -s "$d/q.err" ]; then pass "no progress line by default when stderr is not a terminal"
else fail "progress off by default" "$(cat "$d/q.err")"; fi
# On a terminal, progress is on by default, and --quiet turns it off.
cat >"$d/ontty.py" <<'EOF'
import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=s)
os.close(s)
out = b""
while True:
    try: b = os.read(m, 4096)
    except OSError: break
    if not b: break
    out += b
sys.stdout.write(out.decode())
sys.exit(p.returncode)
EOF
if python3 "$d/ontty.py" "$RS" $A | grep -q "records, .* MB/s"; then pass "stderr a terminal: progress by default"
else fail "progress on a terminal"; fi
out=$(python3 "$d/ontty.py" "$RS" $A --quiet); st=$?
if [ $st = 0 ] && [ -z "$out" ]; then pass "--quiet: nothing on the terminal"; else fail "--quiet on a terminal" "$out"; fi

# ---- usage errors ----
expect_error "--rate 0" 2 '^revops-stream: --rate: expected .*got "0"' "$RS" --rate 0
expect_error "--rate abc" 2 '^revops-stream: --rate: .*"abc"' "$RS" --rate abc
expect_error "--rate -5" 2 '^revops-stream: --rate: ' "$RS" --rate -5
expect_error "--rate 1e3" 2 '^revops-stream: --rate: ' "$RS" --rate 1e3
expect_error "--rate with no value" 2 'generate: option --rate needs a value' "$RS" --rate
expect_error "--kafka-key with merge" 2 'merge: unknown option "--kafka-key"' "$RS" merge --kafka-key
expect_error "--rate with split" 2 'split: unknown option "--rate"' "$RS" split --rate 5
expect_error "--progress and --quiet" 2 'generate: --progress and --quiet exclude each other' "$RS" --progress --quiet
expect_error "--progress with --listen" 2 'generate: --progress goes with one stream' "$RS" --progress --listen tcp://127.0.0.1:0
rm -rf "$d"
