/* libFuzzer target: the command line of every subcommand. The input is the
 * argument list, NUL-separated; with cli_parse_only each subcommand parses
 * and checks its options and settings (files named by --settings and --vocab
 * included) and returns before it reads input or writes output. The contract:
 * status 0 or 2 (1 for an unreadable file), and at most one line on stderr. */
#include "cli.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 32

static int saved_stdout = -1, saved_stderr = -1, err_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cli_parse_only = true;
    saved_stdout = dup(1);
    saved_stderr = dup(2);
    err_fd = memfd_create("fuzz-stderr", 0);
    if (saved_stdout < 0 || saved_stderr < 0 || err_fd < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "revops-stream";
    for (char *p = copy; argc <= MAX_ARGS && p <= copy + size; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    /* stdout to /dev/null (usage text), stderr to a memory file to count lines. */
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull < 0 || ftruncate(err_fd, 0) != 0 || lseek(err_fd, 0, SEEK_SET) != 0)
        abort();
    fflush(stdout);
    fflush(stderr);
    dup2(devnull, 1);
    dup2(err_fd, 2);
    close(devnull);

    int status;
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "merge") == 0)
        status = cmd_merge(argc - 1, argv + 1);
    else if (strcmp(sub, "validate") == 0)
        status = cmd_validate(argc - 1, argv + 1);
    else if (strcmp(sub, "split") == 0)
        status = cmd_split(argc - 1, argv + 1);
    else if (strcmp(sub, "generate") == 0)
        status = cmd_generate(argc - 1, argv + 1);
    else if (strcmp(sub, "plan") == 0)
        status = cmd_plan(argc - 1, argv + 1);
    else {
        argv[0] = "generate";
        status = cmd_generate(argc, argv);
    }
    fflush(stdout);
    fflush(stderr);
    dup2(saved_stdout, 1);
    dup2(saved_stderr, 2);

    char buf[2048];
    ssize_t n = pread(err_fd, buf, sizeof buf, 0);
    int lines = 0;
    for (ssize_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    if (status < 0 || status > 2 || lines > 1 || (status != 0 && lines != 1)) {
        fprintf(stderr, "fuzz_options: status %d with %d stderr lines: %.*s\n", status, lines, (int)(n > 0 ? n : 0),
                buf);
        abort();
    }
    free(copy);
    return 0;
}
