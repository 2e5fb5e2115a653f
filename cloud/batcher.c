/*
 * batcher: merging Describe lookups. See batcher.h.
 *
 * Shapes: one open batch takes keys; a full one moves to a ready queue so the
 * next key opens another; the thread runs one batch at a time. A batch is
 * reference-counted by its callers and by whoever holds it (open pointer,
 * queue, thread), so a caller that gives up just drops its reference. Slots
 * keep their index for the batch's life: a caller leaving an open batch only
 * lowers its slot's waiter count, and the thread skips slots nobody waits for.
 * Once `done` is set (under the mutex) slots and results are read-only, so
 * callers copy their answers out without the lock. Real waits use condition
 * variables on CLOCK_MONOTONIC; deadlines in the injected clock's domain are
 * turned into "this many ms from now" first.
 */
#include "cloud/batcher.h"

#include "common/rpc.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CANCEL_POLL_MS 50

struct slot {
	char *key;
	int waiters;          /* callers waiting on it; 0: skipped when sent */
	int result;           /* index into batch->results; -1 when failed or not sent */
	struct status *err;   /* the failure for this key, when result < 0 */
};

struct batch {
	int refs;
	bool taken;           /* the thread took it: no more keys, slots fixed */
	bool done;            /* answers are in; read-only from now on */
	char *tag;
	struct slot *slots;
	size_t n, cap;
	size_t n_live;        /* slots with waiters > 0 */
	int64_t opened_ms;    /* real monotonic time of the first key */
	int64_t deadline_ms;  /* latest caller deadline (clock domain) */
	void **results;
	size_t n_results, cap_results;
	struct batch *next;   /* in the ready queue */
};

struct batcher {
	const struct batcher_ops *ops;
	void *ctx;
	char *name;
	bool enabled;
	int64_t window_ms;
	size_t max_keys;
	int64_t max_send_ms;
	const struct retry_clock *clock;
	pthread_mutex_t mu;
	pthread_cond_t wake;   /* the thread: a batch opened, filled, or stop */
	pthread_cond_t done;   /* callers: a batch finished */
	pthread_t thread;
	bool started;
	bool stopping;
	struct batch *open;
	/* Batches that filled up while the thread was busy, oldest first; the
	 * queue holds the reference b->open held. */
	struct batch *ready_head, *ready_tail;
	struct batcher_stats stats;
};

/* ---- time ------------------------------------------------------------------- */

static struct timespec abs_monotonic(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	return ts;
}

/* The real monotonic time at which a clock-domain deadline falls. */
static int64_t real_deadline(const struct batcher *b, int64_t deadline_ms)
{
	if (deadline_ms == RPC_NO_DEADLINE)
		return RPC_NO_DEADLINE;
	int64_t left = deadline_ms - retry_now_ms(b->clock);
	return rpc_now_ms() + (left > 0 ? left : 0);
}

/* ---- batches ------------------------------------------------------------------ */

static struct batch *batch_new(const char *tag)
{
	struct batch *bt = xcalloc(1, sizeof *bt);
	bt->refs = 1;  /* b->open's reference, handed to the thread when it takes the batch */
	bt->tag = tag ? xstrdup(tag) : NULL;
	bt->opened_ms = rpc_now_ms();
	bt->deadline_ms = INT64_MIN;
	return bt;
}

static void batch_free(struct batcher *b, struct batch *bt)
{
	for (size_t i = 0; i < bt->n; i++) {
		free(bt->slots[i].key);
		free(bt->slots[i].err);
	}
	free(bt->slots);
	for (size_t i = 0; i < bt->n_results; i++)
		b->ops->free_result(b->ctx, bt->results[i]);
	free(bt->results);
	free(bt->tag);
	free(bt);
}

static size_t slot_for(struct batch *bt, const char *key)
{
	for (size_t i = 0; i < bt->n; i++)
		if (strcmp(bt->slots[i].key, key) == 0)
			return i;
	if (bt->n == bt->cap) {
		bt->cap = bt->cap ? 2 * bt->cap : 16;
		bt->slots = xrealloc(bt->slots, bt->cap * sizeof *bt->slots);
	}
	struct slot *s = &bt->slots[bt->n];
	s->key = xstrdup(key);
	s->waiters = 0;
	s->result = -1;
	s->err = NULL;
	return bt->n++;
}

static bool has_live_key(const struct batch *bt, const char *key)
{
	for (size_t i = 0; i < bt->n; i++)
		if (bt->slots[i].waiters > 0 && strcmp(bt->slots[i].key, key) == 0)
			return true;
	return false;
}

static void slot_fail(struct slot *s, const struct status *st)
{
	if (s->err == NULL)
		s->err = xmalloc(sizeof *s->err);
	status_copy(s->err, st);
}

/* ---- sending (the thread, lock not held) ---------------------------------------- */

bool batcher_message_names(const char *s, const char *key)
{
	size_t klen = strlen(key);
	if (s == NULL || klen == 0)
		return false;
	for (const char *p = strstr(s, key); p != NULL; p = strstr(p + 1, key)) {
		char before = p == s ? ' ' : p[-1];
		char after = p[klen];
		bool word_before = isalnum((unsigned char)before) || before == '-';
		bool word_after = isalnum((unsigned char)after) || after == '-';
		if (!word_before && !word_after)
			return true;
	}
	return false;
}

static void count_send(struct batcher *b, size_t n)
{
	pthread_mutex_lock(&b->mu);
	b->stats.sends++;
	b->stats.keys_sent += n;
	pthread_mutex_unlock(&b->mu);
}

/* Sends the slots idx[0..n) of bt and records their answers. On NOT_FOUND the
 * named keys are answered and the others sent again; when none is named the set
 * is halved. Every round answers at least one key or halves the set, so this
 * ends after at most n rounds per key set. */
static void run(struct batcher *b, struct batch *bt, size_t *idx, size_t n, int64_t deadline_ms)
{
	const char **keys = xmalloc(n * sizeof *keys);
	while (n > 0) {
		for (size_t i = 0; i < n; i++)
			keys[i] = bt->slots[idx[i]].key;
		void *res = NULL;
		struct status st = STATUS_INIT;
		count_send(b, n);
		if (b->ops->send(b->ctx, bt->tag, keys, n, deadline_ms, &res, &st) == 0) {
			if (bt->n_results == bt->cap_results) {
				bt->cap_results = bt->cap_results ? 2 * bt->cap_results : 2;
				bt->results = xrealloc(bt->results, bt->cap_results * sizeof *bt->results);
			}
			int r = (int)bt->n_results;
			bt->results[bt->n_results++] = res;
			for (size_t i = 0; i < n; i++)
				bt->slots[idx[i]].result = r;
			break;
		}
		if (st.code != STATUS_NOT_FOUND || n == 1) {
			for (size_t i = 0; i < n; i++)
				slot_fail(&bt->slots[idx[i]], &st);
			break;
		}
		size_t keep = 0;
		for (size_t i = 0; i < n; i++) {
			if (batcher_message_names(st.msg, keys[i]))
				slot_fail(&bt->slots[idx[i]], &st);
			else
				idx[keep++] = idx[i];
		}
		if (keep == n) {
			/* The message names none of ours (truncated, or worded
			 * otherwise): isolate the missing ones by halving. */
			size_t half = n / 2;
			run(b, bt, idx, half, deadline_ms);
			run(b, bt, idx + half, n - half, deadline_ms);
			break;
		}
		n = keep;
	}
	free(keys);
}

/* ---- the thread ----------------------------------------------------------------- */

static void finish(struct batcher *b, struct batch *bt)
{
	bt->done = true;
	pthread_cond_broadcast(&b->done);
	if (--bt->refs == 0)
		batch_free(b, bt);
}

/* Moves a full open batch to the ready queue, so that the next key opens a
 * new batch instead of overfilling this one. Lock held. */
static void close_open(struct batcher *b)
{
	struct batch *bt = b->open;
	b->open = NULL;
	bt->next = NULL;
	if (b->ready_tail != NULL)
		b->ready_tail->next = bt;
	else
		b->ready_head = bt;
	b->ready_tail = bt;
	pthread_cond_signal(&b->wake);
}

static struct batch *pop_ready(struct batcher *b)
{
	struct batch *bt = b->ready_head;
	b->ready_head = bt->next;
	if (b->ready_head == NULL)
		b->ready_tail = NULL;
	bt->next = NULL;
	return bt;
}

/* Answers every slot of bt UNAVAILABLE (shutting down). Lock held. */
static void abandon(struct batcher *b, struct batch *bt)
{
	bt->taken = true;
	struct status st;
	status_set(&st, STATUS_UNAVAILABLE, "%s: the batcher is shutting down", b->name);
	for (size_t i = 0; i < bt->n; i++)
		slot_fail(&bt->slots[i], &st);
	finish(b, bt);
}

static void *thread_main(void *arg)
{
	struct batcher *b = arg;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->stopping && b->ready_head == NULL && b->open == NULL)
			pthread_cond_wait(&b->wake, &b->mu);
		if (b->stopping)
			break;
		struct batch *bt;
		if (b->ready_head != NULL) {
			bt = pop_ready(b);
		} else {
			bt = b->open;
			struct timespec fire = abs_monotonic(bt->opened_ms + b->window_ms);
			while (!b->stopping && b->ready_head == NULL && b->open == bt && bt->n_live < b->max_keys &&
			       rpc_now_ms() < bt->opened_ms + b->window_ms)
				pthread_cond_timedwait(&b->wake, &b->mu, &fire);
			if (b->stopping)
				break;
			if (b->open != bt || b->ready_head != NULL)
				continue;  /* it filled up and was queued: serve the queue */
			b->open = NULL;
		}
		bt->taken = true;
		size_t *idx = xmalloc((bt->n ? bt->n : 1) * sizeof *idx);
		size_t n = 0;
		for (size_t i = 0; i < bt->n; i++)
			if (bt->slots[i].waiters > 0)
				idx[n++] = i;
		int64_t deadline = bt->deadline_ms;
		int64_t cap = retry_now_ms(b->clock) + b->max_send_ms;
		if (deadline == RPC_NO_DEADLINE || deadline > cap)
			deadline = cap;
		if (n > 0) {
			b->stats.batches++;
			pthread_mutex_unlock(&b->mu);
			run(b, bt, idx, n, deadline);
			pthread_mutex_lock(&b->mu);
		}
		free(idx);
		finish(b, bt);
	}
	/* Stopping: answer whoever still waits. */
	while (b->ready_head != NULL)
		abandon(b, pop_ready(b));
	if (b->open != NULL) {
		struct batch *bt = b->open;
		b->open = NULL;
		abandon(b, bt);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* ---- public -------------------------------------------------------------------- */

struct batcher *batcher_new(const struct batcher_ops *ops, void *ctx, const struct batcher_options *o)
{
	struct batcher *b = xcalloc(1, sizeof *b);
	b->ops = ops;
	b->ctx = ctx;
	b->name = xstrdup(o->name ? o->name : "batcher");
	b->enabled = o->enabled;
	b->window_ms = o->window_ms > 0 ? o->window_ms : BATCHER_DEFAULT_WINDOW_MS;
	b->max_keys = o->max_keys > 0 ? o->max_keys : 500;
	b->max_send_ms = o->max_send_ms > 0 ? o->max_send_ms : BATCHER_DEFAULT_MAX_SEND_MS;
	b->clock = o->clock;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->wake, &ca);
	pthread_cond_init(&b->done, &ca);
	pthread_condattr_destroy(&ca);
	if (b->enabled) {
		if (pthread_create(&b->thread, NULL, thread_main, b) != 0)
			abort();
		b->started = true;
	}
	return b;
}

void batcher_free(struct batcher *b)
{
	if (b == NULL)
		return;
	if (b->started) {
		pthread_mutex_lock(&b->mu);
		b->stopping = true;
		pthread_cond_broadcast(&b->wake);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->thread, NULL);
	}
	pthread_cond_destroy(&b->wake);
	pthread_cond_destroy(&b->done);
	pthread_mutex_destroy(&b->mu);
	free(b->name);
	free(b);
}

static bool cancelled_now(const atomic_bool *cancelled)
{
	return cancelled != NULL && atomic_load(cancelled);
}

/* Batching off: one send for one key, in the caller's thread. */
static int get_direct(struct batcher *b, const char *key, const char *tag, int64_t deadline_ms, void *out,
		      struct status *st)
{
	pthread_mutex_lock(&b->mu);
	b->stats.requests++;
	b->stats.sends++;
	b->stats.keys_sent++;
	pthread_mutex_unlock(&b->mu);
	void *res = NULL;
	if (b->ops->send(b->ctx, tag, &key, 1, deadline_ms, &res, st) < 0)
		return -1;
	int ret = b->ops->deliver(b->ctx, res, key, out, st);
	b->ops->free_result(b->ctx, res);
	return ret;
}

int batcher_get(struct batcher *b, const char *key, const char *tag, int64_t deadline_ms,
		const atomic_bool *cancelled, void *out, struct status *st)
{
	if (cancelled_now(cancelled))
		return status_set(st, STATUS_CANCELLED, "%s %s: cancelled", b->name, key);
	if (deadline_ms != RPC_NO_DEADLINE && retry_now_ms(b->clock) >= deadline_ms)
		return status_set(st, STATUS_DEADLINE_EXCEEDED, "%s %s: deadline exceeded", b->name, key);
	if (!b->enabled)
		return get_direct(b, key, tag, deadline_ms, out, st);

	int64_t real_end = real_deadline(b, deadline_ms);
	pthread_mutex_lock(&b->mu);
	b->stats.requests++;
	if (b->stopping) {
		pthread_mutex_unlock(&b->mu);
		return status_set(st, STATUS_UNAVAILABLE, "%s: the batcher is shutting down", b->name);
	}
	if (b->open != NULL && b->open->n_live >= b->max_keys && !has_live_key(b->open, key))
		close_open(b);
	if (b->open == NULL) {
		b->open = batch_new(tag);
		pthread_cond_signal(&b->wake);
	}
	struct batch *bt = b->open;
	size_t i = slot_for(bt, key);
	if (bt->slots[i].waiters++ == 0)
		bt->n_live++;
	bt->refs++;
	if (bt->deadline_ms != RPC_NO_DEADLINE && (deadline_ms == RPC_NO_DEADLINE || deadline_ms > bt->deadline_ms))
		bt->deadline_ms = deadline_ms;
	if (bt->n_live >= b->max_keys)
		close_open(b);

	int ret = 0;
	while (!bt->done) {
		if (cancelled_now(cancelled)) {
			ret = status_set(st, STATUS_CANCELLED, "%s %s: cancelled", b->name, key);
			break;
		}
		int64_t now = rpc_now_ms();
		if (real_end != RPC_NO_DEADLINE && now >= real_end) {
			ret = status_set(st, STATUS_DEADLINE_EXCEEDED, "%s %s: deadline exceeded while batched",
					 b->name, key);
			break;
		}
		int64_t until = real_end;
		if (cancelled != NULL && (until == RPC_NO_DEADLINE || until > now + CANCEL_POLL_MS))
			until = now + CANCEL_POLL_MS;
		if (until == RPC_NO_DEADLINE) {
			pthread_cond_wait(&b->done, &b->mu);
		} else {
			struct timespec ts = abs_monotonic(until);
			pthread_cond_timedwait(&b->done, &b->mu, &ts);
		}
	}
	if (ret < 0) {
		/* Leaving early: an open batch forgets the key if nobody else waits. */
		if (!bt->taken && --bt->slots[i].waiters == 0)
			bt->n_live--;
		if (--bt->refs == 0)
			batch_free(b, bt);
		pthread_mutex_unlock(&b->mu);
		return ret;
	}
	pthread_mutex_unlock(&b->mu);

	/* done: slots and results are read-only now. */
	const struct slot *s = &bt->slots[i];
	if (s->result >= 0)
		ret = b->ops->deliver(b->ctx, bt->results[s->result], s->key, out, st);
	else if (s->err != NULL)
		ret = status_copy(st, s->err);
	else
		ret = status_set(st, STATUS_INTERNAL, "%s %s: no answer", b->name, key);

	pthread_mutex_lock(&b->mu);
	if (--bt->refs == 0)
		batch_free(b, bt);
	pthread_mutex_unlock(&b->mu);
	return ret;
}

void batcher_get_stats(struct batcher *b, struct batcher_stats *out)
{
	pthread_mutex_lock(&b->mu);
	*out = b->stats;
	pthread_mutex_unlock(&b->mu);
}
