/* Merging NDJSON streams into the canonical data.json (SPEC 3, 6).
 *
 * The inputs hold one stream, or the shards of one (`--shard K/N`), in any
 * order: several per input, one after another or with their lines
 * interleaved. What is already in canonical order is merged as it is read,
 * each record written as soon as it is provably the next one; at the first
 * record that is not, everything still unread is sorted in bounded memory
 * (spill.h) and merged after what was written. Checked on the way: every
 * shard 1..N exactly once, all from one data set (seed, settings, counts,
 * as-of, shard count), footers counting what each shard holds, ids 1..n per
 * type exactly once, history ids ascending and unique. */
#ifndef RS_MERGE_H
#define RS_MERGE_H

#include "revops/revops.h"
#include "spill.h"
#include "validate.h"

typedef struct rs_merge_options {
    bool compact;             /* json.dumps form instead of indent=2 */
    uint64_t memory;          /* budget for sorting (and the territory spool) */
    bool memory_given;        /* memory was chosen: the checks fit in it too */
    const char *generated_at; /* NULL: the earliest of the shards' headers */
    const char *tmpdir;       /* NULL: $TMPDIR, else /tmp */
    /* The data-model rules (validate.h) every record must keep, so that merge
     * never writes a data.json that validate rejects; NULL: structure only.
     * With memory_given, the validator's memory (rs_validator_bytes_for)
     * comes out of memory, and may take at most half of it; otherwise it is
     * on top of the default budget. */
    const rs_validator_config *check;
} rs_merge_options;

typedef struct rs_merge_stats {
    bool sorted;           /* some input was not in canonical order */
    uint64_t records;      /* entities written */
    rs_sorter_stats sort;  /* what sorting it took */
} rs_merge_stats;

/* Merges the inputs (paths, "-" = stdin, at most once) into data.json
 * written through write(ctx, ...); sink_err (may be NULL) gives the message
 * behind a failed write. Errors: "FILE:LINE: problem" for input errors, or
 * "merge: problem" when no line is to blame. stats may be NULL. */
int rs_merge_run(const char *const *paths, size_t npaths, const rs_merge_options *o, rs_write_fn write, void *ctx,
                 const rs_err *(*sink_err)(const void *ctx), rs_merge_stats *stats, rs_err *err);

#endif
