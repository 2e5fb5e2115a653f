/*
 * test_metrics_http: cmd/metrics_http — --http-endpoint parsing (IPv4, IPv6
 * in brackets, empty host, names, the errors), and the server over a real
 * loopback socket: /metrics with its content type and the registry's text,
 * /healthz, HEAD, 404 and 405, the 5/s burst-10 rate limit answering 429,
 * a port already in use refused at start, and the port released at stop.
 */
#include "cmd/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static void test_parse_addr(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t len;
	struct status st = STATUS_INIT;
	assert_int_equal(metrics_http_parse_addr("127.0.0.1:3301", &ss, &len, &st), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 3301);
	assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(metrics_http_parse_addr(":3302", &ss, &len, &st), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), INADDR_ANY);
	assert_int_equal(metrics_http_parse_addr("0.0.0.0:3301", &ss, &len, &st), 0);
	assert_int_equal(metrics_http_parse_addr("[::1]:8080", &ss, &len, &st), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 8080);
	assert_int_equal(metrics_http_parse_addr("localhost:0", &ss, &len, &st), 0);

	const char *bad[] = { "3301", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
			      "::1:80", "no-such-host.invalid:80", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		status_clear(&st);
		if (metrics_http_parse_addr(bad[i], &ss, &len, &st) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, "--http-endpoint"));
	}
	assert_int_equal(metrics_http_parse_addr(NULL, &ss, &len, &st), -1);
}

struct reply {
	int status;
	char head[2048];
	char *body;
};

/* One HTTP/1.1 request with Connection: close; reads the whole answer. */
static void request(unsigned port, const char *method, const char *path, struct reply *r)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	char req[256];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method, path);
	assert_int_equal(write(fd, req, (size_t)n), n);
	size_t cap = 1 << 16, len = 0;
	char *all = malloc(cap);
	ssize_t k;
	while ((k = read(fd, all + len, cap - len - 1)) > 0) {
		len += (size_t)k;
		if (len + 1 == cap)
			all = realloc(all, cap *= 2);
	}
	all[len] = '\0';
	close(fd);
	char *sep = strstr(all, "\r\n\r\n");
	assert_non_null(sep);
	size_t hl = (size_t)(sep - all);
	if (hl >= sizeof r->head)
		hl = sizeof r->head - 1;
	memcpy(r->head, all, hl);
	r->head[hl] = '\0';
	r->body = strdup(sep + 4);
	assert_int_equal(sscanf(all, "HTTP/1.1 %d", &r->status), 1);
	free(all);
}

static void test_serve(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *c = metrics_counter(m, "test_hits_total", "Hits.", (const char *const[]){ "k", NULL });
	metrics_counter_inc(c, (const char *const[]){ "v" });
	struct status st = STATUS_INIT;
	struct metrics_http *h = metrics_http_start("127.0.0.1:0", m, &st);
	if (h == NULL)
		fail_msg("start: %s", st.msg);
	unsigned port = metrics_http_port(h);
	assert_true(port > 0);

	struct reply r;
	request(port, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
	assert_string_equal(r.body, "# HELP test_hits_total Hits.\n# TYPE test_hits_total counter\ntest_hits_total{k=\"v\"} 1\n");
	free(r.body);

	request(port, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	free(r.body);

	request(port, "HEAD", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "");
	free(r.body);

	request(port, "GET", "/nope", &r);
	assert_int_equal(r.status, 404);
	free(r.body);
	request(port, "GET", "/metrics/x", &r);
	assert_int_equal(r.status, 404);
	free(r.body);
	request(port, "POST", "/metrics", &r);
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "Allow: GET, HEAD"));
	free(r.body);

	/* the second server on the same port is refused with the reason */
	char ep[64];
	snprintf(ep, sizeof ep, "127.0.0.1:%u", port);
	assert_null(metrics_http_start(ep, m, &st));
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_non_null(strstr(st.msg, "in use"));

	metrics_http_stop(h);
	metrics_http_stop(NULL);
	/* the port is free again: the listening socket was closed */
	h = metrics_http_start(ep, m, &st);
	if (h == NULL)
		fail_msg("restart on %s: %s", ep, st.msg);
	metrics_http_stop(h);
	metrics_free(m);
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct status st = STATUS_INIT;
	struct metrics_http *h = metrics_http_start("127.0.0.1:0", m, &st);
	assert_non_null(h);
	unsigned port = metrics_http_port(h);
	int ok = 0, limited = 0;
	struct reply r;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* 20 back to back: the burst of 10 passes, plus what refills meanwhile */
	for (int i = 0; i < 20; i++) {
		request(port, "GET", "/metrics", &r);
		if (r.status == 200) {
			ok++;
		} else if (r.status == 429) {
			limited++;
			assert_string_equal(r.body, "Rate limit exceeded\n");
		}
		free(r.body);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(ok + limited, 20);
	assert_true(ok >= 10);
	assert_true(ok <= 10 + (int)(elapsed * 5) + 1);
	/* /healthz is never limited */
	request(port, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	free(r.body);
	/* tokens come back at 5 a second */
	usleep(450 * 1000);
	request(port, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	free(r.body);
	metrics_http_stop(h);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_serve),
		cmocka_unit_test(test_rate_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
