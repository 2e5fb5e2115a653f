/*
 * Tests for CreateSnapshot, DeleteSnapshot and ListSnapshots on the fake
 * cloud: the response field by field, idempotency by name (also after a
 * restart), ALREADY_EXISTS for a name used on another volume, ready_to_use
 * following the snapshot state, VolumeSnapshotClass parameters (templated
 * tags, fast snapshot restore with rollback, refused lock keys), delete of
 * things already gone, ListSnapshots by id, by volume and paged with every
 * max_entries (1..4 included), invalid tokens, and mapped errors.
 */
#include "tests/controller/helper_controller.h"

#include "common/xalloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static Csi__V1__CreateSnapshotResponse *snap(struct ctl_fx *fx, Csi__V1__CreateSnapshotRequest *q, struct status *st)
{
	return (Csi__V1__CreateSnapshotResponse *)ctl_call(controller_create_snapshot, fx->svc, &q->base,
							   &csi__v1__create_snapshot_response__descriptor, st);
}

static Csi__V1__ListSnapshotsResponse *list(struct ctl_fx *fx, Csi__V1__ListSnapshotsRequest *q, struct status *st)
{
	return (Csi__V1__ListSnapshotsResponse *)ctl_call(controller_list_snapshots, fx->svc, &q->base,
							  &csi__v1__list_snapshots_response__descriptor, st);
}

static void test_create_snapshot(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "v1");
	cloud_tags_set(&fx->extra, "team", "storage");
	fx->cfg.k8s_tag_cluster_id = "prod";
	ctl_fx_restart(fx);
	cloud_fake_set_new_snapshot_state(fx->fake, CLOUD_SNAPSHOT_PENDING);
	Csi__V1__CreateSnapshotRequest *q = ct_snapshot_req("snapshot-1", vol);
	ct_snapshot_param(q, "tagSpecification_1", "for={{ .VolumeSnapshotNamespace }}/{{ .VolumeSnapshotName }}");
	ct_snapshot_param(q, "csi.storage.k8s.io/volumesnapshot/name", "nightly");
	ct_snapshot_param(q, "csi.storage.k8s.io/volumesnapshot/namespace", "db");
	ct_snapshot_param(q, "csi.storage.k8s.io/volumesnapshotcontent/name", "snapcontent-1");
	Csi__V1__CreateSnapshotResponse *r = snap(fx, q, &st);
	assert_non_null(r);
	const Csi__V1__Snapshot *s = r->snapshot;
	assert_true(strncmp(s->snapshot_id, "snap-", 5) == 0);
	assert_string_equal(s->source_volume_id, vol);
	assert_int_equal(s->size_bytes, 10 * CT_GIB);
	assert_non_null(s->creation_time);
	assert_true(s->creation_time->seconds > 1600000000);
	assert_false(s->ready_to_use);
	char *sid = xstrdup(s->snapshot_id);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* The CO polls by repeating the call: same snapshot, no new one. */
	cloud_fake_set_snapshot_state(fx->fake, sid, CLOUD_SNAPSHOT_COMPLETED);
	ctl_fx_restart(fx);
	r = snap(fx, ct_snapshot_req("snapshot-1", vol), &st);
	assert_non_null(r);
	assert_string_equal(r->snapshot->snapshot_id, sid);
	assert_true(r->snapshot->ready_to_use);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(cloud_fake_snapshot_count(fx->fake), 1);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_CREATE_SNAPSHOT), 1);

	/* Tags, checked through ListSnapshots' view of the fake. */
	struct cloud_snapshot cs;
	assert_int_equal(cloud_get_snapshot(cloud_fake_cloud(fx->fake), NULL, sid, &cs, &st), 0);
	assert_string_equal(cloud_tags_get(&cs.tags, "CSIVolumeSnapshotName"), "snapshot-1");
	assert_string_equal(cloud_tags_get(&cs.tags, "ebs.csi.aws.com/cluster"), "true");
	assert_string_equal(cloud_tags_get(&cs.tags, "kubernetes.io/cluster/prod"), "owned");
	assert_string_equal(cloud_tags_get(&cs.tags, "Name"), "prod-dynamic-snapshot-1");
	assert_string_equal(cloud_tags_get(&cs.tags, "ebs.csi.aws.com/cluster-name"), "prod");
	assert_string_equal(cloud_tags_get(&cs.tags, "team"), "storage");
	assert_string_equal(cloud_tags_get(&cs.tags, "for"), "db/nightly");
	assert_null(cloud_tags_get(&cs.tags, "KubernetesCluster"));
	assert_non_null(strstr(cs.description, vol));
	cloud_snapshot_dispose(&cs);

	/* The name on another volume: ALREADY_EXISTS. */
	char *other = ct_make_volume(fx, "v2");
	assert_int_equal(ctl_code(controller_create_snapshot, fx->svc, &ct_snapshot_req("snapshot-1", other)->base,
				  &csi__v1__create_snapshot_response__descriptor, &st),
			 STATUS_ALREADY_EXISTS);
	/* Delete: then again, and ids that cannot exist: OK. */
	assert_int_equal(ctl_code(controller_delete_snapshot, fx->svc, &ct_delete_snapshot_req(sid)->base,
				  &csi__v1__delete_snapshot_response__descriptor, &st),
			 STATUS_OK);
	assert_int_equal(cloud_fake_snapshot_count(fx->fake), 0);
	assert_int_equal(ctl_code(controller_delete_snapshot, fx->svc, &ct_delete_snapshot_req(sid)->base,
				  &csi__v1__delete_snapshot_response__descriptor, &st),
			 STATUS_OK);
	assert_int_equal(ctl_code(controller_delete_snapshot, fx->svc, &ct_delete_snapshot_req("bogus")->base,
				  &csi__v1__delete_snapshot_response__descriptor, &st),
			 STATUS_OK);
	free(vol);
	free(other);
	free(sid);
}

static void test_snapshot_errors(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "v1");
	static const struct {
		const char *name, *vol, *key, *value;
		int code;
		const char *expect;
	} cases[] = {
		{ "", "vol-1", NULL, NULL, STATUS_INVALID_ARGUMENT, "name" },
		{ "s", "", NULL, NULL, STATUS_INVALID_ARGUMENT, "source_volume_id" },
		{ "s", "vol-1", "color", "blue", STATUS_INVALID_ARGUMENT, "color" },
		{ "s", "vol-1", "lockMode", "compliance", STATUS_INVALID_ARGUMENT, "lockMode" },
		{ "s", "vol-1", "outpostArn", "not-an-arn", STATUS_INVALID_ARGUMENT, "outpostArn" },
		{ "s", "vol-1", "tagSpecification_1", "ebs.csi.aws.com/x=y", STATUS_INVALID_ARGUMENT, "reserved" },
		{ "s", "vol-1", "fastSnapshotRestoreAvailabilityZones", " , ", STATUS_INVALID_ARGUMENT, "zone" },
		{ "s", "not-a-volume", NULL, NULL, STATUS_NOT_FOUND, "not-a-volume" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		Csi__V1__CreateSnapshotRequest *q = ct_snapshot_req(cases[i].name, cases[i].vol);
		if (cases[i].key)
			ct_snapshot_param(q, cases[i].key, cases[i].value);
		assert_int_equal(ctl_code(controller_create_snapshot, fx->svc, &q->base,
					  &csi__v1__create_snapshot_response__descriptor, &st),
				 cases[i].code);
		if (strstr(st.msg, cases[i].expect) == NULL)
			fail_msg("case %zu: \"%s\" does not mention %s", i, st.msg, cases[i].expect);
	}
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_CREATE_SNAPSHOT), 0);
	/* The source volume does not exist. */
	assert_int_equal(ctl_code(controller_create_snapshot, fx->svc,
				  &ct_snapshot_req("s", "vol-00000000000000fff")->base,
				  &csi__v1__create_snapshot_response__descriptor, &st),
			 STATUS_NOT_FOUND);
	/* Quotas and other errors. */
	cloud_fake_fail_next(fx->fake, CLOUD_OP_CREATE_SNAPSHOT, STATUS_RESOURCE_EXHAUSTED, "SnapshotLimitExceeded");
	assert_int_equal(ctl_code(controller_create_snapshot, fx->svc, &ct_snapshot_req("s", vol)->base,
				  &csi__v1__create_snapshot_response__descriptor, &st),
			 STATUS_RESOURCE_EXHAUSTED);
	cloud_fake_fail_next(fx->fake, CLOUD_OP_FIND_SNAPSHOT_BY_NAME, STATUS_UNAVAILABLE, "throttled");
	assert_int_equal(ctl_code(controller_create_snapshot, fx->svc, &ct_snapshot_req("s", vol)->base,
				  &csi__v1__create_snapshot_response__descriptor, &st),
			 STATUS_UNAVAILABLE);
	cloud_fake_fail_next(fx->fake, CLOUD_OP_DELETE_SNAPSHOT, STATUS_FAILED_PRECONDITION, "InvalidSnapshot.InUse");
	assert_int_equal(ctl_code(controller_delete_snapshot, fx->svc,
				  &ct_delete_snapshot_req("snap-00000000000000001")->base,
				  &csi__v1__delete_snapshot_response__descriptor, &st),
			 STATUS_FAILED_PRECONDITION);
	assert_int_equal(ctl_code(controller_delete_snapshot, fx->svc, &ct_delete_snapshot_req("")->base,
				  &csi__v1__delete_snapshot_response__descriptor, &st),
			 STATUS_INVALID_ARGUMENT);
	free(vol);
}

static void test_fast_snapshot_restore(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "v1");
	Csi__V1__CreateSnapshotRequest *q = ct_snapshot_req("fsr", vol);
	ct_snapshot_param(q, "fastSnapshotRestoreAvailabilityZones", "us-east-1a, us-east-1b");
	Csi__V1__CreateSnapshotResponse *r = snap(fx, q, &st);
	assert_non_null(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_ENABLE_FSR), 1);
	/* A zone outside the region: refused before creating anything. */
	q = ct_snapshot_req("fsr2", vol);
	ct_snapshot_param(q, "fastSnapshotRestoreAvailabilityZones", "eu-west-1a");
	assert_int_equal(ctl_code(controller_create_snapshot, fx->svc, &q->base,
				  &csi__v1__create_snapshot_response__descriptor, &st),
			 STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "eu-west-1a"));
	assert_int_equal(cloud_fake_snapshot_count(fx->fake), 1);
	/* FSR fails after creation: the snapshot is deleted again. */
	cloud_fake_fail_next(fx->fake, CLOUD_OP_ENABLE_FSR, STATUS_UNAVAILABLE, "throttled");
	q = ct_snapshot_req("fsr3", vol);
	ct_snapshot_param(q, "fastSnapshotRestoreAvailabilityZones", "us-east-1a");
	assert_int_equal(ctl_code(controller_create_snapshot, fx->svc, &q->base,
				  &csi__v1__create_snapshot_response__descriptor, &st),
			 STATUS_INTERNAL);
	assert_int_equal(cloud_fake_snapshot_count(fx->fake), 1);
	free(vol);
}

/* Lists everything with max_entries, page by page; returns the count. */
static size_t list_all(struct ctl_fx *fx, int max, const char *vol, size_t *pages)
{
	char *token = NULL;
	size_t n = 0;
	*pages = 0;
	for (;;) {
		struct status st;
		Csi__V1__ListSnapshotsResponse *r = list(fx, ct_list_req(max, token, vol, NULL), &st);
		if (r == NULL)
			fail_msg("%s", st.msg);
		(*pages)++;
		if (max > 0)
			assert_true(r->n_entries <= (size_t)max);
		for (size_t i = 0; i < r->n_entries; i++) {
			assert_true(r->entries[i]->snapshot->ready_to_use);
			n++;
		}
		free(token);
		token = r->next_token[0] ? xstrdup(r->next_token) : NULL;
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (token == NULL)
			break;
		assert_true(*pages < 100);
	}
	return n;
}

static void test_list_snapshots(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	for (int i = 0; i < 12; i++) {
		char id[32];
		snprintf(id, sizeof id, "snap-%017d", i + 1);
		cloud_fake_add_snapshot(fx->fake, id, i < 5 ? "vol-0000000000000000a" : "vol-0000000000000000b", 8);
	}
	size_t pages;
	assert_int_equal(list_all(fx, 0, NULL, &pages), 12);
	assert_int_equal(pages, 1);
	for (int max = 1; max <= 13; max++) {
		assert_int_equal(list_all(fx, max, NULL, &pages), 12);
		/* From 5 on, one EC2 page per call; below, pages of EC2's
		 * minimum 5 are handed out in pieces. */
		if (max >= 5)
			assert_int_equal(pages, (size_t)((12 + max - 1) / max));
		else
			assert_true(pages >= (size_t)((12 + max - 1) / max) && pages <= 12);
	}
	assert_int_equal(list_all(fx, 2, "vol-0000000000000000a", &pages), 5);
	assert_int_equal(list_all(fx, 0, "vol-0000000000000000b", &pages), 7);
	/* Filters that match nothing: an empty OK answer. */
	assert_int_equal(list_all(fx, 0, "vol-0000000000000000c", &pages), 0);
	assert_int_equal(list_all(fx, 0, "not-a-volume", &pages), 0);
	Csi__V1__ListSnapshotsResponse *r = list(fx, ct_list_req(0, NULL, NULL, "snap-00000000000000003"), &st);
	assert_non_null(r);
	assert_int_equal(r->n_entries, 1);
	assert_string_equal(r->entries[0]->snapshot->snapshot_id, "snap-00000000000000003");
	assert_string_equal(r->entries[0]->snapshot->source_volume_id, "vol-0000000000000000a");
	assert_int_equal(r->entries[0]->snapshot->size_bytes, 8 * CT_GIB);
	assert_string_equal(r->next_token, "");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = list(fx, ct_list_req(0, NULL, "vol-0000000000000000b", "snap-00000000000000003"), &st);
	assert_non_null(r);
	assert_int_equal(r->n_entries, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = list(fx, ct_list_req(0, NULL, NULL, "snap-0000000000000fff0"), &st);
	assert_non_null(r);
	assert_int_equal(r->n_entries, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Bad tokens: ABORTED (ours, and EC2's). Negative max: INVALID_ARGUMENT. */
	assert_null(list(fx, ct_list_req(0, "garbage", NULL, NULL), &st));
	assert_int_equal(st.code, STATUS_ABORTED);
	assert_null(list(fx, ct_list_req(0, "0/not-a-fake-token", NULL, NULL), &st));
	assert_int_equal(st.code, STATUS_ABORTED);
	assert_null(list(fx, ct_list_req(-1, NULL, NULL, NULL), &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	cloud_fake_fail_next(fx->fake, CLOUD_OP_LIST_SNAPSHOTS, STATUS_UNKNOWN, "boom");
	assert_null(list(fx, ct_list_req(0, NULL, NULL, NULL), &st));
	assert_int_equal(st.code, STATUS_INTERNAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fast_snapshot_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_snapshots, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
