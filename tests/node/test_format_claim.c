/*
 * Tests for node/format_claim and for how the Linux mounter uses it to finish
 * its own interrupted format — and only that.
 *
 * Without root: the claim files themselves (record, held, drop, sweep, a file
 * that does not describe the disk, a non-block fd).
 * With root and loop devices: mkfs killed half-way (a stand-in mkfs.ext4 /
 * mkfs.xfs on PATH runs the real tool, damages what an earlier kill would not
 * have written yet, then SIGKILLs itself) is formatted again on the next call
 * and the claim is gone before the mount; a mounter without a state directory
 * still refuses it; the same bytes after the disk was detached and attached
 * again (a new disk sequence number) are refused with the device unchanged; a
 * claimed device mounted elsewhere is refused; a raw-block hand-over drops the
 * claim; an unwritable state directory only costs the recovery.
 */
#include "node/format_claim.h"
#include "node/mounter.h"

#include "tests/node/helper_loop.h"

#include <dirent.h>
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

static const struct fclaim_disk DISK = { "0f6b1c2e-3d4a-4b5c-8d9e-0a1b2c3d4e5f", 4711, 7, 3 };

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/fclaim-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	return strdup(tmpl);
}

static int count_claims(const char *state_dir)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/format-claims", state_dir);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void rm_claims(const char *state_dir)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the claim files ---------------------------------------------------------- */

static void test_record_held_drop(void **state)
{
	(void)state;
	char *dir = tmpdir();
	char sd[512];
	snprintf(sd, sizeof sd, "%s/state", dir); /* created on first record */
	struct status st = STATUS_INIT;
	bool held = true;
	assert_int_equal(fclaim_held(sd, &DISK, &held, &st), 0);
	assert_false(held);
	assert_int_equal(fclaim_record(sd, &DISK, "/dev/nvme1n1", "ext4", &st), 0);
	assert_int_equal(count_claims(sd), 1);
	assert_int_equal(fclaim_held(sd, &DISK, &held, &st), 0);
	assert_true(held);

	/* Another disk (sequence number, device number, boot) does not match,
	 * and a claim for another partition of the same disk is its own. */
	struct fclaim_disk other = DISK;
	other.diskseq++;
	assert_int_equal(fclaim_held(sd, &other, &held, &st), 0);
	assert_false(held);
	other = DISK;
	other.dev_minor = 4;
	assert_int_equal(fclaim_held(sd, &other, &held, &st), 0);
	assert_false(held);
	other = DISK;
	other.boot_id[0] = 'a';
	assert_int_equal(fclaim_held(sd, &other, &held, &st), 0);
	assert_false(held);
	struct fclaim_disk part2 = DISK;
	part2.dev_minor = 5;
	assert_int_equal(fclaim_record(sd, &part2, "/dev/nvme1n1p2", "xfs", &st), 0);
	assert_int_equal(count_claims(sd), 2);
	assert_int_equal(fclaim_held(sd, &DISK, &held, &st), 0);
	assert_true(held);
	assert_int_equal(fclaim_drop(sd, &part2, &st), 0);

	/* Recording again replaces; dropping twice is fine. */
	assert_int_equal(fclaim_record(sd, &DISK, "/dev/nvme1n1", "xfs", &st), 0);
	assert_int_equal(count_claims(sd), 1);
	assert_int_equal(fclaim_drop(sd, &DISK, &st), 0);
	assert_int_equal(fclaim_drop(sd, &DISK, &st), 0);
	assert_int_equal(fclaim_held(sd, &DISK, &held, &st), 0);
	assert_false(held);
	assert_int_equal(count_claims(sd), 0);
	rm_claims(dir);
	free(dir);
}

static void test_file_not_describing_the_disk_is_no_claim(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct status st = STATUS_INIT;
	assert_int_equal(fclaim_record(dir, &DISK, "/dev/nvme1n1", "ext4", &st), 0);
	char path[1024];
	snprintf(path, sizeof path, "%s/format-claims/%s-%llu-%u-%u", dir, DISK.boot_id, (unsigned long long)DISK.diskseq,
		 DISK.dev_major, DISK.dev_minor);
	const char *bad[] = {
		"",                                                    /* empty: a write cut short */
		"ebs-csi-c format claim v1\nboot_id=0f6b1c2e-3d4a-4b5c-8d9e-0a1b2c3d4e5f\n", /* no diskseq */
		"something else entirely\nboot_id=0f6b1c2e-3d4a-4b5c-8d9e-0a1b2c3d4e5f\ndiskseq=4711\ndev=7:3\n",
		"ebs-csi-c format claim v1\nboot_id=0f6b1c2e-3d4a-4b5c-8d9e-0a1b2c3d4e5f\ndiskseq=47110\ndev=7:3\n",
		"ebs-csi-c format claim v1\nboot_id=0f6b1c2e-3d4a-4b5c-8d9e-0a1b2c3d4e5f\ndiskseq=4711\ndev=7:30\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(bad[i], f);
		fclose(f);
		bool held = true;
		assert_int_equal(fclaim_held(dir, &DISK, &held, &st), 0);
		assert_false(held);
	}
	rm_claims(dir);
	free(dir);
}

static void test_sweep_keeps_only_this_boot(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct status st = STATUS_INIT;
	struct fclaim_disk old = DISK;
	snprintf(old.boot_id, sizeof old.boot_id, "%s", "11111111-2222-3333-4444-555555555555");
	assert_int_equal(fclaim_record(dir, &DISK, "/dev/a", "ext4", &st), 0);
	assert_int_equal(fclaim_record(dir, &old, "/dev/b", "ext4", &st), 0);
	char tmp[1024];
	snprintf(tmp, sizeof tmp, "%s/format-claims/%s-9.tmp", dir, DISK.boot_id);
	fclose(fopen(tmp, "w"));
	assert_int_equal(count_claims(dir), 3);
	assert_int_equal(fclaim_sweep(dir, DISK.boot_id, &st), 2);
	assert_int_equal(count_claims(dir), 1);
	bool held = false;
	assert_int_equal(fclaim_held(dir, &DISK, &held, &st), 0);
	assert_true(held);
	/* No directory yet: nothing to do. */
	char none[1024];
	snprintf(none, sizeof none, "%s/none", dir);
	assert_int_equal(fclaim_sweep(none, DISK.boot_id, &st), 0);
	rm_claims(dir);
	free(dir);
}

static void test_boot_id_and_non_block_fd(void **state)
{
	(void)state;
	char boot[40];
	struct status st = STATUS_INIT;
	assert_int_equal(fclaim_boot_id(boot, sizeof boot, &st), 0);
	assert_int_equal(strlen(boot), 36);
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct fclaim_disk d;
	assert_int_equal(fclaim_disk_of(fd, boot, &d, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	close(fd);
	/* A state directory that cannot be made is an error, not a crash. */
	assert_int_equal(fclaim_record("/proc/self/status/x", &DISK, "/dev/a", "ext4", &st), -1);
	assert_int_not_equal(st.code, STATUS_OK);
}

/* ---- the mounter on loop devices ----------------------------------------------- */

struct fixture {
	bool usable;
	const char *why;
	char dir[256];
	char state[512];
	char shim[512];
	char stage[512];
	char other[512];
	char backing[512];
	char *path_saved;
	struct loopdev ld;
	struct mounter *m;      /* with a state directory */
	struct mounter *plain;  /* without one: the behaviour before claims */
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
	snprintf(fx->state, sizeof fx->state, "%s/state", fx->dir);
	snprintf(fx->shim, sizeof fx->shim, "%s/shim", fx->dir);
	snprintf(fx->stage, sizeof fx->stage, "%s/stage", fx->dir);
	snprintf(fx->other, sizeof fx->other, "%s/other", fx->dir);
	snprintf(fx->backing, sizeof fx->backing, "%s/disk.img", fx->dir);
	loop_register_mount(fx->stage);
	loop_register_mount(fx->other);
	fx->path_saved = strdup(getenv("PATH") ? getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin");
	struct mounter_linux_opts o = { .mkfs_timeout_ms = 120000, .tool_timeout_ms = 120000, .state_dir = fx->state };
	fx->m = mounter_linux_new(&o);
	fx->plain = mounter_linux_new(&(struct mounter_linux_opts){ .mkfs_timeout_ms = 120000 });
	if (mkdir(fx->stage, 0755) != 0 || mkdir(fx->other, 0755) != 0 || mkdir(fx->shim, 0755) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	if (fx->usable) {
		setenv("PATH", fx->path_saved, 1);
		loop_cleanup_all();
		loop_destroy(&fx->ld);
		char cmd[1100];
		snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", fx->state, fx->shim);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", fx->state);
		loop_rmtree(fx->dir);
	}
	free(fx->path_saved);
	mounter_free(fx->m);
	mounter_free(fx->plain);
	free(fx);
	return 0;
}

static struct fixture *need_loop(void **state, uint64_t size)
{
	struct fixture *fx = *state;
	if (!fx->usable) {
		fprintf(stderr, "SKIP: %s\n", fx->why);
		skip();
	}
	assert_int_equal(loop_create(&fx->ld, fx->backing, size), 0);
	struct fclaim_disk d;
	char boot[40];
	struct status st = STATUS_INIT;
	int fd = open(fx->ld.path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fclaim_boot_id(boot, sizeof boot, &st), 0);
	int r = fclaim_disk_of(fd, boot, &d, &st);
	close(fd);
	if (r < 0 && st.code == STATUS_UNIMPLEMENTED) {
		fprintf(stderr, "SKIP: %s\n", st.msg);
		skip();
	}
	assert_int_equal(r, 0);
	return fx;
}

static struct fclaim_disk disk_of(const char *dev)
{
	struct fclaim_disk d;
	char boot[40];
	struct status st = STATUS_INIT;
	assert_int_equal(fclaim_boot_id(boot, sizeof boot, &st), 0);
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fclaim_disk_of(fd, boot, &d, &st), 0);
	close(fd);
	return d;
}

/*
 * Puts a stand-in for tool (mkfs.ext4 / mkfs.xfs) first on PATH: it runs the
 * real one, then (wipe_sb) zeroes the primary ext superblock — what a kill
 * before mke2fs's last write leaves: bytes, no signature — and SIGKILLs
 * itself, as the container runtime kills mkfs with the driver.
 */
static void install_dying_mkfs(struct fixture *fx, const char *tool, bool wipe_sb)
{
	char real[1024];
	if (!loop_find_tool(tool, fx->path_saved, real, sizeof real)) {
		fprintf(stderr, "SKIP: %s is not installed\n", tool);
		skip();
	}
	char path[700];
	snprintf(path, sizeof path, "%s/%s", fx->shim, tool);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nfor a; do dev=$a; done\n%s \"$@\" >/dev/null 2>&1 || exit 1\n", real);
	if (wipe_sb)
		fprintf(f, "dd if=/dev/zero of=\"$dev\" bs=1024 seek=1 count=1 conv=notrunc,fsync 2>/dev/null\n");
	fprintf(f, "kill -9 $$\n");
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	char newpath[4096];
	snprintf(newpath, sizeof newpath, "%s:%s", fx->shim, fx->path_saved);
	setenv("PATH", newpath, 1);
}

static void restore_path(struct fixture *fx) { setenv("PATH", fx->path_saved, 1); }

static void write_marker(const char *dir)
{
	char p[600];
	snprintf(p, sizeof p, "%s/marker", dir);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("still here", f);
	assert_int_equal(fclose(f), 0);
}

static bool has_marker(const char *dir)
{
	char p[600];
	snprintf(p, sizeof p, "%s/marker", dir);
	return access(p, F_OK) == 0;
}

/* One interrupted format of fstype, then the retry. */
static void interrupted_then_finished(void **state, const char *fstype, const char *tool, bool wipe_sb)
{
	struct fixture *fx = need_loop(state, 512 * MiB); /* mkfs.xfs wants > 300 MB */
	struct status st = STATUS_INIT;
	struct mounter_format_opts fmt = { .fstype = fstype };
	install_dying_mkfs(fx, tool, wipe_sb);
	bool formatted = true;
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), -1);
	restore_path(fx);
	assert_false(formatted);
	assert_int_equal(count_claims(fx->state), 1);
	struct mounter_probe pr;
	assert_int_equal(mounter_probe(fx->m, fx->ld.path, &pr, &st), 0);
	assert_int_not_equal(pr.content, MOUNTER_CONTENT_BLANK);

	/* Without the claim (no state directory) it is refused, untouched. */
	uint64_t before = loop_hash_device(fx->ld.path);
	if (pr.content != MOUNTER_CONTENT_FILESYSTEM) {
		status_clear(&st);
		assert_int_equal(mounter_format_and_mount(fx->plain, fx->ld.path, fx->stage, &fmt, NULL, NULL, &st), -1);
		assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
		assert_int_equal(loop_hash_device(fx->ld.path), before);
	}
	/* Read-only: formatting is a write, refused even with the claim. */
	status_clear(&st);
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, "ro", NULL, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(loop_hash_device(fx->ld.path), before);

	/* With it: formatted again, claim gone before the mount. */
	formatted = false;
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), 0);
	assert_true(formatted);
	assert_int_equal(count_claims(fx->state), 0);
	write_marker(fx->stage);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);

	/* The next stage mounts what is there: the user's file survives. */
	formatted = true;
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), 0);
	assert_false(formatted);
	assert_true(has_marker(fx->stage));
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
}

static void test_ext4_killed_before_superblock_is_finished(void **state)
{
	interrupted_then_finished(state, "ext4", "mkfs.ext4", true);
}

static void test_xfs_killed_after_superblock_is_finished(void **state)
{
	interrupted_then_finished(state, "xfs", "mkfs.xfs", false);
}

static void test_claim_of_an_earlier_attachment_does_not_match(void **state)
{
	struct fixture *fx = need_loop(state, 128 * MiB);
	struct status st = STATUS_INIT;
	struct mounter_format_opts fmt = { .fstype = "ext4" };
	install_dying_mkfs(fx, "mkfs.ext4", true);
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, NULL, &st), -1);
	restore_path(fx);
	struct fclaim_disk first = disk_of(fx->ld.path);
	assert_int_equal(count_claims(fx->state), 1);

	/* Detached and attached again: the kernel gives the disk a new number,
	 * and anything may have been written to it elsewhere in between. */
	loop_destroy(&fx->ld);
	assert_int_equal(loop_create(&fx->ld, fx->backing, 128 * MiB), 0);
	struct fclaim_disk second = disk_of(fx->ld.path);
	assert_true(second.diskseq != first.diskseq);
	uint64_t before = loop_hash_device(fx->ld.path);
	status_clear(&st);
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "data"));
	assert_int_equal(loop_hash_device(fx->ld.path), before);
}

static void test_claimed_device_mounted_elsewhere_is_refused(void **state)
{
	struct fixture *fx = need_loop(state, 128 * MiB);
	struct status st = STATUS_INIT;
	struct mounter_format_opts fmt = { .fstype = "ext4" };
	assert_int_equal(mounter_format_and_mount(fx->plain, fx->ld.path, fx->other, &fmt, NULL, NULL, &st), 0);
	write_marker(fx->other);
	struct fclaim_disk d = disk_of(fx->ld.path);
	assert_int_equal(fclaim_record(fx->state, &d, fx->ld.path, "ext4", &st), 0);
	status_clear(&st);
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "mounted"));
	assert_true(has_marker(fx->other));
	assert_int_equal(mounter_unmount(fx->m, fx->other, &st), 0);
}

static void test_raw_block_hand_over_drops_the_claim(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	struct fclaim_disk d = disk_of(fx->ld.path);
	assert_int_equal(fclaim_record(fx->state, &d, fx->ld.path, "ext4", &st), 0);
	assert_int_equal(mounter_drop_format_claim(fx->m, fx->ld.path, &st), 0);
	assert_int_equal(count_claims(fx->state), 0);
	/* No claim, or no state directory: nothing to do. */
	assert_int_equal(mounter_drop_format_claim(fx->m, fx->ld.path, &st), 0);
	assert_int_equal(mounter_drop_format_claim(fx->plain, fx->ld.path, &st), 0);
	/* Bytes a raw-block user wrote are then refused like any data. */
	const char data[] = "raw block payload";
	int fd = open(fx->ld.path, O_WRONLY | O_CLOEXEC);
	assert_int_equal(pwrite(fd, data, sizeof data, 65536), (ssize_t)sizeof data);
	close(fd);
	struct mounter_format_opts fmt = { .fstype = "ext4" };
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
}

/* Finishing an interrupted format while the new claim cannot be written (the
 * temporary name is taken): the old claim must still go before the mount, or
 * a later stage would format the user's files. */
static void test_old_claim_dropped_even_when_a_new_one_cannot_be_written(void **state)
{
	struct fixture *fx = need_loop(state, 128 * MiB);
	struct status st = STATUS_INIT;
	struct mounter_format_opts fmt = { .fstype = "ext4" };
	install_dying_mkfs(fx, "mkfs.ext4", true);
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, NULL, &st), -1);
	restore_path(fx);
	struct fclaim_disk d = disk_of(fx->ld.path);
	char tmp[1200];
	snprintf(tmp, sizeof tmp, "%s/format-claims/%s-%llu-%u-%u.tmp", fx->state, d.boot_id,
		 (unsigned long long)d.diskseq, d.dev_major, d.dev_minor);
	assert_int_equal(mkdir(tmp, 0700), 0);
	bool formatted = false;
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), 0);
	assert_true(formatted);
	bool held = true;
	assert_int_equal(fclaim_held(fx->state, &d, &held, &st), 0);
	assert_false(held);
	write_marker(fx->stage);
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
	assert_int_equal(mounter_format_and_mount(fx->m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), 0);
	assert_false(formatted);
	assert_true(has_marker(fx->stage));
	assert_int_equal(mounter_unmount(fx->m, fx->stage, &st), 0);
	assert_int_equal(rmdir(tmp), 0);
}

static void test_unwritable_state_dir_only_costs_recovery(void **state)
{
	struct fixture *fx = need_loop(state, 64 * MiB);
	struct status st = STATUS_INIT;
	char file[600];
	snprintf(file, sizeof file, "%s/not-a-dir", fx->dir);
	fclose(fopen(file, "w"));
	struct mounter *m = mounter_linux_new(&(struct mounter_linux_opts){ .state_dir = file });
	struct mounter_format_opts fmt = { .fstype = "ext4" };
	bool formatted = false;
	assert_int_equal(mounter_format_and_mount(m, fx->ld.path, fx->stage, &fmt, NULL, &formatted, &st), 0);
	assert_true(formatted);
	assert_int_equal(mounter_unmount(m, fx->stage, &st), 0);
	mounter_free(m);
	unlink(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_held_drop),
		cmocka_unit_test(test_file_not_describing_the_disk_is_no_claim),
		cmocka_unit_test(test_sweep_keeps_only_this_boot),
		cmocka_unit_test(test_boot_id_and_non_block_fd),
		cmocka_unit_test_setup_teardown(test_ext4_killed_before_superblock_is_finished, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xfs_killed_after_superblock_is_finished, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_of_an_earlier_attachment_does_not_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claimed_device_mounted_elsewhere_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_block_hand_over_drops_the_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_claim_dropped_even_when_a_new_one_cannot_be_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_state_dir_only_costs_recovery, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
