/* Plans a data set (analysis passes) and writes it as an NDJSON stream. */
#include "fmt.h"
#include "model.h"
#include "plan.h"
#include "rng.h"
#include "vocab.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- plan ---- */

static int cmp_industry(const void *a, const void *b, void *ctx)
{
    const rs_list *l = ctx;
    const rs_token *x = &l->v[*(const uint32_t *)a], *y = &l->v[*(const uint32_t *)b];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Territories: one per industry present among the accounts. Scanning stops
 * as soon as every industry has been seen, usually after a few dozen. */
static int plan_territories(rs_gen *g, rs_err *err)
{
    size_t ni = g->v->industries.n;
    g->industry_territory = calloc(ni, sizeof *g->industry_territory);
    uint32_t *present = malloc(ni * sizeof *present);
    if (!g->industry_territory || !present) {
        free(present);
        return RS_ENOMEM;
    }
    size_t seen = 0;
    for (uint64_t id = 1; id <= g->A && seen < ni; id++) {
        uint32_t ind = (uint32_t)rs_below(rs_draw(g->k_industry, id, 0), ni);
        if (!g->industry_territory[ind]) {
            g->industry_territory[ind] = 1;
            present[seen++] = ind;
        }
    }
    qsort_r(present, seen, sizeof *present, cmp_industry, (void *)&g->v->industries);
    g->T = (uint32_t)seen;
    g->territory_industry = present;
    for (uint32_t t = 0; t < g->T; t++)
        g->industry_territory[present[t]] = t + 1;
    if (g->R < g->T) {
        snprintf(err->msg, sizeof err->msg,
                 "--reps %llu: too few reps for the %u territories (every territory needs a rep)",
                 (unsigned long long)g->R, g->T);
        return RS_EUSAGE;
    }
    size_t T = g->T ? g->T : 1;
    g->reps_base = g->R / T;
    g->reps_extra = g->R % T;
    g->territory_pos = calloc(T, sizeof *g->territory_pos);
    g->pos_territory = calloc(T, sizeof *g->pos_territory);
    g->territory_region = calloc(T, sizeof *g->territory_region);
    g->territory_pipeline = calloc(T, sizeof *g->territory_pipeline);
    if (!g->territory_pos || !g->pos_territory || !g->territory_region || !g->territory_pipeline)
        return RS_ENOMEM;
    /* Reps are dealt round-robin over a shuffled territory order. */
    for (uint32_t i = 0; i < g->T; i++)
        g->pos_territory[i] = i + 1;
    for (uint32_t i = g->T; i > 1; i--) {
        uint32_t j = (uint32_t)rs_below(rs_draw(g->k_territory, i, 0), i);
        uint32_t t = g->pos_territory[i - 1];
        g->pos_territory[i - 1] = g->pos_territory[j];
        g->pos_territory[j] = t;
    }
    for (uint32_t i = 0; i < g->T; i++) {
        g->territory_pos[g->pos_territory[i] - 1] = i;
        g->territory_region[i] = (uint32_t)rs_below(rs_draw(g->k_territory, i + 1, 1), g->v->regions.n);
    }
    return 0;
}

/* Splits of opportunities over accounts, of close-date categories and of
 * history events over opportunities, each with an exact total. */
static int plan_splits(rs_gen *g)
{
    const rs_settings *s = g->s;
    uint64_t seed = s->seed;
    rs_part_init(&g->opp_split, rs_key(seed, RS_S_OPP_SPLIT), g->A, g->N, s->opps_per_account_min,
                 s->opps_per_account_max);
    double n = (double)g->N;
    g->n_missing = (uint64_t)(n * s->missing_close_pct);
    g->n_recent = (uint64_t)(n * s->recent_close_pct);
    g->n_nonnull = g->N - g->n_missing;
    rs_part_init(&g->null_split, rs_key(seed, RS_S_NULL_SPLIT), g->N, g->n_missing, 0, 1);
    rs_part_init(&g->recent_split, rs_key(seed, RS_S_RECENT_SPLIT), g->n_nonnull, g->n_recent, 0, 1);

    /* History: 0..2 changes per field and opportunity, about one on average;
     * none at all if no created date can precede the history window's end. */
    uint64_t nstages = g->v->stages.n;
    g->stage_chg_max = nstages > 2 ? 2 : (uint32_t)(nstages - 1);
    bool possible = g->created.start <= g->hist.end;
    uint64_t tk = rs_key(seed, RS_S_TOTALS);
    uint64_t hs = 0, hc = 0;
    if (possible) {
        double m = g->stage_chg_max;
        hs = rs_part_draw_total(rs_draw(tk, 1, 0), n * m / 2, n * m * (m + 2) / 12, 0, g->N * g->stage_chg_max);
        double nn = (double)g->n_nonnull;
        hc = rs_part_draw_total(rs_draw(tk, 2, 0), nn, nn * 2.0 / 3.0, 0, 2 * g->n_nonnull);
    }
    rs_part_init(&g->stage_split, rs_key(seed, RS_S_STAGE_SPLIT), g->N, hs, 0, g->stage_chg_max);
    rs_part_init(&g->close_chg_split, rs_key(seed, RS_S_CLOSECHG_SPLIT), g->n_nonnull, hc, 0, 2);
    g->n_history = hs + hc;
    rs_part *parts[] = {&g->opp_split, &g->null_split, &g->recent_split, &g->stage_split, &g->close_chg_split};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (rs_part_tabulate(parts[i]))
            return RS_ENOMEM;
    return 0;
}

/* One analysis pass over accounts lo..hi (1-based): with factor false, the
 * pre-factor total and the largest factor no account's TAM forbids; with
 * factor true, the final total and the per-territory pipelines. */
typedef struct pass_job {
    const rs_gen *g;
    uint64_t lo, hi;
    bool factor;
    __int128 total;
    double max_factor;
    __int128 *pipeline; /* T entries, factor passes only */
} pass_job;

static void *pass_run(void *arg)
{
    pass_job *job = arg;
    const rs_gen *g = job->g;
    /* Sums in locals: the jobs' structs share cache lines, and a store per
     * account to one would bounce that line between the threads' cores. */
    __int128 total = 0;
    double max_factor = INFINITY;
    rs_part_iter it;
    rs_part_iter_init(&it, &g->opp_split, job->lo - 1);
    for (uint64_t id = job->lo; id <= job->hi; id++) {
        rs_account a;
        a.nopps = rs_part_iter_next(&it);
        if (!a.nopps)
            continue;
        rs_model_account_tam(g, id, &a);
        rs_amounts am;
        rs_model_amounts(g, &a, job->factor, &am);
        if (!job->factor) {
            total += am.scaled_sum;
            if (am.scaled_sum > 0 && (double)a.tam / (double)am.scaled_sum < max_factor)
                max_factor = (double)a.tam / (double)am.scaled_sum;
            continue;
        }
        total += am.final_sum;
        job->pipeline[a.territory - 1] += am.final_sum;
    }
    job->total = total;
    job->max_factor = max_factor;
    return NULL;
}

/* Runs a pass on g->threads threads over near-equal account ranges and adds
 * up their results (sums and a minimum: the same whatever the split). */
static int pass_all(rs_gen *g, bool factor, __int128 *total, double *max_factor, __int128 *pipeline)
{
    unsigned n = g->threads;
    if ((uint64_t)n > g->A / 4096 + 1)
        n = (unsigned)(g->A / 4096 + 1); /* threads are not worth it for small sets */
    pass_job *jobs = calloc(n, sizeof *jobs);
    pthread_t *tids = calloc(n, sizeof *tids);
    size_t T = g->T ? g->T : 1;
    int rc = jobs && tids ? 0 : RS_ENOMEM;
    for (unsigned i = 0; i < n && !rc; i++) {
        jobs[i] = (pass_job){g, 0, 0, factor, 0, INFINITY, NULL};
        rs_gen_part_range(g->A, i + 1, n, &jobs[i].lo, &jobs[i].hi);
        /* Whole cache lines of its own: written per account. */
        size_t bytes = (T * sizeof *jobs[i].pipeline + 63) / 64 * 64;
        if (factor && !(jobs[i].pipeline = aligned_alloc(64, bytes)))
            rc = RS_ENOMEM;
        else if (factor)
            memset(jobs[i].pipeline, 0, bytes);
    }
    unsigned started = 0;
    for (unsigned i = 1; i < n && !rc; i++, started++)
        if (pthread_create(&tids[i], NULL, pass_run, &jobs[i]) != 0)
            break;
    if (!rc)
        pass_run(&jobs[0]);
    for (unsigned i = 1; i <= started; i++)
        pthread_join(tids[i], NULL);
    /* A thread that could not start has its range done here instead. */
    for (unsigned i = started + 1; i < n && !rc; i++)
        pass_run(&jobs[i]);
    *total = 0;
    *max_factor = INFINITY;
    if (pipeline)
        memset(pipeline, 0, T * sizeof *pipeline);
    for (unsigned i = 0; i < n && !rc; i++) {
        *total += jobs[i].total;
        if (jobs[i].max_factor < *max_factor)
            *max_factor = jobs[i].max_factor;
        for (size_t t = 0; factor && t < g->T; t++)
            pipeline[t] += jobs[i].pipeline[t];
    }
    for (unsigned i = 0; jobs && i < n; i++)
        free(jobs[i].pipeline);
    free(jobs);
    free(tids);
    return rc;
}

/* The analysis passes: amounts per account (scaled to TAM), a global factor
 * toward the pipeline target, then the final totals per territory. Redrawn
 * with the next attempt number while the total misses [min, max]. */
static int plan_amounts(rs_gen *g, rs_err *err)
{
    int64_t target, pmin, pmax;
    rs_settings_pipeline(g->s, &target, &pmin, &pmax);
    /* Wide sums: a failing attempt may overshoot 64 bits before it is rejected. */
    __int128 *pipeline = calloc(g->T ? g->T : 1, sizeof *pipeline);
    if (!pipeline)
        goto nomem;
    uint64_t account_key = g->k_account;
    __int128 final_total = 0;
    for (g->attempt = 0; g->attempt < (unsigned)g->s->amount_retry_limit; g->attempt++) {
        /* A retry redraws the accounts' revenue and developers too (not their
         * industries, which fix the territories), so a small data set whose
         * TAM cannot reach the target gets fresh accounts. */
        g->k_account = account_key ^ rs_mix64(g->attempt);
        __int128 total;
        double max_factor;
        if (pass_all(g, false, &total, &max_factor, NULL))
            goto nomem;
        /* Down freely; up only as far as no account passes its TAM. */
        g->k = total > 0 ? (double)target / (double)total : 1.0;
        if (g->k > 1.0 && g->k > max_factor)
            g->k = max_factor;
        if (pass_all(g, true, &final_total, &max_factor, pipeline))
            goto nomem;
        if (final_total >= pmin && final_total <= pmax) {
            /* Each territory's share fits, being at most the total. */
            for (uint32_t t = 0; t < g->T; t++)
                g->territory_pipeline[t] = (int64_t)pipeline[t];
            g->pipeline_total = (int64_t)final_total;
            free(pipeline);
            return 0;
        }
    }
    free(pipeline);
    snprintf(err->msg, sizeof err->msg,
             "amounts: total pipeline %lld is outside TOTAL_PIPELINE_MIN..MAX (%lld..%lld) after %d attempts "
             "(AMOUNT_RETRY_LIMIT); the TAM and amount settings cannot reach it",
             final_total > INT64_MAX ? (long long)INT64_MAX : (long long)final_total, (long long)pmin,
             (long long)pmax, g->s->amount_retry_limit);
    return RS_EUSAGE;
nomem:
    free(pipeline);
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return RS_ENOMEM;
}

/* Tables every emitter shares: dates around the windows as quoted
 * "YYYY-MM-DD" (others are formatted on the fly) and every token the
 * formatter copies, JSON-escaped, in one padded arena. */
#define DATE_TABLE_MAX 16384

/* Token tables: a first pass (arena NULL) only counts the arena's bytes. */
typedef struct tok_builder {
    char *arena;
    size_t used;
} tok_builder;

static void tok_put(tok_builder *b, rs_ftok *t, const char *esc, size_t n)
{
    if (b->arena) {
        memcpy(b->arena + b->used, esc, n);
        t->s = b->arena + b->used;
        t->n = n;
    }
    b->used += n;
}

static void tok_list(tok_builder *b, rs_ftok *t, const rs_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        tok_put(b, b->arena ? &t[i] : NULL, l->v[i].esc, l->v[i].esc_len);
}

/* Lays out every list (and the products, escaped here) in b's arena. */
static int tok_lists(rs_gen *g, tok_builder *b)
{
    const rs_vocab *v = g->v;
    rs_ftoks *k = &g->tok;
    tok_list(b, k->first_names, &v->first_names);
    tok_list(b, k->last_names, &v->last_names);
    tok_list(b, k->nouns, &v->nouns);
    tok_list(b, k->suffixes, &v->suffixes);
    tok_list(b, k->industries, &v->industries);
    tok_list(b, k->stages, &v->stages);
    tok_list(b, k->regions, &v->regions);
    for (size_t r = 0; r < v->regions.n; r++)
        tok_list(b, b->arena ? k->region_states[r] : NULL, &v->region_states[r]);
    for (size_t i = 0; i < g->s->nproducts; i++) {
        const char *p = g->s->products[i];
        size_t n = strlen(p);
        char *esc = malloc(6 * n + 1);
        if (!esc)
            return RS_ENOMEM;
        size_t esc_n = rs_json_escape(p, n, esc);
        tok_put(b, b->arena ? &k->products[i] : NULL, esc, esc_n);
        if (esc_n > g->product_max_esc)
            g->product_max_esc = esc_n;
        free(esc);
    }
    return 0;
}

static int plan_tokens(rs_gen *g)
{
    const rs_vocab *v = g->v;
    rs_ftoks *k = &g->tok;
    tok_builder b = {NULL, 0};
    if (tok_lists(g, &b))
        return RS_ENOMEM;
    /* Slack after the last token for the fixed-size copies. */
    k->arena = malloc(b.used + RS_FMT_SHORT);
    k->first_names = calloc(v->first_names.n + 1, sizeof(rs_ftok));
    k->last_names = calloc(v->last_names.n + 1, sizeof(rs_ftok));
    k->nouns = calloc(v->nouns.n + 1, sizeof(rs_ftok));
    k->suffixes = calloc(v->suffixes.n + 1, sizeof(rs_ftok));
    k->industries = calloc(v->industries.n + 1, sizeof(rs_ftok));
    k->stages = calloc(v->stages.n + 1, sizeof(rs_ftok));
    k->regions = calloc(v->regions.n + 1, sizeof(rs_ftok));
    k->products = calloc(g->s->nproducts + 1, sizeof(rs_ftok));
    k->region_states = calloc(v->regions.n + 1, sizeof(rs_ftok *));
    if (!k->arena || !k->first_names || !k->last_names || !k->nouns || !k->suffixes || !k->industries ||
        !k->stages || !k->regions || !k->products || !k->region_states)
        return RS_ENOMEM;
    for (size_t r = 0; r < v->regions.n; r++)
        if (!(k->region_states[r] = calloc(v->region_states[r].n + 1, sizeof(rs_ftok))))
            return RS_ENOMEM;
    memset(k->arena + b.used, 0, RS_FMT_SHORT);
    b = (tok_builder){k->arena, 0};
    return tok_lists(g, &b);
}

static void free_tokens(rs_gen *g)
{
    rs_ftoks *k = &g->tok;
    for (size_t r = 0; k->region_states && r < g->v->regions.n; r++)
        free(k->region_states[r]);
    free(k->region_states);
    free(k->first_names);
    free(k->last_names);
    free(k->nouns);
    free(k->suffixes);
    free(k->industries);
    free(k->stages);
    free(k->regions);
    free(k->products);
    free(k->arena);
}

static int plan_tables(rs_gen *g)
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
    g->date_lo = lo;
    g->date_n = hi - lo + 1;
    g->dates = malloc((size_t)g->date_n * 16);
    if (!g->dates)
        return RS_ENOMEM;
    for (int32_t i = 0; i < g->date_n; i++) {
        char *d = g->dates + (size_t)i * 16;
        memset(d, 0, 16);
        d[0] = '"';
        rs_date_format(lo + i, d + 1);
        d[11] = '"';
    }
    return plan_tokens(g);
}

static bool has_space(const char *s, size_t len)
{
    return memchr(s, ' ', len) != NULL;
}

static bool list_has_space(const rs_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (has_space(l->v[i].text, l->v[i].len))
            return true;
    return false;
}

/* Ends in " (digits)", the form of the suffix that tells repeated names apart. */
static bool looks_numbered(const char *s, size_t len)
{
    if (len < 4 || s[len - 1] != ')')
        return false;
    size_t i = len - 1;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    return i < len - 1 && i >= 2 && s[i - 1] == '(' && s[i - 2] == ' ';
}

/* Names are built by joining tokens with spaces. They stay unique only if
 * each can be split back one way: at most one side of a join may contain
 * spaces, and no token may look like a " (n)" suffix. */
static int check_name_tokens(const rs_gen *g, rs_err *err)
{
    const rs_vocab *v = g->v;
    const rs_list *lists[] = {&v->first_names, &v->last_names, &v->nouns, &v->suffixes};
    const char *files[] = {"first-names.txt", "last-names.txt", "nouns.txt", "company-suffixes.txt"};
    for (size_t k = 0; k < 4; k++)
        for (size_t i = 0; i < lists[k]->n; i++)
            if (looks_numbered(lists[k]->v[i].text, lists[k]->v[i].len)) {
                snprintf(err->msg, sizeof err->msg,
                         "--vocab: %s: \"%.64s\" ends like the \" (n)\" that tells repeated names apart",
                         files[k], lists[k]->v[i].text);
                return RS_EUSAGE;
            }
    if (list_has_space(&v->first_names) && list_has_space(&v->last_names)) {
        snprintf(err->msg, sizeof err->msg,
                 "--vocab: first-names.txt and last-names.txt both have names with spaces, so rep names could "
                 "repeat (allow spaces on one side only)");
        return RS_EUSAGE;
    }
    bool account_spaces = list_has_space(&v->nouns) || list_has_space(&v->suffixes);
    if (list_has_space(&v->nouns) && list_has_space(&v->suffixes)) {
        snprintf(err->msg, sizeof err->msg,
                 "--vocab: nouns.txt and company-suffixes.txt both have tokens with spaces, so account names "
                 "could repeat (allow spaces on one side only)");
        return RS_EUSAGE;
    }
    for (size_t i = 0; i < g->s->nproducts; i++) {
        const char *p = g->s->products[i];
        size_t len = strlen(p);
        if (looks_numbered(p, len) || p[0] == '(' || (account_spaces && has_space(p, len))) {
            snprintf(err->msg, sizeof err->msg,
                     "PRODUCTS: \"%.64s\" could make opportunity names repeat (no spaces when nouns or "
                     "suffixes have them; no leading \"(\" or trailing \" (n)\")",
                     p);
            return RS_EUSAGE;
        }
    }
    return 0;
}

static int gen_create(rs_gen **out, const rs_settings *s, const rs_vocab *v, unsigned threads, const char *plan,
                      size_t plan_len, rs_err *err)
{
    int rc = rs_settings_check(s, err);
    if (rc)
        return rc;
    rs_gen *g = calloc(1, sizeof *g);
    if (!g)
        goto nomem;
    g->s = s;
    g->v = v;
    g->threads = threads ? threads : 1;
    g->R = s->num_reps;
    g->A = s->num_accounts;
    g->N = s->num_opportunities;
    g->recent = rs_settings_window(s, s->recent_close);
    g->future = rs_settings_window(s, s->future_close);
    g->created = rs_settings_window(s, s->created);
    g->hist = rs_settings_window(s, s->history_change);
    g->k_industry = rs_key(s->seed, RS_S_INDUSTRY);
    g->k_account = rs_key(s->seed, RS_S_ACCOUNT);
    g->k_amount = rs_key(s->seed, RS_S_AMOUNT);
    g->k_territory = rs_key(s->seed, RS_S_TERRITORY);
    g->k_rep = rs_key(s->seed, RS_S_REP);
    g->k_opp = rs_key(s->seed, RS_S_OPPORTUNITY);
    g->k_history = rs_key(s->seed, RS_S_HISTORY);
    rs_perm_init(&g->rep_names, rs_key(s->seed, RS_S_NAME_PERM) ^ 1, v->first_names.n * v->last_names.n);
    rs_perm_init(&g->account_names, rs_key(s->seed, RS_S_NAME_PERM) ^ 2, v->nouns.n * v->suffixes.n);
    if ((rc = check_name_tokens(g, err)))
        goto fail;
    rc = plan_territories(g, err);
    if (rc == RS_ENOMEM)
        goto nomem;
    if (rc)
        goto fail;
    if (plan_splits(g) || plan_tables(g))
        goto nomem;
    rc = plan ? rs_plan_apply(g, plan, plan_len, err) : plan_amounts(g, err);
    if (rc)
        goto fail;
    *out = g;
    return 0;
nomem:
    snprintf(err->msg, sizeof err->msg, "out of memory");
    rc = RS_ENOMEM;
fail:
    rs_gen_free(g);
    return rc;
}

int rs_gen_create(rs_gen **out, const rs_settings *s, const rs_vocab *v, unsigned threads, rs_err *err)
{
    return gen_create(out, s, v, threads, NULL, 0, err);
}

int rs_gen_create_planned(rs_gen **out, const rs_settings *s, const rs_vocab *v, unsigned threads, const char *plan,
                          size_t plan_len, rs_err *err)
{
    return gen_create(out, s, v, threads, plan ? plan : "", plan_len, err);
}

void rs_gen_free(rs_gen *g)
{
    if (!g)
        return;
    free(g->industry_territory);
    free(g->territory_industry);
    free(g->territory_pos);
    free(g->pos_territory);
    free(g->territory_region);
    free(g->territory_pipeline);
    free(g->dates);
    free_tokens(g);
    rs_part_free(&g->opp_split);
    rs_part_free(&g->null_split);
    rs_part_free(&g->recent_split);
    rs_part_free(&g->stage_split);
    rs_part_free(&g->close_chg_split);
    free(g);
}
