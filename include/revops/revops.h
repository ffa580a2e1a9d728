/* revops-stream public API: settings, vocabularies and the record generator.
 *
 * The library never prints and never exits. Functions that can fail return 0
 * on success or a negative rs_status, and fill a caller-provided rs_err with
 * one human-readable line (no program name, no newline) saying what is wrong. */
#ifndef REVOPS_REVOPS_H
#define REVOPS_REVOPS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define RS_VERSION "0.1.0"
#define RS_SCHEMA "revops-agent-skeleton"

typedef enum rs_status {
    RS_OK = 0,
    RS_EUSAGE = -2, /* bad option, setting or impossible configuration: exit 2 */
    RS_EIO = -3,    /* read/write failure: exit 1 */
    RS_EDATA = -4,  /* invalid input data: exit 1 */
    RS_ENOMEM = -5, /* out of memory: exit 1 */
    RS_EPIPE = -6,  /* downstream closed the pipe: exit 0 quietly */
} rs_status;

typedef struct rs_err {
    char msg[512];
} rs_err;

/* Record types in stream (dependency) order. */
typedef enum rs_type {
    RS_TERRITORY = 0,
    RS_REP,
    RS_ACCOUNT,
    RS_OPPORTUNITY,
    RS_HISTORY,
    RS_NTYPES
} rs_type;

/* Name of a type as it appears in the stream ("opportunity_history", ...). */
const char *rs_type_name(rs_type t);
/* Parses a type name; returns -1 if unknown. */
int rs_type_parse(const char *s, size_t len);

/* An inclusive date window in days since 1970-01-01, as written in the
 * settings (relative to the base as-of 2026-02-19; see rs_settings_window). */
typedef struct rs_window {
    int32_t start, end;
} rs_window;

#define RS_BASE_AS_OF 20503 /* 2026-02-19 in days since 1970-01-01 */

typedef struct rs_settings {
    uint64_t seed;
    uint64_t num_reps, num_accounts, num_opportunities;
    int32_t as_of; /* days since epoch */

    double pareto_alpha;
    double revenue_scale, revenue_cap;
    double rev_per_employee_min, rev_per_employee_max;
    double developer_pct_min, developer_pct_max;
    double is_customer_rate;
    char **products; /* owned, nproducts >= 2 */
    size_t nproducts;
    uint64_t opps_per_account_min, opps_per_account_max;
    int64_t tam_per_developer;
    double coverage_pct_min, coverage_pct_max;
    double amount_multiplier_min, amount_multiplier_max;
    rs_window recent_close, future_close, created, history_change;
    double recent_close_pct, missing_close_pct;
    /* Pipeline target/min/max: absolute when set as a number; otherwise a
     * per-opportunity amount (default 100000 / 90000 / 130000, or as set by
     * "X * NUM_OPPORTUNITIES") times NUM_OPPORTUNITIES. */
    int64_t pipeline_target, pipeline_min, pipeline_max;
    bool pipeline_explicit[3];
    int64_t pipeline_per_opp[3];
    int amount_retry_limit;
    double quota_multiplier;
    int64_t quota_min, quota_max;
    unsigned given; /* RS_GIVEN_* bits: set by rs_settings_set or a file */
} rs_settings;

/* Which of the data set's identity settings were given, not defaulted. */
enum {
    RS_GIVEN_SEED = 1u << 0,
    RS_GIVEN_REPS = 1u << 1,
    RS_GIVEN_ACCOUNTS = 1u << 2,
    RS_GIVEN_OPPORTUNITIES = 1u << 3,
    RS_GIVEN_AS_OF = 1u << 4,
};

/* Fills s with the defaults of SPEC 4. */
void rs_settings_init(rs_settings *s);
/* Frees what s owns (products). */
void rs_settings_free(rs_settings *s);
/* Sets one setting by its name (NUM_REPS, PARETO_ALPHA, RECENT_CLOSE_WINDOW,
 * SEED, AS_OF, ...) from its text: numbers (with '_' separators), strings
 * ("x" or 'x'), tuples ("a", "b"), and DateWindow(start="...", end="..."). */
int rs_settings_set(rs_settings *s, const char *name, const char *value, rs_err *err);
/* Applies a settings file: NAME = VALUE lines or a Python settings.py. */
int rs_settings_load_file(rs_settings *s, const char *path, rs_err *err);
/* Checks every setting alone and together (windows, pcts, feasibility). */
int rs_settings_check(const rs_settings *s, rs_err *err);
/* A window shifted by the days between as-of and 2026-02-19. */
rs_window rs_settings_window(const rs_settings *s, rs_window w);
/* Effective pipeline target/min/max (explicit or per-opportunity default). */
void rs_settings_pipeline(const rs_settings *s, int64_t *target, int64_t *min, int64_t *max);

/* A vocabulary token: raw UTF-8 and its JSON-escaped form (no quotes). */
typedef struct rs_token {
    char *text;
    size_t len;
    char *esc;
    size_t esc_len;
} rs_token;

typedef struct rs_list {
    rs_token *v;
    size_t n;
} rs_list;

typedef struct rs_vocab {
    rs_list first_names, last_names, nouns, suffixes;
    rs_list industries; /* deduplicated, in file order */
    rs_list stages;     /* deduplicated, sorted by byte (code point) order */
    rs_list regions;    /* region names, sorted */
    rs_list *region_states; /* region_states[r]: that region's states, sorted */
    rs_list states;         /* every state, sorted */
    uint32_t *state_region; /* state_region[i]: region index of states.v[i] */
} rs_vocab;

/* Loads the built-in vocabularies compiled into the binary. */
int rs_vocab_builtin(rs_vocab *v, rs_err *err);
/* Loads the built-ins, then replaces each kind for which DIR has a file
 * (first-names.txt, last-names.txt, nouns.txt, company-suffixes.txt,
 * industries.txt, stages.txt, regions.json). */
int rs_vocab_load_dir(rs_vocab *v, const char *dir, rs_err *err);
void rs_vocab_free(rs_vocab *v);
/* Index of a state name in v->states, or -1. */
long rs_vocab_state_index(const rs_vocab *v, const char *s, size_t len);

/* A 16-hex-digit digest of every effective setting and vocabulary. */
void rs_settings_digest(const rs_settings *s, const rs_vocab *v, char out[17]);

/* ---- generator ---- */

typedef struct rs_gen rs_gen;

/* Where generated bytes go: called with large chunks; returns 0 or a
 * negative rs_status (RS_EPIPE ends generation quietly). */
typedef int (*rs_write_fn)(void *ctx, const char *buf, size_t len);

typedef struct rs_gen_options {
    char generated_at[40]; /* ISO-8601 with microseconds and offset */
    unsigned types_mask;   /* bit (1u << rs_type) for each type emitted */
    uint64_t shard_index, shard_count; /* shard K of N, 1-based; 1/1 is everything */
    unsigned threads;      /* worker threads (>= 1); the bytes never depend on it */
    /* The write callback feeds a pipe read on another CPU, or copies into
     * a queue another thread drains. With threads > 1 (and no more than
     * the CPUs), each worker then writes the blocks it formatted itself, in
     * turn, while they are in its cache: 11-14% faster into a pipe, but
     * slower into files, sockets written directly and compressors. */
    bool sink_is_pipe;
} rs_gen_options;

/* Plans a data set: checks the settings, runs the analysis passes (amount
 * factor, territory pipelines) on `threads` threads. Keeps pointers to s and
 * v (caller keeps them alive). Returns RS_EUSAGE with a message for
 * impossible configurations. */
int rs_gen_create(rs_gen **g, const rs_settings *s, const rs_vocab *v, unsigned threads, rs_err *err);
/* rs_gen_create without the analysis passes (two sweeps over every
 * account, whatever the shard): their results come from a plan, the text
 * of a file rs_gen_plan wrote for the same settings and vocabularies. */
int rs_gen_create_planned(rs_gen **g, const rs_settings *s, const rs_vocab *v, unsigned threads, const char *plan,
                          size_t plan_len, rs_err *err);
/* The plan of g as one JSON line ending in a newline (malloc'd; NULL
 * without memory). */
char *rs_gen_plan(const rs_gen *g);
/* Writes the stream (header, the shard's records, footer) through write,
 * called from one thread at a time: the calling thread, or with threads > 1
 * the worker threads, in the stream's order. */
int rs_gen_run(rs_gen *g, const rs_gen_options *o, rs_write_fn write, void *ctx, rs_err *err);
/* The records of each type that rs_gen_run(g, o) writes for o's shard
 * (those of types left out of o->types_mask too), as its footer counts
 * them; known before anything is written. */
void rs_gen_counts(const rs_gen *g, const rs_gen_options *o, uint64_t counts[RS_NTYPES]);
void rs_gen_free(rs_gen *g);

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int32_t rs_date_days(int y, int m, int d);
/* Parses exactly YYYY-MM-DD (a real calendar date); returns 0 or -1. */
int rs_date_parse(const char *s, size_t len, int32_t *days);
/* Writes YYYY-MM-DD (10 bytes, no NUL). */
void rs_date_format(int32_t days, char out[10]);

#endif
