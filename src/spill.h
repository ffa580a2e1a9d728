/* External sort of keyed byte records in bounded memory.
 *
 * Records (opaque bytes under a 64-bit key) collect in memory up to a
 * budget; each time it fills, they are sorted and written as one run,
 * zstd-compressed, to a temp file in $TMPDIR. The file is unlinked as soon
 * as it is created (with SIGINT/SIGTERM blocked in between), so no exit path,
 * signal or crash can leave it behind. At the end the runs (or, when nothing
 * was spilled, the sorted memory) are merged k-way; when there are more runs
 * than the budget can read at once, groups of them are first merged into
 * longer runs. Records with equal keys come out in the order they were added.
 * Memory: the budget, plus a constant for compression buffers (and one
 * record above the budget when a single record is larger). */
#ifndef RS_SPILL_H
#define RS_SPILL_H

#include "revops/revops.h"

typedef struct rs_sorter rs_sorter;

typedef struct rs_sorter_stats {
    uint64_t records;
    uint64_t runs;          /* runs spilled from memory */
    uint64_t merge_passes;  /* intermediate passes over runs */
    uint64_t spilled_bytes; /* compressed bytes written to the temp file */
} rs_sorter_stats;

/* budget: bytes for records and their sort entries (at least 64 KiB is
 * used). tmpdir NULL: $TMPDIR, else /tmp. */
int rs_sorter_create(rs_sorter **s, uint64_t budget, const char *tmpdir, rs_err *err);
/* Space for one record of at most max bytes: *dst is valid until
 * rs_sorter_commit. May spill the records held so far. */
int rs_sorter_reserve(rs_sorter *s, size_t max, char **dst, rs_err *err);
/* Adds the len (<= max) bytes written at the reserved place under key. */
void rs_sorter_commit(rs_sorter *s, uint64_t key, size_t len);
/* Ends the input and prepares the merge. */
int rs_sorter_finish(rs_sorter *s, rs_err *err);
/* The next record in key order: 1 (*rec valid until the next call), 0 at
 * the end, or a negative rs_status. */
int rs_sorter_next(rs_sorter *s, uint64_t *key, const char **rec, size_t *len, rs_err *err);
void rs_sorter_get_stats(const rs_sorter *s, rs_sorter_stats *st);
/* Frees everything; the temp file's space goes with its descriptor. */
void rs_sorter_free(rs_sorter *s);

#endif
