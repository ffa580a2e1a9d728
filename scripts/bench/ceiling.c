/* The ceiling for `make bench` (SPEC 7): the least a generator of
 * opportunity lines must do. It formats one fixed opportunity-like line per
 * record (the id counts up; everything else is constant), by hand, into a
 * 1 MiB buffer, and writes each full buffer to stdout, enlarging stdout's
 * pipe buffer to 1 MiB as revops-stream does. It formats with the
 * generator's own primitives (src/fmt.h); no drawing, no model.
 *
 * usage: ceiling RECORDS > /dev/null    prints nothing; time it. */
#include "fmt.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static char buf[CHUNK];
static size_t len;

static void flush_out(void)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = write(STDOUT_FILENO, buf + off, len - off);
        if (n < 0) {
            perror("ceiling: write");
            exit(1);
        }
        off += (size_t)n;
    }
    len = 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: ceiling RECORDS\n", stderr);
        return 2;
    }
    uint64_t records = strtoull(argv[1], NULL, 10);
    fcntl(STDOUT_FILENO, F_SETPIPE_SZ, (int)CHUNK);
    /* volatile: the compiler may not fold the constant fields into the literals. */
    volatile uint64_t amount = 4034, rep = 1135271, account = 3499328;
    for (uint64_t id = 1; id <= records; id++) {
        if (len + 512 > CHUNK)
            flush_out();
        char *p = buf + len;
        p = RS_FMT_LIT(p, "{\"type\":\"opportunity\",\"data\":{\"id\":");
        p = rs_put_u64(p, id);
        p = RS_FMT_LIT(p, ",\"name\":\"Kestrel Systems (829) Platform\",\"amount\":");
        p = rs_put_u64(p, amount);
        p = RS_FMT_LIT(p, ",\"stage\":\"3 - Solutioning\",\"closeDate\":\"2026-02-12\",\"repId\":");
        p = rs_put_u64(p, rep);
        p = RS_FMT_LIT(p, ",\"accountId\":");
        p = rs_put_u64(p, account);
        p = RS_FMT_LIT(p, ",\"created_date\":\"2024-09-17\"}}\n");
        len = (size_t)(p - buf);
    }
    flush_out();
    return 0;
}
