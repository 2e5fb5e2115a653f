/*
 * strv: growable NULL-terminated string vector. See strv.h.
 * Every mutation restores v[n] == NULL before returning, so sv.v can be handed
 * to execv() or iterated with `for (char **p = sv.v; *p; p++)` at any time.
 * Growth doubles the array; strings are never moved, only their pointers.
 */
#include "common/strv.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STRV_INITIAL_CAP = 8 };

void strv_init(struct strv *sv)
{
	sv->cap = STRV_INITIAL_CAP;
	sv->n = 0;
	sv->v = xmalloc(sv->cap * sizeof *sv->v);
	sv->v[0] = NULL;
}

void strv_reset(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	sv->n = 0;
	sv->v[0] = NULL;
}

void strv_dispose(struct strv *sv)
{
	if (sv->v != NULL)
		strv_reset(sv);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

void strv_push_take(struct strv *sv, char *s)
{
	/* n + 2: the new element and the terminator. */
	if (sv->n + 2 > sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : STRV_INITIAL_CAP;
		sv->v = xrealloc(sv->v, cap * sizeof *sv->v);
		sv->cap = cap;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void strv_push(struct strv *sv, const char *s) { strv_push_take(sv, xstrdup(s)); }

void strv_push_printf(struct strv *sv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		abort(); /* only a malformed format gets here: a programming error */
	char *s = xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)len + 1, fmt, ap);
	va_end(ap);
	strv_push_take(sv, s);
}

void strv_extend(struct strv *sv, const struct strv *other)
{
	/* Read through other->v on every step: when other == sv, pushing may
	 * move the array (the strings themselves never move). */
	size_t n = other->n;
	for (size_t i = 0; i < n; i++)
		strv_push(sv, other->v[i]);
}

char **strv_take(struct strv *sv)
{
	char **v = sv->v;
	strv_init(sv);
	return v;
}

void strv_freev(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

char *strv_join(const struct strv *sv, const char *sep)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < sv->n; i++) {
		if (i > 0)
			buf_puts(&b, sep);
		buf_puts(&b, sv->v[i]);
	}
	return b.data; /* b ends here: its storage is the result */
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

size_t strv_split(struct strv *sv, const char *s, char sep, int flags)
{
	size_t added = 0;
	for (;;) {
		const char *end = strchr(s, sep); /* sep '\0' finds the terminator */
		if (end == NULL)
			end = s + strlen(s);
		const char *a = s, *z = end;
		if (flags & STRV_SPLIT_TRIM) {
			while (a < z && is_space(*a))
				a++;
			while (z > a && is_space(z[-1]))
				z--;
		}
		if (!((flags & STRV_SPLIT_SKIP_EMPTY) && a == z)) {
			strv_push_take(sv, xstrndup(a, (size_t)(z - a)));
			added++;
		}
		if (*end == '\0')
			return added;
		s = end + 1;
	}
}

bool strv_contains(const struct strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(struct strv *sv)
{
	if (sv->n > 1)
		qsort(sv->v, sv->n, sizeof *sv->v, cmp_str);
}

void strv_uniq(struct strv *sv)
{
	size_t out = 0;
	for (size_t i = 0; i < sv->n; i++) {
		bool seen = false;
		for (size_t j = 0; j < out && !seen; j++)
			seen = strcmp(sv->v[j], sv->v[i]) == 0;
		if (seen)
			free(sv->v[i]);
		else
			sv->v[out++] = sv->v[i];
	}
	sv->n = out;
	sv->v[out] = NULL;
}
