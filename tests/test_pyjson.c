/* Units for the data.json writer: Python's json module is the oracle. Every
 * expected string below was produced by Python 3.11 (json.dumps with
 * ensure_ascii, with and without indent=2) and pasted here as bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson.h"

static const char PY_FULL_INDENT[] =
    "{\n"
    "  \"schema\": \"revops-agent-skeleton\",\n"
    "  \"generated_at\": \"2026-02-19T05:00:09.013131+00:00\",\n"
    "  \"reps\": [\n"
    "    {\n"
    "      \"id\": 1,\n"
    "      \"name\": \"Zo\\u00eb \\\"Q\\\" O'Neil\",\n"
    "      \"homeState\": \"CA\",\n"
    "      \"region\": \"West\",\n"
    "      \"quota\": 200000,\n"
    "      \"territoryId\": 2\n"
    "    },\n"
    "    {\n"
    "      \"id\": 2,\n"
    "      \"name\": \"Bo\\tB\",\n"
    "      \"homeState\": \"NY\",\n"
    "      \"region\": \"Northeast\",\n"
    "      \"quota\": -5,\n"
    "      \"territoryId\": 1\n"
    "    }\n"
    "  ],\n"
    "  \"accounts\": [\n"
    "    {\n"
    "      \"id\": 1,\n"
    "      \"name\": \"Acme \\ud83d\\ude80 Inc\",\n"
    "      \"annualRevenue\": 9223372036854775807,\n"
    "      \"numDevelopers\": 1,\n"
    "      \"state\": \"CA\",\n"
    "      \"industry\": \"Information\",\n"
    "      \"isCustomer\": true,\n"
    "      \"inPipeline\": false,\n"
    "      \"repId\": 1,\n"
    "      \"territoryId\": 2\n"
    "    }\n"
    "  ],\n"
    "  \"opportunities\": [\n"
    "    {\n"
    "      \"id\": 1,\n"
    "      \"name\": \"Acme Widget\",\n"
    "      \"amount\": 0,\n"
    "      \"stage\": \"0 - New Opportunity\",\n"
    "      \"closeDate\": null,\n"
    "      \"repId\": 1,\n"
    "      \"accountId\": 1,\n"
    "      \"created_date\": \"2025-01-02\"\n"
    "    }\n"
    "  ],\n"
    "  \"territories\": [\n"
    "    {\n"
    "      \"id\": 1,\n"
    "      \"name\": \"Construction Territory\"\n"
    "    },\n"
    "    {\n"
    "      \"id\": 2,\n"
    "      \"name\": \"Information Territory\"\n"
    "    }\n"
    "  ],\n"
    "  \"opportunity_history\": []\n"
    "}";
static const char PY_FULL_COMPACT[] =
    "{\"schema\": \"revops-agent-skeleton\", \"generated_at\": \"2026-02-19T05:00:09.013131+00:00\", \"reps\": [{\"id\": 1, \"name\": \"Zo\\u00eb \\\"Q\\\" O'Neil\", \"homeState\": \"CA\", \"region\": \"West\", \"quota\": 200000, \"territoryId\": 2}, {\"id\": 2, \"name\": \"Bo\\tB\", \"homeState\": \"NY\", \"region\": \"Northeast\", \"quota\": -5, \"territoryId\": 1}], \"accounts\": [{\"id\": 1, \"name\": \"Acme \\ud83d\\ude80 Inc\", \"annualRevenue\": 9223372036854775807, \"numDevelopers\": 1, \"state\": \"CA\", \"industry\": \"Information\", \"isCustomer\": true, \"inPipeline\": false, \"repId\": 1, \"territoryId\": 2}], \"opportunities\": [{\"id\": 1, \"name\": \"Acme Widget\", \"amount\": 0, \"stage\": \"0 - New Opportunity\", \"closeDate\": null, \"repId\": 1, \"accountId\": 1, \"created_date\": \"2025-01-02\"}], \"territories\": [{\"id\": 1, \"name\": \"Construction Territory\"}, {\"id\": 2, \"name\": \"Information Territory\"}], \"opportunity_history\": []}";
static const char PY_EMPTY_INDENT[] =
    "{\n"
    "  \"schema\": \"s\",\n"
    "  \"generated_at\": \"g\",\n"
    "  \"reps\": [],\n"
    "  \"accounts\": [],\n"
    "  \"opportunities\": [],\n"
    "  \"territories\": [],\n"
    "  \"opportunity_history\": [\n"
    "    {\n"
    "      \"id\": 7,\n"
    "      \"opportunity_id\": 3,\n"
    "      \"field_name\": \"closeDate\",\n"
    "      \"old_value\": null,\n"
    "      \"new_value\": \"2026-03-01\",\n"
    "      \"change_date\": \"2025-11-18\"\n"
    "    }\n"
    "  ]\n"
    "}";
static const char PY_EMPTY_COMPACT[] =
    "{\"schema\": \"s\", \"generated_at\": \"g\", \"reps\": [], \"accounts\": [], \"opportunities\": [], \"territories\": [], \"opportunity_history\": [{\"id\": 7, \"opportunity_id\": 3, \"field_name\": \"closeDate\", \"old_value\": null, \"new_value\": \"2026-03-01\", \"change_date\": \"2025-11-18\"}]}";

/* ---- escaping ---- */

static void check_escape(const char *in, size_t n, const char *want)
{
    char *out = malloc(RS_ESC_MAX_PER_BYTE * n + 3);
    out[0] = '"';
    size_t k = rs_pyj_escape(out + 1, in, n);
    assert_true(k <= RS_ESC_MAX_PER_BYTE * n);
    out[k + 1] = '"';
    out[k + 2] = '\0';
    assert_string_equal(out, want);
    free(out);
}

static void test_every_control_character(void **state)
{
    (void)state;
    char in[33];
    for (int i = 0; i < 32; i++)
        in[i] = (char)i;
    in[32] = 0x7f;
    /* json.dumps("".join(map(chr, range(32))) + "\x7f") */
    check_escape(in, sizeof in,
                 "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e"
                 "\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b"
                 "\\u001c\\u001d\\u001e\\u001f\\u007f\"");
}

static void test_quotes_backslash_printable(void **state)
{
    (void)state;
    /* json.dumps('a"b\\c/d e~'): '/' and the rest of 0x20..0x7e stay */
    check_escape("a\"b\\c/d e~", 10, "\"a\\\"b\\\\c/d e~\"");
    char all[95];
    for (int i = 0; i < 95; i++)
        all[i] = (char)(0x20 + i);
    char want[200], *w = want;
    *w++ = '"';
    for (int i = 0; i < 95; i++) {
        if (all[i] == '"' || all[i] == '\\')
            *w++ = '\\';
        *w++ = all[i];
    }
    *w++ = '"';
    *w = '\0';
    check_escape(all, sizeof all, want);
    check_escape("", 0, "\"\"");
}

static void test_utf8_two_three_four_bytes(void **state)
{
    (void)state;
    /* U+00E9 U+20AC U+1F600 U+FFFF U+10000 U+10FFFF U+0080 U+07FF U+0800 */
    static const char in[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"
                             "\xc2\x80\xdf\xbf\xe0\xa0\x80";
    check_escape(in, sizeof in - 1,
                 "\"\\u00e9\\u20ac\\ud83d\\ude00\\uffff\\ud800\\udc00\\udbff\\udfff\\u0080\\u07ff\\u0800\"");
}

/* ---- the writer ---- */

typedef struct membuf {
    char *p;
    size_t len, cap;
    int fail_after; /* fail the Nth write (0: never) */
    int writes;
    rs_err err;
} membuf;

static int mem_write(void *ctx, const char *buf, size_t len)
{
    membuf *m = ctx;
    if (m->fail_after && ++m->writes >= m->fail_after) {
        snprintf(m->err.msg, sizeof m->err.msg, "sink: disk full");
        return RS_EIO;
    }
    if (m->len + len + 1 > m->cap) {
        m->cap = (m->len + len + 1) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    m->p[m->len] = '\0';
    return 0;
}

static const rs_err *mem_err(const void *ctx)
{
    return &((const membuf *)ctx)->err;
}

static rs_value vi(int64_t i)
{
    rs_value v = {RS_VAL_INT, i, NULL, 0};
    return v;
}

static rs_value vs(const char *s)
{
    rs_value v = {RS_VAL_STR, 0, s, strlen(s)};
    return v;
}

static rs_value vb(bool b)
{
    rs_value v = {RS_VAL_BOOL, b, NULL, 0};
    return v;
}

static rs_value vnull(void)
{
    rs_value v = {RS_VAL_NULL, 0, NULL, 0};
    return v;
}

static rs_entity ent(rs_type t, unsigned n, const rs_value *v)
{
    rs_entity e;
    memset(&e, 0, sizeof e);
    e.type = t;
    e.nfields = n;
    memcpy(e.v, v, n * sizeof *v);
    return e;
}

/* Writes the payload of PY_FULL_*; territories go through a second writer
 * and rs_pyj_raw_elements, as merge does. */
static void write_full(bool compact, membuf *m)
{
    rs_pyj w, tw;
    rs_err err;
    membuf tm = {0};
    assert_int_equal(rs_pyj_init(&w, compact, mem_write, m, mem_err, &err), 0);
    assert_int_equal(rs_pyj_init(&tw, compact, mem_write, &tm, mem_err, &err), 0);
    const char *schema = "revops-agent-skeleton", *ga = "2026-02-19T05:00:09.013131+00:00";
    assert_int_equal(rs_pyj_begin(&w, schema, strlen(schema), ga, strlen(ga)), 0);

    rs_value t1[] = {vi(1), vs("Construction Territory")}, t2[] = {vi(2), vs("Information Territory")};
    rs_entity te1 = ent(RS_TERRITORY, 2, t1), te2 = ent(RS_TERRITORY, 2, t2);
    assert_int_equal(rs_pyj_entity(&tw, &te1), 0);
    assert_int_equal(rs_pyj_entity(&tw, &te2), 0);
    assert_int_equal(rs_pyj_flush(&tw), 0);

    assert_int_equal(rs_pyj_array_begin(&w, "reps"), 0);
    rs_value r1[] = {vi(1), vs("Zo\xc3\xab \"Q\" O'Neil"), vs("CA"), vs("West"), vi(200000), vi(2)};
    rs_value r2[] = {vi(2), vs("Bo\tB"), vs("NY"), vs("Northeast"), vi(-5), vi(1)};
    rs_entity e = ent(RS_REP, 6, r1);
    assert_int_equal(rs_pyj_entity(&w, &e), 0);
    e = ent(RS_REP, 6, r2);
    assert_int_equal(rs_pyj_entity(&w, &e), 0);
    assert_int_equal(rs_pyj_array_end(&w), 0);

    assert_int_equal(rs_pyj_array_begin(&w, "accounts"), 0);
    rs_value a1[] = {vi(1),  vs("Acme \xf0\x9f\x9a\x80 Inc"), vi(INT64_MAX), vi(1), vs("CA"), vs("Information"),
                     vb(1), vb(0), vi(1), vi(2)};
    e = ent(RS_ACCOUNT, 10, a1);
    assert_int_equal(rs_pyj_entity(&w, &e), 0);
    assert_int_equal(rs_pyj_array_end(&w), 0);

    assert_int_equal(rs_pyj_array_begin(&w, "opportunities"), 0);
    rs_value o1[] = {vi(1), vs("Acme Widget"), vi(0), vs("0 - New Opportunity"), vnull(), vi(1), vi(1),
                     vs("2025-01-02")};
    e = ent(RS_OPPORTUNITY, 8, o1);
    assert_int_equal(rs_pyj_entity(&w, &e), 0);
    assert_int_equal(rs_pyj_array_end(&w), 0);

    assert_int_equal(rs_pyj_array_begin(&w, "territories"), 0);
    assert_int_equal(rs_pyj_raw_elements(&w, tm.p, tm.len, 2), 0);
    assert_int_equal(rs_pyj_array_end(&w), 0);
    assert_int_equal(rs_pyj_array_begin(&w, "opportunity_history"), 0);
    assert_int_equal(rs_pyj_array_end(&w), 0);
    assert_int_equal(rs_pyj_end(&w), 0);
    assert_int_equal(rs_pyj_flush(&w), 0);
    rs_pyj_free(&w);
    rs_pyj_free(&tw);
    free(tm.p);
}

static void test_full_document_indent(void **state)
{
    (void)state;
    membuf m = {0};
    write_full(false, &m);
    assert_string_equal(m.p, PY_FULL_INDENT);
    free(m.p);
}

static void test_full_document_compact(void **state)
{
    (void)state;
    membuf m = {0};
    write_full(true, &m);
    assert_string_equal(m.p, PY_FULL_COMPACT);
    free(m.p);
}

static void write_empty(bool compact, membuf *m)
{
    rs_pyj w;
    rs_err err;
    assert_int_equal(rs_pyj_init(&w, compact, mem_write, m, mem_err, &err), 0);
    assert_int_equal(rs_pyj_begin(&w, "s", 1, "g", 1), 0);
    static const char *const keys[] = {"reps", "accounts", "opportunities", "territories"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rs_pyj_array_begin(&w, keys[i]), 0);
        /* zero pre-formatted elements leave the array empty */
        assert_int_equal(rs_pyj_raw_elements(&w, NULL, 0, 0), 0);
        assert_int_equal(rs_pyj_array_end(&w), 0);
    }
    assert_int_equal(rs_pyj_array_begin(&w, "opportunity_history"), 0);
    rs_value h[] = {vi(7), vi(3), vs("closeDate"), vnull(), vs("2026-03-01"), vs("2025-11-18")};
    rs_entity e = ent(RS_HISTORY, 6, h);
    assert_int_equal(rs_pyj_entity(&w, &e), 0);
    assert_int_equal(rs_pyj_array_end(&w), 0);
    assert_int_equal(rs_pyj_end(&w), 0);
    assert_int_equal(rs_pyj_flush(&w), 0);
    rs_pyj_free(&w);
}

static void test_empty_arrays(void **state)
{
    (void)state;
    membuf m = {0};
    write_empty(false, &m);
    assert_string_equal(m.p, PY_EMPTY_INDENT);
    m.len = 0;
    write_empty(true, &m);
    assert_string_equal(m.p, PY_EMPTY_COMPACT);
    free(m.p);
}

/* A string far longer than the writer's escape piece, with multi-byte
 * characters straddling every piece boundary, and enough records to flush
 * several times: the bytes must not change. */
static void test_long_strings_and_flushes(void **state)
{
    (void)state;
    const size_t n = 100000;
    char *s = malloc(n + 1);
    size_t k = 0;
    /* 'a' then a 4-byte character, repeated, offset so boundaries vary */
    while (k + 5 <= n) {
        s[k++] = 'a';
        memcpy(s + k, "\xf0\x9f\x98\x80", 4);
        k += 4;
    }
    s[k] = '\0';
    size_t reps = k / 5;
    char *want = malloc(reps * 13 + 64);
    char *w = want;
    *w++ = '"';
    for (size_t i = 0; i < reps; i++) {
        memcpy(w, "a\\ud83d\\ude00", 13);
        w += 13;
    }
    *w++ = '"';
    *w = '\0';

    membuf m = {0};
    rs_pyj pw;
    rs_err err;
    assert_int_equal(rs_pyj_init(&pw, true, mem_write, &m, mem_err, &err), 0);
    assert_int_equal(rs_pyj_array_begin(&pw, "territories"), 0);
    const int count = 40; /* 40 * ~1.3 MB of escaped text: many flushes */
    for (int i = 0; i < count; i++) {
        rs_value t[] = {vi(i + 1), {RS_VAL_STR, 0, s, k}};
        rs_entity e = ent(RS_TERRITORY, 2, t);
        assert_int_equal(rs_pyj_entity(&pw, &e), 0);
    }
    assert_int_equal(rs_pyj_flush(&pw), 0);
    rs_pyj_free(&pw);

    /* ', "territories": [' then elements '{"id": N, "name": "..."}' joined by ', ' */
    const char *p = m.p;
    const char *lead = ", \"territories\": [";
    assert_memory_equal(p, lead, strlen(lead));
    p += strlen(lead);
    for (int i = 0; i < count; i++) {
        char pre[64];
        int pl = snprintf(pre, sizeof pre, "%s{\"id\": %d, \"name\": ", i ? ", " : "", i + 1);
        assert_memory_equal(p, pre, (size_t)pl);
        p += pl;
        assert_memory_equal(p, want, strlen(want));
        p += strlen(want);
        assert_int_equal(*p, '}');
        p++;
    }
    assert_int_equal((size_t)(p - m.p), m.len);
    free(m.p);
    free(s);
    free(want);
}

static void test_sink_error_is_sticky(void **state)
{
    (void)state;
    membuf m = {0};
    m.fail_after = 1;
    rs_pyj w;
    rs_err err;
    assert_int_equal(rs_pyj_init(&w, false, mem_write, &m, mem_err, &err), 0);
    assert_int_equal(rs_pyj_begin(&w, "s", 1, "g", 1), 0);
    assert_int_equal(rs_pyj_flush(&w), RS_EIO);
    assert_string_equal(w.err.msg, "sink: disk full");
    assert_int_equal(rs_pyj_array_begin(&w, "reps"), RS_EIO);
    assert_int_equal(rs_pyj_end(&w), RS_EIO);
    rs_pyj_free(&w);
    free(m.p);
}

static void test_integers(void **state)
{
    (void)state;
    char b[32];
    b[rs_fmt_i64(b, 0)] = '\0';
    assert_string_equal(b, "0");
    b[rs_fmt_i64(b, -1)] = '\0';
    assert_string_equal(b, "-1");
    b[rs_fmt_i64(b, 1234567890123LL)] = '\0';
    assert_string_equal(b, "1234567890123");
    b[rs_fmt_i64(b, INT64_MAX)] = '\0';
    assert_string_equal(b, "9223372036854775807");
    b[rs_fmt_i64(b, INT64_MIN)] = '\0';
    assert_string_equal(b, "-9223372036854775808");
    b[rs_fmt_u64(b, UINT64_MAX)] = '\0';
    assert_string_equal(b, "18446744073709551615");
    b[rs_fmt_u64(b, 10)] = '\0';
    assert_string_equal(b, "10");
}

/* ---- spool ---- */

static void test_spool_memory_then_file(void **state)
{
    (void)state;
    rs_spool sp;
    rs_spool_init(&sp, 1000); /* small budget: spills to a temp file */
    char line[100];
    membuf want = {0}, got = {0};
    for (int i = 0; i < 200; i++) {
        int n = snprintf(line, sizeof line, "element %d;", i);
        assert_int_equal(rs_spool_write(&sp, line, (size_t)n), 0);
        mem_write(&want, line, (size_t)n);
    }
    assert_true(sp.fd >= 0);
    rs_err err;
    assert_int_equal(rs_spool_replay(&sp, mem_write, &got, &err), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.p, want.p, want.len);
    /* replaying twice gives the same bytes */
    got.len = 0;
    assert_int_equal(rs_spool_replay(&sp, mem_write, &got, &err), 0);
    assert_int_equal(got.len, want.len);
    rs_spool_free(&sp);

    rs_spool_init(&sp, 1 << 20);
    assert_int_equal(rs_spool_write(&sp, "abc", 3), 0);
    assert_true(sp.fd < 0);
    got.len = 0;
    assert_int_equal(rs_spool_replay(&sp, mem_write, &got, &err), 0);
    assert_int_equal(got.len, 3);
    rs_spool_free(&sp);
    free(want.p);
    free(got.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_control_character),
        cmocka_unit_test(test_quotes_backslash_printable),
        cmocka_unit_test(test_utf8_two_three_four_bytes),
        cmocka_unit_test(test_full_document_indent),
        cmocka_unit_test(test_full_document_compact),
        cmocka_unit_test(test_empty_arrays),
        cmocka_unit_test(test_long_strings_and_flushes),
        cmocka_unit_test(test_sink_error_is_sticky),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_spool_memory_then_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
