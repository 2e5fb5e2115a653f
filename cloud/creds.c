/*
 * creds: the provider object — cache, refresh policy, the chain walk and the
 * environment source — plus the helpers every source shares. See creds.h.
 *
 * Refresh: one refresher at a time (a flag under the mutex, never a lock held
 * across the network). While it works, callers whose cached credentials are
 * still valid get those; callers with nothing valid wait on a condition
 * variable, bounded by their own deadline. A refresh that yields credentials
 * already inside the window (IMDS hands out the old ones until it rotates)
 * is not retried for a minute, so that a hot path does not hammer the source.
 * Not here: the network sources (creds_sts.c, creds_http.c) and the files
 * (creds_file.c). Invariants: the cache is wiped on replace, invalidate and
 * free; log lines carry only creds.source and expiry times.
 */
#include "cloud/creds.h"
#include "cloud/creds_internal.h"

#include "common/log.h"
#include "common/rpc.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RETRY_AFTER_FAILURE_S 30
#define RETRY_AFTER_STALE_S 60
#define MIN_REMAINING_S 60 /* never hand out credentials closer than this to expiry */

struct creds_provider {
	const struct endpoint_env *env;
	struct http_client *http;
	struct imds_client *imds;
	char *region;
	time_t (*now)(void *ctx);
	void *clock_ctx;
	int window_s;
	pthread_mutex_t mu;     /* guards everything below */
	pthread_cond_t cv;      /* signalled when a refresh ends */
	bool have;
	bool refreshing;
	time_t next_attempt;    /* no refresh before this (0: any time) */
	char last_source[CREDS_SOURCE_MAX];
	struct creds cache;
};

void creds_dispose(struct creds *c) { OPENSSL_cleanse(c, sizeof *c); }

static time_t default_now(void *ctx)
{
	(void)ctx;
	return time(NULL);
}

struct creds_provider *creds_provider_new(const struct creds_options *o)
{
	struct creds_provider *p = xcalloc(1, sizeof *p);
	p->env = o->env;
	p->http = o->http;
	p->imds = o->imds;
	p->region = xstrdup(o->region ? o->region : "");
	p->now = o->now ? o->now : default_now;
	p->clock_ctx = o->clock_ctx;
	p->window_s = o->refresh_window_s > 0 ? o->refresh_window_s : CREDS_DEFAULT_REFRESH_WINDOW_S;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	return p;
}

void creds_provider_free(struct creds_provider *p)
{
	if (p == NULL)
		return;
	creds_dispose(&p->cache);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->region);
	free(p);
}

void creds_invalidate(struct creds_provider *p)
{
	pthread_mutex_lock(&p->mu);
	if (!p->refreshing) {
		creds_dispose(&p->cache);
		p->have = false;
	}
	p->next_attempt = 0;
	pthread_mutex_unlock(&p->mu);
}

/* ---- shared helpers ---------------------------------------------------- */

const char *creds_env(const struct creds_ctx *ctx, const char *name)
{
	const char *v = ctx->env->getenv_fn(ctx->env->ctx, name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

int creds_set_field(char *dst, size_t cap, const char *value, const char *what, struct status *st)
{
	size_t n = value ? strlen(value) : 0;
	if (n == 0)
		return status_set(st, STATUS_INTERNAL, "%s is empty", what);
	if (n >= cap)
		return status_set(st, STATUS_INTERNAL, "%s is too long (%zu bytes)", what, n);
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)value[i]))
			return status_set(st, STATUS_INTERNAL, "%s contains invalid characters", what);
	memcpy(dst, value, n + 1);
	return 0;
}

void creds_buf_wipe(struct buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	buf_dispose(b);
}

int creds_read_token_file(const char *path, size_t max, const char *what, struct buf *out, struct status *st)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s: cannot open %s: %s", what, path,
				  strerror(errno));
	/* Read into storage sized once (max + 2) so that no partial copy of the
	 * token is left behind by a reallocation. */
	buf_reserve(out, max + 2);
	size_t n = fread(out->data, 1, max + 1, f);
	bool err = ferror(f) != 0;
	fclose(f);
	out->len = n;
	out->data[n] = '\0';
	if (err)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s: cannot read %s", what, path);
	if (n > max)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s: %s is larger than %zu bytes", what, path, max);
	size_t s = 0;
	while (s < n && isspace((unsigned char)out->data[s]))
		s++;
	while (n > s && isspace((unsigned char)out->data[n - 1]))
		n--;
	memmove(out->data, out->data + s, n - s);
	OPENSSL_cleanse(out->data + (n - s), out->len - (n - s));
	out->len = n - s;
	out->data[out->len] = '\0';
	if (out->len == 0)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s: %s is empty", what, path);
	if (strlen(out->data) != out->len)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s: %s contains a NUL byte", what, path);
	return 0;
}

static int two(const char *s) { return isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) ? (s[0] - '0') * 10 + (s[1] - '0') : -1; }

int creds_parse_time(const char *s, time_t *out)
{
	/* YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm] */
	if (s == NULL || strlen(s) < 19)
		return -1;
	for (int i = 0; i < 4; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = two(s + 5) - 1;
	tm.tm_mday = two(s + 8);
	tm.tm_hour = two(s + 11);
	tm.tm_min = two(s + 14);
	tm.tm_sec = two(s + 17);
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
	    tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		/* hh first: p[3] exists only when p[1] and p[2] are digits. */
		int hh = two(p + 1);
		if (hh < 0)
			return -1;
		int mm = p[3] == ':' ? two(p + 4) : two(p + 3);
		if (mm < 0 || hh > 23 || mm > 59)
			return -1;
		offset = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += p[3] == ':' ? 6 : 5;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t - offset;
	return 0;
}

/* ---- the chain --------------------------------------------------------- */

static int from_env(const struct creds_ctx *ctx, struct creds *out, bool *found, struct status *st)
{
	const char *ak = creds_env(ctx, "AWS_ACCESS_KEY_ID");
	const char *sk = creds_env(ctx, "AWS_SECRET_ACCESS_KEY");
	*found = ak != NULL || sk != NULL;
	if (!*found)
		return 0;
	if (ak == NULL || sk == NULL)
		return status_set(st, STATUS_FAILED_PRECONDITION, "environment: %s is set but %s is not",
				  ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				  ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	const char *tok = creds_env(ctx, "AWS_SESSION_TOKEN");
	if (tok == NULL)
		tok = creds_env(ctx, "AWS_SECURITY_TOKEN"); /* the legacy name */
	if (creds_set_field(out->access_key_id, sizeof out->access_key_id, ak, "AWS_ACCESS_KEY_ID", st) != 0 ||
	    creds_set_field(out->secret_access_key, sizeof out->secret_access_key, sk, "AWS_SECRET_ACCESS_KEY",
			    st) != 0 ||
	    (tok && creds_set_field(out->session_token, sizeof out->session_token, tok, "AWS_SESSION_TOKEN", st) != 0))
		return status_prefix(st, "environment: ");
	const char *exp = creds_env(ctx, "AWS_CREDENTIAL_EXPIRATION");
	if (exp != NULL && creds_parse_time(exp, &out->expiration) != 0)
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "environment: AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 time");
	snprintf(out->source, sizeof out->source, "environment");
	return 0;
}

static int resolve(const struct creds_ctx *ctx, struct creds *out, struct status *st)
{
	bool found = false;
	if (from_env(ctx, out, &found, st) != 0)
		return -1;
	if (found)
		return 0;

	const char *role = creds_env(ctx, "AWS_ROLE_ARN");
	const char *token_file = creds_env(ctx, "AWS_WEB_IDENTITY_TOKEN_FILE");
	if (role != NULL && token_file != NULL)
		return creds_web_identity(ctx, role, token_file, creds_env(ctx, "AWS_ROLE_SESSION_NAME"), out, st);
	if (role != NULL || token_file != NULL)
		log_v(2, "credentials: %s is set without %s; web identity skipped",
		      role ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE",
		      role ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN");

	if (creds_from_profile(ctx, out, &found, st) != 0)
		return -1;
	if (found)
		return 0;
	if (creds_from_container(ctx, out, &found, st) != 0)
		return -1;
	if (found)
		return 0;
	if (ctx->imds == NULL || imds_disabled(ctx->imds))
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "no AWS credentials found: none in the environment, no web identity "
				  "(AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE), no profile, no container "
				  "credentials, and the instance metadata service is %s",
				  ctx->imds ? "disabled (AWS_EC2_METADATA_DISABLED)" : "not in use");
	return creds_from_imds(ctx, out, st);
}

static void to_iso(time_t t, char *out, size_t cap)
{
	struct tm tm;
	if (t == 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(out, cap, "never");
		return;
	}
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool fresh(const struct creds_provider *p, time_t now)
{
	return p->have && (p->cache.expiration == 0 || now < p->cache.expiration - p->window_s);
}

static bool still_valid(const struct creds_provider *p, time_t now)
{
	return p->have && (p->cache.expiration == 0 || now < p->cache.expiration - MIN_REMAINING_S);
}

/* Waits for the running refresh to end, or the deadline. Returns -1 on timeout. */
static int wait_refresh(struct creds_provider *p, int64_t deadline_ms)
{
	if (deadline_ms == RPC_NO_DEADLINE) {
		pthread_cond_wait(&p->cv, &p->mu);
		return 0;
	}
	struct timespec ts = { (time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L };
	return pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0 ? 0 : (rpc_now_ms() >= deadline_ms ? -1 : 0);
}

int creds_get(struct creds_provider *p, int64_t deadline_ms, struct creds *out, struct status *st)
{
	pthread_mutex_lock(&p->mu);
	for (;;) {
		time_t now = p->now(p->clock_ctx);
		if (fresh(p, now) || (still_valid(p, now) && (p->refreshing || now < p->next_attempt))) {
			memcpy(out, &p->cache, sizeof *out);
			pthread_mutex_unlock(&p->mu);
			return 0;
		}
		if (!p->refreshing)
			break;
		if (wait_refresh(p, deadline_ms) != 0) {
			pthread_mutex_unlock(&p->mu);
			return status_set(st, STATUS_DEADLINE_EXCEEDED,
					  "credentials: deadline exceeded waiting for a refresh");
		}
	}
	p->refreshing = true;
	pthread_mutex_unlock(&p->mu);

	time_t now = p->now(p->clock_ctx);
	struct creds_ctx ctx = { .env = p->env, .http = p->http, .imds = p->imds, .region = p->region, .now = now,
				 .deadline_ms = deadline_ms };
	struct creds *fresh_creds = xcalloc(1, sizeof *fresh_creds);
	struct status local = STATUS_INIT;
	int rc = resolve(&ctx, fresh_creds, &local);
	char when[32];
	to_iso(fresh_creds->expiration, when, sizeof when);
	if (rc == 0 && fresh_creds->expiration != 0 && fresh_creds->expiration <= now + MIN_REMAINING_S)
		rc = status_set(&local, STATUS_UNAUTHENTICATED, "credentials from %s expired at %s",
				fresh_creds->source, when);

	pthread_mutex_lock(&p->mu);
	p->refreshing = false;
	if (rc == 0) {
		creds_dispose(&p->cache);
		memcpy(&p->cache, fresh_creds, sizeof p->cache);
		p->have = true;
		bool stale = p->cache.expiration != 0 && now >= p->cache.expiration - p->window_s;
		p->next_attempt = stale ? now + RETRY_AFTER_STALE_S : 0;
		if (strcmp(p->last_source, p->cache.source) != 0)
			log_info("credentials from %s (expire %s)", p->cache.source, when);
		else
			log_v(2, "credentials from %s refreshed (expire %s)", p->cache.source, when);
		snprintf(p->last_source, sizeof p->last_source, "%s", p->cache.source);
		memcpy(out, &p->cache, sizeof *out);
	} else if (still_valid(p, now)) {
		/* Keep working on what we have; AWS still accepts it. */
		log_warn("credentials: refresh failed, keeping those from %s for now: %s", p->cache.source,
			 local.msg);
		p->next_attempt = now + RETRY_AFTER_FAILURE_S;
		memcpy(out, &p->cache, sizeof *out);
		rc = 0;
	} else {
		status_copy(st, &local);
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	creds_dispose(fresh_creds);
	free(fresh_creds);
	return rc;
}
