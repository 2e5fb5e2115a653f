/*
 * test_rules: the pure parts of EC2's behaviour in cloud/ec2sim — volume type
 * limits and defaults (sim_rules), device names and IDs, the XML writer and
 * error body (sim_xml), token buckets and EC2's throttling categories
 * (sim_faults), paging tokens and filter wildcards (sim_query), the command
 * line (sim_config) and IMDS tokens (sim_imds).
 */
#include "cloud/ec2sim/sim_config.h"
#include "cloud/ec2sim/sim_faults.h"
#include "cloud/ec2sim/sim_imds.h"
#include "cloud/ec2sim/sim_query.h"
#include "cloud/ec2sim/sim_rules.h"
#include "cloud/ec2sim/sim_xml.h"

#include "common/xalloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int check(const char *type, int size, int iops, int tp, bool multi, struct sim_volume_spec *out,
		 struct sim_err *e)
{
	struct sim_volume_spec sp = { xstrdup(type), size, iops < 0 ? 0 : iops, tp < 0 ? 0 : tp, multi };
	int rc = sim_rules_volume(&sp, iops >= 0, tp >= 0, e);
	if (out != NULL)
		*out = sp;
	else
		sim_spec_dispose(&sp);
	return rc;
}

static void test_volume_rules(void **state)
{
	(void)state;
	struct sim_err e = { 0 };
	struct sim_volume_spec sp;
	assert_int_equal(check("gp3", 10, -1, -1, false, &sp, &e), 0);
	assert_int_equal(sp.iops, 3000);
	assert_int_equal(sp.throughput, 125);
	sim_spec_dispose(&sp);
	assert_int_equal(check("gp2", 1, -1, -1, false, &sp, &e), 0);
	assert_int_equal(sp.iops, 100);
	sim_spec_dispose(&sp);
	assert_int_equal(check("gp2", 10000, -1, -1, false, &sp, &e), 0);
	assert_int_equal(sp.iops, 16000);
	sim_spec_dispose(&sp);
	assert_int_equal(check("st1", 125, -1, -1, false, &sp, &e), 0);
	assert_int_equal(sp.iops, 0);
	sim_spec_dispose(&sp);

	assert_int_equal(check("gp3", 4, 200000, -1, false, NULL, &e), -1);
	assert_string_equal(e.msg, "Volume iops of 200000 is too high; maximum is 80000");
	assert_int_equal(check("gp3", 10, 6000, -1, false, NULL, &e), -1);  /* > 500 per GiB */
	assert_string_equal(e.code, "InvalidParameterValue");
	assert_int_equal(check("gp3", 16, 8000, -1, false, NULL, &e), 0);
	assert_int_equal(check("gp3", 100, 4000, 1001, false, NULL, &e), -1);  /* > 0.25 MiB/s per IOPS */
	assert_int_equal(check("gp3", 100, 4000, 1000, false, NULL, &e), 0);
	assert_int_equal(check("io1", 10, -1, -1, false, NULL, &e), -1);
	assert_string_equal(e.code, "MissingParameter");
	assert_int_equal(check("io1", 10, 600, -1, false, NULL, &e), -1);  /* 50:1 */
	assert_int_equal(check("io2", 4, 4000, -1, true, NULL, &e), 0);
	assert_int_equal(check("io2", 4, 4001, -1, false, NULL, &e), -1);  /* 1000:1 */
	assert_non_null(strstr(e.msg, "io2 volumes configured with greater than"));
	assert_int_equal(check("gp3", 10, -1, -1, true, NULL, &e), -1);
	assert_string_equal(e.code, "InvalidParameterCombination");
	assert_int_equal(check("gp2", 10, 300, -1, false, NULL, &e), -1);
	assert_string_equal(e.code, "InvalidParameterCombination");
	assert_int_equal(check("sc1", 124, -1, -1, false, NULL, &e), -1);
	assert_int_equal(check("gp3", 65537, -1, -1, false, NULL, &e), -1);
	assert_int_equal(check("standard", 1025, -1, -1, false, NULL, &e), -1);
	assert_int_equal(check("gp4", 10, -1, -1, false, NULL, &e), -1);
}

static void test_devices_ids_types(void **state)
{
	(void)state;
	assert_true(sim_rules_device_valid("/dev/xvdaa"));
	assert_true(sim_rules_device_valid("/dev/sdf"));
	assert_true(sim_rules_device_valid("/dev/sda1"));
	assert_false(sim_rules_device_valid("/dev/nvme1n1"));
	assert_false(sim_rules_device_valid("/dev/xvdaaa"));
	assert_false(sim_rules_device_valid("/dev/xvd"));
	assert_true(sim_rules_id_valid("vol", "vol-0123456789abcdef0"));
	assert_true(sim_rules_id_valid("vol", "vol-01234567"));
	assert_false(sim_rules_id_valid("vol", "vol-0123456789ABCDEF0"));
	assert_false(sim_rules_id_valid("vol", "snap-0123456789abcdef0"));
	struct sim_instance_type_info ti;
	sim_rules_instance_type("m7i.large", &ti);
	assert_true(ti.dedicated);
	assert_int_equal(ti.max_attachments, 32);
	sim_rules_instance_type("x9.unknown", &ti);
	assert_false(ti.dedicated);
	assert_int_equal(ti.max_attachments, 27);
}

static void test_xml(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	sim_xml_begin(&b, "DeleteVolume", "req-1");
	sim_xml_bool(&b, "return", true);
	sim_xml_str(&b, "x", "a<b&\"c'\x01");
	sim_xml_str(&b, "skipped", NULL);
	sim_xml_time(&b, "t", 1210161110000LL + 724);
	sim_xml_end(&b, "DeleteVolume");
	assert_non_null(strstr(b.data, "<DeleteVolumeResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
					"<requestId>req-1</requestId><return>true</return>"));
	assert_non_null(strstr(b.data, "<x>a&lt;b&amp;&quot;c&apos;</x>"));
	assert_null(strstr(b.data, "skipped"));
	assert_non_null(strstr(b.data, "<t>2008-05-07T11:51:50.724Z</t>"));
	sim_xml_error(&b, "InvalidVolume.NotFound", "The volume 'v' does not exist.", "rid");
	assert_non_null(strstr(b.data, "<Response><Errors><Error><Code>InvalidVolume.NotFound</Code>"
					"<Message>The volume &apos;v&apos; does not exist.</Message></Error></Errors>"
					"<RequestID>rid</RequestID></Response>"));
	buf_dispose(&b);
}

static void test_bucket(void **state)
{
	(void)state;
	struct sim_bucket b;
	sim_bucket_init(&b, 3, 1, 1000);
	assert_true(sim_bucket_take(&b, 1000));
	assert_true(sim_bucket_take(&b, 1000));
	assert_true(sim_bucket_take(&b, 1000));
	assert_false(sim_bucket_take(&b, 1000));
	assert_false(sim_bucket_take(&b, 1500));
	assert_true(sim_bucket_take(&b, 2000));
	assert_false(sim_bucket_take(&b, 2000));
	assert_true(sim_bucket_take(&b, 60000));  /* refill is capped at capacity */
	assert_true(sim_bucket_take(&b, 60000));
	assert_true(sim_bucket_take(&b, 60000));
	assert_false(sim_bucket_take(&b, 60000));
}

static void test_throttle_categories(void **state)
{
	(void)state;
	double cap, refill;
	char name[96];
	struct sim_form f;
	sim_form_init(&f);
	sim_throttle_category("CreateVolume", &f, &cap, &refill, name, sizeof name);
	assert_true(cap == 100 && refill == 5);
	sim_throttle_category("CreateTags", &f, &cap, &refill, name, sizeof name);
	assert_true(cap == 100 && refill == 10);
	sim_throttle_category("AttachVolume", &f, &cap, &refill, name, sizeof name);
	assert_true(cap == 50 && refill == 5);
	sim_throttle_category("DescribeVolumes", &f, &cap, &refill, name, sizeof name);
	assert_true(cap == 50 && refill == 10);
	assert_string_equal(name, "DescribeVolumes:unfiltered");
	sim_form_add(&f, "MaxResults", "5");
	sim_throttle_category("DescribeVolumes", &f, &cap, &refill, name, sizeof name);
	assert_true(cap == 100 && refill == 20);
	assert_string_equal(name, "DescribeVolumes");
	sim_throttle_category("DescribeAvailabilityZones", NULL, &cap, &refill, name, sizeof name);
	assert_true(cap == 100 && refill == 20);
	sim_form_dispose(&f);
	struct sim_fault_config c = { 0 };
	assert_int_equal(sim_fault_parse_throttle("10/2.5", &c), 0);
	assert_int_equal(c.throttle, SIM_THROTTLE_CUSTOM);
	sim_fault_format_throttle(&c, name, sizeof name);
	assert_string_equal(name, "10/2.5");
	assert_int_equal(sim_fault_parse_throttle("aws", &c), 0);
	assert_int_equal(sim_fault_parse_throttle("10", &c), -1);
	assert_int_equal(sim_fault_parse_throttle("x/1", &c), -1);
}

static void test_paging(void **state)
{
	(void)state;
	const char *ids[] = { "a", "b", "c", "d", "e", "f", "g" };
	struct sim_form f;
	sim_form_init(&f);
	sim_form_add(&f, "MaxResults", "5");
	size_t start, end;
	char *next;
	struct sim_err e = { 0 };
	assert_int_equal(sim_query_page(ids, 7, &f, 5, 500, &start, &end, &next, &e), 0);
	assert_int_equal(start, 0);
	assert_int_equal(end, 5);
	assert_non_null(next);
	sim_form_add(&f, "NextToken", next);
	free(next);
	assert_int_equal(sim_query_page(ids, 7, &f, 5, 500, &start, &end, &next, &e), 0);
	assert_int_equal(start, 5);
	assert_int_equal(end, 7);
	assert_null(next);
	sim_form_dispose(&f);
	sim_form_init(&f);
	sim_form_add(&f, "MaxResults", "4");
	assert_int_equal(sim_query_page(ids, 7, &f, 5, 500, &start, &end, &next, &e), -1);
	sim_form_dispose(&f);
	sim_form_init(&f);
	sim_form_add(&f, "NextToken", "forged");
	assert_int_equal(sim_query_page(ids, 7, &f, 5, 500, &start, &end, &next, &e), -1);
	sim_form_dispose(&f);
	sim_form_init(&f);
	assert_int_equal(sim_query_page(ids, 7, &f, 5, 500, &start, &end, &next, &e), 0);
	assert_int_equal(end - start, 7);
	sim_form_dispose(&f);

	struct strv vals;
	strv_init(&vals);
	strv_push(&vals, "pvc-1*");
	strv_push(&vals, "exact");
	assert_true(sim_query_match(&vals, "pvc-10"));
	assert_true(sim_query_match(&vals, "exact"));
	assert_false(sim_query_match(&vals, "pvc-2"));
	assert_false(sim_query_match(&vals, NULL));
	strv_dispose(&vals);
}

static void test_config(void **state)
{
	(void)state;
	struct sim_config c;
	struct status st = STATUS_INIT;
	char *ok[] = { "sim", "--listen=127.0.0.1:0", "--region", "eu-west-1", "--instances",
		       "i-0abc:eu-west-1b:m5.large:enis=3:ebs=2,i-0def:eu-west-1a:t3.medium", "--imds-instance=i-0def",
		       "--delay-ms", "5", "--attach-delay-ms", "7", "--throttle=aws", "--fail-rate", "0.25", NULL };
	assert_int_equal(sim_config_parse(14, ok, &c, stdout, &st), 0);
	assert_int_equal(c.port, 0);
	assert_int_equal(c.n_zones, 3);
	assert_string_equal(c.zones[1].id, "euw1-az2");
	assert_int_equal(c.n_instances, 2);
	assert_int_equal(c.instances[0].n_enis, 3);
	assert_int_equal(c.instances[0].n_ebs, 2);
	assert_int_equal(c.imds_index, 1);
	assert_int_equal(c.create_delay_ms, 5);
	assert_int_equal(c.attach_delay_ms, 7);
	assert_int_equal(c.faults.throttle, SIM_THROTTLE_AWS);
	assert_true(c.faults.fail_rate == 0.25);
	sim_config_dispose(&c);

	char *unknown[] = { "sim", "--bogus", NULL };
	assert_int_equal(sim_config_parse(2, unknown, &c, stdout, &st), -1);
	assert_non_null(strstr(st.msg, "--bogus"));
	sim_config_dispose(&c);
	char *zone[] = { "sim", "--instances", "i-1:us-west-2a:m5.large", NULL };
	assert_int_equal(sim_config_parse(3, zone, &c, stdout, &st), -1);
	sim_config_dispose(&c);
	char *missing[] = { "sim", "--state-dir", NULL };
	assert_int_equal(sim_config_parse(2, missing, &c, stdout, &st), -1);
	sim_config_dispose(&c);
	char *z = sim_config_zone_id("ap-southeast-2c");
	assert_string_equal(z, "apse2-az3");
	free(z);
}

static void test_imds_token(void **state)
{
	(void)state;
	const char *key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char tok[128];
	sim_imds_token_make(key, "i-1", 1000, tok, sizeof tok);
	assert_true(sim_imds_token_valid(key, "i-1", tok, 999));
	assert_true(sim_imds_token_valid(key, "i-1", tok, 1000));
	assert_false(sim_imds_token_valid(key, "i-1", tok, 1001));
	assert_false(sim_imds_token_valid(key, "i-2", tok, 999));
	tok[strlen(tok) - 1] ^= 1;
	assert_false(sim_imds_token_valid(key, "i-1", tok, 999));
	assert_false(sim_imds_token_valid(key, "i-1", "garbage", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_volume_rules),
		cmocka_unit_test(test_devices_ids_types),
		cmocka_unit_test(test_xml),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_throttle_categories),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_imds_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
