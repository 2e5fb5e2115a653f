/*
 * kvmap: a read-only view of a protobuf-c map field (the repeated key/value
 * entries of parameters, volume_context, publish_context, secrets…) with a
 * lookup. The view borrows the strings from the message it was made from and
 * must not outlive it; only the entry array is the view's own.
 */
#ifndef EBS_COMMON_KVMAP_H
#define EBS_COMMON_KVMAP_H

#include "common/xalloc.h"

#include <stddef.h>

struct kvmap_entry {
	const char *key, *value; /* point into the message */
};

struct kvmap {
	size_t n;
	struct kvmap_entry *kv; /* heap array, released by kvmap_dispose */
};

/* Fills map with a view of count entries, each a pointer to a struct with
 * `key` and `value` members (any protobuf-c map entry type). */
#define KVMAP_VIEW(map, count, entries)                                             \
	do {                                                                        \
		(map)->n = (count);                                                 \
		(map)->kv = xcalloc((count) ? (count) : 1, sizeof *(map)->kv);      \
		for (size_t i_ = 0; i_ < (count); i_++) {                           \
			(map)->kv[i_].key = (entries)[i_]->key;                     \
			(map)->kv[i_].value = (entries)[i_]->value;                 \
		}                                                                   \
	} while (0)

/* Releases the entry array; map is left empty. NULL is a no-op. */
void kvmap_dispose(struct kvmap *map);

/* The value of key, matched ASCII case-insensitively (upstream lower-cases
 * the StorageClass keys it echoes, users write them camel-cased), "" for an
 * entry without a value, or NULL when absent. */
const char *kvmap_get(const struct kvmap *map, const char *key);

#endif
