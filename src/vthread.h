/* A validator on its own thread: merge hands it copies of the records it
 * writes, in order, and goes on parsing and writing while the rules are
 * checked on the other core. The thread stops at the first record that
 * breaks a rule (not a mere warning) or that the validator cannot take, and
 * remembers where it was found.
 *
 * Records travel in batches of copies (their strings in an arena per batch);
 * at most VTHREAD_BATCHES batches exist, so memory stays bounded and a slow
 * checker slows the merge instead of growing a queue. */
#ifndef RS_VTHREAD_H
#define RS_VTHREAD_H

#include <stdbool.h>
#include <stddef.h>
#include "validate.h"

typedef struct rs_vthread rs_vthread;

/* Starts the thread over v, which it uses alone until rs_vthread_join. */
int rs_vthread_start(rs_vthread **out, rs_validator *v, rs_err *err);
/* Queues a copy of e, found at line of input. one_line: e's strings all
 * lie in one buffer (a canonical NDJSON line), so the span between them may
 * be copied whole. Returns 0, 1 once the thread has stopped at a problem
 * (see rs_vthread_problem), or RS_ENOMEM. */
int rs_vthread_feed(rs_vthread *t, const rs_entity *e, bool one_line, size_t input, uint64_t line);
/* Says that base[0..len) stays readable (a mapped input): from then on,
 * the strings of one_line records that lie there are not copied, and the
 * caller keeps the bytes from rs_vthread_hold on in memory. */
void rs_vthread_stable(rs_vthread *t, const char *base, size_t len);
/* The offset in the stable input of the first byte that records not yet
 * checked, or fed next, may read; SIZE_MAX once stable is over. The
 * producer's to call; what it says only grows, so a value that lags keeps
 * more, never less. */
size_t rs_vthread_hold(const rs_vthread *t);
/* Waits until every record queued so far is checked (or the thread has
 * stopped at a problem): then the stable input may go. */
void rs_vthread_sync(rs_vthread *t);
/* Hands over what is queued and waits for the thread to check it and end;
 * the validator is then the caller's again. */
void rs_vthread_join(rs_vthread *t);
/* After join: whether the thread stopped at a problem; if so, where, and
 * rc/err when the validator refused the record (rc 0 for a broken rule). */
bool rs_vthread_problem(const rs_vthread *t, size_t *input, uint64_t *line, int *rc, rs_err *err);
/* Stops the thread if it still runs (without checking what is queued) and
 * frees everything. NULL is fine. */
void rs_vthread_free(rs_vthread *t);

#endif
