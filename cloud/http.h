/*
 * http: a small HTTP/1.1 client over libcurl easy handles, for AWS APIs, STS,
 * container credentials and IMDS.
 *
 * Connection reuse: a struct http_client keeps a LIFO pool of idle easy handles
 * (each holds its own keep-alive connections); a request borrows one, the last
 * one returned (its connection is the warmest) is lent first. DNS answers and TLS
 * sessions are shared by every handle through a CURLSH. A pool rather than
 * thread-local handles because the gRPC workers are a server-owned pool that we
 * do not want to tie to libcurl's lifetime: there is no thread-exit destructor
 * to get right, http_client_free releases everything deterministically, and the
 * pool size follows the real concurrency. Connections are not shared through
 * CURLSH: with a pool they need not be, and libcurl's shared connection cache
 * across threads has had bugs in the 7.8x series.
 *
 * Always: TLS peer and host verification (system CA bundle, or the file given
 * from AWS_CA_BUNDLE), CURLOPT_NOSIGNAL, no redirects, http/https only, proxies
 * from the environment as libcurl reads them (http_proxy, HTTPS_PROXY,
 * NO_PROXY), User-Agent "ebs-csi-c/<version>", no "Expect: 100-continue", a
 * connect timeout, a total timeout that never outlives the caller's deadline, a
 * low-speed abort, and a response-body cap enforced while receiving.
 * Not here: signing, retries, interpreting non-2xx statuses (an HTTP answer of
 * any status is a success of this layer), cookies, compression.
 * Invariants: messages and log lines name the method, scheme, host and port
 * only — never the path's query, headers or bodies (they carry tokens).
 */
#ifndef EBS_CLOUD_HTTP_H
#define EBS_CLOUD_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/endpoint.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/strv.h"

#define HTTP_DEFAULT_MAX_BODY ((size_t)8 << 20)    /* 8 MiB */
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define HTTP_DEFAULT_TIMEOUT_MS 60000L             /* per request, also without a deadline */
#define HTTP_DEFAULT_LOW_SPEED_TIME_S 30L          /* < 1 byte/s for this long aborts */
#define HTTP_MAX_RESPONSE_HEADER_BYTES (64 * 1024) /* all response header lines together */
#define HTTP_POOL_MAX_IDLE 16

/* Why a request failed below HTTP (the kind the retry layer needs). */
enum http_error {
	HTTP_ERR_NONE = 0,
	HTTP_ERR_CONNECT,    /* DNS, refused, unreachable, proxy: nothing was sent */
	HTTP_ERR_TIMEOUT,    /* connect/total/low-speed timeout or the deadline */
	HTTP_ERR_IO,         /* the connection broke mid-request or mid-response */
	HTTP_ERR_TLS,        /* handshake or certificate verification failed */
	HTTP_ERR_TOO_LARGE,  /* the response body (or headers) exceeded the cap */
	HTTP_ERR_CANCELLED,  /* the request's cancelled flag was set */
	HTTP_ERR_USAGE,      /* a malformed URL or an option libcurl refused */
};

struct http_options {
	const char *user_agent_version;  /* "1.2.3" -> "ebs-csi-c/1.2.3"; NULL -> "unknown" */
	const char *ca_bundle;           /* PEM file of trusted CAs; NULL -> the system's */
	size_t max_body;                 /* default body cap; 0 -> HTTP_DEFAULT_MAX_BODY */
	long connect_timeout_ms;         /* 0 -> HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
	long low_speed_time_s;           /* 0 -> HTTP_DEFAULT_LOW_SPEED_TIME_S */
};

/* A header as two borrowed strings. */
struct http_header {
	const char *name;
	const char *value;
};

/* One request; everything is borrowed for the duration of http_do. */
struct http_request {
	const char *method;          /* "GET", "POST", "PUT", "HEAD", "DELETE" */
	const char *url;             /* absolute http:// or https:// URL */
	const struct http_header *headers;
	size_t n_headers;
	const void *body;            /* may be NULL when body_len is 0 */
	size_t body_len;
	int64_t deadline_ms;         /* CLOCK_MONOTONIC ms (rpc_now_ms); RPC_NO_DEADLINE for none */
	long timeout_ms;             /* this attempt's total budget; 0 -> HTTP_DEFAULT_TIMEOUT_MS */
	long connect_timeout_ms;     /* 0 -> the client's */
	size_t max_body;             /* 0 -> the client's */
	const atomic_bool *cancelled; /* may be NULL; polled during the transfer */
	/* The request or the response carries secrets: the response body's old
	 * storage is wiped whenever it grows, and http_response_dispose wipes it. */
	bool sensitive;
};

/* A response; caller-owned: http_response_init / http_response_dispose. */
struct http_response {
	long status;            /* HTTP status; 0 when no response arrived */
	struct buf body;        /* the body, NUL-terminated (body.data[body.len] == 0) */
	struct strv headers;    /* the final response's headers as name, value, name, value... */
	enum http_error error;  /* HTTP_ERR_NONE when http_do returned 0 */
	long new_connections;   /* connections opened for this request (0 = reused) */
	int64_t duration_ms;
	bool sensitive;         /* copied from the request; dispose wipes */
};

/* Calls curl_global_init once (thread-safe, idempotent). http_client_new calls
 * it too; call it early from main so that it runs before threads exist, as
 * libcurl asks. Aborts if libcurl cannot initialise. */
void http_global_init(void);
/* Releases libcurl's global state; only after every client is freed (tests). */
void http_global_cleanup(void);

/* Fills o->ca_bundle from AWS_CA_BUNDLE ("" counts as unset); the string is
 * borrowed from env and must outlive http_client_new. Returns 0, or -1 with
 * STATUS_INVALID_ARGUMENT naming the variable when the file is unreadable. */
int http_options_from_env(const struct endpoint_env *env, struct http_options *o, struct status *st);

struct http_client;

/* Returns a new client (free with http_client_free); the options are copied.
 * Never fails (allocation failure aborts). Thread-safe: any number of threads
 * may call http_do on one client concurrently. */
struct http_client *http_client_new(const struct http_options *o);
/* Closes every idle connection and frees the client; no http_do may be running.
 * NULL is a no-op. */
void http_client_free(struct http_client *c);

void http_response_init(struct http_response *r);
/* Frees what r owns, wiping the body when r->sensitive; init again to reuse. */
void http_response_dispose(struct http_response *r);
/* The value of the first response header called name (case-insensitive), or
 * NULL. Borrowed from r. */
const char *http_response_header(const struct http_response *r, const char *name);

/* Performs req and fills resp (which must be initialised; its previous content
 * is discarded). Returns 0 when an HTTP response of any status arrived whole;
 * -1 otherwise, with resp->error set and st as follows:
 *   STATUS_DEADLINE_EXCEEDED  the deadline had passed before or during the request
 *   STATUS_UNAVAILABLE        connect/DNS/proxy failure, a timeout of this attempt
 *                             before the deadline, a broken connection (retryable)
 *   STATUS_FAILED_PRECONDITION TLS verification or handshake failure (not retryable:
 *                             fix the CA bundle or the endpoint)
 *   STATUS_INTERNAL           body or headers over the cap
 *   STATUS_CANCELLED          req->cancelled was set
 *   STATUS_INVALID_ARGUMENT   a malformed request (URL, method)
 * Messages look like "POST https://sts.us-west-2.amazonaws.com:443: connection
 * refused" and never contain the path's query, a header or a body. */
int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp,
	    struct status *st);

/* The client's totals since creation, for tests and metrics. */
struct http_stats {
	uint64_t requests;
	uint64_t new_connections;
	uint64_t handles_created;
};
void http_client_stats(struct http_client *c, struct http_stats *out);

/* Formats "scheme://host:port" of url into out (for messages and logs); "?"
 * when url cannot be parsed. Never includes userinfo, path or query. */
void http_url_origin(const char *url, char *out, size_t cap);

#endif
