/*
 * imds: IMDSv2 token handling, the GET loop with its retries, and the
 * instance_info assembly. See imds.h for the protocol choices.
 *
 * Concurrency: the token cache is a few fields under one mutex that is never
 * held across a request. Two threads that both find no valid token both fetch
 * one (tokens are independent; IMDS does not care), which keeps every wait
 * bounded by its own caller's deadline instead of by another caller's.
 * Not here: interpreting credentials documents (creds_http.c), the Kubernetes
 * fallback. Invariants: the token never reaches a message or a log line;
 * malformed metadata is reported by item name, not echoed.
 */
#include "cloud/imds.h"

#include "common/log.h"
#include "common/rpc.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TOKEN_MAX 512
#define V1_REMEMBER_MS (5 * 60 * 1000)

struct imds_client {
	struct http_client *http;
	char *base;        /* ".../latest/" */
	char *token_url;   /* ".../latest/api/token" */
	bool disabled;
	bool v1_disabled;
	long timeout_ms;
	int attempts;
	int ttl_s;
	int64_t (*now_ms)(void *ctx);
	void *clock_ctx;
	pthread_mutex_t mu;      /* guards the fields below */
	char token[TOKEN_MAX + 1];
	int64_t token_refresh_at; /* injected-clock ms; 0 = no token */
	int64_t v1_until;         /* injected-clock ms; use IMDSv1 until then */
};

static int64_t default_now(void *ctx)
{
	(void)ctx;
	return rpc_now_ms();
}

static bool env_true(const struct endpoint_env *env, const char *name)
{
	const char *v = env->getenv_fn(env->ctx, name);
	return v != NULL && strcasecmp(v, "true") == 0;
}

struct imds_client *imds_new(const struct imds_options *o, struct status *st)
{
	const struct endpoint_env *env = o->env;
	char *origin = NULL;
	const char *ep = env->getenv_fn(env->ctx, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (ep != NULL && ep[0] != '\0') {
		struct endpoint_url u;
		endpoint_url_init(&u);
		if (endpoint_url_parse(ep, "AWS_EC2_METADATA_SERVICE_ENDPOINT", &u, st) != 0) {
			endpoint_url_dispose(&u);
			return NULL;
		}
		/* Keep a path prefix if one was given (a proxy may mount IMDS under one). */
		size_t plen = strlen(u.path);
		while (plen > 0 && u.path[plen - 1] == '/')
			plen--;
		origin = xasprintf("%s://%s%.*s", u.scheme, u.host_header, (int)plen, u.path);
		endpoint_url_dispose(&u);
	} else {
		const char *mode = env->getenv_fn(env->ctx, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
		if (mode == NULL || mode[0] == '\0' || strcasecmp(mode, "IPv4") == 0)
			origin = xstrdup(IMDS_DEFAULT_ENDPOINT);
		else if (strcasecmp(mode, "IPv6") == 0)
			origin = xstrdup(IMDS_DEFAULT_ENDPOINT_IPV6);
		else {
			status_set(st, STATUS_INVALID_ARGUMENT,
				   "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: must be IPv4 or IPv6");
			return NULL;
		}
	}
	struct imds_client *c = xcalloc(1, sizeof *c);
	c->http = o->http;
	c->base = xasprintf("%s/latest/", origin);
	c->token_url = xasprintf("%s/latest/api/token", origin);
	free(origin);
	c->disabled = env_true(env, "AWS_EC2_METADATA_DISABLED");
	c->v1_disabled = env_true(env, "AWS_EC2_METADATA_V1_DISABLED");
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : IMDS_DEFAULT_TIMEOUT_MS;
	c->attempts = o->attempts > 0 ? o->attempts : IMDS_DEFAULT_ATTEMPTS;
	c->ttl_s = o->token_ttl_s > 0 ? o->token_ttl_s : IMDS_DEFAULT_TOKEN_TTL_S;
	if (c->ttl_s > 21600)
		c->ttl_s = 21600; /* IMDS's maximum */
	c->now_ms = o->now_ms ? o->now_ms : default_now;
	c->clock_ctx = o->clock_ctx;
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void imds_free(struct imds_client *c)
{
	if (c == NULL)
		return;
	OPENSSL_cleanse(c->token, sizeof c->token);
	pthread_mutex_destroy(&c->mu);
	free(c->base);
	free(c->token_url);
	free(c);
}

bool imds_disabled(const struct imds_client *c) { return c->disabled; }

/* Sleeps for a short backoff, never past the deadline. */
static void backoff(int attempt, int64_t deadline_ms)
{
	int64_t ms = 100LL << (attempt < 4 ? attempt : 4);
	if (deadline_ms != RPC_NO_DEADLINE) {
		int64_t left = deadline_ms - rpc_now_ms();
		if (left <= 0)
			return;
		if (ms > left)
			ms = left;
	}
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static bool token_valid_text(const char *s, size_t len)
{
	if (len == 0 || len > TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return true;
}

/* How the token step ended. */
enum token_result { TOKEN_OK, TOKEN_V1, TOKEN_ERR };

/* Fetches a token into tok (TOKEN_MAX + 1 bytes) and its lifetime in seconds. */
static enum token_result fetch_token(struct imds_client *c, int64_t deadline_ms, char *tok, int *ttl_out,
				     struct status *st)
{
	char ttl[16];
	snprintf(ttl, sizeof ttl, "%d", c->ttl_s);
	struct http_header h[] = { { "X-aws-ec2-metadata-token-ttl-seconds", ttl } };
	struct http_response resp;
	http_response_init(&resp);
	enum token_result res = TOKEN_ERR;
	bool last_timed_out = false;
	for (int attempt = 0; attempt < c->attempts; attempt++) {
		if (attempt > 0 && !last_timed_out)
			backoff(attempt - 1, deadline_ms);
		struct http_request req = {
			.method = "PUT", .url = c->token_url, .headers = h, .n_headers = 1,
			.deadline_ms = deadline_ms, .timeout_ms = c->timeout_ms, .connect_timeout_ms = c->timeout_ms,
			.max_body = TOKEN_MAX, .sensitive = true,
		};
		last_timed_out = false;
		if (http_do(c->http, &req, &resp, st) != 0) {
			if (st != NULL && st->code == STATUS_DEADLINE_EXCEEDED)
				goto out;
			last_timed_out = resp.error == HTTP_ERR_TIMEOUT;
			if (resp.error == HTTP_ERR_TIMEOUT || resp.error == HTTP_ERR_CONNECT || resp.error == HTTP_ERR_IO)
				continue;
			goto out;
		}
		if (resp.status == 200) {
			if (!token_valid_text(resp.body.data, resp.body.len)) {
				status_set(st, STATUS_INTERNAL, "IMDS: malformed session token");
				goto out;
			}
			memcpy(tok, resp.body.data, resp.body.len);
			tok[resp.body.len] = '\0';
			*ttl_out = c->ttl_s;
			const char *t = http_response_header(&resp, "X-aws-ec2-metadata-token-ttl-seconds");
			if (t != NULL) {
				long v = strtol(t, NULL, 10);
				if (v > 0 && v < *ttl_out)
					*ttl_out = (int)v;
			}
			res = TOKEN_OK;
			goto out;
		}
		if (resp.status == 403 || resp.status == 404 || resp.status == 405) {
			res = TOKEN_V1;
			goto out;
		}
		if (resp.status == 400) {
			status_set(st, STATUS_FAILED_PRECONDITION, "IMDS: token request rejected (HTTP 400)");
			goto out;
		}
		status_set(st, STATUS_UNAVAILABLE, "IMDS: token request answered HTTP %ld", resp.status);
		if (resp.status < 500 && resp.status != 429)
			goto out;
	}
	/* Every attempt failed; only a timeout means "PUT responses do not reach
	 * us" (hop limit), where v1 GETs may still work. */
	if (last_timed_out)
		res = TOKEN_V1;
out:
	http_response_dispose(&resp);
	if (res == TOKEN_V1 && c->v1_disabled) {
		status_set(st, STATUS_FAILED_PRECONDITION,
			   "IMDS: no IMDSv2 session token and AWS_EC2_METADATA_V1_DISABLED forbids IMDSv1");
		return TOKEN_ERR;
	}
	if (res == TOKEN_V1)
		log_v(2, "IMDS: no IMDSv2 session token (PUT refused or timed out), using IMDSv1");
	return res;
}

/* Gives a usable token in tok (or "" for v1). Returns -1 on error. */
static int current_token(struct imds_client *c, int64_t deadline_ms, char *tok, struct status *st)
{
	int64_t now = c->now_ms(c->clock_ctx);
	pthread_mutex_lock(&c->mu);
	if (c->v1_until > now) {
		tok[0] = '\0';
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	if (c->token_refresh_at > now) {
		memcpy(tok, c->token, sizeof c->token);
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	pthread_mutex_unlock(&c->mu);

	int ttl = 0;
	enum token_result r = fetch_token(c, deadline_ms, tok, &ttl, st);
	if (r == TOKEN_ERR)
		return -1;
	pthread_mutex_lock(&c->mu);
	if (r == TOKEN_V1) {
		tok[0] = '\0';
		c->v1_until = now + V1_REMEMBER_MS;
	} else {
		/* Refresh a minute early, or a tenth of the TTL for short TTLs, and
		 * count from before the request so that its latency is covered. */
		int64_t ttl_ms = (int64_t)ttl * 1000;
		int64_t margin = ttl_ms / 10 < 60000 ? ttl_ms / 10 : 60000;
		memcpy(c->token, tok, sizeof c->token);
		c->token_refresh_at = now + ttl_ms - margin;
		c->v1_until = 0;
	}
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static void forget_token(struct imds_client *c)
{
	pthread_mutex_lock(&c->mu);
	OPENSSL_cleanse(c->token, sizeof c->token);
	c->token_refresh_at = 0;
	c->v1_until = 0;
	pthread_mutex_unlock(&c->mu);
}

static bool path_valid(const char *p)
{
	if (p == NULL || p[0] == '\0' || p[0] == '/' || strlen(p) > 512 || strstr(p, "..") != NULL)
		return false;
	for (const char *q = p; *q; q++)
		if (!isgraph((unsigned char)*q) || *q == '?' || *q == '#' || *q == '%')
			return false;
	return true;
}

int imds_get(struct imds_client *c, const char *path, int64_t deadline_ms, struct buf *out, struct status *st)
{
	if (!path_valid(path))
		return status_set(st, STATUS_INVALID_ARGUMENT, "IMDS: invalid metadata path");
	if (c->disabled)
		return status_set(st, STATUS_UNAVAILABLE, "IMDS %s: disabled by AWS_EC2_METADATA_DISABLED", path);
	char *url = xasprintf("%s%s", c->base, path);
	char tok[TOKEN_MAX + 1];
	struct http_response resp;
	http_response_init(&resp);
	int ret = -1;
	for (int attempt = 0; attempt < c->attempts; attempt++) {
		if (attempt > 0)
			backoff(attempt - 1, deadline_ms);
		if (current_token(c, deadline_ms, tok, st) != 0)
			break;
		struct http_header h[] = { { "X-aws-ec2-metadata-token", tok } };
		struct http_request req = {
			.method = "GET", .url = url, .headers = h, .n_headers = tok[0] ? 1 : 0,
			.deadline_ms = deadline_ms, .timeout_ms = c->timeout_ms, .connect_timeout_ms = c->timeout_ms,
			/* Sensitive: the token travels in a header, and role
			 * credentials come back in the body. */
			.max_body = IMDS_MAX_BODY, .sensitive = true,
		};
		int rc = http_do(c->http, &req, &resp, st);
		OPENSSL_cleanse(tok, sizeof tok);
		if (rc != 0) {
			if (st != NULL && st->code == STATUS_DEADLINE_EXCEEDED)
				break;
			if (resp.error == HTTP_ERR_TIMEOUT || resp.error == HTTP_ERR_CONNECT || resp.error == HTTP_ERR_IO)
				continue;
			break;
		}
		if (resp.status == 200) {
			/* Hand the body over without a copy; it was received with
			 * wiping growth, so no stale copy of a secret is left. */
			struct buf tmp = *out;
			*out = resp.body;
			resp.body = tmp;
			buf_reset(&resp.body);
			ret = 0;
			break;
		}
		if (resp.status == 401) {
			/* Expired or foreign token, or v1 refused (HttpTokens=required):
			 * start over with a fresh token. */
			forget_token(c);
			status_set(st, STATUS_UNAUTHENTICATED, "IMDS %s: unauthorized (HTTP 401)", path);
			continue;
		}
		if (resp.status == 404) {
			status_set(st, STATUS_NOT_FOUND, "IMDS %s: not found", path);
			break;
		}
		if (resp.status == 403) {
			status_set(st, STATUS_PERMISSION_DENIED, "IMDS %s: forbidden (HTTP 403)", path);
			break;
		}
		status_set(st, STATUS_UNAVAILABLE, "IMDS %s: HTTP %ld", path, resp.status);
		if (resp.status < 500 && resp.status != 429)
			break;
	}
	if (ret != 0 && st != NULL && strncmp(st->msg, "IMDS", 4) != 0)
		status_prefix(st, "IMDS %s: ", path);
	http_response_dispose(&resp);
	free(url);
	return ret;
}

/* ---- instance identity ---------------------------------------------------- */

static void rtrim(struct buf *b)
{
	while (b->len > 0 && isspace((unsigned char)b->data[b->len - 1]))
		b->data[--b->len] = '\0';
}

static bool chars_ok(const char *s, const char *extra)
{
	if (s[0] == '\0')
		return false;
	for (const char *p = s; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && strchr(extra, *p) == NULL)
			return false;
	return true;
}

static bool valid_instance_id(const char *s) { return strncmp(s, "i-", 2) == 0 && s[2] && chars_ok(s, "-"); }
static bool valid_instance_type(const char *s) { return chars_ok(s, ".-") && strchr(s, '.') != NULL; }
static bool valid_region(const char *s) { return endpoint_region_valid(s); }
static bool valid_az(const char *s) { return chars_ok(s, "-"); }

static bool valid_arn(const char *s)
{
	if (strncmp(s, "arn:", 4) != 0)
		return false;
	for (const char *p = s; *p; p++)
		if (!isgraph((unsigned char)*p))
			return false;
	return true;
}

enum fetch_result { FETCH_OK, FETCH_MISSING, FETCH_MALFORMED, FETCH_ERR };

/* GETs path into dst (cap bytes) if it is valid. */
static enum fetch_result fetch_text(struct imds_client *c, const char *path, int64_t deadline_ms, char *dst,
				    size_t cap, bool (*valid)(const char *), struct status *st)
{
	struct buf b;
	buf_init(&b);
	struct status local = STATUS_INIT;
	enum fetch_result r;
	if (imds_get(c, path, deadline_ms, &b, &local) != 0) {
		r = local.code == STATUS_NOT_FOUND ? FETCH_MISSING : FETCH_ERR;
		if (r == FETCH_ERR)
			status_copy(st, &local);
	} else {
		rtrim(&b);
		if (b.len >= cap || strlen(b.data) != b.len || !valid(b.data)) {
			r = FETCH_MALFORMED;
		} else {
			memcpy(dst, b.data, b.len + 1);
			r = FETCH_OK;
		}
	}
	buf_dispose(&b);
	return r;
}

/* Fills the fields still empty from the identity document. */
static int fill_from_document(struct imds_client *c, int64_t deadline_ms, struct instance_info *out,
			      struct status *st)
{
	struct buf b;
	buf_init(&b);
	struct status local = STATUS_INIT;
	if (imds_get(c, "dynamic/instance-identity/document", deadline_ms, &b, &local) != 0) {
		buf_dispose(&b);
		if (local.code == STATUS_NOT_FOUND)
			return 0; /* nothing to add; the caller reports what is missing */
		return status_copy(st, &local);
	}
	json_error_t jerr;
	json_t *doc = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
	buf_dispose(&b);
	if (doc == NULL || !json_is_object(doc)) {
		json_decref(doc);
		return status_set(st, STATUS_INTERNAL, "IMDS dynamic/instance-identity/document: malformed JSON");
	}
	struct {
		const char *key;
		char *dst;
		size_t cap;
		bool (*valid)(const char *);
	} f[] = {
		{ "instanceId", out->instance_id, sizeof out->instance_id, valid_instance_id },
		{ "instanceType", out->instance_type, sizeof out->instance_type, valid_instance_type },
		{ "region", out->region, sizeof out->region, valid_region },
		{ "availabilityZone", out->availability_zone, sizeof out->availability_zone, valid_az },
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		if (f[i].dst[0] != '\0')
			continue;
		const char *v = json_string_value(json_object_get(doc, f[i].key));
		if (v != NULL && strlen(v) < f[i].cap && f[i].valid(v))
			snprintf(f[i].dst, f[i].cap, "%s", v);
	}
	json_decref(doc);
	return 0;
}

static int count_lines(const char *listing, int (*classify)(const char *line, size_t len, int *root))
{
	int n = 0, root = 0;
	const char *p = listing;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > 0) {
			int k = classify(p, len, &root);
			if (k < 0)
				return -1;
			n += k;
		}
		p += e ? (size_t)(e - p) + 1 : strlen(p);
	}
	return n + root;
}

static int classify_mac(const char *s, size_t len, int *root)
{
	(void)root;
	/* "0e:12:34:56:78:9a/" (the trailing slash marks a directory). */
	if (len == 18 && s[17] == '/')
		len = 17;
	if (len != 17)
		return -1;
	for (size_t i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return -1;
	}
	return 1;
}

static int classify_mapping(const char *s, size_t len, int *root)
{
	for (size_t i = 0; i < len; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return -1;
	if ((len == 3 && memcmp(s, "ami", 3) == 0) || (len == 4 && memcmp(s, "root", 4) == 0)) {
		/* "ami" and "root" both name the root device: count it once. */
		*root = 1;
		return 0;
	}
	if (len > 3 && memcmp(s, "ebs", 3) == 0) {
		for (size_t i = 3; i < len; i++)
			if (!isdigit((unsigned char)s[i]))
				return 0;
		return 1;
	}
	return 0; /* ephemeralN, swap and anything newer: not EBS attachments */
}

int imds_count_macs(const char *listing) { return count_lines(listing, classify_mac); }

int imds_count_ebs_mappings(const char *listing) { return count_lines(listing, classify_mapping); }

/* GETs a directory listing and counts it; *count untouched on 404. */
static int fetch_count(struct imds_client *c, const char *path, int64_t deadline_ms, int (*count)(const char *),
		       int *out, struct status *st)
{
	struct buf b;
	buf_init(&b);
	struct status local = STATUS_INIT;
	int ret = 0;
	if (imds_get(c, path, deadline_ms, &b, &local) != 0) {
		if (local.code != STATUS_NOT_FOUND)
			ret = status_copy(st, &local);
	} else {
		int n = strlen(b.data) == b.len ? count(b.data) : -1;
		if (n < 0)
			ret = status_set(st, STATUS_INTERNAL, "IMDS %s: malformed listing", path);
		else
			*out = n;
	}
	buf_dispose(&b);
	return ret;
}

int imds_get_instance_info(struct imds_client *c, int64_t deadline_ms, struct instance_info *out,
			   struct status *st)
{
	memset(out, 0, sizeof *out);
	out->ebs_block_devices = -1;
	struct {
		const char *path;
		char *dst;
		size_t cap;
		bool (*valid)(const char *);
	} req[] = {
		{ "meta-data/instance-id", out->instance_id, sizeof out->instance_id, valid_instance_id },
		{ "meta-data/instance-type", out->instance_type, sizeof out->instance_type, valid_instance_type },
		{ "meta-data/placement/region", out->region, sizeof out->region, valid_region },
		{ "meta-data/placement/availability-zone", out->availability_zone, sizeof out->availability_zone,
		  valid_az },
	};
	bool need_doc = false;
	for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
		enum fetch_result r = fetch_text(c, req[i].path, deadline_ms, req[i].dst, req[i].cap, req[i].valid, st);
		if (r == FETCH_ERR)
			return -1;
		if (r != FETCH_OK) {
			log_v(2, "IMDS %s: %s, trying the identity document", req[i].path,
			      r == FETCH_MISSING ? "missing" : "malformed");
			need_doc = true;
		}
	}
	if (need_doc && fill_from_document(c, deadline_ms, out, st) != 0)
		return -1;
	for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
		if (req[i].dst[0] == '\0')
			return status_set(st, STATUS_INTERNAL, "IMDS: no valid %s (metadata path and identity document)",
					  req[i].path + strlen("meta-data/"));
	if (strncmp(out->availability_zone, out->region, strlen(out->region)) != 0)
		return status_set(st, STATUS_INTERNAL, "IMDS: availability zone %s is not in region %s",
				  out->availability_zone, out->region);

	enum fetch_result r = fetch_text(c, "meta-data/placement/availability-zone-id", deadline_ms,
					 out->availability_zone_id, sizeof out->availability_zone_id, valid_az, st);
	if (r == FETCH_ERR)
		return -1;
	if (r == FETCH_MALFORMED)
		return status_set(st, STATUS_INTERNAL, "IMDS placement/availability-zone-id: malformed");
	r = fetch_text(c, "meta-data/outpost-arn", deadline_ms, out->outpost_arn, sizeof out->outpost_arn, valid_arn,
		       st);
	if (r == FETCH_ERR)
		return -1;
	if (r == FETCH_MALFORMED)
		return status_set(st, STATUS_INTERNAL, "IMDS outpost-arn: malformed");
	if (fetch_count(c, "meta-data/network/interfaces/macs/", deadline_ms, imds_count_macs,
			&out->network_interfaces, st) != 0)
		return -1;
	if (fetch_count(c, "meta-data/block-device-mapping/", deadline_ms, imds_count_ebs_mappings,
			&out->ebs_block_devices, st) != 0)
		return -1;
	log_v(2, "IMDS: instance %s (%s) in %s (%s%s%s), %d ENIs, %d EBS mappings", out->instance_id,
	      out->instance_type, out->availability_zone, out->availability_zone_id,
	      out->outpost_arn[0] ? ", outpost " : "", out->outpost_arn, out->network_interfaces,
	      out->ebs_block_devices);
	return 0;
}
