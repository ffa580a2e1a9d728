/* Python-compatible data.json writer, stream escaping, and the record shape
 * tables and text checks the two readers share. */
#include "pyjson.h"
#include "fdio.h"
#include "fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- record shapes (SPEC 2) ---- */

#define ID (RS_K_INT | RS_K_NONNEG)
static const char *const TER_N[] = {"id", "name"};
static const unsigned TER_K[] = {ID, RS_K_STR};
static const char *const REP_N[] = {"id", "name", "homeState", "region", "quota", "territoryId"};
static const unsigned REP_K[] = {ID, RS_K_STR, RS_K_STR, RS_K_STR, RS_K_INT, ID};
static const char *const ACC_N[] = {"id",    "name",     "annualRevenue", "numDevelopers", "state",
                                    "industry", "isCustomer", "inPipeline", "repId",         "territoryId"};
static const unsigned ACC_K[] = {ID,       RS_K_STR,  RS_K_INT,  RS_K_INT, RS_K_STR,
                                 RS_K_STR, RS_K_BOOL, RS_K_BOOL, ID,       ID};
static const char *const OPP_N[] = {"id", "name", "amount", "stage", "closeDate", "repId", "accountId", "created_date"};
static const unsigned OPP_K[] = {ID, RS_K_STR, RS_K_INT, RS_K_STR, RS_K_STR | RS_K_NULL, ID, ID, RS_K_STR};
static const char *const HIS_N[] = {"id", "opportunity_id", "field_name", "old_value", "new_value", "change_date"};
static const unsigned HIS_K[] = {ID, ID, RS_K_STR, RS_K_STR | RS_K_NULL, RS_K_STR, RS_K_STR};
#undef ID

static const rs_fields ENTITY_FIELDS[RS_NTYPES] = {
    [RS_TERRITORY] = {TER_N, TER_K, RS_TER_NFIELDS},  [RS_REP] = {REP_N, REP_K, RS_REP_NFIELDS},
    [RS_ACCOUNT] = {ACC_N, ACC_K, RS_ACC_NFIELDS},    [RS_OPPORTUNITY] = {OPP_N, OPP_K, RS_OPP_NFIELDS},
    [RS_HISTORY] = {HIS_N, HIS_K, RS_HIS_NFIELDS},
};

const rs_fields *rs_entity_fields(rs_type t)
{
    return (unsigned)t < RS_NTYPES ? &ENTITY_FIELDS[t] : NULL;
}

/* ---- escaping ---- */

static const char HEX[] = "0123456789abcdef";

/* Per byte: 0 as is, 1 short escape, 2 \u00xx, 3 UTF-8 lead/continuation. */
#define ROW_CTL0 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 1, 1, 2, 2
#define ROW_CTL1 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
#define ROW_QUOT 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define ROW_BSL 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
#define ROW_0 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define ROW_DEL 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2
#define ROW_HI 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3
/* Python's ensure_ascii: only 0x20..0x7e pass (DEL is escaped). */
static const unsigned char PY_CLASS[256] = {ROW_CTL0, ROW_CTL1, ROW_QUOT, ROW_0,   ROW_0,  ROW_BSL,
                                            ROW_0,    ROW_DEL,  ROW_HI,   ROW_HI,  ROW_HI, ROW_HI,
                                            ROW_HI,   ROW_HI,   ROW_HI,   ROW_HI};

static char short_escape(unsigned char c)
{
    switch (c) {
    case '\b': return 'b';
    case '\t': return 't';
    case '\n': return 'n';
    case '\f': return 'f';
    case '\r': return 'r';
    default: return (char)c; /* '"' and '\\' */
    }
}

static char *put_u16(char *d, unsigned u)
{
    d[0] = '\\';
    d[1] = 'u';
    d[2] = HEX[(u >> 12) & 15];
    d[3] = HEX[(u >> 8) & 15];
    d[4] = HEX[(u >> 4) & 15];
    d[5] = HEX[u & 15];
    return d + 6;
}

size_t rs_pyj_escape(char *dst, const char *src, size_t n)
{
    const unsigned char *s = (const unsigned char *)src, *end = s + n;
    char *d = dst;
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (s < end) {
        /* Eight bytes at a time while all pass as they are: none below 0x20,
         * '"', '\\', DEL or non-ASCII (dst has room for 6 per byte). */
        while (end - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\'), del = w ^ (ones * 0x7f);
            if (((((w - ones * 0x20) | (q - ones) | (b - ones) | (del - ones)) & ~w) | w) & highs)
                break;
            memcpy(d, s, 8);
            s += 8;
            d += 8;
        }
        /* A plain tail of a string of 8 bytes or more: its last eight bytes
         * at once (rewriting a few already copied as they were). */
        if (s < end && end - s < 8 && end - (const unsigned char *)src >= 8) {
            uint64_t w;
            memcpy(&w, end - 8, 8);
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\'), del = w ^ (ones * 0x7f);
            if (!(((((w - ones * 0x20) | (q - ones) | (b - ones) | (del - ones)) & ~w) | w) & highs)) {
                memcpy(d + (end - s) - 8, end - 8, 8);
                d += end - s;
                break;
            }
        }
        const unsigned char *run = s;
        while (s < end && PY_CLASS[*s] == 0)
            s++;
        memcpy(d, run, (size_t)(s - run));
        d += s - run;
        if (s == end)
            break;
        unsigned char c = *s;
        switch (PY_CLASS[c]) {
        case 1:
            d[0] = '\\';
            d[1] = short_escape(c);
            d += 2;
            s++;
            break;
        case 2:
            d = put_u16(d, c);
            s++;
            break;
        default: {
            /* The readers hand out valid UTF-8 only; a truncated or stray
             * byte still gets a defined output (U+FFFD) rather than a read
             * past the end. */
            unsigned cp, k;
            if (c >= 0xf0)
                cp = c & 0x07, k = 3;
            else if (c >= 0xe0)
                cp = c & 0x0f, k = 2;
            else if (c >= 0xc0)
                cp = c & 0x1f, k = 1;
            else
                cp = 0xfffd, k = 0;
            if ((size_t)(end - s) <= k) {
                cp = 0xfffd;
                k = (unsigned)(end - s) - 1;
            } else {
                for (unsigned j = 1; j <= k; j++)
                    cp = (cp << 6) | (s[j] & 0x3f);
            }
            s += k + 1;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                d = put_u16(d, 0xd800 | (cp >> 10));
                d = put_u16(d, 0xdc00 | (cp & 0x3ff));
            } else {
                d = put_u16(d, cp);
            }
        }
        }
    }
    return (size_t)(d - dst);
}

size_t rs_fmt_u64(char *dst, uint64_t v)
{
    return (size_t)(rs_put_u64(dst, v) - dst);
}

size_t rs_fmt_i64(char *dst, int64_t v)
{
    return (size_t)(rs_put_i64(dst, v) - dst);
}

/* ---- data.json writer ---- */

#define PYJ_FLUSH_AT (1u << 20)
/* Strings are escaped in pieces so one huge value never needs a huge buffer. */
#define PYJ_STR_PIECE (16u << 10)
#define PYJ_CAP (PYJ_FLUSH_AT + RS_ESC_MAX_PER_BYTE * PYJ_STR_PIECE + 4096)

int rs_pyj_init(rs_pyj *w, bool compact, rs_write_fn write, void *ctx, const rs_err *(*sink_err)(const void *ctx),
                rs_err *err)
{
    memset(w, 0, sizeof *w);
    w->write = write;
    w->ctx = ctx;
    w->sink_err = sink_err;
    w->compact = compact;
    w->cap = PYJ_CAP;
    w->buf = malloc(w->cap);
    if (!w->buf) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    for (unsigned t = 0; t < RS_NTYPES; t++) {
        const rs_fields *f = rs_entity_fields((rs_type)t);
        for (unsigned i = 1; i < f->n; i++) {
            int n = snprintf(w->keys[t][i], sizeof w->keys[t][i], compact ? ", \"%s\": " : ",\n      \"%s\": ",
                             f->names[i]);
            w->keylen[t][i] = (unsigned char)n;
        }
    }
    return 0;
}

void rs_pyj_free(rs_pyj *w)
{
    free(w->buf);
    w->buf = NULL;
}

static int pyj_fail(rs_pyj *w, int rc)
{
    w->status = rc;
    const rs_err *e = w->sink_err ? w->sink_err(w->ctx) : NULL;
    if (e && e->msg[0])
        w->err = *e;
    else
        snprintf(w->err.msg, sizeof w->err.msg, "write failed");
    return rc;
}

int rs_pyj_flush(rs_pyj *w)
{
    if (w->status)
        return w->status;
    if (w->len) {
        int rc = w->write(w->ctx, w->buf, w->len);
        w->len = 0;
        if (rc)
            return pyj_fail(w, rc);
    }
    return 0;
}

/* Makes room for n more bytes (n well below PYJ_CAP - PYJ_FLUSH_AT). */
static inline int pyj_room(rs_pyj *w, size_t n)
{
    if (w->len + n > w->cap)
        return rs_pyj_flush(w);
    return w->status;
}

static inline void pyj_lit(rs_pyj *w, const char *s, size_t n)
{
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}
#define PYJ_LIT(w, s) pyj_lit((w), (s), sizeof(s) - 1)

static int pyj_str(rs_pyj *w, const char *s, size_t n)
{
    int rc;
    if ((rc = pyj_room(w, 2 + RS_ESC_MAX_PER_BYTE * (n < PYJ_STR_PIECE ? n : PYJ_STR_PIECE))))
        return rc;
    w->buf[w->len++] = '"';
    while (n > PYJ_STR_PIECE) {
        /* Cut at a character boundary: back off over continuation bytes. */
        size_t k = PYJ_STR_PIECE;
        while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
            k--;
        w->len += rs_pyj_escape(w->buf + w->len, s, k);
        s += k;
        n -= k;
        if ((rc = pyj_room(w, 2 + RS_ESC_MAX_PER_BYTE * PYJ_STR_PIECE)))
            return rc;
    }
    w->len += rs_pyj_escape(w->buf + w->len, s, n);
    w->buf[w->len++] = '"';
    return 0;
}

int rs_pyj_begin(rs_pyj *w, const char *schema, size_t slen, const char *gen_at, size_t glen)
{
    int rc;
    if ((rc = pyj_room(w, 64)))
        return rc;
    if (w->compact)
        PYJ_LIT(w, "{\"schema\": ");
    else
        PYJ_LIT(w, "{\n  \"schema\": ");
    if ((rc = pyj_str(w, schema, slen)) || (rc = pyj_room(w, 64)))
        return rc;
    if (w->compact)
        PYJ_LIT(w, ", \"generated_at\": ");
    else
        PYJ_LIT(w, ",\n  \"generated_at\": ");
    return pyj_str(w, gen_at, glen);
}

int rs_pyj_array_begin(rs_pyj *w, const char *key)
{
    size_t n = strlen(key);
    int rc;
    if ((rc = pyj_room(w, n + 16)))
        return rc;
    if (w->compact)
        PYJ_LIT(w, ", \"");
    else
        PYJ_LIT(w, ",\n  \"");
    pyj_lit(w, key, n);
    PYJ_LIT(w, "\": [");
    w->nelem = 0;
    return 0;
}

/* The start of an element of a type's array, up to its first value (the
 * id), at the end of the buffer; the caller has made room. */
static char *element_open(rs_pyj *w)
{
    char *d = w->buf + w->len;
    if (w->compact)
        d = w->nelem ? RS_FMT_LIT(d, ", {\"id\": ") : RS_FMT_LIT(d, "{\"id\": ");
    else
        d = w->nelem ? RS_FMT_LIT(d, ",\n    {\n      \"id\": ") : RS_FMT_LIT(d, "\n    {\n      \"id\": ");
    w->nelem++;
    return d;
}

/* Field i's key and separator, copied from its 32-byte slot. */
static inline char *element_key(const rs_pyj *w, rs_type t, unsigned i, char *d)
{
    memcpy(d, w->keys[t][i], 32);
    return d + w->keylen[t][i];
}

/* rs_pyj_entity when every string is short (nearly always; 256 bytes keep
 * the room asked for well below what pyj_room allows): room for the
 * whole element is made once, and a cursor in a register writes it. The
 * keys are copied 32 bytes at a time (their slots' size), hence the slack. */
static int pyj_entity_short(rs_pyj *w, const rs_entity *e, size_t need)
{
    int rc;
    if ((rc = pyj_room(w, need + 32)))
        return rc;
    char *d = element_open(w);
    for (unsigned i = 0; i < e->nfields; i++) {
        const rs_value *v = &e->v[i];
        if (i > 0)
            d = element_key(w, e->type, i, d);
        switch (v->kind) {
        case RS_VAL_INT: d = rs_put_i64(d, v->i); break;
        case RS_VAL_STR:
            *d++ = '"';
            d += rs_pyj_escape(d, v->s, v->len);
            *d++ = '"';
            break;
        case RS_VAL_BOOL: d = v->i ? RS_FMT_LIT(d, "true") : RS_FMT_LIT(d, "false"); break;
        case RS_VAL_NULL: d = RS_FMT_LIT(d, "null"); break;
        }
    }
    d = w->compact ? RS_FMT_LIT(d, "}") : RS_FMT_LIT(d, "\n    }");
    w->len = (size_t)(d - w->buf);
    return 0;
}

int rs_pyj_entity(rs_pyj *w, const rs_entity *e)
{
    int rc;
    size_t need = 64;
    for (unsigned i = 0; i < e->nfields && need; i++) {
        const rs_value *v = &e->v[i];
        need += 32 + (v->kind != RS_VAL_STR ? 24 : v->len <= 256 ? 2 + RS_ESC_MAX_PER_BYTE * v->len : 0);
        if (v->kind == RS_VAL_STR && v->len > 256)
            need = 0; /* a long string: pieces, as below */
    }
    if (need)
        return pyj_entity_short(w, e, need);
    if ((rc = pyj_room(w, 64)))
        return rc;
    if (w->compact) {
        if (w->nelem)
            PYJ_LIT(w, ", {\"id\": ");
        else
            PYJ_LIT(w, "{\"id\": ");
    } else {
        if (w->nelem)
            PYJ_LIT(w, ",\n    {\n      \"id\": ");
        else
            PYJ_LIT(w, "\n    {\n      \"id\": ");
    }
    w->nelem++;
    for (unsigned i = 0; i < e->nfields; i++) {
        const rs_value *v = &e->v[i];
        if (i > 0) {
            if ((rc = pyj_room(w, 64)))
                return rc;
            pyj_lit(w, w->keys[e->type][i], w->keylen[e->type][i]);
        }
        switch (v->kind) {
        case RS_VAL_INT:
            w->len += rs_fmt_i64(w->buf + w->len, v->i);
            break;
        case RS_VAL_STR:
            if ((rc = pyj_str(w, v->s, v->len)))
                return rc;
            break;
        case RS_VAL_BOOL:
            if (v->i)
                PYJ_LIT(w, "true");
            else
                PYJ_LIT(w, "false");
            break;
        case RS_VAL_NULL:
            PYJ_LIT(w, "null");
            break;
        }
    }
    if ((rc = pyj_room(w, 16)))
        return rc;
    if (w->compact)
        PYJ_LIT(w, "}");
    else
        PYJ_LIT(w, "\n    }");
    return 0;
}

/* The text of a canonical value in its line: a string with its quotes. */
static inline const char *raw_text(const rs_value *v, size_t *n)
{
    size_t q = v->kind == RS_VAL_STR;
    *n = v->len + 2 * q;
    return v->s - q;
}

int rs_pyj_entity_canonical(rs_pyj *w, const rs_entity *e)
{
    /* The values lie in order in one line, so their text, and with it the
     * room needed, is bounded by the span from the first to the last. */
    size_t last_len;
    const char *last = raw_text(&e->v[e->nfields - 1], &last_len);
    const char *end = last + last_len;
    size_t span = (size_t)(end - e->v[0].s);
    if (span > 4096)
        return rs_pyj_entity(w, e); /* long strings: in pieces */
    int rc;
    if ((rc = pyj_room(w, span + 64 + 32 * (size_t)e->nfields)))
        return rc;
    char *d = element_open(w);
    for (unsigned i = 0; i < e->nfields; i++) {
        if (i > 0)
            d = element_key(w, e->type, i, d);
        size_t n;
        const char *s = raw_text(&e->v[i], &n);
        /* One fixed-size copy while the line goes on for RS_FMT_SHORT
         * bytes (the room asked for covers the excess written). */
        if (s + RS_FMT_SHORT <= end) {
            d = rs_put_short(d, s, n);
        } else {
            memcpy(d, s, n);
            d += n;
        }
    }
    d = w->compact ? RS_FMT_LIT(d, "}") : RS_FMT_LIT(d, "\n    }");
    w->len = (size_t)(d - w->buf);
    return 0;
}

int rs_pyj_raw_elements(rs_pyj *w, const char *p, size_t n, uint64_t count)
{
    int rc;
    while (n > 0) {
        size_t k = n < PYJ_FLUSH_AT ? n : PYJ_FLUSH_AT;
        if ((rc = pyj_room(w, k)))
            return rc;
        pyj_lit(w, p, k);
        p += k;
        n -= k;
    }
    w->nelem += count;
    return w->status;
}

int rs_pyj_array_end(rs_pyj *w)
{
    int rc;
    if ((rc = pyj_room(w, 8)))
        return rc;
    if (w->compact || w->nelem == 0)
        PYJ_LIT(w, "]");
    else
        PYJ_LIT(w, "\n  ]");
    return 0;
}

int rs_pyj_end(rs_pyj *w)
{
    int rc;
    if ((rc = pyj_room(w, 8)))
        return rc;
    if (w->compact)
        PYJ_LIT(w, "}");
    else
        PYJ_LIT(w, "\n}");
    return 0;
}

/* ---- spool ---- */

#define SPOOL_IO (1u << 20)

void rs_spool_init(rs_spool *s, size_t budget)
{
    memset(s, 0, sizeof *s);
    s->budget = budget;
    s->fd = -1;
}

static int spool_to_file(rs_spool *s)
{
    const char *tmp = getenv("TMPDIR");
    char tpl[1024];
    snprintf(tpl, sizeof tpl, "%.900s/revops-stream-spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    s->fd = mkostemp(tpl, O_CLOEXEC);
    if (s->fd < 0) {
        snprintf(s->err.msg, sizeof s->err.msg, "%.300s: cannot create a temp file: %s", tpl, strerror(errno));
        return RS_EIO;
    }
    /* Unlinked at once: no exit path can leave it behind. */
    unlink(tpl);
    return 0;
}

int rs_spool_write(void *ctx, const char *buf, size_t len)
{
    rs_spool *s = ctx;
    s->total += len;
    if (s->fd < 0 && s->len + len <= s->budget) {
        if (s->len + len > s->cap) {
            size_t ncap = s->cap ? s->cap : 4096;
            while (ncap < s->len + len)
                ncap *= 2;
            if (ncap > s->budget)
                ncap = s->budget;
            char *nm = realloc(s->mem, ncap);
            if (!nm) {
                snprintf(s->err.msg, sizeof s->err.msg, "out of memory");
                return RS_ENOMEM;
            }
            s->mem = nm;
            s->cap = ncap;
        }
        memcpy(s->mem + s->len, buf, len);
        s->len += len;
        return 0;
    }
    if (s->fd < 0) {
        int rc = spool_to_file(s);
        if (rc)
            return rc;
        if (rs_fd_write_all(s->fd, s->mem, s->len) != 0)
            goto fail;
        free(s->mem);
        s->mem = NULL;
        s->len = s->cap = 0;
    }
    if (rs_fd_write_all(s->fd, buf, len) == 0)
        return 0;
fail:
    snprintf(s->err.msg, sizeof s->err.msg, "temp file: write failed: %s", strerror(errno));
    return RS_EIO;
}

const rs_err *rs_spool_last_error(const void *ctx)
{
    return &((const rs_spool *)ctx)->err;
}

int rs_spool_replay(rs_spool *s, rs_write_fn fn, void *ctx, rs_err *err)
{
    if (s->fd < 0)
        return s->len ? fn(ctx, s->mem, s->len) : 0;
    char *b = malloc(SPOOL_IO);
    if (!b) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    int rc = 0;
    if (lseek(s->fd, 0, SEEK_SET) < 0) {
        snprintf(err->msg, sizeof err->msg, "temp file: cannot rewind: %s", strerror(errno));
        rc = RS_EIO;
    }
    while (rc == 0) {
        ssize_t n = read(s->fd, b, SPOOL_IO);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err->msg, sizeof err->msg, "temp file: read failed: %s", strerror(errno));
            rc = RS_EIO;
        }
        if (n <= 0)
            break;
        rc = fn(ctx, b, (size_t)n);
    }
    free(b);
    return rc;
}

void rs_spool_free(rs_spool *s)
{
    free(s->mem);
    if (s->fd >= 0)
        close(s->fd);
    rs_spool_init(s, 0);
}

/* ---- reader internals ---- */

void rs_quote_for_msg(char *dst, size_t dsz, const char *s, size_t n)
{
    size_t o = 0, lim = dsz > 8 ? dsz - 8 : 0;
    if (dsz == 0)
        return;
    if (o < lim)
        dst[o++] = '"';
    for (size_t i = 0; i < n && o < lim; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 40) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (o < dsz - 1)
        dst[o++] = '"';
    dst[o] = '\0';
}

static void kinds_text(unsigned k, char *out, size_t osz)
{
    const char *parts[4];
    unsigned n = 0;
    if (k & RS_K_INT)
        parts[n++] = (k & (RS_K_NONNEG | RS_K_U64)) ? "integer >= 0" : "integer";
    if (k & RS_K_STR)
        parts[n++] = "string";
    if (k & RS_K_BOOL)
        parts[n++] = "boolean";
    if (k & RS_K_MAP)
        parts[n++] = "object";
    size_t o = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, osz - o, "%s%s", i ? " or " : "", parts[i]);
    if (k & RS_K_NULL)
        snprintf(out + o, osz - o, "%snull", n ? " or " : "");
}

static const char *tok_text(rs_jtok t, const char *s, size_t len)
{
    switch (t) {
    case RS_J_NULL: return "null";
    case RS_J_BOOL: return "boolean";
    case RS_J_NUMBER: return memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len) ? "fraction" : "integer";
    case RS_J_STR: return "string";
    case RS_J_MAP: return "object";
    case RS_J_ARRAY: return "array";
    }
    return "value";
}

static inline bool name_is(const char *name, const char *key, size_t klen)
{
    /* Byte by byte: key may hold NULs and must not read past name. */
    for (size_t j = 0; j < klen; j++)
        if (name[j] == '\0' || name[j] != key[j])
            return false;
    return name[klen] == '\0';
}

int rs_fields_key(const rs_fields *f, unsigned *next, bool subset, const char *key, size_t klen, const char *what,
                  char *msg, size_t msz)
{
    unsigned i = *next;
    if (i < f->n) {
        /* The expected key, nearly always: its length first, then bytes. */
        const char *nm = f->names[i];
        if (klen > 0 && nm[0] == key[0] && strlen(nm) == klen && memcmp(nm, key, klen) == 0) {
            *next = i + 1;
            return (int)i;
        }
    }
    int found = -1;
    for (unsigned j = 0; j < f->n; j++)
        if (name_is(f->names[j], key, klen))
            found = (int)j;
    char q[64];
    rs_quote_for_msg(q, sizeof q, key, klen);
    if (found >= (int)i) {
        if (subset) {
            *next = (unsigned)found + 1;
            return found;
        }
        snprintf(msg, msz, "%s: missing field \"%s\" (found %s in its place)", what, f->names[i], q);
    } else if (found >= 0) {
        snprintf(msg, msz, "%s: field %s repeated or out of order", what, q);
    } else {
        snprintf(msg, msz, "%s: unknown field %s", what, q);
    }
    return -1;
}

void rs_fields_missing(const rs_fields *f, unsigned next, const char *what, char *msg, size_t msz)
{
    snprintf(msg, msz, "%s: missing field \"%s\"", what, f->names[next]);
}

/* Parses a JSON number's text as an integer; 0, -1 not an integer, -2 out of range. */
static int parse_int(const char *s, size_t n, bool u64, int64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg;
    if (i == n)
        return -1;
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9)
            return -1;
        if (v > (UINT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -2;
        *out = (int64_t)(0 - v);
    } else {
        if (!u64 && v > (uint64_t)INT64_MAX)
            return -2;
        *out = (int64_t)v;
    }
    return 0;
}

int rs_fields_value(const rs_fields *f, unsigned i, rs_jtok tok, const char *s, size_t len, int b, rs_value *out,
                    const char *what, char *msg, size_t msz)
{
    unsigned k = f->kinds[i];
    switch (tok) {
    case RS_J_NULL:
        if (!(k & RS_K_NULL))
            break;
        out->kind = RS_VAL_NULL;
        return 0;
    case RS_J_BOOL:
        if (!(k & RS_K_BOOL))
            break;
        out->kind = RS_VAL_BOOL;
        out->i = b != 0;
        return 0;
    case RS_J_STR:
        if (!(k & RS_K_STR))
            break;
        out->kind = RS_VAL_STR;
        out->s = s;
        out->len = len;
        return 0;
    case RS_J_NUMBER: {
        if (!(k & RS_K_INT))
            break;
        int64_t v = 0;
        int rc = parse_int(s, len, (k & RS_K_U64) != 0, &v);
        if (rc == -1)
            break;
        bool negative = s[0] == '-' && v != 0; /* U64 values above INT64_MAX look negative in v */
        if (rc == -2 || ((k & (RS_K_NONNEG | RS_K_U64)) && negative)) {
            char q[64];
            rs_quote_for_msg(q, sizeof q, s, len);
            snprintf(msg, msz, "%s: field \"%s\": %s %s", what, f->names[i],
                     rc == -2 ? "integer out of range:" : "negative value", q);
            return -1;
        }
        out->kind = RS_VAL_INT;
        out->i = v;
        return 0;
    }
    case RS_J_MAP:
        if (!(k & RS_K_MAP))
            break;
        return 0;
    case RS_J_ARRAY:
        break;
    }
    char want[64];
    kinds_text(k, want, sizeof want);
    snprintf(msg, msz, "%s: field \"%s\": expected %s, got %s", what, f->names[i], want, tok_text(tok, s, len));
    return -1;
}

/* ---- text checks ---- */

unsigned rs_json_depth(const char *s, size_t n, unsigned limit)
{
    unsigned depth = 0, deepest = 0;
    bool in_str = false;
    for (size_t i = 0; i < n && deepest <= limit; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > deepest)
                deepest = depth;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

void rs_jscan_reset(rs_jscan *s)
{
    memset(s, 0, sizeof *s);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Bytes that need a look on the slow path: NUL, '\\', non-ASCII. */
#define S0 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define SZ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define SB 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
#define SH 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char SCAN_SPECIAL[256] = {S0, SZ, SZ, SZ, SZ, SB, SZ, SZ, SH, SH, SH, SH, SH, SH, SH, SH};

int rs_jscan_feed(rs_jscan *st, const unsigned char *p, size_t n, size_t *bad, const char **problem)
{
    size_t i = 0;
    while (i < n) {
        if (st->need == 0 && st->esc == 0 && st->want_low == 0) {
            /* Eight bytes at a time while none is NUL, '\\' or non-ASCII. */
            const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
            while (n - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                uint64_t b = w ^ (ones * '\\');
                if (((w - ones) | (b - ones) | w) & highs)
                    break;
                i += 8;
            }
            while (i < n && !SCAN_SPECIAL[p[i]])
                i++;
            if (i == n)
                break;
        }
        unsigned char c = p[i];
        if (c == 0) {
            *bad = i;
            *problem = "NUL byte";
            return -1;
        }
        if (st->need) {
            if (c < st->lo || c > st->hi) {
                *bad = i;
                *problem = "invalid UTF-8";
                return -1;
            }
            st->need--;
            st->lo = 0x80;
            st->hi = 0xbf;
            i++;
            continue;
        }
        if (st->want_low == 1 || st->want_low == 2) {
            if (c != (st->want_low == 1 ? '\\' : 'u')) {
                *bad = i;
                *problem = "unpaired UTF-16 surrogate in a \\u escape";
                return -1;
            }
            st->want_low++;
            if (st->want_low == 3) {
                st->esc = 2;
                st->cp = 0;
            }
            i++;
            continue;
        }
        if (st->esc == 1) {
            st->esc = 0;
            if (c == 'u') {
                st->esc = 2;
                st->cp = 0;
                i++;
                continue;
            }
            if (c < 0x80) {
                i++;
                continue;
            }
            /* not a valid escape; yajl reports it, but the byte is still UTF-8 */
        } else if (st->esc >= 2) {
            int h = hexval(c);
            if (h < 0) {
                /* bad \u escape: yajl reports it */
                st->esc = 0;
                st->want_low = 0;
            } else {
                st->cp = (st->cp << 4) | (unsigned)h;
                i++;
                if (++st->esc < 6)
                    continue;
                st->esc = 0;
                bool high = st->cp >= 0xd800 && st->cp <= 0xdbff, low = st->cp >= 0xdc00 && st->cp <= 0xdfff;
                if (st->want_low == 3) {
                    st->want_low = 0;
                    if (!low) {
                        *bad = i - 1;
                        *problem = "unpaired UTF-16 surrogate in a \\u escape";
                        return -1;
                    }
                } else if (high) {
                    st->want_low = 1;
                } else if (low) {
                    *bad = i - 1;
                    *problem = "unpaired UTF-16 surrogate in a \\u escape";
                    return -1;
                }
                continue;
            }
        }
        if (c == '\\') {
            st->esc = 1;
            i++;
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        st->lo = 0x80;
        st->hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            st->need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            st->need = 2;
            if (c == 0xe0)
                st->lo = 0xa0; /* overlong */
            else if (c == 0xed)
                st->hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            st->need = 3;
            if (c == 0xf0)
                st->lo = 0x90; /* overlong */
            else if (c == 0xf4)
                st->hi = 0x8f; /* above U+10FFFF */
        } else {
            *bad = i;
            *problem = "invalid UTF-8";
            return -1;
        }
        i++;
    }
    return 0;
}

int rs_jscan_end(const rs_jscan *st, const char **problem)
{
    if (st->need) {
        *problem = "invalid UTF-8 (truncated sequence)";
        return -1;
    }
    if (st->want_low) {
        *problem = "unpaired UTF-16 surrogate in a \\u escape";
        return -1;
    }
    return 0;
}
