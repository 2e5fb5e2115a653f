/*
 * The node handlers on the real Linux mounter and real loop devices, as root:
 * stage → publish → write → unpublish → unstage → restage → read back on ext4
 * (with a formatting parameter) and xfs; raw block publish with I/O through
 * the target file; read-only publish; online expansion after the backing
 * file grew (xfs; ext4 when the sandbox allows its resize ioctl); growth at
 * stage time of a volume grown while unstaged; stats and an honest volume
 * condition (an ext4 error remounting the superblock read-only); and a
 * data-safety matrix through NodeStage — other filesystems, partition
 * tables, swap, LUKS, an LVM physical volume, unrecognised data, and a blank
 * device that is not provably the requested volume — each ending with the
 * device's bytes unchanged and nothing mounted.
 * Volumes are proven by by-id links in a temporary directory pointing at the
 * loop devices, as ebs-ec2-sim attaches them. Teardown (run by cmocka even
 * after a failed assertion), atexit and signal handlers remove every mount
 * and loop device (helper_loop.c). Without root or loop support every test
 * is skipped with the reason.
 */
#include "node/node.h"
#include "tests/node/helper_loop.h"
#include "tests/node/helper_node.h"

#include "common/exec.h"
#include "node/devpath.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#define MiB (1024ll * 1024)
#define SNW CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER
#define NLOOPS 2

struct lfx {
	bool usable;
	const char *why;
	char dir[256];
	char by_id[300];
	char sys[300];
	char kubelet[300];
	struct loopdev ld[NLOOPS];
	struct mounter *m;
	struct node_service *svc;
};

static const char *const mount_names[] = { "stage", "stage2", "pub", "pub2", "blk", "blk2" };

/* <kubelet>/<rel> in a rotating static buffer. */
static const char *P(const struct lfx *fx, const char *rel)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", fx->kubelet, rel);
	return b;
}

static int setup(void **state)
{
	struct lfx *fx = calloc(1, sizeof *fx);
	for (int i = 0; i < NLOOPS; i++)
		fx->ld[i].fd = -1;
	*state = fx;
	int r = loop_fixture_begin(&fx->why, fx->dir, sizeof fx->dir);
	fx->usable = r == 1;
	if (r <= 0)
		return r;
	snprintf(fx->by_id, sizeof fx->by_id, "%s/by-id", fx->dir);
	snprintf(fx->sys, sizeof fx->sys, "%s/sys", fx->dir);
	snprintf(fx->kubelet, sizeof fx->kubelet, "%s/kubelet", fx->dir);
	mkdir(fx->by_id, 0755);
	mkdir(fx->sys, 0755);
	mkdir(fx->kubelet, 0755);
	for (size_t i = 0; i < sizeof mount_names / sizeof mount_names[0]; i++)
		loop_register_mount(P(fx, mount_names[i]));
	fx->m = mounter_linux_new(&(struct mounter_linux_opts){ .mkfs_timeout_ms = 120000, .tool_timeout_ms = 120000 });
	struct node_config cfg = {
		.by_id_dir = fx->by_id,
		.sysfs_root = fx->sys,
		.kubelet_root = fx->kubelet,
		.volume_attach_limit = -1,
		.reserved_volume_attachments = -1,
	};
	snprintf(cfg.instance.instance_id, sizeof cfg.instance.instance_id, "i-0123456789abcdef0");
	fx->svc = node_service_new(&cfg, fx->m);
	return 0;
}

static int teardown(void **state)
{
	struct lfx *fx = *state;
	if (fx->usable) {
		loop_cleanup_all();
		for (int i = 0; i < NLOOPS; i++)
			loop_destroy(&fx->ld[i]);
		if (loop_anything_mounted_under(fx->dir))
			fprintf(stderr, "LEAK: something is still mounted under %s\n", fx->dir);
		loop_rmtree(fx->dir);
	}
	node_service_free(fx->svc);
	mounter_free(fx->m);
	free(fx);
	return 0;
}

static struct lfx *need_root(void **state)
{
	struct lfx *fx = *state;
	if (!fx->usable) {
		fprintf(stderr, "SKIP: %s\n", fx->why);
		skip();
	}
	return fx;
}

/* Attaches loop slot i of size bytes and links volume vol (NULL: no link) to it. */
static const char *attach(struct lfx *fx, int i, const char *vol, long long size)
{
	char backing[512];
	snprintf(backing, sizeof backing, "%s/disk%d.img", fx->dir, i);
	loop_destroy(&fx->ld[i]);
	unlink(backing);
	assert_int_equal(loop_create(&fx->ld[i], backing, (uint64_t)size), 0);
	if (vol != NULL) {
		/* What udev makes for an EBS NVMe namespace, and ebs-ec2-sim for
		 * its loop devices. */
		char serial[32], link[600];
		assert_int_equal(devpath_serial_of_volume(vol, serial, sizeof serial, NULL), 0);
		snprintf(link, sizeof link, "%s/%s%s", fx->by_id, DEVPATH_BY_ID_PREFIX, serial);
		unlink(link);
		assert_int_equal(symlink(fx->ld[i].path, link), 0);
	}
	return fx->ld[i].path;
}

static void run_ok(const char *const argv[])
{
	assert_int_equal(loop_run(argv), 0);
}

/* ---- calls ------------------------------------------------------------------------ */

static int stage_req(struct lfx *fx, Csi__V1__NodeStageVolumeRequest *r, struct status *st)
{
	return node_call_code(node_stage_volume, fx->svc, &r->base, &csi__v1__node_stage_volume_response__descriptor, st);
}

static int stage(struct lfx *fx, const char *vol, const char *path, Csi__V1__VolumeCapability *cap,
		 struct status *st)
{
	return stage_req(fx, nt_stage_req(vol, path, cap), st);
}

static int unstage(struct lfx *fx, const char *vol, const char *path, struct status *st)
{
	return node_call_code(node_unstage_volume, fx->svc, &nt_unstage_req(vol, path)->base,
			      &csi__v1__node_unstage_volume_response__descriptor, st);
}

static int publish(struct lfx *fx, const char *vol, const char *stg, const char *tgt, Csi__V1__VolumeCapability *cap,
		   bool ro, struct status *st)
{
	return node_call_code(node_publish_volume, fx->svc, &nt_publish_req(vol, stg, tgt, cap, ro)->base,
			      &csi__v1__node_publish_volume_response__descriptor, st);
}

static int unpublish(struct lfx *fx, const char *vol, const char *tgt, struct status *st)
{
	return node_call_code(node_unpublish_volume, fx->svc, &nt_unpublish_req(vol, tgt)->base,
			      &csi__v1__node_unpublish_volume_response__descriptor, st);
}

static long long expand(struct lfx *fx, const char *vol, const char *path, const char *stg,
			Csi__V1__VolumeCapability *cap, long long required, struct status *st)
{
	ProtobufCMessage *m = node_call(node_expand_volume, fx->svc,
					&nt_expand_req(vol, path, stg, cap, required)->base,
					&csi__v1__node_expand_volume_response__descriptor, st);
	if (m == NULL)
		return -st->code;
	long long v = ((Csi__V1__NodeExpandVolumeResponse *)m)->capacity_bytes;
	protobuf_c_message_free_unpacked(m, NULL);
	return v;
}

static Csi__V1__NodeGetVolumeStatsResponse *stats(struct lfx *fx, const char *vol, const char *path, struct status *st)
{
	return (Csi__V1__NodeGetVolumeStatsResponse *)node_call(node_get_volume_stats, fx->svc,
								 &nt_stats_req(vol, path)->base,
								 &csi__v1__node_get_volume_stats_response__descriptor, st);
}

/* ---- file helpers -------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fflush(f), 0);
	assert_int_equal(fsync(fileno(f)), 0);
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

static bool is_mounted(struct lfx *fx, const char *path)
{
	bool mounted = true;
	struct status st = STATUS_INIT;
	assert_int_equal(mounter_is_mounted(fx->m, path, &mounted, &st), 0);
	return mounted;
}

static void write_at(const char *dev, long long off, const void *data, size_t len)
{
	int fd = open(dev, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void lifecycle(struct lfx *fx, const char *fstype, long long size, const char *ctx_key, const char *ctx_val,
		      unsigned long want_bsize)
{
	struct status st;
	const char *dev = attach(fx, 0, NT_VOL1, size);
	uint64_t blank = loop_hash_device(dev);
	const char *stg = P(fx, "stage"), *pub = P(fx, "pub"), *pub2 = P(fx, "pub2");
	Csi__V1__NodeStageVolumeRequest *r =
		nt_stage_req(NT_VOL1, stg, nt_cap_mount(fstype, SNW, (const char *[]){ "noatime", NULL }));
	if (ctx_key != NULL)
		nt_stage_ctx(r, ctx_key, ctx_val);
	assert_int_equal(stage_req(fx, r, &st), STATUS_OK);
	assert_true(is_mounted(fx, stg));
	assert_true(loop_hash_device(dev) != blank); /* formatted */
	struct statvfs sv;
	assert_int_equal(statvfs(stg, &sv), 0);
	if (want_bsize)
		assert_int_equal(sv.f_bsize, want_bsize);
	/* Retried stage: OK, same mount. */
	assert_int_equal(stage(fx, NT_VOL1, stg, nt_cap_mount(fstype, SNW, (const char *[]){ "noatime", NULL }), &st),
			 STATUS_OK);
	assert_int_equal(publish(fx, NT_VOL1, stg, pub, nt_cap_mount(fstype, SNW, NULL), false, &st), STATUS_OK);
	assert_int_equal(publish(fx, NT_VOL1, stg, pub, nt_cap_mount(fstype, SNW, NULL), false, &st), STATUS_OK);
	char file[600];
	snprintf(file, sizeof file, "%s/hello", pub);
	write_file(file, fstype);
	assert_int_equal(unpublish(fx, NT_VOL1, pub, &st), STATUS_OK);
	assert_int_equal(access(pub, F_OK), -1); /* the target we created is gone */
	assert_int_equal(unstage(fx, NT_VOL1, stg, &st), STATUS_OK);
	assert_false(is_mounted(fx, stg));
	assert_int_equal(unstage(fx, NT_VOL1, stg, &st), STATUS_OK);
	/* Restage: the filesystem and the file are still there. */
	assert_int_equal(stage(fx, NT_VOL1, stg, nt_cap_mount(fstype, SNW, NULL), &st), STATUS_OK);
	assert_int_equal(publish(fx, NT_VOL1, stg, pub2, nt_cap_mount(fstype, SNW, NULL), true, &st), STATUS_OK);
	snprintf(file, sizeof file, "%s/hello", pub2);
	assert_file(file, fstype);
	/* Read-only publish: writes fail. */
	char other[600];
	snprintf(other, sizeof other, "%s/new", pub2);
	assert_int_equal(open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0644), -1);
	assert_int_equal(errno, EROFS);
	/* Same target read-write: incompatible. */
	assert_int_equal(publish(fx, NT_VOL1, stg, pub2, nt_cap_mount(fstype, SNW, NULL), false, &st),
			 STATUS_ALREADY_EXISTS);
	assert_int_equal(unpublish(fx, NT_VOL1, pub2, &st), STATUS_OK);
	assert_int_equal(unstage(fx, NT_VOL1, stg, &st), STATUS_OK);
	assert_false(loop_anything_mounted_under(fx->dir));
}

static void test_lifecycle_ext4(void **state)
{
	struct lfx *fx = need_root(state);
	lifecycle(fx, "ext4", 64 * MiB, "blockSize", "2048", 2048);
}

static void test_lifecycle_xfs(void **state)
{
	struct lfx *fx = need_root(state);
	lifecycle(fx, "xfs", 320 * MiB, NULL, NULL, 0);
}

static void test_raw_block(void **state)
{
	struct lfx *fx = need_root(state);
	struct status st;
	const char *dev = attach(fx, 0, NT_VOL1, 64 * MiB);
	const char *stg = P(fx, "stage"), *blk = P(fx, "blk"), *blk2 = P(fx, "blk2");
	assert_int_equal(stage(fx, NT_VOL1, stg, nt_cap_block(SNW), &st), STATUS_OK);
	assert_false(is_mounted(fx, stg));
	assert_int_equal(publish(fx, NT_VOL1, stg, blk, nt_cap_block(SNW), false, &st), STATUS_OK);
	assert_int_equal(publish(fx, NT_VOL1, stg, blk, nt_cap_block(SNW), false, &st), STATUS_OK);
	struct stat sb;
	assert_int_equal(stat(blk, &sb), 0);
	assert_true(S_ISBLK(sb.st_mode));
	/* Write through the published file, read through the device. */
	const char msg[] = "written through the raw block target";
	write_at(blk, 3 * MiB, msg, sizeof msg);
	char back[sizeof msg] = "";
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, back, sizeof back, 3 * MiB), (ssize_t)sizeof back);
	close(fd);
	assert_memory_equal(back, msg, sizeof msg);
	/* Stats and expand of a block volume: the device size. */
	Csi__V1__NodeGetVolumeStatsResponse *r = stats(fx, NT_VOL1, blk, &st);
	assert_non_null(r);
	assert_int_equal(r->n_usage, 1);
	assert_int_equal(r->usage[0]->total, 64 * MiB);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(loop_grow(&fx->ld[0], 96 * MiB), 0);
	assert_int_equal(expand(fx, NT_VOL1, blk, NULL, nt_cap_block(SNW), 0, &st), 96 * MiB);
	assert_int_equal(expand(fx, NT_VOL1, blk, NULL, NULL, 0, &st), 96 * MiB);
	/* Read-only block publish: the bind is read-only. */
	assert_int_equal(publish(fx, NT_VOL1, NULL, blk2, nt_cap_block(SNW), true, &st), STATUS_OK);
	struct mounter_mount_info mi;
	assert_int_equal(mounter_mount_info(fx->m, blk2, &mi, &st), 0);
	assert_true(mi.readonly);
	mounter_mount_info_dispose(&mi);
	assert_int_equal(unpublish(fx, NT_VOL1, blk, &st), STATUS_OK);
	assert_int_equal(unpublish(fx, NT_VOL1, blk2, &st), STATUS_OK);
	assert_int_equal(access(blk, F_OK), -1);
	assert_int_equal(access(blk2, F_OK), -1);
	assert_int_equal(unstage(fx, NT_VOL1, stg, &st), STATUS_OK);
	assert_false(loop_anything_mounted_under(fx->dir));
	/* The data is still on the device. */
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	assert_int_equal(pread(fd, back, sizeof back, 3 * MiB), (ssize_t)sizeof back);
	close(fd);
	assert_memory_equal(back, msg, sizeof msg);
}

/* ---- expansion ------------------------------------------------------------------------------ */

static bool have_cap_sys_resource(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	return (eff & (1ull << 24)) != 0;
}

static void expand_online(struct lfx *fx, const char *fstype, long long size, long long grown)
{
	struct status st;
	attach(fx, 0, NT_VOL1, size);
	const char *stg = P(fx, "stage"), *pub = P(fx, "pub");
	assert_int_equal(stage(fx, NT_VOL1, stg, nt_cap_mount(fstype, SNW, NULL), &st), STATUS_OK);
	assert_int_equal(publish(fx, NT_VOL1, stg, pub, nt_cap_mount(fstype, SNW, NULL), false, &st), STATUS_OK);
	struct statvfs before, after;
	assert_int_equal(statvfs(pub, &before), 0);
	assert_int_equal(loop_grow(&fx->ld[0], (uint64_t)grown), 0);
	long long cap = expand(fx, NT_VOL1, pub, stg, nt_cap_mount(fstype, SNW, NULL), grown, &st);
	if (cap < 0 && strstr(st.msg, "Permission denied") != NULL) {
		fprintf(stderr, "SKIP: online resize refused by this sandbox: %s\n", st.msg);
		skip();
	}
	assert_int_equal(cap, grown);
	assert_int_equal(statvfs(pub, &after), 0);
	assert_true((unsigned long long)after.f_blocks * after.f_frsize >
		    (unsigned long long)before.f_blocks * before.f_frsize + (unsigned long long)(grown - size) / 2);
	/* Again: already full size, OK. Too much: OUT_OF_RANGE. */
	assert_int_equal(expand(fx, NT_VOL1, pub, stg, NULL, 0, &st), grown);
	assert_int_equal(expand(fx, NT_VOL1, pub, stg, NULL, grown + MiB, &st), -STATUS_OUT_OF_RANGE);
	/* Not a mount point. */
	assert_int_equal(expand(fx, NT_VOL1, P(fx, "nothing"), NULL, NULL, 0, &st), -STATUS_NOT_FOUND);
	assert_int_equal(unpublish(fx, NT_VOL1, pub, &st), STATUS_OK);
	assert_int_equal(unstage(fx, NT_VOL1, stg, &st), STATUS_OK);
}

static void test_expand_xfs(void **state)
{
	struct lfx *fx = need_root(state);
	expand_online(fx, "xfs", 320 * MiB, 512 * MiB);
}

static void test_expand_ext4(void **state)
{
	struct lfx *fx = need_root(state);
	if (!have_cap_sys_resource()) {
		fprintf(stderr, "SKIP: ext4 online resize needs CAP_SYS_RESOURCE, which this process lacks\n");
		skip();
	}
	expand_online(fx, "ext4", 64 * MiB, 128 * MiB);
}

static void test_grown_while_unstaged_xfs(void **state)
{
	struct lfx *fx = need_root(state);
	struct status st;
	attach(fx, 0, NT_VOL1, 320 * MiB);
	const char *stg = P(fx, "stage");
	assert_int_equal(stage(fx, NT_VOL1, stg, nt_cap_mount("xfs", SNW, NULL), &st), STATUS_OK);
	assert_int_equal(unstage(fx, NT_VOL1, stg, &st), STATUS_OK);
	assert_int_equal(loop_grow(&fx->ld[0], 480 * MiB), 0);
	assert_int_equal(stage(fx, NT_VOL1, stg, nt_cap_mount("xfs", SNW, NULL), &st), STATUS_OK);
	struct statvfs sv;
	assert_int_equal(statvfs(stg, &sv), 0);
	assert_true((unsigned long long)sv.f_blocks * sv.f_frsize > 400ull * MiB);
	assert_int_equal(unstage(fx, NT_VOL1, stg, &st), STATUS_OK);
}

/* ---- stats and condition ---------------------------------------------------------------------- */

static void test_stats_and_condition(void **state)
{
	struct lfx *fx = need_root(state);
	struct status st;
	const char *dev = attach(fx, 0, NT_VOL1, 64 * MiB);
	const char *stg = P(fx, "stage"), *pub = P(fx, "pub");
	assert_int_equal(stage(fx, NT_VOL1, stg, nt_cap_mount("ext4", SNW, (const char *[]){ "errors=remount-ro", NULL }),
			       &st),
			 STATUS_OK);
	assert_int_equal(publish(fx, NT_VOL1, stg, pub, nt_cap_mount("ext4", SNW, NULL), false, &st), STATUS_OK);
	Csi__V1__NodeGetVolumeStatsResponse *r = stats(fx, NT_VOL1, pub, &st);
	assert_non_null(r);
	assert_int_equal(r->n_usage, 2);
	struct statvfs sv;
	assert_int_equal(statvfs(pub, &sv), 0);
	assert_int_equal(r->usage[0]->unit, CSI__V1__VOLUME_USAGE__UNIT__BYTES);
	assert_int_equal(r->usage[0]->total, (long long)sv.f_blocks * (long long)sv.f_frsize);
	assert_true(r->usage[0]->used + r->usage[0]->available <= r->usage[0]->total);
	assert_int_equal(r->usage[1]->unit, CSI__V1__VOLUME_USAGE__UNIT__INODES);
	assert_int_equal(r->usage[1]->total, (long long)sv.f_files);
	assert_false(r->volume_condition->abnormal);
	long long used0 = r->usage[0]->used, iused0 = r->usage[1]->used;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Write 4 MiB: used grows by at least that, one more inode. */
	char file[600];
	snprintf(file, sizeof file, "%s/blob", pub);
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	static char chunk[1 << 20];
	memset(chunk, 'x', sizeof chunk);
	for (int i = 0; i < 4; i++)
		assert_int_equal(write(fd, chunk, sizeof chunk), (ssize_t)sizeof chunk);
	assert_int_equal(fsync(fd), 0);
	close(fd);
	r = stats(fx, NT_VOL1, stg, &st);
	assert_non_null(r);
	assert_true(r->usage[0]->used >= used0 + 4 * MiB);
	assert_int_equal(r->usage[1]->used, iused0 + 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Not there / another volume's question. */
	assert_null(stats(fx, NT_VOL1, P(fx, "pub2"), &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	attach(fx, 1, NT_VOL2, 16 * MiB);
	assert_null(stats(fx, NT_VOL2, pub, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	/* An ext4 error with errors=remount-ro: the superblock goes read-only
	 * under read-write mounts, and the condition says so. */
	const char *base = strrchr(dev, '/') + 1;
	char trigger[256];
	snprintf(trigger, sizeof trigger, "/sys/fs/ext4/%s/trigger_fs_error", base);
	int tfd = open(trigger, O_WRONLY | O_CLOEXEC);
	if (tfd < 0) {
		fprintf(stderr, "note: %s unavailable (%s): abnormal condition not exercised\n", trigger, strerror(errno));
	} else {
		assert_true(write(tfd, "test error\n", 11) > 0);
		close(tfd);
		r = stats(fx, NT_VOL1, pub, &st);
		assert_non_null(r);
		assert_true(r->volume_condition->abnormal);
		assert_non_null(strstr(r->volume_condition->message, "read-only"));
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	assert_int_equal(unpublish(fx, NT_VOL1, pub, &st), STATUS_OK);
	assert_int_equal(unstage(fx, NT_VOL1, stg, &st), STATUS_OK);
}

/* ---- data safety ------------------------------------------------------------------------------ */

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

enum content { C_XFS, C_EXT4, C_BTRFS, C_VFAT, C_SWAP, C_LUKS, C_LVM, C_MBR, C_GPT, C_DATA };

struct safety_case {
	const char *name;
	int content;
	const char *request;  /* fs type asked for */
	const char *expect;   /* in the error message */
	long long size;
	const char *tool;     /* needed to make the content; NULL: written by hand */
};

static const struct safety_case safety_cases[] = {
	{ "xfs requested as ext4", C_XFS, "ext4", "xfs", 320 * MiB, "mkfs.xfs" },
	{ "ext4 requested as xfs", C_EXT4, "xfs", "ext4", 64 * MiB, "mkfs.ext4" },
	{ "btrfs", C_BTRFS, "ext4", "btrfs", 128 * MiB, "mkfs.btrfs" },
	{ "vfat", C_VFAT, "ext4", "vfat", 64 * MiB, "mkfs.vfat" },
	{ "swap", C_SWAP, "ext4", "swap", 64 * MiB, "mkswap" },
	{ "LUKS", C_LUKS, "ext4", "crypto_LUKS", 64 * MiB, NULL },
	{ "LVM2 PV", C_LVM, "xfs", "LVM2_member", 64 * MiB, "pvcreate" },
	{ "MBR", C_MBR, "ext4", "dos", 64 * MiB, NULL },
	{ "GPT", C_GPT, "ext4", "gpt", 64 * MiB, "sfdisk" },
	{ "unrecognised data", C_DATA, "ext4", "data", 64 * MiB, NULL },
};

static void run_stdin(const char *const argv[], const char *input)
{
	struct exec_result r;
	struct exec_opts o = { .timeout_ms = 120000, .stdin_data = input, .stdin_len = strlen(input) };
	assert_int_equal(exec_run(argv, &o, &r, NULL), 0);
	if (r.exit_code != 0)
		fprintf(stderr, "%s: %s%s\n", argv[0], r.out, r.err);
	assert_int_equal(r.exit_code, 0);
	exec_result_dispose(&r);
}

static void make_content(struct lfx *fx, const char *dev, int content)
{
	switch (content) {
	case C_XFS: run_ok((const char *[]){ "mkfs.xfs", "-q", dev, NULL }); break;
	case C_EXT4: run_ok((const char *[]){ "mkfs.ext4", "-q", dev, NULL }); break;
	case C_BTRFS: run_ok((const char *[]){ "mkfs.btrfs", "-q", dev, NULL }); break;
	case C_VFAT: run_ok((const char *[]){ "mkfs.vfat", dev, NULL }); break;
	case C_SWAP: run_ok((const char *[]){ "mkswap", dev, NULL }); break;
	case C_LUKS:
		if (loop_find_tool("cryptsetup", "/usr/sbin:/usr/bin:/sbin:/bin", NULL, 0)) {
			char key[512];
			snprintf(key, sizeof key, "%s/key", fx->dir);
			write_file(key, "not a secret, a test key");
			run_ok((const char *[]){ "cryptsetup", "luksFormat", "-q", "--type", "luks2", "--pbkdf", "pbkdf2",
						 "--pbkdf-force-iterations", "1000", "--key-file", key, dev, NULL });
		} else {
			/* A LUKS1 header as far as libblkid looks. */
			unsigned char hdr[592] = { 'L', 'U', 'K', 'S', 0xBA, 0xBE, 0x00, 0x01 };
			memcpy(hdr + 8, "aes", 3);
			memcpy(hdr + 40, "xts-plain64", 11);
			memcpy(hdr + 72, "sha256", 6);
			memcpy(hdr + 168, "0b3a5e1c-8a0f-4d5e-9f3a-2b1c0d9e8f7a", 36);
			write_at(dev, 0, hdr, sizeof hdr);
		}
		break;
	case C_LVM:
		/* No lvmetad/udev here: plain metadata write, no activation. */
		run_ok((const char *[]){ "pvcreate", "-q", "--config", "devices { filter = [ \"a|.*|\" ] }", dev, NULL });
		break;
	case C_MBR: {
		unsigned char mbr[512] = { 0 };
		unsigned char *e = mbr + 446;
		e[4] = 0x83;
		put_le32(e + 8, 2048);
		put_le32(e + 12, (uint32_t)(64 * MiB / 512 - 2048));
		mbr[510] = 0x55;
		mbr[511] = 0xAA;
		write_at(dev, 0, mbr, sizeof mbr);
		break;
	}
	case C_GPT: run_stdin((const char *[]){ "sfdisk", "-q", "--no-reread", "--no-tell-kernel", dev, NULL },
			      "label: gpt\n,,L\n"); break;
	case C_DATA: {
		const char data[] = "a database page written through a raw block volume";
		write_at(dev, 8192, data, sizeof data);
		break;
	}
	default: fail();
	}
}

static void test_data_safety_matrix(void **state)
{
	struct lfx *fx = need_root(state);
	struct status st;
	const char *stg = P(fx, "stage");
	int ran = 0;
	for (size_t i = 0; i < sizeof safety_cases / sizeof safety_cases[0]; i++) {
		const struct safety_case *c = &safety_cases[i];
		if (c->tool != NULL && !loop_find_tool(c->tool, "/usr/sbin:/usr/bin:/sbin:/bin", NULL, 0)) {
			fprintf(stderr, "note: %s not installed: case \"%s\" not run\n", c->tool, c->name);
			continue;
		}
		const char *dev = attach(fx, 0, NT_VOL1, c->size);
		make_content(fx, dev, c->content);
		uint64_t before = loop_hash_device(dev);
		assert_true(before != 0);
		int code = stage(fx, NT_VOL1, stg, nt_cap_mount(c->request, SNW, NULL), &st);
		if (code != STATUS_FAILED_PRECONDITION || strstr(st.msg, c->expect) == NULL)
			fprintf(stderr, "case \"%s\": %s: %s\n", c->name, status_code_name(code), st.msg);
		assert_int_equal(code, STATUS_FAILED_PRECONDITION);
		assert_non_null(strstr(st.msg, c->expect));
		assert_false(is_mounted(fx, stg));
		assert_int_equal(loop_hash_device(dev), before);
		/* A retry is refused the same way (nothing changed in between). */
		assert_int_equal(stage(fx, NT_VOL1, stg, nt_cap_mount(c->request, SNW, NULL), &st),
				 STATUS_FAILED_PRECONDITION);
		assert_int_equal(loop_hash_device(dev), before);
		ran++;
	}
	assert_true(ran >= 6);
}

static void test_data_safety_identity(void **state)
{
	struct lfx *fx = need_root(state);
	struct status st;
	const char *stg = P(fx, "stage");
	/* A blank device linked as VOL1; VOL2 is staged with devicePath naming
	 * it. Nothing proves it is VOL2: refused, and it stays blank. */
	const char *dev1 = attach(fx, 0, NT_VOL1, 64 * MiB);
	uint64_t blank = loop_hash_device(dev1);
	Csi__V1__NodeStageVolumeRequest *r = nt_stage_req(NT_VOL2, stg, nt_cap_mount("ext4", SNW, NULL));
	nt_stage_pctx(r, "devicePath", dev1);
	assert_int_equal(stage_req(fx, r, &st), STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, NT_VOL2));
	assert_int_equal(loop_hash_device(dev1), blank);
	/* VOL2's own link wins over a devicePath naming VOL1's device. */
	const char *dev2 = attach(fx, 1, NT_VOL2, 64 * MiB);
	r = nt_stage_req(NT_VOL2, stg, nt_cap_mount("ext4", SNW, NULL));
	nt_stage_pctx(r, "devicePath", dev1);
	assert_int_equal(stage_req(fx, r, &st), STATUS_OK);
	char *src = mounter_device_of_mount(fx->m, stg, &st);
	assert_string_equal(src, dev2);
	free(src);
	assert_int_equal(loop_hash_device(dev1), blank);
	/* VOL1 may not unstage or publish what is VOL2's. */
	assert_int_equal(unstage(fx, NT_VOL1, stg, &st), STATUS_FAILED_PRECONDITION);
	assert_true(is_mounted(fx, stg));
	assert_int_equal(publish(fx, NT_VOL1, stg, P(fx, "pub"), nt_cap_mount("ext4", SNW, NULL), false, &st),
			 STATUS_FAILED_PRECONDITION);
	assert_int_equal(access(P(fx, "pub"), F_OK), -1);
	/* VOL1 staged over VOL2's staging path: ALREADY_EXISTS, VOL1 untouched. */
	assert_int_equal(stage(fx, NT_VOL1, stg, nt_cap_mount("ext4", SNW, NULL), &st), STATUS_ALREADY_EXISTS);
	assert_int_equal(loop_hash_device(dev1), blank);
	assert_int_equal(unstage(fx, NT_VOL2, stg, &st), STATUS_OK);
	assert_false(loop_anything_mounted_under(fx->dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle_ext4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_xfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_xfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_ext4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grown_while_unstaged_xfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_and_condition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_safety_matrix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_safety_identity, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
