/*
 * node_stage: NodeStageVolume and NodeUnstageVolume.
 *
 * Stage (filesystem): find the volume's device and prove it is the volume,
 * then let the mounter format it — only when blank — and mount it at the
 * staging path with the capability's mount flags; grow the filesystem when
 * the device grew while detached. Stage (raw block): the device only has to
 * exist and be proven; NodePublish binds it.
 * Unstage: unmount the staging path when it is a mount of this volume's
 * device; not mounted is success (CSI §NodeUnstageVolume). The staging
 * directory itself belongs to the CO (it creates it) and is never removed.
 * Idempotency comes from the mount table: a retried stage finds its mount and
 * answers OK; a staging path holding another device or an incompatible mount
 * is ALREADY_EXISTS (CSI §NodeStageVolume errors).
 */
#include "node/node_internal.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* Grows the filesystem mounted from dev at path when the device is larger
 * than it (the volume was expanded while detached). */
static int grow_if_needed(struct node_service *svc, const char *dev, const char *path, struct status *st)
{
	struct mounter_probe pr;
	uint64_t dev_bytes;
	if (mounter_probe(svc->m, dev, &pr, st) < 0 || mounter_device_size(svc->m, dev, &dev_bytes, st) < 0)
		return -1;
	/* fs_bytes 0: unknown size, nothing to compare; a fs larger than its
	 * device (a shrunk device) is not something resize can fix. */
	if (pr.fs_bytes == 0 || pr.fs_bytes >= dev_bytes)
		return 0;
	log_info("filesystem on %s is %llu bytes, device %llu: growing it", dev, (unsigned long long)pr.fs_bytes,
		 (unsigned long long)dev_bytes);
	return mounter_resize_fs(svc->m, dev, path, st);
}

/* The staging path already holds a mount: OK when it is this device with a
 * compatible capability, ALREADY_EXISTS otherwise. */
static int check_existing_stage(struct node_service *svc, const struct mounter_mount_info *mi, const char *dev,
				const char *path, const struct node_cap *cap, struct status *st)
{
	char *src = mounter_device_of_mount(svc->m, path, st);
	if (src == NULL)
		return -1;
	int rc = 0;
	if (strcmp(src, dev) != 0)
		rc = status_set(st, STATUS_ALREADY_EXISTS, "staging_target_path %s is already a mount of %s, not of %s",
				path, src, dev);
	else if (strcmp(mi->fstype, cap->fstype) != 0)
		rc = status_set(st, STATUS_ALREADY_EXISTS, "staging_target_path %s is already staged as %s, not %s", path,
				mi->fstype, cap->fstype);
	else if (mi->readonly && !mounter_options_have(cap->mount_options, "ro"))
		rc = status_set(st, STATUS_ALREADY_EXISTS, "staging_target_path %s is mounted read-only, not read-write",
				path);
	free(src);
	return rc;
}

static int stage_mount(struct node_service *svc, const struct rpc_ctx *rc, const char *volume_id, const char *dev,
		       const char *path, const struct node_cap *cap, const struct kvmap *vc, struct status *st)
{
	struct mounter_format_opts fmt;
	if (node_parse_format(vc, cap->fstype, svc->legacy_xfs, &fmt, st) < 0)
		return -1;
	int kind;
	if (mounter_path_kind(svc->m, path, &kind, st) < 0)
		return node_fail(st, "stage volume %s", volume_id);
	/* The CO creates the staging directory (CSI §NodeStageVolume); make it
	 * anyway, as upstream does, so a CO that does not is not stuck. */
	if (kind == MOUNTER_PATH_MISSING && mounter_make_dir(svc->m, path, st) < 0)
		return node_fail(st, "stage volume %s: create staging_target_path", volume_id);
	if (kind != MOUNTER_PATH_MISSING && kind != MOUNTER_PATH_DIR)
		return status_set(st, STATUS_ALREADY_EXISTS, "staging_target_path %s exists and is not a directory", path);

	struct mounter_mount_info mi;
	struct status local = STATUS_INIT;
	if (mounter_mount_info(svc->m, path, &mi, &local) == 0) {
		int r = check_existing_stage(svc, &mi, dev, path, cap, st);
		mounter_mount_info_dispose(&mi);
		if (r < 0)
			return node_fail(st, "stage volume %s", volume_id);
		/* A retry after a failed grow converges here. */
		if (!mounter_options_have(cap->mount_options, "ro") && grow_if_needed(svc, dev, path, st) < 0)
			return node_fail(st, "stage volume %s: grow the filesystem on %s", volume_id, dev);
		log_v(2, "volume %s already staged at %s", volume_id, path);
		return 0;
	}
	if (local.code != STATUS_NOT_FOUND) {
		status_copy(st, &local);
		return node_fail(st, "stage volume %s", volume_id);
	}
	if (node_check_caller(rc, st) < 0)
		return -1;
	bool formatted = false;
	/* The mounter formats only a blank device and refuses anything holding
	 * a signature other than the requested fs (DESIGN §6). */
	if (mounter_format_and_mount(svc->m, dev, path, &fmt, cap->mount_options, &formatted, st) < 0)
		return node_fail(st, "stage volume %s (%s) at %s", volume_id, dev, path);
	if (!formatted && !mounter_options_have(cap->mount_options, "ro") && grow_if_needed(svc, dev, path, st) < 0) {
		/* Leave nothing half-done: unstaged is a state the CO knows how
		 * to retry from. */
		mounter_unmount(svc->m, path, NULL);
		return node_fail(st, "stage volume %s: grow the filesystem on %s", volume_id, dev);
	}
	log_info("volume %s (%s) staged at %s as %s%s", volume_id, dev, path, cap->fstype, formatted ? ", formatted" : "");
	return 0;
}

int node_stage_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp, ProtobufCMessage **resp,
		      struct status *st)
{
	struct node_service *svc = svcp;
	const Csi__V1__NodeStageVolumeRequest *req = (const Csi__V1__NodeStageVolumeRequest *)reqp;
	struct node_cap cap = { 0 };
	struct kvmap vc = { 0 }, pc = { 0 };
	char *dev = NULL;
	bool held = false;
	int ret = -1;

	if (node_check_volume_id(req->volume_id, st) < 0 ||
	    node_check_path(svc, "staging_target_path", req->staging_target_path, st) < 0 ||
	    node_check_capability(req->volume_capability, "volume_capability", &cap, st) < 0)
		goto out;
	KVMAP_VIEW(&vc, req->n_volume_context, req->volume_context);
	KVMAP_VIEW(&pc, req->n_publish_context, req->publish_context);
	int part;
	if (node_parse_partition(&vc, &part, st) < 0)
		goto out;
	if (node_acquire(svc, req->volume_id, st) < 0)
		goto out;
	held = true;

	dev = node_find_device(svc, req->volume_id, kvmap_get(&pc, "devicePath"), part, st);
	if (dev == NULL) {
		node_fail(st, "stage volume %s", req->volume_id);
		goto out;
	}
	/* Raw block: nothing to mount; NodePublish binds the device node. The
	 * user may write anything on it from now on, so any claim that it holds
	 * this driver's unfinished format (a filesystem stage killed mid-mkfs)
	 * must go first. */
	if (cap.block && mounter_drop_format_claim(svc->m, dev, st) < 0) {
		node_fail(st, "stage volume %s", req->volume_id);
		goto out;
	}
	if (!cap.block && stage_mount(svc, rc, req->volume_id, dev, req->staging_target_path, &cap, &vc, st) < 0)
		goto out;

	Csi__V1__NodeStageVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__node_stage_volume_response__init(r);
	*resp = &r->base;
	ret = 0;
out:
	if (held)
		node_release(svc, req->volume_id);
	free(dev);
	kvmap_dispose(&vc);
	kvmap_dispose(&pc);
	node_cap_dispose(&cap);
	return ret;
}

int node_unstage_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp, ProtobufCMessage **resp,
			struct status *st)
{
	(void)rc;
	struct node_service *svc = svcp;
	const Csi__V1__NodeUnstageVolumeRequest *req = (const Csi__V1__NodeUnstageVolumeRequest *)reqp;
	const char *path = req->staging_target_path;
	bool held = false;
	int ret = -1;

	if (node_check_volume_id(req->volume_id, st) < 0 ||
	    node_check_path(svc, "staging_target_path", path, st) < 0)
		goto out;
	if (node_acquire(svc, req->volume_id, st) < 0)
		goto out;
	held = true;

	if (node_unmount_layers(svc, req->volume_id, path, "unstaged", st) < 0) {
		node_fail(st, "unstage volume %s", req->volume_id);
		goto out;
	}

	Csi__V1__NodeUnstageVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__node_unstage_volume_response__init(r);
	*resp = &r->base;
	ret = 0;
out:
	if (held)
		node_release(svc, req->volume_id);
	return ret;
}
