/*
 * mounter: the node service's only view of the operating system — block
 * devices, filesystems, the mount table and the few paths it creates.
 *
 * A table of operations with one static inline wrapper each, so node/ code
 * calls mounter_mount(m, ...) and tests swap in the fake (mounter_fake.c) while
 * the driver uses the Linux implementation (mounter_linux.c: libblkid,
 * libmount, mkfs/fsck/resize tools through common/exec).
 *
 * Data-safety contract every implementation keeps (DESIGN.md §6):
 * format_and_mount formats ONLY a blank device — one on which no signature of
 * any kind is found (filesystem, partition table, LVM, RAID, LUKS, swap…). A
 * device holding anything else is refused with FAILED_PRECONDITION naming what
 * was found, and nothing is written to it. unmount of something not mounted is
 * success. The mounter does not decide which device is which volume: identity
 * is proven before it is called (node/devpath.h).
 *
 * Paths are absolute. Strings handed back are heap copies owned by the caller
 * (released with the matching _dispose). All operations are thread-safe; the
 * node service serialises calls per volume.
 */
#ifndef EBS_NODE_MOUNTER_H
#define EBS_NODE_MOUNTER_H

#include "common/status.h"
#include "common/xalloc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What a probe found on a device. */
enum mounter_content {
	MOUNTER_CONTENT_BLANK = 0,       /* no signature and nothing but zeros where one would be */
	MOUNTER_CONTENT_FILESYSTEM,      /* a filesystem; type names it ("ext4", "xfs", "btrfs"…) */
	MOUNTER_CONTENT_PARTITION_TABLE, /* type is "dos", "gpt"… */
	MOUNTER_CONTENT_OTHER,           /* swap, LVM2_member, crypto_LUKS, linux_raid_member…, or
					    unrecognised non-zero data ("data") */
};

struct mounter_probe {
	int content;     /* enum mounter_content */
	char type[32];   /* libblkid's TYPE / PTTYPE; "" when blank */
	char usage[32];  /* libblkid's USAGE ("filesystem", "raid", "crypto", "other"); may be "" */
	uint64_t fs_bytes; /* size the filesystem believes it has (ext2/3/4, xfs); 0 when unknown */
};

/* Filesystem creation parameters (StorageClass formatting parameters). Zero
 * means "the tool's default". Which options apply to which fstype is checked
 * by format_and_mount (INVALID_ARGUMENT), see mounter_format_args(). */
struct mounter_format_opts {
	const char *fstype;        /* "ext2", "ext3", "ext4", "xfs"; NULL or "" = "ext4" */
	uint32_t block_size;       /* ext: -b; xfs: -b size= */
	uint32_t inode_size;       /* ext: -I; xfs: -i size= */
	uint32_t bytes_per_inode;  /* ext only: -i */
	uint64_t number_of_inodes; /* ext only: -N */
	bool ext4_bigalloc;        /* ext4 only: -O bigalloc */
	uint32_t ext4_cluster_size;/* ext4 with bigalloc only: -C */
	bool xfs_legacy;           /* xfs: no features newer kernels need (bigtime, inobtcount,
				      reflink, nrext64) so old kernels can mount it */
};

/* One entry of the mount table (the topmost mount at a path). */
struct mounter_mount_info {
	char *source;      /* device ("/dev/nvme1n1") or pseudo source ("tmpfs", "udev") */
	char *fstype;      /* "ext4", "xfs", "devtmpfs"… */
	char *root;        /* path inside the source fs that is mounted ("/" for a whole fs;
			      "/nvme1n1" for a device node bound from devtmpfs) */
	char *vfs_options; /* per-mount options: "rw,relatime" */
	char *fs_options;  /* superblock options: "rw,attr2,inode64,nouuid" */
	bool readonly;     /* the mount (not necessarily the fs) is read-only */
	uint64_t dev;      /* st_dev of the mounted fs (makedev(major, minor)) */
};

struct mounter_fs_stats {
	uint64_t bytes_total, bytes_used, bytes_available;
	uint64_t inodes_total, inodes_used, inodes_available; /* all 0 when the fs has no inode count */
};

enum mounter_path_kind {
	MOUNTER_PATH_MISSING = 0,
	MOUNTER_PATH_DIR,
	MOUNTER_PATH_FILE,
	MOUNTER_PATH_BLOCK,   /* a block device node */
	MOUNTER_PATH_OTHER,
};

struct mounter;

struct mounter_ops {
	int (*probe)(struct mounter *m, const char *device, struct mounter_probe *out, struct status *st);
	int (*format_and_mount)(struct mounter *m, const char *device, const char *target,
				const struct mounter_format_opts *fmt, const char *options, bool *formatted,
				struct status *st);
	int (*mount)(struct mounter *m, const char *source, const char *target, const char *fstype,
		     const char *options, struct status *st);
	int (*bind_mount)(struct mounter *m, const char *source, const char *target, bool readonly,
			  struct status *st);
	int (*unmount)(struct mounter *m, const char *target, struct status *st);
	int (*mount_info)(struct mounter *m, const char *path, struct mounter_mount_info *out,
			  struct status *st);
	int (*resize_fs)(struct mounter *m, const char *device, const char *mount_path, struct status *st);
	int (*fs_stats)(struct mounter *m, const char *path, struct mounter_fs_stats *out, struct status *st);
	int (*device_size)(struct mounter *m, const char *device, uint64_t *bytes, struct status *st);
	int (*path_kind)(struct mounter *m, const char *path, int *kind, struct status *st);
	int (*make_dir)(struct mounter *m, const char *path, struct status *st);
	int (*make_file)(struct mounter *m, const char *path, struct status *st);
	int (*remove_path)(struct mounter *m, const char *path, struct status *st);
	int (*drop_format_claim)(struct mounter *m, const char *device, struct status *st);
	void (*free)(struct mounter *m);
};

struct mounter {
	const struct mounter_ops *ops;
};

/*
 * Looks at what is on device without changing it. Conflicting signatures
 * come back as MOUNTER_CONTENT_OTHER of type "ambivalent"; a device with no
 * signature but non-zero bytes in its first MiB as OTHER of type "data".
 * fs_bytes is read through the page cache: exact before mount, possibly
 * stale for a mounted xfs. Returns 0 and fills out; -1 with NOT_FOUND (no
 * such device), PERMISSION_DENIED, or INTERNAL (cannot read or probe it).
 */
static inline int mounter_probe(struct mounter *m, const char *device, struct mounter_probe *out,
				struct status *st)
{
	return m->ops->probe(m, device, out, st);
}

/*
 * Makes target (an existing directory) show device's filesystem, formatting it
 * first only when the device is blank — or, in the Linux mounter, when it holds
 * what an interrupted format by this same mounter left on this same disk
 * attachment, proven by a format claim (node/format_claim.h) that is removed
 * before the first mount. options: comma-separated mount options
 * or NULL; "nouuid" is added for xfs. A blank device with "ro" in options is
 * refused (nothing to read, and formatting is a write).
 * An existing filesystem of fmt->fstype is checked first (fsck -a for ext*,
 * skipped while it is mounted elsewhere) and then mounted.
 * *formatted (may be NULL) is set to whether mkfs ran. target already a
 * mount of this device: 0 without doing anything (a retried NodeStage).
 * Returns 0; -1 with FAILED_PRECONDITION (another fs type, a partition table
 * or any other signature: nothing written; or fsck found errors it could not
 * fix), ALREADY_EXISTS (target is a mount of something else),
 * INVALID_ARGUMENT (unknown fstype, an option that does not apply to it, not
 * a block device), NOT_FOUND (no device, no target), DEADLINE_EXCEEDED (a
 * tool hung), INTERNAL.
 */
static inline int mounter_format_and_mount(struct mounter *m, const char *device, const char *target,
					   const struct mounter_format_opts *fmt, const char *options,
					   bool *formatted, struct status *st)
{
	return m->ops->format_and_mount(m, device, target, fmt, options, formatted, st);
}

/* Mounts source at target with fstype (NULL: let the kernel/libmount detect)
 * and comma-separated options (NULL: none). Returns 0; -1 with NOT_FOUND
 * (source or target missing), INVALID_ARGUMENT (bad options), INTERNAL. */
static inline int mounter_mount(struct mounter *m, const char *source, const char *target,
				const char *fstype, const char *options, struct status *st)
{
	return m->ops->mount(m, source, target, fstype, options, st);
}

/* Bind-mounts source (a directory, or a block device node onto a regular file)
 * at target, read-only when readonly. Returns 0; -1 with NOT_FOUND, INTERNAL.
 * A read-only request that ends up writable is undone and reported INTERNAL.
 * Filesystem options do not apply to a bind, so there are none to pass. */
static inline int mounter_bind_mount(struct mounter *m, const char *source, const char *target,
				     bool readonly, struct status *st)
{
	return m->ops->bind_mount(m, source, target, readonly, st);
}

/* Unmounts the topmost mount at target (one layer; call again for stacked
 * mounts). Not mounted, or target missing: 0. Does not remove target.
 * Returns -1 with UNAVAILABLE (busy) or INTERNAL. */
static inline int mounter_unmount(struct mounter *m, const char *target, struct status *st)
{
	return m->ops->unmount(m, target, st);
}

/* Fills out (dispose with mounter_mount_info_dispose) for the topmost mount
 * whose mount point is exactly path. Returns 0; -1 with NOT_FOUND when path is
 * not a mount point (or does not exist), INTERNAL when the table is unreadable.
 * out is zeroed on failure. */
static inline int mounter_mount_info(struct mounter *m, const char *path, struct mounter_mount_info *out,
				     struct status *st)
{
	return m->ops->mount_info(m, path, out, st);
}

/* Grows the filesystem of device, mounted at mount_path, to fill the device
 * (resize2fs for ext*, xfs_growfs for xfs; online). Already full size: 0.
 * Returns -1 with FAILED_PRECONDITION (mount_path is not a mount of device /
 * fs type without online resize), PERMISSION_DENIED (ext4 online resize
 * needs CAP_SYS_RESOURCE), DEADLINE_EXCEEDED, INTERNAL. */
static inline int mounter_resize_fs(struct mounter *m, const char *device, const char *mount_path,
				    struct status *st)
{
	return m->ops->resize_fs(m, device, mount_path, st);
}

/* statvfs of the filesystem holding path. Returns 0; -1 with NOT_FOUND,
 * INTERNAL (including arithmetic overflow). */
static inline int mounter_fs_stats(struct mounter *m, const char *path, struct mounter_fs_stats *out,
				   struct status *st)
{
	return m->ops->fs_stats(m, path, out, st);
}

/* Size of a block device in bytes (BLKGETSIZE64). Returns 0; -1 with
 * NOT_FOUND, INVALID_ARGUMENT (not a block device), INTERNAL. */
static inline int mounter_device_size(struct mounter *m, const char *device, uint64_t *bytes,
				      struct status *st)
{
	return m->ops->device_size(m, device, bytes, st);
}

/* What path is (following symlinks): *kind = enum mounter_path_kind; a missing
 * path is not an error. Returns -1 with INTERNAL (e.g. EIO on a dead mount). */
static inline int mounter_path_kind(struct mounter *m, const char *path, int *kind, struct status *st)
{
	return m->ops->path_kind(m, path, kind, st);
}

/* mkdir -p path (mode 0750 for created parents and leaf). Existing dir: 0.
 * Returns -1 with ALREADY_EXISTS (a non-directory is in the way), INTERNAL. */
static inline int mounter_make_dir(struct mounter *m, const char *path, struct status *st)
{
	return m->ops->make_dir(m, path, st);
}

/* Creates an empty regular file (0640) at path, its parent directories
 * included — the mount point for a raw block bind. An existing file, or a
 * device node already bound onto it: 0. Returns -1 with ALREADY_EXISTS
 * (something else is there), INTERNAL. */
static inline int mounter_make_file(struct mounter *m, const char *path, struct status *st)
{
	return m->ops->make_file(m, path, st);
}

/* Removes an empty directory or a file at path. Missing: 0. Refuses a path
 * that is still a mount point (FAILED_PRECONDITION) so a failed unmount never
 * turns into deleting volume contents; a non-empty directory is
 * FAILED_PRECONDITION too. Returns -1 with those or INTERNAL. */
static inline int mounter_remove_path(struct mounter *m, const char *path, struct status *st)
{
	return m->ops->remove_path(m, path, st);
}

/* Gives up any claim that device holds this mounter's own unfinished format
 * (see format_and_mount), because the device is about to be handed to a user
 * as it is (a raw block volume): from then on its bytes may be the user's.
 * No claim (or claims off): 0. Returns -1 with INTERNAL when a claim cannot
 * be removed or the disk cannot be named to look for one. */
static inline int mounter_drop_format_claim(struct mounter *m, const char *device, struct status *st)
{
	return m->ops->drop_format_claim(m, device, st);
}

/* Releases m. NULL is a no-op. */
static inline void mounter_free(struct mounter *m)
{
	if (m != NULL)
		m->ops->free(m);
}

/* ---- helpers over the operations (no implementation of their own) ---------- */

static inline void mounter_mount_info_dispose(struct mounter_mount_info *mi)
{
	if (mi == NULL)
		return;
	free(mi->source);
	free(mi->fstype);
	free(mi->root);
	free(mi->vfs_options);
	free(mi->fs_options);
	memset(mi, 0, sizeof *mi);
}

/* *mounted = whether path is a mount point. Returns -1 only for INTERNAL. */
static inline int mounter_is_mounted(struct mounter *m, const char *path, bool *mounted, struct status *st)
{
	struct mounter_mount_info mi;
	struct status local = STATUS_INIT;
	*mounted = false;
	if (mounter_mount_info(m, path, &mi, &local) == 0) {
		*mounted = true;
		mounter_mount_info_dispose(&mi);
		return 0;
	}
	if (local.code == STATUS_NOT_FOUND)
		return 0;
	return status_copy(st, &local);
}

/* The source device of the mount at path as a heap string (caller frees).
 * For a device node bound from devtmpfs (a raw block publish) this is
 * "/dev" + root. Returns NULL with NOT_FOUND (not a mount point) or INTERNAL. */
static inline char *mounter_device_of_mount(struct mounter *m, const char *path, struct status *st)
{
	struct mounter_mount_info mi;
	if (mounter_mount_info(m, path, &mi, st) < 0)
		return NULL;
	char *dev;
	if (mi.fstype != NULL && strcmp(mi.fstype, "devtmpfs") == 0 && mi.root != NULL && strcmp(mi.root, "/") != 0)
		dev = xasprintf("/dev%s", mi.root);
	else
		dev = xstrdup(mi.source);
	mounter_mount_info_dispose(&mi);
	return dev;
}

/* ---- implementations ------------------------------------------------------------ */

struct mounter_linux_opts {
	int mkfs_timeout_ms;   /* mkfs and fsck; 0: 10 minutes */
	int tool_timeout_ms;   /* resize2fs, xfs_growfs; 0: 10 minutes */
	const char *state_dir; /* format claims (node/format_claim.h) live under it; NULL or "": an
				  interrupted format is refused like any other content (copied) */
};

/* The Linux mounter (mounter_linux.c). opts may be NULL. Never fails. */
struct mounter *mounter_linux_new(const struct mounter_linux_opts *opts);

/*
 * The fake (mounter_fake.c): devices, paths and the mount table live in
 * memory; nothing touches the OS. Paths must be created (make_dir/make_file
 * or mounter_fake_add_path) before something is mounted on them, like on
 * Linux. Thread-safe (one lock).
 */
enum mounter_op {
	MOUNTER_OP_ANY = 0,
	MOUNTER_OP_PROBE, MOUNTER_OP_FORMAT_AND_MOUNT, MOUNTER_OP_MOUNT, MOUNTER_OP_BIND_MOUNT,
	MOUNTER_OP_UNMOUNT, MOUNTER_OP_MOUNT_INFO, MOUNTER_OP_RESIZE_FS, MOUNTER_OP_FS_STATS,
	MOUNTER_OP_DEVICE_SIZE, MOUNTER_OP_PATH_KIND, MOUNTER_OP_MAKE_DIR, MOUNTER_OP_MAKE_FILE,
	MOUNTER_OP_REMOVE_PATH, MOUNTER_OP_DROP_FORMAT_CLAIM,
	MOUNTER_OP_COUNT_
};

struct mounter *mounter_fake_new(void);
/* Adds (or replaces) a block device node at path: size in bytes, content
 * (enum mounter_content) and type ("ext4", "gpt", "swap"; NULL for blank). */
void mounter_fake_add_device(struct mounter *m, const char *path, uint64_t size, int content, const char *type);
/* Grows or shrinks a device (the filesystem on it keeps its size until resize_fs). */
void mounter_fake_set_device_size(struct mounter *m, const char *path, uint64_t size);
/* Adds a path of kind (MOUNTER_PATH_DIR/FILE) without counting a call. */
void mounter_fake_add_path(struct mounter *m, const char *path, int kind);
/* The next call of op (MOUNTER_OP_ANY: of any operation) fails with code and msg. */
void mounter_fake_fail_next(struct mounter *m, int op, int code, const char *msg);
/* How many times op was called (MOUNTER_OP_ANY: all calls). */
int mounter_fake_calls(const struct mounter *m, int op);
/* How many times mkfs "ran" (a blank device got formatted). */
int mounter_fake_formats(const struct mounter *m);
/* Number of entries in the mount table. */
int mounter_fake_mount_count(const struct mounter *m);
/* Filesystem size of the fs on a device, 0 if none; lets tests check resize_fs. */
uint64_t mounter_fake_fs_size(const struct mounter *m, const char *device);
/* Stats reported by fs_stats for mounts of device (default: derived from its size). */
void mounter_fake_set_stats(struct mounter *m, const char *device, const struct mounter_fs_stats *stats);

/* ---- pure helpers (mounter_linux.c) ----------------------------------------------- */

/* Canonical fstype: NULL or "" → "ext4"; ext2/ext3/ext4/xfs pass; anything
 * else returns NULL. The string is static. */
const char *mounter_fstype_canonical(const char *fstype);

/*
 * Pure: the mkfs argv for fmt on device, into argv (at most cap entries
 * including the NULL terminator), pointing at static strings, device, and
 * scratch (a caller buffer of scratch_len bytes that holds the formatted
 * numbers). Returns the argc; -1 with INVALID_ARGUMENT for an unknown fstype
 * or an option that does not apply to it.
 */
int mounter_format_args(const struct mounter_format_opts *fmt, const char *device, const char **argv,
			size_t cap, char *scratch, size_t scratch_len, struct status *st);

/*
 * Pure: reads the size of an ext2/3/4 or xfs filesystem from the first 4096
 * bytes of its device. Returns the size in bytes, 0 when sb is neither (or is
 * inconsistent).
 */
uint64_t mounter_fs_size_from_superblock(const unsigned char *sb, size_t len);

/* Pure: true when the comma-separated options contain the option name (exact
 * match of a whole item, ignoring any "=value"). */
bool mounter_options_have(const char *options, const char *name);

#endif
