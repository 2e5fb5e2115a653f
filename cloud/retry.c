/*
 * retry: backoff, retry quota and the adaptive client-side token buckets. See
 * retry.h.
 *
 * The buckets are reservation-based: a caller that finds no token takes one
 * anyway (the balance goes negative) and sleeps until the refill has paid it
 * back, so the mutex is held only for arithmetic and concurrent waiters are
 * served in arrival order. A token that would only be due after the caller's
 * deadline is not reserved at all: the caller is told at once.
 * The adaptive rate follows botocore's CUBIC limiter (retries/adaptive.py,
 * cubic.py) with β = 0.7 and C = 0.4, bounded above by EC2's documented refill.
 */
#include "cloud/retry.h"

#include "common/rpc.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- clock ----------------------------------------------------------------- */

int64_t retry_now_ms(const struct retry_clock *clock)
{
	if (clock != NULL && clock->now_ms != NULL)
		return clock->now_ms(clock->ctx);
	return rpc_now_ms();
}

void retry_sleep_ms(const struct retry_clock *clock, int64_t ms)
{
	if (ms <= 0)
		return;
	if (clock != NULL && clock->sleep_ms != NULL) {
		clock->sleep_ms(clock->ctx, ms);
		return;
	}
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

uint64_t retry_random(const struct retry_clock *clock)
{
	if (clock != NULL && clock->random != NULL)
		return clock->random(clock->ctx);
	/* glibc >= 2.36: thread-safe, seeded from the kernel. */
	return ((uint64_t)arc4random() << 32) | arc4random();
}

/* ---- backoff ------------------------------------------------------------------ */

int64_t retry_backoff_ms(const struct retry_policy *p, int retry_no, uint64_t rnd)
{
	if (retry_no < 1)
		retry_no = 1;
	int64_t ceiling = p->base_ms;
	/* Double without overflowing: stop as soon as the cap is reached. */
	for (int i = 1; i < retry_no && ceiling < p->cap_ms; i++)
		ceiling *= 2;
	if (ceiling > p->cap_ms)
		ceiling = p->cap_ms;
	if (ceiling <= 0)
		return 0;
	/* Uniform in [0, ceiling]: the modulo bias over 2^64 is negligible. */
	return (int64_t)(rnd % (uint64_t)(ceiling + 1));
}

enum aws_error_retry retry_class_of_transport(int status_code)
{
	return status_code == STATUS_UNAVAILABLE || status_code == STATUS_DEADLINE_EXCEEDED ? AWS_ERROR_RETRY_TRANSIENT
											      : AWS_ERROR_RETRY_NONE;
}

/* ---- retry quota ---------------------------------------------------------------- */

void retry_quota_init(struct retry_quota *q, int capacity)
{
	pthread_mutex_init(&q->mu, NULL);
	q->tokens = q->capacity = capacity;
}

void retry_quota_dispose(struct retry_quota *q)
{
	pthread_mutex_destroy(&q->mu);
}

int retry_quota_tokens(struct retry_quota *q)
{
	pthread_mutex_lock(&q->mu);
	int n = q->tokens;
	pthread_mutex_unlock(&q->mu);
	return n;
}

static bool quota_take(struct retry_quota *q, int cost)
{
	pthread_mutex_lock(&q->mu);
	bool ok = q->tokens >= cost;
	if (ok)
		q->tokens -= cost;
	pthread_mutex_unlock(&q->mu);
	return ok;
}

static void quota_give(struct retry_quota *q, int n)
{
	pthread_mutex_lock(&q->mu);
	q->tokens += n;
	if (q->tokens > q->capacity)
		q->tokens = q->capacity;
	pthread_mutex_unlock(&q->mu);
}

/* ---- one call's retries ------------------------------------------------------------ */

void retry_init(struct retry *r, const struct retry_policy *p, const struct retry_clock *clock,
		struct retry_quota *quota, int64_t deadline_ms)
{
	r->policy = p;
	r->clock = clock;
	r->quota = quota;
	r->deadline_ms = deadline_ms;
	r->attempts = 0;
	r->last_cost = 0;
	r->slept_ms = 0;
}

int retry_after_failure(struct retry *r, enum aws_error_retry cls, bool timeout, struct status *st)
{
	r->attempts++;
	if (cls == AWS_ERROR_RETRY_NONE)
		return -1;
	if (r->attempts >= r->policy->max_attempts)
		return status_prefix(st, "gave up after %d attempts (attempt limit): ", r->attempts);
	int64_t delay = retry_backoff_ms(r->policy, r->attempts, retry_random(r->clock));
	if (r->deadline_ms != RPC_NO_DEADLINE && retry_now_ms(r->clock) + delay >= r->deadline_ms)
		return status_prefix(st, "gave up after %d attempts (deadline): ", r->attempts);
	if (r->quota != NULL) {
		int cost = timeout ? RETRY_QUOTA_TIMEOUT_COST : RETRY_QUOTA_COST;
		if (!quota_take(r->quota, cost))
			return status_prefix(st, "gave up after %d attempts (retry quota empty): ", r->attempts);
		r->last_cost = cost;
	}
	retry_sleep_ms(r->clock, delay);
	r->slept_ms += delay;
	return 0;
}

void retry_success(struct retry *r)
{
	r->attempts++;
	if (r->quota != NULL)
		quota_give(r->quota, r->attempts == 1 ? 1 : r->last_cost);
}

/* ---- categories ------------------------------------------------------------------- */

static const struct retry_bucket_spec specs[RETRY_CAT_COUNT] = {
	[RETRY_CAT_NON_MUTATING] = { 100, 20 },
	[RETRY_CAT_UNFILTERED] = { 50, 10 },
	[RETRY_CAT_MUTATING] = { 50, 5 },
	[RETRY_CAT_CREATE_DELETE] = { 100, 5 },
	[RETRY_CAT_TAGS] = { 100, 10 },
};

static const char *const cat_names[RETRY_CAT_COUNT] = {
	[RETRY_CAT_NON_MUTATING] = "non-mutating", [RETRY_CAT_UNFILTERED] = "unfiltered",
	[RETRY_CAT_MUTATING] = "mutating",         [RETRY_CAT_CREATE_DELETE] = "create-delete",
	[RETRY_CAT_TAGS] = "tags",
};

const struct retry_bucket_spec *retry_category_spec(enum retry_category c)
{
	return &specs[(unsigned)c < RETRY_CAT_COUNT ? c : RETRY_CAT_MUTATING];
}

const char *retry_category_name(enum retry_category c)
{
	return (unsigned)c < RETRY_CAT_COUNT ? cat_names[c] : "unknown";
}

/* The actions the driver sends, from aws-facts.md §3's table. has_unfiltered:
 * the action also has the smaller unfiltered/unpaginated bucket. */
static const struct {
	const char *action;
	enum retry_category cat;
	bool has_unfiltered;
} actions[] = {
	{ "CreateVolume", RETRY_CAT_CREATE_DELETE, false },
	{ "DeleteVolume", RETRY_CAT_CREATE_DELETE, false },
	{ "CreateSnapshot", RETRY_CAT_CREATE_DELETE, false },
	{ "DeleteSnapshot", RETRY_CAT_CREATE_DELETE, false },
	{ "CreateTags", RETRY_CAT_TAGS, false },
	{ "DeleteTags", RETRY_CAT_TAGS, false },
	{ "AttachVolume", RETRY_CAT_MUTATING, false },
	{ "DetachVolume", RETRY_CAT_MUTATING, false },
	{ "ModifyVolume", RETRY_CAT_MUTATING, false },
	/* Not in THRDOC's lists (2025 action): a mutating action by the rule. */
	{ "CopyVolumes", RETRY_CAT_MUTATING, false },
	{ "EnableFastSnapshotRestores", RETRY_CAT_MUTATING, false },
	{ "DisableFastSnapshotRestores", RETRY_CAT_MUTATING, false },
	{ "DescribeVolumes", RETRY_CAT_NON_MUTATING, true },
	{ "DescribeInstances", RETRY_CAT_NON_MUTATING, true },
	{ "DescribeSnapshots", RETRY_CAT_NON_MUTATING, true },
	{ "DescribeVolumesModifications", RETRY_CAT_NON_MUTATING, false },
	{ "DescribeVolumeStatus", RETRY_CAT_NON_MUTATING, false },
	{ "DescribeAvailabilityZones", RETRY_CAT_NON_MUTATING, false },
	{ "DescribeInstanceTypes", RETRY_CAT_NON_MUTATING, false },
	{ "DescribeFastSnapshotRestores", RETRY_CAT_NON_MUTATING, false },
	{ "DescribeTags", RETRY_CAT_NON_MUTATING, false },
};

#define N_ACTIONS (sizeof actions / sizeof actions[0])
/* Two buckets per known action (filtered, unfiltered), then one shared bucket
 * each for unknown non-mutating and unknown mutating actions. */
#define N_BUCKETS (2 * N_ACTIONS + 2)

static int action_index(const char *action)
{
	for (size_t i = 0; i < N_ACTIONS; i++)
		if (strcmp(actions[i].action, action) == 0)
			return (int)i;
	return -1;
}

static bool starts_with(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool reads_only(const char *action)
{
	return starts_with(action, "Describe") || starts_with(action, "List") || starts_with(action, "Get") ||
	       starts_with(action, "Search");
}

enum retry_category retry_action_category(const char *action, bool unfiltered)
{
	int i = action_index(action);
	if (i >= 0)
		return unfiltered && actions[i].has_unfiltered ? RETRY_CAT_UNFILTERED : actions[i].cat;
	return reads_only(action) ? RETRY_CAT_NON_MUTATING : RETRY_CAT_MUTATING;
}

/* ---- the limiter ---------------------------------------------------------------------- */

struct bucket {
	double tokens;        /* may be negative: reserved by waiters */
	double rate;          /* current fill rate, tokens/s */
	double max_rate;      /* documented refill × scale */
	double capacity;      /* documented maximum × scale */
	int64_t last_ms;      /* time of the last refill */
	bool throttled;       /* EC2 has throttled this bucket at least once */
	int64_t throttle_ms;  /* time of the last throttle */
	double w_max;         /* rate just before the last throttle */
	double k;             /* CUBIC K for w_max */
};

struct retry_limiter {
	pthread_mutex_t mu;
	const struct retry_clock *clock;
	struct bucket b[N_BUCKETS];
};

static int bucket_index(const char *action, bool unfiltered)
{
	int i = action_index(action);
	if (i >= 0)
		return 2 * i + (unfiltered && actions[i].has_unfiltered ? 1 : 0);
	return (int)(2 * N_ACTIONS) + (reads_only(action) ? 0 : 1);
}

static enum retry_category bucket_category(int idx)
{
	if (idx >= (int)(2 * N_ACTIONS))
		return idx == (int)(2 * N_ACTIONS) ? RETRY_CAT_NON_MUTATING : RETRY_CAT_MUTATING;
	return (idx & 1) ? RETRY_CAT_UNFILTERED : actions[idx / 2].cat;
}

struct retry_limiter *retry_limiter_new(const struct retry_clock *clock, double scale)
{
	if (!(scale > 0) || scale > 1)
		scale = 1;
	struct retry_limiter *l = xcalloc(1, sizeof *l);
	pthread_mutex_init(&l->mu, NULL);
	l->clock = clock;
	int64_t now = retry_now_ms(clock);
	for (int i = 0; i < (int)N_BUCKETS; i++) {
		const struct retry_bucket_spec *s = retry_category_spec(bucket_category(i));
		struct bucket *b = &l->b[i];
		b->capacity = s->capacity * scale;
		b->max_rate = s->refill * scale;
		b->rate = b->max_rate;
		b->tokens = b->capacity;
		b->last_ms = now;
	}
	return l;
}

void retry_limiter_free(struct retry_limiter *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* The burst allowed at the current rate: the documented capacity scaled down
 * with the rate, so a slowed bucket cannot release a full burst again. */
static double effective_capacity(const struct bucket *b)
{
	double c = b->capacity * (b->rate / b->max_rate);
	return c < 1 ? 1 : c;
}

static void refill(struct bucket *b, int64_t now)
{
	if (now > b->last_ms) {
		b->tokens += (double)(now - b->last_ms) * b->rate / 1000.0;
		b->last_ms = now;
	}
	double cap = effective_capacity(b);
	if (b->tokens > cap)
		b->tokens = cap;
}

int retry_limiter_acquire(struct retry_limiter *l, const char *action, bool unfiltered, int64_t deadline_ms,
			  struct status *st)
{
	int64_t wait_ms = 0;
	pthread_mutex_lock(&l->mu);
	struct bucket *b = &l->b[bucket_index(action, unfiltered)];
	int64_t now = retry_now_ms(l->clock);
	refill(b, now);
	if (b->tokens < 1) {
		/* Round up: waking a millisecond early would find the token not due. */
		double need = 1 - b->tokens;
		wait_ms = (int64_t)(need * 1000.0 / b->rate);
		if ((double)wait_ms * b->rate / 1000.0 < need)
			wait_ms++;
		if (deadline_ms != RPC_NO_DEADLINE && now + wait_ms > deadline_ms) {
			double rate = b->rate;
			pthread_mutex_unlock(&l->mu);
			return status_set(st, STATUS_DEADLINE_EXCEEDED,
					  "%s: client-side throttling: no request token before the deadline "
					  "(%.2f requests/s, next in %lld ms)",
					  action, rate, (long long)wait_ms);
		}
	}
	b->tokens -= 1;
	pthread_mutex_unlock(&l->mu);
	retry_sleep_ms(l->clock, wait_ms);
	return 0;
}

/* Cube root by Newton's method (keeps libm out of the link). */
static double cube_root(double v)
{
	if (v <= 0)
		return 0;
	double r = v < 1 ? 1 : v;
	for (int i = 0; i < 100; i++) {
		double next = r - (r * r * r - v) / (3 * r * r);
		if (next == r)
			break;
		r = next;
	}
	return r;
}

void retry_limiter_feedback(struct retry_limiter *l, const char *action, bool unfiltered, bool throttled)
{
	pthread_mutex_lock(&l->mu);
	struct bucket *b = &l->b[bucket_index(action, unfiltered)];
	int64_t now = retry_now_ms(l->clock);
	refill(b, now);
	if (throttled) {
		b->w_max = b->rate;
		b->k = cube_root(b->w_max * (1 - RETRY_ADAPTIVE_BETA) / RETRY_ADAPTIVE_C);
		b->rate *= RETRY_ADAPTIVE_BETA;
		/* The floor keeps a bucket from stalling; for a bucket whose own
		 * rate is below it (a small scale), a throttle must still slow
		 * it down, never speed it up. */
		double floor = RETRY_ADAPTIVE_MIN_RATE;
		if (floor > b->max_rate * RETRY_ADAPTIVE_BETA)
			floor = b->max_rate * RETRY_ADAPTIVE_BETA;
		if (b->rate < floor)
			b->rate = floor;
		b->throttled = true;
		b->throttle_ms = now;
		refill(b, now);  /* clamp the balance to the smaller burst */
	} else if (b->throttled && b->rate < b->max_rate) {
		double t = (double)(now - b->throttle_ms) / 1000.0 - b->k;
		double r = RETRY_ADAPTIVE_C * t * t * t + b->w_max;
		/* Before K the curve is below W_max·β only in theory (t ≥ 0 gives
		 * β·W_max at least); never go below where the throttle put us. */
		if (r < b->rate)
			r = b->rate;
		if (r > b->max_rate)
			r = b->max_rate;
		b->rate = r;
	}
	pthread_mutex_unlock(&l->mu);
}

double retry_limiter_rate(struct retry_limiter *l, const char *action, bool unfiltered)
{
	pthread_mutex_lock(&l->mu);
	double r = l->b[bucket_index(action, unfiltered)].rate;
	pthread_mutex_unlock(&l->mu);
	return r;
}

double retry_limiter_tokens(struct retry_limiter *l, const char *action, bool unfiltered)
{
	pthread_mutex_lock(&l->mu);
	struct bucket *b = &l->b[bucket_index(action, unfiltered)];
	refill(b, retry_now_ms(l->clock));
	double t = b->tokens;
	pthread_mutex_unlock(&l->mu);
	return t;
}
