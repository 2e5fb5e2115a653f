/*
 * test_imds: the IMDSv2 client against a stub that plays IMDS — the v2 happy
 * path, token reuse and refresh (injected clock, 401), the v1 fallback on
 * 403/404/405 and on a timed-out PUT and none on other failures, disabled
 * IMDS, outposts, the identity-document fallback, a hanging IMDS bounded by the
 * deadline, malformed data, and the listing counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/imds.h"
#include "common/rpc.h"
#include "tests/cloud/helper_stub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a fake environment ---- */
struct fake_env {
	const char *kv[16][2];
};

static const char *fake_getenv(void *ctx, const char *name)
{
	struct fake_env *e = ctx;
	for (size_t i = 0; i < 16 && e->kv[i][0]; i++)
		if (strcmp(e->kv[i][0], name) == 0)
			return e->kv[i][1];
	return NULL;
}

/* ---- a fake IMDS behind the stub ---- */
struct fake_imds {
	pthread_mutex_t mu;
	int token_status;      /* answer to PUT /latest/api/token: 200 or an error status */
	int token_delay_ms;
	bool require_token;    /* GETs without the current token get 401 */
	int tokens_issued;
	char token[32];
	const char *paths[24][2]; /* path -> body */
};

static bool imds_handler(void *ctx, const struct stub_request *req, struct stub_reply *out)
{
	struct fake_imds *f = ctx;
	static char tok[32];
	pthread_mutex_lock(&f->mu);
	bool ret = true;
	if (strcmp(req->path, "/latest/api/token") == 0) {
		if (strcmp(req->method, "PUT") != 0 || stub_request_header(req, "X-Forwarded-For") != NULL) {
			out->status = 403;
		} else if (f->token_status != 200) {
			out->status = f->token_status;
			out->delay_ms = f->token_delay_ms;
		} else {
			f->tokens_issued++;
			snprintf(f->token, sizeof f->token, "AQAAtoken-%d==", f->tokens_issued);
			snprintf(tok, sizeof tok, "%s", f->token);
			out->body = tok;
			out->delay_ms = f->token_delay_ms;
			out->headers[0] = "X-aws-ec2-metadata-token-ttl-seconds: 21600";
		}
		goto done;
	}
	const char *t = stub_request_header(req, "X-aws-ec2-metadata-token");
	if (f->require_token && (t == NULL || strcmp(t, f->token) != 0)) {
		out->status = 401;
		goto done;
	}
	for (int i = 0; i < 24 && f->paths[i][0]; i++) {
		if (strcmp(req->path, f->paths[i][0]) == 0) {
			out->body = f->paths[i][1];
			goto done;
		}
	}
	ret = false; /* 404 */
done:
	pthread_mutex_unlock(&f->mu);
	return ret;
}

static void fake_defaults(struct fake_imds *f)
{
	memset(f, 0, sizeof *f);
	pthread_mutex_init(&f->mu, NULL);
	f->token_status = 200;
	f->require_token = true;
	const char *p[][2] = {
		{ "/latest/meta-data/instance-id", "i-0123456789abcdef0" },
		{ "/latest/meta-data/instance-type", "m5.large\n" },
		{ "/latest/meta-data/placement/region", "us-west-2" },
		{ "/latest/meta-data/placement/availability-zone", "us-west-2b" },
		{ "/latest/meta-data/placement/availability-zone-id", "usw2-az2" },
		{ "/latest/meta-data/network/interfaces/macs/", "0e:49:61:0f:c3:11/\n0e:49:61:0f:c3:12/\n0e:49:61:0f:c3:13/" },
		{ "/latest/meta-data/block-device-mapping/", "ami\nebs1\nebs2\nephemeral0\nroot" },
		{ "/latest/meta-data/iam/security-credentials/", "ebs-role" },
	};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
		f->paths[i][0] = p[i][0];
		f->paths[i][1] = p[i][1];
	}
}

static void fake_set(struct fake_imds *f, const char *path, const char *body)
{
	for (int i = 0; i < 24; i++) {
		if (f->paths[i][0] == NULL || strcmp(f->paths[i][0], path) == 0) {
			f->paths[i][0] = path;
			f->paths[i][1] = body;
			return;
		}
	}
}

static int64_t g_clock;
static int64_t test_now(void *ctx)
{
	(void)ctx;
	return g_clock;
}

struct fixture {
	struct stub *stub;
	struct fake_imds fake;
	struct fake_env fe;
	struct endpoint_env env;
	struct http_client *http;
	struct imds_client *imds;
};

static struct fixture *fx_new(void)
{
	struct fixture *x = calloc(1, sizeof *x);
	x->stub = stub_start();
	fake_defaults(&x->fake);
	stub_set_handler(x->stub, imds_handler, &x->fake);
	x->fe.kv[0][0] = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
	x->fe.kv[0][1] = stub_url(x->stub);
	x->env = (struct endpoint_env){ fake_getenv, &x->fe };
	x->http = http_client_new(&(struct http_options){ .user_agent_version = "t" });
	return x;
}

static void fx_open(struct fixture *x, long timeout_ms, int attempts)
{
	g_clock = 1000000;
	struct imds_options o = { .http = x->http, .env = &x->env, .timeout_ms = timeout_ms, .attempts = attempts,
				  .now_ms = test_now };
	struct status st = STATUS_INIT;
	x->imds = imds_new(&o, &st);
	assert_non_null(x->imds);
}

static void fx_free(struct fixture *x)
{
	imds_free(x->imds);
	http_client_free(x->http);
	stub_stop(x->stub);
	pthread_mutex_destroy(&x->fake.mu);
	free(x);
}

static size_t count_method(struct stub *s, const char *method)
{
	size_t n = 0;
	for (size_t i = 0; i < stub_request_count(s); i++)
		if (strcmp(stub_request_at(s, i)->method, method) == 0)
			n++;
	return n;
}

static void test_v2_happy_path(void **state)
{
	(void)state;
	struct fixture *x = fx_new();
	fx_open(x, 0, 0);
	struct instance_info ii;
	struct status st = STATUS_INIT;
	assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), 0);
	assert_string_equal(ii.instance_id, "i-0123456789abcdef0");
	assert_string_equal(ii.instance_type, "m5.large");
	assert_string_equal(ii.region, "us-west-2");
	assert_string_equal(ii.availability_zone, "us-west-2b");
	assert_string_equal(ii.availability_zone_id, "usw2-az2");
	assert_string_equal(ii.outpost_arn, "");  /* 404: not an Outpost */
	assert_int_equal(ii.network_interfaces, 3);
	assert_int_equal(ii.ebs_block_devices, 3); /* root (ami/root once) + ebs1 + ebs2 */
	/* One token for every GET. */
	assert_int_equal(x->fake.tokens_issued, 1);
	const struct stub_request *put = stub_request_at(x->stub, 0);
	assert_string_equal(put->method, "PUT");
	assert_string_equal(stub_request_header(put, "X-aws-ec2-metadata-token-ttl-seconds"), "21600");
	for (size_t i = 1; i < stub_request_count(x->stub); i++) {
		const struct stub_request *r = stub_request_at(x->stub, i);
		assert_string_equal(r->method, "GET");
		assert_string_equal(stub_request_header(r, "X-aws-ec2-metadata-token"), "AQAAtoken-1==");
	}
	/* Raw access for the credential provider. */
	struct buf b;
	buf_init(&b);
	assert_int_equal(imds_get(x->imds, "meta-data/iam/security-credentials/", RPC_NO_DEADLINE, &b, &st), 0);
	assert_string_equal(b.data, "ebs-role");
	assert_int_equal(imds_get(x->imds, "meta-data/nothing", RPC_NO_DEADLINE, &b, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(imds_get(x->imds, "../etc", RPC_NO_DEADLINE, &b, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(imds_get(x->imds, "/latest/x", RPC_NO_DEADLINE, &b, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	buf_dispose(&b);
	assert_int_equal(x->fake.tokens_issued, 1);

	/* An Outpost. */
	fake_set(&x->fake, "/latest/meta-data/outpost-arn", "arn:aws:outposts:us-west-2:123456789012:outpost/op-0abc\n");
	assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), 0);
	assert_string_equal(ii.outpost_arn, "arn:aws:outposts:us-west-2:123456789012:outpost/op-0abc");
	fx_free(x);
}

static void test_token_refresh(void **state)
{
	(void)state;
	struct fixture *x = fx_new();
	fx_open(x, 0, 0);
	struct buf b;
	buf_init(&b);
	struct status st = STATUS_INIT;
	assert_int_equal(imds_get(x->imds, "meta-data/instance-id", RPC_NO_DEADLINE, &b, &st), 0);
	assert_int_equal(x->fake.tokens_issued, 1);
	/* Five hours later the token is still good. */
	g_clock += 5LL * 3600 * 1000;
	assert_int_equal(imds_get(x->imds, "meta-data/instance-id", RPC_NO_DEADLINE, &b, &st), 0);
	assert_int_equal(x->fake.tokens_issued, 1);
	/* Within a minute of its six-hour TTL it is refreshed first. */
	g_clock += 3600LL * 1000 - 30000;
	assert_int_equal(imds_get(x->imds, "meta-data/instance-id", RPC_NO_DEADLINE, &b, &st), 0);
	assert_int_equal(x->fake.tokens_issued, 2);
	const struct stub_request *last = stub_request_at(x->stub, stub_request_count(x->stub) - 1);
	assert_string_equal(stub_request_header(last, "X-aws-ec2-metadata-token"), "AQAAtoken-2==");

	/* IMDS forgets the token (401): a new one is fetched and the GET retried. */
	pthread_mutex_lock(&x->fake.mu);
	strcpy(x->fake.token, "revoked");
	pthread_mutex_unlock(&x->fake.mu);
	assert_int_equal(imds_get(x->imds, "meta-data/instance-id", RPC_NO_DEADLINE, &b, &st), 0);
	assert_string_equal(b.data, "i-0123456789abcdef0");
	assert_int_equal(x->fake.tokens_issued, 3);
	buf_dispose(&b);
	fx_free(x);
}

static void test_v1_fallback_statuses(void **state)
{
	(void)state;
	int codes[] = { 403, 404, 405 };
	for (size_t i = 0; i < 3; i++) {
		struct fixture *x = fx_new();
		x->fake.token_status = codes[i];
		x->fake.require_token = false;
		fx_open(x, 0, 0);
		struct instance_info ii;
		struct status st = STATUS_INIT;
		assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), 0);
		assert_string_equal(ii.instance_id, "i-0123456789abcdef0");
		/* One PUT, then GETs without a token (the v1 decision is remembered). */
		assert_int_equal(count_method(x->stub, "PUT"), 1);
		for (size_t k = 0; k < stub_request_count(x->stub); k++) {
			const struct stub_request *r = stub_request_at(x->stub, k);
			assert_null(stub_request_header(r, "X-aws-ec2-metadata-token"));
		}
		fx_free(x);
	}
}

static void test_v1_fallback_timeout(void **state)
{
	(void)state;
	struct fixture *x = fx_new();
	x->fake.token_status = 403; /* never reached: the delay outlasts the timeout */
	x->fake.token_delay_ms = 3000;
	x->fake.require_token = false;
	fx_open(x, 200, 2);
	struct buf b;
	buf_init(&b);
	struct status st = STATUS_INIT;
	int64_t t0 = rpc_now_ms();
	assert_int_equal(imds_get(x->imds, "meta-data/instance-id", t0 + 5000, &b, &st), 0);
	assert_string_equal(b.data, "i-0123456789abcdef0");
	assert_true(rpc_now_ms() - t0 < 1500);
	assert_int_equal(count_method(x->stub, "PUT"), 2); /* retried once, then v1 */
	buf_dispose(&b);
	fx_free(x);
}

static void test_no_fallback_on_other_errors(void **state)
{
	(void)state;
	int codes[] = { 400, 500 };
	for (size_t i = 0; i < 2; i++) {
		struct fixture *x = fx_new();
		x->fake.token_status = codes[i];
		x->fake.require_token = false;
		fx_open(x, 0, 0);
		struct buf b;
		buf_init(&b);
		struct status st = STATUS_INIT;
		assert_int_equal(imds_get(x->imds, "meta-data/instance-id", rpc_now_ms() + 5000, &b, &st), -1);
		assert_int_equal(st.code, codes[i] == 400 ? STATUS_FAILED_PRECONDITION : STATUS_UNAVAILABLE);
		assert_int_equal(count_method(x->stub, "GET"), 0);
		if (codes[i] == 500)
			assert_int_equal(count_method(x->stub, "PUT"), IMDS_DEFAULT_ATTEMPTS);
		buf_dispose(&b);
		fx_free(x);
	}
	/* Connection refused: no fallback, a clear UNAVAILABLE. */
	struct fake_env fe = { { { "AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL } } };
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%u", stub_unused_port());
	fe.kv[0][1] = url;
	struct endpoint_env env = { fake_getenv, &fe };
	struct http_client *http = http_client_new(NULL);
	struct status st = STATUS_INIT;
	struct imds_client *c = imds_new(&(struct imds_options){ .http = http, .env = &env }, &st);
	struct buf b;
	buf_init(&b);
	assert_int_equal(imds_get(c, "meta-data/instance-id", rpc_now_ms() + 5000, &b, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_non_null(strstr(st.msg, "127.0.0.1"));
	buf_dispose(&b);
	imds_free(c);
	http_client_free(http);
}

static void test_v1_disabled(void **state)
{
	(void)state;
	struct fixture *x = fx_new();
	x->fake.token_status = 403;
	x->fe.kv[1][0] = "AWS_EC2_METADATA_V1_DISABLED";
	x->fe.kv[1][1] = "true";
	fx_open(x, 0, 0);
	struct buf b;
	buf_init(&b);
	struct status st = STATUS_INIT;
	assert_int_equal(imds_get(x->imds, "meta-data/instance-id", rpc_now_ms() + 5000, &b, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "AWS_EC2_METADATA_V1_DISABLED"));
	assert_int_equal(count_method(x->stub, "GET"), 0);
	buf_dispose(&b);
	fx_free(x);
}

static void test_disabled(void **state)
{
	(void)state;
	struct fixture *x = fx_new();
	x->fe.kv[1][0] = "AWS_EC2_METADATA_DISABLED";
	x->fe.kv[1][1] = "TRUE";
	fx_open(x, 0, 0);
	assert_true(imds_disabled(x->imds));
	struct instance_info ii;
	struct status st = STATUS_INIT;
	assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_non_null(strstr(st.msg, "AWS_EC2_METADATA_DISABLED"));
	assert_int_equal(stub_request_count(x->stub), 0);
	fx_free(x);
}

static void test_hanging_imds(void **state)
{
	(void)state;
	struct fixture *x = fx_new();
	struct stub_reply hang = { .body = "x", .delay_ms = 60000 };
	stub_on(x->stub, NULL, "/latest/api/token", -1, &hang);
	stub_on(x->stub, NULL, "/latest/meta-data/instance-id", -1, &hang);
	fx_open(x, 0, 0);
	struct instance_info ii;
	struct status st = STATUS_INIT;
	int64_t t0 = rpc_now_ms();
	assert_int_equal(imds_get_instance_info(x->imds, t0 + 1500, &ii, &st), -1);
	int64_t took = rpc_now_ms() - t0;
	assert_true(took < 2300); /* deadline 1500 ms plus scheduling slack */
	assert_true(st.code == STATUS_DEADLINE_EXCEEDED || st.code == STATUS_UNAVAILABLE);
	fx_free(x); /* the stub wakes its sleeping threads */
}

static void test_document_fallback_and_malformed(void **state)
{
	(void)state;
	struct fixture *x = fx_new();
	fake_set(&x->fake, "/latest/meta-data/placement/region", "");
	fake_set(&x->fake, "/latest/meta-data/instance-type", "M5 LARGE \x01");
	fake_set(&x->fake, "/latest/dynamic/instance-identity/document",
		 "{\"availabilityZone\":\"us-west-2b\",\"instanceId\":\"i-0123456789abcdef0\","
		 "\"instanceType\":\"t3.micro\",\"region\":\"us-west-2\",\"accountId\":\"123456789012\"}");
	fx_open(x, 0, 0);
	struct instance_info ii;
	struct status st = STATUS_INIT;
	assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), 0);
	assert_string_equal(ii.region, "us-west-2");
	assert_string_equal(ii.instance_type, "t3.micro");

	/* The document is garbage too. */
	fake_set(&x->fake, "/latest/dynamic/instance-identity/document", "{\"region\": ");
	assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "malformed JSON"));

	/* A document without the field. */
	fake_set(&x->fake, "/latest/dynamic/instance-identity/document", "{\"instanceType\":\"t3.micro\"}");
	assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "placement/region"));

	/* A zone outside the region. */
	fake_set(&x->fake, "/latest/meta-data/placement/region", "eu-west-1");
	assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);

	/* Garbage in a listing. */
	fake_set(&x->fake, "/latest/meta-data/placement/region", "us-west-2");
	fake_set(&x->fake, "/latest/meta-data/network/interfaces/macs/", "0e:49:61:0f:c3:11/\n<html>oops</html>");
	assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "macs"));

	/* A malformed outpost ARN. */
	fake_set(&x->fake, "/latest/meta-data/network/interfaces/macs/", "0e:49:61:0f:c3:11/");
	fake_set(&x->fake, "/latest/meta-data/outpost-arn", "not an arn");
	assert_int_equal(imds_get_instance_info(x->imds, rpc_now_ms() + 5000, &ii, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "outpost-arn"));
	fx_free(x);
}

static void test_counters(void **state)
{
	(void)state;
	assert_int_equal(imds_count_macs(""), 0);
	assert_int_equal(imds_count_macs("0e:49:61:0f:c3:11/"), 1);
	assert_int_equal(imds_count_macs("0e:49:61:0f:c3:11/\r\n0E:49:61:0F:C3:12\n"), 2);
	assert_int_equal(imds_count_macs("0e:49:61:0f:c3/"), -1);
	assert_int_equal(imds_count_ebs_mappings("ami\nroot"), 1);
	assert_int_equal(imds_count_ebs_mappings("ami\nebs1\nebs10\nephemeral0\nephemeral1\nswap\nroot\n"), 3);
	assert_int_equal(imds_count_ebs_mappings("ebs1\nebs2"), 2);
	assert_int_equal(imds_count_ebs_mappings(""), 0);
	assert_int_equal(imds_count_ebs_mappings("ebs1\nnot valid"), -1);
}

static void test_env_endpoints(void **state)
{
	(void)state;
	struct http_client *http = http_client_new(NULL);
	struct status st = STATUS_INIT;
	struct fake_env fe = { { { "AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://169.254.169.254" } } };
	struct endpoint_env env = { fake_getenv, &fe };
	assert_null(imds_new(&(struct imds_options){ .http = http, .env = &env }, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "AWS_EC2_METADATA_SERVICE_ENDPOINT"));
	struct fake_env fe2 = { { { "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5" } } };
	env.ctx = &fe2;
	assert_null(imds_new(&(struct imds_options){ .http = http, .env = &env }, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	struct fake_env fe3 = { { { "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipv6" } } };
	env.ctx = &fe3;
	struct imds_client *c = imds_new(&(struct imds_options){ .http = http, .env = &env }, &st);
	assert_non_null(c);
	imds_free(c);
	http_client_free(http);
}

int main(void)
{
	http_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_happy_path),
		cmocka_unit_test(test_token_refresh),
		cmocka_unit_test(test_v1_fallback_statuses),
		cmocka_unit_test(test_v1_fallback_timeout),
		cmocka_unit_test(test_no_fallback_on_other_errors),
		cmocka_unit_test(test_v1_disabled),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_hanging_imds),
		cmocka_unit_test(test_document_fallback_and_malformed),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_env_endpoints),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	http_global_cleanup();
	return rc;
}
