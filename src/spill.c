/* External sort: sorted runs in memory, zstd-compressed runs in one
 * unlinked temp file, k-way merges over them (spill.h). */
#include "spill.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define MIN_BUDGET (64u << 10)
#define STAGE (256u << 10)  /* serialised records handed to the compressor at once */
#define RD_IN (64u << 10)   /* compressed bytes a run reader reads at once */
#define RD_BUF (64u << 10)  /* a run reader's first decompression buffer */
/* Runs are written fast (level 1) with a small window, so that a reader
 * needs little memory and many runs can be merged at once. */
#ifndef RUN_LEVEL
#define RUN_LEVEL 1
#endif
/* Records ahead to prefetch when writing a run in key order. */
#define PREFETCH_AHEAD 48
#define RUN_WINDOW_LOG 17
/* A decoder's memory for that window: the window, one block, tables
 * (ZSTD_estimateDStreamSize is not in the stable API). */
#define DSTREAM_COST (384u << 10)
#define MIN_FAN_IN 8
#define MAX_FAN_IN 1024
/* Per record in memory: its entry, half an entry of merge-sort scratch, and
 * slack for the entry array's growth. */
#define ENTRY_COST 32

typedef struct ent {
    uint64_t key, off; /* off: arena offset of [u32 length][bytes] */
} ent;

typedef struct run {
    uint64_t start, end; /* compressed byte range in the temp file */
} run;

typedef struct reader {
    uint64_t off, end;
    ZSTD_DStream *ds;
    unsigned char *in;
    size_t in_len, in_pos;
    char *buf;
    size_t cap, pos, len;
    size_t frame_left;
    uint64_t key;
    const char *rec;
    size_t rlen;
} reader;

/* A k-way merge over readers: a binary heap ordered by (key, reader index),
 * so equal keys come out in run order. */
typedef struct merger {
    reader *rd;
    size_t nrd;
    size_t *heap;
    size_t nheap;
    bool pending; /* the top was handed out and must advance first */
} merger;

enum { MODE_ADD, MODE_MEMORY, MODE_RUNS, MODE_DONE };

struct rs_sorter {
    uint64_t budget;
    char tmpdir[1024];
    int mode;
    char *arena;
    size_t alen, acap;
    ent *ents, *aux;
    size_t n, ecap, auxcap;
    size_t it;
    int fd;
    uint64_t fend;
    ZSTD_CCtx *cc;
    char *stage, *zout;
    size_t slen, zcap;
    uint64_t run_start;
    run *runs;
    size_t nruns, rcap;
    merger m;
    rs_sorter_stats st;
};

static int nomem(rs_err *err)
{
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return RS_ENOMEM;
}

int rs_sorter_create(rs_sorter **out, uint64_t budget, const char *tmpdir, rs_err *err)
{
    rs_sorter *s = calloc(1, sizeof *s);
    if (!s)
        return nomem(err);
    s->budget = budget < MIN_BUDGET ? MIN_BUDGET : budget;
    if (!tmpdir || !*tmpdir)
        tmpdir = getenv("TMPDIR");
    snprintf(s->tmpdir, sizeof s->tmpdir, "%s", tmpdir && *tmpdir ? tmpdir : "/tmp");
    s->fd = -1;
    *out = s;
    return 0;
}

void rs_sorter_get_stats(const rs_sorter *s, rs_sorter_stats *st)
{
    *st = s->st;
}

/* ---- varints ---- */

static size_t put_varint(char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (char)v;
    return n;
}

/* Reads a varint from p[0..n): bytes used, or 0 if incomplete/invalid. */
static size_t get_varint(const char *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        unsigned char c = (unsigned char)p[i];
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* ---- the temp file ---- */

static int tmp_open(rs_sorter *s, rs_err *err)
{
    /* No signal between creating and unlinking: nothing can be left. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    char tpl[1100];
    snprintf(tpl, sizeof tpl, "%s/revops-stream-merge.XXXXXX", s->tmpdir);
    s->fd = mkostemp(tpl, O_CLOEXEC);
    int e = errno;
    if (s->fd >= 0)
        unlink(tpl);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (s->fd < 0) {
        snprintf(err->msg, sizeof err->msg, "%.300s: cannot create a temp file to spill to: %s", s->tmpdir,
                 strerror(e));
        return RS_EIO;
    }
    return 0;
}

static int tmp_write(rs_sorter *s, const void *buf, size_t n, rs_err *err)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(s->fd, p, n, (off_t)s->fend);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err->msg, sizeof err->msg, "%.300s: cannot spill to a temp file: %s", s->tmpdir,
                     w < 0 ? strerror(errno) : "no space written");
            return RS_EIO;
        }
        p += w;
        n -= (size_t)w;
        s->fend += (uint64_t)w;
        s->st.spilled_bytes += (uint64_t)w;
    }
    return 0;
}

/* ---- run writer ---- */

static int compress_some(rs_sorter *s, const void *p, size_t n, ZSTD_EndDirective mode, rs_err *err)
{
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {s->zout, s->zcap, 0};
        size_t r = ZSTD_compressStream2(s->cc, &out, &in, mode);
        if (ZSTD_isError(r)) {
            snprintf(err->msg, sizeof err->msg, "compressing a spill run: %s", ZSTD_getErrorName(r));
            return RS_EIO;
        }
        if (out.pos) {
            int rc = tmp_write(s, s->zout, out.pos, err);
            if (rc)
                return rc;
        }
        if (mode == ZSTD_e_end ? r == 0 : in.pos == in.size)
            return 0;
    }
}

static int run_begin(rs_sorter *s, rs_err *err)
{
    if (s->fd < 0) {
        int rc = tmp_open(s, err);
        if (rc)
            return rc;
    }
    if (!s->cc) {
        s->cc = ZSTD_createCCtx();
        s->zcap = ZSTD_CStreamOutSize();
        s->zout = malloc(s->zcap);
        s->stage = malloc(STAGE);
        if (!s->cc || !s->zout || !s->stage)
            return nomem(err);
        ZSTD_CCtx_setParameter(s->cc, ZSTD_c_compressionLevel, RUN_LEVEL);
        ZSTD_CCtx_setParameter(s->cc, ZSTD_c_windowLog, RUN_WINDOW_LOG);
        /* A damaged spill run must fail the merge, not change its output. */
        ZSTD_CCtx_setParameter(s->cc, ZSTD_c_checksumFlag, 1);
    }
    ZSTD_CCtx_reset(s->cc, ZSTD_reset_session_only);
    s->slen = 0;
    s->run_start = s->fend;
    return 0;
}

static int run_put(rs_sorter *s, uint64_t key, const char *rec, size_t len, rs_err *err)
{
    int rc;
    if (s->slen + 20 + len > STAGE) {
        if ((rc = compress_some(s, s->stage, s->slen, ZSTD_e_continue, err)))
            return rc;
        s->slen = 0;
    }
    s->slen += put_varint(s->stage + s->slen, key);
    s->slen += put_varint(s->stage + s->slen, len);
    if (20 + len > STAGE) {
        /* A record bigger than the stage goes straight from its memory. */
        if ((rc = compress_some(s, s->stage, s->slen, ZSTD_e_continue, err)) ||
            (rc = compress_some(s, rec, len, ZSTD_e_continue, err)))
            return rc;
        s->slen = 0;
        return 0;
    }
    memcpy(s->stage + s->slen, rec, len);
    s->slen += len;
    return 0;
}

static int run_end(rs_sorter *s, run *out, rs_err *err)
{
    int rc = compress_some(s, s->stage, s->slen, ZSTD_e_end, err);
    s->slen = 0;
    out->start = s->run_start;
    out->end = s->fend;
    return rc;
}

static int add_run(rs_sorter *s, run r, rs_err *err)
{
    if (s->nruns == s->rcap) {
        size_t nc = s->rcap ? s->rcap * 2 : 16;
        run *nr = realloc(s->runs, nc * sizeof *nr);
        if (!nr)
            return nomem(err);
        s->runs = nr;
        s->rcap = nc;
    }
    s->runs[s->nruns++] = r;
    return 0;
}

/* ---- in-memory sort ---- */

static inline bool ent_lt(const ent *a, const ent *b)
{
    return a->key < b->key || (a->key == b->key && a->off < b->off);
}

static void isort(ent *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        ent x = a[i];
        size_t j = i;
        while (j > 0 && ent_lt(&x, &a[j - 1])) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Merge sort with n/2 entries of scratch; ordered halves cost one compare,
 * so input already in order (or nearly) sorts in linear time. */
static void msort(ent *a, ent *t, size_t n)
{
    if (n <= 24) {
        isort(a, n);
        return;
    }
    size_t h = n / 2;
    msort(a, t, h);
    msort(a + h, t, n - h);
    if (!ent_lt(&a[h], &a[h - 1]))
        return;
    memcpy(t, a, h * sizeof *t);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        a[k++] = ent_lt(&a[j], &t[i]) ? a[j++] : t[i++];
    while (i < h)
        a[k++] = t[i++];
}

static int sort_memory(rs_sorter *s, rs_err *err)
{
    size_t need = s->n / 2 + 1;
    if (s->auxcap < need) {
        free(s->aux);
        s->aux = malloc(need * sizeof *s->aux);
        if (!s->aux) {
            s->auxcap = 0;
            return nomem(err);
        }
        s->auxcap = need;
    }
    msort(s->ents, s->aux, s->n);
    return 0;
}

static inline const char *ent_rec(const rs_sorter *s, const ent *e, size_t *len)
{
    uint32_t l;
    memcpy(&l, s->arena + e->off, 4);
    *len = l;
    return s->arena + e->off + 4;
}

/* Sorts what memory holds and writes it as one run. */
static int spill(rs_sorter *s, rs_err *err)
{
    int rc = sort_memory(s, err);
    if (rc == 0)
        rc = run_begin(s, err);
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        /* Records are visited in key order, scattered over the arena: ask
         * for them ahead instead of waiting on each miss. */
        if (i + PREFETCH_AHEAD < s->n) {
            const char *ahead = s->arena + s->ents[i + PREFETCH_AHEAD].off;
            __builtin_prefetch(ahead);
            __builtin_prefetch(ahead + 64);
        }
        size_t len;
        const char *rec = ent_rec(s, &s->ents[i], &len);
        rc = run_put(s, s->ents[i].key, rec, len, err);
    }
    run r;
    if (rc == 0)
        rc = run_end(s, &r, err);
    if (rc == 0)
        rc = add_run(s, r, err);
    s->n = 0;
    s->alen = 0;
    s->st.runs++;
    return rc;
}

int rs_sorter_reserve(rs_sorter *s, size_t max, char **dst, rs_err *err)
{
    size_t need = 4 + max;
    if (s->n > 0 && s->alen + need + ENTRY_COST * (s->n + 1) > s->budget) {
        int rc = spill(s, err);
        if (rc)
            return rc;
    }
    if (s->alen + need > s->acap) {
        size_t nc = s->acap ? s->acap * 2 : MIN_BUDGET;
        while (nc < s->alen + need)
            nc *= 2;
        if (nc > s->budget)
            nc = s->budget > s->alen + need ? s->budget : s->alen + need;
        char *na = realloc(s->arena, nc);
        if (!na)
            return nomem(err);
        s->arena = na;
        s->acap = nc;
    }
    if (s->n == s->ecap) {
        size_t nc = s->ecap ? s->ecap * 2 : 1024;
        ent *ne = realloc(s->ents, nc * sizeof *ne);
        if (!ne)
            return nomem(err);
        s->ents = ne;
        s->ecap = nc;
    }
    *dst = s->arena + s->alen + 4;
    return 0;
}

void rs_sorter_commit(rs_sorter *s, uint64_t key, size_t len)
{
    uint32_t l = (uint32_t)len;
    memcpy(s->arena + s->alen, &l, 4);
    s->ents[s->n].key = key;
    s->ents[s->n].off = s->alen;
    s->n++;
    s->alen += 4 + len;
    s->st.records++;
}

/* ---- run readers ---- */

static void rd_free(reader *r)
{
    ZSTD_freeDStream(r->ds);
    free(r->in);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

static int rd_open(reader *r, run rn, rs_err *err)
{
    memset(r, 0, sizeof *r);
    r->off = rn.start;
    r->end = rn.end;
    r->ds = ZSTD_createDStream();
    r->in = malloc(RD_IN);
    r->buf = malloc(RD_BUF);
    r->cap = RD_BUF;
    r->frame_left = 1;
    if (!r->ds || !r->in || !r->buf) {
        rd_free(r);
        return nomem(err);
    }
    ZSTD_initDStream(r->ds);
    return 0;
}

static int corrupt(rs_err *err, const char *what)
{
    snprintf(err->msg, sizeof err->msg, "spill temp file: %s", what);
    return RS_EIO;
}

/* Decompresses more of the run behind what buf holds: 1 when bytes were
 * added, 0 at the run's end. */
static int rd_fill(int fd, reader *r, rs_err *err)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len == r->cap) {
        char *nb = realloc(r->buf, r->cap * 2);
        if (!nb)
            return nomem(err);
        r->buf = nb;
        r->cap *= 2;
    }
    size_t before = r->len;
    for (;;) {
        if (r->in_pos == r->in_len && r->off < r->end) {
            size_t want = r->end - r->off < RD_IN ? (size_t)(r->end - r->off) : RD_IN;
            ssize_t n = pread(fd, r->in, want, (off_t)r->off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                snprintf(err->msg, sizeof err->msg, "spill temp file: read failed: %s",
                         n < 0 ? strerror(errno) : "unexpected end");
                return RS_EIO;
            }
            r->off += (uint64_t)n;
            r->in_len = (size_t)n;
            r->in_pos = 0;
        }
        ZSTD_outBuffer o = {r->buf, r->cap, r->len};
        ZSTD_inBuffer i = {r->in, r->in_len, r->in_pos};
        size_t z = ZSTD_decompressStream(r->ds, &o, &i);
        if (ZSTD_isError(z))
            return corrupt(err, ZSTD_getErrorName(z));
        if (i.pos > r->in_pos || o.pos > r->len || z == 0)
            r->frame_left = z;
        r->in_pos = i.pos;
        r->len = o.pos;
        if (r->len > before)
            return 1;
        if (r->in_pos == r->in_len && r->off == r->end) {
            if (r->frame_left != 0)
                return corrupt(err, "a run ends early");
            return 0;
        }
    }
}

/* Moves to the run's next record: 1, or 0 at its end. */
static int rd_next(int fd, reader *r, rs_err *err)
{
    for (;;) {
        uint64_t key, len;
        const char *p = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        size_t a = get_varint(p, avail, &key);
        size_t b = a ? get_varint(p + a, avail - a, &len) : 0;
        if (b && avail - a - b >= len) {
            r->key = key;
            r->rec = p + a + b;
            r->rlen = (size_t)len;
            r->pos += a + b + (size_t)len;
            return 1;
        }
        int rc = rd_fill(fd, r, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return r->len == r->pos ? 0 : corrupt(err, "a run ends inside a record");
    }
}

/* ---- k-way merge ---- */

static inline bool heap_lt(const merger *m, size_t a, size_t b)
{
    const reader *x = &m->rd[a], *y = &m->rd[b];
    return x->key < y->key || (x->key == y->key && a < b);
}

static void sift_down(merger *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, k = i;
        if (l < m->nheap && heap_lt(m, m->heap[l], m->heap[k]))
            k = l;
        if (r < m->nheap && heap_lt(m, m->heap[r], m->heap[k]))
            k = r;
        if (k == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[k];
        m->heap[k] = t;
        i = k;
    }
}

static void merger_free(merger *m)
{
    for (size_t i = 0; i < m->nrd; i++)
        rd_free(&m->rd[i]);
    free(m->rd);
    free(m->heap);
    memset(m, 0, sizeof *m);
}

static int merger_open(rs_sorter *s, merger *m, const run *runs, size_t n, rs_err *err)
{
    memset(m, 0, sizeof *m);
    m->rd = calloc(n ? n : 1, sizeof *m->rd);
    m->heap = malloc((n ? n : 1) * sizeof *m->heap);
    if (!m->rd || !m->heap) {
        merger_free(m);
        return nomem(err);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = rd_open(&m->rd[i], runs[i], err);
        m->nrd = i + 1;
        if (rc == 0)
            rc = rd_next(s->fd, &m->rd[i], err);
        if (rc < 0) {
            merger_free(m);
            return rc;
        }
        if (rc > 0)
            m->heap[m->nheap++] = i;
    }
    for (size_t i = m->nheap / 2; i-- > 0;)
        sift_down(m, i);
    return 0;
}

static int merger_next(rs_sorter *s, merger *m, uint64_t *key, const char **rec, size_t *len, rs_err *err)
{
    if (m->pending) {
        m->pending = false;
        size_t top = m->heap[0];
        int rc = rd_next(s->fd, &m->rd[top], err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            /* This run is done: its memory goes at once. */
            rd_free(&m->rd[top]);
            m->heap[0] = m->heap[--m->nheap];
        }
        sift_down(m, 0);
    }
    if (m->nheap == 0)
        return 0;
    const reader *r = &m->rd[m->heap[0]];
    *key = r->key;
    *rec = r->rec;
    *len = r->rlen;
    m->pending = true;
    return 1;
}

static size_t fan_in(const rs_sorter *s)
{
    uint64_t per = RD_IN + 2 * RD_BUF + DSTREAM_COST;
    uint64_t f = s->budget / per;
    return f < MIN_FAN_IN ? MIN_FAN_IN : f > MAX_FAN_IN ? MAX_FAN_IN : (size_t)f;
}

/* Merges consecutive groups of runs into longer runs (keeping their order,
 * so equal keys keep theirs) until one merge can take them all. */
static int merge_passes(rs_sorter *s, rs_err *err)
{
    size_t f = fan_in(s);
    while (s->nruns > f) {
        size_t out = 0;
        for (size_t g = 0; g < s->nruns; g += f) {
            size_t k = s->nruns - g < f ? s->nruns - g : f;
            if (k == 1) {
                s->runs[out++] = s->runs[g];
                continue;
            }
            merger m;
            int rc = merger_open(s, &m, s->runs + g, k, err);
            if (rc)
                return rc;
            rc = run_begin(s, err);
            uint64_t key;
            const char *rec;
            size_t len;
            while (rc == 0 && (rc = merger_next(s, &m, &key, &rec, &len, err)) > 0)
                rc = run_put(s, key, rec, len, err);
            merger_free(&m);
            run r;
            if (rc == 0)
                rc = run_end(s, &r, err);
            if (rc)
                return rc;
            /* Give the merged runs' disk space back (best effort). */
            for (size_t i = g; i < g + k; i++)
                (void)fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)s->runs[i].start,
                                (off_t)(s->runs[i].end - s->runs[i].start));
            s->runs[out++] = r;
        }
        s->nruns = out;
        s->st.merge_passes++;
    }
    return 0;
}

int rs_sorter_finish(rs_sorter *s, rs_err *err)
{
    int rc;
    if (s->nruns == 0) {
        if ((rc = sort_memory(s, err)))
            return rc;
        s->mode = MODE_MEMORY;
        s->it = 0;
        return 0;
    }
    if (s->n > 0 && (rc = spill(s, err)))
        return rc;
    /* The readers take the memory the records held. */
    free(s->arena);
    free(s->ents);
    free(s->aux);
    s->arena = NULL;
    s->ents = s->aux = NULL;
    s->acap = s->ecap = s->auxcap = 0;
    if ((rc = merge_passes(s, err)))
        return rc;
    ZSTD_freeCCtx(s->cc);
    free(s->stage);
    free(s->zout);
    s->cc = NULL;
    s->stage = s->zout = NULL;
    if ((rc = merger_open(s, &s->m, s->runs, s->nruns, err)))
        return rc;
    s->mode = MODE_RUNS;
    return 0;
}

int rs_sorter_next(rs_sorter *s, uint64_t *key, const char **rec, size_t *len, rs_err *err)
{
    if (s->mode == MODE_MEMORY) {
        if (s->it == s->n)
            return 0;
        const ent *e = &s->ents[s->it++];
        *key = e->key;
        *rec = ent_rec(s, e, len);
        return 1;
    }
    if (s->mode == MODE_RUNS)
        return merger_next(s, &s->m, key, rec, len, err);
    snprintf(err->msg, sizeof err->msg, "sorter: next before finish");
    return RS_EIO;
}

void rs_sorter_free(rs_sorter *s)
{
    if (!s)
        return;
    merger_free(&s->m);
    free(s->arena);
    free(s->ents);
    free(s->aux);
    free(s->runs);
    ZSTD_freeCCtx(s->cc);
    free(s->stage);
    free(s->zout);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}
