/* Buffered output to stdout or to a file that appears atomically.
 *
 * A path other than NULL/"-" is written to a temp file beside it
 * (PATH.tmp.XXXXXX) and renamed over PATH only by rs_out_commit; any other
 * exit path (error, rs_out_abort, SIGINT/SIGTERM) removes the temp file. */
#ifndef RS_OUTFILE_H
#define RS_OUTFILE_H

#include "revops/revops.h"

typedef struct rs_out rs_out;

/* Opens stdout (path NULL or "-") or a temp file for path. */
int rs_out_open(rs_out **o, const char *path, rs_err *err);
/* Streams to a connected socket fd (owned: shut down and closed by commit,
 * closed by abort); `name` (the URL) names it in messages. */
int rs_out_open_socket(rs_out **o, int fd, const char *name, rs_err *err);
/* Hands every chunk of output to sink(ctx, ...) instead of a descriptor;
 * sink errors end the run with that status. */
int rs_out_open_sink(rs_out **o, const char *name, rs_write_fn sink, void *ctx, rs_err *err);
/* Compresses everything written from now on as zstd frames at `level`
 * (1..19), with zstd's own worker threads when threads > 1. */
int rs_out_set_zstd(rs_out *o, int level, unsigned threads, rs_err *err);
/* True when the bytes go uncompressed into a pipe (rs_gen_options). */
bool rs_out_is_pipe(const rs_out *o);
/* Appends bytes; writes in 1 MiB chunks. RS_EPIPE when stdout's reader left. */
int rs_out_write(rs_out *o, const char *buf, size_t len, rs_err *err);
/* rs_write_fn adapter: ctx is an rs_out*; the error text lands in
 * rs_out_last_error(o). */
int rs_out_write_cb(void *ctx, const char *buf, size_t len);
const rs_err *rs_out_last_error(const rs_out *o);
/* Writes out everything buffered so far (with zstd: a flushed block, the
 * frame goes on), for output paced by --rate. */
int rs_out_flush(rs_out *o, rs_err *err);
/* The same as a callback: ctx is an rs_out*, the error in rs_out_last_error. */
int rs_out_flush_cb(void *ctx);
/* Flushes, closes and renames into place; frees o. */
int rs_out_commit(rs_out *o, rs_err *err);
/* Removes the temp file (if any) and frees o. */
void rs_out_abort(rs_out *o);

#endif
