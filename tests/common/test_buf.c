/*
 * test_buf: common/buf — the NUL terminator after every operation, geometric
 * growth from one byte to megabytes, binary data with embedded NULs, printf
 * below, at and far above the internal small-buffer size (255/256/257 bytes
 * and 1 MiB), appending after existing content, reserve, reset and take;
 * reading a whole file (several reads' worth, empty, missing, a directory).
 */
#include "common/buf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void assert_buf_valid(const struct buf *b)
{
	assert_non_null(b->data);
	assert_true(b->len < b->cap);
	assert_int_equal(b->data[b->len], '\0');
}

static void test_init(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_buf_valid(&b);
	buf_dispose(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void test_append_growth(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	size_t last_cap = b.cap, reallocs = 0;
	for (size_t i = 0; i < 100000; i++) {
		buf_putc(&b, (char)('a' + i % 26));
		assert_int_equal(b.data[b.len], '\0');
		if (b.cap != last_cap) {
			assert_true(b.cap >= 2 * last_cap); /* geometric, not linear */
			last_cap = b.cap;
			reallocs++;
		}
	}
	assert_int_equal(b.len, 100000);
	assert_true(reallocs < 20);
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] != (char)('a' + i % 26))
			fail_msg("byte %zu is %c", i, b.data[i]);
	buf_dispose(&b);
}

static void test_append_binary(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	buf_append(&b, "a\0b", 3);
	buf_append(&b, NULL, 0);
	buf_append(&b, "", 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	buf_puts(&b, "cd");
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "a\0bcd", 6);
	assert_buf_valid(&b);
	buf_dispose(&b);
}

static void check_printf_len(size_t n)
{
	char *s = malloc(n + 1);
	memset(s, 'z', n);
	s[n] = '\0';
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "head:");
	buf_printf(&b, "%s|%d", s, 7);
	assert_int_equal(b.len, 5 + n + 2);
	assert_memory_equal(b.data, "head:", 5);
	assert_memory_equal(b.data + 5, s, n);
	assert_string_equal(b.data + 5 + n, "|7");
	assert_buf_valid(&b);
	buf_dispose(&b);
	free(s);
}

static void test_printf_sizes(void **state)
{
	(void)state;
	/* the formatted text is n + 2 bytes; the implementation's stack buffer is 256 */
	static const size_t sizes[] = { 0, 1, 200, 252, 253, 254, 255, 256, 300, 4096, 1 << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		check_printf_len(sizes[i]);
}

static void test_printf_many(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	for (int i = 0; i < 10000; i++)
		buf_printf(&b, "%d,", i);
	assert_buf_valid(&b);
	assert_memory_equal(b.data, "0,1,2,", 6);
	assert_string_equal(b.data + b.len - 5, "9999,");
	buf_dispose(&b);
}

static void test_reserve_and_reset(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "abc");
	buf_reserve(&b, 10000);
	assert_int_equal(b.len, 3);
	assert_true(b.cap >= 10004);
	assert_string_equal(b.data, "abc");
	size_t cap = b.cap;
	char *data = b.data;
	/* room reserved: appending within it does not move the storage */
	char fill[10000];
	memset(fill, 'f', sizeof fill);
	buf_append(&b, fill, sizeof fill);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(b.cap, cap);
	buf_dispose(&b);
}

static void test_take(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "%s-%d", "vol", 1);
	char *s = buf_take(&b);
	assert_string_equal(s, "vol-1");
	/* b is empty, valid and independent of s */
	assert_int_equal(b.len, 0);
	assert_buf_valid(&b);
	buf_puts(&b, "next");
	assert_string_equal(s, "vol-1");
	assert_string_equal(b.data, "next");
	free(s);
	buf_dispose(&b);
}

static void test_read_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test-buf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char big[10000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(write(fd, big, sizeof big), (ssize_t)sizeof big);
	close(fd);
	struct buf b;
	buf_init(&b);
	buf_puts(&b, ">");
	struct status st = STATUS_INIT;
	assert_int_equal(buf_read_file(&b, path, &st), 0);
	assert_int_equal(b.len, 1 + sizeof big);
	assert_memory_equal(b.data + 1, big, sizeof big);
	assert_buf_valid(&b);
	/* Empty file: nothing appended, still a string. */
	assert_int_equal(truncate(path, 0), 0);
	buf_reset(&b);
	assert_int_equal(buf_read_file(&b, path, &st), 0);
	assert_int_equal(b.len, 0);
	assert_buf_valid(&b);
	/* A file used as a directory: nothing there either. */
	char under[64];
	snprintf(under, sizeof under, "%s/x", path);
	assert_int_equal(buf_read_file(&b, under, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	unlink(path);
	assert_int_equal(buf_read_file(&b, path, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(buf_read_file(&b, "/", &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	buf_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_append_growth),
		cmocka_unit_test(test_append_binary),
		cmocka_unit_test(test_printf_sizes),
		cmocka_unit_test(test_printf_many),
		cmocka_unit_test(test_reserve_and_reset),
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
