/*
 * node_expand_stats: NodeExpandVolume and NodeGetVolumeStats.
 *
 * Expand grows the filesystem of a staged or published volume online
 * (resize2fs / xfs_growfs through the mounter) to fill its device, after
 * proving the mount's device is the volume, and returns the device size. A
 * block volume has nothing to grow: the size is reported.
 * Stats report what statvfs says of the volume's filesystem (bytes and
 * inodes) or a raw block device's size, plus a volume condition that is
 * abnormal only on evidence: the filesystem's superblock went read-only while
 * the mount was made read-write — what ext4 errors=remount-ro or an xfs
 * shutdown leaves behind. Stats take no in-flight key: they change nothing,
 * and kubelet polls them, so they must not make a concurrent
 * NodeUnpublish answer ABORTED.
 */
#include "node/node_internal.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* CSI sizes are int64; a uint64 beyond that (impossible for EBS, possible
 * for a corrupt statvfs) is clamped rather than wrapped negative. */
static int64_t clamp64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static int check_capacity_range(const Csi__V1__CapacityRange *cr, struct status *st)
{
	if (cr == NULL)
		return 0;
	if (cr->required_bytes < 0 || cr->limit_bytes < 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "capacity_range must not be negative");
	if (cr->limit_bytes > 0 && cr->required_bytes > cr->limit_bytes)
		return status_set(st, STATUS_INVALID_ARGUMENT, "capacity_range.required_bytes exceeds limit_bytes");
	return 0;
}

/* Grows the filesystem mounted at volume_path; *bytes = the device size. */
static int expand_mount(struct node_service *svc, const Csi__V1__NodeExpandVolumeRequest *req, uint64_t *bytes,
			struct status *st)
{
	struct status local = STATUS_INIT;
	char *src = mounter_device_of_mount(svc->m, req->volume_path, &local);
	if (src == NULL) {
		if (local.code == STATUS_NOT_FOUND)
			return status_set(st, STATUS_NOT_FOUND, "volume_path %s is not a mount point", req->volume_path);
		return status_copy(st, &local);
	}
	char *dev = node_find_device(svc, req->volume_id, NULL, 0, st);
	char *staged = NULL;
	int rc = -1;
	if (dev == NULL)
		goto out;
	/* Growing a filesystem writes to it: the mount must be of the volume. */
	if (!node_same_device(src, dev)) {
		status_set(st, STATUS_FAILED_PRECONDITION, "volume_path %s is a mount of %s, but volume %s is %s",
			   req->volume_path, src, req->volume_id, dev);
		goto out;
	}
	/* Prefer the staging mount: a read-only publish cannot be grown
	 * through, the read-write staging mount of the same fs can. */
	const char *where = req->volume_path;
	if (req->staging_target_path != NULL && req->staging_target_path[0] != '\0') {
		staged = mounter_device_of_mount(svc->m, req->staging_target_path, NULL);
		if (staged != NULL && strcmp(staged, src) == 0)
			where = req->staging_target_path;
	}
	if (mounter_device_size(svc->m, dev, bytes, st) < 0)
		goto out;
	uint64_t required = req->capacity_range ? (uint64_t)req->capacity_range->required_bytes : 0;
	if (required > *bytes) {
		status_set(st, STATUS_OUT_OF_RANGE, "device %s is %llu bytes, less than the required %llu", dev,
			   (unsigned long long)*bytes, (unsigned long long)required);
		goto out;
	}
	if (mounter_resize_fs(svc->m, src, where, st) < 0)
		goto out;
	log_info("volume %s: filesystem at %s grown to fill %s (%llu bytes)", req->volume_id, where, dev,
		 (unsigned long long)*bytes);
	rc = 0;
out:
	free(src);
	free(dev);
	free(staged);
	return rc;
}

int node_expand_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp, ProtobufCMessage **resp,
		       struct status *st)
{
	(void)rc;
	struct node_service *svc = svcp;
	const Csi__V1__NodeExpandVolumeRequest *req = (const Csi__V1__NodeExpandVolumeRequest *)reqp;
	struct node_cap cap = { 0 };
	bool held = false;
	int ret = -1;

	if (node_check_volume_id(req->volume_id, st) < 0)
		goto out;
	/* As for stats: a relative volume_path cannot hold a volume of ours, so
	 * the volume is NOT_FOUND there (CSI §NodeExpandVolume; csi-sanity sends
	 * "some/path" for a volume that does not exist). */
	if (req->volume_path != NULL && req->volume_path[0] != '\0' && req->volume_path[0] != '/') {
		status_set(st, STATUS_NOT_FOUND, "volume %s is not at %s", req->volume_id, req->volume_path);
		goto out;
	}
	if (node_check_path(svc, "volume_path", req->volume_path, st) < 0 ||
	    check_capacity_range(req->capacity_range, st) < 0)
		goto out;
	if (req->staging_target_path != NULL && req->staging_target_path[0] != '\0' &&
	    node_check_path(svc, "staging_target_path", req->staging_target_path, st) < 0)
		goto out;
	/* The capability is optional here; without it the access type is
	 * inferred from volume_path (CSI §NodeExpandVolume). */
	if (req->volume_capability != NULL &&
	    node_check_capability(req->volume_capability, "volume_capability", &cap, st) < 0)
		goto out;
	if (node_acquire(svc, req->volume_id, st) < 0)
		goto out;
	held = true;

	int kind;
	if (mounter_path_kind(svc->m, req->volume_path, &kind, st) < 0) {
		node_fail(st, "expand volume %s", req->volume_id);
		goto out;
	}
	if (kind == MOUNTER_PATH_MISSING) {
		status_set(st, STATUS_NOT_FOUND, "expand volume %s: volume_path %s does not exist", req->volume_id,
			   req->volume_path);
		goto out;
	}
	uint64_t bytes = 0;
	if (cap.block || (req->volume_capability == NULL && kind == MOUNTER_PATH_BLOCK)) {
		/* Nothing to grow: the application sees the bigger device. */
		char *dev = node_find_device(svc, req->volume_id, NULL, 0, st);
		int r = dev != NULL ? mounter_device_size(svc->m, dev, &bytes, st) : -1;
		free(dev);
		if (r < 0) {
			node_fail(st, "expand volume %s", req->volume_id);
			goto out;
		}
	} else if (expand_mount(svc, req, &bytes, st) < 0) {
		node_fail(st, "expand volume %s", req->volume_id);
		goto out;
	}

	Csi__V1__NodeExpandVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__node_expand_volume_response__init(r);
	r->capacity_bytes = clamp64(bytes);
	*resp = &r->base;
	ret = 0;
out:
	if (held)
		node_release(svc, req->volume_id);
	node_cap_dispose(&cap);
	return ret;
}

static Csi__V1__VolumeUsage *usage_new(Csi__V1__VolumeUsage__Unit unit, uint64_t total, uint64_t used,
				       uint64_t available)
{
	Csi__V1__VolumeUsage *u = xmalloc(sizeof *u);
	csi__v1__volume_usage__init(u);
	u->unit = unit;
	u->total = clamp64(total);
	u->used = clamp64(used);
	u->available = clamp64(available);
	return u;
}

static Csi__V1__VolumeCondition *condition_new(bool abnormal, char *message)
{
	Csi__V1__VolumeCondition *c = xmalloc(sizeof *c);
	csi__v1__volume_condition__init(c);
	c->abnormal = abnormal;
	c->message = message;
	return c;
}

int node_get_volume_stats(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			  ProtobufCMessage **resp, struct status *st)
{
	(void)rc;
	struct node_service *svc = svcp;
	const Csi__V1__NodeGetVolumeStatsRequest *req = (const Csi__V1__NodeGetVolumeStatsRequest *)reqp;
	const char *path = req->volume_path;
	struct mounter_mount_info mi = { 0 };
	char *src = NULL;
	int ret = -1;

	if (node_check_volume_id(req->volume_id, st) < 0)
		goto out;
	if (path == NULL || path[0] == '\0') {
		status_set(st, STATUS_INVALID_ARGUMENT, "volume_path is required");
		goto out;
	}
	/* A relative path cannot be where anything of ours is: NOT_FOUND, the
	 * spec's code for "volume does not exist on volume_path" (csi-sanity
	 * sends "some/path" and expects it). */
	if (path[0] != '/') {
		status_set(st, STATUS_NOT_FOUND, "volume %s is not at %s", req->volume_id, path);
		goto out;
	}
	if (node_check_path(svc, "volume_path", path, st) < 0)
		goto out;

	struct status local = STATUS_INIT;
	if (mounter_mount_info(svc->m, path, &mi, &local) < 0) {
		if (local.code == STATUS_NOT_FOUND) {
			status_set(st, STATUS_NOT_FOUND, "volume %s is not mounted at %s", req->volume_id, path);
		} else {
			status_copy(st, &local);
			node_fail(st, "stats of volume %s", req->volume_id);
		}
		goto out;
	}
	src = mounter_device_of_mount(svc->m, path, st);
	if (src == NULL) {
		node_fail(st, "stats of volume %s", req->volume_id);
		goto out;
	}
	if (node_check_mount_is_volume(svc, req->volume_id, path, src, &local) < 0) {
		/* Another volume is mounted there: this one is not. */
		status_set(st, STATUS_NOT_FOUND, "volume %s is not at %s: %s", req->volume_id, path, local.msg);
		goto out;
	}
	int kind;
	if (mounter_path_kind(svc->m, path, &kind, st) < 0) {
		node_fail(st, "stats of volume %s", req->volume_id);
		goto out;
	}

	Csi__V1__NodeGetVolumeStatsResponse *r = xmalloc(sizeof *r);
	csi__v1__node_get_volume_stats_response__init(r);
	if (kind == MOUNTER_PATH_BLOCK) {
		uint64_t bytes;
		if (mounter_device_size(svc->m, path, &bytes, st) < 0) {
			free(r);
			node_fail(st, "stats of volume %s", req->volume_id);
			goto out;
		}
		/* CSI: used and available MAY be omitted for a block volume. */
		r->usage = xcalloc(1, sizeof *r->usage);
		r->usage[r->n_usage++] = usage_new(CSI__V1__VOLUME_USAGE__UNIT__BYTES, bytes, 0, 0);
		r->volume_condition = condition_new(false, xstrdup("raw block device is attached"));
	} else {
		struct mounter_fs_stats fs;
		if (mounter_fs_stats(svc->m, path, &fs, st) < 0) {
			free(r);
			node_fail(st, "stats of volume %s", req->volume_id);
			goto out;
		}
		r->usage = xcalloc(2, sizeof *r->usage);
		r->usage[r->n_usage++] = usage_new(CSI__V1__VOLUME_USAGE__UNIT__BYTES, fs.bytes_total, fs.bytes_used,
						   fs.bytes_available);
		if (fs.inodes_total != 0)
			r->usage[r->n_usage++] = usage_new(CSI__V1__VOLUME_USAGE__UNIT__INODES, fs.inodes_total,
							   fs.inodes_used, fs.inodes_available);
		/* Older kernels flip the superblock to "ro"; newer ext4 keeps "rw"
		 * and adds "emergency_ro" (or "shutdown" after a forced shutdown). */
		bool sb_ro = mounter_options_have(mi.fs_options, "ro") ||
			     mounter_options_have(mi.fs_options, "emergency_ro") ||
			     mounter_options_have(mi.fs_options, "shutdown");
		if (sb_ro && !mi.readonly)
			r->volume_condition = condition_new(
				true, xasprintf("the %s filesystem on %s went read-only while mounted read-write "
						"(filesystem errors?)", mi.fstype, src));
		else
			r->volume_condition = condition_new(false, xstrdup("filesystem is mounted as requested"));
	}
	*resp = &r->base;
	ret = 0;
out:
	mounter_mount_info_dispose(&mi);
	free(src);
	return ret;
}
