/*
 * retry: when to try an EC2 call again and how fast we may send — (a) capped
 * exponential backoff with full jitter bounded by the call's deadline, with
 * the SDK standard mode's retry quota; (b) client-side token buckets per EC2
 * action, sized as EC2's own throttling buckets (aws-facts.md §3) and slowed
 * down adaptively when EC2 throttles us (the SDK "adaptive" mode, §4.3).
 *
 * Time, sleeping and randomness come through struct retry_clock so that tests
 * run on an injected clock. Not here: sending requests, classifying AWS errors
 * (aws_error does; we consume its retry class), metrics.
 * Invariants: nothing sleeps past the deadline it is given — when a backoff or
 * a token would only come after the deadline, the call returns at once instead
 * of sleeping uselessly; the limiter and the quota are thread-safe (one mutex
 * each, never held while sleeping).
 */
#ifndef EBS_CLOUD_RETRY_H
#define EBS_CLOUD_RETRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cloud/aws_error.h"
#include "common/status.h"

/* Injectable clock. Any member may be NULL: the monotonic clock
 * (rpc_now_ms), nanosleep and arc4random are used instead. */
struct retry_clock {
	int64_t (*now_ms)(void *ctx);            /* monotonic milliseconds */
	void (*sleep_ms)(void *ctx, int64_t ms);
	uint64_t (*random)(void *ctx);           /* uniform over 64 bits */
	void *ctx;
};

/* Helpers that use the injected members or the real ones. clock may be NULL. */
int64_t retry_now_ms(const struct retry_clock *clock);
void retry_sleep_ms(const struct retry_clock *clock, int64_t ms);
uint64_t retry_random(const struct retry_clock *clock);

/* ---- (a) backoff ------------------------------------------------------------ */

struct retry_policy {
	int max_attempts;   /* counts the first attempt; 1 = never retry */
	int64_t base_ms;    /* the first retry waits at most this */
	int64_t cap_ms;     /* no wait is longer than this */
};

/* The SDK standard mode: 3 attempts, 1 s base, 20 s cap (aws-facts.md §4.2). */
#define RETRY_POLICY_STANDARD { 3, 1000, 20000 }
/* Upstream's mutating calls: 50 attempts, bounded in practice by the deadline
 * (aws-facts.md §4.3, retryMaxAttempt = 50). */
#define RETRY_POLICY_MUTATING { 50, 1000, 20000 }

/* Full jitter: a delay uniform in [0, min(cap, base * 2^(retry_no - 1))],
 * retry_no >= 1 being the number of the retry about to happen; rnd is a
 * uniform 64-bit value. */
int64_t retry_backoff_ms(const struct retry_policy *p, int retry_no, uint64_t rnd);

/* The retry class of a transport failure reported by the HTTP layer as a status
 * code: UNAVAILABLE (connection refused/reset, DNS, TLS handshake) and
 * DEADLINE_EXCEEDED (the attempt's own timeout) are TRANSIENT; the rest NONE. */
enum aws_error_retry retry_class_of_transport(int status_code);

/* The SDK standard-mode retry quota, shared by a client: 500 tokens, a retry
 * costs 5 (10 after a timeout), a success without retry returns 1, a success
 * after retries returns what its last retry took; empty → no more retries, so a
 * broken endpoint is not hammered by every caller at once. */
#define RETRY_QUOTA_CAPACITY 500
#define RETRY_QUOTA_COST 5
#define RETRY_QUOTA_TIMEOUT_COST 10

struct retry_quota {
	pthread_mutex_t mu;
	int tokens;
	int capacity;
};

void retry_quota_init(struct retry_quota *q, int capacity);
void retry_quota_dispose(struct retry_quota *q);
int retry_quota_tokens(struct retry_quota *q);

/* One call's retry state; caller-owned, no heap. Usage:
 *     struct retry r;
 *     retry_init(&r, &policy, clock, quota, rc->deadline_ms);
 *     for (;;) {
 *         if (send(...) == 0) { retry_success(&r); break; }
 *         if (retry_after_failure(&r, cls, timeout, st) < 0) break;
 *     }
 */
struct retry {
	const struct retry_policy *policy;
	const struct retry_clock *clock;
	struct retry_quota *quota;   /* may be NULL: no quota */
	int64_t deadline_ms;         /* monotonic ms or RPC_NO_DEADLINE */
	int attempts;                /* attempts made (counted at each failure/success) */
	int last_cost;               /* quota tokens the last retry took */
	int64_t slept_ms;            /* total backoff, for metrics */
};

void retry_init(struct retry *r, const struct retry_policy *p, const struct retry_clock *clock,
		struct retry_quota *quota, int64_t deadline_ms);

/* After a failed attempt whose status is in st and whose retry class is cls
 * (aws_error_classify(...).retry, or retry_class_of_transport); timeout says
 * the attempt timed out (a dearer quota cost). Returns 0 after sleeping the
 * jittered backoff: try again. Returns -1 when the call must stop, leaving st's
 * code as it is: cls NONE (st untouched), attempts exhausted, quota empty, or
 * the backoff would end at or after the deadline (no sleep then); in those
 * last cases the message gets the prefix "gave up after N attempts (why): ". */
int retry_after_failure(struct retry *r, enum aws_error_retry cls, bool timeout, struct status *st);

/* After a successful attempt: refunds the quota. */
void retry_success(struct retry *r);

/* ---- (b) client-side token buckets ---------------------------------------------- */

/* EC2's throttling categories (aws-facts.md §3). Every action has its own bucket
 * ("limits are applied to individual API actions"), sized by its category. */
enum retry_category {
	RETRY_CAT_NON_MUTATING = 0,  /* Describe* with ids, filters or paging: 100, 20/s */
	RETRY_CAT_UNFILTERED,        /* DescribeVolumes/Instances/Snapshots without them: 50, 10/s */
	RETRY_CAT_MUTATING,          /* AttachVolume, DetachVolume, ModifyVolume, FSR, ...: 50, 5/s */
	RETRY_CAT_CREATE_DELETE,     /* Create/DeleteVolume, Create/DeleteSnapshot (own): 100, 5/s */
	RETRY_CAT_TAGS,              /* CreateTags, DeleteTags (own): 100, 10/s */
	RETRY_CAT_COUNT,
};

struct retry_bucket_spec {
	double capacity;     /* bucket maximum (burst) */
	double refill;       /* tokens per second */
};

/* The documented size of a category's buckets (static). */
const struct retry_bucket_spec *retry_category_spec(enum retry_category c);
/* "non-mutating", "unfiltered", ... (static). */
const char *retry_category_name(enum retry_category c);
/* The category of an EC2 action. unfiltered: the request has no ids, no filter
 * and no MaxResults, which only matters for DescribeVolumes, DescribeInstances
 * and DescribeSnapshots. Unknown actions: Describe / List / Get / Search are
 * non-mutating, everything else mutating. */
enum retry_category retry_action_category(const char *action, bool unfiltered);

/* Adaptive parameters (botocore adaptive.py / cubic): on a throttle the fill
 * rate is multiplied by BETA (not below MIN_RATE); afterwards it grows back as
 * rate(t) = C (t - K)^3 + W_max with K = cbrt(W_max (1 - BETA) / C), t seconds
 * since the throttle, capped at the documented refill. Unlike botocore, the base
 * is our current fill rate rather than a measured send rate, and the limiter is
 * on from the start at the documented rates. */
#define RETRY_ADAPTIVE_BETA 0.7
#define RETRY_ADAPTIVE_C 0.4
#define RETRY_ADAPTIVE_MIN_RATE 0.5

struct retry_limiter;

/* A limiter with one bucket per (action, filtered/unfiltered), all full.
 * scale (0 < scale <= 1) multiplies every documented size and rate: a driver
 * sharing the account with other clients can claim only a part. clock may be
 * NULL (real time); it is borrowed and must outlive the limiter. */
struct retry_limiter *retry_limiter_new(const struct retry_clock *clock, double scale);
void retry_limiter_free(struct retry_limiter *l);

/* Takes a token for action, waiting (sleeping, lock released) until one is due.
 * Tokens are reserved in arrival order, so waiters are served first come, first
 * served. Returns 0, or -1 with STATUS_DEADLINE_EXCEEDED at once — without
 * sleeping and without taking a token — when the token would only be due after
 * deadline_ms (RPC_NO_DEADLINE: wait as long as needed). */
int retry_limiter_acquire(struct retry_limiter *l, const char *action, bool unfiltered, int64_t deadline_ms,
			  struct status *st);

/* Feeds an answer back: throttled = EC2 said RequestLimitExceeded (or another
 * throttle code); anything else lets the rate recover. */
void retry_limiter_feedback(struct retry_limiter *l, const char *action, bool unfiltered, bool throttled);

/* The current fill rate (tokens/s) and available tokens (may be negative while
 * reservations are outstanding) of action's bucket, for tests and metrics. */
double retry_limiter_rate(struct retry_limiter *l, const char *action, bool unfiltered);
double retry_limiter_tokens(struct retry_limiter *l, const char *action, bool unfiltered);

#endif
