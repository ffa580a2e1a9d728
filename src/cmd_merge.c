/* `revops-stream merge`: one NDJSON stream in canonical order -> data.json.
 *
 * Streams records straight into the Python-compatible writer, checking on
 * the way everything that makes the output trustworthy: header first, types
 * in dependency order, ids 1..n, footer counts, nothing after the footer.
 * Only territories are held back (they come first in the stream, fourth in
 * data.json); there is one per industry, and past --memory they go to a
 * temp file. */
#include "cli.h"
#include "outfile.h"
#include "pyjson.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "Usage: revops-stream merge [OPTIONS] [FILE]\n"
    "Turn one NDJSON stream (FILE, or stdin when FILE is absent or -) into the\n"
    "canonical data.json: byte for byte Python's json.dump(payload, f, indent=2).\n"
    "\n"
    "Options:\n"
    "  -o PATH              write to PATH (atomically: temp file + rename)\n"
    "      --compact        one line, byte for byte json.dumps(payload)\n"
    "      --memory SIZE    memory budget, with K, M or G suffix (default 256M)\n"
    "      --generated-at ISO\n"
    "                       generated_at to write instead of the header's\n"
    "  -h, --help           show this help\n"
    "\n"
    "The stream must be complete (header ... footer) and in canonical order;\n"
    "merging several shards or files is not supported yet.\n";

#define DEFAULT_MEMORY (256ull << 20)

/* Parses a size such as 512K, 256M, 2G (or plain bytes, optional B/iB). */
static int parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    unsigned shift = 0;
    switch (*p) {
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    case 't': case 'T': shift = 40; p++; break;
    default: break;
    }
    if (shift && p[0] == 'i' && p[1] == 'B')
        p += 2;
    else if (*p == 'B')
        p++;
    if (*p || v > (UINT64_MAX >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

/* data.json's arrays in output order, and the stream type of each. */
static const char *const SLOT_KEY[5] = {"reps", "accounts", "opportunities", "territories", "opportunity_history"};
static const int TYPE_SLOT[RS_NTYPES] = {[RS_TERRITORY] = 3, [RS_REP] = 0, [RS_ACCOUNT] = 1, [RS_OPPORTUNITY] = 2,
                                         [RS_HISTORY] = 4};

typedef struct merge {
    rs_ndjson_reader *r;
    rs_out *out;
    rs_pyj w;  /* data.json */
    rs_pyj tw; /* territory elements, formatted ahead into the spool */
    rs_spool sp;
    bool w_init, tw_init;
    rs_header hdr;
    uint64_t seen[RS_NTYPES];
    int64_t last_hist;
    int cur;  /* type of the last entity, -1 before any */
    int slot; /* last data.json array opened, -1 before any */
    rs_err err;
} merge;

static int mfail(merge *m, uint64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int mfail(merge *m, uint64_t line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(m->err.msg, sizeof m->err.msg, "%.100s:%llu: %s", rs_ndjson_name(m->r), (unsigned long long)line, msg);
    return RS_EDATA;
}

static int wfail(merge *m, const rs_pyj *w)
{
    m->err = w->err;
    return w->status;
}

static const rs_err *out_err(const void *ctx)
{
    return rs_out_last_error(ctx);
}

static int raw_cb(void *ctx, const char *p, size_t n)
{
    return rs_pyj_raw_elements(ctx, p, n, 0);
}

/* Closes arrays up to slot k and opens it (territories come out whole). */
static int advance_to(merge *m, int k)
{
    while (m->slot < k) {
        if (m->slot >= 0 && rs_pyj_array_end(&m->w))
            return wfail(m, &m->w);
        m->slot++;
        if (rs_pyj_array_begin(&m->w, SLOT_KEY[m->slot]))
            return wfail(m, &m->w);
        if (m->slot == 3) {
            if (rs_pyj_flush(&m->tw))
                return wfail(m, &m->tw);
            int rc = rs_spool_replay(&m->sp, raw_cb, &m->w, &m->err);
            if (rc)
                return m->w.status ? wfail(m, &m->w) : rc;
            if (rs_pyj_raw_elements(&m->w, NULL, 0, m->seen[RS_TERRITORY]))
                return wfail(m, &m->w);
        }
    }
    return 0;
}

static int on_entity(merge *m, const rs_record *rec)
{
    const rs_entity *e = &rec->entity;
    int t = (int)e->type;
    const char *tn = rs_type_name(e->type);
    if (t < m->cur)
        return mfail(m, rec->line,
                     "%s record after %s records: not in dependency order (merging unsorted streams or shards is "
                     "not supported yet)",
                     tn, rs_type_name((rs_type)m->cur));
    m->cur = t;
    int64_t id = e->v[0].i;
    if (t == RS_HISTORY) {
        if (m->seen[t] && id <= m->last_hist)
            return mfail(m, rec->line, "opportunity_history id %lld after id %lld: duplicate or out of order",
                         (long long)id, (long long)m->last_hist);
        m->last_hist = id;
    } else {
        uint64_t want = m->seen[t] + 1;
        if ((uint64_t)id < want)
            return mfail(m, rec->line, "duplicate %s id %lld (ids must run 1, 2, 3, ...)", tn, (long long)id);
        if ((uint64_t)id > want)
            return mfail(m, rec->line, "missing %s id %llu (found id %lld)", tn, (unsigned long long)want,
                         (long long)id);
        if (t != RS_TERRITORY && (uint64_t)id > m->hdr.counts[t - RS_REP])
            return mfail(m, rec->line, "more %s records than the header's count %llu", tn,
                         (unsigned long long)m->hdr.counts[t - RS_REP]);
    }
    m->seen[t]++;
    if (t == RS_TERRITORY)
        return rs_pyj_entity(&m->tw, e) ? wfail(m, &m->tw) : 0;
    int rc = advance_to(m, TYPE_SLOT[t]);
    if (rc)
        return rc;
    return rs_pyj_entity(&m->w, e) ? wfail(m, &m->w) : 0;
}

static int on_footer(merge *m, const rs_record *rec)
{
    const rs_footer *f = &rec->footer;
    for (int t = 0; t < RS_NTYPES; t++) {
        const char *tn = rs_type_name((rs_type)t);
        if (!(f->present_mask & (1u << t))) {
            if (m->seen[t])
                return mfail(m, rec->line, "footer does not count the stream's %s records", tn);
            return mfail(m, rec->line,
                         "stream has no %s records (made with --types?): data.json needs all five types", tn);
        }
        if (f->records[t] != m->seen[t])
            return mfail(m, rec->line, "footer counts %llu %s records, the stream has %llu",
                         (unsigned long long)f->records[t], tn, (unsigned long long)m->seen[t]);
    }
    for (int t = RS_REP; t <= RS_OPPORTUNITY; t++)
        if (m->hdr.counts[t - RS_REP] != m->seen[t])
            return mfail(m, rec->line, "header counts %llu %s records, the stream has %llu",
                         (unsigned long long)m->hdr.counts[t - RS_REP], rs_type_name((rs_type)t),
                         (unsigned long long)m->seen[t]);
    if (f->shard_index != m->hdr.shard_index || f->shard_count != m->hdr.shard_count)
        return mfail(m, rec->line, "footer shard %llu/%llu does not match the header's %llu/%llu",
                     (unsigned long long)f->shard_index, (unsigned long long)f->shard_count,
                     (unsigned long long)m->hdr.shard_index, (unsigned long long)m->hdr.shard_count);
    int rc = advance_to(m, 4);
    if (rc)
        return rc;
    if (rs_pyj_array_end(&m->w) || rs_pyj_end(&m->w) || rs_pyj_flush(&m->w))
        return wfail(m, &m->w);
    return 0;
}

static int run(merge *m, const char *gen_at, bool compact, uint64_t memory)
{
    rs_record rec;
    int rc = rs_ndjson_next(m->r, &rec, &m->err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return mfail(m, 1, "empty input: expected a header record");
    if (rec.kind != RS_REC_HEADER)
        return mfail(m, rec.line, "expected a header record first, got %s",
                     rec.kind == RS_REC_FOOTER ? "a footer" : rs_type_name(rec.entity.type));
    m->hdr = rec.header;
    if (m->hdr.shard_count != 1)
        return mfail(m, rec.line,
                     "header says shard %llu of %llu: merging shards is not supported yet (give one unsharded "
                     "stream)",
                     (unsigned long long)m->hdr.shard_index, (unsigned long long)m->hdr.shard_count);
    if ((rc = rs_pyj_init(&m->w, compact, rs_out_write_cb, m->out, out_err, &m->err)))
        return rc;
    m->w_init = true;
    if ((rc = rs_pyj_init(&m->tw, compact, rs_spool_write, &m->sp, rs_spool_last_error, &m->err)))
        return rc;
    m->tw_init = true;
    const char *ga = gen_at ? gen_at : m->hdr.generated_at;
    if (rs_pyj_begin(&m->w, m->hdr.schema, strlen(m->hdr.schema), ga, strlen(ga)))
        return wfail(m, &m->w);
    m->cur = -1;
    m->slot = -1;
    uint64_t last_line = rec.line;
    for (;;) {
        rc = rs_ndjson_next(m->r, &rec, &m->err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return mfail(m, last_line, "truncated stream: no footer after this line");
        last_line = rec.line;
        if (rec.kind == RS_REC_HEADER)
            return mfail(m, rec.line, "second header (several streams in one input are not supported yet)");
        if (rec.kind == RS_REC_FOOTER)
            break;
        if ((rc = on_entity(m, &rec)))
            return rc;
    }
    if ((rc = on_footer(m, &rec)))
        return rc;
    rc = rs_ndjson_next(m->r, &rec, &m->err);
    if (rc < 0)
        return rc;
    if (rc > 0)
        return mfail(m, rec.line, "record after the footer");
    return 0;
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"compact", no_argument, NULL, 'c'},
        {"memory", required_argument, NULL, 'm'},
        {"generated-at", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL, *gen_at = NULL;
    bool compact = false;
    uint64_t memory = DEFAULT_MEMORY;
    rs_err err = {{0}};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 'c':
            compact = true;
            break;
        case 'm':
            if (parse_size(optarg, &memory) != 0 || memory < (1u << 20)) {
                cli_error("merge: --memory: not a size of at least 1M (e.g. 256M, 2G): \"%.64s\"", optarg);
                return 2;
            }
            break;
        case 'g':
            if (cli_check_generated_at(optarg, &err) != 0)
                return cli_fail(RS_EUSAGE, &err);
            gen_at = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            return cli_option_error("merge", c, argv);
        }
    }
    if (argc - optind > 1) {
        cli_error("merge: %d input files given: merging several files or shards is not supported yet (give one "
                  "stream)",
                  argc - optind);
        return 2;
    }
    const char *in_path = optind < argc ? argv[optind] : "-";

    merge m;
    memset(&m, 0, sizeof m);
    rs_spool_init(&m.sp, memory);
    int rc = rs_ndjson_open(&m.r, in_path, &m.err);
    if (rc == 0)
        rc = rs_out_open(&m.out, out_path, &m.err);
    if (rc == 0)
        rc = run(&m, gen_at, compact, memory);
    if (rc == 0) {
        rc = rs_out_commit(m.out, &m.err);
        m.out = NULL;
    }
    if (m.out)
        rs_out_abort(m.out);
    if (m.w_init)
        rs_pyj_free(&m.w);
    if (m.tw_init)
        rs_pyj_free(&m.tw);
    rs_spool_free(&m.sp);
    rs_ndjson_close(m.r);
    return rc ? cli_fail(rc, &m.err) : 0;
}
