/* `revops-stream split`: data.json -> NDJSON stream (the inverse of merge).
 *
 * Two passes over the file in bounded memory: the first counts each array
 * (the header needs the counts) and formats the territories, which data.json
 * holds fourth but the stream needs first, into a spool; the second writes
 * the header, the spooled territories, the other records and the footer. */
#include "cli.h"
#include "outfile.h"
#include "pyjson.h"
#include "vocab.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "Usage: revops-stream split [OPTIONS] [FILE]\n"
    "Turn a data.json (FILE, or stdin when FILE is absent or -) into an NDJSON\n"
    "stream: header, records in dependency order, footer. `revops-stream merge`\n"
    "of the result gives back the same bytes for a canonical data.json.\n"
    "\n"
    "Options:\n"
    "  -o PATH      write to PATH (atomically: temp file + rename)\n"
    "  -h, --help   show this help\n";

/* Territories held in memory up to this much, then in a temp file. */
#define SPOOL_BUDGET (16u << 20)
#define LW_CAP (512u << 10)
#define LW_FLUSH (128u << 10)
#define STR_PIECE (16u << 10)

/* Compact stream lines into a sink, in chunks of about LW_FLUSH bytes. */
typedef struct lw {
    rs_write_fn write;
    void *ctx;
    const rs_err *(*sink_err)(const void *ctx);
    char *buf;
    size_t len;
    int status;
    rs_err err;
} lw;

static int lw_flush(lw *w)
{
    if (w->status)
        return w->status;
    if (w->len) {
        int rc = w->write(w->ctx, w->buf, w->len);
        w->len = 0;
        if (rc) {
            w->status = rc;
            const rs_err *e = w->sink_err(w->ctx);
            w->err = *e;
            return rc;
        }
    }
    return 0;
}

/* Room for n more bytes (n < LW_CAP - LW_FLUSH). */
static int lw_room(lw *w, size_t n)
{
    if (w->len + n > LW_CAP || w->len > LW_FLUSH)
        return lw_flush(w);
    return w->status;
}

static void lw_put(lw *w, const char *s, size_t n)
{
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}
#define LW_LIT(w, s) lw_put((w), (s), sizeof(s) - 1)

static int lw_str(lw *w, const char *s, size_t n)
{
    int rc;
    if ((rc = lw_room(w, 2 + 6 * (n < STR_PIECE ? n : STR_PIECE))))
        return rc;
    w->buf[w->len++] = '"';
    /* The stream escape works byte by byte, so pieces may cut anywhere. */
    while (n > STR_PIECE) {
        w->len += rs_json_escape(s, STR_PIECE, w->buf + w->len);
        s += STR_PIECE;
        n -= STR_PIECE;
        if ((rc = lw_room(w, 2 + 6 * STR_PIECE)))
            return rc;
    }
    w->len += rs_json_escape(s, n, w->buf + w->len);
    w->buf[w->len++] = '"';
    return 0;
}

static int lw_u64(lw *w, uint64_t v)
{
    int rc = lw_room(w, 24);
    if (rc == 0)
        w->len += rs_fmt_u64(w->buf + w->len, v);
    return rc;
}

static int lw_entity(lw *w, const rs_entity *e)
{
    unsigned nf;
    const char *const *names = rs_type_fields(e->type, &nf);
    const char *tn = rs_type_name(e->type);
    int rc;
    if ((rc = lw_room(w, 64)))
        return rc;
    LW_LIT(w, "{\"type\":\"");
    lw_put(w, tn, strlen(tn));
    LW_LIT(w, "\",\"data\":{");
    for (unsigned i = 0; i < e->nfields; i++) {
        const rs_value *v = &e->v[i];
        if ((rc = lw_room(w, 64)))
            return rc;
        if (i)
            w->buf[w->len++] = ',';
        w->buf[w->len++] = '"';
        lw_put(w, names[i], strlen(names[i]));
        LW_LIT(w, "\":");
        switch (v->kind) {
        case RS_VAL_INT:
            w->len += rs_fmt_i64(w->buf + w->len, v->i);
            break;
        case RS_VAL_STR:
            if ((rc = lw_str(w, v->s, v->len)))
                return rc;
            break;
        case RS_VAL_BOOL:
            if (v->i)
                LW_LIT(w, "true");
            else
                LW_LIT(w, "false");
            break;
        case RS_VAL_NULL:
            LW_LIT(w, "null");
            break;
        }
    }
    if ((rc = lw_room(w, 8)))
        return rc;
    LW_LIT(w, "}}\n");
    return 0;
}

static int lw_header(lw *w, const rs_header *h, const uint64_t counts[RS_NTYPES])
{
    int rc;
    if ((rc = lw_room(w, 64)))
        return rc;
    LW_LIT(w, "{\"type\":\"header\",\"data\":{\"schema\":");
    if ((rc = lw_str(w, h->schema, strlen(h->schema))) || (rc = lw_room(w, 64)))
        return rc;
    LW_LIT(w, ",\"generated_at\":");
    if ((rc = lw_str(w, h->generated_at, strlen(h->generated_at))) || (rc = lw_room(w, 256)))
        return rc;
    LW_LIT(w, ",\"generator\":\"revops-stream " RS_VERSION "\",\"seed\":null,\"as_of\":null,\"settings\":null,"
              "\"counts\":{\"reps\":");
    lw_u64(w, counts[RS_REP]);
    LW_LIT(w, ",\"accounts\":");
    lw_u64(w, counts[RS_ACCOUNT]);
    LW_LIT(w, ",\"opportunities\":");
    lw_u64(w, counts[RS_OPPORTUNITY]);
    LW_LIT(w, "},\"shard\":{\"index\":1,\"count\":1}}}\n");
    return w->status;
}

static int lw_footer(lw *w, const uint64_t counts[RS_NTYPES])
{
    int rc;
    if ((rc = lw_room(w, 64)))
        return rc;
    LW_LIT(w, "{\"type\":\"footer\",\"data\":{\"records\":{");
    for (int t = 0; t < RS_NTYPES; t++) {
        const char *tn = rs_type_name((rs_type)t);
        if ((rc = lw_room(w, 64)))
            return rc;
        if (t)
            w->buf[w->len++] = ',';
        w->buf[w->len++] = '"';
        lw_put(w, tn, strlen(tn));
        LW_LIT(w, "\":");
        w->len += rs_fmt_u64(w->buf + w->len, counts[t]);
    }
    LW_LIT(w, "},\"shard\":{\"index\":1,\"count\":1}}}\n");
    return 0;
}

static const rs_err *out_err(const void *ctx)
{
    return rs_out_last_error(ctx);
}

typedef struct split {
    rs_djson_reader *r;
    rs_out *out;
    rs_spool sp;
    lw out_w, ter_w;
    rs_err err;
    const char *name; /* input, for messages */
} split;

static int lw_fail(split *s, const lw *w)
{
    s->err = w->err;
    return w->status;
}

static int run(split *s)
{
    rs_record rec;
    rs_header hdr;
    uint64_t counts[RS_NTYPES] = {0};
    int rc = rs_djson_next(s->r, &rec, &s->err);
    if (rc <= 0)
        return rc; /* the reader always yields a header before anything else */
    hdr = rec.header;
    uint64_t last_history = 0;
    while ((rc = rs_djson_next(s->r, &rec, &s->err)) > 0) {
        rs_type t = rec.entity.type;
        counts[t]++;
        /* The stream lists each type in id order (ids 1..n; history
         * ascending), so the arrays must be in that order already. */
        uint64_t id = (uint64_t)rec.entity.v[0].i;
        if (t == RS_HISTORY ? id <= last_history : id != counts[t]) {
            snprintf(s->err.msg, sizeof s->err.msg, "%s:%llu: %s id %llu is out of order (expected %s%llu)",
                     s->name, (unsigned long long)rec.line, rs_type_name(t), (unsigned long long)id,
                     t == RS_HISTORY ? "more than " : "",
                     (unsigned long long)(t == RS_HISTORY ? last_history : counts[t]));
            return RS_EDATA;
        }
        last_history = t == RS_HISTORY ? id : last_history;
        if (rec.entity.type == RS_TERRITORY && lw_entity(&s->ter_w, &rec.entity))
            return lw_fail(s, &s->ter_w);
    }
    if (rc < 0)
        return rc;
    if (lw_flush(&s->ter_w))
        return lw_fail(s, &s->ter_w);

    if ((rc = rs_djson_rewind(s->r, &s->err)))
        return rc;
    if (lw_header(&s->out_w, &hdr, counts) || lw_flush(&s->out_w))
        return lw_fail(s, &s->out_w);
    if ((rc = rs_spool_replay(&s->sp, rs_out_write_cb, s->out, &s->err))) {
        if (rs_out_last_error(s->out)->msg[0])
            s->err = *rs_out_last_error(s->out);
        return rc;
    }
    while ((rc = rs_djson_next(s->r, &rec, &s->err)) > 0) {
        if (rec.kind == RS_REC_ENTITY && rec.entity.type != RS_TERRITORY && lw_entity(&s->out_w, &rec.entity))
            return lw_fail(s, &s->out_w);
    }
    if (rc < 0)
        return rc;
    if (lw_footer(&s->out_w, counts) || lw_flush(&s->out_w))
        return lw_fail(s, &s->out_w);
    return 0;
}

int cmd_split(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL;
    int c;
    opterr = 0;
    optind = 0; /* 0: a full reset of GNU getopt (the fuzzer calls us repeatedly) */
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_option_error("split", c, argv);
        }
    }
    if (argc - optind > 1) {
        cli_error("split: one input file at most (got %d)", argc - optind);
        return 2;
    }
    const char *in_path = optind < argc ? argv[optind] : "-";
    if (cli_parse_only)
        return 0;

    split s;
    memset(&s, 0, sizeof s);
    s.name = strcmp(in_path, "-") == 0 ? "<stdin>" : in_path;
    rs_spool_init(&s.sp, SPOOL_BUDGET);
    int rc = 0;
    s.out_w.buf = malloc(LW_CAP);
    s.ter_w.buf = malloc(LW_CAP);
    if (!s.out_w.buf || !s.ter_w.buf) {
        snprintf(s.err.msg, sizeof s.err.msg, "out of memory");
        rc = RS_ENOMEM;
    }
    if (rc == 0)
        rc = rs_djson_open(&s.r, in_path, &s.err);
    if (rc == 0)
        rc = rs_out_open(&s.out, out_path, &s.err);
    if (rc == 0) {
        s.out_w.write = rs_out_write_cb;
        s.out_w.ctx = s.out;
        s.out_w.sink_err = out_err;
        s.ter_w.write = rs_spool_write;
        s.ter_w.ctx = &s.sp;
        s.ter_w.sink_err = rs_spool_last_error;
        rc = run(&s);
    }
    if (rc == 0) {
        rc = rs_out_commit(s.out, &s.err);
        s.out = NULL;
    }
    if (s.out)
        rs_out_abort(s.out);
    rs_djson_close(s.r);
    rs_spool_free(&s.sp);
    free(s.out_w.buf);
    free(s.ter_w.buf);
    return rc ? cli_fail(rc, &s.err) : 0;
}
