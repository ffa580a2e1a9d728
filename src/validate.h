/* The invariant checker behind `revops-stream validate` (SPEC 5).
 *
 * A validator is fed one rs_record at a time, in stream order (territory, rep,
 * account, opportunity, history) or data.json order (reps, accounts,
 * opportunities, territories, history): territories may come anywhere, the
 * other types in that dependency order. It keeps a few bytes per record (ids,
 * 64-bit name fingerprints, dates as days, small indexes, per-account sums),
 * never strings, and evaluates what needs everything in rs_validator_finish.
 * A rule's "first offending" record is the smallest (type in stream order,
 * id); records are located by position, so when ids are not 1..n the other
 * rules are reported as if they were. */
#ifndef RS_VALIDATE_H
#define RS_VALIDATE_H

#include "record.h"

typedef struct rs_validator_config {
    const rs_settings *settings; /* kept by pointer: must outlive the validator */
    const rs_vocab *vocab;       /* likewise */
    /* RS_GIVEN_* bits (revops.h): the settings values that override a
     * stream header's (seed, counts, as-of); without its bit, the header's
     * value wins. */
    unsigned explicit_mask;
    bool lenient;                /* history coherence and formulas only warn */
} rs_validator_config;

/* Where a rule's first violation was seen. */
#define RS_VWHERE_HEADER (-1)

typedef struct rs_vresult {
    const char *rule; /* short stable name, e.g. "quota" */
    bool warning;     /* true when --lenient makes this rule a warning */
    uint64_t count;   /* violations; 0 when the rule holds */
    int type;         /* rs_type of the first offending record, or RS_VWHERE_HEADER */
    bool has_id;      /* false for rules about a whole type (pipeline-total) */
    int64_t id;
    char detail[200]; /* what is wrong with that record, one line */
} rs_vresult;

typedef struct rs_validator rs_validator;

int rs_validator_create(rs_validator **v, const rs_validator_config *cfg, rs_err *err);
/* Checks one record. Returns 0, or RS_EDATA when the input's structure makes
 * validation impossible (second header, record after the footer, types out of
 * dependency order) with a message without location, or RS_ENOMEM. */
int rs_validator_feed(rs_validator *v, const rs_record *rec, rs_err *err);
/* The same for one entity (as rs_record.entity), without copying a record. */
int rs_validator_feed_entity(rs_validator *v, const rs_entity *e, rs_err *err);
/* A hint that a record of type t will be fed soon: the field holding the
 * id it refers to (an account's rep, an opportunity's account; RS_MAX_FIELDS
 * for none), and rs_validator_prefetch starts loading that record's state,
 * which is anywhere in memory. Changes nothing. */
unsigned rs_validator_ref_field(rs_type t);
void rs_validator_prefetch(const rs_validator *v, rs_type t, int64_t id);
/* Evaluates the rules that need every record; call once, after the last feed. */
int rs_validator_finish(rs_validator *v, rs_err *err);
/* Every rule, in a fixed order, held or not (valid after finish). */
size_t rs_validator_nresults(const rs_validator *v);
const rs_vresult *rs_validator_result(const rs_validator *v, size_t i);
/* Looks a rule's result up by name; NULL if no such rule. */
const rs_vresult *rs_validator_find(const rs_validator *v, const char *rule);
/* Entity records fed so far. */
uint64_t rs_validator_records(const rs_validator *v);
/* Rules that failed (not counting warnings), and rules that only warned. */
size_t rs_validator_failed(const rs_validator *v);
size_t rs_validator_warned(const rs_validator *v);
/* Violations of every rule (warnings too) found so far: lets a caller stop
 * at the first one, before rs_validator_finish. */
uint64_t rs_validator_violations(const rs_validator *v);
/* About the memory a validator keeps for a data set of these counts (its
 * per-record state; history records keep none). UINT64_MAX on overflow. */
uint64_t rs_validator_bytes_for(uint64_t reps, uint64_t accounts, uint64_t opportunities);
void rs_validator_free(rs_validator *v);

#endif
