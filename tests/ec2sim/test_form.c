/*
 * test_form: cloud/ec2sim/sim_form — urlencoded parsing (+ and %XX, bad
 * escapes, repeated keys), allow-list patterns with list indices, typed
 * lookups and their EC2 error codes, flattened lists in index order with gaps,
 * Filter.N and TagSpecification.N parsing, and the ClientToken fingerprint.
 */
#include "cloud/ec2sim/sim_form.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void parse_ok(struct sim_form *f, const char *s)
{
	struct sim_err e = { 0 };
	sim_form_init(f);
	assert_int_equal(sim_form_parse(f, s, strlen(s), &e), 0);
}

static void test_parse_decodes(void **state)
{
	(void)state;
	struct sim_form f;
	parse_ok(&f, "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3ACSIVolumeName"
		     "&Filter.1.Value.1=pvc+2&Empty=&Bare");
	assert_string_equal(sim_form_get(&f, "Action"), "DescribeVolumes");
	assert_string_equal(sim_form_get(&f, "Filter.1.Name"), "tag:CSIVolumeName");
	assert_string_equal(sim_form_get(&f, "Filter.1.Value.1"), "pvc 2");
	assert_string_equal(sim_form_get(&f, "Empty"), "");
	assert_string_equal(sim_form_get(&f, "Bare"), "");
	assert_null(sim_form_get(&f, "Missing"));
	sim_form_dispose(&f);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	const char *bad[] = { "A=%zz", "A=%4", "A=1&A=2", "=x", "A=%00" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sim_form f;
		struct sim_err e = { 0 };
		sim_form_init(&f);
		assert_int_equal(sim_form_parse(&f, bad[i], strlen(bad[i]), &e), -1);
		assert_int_equal(e.http, 400);
		sim_form_dispose(&f);
	}
}

static void test_patterns(void **state)
{
	(void)state;
	assert_true(sim_form_key_matches("Filter.1.Value.12", "Filter.N.Value.N"));
	assert_false(sim_form_key_matches("Filter.01.Value.1", "Filter.N.Value.N"));
	assert_false(sim_form_key_matches("Filter.0.Value.1", "Filter.N.Value.N"));
	assert_false(sim_form_key_matches("Filter.1.Value", "Filter.N.Value.N"));
	assert_false(sim_form_key_matches("Filter.1.Value.1.x", "Filter.N.Value.N"));
	assert_true(sim_form_key_matches("Size", "Size"));
	assert_false(sim_form_key_matches("Sizes", "Size"));
	struct sim_form f;
	parse_ok(&f, "Action=X&Version=1&VolumeId.1=a&VolumeId.3=b&Bogus=1");
	const char *const allowed[] = { "VolumeId.N", "DryRun", NULL };
	struct sim_err e = { 0 };
	assert_int_equal(sim_form_check_allowed(&f, allowed, &e), -1);
	assert_string_equal(e.code, "UnknownParameter");
	assert_non_null(strstr(e.msg, "Bogus"));
	sim_form_dispose(&f);
}

static void test_typed(void **state)
{
	(void)state;
	struct sim_form f;
	parse_ok(&f, "Size=10&Neg=-1&Word=ten&Yes=TRUE&Maybe=maybe&Empty=");
	struct sim_err e = { 0 };
	long long v = 0;
	bool present = false, b = false;
	assert_int_equal(sim_form_int(&f, "Size", 1, 100, &v, &present, &e), 0);
	assert_true(present);
	assert_int_equal(v, 10);
	assert_int_equal(sim_form_int(&f, "Nope", 1, 100, &v, &present, &e), 0);
	assert_false(present);
	assert_int_equal(sim_form_int(&f, "Neg", 0, 100, &v, NULL, &e), -1);
	assert_string_equal(e.code, "InvalidParameterValue");
	assert_int_equal(sim_form_int(&f, "Word", 0, 100, &v, NULL, &e), -1);
	assert_int_equal(sim_form_bool(&f, "Yes", &b, NULL, &e), 0);
	assert_true(b);
	assert_int_equal(sim_form_bool(&f, "Maybe", &b, NULL, &e), -1);
	assert_null(sim_form_required(&f, "Empty", &e));
	assert_string_equal(e.code, "MissingParameter");
	sim_form_dispose(&f);
}

static void test_lists_filters_tags(void **state)
{
	(void)state;
	struct sim_form f;
	parse_ok(&f, "VolumeId.10=c&VolumeId.2=b&VolumeId.1=a&Filter.2.Name=status&Filter.2.Value.1=available"
		     "&Filter.1.Name=tag-key&Filter.1.Value.2=y&Filter.1.Value.1=x"
		     "&TagSpecification.1.ResourceType=volume&TagSpecification.1.Tag.1.Key=k1"
		     "&TagSpecification.1.Tag.1.Value=v1&TagSpecification.1.Tag.2.Key=k2");
	struct strv ids;
	strv_init(&ids);
	assert_int_equal(sim_form_list(&f, "VolumeId", &ids), 3);
	assert_string_equal(ids.v[0], "a");
	assert_string_equal(ids.v[1], "b");
	assert_string_equal(ids.v[2], "c");
	strv_dispose(&ids);
	struct sim_filters fs;
	struct sim_err e = { 0 };
	assert_int_equal(sim_form_filters(&f, &fs, &e), 0);
	assert_int_equal(fs.n, 2);
	assert_string_equal(fs.v[0].name, "tag-key");
	assert_int_equal(fs.v[0].values.n, 2);
	assert_string_equal(fs.v[0].values.v[0], "x");
	assert_string_equal(fs.v[1].name, "status");
	sim_filters_dispose(&fs);
	struct sim_tags tags = { 0 };
	assert_int_equal(sim_form_tag_specs(&f, "volume", &tags, &e), 0);
	assert_int_equal(tags.n, 2);
	assert_string_equal(sim_tags_get(&tags, "k1"), "v1");
	assert_string_equal(sim_tags_get(&tags, "k2"), "");
	sim_tags_dispose(&tags);
	assert_int_equal(sim_form_tag_specs(&f, "snapshot", &tags, &e), -1);
	assert_string_equal(e.code, "InvalidParameterValue");
	sim_tags_dispose(&tags);
	sim_form_dispose(&f);

	parse_ok(&f, "Filter.1.Name=status");
	assert_int_equal(sim_form_filters(&f, &fs, &e), -1);
	sim_form_dispose(&f);
}

static void test_fingerprint(void **state)
{
	(void)state;
	struct sim_form a, b;
	parse_ok(&a, "Action=CreateVolume&Size=1&ClientToken=t&AvailabilityZone=us-east-1a&VolumeType=gp3");
	parse_ok(&b, "VolumeType=gp3&ClientToken=t&Size=1&AvailabilityZone=us-east-1b&Action=CreateVolume");
	const char *const skip[] = { "ClientToken", "AvailabilityZone", NULL };
	char *fa = sim_form_fingerprint(&a, skip), *fb = sim_form_fingerprint(&b, skip);
	assert_string_equal(fa, fb);
	assert_null(strstr(fa, "ClientToken"));
	free(fa);
	free(fb);
	sim_form_dispose(&a);
	sim_form_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_decodes),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_typed),
		cmocka_unit_test(test_lists_filters_tags),
		cmocka_unit_test(test_fingerprint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
