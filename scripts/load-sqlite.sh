#!/usr/bin/env bash
# Loads a revops-stream stream, or a set of shards of one, into an SQLite
# database: creates the five tables with primary and foreign keys (enforced:
# PRAGMA foreign_keys), imports every line with sqlite3's .import, fills the
# tables in dependency order (territory, rep, account, opportunity,
# opportunity_history) and checks the rows against the streams' footers, all
# in one transaction: on any error nothing is loaded.
set -u
prog=load-sqlite.sh
usage="usage: scripts/$prog [--drop] DB [FILE...]

Loads NDJSON streams made by revops-stream (FILE, or stdin when none or -;
zstd-compressed input too; several FILEs: the shards of one data set, any
order) into the tables territory, rep, account, opportunity and
opportunity_history of the SQLite database DB (created if missing).

  --drop        drop the five tables first if they exist (else a table that
                exists is an error)
  -h, --help    show this help

Columns are the data model's fields in snake_case (homeState: home_state);
booleans are 0/1 and dates YYYY-MM-DD text. Needs sqlite3 (3.38 or later,
for its JSON functions) and zstd.
Exit status: 0 loaded, 1 failed (nothing loaded), 2 usage."

# die, check_inputs, check_zstd_files, cat_streams
# shellcheck source=scripts/load-common.sh
. "$(dirname "$0")/load-common.sh" || exit 1

drop=false args=()
while [ $# -gt 0 ]; do
    case $1 in
        --drop) drop=true; shift ;;
        -h | --help) echo "$usage"; exit 0 ;;
        --) shift; args+=("$@"); break ;;
        -?*) die "unknown option \"$1\" (see --help)" 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
[ ${#args[@]} -gt 0 ] || die "no database given (see --help)" 2
db=${args[0]}
files=("${args[@]:1}")
[ ${#files[@]} -gt 0 ] || files=(-)
check_inputs sqlite3 sqlite3

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

{
    cat <<'SQL'
.bail on
PRAGMA foreign_keys = ON;
BEGIN;
SQL
    $drop && echo 'DROP TABLE IF EXISTS opportunity_history; DROP TABLE IF EXISTS opportunity;
DROP TABLE IF EXISTS account; DROP TABLE IF EXISTS rep; DROP TABLE IF EXISTS territory;'
    cat <<'SQL'
CREATE TABLE territory (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE);
CREATE TABLE rep (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    home_state TEXT NOT NULL,
    region TEXT NOT NULL,
    quota INTEGER NOT NULL,
    territory_id INTEGER NOT NULL REFERENCES territory);
CREATE TABLE account (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    annual_revenue INTEGER NOT NULL,
    num_developers INTEGER NOT NULL,
    state TEXT NOT NULL,
    industry TEXT NOT NULL,
    is_customer INTEGER NOT NULL CHECK (is_customer IN (0, 1)),
    in_pipeline INTEGER NOT NULL CHECK (in_pipeline IN (0, 1)),
    rep_id INTEGER NOT NULL REFERENCES rep,
    territory_id INTEGER NOT NULL REFERENCES territory);
CREATE TABLE opportunity (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    amount INTEGER NOT NULL,
    stage TEXT NOT NULL,
    close_date TEXT,
    rep_id INTEGER NOT NULL REFERENCES rep,
    account_id INTEGER NOT NULL REFERENCES account,
    created_date TEXT NOT NULL);
CREATE TABLE opportunity_history (
    id INTEGER PRIMARY KEY,
    opportunity_id INTEGER NOT NULL REFERENCES opportunity,
    field_name TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    change_date TEXT NOT NULL);
CREATE INDEX rep_territory ON rep (territory_id);
CREATE INDEX account_rep ON account (rep_id);
CREATE INDEX account_territory ON account (territory_id);
CREATE INDEX opportunity_rep ON opportunity (rep_id);
CREATE INDEX opportunity_account ON opportunity (account_id);
CREATE INDEX opportunity_history_opportunity ON opportunity_history (opportunity_id);

-- Every line as one text value: the input comes with newlines turned into
-- the ASCII record separator, and JSON text never holds it (nor the unit
-- separator) raw.
CREATE TEMP TABLE revops_stage (doc TEXT NOT NULL);
.import --ascii /dev/stdin revops_stage
CREATE TEMP TABLE revops_line AS
SELECT json_extract(doc, '$.type') AS type, json_extract(doc, '$.data') AS data FROM revops_stage;
DROP TABLE revops_stage;

-- Before any row goes in: the input is whole streams of one data set,
-- every shard once, with known record types. Problems are printed, then a
-- CHECK fails and .bail ends the run before COMMIT.
CREATE TEMP VIEW revops_problem(problem) AS
SELECT 'no stream header in the input' WHERE NOT EXISTS (SELECT 1 FROM revops_line WHERE type = 'header')
UNION ALL
SELECT h || ' stream header(s) but ' || f || ' footer(s): a stream is cut short'
FROM (SELECT sum(type = 'header') h, sum(type = 'footer') f FROM revops_line) WHERE h <> f
UNION ALL
SELECT 'streams of different data sets (seed, settings or counts differ)'
FROM (SELECT count(DISTINCT json_remove(data, '$.generated_at', '$.shard')) n FROM revops_line
      WHERE type = 'header') WHERE n > 1
UNION ALL
SELECT h || ' stream(s) for ' || s || ' distinct shard(s) of ' || c || ': shards missing or repeated'
FROM (SELECT count(*) h, count(DISTINCT json_extract(data, '$.shard.index')) s,
             max(json_extract(data, '$.shard.count')) c FROM revops_line WHERE type = 'header')
WHERE h > 0 AND (s <> h OR s <> c)
UNION ALL
SELECT 'unknown record type "' || coalesce(type, 'null') || '"' FROM (SELECT DISTINCT type FROM revops_line
WHERE type IS NULL OR type NOT IN ('header', 'footer', 'territory', 'rep', 'account', 'opportunity',
                                   'opportunity_history'));
SELECT 'problem: ' || problem FROM revops_problem;
CREATE TEMP TABLE revops_ok (ok INTEGER CHECK (ok));
INSERT INTO revops_ok SELECT NOT EXISTS (SELECT 1 FROM revops_problem);

INSERT INTO territory
SELECT json_extract(data, '$.id'), json_extract(data, '$.name')
FROM revops_line WHERE type = 'territory' ORDER BY 1;
INSERT INTO rep
SELECT json_extract(data, '$.id'), json_extract(data, '$.name'), json_extract(data, '$.homeState'),
       json_extract(data, '$.region'), json_extract(data, '$.quota'), json_extract(data, '$.territoryId')
FROM revops_line WHERE type = 'rep' ORDER BY 1;
INSERT INTO account
SELECT json_extract(data, '$.id'), json_extract(data, '$.name'), json_extract(data, '$.annualRevenue'),
       json_extract(data, '$.numDevelopers'), json_extract(data, '$.state'), json_extract(data, '$.industry'),
       json_extract(data, '$.isCustomer'), json_extract(data, '$.inPipeline'), json_extract(data, '$.repId'),
       json_extract(data, '$.territoryId')
FROM revops_line WHERE type = 'account' ORDER BY 1;
INSERT INTO opportunity
SELECT json_extract(data, '$.id'), json_extract(data, '$.name'), json_extract(data, '$.amount'),
       json_extract(data, '$.stage'), json_extract(data, '$.closeDate'), json_extract(data, '$.repId'),
       json_extract(data, '$.accountId'), json_extract(data, '$.created_date')
FROM revops_line WHERE type = 'opportunity' ORDER BY 1;
INSERT INTO opportunity_history
SELECT json_extract(data, '$.id'), json_extract(data, '$.opportunity_id'), json_extract(data, '$.field_name'),
       json_extract(data, '$.old_value'), json_extract(data, '$.new_value'), json_extract(data, '$.change_date')
FROM revops_line WHERE type = 'opportunity_history' ORDER BY 1;

-- Each table holds what the footers count.
CREATE TEMP VIEW revops_count_problem(problem) AS
SELECT f.type || ': ' || c.n || ' rows loaded, the footers count ' || f.n FROM (
    SELECT t.value type, coalesce(sum(json_extract(l.data, '$.records.' || t.value)), 0) n
    FROM json_each('["territory","rep","account","opportunity","opportunity_history"]') t
    LEFT JOIN revops_line l ON l.type = 'footer' GROUP BY t.value) f JOIN (
    SELECT 'territory' type, count(*) n FROM territory UNION ALL
    SELECT 'rep', count(*) FROM rep UNION ALL
    SELECT 'account', count(*) FROM account UNION ALL
    SELECT 'opportunity', count(*) FROM opportunity UNION ALL
    SELECT 'opportunity_history', count(*) FROM opportunity_history) c USING (type)
WHERE c.n <> f.n;
SELECT 'problem: ' || problem FROM revops_count_problem;
INSERT INTO revops_ok SELECT NOT EXISTS (SELECT 1 FROM revops_count_problem);
SELECT 'loaded ' || (SELECT count(*) FROM territory) || ' territory, ' || (SELECT count(*) FROM rep) ||
       ' rep, ' || (SELECT count(*) FROM account) || ' account, ' || (SELECT count(*) FROM opportunity) ||
       ' opportunity, ' || (SELECT count(*) FROM opportunity_history) || ' opportunity_history';
COMMIT;
SQL
} >"$tmp/load.sql"

check_zstd_files
# One line a record separated by 0x1e, for sqlite3's .import --ascii.
cat_streams | tr '\n' '\036' | sqlite3 -batch -bail "$db" ".read '$tmp/load.sql'" >"$tmp/out" 2>"$tmp/err"
st=${PIPESTATUS[2]}
if [ "$st" != 0 ] || [ -s "$tmp/err" ] || grep -q '^problem: ' "$tmp/out"; then
    msg=$(sed -n 's/^problem: //p' "$tmp/out" | head -1)
    [ -n "$msg" ] || msg=$(grep -v '^$' "$tmp/err" | sed -E 's/^(Parse|Runtime) error near line [0-9]+: //' | head -1)
    die "${msg:-sqlite3 failed (status $st)}; nothing loaded"
fi
echo "$prog: $(grep '^loaded ' "$tmp/out")" >&2
