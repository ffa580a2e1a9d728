/* revops-stream [generate]: options -> settings -> plan -> NDJSON stream. */
#include "cli.h"
#include "lineframe.h"
#include "net.h"
#include "outfile.h"
#include "fdio.h"
#include "plan.h"

#include <errno.h>
#include <getopt.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: revops-stream [generate] [OPTIONS]\n"
    "\n"
    "Writes synthetic revenue-operations data as NDJSON records: a header,\n"
    "territories, reps, accounts, opportunities, opportunity_history, a footer.\n"
    "\n"
    "  --seed N              random seed (default 123)\n"
    "  --reps N              number of reps (default 30)\n"
    "  --accounts N          number of accounts (default 70)\n"
    "  --opportunities N     number of opportunities (default 100)\n"
    "  --as-of YYYY-MM-DD    shift every date window by the days from 2026-02-19\n"
    "  --generated-at ISO    header timestamp (default: now, or SOURCE_DATE_EPOCH)\n"
    "  --set NAME=VALUE      override one setting (repeatable), e.g. RECENT_CLOSE_PCT=0.2\n"
    "  --settings FILE       NAME = VALUE lines, or a Python settings.py\n"
    "  --vocab DIR           vocabulary files replacing the built-in ones\n"
    "  --types LIST          emit only these types (territory,rep,account,\n"
    "                        opportunity,opportunity_history)\n"
    "  --shard K/N           emit only shard K of N (each type's ids cut into N\n"
    "                        near-equal ranges; merge puts the shards together)\n"
    "  --plan FILE           skip the analysis passes (two sweeps over every\n"
    "                        account, the same for every shard): take their\n"
    "                        results from FILE, written by `revops-stream plan`\n"
    "                        with the same settings; the bytes stay the same\n"
    "  -j, --threads N       worker threads (default: online CPUs); the output\n"
    "                        does not depend on it\n"
    "  -o PATH               write to PATH atomically instead of stdout\n"
    "                        (PATH ending in .zst: zstd-compressed)\n"
    "  --compress zstd[:LEVEL]  compress the output with zstd (level 1-19, default 3)\n"
    "  --output URL          connect to tcp://HOST:PORT, tcp://[IPV6]:PORT or\n"
    "                        unix:PATH and stream there\n"
    "  --connect-timeout S   keep retrying --output for up to S seconds while\n"
    "                        nobody listens yet (default 0: one attempt)\n"
    "  --listen URL          serve the stream to every client that connects to\n"
    "                        tcp://HOST:PORT or unix:PATH (port 0: any free port;\n"
    "                        each address is announced on stderr)\n"
    "  --max-clients N       clients served at once (default 16); others wait\n"
    "  --once                stop listening after the first client; exit when it\n"
    "                        is served\n"
    "  --kafka-key           prefix each line with TYPE:ID and a tab (header and\n"
    "                        footer: \"header\", \"footer\"), for kcat -P -K '\\t'\n"
    "  --rate N              at most N records a second (header and footer count),\n"
    "                        released smoothly; the bytes stay the same\n"
    "  --progress            a progress line on stderr (records, MB/s, ETA); the\n"
    "                        default when stderr is a terminal\n"
    "  --quiet               no progress line and no \"listening on\" lines; only\n"
    "                        errors\n"
    "  -h, --help            show this help\n"
    "  --version             show the version\n"
    "\n"
    "Order of precedence: --settings files, then --set, then the options above.\n"
    "Commands: generate (default), plan, merge, validate, split; see COMMAND --help.\n";

static const char plan_usage[] =
    "usage: revops-stream plan [OPTIONS]\n"
    "\n"
    "Runs generate's analysis passes (the global amount factor and every\n"
    "territory's pipeline: two sweeps over all accounts) and writes their\n"
    "results as one JSON line. Shards given it with --plan skip the passes, so\n"
    "each costs only its own share of the data set.\n"
    "\n"
    "  --seed N, --reps N, --accounts N, --opportunities N, --as-of YYYY-MM-DD,\n"
    "  --set NAME=VALUE, --settings FILE, --vocab DIR\n"
    "                        the data set, as for generate (each shard must be\n"
    "                        given the same)\n"
    "  -j, --threads N       threads for the passes (default: online CPUs)\n"
    "  -o PATH               write to PATH atomically instead of stdout\n"
    "  -h, --help            show this help\n"
    "  --version             show the version\n"
    "\n"
    "Example: opts='--reps 3000000 --accounts 7000000 --opportunities 10000000'\n"
    "         revops-stream plan $opts -o plan.json\n"
    "         revops-stream $opts --plan plan.json --shard 3/8 -o s3.zst\n";

enum { OPT_SEED = 256, OPT_REPS, OPT_ACCOUNTS, OPT_OPPS, OPT_AS_OF, OPT_GENERATED_AT, OPT_SET, OPT_SETTINGS,
       OPT_VOCAB, OPT_TYPES, OPT_VERSION, OPT_SHARD, OPT_COMPRESS, OPT_OUTPUT, OPT_CONNECT_TIMEOUT, OPT_LISTEN,
       OPT_MAX_CLIENTS, OPT_ONCE, OPT_KAFKA_KEY, OPT_RATE, OPT_PROGRESS, OPT_QUIET, OPT_PLAN };

static const struct option long_options[] = {
    {"seed", required_argument, NULL, OPT_SEED},
    {"reps", required_argument, NULL, OPT_REPS},
    {"accounts", required_argument, NULL, OPT_ACCOUNTS},
    {"opportunities", required_argument, NULL, OPT_OPPS},
    {"as-of", required_argument, NULL, OPT_AS_OF},
    {"generated-at", required_argument, NULL, OPT_GENERATED_AT},
    {"set", required_argument, NULL, OPT_SET},
    {"settings", required_argument, NULL, OPT_SETTINGS},
    {"vocab", required_argument, NULL, OPT_VOCAB},
    {"types", required_argument, NULL, OPT_TYPES},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"threads", required_argument, NULL, 'j'},
    {"compress", required_argument, NULL, OPT_COMPRESS},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
    {"once", no_argument, NULL, OPT_ONCE},
    {"kafka-key", no_argument, NULL, OPT_KAFKA_KEY},
    {"rate", required_argument, NULL, OPT_RATE},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"plan", required_argument, NULL, OPT_PLAN},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Sets a setting from an option, naming the option in any error. */
static int set_from_option(rs_settings *s, const char *option, const char *name, const char *value, rs_err *err)
{
    rs_err inner;
    int rc = rs_settings_set(s, name, value, &inner);
    if (rc) {
        const char *why = strstr(inner.msg, ": ");
        snprintf(err->msg, sizeof err->msg, "%s%s", option, why ? why : inner.msg);
    }
    return rc;
}

static int parse_types(const char *list, unsigned *mask, rs_err *err)
{
    *mask = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int t = rs_type_parse(p, len);
        if (t < 0) {
            snprintf(err->msg, sizeof err->msg,
                     "--types: unknown type \"%.*s\" (types: territory, rep, account, opportunity, "
                     "opportunity_history)",
                     (int)(len > 64 ? 64 : len), p);
            return RS_EUSAGE;
        }
        *mask |= 1u << t;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

typedef struct flag {
    const char *option, *name, *value;
} flag;

/* A whole number in [min, max], all of s. */
static int parse_count(const char *s, unsigned long long min, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_shard(const char *arg, rs_gen_options *go, rs_err *err)
{
    const char *slash = strchr(arg, '/');
    char k[32];
    unsigned long long index, count;
    if (!slash || (size_t)(slash - arg) >= sizeof k)
        goto bad;
    memcpy(k, arg, (size_t)(slash - arg));
    k[slash - arg] = '\0';
    if (parse_count(slash + 1, 1, 65536, &count) || parse_count(k, 1, count, &index))
        goto bad;
    go->shard_index = index;
    go->shard_count = count;
    return 0;
bad:
    snprintf(err->msg, sizeof err->msg, "--shard: expected K/N with 1 <= K <= N <= 65536, got \"%.64s\"", arg);
    return RS_EUSAGE;
}

/* zstd or zstd:LEVEL. */
static int parse_compress(const char *arg, int *level, rs_err *err)
{
    unsigned long long l = 3;
    if (strncmp(arg, "zstd", 4) != 0 || (arg[4] && (arg[4] != ':' || parse_count(arg + 5, 1, 19, &l)))) {
        snprintf(err->msg, sizeof err->msg, "--compress: expected zstd or zstd:LEVEL (LEVEL 1-19), got \"%.64s\"",
                 arg);
        return RS_EUSAGE;
    }
    *level = (int)l;
    return 0;
}

/* Seconds as a decimal number from 0 to a day. */
static int parse_seconds(const char *arg, double *out, rs_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (strspn(arg, "0123456789.") != strlen(arg) || errno || *end || !(v >= 0 && v <= 86400)) {
        snprintf(err->msg, sizeof err->msg, "--connect-timeout: expected seconds from 0 to 86400, got \"%.64s\"",
                 arg);
        return RS_EUSAGE;
    }
    *out = v;
    return 0;
}

/* --rate N: records a second, a decimal number > 0 up to 10^9. */
static int parse_rate(const char *arg, double *out, rs_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (strspn(arg, "0123456789.") != strlen(arg) || errno || *end || end == arg || !(v > 0 && v <= 1e9)) {
        snprintf(err->msg, sizeof err->msg,
                 "--rate: expected records a second, a number above 0 and up to 1000000000, got \"%.64s\"", arg);
        return RS_EUSAGE;
    }
    *out = v;
    return 0;
}

/* The options of the line stage (lineframe.h) and how they were given. */
typedef struct frame_options {
    lineframe_options lf;
    bool progress_set, quiet;
} frame_options;

static bool frame_active(const lineframe_options *lf)
{
    return lf->kafka_key || lf->rate > 0 || lf->progress;
}

/* Runs the stream into out, through the line stage when it has work; on
 * failure err says why (the sink's or the stage's own message). */
static int generate_into(rs_gen *g, const rs_gen_options *go, const lineframe_options *lo, rs_out *out,
                         rs_err *err)
{
    if (!frame_active(lo)) {
        int rc = rs_gen_run(g, go, rs_out_write_cb, out, err);
        if (rc == RS_EIO || rc == RS_EPIPE)
            *err = *rs_out_last_error(out);
        return rc;
    }
    lineframe_options o = *lo;
    if (o.progress) { /* header, the records, footer */
        uint64_t counts[RS_NTYPES];
        rs_gen_counts(g, go, counts);
        o.total_lines = 2;
        for (int t = 0; t < RS_NTYPES; t++)
            if (go->types_mask & (1u << t))
                o.total_lines += counts[t];
    }
    lineframe *f;
    int rc = lineframe_open(&f, &o, rs_out_write_cb, out, rs_out_flush_cb, out, err);
    if (rc)
        return rc;
    rc = rs_gen_run(g, go, lineframe_write_cb, f, err);
    int frc = lineframe_finish(f, rc == 0);
    if (rc == RS_EIO || rc == RS_EPIPE)
        *err = *rs_out_last_error(out);
    else if (rc == RS_EDATA || (!rc && frc))
        *err = *lineframe_error(f);
    lineframe_free(f);
    return rc ? rc : frc;
}

/* Where the stream goes besides stdout or -o. */
typedef struct net_options {
    const char *output, *listen; /* URLs */
    double connect_timeout;
    bool connect_timeout_set, once;
    net_serve_options serve;
    bool max_clients_set;
} net_options;

/* Socket options that make sense only together. */
static int check_net_options(const net_options *n, const char *out_path, rs_err *err)
{
    const char *bad = NULL;
    if (n->output && n->listen)
        bad = "--output and --listen exclude each other";
    else if (out_path && (n->output || n->listen))
        bad = n->output ? "-o and --output exclude each other" : "-o and --listen exclude each other";
    else if (n->connect_timeout_set && !n->output)
        bad = "--connect-timeout goes with --output";
    else if ((n->once || n->max_clients_set) && !n->listen)
        bad = n->once ? "--once goes with --listen" : "--max-clients goes with --listen";
    if (!bad)
        return 0;
    snprintf(err->msg, sizeof err->msg, "generate: %s", bad);
    return RS_EUSAGE;
}

/* --output / --listen: the stream over sockets. */
static int run_net(rs_gen *g, const rs_gen_options *go, net_options *n, int zstd_level, const frame_options *fo,
                   rs_err *err)
{
    net_url u;
    int rc = net_url_parse(n->output ? n->output : n->listen, n->output ? "--output" : "--listen", !n->output, &u, err);
    if (rc)
        return rc;
    if (n->listen) {
        n->serve.once = n->once;
        n->serve.zstd_level = zstd_level;
        n->serve.frame = fo->lf;
        n->serve.quiet = fo->quiet;
        return net_serve(&u, &n->serve, g, go, err);
    }
    int fd;
    rs_out *out;
    if ((rc = net_connect(&u, n->connect_timeout, &fd, err)) || (rc = rs_out_open_socket(&out, fd, u.text, err)))
        return rc;
    if (zstd_level)
        rc = rs_out_set_zstd(out, zstd_level, go->threads, err);
    if (!rc)
        rc = generate_into(g, go, &fo->lf, out, err);
    if (rc)
        rs_out_abort(out);
    else
        rc = rs_out_commit(out, err);
    return rc;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The options of `plan`: those that say which data set, and -j, -o. */
static bool plan_option(int c)
{
    switch (c) {
    case OPT_SEED: case OPT_REPS: case OPT_ACCOUNTS: case OPT_OPPS: case OPT_AS_OF: case OPT_SET:
    case OPT_SETTINGS: case OPT_VOCAB: case 'j': case 'o': case 'h': case OPT_VERSION:
        return true;
    default:
        return false;
    }
}

static const char *long_name(int c)
{
    for (const struct option *o = long_options; o->name; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

/* A plan file's text, of at most max bytes (one more is read to tell). */
static int read_plan(const char *path, size_t max, char **text, size_t *len, rs_err *err)
{
    int fd;
    bool own;
    char name[256];
    int rc = rs_fd_open_input(path, &fd, &own, name, sizeof name, err);
    if (rc) {
        rs_err inner = *err;
        snprintf(err->msg, sizeof err->msg, "--plan %s", inner.msg);
        return rc;
    }
    /* Grown as needed: a plan is small, and a large buffer freed would
     * move glibc's mmap threshold and with it the stream's peak RSS. */
    size_t cap = 0, n = 0;
    char *buf = NULL;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            if (ncap > max + 1)
                ncap = max + 1;
            if (ncap == cap)
                break; /* max + 1 bytes: too large, as the parser will say */
            char *grown = realloc(buf, ncap);
            if (!grown) {
                snprintf(err->msg, sizeof err->msg, "out of memory");
                rc = RS_ENOMEM;
                break;
            }
            buf = grown;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err->msg, sizeof err->msg, "--plan %.200s: %s", name, strerror(errno));
            rc = RS_EIO;
        }
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (own)
        close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return 0;
}

/* plan: the passes' results as one JSON line on stdout or in -o PATH. */
static int write_plan(const rs_gen *g, const char *out_path, rs_err *err)
{
    char *text = rs_gen_plan(g);
    if (!text) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    rs_out *out;
    int rc = rs_out_open(&out, out_path, err);
    if (!rc) {
        rc = rs_out_write(out, text, strlen(text), err);
        if (rc)
            rs_out_abort(out);
        else
            rc = rs_out_commit(out, err);
    }
    free(text);
    return rc;
}

static int run_generate(int argc, char **argv, bool plan_mode)
{
    rs_settings s;
    rs_settings_init(&s);
    rs_vocab v;
    memset(&v, 0, sizeof v);
    rs_err err = {{0}};
    int rc = 0, status = 0; /* status: an exit code already reported */
    const char *vocab_dir = NULL, *out_path = NULL, *generated_at = NULL, *plan_path = NULL;
    char *plan_text = NULL;
    size_t plan_len = 0;
    /* Options apply in precedence order after parsing: files, --set, flags. */
    const char **files = calloc((size_t)argc + 1, sizeof *files), **sets = calloc((size_t)argc + 1, sizeof *sets);
    flag *flags = calloc((size_t)argc + 1, sizeof *flags);
    size_t nfiles = 0, nsets = 0, nflags = 0;
    rs_gen_options go;
    memset(&go, 0, sizeof go);
    go.types_mask = (1u << RS_NTYPES) - 1;
    go.shard_index = go.shard_count = 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    go.threads = cpus > 0 ? (unsigned)(cpus > 64 ? 64 : cpus) : 1;
    int zstd_level = 0;
    net_options net;
    memset(&net, 0, sizeof net);
    frame_options fo;
    memset(&fo, 0, sizeof fo);
    net.serve.max_clients = 16;
    if (!files || !sets || !flags) {
        snprintf(err.msg, sizeof err.msg, "out of memory");
        rc = RS_ENOMEM;
        goto done;
    }

    opterr = 0;
    optind = 0; /* 0: a full reset of GNU getopt (the fuzzer calls us repeatedly) */
    int c;
    while ((c = getopt_long(argc, argv, ":ho:j:", long_options, NULL)) != -1) {
        if (plan_mode && c != ':' && c != '?' && !plan_option(c)) {
            snprintf(err.msg, sizeof err.msg, "plan: --%s is an option of generate, not of plan (see plan --help)",
                     long_name(c));
            rc = RS_EUSAGE;
            goto done;
        }
        switch (c) {
        case OPT_PLAN: plan_path = optarg; break;
        case OPT_SEED: flags[nflags++] = (flag){"--seed", "SEED", optarg}; break;
        case OPT_REPS: flags[nflags++] = (flag){"--reps", "NUM_REPS", optarg}; break;
        case OPT_ACCOUNTS: flags[nflags++] = (flag){"--accounts", "NUM_ACCOUNTS", optarg}; break;
        case OPT_OPPS: flags[nflags++] = (flag){"--opportunities", "NUM_OPPORTUNITIES", optarg}; break;
        case OPT_AS_OF: flags[nflags++] = (flag){"--as-of", "AS_OF", optarg}; break;
        case OPT_GENERATED_AT: generated_at = optarg; break;
        case OPT_SET: sets[nsets++] = optarg; break;
        case OPT_SETTINGS: files[nfiles++] = optarg; break;
        case OPT_VOCAB: vocab_dir = optarg; break;
        case OPT_TYPES:
            if ((rc = parse_types(optarg, &go.types_mask, &err)))
                goto done;
            break;
        case 'o': out_path = optarg; break;
        case OPT_SHARD:
            if ((rc = parse_shard(optarg, &go, &err)))
                goto done;
            break;
        case OPT_COMPRESS:
            if ((rc = parse_compress(optarg, &zstd_level, &err)))
                goto done;
            break;
        case OPT_OUTPUT: net.output = optarg; break;
        case OPT_LISTEN: net.listen = optarg; break;
        case OPT_ONCE: net.once = true; break;
        case OPT_KAFKA_KEY: fo.lf.kafka_key = true; break;
        case OPT_PROGRESS: fo.lf.progress = fo.progress_set = true; break;
        case OPT_QUIET: fo.quiet = true; break;
        case OPT_RATE:
            if ((rc = parse_rate(optarg, &fo.lf.rate, &err)))
                goto done;
            break;
        case OPT_CONNECT_TIMEOUT:
            if ((rc = parse_seconds(optarg, &net.connect_timeout, &err)))
                goto done;
            net.connect_timeout_set = true;
            break;
        case OPT_MAX_CLIENTS: {
            unsigned long long n;
            if (parse_count(optarg, 1, 1024, &n)) {
                snprintf(err.msg, sizeof err.msg, "--max-clients: expected a number from 1 to 1024, got \"%.64s\"",
                         optarg);
                rc = RS_EUSAGE;
                goto done;
            }
            net.serve.max_clients = (unsigned)n;
            net.max_clients_set = true;
            break;
        }
        case 'j': {
            unsigned long long n;
            if (parse_count(optarg, 1, 256, &n)) {
                snprintf(err.msg, sizeof err.msg, "-j: expected a thread count from 1 to 256, got \"%.64s\"", optarg);
                rc = RS_EUSAGE;
                goto done;
            }
            go.threads = (unsigned)n;
            break;
        }
        case 'h':
            fputs(plan_mode ? plan_usage : usage, stdout);
            goto flush_stdout;
        case OPT_VERSION:
            puts("revops-stream " RS_VERSION);
            goto flush_stdout;
        default:
            status = cli_option_error(plan_mode ? "plan" : "generate", c, argv);
            goto done;
        }
    }
    if (optind < argc) {
        snprintf(err.msg, sizeof err.msg, "%s: unexpected argument \"%s\" (see --help)",
                 plan_mode ? "plan" : "generate", argv[optind]);
        rc = RS_EUSAGE;
        goto done;
    }
    if ((rc = check_net_options(&net, out_path, &err)))
        goto done;
    if (fo.progress_set && (fo.quiet || net.listen)) {
        snprintf(err.msg, sizeof err.msg, "generate: %s",
                 fo.quiet ? "--progress and --quiet exclude each other"
                          : "--progress goes with one stream, not --listen (each client has its own)");
        rc = RS_EUSAGE;
        goto done;
    }
    /* By default a progress line only for a person watching stderr. */
    if (!fo.progress_set && !fo.quiet && !net.listen && isatty(STDERR_FILENO))
        fo.lf.progress = true;

    for (size_t i = 0; i < nfiles && !rc; i++)
        rc = rs_settings_load_file(&s, files[i], &err);
    for (size_t i = 0; i < nsets && !rc; i++) {
        char *eq = strchr(sets[i], '=');
        if (!eq) {
            snprintf(err.msg, sizeof err.msg, "--set: expected NAME=VALUE, got \"%.64s\"", sets[i]);
            rc = RS_EUSAGE;
            break;
        }
        /* NAME = VALUE with spaces, as in a settings file. */
        const char *a = sets[i], *b = eq;
        while (*a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(b - a), a);
        rs_err inner;
        if ((rc = rs_settings_set(&s, name, eq + 1, &inner)))
            snprintf(err.msg, sizeof err.msg, "--set: %s", inner.msg);
    }
    for (size_t i = 0; i < nflags && !rc; i++)
        rc = set_from_option(&s, flags[i].option, flags[i].name, flags[i].value, &err);
    if (rc)
        goto done;

    if (generated_at) {
        if ((rc = cli_normalize_generated_at(generated_at, go.generated_at, &err)))
            goto done;
    } else if (!plan_mode && (rc = cli_generated_at(go.generated_at, &err))) {
        goto done; /* (a plan has no timestamp) */
    }
    if (plan_mode && out_path && has_suffix(out_path, ".zst")) {
        snprintf(err.msg, sizeof err.msg, "plan: -o %.200s: a plan is plain JSON, not zstd (give another name)",
                 out_path);
        rc = RS_EUSAGE;
        goto done;
    }
    if (out_path && has_suffix(out_path, ".zst") && !zstd_level)
        zstd_level = 3;

    rc = vocab_dir ? rs_vocab_load_dir(&v, vocab_dir, &err) : rs_vocab_builtin(&v, &err);
    if (rc)
        goto done;
    if (cli_parse_only) {
        rc = rs_settings_check(&s, &err);
        goto done;
    }
    /* No plan is larger than one with a territory for every industry. */
    if (plan_path && (rc = read_plan(plan_path, RS_PLAN_FIXED + v.industries.n * RS_PLAN_PER_TERRITORY, &plan_text,
                                     &plan_len, &err)))
        goto done;
    rs_gen *g;
    if (plan_text)
        rc = rs_gen_create_planned(&g, &s, &v, go.threads, plan_text, plan_len, &err);
    else
        rc = rs_gen_create(&g, &s, &v, go.threads, &err);
    if (rc) {
        /* The plan's own problems name its file. */
        if (plan_text && strncmp(err.msg, "plan: ", 6) == 0) {
            rs_err inner = err;
            snprintf(err.msg, sizeof err.msg, "--plan %.200s: %s", plan_path, inner.msg + 6);
        }
        goto done;
    }
    free(plan_text);
    plan_text = NULL;
    rs_out *out;
    if (plan_mode) {
        rc = write_plan(g, out_path, &err);
    } else if (net.output || net.listen) {
        rc = run_net(g, &go, &net, zstd_level, &fo, &err);
    } else if ((rc = rs_out_open(&out, out_path, &err)) == 0) {
        if (zstd_level)
            rc = rs_out_set_zstd(out, zstd_level, go.threads, &err);
        /* Not through --kafka-key or --rate: their per-line work and
         * buffers, taken in turn by every worker, made --kafka-key into a
         * pipe 60% slower. --progress only counts what passes. */
        go.sink_is_pipe = rs_out_is_pipe(out) && !fo.lf.kafka_key && !(fo.lf.rate > 0);
        if (!rc)
            rc = generate_into(g, &go, &fo.lf, out, &err);
        if (rc)
            rs_out_abort(out);
        else
            rc = rs_out_commit(out, &err);
    }
    rs_gen_free(g);

flush_stdout:
    if (fflush(stdout) != 0) {
        snprintf(err.msg, sizeof err.msg, "stdout: write failed: %s", strerror(errno));
        rc = RS_EIO;
    }
done:
    free(plan_text);
    free(files);
    free(sets);
    free(flags);
    rs_vocab_free(&v);
    rs_settings_free(&s);
    if (rc)
        return cli_fail(rc, &err);
    return status;
}

int cmd_generate(int argc, char **argv)
{
    return run_generate(argc, argv, false);
}

int cmd_plan(int argc, char **argv)
{
    return run_generate(argc, argv, true);
}
