/*
 * batcher: merges concurrent lookups by key (volume, instance, snapshot id,
 * name tag) into one EC2 Describe call per window, so that Describe calls scale
 * with time, not with volumes in flight (upstream-ebs-csi.md §6.2).
 *
 * A batch opens with its first key and is sent by the batcher's thread when
 * max_keys distinct keys wait or window_ms after it opened; callers of one key
 * share a slot. send returns one opaque result, deliver cuts each caller's
 * answer out of it. EC2 fails a whole multi-id call when one id is missing
 * (InvalidVolume.NotFound naming it): keys named in a NOT_FOUND message get it,
 * the rest are sent again; if none is named the keys are halved until the
 * missing ones are isolated. Other failures reach every caller. Disabled, each
 * lookup is one send in the caller's thread. Deadlines are in the given clock's
 * domain; no caller waits past its own deadline or cancel; a batch is sent with
 * its latest caller deadline, capped. Not here: retries, caching. Thread-safe.
 */
#ifndef EBS_CLOUD_BATCHER_H
#define EBS_CLOUD_BATCHER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/retry.h"
#include "common/status.h"

#define BATCHER_DEFAULT_WINDOW_MS 500
#define BATCHER_DEFAULT_MAX_SEND_MS 30000   /* upstream runs each batch with 30 s */

struct batcher_ops {
	/* Sends one call for keys[0..n) (distinct, n >= 1). tag is the tag given
	 * by the batch's first caller (may be NULL), deadline_ms the batch's
	 * deadline (clock domain). Returns 0 with *result set (freed with
	 * free_result), or -1 with st set. */
	int (*send)(void *ctx, const char *tag, const char *const *keys, size_t n, int64_t deadline_ms,
		    void **result, struct status *st);
	/* Copies the answer for key out of result into out (the caller's struct,
	 * already initialised by the caller). Returns 0, or -1 with st set (e.g.
	 * NOT_FOUND when result does not hold key). May run concurrently for the
	 * same result: it must only read it. */
	int (*deliver)(void *ctx, const void *result, const char *key, void *out, struct status *st);
	void (*free_result)(void *ctx, void *result);
};

struct batcher_options {
	const char *name;            /* for messages and logs: "DescribeVolumes" */
	bool enabled;
	int64_t window_ms;           /* 0 -> BATCHER_DEFAULT_WINDOW_MS */
	size_t max_keys;             /* distinct keys per call; 0 -> 500 */
	int64_t max_send_ms;         /* cap of a batch's deadline; 0 -> BATCHER_DEFAULT_MAX_SEND_MS */
	const struct retry_clock *clock;  /* deadline domain; NULL -> monotonic ms. Borrowed. */
};

struct batcher;

/* Returns a new batcher (and starts its thread when enabled). ops and ctx are
 * borrowed and must outlive it; the options are copied (name too). */
struct batcher *batcher_new(const struct batcher_ops *ops, void *ctx, const struct batcher_options *o);
/* Stops the thread (a batch not yet sent is answered UNAVAILABLE) and frees
 * b. No batcher_get may be running. NULL is a no-op. */
void batcher_free(struct batcher *b);

/* Looks key up through the next batch and fills out through deliver. tag is
 * copied for the batch when this call opens it (metrics: which CSI method
 * caused the call). Returns 0, or -1 with st: what send or deliver said,
 * DEADLINE_EXCEEDED when deadline_ms (clock domain; RPC_NO_DEADLINE for none)
 * came first, CANCELLED when *cancelled was set (may be NULL). */
int batcher_get(struct batcher *b, const char *key, const char *tag, int64_t deadline_ms,
		const atomic_bool *cancelled, void *out, struct status *st);

/* Counters since creation, for tests and metrics. */
struct batcher_stats {
	uint64_t requests;   /* batcher_get calls */
	uint64_t batches;    /* batches formed */
	uint64_t sends;      /* calls of ops->send (splits included) */
	uint64_t keys_sent;  /* keys over all sends */
};
void batcher_get_stats(struct batcher *b, struct batcher_stats *out);

/* True when s names key as a whole word (the next and previous characters are
 * not letters, digits or '-'): how a NOT_FOUND message is matched to keys.
 * Exposed for tests. */
bool batcher_message_names(const char *s, const char *key);

#endif
