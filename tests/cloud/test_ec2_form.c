/*
 * test_ec2_form: the EC2 Query form encoder against exact bodies — the bodies
 * botocore sends (aws-facts.md §1.1 [WIRE]) re-encoded the RFC 3986 way (space
 * as %20 instead of '+'), every list-flattening helper, the encoding of every
 * byte, and the "send only when set" helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/ec2_form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_create_volume_wire(void **state)
{
	(void)state;
	/* The [WIRE] CreateVolume capture, member for member. */
	struct cloud_tags tags;
	cloud_tags_init(&tags);
	cloud_tags_set(&tags, "CSIVolumeName", "pvc-1");
	cloud_tags_set(&tags, "kubernetes.io/cluster/x", "owned");
	struct ec2_form f;
	ec2_form_init(&f, "CreateVolume");
	ec2_form_add(&f, "AvailabilityZone", "us-west-2a");
	ec2_form_add_int(&f, "Size", 10);
	ec2_form_add(&f, "VolumeType", "gp3");
	ec2_form_add_int(&f, "Iops", 3000);
	ec2_form_add_int(&f, "Throughput", 125);
	ec2_form_add_bool(&f, "Encrypted", true);
	ec2_form_add(&f, "ClientToken", "tok-123");
	ec2_form_add_bool(&f, "MultiAttachEnabled", false);
	ec2_form_tag_spec(&f, "volume", &tags);
	assert_string_equal(ec2_form_body(&f),
			    "Action=CreateVolume&Version=2016-11-15&AvailabilityZone=us-west-2a&Size=10&VolumeType=gp3"
			    "&Iops=3000&Throughput=125&Encrypted=true&ClientToken=tok-123&MultiAttachEnabled=false"
			    "&TagSpecification.1.ResourceType=volume&TagSpecification.1.Tag.1.Key=CSIVolumeName"
			    "&TagSpecification.1.Tag.1.Value=pvc-1&TagSpecification.1.Tag.2.Key=kubernetes.io%2Fcluster%2Fx"
			    "&TagSpecification.1.Tag.2.Value=owned");
	assert_int_equal(ec2_form_len(&f), strlen(ec2_form_body(&f)));
	ec2_form_dispose(&f);
	cloud_tags_dispose(&tags);
}

static void test_describe_volumes_wire(void **state)
{
	(void)state;
	struct ec2_form f;
	ec2_form_init(&f, "DescribeVolumes");
	static const char *const names[] = { "pvc-1", "pvc 2" };
	ec2_form_filter(&f, "tag:CSIVolumeName", names, 2);
	ec2_form_filter1(&f, "status", "available");
	ec2_form_add_int(&f, "MaxResults", 500);
	/* botocore writes "pvc+2"; RFC 3986 writes %20 — both decode the same. */
	assert_string_equal(ec2_form_body(&f),
			    "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3ACSIVolumeName"
			    "&Filter.1.Value.1=pvc-1&Filter.1.Value.2=pvc%202&Filter.2.Name=status"
			    "&Filter.2.Value.1=available&MaxResults=500");
	ec2_form_dispose(&f);

	ec2_form_init(&f, "DescribeVolumes");
	static const char *const ids[] = { "vol-0123456789abcdef0", "vol-0fedcba9876543210" };
	ec2_form_add_list(&f, "VolumeId", ids, 2);
	char *body = ec2_form_take(&f);
	assert_string_equal(body, "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-0123456789abcdef0"
				  "&VolumeId.2=vol-0fedcba9876543210");
	free(body);
}

static void test_tags_wire(void **state)
{
	(void)state;
	struct ec2_form f;
	ec2_form_init(&f, "DeleteTags");
	static const char *const res[] = { "vol-1" };
	static const char *const keys[] = { "a" };
	ec2_form_add_list(&f, "ResourceId", res, 1);
	ec2_form_tag_keys(&f, keys, 1);
	assert_string_equal(ec2_form_body(&f), "Action=DeleteTags&Version=2016-11-15&ResourceId.1=vol-1&Tag.1.Key=a");
	ec2_form_dispose(&f);

	/* CreateTags: a tag with no value sends "Tag.N.Value=". */
	struct cloud_tags tags;
	cloud_tags_init(&tags);
	cloud_tags_set(&tags, "k1", "v 1");
	cloud_tags_set(&tags, "flag", NULL);
	ec2_form_init(&f, "CreateTags");
	ec2_form_add_list(&f, "ResourceId", res, 1);
	ec2_form_tags(&f, &tags);
	assert_string_equal(ec2_form_body(&f), "Action=CreateTags&Version=2016-11-15&ResourceId.1=vol-1&Tag.1.Key=k1"
					       "&Tag.1.Value=v%201&Tag.2.Key=flag&Tag.2.Value=");
	ec2_form_dispose(&f);
	cloud_tags_dispose(&tags);
}

static void test_other_wire_bodies(void **state)
{
	(void)state;
	struct ec2_form f;
	ec2_form_init(&f, "DescribeInstanceTypes");
	static const char *const types[] = { "m5.large" };
	ec2_form_add_list(&f, "InstanceType", types, 1);
	assert_string_equal(ec2_form_body(&f), "Action=DescribeInstanceTypes&Version=2016-11-15&InstanceType.1=m5.large");
	ec2_form_dispose(&f);

	ec2_form_init(&f, "EnableFastSnapshotRestores");
	static const char *const zones[] = { "us-west-2a" };
	static const char *const snaps[] = { "snap-1" };
	ec2_form_add_list(&f, "AvailabilityZone", zones, 1);
	ec2_form_add_list(&f, "SourceSnapshotId", snaps, 1);
	assert_string_equal(ec2_form_body(&f), "Action=EnableFastSnapshotRestores&Version=2016-11-15"
					       "&AvailabilityZone.1=us-west-2a&SourceSnapshotId.1=snap-1");
	ec2_form_dispose(&f);

	ec2_form_init(&f, "DescribeAvailabilityZones");
	ec2_form_add_bool(&f, "DryRun", true);
	assert_string_equal(ec2_form_body(&f), "Action=DescribeAvailabilityZones&Version=2016-11-15&DryRun=true");
	ec2_form_dispose(&f);
}

static void test_empty_lists_send_nothing(void **state)
{
	(void)state;
	struct ec2_form f;
	ec2_form_init(&f, "DescribeSnapshots");
	ec2_form_add_list(&f, "SnapshotId", NULL, 0);
	ec2_form_filter(&f, "volume-id", NULL, 0);  /* skipped, and does not use up Filter.1 */
	ec2_form_filter1(&f, "volume-id", "vol-1");
	struct cloud_tags empty;
	cloud_tags_init(&empty);
	ec2_form_tag_spec(&f, "snapshot", &empty);
	ec2_form_tag_spec(&f, "snapshot", NULL);
	ec2_form_tags(&f, NULL);
	ec2_form_tag_keys(&f, NULL, 0);
	ec2_form_add(&f, "NextToken", NULL);
	assert_string_equal(ec2_form_body(&f),
			    "Action=DescribeSnapshots&Version=2016-11-15&Filter.1.Name=volume-id&Filter.1.Value.1=vol-1");
	ec2_form_dispose(&f);
}

static void test_two_tag_specs(void **state)
{
	(void)state;
	struct cloud_tags a, b;
	cloud_tags_init(&a);
	cloud_tags_init(&b);
	cloud_tags_set(&a, "x", "1");
	cloud_tags_set(&b, "y", "2");
	cloud_tags_set(&b, "x", "3");
	cloud_tags_set(&b, "y", "4");  /* replaces: a key is never sent twice */
	struct ec2_form f;
	ec2_form_init(&f, "CopyVolumes");
	ec2_form_tag_spec(&f, "volume", &a);
	ec2_form_tag_spec(&f, "volume-attachment", &b);
	assert_string_equal(ec2_form_body(&f),
			    "Action=CopyVolumes&Version=2016-11-15&TagSpecification.1.ResourceType=volume"
			    "&TagSpecification.1.Tag.1.Key=x&TagSpecification.1.Tag.1.Value=1"
			    "&TagSpecification.2.ResourceType=volume-attachment&TagSpecification.2.Tag.1.Key=y"
			    "&TagSpecification.2.Tag.1.Value=4&TagSpecification.2.Tag.2.Key=x"
			    "&TagSpecification.2.Tag.2.Value=3");
	ec2_form_dispose(&f);
	cloud_tags_dispose(&a);
	cloud_tags_dispose(&b);
}

static void test_optional_helpers(void **state)
{
	(void)state;
	struct ec2_form f;
	ec2_form_init(&f, "ModifyVolume");
	ec2_form_add(&f, "VolumeId", "vol-1");
	ec2_form_opt_int(&f, "Size", 0);
	ec2_form_opt_int(&f, "Iops", 16000);
	ec2_form_opt(&f, "VolumeType", NULL);
	ec2_form_opt(&f, "KmsKeyId", "");
	ec2_form_opt(&f, "OutpostArn", "arn:aws:outposts:us-east-1:1:outpost/op-1");
	ec2_form_opt_true(&f, "MultiAttachEnabled", false);
	ec2_form_opt_true(&f, "DryRun", true);
	ec2_form_add_int(&f, "Neg", -5);
	ec2_form_add_int(&f, "Big", INT64_MAX);
	assert_string_equal(ec2_form_body(&f),
			    "Action=ModifyVolume&Version=2016-11-15&VolumeId=vol-1&Iops=16000"
			    "&OutpostArn=arn%3Aaws%3Aoutposts%3Aus-east-1%3A1%3Aoutpost%2Fop-1&DryRun=true&Neg=-5"
			    "&Big=9223372036854775807");
	ec2_form_dispose(&f);
}

static void test_encoding(void **state)
{
	(void)state;
	/* Every byte 1..255: unreserved as is, the rest %XX upper-case. */
	char all[256];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	struct buf b;
	buf_init(&b);
	ec2_form_encode(&b, all);
	size_t pos = 0;
	for (int i = 1; i < 256; i++) {
		bool keep = (i >= 'A' && i <= 'Z') || (i >= 'a' && i <= 'z') || (i >= '0' && i <= '9') || i == '-' ||
			    i == '_' || i == '.' || i == '~';
		if (keep) {
			assert_int_equal((unsigned char)b.data[pos], i);
			pos++;
		} else {
			char want[4];
			snprintf(want, sizeof want, "%%%02X", i);
			assert_memory_equal(b.data + pos, want, 3);
			pos += 3;
		}
	}
	assert_int_equal(pos, b.len);
	buf_reset(&b);
	ec2_form_encode(&b, "a+b=c&d/é ~");
	assert_string_equal(b.data, "a%2Bb%3Dc%26d%2F%C3%A9%20~");
	buf_dispose(&b);

	/* Keys are encoded as well (a filter on a tag key with a space). */
	struct ec2_form f;
	ec2_form_init(&f, "DescribeVolumes");
	ec2_form_filter1(&f, "tag:my key", "v&1");
	assert_string_equal(ec2_form_body(&f),
			    "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3Amy%20key&Filter.1.Value.1=v%261");
	ec2_form_dispose(&f);
}

static void test_many_filters_and_values(void **state)
{
	(void)state;
	struct ec2_form f;
	ec2_form_init(&f, "DescribeVolumes");
	const char *vals[12];
	char store[12][16];
	for (int i = 0; i < 12; i++) {
		snprintf(store[i], sizeof store[i], "v%d", i + 1);
		vals[i] = store[i];
	}
	for (int i = 0; i < 11; i++)
		ec2_form_filter(&f, "n", vals, (size_t)(i + 2));
	const char *body = ec2_form_body(&f);
	assert_non_null(strstr(body, "&Filter.11.Name=n&Filter.11.Value.1=v1&"));
	assert_non_null(strstr(body, "&Filter.11.Value.12=v12"));
	assert_null(strstr(body, "Filter.12"));
	assert_non_null(strstr(body, "&Filter.10.Value.11=v11&Filter.11.Name"));
	ec2_form_dispose(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_volume_wire),
		cmocka_unit_test(test_describe_volumes_wire),
		cmocka_unit_test(test_tags_wire),
		cmocka_unit_test(test_other_wire_bodies),
		cmocka_unit_test(test_empty_lists_send_nothing),
		cmocka_unit_test(test_two_tag_specs),
		cmocka_unit_test(test_optional_helpers),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_many_filters_and_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
