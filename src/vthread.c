/* A validator on its own thread (vthread.h). The producer fills one batch at
 * a time, copying each record into it in a compact form (a third of an
 * rs_entity: the copy crosses between cores, so its size is what costs) and
 * its strings into the batch's arena, as offsets (the arena may move while
 * it grows); the thread checks full batches in order and hands them back.
 * VTHREAD_BATCHES batches in all bound the memory. */
#include "vthread.h"
#include "bgthread.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Large enough that handing a batch over is cheap. */
#define VTHREAD_BATCH 1024
#define VTHREAD_BATCHES 8
/* A checker that ran out of batches sleeps until this many are queued:
 * waking it costs the producer a system call, so it is woken once for
 * several batches rather than for each (it is the faster side). */
#define VTHREAD_WAKE 4
#define VTHREAD_PREFETCH 8
/* A batch is handed over early once its arena holds this much, so that
 * string offsets fit in 32 bits (a record is at most 16 MiB). */
#define VTHREAD_ARENA_MAX (1u << 30)
/* Records in flight at most: each has a slot in the ring of holds. */
#define VTHREAD_RING (VTHREAD_BATCHES * VTHREAD_BATCH)
/* A string in the stable input (rs_vthread_stable): kind's top bit, and a
 * word of its offset there (40 bits: inputs up to 1 TiB) and its length
 * (24 bits: a line is at most 16 MiB). */
#define VREC_STABLE 0x80u
#define STABLE_LEN_BITS 24
#define STABLE_MAX_OFF (1ull << 40)

/* A record as the checker needs it: per field its kind and one word, the
 * value (integers, booleans) or the string's arena offset (high half) and
 * length (low half), or its place in the stable input (VREC_STABLE). */
typedef struct vrec {
    uint8_t type, nfields;
    uint8_t kind[RS_MAX_FIELDS];
    uint64_t val[RS_MAX_FIELDS];
} vrec;

typedef struct vbatch {
    vrec r[VTHREAD_BATCH];
    uint64_t line[VTHREAD_BATCH];
    size_t input[VTHREAD_BATCH];
    size_t n;
    char *arena;
    size_t alen, acap;
    const char *stable; /* the stable input its VREC_STABLE strings lie in */
    struct vbatch *next;
} vbatch;

struct rs_vthread {
    rs_validator *v;
    pthread_t th;
    bool started, joined;
    pthread_mutex_t mu;
    pthread_cond_t cv_full, cv_free;
    vbatch *free_list;       /* empty batches */
    vbatch *q_head, *q_tail; /* full batches, in order */
    size_t nq;               /* how many */
    vbatch *cur;             /* the producer's, being filled */
    bool done, cancel;       /* no more batches; stop at once */
    bool flush;              /* rs_vthread_sync waits: check what is queued */
    int stopped;             /* the thread stopped at a problem (atomic) */
    /* the problem */
    size_t p_input;
    uint64_t p_line;
    int p_rc;
    rs_err p_err;
    uint64_t seen; /* violations seen so far (warnings included) */
    /* The producer's, then the thread's, on cache lines of their own
     * (each is written on one core while the other reads nearby).
     * rs_vthread_stable: strings of one-line records are not copied but
     * read there, as long as the producer keeps what rs_vthread_hold says. */
    _Alignas(64) const char *stable;
    size_t stable_len;
    uint64_t fed;     /* records fed */
    size_t last_hold; /* the first byte the last record fed may read (or,
                         copied, the record before it); SIZE_MAX: none */
    _Alignas(64) uint64_t checked; /* records checked (atomic) */
    /* Per record fed (mod VTHREAD_RING): the first byte of the stable
     * input that it, or a record after it, may still read. */
    _Alignas(64) size_t ring[VTHREAD_RING];
    vbatch batches[VTHREAD_BATCHES];
};

/* The record back as an rs_entity, its strings in the batch's arena or in
 * the stable input. */
static void unpack(const char *stable, const vbatch *b, const vrec *r, rs_entity *e)
{
    e->type = (rs_type)r->type;
    e->nfields = r->nfields;
    for (unsigned k = 0; k < r->nfields; k++) {
        rs_value *v = &e->v[k];
        v->kind = (rs_vkind)(r->kind[k] & ~VREC_STABLE);
        v->i = 0;
        v->s = NULL;
        v->len = 0;
        if (r->kind[k] & VREC_STABLE) {
            v->s = stable + (r->val[k] >> STABLE_LEN_BITS);
            v->len = r->val[k] & ((1u << STABLE_LEN_BITS) - 1);
        } else if (v->kind == RS_VAL_STR) {
            v->s = b->arena + (r->val[k] >> 32);
            v->len = (uint32_t)r->val[k];
        } else {
            v->i = (int64_t)r->val[k];
        }
    }
}

/* Checks one batch in order; true when it stopped at a problem. */
static bool check_batch(rs_vthread *t, vbatch *b)
{
    rs_entity e;
    const char *stable = b->stable;
    for (size_t i = 0; i < b->n; i++) {
        /* The rep or account a record refers to is a cache miss away:
         * asked for a few records ahead, it is there in time. */
        if (i + VTHREAD_PREFETCH < b->n) {
            const vrec *ahead = &b->r[i + VTHREAD_PREFETCH];
            unsigned f = rs_validator_ref_field((rs_type)ahead->type);
            if (f < ahead->nfields && ahead->kind[f] == RS_VAL_INT)
                rs_validator_prefetch(t->v, (rs_type)ahead->type, (int64_t)ahead->val[f]);
        }
        unpack(stable, b, &b->r[i], &e);
        rs_err verr;
        int rc = rs_validator_feed_entity(t->v, &e, &verr);
        bool stop = rc != 0;
        if (!stop) {
            uint64_t nv = rs_validator_violations(t->v);
            /* A rule broken, not only warned about (--lenient). */
            if (nv > t->seen) {
                t->seen = nv;
                stop = rs_validator_failed(t->v) > 0;
            }
        }
        if (stop) {
            t->p_input = b->input[i];
            t->p_line = b->line[i];
            t->p_rc = rc;
            if (rc)
                t->p_err = verr;
            return true;
        }
    }
    return false;
}

static void *run(void *arg)
{
    rs_vthread *t = arg;
    rs_thread_background();
    for (;;) {
        pthread_mutex_lock(&t->mu);
        /* Drains the queue once awake. */
        if (!t->q_head)
            while (t->nq < VTHREAD_WAKE && !(t->flush && t->q_head) && !t->done && !t->cancel)
                pthread_cond_wait(&t->cv_full, &t->mu);
        if (t->cancel || !t->q_head) {
            pthread_mutex_unlock(&t->mu);
            return NULL;
        }
        vbatch *b = t->q_head;
        t->q_head = b->next;
        if (!t->q_head)
            t->q_tail = NULL;
        t->nq--;
        pthread_mutex_unlock(&t->mu);

        bool stop = check_batch(t, b);
        __atomic_add_fetch(&t->checked, b->n, __ATOMIC_RELEASE);

        pthread_mutex_lock(&t->mu);
        b->n = b->alen = 0;
        b->next = t->free_list;
        t->free_list = b;
        if (stop)
            __atomic_store_n(&t->stopped, 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&t->cv_free);
        pthread_mutex_unlock(&t->mu);
        if (stop)
            return NULL;
    }
}

int rs_vthread_start(rs_vthread **out, rs_validator *v, rs_err *err)
{
    rs_vthread *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    t->v = v;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv_full, NULL);
    pthread_cond_init(&t->cv_free, NULL);
    for (int i = 0; i < VTHREAD_BATCHES; i++) {
        t->batches[i].next = t->free_list;
        t->free_list = &t->batches[i];
    }
    if (pthread_create(&t->th, NULL, run, t) != 0) {
        rs_vthread_free(t);
        snprintf(err->msg, sizeof err->msg, "cannot start the checking thread");
        return RS_EIO;
    }
    t->started = true;
    *out = t;
    return 0;
}

static void push(rs_vthread *t, vbatch *b)
{
    pthread_mutex_lock(&t->mu);
    b->next = NULL;
    if (t->q_tail)
        t->q_tail->next = b;
    else
        t->q_head = b;
    t->q_tail = b;
    if (++t->nq >= VTHREAD_WAKE)
        pthread_cond_signal(&t->cv_full);
    pthread_mutex_unlock(&t->mu);
}

/* An empty batch, waiting while all are in flight; NULL once stopped. */
static vbatch *take(rs_vthread *t)
{
    pthread_mutex_lock(&t->mu);
    while (!t->free_list && !__atomic_load_n(&t->stopped, __ATOMIC_ACQUIRE))
        pthread_cond_wait(&t->cv_free, &t->mu);
    vbatch *b = NULL;
    if (!__atomic_load_n(&t->stopped, __ATOMIC_ACQUIRE)) {
        b = t->free_list;
        t->free_list = b->next;
    }
    pthread_mutex_unlock(&t->mu);
    return b;
}

/* Queues e with its strings as places in the stable input, if they all
 * lie there; false, and nothing queued, if not. */
static bool feed_stable(rs_vthread *t, vbatch *b, const rs_entity *e)
{
    vrec *c = &b->r[b->n];
    size_t lo = SIZE_MAX;
    for (unsigned k = 0; k < e->nfields; k++) {
        const rs_value *v = &e->v[k];
        c->kind[k] = (uint8_t)v->kind;
        if (v->kind != RS_VAL_STR) {
            c->val[k] = (uint64_t)v->i;
            continue;
        }
        size_t off = (size_t)((uintptr_t)v->s - (uintptr_t)t->stable);
        if ((uintptr_t)v->s < (uintptr_t)t->stable || off > t->stable_len || v->len > t->stable_len - off)
            return false;
        if (off >= STABLE_MAX_OFF) {
            /* Past what the encoding holds: copies from now on. */
            rs_vthread_stable(t, NULL, 0);
            return false;
        }
        c->kind[k] |= VREC_STABLE;
        c->val[k] = (uint64_t)off << STABLE_LEN_BITS | v->len;
        lo = off < lo ? off : lo;
    }
    c->type = (uint8_t)e->type;
    c->nfields = (uint8_t)e->nfields;
    b->stable = t->stable;
    if (lo != SIZE_MAX)
        t->last_hold = lo;
    return true;
}

void rs_vthread_stable(rs_vthread *t, const char *base, size_t len)
{
    t->stable = base;
    t->stable_len = len;
    /* Nothing read there yet; or, stable no more, nothing to come. */
    t->last_hold = base ? 0 : SIZE_MAX;
}

size_t rs_vthread_hold(const rs_vthread *t)
{
    uint64_t done = __atomic_load_n(&t->checked, __ATOMIC_ACQUIRE);
    /* Caught up: what the next record may read starts no earlier than
     * what the last one read. */
    return done < t->fed ? t->ring[done % VTHREAD_RING] : t->last_hold;
}

int rs_vthread_feed(rs_vthread *t, const rs_entity *e, bool one_line, size_t input, uint64_t line)
{
    if (__atomic_load_n(&t->stopped, __ATOMIC_ACQUIRE))
        return 1;
    if (!t->cur && !(t->cur = take(t)))
        return 1;
    vbatch *b = t->cur;
    if (one_line && t->stable && feed_stable(t, b, e))
        goto queued;
    /* A canonical line's strings lie in that line, in order and close
     * together: then one copy of their span is cheaper than one each.
     * Strings of other records may sit in separate allocations, and the
     * bytes between those are not ours to read. */
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    size_t need = 0;
    for (unsigned k = 0; k < e->nfields; k++) {
        const rs_value *v = &e->v[k];
        if (v->kind != RS_VAL_STR || !v->len)
            continue;
        if (v->len > UINT32_MAX)
            return RS_ENOMEM; /* cannot happen: records are at most 16 MiB */
        need += v->len;
        uintptr_t p = (uintptr_t)v->s;
        lo = p < lo ? p : lo;
        hi = p + v->len > hi ? p + v->len : hi;
    }
    bool span = one_line && need && hi - lo <= need + 256;
    if (span)
        need = hi - lo;
    if (b->alen + need > b->acap) {
        size_t cap = b->acap ? b->acap : 64 << 10;
        while (cap < b->alen + need)
            cap *= 2;
        char *grown = realloc(b->arena, cap);
        if (!grown)
            return RS_ENOMEM;
        b->arena = grown;
        b->acap = cap;
    }
    vrec *c = &b->r[b->n];
    c->type = (uint8_t)e->type;
    c->nfields = (uint8_t)e->nfields;
    if (span)
        memcpy(b->arena + b->alen, (const char *)lo, need);
    for (unsigned k = 0; k < e->nfields; k++) {
        const rs_value *v = &e->v[k];
        c->kind[k] = (uint8_t)v->kind;
        if (v->kind != RS_VAL_STR) {
            c->val[k] = (uint64_t)v->i;
            continue;
        }
        size_t off = b->alen;
        if (span) {
            if (v->len)
                off += (uintptr_t)v->s - lo;
        } else if (v->len) {
            memcpy(b->arena + b->alen, v->s, v->len);
            b->alen += v->len;
        }
        c->val[k] = (uint64_t)off << 32 | v->len;
    }
    if (span)
        b->alen += need;
queued:
    t->ring[t->fed++ % VTHREAD_RING] = t->last_hold;
    b->line[b->n] = line;
    b->input[b->n] = input;
    if (++b->n == VTHREAD_BATCH || b->alen >= VTHREAD_ARENA_MAX) {
        push(t, b);
        t->cur = NULL;
    }
    return 0;
}

void rs_vthread_sync(rs_vthread *t)
{
    if (!t || t->joined || !t->started)
        return;
    if (t->cur && t->cur->n) {
        push(t, t->cur);
        t->cur = NULL;
    }
    pthread_mutex_lock(&t->mu);
    t->flush = true;
    pthread_cond_signal(&t->cv_full);
    while (__atomic_load_n(&t->checked, __ATOMIC_ACQUIRE) < t->fed && !__atomic_load_n(&t->stopped, __ATOMIC_ACQUIRE))
        pthread_cond_wait(&t->cv_free, &t->mu);
    t->flush = false;
    pthread_mutex_unlock(&t->mu);
}

void rs_vthread_join(rs_vthread *t)
{
    if (!t || t->joined || !t->started)
        return;
    if (t->cur) {
        if (t->cur->n) {
            push(t, t->cur);
        } else {
            pthread_mutex_lock(&t->mu);
            t->cur->next = t->free_list;
            t->free_list = t->cur;
            pthread_mutex_unlock(&t->mu);
        }
        t->cur = NULL;
    }
    pthread_mutex_lock(&t->mu);
    t->done = true;
    pthread_cond_signal(&t->cv_full);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
    t->joined = true;
}

bool rs_vthread_problem(const rs_vthread *t, size_t *input, uint64_t *line, int *rc, rs_err *err)
{
    if (!__atomic_load_n(&t->stopped, __ATOMIC_ACQUIRE))
        return false;
    *input = t->p_input;
    *line = t->p_line;
    *rc = t->p_rc;
    if (t->p_rc)
        *err = t->p_err;
    return true;
}

void rs_vthread_free(rs_vthread *t)
{
    if (!t)
        return;
    if (t->started && !t->joined) {
        pthread_mutex_lock(&t->mu);
        t->cancel = true;
        pthread_cond_broadcast(&t->cv_full);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->th, NULL);
    }
    for (int i = 0; i < VTHREAD_BATCHES; i++)
        free(t->batches[i].arena);
    pthread_cond_destroy(&t->cv_full);
    pthread_cond_destroy(&t->cv_free);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
