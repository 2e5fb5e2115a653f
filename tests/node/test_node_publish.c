/*
 * Tests for NodePublishVolume and NodeUnpublishVolume against the fake
 * mounter: a staged filesystem bound onto a target directory we create
 * (read-only when asked), raw block bound onto a file we create, idempotent
 * repeats without a second bind, ALREADY_EXISTS for an occupied or
 * incompatible target, FAILED_PRECONDITION when not staged or without a
 * staging path, cleanup of the target after a failed bind, and unpublish:
 * every layer of this volume unmounted, the target removed, not published is
 * OK, another volume's mount and a non-empty directory are left alone.
 */
#include "node/node_internal.h"
#include "tests/node/helper_node.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define GiB (1024ull * 1024 * 1024)
#define DEV1 "/dev/loop1"
#define DEV2 "/dev/loop2"
#define SNW CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER

static int setup(void **state)
{
	struct node_fx *fx = node_fx_new();
	if (fx == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	node_fx_free(*state);
	return 0;
}

static int stage(struct node_fx *fx, const char *vol, const char *path, const char *fstype)
{
	struct status st;
	return node_call_code(node_stage_volume, fx->svc,
			      &nt_stage_req(vol, path, nt_cap_mount(fstype, SNW, NULL))->base,
			      &csi__v1__node_stage_volume_response__descriptor, &st);
}

static int publish(struct node_fx *fx, Csi__V1__NodePublishVolumeRequest *r, struct status *st)
{
	return node_call_code(node_publish_volume, fx->svc, &r->base, &csi__v1__node_publish_volume_response__descriptor,
			      st);
}

static int unpublish(struct node_fx *fx, const char *vol, const char *target, struct status *st)
{
	return node_call_code(node_unpublish_volume, fx->svc, &nt_unpublish_req(vol, target)->base,
			      &csi__v1__node_unpublish_volume_response__descriptor, st);
}

/* VOL1 on DEV1 (ext4, staged at "stage1"); skips without block nodes. */
static struct node_fx *staged(void **state)
{
	struct node_fx *fx = *state;
	if (!node_fx_have_block_nodes())
		skip();
	assert_int_equal(node_fx_link(fx, NT_VOL1, DEV1), 0);
	mounter_fake_add_device(fx->m, DEV1, GiB, MOUNTER_CONTENT_BLANK, NULL);
	assert_int_equal(stage(fx, NT_VOL1, node_fx_path(fx, "stage1"), "ext4"), STATUS_OK);
	return fx;
}

static int kind_of(struct node_fx *fx, const char *path)
{
	int kind;
	struct status st;
	assert_int_equal(mounter_path_kind(fx->m, path, &kind, &st), 0);
	return kind;
}

static void assert_mount(struct node_fx *fx, const char *path, const char *source, const char *fstype, bool ro)
{
	struct mounter_mount_info mi;
	struct status st;
	assert_int_equal(mounter_mount_info(fx->m, path, &mi, &st), 0);
	assert_string_equal(mi.source, source);
	assert_string_equal(mi.fstype, fstype);
	assert_int_equal(mi.readonly, ro);
	mounter_mount_info_dispose(&mi);
}

static void test_publish_mount(void **state)
{
	struct node_fx *fx = staged(state);
	struct status st;
	const char *stg = node_fx_path(fx, "stage1");
	const char *tgt = node_fx_path(fx, "pods/p1/volumes/v1/mount");
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_MISSING);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_OK);
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_DIR);
	assert_mount(fx, tgt, DEV1, "ext4", false);
	/* Idempotent: no second bind. */
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("", SNW, NULL), false), &st),
			 STATUS_OK);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_BIND_MOUNT), 1);
	/* Same target read-only: incompatible. */
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("ext4", SNW, NULL), true), &st),
			 STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, "read-write"));
	/* A second target for the same volume (two pods on the node). */
	const char *tgt2 = node_fx_path(fx, "pods/p2/volumes/v1/mount");
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt2, nt_cap_mount("ext4", SNW, NULL), true), &st),
			 STATUS_OK);
	assert_mount(fx, tgt2, DEV1, "ext4", true);
	/* Unpublish both: unmounted, directories removed. */
	assert_int_equal(unpublish(fx, NT_VOL1, tgt, &st), STATUS_OK);
	assert_int_equal(unpublish(fx, NT_VOL1, tgt2, &st), STATUS_OK);
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_MISSING);
	assert_int_equal(kind_of(fx, tgt2), MOUNTER_PATH_MISSING);
	assert_int_equal(mounter_fake_mount_count(fx->m), 1); /* the staging mount */
	/* Again: not published, OK. */
	assert_int_equal(unpublish(fx, NT_VOL1, tgt, &st), STATUS_OK);
}

static void test_publish_readonly_and_reader_only(void **state)
{
	struct node_fx *fx = staged(state);
	struct status st;
	const char *stg = node_fx_path(fx, "stage1");
	const char *tgt = node_fx_path(fx, "t-ro");
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("ext4", SNW, NULL), true), &st),
			 STATUS_OK);
	assert_mount(fx, tgt, DEV1, "ext4", true);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_ALREADY_EXISTS);
	/* A reader-only mode is read-only even with readonly false. */
	const char *tgt2 = node_fx_path(fx, "t-ro2");
	Csi__V1__VolumeCapability *c =
		nt_cap_mount("ext4", CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY, NULL);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt2, c, false), &st), STATUS_OK);
	assert_mount(fx, tgt2, DEV1, "ext4", true);
}

static void test_publish_preconditions(void **state)
{
	struct node_fx *fx = staged(state);
	struct status st;
	const char *stg = node_fx_path(fx, "stage1");
	const char *tgt = node_fx_path(fx, "t");
	/* Not staged there. */
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, node_fx_path(fx, "nostage"), tgt,
						    nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "not staged"));
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_MISSING);
	/* No staging path at all (we advertise STAGE_UNSTAGE_VOLUME). */
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, NULL, tgt, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "staging_target_path"));
	/* Staged as ext4, asked for xfs. */
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("xfs", SNW, NULL), false), &st),
			 STATUS_FAILED_PRECONDITION);
	/* The staging path holds another volume. */
	assert_int_equal(node_fx_link(fx, NT_VOL2, DEV2), 0);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL2, stg, tgt, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, DEV1));
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_MISSING);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_BIND_MOUNT), 0);
}

static void test_publish_target_conflicts(void **state)
{
	struct node_fx *fx = staged(state);
	struct status st;
	const char *stg = node_fx_path(fx, "stage1");
	const char *tgt = node_fx_path(fx, "t");
	/* VOL2 staged elsewhere and published at tgt; VOL1 then wants tgt. */
	assert_int_equal(node_fx_link(fx, NT_VOL2, DEV2), 0);
	mounter_fake_add_device(fx->m, DEV2, GiB, MOUNTER_CONTENT_BLANK, NULL);
	assert_int_equal(stage(fx, NT_VOL2, node_fx_path(fx, "stage2"), "ext4"), STATUS_OK);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL2, node_fx_path(fx, "stage2"), tgt,
						    nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_OK);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, DEV2));
	/* VOL1 may not unpublish VOL2's target either. */
	assert_int_equal(unpublish(fx, NT_VOL1, tgt, &st), STATUS_FAILED_PRECONDITION);
	assert_mount(fx, tgt, DEV2, "ext4", false);
	/* A file where a mount volume's directory should be. */
	const char *file = node_fx_path(fx, "afile");
	mounter_fake_add_path(fx->m, file, MOUNTER_PATH_FILE);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, file, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_ALREADY_EXISTS);
	/* target == staging. */
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, stg, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_INVALID_ARGUMENT);
}

static void test_publish_bind_failure_cleans_up(void **state)
{
	struct node_fx *fx = staged(state);
	struct status st;
	const char *stg = node_fx_path(fx, "stage1");
	const char *tgt = node_fx_path(fx, "t");
	mounter_fake_fail_next(fx->m, MOUNTER_OP_BIND_MOUNT, STATUS_INTERNAL, "bind exploded");
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "bind exploded"));
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_MISSING); /* we created it, we removed it */
	/* A target that existed before is left in place. */
	mounter_fake_add_path(fx->m, tgt, MOUNTER_PATH_DIR);
	mounter_fake_fail_next(fx->m, MOUNTER_OP_BIND_MOUNT, STATUS_NOT_FOUND, "gone");
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_NOT_FOUND);
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_DIR);
	mounter_fake_fail_next(fx->m, MOUNTER_OP_MAKE_DIR, STATUS_ALREADY_EXISTS, "in the way");
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, node_fx_path(fx, "t2"),
						    nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_ALREADY_EXISTS);
}

static void test_publish_block(void **state)
{
	struct node_fx *fx = *state;
	if (!node_fx_have_block_nodes())
		skip();
	struct status st;
	assert_int_equal(node_fx_link(fx, NT_VOL1, DEV1), 0);
	mounter_fake_add_device(fx->m, DEV1, GiB, MOUNTER_CONTENT_OTHER, "data");
	const char *stg = node_fx_path(fx, "stage-b");
	const char *tgt = node_fx_path(fx, "pods/p/volumeDevices/v1");
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_block(SNW), false), &st), STATUS_OK);
	assert_mount(fx, tgt, "devtmpfs", "devtmpfs", false);
	char *src = mounter_device_of_mount(fx->m, tgt, &st);
	assert_string_equal(src, DEV1);
	free(src);
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_BLOCK);
	/* Repeat: OK, no second bind; read-only now: ALREADY_EXISTS. */
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_block(SNW), false), &st), STATUS_OK);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_BIND_MOUNT), 1);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_block(SNW), true), &st),
			 STATUS_ALREADY_EXISTS);
	/* Block needs no staging path; read-only block publish. */
	const char *tgt2 = node_fx_path(fx, "pods/p2/volumeDevices/v1");
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, NULL, tgt2, nt_cap_block(SNW), true), &st), STATUS_OK);
	assert_mount(fx, tgt2, "devtmpfs", "devtmpfs", true);
	/* Another volume's device at the first target. */
	assert_int_equal(node_fx_link(fx, NT_VOL2, DEV2), 0);
	mounter_fake_add_device(fx->m, DEV2, GiB, MOUNTER_CONTENT_BLANK, NULL);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL2, stg, tgt, nt_cap_block(SNW), false), &st),
			 STATUS_ALREADY_EXISTS);
	/* A directory where the device file should go. */
	const char *dir = node_fx_path(fx, "adir");
	mounter_fake_add_path(fx->m, dir, MOUNTER_PATH_DIR);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL2, stg, dir, nt_cap_block(SNW), false), &st),
			 STATUS_ALREADY_EXISTS);
	/* No device for the volume. */
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL3, stg, node_fx_path(fx, "x"), nt_cap_block(SNW), false), &st),
			 STATUS_NOT_FOUND);
	assert_int_equal(kind_of(fx, node_fx_path(fx, "x")), MOUNTER_PATH_MISSING);
	/* Unpublish: unmounted and the file removed. */
	assert_int_equal(unpublish(fx, NT_VOL1, tgt, &st), STATUS_OK);
	assert_int_equal(unpublish(fx, NT_VOL1, tgt2, &st), STATUS_OK);
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_MISSING);
	assert_int_equal(kind_of(fx, tgt2), MOUNTER_PATH_MISSING);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
}

static void test_publish_block_partition_and_hint(void **state)
{
	struct node_fx *fx = *state;
	if (!node_fx_have_block_nodes())
		skip();
	struct status st;
	assert_int_equal(node_fx_link(fx, NT_VOL1, DEV1), 0);
	mounter_fake_add_device(fx->m, DEV1, GiB, MOUNTER_CONTENT_PARTITION_TABLE, "gpt");
	mounter_fake_add_device(fx->m, DEV1 "p3", GiB / 4, MOUNTER_CONTENT_BLANK, NULL);
	const char *tgt = node_fx_path(fx, "b");
	Csi__V1__NodePublishVolumeRequest *r = nt_publish_req(NT_VOL1, NULL, tgt, nt_cap_block(SNW), false);
	nt_publish_ctx(r, "partition", "3");
	nt_publish_pctx(r, "devicePath", "/dev/xvdba");
	assert_int_equal(publish(fx, r, &st), STATUS_OK);
	char *src = mounter_device_of_mount(fx->m, tgt, &st);
	assert_string_equal(src, DEV1 "p3");
	free(src);
	r = nt_publish_req(NT_VOL1, NULL, node_fx_path(fx, "b2"), nt_cap_block(SNW), false);
	nt_publish_ctx(r, "partition", "x");
	assert_int_equal(publish(fx, r, &st), STATUS_INVALID_ARGUMENT);
	assert_int_equal(unpublish(fx, NT_VOL1, tgt, &st), STATUS_OK);
}

static void test_unpublish_leaves_what_is_not_ours(void **state)
{
	struct node_fx *fx = staged(state);
	struct status st;
	const char *tgt = node_fx_path(fx, "t");
	/* An empty directory nothing is mounted on: removed (the CO's retry
	 * after a crash between unmount and rmdir). */
	mounter_fake_add_path(fx->m, tgt, MOUNTER_PATH_DIR);
	assert_int_equal(unpublish(fx, NT_VOL1, tgt, &st), STATUS_OK);
	assert_int_equal(kind_of(fx, tgt), MOUNTER_PATH_MISSING);
	/* A directory with something in it: not ours to delete. */
	char inner[600];
	snprintf(inner, sizeof inner, "%s/precious", tgt);
	mounter_fake_add_path(fx->m, inner, MOUNTER_PATH_FILE);
	assert_int_equal(unpublish(fx, NT_VOL1, tgt, &st), STATUS_FAILED_PRECONDITION);
	assert_int_equal(kind_of(fx, inner), MOUNTER_PATH_FILE);
	/* Unmount failures surface; the target stays. */
	const char *stg = node_fx_path(fx, "stage1");
	const char *t2 = node_fx_path(fx, "t2");
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, t2, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_OK);
	mounter_fake_fail_next(fx->m, MOUNTER_OP_UNMOUNT, STATUS_UNAVAILABLE, "target is busy");
	assert_int_equal(unpublish(fx, NT_VOL1, t2, &st), STATUS_UNAVAILABLE);
	assert_mount(fx, t2, DEV1, "ext4", false);
	mounter_fake_fail_next(fx->m, MOUNTER_OP_REMOVE_PATH, STATUS_INTERNAL, "EIO");
	assert_int_equal(unpublish(fx, NT_VOL1, t2, &st), STATUS_INTERNAL);
	assert_int_equal(unpublish(fx, NT_VOL1, t2, &st), STATUS_OK);
	assert_int_equal(kind_of(fx, t2), MOUNTER_PATH_MISSING);
}

static void test_publish_validation(void **state)
{
	struct node_fx *fx = *state;
	struct status st;
	const char *stg = node_fx_path(fx, "s");
	const char *tgt = node_fx_path(fx, "t");
	struct {
		Csi__V1__NodePublishVolumeRequest *r;
		const char *named;
	} cases[] = {
		{ nt_publish_req(NULL, stg, tgt, nt_cap_mount("ext4", SNW, NULL), false), "volume_id" },
		{ nt_publish_req(NT_VOL1, stg, NULL, nt_cap_mount("ext4", SNW, NULL), false), "target_path" },
		{ nt_publish_req(NT_VOL1, stg, "rel", nt_cap_mount("ext4", SNW, NULL), false), "target_path" },
		{ nt_publish_req(NT_VOL1, stg, "/tmp/outside", nt_cap_mount("ext4", SNW, NULL), false), "target_path" },
		{ nt_publish_req(NT_VOL1, "/tmp/outside", tgt, nt_cap_mount("ext4", SNW, NULL), false),
		  "staging_target_path" },
		{ nt_publish_req(NT_VOL1, stg, node_fx_path(fx, "a/../../x"), nt_cap_mount("ext4", SNW, NULL), false),
		  "target_path" },
		{ nt_publish_req(NT_VOL1, stg, tgt, NULL, false), "volume_capability" },
		{ nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("vfat", SNW, NULL), false), "fs_type" },
		{ nt_publish_req(NT_VOL1, stg, tgt,
				 nt_cap_mount("ext4", CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER, NULL),
				 false),
		  "access_mode" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(publish(fx, cases[i].r, &st), STATUS_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, cases[i].named));
	}
	assert_int_equal(unpublish(fx, NULL, tgt, &st), STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_id"));
	assert_int_equal(unpublish(fx, NT_VOL1, NULL, &st), STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "target_path"));
	assert_int_equal(unpublish(fx, NT_VOL1, "/", &st), STATUS_INVALID_ARGUMENT);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_ANY), 0);
	/* ABORTED while the volume is busy. */
	assert_int_equal(node_acquire(fx->svc, NT_VOL1, &st), 0);
	assert_int_equal(publish(fx, nt_publish_req(NT_VOL1, stg, tgt, nt_cap_mount("ext4", SNW, NULL), false), &st),
			 STATUS_ABORTED);
	assert_int_equal(unpublish(fx, NT_VOL1, tgt, &st), STATUS_ABORTED);
	node_release(fx->svc, NT_VOL1);
	assert_int_equal(unpublish(fx, NT_VOL1, tgt, &st), STATUS_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_mount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_readonly_and_reader_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_preconditions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_target_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_bind_failure_cleans_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_block_partition_and_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpublish_leaves_what_is_not_ours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_validation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
