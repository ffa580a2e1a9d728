/* Input bytes, plain or zstd, told apart by the first four bytes.
 *
 * The readers (NDJSON streams, data.json) read through this: a file, a pipe
 * or stdin whose first bytes are a zstd frame (28 b5 2f fd) or a skippable
 * frame is decompressed with libzstd's streaming API, any number of
 * concatenated frames included; anything else passes through unchanged.
 * Nothing depends on the file's name. */
#ifndef RS_ZSTD_IN_H
#define RS_ZSTD_IN_H

#include "revops/revops.h"

typedef struct rs_zin rs_zin;

/* Wraps fd (not owned: the caller closes it after rs_zin_close). name is
 * used in messages. Reads nothing yet. */
int rs_zin_open(rs_zin **z, int fd, const char *name, rs_err *err);
/* Reads up to cap bytes of content into buf: *got > 0, or *got == 0 at the
 * end. Corrupt or truncated zstd input is RS_EDATA ("NAME: corrupt zstd
 * input: ..."), a failed read RS_EIO. */
int rs_zin_read(rs_zin *z, char *buf, size_t cap, size_t *got, rs_err *err);
/* True once the first bytes showed a zstd frame. */
bool rs_zin_is_zstd(const rs_zin *z);
/* Plain input with every byte read so far handed out, and no tee: what
 * follows is the file from its current offset. */
bool rs_zin_plain_drained(const rs_zin *z);
/* Copies every raw byte read from now on (compressed or not) to fd, so that
 * a pipe can be read again later from that copy. */
void rs_zin_set_tee(rs_zin *z, int fd);
/* After a reader found bad content in zstd input: decodes on (output
 * discarded, at most limit bytes) in case the frame itself is corrupt, as
 * damaged blocks can decode to garbage before the checksum or a later
 * block says so. Returns RS_EDATA with that message in err, or 0 if
 * nothing was found (or the input is not zstd). */
int rs_zin_blame(rs_zin *z, uint64_t limit, rs_err *err);
/* Reads the rest of the raw input into the tee, without decoding it. */
int rs_zin_drain(rs_zin *z, rs_err *err);
void rs_zin_close(rs_zin *z);

#endif
