/* Small file-descriptor helpers shared by the readers and writers. */
#ifndef RS_FDIO_H
#define RS_FDIO_H

#include "revops/revops.h"

/* Writes all n bytes, retrying short writes and EINTR; 0, or -1 with errno. */
int rs_fd_write_all(int fd, const void *buf, size_t n);

/* Opens an input: stdin for NULL or "-" (named "<stdin>"), else path
 * read-only (named path). *own says whether the caller must close *fd. */
int rs_fd_open_input(const char *path, int *fd, bool *own, char *name, size_t name_cap, rs_err *err);

#endif
