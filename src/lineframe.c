/* Output stage for --kafka-key, --rate and --progress (see lineframe.h). */
#include "lineframe.h"
#include "cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define OBUF_BYTES (1u << 20)
/* The longest line head a key needs: {"type":"opportunity_history","data":{"id":
 * and twenty digits and the byte after them is 64 bytes. */
#define HEAD_MAX 128
#define PROGRESS_EVERY 0.25 /* seconds between progress refreshes */

struct lineframe {
    lineframe_options o;
    rs_write_fn write;
    void *write_ctx;
    lineframe_flush_fn flush;
    void *flush_ctx;
    rs_err err;

    /* --kafka-key */
    bool at_start;      /* the next input byte starts a line */
    char head[HEAD_MAX]; /* a line's head that a chunk cut short */
    size_t head_len;
    char *obuf; /* keyed output waiting to be released */
    size_t olen;

    /* --rate: the time (monotonic seconds) at which the next line may go */
    double next;
    uint64_t slice; /* lines per slice: 10 ms worth, at least 1 */

    /* --progress */
    double start, last_shown;
    uint64_t lines, bytes;
    int shown_width; /* of the last line, to blank what a shorter one leaves */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

int lineframe_open(lineframe **out, const lineframe_options *o, rs_write_fn write, void *write_ctx,
                   lineframe_flush_fn flush, void *flush_ctx, rs_err *err)
{
    lineframe *f = calloc(1, sizeof *f);
    if (!f || (o->kafka_key && !(f->obuf = malloc(OBUF_BYTES)))) {
        free(f);
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    f->o = *o;
    if (!f->o.progress_to)
        f->o.progress_to = stderr;
    f->write = write;
    f->write_ctx = write_ctx;
    f->flush = flush;
    f->flush_ctx = flush_ctx;
    f->at_start = true;
    f->start = f->last_shown = f->next = now_s();
    double per_slice = o->rate / 100;
    f->slice = per_slice < 1 ? 1 : per_slice > 1e9 ? 1000000000u : (uint64_t)per_slice;
    *out = f;
    return 0;
}

/* ---- progress ---- */

static void human_seconds(double s, char *out, size_t n)
{
    if (!(s >= 0) || s > 359999)
        snprintf(out, n, "?");
    else
        snprintf(out, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
}

/* Writes the progress line over the last one (\r), or the final one (\n). */
static void show_progress(lineframe *f, double now, bool final)
{
    char line[256];
    double elapsed = now - f->start;
    double mb = (double)f->bytes / 1e6;
    double mbps = elapsed > 0 ? mb / elapsed : 0;
    int n;
    if (final) {
        n = snprintf(line, sizeof line, RS_PROG ": %llu records, %.1f MB in %.1f s, %.1f MB/s",
                     (unsigned long long)f->lines, mb, elapsed, mbps);
    } else if (f->o.total_lines) {
        double frac = (double)f->lines / (double)f->o.total_lines;
        char eta[32];
        human_seconds(f->lines ? elapsed / frac - elapsed : -1, eta, sizeof eta);
        n = snprintf(line, sizeof line, RS_PROG ": %llu of %llu records (%.1f%%), %.1f MB, %.1f MB/s, ETA %s",
                     (unsigned long long)f->lines, (unsigned long long)f->o.total_lines, 100 * frac, mb, mbps,
                     eta);
    } else {
        n = snprintf(line, sizeof line, RS_PROG ": %llu records, %.1f MB, %.1f MB/s", (unsigned long long)f->lines,
                     mb, mbps);
    }
    int pad = f->shown_width > n ? f->shown_width - n : 0;
    fprintf(f->o.progress_to, "\r%s%*s%s", line, pad, "", final ? "\n" : "");
    fflush(f->o.progress_to);
    f->shown_width = n;
    f->last_shown = now;
}

/* Newlines in p[0..n): every byte of the stream passes here under
 * --progress, which a byte at a time doubled generate's CPU time. */
static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t c = 0;
    size_t i = 0;
#ifdef __SSE2__
    /* Sixteen bytes at a time (SSE2: every x86-64): a compare gives -1 per
     * newline, subtracted into per-byte counts, which are summed before
     * they can pass 255. */
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    while (n - i >= 16) {
        size_t blocks = (n - i) / 16 < 255 ? (n - i) / 16 : 255;
        __m128i counts = zero;
        for (size_t b = 0; b < blocks; b++, i += 16)
            counts = _mm_sub_epi8(counts, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), nl));
        __m128i sums = _mm_sad_epu8(counts, zero);
        c += (uint64_t)_mm_cvtsi128_si64(sums) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
    }
#endif
    for (; i < n; i++)
        c += p[i] == '\n';
    return c;
}

/* Hands bytes holding `lines` newlines to the sink and counts them. */
static int pass_on(lineframe *f, const char *p, size_t n, uint64_t lines)
{
    int rc = f->write(f->write_ctx, p, n);
    if (rc || !f->o.progress)
        return rc;
    f->bytes += n;
    f->lines += lines;
    double now = now_s();
    if (now - f->last_shown >= PROGRESS_EVERY)
        show_progress(f, now, false);
    return 0;
}

/* Releases keyed bytes: at once, or paced by --rate. */
static int release(lineframe *f, const char *p, size_t n)
{
    if (f->o.rate <= 0)
        return pass_on(f, p, n, f->o.progress ? count_lines(p, n) : 0);
    while (n > 0) {
        double now = now_s();
        if (now < f->next) {
            sleep_until(f->next);
            now = now_s();
        }
        /* After a stall (a slow reader), catch up by one slice at most. */
        double burst = (double)f->slice / f->o.rate;
        if (now - f->next > burst)
            f->next = now - burst;
        double due = (now - f->next) * f->o.rate + 1;
        uint64_t want = due >= (double)f->slice ? f->slice : (uint64_t)due;
        size_t take = 0;
        uint64_t got = 0;
        while (got < want && take < n) {
            const char *nl = memchr(p + take, '\n', n - take);
            if (!nl) { /* a line's start: it completes, and is paced, with the next bytes */
                take = n;
                break;
            }
            take = (size_t)(nl - p) + 1;
            got++;
        }
        int rc = pass_on(f, p, take, got);
        if (!rc && f->flush)
            rc = f->flush(f->flush_ctx);
        if (rc)
            return rc;
        f->next += (double)got / f->o.rate;
        p += take;
        n -= take;
    }
    return 0;
}

/* ---- --kafka-key ---- */

/* Reads the key off a line's head: 1 with the key in key[0..*klen), 0 when
 * the head is cut short (need more bytes), -1 when it is no stream record. */
static int parse_key(const char *p, size_t n, char *key, size_t *klen)
{
    static const char open[] = "{\"type\":\"", data[] = ",\"data\":{\"id\":";
    size_t i = 0, lo = sizeof open - 1;
    for (; i < lo; i++) {
        if (i == n)
            return 0;
        if (p[i] != open[i])
            return -1;
    }
    for (;; i++) {
        if (i == n)
            return 0;
        if (p[i] == '"')
            break;
        if (!((p[i] >= 'a' && p[i] <= 'z') || p[i] == '_') || i - lo >= 32)
            return -1;
    }
    size_t tlen = i - lo;
    if (tlen == 0)
        return -1;
    memcpy(key, p + lo, tlen);
    *klen = tlen;
    if ((tlen == 6 && memcmp(key, "header", 6) == 0) || (tlen == 6 && memcmp(key, "footer", 6) == 0))
        return 1;
    i++;
    for (size_t j = 0; j < sizeof data - 1; j++, i++) {
        if (i == n)
            return 0;
        if (p[i] != data[j])
            return -1;
    }
    key[(*klen)++] = ':';
    size_t d0 = i;
    for (;; i++) {
        if (i == n)
            return 0;
        if (p[i] < '0' || p[i] > '9')
            break;
        if (i - d0 >= 20)
            return -1;
        key[(*klen)++] = p[i];
    }
    return i > d0 ? 1 : -1;
}

static int bad_line(lineframe *f)
{
    snprintf(f->err.msg, sizeof f->err.msg, "--kafka-key: a line that is not a stream record");
    return RS_EDATA;
}

/* Appends to the keyed output, releasing it when full. */
static int oput(lineframe *f, const char *p, size_t n)
{
    while (n > 0) {
        if (f->olen == OBUF_BYTES) {
            int rc = release(f, f->obuf, f->olen);
            f->olen = 0;
            if (rc)
                return rc;
        }
        size_t k = OBUF_BYTES - f->olen < n ? OBUF_BYTES - f->olen : n;
        memcpy(f->obuf + f->olen, p, k);
        f->olen += k;
        p += k;
        n -= k;
    }
    return 0;
}

static int put_key(lineframe *f, const char *key, size_t klen)
{
    int rc = oput(f, key, klen);
    return rc ? rc : oput(f, "\t", 1);
}

static int key_chunk(lineframe *f, const char *p, size_t n)
{
    char key[64];
    size_t klen;
    int rc = 0;
    if (f->head_len) { /* a head cut short by the last chunk: complete it */
        size_t add = HEAD_MAX - f->head_len < n ? HEAD_MAX - f->head_len : n;
        char tmp[HEAD_MAX];
        memcpy(tmp, f->head, f->head_len);
        memcpy(tmp + f->head_len, p, add);
        int r = parse_key(tmp, f->head_len + add, key, &klen);
        if (r < 0 || (r == 0 && f->head_len + add == HEAD_MAX))
            return bad_line(f);
        if (r == 0) { /* still short: keep all of it */
            memcpy(f->head + f->head_len, p, add);
            f->head_len += add;
            return 0;
        }
        if ((rc = put_key(f, key, klen)) || (rc = oput(f, f->head, f->head_len)))
            return rc;
        f->head_len = 0;
        f->at_start = false;
    }
    while (n > 0) {
        if (f->at_start) {
            int r = parse_key(p, n, key, &klen);
            if (r < 0 || (r == 0 && n >= HEAD_MAX))
                return bad_line(f);
            if (r == 0) {
                memcpy(f->head, p, n);
                f->head_len = n;
                break;
            }
            if ((rc = put_key(f, key, klen)))
                return rc;
            f->at_start = false;
        }
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) + 1 : n;
        if ((rc = oput(f, p, k)))
            return rc;
        f->at_start = nl != NULL;
        p += k;
        n -= k;
    }
    /* Nothing waits here between chunks but a cut head: a slow stream's
     * lines go out as they come. */
    rc = f->olen ? release(f, f->obuf, f->olen) : 0;
    f->olen = 0;
    return rc;
}

int lineframe_write_cb(void *ctx, const char *buf, size_t len)
{
    lineframe *f = ctx;
    if (f->o.kafka_key)
        return key_chunk(f, buf, len);
    return release(f, buf, len);
}

int lineframe_finish(lineframe *f, bool ok)
{
    int rc = 0;
    if (ok && f->o.kafka_key && (f->head_len || !f->at_start))
        rc = bad_line(f);
    if (f->o.progress)
        show_progress(f, now_s(), true);
    return rc;
}

const rs_err *lineframe_error(const lineframe *f)
{
    return &f->err;
}

void lineframe_free(lineframe *f)
{
    if (!f)
        return;
    free(f->obuf);
    free(f);
}
