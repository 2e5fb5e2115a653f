/*
 * Tests for NodeStageVolume and NodeUnstageVolume against the fake mounter:
 * a blank device is formatted and mounted once (a retry is OK without a
 * second mount), formatting parameters, partitions, growth of a filesystem
 * whose device grew while detached, every refusal that protects data (another
 * fs type, a partition table, swap, a device that cannot be proven to be the
 * volume) with no mkfs run, ALREADY_EXISTS for an occupied staging path,
 * NOT_FOUND, ABORTED, mapping of mounter failures, raw block, and the
 * field-naming INVALID_ARGUMENT of each required field. Unstage: unmount only
 * a mount of this volume, not staged is OK, the staging dir stays.
 * Devices are fake, but the by-id links point at the /dev/loopN block nodes
 * (attached or not) because devpath checks link targets are block devices.
 */
#include "node/node_internal.h"
#include "tests/node/helper_node.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define GiB (1024ull * 1024 * 1024)
#define DEV1 "/dev/loop1"
#define DEV2 "/dev/loop2"
#define DEV3 "/dev/loop3"
#define SNW CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER
#define STAGE_DESC csi__v1__node_stage_volume_response__descriptor
#define UNSTAGE_DESC csi__v1__node_unstage_volume_response__descriptor

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

/* The fixture with VOL1 linked to a blank DEV1 (skips without block nodes). */
static struct node_fx *with_dev1(void **state, int content, const char *type)
{
	struct node_fx *fx = *state;
	if (!node_fx_have_block_nodes())
		skip();
	assert_int_equal(node_fx_link(fx, NT_VOL1, DEV1), 0);
	mounter_fake_add_device(fx->m, DEV1, GiB, content, type);
	return fx;
}

static int stage(struct node_fx *fx, Csi__V1__NodeStageVolumeRequest *r, struct status *st)
{
	return node_call_code(node_stage_volume, fx->svc, &r->base, &STAGE_DESC, st);
}

static int stage_simple(struct node_fx *fx, const char *vol, const char *path, const char *fstype,
			struct status *st)
{
	return stage(fx, nt_stage_req(vol, path, nt_cap_mount(fstype, SNW, NULL)), st);
}

static int unstage(struct node_fx *fx, const char *vol, const char *path, struct status *st)
{
	return node_call_code(node_unstage_volume, fx->svc, &nt_unstage_req(vol, path)->base, &UNSTAGE_DESC, st);
}

/* The mount at path: its source and fstype, asserted to exist. */
static void assert_mounted(struct node_fx *fx, const char *path, const char *source, const char *fstype)
{
	struct mounter_mount_info mi;
	struct status st = STATUS_INIT;
	assert_int_equal(mounter_mount_info(fx->m, path, &mi, &st), 0);
	assert_string_equal(mi.source, source);
	assert_string_equal(mi.fstype, fstype);
	mounter_mount_info_dispose(&mi);
}

static void test_stage_blank_formats_once(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_BLANK, NULL);
	struct status st;
	const char *path = node_fx_path(fx, "plugins/stage/vol1");
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_OK);
	assert_int_equal(mounter_fake_formats(fx->m), 1);
	assert_mounted(fx, path, DEV1, "ext4");
	/* The staging dir was missing: created. */
	int kind;
	assert_int_equal(mounter_path_kind(fx->m, path, &kind, &st), 0);
	assert_int_equal(kind, MOUNTER_PATH_DIR);
	/* A retry: OK, no second format or mount. */
	int fam = mounter_fake_calls(fx->m, MOUNTER_OP_FORMAT_AND_MOUNT);
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_OK);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_FORMAT_AND_MOUNT), fam);
	assert_int_equal(mounter_fake_formats(fx->m), 1);
	assert_int_equal(mounter_fake_mount_count(fx->m), 1);
	/* "" fs_type means ext4: still the same staging. */
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "", &st), STATUS_OK);
	assert_int_equal(mounter_fake_mount_count(fx->m), 1);
}

static void test_stage_incompatible_is_already_exists(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_BLANK, NULL);
	struct status st;
	const char *path = node_fx_path(fx, "stage1");
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_OK);
	/* Same volume, another fs type. */
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "xfs", &st), STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, "xfs"));
	/* Another volume at the same staging path. */
	assert_int_equal(node_fx_link(fx, NT_VOL2, DEV2), 0);
	mounter_fake_add_device(fx->m, DEV2, GiB, MOUNTER_CONTENT_BLANK, NULL);
	assert_int_equal(stage_simple(fx, NT_VOL2, path, "ext4", &st), STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, DEV1));
	assert_int_equal(mounter_fake_formats(fx->m), 1); /* DEV2 untouched */
	assert_int_equal(mounter_fake_mount_count(fx->m), 1);
}

static void test_stage_readonly_mount_vs_rw_request(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_FILESYSTEM, "ext4");
	struct status st;
	const char *path = node_fx_path(fx, "stage-ro");
	Csi__V1__NodeStageVolumeRequest *r =
		nt_stage_req(NT_VOL1, path, nt_cap_mount("ext4", CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY, NULL));
	assert_int_equal(stage(fx, r, &st), STATUS_OK);
	struct mounter_mount_info mi;
	assert_int_equal(mounter_mount_info(fx->m, path, &mi, &st), 0);
	assert_true(mi.readonly);
	mounter_mount_info_dispose(&mi);
	/* A read-only stage never grows: no resize even with a bigger device. */
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_RESIZE_FS), 0);
	/* Asking the same path read-write is incompatible. */
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, "read-only"));
}

static void test_stage_blank_reader_only_refused(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_BLANK, NULL);
	struct status st;
	Csi__V1__NodeStageVolumeRequest *r = nt_stage_req(
		NT_VOL1, node_fx_path(fx, "s"),
		nt_cap_mount("ext4", CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY, NULL));
	assert_int_equal(stage(fx, r, &st), STATUS_FAILED_PRECONDITION);
	assert_int_equal(mounter_fake_formats(fx->m), 0);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
}

static void test_stage_xfs_and_mount_flags(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_BLANK, NULL);
	struct status st;
	const char *path = node_fx_path(fx, "s-xfs");
	const char *flags[] = { "noatime", "noatime,nodiratime", " ", NULL };
	assert_int_equal(stage(fx, nt_stage_req(NT_VOL1, path, nt_cap_mount("xfs", SNW, flags)), &st), STATUS_OK);
	struct mounter_mount_info mi;
	assert_int_equal(mounter_mount_info(fx->m, path, &mi, &st), 0);
	assert_string_equal(mi.fstype, "xfs");
	/* Flags split, trimmed, de-duplicated; nouuid added for xfs. */
	assert_string_equal(mi.fs_options, "noatime,nodiratime,nouuid");
	mounter_mount_info_dispose(&mi);
}

static void test_stage_refuses_what_is_not_blank(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_FILESYSTEM, "xfs");
	struct status st;
	const char *path = node_fx_path(fx, "s");
	/* Another filesystem than requested. */
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "xfs"));
	/* A partition table, swap, LUKS. */
	static const struct {
		int content;
		const char *type;
	} cases[] = {
		{ MOUNTER_CONTENT_PARTITION_TABLE, "gpt" },
		{ MOUNTER_CONTENT_PARTITION_TABLE, "dos" },
		{ MOUNTER_CONTENT_OTHER, "swap" },
		{ MOUNTER_CONTENT_OTHER, "crypto_LUKS" },
		{ MOUNTER_CONTENT_OTHER, "LVM2_member" },
		{ MOUNTER_CONTENT_OTHER, "data" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		mounter_fake_add_device(fx->m, DEV1, GiB, cases[i].content, cases[i].type);
		assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_FAILED_PRECONDITION);
		assert_non_null(strstr(st.msg, cases[i].type));
		assert_non_null(strstr(st.msg, NT_VOL1));
	}
	assert_int_equal(mounter_fake_formats(fx->m), 0);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
}

static void test_stage_device_identity(void **state)
{
	struct node_fx *fx = *state;
	if (!node_fx_have_block_nodes())
		skip();
	struct status st;
	const char *path = node_fx_path(fx, "s");
	mounter_fake_add_device(fx->m, DEV2, GiB, MOUNTER_CONTENT_BLANK, NULL);
	mounter_fake_add_device(fx->m, DEV3, GiB, MOUNTER_CONTENT_BLANK, NULL);
	/* Nothing at all: NOT_FOUND. */
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_NOT_FOUND);
	/* devicePath given but nothing proves it is VOL1: refused, no mkfs. */
	Csi__V1__NodeStageVolumeRequest *r = nt_stage_req(NT_VOL1, path, nt_cap_mount("ext4", SNW, NULL));
	nt_stage_pctx(r, "devicePath", DEV3);
	assert_int_equal(stage(fx, r, &st), STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, NT_VOL1));
	/* devicePath names the device another volume's link points to. */
	assert_int_equal(node_fx_link(fx, NT_VOL2, DEV2), 0);
	r = nt_stage_req(NT_VOL1, path, nt_cap_mount("ext4", SNW, NULL));
	nt_stage_pctx(r, "devicePath", DEV2);
	assert_int_equal(stage(fx, r, &st), STATUS_FAILED_PRECONDITION);
	assert_int_equal(mounter_fake_formats(fx->m), 0);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
	/* A malformed volume id cannot name a device. */
	assert_int_equal(stage_simple(fx, "vol-xyz", path, "ext4", &st), STATUS_INVALID_ARGUMENT);
	/* Trusted device paths (Xen): devicePath is taken as given. */
	fx->cfg.trust_device_path = true;
	node_fx_restart(fx);
	r = nt_stage_req(NT_VOL1, path, nt_cap_mount("ext4", SNW, NULL));
	nt_stage_pctx(r, "devicePath", DEV3);
	assert_int_equal(stage(fx, r, &st), STATUS_OK);
	assert_mounted(fx, path, DEV3, "ext4");
}

static void test_stage_format_parameters(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_BLANK, NULL);
	struct status st;
	const char *path = node_fx_path(fx, "s");
	static const struct {
		const char *fstype, *key, *value;
		int code;
		const char *named;
	} cases[] = {
		{ "ext4", "blockSize", "abc", STATUS_INVALID_ARGUMENT, "blockSize" },
		{ "ext4", "inodeSize", "12", STATUS_INVALID_ARGUMENT, "inodeSize" },
		{ "xfs", "bytesPerInode", "8192", STATUS_INVALID_ARGUMENT, "bytesPerInode" },
		{ "xfs", "numberOfInodes", "1000", STATUS_INVALID_ARGUMENT, "numberOfInodes" },
		{ "ext3", "ext4BigAlloc", "true", STATUS_INVALID_ARGUMENT, "ext4BigAlloc" },
		{ "ext4", "ext4ClusterSize", "16384", STATUS_INVALID_ARGUMENT, "ext4ClusterSize" },
		{ "ext4", "ext4BigAlloc", "yes", STATUS_INVALID_ARGUMENT, "ext4BigAlloc" },
		{ "ext4", "ext4EncryptionSupport", "true", STATUS_INVALID_ARGUMENT, "ext4EncryptionSupport" },
		{ "ext4", "partition", "-1", STATUS_INVALID_ARGUMENT, "partition" },
		{ "ext4", "partition", "one", STATUS_INVALID_ARGUMENT, "partition" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		Csi__V1__NodeStageVolumeRequest *r = nt_stage_req(NT_VOL1, path, nt_cap_mount(cases[i].fstype, SNW, NULL));
		nt_stage_ctx(r, cases[i].key, cases[i].value);
		assert_int_equal(stage(fx, r, &st), cases[i].code);
		assert_non_null(strstr(st.msg, cases[i].named));
	}
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_FORMAT_AND_MOUNT), 0);
	/* Accepted in upstream's lower-cased form too; unknown keys ignored. */
	Csi__V1__NodeStageVolumeRequest *r = nt_stage_req(NT_VOL1, path, nt_cap_mount("ext4", SNW, NULL));
	nt_stage_ctx(r, "blocksize", "4096");
	nt_stage_ctx(r, "inodeSize", "256");
	nt_stage_ctx(r, "bytesPerInode", "16384");
	nt_stage_ctx(r, "ext4bigalloc", "true");
	nt_stage_ctx(r, "ext4ClusterSize", "16384");
	nt_stage_ctx(r, "blockattachuntilinitialized", "false");
	assert_int_equal(stage(fx, r, &st), STATUS_OK);
	assert_int_equal(mounter_fake_formats(fx->m), 1);
}

static void test_stage_partition(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_PARTITION_TABLE, "gpt");
	struct status st;
	const char *path = node_fx_path(fx, "s");
	mounter_fake_add_device(fx->m, DEV1 "p1", GiB / 2, MOUNTER_CONTENT_FILESYSTEM, "ext4");
	Csi__V1__NodeStageVolumeRequest *r = nt_stage_req(NT_VOL1, path, nt_cap_mount("ext4", SNW, NULL));
	nt_stage_ctx(r, "partition", "2");
	assert_int_equal(stage(fx, r, &st), STATUS_NOT_FOUND);
	r = nt_stage_req(NT_VOL1, path, nt_cap_mount("ext4", SNW, NULL));
	nt_stage_ctx(r, "partition", "1");
	assert_int_equal(stage(fx, r, &st), STATUS_OK);
	assert_mounted(fx, path, DEV1 "p1", "ext4");
	/* Partition "0" is the whole device, which holds a table: refused. */
	r = nt_stage_req(NT_VOL1, node_fx_path(fx, "whole"), nt_cap_mount("ext4", SNW, NULL));
	nt_stage_ctx(r, "partition", "0");
	assert_int_equal(stage(fx, r, &st), STATUS_FAILED_PRECONDITION);
	/* Unstage compares the mount with the volume's device: a partition of
	 * it counts as the volume. */
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_OK);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
}

static void test_stage_grows_when_device_grew(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_FILESYSTEM, "ext4");
	struct status st;
	const char *path = node_fx_path(fx, "s");
	mounter_fake_set_device_size(fx->m, DEV1, 2 * GiB);
	assert_int_equal(mounter_fake_fs_size(fx->m, DEV1), GiB);
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_OK);
	assert_int_equal(mounter_fake_formats(fx->m), 0);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_RESIZE_FS), 1);
	assert_int_equal(mounter_fake_fs_size(fx->m, DEV1), 2 * GiB);
	/* Full size already: no resize on a retry. */
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_OK);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_RESIZE_FS), 1);
}

static void test_stage_grow_failure_unmounts(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_FILESYSTEM, "ext4");
	struct status st;
	const char *path = node_fx_path(fx, "s");
	mounter_fake_set_device_size(fx->m, DEV1, 2 * GiB);
	mounter_fake_fail_next(fx->m, MOUNTER_OP_RESIZE_FS, STATUS_PERMISSION_DENIED, "resize2fs: Permission denied");
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_INTERNAL);
	assert_non_null(strstr(st.msg, "Permission denied"));
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
	/* The retry converges. */
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_OK);
	assert_int_equal(mounter_fake_fs_size(fx->m, DEV1), 2 * GiB);
}

static void test_stage_mounter_failures_mapped(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_BLANK, NULL);
	struct status st;
	static const struct {
		int op, code, want;
	} cases[] = {
		{ MOUNTER_OP_FORMAT_AND_MOUNT, STATUS_UNKNOWN, STATUS_INTERNAL },
		{ MOUNTER_OP_FORMAT_AND_MOUNT, STATUS_PERMISSION_DENIED, STATUS_INTERNAL },
		{ MOUNTER_OP_FORMAT_AND_MOUNT, STATUS_DEADLINE_EXCEEDED, STATUS_DEADLINE_EXCEEDED },
		{ MOUNTER_OP_FORMAT_AND_MOUNT, STATUS_FAILED_PRECONDITION, STATUS_FAILED_PRECONDITION },
		{ MOUNTER_OP_MOUNT_INFO, STATUS_INTERNAL, STATUS_INTERNAL },
		{ MOUNTER_OP_PATH_KIND, STATUS_INTERNAL, STATUS_INTERNAL },
		{ MOUNTER_OP_MAKE_DIR, STATUS_INTERNAL, STATUS_INTERNAL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char rel[32];
		snprintf(rel, sizeof rel, "s%zu", i); /* fresh: make_dir runs each time */
		mounter_fake_fail_next(fx->m, cases[i].op, cases[i].code, "injected");
		assert_int_equal(stage_simple(fx, NT_VOL1, node_fx_path(fx, rel), "ext4", &st), cases[i].want);
		assert_non_null(strstr(st.msg, "injected"));
		assert_non_null(strstr(st.msg, NT_VOL1));
		assert_int_equal(mounter_fake_mount_count(fx->m), 0);
	}
	/* The staging path is a file: not a place to mount a filesystem. */
	mounter_fake_add_path(fx->m, node_fx_path(fx, "file"), MOUNTER_PATH_FILE);
	assert_int_equal(stage_simple(fx, NT_VOL1, node_fx_path(fx, "file"), "ext4", &st), STATUS_ALREADY_EXISTS);
	assert_int_equal(mounter_fake_formats(fx->m), 0);
}

static void test_stage_block(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_OTHER, "data");
	struct status st;
	const char *path = node_fx_path(fx, "s");
	Csi__V1__NodeStageVolumeRequest *r = nt_stage_req(NT_VOL1, path, nt_cap_block(SNW));
	nt_stage_ctx(r, "blockSize", "4096"); /* formatting parameters do not apply: ignored */
	assert_int_equal(stage(fx, r, &st), STATUS_OK);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
	assert_int_equal(mounter_fake_formats(fx->m), 0);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_PROBE), 0);
	/* The device goes to the user as it is: any claim on an unfinished
	 * format of ours is dropped first, and failing to drop it fails. */
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_DROP_FORMAT_CLAIM), 1);
	mounter_fake_fail_next(fx->m, MOUNTER_OP_DROP_FORMAT_CLAIM, STATUS_INTERNAL, "format claim: remove: I/O error");
	assert_int_equal(stage(fx, nt_stage_req(NT_VOL1, path, nt_cap_block(SNW)), &st), STATUS_INTERNAL);
	int drops = mounter_fake_calls(fx->m, MOUNTER_OP_DROP_FORMAT_CLAIM);
	/* Multi-attach block is fine; the device must exist though. */
	r = nt_stage_req(NT_VOL1, path, nt_cap_block(CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER));
	assert_int_equal(stage(fx, r, &st), STATUS_OK);
	assert_int_equal(stage(fx, nt_stage_req(NT_VOL2, path, nt_cap_block(SNW)), &st), STATUS_NOT_FOUND);
	/* Unstage of a block volume: nothing mounted, OK. */
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_OK);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_DROP_FORMAT_CLAIM), drops + 1);
}

static void test_stage_validation(void **state)
{
	struct node_fx *fx = *state;
	struct status st;
	const char *ok = node_fx_path(fx, "s");
	static const int modes_bad[] = {
		CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN,
		CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY,
		CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_SINGLE_WRITER,
		CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER,
	};
	for (size_t i = 0; i < sizeof modes_bad / sizeof modes_bad[0]; i++) {
		assert_int_equal(stage(fx, nt_stage_req(NT_VOL1, ok, nt_cap_mount("ext4", modes_bad[i], NULL)), &st),
				 STATUS_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, "volume_capability.access_mode"));
	}
	struct {
		Csi__V1__NodeStageVolumeRequest *r;
		const char *named;
	} cases[] = {
		{ nt_stage_req(NULL, ok, nt_cap_mount("ext4", SNW, NULL)), "volume_id" },
		{ nt_stage_req(NT_VOL1, NULL, nt_cap_mount("ext4", SNW, NULL)), "staging_target_path" },
		{ nt_stage_req(NT_VOL1, "relative/path", nt_cap_mount("ext4", SNW, NULL)), "staging_target_path" },
		{ nt_stage_req(NT_VOL1, node_fx_path(fx, "a/../../../etc"), nt_cap_mount("ext4", SNW, NULL)),
		  "staging_target_path" },
		{ nt_stage_req(NT_VOL1, "/var/tmp/elsewhere", nt_cap_mount("ext4", SNW, NULL)), "kubelet root" },
		{ nt_stage_req(NT_VOL1, ok, NULL), "volume_capability" },
		{ nt_stage_req(NT_VOL1, ok, nt_cap_mount("btrfs", SNW, NULL)), "volume_capability.mount.fs_type" },
		{ nt_stage_req(NT_VOL1, ok, nt_cap_mount("ext4", SNW, (const char *[]){ "rw", "bind", NULL })),
		  "mount_flags[1]" },
		{ nt_stage_req(NT_VOL1, ok, nt_cap_mount("ext4", SNW, (const char *[]){ "remount,ro", NULL })),
		  "mount_flags[0]" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(stage(fx, cases[i].r, &st), STATUS_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, cases[i].named));
	}
	/* No access_mode; no access type. */
	Csi__V1__VolumeCapability *c = nt_cap_mount("ext4", SNW, NULL);
	protobuf_c_message_free_unpacked(&c->access_mode->base, NULL);
	c->access_mode = NULL;
	assert_int_equal(stage(fx, nt_stage_req(NT_VOL1, ok, c), &st), STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_capability.access_mode is required"));
	c = nt_cap_mount("ext4", SNW, NULL);
	protobuf_c_message_free_unpacked(&c->mount->base, NULL);
	c->mount = NULL;
	c->access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE__NOT_SET;
	assert_int_equal(stage(fx, nt_stage_req(NT_VOL1, ok, c), &st), STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_capability.access_type"));
	/* Nothing reached the mounter. */
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_ANY), 0);
}

static void test_stage_aborted_while_busy(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_BLANK, NULL);
	struct status st;
	const char *path = node_fx_path(fx, "s");
	assert_int_equal(node_acquire(fx->svc, NT_VOL1, &st), 0);
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_ABORTED);
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_ABORTED);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_ANY), 0);
	/* Other volumes are not held up. */
	assert_int_equal(stage_simple(fx, NT_VOL2, path, "ext4", &st), STATUS_NOT_FOUND);
	node_release(fx->svc, NT_VOL1);
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_OK);
	/* Every path released the key: a second call is not ABORTED. */
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_OK);
	assert_int_equal(node_acquire(fx->svc, NT_VOL1, &st), 0);
	node_release(fx->svc, NT_VOL1);
}

static void test_stage_caller_gone(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_BLANK, NULL);
	struct status st = STATUS_INIT;
	Csi__V1__NodeStageVolumeRequest *r = nt_stage_req(NT_VOL1, node_fx_path(fx, "s"), nt_cap_mount("ext4", SNW, NULL));
	atomic_bool cancelled = true;
	struct rpc_ctx rc = { .method = "t", .deadline_ms = RPC_NO_DEADLINE, .cancelled = &cancelled };
	ProtobufCMessage *resp = NULL;
	assert_int_equal(node_stage_volume(fx->svc, &rc, &r->base, &resp, &st), -1);
	assert_null(resp);
	assert_int_equal(st.code, STATUS_CANCELLED);
	atomic_store(&cancelled, false);
	rc.deadline_ms = rpc_now_ms() - 1;
	assert_int_equal(node_stage_volume(fx->svc, &rc, &r->base, &resp, &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_int_equal(mounter_fake_formats(fx->m), 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_unstage(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_BLANK, NULL);
	struct status st;
	const char *path = node_fx_path(fx, "s");
	/* Not staged, path missing or present: OK. */
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_OK);
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_OK);
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_OK);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
	/* The staging dir is the CO's: it stays. */
	int kind;
	assert_int_equal(mounter_path_kind(fx->m, path, &kind, &st), 0);
	assert_int_equal(kind, MOUNTER_PATH_DIR);
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_OK);
	/* Restage: the filesystem is kept. */
	assert_int_equal(stage_simple(fx, NT_VOL1, path, "ext4", &st), STATUS_OK);
	assert_int_equal(mounter_fake_formats(fx->m), 1);
	/* Another volume's unstage of this path is refused, mount kept. */
	assert_int_equal(node_fx_link(fx, NT_VOL2, DEV2), 0);
	assert_int_equal(unstage(fx, NT_VOL2, path, &st), STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, DEV1));
	assert_int_equal(mounter_fake_mount_count(fx->m), 1);
	/* Busy and broken mount table. */
	mounter_fake_fail_next(fx->m, MOUNTER_OP_UNMOUNT, STATUS_UNAVAILABLE, "target is busy");
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_UNAVAILABLE);
	mounter_fake_fail_next(fx->m, MOUNTER_OP_MOUNT_INFO, STATUS_INTERNAL, "mountinfo unreadable");
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_INTERNAL);
	assert_int_equal(mounter_fake_mount_count(fx->m), 1);
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_OK);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
}

static void test_unstage_stacked_and_detached(void **state)
{
	struct node_fx *fx = with_dev1(state, MOUNTER_CONTENT_FILESYSTEM, "ext4");
	struct status st;
	const char *path = node_fx_path(fx, "s");
	mounter_fake_add_path(fx->m, path, MOUNTER_PATH_DIR);
	assert_int_equal(mounter_mount(fx->m, DEV1, path, "ext4", NULL, &st), 0);
	assert_int_equal(mounter_mount(fx->m, DEV1, path, "ext4", NULL, &st), 0);
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_OK);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
	/* The volume's link is gone (detached under us): the mount is still
	 * removed, nothing proves it is someone else's. */
	assert_int_equal(mounter_mount(fx->m, DEV1, path, "ext4", NULL, &st), 0);
	char link[512];
	snprintf(link, sizeof link, "%s/%svol0123456789abcdef0", fx->by_id, "nvme-Amazon_Elastic_Block_Store_");
	assert_int_equal(unlink(link), 0);
	assert_int_equal(unstage(fx, NT_VOL1, path, &st), STATUS_OK);
	assert_int_equal(mounter_fake_mount_count(fx->m), 0);
}

static void test_unstage_validation(void **state)
{
	struct node_fx *fx = *state;
	struct status st;
	assert_int_equal(unstage(fx, NULL, node_fx_path(fx, "s"), &st), STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_id"));
	assert_int_equal(unstage(fx, NT_VOL1, NULL, &st), STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "staging_target_path"));
	assert_int_equal(unstage(fx, NT_VOL1, "/etc", &st), STATUS_INVALID_ARGUMENT);
	assert_int_equal(unstage(fx, NT_VOL1, node_fx_path(fx, ".."), &st), STATUS_INVALID_ARGUMENT);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_ANY), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stage_blank_formats_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_incompatible_is_already_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_readonly_mount_vs_rw_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_blank_reader_only_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_xfs_and_mount_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_refuses_what_is_not_blank, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_device_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_format_parameters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_partition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_grows_when_device_grew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_grow_failure_unmounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_mounter_failures_mapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_aborted_while_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_caller_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unstage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unstage_stacked_and_detached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unstage_validation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
