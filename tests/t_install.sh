# Packaging: the man page (mandoc -Tlint, every option of every --help),
# the bash completion (every option offered), and make install/uninstall
# with DESTDIR and PREFIX, including a C program built against the
# installed header and pkg-config file.
root=$(cd "$TESTS_DIR/.." && pwd)
d=$(mktemp -d)
man="$root/man/revops-stream.1"

# ---- man page ----
lint=$(mandoc -Tlint "$man" 2>&1); st=$?
if [ $st = 0 ] && [ -z "$lint" ]; then pass "mandoc -Tlint: the man page is clean"
else fail "mandoc -Tlint" "$lint"; fi
mandoc -Tascii "$man" | sed "s/.\x08//g" >"$d/man.txt"
# The long options each subcommand's --help lists.
help_options() { "$RS" "$@" --help | grep -E '^ +-' | grep -oE -- '--[a-z][a-z-]+' | sort -u; }
missing=""
for sub in generate plan merge validate split; do
    for o in $(help_options $sub); do
        grep -qF -- "$o" "$d/man.txt" || missing="$missing $sub:$o"
    done
done
if [ -z "$missing" ]; then pass "the man page covers every option of every subcommand's --help"
else fail "man page options" "missing:$missing"; fi
missing=""
for w in SOURCE_DATE_EPOCH TMPDIR "EXIT STATUS" EXAMPLES "jq " "kcat " "psql" "parallel " "merge" "sqlite3" \
    "load-postgres.sh" "load-sqlite.sh"; do
    grep -qF -- "$w" "$d/man.txt" || missing="$missing [$w]"
done
if [ -z "$missing" ]; then pass "the man page has the environment, exit status and the examples"
else fail "man page sections" "missing:$missing"; fi

# ---- bash completion ----
comp="$root/scripts/completion/revops-stream.bash"
# complete WORDS...: the candidates for the last word of a command line.
complete_words() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _revops_stream; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$comp" "$@" 2>&1
}
missing=""
for sub in generate plan merge validate split; do
    offered=$(complete_words revops-stream $sub --)
    for o in $(help_options $sub); do
        grep -qx -- "$o" <<<"$offered" || missing="$missing $sub:$o"
    done
done
if [ -z "$missing" ]; then pass "bash completion offers every option of every subcommand"
else fail "bash completion options" "missing:$missing"; fi
got=$(complete_words revops-stream m | paste -sd' ')
[ "$got" = merge ] && pass "bash completion: subcommands" || fail "completion of subcommands" "$got"
got=$(complete_words revops-stream --types opportunity,opp | paste -sd' ')
[ "$got" = "opportunity,opportunity opportunity,opportunity_history" ] && pass "bash completion: --types list items" ||
    fail "completion of --types" "$got"
got=$(complete_words revops-stream merge --c | paste -sd' ')
[ "$got" = "--compact" ] && pass "bash completion: options of merge only" || fail "completion of merge options" "$got"

# ---- make install / uninstall ----
# Not under the sanitizer pass: `make install` installs the plain build.
if quick; then
    pass "make install (checked in the plain pass)"
    rm -rf "$d"
    return 0
fi
dest="$d/dest"
if ! out=$(make -s -C "$root" install DESTDIR="$dest" PREFIX=/usr 2>&1); then
    fail "make install DESTDIR PREFIX=/usr" "$out"
else
    want="usr/bin/revops-stream usr/include/revops/revops.h usr/lib/librevops.a usr/lib/pkgconfig/revops.pc usr/share/bash-completion/completions/revops-stream usr/share/man/man1/revops-stream.1"
    got=$(cd "$dest" && find . -type f | sed 's|^\./||' | sort | paste -sd' ')
    [ "$got" = "$want" ] && pass "make install: binary, man page, completion, header, library, pkg-config file" ||
        fail "make install files" "got: $got"
    [ -x "$dest/usr/bin/revops-stream" ] && "$dest/usr/bin/revops-stream" --version | grep -q '^revops-stream ' &&
        pass "installed binary runs" || fail "installed binary runs"
    grep -qx 'prefix=/usr' "$dest/usr/lib/pkgconfig/revops.pc" && pass "revops.pc made for PREFIX=/usr" ||
        fail "revops.pc prefix" "$(cat "$dest/usr/lib/pkgconfig/revops.pc")"

    # A program against the installed header and pkg-config file only (the
    # prefix moved to where DESTDIR put it; no -I of the source tree).
    mkdir -p "$d/app"
    cat >"$d/app/app.c" <<'EOF'
#include <revops/revops.h>
#include <stdio.h>
#include <string.h>

static int count_lines(void *ctx, const char *buf, size_t len)
{
    unsigned long long *n = ctx;
    for (size_t i = 0; i < len; i++)
        *n += buf[i] == '\n';
    return 0;
}

int main(void)
{
    rs_settings s;
    rs_vocab v;
    rs_err err;
    rs_gen *g;
    rs_settings_init(&s);
    if (rs_vocab_builtin(&v, &err) || rs_gen_create(&g, &s, &v, 1, &err)) {
        fprintf(stderr, "app: %s\n", err.msg);
        return 1;
    }
    rs_gen_options o;
    memset(&o, 0, sizeof o);
    strcpy(o.generated_at, "2026-01-01T00:00:00.000000+00:00");
    o.types_mask = (1u << RS_NTYPES) - 1;
    o.shard_index = o.shard_count = 1;
    o.threads = 1;
    uint64_t counts[RS_NTYPES];
    rs_gen_counts(g, &o, counts);
    unsigned long long lines = 0, want = 2;
    for (int t = 0; t < RS_NTYPES; t++)
        want += counts[t];
    if (rs_gen_run(g, &o, count_lines, &lines, &err)) {
        fprintf(stderr, "app: %s\n", err.msg);
        return 1;
    }
    printf("%llu %llu\n", lines, want);
    rs_gen_free(g);
    rs_vocab_free(&v);
    rs_settings_free(&s);
    return 0;
}
EOF
    flags=$(PKG_CONFIG_PATH="$dest/usr/lib/pkgconfig" pkg-config --define-variable=prefix="$dest/usr" \
        --cflags --libs --static revops 2>&1)
    if (cd "$d/app" && cc -std=c11 -Wall -Werror -o app app.c $flags) 2>"$d/app/cc.err"; then
        lines=$("$RS" | wc -l)
        got=$("$d/app/app")
        [ "$got" = "$lines $lines" ] && pass "a C program builds with pkg-config --static revops and generates the stream ($got)" ||
            fail "C program against the installed library" "got '$got', want '$lines $lines'"
    else fail "C program compiles against the installed header and revops.pc" "flags: $flags; $(cat "$d/app/cc.err")"; fi

    if out=$(make -s -C "$root" uninstall DESTDIR="$dest" PREFIX=/usr 2>&1) && [ -z "$(find "$dest" -type f)" ] &&
        [ ! -d "$dest/usr/include/revops" ]; then
        pass "make uninstall DESTDIR PREFIX=/usr removes every installed file"
    else fail "make uninstall" "$out; left: $(find "$dest" -type f)"; fi
fi
rm -rf "$d"
