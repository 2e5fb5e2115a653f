/*
 * Tests for the node service's shared checks (node_validate.c,
 * node_service.c): path rules (absolute, ".." components only, kubelet root
 * boundaries), capability rules (modes per access type, fs types, mount flag
 * splitting, de-duplication, "ro" for reader-only modes, the 4 KiB limit),
 * volume_context parsing, partition-aware device comparison, the final status
 * mapping and option joining. All pure: no mounter calls, no devices.
 */
#include "node/node_internal.h"
#include "tests/node/helper_node.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SNW CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER

static void test_paths(void **state)
{
	(void)state;
	struct node_service svc = { 0 };
	struct status st;
	assert_int_equal(node_check_path(&svc, "f", "/a/b", &st), 0);
	assert_int_equal(node_check_path(&svc, "f", "/a/..b/c..", &st), 0);
	assert_int_equal(node_check_path(&svc, "f", "/a/./b", &st), 0);
	static const char *const bad[] = { NULL, "", "a/b", "/a/../b", "/..", "/a/..", "../a" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(node_check_path(&svc, "target_path", bad[i], &st), -1);
		assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, "target_path"));
	}
	char *longp = malloc(PATH_MAX + 2);
	memset(longp, 'a', PATH_MAX + 1);
	longp[0] = '/';
	longp[PATH_MAX + 1] = '\0';
	assert_int_equal(node_check_path(&svc, "f", longp, &st), -1);
	free(longp);
	/* Kubelet root: strictly below it, on a component boundary; a trailing
	 * slash in the configuration changes nothing; "/" bounds nothing. */
	char root[] = "/var/lib/kubelet/";
	svc.kubelet_root = root;
	assert_int_equal(node_check_path(&svc, "f", "/var/lib/kubelet/pods/x", &st), 0);
	assert_int_equal(node_check_path(&svc, "f", "/var/lib/kubelet", &st), -1);
	assert_int_equal(node_check_path(&svc, "f", "/var/lib/kubelet/", &st), -1);
	assert_int_equal(node_check_path(&svc, "f", "/var/lib/kubelet-evil/x", &st), -1);
	assert_non_null(strstr(st.msg, "kubelet root"));
	assert_int_equal(node_check_path(&svc, "f", "/etc/passwd", &st), -1);
	char slash[] = "/";
	svc.kubelet_root = slash;
	assert_int_equal(node_check_path(&svc, "f", "/etc/x", &st), 0);
}

static int check_cap(Csi__V1__VolumeCapability *c, struct node_cap *out, struct status *st)
{
	int rc = node_check_capability(c, "volume_capability", out, st);
	protobuf_c_message_free_unpacked(&c->base, NULL);
	return rc;
}

static void test_capability(void **state)
{
	(void)state;
	struct node_cap cap;
	struct status st;
	static const struct {
		int mode;
		bool block, ok, ro;
	} modes[] = {
		{ CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER, false, true, false },
		{ CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_SINGLE_WRITER, false, true, false },
		{ CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER, false, true, false },
		{ CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY, false, true, true },
		{ CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER, false, false, false },
		{ CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER, true, true, false },
		{ CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY, true, false, false },
		{ CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_SINGLE_WRITER, true, false, false },
		{ CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN, false, false, false },
		{ 42, true, false, false },
	};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		Csi__V1__VolumeCapability *c = modes[i].block ? nt_cap_block(modes[i].mode) : nt_cap_mount("xfs", modes[i].mode, NULL);
		int rc = check_cap(c, &cap, &st);
		assert_int_equal(rc, modes[i].ok ? 0 : -1);
		if (modes[i].ok) {
			assert_int_equal(cap.block, modes[i].block);
			assert_int_equal(cap.reader_only, modes[i].ro);
			assert_string_equal(cap.mount_options, modes[i].ro ? "ro" : "");
			if (!modes[i].block)
				assert_string_equal(cap.fstype, "xfs");
		} else {
			assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
			assert_non_null(strstr(st.msg, "volume_capability.access_mode"));
		}
		node_cap_dispose(&cap);
	}
	static const char *const fstypes[][2] = { { NULL, "ext4" }, { "", "ext4" }, { "ext2", "ext2" },
						  { "ext3", "ext3" }, { "ext4", "ext4" }, { "xfs", "xfs" } };
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(check_cap(nt_cap_mount(fstypes[i][0], SNW, NULL), &cap, &st), 0);
		assert_string_equal(cap.fstype, fstypes[i][1]);
		node_cap_dispose(&cap);
	}
	static const char *const badfs[] = { "btrfs", "ntfs", "EXT4", "ext4 " };
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(check_cap(nt_cap_mount(badfs[i], SNW, NULL), &cap, &st), -1);
		assert_non_null(strstr(st.msg, "fs_type"));
		node_cap_dispose(&cap);
	}
	/* Flags: split on commas, trimmed, empty dropped, first occurrence kept. */
	const char *flags[] = { "noatime, nodev", "", "noatime", "ro", "context=\"system_u:object_r:x:s0\"", NULL };
	assert_int_equal(check_cap(nt_cap_mount("ext4", CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY, flags),
				   &cap, &st), 0);
	assert_string_equal(cap.mount_options, "noatime,nodev,ro,context=\"system_u:object_r:x:s0\"");
	node_cap_dispose(&cap);
	char *big = malloc(5000);
	memset(big, 'a', 4999);
	big[4999] = '\0';
	const char *bigflags[] = { big, NULL };
	assert_int_equal(check_cap(nt_cap_mount("ext4", SNW, bigflags), &cap, &st), -1);
	assert_non_null(strstr(st.msg, "4 KiB"));
	node_cap_dispose(&cap);
	free(big);
	static const char *const forbidden[] = { "bind", "rbind", "remount", "move", "rw,bind" };
	for (size_t i = 0; i < 5; i++) {
		const char *f[] = { forbidden[i], NULL };
		assert_int_equal(check_cap(nt_cap_mount("ext4", SNW, f), &cap, &st), -1);
		assert_non_null(strstr(st.msg, "mount_flags[0]"));
		node_cap_dispose(&cap);
	}
	assert_int_equal(node_check_capability(NULL, "volume_capability", &cap, &st), -1);
	assert_string_equal(st.msg, "volume_capability is required");
	node_cap_dispose(&cap);
}

static void test_format_parsing(void **state)
{
	(void)state;
	struct kvmap_entry kv[] = {
		{ "BLOCKSIZE", "1024" }, { "inodesize", "512" }, { "bytesPerInode", "8192" },
		{ "numberOfInodes", "200192" }, { "ext4BigAlloc", "TRUE" }, { "ext4ClusterSize", "16384" },
		{ "somethingElse", "x" },
	};
	struct kvmap vc = { sizeof kv / sizeof kv[0], kv };
	struct mounter_format_opts fmt;
	struct status st;
	assert_int_equal(node_parse_format(&vc, "ext4", true, &fmt, &st), 0);
	assert_string_equal(fmt.fstype, "ext4");
	assert_int_equal(fmt.block_size, 1024);
	assert_int_equal(fmt.inode_size, 512);
	assert_int_equal(fmt.bytes_per_inode, 8192);
	assert_int_equal(fmt.number_of_inodes, 200192);
	assert_true(fmt.ext4_bigalloc);
	assert_int_equal(fmt.ext4_cluster_size, 16384);
	assert_false(fmt.xfs_legacy); /* legacy xfs applies to xfs only */
	struct kvmap xfs = { 2, kv };
	assert_int_equal(node_parse_format(&xfs, "xfs", true, &fmt, &st), 0);
	assert_true(fmt.xfs_legacy);
	assert_int_equal(fmt.block_size, 1024);
	struct kvmap none = { 0, NULL };
	assert_int_equal(node_parse_format(&none, "ext3", false, &fmt, &st), 0);
	assert_int_equal(fmt.block_size, 0);
	static const char *const bad[][2] = { { "blockSize", "4k" }, { "blockSize", "-1" }, { "blockSize", "99999999" },
					      { "inodeSize", " 256" }, { "numberOfInodes", "0" },
					      { "numberOfInodes", "99999999999999999999999" } };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct kvmap_entry one = { bad[i][0], bad[i][1] };
		struct kvmap m = { 1, &one };
		assert_int_equal(node_parse_format(&m, "ext4", false, &fmt, &st), -1);
		assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, bad[i][0]));
	}
	int part;
	struct kvmap_entry p = { "Partition", "12" };
	struct kvmap pm = { 1, &p };
	assert_int_equal(node_parse_partition(&pm, &part, &st), 0);
	assert_int_equal(part, 12);
	p.value = "";
	assert_int_equal(node_parse_partition(&pm, &part, &st), 0);
	assert_int_equal(part, 0);
	p.value = "1e3";
	assert_int_equal(node_parse_partition(&pm, &part, &st), -1);
}

static void test_helpers(void **state)
{
	(void)state;
	assert_true(node_same_device("/dev/xvdf", "/dev/xvdf"));
	assert_true(node_same_device("/dev/xvdf2", "/dev/xvdf"));
	assert_true(node_same_device("/dev/nvme1n1p2", "/dev/nvme1n1"));
	assert_false(node_same_device("/dev/nvme1n12", "/dev/nvme1n1"));
	assert_false(node_same_device("/dev/nvme1n1p", "/dev/nvme1n1"));
	assert_false(node_same_device("/dev/xvdfa", "/dev/xvdf"));
	assert_false(node_same_device("/dev/loop10", "/dev/loop1"));
	assert_true(node_same_device("/dev/loop1p1", "/dev/loop1"));
	assert_false(node_same_device(NULL, "/dev/loop1"));
	static const struct {
		int in, out;
	} codes[] = {
		{ STATUS_PERMISSION_DENIED, STATUS_INTERNAL }, { STATUS_UNKNOWN, STATUS_INTERNAL },
		{ STATUS_RESOURCE_EXHAUSTED, STATUS_INTERNAL }, { STATUS_NOT_FOUND, STATUS_NOT_FOUND },
		{ STATUS_ALREADY_EXISTS, STATUS_ALREADY_EXISTS }, { STATUS_UNAVAILABLE, STATUS_UNAVAILABLE },
		{ STATUS_FAILED_PRECONDITION, STATUS_FAILED_PRECONDITION },
	};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		struct status st;
		status_set(&st, codes[i].in, "low");
		assert_int_equal(node_fail(&st, "ctx %d", 7), -1);
		assert_int_equal(st.code, codes[i].out);
		assert_string_equal(st.msg, "ctx 7: low");
	}
	struct status st;
	assert_int_equal(node_check_volume_id("", &st), -1);
	assert_int_equal(node_check_volume_id(NULL, &st), -1);
	assert_int_equal(node_check_volume_id("vol-1", &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_capability),
		cmocka_unit_test(test_format_parsing),
		cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
