/* Shared by the libFuzzer targets: the input as a file path (the parsers
 * read files), and the error contract every parser keeps. */
#ifndef RS_FUZZ_COMMON_H
#define RS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "revops/revops.h"

/* An anonymous in-memory file holding data, reachable by path. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create("fuzz-input", 0);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* A failure must come with one non-empty line of message. */
static inline void fuzz_check_error(int rc, const rs_err *err)
{
    if (rc >= 0)
        return;
    if (!err->msg[0] || strchr(err->msg, '\n'))
        abort();
}

#endif
