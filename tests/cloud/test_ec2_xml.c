/*
 * test_ec2_xml: every EC2 response parser on its fixture (tests/fixtures/ec2),
 * field by field; error documents under HTTP 200 and non-2xx; and hostile
 * input — truncated at every byte, garbage, wrong root, DTD/entities, deep
 * nesting, huge text, bad numbers — which must fail cleanly (ASan watches).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/ec2_xml.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "tests/cloud/helper_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/fixtures/ec2/"

static char *load(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof path, FIX "%s", name);
	char *s = helper_read_file(path, len);
	if (s == NULL)
		fail_msg("cannot read %s (run from the repository root)", path);
	return s;
}

#define assert_str(a, b) assert_string_equal((a) ? (a) : "(null)", (b))

/* ---- one fixture per action ----------------------------------------------- */

static void test_create_volume(void **state)
{
	(void)state;
	size_t len;
	char *body = load("CreateVolume.xml", &len);
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_create_volume(body, len, &d, &st), 0);
	assert_str(d.volume_id, "vol-1234567890abcdef0");
	assert_int_equal(d.size_gib, 80);
	assert_str(d.snapshot_id, "");
	assert_null(d.source_volume_id);
	assert_str(d.zone, "us-east-1a");
	assert_str(d.zone_id, "use1-az1");
	assert_int_equal(d.state, CLOUD_DISK_CREATING);
	assert_int_equal(d.create_time_ms, 1472496752724LL);
	assert_str(d.volume_type, "gp3");
	assert_int_equal(d.iops, 3000);
	assert_int_equal(d.throughput, 125);
	assert_true(d.encrypted);
	assert_str(d.kms_key_id, "arn:aws:kms:us-east-1:123456789012:key/abcd1234-a123-456a-a12b-a123b4cd56ef");
	assert_false(d.multi_attach);
	assert_false(d.fast_restored);
	assert_null(d.outpost_arn);
	assert_int_equal(d.n_attachments, 0);
	assert_int_equal(d.tags.n, 3);
	assert_str(cloud_tags_get(&d.tags, "CSIVolumeName"), "pvc-1");
	assert_str(cloud_tags_get(&d.tags, "ebs.csi.aws.com/cluster"), "true");
	/* value before key in the fixture */
	assert_str(cloud_tags_get(&d.tags, "kubernetes.io/cluster/demo"), "owned");
	cloud_disk_dispose(&d);
	free(body);
}

static void test_describe_volumes(void **state)
{
	(void)state;
	size_t len;
	char *body = load("DescribeVolumes.xml", &len);
	struct cloud_disk_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_volumes(body, len, &l, &st), 0);
	assert_int_equal(l.n, 2);
	assert_str(l.next_token, "eyJ2IjoyLCJjIjoibmV4dCJ9");

	const struct cloud_disk *a = &l.v[0];
	assert_str(a->volume_id, "vol-0aaaaaaaaaaaaaaa1");
	assert_int_equal(a->size_gib, 100);
	assert_str(a->snapshot_id, "snap-0bbbbbbbbbbbbbbb1");
	assert_str(a->zone, "us-west-2b");
	assert_str(a->zone_id, "usw2-az2");
	assert_int_equal(a->state, CLOUD_DISK_IN_USE);
	assert_int_equal(a->create_time_ms, 1704164645006LL);
	assert_str(a->volume_type, "io2");
	assert_int_equal(a->iops, 64000);
	assert_int_equal(a->throughput, 0);
	assert_false(a->encrypted);
	assert_null(a->kms_key_id);
	assert_true(a->multi_attach);
	assert_true(a->fast_restored);
	assert_str(a->outpost_arn, "arn:aws:outposts:us-west-2:123456789012:outpost/op-0123456789abcdef0");
	assert_int_equal(a->tags.n, 2);
	assert_str(cloud_tags_get(&a->tags, "CSIVolumeName"), "pvc-aaa");
	assert_str(cloud_tags_get(&a->tags, "empty"), "");
	/* The attachment items must not become volumes, nor overwrite the
	 * volume's own volumeId/status. */
	assert_int_equal(a->n_attachments, 2);
	assert_str(a->attachments[0].volume_id, "vol-0aaaaaaaaaaaaaaa1");
	assert_str(a->attachments[0].instance_id, "i-0ccccccccccccccc1");
	assert_str(a->attachments[0].device, "/dev/xvdab");
	assert_int_equal(a->attachments[0].state, CLOUD_ATTACH_ATTACHED);
	assert_int_equal(a->attachments[0].attach_time_ms, 1704164700000LL);
	assert_false(a->attachments[0].delete_on_termination);
	assert_str(a->attachments[1].instance_id, "i-0ccccccccccccccc2");
	assert_str(a->attachments[1].device, "/dev/xvdac");
	assert_int_equal(a->attachments[1].state, CLOUD_ATTACH_ATTACHING);
	assert_int_equal(a->attachments[1].attach_time_ms, 1704164760000LL);
	assert_non_null(cloud_disk_attachment_for(a, "i-0ccccccccccccccc2"));
	assert_null(cloud_disk_attachment_for(a, "i-nope"));

	/* An item named <member>: lists are read by position, not by name. */
	const struct cloud_disk *b = &l.v[1];
	assert_str(b->volume_id, "vol-0aaaaaaaaaaaaaaa2");
	assert_int_equal(b->size_gib, 4);
	assert_str(b->snapshot_id, "");
	assert_str(b->source_volume_id, "vol-0aaaaaaaaaaaaaaa1");
	assert_str(b->zone, "us-west-2a");
	assert_null(b->zone_id);
	assert_int_equal(b->state, CLOUD_DISK_AVAILABLE);
	assert_int_equal(b->create_time_ms, 1704164645000LL);
	assert_str(b->volume_type, "gp3");
	assert_int_equal(b->iops, 3000);
	assert_int_equal(b->throughput, 250);
	assert_true(b->encrypted);
	assert_str(b->kms_key_id, "arn:aws:kms:us-west-2:123456789012:key/k2");
	assert_false(b->multi_attach);
	assert_int_equal(b->n_attachments, 0);
	assert_int_equal(b->tags.n, 0);
	cloud_disk_list_dispose(&l);
	free(body);

	body = load("DescribeVolumes-empty.xml", &len);
	assert_int_equal(ec2_xml_describe_volumes(body, len, &l, &st), 0);
	assert_int_equal(l.n, 0);
	assert_null(l.next_token);  /* an empty <nextToken/> is the last page */
	cloud_disk_list_dispose(&l);
	free(body);
}

static void test_copy_volumes(void **state)
{
	(void)state;
	size_t len;
	char *body = load("CopyVolumes.xml", &len);
	struct cloud_disk_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_copy_volumes(body, len, &l, &st), 0);
	assert_int_equal(l.n, 1);
	assert_null(l.next_token);
	const struct cloud_disk *d = &l.v[0];
	assert_str(d->volume_id, "vol-0ddddddddddddddd1");
	assert_str(d->source_volume_id, "vol-0aaaaaaaaaaaaaaa2");
	assert_int_equal(d->size_gib, 8);
	assert_str(d->zone, "us-west-2a");
	assert_str(d->zone_id, "usw2-az1");
	assert_int_equal(d->state, CLOUD_DISK_CREATING);
	assert_int_equal(d->create_time_ms, 1748736000500LL);
	assert_str(d->volume_type, "gp3");
	assert_int_equal(d->iops, 4000);
	assert_int_equal(d->throughput, 200);
	assert_true(d->encrypted);
	assert_str(d->kms_key_id, "arn:aws:kms:us-west-2:123456789012:key/k2");
	assert_str(cloud_tags_get(&d->tags, "CSIVolumeName"), "pvc-clone");
	cloud_disk_list_dispose(&l);
	free(body);
}

static void test_attach_detach(void **state)
{
	(void)state;
	size_t len;
	struct status st = STATUS_INIT;
	struct cloud_attachment a;
	char *body = load("AttachVolume.xml", &len);
	assert_int_equal(ec2_xml_attachment("AttachVolume", body, len, &a, &st), 0);
	assert_str(a.volume_id, "vol-1234567890abcdef0");
	assert_str(a.instance_id, "i-1234567890abcdef0");
	assert_str(a.device, "/dev/xvdaa");
	assert_int_equal(a.state, CLOUD_ATTACH_ATTACHING);
	assert_int_equal(a.attach_time_ms, 1472496752724LL);
	assert_false(a.delete_on_termination);
	cloud_attachment_dispose(&a);
	free(body);

	body = load("DetachVolume.xml", &len);
	assert_int_equal(ec2_xml_attachment("DetachVolume", body, len, &a, &st), 0);
	assert_str(a.volume_id, "vol-1234567890abcdef0");
	assert_str(a.instance_id, "i-1234567890abcdef0");
	assert_str(a.device, "/dev/xvdaa");
	assert_int_equal(a.state, CLOUD_ATTACH_DETACHING);
	assert_int_equal(a.attach_time_ms, 1472496752000LL);
	assert_true(a.delete_on_termination);
	cloud_attachment_dispose(&a);

	/* The action name must match the root element. */
	assert_int_equal(ec2_xml_attachment("AttachVolume", body, len, &a, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "AttachVolume"));
	assert_non_null(strstr(st.msg, "DetachVolumeResponse"));
	cloud_attachment_dispose(&a);
	free(body);
}

static void test_return_actions(void **state)
{
	(void)state;
	static const char *const actions[] = { "DeleteVolume", "DeleteSnapshot", "CreateTags", "DeleteTags" };
	for (size_t i = 0; i < 4; i++) {
		char name[64];
		snprintf(name, sizeof name, "%s.xml", actions[i]);
		size_t len;
		char *body = load(name, &len);
		struct status st = STATUS_INIT;
		assert_int_equal(ec2_xml_return(actions[i], body, len, &st), 0);
		free(body);
	}
	struct status st = STATUS_INIT;
	const char *no_return = "<DeleteVolumeResponse><requestId>x</requestId></DeleteVolumeResponse>";
	assert_int_equal(ec2_xml_return("DeleteVolume", no_return, strlen(no_return), &st), 0);
	const char *false_return = "<DeleteVolumeResponse><return>false</return></DeleteVolumeResponse>";
	assert_int_equal(ec2_xml_return("DeleteVolume", false_return, strlen(false_return), &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "DeleteVolume"));
}

static void test_describe_instances(void **state)
{
	(void)state;
	size_t len;
	char *body = load("DescribeInstances.xml", &len);
	struct cloud_instance_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_instances(body, len, &l, &st), 0);
	assert_int_equal(l.n, 2);
	assert_null(l.next_token);
	const struct cloud_instance *in = &l.v[0];
	assert_str(in->instance_id, "i-1234567890abcdef0");
	assert_str(in->instance_type, "m5.xlarge");
	assert_str(in->zone, "eu-west-1c");
	assert_str(in->zone_id, "euw1-az3");
	assert_str(in->state, "running");
	assert_str(in->root_device_name, "/dev/xvda");
	assert_str(in->hypervisor, "xen");
	assert_str(in->outpost_arn, "arn:aws:outposts:eu-west-1:123456789012:outpost/op-1");
	assert_int_equal(in->n_devices, 2);
	assert_str(in->devices[0].device_name, "/dev/xvda");
	assert_str(in->devices[0].volume_id, "vol-1234567890abcdef0");
	assert_int_equal(in->devices[0].state, CLOUD_ATTACH_ATTACHED);
	assert_str(in->devices[1].device_name, "/dev/xvdaa");
	assert_str(in->devices[1].volume_id, "vol-0aaaaaaaaaaaaaaa1");
	assert_int_equal(in->devices[1].state, CLOUD_ATTACH_ATTACHING);
	/* Two ENIs; the nested groupSet and address items are not ENIs. */
	assert_int_equal(in->n_network_interfaces, 2);
	assert_int_equal(in->tags.n, 1);
	assert_str(cloud_tags_get(&in->tags, "Name"), "node-1");

	const struct cloud_instance *b = &l.v[1];
	assert_str(b->instance_id, "i-0000000000000002");
	assert_str(b->instance_type, "t3.micro");
	assert_str(b->state, "stopped");
	assert_str(b->zone, "eu-west-1a");
	assert_null(b->zone_id);
	assert_int_equal(b->n_devices, 0);
	assert_int_equal(b->n_network_interfaces, 0);
	cloud_instance_list_dispose(&l);
	free(body);
}

static void test_describe_instance_types(void **state)
{
	(void)state;
	size_t len;
	char *body = load("DescribeInstanceTypes.xml", &len);
	struct cloud_instance_type_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_instance_types(body, len, &l, &st), 0);
	assert_int_equal(l.n, 2);
	assert_str(l.next_token, "types-page-2");
	assert_str(l.v[0].instance_type, "m5.large");
	assert_str(l.v[0].hypervisor, "nitro");
	assert_false(l.v[0].bare_metal);
	assert_str(l.v[0].nvme_support, "required");
	assert_int_equal(l.v[0].max_ebs_attachments, 28);
	assert_str(l.v[0].attachment_limit_type, "shared");
	assert_int_equal(l.v[0].max_ebs_cards, 1);
	/* networkInfo/networkCards/item/maximumNetworkInterfaces is not this one. */
	assert_int_equal(l.v[0].max_network_interfaces, 3);
	assert_str(l.v[1].instance_type, "m4.large");
	assert_str(l.v[1].hypervisor, "xen");
	assert_str(l.v[1].nvme_support, "unsupported");
	assert_int_equal(l.v[1].max_ebs_attachments, 0);
	assert_null(l.v[1].attachment_limit_type);
	assert_int_equal(l.v[1].max_network_interfaces, 2);
	cloud_instance_type_list_dispose(&l);
	free(body);
}

static void test_describe_availability_zones(void **state)
{
	(void)state;
	size_t len;
	char *body = load("DescribeAvailabilityZones.xml", &len);
	struct cloud_zone_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_availability_zones(body, len, &l, &st), 0);
	assert_int_equal(l.n, 2);
	assert_str(l.v[0].name, "us-east-1a");
	assert_str(l.v[0].zone_id, "use1-az6");
	assert_str(l.v[0].state, "available");
	assert_str(l.v[0].region, "us-east-1");
	assert_str(l.v[0].zone_type, "availability-zone");
	assert_str(l.v[1].name, "us-east-1-bos-1a");
	assert_str(l.v[1].zone_id, "use1-bos1-az1");
	assert_str(l.v[1].state, "impaired");
	assert_str(l.v[1].zone_type, "local-zone");
	assert_ptr_equal(cloud_zone_list_find(&l, "use1-az6"), &l.v[0]);
	assert_ptr_equal(cloud_zone_list_find(&l, "us-east-1-bos-1a"), &l.v[1]);
	assert_null(cloud_zone_list_find(&l, "us-east-1q"));
	cloud_zone_list_dispose(&l);
	free(body);
}

static void test_create_snapshot(void **state)
{
	(void)state;
	size_t len;
	char *body = load("CreateSnapshot.xml", &len);
	struct cloud_snapshot s;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_create_snapshot(body, len, &s, &st), 0);
	assert_str(s.snapshot_id, "snap-01234567890abcdef");
	assert_str(s.volume_id, "vol-1234567890abcdef0");
	assert_int_equal(s.state, CLOUD_SNAPSHOT_PENDING);
	assert_null(s.status_message);
	assert_int_equal(s.start_time_ms, 1472496752724LL);
	assert_int_equal(s.progress_percent, 60);
	assert_str(s.owner_id, "123456789012");
	assert_int_equal(s.volume_size_gib, 8);
	assert_str(s.description, "Created by AWS EBS CSI driver for volume vol-1234567890abcdef0");
	assert_false(s.encrypted);
	assert_null(s.kms_key_id);
	assert_null(s.outpost_arn);
	assert_str(s.storage_tier, "standard");
	assert_int_equal(s.tags.n, 1);
	assert_str(cloud_tags_get(&s.tags, "CSIVolumeSnapshotName"), "snapshot-1");
	cloud_snapshot_dispose(&s);
	free(body);
}

static void test_describe_snapshots(void **state)
{
	(void)state;
	size_t len;
	char *body = load("DescribeSnapshots.xml", &len);
	struct cloud_snapshot_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_snapshots(body, len, &l, &st), 0);
	assert_int_equal(l.n, 2);
	assert_str(l.next_token, "snap-page-2");
	const struct cloud_snapshot *a = &l.v[0];
	assert_str(a->snapshot_id, "snap-1");
	assert_str(a->volume_id, "vol-1");
	assert_int_equal(a->state, CLOUD_SNAPSHOT_COMPLETED);
	assert_int_equal(a->start_time_ms, 1583020799999LL);
	assert_int_equal(a->progress_percent, 100);
	assert_str(a->owner_id, "123456789012");
	assert_int_equal(a->volume_size_gib, 30);
	assert_str(a->description, "d1");
	assert_true(a->encrypted);
	assert_str(a->kms_key_id, "arn:aws:kms:us-east-1:123456789012:key/k1");
	assert_int_equal(a->tags.n, 2);
	assert_str(cloud_tags_get(&a->tags, "CSIVolumeSnapshotName"), "snapshot-a");
	assert_str(cloud_tags_get(&a->tags, "ebs.csi.aws.com/cluster"), "true");
	const struct cloud_snapshot *b = &l.v[1];
	assert_str(b->snapshot_id, "snap-2");
	assert_str(b->volume_id, "vol-2");
	assert_int_equal(b->state, CLOUD_SNAPSHOT_ERROR);
	assert_str(b->status_message, "Client.InternalError");
	assert_int_equal(b->start_time_ms, 1614556800000LL);
	assert_int_equal(b->progress_percent, -1);  /* <progress/> = absent */
	assert_null(b->owner_id);
	assert_int_equal(b->volume_size_gib, 1);
	assert_false(b->encrypted);
	assert_str(b->outpost_arn, "arn:aws:outposts:us-east-1:123456789012:outpost/op-2");
	assert_int_equal(b->tags.n, 0);
	cloud_snapshot_list_dispose(&l);
	free(body);
}

static void test_modify_volume(void **state)
{
	(void)state;
	size_t len;
	char *body = load("ModifyVolume.xml", &len);
	struct cloud_modification m;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_modify_volume(body, len, &m, &st), 0);
	assert_str(m.volume_id, "vol-0123456789EXAMPLE");
	assert_int_equal(m.state, CLOUD_MOD_MODIFYING);
	assert_null(m.status_message);
	assert_int_equal(m.target_size_gib, 200);
	assert_int_equal(m.target_iops, 10000);
	assert_str(m.target_type, "io1");
	assert_int_equal(m.target_throughput, 0);
	assert_false(m.target_multi_attach);
	assert_int_equal(m.original_size_gib, 100);
	assert_int_equal(m.original_iops, 300);
	assert_str(m.original_type, "gp2");
	assert_int_equal(m.original_throughput, 0);
	assert_int_equal(m.progress, 0);
	assert_int_equal(m.start_time_ms, 1484864462959LL);
	assert_int_equal(m.end_time_ms, 0);
	cloud_modification_dispose(&m);
	free(body);
}

static void test_describe_volumes_modifications(void **state)
{
	(void)state;
	size_t len;
	char *body = load("DescribeVolumesModifications.xml", &len);
	struct cloud_modification_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_volumes_modifications(body, len, &l, &st), 0);
	assert_int_equal(l.n, 2);
	assert_null(l.next_token);
	assert_str(l.v[0].volume_id, "vol-0123456789EXAMPLE");
	assert_int_equal(l.v[0].state, CLOUD_MOD_OPTIMIZING);
	assert_str(l.v[0].status_message, "");
	assert_int_equal(l.v[0].target_size_gib, 200);
	assert_int_equal(l.v[0].target_iops, 10000);
	assert_str(l.v[0].target_type, "io1");
	assert_int_equal(l.v[0].original_size_gib, 100);
	assert_int_equal(l.v[0].original_iops, 300);
	assert_str(l.v[0].original_type, "gp2");
	assert_int_equal(l.v[0].progress, 40);
	assert_int_equal(l.v[0].start_time_ms, 1484864462959LL);
	assert_str(l.v[1].volume_id, "vol-2");
	assert_int_equal(l.v[1].state, CLOUD_MOD_FAILED);
	assert_str(l.v[1].status_message, "Volume type io1 is not supported in this zone");
	assert_int_equal(l.v[1].target_size_gib, 10);
	assert_int_equal(l.v[1].progress, 100);
	assert_int_equal(l.v[1].start_time_ms, 1484864462000LL);
	assert_int_equal(l.v[1].end_time_ms, 1484865062001LL);
	cloud_modification_list_dispose(&l);
	free(body);
}

static void test_describe_volume_status(void **state)
{
	(void)state;
	size_t len;
	char *body = load("DescribeVolumeStatus.xml", &len);
	struct cloud_volume_status_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_volume_status(body, len, &l, &st), 0);
	assert_int_equal(l.n, 2);
	assert_str(l.v[0].volume_id, "vol-1");
	assert_str(l.v[0].zone, "us-east-1a");
	assert_str(l.v[0].status, "ok");
	assert_true(l.v[0].initializing);
	assert_str(l.v[0].initialization_type, "provisioned-rate");
	assert_int_equal(l.v[0].initialization_progress, 25);
	assert_int_equal(l.v[0].initialization_eta_s, 600);
	assert_str(l.v[1].volume_id, "vol-2");
	assert_str(l.v[1].zone, "us-east-1b");
	assert_str(l.v[1].status, "impaired");
	assert_false(l.v[1].initializing);
	assert_null(l.v[1].initialization_type);
	assert_int_equal(l.v[1].initialization_progress, -1);
	assert_int_equal(l.v[1].initialization_eta_s, -1);
	cloud_volume_status_list_dispose(&l);
	free(body);
}

static void test_enable_fsr(void **state)
{
	(void)state;
	size_t len;
	char *body = load("EnableFastSnapshotRestores.xml", &len);
	struct cloud_fsr_result r;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_enable_fsr(body, len, &r, &st), 0);
	assert_int_equal(r.n_ok, 1);
	assert_str(r.ok[0].snapshot_id, "snap-1");
	assert_str(r.ok[0].zone, "us-east-1a");
	assert_str(r.ok[0].zone_id, "use1-az1");
	assert_str(r.ok[0].state, "enabling");
	assert_null(r.ok[0].error_code);
	/* Two zone errors of snap-1 (its id after the set) and a bare snap-9. */
	assert_int_equal(r.n_failed, 3);
	assert_str(r.failed[0].snapshot_id, "snap-1");
	assert_str(r.failed[0].zone, "us-east-1z");
	assert_str(r.failed[0].error_code, "InvalidAvailabilityZone");
	assert_str(r.failed[0].error_message, "The zone us-east-1z does not exist");
	assert_str(r.failed[1].snapshot_id, "snap-1");
	assert_str(r.failed[1].zone, "us-east-1b");
	assert_str(r.failed[1].error_code, "FastSnapshotRestoreLimitExceeded");
	assert_str(r.failed[1].error_message, "limit");
	assert_str(r.failed[2].snapshot_id, "snap-9");
	assert_null(r.failed[2].zone);
	assert_null(r.failed[2].error_code);
	cloud_fsr_result_dispose(&r);
	free(body);
}

/* ---- error documents ---------------------------------------------------------- */

static void test_error_body_under_200(void **state)
{
	(void)state;
	size_t len;
	char *body = load("error-InvalidVolume.NotFound.xml", &len);
	struct cloud_disk_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_volumes(body, len, &l, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_non_null(strstr(st.msg, "DescribeVolumes"));
	assert_non_null(strstr(st.msg, "InvalidVolume.NotFound"));
	assert_non_null(strstr(st.msg, "ea966190-f9aa-478e-9ede-example"));
	assert_int_equal(l.n, 0);
	cloud_disk_list_dispose(&l);
	free(body);

	body = load("error-DryRunOperation.xml", &len);
	struct cloud_zone_list z;
	status_set(&st, STATUS_INTERNAL, "stale");
	assert_int_equal(ec2_xml_describe_availability_zones(body, len, &z, &st), 0);
	assert_int_equal(st.code, STATUS_OK);
	assert_int_equal(z.n, 0);
	cloud_zone_list_dispose(&z);
	free(body);
}

static void test_error_non_2xx(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		int http;
		int code;
		const char *needle;
	} cases[] = {
		{ "error-InvalidVolume.NotFound.xml", 400, STATUS_NOT_FOUND, "InvalidVolume.NotFound" },
		{ "error-RequestLimitExceeded.xml", 503, STATUS_UNAVAILABLE, "RequestLimitExceeded" },
		{ "error-IdempotentParameterMismatch.xml", 400, STATUS_ALREADY_EXISTS, "IdempotentParameterMismatch" },
		{ "error-UnauthorizedOperation.xml", 403, STATUS_PERMISSION_DENIED, "UnauthorizedOperation" },
		{ "error-html-503.html", 503, STATUS_UNAVAILABLE, "HTTP 503 without an EC2 error body" },
		{ "error-html-503.html", 400, STATUS_INVALID_ARGUMENT, "HTTP 400" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		char *body = load(cases[i].file, &len);
		struct status st = STATUS_INIT;
		assert_int_equal(ec2_xml_error("CreateVolume", cases[i].http, body, len, &st), -1);
		assert_int_equal(st.code, cases[i].code);
		assert_non_null(strstr(st.msg, "CreateVolume"));
		assert_non_null(strstr(st.msg, cases[i].needle));
		free(body);
	}
	size_t len;
	char *body = load("error-DryRunOperation.xml", &len);
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_error("DescribeAvailabilityZones", 412, body, len, &st), 0);
	assert_int_equal(st.code, STATUS_OK);
	free(body);
	assert_int_equal(ec2_xml_error("DeleteVolume", 500, NULL, 0, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
}

/* ---- hostile input ---------------------------------------------------------------- */

/* Every prefix of every fixture must either fail cleanly with INTERNAL naming
 * the action, or (only the whole document) succeed. */
static void test_truncated_everywhere(void **state)
{
	(void)state;
	size_t len;
	char *body = load("DescribeVolumes.xml", &len);
	for (size_t cut = 0; cut < len; cut++) {
		/* Trailing whitespace after the root's end tag is still a whole document. */
		if (cut > 0 && strncmp(body + cut, "\n", len - cut) == 0)
			continue;
		struct cloud_disk_list l;
		struct status st = STATUS_INIT;
		char *copy = xstrndup(body, cut);  /* exact-size heap copy: ASan sees overreads */
		int rc = ec2_xml_describe_volumes(copy, cut, &l, &st);
		assert_int_equal(rc, -1);
		assert_int_equal(st.code, STATUS_INTERNAL);
		assert_non_null(strstr(st.msg, "DescribeVolumes"));
		cloud_disk_list_dispose(&l);
		free(copy);
	}
	free(body);

	body = load("DescribeInstances.xml", &len);
	for (size_t cut = 0; cut + 2 < len; cut += 7) {
		struct cloud_instance_list l;
		struct status st = STATUS_INIT;
		assert_int_equal(ec2_xml_describe_instances(body, cut, &l, &st), -1);
		assert_int_equal(st.code, STATUS_INTERNAL);
		cloud_instance_list_dispose(&l);
	}
	free(body);
}

static void test_garbage(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"",
		"not xml at all",
		"{\"json\": true}",
		"<",
		"<CreateVolumeResponse>",
		"<CreateVolumeResponse></DeleteVolumeResponse>",
		"<Other><volumeId>x</volumeId></Other>",
		"<CreateVolumeResponse><size>12abc</size></CreateVolumeResponse>",
		"<CreateVolumeResponse><size>99999999999999999999999</size></CreateVolumeResponse>",
		"<CreateVolumeResponse><iops>3000000000</iops></CreateVolumeResponse>",
		"<CreateVolumeResponse><encrypted>yes</encrypted></CreateVolumeResponse>",
		"<CreateVolumeResponse><createTime>yesterday</createTime></CreateVolumeResponse>",
		"<CreateVolumeResponse><createTime>2016-13-29T18:52:32Z</createTime></CreateVolumeResponse>",
		"<CreateVolumeResponse><createTime>2016-08-29T18:52:32.Z</createTime></CreateVolumeResponse>",
		"<CreateVolumeResponse><createTime>2016-08-29T18:52:32+01:00</createTime></CreateVolumeResponse>",
		"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><CreateVolumeResponse><volumeId>&a;</volumeId></CreateVolumeResponse>",
		"<CreateVolumeResponse><volumeId>&undefined;</volumeId></CreateVolumeResponse>",
		"\xff\xfe<\x00C\x00",
	};
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		struct cloud_disk d;
		struct status st = STATUS_INIT;
		size_t n = i == sizeof inputs / sizeof inputs[0] - 1 ? 6 : strlen(inputs[i]);
		assert_int_equal(ec2_xml_create_volume(inputs[i], n, &d, &st), -1);
		assert_int_equal(st.code, STATUS_INTERNAL);
		assert_non_null(strstr(st.msg, "CreateVolume"));
		cloud_disk_dispose(&d);
	}
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_create_volume(NULL, 0, &d, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	cloud_disk_dispose(&d);
	/* A name of the wrong root is cut in the message. */
	struct buf b;
	buf_init(&b);
	buf_putc(&b, '<');
	for (int i = 0; i < 300; i++)
		buf_putc(&b, 'r');
	buf_puts(&b, "/>");
	assert_int_equal(ec2_xml_create_volume(b.data, b.len, &d, &st), -1);
	assert_true(strlen(st.msg) < 120);
	cloud_disk_dispose(&d);
	buf_dispose(&b);
}

static void test_deep_nesting(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "<DescribeVolumesResponse><volumeSet><item>");
	for (int i = 0; i < 100000; i++)
		buf_puts(&b, "<a>");
	for (int i = 0; i < 100000; i++)
		buf_puts(&b, "</a>");
	buf_puts(&b, "</item></volumeSet></DescribeVolumesResponse>");
	struct cloud_disk_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_volumes(b.data, b.len, &l, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "nests deeper"));
	cloud_disk_list_dispose(&l);

	/* Just under the limit is fine. */
	buf_reset(&b);
	buf_puts(&b, "<DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId>");
	for (int i = 0; i < EC2_XML_MAX_DEPTH - 3; i++)
		buf_puts(&b, "<a>");
	for (int i = 0; i < EC2_XML_MAX_DEPTH - 3; i++)
		buf_puts(&b, "</a>");
	buf_puts(&b, "</item></volumeSet></DescribeVolumesResponse>");
	assert_int_equal(ec2_xml_describe_volumes(b.data, b.len, &l, &st), 0);
	assert_int_equal(l.n, 1);
	assert_str(l.v[0].volume_id, "vol-1");
	cloud_disk_list_dispose(&l);
	buf_dispose(&b);
}

static void test_huge_text(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	/* 8 MB in an element we ignore: dropped, the parse succeeds. */
	buf_puts(&b, "<CreateVolumeResponse><volumeId>vol-1</volumeId><ignored>");
	for (int i = 0; i < 8 * 1024; i++) {
		char chunk[1024];
		memset(chunk, 'x', sizeof chunk);
		buf_append(&b, chunk, sizeof chunk);
	}
	buf_puts(&b, "</ignored><size>5</size></CreateVolumeResponse>");
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_create_volume(b.data, b.len, &d, &st), 0);
	assert_str(d.volume_id, "vol-1");
	assert_int_equal(d.size_gib, 5);
	cloud_disk_dispose(&d);

	/* The same in a field we read: an error, not a 8 MB string. */
	buf_reset(&b);
	buf_puts(&b, "<CreateVolumeResponse><kmsKeyId>");
	for (int i = 0; i < 64; i++) {
		char chunk[1024];
		memset(chunk, 'k', sizeof chunk);
		buf_append(&b, chunk, sizeof chunk);
	}
	buf_puts(&b, "</kmsKeyId></CreateVolumeResponse>");
	assert_int_equal(ec2_xml_create_volume(b.data, b.len, &d, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "kmsKeyId"));
	cloud_disk_dispose(&d);

	/* Exactly at the bound is accepted. */
	buf_reset(&b);
	buf_puts(&b, "<CreateVolumeResponse><kmsKeyId>");
	for (int i = 0; i < EC2_XML_TEXT_MAX; i++)
		buf_putc(&b, 'k');
	buf_puts(&b, "</kmsKeyId></CreateVolumeResponse>");
	assert_int_equal(ec2_xml_create_volume(b.data, b.len, &d, &st), 0);
	assert_int_equal(strlen(d.kms_key_id), EC2_XML_TEXT_MAX);
	cloud_disk_dispose(&d);
	buf_dispose(&b);
}

static void test_many_items(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "<DescribeVolumesResponse><volumeSet>");
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, "<item><volumeId>vol-%d</volumeId><size>%d</size><tagSet><item><key>k</key>"
			       "<value>%d</value></item></tagSet></item>",
			   i, i + 1, i);
	buf_puts(&b, "</volumeSet></DescribeVolumesResponse>");
	struct cloud_disk_list l;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_describe_volumes(b.data, b.len, &l, &st), 0);
	assert_int_equal(l.n, 5000);
	assert_str(l.v[4999].volume_id, "vol-4999");
	assert_int_equal(l.v[4999].size_gib, 5000);
	assert_str(cloud_tags_get(&l.v[1234].tags, "k"), "1234");
	cloud_disk_list_dispose(&l);
	buf_dispose(&b);
}

static void test_namespace_prefix_and_time(void **state)
{
	(void)state;
	const char *x = "<ec2:CreateVolumeResponse xmlns:ec2=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
			"<ec2:volumeId> vol-9 </ec2:volumeId><ec2:createTime>1970-01-01T00:00:00.1Z</ec2:createTime>"
			"</ec2:CreateVolumeResponse>";
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(ec2_xml_create_volume(x, strlen(x), &d, &st), 0);
	assert_str(d.volume_id, "vol-9");  /* trimmed */
	assert_int_equal(d.create_time_ms, 100);
	cloud_disk_dispose(&d);
	int64_t ms;
	assert_int_equal(ec2_xml_parse_time("2008-05-07T11:51:50.000Z", &ms), 0);
	assert_int_equal(ms, 1210161110000LL);
	assert_int_equal(ec2_xml_parse_time("2008-05-07T11:51:50.123456Z", &ms), 0);
	assert_int_equal(ms, 1210161110123LL);
	assert_int_equal(ec2_xml_parse_time("2008-05-07 11:51:50Z", &ms), -1);
	assert_int_equal(ec2_xml_parse_time("2008-05-07T11:51:50", &ms), -1);
	assert_int_equal(ec2_xml_parse_time("", &ms), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_volume),
		cmocka_unit_test(test_describe_volumes),
		cmocka_unit_test(test_copy_volumes),
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_return_actions),
		cmocka_unit_test(test_describe_instances),
		cmocka_unit_test(test_describe_instance_types),
		cmocka_unit_test(test_describe_availability_zones),
		cmocka_unit_test(test_create_snapshot),
		cmocka_unit_test(test_describe_snapshots),
		cmocka_unit_test(test_modify_volume),
		cmocka_unit_test(test_describe_volumes_modifications),
		cmocka_unit_test(test_describe_volume_status),
		cmocka_unit_test(test_enable_fsr),
		cmocka_unit_test(test_error_body_under_200),
		cmocka_unit_test(test_error_non_2xx),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_huge_text),
		cmocka_unit_test(test_many_items),
		cmocka_unit_test(test_namespace_prefix_and_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
