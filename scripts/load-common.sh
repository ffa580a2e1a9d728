# shellcheck shell=bash disable=SC2154
# What scripts/load-postgres.sh and scripts/load-sqlite.sh share; sourced by
# both after they set prog and files (the input FILEs, - for stdin).

die() { echo "$prog: $1" >&2; exit "${2:-1}"; }

# check_inputs TOOL PACKAGE: every FILE readable, TOOL and zstd installed.
check_inputs() {
    local f
    for f in "${files[@]}"; do
        [ "$f" = - ] || [ -r "$f" ] || die "$f: cannot read"
    done
    command -v "$1" >/dev/null || die "$1 not found (Debian package $2)"
    command -v zstd >/dev/null || die "zstd not found (Debian package zstd)"
}

# check_zstd_files: zstd files are tested whole first, so a damaged one stops
# the load before it starts rather than loading the records before the
# damage. Only regular files: a pipe (`<(...)`) can be read once, so its
# zstd data is checked as it loads, which fails the one transaction all the
# same.
check_zstd_files() {
    local f
    for f in "${files[@]}"; do
        [ -f "$f" ] && [ "$(head -c 4 -- "$f" | od -An -tx1 | tr -d ' ')" = 28b52ffd ] &&
            ! zstd -qt -- "$f" 2>/dev/null && die "$f: damaged zstd data; nothing loaded"
    done
}

# cat_streams: the streams in turn, decompressed when they are zstd (-f
# passes plain text on). Their errors are the loading tool's to report: it
# stops reading when the load fails.
cat_streams() {
    local f
    for f in "${files[@]}"; do
        if [ "$f" = - ]; then zstd -qdcf; else zstd -qdcf -- "$f"; fi
    done 2>/dev/null
}
