/* A random-access split of an exact total over n slots.
 *
 * Slot values lie in [lo, hi] and sum to exactly `total`. The split is a
 * balanced binary tree: each node (start, len, sum) gives its left half a
 * sum drawn near sum * left/len from its own key, so any slot's value and the
 * sum of the slots before it come from one root-to-leaf walk (O(log n)), and
 * an iterator visits the slots in order in amortised O(1) with O(log n)
 * memory. Nothing is stored per slot. When values span at most 2, the walk
 * stops at blocks of up to RS_PART_BLOCK slots, each filled whole from a
 * few hashes (partition.c). */
#ifndef RS_PARTITION_H
#define RS_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

/* A short node's split, precomputed (rs_part_tabulate). The left sum is
 * clamp(round(mean + sd * normal(q)), min, min + span) for the quarter sum q
 * of the node's hash (partition.c), a non-decreasing function of q; when
 * span <= 3 it is min plus the number of cuts <= q, with no arithmetic. */
typedef struct rs_part_node {
    double mean, sd;
    uint64_t min;
    uint32_t span;
    uint32_t cut[3]; /* UINT32_MAX: never reached */
} rs_part_node;

typedef struct rs_part {
    uint64_t key;
    uint64_t n, total, lo, hi;
    bool narrow; /* n * hi fits in 64 bits: bounds without 128-bit products */
    uint64_t block; /* nodes of at most this many slots are filled whole (partition.c) */
    /* Optional (rs_part_tabulate): every node of length <= tab_len, at
     * tab[tab_at[len] + sum - len * lo]; tab_at[len] is -1 for lengths the
     * tree does not have. */
    uint64_t tab_len;
    int64_t *tab_at;
    rs_part_node *tab;
} rs_part;

/* Requires n * lo <= total <= n * hi (checked by the caller). Allocates
 * nothing; rs_part_free is needed only after rs_part_tabulate. */
void rs_part_init(rs_part *p, uint64_t key, uint64_t n, uint64_t total, uint64_t lo, uint64_t hi);
/* Precomputes the splits of the short nodes (nearly all of them) so a split
 * there costs a hash and a table look-up, no division, square root or
 * rounding; the values are the same either way. At most about 200 KiB.
 * 0 or RS_ENOMEM. */
int rs_part_tabulate(rs_part *p);
void rs_part_free(rs_part *p);
/* Value of slot i (0-based); *before gets the sum of slots 0..i-1. */
uint64_t rs_part_value(const rs_part *p, uint64_t i, uint64_t *before);

/* The slot holding unit `pos` (0 <= pos < total) when slot i holds units
 * before(i) .. before(i) + value(i) - 1; *before gets that slot's before. */
uint64_t rs_part_locate(const rs_part *p, uint64_t pos, uint64_t *before);

/* Slots per block when hi - lo <= 2: the places of a block fit two words. */
#define RS_PART_BLOCK 64

typedef struct rs_part_iter {
    const rs_part *p;
    /* The current block's slots still to come: base + bit 0 of m0 + bit 0 of m1 next. */
    uint64_t base, m0, m1, left;
    int depth;
    struct {
        uint64_t start, len, sum;
    } stack[66];
} rs_part_iter;

/* Starts an in-order walk at slot `from`. */
void rs_part_iter_init(rs_part_iter *it, const rs_part *p, uint64_t from);
/* The next slot when the current block is used up. */
uint64_t rs_part_iter_descend(rs_part_iter *it);

/* Value of the next slot (the caller counts slots; past the end returns 0).
 * Slots of the current block come inline. */
static inline uint64_t rs_part_iter_next(rs_part_iter *it)
{
    if (it->left) {
        uint64_t v = it->base + (it->m0 & 1) + (it->m1 & 1);
        it->m0 >>= 1;
        it->m1 >>= 1;
        it->left--;
        return v;
    }
    return rs_part_iter_descend(it);
}

/* A draw near n * mean with the spread of n independent slots of the given
 * variance each, clamped to [min, max]: for choosing totals. */
uint64_t rs_part_draw_total(uint64_t h, double mean_total, double var_total, uint64_t min, uint64_t max);

#endif
