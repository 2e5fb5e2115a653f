/*
 * xalloc: allocation that cannot fail. On exhaustion the process logs and
 * aborts: a storage driver that half-handles OOM is worse than one that restarts
 * (the driver keeps no state; EC2 and the mount table are the truth). So callers
 * never test these for NULL. Everything returned is freed with free().
 */
#ifndef EBS_COMMON_XALLOC_H
#define EBS_COMMON_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Returns a heap copy of s; NULL only when s is NULL. */
char *xstrdup(const char *s);
/* Returns a heap copy of at most n bytes of s, always NUL-terminated. */
char *xstrndup(const char *s, size_t n);
/* Returns a heap string formatted like printf. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
