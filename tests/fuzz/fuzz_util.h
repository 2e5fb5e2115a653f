/*
 * fuzz_util: helpers shared by the libFuzzer targets of tests/fuzz/ — a
 * reader that splits one input into fields, and process set-up.
 *
 * Fields are separated by a NUL byte: fz_str() returns the bytes up to the
 * next NUL (or the end) as an exact-size heap copy, NUL-terminated, so ASan
 * catches a parser reading one byte past what it was given. fz_byte() takes
 * one byte (0 at the end). Seeds are written as "selector byte, then fields
 * joined by \0" (see tests/fuzz/README.md).
 * Nothing here is used by production code.
 */
#ifndef EBS_TESTS_FUZZ_FUZZ_UTIL_H
#define EBS_TESTS_FUZZ_FUZZ_UTIL_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_byte(struct fz *f)
{
	if (f->n == 0)
		return 0;
	f->n--;
	return *f->p++;
}

/* The next field: bytes up to a NUL (consumed) or the end, as a heap copy of
 * exactly len+1 bytes. *len_out (may be NULL) gets its length. free() it. */
static inline char *fz_str(struct fz *f, size_t *len_out)
{
	const uint8_t *z = f->n ? memchr(f->p, 0, f->n) : NULL;
	size_t len = z ? (size_t)(z - f->p) : f->n;
	char *s = malloc(len + 1);
	if (s == NULL)
		abort();
	if (len)
		memcpy(s, f->p, len);
	s[len] = '\0';
	f->p += len + (z ? 1 : 0);
	f->n -= len + (z ? 1 : 0);
	if (len_out)
		*len_out = len;
	return s;
}

/* The rest of the input as an exact-size heap copy, not NUL-terminated
 * (a parser that reads past len is caught). len 0 gives a 1-byte buffer. */
static inline char *fz_rest(struct fz *f, size_t *len_out)
{
	char *s = malloc(f->n ? f->n : 1);
	if (s == NULL)
		abort();
	if (f->n)
		memcpy(s, f->p, f->n);
	*len_out = f->n;
	f->p += f->n;
	f->n = 0;
	return s;
}

/* Logs go to /dev/null: the targets exercise the error paths, which log. */
static inline void fz_quiet_logs(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		log_set_fd(fd);
}

#endif
