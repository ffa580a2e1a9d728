/* Helper threads (the page filler, the zstd read-ahead, the checker, the name
 * sorter) serve a parsing thread whose pace is the whole command's. */
#ifndef RS_BGTHREAD_H
#define RS_BGTHREAD_H

#include <pthread.h>
#include <sched.h>

/* Puts the calling helper thread in SCHED_BATCH: it still gets its fair
 * share of a core, but waking it no longer preempts the thread that woke
 * it. On two cores, a checked merge's parsing thread was preempted about
 * 300 times a second that way, and the merge was 5% slower. Needs no
 * privilege; if the policy is refused, nothing changes. */
static inline void rs_thread_background(void)
{
    struct sched_param sp = {0};
    (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
}

#endif
