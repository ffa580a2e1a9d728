/* NDJSON stream reader: one record per line, checked against SPEC 2.
 *
 * Lines are cut in a read buffer that grows only as far as the longest line
 * (capped at 16 MiB, so memory stays flat), checked for what yajl does not
 * check (NUL, strict UTF-8, surrogate escapes), then parsed by one reusable
 * yajl handle whose callbacks fill the record in place. Strings without
 * escapes point into the line itself; decoded ones are copied to an arena as
 * large as the line. Input compressed with zstd is decoded on the way in
 * (zstd_in.c). */
#include "bgthread.h"
#include "fdio.h"
#include "mapin.h"
#include "pyjson.h"
#include "zstd_in.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define LINE_LIMIT (16u << 20)
/* Small enough that the buffer is still in the core's cache when the line
 * is parsed, after read() copied it there (1 MiB was ~8% slower). */
#define READ_CHUNK (256u << 10)

static const char *const TYPE_NAMES[RS_NTYPES] = {"territory", "rep", "account", "opportunity",
                                                  "opportunity_history"};

static const char *const RECORD_WHAT[RS_NTYPES] = {"territory record", "rep record", "account record",
                                                   "opportunity record", "opportunity_history record"};

const char *rs_type_name(rs_type t)
{
    return (unsigned)t < RS_NTYPES ? TYPE_NAMES[t] : "?";
}

int rs_type_parse(const char *s, size_t len)
{
    for (int t = 0; t < RS_NTYPES; t++)
        if (strlen(TYPE_NAMES[t]) == len && memcmp(TYPE_NAMES[t], s, len) == 0)
            return t;
    return -1;
}

const char *const *rs_type_fields(rs_type t, unsigned *nfields)
{
    const rs_fields *f = rs_entity_fields(t);
    if (!f) {
        *nfields = 0;
        return NULL;
    }
    *nfields = f->n;
    return f->names;
}

/* Header and footer shapes. */
static const char *const HDR_N[] = {"schema", "generated_at", "generator", "seed",
                                    "as_of",  "settings",     "counts",    "shard"};
static const unsigned HDR_K[] = {RS_K_STR,
                                 RS_K_STR,
                                 RS_K_STR,
                                 RS_K_INT | RS_K_U64 | RS_K_NULL,
                                 RS_K_STR | RS_K_NULL,
                                 RS_K_STR | RS_K_NULL,
                                 RS_K_MAP,
                                 RS_K_MAP};
enum { H_SCHEMA, H_GENAT, H_GENERATOR, H_SEED, H_ASOF, H_SETTINGS, H_COUNTS, H_SHARD, H_N };
static const rs_fields HDR_F = {HDR_N, HDR_K, H_N};

static const char *const FTR_N[] = {"records", "shard"};
static const unsigned FTR_K[] = {RS_K_MAP, RS_K_MAP};
enum { F_RECORDS, F_SHARD, F_N };
static const rs_fields FTR_F = {FTR_N, FTR_K, F_N};

#define CNT (RS_K_INT | RS_K_NONNEG)
static const char *const COUNTS_N[] = {"reps", "accounts", "opportunities"};
static const unsigned COUNTS_K[] = {CNT, CNT, CNT};
static const rs_fields COUNTS_F = {COUNTS_N, COUNTS_K, 3};
static const char *const SHARD_N[] = {"index", "count"};
static const unsigned SHARD_K[] = {CNT, CNT};
static const rs_fields SHARD_F = {SHARD_N, SHARD_K, 2};
static const unsigned RECORDS_K[RS_NTYPES] = {CNT, CNT, CNT, CNT, CNT};
static const rs_fields RECORDS_F = {TYPE_NAMES, RECORDS_K, RS_NTYPES};
#undef CNT

/* Where the callbacks are in the line's JSON. */
enum { ENV_TYPE_KEY, ENV_TYPE_VAL, ENV_DATA_KEY, ENV_DATA_VAL, ENV_END, ENV_DONE };
enum { KIND_HEADER = RS_NTYPES, KIND_FOOTER };

typedef struct pstate {
    rs_record *rec;
    int lvl; /* 0 outside, 1 envelope, 2 data, 3 counts/shard/records */
    int env;
    int kind; /* rs_type, KIND_HEADER or KIND_FOOTER */
    const char *what; /* names the record in messages */
    const rs_fields *f; /* data level */
    unsigned fi;
    int pend;
    rs_value dv[RS_MAX_FIELDS]; /* header/footer data values */
    const rs_fields *sf; /* sub level */
    unsigned sfi;
    int spend, sub; /* sub: which data field the sub map is */
    bool subset;
    rs_value sv[RS_NTYPES];
    bool sseen[RS_NTYPES];
    const char *lbeg, *lend; /* the line: strings inside it need no copy */
    char *arena;
    size_t alen;
    char msg[400];
} pstate;

/* Reading ahead on a thread of its own (rs_ndjson_read_ahead): it fills
 * slots with what rs_zin_read gives (read() or zstd decoding), the reader
 * copies them into its buffer in order. Three slots of 1 MiB: with 128 KiB
 * ones the reads and wake-ups cost a checked merge of 767 MB 0.73 s instead
 * of 0.63 s (medians of 9; 2 and 4 MiB were no better, nor were 4 slots;
 * 2 were slower). */
#define AHEAD_SLOTS 3
#define AHEAD_SLOT (1024u << 10)

typedef struct ahead_slot {
    char *buf;
    size_t n, off; /* bytes in it, bytes taken */
    int rc;        /* rs_zin_read's error, with err (n is 0) */
    rs_err err;
} ahead_slot;

typedef struct ahead {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv_data, cv_room;
    ahead_slot slot[AHEAD_SLOTS];
    unsigned head, count; /* filled slots: head, head + 1, ... (mod AHEAD_SLOTS) */
    bool stop, ended;     /* stop asked; the thread queued the end or an error */
    bool waiting;         /* the thread sleeps until half the slots are free */
    bool joined;
} ahead;

struct rs_ndjson_reader {
    int fd;
    bool own_fd, eof;
    char name[256];
    rs_zin *zin;
    char *buf;
    size_t cap, start, end, scanned;
    size_t chunk; /* bytes asked for per read */
    uint64_t line;
    yajl_handle yh;
    pstate ps;
    char *arena;
    size_t arena_cap;
    bool want_ahead; /* read ahead once the first read is done */
    ahead *ah;       /* the thread, while it runs; it alone uses zin then */
    rs_mapin *map;   /* a regular file's mapping, once reading ahead */
    const char *map_base; /* its bytes: buf, unless the file outgrew them */
    size_t map_len;
};

static int perr(pstate *p, const char *fmt, const char *a, const char *b)
{
    snprintf(p->msg, sizeof p->msg, fmt, a, b);
    return 0; /* yajl: cancel */
}

static const char *store_str(pstate *p, const unsigned char *s, size_t len)
{
    const char *c = (const char *)s;
    if (c >= p->lbeg && c + len <= p->lend)
        return c;
    /* Decoded text is never longer than its escaped source, so the arena
     * (sized to the line) cannot overflow. */
    char *d = p->arena + p->alen;
    memcpy(d, s, len);
    p->alen += len;
    return d;
}

static bool same(const unsigned char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int set_kind(pstate *p, const char *s, size_t len)
{
    if (same((const unsigned char *)s, len, "header")) {
        p->kind = KIND_HEADER;
        p->f = &HDR_F;
        memset(&p->rec->header, 0, sizeof p->rec->header);
        p->what = "header";
    } else if (same((const unsigned char *)s, len, "footer")) {
        p->kind = KIND_FOOTER;
        p->f = &FTR_F;
        memset(&p->rec->footer, 0, sizeof p->rec->footer);
        p->what = "footer";
    } else {
        int t = rs_type_parse(s, len);
        if (t < 0) {
            char q[64];
            rs_quote_for_msg(q, sizeof q, s, len);
            return perr(p, "unknown record type %s%s", q, "");
        }
        p->kind = t;
        p->f = rs_entity_fields((rs_type)t);
        p->what = RECORD_WHAT[t];
    }
    return 1;
}

static const char *tok_name(rs_jtok t)
{
    static const char *const n[] = {"null", "boolean", "number", "string", "object", "array"};
    return n[t];
}

static int on_value(pstate *p, rs_jtok tok, const char *s, size_t len, int b)
{
    switch (p->lvl) {
    case 0:
        if (p->env == ENV_DONE)
            return perr(p, "more than one JSON value on the line%s%s", "", "");
        if (tok != RS_J_MAP)
            return perr(p, "expected a JSON object, got %s%s", tok_name(tok), "");
        p->lvl = 1;
        p->env = ENV_TYPE_KEY;
        return 1;
    case 1:
        if (p->env == ENV_TYPE_VAL) {
            if (tok != RS_J_STR)
                return perr(p, "\"type\" must be a string, got %s%s", tok_name(tok), "");
            if (!set_kind(p, s, len))
                return 0;
            p->env = ENV_DATA_KEY;
            return 1;
        }
        /* ENV_DATA_VAL */
        if (tok != RS_J_MAP)
            return perr(p, "%s: \"data\" must be an object, got %s", p->what, tok_name(tok));
        p->lvl = 2;
        p->fi = 0;
        p->pend = -1;
        if (p->kind < RS_NTYPES) {
            p->rec->kind = RS_REC_ENTITY;
            p->rec->entity.type = (rs_type)p->kind;
            p->rec->entity.nfields = p->f->n;
        }
        return 1;
    case 2: {
        rs_value *out = p->kind < RS_NTYPES ? &p->rec->entity.v[p->pend] : &p->dv[p->pend];
        if (rs_fields_value(p->f, (unsigned)p->pend, tok, s, len, b, out, p->what, p->msg, sizeof p->msg))
            return 0;
        if (tok == RS_J_MAP) {
            p->lvl = 3;
            p->sub = p->pend;
            p->sfi = 0;
            p->spend = -1;
            p->subset = false;
            const char *n = p->f->names[p->pend];
            if (strcmp(n, "counts") == 0) {
                p->sf = &COUNTS_F;
            } else if (strcmp(n, "shard") == 0) {
                p->sf = &SHARD_F;
            } else {
                p->sf = &RECORDS_F;
                p->subset = true;
            }
            memset(p->sseen, 0, sizeof p->sseen);
            p->what = p->sf == &COUNTS_F ? "header: counts" : p->sf == &RECORDS_F ? "footer: records"
                      : p->kind == KIND_HEADER     ? "header: shard"
                                                   : "footer: shard";
        }
        p->pend = -1;
        return 1;
    }
    default: {
        if (rs_fields_value(p->sf, (unsigned)p->spend, tok, s, len, b, &p->sv[p->spend], p->what, p->msg,
                            sizeof p->msg))
            return 0;
        p->sseen[p->spend] = true;
        p->spend = -1;
        return 1;
    }
    }
}

static int cb_null(void *ctx)
{
    return on_value(ctx, RS_J_NULL, NULL, 0, 0);
}

static int cb_bool(void *ctx, int b)
{
    return on_value(ctx, RS_J_BOOL, NULL, 0, b);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    return on_value(ctx, RS_J_NUMBER, s, len, 0);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    pstate *p = ctx;
    return on_value(p, RS_J_STR, store_str(p, s, len), len, 0);
}

static int cb_start_map(void *ctx)
{
    return on_value(ctx, RS_J_MAP, NULL, 0, 0);
}

static int cb_start_array(void *ctx)
{
    return on_value(ctx, RS_J_ARRAY, NULL, 0, 0);
}

static int cb_end_array(void *ctx)
{
    (void)ctx;
    return 0; /* unreachable: every array start is refused */
}

static int cb_key(void *ctx, const unsigned char *k, size_t len)
{
    pstate *p = ctx;
    const char *key = (const char *)k;
    char q[64];
    int i;
    switch (p->lvl) {
    case 1:
        if (p->env == ENV_TYPE_KEY && same(k, len, "type")) {
            p->env = ENV_TYPE_VAL;
            return 1;
        }
        if (p->env == ENV_DATA_KEY && same(k, len, "data")) {
            p->env = ENV_DATA_VAL;
            return 1;
        }
        rs_quote_for_msg(q, sizeof q, key, len);
        if (p->env == ENV_TYPE_KEY)
            return perr(p, "expected \"type\" as the first key, got %s%s", q, "");
        if (p->env == ENV_DATA_KEY)
            return perr(p, "%s: expected \"data\" after \"type\", got %s", p->what, q);
        return perr(p, "%s: unexpected key %s after \"data\"", p->what, q);
    case 2:
        if ((i = rs_fields_key(p->f, &p->fi, false, key, len, p->what, p->msg, sizeof p->msg)) < 0)
            return 0;
        p->pend = i;
        return 1;
    default:
        if ((i = rs_fields_key(p->sf, &p->sfi, p->subset, key, len, p->what, p->msg, sizeof p->msg)) < 0)
            return 0;
        p->spend = i;
        return 1;
    }
}

static bool copy_field(pstate *p, char *dst, size_t dsz, const rs_value *v, const char *name)
{
    if (v->kind != RS_VAL_STR) {
        dst[0] = '\0';
        return true;
    }
    if (v->len >= dsz || memchr(v->s, '\0', v->len)) {
        snprintf(p->msg, sizeof p->msg, "header: field \"%s\" too long or not text", name);
        return false;
    }
    memcpy(dst, v->s, v->len);
    dst[v->len] = '\0';
    return true;
}

static int end_sub(pstate *p)
{
    if (!p->subset && p->sfi < p->sf->n) {
        rs_fields_missing(p->sf, p->sfi, p->what, p->msg, sizeof p->msg);
        return 0;
    }
    if (p->sf == &SHARD_F) {
        uint64_t idx = (uint64_t)p->sv[0].i, cnt = (uint64_t)p->sv[1].i;
        if (cnt < 1 || idx < 1 || idx > cnt) {
            snprintf(p->msg, sizeof p->msg, "%s: shard index %llu of count %llu is not valid", p->what,
                     (unsigned long long)idx, (unsigned long long)cnt);
            return 0;
        }
        if (p->kind == KIND_HEADER) {
            p->rec->header.shard_index = idx;
            p->rec->header.shard_count = cnt;
        } else {
            p->rec->footer.shard_index = idx;
            p->rec->footer.shard_count = cnt;
        }
    } else if (p->sf == &COUNTS_F) {
        for (int i = 0; i < 3; i++)
            p->rec->header.counts[i] = (uint64_t)p->sv[i].i;
        p->rec->header.has_counts = true;
    } else {
        for (int t = 0; t < RS_NTYPES; t++) {
            if (p->sseen[t]) {
                p->rec->footer.records[t] = (uint64_t)p->sv[t].i;
                p->rec->footer.present_mask |= 1u << t;
            }
        }
    }
    p->what = p->kind == KIND_HEADER ? "header" : "footer";
    p->lvl = 2;
    return 1;
}

static int end_data(pstate *p)
{
    if (p->fi < p->f->n) {
        rs_fields_missing(p->f, p->fi, p->what, p->msg, sizeof p->msg);
        return 0;
    }
    if (p->kind == KIND_HEADER) {
        rs_header *h = &p->rec->header;
        p->rec->kind = RS_REC_HEADER;
        if (!copy_field(p, h->schema, sizeof h->schema, &p->dv[H_SCHEMA], "schema") ||
            !copy_field(p, h->generated_at, sizeof h->generated_at, &p->dv[H_GENAT], "generated_at") ||
            !copy_field(p, h->generator, sizeof h->generator, &p->dv[H_GENERATOR], "generator") ||
            !copy_field(p, h->settings, sizeof h->settings, &p->dv[H_SETTINGS], "settings"))
            return 0;
        h->has_seed = p->dv[H_SEED].kind == RS_VAL_INT;
        h->seed = h->has_seed ? (uint64_t)p->dv[H_SEED].i : 0;
        h->has_as_of = p->dv[H_ASOF].kind == RS_VAL_STR;
        h->as_of = 0;
        if (h->has_as_of && rs_date_parse(p->dv[H_ASOF].s, p->dv[H_ASOF].len, &h->as_of) != 0) {
            char q[64];
            rs_quote_for_msg(q, sizeof q, p->dv[H_ASOF].s, p->dv[H_ASOF].len);
            return perr(p, "header: field \"as_of\": not a YYYY-MM-DD date: %s%s", q, "");
        }
    } else if (p->kind == KIND_FOOTER) {
        p->rec->kind = RS_REC_FOOTER;
    }
    p->lvl = 1;
    p->env = ENV_END;
    return 1;
}

static int cb_end_map(void *ctx)
{
    pstate *p = ctx;
    switch (p->lvl) {
    case 3:
        return end_sub(p);
    case 2:
        return end_data(p);
    default:
        if (p->env == ENV_TYPE_KEY)
            return perr(p, "record has no \"type\"%s%s", "", "");
        if (p->env == ENV_DATA_KEY)
            return perr(p, "%s: no \"data\"%s", p->what, "");
        p->lvl = 0;
        p->env = ENV_DONE;
        return 1;
    }
}

static const yajl_callbacks CALLBACKS = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_bool,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

/* ---- fast path ----
 * Most lines are plain JSON: no escapes, no arrays. For those, the lexer
 * below makes the very callbacks yajl would, in the same order, at several
 * times yajl's speed. Anything it does not take whole (an escape, an
 * array, a control character, any syntax it does not expect, a callback
 * refusing a value) makes it give up, and yajl parses the line from the
 * start: every error, and its message, is yajl's and the callbacks' as
 * before. The text checks (UTF-8, NUL) have run on the line already. */

#define FAST_DEPTH 8

static inline const unsigned char *skip_ws(const unsigned char *s, const unsigned char *e)
{
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++;
    return s;
}

/* A string without escapes at s (the opening quote): its bytes in *b, *n;
 * returns the byte after the closing quote, or NULL. */
static inline const unsigned char *fast_str(const unsigned char *s, const unsigned char *e, const unsigned char **b,
                                            size_t *n)
{
    const unsigned char *q = s + 1;
    /* Eight bytes at a time while none is '"', '\\' or below 0x20. */
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (e - q >= 8) {
        uint64_t w;
        memcpy(&w, q, 8);
        uint64_t quote = w ^ (ones * '"'), bsl = w ^ (ones * '\\');
        if (((quote - ones) | (bsl - ones) | (w - ones * 0x20)) & ~w & highs)
            break;
        q += 8;
    }
    for (;;) {
        if (q >= e)
            return NULL;
        unsigned char c = *q;
        if (c == '"')
            break;
        if (c == '\\' || c < 0x20)
            return NULL;
        q++;
    }
    *b = s + 1;
    *n = (size_t)(q - (s + 1));
    return q + 1;
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static const unsigned char *fast_value(pstate *p, const unsigned char *s, const unsigned char *e, int depth)
{
    s = skip_ws(s, e);
    if (s >= e)
        return NULL;
    const unsigned char *b;
    size_t n;
    switch (*s) {
    case '{':
        if (depth >= FAST_DEPTH || !cb_start_map(p))
            return NULL;
        s = skip_ws(s + 1, e);
        if (s < e && *s == '}')
            return cb_end_map(p) ? s + 1 : NULL;
        for (;;) {
            if (s >= e || *s != '"' || !(s = fast_str(s, e, &b, &n)) || !cb_key(p, b, n))
                return NULL;
            s = skip_ws(s, e);
            if (s >= e || *s != ':' || !(s = fast_value(p, s + 1, e, depth + 1)))
                return NULL;
            s = skip_ws(s, e);
            if (s >= e)
                return NULL;
            if (*s == '}')
                return cb_end_map(p) ? s + 1 : NULL;
            if (*s != ',')
                return NULL;
            s = skip_ws(s + 1, e);
        }
    case '"':
        if (!(s = fast_str(s, e, &b, &n)) || !cb_string(p, b, n))
            return NULL;
        return s;
    case 't':
        if (e - s < 4 || memcmp(s, "true", 4) != 0 || !cb_bool(p, 1))
            return NULL;
        return s + 4;
    case 'f':
        if (e - s < 5 || memcmp(s, "false", 5) != 0 || !cb_bool(p, 0))
            return NULL;
        return s + 5;
    case 'n':
        if (e - s < 4 || memcmp(s, "null", 4) != 0 || !cb_null(p))
            return NULL;
        return s + 4;
    default: {
        /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; what follows must
         * be a delimiter, which the caller checks. */
        const unsigned char *q = s;
        if (*q == '-')
            q++;
        if (q >= e || !is_digit(*q))
            return NULL;
        if (*q == '0')
            q++;
        else
            while (q < e && is_digit(*q))
                q++;
        if (q < e && *q == '.') {
            if (++q >= e || !is_digit(*q))
                return NULL;
            while (q < e && is_digit(*q))
                q++;
        }
        if (q < e && (*q == 'e' || *q == 'E')) {
            if (++q < e && (*q == '+' || *q == '-'))
                q++;
            if (q >= e || !is_digit(*q))
                return NULL;
            while (q < e && is_digit(*q))
                q++;
        }
        if (!cb_number(p, (const char *)s, (size_t)(q - s)))
            return NULL;
        return q;
    }
    }
}

/* The whole line, or false (then nothing may be trusted: yajl redoes it). */
static bool fast_parse(pstate *p, const char *line, size_t len)
{
    const unsigned char *s = (const unsigned char *)line, *e = s + len;
    s = fast_value(p, s, e, 0);
    return s && skip_ws(s, e) == e && p->env == ENV_DONE;
}

/* ---- canonical path ----
 * Nearly every line merge reads is an entity exactly as generate writes it:
 * compact, fields in canonical order, plain ASCII strings, integers. Such a
 * line is matched against its literal keys and its values handed to the
 * same rs_fields_value as the callbacks', so the record is the one they
 * would build. Anything else (whitespace, escapes, non-ASCII text,
 * fractions, any value rs_fields_value refuses) returns false before
 * anything is trusted, and the text checks, the fast path and yajl take
 * the line from the start. */

/* An ASCII string without escapes or control characters at s (the opening
 * quote): like fast_str, also refusing bytes >= 0x80 (they need the UTF-8
 * check) and DEL (so that a canonical string needs no escaping in
 * data.json: rs_pyj_entity_canonical). */
static inline const char *canon_str(const char *s, const char *e, size_t *n)
{
    const char *q = s + 1;
#ifdef __SSE2__
    /* Sixteen bytes at a time where SSE2 is there (every x86-64). */
    const __m128i quote16 = _mm_set1_epi8('"'), bsl16 = _mm_set1_epi8('\\'), del16 = _mm_set1_epi8(0x7f),
                  sp16 = _mm_set1_epi8(0x20);
    while (e - q >= 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)q);
        /* Unsigned w < 0x20 or w >= 0x7f: min(w, 0x1f) == w, or max(w, 0x7f) == w. */
        __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote16), _mm_cmpeq_epi8(w, bsl16)),
                                   _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(w, _mm_sub_epi8(sp16, _mm_set1_epi8(1))), w),
                                                _mm_cmpeq_epi8(_mm_max_epu8(w, del16), w)));
        unsigned mask = (unsigned)_mm_movemask_epi8(bad);
        if (mask) {
            q += __builtin_ctz(mask);
            if (*q != '"')
                return NULL;
            *n = (size_t)(q - (s + 1));
            return q + 1;
        }
        q += 16;
    }
#endif
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (e - q >= 8) {
        uint64_t w;
        memcpy(&w, q, 8);
        uint64_t quote = w ^ (ones * '"'), bsl = w ^ (ones * '\\'), del = w ^ (ones * 0x7f);
        uint64_t special = ((((quote - ones) & ~quote) | ((bsl - ones) & ~bsl) | ((del - ones) & ~del) |
                             ((w - ones * 0x20) & ~w) | w) & highs);
        if (special) {
            /* The lowest flag is exact (borrows only run upward): the first
             * special byte, which had better be the closing quote. */
            q += __builtin_ctzll(special) / 8;
            if (*q != '"')
                return NULL;
            *n = (size_t)(q - (s + 1));
            return q + 1;
        }
        q += 8;
    }
    for (;; q++) {
        if (q >= e)
            return NULL;
        unsigned char c = (unsigned char)*q;
        if (c == '"')
            break;
        if (c == '\\' || c < 0x20 || c >= 0x7f)
            return NULL;
    }
    *n = (size_t)(q - (s + 1));
    return q + 1;
}

/* The literal text before each field's value: `{"type":"T","data":{"id":`
 * for the first, `,"NAME":` for the others. */
typedef struct canon_keys {
    char text[RS_MAX_FIELDS][64];
    size_t len[RS_MAX_FIELDS];
} canon_keys;

static canon_keys CANON[RS_NTYPES];
static pthread_once_t canon_once = PTHREAD_ONCE_INIT;

static void canon_init(void)
{
    for (int t = 0; t < RS_NTYPES; t++) {
        const rs_fields *f = rs_entity_fields((rs_type)t);
        for (unsigned i = 0; i < f->n; i++) {
            int n = i == 0 ? snprintf(CANON[t].text[i], sizeof CANON[t].text[i], "{\"type\":\"%s\",\"data\":{\"%s\":",
                                      TYPE_NAMES[t], f->names[i])
                           : snprintf(CANON[t].text[i], sizeof CANON[t].text[i], ",\"%s\":", f->names[i]);
            CANON[t].len[i] = (size_t)n;
        }
    }
}

static inline bool same8(const char *a, const char *b)
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x == y;
}

/* a[0..n) == b[0..n), eight bytes at a time, the last eight overlapping
 * (the keys are short and known). */
static inline bool same_n(const char *a, const char *b, size_t n)
{
    if (n < 8) {
        for (; n > 0; a++, b++, n--)
            if (*a != *b)
                return false;
        return true;
    }
    for (size_t i = 0; i + 8 < n; i += 8)
        if (!same8(a + i, b + i))
            return false;
    return same8(a + n - 8, b + n - 8);
}

/* Parses a canonical entity at line, reading no further than e; returns
 * the byte after its closing "}}", or NULL. Every byte before that one was
 * matched as a key, a digit or a string byte (none of them '\n'), so the
 * text parsed cannot run over the end of its line. */
static const char *canon_entity(pstate *p, const char *line, const char *e)
{
    const char *s = line;
    /* The type from the letter after {"type":" (opportunity and
     * opportunity_history differ in their literal's length). */
    if (e - s < 16 || memcmp(s, "{\"type\":\"", 9) != 0)
        return NULL;
    int t;
    switch (s[9]) {
    case 't': t = RS_TERRITORY; break;
    case 'r': t = RS_REP; break;
    case 'a': t = RS_ACCOUNT; break;
    case 'o': t = e - s > 30 && s[20] == '_' ? RS_HISTORY : RS_OPPORTUNITY; break;
    default: return NULL;
    }
    const rs_fields *f = rs_entity_fields((rs_type)t);
    const canon_keys *k = &CANON[t];
    rs_entity *ent = &p->rec->entity;
    for (unsigned i = 0; i < f->n; i++) {
        if ((size_t)(e - s) < k->len[i] + 1 || !same_n(s, k->text[i], k->len[i]))
            return NULL;
        s += k->len[i];
        /* What rs_fields_value makes of each value it accepts; whatever
         * it would refuse goes back to the full path for its message. */
        unsigned kind = f->kinds[i];
        rs_value *out = &ent->v[i];
        switch (*s) {
        case '"': {
            size_t n;
            const char *v = s + 1;
            if (!(kind & RS_K_STR) || !(s = canon_str(s, e, &n)))
                return NULL;
            out->kind = RS_VAL_STR;
            out->s = v;
            out->len = n;
            break;
        }
        case 'n':
            if (!(kind & RS_K_NULL) || e - s < 4 || memcmp(s, "null", 4) != 0)
                return NULL;
            out->kind = RS_VAL_NULL;
            out->s = s;
            out->len = 4;
            s += 4;
            break;
        case 't':
        case 'f': {
            bool b = *s == 't';
            if (!(kind & RS_K_BOOL) || e - s < 5 - b || memcmp(s, b ? "true" : "false", 5 - b) != 0)
                return NULL;
            out->kind = RS_VAL_BOOL;
            out->i = b;
            out->s = s;
            out->len = 5 - (size_t)b;
            s += 5 - b;
            break;
        }
        default: {
            /* -?(0|[1-9][0-9]*), then a delimiter: integers only, of at
             * most 18 digits (no overflow), not -0 (its text is not the
             * decimal form of its value, which s and len keep). */
            const char *text = s;
            bool neg = *s == '-';
            s += neg;
            const char *d = s;
            uint64_t v = 0;
            if (!(kind & RS_K_INT) || s >= e || !is_digit((unsigned char)*s))
                return NULL;
            if (*s == '0')
                s++;
            else
                for (; s < e && is_digit((unsigned char)*s); s++)
                    v = v * 10 + (uint64_t)(*s - '0');
            if (s - d > 18 || (neg && (v == 0 || (kind & (RS_K_NONNEG | RS_K_U64)))))
                return NULL;
            out->kind = RS_VAL_INT;
            out->i = neg ? -(int64_t)v : (int64_t)v;
            out->s = text;
            out->len = (size_t)(s - text);
            break;
        }
        }
        if (s >= e || (*s != ',' && *s != '}'))
            return NULL;
    }
    if (e - s < 2 || s[0] != '}' || s[1] != '}')
        return NULL;
    p->rec->kind = RS_REC_ENTITY;
    ent->type = (rs_type)t;
    ent->nfields = f->n;
    return s + 2;
}

/* ---- reading ahead ---- */

static void *ahead_main(void *arg)
{
    rs_ndjson_reader *r = arg;
    ahead *a = r->ah;
    rs_thread_background();
    for (;;) {
        pthread_mutex_lock(&a->mu);
        if (a->count == AHEAD_SLOTS) {
            /* Woken for half the slots at once: a wake-up costs the
             * reader a system call. */
            a->waiting = true;
            while (a->count > AHEAD_SLOTS / 2 && !a->stop)
                pthread_cond_wait(&a->cv_room, &a->mu);
            a->waiting = false;
        }
        if (a->stop) {
            pthread_mutex_unlock(&a->mu);
            return NULL;
        }
        ahead_slot *s = &a->slot[(a->head + a->count) % AHEAD_SLOTS];
        pthread_mutex_unlock(&a->mu);

        s->off = 0;
        s->rc = rs_zin_read(r->zin, s->buf, AHEAD_SLOT, &s->n, &s->err);
        bool last = s->rc != 0 || s->n == 0;

        pthread_mutex_lock(&a->mu);
        a->count++;
        a->ended = last;
        pthread_cond_signal(&a->cv_data);
        pthread_mutex_unlock(&a->mu);
        if (last)
            return NULL;
    }
}

/* Stops and joins the thread (quickly: it reads a regular file), leaving
 * what it read queued; zin is the reader's again. */
static void ahead_halt(ahead *a)
{
    if (a->joined)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv_room);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    a->joined = true;
}

/* Frees a, whose thread is not running (joined, or never started). */
static void ahead_free(ahead *a)
{
    for (int i = 0; i < AHEAD_SLOTS; i++)
        free(a->slot[i].buf);
    pthread_cond_destroy(&a->cv_data);
    pthread_cond_destroy(&a->cv_room);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* Stops the thread and drops what it read and the reader did not take. */
static void ahead_stop(rs_ndjson_reader *r)
{
    ahead *a = r->ah;
    if (!a)
        return;
    ahead_halt(a);
    ahead_free(a);
    r->ah = NULL;
}

/* Starts the thread for a regular file (a pipe's read may block for good,
 * and stopping must not wait for it); without memory or a thread, or for
 * anything else, the reader goes on reading itself. */
static void ahead_start(rs_ndjson_reader *r)
{
    struct stat st;
    if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    ahead *a = calloc(1, sizeof *a);
    if (!a)
        return;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv_data, NULL);
    pthread_cond_init(&a->cv_room, NULL);
    for (int i = 0; i < AHEAD_SLOTS; i++) {
        if (!(a->slot[i].buf = malloc(AHEAD_SLOT))) {
            ahead_free(a);
            return;
        }
    }
    r->ah = a;
    if (pthread_create(&a->th, NULL, ahead_main, r) != 0) {
        ahead_free(a);
        r->ah = NULL;
    }
}

/* rs_zin_read through the thread: up to cap bytes of the next slot. The end
 * and errors stay queued, so they are seen again by a later call. */
static int ahead_read(rs_ndjson_reader *r, char *buf, size_t cap, size_t *got, rs_err *err)
{
    ahead *a = r->ah;
    pthread_mutex_lock(&a->mu);
    while (a->count == 0)
        pthread_cond_wait(&a->cv_data, &a->mu);
    pthread_mutex_unlock(&a->mu);
    ahead_slot *s = &a->slot[a->head];
    if (s->rc) {
        *err = s->err;
        return s->rc;
    }
    size_t k = s->n - s->off < cap ? s->n - s->off : cap;
    memcpy(buf, s->buf + s->off, k);
    s->off += k;
    *got = k;
    if (k && s->off == s->n) {
        pthread_mutex_lock(&a->mu);
        a->head = (a->head + 1) % AHEAD_SLOTS;
        a->count--;
        if (a->waiting && a->count <= AHEAD_SLOTS / 2)
            pthread_cond_signal(&a->cv_room);
        pthread_mutex_unlock(&a->mu);
    }
    return 0;
}

/* Switches a plain regular file to its mapping (mapin.h): from the next
 * unparsed byte on, lines are parsed where they lie in it. */
static bool map_start(rs_ndjson_reader *r)
{
    if (rs_zin_is_zstd(r->zin) || !rs_zin_plain_drained(r->zin))
        return false;
    off_t at = lseek(r->fd, 0, SEEK_CUR);
    if (at < 0 || (size_t)at < r->end - r->start)
        return false;
    /* The file offset of the first byte not yet parsed. */
    size_t from = (size_t)at - (r->end - r->start);
    const char *base;
    size_t len;
    rs_mapin *m = rs_mapin_open(r->fd, from, &base, &len);
    if (!m)
        return false;
    free(r->buf);
    r->map = m;
    r->map_base = base;
    r->map_len = len;
    r->buf = (char *)base; /* never written: the mapping is read-only */
    r->cap = r->end = len;
    r->start = r->scanned = from;
    r->eof = true;
    return true;
}

/* At the end of the mapping: if the file has grown since it was mapped
 * (written to while it is read), the rest is read as from any file. The
 * mapping stays until close: the checker may still read strings in it. */
static bool map_outgrown(rs_ndjson_reader *r)
{
    struct stat st;
    if (!r->map || r->buf != r->map_base || fstat(r->fd, &st) != 0 || (uintmax_t)st.st_size <= r->map_len)
        return false;
    size_t tail = r->end - r->start; /* an unfinished line */
    char *nb = malloc(tail + READ_CHUNK + 1);
    if (!nb || lseek(r->fd, (off_t)r->map_len, SEEK_SET) < 0) {
        free(nb);
        return false;
    }
    memcpy(nb, r->buf + r->start, tail);
    r->buf = nb;
    r->cap = tail + READ_CHUNK + 1;
    r->scanned -= r->start;
    r->end = tail;
    r->start = 0;
    r->eof = false;
    return true;
}

const char *rs_ndjson_mapped(const rs_ndjson_reader *r, size_t *len)
{
    if (!r->map)
        return NULL;
    *len = r->map_len;
    return r->map_base;
}

void rs_ndjson_hold(rs_ndjson_reader *r, size_t off)
{
    if (r->map)
        rs_mapin_hold(r->map, off);
}

void rs_ndjson_read_ahead(rs_ndjson_reader *r)
{
    r->want_ahead = true;
}

/* One handle serves every line; our own checks replace yajl's UTF-8 one. */
static yajl_handle new_handle(pstate *p)
{
    yajl_handle h = yajl_alloc(&CALLBACKS, NULL, p);
    if (h) {
        yajl_config(h, yajl_allow_multiple_values, 1);
        yajl_config(h, yajl_dont_validate_strings, 1);
    }
    return h;
}

int rs_ndjson_open(rs_ndjson_reader **out, const char *path, rs_err *err)
{
    pthread_once(&canon_once, canon_init);
    rs_ndjson_reader *r = calloc(1, sizeof *r);
    if (!r)
        goto nomem;
    int rc = rs_fd_open_input(path, &r->fd, &r->own_fd, r->name, sizeof r->name, err);
    if (rc) {
        free(r);
        return rc;
    }
    r->chunk = READ_CHUNK;
    r->cap = READ_CHUNK + 1;
    r->buf = malloc(r->cap);
    r->yh = new_handle(&r->ps);
    if (!r->buf || !r->yh || rs_zin_open(&r->zin, r->fd, r->name, err) != 0) {
        rs_ndjson_close(r);
        goto nomem;
    }
    *out = r;
    return 0;
nomem:
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return RS_ENOMEM;
}

const char *rs_ndjson_name(const rs_ndjson_reader *r)
{
    return r->name;
}

void rs_ndjson_set_chunk(rs_ndjson_reader *r, size_t chunk)
{
    if (chunk < 4096)
        chunk = 4096;
    if (chunk > READ_CHUNK)
        chunk = READ_CHUNK;
    r->chunk = chunk;
    /* Shrink the untouched first buffer; lines still grow it as needed. */
    if (r->end == 0 && r->cap > chunk + 1) {
        char *nb = realloc(r->buf, chunk + 1);
        if (nb) {
            r->buf = nb;
            r->cap = chunk + 1;
        }
    }
}

void rs_ndjson_close(rs_ndjson_reader *r)
{
    if (!r)
        return;
    ahead_stop(r); /* before the input it reads goes */
    if (r->map) {
        /* Where the parse stopped, for whatever reads stdin next. */
        if (!r->own_fd && r->buf == r->map_base)
            lseek(r->fd, (off_t)r->start, SEEK_SET);
        if (r->buf == r->map_base)
            r->buf = NULL;
        rs_mapin_close(r->map);
    }
    if (r->own_fd)
        close(r->fd);
    if (r->yh)
        yajl_free(r->yh);
    rs_zin_close(r->zin);
    free(r->buf);
    free(r->arena);
    free(r);
}

/* Bad content decoded from damaged zstd is blamed on the zstd input when
 * decoding a little further says so. */
#define BLAME_LIMIT (256ull << 20)

static int fail(rs_ndjson_reader *r, rs_err *err, uint64_t line, const char *problem)
{
    snprintf(err->msg, sizeof err->msg, "%.200s:%llu: %.280s", r->name, (unsigned long long)line, problem);
    if (r->ah) {
        /* Corrupt zstd the thread met reading on is the one to blame;
         * else decoding goes on from where it stopped. */
        ahead *a = r->ah;
        ahead_halt(a);
        for (unsigned i = 0; i < a->count; i++) {
            const ahead_slot *sl = &a->slot[(a->head + i) % AHEAD_SLOTS];
            if (sl->rc == RS_EDATA) {
                *err = sl->err;
                ahead_stop(r);
                return RS_EDATA;
            }
        }
        ahead_stop(r);
    }
    rs_zin_blame(r->zin, BLAME_LIMIT, err);
    return RS_EDATA;
}

/* Finds the next line: *len bytes at r->buf + r->start, '\n' not included. */
static int next_line(rs_ndjson_reader *r, size_t *len, rs_err *err)
{
    for (;;) {
        /* No further than the limit (a mapped file is all in buf). */
        size_t upto = r->end - r->start > LINE_LIMIT + 1 ? r->start + LINE_LIMIT + 1 : r->end;
        char *nl = r->scanned < upto ? memchr(r->buf + r->scanned, '\n', upto - r->scanned) : NULL;
        if (nl) {
            *len = (size_t)(nl - (r->buf + r->start));
            /* The same limit whichever read brought the newline. */
            if (*len > LINE_LIMIT)
                return fail(r, err, r->line + 1, "line longer than 16 MiB");
            return 1;
        }
        r->scanned = upto;
        if (r->end - r->start > LINE_LIMIT)
            return fail(r, err, r->line + 1, "line longer than 16 MiB");
        if (r->eof && map_outgrown(r))
            continue;
        if (r->eof) {
            if (r->start == r->end)
                return 0;
            return fail(r, err, r->line + 1, "last line has no newline (truncated input?)");
        }
        if (r->start > 0 && r->cap - r->end < r->chunk) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->scanned -= r->start;
            r->start = 0;
        }
        if (r->cap - r->end < r->chunk / 4) {
            /* Grow only for long lines, and never far beyond the limit. */
            size_t ncap = r->cap * 2;
            if (ncap > LINE_LIMIT + READ_CHUNK + 1)
                ncap = LINE_LIMIT + READ_CHUNK + 1;
            char *nb = realloc(r->buf, ncap);
            if (!nb) {
                snprintf(err->msg, sizeof err->msg, "out of memory");
                return RS_ENOMEM;
            }
            r->buf = nb;
            r->cap = ncap;
        }
        size_t want = r->cap - r->end, n;
        if (want > r->chunk)
            want = r->chunk;
        /* From the second read on (the first one shows whether the
         * input is zstd), a thread may read ahead. */
        if (r->want_ahead && !r->ah && (r->end > 0 || r->start > 0 || r->line > 0)) {
            r->want_ahead = false;
            if (map_start(r))
                continue;
            ahead_start(r);
        }
        int rc = r->ah ? ahead_read(r, r->buf + r->end, want, &n, err)
                       : rs_zin_read(r->zin, r->buf + r->end, want, &n, err);
        if (rc)
            return rc;
        if (n == 0)
            r->eof = true;
        r->end += n;
    }
}

int rs_ndjson_next(rs_ndjson_reader *r, rs_record *rec, rs_err *err)
{
    size_t len = 0;
    if (!r->yh) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    pstate *p = &r->ps;
    p->rec = rec;
    rec->canonical = false;
    if (r->map && r->buf == r->map_base)
        rs_mapin_at(r->map, r->start);
    /* A canonical line is parsed where it lies in the buffer, its newline
     * found by the parse rather than by a search first; anything else (an
     * incomplete line at the end of the buffer included) takes the way
     * below, which may parse it canonically after all. */
    const char *line = r->buf + r->start, *end = r->buf + r->end;
    const char *q = canon_entity(p, line, end);
    if (q && q < end && *q == '\n' && (size_t)(q - line) <= LINE_LIMIT) {
        rec->line = ++r->line;
        r->start += (size_t)(q - line) + 1;
        r->scanned = r->start;
        rec->canonical = true;
        return 1;
    }

    int rc = next_line(r, &len, err);
    if (rc <= 0)
        return rc;
    r->line++;
    line = r->buf + r->start;
    r->start += len + 1;
    r->scanned = r->start;

    rec->line = r->line;
    p->rec = rec;
    if (canon_entity(p, line, line + len) == line + len) {
        rec->canonical = true;
        return 1;
    }

    rs_jscan sc;
    rs_jscan_reset(&sc);
    size_t bad;
    const char *problem;
    /* The '\n' ends the line's last token for the scanner and for yajl. */
    if (rs_jscan_feed(&sc, (const unsigned char *)line, len + 1, &bad, &problem) != 0) {
        char m[96];
        snprintf(m, sizeof m, "%s at byte %zu", problem, bad + 1);
        return fail(r, err, r->line, m);
    }
    if (len > r->arena_cap) {
        size_t ncap = len < 4096 ? 4096 : len;
        char *na = realloc(r->arena, ncap);
        if (!na) {
            snprintf(err->msg, sizeof err->msg, "out of memory");
            return RS_ENOMEM;
        }
        r->arena = na;
        r->arena_cap = ncap;
    }

    for (int attempt = 0; attempt < 2; attempt++) {
        p->rec = rec;
        p->lvl = 0;
        p->env = ENV_TYPE_KEY;
        p->kind = -1;
        p->lbeg = line;
        p->lend = line + len;
        p->arena = r->arena;
        p->alen = 0;
        p->msg[0] = '\0';
        if (attempt == 0 && fast_parse(p, line, len))
            return 1;
    }

    yajl_status st = yajl_parse(r->yh, (const unsigned char *)line, len + 1);
    if (st == yajl_status_ok && p->env == ENV_DONE)
        return 1;
    char m[sizeof p->msg];
    if (st == yajl_status_client_canceled) {
        snprintf(m, sizeof m, "%s", p->msg);
    } else if (st != yajl_status_ok) {
        unsigned char *e = yajl_get_error(r->yh, 0, (const unsigned char *)line, len + 1);
        size_t at = yajl_get_bytes_consumed(r->yh);
        char t[160];
        snprintf(t, sizeof t, "%s", e ? (const char *)e : "parse error");
        t[strcspn(t, "\n")] = '\0';
        snprintf(m, sizeof m, "invalid JSON near byte %zu: %s", at > len ? len : at, t);
        if (e)
            yajl_free_error(r->yh, e);
    } else {
        snprintf(m, sizeof m, "%s", p->lvl == 0 && p->env == ENV_TYPE_KEY ? "empty line" : "incomplete JSON record");
    }
    /* The handle is mid-value or failed: a fresh one keeps any later call
     * well-defined (callers normally stop at the first error). */
    yajl_free(r->yh);
    r->yh = new_handle(&r->ps);
    return fail(r, err, r->line, m);
}
