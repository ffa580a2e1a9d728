#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int rs_fd_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int rs_fd_open_input(const char *path, int *fd, bool *own, char *name, size_t name_cap, rs_err *err)
{
    if (!path || strcmp(path, "-") == 0) {
        *fd = STDIN_FILENO;
        *own = false;
        snprintf(name, name_cap, "<stdin>");
        return 0;
    }
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        snprintf(err->msg, sizeof err->msg, "%s: cannot open: %s", path, strerror(errno));
        return RS_EIO;
    }
    *own = true;
    snprintf(name, name_cap, "%s", path);
    return 0;
}
