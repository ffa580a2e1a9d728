/* Counter-based random source: every draw is a pure function of
 * (seed, stream, id, field), so any record can be computed on its own,
 * in any order, on any thread or machine. */
#ifndef RS_RNG_H
#define RS_RNG_H

#include <math.h>
#include <stdint.h>

/* The splitmix64 finaliser: a bijection on 64 bits with full avalanche. */
static inline uint64_t rs_mix64(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z;
}

/* Streams: one per kind of decision, so adding a draw to one never shifts
 * another. */
enum rs_stream {
    RS_S_INDUSTRY = 1,
    RS_S_ACCOUNT,
    RS_S_OPP_SPLIT,
    RS_S_AMOUNT,
    RS_S_TERRITORY,
    RS_S_REP,
    RS_S_OPPORTUNITY,
    RS_S_NULL_SPLIT,
    RS_S_RECENT_SPLIT,
    RS_S_STAGE_SPLIT,
    RS_S_CLOSECHG_SPLIT,
    RS_S_HISTORY,
    RS_S_NAME_PERM,
    RS_S_TOTALS,
};

/* Key of one stream under one seed; compute once, reuse per draw. */
static inline uint64_t rs_key(uint64_t seed, uint64_t stream)
{
    return rs_mix64(rs_mix64(seed ^ 0x6a09e667f3bcc909ULL) ^ (stream * 0xd1b54a32d192ed03ULL));
}

/* The draw for (id, field) in a keyed stream: one finaliser over a point of
 * a keyed lattice, as splitmix64 is one over a keyed line (a second
 * finaliser around the lattice point cost 8% of generate's time). */
static inline uint64_t rs_draw(uint64_t key, uint64_t id, uint64_t field)
{
    return rs_mix64(key ^ (id * 0x9e3779b97f4a7c15ULL + field * 0xc2b2ae3d27d4eb4fULL + 1));
}

/* Uniform double in [0, 1) from the top 53 bits. */
static inline double rs_u01(uint64_t h)
{
    return (double)(h >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n) (multiply-shift; bias below 2^-24 for n < 2^40). */
static inline uint64_t rs_below(uint64_t h, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)h * n) >> 64);
}

/* The same from 32 bits, for draws that split one hash in two halves
 * (ranges far below 2^32, uniforms that need no finer grain). */
static inline double rs_u01_32(uint32_t h)
{
    return (double)h * 0x1.0p-32;
}

static inline uint32_t rs_below_32(uint32_t h, uint32_t n)
{
    return (uint32_t)(((uint64_t)h * n) >> 32);
}

/* Uniform double in [lo, hi]. */
static inline double rs_uniform(uint64_t h, double lo, double hi)
{
    return lo + (hi - lo) * rs_u01(h);
}

/* nearbyint in the default rounding mode (half to even), without the
 * library call: below 2^52, adding and subtracting 2^52 rounds; from there
 * on every double is already an integer. The same result for every input. */
static inline double rs_round_even(double y)
{
    double a = fabs(y);
    if (!(a < 0x1p52))
        return y;
    return copysign((a + 0x1p52) - 0x1p52, y);
}

#endif
