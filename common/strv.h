/*
 * strv: a growable, NULL-terminated vector of owned strings.
 *
 * Built for argv vectors (exec takes sv.v as it is) and option lists (mount
 * flags, --extra-tags): push copies, split, join, sort, de-duplicate.
 * Invariants after strv_init: v is never NULL, v[n] == NULL, n < cap, and every
 * v[i] (i < n) is a heap string owned by the vector. Storage grows through
 * xalloc, so nothing here can fail.
 * It deliberately does not hold NULL elements (they would end an argv early),
 * does not remove single elements (no caller needs it), and is not
 * thread-safe: a strv belongs to one function's frame at a time.
 */
#ifndef EBS_COMMON_STRV_H
#define EBS_COMMON_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct strv {
	char **v;    /* NULL-terminated; owned */
	size_t n;    /* number of strings, excluding the terminating NULL */
	size_t cap;  /* slots allocated in v, terminator included */
};

/* Makes sv an empty vector (v = { NULL }). */
void strv_init(struct strv *sv);
/* Frees every string and the array; sv must be re-initialised before reuse. */
void strv_dispose(struct strv *sv);
/* Frees every string but keeps the array: sv becomes empty and stays valid. */
void strv_reset(struct strv *sv);

/* Appends a copy of s (s must not be NULL). */
void strv_push(struct strv *sv, const char *s);
/* Appends s itself: the vector takes ownership of the heap string s. */
void strv_push_take(struct strv *sv, char *s);
/* Appends a printf-formatted string. */
void strv_push_printf(struct strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends copies of every string of other (other may be sv itself). */
void strv_extend(struct strv *sv, const struct strv *other);

/* Moves the array to the caller (free it with strv_freev) and leaves sv empty
 * and valid. The result is NULL-terminated and never NULL. */
char **strv_take(struct strv *sv);
/* Frees a NULL-terminated array of heap strings, as returned by strv_take.
 * v may be NULL. */
void strv_freev(char **v);

/* Returns a heap string (free() it): the elements separated by sep; "" when
 * empty. */
char *strv_join(const struct strv *sv, const char *sep);

enum strv_split_flags {
	STRV_SPLIT_KEEP_EMPTY = 0,   /* "a,,b" -> "a" "" "b"; "" -> "" (one field) */
	STRV_SPLIT_SKIP_EMPTY = 1,   /* drop fields that are empty (after trimming) */
	STRV_SPLIT_TRIM = 2,         /* strip ASCII whitespace around each field */
};
/* Appends the fields of s separated by sep, as shaped by flags (a bitwise OR of
 * enum strv_split_flags); sep '\0' never matches, so s is one field. Without
 * flags, split undoes join with a one-character separator, except for the
 * empty vector: join gives "", which splits into one empty field.
 * Returns the number of fields appended. */
size_t strv_split(struct strv *sv, const char *s, char sep, int flags);

/* True when some element equals s (strcmp). */
bool strv_contains(const struct strv *sv, const char *s);
/* Sorts the elements in strcmp (byte) order. */
void strv_sort(struct strv *sv);
/* Removes repeated elements, keeping the first occurrence of each and the
 * order of the rest (mount options keep their meaning only in order). O(n^2):
 * meant for the short lists it is used on. */
void strv_uniq(struct strv *sv);

#endif
