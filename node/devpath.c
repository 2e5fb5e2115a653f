/*
 * devpath: volume id → device node, and identity proof. See devpath.h.
 *
 * Everything is read fresh from the by-id directory and sysfs on each call;
 * a device can be detached and another attached under the same name between
 * two calls, so nothing here is worth caching.
 */
#include "node/devpath.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *by_id_dir(const struct devpath_opts *o)
{
	return o && o->by_id_dir ? o->by_id_dir : DEVPATH_DEFAULT_BY_ID_DIR;
}

static const char *sysfs_root(const struct devpath_opts *o)
{
	return o && o->sysfs_root ? o->sysfs_root : DEVPATH_DEFAULT_SYSFS_ROOT;
}

bool devpath_volume_id_valid(const char *id)
{
	if (id == NULL || strncmp(id, "vol-", 4) != 0)
		return false;
	size_t n = 0;
	for (const char *p = id + 4; *p; p++, n++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return false;
	return n == 8 || n == 17;
}

int devpath_serial_of_volume(const char *volume_id, char *out, size_t n, struct status *st)
{
	if (!devpath_volume_id_valid(volume_id))
		return status_set(st, STATUS_INVALID_ARGUMENT, "malformed volume id \"%s\"", volume_id ? volume_id : "");
	int len = snprintf(out, n, "vol%s", volume_id + 4);
	if (len < 0 || (size_t)len >= n)
		return status_set(st, STATUS_INTERNAL, "serial buffer too small");
	return 0;
}

bool devpath_serial_matches(const char *serial, const char *volume_id)
{
	char want[32];
	if (serial == NULL || devpath_serial_of_volume(volume_id, want, sizeof want, NULL) < 0)
		return false;
	while (isspace((unsigned char)*serial))
		serial++;
	size_t len = strlen(serial);
	while (len > 0 && (isspace((unsigned char)serial[len - 1]) || serial[len - 1] == '\0'))
		len--;
	return len == strlen(want) && strncmp(serial, want, len) == 0;
}

/* The canonical block device a path resolves to, or NULL. */
static char *resolve_block(const char *path)
{
	char canon[PATH_MAX];
	if (realpath(path, canon) == NULL)
		return NULL;
	struct stat sb;
	if (stat(canon, &sb) != 0 || !S_ISBLK(sb.st_mode))
		return NULL;
	return xstrdup(canon);
}

/* The device the volume's by-id links resolve to, or NULL. */
static char *find_by_id(const struct devpath_opts *o, const char *serial)
{
	static const char *const suffixes[] = { "", "_1" };
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		char *link = xasprintf("%s/%s%s%s", by_id_dir(o), DEVPATH_BY_ID_PREFIX, serial, suffixes[i]);
		char *dev = resolve_block(link);
		free(link);
		if (dev != NULL)
			return dev;
	}
	return NULL;
}

char *devpath_find(const struct devpath_opts *opts, const char *volume_id, const char *hint, bool *via_link,
		   struct status *st)
{
	char serial[32];
	if (via_link)
		*via_link = false;
	if (devpath_serial_of_volume(volume_id, serial, sizeof serial, st) < 0)
		return NULL;
	char *dev = find_by_id(opts, serial);
	if (dev != NULL) {
		if (via_link)
			*via_link = true;
		return dev;
	}
	if (hint != NULL && hint[0] != '\0') {
		dev = resolve_block(hint);
		if (dev != NULL)
			return dev;
	}
	status_set(st, STATUS_NOT_FOUND, "no device found for volume %s (devicePath \"%s\", %s/%s%s)", volume_id,
		   hint ? hint : "", by_id_dir(opts), DEVPATH_BY_ID_PREFIX, serial);
	return NULL;
}

/* For /dev/nvme<C>n<N>[p<P>], the namespace name "nvme<C>n<N>" into out. */
static bool nvme_namespace(const char *device, char *out, size_t n)
{
	const char *base = strrchr(device, '/');
	base = base ? base + 1 : device;
	if (strncmp(base, "nvme", 4) != 0)
		return false;
	const char *p = base + 4;
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != 'n' || !isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	size_t len = (size_t)(p - base);
	if (*p == 'p') {
		const char *q = p + 1;
		if (!isdigit((unsigned char)*q))
			return false;
		while (isdigit((unsigned char)*q))
			q++;
		if (*q != '\0')
			return false;
	} else if (*p != '\0') {
		return false;
	}
	if (len >= n)
		return false;
	memcpy(out, base, len);
	out[len] = '\0';
	return true;
}

/* Reads the serial of an NVMe namespace; false when sysfs has none. */
static bool read_serial(const struct devpath_opts *o, const char *ns, char *out, size_t n)
{
	char *path = xasprintf("%s/block/%s/device/serial", sysfs_root(o), ns);
	FILE *f = fopen(path, "re");
	free(path);
	if (f == NULL)
		return false;
	bool ok = fgets(out, (int)n, f) != NULL;
	fclose(f);
	if (!ok)
		return false;
	size_t len = strlen(out);
	while (len > 0 && isspace((unsigned char)out[len - 1]))
		out[--len] = '\0';
	size_t lead = 0;
	while (isspace((unsigned char)out[lead]))
		lead++;
	memmove(out, out + lead, len - lead + 1);
	return true;
}

/* device == whole + ["p" when whole ends in a digit] + digits. */
static bool is_partition_of(const char *device, const char *whole)
{
	size_t len = strlen(whole);
	if (len == 0 || strncmp(device, whole, len) != 0)
		return false;
	const char *p = device + len;
	if (isdigit((unsigned char)whole[len - 1]) && *p++ != 'p')
		return false;
	return *p != '\0' && strspn(p, "0123456789") == strlen(p);
}

int devpath_verify(const struct devpath_opts *opts, const char *volume_id, const char *device, struct status *st)
{
	char want[32];
	if (devpath_serial_of_volume(volume_id, want, sizeof want, st) < 0)
		return -1;
	char ns[64];
	if (nvme_namespace(device, ns, sizeof ns)) {
		char serial[128];
		if (!read_serial(opts, ns, serial, sizeof serial))
			return status_set(st, STATUS_FAILED_PRECONDITION,
					  "cannot read the NVMe serial of %s to prove it is volume %s: refusing to use it",
					  device, volume_id);
		if (!devpath_serial_matches(serial, volume_id))
			return status_set(st, STATUS_FAILED_PRECONDITION,
					  "device %s is \"%s\", not volume %s: refusing to use it", device, serial,
					  volume_id);
		return 0;
	}
	/* No serial to read: the volume's own by-id link must lead here. The
	 * partition of a linked whole device is proven by its parent's link. */
	char *linked = find_by_id(opts, want);
	bool same = linked != NULL && (strcmp(linked, device) == 0 || is_partition_of(device, linked));
	if (same) {
		free(linked);
		return 0;
	}
	if (opts != NULL && opts->trust_device_path) {
		log_v(2, "device %s for volume %s: no serial or link to check, trusted by configuration", device, volume_id);
		free(linked);
		return 0;
	}
	int rc = linked != NULL
			 ? status_set(st, STATUS_FAILED_PRECONDITION,
				      "device %s is not volume %s (whose link points to %s): refusing to use it", device,
				      volume_id, linked)
			 : status_set(st, STATUS_FAILED_PRECONDITION,
				      "cannot prove device %s is volume %s (no NVMe serial, no by-id link): refusing to use it",
				      device, volume_id);
	free(linked);
	return rc;
}

char *devpath_resolve(const struct devpath_opts *opts, const char *volume_id, const char *hint, struct status *st)
{
	char *dev = devpath_find(opts, volume_id, hint, NULL, st);
	if (dev == NULL)
		return NULL;
	if (devpath_verify(opts, volume_id, dev, st) < 0) {
		free(dev);
		return NULL;
	}
	return dev;
}

char *devpath_partition(const char *device, int part, struct status *st)
{
	if (part <= 0) {
		status_set(st, STATUS_INVALID_ARGUMENT, "partition must be a positive number, got %d", part);
		return NULL;
	}
	size_t len = strlen(device);
	bool digit = len > 0 && isdigit((unsigned char)device[len - 1]);
	return xasprintf("%s%s%d", device, digit ? "p" : "", part);
}
