/*
 * client: GET, LIST, PATCH and WATCH against the API server over libcurl. See
 * k8s.h for the contract and the status codes.
 *
 * Its own libcurl handling rather than cloud/http: the API server needs client
 * certificates and in-memory CA/cert/key (curl blobs), and a watch must be
 * consumed event by event as the bytes arrive. One easy handle per request:
 * the driver makes a handful of API calls per node lifetime, so a pool would
 * only add state. Retries (GET/LIST/PATCH): 429 (Retry-After honoured), 5xx
 * and network failures, with jittered exponential backoff inside the caller's
 * deadline; 409 for GET/LIST only (PATCH callers rebuild their patch).
 * Invariants: the Authorization header is built per attempt and wiped; any
 * text from the server that reaches a status message is first stripped of the
 * token; logs carry verb, resource, HTTP status and timings only.
 */
#include "k8s/k8s.h"
#include "k8s/k8s_internal.h"

#include "cloud/http.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_ATTEMPTS 5
#define DEFAULT_BACKOFF_MS 200L
#define DEFAULT_BACKOFF_MAX_MS 5000L
#define DEFAULT_REQUEST_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define MAX_RETRY_AFTER_MS 30000L
#define LIST_PAGE 500
#define SERVER_MSG_MAX 160

struct k8s_client {
	struct k8s_config cfg;
	char *user_agent;
	int max_attempts;
	long backoff_initial_ms;
	long backoff_max_ms;
	long request_timeout_ms;
	long connect_timeout_ms;
};

struct k8s_client *k8s_client_new(struct k8s_config *cfg, const struct k8s_client_options *o)
{
	http_global_init();
	struct k8s_client *c = xcalloc(1, sizeof *c);
	c->cfg = *cfg;
	k8s_config_init(cfg);
	c->user_agent = xasprintf("ebs-csi-c/%s", o && o->user_agent_version ? o->user_agent_version : "unknown");
	c->max_attempts = o && o->max_attempts > 0 ? o->max_attempts : DEFAULT_ATTEMPTS;
	c->backoff_initial_ms = o && o->backoff_initial_ms > 0 ? o->backoff_initial_ms : DEFAULT_BACKOFF_MS;
	c->backoff_max_ms = o && o->backoff_max_ms > 0 ? o->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
	c->request_timeout_ms = o && o->request_timeout_ms > 0 ? o->request_timeout_ms : DEFAULT_REQUEST_TIMEOUT_MS;
	c->connect_timeout_ms = o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	return c;
}

void k8s_client_free(struct k8s_client *c)
{
	if (c == NULL)
		return;
	k8s_config_dispose(&c->cfg);
	free(c->user_agent);
	free(c);
}

const char *k8s_client_namespace(const struct k8s_client *c) { return c->cfg.namespace; }

/* xorshift, seeded once: jitter needs no quality, only no lock-step. */
static unsigned jitter_rand(void)
{
	static _Atomic unsigned state = 0;
	unsigned x = atomic_load(&state);
	if (x == 0)
		x = (unsigned)rpc_now_ms() * 2654435761u | 1u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	atomic_store(&state, x);
	return x;
}

/* ---- one HTTP exchange ------------------------------------------------------- */

struct xfer {
	CURL *h;
	const struct rpc_ctx *rc;
	struct buf body;       /* the response body; for a watch, the unparsed tail */
	size_t max_body;
	bool over_cap;
	long retry_after_s;    /* -1: none */
	/* watch only */
	bool watch;
	int (*on_event)(void *ctx, const char *type, json_t *object);
	void *ctx;
	bool stopped;          /* on_event asked to stop */
	bool gone;             /* an ERROR event with code 410 */
	bool bad_event;        /* a line that is not a watch event */
	long error_event_code; /* another ERROR event: its Status code */
	char *error_event_msg; /* ... and its message (heap, unredacted: see http_failure) */
	char **last_rv;
	char errbuf[CURL_ERROR_SIZE];
};

static void note_rv(struct xfer *x, json_t *object)
{
	const char *rv = json_string_value(json_object_get(json_object_get(object, "metadata"), "resourceVersion"));
	if (rv != NULL && x->last_rv != NULL) {
		free(*x->last_rv);
		*x->last_rv = xstrdup(rv);
	}
}

/* Handles one line of a watch stream. Returns false to end the transfer. */
static bool watch_line(struct xfer *x, const char *line, size_t len)
{
	while (len > 0 && (line[0] == ' ' || line[0] == '\r'))
		line++, len--;
	if (len == 0)
		return true;
	json_t *ev = json_loadb(line, len, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *object = json_object_get(ev, "object");
	bool go_on = true;
	if (type == NULL || !json_is_object(object)) {
		x->bad_event = true;
		go_on = false;
	} else if (strcmp(type, "ERROR") == 0) {
		/* The API server reports a too-old resourceVersion as a 200 stream
		 * whose one event is a Status with code 410. */
		long code = (long)json_integer_value(json_object_get(object, "code"));
		if (code == 410) {
			x->gone = true;
		} else {
			x->error_event_code = code ? code : 500;
			free(x->error_event_msg);
			x->error_event_msg = xstrdup(json_string_value(json_object_get(object, "message")) ?: "watch error");
		}
		go_on = false;
	} else if (strcmp(type, "BOOKMARK") == 0) {
		note_rv(x, object);
	} else {
		note_rv(x, object);
		if (x->on_event(x->ctx, type, object) == K8S_WATCH_STOP) {
			x->stopped = true;
			go_on = false;
		}
	}
	json_decref(ev);
	return go_on;
}

/* Feeds stream bytes; complete lines are handled, the tail is kept. */
static bool watch_feed(struct xfer *x, const char *data, size_t n)
{
	buf_append(&x->body, data, n);
	size_t start = 0;
	bool go_on = true;
	while (go_on) {
		char *nl = memchr(x->body.data + start, '\n', x->body.len - start);
		if (nl == NULL)
			break;
		size_t len = (size_t)(nl - (x->body.data + start));
		go_on = watch_line(x, x->body.data + start, len);
		start += len + 1;
	}
	memmove(x->body.data, x->body.data + start, x->body.len - start);
	x->body.len -= start;
	x->body.data[x->body.len] = '\0';
	if (go_on && x->body.len > K8S_MAX_WATCH_EVENT) {
		x->over_cap = true;
		go_on = false;
	}
	return go_on;
}

static bool status_2xx(long code) { return code >= 200 && code < 300; }

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	if (x->watch) {
		long code = 0;
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
		if (status_2xx(code))
			return watch_feed(x, ptr, n) ? n : 0;
	}
	if (x->body.len + n > x->max_body) {
		x->over_cap = true;
		return 0;
	}
	buf_append(&x->body, ptr, n);
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof name && strncasecmp(ptr, name, sizeof name - 1) == 0) {
		char tmp[32];
		size_t m = n - (sizeof name - 1) < sizeof tmp - 1 ? n - (sizeof name - 1) : sizeof tmp - 1;
		memcpy(tmp, ptr + sizeof name - 1, m);
		tmp[m] = '\0';
		char *end;
		long v = strtol(tmp, &end, 10);
		if (end != tmp && v >= 0)
			x->retry_after_s = v; /* an HTTP-date is ignored: the backoff applies */
	}
	return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	struct xfer *x = ud;
	return rpc_done(x->rc) ? 1 : 0;
}

/* Wipes each header's text (the Authorization one holds the token) and frees the list. */
static void free_headers(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p != NULL; p = p->next)
		memset(p->data, 0, strlen(p->data));
	curl_slist_free_all(l);
}

/* Performs one exchange; fills x and returns libcurl's result. *token is the
 * bearer token for this attempt (may be NULL). */
static CURLcode perform(struct k8s_client *c, const char *method, const char *url, const char *content_type,
			const char *body, size_t body_len, const char *token, long timeout_ms, struct xfer *x)
{
	CURL *h = curl_easy_init();
	if (h == NULL)
		return CURLE_OUT_OF_MEMORY;
	x->h = h;
	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (content_type != NULL) {
		char ct[96];
		snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, ct);
	}
	if (token != NULL) {
		struct buf auth;
		buf_init(&auth);
		buf_printf(&auth, "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth.data);
		memset(auth.data, 0, auth.len);
		buf_dispose(&auth);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms < timeout_ms ? c->connect_timeout_ms : timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	const struct k8s_config *cfg = &c->cfg;
	if (cfg->ca_data != NULL) {
		struct curl_blob b = { cfg->ca_data, cfg->ca_data_len, CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	} else if (cfg->ca_file != NULL) {
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	}
	if (cfg->client_cert_data != NULL) {
		struct curl_blob b = { cfg->client_cert_data, cfg->client_cert_data_len, CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (cfg->client_cert_file != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->client_cert_file);
	}
	if (cfg->client_key_data != NULL) {
		struct curl_blob b = { cfg->client_key_data, cfg->client_key_data_len, CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->client_key_file != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->client_key_file);
	}
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	CURLcode rc = curl_easy_perform(h);
	free_headers(hdrs);
	return rc;
}

static long response_code(struct xfer *x)
{
	long code = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

/* Maps a libcurl failure. *retryable says whether another attempt may help. */
static int curl_failure(CURLcode cc, struct xfer *x, const char *verb, const char *res, const char *origin,
			bool *retryable, struct status *st)
{
	*retryable = false;
	const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
	if (x->rc != NULL && x->rc->cancelled != NULL && atomic_load(x->rc->cancelled))
		return status_set(st, STATUS_CANCELLED, "k8s: %s %s: cancelled", verb, res);
	if (x->rc != NULL && x->rc->deadline_ms != RPC_NO_DEADLINE && rpc_now_ms() >= x->rc->deadline_ms)
		return status_set(st, STATUS_DEADLINE_EXCEEDED, "k8s: %s %s: deadline exceeded", verb, res);
	if (x->over_cap || cc == CURLE_FILESIZE_EXCEEDED)
		return status_set(st, STATUS_INTERNAL, "k8s: %s %s: response too large", verb, res);
	switch (cc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
		return status_set(st, STATUS_FAILED_PRECONDITION, "k8s: %s %s: TLS with %s: %s", verb, res, origin, why);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return status_set(st, STATUS_INVALID_ARGUMENT, "k8s: %s %s: bad server URL %s: %s", verb, res, origin, why);
	default:
		*retryable = true;
		return status_set(st, STATUS_UNAVAILABLE, "k8s: %s %s: %s: %s", verb, res, origin, why);
	}
}

static int code_for_http(long code)
{
	switch (code) {
	case 400: return STATUS_INVALID_ARGUMENT;
	case 401: return STATUS_UNAUTHENTICATED;
	case 403: return STATUS_PERMISSION_DENIED;
	case 404: return STATUS_NOT_FOUND;
	case 409: return STATUS_ABORTED;
	case 410: return STATUS_OUT_OF_RANGE;
	case 422: return STATUS_INVALID_ARGUMENT;
	case 429: return STATUS_UNAVAILABLE;
	default: return code >= 500 ? STATUS_UNAVAILABLE : STATUS_UNKNOWN;
	}
}

static const char *http_reason(long code)
{
	switch (code) {
	case 400: return "bad request";
	case 401: return "unauthorized: the API server rejected the credentials";
	case 403: return "forbidden: check the RBAC rules of the service account";
	case 404: return "not found";
	case 409: return "conflict";
	case 410: return "gone: resourceVersion too old";
	case 422: return "rejected (a JSON patch test op failed, or the object is invalid)";
	case 429: return "too many requests";
	default: return code >= 500 ? "server error" : "unexpected status";
	}
}

/* Sets st for a non-2xx answer (or a watch ERROR event), quoting the server's
 * Status message with the token redacted. */
static int http_failure(long code, const char *server_msg, const char *verb, const char *res, const char *token,
			struct status *st)
{
	char *msg = NULL;
	if (server_msg != NULL && server_msg[0] != '\0') {
		/* Redact the whole text first and cut it only then: a token (a JWT is
		 * ~1 KB) cut in two would no longer match and its head would survive.
		 * Room for the marks: a >= 4-byte secret becomes 10 bytes. */
		size_t len = strlen(server_msg), cap = len * 3 + 16;
		msg = xmalloc(cap);
		memcpy(msg, server_msg, len + 1);
		k8s_redact(msg, cap, token);
		if (strlen(msg) > SERVER_MSG_MAX)
			strcpy(msg + SERVER_MSG_MAX - 3, "...");
	}
	int r = status_set(st, code_for_http(code), "k8s: %s %s: %s (HTTP %ld)%s%s", verb, res, http_reason(code), code,
			   msg ? ": " : "", msg ? msg : "");
	free(msg);
	return r;
}

static const char *status_message_of(const struct buf *body, json_t **holder)
{
	*holder = json_loadb(body->data, body->len, 0, NULL);
	return json_string_value(json_object_get(*holder, "message"));
}

/* ---- requests with retries --------------------------------------------------- */

struct call {
	const char *verb;     /* "get", "list", "patch" — for messages */
	const char *method;
	const char *path;
	const char *content_type;
	const char *body;
	size_t body_len;
	bool retry_conflict;
};

static int64_t backoff_ms(struct k8s_client *c, int attempt, long retry_after_s)
{
	int64_t d = c->backoff_initial_ms;
	for (int i = 1; i < attempt && d < c->backoff_max_ms; i++)
		d *= 2;
	if (d > c->backoff_max_ms)
		d = c->backoff_max_ms;
	d = d / 2 + (int64_t)(jitter_rand() % (unsigned)(d / 2 + 1));
	if (retry_after_s > 0) {
		int64_t ra = retry_after_s * 1000 > MAX_RETRY_AFTER_MS ? MAX_RETRY_AFTER_MS : retry_after_s * 1000;
		if (ra > d)
			d = ra;
	}
	return d;
}

static long attempt_timeout(const struct rpc_ctx *rc, long cap_ms)
{
	long t = cap_ms;
	int64_t left = rpc_remaining_ms(rc);
	if (left < t)
		t = left > 0 ? (long)left : 1;
	return t;
}

/* Runs call with retries; on success *out is the parsed JSON body (a new
 * reference; JSON null for an empty body). */
static int do_call(struct k8s_client *c, const struct call *k, const struct rpc_ctx *rc, json_t **out,
		   struct status *st)
{
	char res[160], origin[128];
	k8s_resource_of_path(k->path, res, sizeof res);
	http_url_origin(c->cfg.server, origin, sizeof origin);
	char *url = xasprintf("%s%s", c->cfg.server, k->path);
	int ret = -1;
	for (int attempt = 1;; attempt++) {
		if (rpc_done(rc)) {
			bool cancelled = rc->cancelled != NULL && atomic_load(rc->cancelled);
			status_set(st, cancelled ? STATUS_CANCELLED : STATUS_DEADLINE_EXCEEDED, "k8s: %s %s: %s", k->verb,
				   res, cancelled ? "cancelled" : "deadline exceeded");
			break;
		}
		char *token = NULL;
		if (k8s_config_token(&c->cfg, &token, st) != 0) {
			status_prefix(st, "k8s: %s %s: ", k->verb, res);
			break;
		}
		struct xfer x = { .rc = rc, .max_body = K8S_MAX_BODY, .retry_after_s = -1 };
		buf_init(&x.body);
		int64_t t0 = rpc_now_ms();
		CURLcode cc = perform(c, k->method, url, k->content_type, k->body, k->body_len, token,
				      attempt_timeout(rc, c->request_timeout_ms), &x);
		long code = cc == CURLE_OK ? response_code(&x) : 0;
		bool retryable = false;
		log_v(4, "k8s: %s %s -> %ld (%lld ms, attempt %d)", k->method, k->path, code,
		      (long long)(rpc_now_ms() - t0), attempt);
		if (cc != CURLE_OK) {
			curl_failure(cc, &x, k->verb, res, origin, &retryable, st);
		} else if (status_2xx(code)) {
			json_error_t jerr;
			json_t *v = x.body.len == 0 ? json_null() : json_loadb(x.body.data, x.body.len, 0, &jerr);
			if (v == NULL) {
				status_set(st, STATUS_INTERNAL, "k8s: %s %s: the response is not JSON", k->verb, res);
			} else {
				*out = v;
				status_clear(st);
				ret = 0;
			}
		} else {
			json_t *holder = NULL;
			http_failure(code, status_message_of(&x.body, &holder), k->verb, res, token, st);
			json_decref(holder);
			retryable = code == 429 || code >= 500 || (code == 409 && k->retry_conflict);
		}
		if (token != NULL) {
			memset(token, 0, strlen(token));
			free(token);
		}
		long retry_after = x.retry_after_s;
		curl_easy_cleanup(x.h);
		buf_dispose(&x.body);
		if (ret == 0 || !retryable || attempt >= c->max_attempts)
			break;
		int64_t d = backoff_ms(c, attempt, retry_after);
		if (rpc_remaining_ms(rc) <= d)
			break; /* the wait would outlive the deadline: report the last error */
		log_v(2, "k8s: %s %s: %s; retrying in %lld ms (attempt %d of %d)", k->verb, res,
		      status_code_name(st ? st->code : STATUS_UNAVAILABLE), (long long)d, attempt + 1, c->max_attempts);
		if (!k8s_sleep(d, rc))
			continue; /* the top of the loop reports cancel/deadline */
	}
	free(url);
	return ret;
}

int k8s_get(struct k8s_client *c, const char *path, const struct rpc_ctx *rc, json_t **out, struct status *st)
{
	struct call k = { .verb = "get", .method = "GET", .path = path, .retry_conflict = true };
	return do_call(c, &k, rc, out, st);
}

static char *with_query(const char *path, const char *query)
{
	return xasprintf("%s%c%s", path, strchr(path, '?') ? '&' : '?', query);
}

int k8s_list(struct k8s_client *c, const char *path, const struct rpc_ctx *rc, json_t **items,
	     char **resource_version, struct status *st)
{
	/* An expired continue token (410) restarts the list: the pages must come
	 * from one snapshot to make a consistent list. */
	for (int restart = 0; restart < 3; restart++) {
		json_t *all = json_array();
		char *cont = NULL;
		char *rv = NULL;
		int rc_page = 0;
		for (;;) {
			char q[1200];
			snprintf(q, sizeof q, "limit=%d", LIST_PAGE);
			if (cont != NULL) {
				strcat(q, "&continue=");
				if (k8s_query_escape(cont, q, sizeof q) != 0) {
					rc_page = status_set(st, STATUS_INTERNAL, "k8s: list: continue token too long");
					break;
				}
			}
			char *p = with_query(path, q);
			struct call k = { .verb = "list", .method = "GET", .path = p, .retry_conflict = true };
			json_t *page = NULL;
			rc_page = do_call(c, &k, rc, &page, st);
			free(p);
			if (rc_page != 0)
				break;
			json_t *its = json_object_get(page, "items");
			if (!json_is_array(its) && !json_is_null(its) && its != NULL) {
				json_decref(page);
				char res[160];
				k8s_resource_of_path(path, res, sizeof res);
				rc_page = status_set(st, STATUS_INTERNAL, "k8s: list %s: the response has no items array", res);
				break;
			}
			if (json_is_array(its))
				json_array_extend(all, its);
			json_t *meta = json_object_get(page, "metadata");
			free(rv);
			rv = xstrdup(json_string_value(json_object_get(meta, "resourceVersion")));
			const char *next = json_string_value(json_object_get(meta, "continue"));
			free(cont);
			cont = next != NULL && next[0] != '\0' ? xstrdup(next) : NULL;
			json_decref(page);
			if (cont == NULL)
				break;
		}
		bool restart_list = rc_page != 0 && cont != NULL && st != NULL && st->code == STATUS_OUT_OF_RANGE;
		free(cont);
		if (rc_page == 0) {
			*items = all;
			if (resource_version != NULL)
				*resource_version = rv ? rv : xstrdup("");
			else
				free(rv);
			return 0;
		}
		json_decref(all);
		free(rv);
		if (!restart_list)
			return -1;
	}
	return -1;
}

int k8s_patch_json(struct k8s_client *c, const char *path, const json_t *patch, const struct rpc_ctx *rc,
		   json_t **out, struct status *st)
{
	char *body = json_dumps(patch, JSON_COMPACT);
	struct call k = {
		.verb = "patch", .method = "PATCH", .path = path, .content_type = "application/json-patch+json",
		.body = body, .body_len = strlen(body), .retry_conflict = false,
	};
	json_t *res = NULL;
	int rc2 = do_call(c, &k, rc, &res, st);
	free(body);
	if (rc2 != 0)
		return -1;
	if (out != NULL)
		*out = res;
	else
		json_decref(res);
	return 0;
}

/* ---- watch ------------------------------------------------------------------- */

int k8s_watch(struct k8s_client *c, const char *path, const char *resource_version, int timeout_s,
	      int (*on_event)(void *ctx, const char *type, json_t *object), void *ctx, const struct rpc_ctx *rc,
	      char **last_rv, struct status *st)
{
	char res[160], origin[128];
	k8s_resource_of_path(path, res, sizeof res);
	http_url_origin(c->cfg.server, origin, sizeof origin);
	if (rpc_done(rc)) {
		bool cancelled = rc->cancelled != NULL && atomic_load(rc->cancelled);
		return status_set(st, cancelled ? STATUS_CANCELLED : STATUS_DEADLINE_EXCEEDED, "k8s: watch %s: %s", res,
				  cancelled ? "cancelled" : "deadline exceeded");
	}
	if (timeout_s <= 0)
		timeout_s = 300;
	char q[600];
	snprintf(q, sizeof q, "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d", timeout_s);
	if (resource_version != NULL && resource_version[0] != '\0') {
		strcat(q, "&resourceVersion=");
		if (k8s_query_escape(resource_version, q, sizeof q) != 0)
			return status_set(st, STATUS_INVALID_ARGUMENT, "k8s: watch %s: resourceVersion too long", res);
	}
	char *p = with_query(path, q);
	char *url = xasprintf("%s%s", c->cfg.server, p);
	char *token = NULL;
	if (k8s_config_token(&c->cfg, &token, st) != 0) {
		free(p);
		free(url);
		return status_prefix(st, "k8s: watch %s: ", res);
	}
	struct xfer x = {
		.rc = rc, .max_body = K8S_MAX_BODY, .retry_after_s = -1, .watch = true,
		.on_event = on_event, .ctx = ctx, .last_rv = last_rv,
	};
	buf_init(&x.body);
	/* The server ends the stream after timeout_s; our own limit only catches
	 * a server that does not. */
	long budget = attempt_timeout(rc, ((long)timeout_s + 30) * 1000L);
	int64_t t0 = rpc_now_ms();
	CURLcode cc = perform(c, "GET", url, NULL, NULL, 0, token, budget, &x);
	long code = response_code(&x);
	log_v(4, "k8s: WATCH %s -> %ld (%lld ms, curl %d)", p, code, (long long)(rpc_now_ms() - t0), (int)cc);
	int ret;
	bool retryable;
	if (x.stopped) {
		ret = 1;
	} else if (x.gone) {
		ret = status_set(st, STATUS_OUT_OF_RANGE, "k8s: watch %s: resourceVersion too old (410 Gone)", res);
	} else if (x.error_event_code != 0) {
		ret = http_failure(x.error_event_code, x.error_event_msg, "watch", res, token, st);
	} else if (x.bad_event) {
		ret = status_set(st, STATUS_INTERNAL, "k8s: watch %s: malformed watch event", res);
	} else if (cc != CURLE_OK) {
		ret = curl_failure(cc, &x, "watch", res, origin, &retryable, st);
	} else if (!status_2xx(code)) {
		json_t *holder = NULL;
		ret = http_failure(code, status_message_of(&x.body, &holder), "watch", res, token, st);
		json_decref(holder);
	} else {
		/* A last event without its newline. */
		if (x.body.len > 0 && !watch_feed(&x, "\n", 1)) {
			if (x.stopped)
				ret = 1;
			else if (x.gone)
				ret = status_set(st, STATUS_OUT_OF_RANGE, "k8s: watch %s: resourceVersion too old (410 Gone)",
						 res);
			else
				ret = status_set(st, STATUS_INTERNAL, "k8s: watch %s: malformed watch event", res);
		} else {
			ret = 0;
		}
	}
	if (token != NULL) {
		memset(token, 0, strlen(token));
		free(token);
	}
	curl_easy_cleanup(x.h);
	buf_dispose(&x.body);
	free(x.error_event_msg);
	free(url);
	free(p);
	return ret;
}
