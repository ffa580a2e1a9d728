/* Runs a planned data set into a stream: the shard's id range of each type.
 * One thread formats each type's range in one go and writes it in 1 MiB
 * chunks; more threads cut the ranges into fixed-size blocks, which workers
 * format into their own buffers and write out in block order (the worker
 * that finishes the block due, or into a pipe each its own, in turn).
 * Blocks do not depend on the thread count, so neither do the bytes. */
#include "emit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Ids per block: about 200-500 KiB of output, so a few blocks per thread in
 * flight stay within the memory bound. History blocks count opportunities. */
static const uint64_t block_ids[RS_NTYPES] = {1024, 2048, 1024, 1024, 512};

typedef struct segment {
    rs_type type;
    uint64_t lo, hi;   /* ids of this stream (for history: opportunity ids) */
    uint64_t nblocks;
} segment;

typedef struct plan {
    segment seg[RS_NTYPES];
    unsigned nseg;
    uint64_t nblocks;
} plan;

/* Block b as (type, lo, hi). */
static void block_at(const plan *p, uint64_t b, rs_type *t, uint64_t *lo, uint64_t *hi)
{
    unsigned i = 0;
    while (b >= p->seg[i].nblocks)
        b -= p->seg[i++].nblocks;
    const segment *s = &p->seg[i];
    *t = s->type;
    *lo = s->lo + b * block_ids[s->type];
    *hi = *lo + block_ids[s->type] - 1;
    if (*hi > s->hi)
        *hi = s->hi;
}

/* The shard's ranges and per-type record counts (known before writing). */
static void plan_shard(const rs_gen *g, const rs_gen_options *o, plan *p, uint64_t counts[RS_NTYPES])
{
    uint64_t n[RS_NTYPES] = {g->T, g->R, g->A, g->N, g->N};
    memset(p, 0, sizeof *p);
    for (int t = 0; t < RS_NTYPES; t++) {
        uint64_t lo, hi;
        if (t == RS_TERRITORY) { /* all in shard 1 */
            lo = 1;
            hi = o->shard_index == 1 ? g->T : 0;
        } else {
            rs_gen_part_range(n[t], o->shard_index, o->shard_count, &lo, &hi);
        }
        counts[t] = hi >= lo ? hi - lo + 1 : 0;
        if (t == RS_HISTORY)
            counts[t] = rs_model_history_before(g, hi) - rs_model_history_before(g, lo - 1);
        if (!(o->types_mask & (1u << t)) || hi < lo)
            continue;
        segment *s = &p->seg[p->nseg++];
        s->type = (rs_type)t;
        s->lo = lo;
        s->hi = hi;
        s->nblocks = (hi - lo) / block_ids[t] + 1;
        p->nblocks += s->nblocks;
    }
}

/* ---- workers ---- */

typedef struct slot {
    rs_emitter e;
    uint64_t block; /* which block it holds */
    int state;      /* 0 free, 1 being formatted, 2 ready */
    pthread_cond_t turn; /* its block is due (own_writes) */
} slot;

typedef struct pool {
    const rs_gen *g;
    const plan *p;
    rs_write_fn write;
    void *ctx;
    slot *slots;
    unsigned nslots;
    uint64_t next_block; /* next to hand to a worker */
    uint64_t next_write; /* next to be written */
    bool writing;        /* a worker is writing blocks out */
    bool own_writes;     /* each worker writes the blocks it formatted */
    bool stop;
    int rc;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
} pool;

static void fail_locked(pool *pl, int rc)
{
    if (!pl->rc)
        pl->rc = rc;
    pl->stop = true;
    pthread_cond_broadcast(&pl->work);
    pthread_cond_broadcast(&pl->done);
    for (unsigned i = 0; pl->slots && i < pl->nslots; i++)
        pthread_cond_broadcast(&pl->slots[i].turn);
}

/* Called with the lock held by the worker that just finished a block: if
 * no one is writing, it writes every ready block from next_write on, in
 * order, and returns when the next one is not ready yet. A block that
 * becomes ready meanwhile is seen by the writer's next check, so none waits
 * for a wake-up. With own_writes it writes its own block only, and wakes
 * the worker of the next one, which waits for its turn (worker()). */
static void write_ready(pool *pl)
{
    if (pl->writing)
        return;
    pl->writing = true;
    while (!pl->stop && pl->next_write < pl->p->nblocks) {
        slot *s = &pl->slots[pl->next_write % pl->nslots];
        if (!(s->state == 2 && s->block == pl->next_write))
            break;
        pthread_mutex_unlock(&pl->mu);
        int rc = pl->write(pl->ctx, s->e.buf, s->e.len);
        pthread_mutex_lock(&pl->mu);
        if (rc) {
            fail_locked(pl, rc);
            break;
        }
        s->state = 0;
        pl->next_write++;
        pthread_cond_broadcast(&pl->work);
        if (pl->next_write == pl->p->nblocks)
            pthread_cond_broadcast(&pl->done);
        if (pl->own_writes) {
            pthread_cond_signal(&pl->slots[pl->next_write % pl->nslots].turn);
            break;
        }
    }
    pl->writing = false;
}

static void *worker(void *arg)
{
    pool *pl = arg;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        /* A block may start only when its slot has been written out. */
        while (!pl->stop && pl->next_block < pl->p->nblocks && pl->next_block >= pl->next_write + pl->nslots)
            pthread_cond_wait(&pl->work, &pl->mu);
        if (pl->stop || pl->next_block >= pl->p->nblocks)
            break;
        uint64_t b = pl->next_block++;
        slot *s = &pl->slots[b % pl->nslots];
        s->block = b;
        s->state = 1;
        pthread_mutex_unlock(&pl->mu);

        rs_type t;
        uint64_t lo, hi;
        block_at(pl->p, b, &t, &lo, &hi);
        /* Formatted through a copy on this thread's stack: the slots lie
         * side by side, and the emitter's length, stored per record, would
         * otherwise share a cache line with another worker's (false
         * sharing: -j 2 took 22% more CPU time than -j 1). */
        rs_emitter e = s->e;
        e.len = 0;
        rs_emit_range(&e, t, lo, hi);

        pthread_mutex_lock(&pl->mu);
        s->e = e;
        s->state = 2;
        if (s->e.rc) {
            fail_locked(pl, s->e.rc);
            continue;
        }
        /* own_writes: this worker writes its block itself when its turn
         * comes, from its own cache. Into a pipe that made both copies
         * cheaper (`-j 2 | cat`: the writer's system time 1.7 -> 1.4 s,
         * cat's 1.7 -> 1.1 s, wall 3.5 -> 3.0 s); into a file on tmpfs
         * the hand-over of every block cost more than that, so pipes only
         * (sink_is_pipe), and only while every worker has a CPU: a worker
         * whose block is due but who waits for a CPU would hold up all
         * the others. */
        while (pl->own_writes && !pl->stop && pl->next_write != b)
            pthread_cond_wait(&s->turn, &pl->mu);
        write_ready(pl);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

static int run_threads(const rs_gen *g, const plan *p, const rs_gen_options *o, rs_write_fn write, void *ctx)
{
    pool pl;
    memset(&pl, 0, sizeof pl);
    pl.g = g;
    pl.p = p;
    pl.write = write;
    pl.ctx = ctx;
    unsigned threads = o->threads;
    pl.nslots = 2 * threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    pl.own_writes = o->sink_is_pipe && cpus > 0 && threads <= (unsigned long)cpus;
    pl.slots = calloc(pl.nslots, sizeof *pl.slots);
    pthread_t *tids = calloc(threads, sizeof *tids);
    int rc = pl.slots && tids ? 0 : RS_ENOMEM;
    for (unsigned i = 0; i < pl.nslots && !rc; i++)
        rc = rs_emitter_init(&pl.slots[i].e, g, NULL, NULL);
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.work, NULL);
    pthread_cond_init(&pl.done, NULL);
    for (unsigned i = 0; pl.slots && i < pl.nslots; i++)
        pthread_cond_init(&pl.slots[i].turn, NULL);
    unsigned started = 0;
    for (; started < threads && !rc; started++)
        if (pthread_create(&tids[started], NULL, worker, &pl) != 0)
            break;
    if (!rc && started == 0)
        rc = RS_ENOMEM;

    /* The workers write the blocks themselves; this thread waits for the last. */
    pthread_mutex_lock(&pl.mu);
    if (rc)
        fail_locked(&pl, rc);
    while (!pl.stop && pl.next_write < p->nblocks)
        pthread_cond_wait(&pl.done, &pl.mu);
    if (!rc)
        rc = pl.rc;
    pl.stop = true;
    pthread_cond_broadcast(&pl.work);
    pthread_mutex_unlock(&pl.mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    for (unsigned i = 0; pl.slots && i < pl.nslots; i++)
        rs_emitter_free(&pl.slots[i].e);
    for (unsigned i = 0; pl.slots && i < pl.nslots; i++)
        pthread_cond_destroy(&pl.slots[i].turn);
    pthread_mutex_destroy(&pl.mu);
    pthread_cond_destroy(&pl.work);
    pthread_cond_destroy(&pl.done);
    free(pl.slots);
    free(tids);
    return rc;
}

int rs_gen_run(rs_gen *g, const rs_gen_options *o, rs_write_fn write, void *ctx, rs_err *err)
{
    plan p;
    uint64_t counts[RS_NTYPES];
    plan_shard(g, o, &p, counts);
    rs_emitter e;
    if (rs_emitter_init(&e, g, write, ctx)) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    rs_emit_header(&e, o);
    int rc;
    if (o->threads <= 1 || p.nblocks <= 1) {
        /* One thread formats each type's range in one go: a block's start
         * costs a walk down every partition tree it reads, and one thread
         * has no use for the blocks (the bytes are the same either way). */
        for (unsigned i = 0; i < p.nseg && !e.rc; i++)
            rs_emit_range(&e, p.seg[i].type, p.seg[i].lo, p.seg[i].hi);
    } else {
        rs_emitter_flush(&e);
        if (!e.rc)
            e.rc = run_threads(g, &p, o, write, ctx);
    }
    if (!e.rc)
        rs_emit_footer(&e, o, counts);
    rs_emitter_flush(&e);
    rc = e.rc;
    rs_emitter_free(&e);
    if (rc == RS_ENOMEM)
        snprintf(err->msg, sizeof err->msg, "out of memory");
    return rc;
}

void rs_gen_counts(const rs_gen *g, const rs_gen_options *o, uint64_t counts[RS_NTYPES])
{
    plan p;
    plan_shard(g, o, &p, counts);
}
