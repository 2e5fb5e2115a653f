/*
 * metrics_http: see metrics_http.h. The listening socket is made here rather
 * than by libmicrohttpd so that a port in use is reported with its errno at
 * start-up (the process then exits, as upstream's does), and so that port 0
 * works for tests; libmicrohttpd takes it over and closes it when stopped.
 * The rate limiter's state is touched only by libmicrohttpd's one thread.
 */
#include "cmd/metrics_http.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RATE_PER_SEC 5.0
#define RATE_BURST 10.0
#define IDLE_TIMEOUT_S 3
#define MAX_CONNECTIONS 32

struct metrics_http {
	struct MHD_Daemon *d;
	struct metrics *m;
	unsigned port;
	double tokens;      /* token bucket for /metrics */
	double last_refill; /* monotonic seconds */
};

int metrics_http_parse_addr(const char *endpoint, struct sockaddr_storage *ss, socklen_t *len, struct status *st)
{
	const char *colon = endpoint ? strrchr(endpoint, ':') : NULL;
	if (colon == NULL || colon[1] == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "--http-endpoint \"%s\": want HOST:PORT (e.g. 0.0.0.0:3301)",
				  endpoint ? endpoint : "");
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535)
		return status_set(st, STATUS_INVALID_ARGUMENT, "--http-endpoint \"%s\": bad port", endpoint);
	char host[256];
	size_t hlen = (size_t)(colon - endpoint);
	if (hlen >= sizeof host)
		return status_set(st, STATUS_INVALID_ARGUMENT, "--http-endpoint \"%s\": host too long", endpoint);
	memcpy(host, endpoint, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	} else if (strchr(host, ':') != NULL) {
		return status_set(st, STATUS_INVALID_ARGUMENT, "--http-endpoint \"%s\": put an IPv6 address in brackets",
				  endpoint);
	}
	memset(ss, 0, sizeof *ss);
	if (host[0] == '\0') {
		/* Go listens on every address for ":PORT"; IPv4 any is what the
		 * pod network of every Kubernetes cluster reaches. */
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		a->sin_port = htons((uint16_t)port);
		*len = sizeof *a;
		return 0;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || res == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "--http-endpoint \"%s\": cannot resolve \"%s\": %s",
				  endpoint, host, gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		return status_set(st, STATUS_INVALID_ARGUMENT, "--http-endpoint \"%s\": not an IP address", endpoint);
	return 0;
}

static double mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool take_token(struct metrics_http *h)
{
	double now = mono_seconds();
	h->tokens += (now - h->last_refill) * RATE_PER_SEC;
	if (h->tokens > RATE_BURST)
		h->tokens = RATE_BURST;
	h->last_refill = now;
	if (h->tokens < 1.0)
		return false;
	h->tokens -= 1.0;
	return true;
}

/* Queues body (taken from b, which stays valid and must still be disposed). */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *content_type, struct buf *b,
			     const char *allow)
{
	size_t len = b->len;
	char *data = buf_take(b);
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text, const char *allow)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, text);
	enum MHD_Result r = reply(conn, status, "text/plain; charset=utf-8", &b, allow);
	buf_dispose(&b);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	(void)version;
	(void)upload_data;
	struct metrics_http *h = cls;
	/* A body (nobody should send one here) is consumed and ignored; the
	 * answer goes out once it has all arrived. */
	if (*con_cls == NULL) {
		*con_cls = h;
		if (*upload_data_size == 0)
			goto answer;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
answer:;
	bool is_metrics = strcmp(url, "/metrics") == 0, is_health = strcmp(url, "/healthz") == 0;
	if (!is_metrics && !is_health)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n", "GET, HEAD");
	if (is_health)
		return reply_text(conn, MHD_HTTP_OK, "ok", NULL);
	if (!take_token(h))
		return reply_text(conn, MHD_HTTP_TOO_MANY_REQUESTS, "Rate limit exceeded\n", NULL);
	struct buf b;
	buf_init(&b);
	metrics_render(h->m, &b);
	enum MHD_Result r = reply(conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, &b, NULL);
	buf_dispose(&b);
	return r;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_v(2, "metrics http: %s", msg);
}

struct metrics_http *metrics_http_start(const char *endpoint, struct metrics *m, struct status *st)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	if (metrics_http_parse_addr(endpoint, &ss, &sslen, st) < 0)
		return NULL;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		status_set(st, STATUS_UNAVAILABLE, "--http-endpoint %s: socket: %s", endpoint, strerror(errno));
		return NULL;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, 64) < 0) {
		status_set(st, STATUS_UNAVAILABLE, "--http-endpoint %s: cannot listen: %s", endpoint, strerror(errno));
		close(fd);
		return NULL;
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	unsigned port = 0;
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
		port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
							 : ((struct sockaddr_in *)&bound)->sin_port);

	struct metrics_http *h = xcalloc(1, sizeof *h);
	h->m = m;
	h->port = port;
	h->tokens = RATE_BURST;
	h->last_refill = mono_seconds();
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
				MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS, MHD_OPTION_END);
	if (h->d == NULL) {
		status_set(st, STATUS_UNAVAILABLE, "--http-endpoint %s: cannot start the HTTP server", endpoint);
		if (fcntl(fd, F_GETFD) != -1)
			close(fd);
		free(h);
		return NULL;
	}
	return h;
}

unsigned metrics_http_port(const struct metrics_http *h)
{
	return h->port;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
