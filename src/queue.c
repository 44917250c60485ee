/*
 * queue.c - the thread-safe failure queue.
 *
 * DESIGN: a singly linked FIFO under one mutex with one condition
 * variable that pop waits on.  Nodes are allocated before the lock is
 * taken and freed after it is dropped (collectd: allocate outside the
 * lock, link inside it), so the critical sections are a few pointer
 * moves.  Waiters loop on their predicate ("an item, or closed"), which
 * makes spurious wake-ups and broadcast on close harmless.  drain
 * detaches the whole list in one step under the lock and builds the
 * caller's array outside it.
 */
#include "queue.h"

#include <pthread.h>
#include <stdlib.h>

struct node {
	struct node *next;
	void *item;
};

struct vs_queue {
	pthread_mutex_t lock;
	pthread_cond_t nonempty; /* signalled on push, broadcast on close */
	struct node *head, *tail;
	size_t len;
	int closed;
	void (*free_item)(void *item);
};

struct vs_queue *vs_queue_new(void (*free_item)(void *item))
{
	struct vs_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	if (pthread_mutex_init(&q->lock, NULL)) {
		free(q);
		return NULL;
	}
	if (pthread_cond_init(&q->nonempty, NULL)) {
		pthread_mutex_destroy(&q->lock);
		free(q);
		return NULL;
	}
	q->free_item = free_item;
	return q;
}

void vs_queue_free(struct vs_queue *q)
{
	struct node *n, *next;

	if (!q)
		return;
	for (n = q->head; n; n = next) {
		next = n->next;
		if (q->free_item)
			q->free_item(n->item);
		free(n);
	}
	pthread_cond_destroy(&q->nonempty);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int vs_queue_push(struct vs_queue *q, void *item)
{
	struct node *n = malloc(sizeof(*n));

	if (!n)
		return VS_ERR;
	n->next = NULL;
	n->item = item;
	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		free(n);
		return VS_QUEUE_CLOSED;
	}
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->len++;
	pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* Unlink the oldest node; the lock is held and the queue is not empty. */
static struct node *take_nolock(struct vs_queue *q)
{
	struct node *n = q->head;

	q->head = n->next;
	if (!q->head)
		q->tail = NULL;
	q->len--;
	return n;
}

int vs_queue_pop(struct vs_queue *q, void **item)
{
	struct node *n = NULL;

	pthread_mutex_lock(&q->lock);
	while (!q->head && !q->closed)
		pthread_cond_wait(&q->nonempty, &q->lock);
	/* A closed queue still hands out what it holds. */
	if (q->head)
		n = take_nolock(q);
	pthread_mutex_unlock(&q->lock);
	if (!n)
		return VS_QUEUE_CLOSED;
	*item = n->item;
	free(n);
	return 0;
}

int vs_queue_try_pop(struct vs_queue *q, void **item)
{
	struct node *n = NULL;
	int closed;

	pthread_mutex_lock(&q->lock);
	if (q->head)
		n = take_nolock(q);
	closed = q->closed;
	pthread_mutex_unlock(&q->lock);
	if (!n)
		return closed ? VS_QUEUE_CLOSED : VS_QUEUE_EMPTY;
	*item = n->item;
	free(n);
	return 0;
}

size_t vs_queue_drain(struct vs_queue *q, void ***items)
{
	struct node *head, *tail, *n, *next;
	size_t len, i;
	void **arr;

	*items = NULL;
	pthread_mutex_lock(&q->lock);
	head = q->head;
	tail = q->tail;
	len = q->len;
	q->head = q->tail = NULL;
	q->len = 0;
	pthread_mutex_unlock(&q->lock);
	if (!len)
		return 0;

	arr = malloc(len * sizeof(*arr));
	if (!arr) {
		/* Put everything back in front, ahead of newer pushes. */
		pthread_mutex_lock(&q->lock);
		tail->next = q->head;
		if (!q->head)
			q->tail = tail;
		q->head = head;
		q->len += len;
		pthread_cond_broadcast(&q->nonempty);
		pthread_mutex_unlock(&q->lock);
		return 0;
	}
	for (i = 0, n = head; n; n = next, i++) {
		next = n->next;
		arr[i] = n->item;
		free(n);
	}
	*items = arr;
	return len;
}

void vs_queue_close(struct vs_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
}

void vs_queue_reopen(struct vs_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 0;
	pthread_mutex_unlock(&q->lock);
}

size_t vs_queue_len(struct vs_queue *q)
{
	size_t len;

	pthread_mutex_lock(&q->lock);
	len = q->len;
	pthread_mutex_unlock(&q->lock);
	return len;
}
