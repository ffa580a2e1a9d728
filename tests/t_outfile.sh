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
