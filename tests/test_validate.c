/* Units for the validator: a hand-built tiny data set that satisfies every
 * rule, then one change at a time, each asserting which rule fires, at which
 * record and how often. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "validate.h"

/* ---- the clean data set ----
 * Territory 1 Construction (reps 1, 3; accounts 1, 3), territory 2
 * Information (rep 2; account 2). Quota bounds 0..1e6 so the formula shows:
 * territory 1 pipeline 9000 / 2 reps * 0.9 = 4050; territory 2 4000 -> 3600.
 * Four opportunities: 0 null and 0 recent close dates expected, all future. */
typedef struct ter_row {
    int64_t id;
    const char *name;
} ter_row;
typedef struct rep_row {
    int64_t id;
    const char *name, *state, *region;
    int64_t quota, tid;
} rep_row;
typedef struct acc_row {
    int64_t id;
    const char *name;
    int64_t revenue, devs;
    const char *state, *industry;
    bool customer, in_pipeline;
    int64_t rep, tid;
} acc_row;
typedef struct opp_row {
    int64_t id;
    const char *name;
    int64_t amount;
    const char *stage, *close;
    int64_t rep, acc;
    const char *created;
} opp_row;
typedef struct his_row {
    int64_t id, opp;
    const char *field, *old, *new_, *change;
} his_row;

typedef struct dataset {
    ter_row ter[2];
    rep_row rep[3];
    acc_row acc[3];
    opp_row opp[4];
    his_row his[5];
    size_t nter, nrep, nacc, nopp, nhis;
} dataset;

static const dataset clean = {
    .ter = {{1, "Construction Territory"}, {2, "Information Territory"}},
    .rep = {{1, "Ann Lee", "CA", "West", 4050, 1},
            {2, "Bob Lee", "NY", "Northeast", 3600, 2},
            {3, "Cat Lee", "OR", "West", 4050, 1}},
    .acc = {{1, "Acme Inc", 1000000, 10, "CA", "Construction", false, true, 1, 1},
            {2, "Apex LLC", 500000, 5, "NY", "Information", true, true, 2, 2},
            {3, "Beacon Co", 300000, 3, "OR", "Construction", false, false, 3, 1}},
    .opp = {{1, "Acme Inc Platform", 4000, "2 - Discovery", "2026-03-15", 1, 1, "2025-06-01"},
            {2, "Acme Inc Analytics", 5000, "0 - New Opportunity", "2026-04-01", 1, 1, "2025-09-01"},
            {3, "Apex LLC Platform", 3000, "7 - Closed Won", "2026-05-01", 2, 2, "2025-01-01"},
            {4, "Apex LLC Support", 1000, "1 - Qualification", "2026-02-20", 2, 2, "2026-01-01"}},
    .his = {{1, 1, "stage", "0 - New Opportunity", "1 - Qualification", "2025-10-05"},
            {2, 1, "stage", "1 - Qualification", "2 - Discovery", "2025-11-01"},
            {3, 1, "closeDate", NULL, "2026-03-01", "2025-10-10"},
            {4, 1, "closeDate", "2026-03-01", "2026-03-15", "2025-12-01"},
            {5, 3, "stage", "6 - Awaiting Signature", "7 - Closed Won", "2026-01-15"}},
    .nter = 2,
    .nrep = 3,
    .nacc = 3,
    .nopp = 4,
    .nhis = 5,
};

typedef struct fixture {
    rs_settings s;
    rs_vocab vocab;
    rs_validator *v;
    dataset d;
    bool lenient;
    unsigned explicit_mask;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    rs_err err;
    assert_non_null(f);
    rs_settings_init(&f->s);
    assert_int_equal(rs_vocab_builtin(&f->vocab, &err), 0);
    assert_int_equal(rs_settings_set(&f->s, "QUOTA_MIN", "0", &err), 0);
    assert_int_equal(rs_settings_set(&f->s, "QUOTA_MAX", "1000000", &err), 0);
    assert_int_equal(rs_settings_set(&f->s, "TOTAL_PIPELINE_MIN", "10000", &err), 0);
    assert_int_equal(rs_settings_set(&f->s, "TOTAL_PIPELINE_MAX", "20000", &err), 0);
    f->d = clean;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rs_validator_free(f->v);
    rs_vocab_free(&f->vocab);
    rs_settings_free(&f->s);
    free(f);
    return 0;
}

static rs_value vint(int64_t i)
{
    rs_value x = {RS_VAL_INT, i, NULL, 0};
    return x;
}

static rs_value vbool(bool b)
{
    rs_value x = {RS_VAL_BOOL, b, NULL, 0};
    return x;
}

/* A string, or null for NULL. */
static rs_value vstr(const char *s)
{
    rs_value x = {s ? RS_VAL_STR : RS_VAL_NULL, 0, s, s ? strlen(s) : 0};
    return x;
}

static void feed(fixture *f, rs_record *r)
{
    rs_err err;
    int rc = rs_validator_feed(f->v, r, &err);
    if (rc)
        fail_msg("feed: %s", err.msg);
}

static void feed_entity(fixture *f, rs_type t, unsigned n, const rs_value *vals)
{
    rs_record r;
    memset(&r, 0, sizeof r);
    r.kind = RS_REC_ENTITY;
    r.entity.type = t;
    r.entity.nfields = n;
    memcpy(r.entity.v, vals, n * sizeof *vals);
    feed(f, &r);
}

static void feed_ter(fixture *f, const ter_row *t)
{
    rs_value v[] = {vint(t->id), vstr(t->name)};
    feed_entity(f, RS_TERRITORY, RS_TER_NFIELDS, v);
}

static void feed_rep(fixture *f, const rep_row *p)
{
    rs_value v[] = {vint(p->id), vstr(p->name), vstr(p->state), vstr(p->region), vint(p->quota), vint(p->tid)};
    feed_entity(f, RS_REP, RS_REP_NFIELDS, v);
}

static void feed_acc(fixture *f, const acc_row *a)
{
    rs_value v[] = {vint(a->id),          vstr(a->name),        vint(a->revenue), vint(a->devs),
                    vstr(a->state),       vstr(a->industry),    vbool(a->customer), vbool(a->in_pipeline),
                    vint(a->rep),         vint(a->tid)};
    feed_entity(f, RS_ACCOUNT, RS_ACC_NFIELDS, v);
}

static void feed_opp(fixture *f, const opp_row *o)
{
    rs_value v[] = {vint(o->id), vstr(o->name), vint(o->amount), vstr(o->stage),
                    vstr(o->close), vint(o->rep), vint(o->acc), vstr(o->created)};
    feed_entity(f, RS_OPPORTUNITY, RS_OPP_NFIELDS, v);
}

static void feed_his(fixture *f, const his_row *h)
{
    rs_value v[] = {vint(h->id), vint(h->opp), vstr(h->field), vstr(h->old), vstr(h->new_), vstr(h->change)};
    feed_entity(f, RS_HISTORY, RS_HIS_NFIELDS, v);
}

static void create(fixture *f)
{
    rs_err err;
    rs_validator_config cfg = {&f->s, &f->vocab, f->explicit_mask, f->lenient};
    assert_int_equal(rs_validator_create(&f->v, &cfg, &err), 0);
}

/* A stream header with the data set's counts (digest "" = not checked). */
static void feed_header(fixture *f, bool with_counts)
{
    rs_record r;
    memset(&r, 0, sizeof r);
    r.kind = RS_REC_HEADER;
    strcpy(r.header.schema, RS_SCHEMA);
    if (with_counts) {
        r.header.has_seed = r.header.has_as_of = r.header.has_counts = true;
        r.header.seed = 7;
        r.header.as_of = RS_BASE_AS_OF;
        r.header.counts[0] = f->d.nrep;
        r.header.counts[1] = f->d.nacc;
        r.header.counts[2] = f->d.nopp;
    }
    feed(f, &r);
}

static void feed_footer(fixture *f)
{
    rs_record r;
    memset(&r, 0, sizeof r);
    r.kind = RS_REC_FOOTER;
    r.footer.records[RS_TERRITORY] = f->d.nter;
    r.footer.records[RS_REP] = f->d.nrep;
    r.footer.records[RS_ACCOUNT] = f->d.nacc;
    r.footer.records[RS_OPPORTUNITY] = f->d.nopp;
    r.footer.records[RS_HISTORY] = f->d.nhis;
    r.footer.present_mask = (1u << RS_NTYPES) - 1;
    feed(f, &r);
}

static void finish(fixture *f)
{
    rs_err err;
    int rc = rs_validator_finish(f->v, &err);
    if (rc)
        fail_msg("finish: %s", err.msg);
}

/* Feeds f->d as a stream (header, territories first, footer). */
static void run_stream(fixture *f)
{
    create(f);
    feed_header(f, true);
    for (size_t i = 0; i < f->d.nter; i++)
        feed_ter(f, &f->d.ter[i]);
    for (size_t i = 0; i < f->d.nrep; i++)
        feed_rep(f, &f->d.rep[i]);
    for (size_t i = 0; i < f->d.nacc; i++)
        feed_acc(f, &f->d.acc[i]);
    for (size_t i = 0; i < f->d.nopp; i++)
        feed_opp(f, &f->d.opp[i]);
    for (size_t i = 0; i < f->d.nhis; i++)
        feed_his(f, &f->d.his[i]);
    feed_footer(f);
    finish(f);
}

/* Feeds f->d in data.json order: territories after opportunities. */
static void run_djson(fixture *f)
{
    create(f);
    feed_header(f, false);
    for (size_t i = 0; i < f->d.nrep; i++)
        feed_rep(f, &f->d.rep[i]);
    for (size_t i = 0; i < f->d.nacc; i++)
        feed_acc(f, &f->d.acc[i]);
    for (size_t i = 0; i < f->d.nopp; i++)
        feed_opp(f, &f->d.opp[i]);
    for (size_t i = 0; i < f->d.nter; i++)
        feed_ter(f, &f->d.ter[i]);
    for (size_t i = 0; i < f->d.nhis; i++)
        feed_his(f, &f->d.his[i]);
    finish(f);
}

static void print_failures(const fixture *f)
{
    for (size_t i = 0; i < rs_validator_nresults(f->v); i++) {
        const rs_vresult *r = rs_validator_result(f->v, i);
        if (r->count)
            print_message("  %s: type %d id %lld x%llu: %s\n", r->rule, r->type, (long long)r->id,
                          (unsigned long long)r->count, r->detail);
    }
}

/* Asserts that rule fired count times, first at (type, id). */
static void expect_rule(const fixture *f, const char *rule, rs_type type, int64_t id, uint64_t count)
{
    const rs_vresult *r = rs_validator_find(f->v, rule);
    assert_non_null(r);
    if (r->count != count || r->type != (int)type || (r->has_id && r->id != id)) {
        print_failures(f);
        fail_msg("%s: got type %d id %lld count %llu, want type %d id %lld count %llu", rule, r->type,
                 (long long)r->id, (unsigned long long)r->count, (int)type, (long long)id,
                 (unsigned long long)count);
    }
}

static void expect_clean_except(const fixture *f, const char *const *allowed)
{
    for (size_t i = 0; i < rs_validator_nresults(f->v); i++) {
        const rs_vresult *r = rs_validator_result(f->v, i);
        bool ok = r->count == 0;
        for (const char *const *a = allowed; !ok && a && *a; a++)
            ok = strcmp(*a, r->rule) == 0;
        if (!ok) {
            print_failures(f);
            fail_msg("rule %s fired unexpectedly: %s", r->rule, r->detail);
        }
    }
}

/* ---- tests ---- */

static void test_clean_stream(void **state)
{
    fixture *f = *state;
    run_stream(f);
    expect_clean_except(f, NULL);
    assert_int_equal(rs_validator_failed(f->v), 0);
    assert_int_equal(rs_validator_records(f->v), 17);
}

static void test_clean_djson(void **state)
{
    fixture *f = *state;
    run_djson(f);
    expect_clean_except(f, NULL);
}

static void test_every_rule_has_a_name(void **state)
{
    fixture *f = *state;
    create(f);
    finish(f);
    assert_true(rs_validator_nresults(f->v) >= 20);
    for (size_t i = 0; i < rs_validator_nresults(f->v); i++) {
        const rs_vresult *r = rs_validator_result(f->v, i);
        assert_non_null(r->rule);
        assert_ptr_equal(rs_validator_find(f->v, r->rule), r);
    }
    assert_null(rs_validator_find(f->v, "no-such-rule"));
}

static void test_ids(void **state)
{
    fixture *f = *state;
    f->d.rep[1].id = 5;
    f->d.his[3].id = 3; /* repeats the previous id */
    run_stream(f);
    const rs_vresult *r = rs_validator_find(f->v, "ids");
    assert_int_equal(r->count, 2);
    expect_rule(f, "ids", RS_REP, 5, 2);
}

static void test_unique_names(void **state)
{
    fixture *f = *state;
    f->d.opp[3].name = f->d.opp[2].name;
    f->d.rep[2].name = f->d.rep[0].name;
    run_djson(f);
    expect_rule(f, "unique-names", RS_REP, 3, 2);
    static const char *const allowed[] = {"unique-names", NULL};
    expect_clean_except(f, allowed);
}

static void test_foreign_keys_first_in_stream_order(void **state)
{
    fixture *f = *state;
    f->d.acc[1].rep = 9;         /* seen while feeding */
    f->d.rep[2].tid = 7;         /* seen at finish, but reps come first */
    f->d.his[4].opp = 40;
    run_stream(f);
    expect_rule(f, "foreign-keys", RS_REP, 3, 3);
}

static void test_foreign_key_to_territory_in_djson(void **state)
{
    fixture *f = *state;
    f->d.acc[2].tid = 3;
    run_djson(f);
    expect_rule(f, "foreign-keys", RS_ACCOUNT, 3, 1);
}

static void test_account_territory_and_industry(void **state)
{
    fixture *f = *state;
    f->d.acc[2].tid = 2; /* owner rep 3 is in territory 1; its industry is Construction */
    run_stream(f);
    expect_rule(f, "account-territory", RS_ACCOUNT, 3, 1);
    expect_rule(f, "account-industry", RS_ACCOUNT, 3, 1);
}

static void test_account_industry_alone(void **state)
{
    fixture *f = *state;
    /* Account 1 claims Information but sits in the Construction territory. */
    f->d.acc[0].industry = "Information";
    run_djson(f);
    expect_rule(f, "account-industry", RS_ACCOUNT, 1, 1);
    static const char *const allowed[] = {"account-industry", NULL};
    expect_clean_except(f, allowed);
}

static void test_account_state(void **state)
{
    fixture *f = *state;
    f->d.acc[0].state = "NV";
    run_stream(f);
    expect_rule(f, "account-state", RS_ACCOUNT, 1, 1);
    static const char *const allowed[] = {"account-state", NULL};
    expect_clean_except(f, allowed);
}

static void test_opportunity_rep(void **state)
{
    fixture *f = *state;
    f->d.opp[1].rep = 3;
    run_stream(f);
    expect_rule(f, "opportunity-rep", RS_OPPORTUNITY, 2, 1);
    static const char *const allowed[] = {"opportunity-rep", NULL};
    expect_clean_except(f, allowed);
}

static void test_in_pipeline(void **state)
{
    fixture *f = *state;
    f->d.acc[2].in_pipeline = true;
    f->d.acc[1].in_pipeline = false;
    run_stream(f);
    expect_rule(f, "in-pipeline", RS_ACCOUNT, 2, 2);
}

static void test_amount_tam_and_total(void **state)
{
    fixture *f = *state;
    f->d.opp[1].amount = 7000; /* account 1: 11000 > TAM 10000 */
    f->d.opp[3].amount = 3000; /* account 2: 6000 > TAM 5000 */
    run_stream(f);
    expect_rule(f, "amount-tam", RS_ACCOUNT, 1, 2);
    expect_rule(f, "quota", RS_REP, 1, 3);
    assert_int_equal(rs_validator_find(f->v, "pipeline-total")->count, 0);
}

static void test_amount_integer(void **state)
{
    fixture *f = *state;
    f->d.opp[3].amount = -1;
    run_stream(f);
    expect_rule(f, "amount-integer", RS_OPPORTUNITY, 4, 1);
}

static void test_pipeline_total(void **state)
{
    fixture *f = *state;
    rs_err err;
    assert_int_equal(rs_settings_set(&f->s, "TOTAL_PIPELINE_MAX", "12999", &err), 0);
    run_stream(f);
    const rs_vresult *r = rs_validator_find(f->v, "pipeline-total");
    assert_int_equal(r->count, 1);
    assert_false(r->has_id);
    assert_non_null(strstr(r->detail, "13000"));
    static const char *const allowed[] = {"pipeline-total", NULL};
    expect_clean_except(f, allowed);
}

static void test_pipeline_default_bounds_use_actual_count(void **state)
{
    fixture *f = *state;
    rs_err err;
    /* Per-opportunity defaults: [2000, 5000] x 4 opportunities. */
    rs_settings_free(&f->s);
    rs_settings_init(&f->s);
    assert_int_equal(rs_settings_set(&f->s, "QUOTA_MIN", "0", &err), 0);
    assert_int_equal(rs_settings_set(&f->s, "QUOTA_MAX", "1000000", &err), 0);
    run_djson(f);
    const rs_vresult *r = rs_validator_find(f->v, "pipeline-total");
    assert_int_equal(r->count, 1);
    assert_non_null(strstr(r->detail, "[360000, 520000]"));
}

static void test_close_date_counts(void **state)
{
    fixture *f = *state;
    rs_err err;
    f->d.opp[3].close = NULL; /* 1 null, none expected */
    f->d.his[4].opp = 3;
    run_stream(f);
    expect_rule(f, "close-date-counts", RS_OPPORTUNITY, 4, 1);
    static const char *const allowed[] = {"close-date-counts", NULL};
    expect_clean_except(f, allowed);

    /* With MISSING_CLOSE_PCT 0.25 that null is exactly right. */
    rs_validator_free(f->v);
    f->v = NULL;
    assert_int_equal(rs_settings_set(&f->s, "MISSING_CLOSE_PCT", "0.25", &err), 0);
    run_stream(f);
    expect_clean_except(f, NULL);

    /* 0.5 wants two nulls: one too few; the excess is in the future. */
    rs_validator_free(f->v);
    f->v = NULL;
    assert_int_equal(rs_settings_set(&f->s, "MISSING_CLOSE_PCT", "0.5", &err), 0);
    run_stream(f);
    expect_rule(f, "close-date-counts", RS_OPPORTUNITY, 3, 1);
}

static void test_close_date_windows(void **state)
{
    fixture *f = *state;
    f->d.opp[2].close = "2026-12-01";
    run_stream(f);
    expect_rule(f, "close-date-windows", RS_OPPORTUNITY, 3, 1);
}

static void test_recent_close_counts(void **state)
{
    fixture *f = *state;
    rs_err err;
    assert_int_equal(rs_settings_set(&f->s, "RECENT_CLOSE_PCT", "0.5", &err), 0);
    f->d.opp[2].close = "2026-01-01";
    f->d.opp[3].close = "2026-02-18";
    f->d.opp[3].created = "2025-12-01";
    run_stream(f);
    expect_clean_except(f, NULL);
}

static void test_created_date(void **state)
{
    fixture *f = *state;
    f->d.opp[3].created = "2026-02-19"; /* as-of itself */
    f->d.opp[2].created = "2024-06-30"; /* before the window */
    run_stream(f);
    expect_rule(f, "created-date", RS_OPPORTUNITY, 3, 2);
}

static void test_as_of_from_header_shifts_windows(void **state)
{
    fixture *f = *state;
    create(f);
    rs_record r;
    memset(&r, 0, sizeof r);
    r.kind = RS_REC_HEADER;
    strcpy(r.header.schema, RS_SCHEMA);
    r.header.has_as_of = true;
    r.header.as_of = RS_BASE_AS_OF + 365;
    feed(f, &r);
    for (size_t i = 0; i < f->d.nter; i++)
        feed_ter(f, &f->d.ter[i]);
    for (size_t i = 0; i < f->d.nrep; i++)
        feed_rep(f, &f->d.rep[i]);
    for (size_t i = 0; i < f->d.nacc; i++)
        feed_acc(f, &f->d.acc[i]);
    for (size_t i = 0; i < f->d.nopp; i++)
        feed_opp(f, &f->d.opp[i]);
    finish(f);
    /* Every close date is now in neither window, and opportunity 1 was
     * created before the shifted window. */
    expect_rule(f, "close-date-windows", RS_OPPORTUNITY, 1, 4);
    expect_rule(f, "created-date", RS_OPPORTUNITY, 1, 2);
}

static void test_dates_after_created(void **state)
{
    fixture *f = *state;
    f->d.opp[3].created = "2026-02-15";
    f->d.his[2].new_ = "2025-05-01"; /* closeDate value before opportunity 1's created_date */
    f->d.his[3].old = "2025-05-01";
    run_stream(f);
    expect_rule(f, "dates-after-created", RS_HISTORY, 3, 2);
    static const char *const allowed[] = {"dates-after-created", "close-date-windows", NULL};
    expect_clean_except(f, allowed);
}

static void test_close_before_created(void **state)
{
    fixture *f = *state;
    rs_err err;
    assert_int_equal(rs_settings_set(&f->s, "RECENT_CLOSE_PCT", "0.25", &err), 0);
    f->d.opp[1].close = "2025-10-15"; /* recent, but before it was created */
    f->d.opp[1].created = "2025-11-01";
    f->d.opp[0].created = "2026-02-18"; /* after its four history change dates */
    run_stream(f);
    expect_rule(f, "dates-after-created", RS_OPPORTUNITY, 2, 5);
    static const char *const allowed[] = {"dates-after-created", NULL};
    expect_clean_except(f, allowed);
}

static void test_history_window(void **state)
{
    fixture *f = *state;
    f->d.his[2].change = "2025-09-30";
    run_stream(f);
    expect_rule(f, "history-window", RS_HISTORY, 3, 1);
    static const char *const allowed[] = {"history-window", NULL};
    expect_clean_except(f, allowed);
}

static void test_quota(void **state)
{
    fixture *f = *state;
    f->d.rep[1].quota = 3601;
    run_djson(f);
    expect_rule(f, "quota", RS_REP, 2, 1);
    static const char *const allowed[] = {"quota", NULL};
    expect_clean_except(f, allowed);
}

static void test_quota_clamp_and_rounding(void **state)
{
    fixture *f = *state;
    rs_err err;
    /* Territory 1: 0.9 * 9000 / 2 = 4050; with multiplier 0.5: 2250; with
     * 0.0001: 0.45 -> 0, clamped up to QUOTA_MIN 1. Territory 2 gets 0.4 ->
     * 0 -> 1 too. */
    assert_int_equal(rs_settings_set(&f->s, "QUOTA_MULTIPLIER_ON_TERRITORY_PIPELINE", "0.0001", &err), 0);
    assert_int_equal(rs_settings_set(&f->s, "QUOTA_MIN", "1", &err), 0);
    f->d.rep[0].quota = f->d.rep[1].quota = f->d.rep[2].quota = 1;
    run_stream(f);
    expect_clean_except(f, NULL);

    /* 0.9 * 5 / 2 = 2.25 -> 2 ; 0.5 * 5 / 1 = 2.5 -> 2 (half to even). */
    rs_validator_free(f->v);
    f->v = NULL;
    assert_int_equal(rs_settings_set(&f->s, "QUOTA_MULTIPLIER_ON_TERRITORY_PIPELINE", "0.0005", &err), 0);
    assert_int_equal(rs_settings_set(&f->s, "QUOTA_MIN", "0", &err), 0);
    assert_int_equal(rs_settings_set(&f->s, "QUOTA_MAX", "3", &err), 0);
    /* t1: 0.0005 * 9000 / 2 = 2.25 -> 2; t2: 0.0005 * 4000 = 2 -> 2 */
    f->d.rep[0].quota = f->d.rep[2].quota = 2;
    f->d.rep[1].quota = 2;
    run_stream(f);
    expect_clean_except(f, NULL);

    /* t2: 0.0005 * 5000 = 2.5 -> 2 (half to even), not 3. */
    rs_validator_free(f->v);
    f->v = NULL;
    f->d.opp[3].amount = 2000;
    f->d.rep[1].quota = 3;
    assert_int_equal(rs_settings_set(&f->s, "TOTAL_PIPELINE_MAX", "30000", &err), 0);
    run_stream(f);
    expect_rule(f, "quota", RS_REP, 2, 1);
}

static void test_region_map(void **state)
{
    fixture *f = *state;
    f->d.rep[1].region = "West";      /* NY is in the Northeast */
    f->d.rep[2].state = "NY";         /* a Northeast rep in a West territory */
    f->d.rep[2].region = "Northeast";
    f->d.acc[2].state = "NY";
    run_stream(f);
    expect_rule(f, "region-map", RS_REP, 2, 2);
    static const char *const allowed[] = {"region-map", NULL};
    expect_clean_except(f, allowed);
}

static void test_unknown_state(void **state)
{
    fixture *f = *state;
    f->d.rep[0].state = "Atlantis";
    f->d.acc[0].state = "Atlantis";
    run_stream(f);
    expect_rule(f, "region-map", RS_REP, 1, 1);
}

static void test_territory_names(void **state)
{
    fixture *f = *state;
    f->d.ter[1].name = "Info Territory";
    run_djson(f);
    /* The bad name, and Information (account 2) left without a territory. */
    expect_rule(f, "territory-names", RS_TERRITORY, 2, 2);
    expect_rule(f, "account-industry", RS_ACCOUNT, 2, 1);
}

static void test_territory_without_accounts(void **state)
{
    fixture *f = *state;
    /* Account 2 becomes Construction: the Information territory has no account. */
    f->d.acc[1].industry = "Construction";
    run_stream(f);
    expect_rule(f, "territory-names", RS_TERRITORY, 2, 1);
}

static void test_two_territories_for_one_industry(void **state)
{
    fixture *f = *state;
    f->d.ter[1].name = "Construction Territory";
    run_stream(f);
    expect_rule(f, "territory-names", RS_TERRITORY, 2, 2);
    expect_rule(f, "unique-names", RS_TERRITORY, 2, 1);
}

static void test_vocabulary(void **state)
{
    fixture *f = *state;
    f->d.opp[2].stage = "9 - Lost";
    f->d.acc[2].industry = "Piracy";
    run_stream(f);
    expect_rule(f, "vocabulary", RS_ACCOUNT, 3, 2);
}

static void test_field_types(void **state)
{
    fixture *f = *state;
    f->d.opp[3].created = "2025-02-30";
    f->d.his[1].field = "amount";
    f->d.acc[2].devs = 0;
    f->d.opp[0].name = "";
    run_stream(f);
    expect_rule(f, "field-types", RS_ACCOUNT, 3, 4);
}

static void test_history_old_value_chain(void **state)
{
    fixture *f = *state;
    f->d.his[3].old = "2026-03-02";
    run_stream(f);
    expect_rule(f, "history-coherence", RS_HISTORY, 4, 1);
    static const char *const allowed[] = {"history-coherence", NULL};
    expect_clean_except(f, allowed);
}

static void test_history_stage_backwards(void **state)
{
    fixture *f = *state;
    f->d.his[4].old = "7 - Closed Won";
    f->d.his[4].new_ = "6 - Awaiting Signature"; /* also ends off the current stage */
    run_stream(f);
    expect_rule(f, "history-coherence", RS_HISTORY, 5, 2);
}

static void test_history_last_value(void **state)
{
    fixture *f = *state;
    f->d.opp[0].close = "2026-03-16";
    run_stream(f);
    expect_rule(f, "history-coherence", RS_HISTORY, 4, 1);
}

static void test_history_not_consecutive(void **state)
{
    fixture *f = *state;
    /* Events 1..4 of opportunity 1 with 5 (opportunity 3) in the middle. */
    his_row a = f->d.his[2], b = f->d.his[3], c = f->d.his[4];
    f->d.his[2] = c;
    f->d.his[3] = a;
    f->d.his[4] = b;
    for (int i = 0; i < 5; i++)
        f->d.his[i].id = i + 1;
    run_stream(f);
    expect_rule(f, "history-coherence", RS_HISTORY, 4, 1);
}

static void test_history_dates_go_back(void **state)
{
    fixture *f = *state;
    f->d.his[1].change = "2025-10-04";
    run_stream(f);
    expect_rule(f, "history-coherence", RS_HISTORY, 2, 1);
}

static void test_history_close_events_for_null_close(void **state)
{
    fixture *f = *state;
    rs_err err;
    assert_int_equal(rs_settings_set(&f->s, "MISSING_CLOSE_PCT", "0.25", &err), 0);
    f->d.opp[0].close = NULL;
    run_stream(f);
    /* The chain ends at a date, the opportunity has none. */
    expect_rule(f, "history-coherence", RS_HISTORY, 4, 1);
    static const char *const allowed[] = {"history-coherence", NULL};
    expect_clean_except(f, allowed);

    rs_validator_free(f->v);
    f->v = NULL;
    f->d.his[3].new_ = NULL;
    run_stream(f);
    expect_rule(f, "history-coherence", RS_HISTORY, 4, 1);
    assert_non_null(strstr(rs_validator_find(f->v, "history-coherence")->detail, "null"));
}

static void test_counts(void **state)
{
    fixture *f = *state;
    create(f);
    rs_record r;
    memset(&r, 0, sizeof r);
    r.kind = RS_REC_HEADER;
    strcpy(r.header.schema, RS_SCHEMA);
    r.header.has_counts = true;
    r.header.counts[0] = 3;
    r.header.counts[1] = 3;
    r.header.counts[2] = 5; /* one opportunity more than there is */
    feed(f, &r);
    for (size_t i = 0; i < f->d.nter; i++)
        feed_ter(f, &f->d.ter[i]);
    for (size_t i = 0; i < f->d.nrep; i++)
        feed_rep(f, &f->d.rep[i]);
    for (size_t i = 0; i < f->d.nacc; i++)
        feed_acc(f, &f->d.acc[i]);
    for (size_t i = 0; i < f->d.nopp; i++)
        feed_opp(f, &f->d.opp[i]);
    f->d.nhis = 6; /* the footer claims one history event more */
    feed_footer(f);
    finish(f);
    /* opportunity 5 is missing; footer: history 1 is the first of 6 missing. */
    expect_rule(f, "counts", RS_OPPORTUNITY, 5, 2);
}

static void test_explicit_counts_override_header(void **state)
{
    fixture *f = *state;
    rs_err err;
    assert_int_equal(rs_settings_set(&f->s, "NUM_REPS", "4", &err), 0);
    f->explicit_mask = RS_GIVEN_REPS;
    run_stream(f);
    expect_rule(f, "counts", RS_REP, 4, 1);
}

static void test_djson_counts_only_when_given(void **state)
{
    fixture *f = *state;
    run_djson(f); /* default settings say 30 reps, but were not given */
    assert_int_equal(rs_validator_find(f->v, "counts")->count, 0);
    rs_validator_free(f->v);
    f->v = NULL;
    f->explicit_mask = RS_GIVEN_REPS;
    run_djson(f);
    expect_rule(f, "counts", RS_REP, 4, 1);
}

static void test_settings_digest(void **state)
{
    fixture *f = *state;
    rs_settings hs = f->s;
    hs.seed = 7;
    hs.num_reps = 3;
    hs.num_accounts = 3;
    hs.num_opportunities = 4;
    for (int round = 0; round < 2; round++) {
        create(f);
        rs_record r;
        memset(&r, 0, sizeof r);
        r.kind = RS_REC_HEADER;
        strcpy(r.header.schema, RS_SCHEMA);
        r.header.has_seed = r.header.has_as_of = r.header.has_counts = true;
        r.header.seed = 7;
        r.header.as_of = RS_BASE_AS_OF;
        r.header.counts[0] = r.header.counts[1] = 3;
        r.header.counts[2] = 4;
        rs_settings_digest(&hs, &f->vocab, r.header.settings);
        if (round == 1)
            r.header.settings[0] = r.header.settings[0] == '0' ? '1' : '0';
        feed(f, &r);
        finish(f);
        const rs_vresult *res = rs_validator_find(f->v, "settings");
        assert_int_equal(res->count, (uint64_t)round);
        if (round == 1)
            assert_int_equal(res->type, RS_VWHERE_HEADER);
        rs_validator_free(f->v);
        f->v = NULL;
    }
}

static void test_explicit_seed_against_header(void **state)
{
    fixture *f = *state;
    rs_err err;
    assert_int_equal(rs_settings_set(&f->s, "SEED", "8", &err), 0);
    f->explicit_mask = RS_GIVEN_SEED;
    run_stream(f); /* the header says seed 7 */
    const rs_vresult *r = rs_validator_find(f->v, "settings");
    assert_int_equal(r->count, 1);
    assert_int_equal(r->type, RS_VWHERE_HEADER);
    assert_non_null(strstr(r->detail, "seed 7"));
}

static void test_shard_header_is_refused(void **state)
{
    fixture *f = *state;
    rs_err err;
    create(f);
    rs_record r;
    memset(&r, 0, sizeof r);
    r.kind = RS_REC_HEADER;
    strcpy(r.header.schema, RS_SCHEMA);
    r.header.shard_index = 2;
    r.header.shard_count = 3;
    assert_int_equal(rs_validator_feed(f->v, &r, &err), RS_EDATA);
    assert_non_null(strstr(err.msg, "shard 2 of 3"));
}

static void test_lenient_makes_formulas_warnings(void **state)
{
    fixture *f = *state;
    f->lenient = true;
    f->d.rep[1].quota = 3601;
    f->d.his[3].old = "2026-03-02";
    f->d.acc[0].state = "NV";
    run_stream(f);
    assert_true(rs_validator_find(f->v, "quota")->warning);
    assert_true(rs_validator_find(f->v, "history-coherence")->warning);
    assert_false(rs_validator_find(f->v, "account-state")->warning);
    assert_int_equal(rs_validator_warned(f->v), 2);
    assert_int_equal(rs_validator_failed(f->v), 1);
}

static void test_structure_errors(void **state)
{
    fixture *f = *state;
    rs_err err;
    create(f);
    feed_header(f, true);
    feed_acc(f, &f->d.acc[0]);
    rs_value v[] = {vint(1), vstr("Ann Lee"), vstr("CA"), vstr("West"), vint(0), vint(1)};
    rs_record r;
    memset(&r, 0, sizeof r);
    r.kind = RS_REC_ENTITY;
    r.entity.type = RS_REP;
    r.entity.nfields = RS_REP_NFIELDS;
    memcpy(r.entity.v, v, sizeof v);
    assert_int_equal(rs_validator_feed(f->v, &r, &err), RS_EDATA);
    assert_non_null(strstr(err.msg, "rep record after account records"));

    rs_record h;
    memset(&h, 0, sizeof h);
    h.kind = RS_REC_HEADER;
    assert_int_equal(rs_validator_feed(f->v, &h, &err), RS_EDATA);

    feed_footer(f);
    r.entity.type = RS_HISTORY;
    assert_int_equal(rs_validator_feed(f->v, &r, &err), RS_EDATA);
    assert_non_null(strstr(err.msg, "after the footer"));
}

static void test_bad_ids_do_not_crash(void **state)
{
    fixture *f = *state;
    f->d.rep[0].tid = -5;
    f->d.acc[0].rep = INT64_MIN;
    f->d.acc[0].tid = INT64_MAX;
    f->d.acc[1].devs = INT64_MAX;
    f->d.opp[0].amount = INT64_MAX;
    f->d.opp[1].acc = 0;
    f->d.his[0].opp = -1;
    f->d.his[1].id = INT64_MIN;
    run_stream(f);
    assert_true(rs_validator_failed(f->v) > 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_clean_stream),
        T(test_clean_djson),
        T(test_every_rule_has_a_name),
        T(test_ids),
        T(test_unique_names),
        T(test_foreign_keys_first_in_stream_order),
        T(test_foreign_key_to_territory_in_djson),
        T(test_account_territory_and_industry),
        T(test_account_industry_alone),
        T(test_account_state),
        T(test_opportunity_rep),
        T(test_in_pipeline),
        T(test_amount_tam_and_total),
        T(test_amount_integer),
        T(test_pipeline_total),
        T(test_pipeline_default_bounds_use_actual_count),
        T(test_close_date_counts),
        T(test_close_date_windows),
        T(test_recent_close_counts),
        T(test_created_date),
        T(test_as_of_from_header_shifts_windows),
        T(test_dates_after_created),
        T(test_close_before_created),
        T(test_history_window),
        T(test_quota),
        T(test_quota_clamp_and_rounding),
        T(test_region_map),
        T(test_unknown_state),
        T(test_territory_names),
        T(test_territory_without_accounts),
        T(test_two_territories_for_one_industry),
        T(test_vocabulary),
        T(test_field_types),
        T(test_history_old_value_chain),
        T(test_history_stage_backwards),
        T(test_history_last_value),
        T(test_history_not_consecutive),
        T(test_history_dates_go_back),
        T(test_history_close_events_for_null_close),
        T(test_counts),
        T(test_explicit_counts_override_header),
        T(test_djson_counts_only_when_given),
        T(test_settings_digest),
        T(test_explicit_seed_against_header),
        T(test_shard_header_is_refused),
        T(test_lenient_makes_formulas_warnings),
        T(test_structure_errors),
        T(test_bad_ids_do_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
