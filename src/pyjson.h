/* JSON text helpers shared by the record readers and writers.
 *
 * Writer: canonical data.json, byte for byte what Python writes with
 * json.dump(payload, f, indent=2) or json.dumps(payload) (ensure_ascii).
 * Spool: bytes kept in memory up to a budget, then in an unlinked temp file
 * (merge and split hold the territories there: they come first in one
 * format and fourth in the other).
 * Reader internals (used by ndjson_reader.c and djson_reader.c only): the text
 * checks yajl does not do, field tables with their JSON kinds, and the strict
 * field-order matcher. */
#ifndef RS_PYJSON_H
#define RS_PYJSON_H

#include "record.h"

/* ---- escaping ---- */

/* Most bytes rs_pyj_escape writes per input byte (a control character). */
#define RS_ESC_MAX_PER_BYTE 6

/* Escapes s[0..n) (valid UTF-8, as the readers guarantee) like Python's
 * ensure_ascii: '"' '\\' \n \r \t \b \f short, other bytes outside 0x20..0x7e
 * as \u00xx, non-ASCII as \uxxxx (surrogate pairs above U+FFFF), lowercase
 * hex. No quotes. dst needs RS_ESC_MAX_PER_BYTE * n bytes; returns bytes written. */
size_t rs_pyj_escape(char *dst, const char *s, size_t n);

/* Writes the decimal form of v into dst (at least 20 bytes); returns length. */
size_t rs_fmt_i64(char *dst, int64_t v);
size_t rs_fmt_u64(char *dst, uint64_t v);

/* ---- buffered data.json writer ----
 * Output goes through write(ctx, ...) in chunks of about 1 MiB. The first
 * failure is kept: every later call returns it, and err holds its message
 * (the sink's own message when it is an rs_out, see rs_pyj_init). */
typedef struct rs_pyj {
    rs_write_fn write;
    void *ctx;
    const rs_err *(*sink_err)(const void *ctx); /* may be NULL */
    char *buf;
    size_t len, cap;
    bool compact;
    uint64_t nelem; /* elements written since the last rs_pyj_array_begin */
    int status;
    rs_err err;
    /* "key": prefixes of the fields after "id", per type, for this mode */
    char keys[RS_NTYPES][RS_MAX_FIELDS][32];
    unsigned char keylen[RS_NTYPES][RS_MAX_FIELDS];
} rs_pyj;

/* sink_err, when not NULL, gives the message behind a failed write (e.g.
 * rs_out_last_error). Allocates the buffer: free with rs_pyj_free. */
int rs_pyj_init(rs_pyj *w, bool compact, rs_write_fn write, void *ctx,
                const rs_err *(*sink_err)(const void *ctx), rs_err *err);
void rs_pyj_free(rs_pyj *w);
/* `{` with the "schema" and "generated_at" members. */
int rs_pyj_begin(rs_pyj *w, const char *schema, size_t slen, const char *gen_at, size_t glen);
/* Opens the next top-level array: key is "reps", "accounts", ... */
int rs_pyj_array_begin(rs_pyj *w, const char *key);
/* One array element (with its leading separator) for an entity. */
int rs_pyj_entity(rs_pyj *w, const rs_entity *e);
/* The same bytes for an entity of a canonical NDJSON line (rs_record's
 * canonical): its strings need no escaping and its integers' text is at
 * s/len, so both are copied as they are. */
int rs_pyj_entity_canonical(rs_pyj *w, const rs_entity *e);
/* Appends count pre-formatted elements: the bytes another rs_pyj of the same
 * mode wrote for them, starting at its first element. */
int rs_pyj_raw_elements(rs_pyj *w, const char *p, size_t n, uint64_t count);
int rs_pyj_array_end(rs_pyj *w);
/* Closes the top-level object (no trailing newline). */
int rs_pyj_end(rs_pyj *w);
/* Hands every buffered byte to the sink. */
int rs_pyj_flush(rs_pyj *w);

/* ---- spool ---- */
typedef struct rs_spool {
    char *mem;
    size_t len, cap, budget;
    int fd; /* -1 until the budget is exceeded */
    uint64_t total;
    rs_err err;
} rs_spool;

void rs_spool_init(rs_spool *s, size_t budget);
/* rs_write_fn: appends bytes (ctx is the rs_spool). */
int rs_spool_write(void *ctx, const char *buf, size_t len);
/* The message of the last failed rs_spool_write (for rs_pyj_init). */
const rs_err *rs_spool_last_error(const void *ctx);
/* Hands every byte written so far, in order and in chunks, to fn. */
int rs_spool_replay(rs_spool *s, rs_write_fn fn, void *ctx, rs_err *err);
void rs_spool_free(rs_spool *s);

/* ---- reader tuning ---- */

/* Bytes the NDJSON reader asks for per read (4 KiB .. 256 KiB, the default):
 * smaller when many readers are open at once. Call before the first read. */
void rs_ndjson_set_chunk(rs_ndjson_reader *r, size_t chunk);
/* For a caller with one input and a spare core, from the second read on: a
 * plain regular file is parsed in its memory mapping, whose pages a thread
 * fills ahead (mapin.h: a file truncated meanwhile raises SIGBUS; one that
 * grows is read on from the mapping's end); a zstd file is read and decoded
 * on a thread of its own, a few MiB ahead of the parse; a pipe is read as
 * without. Errors are reported at the same lines as without. */
void rs_ndjson_read_ahead(rs_ndjson_reader *r);
/* Once the input is mapped (above): its bytes, readable until
 * rs_ndjson_close, and *len; the strings of a canonical record lie there.
 * NULL before that, and for input that is read. */
const char *rs_ndjson_mapped(const rs_ndjson_reader *r, size_t *len);
/* Keeps the mapped bytes from offset off on in memory, for another thread
 * that still reads them (rs_vthread_hold); SIZE_MAX lets them go. */
void rs_ndjson_hold(rs_ndjson_reader *r, size_t off);

/* ---- reader internals ---- */

/* JSON kinds a field accepts (bit set). */
enum {
    RS_K_NULL = 1u << 0,
    RS_K_BOOL = 1u << 1,
    RS_K_INT = 1u << 2,
    RS_K_STR = 1u << 3,
    RS_K_MAP = 1u << 4,
    RS_K_NONNEG = 1u << 5, /* with RS_K_INT: >= 0 (ids, counts) */
    RS_K_U64 = 1u << 6,    /* with RS_K_INT: 0..2^64-1, stored as its bits */
};

/* What a yajl callback delivered. */
typedef enum rs_jtok { RS_J_NULL, RS_J_BOOL, RS_J_NUMBER, RS_J_STR, RS_J_MAP, RS_J_ARRAY } rs_jtok;

/* Field table of a record kind: names and accepted kinds, canonical order. */
typedef struct rs_fields {
    const char *const *names;
    const unsigned *kinds;
    unsigned n;
} rs_fields;

const rs_fields *rs_entity_fields(rs_type t);

/* Matches key against f->names[*next] (strict order). On success returns the
 * field index and advances *next; otherwise -1 with "WHAT: problem" in msg.
 * With subset, fields may be skipped but not repeated or reordered. */
int rs_fields_key(const rs_fields *f, unsigned *next, bool subset, const char *key, size_t klen, const char *what,
                  char *msg, size_t msz);
/* Checks token tok against field i and converts it into *out: numbers arrive
 * as yajl's raw text (s, len), strings as (s, len) which the caller keeps
 * alive, booleans in b. Returns 0, or -1 with "WHAT: field \"F\": problem". */
int rs_fields_value(const rs_fields *f, unsigned i, rs_jtok tok, const char *s, size_t len, int b, rs_value *out,
                    const char *what, char *msg, size_t msz);
/* The message for a record that ended before field f->names[next]. */
void rs_fields_missing(const rs_fields *f, unsigned next, const char *what, char *msg, size_t msz);

/* Incremental check of JSON text for what yajl lets through: NUL bytes,
 * invalid UTF-8 (overlong forms, surrogates, > U+10FFFF) and \u escapes that
 * are not well-paired surrogates (yajl would decode them to garbage). */
typedef struct rs_jscan {
    unsigned need;      /* UTF-8 continuation bytes still expected */
    unsigned char lo, hi; /* allowed range of the next continuation byte */
    unsigned esc;       /* 0, 1 after '\\', 2..5 reading \u hex digits */
    unsigned cp;        /* \u code unit being read */
    unsigned want_low;  /* 1: a '\\' must follow a high surrogate, 2: a 'u', 3: its low digits */
} rs_jscan;

void rs_jscan_reset(rs_jscan *s);
/* Scans p[0..n); returns 0, or -1 with *bad the offset of the offending byte
 * and *problem a static description. */
int rs_jscan_feed(rs_jscan *s, const unsigned char *p, size_t n, size_t *bad, const char **problem);
/* At the end of a line/file: -1 with *problem if a sequence is incomplete. */
int rs_jscan_end(const rs_jscan *s, const char **problem);

/* The deepest nesting of objects and arrays in the JSON text s[0..n)
 * (strings skipped), counting no further than limit + 1: yajl's tree
 * frees itself recursively, so deep input must be refused before it is
 * built. */
unsigned rs_json_depth(const char *s, size_t n, unsigned limit);

/* Quotes a key or value for an error message: at most ~40 bytes, printable. */
void rs_quote_for_msg(char *dst, size_t dsz, const char *s, size_t n);

#endif
