/* A seeded pseudo-random permutation of [0, n), evaluated point by point:
 * a balanced Feistel network on the smallest even bit width covering n,
 * cycle-walking until the value falls inside the domain. Used to give every
 * entity a distinct name without remembering the names already used. */
#ifndef RS_PERM_H
#define RS_PERM_H

#include <stdint.h>

typedef struct rs_perm {
    uint64_t key, n;
    unsigned half_bits;
    uint64_t half_mask;
} rs_perm;

void rs_perm_init(rs_perm *p, uint64_t key, uint64_t n);
/* The image of x (x < n). */
uint64_t rs_perm_apply(const rs_perm *p, uint64_t x);

#endif
