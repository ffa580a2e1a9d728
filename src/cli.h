/* Shared front-end helpers: error lines, exit codes, option values. */
#ifndef RS_CLI_H
#define RS_CLI_H

#include "revops/revops.h"
#include "validate.h"

#include <getopt.h>
#include <signal.h>

#define RS_PROG "revops-stream"

/* Prints "revops-stream: MSG" as one line on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit status for an rs_status: 0 ok/EPIPE, 2 usage, 1 otherwise. */
int cli_exit_code(int status);
/* Prints err->msg as one error line and returns cli_exit_code(status). */
int cli_fail(int status, const rs_err *err);
/* Reports what getopt_long returned for a bad option (':' for a missing
 * value, anything else for an unknown option) as one line naming the
 * subcommand; returns the usage exit status 2. */
int cli_option_error(const char *command, int getopt_result, char **argv);
/* When set (by the option fuzzer), each subcommand returns once its options
 * and settings are parsed and checked, before it reads or writes anything. */
extern bool cli_parse_only;
/* Installs SIGINT/SIGTERM/SIGHUP handlers that remove registered temp files
 * and exit 130/143/129, and ignores SIGPIPE (writes then fail with EPIPE). */
void cli_signals_init(void);
/* Fills set with the signals whose handler removes the temp files. */
void cli_fatal_signals(sigset_t *set);
/* Registers/unregisters a temp file to remove on a fatal signal. */
void cli_tempfile_add(const char *path);
void cli_tempfile_remove(const char *path);
/* Current time, or SOURCE_DATE_EPOCH when set, as ISO-8601 with
 * microseconds and +00:00. Returns RS_EUSAGE for a bad SOURCE_DATE_EPOCH. */
int cli_generated_at(char out[40], rs_err *err);
/* Checks a --generated-at value (ISO-8601 date-time with offset, up to six
 * fraction digits). */
int cli_check_generated_at(const char *s, rs_err *err);
/* The same, writing the header's form: .ffffff and a +HH:MM offset. */
int cli_normalize_generated_at(const char *s, char out[40], rs_err *err);

/* ---- the settings options of validate and merge (cli_check.c) ---- */
/* What data set the data-model rules check against: generate's settings
 * options, each applied to s (whose `given` bits say what was explicit). */
typedef struct cli_check {
    rs_settings s;
    const char *vocab_dir;
    rs_vocab vocab;
    bool vocab_loaded;
} cli_check;

enum {
    CLI_OPT_SEED = 300,
    CLI_OPT_REPS,
    CLI_OPT_ACCOUNTS,
    CLI_OPT_OPPS,
    CLI_OPT_AS_OF,
    CLI_OPT_SET,
    CLI_OPT_SETTINGS,
    CLI_OPT_VOCAB,
};

/* getopt_long entries for the options that say which settings were used. */
#define CLI_CHECK_SETTINGS_OPTIONS                                  \
    {"set", required_argument, NULL, CLI_OPT_SET},                  \
    {"settings", required_argument, NULL, CLI_OPT_SETTINGS},        \
    {"vocab", required_argument, NULL, CLI_OPT_VOCAB}
/* ... and those that say which data set to expect (validate only). */
#define CLI_CHECK_EXPECT_OPTIONS                                    \
    {"seed", required_argument, NULL, CLI_OPT_SEED},                \
    {"reps", required_argument, NULL, CLI_OPT_REPS},                \
    {"accounts", required_argument, NULL, CLI_OPT_ACCOUNTS},        \
    {"opportunities", required_argument, NULL, CLI_OPT_OPPS},       \
    {"as-of", required_argument, NULL, CLI_OPT_AS_OF}

void cli_check_init(cli_check *c);
/* Applies one CLI_OPT_* option (--vocab is only noted: loaded by config). */
int cli_check_option(cli_check *c, int opt, const char *arg, rs_err *err);
/* After the options: checks the settings, loads the vocabularies and fills
 * cfg, which points into c (c must outlive the validator). */
int cli_check_config(cli_check *c, bool lenient, rs_validator_config *cfg, rs_err *err);
void cli_check_free(cli_check *c);

/* Subcommands: each returns the process exit status. */
int cmd_generate(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_split(int argc, char **argv);

#endif
