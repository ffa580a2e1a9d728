/* A seeded pseudo-random permutation of [0, n), evaluated point by point:
 * keyed rounds of bijections on b-bit integers (multiply by an odd number
 * and add, modulo 2^b; xor with the value shifted right), with 2^b the
 * smallest power of two >= n, cycle-walking until the value falls inside
 * [0, n). Used to give every entity a distinct name without remembering the
 * names already used. */
#ifndef RS_PERM_H
#define RS_PERM_H

#include <stdint.h>

#define RS_PERM_ROUNDS 3

typedef struct rs_perm {
    uint64_t n, mask;
    unsigned shift;
    uint64_t mul[RS_PERM_ROUNDS], add[RS_PERM_ROUNDS];
} rs_perm;

void rs_perm_init(rs_perm *p, uint64_t key, uint64_t n);
/* The image of x (x < n). */
uint64_t rs_perm_apply(const rs_perm *p, uint64_t x);

#endif
