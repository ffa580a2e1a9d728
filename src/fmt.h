/* Formatting primitives for the hot path (SPEC 7): each writes at p and
 * returns the new end, so the cursor lives in a register rather than in a
 * struct that every byte store might alias. No bounds checks: the caller
 * reserves a record's worth plus RS_FMT_SLACK, the bytes that the fixed-size
 * copies below may write past the end of what they mean to write. */
#ifndef RS_FMT_H
#define RS_FMT_H

#include <stdint.h>
#include <string.h>

#define RS_FMT_SLACK 64

/* Copies at most this many bytes with one fixed-size copy (rs_put_short). */
#define RS_FMT_SHORT 32

#define RS_FMT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static const char rs_put_pairs[200] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                      "8081828384858687888990919293949596979899";

/* Decimal digits of v (v may be 0). */
static inline unsigned rs_put_ndigits(uint64_t v)
{
    static const uint64_t pow10[20] = {1ULL,
                                       10ULL,
                                       100ULL,
                                       1000ULL,
                                       10000ULL,
                                       100000ULL,
                                       1000000ULL,
                                       10000000ULL,
                                       100000000ULL,
                                       1000000000ULL,
                                       10000000000ULL,
                                       100000000000ULL,
                                       1000000000000ULL,
                                       10000000000000ULL,
                                       100000000000000ULL,
                                       1000000000000000ULL,
                                       10000000000000000ULL,
                                       100000000000000000ULL,
                                       1000000000000000000ULL,
                                       10000000000000000000ULL};
    /* log10(2) ~ 1233/4096: a guess from the bit length, off by at most one.
     * v | 1 has as many digits as v (powers of ten above 1 are even). */
    v |= 1;
    unsigned t = (unsigned)(64 - __builtin_clzll(v)) * 1233 >> 12;
    return t + (v >= pow10[t]);
}

/* Two digits at a time from the end; 32-bit arithmetic once v fits. */
static inline char *rs_put_u64(char *p, uint64_t v)
{
    char *end = p + rs_put_ndigits(v), *q = end;
    while (v > UINT32_MAX) {
        q -= 2;
        memcpy(q, rs_put_pairs + (v % 100) * 2, 2);
        v /= 100;
    }
    uint32_t w = (uint32_t)v;
    while (w >= 100) {
        q -= 2;
        memcpy(q, rs_put_pairs + (w % 100) * 2, 2);
        w /= 100;
    }
    if (w >= 10)
        memcpy(q - 2, rs_put_pairs + w * 2, 2);
    else
        q[-1] = (char)('0' + w);
    return end;
}

static inline char *rs_put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return rs_put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return rs_put_u64(p, (uint64_t)v);
}

/* n bytes of s, where s may be read RS_FMT_SHORT bytes past its start
 * (tokens in a padded arena): one fixed-size copy for short strings. */
static inline char *rs_put_short(char *p, const char *s, size_t n)
{
    if (n <= RS_FMT_SHORT)
        memcpy(p, s, RS_FMT_SHORT);
    else
        memcpy(p, s, n);
    return p + n;
}

#endif
