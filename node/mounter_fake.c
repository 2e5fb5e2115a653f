/*
 * mounter_fake: struct mounter in memory, for node handler unit tests.
 *
 * Devices (size, what is on them), paths (directories and files) and the
 * mount table are plain arrays behind one mutex. Each operation follows the
 * Linux implementation's contract closely enough that handler tests catch the
 * same mistakes: mounting needs an existing target, format_and_mount refuses
 * anything but a blank device or the requested filesystem, a read-only bind
 * shows up read-only, unmount of nothing is success, remove_path refuses a
 * mount point. It never touches the OS.
 *
 * Test controls: call counts per operation, a count of formats, and "fail the
 * next call (of one operation or of any) with this status".
 */
#include "node/mounter.h"

#include "common/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_device {
	char *path;
	uint64_t size;
	int content;
	char type[32];
	uint64_t fs_size;
	bool have_stats;
	struct mounter_fs_stats stats;
};

struct fake_path {
	char *path;
	int kind;
};

struct fake_mount {
	char *source;   /* device path, "devtmpfs" for a device bind, or the bound directory */
	char *target;
	char *fstype;
	char *root;
	char *options;
	bool readonly;
	size_t device; /* index into devices + 1; 0 for a bind of a plain directory */
};

struct mounter_fake {
	struct mounter base;
	pthread_mutex_t lock;
	struct fake_device *devices;
	size_t ndevices;
	struct fake_path *paths;
	size_t npaths;
	struct fake_mount *mounts;
	size_t nmounts;
	int calls[MOUNTER_OP_COUNT_];
	int formats;
	int fail_op;      /* -1: nothing armed */
	int fail_code;
	char fail_msg[STATUS_MSG_MAX];
};

static struct mounter_fake *fake_of(struct mounter *m) { return (struct mounter_fake *)m; }
static const struct mounter_fake *cfake_of(const struct mounter *m) { return (const struct mounter_fake *)m; }

/* Counts the call and fires an armed failure. Called with the lock held. */
static int enter(struct mounter_fake *f, int op, struct status *st)
{
	f->calls[op]++;
	if (f->fail_op >= 0 && (f->fail_op == MOUNTER_OP_ANY || f->fail_op == op)) {
		f->fail_op = -1;
		return status_set(st, f->fail_code, "%s", f->fail_msg);
	}
	return 0;
}

static struct fake_device *find_device(struct mounter_fake *f, const char *path)
{
	for (size_t i = 0; i < f->ndevices; i++)
		if (strcmp(f->devices[i].path, path) == 0)
			return &f->devices[i];
	return NULL;
}

static struct fake_device *mount_dev(struct mounter_fake *f, const struct fake_mount *mt)
{
	return mt->device ? &f->devices[mt->device - 1] : NULL;
}

static struct fake_path *find_path(struct mounter_fake *f, const char *path)
{
	for (size_t i = 0; i < f->npaths; i++)
		if (strcmp(f->paths[i].path, path) == 0)
			return &f->paths[i];
	return NULL;
}

/* The topmost mount at target, NULL if none. */
static struct fake_mount *find_mount(struct mounter_fake *f, const char *target)
{
	for (size_t i = f->nmounts; i-- > 0;)
		if (strcmp(f->mounts[i].target, target) == 0)
			return &f->mounts[i];
	return NULL;
}

static int kind_of(struct mounter_fake *f, const char *path)
{
	if (find_device(f, path) != NULL)
		return MOUNTER_PATH_BLOCK;
	struct fake_mount *mnt = find_mount(f, path);
	if (mnt != NULL && strcmp(mnt->fstype, "devtmpfs") == 0)
		return MOUNTER_PATH_BLOCK;
	struct fake_path *p = find_path(f, path);
	return p ? p->kind : MOUNTER_PATH_MISSING;
}

static void add_path_locked(struct mounter_fake *f, const char *path, int kind)
{
	struct fake_path *p = find_path(f, path);
	if (p != NULL) {
		p->kind = kind;
		return;
	}
	f->paths = xrealloc(f->paths, (f->npaths + 1) * sizeof *f->paths);
	f->paths[f->npaths++] = (struct fake_path){ xstrdup(path), kind };
}

static void push_mount(struct mounter_fake *f, const char *source, const char *target, const char *fstype,
		       const char *root, const char *options, bool readonly, struct fake_device *dev)
{
	f->mounts = xrealloc(f->mounts, (f->nmounts + 1) * sizeof *f->mounts);
	f->mounts[f->nmounts++] = (struct fake_mount){
		xstrdup(source), xstrdup(target), xstrdup(fstype), xstrdup(root), xstrdup(options ? options : ""),
		readonly, dev ? (size_t)(dev - f->devices) + 1 : 0,
	};
}

static void free_mount(struct fake_mount *mt)
{
	free(mt->source);
	free(mt->target);
	free(mt->fstype);
	free(mt->root);
	free(mt->options);
}

/* Mounting needs a target of the right kind, as on Linux. */
static int check_target(struct mounter_fake *f, const char *target, int want, struct status *st)
{
	int kind = kind_of(f, target);
	if (kind == MOUNTER_PATH_MISSING)
		return status_set(st, STATUS_NOT_FOUND, "mount point %s does not exist", target);
	if (want == MOUNTER_PATH_DIR && kind != MOUNTER_PATH_DIR)
		return status_set(st, STATUS_INTERNAL, "mount point %s is not a directory", target);
	return 0;
}

static int fake_probe(struct mounter *m, const char *device, struct mounter_probe *out, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_PROBE, st);
	struct fake_device *d = rc == 0 ? find_device(f, device) : NULL;
	if (rc == 0 && d == NULL)
		rc = status_set(st, STATUS_NOT_FOUND, "open %s: No such file or directory", device);
	if (rc == 0) {
		out->content = d->content;
		snprintf(out->type, sizeof out->type, "%s", d->type);
		snprintf(out->usage, sizeof out->usage, "%s",
			 d->content == MOUNTER_CONTENT_FILESYSTEM ? "filesystem" : d->content == MOUNTER_CONTENT_BLANK ? "" : "other");
		out->fs_bytes = d->fs_size;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_format_and_mount(struct mounter *m, const char *device, const char *target,
				 const struct mounter_format_opts *fmt, const char *options, bool *formatted,
				 struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	if (formatted)
		*formatted = false;
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_FORMAT_AND_MOUNT, st);
	const char *argv[32];
	char scratch[256];
	const char *fstype = mounter_fstype_canonical(fmt ? fmt->fstype : NULL);
	struct fake_device *d = NULL;
	if (rc < 0)
		goto out;
	if (fstype == NULL) {
		rc = status_set(st, STATUS_INVALID_ARGUMENT, "unsupported fstype %s", fmt->fstype);
		goto out;
	}
	if ((rc = mounter_format_args(fmt, device, argv, 32, scratch, sizeof scratch, st)) < 0)
		goto out;
	rc = 0;
	d = find_device(f, device);
	if (d == NULL) {
		rc = status_set(st, STATUS_NOT_FOUND, "device %s does not exist", device);
		goto out;
	}
	struct fake_mount *cur = find_mount(f, target);
	if (cur != NULL) {
		if (mount_dev(f, cur) != d)
			rc = status_set(st, STATUS_ALREADY_EXISTS, "%s is already a mount point of %s", target, cur->source);
		goto out;
	}
	if ((rc = check_target(f, target, MOUNTER_PATH_DIR, st)) < 0)
		goto out;
	if (d->content == MOUNTER_CONTENT_BLANK) {
		if (mounter_options_have(options, "ro")) {
			rc = status_set(st, STATUS_FAILED_PRECONDITION,
					"%s is blank and the mount is read-only: refusing to format it", device);
			goto out;
		}
		d->content = MOUNTER_CONTENT_FILESYSTEM;
		snprintf(d->type, sizeof d->type, "%s", fstype);
		d->fs_size = d->size;
		f->formats++;
		if (formatted)
			*formatted = true;
	} else if (d->content != MOUNTER_CONTENT_FILESYSTEM || strcmp(d->type, fstype) != 0) {
		rc = status_set(st, STATUS_FAILED_PRECONDITION, "%s holds %s, not the requested %s: refusing to format it",
				device, d->type, fstype);
		goto out;
	}
	char *opts = strcmp(fstype, "xfs") == 0 && !mounter_options_have(options, "nouuid")
			     ? (options && options[0] ? xasprintf("%s,nouuid", options) : xstrdup("nouuid"))
			     : xstrdup(options ? options : "");
	push_mount(f, device, target, fstype, "/", opts, mounter_options_have(opts, "ro"), d);
	free(opts);
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_mount(struct mounter *m, const char *source, const char *target, const char *fstype,
		      const char *options, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_MOUNT, st);
	if (rc == 0)
		rc = check_target(f, target, MOUNTER_PATH_DIR, st);
	if (rc == 0) {
		struct fake_device *d = find_device(f, source);
		if (d == NULL)
			rc = status_set(st, STATUS_NOT_FOUND, "mount %s at %s: source does not exist", source, target);
		else if (d->content != MOUNTER_CONTENT_FILESYSTEM)
			rc = status_set(st, STATUS_INTERNAL, "mount %s at %s: wrong fs type, bad superblock", source, target);
		else if (fstype != NULL && fstype[0] && strcmp(fstype, d->type) != 0)
			rc = status_set(st, STATUS_INTERNAL, "mount %s at %s: wrong fs type %s", source, target, fstype);
		else
			push_mount(f, source, target, d->type, "/", options, mounter_options_have(options, "ro"), d);
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_bind_mount(struct mounter *m, const char *source, const char *target, bool readonly,
			   struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_BIND_MOUNT, st);
	const char *opts = readonly ? "ro" : "rw";
	if (rc < 0)
		goto out;
	struct fake_device *d = find_device(f, source);
	if (d != NULL) {
		int kind = kind_of(f, target);
		if (kind == MOUNTER_PATH_MISSING) {
			rc = status_set(st, STATUS_NOT_FOUND, "bind %s at %s: target does not exist", source, target);
			goto out;
		}
		/* A device node is bound from devtmpfs: root is its name there. */
		const char *root = strncmp(source, "/dev/", 5) == 0 ? source + 4 : source;
		push_mount(f, "devtmpfs", target, "devtmpfs", root, opts, readonly, d);
		goto out;
	}
	struct fake_mount *src = find_mount(f, source);
	if (src == NULL && kind_of(f, source) != MOUNTER_PATH_DIR) {
		rc = status_set(st, STATUS_NOT_FOUND, "bind %s at %s: source does not exist", source, target);
		goto out;
	}
	if ((rc = check_target(f, target, MOUNTER_PATH_DIR, st)) < 0)
		goto out;
	if (src != NULL)
		push_mount(f, src->source, target, src->fstype, src->root, opts, readonly, mount_dev(f, src));
	else
		push_mount(f, source, target, "none", "/", opts, readonly, NULL);
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_unmount(struct mounter *m, const char *target, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_UNMOUNT, st);
	struct fake_mount *mt = rc == 0 ? find_mount(f, target) : NULL;
	if (mt != NULL) {
		size_t i = (size_t)(mt - f->mounts);
		free_mount(mt);
		memmove(&f->mounts[i], &f->mounts[i + 1], (f->nmounts - i - 1) * sizeof *f->mounts);
		f->nmounts--;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_mount_info(struct mounter *m, const char *path, struct mounter_mount_info *out, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_MOUNT_INFO, st);
	struct fake_mount *mt = rc == 0 ? find_mount(f, path) : NULL;
	if (rc == 0 && mt == NULL)
		rc = status_set(st, STATUS_NOT_FOUND, "%s is not a mount point", path);
	if (rc == 0) {
		out->source = xstrdup(mt->source);
		out->fstype = xstrdup(mt->fstype);
		out->root = xstrdup(mt->root);
		out->vfs_options = xstrdup(mt->readonly ? "ro,relatime" : "rw,relatime");
		out->fs_options = xstrdup(mt->options);
		out->readonly = mt->readonly;
		out->dev = mt->device;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_resize_fs(struct mounter *m, const char *device, const char *mount_path, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_RESIZE_FS, st);
	if (rc == 0) {
		struct fake_mount *mt = find_mount(f, mount_path);
		struct fake_device *d = find_device(f, device);
		if (mt == NULL)
			rc = status_set(st, STATUS_FAILED_PRECONDITION, "resize %s: %s is not mounted", device, mount_path);
		else if (d == NULL || mount_dev(f, mt) != d)
			rc = status_set(st, STATUS_FAILED_PRECONDITION, "resize: %s is not the device mounted at %s", device, mount_path);
		else
			d->fs_size = d->size;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_fs_stats(struct mounter *m, const char *path, struct mounter_fs_stats *out, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_FS_STATS, st);
	if (rc == 0) {
		struct fake_mount *mt = find_mount(f, path);
		if (mt == NULL && kind_of(f, path) == MOUNTER_PATH_MISSING) {
			rc = status_set(st, STATUS_NOT_FOUND, "statvfs %s: No such file or directory", path);
		} else if (mt != NULL && mount_dev(f, mt) != NULL && mount_dev(f, mt)->have_stats) {
			*out = mount_dev(f, mt)->stats;
		} else {
			/* Unmounted paths live on a 100 GiB root; a mounted device
			 * is empty and as big as its filesystem. */
			uint64_t size = mt != NULL && mount_dev(f, mt) != NULL ? mount_dev(f, mt)->fs_size : 100ull << 30;
			out->bytes_total = size;
			out->bytes_available = size;
			out->inodes_total = size / 16384;
			out->inodes_available = out->inodes_total;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_device_size(struct mounter *m, const char *device, uint64_t *bytes, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	*bytes = 0;
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_DEVICE_SIZE, st);
	if (rc == 0) {
		struct fake_device *d = find_device(f, device);
		struct fake_mount *mt = find_mount(f, device);
		if (d == NULL && mt != NULL && strcmp(mt->fstype, "devtmpfs") == 0)
			d = mount_dev(f, mt); /* a raw block target shows the bound device */
		if (d != NULL)
			*bytes = d->size;
		else if (kind_of(f, device) == MOUNTER_PATH_MISSING)
			rc = status_set(st, STATUS_NOT_FOUND, "open %s: No such file or directory", device);
		else
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "%s is not a block device", device);
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_path_kind(struct mounter *m, const char *path, int *kind, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_PATH_KIND, st);
	*kind = rc == 0 ? kind_of(f, path) : MOUNTER_PATH_MISSING;
	pthread_mutex_unlock(&f->lock);
	return rc;
}

/* mkdir -p under the lock; the leaf gets leaf_kind. */
static int make_locked(struct mounter_fake *f, const char *path, int leaf_kind, struct status *st)
{
	if (path[0] != '/')
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is not an absolute path", path);
	char *p = xstrdup(path);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		int want = c == '\0' ? leaf_kind : MOUNTER_PATH_DIR;
		int kind = kind_of(f, p);
		if (kind == MOUNTER_PATH_MISSING) {
			add_path_locked(f, p, want);
		} else if (kind != want && !(want == MOUNTER_PATH_FILE && kind == MOUNTER_PATH_BLOCK)) {
			rc = status_set(st, STATUS_ALREADY_EXISTS, "%s exists and is not a %s", p,
					want == MOUNTER_PATH_DIR ? "directory" : "file");
			break;
		}
		if (c == '\0')
			break;
		*s = c;
	}
	free(p);
	return rc;
}

static int fake_make_dir(struct mounter *m, const char *path, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_MAKE_DIR, st);
	if (rc == 0)
		rc = make_locked(f, path, MOUNTER_PATH_DIR, st);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_make_file(struct mounter *m, const char *path, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_MAKE_FILE, st);
	if (rc == 0)
		rc = make_locked(f, path, MOUNTER_PATH_FILE, st);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_remove_path(struct mounter *m, const char *path, struct status *st)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_REMOVE_PATH, st);
	if (rc == 0 && find_mount(f, path) != NULL)
		rc = status_set(st, STATUS_FAILED_PRECONDITION, "%s is still a mount point: not removing it", path);
	if (rc == 0) {
		size_t len = strlen(path);
		for (size_t i = 0; i < f->npaths && rc == 0; i++)
			if (strncmp(f->paths[i].path, path, len) == 0 && f->paths[i].path[len] == '/')
				rc = status_set(st, STATUS_FAILED_PRECONDITION, "%s is not empty: not removing it", path);
	}
	struct fake_path *p = rc == 0 ? find_path(f, path) : NULL;
	if (p != NULL) {
		size_t i = (size_t)(p - f->paths);
		free(p->path);
		f->paths[i] = f->paths[--f->npaths];
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

/* The fake never formats half-way, so it holds no claims: only the call is
 * counted (and can be failed). */
static int fake_drop_format_claim(struct mounter *m, const char *device, struct status *st)
{
	(void)device;
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	int rc = enter(f, MOUNTER_OP_DROP_FORMAT_CLAIM, st);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static void fake_free(struct mounter *m)
{
	struct mounter_fake *f = fake_of(m);
	for (size_t i = 0; i < f->ndevices; i++)
		free(f->devices[i].path);
	for (size_t i = 0; i < f->npaths; i++)
		free(f->paths[i].path);
	for (size_t i = 0; i < f->nmounts; i++)
		free_mount(&f->mounts[i]);
	free(f->devices);
	free(f->paths);
	free(f->mounts);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static const struct mounter_ops fake_ops = {
	.probe = fake_probe,
	.format_and_mount = fake_format_and_mount,
	.mount = fake_mount,
	.bind_mount = fake_bind_mount,
	.unmount = fake_unmount,
	.mount_info = fake_mount_info,
	.resize_fs = fake_resize_fs,
	.fs_stats = fake_fs_stats,
	.device_size = fake_device_size,
	.path_kind = fake_path_kind,
	.make_dir = fake_make_dir,
	.make_file = fake_make_file,
	.drop_format_claim = fake_drop_format_claim,
	.remove_path = fake_remove_path,
	.free = fake_free,
};

struct mounter *mounter_fake_new(void)
{
	struct mounter_fake *f = xcalloc(1, sizeof *f);
	f->base.ops = &fake_ops;
	pthread_mutex_init(&f->lock, NULL);
	f->fail_op = -1;
	return &f->base;
}

void mounter_fake_add_device(struct mounter *m, const char *path, uint64_t size, int content, const char *type)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	struct fake_device *d = find_device(f, path);
	if (d == NULL) {
		f->devices = xrealloc(f->devices, (f->ndevices + 1) * sizeof *f->devices);
		d = &f->devices[f->ndevices++];
		memset(d, 0, sizeof *d);
		d->path = xstrdup(path);
	}
	d->size = size;
	d->content = content;
	snprintf(d->type, sizeof d->type, "%s", type ? type : "");
	d->fs_size = content == MOUNTER_CONTENT_FILESYSTEM ? size : 0;
	pthread_mutex_unlock(&f->lock);
}

void mounter_fake_set_device_size(struct mounter *m, const char *path, uint64_t size)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	struct fake_device *d = find_device(f, path);
	if (d != NULL)
		d->size = size;
	pthread_mutex_unlock(&f->lock);
}

void mounter_fake_add_path(struct mounter *m, const char *path, int kind)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	make_locked(f, path, kind, NULL);
	pthread_mutex_unlock(&f->lock);
}

void mounter_fake_fail_next(struct mounter *m, int op, int code, const char *msg)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	f->fail_op = op;
	f->fail_code = code;
	snprintf(f->fail_msg, sizeof f->fail_msg, "%s", msg ? msg : "injected failure");
	pthread_mutex_unlock(&f->lock);
}

int mounter_fake_calls(const struct mounter *m, int op)
{
	struct mounter_fake *f = (struct mounter_fake *)cfake_of(m);
	pthread_mutex_lock(&f->lock);
	int n = 0;
	if (op == MOUNTER_OP_ANY) {
		for (int i = 0; i < MOUNTER_OP_COUNT_; i++)
			n += f->calls[i];
	} else if (op > 0 && op < MOUNTER_OP_COUNT_) {
		n = f->calls[op];
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

int mounter_fake_formats(const struct mounter *m)
{
	struct mounter_fake *f = (struct mounter_fake *)cfake_of(m);
	pthread_mutex_lock(&f->lock);
	int n = f->formats;
	pthread_mutex_unlock(&f->lock);
	return n;
}

int mounter_fake_mount_count(const struct mounter *m)
{
	struct mounter_fake *f = (struct mounter_fake *)cfake_of(m);
	pthread_mutex_lock(&f->lock);
	int n = (int)f->nmounts;
	pthread_mutex_unlock(&f->lock);
	return n;
}

uint64_t mounter_fake_fs_size(const struct mounter *m, const char *device)
{
	struct mounter_fake *f = (struct mounter_fake *)cfake_of(m);
	pthread_mutex_lock(&f->lock);
	struct fake_device *d = find_device(f, device);
	uint64_t n = d ? d->fs_size : 0;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void mounter_fake_set_stats(struct mounter *m, const char *device, const struct mounter_fs_stats *stats)
{
	struct mounter_fake *f = fake_of(m);
	pthread_mutex_lock(&f->lock);
	struct fake_device *d = find_device(f, device);
	if (d != NULL) {
		d->have_stats = stats != NULL;
		if (stats)
			d->stats = *stats;
	}
	pthread_mutex_unlock(&f->lock);
}
