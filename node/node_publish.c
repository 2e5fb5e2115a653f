/*
 * node_publish: NodePublishVolume and NodeUnpublishVolume.
 *
 * Publish (filesystem): bind-mount the staged filesystem onto target_path, a
 * directory we create, read-only when asked. Publish (raw block): bind the
 * volume's proven device node onto a regular file we create at target_path
 * (CSI: "the SP SHALL place the block device at target_path").
 * Unpublish: unmount every layer that is a mount of this volume at
 * target_path, then remove the file or empty directory left there (CSI: "The
 * SP MUST delete the file or directory it created at this path"); not
 * published is success. It never removes a non-empty directory or a mount.
 * Idempotency from the mount table: the same volume at the same target with
 * the same read-only-ness → OK; anything else already there → ALREADY_EXISTS.
 * Not enforced: the CSI table's FAILED_PRECONDITION for one SINGLE_NODE_WRITER
 * volume at two targets — kubelet publishes an RWO volume once per pod, and
 * several pods on one node may share it (upstream allows it too).
 */
#include "node/node_internal.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* Compares an existing mount at target with what the request wants. */
static int check_existing_publish(struct node_service *svc, const char *target, const char *want_dev, bool want_ro,
				  struct status *st)
{
	struct mounter_mount_info mi;
	if (mounter_mount_info(svc->m, target, &mi, st) < 0)
		return -1;
	bool ro = mi.readonly;
	mounter_mount_info_dispose(&mi);
	char *src = mounter_device_of_mount(svc->m, target, st);
	if (src == NULL)
		return -1;
	int rc = 0;
	if (strcmp(src, want_dev) != 0)
		rc = status_set(st, STATUS_ALREADY_EXISTS, "target_path %s is already a mount of %s, not of %s", target,
				src, want_dev);
	else if (ro != want_ro)
		rc = status_set(st, STATUS_ALREADY_EXISTS, "target_path %s is already published %s", target,
				ro ? "read-only" : "read-write");
	free(src);
	return rc;
}

/* Creates target (a directory, or a file for block) unless it is there
 * already; *created tells whether we made it. */
static int make_target(struct node_service *svc, const char *target, bool block, bool *created, struct status *st)
{
	int kind;
	*created = false;
	if (mounter_path_kind(svc->m, target, &kind, st) < 0)
		return -1;
	if (kind == MOUNTER_PATH_MISSING) {
		if ((block ? mounter_make_file(svc->m, target, st) : mounter_make_dir(svc->m, target, st)) < 0)
			return -1;
		*created = true;
		return 0;
	}
	if (kind != (block ? MOUNTER_PATH_FILE : MOUNTER_PATH_DIR))
		return status_set(st, STATUS_ALREADY_EXISTS, "target_path %s exists and is not a %s", target,
				  block ? "file" : "directory");
	return 0;
}

/* The device to publish and the source to bind: the staged filesystem for a
 * mount volume, the device node for a block volume. Both heap. */
static int publish_source(struct node_service *svc, const Csi__V1__NodePublishVolumeRequest *req,
			  const struct node_cap *cap, char **dev, char **source, struct status *st)
{
	*dev = *source = NULL;
	if (cap->block) {
		struct kvmap vc, pc;
		KVMAP_VIEW(&vc, req->n_volume_context, req->volume_context);
		KVMAP_VIEW(&pc, req->n_publish_context, req->publish_context);
		int part = 0;
		if (node_parse_partition(&vc, &part, st) == 0)
			*dev = node_find_device(svc, req->volume_id, kvmap_get(&pc, "devicePath"), part, st);
		kvmap_dispose(&vc);
		kvmap_dispose(&pc);
		if (*dev == NULL)
			return -1;
		*source = xstrdup(*dev);
		return 0;
	}
	const char *staging = req->staging_target_path;
	struct mounter_mount_info mi;
	struct status local = STATUS_INIT;
	if (mounter_mount_info(svc->m, staging, &mi, &local) < 0) {
		if (local.code != STATUS_NOT_FOUND)
			return status_copy(st, &local);
		/* CSI: NodeStage must succeed before NodePublish. */
		return status_set(st, STATUS_FAILED_PRECONDITION, "volume %s is not staged at %s", req->volume_id,
				  staging);
	}
	const char *want_fs = req->volume_capability->mount->fs_type;
	int rc = 0;
	if (want_fs != NULL && want_fs[0] != '\0' && strcmp(mi.fstype, cap->fstype) != 0)
		rc = status_set(st, STATUS_FAILED_PRECONDITION, "volume %s is staged at %s as %s, not %s", req->volume_id,
				staging, mi.fstype, cap->fstype);
	mounter_mount_info_dispose(&mi);
	if (rc < 0)
		return -1;
	*dev = mounter_device_of_mount(svc->m, staging, st);
	if (*dev == NULL || node_check_mount_is_volume(svc, req->volume_id, staging, *dev, st) < 0) {
		free(*dev);
		*dev = NULL;
		return -1;
	}
	*source = xstrdup(staging);
	return 0;
}

int node_publish_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp, ProtobufCMessage **resp,
			struct status *st)
{
	(void)rc;
	struct node_service *svc = svcp;
	const Csi__V1__NodePublishVolumeRequest *req = (const Csi__V1__NodePublishVolumeRequest *)reqp;
	const char *target = req->target_path;
	struct node_cap cap = { 0 };
	char *dev = NULL, *source = NULL;
	bool held = false;
	int ret = -1;

	if (node_check_volume_id(req->volume_id, st) < 0 || node_check_path(svc, "target_path", target, st) < 0 ||
	    node_check_capability(req->volume_capability, "volume_capability", &cap, st) < 0)
		goto out;
	bool have_staging = req->staging_target_path != NULL && req->staging_target_path[0] != '\0';
	if (have_staging && node_check_path(svc, "staging_target_path", req->staging_target_path, st) < 0)
		goto out;
	/* CSI §NodePublishVolume: with STAGE_UNSTAGE_VOLUME advertised a missing
	 * staging path is FAILED_PRECONDITION. A block volume does not need it,
	 * so it is only insisted on for mounts. */
	if (!have_staging && !cap.block) {
		status_set(st, STATUS_FAILED_PRECONDITION, "staging_target_path is required (the volume must be staged)");
		goto out;
	}
	if (have_staging && strcmp(req->staging_target_path, target) == 0) {
		status_set(st, STATUS_INVALID_ARGUMENT, "target_path must differ from staging_target_path");
		goto out;
	}
	if (node_acquire(svc, req->volume_id, st) < 0)
		goto out;
	held = true;

	bool want_ro = req->readonly || cap.reader_only;
	if (publish_source(svc, req, &cap, &dev, &source, st) < 0) {
		node_fail(st, "publish volume %s", req->volume_id);
		goto out;
	}
	bool mounted;
	if (mounter_is_mounted(svc->m, target, &mounted, st) < 0) {
		node_fail(st, "publish volume %s", req->volume_id);
		goto out;
	}
	if (mounted) {
		if (check_existing_publish(svc, target, dev, want_ro, st) < 0) {
			node_fail(st, "publish volume %s", req->volume_id);
			goto out;
		}
		log_v(2, "volume %s already published at %s", req->volume_id, target);
	} else {
		bool created;
		if (make_target(svc, target, cap.block, &created, st) < 0) {
			node_fail(st, "publish volume %s: create target_path", req->volume_id);
			goto out;
		}
		if (mounter_bind_mount(svc->m, source, target, want_ro, st) < 0) {
			if (created)
				mounter_remove_path(svc->m, target, NULL);
			node_fail(st, "publish volume %s at %s", req->volume_id, target);
			goto out;
		}
		log_info("volume %s (%s) published at %s%s", req->volume_id, dev, target, want_ro ? " read-only" : "");
	}

	Csi__V1__NodePublishVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__node_publish_volume_response__init(r);
	*resp = &r->base;
	ret = 0;
out:
	if (held)
		node_release(svc, req->volume_id);
	free(dev);
	free(source);
	node_cap_dispose(&cap);
	return ret;
}

int node_unpublish_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			  ProtobufCMessage **resp, struct status *st)
{
	(void)rc;
	struct node_service *svc = svcp;
	const Csi__V1__NodeUnpublishVolumeRequest *req = (const Csi__V1__NodeUnpublishVolumeRequest *)reqp;
	const char *target = req->target_path;
	bool held = false;
	int ret = -1;

	if (node_check_volume_id(req->volume_id, st) < 0 || node_check_path(svc, "target_path", target, st) < 0)
		goto out;
	if (node_acquire(svc, req->volume_id, st) < 0)
		goto out;
	held = true;

	if (node_unmount_layers(svc, req->volume_id, target, "unpublished", st) < 0) {
		node_fail(st, "unpublish volume %s", req->volume_id);
		goto out;
	}
	int kind;
	if (mounter_path_kind(svc->m, target, &kind, st) < 0) {
		node_fail(st, "unpublish volume %s", req->volume_id);
		goto out;
	}
	if (kind == MOUNTER_PATH_DIR || kind == MOUNTER_PATH_FILE) {
		/* remove_path refuses a mount point and a non-empty directory:
		 * whatever is in there is not something we created. */
		if (mounter_remove_path(svc->m, target, st) < 0) {
			node_fail(st, "unpublish volume %s: remove target_path", req->volume_id);
			goto out;
		}
	} else if (kind != MOUNTER_PATH_MISSING) {
		status_set(st, STATUS_FAILED_PRECONDITION,
			   "unpublish volume %s: target_path %s is neither a file nor a directory: not ours to remove",
			   req->volume_id, target);
		goto out;
	}

	Csi__V1__NodeUnpublishVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__node_unpublish_volume_response__init(r);
	*resp = &r->base;
	ret = 0;
out:
	if (held)
		node_release(svc, req->volume_id);
	return ret;
}
