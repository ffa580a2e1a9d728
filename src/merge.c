/* Merge engine: NDJSON streams or shards -> canonical data.json (merge.h).
 *
 * Stage 1 (streaming): when every input starts with a header and those
 * headers name all N shards, each input is a cursor, and the record written
 * next is whichever cursor's head is exactly the next one in canonical order:
 * the next id of the current type, or id 1 of a later type once the types
 * between can end (their header counts reached, or zero). For one stream in
 * order, or shards in separate files in any order, that is all: no sorting,
 * no temp file. Territories, first in a stream but fourth in data.json, wait
 * in a spool, so they may still arrive until the history array opens.
 *
 * Stage 2 (sorting): at the first head that is not the next record (lines
 * interleaved or shuffled, shards one after another in one input, a shard
 * not among the first headers, disorder), every record not yet written goes
 * through the external sorter (spill.h), keyed (type, id), and the sorted
 * records follow what stage 1 wrote. Nothing written is taken back: stage 1
 * writes only records that must come next, so a record sorted later that
 * belongs before them is a duplicate or an extra. (The one disorder this
 * cannot repair: an input that starts in order but holds its last territory
 * after the opportunities; that is reported, not written wrong.)
 *
 * Shards: a header opens its shard in its input, the footer (before or after
 * it: lines may be shuffled) closes it there. In stage 1 a record belongs to
 * its cursor's shard; in stage 2 to the shard whose share of that type the
 * footers' counts give its rank, which must be in the record's input. At the
 * end each shard must hold exactly its footer's counts, as one contiguous
 * range of each type. */
#include "merge.h"
#include "pyjson.h"
#include "vthread.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS (1u << 16)
#define KEY_SHIFT 59 /* key = type << 59 | id */
#define ID_LIMIT (1ull << KEY_SHIFT)
/* Read buffers of all open inputs together stay near this. */
#define READ_TOTAL (8u << 20)

typedef struct shard {
    bool seen, has_footer; /* header / footer read */
    size_t input, ftr_input;
    uint64_t hdr_line, ftr_line;
    uint64_t records[RS_NTYPES]; /* the footer's counts */
    unsigned present_mask;
    /* What it was found to hold: count and first/last rank per type. */
    uint64_t got[RS_NTYPES], first[RS_NTYPES], last[RS_NTYPES];
} shard;

typedef struct in_state {
    rs_ndjson_reader *r; /* NULL once read to the end in stage 2 */
    char name[128];
    rs_record rec;
    bool pending; /* rec read but not taken yet (stage 1: the head entity) */
    bool done, any;
    uint64_t last_line, first_entity_line, headers;
    /* Shards whose header came here without their footer yet, and footers
     * that came before their header (shuffled lines). */
    uint64_t *open, *early;
    size_t nopen, capopen, nearly, capearly;
} in_state;

/* data.json's arrays in output order, and the stream type of each. */
static const char *const SLOT_KEY[5] = {"reps", "accounts", "opportunities", "territories", "opportunity_history"};
static const int TYPE_SLOT[RS_NTYPES] = {[RS_TERRITORY] = 3, [RS_REP] = 0, [RS_ACCOUNT] = 1, [RS_OPPORTUNITY] = 2,
                                         [RS_HISTORY] = 4};

typedef struct merge {
    const rs_merge_options *o;
    in_state *in;
    size_t nin;
    shard *sh;
    uint64_t nsh;   /* N, from the first header */
    uint64_t nseen; /* distinct shards seen */
    bool hdr_seen;
    rs_header hdr;  /* the first header */
    size_t hdr_input;
    uint64_t hdr_line;
    char gen_at[64]; /* the earliest generated_at */
    bool stage2;
    /* output */
    rs_write_fn write;
    void *ctx;
    const rs_err *(*sink_err)(const void *ctx);
    rs_pyj w, tw;
    rs_spool sp;
    bool w_init, tw_init, started;
    int cur, slot;
    uint64_t seen[RS_NTYPES];
    int64_t last_hist;
    /* stage 2: per type, the shard that owns the next rank and its last rank */
    uint64_t ak[RS_NTYPES], ab[RS_NTYPES];
    rs_sorter *sorter;
    uint64_t budget; /* memory for sorting: --memory less the validator's */
    rs_validator *v; /* NULL without o->check */
    rs_vthread *vt;  /* the thread that feeds v, from the first header */
    bool vt_stable;  /* it reads the mapped input (rs_vthread_stable) */
    uint64_t vt_fed; /* records fed to it since */
    rs_merge_stats *stats;
    rs_err err;
} merge;

static const char *iname(const merge *m, size_t i)
{
    return m->in[i].name;
}

static int fail_at(merge *m, size_t input, uint64_t line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_at(merge *m, size_t input, uint64_t line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(m->err.msg, sizeof m->err.msg, "%.100s:%llu: %s", iname(m, input), (unsigned long long)line, msg);
    return RS_EDATA;
}

static int fail(merge *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(merge *m, const char *fmt, ...)
{
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(m->err.msg, sizeof m->err.msg, "merge: %s", msg);
    return RS_EDATA;
}

static int nomem(merge *m)
{
    snprintf(m->err.msg, sizeof m->err.msg, "out of memory");
    return RS_ENOMEM;
}

/* ---- generated_at: the earliest instant ---- */

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Parses YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) into seconds since
 * the epoch and nanoseconds. */
static bool parse_instant(const char *s, int64_t *sec, uint32_t *ns)
{
    int32_t days;
    size_t n = strlen(s);
    if (n < 20 || rs_date_parse(s, 10, &days) != 0 || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return false;
    int64_t t = (int64_t)days * 86400 + two(s + 11) * 3600 + two(s + 14) * 60 + two(s + 17);
    const char *p = s + 19;
    uint32_t frac = 0;
    if (*p == '.') {
        p++;
        int k = 0;
        while (*p >= '0' && *p <= '9') {
            if (k < 9)
                frac = frac * 10 + (uint32_t)(*p - '0');
            k++;
            p++;
        }
        if (k == 0)
            return false;
        for (; k < 9; k++)
            frac *= 10;
    }
    if (*p == 'Z' && p[1] == '\0') {
        /* UTC */
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2)) {
        int64_t off = two(p + 1) * 3600 + two(p + 4) * 60;
        t -= *p == '+' ? off : -off;
    } else {
        return false;
    }
    *sec = t;
    *ns = frac;
    return true;
}

/* True if a names an earlier instant than b; text that is not a date-time
 * counts as later than any that is, and compares by bytes among itself. */
static bool earlier(const char *a, const char *b)
{
    int64_t sa, sb;
    uint32_t na, nb;
    bool pa = parse_instant(a, &sa, &na), pb = parse_instant(b, &sb, &nb);
    if (pa && pb)
        return sa < sb || (sa == sb && na < nb);
    if (pa != pb)
        return pa;
    return strcmp(a, b) < 0;
}

/* ---- shards: headers and footers ---- */

static uint64_t hcount(const merge *m, int t)
{
    return m->hdr.counts[t - RS_REP];
}

/* Why header h cannot be a shard of the same data set as the first one, or
 * NULL. */
static const char *foreign(const merge *m, const rs_header *h, char *why, size_t wsz)
{
    const rs_header *f = &m->hdr;
    if (h->shard_count != f->shard_count)
        snprintf(why, wsz, "it is one of %llu shards, not %llu", (unsigned long long)h->shard_count,
                 (unsigned long long)f->shard_count);
    else if (strcmp(h->schema, f->schema) != 0)
        snprintf(why, wsz, "schema \"%s\", not \"%s\"", h->schema, f->schema);
    else if (h->has_seed != f->has_seed || h->seed != f->seed) {
        char a[24] = "null", b[24] = "null";
        if (h->has_seed)
            snprintf(a, sizeof a, "%llu", (unsigned long long)h->seed);
        if (f->has_seed)
            snprintf(b, sizeof b, "%llu", (unsigned long long)f->seed);
        snprintf(why, wsz, "seed %s, not %s", a, b);
    } else if (strcmp(h->settings, f->settings) != 0)
        snprintf(why, wsz, "settings digest \"%s\", not \"%s\"", h->settings, f->settings);
    else if (memcmp(h->counts, f->counts, sizeof h->counts) != 0)
        snprintf(why, wsz, "counts %llu/%llu/%llu, not %llu/%llu/%llu", (unsigned long long)h->counts[0],
                 (unsigned long long)h->counts[1], (unsigned long long)h->counts[2], (unsigned long long)f->counts[0],
                 (unsigned long long)f->counts[1], (unsigned long long)f->counts[2]);
    else if (h->has_as_of != f->has_as_of || h->as_of != f->as_of) {
        char a[11] = "null", b[11] = "null";
        if (h->has_as_of)
            rs_date_format(h->as_of, a), a[10] = '\0';
        if (f->has_as_of)
            rs_date_format(f->as_of, b), b[10] = '\0';
        snprintf(why, wsz, "as_of %s, not %s", a, b);
    } else
        return NULL;
    return why;
}

static int push(merge *m, uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        uint64_t *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return nomem(m);
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = x;
    return 0;
}

/* Removes x from v if there; returns whether it was. */
static bool take(uint64_t *v, size_t *n, uint64_t x)
{
    for (size_t k = 0; k < *n; k++) {
        if (v[k] == x) {
            v[k] = v[--*n];
            return true;
        }
    }
    return false;
}

/* The shard table, sized by the first header or footer read. */
static int alloc_shards(merge *m, size_t i, uint64_t line, uint64_t count)
{
    if (count > MAX_SHARDS)
        return fail_at(m, i, line, "%llu shards: at most %u can be merged", (unsigned long long)count, MAX_SHARDS);
    m->sh = calloc(count, sizeof *m->sh);
    if (!m->sh)
        return nomem(m);
    m->nsh = count;
    return 0;
}

/* Reports the first violated rule (not a warning) as the merge's error: at
 * FILE:LINE when a line shows it, else for the whole data set. */
static int check_failed(merge *m, size_t input, uint64_t line)
{
    for (size_t k = 0; k < rs_validator_nresults(m->v); k++) {
        const rs_vresult *r = rs_validator_result(m->v, k);
        if (!r->count || r->warning)
            continue;
        char where[64] = "header: ";
        if (r->type != RS_VWHERE_HEADER && r->has_id)
            snprintf(where, sizeof where, "%s %lld: ", rs_type_name((rs_type)r->type), (long long)r->id);
        else if (r->type != RS_VWHERE_HEADER)
            where[0] = '\0';
        /* What to do about it: the usual cause is options merge was not given. */
        const char *hint = " (validate lists every rule)";
        if (strcmp(r->rule, "settings") == 0)
            hint = "; give merge the settings options given to generate, or --no-validate";
        else if (!m->hdr.settings[0])
            hint = "; the stream has no settings digest (split writes such): give merge the --as-of, --set, "
                   "--settings and --vocab the data was made with, --lenient for another tool's data, or "
                   "--no-validate";
        if (line)
            return fail_at(m, input, line, "rule %s: %s%s%s", r->rule, where, r->detail, hint);
        return fail(m, "rule %s failed (%llu violation%s; first %s%s)%s", r->rule, (unsigned long long)r->count,
                    r->count == 1 ? "" : "s", where, r->detail, hint);
    }
    return 0;
}

/* The validator, from the first header. With --memory given, its memory
 * comes out of the budget (at most half of it); the header's own rules (the
 * settings digest above all) are checked before anything is written. */
static int start_check(merge *m, size_t i, uint64_t line)
{
    const uint64_t *n = m->hdr.counts;
    uint64_t need = rs_validator_bytes_for(n[0], n[1], n[2]);
    if (m->o->memory_given) {
        if (need > UINT64_MAX / 4)
            return fail_at(m, i, line,
                           "these counts are too large to check the data model in memory: use --no-validate");
        if (need > m->o->memory / 2) {
            uint64_t mib = (need >> 20) + 1;
            return fail_at(m, i, line,
                           "checking the data model keeps about %llu MiB for these counts, over half of --memory "
                           "(%llu MiB): give --memory %lluM or more, or --no-validate",
                           (unsigned long long)mib, (unsigned long long)(m->o->memory >> 20),
                           (unsigned long long)(2 * mib));
        }
        /* A sorter made before this header keeps the half it was given. */
        m->budget = m->o->memory - need;
        if (m->sp.budget > m->budget)
            m->sp.budget = m->budget;
    }
    rs_err verr;
    if (rs_validator_create(&m->v, m->o->check, &verr))
        return nomem(m);
    rs_record hrec;
    memset(&hrec, 0, sizeof hrec);
    hrec.kind = RS_REC_HEADER;
    hrec.header = m->hdr;
    hrec.header.shard_index = hrec.header.shard_count = 1; /* the whole data set */
    if (rs_validator_feed(m->v, &hrec, &verr))
        return fail_at(m, i, line, "%s", verr.msg);
    int rc = check_failed(m, i, line);
    if (rc)
        return rc;
    if ((rc = rs_vthread_start(&m->vt, m->v, &verr))) {
        m->err = verr;
        return rc;
    }
    return 0;
}

/* Waits for the checking thread, and reports where it stopped, if it did. */
static int check_stopped(merge *m)
{
    rs_vthread_join(m->vt);
    size_t input;
    uint64_t line;
    int rc;
    rs_err verr;
    if (!rs_vthread_problem(m->vt, &input, &line, &rc, &verr))
        return 0;
    if (rc)
        return fail_at(m, input, line, "%s", verr.msg);
    return check_failed(m, input, line);
}

static int on_header(merge *m, size_t i, const rs_record *rec)
{
    const rs_header *h = &rec->header;
    in_state *c = &m->in[i];
    int rc;
    if (!m->sh && (rc = alloc_shards(m, i, rec->line, h->shard_count)))
        return rc;
    if (!m->hdr_seen) {
        if (h->shard_count != m->nsh)
            return fail_at(m, i, rec->line, "header of shard %llu/%llu among footers of shards of %llu",
                           (unsigned long long)h->shard_index, (unsigned long long)h->shard_count,
                           (unsigned long long)m->nsh);
        m->hdr_seen = true;
        m->hdr = *h;
        m->hdr_input = i;
        m->hdr_line = rec->line;
        snprintf(m->gen_at, sizeof m->gen_at, "%s", h->generated_at);
        if (m->o->check && (rc = start_check(m, i, rec->line)))
            return rc;
    } else {
        char why[200];
        if (foreign(m, h, why, sizeof why))
            return fail_at(m, i, rec->line, "shard %llu of %llu is foreign to %.100s:%llu: %s",
                           (unsigned long long)h->shard_index, (unsigned long long)h->shard_count,
                           iname(m, m->hdr_input), (unsigned long long)m->hdr_line, why);
        if (earlier(h->generated_at, m->gen_at))
            snprintf(m->gen_at, sizeof m->gen_at, "%s", h->generated_at);
    }
    shard *s = &m->sh[h->shard_index - 1];
    if (s->seen)
        return fail_at(m, i, rec->line, "shard %llu of %llu repeated (also at %.100s:%llu)",
                       (unsigned long long)h->shard_index, (unsigned long long)m->nsh, iname(m, s->input),
                       (unsigned long long)s->hdr_line);
    s->seen = true;
    s->input = i;
    s->hdr_line = rec->line;
    m->nseen++;
    c->headers++;
    if (s->has_footer) {
        /* Its footer came first: only shuffled lines do that, in one input. */
        if (s->ftr_input != i || !take(c->early, &c->nearly, h->shard_index))
            return fail_at(m, s->ftr_input, s->ftr_line, "footer of shard %llu of %llu, whose header is at %.100s:%llu",
                           (unsigned long long)h->shard_index, (unsigned long long)m->nsh, iname(m, i),
                           (unsigned long long)rec->line);
        return 0;
    }
    return push(m, &c->open, &c->nopen, &c->capopen, h->shard_index);
}

static int on_footer(merge *m, size_t i, const rs_record *rec)
{
    const rs_footer *f = &rec->footer;
    in_state *c = &m->in[i];
    int rc;
    if (!m->sh && (rc = alloc_shards(m, i, rec->line, f->shard_count)))
        return rc;
    if (f->shard_count != m->nsh) {
        if (c->nopen == 1)
            return fail_at(m, i, rec->line, "footer shard %llu/%llu does not match the header's %llu/%llu",
                           (unsigned long long)f->shard_index, (unsigned long long)f->shard_count,
                           (unsigned long long)c->open[0], (unsigned long long)m->nsh);
        return fail_at(m, i, rec->line, "footer of shard %llu/%llu among shards of %llu",
                       (unsigned long long)f->shard_index, (unsigned long long)f->shard_count,
                       (unsigned long long)m->nsh);
    }
    shard *s = &m->sh[f->shard_index - 1];
    if (s->has_footer)
        return fail_at(m, i, rec->line, "footer of shard %llu of %llu repeated (also at %.100s:%llu)",
                       (unsigned long long)f->shard_index, (unsigned long long)m->nsh, iname(m, s->ftr_input),
                       (unsigned long long)s->ftr_line);
    s->has_footer = true;
    s->ftr_input = i;
    s->ftr_line = rec->line;
    memcpy(s->records, f->records, sizeof s->records);
    s->present_mask = f->present_mask;
    if (!s->seen)
        return push(m, &c->early, &c->nearly, &c->capearly, f->shard_index);
    if (s->input != i || !take(c->open, &c->nopen, f->shard_index))
        return fail_at(m, i, rec->line, "footer of shard %llu of %llu, whose header is at %.100s:%llu",
                       (unsigned long long)f->shard_index, (unsigned long long)m->nsh, iname(m, s->input),
                       (unsigned long long)s->hdr_line);
    return 0;
}

/* At the end of input i: every shard begun here ended here. */
static int at_eof(merge *m, size_t i)
{
    in_state *c = &m->in[i];
    c->done = true;
    if (!c->any)
        return fail_at(m, i, 1, "empty input: expected a header record");
    if (!c->headers)
        return fail_at(m, i, c->first_entity_line ? c->first_entity_line : 1, "expected a header record first");
    if (c->nopen)
        return fail_at(m, i, c->last_line, "truncated stream: no footer after this line");
    if (c->nearly) {
        const shard *s = &m->sh[c->early[0] - 1];
        return fail_at(m, i, s->ftr_line, "footer of shard %llu of %llu without its header in this input",
                       (unsigned long long)c->early[0], (unsigned long long)m->nsh);
    }
    return 0;
}

/* Takes c->rec (read from input i) for the bookkeeping; entities are left
 * to the caller. */
static int take_record(merge *m, size_t i)
{
    in_state *c = &m->in[i];
    c->any = true;
    c->last_line = c->rec.line;
    switch (c->rec.kind) {
    case RS_REC_HEADER:
        return on_header(m, i, &c->rec);
    case RS_REC_FOOTER:
        return on_footer(m, i, &c->rec);
    case RS_REC_ENTITY:
        if (!c->first_entity_line)
            c->first_entity_line = c->rec.line;
        return 0;
    }
    return 0;
}

/* ---- output ---- */

static int wfail(merge *m, const rs_pyj *w)
{
    m->err = w->err;
    return w->status;
}

static int raw_cb(void *ctx, const char *p, size_t n)
{
    return rs_pyj_raw_elements(ctx, p, n, 0);
}

static int start_output(merge *m)
{
    int rc;
    if ((rc = rs_pyj_init(&m->w, m->o->compact, m->write, m->ctx, m->sink_err, &m->err)))
        return rc;
    m->w_init = true;
    if ((rc = rs_pyj_init(&m->tw, m->o->compact, rs_spool_write, &m->sp, rs_spool_last_error, &m->err)))
        return rc;
    m->tw_init = true;
    const char *ga = m->o->generated_at ? m->o->generated_at : m->gen_at;
    if (rs_pyj_begin(&m->w, m->hdr.schema, strlen(m->hdr.schema), ga, strlen(ga)))
        return wfail(m, &m->w);
    m->started = true;
    return 0;
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

/* The shard whose share of type t holds rank (stage 2), checked against
 * where the record was found. */
static int owner_by_rank(merge *m, int t, uint64_t rank, size_t input, uint64_t line, int64_t id, shard **out)
{
    while (m->ak[t] < m->nsh && rank > m->ab[t]) {
        if (++m->ak[t] < m->nsh)
            m->ab[t] += m->sh[m->ak[t]].records[t];
    }
    if (m->ak[t] >= m->nsh) {
        /* More records than all footers count: the final check says so. */
        *out = &m->sh[m->nsh - 1];
        return 0;
    }
    shard *s = &m->sh[m->ak[t]];
    /* Its lines may be anywhere in the shard's input, not in another. */
    if (s->input != input)
        return fail_at(m, input, line,
                       "%s id %lld is shard %llu of %llu's by the footers' counts, but that shard is in %.100s",
                       rs_type_name((rs_type)t), (long long)id, (unsigned long long)m->ak[t] + 1,
                       (unsigned long long)m->nsh, iname(m, s->input));
    *out = s;
    return 0;
}

/* Writes the next record, after the checks that make the output
 * trustworthy; owner is its shard (NULL: decide by rank). */
static int emit(merge *m, const rs_entity *e, bool canonical, size_t input, uint64_t line, shard *owner)
{
    int t = (int)e->type;
    int64_t id = e->v[0].i;
    const char *tn = rs_type_name(e->type);
    /* Territories wait in the spool until the history array opens, so they
     * may still come after later types until then. */
    bool late_territory = t == RS_TERRITORY && m->slot < TYPE_SLOT[RS_TERRITORY];
    if (t < m->cur && !late_territory) {
        if ((uint64_t)id <= m->seen[t])
            return fail_at(m, input, line, "duplicate %s id %lld (ids must run 1, 2, 3, ...)", tn, (long long)id);
        if (t != RS_TERRITORY && (uint64_t)id > hcount(m, t))
            return fail_at(m, input, line, "more %s records than the header's count %llu", tn,
                           (unsigned long long)hcount(m, t));
        return fail_at(m, input, line,
                       "%s id %lld comes after the %s records were written: an extra record, or out of order "
                       "beyond repair",
                       tn, (long long)id, rs_type_name((rs_type)m->cur));
    }
    if (t > m->cur) {
        /* Every earlier type is whole before the next one starts (a stream
         * made with --types lacks some). Territories have no header count. */
        for (int u = RS_REP; u < t; u++) {
            if (m->seen[u] == hcount(m, u))
                continue;
            if (!m->seen[u])
                return fail_at(m, input, line,
                               "%s records but no %s records before them (made with --types?): data.json needs all "
                               "five types",
                               tn, rs_type_name((rs_type)u));
            return fail_at(m, input, line, "%s records after %llu %s records of the header's %llu", tn,
                           (unsigned long long)m->seen[u], rs_type_name((rs_type)u),
                           (unsigned long long)hcount(m, u));
        }
        m->cur = t;
    }
    if (t == RS_HISTORY) {
        if (m->seen[t] && id <= m->last_hist)
            return fail_at(m, input, line, "opportunity_history id %lld after id %lld: duplicate or out of order",
                           (long long)id, (long long)m->last_hist);
        m->last_hist = id;
    } else {
        uint64_t want = m->seen[t] + 1;
        if ((uint64_t)id < want)
            return fail_at(m, input, line, "duplicate %s id %lld (ids must run 1, 2, 3, ...)", tn, (long long)id);
        if ((uint64_t)id > want)
            return fail_at(m, input, line, "missing %s id %llu (found id %lld)", tn, (unsigned long long)want,
                           (long long)id);
        if (t != RS_TERRITORY && (uint64_t)id > hcount(m, t))
            return fail_at(m, input, line, "more %s records than the header's count %llu", tn,
                           (unsigned long long)hcount(m, t));
    }
    uint64_t rank = ++m->seen[t];
    if (!owner) {
        int rc = owner_by_rank(m, t, rank, input, line, id, &owner);
        if (rc)
            return rc;
    }
    owner->got[t]++;
    if (!owner->first[t])
        owner->first[t] = rank;
    owner->last[t] = rank;
    if (m->vt) {
        /* Checked on the other thread; it stops at the first violation and
         * says at which line. */
        if (!m->vt_stable && m->nin == 1 && m->in[0].r) {
            /* Once the input is mapped, the checker reads the strings of
             * canonical lines there rather than in copies. */
            size_t len;
            const char *base = rs_ndjson_mapped(m->in[0].r, &len);
            if (base) {
                rs_vthread_stable(m->vt, base, len);
                m->vt_stable = true;
            }
        }
        int rc = rs_vthread_feed(m->vt, e, canonical, input, line);
        if (rc == 1)
            return check_stopped(m);
        if (rc)
            return nomem(m);
        /* And those pages stay mapped until it has read them. */
        if (m->vt_stable && (m->vt_fed++ & 63) == 0)
            rs_ndjson_hold(m->in[0].r, rs_vthread_hold(m->vt));
    }
    rs_pyj *w = &m->w;
    if (t == RS_TERRITORY) {
        w = &m->tw;
    } else if (TYPE_SLOT[t] != m->slot) {
        int rc = advance_to(m, TYPE_SLOT[t]);
        if (rc)
            return rc;
    }
    if (canonical ? rs_pyj_entity_canonical(w, e) : rs_pyj_entity(w, e))
        return wfail(m, w);
    return 0;
}

/* ---- stage 1 ---- */

/* Whether an entity is exactly the next record of the output. */
static bool in_sequence(const merge *m, const rs_entity *e)
{
    int t = (int)e->type;
    uint64_t id = (uint64_t)e->v[0].i;
    bool open_ended = t == RS_TERRITORY || t == RS_HISTORY; /* count known only from footers */
    if (t == RS_TERRITORY && m->cur > RS_TERRITORY)
        return id == m->seen[t] + 1 && m->slot < TYPE_SLOT[RS_TERRITORY];
    if (t == m->cur)
        return id == m->seen[t] + 1 && (open_ended || id <= hcount(m, t));
    if (t < m->cur || id != 1)
        return false;
    if (m->cur > RS_TERRITORY && m->cur < RS_HISTORY && m->seen[m->cur] != hcount(m, m->cur))
        return false;
    for (int u = m->cur + 1; u < t; u++)
        if (u != RS_TERRITORY && hcount(m, u) != 0)
            return false;
    return true;
}

/* Reads input i up to its next entity (the new head) or its end. Returns 1
 * when the input is not a plain sequence of whole shards (an entity outside
 * exactly one open shard): stage 2 takes it from there. */
static int advance(merge *m, size_t i)
{
    in_state *c = &m->in[i];
    c->pending = false;
    for (;;) {
        int rc = rs_ndjson_next(c->r, &c->rec, &m->err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return at_eof(m, i);
        if ((rc = take_record(m, i)))
            return rc;
        if (c->rec.kind == RS_REC_ENTITY) {
            c->pending = true;
            return c->nopen == 1 ? 0 : 1;
        }
    }
}

static int stage2(merge *m);

static int stage1(merge *m)
{
    int rc;
    for (size_t i = 0; i < m->nin; i++) {
        if ((rc = advance(m, i)) < 0)
            return rc;
        if (rc > 0)
            return stage2(m);
    }
    if ((rc = start_output(m)))
        return rc;
    size_t cur = 0;
    for (;;) {
        in_state *c = &m->in[cur];
        if (c->pending && in_sequence(m, &c->rec.entity)) {
            if ((rc = emit(m, &c->rec.entity, c->rec.canonical, cur, c->rec.line, &m->sh[c->open[0] - 1])))
                return rc;
            if ((rc = advance(m, cur)) < 0)
                return rc;
            if (rc > 0)
                return stage2(m);
            continue;
        }
        size_t best = m->nin;
        bool any = false;
        uint64_t best_key = 0;
        for (size_t j = 0; j < m->nin; j++) {
            const in_state *d = &m->in[j];
            if (!d->pending)
                continue;
            any = true;
            uint64_t key = (uint64_t)d->rec.entity.type << KEY_SHIFT | (uint64_t)d->rec.entity.v[0].i;
            if (in_sequence(m, &d->rec.entity) && (best == m->nin || key < best_key)) {
                best = j;
                best_key = key;
            }
        }
        if (best < m->nin) {
            cur = best;
            continue;
        }
        if (!any)
            return 0;
        return stage2(m);
    }
}

/* ---- stage 2 ---- */

/* Record bytes for the sorter: where it was read, then every field after
 * the id (type and id are the key): a tag, then a zigzag varint or a
 * varint length and the UTF-8 bytes. */
enum { TAG_NULL, TAG_FALSE, TAG_TRUE, TAG_INT, TAG_STR };

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

static uint64_t get_varint(const char **pp)
{
    const unsigned char *p = (const unsigned char *)*pp;
    uint64_t v = 0;
    unsigned sh = 0;
    while (*p & 0x80) {
        v |= (uint64_t)(*p++ & 0x7f) << sh;
        sh += 7;
    }
    v |= (uint64_t)*p++ << sh;
    *pp = (const char *)p;
    return v;
}

static int add_entity(merge *m, size_t i, const rs_record *rec)
{
    const rs_entity *e = &rec->entity;
    int64_t id = e->v[0].i;
    if ((uint64_t)id >= ID_LIMIT)
        return fail_at(m, i, rec->line, "%s id %lld is too large to merge", rs_type_name(e->type), (long long)id);
    size_t max = 20;
    for (unsigned f = 1; f < e->nfields; f++)
        max += 11 + (e->v[f].kind == RS_VAL_STR ? e->v[f].len : 0);
    char *p;
    int rc = rs_sorter_reserve(m->sorter, max, &p, &m->err);
    if (rc)
        return rc;
    size_t n = put_varint(p, i);
    n += put_varint(p + n, rec->line);
    for (unsigned f = 1; f < e->nfields; f++) {
        const rs_value *v = &e->v[f];
        switch (v->kind) {
        case RS_VAL_NULL:
            p[n++] = TAG_NULL;
            break;
        case RS_VAL_BOOL:
            p[n++] = v->i ? TAG_TRUE : TAG_FALSE;
            break;
        case RS_VAL_INT:
            p[n++] = TAG_INT;
            n += put_varint(p + n, ((uint64_t)v->i << 1) ^ (uint64_t)(v->i >> 63));
            break;
        case RS_VAL_STR:
            p[n++] = TAG_STR;
            n += put_varint(p + n, v->len);
            memcpy(p + n, v->s, v->len);
            n += v->len;
            break;
        }
    }
    rs_sorter_commit(m->sorter, (uint64_t)e->type << KEY_SHIFT | (uint64_t)id, n);
    return 0;
}

static void decode(uint64_t key, const char *p, rs_entity *e, size_t *input, uint64_t *line)
{
    e->type = (rs_type)(key >> KEY_SHIFT);
    e->nfields = rs_entity_fields(e->type)->n;
    e->v[0].kind = RS_VAL_INT;
    e->v[0].i = (int64_t)(key & (ID_LIMIT - 1));
    *input = (size_t)get_varint(&p);
    *line = get_varint(&p);
    for (unsigned f = 1; f < e->nfields; f++) {
        rs_value *v = &e->v[f];
        switch (*p++) {
        case TAG_NULL:
            v->kind = RS_VAL_NULL;
            break;
        case TAG_FALSE:
        case TAG_TRUE:
            v->kind = RS_VAL_BOOL;
            v->i = p[-1] == TAG_TRUE;
            break;
        case TAG_INT: {
            uint64_t z = get_varint(&p);
            v->kind = RS_VAL_INT;
            v->i = (int64_t)((z >> 1) ^ (0 - (z & 1)));
            break;
        }
        default:
            v->kind = RS_VAL_STR;
            v->len = (size_t)get_varint(&p);
            v->s = p;
            p += v->len;
            break;
        }
    }
}

/* Reads the rest of input i into the sorter. */
static int drain(merge *m, size_t i)
{
    in_state *c = &m->in[i];
    int rc;
    if (c->pending) {
        /* Already counted by take_record; only entities wait here. */
        c->pending = false;
        if (c->rec.kind == RS_REC_ENTITY && (rc = add_entity(m, i, &c->rec)))
            return rc;
    }
    while (!c->done) {
        rc = rs_ndjson_next(c->r, &c->rec, &m->err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return at_eof(m, i);
        if ((rc = take_record(m, i)))
            return rc;
        if (c->rec.kind == RS_REC_ENTITY && (rc = add_entity(m, i, &c->rec)))
            return rc;
    }
    return 0;
}

/* "3, 5 and 2 more" style list of the missing shards. */
static int missing_shards(merge *m)
{
    char list[200] = "";
    size_t len = 0, shown = 0;
    uint64_t first = 0, count = 0;
    for (uint64_t k = 0; k < m->nsh; k++) {
        if (m->sh[k].seen)
            continue;
        if (!count++)
            first = k + 1;
        if (shown < 5 && len < sizeof list - 24) {
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%llu", shown ? ", " : "",
                                    (unsigned long long)k + 1);
            shown++;
        }
    }
    char inputs[240] = "";
    size_t il = 0;
    for (size_t i = 0; i < m->nin && il < sizeof inputs - 8; i++)
        il += (size_t)snprintf(inputs + il, sizeof inputs - il, "%s%s", i ? ", " : "", iname(m, i));
    if (count == 1)
        return fail(m, "shard %llu of %llu is missing (inputs: %s)", (unsigned long long)first,
                    (unsigned long long)m->nsh, inputs);
    return fail(m, "%llu of %llu shards are missing: %s%s (inputs: %s)", (unsigned long long)count,
                (unsigned long long)m->nsh, list, count > shown ? ", ..." : "", inputs);
}

static int stage2(merge *m)
{
    int rc;
    m->stage2 = true;
    if ((rc = rs_sorter_create(&m->sorter, m->budget, m->o->tmpdir, &m->err)))
        return rc;
    /* Nothing read from here on reaches the checker before the inputs are
     * closed: it finishes what it reads in the mapped input, which then
     * need not stay in memory while the rest is sorted. */
    if (m->vt_stable) {
        rs_vthread_sync(m->vt);
        rs_vthread_stable(m->vt, NULL, 0);
        rs_ndjson_hold(m->in[0].r, SIZE_MAX);
        m->vt_stable = false;
    }
    for (size_t i = 0; i < m->nin; i++) {
        if ((rc = drain(m, i)))
            return rc;
        /* Its buffers are not needed any more. */
        rs_ndjson_close(m->in[i].r);
        m->in[i].r = NULL;
    }
    if (m->nseen < m->nsh)
        return missing_shards(m);
    if ((rc = rs_sorter_finish(m->sorter, &m->err)))
        return rc;
    if (!m->started && (rc = start_output(m)))
        return rc;
    for (int t = 0; t < RS_NTYPES; t++) {
        m->ak[t] = 0;
        m->ab[t] = m->sh[0].records[t];
    }
    uint64_t key;
    const char *p;
    size_t len;
    rs_entity e;
    while ((rc = rs_sorter_next(m->sorter, &key, &p, &len, &m->err)) > 0) {
        size_t input;
        uint64_t line;
        decode(key, p, &e, &input, &line);
        if ((rc = emit(m, &e, false, input, line, NULL)))
            return rc;
    }
    return rc;
}

/* ---- the end ---- */

static int finish(merge *m)
{
    bool one = m->nsh == 1;
    for (uint64_t k = 0; k < m->nsh; k++) {
        const shard *s = &m->sh[k];
        for (int t = 0; t < RS_NTYPES; t++) {
            const char *tn = rs_type_name((rs_type)t);
            if (!(s->present_mask & (1u << t))) {
                if (s->got[t])
                    return fail_at(m, s->input, s->ftr_line, "footer does not count the stream's %s records", tn);
                return fail_at(m, s->input, s->ftr_line,
                               "stream has no %s records (made with --types?): data.json needs all five types", tn);
            }
        }
    }
    uint64_t before[RS_NTYPES] = {0};
    for (uint64_t k = 0; k < m->nsh; k++) {
        const shard *s = &m->sh[k];
        for (int t = 0; t < RS_NTYPES; t++) {
            const char *tn = rs_type_name((rs_type)t);
            if (s->records[t] != s->got[t]) {
                if (one)
                    return fail_at(m, s->input, s->ftr_line, "footer counts %llu %s records, the stream has %llu",
                                   (unsigned long long)s->records[t], tn, (unsigned long long)s->got[t]);
                return fail_at(m, s->input, s->ftr_line, "footer counts %llu %s records, shard %llu of %llu has %llu",
                               (unsigned long long)s->records[t], tn, (unsigned long long)k + 1,
                               (unsigned long long)m->nsh, (unsigned long long)s->got[t]);
            }
            if (s->got[t] && (s->first[t] != before[t] + 1 || s->last[t] != before[t] + s->records[t]))
                return fail_at(m, s->input, s->ftr_line,
                               "shard %llu of %llu holds %s records %llu..%llu of the whole, its footer's counts make "
                               "it %llu..%llu",
                               (unsigned long long)k + 1, (unsigned long long)m->nsh, tn,
                               (unsigned long long)s->first[t], (unsigned long long)s->last[t],
                               (unsigned long long)before[t] + 1, (unsigned long long)(before[t] + s->records[t]));
            before[t] += s->records[t];
        }
    }
    for (int t = RS_REP; t <= RS_OPPORTUNITY; t++) {
        if (hcount(m, t) == m->seen[t])
            continue;
        const char *tn = rs_type_name((rs_type)t);
        if (one)
            return fail_at(m, m->sh[0].input, m->sh[0].ftr_line, "header counts %llu %s records, the stream has %llu",
                           (unsigned long long)hcount(m, t), tn, (unsigned long long)m->seen[t]);
        return fail_at(m, m->hdr_input, m->hdr_line, "header counts %llu %s records, the %llu shards have %llu",
                       (unsigned long long)hcount(m, t), tn, (unsigned long long)m->nsh,
                       (unsigned long long)m->seen[t]);
    }
    int rc;
    if (m->v) {
        /* The rules over the whole data set, before the document is closed:
         * on stdout an invalid merge never ends as a complete document. */
        if ((rc = check_stopped(m)))
            return rc;
        rs_record frec;
        memset(&frec, 0, sizeof frec);
        frec.kind = RS_REC_FOOTER;
        frec.footer.shard_index = frec.footer.shard_count = 1;
        frec.footer.present_mask = (1u << RS_NTYPES) - 1;
        memcpy(frec.footer.records, m->seen, sizeof frec.footer.records);
        rs_err verr;
        if (rs_validator_feed(m->v, &frec, &verr) || rs_validator_finish(m->v, &verr))
            return fail(m, "%s", verr.msg);
        if ((rc = check_failed(m, 0, 0)))
            return rc;
    }
    rc = advance_to(m, 4);
    if (rc)
        return rc;
    if (rs_pyj_array_end(&m->w) || rs_pyj_end(&m->w) || rs_pyj_flush(&m->w))
        return wfail(m, &m->w);
    return 0;
}

static int run(merge *m)
{
    int rc;
    bool in_order = true;
    /* Stage 1 needs every input to start with a header, and all N of them. */
    for (size_t i = 0; i < m->nin; i++) {
        in_state *c = &m->in[i];
        rc = rs_ndjson_next(c->r, &c->rec, &m->err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return at_eof(m, i);
        if ((rc = take_record(m, i)))
            return rc;
        if (c->rec.kind != RS_REC_HEADER) {
            c->pending = true;
            in_order = false;
        }
    }
    rc = in_order && m->nseen == m->nsh ? stage1(m) : stage2(m);
    return rc ? rc : finish(m);
}

int rs_merge_run(const char *const *paths, size_t npaths, const rs_merge_options *o, rs_write_fn write, void *ctx,
                 const rs_err *(*sink_err)(const void *ctx), rs_merge_stats *stats, rs_err *err)
{
    merge m;
    memset(&m, 0, sizeof m);
    m.o = o;
    m.write = write;
    m.ctx = ctx;
    m.sink_err = sink_err;
    m.cur = -1;
    m.slot = -1;
    /* With the checks, half of a given --memory is theirs until the first
     * header says how much they need (a sorter may start before it). */
    m.budget = o->check && o->memory_given ? o->memory / 2 : o->memory;
    rs_spool_init(&m.sp, m.budget);
    int rc = 0;
    m.in = calloc(npaths ? npaths : 1, sizeof *m.in);
    if (!m.in)
        rc = nomem(&m);
    size_t chunk = npaths ? READ_TOTAL / npaths : READ_TOTAL;
    for (size_t i = 0; rc == 0 && i < npaths; i++) {
        rc = rs_ndjson_open(&m.in[i].r, paths[i], &m.err);
        if (rc == 0) {
            snprintf(m.in[i].name, sizeof m.in[i].name, "%s", rs_ndjson_name(m.in[i].r));
            m.nin++;
            if (npaths > 8)
                rs_ndjson_set_chunk(m.in[i].r, chunk);
            /* One input: the reading can go to the other core. */
            if (npaths == 1)
                rs_ndjson_read_ahead(m.in[i].r);
        }
    }
    if (rc == 0)
        rc = run(&m);
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->sorted = m.stage2;
        for (int t = 0; t < RS_NTYPES; t++)
            stats->records += m.seen[t];
        if (m.sorter)
            rs_sorter_get_stats(m.sorter, &stats->sort);
    }
    rs_sorter_free(m.sorter);
    rs_vthread_free(m.vt); /* before the validator it uses */
    rs_validator_free(m.v);
    for (size_t i = 0; i < m.nin; i++) {
        rs_ndjson_close(m.in[i].r);
        free(m.in[i].open);
        free(m.in[i].early);
    }
    free(m.in);
    free(m.sh);
    if (m.w_init)
        rs_pyj_free(&m.w);
    if (m.tw_init)
        rs_pyj_free(&m.tw);
    rs_spool_free(&m.sp);
    if (rc)
        *err = m.err;
    return rc;
}
