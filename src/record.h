/* Reading records back: NDJSON streams and canonical data.json files.
 *
 * Both readers parse with yajl, check each record's shape against SPEC 2
 * (field names, order and JSON types) and hand out values in canonical field
 * order. Strings are unescaped UTF-8 and stay valid until the next call.
 * Errors fill rs_err with "FILE:LINE: problem" (data.json: FILE:LINE of the
 * byte where the problem was seen). */
#ifndef RS_RECORD_H
#define RS_RECORD_H

#include "revops/revops.h"
#include <stdio.h>

typedef enum rs_vkind { RS_VAL_NULL, RS_VAL_BOOL, RS_VAL_INT, RS_VAL_STR } rs_vkind;

typedef struct rs_value {
    rs_vkind kind;
    int64_t i; /* RS_VAL_INT value, or RS_VAL_BOOL 0/1 */
    const char *s; /* RS_VAL_STR: UTF-8, not NUL-terminated */
    size_t len;
} rs_value;

/* Field indexes per type, in canonical (SPEC 2) order. */
enum { RS_TER_ID, RS_TER_NAME, RS_TER_NFIELDS };
enum { RS_REP_ID, RS_REP_NAME, RS_REP_HOMESTATE, RS_REP_REGION, RS_REP_QUOTA, RS_REP_TERRITORYID, RS_REP_NFIELDS };
enum { RS_ACC_ID, RS_ACC_NAME, RS_ACC_ANNUALREVENUE, RS_ACC_NUMDEVELOPERS, RS_ACC_STATE, RS_ACC_INDUSTRY,
       RS_ACC_ISCUSTOMER, RS_ACC_INPIPELINE, RS_ACC_REPID, RS_ACC_TERRITORYID, RS_ACC_NFIELDS };
enum { RS_OPP_ID, RS_OPP_NAME, RS_OPP_AMOUNT, RS_OPP_STAGE, RS_OPP_CLOSEDATE, RS_OPP_REPID, RS_OPP_ACCOUNTID,
       RS_OPP_CREATED_DATE, RS_OPP_NFIELDS };
enum { RS_HIS_ID, RS_HIS_OPPORTUNITY_ID, RS_HIS_FIELD_NAME, RS_HIS_OLD_VALUE, RS_HIS_NEW_VALUE, RS_HIS_CHANGE_DATE,
       RS_HIS_NFIELDS };
#define RS_MAX_FIELDS 10

/* Field names of a type in canonical order, and their count. */
const char *const *rs_type_fields(rs_type t, unsigned *nfields);

typedef struct rs_entity {
    rs_type type;
    unsigned nfields;
    rs_value v[RS_MAX_FIELDS];
} rs_entity;

typedef struct rs_header {
    char schema[64];
    char generated_at[64];
    char generator[64];
    bool has_seed; /* false when the header says null (e.g. made by split) */
    uint64_t seed;
    bool has_as_of;
    int32_t as_of;
    char settings[64]; /* digest, "" when null */
    uint64_t counts[3]; /* reps, accounts, opportunities */
    bool has_counts;
    uint64_t shard_index, shard_count;
} rs_header;

typedef struct rs_footer {
    uint64_t records[RS_NTYPES];
    unsigned present_mask; /* bit (1u << type) for each type listed */
    uint64_t shard_index, shard_count;
} rs_footer;

typedef enum rs_rec_kind { RS_REC_HEADER, RS_REC_ENTITY, RS_REC_FOOTER } rs_rec_kind;

typedef struct rs_record {
    rs_rec_kind kind;
    rs_header header;
    rs_entity entity;
    rs_footer footer;
    uint64_t line; /* 1-based line number in its file */
    /* An entity from a canonical NDJSON line (the NDJSON reader says; false
     * from other readers): every string printable ASCII without '"' or
     * '\\', every other value's s and len its text in the line, and the
     * values in field order in one line. */
    bool canonical;
} rs_record;

/* ---- NDJSON stream reader ---- */
typedef struct rs_ndjson_reader rs_ndjson_reader;

/* Opens path ("-" = stdin). name is used in messages (path, or "<stdin>"). */
int rs_ndjson_open(rs_ndjson_reader **r, const char *path, rs_err *err);
/* Reads the next line: 1 and *rec filled, 0 at end of input, <0 on error.
 * Lines longer than 16 MiB, NUL bytes, invalid UTF-8 or JSON, unknown types
 * and missing/extra/mistyped/misordered fields are RS_EDATA errors. */
int rs_ndjson_next(rs_ndjson_reader *r, rs_record *rec, rs_err *err);
const char *rs_ndjson_name(const rs_ndjson_reader *r);
void rs_ndjson_close(rs_ndjson_reader *r);

/* ---- data.json reader (streaming, bounded memory) ---- */
typedef struct rs_djson_reader rs_djson_reader;

int rs_djson_open(rs_djson_reader **r, const char *path, rs_err *err);
/* Yields, in file order: one RS_REC_HEADER (schema and generated_at only;
 * has_seed/has_as_of/has_counts false), then one RS_REC_ENTITY per element of
 * reps, accounts, opportunities, territories, opportunity_history as they
 * appear. Returns 1, 0 at the end of the top-level object, <0 on error.
 * Top-level keys must be exactly the seven of SPEC 6, in that order. */
int rs_djson_next(rs_djson_reader *r, rs_record *rec, rs_err *err);
/* Rewinds to the start (the reader spools non-seekable input to a temp file
 * that it removes on close), for callers that need two passes. */
int rs_djson_rewind(rs_djson_reader *r, rs_err *err);
void rs_djson_close(rs_djson_reader *r);

#endif
