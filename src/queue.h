/*
 * queue.h - the thread-safe failure queue.
 *
 * A FIFO of opaque items that owns them: whatever is still queued when
 * the queue is freed is passed to the free callback.  push never blocks
 * (the queue grows); pop blocks until an item arrives or the queue is
 * closed and empty.
 *
 * Threading: every function is safe from any thread, except
 * vs_queue_free(), which runs when no other thread uses the queue.
 */
#ifndef VS_QUEUE_H
#define VS_QUEUE_H

#include <stddef.h>

#include "provider.h"

#define VS_QUEUE_CLOSED (-2) /* push after close, or pop on closed+empty */
#define VS_QUEUE_EMPTY	(-3) /* try_pop found nothing */

struct vs_queue;

/* A new open, empty queue (free_item may be NULL); NULL when out of
 * memory.  Free it with vs_queue_free. */
struct vs_queue *vs_queue_new(void (*free_item)(void *item));
/* Free the queue and pass every item still queued to free_item; NULL is
 * fine. */
void vs_queue_free(struct vs_queue *q);

/* Append item; on success the queue owns it.  VS_QUEUE_CLOSED if closed
 * (then the caller still owns item), VS_ERR when out of memory. */
int vs_queue_push(struct vs_queue *q, void *item);
/*
 * Wait for the oldest item and hand it (and its ownership) to the caller.
 * A closed queue still yields what it holds; VS_QUEUE_CLOSED once it is
 * closed and empty.
 */
int vs_queue_pop(struct vs_queue *q, void **item);
/* Like pop without waiting: VS_QUEUE_EMPTY when nothing is queued (or
 * VS_QUEUE_CLOSED when also closed). */
int vs_queue_try_pop(struct vs_queue *q, void **item);
/*
 * Move every queued item, oldest first, into a new array owned by the
 * caller (*items, free() it; the caller owns the items).  Returns count;
 * 0 with *items NULL when empty, or when out of memory (the items then
 * stay queued).
 */
size_t vs_queue_drain(struct vs_queue *q, void ***items);
/* Refuse further pushes and wake every waiting pop. */
void vs_queue_close(struct vs_queue *q);
/* Accept pushes again (between retry rounds). */
void vs_queue_reopen(struct vs_queue *q);
size_t vs_queue_len(struct vs_queue *q);

#endif
