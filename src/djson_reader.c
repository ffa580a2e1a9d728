/* Streaming data.json reader.
 *
 * The file is fed to yajl in 64 KiB chunks; the callbacks turn each array
 * element into a record and queue it, so memory is bounded by the chunk size
 * (plus one record, itself capped at 16 MiB) whatever the file's size. Queued
 * strings live in an arena as offsets (it may move while a chunk is parsed)
 * and become pointers when handed out. Non-seekable input is copied to an
 * unlinked temp file as it is read, so rs_djson_rewind works on pipes too.
 * zstd input is decoded on the way in (zstd_in.c); the copy keeps the
 * compressed bytes. */
#include "fdio.h"
#include "pyjson.h"
#include "zstd_in.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>

#define CHUNK (64u << 10)
#define RECORD_LIMIT (16u << 20)

static const char *const ARRAYS[5] = {"reps", "accounts", "opportunities", "territories", "opportunity_history"};
static const char *const ELEMENT_WHAT[5] = {"reps element", "accounts element", "opportunities element",
                                            "territories element", "opportunity_history element"};
static const rs_type ARRAY_TYPE[5] = {RS_REP, RS_ACCOUNT, RS_OPPORTUNITY, RS_TERRITORY, RS_HISTORY};

/* Position in the top-level object. */
enum {
    ST_OPEN,       /* before '{' */
    ST_SCHEMA_KEY, /* ... then "schema": "..." */
    ST_SCHEMA_VAL,
    ST_GENAT_KEY,
    ST_GENAT_VAL,
    ST_ARRAY_KEY, /* key of ARRAYS[arr] */
    ST_ARRAY_OPEN,
    ST_ELEMENTS, /* inside ARRAYS[arr] between elements */
    ST_FIELDS,   /* inside an element */
    ST_CLOSE,    /* after the last array, before '}' */
    ST_DONE
};

typedef struct qent {
    rs_rec_kind kind;
    rs_entity e; /* RS_VAL_STR values hold arena offsets in i until handed out */
    uint64_t line;
} qent;

struct rs_djson_reader {
    int fd;       /* the input */
    int spool_fd; /* copy of non-seekable input, -1 if seekable */
    int read_fd;  /* fd or spool_fd once rewound */
    rs_zin *zin;  /* decodes read_fd */
    bool own_fd, eof, spool_done;
    off_t start_off;
    char name[256];
    yajl_handle yh;
    rs_jscan sc;
    unsigned char *chunk;
    size_t clen;
    uint64_t line;   /* line number at chunk[scan_pos] */
    size_t scan_pos; /* bytes of the chunk already counted for lines */
    uint64_t fed_since_record;

    int st, arr;
    const rs_fields *f;
    unsigned fi;
    int pend;
    qent cur;
    unsigned cur_set;   /* bit i: cur.e.v[i] holds a value of the record being built */
    size_t cur_base;    /* arena offset where that record's strings begin */
    const char *what;

    qent *q;
    size_t qn, qhead, qcap;
    char *arena;
    size_t alen, acap;
    bool nomem;

    int status; /* sticky error */
    uint64_t err_line;
    char msg[400];
    rs_err err;
};

static uint64_t line_at(rs_djson_reader *d, size_t pos)
{
    if (pos > d->clen)
        pos = d->clen;
    while (d->scan_pos < pos) {
        const unsigned char *nl = memchr(d->chunk + d->scan_pos, '\n', pos - d->scan_pos);
        if (!nl) {
            d->scan_pos = pos;
            break;
        }
        d->line++;
        d->scan_pos = (size_t)(nl - d->chunk) + 1;
    }
    return d->line;
}

static uint64_t line_now(rs_djson_reader *d)
{
    return line_at(d, yajl_get_bytes_consumed(d->yh));
}

/* Records a problem found in a callback and cancels the parse. */
static int derr(rs_djson_reader *d, const char *fmt, const char *a, const char *b)
{
    if (fmt)
        snprintf(d->msg, sizeof d->msg, fmt, a, b);
    d->err_line = line_now(d);
    return 0;
}

static bool arena_put(rs_djson_reader *d, const unsigned char *s, size_t len, size_t *off)
{
    *off = d->alen;
    if (d->alen + len > d->acap) {
        size_t ncap = d->acap ? d->acap : CHUNK;
        while (ncap < d->alen + len)
            ncap *= 2;
        char *na = realloc(d->arena, ncap);
        if (!na) {
            d->nomem = true;
            return false;
        }
        d->arena = na;
        d->acap = ncap;
    }
    memcpy(d->arena + d->alen, s, len);
    d->alen += len;
    return true;
}

static bool enqueue(rs_djson_reader *d)
{
    if (d->qn == d->qcap) {
        size_t ncap = d->qcap ? d->qcap * 2 : 256;
        qent *nq = realloc(d->q, ncap * sizeof *nq);
        if (!nq) {
            d->nomem = true;
            return false;
        }
        d->q = nq;
        d->qcap = ncap;
    }
    d->q[d->qn++] = d->cur;
    d->fed_since_record = 0;
    return true;
}

static const char *tok_name(rs_jtok t)
{
    static const char *const n[] = {"null", "boolean", "number", "string", "object", "array"};
    return n[t];
}

static bool is_key(const unsigned char *k, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(k, lit, n) == 0;
}

static int on_value(rs_djson_reader *d, rs_jtok tok, const unsigned char *s, size_t len, int b)
{
    switch (d->st) {
    case ST_OPEN:
        if (tok != RS_J_MAP)
            return derr(d, "expected a JSON object, got %s%s", tok_name(tok), "");
        d->st = ST_SCHEMA_KEY;
        return 1;
    case ST_SCHEMA_VAL:
    case ST_GENAT_VAL: {
        const char *key = d->st == ST_SCHEMA_VAL ? "schema" : "generated_at";
        if (tok != RS_J_STR)
            return derr(d, "\"%s\" must be a string, got %s", key, tok_name(tok));
        if (d->st == ST_SCHEMA_VAL) {
            d->cur_set = 0;
            d->cur_base = d->alen;
        }
        if (len >= sizeof ((rs_header *)0)->schema || memchr(s, '\0', len))
            return derr(d, "\"%s\" is too long or not text%s", key, "");
        size_t off;
        if (!arena_put(d, s, len, &off))
            return derr(d, NULL, NULL, NULL);
        unsigned vi = d->st == ST_SCHEMA_VAL ? 0 : 1;
        rs_value *v = &d->cur.e.v[vi];
        d->cur_set |= 1u << vi;
        v->kind = RS_VAL_STR;
        v->i = (int64_t)off;
        v->len = len;
        if (d->st == ST_SCHEMA_VAL) {
            d->cur.line = line_now(d);
            d->st = ST_GENAT_KEY;
            return 1;
        }
        d->cur.kind = RS_REC_HEADER;
        if (!enqueue(d))
            return derr(d, NULL, NULL, NULL);
        d->st = ST_ARRAY_KEY;
        d->arr = 0;
        return 1;
    }
    case ST_ARRAY_OPEN:
        if (tok != RS_J_ARRAY)
            return derr(d, "\"%s\" must be an array, got %s", ARRAYS[d->arr], tok_name(tok));
        d->st = ST_ELEMENTS;
        return 1;
    case ST_ELEMENTS:
        if (tok != RS_J_MAP)
            return derr(d, "%s: elements must be objects, got %s", ARRAYS[d->arr], tok_name(tok));
        d->st = ST_FIELDS;
        d->f = rs_entity_fields(ARRAY_TYPE[d->arr]);
        d->fi = 0;
        d->pend = -1;
        d->cur.kind = RS_REC_ENTITY;
        d->cur.e.type = ARRAY_TYPE[d->arr];
        d->cur.e.nfields = d->f->n;
        d->cur.line = line_now(d);
        d->cur_set = 0;
        d->cur_base = d->alen;
        d->what = ELEMENT_WHAT[d->arr];
        return 1;
    case ST_FIELDS: {
        rs_value *v = &d->cur.e.v[d->pend];
        if (rs_fields_value(d->f, (unsigned)d->pend, tok, (const char *)s, len, b, v, d->what, d->msg,
                            sizeof d->msg))
            return derr(d, NULL, NULL, NULL);
        if (tok == RS_J_STR) {
            size_t off;
            if (!arena_put(d, s, len, &off))
                return derr(d, NULL, NULL, NULL);
            v->s = NULL;
            v->i = (int64_t)off;
        }
        d->cur_set |= 1u << d->pend;
        d->pend = -1;
        return 1;
    }
    default:
        /* a value where only a key can come cannot reach here (yajl) */
        return derr(d, "unexpected %s%s", tok_name(tok), "");
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
    return on_value(ctx, RS_J_NUMBER, (const unsigned char *)s, len, 0);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return on_value(ctx, RS_J_STR, s, len, 0);
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
    rs_djson_reader *d = ctx;
    if (d->st != ST_ELEMENTS)
        return derr(d, "unexpected end of array%s%s", "", ""); /* unreachable: nested arrays are refused */
    d->arr++;
    d->st = d->arr < 5 ? ST_ARRAY_KEY : ST_CLOSE;
    d->fed_since_record = 0;
    return 1;
}

static int cb_key(void *ctx, const unsigned char *k, size_t len)
{
    rs_djson_reader *d = ctx;
    char q[64];
    const char *want = NULL;
    switch (d->st) {
    case ST_SCHEMA_KEY:
        want = "schema";
        break;
    case ST_GENAT_KEY:
        want = "generated_at";
        break;
    case ST_ARRAY_KEY:
        want = ARRAYS[d->arr];
        break;
    case ST_FIELDS: {
        int i = rs_fields_key(d->f, &d->fi, false, (const char *)k, len, d->what, d->msg, sizeof d->msg);
        if (i < 0)
            return derr(d, NULL, NULL, NULL);
        d->pend = i;
        return 1;
    }
    default:
        rs_quote_for_msg(q, sizeof q, (const char *)k, len);
        return derr(d, "unexpected key %s after \"opportunity_history\"%s", q, "");
    }
    if (!is_key(k, len, want)) {
        rs_quote_for_msg(q, sizeof q, (const char *)k, len);
        return derr(d, "expected top-level key \"%s\", got %s", want, q);
    }
    d->st++; /* to the matching value state */
    return 1;
}

static int cb_end_map(void *ctx)
{
    rs_djson_reader *d = ctx;
    switch (d->st) {
    case ST_FIELDS:
        if (d->fi < d->f->n) {
            rs_fields_missing(d->f, d->fi, d->what, d->msg, sizeof d->msg);
            return derr(d, NULL, NULL, NULL);
        }
        if (!enqueue(d))
            return derr(d, NULL, NULL, NULL);
        d->st = ST_ELEMENTS;
        return 1;
    case ST_CLOSE:
        d->st = ST_DONE;
        return 1;
    case ST_SCHEMA_KEY:
        return derr(d, "missing top-level key \"schema\"%s%s", "", "");
    case ST_GENAT_KEY:
        return derr(d, "missing top-level key \"generated_at\"%s%s", "", "");
    default:
        return derr(d, "missing top-level key \"%s\"%s", ARRAYS[d->arr], "");
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

static int set_error(rs_djson_reader *d, int status, rs_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_error(rs_djson_reader *d, int status, rs_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err.msg, sizeof d->err.msg, fmt, ap);
    va_end(ap);
    /* Bad content decoded from damaged zstd: blame the zstd input when
     * decoding a little further says so. */
    if (status == RS_EDATA && d->zin)
        rs_zin_blame(d->zin, 256ull << 20, &d->err);
    d->status = status;
    *err = d->err;
    return status;
}

static int reset_parse(rs_djson_reader *d)
{
    if (d->yh)
        yajl_free(d->yh);
    d->yh = yajl_alloc(&CALLBACKS, NULL, d);
    if (!d->yh)
        return RS_ENOMEM;
    yajl_config(d->yh, yajl_dont_validate_strings, 1);
    rs_jscan_reset(&d->sc);
    d->clen = d->scan_pos = 0;
    d->line = 1;
    d->fed_since_record = 0;
    d->st = ST_OPEN;
    d->arr = 0;
    d->qn = d->qhead = 0;
    d->alen = 0;
    d->eof = false;
    d->status = 0;
    return 0;
}

int rs_djson_open(rs_djson_reader **out, const char *path, rs_err *err)
{
    rs_djson_reader *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    d->spool_fd = -1;
    int rc = rs_fd_open_input(path, &d->fd, &d->own_fd, d->name, sizeof d->name, err);
    if (rc) {
        free(d);
        return rc;
    }
    d->read_fd = d->fd;
    struct stat sb;
    d->start_off = lseek(d->fd, 0, SEEK_CUR);
    if (d->start_off < 0 || fstat(d->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        /* Pipes and terminals: keep a copy for rewinding, in a file that is
         * unlinked at once so no exit path can leave it behind. */
        const char *tmp = getenv("TMPDIR");
        char tpl[4096];
        snprintf(tpl, sizeof tpl, "%s/revops-stream-spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        d->spool_fd = mkostemp(tpl, O_CLOEXEC);
        if (d->spool_fd < 0) {
            snprintf(err->msg, sizeof err->msg, "%.200s: cannot create a temp file to hold the input: %s", tpl,
                     strerror(errno));
            rs_djson_close(d);
            return RS_EIO;
        }
        unlink(tpl);
    }
    if (rs_zin_open(&d->zin, d->fd, d->name, err) != 0) {
        rs_djson_close(d);
        return RS_ENOMEM;
    }
    if (d->spool_fd >= 0)
        rs_zin_set_tee(d->zin, d->spool_fd);
    /* The string arena exists from the start: offsets into it are taken
     * even for empty strings. */
    d->chunk = malloc(CHUNK);
    d->arena = malloc(CHUNK);
    d->acap = CHUNK;
    if (!d->chunk || !d->arena || reset_parse(d) != 0) {
        rs_djson_close(d);
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    *out = d;
    return 0;
}

void rs_djson_close(rs_djson_reader *d)
{
    if (!d)
        return;
    if (d->own_fd)
        close(d->fd);
    if (d->spool_fd >= 0)
        close(d->spool_fd);
    if (d->yh)
        yajl_free(d->yh);
    rs_zin_close(d->zin);
    free(d->chunk);
    free(d->q);
    free(d->arena);
    free(d);
}

/* Reads the next chunk of content (the raw bytes of pipe input also go to
 * the spool); 0 at EOF. */
static ssize_t read_chunk(rs_djson_reader *d, rs_err *err)
{
    size_t n;
    rs_err e;
    int rc = rs_zin_read(d->zin, (char *)d->chunk, CHUNK, &n, &e);
    if (rc) {
        set_error(d, rc, err, "%s", e.msg);
        return -1;
    }
    if (n == 0 && d->read_fd == d->fd)
        d->spool_done = true;
    return (ssize_t)n;
}

static void release_arena(rs_djson_reader *d)
{
    bool building = d->st == ST_FIELDS || d->st == ST_GENAT_KEY || d->st == ST_GENAT_VAL;
    if (!building) {
        d->alen = 0;
        return;
    }
    size_t base = d->cur_base;
    memmove(d->arena, d->arena + base, d->alen - base);
    d->alen -= base;
    d->cur_base = 0;
    for (unsigned i = 0; i < RS_MAX_FIELDS; i++)
        if ((d->cur_set & (1u << i)) && d->cur.e.v[i].kind == RS_VAL_STR)
            d->cur.e.v[i].i -= (int64_t)base;
}

static void hand_out(rs_djson_reader *d, rs_record *rec)
{
    qent *e = &d->q[d->qhead++];
    rec->line = e->line;
    if (e->kind == RS_REC_HEADER) {
        memset(&rec->header, 0, sizeof rec->header);
        rec->kind = RS_REC_HEADER;
        rs_value *v = e->e.v;
        memcpy(rec->header.schema, d->arena + v[0].i, v[0].len);
        rec->header.schema[v[0].len] = '\0';
        memcpy(rec->header.generated_at, d->arena + v[1].i, v[1].len);
        rec->header.generated_at[v[1].len] = '\0';
        return;
    }
    rec->kind = RS_REC_ENTITY;
    rec->canonical = false;
    rec->entity = e->e;
    for (unsigned i = 0; i < rec->entity.nfields; i++) {
        rs_value *v = &rec->entity.v[i];
        if (v->kind == RS_VAL_STR) {
            v->s = d->arena + v->i;
            v->i = 0;
        }
    }
}

int rs_djson_next(rs_djson_reader *d, rs_record *rec, rs_err *err)
{
    for (;;) {
        if (d->status) {
            *err = d->err;
            return d->status;
        }
        if (d->qhead < d->qn) {
            hand_out(d, rec);
            return 1;
        }
        /* Everything handed out is now released; only the strings of a
         * record still being built (it spans chunks) move to the front. */
        d->qn = d->qhead = 0;
        release_arena(d);
        if (d->eof) {
            const char *problem;
            if (d->st != ST_DONE)
                return set_error(d, RS_EDATA, err, "%s:%llu: unexpected end of file (truncated data.json?)", d->name,
                                 (unsigned long long)d->line);
            if (rs_jscan_end(&d->sc, &problem) != 0)
                return set_error(d, RS_EDATA, err, "%s:%llu: %s", d->name, (unsigned long long)d->line, problem);
            return 0;
        }
        line_at(d, d->clen);
        d->scan_pos = 0;
        ssize_t n = read_chunk(d, err);
        if (n < 0)
            return d->status;
        d->clen = (size_t)n;
        if (n == 0) {
            d->eof = true;
            if (d->st == ST_DONE && yajl_complete_parse(d->yh) != yajl_status_ok)
                return set_error(d, RS_EDATA, err, "%s:%llu: invalid JSON at the end of the file", d->name,
                                 (unsigned long long)d->line);
            continue;
        }
        size_t bad;
        const char *problem;
        if (rs_jscan_feed(&d->sc, d->chunk, d->clen, &bad, &problem) != 0)
            return set_error(d, RS_EDATA, err, "%s:%llu: %s", d->name, (unsigned long long)line_at(d, bad), problem);
        d->msg[0] = '\0';
        d->nomem = false;
        yajl_status st = yajl_parse(d->yh, d->chunk, d->clen);
        if (d->nomem)
            return set_error(d, RS_ENOMEM, err, "out of memory");
        if (st == yajl_status_client_canceled)
            return set_error(d, RS_EDATA, err, "%s:%llu: %s", d->name, (unsigned long long)d->err_line, d->msg);
        if (st != yajl_status_ok) {
            unsigned char *e = yajl_get_error(d->yh, 0, d->chunk, d->clen);
            char t[160];
            snprintf(t, sizeof t, "%s", e ? (const char *)e : "parse error");
            t[strcspn(t, "\n")] = '\0';
            if (e)
                yajl_free_error(d->yh, e);
            return set_error(d, RS_EDATA, err, "%s:%llu: invalid JSON: %s", d->name,
                             (unsigned long long)line_at(d, yajl_get_bytes_consumed(d->yh)), t);
        }
        d->fed_since_record += d->clen;
        if (d->fed_since_record > RECORD_LIMIT)
            return set_error(d, RS_EDATA, err, "%s:%llu: record longer than 16 MiB", d->name,
                             (unsigned long long)line_at(d, d->clen));
    }
}

int rs_djson_rewind(rs_djson_reader *d, rs_err *err)
{
    if (d->spool_fd >= 0) {
        /* Copy the rest of the pipe so the spool holds the whole input. */
        if (d->read_fd == d->fd && !d->spool_done) {
            rs_err e;
            int rc = rs_zin_drain(d->zin, &e);
            if (rc)
                return set_error(d, rc, err, "%s", e.msg);
            d->spool_done = true;
        }
        d->read_fd = d->spool_fd;
        if (lseek(d->spool_fd, 0, SEEK_SET) < 0)
            goto seek_fail;
    } else if (lseek(d->fd, d->start_off, SEEK_SET) < 0) {
        goto seek_fail;
    }
    /* A fresh decoder over the start of the input (or of its copy). */
    rs_zin_close(d->zin);
    d->zin = NULL;
    if (rs_zin_open(&d->zin, d->read_fd, d->name, err) != 0 || reset_parse(d) != 0)
        return set_error(d, RS_ENOMEM, err, "out of memory");
    return 0;
seek_fail:
    snprintf(err->msg, sizeof err->msg, "%s: cannot rewind: %s", d->name, strerror(errno));
    return RS_EIO;
}
