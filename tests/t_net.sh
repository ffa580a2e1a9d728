# Sockets: --output and --listen over TCP (IPv4, IPv6) and Unix sockets, with
# socat and a Python standard-library peer (net_peer.py) on the other end.
d=$(mktemp -d)
PEER="python3 $TESTS_DIR/net_peer.py"
export SOURCE_DATE_EPOCH=1700000000
A="--seed 5 --reps 300 --accounts 700 --opportunities 1000"
"$RS" $A >"$d/ref"
ref_sum=$(sha256sum <"$d/ref" | cut -d' ' -f1)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
has_ipv6() { python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; }

# same NAME FILE [REF]: FILE holds exactly the bytes of REF (default: the stdout run).
same() {
    if cmp -s "$2" "${3:-$d/ref}"; then pass "$1"; else fail "$1" "$(cmp "$2" "${3:-$d/ref}" 2>&1)"; fi
}

# start_server ARGS...: a --listen server in the background; waits for its
# "listening on URL" line and sets SRV_PID and SRV_URL (the first address).
start_server() {
    # A fresh file: the background job truncates it only once it runs, so
    # the loop below could read the previous server's announcement.
    rm -f "$d/srv.err"
    timeout 120 "$RS" "$@" 2>"$d/srv.err" &
    SRV_PID=$!
    SRV_URL=""
    for _ in $(seq 100); do
        SRV_URL=$(sed -n 's/^revops-stream: listening on //p' "$d/srv.err" 2>/dev/null | head -1)
        [ -n "$SRV_URL" ] && return 0
        sleep 0.05
    done
    fail "server did not start: $*" "$(cat "$d/srv.err")"
    return 1
}

# ---- --output ----
port=$(free_port)
socat -u TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr OPEN:"$d/tcp.out",creat,trunc &
timeout 60 "$RS" $A --output tcp://127.0.0.1:$port --connect-timeout 10; st=$?
wait
[ $st = 0 ] && same "--output tcp:// to socat: the bytes of stdout" "$d/tcp.out" || fail "--output tcp:// status $st"

socat -u UNIX-LISTEN:"$d/out.sock" OPEN:"$d/unix.out",creat,trunc &
timeout 60 "$RS" $A --output unix:"$d/out.sock" --connect-timeout 10; st=$?
wait
[ $st = 0 ] && same "--output unix: to socat: the bytes of stdout" "$d/unix.out" || fail "--output unix: status $st"

port=$(free_port)
socat -u TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr OPEN:"$d/z.out",creat,trunc &
timeout 60 "$RS" $A --compress zstd --output tcp://localhost:$port --connect-timeout 10
wait
zstd -qdc "$d/z.out" >"$d/z.plain" 2>/dev/null
same "--output with --compress zstd: zstd -d gives the stdout bytes (and a name resolves)" "$d/z.plain"

port=$(free_port)
"$RS" $A --shard 2/3 --types opportunity,opportunity_history >"$d/ref.shard"
socat -u TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr OPEN:"$d/shard.out",creat,trunc &
timeout 60 "$RS" $A --shard 2/3 --types opportunity,opportunity_history --output tcp://127.0.0.1:$port --connect-timeout 10
wait
same "--shard and --types over --output" "$d/shard.out" "$d/ref.shard"

if has_ipv6; then
    port=$(free_port)
    socat -u TCP6-LISTEN:$port,bind=[::1],reuseaddr OPEN:"$d/v6.out",creat,trunc &
    timeout 60 "$RS" $A --output "tcp://[::1]:$port" --connect-timeout 10
    wait
    same "--output tcp://[::1]:PORT (IPv6 loopback)" "$d/v6.out"
else
    pass "--output IPv6: skipped, this machine has no ::1"
fi

# A peer that starts listening a second late: --connect-timeout retries.
port=$(free_port)
(sleep 1; socat -u TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr OPEN:"$d/late.out",creat,trunc) &
timeout 60 "$RS" $A --output tcp://127.0.0.1:$port --connect-timeout 20; st=$?
wait
[ $st = 0 ] && same "--connect-timeout waits for a peer that listens late" "$d/late.out" || fail "late peer: status $st"

port=$(free_port)
expect_error "--output to a port nobody listens on: refused at once" 1 "tcp://127.0.0.1:$port: cannot connect: connection refused$" \
    timeout 10 "$RS" --output tcp://127.0.0.1:$port
expect_error "--output with --connect-timeout gives up after it" 1 'connection refused \(kept trying for 0.5 s\)' \
    timeout 10 "$RS" --output tcp://127.0.0.1:$port --connect-timeout 0.5
expect_error "--output to a name that does not resolve" 1 'cannot resolve "no-such-host.invalid"' \
    timeout 30 "$RS" --output tcp://no-such-host.invalid:80
expect_error "--output to a missing Unix socket" 1 'cannot connect: no such file or directory' \
    timeout 10 "$RS" --output unix:"$d/missing.sock"

# A peer that reads 100 kB and then resets the connection.
$PEER serve-reset tcp://127.0.0.1:0 100000 >"$d/peer.out" &
for _ in $(seq 100); do grep -q ready "$d/peer.out" && break; sleep 0.05; done
port=$(awk '{print $2}' "$d/peer.out")
expect_error "--output: a peer that resets mid-stream is one error line" 1 \
    "tcp://127.0.0.1:$port: the peer closed the connection after [0-9]+ bytes" \
    timeout 60 "$RS" --seed 5 --reps 30000 --accounts 70000 --opportunities 100000 --output tcp://127.0.0.1:$port
wait

# A peer that keeps sending while it reads: closing with its bytes unread
# would reset the connection and cut the stream's tail.
big="--seed 5 --reps 30000 --accounts 70000 --opportunities 100000"
big_sum=$("$RS" $big | sha256sum | cut -d' ' -f1)
$PEER serve-talk tcp://127.0.0.1:0 >"$d/talk.out" &
tp=$!
for _ in $(seq 100); do grep -q ready "$d/talk.out" && break; sleep 0.05; done
port=$(awk '/ready/ {print $2}' "$d/talk.out")
timeout 60 "$RS" $big --output tcp://127.0.0.1:$port; st=$?
wait $tp
got=$(sed -n 2p "$d/talk.out")
[ $st = 0 ] && [ "$got" = "$big_sum" ] && pass "--output: a peer that keeps sending still gets the whole stream" \
    || fail "--output to a talking peer: status $st" "$(cat "$d/talk.out")"

expect_error "--output needs a URL" 2 'expected tcp://HOST:PORT or unix:PATH' "$RS" --output out.ndjson
expect_error "--output tcp:// needs a port" 2 'expected tcp://HOST:PORT' "$RS" --output tcp://localhost
expect_error "--output port 0 is refused" 2 'port from 1 to 65535' "$RS" --output tcp://127.0.0.1:0
expect_error "--output port 70000 is refused" 2 'port from 1 to 65535' "$RS" --output tcp://127.0.0.1:70000
expect_error "an IPv6 address needs brackets" 2 'in brackets' "$RS" --output tcp://::1:80
expect_error "unix: needs a path" 2 'needs a socket path' "$RS" --listen unix:
expect_error "a Unix socket path over 107 bytes" 2 'at most 107 bytes' "$RS" --output "unix:/$(printf 'x%.0s' $(seq 120))"
expect_error "-o and --output together" 2 'exclude each other' "$RS" -o "$d/x" --output tcp://127.0.0.1:9
expect_error "--output and --listen together" 2 'exclude each other' "$RS" --listen tcp://127.0.0.1:0 --output tcp://127.0.0.1:9
expect_error "--once without --listen" 2 '--once goes with --listen' "$RS" --once
expect_error "--max-clients without --listen" 2 'goes with --listen' "$RS" --max-clients 3
expect_error "--connect-timeout without --output" 2 'goes with --output' "$RS" --connect-timeout 3
expect_error "--connect-timeout not a number" 2 'expected seconds' "$RS" --output tcp://127.0.0.1:9 --connect-timeout soon
expect_error "--max-clients 0" 2 'from 1 to 1024' "$RS" --listen tcp://127.0.0.1:0 --max-clients 0
[ ! -e "$d/x" ] && pass "a refused -o path is not created" || fail "-o x was created"

# ---- --listen ----
if start_server $A --listen tcp://127.0.0.1:0 --once; then
    socat -u "TCP:${SRV_URL#tcp://}" OPEN:"$d/l.out",creat,trunc
    wait $SRV_PID; st=$?
    [ $st = 0 ] && same "--listen tcp --once: a socat client gets the stdout bytes, server exits 0" "$d/l.out" \
        || fail "--listen --once status $st" "$(cat "$d/srv.err")"
fi
# Many blocks over two workers, each of which copies its own blocks into
# the client's queue in turn.
B="--seed 6 --reps 9000 --accounts 21000 --opportunities 30000"
"$RS" -j 1 $B >"$d/ref.many"
if start_server -j 2 $B --listen unix:"$d/many.sock" --once; then
    socat -u UNIX:"$d/many.sock" OPEN:"$d/many.out",creat,trunc
    wait $SRV_PID; st=$?
    [ $st = 0 ] && same "--listen -j 2: the bytes of -j 1, over many blocks" "$d/many.out" "$d/ref.many" \
        || fail "--listen -j 2 status $st" "$(cat "$d/srv.err")"
fi
rm -f "$d/ref.many" "$d/many.out"

if start_server $A --listen unix:"$d/srv.sock" --once --compress zstd; then
    $PEER read "$SRV_URL" "$d/lz.out"
    wait $SRV_PID; st=$?
    zstd -qdc "$d/lz.out" >"$d/lz.plain" 2>/dev/null
    [ $st = 0 ] && same "--listen unix: --compress zstd: per-connection zstd of the stdout bytes" "$d/lz.plain" \
        || fail "--listen unix status $st"
    [ ! -e "$d/srv.sock" ] && pass "--once removes its Unix socket file on exit" || fail "socket file left"
fi

if has_ipv6 && start_server $A --listen "tcp://[::1]:0" --once; then
    $PEER read "$SRV_URL" "$d/l6.out"
    wait $SRV_PID
    same "--listen tcp://[::1]:0 (IPv6 loopback)" "$d/l6.out"
fi

if start_server $A --shard 3/3 --types account --listen tcp://127.0.0.1:0 --once; then
    "$RS" $A --shard 3/3 --types account >"$d/ref.acc"
    $PEER read "$SRV_URL" "$d/lacc.out"
    wait $SRV_PID
    same "--shard and --types over --listen" "$d/lacc.out" "$d/ref.acc"
fi

# Eight clients at once, and twelve through four slots (the rest wait).
if start_server $A --listen tcp://127.0.0.1:0 --max-clients 8; then
    sums=$(timeout 60 $PEER many "$SRV_URL" 8 | sort | uniq -c | awk '{print $1, $2}')
    [ "$sums" = "8 $ref_sum" ] && pass "8 concurrent clients each get the stdout bytes" || fail "8 clients" "$sums"
    kill -TERM $SRV_PID; wait $SRV_PID; st=$?
    [ $st = 143 ] && pass "SIGTERM ends the server with status 143" || fail "SIGTERM status $st"
fi

# A stream bigger than the socket buffers, so a reset lands mid-stream.
if start_server $big --listen tcp://127.0.0.1:0; then
    $PEER reset-after "$SRV_URL" 1000
    sums=$(timeout 60 $PEER many "$SRV_URL" 1)
    [ "$sums" = "$big_sum" ] && pass "a client that resets ends only its own stream; the next is served" \
        || fail "after a reset" "$sums"
    got=$(timeout 60 $PEER talk "$SRV_URL")
    [ "$got" = "$big_sum" ] && pass "--listen: a client that keeps sending still gets the whole stream" \
        || fail "--listen to a talking client" "$got"
    kill -TERM $SRV_PID; wait $SRV_PID
    n=$(grep -c 'disconnected after' "$d/srv.err")
    [ "$n" = 1 ] && grep -q 'client 127.0.0.1:[0-9]*: disconnected after .* sent: connection reset by peer' "$d/srv.err" \
        && pass "the reset client is one line on the server's stderr" || fail "reset line" "$(cat "$d/srv.err")"
fi

if start_server $A --listen unix:"$d/four.sock" --max-clients 4; then
    sums=$(timeout 60 $PEER many "$SRV_URL" 12 | sort | uniq -c | awk '{print $1, $2}')
    [ "$sums" = "12 $ref_sum" ] && pass "12 clients through --max-clients 4 all get the stdout bytes" || fail "12 clients" "$sums"
    kill -INT $SRV_PID; wait $SRV_PID; st=$?
    [ $st = 130 ] && pass "SIGINT ends the server with status 130" || fail "SIGINT status $st"
    [ ! -e "$d/four.sock" ] && pass "SIGINT removes the Unix socket file" || fail "socket file left after SIGINT"
fi

# --once with a client that disconnects early: one line, status 1.
if start_server $big --listen tcp://127.0.0.1:0 --once; then
    $PEER reset-after "$SRV_URL" 50000
    wait $SRV_PID; st=$?
    if [ $st = 1 ] && [ "$(grep -vc 'listening on' "$d/srv.err")" = 1 ] && grep -q 'disconnected after' "$d/srv.err"; then
        pass "--once: a client that resets mid-stream is one error line and status 1"
    else fail "--once reset: status $st" "$(cat "$d/srv.err")"; fi
fi

# A stale socket file (its server died) is replaced; a regular file is not.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$d/stale.sock"
if start_server $A --listen unix:"$d/stale.sock" --once; then
    $PEER read "$SRV_URL" "$d/stale.out"
    wait $SRV_PID
    same "--listen replaces a stale Unix socket file" "$d/stale.out"
fi
# A live server whose backlog is full: the stale-socket probe must not hang.
mkfifo "$d/hold"
$PEER full-backlog "$d/busy.sock" <"$d/hold" >"$d/busy.out" &
bp=$!
exec 9>"$d/hold"
for _ in $(seq 100); do grep -q ready "$d/busy.out" && break; sleep 0.05; done
expect_error "--listen where a live server's backlog is full" 1 'another server is listening there' \
    timeout 10 "$RS" --listen unix:"$d/busy.sock"
exec 9>&-
wait $bp
expect_error "--listen in a missing directory" 1 'cannot listen: no such file or directory' \
    timeout 10 "$RS" --listen unix:"$d/no/such/dir.sock"
expect_error "brackets only around IPv6 addresses" 2 'for IPv6 addresses only' "$RS" --output 'tcp://[127.0.0.1]:80'
expect_error "a URL with a path" 2 'no path' "$RS" --output tcp://localhost:80/x
expect_error "--connect-timeout in hex" 2 'expected seconds' "$RS" --output tcp://127.0.0.1:9 --connect-timeout 0x1

echo keep >"$d/regular"
expect_error "--listen on a regular file's path" 1 'exists and is not a socket' timeout 10 "$RS" --listen unix:"$d/regular"
[ "$(cat "$d/regular")" = keep ] && pass "the regular file is left alone" || fail "regular file changed"

port=$(free_port)
socat TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr - </dev/null >/dev/null &
sp=$!
sleep 0.3
expect_error "--listen on a port in use" 1 'cannot listen: address already in use' timeout 10 "$RS" --listen tcp://127.0.0.1:$port
kill $sp 2>/dev/null; wait $sp 2>/dev/null

# Backpressure: a client reading 4 KiB every 2 ms pauses its own generation;
# the server's memory stays flat (SPEC 7: under 32 MiB).
secs=3; quick && secs=1
huge="--seed 5 --reps 300000 --accounts 700000 --opportunities 1000000"
timeout 120 /usr/bin/time -f 'maxrss %M' -o "$d/rss" "$RS" $huge --listen unix:"$d/slow.sock" --once 2>"$d/srv.err" &
tp=$!
for _ in $(seq 200); do [ -S "$d/slow.sock" ] && break; sleep 0.05; done
got=$($PEER slow unix:"$d/slow.sock" $secs)
wait $tp; st=$?
rss=$(awk '/maxrss/ {print $2}' "$d/rss")
if [ $st = 1 ] && [ -n "$rss" ] && [ "$got" -gt 0 ]; then
    if quick; then pass "a slow client is served and its reset ends the --once server (RSS not checked under sanitizers)"
    elif [ "$rss" -lt 32768 ]; then pass "a slow client for ${secs}s: server peak RSS ${rss} KiB < 32 MiB"
    else fail "slow client: server peak RSS ${rss} KiB"; fi
else fail "slow client: status $st, rss $rss, got $got" "$(cat "$d/srv.err")"; fi

rm -rf "$d"
