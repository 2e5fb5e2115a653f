/*
 * inflight: a thread-safe set of the keys of operations now running.
 *
 * RPC handlers take a key (usually the volume ID) before acting and give it back
 * when done; a second call for the same key while the first runs is answered
 * with ABORTED, as the CSI spec asks ("operation pending for volume"), instead
 * of racing the first against EC2 or the mount table.
 * Invariants: a key is present exactly between a successful try_acquire and the
 * matching release; the set owns copies of its keys.
 * It deliberately does not queue or wait (the caller's retry is the queue), does
 * not count re-entries (acquiring a held key fails, even from the same thread),
 * and does not expire keys: a handler must release on every path.
 */
#ifndef EBS_COMMON_INFLIGHT_H
#define EBS_COMMON_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

struct inflight;

/* Returns a new empty set (never NULL); free it with inflight_free. */
struct inflight *inflight_new(void);
/* Frees the set and any keys still held. NULL is a no-op. No thread may be
 * using the set. */
void inflight_free(struct inflight *in);

/* Adds a copy of key and returns true, or returns false when key is already
 * held (the caller then answers ABORTED). key must not be NULL. */
bool inflight_try_acquire(struct inflight *in, const char *key);

/* Removes key. Call it only after your own successful try_acquire of key:
 * releasing after a failed acquire would free the key of the call that holds
 * it. Releasing a key that is not held is a no-op. */
void inflight_release(struct inflight *in, const char *key);

/* Returns the number of keys held at the moment of the call. */
size_t inflight_count(struct inflight *in);

#endif
