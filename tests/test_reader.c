/* Units for the record readers: the NDJSON stream reader (good lines, and
 * each kind of bad line with its FILE:LINE message) and the streaming
 * data.json reader (shape checks, records across chunk boundaries, rewind on
 * files and pipes), plus the text scanner they share; zstd input to both
 * (frames, skippable frames, a magic number split over reads, corruption);
 * and the external sorter merge uses behind them (order, ties, spilling,
 * merge passes, nothing left in $TMPDIR). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <zstd.h>

#include "pyjson.h"
#include "record.h"
#include "spill.h"

static char tmp_path[256];

static const char *write_tmp(const char *data, size_t len)
{
    snprintf(tmp_path, sizeof tmp_path, "%s/rs-test-reader.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

#define HDR                                                                                                         \
    "{\"type\":\"header\",\"data\":{\"schema\":\"revops-agent-skeleton\",\"generated_at\":\"2026-02-19T05:00:09." \
    "013131+00:00\",\"generator\":\"revops-stream 0.1.0\",\"seed\":123,\"as_of\":\"2026-02-19\",\"settings\":"   \
    "\"0123456789abcdef\",\"counts\":{\"reps\":30,\"accounts\":70,\"opportunities\":100},\"shard\":{\"index\":1,"  \
    "\"count\":1}}}\n"
#define REP "{\"type\":\"rep\",\"data\":{\"id\":1,\"name\":\"A B\",\"homeState\":\"CA\",\"region\":\"West\",\"quota\":200000,\"territoryId\":8}}\n"

/* ---- NDJSON: good input ---- */

static void test_ndjson_all_record_kinds(void **state)
{
    (void)state;
    const char text[] =
        HDR
        "{\"type\":\"territory\",\"data\":{\"id\":1,\"name\":\"Construction Territory\"}}\n" REP
        "{\"type\":\"account\",\"data\":{\"id\":1,\"name\":\"Q\\\"x\\u00e9\\ud83d\\ude00\\u0000z\",\"annualRevenue\":"
        "-9223372036854775808,\"numDevelopers\":22,\"state\":\"CA\",\"industry\":\"Information\",\"isCustomer\":true,"
        "\"inPipeline\":false,\"repId\":19,\"territoryId\":7}}\n"
        "{ \"type\" : \"opportunity\" , \"data\" : { \"id\" : 1 , \"name\" : \"n\", \"amount\": 9223372036854775807,"
        " \"stage\": \"1 - Qualification\", \"closeDate\": null, \"repId\": 19, \"accountId\": 1, \"created_date\": "
        "\"2024-10-22\" } }\r\n"
        "{\"type\":\"opportunity_history\",\"data\":{\"id\":1,\"opportunity_id\":1,\"field_name\":\"closeDate\","
        "\"old_value\":null,\"new_value\":\"2026-08-28\",\"change_date\":\"2025-11-18\"}}\n"
        "{\"type\":\"footer\",\"data\":{\"records\":{\"rep\":1,\"opportunity_history\":1},\"shard\":{\"index\":1,"
        "\"count\":1}}}\n";
    const char *path = write_tmp(text, sizeof text - 1);
    rs_ndjson_reader *r;
    rs_record rec;
    rs_err err;
    assert_int_equal(rs_ndjson_open(&r, path, &err), 0);
    assert_string_equal(rs_ndjson_name(r), path);

    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.kind, RS_REC_HEADER);
    assert_int_equal(rec.line, 1);
    assert_string_equal(rec.header.schema, "revops-agent-skeleton");
    assert_string_equal(rec.header.generated_at, "2026-02-19T05:00:09.013131+00:00");
    assert_string_equal(rec.header.generator, "revops-stream 0.1.0");
    assert_true(rec.header.has_seed);
    assert_int_equal(rec.header.seed, 123);
    assert_true(rec.header.has_as_of);
    assert_int_equal(rec.header.as_of, RS_BASE_AS_OF);
    assert_string_equal(rec.header.settings, "0123456789abcdef");
    assert_true(rec.header.has_counts);
    assert_int_equal(rec.header.counts[0], 30);
    assert_int_equal(rec.header.counts[1], 70);
    assert_int_equal(rec.header.counts[2], 100);
    assert_int_equal(rec.header.shard_index, 1);
    assert_int_equal(rec.header.shard_count, 1);

    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.kind, RS_REC_ENTITY);
    assert_int_equal(rec.entity.type, RS_TERRITORY);
    assert_int_equal(rec.entity.nfields, RS_TER_NFIELDS);
    assert_int_equal(rec.entity.v[RS_TER_NAME].len, 22);
    assert_memory_equal(rec.entity.v[RS_TER_NAME].s, "Construction Territory", 22);

    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.entity.type, RS_REP);
    assert_int_equal(rec.entity.v[RS_REP_QUOTA].kind, RS_VAL_INT);
    assert_int_equal(rec.entity.v[RS_REP_QUOTA].i, 200000);
    assert_int_equal(rec.entity.v[RS_REP_TERRITORYID].i, 8);

    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.line, 4);
    assert_int_equal(rec.entity.type, RS_ACCOUNT);
    const rs_value *nm = &rec.entity.v[RS_ACC_NAME];
    /* escapes decoded: quote, U+00E9, U+1F600 from a surrogate pair, NUL */
    static const char want_name[] = "Q\"x\xc3\xa9\xf0\x9f\x98\x80\0z";
    assert_int_equal(nm->len, sizeof want_name - 1);
    assert_memory_equal(nm->s, want_name, sizeof want_name - 1);
    assert_int_equal(rec.entity.v[RS_ACC_ANNUALREVENUE].i, INT64_MIN);
    assert_int_equal(rec.entity.v[RS_ACC_ISCUSTOMER].kind, RS_VAL_BOOL);
    assert_int_equal(rec.entity.v[RS_ACC_ISCUSTOMER].i, 1);
    assert_int_equal(rec.entity.v[RS_ACC_INPIPELINE].i, 0);

    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.entity.type, RS_OPPORTUNITY);
    assert_int_equal(rec.entity.v[RS_OPP_AMOUNT].i, INT64_MAX);
    assert_int_equal(rec.entity.v[RS_OPP_CLOSEDATE].kind, RS_VAL_NULL);
    assert_memory_equal(rec.entity.v[RS_OPP_CREATED_DATE].s, "2024-10-22", 10);

    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.entity.type, RS_HISTORY);
    assert_int_equal(rec.entity.v[RS_HIS_OLD_VALUE].kind, RS_VAL_NULL);
    assert_int_equal(rec.entity.v[RS_HIS_NEW_VALUE].kind, RS_VAL_STR);

    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.kind, RS_REC_FOOTER);
    assert_int_equal(rec.line, 7);
    assert_int_equal(rec.footer.present_mask, (1u << RS_REP) | (1u << RS_HISTORY));
    assert_int_equal(rec.footer.records[RS_REP], 1);
    assert_int_equal(rec.footer.records[RS_HISTORY], 1);
    assert_int_equal(rec.footer.shard_count, 1);

    assert_int_equal(rs_ndjson_next(r, &rec, &err), 0);
    rs_ndjson_close(r);
    unlink(path);
}

static void test_ndjson_header_nulls_and_big_seed(void **state)
{
    (void)state;
    const char text[] = "{\"type\":\"header\",\"data\":{\"schema\":\"x\",\"generated_at\":\"g\",\"generator\":\"y\","
                        "\"seed\":18446744073709551615,\"as_of\":null,\"settings\":null,\"counts\":{\"reps\":0,"
                        "\"accounts\":0,\"opportunities\":0},\"shard\":{\"index\":2,\"count\":3}}}\n"
                        "{\"type\":\"header\",\"data\":{\"schema\":\"x\",\"generated_at\":\"g\",\"generator\":\"y\","
                        "\"seed\":null,\"as_of\":null,\"settings\":null,\"counts\":{\"reps\":0,"
                        "\"accounts\":0,\"opportunities\":0},\"shard\":{\"index\":1,\"count\":1}}}\n";
    const char *path = write_tmp(text, sizeof text - 1);
    rs_ndjson_reader *r;
    rs_record rec;
    rs_err err;
    assert_int_equal(rs_ndjson_open(&r, path, &err), 0);
    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_true(rec.header.has_seed);
    assert_true(rec.header.seed == UINT64_MAX);
    assert_false(rec.header.has_as_of);
    assert_string_equal(rec.header.settings, "");
    assert_int_equal(rec.header.shard_index, 2);
    assert_int_equal(rec.header.shard_count, 3);
    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_false(rec.header.has_seed);
    assert_int_equal(rs_ndjson_next(r, &rec, &err), 0);
    rs_ndjson_close(r);
    unlink(path);
}

/* ---- NDJSON: bad input ---- */

/* The reader accepts the lines before the last one of text, then fails on
 * line `line` with a message "PATH:LINE: ..." containing want. */
static void expect_bad(const char *text, size_t len, unsigned line, const char *want)
{
    const char *path = write_tmp(text, len);
    rs_ndjson_reader *r;
    rs_record rec;
    rs_err err;
    assert_int_equal(rs_ndjson_open(&r, path, &err), 0);
    int rc;
    unsigned good = 0;
    while ((rc = rs_ndjson_next(r, &rec, &err)) == 1)
        good++;
    if (rc != RS_EDATA)
        fail_msg("want RS_EDATA for %s, got %d after %u records", want, rc, good);
    assert_int_equal(good, line - 1);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s:%u: ", path, line);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, want))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err.msg, prefix, want);
    assert_null(strchr(err.msg, '\n'));
    rs_ndjson_close(r);
    unlink(path);
}
#define BAD(lit, line, want) expect_bad(lit, sizeof(lit) - 1, line, want)

#define ENT(type, data) "{\"type\":\"" type "\",\"data\":{" data "}}\n"

static void test_ndjson_bad_json(void **state)
{
    (void)state;
    BAD(HDR "hello\n", 2, "invalid JSON");
    BAD(HDR "{\"type\":\"rep\",\"data\":{\"id\":1,}}\n", 2, "invalid JSON");
    BAD(HDR "\n", 2, "empty line");
    BAD(HDR "   \n", 2, "empty line");
    BAD(HDR "[1,2]\n", 2, "expected a JSON object, got array");
    BAD(HDR "42\n", 2, "expected a JSON object");
    BAD(REP REP "{\"type\":\"territory\",\"data\":{\"id\":1,\"name\":\"x\"}} {}\n", 3, "more than one JSON value");
    BAD(HDR "{\"type\":\"territory\",\"data\":{\"id\":1,\"name\":\"x\"}", 2, "no newline");
    BAD("{\"type\":\"territory\",\n\"data\":{}}\n", 1, "incomplete JSON record");
}

static void test_ndjson_bad_envelope(void **state)
{
    (void)state;
    BAD(ENT("widget", "\"id\":1"), 1, "unknown record type \"widget\"");
    BAD("{\"data\":{},\"type\":\"rep\"}\n", 1, "expected \"type\" as the first key");
    BAD("{\"type\":\"rep\"}\n", 1, "no \"data\"");
    BAD("{\"type\":7,\"data\":{}}\n", 1, "\"type\" must be a string");
    BAD("{\"type\":\"rep\",\"data\":[]}\n", 1, "\"data\" must be an object");
    BAD("{\"type\":\"territory\",\"data\":{\"id\":1,\"name\":\"x\"},\"more\":1}\n", 1, "unexpected key \"more\"");
    BAD("{}\n", 1, "record has no \"type\"");
}

static void test_ndjson_bad_fields(void **state)
{
    (void)state;
    /* missing, extra, repeated, misordered */
    BAD(HDR ENT("rep", "\"id\":1,\"name\":\"A\",\"region\":\"West\",\"quota\":1,\"territoryId\":8"), 2,
        "rep record: missing field \"homeState\" (found \"region\"");
    BAD(ENT("territory", "\"id\":1"), 1, "territory record: missing field \"name\"");
    BAD(ENT("territory", "\"id\":1,\"name\":\"x\",\"extra\":2"), 1, "territory record: unknown field \"extra\"");
    BAD(ENT("territory", "\"id\":1,\"name\":\"x\",\"id\":2"), 1, "field \"id\" repeated or out of order");
    BAD(ENT("territory", "\"name\":\"x\",\"id\":1"), 1, "missing field \"id\" (found \"name\"");
    /* mistyped */
    BAD(ENT("territory", "\"id\":\"1\",\"name\":\"x\""), 1, "field \"id\": expected integer >= 0, got string");
    BAD(ENT("territory", "\"id\":1.0,\"name\":\"x\""), 1, "field \"id\": expected integer >= 0, got fraction");
    BAD(ENT("territory", "\"id\":1e3,\"name\":\"x\""), 1, "got fraction");
    BAD(ENT("territory", "\"id\":1,\"name\":null"), 1, "field \"name\": expected string, got null");
    BAD(ENT("territory", "\"id\":1,\"name\":{}"), 1, "field \"name\": expected string, got object");
    BAD(ENT("territory", "\"id\":1,\"name\":[\"x\"]"), 1, "field \"name\": expected string, got array");
    BAD(ENT("account", "\"id\":1,\"name\":\"n\",\"annualRevenue\":1,\"numDevelopers\":1,\"state\":\"CA\","
                       "\"industry\":\"I\",\"isCustomer\":1,\"inPipeline\":false,\"repId\":1,\"territoryId\":1"),
        1, "field \"isCustomer\": expected boolean, got integer");
    BAD(ENT("opportunity", "\"id\":1,\"name\":\"n\",\"amount\":1,\"stage\":\"s\",\"closeDate\":20260101,"
                           "\"repId\":1,\"accountId\":1,\"created_date\":\"2024-01-01\""),
        1, "field \"closeDate\": expected string or null, got integer");
    BAD(ENT("opportunity_history", "\"id\":1,\"opportunity_id\":1,\"field_name\":\"stage\",\"old_value\":null,"
                                   "\"new_value\":null,\"change_date\":\"2025-11-18\""),
        1, "field \"new_value\": expected string, got null");
    /* integers: negative ids, beyond int64 */
    BAD(ENT("territory", "\"id\":-1,\"name\":\"x\""), 1, "field \"id\": negative value \"-1\"");
    BAD(ENT("rep", "\"id\":1,\"name\":\"A\",\"homeState\":\"CA\",\"region\":\"W\",\"quota\":1,\"territoryId\":-8"), 1,
        "negative value");
    BAD(ENT("rep", "\"id\":1,\"name\":\"A\",\"homeState\":\"CA\",\"region\":\"W\",\"quota\":9223372036854775808,"
                   "\"territoryId\":8"),
        1, "field \"quota\": integer out of range");
    BAD(ENT("rep", "\"id\":1,\"name\":\"A\",\"homeState\":\"CA\",\"region\":\"W\",\"quota\":-9223372036854775809,"
                   "\"territoryId\":8"),
        1, "out of range");
}

static void test_ndjson_bad_header_footer(void **state)
{
    (void)state;
    BAD("{\"type\":\"header\",\"data\":{\"schema\":\"x\",\"generated_at\":\"g\",\"generator\":\"y\",\"seed\":1,"
        "\"as_of\":\"2026-02-30\",\"settings\":null,\"counts\":{\"reps\":0,\"accounts\":0,\"opportunities\":0},"
        "\"shard\":{\"index\":1,\"count\":1}}}\n",
        1, "\"as_of\": not a YYYY-MM-DD date");
    BAD("{\"type\":\"header\",\"data\":{\"schema\":\"x\",\"generated_at\":\"g\",\"generator\":\"y\",\"seed\":-1,"
        "\"as_of\":null,\"settings\":null,\"counts\":{\"reps\":0,\"accounts\":0,\"opportunities\":0},"
        "\"shard\":{\"index\":1,\"count\":1}}}\n",
        1, "\"seed\": negative value");
    BAD("{\"type\":\"header\",\"data\":{\"schema\":\"x\",\"generated_at\":\"g\",\"generator\":\"y\",\"seed\":1,"
        "\"as_of\":null,\"settings\":null,\"counts\":{\"reps\":0,\"opportunities\":0},"
        "\"shard\":{\"index\":1,\"count\":1}}}\n",
        1, "header: counts: missing field \"accounts\"");
    BAD("{\"type\":\"header\",\"data\":{\"schema\":\"x\",\"generated_at\":\"g\",\"generator\":\"y\",\"seed\":1,"
        "\"as_of\":null,\"settings\":null,\"counts\":{\"reps\":0,\"accounts\":0,\"opportunities\":0},"
        "\"shard\":{\"index\":3,\"count\":2}}}\n",
        1, "shard index 3 of count 2 is not valid");
    BAD("{\"type\":\"header\",\"data\":{\"schema\":\"x\",\"generated_at\":\"g\"}}\n", 1,
        "header: missing field \"generator\"");
    BAD("{\"type\":\"footer\",\"data\":{\"records\":{\"rep\":1,\"territory\":1},\"shard\":{\"index\":1,\"count\":1}}}\n",
        1, "footer: records: field \"territory\" repeated or out of order");
    BAD("{\"type\":\"footer\",\"data\":{\"records\":{\"reps\":1},\"shard\":{\"index\":1,\"count\":1}}}\n", 1,
        "footer: records: unknown field \"reps\"");
    BAD("{\"type\":\"footer\",\"data\":{\"records\":{\"rep\":true},\"shard\":{\"index\":1,\"count\":1}}}\n", 1,
        "field \"rep\": expected integer >= 0, got boolean");
}

static void test_ndjson_bad_bytes(void **state)
{
    (void)state;
    BAD(HDR "{\"type\":\"territory\",\"data\":{\"id\":1,\"name\":\"a\0b\"}}\n", 2, "NUL byte");
    BAD(REP "{\"type\":\"territory\",\"data\":{\"id\":1,\"name\":\"\xff\"}}\n", 2, "invalid UTF-8");
    BAD(ENT("territory", "\"id\":1,\"name\":\"\xc0\x80\""), 1, "invalid UTF-8");         /* overlong NUL */
    BAD(ENT("territory", "\"id\":1,\"name\":\"\xe0\x80\xaf\""), 1, "invalid UTF-8");     /* overlong '/' */
    BAD(ENT("territory", "\"id\":1,\"name\":\"\xed\xa0\x80\""), 1, "invalid UTF-8");     /* surrogate */
    BAD(ENT("territory", "\"id\":1,\"name\":\"\xf4\x90\x80\x80\""), 1, "invalid UTF-8"); /* > U+10FFFF */
    BAD(ENT("territory", "\"id\":1,\"name\":\"\xe2\x82\""), 1, "invalid UTF-8");         /* truncated */
    BAD(ENT("territory", "\"id\":1,\"name\":\"\\ud800\""), 1, "unpaired UTF-16 surrogate");
    BAD(ENT("territory", "\"id\":1,\"name\":\"\\udc00x\""), 1, "unpaired UTF-16 surrogate");
    BAD(ENT("territory", "\"id\":1,\"name\":\"\\ud800\\u0041\""), 1, "unpaired UTF-16 surrogate");
    BAD(ENT("territory", "\"id\":1,\"name\":\"\\ud800x\""), 1, "unpaired UTF-16 surrogate");
    /* an escaped backslash before 'u' is not an escape: this is valid */
    const char ok[] = ENT("territory", "\"id\":1,\"name\":\"\\\\ud800\"");
    const char *path = write_tmp(ok, sizeof ok - 1);
    rs_ndjson_reader *r;
    rs_record rec;
    rs_err err;
    assert_int_equal(rs_ndjson_open(&r, path, &err), 0);
    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.entity.v[1].len, 6);
    assert_memory_equal(rec.entity.v[1].s, "\\ud800", 6);
    rs_ndjson_close(r);
    unlink(path);
}

/* Compact lines as generate writes them are parsed on a fast path that
 * copies their strings into data.json as they are; a string with anything
 * needing care (an escape, DEL, a byte >= 0x80) must leave it, wherever in
 * the string that byte stands (the scan takes 16 and 8 bytes at a time). */
static void test_ndjson_canonical_strings(void **state)
{
    (void)state;
    static const char *const odd[] = {"\\\\", "\\/", "\x7f", "\xc3\xa9", "\\u0041"};
    char line[256], name[64];
    for (size_t len = 1; len <= 40; len++) {
        for (size_t at = 0; at <= len; at++) {
            for (size_t k = 0; k <= sizeof odd / sizeof odd[0]; k++) {
                /* k == the count: no odd byte (the plain case) */
                if (k == sizeof odd / sizeof odd[0] && at > 0)
                    continue;
                memset(name, 'a' + (int)(len % 26), len);
                size_t n = len;
                if (k < sizeof odd / sizeof odd[0]) {
                    size_t m = strlen(odd[k]);
                    memmove(name + at + m, name + at, len - at);
                    memcpy(name + at, odd[k], m);
                    n += m;
                }
                name[n] = '\0';
                int w = snprintf(line, sizeof line, "{\"type\":\"territory\",\"data\":{\"id\":1,\"name\":\"%s\"}}\n", name);
                const char *path = write_tmp(line, (size_t)w);
                rs_ndjson_reader *r;
                rs_record rec;
                rs_err err;
                assert_int_equal(rs_ndjson_open(&r, path, &err), 0);
                assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
                bool plain = k == sizeof odd / sizeof odd[0];
                if (rec.canonical != plain)
                    fail_msg("\"%s\": canonical %d, want %d", name, rec.canonical, plain);
                const rs_value *v = &rec.entity.v[1];
                assert_int_equal(v->kind, RS_VAL_STR);
                /* The value as decoded: escapes undone, raw bytes kept. */
                size_t want_len = plain ? len : k == 0 || k == 1 || k == 2 || k == 4 ? len + 1 : len + 2;
                assert_int_equal(v->len, want_len);
                rs_ndjson_close(r);
                unlink(path);
            }
        }
    }
}

/* Bytes a writer flushed, for comparing two of them. */
typedef struct membuf {
    char *p;
    size_t len;
} membuf;

static int membuf_write(void *ctx, const char *buf, size_t len)
{
    membuf *m = ctx;
    m->p = realloc(m->p, m->len + len);
    assert_non_null(m->p);
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return 0;
}

/* A canonical line's element (its values' text copied between the keys,
 * 32 bytes at a time where the line goes on) is byte for byte what the
 * general writer makes of the same values: for strings of every length
 * around the copy sizes, in each field, null or not, in both modes. */
static void test_canonical_element_bytes(void **state)
{
    (void)state;
    char name[128], stage[128], line[512];
    for (int compact = 0; compact < 2; compact++) {
        for (size_t len = 0; len <= 100; len++) {
            for (int last = 0; last < 2; last++) {
                memset(name, 'a' + (int)(len % 26), len);
                name[len] = '\0';
                memset(stage, 'S', last ? len : 3);
                stage[last ? len : 3] = '\0';
                /* The closeDate null when last, so the long value sits at
                 * the end of the line. */
                int n = snprintf(line, sizeof line,
                                 "{\"type\":\"opportunity\",\"data\":{\"id\":%zu,\"name\":\"%s\",\"amount\":1234567,"
                                 "\"stage\":\"%s\",\"closeDate\":%s,\"repId\":7,\"accountId\":%zu,"
                                 "\"created_date\":\"%s\"}}\n",
                                 len + 1, name, stage, last ? "null" : "\"2026-01-02\"", 10 * len + 3,
                                 last ? stage : "2025-05-06");
                const char *path = write_tmp(line, (size_t)n);
                rs_ndjson_reader *r;
                rs_record rec;
                rs_err err;
                assert_int_equal(rs_ndjson_open(&r, path, &err), 0);
                assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
                assert_true(rec.canonical);
                membuf a = {0}, b = {0};
                rs_pyj wa, wb;
                assert_int_equal(rs_pyj_init(&wa, compact, membuf_write, &a, NULL, &err), 0);
                assert_int_equal(rs_pyj_init(&wb, compact, membuf_write, &b, NULL, &err), 0);
                for (int k = 0; k < 2; k++) { /* the second with its separator */
                    assert_int_equal(rs_pyj_entity_canonical(&wa, &rec.entity), 0);
                    assert_int_equal(rs_pyj_entity(&wb, &rec.entity), 0);
                }
                assert_int_equal(rs_pyj_flush(&wa), 0);
                assert_int_equal(rs_pyj_flush(&wb), 0);
                if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
                    fail_msg("length %zu, last %d, compact %d:\n%.*s\nwant\n%.*s", len, last, compact, (int)a.len,
                             a.p, (int)b.len, b.p);
                rs_pyj_free(&wa);
                rs_pyj_free(&wb);
                free(a.p);
                free(b.p);
                rs_ndjson_close(r);
                unlink(path);
            }
        }
    }
}

/* A line past 16 MiB fails without reading (or holding) the rest. */
static void test_ndjson_long_line(void **state)
{
    (void)state;
    size_t n = (17u << 20);
    char *big = malloc(n + sizeof HDR + 64);
    memcpy(big, HDR, sizeof HDR - 1);
    size_t k = sizeof HDR - 1;
    k += (size_t)sprintf(big + k, "{\"type\":\"territory\",\"data\":{\"id\":1,\"name\":\"");
    memset(big + k, 'x', n - k);
    big[n] = '\n';
    expect_bad(big, n + 1, 2, "line longer than 16 MiB");
    /* exactly at the limit is fine (and then fails as a JSON problem only) */
    size_t lim = sizeof HDR - 1 + (16u << 20);
    big[lim] = '\n';
    expect_bad(big, lim + 1, 2, "invalid JSON");
    free(big);
}

static void test_type_names(void **state)
{
    (void)state;
    for (int t = 0; t < RS_NTYPES; t++) {
        const char *n = rs_type_name((rs_type)t);
        assert_int_equal(rs_type_parse(n, strlen(n)), t);
    }
    assert_string_equal(rs_type_name(RS_HISTORY), "opportunity_history");
    assert_int_equal(rs_type_parse("rep", 3), RS_REP);
    assert_int_equal(rs_type_parse("reps", 4), -1);
    assert_int_equal(rs_type_parse("re", 2), -1);
    unsigned n;
    const char *const *f = rs_type_fields(RS_ACCOUNT, &n);
    assert_int_equal(n, RS_ACC_NFIELDS);
    assert_string_equal(f[RS_ACC_ANNUALREVENUE], "annualRevenue");
    assert_string_equal(f[RS_ACC_TERRITORYID], "territoryId");
    f = rs_type_fields(RS_OPPORTUNITY, &n);
    assert_int_equal(n, RS_OPP_NFIELDS);
    assert_string_equal(f[RS_OPP_CREATED_DATE], "created_date");
    f = rs_type_fields(RS_HISTORY, &n);
    assert_string_equal(f[RS_HIS_OPPORTUNITY_ID], "opportunity_id");
    f = rs_type_fields(RS_REP, &n);
    assert_string_equal(f[RS_REP_HOMESTATE], "homeState");
}

/* ---- scanner ---- */

static void test_jscan_split_across_calls(void **state)
{
    (void)state;
    /* A 4-byte character and a surrogate-pair escape cut at every offset. */
    const char text[] = "\"\xf0\x9f\x98\x80 \\ud83d\\ude00\"";
    size_t n = sizeof text - 1, bad;
    const char *problem;
    for (size_t cut = 0; cut <= n; cut++) {
        rs_jscan s;
        rs_jscan_reset(&s);
        assert_int_equal(rs_jscan_feed(&s, (const unsigned char *)text, cut, &bad, &problem), 0);
        assert_int_equal(rs_jscan_feed(&s, (const unsigned char *)text + cut, n - cut, &bad, &problem), 0);
        assert_int_equal(rs_jscan_end(&s, &problem), 0);
    }
    rs_jscan s;
    rs_jscan_reset(&s);
    assert_int_equal(rs_jscan_feed(&s, (const unsigned char *)"ab\xe2\x82", 4, &bad, &problem), 0);
    assert_int_equal(rs_jscan_end(&s, &problem), -1);
    rs_jscan_reset(&s);
    assert_int_equal(rs_jscan_feed(&s, (const unsigned char *)"0123456789abcdef\xf5", 17, &bad, &problem), -1);
    assert_int_equal(bad, 16);
}

/* ---- data.json ---- */

static const char DJ_OK[] =
    "{\n  \"schema\": \"revops-agent-skeleton\",\n  \"generated_at\": \"2026-02-19T05:00:09.013131+00:00\",\n"
    "  \"reps\": [\n    {\n      \"id\": 1,\n      \"name\": \"A \\u00e9\",\n      \"homeState\": \"CA\",\n"
    "      \"region\": \"West\",\n      \"quota\": 200000,\n      \"territoryId\": 1\n    }\n  ],\n"
    "  \"accounts\": [],\n  \"opportunities\": [],\n"
    "  \"territories\": [{\"id\": 1, \"name\": \"Construction Territory\"}, {\"id\": 2, \"name\": \"I\"}],\n"
    "  \"opportunity_history\": []\n}";

static void test_djson_good(void **state)
{
    (void)state;
    const char *path = write_tmp(DJ_OK, sizeof DJ_OK - 1);
    rs_djson_reader *r;
    rs_record rec;
    rs_err err;
    assert_int_equal(rs_djson_open(&r, path, &err), 0);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(rs_djson_next(r, &rec, &err), 1);
        assert_int_equal(rec.kind, RS_REC_HEADER);
        assert_string_equal(rec.header.schema, "revops-agent-skeleton");
        assert_string_equal(rec.header.generated_at, "2026-02-19T05:00:09.013131+00:00");
        assert_false(rec.header.has_seed);
        assert_false(rec.header.has_counts);
        assert_int_equal(rs_djson_next(r, &rec, &err), 1);
        assert_int_equal(rec.kind, RS_REC_ENTITY);
        assert_int_equal(rec.entity.type, RS_REP);
        assert_int_equal(rec.line, 5);
        assert_int_equal(rec.entity.v[RS_REP_NAME].len, 4);
        assert_memory_equal(rec.entity.v[RS_REP_NAME].s, "A \xc3\xa9", 4);
        assert_int_equal(rec.entity.v[RS_REP_QUOTA].i, 200000);
        assert_int_equal(rs_djson_next(r, &rec, &err), 1);
        assert_int_equal(rec.entity.type, RS_TERRITORY);
        assert_int_equal(rec.line, 16);
        assert_memory_equal(rec.entity.v[RS_TER_NAME].s, "Construction Territory", 22);
        assert_int_equal(rs_djson_next(r, &rec, &err), 1);
        assert_int_equal(rec.entity.v[RS_TER_ID].i, 2);
        assert_int_equal(rs_djson_next(r, &rec, &err), 0);
        assert_int_equal(rs_djson_next(r, &rec, &err), 0);
        assert_int_equal(rs_djson_rewind(r, &err), 0);
    }
    rs_djson_close(r);
    unlink(path);
}

static void djson_bad(const char *text, size_t len, unsigned line, const char *want)
{
    const char *path = write_tmp(text, len);
    rs_djson_reader *r;
    rs_record rec;
    rs_err err;
    assert_int_equal(rs_djson_open(&r, path, &err), 0);
    int rc;
    while ((rc = rs_djson_next(r, &rec, &err)) == 1)
        ;
    if (rc != RS_EDATA)
        fail_msg("want RS_EDATA for %s, got %d", want, rc);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s:%u: ", path, line);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, want))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err.msg, prefix, want);
    /* the error sticks */
    assert_int_equal(rs_djson_next(r, &rec, &err), RS_EDATA);
    rs_djson_close(r);
    unlink(path);
}
#define DBAD(lit, line, want) djson_bad(lit, sizeof(lit) - 1, line, want)
#define TOP_ARRAYS "\"reps\":[],\"accounts\":[],\"opportunities\":[],\"territories\":[],\"opportunity_history\":[]"

static void test_djson_bad(void **state)
{
    (void)state;
    DBAD("[]", 1, "expected a JSON object, got array");
    DBAD("{\"generated_at\":\"g\",\"schema\":\"s\"}", 1, "expected top-level key \"schema\", got \"generated_at\"");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\",\"reps\":[],\"opportunities\":[]}", 1,
         "expected top-level key \"accounts\", got \"opportunities\"");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\",\"reps\":[]}", 1, "missing top-level key \"accounts\"");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\"," TOP_ARRAYS ",\"extra\":1}", 1,
         "unexpected key \"extra\" after \"opportunity_history\"");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\"," TOP_ARRAYS "} x", 1, "invalid JSON");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\"," TOP_ARRAYS "}{}", 1, "invalid JSON");
    DBAD("{\"schema\":\"s\",\n\"generated_at\":\"g\",\n\"reps\":[", 3, "unexpected end of file");
    DBAD("{\"schema\":1}", 1, "\"schema\" must be a string, got number");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\",\"reps\":{}}", 1, "\"reps\" must be an array, got object");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\",\"reps\":[1]}", 1, "reps: elements must be objects, got number");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\",\"reps\":[],\"accounts\":[],\"opportunities\":[],\n"
         "\"territories\":[\n{\"id\":1}]}",
         3, "territories element: missing field \"name\"");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\",\"reps\":[],\"accounts\":[],\"opportunities\":[],\n"
         "\"territories\":[{\"id\":1,\n\"name\":\"x\",\"x\":1}]}",
         3, "territories element: unknown field \"x\"");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"g\",\"reps\":[],\"accounts\":[],\"opportunities\":[],\n"
         "\"territories\":[{\"id\":true,\"name\":\"x\"}]}",
         2, "field \"id\": expected integer >= 0, got boolean");
    DBAD("{\"schema\":\"s\",\n\n\"generated_at\":\"\xc0\x80\"}", 3, "invalid UTF-8");
    DBAD("{\"schema\":\"s\",\"generated_at\":\"\\udc00\"}", 1, "unpaired UTF-16 surrogate");
    DBAD("{\"schema\":\"s\0\"}", 1, "NUL byte");
}

/* Writes a data.json with many reps whose long, non-ASCII strings cross the
 * reader's 64 KiB chunks at every kind of position, several per record. */
static size_t big_name(size_t i, char *out, bool escaped)
{
    size_t n = 0;
    for (size_t j = 0; j < 20 + i % 37; j++) {
        if (j % 3)
            n += (size_t)sprintf(out + n, "n%zu", j);
        else
            n += (size_t)sprintf(out + n, "%s", escaped ? "\xc3\xa9\\u00e9" : "\xc3\xa9\xc3\xa9");
    }
    return n;
}

static char *big_doc(size_t count, size_t *len)
{
    size_t cap = count * 600 + 1024, n = 0;
    char *d = malloc(cap);
    n += (size_t)sprintf(d + n, "{\"schema\":\"s\",\"generated_at\":\"g\",\"reps\":[");
    for (size_t i = 0; i < count; i++) {
        n += (size_t)sprintf(d + n, "%s{\"id\": %zu, \"name\": \"", i ? ",\n " : "", i + 1);
        n += big_name(i, d + n, true);
        n += (size_t)sprintf(d + n, "\", \"homeState\": \"S%zu\", \"region\": \"", i);
        n += big_name(i + 5, d + n, true);
        n += (size_t)sprintf(d + n, "\", \"quota\": %zu, \"territoryId\": 1}", i * 7);
    }
    n += (size_t)sprintf(d + n, "],\"accounts\":[],\"opportunities\":[],\"territories\":[],"
                                "\"opportunity_history\":[]}\n");
    *len = n;
    return d;
}

static void check_str(const rs_value *v, const char *want, size_t n)
{
    assert_int_equal(v->kind, RS_VAL_STR);
    assert_int_equal(v->len, n);
    assert_memory_equal(v->s, want, n);
}

static void check_big(rs_djson_reader *r, size_t count)
{
    rs_record rec;
    rs_err err;
    char want[1024];
    assert_int_equal(rs_djson_next(r, &rec, &err), 1);
    assert_int_equal(rec.kind, RS_REC_HEADER);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(rs_djson_next(r, &rec, &err), 1);
        assert_int_equal(rec.entity.type, RS_REP);
        assert_int_equal(rec.entity.v[RS_REP_ID].i, (int64_t)i + 1);
        assert_int_equal(rec.line, i + 1);
        check_str(&rec.entity.v[RS_REP_NAME], want, big_name(i, want, false));
        check_str(&rec.entity.v[RS_REP_HOMESTATE], want, (size_t)sprintf(want, "S%zu", i));
        check_str(&rec.entity.v[RS_REP_REGION], want, big_name(i + 5, want, false));
        assert_int_equal(rec.entity.v[RS_REP_QUOTA].i, (int64_t)i * 7);
    }
    assert_int_equal(rs_djson_next(r, &rec, &err), 0);
}

static void test_djson_chunks_and_rewind(void **state)
{
    (void)state;
    size_t len, count = 3000;
    char *doc = big_doc(count, &len);
    assert_true(len > 10 * 65536);
    const char *path = write_tmp(doc, len);
    rs_djson_reader *r;
    rs_err err;
    assert_int_equal(rs_djson_open(&r, path, &err), 0);
    check_big(r, count);
    assert_int_equal(rs_djson_rewind(r, &err), 0);
    check_big(r, count);
    rs_djson_close(r);

    /* A pipe on stdin: rewinding replays the spooled copy. */
    int saved = dup(STDIN_FILENO), pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(pfd[1], doc + off, len - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(pfd[1]);
    dup2(pfd[0], STDIN_FILENO);
    close(pfd[0]);
    assert_int_equal(rs_djson_open(&r, "-", &err), 0);
    /* rewind in the middle of the first pass: the rest is spooled */
    rs_record rec;
    for (int i = 0; i < 100; i++)
        assert_int_equal(rs_djson_next(r, &rec, &err), 1);
    assert_int_equal(rs_djson_rewind(r, &err), 0);
    check_big(r, count);
    assert_int_equal(rs_djson_rewind(r, &err), 0);
    check_big(r, count);
    rs_djson_close(r);
    dup2(saved, STDIN_FILENO);
    close(saved);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unlink(path);
    free(doc);
}

static void test_djson_record_limit(void **state)
{
    (void)state;
    size_t n = 17u << 20;
    char *d = malloc(n + 256);
    size_t k = (size_t)sprintf(d, "{\"schema\":\"s\",\"generated_at\":\"g\",\"reps\":[],\"accounts\":[],"
                                  "\"opportunities\":[],\"territories\":[{\"id\":1,\"name\":\"");
    memset(d + k, 'x', n - k);
    k = n;
    k += (size_t)sprintf(d + k, "\"}],\"opportunity_history\":[]}");
    djson_bad(d, k, 1, "record longer than 16 MiB");
    free(d);
}

/* ---- zstd input ---- */

/* text compressed as nframes frames (cut at arbitrary bytes), optionally
 * after a skippable frame; malloc'd. */
static char *zframes(const char *text, size_t len, int nframes, bool skippable, size_t *zlen)
{
    size_t cap = ZSTD_compressBound(len) + 64 * (size_t)nframes + 64, n = 0;
    char *z = malloc(cap);
    if (skippable) {
        memcpy(z, "\x50\x2a\x4d\x18\x03\x00\x00\x00xyz", 11);
        n = 11;
    }
    size_t off = 0;
    for (int f = 0; f < nframes; f++) {
        size_t piece = f == nframes - 1 ? len - off : len / (size_t)nframes + 3;
        size_t r = ZSTD_compress(z + n, cap - n, text + off, piece, 3);
        assert_false(ZSTD_isError(r));
        n += r;
        off += piece;
    }
    *zlen = n;
    return z;
}

static const char ZTEXT[] = HDR REP "{\"type\":\"territory\",\"data\":{\"id\":1,\"name\":\"Construction Territory\"}}\n";

static void read_ztext(const char *path)
{
    rs_ndjson_reader *r;
    rs_record rec;
    rs_err err;
    assert_int_equal(rs_ndjson_open(&r, path, &err), 0);
    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.kind, RS_REC_HEADER);
    assert_int_equal(rec.header.seed, 123);
    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.entity.type, RS_REP);
    assert_int_equal(rs_ndjson_next(r, &rec, &err), 1);
    assert_int_equal(rec.entity.type, RS_TERRITORY);
    assert_int_equal(rec.line, 3);
    assert_memory_equal(rec.entity.v[RS_TER_NAME].s, "Construction Territory", 22);
    assert_int_equal(rs_ndjson_next(r, &rec, &err), 0);
    rs_ndjson_close(r);
}

static void test_zstd_frames(void **state)
{
    (void)state;
    for (int nf = 1; nf <= 4; nf++) {
        for (int skip = 0; skip < 2; skip++) {
            size_t zl;
            char *z = zframes(ZTEXT, sizeof ZTEXT - 1, nf, skip, &zl);
            const char *path = write_tmp(z, zl);
            read_ztext(path);
            unlink(path);
            free(z);
        }
    }
    /* Fewer than four bytes, or no magic: plain text, passed through. */
    const char *path = write_tmp("\x28\xb5\x2f", 3);
    rs_ndjson_reader *r;
    rs_record rec;
    rs_err err;
    assert_int_equal(rs_ndjson_open(&r, path, &err), 0);
    assert_int_equal(rs_ndjson_next(r, &rec, &err), RS_EDATA);
    assert_non_null(strstr(err.msg, "no newline"));
    rs_ndjson_close(r);
    unlink(path);
}

/* The magic number arrives one byte per read from a pipe on stdin. */
static void test_zstd_pipe_bytewise(void **state)
{
    (void)state;
    size_t zl;
    char *z = zframes(ZTEXT, sizeof ZTEXT - 1, 2, false, &zl);
    int saved = dup(STDIN_FILENO), pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        for (size_t i = 0; i < zl; i++) {
            if (write(pfd[1], z + i, 1) != 1)
                _exit(1);
            if (i < 6)
                usleep(2000);
        }
        _exit(0);
    }
    close(pfd[1]);
    dup2(pfd[0], STDIN_FILENO);
    close(pfd[0]);
    read_ztext("-");
    dup2(saved, STDIN_FILENO);
    close(saved);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(z);
}

/* Reads path to its end; returns the status and leaves the message. */
static int read_all(const char *path, rs_err *err)
{
    rs_ndjson_reader *r;
    rs_record rec;
    assert_int_equal(rs_ndjson_open(&r, path, err), 0);
    int rc;
    while ((rc = rs_ndjson_next(r, &rec, err)) == 1)
        ;
    rs_ndjson_close(r);
    return rc;
}

static void test_zstd_corrupt(void **state)
{
    (void)state;
    /* Enough text for several blocks, so damage lands inside a block. */
    size_t len = 0, cap = 1u << 20;
    char *text = malloc(cap);
    for (unsigned i = 0; len + 200 < cap; i++)
        len += (size_t)sprintf(text + len, "{\"type\":\"territory\",\"data\":{\"id\":%u,\"name\":\"T%u %x\"}}\n", i + 1, i,
                               i * 2654435761u);
    /* With a checksum, as the zstd CLI writes: damage that decodes to
     * garbage is still caught at the frame's end. */
    size_t zl = ZSTD_compressBound(len);
    char *z = malloc(zl);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    zl = ZSTD_compress2(cc, z, zl, text, len);
    assert_false(ZSTD_isError(zl));
    ZSTD_freeCCtx(cc);
    rs_err err;

    const char *path = write_tmp(z, zl / 2);
    assert_int_equal(read_all(path, &err), RS_EDATA);
    assert_non_null(strstr(err.msg, ": corrupt zstd input: truncated"));
    assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
    unlink(path);

    for (size_t i = zl / 2; i < zl / 2 + 32; i++)
        z[i] ^= 0x5a;
    path = write_tmp(z, zl);
    assert_int_equal(read_all(path, &err), RS_EDATA);
    if (!strstr(err.msg, ": corrupt zstd input: "))
        fail_msg("%s", err.msg);
    unlink(path);

    /* A good frame, then bytes that are no frame. */
    char *zz = zframes(text, 1000, 1, false, &zl);
    memcpy(zz + zl, "junk", 4);
    path = write_tmp(zz, zl + 4);
    assert_int_equal(read_all(path, &err), RS_EDATA);
    assert_non_null(strstr(err.msg, ": corrupt zstd input: "));
    unlink(path);

    path = write_tmp("\x28\xb5\x2f\xfd", 4);
    assert_int_equal(read_all(path, &err), RS_EDATA);
    assert_non_null(strstr(err.msg, ": corrupt zstd input: truncated"));
    unlink(path);
    free(zz);
    free(z);
    free(text);
}

/* data.json through zstd: a file, and a pipe whose compressed bytes are
 * spooled so that rewinding works. */
static void test_djson_zstd_rewind(void **state)
{
    (void)state;
    size_t zl;
    char *z = zframes(DJ_OK, sizeof DJ_OK - 1, 3, true, &zl);
    const char *path = write_tmp(z, zl);
    rs_djson_reader *r;
    rs_record rec;
    rs_err err;
    assert_int_equal(rs_djson_open(&r, path, &err), 0);
    for (int pass = 0; pass < 2; pass++) {
        int n = 0;
        while (rs_djson_next(r, &rec, &err) == 1)
            n++;
        assert_int_equal(n, 4);
        assert_int_equal(rs_djson_rewind(r, &err), 0);
    }
    rs_djson_close(r);

    int saved = dup(STDIN_FILENO), pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        _exit(write(pfd[1], z, zl) == (ssize_t)zl ? 0 : 1);
    }
    close(pfd[1]);
    dup2(pfd[0], STDIN_FILENO);
    close(pfd[0]);
    assert_int_equal(rs_djson_open(&r, "-", &err), 0);
    assert_int_equal(rs_djson_next(r, &rec, &err), 1);
    assert_int_equal(rs_djson_rewind(r, &err), 0);
    for (int pass = 0; pass < 2; pass++) {
        int n = 0;
        while (rs_djson_next(r, &rec, &err) == 1)
            n++;
        assert_int_equal(n, 4);
        assert_int_equal(rs_djson_rewind(r, &err), 0);
    }
    rs_djson_close(r);
    dup2(saved, STDIN_FILENO);
    close(saved);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(path);
    free(z);
}

/* ---- the external sorter ---- */

static bool dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = false;
    closedir(d);
    return empty;
}

/* n records with keys from a small range (many ties), each holding its
 * insertion number, sorted with budget; checks order and that ties keep
 * insertion order. big: every 500th record is 300 KiB. */
static void sort_check(size_t n, uint64_t budget, bool big, rs_sorter_stats *st)
{
    char dir[] = "/tmp/rs-test-sorter.XXXXXX";
    assert_non_null(mkdtemp(dir));
    rs_sorter *s;
    rs_err err;
    assert_int_equal(rs_sorter_create(&s, budget, dir, &err), 0);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t key = x % (n / 4 + 1);
        size_t len = big && i % 500 == 7 ? 300u << 10 : 9 + (size_t)(x >> 60);
        char *p;
        assert_int_equal(rs_sorter_reserve(s, len, &p, &err), 0);
        memset(p, (int)(i & 0xff), len);
        memcpy(p, &i, sizeof i);
        rs_sorter_commit(s, key, len);
        /* Spill files are unlinked at once: nothing to see in the directory. */
        if (i % 1000 == 0)
            assert_true(dir_empty(dir));
    }
    assert_int_equal(rs_sorter_finish(s, &err), 0);
    uint64_t key, last_key = 0;
    size_t last_i = 0, count = 0, len;
    const char *rec;
    int rc;
    while ((rc = rs_sorter_next(s, &key, &rec, &len, &err)) == 1) {
        size_t i;
        memcpy(&i, rec, sizeof i);
        assert_true(i < n);
        assert_int_equal((unsigned char)rec[len - 1], i & 0xff);
        if (count) {
            assert_true(key >= last_key);
            if (key == last_key)
                assert_true(i > last_i);
        }
        last_key = key;
        last_i = i;
        count++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(count, n);
    rs_sorter_get_stats(s, st);
    assert_int_equal(st->records, n);
    rs_sorter_free(s);
    assert_true(dir_empty(dir));
    rmdir(dir);
}

static void test_sorter(void **state)
{
    (void)state;
    rs_sorter_stats st;
    sort_check(20000, 256u << 20, false, &st); /* fits: sorted in memory */
    assert_int_equal(st.runs, 0);
    assert_int_equal(st.spilled_bytes, 0);
    sort_check(5000, 64u << 10, false, &st); /* a few runs, one merge */
    assert_true(st.runs > 1 && st.runs <= 8);
    assert_int_equal(st.merge_passes, 0);
    sort_check(200000, 64u << 10, false, &st); /* more runs than one merge takes */
    assert_true(st.runs > 64);
    assert_true(st.merge_passes >= 2);
    sort_check(3000, 64u << 10, true, &st); /* records bigger than the budget */
    assert_true(st.runs >= 6);
    sort_check(1, 64u << 10, false, &st);
    sort_check(0, 64u << 10, false, &st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_all_record_kinds),
        cmocka_unit_test(test_ndjson_header_nulls_and_big_seed),
        cmocka_unit_test(test_ndjson_bad_json),
        cmocka_unit_test(test_ndjson_bad_envelope),
        cmocka_unit_test(test_ndjson_bad_fields),
        cmocka_unit_test(test_ndjson_bad_header_footer),
        cmocka_unit_test(test_ndjson_bad_bytes),
        cmocka_unit_test(test_ndjson_canonical_strings),
        cmocka_unit_test(test_canonical_element_bytes),
        cmocka_unit_test(test_ndjson_long_line),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_jscan_split_across_calls),
        cmocka_unit_test(test_djson_good),
        cmocka_unit_test(test_djson_bad),
        cmocka_unit_test(test_djson_chunks_and_rewind),
        cmocka_unit_test(test_djson_record_limit),
        cmocka_unit_test(test_zstd_frames),
        cmocka_unit_test(test_zstd_pipe_bytewise),
        cmocka_unit_test(test_zstd_corrupt),
        cmocka_unit_test(test_djson_zstd_rewind),
        cmocka_unit_test(test_sorter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
