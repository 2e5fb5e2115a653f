/*
 * test_creds: the credential chain against one stub server playing STS, a
 * container credential endpoint and IMDS — every source, the request STS gets
 * (form fields, token re-read after the file changes), the container
 * Authorization header from its token file, STS error bodies, malformed
 * XML/JSON, refresh ahead of expiry with an injected clock, expired
 * credentials, keeping valid credentials when a refresh fails, the chain
 * order, AWS_EC2_METADATA_DISABLED, and a run of every path with logging at
 * -v 10 whose output (and every status message) must contain no secret.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/creds.h"
#include "cloud/creds_internal.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/xalloc.h"
#include "tests/cloud/helper_http.h"
#include "tests/cloud/helper_stub.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENV_AK "AKIAENVEXAMPLE"
#define ENV_SK "envSECRETkey/0000+xyz"
#define ENV_TOK "envSESSIONtoken0000"
#define FILE_SK "fileSECRETkey/1111"
#define FILE_TOK "fileSESSIONtoken1111"
#define CFG_SK "cfgSECRETkey/2222"
#define STS_SK "stsSECRETkey/3333"
#define STS_TOK "stsSESSIONtoken3333=="
#define WIT1 "eyJwebIDENTITYtoken.one"
#define WIT2 "eyJwebIDENTITYtoken.two"
#define CTR_SK "ctrSECRETkey/4444"
#define CTR_TOK "ctrSESSIONtoken4444"
#define CTR_AUTH "ctrAUTHtoken4444"
#define CTR_AUTH2 "ctrAUTHtoken5555"
#define IMDS_SK "imdsSECRETkey/6666"
#define IMDS_TOK "imdsSESSIONtoken6666"

static const char *const g_secrets[] = { ENV_SK, ENV_TOK, FILE_SK, FILE_TOK, CFG_SK, STS_SK, STS_TOK, WIT1, WIT2,
					 CTR_SK, CTR_TOK, CTR_AUTH, CTR_AUTH2, IMDS_SK, IMDS_TOK, "AQAAimdsTOKEN" };

/* ---- environment ---- */
struct fake_env {
	char *kv[32][2];
};

static const char *fake_getenv(void *ctx, const char *name)
{
	struct fake_env *e = ctx;
	for (size_t i = 0; i < 32 && e->kv[i][0]; i++)
		if (strcmp(e->kv[i][0], name) == 0)
			return e->kv[i][1];
	return NULL;
}

static void env_set(struct fake_env *e, const char *name, const char *value)
{
	for (size_t i = 0; i < 32; i++) {
		if (e->kv[i][0] == NULL || strcmp(e->kv[i][0], name) == 0) {
			if (e->kv[i][0] == NULL)
				e->kv[i][0] = xstrdup(name);
			free(e->kv[i][1]);
			e->kv[i][1] = xstrdup(value ? value : "");
			return;
		}
	}
	fail();
}

static void env_clear(struct fake_env *e)
{
	for (size_t i = 0; i < 32 && e->kv[i][0]; i++) {
		free(e->kv[i][0]);
		free(e->kv[i][1]);
		e->kv[i][0] = e->kv[i][1] = NULL;
	}
}

/* ---- clock ---- */
static time_t g_now = 1800000000; /* 2027-01-15 */
static time_t test_now(void *ctx)
{
	(void)ctx;
	return g_now;
}

static void iso(time_t t, char *out, size_t cap)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the stub's behaviour ---- */
enum { OK = 0, FAIL_500, GARBAGE, STS_INVALID_TOKEN, STS_IDP_ONCE, STS_NO_CREDS, STS_DOCTYPE, IMDS_CODE_ERROR };

struct srv {
	pthread_mutex_t mu;
	int sts_mode, ctr_mode, imds_mode;
	time_t sts_exp, ctr_exp, imds_exp;
	int sts_calls, ctr_calls, imds_cred_calls;
};

static struct srv g_srv;

static bool handler(void *ctx, const struct stub_request *req, struct stub_reply *out)
{
	(void)ctx;
	static _Thread_local char body[4096];
	char exp[32];
	pthread_mutex_lock(&g_srv.mu);
	bool ret = true;
	if (strcmp(req->path, "/sts") == 0) {
		g_srv.sts_calls++;
		iso(g_srv.sts_exp, exp, sizeof exp);
		int mode = g_srv.sts_mode;
		if (mode == STS_IDP_ONCE)
			g_srv.sts_mode = OK;
		switch (mode) {
		case OK:
		case STS_IDP_ONCE + 100:
			snprintf(body, sizeof body,
				 "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
				 "<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>system:sa</SubjectFromWebIdentityToken>"
				 "<Credentials><AccessKeyId>ASIASTSEXAMPLE</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
				 "<SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>"
				 "</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r-1</RequestId>"
				 "</ResponseMetadata></AssumeRoleWithWebIdentityResponse>",
				 STS_SK, STS_TOK, exp);
			break;
		case STS_INVALID_TOKEN:
		case STS_IDP_ONCE:
			out->status = 400;
			snprintf(body, sizeof body,
				 "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
				 "<Code>%s</Code><Message>Token rejected</Message></Error><RequestId>req-42</RequestId>"
				 "</ErrorResponse>",
				 mode == STS_IDP_ONCE ? "IDPCommunicationError" : "InvalidIdentityToken");
			break;
		case STS_NO_CREDS:
			snprintf(body, sizeof body, "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
						    "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>");
			break;
		case STS_DOCTYPE:
			snprintf(body, sizeof body, "<!DOCTYPE x [<!ENTITY e \"%s\">]><AssumeRoleWithWebIdentityResponse/>",
				 STS_SK);
			break;
		case FAIL_500:
			out->status = 500;
			snprintf(body, sizeof body, "oops");
			break;
		default:
			snprintf(body, sizeof body, "<AssumeRoleWithWebIdentityResponse><Credentials>%s", STS_SK);
		}
	} else if (strcmp(req->path, "/creds") == 0) {
		g_srv.ctr_calls++;
		iso(g_srv.ctr_exp, exp, sizeof exp);
		if (g_srv.ctr_mode == FAIL_500) {
			out->status = 500;
			snprintf(body, sizeof body, "{}");
		} else if (g_srv.ctr_mode == GARBAGE) {
			snprintf(body, sizeof body, "{\"AccessKeyId\": \"ASIA\", \"SecretAccessKey\": \"%s\"", CTR_SK);
		} else {
			snprintf(body, sizeof body,
				 "{\"AccessKeyId\":\"ASIACTREXAMPLE\",\"SecretAccessKey\":\"%s\",\"Token\":\"%s\","
				 "\"Expiration\":\"%s\",\"AccountId\":\"123456789012\"}",
				 CTR_SK, CTR_TOK, exp);
		}
	} else if (strcmp(req->path, "/latest/api/token") == 0) {
		snprintf(body, sizeof body, "AQAAimdsTOKEN");
	} else if (strcmp(req->path, "/latest/meta-data/iam/security-credentials/") == 0) {
		snprintf(body, sizeof body, "ebs-node-role\n");
	} else if (strcmp(req->path, "/latest/meta-data/iam/security-credentials/ebs-node-role") == 0) {
		g_srv.imds_cred_calls++;
		iso(g_srv.imds_exp, exp, sizeof exp);
		if (g_srv.imds_mode == IMDS_CODE_ERROR)
			snprintf(body, sizeof body, "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no\"}");
		else if (g_srv.imds_mode == FAIL_500) {
			out->status = 500;
			snprintf(body, sizeof body, "x");
		} else
			snprintf(body, sizeof body,
				 "{\"Code\":\"Success\",\"LastUpdated\":\"2012-04-26T16:39:16Z\",\"Type\":\"AWS-HMAC\","
				 "\"AccessKeyId\":\"ASIAIMDSEXAMPLE\",\"SecretAccessKey\":\"%s\",\"Token\":\"%s\","
				 "\"Expiration\":\"%s\"}",
				 IMDS_SK, IMDS_TOK, exp);
	} else {
		ret = false;
	}
	if (ret)
		out->body = body;
	pthread_mutex_unlock(&g_srv.mu);
	return ret;
}

/* ---- fixture ---- */
struct fx {
	struct stub *stub;
	struct fake_env fe;
	struct endpoint_env env;
	struct http_client *http;
	struct imds_client *imds;
	struct creds_provider *p;
	char dir[64];
	char path[256];
};

static struct fx *g;

static int setup(void **state)
{
	(void)state;
	g = calloc(1, sizeof *g);
	g->stub = stub_start();
	pthread_mutex_init(&g_srv.mu, NULL);
	g_srv.sts_mode = g_srv.ctr_mode = g_srv.imds_mode = OK;
	g_srv.sts_calls = g_srv.ctr_calls = g_srv.imds_cred_calls = 0;
	g_now = 1800000000;
	g_srv.sts_exp = g_srv.ctr_exp = g_srv.imds_exp = g_now + 3600;
	stub_set_handler(g->stub, handler, NULL);
	g->env = (struct endpoint_env){ fake_getenv, &g->fe };
	snprintf(g->dir, sizeof g->dir, "/tmp/test_creds_XXXXXX");
	assert_non_null(mkdtemp(g->dir));
	/* HOME points at an empty directory: no stray ~/.aws of the machine. */
	env_set(&g->fe, "HOME", g->dir);
	env_set(&g->fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", stub_url(g->stub));
	char sts[128];
	snprintf(sts, sizeof sts, "%s/sts", stub_url(g->stub));
	env_set(&g->fe, "AWS_ENDPOINT_URL_STS", sts);
	g->http = http_client_new(&(struct http_options){ .user_agent_version = "t" });
	return 0;
}

static const char *tmpfile_path(const char *name)
{
	snprintf(g->path, sizeof g->path, "%s/%s", g->dir, name);
	return g->path;
}

static void write_file(const char *name, const char *content)
{
	FILE *f = fopen(tmpfile_path(name), "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

/* (Re)creates the IMDS client and the provider from the current env. */
static void open_provider(void)
{
	creds_provider_free(g->p);
	imds_free(g->imds);
	struct status st = STATUS_INIT;
	g->imds = imds_new(&(struct imds_options){ .http = g->http, .env = &g->env, .timeout_ms = 500, .attempts = 2 },
			   &st);
	assert_non_null(g->imds);
	g->p = creds_provider_new(&(struct creds_options){ .env = &g->env, .http = g->http, .imds = g->imds,
							   .region = "us-west-2", .now = test_now });
}

static int teardown(void **state)
{
	(void)state;
	creds_provider_free(g->p);
	imds_free(g->imds);
	http_client_free(g->http);
	stub_stop(g->stub);
	env_clear(&g->fe);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", g->dir);
	assert_int_equal(system(cmd), 0);
	pthread_mutex_destroy(&g_srv.mu);
	free(g);
	g = NULL;
	return 0;
}

static int get(struct creds *c, struct status *st)
{
	memset(c, 0, sizeof *c);
	return creds_get(g->p, rpc_now_ms() + 10000, c, st);
}

/* ---- tests ---- */

static void test_parse_time(void **state)
{
	(void)state;
	time_t t;
	assert_int_equal(creds_parse_time("2026-11-25T23:02:32Z", &t), 0);
	assert_int_equal(t, 1795647752);
	assert_int_equal(creds_parse_time("2026-11-25T23:02:32.123Z", &t), 0);
	assert_int_equal(t, 1795647752);
	assert_int_equal(creds_parse_time("2026-11-26T00:02:32+01:00", &t), 0);
	assert_int_equal(t, 1795647752);
	assert_int_equal(creds_parse_time("2026-11-25T22:02:32-0100", &t), 0);
	assert_int_equal(t, 1795647752);
	assert_int_equal(creds_parse_time("2026-11-25 23:02:32", &t), -1);
	assert_int_equal(creds_parse_time("2026-13-25T23:02:32Z", &t), -1);
	assert_int_equal(creds_parse_time("2026-11-25T23:02:32Zjunk", &t), -1);
	assert_int_equal(creds_parse_time("yesterday", &t), -1);
	assert_int_equal(creds_parse_time(NULL, &t), -1);
}

static void test_env(void **state)
{
	(void)state;
	env_set(&g->fe, "AWS_ACCESS_KEY_ID", ENV_AK);
	env_set(&g->fe, "AWS_SECRET_ACCESS_KEY", ENV_SK);
	env_set(&g->fe, "AWS_SESSION_TOKEN", ENV_TOK);
	open_provider();
	struct creds c;
	struct status st = STATUS_INIT;
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.access_key_id, ENV_AK);
	assert_string_equal(c.secret_access_key, ENV_SK);
	assert_string_equal(c.session_token, ENV_TOK);
	assert_int_equal(c.expiration, 0);
	assert_string_equal(c.source, "environment");
	creds_dispose(&c);
	assert_int_equal(c.secret_access_key[0], 0);
	assert_int_equal(stub_request_count(g->stub), 0);

	/* Partial: an error, not a fall-through. */
	env_set(&g->fe, "AWS_SECRET_ACCESS_KEY", "");
	open_provider();
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "AWS_SECRET_ACCESS_KEY"));
}

static void test_profile(void **state)
{
	(void)state;
	write_file("credentials", "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = " FILE_SK "\n"
				  "[dev]\naws_access_key_id=AKIADEV\naws_secret_access_key=" FILE_SK "\n"
				  "aws_session_token=" FILE_TOK "\n"
				  "[partial]\naws_access_key_id=AKIAPARTIAL\n");
	env_set(&g->fe, "AWS_SHARED_CREDENTIALS_FILE", tmpfile_path("credentials"));
	write_file("config", "[default]\nregion = us-west-2\n"
			     "[profile dev]\nregion = eu-west-1\naws_access_key_id = AKIAIGNORED\n"
			     "aws_secret_access_key = " CFG_SK "\n"
			     "[profile cfgonly]\naws_access_key_id = AKIACFG\naws_secret_access_key = " CFG_SK "\n"
			     "[profile proc]\ncredential_process = /bin/echo\n"
			     "[profile chain]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = dev\n"
			     "[profile regiononly]\nregion = us-east-2\n");
	env_set(&g->fe, "AWS_CONFIG_FILE", tmpfile_path("config"));
	env_set(&g->fe, "AWS_EC2_METADATA_DISABLED", "true");
	open_provider();
	struct creds c;
	struct status st = STATUS_INIT;
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.access_key_id, "AKIADEFAULT");
	assert_string_equal(c.secret_access_key, FILE_SK);
	assert_string_equal(c.session_token, "");
	assert_non_null(strstr(c.source, "profile default"));

	/* The credentials file wins over the config file. */
	env_set(&g->fe, "AWS_PROFILE", "dev");
	open_provider();
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.access_key_id, "AKIADEV");
	assert_string_equal(c.session_token, FILE_TOK);

	env_set(&g->fe, "AWS_PROFILE", "cfgonly");
	open_provider();
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.access_key_id, "AKIACFG");
	assert_string_equal(c.secret_access_key, CFG_SK);

	const char *errs[][2] = { { "partial", "aws_secret_access_key" },
				  { "proc", "credential_process" },
				  { "chain", "source_profile" },
				  { "missing", "neither" } };
	for (size_t i = 0; i < 4; i++) {
		env_set(&g->fe, "AWS_PROFILE", errs[i][0]);
		open_provider();
		assert_int_equal(get(&c, &st), -1);
		assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
		assert_non_null(strstr(st.msg, errs[i][1]));
	}
	/* A profile with no keys moves the chain on (here to disabled IMDS). */
	env_set(&g->fe, "AWS_PROFILE", "regiononly");
	open_provider();
	assert_int_equal(get(&c, &st), -1);
	assert_non_null(strstr(st.msg, "no AWS credentials found"));

	/* ~ expands with HOME; a malformed file is an error naming its line. */
	env_set(&g->fe, "AWS_PROFILE", "");
	env_set(&g->fe, "AWS_SHARED_CREDENTIALS_FILE", "~/credentials");
	open_provider();
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.access_key_id, "AKIADEFAULT");
	write_file("broken", "[default]\naws_secret_access_key " FILE_SK "\n");
	env_set(&g->fe, "AWS_SHARED_CREDENTIALS_FILE", tmpfile_path("broken"));
	open_provider();
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "line 2"));
	assert_null(strstr(st.msg, FILE_SK));
	creds_dispose(&c);
}

static void set_web_identity(const char *token)
{
	write_file("token", token);
	env_set(&g->fe, "AWS_WEB_IDENTITY_TOKEN_FILE", tmpfile_path("token"));
	env_set(&g->fe, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ebs-csi");
	env_set(&g->fe, "AWS_ROLE_SESSION_NAME", "my-session");
}

static const struct stub_request *last_request(const char *path)
{
	for (size_t i = stub_request_count(g->stub); i-- > 0;)
		if (strcmp(stub_request_at(g->stub, i)->path, path) == 0)
			return stub_request_at(g->stub, i);
	return NULL;
}

static void test_web_identity(void **state)
{
	(void)state;
	set_web_identity(WIT1 "\n");
	open_provider();
	struct creds c;
	struct status st = STATUS_INIT;
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.access_key_id, "ASIASTSEXAMPLE");
	assert_string_equal(c.secret_access_key, STS_SK);
	assert_string_equal(c.session_token, STS_TOK);
	assert_int_equal(c.expiration, g_now + 3600);
	assert_string_equal(c.source, "web identity arn:aws:iam::123456789012:role/ebs-csi");
	const struct stub_request *r = last_request("/sts");
	assert_non_null(r);
	assert_string_equal(r->method, "POST");
	assert_string_equal(stub_request_header(r, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
	assert_null(stub_request_header(r, "Authorization")); /* unsigned */
	assert_string_equal(r->body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
				     "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Febs-csi"
				     "&RoleSessionName=my-session&WebIdentityToken=" WIT1);

	/* Cached: no new call within the lifetime. */
	g_now += 1800;
	assert_int_equal(get(&c, &st), 0);
	assert_int_equal(g_srv.sts_calls, 1);

	/* The kubelet rotates the token; inside the refresh window the file is
	 * read again and the new token sent. */
	write_file("token", WIT2);
	g_srv.sts_exp = g_now + 7200;
	g_now += 1800 - CREDS_DEFAULT_REFRESH_WINDOW_S + 1;
	assert_int_equal(get(&c, &st), 0);
	assert_int_equal(g_srv.sts_calls, 2);
	assert_non_null(strstr(last_request("/sts")->body, "WebIdentityToken=" WIT2));
	assert_int_equal(c.expiration, g_srv.sts_exp);

	/* No session name: a default one that STS accepts. */
	env_set(&g->fe, "AWS_ROLE_SESSION_NAME", "");
	creds_invalidate(g->p);
	assert_int_equal(get(&c, &st), 0);
	assert_non_null(strstr(last_request("/sts")->body, "RoleSessionName=ebs-csi-c-"));
	creds_dispose(&c);
}

static void test_sts_errors(void **state)
{
	(void)state;
	set_web_identity(WIT1);
	open_provider();
	struct creds c;
	struct status st = STATUS_INIT;

	g_srv.sts_mode = STS_INVALID_TOKEN;
	assert_int_equal(get(&c, &st), -1);
	assert_int_not_equal(st.code, STATUS_OK);
	assert_non_null(strstr(st.msg, "InvalidIdentityToken"));
	assert_non_null(strstr(st.msg, "req-42"));
	assert_non_null(strstr(st.msg, "arn:aws:iam::123456789012:role/ebs-csi"));
	assert_int_equal(g_srv.sts_calls, 1); /* not retryable */

	/* IDPCommunicationError is retried. */
	g_srv.sts_mode = STS_IDP_ONCE;
	assert_int_equal(get(&c, &st), 0);
	assert_int_equal(g_srv.sts_calls, 3);

	int modes[] = { GARBAGE, STS_NO_CREDS, STS_DOCTYPE };
	for (size_t i = 0; i < 3; i++) {
		g_srv.sts_mode = modes[i];
		creds_invalidate(g->p);
		assert_int_equal(get(&c, &st), -1);
		assert_int_equal(st.code, STATUS_INTERNAL);
		assert_null(strstr(st.msg, STS_SK));
	}
	/* 5xx without an error body: retried, then UNAVAILABLE. */
	g_srv.sts_mode = FAIL_500;
	g_srv.sts_calls = 0;
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_int_equal(g_srv.sts_calls, 3);

	/* A missing token file. */
	g_srv.sts_mode = OK;
	env_set(&g->fe, "AWS_WEB_IDENTITY_TOKEN_FILE", tmpfile_path("nonexistent"));
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "nonexistent"));

	/* A web identity profile in the config file. */
	env_set(&g->fe, "AWS_WEB_IDENTITY_TOKEN_FILE", "");
	env_set(&g->fe, "AWS_ROLE_ARN", "");
	write_file("token", WIT2);
	char cfg[512];
	snprintf(cfg, sizeof cfg, "[profile irsa]\nrole_arn = arn:aws:iam::123456789012:role/from-profile\n"
				  "web_identity_token_file = %s\nrole_session_name = prof\n", tmpfile_path("token"));
	write_file("config", cfg);
	env_set(&g->fe, "AWS_CONFIG_FILE", tmpfile_path("config"));
	env_set(&g->fe, "AWS_PROFILE", "irsa");
	open_provider();
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.secret_access_key, STS_SK);
	assert_non_null(strstr(c.source, "role/from-profile"));
	assert_non_null(strstr(last_request("/sts")->body, "RoleSessionName=prof&WebIdentityToken=" WIT2));

	/* Direct parser checks. */
	assert_int_equal(creds_parse_sts_response("<a>", 3, &c, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	creds_dispose(&c);
}

static void test_container(void **state)
{
	(void)state;
	char full[128];
	snprintf(full, sizeof full, "%s/creds", stub_url(g->stub));
	env_set(&g->fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
	write_file("pod-token", CTR_AUTH "\n");
	env_set(&g->fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tmpfile_path("pod-token"));
	env_set(&g->fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-literal");
	open_provider();
	struct creds c;
	struct status st = STATUS_INIT;
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.access_key_id, "ASIACTREXAMPLE");
	assert_string_equal(c.secret_access_key, CTR_SK);
	assert_string_equal(c.session_token, CTR_TOK);
	assert_int_equal(c.expiration, g_now + 3600);
	const struct stub_request *r = last_request("/creds");
	assert_string_equal(stub_request_header(r, "Authorization"), CTR_AUTH);
	assert_string_equal(stub_request_header(r, "Accept"), "application/json");

	/* The token file is read again on the next fetch. */
	write_file("pod-token", CTR_AUTH2);
	creds_invalidate(g->p);
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(stub_request_header(last_request("/creds"), "Authorization"), CTR_AUTH2);

	/* The literal token when there is no file. */
	env_set(&g->fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "");
	creds_invalidate(g->p);
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(stub_request_header(last_request("/creds"), "Authorization"), "ignored-literal");

	/* Malformed JSON. */
	g_srv.ctr_mode = GARBAGE;
	creds_invalidate(g->p);
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "malformed JSON"));
	g_srv.ctr_mode = OK;

	/* Plain http to anything but the container hosts or loopback. */
	env_set(&g->fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds");
	open_provider();
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	/* A token with a line break is refused. */
	env_set(&g->fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
	env_set(&g->fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Evil: 1");
	open_provider();
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	creds_dispose(&c);
}

static void test_imds_role(void **state)
{
	(void)state;
	open_provider();
	struct creds c;
	struct status st = STATUS_INIT;
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.access_key_id, "ASIAIMDSEXAMPLE");
	assert_string_equal(c.secret_access_key, IMDS_SK);
	assert_string_equal(c.session_token, IMDS_TOK);
	assert_string_equal(c.source, "instance role ebs-node-role (IMDS)");
	assert_string_equal(stub_request_header(last_request("/latest/meta-data/iam/security-credentials/ebs-node-role"),
						"X-aws-ec2-metadata-token"),
			    "AQAAimdsTOKEN");

	g_srv.imds_mode = IMDS_CODE_ERROR;
	creds_invalidate(g->p);
	assert_int_equal(get(&c, &st), -1);
	assert_non_null(strstr(st.msg, "AssumeRoleUnauthorizedAccess"));
	creds_dispose(&c);
}

static void test_refresh_and_expiry(void **state)
{
	(void)state;
	open_provider();
	struct creds c;
	struct status st = STATUS_INIT;
	assert_int_equal(get(&c, &st), 0);
	assert_int_equal(g_srv.imds_cred_calls, 1);
	/* Outside the window: cached. */
	g_now += 3600 - CREDS_DEFAULT_REFRESH_WINDOW_S - 10;
	assert_int_equal(get(&c, &st), 0);
	assert_int_equal(g_srv.imds_cred_calls, 1);
	/* Inside: refreshed. IMDS still serves the old ones (not rotated yet):
	 * used, and not asked again for a minute. */
	g_now += 20;
	assert_int_equal(get(&c, &st), 0);
	assert_int_equal(g_srv.imds_cred_calls, 2);
	assert_int_equal(get(&c, &st), 0);
	assert_int_equal(g_srv.imds_cred_calls, 2);
	/* Rotated: new expiry picked up after the pause. */
	g_srv.imds_exp = g_now + 3600;
	g_now += 61;
	assert_int_equal(get(&c, &st), 0);
	assert_int_equal(g_srv.imds_cred_calls, 3);
	assert_int_equal(c.expiration, g_srv.imds_exp);

	/* A failing refresh keeps the still-valid credentials... */
	g_srv.imds_mode = FAIL_500;
	g_now = g_srv.imds_exp - CREDS_DEFAULT_REFRESH_WINDOW_S + 5;
	assert_int_equal(get(&c, &st), 0);
	assert_string_equal(c.secret_access_key, IMDS_SK);
	/* ...until they really expire. */
	g_now = g_srv.imds_exp + 1;
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);

	/* A source that hands out expired credentials. */
	g_srv.imds_mode = OK;
	g_srv.imds_exp = g_now - 100;
	creds_invalidate(g->p);
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_UNAUTHENTICATED);
	assert_non_null(strstr(st.msg, "expired"));
	creds_dispose(&c);
}

static void test_chain_order(void **state)
{
	(void)state;
	/* Everything configured at once. */
	env_set(&g->fe, "AWS_ACCESS_KEY_ID", ENV_AK);
	env_set(&g->fe, "AWS_SECRET_ACCESS_KEY", ENV_SK);
	set_web_identity(WIT1);
	write_file("credentials", "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = " FILE_SK "\n");
	env_set(&g->fe, "AWS_SHARED_CREDENTIALS_FILE", tmpfile_path("credentials"));
	char full[128];
	snprintf(full, sizeof full, "%s/creds", stub_url(g->stub));
	env_set(&g->fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
	struct creds c;
	struct status st = STATUS_INIT;
	const char *expect[] = { ENV_SK, STS_SK, FILE_SK, CTR_SK, IMDS_SK };
	const char *remove[][2] = { { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY" },
				    { "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE" },
				    { "AWS_SHARED_CREDENTIALS_FILE", NULL },
				    { "AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL } };
	for (size_t i = 0; i < 5; i++) {
		open_provider();
		assert_int_equal(get(&c, &st), 0);
		assert_string_equal(c.secret_access_key, expect[i]);
		if (i < 4) {
			env_set(&g->fe, remove[i][0], "");
			if (remove[i][1])
				env_set(&g->fe, remove[i][1], "");
			if (i == 2) /* the default path would be $HOME/.aws/credentials: absent */
				env_set(&g->fe, "AWS_SHARED_CREDENTIALS_FILE", tmpfile_path("none"));
		}
	}
	/* AWS_EC2_METADATA_DISABLED stops the last step without a request. */
	env_set(&g->fe, "AWS_EC2_METADATA_DISABLED", "true");
	open_provider();
	size_t before = stub_request_count(g->stub);
	assert_int_equal(get(&c, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "AWS_EC2_METADATA_DISABLED"));
	assert_int_equal(stub_request_count(g->stub), before);
	creds_dispose(&c);
}

struct thr {
	int ok;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	for (int i = 0; i < 20; i++) {
		struct creds c;
		struct status st = STATUS_INIT;
		if (creds_get(g->p, rpc_now_ms() + 10000, &c, &st) == 0 && strcmp(c.secret_access_key, IMDS_SK) == 0)
			t->ok++;
		creds_dispose(&c);
	}
	return NULL;
}

static void test_concurrent_single_refresh(void **state)
{
	(void)state;
	open_provider();
	pthread_t th[4];
	struct thr t[4] = { { 0 } };
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].ok, 20);
	}
	assert_int_equal(g_srv.imds_cred_calls, 1); /* one refresher, the others waited */
}

/* Every path, logging at -v 10 into a file, then: no secret anywhere. */
static void test_no_secret_in_logs(void **state)
{
	(void)state;
	char logpath[256];
	snprintf(logpath, sizeof logpath, "%s/log", g->dir);
	int fd = open(logpath, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	log_configure(LOG_FORMAT_TEXT, 10);
	log_set_fd(fd);
	struct buf msgs;
	buf_init(&msgs);
	struct creds c;
	struct status st = STATUS_INIT;
#define RUN()                                                      \
	do {                                                       \
		open_provider();                                   \
		status_clear(&st);                                 \
		(void)get(&c, &st);                                \
		buf_printf(&msgs, "%s\n%s\n", st.msg, c.source);   \
		creds_dispose(&c);                                 \
	} while (0)

	/* environment, and partial environment */
	env_set(&g->fe, "AWS_ACCESS_KEY_ID", ENV_AK);
	env_set(&g->fe, "AWS_SECRET_ACCESS_KEY", ENV_SK);
	env_set(&g->fe, "AWS_SESSION_TOKEN", ENV_TOK);
	RUN();
	env_set(&g->fe, "AWS_ACCESS_KEY_ID", "");
	RUN();
	env_set(&g->fe, "AWS_SECRET_ACCESS_KEY", "");
	env_set(&g->fe, "AWS_SESSION_TOKEN", "");
	/* web identity: success, error body, malformed, doctype, 5xx */
	set_web_identity(WIT1);
	int sts_modes[] = { OK, STS_INVALID_TOKEN, GARBAGE, STS_DOCTYPE, FAIL_500, STS_IDP_ONCE };
	for (size_t i = 0; i < sizeof sts_modes / sizeof sts_modes[0]; i++) {
		g_srv.sts_mode = sts_modes[i];
		RUN();
	}
	env_set(&g->fe, "AWS_ROLE_ARN", "");
	/* profiles: good, partial, broken */
	write_file("credentials", "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = " FILE_SK "\n"
				  "aws_session_token = " FILE_TOK "\n[half]\naws_secret_access_key = " FILE_SK "\n");
	env_set(&g->fe, "AWS_SHARED_CREDENTIALS_FILE", tmpfile_path("credentials"));
	RUN();
	env_set(&g->fe, "AWS_PROFILE", "half");
	RUN();
	write_file("broken", "[default]\n" FILE_SK "\n");
	env_set(&g->fe, "AWS_SHARED_CREDENTIALS_FILE", tmpfile_path("broken"));
	RUN();
	env_set(&g->fe, "AWS_PROFILE", "");
	env_set(&g->fe, "AWS_SHARED_CREDENTIALS_FILE", tmpfile_path("none"));
	/* container: good, garbage, 500, bad token */
	char full[128];
	snprintf(full, sizeof full, "%s/creds", stub_url(g->stub));
	env_set(&g->fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", full);
	env_set(&g->fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", CTR_AUTH);
	int ctr_modes[] = { OK, GARBAGE, FAIL_500 };
	for (size_t i = 0; i < 3; i++) {
		g_srv.ctr_mode = ctr_modes[i];
		RUN();
	}
	env_set(&g->fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", CTR_AUTH "\nX: y");
	RUN();
	env_set(&g->fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "");
	env_set(&g->fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "");
	/* IMDS: good, code error, 500, expired */
	int imds_modes[] = { OK, IMDS_CODE_ERROR, FAIL_500 };
	for (size_t i = 0; i < 3; i++) {
		g_srv.imds_mode = imds_modes[i];
		RUN();
	}
	g_srv.imds_mode = OK;
	g_srv.imds_exp = g_now - 10;
	RUN();
	/* A refresh failure that keeps the old credentials logs a warning. */
	g_srv.imds_exp = g_now + 3600;
	open_provider();
	assert_int_equal(get(&c, &st), 0);
	g_srv.imds_mode = FAIL_500;
	g_now += 3600 - 300;
	assert_int_equal(get(&c, &st), 0);
	creds_dispose(&c);
#undef RUN
	log_set_fd(2);
	log_configure(LOG_FORMAT_TEXT, 0);
	close(fd);

	size_t len = 0;
	char *logs = helper_read_file(logpath, &len);
	assert_non_null(logs);
	assert_true(len > 0);
	assert_non_null(strstr(logs, "credentials from")); /* the source is logged */
	if (getenv("TEST_CREDS_DUMP") != NULL)
		fprintf(stderr, "---- log ----\n%s---- messages ----\n%s", logs, msgs.data);
	for (size_t i = 0; i < sizeof g_secrets / sizeof g_secrets[0]; i++) {
		if (strstr(logs, g_secrets[i]) != NULL || strstr(msgs.data, g_secrets[i]) != NULL)
			fail_msg("secret %zu leaked", i);
	}
	free(logs);
	buf_dispose(&msgs);
}

int main(void)
{
	http_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_web_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sts_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_container, setup, teardown),
		cmocka_unit_test_setup_teardown(test_imds_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_and_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_single_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_secret_in_logs, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	http_global_cleanup();
	return rc;
}
