/*
 * Tests for NodeExpandVolume and NodeGetVolumeStats against the fake mounter.
 * Expand: online growth of a staged+published filesystem after its device
 * grew (capacity_bytes = the device size), raw block (no resize, size
 * reported), NOT_FOUND for a missing or unmounted volume_path,
 * FAILED_PRECONDITION for another volume's mount, OUT_OF_RANGE for a device
 * smaller than required_bytes, INVALID_ARGUMENT for a bad capacity_range, and
 * mapping of resize failures. Stats: bytes and inodes field by field, a
 * filesystem without inode counts, block size, int64 clamping of huge values,
 * the volume condition, NOT_FOUND cases (csi-sanity's relative path
 * included), and no ABORTED from a held volume.
 */
#include "node/node_internal.h"
#include "tests/node/helper_node.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define GiB (1024ll * 1024 * 1024)
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

/* VOL1 on DEV1 (1 GiB ext4) staged at "stage" and published at "pub". */
static struct node_fx *published(void **state)
{
	struct node_fx *fx = *state;
	if (!node_fx_have_block_nodes())
		skip();
	struct status st;
	assert_int_equal(node_fx_link(fx, NT_VOL1, DEV1), 0);
	mounter_fake_add_device(fx->m, DEV1, GiB, MOUNTER_CONTENT_FILESYSTEM, "ext4");
	assert_int_equal(node_call_code(node_stage_volume, fx->svc,
					&nt_stage_req(NT_VOL1, node_fx_path(fx, "stage"), nt_cap_mount("ext4", SNW, NULL))->base,
					&csi__v1__node_stage_volume_response__descriptor, &st),
			 STATUS_OK);
	assert_int_equal(node_call_code(node_publish_volume, fx->svc,
					&nt_publish_req(NT_VOL1, node_fx_path(fx, "stage"), node_fx_path(fx, "pub"),
							nt_cap_mount("ext4", SNW, NULL), true)->base,
					&csi__v1__node_publish_volume_response__descriptor, &st),
			 STATUS_OK);
	return fx;
}

/* Expands; returns capacity_bytes, or -code on failure. */
static long long expand(struct node_fx *fx, Csi__V1__NodeExpandVolumeRequest *r, struct status *st)
{
	ProtobufCMessage *m = node_call(node_expand_volume, fx->svc, &r->base,
					&csi__v1__node_expand_volume_response__descriptor, st);
	if (m == NULL)
		return -st->code;
	long long cap = ((Csi__V1__NodeExpandVolumeResponse *)m)->capacity_bytes;
	protobuf_c_message_free_unpacked(m, NULL);
	return cap;
}

static Csi__V1__NodeGetVolumeStatsResponse *stats(struct node_fx *fx, const char *vol, const char *path,
						  struct status *st)
{
	return (Csi__V1__NodeGetVolumeStatsResponse *)node_call(
		node_get_volume_stats, fx->svc, &nt_stats_req(vol, path)->base,
		&csi__v1__node_get_volume_stats_response__descriptor, st);
}

static void test_expand_online(void **state)
{
	struct node_fx *fx = published(state);
	struct status st;
	const char *pub = node_fx_path(fx, "pub"), *stg = node_fx_path(fx, "stage");
	/* Not grown yet: OK, nothing to do but resize's no-op. */
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, pub, stg, NULL, GiB), &st), GiB);
	mounter_fake_set_device_size(fx->m, DEV1, 3 * GiB);
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, pub, stg, nt_cap_mount("ext4", SNW, NULL), 3 * GiB), &st),
			 3 * GiB);
	assert_int_equal(mounter_fake_fs_size(fx->m, DEV1), 3 * GiB);
	/* Through the staging path alone, and without a capacity range. */
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, stg, NULL, NULL, 0), &st), 3 * GiB);
	/* Required more than the device has: OUT_OF_RANGE, no resize. */
	int resizes = mounter_fake_calls(fx->m, MOUNTER_OP_RESIZE_FS);
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, pub, stg, NULL, 4 * GiB), &st), -STATUS_OUT_OF_RANGE);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_RESIZE_FS), resizes);
}

static void test_expand_failures(void **state)
{
	struct node_fx *fx = published(state);
	struct status st;
	const char *pub = node_fx_path(fx, "pub"), *stg = node_fx_path(fx, "stage");
	mounter_fake_fail_next(fx->m, MOUNTER_OP_RESIZE_FS, STATUS_PERMISSION_DENIED, "resize2fs: Permission denied");
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, pub, stg, NULL, 0), &st), -STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "Permission denied"));
	mounter_fake_fail_next(fx->m, MOUNTER_OP_RESIZE_FS, STATUS_FAILED_PRECONDITION, "no online resize");
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, pub, stg, NULL, 0), &st), -STATUS_FAILED_PRECONDITION);
	/* Missing path; a directory that is not a mount point. */
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, node_fx_path(fx, "nope"), NULL, NULL, 0), &st),
			 -STATUS_NOT_FOUND);
	mounter_fake_add_path(fx->m, node_fx_path(fx, "empty"), MOUNTER_PATH_DIR);
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, node_fx_path(fx, "empty"), NULL, NULL, 0), &st),
			 -STATUS_NOT_FOUND);
	/* The volume's device is gone. */
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL2, pub, NULL, NULL, 0), &st), -STATUS_NOT_FOUND);
	/* csi-sanity's "volume not found": a relative path holds nothing of ours. */
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, "some/path", NULL, NULL, 0), &st), -STATUS_NOT_FOUND);
	/* Another volume asks to grow VOL1's mount. */
	assert_int_equal(node_fx_link(fx, NT_VOL2, DEV2), 0);
	mounter_fake_add_device(fx->m, DEV2, GiB, MOUNTER_CONTENT_BLANK, NULL);
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL2, pub, NULL, NULL, 0), &st), -STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, DEV1));
	/* capacity_range and field checks. */
	Csi__V1__NodeExpandVolumeRequest *r = nt_expand_req(NT_VOL1, pub, NULL, NULL, -1);
	assert_int_equal(expand(fx, r, &st), -STATUS_INVALID_ARGUMENT);
	r = nt_expand_req(NT_VOL1, pub, NULL, NULL, 2 * GiB);
	r->capacity_range->limit_bytes = GiB;
	assert_int_equal(expand(fx, r, &st), -STATUS_INVALID_ARGUMENT);
	assert_int_equal(expand(fx, nt_expand_req(NULL, pub, NULL, NULL, 0), &st), -STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_id"));
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, NULL, NULL, NULL, 0), &st), -STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_path"));
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, pub, "/elsewhere", NULL, 0), &st), -STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "staging_target_path"));
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, pub, NULL, nt_cap_mount("zfs", SNW, NULL), 0), &st),
			 -STATUS_INVALID_ARGUMENT);
	/* ABORTED while busy. */
	assert_int_equal(node_acquire(fx->svc, NT_VOL1, &st), 0);
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, pub, NULL, NULL, 0), &st), -STATUS_ABORTED);
	node_release(fx->svc, NT_VOL1);
}

static void test_expand_block(void **state)
{
	struct node_fx *fx = *state;
	if (!node_fx_have_block_nodes())
		skip();
	struct status st;
	assert_int_equal(node_fx_link(fx, NT_VOL1, DEV1), 0);
	mounter_fake_add_device(fx->m, DEV1, 2 * GiB, MOUNTER_CONTENT_OTHER, "data");
	const char *tgt = node_fx_path(fx, "blk");
	assert_int_equal(node_call_code(node_publish_volume, fx->svc,
					&nt_publish_req(NT_VOL1, NULL, tgt, nt_cap_block(SNW), false)->base,
					&csi__v1__node_publish_volume_response__descriptor, &st),
			 STATUS_OK);
	mounter_fake_set_device_size(fx->m, DEV1, 5 * GiB);
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, tgt, NULL, nt_cap_block(SNW), 0), &st), 5 * GiB);
	/* Without a capability the access type comes from volume_path. */
	assert_int_equal(expand(fx, nt_expand_req(NT_VOL1, tgt, NULL, NULL, 0), &st), 5 * GiB);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_RESIZE_FS), 0);
}

static void test_stats_filesystem(void **state)
{
	struct node_fx *fx = published(state);
	struct status st;
	struct mounter_fs_stats fs = {
		.bytes_total = 1000000, .bytes_used = 300000, .bytes_available = 650000,
		.inodes_total = 5000, .inodes_used = 12, .inodes_available = 4988,
	};
	mounter_fake_set_stats(fx->m, DEV1, &fs);
	const char *paths[] = { node_fx_path(fx, "pub"), node_fx_path(fx, "stage") };
	for (size_t i = 0; i < 2; i++) {
		Csi__V1__NodeGetVolumeStatsResponse *r = stats(fx, NT_VOL1, paths[i], &st);
		assert_non_null(r);
		assert_int_equal(r->n_usage, 2);
		assert_int_equal(r->usage[0]->unit, CSI__V1__VOLUME_USAGE__UNIT__BYTES);
		assert_int_equal(r->usage[0]->total, 1000000);
		assert_int_equal(r->usage[0]->used, 300000);
		assert_int_equal(r->usage[0]->available, 650000);
		assert_int_equal(r->usage[1]->unit, CSI__V1__VOLUME_USAGE__UNIT__INODES);
		assert_int_equal(r->usage[1]->total, 5000);
		assert_int_equal(r->usage[1]->used, 12);
		assert_int_equal(r->usage[1]->available, 4988);
		assert_non_null(r->volume_condition);
		assert_false(r->volume_condition->abnormal);
		assert_true(r->volume_condition->message[0] != '\0');
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	/* No inode figures (a filesystem without them): bytes only. Huge
	 * values are clamped to int64, never negative. */
	fs = (struct mounter_fs_stats){ .bytes_total = UINT64_MAX, .bytes_used = (uint64_t)INT64_MAX + 1,
					.bytes_available = 7 };
	mounter_fake_set_stats(fx->m, DEV1, &fs);
	Csi__V1__NodeGetVolumeStatsResponse *r = stats(fx, NT_VOL1, paths[0], &st);
	assert_non_null(r);
	assert_int_equal(r->n_usage, 1);
	assert_true(r->usage[0]->total == INT64_MAX);
	assert_true(r->usage[0]->used == INT64_MAX);
	assert_int_equal(r->usage[0]->available, 7);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Stats take no in-flight key: a busy volume still answers. */
	assert_int_equal(node_acquire(fx->svc, NT_VOL1, &st), 0);
	r = stats(fx, NT_VOL1, paths[0], &st);
	assert_non_null(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	node_release(fx->svc, NT_VOL1);
	mounter_fake_fail_next(fx->m, MOUNTER_OP_FS_STATS, STATUS_UNKNOWN, "statvfs: EIO");
	assert_null(stats(fx, NT_VOL1, paths[0], &st));
	assert_int_equal(st.code, STATUS_INTERNAL);
}

static void test_stats_block(void **state)
{
	struct node_fx *fx = *state;
	if (!node_fx_have_block_nodes())
		skip();
	struct status st;
	assert_int_equal(node_fx_link(fx, NT_VOL1, DEV1), 0);
	mounter_fake_add_device(fx->m, DEV1, 2 * GiB, MOUNTER_CONTENT_OTHER, "data");
	const char *tgt = node_fx_path(fx, "blk");
	assert_int_equal(node_call_code(node_publish_volume, fx->svc,
					&nt_publish_req(NT_VOL1, NULL, tgt, nt_cap_block(SNW), false)->base,
					&csi__v1__node_publish_volume_response__descriptor, &st),
			 STATUS_OK);
	Csi__V1__NodeGetVolumeStatsResponse *r = stats(fx, NT_VOL1, tgt, &st);
	assert_non_null(r);
	assert_int_equal(r->n_usage, 1);
	assert_int_equal(r->usage[0]->unit, CSI__V1__VOLUME_USAGE__UNIT__BYTES);
	assert_int_equal(r->usage[0]->total, 2 * GiB);
	assert_int_equal(r->usage[0]->used, 0);
	assert_int_equal(r->usage[0]->available, 0);
	assert_non_null(r->volume_condition);
	assert_false(r->volume_condition->abnormal);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Another volume asking about this path: not there. */
	assert_int_equal(node_fx_link(fx, NT_VOL2, DEV2), 0);
	assert_null(stats(fx, NT_VOL2, tgt, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
}

static void test_stats_not_found_and_invalid(void **state)
{
	struct node_fx *fx = *state;
	struct status st;
	assert_null(stats(fx, NT_VOL1, "some/path", &st)); /* csi-sanity's "volume not found" */
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_null(stats(fx, NT_VOL1, node_fx_path(fx, "missing"), &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	mounter_fake_add_path(fx->m, node_fx_path(fx, "dir"), MOUNTER_PATH_DIR);
	assert_null(stats(fx, NT_VOL1, node_fx_path(fx, "dir"), &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_null(stats(fx, NULL, node_fx_path(fx, "dir"), &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_id"));
	assert_null(stats(fx, NT_VOL1, NULL, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_path"));
	assert_null(stats(fx, NT_VOL1, node_fx_path(fx, "../../etc"), &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	mounter_fake_fail_next(fx->m, MOUNTER_OP_MOUNT_INFO, STATUS_INTERNAL, "mountinfo unreadable");
	assert_null(stats(fx, NT_VOL1, node_fx_path(fx, "dir"), &st));
	assert_int_equal(st.code, STATUS_INTERNAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_expand_online, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_filesystem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_not_found_and_invalid, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
