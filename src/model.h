/* The data model as pure functions: each entity's fields from (seed, id).
 *
 * A plan (rs_gen) holds what is global but small: the territories (one per
 * industry present), their shuffled order and regions, the split of
 * opportunities over accounts and of close-date categories and history
 * events over opportunities (partition trees), the name permutations, the
 * global amount factor and the per-territory pipelines. The last two come
 * from analysis passes over the accounts that format nothing. */
#ifndef RS_MODEL_H
#define RS_MODEL_H

#include "partition.h"
#include "perm.h"
#include "revops/revops.h"

typedef struct rs_account {
    uint64_t id;
    uint32_t industry;  /* vocab index */
    uint32_t territory; /* territory id 1..T */
    int64_t revenue, developers, tam;
    bool customer;
    uint64_t rep; /* owner rep id */
    uint64_t nopps, first_opp; /* its opportunities: ids first_opp .. first_opp + nopps - 1 */
    uint32_t product_offset;
} rs_account;

typedef struct rs_opp_core {
    uint64_t id;
    bool null_close, recent;
    uint32_t n_stage_chg, n_close_chg;
    uint32_t stage; /* index into sorted stages */
    int32_t created, close; /* days; close unused when null_close */
} rs_opp_core;

/* In-order walkers over the opportunity-level splits. */
typedef struct rs_opp_walk {
    uint64_t next_id; /* next opportunity id */
    uint64_t nonnull_seen;
    rs_part_iter nulls, stages, recent, close_chg;
} rs_opp_walk;

#define RS_MAX_EVENTS 4
typedef struct rs_event {
    bool is_stage;
    bool old_null;
    int32_t change_date;
    uint32_t old_v, new_v; /* stage index, or date in days */
} rs_event;

/* A token's JSON-escaped form in a padded arena: s may be read
 * RS_FMT_SHORT bytes past its start (fmt.h), so short ones copy in one go. */
typedef struct rs_ftok {
    const char *s;
    size_t n;
} rs_ftok;

/* Every vocabulary the formatter uses, in that form; indexes as in rs_vocab. */
typedef struct rs_ftoks {
    rs_ftok *first_names, *last_names, *nouns, *suffixes, *industries, *stages, *regions, *products;
    rs_ftok **region_states; /* [region][state] */
    char *arena;
} rs_ftoks;

struct rs_gen {
    const rs_settings *s;
    const rs_vocab *v;
    uint64_t R, A, N;
    rs_window recent, future, created, hist;
    uint64_t k_industry, k_account, k_amount, k_territory, k_rep, k_opp, k_history;
    /* Territories: id 1..T in industry-name order. */
    uint32_t T;
    uint64_t reps_base, reps_extra; /* R / T and R % T: reps per position */
    uint32_t *industry_territory; /* industry index -> territory id (0: absent) */
    uint32_t *territory_industry; /* territory id - 1 -> industry index */
    uint32_t *territory_pos;      /* territory id - 1 -> position in the shuffled deal order */
    uint32_t *pos_territory;      /* position -> territory id */
    uint32_t *territory_region;   /* territory id - 1 -> region index */
    int64_t *territory_pipeline;  /* territory id - 1 -> sum of final amounts */
    rs_part opp_split, null_split, recent_split, stage_split, close_chg_split;
    uint64_t n_nonnull, n_missing, n_recent, n_history;
    uint32_t stage_chg_max;
    rs_perm rep_names, account_names;
    unsigned attempt;
    double k; /* global amount factor */
    int64_t pipeline_total;
    unsigned threads; /* for the analysis passes */
    /* Shared by every emitter: dates as "YYYY-MM-DD" with their quotes (12
     * bytes of every 16) and the escaped tokens. */
    int32_t date_lo, date_n;
    char *dates;
    rs_ftoks tok;
    size_t product_max_esc;
};

/* Ids lo..hi (1-based, empty when lo > hi) of part k of `parts` near-equal
 * contiguous parts of 1..n. */
void rs_gen_part_range(uint64_t n, uint64_t k, uint64_t parts, uint64_t *lo, uint64_t *hi);
/* History events of the first `opps` opportunities (a prefix sum, O(log N)). */
uint64_t rs_model_history_before(const rs_gen *g, uint64_t opps);

/* Reps dealt round-robin to territory position `pos` (0-based). */
uint64_t rs_model_reps_at(const rs_gen *g, uint32_t pos);
/* Rep fields: territory id, region index, state index (into region's list). */
void rs_model_rep(const rs_gen *g, uint64_t id, uint32_t *territory, uint32_t *region, uint32_t *state);
/* The state alone, for a rep whose region is known (an account's owner is
 * in the account's territory). */
uint32_t rs_model_rep_state(const rs_gen *g, uint64_t id, uint32_t region);
int64_t rs_model_quota(const rs_gen *g, uint32_t territory);
/* Account fields except nopps/first_opp, which the caller sets from opp_split. */
void rs_model_account(const rs_gen *g, uint64_t id, rs_account *a);
/* Only what the analysis passes need: territory, revenue, developers, TAM. */
void rs_model_account_tam(const rs_gen *g, uint64_t id, rs_account *a);
/* An account's amounts: raw_j = round(X * U_j), scaled down to the TAM if
 * their sum passes it, times the global factor k, scaled down again. Kept
 * per opportunity for accounts with up to RS_AMOUNT_CACHE of them (all but
 * odd settings); larger accounts redraw each amount where it is needed. */
#define RS_AMOUNT_CACHE 64
typedef struct rs_amounts {
    double x;             /* TAM * coverage */
    int64_t raw_sum;      /* sum of raw_j */
    int64_t scaled_sum;   /* sum after scaling down to TAM */
    int64_t factored_sum; /* sum of round(scaled_j * k) */
    int64_t final_sum;    /* sum of the final amounts */
    bool cached;          /* raw and final hold every amount */
    int64_t raw[RS_AMOUNT_CACHE], final[RS_AMOUNT_CACHE];
} rs_amounts;

/* Computes the sums; with_factor false stops before the factor (k not
 * known yet): then only raw_sum and scaled_sum are set. */
void rs_model_amounts(const rs_gen *g, const rs_account *a, bool with_factor, rs_amounts *am);
/* Amount j (0-based) of the account before the global factor. */
int64_t rs_model_amount_scaled(const rs_gen *g, const rs_account *a, const rs_amounts *am, uint64_t j);
/* Final amount j: after the global factor and the second scale-down
 * (rs_model_amounts with the factor first). */
int64_t rs_model_amount_final(const rs_gen *g, const rs_account *a, const rs_amounts *am, uint64_t j);

void rs_opp_walk_init(rs_opp_walk *w, const rs_gen *g, uint64_t first_id);
void rs_model_opp(const rs_gen *g, rs_opp_walk *w, rs_opp_core *o);
/* The opportunity's history events in stream order; returns their count. */
unsigned rs_model_history(const rs_gen *g, const rs_opp_core *o, rs_event ev[RS_MAX_EVENTS]);

/* x / d, and x % d in *r: 32-bit division when both fit (names, reps;
 * 64-bit division costs several times more on common x86). */
static inline uint64_t rs_divmod(uint64_t x, uint64_t d, uint64_t *r)
{
    if ((x | d) <= UINT32_MAX) {
        uint32_t q = (uint32_t)x / (uint32_t)d;
        *r = (uint32_t)x - q * (uint32_t)d;
        return q;
    }
    *r = x % d;
    return x / d;
}

/* Name index helpers: base index into the name space and the " (n)" number
 * (0 when none) of entity index i (0-based) under a permutation. */
void rs_model_name(const rs_perm *p, uint64_t i, uint64_t *base, uint64_t *dup);

#endif
