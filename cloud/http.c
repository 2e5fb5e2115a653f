/*
 * http: libcurl easy handles behind a small request/response API. See http.h
 * for the pooling choice and the fixed options.
 *
 * Every request starts from curl_easy_reset() on a pooled handle, which drops
 * the previous request's options but keeps its live connections, so nothing of
 * one request (headers, body pointers, timeouts) can leak into the next.
 * Budgets: the total timeout is min(request timeout, deadline - now) and the
 * connect timeout never exceeds it, so libcurl itself stops at the deadline; the
 * low-speed limit only ends dead transfers early (a slow drip is bounded by the
 * total timeout). The body cap is enforced twice: CURLOPT_MAXFILESIZE refuses a
 * too-large Content-Length before any byte is stored, and the write callback
 * stops a chunked or lying body the moment it would pass the cap.
 * Not here: retries, status interpretation, logging of anything but the origin
 * and path (never the query, headers or bodies).
 */
#include "cloud/http.h"

#include "common/log.h"
#include "common/rpc.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct http_client {
	pthread_mutex_t mu;          /* guards idle[], n_idle and stats */
	CURL *idle[HTTP_POOL_MAX_IDLE];
	size_t n_idle;
	CURLSH *share;               /* DNS cache and TLS sessions for every handle */
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
	char *user_agent;
	char *ca_bundle;             /* NULL: libcurl's built-in (system) bundle */
	size_t max_body;
	long connect_timeout_ms;
	long low_speed_time_s;
	struct http_stats stats;
};

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("libcurl global initialisation failed");
		abort();
	}
}

void http_global_init(void) { pthread_once(&g_init_once, global_init_once); }

void http_global_cleanup(void) { curl_global_cleanup(); }

int http_options_from_env(const struct endpoint_env *env, struct http_options *o, struct status *st)
{
	const char *ca = env->getenv_fn(env->ctx, "AWS_CA_BUNDLE");
	if (ca == NULL || ca[0] == '\0')
		return 0;
	if (access(ca, R_OK) != 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "AWS_CA_BUNDLE: cannot read the file: %s",
				  strerror(errno));
	o->ca_bundle = ca;
	return 0;
}

/* libcurl share locking: one mutex per data kind, as the share API expects. */
static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	(void)h;
	(void)access;
	struct http_client *c = ud;
	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	struct http_client *c = ud;
	if (data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->share_mu[data]);
}

struct http_client *http_client_new(const struct http_options *o)
{
	http_global_init();
	struct http_client *c = xcalloc(1, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	c->user_agent = xasprintf("ebs-csi-c/%s", o && o->user_agent_version ? o->user_agent_version : "unknown");
	c->ca_bundle = o && o->ca_bundle && o->ca_bundle[0] ? xstrdup(o->ca_bundle) : NULL;
	c->max_body = o && o->max_body ? o->max_body : HTTP_DEFAULT_MAX_BODY;
	c->connect_timeout_ms = o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	c->low_speed_time_s = o && o->low_speed_time_s > 0 ? o->low_speed_time_s : HTTP_DEFAULT_LOW_SPEED_TIME_S;
	c->share = curl_share_init();
	if (c->share == NULL) {
		log_error("libcurl: curl_share_init failed");
		abort();
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return c;
}

void http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_idle; i++)
		curl_easy_cleanup(c->idle[i]);
	curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_mu[i]);
	pthread_mutex_destroy(&c->mu);
	free(c->user_agent);
	free(c->ca_bundle);
	free(c);
}

void http_client_stats(struct http_client *c, struct http_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	pthread_mutex_unlock(&c->mu);
}

/* Lends the most recently returned handle (its connections are the warmest). */
static CURL *pool_get(struct http_client *c)
{
	pthread_mutex_lock(&c->mu);
	CURL *h = c->n_idle > 0 ? c->idle[--c->n_idle] : NULL;
	if (h == NULL)
		c->stats.handles_created++;
	pthread_mutex_unlock(&c->mu);
	if (h == NULL) {
		h = curl_easy_init();
		if (h == NULL) {
			log_error("libcurl: curl_easy_init failed");
			abort();
		}
	}
	return h;
}

static void pool_put(struct http_client *c, CURL *h)
{
	pthread_mutex_lock(&c->mu);
	if (c->n_idle < HTTP_POOL_MAX_IDLE) {
		c->idle[c->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h != NULL)
		curl_easy_cleanup(h);
}

void http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->body);
	strv_init(&r->headers);
}

void http_response_dispose(struct http_response *r)
{
	if (r->sensitive && r->body.data != NULL)
		OPENSSL_cleanse(r->body.data, r->body.cap);
	buf_dispose(&r->body);
	strv_dispose(&r->headers);
	memset(r, 0, sizeof *r);
}

/* Empties r for the next request, keeping its storage (wiped if it held a
 * sensitive body). */
static void response_reset(struct http_response *r, bool sensitive)
{
	if (r->sensitive)
		OPENSSL_cleanse(r->body.data, r->body.cap);
	buf_reset(&r->body);
	strv_reset(&r->headers);
	r->status = 0;
	r->error = HTTP_ERR_NONE;
	r->new_connections = 0;
	r->duration_ms = 0;
	r->sensitive = sensitive;
}

const char *http_response_header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i + 1 < r->headers.n; i += 2)
		if (strcasecmp(r->headers.v[i], name) == 0)
			return r->headers.v[i + 1];
	return NULL;
}

void http_url_origin(const char *url, char *out, size_t cap)
{
	snprintf(out, cap, "?");
	CURLU *u = curl_url();
	if (u == NULL)
		return;
	char *scheme = NULL, *host = NULL, *port = NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		snprintf(out, cap, "%s://%s:%s", scheme, host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

/* The URL's path without query, for log lines only. */
static void url_path(const char *url, char *out, size_t cap)
{
	snprintf(out, cap, "/");
	CURLU *u = curl_url();
	if (u == NULL)
		return;
	char *path = NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK)
		snprintf(out, cap, "%s", path);
	curl_free(path);
	curl_url_cleanup(u);
}

/* Per-transfer state shared with the callbacks. */
struct xfer {
	struct http_response *resp;
	size_t max_body;
	size_t header_bytes;
	bool body_too_large;
	bool headers_too_large;
	bool sensitive;
	const atomic_bool *cancelled;
};

/* Grows b to hold n more bytes; for sensitive bodies the old storage is wiped
 * before it is freed, so no stale copy of a secret stays on the heap. */
static void body_reserve(struct buf *b, size_t n, bool sensitive)
{
	if (b->len + n + 1 <= b->cap)
		return;
	if (!sensitive) {
		buf_reserve(b, n);
		return;
	}
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *p = xmalloc(cap);
	memcpy(p, b->data, b->len + 1);
	OPENSSL_cleanse(b->data, b->cap);
	free(b->data);
	b->data = p;
	b->cap = cap;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	struct buf *b = &x->resp->body;
	if (n > x->max_body - b->len) {
		/* Returning short makes libcurl abort with CURLE_WRITE_ERROR now,
		 * before another byte is read: memory stays bounded by the cap. */
		x->body_too_large = true;
		return 0;
	}
	body_reserve(b, n, x->sensitive);
	buf_append(b, ptr, n);
	return n;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r' || (*e)[-1] == '\n'))
		(*e)--;
}

static size_t header_cb(char *ptr, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nitems;
	x->header_bytes += n;
	if (x->header_bytes > HTTP_MAX_RESPONSE_HEADER_BYTES) {
		x->headers_too_large = true;
		return 0;
	}
	/* A status line starts a new response (1xx interim, proxy CONNECT):
	 * only the final response's headers are kept. */
	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		strv_reset(&x->resp->headers);
		return n;
	}
	const char *end = ptr + n;
	const char *colon = memchr(ptr, ':', n);
	if (colon == NULL || colon == ptr || ptr[0] == ' ' || ptr[0] == '\t')
		return n; /* the blank end line, or an obs-fold continuation we ignore */
	const char *ns = ptr, *ne = colon, *vs = colon + 1, *ve = end;
	trim(&ns, &ne);
	trim(&vs, &ve);
	strv_push_take(&x->resp->headers, xstrndup(ns, (size_t)(ne - ns)));
	strv_push_take(&x->resp->headers, xstrndup(vs, (size_t)(ve - vs)));
	return n;
}

static int progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	struct xfer *x = ud;
	return x->cancelled != NULL && atomic_load(x->cancelled) ? 1 : 0;
}

static bool method_valid(const char *m)
{
	if (m == NULL || m[0] == '\0' || strlen(m) > 16)
		return false;
	for (const char *p = m; *p; p++)
		if (*p < 'A' || *p > 'Z')
			return false;
	return true;
}

static bool header_part_valid(const char *s, bool is_name)
{
	if (s == NULL || (is_name && s[0] == '\0'))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\r' || *p == '\n' || *p == '\0')
			return false;
		if (is_name && (*p <= ' ' || *p == ':' || *p >= 0x7f))
			return false;
	}
	return true;
}

static void slist_free_wiped(struct curl_slist *l, bool wipe)
{
	if (wipe)
		for (struct curl_slist *p = l; p != NULL; p = p->next)
			OPENSSL_cleanse(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static struct curl_slist *slist_add(struct curl_slist *l, const char *line)
{
	struct curl_slist *n = curl_slist_append(l, line);
	if (n == NULL) {
		log_error("libcurl: out of memory building headers");
		abort();
	}
	return n;
}

/* Builds the header list; "Expect:" switches off 100-continue, which AWS does
 * not need and which would cost a round trip on bigger POST bodies. */
static int build_headers(const struct http_request *req, struct curl_slist **out, struct status *st)
{
	struct curl_slist *l = slist_add(NULL, "Expect:");
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];
		if (!header_part_valid(h->name, true) || !header_part_valid(h->value, false)) {
			slist_free_wiped(l, req->sensitive);
			/* Name the header only when the name itself is printable. */
			return status_set(st, STATUS_INVALID_ARGUMENT, "%s: invalid request header",
					  header_part_valid(h->name, true) ? h->name : "(unprintable name)");
		}
		/* "Name;" is libcurl's way to send a header with an empty value. */
		char *line = h->value[0] ? xasprintf("%s: %s", h->name, h->value) : xasprintf("%s;", h->name);
		l = slist_add(l, line);
		if (req->sensitive)
			OPENSSL_cleanse(line, strlen(line));
		free(line);
	}
	*out = l;
	return 0;
}

static int set_method(CURL *h, const struct http_request *req)
{
	const char *body = req->body_len ? req->body : "";
	const char *m = req->method;
	if (strcmp(m, "GET") == 0 && req->body_len == 0)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
	if (strcmp(m, "HEAD") == 0)
		return curl_easy_setopt(h, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : -1;
	if (strcmp(m, "DELETE") == 0 && req->body_len == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m) == CURLE_OK ? 0 : -1;
	}
	/* POST, PUT and the rest send the body from memory (Content-Length set,
	 * also when it is 0, as IMDS expects for the token PUT). */
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (strcmp(m, "POST") != 0)
		return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m) == CURLE_OK ? 0 : -1;
	return 0;
}

static bool tls_config_error(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
	       rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_CRL_BADFILE ||
	       rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || rc == CURLE_SSL_INVALIDCERTSTATUS;
}

/* Maps a failed transfer to (kind, status). deadline_bound: the total timeout
 * was the caller's deadline rather than this attempt's budget. */
static int transfer_error(CURL *h, CURLcode rc, const struct xfer *x, const struct http_request *req,
			  const char *origin, const char *errbuf, long total_ms, bool deadline_bound,
			  struct status *st)
{
	struct http_response *resp = x->resp;
	const char *m = req->method;
	long os_errno = 0;
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	const char *why = os_errno ? strerror((int)os_errno) : curl_easy_strerror(rc);

	if (x->body_too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		resp->error = HTTP_ERR_TOO_LARGE;
		return status_set(st, STATUS_INTERNAL, "%s %s: response body larger than %zu bytes", m, origin,
				  x->max_body);
	}
	if (x->headers_too_large) {
		resp->error = HTTP_ERR_TOO_LARGE;
		return status_set(st, STATUS_INTERNAL, "%s %s: response headers larger than %d bytes", m, origin,
				  HTTP_MAX_RESPONSE_HEADER_BYTES);
	}
	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		resp->error = HTTP_ERR_CANCELLED;
		return status_set(st, STATUS_CANCELLED, "%s %s: cancelled", m, origin);
	case CURLE_OPERATION_TIMEDOUT:
		resp->error = HTTP_ERR_TIMEOUT;
		if (deadline_bound || (req->deadline_ms != RPC_NO_DEADLINE && rpc_now_ms() >= req->deadline_ms))
			return status_set(st, STATUS_DEADLINE_EXCEEDED, "%s %s: deadline exceeded after %ld ms", m,
					  origin, total_ms);
		return status_set(st, STATUS_UNAVAILABLE, "%s %s: timed out after %ld ms", m, origin, total_ms);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		resp->error = HTTP_ERR_CONNECT;
		return status_set(st, STATUS_UNAVAILABLE, "%s %s: %s", m, origin, curl_easy_strerror(rc));
	case CURLE_COULDNT_CONNECT:
		resp->error = HTTP_ERR_CONNECT;
		return status_set(st, STATUS_UNAVAILABLE, "%s %s: cannot connect: %s", m, origin, why);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		resp->error = HTTP_ERR_USAGE;
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s %s: %s", m, origin, curl_easy_strerror(rc));
	default:
		break;
	}
	if (tls_config_error(rc)) {
		/* libcurl's TLS messages name the certificate problem, never the URL. */
		resp->error = HTTP_ERR_TLS;
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s %s: TLS: %s", m, origin,
				  errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	if (rc == CURLE_SSL_CONNECT_ERROR) {
		resp->error = HTTP_ERR_TLS;
		return status_set(st, STATUS_UNAVAILABLE, "%s %s: TLS handshake: %s", m, origin,
				  errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	resp->error = HTTP_ERR_IO;
	return status_set(st, STATUS_UNAVAILABLE, "%s %s: %s%s%s", m, origin, curl_easy_strerror(rc),
			  os_errno ? ": " : "", os_errno ? why : "");
}

int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp,
	    struct status *st)
{
	response_reset(resp, req->sensitive);

	char origin[300];
	http_url_origin(req->url ? req->url : "", origin, sizeof origin);
	const char *m = method_valid(req->method) ? req->method : "?";
	if (!method_valid(req->method) || req->url == NULL) {
		resp->error = HTTP_ERR_USAGE;
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s %s: invalid method or URL", m, origin);
	}

	int64_t start = rpc_now_ms();
	long budget = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	bool deadline_bound = false;
	if (req->deadline_ms != RPC_NO_DEADLINE) {
		int64_t left = req->deadline_ms - start;
		if (left <= 0) {
			resp->error = HTTP_ERR_TIMEOUT;
			return status_set(st, STATUS_DEADLINE_EXCEEDED, "%s %s: deadline exceeded before the request",
					  m, origin);
		}
		if (left <= budget) {
			budget = (long)left;
			deadline_bound = true;
		}
	}
	long connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : c->connect_timeout_ms;
	if (connect_ms > budget)
		connect_ms = budget;

	struct curl_slist *headers = NULL;
	if (build_headers(req, &headers, st) != 0) {
		resp->error = HTTP_ERR_USAGE;
		return -1;
	}

	struct xfer x = {
		.resp = resp,
		.max_body = req->max_body ? req->max_body : c->max_body,
		.sensitive = req->sensitive,
		.cancelled = req->cancelled,
	};
	char errbuf[CURL_ERROR_SIZE];
	errbuf[0] = '\0';

	CURL *h = pool_get(c);
	curl_easy_reset(h);
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                              \
	do {                                                       \
		if (rc == CURLE_OK)                                \
			rc = curl_easy_setopt(h, (opt), (val));    \
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SHARE, c->share);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_bundle != NULL)
		SET(CURLOPT_CAINFO, c->ca_bundle);
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_TIMEOUT_MS, budget);
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, c->low_speed_time_s);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x.max_body);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, &x);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, &x);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	if (req->cancelled != NULL) {
		SET(CURLOPT_XFERINFOFUNCTION, progress_cb);
		SET(CURLOPT_XFERINFODATA, &x);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
#undef SET
	int ret = 0;
	if (rc != CURLE_OK || set_method(h, req) != 0) {
		resp->error = HTTP_ERR_USAGE;
		ret = status_set(st, STATUS_INVALID_ARGUMENT, "%s %s: libcurl refused an option: %s", m, origin,
				 curl_easy_strerror(rc));
		goto out;
	}

	rc = curl_easy_perform(h);
	resp->duration_ms = rpc_now_ms() - start;
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &resp->new_connections);
	if (rc != CURLE_OK) {
		ret = transfer_error(h, rc, &x, req, origin, errbuf, budget, deadline_bound, st);
		log_v(5, "http %s %s failed after %lld ms: %s", m, origin, (long long)resp->duration_ms,
		      st ? st->msg : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (log_enabled(6)) {
		char path[256];
		url_path(req->url, path, sizeof path);
		log_v(6, "http %s %s%s -> %ld (%lld ms, %s connection)", m, origin, path, resp->status,
		      (long long)resp->duration_ms, resp->new_connections ? "new" : "reused");
	}

out:
	/* Drop the handle's pointers into this frame before it goes back. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	pool_put(c, h);
	slist_free_wiped(headers, req->sensitive);
	pthread_mutex_lock(&c->mu);
	c->stats.requests++;
	c->stats.new_connections += (uint64_t)(resp->new_connections > 0 ? resp->new_connections : 0);
	pthread_mutex_unlock(&c->mu);
	return ret;
}
