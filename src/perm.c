#include "perm.h"
#include "rng.h"

void rs_perm_init(rs_perm *p, uint64_t key, uint64_t n)
{
    unsigned bits = 2;
    while (bits < 64 && (1ULL << bits) < n)
        bits += 2;
    p->key = key;
    p->n = n;
    p->half_bits = bits / 2;
    p->half_mask = (1ULL << p->half_bits) - 1;
}

static uint64_t feistel(const rs_perm *p, uint64_t x)
{
    uint64_t l = x >> p->half_bits, r = x & p->half_mask;
    for (uint64_t round = 0; round < 4; round++) {
        uint64_t f = rs_draw(p->key, r, round) & p->half_mask;
        uint64_t t = l ^ f;
        l = r;
        r = t;
    }
    return (l << p->half_bits) | r;
}

uint64_t rs_perm_apply(const rs_perm *p, uint64_t x)
{
    /* The Feistel domain is at most 4n, so this loop runs 4 times on average;
     * it ends because the network is a bijection on its domain. */
    do
        x = feistel(p, x);
    while (x >= p->n);
    return x;
}
