/* The settings options of validate and merge: what data set the data-model
 * rules check against (validate.h). Both subcommands take them alike. */
#include "cli.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

void cli_check_init(cli_check *c)
{
    memset(c, 0, sizeof *c);
    rs_settings_init(&c->s);
}

static int apply(rs_settings *s, int opt, const char *arg, rs_err *err)
{
    switch (opt) {
    case CLI_OPT_SEED:
        return rs_settings_set(s, "SEED", arg, err);
    case CLI_OPT_REPS:
        return rs_settings_set(s, "NUM_REPS", arg, err);
    case CLI_OPT_ACCOUNTS:
        return rs_settings_set(s, "NUM_ACCOUNTS", arg, err);
    case CLI_OPT_OPPS:
        return rs_settings_set(s, "NUM_OPPORTUNITIES", arg, err);
    case CLI_OPT_AS_OF:
        return rs_settings_set(s, "AS_OF", arg, err);
    case CLI_OPT_SETTINGS:
        return rs_settings_load_file(s, arg, err);
    default: {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg) {
            snprintf(err->msg, sizeof err->msg, "--set: expected NAME=VALUE, got \"%.64s\"", arg);
            return RS_EUSAGE;
        }
        char name[128];
        size_t n = (size_t)(eq - arg);
        if (n >= sizeof name) {
            snprintf(err->msg, sizeof err->msg, "--set: unknown setting \"%.64s\"", arg);
            return RS_EUSAGE;
        }
        memcpy(name, arg, n);
        name[n] = '\0';
        return rs_settings_set(s, name, eq + 1, err);
    }
    }
}

int cli_check_option(cli_check *c, int opt, const char *arg, rs_err *err)
{
    if (opt == CLI_OPT_VOCAB) {
        c->vocab_dir = arg;
        return 0;
    }
    /* Each option is read once: a --settings FILE may be a pipe. */
    return apply(&c->s, opt, arg, err);
}

int cli_check_config(cli_check *c, bool lenient, rs_validator_config *cfg, rs_err *err)
{
    /* What the options gave explicitly overrides a stream header's. */
    unsigned mask = c->s.given;
    /* Counts not given are unknown here (a header may bring them), so only
     * given counts take part in the feasibility checks. */
    rs_settings chk = c->s;
    unsigned all = RS_GIVEN_REPS | RS_GIVEN_ACCOUNTS | RS_GIVEN_OPPORTUNITIES;
    if ((mask & all) != all)
        chk.num_reps = chk.num_accounts = chk.num_opportunities = 0;
    int rc = rs_settings_check(&chk, err);
    if (rc)
        return rc;
    rc = c->vocab_dir ? rs_vocab_load_dir(&c->vocab, c->vocab_dir, err) : rs_vocab_builtin(&c->vocab, err);
    if (rc)
        return rc;
    c->vocab_loaded = true;
    *cfg = (rs_validator_config){&c->s, &c->vocab, mask, lenient};
    return 0;
}

void cli_check_free(cli_check *c)
{
    if (c->vocab_loaded)
        rs_vocab_free(&c->vocab);
    rs_settings_free(&c->s);
}
