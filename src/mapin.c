/* A mapped input and its page thread (mapin.h).
 *
 * The thread keeps the pages from the reader's position to MAP_AHEAD
 * beyond it mapped (MADV_POPULATE_READ: one call instead of one fault a
 * page on the reader's thread) and in a cache (fill), and drops what lies
 * more than MAP_BEHIND behind it (MADV_DONTNEED: mapped pages count in the
 * process's RSS; dropped ones are read from the page cache again if
 * touched). Should the thread wait for a core and fall MAP_LATE behind,
 * the reader drops pages itself, so the RSS stays bounded whatever the
 * scheduling. Drops are 1 MiB at a time: each one interrupts the other
 * threads' cores to flush their TLBs (512 KiB steps made the parse slower). */
#include "mapin.h"
#include "bgthread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define MAP_STEP (512u << 10)
#define MAP_AHEAD (1u << 20)
#define MAP_BEHIND (256u << 10)
#define MAP_DROP (1u << 20)
#define MAP_LATE (2u << 20) /* beyond MAP_BEHIND + MAP_DROP */

struct rs_mapin {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *base;
    size_t len;
    atomic_size_t pos; /* the reader's position */
    size_t kick;       /* the position that wakes the thread next */
    atomic_size_t dropped; /* pages below this are dropped */
    atomic_size_t hold;    /* and none from here on (rs_mapin_hold) */
    bool stop;
};

/* Maps [p, p + n) into the page table (one call where the kernel has
 * MADV_POPULATE_READ, 5.14 on; a fault a page where it has not) and reads
 * one byte of every cache line, so that the parse finds the bytes in a
 * cache rather than in memory: that moves about a sixth of the parse's
 * time to this thread. False when the pages are gone (the file shrank). */
static bool fill(char *p, size_t n)
{
#ifdef MADV_POPULATE_READ
    static atomic_bool no_populate;
    if (!atomic_load_explicit(&no_populate, memory_order_relaxed) && madvise(p, n, MADV_POPULATE_READ) != 0) {
        if (errno != EINVAL)
            return false;
        atomic_store_explicit(&no_populate, true, memory_order_relaxed);
    }
#endif
    /* Without MADV_POPULATE_READ, a file that shrank raises SIGBUS here
     * rather than on the parse's thread: the same end. */
    unsigned sum = 0;
    for (size_t i = 0; i < n; i += 64)
        sum += *(volatile const unsigned char *)(p + i);
    (void)sum;
    return true;
}

/* Drops the next MAP_DROP bytes if they lie more than slack behind pos;
 * the thread and the reader may both try, and one wins. */
static bool drop_one(rs_mapin *m, size_t pos, size_t slack)
{
    size_t d = atomic_load(&m->dropped), hold = atomic_load_explicit(&m->hold, memory_order_acquire);
    if (hold < pos)
        pos = hold;
    if (d + slack + MAP_DROP > pos || !atomic_compare_exchange_strong(&m->dropped, &d, d + MAP_DROP))
        return false;
    madvise(m->base + d, MAP_DROP, MADV_DONTNEED);
    return true;
}

static void *pager(void *arg)
{
    rs_mapin *m = arg;
    rs_thread_background();
    size_t filled = atomic_load(&m->pos) & ~(size_t)4095;
    bool filling = true;
    for (;;) {
        size_t pos = atomic_load_explicit(&m->pos, memory_order_relaxed);
        /* A thread that waited for a core skips what the reader has passed
         * (it may have been dropped already: filled again, it would stay). */
        if (filled < (pos & ~(size_t)4095))
            filled = pos & ~(size_t)4095;
        if (drop_one(m, pos, MAP_BEHIND))
            continue;
        if (filling && filled < m->len && filled < pos + MAP_AHEAD) {
            size_t n = m->len - filled < MAP_STEP ? m->len - filled : MAP_STEP;
            /* Pages that cannot be filled are left to the reader's own
             * faults (and to SIGBUS, if the file shrank). */
            filling = fill(m->base + filled, n);
            filled += n;
            continue;
        }
        pthread_mutex_lock(&m->mu);
        while (!m->stop && atomic_load_explicit(&m->pos, memory_order_relaxed) == pos)
            pthread_cond_wait(&m->cv, &m->mu);
        bool stop = m->stop;
        pthread_mutex_unlock(&m->mu);
        if (stop)
            return NULL;
    }
}

rs_mapin *rs_mapin_open(int fd, size_t pos, const char **base, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uintmax_t)st.st_size > SIZE_MAX ||
        (uintmax_t)st.st_size < pos)
        return NULL;
    rs_mapin *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->len = (size_t)st.st_size;
    m->base = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->base == MAP_FAILED) {
        free(m);
        return NULL;
    }
    atomic_init(&m->pos, pos);
    m->kick = pos + MAP_STEP;
    atomic_init(&m->dropped, pos & ~(size_t)4095);
    atomic_init(&m->hold, SIZE_MAX);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->th, NULL, pager, m) != 0) {
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
        munmap(m->base, m->len);
        free(m);
        return NULL;
    }
    *base = m->base;
    *len = m->len;
    return m;
}

void rs_mapin_at(rs_mapin *m, size_t pos)
{
    if (pos < m->kick)
        return;
    while (drop_one(m, pos, MAP_BEHIND + MAP_LATE))
        ;
    pthread_mutex_lock(&m->mu);
    atomic_store_explicit(&m->pos, pos, memory_order_relaxed);
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    m->kick = pos + MAP_STEP;
}

void rs_mapin_hold(rs_mapin *m, size_t off)
{
    atomic_store_explicit(&m->hold, off, memory_order_release);
}

void rs_mapin_close(rs_mapin *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->th, NULL);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    munmap(m->base, m->len);
    free(m);
}
