/*
 * test_inflight: common/inflight — single-threaded semantics (acquire, busy,
 * release, re-acquire, releasing an absent key, copies of keys, free with keys
 * still held) and many threads hammering one key, distinct keys and a small
 * shared pool, checking that no two threads ever hold the same key at once and
 * that a thread's own distinct key is never refused. Under ASan, races that
 * corrupt the array show up as heap errors.
 */
#include "common/inflight.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

enum { THREADS = 16, ITERS = 20000, POOL = 4 };

static void test_basic(void **state)
{
	(void)state;
	struct inflight *in = inflight_new();
	assert_int_equal(inflight_count(in), 0);
	assert_true(inflight_try_acquire(in, "vol-1"));
	assert_false(inflight_try_acquire(in, "vol-1"));
	assert_true(inflight_try_acquire(in, "vol-2"));
	assert_true(inflight_try_acquire(in, ""));
	assert_int_equal(inflight_count(in), 3);
	inflight_release(in, "vol-1");
	assert_int_equal(inflight_count(in), 2);
	assert_true(inflight_try_acquire(in, "vol-1"));
	/* releasing something nobody holds changes nothing */
	inflight_release(in, "vol-404");
	assert_int_equal(inflight_count(in), 3);
	/* keys are compared whole, not by prefix */
	assert_true(inflight_try_acquire(in, "vol-10"));
	assert_false(inflight_try_acquire(in, "vol-10"));
	inflight_release(in, "vol-1");
	assert_false(inflight_try_acquire(in, "vol-10"));
	assert_false(inflight_try_acquire(in, "vol-2"));
	/* free with keys still held: ASan reports any leak */
	inflight_free(in);
	inflight_free(NULL);
}

static void test_key_is_copied(void **state)
{
	(void)state;
	struct inflight *in = inflight_new();
	char key[32];
	strcpy(key, "vol-abc");
	assert_true(inflight_try_acquire(in, key));
	strcpy(key, "vol-xyz");
	assert_false(inflight_try_acquire(in, "vol-abc"));
	assert_true(inflight_try_acquire(in, key));
	inflight_release(in, "vol-abc");
	inflight_release(in, "vol-xyz");
	assert_int_equal(inflight_count(in), 0);
	inflight_free(in);
}

static void test_many_keys_grow_and_shrink(void **state)
{
	(void)state;
	struct inflight *in = inflight_new();
	char key[32];
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof key, "vol-%d", i);
		assert_true(inflight_try_acquire(in, key));
	}
	assert_int_equal(inflight_count(in), 500);
	/* release in an order that exercises swap-removal from the middle */
	for (int i = 0; i < 500; i += 2) {
		snprintf(key, sizeof key, "vol-%d", i);
		inflight_release(in, key);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof key, "vol-%d", i);
		assert_int_equal(inflight_try_acquire(in, key), i % 2 == 0);
	}
	for (int i = 499; i >= 0; i--) {
		snprintf(key, sizeof key, "vol-%d", i);
		inflight_release(in, key);
	}
	assert_int_equal(inflight_count(in), 0);
	inflight_free(in);
}

struct hammer {
	struct inflight *in;
	atomic_int *holders;  /* per key: threads believing they hold it */
	atomic_long acquired;
	atomic_long refused;
	atomic_int violations;
};

/* Every thread fights over one key. */
static void *hammer_same(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < ITERS; i++) {
		if (!inflight_try_acquire(h->in, "vol-shared")) {
			atomic_fetch_add(&h->refused, 1);
			continue;
		}
		if (atomic_fetch_add(&h->holders[0], 1) != 0)
			atomic_fetch_add(&h->violations, 1);
		atomic_fetch_add(&h->acquired, 1);
		atomic_fetch_sub(&h->holders[0], 1);
		inflight_release(h->in, "vol-shared");
	}
	return NULL;
}

struct worker {
	struct hammer *h;
	int id;
};

/* Each thread has a key of its own: it must never be refused. */
static void *hammer_distinct(void *arg)
{
	struct worker *w = arg;
	char key[32];
	snprintf(key, sizeof key, "vol-%04d", w->id);
	for (int i = 0; i < ITERS; i++) {
		if (!inflight_try_acquire(w->h->in, key)) {
			atomic_fetch_add(&w->h->violations, 1);
			continue;
		}
		atomic_fetch_add(&w->h->acquired, 1);
		inflight_release(w->h->in, key);
	}
	return NULL;
}

/* Threads pick keys from a small pool; holding is exclusive per key. */
static void *hammer_pool(void *arg)
{
	struct worker *w = arg;
	char key[32];
	unsigned seed = (unsigned)w->id * 2654435761u + 1;
	for (int i = 0; i < ITERS; i++) {
		seed = seed * 1103515245u + 12345u;
		int k = (int)((seed >> 16) % POOL);
		snprintf(key, sizeof key, "vol-pool-%d", k);
		if (!inflight_try_acquire(w->h->in, key)) {
			atomic_fetch_add(&w->h->refused, 1);
			continue;
		}
		if (atomic_fetch_add(&w->h->holders[k], 1) != 0)
			atomic_fetch_add(&w->h->violations, 1);
		atomic_fetch_add(&w->h->acquired, 1);
		/* hold it across a yield so that others do collide */
		if (i % 8 == 0)
			sched_yield();
		atomic_fetch_sub(&w->h->holders[k], 1);
		inflight_release(w->h->in, key);
	}
	return NULL;
}

static void run_threads(struct hammer *h, void *(*fn)(void *), bool per_worker)
{
	pthread_t t[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i].h = h;
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, fn, per_worker ? (void *)&w[i] : (void *)h), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
}

static void hammer_init(struct hammer *h, atomic_int *holders, int nholders)
{
	h->in = inflight_new();
	h->holders = holders;
	for (int i = 0; i < nholders; i++)
		atomic_init(&holders[i], 0);
	atomic_init(&h->acquired, 0);
	atomic_init(&h->refused, 0);
	atomic_init(&h->violations, 0);
}

static void test_threads_same_key(void **state)
{
	(void)state;
	struct hammer h;
	atomic_int holders[1];
	hammer_init(&h, holders, 1);
	run_threads(&h, hammer_same, false);
	assert_int_equal(atomic_load(&h.violations), 0);
	assert_int_equal(atomic_load(&h.acquired) + atomic_load(&h.refused), (long)THREADS * ITERS);
	assert_true(atomic_load(&h.acquired) > 0);
	assert_int_equal(inflight_count(h.in), 0);
	inflight_free(h.in);
}

static void test_threads_distinct_keys(void **state)
{
	(void)state;
	struct hammer h;
	hammer_init(&h, NULL, 0);
	run_threads(&h, hammer_distinct, true);
	assert_int_equal(atomic_load(&h.violations), 0);
	assert_int_equal(atomic_load(&h.acquired), (long)THREADS * ITERS);
	assert_int_equal(inflight_count(h.in), 0);
	inflight_free(h.in);
}

static void test_threads_key_pool(void **state)
{
	(void)state;
	struct hammer h;
	atomic_int holders[POOL];
	hammer_init(&h, holders, POOL);
	run_threads(&h, hammer_pool, true);
	assert_int_equal(atomic_load(&h.violations), 0);
	assert_int_equal(atomic_load(&h.acquired) + atomic_load(&h.refused), (long)THREADS * ITERS);
	assert_int_equal(inflight_count(h.in), 0);
	inflight_free(h.in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_key_is_copied),
		cmocka_unit_test(test_many_keys_grow_and_shrink),
		cmocka_unit_test(test_threads_same_key),
		cmocka_unit_test(test_threads_distinct_keys),
		cmocka_unit_test(test_threads_key_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
