/*
 * format_claim: see format_claim.h. Plain files, written to a temporary name
 * and renamed into place, so a claim is either whole or absent. No fsync: a
 * claim only ever matters within the boot that wrote it, and a killed process
 * loses nothing the kernel has already accepted; after a power loss every
 * claim is void anyway (another boot id), so durability would buy nothing
 * and cost NodeStage two disk flushes.
 */
#include "node/format_claim.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define CLAIM_DIR "format-claims"
#define CLAIM_MAGIC "ebs-csi-c format claim v1"

static int errno_fail(struct status *st, int err, const char *what, const char *path)
{
	int code = err == EACCES || err == EPERM || err == EROFS ? STATUS_PERMISSION_DENIED : STATUS_INTERNAL;
	return status_set(st, code, "format claim: %s %s: %s", what, path, strerror(err));
}

/* A boot id becomes part of a file name: only what the kernel prints (hex and
 * dashes) is accepted. */
static bool boot_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= sizeof ((struct fclaim_disk *)0)->boot_id)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f') || id[i] == '-'))
			return false;
	return true;
}

int fclaim_boot_id(char *out, size_t n, struct status *st)
{
	const char *path = "/proc/sys/kernel/random/boot_id";
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return errno_fail(st, errno, "open", path);
	char buf[64] = "";
	bool got = fgets(buf, sizeof buf, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	if (!got || !boot_id_ok(buf) || strlen(buf) >= n)
		return status_set(st, STATUS_INTERNAL, "format claim: %s holds no boot id", path);
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

int fclaim_disk_of(int fd, const char *boot_id, struct fclaim_disk *out, struct status *st)
{
	memset(out, 0, sizeof *out);
	struct stat sb;
	if (fstat(fd, &sb) != 0)
		return status_set(st, STATUS_INTERNAL, "format claim: fstat: %s", strerror(errno));
	if (!S_ISBLK(sb.st_mode))
		return status_set(st, STATUS_INVALID_ARGUMENT, "format claim: not a block device");
	if (!boot_id_ok(boot_id))
		return status_set(st, STATUS_INTERNAL, "format claim: bad boot id");
	uint64_t seq = 0;
	if (ioctl(fd, BLKGETDISKSEQ, &seq) != 0) {
		if (errno == ENOTTY || errno == EINVAL)
			return status_set(st, STATUS_UNIMPLEMENTED, "format claim: the kernel has no disk sequence numbers");
		return status_set(st, STATUS_INTERNAL, "format claim: BLKGETDISKSEQ: %s", strerror(errno));
	}
	if (seq == 0)
		return status_set(st, STATUS_UNIMPLEMENTED, "format claim: the kernel reports disk sequence 0");
	snprintf(out->boot_id, sizeof out->boot_id, "%s", boot_id);
	out->diskseq = seq;
	out->dev_major = major(sb.st_rdev);
	out->dev_minor = minor(sb.st_rdev);
	return 0;
}

static char *claims_dir(const char *state_dir) { return xasprintf("%s/" CLAIM_DIR, state_dir); }

static char *claim_path(const char *state_dir, const struct fclaim_disk *d)
{
	/* A partition shares its disk's sequence number: the device number
	 * keeps claims on two partitions of one disk apart. */
	return xasprintf("%s/" CLAIM_DIR "/%s-%" PRIu64 "-%u-%u", state_dir, d->boot_id, d->diskseq, d->dev_major,
			 d->dev_minor);
}

static int mkdir_one(const char *path, struct status *st)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return errno_fail(st, errno, "mkdir", path);
}

static char *claim_text(const struct fclaim_disk *d, const char *device, const char *fstype)
{
	return xasprintf(CLAIM_MAGIC "\nboot_id=%s\ndiskseq=%" PRIu64 "\ndev=%u:%u\ndevice=%s\nfstype=%s\nstarted=%lld\n",
			 d->boot_id, d->diskseq, d->dev_major, d->dev_minor, device ? device : "",
			 fstype ? fstype : "", (long long)time(NULL));
}

int fclaim_record(const char *state_dir, const struct fclaim_disk *d, const char *device, const char *fstype,
		  struct status *st)
{
	char *dir = claims_dir(state_dir);
	char *path = claim_path(state_dir, d);
	char *tmp = xasprintf("%s.tmp", path);
	char *text = claim_text(d, device, fstype);
	int rc = -1, fd = -1;
	if (mkdir_one(state_dir, st) < 0 || mkdir_one(dir, st) < 0)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		errno_fail(st, errno, "create", tmp);
		goto out;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			errno_fail(st, errno, "write", tmp);
			goto out;
		}
		off += (size_t)w;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		errno_fail(st, errno, "rename", path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(text);
	free(tmp);
	free(path);
	free(dir);
	return rc;
}

/* The value of "key=" on its own line in text, copied into out; false when
 * absent. */
static bool field(const char *text, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t vl = strcspn(v, "\n");
			if (vl >= n)
				return false;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return true;
		}
	}
	return false;
}

int fclaim_held(const char *state_dir, const struct fclaim_disk *d, bool *held, struct status *st)
{
	*held = false;
	char *path = claim_path(state_dir, d);
	struct buf text;
	buf_init(&text);
	struct status local = STATUS_INIT;
	if (buf_read_file(&text, path, &local) < 0) {
		buf_dispose(&text);
		free(path);
		/* No file (or no state directory): no claim. */
		return local.code == STATUS_NOT_FOUND ? 0 : status_copy(st, &local);
	}
	const char *buf = text.data;
	char want_seq[32], want_dev[32], boot[64], seq[32], dev[32];
	snprintf(want_seq, sizeof want_seq, "%" PRIu64, d->diskseq);
	snprintf(want_dev, sizeof want_dev, "%u:%u", d->dev_major, d->dev_minor);
	bool ok = strncmp(buf, CLAIM_MAGIC "\n", strlen(CLAIM_MAGIC) + 1) == 0 &&
		  field(buf, "boot_id", boot, sizeof boot) && strcmp(boot, d->boot_id) == 0 &&
		  field(buf, "diskseq", seq, sizeof seq) && strcmp(seq, want_seq) == 0 &&
		  field(buf, "dev", dev, sizeof dev) && strcmp(dev, want_dev) == 0;
	if (ok)
		*held = true;
	else
		log_warn("%s does not describe disk %s-%s (%s): not a format claim, ignored", path, d->boot_id,
			 want_seq, want_dev);
	buf_dispose(&text);
	free(path);
	return 0;
}

int fclaim_drop(const char *state_dir, const struct fclaim_disk *d, struct status *st)
{
	char *path = claim_path(state_dir, d);
	int rc = 0;
	/* ENOTDIR: the state directory is not one, so no claim can be there. */
	if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
		rc = errno_fail(st, errno, "remove", path);
	free(path);
	return rc;
}

int fclaim_sweep(const char *state_dir, const char *boot_id, struct status *st)
{
	char *dir = claims_dir(state_dir);
	DIR *dp = opendir(dir);
	if (dp == NULL) {
		int rc = errno == ENOENT ? 0 : errno_fail(st, errno, "open", dir);
		free(dir);
		return rc;
	}
	size_t bl = strlen(boot_id);
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		/* Ours: "<boot>-<seq>-<major>-<minor>", or the same + ".tmp" left by a crash. */
		bool this_boot = strncmp(de->d_name, boot_id, bl) == 0 && de->d_name[bl] == '-';
		bool left_tmp = strstr(de->d_name, ".tmp") != NULL;
		if (this_boot && !left_tmp)
			continue;
		if (unlinkat(dirfd(dp), de->d_name, 0) == 0) {
			log_info("removed format claim %s/%s: %s", dir, de->d_name,
				 this_boot ? "an unfinished write" : "from an earlier boot");
			removed++;
		}
	}
	closedir(dp);
	free(dir);
	return removed;
}
