# Database loaders: scripts/load-postgres.sh against a real PostgreSQL server
# (Debian's, started here on a temporary directory and loopback) and
# scripts/load-sqlite.sh with sqlite3. A 10^5-opportunity stream loads with
# every row the footer counts and every key constraint in force; a shard set
# loads to the same tables; bad input loads nothing.
root=$(cd "$TESTS_DIR/.." && pwd)
PGLOAD="$root/scripts/load-postgres.sh"
SQLOAD="$root/scripts/load-sqlite.sh"
pgbin=/usr/lib/postgresql/15/bin
d=$(mktemp -d)
chmod 755 "$d"
export SOURCE_DATE_EPOCH=1700000000
n_opp=100000
quick && n_opp=10000
A="--seed 3 --reps $((n_opp * 3 / 10)) --accounts $((n_opp * 7 / 10)) --opportunities $n_opp"
"$RS" $A -o "$d/s.ndjson"
# Shards and bad input on a smaller data set: they test the checks, not speed.
B="--seed 3 --reps 600 --accounts 1400 --opportunities 2000"
"$RS" $B -o "$d/small.ndjson"
for k in 1 2 3; do "$RS" $B --shard $k/3 -o "$d/shard$k.ndjson.zst"; done
footer=$(tail -1 "$d/s.ndjson")
want_counts=$(jq -r '.data.records | [.territory, .rep, .account, .opportunity, .opportunity_history] | map(tostring) | join(" ")' <<<"$footer")

# loads_nothing NAME CMD...: CMD exits 1 with one line "SCRIPT: ...; nothing loaded".
loads_nothing() {
    local name=$1
    shift
    "$@" >"$d/out" 2>"$d/err"
    local st=$?
    if [ $st = 1 ] && [ "$(wc -l <"$d/err")" = 1 ] && grep -q '^load-[a-z]*\.sh: .*nothing loaded$' "$d/err"; then
        pass "$name ($(cat "$d/err"))"
    else fail "$name" "status $st: $(cat "$d/err")"; fi
}

# ---- PostgreSQL ----
pg_up=false
stop_pg() {
    if $pg_up; then
        as_pg "$pgbin/pg_ctl" -D "$d/pg/data" -m immediate stop >/dev/null 2>&1
        pg_up=false
    fi
}
# The server stops and its directory goes whatever happens.
trap 'stop_pg; rm -rf "$d"' EXIT
# PostgreSQL refuses to run as root: then it runs as the postgres user.
if [ "$(id -u)" = 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi
if [ ! -x "$pgbin/initdb" ]; then
    fail "PostgreSQL 15 server installed (scripts/install-deps.sh)" "no $pgbin/initdb"
else
    mkdir -p "$d/pg"
    [ "$(id -u)" = 0 ] && chown postgres: "$d/pg"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if as_pg "$pgbin/initdb" -D "$d/pg/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$d/pg/initdb.log" 2>&1 &&
        as_pg "$pgbin/pg_ctl" -D "$d/pg/data" -l "$d/pg/log" -w -t 60 \
            -o "-h 127.0.0.1 -p $port -k $d/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null 2>&1; then
        pg_up=true
    else
        fail "PostgreSQL server starts on 127.0.0.1:$port" "$(tail -5 "$d/pg/initdb.log" "$d/pg/log" 2>&1)"
    fi
fi
if $pg_up; then
    export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres
    q() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }
    start=$(date +%s%N)
    "$PGLOAD" "$d/s.ndjson" 2>"$d/err"; st=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    got=$(q -c "SELECT (SELECT count(*) FROM territory) || ' ' || (SELECT count(*) FROM rep) || ' ' ||
        (SELECT count(*) FROM account) || ' ' || (SELECT count(*) FROM opportunity) || ' ' ||
        (SELECT count(*) FROM opportunity_history)" 2>&1)
    if [ $st = 0 ] && [ "$got" = "$want_counts" ]; then
        pass "load-postgres.sh: $n_opp opportunities in $((ms / 1000)).$((ms % 1000 / 100)) s, row counts = footer ($got)"
    else fail "load-postgres.sh of $n_opp opportunities" "status $st, rows '$got' want '$want_counts': $(cat "$d/err")"; fi
    # The keys are there and validated: 5 primary, 6 foreign.
    got=$(q -c "SELECT contype || count(*) FILTER (WHERE convalidated) || '/' || count(*) FROM pg_constraint
        WHERE conrelid IN ('territory'::regclass, 'rep'::regclass, 'account'::regclass, 'opportunity'::regclass,
                           'opportunity_history'::regclass) AND contype IN ('p', 'f')
        GROUP BY contype ORDER BY contype" | paste -sd' ')
    [ "$got" = "f6/6 p5/5" ] && pass "PostgreSQL: 5 primary and 6 foreign keys, all validated" ||
        fail "PostgreSQL constraints" "$got"
    # ... and enforced: a dangling reference and a repeated id are refused.
    if q -c "INSERT INTO opportunity_history VALUES (999999999, 999999999, 'stage', NULL, 'x', '2026-01-01')" 2>&1 |
        grep -q 'violates foreign key constraint' &&
        q -c "INSERT INTO territory SELECT id, name || ' again' FROM territory LIMIT 1" 2>&1 | grep -q 'duplicate key'; then
        pass "PostgreSQL: the keys refuse a dangling opportunity_id and a repeated id"
    else fail "PostgreSQL keys enforced"; fi
    # Every foreign key of the data model resolves, by join (independent of the constraints).
    got=$(q -c "SELECT (SELECT count(*) FROM rep r LEFT JOIN territory t ON t.id = r.territory_id WHERE t.id IS NULL)
        + (SELECT count(*) FROM account a LEFT JOIN rep r ON r.id = a.rep_id WHERE r.id IS NULL)
        + (SELECT count(*) FROM opportunity o JOIN account a ON a.id = o.account_id WHERE o.rep_id <> a.rep_id)
        + (SELECT count(*) FROM opportunity_history h LEFT JOIN opportunity o ON o.id = h.opportunity_id WHERE o.id IS NULL)")
    [ "$got" = 0 ] && pass "PostgreSQL: every reference resolves and opportunity.rep_id = its account's" ||
        fail "PostgreSQL references" "$got bad rows"

    # The shards, in any order, zstd and stdin mixed, load the same rows.
    q -c "CREATE DATABASE small" && PGDATABASE=small "$PGLOAD" "$d/small.ndjson" 2>"$d/err" &&
    q -c "CREATE DATABASE shards" && PGDATABASE=shards "$PGLOAD" "$d/shard3.ndjson.zst" - "$d/shard1.ndjson.zst" \
        <"$d/shard2.ndjson.zst" 2>"$d/err"; st=$?
    same_rows=true
    for t in territory rep account opportunity opportunity_history; do
        a=$(PGDATABASE=small q -c "COPY (SELECT * FROM $t ORDER BY id) TO STDOUT" | md5sum)
        b=$(PGDATABASE=shards q -c "COPY (SELECT * FROM $t ORDER BY id) TO STDOUT" | md5sum)
        [ "$a" = "$b" ] || same_rows=false
    done
    if [ $st = 0 ] && $same_rows; then pass "load-postgres.sh of 3 shards (zstd, stdin, any order): the same rows in every table"
    else fail "load-postgres.sh of shards" "status $st $(cat "$d/err")"; fi

    q -c "CREATE DATABASE bad"
    export PGDATABASE=bad
    loads_nothing "load-postgres.sh: a missing shard" "$PGLOAD" "$d/shard1.ndjson.zst" "$d/shard3.ndjson.zst"
    loads_nothing "load-postgres.sh: a repeated shard" "$PGLOAD" "$d/shard1.ndjson.zst" "$d/shard2.ndjson.zst" \
        "$d/shard2.ndjson.zst" "$d/shard3.ndjson.zst"
    head -n 1000 "$d/small.ndjson" >"$d/cut.ndjson"
    loads_nothing "load-postgres.sh: a stream cut short" "$PGLOAD" "$d/cut.ndjson"
    "$RS" --seed 4 --shard 2/3 >"$d/other.ndjson"
    loads_nothing "load-postgres.sh: shards of another data set" "$PGLOAD" "$d/shard1.ndjson.zst" "$d/other.ndjson" \
        "$d/shard3.ndjson.zst"
    loads_nothing "load-postgres.sh: a line that is not JSON" "$PGLOAD" <<<"not json"
    "$RS" --types opportunity >"$d/opps.ndjson"
    loads_nothing "load-postgres.sh: opportunities without their accounts (foreign keys)" "$PGLOAD" "$d/opps.ndjson"
    got=$(q -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    [ "$got" = 0 ] && pass "load-postgres.sh: failed loads leave no table" || fail "failed loads left $got tables"
    PGDATABASE=small loads_nothing "load-postgres.sh: tables that exist, without --drop" "$PGLOAD" "$d/small.ndjson"
    if PGDATABASE=shards "$PGLOAD" --drop "$d/shard1.ndjson.zst" "$d/shard2.ndjson.zst" "$d/shard3.ndjson.zst" 2>/dev/null; then
        pass "load-postgres.sh --drop replaces a load"
    else fail "load-postgres.sh --drop"; fi
    out=$("$PGLOAD" --bogus 2>&1); st=$?
    [ $st = 2 ] && [ "$out" = 'load-postgres.sh: unknown option "--bogus" (see --help)' ] &&
        pass "load-postgres.sh: usage error, status 2" || fail "load-postgres.sh usage error" "$st $out"
    unset PGHOST PGPORT PGUSER PGDATABASE
    stop_pg
fi

# ---- SQLite ----
start=$(date +%s%N)
"$SQLOAD" "$d/s.db" "$d/s.ndjson" 2>"$d/err"; st=$?
ms=$((($(date +%s%N) - start) / 1000000))
s3() { sqlite3 -batch "$@"; }
got=$(s3 "$d/s.db" "SELECT (SELECT count(*) FROM territory) || ' ' || (SELECT count(*) FROM rep) || ' ' ||
    (SELECT count(*) FROM account) || ' ' || (SELECT count(*) FROM opportunity) || ' ' ||
    (SELECT count(*) FROM opportunity_history)" 2>&1)
if [ $st = 0 ] && [ "$got" = "$want_counts" ]; then
    pass "load-sqlite.sh: $n_opp opportunities in $((ms / 1000)).$((ms % 1000 / 100)) s, row counts = footer ($got)"
else fail "load-sqlite.sh of $n_opp opportunities" "status $st, rows '$got' want '$want_counts': $(cat "$d/err")"; fi
got=$(s3 "$d/s.db" "PRAGMA foreign_key_check; PRAGMA integrity_check;")
[ "$got" = ok ] && pass "SQLite: foreign_key_check finds nothing, integrity_check ok" || fail "SQLite checks" "$got"
got=$(s3 "$d/s.db" "SELECT count(*) FROM pragma_foreign_key_list('rep') UNION ALL SELECT count(*) FROM pragma_foreign_key_list('account')
    UNION ALL SELECT count(*) FROM pragma_foreign_key_list('opportunity') UNION ALL SELECT count(*) FROM pragma_foreign_key_list('opportunity_history')" | paste -sd' ')
[ "$got" = "1 2 2 1" ] && pass "SQLite: the 6 foreign keys are declared" || fail "SQLite foreign keys" "$got"
if s3 "$d/s.db" "PRAGMA foreign_keys = ON; INSERT INTO opportunity_history VALUES (999999999, 999999999, 'stage', NULL, 'x', '2026-01-01')" 2>&1 |
    grep -q 'FOREIGN KEY constraint failed'; then
    pass "SQLite: a dangling opportunity_id is refused"
else fail "SQLite foreign keys enforced"; fi
# Values as jq reads them from the stream (a sample of opportunities).
jq -r 'select(.type == "opportunity" and .data.id % 997 == 1) | .data | [.id, .name, .amount, .stage, (.closeDate // ""), .repId, .accountId, .created_date] | map(tostring) | join("|")' \
    "$d/s.ndjson" >"$d/jq.opps"
s3 "$d/s.db" "SELECT id, name, amount, stage, coalesce(close_date, ''), rep_id, account_id, created_date FROM opportunity WHERE id % 997 = 1 ORDER BY id" >"$d/db.opps"
if [ -s "$d/jq.opps" ] && cmp -s "$d/jq.opps" "$d/db.opps"; then pass "SQLite: opportunity rows equal the stream's fields, null closeDate as NULL"
else fail "SQLite values" "$(diff "$d/jq.opps" "$d/db.opps" | head -5)"; fi

"$SQLOAD" "$d/small.db" "$d/small.ndjson" 2>"$d/err" &&
    "$SQLOAD" "$d/sh.db" "$d/shard2.ndjson.zst" - "$d/shard3.ndjson.zst" <"$d/shard1.ndjson.zst" 2>"$d/err"; st=$?
same_rows=true
for t in territory rep account opportunity opportunity_history; do
    [ "$(s3 "$d/small.db" "SELECT * FROM $t ORDER BY id" | md5sum)" = "$(s3 "$d/sh.db" "SELECT * FROM $t ORDER BY id" | md5sum)" ] ||
        same_rows=false
done
if [ $st = 0 ] && $same_rows; then pass "load-sqlite.sh of 3 shards (zstd, stdin, any order): the same rows in every table"
else fail "load-sqlite.sh of shards" "status $st $(cat "$d/err")"; fi

loads_nothing "load-sqlite.sh: a missing shard" "$SQLOAD" "$d/bad.db" "$d/shard1.ndjson.zst" "$d/shard3.ndjson.zst"
loads_nothing "load-sqlite.sh: a repeated shard" "$SQLOAD" "$d/bad.db" "$d/shard1.ndjson.zst" "$d/shard2.ndjson.zst" \
    "$d/shard2.ndjson.zst" "$d/shard3.ndjson.zst"
head -n 1000 "$d/small.ndjson" >"$d/cut.ndjson"
loads_nothing "load-sqlite.sh: a stream cut short" "$SQLOAD" "$d/bad.db" "$d/cut.ndjson"
loads_nothing "load-sqlite.sh: a line that is not JSON" "$SQLOAD" "$d/bad.db" <<<"not json"
"$RS" --types opportunity >"$d/opps.ndjson"
loads_nothing "load-sqlite.sh: opportunities without their accounts (foreign keys)" "$SQLOAD" "$d/bad.db" "$d/opps.ndjson"
got=$(s3 "$d/bad.db" "SELECT count(*) FROM sqlite_master WHERE type = 'table'")
[ "$got" = 0 ] && pass "load-sqlite.sh: failed loads leave no table" || fail "failed sqlite loads left $got tables"
head -c 3000 "$d/shard1.ndjson.zst" >"$d/damaged.zst"
loads_nothing "load-sqlite.sh: damaged zstd input" "$SQLOAD" "$d/bad.db" "$d/damaged.zst"
loads_nothing "load-sqlite.sh: tables that exist, without --drop" "$SQLOAD" "$d/small.db" "$d/small.ndjson"
if "$SQLOAD" --drop "$d/sh.db" "$d/shard1.ndjson.zst" "$d/shard2.ndjson.zst" "$d/shard3.ndjson.zst" 2>/dev/null; then
    pass "load-sqlite.sh --drop replaces a load"
else fail "load-sqlite.sh --drop"; fi
# A pipe given as a FILE (process substitution) is read once: plain and zstd.
if "$SQLOAD" --drop "$d/pipe.db" <(cat "$d/small.ndjson") 2>/dev/null &&
    "$SQLOAD" --drop "$d/pipe.db" <(zstd -qc "$d/small.ndjson") 2>/dev/null; then
    pass "load-sqlite.sh DB <(...): a pipe as FILE, plain and zstd"
else fail "load-sqlite.sh DB <(...)"; fi
out=$("$SQLOAD" 2>&1); st=$?
[ $st = 2 ] && [ "$out" = 'load-sqlite.sh: no database given (see --help)' ] &&
    pass "load-sqlite.sh: usage error, status 2" || fail "load-sqlite.sh usage error" "$st $out"
rm -rf "$d"
