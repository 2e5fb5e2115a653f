/*
 * inflight: see inflight.h.
 *
 * The set is an unsorted array of owned strings behind one mutex, searched
 * linearly. That is the right structure here, not a hash table: an entry lives
 * only while a handler runs, so the set never holds more keys than there are
 * worker threads (tens at most), and comparing a few short volume IDs in one
 * contiguous array costs less than hashing the key, and needs no resizing,
 * tombstones or hash-flooding defence. Removal swaps the last entry into the
 * hole, so the array stays dense. The lock is held only for the scan and the
 * copy, never across the caller's work.
 */
#include "common/inflight.h"

#include "common/xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct inflight {
	pthread_mutex_t mu;
	char **keys;  /* keys[0..n) are owned copies; order is meaningless */
	size_t n, cap;
};

struct inflight *inflight_new(void)
{
	struct inflight *in = xcalloc(1, sizeof *in);
	pthread_mutex_init(&in->mu, NULL);
	return in;
}

void inflight_free(struct inflight *in)
{
	if (in == NULL)
		return;
	for (size_t i = 0; i < in->n; i++)
		free(in->keys[i]);
	free(in->keys);
	pthread_mutex_destroy(&in->mu);
	free(in);
}

/* Index of key, or n when absent. Caller holds mu. */
static size_t find(const struct inflight *in, const char *key)
{
	size_t i = 0;
	while (i < in->n && strcmp(in->keys[i], key) != 0)
		i++;
	return i;
}

bool inflight_try_acquire(struct inflight *in, const char *key)
{
	pthread_mutex_lock(&in->mu);
	bool acquired = find(in, key) == in->n;
	if (acquired) {
		if (in->n == in->cap) {
			in->cap = in->cap ? in->cap * 2 : 16;
			in->keys = xrealloc(in->keys, in->cap * sizeof *in->keys);
		}
		in->keys[in->n++] = xstrdup(key);
	}
	pthread_mutex_unlock(&in->mu);
	return acquired;
}

void inflight_release(struct inflight *in, const char *key)
{
	char *gone = NULL;
	pthread_mutex_lock(&in->mu);
	size_t i = find(in, key);
	if (i < in->n) {
		gone = in->keys[i];
		in->keys[i] = in->keys[--in->n];
	}
	pthread_mutex_unlock(&in->mu);
	free(gone); /* outside the lock: other handlers need not wait on free() */
}

size_t inflight_count(struct inflight *in)
{
	pthread_mutex_lock(&in->mu);
	size_t n = in->n;
	pthread_mutex_unlock(&in->mu);
	return n;
}
