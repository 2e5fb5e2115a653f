/*
 * node_internal: what the node_*.c files share and nothing outside node/
 * uses — the service struct, request validation, volume_context parsing,
 * device lookup with proof, in-flight keys and the final status mapping.
 *
 * Invariants: validation helpers only read the request and set
 * INVALID_ARGUMENT naming the field; strings they hand back point into the
 * request (valid for the call) unless a comment says "heap". The service's
 * configuration is immutable after node_service_new except the instance data,
 * which node_service_instance() copies out under the lock.
 */
#ifndef EBS_NODE_NODE_INTERNAL_H
#define EBS_NODE_NODE_INTERNAL_H

#include "common/inflight.h"
#include "common/kvmap.h"
#include "common/instance_info.h"
#include "common/status.h"
#include "node/devpath.h"
#include "node/mounter.h"
#include "node/node.h"

#include "csi.pb-c.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node_service {
	struct mounter *m;          /* borrowed */
	struct inflight *inflight;  /* volume ids of running calls */
	struct devpath_opts dp;     /* points at the owned strings below */
	char *by_id_dir, *sysfs_root, *kubelet_root; /* heap or NULL */
	int volume_attach_limit, reserved_volume_attachments;
	bool legacy_xfs;
	pthread_mutex_t lock;       /* guards instance */
	struct instance_info instance;
};

/* Copies the instance data out under the lock. */
void node_service_instance(struct node_service *svc, struct instance_info *out);

/* ---- validation (node_validate.c) ---------------------------------------------- */

/* What a validated VolumeCapability asks for. */
struct node_cap {
	bool block;            /* raw block; else a filesystem mount */
	const char *fstype;    /* canonical ("ext4" when unset); NULL for block; static */
	int mode;              /* Csi__V1__VolumeCapability__AccessMode__Mode */
	bool reader_only;      /* a *_READER_ONLY mode: everything is mounted read-only */
	char *mount_options;   /* heap: mount_flags deduplicated and joined with ',' ("" when none) */
};

/* Releases out->mount_options; safe on a zeroed or disposed struct. */
void node_cap_dispose(struct node_cap *cap);

/* volume_id is required. Returns 0; -1 with INVALID_ARGUMENT. */
int node_check_volume_id(const char *volume_id, struct status *st);

/* path (the request field named field) is required, absolute, has no ".."
 * component, fits PATH_MAX and lies inside the kubelet root when one is
 * configured. Returns 0; -1 with INVALID_ARGUMENT naming field. */
int node_check_path(const struct node_service *svc, const char *field, const char *path, struct status *st);

/* Validates cap (the request field named field) and fills out (dispose it
 * even on failure). Access modes: the single-node ones for both access types,
 * MULTI_NODE_MULTI_WRITER for block only. fs types: ext2/3/4, xfs. Returns 0;
 * -1 with INVALID_ARGUMENT naming the sub-field. */
int node_check_capability(const Csi__V1__VolumeCapability *cap, const char *field, struct node_cap *out,
			  struct status *st);

/*
 * Parses volume_context's "partition" into *partition (0: the whole device).
 * Returns 0; -1 with INVALID_ARGUMENT for a value that is not a number >= 0.
 */
int node_parse_partition(const struct kvmap *vc, int *partition, struct status *st);

/*
 * Fills fmt from volume_context's formatting parameters (blockSize,
 * inodeSize, bytesPerInode, numberOfInodes, ext4BigAlloc, ext4ClusterSize;
 * ext4EncryptionSupport is refused as unsupported) for fstype, plus legacy
 * xfs. fmt->fstype points at fstype. Returns 0; -1 with INVALID_ARGUMENT
 * naming the key (not a number, or not for this fstype).
 */
int node_parse_format(const struct kvmap *vc, const char *fstype, bool legacy_xfs,
		      struct mounter_format_opts *fmt, struct status *st);

/* ---- shared steps (node_service.c) ---------------------------------------------------- */

/* Takes volume_id's in-flight key. Returns 0; -1 with ABORTED. */
int node_acquire(struct node_service *svc, const char *volume_id, struct status *st);
void node_release(struct node_service *svc, const char *volume_id);

/*
 * The proven device node of volume_id (heap): by-id link or hint
 * (publish_context devicePath, may be NULL), identity proven, then partition
 * part when > 0 (which must exist as a block device). Returns NULL with
 * NOT_FOUND, FAILED_PRECONDITION (not provably the volume), INVALID_ARGUMENT.
 */
char *node_find_device(struct node_service *svc, const char *volume_id, const char *hint, int part,
		       struct status *st);

/* Whether mounted (a mount's source device) is dev or a partition of it. */
bool node_same_device(const char *mounted, const char *dev);

/*
 * Refuses to act on a mount at path whose source is positively another device
 * than volume_id's: returns 0 when the device of volume_id cannot be found
 * (detached under us: nothing to compare) or is the source, -1 with
 * FAILED_PRECONDITION naming both otherwise. mount_source is the source of
 * the mount (mounter_device_of_mount).
 */
int node_check_mount_is_volume(struct node_service *svc, const char *volume_id, const char *path,
			       const char *mount_source, struct status *st);

/* Unmounts every layer of volume_id mounted at path (stacked mounts, a stage
 * repeated by hand say, come off one per unmount), stopping when nothing is
 * mounted there; refuses a layer that is not the volume's. done ("unstaged")
 * names the step in the log. Returns 0, or -1 with st set (the caller adds
 * its context). */
int node_unmount_layers(struct node_service *svc, const char *volume_id, const char *path, const char *done,
			struct status *st);

/*
 * The final code of a failed step: codes the CSI spec gives meaning to here
 * (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED,
 * OUT_OF_RANGE, DEADLINE_EXCEEDED, UNAVAILABLE) pass, anything else becomes
 * INTERNAL; the message gets the printf-formatted context. Returns -1.
 */
int node_fail(struct status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* DEADLINE_EXCEEDED / CANCELLED when the caller is gone, so a slow step (mkfs)
 * is not started for nobody. Returns 0 or -1. */
int node_check_caller(const struct rpc_ctx *rc, struct status *st);

#endif
