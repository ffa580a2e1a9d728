/* Formatting records as compact NDJSON (SPEC 2) into an emitter's buffer.
 *
 * An emitter either streams (a write function gets each full 1 MiB chunk)
 * or collects one block in a buffer that grows, for a worker thread whose
 * block the writer emits later in order. No allocation or printf per record. */
#ifndef RS_EMIT_H
#define RS_EMIT_H

#include "model.h"

typedef struct rs_emitter {
    char *buf;
    size_t len, cap;
    rs_write_fn write; /* NULL: collect into buf, growing it */
    void *ctx;
    int rc;
    const rs_gen *g;
} rs_emitter;

int rs_emitter_init(rs_emitter *e, const rs_gen *g, rs_write_fn write, void *ctx);
/* Writes out what is buffered (streaming emitters). */
void rs_emitter_flush(rs_emitter *e);
void rs_emitter_free(rs_emitter *e);

void rs_emit_header(rs_emitter *e, const rs_gen_options *o);
/* counts: records per type in this stream; only types in o->types_mask are listed. */
void rs_emit_footer(rs_emitter *e, const rs_gen_options *o, const uint64_t counts[RS_NTYPES]);
/* Records of type t with ids lo..hi; for RS_HISTORY, lo..hi are opportunity
 * ids and the events of those opportunities are written, with global ids. */
void rs_emit_range(rs_emitter *e, rs_type t, uint64_t lo, uint64_t hi);

#endif
