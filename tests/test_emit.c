/* Units for the hot path (SPEC 7): the hand-written formatter's primitives
 * against snprintf and nearbyint, the partition's precomputed splits against
 * its arithmetic, and whole generated streams parsed by yajl as the oracle
 * (every line one JSON object of the SPEC 2 shape, escaped tokens decoding
 * to the vocabulary's text, the same bytes for any -j). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "fmt.h"
#include "model.h"
#include "partition.h"
#include "record.h"
#include "revops/revops.h"
#include "rng.h"

static void check_u64(uint64_t v)
{
    char want[32], got[32 + RS_FMT_SLACK];
    int n = snprintf(want, sizeof want, "%llu", (unsigned long long)v);
    memset(got, 'x', sizeof got);
    char *end = rs_put_u64(got, v);
    assert_int_equal(end - got, n);
    assert_memory_equal(got, want, (size_t)n);
    assert_int_equal(got[n], 'x'); /* nothing written past the digits */
}

static void check_i64(int64_t v)
{
    char want[32], got[32];
    int n = snprintf(want, sizeof want, "%lld", (long long)v);
    char *end = rs_put_i64(got, v);
    assert_int_equal(end - got, n);
    assert_memory_equal(got, want, (size_t)n);
}

static void test_put_integers(void **state)
{
    (void)state;
    /* Every digit count, each power of ten and its neighbours. */
    uint64_t p = 1;
    for (int i = 0; i < 20; i++, p *= 10) {
        check_u64(p);
        check_u64(p - 1);
        check_u64(p + 1);
        check_u64(p * 9 + p - 1 > p ? p * 9 + p - 1 : p);
    }
    check_u64(0);
    check_u64(UINT32_MAX);
    check_u64((uint64_t)UINT32_MAX + 1);
    check_u64(UINT64_MAX);
    for (uint64_t i = 0; i < 100000; i++)
        check_u64(rs_mix64(i) >> (i % 64));
    for (uint64_t v = 0; v < (1u << 20); v++) /* every value below 2^20 */
        check_u64(v);
    check_i64(0);
    check_i64(-1);
    check_i64(INT64_MIN);
    check_i64(INT64_MAX);
    for (uint64_t i = 0; i < 10000; i++)
        check_i64((int64_t)rs_mix64(i) >> (i % 64));
}

static void check_round(double y)
{
    double want = nearbyint(y), got = rs_round_even(y);
    if (isnan(want)) {
        assert_true(isnan(got));
        return;
    }
    assert_memory_equal(&got, &want, sizeof got); /* the same bits, -0.0 too */
}

static void test_round_even(void **state)
{
    (void)state;
    double edge[] = {0.0,      -0.0,      0.5,       1.5,      2.5,      -0.5,     -2.5,     0.49999999999999994,
                     0x1p52,   0x1p52 + 1, 0x1p53,   -0x1p52,  0x1p52 - 0.5, 1e300, -1e300, INFINITY,
                     -INFINITY, NAN,      4503599627370495.5, -4503599627370495.5};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        check_round(edge[i]);
    for (uint64_t i = 0; i < 200000; i++) {
        uint64_t h = rs_mix64(i);
        check_round(ldexp((double)(int64_t)h, -(int)(h % 70)));
        check_round((double)(int64_t)(h >> 20) / 2.0); /* exact halves */
    }
}

/* The table's splits are the arithmetic's, slot for slot. */
static void check_tabulated(uint64_t n, uint64_t total, uint64_t lo, uint64_t hi)
{
    rs_part plain, tab;
    rs_part_init(&plain, rs_key(11, RS_S_OPP_SPLIT), n, total, lo, hi);
    rs_part_init(&tab, rs_key(11, RS_S_OPP_SPLIT), n, total, lo, hi);
    assert_int_equal(rs_part_tabulate(&tab), 0);
    rs_part_iter a, b;
    rs_part_iter_init(&a, &plain, 0);
    rs_part_iter_init(&b, &tab, 0);
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(rs_part_iter_next(&a), rs_part_iter_next(&b));
    for (uint64_t i = 0; i < n; i += n / 97 + 1) {
        uint64_t ba, bb;
        assert_int_equal(rs_part_value(&plain, i, &ba), rs_part_value(&tab, i, &bb));
        assert_int_equal(ba, bb);
    }
    rs_part_free(&tab);
}

static void test_partition_table(void **state)
{
    (void)state;
    check_tabulated(100003, 10000, 0, 1);   /* sparse 0/1 */
    check_tabulated(100003, 90000, 0, 1);   /* dense 0/1 */
    check_tabulated(70001, 100000, 0, 2);   /* the default opportunities */
    check_tabulated(50000, 50000, 0, 2);    /* stage changes */
    check_tabulated(3000, 150000, 1, 100);  /* wide slots */
    check_tabulated(999, 9999999, 0, 5000); /* wider than the table takes */
    check_tabulated(4097, 4097ull * 1000000000ull + 5, 1000000000ull, 1000000002ull); /* a large minimum */
    check_tabulated(2, 1, 0, 1);
    check_tabulated(1, 7, 0, 9);
}

/* ---- streams ---- */

typedef struct sink {
    char *buf;
    size_t len, cap;
} sink;

static int sink_write(void *ctx, const char *buf, size_t len)
{
    sink *s = ctx;
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->buf = realloc(s->buf, s->cap);
        assert_non_null(s->buf);
    }
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    return 0;
}

static void run_stream(const rs_settings *s, const rs_vocab *v, unsigned threads, sink *out)
{
    rs_err err;
    rs_gen *g;
    if (rs_gen_create(&g, s, v, threads, &err) != 0)
        fail_msg("rs_gen_create: %s", err.msg);
    rs_gen_options o;
    memset(&o, 0, sizeof o);
    snprintf(o.generated_at, sizeof o.generated_at, "2026-02-19T05:00:09.013131+00:00");
    o.types_mask = (1u << RS_NTYPES) - 1;
    o.shard_index = o.shard_count = 1;
    o.threads = threads;
    memset(out, 0, sizeof *out);
    assert_int_equal(rs_gen_run(g, &o, sink_write, out, &err), 0);
    rs_gen_free(g);
}

static bool in_list(const rs_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].len == strlen(s) && memcmp(l->v[i].text, s, l->v[i].len) == 0)
            return true;
    return false;
}

static bool is_date(const char *s)
{
    int32_t d;
    return strlen(s) == 10 && rs_date_parse(s, 10, &d) == 0;
}

/* With the escaped products: each decodes back to itself in some name. */
static bool want_products;
static const char *const PRODUCT_TEXT[] = {"Say \"Hi\"", "Back\\slash", "Caf\xc3\xa9", "Tab\tbed", "\xe2\x98\x83Snow"};
static unsigned products_seen;

/* One entity's data object: fields in SPEC order with their JSON types. */
static void check_entity(const rs_vocab *v, rs_type t, yajl_val data, const char *line)
{
    unsigned nf;
    const char *const *names = rs_type_fields(t, &nf);
    if (!YAJL_IS_OBJECT(data) || data->u.object.len != nf)
        fail_msg("fields of: %s", line);
    for (unsigned i = 0; i < nf; i++) {
        const char *k = data->u.object.keys[i];
        yajl_val x = data->u.object.values[i];
        if (strcmp(k, names[i]) != 0)
            fail_msg("field %u is %s, not %s: %s", i, k, names[i], line);
        bool ok;
        if (strstr(k, "Date") || strcmp(k, "created_date") == 0 || strcmp(k, "change_date") == 0)
            ok = YAJL_IS_NULL(x) || (YAJL_IS_STRING(x) && is_date(x->u.string));
        else if (strcmp(k, "old_value") == 0 || strcmp(k, "new_value") == 0)
            ok = YAJL_IS_NULL(x) || YAJL_IS_STRING(x);
        else if (strcmp(k, "isCustomer") == 0 || strcmp(k, "inPipeline") == 0)
            ok = YAJL_IS_TRUE(x) || YAJL_IS_FALSE(x);
        else if (strcmp(k, "name") == 0 || strcmp(k, "homeState") == 0 || strcmp(k, "region") == 0 ||
                 strcmp(k, "state") == 0 || strcmp(k, "industry") == 0 || strcmp(k, "stage") == 0 ||
                 strcmp(k, "field_name") == 0)
            ok = YAJL_IS_STRING(x) && x->u.string[0];
        else
            ok = YAJL_IS_INTEGER(x);
        if (!ok)
            fail_msg("field %s: %s", k, line);
    }
    /* Escaped vocabulary decodes to the vocabulary's own text. */
    yajl_val *val = data->u.object.values;
    if (t == RS_OPPORTUNITY && !in_list(&v->stages, val[RS_OPP_STAGE]->u.string))
        fail_msg("stage: %s", line);
    if (t == RS_ACCOUNT && !in_list(&v->industries, val[RS_ACC_INDUSTRY]->u.string))
        fail_msg("industry: %s", line);
    if (t == RS_REP && !in_list(&v->regions, val[RS_REP_REGION]->u.string))
        fail_msg("region: %s", line);
    for (unsigned i = 0; want_products && t == RS_OPPORTUNITY && i < 5; i++)
        if (strstr(val[RS_OPP_NAME]->u.string, PRODUCT_TEXT[i]))
            products_seen |= 1u << i;
}

/* Every line parses on its own; the footer's counts are the lines'. */
static void check_stream(const rs_vocab *v, const sink *out)
{
    uint64_t seen[RS_NTYPES] = {0};
    const char *p = out->buf, *end = out->buf + out->len;
    char errbuf[256];
    bool footer = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        char *line = strndup(p, (size_t)(nl - p));
        assert_false(footer); /* the footer is last */
        yajl_val root = yajl_tree_parse(line, errbuf, sizeof errbuf);
        if (!root || !YAJL_IS_OBJECT(root) || root->u.object.len != 2)
            fail_msg("not a record (%s): %s", errbuf, line);
        assert_string_equal(root->u.object.keys[0], "type");
        assert_string_equal(root->u.object.keys[1], "data");
        const char *type = YAJL_GET_STRING(root->u.object.values[0]);
        yajl_val data = root->u.object.values[1];
        int t = rs_type_parse(type, strlen(type));
        if (t >= 0) {
            check_entity(v, (rs_type)t, data, line);
            seen[t]++;
        } else if (strcmp(type, "footer") == 0) {
            const char *path[] = {"records", NULL};
            yajl_val rec = yajl_tree_get(data, path, yajl_t_object);
            assert_non_null(rec);
            for (int k = 0; k < RS_NTYPES; k++) {
                const char *q[] = {rs_type_name((rs_type)k), NULL};
                yajl_val c = yajl_tree_get(rec, q, yajl_t_number);
                assert_non_null(c);
                assert_int_equal((uint64_t)YAJL_GET_INTEGER(c), seen[k]);
            }
            footer = true;
        } else {
            assert_string_equal(type, "header");
        }
        yajl_tree_free(root);
        free(line);
        p = nl + 1;
    }
    assert_true(footer);
}

static void check_config(const rs_settings *s, const rs_vocab *v)
{
    sink one, many;
    run_stream(s, v, 1, &one);
    products_seen = 0;
    check_stream(v, &one);
    if (want_products)
        assert_int_equal(products_seen, 31);
    run_stream(s, v, 3, &many); /* worker blocks: the same bytes */
    assert_int_equal(one.len, many.len);
    assert_memory_equal(one.buf, many.buf, one.len);
    free(one.buf);
    free(many.buf);
}

static void set(rs_settings *s, const char *name, const char *value)
{
    rs_err err;
    if (rs_settings_set(s, name, value, &err) != 0)
        fail_msg("%s", err.msg);
}

/* The three counts, as --reps, --accounts and --opportunities set them. */
static void set_counts(rs_settings *s, const char *reps, const char *accounts, const char *opps)
{
    set(s, "NUM_REPS", reps);
    set(s, "NUM_ACCOUNTS", accounts);
    set(s, "NUM_OPPORTUNITIES", opps);
}

static void test_stream_builtin(void **state)
{
    (void)state;
    rs_err err;
    rs_vocab v;
    assert_int_equal(rs_vocab_builtin(&v, &err), 0);
    rs_settings s;
    rs_settings_init(&s);
    check_config(&s, &v); /* the defaults */
    set_counts(&s, "3000", "7000", "10000");
    set(&s, "MISSING_CLOSE_PCT", "0.3");
    check_config(&s, &v);
    /* Products that need escapes, past the name space (" (n)"). */
    set(&s, "PRODUCTS", "('Say \"Hi\"', 'Back\\\\slash', 'Caf\xc3\xa9', 'Tab\tbed', '\xe2\x98\x83Snow')");
    want_products = true;
    set(&s, "OPPS_PER_ACCOUNT_MAX", "12");
    set(&s, "NUM_ACCOUNTS", "1000");
    check_config(&s, &v);
    want_products = false;
    rs_settings_free(&s);
    rs_vocab_free(&v);
}

/* The amounts kept per account (up to RS_AMOUNT_CACHE) equal the ones
 * redrawn one by one, as accounts with more opportunities get them. */
static void test_amounts_kept_and_redrawn(void **state)
{
    (void)state;
    rs_err err;
    rs_vocab v;
    assert_int_equal(rs_vocab_builtin(&v, &err), 0);
    rs_settings s;
    rs_settings_init(&s);
    set_counts(&s, "30", "70", "2100");
    set(&s, "OPPS_PER_ACCOUNT_MAX", "60");
    rs_gen *g;
    if (rs_gen_create(&g, &s, &v, 1, &err) != 0)
        fail_msg("rs_gen_create: %s", err.msg);
    unsigned scaled_down = 0;
    for (uint64_t id = 1; id <= 70; id++) {
        rs_account a;
        rs_model_account(g, id, &a);
        a.nopps = rs_part_value(&g->opp_split, id - 1, NULL);
        rs_amounts kept, redrawn;
        rs_model_amounts(g, &a, true, &kept);
        assert_true(kept.cached || a.nopps == 0);
        redrawn = kept;
        redrawn.cached = false;
        int64_t sum = 0;
        for (uint64_t j = 0; j < a.nopps; j++) {
            int64_t amount = rs_model_amount_final(g, &a, &kept, j);
            assert_int_equal(amount, rs_model_amount_final(g, &a, &redrawn, j));
            sum += amount;
        }
        assert_int_equal(sum, kept.final_sum);
        assert_true(sum <= a.tam);
        scaled_down += kept.raw_sum > a.tam;
    }
    assert_true(scaled_down > 0); /* the scale-down path ran */
    rs_gen_free(g);
    rs_settings_free(&s);
    rs_vocab_free(&v);
}

/* A plan carries the passes' results exactly; one whose check holds but
 * whose pipelines are not the data set's (made by hand with the check
 * recomputed) is refused, not trusted. */
static void test_plan_round_trip_and_forgery(void **state)
{
    (void)state;
    rs_err err;
    rs_vocab v;
    assert_int_equal(rs_vocab_builtin(&v, &err), 0);
    rs_settings s;
    rs_settings_init(&s);
    set_counts(&s, "300", "700", "1000");
    rs_gen *g, *h;
    assert_int_equal(rs_gen_create(&g, &s, &v, 2, &err), 0);
    char *plan = rs_gen_plan(g);
    assert_non_null(plan);
    if (rs_gen_create_planned(&h, &s, &v, 1, plan, strlen(plan), &err) != 0)
        fail_msg("rs_gen_create_planned: %s", err.msg);
    assert_true(h->k == g->k);
    assert_int_equal(h->attempt, g->attempt);
    assert_int_equal(h->pipeline_total, g->pipeline_total);
    assert_int_equal(h->T, g->T);
    assert_memory_equal(h->territory_pipeline, g->territory_pipeline, g->T * sizeof *g->territory_pipeline);
    rs_gen_free(h);
    free(plan);
    /* A total that is not the sum of the pipelines. */
    g->pipeline_total += 1;
    plan = rs_gen_plan(g);
    assert_int_equal(rs_gen_create_planned(&h, &s, &v, 1, plan, strlen(plan), &err), RS_EDATA);
    assert_non_null(strstr(err.msg, "do not fit"));
    free(plan);
    assert_int_equal(rs_gen_create_planned(&h, &s, &v, 1, "", 0, &err), RS_EDATA);
    rs_gen_free(g);
    rs_settings_free(&s);
    rs_vocab_free(&v);
}

static void test_stream_utf8_vocab(void **state)
{
    (void)state;
    rs_err err;
    rs_vocab v;
    if (rs_vocab_load_dir(&v, "tests/vocab-utf8", &err) != 0)
        fail_msg("%s", err.msg);
    rs_settings s;
    rs_settings_init(&s);
    set_counts(&s, "900", "2100", "3000");
    check_config(&s, &v);
    rs_settings_free(&s);
    rs_vocab_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_integers),
        cmocka_unit_test(test_round_even),
        cmocka_unit_test(test_partition_table),
        cmocka_unit_test(test_amounts_kept_and_redrawn),
        cmocka_unit_test(test_plan_round_trip_and_forgery),
        cmocka_unit_test(test_stream_builtin),
        cmocka_unit_test(test_stream_utf8_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
