/* The invariant checker (SPEC 5). Records arrive one at a time; each check
 * that needs only earlier records runs at once, the rest (territory names,
 * foreign keys into territories, quota, pipeline total, close-date counts,
 * unique names, counts) run in rs_validator_finish over the few bytes kept
 * per record. */
#include "validate.h"
#include "bgthread.h"
#include "rng.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DATE_NULL INT32_MIN
#define DATE_BAD (INT32_MIN + 1)
#define NO_INDEX UINT32_MAX
#define DATE_MEMO_BITS 12
/* Territory ids beyond this get no quota/region bookkeeping: a data set has
 * at most one territory per industry, so such ids fail other rules anyway. */
#define SLOT_CAP 65536

enum rule {
    R_SETTINGS,
    R_COUNTS,
    R_IDS,
    R_UNIQUE_NAMES,
    R_FOREIGN_KEYS,
    R_FIELD_TYPES,
    R_VOCABULARY,
    R_REGION_MAP,
    R_TERRITORY_NAMES,
    R_ACCOUNT_INDUSTRY,
    R_ACCOUNT_TERRITORY,
    R_ACCOUNT_STATE,
    R_OPPORTUNITY_REP,
    R_IN_PIPELINE,
    R_AMOUNT_INTEGER,
    R_AMOUNT_TAM,
    R_PIPELINE_TOTAL,
    R_CLOSE_DATE_COUNTS,
    R_CLOSE_DATE_WINDOWS,
    R_CREATED_DATE,
    R_DATES_AFTER_CREATED,
    R_HISTORY_WINDOW,
    R_QUOTA,
    R_HISTORY_COHERENCE,
    R_NRULES
};

/* formula: a rule that --lenient turns into a warning. */
static const struct {
    const char *name;
    bool formula;
} rule_info[R_NRULES] = {
    [R_SETTINGS] = {"settings", false},
    [R_COUNTS] = {"counts", false},
    [R_IDS] = {"ids", false},
    [R_UNIQUE_NAMES] = {"unique-names", false},
    [R_FOREIGN_KEYS] = {"foreign-keys", false},
    [R_FIELD_TYPES] = {"field-types", false},
    [R_VOCABULARY] = {"vocabulary", false},
    [R_REGION_MAP] = {"region-map", false},
    [R_TERRITORY_NAMES] = {"territory-names", false},
    [R_ACCOUNT_INDUSTRY] = {"account-industry", false},
    [R_ACCOUNT_TERRITORY] = {"account-territory", false},
    [R_ACCOUNT_STATE] = {"account-state", false},
    [R_OPPORTUNITY_REP] = {"opportunity-rep", false},
    [R_IN_PIPELINE] = {"in-pipeline", false},
    [R_AMOUNT_INTEGER] = {"amount-integer", false},
    [R_AMOUNT_TAM] = {"amount-tam", true},
    [R_PIPELINE_TOTAL] = {"pipeline-total", true},
    [R_CLOSE_DATE_COUNTS] = {"close-date-counts", true},
    [R_CLOSE_DATE_WINDOWS] = {"close-date-windows", false},
    [R_CREATED_DATE] = {"created-date", false},
    [R_DATES_AFTER_CREATED] = {"dates-after-created", false},
    [R_HISTORY_WINDOW] = {"history-window", false},
    [R_QUOTA] = {"quota", true},
    [R_HISTORY_COHERENCE] = {"history-coherence", true},
};

/* What is kept per record. */
typedef struct rep_st {
    int64_t quota;
    uint64_t state_id; /* homeState (vocab_id), for account.state */
    uint32_t tid;      /* 0: not a possible territory id */
} rep_st;

typedef struct acc_st {
    int64_t rep_id;
    int64_t tam_left; /* TAM minus the amounts seen so far (saturating) */
    uint32_t tid;
    uint32_t industry; /* vocabulary index or NO_INDEX */
    uint8_t in_pipeline, has_opp;
} acc_st;

typedef struct opp_st {
    int32_t created, close; /* days, DATE_NULL, DATE_BAD */
    uint32_t stage;         /* stage_key() */
    uint8_t hist_seen;
} opp_st;

/* Per territory id referenced by reps (index tid - 1). */
typedef struct tslot {
    __int128 pipeline;
    uint64_t nreps;
    uint64_t region_fp; /* region of its first rep */
} tslot;

typedef struct name_ref {
    uint64_t fp, pos;
} name_ref;

/* Repeated names of a type: how many, and the first repeat by position
 * with the position of the name it repeats. */
typedef struct name_dups {
    bool done;
    uint64_t count, pos, prev;
} name_dups;

/* A vocabulary list as an open-addressing table: a cheap hash of a
 * string's length and first and last bytes picks the slot, the text
 * decides. A list is chosen by the user, so a bad one costs its own
 * lookups at most a probe per entry. */
typedef struct vmap {
    uint32_t *slot; /* list index + 1; 0 is empty; a power of two, over 2n */
    size_t mask;
    const rs_list *list;
} vmap;

/* One field's chain of history events within the current opportunity. */
typedef struct chain {
    bool any;
    uint64_t prev_id;    /* stage: vocab_id of the previous event's new_value */
    uint32_t prev_key;   /* stage: its stage_key */
    int32_t prev_date;   /* closeDate: new_value of the previous event */
    int32_t last_change; /* change_date of the previous event */
    int64_t last_id;
} chain;

struct rs_validator {
    rs_settings eff; /* shallow copy of the caller's, with header values */
    const rs_vocab *vocab;
    unsigned explicit_mask;
    bool lenient;
    vmap industries, stages, states;

    bool have_header, have_footer, prepared, finished;
    bool counts_known[3];
    const char *counts_from[3];
    rs_footer footer;
    rs_window w_recent, w_future, w_created, w_history;
    int max_rank;
    uint64_t nrec[RS_NTYPES];
    uint64_t records;

    rep_st *reps;
    size_t cap_reps;
    acc_st *accs;
    size_t cap_accs;
    opp_st *opps;
    size_t cap_opps;
    uint32_t *ters; /* industry index per territory */
    size_t cap_ters;
    tslot *slots;
    size_t nslots, cap_slots;
    uint64_t *names[RS_HISTORY]; /* per named type: fingerprints by position */
    size_t cap_names[RS_HISTORY];
    name_dups dups[RS_HISTORY];
    /* Finds repeated names of reps, accounts and opportunities once history
     * begins (they are complete then), alongside the feeding. */
    pthread_t sorter;
    bool sorter_running;
    int sorter_rc;
    /* The sorter's run of check_reps, _accounts and _close_dates, on the
     * pre_nt territories of pre_ters: pre_clean if they found nothing. */
    bool pre_clean;
    uint64_t pre_nt;
    uint32_t *pre_ters;
    int64_t *ind_first_acc; /* per industry: first account id with it, 0 = none */
    __int128 total;
    uint64_t violations; /* of every rule, so far */

    bool hist_any;
    int64_t hist_last_id;
    int64_t grp; /* opportunity position of the current history group, -1: none */
    chain ch_stage, ch_close;

    rs_vresult res[R_NRULES];
    /* Valid dates parsed so far, by their text: a data set uses a few
     * hundred distinct days, and parsing was a tenth of the checking. */
    struct date_memo {
        uint64_t lo; /* the text's first 8 bytes */
        uint16_t hi; /* its last 2 */
        bool used;
        int32_t days;
    } dates[1u << DATE_MEMO_BITS];
};

/* ---- helpers ---- */

/* Fingerprints start from a key drawn once per process. The checks keep
 * only fingerprints of names, so two different names with one fingerprint
 * would read as a repeat; the steps below are invertible, so without the
 * key such a pair is found in moments and a valid file could be refused on
 * purpose. With it, a pair has a 2^-64 chance in any run, and nothing a
 * run reports depends on the key otherwise (repeats are reported by
 * position). */
static uint64_t fp_key;
static pthread_once_t fp_key_once = PTHREAD_ONCE_INIT;

static void fp_key_init(void)
{
    uint64_t k;
    if (getrandom(&k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        k = rs_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 48));
    }
    fp_key = k;
}

/* A 64-bit fingerprint of a string: one multiply and shift a word, a full
 * mix at the end (names are compared by fingerprint, so it is hot). */
static uint64_t fp64(const char *s, size_t n)
{
    uint64_t h = fp_key ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n)
        memcpy(&w, s, n);
    return rs_mix64(h ^ w ^ 0x13198a2e03707344ULL);
}

/* The hash of a vocabulary table: length, first and last eight bytes (or
 * fewer), one multiply. */
static size_t vhash(const char *s, size_t n)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        a = x;
        b = y;
    } else if (n > 0) {
        a = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << 8 |
            (uint64_t)(unsigned char)s[n - 1] << 16;
    }
    uint64_t h = (a ^ (b << 7 | b >> 57) ^ n) * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 32 ^ h);
}

static int vmap_build(vmap *m, const rs_list *list)
{
    size_t cap = 8;
    while (cap < 2 * list->n + 1)
        cap *= 2;
    m->list = list;
    m->mask = cap - 1;
    m->slot = calloc(cap, sizeof *m->slot);
    if (!m->slot)
        return RS_ENOMEM;
    for (size_t i = 0; i < list->n; i++) {
        size_t h = vhash(list->v[i].text, list->v[i].len) & m->mask;
        while (m->slot[h])
            h = (h + 1) & m->mask;
        m->slot[h] = (uint32_t)i + 1;
    }
    return 0;
}

/* Index of s in the list (its first entry, if repeated), or NO_INDEX. */
static uint32_t vmap_find(const vmap *m, const char *s, size_t n)
{
    for (size_t h = vhash(s, n) & m->mask; m->slot[h]; h = (h + 1) & m->mask) {
        const rs_token *t = &m->list->v[m->slot[h] - 1];
        if (t->len == n && (n == 0 || memcmp(t->text, s, n) == 0))
            return m->slot[h] - 1;
    }
    return NO_INDEX;
}

/* A value of a vocabulary, as a number that is equal exactly when the text
 * is: its index, or a fingerprint (top bit set) of text outside it. */
static uint64_t vocab_id(uint32_t i, const char *s, size_t n)
{
    return i != NO_INDEX ? i : fp64(s, n) | 1ull << 63;
}

/* A stage as a small key: its vocabulary index, or a hash of an unknown
 * stage (so two equal unknown stages still compare equal). */
static uint32_t stage_key_of(uint64_t id)
{
    return id < NO_INDEX ? (uint32_t)id : (0x80000000u | (uint32_t)(id >> 33));
}

static uint32_t stage_key(const rs_validator *v, const char *s, size_t n)
{
    return stage_key_of(vocab_id(vmap_find(&v->stages, s, n), s, n));
}

/* A short printable copy of untrusted text for a message. */
static const char *show(char out[64], const char *s, size_t n)
{
    size_t cut = n;
    if (n > 48) {
        cut = 45;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    size_t k = 0;
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (cut < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

static const char *show_date(char out[16], int32_t d)
{
    if (d == DATE_NULL)
        return "null";
    if (d == DATE_BAD)
        return "(invalid)";
    rs_date_format(d, out);
    out[10] = '\0';
    return out;
}

static void *grow_to(void *p, size_t *cap, size_t need, size_t elem)
{
    size_t nc = *cap ? *cap : 64;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / elem)
            return NULL;
        nc *= 2;
    }
    void *q = realloc(p, nc * elem);
    if (q)
        *cap = nc;
    return q;
}

#define RESERVE(arr, cap, need)                                      \
    do {                                                             \
        if ((need) > (cap)) {                                        \
            void *q_ = grow_to((arr), &(cap), (need), sizeof *(arr)); \
            if (!q_)                                                 \
                return nomem(err);                                   \
            (arr) = q_;                                              \
        }                                                            \
    } while (0)

static int nomem(rs_err *err)
{
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return RS_ENOMEM;
}

static int structure(rs_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int structure(rs_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return RS_EDATA;
}

static bool before(int ta, int64_t ia, int tb, int64_t ib)
{
    return ta < tb || (ta == tb && ia < ib);
}

static void vviolate(rs_validator *v, int rule, int type, bool has_id, int64_t id, uint64_t n, const char *fmt,
                     va_list ap)
{
    rs_vresult *r = &v->res[rule];
    uint64_t had = r->count;
    r->count += n;
    v->violations += n;
    if (had && !before(type, id, r->type, r->id))
        return;
    r->type = type;
    r->has_id = has_id;
    r->id = id;
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
}

/* Records a violation of rule by record (type, id). */
static void violate(rs_validator *v, int rule, int type, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void violate(rs_validator *v, int rule, int type, int64_t id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vviolate(v, rule, type, true, id, 1, fmt, ap);
    va_end(ap);
}

/* n violations at once, the first of them by record (type, id). */
static void violate_n(rs_validator *v, int rule, int type, int64_t id, uint64_t n, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void violate_n(rs_validator *v, int rule, int type, int64_t id, uint64_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vviolate(v, rule, type, true, id, n, fmt, ap);
    va_end(ap);
}

/* A violation by a whole type or the header rather than one record. */
static void violate_all(rs_validator *v, int rule, int type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void violate_all(rs_validator *v, int rule, int type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vviolate(v, rule, type, false, INT64_MIN, 1, fmt, ap);
    va_end(ap);
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Field accessors: the readers already check JSON types, so a wrong kind
 * here only comes from a hand-built record; it is reported, not trusted. */
static bool field_int(rs_validator *v, const rs_entity *e, unsigned f, int64_t id, int64_t *out)
{
    if (f < e->nfields && e->v[f].kind == RS_VAL_INT) {
        *out = e->v[f].i;
        return true;
    }
    *out = 0;
    violate(v, R_FIELD_TYPES, (int)e->type, id, "field %u is missing or not an integer", f);
    return false;
}

static bool field_str(rs_validator *v, const rs_entity *e, unsigned f, int64_t id, const char **s, size_t *n)
{
    if (f < e->nfields && e->v[f].kind == RS_VAL_STR) {
        *s = e->v[f].s ? e->v[f].s : "";
        *n = e->v[f].s ? e->v[f].len : 0;
        return true;
    }
    *s = "";
    *n = 0;
    violate(v, R_FIELD_TYPES, (int)e->type, id, "field %u is missing or not a string", f);
    return false;
}

static bool field_bool(rs_validator *v, const rs_entity *e, unsigned f, int64_t id, bool *out)
{
    if (f < e->nfields && e->v[f].kind == RS_VAL_BOOL) {
        *out = e->v[f].i != 0;
        return true;
    }
    *out = false;
    violate(v, R_FIELD_TYPES, (int)e->type, id, "field %u is missing or not a boolean", f);
    return false;
}

/* rs_date_parse, remembering the valid dates (what it returns depends on
 * the ten bytes alone). */
static int date_parse(rs_validator *v, const char *s, size_t n, int32_t *days)
{
    if (n != 10)
        return rs_date_parse(s, n, days);
    uint64_t lo;
    uint16_t hi;
    memcpy(&lo, s, 8);
    memcpy(&hi, s + 8, 2);
    struct date_memo *m = &v->dates[((lo ^ hi) * 0x9e3779b97f4a7c15ULL) >> (64 - DATE_MEMO_BITS)];
    if (m->used && m->lo == lo && m->hi == hi) {
        *days = m->days;
        return 0;
    }
    if (rs_date_parse(s, n, days) != 0)
        return -1;
    *m = (struct date_memo){.lo = lo, .hi = hi, .used = true, .days = *days};
    return 0;
}

/* A nullable date field: days, DATE_NULL, or DATE_BAD (reported). */
static int32_t field_date(rs_validator *v, const rs_entity *e, unsigned f, int64_t id, bool nullable,
                          const char *what)
{
    if (f < e->nfields && e->v[f].kind == RS_VAL_NULL && nullable)
        return DATE_NULL;
    int32_t d;
    if (f < e->nfields && e->v[f].kind == RS_VAL_STR && e->v[f].s && date_parse(v, e->v[f].s, e->v[f].len, &d) == 0)
        return d;
    char b[64];
    if (f < e->nfields && e->v[f].kind == RS_VAL_STR && e->v[f].s)
        violate(v, R_FIELD_TYPES, (int)e->type, id, "%s \"%s\" is not a date YYYY-MM-DD", what,
                show(b, e->v[f].s, e->v[f].len));
    else
        violate(v, R_FIELD_TYPES, (int)e->type, id, "%s is not a date string", what);
    return DATE_BAD;
}

static bool in_window(rs_window w, int32_t d)
{
    return d >= w.start && d <= w.end;
}

/* Checks id == position + 1 and remembers the name's fingerprint. */
static int common(rs_validator *v, const rs_entity *e, uint64_t pos, int64_t *id, rs_err *err)
{
    rs_type t = e->type;
    field_int(v, e, 0, (int64_t)pos + 1, id);
    if (*id != (int64_t)pos + 1)
        violate(v, R_IDS, (int)t, *id, "%s id %lld at position %llu (ids must run 1..n ascending)",
                rs_type_name(t), (long long)*id, (unsigned long long)pos + 1);
    const char *s;
    size_t n;
    if (field_str(v, e, 1, *id, &s, &n) && n == 0)
        violate(v, R_FIELD_TYPES, (int)t, *id, "empty name");
    RESERVE(v->names[t], v->cap_names[t], pos + 1);
    v->names[t][pos] = fp64(s, n);
    return 0;
}

static tslot *slot_of(rs_validator *v, uint32_t tid)
{
    return tid >= 1 && tid <= v->nslots ? &v->slots[tid - 1] : NULL;
}

static uint32_t tid_of(int64_t x)
{
    return x >= 1 && x <= (int64_t)UINT32_MAX ? (uint32_t)x : 0;
}

/* ---- per type ---- */

static int on_territory(rs_validator *v, const rs_entity *e, rs_err *err)
{
    uint64_t pos = v->nrec[RS_TERRITORY];
    int64_t id;
    int rc = common(v, e, pos, &id, err);
    if (rc)
        return rc;
    RESERVE(v->ters, v->cap_ters, pos + 1);
    const char *s;
    size_t n;
    field_str(v, e, RS_TER_NAME, id, &s, &n);
    static const char suffix[] = " Territory";
    size_t sl = sizeof suffix - 1;
    uint32_t ind = NO_INDEX;
    if (n > sl && memcmp(s + n - sl, suffix, sl) == 0)
        ind = vmap_find(&v->industries, s, n - sl);
    if (ind == NO_INDEX) {
        char b[64];
        violate(v, R_TERRITORY_NAMES, RS_TERRITORY, id,
                "name \"%s\" is not \"<industry> Territory\" for an industry of the vocabulary", show(b, s, n));
    }
    v->ters[pos] = ind;
    return 0;
}

static int on_rep(rs_validator *v, const rs_entity *e, rs_err *err)
{
    uint64_t pos = v->nrec[RS_REP];
    int64_t id, quota, tid;
    int rc = common(v, e, pos, &id, err);
    if (rc)
        return rc;
    RESERVE(v->reps, v->cap_reps, pos + 1);
    const char *st, *rg;
    size_t stn, rgn;
    field_str(v, e, RS_REP_HOMESTATE, id, &st, &stn);
    field_str(v, e, RS_REP_REGION, id, &rg, &rgn);
    field_int(v, e, RS_REP_QUOTA, id, &quota);
    field_int(v, e, RS_REP_TERRITORYID, id, &tid);
    rep_st *r = &v->reps[pos];
    r->quota = quota;
    uint32_t si = vmap_find(&v->states, st, stn);
    r->state_id = vocab_id(si, st, stn);
    r->tid = tid_of(tid);

    char b1[64], b2[64];
    if (si == NO_INDEX) {
        violate(v, R_REGION_MAP, RS_REP, id, "homeState \"%s\" is not in the region map", show(b1, st, stn));
    } else {
        const rs_token *want = &v->vocab->regions.v[v->vocab->state_region[si]];
        if (want->len != rgn || memcmp(want->text, rg, rgn) != 0)
            violate(v, R_REGION_MAP, RS_REP, id, "region \"%s\", but homeState %s is in %s", show(b1, rg, rgn),
                    show(b2, st, stn), want->text);
    }
    if (r->tid >= 1 && r->tid <= SLOT_CAP) {
        if (r->tid > v->nslots) {
            RESERVE(v->slots, v->cap_slots, r->tid);
            memset(v->slots + v->nslots, 0, (r->tid - v->nslots) * sizeof *v->slots);
            v->nslots = r->tid;
        }
        tslot *sl = &v->slots[r->tid - 1];
        uint64_t rfp = fp64(rg, rgn);
        if (sl->nreps++ == 0)
            sl->region_fp = rfp;
        else if (sl->region_fp != rfp)
            violate(v, R_REGION_MAP, RS_REP, id, "region \"%s\" differs from that of territory %u's other reps",
                    show(b1, rg, rgn), r->tid);
    }
    return 0;
}

static int on_account(rs_validator *v, const rs_entity *e, rs_err *err)
{
    uint64_t pos = v->nrec[RS_ACCOUNT];
    int64_t id, revenue, devs, rep_id, tid;
    int rc = common(v, e, pos, &id, err);
    if (rc)
        return rc;
    RESERVE(v->accs, v->cap_accs, pos + 1);
    const char *st, *ind;
    size_t stn, indn;
    bool is_customer, in_pipeline;
    field_int(v, e, RS_ACC_ANNUALREVENUE, id, &revenue);
    field_int(v, e, RS_ACC_NUMDEVELOPERS, id, &devs);
    field_str(v, e, RS_ACC_STATE, id, &st, &stn);
    field_str(v, e, RS_ACC_INDUSTRY, id, &ind, &indn);
    field_bool(v, e, RS_ACC_ISCUSTOMER, id, &is_customer);
    field_bool(v, e, RS_ACC_INPIPELINE, id, &in_pipeline);
    field_int(v, e, RS_ACC_REPID, id, &rep_id);
    field_int(v, e, RS_ACC_TERRITORYID, id, &tid);

    acc_st *a = &v->accs[pos];
    a->rep_id = rep_id;
    a->tid = tid_of(tid);
    a->in_pipeline = in_pipeline;
    a->has_opp = 0;
    int64_t tam;
    if (__builtin_mul_overflow(v->eff.tam_per_developer, devs, &tam))
        tam = devs > 0 ? INT64_MAX : INT64_MIN;
    a->tam_left = tam;

    char b[64];
    if (revenue < 0)
        violate(v, R_FIELD_TYPES, RS_ACCOUNT, id, "annualRevenue %lld is negative", (long long)revenue);
    if (devs < 1)
        violate(v, R_FIELD_TYPES, RS_ACCOUNT, id, "numDevelopers %lld is not positive", (long long)devs);
    a->industry = vmap_find(&v->industries, ind, indn);
    if (a->industry == NO_INDEX)
        violate(v, R_VOCABULARY, RS_ACCOUNT, id, "industry \"%s\" is not in the industries vocabulary",
                show(b, ind, indn));
    else if (v->ind_first_acc[a->industry] == 0)
        v->ind_first_acc[a->industry] = (int64_t)pos + 1;

    if (rep_id < 1 || (uint64_t)rep_id > v->nrec[RS_REP]) {
        violate(v, R_FOREIGN_KEYS, RS_ACCOUNT, id, "repId %lld is no rep", (long long)rep_id);
    } else {
        const rep_st *r = &v->reps[rep_id - 1];
        if (r->tid != a->tid)
            violate(v, R_ACCOUNT_TERRITORY, RS_ACCOUNT, id, "territoryId %lld, but its rep %lld is in territory %u",
                    (long long)tid, (long long)rep_id, r->tid);
        if (r->state_id != vocab_id(vmap_find(&v->states, st, stn), st, stn))
            violate(v, R_ACCOUNT_STATE, RS_ACCOUNT, id, "state \"%s\" is not the homeState of its rep %lld",
                    show(b, st, stn), (long long)rep_id);
    }
    return 0;
}

static int on_opportunity(rs_validator *v, const rs_entity *e, rs_err *err)
{
    uint64_t pos = v->nrec[RS_OPPORTUNITY];
    int64_t id, amount, rep_id, acc_id;
    int rc = common(v, e, pos, &id, err);
    if (rc)
        return rc;
    RESERVE(v->opps, v->cap_opps, pos + 1);
    const char *stage;
    size_t stagen;
    field_int(v, e, RS_OPP_AMOUNT, id, &amount);
    field_str(v, e, RS_OPP_STAGE, id, &stage, &stagen);
    int32_t close = field_date(v, e, RS_OPP_CLOSEDATE, id, true, "closeDate");
    field_int(v, e, RS_OPP_REPID, id, &rep_id);
    field_int(v, e, RS_OPP_ACCOUNTID, id, &acc_id);
    int32_t created = field_date(v, e, RS_OPP_CREATED_DATE, id, false, "created_date");

    opp_st *o = &v->opps[pos];
    o->created = created;
    o->close = close;
    o->stage = stage_key(v, stage, stagen);
    o->hist_seen = 0;

    char b[64], d1[16], d2[16];
    if (amount < 0)
        violate(v, R_AMOUNT_INTEGER, RS_OPPORTUNITY, id, "amount %lld is negative", (long long)amount);
    if (o->stage & 0x80000000u)
        violate(v, R_VOCABULARY, RS_OPPORTUNITY, id, "stage \"%s\" is not in the stages vocabulary",
                show(b, stage, stagen));
    if (created != DATE_BAD &&
        (!in_window(v->w_created, created) || created > v->eff.as_of - 1))
        violate(v, R_CREATED_DATE, RS_OPPORTUNITY, id,
                "created_date %s is outside the created window %s..%s or not before as-of", show_date(d1, created),
                show_date(d2, v->w_created.start), show_date(b, v->w_created.end));
    if (close != DATE_NULL && close != DATE_BAD) {
        if (!in_window(v->w_recent, close) && !in_window(v->w_future, close))
            violate(v, R_CLOSE_DATE_WINDOWS, RS_OPPORTUNITY, id,
                    "closeDate %s is in neither the recent nor the future close window", show_date(d1, close));
        if (created != DATE_BAD && close < created)
            violate(v, R_DATES_AFTER_CREATED, RS_OPPORTUNITY, id, "closeDate %s is before created_date %s",
                    show_date(d1, close), show_date(d2, created));
    }

    bool rep_ok = rep_id >= 1 && (uint64_t)rep_id <= v->nrec[RS_REP];
    bool acc_ok = acc_id >= 1 && (uint64_t)acc_id <= v->nrec[RS_ACCOUNT];
    if (!rep_ok)
        violate(v, R_FOREIGN_KEYS, RS_OPPORTUNITY, id, "repId %lld is no rep", (long long)rep_id);
    if (!acc_ok)
        violate(v, R_FOREIGN_KEYS, RS_OPPORTUNITY, id, "accountId %lld is no account", (long long)acc_id);
    if (acc_ok) {
        acc_st *a = &v->accs[acc_id - 1];
        if (rep_ok && a->rep_id != rep_id)
            violate(v, R_OPPORTUNITY_REP, RS_OPPORTUNITY, id, "repId %lld, but its account %lld is owned by rep %lld",
                    (long long)rep_id, (long long)acc_id, (long long)a->rep_id);
        a->has_opp = 1;
        a->tam_left = sat_add(a->tam_left, amount == INT64_MIN ? INT64_MAX : -amount);
        tslot *sl = slot_of(v, a->tid);
        if (sl)
            sl->pipeline += amount;
    }
    v->total += amount;
    return 0;
}

/* Checks the end of a history group: each chain ends at the current value. */
static void end_group(rs_validator *v)
{
    if (v->grp < 0)
        return;
    const opp_st *o = &v->opps[v->grp];
    int64_t oid = v->grp + 1;
    char d1[16], d2[16];
    if (v->ch_stage.any && v->ch_stage.prev_key != o->stage)
        violate(v, R_HISTORY_COHERENCE, RS_HISTORY, v->ch_stage.last_id,
                "last stage change of opportunity %lld does not end at its current stage", (long long)oid);
    if (v->ch_close.any && v->ch_close.prev_date != DATE_BAD && v->ch_close.prev_date != o->close)
        violate(v, R_HISTORY_COHERENCE, RS_HISTORY, v->ch_close.last_id,
                "last closeDate change of opportunity %lld ends at %s, but its closeDate is %s", (long long)oid,
                show_date(d1, v->ch_close.prev_date), show_date(d2, o->close));
    v->grp = -1;
}

static void on_stage_event(rs_validator *v, const rs_entity *e, int64_t id, int32_t change)
{
    const rs_value *ov = &e->v[RS_HIS_OLD_VALUE], *nv = &e->v[RS_HIS_NEW_VALUE];
    chain *c = &v->ch_stage;
    char b1[64], b2[64];
    bool old_str = ov->kind == RS_VAL_STR && ov->s, new_str = nv->kind == RS_VAL_STR && nv->s;
    if (!new_str) {
        violate(v, R_FIELD_TYPES, RS_HISTORY, id, "stage new_value is not a string");
        return;
    }
    if (ov->kind != RS_VAL_NULL && !old_str) {
        violate(v, R_FIELD_TYPES, RS_HISTORY, id, "stage old_value is not a string");
        return;
    }
    uint32_t oi = old_str ? vmap_find(&v->stages, ov->s, ov->len) : NO_INDEX;
    uint32_t ni = vmap_find(&v->stages, nv->s, nv->len);
    uint64_t oid = old_str ? vocab_id(oi, ov->s, ov->len) : 0, nid = vocab_id(ni, nv->s, nv->len);
    if (old_str && oi == NO_INDEX)
        violate(v, R_VOCABULARY, RS_HISTORY, id, "old_value \"%s\" is not in the stages vocabulary",
                show(b1, ov->s, ov->len));
    if (ni == NO_INDEX)
        violate(v, R_VOCABULARY, RS_HISTORY, id, "new_value \"%s\" is not in the stages vocabulary",
                show(b1, nv->s, nv->len));
    if (!old_str) {
        violate(v, R_HISTORY_COHERENCE, RS_HISTORY, id, "stage old_value is null");
    } else {
        size_t m = ov->len < nv->len ? ov->len : nv->len;
        int cmp = m ? memcmp(ov->s, nv->s, m) : 0;
        if (cmp > 0 || (cmp == 0 && ov->len >= nv->len))
            violate(v, R_HISTORY_COHERENCE, RS_HISTORY, id, "stage moves from \"%s\" back or sideways to \"%s\"",
                    show(b1, ov->s, ov->len), show(b2, nv->s, nv->len));
        if (c->any && oid != c->prev_id)
            violate(v, R_HISTORY_COHERENCE, RS_HISTORY, id, "stage old_value \"%s\" is not the previous new_value",
                    show(b1, ov->s, ov->len));
    }
    if (c->any && change != DATE_BAD && c->last_change != DATE_BAD && change < c->last_change)
        violate(v, R_HISTORY_COHERENCE, RS_HISTORY, id, "stage change_date goes back in time");
    c->any = true;
    c->prev_id = nid;
    c->prev_key = stage_key_of(nid);
    c->last_change = change;
    c->last_id = id;
}

static void on_close_event(rs_validator *v, const rs_entity *e, int64_t id, int32_t change, int32_t created)
{
    chain *c = &v->ch_close;
    char d1[16], d2[16];
    int32_t old = field_date(v, e, RS_HIS_OLD_VALUE, id, true, "closeDate old_value");
    int32_t nw;
    if (e->v[RS_HIS_NEW_VALUE].kind == RS_VAL_NULL) {
        violate(v, R_HISTORY_COHERENCE, RS_HISTORY, id, "closeDate new_value is null");
        nw = DATE_NULL;
    } else {
        nw = field_date(v, e, RS_HIS_NEW_VALUE, id, false, "closeDate new_value");
    }
    if (created != DATE_BAD) {
        if (old != DATE_NULL && old != DATE_BAD && old < created)
            violate(v, R_DATES_AFTER_CREATED, RS_HISTORY, id, "old_value %s is before created_date %s",
                    show_date(d1, old), show_date(d2, created));
        if (nw != DATE_NULL && nw != DATE_BAD && nw < created)
            violate(v, R_DATES_AFTER_CREATED, RS_HISTORY, id, "new_value %s is before created_date %s",
                    show_date(d1, nw), show_date(d2, created));
    }
    if (c->any && old != DATE_BAD && c->prev_date != DATE_BAD && old != c->prev_date)
        violate(v, R_HISTORY_COHERENCE, RS_HISTORY, id, "closeDate old_value %s is not the previous new_value %s",
                show_date(d1, old), show_date(d2, c->prev_date));
    if (c->any && change != DATE_BAD && c->last_change != DATE_BAD && change < c->last_change)
        violate(v, R_HISTORY_COHERENCE, RS_HISTORY, id, "closeDate change_date goes back in time");
    c->any = true;
    c->prev_date = nw;
    c->last_change = change;
    c->last_id = id;
}

static int on_history(rs_validator *v, const rs_entity *e, rs_err *err)
{
    (void)err;
    int64_t id, opp_id;
    field_int(v, e, RS_HIS_ID, 0, &id);
    if (id < 1 || (v->hist_any && id <= v->hist_last_id))
        violate(v, R_IDS, RS_HISTORY, id, "history id %lld after %lld (ids must be unique and ascending)",
                (long long)id, (long long)(v->hist_any ? v->hist_last_id : 0));
    v->hist_any = true;
    v->hist_last_id = id;

    field_int(v, e, RS_HIS_OPPORTUNITY_ID, id, &opp_id);
    const char *fname;
    size_t fn;
    field_str(v, e, RS_HIS_FIELD_NAME, id, &fname, &fn);
    int32_t change = field_date(v, e, RS_HIS_CHANGE_DATE, id, false, "change_date");
    char b[64], d1[16], d2[16];
    if (change != DATE_BAD && !in_window(v->w_history, change))
        violate(v, R_HISTORY_WINDOW, RS_HISTORY, id, "change_date %s is outside the history window %s..%s",
                show_date(d1, change), show_date(d2, v->w_history.start), show_date(b, v->w_history.end));
    if (e->nfields != RS_HIS_NFIELDS) {
        violate(v, R_FIELD_TYPES, RS_HISTORY, id, "%u fields, expected %u", e->nfields, (unsigned)RS_HIS_NFIELDS);
        return 0;
    }
    if (opp_id < 1 || (uint64_t)opp_id > v->nrec[RS_OPPORTUNITY]) {
        violate(v, R_FOREIGN_KEYS, RS_HISTORY, id, "opportunity_id %lld is no opportunity", (long long)opp_id);
        return 0;
    }
    int64_t pos = opp_id - 1;
    opp_st *o = &v->opps[pos];
    if (pos != v->grp) {
        end_group(v);
        if (o->hist_seen)
            violate(v, R_HISTORY_COHERENCE, RS_HISTORY, id,
                    "events of opportunity %lld are not consecutive", (long long)opp_id);
        o->hist_seen = 1;
        v->grp = pos;
        memset(&v->ch_stage, 0, sizeof v->ch_stage);
        memset(&v->ch_close, 0, sizeof v->ch_close);
    }
    if (change != DATE_BAD && o->created != DATE_BAD && change < o->created)
        violate(v, R_DATES_AFTER_CREATED, RS_HISTORY, id, "change_date %s is before created_date %s",
                show_date(d1, change), show_date(d2, o->created));
    if (fn == 5 && memcmp(fname, "stage", 5) == 0)
        on_stage_event(v, e, id, change);
    else if (fn == 9 && memcmp(fname, "closeDate", 9) == 0)
        on_close_event(v, e, id, change, o->created);
    else
        violate(v, R_FIELD_TYPES, RS_HISTORY, id, "field_name \"%s\" is neither stage nor closeDate",
                show(b, fname, fn));
    return 0;
}

/* Fixes the windows once the header (if any) has said what as-of is. */
static void prepare(rs_validator *v)
{
    if (v->prepared)
        return;
    v->prepared = true;
    v->w_recent = rs_settings_window(&v->eff, v->eff.recent_close);
    v->w_future = rs_settings_window(&v->eff, v->eff.future_close);
    v->w_created = rs_settings_window(&v->eff, v->eff.created);
    v->w_history = rs_settings_window(&v->eff, v->eff.history_change);
}

static int on_header(rs_validator *v, const rs_header *h, rs_err *err)
{
    if (v->have_header)
        return structure(err, "a second header");
    if (v->records || v->have_footer)
        return structure(err, "a header after records");
    v->have_header = true;
    if (h->shard_count > 1)
        return structure(err, "header of shard %llu of %llu: validate checks a whole data set (merge the shards first)",
                         (unsigned long long)h->shard_index, (unsigned long long)h->shard_count);
    if (strcmp(h->schema, RS_SCHEMA) != 0) {
        char b[64];
        violate_all(v, R_FIELD_TYPES, RS_VWHERE_HEADER, "schema \"%s\", expected \"%s\"",
                    show(b, h->schema, strlen(h->schema)), RS_SCHEMA);
    }
    /* hs: the settings the header claims, for its digest. */
    rs_settings hs = v->eff;
    char d1[16], d2[16];
    if (h->has_seed) {
        hs.seed = h->seed;
        if (!(v->explicit_mask & RS_GIVEN_SEED))
            v->eff.seed = h->seed;
        else if (v->eff.seed != h->seed)
            violate_all(v, R_SETTINGS, RS_VWHERE_HEADER, "header seed %llu, but --seed %llu was given",
                        (unsigned long long)h->seed, (unsigned long long)v->eff.seed);
    }
    if (h->has_as_of) {
        hs.as_of = h->as_of;
        if (!(v->explicit_mask & RS_GIVEN_AS_OF))
            v->eff.as_of = h->as_of;
        else if (v->eff.as_of != h->as_of)
            violate_all(v, R_SETTINGS, RS_VWHERE_HEADER, "header as_of %s, but --as-of %s was given",
                        show_date(d1, h->as_of), show_date(d2, v->eff.as_of));
    }
    if (h->has_counts) {
        uint64_t *hc[3] = {&hs.num_reps, &hs.num_accounts, &hs.num_opportunities};
        uint64_t *ec[3] = {&v->eff.num_reps, &v->eff.num_accounts, &v->eff.num_opportunities};
        for (int i = 0; i < 3; i++) {
            *hc[i] = h->counts[i];
            if (!(v->explicit_mask & (RS_GIVEN_REPS << i))) {
                *ec[i] = h->counts[i];
                v->counts_known[i] = true;
                v->counts_from[i] = "the header";
            }
        }
    }
    if (h->settings[0]) {
        char d[17];
        rs_settings_digest(&hs, v->vocab, d);
        if (strcmp(d, h->settings) != 0) {
            char b[64];
            violate_all(v, R_SETTINGS, RS_VWHERE_HEADER,
                        "header digest %s, but the given settings and vocabularies give %s "
                        "(pass generate's --set/--settings/--vocab)",
                        show(b, h->settings, strlen(h->settings)), d);
        }
    }
    return 0;
}

int rs_validator_feed(rs_validator *v, const rs_record *rec, rs_err *err)
{
    if (v->finished)
        return structure(err, "record after the end");
    if (rec->kind == RS_REC_HEADER)
        return on_header(v, &rec->header, err);
    if (v->have_footer)
        return structure(err, "%s after the footer", rec->kind == RS_REC_FOOTER ? "a second footer" : "a record");
    if (rec->kind == RS_REC_FOOTER) {
        v->have_footer = true;
        v->footer = rec->footer;
        return 0;
    }
    return rs_validator_feed_entity(v, &rec->entity, err);
}

unsigned rs_validator_ref_field(rs_type t)
{
    return t == RS_ACCOUNT ? RS_ACC_REPID : t == RS_OPPORTUNITY ? RS_OPP_ACCOUNTID : RS_MAX_FIELDS;
}

void rs_validator_prefetch(const rs_validator *v, rs_type t, int64_t id)
{
    if (t == RS_ACCOUNT && id >= 1 && (uint64_t)id <= v->nrec[RS_REP])
        __builtin_prefetch(&v->reps[id - 1]);
    else if (t == RS_OPPORTUNITY && id >= 1 && (uint64_t)id <= v->nrec[RS_ACCOUNT])
        __builtin_prefetch(&v->accs[id - 1], 1);
}

static void start_sorter(rs_validator *v);

int rs_validator_feed_entity(rs_validator *v, const rs_entity *e, rs_err *err)
{
    if (v->finished)
        return structure(err, "record after the end");
    if (v->have_footer)
        return structure(err, "a record after the footer");
    if ((unsigned)e->type >= RS_NTYPES)
        return structure(err, "unknown record type");
    /* Territories may come first (stream) or after opportunities (data.json);
     * the other types only in dependency order. */
    int rank = e->type == RS_TERRITORY ? 0 : (int)e->type;
    if (rank && rank < v->max_rank)
        return structure(err, "%s record after %s records (types must come in dependency order)",
                         rs_type_name(e->type), rs_type_name((rs_type)v->max_rank));
    if (rank > v->max_rank) {
        v->max_rank = rank;
        if (rank == RS_HISTORY)
            start_sorter(v);
    }
    prepare(v);
    int rc = 0;
    switch (e->type) {
    case RS_TERRITORY:
        rc = on_territory(v, e, err);
        break;
    case RS_REP:
        rc = on_rep(v, e, err);
        break;
    case RS_ACCOUNT:
        rc = on_account(v, e, err);
        break;
    case RS_OPPORTUNITY:
        rc = on_opportunity(v, e, err);
        break;
    default:
        rc = on_history(v, e, err);
        break;
    }
    if (rc)
        return rc;
    v->nrec[e->type]++;
    v->records++;
    return 0;
}

/* ---- finish ---- */

static int finish_territories(rs_validator *v, rs_err *err)
{
    uint64_t nt = v->nrec[RS_TERRITORY];
    size_t nind = v->vocab->industries.n;
    int64_t *claimed = calloc(nind ? nind : 1, sizeof *claimed); /* territory id per industry */
    if (!claimed)
        return nomem(err);
    char b[64];
    for (uint64_t i = 0; i < nt; i++) {
        uint32_t ind = v->ters[i];
        if (ind == NO_INDEX)
            continue;
        const rs_token *t = &v->vocab->industries.v[ind];
        if (claimed[ind])
            violate(v, R_TERRITORY_NAMES, RS_TERRITORY, (int64_t)i + 1,
                    "a second territory for industry \"%s\" (first: territory %lld)", show(b, t->text, t->len),
                    (long long)claimed[ind]);
        else
            claimed[ind] = (int64_t)i + 1;
        if (!v->ind_first_acc[ind])
            violate(v, R_TERRITORY_NAMES, RS_TERRITORY, (int64_t)i + 1, "no account has industry \"%s\"",
                    show(b, t->text, t->len));
    }
    for (size_t ind = 0; ind < nind; ind++)
        if (v->ind_first_acc[ind] && !claimed[ind])
            violate(v, R_TERRITORY_NAMES, RS_ACCOUNT, v->ind_first_acc[ind], "no territory for industry \"%s\"",
                    show(b, v->vocab->industries.v[ind].text, v->vocab->industries.v[ind].len));
    free(claimed);
    return 0;
}

/* The end-of-input checks of reps, accounts and close dates (check_*)
 * read only what is final once history begins, except the territories,
 * which may still come: given nt territories, report false, they say
 * whether anything is wrong without reporting it. */
static bool check_reps(rs_validator *v, uint64_t nt, bool report)
{
    const rs_settings *s = &v->eff;
    for (uint64_t i = 0; i < v->nrec[RS_REP]; i++) {
        const rep_st *r = &v->reps[i];
        int64_t id = (int64_t)i + 1;
        if (r->tid < 1 || r->tid > nt) {
            if (!report)
                return true;
            violate(v, R_FOREIGN_KEYS, RS_REP, id, "territoryId is no territory");
            continue;
        }
        const tslot *sl = slot_of(v, r->tid);
        if (!sl)
            continue;
        /* Python's round(multiplier * pipeline / reps), then the clamp. */
        double q = nearbyint(s->quota_multiplier * (double)sl->pipeline / (double)sl->nreps);
        int64_t want;
        if (!(q >= (double)s->quota_min))
            want = s->quota_min;
        else if (q > (double)s->quota_max)
            want = s->quota_max;
        else
            want = (int64_t)q;
        if (r->quota != want) {
            if (!report)
                return true;
            violate(v, R_QUOTA, RS_REP, id, "quota %lld, expected %lld (territory %u: pipeline %.0f, %llu reps)",
                    (long long)r->quota, (long long)want, r->tid, (double)sl->pipeline,
                    (unsigned long long)sl->nreps);
        }
    }
    return false;
}

/* ters: the industry of each of the nt territories. */
static bool check_accounts(rs_validator *v, const uint32_t *ters, uint64_t nt, bool report)
{
    for (uint64_t i = 0; i < v->nrec[RS_ACCOUNT]; i++) {
        const acc_st *a = &v->accs[i];
        int64_t id = (int64_t)i + 1;
        bool bad_tid = a->tid < 1 || a->tid > nt;
        bool bad_ind = !bad_tid && a->industry != NO_INDEX && ters[a->tid - 1] != a->industry;
        if (!report && (bad_tid || bad_ind || a->in_pipeline != a->has_opp || a->tam_left < 0))
            return true;
        if (bad_tid)
            violate(v, R_FOREIGN_KEYS, RS_ACCOUNT, id, "territoryId is no territory");
        else if (bad_ind)
            violate(v, R_ACCOUNT_INDUSTRY, RS_ACCOUNT, id, "territory %u is not the territory of its industry",
                    a->tid);
        if (a->in_pipeline != a->has_opp)
            violate(v, R_IN_PIPELINE, RS_ACCOUNT, id, "inPipeline is %s, but it has %s opportunities",
                    a->in_pipeline ? "true" : "false", a->has_opp ? "some" : "no");
        if (a->tam_left < 0)
            violate(v, R_AMOUNT_TAM, RS_ACCOUNT, id, "its amounts exceed TAM_PER_DEVELOPER * numDevelopers by %lld",
                    (long long)(a->tam_left == INT64_MIN ? INT64_MAX : -a->tam_left));
    }
    return false;
}

static bool check_close_dates(rs_validator *v, bool report)
{
    uint64_t n = v->nrec[RS_OPPORTUNITY];
    uint64_t want[3];
    want[0] = (uint64_t)((double)n * v->eff.missing_close_pct);
    want[1] = (uint64_t)((double)n * v->eff.recent_close_pct);
    want[2] = want[0] + want[1] <= n ? n - want[0] - want[1] : 0;
    uint64_t have[3] = {0, 0, 0};
    int64_t first_excess = 0, first_other = 0;
    for (uint64_t i = 0; i < n; i++) {
        int32_t d = v->opps[i].close;
        int cat = d == DATE_NULL ? 0 : d == DATE_BAD ? 3 : in_window(v->w_recent, d) ? 1 : in_window(v->w_future, d) ? 2 : 3;
        if (cat == 3) {
            if (!first_other)
                first_other = (int64_t)i + 1;
            continue;
        }
        if (++have[cat] > want[cat] && !first_excess)
            first_excess = (int64_t)i + 1;
    }
    uint64_t excess = 0, lack = 0;
    for (int c = 0; c < 3; c++) {
        excess += have[c] > want[c] ? have[c] - want[c] : 0;
        lack += have[c] < want[c] ? want[c] - have[c] : 0;
    }
    if (!excess && !lack)
        return false;
    if (!report)
        return true;
    int64_t id = first_excess ? first_excess : first_other;
    uint64_t count = excess ? excess : lack;
    violate_n(v, R_CLOSE_DATE_COUNTS, RS_OPPORTUNITY, id, count,
                "%llu null (expected %llu), %llu recent (expected %llu), %llu future (expected %llu)",
                (unsigned long long)have[0], (unsigned long long)want[0], (unsigned long long)have[1],
                (unsigned long long)want[1], (unsigned long long)have[2], (unsigned long long)want[2]);
    return true;
}

static void finish_pipeline(rs_validator *v)
{
    rs_settings s = v->eff;
    s.num_opportunities = v->nrec[RS_OPPORTUNITY];
    int64_t target, lo, hi;
    rs_settings_pipeline(&s, &target, &lo, &hi);
    if (v->total < lo || v->total > hi)
        violate_all(v, R_PIPELINE_TOTAL, RS_OPPORTUNITY, "total amount %.0f is outside [%lld, %lld]",
                    (double)v->total, (long long)lo, (long long)hi);
}

static bool name_less(const name_ref *x, const name_ref *y)
{
    return x->fp < y->fp || (x->fp == y->fp && x->pos < y->pos);
}

/* Sorts a by (fingerprint, position) in place: for the rare bucket too
 * large for a hash table (skewed fingerprints), without more memory. */
static void heap_sort_names(name_ref *a, uint64_t n)
{
    for (uint64_t end = n, k = n / 2;;) {
        uint64_t root;
        if (k > 0) {
            root = --k; /* building the heap */
        } else {
            if (--end == 0)
                return;
            name_ref t = a[0]; /* the largest to the end */
            a[0] = a[end];
            a[end] = t;
            root = 0;
        }
        name_ref x = a[root];
        for (uint64_t c; (c = 2 * root + 1) < end; root = c) {
            if (c + 1 < end && name_less(&a[c], &a[c + 1]))
                c++;
            if (!name_less(&x, &a[c]))
                break;
            a[root] = a[c];
        }
        a[root] = x;
    }
}

/* A repeat of the name at prev by the one at pos; the first by position is
 * the one reported. */
static void note_dup(name_dups *d, uint64_t pos, uint64_t prev)
{
    if (!d->count++ || pos < d->pos) {
        d->pos = pos;
        d->prev = prev;
    }
}

/* Buckets of names by the top bits of their fingerprints: about 500 names
 * each for a million, so each is checked in cache. */
#define DUP_TOP_BITS 11
/* A bucket up to this size is checked with a hash table of twice as many
 * slots; a larger one (only with skewed fingerprints) is radix sorted. */
#define DUP_SMALL 4096

/* Repeats within b[0..n), which is in position order: a name repeats the
 * latest earlier one with its fingerprint, as a sort by (fingerprint,
 * position) would pair them. slot: room for 2 * DUP_SMALL indexes. */
static void dups_in_bucket(const name_ref *b, uint64_t n, uint32_t *slot, name_dups *d)
{
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    size_t mask = size - 1;
    memset(slot, 0xff, size * sizeof *slot);
    for (uint32_t i = 0; i < n; i++) {
        /* The low bits: the top ones are the same in the whole bucket. */
        for (size_t h = (size_t)b[i].fp & mask;; h = (h + 1) & mask) {
            uint32_t j = slot[h];
            if (j == UINT32_MAX || b[j].fp == b[i].fp) {
                if (j != UINT32_MAX)
                    note_dup(d, b[i].pos, b[j].pos);
                slot[h] = i;
                break;
            }
        }
    }
}

/* Finds the repeated names of type t: counts the names whose fingerprint an
 * earlier one has, keeps the first such (by position) with the latest one
 * it repeats, and frees the names. Names are spread into buckets by the top
 * bits of their fingerprints (stable: each bucket stays in position order),
 * then each bucket is checked in cache. Touches nothing but names[t] and
 * dups[t]. Returns 0 or RS_ENOMEM. */
static int find_dups(rs_validator *v, int t)
{
    uint64_t n = v->nrec[t];
    name_dups *d = &v->dups[t];
    if (n >= 2) {
        const uint64_t *a = v->names[t];
        name_ref *tmp = NULL;
        uint32_t *slot = malloc(2 * DUP_SMALL * sizeof *slot);
        if (n > SIZE_MAX / sizeof *tmp || !slot || !(tmp = malloc((size_t)n * sizeof *tmp))) {
            free(slot);
            return RS_ENOMEM;
        }
        const unsigned shift = 64 - DUP_TOP_BITS;
        uint64_t start[(1u << DUP_TOP_BITS) + 1], next[1u << DUP_TOP_BITS];
        memset(start, 0, sizeof start);
        for (uint64_t i = 0; i < n; i++)
            start[(a[i] >> shift) + 1]++;
        for (uint64_t k = 1; k <= 1u << DUP_TOP_BITS; k++)
            start[k] += start[k - 1];
        memcpy(next, start, sizeof next);
        for (uint64_t i = 0; i < n; i++)
            tmp[next[a[i] >> shift]++] = (name_ref){a[i], i};
        for (uint64_t k = 0; k < 1u << DUP_TOP_BITS; k++) {
            name_ref *b = tmp + start[k];
            uint64_t bn = start[k + 1] - start[k];
            if (bn < 2)
                continue;
            if (bn <= DUP_SMALL) {
                dups_in_bucket(b, bn, slot, d);
                continue;
            }
            heap_sort_names(b, bn);
            for (uint64_t i = 1; i < bn; i++)
                if (b[i].fp == b[i - 1].fp)
                    note_dup(d, b[i].pos, b[i - 1].pos);
        }
        free(tmp);
        free(slot);
    }
    /* Not needed again; freed early, as the next type's copy comes. */
    free(v->names[t]);
    v->names[t] = NULL;
    v->cap_names[t] = 0;
    d->done = true;
    return 0;
}

static void *sorter_main(void *arg)
{
    rs_validator *v = arg;
    rs_thread_background();
    for (int t = RS_REP; t <= RS_OPPORTUNITY && !v->sorter_rc; t++)
        v->sorter_rc = find_dups(v, t);
    if (v->pre_ters || !v->pre_nt)
        v->pre_clean = !check_reps(v, v->pre_nt, false) && !check_accounts(v, v->pre_ters, v->pre_nt, false) &&
                       !check_close_dates(v, false);
    return NULL;
}

/* At the first history record no rep, account or opportunity may follow
 * (dependency order), so their names are final: checking them now, on the
 * side, takes that work out of rs_validator_finish, which would otherwise
 * hold up the end of a merge. Until it is joined, the helper alone touches
 * names[] and dups[] of those three types (territories may still come;
 * they are checked at the end). Its findings are reported by finish, as if
 * found there. Without a thread, finish does it all as before. */
static void start_sorter(rs_validator *v)
{
    if (v->sorter_running)
        return;
    v->sorter_rc = 0;
    /* The end-of-input checks of reps, accounts and close dates too, on
     * the territories so far (their own copy: more may still come). */
    v->pre_clean = false;
    v->pre_nt = v->nrec[RS_TERRITORY];
    free(v->pre_ters);
    v->pre_ters = v->pre_nt ? malloc(v->pre_nt * sizeof *v->pre_ters) : NULL;
    if (v->pre_ters)
        memcpy(v->pre_ters, v->ters, v->pre_nt * sizeof *v->pre_ters);
    v->sorter_running = pthread_create(&v->sorter, NULL, sorter_main, v) == 0;
}

static int join_sorter(rs_validator *v)
{
    if (!v->sorter_running)
        return 0;
    pthread_join(v->sorter, NULL);
    v->sorter_running = false;
    return v->sorter_rc;
}

static int finish_names(rs_validator *v, rs_err *err)
{
    join_sorter(v);
    if (v->sorter_rc)
        return nomem(err);
    for (int t = 0; t < RS_HISTORY; t++) {
        if (!v->dups[t].done && find_dups(v, t))
            return nomem(err);
        const name_dups *d = &v->dups[t];
        if (d->count)
            violate_n(v, R_UNIQUE_NAMES, t, (int64_t)d->pos + 1, d->count, "its name repeats that of %s %llu",
                      rs_type_name((rs_type)t), (unsigned long long)d->prev + 1);
    }
    return 0;
}

static void count_mismatch(rs_validator *v, rs_type t, uint64_t want, const char *from)
{
    uint64_t have = v->nrec[t];
    if (have == want)
        return;
    uint64_t first = (have < want ? have : want) + 1;
    violate(v, R_COUNTS, (int)t, (int64_t)first, "%llu %s records, but %s says %llu", (unsigned long long)have,
            rs_type_name(t), from, (unsigned long long)want);
}

static void finish_counts(rs_validator *v)
{
    const uint64_t want[3] = {v->eff.num_reps, v->eff.num_accounts, v->eff.num_opportunities};
    const rs_type types[3] = {RS_REP, RS_ACCOUNT, RS_OPPORTUNITY};
    for (int i = 0; i < 3; i++)
        if (v->counts_known[i])
            count_mismatch(v, types[i], want[i], v->counts_from[i]);
    if (v->have_footer)
        for (int t = 0; t < RS_NTYPES; t++)
            if (v->footer.present_mask & (1u << t))
                count_mismatch(v, (rs_type)t, v->footer.records[t], "the footer");
}

int rs_validator_finish(rs_validator *v, rs_err *err)
{
    if (v->finished)
        return 0;
    prepare(v);
    end_group(v);
    int rc = finish_territories(v, err);
    if (rc)
        return rc;
    /* Nothing to report if the sorter found nothing, on these territories. */
    join_sorter(v);
    if (!v->pre_clean || v->pre_nt != v->nrec[RS_TERRITORY]) {
        check_reps(v, v->nrec[RS_TERRITORY], true);
        check_accounts(v, v->ters, v->nrec[RS_TERRITORY], true);
        check_close_dates(v, true);
    }
    finish_pipeline(v);
    if ((rc = finish_names(v, err)))
        return rc;
    finish_counts(v);
    v->finished = true;
    return 0;
}

/* ---- life cycle and results ---- */

int rs_validator_create(rs_validator **out, const rs_validator_config *cfg, rs_err *err)
{
    pthread_once(&fp_key_once, fp_key_init);
    rs_validator *v = calloc(1, sizeof *v);
    if (!v)
        return nomem(err);
    v->eff = *cfg->settings;
    v->vocab = cfg->vocab;
    v->explicit_mask = cfg->explicit_mask;
    v->lenient = cfg->lenient;
    v->grp = -1;
    static const unsigned bits[3] = {RS_GIVEN_REPS, RS_GIVEN_ACCOUNTS, RS_GIVEN_OPPORTUNITIES};
    for (int i = 0; i < 3; i++) {
        v->counts_known[i] = (cfg->explicit_mask & bits[i]) != 0;
        v->counts_from[i] = "the settings";
    }
    for (int r = 0; r < R_NRULES; r++) {
        v->res[r].rule = rule_info[r].name;
        v->res[r].warning = cfg->lenient && rule_info[r].formula;
    }
    size_t nind = cfg->vocab->industries.n;
    v->ind_first_acc = calloc(nind ? nind : 1, sizeof *v->ind_first_acc);
    if (!v->ind_first_acc || vmap_build(&v->industries, &cfg->vocab->industries) ||
        vmap_build(&v->stages, &cfg->vocab->stages) || vmap_build(&v->states, &cfg->vocab->states)) {
        rs_validator_free(v);
        return nomem(err);
    }
    *out = v;
    return 0;
}

void rs_validator_free(rs_validator *v)
{
    if (!v)
        return;
    join_sorter(v); /* it may still be sorting when feeding failed */
    free(v->reps);
    free(v->accs);
    free(v->opps);
    free(v->ters);
    free(v->slots);
    for (int t = 0; t < RS_HISTORY; t++)
        free(v->names[t]);
    free(v->ind_first_acc);
    free(v->pre_ters);
    free(v->industries.slot);
    free(v->stages.slot);
    free(v->states.slot);
    free(v);
}

size_t rs_validator_nresults(const rs_validator *v)
{
    (void)v;
    return R_NRULES;
}

const rs_vresult *rs_validator_result(const rs_validator *v, size_t i)
{
    return i < R_NRULES ? &v->res[i] : NULL;
}

const rs_vresult *rs_validator_find(const rs_validator *v, const char *rule)
{
    for (int r = 0; r < R_NRULES; r++)
        if (strcmp(rule_info[r].name, rule) == 0)
            return &v->res[r];
    return NULL;
}

uint64_t rs_validator_records(const rs_validator *v)
{
    return v->records;
}

size_t rs_validator_failed(const rs_validator *v)
{
    size_t n = 0;
    for (int r = 0; r < R_NRULES; r++)
        n += v->res[r].count && !v->res[r].warning;
    return n;
}

size_t rs_validator_warned(const rs_validator *v)
{
    size_t n = 0;
    for (int r = 0; r < R_NRULES; r++)
        n += v->res[r].count && v->res[r].warning;
    return n;
}

uint64_t rs_validator_violations(const rs_validator *v)
{
    return v->violations;
}

uint64_t rs_validator_bytes_for(uint64_t reps, uint64_t accounts, uint64_t opportunities)
{
    /* Saturating: counts come from untrusted headers. */
    const uint64_t per[3] = {sizeof(rep_st) + sizeof(uint64_t), sizeof(acc_st) + sizeof(uint64_t),
                             sizeof(opp_st) + sizeof(uint64_t)};
    const uint64_t n[3] = {reps, accounts, opportunities};
    /* Repeated names are found through (fingerprint, position) pairs of
     * one type at a time, the largest at most. */
    uint64_t most = reps > accounts ? reps : accounts;
    most = most > opportunities ? most : opportunities;
    if (most > UINT64_MAX / sizeof(name_ref) / 2)
        return UINT64_MAX;
    uint64_t total = most * sizeof(name_ref) + 2 * DUP_SMALL * sizeof(uint32_t);
    for (int i = 0; i < 3; i++) {
        if (n[i] > (UINT64_MAX - total) / per[i])
            return UINT64_MAX;
        total += n[i] * per[i];
    }
    return total;
}
