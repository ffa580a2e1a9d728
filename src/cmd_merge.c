/* `revops-stream merge`: NDJSON streams or shards -> canonical data.json.
 *
 * Options and output file here; the merging itself (shards in any order,
 * sorting in bounded memory when input is not in canonical order, every
 * check) is the library's merge engine, src/merge.c. */
#include "cli.h"
#include "merge.h"
#include "outfile.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "Usage: revops-stream merge [OPTIONS] [FILE...]\n"
    "Turn an NDJSON stream, or all N shards of one (made with --shard K/N), into\n"
    "the canonical data.json: byte for byte Python's json.dump(payload, f, indent=2),\n"
    "and the same bytes as merging the unsharded stream.\n"
    "\n"
    "FILE may be - (stdin, the default; once at most). Each FILE holds one or more\n"
    "streams or shards: whole, one after another, or with their lines interleaved\n"
    "(as `parallel --line-buffer` writes them). zstd input is recognised by its\n"
    "magic number. Input in canonical order is merged as it is read; anything\n"
    "else is sorted within --memory, spilling zstd-compressed runs to $TMPDIR.\n"
    "\n"
    "Options:\n"
    "  -o PATH              write to PATH (atomically: temp file + rename)\n"
    "      --compact        one line, byte for byte json.dumps(payload)\n"
    "      --memory SIZE    memory for sorting, with K, M or G suffix (default 256M)\n"
    "      --generated-at ISO\n"
    "                       generated_at to write instead of the earliest header's\n"
    "      --no-validate    skip the data-model checks (structure only)\n"
    "      --lenient        for data made by other tools (split of their data.json):\n"
    "                       history coherence and the formulas only warn, as with\n"
    "                       validate --lenient\n"
    "  The settings options of generate, for the data-model checks (as validate\n"
    "  takes them; give merge those you gave generate):\n"
    "      --set NAME=VALUE, --settings FILE, --vocab DIR\n"
    "                       the settings and vocabularies the stream was made with\n"
    "      --seed N, --reps N, --accounts N, --opportunities N, --as-of DATE\n"
    "                       expected values (a header's own are used otherwise;\n"
    "                       --as-of also serves a header without one, as split\n"
    "                       writes)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Every shard 1..N must be present exactly once, all of one data set (seed,\n"
    "settings, counts, as-of), each complete (header ... footer) and as its\n"
    "footer counts, and every record must keep the data model's rules (those of\n"
    "validate, which lists them all): merge never writes a data.json that\n"
    "validate, given the same options, would reject. Otherwise the first problem\n"
    "is one line naming FILE:LINE, the status is 1, and with -o nothing is\n"
    "written; on stdout the document is left unfinished.\n"
    "\n"
    "The checks keep about 40 bytes per rep, account and opportunity (about\n"
    "75 MiB for a million opportunities): on top of the default --memory, or out\n"
    "of a --memory given (at most half of it).\n";

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

static const rs_err *out_err(const void *ctx)
{
    return rs_out_last_error(ctx);
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {
        {"compact", no_argument, NULL, 'c'},
        {"memory", required_argument, NULL, 'm'},
        {"generated-at", required_argument, NULL, 'g'},
        {"no-validate", no_argument, NULL, 'n'},
        {"lenient", no_argument, NULL, 'l'},
        CLI_CHECK_EXPECT_OPTIONS,
        CLI_CHECK_SETTINGS_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL;
    rs_merge_options mo = {.compact = false, .memory = DEFAULT_MEMORY};
    rs_err err = {{0}};
    cli_check chk;
    bool check = true, lenient = false;
    int status = 2;
    int c;
    cli_check_init(&chk);
    opterr = 0;
    optind = 0; /* 0: a full reset of GNU getopt (the fuzzer calls us repeatedly) */
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 'c':
            mo.compact = true;
            break;
        case 'm':
            mo.memory_given = true;
            if (parse_size(optarg, &mo.memory) != 0 || mo.memory < (1u << 20)) {
                cli_error("merge: --memory: not a size of at least 1M (e.g. 256M, 2G): \"%.64s\"", optarg);
                goto out;
            }
            break;
        case 'g':
            if (cli_check_generated_at(optarg, &err) != 0) {
                status = cli_fail(RS_EUSAGE, &err);
                goto out;
            }
            mo.generated_at = optarg;
            break;
        case 'n':
            check = false;
            break;
        case 'l':
            lenient = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            status = 0;
            goto out;
        case CLI_OPT_SEED:
        case CLI_OPT_REPS:
        case CLI_OPT_ACCOUNTS:
        case CLI_OPT_OPPS:
        case CLI_OPT_AS_OF:
        case CLI_OPT_SET:
        case CLI_OPT_SETTINGS:
        case CLI_OPT_VOCAB: {
            int rc = cli_check_option(&chk, c, optarg, &err);
            if (rc) {
                cli_error("merge: %s", err.msg);
                status = cli_exit_code(rc);
                goto out;
            }
            break;
        }
        default:
            status = cli_option_error("merge", c, argv);
            goto out;
        }
    }
    static const char *const stdin_only[] = {"-"};
    const char *const *paths = stdin_only;
    size_t npaths = 1;
    if (optind < argc) {
        paths = (const char *const *)argv + optind;
        npaths = (size_t)(argc - optind);
    }
    int dashes = 0;
    for (size_t i = 0; i < npaths; i++)
        dashes += strcmp(paths[i], "-") == 0;
    if (dashes > 1) {
        cli_error("merge: stdin (-) given %d times: it can be read once", dashes);
        goto out;
    }
    if (!check && lenient) {
        cli_error("merge: --lenient and --no-validate exclude each other");
        goto out;
    }
    /* The settings options are checked even with --no-validate. */
    rs_validator_config cfg;
    int crc = cli_check_config(&chk, lenient, &cfg, &err);
    if (crc) {
        cli_error("merge: %s", err.msg);
        status = cli_exit_code(crc);
        goto out;
    }
    if (check)
        mo.check = &cfg;
    if (cli_parse_only) {
        status = 0;
        goto out;
    }

    rs_out *out = NULL;
    int rc = rs_out_open(&out, out_path, &err);
    if (rc == 0)
        rc = rs_merge_run(paths, npaths, &mo, rs_out_write_cb, out, out_err, NULL, &err);
    if (rc == 0) {
        rc = rs_out_commit(out, &err);
        out = NULL;
    }
    if (out)
        rs_out_abort(out);
    status = rc ? cli_fail(rc, &err) : 0;
out:
    cli_check_free(&chk);
    return status;
}
