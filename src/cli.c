/* Front-end helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One line, whatever the message holds. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "%s: %s\n", RS_PROG, line);
}

bool cli_parse_only = false;

int cli_exit_code(int status)
{
    if (status == RS_OK || status == RS_EPIPE)
        return 0;
    return status == RS_EUSAGE ? 2 : 1;
}

int cli_fail(int status, const rs_err *err)
{
    if (status != RS_EPIPE)
        cli_error("%s", err->msg[0] ? err->msg : "unknown error");
    return cli_exit_code(status);
}

int cli_option_error(const char *command, int getopt_result, char **argv)
{
    if (getopt_result == ':')
        cli_error("%s: option %s needs a value (see --help)", command, argv[optind - 1]);
    else if (optopt)
        cli_error("%s: unknown option \"-%c\" (see --help)", command, optopt);
    else
        cli_error("%s: unknown option \"%.64s\" (see --help)", command, argv[optind - 1]);
    return 2;
}

/* Temp files to remove on a fatal signal. A fixed table: the handler must not
 * allocate, and a run has only a handful of outputs at once. */
#define MAX_TEMPS 16
static char temp_paths[MAX_TEMPS][4096];
static volatile sig_atomic_t temp_used[MAX_TEMPS];

void cli_tempfile_add(const char *path)
{
    for (int i = 0; i < MAX_TEMPS; i++) {
        if (!temp_used[i]) {
            snprintf(temp_paths[i], sizeof temp_paths[i], "%s", path);
            temp_used[i] = 1;
            return;
        }
    }
}

void cli_tempfile_remove(const char *path)
{
    for (int i = 0; i < MAX_TEMPS; i++) {
        if (temp_used[i] && strcmp(temp_paths[i], path) == 0) {
            temp_used[i] = 0;
            return;
        }
    }
}

void cli_fatal_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

static void on_fatal_signal(int sig)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temp_used[i])
            unlink(temp_paths[i]);
    _exit(128 + sig);
}

/* SIGBUS: merge parses a regular file in a memory mapping (mapin.h), and a
 * file truncated under it takes the mapped pages with it. */
static void on_lost_input(int sig)
{
    static const char msg[] = "revops-stream: an input file was truncated (or could not be read) while it was "
                              "being read: the output is incomplete (an -o file is not written)\n";
    /* Two threads may fault at once: one line, from the first. */
    static volatile sig_atomic_t once;
    if (__atomic_exchange_n(&once, 1, __ATOMIC_SEQ_CST))
        for (;;)
            pause();
    ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)n;
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temp_used[i])
            unlink(temp_paths[i]);
    (void)sig;
    _exit(1);
}

void cli_signals_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* a closed terminal or ssh session */
    sa.sa_handler = on_lost_input;
    sigaction(SIGBUS, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void format_time(time_t secs, long usec, char out[40])
{
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[20];
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        date[0] = '\0';
    snprintf(out, 40, "%.19s.%06ld+00:00", date, usec % 1000000);
}

int cli_generated_at(char out[40], rs_err *err)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        char *end;
        errno = 0;
        long long v = strtoll(sde, &end, 10);
        /* Up to year 9999 so the ISO form keeps four year digits. */
        if (errno || *end || v < 0 || v > 253402300799LL || !(*sde >= '0' && *sde <= '9')) {
            snprintf(err->msg, sizeof err->msg,
                     "SOURCE_DATE_EPOCH: not a number of seconds since 1970: \"%.64s\"", sde);
            return RS_EUSAGE;
        }
        format_time((time_t)v, 0, out);
        return 0;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    format_time(tv.tv_sec, (long)tv.tv_usec, out);
    return 0;
}

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Accepts YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM), a real date and
 * time, and writes it in the header's form: six fraction digits and a
 * numeric offset. */
int cli_normalize_generated_at(const char *s, char out[40], rs_err *err)
{
    size_t n = strlen(s);
    int32_t days;
    int ok = n >= 20 && n < 40 && rs_date_parse(s, 10, &days) == 0 && s[10] == 'T' && digits(s + 11, 2) &&
             s[13] == ':' && digits(s + 14, 2) && s[16] == ':' && digits(s + 17, 2);
    char frac[7] = "000000", offset[7] = "+00:00";
    if (ok) {
        int hh = (s[11] - '0') * 10 + (s[12] - '0'), mm = (s[14] - '0') * 10 + (s[15] - '0'),
            ss = (s[17] - '0') * 10 + (s[18] - '0');
        ok = hh < 24 && mm < 60 && ss < 60;
        const char *p = s + 19;
        if (ok && *p == '.') {
            p++;
            const char *f = p;
            while (*p >= '0' && *p <= '9')
                p++;
            ok = p > f && p - f <= 6;
            if (ok)
                memcpy(frac, f, (size_t)(p - f));
        }
        if (ok) {
            if (*p == 'Z') {
                ok = p[1] == '\0';
            } else {
                ok = (*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2) && p[3] == ':' &&
                     digits(p + 4, 2) && (p[1] - '0') * 10 + (p[2] - '0') < 24 && p[4] < '6';
                if (ok)
                    memcpy(offset, p, 6);
            }
        }
    }
    if (!ok) {
        snprintf(err->msg, sizeof err->msg,
                 "--generated-at: not an ISO-8601 date-time with offset (e.g. 2026-02-19T05:00:09.013131+00:00): \"%.64s\"",
                 s);
        return RS_EUSAGE;
    }
    snprintf(out, 40, "%.19s.%s%s", s, frac, offset);
    return 0;
}

int cli_check_generated_at(const char *s, rs_err *err)
{
    char scratch[40];
    return cli_normalize_generated_at(s, scratch, err);
}
