#include "partition.h"
#include "rng.h"

#include <math.h>
#include <stdbool.h>

void rs_part_init(rs_part *p, uint64_t key, uint64_t n, uint64_t total, uint64_t lo, uint64_t hi)
{
    p->key = key;
    p->n = n;
    p->total = total;
    p->lo = lo;
    p->hi = hi;
}

/* An approximately standard normal draw: the Irwin-Hall sum of the four
 * 16-bit quarters of one hash, scaled to unit variance. Cheap, and identical
 * on every platform. */
static double normal(uint64_t h)
{
    double s = (double)((h & 0xffff) + ((h >> 16) & 0xffff) + ((h >> 32) & 0xffff) + (h >> 48));
    return (s * 0x1.0p-16 - 2.0) * 1.7320508075688772;
}

uint64_t rs_part_draw_total(uint64_t h, double mean_total, double var_total, uint64_t min, uint64_t max)
{
    double x = nearbyint(mean_total + sqrt(var_total > 0 ? var_total : 0) * normal(h));
    if (!(x >= (double)min))
        return min;
    if (x >= (double)max)
        return max;
    return (uint64_t)x;
}

/* Sum given to the left half of node (start, len, sum), len >= 2. */
static uint64_t split_left(const rs_part *p, uint64_t start, uint64_t len, uint64_t sum)
{
    uint64_t nl = len / 2, nr = len - nl;
    /* The left sum must leave the right half a feasible sum too. */
    unsigned __int128 right_max = (unsigned __int128)nr * p->hi, right_min = (unsigned __int128)nr * p->lo;
    unsigned __int128 left_max = (unsigned __int128)nl * p->hi;
    uint64_t min = (unsigned __int128)sum > right_max ? (uint64_t)(sum - right_max) : 0;
    if ((unsigned __int128)min < (unsigned __int128)nl * p->lo)
        min = nl * p->lo;
    uint64_t max = sum - (uint64_t)right_min;
    if ((unsigned __int128)max > left_max)
        max = (uint64_t)left_max;
    if (min >= max)
        return min;
    /* Mean in proportion to size; variance of nl slots drawn from len slots
     * whose values average m (exact for 0/1 slots and for uniform slots). */
    double m = (double)sum / (double)len, w = (double)(p->hi - p->lo);
    double var_slot = w > 0 ? (m - (double)p->lo) * ((double)p->hi - m) * (w + 2.0) / (3.0 * w) : 0.0;
    double var = var_slot * (double)nl * (double)nr / (double)(len - 1);
    return rs_part_draw_total(rs_draw(p->key, start, len), (double)sum * (double)nl / (double)len, var, min, max);
}

/* Walks from the root to one slot, chosen by slot index or (by_unit) by a
 * unit it holds; returns the slot, its value and the sum before it. */
static uint64_t descend(const rs_part *p, bool by_unit, uint64_t target, uint64_t *before, uint64_t *value)
{
    uint64_t start = 0, len = p->n, sum = p->total, acc = 0;
    while (len > 1) {
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
    *before = acc;
    *value = sum;
    return start;
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

void rs_part_iter_init(rs_part_iter *it, const rs_part *p, uint64_t from)
{
    it->p = p;
    it->depth = 0;
    if (p->n == 0 || from >= p->n)
        return;
    /* Walk to slot `from`, keeping every right sibling still to visit. */
    uint64_t start = 0, len = p->n, sum = p->total;
    while (len > 1) {
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
    it->stack[it->depth].start = start;
    it->stack[it->depth].len = 1;
    it->stack[it->depth].sum = sum;
    it->depth++;
}

uint64_t rs_part_iter_next(rs_part_iter *it)
{
    if (it->depth == 0)
        return 0;
    it->depth--;
    uint64_t start = it->stack[it->depth].start, len = it->stack[it->depth].len, sum = it->stack[it->depth].sum;
    while (len > 1) {
        uint64_t nl = len / 2, left = split_left(it->p, start, len, sum);
        it->stack[it->depth].start = start + nl;
        it->stack[it->depth].len = len - nl;
        it->stack[it->depth].sum = sum - left;
        it->depth++;
        len = nl;
        sum = left;
    }
    return sum;
}
