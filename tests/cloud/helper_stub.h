/*
 * helper_stub: an in-process HTTP/1.1 server on 127.0.0.1 (libmicrohttpd, one
 * thread per connection) for the cloud tests: scripted replies per method and
 * path, a handler callback for replies that depend on the request, delays
 * before the headers, bodies dripped a byte at a time, generated huge or
 * endless bodies, capture of every request, and a count of TCP connections.
 *
 * Test-only: failures abort through cmocka-free asserts (abort()), nothing is
 * hardened. Invariants: stub_stop wakes every sleeping or dripping connection
 * thread and joins them all, so no thread or port outlives the stub.
 */
#ifndef EBS_TESTS_CLOUD_HELPER_STUB_H
#define EBS_TESTS_CLOUD_HELPER_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strv.h"

#define STUB_MAX_HEADERS 8
#define STUB_ENDLESS UINT64_MAX

/* A scripted reply. Strings are copied when the reply is registered. */
struct stub_reply {
	int status;                            /* 0 -> 200 */
	const char *body;                      /* NULL -> empty */
	size_t body_len;                       /* 0 -> strlen(body) */
	const char *headers[STUB_MAX_HEADERS]; /* "Name: value" lines, NULL-terminated early */
	int delay_ms;                          /* wait before answering (interrupted by stop) */
	int drip_ms;                           /* > 0: send the body one byte every drip_ms */
	uint64_t generate_len;                 /* > 0: body of this many 'x' (STUB_ENDLESS: forever) */
	bool chunked;                          /* no Content-Length for a generated/dripped body */
	bool close;                            /* Connection: close after this reply */
};

/* A captured request; valid until stub_stop or stub_reset. */
struct stub_request {
	char *method;
	char *path;          /* without the query */
	struct strv headers; /* name, value, name, value... */
	char *body;          /* NUL-terminated */
	size_t body_len;
};

/* Returns true when it filled *out (strings in out need only live until it
 * returns; they are copied). */
typedef bool (*stub_handler_fn)(void *ctx, const struct stub_request *req, struct stub_reply *out);

struct stub;

/* Starts a stub on 127.0.0.1 with an ephemeral port. Aborts on failure. */
struct stub *stub_start(void);
/* The same over HTTPS with the PEM certificate and key files given;
 * stub_url() then starts with "https://". */
struct stub *stub_start_tls(const char *cert_file, const char *key_file);
/* Stops the server, joins its threads, frees everything. NULL is a no-op. */
void stub_stop(struct stub *s);

unsigned stub_port(const struct stub *s);
/* "http://127.0.0.1:<port>" (borrowed). */
const char *stub_url(const struct stub *s);

/* Adds a rule: requests with this method (NULL: any) and exact path are
 * answered with r, `times` times (-1: forever). Rules are tried in the order
 * added; the first whose count is not used up wins. Unmatched requests go to
 * the handler, else get 404. */
void stub_on(struct stub *s, const char *method, const char *path, int times, const struct stub_reply *r);
void stub_set_handler(struct stub *s, stub_handler_fn fn, void *ctx);
/* Forgets rules, handler and captured requests, and zeroes the counters. */
void stub_reset(struct stub *s);

size_t stub_request_count(struct stub *s);
/* The i-th captured request (0-based) or NULL. */
const struct stub_request *stub_request_at(struct stub *s, size_t i);
/* The value of header name (case-insensitive) in req, or NULL. */
const char *stub_request_header(const struct stub_request *req, const char *name);
/* TCP connections accepted so far. */
unsigned stub_connection_count(struct stub *s);

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
unsigned stub_unused_port(void);

/* Threads of this process, from /proc/self/task (to prove none leaked). */
int stub_thread_count(void);

#endif
