/*
 * node_service: the node service object and the steps its handlers share —
 * in-flight keys per volume, finding and proving a volume's device, telling
 * whether a mount belongs to a volume, and the final status mapping.
 *
 * The service owns copies of its configuration strings and the in-flight set;
 * the mounter is borrowed. Nothing about volumes is remembered between calls:
 * each handler reads the mount table and the device links afresh, so a
 * restarted driver gives the same answers.
 */
#include "node/node_internal.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

struct node_service *node_service_new(const struct node_config *cfg, struct mounter *m)
{
	struct node_service *svc = xcalloc(1, sizeof *svc);
	svc->m = m;
	svc->inflight = inflight_new();
	svc->by_id_dir = dup_or_null(cfg->by_id_dir);
	svc->sysfs_root = dup_or_null(cfg->sysfs_root);
	svc->kubelet_root = dup_or_null(cfg->kubelet_root);
	svc->dp.by_id_dir = svc->by_id_dir;
	svc->dp.sysfs_root = svc->sysfs_root;
	svc->dp.trust_device_path = cfg->trust_device_path;
	svc->volume_attach_limit = cfg->volume_attach_limit;
	svc->reserved_volume_attachments = cfg->reserved_volume_attachments;
	svc->legacy_xfs = cfg->legacy_xfs;
	pthread_mutex_init(&svc->lock, NULL);
	svc->instance = cfg->instance;
	return svc;
}

void node_service_free(struct node_service *svc)
{
	if (svc == NULL)
		return;
	inflight_free(svc->inflight);
	free(svc->by_id_dir);
	free(svc->sysfs_root);
	free(svc->kubelet_root);
	pthread_mutex_destroy(&svc->lock);
	free(svc);
}

void node_service_set_instance(struct node_service *svc, const struct instance_info *info)
{
	pthread_mutex_lock(&svc->lock);
	svc->instance = *info;
	pthread_mutex_unlock(&svc->lock);
}

void node_service_instance(struct node_service *svc, struct instance_info *out)
{
	pthread_mutex_lock(&svc->lock);
	*out = svc->instance;
	pthread_mutex_unlock(&svc->lock);
}

int node_acquire(struct node_service *svc, const char *volume_id, struct status *st)
{
	/* CSI §Concurrency: the CO keeps one call per volume in flight but may
	 * send more after losing state; ABORTED makes it back off and retry. */
	if (!inflight_try_acquire(svc->inflight, volume_id))
		return status_set(st, STATUS_ABORTED, "an operation for volume %s is already in progress", volume_id);
	return 0;
}

void node_release(struct node_service *svc, const char *volume_id)
{
	inflight_release(svc->inflight, volume_id);
}

char *node_find_device(struct node_service *svc, const char *volume_id, const char *hint, int part,
		       struct status *st)
{
	char *dev = devpath_resolve(&svc->dp, volume_id, hint, st);
	if (dev == NULL || part <= 0)
		return dev;
	char *pdev = devpath_partition(dev, part, st);
	free(dev);
	if (pdev == NULL)
		return NULL;
	int kind = MOUNTER_PATH_MISSING;
	if (mounter_path_kind(svc->m, pdev, &kind, st) < 0) {
		free(pdev);
		return NULL;
	}
	if (kind != MOUNTER_PATH_BLOCK) {
		status_set(st, STATUS_NOT_FOUND, "partition %d of volume %s (%s) does not exist", part, volume_id, pdev);
		free(pdev);
		return NULL;
	}
	return pdev;
}

bool node_same_device(const char *mounted, const char *dev)
{
	if (mounted == NULL || dev == NULL)
		return false;
	size_t len = strlen(dev);
	if (strncmp(mounted, dev, len) != 0)
		return false;
	const char *p = mounted + len;
	if (*p == '\0')
		return true;
	/* A partition: "/dev/xvdf" + "2", "/dev/nvme1n1" + "p2". */
	if (len > 0 && dev[len - 1] >= '0' && dev[len - 1] <= '9' && *p++ != 'p')
		return false;
	return *p != '\0' && strspn(p, "0123456789") == strlen(p);
}

int node_check_mount_is_volume(struct node_service *svc, const char *volume_id, const char *path,
			       const char *mount_source, struct status *st)
{
	struct status local = STATUS_INIT;
	char *dev = devpath_find(&svc->dp, volume_id, NULL, NULL, &local);
	if (dev == NULL) {
		/* Detached (or never a device of ours to find): nothing proves the
		 * mount belongs to someone else, and refusing would leave the CO
		 * unable to ever clean up. */
		log_v(3, "volume %s: no device to compare with the mount at %s (%s)", volume_id, path, local.msg);
		return 0;
	}
	int rc = 0;
	if (!node_same_device(mount_source, dev))
		rc = status_set(st, STATUS_FAILED_PRECONDITION,
				"%s is a mount of %s, but volume %s is %s: refusing to touch it", path, mount_source,
				volume_id, dev);
	free(dev);
	return rc;
}

int node_fail(struct status *st, const char *fmt, ...)
{
	/* Codes a Node RPC may answer with; anything else is INTERNAL. */
	static const unsigned keep =
		STATUS_BIT(STATUS_INVALID_ARGUMENT) | STATUS_BIT(STATUS_NOT_FOUND) | STATUS_BIT(STATUS_ALREADY_EXISTS) |
		STATUS_BIT(STATUS_FAILED_PRECONDITION) | STATUS_BIT(STATUS_ABORTED) | STATUS_BIT(STATUS_OUT_OF_RANGE) |
		STATUS_BIT(STATUS_DEADLINE_EXCEEDED) | STATUS_BIT(STATUS_UNAVAILABLE) | STATUS_BIT(STATUS_CANCELLED);
	va_list ap;
	va_start(ap, fmt);
	int r = status_vnarrow(st, keep, fmt, ap);
	va_end(ap);
	return r;
}

int node_check_caller(const struct rpc_ctx *rc, struct status *st)
{
	if (!rpc_done(rc))
		return 0;
	if (rc->cancelled != NULL && atomic_load(rc->cancelled))
		return status_set(st, STATUS_CANCELLED, "the caller cancelled the call");
	return status_set(st, STATUS_DEADLINE_EXCEEDED, "the call's deadline passed");
}

int node_unmount_layers(struct node_service *svc, const char *volume_id, const char *path, const char *done,
			struct status *st)
{
	for (int layer = 0; layer < 8; layer++) {
		struct status local = STATUS_INIT;
		char *src = mounter_device_of_mount(svc->m, path, &local);
		if (src == NULL) {
			if (local.code == STATUS_NOT_FOUND)
				return 0; /* not (or no longer) mounted: done (CSI: unstage/unpublish are idempotent) */
			return status_copy(st, &local);
		}
		int r = node_check_mount_is_volume(svc, volume_id, path, src, st);
		free(src);
		if (r < 0 || mounter_unmount(svc->m, path, st) < 0)
			return -1;
		log_info("volume %s %s from %s", volume_id, done, path);
	}
	return 0;
}
