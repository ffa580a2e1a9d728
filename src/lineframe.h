/* The output stage for options that look at lines (front end): between the
 * generator's formatted chunks and the sink (rs_out), it can
 *   - prefix every line with TYPE:ID and a tab (--kafka-key; the header and
 *     footer are keyed "header" and "footer"),
 *   - release at most `rate` lines a second, in slices of at most 10 ms worth
 *     each followed by a flush of the sink, so the stream flows smoothly
 *     (--rate); the bytes are those of an unthrottled run,
 *   - count lines and bytes and refresh a progress line on stderr (--progress).
 * Generation writes to lineframe_write_cb. When none of these is on, the
 * stage is not used at all and costs nothing. */
#ifndef RS_LINEFRAME_H
#define RS_LINEFRAME_H

#include "revops/revops.h"

#include <stdio.h>

typedef struct lineframe lineframe;

typedef struct lineframe_options {
    bool kafka_key;
    double rate;          /* lines (records, header and footer included) a second; 0: no limit */
    bool progress;        /* refresh a progress line on `progress_to` */
    uint64_t total_lines; /* lines the stream will have, for percent and ETA; 0: unknown */
    FILE *progress_to;    /* stderr unless a test says otherwise */
} lineframe_options;

/* Makes the sink write out what it holds (called after each --rate slice). */
typedef int (*lineframe_flush_fn)(void *ctx);

/* Opens a stage that passes its output to write(write_ctx, ...) and, with a
 * rate, calls flush(flush_ctx) after each slice (flush may be NULL). */
int lineframe_open(lineframe **f, const lineframe_options *o, rs_write_fn write, void *write_ctx,
                   lineframe_flush_fn flush, void *flush_ctx, rs_err *err);
/* rs_write_fn: ctx is a lineframe*. Returns the sink's status, or RS_EDATA
 * (message in lineframe_error) for a line that is not a stream record. */
int lineframe_write_cb(void *ctx, const char *buf, size_t len);
/* Ends the stream: checks it ended with a whole line and, with progress,
 * writes the final progress line (also after a failure, so an error line
 * that follows starts on a line of its own). ok: the run succeeded. */
int lineframe_finish(lineframe *f, bool ok);
/* The message of the stage's own RS_EDATA failure. */
const rs_err *lineframe_error(const lineframe *f);
void lineframe_free(lineframe *f);

#endif
