/*
 * test_status: common/status — set/clear, truncation of long messages (never
 * an overflow, always NUL-terminated), status_set with STATUS_OK never leaving
 * an OK status, status_prefix keeping the code and fitting context + cause in
 * the fixed buffer, re-wrapping st->msg into itself, status_copy, NULL
 * tolerance, and code names in both directions for every code.
 */
#include "common/status.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_set_and_clear(void **state)
{
	(void)state;
	struct status st = STATUS_INIT;
	assert_true(status_ok(&st));
	assert_int_equal(status_set(&st, STATUS_NOT_FOUND, "volume %s not found", "vol-1"), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_string_equal(st.msg, "volume vol-1 not found");
	assert_false(status_ok(&st));
	status_clear(&st);
	assert_int_equal(st.code, STATUS_OK);
	assert_string_equal(st.msg, "");
	assert_true(status_ok(&st));
}

static void test_null_status(void **state)
{
	(void)state;
	assert_int_equal(status_set(NULL, STATUS_INTERNAL, "x"), -1);
	assert_int_equal(status_prefix(NULL, "ctx: "), -1);
	status_clear(NULL);
	assert_true(status_ok(NULL));
}

static void test_set_ok_is_never_ok(void **state)
{
	(void)state;
	struct status st = STATUS_INIT;
	assert_int_equal(status_set(&st, STATUS_OK, "forgot the code"), -1);
	assert_int_not_equal(st.code, STATUS_OK);
	assert_int_equal(st.code, STATUS_UNKNOWN);
	assert_false(status_ok(&st));
	/* prefixing a cleared status also turns it into an error */
	status_clear(&st);
	assert_int_equal(status_prefix(&st, "ctx: "), -1);
	assert_int_equal(st.code, STATUS_UNKNOWN);
	assert_string_equal(st.msg, "ctx: ");
}

static void test_set_truncates(void **state)
{
	(void)state;
	struct status st = STATUS_INIT;
	char big[1000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	status_set(&st, STATUS_INVALID_ARGUMENT, "%s", big);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(strlen(st.msg), STATUS_MSG_MAX - 1);
	assert_int_equal(st.msg[0], 'a');
}

static void test_prefix(void **state)
{
	(void)state;
	struct status st = STATUS_INIT;
	status_set(&st, STATUS_UNAVAILABLE, "RequestLimitExceeded");
	assert_int_equal(status_prefix(&st, "attach %s to %s: ", "vol-1", "i-2"), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_string_equal(st.msg, "attach vol-1 to i-2: RequestLimitExceeded");
	status_prefix(&st, "ControllerPublishVolume: ");
	assert_string_equal(st.msg, "ControllerPublishVolume: attach vol-1 to i-2: RequestLimitExceeded");
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
}

static void test_prefix_truncation(void **state)
{
	(void)state;
	struct status st = STATUS_INIT;
	char cause[STATUS_MSG_MAX + 50];
	memset(cause, 'c', sizeof cause - 1);
	cause[sizeof cause - 1] = '\0';

	/* full message + prefix: the prefix is kept whole, the cause cut */
	status_set(&st, STATUS_DATA_LOSS, "%s", cause);
	status_prefix(&st, "ctx: ");
	assert_int_equal(st.code, STATUS_DATA_LOSS);
	assert_int_equal(strlen(st.msg), STATUS_MSG_MAX - 1);
	assert_memory_equal(st.msg, "ctx: ccc", 8);
	assert_int_equal(st.msg[STATUS_MSG_MAX - 2], 'c');

	/* a prefix longer than the buffer fills it, nothing overflows */
	char longprefix[STATUS_MSG_MAX * 2];
	memset(longprefix, 'p', sizeof longprefix - 1);
	longprefix[sizeof longprefix - 1] = '\0';
	status_set(&st, STATUS_ABORTED, "cause");
	status_prefix(&st, "%s", longprefix);
	assert_int_equal(st.code, STATUS_ABORTED);
	assert_int_equal(strlen(st.msg), STATUS_MSG_MAX - 1);
	assert_int_equal(st.msg[0], 'p');
	assert_int_equal(st.msg[STATUS_MSG_MAX - 2], 'p');

	/* exact fit */
	char half[STATUS_MSG_MAX / 2];
	memset(half, 'h', sizeof half - 1);
	half[sizeof half - 1] = '\0';
	status_set(&st, STATUS_INTERNAL, "%s", half);                 /* 127 chars */
	status_prefix(&st, "%s", half);                                /* +127 = 254 */
	assert_int_equal(strlen(st.msg), 2 * (sizeof half - 1));
	status_prefix(&st, "x");                                       /* 255: fits */
	assert_int_equal(strlen(st.msg), STATUS_MSG_MAX - 1);
	assert_int_equal(st.msg[0], 'x');
	status_prefix(&st, "y");                                       /* last 'h' cut */
	assert_int_equal(strlen(st.msg), STATUS_MSG_MAX - 1);
	assert_memory_equal(st.msg, "yxh", 3);
}

static void test_rewrap_own_message(void **state)
{
	(void)state;
	struct status st = STATUS_INIT;
	status_set(&st, STATUS_NOT_FOUND, "device /dev/xvdba missing");
	/* a common shape: change the code, keep the cause, using st->msg as an argument */
	status_set(&st, STATUS_INTERNAL, "stage vol-1: %s (code %d)", st.msg, st.code);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_string_equal(st.msg, "stage vol-1: device /dev/xvdba missing (code 5)");
	/* and a prefix built from the message itself */
	status_prefix(&st, "[%.5s] ", st.msg);
	assert_string_equal(st.msg, "[stage] stage vol-1: device /dev/xvdba missing (code 5)");
}

static void test_copy(void **state)
{
	(void)state;
	struct status a = STATUS_INIT, b = STATUS_INIT;
	assert_int_equal(status_copy(&b, &a), 0);
	status_set(&a, STATUS_PERMISSION_DENIED, "UnauthorizedOperation");
	assert_int_equal(status_copy(&b, &a), -1);
	assert_int_equal(b.code, STATUS_PERMISSION_DENIED);
	assert_string_equal(b.msg, "UnauthorizedOperation");
	assert_int_equal(status_copy(&a, &a), -1);
	assert_string_equal(a.msg, "UnauthorizedOperation");
	assert_int_equal(status_copy(NULL, &a), -1);
}

static void test_code_names(void **state)
{
	(void)state;
	static const struct {
		int code;
		const char *name;
	} want[] = {
		{ STATUS_OK, "OK" },
		{ STATUS_CANCELLED, "CANCELLED" },
		{ STATUS_UNKNOWN, "UNKNOWN" },
		{ STATUS_INVALID_ARGUMENT, "INVALID_ARGUMENT" },
		{ STATUS_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED" },
		{ STATUS_NOT_FOUND, "NOT_FOUND" },
		{ STATUS_ALREADY_EXISTS, "ALREADY_EXISTS" },
		{ STATUS_PERMISSION_DENIED, "PERMISSION_DENIED" },
		{ STATUS_RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED" },
		{ STATUS_FAILED_PRECONDITION, "FAILED_PRECONDITION" },
		{ STATUS_ABORTED, "ABORTED" },
		{ STATUS_OUT_OF_RANGE, "OUT_OF_RANGE" },
		{ STATUS_UNIMPLEMENTED, "UNIMPLEMENTED" },
		{ STATUS_INTERNAL, "INTERNAL" },
		{ STATUS_UNAVAILABLE, "UNAVAILABLE" },
		{ STATUS_DATA_LOSS, "DATA_LOSS" },
		{ STATUS_UNAUTHENTICATED, "UNAUTHENTICATED" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		/* gRPC's numbering: the code is the index */
		assert_int_equal(want[i].code, (int)i);
		assert_string_equal(status_code_name(want[i].code), want[i].name);
		assert_int_equal(status_code_from_name(want[i].name), want[i].code);
	}
	assert_string_equal(status_code_name(-1), "UNKNOWN");
	assert_string_equal(status_code_name(17), "UNKNOWN");
	assert_string_equal(status_code_name(1 << 30), "UNKNOWN");
	assert_int_equal(status_code_from_name("not_found"), -1);
	assert_int_equal(status_code_from_name(""), -1);
	assert_int_equal(status_code_from_name("NOT_FOUND "), -1);
	assert_int_equal(status_code_from_name("NotFound"), -1);
}

static int narrow(struct status *st, unsigned keep, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = status_vnarrow(st, keep, fmt, ap);
	va_end(ap);
	return r;
}

static void test_narrow(void **state)
{
	(void)state;
	const unsigned keep = STATUS_BIT(STATUS_NOT_FOUND) | STATUS_BIT(STATUS_ABORTED);
	struct status st = STATUS_INIT;
	status_set(&st, STATUS_NOT_FOUND, "no vol-1");
	assert_int_equal(narrow(&st, keep, "stage volume %s", "vol-1"), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_string_equal(st.msg, "stage volume vol-1: no vol-1");
	/* A code outside the set becomes INTERNAL, message kept. */
	status_set(&st, STATUS_PERMISSION_DENIED, "open /dev/x: denied");
	narrow(&st, keep, "stage");
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_string_equal(st.msg, "stage: open /dev/x: denied");
	/* So do OK and values that are no code at all. */
	status_clear(&st);
	narrow(&st, keep, "x");
	assert_int_equal(st.code, STATUS_INTERNAL);
	st.code = 99;
	narrow(&st, keep, "x");
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_int_equal(narrow(NULL, keep, "x"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_and_clear),
		cmocka_unit_test(test_null_status),
		cmocka_unit_test(test_set_ok_is_never_ok),
		cmocka_unit_test(test_set_truncates),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_prefix_truncation),
		cmocka_unit_test(test_rewrap_own_message),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_narrow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
