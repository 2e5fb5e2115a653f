/*
 * metrics_http: the --http-endpoint server. GET /metrics answers the
 * registry's text exposition; GET /healthz answers "ok" (the process is up
 * and serving HTTP). Anything else is 404, other methods 405.
 *
 * As upstream (reference §5): /metrics is rate-limited to 5 requests a second
 * with a burst of 10 (then 429 "Rate limit exceeded"), and a connection idle
 * for 3 s is closed, so a slow or hostile client cannot pin the server. One
 * libmicrohttpd thread serves every connection: a scrape takes well under a
 * millisecond plus the NVMe ioctls, and a thread per connection would cost
 * more memory than the driver's whole heap. Plain HTTP only.
 */
#ifndef EBS_CMD_METRICS_HTTP_H
#define EBS_CMD_METRICS_HTTP_H

#include "common/metrics.h"
#include "common/status.h"

#include <sys/socket.h>

struct metrics_http;

/* Parses an --http-endpoint value as Go's net.Listen does: "HOST:PORT" with
 * HOST an IPv4 address, a bracketed IPv6 address, a host name (resolved), or
 * empty (every address: ":3301"). Fills *ss / *len. Returns 0, or -1 with
 * INVALID_ARGUMENT naming the value (no port, port out of range, unknown host). */
int metrics_http_parse_addr(const char *endpoint, struct sockaddr_storage *ss, socklen_t *len, struct status *st);

/* Listens on endpoint and serves m (which must outlive the server) from its
 * own thread; start it after blocking the signals main waits for, so the
 * thread inherits that mask. Returns the server, or NULL with
 * INVALID_ARGUMENT (bad endpoint) or UNAVAILABLE (cannot listen: in use,
 * not permitted). */
struct metrics_http *metrics_http_start(const char *endpoint, struct metrics *m, struct status *st);

/* The port actually listened on (useful with port 0). */
unsigned metrics_http_port(const struct metrics_http *h);

/* Stops serving, closes the listening socket and frees h. NULL is a no-op. */
void metrics_http_stop(struct metrics_http *h);

#endif
