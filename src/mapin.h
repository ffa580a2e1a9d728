/* A regular file read through a read-only memory mapping, with a thread
 * that maps the pages ahead of the reader and brings them into a cache,
 * and the reader dropping them behind itself. The reader then parses the file where it lies: no read()
 * copies it into a buffer first (that copy cost a checked merge of 767 MB
 * about a fifth of its CPU time), and memory stays a few MiB of pages
 * however large the file.
 *
 * A file truncated while it is mapped makes the reader's next access to
 * the lost pages raise SIGBUS: a program using this must handle the signal
 * (the command line reports it and removes its temp files). */
#ifndef RS_MAPIN_H
#define RS_MAPIN_H

#include <stddef.h>

typedef struct rs_mapin rs_mapin;

/* Maps the whole file behind fd (which stays the caller's, and may be
 * closed once mapped) and starts the thread, which fills pages from pos
 * on. NULL when fd is not a regular file, is empty, or the mapping, memory
 * or the thread is not to be had: the caller reads it as before. *base and
 * *len give the bytes, valid until rs_mapin_close. */
rs_mapin *rs_mapin_open(int fd, size_t pos, const char **base, size_t *len);
/* Tells the thread the reader has come to pos; cheap, and it wakes the
 * thread only once a step (below), so call it as often as convenient. */
void rs_mapin_at(rs_mapin *m, size_t pos);
/* Keeps the pages from file offset off on mapped (SIZE_MAX: no hold), for
 * bytes that another thread still reads. */
void rs_mapin_hold(rs_mapin *m, size_t off);
/* Stops the thread and unmaps. NULL is fine. */
void rs_mapin_close(rs_mapin *m);

#endif
