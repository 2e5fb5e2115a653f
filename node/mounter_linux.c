/*
 * mounter_linux: struct mounter on Linux. libblkid decides what is on a
 * device, libmount mounts and reads /proc/self/mountinfo, and the e2fsprogs /
 * xfsprogs tools (through common/exec, never a shell) format, check and grow.
 *
 * Data safety, in layers: (1) a low-level libblkid probe of superblocks AND
 * partition tables, accepting bad checksums, so LVM, RAID, LUKS, swap or a
 * damaged filesystem all count as "something"; (2) a device with no signature
 * but non-zero bytes in its first MiB is "data", also refused; (3) mkfs.xfs
 * runs without -f, so it refuses any signature it sees itself (mke2fs only
 * asks when stdin is a terminal, so for ext the probe is the guard; -F is
 * still left out so an interactive run would ask). fsck never runs on a
 * device that is mounted anywhere, and resize only acts on a mount whose
 * source is the named device. The one exception to (1)-(3): a device this
 * driver began to format and never finished, as proven by a format claim for
 * that very disk (node/format_claim.h), is formatted again with mkfs's force
 * flag — its content is mkfs's half-work, never anybody's data.
 *
 * Deliberately not here: which device is which volume (node/devpath.c), and
 * any decision about idempotency beyond "already mounted there" (node/).
 */
#include "node/mounter.h"

#include "common/exec.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "node/format_claim.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <libmount/libmount.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MOUNTER_DEFAULT_TIMEOUT_MS (10 * 60 * 1000)
/* Bytes at the start of a "blank" device that must read as zeros. */
#define MOUNTER_ZERO_CHECK_BYTES (1024 * 1024)

struct mounter_linux {
	struct mounter base;
	int mkfs_timeout_ms;
	int tool_timeout_ms;
	char *state_dir;     /* where format claims live; NULL: none (node/format_claim.h) */
	char boot_id[40];
};

static struct mounter_linux *linux_of(struct mounter *m) { return (struct mounter_linux *)m; }

static pthread_once_t libs_once = PTHREAD_ONCE_INIT;

/* Both libraries initialise debug masks from the environment lazily, which is
 * not thread-safe; doing it once up front is. */
static void libs_init(void)
{
	blkid_init_debug(0);
	mnt_init_debug(0);
}

/* ---- pure helpers --------------------------------------------------------------- */

const char *mounter_fstype_canonical(const char *fstype)
{
	static const char *const known[] = { "ext4", "ext3", "ext2", "xfs" };
	if (fstype == NULL || fstype[0] == '\0')
		return "ext4";
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(fstype, known[i]) == 0)
			return known[i];
	return NULL;
}

static bool is_ext(const char *fstype) { return strncmp(fstype, "ext", 3) == 0; }

bool mounter_options_have(const char *options, const char *name)
{
	if (options == NULL)
		return false;
	size_t nl = strlen(name);
	const char *p = options;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t key = eq ? (size_t)(eq - p) : len;
		if (key == nl && strncmp(p, name, nl) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

/* Appends a formatted number to scratch and returns it; NULL when full. */
static const char *scratch_fmt(char *scratch, size_t len, size_t *used, const char *fmt, unsigned long long v)
{
	if (*used >= len)
		return NULL;
	int n = snprintf(scratch + *used, len - *used, fmt, v);
	if (n < 0 || (size_t)n >= len - *used)
		return NULL;
	const char *s = scratch + *used;
	*used += (size_t)n + 1;
	return s;
}

int mounter_format_args(const struct mounter_format_opts *fmt, const char *device, const char **argv,
			size_t cap, char *scratch, size_t scratch_len, struct status *st)
{
	static const struct mounter_format_opts none = { 0 };
	if (fmt == NULL)
		fmt = &none;
	const char *fstype = mounter_fstype_canonical(fmt->fstype);
	if (fstype == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "unsupported fstype %s", fmt->fstype);
	size_t n = 0, used = 0;
	const char *a[32];
#define ARG(x) (a[n++] = (x))
#define NUM(f, v)                                                                                  \
	do {                                                                                       \
		const char *s_ = scratch_fmt(scratch, scratch_len, &used, (f), (unsigned long long)(v)); \
		if (s_ == NULL)                                                                    \
			return status_set(st, STATUS_INTERNAL, "mkfs arguments too long");         \
		ARG(s_);                                                                           \
	} while (0)
	if (is_ext(fstype)) {
		ARG(strcmp(fstype, "ext4") == 0 ? "mkfs.ext4" : strcmp(fstype, "ext3") == 0 ? "mkfs.ext3" : "mkfs.ext2");
		/* No -F: it would only add force to checks we already did (mke2fs
		 * asks about an existing fs only on a terminal; ours is /dev/null). */
		ARG("-m");
		ARG("0");
		/* Lazy init leaves inode tables and journal zeroing to the kernel
		 * after mount: staging takes seconds, not minutes. nodiscard: a new
		 * EBS volume reads as zeros already. */
		ARG("-E");
		ARG("lazy_itable_init=1,lazy_journal_init=1,nodiscard");
		if (fmt->block_size) {
			ARG("-b");
			NUM("%llu", fmt->block_size);
		}
		if (fmt->inode_size) {
			ARG("-I");
			NUM("%llu", fmt->inode_size);
		}
		if (fmt->bytes_per_inode) {
			ARG("-i");
			NUM("%llu", fmt->bytes_per_inode);
		}
		if (fmt->number_of_inodes) {
			ARG("-N");
			NUM("%llu", fmt->number_of_inodes);
		}
		if (fmt->ext4_bigalloc || fmt->ext4_cluster_size) {
			if (strcmp(fstype, "ext4") != 0)
				return status_set(st, STATUS_INVALID_ARGUMENT, "ext4BigAlloc/ext4ClusterSize need fstype ext4, not %s", fstype);
			if (fmt->ext4_cluster_size && !fmt->ext4_bigalloc)
				return status_set(st, STATUS_INVALID_ARGUMENT, "ext4ClusterSize needs ext4BigAlloc");
			ARG("-O");
			ARG("bigalloc");
			if (fmt->ext4_cluster_size) {
				ARG("-C");
				NUM("%llu", fmt->ext4_cluster_size);
			}
		}
		if (fmt->xfs_legacy)
			return status_set(st, STATUS_INVALID_ARGUMENT, "the legacy xfs format does not apply to %s", fstype);
	} else {
		if (fmt->bytes_per_inode || fmt->number_of_inodes || fmt->ext4_bigalloc || fmt->ext4_cluster_size)
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "bytesPerInode, numberOfInodes, ext4BigAlloc and ext4ClusterSize do not apply to xfs");
		/* No -f: mkfs.xfs refuses a device with any signature on it. */
		ARG("mkfs.xfs");
		ARG("-K"); /* no discard, as for ext */
		if (fmt->block_size) {
			ARG("-b");
			NUM("size=%llu", fmt->block_size);
		}
		if (fmt->xfs_legacy) {
			/* Features kernels before 5.10 (bigtime, inobtcount, reflink on
			 * some distributions) or 5.19 (nrext64) cannot mount. */
			ARG("-m");
			ARG("bigtime=0,inobtcount=0,reflink=0");
		}
		if (fmt->inode_size && fmt->xfs_legacy) {
			ARG("-i");
			NUM("size=%llu,nrext64=0", fmt->inode_size);
		} else if (fmt->inode_size) {
			ARG("-i");
			NUM("size=%llu", fmt->inode_size);
		} else if (fmt->xfs_legacy) {
			ARG("-i");
			ARG("nrext64=0");
		}
	}
	ARG(device);
#undef ARG
#undef NUM
	if (n + 1 > cap)
		return status_set(st, STATUS_INTERNAL, "mkfs argv needs %zu entries", n + 1);
	for (size_t i = 0; i < n; i++)
		argv[i] = a[i];
	argv[n] = NULL;
	return (int)n;
}

static uint32_t le32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t be32(const unsigned char *p) { return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24; }

uint64_t mounter_fs_size_from_superblock(const unsigned char *sb, size_t len)
{
	/* xfs: sb_magicnum "XFSB" at 0, sb_blocksize (be32) at 4, sb_dblocks (be64) at 8. */
	if (len >= 16 && memcmp(sb, "XFSB", 4) == 0) {
		uint32_t bs = be32(sb + 4);
		uint64_t blocks = (uint64_t)be32(sb + 8) << 32 | be32(sb + 12);
		if (bs < 512 || bs > 65536 || (bs & (bs - 1)) || blocks > UINT64_MAX / bs)
			return 0;
		return blocks * bs;
	}
	/* ext2/3/4: superblock at 1024; s_magic 0xEF53 (le16) at +0x38,
	 * s_blocks_count_lo at +4, s_log_block_size at +0x18, s_feature_incompat
	 * at +0x60 (64BIT = 0x80), s_blocks_count_hi at +0x150. */
	if (len >= 1024 + 0x154) {
		const unsigned char *e = sb + 1024;
		if (e[0x38] != 0x53 || e[0x39] != 0xEF)
			return 0;
		uint32_t log = le32(e + 0x18);
		if (log > 6)
			return 0;
		uint64_t bs = 1024ull << log;
		uint64_t blocks = le32(e + 4);
		if (le32(e + 0x60) & 0x80)
			blocks |= (uint64_t)le32(e + 0x150) << 32;
		if (blocks > UINT64_MAX / bs)
			return 0;
		return blocks * bs;
	}
	return 0;
}

/* ---- probe ------------------------------------------------------------------------ */

static int errno_status(struct status *st, int err, const char *what, const char *path)
{
	int code = STATUS_INTERNAL;
	if (err == ENOENT || err == ENOTDIR || err == ENXIO || err == ENODEV)
		code = STATUS_NOT_FOUND;
	else if (err == EACCES || err == EPERM)
		code = STATUS_PERMISSION_DENIED;
	return status_set(st, code, "%s %s: %s", what, path, strerror(err));
}

/* Reads up to len bytes from offset 0; returns how many (short at the end of
 * the device), -1 on error with errno set. */
static ssize_t read_head(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static int linux_probe(struct mounter *m, const char *device, struct mounter_probe *out, struct status *st)
{
	(void)m;
	pthread_once(&libs_once, libs_init);
	memset(out, 0, sizeof *out);
	int fd = open(device, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno_status(st, errno, "open", device);
	unsigned char *head = xmalloc(MOUNTER_ZERO_CHECK_BYTES);
	int rc = -1;
	ssize_t got = read_head(fd, head, MOUNTER_ZERO_CHECK_BYTES);
	if (got < 0) {
		errno_status(st, errno, "read", device);
		goto out;
	}
	blkid_probe pr = blkid_new_probe();
	if (pr == NULL || blkid_probe_set_device(pr, fd, 0, 0) != 0) {
		blkid_free_probe(pr);
		status_set(st, STATUS_INTERNAL, "libblkid cannot use %s", device);
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_BADCSUM);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	int r = blkid_do_safeprobe(pr);
	if (r == -1) {
		blkid_free_probe(pr);
		status_set(st, STATUS_INTERNAL, "libblkid could not probe %s", device);
		goto out;
	}
	if (r == -2) {
		/* Several signatures that contradict each other: something is
		 * there for sure, just not one clear thing. */
		out->content = MOUNTER_CONTENT_OTHER;
		copy_str(out->type, sizeof out->type, "ambivalent");
	} else if (r == 0) {
		const char *type = NULL, *pttype = NULL, *usage = NULL;
		blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
		blkid_probe_lookup_value(pr, "PTTYPE", &pttype, NULL);
		blkid_probe_lookup_value(pr, "USAGE", &usage, NULL);
		copy_str(out->usage, sizeof out->usage, usage);
		if (type != NULL) {
			copy_str(out->type, sizeof out->type, type);
			out->content = usage != NULL && strcmp(usage, "filesystem") == 0 ? MOUNTER_CONTENT_FILESYSTEM
											 : MOUNTER_CONTENT_OTHER;
		} else if (pttype != NULL) {
			copy_str(out->type, sizeof out->type, pttype);
			out->content = MOUNTER_CONTENT_PARTITION_TABLE;
		} else {
			copy_str(out->type, sizeof out->type, "unknown signature");
			out->content = MOUNTER_CONTENT_OTHER;
		}
	} else {
		out->content = MOUNTER_CONTENT_BLANK;
		for (ssize_t i = 0; i < got; i++) {
			if (head[i] != 0) {
				/* Nothing libblkid knows, yet written to: a raw-block
				 * user's data looks exactly like this. */
				out->content = MOUNTER_CONTENT_OTHER;
				copy_str(out->type, sizeof out->type, "data");
				break;
			}
		}
	}
	blkid_free_probe(pr);
	if (out->content == MOUNTER_CONTENT_FILESYSTEM)
		out->fs_bytes = mounter_fs_size_from_superblock(head, (size_t)got);
	rc = 0;
out:
	free(head);
	close(fd);
	return rc;
}

/* ---- mount table -------------------------------------------------------------------- */

static struct libmnt_table *read_mountinfo(struct status *st)
{
	pthread_once(&libs_once, libs_init);
	struct libmnt_table *tb = mnt_new_table();
	if (tb == NULL) {
		status_set(st, STATUS_INTERNAL, "libmount: cannot allocate a table");
		return NULL;
	}
	int r = mnt_table_parse_file(tb, "/proc/self/mountinfo");
	if (r != 0) {
		mnt_unref_table(tb);
		status_set(st, STATUS_INTERNAL, "cannot read /proc/self/mountinfo: %s", strerror(-r));
		return NULL;
	}
	return tb;
}

static char *xstrdup_or_empty(const char *s) { return xstrdup(s ? s : ""); }

static int linux_mount_info(struct mounter *m, const char *path, struct mounter_mount_info *out, struct status *st)
{
	(void)m;
	memset(out, 0, sizeof *out);
	char canon[PATH_MAX];
	if (realpath(path, canon) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return status_set(st, STATUS_NOT_FOUND, "%s does not exist", path);
		/* A dead mount (EIO, ENOTCONN) still shows in the table under the
		 * name it was mounted with; look it up as given. */
		snprintf(canon, sizeof canon, "%s", path);
	}
	struct libmnt_table *tb = read_mountinfo(st);
	if (tb == NULL)
		return -1;
	struct libmnt_fs *fs = mnt_table_find_target(tb, canon, MNT_ITER_BACKWARD);
	if (fs == NULL) {
		mnt_unref_table(tb);
		return status_set(st, STATUS_NOT_FOUND, "%s is not a mount point", path);
	}
	out->source = xstrdup_or_empty(mnt_fs_get_source(fs));
	out->fstype = xstrdup_or_empty(mnt_fs_get_fstype(fs));
	out->root = xstrdup_or_empty(mnt_fs_get_root(fs));
	out->vfs_options = xstrdup_or_empty(mnt_fs_get_vfs_options(fs));
	out->fs_options = xstrdup_or_empty(mnt_fs_get_fs_options(fs));
	out->readonly = mounter_options_have(out->vfs_options, "ro");
	out->dev = (uint64_t)mnt_fs_get_devno(fs);
	mnt_unref_table(tb);
	return 0;
}

/* The device number of a block device node, 0 when path is not one. */
static dev_t block_rdev(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0 || !S_ISBLK(sb.st_mode))
		return 0;
	return sb.st_rdev;
}

/* Whether any mount in the table has its superblock on the device rdev. */
static int device_mounted(dev_t rdev, bool *mounted, struct status *st)
{
	*mounted = false;
	struct libmnt_table *tb = read_mountinfo(st);
	if (tb == NULL)
		return -1;
	*mounted = mnt_table_find_devno(tb, rdev, MNT_ITER_FORWARD) != NULL;
	mnt_unref_table(tb);
	return 0;
}

/* ---- mount / unmount ------------------------------------------------------------------ */

static struct libmnt_context *new_context(void)
{
	pthread_once(&libs_once, libs_init);
	struct libmnt_context *cxt = mnt_new_context();
	if (cxt == NULL)
		return NULL;
	/* No fstab, no /run/mount/utab bookkeeping, no /sbin/mount.<type>
	 * helpers: exactly the mount(2) we ask for. */
	mnt_context_set_optsmode(cxt, MNT_OMODE_IGNORE | MNT_OMODE_NOTAB);
	mnt_context_disable_mtab(cxt, 1);
	mnt_context_disable_helpers(cxt, 1);
	return cxt;
}

static int context_failure(struct libmnt_context *cxt, int rc, const char *what, struct status *st)
{
	char msg[STATUS_MSG_MAX] = "";
	int err = mnt_context_syscall_called(cxt) ? mnt_context_get_syscall_errno(cxt) : (rc < 0 ? -rc : 0);
	mnt_context_get_excode(cxt, rc, msg, sizeof msg);
	int code = STATUS_INTERNAL;
	if (err == ENOENT || err == ENOTDIR || err == ENXIO)
		code = STATUS_NOT_FOUND;
	else if (err == EBUSY)
		code = STATUS_UNAVAILABLE;
	else if (err == EACCES || err == EPERM)
		code = STATUS_PERMISSION_DENIED;
	return status_set(st, code, "%s: %s", what, msg[0] ? msg : (err ? strerror(err) : "failed"));
}

static int do_mount(const char *source, const char *target, const char *fstype, const char *options,
		    struct status *st)
{
	struct libmnt_context *cxt = new_context();
	if (cxt == NULL)
		return status_set(st, STATUS_INTERNAL, "libmount: cannot allocate a context");
	int rc = mnt_context_set_source(cxt, source);
	if (rc == 0)
		rc = mnt_context_set_target(cxt, target);
	if (rc == 0 && fstype != NULL && fstype[0] != '\0')
		rc = mnt_context_set_fstype(cxt, fstype);
	if (rc == 0 && options != NULL && options[0] != '\0')
		rc = mnt_context_set_options(cxt, options);
	if (rc != 0) {
		mnt_free_context(cxt);
		return status_set(st, STATUS_INVALID_ARGUMENT, "mount %s at %s: bad arguments (options \"%s\")",
				  source, target, options ? options : "");
	}
	rc = mnt_context_mount(cxt);
	if (rc != 0) {
		char what[STATUS_MSG_MAX];
		snprintf(what, sizeof what, "mount %s at %s", source, target);
		context_failure(cxt, rc, what, st);
		mnt_free_context(cxt);
		return -1;
	}
	mnt_free_context(cxt);
	log_v(2, "mounted %s at %s (%s, %s)", source, target, fstype ? fstype : "auto", options ? options : "");
	return 0;
}

static int linux_mount(struct mounter *m, const char *source, const char *target, const char *fstype,
		       const char *options, struct status *st)
{
	(void)m;
	return do_mount(source, target, fstype, options, st);
}

static int linux_unmount(struct mounter *m, const char *target, struct status *st)
{
	bool mounted;
	if (mounter_is_mounted(m, target, &mounted, st) < 0)
		return -1;
	if (!mounted)
		return 0;
	struct libmnt_context *cxt = new_context();
	if (cxt == NULL)
		return status_set(st, STATUS_INTERNAL, "libmount: cannot allocate a context");
	int rc = mnt_context_set_target(cxt, target);
	if (rc == 0)
		rc = mnt_context_umount(cxt);
	if (rc != 0) {
		char what[STATUS_MSG_MAX];
		snprintf(what, sizeof what, "unmount %s", target);
		context_failure(cxt, rc, what, st);
		mnt_free_context(cxt);
		/* Gone in the meantime (a concurrent unmount, or the table
		 * changed under us): the caller wanted it gone. */
		if (mounter_is_mounted(m, target, &mounted, NULL) == 0 && !mounted)
			return 0;
		return -1;
	}
	mnt_free_context(cxt);
	log_v(2, "unmounted %s", target);
	return 0;
}

static int linux_bind_mount(struct mounter *m, const char *source, const char *target, bool readonly,
			    struct status *st)
{
	/* libmount turns "bind,ro" into the bind plus the read-only remount
	 * the kernel needs (MS_RDONLY is ignored on the first MS_BIND call). */
	if (do_mount(source, target, NULL, readonly ? "bind,ro" : "bind", st) < 0)
		return -1;
	if (!readonly)
		return 0;
	struct mounter_mount_info mi;
	if (mounter_mount_info(m, target, &mi, st) < 0)
		return -1;
	bool ro = mi.readonly;
	mounter_mount_info_dispose(&mi);
	if (!ro) {
		/* Never leave a writable view where a read-only one was asked for. */
		linux_unmount(m, target, NULL);
		return status_set(st, STATUS_INTERNAL, "bind %s at %s: mount is not read-only", source, target);
	}
	return 0;
}

/* ---- format, check, resize --------------------------------------------------------------- */

static int run_tool(const char *const argv[], int timeout_ms, struct exec_result *res, struct status *st)
{
	struct exec_opts o = { .timeout_ms = timeout_ms, .max_output = 64 * 1024 };
	log_v(3, "running %s on %s", argv[0], argv[1] ? argv[1] : "");
	if (exec_run(argv, &o, res, st) < 0)
		return -1;
	return 0;
}

static const char *content_name(int content)
{
	switch (content) {
	case MOUNTER_CONTENT_FILESYSTEM: return "filesystem";
	case MOUNTER_CONTENT_PARTITION_TABLE: return "partition table";
	case MOUNTER_CONTENT_OTHER: return "signature";
	default: return "nothing";
	}
}

static int fsck_ext(struct mounter_linux *ml, const char *device, struct status *st)
{
	const char *argv[] = { "e2fsck", "-p", device, NULL };
	struct exec_result r;
	if (run_tool(argv, ml->mkfs_timeout_ms, &r, st) < 0) {
		exec_result_dispose(&r);
		return status_prefix(st, "check of %s: ", device);
	}
	char why[STATUS_MSG_MAX];
	exec_result_describe(&r, why, sizeof why);
	int code = r.exit_code;
	exec_result_dispose(&r);
	/* e2fsck exit codes: 0 clean, 1 errors corrected, 2 corrected and a
	 * reboot advised (only meaningful for the root fs), 4 errors left. */
	if (code == 0)
		return 0;
	if (code == 1 || code == 2) {
		log_warn("e2fsck corrected errors on %s: %s", device, why);
		return 0;
	}
	if (code == 4)
		return status_set(st, STATUS_FAILED_PRECONDITION, "filesystem on %s has errors e2fsck -p could not correct (%s)", device, why);
	return status_set(st, STATUS_INTERNAL, "e2fsck -p %s: %s", device, why);
}

/* The claim identity of device. Returns 1; 0 when claims are off or the
 * kernel cannot name disks (no claim is ever written then, and an interrupted
 * format stays refused); -1 with st set when this disk cannot be named now —
 * going on without a name could leave an older claim of it in place. */
static int claim_disk(struct mounter_linux *ml, const char *device, struct fclaim_disk *d, struct status *st)
{
	if (ml->state_dir == NULL)
		return 0;
	int fd = open(device, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno_status(st, errno, "open", device);
	struct status local = STATUS_INIT;
	int r = fclaim_disk_of(fd, ml->boot_id, d, &local);
	close(fd);
	if (r == 0)
		return 1;
	if (local.code == STATUS_UNIMPLEMENTED) {
		log_v(2, "%s: %s", device, local.msg);
		return 0;
	}
	status_copy(st, &local);
	return status_prefix(st, "%s: ", device);
}

/* *ours = whether what is on device is this driver's own unfinished mkfs:
 * a claim for this very disk, and the device mounted nowhere. */
static int check_own_unfinished_format(struct mounter_linux *ml, const char *device, dev_t rdev,
				       const struct fclaim_disk *disk, const struct mounter_probe *pr, bool *ours,
				       struct status *st)
{
	*ours = false;
	bool held = false;
	if (fclaim_held(ml->state_dir, disk, &held, st) < 0)
		return -1;
	if (!held)
		return 0;
	bool busy = false;
	if (device_mounted(rdev, &busy, st) < 0)
		return -1;
	if (busy)
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "%s has an unfinished format claim but is mounted somewhere: refusing to format it", device);
	log_warn("%s holds %s (%s) left by a format this driver started on this disk and did not finish: formatting "
		 "it again", device, content_name(pr->content), pr->type);
	*ours = true;
	return 0;
}

/* Adds mkfs's force flag after argv[0]: finishing an interrupted format means
 * writing over the signature the interrupted run may have left. */
static int insert_force(const char **argv, size_t cap, const char *fstype, struct status *st)
{
	size_t n = 0;
	while (argv[n] != NULL)
		n++;
	if (n + 2 > cap)
		return status_set(st, STATUS_INTERNAL, "mkfs argv needs %zu entries", n + 2);
	memmove(argv + 2, argv + 1, n * sizeof *argv); /* argv[1..n], the NULL included */
	argv[1] = is_ext(fstype) ? "-F" : "-f";
	return 0;
}

static int linux_format_and_mount(struct mounter *m, const char *device, const char *target,
				  const struct mounter_format_opts *fmt, const char *options, bool *formatted,
				  struct status *st)
{
	struct mounter_linux *ml = linux_of(m);
	if (formatted)
		*formatted = false;
	const char *fstype = mounter_fstype_canonical(fmt ? fmt->fstype : NULL);
	if (fstype == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "unsupported fstype %s", fmt->fstype);
	/* Validate the mkfs options before anything else, so a bad request fails
	 * the same way whether or not the device is blank. */
	const char *margv[32];
	char scratch[256];
	if (mounter_format_args(fmt, device, margv, 32, scratch, sizeof scratch, st) < 0)
		return -1;

	dev_t rdev = block_rdev(device);
	if (rdev == 0) {
		if (access(device, F_OK) != 0)
			return status_set(st, STATUS_NOT_FOUND, "device %s does not exist", device);
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is not a block device", device);
	}
	struct mounter_mount_info mi;
	struct status local = STATUS_INIT;
	if (linux_mount_info(m, target, &mi, &local) == 0) {
		bool same = mi.dev == (uint64_t)rdev;
		char *src = xstrdup(mi.source);
		mounter_mount_info_dispose(&mi);
		if (same) {
			free(src);
			return 0;
		}
		int r = status_set(st, STATUS_ALREADY_EXISTS, "%s is already a mount point of %s", target, src);
		free(src);
		return r;
	}
	if (local.code != STATUS_NOT_FOUND)
		return status_copy(st, &local);

	struct mounter_probe pr;
	if (linux_probe(m, device, &pr, st) < 0)
		return -1;
	struct fclaim_disk disk;
	int cd = claim_disk(ml, device, &disk, st);
	if (cd < 0)
		return -1;
	bool claimable = cd == 1;
	bool ours = false;
	if (claimable && pr.content != MOUNTER_CONTENT_BLANK &&
	    check_own_unfinished_format(ml, device, rdev, &disk, &pr, &ours, st) < 0)
		return -1;
	if (pr.content == MOUNTER_CONTENT_BLANK || ours) {
		if (mounter_options_have(options, "ro"))
			return status_set(st, STATUS_FAILED_PRECONDITION,
					  "%s is %s and the mount is read-only: refusing to format it", device,
					  ours ? "an unfinished format" : "blank");
		struct status cst = STATUS_INIT;
		if (claimable && fclaim_record(ml->state_dir, &disk, device, fstype, &cst) < 0)
			/* Recovery depends on the claim, safety does not: the drop
			 * below still runs, so an older claim cannot outlive the
			 * mount. */
			log_warn("%s; formatting %s without a claim: if this format is interrupted the device will "
				 "need a manual wipe", cst.msg, device);
		if (ours && insert_force(margv, 32, fstype, st) < 0)
			return -1;
		log_info("formatting %s device %s as %s", ours ? "half-formatted" : "blank", device, fstype);
		struct exec_result r;
		if (run_tool(margv, ml->mkfs_timeout_ms, &r, st) < 0) {
			exec_result_dispose(&r);
			return status_prefix(st, "format %s: ", device);
		}
		if (r.exit_code != 0) {
			char why[STATUS_MSG_MAX];
			exec_result_describe(&r, why, sizeof why);
			exec_result_dispose(&r);
			return status_set(st, STATUS_INTERNAL, "%s %s: %s", margv[0], device, why);
		}
		exec_result_dispose(&r);
		/* Any claim must be gone before the first mount: from then on the
		 * device may hold the user's files. */
		if (claimable && fclaim_drop(ml->state_dir, &disk, st) < 0)
			return status_prefix(st, "format %s: not mounting it: ", device);
		if (formatted)
			*formatted = true;
	} else if (pr.content == MOUNTER_CONTENT_FILESYSTEM && strcmp(pr.type, fstype) == 0) {
		bool busy = false;
		if (is_ext(fstype) && !mounter_options_have(options, "ro")) {
			if (device_mounted(rdev, &busy, st) < 0)
				return -1;
			/* A mounted ext fs is checked by the kernel already and
			 * e2fsck on it would refuse (or worse); skip. */
			if (!busy && fsck_ext(ml, device, st) < 0)
				return -1;
		}
	} else if (pr.content == MOUNTER_CONTENT_FILESYSTEM) {
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "%s holds a %s filesystem, not the requested %s: refusing to format or mount it",
				  device, pr.type, fstype);
	} else {
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s holds a %s %s: refusing to format it", device,
				  pr.type, content_name(pr.content));
	}

	char *opts;
	if (strcmp(fstype, "xfs") == 0 && !mounter_options_have(options, "nouuid"))
		/* A volume and its restored snapshot share an XFS UUID; without
		 * nouuid the second cannot be mounted on the same node. */
		opts = options && options[0] ? xasprintf("%s,nouuid", options) : xstrdup("nouuid");
	else
		opts = xstrdup(options ? options : "");
	int rc = do_mount(device, target, fstype, opts, st);
	free(opts);
	return rc;
}

static int linux_resize_fs(struct mounter *m, const char *device, const char *mount_path, struct status *st)
{
	struct mounter_linux *ml = linux_of(m);
	struct mounter_mount_info mi;
	struct status local = STATUS_INIT;
	if (linux_mount_info(m, mount_path, &mi, &local) < 0) {
		if (local.code == STATUS_NOT_FOUND)
			return status_set(st, STATUS_FAILED_PRECONDITION, "resize %s: %s is not mounted", device, mount_path);
		return status_copy(st, &local);
	}
	dev_t rdev = block_rdev(device);
	bool ours = rdev != 0 && mi.dev == (uint64_t)rdev;
	char *fstype = xstrdup(mi.fstype);
	mounter_mount_info_dispose(&mi);
	int rc = -1;
	if (!ours) {
		status_set(st, STATUS_FAILED_PRECONDITION, "resize: %s is not the device mounted at %s", device, mount_path);
		goto out;
	}
	const char *argv[5];
	if (is_ext(fstype)) {
		argv[0] = "resize2fs";
		argv[1] = device;
		argv[2] = NULL;
	} else if (strcmp(fstype, "xfs") == 0) {
		argv[0] = "xfs_growfs";
		argv[1] = "-d";
		argv[2] = mount_path;
		argv[3] = NULL;
	} else {
		status_set(st, STATUS_FAILED_PRECONDITION, "resize: no online resize for %s", fstype);
		goto out;
	}
	struct exec_result r;
	if (run_tool(argv, ml->tool_timeout_ms, &r, st) < 0) {
		exec_result_dispose(&r);
		status_prefix(st, "resize %s: ", device);
		goto out;
	}
	if (r.exit_code != 0) {
		char why[STATUS_MSG_MAX];
		exec_result_describe(&r, why, sizeof why);
		/* resize2fs's wording for the kernel's EPERM (no CAP_SYS_RESOURCE). */
		int code = strstr(r.err, "Permission denied") ? STATUS_PERMISSION_DENIED : STATUS_INTERNAL;
		status_set(st, code, "%s %s: %s", argv[0], device, why);
	} else {
		rc = 0;
		log_v(2, "resized %s on %s", fstype, device);
	}
	exec_result_dispose(&r);
out:
	free(fstype);
	return rc;
}

/* ---- sizes, stats, paths ------------------------------------------------------------------------ */

static int linux_fs_stats(struct mounter *m, const char *path, struct mounter_fs_stats *out, struct status *st)
{
	(void)m;
	memset(out, 0, sizeof *out);
	struct statvfs sv;
	if (statvfs(path, &sv) != 0)
		return errno_status(st, errno, "statvfs", path);
	uint64_t frsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	uint64_t blocks = sv.f_blocks, bfree = sv.f_bfree, bavail = sv.f_bavail;
	if (bfree > blocks)
		bfree = blocks;
	if (__builtin_mul_overflow(blocks, frsize, &out->bytes_total) ||
	    __builtin_mul_overflow(blocks - bfree, frsize, &out->bytes_used) ||
	    __builtin_mul_overflow(bavail, frsize, &out->bytes_available))
		return status_set(st, STATUS_INTERNAL, "statvfs %s: sizes overflow 64 bits", path);
	out->inodes_total = sv.f_files;
	out->inodes_available = sv.f_ffree <= sv.f_files ? sv.f_ffree : sv.f_files;
	out->inodes_used = out->inodes_total - out->inodes_available;
	return 0;
}

static int linux_device_size(struct mounter *m, const char *device, uint64_t *bytes, struct status *st)
{
	(void)m;
	*bytes = 0;
	int fd = open(device, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno_status(st, errno, "open", device);
	struct stat sb;
	int rc = 0;
	if (fstat(fd, &sb) != 0)
		rc = errno_status(st, errno, "stat", device);
	else if (!S_ISBLK(sb.st_mode))
		rc = status_set(st, STATUS_INVALID_ARGUMENT, "%s is not a block device", device);
	else if (ioctl(fd, BLKGETSIZE64, bytes) != 0)
		rc = errno_status(st, errno, "BLKGETSIZE64", device);
	close(fd);
	return rc;
}

static int linux_path_kind(struct mounter *m, const char *path, int *kind, struct status *st)
{
	(void)m;
	struct stat sb;
	*kind = MOUNTER_PATH_MISSING;
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return errno_status(st, errno, "stat", path);
	}
	*kind = S_ISDIR(sb.st_mode) ? MOUNTER_PATH_DIR : S_ISREG(sb.st_mode) ? MOUNTER_PATH_FILE
		: S_ISBLK(sb.st_mode) ? MOUNTER_PATH_BLOCK : MOUNTER_PATH_OTHER;
	return 0;
}

static int linux_make_dir(struct mounter *m, const char *path, struct status *st)
{
	(void)m;
	if (path[0] != '/')
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is not an absolute path", path);
	char *p = xstrdup(path);
	int rc = 0;
	/* Walk the components, creating what is missing; an existing component
	 * must be a directory (or a link to one). */
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (p[0] != '\0' && mkdir(p, 0750) != 0 && errno != EEXIST) {
			rc = errno_status(st, errno, "mkdir", p);
			break;
		}
		struct stat sb;
		if (stat(p, &sb) != 0) {
			rc = errno_status(st, errno, "stat", p);
			break;
		}
		if (!S_ISDIR(sb.st_mode)) {
			rc = status_set(st, STATUS_ALREADY_EXISTS, "%s exists and is not a directory", p);
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

static int linux_make_file(struct mounter *m, const char *path, struct status *st)
{
	int kind;
	if (linux_path_kind(m, path, &kind, st) < 0)
		return -1;
	/* A device node bound onto the file by an earlier publish is fine too. */
	if (kind == MOUNTER_PATH_FILE || kind == MOUNTER_PATH_BLOCK)
		return 0;
	if (kind != MOUNTER_PATH_MISSING)
		return status_set(st, STATUS_ALREADY_EXISTS, "%s exists and is not a file", path);
	char *parent = xstrdup(path);
	char *slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent) {
		*slash = '\0';
		if (linux_make_dir(m, parent, st) < 0) {
			free(parent);
			return -1;
		}
	}
	free(parent);
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		if (errno == EEXIST)
			return linux_make_file(m, path, st);
		return errno_status(st, errno, "create", path);
	}
	close(fd);
	return 0;
}

static int linux_remove_path(struct mounter *m, const char *path, struct status *st)
{
	bool mounted;
	if (mounter_is_mounted(m, path, &mounted, st) < 0)
		return -1;
	if (mounted)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s is still a mount point: not removing it", path);
	struct stat sb;
	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return errno_status(st, errno, "stat", path);
	}
	int r = S_ISDIR(sb.st_mode) ? rmdir(path) : unlink(path);
	if (r == 0 || errno == ENOENT)
		return 0;
	if (errno == ENOTEMPTY || errno == EEXIST)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s is not empty: not removing it", path);
	return errno_status(st, errno, "remove", path);
}

static int linux_drop_format_claim(struct mounter *m, const char *device, struct status *st)
{
	struct mounter_linux *ml = linux_of(m);
	struct fclaim_disk disk;
	int cd = claim_disk(ml, device, &disk, st);
	if (cd <= 0)
		return cd;
	return fclaim_drop(ml->state_dir, &disk, st);
}

static void linux_free(struct mounter *m)
{
	struct mounter_linux *ml = linux_of(m);
	free(ml->state_dir);
	free(ml);
}

static const struct mounter_ops linux_ops = {
	.probe = linux_probe,
	.format_and_mount = linux_format_and_mount,
	.mount = linux_mount,
	.bind_mount = linux_bind_mount,
	.unmount = linux_unmount,
	.mount_info = linux_mount_info,
	.resize_fs = linux_resize_fs,
	.fs_stats = linux_fs_stats,
	.device_size = linux_device_size,
	.path_kind = linux_path_kind,
	.make_dir = linux_make_dir,
	.make_file = linux_make_file,
	.remove_path = linux_remove_path,
	.drop_format_claim = linux_drop_format_claim,
	.free = linux_free,
};

struct mounter *mounter_linux_new(const struct mounter_linux_opts *opts)
{
	struct mounter_linux *ml = xcalloc(1, sizeof *ml);
	ml->base.ops = &linux_ops;
	ml->mkfs_timeout_ms = opts && opts->mkfs_timeout_ms > 0 ? opts->mkfs_timeout_ms : MOUNTER_DEFAULT_TIMEOUT_MS;
	ml->tool_timeout_ms = opts && opts->tool_timeout_ms > 0 ? opts->tool_timeout_ms : MOUNTER_DEFAULT_TIMEOUT_MS;
	if (opts && opts->state_dir && opts->state_dir[0]) {
		struct status st = STATUS_INIT;
		if (fclaim_boot_id(ml->boot_id, sizeof ml->boot_id, &st) < 0) {
			log_warn("%s: an interrupted format will not be recognised", st.msg);
		} else {
			ml->state_dir = xstrdup(opts->state_dir);
			if (fclaim_sweep(ml->state_dir, ml->boot_id, &st) < 0)
				log_warn("%s", st.msg);
		}
	}
	return &ml->base;
}
