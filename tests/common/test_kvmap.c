/*
 * Tests for common/kvmap: a view of protobuf-c-shaped map entries, lookups
 * ignoring ASCII case, a missing value read as "", absence as NULL, and an
 * empty map.
 */
#include "common/kvmap.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

struct entry { void *base; const char *key; const char *value; }; /* a map entry's shape */

static void test_view_and_get(void **state)
{
	(void)state;
	struct entry a = { NULL, "fsType", "xfs" }, b = { NULL, "partition", NULL }, c = { NULL, "blockSize", "4096" };
	struct entry *entries[] = { &a, &b, &c };
	struct kvmap m;
	KVMAP_VIEW(&m, 3, entries);
	assert_int_equal(m.n, 3);
	assert_string_equal(kvmap_get(&m, "fstype"), "xfs");
	assert_string_equal(kvmap_get(&m, "FSTYPE"), "xfs");
	assert_string_equal(kvmap_get(&m, "blocksize"), "4096");
	assert_string_equal(kvmap_get(&m, "partition"), "");
	assert_null(kvmap_get(&m, "fsType2"));
	assert_null(kvmap_get(&m, "fsTyp"));
	/* The view borrows the strings. */
	assert_ptr_equal(kvmap_get(&m, "fstype"), a.value);
	kvmap_dispose(&m);
	assert_int_equal(m.n, 0);
	assert_null(m.kv);
	kvmap_dispose(&m);
	kvmap_dispose(NULL);
}

static void test_empty(void **state)
{
	(void)state;
	struct kvmap m;
	size_t none = 0; /* a request without the field: n_parameters == 0 */
	KVMAP_VIEW(&m, none, (struct entry **)NULL);
	assert_null(kvmap_get(&m, "anything"));
	kvmap_dispose(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_view_and_get),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
