/*
 * test_batcher: concurrent lookups merged into one send per window, duplicate
 * keys sharing a slot, batches sent early when max_keys is reached, per-key
 * NotFound when EC2 names the missing ids (the others still answered) and by
 * halving when it does not, a failed send reaching every caller, callers'
 * deadlines and cancel flags honoured (and the batch sent with the latest
 * deadline), a caller that gives up before the send taking its key out, the
 * disabled mode making one direct send per lookup, deadlines in an injected
 * clock's domain, the first caller's tag, and the message matcher.
 * The send function is a fake that counts calls and records their keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/batcher.h"
#include "common/rpc.h"
#include "common/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the fake send ------------------------------------------------------------ */

enum mode { OK_ALL, NAME_MISSING, UNNAMED_MISSING, FAIL_ALL };

struct fake {
	pthread_mutex_t mu;
	enum mode mode;
	const char *missing[8];    /* keys EC2 "does not know" */
	int send_delay_ms;
	int sends;
	size_t last_n;
	size_t max_n;
	int64_t last_deadline;
	char last_tag[64];
	char keys_seen[64][32];
	size_t n_seen;
};

struct result {
	char **keys;
	size_t n;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static bool is_missing(struct fake *f, const char *k)
{
	for (size_t i = 0; i < 8 && f->missing[i]; i++)
		if (strcmp(f->missing[i], k) == 0)
			return true;
	return false;
}

static int fake_send(void *ctx, const char *tag, const char *const *keys, size_t n, int64_t deadline_ms,
		     void **result, struct status *st)
{
	struct fake *f = ctx;
	pthread_mutex_lock(&f->mu);
	f->sends++;
	f->last_n = n;
	if (n > f->max_n)
		f->max_n = n;
	f->last_deadline = deadline_ms;
	snprintf(f->last_tag, sizeof f->last_tag, "%s", tag ? tag : "(null)");
	for (size_t i = 0; i < n && f->n_seen < 64; i++)
		snprintf(f->keys_seen[f->n_seen++], 32, "%s", keys[i]);
	enum mode mode = f->mode;
	int delay = f->send_delay_ms;
	pthread_mutex_unlock(&f->mu);
	if (delay > 0)
		sleep_ms(delay);
	if (mode == FAIL_ALL)
		return status_set(st, STATUS_UNAVAILABLE, "DescribeVolumes: RequestLimitExceeded: slow down");
	char named[256] = "";
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		if (!is_missing(f, keys[i]))
			continue;
		any = true;
		size_t l = strlen(named);
		snprintf(named + l, sizeof named - l, "%s%s", l ? ", " : "", keys[i]);
	}
	if (any && mode == NAME_MISSING)
		return status_set(st, STATUS_NOT_FOUND,
				  "DescribeVolumes: InvalidVolume.NotFound: The volumes '%s' do not exist. (request id r)",
				  named);
	if (any)
		return status_set(st, STATUS_NOT_FOUND, "DescribeVolumes: InvalidVolume.NotFound: (request id r)");
	struct result *r = xmalloc(sizeof *r);
	r->keys = xmalloc(n * sizeof *r->keys);
	r->n = n;
	for (size_t i = 0; i < n; i++)
		r->keys[i] = xstrdup(keys[i]);
	*result = r;
	return 0;
}

static int fake_deliver(void *ctx, const void *result, const char *key, void *out, struct status *st)
{
	(void)ctx;
	const struct result *r = result;
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->keys[i], key) == 0) {
			snprintf(out, 64, "value-of-%s", key);
			return 0;
		}
	}
	return status_set(st, STATUS_NOT_FOUND, "no %s", key);
}

static void fake_free(void *ctx, void *result)
{
	(void)ctx;
	struct result *r = result;
	for (size_t i = 0; i < r->n; i++)
		free(r->keys[i]);
	free(r->keys);
	free(r);
}

static const struct batcher_ops ops = { fake_send, fake_deliver, fake_free };

static struct fake *fake_new(void)
{
	struct fake *f = xcalloc(1, sizeof *f);
	pthread_mutex_init(&f->mu, NULL);
	return f;
}

static void fake_free_all(struct fake *f)
{
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* ---- callers on threads ------------------------------------------------------------ */

struct caller {
	struct batcher *b;
	char key[32];
	const char *tag;
	int64_t deadline;
	const atomic_bool *cancelled;
	int delay_ms;       /* start after this */
	int ret;
	struct status st;
	char out[64];
	int64_t took_ms;
};

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	if (c->delay_ms > 0)
		sleep_ms(c->delay_ms);
	int64_t t0 = rpc_now_ms();
	status_clear(&c->st);
	c->out[0] = '\0';
	c->ret = batcher_get(c->b, c->key, c->tag, c->deadline, c->cancelled, c->out, &c->st);
	c->took_ms = rpc_now_ms() - t0;
	return NULL;
}

static void run_callers(struct caller *c, size_t n)
{
	pthread_t *th = xmalloc(n * sizeof *th);
	for (size_t i = 0; i < n; i++)
		pthread_create(&th[i], NULL, caller_main, &c[i]);
	for (size_t i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	free(th);
}

static struct batcher *mk(struct fake *f, bool enabled, int64_t window, size_t max_keys,
			  const struct retry_clock *clock)
{
	struct batcher_options o = {
		.name = "DescribeVolumes", .enabled = enabled, .window_ms = window, .max_keys = max_keys, .clock = clock
	};
	return batcher_new(&ops, f, &o);
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_merges_concurrent_lookups(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct batcher *b = mk(f, true, 100, 500, NULL);
	struct caller c[40];
	memset(c, 0, sizeof c);
	for (int i = 0; i < 40; i++) {
		c[i].b = b;
		/* Half the callers ask for a key someone else asks for too. */
		snprintf(c[i].key, sizeof c[i].key, "vol-%d", i % 20);
		c[i].deadline = rpc_now_ms() + 5000;
		c[i].tag = "/csi.v1.Controller/ControllerPublishVolume";
	}
	run_callers(c, 40);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(c[i].ret, 0);
		char want[64];
		snprintf(want, sizeof want, "value-of-%s", c[i].key);
		assert_string_equal(c[i].out, want);
	}
	assert_int_equal(f->sends, 1);
	assert_int_equal(f->last_n, 20);  /* distinct keys once each */
	assert_string_equal(f->last_tag, "/csi.v1.Controller/ControllerPublishVolume");
	struct batcher_stats s;
	batcher_get_stats(b, &s);
	assert_int_equal(s.requests, 40);
	assert_int_equal(s.batches, 1);
	assert_int_equal(s.sends, 1);
	assert_int_equal(s.keys_sent, 20);
	batcher_free(b);
	fake_free_all(f);
}

static void test_full_batch_goes_early(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	/* A window far longer than the test: only fullness can send. */
	struct batcher *b = mk(f, true, 60000, 4, NULL);
	struct caller c[8];
	memset(c, 0, sizeof c);
	for (int i = 0; i < 8; i++) {
		c[i].b = b;
		snprintf(c[i].key, sizeof c[i].key, "i-%d", i);
		c[i].deadline = rpc_now_ms() + 5000;
	}
	int64_t t0 = rpc_now_ms();
	run_callers(c, 8);
	assert_true(rpc_now_ms() - t0 < 3000);
	for (int i = 0; i < 8; i++)
		assert_int_equal(c[i].ret, 0);
	assert_int_equal(f->sends, 2);
	assert_int_equal(f->max_n, 4);
	batcher_free(b);
	fake_free_all(f);
}

static void test_named_not_found_isolated(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	f->mode = NAME_MISSING;
	f->missing[0] = "vol-1";   /* a prefix of vol-10: must not hit it */
	struct batcher *b = mk(f, true, 80, 500, NULL);
	struct caller c[12];
	memset(c, 0, sizeof c);
	for (int i = 0; i < 12; i++) {
		c[i].b = b;
		snprintf(c[i].key, sizeof c[i].key, "vol-%d", i);
		c[i].deadline = rpc_now_ms() + 5000;
	}
	run_callers(c, 12);
	for (int i = 0; i < 12; i++) {
		if (i == 1) {
			assert_int_equal(c[i].ret, -1);
			assert_int_equal(c[i].st.code, STATUS_NOT_FOUND);
			assert_non_null(strstr(c[i].st.msg, "InvalidVolume.NotFound"));
		} else {
			assert_int_equal(c[i].ret, 0);
		}
	}
	/* One failed send, one with the eleven others. */
	assert_int_equal(f->sends, 2);
	assert_int_equal(f->last_n, 11);
	batcher_free(b);
	fake_free_all(f);
}

static void test_unnamed_not_found_halves(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	f->mode = UNNAMED_MISSING;
	f->missing[0] = "vol-5";
	struct batcher *b = mk(f, true, 300, 500, NULL);
	struct caller c[32];
	memset(c, 0, sizeof c);
	for (int i = 0; i < 32; i++) {
		c[i].b = b;
		snprintf(c[i].key, sizeof c[i].key, "vol-%d", i);
		c[i].deadline = rpc_now_ms() + 5000;
	}
	run_callers(c, 32);
	for (int i = 0; i < 32; i++) {
		if (i == 5) {
			assert_int_equal(c[i].ret, -1);
			assert_int_equal(c[i].st.code, STATUS_NOT_FOUND);
		} else {
			assert_int_equal(c[i].ret, 0);
		}
	}
	/* 32 → 16+16 → 8+8 → 4+4 → 2+2 → 1+1: 11 sends, not 32. */
	assert_int_equal(f->sends, 11);
	batcher_free(b);
	fake_free_all(f);
}

static void test_failure_reaches_everyone(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	f->mode = FAIL_ALL;
	struct batcher *b = mk(f, true, 50, 500, NULL);
	struct caller c[6];
	memset(c, 0, sizeof c);
	for (int i = 0; i < 6; i++) {
		c[i].b = b;
		snprintf(c[i].key, sizeof c[i].key, "snap-%d", i);
		c[i].deadline = RPC_NO_DEADLINE;
	}
	run_callers(c, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(c[i].ret, -1);
		assert_int_equal(c[i].st.code, STATUS_UNAVAILABLE);
		assert_non_null(strstr(c[i].st.msg, "RequestLimitExceeded"));
	}
	assert_int_equal(f->sends, 1);
	/* No caller deadline: the batch gets the 30 s cap. */
	assert_true(f->last_deadline > rpc_now_ms() + 20000);
	batcher_free(b);
	fake_free_all(f);
}

static void test_deadlines(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	f->send_delay_ms = 400;
	struct batcher *b = mk(f, true, 30, 500, NULL);
	struct caller c[2];
	memset(c, 0, sizeof c);
	int64_t now = rpc_now_ms();
	c[0].b = c[1].b = b;
	snprintf(c[0].key, 32, "vol-short");
	snprintf(c[1].key, 32, "vol-long");
	c[0].deadline = now + 150;
	c[1].deadline = now + 5000;
	run_callers(c, 2);
	assert_int_equal(c[0].ret, -1);
	assert_int_equal(c[0].st.code, STATUS_DEADLINE_EXCEEDED);
	assert_true(c[0].took_ms < 350);
	assert_int_equal(c[1].ret, 0);
	/* The batch was sent with the latest deadline of its callers. */
	assert_int_equal(f->last_deadline, now + 5000);
	assert_int_equal(f->sends, 1);
	assert_int_equal(f->last_n, 2);
	batcher_free(b);
	fake_free_all(f);
}

static void test_giving_up_before_send_drops_the_key(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct batcher *b = mk(f, true, 300, 500, NULL);
	struct caller c;
	memset(&c, 0, sizeof c);
	c.b = b;
	snprintf(c.key, 32, "vol-gone");
	c.deadline = rpc_now_ms() + 40;
	run_callers(&c, 1);
	assert_int_equal(c.st.code, STATUS_DEADLINE_EXCEEDED);
	sleep_ms(450);  /* the window passes: nothing left to send */
	assert_int_equal(f->sends, 0);
	/* An already-passed deadline: no wait, no send. */
	memset(&c, 0, sizeof c);
	c.b = b;
	snprintf(c.key, 32, "vol-late");
	c.deadline = rpc_now_ms() - 1;
	run_callers(&c, 1);
	assert_int_equal(c.st.code, STATUS_DEADLINE_EXCEEDED);
	batcher_free(b);
	assert_int_equal(f->sends, 0);
	fake_free_all(f);
}

struct canceller {
	atomic_bool *flag;
	int after_ms;
};

static void *cancel_main(void *arg)
{
	struct canceller *k = arg;
	sleep_ms(k->after_ms);
	atomic_store(k->flag, true);
	return NULL;
}

static void test_cancel(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	f->send_delay_ms = 1000;
	struct batcher *b = mk(f, true, 20, 500, NULL);
	atomic_bool flag = false;
	struct canceller k = { &flag, 100 };
	pthread_t th;
	pthread_create(&th, NULL, cancel_main, &k);
	struct caller c;
	memset(&c, 0, sizeof c);
	c.b = b;
	snprintf(c.key, 32, "vol-1");
	c.deadline = RPC_NO_DEADLINE;
	c.cancelled = &flag;
	run_callers(&c, 1);
	pthread_join(th, NULL);
	assert_int_equal(c.ret, -1);
	assert_int_equal(c.st.code, STATUS_CANCELLED);
	assert_true(c.took_ms < 800);
	batcher_free(b);  /* joins the thread after its send */
	fake_free_all(f);
}

static void test_disabled_direct(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	f->mode = NAME_MISSING;
	f->missing[0] = "vol-x";
	struct batcher *b = mk(f, false, 0, 0, NULL);
	struct caller c[5];
	memset(c, 0, sizeof c);
	for (int i = 0; i < 5; i++) {
		c[i].b = b;
		snprintf(c[i].key, 32, i == 4 ? "vol-x" : "vol-%d", i);
		c[i].deadline = rpc_now_ms() + 2000;
	}
	run_callers(c, 5);
	for (int i = 0; i < 4; i++)
		assert_int_equal(c[i].ret, 0);
	assert_int_equal(c[4].st.code, STATUS_NOT_FOUND);
	assert_int_equal(f->sends, 5);
	assert_int_equal(f->max_n, 1);
	batcher_free(b);
	fake_free_all(f);
}

/* A clock one hour ahead of the monotonic one. */
static int64_t ahead_now(void *ctx)
{
	(void)ctx;
	return rpc_now_ms() + 3600000;
}

static void test_injected_clock_domain(void **state)
{
	(void)state;
	struct fake *f = fake_new();
	struct retry_clock clk = { .now_ms = ahead_now };
	struct batcher *b = mk(f, true, 30, 500, &clk);
	struct caller c;
	memset(&c, 0, sizeof c);
	c.b = b;
	snprintf(c.key, 32, "vol-1");
	c.deadline = ahead_now(NULL) + 2000;  /* 2 s in the clock's domain */
	run_callers(&c, 1);
	assert_int_equal(c.ret, 0);
	assert_int_equal(f->last_deadline, c.deadline);
	/* In real monotonic terms this deadline passed an hour ago. */
	memset(&c, 0, sizeof c);
	c.b = b;
	snprintf(c.key, 32, "vol-2");
	c.deadline = rpc_now_ms() + 2000;
	run_callers(&c, 1);
	assert_int_equal(c.st.code, STATUS_DEADLINE_EXCEEDED);
	assert_int_equal(f->sends, 1);
	batcher_free(b);
	fake_free_all(f);
}

static void test_message_names(void **state)
{
	(void)state;
	assert_true(batcher_message_names("The volume 'vol-1' does not exist.", "vol-1"));
	assert_false(batcher_message_names("The volume 'vol-10' does not exist.", "vol-1"));
	assert_false(batcher_message_names("The volume 'xvol-1' does not exist.", "vol-1"));
	assert_true(batcher_message_names("The volumes 'vol-10, vol-1' do not exist", "vol-1"));
	assert_true(batcher_message_names("i-123", "i-123"));
	assert_false(batcher_message_names("", "i-1"));
	assert_false(batcher_message_names(NULL, "i-1"));
	assert_false(batcher_message_names("x", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merges_concurrent_lookups),
		cmocka_unit_test(test_full_batch_goes_early),
		cmocka_unit_test(test_named_not_found_isolated),
		cmocka_unit_test(test_unnamed_not_found_halves),
		cmocka_unit_test(test_failure_reaches_everyone),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_giving_up_before_send_drops_the_key),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_disabled_direct),
		cmocka_unit_test(test_injected_clock_domain),
		cmocka_unit_test(test_message_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
