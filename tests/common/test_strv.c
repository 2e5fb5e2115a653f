/*
 * test_strv: common/strv — the NULL terminator after every mutation, growth,
 * ownership transfer (take, push_take), join/split round trips and their edge
 * cases (empty input, empty fields, trimming, NUL separator), contains, sort
 * and the order-keeping uniq. Leaks and overruns are caught by ASan.
 */
#include "common/strv.h"

#include "common/xalloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void assert_terminated(const struct strv *sv)
{
	assert_non_null(sv->v);
	assert_true(sv->n < sv->cap);
	assert_null(sv->v[sv->n]);
}

static void test_init_empty(void **state)
{
	(void)state;
	struct strv sv;
	strv_init(&sv);
	assert_int_equal(sv.n, 0);
	assert_terminated(&sv);
	char *j = strv_join(&sv, ",");
	assert_string_equal(j, "");
	free(j);
	strv_dispose(&sv);
	assert_null(sv.v);
	assert_int_equal(sv.n, 0);
}

static void test_push_grows_and_copies(void **state)
{
	(void)state;
	struct strv sv;
	strv_init(&sv);
	char tmp[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(tmp, sizeof tmp, "arg%d", i);
		strv_push(&sv, tmp);
		assert_terminated(&sv);
	}
	/* push copied: overwriting tmp changed nothing */
	strcpy(tmp, "clobbered");
	assert_int_equal(sv.n, 1000);
	assert_string_equal(sv.v[0], "arg0");
	assert_string_equal(sv.v[999], "arg999");
	size_t count = 0;
	for (char **p = sv.v; *p; p++)
		count++;
	assert_int_equal(count, 1000);
	strv_dispose(&sv);
}

static void test_push_printf_and_take(void **state)
{
	(void)state;
	struct strv sv;
	strv_init(&sv);
	strv_push_printf(&sv, "--%s=%d", "size", 42);
	/* longer than any small stack buffer an implementation might try first */
	char big[5000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	strv_push_printf(&sv, "%s|%s", big, "end");
	strv_push_take(&sv, xstrdup("owned"));
	assert_string_equal(sv.v[0], "--size=42");
	assert_int_equal(strlen(sv.v[1]), sizeof big - 1 + 4);
	assert_string_equal(sv.v[1] + sizeof big - 1, "|end");
	assert_string_equal(sv.v[2], "owned");

	char **v = strv_take(&sv);
	assert_non_null(v);
	assert_string_equal(v[0], "--size=42");
	assert_null(v[3]);
	/* sv is empty and usable after take */
	assert_int_equal(sv.n, 0);
	assert_terminated(&sv);
	strv_push(&sv, "again");
	assert_string_equal(sv.v[0], "again");
	strv_freev(v);
	strv_freev(NULL);
	strv_dispose(&sv);
}

static void test_reset_keeps_array(void **state)
{
	(void)state;
	struct strv sv;
	strv_init(&sv);
	for (int i = 0; i < 20; i++)
		strv_push(&sv, "x");
	size_t cap = sv.cap;
	strv_reset(&sv);
	assert_int_equal(sv.n, 0);
	assert_int_equal(sv.cap, cap);
	assert_terminated(&sv);
	strv_push(&sv, "y");
	assert_string_equal(sv.v[0], "y");
	strv_dispose(&sv);
}

static void test_extend_self(void **state)
{
	(void)state;
	struct strv sv, other;
	strv_init(&sv);
	strv_init(&other);
	strv_push(&other, "a");
	strv_push(&other, "b");
	strv_extend(&sv, &other);
	/* extending a vector with itself doubles it even when the array moves */
	for (int i = 0; i < 5; i++)
		strv_extend(&sv, &sv);
	assert_int_equal(sv.n, 64);
	assert_terminated(&sv);
	for (size_t i = 0; i < sv.n; i++)
		assert_string_equal(sv.v[i], i % 2 ? "b" : "a");
	strv_dispose(&sv);
	strv_dispose(&other);
}

static void check_join(const struct strv *sv, const char *sep, const char *want)
{
	char *got = strv_join(sv, sep);
	assert_string_equal(got, want);
	free(got);
}

static void test_join(void **state)
{
	(void)state;
	struct strv sv;
	strv_init(&sv);
	strv_push(&sv, "rw");
	check_join(&sv, ",", "rw");
	strv_push(&sv, "");
	strv_push(&sv, "noatime");
	check_join(&sv, ",", "rw,,noatime");
	check_join(&sv, ", ", "rw, , noatime");
	check_join(&sv, "", "rwnoatime");
	strv_dispose(&sv);
}

/* Splits s and compares with the expected fields, given as a NULL-terminated list. */
static void check_split(const char *s, char sep, int flags, ...)
{
	struct strv sv;
	strv_init(&sv);
	strv_push(&sv, "pre-existing");
	size_t added = strv_split(&sv, s, sep, flags);
	assert_terminated(&sv);
	assert_int_equal(added, sv.n - 1);
	assert_string_equal(sv.v[0], "pre-existing");
	va_list ap;
	va_start(ap, flags);
	size_t i = 1;
	const char *want;
	while ((want = va_arg(ap, const char *)) != NULL) {
		assert_true(i < sv.n);
		assert_string_equal(sv.v[i], want);
		i++;
	}
	va_end(ap);
	assert_int_equal(i, sv.n);
	strv_dispose(&sv);
}

static void test_split(void **state)
{
	(void)state;
	const int K = STRV_SPLIT_KEEP_EMPTY, S = STRV_SPLIT_SKIP_EMPTY, T = STRV_SPLIT_TRIM;
	check_split("a,b,c", ',', K, "a", "b", "c", (char *)NULL);
	check_split("a,,b,", ',', K, "a", "", "b", "", (char *)NULL);
	check_split("", ',', K, "", (char *)NULL);
	check_split(",", ',', K, "", "", (char *)NULL);
	check_split("no-separator", ',', K, "no-separator", (char *)NULL);
	check_split("a,,b,", ',', S, "a", "b", (char *)NULL);
	check_split("", ',', S, (char *)NULL);
	check_split(",,,", ',', S, (char *)NULL);
	check_split(" a , b\t,\n c ", ',', T, "a", "b", "c", (char *)NULL);
	check_split(" a ,  , b ", ',', T, "a", "", "b", (char *)NULL);
	check_split(" a ,  , b ", ',', T | S, "a", "b", (char *)NULL);
	check_split("   ", ',', T | S, (char *)NULL);
	check_split(" x y ", ' ', S, "x", "y", (char *)NULL);
	/* a NUL separator never matches: the whole string is one field */
	check_split("a,b", '\0', K, "a,b", (char *)NULL);
	/* mount options with '=' inside fields stay whole */
	check_split("uid=1000,gid=1000,context=\"a\"", ',', K, "uid=1000", "gid=1000", "context=\"a\"", (char *)NULL);
}

static void test_split_join_round_trip(void **state)
{
	(void)state;
	const char *cases[] = { "a", "a,b", ",a,", ",,", "key=v,k2=v2,,x" };
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct strv sv;
		strv_init(&sv);
		strv_split(&sv, cases[c], ',', STRV_SPLIT_KEEP_EMPTY);
		check_join(&sv, ",", cases[c]);
		strv_dispose(&sv);
	}
}

static void test_contains_sort_uniq(void **state)
{
	(void)state;
	struct strv sv;
	strv_init(&sv);
	strv_split(&sv, "noatime,rw,nouuid,rw,discard,noatime,rw", ',', 0);
	assert_true(strv_contains(&sv, "nouuid"));
	assert_false(strv_contains(&sv, "nouui"));
	assert_false(strv_contains(&sv, ""));
	strv_uniq(&sv);
	assert_terminated(&sv);
	check_join(&sv, ",", "noatime,rw,nouuid,discard");
	strv_sort(&sv);
	assert_terminated(&sv);
	check_join(&sv, ",", "discard,noatime,nouuid,rw");
	/* byte order: upper case before lower case, prefix before longer */
	strv_reset(&sv);
	strv_split(&sv, "b,B,a,ab,,A", ',', 0);
	strv_sort(&sv);
	check_join(&sv, "|", "|A|B|a|ab|b");
	strv_reset(&sv);
	strv_sort(&sv);
	strv_uniq(&sv);
	assert_int_equal(sv.n, 0);
	assert_terminated(&sv);
	strv_dispose(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_empty),
		cmocka_unit_test(test_push_grows_and_copies),
		cmocka_unit_test(test_push_printf_and_take),
		cmocka_unit_test(test_reset_keeps_array),
		cmocka_unit_test(test_extend_self),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_join_round_trip),
		cmocka_unit_test(test_contains_sort_uniq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
