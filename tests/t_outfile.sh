# -o PATH: atomic for files, in place for devices and FIFOs.
d=$(mktemp -d)

"$RS" -o /dev/null
if [ $? = 0 ] && [ -c /dev/null ]; then pass "-o /dev/null writes to the device and leaves it a device"
else fail "-o /dev/null" "$(ls -la /dev/null)"; fi

expect_error "-o /dev/full is one error line, status 1" 1 '/dev/full: .*No space' "$RS" -o /dev/full

mkfifo "$d/fifo"
cat "$d/fifo" >"$d/from-fifo" &
"$RS" --seed 4 -o "$d/fifo"; st=$?
wait
"$RS" --seed 4 --generated-at 2026-01-01T00:00:00Z >"$d/direct"
if [ $st = 0 ] && [ -p "$d/fifo" ] && [ "$(sed 1d "$d/from-fifo" | md5sum)" = "$(sed 1d "$d/direct" | md5sum)" ]; then
    pass "-o FIFO streams into the FIFO"
else fail "-o FIFO" "status $st"; fi
rm -f "$d/fifo" "$d/from-fifo" "$d/direct"

"$RS" --seed 4 -o "$d/out.ndjson"
if [ "$(ls -A "$d")" = out.ndjson ] && tail -1 "$d/out.ndjson" | grep -q '"type":"footer"'; then
    pass "-o FILE: complete file, no temp file beside it"
else fail "-o FILE" "$(ls -A "$d")"; fi
rm -f "$d/out.ndjson"

expect_error "-o FILE on a failing run" 2 'opportunities' "$RS" --accounts 2 --opportunities 10 -o "$d/out.ndjson"
no_files_left "-o FILE on a failing run leaves nothing" "$d"

expect_error "-o into a missing directory" 1 'cannot create' "$RS" -o "$d/missing/out.ndjson"
rm -rf "$d"

# The file gets the mode a plain open would give, or keeps the replaced file's.
d=$(mktemp -d)
(umask 077 && "$RS" -o "$d/private.ndjson")
(umask 022 && "$RS" -o "$d/shared.ndjson")
touch "$d/kept.ndjson" && chmod 640 "$d/kept.ndjson" && "$RS" -o "$d/kept.ndjson"
modes=$(stat -c '%a' "$d/private.ndjson" "$d/shared.ndjson" "$d/kept.ndjson" | paste -sd' ')
if [ "$modes" = "600 644 640" ]; then pass "-o honours the umask and keeps a replaced file's mode"
else fail "-o file modes" "$modes"; fi
rm -rf "$d"

expect_error "-o with an empty path" 2 '-o: empty path' "$RS" -o ''
if "$RS" --help >/dev/full 2>/dev/null; then fail "--help to a full disk fails"; else pass "--help to a full disk fails"; fi

# --generated-at is written in the header's form: six fraction digits, numeric offset.
got=$("$RS" --generated-at 2026-01-01T10:20:30.5Z | head -1 | jq -r .data.generated_at)
if [ "$got" = "2026-01-01T10:20:30.500000+00:00" ]; then pass "--generated-at normalised"
else fail "--generated-at normalised" "$got"; fi
expect_error "--generated-at with 7 fraction digits" 2 'generated-at' "$RS" --generated-at 2026-01-01T00:00:00.1234567Z
expect_error "--generated-at with offset +24:00" 2 'generated-at' "$RS" --generated-at 2026-01-01T00:00:00+24:00

# zstd frames carry a checksum: a damaged byte fails the merge instead of
# changing its output.
d=$(mktemp -d)
"$RS" --seed 7 --reps 300 --accounts 700 --opportunities 1000 -o "$d/s.zst"
size=$(stat -c %s "$d/s.zst")
caught=0
for frac in 20 35 50 65 80; do
    python3 -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); d = bytearray(open(p, "rb").read()); d[o] ^= 4; open(sys.argv[3], "wb").write(d)' \
        "$d/s.zst" $((size * frac / 100)) "$d/flip.zst"
    "$RS" merge "$d/flip.zst" >/dev/null 2>&1 || caught=$((caught + 1))
done
if [ "$caught" = 5 ]; then pass "zstd output has checksums: 5 of 5 flipped bytes fail the merge"
else fail "zstd checksums" "only $caught of 5 flipped bytes failed the merge"; fi

# SIGHUP (a closed terminal) removes the temp file like SIGINT and SIGTERM.
"$RS" -j 1 --reps 300000 --accounts 700000 --opportunities 1000000 -o "$d/big.ndjson" &
pid=$!
for _ in $(seq 100); do ls "$d" | grep -q 'big.ndjson.tmp' && break; sleep 0.1; done
kill -HUP $pid; wait $pid; st=$?
if [ "$st" = 129 ] && ! ls "$d" | grep -q big.ndjson; then pass "SIGHUP: status 129, no temp file left"
else fail "SIGHUP" "status $st, left: $(ls "$d")"; fi
rm -rf "$d"
