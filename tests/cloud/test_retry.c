/*
 * test_retry: backoff bounds and jitter, the retry loop (attempt limit, retry
 * classes, deadline honoured without sleeping in vain, quota), the action →
 * throttling-category table, and the token buckets on an injected clock:
 * refill arithmetic, first-come reservations, deadline refusals that take no
 * token, adaptive slowdown and CUBIC recovery, concurrent use.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/retry.h"
#include "common/rpc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* An injected clock: sleeping advances time unless frozen. */
struct fake_clock {
	_Atomic int64_t now;
	_Atomic int64_t slept;
	atomic_int sleeps;
	bool frozen;
	uint64_t rnd;             /* what random() returns */
};

static int64_t fc_now(void *ctx)
{
	return atomic_load(&((struct fake_clock *)ctx)->now);
}

static void fc_sleep(void *ctx, int64_t ms)
{
	struct fake_clock *c = ctx;
	atomic_fetch_add(&c->sleeps, 1);
	atomic_fetch_add(&c->slept, ms);
	if (!c->frozen)
		atomic_fetch_add(&c->now, ms);
}

static uint64_t fc_random(void *ctx)
{
	return ((struct fake_clock *)ctx)->rnd;
}

static void fc_init(struct fake_clock *c, struct retry_clock *rc, int64_t now)
{
	memset(c, 0, sizeof *c);
	atomic_store(&c->now, now);
	rc->now_ms = fc_now;
	rc->sleep_ms = fc_sleep;
	rc->random = fc_random;
	rc->ctx = c;
}

/* ---- backoff --------------------------------------------------------------- */

static void test_backoff_bounds(void **state)
{
	(void)state;
	struct retry_policy p = RETRY_POLICY_STANDARD;
	static const int64_t ceilings[] = { 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000 };
	for (int n = 1; n <= 8; n++) {
		int64_t c = ceilings[n - 1];
		assert_int_equal(retry_backoff_ms(&p, n, 0), 0);
		assert_int_equal(retry_backoff_ms(&p, n, (uint64_t)c), c);           /* top of the range */
		assert_int_equal(retry_backoff_ms(&p, n, (uint64_t)c + 1), 0);       /* wraps: never above */
		/* A spread of random values stays in [0, ceiling]. */
		uint64_t x = 0x9e3779b97f4a7c15ULL;
		for (int i = 0; i < 2000; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			int64_t d = retry_backoff_ms(&p, n, x);
			assert_true(d >= 0 && d <= c);
		}
	}
	/* Huge retry numbers neither overflow nor exceed the cap. */
	assert_int_equal(retry_backoff_ms(&p, 1000000, 20000), 20000);
	assert_int_equal(retry_backoff_ms(&p, 0, 5), 5);  /* treated as the first retry */
	struct retry_policy zero = { 3, 0, 0 };
	assert_int_equal(retry_backoff_ms(&zero, 3, 12345), 0);
}

static void test_jitter_uses_the_whole_range(void **state)
{
	(void)state;
	/* With the real random source, 500 draws of the 3rd retry cover both ends. */
	struct retry_policy p = RETRY_POLICY_STANDARD;
	int64_t lo = INT64_MAX, hi = 0;
	for (int i = 0; i < 500; i++) {
		int64_t d = retry_backoff_ms(&p, 3, retry_random(NULL));
		assert_true(d >= 0 && d <= 4000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo < 400);
	assert_true(hi > 3600);
}

static void test_transport_classes(void **state)
{
	(void)state;
	assert_int_equal(retry_class_of_transport(STATUS_UNAVAILABLE), AWS_ERROR_RETRY_TRANSIENT);
	assert_int_equal(retry_class_of_transport(STATUS_DEADLINE_EXCEEDED), AWS_ERROR_RETRY_TRANSIENT);
	assert_int_equal(retry_class_of_transport(STATUS_INTERNAL), AWS_ERROR_RETRY_NONE);
	assert_int_equal(retry_class_of_transport(STATUS_INVALID_ARGUMENT), AWS_ERROR_RETRY_NONE);
}

/* ---- the retry loop ------------------------------------------------------------ */

static void test_max_attempts(void **state)
{
	(void)state;
	struct fake_clock fc;
	struct retry_clock clock;
	fc_init(&fc, &clock, 1000);
	fc.rnd = 700;
	struct retry_policy p = RETRY_POLICY_STANDARD;
	struct retry r;
	retry_init(&r, &p, &clock, NULL, RPC_NO_DEADLINE);
	struct status st = STATUS_INIT;
	status_set(&st, STATUS_UNAVAILABLE, "RequestLimitExceeded");
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_THROTTLE, false, &st), 0);
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_TRANSIENT, false, &st), 0);
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_THROTTLE, false, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_string_equal(st.msg, "gave up after 3 attempts (attempt limit): RequestLimitExceeded");
	assert_int_equal(atomic_load(&fc.sleeps), 2);
	assert_int_equal(atomic_load(&fc.slept), 1400);  /* 700 % 1001 and 700 % 2001 */
	assert_int_equal(r.slept_ms, 1400);
	assert_int_equal(r.attempts, 3);

	/* max_attempts 1: never retries. */
	struct retry_policy once = { 1, 1000, 20000 };
	retry_init(&r, &once, &clock, NULL, RPC_NO_DEADLINE);
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_TRANSIENT, false, &st), -1);
	assert_int_equal(atomic_load(&fc.sleeps), 2);
}

static void test_not_retryable(void **state)
{
	(void)state;
	struct fake_clock fc;
	struct retry_clock clock;
	fc_init(&fc, &clock, 0);
	struct retry_policy p = RETRY_POLICY_MUTATING;
	struct retry r;
	retry_init(&r, &p, &clock, NULL, RPC_NO_DEADLINE);
	struct status st = STATUS_INIT;
	status_set(&st, STATUS_NOT_FOUND, "InvalidVolume.NotFound");
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_NONE, false, &st), -1);
	assert_string_equal(st.msg, "InvalidVolume.NotFound");  /* untouched */
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(atomic_load(&fc.sleeps), 0);
}

static void test_deadline_honoured(void **state)
{
	(void)state;
	struct fake_clock fc;
	struct retry_clock clock;
	fc_init(&fc, &clock, 10000);
	struct retry_policy p = RETRY_POLICY_MUTATING;
	struct retry r;
	retry_init(&r, &p, &clock, NULL, 11500);
	struct status st = STATUS_INIT;
	status_set(&st, STATUS_UNAVAILABLE, "throttled");
	fc.rnd = 1000;  /* first backoff: 1000 ms, ends at 11000 < 11500 */
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_THROTTLE, false, &st), 0);
	assert_int_equal(atomic_load(&fc.now), 11000);
	fc.rnd = 500;   /* second: 500 ms would end exactly at the deadline: no */
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_THROTTLE, false, &st), -1);
	assert_int_equal(atomic_load(&fc.now), 11000);  /* did not sleep in vain */
	assert_int_equal(atomic_load(&fc.sleeps), 1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);  /* the cause stays the code */
	assert_string_equal(st.msg, "gave up after 2 attempts (deadline): throttled");

	/* A short backoff that fits is still taken. */
	retry_init(&r, &p, &clock, NULL, 11500);
	fc.rnd = 499;
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_TRANSIENT, true, &st), 0);
	assert_int_equal(atomic_load(&fc.now), 11499);
}

static void test_quota(void **state)
{
	(void)state;
	struct fake_clock fc;
	struct retry_clock clock;
	fc_init(&fc, &clock, 0);
	struct retry_quota q;
	retry_quota_init(&q, 17);
	struct retry_policy p = RETRY_POLICY_MUTATING;
	struct retry r;
	struct status st = STATUS_INIT;

	retry_init(&r, &p, &clock, &q, RPC_NO_DEADLINE);
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_THROTTLE, false, &st), 0);
	assert_int_equal(retry_quota_tokens(&q), 12);
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_TRANSIENT, true, &st), 0);
	assert_int_equal(retry_quota_tokens(&q), 2);
	status_set(&st, STATUS_UNAVAILABLE, "503");
	assert_int_equal(retry_after_failure(&r, AWS_ERROR_RETRY_TRANSIENT, false, &st), -1);
	assert_string_equal(st.msg, "gave up after 3 attempts (retry quota empty): 503");
	assert_int_equal(retry_quota_tokens(&q), 2);

	/* A success after retries gives back what its last retry cost. */
	retry_init(&r, &p, &clock, &q, RPC_NO_DEADLINE);
	r.last_cost = 10;
	r.attempts = 2;
	retry_success(&r);
	assert_int_equal(retry_quota_tokens(&q), 12);
	/* A first-try success gives back 1, never above capacity. */
	for (int i = 0; i < 10; i++) {
		retry_init(&r, &p, &clock, &q, RPC_NO_DEADLINE);
		retry_success(&r);
	}
	assert_int_equal(retry_quota_tokens(&q), 17);
	retry_quota_dispose(&q);
}

/* ---- categories ----------------------------------------------------------------- */

static void test_categories(void **state)
{
	(void)state;
	static const struct {
		const char *action;
		bool unfiltered;
		enum retry_category cat;
	} rows[] = {
		{ "CreateVolume", false, RETRY_CAT_CREATE_DELETE },
		{ "DeleteVolume", true, RETRY_CAT_CREATE_DELETE },
		{ "CreateSnapshot", false, RETRY_CAT_CREATE_DELETE },
		{ "DeleteSnapshot", false, RETRY_CAT_CREATE_DELETE },
		{ "CreateTags", false, RETRY_CAT_TAGS },
		{ "DeleteTags", false, RETRY_CAT_TAGS },
		{ "AttachVolume", false, RETRY_CAT_MUTATING },
		{ "DetachVolume", false, RETRY_CAT_MUTATING },
		{ "ModifyVolume", false, RETRY_CAT_MUTATING },
		{ "CopyVolumes", false, RETRY_CAT_MUTATING },
		{ "EnableFastSnapshotRestores", false, RETRY_CAT_MUTATING },
		{ "DescribeVolumes", false, RETRY_CAT_NON_MUTATING },
		{ "DescribeVolumes", true, RETRY_CAT_UNFILTERED },
		{ "DescribeInstances", true, RETRY_CAT_UNFILTERED },
		{ "DescribeSnapshots", true, RETRY_CAT_UNFILTERED },
		{ "DescribeSnapshots", false, RETRY_CAT_NON_MUTATING },
		{ "DescribeVolumesModifications", true, RETRY_CAT_NON_MUTATING },
		{ "DescribeAvailabilityZones", false, RETRY_CAT_NON_MUTATING },
		{ "DescribeInstanceTypes", false, RETRY_CAT_NON_MUTATING },
		{ "DescribeVolumeStatus", false, RETRY_CAT_NON_MUTATING },
		{ "DescribeTags", false, RETRY_CAT_NON_MUTATING },
		{ "DescribeHosts", true, RETRY_CAT_NON_MUTATING },
		{ "GetConsoleOutput", false, RETRY_CAT_NON_MUTATING },
		{ "LockSnapshot", false, RETRY_CAT_MUTATING },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		assert_int_equal(retry_action_category(rows[i].action, rows[i].unfiltered), rows[i].cat);
	/* aws-facts.md §3: sizes and refill rates. */
	assert_true(retry_category_spec(RETRY_CAT_NON_MUTATING)->capacity == 100);
	assert_true(retry_category_spec(RETRY_CAT_NON_MUTATING)->refill == 20);
	assert_true(retry_category_spec(RETRY_CAT_UNFILTERED)->capacity == 50);
	assert_true(retry_category_spec(RETRY_CAT_UNFILTERED)->refill == 10);
	assert_true(retry_category_spec(RETRY_CAT_MUTATING)->capacity == 50);
	assert_true(retry_category_spec(RETRY_CAT_MUTATING)->refill == 5);
	assert_true(retry_category_spec(RETRY_CAT_CREATE_DELETE)->capacity == 100);
	assert_true(retry_category_spec(RETRY_CAT_CREATE_DELETE)->refill == 5);
	assert_true(retry_category_spec(RETRY_CAT_TAGS)->capacity == 100);
	assert_true(retry_category_spec(RETRY_CAT_TAGS)->refill == 10);
	assert_string_equal(retry_category_name(RETRY_CAT_UNFILTERED), "unfiltered");
	assert_string_equal(retry_category_name(RETRY_CAT_COUNT), "unknown");
}

/* ---- token buckets ---------------------------------------------------------------- */

static void test_bucket_refill(void **state)
{
	(void)state;
	struct fake_clock fc;
	struct retry_clock clock;
	fc_init(&fc, &clock, 5000);
	struct retry_limiter *l = retry_limiter_new(&clock, 1.0);
	struct status st = STATUS_INIT;
	/* CreateVolume: 100 tokens, 5/s. The burst goes without waiting. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(retry_limiter_acquire(l, "CreateVolume", false, RPC_NO_DEADLINE, &st), 0);
	assert_int_equal(atomic_load(&fc.sleeps), 0);
	assert_true(retry_limiter_tokens(l, "CreateVolume", false) < 1e-9);
	/* Its own bucket: DeleteVolume is still full. */
	assert_true(retry_limiter_tokens(l, "DeleteVolume", false) == 100);
	/* The 101st waits 1/5 s. */
	assert_int_equal(retry_limiter_acquire(l, "CreateVolume", false, RPC_NO_DEADLINE, &st), 0);
	assert_int_equal(atomic_load(&fc.sleeps), 1);
	assert_int_equal(atomic_load(&fc.slept), 200);
	/* 1 s later: 5 tokens back. */
	atomic_fetch_add(&fc.now, 1000);
	double t = retry_limiter_tokens(l, "CreateVolume", false);
	assert_true(t > 4.999 && t < 5.001);
	/* Refill never exceeds the bucket size. */
	atomic_fetch_add(&fc.now, 3600 * 1000);
	assert_true(retry_limiter_tokens(l, "CreateVolume", false) == 100);
	/* Tag and describe buckets have their own sizes. */
	assert_true(retry_limiter_tokens(l, "CreateTags", false) == 100);
	assert_true(retry_limiter_tokens(l, "AttachVolume", false) == 50);
	assert_true(retry_limiter_tokens(l, "DescribeVolumes", true) == 50);
	assert_true(retry_limiter_tokens(l, "DescribeVolumes", false) == 100);
	assert_true(retry_limiter_rate(l, "DescribeVolumes", false) == 20);
	assert_true(retry_limiter_rate(l, "DescribeVolumes", true) == 10);
	retry_limiter_free(l);

	/* scale shrinks every bucket and rate. */
	l = retry_limiter_new(&clock, 0.5);
	assert_true(retry_limiter_tokens(l, "AttachVolume", false) == 25);
	assert_true(retry_limiter_rate(l, "AttachVolume", false) == 2.5);
	retry_limiter_free(l);
}

static void test_bucket_reservations_and_deadline(void **state)
{
	(void)state;
	struct fake_clock fc;
	struct retry_clock clock;
	fc_init(&fc, &clock, 0);
	fc.frozen = true;  /* sleeping does not advance time: see the queue build up */
	struct retry_limiter *l = retry_limiter_new(&clock, 1.0);
	struct status st = STATUS_INIT;
	for (int i = 0; i < 50; i++)
		assert_int_equal(retry_limiter_acquire(l, "AttachVolume", false, RPC_NO_DEADLINE, &st), 0);
	/* Mutating: 5/s. Waiters are served in order: 200, 400, 600 ms. */
	assert_int_equal(retry_limiter_acquire(l, "AttachVolume", false, 1000, &st), 0);
	assert_int_equal(atomic_load(&fc.slept), 200);
	assert_int_equal(retry_limiter_acquire(l, "AttachVolume", false, 1000, &st), 0);
	assert_int_equal(atomic_load(&fc.slept), 200 + 400);
	assert_int_equal(retry_limiter_acquire(l, "AttachVolume", false, 1000, &st), 0);
	assert_int_equal(atomic_load(&fc.slept), 200 + 400 + 600);
	double before = retry_limiter_tokens(l, "AttachVolume", false);
	assert_true(before > -3.001 && before < -2.999);
	/* The next would be due at 800 ms: a 700 ms deadline refuses at once,
	 * without sleeping and without taking a token. */
	int sleeps = atomic_load(&fc.sleeps);
	assert_int_equal(retry_limiter_acquire(l, "AttachVolume", false, 700, &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_non_null(strstr(st.msg, "AttachVolume"));
	assert_non_null(strstr(st.msg, "client-side throttling"));
	assert_int_equal(atomic_load(&fc.sleeps), sleeps);
	assert_true(retry_limiter_tokens(l, "AttachVolume", false) == before);
	/* A deadline exactly at the due time is enough. */
	assert_int_equal(retry_limiter_acquire(l, "AttachVolume", false, 800, &st), 0);
	/* Another action is not held up by this queue. */
	assert_int_equal(retry_limiter_acquire(l, "DetachVolume", false, 1, &st), 0);
	retry_limiter_free(l);
}

static void test_adaptive_slowdown_and_recovery(void **state)
{
	(void)state;
	struct fake_clock fc;
	struct retry_clock clock;
	fc_init(&fc, &clock, 0);
	struct retry_limiter *l = retry_limiter_new(&clock, 1.0);
	/* Successes before any throttle change nothing. */
	retry_limiter_feedback(l, "ModifyVolume", false, false);
	assert_true(retry_limiter_rate(l, "ModifyVolume", false) == 5);

	retry_limiter_feedback(l, "ModifyVolume", false, true);
	double r1 = retry_limiter_rate(l, "ModifyVolume", false);
	assert_true(r1 > 3.4999 && r1 < 3.5001);  /* × 0.7 */
	/* The burst shrinks with the rate: 50 × 0.7. */
	assert_true(retry_limiter_tokens(l, "ModifyVolume", false) <= 35.0001);
	retry_limiter_feedback(l, "ModifyVolume", false, true);
	double r2 = retry_limiter_rate(l, "ModifyVolume", false);
	assert_true(r2 > 2.4499 && r2 < 2.4501);
	/* Floors at 0.5/s however often we are throttled. */
	for (int i = 0; i < 50; i++)
		retry_limiter_feedback(l, "ModifyVolume", false, true);
	assert_true(retry_limiter_rate(l, "ModifyVolume", false) == RETRY_ADAPTIVE_MIN_RATE);
	/* Other buckets are unaffected. */
	assert_true(retry_limiter_rate(l, "AttachVolume", false) == 5);
	/* A bucket scaled below the floor still slows down on a throttle
	 * (0.05/s → 0.035/s), never up to the floor. */
	struct retry_limiter *small = retry_limiter_new(&clock, 0.01);
	retry_limiter_feedback(small, "DeleteVolume", false, true);
	retry_limiter_feedback(small, "DeleteVolume", false, true);
	double sr = retry_limiter_rate(small, "DeleteVolume", false);
	assert_true(sr > 0.03499 && sr < 0.03501);
	retry_limiter_free(small);

	/* Recovery: throttled once at t=0 from 5/s; W_max = 5, K = cbrt(3.75) ≈ 1.5536 s. */
	struct retry_limiter *m = retry_limiter_new(&clock, 1.0);
	atomic_store(&fc.now, 100000);
	retry_limiter_feedback(m, "AttachVolume", false, true);
	atomic_store(&fc.now, 100500);
	retry_limiter_feedback(m, "AttachVolume", false, false);
	double a = retry_limiter_rate(m, "AttachVolume", false);
	/* 0.4 (0.5 - 1.5536)^3 + 5 ≈ 4.532 */
	assert_true(a > 4.52 && a < 4.54);
	atomic_store(&fc.now, 101000);
	retry_limiter_feedback(m, "AttachVolume", false, false);
	double b = retry_limiter_rate(m, "AttachVolume", false);
	assert_true(b > a && b < 5);  /* 0.4 (1 - 1.5536)^3 + 5 ≈ 4.932 */
	assert_true(b > 4.92 && b < 4.94);
	atomic_store(&fc.now, 105000);
	retry_limiter_feedback(m, "AttachVolume", false, false);
	assert_true(retry_limiter_rate(m, "AttachVolume", false) == 5);  /* capped at the documented rate */
	/* A throttle while slowed sets W_max to the slowed rate. */
	retry_limiter_feedback(m, "AttachVolume", false, true);
	retry_limiter_feedback(m, "AttachVolume", false, true);
	double s = retry_limiter_rate(m, "AttachVolume", false);
	assert_true(s > 2.4499 && s < 2.4501);
	/* The wait for a token follows the slowed rate: empty the bucket, then
	 * the next token is 1/2.45 s ≈ 409 ms away. */
	struct status st = STATUS_INIT;
	while (retry_limiter_tokens(m, "AttachVolume", false) >= 1)
		assert_int_equal(retry_limiter_acquire(m, "AttachVolume", false, RPC_NO_DEADLINE, &st), 0);
	int64_t slept = atomic_load(&fc.slept);
	assert_int_equal(retry_limiter_acquire(m, "AttachVolume", false, RPC_NO_DEADLINE, &st), 0);
	int64_t w = atomic_load(&fc.slept) - slept;
	assert_true(w > 0 && w <= 409);
	retry_limiter_free(m);
	retry_limiter_free(l);
}

struct worker {
	struct retry_limiter *l;
	int n;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->n; i++) {
		struct status st = STATUS_INIT;
		if (retry_limiter_acquire(w->l, "DescribeTags", false, RPC_NO_DEADLINE, &st) < 0)
			w->failures++;
		retry_limiter_feedback(w->l, "DescribeTags", false, false);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct fake_clock fc;
	struct retry_clock clock;
	fc_init(&fc, &clock, 0);
	fc.frozen = true;
	struct retry_limiter *l = retry_limiter_new(&clock, 1.0);
	pthread_t th[8];
	struct worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ l, 25, 0 };
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	/* 200 tokens from a 100-token bucket at a frozen clock: 100 reservations,
	 * each one further out — exactly -100 left, no token lost or doubled. */
	double t = retry_limiter_tokens(l, "DescribeTags", false);
	assert_true(t > -100.0001 && t < -99.9999);
	assert_int_equal(atomic_load(&fc.sleeps), 100);
	retry_limiter_free(l);
}

static void test_real_clock(void **state)
{
	(void)state;
	/* Without an injected clock: a token in stock costs no time, and the
	 * default sleep really sleeps. */
	struct retry_limiter *l = retry_limiter_new(NULL, 1.0);
	struct status st = STATUS_INIT;
	int64_t t0 = rpc_now_ms();
	assert_int_equal(retry_limiter_acquire(l, "DescribeVolumes", false, t0 + 1000, &st), 0);
	assert_true(rpc_now_ms() - t0 < 100);
	retry_sleep_ms(NULL, 20);
	assert_true(rpc_now_ms() - t0 >= 20);
	retry_limiter_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_jitter_uses_the_whole_range),
		cmocka_unit_test(test_transport_classes),
		cmocka_unit_test(test_max_attempts),
		cmocka_unit_test(test_not_retryable),
		cmocka_unit_test(test_deadline_honoured),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_categories),
		cmocka_unit_test(test_bucket_refill),
		cmocka_unit_test(test_bucket_reservations_and_deadline),
		cmocka_unit_test(test_adaptive_slowdown_and_recovery),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_real_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
