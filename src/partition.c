#include "partition.h"
#include "rng.h"

#include "revops/revops.h"

#include <math.h>
#include <stdlib.h>

void rs_part_init(rs_part *p, uint64_t key, uint64_t n, uint64_t total, uint64_t lo, uint64_t hi)
{
    p->key = key;
    p->n = n;
    p->total = total;
    p->lo = lo;
    p->hi = hi;
    p->narrow = (unsigned __int128)n * hi <= UINT64_MAX;
    p->block = hi - lo <= 2 ? RS_PART_BLOCK : 1;
    p->tab_len = 0;
    p->tab_at = NULL;
    p->tab = NULL;
}

void rs_part_free(rs_part *p)
{
    free(p->tab_at);
    free(p->tab);
    p->tab_at = NULL;
    p->tab = NULL;
    p->tab_len = 0;
}

/* An approximately standard normal draw: the Irwin-Hall sum of the four
 * 16-bit quarters of one hash, scaled to unit variance. Cheap, and identical
 * on every platform. */
#define QUARTERS_MAX (4u * 0xffffu)

static inline uint32_t quarters(uint64_t h)
{
    return (uint32_t)((h & 0xffff) + ((h >> 16) & 0xffff) + ((h >> 32) & 0xffff) + (h >> 48));
}

static inline double normal_q(uint32_t q)
{
    return ((double)q * 0x1.0p-16 - 2.0) * 1.7320508075688772;
}

static inline uint64_t clamp_draw(double x, uint64_t min, uint64_t max)
{
    /* Signed conversions are one instruction each; unsigned ones are not. */
    if (max <= INT64_MAX) {
        if (!(x >= (double)(int64_t)min))
            return min;
        if (x >= (double)(int64_t)max)
            return max;
        return (uint64_t)(int64_t)x;
    }
    if (!(x >= (double)min))
        return min;
    if (x >= (double)max)
        return max;
    return (uint64_t)x;
}

static inline uint64_t draw_q(uint32_t q, double mean, double sd, uint64_t min, uint64_t max)
{
    return clamp_draw(rs_round_even(mean + sd * normal_q(q)), min, max);
}

uint64_t rs_part_draw_total(uint64_t h, double mean_total, double var_total, uint64_t min, uint64_t max)
{
    return draw_q(quarters(h), mean_total, sqrt(var_total > 0 ? var_total : 0), min, max);
}

/* The left sum's bounds for node (len, sum), len >= 2: it must leave the
 * right half a feasible sum too. */
static inline void bounds(const rs_part *p, uint64_t len, uint64_t sum, uint64_t *min_out, uint64_t *max_out)
{
    uint64_t nl = len / 2, nr = len - nl, min, max;
    if (p->narrow) {
        uint64_t right_max = nr * p->hi;
        min = sum > right_max ? sum - right_max : 0;
        if (min < nl * p->lo)
            min = nl * p->lo;
        max = sum - nr * p->lo;
        if (max > nl * p->hi)
            max = nl * p->hi;
    } else {
        unsigned __int128 right_max = (unsigned __int128)nr * p->hi, right_min = (unsigned __int128)nr * p->lo;
        unsigned __int128 left_max = (unsigned __int128)nl * p->hi;
        min = (unsigned __int128)sum > right_max ? (uint64_t)(sum - right_max) : 0;
        if ((unsigned __int128)min < (unsigned __int128)nl * p->lo)
            min = nl * p->lo;
        max = sum - (uint64_t)right_min;
        if ((unsigned __int128)max > left_max)
            max = (uint64_t)left_max;
    }
    *min_out = min;
    *max_out = max;
}

/* Mean in proportion to size; variance of nl slots drawn from len slots
 * whose values average m (exact for 0/1 slots and for uniform slots). */
static void node_params(const rs_part *p, uint64_t len, uint64_t sum, double *mean, double *sd)
{
    uint64_t nl = len / 2, nr = len - nl;
    double m = (double)sum / (double)len, w = (double)(p->hi - p->lo);
    double var_slot = w > 0 ? (m - (double)p->lo) * ((double)p->hi - m) * (w + 2.0) / (3.0 * w) : 0.0;
    double var = var_slot * (double)nl * (double)nr / (double)(len - 1);
    *mean = (double)sum * (double)nl / (double)len;
    *sd = sqrt(var > 0 ? var : 0);
}

/* Sum given to the left half of node (start, len, sum), len >= 2. Inlined:
 * the iterators call it about once per slot. */
static inline __attribute__((always_inline)) uint64_t split_left(const rs_part *p, uint64_t start, uint64_t len,
                                                                 uint64_t sum)
{
    if (len <= p->tab_len && p->tab_at[len] >= 0) {
        const rs_part_node *nd = &p->tab[p->tab_at[len] + (int64_t)(sum - len * p->lo)];
        if (nd->span == 0)
            return nd->min;
        uint32_t q = quarters(rs_draw(p->key, start, len));
        if (nd->span <= 3)
            return nd->min + (q >= nd->cut[0]) + (q >= nd->cut[1]) + (q >= nd->cut[2]);
        return draw_q(q, nd->mean, nd->sd, nd->min, nd->min + nd->span);
    }
    uint64_t min, max;
    bounds(p, len, sum, &min, &max);
    if (min >= max)
        return min;
    double mean, sd;
    node_params(p, len, sum, &mean, &sd);
    return draw_q(quarters(rs_draw(p->key, start, len)), mean, sd, min, max);
}

/* Node lengths at one depth differ by at most one (halving keeps them
 * within floor and ceiling of n / 2^depth), so a tree has at most two per
 * depth and the table covers every short node within its budget. */
#define TAB_BUDGET 4096 /* entries */

/* The node of (len, sum) for the table; cuts by bisection over q, each the
 * least q whose left sum reaches min + v. */
static rs_part_node tab_node(const rs_part *p, uint64_t len, uint64_t sum)
{
    rs_part_node nd = {0, 0, 0, 0, {UINT32_MAX, UINT32_MAX, UINT32_MAX}};
    uint64_t min, max;
    bounds(p, len, sum, &min, &max);
    nd.min = min;
    if (min >= max)
        return nd;
    nd.span = (uint32_t)(max - min);
    node_params(p, len, sum, &nd.mean, &nd.sd);
    for (uint32_t v = 1; nd.span <= 3 && v <= nd.span; v++) {
        uint32_t a = 0, b = QUARTERS_MAX + 1; /* answer in [a, b]; b: none */
        while (a < b) {
            uint32_t m = a + (b - a) / 2;
            if (draw_q(m, nd.mean, nd.sd, min, max) >= min + v)
                b = m;
            else
                a = m + 1;
        }
        if (a <= QUARTERS_MAX)
            nd.cut[v - 1] = a;
    }
    return nd;
}

int rs_part_tabulate(rs_part *p)
{
    rs_part_free(p);
    uint64_t w = p->hi - p->lo;
    if (p->n <= p->block || w > TAB_BUDGET)
        return 0;
    /* The shortest lengths first, while they fit in the budget. */
    uint64_t lens[130];
    size_t nlens = 0;
    uint64_t a = p->n, b = p->n; /* the two lengths of a depth, a <= b */
    while (b > p->block) { /* blocks are not split */
        lens[nlens++] = b;
        if (a != b && a > p->block)
            lens[nlens++] = a;
        a = a / 2;
        b = b - b / 2;
    }
    uint64_t entries = 0, max_len = 0;
    for (size_t i = nlens; i-- > 0;) {
        if (lens[i] > TAB_BUDGET || entries + lens[i] * w + 1 > TAB_BUDGET)
            break;
        entries += lens[i] * w + 1;
        max_len = lens[i];
    }
    if (!entries)
        return 0;
    p->tab_at = malloc((max_len + 1) * sizeof *p->tab_at);
    p->tab = malloc(entries * sizeof *p->tab);
    if (!p->tab_at || !p->tab) {
        rs_part_free(p);
        return RS_ENOMEM;
    }
    for (uint64_t len = 0; len <= max_len; len++)
        p->tab_at[len] = -1;
    int64_t at = 0;
    for (size_t i = nlens; i-- > 0 && lens[i] <= max_len;) {
        uint64_t len = lens[i];
        if (p->tab_at[len] >= 0)
            continue;
        p->tab_at[len] = at;
        for (uint64_t s = 0; s <= len * w; s++)
            p->tab[at++] = tab_node(p, len, len * p->lo + s);
    }
    p->tab_len = max_len;
    return 0;
}

/* Blocks: a node of at most RS_PART_BLOCK slots whose values span at most
 * 2 (hi - lo <= 2) is not split further. Its sum - len * lo units go to a
 * uniformly random subset of its len * (hi - lo) unit places (w places per
 * slot), which is what independent slots of lo + Binomial(w, q) would give
 * once their sum is known. A few hashes fill a block of 64 slots, where the
 * tree would draw 63 splits. Any procedure that treats the places alike and
 * ends with exactly that many chosen gives that uniform subset; this one
 * starts from random bits of about the right density and adds or removes
 * places picked at random until the count is right. */
typedef struct rand_words {
    uint64_t state, word;
    int halves; /* 32-bit halves of word still unused */
} rand_words;

static inline uint64_t next_word(rand_words *r)
{
    r->state += 0x9e3779b97f4a7c15ULL;
    return rs_mix64(r->state);
}

/* A uniform place in [0, m). */
static inline uint32_t next_place(rand_words *r, uint32_t m)
{
    if (r->halves == 0) {
        r->word = next_word(r);
        r->halves = 2;
    }
    uint32_t half = (uint32_t)r->word;
    r->word >>= 32;
    r->halves--;
    return (uint32_t)(((uint64_t)half * m) >> 32);
}

/* Set bits of x; portable (the baseline x86-64 has no popcnt instruction). */
static inline unsigned ones(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

/* Place k of a block (k < len * w): slot k / w (k >> (w - 1) for w <= 2),
 * in word k % w, so slot i's value is lo + bit i of m[0] + bit i of m[1]. */
static void block_fill(const rs_part *p, uint64_t start, uint64_t len, uint64_t sum, uint64_t m[2])
{
    unsigned w = (unsigned)(p->hi - p->lo), shift = w - 1;
    uint32_t places = (uint32_t)(len * w), units = (uint32_t)(sum - len * p->lo);
    uint64_t full = len == 64 ? ~0ULL : (1ULL << len) - 1;
    m[0] = m[1] = 0;
    if (units == 0)
        return;
    if (units == places) {
        m[0] = full;
        m[1] = w == 2 ? full : 0;
        return;
    }
    /* Choose the fewer of the chosen and the unchosen places. */
    bool flip = units > places / 2;
    uint32_t want = flip ? places - units : units;
    rand_words r = {rs_draw(p->key, start, len), 0, 0};
    /* Start near the wanted density: none, a quarter or a half. */
    if (8 * want >= places) {
        for (unsigned k = 0; k < w; k++) {
            m[k] = next_word(&r);
            if (8 * want < 3 * places)
                m[k] &= next_word(&r);
            m[k] &= full;
        }
    }
    uint32_t have = ones(m[0]) + ones(m[1]);
    while (have != want) {
        uint32_t k = next_place(&r, places);
        uint64_t bit = 1ULL << (k >> shift);
        uint64_t *word = &m[k & shift];
        if (have < want && !(*word & bit)) {
            *word |= bit;
            have++;
        } else if (have > want && (*word & bit)) {
            *word &= ~bit;
            have--;
        }
    }
    if (flip) {
        m[0] ^= full;
        m[1] ^= w == 2 ? full : 0;
    }
}

/* A block's slots: slot i of it holds base + bit i of m0 + bit i of m1.
 * A one-slot node of any tree is the block base = sum. */
static inline void block_load(const rs_part *p, uint64_t start, uint64_t len, uint64_t sum, uint64_t *base,
                              uint64_t m[2])
{
    if (len == 1) {
        *base = sum;
        m[0] = m[1] = 0;
        return;
    }
    *base = p->lo;
    block_fill(p, start, len, sum, m);
}

/* Walks from the root to one slot, chosen by slot index or (by_unit) by a
 * unit it holds; returns the slot, its value and the sum before it. */
static uint64_t descend(const rs_part *p, bool by_unit, uint64_t target, uint64_t *before, uint64_t *value)
{
    uint64_t start = 0, len = p->n, sum = p->total, acc = 0;
    while (len > p->block) {
        uint64_t nl = len / 2, left = split_left(p, start, len, sum);
        if (by_unit ? target < acc + left : target < start + nl) {
            len = nl;
            sum = left;
        } else {
            acc += left;
            start += nl;
            len -= nl;
            sum -= left;
        }
    }
    uint64_t base, m[2];
    block_load(p, start, len, sum, &base, m);
    for (uint64_t i = 0;; i++) {
        uint64_t v = base + ((m[0] >> i) & 1) + ((m[1] >> i) & 1);
        if (i + 1 == len || (by_unit ? target < acc + v : target == start + i)) {
            *before = acc;
            *value = v;
            return start + i;
        }
        acc += v;
    }
}

uint64_t rs_part_value(const rs_part *p, uint64_t i, uint64_t *before)
{
    uint64_t acc, value;
    descend(p, false, i, &acc, &value);
    if (before)
        *before = acc;
    return value;
}

uint64_t rs_part_locate(const rs_part *p, uint64_t pos, uint64_t *before)
{
    uint64_t value;
    return descend(p, true, pos, before, &value);
}

/* Makes the block (start, len, sum) the iterator's current one, its first
 * `skip` slots already passed. */
static void iter_load(rs_part_iter *it, uint64_t start, uint64_t len, uint64_t sum, uint64_t skip)
{
    uint64_t m[2];
    block_load(it->p, start, len, sum, &it->base, m);
    it->m0 = skip < 64 ? m[0] >> skip : 0;
    it->m1 = skip < 64 ? m[1] >> skip : 0;
    it->left = len - skip;
}

void rs_part_iter_init(rs_part_iter *it, const rs_part *p, uint64_t from)
{
    it->p = p;
    it->depth = 0;
    it->left = 0;
    if (p->n == 0 || from >= p->n)
        return;
    /* Walk to the block of slot `from`, keeping every right sibling still to visit. */
    uint64_t start = 0, len = p->n, sum = p->total;
    while (len > p->block) {
        uint64_t nl = len / 2, left = split_left(p, start, len, sum);
        if (from < start + nl) {
            it->stack[it->depth].start = start + nl;
            it->stack[it->depth].len = len - nl;
            it->stack[it->depth].sum = sum - left;
            it->depth++;
            len = nl;
            sum = left;
        } else {
            start += nl;
            len -= nl;
            sum -= left;
        }
    }
    iter_load(it, start, len, sum, from - start);
}

uint64_t rs_part_iter_descend(rs_part_iter *it)
{
    if (it->depth == 0)
        return 0;
    it->depth--;
    uint64_t start = it->stack[it->depth].start, len = it->stack[it->depth].len, sum = it->stack[it->depth].sum;
    while (len > it->p->block) {
        uint64_t nl = len / 2, left = split_left(it->p, start, len, sum);
        it->stack[it->depth].start = start + nl;
        it->stack[it->depth].len = len - nl;
        it->stack[it->depth].sum = sum - left;
        it->depth++;
        len = nl;
        sum = left;
    }
    iter_load(it, start, len, sum, 0);
    return rs_part_iter_next(it);
}
