/*
 * Tests for node/mounter_linux on real loop devices: formatting blank devices
 * (ext4, xfs), never reformatting (an existing fs keeps its files), refusing
 * every kind of content that is not the requested filesystem with the device
 * bytes unchanged (another fs, MBR and GPT partition tables, swap, a LUKS
 * header, unrecognised data, a blank device for a read-only mount), bind
 * mounts (read-only; a device node onto a file), online resize after the loop
 * device grew, fs_stats, device size, unmount of what is not mounted, and
 * remove_path refusing mount points.
 *
 * Each test gets a fresh temp dir and loop device; teardown (which cmocka runs
 * even after a failed assertion), an atexit hook and signal handlers remove
 * every mount and loop device (helper_loop.c). Without root or loop support
 * every test is skipped with the reason.
 */
#include "node/mounter.h"

#include "common/exec.h"
#include "tests/node/helper_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define MiB (1024ull * 1024)

struct fixture {
	bool usable;
	const char *why;
	char dir[256];
	char stage[512];
	char publish[512];
	struct loopdev ld;
	struct mounter *m;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	fx->ld.fd = -1;
	*state = fx;
	int r = loop_fixture_begin(&fx->why, fx->dir, sizeof fx->dir);
	fx->usable = r == 1;
	if (r <= 0)
		return r;
	snprintf(fx->stage, sizeof fx->stage, "%s/stage", fx->dir);
	snprintf(fx->publish, sizeof fx->publish, "%s/publish", fx->dir);
	loop_register_mount(fx->stage);
	loop_register_mount(fx->publish);
	fx->m = mounter_linux_new(&(struct mounter_linux_opts){ .mkfs_timeout_ms = 120000, .tool_timeout_ms = 120000 });
	struct status st = STATUS_INIT;
	if (mounter_make_dir(fx->m, fx->stage, &st) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	if (fx->usable) {
		loop_cleanup_all();
		loop_destroy(&fx->ld);
		loop_rmtree(fx->dir);
	}
	mounter_free(fx->m);
	free(fx);
	return 0;
}

/* Attaches a fresh sparse loop device of size bytes, or skips. */
static struct fixture *need_loop(void **state, uint64_t size)
{
	struct fixture *fx = *state;
	if (!fx->usable) {
		fprintf(stderr, "SKIP: %s\n", fx->why);
		skip();
	}
	char backing[512];
	snprintf(backing, sizeof backing, "%s/disk.img", fx->dir);
	assert_int_equal(loop_create(&fx->ld, backing, size), 0);
	return fx;
}

static void need_tool(const char *tool)
{
	if (!loop_find_tool(tool, NULL, NULL, 0)) {
		fprintf(stderr, "SKIP: %s is not installed\n", tool);
		skip();
	}
}

/* ext4 online resize (EXT4_IOC_RESIZE_FS) needs CAP_SYS_RESOURCE, which
 * some sandboxes drop even for root; the node plugin runs privileged. */
static void need_cap_sys_resource(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	if (!(eff & (1ull << 24))) {
		fprintf(stderr, "SKIP: ext4 online resize needs CAP_SYS_RESOURCE, which this process lacks\n");
		skip();
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void assert_file(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, text);
}

static void write_at(const char *dev, uint64_t off, const void *data, size_t len)
{
	int fd = open(dev, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

static void assert_not_mounted(struct fixture *fx, const char *path)
{
	bool mounted = true;
	assert_int_equal(mounter_is_mounted(fx->m, path, &mounted, NULL), 0);
	assert_false(mounted);
}

/* ---- formatting ------------------------------------------------------------- */

static void test_blank_ext4_formatted_then_kept(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, &st), 0);
	assert_int_equal(pr.content, MOUNTER_CONTENT_BLANK);

	bool formatted = false;
	struct mounter_format_opts fmt = { .fstype = "ext4" };
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, "noatime", &formatted, &st), 0);
	assert_true(formatted);
	struct mounter_mount_info mi;
	assert_int_equal(mounter_mount_info(fx->m, fx->stage, &mi, &st), 0);
	assert_string_equal(mi.source, fx->ld.path);
	assert_string_equal(mi.fstype, "ext4");
	assert_true(mounter_options_have(mi.vfs_options, "noatime"));
	assert_false(mi.readonly);
	mounter_mount_info_dispose(&mi);
	char *dev = mounter_device_of_mount(fx->m, fx->stage, &st);
	assert_string_equal(dev, fx->ld.path);
	free(dev);

	/* Same call again while mounted: nothing happens, no second mount. */
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, "noatime", &formatted, &st), 0);
	assert_false(formatted);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
	assert_not_mounted(fx, fx->stage);

	/* Write a file, unmount, format_and_mount again: not reformatted. */
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), 0);
	char file[600];
	snprintf(file, sizeof file, "%s/precious", fx->stage);
	write_file(file, "keep me");
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, &st), 0);
	assert_int_equal(pr.content, MOUNTER_CONTENT_FILESYSTEM);
	assert_string_equal(pr.type, "ext4");
	assert_int_equal(pr.fs_bytes, 64 * MiB);
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), 0);
	assert_false(formatted);
	assert_file(file, "keep me");

	/* The target now holds this device: another device there is refused. */
	assert_int_equal(mounter_format_and_mount(fx->m, "/dev/null", fx->stage, &fmt, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
}

static void test_blank_xfs(void **state)
{
	need_tool("mkfs.xfs");
	/* mkfs.xfs refuses filesystems below 300 MiB. */
	struct fixture *fx = need_loop(state, 320 * MiB);
	struct status st = STATUS_INIT;
	bool formatted = false;
	struct mounter_format_opts fmt = { .fstype = "xfs" };
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), 0);
	assert_true(formatted);
	struct mounter_mount_info mi;
	assert_int_equal(mounter_mount_info(fx->m, fx->stage, &mi, &st), 0);
	assert_string_equal(mi.fstype, "xfs");
	assert_true(mounter_options_have(mi.fs_options, "nouuid"));
	mounter_mount_info_dispose(&mi);
	char file[600];
	snprintf(file, sizeof file, "%s/x", fx->stage);
	write_file(file, "xfs data");
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);

	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), 0);
	assert_false(formatted);
	assert_file(file, "xfs data");

	/* Online growth. */
	uint64_t before = 0, after = 0;
	struct mounter_fs_stats fs;
	assert_int_equal(mounter_fs_stats(fx->m, fx->stage, &fs, &st), 0);
	before = fs.bytes_total;
	assert_int_equal(loop_grow(&fx->ld, 480 * MiB), 0);
	assert_int_equal(mounter_device_size(fx->m, fx->ld.path, &after, &st), 0);
	assert_int_equal(after, 480 * MiB);
	assert_int_equal(mounter_resize_fs(fx->m, fx->ld.path, fx->stage, &st), 0);
	assert_int_equal(mounter_fs_stats(fx->m, fx->stage, &fs, &st), 0);
	assert_true(fs.bytes_total > before + 100 * MiB);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
}

static void test_xfs_legacy(void **state)
{
	need_tool("mkfs.xfs");
	struct fixture *fx = need_loop(state, 320 * MiB);
	struct status st = STATUS_INIT;
	struct mounter_format_opts fmt = { .fstype = "xfs", .xfs_legacy = true, .inode_size = 512 };
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, NULL, &st), 0);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
}

static void test_ext4_format_options(void **state)
{
	need_tool("dumpe2fs");
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	struct mounter_format_opts fmt = {
		.fstype = "ext4", .block_size = 4096, .inode_size = 512, .number_of_inodes = 2048,
	};
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, NULL, &st), 0);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
	const char *argv[] = { "dumpe2fs", "-h", fx->ld.path, NULL };
	struct exec_result r;
	assert_int_equal(exec_run(argv, NULL, &r, &st), 0);
	assert_non_null(strstr(r.out, "Inode size:"));
	assert_non_null(strstr(r.out, "Inode size:\t          512"));
	assert_non_null(strstr(r.out, "Block size:               4096"));
	assert_non_null(strstr(r.out, "Reserved block count:     0"));
	exec_result_dispose(&r);

	/* Options that do not apply are refused before anything is written. */
	uint64_t h = loop_hash_device(fx->ld.path);
	struct mounter_format_opts bad = { .fstype = "xfs", .bytes_per_inode = 4096 };
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &bad, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	struct mounter_format_opts bad2 = { .fstype = "btrfs" };
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &bad2, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(loop_hash_device(fx->ld.path), h);
}

/* ---- refusals: nothing written ------------------------------------------------ */

/* Requests fstype on the prepared device and checks the refusal left every
 * byte where it was and mounted nothing. */
static void expect_refusal(struct fixture *fx, const char *fstype, const char *needle)
{
	struct status st = STATUS_INIT;
	uint64_t before = loop_hash_device(fx->ld.path);
	assert_true(before != 0);
	bool formatted = true;
	struct mounter_format_opts fmt = { .fstype = fstype };
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	if (strstr(st.msg, needle) == NULL)
		fail_msg("message \"%s\" does not name \"%s\"", st.msg, needle);
	assert_false(formatted);
	assert_not_mounted(fx, fx->stage);
	assert_int_equal(loop_hash_device(fx->ld.path), before);
}

static void test_refuse_other_filesystem(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	const char *mk[] = { "mkfs.ext2", "-q", fx->ld.path, NULL };
	assert_int_equal(loop_run(mk), 0);
	expect_refusal(fx, "ext4", "ext2");
	if (loop_find_tool("mkfs.xfs", NULL, NULL, 0))
		expect_refusal(fx, "xfs", "ext2");
}

static void test_refuse_ext4_as_xfs(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	const char *mk[] = { "mkfs.ext4", "-q", fx->ld.path, NULL };
	assert_int_equal(loop_run(mk), 0);
	expect_refusal(fx, "xfs", "ext4");
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void mbr_entry(unsigned char *sector, int idx, unsigned char type, uint32_t start, uint32_t count)
{
	unsigned char *e = sector + 446 + 16 * idx;
	e[0] = 0x00;
	e[4] = type;
	put_le32(e + 8, start);
	put_le32(e + 12, count);
	sector[510] = 0x55;
	sector[511] = 0xAA;
}

static void test_refuse_mbr(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	unsigned char mbr[512] = { 0 };
	mbr_entry(mbr, 0, 0x83, 2048, (uint32_t)(64 * MiB / 512 - 2048));
	write_at(fx->ld.path, 0, mbr, sizeof mbr);
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, NULL), 0);
	assert_int_equal(pr.content, MOUNTER_CONTENT_PARTITION_TABLE);
	assert_string_equal(pr.type, "dos");
	expect_refusal(fx, "ext4", "dos");
}

static uint32_t crc32_le(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void test_refuse_gpt(void **state)
{
	uint64_t size = 64 * MiB, sectors = size / 512;
	struct fixture *fx = need_loop(state, size);
	unsigned char mbr[512] = { 0 };
	mbr_entry(mbr, 0, 0xEE, 1, (uint32_t)(sectors - 1));
	static unsigned char entries[128 * 128];
	memset(entries, 0, sizeof entries);
	/* Linux filesystem type GUID 0FC63DAF-8483-4772-8E79-3D69D8477DE4, mixed-endian. */
	static const unsigned char linux_fs[16] = { 0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47,
						    0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4 };
	memcpy(entries, linux_fs, 16);
	for (int i = 0; i < 16; i++)
		entries[16 + i] = (unsigned char)(0x11 * (i + 1));
	put_le64(entries + 32, 2048);
	put_le64(entries + 40, sectors - 34);
	unsigned char hdr[512] = { 0 };
	memcpy(hdr, "EFI PART", 8);
	put_le32(hdr + 8, 0x00010000);
	put_le32(hdr + 12, 92);
	put_le64(hdr + 24, 1);
	put_le64(hdr + 32, sectors - 1);
	put_le64(hdr + 40, 34);
	put_le64(hdr + 48, sectors - 34);
	for (int i = 0; i < 16; i++)
		hdr[56 + i] = (unsigned char)(0xA0 + i);
	put_le64(hdr + 72, 2);
	put_le32(hdr + 80, 128);
	put_le32(hdr + 84, 128);
	put_le32(hdr + 88, crc32_le(entries, sizeof entries));
	put_le32(hdr + 16, crc32_le(hdr, 92));
	write_at(fx->ld.path, 0, mbr, sizeof mbr);
	write_at(fx->ld.path, 512, hdr, sizeof hdr);
	write_at(fx->ld.path, 1024, entries, sizeof entries);
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, NULL), 0);
	assert_int_equal(pr.content, MOUNTER_CONTENT_PARTITION_TABLE);
	assert_string_equal(pr.type, "gpt");
	expect_refusal(fx, "ext4", "gpt");
}

static void test_refuse_swap(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	const char *mk[] = { "mkswap", fx->ld.path, NULL };
	assert_int_equal(loop_run(mk), 0);
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, NULL), 0);
	assert_int_equal(pr.content, MOUNTER_CONTENT_OTHER);
	expect_refusal(fx, "ext4", "swap");
}

static void test_refuse_luks(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	/* A LUKS1 header as far as libblkid looks: magic, version 1, cipher
	 * names, a UUID. */
	unsigned char hdr[592] = { 'L', 'U', 'K', 'S', 0xBA, 0xBE, 0x00, 0x01 };
	memcpy(hdr + 8, "aes", 3);
	memcpy(hdr + 40, "xts-plain64", 11);
	memcpy(hdr + 72, "sha256", 6);
	memcpy(hdr + 168, "0b3a5e1c-8a0f-4d5e-9f3a-2b1c0d9e8f7a", 36);
	write_at(fx->ld.path, 0, hdr, sizeof hdr);
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, NULL), 0);
	assert_int_equal(pr.content, MOUNTER_CONTENT_OTHER);
	assert_string_equal(pr.type, "crypto_LUKS");
	expect_refusal(fx, "ext4", "crypto_LUKS");
}

static void test_refuse_unrecognised_data(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	const char data[] = "a database page written through a raw block volume";
	write_at(fx->ld.path, 8192, data, sizeof data);
	expect_refusal(fx, "ext4", "data");
}

static void test_refuse_blank_readonly(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	uint64_t before = loop_hash_device(fx->ld.path);
	struct mounter_format_opts fmt = { 0 };
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, "ro,noatime", NULL, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(loop_hash_device(fx->ld.path), before);
	assert_not_mounted(fx, fx->stage);
}

/* ---- mounts ---------------------------------------------------------------------- */

static void test_bind_readonly(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, NULL, NULL, NULL, &st), 0);
	char file[600];
	snprintf(file, sizeof file, "%s/f", fx->stage);
	write_file(file, "shared");
	assert_int_equal(mounter_make_dir(fx->m, fx->publish, &st), 0);
	assert_int_equal(mounter_bind_mount(fx->m, fx->stage, fx->publish, true, &st), 0);
	struct mounter_mount_info mi;
	assert_int_equal(mounter_mount_info(fx->m, fx->publish, &mi, &st), 0);
	assert_true(mi.readonly);
	assert_string_equal(mi.source, fx->ld.path);
	mounter_mount_info_dispose(&mi);
	snprintf(file, sizeof file, "%s/f", fx->publish);
	assert_file(file, "shared");
	snprintf(file, sizeof file, "%s/new", fx->publish);
	assert_null(fopen(file, "w"));
	assert_int_equal(errno, EROFS);
	/* The staging mount stays writable. */
	snprintf(file, sizeof file, "%s/new", fx->stage);
	write_file(file, "rw");

	/* A publish path that is mounted is not removed. */
	assert_int_equal(mounter_remove_path(fx->m, fx->publish, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(mounter_unmount(fx->m, fx->publish, &st), 0);
	assert_int_equal(mounter_remove_path(fx->m, fx->publish, &st), 0);
	int kind = -1;
	assert_int_equal(mounter_path_kind(fx->m, fx->publish, &kind, &st), 0);
	assert_int_equal(kind, MOUNTER_PATH_MISSING);
	/* A non-empty directory is not removed either. */
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
	assert_int_equal(mounter_make_dir(fx->m, fx->publish, &st), 0);
	snprintf(file, sizeof file, "%s/leftover", fx->publish);
	write_file(file, "x");
	assert_int_equal(mounter_remove_path(fx->m, fx->publish, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
}

static void test_block_bind_onto_file(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	char target[600];
	snprintf(target, sizeof target, "%s/pods/uid/volumeDevices/vol", fx->dir);
	loop_register_mount(target);
	assert_int_equal(mounter_make_file(fx->m, target, &st), 0);
	assert_int_equal(mounter_make_file(fx->m, target, &st), 0);
	int kind = -1;
	assert_int_equal(mounter_path_kind(fx->m, target, &kind, &st), 0);
	assert_int_equal(kind, MOUNTER_PATH_FILE);
	assert_int_equal(mounter_bind_mount(fx->m, fx->ld.path, target, false, &st), 0);
	assert_int_equal(mounter_path_kind(fx->m, target, &kind, &st), 0);
	assert_int_equal(kind, MOUNTER_PATH_BLOCK);
	char *dev = mounter_device_of_mount(fx->m, target, &st);
	assert_non_null(dev);
	assert_string_equal(dev, fx->ld.path);
	free(dev);
	uint64_t size = 0;
	assert_int_equal(mounter_device_size(fx->m, target, &size, &st), 0);
	assert_int_equal(size, 64 * MiB);
	/* make_file on the bound node is fine (idempotent publish). */
	assert_int_equal(mounter_make_file(fx->m, target, &st), 0);
	assert_int_equal(mounter_unmount(fx->m, target, &st), 0);
	assert_int_equal(mounter_remove_path(fx->m, target, &st), 0);
	/* A directory where a file is wanted is refused. */
	assert_int_equal(mounter_make_file(fx->m, fx->stage, &st), -1);
	assert_int_equal(st.code, STATUS_ALREADY_EXISTS);
}

static void test_resize_ext4_and_stats(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, NULL, NULL, NULL, &st), 0);
	struct mounter_fs_stats a, b;
	assert_int_equal(mounter_fs_stats(fx->m, fx->stage, &a, &st), 0);
	assert_true(a.bytes_total > 40 * MiB && a.bytes_total <= 64 * MiB);
	assert_true(a.bytes_available <= a.bytes_total);
	assert_int_equal(a.bytes_used + (a.bytes_total - a.bytes_used), a.bytes_total);
	assert_true(a.inodes_total > 0 && a.inodes_used > 0 && a.inodes_used + a.inodes_available == a.inodes_total);

	/* Resizing at full size is a harmless no-op. */
	assert_int_equal(mounter_resize_fs(fx->m, fx->ld.path, fx->stage, &st), 0);
	/* Resize acts only on the device that is mounted there. */
	assert_int_equal(mounter_resize_fs(fx->m, "/dev/null", fx->stage, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	need_cap_sys_resource();
	assert_int_equal(loop_grow(&fx->ld, 128 * MiB), 0);
	uint64_t size = 0;
	assert_int_equal(mounter_device_size(fx->m, fx->ld.path, &size, &st), 0);
	assert_int_equal(size, 128 * MiB);
	assert_int_equal(mounter_resize_fs(fx->m, fx->ld.path, fx->stage, &st), 0);
	assert_int_equal(mounter_fs_stats(fx->m, fx->stage, &b, &st), 0);
	assert_true(b.bytes_total > a.bytes_total + 50 * MiB);
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, &st), 0);
	assert_int_equal(pr.fs_bytes, 128 * MiB);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
	assert_int_equal(mounter_resize_fs(fx->m, fx->ld.path, fx->stage, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
}

static void test_grown_while_detached(void **state)
{
	/* The stage-time case: the device grew while nothing was mounted; the
	 * probe shows the filesystem smaller than the device. */
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	const char *mk[] = { "mkfs.ext4", "-q", fx->ld.path, NULL };
	assert_int_equal(loop_run(mk), 0);
	assert_int_equal(loop_grow(&fx->ld, 96 * MiB), 0);
	struct mounter_probe pr;
	uint64_t size;
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, &st), 0);
	assert_int_equal(mounter_device_size(fx->m, fx->ld.path, &size, &st), 0);
	assert_int_equal(pr.fs_bytes, 64 * MiB);
	assert_int_equal(size, 96 * MiB);
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, NULL, NULL, NULL, &st), 0);
	need_cap_sys_resource();
	assert_int_equal(mounter_resize_fs(fx->m, fx->ld.path, fx->stage, &st), 0);
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, &st), 0);
	assert_int_equal(pr.fs_bytes, 96 * MiB);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
}

static void test_unmount_and_info_edge_cases(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
	char missing[600];
	snprintf(missing, sizeof missing, "%s/nope", fx->dir);
	assert_int_equal(mounter_unmount(fx->m, missing, &st), 0);
	struct mounter_mount_info mi;
	assert_int_equal(mounter_mount_info(fx->m, fx->stage, &mi, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_null(mi.source);
	assert_int_equal(mounter_mount_info(fx->m, missing, &mi, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	struct mounter_fs_stats fs;
	assert_int_equal(mounter_fs_stats(fx->m, missing, &fs, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	uint64_t size;
	assert_int_equal(mounter_device_size(fx->m, missing, &size, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(mounter_device_size(fx->m, fx->stage, &size, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(fx->m, missing, &pr, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(mounter_remove_path(fx->m, missing, &st), 0);
	/* A plain mount through mounter_mount, and the device is busy for fsck:
	 * a second format_and_mount elsewhere skips fsck and mounts again. */
	const char *mk[] = { "mkfs.ext4", "-q", fx->ld.path, NULL };
	assert_int_equal(loop_run(mk), 0);
	assert_int_equal(mounter_mount(fx->m, fx->ld.path, fx->stage, "ext4", "ro", &st), 0);
	assert_int_equal(mounter_mount_info(fx->m, fx->stage, &mi, &st), 0);
	assert_true(mi.readonly);
	mounter_mount_info_dispose(&mi);
	assert_int_equal(mounter_make_dir(fx->m, fx->publish, &st), 0);
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->publish, NULL, NULL, NULL, &st), 0);
	assert_int_equal(mounter_unmount(fx->m, fx->publish, &st), 0);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
	/* Mounting a missing source is NOT_FOUND. */
	assert_int_equal(mounter_mount(fx->m, missing, fx->stage, "ext4", NULL, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_blank_ext4_formatted_then_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blank_xfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xfs_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ext4_format_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_other_filesystem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_ext4_as_xfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_mbr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_gpt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_luks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_unrecognised_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_blank_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_bind_onto_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize_ext4_and_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grown_while_detached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmount_and_info_edge_cases, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
