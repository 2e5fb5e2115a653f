/*
 * test_devname: upstream's ordered device-name list, allocation minus names
 * mapped on the instance and names reserved by attachments in flight, a
 * retried attach keeping its name, release, names rejected as "already in
 * use" used only as a last resort (and forgotten after the TTL or a success),
 * recently released names avoided, exhaustion, per-instance independence, and
 * concurrent reservations never handing out one name twice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/devname.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void test_list_order(void **state)
{
	(void)state;
	assert_string_equal(devname_at(0), "/dev/xvdaa");
	assert_string_equal(devname_at(25), "/dev/xvdaz");
	assert_string_equal(devname_at(26), "/dev/xvdba");
	assert_string_equal(devname_at(51), "/dev/xvdbz");
	assert_string_equal(devname_at(52), "/dev/xvdda");
	assert_string_equal(devname_at(75), "/dev/xvddx");
	assert_string_equal(devname_at(76), "/dev/xvdb");
	assert_string_equal(devname_at(100), "/dev/xvdz");
	assert_string_equal(devname_at(101), "/dev/sdb");
	assert_string_equal(devname_at(125), "/dev/sdz");
	assert_string_equal(devname_at(126), "/dev/sda2");
	assert_null(devname_at(DEVNAME_COUNT));
	for (size_t i = 0; i < DEVNAME_COUNT; i++) {
		const char *n = devname_at(i);
		assert_true(strlen(n) < DEVNAME_MAX);
		/* Never the root device, never /dev/xvdc? (Windows). */
		assert_string_not_equal(n, "/dev/xvda");
		assert_false(strncmp(n, "/dev/xvdc", 9) == 0 && strlen(n) == 10);
		for (size_t j = i + 1; j < DEVNAME_COUNT; j++)
			assert_string_not_equal(n, devname_at(j));
	}
	assert_true(devname_is_candidate("/dev/xvdbq"));
	assert_false(devname_is_candidate("/dev/xvda"));
	assert_false(devname_is_candidate("/dev/xvddy"));
	assert_false(devname_is_candidate(NULL));
}

static void test_reserve_skips_used_and_reserved(void **state)
{
	(void)state;
	struct devname *d = devname_new(NULL);
	const char *used[] = { "/dev/xvda", "/dev/xvdaa", "/dev/xvdab" };
	char n1[DEVNAME_MAX], n2[DEVNAME_MAX], again[DEVNAME_MAX];
	assert_int_equal(devname_reserve(d, "i-1", "vol-1", used, 3, 0, n1, NULL), 0);
	assert_string_equal(n1, "/dev/xvdac");
	assert_int_equal(devname_reserve(d, "i-1", "vol-2", used, 3, 0, n2, NULL), 0);
	assert_string_equal(n2, "/dev/xvdad");  /* vol-1's reservation counts */
	/* A retried attach of vol-1 keeps its name. */
	assert_int_equal(devname_reserve(d, "i-1", "vol-1", used, 3, 0, again, NULL), 0);
	assert_string_equal(again, "/dev/xvdac");
	assert_int_equal(devname_reservations(d, "i-1"), 2);
	assert_true(devname_reserved_name(d, "i-1", "vol-2", again));
	assert_string_equal(again, "/dev/xvdad");
	/* Another instance is independent. */
	assert_int_equal(devname_reserve(d, "i-2", "vol-3", NULL, 0, 0, n1, NULL), 0);
	assert_string_equal(n1, "/dev/xvdaa");
	devname_release(d, "i-1", "vol-1");
	assert_int_equal(devname_reservations(d, "i-1"), 1);
	assert_false(devname_reserved_name(d, "i-1", "vol-1", again));
	assert_int_equal(devname_reserve(d, "i-1", "vol-4", used, 3, 0, n1, NULL), 0);
	assert_string_equal(n1, "/dev/xvdac");
	devname_release(d, "i-9", "vol-x");  /* unknown: no-op */
	devname_free(d);
	devname_free(NULL);
}

static void test_rejected_names_last(void **state)
{
	(void)state;
	struct devname *d = devname_new(&(struct devname_options){ .bad_ttl_ms = 1000 });
	char n[DEVNAME_MAX];
	devname_mark_rejected(d, "i-1", "/dev/xvdaa", 100);
	assert_int_equal(devname_reserve(d, "i-1", "vol-1", NULL, 0, 200, n, NULL), 0);
	assert_string_equal(n, "/dev/xvdab");
	devname_release(d, "i-1", "vol-1");
	/* The TTL runs out: the name is fresh again. */
	assert_int_equal(devname_reserve(d, "i-1", "vol-1", NULL, 0, 1200, n, NULL), 0);
	assert_string_equal(n, "/dev/xvdaa");
	devname_release(d, "i-1", "vol-1");
	/* A success clears the mark at once. */
	devname_mark_rejected(d, "i-1", "/dev/xvdaa", 2000);
	devname_mark_good(d, "i-1", "/dev/xvdaa");
	assert_int_equal(devname_reserve(d, "i-1", "vol-1", NULL, 0, 2001, n, NULL), 0);
	assert_string_equal(n, "/dev/xvdaa");
	devname_release(d, "i-1", "vol-1");

	/* Every other name in use: a rejected name is still better than none. */
	const char *used[DEVNAME_COUNT];
	for (size_t i = 1; i < DEVNAME_COUNT; i++)
		used[i - 1] = devname_at(i);
	devname_mark_rejected(d, "i-1", "/dev/xvdaa", 3000);
	assert_int_equal(devname_reserve(d, "i-1", "vol-2", used, DEVNAME_COUNT - 1, 3001, n, NULL), 0);
	assert_string_equal(n, "/dev/xvdaa");
	devname_free(d);
}

static void test_recently_released_avoided(void **state)
{
	(void)state;
	struct devname *d = devname_new(&(struct devname_options){ .recent_ttl_ms = 500, .bad_ttl_ms = 5000 });
	char n[DEVNAME_MAX];
	devname_note_released(d, "i-1", "/dev/xvdaa", 0);
	devname_mark_rejected(d, "i-1", "/dev/xvdab", 0);
	assert_int_equal(devname_reserve(d, "i-1", "vol-1", NULL, 0, 10, n, NULL), 0);
	assert_string_equal(n, "/dev/xvdac");
	/* Only the recent and the rejected name left: recent comes first. */
	const char *used[DEVNAME_COUNT];
	size_t k = 0;
	for (size_t i = 3; i < DEVNAME_COUNT; i++)
		used[k++] = devname_at(i);
	devname_release(d, "i-1", "vol-1");
	used[k++] = "/dev/xvdac";
	assert_int_equal(devname_reserve(d, "i-1", "vol-2", used, k, 20, n, NULL), 0);
	assert_string_equal(n, "/dev/xvdaa");
	devname_free(d);
}

static void test_exhausted(void **state)
{
	(void)state;
	struct devname *d = devname_new(NULL);
	const char *used[DEVNAME_COUNT];
	for (size_t i = 0; i < DEVNAME_COUNT; i++)
		used[i] = devname_at(i);
	char n[DEVNAME_MAX];
	struct status st = STATUS_INIT;
	assert_int_equal(devname_reserve(d, "i-1", "vol-1", used, DEVNAME_COUNT, 0, n, &st), -1);
	assert_int_equal(st.code, STATUS_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st.msg, "i-1"));
	/* Reservations exhaust too. */
	for (size_t i = 0; i < DEVNAME_COUNT; i++) {
		char vol[32];
		snprintf(vol, sizeof vol, "vol-%zu", i);
		assert_int_equal(devname_reserve(d, "i-2", vol, NULL, 0, 0, n, NULL), 0);
	}
	assert_int_equal(devname_reserve(d, "i-2", "vol-x", NULL, 0, 0, n, &st), -1);
	assert_int_equal(st.code, STATUS_RESOURCE_EXHAUSTED);
	assert_int_equal(devname_reservations(d, "i-2"), DEVNAME_COUNT);
	devname_free(d);
}

struct worker {
	struct devname *d;
	int id;
	char names[10][DEVNAME_MAX];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 10; i++) {
		char vol[32];
		snprintf(vol, sizeof vol, "vol-%d-%d", w->id, i);
		if (devname_reserve(w->d, "i-1", vol, NULL, 0, 0, w->names[i], NULL) < 0)
			w->names[i][0] = '\0';
	}
	return NULL;
}

static void test_concurrent_distinct(void **state)
{
	(void)state;
	struct devname *d = devname_new(NULL);
	struct worker w[8];
	pthread_t th[8];
	for (int i = 0; i < 8; i++) {
		w[i].d = d;
		w[i].id = i;
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (int a = 0; a < 80; a++) {
		const char *x = w[a / 10].names[a % 10];
		assert_true(devname_is_candidate(x));
		for (int b = a + 1; b < 80; b++)
			assert_string_not_equal(x, w[b / 10].names[b % 10]);
	}
	assert_int_equal(devname_reservations(d, "i-1"), 80);
	devname_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_order),
		cmocka_unit_test(test_reserve_skips_used_and_reserved),
		cmocka_unit_test(test_rejected_names_last),
		cmocka_unit_test(test_recently_released_avoided),
		cmocka_unit_test(test_exhausted),
		cmocka_unit_test(test_concurrent_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
