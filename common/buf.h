/*
 * buf: a growable byte buffer that is always NUL-terminated (data[len] == 0), so
 * it doubles as a string builder. Storage grows geometrically through xalloc
 * (no failure paths). A buf is a caller-owned struct: buf_init / buf_dispose.
 */
#ifndef EBS_COMMON_BUF_H
#define EBS_COMMON_BUF_H

#include "common/status.h"

#include <stddef.h>

struct buf {
	char *data;   /* never NULL after buf_init */
	size_t len;   /* bytes used, excluding the terminating NUL */
	size_t cap;   /* bytes allocated */
};

void buf_init(struct buf *b);
void buf_dispose(struct buf *b);
/* Empties the buffer, keeping its storage. */
void buf_reset(struct buf *b);
/* Makes room for n more bytes without changing len. */
void buf_reserve(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Transfers the storage to the caller (free() it) and leaves b empty and valid:
 * b still owns a fresh allocation, so it must still be disposed. */
char *buf_take(struct buf *b);

/* Appends the whole contents of path (a small file: /proc, /sys) to b.
 * Returns 0; -1 with NOT_FOUND (no such file, or a path component that is
 * not a directory) or INTERNAL (cannot open or read it), b then holding
 * whatever was read. */
int buf_read_file(struct buf *b, const char *path, struct status *st);

#endif
