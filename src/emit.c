/* Writes the planned data set as compact NDJSON (SPEC 2): one buffer, no
 * allocation or printf per record, escaped vocabulary forms copied as is. */
#include "model.h"
#include "vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMIT_CHUNK (1u << 20)
/* A date table covers this many days around the windows; others are formatted. */
#define DATE_TABLE_MAX 16384

typedef struct emitter {
    char *buf;
    size_t len, cap;
    rs_write_fn write;
    void *ctx;
    int rc;
    int32_t date_lo, date_n;
    char *dates; /* date_n entries of 10 bytes */
    uint64_t counts[RS_NTYPES];
} emitter;

static void flush(emitter *e)
{
    if (e->len && !e->rc)
        e->rc = e->write(e->ctx, e->buf, e->len);
    e->len = 0;
}

/* Makes room for n more bytes. */
static void reserve(emitter *e, size_t n)
{
    if (e->len + n <= e->cap)
        return;
    flush(e);
    if (n > e->cap) {
        char *grown = realloc(e->buf, n);
        if (!grown) {
            e->rc = RS_ENOMEM;
            e->len = 0;
            return;
        }
        e->buf = grown;
        e->cap = n;
    }
}

/* Appends without a bounds check: callers reserve a record's worth first. */
static inline void put(emitter *e, const char *s, size_t n)
{
    memcpy(e->buf + e->len, s, n);
    e->len += n;
}

#define PUT_LIT(e, lit) put(e, lit, sizeof(lit) - 1)

static inline void put_tok(emitter *e, const rs_token *t)
{
    put(e, t->esc, t->esc_len);
}

static inline void put_u64(emitter *e, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[19 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(e, tmp + 20 - n, (size_t)n);
}

static inline void put_i64(emitter *e, int64_t v)
{
    if (v < 0) {
        e->buf[e->len++] = '-';
        put_u64(e, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(e, (uint64_t)v);
    }
}

static inline void put_date(emitter *e, int32_t d)
{
    e->buf[e->len++] = '"';
    if (d >= e->date_lo && d - e->date_lo < e->date_n)
        memcpy(e->buf + e->len, e->dates + (size_t)(d - e->date_lo) * 10, 10);
    else
        rs_date_format(d, e->buf + e->len);
    e->len += 10;
    e->buf[e->len++] = '"';
}

static inline void put_bool(emitter *e, bool b)
{
    if (b)
        PUT_LIT(e, "true");
    else
        PUT_LIT(e, "false");
}

static void put_dup(emitter *e, uint64_t dup)
{
    if (dup) {
        PUT_LIT(e, " (");
        put_u64(e, dup);
        e->buf[e->len++] = ')';
    }
}

static size_t max_esc(const rs_list *l)
{
    size_t m = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].esc_len > m)
            m = l->v[i].esc_len;
    return m;
}

/* ---- records ---- */

static void emit_header(emitter *e, const rs_gen *g, const rs_gen_options *o)
{
    char digest[17];
    rs_settings_digest(g->s, g->v, digest);
    reserve(e, 1024);
    PUT_LIT(e, "{\"type\":\"header\",\"data\":{\"schema\":\"" RS_SCHEMA "\",\"generated_at\":\"");
    put(e, o->generated_at, strlen(o->generated_at));
    PUT_LIT(e, "\",\"generator\":\"revops-stream " RS_VERSION "\",\"seed\":");
    put_u64(e, g->s->seed);
    PUT_LIT(e, ",\"as_of\":");
    put_date(e, g->s->as_of);
    PUT_LIT(e, ",\"settings\":\"");
    put(e, digest, 16);
    PUT_LIT(e, "\",\"counts\":{\"reps\":");
    put_u64(e, g->R);
    PUT_LIT(e, ",\"accounts\":");
    put_u64(e, g->A);
    PUT_LIT(e, ",\"opportunities\":");
    put_u64(e, g->N);
    PUT_LIT(e, "},\"shard\":{\"index\":1,\"count\":1}}}\n");
}

static void emit_footer(emitter *e, unsigned mask)
{
    reserve(e, 512);
    PUT_LIT(e, "{\"type\":\"footer\",\"data\":{\"records\":{");
    bool first = true;
    for (int t = 0; t < RS_NTYPES; t++) {
        if (!(mask & (1u << t)))
            continue;
        if (!first)
            e->buf[e->len++] = ',';
        first = false;
        e->buf[e->len++] = '"';
        const char *name = rs_type_name((rs_type)t);
        put(e, name, strlen(name));
        PUT_LIT(e, "\":");
        put_u64(e, e->counts[t]);
    }
    PUT_LIT(e, "},\"shard\":{\"index\":1,\"count\":1}}}\n");
}

static void emit_territories(emitter *e, const rs_gen *g)
{
    size_t need = 128 + max_esc(&g->v->industries);
    for (uint32_t t = 1; t <= g->T && !e->rc; t++) {
        reserve(e, need);
        PUT_LIT(e, "{\"type\":\"territory\",\"data\":{\"id\":");
        put_u64(e, t);
        PUT_LIT(e, ",\"name\":\"");
        put_tok(e, &g->v->industries.v[g->territory_industry[t - 1]]);
        PUT_LIT(e, " Territory\"}}\n");
        e->counts[RS_TERRITORY]++;
    }
}

static void emit_reps(emitter *e, const rs_gen *g)
{
    const rs_vocab *v = g->v;
    size_t need = 256 + max_esc(&v->first_names) + max_esc(&v->last_names) + max_esc(&v->states) +
                  max_esc(&v->regions);
    uint64_t nlast = v->last_names.n;
    for (uint64_t id = 1; id <= g->R && !e->rc; id++) {
        uint32_t territory, region, state;
        rs_model_rep(g, id, &territory, &region, &state);
        uint64_t base, dup;
        rs_model_name(&g->rep_names, id - 1, &base, &dup);
        reserve(e, need);
        PUT_LIT(e, "{\"type\":\"rep\",\"data\":{\"id\":");
        put_u64(e, id);
        PUT_LIT(e, ",\"name\":\"");
        put_tok(e, &v->first_names.v[base / nlast]);
        e->buf[e->len++] = ' ';
        put_tok(e, &v->last_names.v[base % nlast]);
        put_dup(e, dup);
        PUT_LIT(e, "\",\"homeState\":\"");
        put_tok(e, &v->region_states[region].v[state]);
        PUT_LIT(e, "\",\"region\":\"");
        put_tok(e, &v->regions.v[region]);
        PUT_LIT(e, "\",\"quota\":");
        put_i64(e, rs_model_quota(g, territory));
        PUT_LIT(e, ",\"territoryId\":");
        put_u64(e, territory);
        PUT_LIT(e, "}}\n");
        e->counts[RS_REP]++;
    }
}

/* An account's name: "Noun Suffix" from the name permutation, " (n)" past it. */
static void put_account_name_at(emitter *e, const rs_gen *g, uint64_t base, uint64_t dup)
{
    uint64_t nsuf = g->v->suffixes.n;
    put_tok(e, &g->v->nouns.v[base / nsuf]);
    e->buf[e->len++] = ' ';
    put_tok(e, &g->v->suffixes.v[base % nsuf]);
    put_dup(e, dup);
}

static void put_account_name(emitter *e, const rs_gen *g, uint64_t id)
{
    uint64_t base, dup;
    rs_model_name(&g->account_names, id - 1, &base, &dup);
    put_account_name_at(e, g, base, dup);
}

static size_t account_name_max(const rs_gen *g)
{
    return max_esc(&g->v->nouns) + max_esc(&g->v->suffixes) + 32;
}

static void emit_accounts(emitter *e, const rs_gen *g)
{
    const rs_vocab *v = g->v;
    size_t need = 320 + account_name_max(g) + max_esc(&v->states) + max_esc(&v->industries);
    rs_part_iter it;
    rs_part_iter_init(&it, &g->opp_split, 0);
    for (uint64_t id = 1; id <= g->A && !e->rc; id++) {
        rs_account a;
        rs_model_account(g, id, &a);
        a.nopps = rs_part_iter_next(&it);
        uint32_t territory, region, state;
        rs_model_rep(g, a.rep, &territory, &region, &state);
        reserve(e, need);
        PUT_LIT(e, "{\"type\":\"account\",\"data\":{\"id\":");
        put_u64(e, id);
        PUT_LIT(e, ",\"name\":\"");
        put_account_name(e, g, id);
        PUT_LIT(e, "\",\"annualRevenue\":");
        put_i64(e, a.revenue);
        PUT_LIT(e, ",\"numDevelopers\":");
        put_i64(e, a.developers);
        PUT_LIT(e, ",\"state\":\"");
        put_tok(e, &v->region_states[region].v[state]);
        PUT_LIT(e, "\",\"industry\":\"");
        put_tok(e, &v->industries.v[a.industry]);
        PUT_LIT(e, "\",\"isCustomer\":");
        put_bool(e, a.customer);
        PUT_LIT(e, ",\"inPipeline\":");
        put_bool(e, a.nopps > 0);
        PUT_LIT(e, ",\"repId\":");
        put_u64(e, a.rep);
        PUT_LIT(e, ",\"territoryId\":");
        put_u64(e, a.territory);
        PUT_LIT(e, "}}\n");
        e->counts[RS_ACCOUNT]++;
    }
}

static void emit_opportunities(emitter *e, const rs_gen *g)
{
    const rs_vocab *v = g->v;
    const rs_settings *s = g->s;
    size_t max_product = 0;
    for (size_t i = 0; i < s->nproducts; i++) {
        size_t n = strlen(s->products[i]);
        if (n > max_product)
            max_product = n;
    }
    /* Products are escaped once here, not per record. */
    rs_token *products = calloc(s->nproducts, sizeof *products);
    char *esc = malloc(s->nproducts * (6 * max_product + 1));
    if (!products || !esc) {
        free(products);
        free(esc);
        e->rc = RS_ENOMEM;
        return;
    }
    for (size_t i = 0; i < s->nproducts; i++) {
        products[i].esc = esc + i * (6 * max_product + 1);
        products[i].esc_len = rs_json_escape(s->products[i], strlen(s->products[i]), products[i].esc);
    }
    size_t need = 320 + account_name_max(g) + 6 * max_product + max_esc(&v->stages);
    uint64_t np = s->nproducts;
    rs_part_iter it;
    rs_opp_walk walk;
    rs_part_iter_init(&it, &g->opp_split, 0);
    rs_opp_walk_init(&walk, g, 1);
    for (uint64_t aid = 1; aid <= g->A && !e->rc; aid++) {
        rs_account a;
        a.nopps = rs_part_iter_next(&it);
        if (!a.nopps)
            continue;
        rs_model_account(g, aid, &a);
        rs_amounts am;
        rs_model_amounts(g, &a, true, &am);
        uint64_t name_base, name_dup;
        rs_model_name(&g->account_names, aid - 1, &name_base, &name_dup);
        for (uint64_t j = 0; j < a.nopps && !e->rc; j++) {
            rs_opp_core o;
            rs_model_opp(g, &walk, &o);
            reserve(e, need);
            PUT_LIT(e, "{\"type\":\"opportunity\",\"data\":{\"id\":");
            put_u64(e, o.id);
            PUT_LIT(e, ",\"name\":\"");
            put_account_name_at(e, g, name_base, name_dup);
            e->buf[e->len++] = ' ';
            /* Distinct products within an account; " (n)" once they run out. */
            put_tok(e, &products[(a.product_offset + j) % np]);
            put_dup(e, j >= np ? j / np + 1 : 0);
            PUT_LIT(e, "\",\"amount\":");
            put_i64(e, rs_model_amount_final(g, &a, &am, j));
            PUT_LIT(e, ",\"stage\":\"");
            put_tok(e, &v->stages.v[o.stage]);
            PUT_LIT(e, "\",\"closeDate\":");
            if (o.null_close)
                PUT_LIT(e, "null");
            else
                put_date(e, o.close);
            PUT_LIT(e, ",\"repId\":");
            put_u64(e, a.rep);
            PUT_LIT(e, ",\"accountId\":");
            put_u64(e, aid);
            PUT_LIT(e, ",\"created_date\":");
            put_date(e, o.created);
            PUT_LIT(e, "}}\n");
            e->counts[RS_OPPORTUNITY]++;
        }
    }
    free(products);
    free(esc);
}

static void emit_history(emitter *e, const rs_gen *g)
{
    const rs_vocab *v = g->v;
    size_t need = 256 + 2 * max_esc(&v->stages);
    uint64_t next_id = 1;
    rs_opp_walk walk;
    rs_opp_walk_init(&walk, g, 1);
    for (uint64_t id = 1; id <= g->N && !e->rc; id++) {
        rs_opp_core o;
        rs_model_opp(g, &walk, &o);
        rs_event ev[RS_MAX_EVENTS];
        unsigned n = rs_model_history(g, &o, ev);
        for (unsigned i = 0; i < n; i++) {
            reserve(e, need);
            PUT_LIT(e, "{\"type\":\"opportunity_history\",\"data\":{\"id\":");
            put_u64(e, next_id++);
            PUT_LIT(e, ",\"opportunity_id\":");
            put_u64(e, id);
            if (ev[i].is_stage) {
                PUT_LIT(e, ",\"field_name\":\"stage\",\"old_value\":\"");
                put_tok(e, &v->stages.v[ev[i].old_v]);
                PUT_LIT(e, "\",\"new_value\":\"");
                put_tok(e, &v->stages.v[ev[i].new_v]);
                e->buf[e->len++] = '"';
            } else {
                PUT_LIT(e, ",\"field_name\":\"closeDate\",\"old_value\":");
                if (ev[i].old_null)
                    PUT_LIT(e, "null");
                else
                    put_date(e, (int32_t)ev[i].old_v);
                PUT_LIT(e, ",\"new_value\":");
                put_date(e, (int32_t)ev[i].new_v);
            }
            PUT_LIT(e, ",\"change_date\":");
            put_date(e, ev[i].change_date);
            PUT_LIT(e, "}}\n");
            e->counts[RS_HISTORY]++;
        }
    }
}

static int dates_init(emitter *e, const rs_gen *g)
{
    int32_t lo = g->created.start, hi = g->created.end;
    rs_window w[] = {g->recent, g->future, g->hist};
    for (size_t i = 0; i < 3; i++) {
        if (w[i].start < lo)
            lo = w[i].start;
        if (w[i].end > hi)
            hi = w[i].end;
    }
    hi += 130; /* pulled-in close dates stand after the windows */
    if (hi - lo + 1 > DATE_TABLE_MAX)
        hi = lo + DATE_TABLE_MAX - 1;
    e->date_lo = lo;
    e->date_n = hi - lo + 1;
    e->dates = malloc((size_t)e->date_n * 10);
    if (!e->dates)
        return RS_ENOMEM;
    for (int32_t i = 0; i < e->date_n; i++)
        rs_date_format(lo + i, e->dates + (size_t)i * 10);
    return 0;
}

int rs_gen_run(rs_gen *g, const rs_gen_options *o, rs_write_fn write, void *ctx, rs_err *err)
{
    emitter e;
    memset(&e, 0, sizeof e);
    e.write = write;
    e.ctx = ctx;
    e.cap = EMIT_CHUNK;
    e.buf = malloc(e.cap);
    if (!e.buf || dates_init(&e, g)) {
        free(e.buf);
        free(e.dates);
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    unsigned mask = o->types_mask;
    emit_header(&e, g, o);
    if (mask & (1u << RS_TERRITORY))
        emit_territories(&e, g);
    if (mask & (1u << RS_REP))
        emit_reps(&e, g);
    if (mask & (1u << RS_ACCOUNT))
        emit_accounts(&e, g);
    if (mask & (1u << RS_OPPORTUNITY))
        emit_opportunities(&e, g);
    if (mask & (1u << RS_HISTORY))
        emit_history(&e, g);
    if (!e.rc)
        emit_footer(&e, mask);
    flush(&e);
    free(e.buf);
    free(e.dates);
    if (e.rc == RS_ENOMEM)
        snprintf(err->msg, sizeof err->msg, "out of memory");
    return e.rc;
}
