/*
 * test_sigv4: SigV4 against AWS's own definitions.
 *
 * Runs every case of both suites in tests/fixtures/sigv4 — the classic
 * aws-sig-v4-test-suite (.req → .creq/.sts/.authz, byte for byte, then the
 * signed request verified) and the aws-c-auth JSON suite (header mode and
 * presigned-query mode) — and fails when a fixture directory is missing or the
 * case count differs, so a lost fixture is never a silent pass. Then: EC2 POST
 * form bodies against signatures computed independently with botocore 1.43
 * SigV4Auth, the IAM documentation example, session tokens, verification of
 * good and tampered requests, and that no secret leaks into any output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/sigv4.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "tests/cloud/helper_http.h"

#include <dirent.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CLASSIC_DIR "tests/fixtures/sigv4/aws-sig-v4-test-suite"
#define V4_DIR "tests/fixtures/sigv4/aws-signing-test-suite/v4"
#define CLASSIC_CASES 31
#define V4_CASES 38

static const char AKID[] = "AKIDEXAMPLE";
static const char SECRET[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
static const time_t SUITE_TIME = 1440938160;  /* 2015-08-30T12:36:00Z */

/* Reads dir/name into a heap string; fails the test when absent. */
static char *must_read(const char *dir, const char *name, size_t *len)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *s = helper_read_file(path, len);
	if (s == NULL)
		fail_msg("missing fixture %s", path);
	free(path);
	return s;
}

static void expect_equal(const char *what, const char *casename, const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("%s: %s differs\n--- got ---\n%s\n--- want ---\n%s", casename, what, got, want);
}

/* ---- classic suite --------------------------------------------------------- */

static int classic_ran;

static void run_classic_case(const char *dir, const char *name)
{
	char *base = xasprintf("%s.req", name);
	size_t len;
	char *raw = must_read(dir, base, &len);
	free(base);
	struct helper_http_req hr;
	assert_int_equal(helper_http_req_parse(raw, len, HELPER_FOLD_AS_VALUES, &hr), 0);

	/* The .req carries X-Amz-Date (and, for post-sts-header-before, the token):
	 * take the time and token from it, and let the signer produce both headers. */
	const char *date = helper_http_req_header(&hr, "X-Amz-Date");
	assert_non_null(date);
	time_t t;
	assert_int_equal(sigv4_parse_amz_date(date, &t, NULL), 0);
	assert_int_equal(t, SUITE_TIME);
	struct sigv4_credentials cred = { AKID, SECRET, helper_http_req_header(&hr, "X-Amz-Security-Token") };
	struct sigv4_params params = { .region = "us-east-1", .service = "service", .time = t,
				       .normalize_path = true };
	struct sigv4_request req;
	helper_http_req_view(&hr, &req);
	struct sigv4_result res;
	sigv4_result_init(&res);
	struct status st = STATUS_INIT;
	if (sigv4_sign(&req, &cred, &params, &res, &st) != 0)
		fail_msg("%s: sign failed: %s", name, st.msg);

	static const char *const exts[] = { "creq", "sts", "authz" };
	const char *got[] = { res.canonical_request, res.string_to_sign, res.authorization };
	for (int i = 0; i < 3; i++) {
		char *fn = xasprintf("%s.%s", name, exts[i]);
		char *want = must_read(dir, fn, NULL);
		expect_equal(exts[i], name, got[i], want);
		free(fn);
		free(want);
	}

	/* The same request, as a server receives it, must verify. */
	struct sigv4_header *all = xcalloc(hr.n_headers + 1, sizeof *all);
	memcpy(all, hr.headers, hr.n_headers * sizeof *all);
	all[hr.n_headers] = (struct sigv4_header){ "Authorization", res.authorization };
	struct sigv4_request rx = req;
	rx.headers = all;
	rx.n_headers = hr.n_headers + 1;
	struct sigv4_auth auth;
	assert_int_equal(sigv4_auth_parse(res.authorization, &auth, &st), 0);
	const char *code = "unset";
	if (sigv4_verify(&rx, &auth, SECRET, t, 300, &code, &st) != 0)
		fail_msg("%s: verify failed: %s (%s)", name, st.msg, code);
	assert_null(code);

	free(all);
	sigv4_result_dispose(&res);
	helper_http_req_dispose(&hr);
	free(raw);
	classic_ran++;
}

/* Walks the suite: every directory holding <dirname>.req is a case. */
static void walk_classic(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		fail_msg("fixture directory %s is missing", dir);
	const char *leaf = strrchr(dir, '/');
	leaf = leaf ? leaf + 1 : dir;
	char *req = xasprintf("%s/%s.req", dir, leaf);
	struct stat sb;
	if (stat(req, &sb) == 0)
		run_classic_case(dir, leaf);
	free(req);
	struct dirent *e;
	char **subs = NULL;
	size_t n = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *sub = xasprintf("%s/%s", dir, e->d_name);
		if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			subs = xrealloc(subs, (n + 1) * sizeof *subs);
			subs[n++] = sub;
		} else {
			free(sub);
		}
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		walk_classic(subs[i]);
		free(subs[i]);
	}
	free(subs);
}

static void test_classic_suite(void **state)
{
	(void)state;
	classic_ran = 0;
	walk_classic(CLASSIC_DIR);
	printf("[ sigv4    ] classic aws-sig-v4-test-suite: %d/%d vectors passed (creq, sts, authz, verify)\n",
	       classic_ran, CLASSIC_CASES);
	assert_int_equal(classic_ran, CLASSIC_CASES);
}

/* ---- aws-c-auth JSON suite -------------------------------------------------- */

static time_t parse_iso8601(const char *s)
{
	struct tm tm = { 0 };
	assert_int_equal(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
				&tm.tm_min, &tm.tm_sec),
			 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static int v4_header_ran, v4_query_ran;

static void run_v4_case(const char *dir, const char *name)
{
	char *ctxtext = must_read(dir, "context.json", NULL);
	json_error_t jerr;
	json_t *ctx = json_loads(ctxtext, 0, &jerr);
	if (ctx == NULL)
		fail_msg("%s: context.json: %s", name, jerr.text);
	json_t *jc = json_object_get(ctx, "credentials");
	struct sigv4_credentials cred = {
		json_string_value(json_object_get(jc, "access_key_id")),
		json_string_value(json_object_get(jc, "secret_access_key")),
		json_string_value(json_object_get(jc, "token")),
	};
	assert_non_null(cred.access_key_id);
	assert_non_null(cred.secret_access_key);
	struct sigv4_params params = {
		.region = json_string_value(json_object_get(ctx, "region")),
		.service = json_string_value(json_object_get(ctx, "service")),
		.time = parse_iso8601(json_string_value(json_object_get(ctx, "timestamp"))),
		.normalize_path = json_is_true(json_object_get(ctx, "normalize")),
		.sign_content_sha256 = json_is_true(json_object_get(ctx, "sign_body")),
		.omit_session_token = json_is_true(json_object_get(ctx, "omit_session_token")),
	};

	size_t len;
	char *raw = must_read(dir, "request.txt", &len);
	struct helper_http_req hr;
	assert_int_equal(helper_http_req_parse(raw, len, HELPER_FOLD_KEEP, &hr), 0);
	struct sigv4_request req;
	helper_http_req_view(&hr, &req);
	struct status st = STATUS_INIT;

	/* Header mode. */
	struct sigv4_result res;
	sigv4_result_init(&res);
	if (sigv4_sign(&req, &cred, &params, &res, &st) != 0)
		fail_msg("%s: sign failed: %s", name, st.msg);
	char *want = must_read(dir, "header-canonical-request.txt", NULL);
	expect_equal("header canonical request", name, res.canonical_request, want);
	free(want);
	want = must_read(dir, "header-string-to-sign.txt", NULL);
	expect_equal("header string to sign", name, res.string_to_sign, want);
	free(want);
	want = must_read(dir, "header-signature.txt", NULL);
	expect_equal("header signature", name, res.signature, want);
	free(want);
	/* The signed request carries exactly our Authorization line. */
	want = must_read(dir, "header-signed-request.txt", NULL);
	char *line = xasprintf("\nAuthorization:%s\n", res.authorization);
	if (strstr(want, line) == NULL)
		fail_msg("%s: signed request lacks %s", name, line);
	/* … and each header we add, with its value. */
	for (size_t i = 0; i < res.n_add; i++) {
		char *h = xasprintf(":%s\n", res.add[i].value);
		assert_non_null(strstr(want, h));
		free(h);
	}
	free(line);
	free(want);
	v4_header_ran++;
	sigv4_result_dispose(&res);

	/* Presigned-query mode. */
	params.presign_expires = (long)json_integer_value(json_object_get(ctx, "expiration_in_seconds"));
	assert_true(params.presign_expires > 0);
	if (sigv4_sign(&req, &cred, &params, &res, &st) != 0)
		fail_msg("%s: presign failed: %s", name, st.msg);
	want = must_read(dir, "query-canonical-request.txt", NULL);
	expect_equal("query canonical request", name, res.canonical_request, want);
	free(want);
	want = must_read(dir, "query-string-to-sign.txt", NULL);
	expect_equal("query string to sign", name, res.string_to_sign, want);
	free(want);
	want = must_read(dir, "query-signature.txt", NULL);
	expect_equal("query signature", name, res.signature, want);
	free(want);
	assert_null(res.authorization);
	assert_int_equal(res.n_add, 0);
	char *sigparam = xasprintf("X-Amz-Signature=%s", res.signature);
	assert_non_null(strstr(res.presigned_query, sigparam));
	free(sigparam);
	v4_query_ran++;
	sigv4_result_dispose(&res);

	helper_http_req_dispose(&hr);
	free(raw);
	json_decref(ctx);
	free(ctxtext);
}

static void test_v4_suite(void **state)
{
	(void)state;
	v4_header_ran = v4_query_ran = 0;
	DIR *d = opendir(V4_DIR);
	if (d == NULL)
		fail_msg("fixture directory %s is missing", V4_DIR);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *sub = xasprintf("%s/%s", V4_DIR, e->d_name);
		run_v4_case(sub, e->d_name);
		free(sub);
	}
	closedir(d);
	printf("[ sigv4    ] aws-c-auth v4 suite: %d/%d header-mode and %d/%d query-mode vectors passed\n",
	       v4_header_ran, V4_CASES, v4_query_ran, V4_CASES);
	assert_int_equal(v4_header_ran, V4_CASES);
	assert_int_equal(v4_query_ran, V4_CASES);
}

/* ---- independent values ------------------------------------------------------ */

static void test_signing_key(void **state)
{
	(void)state;
	uint8_t key[SIGV4_KEY_LEN];
	char hex[65];
	assert_int_equal(sigv4_signing_key(SECRET, "20150830", "us-east-1", "service", key, NULL), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	assert_string_equal(hex, "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
	/* IAM User Guide example (service iam). */
	assert_int_equal(sigv4_signing_key(SECRET, "20150830", "us-east-1", "iam", key, NULL), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
	OPENSSL_cleanse(key, sizeof key);

	struct status st = STATUS_INIT;
	assert_int_equal(sigv4_signing_key("", "20150830", "us-east-1", "iam", key, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(sigv4_signing_key(SECRET, "2015083", "us-east-1", "iam", key, &st), -1);
	assert_null(strstr(st.msg, SECRET));
}

/* The IAM documentation's ListUsers GET example: canonical request hash and
 * signature published on the page (recomputed in aws-facts.md §5.2). */
static void test_iam_doc_example(void **state)
{
	(void)state;
	struct sigv4_header h[] = {
		{ "Host", "iam.amazonaws.com" },
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
	};
	struct sigv4_request req = { .method = "GET", .path = "/", .query = "Action=ListUsers&Version=2010-05-08",
				     .headers = h, .n_headers = 2 };
	struct sigv4_credentials cred = { AKID, SECRET, NULL };
	struct sigv4_params p = { .region = "us-east-1", .service = "iam", .time = SUITE_TIME, .normalize_path = true };
	struct sigv4_result r;
	sigv4_result_init(&r);
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, NULL), 0);
	char hash[65];
	sigv4_sha256_hex(r.canonical_request, strlen(r.canonical_request), hash);
	assert_string_equal(hash, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
	assert_string_equal(r.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
	sigv4_result_dispose(&r);
}

static const char EC2_BODY[] = "Action=DescribeVolumes&Version=2016-11-15";
static const time_t EC2_TIME = 1795644152;  /* 2026-11-25T22:02:32Z */
static const char EC2_TOKEN[] = "FQoGZXIvYXdzEXAMPLETOKEN/+==";

static void sign_ec2(const char *token, struct sigv4_result *r)
{
	struct sigv4_header h[] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
		{ "Host", "ec2.us-west-2.amazonaws.com" },
	};
	struct sigv4_request req = { .method = "POST", .path = "/", .headers = h, .n_headers = 2,
				     .payload = EC2_BODY, .payload_len = strlen(EC2_BODY) };
	struct sigv4_credentials cred = { AKID, SECRET, token };
	struct sigv4_params p = { .region = "us-west-2", .service = "ec2", .time = EC2_TIME, .normalize_path = true };
	struct status st = STATUS_INIT;
	sigv4_result_init(r);
	if (sigv4_sign(&req, &cred, &p, r, &st) != 0)
		fail_msg("sign: %s", st.msg);
}

/* Expected values from botocore 1.43.11 SigV4Auth (an independent
 * implementation) for the same inputs, with the clock patched. */
static void test_ec2_post_form(void **state)
{
	(void)state;
	struct sigv4_result r;
	sign_ec2(NULL, &r);
	assert_string_equal(r.canonical_request,
			    "POST\n/\n\n"
			    "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
			    "host:ec2.us-west-2.amazonaws.com\n"
			    "x-amz-date:20261125T220232Z\n\n"
			    "content-type;host;x-amz-date\n"
			    "925be3c8fc6870a890a6670574a88c988b51f13d9ea74f458ce9b6972534f164");
	assert_string_equal(r.authorization,
			    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-west-2/ec2/aws4_request, "
			    "SignedHeaders=content-type;host;x-amz-date, "
			    "Signature=bb4262e0cfdf5413197d196432e7e870c9ee1b320b42285041488aeead9697ee");
	assert_int_equal(r.n_add, 2);
	assert_string_equal(r.add[0].name, "X-Amz-Date");
	assert_string_equal(r.add[0].value, "20261125T220232Z");
	assert_string_equal(r.add[1].name, "Authorization");
	assert_string_equal(r.add[1].value, r.authorization);
	sigv4_result_dispose(&r);
}

static void test_session_token_signed(void **state)
{
	(void)state;
	struct sigv4_result r;
	sign_ec2(EC2_TOKEN, &r);
	assert_string_equal(r.signed_headers, "content-type;host;x-amz-date;x-amz-security-token");
	assert_non_null(strstr(r.canonical_request, "\nx-amz-security-token:FQoGZXIvYXdzEXAMPLETOKEN/+==\n"));
	assert_string_equal(r.signature, "60c71e41927ea2f5617275c5552858b26b19f8145940349563c4594524ce3c2d");
	assert_int_equal(r.n_add, 3);
	assert_string_equal(r.add[1].name, "X-Amz-Security-Token");
	assert_string_equal(r.add[1].value, EC2_TOKEN);
	sigv4_result_dispose(&r);

	/* An empty token is no token. */
	sign_ec2("", &r);
	assert_string_equal(r.signed_headers, "content-type;host;x-amz-date");
	assert_int_equal(r.n_add, 2);
	sigv4_result_dispose(&r);
}

static void test_content_sha256_and_payload_hash(void **state)
{
	(void)state;
	char hash[65];
	sigv4_sha256_hex(EC2_BODY, strlen(EC2_BODY), hash);
	struct sigv4_header h[] = { { "Host", "ec2.us-west-2.amazonaws.com" } };
	/* A precomputed hash gives the same result as the bytes. */
	struct sigv4_request a = { .method = "POST", .path = "/", .headers = h, .n_headers = 1,
				   .payload = EC2_BODY, .payload_len = strlen(EC2_BODY) };
	struct sigv4_request b = { .method = "POST", .path = "/", .headers = h, .n_headers = 1, .payload_hash = hash };
	struct sigv4_credentials cred = { AKID, SECRET, NULL };
	struct sigv4_params p = { .region = "us-west-2", .service = "ec2", .time = EC2_TIME, .normalize_path = true,
				  .sign_content_sha256 = true };
	struct sigv4_result ra, rb;
	sigv4_result_init(&ra);
	sigv4_result_init(&rb);
	assert_int_equal(sigv4_sign(&a, &cred, &p, &ra, NULL), 0);
	assert_int_equal(sigv4_sign(&b, &cred, &p, &rb, NULL), 0);
	assert_string_equal(ra.signature, rb.signature);
	assert_string_equal(ra.signed_headers, "host;x-amz-content-sha256;x-amz-date");
	assert_int_equal(ra.n_add, 3);
	assert_string_equal(ra.add[1].name, "X-Amz-Content-Sha256");
	assert_string_equal(ra.add[1].value, hash);
	sigv4_result_dispose(&ra);
	sigv4_result_dispose(&rb);

	struct status st = STATUS_INIT;
	b.payload_hash = "NOT-A-HASH";
	assert_int_equal(sigv4_sign(&b, &cred, &p, &rb, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	sigv4_result_dispose(&rb);
}

/* Re-signing a request that already carries auth headers replaces them. */
static void test_resign_ignores_old_auth_headers(void **state)
{
	(void)state;
	struct sigv4_result first;
	sign_ec2(EC2_TOKEN, &first);
	struct sigv4_header h[] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
		{ "Host", "ec2.us-west-2.amazonaws.com" },
		{ "X-Amz-Date", "20000101T000000Z" },
		{ "Authorization", "AWS4-HMAC-SHA256 stale" },
		{ "x-amz-security-token", "stale-token" },
	};
	struct sigv4_request req = { .method = "POST", .path = "/", .headers = h, .n_headers = 5,
				     .payload = EC2_BODY, .payload_len = strlen(EC2_BODY) };
	struct sigv4_credentials cred = { AKID, SECRET, EC2_TOKEN };
	struct sigv4_params p = { .region = "us-west-2", .service = "ec2", .time = EC2_TIME, .normalize_path = true };
	struct sigv4_result r;
	sigv4_result_init(&r);
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, NULL), 0);
	assert_string_equal(r.signature, first.signature);
	sigv4_result_dispose(&r);
	sigv4_result_dispose(&first);
}

static void canon_path(const char *path, bool normalize, const char *want)
{
	struct sigv4_header h[] = { { "Host", "h" } };
	struct sigv4_request req = { .method = "GET", .path = path, .headers = h, .n_headers = 1 };
	struct sigv4_credentials cred = { AKID, SECRET, NULL };
	struct sigv4_params p = { .region = "r", .service = "s", .time = SUITE_TIME, .normalize_path = normalize };
	struct sigv4_result r;
	sigv4_result_init(&r);
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, NULL), 0);
	char *line = xstrndup(r.canonical_request + 4, strcspn(r.canonical_request + 4, "\n"));
	if (strcmp(line, want) != 0)
		fail_msg("path %s (normalize %d): got %s want %s", path ? path : "(null)", normalize, line, want);
	free(line);
	sigv4_result_dispose(&r);
}

static void test_canonical_uri(void **state)
{
	(void)state;
	canon_path(NULL, true, "/");
	canon_path("", true, "/");
	canon_path("/a/b/../c/./d", true, "/a/c/d");
	canon_path("/a/b/../../../x", true, "/x");
	canon_path("/a//b//", true, "/a/b/");
	canon_path("/a%20b", true, "/a%2520b");  /* encoded once more: non-S3 rule */
	canon_path("/a b/c+d=e", false, "/a%20b/c%2Bd%3De");
	canon_path("/..", true, "/");
	canon_path("/.../x", true, "/.../x");
}

static void canon_query(const char *query, const char *want)
{
	struct sigv4_header h[] = { { "Host", "h" } };
	struct sigv4_request req = { .method = "GET", .path = "/", .query = query, .headers = h, .n_headers = 1 };
	struct sigv4_credentials cred = { AKID, SECRET, NULL };
	struct sigv4_params p = { .region = "r", .service = "s", .time = SUITE_TIME, .normalize_path = true };
	struct sigv4_result r;
	sigv4_result_init(&r);
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, NULL), 0);
	const char *q = strchr(r.canonical_request + 4, '\n') + 1;
	char *line = xstrndup(q, strcspn(q, "\n"));
	if (strcmp(line, want) != 0)
		fail_msg("query %s: got %s want %s", query, line, want);
	free(line);
	sigv4_result_dispose(&r);
}

static void test_canonical_query(void **state)
{
	(void)state;
	canon_query("", "");
	canon_query("b=2&a=1", "a=1&b=2");
	canon_query("a=2&a=1&a=10", "a=1&a=10&a=2");
	canon_query("flag&x=", "flag=&x=");
	canon_query("&&a=1&&", "a=1");
	canon_query("k=a b", "k=a%20b");
	canon_query("k=a+b", "k=a%2Bb");
	canon_query("k=%2f%2F", "k=%2F%2F");
	canon_query("k=%zz", "k=%25zz");
	canon_query("tag%3AName=v&Filter.1.Name=x", "Filter.1.Name=x&tag%3AName=v");
	/* Sorted by encoded key: '%' (0x25) sorts before letters. */
	canon_query("Z=1&%C3%A9=2", "%C3%A9=2&Z=1");
}

static void test_header_canonicalisation(void **state)
{
	(void)state;
	struct sigv4_header h[] = {
		{ "Host", "example.com" },
		{ "X-B", "  two\tspaces   here  " },
		{ "x-a", "first" },
		{ "X-A", "second" },
		{ "X-Fold", "line1\r\n   line2" },
		{ "X-Empty", "" },
	};
	struct sigv4_request req = { .method = "GET", .path = "/", .headers = h, .n_headers = 6 };
	struct sigv4_credentials cred = { AKID, SECRET, NULL };
	struct sigv4_params p = { .region = "r", .service = "s", .time = SUITE_TIME, .normalize_path = true };
	struct sigv4_result r;
	sigv4_result_init(&r);
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, NULL), 0);
	assert_string_equal(r.canonical_request, "GET\n/\n\n"
						 "host:example.com\n"
						 "x-a:first,second\n"
						 "x-amz-date:20150830T123600Z\n"
						 "x-b:two spaces here\n"
						 "x-empty:\n"
						 "x-fold:line1 line2\n\n"
						 "host;x-a;x-amz-date;x-b;x-empty;x-fold\n"
						 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sigv4_result_dispose(&r);
}

static void test_sign_errors(void **state)
{
	(void)state;
	struct sigv4_header ok[] = { { "Host", "h" } };
	struct sigv4_header nohost[] = { { "X-A", "1" } };
	struct sigv4_header badname[] = { { "Host", "h" }, { "Bad Name", "1" } };
	struct sigv4_credentials cred = { AKID, SECRET, NULL };
	struct sigv4_params p = { .region = "us-east-1", .service = "ec2", .time = SUITE_TIME, .normalize_path = true };
	struct sigv4_request req = { .method = "GET", .path = "/", .headers = nohost, .n_headers = 1 };
	struct sigv4_result r;
	sigv4_result_init(&r);
	struct status st = STATUS_INIT;

	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "Host"));
	req.headers = badname;
	req.n_headers = 2;
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	req.headers = ok;
	req.n_headers = 1;
	struct sigv4_credentials nosecret = { AKID, "", NULL };
	assert_int_equal(sigv4_sign(&req, &nosecret, &p, &r, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	struct sigv4_credentials crlf = { AKID, SECRET, "tok\r\nX-Injected: 1" };
	assert_int_equal(sigv4_sign(&req, &crlf, &p, &r, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_null(strstr(st.msg, "Injected"));
	struct sigv4_credentials badakid = { "AKID EXAMPLE", SECRET, NULL };
	assert_int_equal(sigv4_sign(&req, &badakid, &p, &r, &st), -1);
	struct sigv4_params badregion = p;
	badregion.region = "us-east-1/evil";
	assert_int_equal(sigv4_sign(&req, &cred, &badregion, &r, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_null(strstr(st.msg, SECRET));
	struct sigv4_params presign = p;
	presign.presign_expires = 604801;
	assert_int_equal(sigv4_sign(&req, &cred, &presign, &r, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	/* A failure empties a result that held a previous signature. */
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, &st), 0);
	assert_non_null(r.authorization);
	req.method = NULL;
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, &st), -1);
	assert_null(r.authorization);
	assert_int_equal(r.n_add, 0);
	sigv4_result_dispose(&r);
}

/* No output of a signature and no error contains the secret or the signing key. */
static void test_no_secret_in_outputs(void **state)
{
	(void)state;
	struct sigv4_result r;
	sign_ec2(EC2_TOKEN, &r);
	uint8_t key[SIGV4_KEY_LEN];
	char keyhex[65];
	assert_int_equal(sigv4_signing_key(SECRET, "20261125", "us-west-2", "ec2", key, NULL), 0);
	for (int i = 0; i < 32; i++)
		snprintf(keyhex + 2 * i, 3, "%02x", key[i]);
	OPENSSL_cleanse(key, sizeof key);
	const char *outs[] = { r.canonical_request, r.string_to_sign, r.authorization, r.signed_headers };
	for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
		assert_null(strstr(outs[i], SECRET));
		assert_null(strstr(outs[i], keyhex));
	}
	for (size_t i = 0; i < r.n_add; i++) {
		assert_null(strstr(r.add[i].value, SECRET));
		assert_null(strstr(r.add[i].value, keyhex));
	}
	sigv4_result_dispose(&r);
}

static void test_amz_date(void **state)
{
	(void)state;
	char s[17];
	assert_int_equal(sigv4_format_amz_date(EC2_TIME, s, NULL), 0);
	assert_string_equal(s, "20261125T220232Z");
	time_t t;
	assert_int_equal(sigv4_parse_amz_date("20261125T220232Z", &t, NULL), 0);
	assert_int_equal(t, EC2_TIME);
	struct status st = STATUS_INIT;
	assert_int_equal(sigv4_parse_amz_date("20260231T000000Z", &t, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(sigv4_parse_amz_date("2026-11-25T22:02:32Z", &t, NULL), -1);
	assert_int_equal(sigv4_parse_amz_date("20261125T220232", &t, NULL), -1);
	assert_int_equal(sigv4_parse_amz_date(NULL, &t, NULL), -1);
	assert_int_equal(sigv4_parse_amz_date("2026112xT220232Z", &t, NULL), -1);
	/* Years outside 1000..9999 cannot be written as YYYYMMDD. */
	assert_int_equal(sigv4_format_amz_date((time_t)1 << 50, s, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(sigv4_format_amz_date((time_t)-40000000000LL, s, &st), -1);
}

/* Property: whatever the path, query and header values, a server verifying
 * exactly what the signer produced accepts it (deterministic pseudo-random). */
static void test_sign_verify_roundtrip_random(void **state)
{
	(void)state;
	static const char alphabet[] = "aZ09-_.~/ %+=&?;:,!*'()\t\xc3\xa9\xe1\x88\xb4";
	unsigned seed = 12345;
	for (int iter = 0; iter < 500; iter++) {
		char path[40], query[40], value[40];
		char *bufs[] = { path, query, value };
		for (int b = 0; b < 3; b++) {
			seed = seed * 1103515245u + 12345u;
			size_t n = (seed >> 16) % 39;
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				bufs[b][i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
			}
			bufs[b][n] = '\0';
		}
		struct sigv4_header h[] = { { "Host", "h.example" }, { "X-Custom", value } };
		struct sigv4_request req = { .method = "PUT", .path = path, .query = query, .headers = h,
					     .n_headers = 2, .payload = value, .payload_len = strlen(value) };
		struct sigv4_credentials cred = { AKID, SECRET, iter % 2 ? EC2_TOKEN : NULL };
		struct sigv4_params p = { .region = "us-east-1", .service = "ec2", .time = EC2_TIME,
					  .normalize_path = true, .sign_content_sha256 = iter % 3 == 0 };
		struct sigv4_result r;
		sigv4_result_init(&r);
		struct status st = STATUS_INIT;
		if (sigv4_sign(&req, &cred, &p, &r, &st) != 0)
			fail_msg("sign #%d: %s", iter, st.msg);
		struct sigv4_header rx[2 + SIGV4_MAX_OUT_HEADERS];
		memcpy(rx, h, sizeof h);
		for (size_t i = 0; i < r.n_add; i++)
			rx[2 + i] = (struct sigv4_header){ r.add[i].name, r.add[i].value };
		struct sigv4_request rreq = req;
		rreq.headers = rx;
		rreq.n_headers = 2 + r.n_add;
		struct sigv4_auth auth;
		assert_int_equal(sigv4_auth_parse(r.authorization, &auth, NULL), 0);
		if (sigv4_verify(&rreq, &auth, SECRET, EC2_TIME, 300, NULL, &st) != 0)
			fail_msg("verify #%d (path '%s' query '%s'): %s", iter, path, query, st.msg);
		sigv4_result_dispose(&r);
	}
}

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(sigv4_ct_equal("abc", 3, "abc", 3));
	assert_false(sigv4_ct_equal("abc", 3, "abd", 3));
	assert_false(sigv4_ct_equal("abc", 3, "abcd", 4));
	assert_true(sigv4_ct_equal("", 0, "", 0));
}

/* ---- verification ---------------------------------------------------------- */

struct rx {
	struct sigv4_header h[6];
	struct sigv4_request req;
	struct sigv4_result signed_;
	struct sigv4_auth auth;
};

/* Builds the request a server receives from our EC2 signer. */
static void make_rx(struct rx *x, const char *token)
{
	sign_ec2(token, &x->signed_);
	size_t n = 0;
	x->h[n++] = (struct sigv4_header){ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" };
	x->h[n++] = (struct sigv4_header){ "Host", "ec2.us-west-2.amazonaws.com" };
	x->h[n++] = (struct sigv4_header){ "User-Agent", "ebs-csi-c/test" };  /* unsigned: ignored */
	for (size_t i = 0; i < x->signed_.n_add; i++)
		x->h[n++] = (struct sigv4_header){ x->signed_.add[i].name, x->signed_.add[i].value };
	x->req = (struct sigv4_request){ .method = "POST", .path = "/", .headers = x->h, .n_headers = n,
					 .payload = EC2_BODY, .payload_len = strlen(EC2_BODY) };
	assert_int_equal(sigv4_auth_parse(x->signed_.authorization, &x->auth, NULL), 0);
}

static void expect_reject(struct rx *x, const char *secret, time_t now, const char *want_code)
{
	struct status st = STATUS_INIT;
	const char *code = NULL;
	assert_int_equal(sigv4_verify(&x->req, &x->auth, secret, now, 300, &code, &st), -1);
	assert_int_equal(st.code, STATUS_UNAUTHENTICATED);
	assert_non_null(code);
	assert_string_equal(code, want_code);
	assert_null(strstr(st.msg, SECRET));
	assert_null(strstr(st.msg, x->signed_.signature));
}

static void test_verify(void **state)
{
	(void)state;
	struct rx x;
	make_rx(&x, EC2_TOKEN);
	assert_string_equal(x.auth.access_key_id, AKID);
	assert_string_equal(x.auth.date, "20261125");
	assert_string_equal(x.auth.region, "us-west-2");
	assert_string_equal(x.auth.service, "ec2");
	assert_string_equal(x.auth.signed_headers, "content-type;host;x-amz-date;x-amz-security-token");

	struct status st = STATUS_INIT;
	const char *code = "unset";
	assert_int_equal(sigv4_verify(&x.req, &x.auth, SECRET, EC2_TIME + 60, 300, &code, &st), 0);
	assert_null(code);
	/* max_skew 0 disables the clock check. */
	assert_int_equal(sigv4_verify(&x.req, &x.auth, SECRET, 0, 0, NULL, &st), 0);

	expect_reject(&x, "wrong-secret", EC2_TIME, "SignatureDoesNotMatch");
	expect_reject(&x, SECRET, EC2_TIME + 3600, "RequestExpired");
	expect_reject(&x, SECRET, EC2_TIME - 3600, "RequestExpired");

	/* Tampered body. */
	x.req.payload = "Action=DeleteVolume&Version=2016-11-15&VolumeId=vol-1";
	x.req.payload_len = strlen(x.req.payload);
	expect_reject(&x, SECRET, EC2_TIME, "SignatureDoesNotMatch");
	x.req.payload = EC2_BODY;
	x.req.payload_len = strlen(EC2_BODY);

	/* Tampered signed header (host), then token. */
	x.h[1].value = "ec2.us-east-1.amazonaws.com";
	expect_reject(&x, SECRET, EC2_TIME, "SignatureDoesNotMatch");
	x.h[1].value = "ec2.us-west-2.amazonaws.com";
	x.h[4].value = "other-token";
	expect_reject(&x, SECRET, EC2_TIME, "SignatureDoesNotMatch");
	x.h[4].value = EC2_TOKEN;

	/* Tampered path, query, method. */
	x.req.path = "/other";
	expect_reject(&x, SECRET, EC2_TIME, "SignatureDoesNotMatch");
	x.req.path = "/";
	x.req.query = "Action=x";
	expect_reject(&x, SECRET, EC2_TIME, "SignatureDoesNotMatch");
	x.req.query = NULL;
	x.req.method = "PUT";
	expect_reject(&x, SECRET, EC2_TIME, "SignatureDoesNotMatch");
	x.req.method = "POST";

	/* A signed header missing from the request. */
	x.req.n_headers--;  /* drops Authorization only: still fine */
	assert_int_equal(sigv4_verify(&x.req, &x.auth, SECRET, EC2_TIME, 300, NULL, &st), 0);
	x.h[0].name = "X-Other";  /* content-type gone */
	expect_reject(&x, SECRET, EC2_TIME, "SignatureDoesNotMatch");
	x.h[0].name = "Content-Type";

	/* One flipped signature digit. */
	x.auth.signature[10] = x.auth.signature[10] == '0' ? '1' : '0';
	expect_reject(&x, SECRET, EC2_TIME, "SignatureDoesNotMatch");
	sigv4_result_dispose(&x.signed_);

	/* Without a token, and a header value that differs only in whitespace. */
	make_rx(&x, NULL);
	x.h[0].value = "  application/x-www-form-urlencoded;   charset=utf-8 ";
	assert_int_equal(sigv4_verify(&x.req, &x.auth, SECRET, EC2_TIME, 300, NULL, &st), 0);
	/* SignedHeaders without x-amz-date is incomplete. */
	strcpy(x.auth.signed_headers, "content-type;host");
	expect_reject(&x, SECRET, EC2_TIME, "IncompleteSignature");
	sigv4_result_dispose(&x.signed_);
}

static void test_verify_content_sha256(void **state)
{
	(void)state;
	char hash[65];
	sigv4_sha256_hex(EC2_BODY, strlen(EC2_BODY), hash);
	struct sigv4_header h[] = { { "Host", "h" } };
	struct sigv4_request req = { .method = "POST", .path = "/", .headers = h, .n_headers = 1,
				     .payload = EC2_BODY, .payload_len = strlen(EC2_BODY) };
	struct sigv4_credentials cred = { AKID, SECRET, NULL };
	struct sigv4_params p = { .region = "us-west-2", .service = "ec2", .time = EC2_TIME, .normalize_path = true,
				  .sign_content_sha256 = true };
	struct sigv4_result r;
	sigv4_result_init(&r);
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, NULL), 0);
	struct sigv4_header rxh[] = { { "Host", "h" }, { r.add[0].name, r.add[0].value },
				      { r.add[1].name, r.add[1].value }, { r.add[2].name, r.add[2].value } };
	struct sigv4_request rx = req;
	rx.headers = rxh;
	rx.n_headers = 4;
	struct sigv4_auth auth;
	assert_int_equal(sigv4_auth_parse(r.authorization, &auth, NULL), 0);
	struct status st = STATUS_INIT;
	if (sigv4_verify(&rx, &auth, SECRET, EC2_TIME, 300, NULL, &st) != 0)
		fail_msg("verify: %s\nsigned:<<%s>>\n%s", st.msg, r.canonical_request, r.authorization);
	rx.payload = "Action=Other";
	rx.payload_len = strlen(rx.payload);
	const char *code = NULL;
	assert_int_equal(sigv4_verify(&rx, &auth, SECRET, EC2_TIME, 300, &code, NULL), -1);
	assert_string_equal(code, "SignatureDoesNotMatch");
	sigv4_result_dispose(&r);
}

static void test_auth_parse(void **state)
{
	(void)state;
	struct sigv4_auth a;
	struct status st = STATUS_INIT;
	const char *sig = "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
	char *good = xasprintf("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
			       "SignedHeaders=host;x-amz-date, %s",
			       sig);
	assert_int_equal(sigv4_auth_parse(good, &a, &st), 0);
	assert_string_equal(a.signed_headers, "host;x-amz-date");
	/* No spaces after commas is accepted too. */
	char *tight = xasprintf("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,"
				"SignedHeaders=host;x-amz-date,%s",
				sig);
	assert_int_equal(sigv4_auth_parse(tight, &a, &st), 0);

	const char *bad[] = {
		NULL,
		"",
		"AWS4-HMAC-SHA1 Credential=a/20150830/r/s/aws4_request, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/service/aws4_request, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws5_request, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/aws4_request, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/service/aws4_request, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request/x, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request, SignedHeaders=host, "
		"Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
		"AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request, SignedHeaders=host, "
		"Signature=5fa0",
		"AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/service/aws4_request, SignedHeaders=host, "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31, Extra=1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		status_clear(&st);
		if (sigv4_auth_parse(bad[i], &a, &st) != -1)
			fail_msg("accepted bad authorization #%zu", i);
		assert_int_equal(st.code, STATUS_UNAUTHENTICATED);
	}
	free(good);
	free(tight);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_suite),
		cmocka_unit_test(test_v4_suite),
		cmocka_unit_test(test_signing_key),
		cmocka_unit_test(test_iam_doc_example),
		cmocka_unit_test(test_ec2_post_form),
		cmocka_unit_test(test_session_token_signed),
		cmocka_unit_test(test_content_sha256_and_payload_hash),
		cmocka_unit_test(test_resign_ignores_old_auth_headers),
		cmocka_unit_test(test_canonical_uri),
		cmocka_unit_test(test_canonical_query),
		cmocka_unit_test(test_header_canonicalisation),
		cmocka_unit_test(test_sign_errors),
		cmocka_unit_test(test_no_secret_in_outputs),
		cmocka_unit_test(test_amz_date),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_sign_verify_roundtrip_random),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_content_sha256),
		cmocka_unit_test(test_auth_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
