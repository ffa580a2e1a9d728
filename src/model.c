/* The data model as pure functions of (seed, id); see model.h and README. */
#include "model.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fields drawn per entity; fixed numbers so a new draw never shifts old ones. */
enum { A_REVENUE = 1, A_REV_PER_EMPLOYEE, A_CUSTOMER, A_OWNER, A_COVERAGE };
enum { O_STAGE = 1, O_CLOSE };
enum { H_STAGE_A = 1, H_STAGE_B, H_CLOSE_DIR, H_CLOSE_NULL, H_CLOSE_A, H_CLOSE_B, H_DATES = 16 };

/* How far a pulled-in close date may have stood after the current one. */
#define PULL_IN_DAYS 120

uint64_t rs_model_reps_at(const rs_gen *g, uint32_t pos)
{
    return g->reps_base + (pos < g->reps_extra);
}

void rs_model_rep(const rs_gen *g, uint64_t id, uint32_t *territory, uint32_t *region, uint32_t *state)
{
    uint64_t pos;
    rs_divmod(id - 1, g->T, &pos);
    *territory = g->pos_territory[pos];
    *region = g->territory_region[*territory - 1];
    *state = rs_model_rep_state(g, id, *region);
}

uint32_t rs_model_rep_state(const rs_gen *g, uint64_t id, uint32_t region)
{
    return (uint32_t)rs_below(rs_draw(g->k_rep, id, 0), g->v->region_states[region].n);
}

int64_t rs_model_quota(const rs_gen *g, uint32_t territory)
{
    const rs_settings *s = g->s;
    uint64_t reps = rs_model_reps_at(g, g->territory_pos[territory - 1]);
    double q = rs_round_even(s->quota_multiplier * (double)g->territory_pipeline[territory - 1] / (double)reps);
    if (q < (double)s->quota_min)
        return s->quota_min;
    if (q > (double)s->quota_max)
        return s->quota_max;
    return (int64_t)q;
}

void rs_model_account_tam(const rs_gen *g, uint64_t id, rs_account *a)
{
    const rs_settings *s = g->s;
    a->id = id;
    a->industry = (uint32_t)rs_below(rs_draw(g->k_industry, id, 0), g->v->industries.n);
    a->territory = g->industry_territory[a->industry];
    /* Python's paretovariate: (1 - U) ** (-1 / alpha) with U in [0, 1). */
    double u = 1.0 - rs_u01(rs_draw(g->k_account, id, A_REVENUE));
    /* The default alpha of 1 needs no pow, the analysis passes' main cost. */
    double pareto = s->pareto_alpha == 1.0 ? 1.0 / u : pow(u, -1.0 / s->pareto_alpha);
    double revenue = s->revenue_scale * pareto;
    a->revenue = revenue >= s->revenue_cap ? (int64_t)s->revenue_cap : (int64_t)revenue;
    /* Revenue per employee and developer share: a half of one hash each. */
    uint64_t h = rs_draw(g->k_account, id, A_REV_PER_EMPLOYEE);
    double per_employee = s->rev_per_employee_min +
                          (s->rev_per_employee_max - s->rev_per_employee_min) * rs_u01_32((uint32_t)(h >> 32));
    double dev_pct = s->developer_pct_min + (s->developer_pct_max - s->developer_pct_min) * rs_u01_32((uint32_t)h);
    double devs = rs_round_even((double)a->revenue / per_employee * dev_pct);
    a->developers = devs < 1.0 ? 1 : (int64_t)devs;
    a->tam = s->tam_per_developer * a->developers;
}

void rs_model_account(const rs_gen *g, uint64_t id, rs_account *a)
{
    const rs_settings *s = g->s;
    rs_model_account_tam(g, id, a);
    /* isCustomer and the first product: a half of one hash each. */
    uint64_t h = rs_draw(g->k_account, id, A_CUSTOMER);
    a->customer = rs_u01_32((uint32_t)(h >> 32)) < s->is_customer_rate;
    a->product_offset = rs_below_32((uint32_t)h, (uint32_t)s->nproducts);
    uint32_t pos = g->territory_pos[a->territory - 1];
    uint64_t k = rs_below(rs_draw(g->k_account, id, A_OWNER), rs_model_reps_at(g, pos));
    a->rep = pos + k * g->T + 1;
}

static int64_t amount_raw(const rs_gen *g, const rs_account *a, const rs_amounts *am, uint64_t j)
{
    const rs_settings *s = g->s;
    /* The attempt number feeds the draw, so a retry redraws every amount. */
    uint64_t h = rs_draw(g->k_amount, a->id, ((uint64_t)g->attempt << 40) + j + 1);
    return (int64_t)rs_round_even(am->x * rs_uniform(h, s->amount_multiplier_min, s->amount_multiplier_max));
}

/* v scaled by tam / sum, rounded down, so the scaled values sum to <= tam. */
static int64_t scale_down(int64_t v, int64_t tam, int64_t sum)
{
    int64_t product;
    /* 64-bit division when the product fits: 128-bit division is slow. */
    if (!__builtin_mul_overflow(v, tam, &product))
        return product / sum;
    return (int64_t)((__int128)v * tam / sum);
}

int64_t rs_model_amount_scaled(const rs_gen *g, const rs_account *a, const rs_amounts *am, uint64_t j)
{
    int64_t raw = am->cached ? am->raw[j] : amount_raw(g, a, am, j);
    return am->raw_sum > a->tam ? scale_down(raw, a->tam, am->raw_sum) : raw;
}

static int64_t amount_factored(const rs_gen *g, const rs_account *a, const rs_amounts *am, uint64_t j)
{
    return (int64_t)rs_round_even((double)rs_model_amount_scaled(g, a, am, j) * g->k);
}

int64_t rs_model_amount_final(const rs_gen *g, const rs_account *a, const rs_amounts *am, uint64_t j)
{
    if (am->cached)
        return am->final[j];
    int64_t v = amount_factored(g, a, am, j);
    return am->factored_sum > a->tam ? scale_down(v, a->tam, am->factored_sum) : v;
}

void rs_model_amounts(const rs_gen *g, const rs_account *a, bool with_factor, rs_amounts *am)
{
    const rs_settings *s = g->s;
    uint64_t h = rs_draw(g->k_amount, a->id, (uint64_t)g->attempt << 40);
    am->x = (double)a->tam * rs_uniform(h, s->coverage_pct_min, s->coverage_pct_max);
    am->raw_sum = am->scaled_sum = am->factored_sum = am->final_sum = 0;
    am->cached = false;
    uint64_t n = a->nopps;
    if (n > RS_AMOUNT_CACHE) {
        /* Too many to keep: each amount is redrawn where it is needed. */
        for (uint64_t j = 0; j < n; j++)
            am->raw_sum += amount_raw(g, a, am, j);
        for (uint64_t j = 0; j < n; j++)
            am->scaled_sum += rs_model_amount_scaled(g, a, am, j);
        if (!with_factor)
            return;
        for (uint64_t j = 0; j < n; j++)
            am->factored_sum += amount_factored(g, a, am, j);
        for (uint64_t j = 0; j < n; j++)
            am->final_sum += rs_model_amount_final(g, a, am, j);
        return;
    }
    /* The same steps on the kept values: raw, scaled, factored, final. */
    int64_t *raw = am->raw, *v = am->final;
    for (uint64_t j = 0; j < n; j++) {
        raw[j] = amount_raw(g, a, am, j);
        am->raw_sum += raw[j];
    }
    am->cached = true;
    bool over = am->raw_sum > a->tam;
    for (uint64_t j = 0; j < n; j++) {
        v[j] = over ? scale_down(raw[j], a->tam, am->raw_sum) : raw[j];
        am->scaled_sum += v[j];
    }
    if (!with_factor)
        return;
    for (uint64_t j = 0; j < n; j++) {
        v[j] = (int64_t)rs_round_even((double)v[j] * g->k);
        am->factored_sum += v[j];
    }
    am->final_sum = am->factored_sum;
    if (am->factored_sum > a->tam) {
        am->final_sum = 0;
        for (uint64_t j = 0; j < n; j++) {
            v[j] = scale_down(v[j], a->tam, am->factored_sum);
            am->final_sum += v[j];
        }
    }
}

void rs_opp_walk_init(rs_opp_walk *w, const rs_gen *g, uint64_t first_id)
{
    uint64_t idx = first_id - 1, nulls_before = 0;
    if (g->N > 0 && idx < g->N)
        rs_part_value(&g->null_split, idx, &nulls_before);
    w->next_id = first_id;
    w->nonnull_seen = idx - nulls_before;
    rs_part_iter_init(&w->nulls, &g->null_split, idx);
    rs_part_iter_init(&w->stages, &g->stage_split, idx);
    rs_part_iter_init(&w->recent, &g->recent_split, w->nonnull_seen);
    rs_part_iter_init(&w->close_chg, &g->close_chg_split, w->nonnull_seen);
}

static int32_t min32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

static int32_t max32(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

/* A uniform day in [lo, hi]. */
static int32_t day_in(uint64_t h, int32_t lo, int32_t hi)
{
    return lo + (int32_t)rs_below(h, (uint64_t)(hi - lo) + 1);
}

void rs_model_opp(const rs_gen *g, rs_opp_walk *w, rs_opp_core *o)
{
    uint64_t id = w->next_id++;
    o->id = id;
    o->null_close = rs_part_iter_next(&w->nulls) != 0;
    o->n_stage_chg = (uint32_t)rs_part_iter_next(&w->stages);
    o->recent = false;
    o->n_close_chg = 0;
    if (!o->null_close) {
        o->recent = rs_part_iter_next(&w->recent) != 0;
        o->n_close_chg = (uint32_t)rs_part_iter_next(&w->close_chg);
        w->nonnull_seen++;
    }
    /* Stages are string-ordered; an opportunity that changed stage n times
     * stands at stage n or later. */
    /* Stage and created date: a half of one hash each. */
    uint64_t h = rs_draw(g->k_opp, id, O_STAGE);
    uint32_t nstages = (uint32_t)g->v->stages.n;
    o->stage = o->n_stage_chg + rs_below_32((uint32_t)(h >> 32), nstages - o->n_stage_chg);
    /* created_date leaves room for what must come on or after it. */
    int32_t hi = g->created.end;
    if (o->n_stage_chg + o->n_close_chg > 0)
        hi = min32(hi, g->hist.end);
    if (!o->null_close)
        hi = min32(hi, o->recent ? g->recent.end : g->future.end);
    o->created = g->created.start + (int32_t)rs_below_32((uint32_t)h, (uint32_t)(hi - g->created.start) + 1);
    o->close = 0;
    if (!o->null_close) {
        rs_window w2 = o->recent ? g->recent : g->future;
        o->close = day_in(rs_draw(g->k_opp, id, O_CLOSE), max32(w2.start, o->created), w2.end);
    }
}

/* k sorted change dates in [lo, hi]. */
static void change_dates(uint64_t key, uint64_t id, uint64_t field, unsigned k, int32_t lo, int32_t hi, int32_t *out)
{
    for (unsigned i = 0; i < k; i++)
        out[i] = day_in(rs_draw(key, id, field + i), lo, hi);
    if (k == 2 && out[1] < out[0]) {
        int32_t t = out[0];
        out[0] = out[1];
        out[1] = t;
    }
}

/* Two distinct values in [0, n), ascending (n >= 2). */
static void two_distinct(uint64_t ha, uint64_t hb, uint64_t n, uint64_t *a, uint64_t *b)
{
    uint64_t x = rs_below(ha, n), y = rs_below(hb, n - 1);
    if (y >= x)
        y++;
    *a = x < y ? x : y;
    *b = x < y ? y : x;
}

unsigned rs_model_history(const rs_gen *g, const rs_opp_core *o, rs_event ev[RS_MAX_EVENTS])
{
    unsigned ns = o->n_stage_chg, nc = o->n_close_chg;
    if (ns + nc == 0)
        return 0;
    uint64_t key = g->k_history, id = o->id;
    int32_t lo = max32(g->hist.start, o->created), hi = g->hist.end;
    rs_event st[2], cl[2];

    /* Stage chain: ns distinct earlier stages, ascending, ending at the current one. */
    uint32_t chain[3];
    if (ns == 1) {
        chain[0] = (uint32_t)rs_below(rs_draw(key, id, H_STAGE_A), o->stage);
    } else if (ns == 2) {
        uint64_t a, b;
        two_distinct(rs_draw(key, id, H_STAGE_A), rs_draw(key, id, H_STAGE_B), o->stage, &a, &b);
        chain[0] = (uint32_t)a;
        chain[1] = (uint32_t)b;
    }
    chain[ns] = o->stage;
    int32_t dates[2];
    change_dates(key, id, H_DATES, ns, lo, hi, dates);
    for (unsigned i = 0; i < ns; i++)
        st[i] = (rs_event){true, false, dates[i], chain[i], chain[i + 1]};

    /* closeDate chain: values v0 (maybe null), .., v_nc = closeDate. A slip
     * moved the date later each time (earlier values, >= created_date); a
     * pull-in moved it earlier (later values). */
    if (nc > 0) {
        int32_t v[3];
        bool first_null = rs_u01(rs_draw(key, id, H_CLOSE_NULL)) < 0.2;
        unsigned need = nc - (first_null ? 1 : 0);
        bool slip = (rs_draw(key, id, H_CLOSE_DIR) & 1) && o->close - o->created >= (int32_t)need;
        int32_t base = slip ? o->created : o->close + 1;
        uint64_t span = slip ? (uint64_t)(o->close - o->created) : PULL_IN_DAYS;
        int32_t picked[2];
        if (need == 1) {
            picked[0] = base + (int32_t)rs_below(rs_draw(key, id, H_CLOSE_A), span);
        } else if (need == 2) {
            uint64_t a, b;
            two_distinct(rs_draw(key, id, H_CLOSE_A), rs_draw(key, id, H_CLOSE_B), span, &a, &b);
            picked[0] = base + (int32_t)a;
            picked[1] = base + (int32_t)b;
        }
        /* Chain order: ascending for a slip, descending for a pull-in. */
        unsigned first = first_null ? 1 : 0;
        for (unsigned i = 0; i < need; i++)
            v[first + i] = slip ? picked[i] : picked[need - 1 - i];
        v[nc] = o->close;
        change_dates(key, id, H_DATES + 2, nc, lo, hi, dates);
        for (unsigned i = 0; i < nc; i++)
            cl[i] = (rs_event){false, i == 0 && first_null, dates[i], (uint32_t)v[i], (uint32_t)v[i + 1]};
    }

    /* Merge the two date-ordered chains; stage first on the same day. */
    unsigned i = 0, j = 0, n = 0;
    while (i < ns || j < nc) {
        if (j >= nc || (i < ns && st[i].change_date <= cl[j].change_date))
            ev[n++] = st[i++];
        else
            ev[n++] = cl[j++];
    }
    return n;
}

uint64_t rs_model_history_before(const rs_gen *g, uint64_t opps)
{
    if (opps == 0)
        return 0;
    if (opps >= g->N)
        return g->n_history;
    uint64_t stage_before, nulls_before, close_before;
    rs_part_value(&g->stage_split, opps, &stage_before);
    rs_part_value(&g->null_split, opps, &nulls_before);
    uint64_t nonnull = opps - nulls_before;
    if (nonnull >= g->n_nonnull)
        close_before = g->close_chg_split.total;
    else
        rs_part_value(&g->close_chg_split, nonnull, &close_before);
    return stage_before + close_before;
}

void rs_gen_part_range(uint64_t n, uint64_t k, uint64_t parts, uint64_t *lo, uint64_t *hi)
{
    *lo = (uint64_t)((unsigned __int128)n * (k - 1) / parts) + 1;
    *hi = (uint64_t)((unsigned __int128)n * k / parts);
}

void rs_model_name(const rs_perm *p, uint64_t i, uint64_t *base, uint64_t *dup)
{
    uint64_t at, round = rs_divmod(i, p->n, &at);
    *base = rs_perm_apply(p, at);
    *dup = round ? round + 1 : 0;
}
