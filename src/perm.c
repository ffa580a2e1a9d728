#include "perm.h"
#include "rng.h"

void rs_perm_init(rs_perm *p, uint64_t key, uint64_t n)
{
    unsigned bits = 1;
    while (bits < 64 && (1ULL << bits) < n)
        bits++;
    p->n = n;
    p->mask = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
    p->shift = (bits + 1) / 2;
    for (unsigned r = 0; r < RS_PERM_ROUNDS; r++) {
        p->mul[r] = (rs_draw(key, r, 0) | 1) & p->mask;
        p->add[r] = rs_draw(key, r, 1) & p->mask;
    }
}

static uint64_t rounds(const rs_perm *p, uint64_t x)
{
    /* Each step is a bijection on [0, 2^bits): odd multipliers are
     * invertible modulo 2^bits, and x ^ (x >> s) is undone from the top. */
    for (unsigned r = 0; r < RS_PERM_ROUNDS; r++) {
        x = (x * p->mul[r] + p->add[r]) & p->mask;
        x ^= x >> p->shift;
    }
    return x;
}

uint64_t rs_perm_apply(const rs_perm *p, uint64_t x)
{
    /* 2^bits < 2n, so this loop runs under twice on average; it ends because
     * the rounds are a bijection on their domain. */
    do
        x = rounds(p, x);
    while (x >= p->n);
    return x;
}
