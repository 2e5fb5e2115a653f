/*
 * test_fuzz_regressions (cloud): bugs found by the libFuzzer targets of
 * tests/fuzz/, one test each, so the sanitizer unit run keeps them fixed.
 * The inputs themselves are in tests/fuzz/corpus/<target>/crash-*.
 *   - fuzz_creds: creds_parse_time read p[3] of a "+"/"-" offset before
 *     checking that the two hour digits were there: a timestamp ending in
 *     "-" read past its terminating NUL.
 *   - fuzz_sim_request, fuzz_sigv4: sigv4_verify skipped received headers
 *     whose name was 256 bytes or longer, which sigv4_sign signs: a
 *     correctly signed request failed with SignatureDoesNotMatch.
 */
#include "cloud/creds.h"
#include "cloud/sigv4.h"
#include "common/status.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* s as an exact-size heap copy, so ASan sees a read past its NUL. */
static char *exact(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static void test_time_offset_truncated(void **state)
{
	(void)state;
	static const char *const bad[] = { "2026-11-25T23:02:32-", "2026-11-25T23:02:32+", "2026-11-25T23:02:32+0",
					   "2026-11-25T23:02:32-05", "2026-11-25T23:02:32+05:", "2026-11-25T23:02:32+05:3" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *s = exact(bad[i]);
		time_t t;
		assert_int_equal(creds_parse_time(s, &t), -1);
		free(s);
	}
	char *s = exact("2026-11-25T23:02:32-05:30");
	time_t t = 0;
	assert_int_equal(creds_parse_time(s, &t), 0);
	assert_int_equal((long long)t, 1795647752LL + 5 * 3600 + 30 * 60);
	free(s);
}

static void test_verify_long_header_name(void **state)
{
	(void)state;
	char name[301];
	memset(name, 'x', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	memcpy(name, "X-Long-", 7);
	struct sigv4_header h[2 + SIGV4_MAX_OUT_HEADERS] = { { "Host", "ec2.us-east-1.amazonaws.com" },
							      { name, "v" } };
	struct sigv4_request req = { .method = "POST", .path = "/", .query = "", .headers = h, .n_headers = 2,
				     .payload = "Action=DescribeVolumes", .payload_len = 22 };
	struct sigv4_credentials cred = { "AKIDEXAMPLE", "secret", NULL };
	struct sigv4_params p = { .region = "us-east-1", .service = "ec2", .time = 1440938160, .normalize_path = true };
	struct sigv4_result r;
	sigv4_result_init(&r);
	struct status st = STATUS_INIT;
	assert_int_equal(sigv4_sign(&req, &cred, &p, &r, &st), 0);
	for (size_t i = 0; i < r.n_add; i++)
		h[2 + i] = (struct sigv4_header){ r.add[i].name, r.add[i].value };
	req.n_headers = 2 + r.n_add;
	struct sigv4_auth auth;
	assert_int_equal(sigv4_auth_parse(r.authorization, &auth, &st), 0);
	const char *code = NULL;
	if (sigv4_verify(&req, &auth, "secret", 1440938160, 300, &code, &st) != 0)
		fail_msg("verify: %s (%s)", st.msg, code ? code : "?");
	sigv4_result_dispose(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_offset_truncated),
		cmocka_unit_test(test_verify_long_header_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
