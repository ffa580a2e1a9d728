#!/usr/bin/env bash
# Loads a revops-stream stream, or a set of shards of one, into PostgreSQL:
# creates the five tables with their primary keys, copies every line in with
# one psql \copy, fills the tables in dependency order (territory, rep,
# account, opportunity, opportunity_history), adds the foreign keys (which
# checks every row), and checks the rows against the streams' footers, all
# in one transaction: on any error nothing is loaded.
set -u
prog=load-postgres.sh
usage="usage: scripts/$prog [-d CONNINFO] [--drop] [FILE...]

Loads NDJSON streams made by revops-stream (FILE, or stdin when none or -;
zstd-compressed input too; several FILEs: the shards of one data set, any
order) into the tables territory, rep, account, opportunity and
opportunity_history of a PostgreSQL database.

  -d CONNINFO   database name or connection string for psql (default: the
                PGHOST, PGPORT, PGUSER, PGDATABASE environment, as psql does)
  --drop        drop the five tables first if they exist (else a table that
                exists is an error)
  -h, --help    show this help

Columns are the data model's fields in snake_case (homeState: home_state).
Needs psql and zstd. Exit status: 0 loaded, 1 failed (nothing loaded), 2 usage."

# die, check_inputs, check_zstd_files, cat_streams
# shellcheck source=scripts/load-common.sh
. "$(dirname "$0")/load-common.sh" || exit 1

conn=() drop=false files=()
while [ $# -gt 0 ]; do
    case $1 in
        -d) [ $# -ge 2 ] || die "-d needs a value (see --help)" 2; conn=(-d "$2"); shift 2 ;;
        --drop) drop=true; shift ;;
        -h | --help) echo "$usage"; exit 0 ;;
        --) shift; files+=("$@"); break ;;
        -?*) die "unknown option \"$1\" (see --help)" 2 ;;
        *) files+=("$1"); shift ;;
    esac
done
[ ${#files[@]} -gt 0 ] || files=(-)
check_inputs psql postgresql-client

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

{
    echo '\set ON_ERROR_STOP on'
    echo 'SET client_min_messages = warning;'
    echo 'BEGIN;'
    $drop && echo 'DROP TABLE IF EXISTS opportunity_history, opportunity, account, rep, territory;'
    cat <<'SQL'
CREATE TABLE territory (
    id bigint PRIMARY KEY,
    name text NOT NULL UNIQUE);
CREATE TABLE rep (
    id bigint PRIMARY KEY,
    name text NOT NULL UNIQUE,
    home_state text NOT NULL,
    region text NOT NULL,
    quota bigint NOT NULL,
    territory_id bigint NOT NULL);
CREATE TABLE account (
    id bigint PRIMARY KEY,
    name text NOT NULL UNIQUE,
    annual_revenue bigint NOT NULL,
    num_developers bigint NOT NULL,
    state text NOT NULL,
    industry text NOT NULL,
    is_customer boolean NOT NULL,
    in_pipeline boolean NOT NULL,
    rep_id bigint NOT NULL,
    territory_id bigint NOT NULL);
CREATE TABLE opportunity (
    id bigint PRIMARY KEY,
    name text NOT NULL UNIQUE,
    amount bigint NOT NULL,
    stage text NOT NULL,
    close_date date,
    rep_id bigint NOT NULL,
    account_id bigint NOT NULL,
    created_date date NOT NULL);
CREATE TABLE opportunity_history (
    id bigint PRIMARY KEY,
    opportunity_id bigint NOT NULL,
    field_name text NOT NULL,
    old_value text,
    new_value text,
    change_date date NOT NULL);

-- Every line as one jsonb value: CSV with a delimiter and a quote that JSON
-- text never holds raw (control characters are escaped in JSON strings).
CREATE TEMP TABLE revops_stage (doc jsonb NOT NULL) ON COMMIT DROP;
\copy revops_stage (doc) FROM pstdin WITH (FORMAT csv, DELIMITER E'\x1f', QUOTE E'\x1e')

-- Before any row goes in: the input is whole streams of one data set,
-- every shard once, with known record types.
DO $$
DECLARE
    headers bigint; footers bigint; sets bigint; shards bigint; shard_count bigint; other text;
BEGIN
    SELECT count(*) FILTER (WHERE doc->>'type' = 'header'), count(*) FILTER (WHERE doc->>'type' = 'footer')
      INTO headers, footers FROM revops_stage;
    IF headers = 0 THEN RAISE EXCEPTION 'no stream header in the input'; END IF;
    IF headers <> footers THEN
        RAISE EXCEPTION '% stream header(s) but % footer(s): a stream is cut short', headers, footers;
    END IF;
    SELECT count(DISTINCT (doc->'data') - 'generated_at' - 'shard'),
           count(DISTINCT doc->'data'->'shard'->'index'), max((doc->'data'->'shard'->>'count')::bigint)
      INTO sets, shards, shard_count FROM revops_stage WHERE doc->>'type' = 'header';
    IF sets > 1 THEN RAISE EXCEPTION 'streams of different data sets (seed, settings or counts differ)'; END IF;
    IF shards <> headers OR shards <> shard_count THEN
        RAISE EXCEPTION '% stream(s) for % distinct shard(s) of %: shards missing or repeated', headers, shards,
            shard_count;
    END IF;
    SELECT coalesce(doc->>'type', 'null') INTO other FROM revops_stage
     WHERE doc->>'type' IS NULL OR doc->>'type' NOT IN ('header', 'footer', 'territory', 'rep', 'account',
                                                        'opportunity', 'opportunity_history') LIMIT 1;
    IF other IS NOT NULL THEN RAISE EXCEPTION 'unknown record type "%"', other; END IF;
END $$;

INSERT INTO territory
SELECT r.* FROM revops_stage, jsonb_to_record(doc->'data') AS r(id bigint, name text)
WHERE doc->>'type' = 'territory' ORDER BY r.id;
INSERT INTO rep
SELECT r.* FROM revops_stage, jsonb_to_record(doc->'data')
    AS r(id bigint, name text, "homeState" text, region text, quota bigint, "territoryId" bigint)
WHERE doc->>'type' = 'rep' ORDER BY r.id;
INSERT INTO account
SELECT r.* FROM revops_stage, jsonb_to_record(doc->'data')
    AS r(id bigint, name text, "annualRevenue" bigint, "numDevelopers" bigint, state text, industry text,
         "isCustomer" boolean, "inPipeline" boolean, "repId" bigint, "territoryId" bigint)
WHERE doc->>'type' = 'account' ORDER BY r.id;
INSERT INTO opportunity
SELECT r.* FROM revops_stage, jsonb_to_record(doc->'data')
    AS r(id bigint, name text, amount bigint, stage text, "closeDate" date, "repId" bigint,
         "accountId" bigint, created_date date)
WHERE doc->>'type' = 'opportunity' ORDER BY r.id;
INSERT INTO opportunity_history
SELECT r.* FROM revops_stage, jsonb_to_record(doc->'data')
    AS r(id bigint, opportunity_id bigint, field_name text, old_value text, new_value text, change_date date)
WHERE doc->>'type' = 'opportunity_history' ORDER BY r.id;

-- Foreign keys after the rows: PostgreSQL checks all of them in one pass.
ALTER TABLE rep ADD FOREIGN KEY (territory_id) REFERENCES territory;
ALTER TABLE account ADD FOREIGN KEY (rep_id) REFERENCES rep,
                    ADD FOREIGN KEY (territory_id) REFERENCES territory;
ALTER TABLE opportunity ADD FOREIGN KEY (rep_id) REFERENCES rep,
                        ADD FOREIGN KEY (account_id) REFERENCES account;
ALTER TABLE opportunity_history ADD FOREIGN KEY (opportunity_id) REFERENCES opportunity;

-- Each table holds what the footers count.
DO $$
DECLARE
    t text; loaded bigint; counted bigint;
BEGIN
    FOREACH t IN ARRAY ARRAY['territory', 'rep', 'account', 'opportunity', 'opportunity_history'] LOOP
        EXECUTE format('SELECT count(*) FROM %I', t) INTO loaded;
        SELECT coalesce(sum((doc->'data'->'records'->>t)::bigint), 0) INTO counted
          FROM revops_stage WHERE doc->>'type' = 'footer';
        IF loaded <> counted THEN
            RAISE EXCEPTION '%: % rows loaded, the footers count %', t, loaded, counted;
        END IF;
    END LOOP;
END $$;
SELECT 'loaded ' || string_agg(n || ' ' || t, ', ' ORDER BY o) FROM (
    SELECT 1 o, 'territory' t, count(*) n FROM territory UNION ALL
    SELECT 2, 'rep', count(*) FROM rep UNION ALL
    SELECT 3, 'account', count(*) FROM account UNION ALL
    SELECT 4, 'opportunity', count(*) FROM opportunity UNION ALL
    SELECT 5, 'opportunity_history', count(*) FROM opportunity_history) c;
COMMIT;
SQL
} >"$tmp/load.sql"

check_zstd_files
cat_streams | psql -X -q -t -A -v ON_ERROR_STOP=1 "${conn[@]}" -f "$tmp/load.sql" 2>"$tmp/err" >"$tmp/out"
st=${PIPESTATUS[1]}
if [ "$st" != 0 ] || [ -s "$tmp/err" ]; then
    # psql's first error, with its detail, as one line.
    msg=$(grep -E 'ERROR|DETAIL|FATAL|error|could not' "$tmp/err" | sed -E 's/^psql:[^ ]*:[0-9]+: //; s/^(ERROR|DETAIL|FATAL): +//' |
        head -2 | paste -sd' ')
    [ -n "$msg" ] || msg=$(head -1 "$tmp/err")
    die "${msg:-psql failed (status $st)}; nothing loaded"
fi
echo "$prog: $(grep '^loaded ' "$tmp/out")" >&2
