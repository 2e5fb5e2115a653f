/*
 * test_endpoint: region, partition and EC2/STS endpoint resolution, override
 * precedence and validation, and endpoint-URL parsing — all through a fake
 * environment (a name/value table), never the process environment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/endpoint.h"

#include <stdlib.h>
#include <string.h>

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

#define ENV(...) \
	struct fake_env fe_ = { { __VA_ARGS__ } }; \
	struct endpoint_env env = { fake_getenv, &fe_ }

static void test_region_from_env(void **state)
{
	(void)state;
	char r[ENDPOINT_REGION_MAX + 1];
	struct status st = STATUS_INIT;
	{
		ENV({ "AWS_REGION", "eu-west-1" }, { "AWS_DEFAULT_REGION", "us-east-1" });
		assert_int_equal(endpoint_region_from_env(&env, r, sizeof r, &st), 0);
		assert_string_equal(r, "eu-west-1");
	}
	{
		ENV({ "AWS_REGION", "" }, { "AWS_DEFAULT_REGION", "us-east-1" });
		assert_int_equal(endpoint_region_from_env(&env, r, sizeof r, &st), 0);
		assert_string_equal(r, "us-east-1");
	}
	{
		ENV({ "OTHER", "x" });
		assert_int_equal(endpoint_region_from_env(&env, r, sizeof r, &st), 0);
		assert_string_equal(r, "");  /* the caller asks IMDS */
	}
	{
		ENV({ "AWS_REGION", "us-east-1/../x" });
		assert_int_equal(endpoint_region_from_env(&env, r, sizeof r, &st), -1);
		assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, "AWS_REGION"));
	}
	{
		ENV({ "AWS_DEFAULT_REGION", "US-EAST-1" });
		assert_int_equal(endpoint_region_from_env(&env, r, sizeof r, &st), -1);
		assert_non_null(strstr(st.msg, "AWS_DEFAULT_REGION"));
	}
	{
		ENV({ "AWS_REGION", "us-east-1" });
		char small[4];
		assert_int_equal(endpoint_region_from_env(&env, small, sizeof small, &st), -1);
	}
	/* A NULL env or NULL callback is an empty environment. */
	assert_int_equal(endpoint_region_from_env(NULL, r, sizeof r, &st), 0);
	assert_string_equal(r, "");
}

static void test_region_valid(void **state)
{
	(void)state;
	assert_true(endpoint_region_valid("us-east-1"));
	assert_true(endpoint_region_valid("us-gov-west-1"));
	assert_true(endpoint_region_valid("local"));
	assert_false(endpoint_region_valid(NULL));
	assert_false(endpoint_region_valid(""));
	assert_false(endpoint_region_valid("1us-east"));
	assert_false(endpoint_region_valid("us-east-"));
	assert_false(endpoint_region_valid("us.east.1"));
	assert_false(endpoint_region_valid("us east 1"));
	char longr[80];
	memset(longr, 'a', sizeof longr - 1);
	longr[sizeof longr - 1] = '\0';
	assert_false(endpoint_region_valid(longr));
}

static void test_partitions(void **state)
{
	(void)state;
	static const struct {
		const char *region, *partition, *suffix;
	} cases[] = {
		{ "us-east-1", "aws", "amazonaws.com" },
		{ "eu-central-2", "aws", "amazonaws.com" },
		{ "il-central-1", "aws", "amazonaws.com" },
		{ "cn-north-1", "aws-cn", "amazonaws.com.cn" },
		{ "cn-northwest-1", "aws-cn", "amazonaws.com.cn" },
		{ "us-gov-west-1", "aws-us-gov", "amazonaws.com" },
		{ "us-iso-east-1", "aws-iso", "c2s.ic.gov" },
		{ "us-isob-east-1", "aws-iso-b", "sc2s.sgov.gov" },
		{ "us-isof-south-1", "aws-iso-f", "csp.hci.ic.gov" },
		{ "eu-isoe-west-1", "aws-iso-e", "cloud.adc-e.uk" },
		{ "eusc-de-east-1", "aws-eusc", "amazonaws.eu" },
		{ "mars-north-1", "aws", "amazonaws.com" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct endpoint_partition *p = endpoint_partition_for_region(cases[i].region);
		assert_non_null(p);
		assert_string_equal(p->name, cases[i].partition);
		assert_string_equal(p->dns_suffix, cases[i].suffix);
	}
	assert_string_equal(endpoint_partition_for_region(NULL)->name, "aws");
}

static void expect_ec2(const struct endpoint_env *env, const char *region, const char *url, const char *source,
		       const char *host_header)
{
	struct endpoint e;
	endpoint_init(&e);
	struct status st = STATUS_INIT;
	if (endpoint_resolve_ec2(region, env, &e, &st) != 0)
		fail_msg("resolve ec2 %s: %s", region, st.msg);
	assert_string_equal(e.url, url);
	assert_string_equal(e.source, source);
	assert_string_equal(e.parsed.host_header, host_header);
	assert_string_equal(e.signing_region, region);
	assert_string_equal(e.signing_service, "ec2");
	endpoint_dispose(&e);
}

static void test_ec2_defaults(void **state)
{
	(void)state;
	ENV({ NULL, NULL });
	expect_ec2(&env, "us-west-2", "https://ec2.us-west-2.amazonaws.com", "default", "ec2.us-west-2.amazonaws.com");
	expect_ec2(&env, "cn-north-1", "https://ec2.cn-north-1.amazonaws.com.cn", "default",
		   "ec2.cn-north-1.amazonaws.com.cn");
	expect_ec2(&env, "us-gov-east-1", "https://ec2.us-gov-east-1.amazonaws.com", "default",
		   "ec2.us-gov-east-1.amazonaws.com");
	expect_ec2(&env, "us-iso-east-1", "https://ec2.us-iso-east-1.c2s.ic.gov", "default",
		   "ec2.us-iso-east-1.c2s.ic.gov");
	expect_ec2(&env, "us-isob-east-1", "https://ec2.us-isob-east-1.sc2s.sgov.gov", "default",
		   "ec2.us-isob-east-1.sc2s.sgov.gov");
	/* A NULL environment behaves as an empty one. */
	expect_ec2(NULL, "eu-west-1", "https://ec2.eu-west-1.amazonaws.com", "default", "ec2.eu-west-1.amazonaws.com");
}

static void test_ec2_fips(void **state)
{
	(void)state;
	{
		ENV({ "AWS_USE_FIPS_ENDPOINT", "true" });
		expect_ec2(&env, "us-east-1", "https://ec2-fips.us-east-1.amazonaws.com", "default",
			   "ec2-fips.us-east-1.amazonaws.com");
		expect_ec2(&env, "ca-central-1", "https://ec2-fips.ca-central-1.amazonaws.com", "default",
			   "ec2-fips.ca-central-1.amazonaws.com");
		/* GovCloud's regular endpoint is its FIPS endpoint. */
		expect_ec2(&env, "us-gov-west-1", "https://ec2.us-gov-west-1.amazonaws.com", "default",
			   "ec2.us-gov-west-1.amazonaws.com");
		expect_ec2(&env, "us-iso-east-1", "https://ec2-fips.us-iso-east-1.c2s.ic.gov", "default",
			   "ec2-fips.us-iso-east-1.c2s.ic.gov");
		struct endpoint e;
		endpoint_init(&e);
		struct status st = STATUS_INIT;
		assert_int_equal(endpoint_resolve_ec2("eu-west-1", &env, &e, &st), -1);
		assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
		assert_non_null(strstr(st.msg, "AWS_USE_FIPS_ENDPOINT"));
		assert_null(e.url);
		endpoint_dispose(&e);
	}
	{
		ENV({ "AWS_USE_FIPS_ENDPOINT", "TRUE" });
		expect_ec2(&env, "us-west-2", "https://ec2-fips.us-west-2.amazonaws.com", "default",
			   "ec2-fips.us-west-2.amazonaws.com");
	}
	{
		ENV({ "AWS_USE_FIPS_ENDPOINT", "False" });
		expect_ec2(&env, "us-west-2", "https://ec2.us-west-2.amazonaws.com", "default",
			   "ec2.us-west-2.amazonaws.com");
	}
	{
		ENV({ "AWS_USE_FIPS_ENDPOINT", "yes" });
		struct endpoint e;
		endpoint_init(&e);
		struct status st = STATUS_INIT;
		assert_int_equal(endpoint_resolve_ec2("us-west-2", &env, &e, &st), -1);
		assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, "AWS_USE_FIPS_ENDPOINT"));
		endpoint_dispose(&e);
	}
	{
		/* An override wins over FIPS. */
		ENV({ "AWS_USE_FIPS_ENDPOINT", "true" }, { "AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5000" });
		expect_ec2(&env, "eu-west-1", "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_EC2", "127.0.0.1:5000");
	}
}

static void test_ec2_override_precedence(void **state)
{
	(void)state;
	{
		ENV({ "AWS_EC2_ENDPOINT", "https://c.example" }, { "AWS_ENDPOINT_URL", "https://b.example" },
		    { "AWS_ENDPOINT_URL_EC2", "https://a.example" });
		expect_ec2(&env, "us-east-1", "https://a.example", "AWS_ENDPOINT_URL_EC2", "a.example");
	}
	{
		ENV({ "AWS_EC2_ENDPOINT", "https://c.example" }, { "AWS_ENDPOINT_URL", "https://b.example/" },
		    { "AWS_ENDPOINT_URL_EC2", "" });
		expect_ec2(&env, "us-east-1", "https://b.example", "AWS_ENDPOINT_URL", "b.example");
	}
	{
		ENV({ "AWS_EC2_ENDPOINT", "http://localhost:8080/ec2/" });
		expect_ec2(&env, "us-east-1", "http://localhost:8080/ec2/", "AWS_EC2_ENDPOINT", "localhost:8080");
	}
	{
		/* The SDK switch ignores AWS_ENDPOINT_URL*, not the driver's variable. */
		ENV({ "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true" }, { "AWS_ENDPOINT_URL_EC2", "https://a.example" },
		    { "AWS_ENDPOINT_URL", "https://b.example" }, { "AWS_EC2_ENDPOINT", "https://c.example" });
		expect_ec2(&env, "us-east-1", "https://c.example", "AWS_EC2_ENDPOINT", "c.example");
	}
	{
		ENV({ "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true" }, { "AWS_ENDPOINT_URL_EC2", "https://a.example" });
		expect_ec2(&env, "us-east-1", "https://ec2.us-east-1.amazonaws.com", "default",
			   "ec2.us-east-1.amazonaws.com");
	}
	{
		/* Scheme and host are normalised to lower case; default ports vanish. */
		ENV({ "AWS_ENDPOINT_URL_EC2", "HTTPS://EC2.Example.COM:443" });
		expect_ec2(&env, "us-east-1", "https://ec2.example.com", "AWS_ENDPOINT_URL_EC2", "ec2.example.com");
	}
}

static void expect_bad_override(const char *var, const char *value, int code)
{
	struct fake_env fe = { { { var, value } } };
	struct endpoint_env env = { fake_getenv, &fe };
	struct endpoint e;
	endpoint_init(&e);
	struct status st = STATUS_INIT;
	int rc = strstr(var, "STS") ? endpoint_resolve_sts("us-east-1", &env, &e, &st)
				    : endpoint_resolve_ec2("us-east-1", &env, &e, &st);
	if (rc != -1)
		fail_msg("%s=%s accepted", var, value);
	assert_int_equal(st.code, code);
	if (strstr(st.msg, var) == NULL)
		fail_msg("message does not name %s: %s", var, st.msg);
	assert_null(e.url);
	endpoint_dispose(&e);
}

static void test_bad_overrides(void **state)
{
	(void)state;
	expect_bad_override("AWS_ENDPOINT_URL_EC2", "ftp://x.example", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL_EC2", "x.example", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL_EC2", "https://", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL_EC2", "https:///path", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL", "https://h:0", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL", "https://h:65536", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL", "https://h:12a", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL", "https://h:", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_EC2_ENDPOINT", "https://user:secret@h.example", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_EC2_ENDPOINT", "https://h.example/?a=b", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_EC2_ENDPOINT", "https://h.example#frag", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_EC2_ENDPOINT", "https://h .example", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_EC2_ENDPOINT", "https://h\r\nX: y", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_EC2_ENDPOINT", "https://h!x", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL_STS", "https://[::1", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL_STS", "https://[::g]", STATUS_INVALID_ARGUMENT);
	expect_bad_override("AWS_ENDPOINT_URL_STS", "https://[::1]x", STATUS_INVALID_ARGUMENT);

	/* The value (which may hold credentials) never appears in the message. */
	struct fake_env fe = { { { "AWS_ENDPOINT_URL_EC2", "https://AKIA:hunter2@h" } } };
	struct endpoint_env env = { fake_getenv, &fe };
	struct endpoint e;
	endpoint_init(&e);
	struct status st = STATUS_INIT;
	assert_int_equal(endpoint_resolve_ec2("us-east-1", &env, &e, &st), -1);
	assert_null(strstr(st.msg, "hunter2"));
	endpoint_dispose(&e);
}

static void test_missing_region(void **state)
{
	(void)state;
	ENV({ "AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5000" });
	struct endpoint e;
	endpoint_init(&e);
	struct status st = STATUS_INIT;
	assert_int_equal(endpoint_resolve_ec2(NULL, &env, &e, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "AWS_REGION"));
	assert_int_equal(endpoint_resolve_ec2("", &env, &e, &st), -1);
	assert_int_equal(endpoint_resolve_sts("bad/region", &env, &e, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	endpoint_dispose(&e);
}

static void expect_sts(const struct endpoint_env *env, const char *region, const char *url, const char *source)
{
	struct endpoint e;
	endpoint_init(&e);
	struct status st = STATUS_INIT;
	if (endpoint_resolve_sts(region, env, &e, &st) != 0)
		fail_msg("resolve sts %s: %s", region, st.msg);
	assert_string_equal(e.url, url);
	assert_string_equal(e.source, source);
	assert_string_equal(e.signing_service, "sts");
	assert_string_equal(e.signing_region, region);
	endpoint_dispose(&e);
}

static void test_sts(void **state)
{
	(void)state;
	{
		ENV({ "AWS_ENDPOINT_URL_EC2", "https://ec2-only.example" });
		expect_sts(&env, "us-west-2", "https://sts.us-west-2.amazonaws.com", "default");
		expect_sts(&env, "cn-northwest-1", "https://sts.cn-northwest-1.amazonaws.com.cn", "default");
		expect_sts(&env, "us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com", "default");
	}
	{
		ENV({ "AWS_USE_FIPS_ENDPOINT", "true" });
		expect_sts(&env, "us-east-2", "https://sts-fips.us-east-2.amazonaws.com", "default");
		expect_sts(&env, "us-gov-east-1", "https://sts.us-gov-east-1.amazonaws.com", "default");
		struct endpoint e;
		endpoint_init(&e);
		struct status st = STATUS_INIT;
		/* EC2 has FIPS in ca-central-1; STS does not. */
		assert_int_equal(endpoint_resolve_sts("ca-central-1", &env, &e, &st), -1);
		assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
		assert_non_null(strstr(st.msg, "AWS_ENDPOINT_URL_STS"));
		endpoint_dispose(&e);
	}
	{
		ENV({ "AWS_ENDPOINT_URL", "http://[::1]:4566" }, { "AWS_EC2_ENDPOINT", "https://ignored.example" });
		expect_sts(&env, "us-east-1", "http://[::1]:4566", "AWS_ENDPOINT_URL");
	}
	{
		ENV({ "AWS_ENDPOINT_URL", "http://b.example" }, { "AWS_ENDPOINT_URL_STS", "http://sts.local:8443/" });
		expect_sts(&env, "us-east-1", "http://sts.local:8443", "AWS_ENDPOINT_URL_STS");
	}
	{
		/* AWS_EC2_ENDPOINT is for EC2 only. */
		ENV({ "AWS_EC2_ENDPOINT", "https://ec2.example" });
		expect_sts(&env, "eu-west-1", "https://sts.eu-west-1.amazonaws.com", "default");
	}
}

static void test_url_parse(void **state)
{
	(void)state;
	struct endpoint_url u;
	struct status st = STATUS_INIT;

	assert_int_equal(endpoint_url_parse("https://ec2.us-west-2.amazonaws.com", "x", &u, &st), 0);
	assert_string_equal(u.scheme, "https");
	assert_string_equal(u.host, "ec2.us-west-2.amazonaws.com");
	assert_int_equal(u.port, 443);
	assert_false(u.explicit_port);
	assert_string_equal(u.path, "/");
	assert_string_equal(u.host_header, "ec2.us-west-2.amazonaws.com");
	endpoint_url_dispose(&u);

	assert_int_equal(endpoint_url_parse("http://127.0.0.1:5000/sim/path", "x", &u, &st), 0);
	assert_string_equal(u.scheme, "http");
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 5000);
	assert_true(u.explicit_port);
	assert_string_equal(u.path, "/sim/path");
	assert_string_equal(u.host_header, "127.0.0.1:5000");
	endpoint_url_dispose(&u);

	assert_int_equal(endpoint_url_parse("http://localhost:80", "x", &u, &st), 0);
	assert_int_equal(u.port, 80);
	assert_true(u.explicit_port);
	assert_string_equal(u.host_header, "localhost");  /* default port omitted */
	endpoint_url_dispose(&u);

	assert_int_equal(endpoint_url_parse("https://[fd00:ec2::254]", "x", &u, &st), 0);
	assert_string_equal(u.host, "fd00:ec2::254");
	assert_string_equal(u.host_header, "[fd00:ec2::254]");
	endpoint_url_dispose(&u);

	assert_int_equal(endpoint_url_parse("http://[::1]:8080/", "x", &u, &st), 0);
	assert_string_equal(u.host_header, "[::1]:8080");
	assert_int_equal(u.port, 8080);
	endpoint_url_dispose(&u);

	assert_int_equal(endpoint_url_parse("https://h:65535", "x", &u, &st), 0);
	assert_int_equal(u.port, 65535);
	endpoint_url_dispose(&u);

	assert_int_equal(endpoint_url_parse(NULL, "MYVAR", &u, &st), -1);
	assert_non_null(strstr(st.msg, "MYVAR"));
	assert_null(u.host);
	assert_int_equal(endpoint_url_parse("", NULL, &u, &st), -1);
	assert_int_equal(endpoint_url_parse("https:/h", "x", &u, &st), -1);
	assert_int_equal(endpoint_url_parse("https://h:99999", "x", &u, &st), -1);
	assert_null(u.host);
	endpoint_url_dispose(&u);
}

static void test_process_env(void **state)
{
	(void)state;
	/* The one impure helper: resolves through the real environment. */
	setenv("EBS_TEST_ENDPOINT_VAR", "us-east-2", 1);
	assert_string_equal(endpoint_getenv_process(NULL, "EBS_TEST_ENDPOINT_VAR"), "us-east-2");
	unsetenv("EBS_TEST_ENDPOINT_VAR");
	assert_null(endpoint_getenv_process(NULL, "EBS_TEST_ENDPOINT_VAR"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_from_env),
		cmocka_unit_test(test_region_valid),
		cmocka_unit_test(test_partitions),
		cmocka_unit_test(test_ec2_defaults),
		cmocka_unit_test(test_ec2_fips),
		cmocka_unit_test(test_ec2_override_precedence),
		cmocka_unit_test(test_bad_overrides),
		cmocka_unit_test(test_missing_region),
		cmocka_unit_test(test_sts),
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_process_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
