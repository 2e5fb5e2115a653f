/*
 * Tests for CreateVolume on the fake cloud: the response field by field
 * (through the wire, freed with free_unpacked under ASan), defaults, size
 * rounding and limits, parameters reaching EC2, volume_context, tags,
 * topology in and out, snapshot and clone sources, idempotency across a
 * restart, incompatible re-use of a name, burned ClientTokens, quota
 * recovery, every mapped cloud error, every validation error (with no
 * cloud call made), and ABORTED for a concurrent call with the same name.
 */
#include "tests/controller/helper_controller.h"

#include "common/xalloc.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static int setup(void **state)
{
	*state = ctl_fx_new();
	return 0;
}

static int teardown(void **state)
{
	ctl_fx_free(*state);
	return 0;
}

static const char *topo_zone(const Csi__V1__Volume *v)
{
	assert_int_equal(v->n_accessible_topology, 1);
	const Csi__V1__Topology *t = v->accessible_topology[0];
	return CT_MAP_GET(t->n_segments, t->segments, "topology.kubernetes.io/zone");
}

static void test_defaults(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, ct_create_req("pvc-1", 0, 0, ct_cap_mount("", CT_SNW)), &st);
	assert_non_null(r);
	const Csi__V1__Volume *v = r->volume;
	assert_non_null(v);
	assert_true(strncmp(v->volume_id, "vol-", 4) == 0);
	assert_int_equal(v->capacity_bytes, 100 * CT_GIB);
	assert_int_equal(v->n_volume_context, 0);
	assert_null(v->content_source);
	const char *zone = topo_zone(v);
	assert_non_null(zone);
	assert_true(strncmp(zone, "us-east-1", 9) == 0);

	struct cloud_disk d;
	assert_int_equal(cloud_fake_get_disk(fx->fake, v->volume_id, &d), 0);
	assert_string_equal(d.volume_type, "gp3");
	assert_int_equal(d.size_gib, 100);
	assert_string_equal(d.zone, zone);
	assert_false(d.encrypted);
	assert_false(d.multi_attach);
	assert_string_equal(cloud_tags_get(&d.tags, "CSIVolumeName"), "pvc-1");
	assert_string_equal(cloud_tags_get(&d.tags, "ebs.csi.aws.com/cluster"), "true");
	assert_null(cloud_tags_get(&d.tags, "KubernetesCluster"));
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_CREATE_DISK), 1);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_AVAILABILITY_ZONES), 1);
}

static int64_t created_size(struct ctl_fx *fx, const char *name, int64_t req, int64_t lim, const char *type,
			    struct status *st)
{
	Csi__V1__CreateVolumeRequest *q = ct_create_req(name, req, lim, ct_cap_mount("ext4", CT_SNW));
	if (type)
		ct_create_param(q, "type", type);
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, st);
	if (r == NULL)
		return -1;
	int64_t n = r->volume->capacity_bytes;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return n;
}

static void test_sizes(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	assert_int_equal(created_size(fx, "s1", 1, 0, NULL, &st), CT_GIB);
	assert_int_equal(created_size(fx, "s2", CT_GIB + CT_GIB / 2, 0, NULL, &st), 2 * CT_GIB);
	assert_int_equal(created_size(fx, "s3", 0, 5 * CT_GIB, NULL, &st), 5 * CT_GIB);       /* default lowered */
	assert_int_equal(created_size(fx, "s4", CT_GIB, 10 * CT_GIB, "io2", &st), 4 * CT_GIB); /* type minimum */
	assert_int_equal(created_size(fx, "s5", 3 * CT_GIB, 3 * CT_GIB, NULL, &st), 3 * CT_GIB);
	cloud_fake_reset_calls(fx->fake);
	/* Refused before any EC2 call. */
	assert_int_equal(created_size(fx, "e1", CT_GIB + 1, CT_GIB + 2, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_OUT_OF_RANGE);
	assert_int_equal(created_size(fx, "e2", 5 * CT_GIB, CT_GIB, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(created_size(fx, "e3", -1, 0, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(created_size(fx, "e4", 20000 * CT_GIB, 0, "gp2", &st), -1);
	assert_int_equal(st.code, STATUS_OUT_OF_RANGE);
	assert_non_null(strstr(st.msg, "gp2"));
	assert_int_equal(created_size(fx, "e5", CT_GIB, 2 * CT_GIB, "st1", &st), -1);
	assert_int_equal(st.code, STATUS_OUT_OF_RANGE);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_ANY), 0);
}

static void test_parameters_reach_ec2(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	cloud_tags_set(&fx->extra, "team", "storage");
	fx->cfg.k8s_tag_cluster_id = "prod";
	ctl_fx_restart(fx);
	Csi__V1__CreateVolumeRequest *q = ct_create_req("pvc-io2", 10 * CT_GIB, 0, ct_cap_mount("ext4", CT_SNW));
	ct_create_param(q, "Type", "IO2");
	ct_create_param(q, "iopsPerGB", "100");
	ct_create_param(q, "kmsKeyId", "arn:aws:kms:us-east-1:123456789012:key/abc");
	ct_create_param(q, "blockSize", "4096");
	ct_create_param(q, "ext4BigAlloc", "true");
	ct_create_param(q, "ext4ClusterSize", "16384");
	ct_create_param(q, "BLOCKATTACHUNTILINITIALIZED", "True");
	ct_create_param(q, "allowAutoIOPSIncreaseOnModify", "true");
	ct_create_param(q, "csi.storage.k8s.io/pvc/name", "data");
	ct_create_param(q, "csi.storage.k8s.io/pvc/namespace", "db");
	ct_create_param(q, "csi.storage.k8s.io/pv/name", "pvc-io2");
	ct_create_param(q, "tagSpecification_1", "owner={{ .PVCNamespace | toUpper }}-{{ .PVCName }}");
	ct_create_param(q, "tagSpecification_2", "empty=");
	ct_create_param(q, "blockExpress", "true");
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	assert_non_null(r);
	const Csi__V1__Volume *v = r->volume;
	assert_int_equal(v->n_volume_context, 4);
	assert_string_equal(CT_MAP_GET(v->n_volume_context, v->volume_context, "blocksize"), "4096");
	assert_string_equal(CT_MAP_GET(v->n_volume_context, v->volume_context, "ext4bigalloc"), "true");
	assert_string_equal(CT_MAP_GET(v->n_volume_context, v->volume_context, "ext4clustersize"), "16384");
	assert_string_equal(CT_MAP_GET(v->n_volume_context, v->volume_context, "blockattachuntilinitialized"), "true");
	struct cloud_disk d;
	assert_int_equal(cloud_fake_get_disk(fx->fake, v->volume_id, &d), 0);
	assert_string_equal(d.volume_type, "io2");
	assert_int_equal(d.iops, 1000);
	assert_true(d.encrypted);
	assert_string_equal(d.kms_key_id, "arn:aws:kms:us-east-1:123456789012:key/abc");
	const struct cloud_tags *t = &d.tags;
	assert_string_equal(cloud_tags_get(t, "CSIVolumeName"), "pvc-io2");
	assert_string_equal(cloud_tags_get(t, "kubernetes.io/created-for/pvc/name"), "data");
	assert_string_equal(cloud_tags_get(t, "kubernetes.io/created-for/pvc/namespace"), "db");
	assert_string_equal(cloud_tags_get(t, "kubernetes.io/created-for/pv/name"), "pvc-io2");
	assert_string_equal(cloud_tags_get(t, "ebs.csi.aws.com/IOPSPerGb"), "100");
	assert_string_equal(cloud_tags_get(t, "ebs.csi.aws.com/AllowAutoIOPSIncreaseOnModify"), "true");
	assert_string_equal(cloud_tags_get(t, "kubernetes.io/cluster/prod"), "owned");
	assert_string_equal(cloud_tags_get(t, "KubernetesCluster"), "prod");
	assert_string_equal(cloud_tags_get(t, "Name"), "prod-dynamic-pvc-io2");
	assert_string_equal(cloud_tags_get(t, "ebs.csi.aws.com/cluster-name"), "prod");
	assert_string_equal(cloud_tags_get(t, "team"), "storage");
	assert_string_equal(cloud_tags_get(t, "owner"), "DB-data");
	assert_string_equal(cloud_tags_get(t, "empty"), "");
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_iops_capping_and_throughput(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	struct cloud_disk d;
	/* io1 50 IOPS/GiB at most: 10 GiB × 100 → 500. */
	Csi__V1__CreateVolumeRequest *q = ct_create_req("io1", 10 * CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_param(q, "type", "io1");
	ct_create_param(q, "iopsPerGB", "100");
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	assert_non_null(r);
	assert_int_equal(cloud_fake_get_disk(fx->fake, r->volume->volume_id, &d), 0);
	assert_int_equal(d.iops, 500);
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Raised to the minimum only when allowed. */
	q = ct_create_req("gp3low", 10 * CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_param(q, "iopsPerGB", "10");
	ct_create_param(q, "allowAutoIOPSPerGBIncrease", "true");
	ct_create_param(q, "throughput", "250");
	r = ct_create(fx, q, &st);
	assert_non_null(r);
	assert_int_equal(cloud_fake_get_disk(fx->fake, r->volume->volume_id, &d), 0);
	assert_int_equal(d.iops, 3000);
	assert_int_equal(d.throughput, 250);
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* mutable_parameters take precedence. */
	q = ct_create_req("vac", 200 * CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_param(q, "iopsPerGB", "10");
	ct_create_mparam(q, "iops", "6000");
	ct_create_mparam(q, "tagSpecification_9", "vac=yes");
	r = ct_create(fx, q, &st);
	assert_non_null(r);
	assert_int_equal(cloud_fake_get_disk(fx->fake, r->volume->volume_id, &d), 0);
	assert_int_equal(d.iops, 6000);
	assert_string_equal(cloud_tags_get(&d.tags, "vac"), "yes");
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

struct bad_case {
	const char *key, *value;  /* a parameter, or NULL */
	const char *mkey;         /* a mutable parameter key (value "1"), or NULL */
	int cap;                  /* 0 mount ext4 SNW, 1 block SNW, 2 mount xfs, 3 mount RO, 4 MNMW mount, 5 MNMW block,
				     6 mount btrfs, 7 none, 8 no access mode */
	const char *name;         /* NULL: "bad" */
	const char *expect;       /* substring of the message */
};

static void test_validation_errors(void **state)
{
	struct ctl_fx *fx = *state;
	static const struct bad_case cases[] = {
		{ "color", "blue", NULL, 0, NULL, "color" },
		{ "iops", "lots", NULL, 0, NULL, "iops" },
		{ "iops", "-5", NULL, 0, NULL, "iops" },
		{ "iops", "99999999999", NULL, 0, NULL, "iops" },
		{ "encrypted", "yes", NULL, 0, NULL, "encrypted" },
		{ "type", "gp9", NULL, 0, NULL, "gp9" },
		{ "throughput", "0", NULL, 0, NULL, "throughput" },
		{ "kmsKeyId", "", NULL, 0, NULL, "kmsKeyId" },
		{ "blockSize", "4k", NULL, 0, NULL, "blockSize" },
		{ "blockSize", "4096", NULL, 1, NULL, "blockSize" },
		{ "bytesPerInode", "16384", NULL, 2, NULL, "bytesPerInode" },
		{ "ext4ClusterSize", "16384", NULL, 0, NULL, "ext4BigAlloc" },
		{ "ext4EncryptionSupport", "true", NULL, 0, NULL, "ext4EncryptionSupport" },
		{ "tagSpecification_1", "novalue", NULL, 0, NULL, "tagSpecification" },
		{ "tagSpecification_1", "CSIVolumeName=x", NULL, 0, NULL, "reserved" },
		{ "tagSpecification_1", "kubernetes.io/x=y", NULL, 0, NULL, "reserved" },
		{ "tagSpecification_1", "k={{ .Nope }}", NULL, 0, NULL, "Nope" },
		{ "tagSpecification_1", "aws:x=y", NULL, 0, NULL, "aws:" },
		{ NULL, NULL, "color", 0, NULL, "color" },
		{ NULL, NULL, NULL, 3, NULL, "access_mode" },
		{ NULL, NULL, NULL, 4, NULL, "MULTI_NODE_MULTI_WRITER" },
		{ NULL, NULL, NULL, 5, NULL, "io2" },
		{ NULL, NULL, NULL, 6, NULL, "fs_type" },
		{ NULL, NULL, NULL, 7, NULL, "volume_capabilities" },
		{ NULL, NULL, NULL, 8, NULL, "access_mode" },
		{ NULL, NULL, NULL, 0, "", "name" },
		{ NULL, NULL, NULL, 0, "bad\x01name", "name" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bad_case *c = &cases[i];
		Csi__V1__VolumeCapability *cap = NULL;
		switch (c->cap) {
		case 0: cap = ct_cap_mount("ext4", CT_SNW); break;
		case 1: cap = ct_cap_block(CT_SNW); break;
		case 2: cap = ct_cap_mount("xfs", CT_SNW); break;
		case 3: cap = ct_cap_mount("ext4", CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY); break;
		case 4: cap = ct_cap_mount("ext4", CT_MNMW); break;
		case 5: cap = ct_cap_block(CT_MNMW); break;
		case 6: cap = ct_cap_mount("btrfs", CT_SNW); break;
		case 8:
			cap = ct_cap_mount("ext4", CT_SNW);
			protobuf_c_message_free_unpacked(&cap->access_mode->base, NULL);
			cap->access_mode = NULL;
			break;
		default: break;
		}
		Csi__V1__CreateVolumeRequest *q = ct_create_req(c->name ? c->name : "bad", CT_GIB, 0, cap);
		if (c->key)
			ct_create_param(q, c->key, c->value);
		if (c->mkey)
			ct_create_mparam(q, c->mkey, "1");
		struct status st;
		assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
					  &csi__v1__create_volume_response__descriptor, &st),
				 STATUS_INVALID_ARGUMENT);
		if (strstr(st.msg, c->expect) == NULL)
			fail_msg("case %zu: \"%s\" does not mention %s", i, st.msg, c->expect);
	}
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_ANY), 0);
}

static const char *zone_of(struct ctl_fx *fx, Csi__V1__CreateVolumeRequest *q, char *buf, size_t n)
{
	struct status st;
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	if (r == NULL)
		fail_msg("%s", st.msg);
	snprintf(buf, n, "%s", topo_zone(r->volume));
	struct cloud_disk d;
	assert_int_equal(cloud_fake_get_disk(fx->fake, r->volume->volume_id, &d), 0);
	assert_string_equal(d.zone, buf);
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return buf;
}

static void test_topology(void **state)
{
	struct ctl_fx *fx = *state;
	char z[32];
	Csi__V1__CreateVolumeRequest *q = ct_create_req("t1", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_topology(q, false, "topology.kubernetes.io/zone", "us-east-1c");
	ct_create_topology(q, true, "topology.kubernetes.io/zone", "us-east-1b");
	assert_string_equal(zone_of(fx, q, z, sizeof z), "us-east-1b");
	q = ct_create_req("t2", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_topology(q, false, "topology.ebs.csi.aws.com/zone", "us-east-1c");
	assert_string_equal(zone_of(fx, q, z, sizeof z), "us-east-1c");
	q = ct_create_req("t3", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_topology(q, true, "topology.k8s.aws/zone-id", "use1-az2");
	assert_string_equal(zone_of(fx, q, z, sizeof z), "us-east-1b");
	/* A topology without zone keys is skipped. */
	q = ct_create_req("t4", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_topology(q, true, "kubernetes.io/os", "linux");
	ct_create_topology(q, true, "topology.kubernetes.io/zone", "us-east-1a");
	assert_string_equal(zone_of(fx, q, z, sizeof z), "us-east-1a");
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_AVAILABILITY_ZONES), 0);

	/* No topology with a configured default (the controller's own zone):
	 * that zone, without listing the region's zones. */
	fx->cfg.default_zone = "us-east-1c";
	ctl_fx_restart(fx);
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof name, "t5-%d", i);
		q = ct_create_req(name, CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
		assert_string_equal(zone_of(fx, q, z, sizeof z), "us-east-1c");
	}
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_AVAILABILITY_ZONES), 0);
	/* Requested topology still wins over the default. */
	q = ct_create_req("t6", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_topology(q, true, "topology.kubernetes.io/zone", "us-east-1b");
	assert_string_equal(zone_of(fx, q, z, sizeof z), "us-east-1b");
	fx->cfg.default_zone = NULL;
}

static void test_idempotent_across_restart(void **state)
{
	struct ctl_fx *fx = *state;
	char *id = ct_make_volume(fx, "pvc-same");
	char *again = ct_make_volume(fx, "pvc-same");
	assert_string_equal(id, again);
	ctl_fx_restart(fx);
	char *after = ct_make_volume(fx, "pvc-same");
	assert_string_equal(id, after);
	assert_int_equal(cloud_fake_disk_count(fx->fake), 1);
	free(id);
	free(again);
	free(after);
}

static void test_incompatible_name(void **state)
{
	struct ctl_fx *fx = *state;
	char *id = ct_make_volume(fx, "pvc-x");
	struct status st;
	Csi__V1__CreateVolumeRequest *q = ct_create_req("pvc-x", 20 * CT_GIB, 0, ct_cap_mount("ext4", CT_SNW));
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, id));
	/* A compatible capacity_range gets the existing volume back. */
	q = ct_create_req("pvc-x", 5 * CT_GIB, 12 * CT_GIB, ct_cap_mount("ext4", CT_SNW));
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	assert_non_null(r);
	assert_string_equal(r->volume->volume_id, id);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(cloud_fake_disk_count(fx->fake), 1);
	free(id);
}

static void test_burned_token(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *first = ct_make_volume(fx, "pvc-reuse");
	assert_int_equal(ctl_code(controller_delete_volume, fx->svc, &ct_delete_req(first)->base,
				  &csi__v1__delete_volume_response__descriptor, &st),
			 STATUS_OK);
	cloud_fake_reset_calls(fx->fake);
	/* csi-sanity reuses a name after deleting its volume: the base token
	 * is burned, a suffixed one makes a new volume in the same call. */
	char *second = ct_make_volume(fx, "pvc-reuse");
	assert_string_not_equal(first, second);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_CREATE_DISK), 2);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_FIND_DISK_BY_NAME), 1);
	/* After a restart the name still leads to the second volume. */
	ctl_fx_restart(fx);
	char *third = ct_make_volume(fx, "pvc-reuse");
	assert_string_equal(second, third);
	assert_int_equal(cloud_fake_disk_count(fx->fake), 1);
	free(first);
	free(second);
	free(third);
}

static void test_vanished_volume(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	cloud_fake_fail_next(fx->fake, CLOUD_OP_CREATE_DISK, STATUS_ABORTED,
			     "CreateVolume: volume vol-1 disappeared while it was being created");
	Csi__V1__CreateVolumeRequest *q = ct_create_req("pvc-kms", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "kmsKeyId"));
	assert_non_null(strstr(st.msg, "disappeared"));
}

static void test_quota(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	cloud_fake_fail_next(fx->fake, CLOUD_OP_CREATE_DISK, STATUS_RESOURCE_EXHAUSTED, "VolumeLimitExceeded");
	Csi__V1__CreateVolumeRequest *q = ct_create_req("pvc-q", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st.msg, "VolumeLimitExceeded"));
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_FIND_DISK_BY_NAME), 1);
	/* Over the limit but the volume of an earlier attempt exists: use it. */
	char *id = ct_make_volume(fx, "pvc-q2");
	cloud_fake_fail_next(fx->fake, CLOUD_OP_CREATE_DISK, STATUS_RESOURCE_EXHAUSTED, "VolumeLimitExceeded");
	char *again = ct_make_volume(fx, "pvc-q2");
	assert_string_equal(id, again);
	free(id);
	free(again);
}

static void test_cloud_errors_mapped(void **state)
{
	struct ctl_fx *fx = *state;
	static const struct {
		int injected, expected;
	} cases[] = {
		{ STATUS_UNAVAILABLE, STATUS_UNAVAILABLE },
		{ STATUS_DEADLINE_EXCEEDED, STATUS_DEADLINE_EXCEEDED },
		{ STATUS_PERMISSION_DENIED, STATUS_PERMISSION_DENIED },
		{ STATUS_UNAUTHENTICATED, STATUS_UNAUTHENTICATED },
		{ STATUS_INVALID_ARGUMENT, STATUS_INVALID_ARGUMENT },
		{ STATUS_INTERNAL, STATUS_INTERNAL },
		{ STATUS_UNKNOWN, STATUS_INTERNAL },
		{ STATUS_DATA_LOSS, STATUS_INTERNAL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct status st;
		char name[32];
		snprintf(name, sizeof name, "pvc-err-%zu", i);
		cloud_fake_fail_next(fx->fake, CLOUD_OP_CREATE_DISK, cases[i].injected, "injected %zu", i);
		Csi__V1__CreateVolumeRequest *q = ct_create_req(name, CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
		assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
					  &csi__v1__create_volume_response__descriptor, &st),
				 cases[i].expected);
		assert_non_null(strstr(st.msg, "injected"));
		assert_non_null(strstr(st.msg, name));
	}
	/* The zone lookup failing is reported too. */
	struct status st;
	cloud_fake_fail_next(fx->fake, CLOUD_OP_AVAILABILITY_ZONES, STATUS_UNAVAILABLE, "throttled");
	Csi__V1__CreateVolumeRequest *q = ct_create_req("pvc-az", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_UNAVAILABLE);
}

static void test_from_snapshot(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	cloud_fake_add_snapshot(fx->fake, "snap-0123456789abcdef0", "vol-0123456789abcdef0", 50);
	Csi__V1__CreateVolumeRequest *q = ct_create_req("restore", 0, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_snapshot(q, "snap-0123456789abcdef0");
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	assert_non_null(r);
	assert_int_equal(r->volume->capacity_bytes, 50 * CT_GIB);
	assert_non_null(r->volume->content_source);
	assert_int_equal(r->volume->content_source->type_case, CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_SNAPSHOT);
	assert_string_equal(r->volume->content_source->snapshot->snapshot_id, "snap-0123456789abcdef0");
	struct cloud_disk d;
	assert_int_equal(cloud_fake_get_disk(fx->fake, r->volume->volume_id, &d), 0);
	assert_string_equal(d.snapshot_id, "snap-0123456789abcdef0");
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Larger than the snapshot: fine; smaller: OUT_OF_RANGE. */
	q = ct_create_req("restore-big", 60 * CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_snapshot(q, "snap-0123456789abcdef0");
	r = ct_create(fx, q, &st);
	assert_non_null(r);
	assert_int_equal(r->volume->capacity_bytes, 60 * CT_GIB);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	q = ct_create_req("restore-small", 10 * CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_snapshot(q, "snap-0123456789abcdef0");
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_OUT_OF_RANGE);
	/* Missing, or not even a snapshot id: NOT_FOUND. */
	q = ct_create_req("restore-missing", 0, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_snapshot(q, "snap-00000000000000000");
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_NOT_FOUND);
	q = ct_create_req("restore-bogus", 0, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_snapshot(q, "not-a-snapshot");
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_NOT_FOUND);
}

static void test_clone(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	Csi__V1__CreateVolumeRequest *q = ct_create_req("src", 8 * CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_topology(q, true, "topology.kubernetes.io/zone", "us-east-1b");
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	assert_non_null(r);
	char *src = xstrdup(r->volume->volume_id);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	q = ct_create_req("clone", 0, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_volume(q, src);
	r = ct_create(fx, q, &st);
	assert_non_null(r);
	assert_int_equal(r->volume->capacity_bytes, 8 * CT_GIB);
	assert_string_equal(topo_zone(r->volume), "us-east-1b");
	assert_int_equal(r->volume->content_source->type_case, CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_VOLUME);
	assert_string_equal(r->volume->content_source->volume->volume_id, src);
	struct cloud_disk d;
	assert_int_equal(cloud_fake_get_disk(fx->fake, r->volume->volume_id, &d), 0);
	assert_string_equal(d.source_volume_id, src);
	assert_string_equal(cloud_tags_get(&d.tags, "CSIVolumeName"), "clone");
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_COPY_DISK), 1);

	q = ct_create_req("clone-elsewhere", 0, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_volume(q, src);
	ct_create_topology(q, false, "topology.kubernetes.io/zone", "us-east-1a");
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_RESOURCE_EXHAUSTED);
	q = ct_create_req("clone-enc", 0, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_volume(q, src);
	ct_create_param(q, "encrypted", "true");
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "encrypted"));
	q = ct_create_req("clone-small", 4 * CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_volume(q, src);
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_OUT_OF_RANGE);
	q = ct_create_req("clone-missing", 0, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_source_volume(q, "vol-00000000000000000");
	assert_int_equal(ctl_code(controller_create_volume, fx->svc, &q->base,
				  &csi__v1__create_volume_response__descriptor, &st),
			 STATUS_NOT_FOUND);
	free(src);
}

static void test_multi_attach(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	Csi__V1__CreateVolumeRequest *q = ct_create_req("shared", 10 * CT_GIB, 0, ct_cap_block(CT_MNMW));
	ct_create_param(q, "type", "io2");
	ct_create_param(q, "iops", "1000");
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	assert_non_null(r);
	struct cloud_disk d;
	assert_int_equal(cloud_fake_get_disk(fx->fake, r->volume->volume_id, &d), 0);
	assert_true(d.multi_attach);
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

struct racer {
	struct ctl_fx *fx;
	const char *name;
	int code;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct status st;
	Csi__V1__CreateVolumeRequest *q = ct_create_req(r->name, CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	r->code = ctl_code(controller_create_volume, r->fx->svc, &q->base, &csi__v1__create_volume_response__descriptor,
			   &st);
	return NULL;
}

static void test_concurrent_same_name_aborted(void **state)
{
	struct ctl_fx *fx = *state;
	cloud_fake_set_delay(fx->fake, CLOUD_OP_CREATE_DISK, 150);
	struct racer a = { fx, "pvc-race", -1 };
	pthread_t t;
	pthread_create(&t, NULL, race, &a);
	struct timespec ts = { 0, 40 * 1000000L };
	nanosleep(&ts, NULL);
	struct racer b = { fx, "pvc-race", -1 };
	race(&b);
	pthread_join(t, NULL);
	assert_int_equal(a.code, STATUS_OK);
	assert_int_equal(b.code, STATUS_ABORTED);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_CREATE_DISK), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parameters_reach_ec2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iops_capping_and_throughput, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validation_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topology, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_across_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incompatible_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burned_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vanished_volume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cloud_errors_mapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_same_name_aborted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
