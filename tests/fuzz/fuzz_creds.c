/*
 * fuzz_creds: the credential documents and endpoint settings the driver
 * reads from outside — the container/IMDS credentials JSON
 * (creds_parse_json), the STS AssumeRoleWithWebIdentity response
 * (creds_parse_sts_response), AWS timestamps (creds_parse_time), and the
 * endpoint URL / region variables (cloud/endpoint.h).
 *
 * Input: one selector byte, then
 *   0: a JSON body;  1: an STS XML body (both not NUL-terminated);
 *   2: a timestamp;  3: NUL-separated values for AWS_REGION,
 *      AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS,
 *      AWS_USE_FIPS_ENDPOINT, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
 * Oracles: a parse that succeeds yields credentials with both keys set; a
 * resolved endpoint has a URL that endpoint_url_parse accepts again.
 */
#include "tests/fuzz/fuzz_util.h"

#include "cloud/creds.h"
#include "cloud/creds_internal.h"
#include "cloud/endpoint.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	return 0;
}

static const char *const vars[] = { "AWS_REGION", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL",
				     "AWS_ENDPOINT_URL_STS", "AWS_USE_FIPS_ENDPOINT",
				     "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" };
#define NVARS (sizeof vars / sizeof vars[0])

static const char *getenv_fn(void *ctx, const char *name)
{
	char **vals = ctx;
	for (size_t i = 0; i < NVARS; i++)
		if (strcmp(name, vars[i]) == 0)
			return vals[i][0] ? vals[i] : NULL;
	return NULL;
}

static void check_creds(int rc, const struct creds *c, const struct status *st)
{
	if (rc == 0) {
		if (c->access_key_id[0] == '\0' || c->secret_access_key[0] == '\0')
			abort();
		if (!memchr(c->access_key_id, 0, sizeof c->access_key_id) ||
		    !memchr(c->session_token, 0, sizeof c->session_token))
			abort();
	} else if (st->code == STATUS_OK) {
		abort();
	}
}

static void resolved(int rc, struct endpoint *e, const struct status *st)
{
	if (rc != 0) {
		if (st->code == STATUS_OK)
			abort();
		return;
	}
	struct endpoint_url u;
	endpoint_url_init(&u);
	struct status st2 = STATUS_INIT;
	if (e->url == NULL || endpoint_url_parse(e->url, "resolved", &u, &st2) != 0) {
		fprintf(stderr, "resolved endpoint does not parse: %s: %s\n", e->url ? e->url : "(null)", st2.msg);
		abort();
	}
	endpoint_url_dispose(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t sel = fz_byte(&f);
	struct status st = STATUS_INIT;
	struct creds c;
	memset(&c, 0, sizeof c);

	switch (sel % 4) {
	case 0:
	case 1: {
		size_t len;
		char *body = fz_rest(&f, &len);
		int rc = sel % 4 == 0 ? creds_parse_json(body, len, "fuzz", &c, &st)
				      : creds_parse_sts_response(body, len, &c, &st);
		check_creds(rc, &c, &st);
		creds_dispose(&c);
		free(body);
		break;
	}
	case 2: {
		char *s = fz_str(&f, NULL);
		time_t t;
		(void)creds_parse_time(s, &t);
		free(s);
		break;
	}
	case 3: {
		char *vals[NVARS];
		for (size_t i = 0; i < NVARS; i++)
			vals[i] = fz_str(&f, NULL);
		struct endpoint_env env = { getenv_fn, vals };
		char region[ENDPOINT_REGION_MAX + 1];
		struct endpoint e;
		endpoint_init(&e);
		if (endpoint_region_from_env(&env, region, sizeof region, &st) == 0) {
			if (region[0] == '\0')
				snprintf(region, sizeof region, "us-east-1");
			(void)endpoint_partition_for_region(region);
			st = (struct status)STATUS_INIT;
			resolved(endpoint_resolve_ec2(region, &env, &e, &st), &e, &st);
			st = (struct status)STATUS_INIT;
			resolved(endpoint_resolve_sts(region, &env, &e, &st), &e, &st);
		}
		/* Any URL, directly. */
		struct endpoint_url u;
		endpoint_url_init(&u);
		st = (struct status)STATUS_INIT;
		if (endpoint_url_parse(vals[2], "AWS_ENDPOINT_URL", &u, &st) == 0) {
			if (u.scheme == NULL || u.host == NULL || u.path == NULL || u.host_header == NULL ||
			    u.port == 0 || u.port > 65535)
				abort();
		}
		endpoint_url_dispose(&u);
		endpoint_dispose(&e);
		for (size_t i = 0; i < NVARS; i++)
			free(vals[i]);
		break;
	}
	}
	return 0;
}
