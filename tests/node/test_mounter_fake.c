/*
 * Tests for the fake mounter (node/mounter_fake.c) — it must keep the same
 * contract as the Linux one so handler tests mean something — and for the
 * pure helpers in mounter_linux.c: mkfs argv building, option validation per
 * fstype, superblock size parsing, option lookup.
 */
#include "node/mounter.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define GiB (1024ull * 1024 * 1024)

static char *join_argv(const char **argv)
{
	static char out[1024];
	out[0] = '\0';
	for (int i = 0; argv[i]; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, argv[i]);
	}
	return out;
}

static void test_format_args(void **state)
{
	(void)state;
	const char *argv[32];
	char scratch[256];
	struct status st = STATUS_INIT;
	assert_int_equal(mounter_format_args(NULL, "/dev/x", argv, 32, scratch, sizeof scratch, &st), 6);
	assert_string_equal(join_argv(argv), "mkfs.ext4 -m 0 -E lazy_itable_init=1,lazy_journal_init=1,nodiscard /dev/x");

	struct mounter_format_opts e = { .fstype = "ext4", .block_size = 4096, .inode_size = 512, .bytes_per_inode = 8192,
					 .number_of_inodes = 1000, .ext4_bigalloc = true, .ext4_cluster_size = 65536 };
	assert_true(mounter_format_args(&e, "/dev/x", argv, 32, scratch, sizeof scratch, &st) > 0);
	assert_string_equal(join_argv(argv), "mkfs.ext4 -m 0 -E lazy_itable_init=1,lazy_journal_init=1,nodiscard "
					     "-b 4096 -I 512 -i 8192 -N 1000 -O bigalloc -C 65536 /dev/x");
	/* Never a force flag: the tools' own checks are a second safety net. */
	for (int i = 0; argv[i]; i++) {
		assert_string_not_equal(argv[i], "-F");
		assert_string_not_equal(argv[i], "-f");
	}

	struct mounter_format_opts x = { .fstype = "xfs", .block_size = 4096, .inode_size = 512 };
	assert_true(mounter_format_args(&x, "/dev/x", argv, 32, scratch, sizeof scratch, &st) > 0);
	assert_string_equal(join_argv(argv), "mkfs.xfs -K -b size=4096 -i size=512 /dev/x");
	x.xfs_legacy = true;
	assert_true(mounter_format_args(&x, "/dev/x", argv, 32, scratch, sizeof scratch, &st) > 0);
	assert_string_equal(join_argv(argv), "mkfs.xfs -K -b size=4096 -m bigtime=0,inobtcount=0,reflink=0 -i size=512,nrext64=0 /dev/x");

	struct mounter_format_opts e3 = { .fstype = "ext3" };
	assert_true(mounter_format_args(&e3, "/dev/x", argv, 32, scratch, sizeof scratch, &st) > 0);
	assert_string_equal(argv[0], "mkfs.ext3");

	/* Misuse → INVALID_ARGUMENT naming the problem. */
	struct mounter_format_opts bad[] = {
		{ .fstype = "btrfs" },
		{ .fstype = "xfs", .bytes_per_inode = 4096 },
		{ .fstype = "xfs", .number_of_inodes = 10 },
		{ .fstype = "xfs", .ext4_bigalloc = true },
		{ .fstype = "ext3", .ext4_bigalloc = true },
		{ .fstype = "ext4", .ext4_cluster_size = 16384 },
		{ .fstype = "ext4", .xfs_legacy = true },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		status_clear(&st);
		assert_int_equal(mounter_format_args(&bad[i], "/dev/x", argv, 32, scratch, sizeof scratch, &st), -1);
		assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	}
	/* Too small an argv is an error, not an overflow. */
	assert_int_equal(mounter_format_args(&e, "/dev/x", argv, 4, scratch, sizeof scratch, &st), -1);
}

static void test_fstype_and_options(void **state)
{
	(void)state;
	assert_string_equal(mounter_fstype_canonical(NULL), "ext4");
	assert_string_equal(mounter_fstype_canonical(""), "ext4");
	assert_string_equal(mounter_fstype_canonical("xfs"), "xfs");
	assert_string_equal(mounter_fstype_canonical("ext2"), "ext2");
	assert_null(mounter_fstype_canonical("ntfs"));
	assert_null(mounter_fstype_canonical("EXT4"));

	assert_true(mounter_options_have("rw,ro", "ro"));
	assert_true(mounter_options_have("ro", "ro"));
	assert_true(mounter_options_have("a,context=\"x\",b", "context"));
	assert_false(mounter_options_have("errors=remount-ro", "ro"));
	assert_false(mounter_options_have("rox,nouuid2", "ro"));
	assert_false(mounter_options_have("", "ro"));
	assert_false(mounter_options_have(NULL, "ro"));
}

static void test_superblock_size(void **state)
{
	(void)state;
	static unsigned char sb[4096];
	memset(sb, 0, sizeof sb);
	assert_int_equal(mounter_fs_size_from_superblock(sb, sizeof sb), 0);
	/* ext4, 4 KiB blocks, 262144 blocks = 1 GiB */
	unsigned char *e = sb + 1024;
	e[0x38] = 0x53;
	e[0x39] = 0xEF;
	e[0x18] = 2;
	e[4] = 0x00;
	e[5] = 0x00;
	e[6] = 0x04;
	assert_int_equal(mounter_fs_size_from_superblock(sb, sizeof sb), 1 * GiB);
	/* 64bit feature: the high word counts; without it, it is ignored. */
	e[0x150] = 1;
	assert_int_equal(mounter_fs_size_from_superblock(sb, sizeof sb), 1 * GiB);
	e[0x60] = 0x80;
	assert_int_equal(mounter_fs_size_from_superblock(sb, sizeof sb), (1ull << 32) * 4096 + 1 * GiB);
	e[0x18] = 9; /* absurd block size */
	assert_int_equal(mounter_fs_size_from_superblock(sb, sizeof sb), 0);
	assert_int_equal(mounter_fs_size_from_superblock(sb, 100), 0);

	memset(sb, 0, sizeof sb);
	memcpy(sb, "XFSB", 4);
	sb[6] = 0x10; /* blocksize 4096 (be32) */
	sb[13] = 0x04; /* dblocks 0x40000 (be64) → 1 GiB */
	assert_int_equal(mounter_fs_size_from_superblock(sb, sizeof sb), 1 * GiB);
	sb[6] = 0x11; /* not a power of two */
	assert_int_equal(mounter_fs_size_from_superblock(sb, sizeof sb), 0);
}

static struct mounter *new_fake(void)
{
	struct mounter *m = mounter_fake_new();
	mounter_fake_add_device(m, "/dev/nvme1n1", 10 * GiB, MOUNTER_CONTENT_BLANK, NULL);
	mounter_fake_add_device(m, "/dev/nvme2n1", 5 * GiB, MOUNTER_CONTENT_FILESYSTEM, "xfs");
	mounter_fake_add_device(m, "/dev/nvme3n1", 5 * GiB, MOUNTER_CONTENT_PARTITION_TABLE, "gpt");
	return m;
}

static void test_fake_format_and_mount(void **state)
{
	(void)state;
	struct mounter *m = new_fake();
	struct status st = STATUS_INIT;
	bool formatted = false;
	const char *stage = "/var/lib/kubelet/plugins/stage/vol";
	/* The target must exist first, as on Linux. */
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme1n1", stage, NULL, NULL, &formatted, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(mounter_fake_formats(m), 0);
	assert_int_equal(mounter_make_dir(m, stage, &st), 0);
	int kind;
	assert_int_equal(mounter_path_kind(m, "/var/lib/kubelet", &kind, &st), 0);
	assert_int_equal(kind, MOUNTER_PATH_DIR);

	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme1n1", stage, NULL, "noatime", &formatted, &st), 0);
	assert_true(formatted);
	assert_int_equal(mounter_fake_formats(m), 1);
	assert_int_equal(mounter_fake_mount_count(m), 1);
	struct mounter_mount_info mi;
	assert_int_equal(mounter_mount_info(m, stage, &mi, &st), 0);
	assert_string_equal(mi.source, "/dev/nvme1n1");
	assert_string_equal(mi.fstype, "ext4");
	assert_true(mounter_options_have(mi.fs_options, "noatime"));
	mounter_mount_info_dispose(&mi);
	/* Again: idempotent, no second format or mount. */
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme1n1", stage, NULL, "noatime", &formatted, &st), 0);
	assert_false(formatted);
	assert_int_equal(mounter_fake_mount_count(m), 1);
	assert_int_equal(mounter_fake_calls(m, MOUNTER_OP_FORMAT_AND_MOUNT), 3);
	/* Another device onto the same target: ALREADY_EXISTS. */
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme2n1", stage, NULL, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_ALREADY_EXISTS);

	/* Refusals: other fs, partition table, blank read-only. */
	const char *t2 = "/stage2";
	mounter_fake_add_path(m, t2, MOUNTER_PATH_DIR);
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme2n1", t2, NULL, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "xfs"));
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme3n1", t2, NULL, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "gpt"));
	mounter_fake_add_device(m, "/dev/nvme4n1", GiB, MOUNTER_CONTENT_BLANK, NULL);
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme4n1", t2, NULL, "ro", NULL, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	struct mounter_format_opts bad = { .fstype = "xfs", .ext4_bigalloc = true };
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme4n1", t2, &bad, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(mounter_format_and_mount(m, "/dev/nope", t2, NULL, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(mounter_fake_formats(m), 1);

	/* Requested xfs on the xfs device: mounted with nouuid. */
	struct mounter_format_opts xfs = { .fstype = "xfs" };
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme2n1", t2, &xfs, NULL, &formatted, &st), 0);
	assert_false(formatted);
	assert_int_equal(mounter_mount_info(m, t2, &mi, &st), 0);
	assert_true(mounter_options_have(mi.fs_options, "nouuid"));
	mounter_mount_info_dispose(&mi);
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(m, "/dev/nvme1n1", &pr, &st), 0);
	assert_int_equal(pr.content, MOUNTER_CONTENT_FILESYSTEM);
	assert_string_equal(pr.type, "ext4");
	mounter_free(m);
}

static void test_fake_bind_unmount_remove(void **state)
{
	(void)state;
	struct mounter *m = new_fake();
	struct status st = STATUS_INIT;
	const char *stage = "/stage", *pub = "/pods/a/vol";
	mounter_fake_add_path(m, stage, MOUNTER_PATH_DIR);
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme1n1", stage, NULL, NULL, NULL, &st), 0);
	assert_int_equal(mounter_make_dir(m, pub, &st), 0);
	assert_int_equal(mounter_bind_mount(m, stage, pub, true, &st), 0);
	struct mounter_mount_info mi;
	assert_int_equal(mounter_mount_info(m, pub, &mi, &st), 0);
	assert_true(mi.readonly);
	assert_string_equal(mi.source, "/dev/nvme1n1");
	mounter_mount_info_dispose(&mi);
	char *dev = mounter_device_of_mount(m, pub, &st);
	assert_string_equal(dev, "/dev/nvme1n1");
	free(dev);
	assert_int_equal(mounter_remove_path(m, pub, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(mounter_unmount(m, pub, &st), 0);
	assert_int_equal(mounter_unmount(m, pub, &st), 0); /* not mounted: OK */
	assert_int_equal(mounter_unmount(m, "/never/existed", &st), 0);
	assert_int_equal(mounter_remove_path(m, "/pods/a", &st), -1); /* not empty */
	assert_int_equal(mounter_remove_path(m, pub, &st), 0);
	assert_int_equal(mounter_remove_path(m, pub, &st), 0);
	bool mounted = true;
	assert_int_equal(mounter_is_mounted(m, pub, &mounted, &st), 0);
	assert_false(mounted);

	/* Raw block: a device node bound onto a file. */
	const char *blk = "/pods/b/dev/vol";
	assert_int_equal(mounter_bind_mount(m, "/dev/nvme2n1", blk, false, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(mounter_make_file(m, blk, &st), 0);
	assert_int_equal(mounter_make_dir(m, blk, &st), -1);
	assert_int_equal(st.code, STATUS_ALREADY_EXISTS);
	assert_int_equal(mounter_bind_mount(m, "/dev/nvme2n1", blk, false, &st), 0);
	int kind;
	assert_int_equal(mounter_path_kind(m, blk, &kind, &st), 0);
	assert_int_equal(kind, MOUNTER_PATH_BLOCK);
	dev = mounter_device_of_mount(m, blk, &st);
	assert_string_equal(dev, "/dev/nvme2n1");
	free(dev);
	uint64_t size;
	assert_int_equal(mounter_device_size(m, blk, &size, &st), 0);
	assert_int_equal(size, 5 * GiB);
	assert_int_equal(mounter_make_file(m, blk, &st), 0);
	assert_int_equal(mounter_unmount(m, blk, &st), 0);
	assert_int_equal(mounter_fake_mount_count(m), 1);
	mounter_free(m);
}

static void test_fake_resize_stats_and_failures(void **state)
{
	(void)state;
	struct mounter *m = new_fake();
	struct status st = STATUS_INIT;
	mounter_fake_add_path(m, "/s", MOUNTER_PATH_DIR);
	assert_int_equal(mounter_resize_fs(m, "/dev/nvme1n1", "/s", &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(mounter_format_and_mount(m, "/dev/nvme1n1", "/s", NULL, NULL, NULL, &st), 0);
	mounter_fake_set_device_size(m, "/dev/nvme1n1", 20 * GiB);
	assert_int_equal(mounter_fake_fs_size(m, "/dev/nvme1n1"), 10 * GiB);
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(m, "/dev/nvme1n1", &pr, &st), 0);
	assert_int_equal(pr.fs_bytes, 10 * GiB);
	assert_int_equal(mounter_resize_fs(m, "/dev/nvme2n1", "/s", &st), -1);
	assert_int_equal(mounter_resize_fs(m, "/dev/nvme1n1", "/s", &st), 0);
	assert_int_equal(mounter_fake_fs_size(m, "/dev/nvme1n1"), 20 * GiB);

	struct mounter_fs_stats fs;
	assert_int_equal(mounter_fs_stats(m, "/s", &fs, &st), 0);
	assert_int_equal(fs.bytes_total, 20 * GiB);
	struct mounter_fs_stats want = { 100, 40, 60, 10, 4, 6 };
	mounter_fake_set_stats(m, "/dev/nvme1n1", &want);
	assert_int_equal(mounter_fs_stats(m, "/s", &fs, &st), 0);
	assert_memory_equal(&fs, &want, sizeof fs);
	assert_int_equal(mounter_fs_stats(m, "/missing", &fs, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	uint64_t size;
	assert_int_equal(mounter_device_size(m, "/s", &size, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(mounter_device_size(m, "/dev/none", &size, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);

	/* Injected failures: one-shot, per operation or any. */
	mounter_fake_fail_next(m, MOUNTER_OP_UNMOUNT, STATUS_UNAVAILABLE, "device busy");
	bool mounted = false;
	assert_int_equal(mounter_is_mounted(m, "/s", &mounted, &st), 0);
	assert_true(mounted);
	assert_int_equal(mounter_unmount(m, "/s", &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_string_equal(st.msg, "device busy");
	assert_int_equal(mounter_fake_mount_count(m), 1);
	mounter_fake_fail_next(m, MOUNTER_OP_ANY, STATUS_INTERNAL, NULL);
	assert_int_equal(mounter_path_kind(m, "/s", &(int){ 0 }, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_int_equal(mounter_unmount(m, "/s", &st), 0);
	assert_int_equal(mounter_fake_mount_count(m), 0);
	assert_int_equal(mounter_fake_calls(m, MOUNTER_OP_UNMOUNT), 2);
	assert_true(mounter_fake_calls(m, MOUNTER_OP_ANY) > 10);
	mounter_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_args),
		cmocka_unit_test(test_fstype_and_options),
		cmocka_unit_test(test_superblock_size),
		cmocka_unit_test(test_fake_format_and_mount),
		cmocka_unit_test(test_fake_bind_unmount_remove),
		cmocka_unit_test(test_fake_resize_stats_and_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
