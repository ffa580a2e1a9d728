/* A random-access split of an exact total over n slots.
 *
 * Slot values lie in [lo, hi] and sum to exactly `total`. The split is a
 * balanced binary tree: each node (start, len, sum) gives its left half a
 * sum drawn near sum * left/len from its own key, so any slot's value and the
 * sum of the slots before it come from one root-to-leaf walk (O(log n)), and
 * an iterator visits the slots in order in amortised O(1) with O(log n)
 * memory. Nothing is stored per slot. */
#ifndef RS_PARTITION_H
#define RS_PARTITION_H

#include <stdint.h>

typedef struct rs_part {
    uint64_t key;
    uint64_t n, total, lo, hi;
} rs_part;

/* Requires n * lo <= total <= n * hi (checked by the caller). */
void rs_part_init(rs_part *p, uint64_t key, uint64_t n, uint64_t total, uint64_t lo, uint64_t hi);
/* Value of slot i (0-based); *before gets the sum of slots 0..i-1. */
uint64_t rs_part_value(const rs_part *p, uint64_t i, uint64_t *before);

/* The slot holding unit `pos` (0 <= pos < total) when slot i holds units
 * before(i) .. before(i) + value(i) - 1; *before gets that slot's before. */
uint64_t rs_part_locate(const rs_part *p, uint64_t pos, uint64_t *before);

typedef struct rs_part_iter {
    const rs_part *p;
    int depth;
    struct {
        uint64_t start, len, sum;
    } stack[66];
} rs_part_iter;

/* Starts an in-order walk at slot `from`. */
void rs_part_iter_init(rs_part_iter *it, const rs_part *p, uint64_t from);
/* Value of the next slot (the caller counts slots; past the end returns 0). */
uint64_t rs_part_iter_next(rs_part_iter *it);

/* A draw near n * mean with the spread of n independent slots of the given
 * variance each, clamped to [min, max]: for choosing totals. */
uint64_t rs_part_draw_total(uint64_t h, double mean_total, double var_total, uint64_t min, uint64_t max);

#endif
