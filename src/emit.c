/* Formats records as compact NDJSON (SPEC 2): escaped vocabulary forms
 * copied as is, integers and dates without printf. */
#include "emit.h"
#include "fmt.h"
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
    n += RS_FMT_SLACK;
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

/* The record writers keep a cursor p in a register and store it back once
 * per record; each reserves a record's worth (plus RS_FMT_SLACK) first. */
static inline char *cur(emitter *e)
{
    return e->buf + e->len;
}

static inline void done(emitter *e, char *p)
{
    e->len = (size_t)(p - e->buf);
}

#define LIT(p, lit) RS_FMT_LIT(p, lit)

static inline char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static inline char *put_tok(char *p, const rs_ftok *t)
{
    return rs_put_short(p, t->s, t->n);
}

/* A quoted date: from the table (16-byte entries, 12 used) or formatted. */
static inline char *put_date(const rs_gen *g, char *p, int32_t d)
{
    if ((uint32_t)(d - g->date_lo) < (uint32_t)g->date_n) {
        memcpy(p, g->dates + (size_t)(d - g->date_lo) * 16, 16);
    } else {
        p[0] = '"';
        rs_date_format(d, p + 1);
        p[11] = '"';
    }
    return p + 12;
}

static inline char *put_bool(char *p, bool b)
{
    return b ? LIT(p, "true") : LIT(p, "false");
}

static inline char *put_dup(char *p, uint64_t dup)
{
    if (dup) {
        p = LIT(p, " (");
        p = rs_put_u64(p, dup);
        *p++ = ')';
    }
    return p;
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

static char *put_shard(char *p, const rs_gen_options *o)
{
    p = LIT(p, "\"shard\":{\"index\":");
    p = rs_put_u64(p, o->shard_index);
    p = LIT(p, ",\"count\":");
    p = rs_put_u64(p, o->shard_count);
    return LIT(p, "}}}\n");
}

void rs_emit_header(emitter *e, const rs_gen_options *o)
{
    const rs_gen *g = e->g;
    char digest[17];
    rs_settings_digest(g->s, g->v, digest);
    reserve(e, 1024 + strlen(o->generated_at));
    if (e->rc)
        return;
    char *p = cur(e);
    p = LIT(p, "{\"type\":\"header\",\"data\":{\"schema\":\"" RS_SCHEMA "\",\"generated_at\":\"");
    p = put(p, o->generated_at, strlen(o->generated_at));
    p = LIT(p, "\",\"generator\":\"revops-stream " RS_VERSION "\",\"seed\":");
    p = rs_put_u64(p, g->s->seed);
    p = LIT(p, ",\"as_of\":");
    p = put_date(g, p, g->s->as_of);
    p = LIT(p, ",\"settings\":\"");
    p = put(p, digest, 16);
    p = LIT(p, "\",\"counts\":{\"reps\":");
    p = rs_put_u64(p, g->R);
    p = LIT(p, ",\"accounts\":");
    p = rs_put_u64(p, g->A);
    p = LIT(p, ",\"opportunities\":");
    p = rs_put_u64(p, g->N);
    p = LIT(p, "},");
    done(e, put_shard(p, o));
}

void rs_emit_footer(emitter *e, const rs_gen_options *o, const uint64_t counts[RS_NTYPES])
{
    reserve(e, 512);
    if (e->rc)
        return;
    char *p = cur(e);
    p = LIT(p, "{\"type\":\"footer\",\"data\":{\"records\":{");
    bool first = true;
    for (int t = 0; t < RS_NTYPES; t++) {
        if (!(o->types_mask & (1u << t)))
            continue;
        if (!first)
            *p++ = ',';
        first = false;
        *p++ = '"';
        const char *name = rs_type_name((rs_type)t);
        p = put(p, name, strlen(name));
        p = LIT(p, "\":");
        p = rs_put_u64(p, counts[t]);
    }
    p = LIT(p, "},");
    done(e, put_shard(p, o));
}

static void emit_territories(emitter *e, uint64_t lo, uint64_t hi)
{
    const rs_gen *g = e->g;
    size_t need = 128 + max_esc(&g->v->industries);
    for (uint64_t t = lo; t <= hi; t++) {
        reserve(e, need);
        if (e->rc)
            return;
        char *p = cur(e);
        p = LIT(p, "{\"type\":\"territory\",\"data\":{\"id\":");
        p = rs_put_u64(p, t);
        p = LIT(p, ",\"name\":\"");
        p = put_tok(p, &g->tok.industries[g->territory_industry[t - 1]]);
        done(e, LIT(p, " Territory\"}}\n"));
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
        char *p = cur(e);
        p = LIT(p, "{\"type\":\"rep\",\"data\":{\"id\":");
        p = rs_put_u64(p, id);
        p = LIT(p, ",\"name\":\"");
        uint64_t last, first = rs_divmod(base, nlast, &last);
        p = put_tok(p, &g->tok.first_names[first]);
        *p++ = ' ';
        p = put_tok(p, &g->tok.last_names[last]);
        p = put_dup(p, dup);
        p = LIT(p, "\",\"homeState\":\"");
        p = put_tok(p, &g->tok.region_states[region][state]);
        p = LIT(p, "\",\"region\":\"");
        p = put_tok(p, &g->tok.regions[region]);
        p = LIT(p, "\",\"quota\":");
        p = rs_put_i64(p, rs_model_quota(g, territory));
        p = LIT(p, ",\"territoryId\":");
        p = rs_put_u64(p, territory);
        done(e, LIT(p, "}}\n"));
    }
}

/* An account's name: "Noun Suffix" from the name permutation, " (n)" past it. */
static inline char *put_account_name(const rs_gen *g, char *p, uint64_t base, uint64_t dup)
{
    uint64_t suffix, noun = rs_divmod(base, g->v->suffixes.n, &suffix);
    p = put_tok(p, &g->tok.nouns[noun]);
    *p++ = ' ';
    p = put_tok(p, &g->tok.suffixes[suffix]);
    return put_dup(p, dup);
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
        /* The owner is a rep of the account's territory: its region is the
         * territory's. */
        uint32_t region = g->territory_region[a.territory - 1];
        uint32_t state = rs_model_rep_state(g, a.rep, region);
        uint64_t base, dup;
        rs_model_name(&g->account_names, id - 1, &base, &dup);
        reserve(e, need);
        if (e->rc)
            return;
        char *p = cur(e);
        p = LIT(p, "{\"type\":\"account\",\"data\":{\"id\":");
        p = rs_put_u64(p, id);
        p = LIT(p, ",\"name\":\"");
        p = put_account_name(g, p, base, dup);
        p = LIT(p, "\",\"annualRevenue\":");
        p = rs_put_i64(p, a.revenue);
        p = LIT(p, ",\"numDevelopers\":");
        p = rs_put_i64(p, a.developers);
        p = LIT(p, ",\"state\":\"");
        p = put_tok(p, &g->tok.region_states[region][state]);
        p = LIT(p, "\",\"industry\":\"");
        p = put_tok(p, &g->tok.industries[a.industry]);
        p = LIT(p, "\",\"isCustomer\":");
        p = put_bool(p, a.customer);
        p = LIT(p, ",\"inPipeline\":");
        p = put_bool(p, a.nopps > 0);
        p = LIT(p, ",\"repId\":");
        p = rs_put_u64(p, a.rep);
        p = LIT(p, ",\"territoryId\":");
        p = rs_put_u64(p, a.territory);
        done(e, LIT(p, "}}\n"));
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
        /* Distinct products within an account, from its offset; " (n)" once
         * they run out. */
        uint64_t prod = (a.product_offset + j) % np;
        for (; j < a.nopps && id <= hi; j++, id++) {
            rs_opp_core o;
            rs_model_opp(g, &walk, &o);
            reserve(e, need);
            if (e->rc)
                return;
            char *p = cur(e);
            p = LIT(p, "{\"type\":\"opportunity\",\"data\":{\"id\":");
            p = rs_put_u64(p, o.id);
            p = LIT(p, ",\"name\":\"");
            p = put_account_name(g, p, name_base, name_dup);
            *p++ = ' ';
            p = put_tok(p, &g->tok.products[prod]);
            if (++prod == np)
                prod = 0;
            p = put_dup(p, j >= np ? j / np + 1 : 0);
            p = LIT(p, "\",\"amount\":");
            p = rs_put_i64(p, rs_model_amount_final(g, &a, &am, j));
            p = LIT(p, ",\"stage\":\"");
            p = put_tok(p, &g->tok.stages[o.stage]);
            p = LIT(p, "\",\"closeDate\":");
            p = o.null_close ? LIT(p, "null") : put_date(g, p, o.close);
            p = LIT(p, ",\"repId\":");
            p = rs_put_u64(p, a.rep);
            p = LIT(p, ",\"accountId\":");
            p = rs_put_u64(p, aid);
            p = LIT(p, ",\"created_date\":");
            p = put_date(g, p, o.created);
            done(e, LIT(p, "}}\n"));
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
            char *p = cur(e);
            p = LIT(p, "{\"type\":\"opportunity_history\",\"data\":{\"id\":");
            p = rs_put_u64(p, next_id++);
            p = LIT(p, ",\"opportunity_id\":");
            p = rs_put_u64(p, id);
            if (ev[i].is_stage) {
                p = LIT(p, ",\"field_name\":\"stage\",\"old_value\":\"");
                p = put_tok(p, &g->tok.stages[ev[i].old_v]);
                p = LIT(p, "\",\"new_value\":\"");
                p = put_tok(p, &g->tok.stages[ev[i].new_v]);
                *p++ = '"';
            } else {
                p = LIT(p, ",\"field_name\":\"closeDate\",\"old_value\":");
                p = ev[i].old_null ? LIT(p, "null") : put_date(g, p, (int32_t)ev[i].old_v);
                p = LIT(p, ",\"new_value\":");
                p = put_date(g, p, (int32_t)ev[i].new_v);
            }
            p = LIT(p, ",\"change_date\":");
            p = put_date(g, p, ev[i].change_date);
            done(e, LIT(p, "}}\n"));
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
