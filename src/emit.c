/* Formats records as compact NDJSON (SPEC 2): escaped vocabulary forms
 * copied as is, integers and dates without printf. */
#include "emit.h"
#include "vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMIT_CHUNK (1u << 20)
#define BLOCK_START (256u << 10)

typedef rs_emitter emitter;

int rs_emitter_init(rs_emitter *e, const rs_gen *g, rs_write_fn write, void *ctx)
{
    memset(e, 0, sizeof *e);
    e->g = g;
    e->write = write;
    e->ctx = ctx;
    e->cap = write ? EMIT_CHUNK : BLOCK_START;
    e->buf = malloc(e->cap);
    return e->buf ? 0 : RS_ENOMEM;
}

void rs_emitter_flush(rs_emitter *e)
{
    if (e->len && !e->rc && e->write)
        e->rc = e->write(e->ctx, e->buf, e->len);
    if (e->write)
        e->len = 0;
}

void rs_emitter_free(rs_emitter *e)
{
    free(e->buf);
    e->buf = NULL;
}

/* Makes room for n more bytes: a streaming emitter writes its chunk out, a
 * block emitter grows. */
static void reserve(emitter *e, size_t n)
{
    if (e->len + n <= e->cap)
        return;
    rs_emitter_flush(e);
    if (e->len + n > e->cap) {
        size_t cap = e->cap;
        while (cap < e->len + n)
            cap *= 2;
        char *grown = realloc(e->buf, cap);
        if (!grown) {
            e->rc = RS_ENOMEM;
            e->len = 0;
            return;
        }
        e->buf = grown;
        e->cap = cap;
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
    const rs_gen *g = e->g;
    e->buf[e->len++] = '"';
    if (d >= g->date_lo && d - g->date_lo < g->date_n)
        memcpy(e->buf + e->len, g->dates + (size_t)(d - g->date_lo) * 10, 10);
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

static void put_shard(emitter *e, const rs_gen_options *o)
{
    PUT_LIT(e, "\"shard\":{\"index\":");
    put_u64(e, o->shard_index);
    PUT_LIT(e, ",\"count\":");
    put_u64(e, o->shard_count);
    PUT_LIT(e, "}}}\n");
}

void rs_emit_header(emitter *e, const rs_gen_options *o)
{
    const rs_gen *g = e->g;
    char digest[17];
    rs_settings_digest(g->s, g->v, digest);
    reserve(e, 1024);
    if (e->rc)
        return;
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
    PUT_LIT(e, "},");
    put_shard(e, o);
}

void rs_emit_footer(emitter *e, const rs_gen_options *o, const uint64_t counts[RS_NTYPES])
{
    reserve(e, 512);
    if (e->rc)
        return;
    PUT_LIT(e, "{\"type\":\"footer\",\"data\":{\"records\":{");
    bool first = true;
    for (int t = 0; t < RS_NTYPES; t++) {
        if (!(o->types_mask & (1u << t)))
            continue;
        if (!first)
            e->buf[e->len++] = ',';
        first = false;
        e->buf[e->len++] = '"';
        const char *name = rs_type_name((rs_type)t);
        put(e, name, strlen(name));
        PUT_LIT(e, "\":");
        put_u64(e, counts[t]);
    }
    PUT_LIT(e, "},");
    put_shard(e, o);
}

static void emit_territories(emitter *e, uint64_t lo, uint64_t hi)
{
    const rs_gen *g = e->g;
    size_t need = 128 + max_esc(&g->v->industries);
    for (uint64_t t = lo; t <= hi; t++) {
        reserve(e, need);
        if (e->rc)
            return;
        PUT_LIT(e, "{\"type\":\"territory\",\"data\":{\"id\":");
        put_u64(e, t);
        PUT_LIT(e, ",\"name\":\"");
        put_tok(e, &g->v->industries.v[g->territory_industry[t - 1]]);
        PUT_LIT(e, " Territory\"}}\n");
    }
}

static void emit_reps(emitter *e, uint64_t lo, uint64_t hi)
{
    const rs_gen *g = e->g;
    const rs_vocab *v = g->v;
    size_t need = 256 + max_esc(&v->first_names) + max_esc(&v->last_names) + max_esc(&v->states) +
                  max_esc(&v->regions);
    uint64_t nlast = v->last_names.n;
    for (uint64_t id = lo; id <= hi; id++) {
        uint32_t territory, region, state;
        rs_model_rep(g, id, &territory, &region, &state);
        uint64_t base, dup;
        rs_model_name(&g->rep_names, id - 1, &base, &dup);
        reserve(e, need);
        if (e->rc)
            return;
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
    }
}

/* An account's name: "Noun Suffix" from the name permutation, " (n)" past it. */
static void put_account_name(emitter *e, uint64_t base, uint64_t dup)
{
    const rs_gen *g = e->g;
    uint64_t nsuf = g->v->suffixes.n;
    put_tok(e, &g->v->nouns.v[base / nsuf]);
    e->buf[e->len++] = ' ';
    put_tok(e, &g->v->suffixes.v[base % nsuf]);
    put_dup(e, dup);
}

static size_t account_name_max(const rs_gen *g)
{
    return max_esc(&g->v->nouns) + max_esc(&g->v->suffixes) + 32;
}

static void emit_accounts(emitter *e, uint64_t lo, uint64_t hi)
{
    const rs_gen *g = e->g;
    const rs_vocab *v = g->v;
    size_t need = 320 + account_name_max(g) + max_esc(&v->states) + max_esc(&v->industries);
    rs_part_iter it;
    rs_part_iter_init(&it, &g->opp_split, lo - 1);
    for (uint64_t id = lo; id <= hi; id++) {
        rs_account a;
        rs_model_account(g, id, &a);
        a.nopps = rs_part_iter_next(&it);
        uint32_t territory, region, state;
        rs_model_rep(g, a.rep, &territory, &region, &state);
        uint64_t base, dup;
        rs_model_name(&g->account_names, id - 1, &base, &dup);
        reserve(e, need);
        if (e->rc)
            return;
        PUT_LIT(e, "{\"type\":\"account\",\"data\":{\"id\":");
        put_u64(e, id);
        PUT_LIT(e, ",\"name\":\"");
        put_account_name(e, base, dup);
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
    }
}

/* Opportunities lo..hi: found through their accounts, starting with the
 * account that holds opportunity lo (possibly part-way through it). */
static void emit_opportunities(emitter *e, uint64_t lo, uint64_t hi)
{
    const rs_gen *g = e->g;
    const rs_vocab *v = g->v;
    size_t need = 320 + account_name_max(g) + g->product_max_esc + max_esc(&v->stages);
    uint64_t np = g->s->nproducts, before;
    uint64_t aid = rs_part_locate(&g->opp_split, lo - 1, &before) + 1;
    uint64_t j = lo - 1 - before; /* lo's place within its account */
    rs_part_iter it;
    rs_opp_walk walk;
    rs_part_iter_init(&it, &g->opp_split, aid - 1);
    rs_opp_walk_init(&walk, g, lo);
    uint64_t id = lo;
    for (; id <= hi; aid++, j = 0) {
        rs_account a;
        a.nopps = rs_part_iter_next(&it);
        if (!a.nopps)
            continue;
        rs_model_account(g, aid, &a);
        rs_amounts am;
        rs_model_amounts(g, &a, true, &am);
        uint64_t name_base, name_dup;
        rs_model_name(&g->account_names, aid - 1, &name_base, &name_dup);
        for (; j < a.nopps && id <= hi; j++, id++) {
            rs_opp_core o;
            rs_model_opp(g, &walk, &o);
            reserve(e, need);
            if (e->rc)
                return;
            PUT_LIT(e, "{\"type\":\"opportunity\",\"data\":{\"id\":");
            put_u64(e, o.id);
            PUT_LIT(e, ",\"name\":\"");
            put_account_name(e, name_base, name_dup);
            e->buf[e->len++] = ' ';
            /* Distinct products within an account; " (n)" once they run out. */
            put_tok(e, &g->products[(a.product_offset + j) % np]);
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
        }
    }
}

/* The history events of opportunities lo..hi, numbered from the count of
 * events before opportunity lo. */
static void emit_history(emitter *e, uint64_t lo, uint64_t hi)
{
    const rs_gen *g = e->g;
    const rs_vocab *v = g->v;
    size_t need = 256 + 2 * max_esc(&v->stages);
    uint64_t next_id = rs_model_history_before(g, lo - 1) + 1;
    rs_opp_walk walk;
    rs_opp_walk_init(&walk, g, lo);
    for (uint64_t id = lo; id <= hi; id++) {
        rs_opp_core o;
        rs_model_opp(g, &walk, &o);
        rs_event ev[RS_MAX_EVENTS];
        unsigned n = rs_model_history(g, &o, ev);
        for (unsigned i = 0; i < n; i++) {
            reserve(e, need);
            if (e->rc)
                return;
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
        }
    }
}

void rs_emit_range(rs_emitter *e, rs_type t, uint64_t lo, uint64_t hi)
{
    if (lo > hi)
        return;
    switch (t) {
    case RS_TERRITORY: emit_territories(e, lo, hi); break;
    case RS_REP: emit_reps(e, lo, hi); break;
    case RS_ACCOUNT: emit_accounts(e, lo, hi); break;
    case RS_OPPORTUNITY: emit_opportunities(e, lo, hi); break;
    case RS_HISTORY: emit_history(e, lo, hi); break;
    case RS_NTYPES: break;
    }
}
