/*
 * test_http: the libcurl client against the in-process stub server — methods,
 * headers both ways, keep-alive reuse, the body cap (Content-Length and
 * endless chunked bodies), slow drip and deadline, connection refused, a
 * deadline already past, no redirects, header injection, cancellation,
 * concurrency, TLS verification with and without AWS_CA_BUNDLE, and that no
 * stub thread outlives its server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/http.h"
#include "common/rpc.h"
#include "tests/cloud/helper_stub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT "tests/fixtures/creds/stub-tls-cert.pem"
#define KEY "tests/fixtures/creds/stub-tls-key.pem"

static struct http_client *new_client(size_t max_body)
{
	struct http_options o = { .user_agent_version = "test-1.0", .max_body = max_body };
	return http_client_new(&o);
}

static char *url_of(struct stub *s, const char *path)
{
	static char u[256];
	snprintf(u, sizeof u, "%s%s", stub_url(s), path);
	return u;
}

static void test_methods_and_headers(void **state)
{
	(void)state;
	struct stub *s = stub_start();
	struct stub_reply r = { .body = "hello", .headers = { "X-Amzn-RequestId: req-1", "Content-Type: text/plain" } };
	stub_on(s, "GET", "/a", -1, &r);
	struct stub_reply p = { .status = 201, .body = "created" };
	stub_on(s, "POST", "/p", -1, &p);
	struct stub_reply t = { .body = "token-abc" };
	stub_on(s, "PUT", "/t", -1, &t);
	struct http_client *c = new_client(0);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;

	struct http_header h[] = { { "X-Req", "v1" }, { "X-Empty", "" } };
	struct http_request req = { .method = "GET", .url = url_of(s, "/a"), .headers = h, .n_headers = 2,
				    .deadline_ms = RPC_NO_DEADLINE };
	assert_int_equal(http_do(c, &req, &resp, &st), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.data, "hello");
	assert_string_equal(http_response_header(&resp, "x-amzn-requestid"), "req-1");
	assert_null(http_response_header(&resp, "X-Missing"));
	assert_int_equal(resp.error, HTTP_ERR_NONE);
	const struct stub_request *sr = stub_request_at(s, 0);
	assert_string_equal(sr->method, "GET");
	assert_string_equal(stub_request_header(sr, "X-Req"), "v1");
	assert_string_equal(stub_request_header(sr, "X-Empty"), "");
	assert_string_equal(stub_request_header(sr, "User-Agent"), "ebs-csi-c/test-1.0");
	assert_null(stub_request_header(sr, "Expect"));
	assert_null(stub_request_header(sr, "Accept-Encoding"));

	/* POST with a form body bigger than curl's 100-continue threshold. */
	char big[4000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	struct http_header ph[] = { { "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" } };
	struct http_request post = { .method = "POST", .url = url_of(s, "/p"), .headers = ph, .n_headers = 1,
				     .body = big, .body_len = strlen(big), .deadline_ms = rpc_now_ms() + 5000 };
	assert_int_equal(http_do(c, &post, &resp, &st), 0);
	assert_int_equal(resp.status, 201);
	assert_string_equal(resp.body.data, "created");
	sr = stub_request_at(s, 1);
	assert_string_equal(sr->method, "POST");
	assert_int_equal(sr->body_len, strlen(big));
	assert_string_equal(sr->body, big);
	assert_string_equal(stub_request_header(sr, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
	assert_null(stub_request_header(sr, "Expect"));

	/* PUT with no body still sends Content-Length: 0 (IMDS token call). */
	struct http_header th[] = { { "X-aws-ec2-metadata-token-ttl-seconds", "21600" } };
	struct http_request put = { .method = "PUT", .url = url_of(s, "/t"), .headers = th, .n_headers = 1,
				    .deadline_ms = RPC_NO_DEADLINE };
	assert_int_equal(http_do(c, &put, &resp, &st), 0);
	assert_string_equal(resp.body.data, "token-abc");
	sr = stub_request_at(s, 2);
	assert_string_equal(sr->method, "PUT");
	assert_string_equal(stub_request_header(sr, "Content-Length"), "0");
	assert_string_equal(stub_request_header(sr, "X-aws-ec2-metadata-token-ttl-seconds"), "21600");

	/* A non-2xx answer is a success of this layer. */
	struct http_request nf = { .method = "GET", .url = url_of(s, "/nothing"), .deadline_ms = RPC_NO_DEADLINE };
	assert_int_equal(http_do(c, &nf, &resp, &st), 0);
	assert_int_equal(resp.status, 404);

	http_response_dispose(&resp);
	http_client_free(c);
	stub_stop(s);
}

static void test_keepalive_reuse(void **state)
{
	(void)state;
	struct stub *s = stub_start();
	struct stub_reply r = { .body = "ok" };
	stub_on(s, NULL, "/k", -1, &r);
	struct http_client *c = new_client(0);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;
	for (int i = 0; i < 5; i++) {
		struct http_request req = { .method = i % 2 ? "POST" : "GET", .url = url_of(s, "/k"),
					    .body = i % 2 ? "x=1" : NULL, .body_len = i % 2 ? 3 : 0,
					    .deadline_ms = RPC_NO_DEADLINE };
		assert_int_equal(http_do(c, &req, &resp, &st), 0);
		assert_int_equal(resp.new_connections, i == 0 ? 1 : 0);
	}
	assert_int_equal(stub_connection_count(s), 1);
	struct http_stats stats;
	http_client_stats(c, &stats);
	assert_int_equal(stats.requests, 5);
	assert_int_equal(stats.new_connections, 1);
	assert_int_equal(stats.handles_created, 1);

	/* Connection: close from the server forces a new connection next time. */
	struct stub_reply cl = { .body = "bye", .close = true };
	stub_on(s, NULL, "/close", -1, &cl);
	struct http_request req = { .method = "GET", .url = url_of(s, "/close"), .deadline_ms = RPC_NO_DEADLINE };
	assert_int_equal(http_do(c, &req, &resp, &st), 0);
	req.url = url_of(s, "/k");
	assert_int_equal(http_do(c, &req, &resp, &st), 0);
	assert_int_equal(resp.new_connections, 1);
	assert_int_equal(stub_connection_count(s), 2);
	http_response_dispose(&resp);
	http_client_free(c);
	stub_stop(s);
}

static void test_body_cap_content_length(void **state)
{
	(void)state;
	struct stub *s = stub_start();
	struct stub_reply r = { .generate_len = (uint64_t)100 << 20 }; /* 100 MB, Content-Length sent */
	stub_on(s, "GET", "/huge", -1, &r);
	struct http_client *c = new_client(0);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;
	int64_t t0 = rpc_now_ms();
	struct http_request req = { .method = "GET", .url = url_of(s, "/huge"), .deadline_ms = t0 + 10000 };
	assert_int_equal(http_do(c, &req, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_int_equal(resp.error, HTTP_ERR_TOO_LARGE);
	assert_non_null(strstr(st.msg, "larger than 8388608 bytes"));
	assert_non_null(strstr(st.msg, "127.0.0.1"));
	assert_true(resp.body.len <= HTTP_DEFAULT_MAX_BODY);
	assert_true(resp.body.cap <= 2 * HTTP_DEFAULT_MAX_BODY);
	assert_true(rpc_now_ms() - t0 < 3000);
	http_response_dispose(&resp);
	http_client_free(c);
	stub_stop(s);
}

static void test_body_cap_endless(void **state)
{
	(void)state;
	struct stub *s = stub_start();
	struct stub_reply r = { .generate_len = STUB_ENDLESS, .chunked = true };
	stub_on(s, "GET", "/endless", -1, &r);
	struct http_client *c = new_client(1 << 20);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;
	int64_t t0 = rpc_now_ms();
	struct http_request req = { .method = "GET", .url = url_of(s, "/endless"), .deadline_ms = t0 + 20000 };
	assert_int_equal(http_do(c, &req, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_int_equal(resp.error, HTTP_ERR_TOO_LARGE);
	assert_true(resp.body.len <= (1 << 20));
	assert_true(resp.body.cap <= (2 << 20));
	assert_true(rpc_now_ms() - t0 < 5000);

	/* A per-request cap below the client's. */
	struct stub_reply small = { .body = "0123456789" };
	stub_on(s, "GET", "/ten", -1, &small);
	struct http_request r2 = { .method = "GET", .url = url_of(s, "/ten"), .max_body = 9,
				   .deadline_ms = RPC_NO_DEADLINE };
	assert_int_equal(http_do(c, &r2, &resp, &st), -1);
	assert_int_equal(resp.error, HTTP_ERR_TOO_LARGE);
	r2.max_body = 10;
	assert_int_equal(http_do(c, &r2, &resp, &st), 0);
	assert_string_equal(resp.body.data, "0123456789");
	http_response_dispose(&resp);
	http_client_free(c);
	stub_stop(s);
}

static void test_slow_drip_deadline(void **state)
{
	(void)state;
	struct stub *s = stub_start();
	struct stub_reply r = { .generate_len = 100000, .drip_ms = 50 };
	stub_on(s, "GET", "/drip", -1, &r);
	struct stub_reply late = { .body = "late", .delay_ms = 3000 };
	stub_on(s, "GET", "/late", -1, &late);
	struct http_client *c = new_client(0);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;

	int64_t t0 = rpc_now_ms();
	struct http_request req = { .method = "GET", .url = url_of(s, "/drip"), .deadline_ms = t0 + 700 };
	assert_int_equal(http_do(c, &req, &resp, &st), -1);
	int64_t took = rpc_now_ms() - t0;
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_int_equal(resp.error, HTTP_ERR_TIMEOUT);
	assert_true(took >= 650 && took < 1800);

	/* The attempt's own budget (not the deadline) ran out: UNAVAILABLE. */
	t0 = rpc_now_ms();
	struct http_request r2 = { .method = "GET", .url = url_of(s, "/late"), .timeout_ms = 300,
				   .deadline_ms = t0 + 10000 };
	assert_int_equal(http_do(c, &r2, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_int_equal(resp.error, HTTP_ERR_TIMEOUT);
	assert_non_null(strstr(st.msg, "timed out"));
	assert_true(rpc_now_ms() - t0 < 1000);
	http_response_dispose(&resp);
	http_client_free(c);
	stub_stop(s);
}

static void test_connection_refused_and_past_deadline(void **state)
{
	(void)state;
	struct http_client *c = new_client(0);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%u/path?X-Amz-Security-Token=SECRETTOKEN", stub_unused_port());
	struct http_request req = { .method = "GET", .url = url, .deadline_ms = rpc_now_ms() + 3000 };
	assert_int_equal(http_do(c, &req, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_int_equal(resp.error, HTTP_ERR_CONNECT);
	assert_non_null(strstr(st.msg, "127.0.0.1"));
	assert_non_null(strstr(st.msg, "refused"));
	assert_null(strstr(st.msg, "SECRETTOKEN"));
	assert_null(strstr(st.msg, "/path"));

	/* A deadline already past: no request at all. */
	struct stub *s = stub_start();
	struct http_request r2 = { .method = "GET", .url = url_of(s, "/x"), .deadline_ms = rpc_now_ms() - 1 };
	assert_int_equal(http_do(c, &r2, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_int_equal(stub_request_count(s), 0);
	assert_int_equal(stub_connection_count(s), 0);

	/* Unresolvable host (no DNS here; .invalid never resolves). */
	struct http_request r3 = { .method = "GET", .url = "http://no-such-host.invalid/",
				   .deadline_ms = rpc_now_ms() + 5000 };
	assert_int_equal(http_do(c, &r3, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_int_equal(resp.error, HTTP_ERR_CONNECT);
	assert_non_null(strstr(st.msg, "no-such-host.invalid"));

	/* Bad input. */
	struct http_request r4 = { .method = "get", .url = url_of(s, "/x"), .deadline_ms = RPC_NO_DEADLINE };
	assert_int_equal(http_do(c, &r4, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	struct http_header bad[] = { { "X-Inject", "a\r\nX-Evil: 1" } };
	struct http_request r5 = { .method = "GET", .url = url_of(s, "/x"), .headers = bad, .n_headers = 1,
				   .deadline_ms = RPC_NO_DEADLINE };
	assert_int_equal(http_do(c, &r5, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "X-Inject"));
	struct http_request r6 = { .method = "GET", .url = "ftp://127.0.0.1/x", .deadline_ms = RPC_NO_DEADLINE };
	assert_int_equal(http_do(c, &r6, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(stub_request_count(s), 0);

	http_response_dispose(&resp);
	http_client_free(c);
	stub_stop(s);
}

static void test_no_redirects(void **state)
{
	(void)state;
	struct stub *s = stub_start();
	char loc[128];
	snprintf(loc, sizeof loc, "Location: %s/elsewhere", stub_url(s));
	struct stub_reply r = { .status = 302, .headers = { loc } };
	stub_on(s, "GET", "/moved", -1, &r);
	struct http_client *c = new_client(0);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;
	struct http_request req = { .method = "GET", .url = url_of(s, "/moved"), .deadline_ms = RPC_NO_DEADLINE };
	assert_int_equal(http_do(c, &req, &resp, &st), 0);
	assert_int_equal(resp.status, 302);
	assert_int_equal(stub_request_count(s), 1);
	http_response_dispose(&resp);
	http_client_free(c);
	stub_stop(s);
}

static void test_cancelled(void **state)
{
	(void)state;
	struct stub *s = stub_start();
	struct stub_reply r = { .generate_len = 100000, .drip_ms = 20 };
	stub_on(s, "GET", "/slow", -1, &r);
	struct http_client *c = new_client(0);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;
	atomic_bool cancel;
	atomic_init(&cancel, true);
	int64_t t0 = rpc_now_ms();
	struct http_request req = { .method = "GET", .url = url_of(s, "/slow"), .cancelled = &cancel,
				    .deadline_ms = t0 + 10000 };
	assert_int_equal(http_do(c, &req, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_CANCELLED);
	assert_int_equal(resp.error, HTTP_ERR_CANCELLED);
	assert_true(rpc_now_ms() - t0 < 3000);
	http_response_dispose(&resp);
	http_client_free(c);
	stub_stop(s);
}

struct worker {
	struct http_client *c;
	const char *url;
	int ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct http_response resp;
	http_response_init(&resp);
	for (int i = 0; i < 20; i++) {
		struct status st = STATUS_INIT;
		struct http_request req = { .method = "GET", .url = w->url, .deadline_ms = rpc_now_ms() + 5000 };
		if (http_do(w->c, &req, &resp, &st) == 0 && resp.status == 200 && strcmp(resp.body.data, "ok") == 0)
			w->ok++;
	}
	http_response_dispose(&resp);
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct stub *s = stub_start();
	struct stub_reply r = { .body = "ok" };
	stub_on(s, "GET", "/c", -1, &r);
	struct http_client *c = new_client(0);
	char url[128];
	snprintf(url, sizeof url, "%s/c", stub_url(s));
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .c = c, .url = url };
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 20);
	}
	struct http_stats stats;
	http_client_stats(c, &stats);
	assert_int_equal(stats.requests, 80);
	assert_true(stats.handles_created <= 4);
	assert_true(stub_connection_count(s) <= 4);
	http_client_free(c);
	stub_stop(s);
}

static const char *ca_env(void *ctx, const char *name)
{
	return strcmp(name, "AWS_CA_BUNDLE") == 0 ? ctx : NULL;
}

static void test_tls_verification(void **state)
{
	(void)state;
	struct stub *s = stub_start_tls(CERT, KEY);
	struct stub_reply r = { .body = "secure" };
	stub_on(s, "GET", "/tls", -1, &r);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;

	/* The system bundle does not trust the stub's self-signed certificate. */
	struct http_client *c = new_client(0);
	struct http_request req = { .method = "GET", .url = url_of(s, "/tls"), .deadline_ms = rpc_now_ms() + 5000 };
	assert_int_equal(http_do(c, &req, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(resp.error, HTTP_ERR_TLS);
	assert_int_equal(stub_request_count(s), 0);
	http_client_free(c);

	/* AWS_CA_BUNDLE pointing at it makes the same request work. */
	struct endpoint_env env = { ca_env, (void *)CERT };
	struct http_options o = { .user_agent_version = "t" };
	assert_int_equal(http_options_from_env(&env, &o, &st), 0);
	assert_string_equal(o.ca_bundle, CERT);
	c = http_client_new(&o);
	assert_int_equal(http_do(c, &req, &resp, &st), 0);
	assert_string_equal(resp.body.data, "secure");
	http_client_free(c);

	struct endpoint_env bad = { ca_env, (void *)"/nonexistent/ca.pem" };
	assert_int_equal(http_options_from_env(&bad, &o, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "AWS_CA_BUNDLE"));
	http_response_dispose(&resp);
	stub_stop(s);
}

static void test_origin(void **state)
{
	(void)state;
	char o[128];
	http_url_origin("https://user:pw@ec2.us-east-1.amazonaws.com/a/b?Token=x", o, sizeof o);
	assert_string_equal(o, "https://ec2.us-east-1.amazonaws.com:443");
	http_url_origin("http://169.254.169.254/latest", o, sizeof o);
	assert_string_equal(o, "http://169.254.169.254:80");
	http_url_origin("not a url", o, sizeof o);
	assert_string_equal(o, "?");
}

static void test_no_threads_left(void **state)
{
	(void)state;
	int before = stub_thread_count();
	struct stub *s = stub_start();
	struct stub_reply r = { .body = "x", .delay_ms = 60000 };
	stub_on(s, "GET", "/hang", -1, &r);
	struct http_client *c = new_client(0);
	struct http_response resp;
	http_response_init(&resp);
	struct status st = STATUS_INIT;
	struct http_request req = { .method = "GET", .url = url_of(s, "/hang"), .deadline_ms = rpc_now_ms() + 200 };
	assert_int_equal(http_do(c, &req, &resp, &st), -1);
	assert_true(stub_thread_count() > before);
	int64_t t0 = rpc_now_ms();
	stub_stop(s); /* wakes the hanging connection thread */
	assert_true(rpc_now_ms() - t0 < 2000);
	assert_int_equal(stub_thread_count(), before);
	http_response_dispose(&resp);
	http_client_free(c);
}

int main(void)
{
	http_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_methods_and_headers),
		cmocka_unit_test(test_keepalive_reuse),
		cmocka_unit_test(test_body_cap_content_length),
		cmocka_unit_test(test_body_cap_endless),
		cmocka_unit_test(test_slow_drip_deadline),
		cmocka_unit_test(test_connection_refused_and_past_deadline),
		cmocka_unit_test(test_no_redirects),
		cmocka_unit_test(test_cancelled),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_tls_verification),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_no_threads_left),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	http_global_cleanup();
	return rc;
}
