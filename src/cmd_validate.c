/* `revops-stream validate`: options, input format detection, the reading
 * loop and the report. The checks themselves live in validate.c. */
#include "cli.h"
#include "record.h"
#include "fdio.h"
#include "validate.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

static const char usage[] =
    "Usage: revops-stream validate [OPTIONS] [FILE]\n"
    "\n"
    "Checks a stream (NDJSON, as generate writes it) or a data.json (as merge\n"
    "writes it) against every invariant of the data model, and prints one line\n"
    "per violated rule (rule, first offending record, number of violations,\n"
    "what is wrong) and a summary. FILE may be - (stdin, the default); zstd\n"
    "input is recognised by its magic number. The format is recognised by the\n"
    "first key: \"type\" for a stream, \"schema\" for a data.json.\n"
    "\n"
    "Options (the settings options of generate):\n"
    "  --seed N              expected seed (compared with the header's)\n"
    "  --reps N, --accounts N, --opportunities N\n"
    "                        expected counts\n"
    "  --as-of YYYY-MM-DD    the as-of date the date windows are shifted to\n"
    "  --set NAME=VALUE      override a setting (repeatable)\n"
    "  --settings FILE       NAME = VALUE lines, or the reference settings.py\n"
    "  --vocab DIR           vocabularies the data was generated with\n"
    "  --lenient             for data made by other tools: history coherence and\n"
    "                        the formulas (quota, pipeline-total,\n"
    "                        close-date-counts, amount-tam) only warn\n"
    "  -h, --help            this help\n"
    "\n"
    "A stream's header supplies the seed, counts and as-of unless given here.\n"
    "A data.json carries none of them, nor does a header field that is null\n"
    "(as split writes): then the counts are checked only when given by options\n"
    "or settings, and the date windows follow --as-of (default 2026-02-19).\n"
    "A header's settings digest must match the settings and vocabularies given\n"
    "here (rule \"settings\"): pass generate's --set, --settings and --vocab.\n"
    "\n"
    "Rules: settings, counts, ids, unique-names, foreign-keys, field-types,\n"
    "vocabulary, region-map, territory-names, account-industry,\n"
    "account-territory, account-state, opportunity-rep, in-pipeline,\n"
    "amount-integer, amount-tam, pipeline-total, close-date-counts,\n"
    "close-date-windows, created-date, dates-after-created, history-window,\n"
    "quota, history-coherence.\n"
    "\n"
    "Exit status: 0 every rule holds (warnings allowed), 1 a rule failed or the\n"
    "input is unreadable or malformed, 2 usage error.\n";

enum { OPT_LENIENT = 256 };

static const struct option longopts[] = {
    CLI_CHECK_EXPECT_OPTIONS,
    CLI_CHECK_SETTINGS_OPTIONS,
    {"lenient", no_argument, NULL, OPT_LENIENT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* ---- input format detection ---- */

/* Recognises the first key of the first object: the state machine sees the
 * decompressed bytes in pieces. */
typedef struct sniffer {
    int state; /* 0: before '{', 1: after '{', 2: reading the key */
    char key[8];
    int klen;
    bool done, djson;
} sniffer;

static void sniff_bytes(sniffer *s, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n && !s->done; i++) {
        unsigned char c = p[i];
        bool blank = c == ' ' || c == '\t' || c == '\r' || c == '\n';
        if (s->state < 2 && blank)
            continue;
        if (s->state == 0) {
            s->state = 1;
            if (c != '{')
                s->done = true;
            continue;
        }
        s->state = 2;
        s->key[s->klen++] = (char)c;
        if (s->klen == 8) {
            s->done = true;
            s->djson = memcmp(s->key, "\"schema\"", 8) == 0;
        }
    }
}

#define SNIFF_LIMIT (16u << 20) /* give up (say: stream) after this much */

/* Reads from fd until the format is known; keeps the raw bytes read in *raw
 * (malloc'd) for replay. Anything unrecognised counts as a stream, whose
 * reader then reports the precise problem. */
static void sniff_fd(int fd, char **raw, size_t *rawlen, bool *djson)
{
    sniffer s = {0};
    size_t cap = 0, len = 0;
    char *buf = NULL;
    ZSTD_DStream *z = NULL;
    int mode = 0; /* 0 undecided, 1 plain, 2 zstd */
    size_t zpos = 0;
    unsigned char out[16384];
    while (!s.done && len < SNIFF_LIMIT) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, nc);
            if (!nb)
                break;
            buf = nb;
            cap = nc;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (mode == 0 && len >= 4) {
            uint32_t magic = (uint32_t)(unsigned char)buf[0] | (uint32_t)(unsigned char)buf[1] << 8 |
                             (uint32_t)(unsigned char)buf[2] << 16 | (uint32_t)(unsigned char)buf[3] << 24;
            mode = magic == ZSTD_MAGICNUMBER || (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START
                       ? 2
                       : 1;
            if (mode == 2 && !(z = ZSTD_createDStream()))
                break;
        }
        if (mode == 1) {
            sniff_bytes(&s, (const unsigned char *)buf + zpos, len - zpos);
            zpos = len;
        } else if (mode == 2) {
            ZSTD_inBuffer in = {buf, len, zpos};
            bool bad = false;
            while (in.pos < in.size && !s.done) {
                ZSTD_outBuffer o = {out, sizeof out, 0};
                size_t was = in.pos;
                size_t rc = ZSTD_decompressStream(z, &o, &in);
                if (ZSTD_isError(rc) || (in.pos == was && o.pos == 0)) {
                    bad = true;
                    break;
                }
                sniff_bytes(&s, out, o.pos);
            }
            zpos = in.pos;
            if (bad)
                break;
        }
    }
    if (mode == 0 && len > 0 && len < 4)
        sniff_bytes(&s, (const unsigned char *)buf, len);
    ZSTD_freeDStream(z);
    *raw = buf;
    *rawlen = len;
    *djson = s.done && s.djson;
}

typedef struct relay {
    int in, out;
    char *buf;
    size_t len;
} relay;

/* Replays the sniffed bytes, then moves the rest of the real stdin into the
 * pipe the reader now sees as stdin. */
static void *relay_main(void *arg)
{
    relay *r = arg;
    bool ok = rs_fd_write_all(r->out, r->buf, r->len) == 0;
    free(r->buf);
    bool use_splice = true;
    char *chunk = NULL;
    while (ok) {
        if (use_splice) {
            ssize_t n = splice(r->in, NULL, r->out, NULL, 1u << 20, SPLICE_F_MOVE | SPLICE_F_MORE);
            if (n > 0)
                continue;
            if (n == 0)
                break;
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno != EINVAL && errno != ENOSYS)
                break;
            use_splice = false;
            if (!(chunk = malloc(1u << 16)))
                break;
        }
        ssize_t n = read(r->in, chunk, 1u << 16);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        ok = rs_fd_write_all(r->out, chunk, (size_t)n) == 0;
    }
    free(chunk);
    close(r->out);
    close(r->in);
    free(r);
    return NULL;
}

/* Decides the format of path ("-" = stdin) without consuming input the
 * reader will need: a file is opened twice, seekable stdin rewound, and a
 * pipe replaced by one fed by a relay thread. Returns 0 or RS_EIO. */
static int detect(const char *path, bool *djson, rs_err *err)
{
    char *raw = NULL;
    size_t len = 0;
    *djson = false;
    if (strcmp(path, "-") != 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return 0; /* the reader reports it */
        sniff_fd(fd, &raw, &len, djson);
        close(fd);
        free(raw);
        return 0;
    }
    off_t at = lseek(0, 0, SEEK_CUR);
    if (at >= 0) {
        sniff_fd(0, &raw, &len, djson);
        free(raw);
        if (lseek(0, at, SEEK_SET) < 0) {
            snprintf(err->msg, sizeof err->msg, "<stdin>: cannot rewind: %s", strerror(errno));
            return RS_EIO;
        }
        return 0;
    }
    sniff_fd(0, &raw, &len, djson);
    int p[2], orig = dup(0);
    if (orig < 0 || pipe2(p, O_CLOEXEC) < 0) {
        snprintf(err->msg, sizeof err->msg, "<stdin>: %s", strerror(errno));
        free(raw);
        return RS_EIO;
    }
    (void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    relay *r = malloc(sizeof *r);
    pthread_t th;
    if (!r || dup2(p[0], 0) < 0) {
        snprintf(err->msg, sizeof err->msg, "<stdin>: %s", r ? strerror(errno) : "out of memory");
        free(r);
        free(raw);
        return RS_EIO;
    }
    close(p[0]);
    r->in = orig;
    r->out = p[1];
    r->buf = raw;
    r->len = len;
    if (pthread_create(&th, NULL, relay_main, r) != 0) {
        snprintf(err->msg, sizeof err->msg, "<stdin>: cannot start a thread");
        free(raw);
        free(r);
        return RS_EIO;
    }
    pthread_detach(th);
    return 0;
}

/* ---- reading and report ---- */

static const char *const plural[RS_NTYPES] = {"territories", "reps", "accounts", "opportunities",
                                              "opportunity_history"};

static void print_result(const rs_vresult *r)
{
    char where[64];
    if (r->type == RS_VWHERE_HEADER)
        snprintf(where, sizeof where, "header");
    else if (!r->has_id)
        snprintf(where, sizeof where, "%s", plural[r->type]);
    else
        snprintf(where, sizeof where, "%s %lld", rs_type_name((rs_type)r->type), (long long)r->id);
    printf("%s %s: %s (%llu violation%s): %s\n", r->warning ? "WARN" : "FAIL", r->rule, where,
           (unsigned long long)r->count, r->count == 1 ? "" : "s", r->detail);
}

/* Reads every record into the validator. Returns 0 or an rs_status with the
 * message (FILE:LINE: problem) in err. */
static int run(rs_validator *v, const char *path, bool djson, rs_err *err)
{
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    rs_ndjson_reader *nr = NULL;
    rs_djson_reader *dr = NULL;
    int rc = djson ? rs_djson_open(&dr, path, err) : rs_ndjson_open(&nr, path, err);
    if (rc)
        return rc;
    static rs_record rec; /* large; one per process */
    bool header = false, footer = false;
    uint64_t line = 0;
    for (;;) {
        rc = djson ? rs_djson_next(dr, &rec, err) : rs_ndjson_next(nr, &rec, err);
        if (rc <= 0)
            break;
        line = rec.line;
        header |= rec.kind == RS_REC_HEADER;
        footer |= rec.kind == RS_REC_FOOTER;
        rs_err ferr;
        rc = rs_validator_feed(v, &rec, &ferr);
        if (rc) {
            snprintf(err->msg, sizeof err->msg, "%.200s:%llu: %.280s", name, (unsigned long long)line, ferr.msg);
            break;
        }
    }
    if (rc == 0 && !djson && !header) {
        snprintf(err->msg, sizeof err->msg, "%.400s:1: empty input (no header)", name);
        rc = RS_EDATA;
    } else if (rc == 0 && !djson && !footer) {
        snprintf(err->msg, sizeof err->msg, "%.400s:%llu: truncated stream (no footer)", name,
                 (unsigned long long)line);
        rc = RS_EDATA;
    }
    if (dr)
        rs_djson_close(dr);
    if (nr)
        rs_ndjson_close(nr);
    return rc;
}

int cmd_validate(int argc, char **argv)
{
    cli_check chk;
    rs_err err = {{0}};
    bool lenient = false;
    int status = 2;
    rs_validator *v = NULL;

    cli_check_init(&chk);
    opterr = 0;
    optind = 0; /* 0: a full reset of GNU getopt (the fuzzer calls us repeatedly) */
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            status = fflush(stdout) == 0 ? 0 : 1;
            goto out;
        case OPT_LENIENT:
            lenient = true;
            break;
        case ':':
        case '?':
            status = cli_option_error("validate", opt, argv);
            goto out;
        default: {
            int rc = cli_check_option(&chk, opt, optarg, &err);
            if (rc) {
                cli_error("validate: %s", err.msg);
                status = cli_exit_code(rc);
                goto out;
            }
        }
        }
    }
    if (argc - optind > 1) {
        cli_error("validate: takes at most one FILE (got %d; see --help)", argc - optind);
        goto out;
    }
    const char *path = optind < argc ? argv[optind] : "-";

    rs_validator_config cfg;
    int rc = cli_check_config(&chk, lenient, &cfg, &err);
    if (rc) {
        cli_error("validate: %s", err.msg);
        status = cli_exit_code(rc);
        goto out;
    }
    if (cli_parse_only) {
        status = 0;
        goto out;
    }
    if ((rc = rs_validator_create(&v, &cfg, &err))) {
        cli_error("validate: %s", err.msg);
        status = 1;
        goto out;
    }
    bool djson;
    if ((rc = detect(path, &djson, &err)) || (rc = run(v, path, djson, &err)) ||
        (rc = rs_validator_finish(v, &err))) {
        cli_error("validate: %s", err.msg);
        status = rc == RS_EUSAGE ? 1 : cli_exit_code(rc);
        if (status == 0)
            status = 1;
        goto out;
    }

    for (size_t i = 0; i < rs_validator_nresults(v); i++) {
        const rs_vresult *r = rs_validator_result(v, i);
        if (r->count)
            print_result(r);
    }
    size_t failed = rs_validator_failed(v), warned = rs_validator_warned(v);
    if (lenient)
        printf("validate: %zu rules, %zu failed, %zu warning%s, %llu records\n", rs_validator_nresults(v), failed,
               warned, warned == 1 ? "" : "s", (unsigned long long)rs_validator_records(v));
    else
        printf("validate: %zu rules, %zu failed, %llu records\n", rs_validator_nresults(v), failed,
               (unsigned long long)rs_validator_records(v));
    status = failed ? 1 : 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE) {
            cli_error("validate: write error: %s", strerror(errno));
            status = 1;
        }
    }
out:
    rs_validator_free(v);
    cli_check_free(&chk);
    return status;
}
