/*
 * node: the CSI Node service — NodeStage/Unstage, NodePublish/Unpublish,
 * NodeExpandVolume, NodeGetVolumeStats, NodeGetCapabilities, NodeGetInfo —
 * on top of struct mounter (node/mounter.h) and device discovery with
 * identity proof (node/devpath.h).
 *
 * Every handler has the csi_handler_fn shape of csi-proto/server.h without
 * depending on csi-proto: it gets the unpacked request, builds its whole
 * response on the heap (freed by the server with
 * protobuf_c_message_free_unpacked) and returns 0, or returns -1 with st set
 * and *resp left NULL. Shape: validate (INVALID_ARGUMENT naming the field) →
 * take the volume's in-flight key (ABORTED while another call for the volume
 * runs) → devpath/mounter → map the status → build the response.
 *
 * The service keeps no state about volumes: the mount table is the truth, so a
 * restarted driver answers retried calls the same way. It never formats a
 * device holding anything, never touches a device it cannot prove is the
 * requested volume, and unmounts/removes only what it can tell is ours.
 */
#ifndef EBS_NODE_NODE_H
#define EBS_NODE_NODE_H

#include "common/instance_info.h"
#include "common/rpc.h"
#include "common/status.h"
#include "node/mounter.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

struct node_config {
	struct instance_info instance;  /* copied: node_id, zone, type, ENIs, outpost */
	const char *by_id_dir;          /* NULL: /dev/disk/by-id */
	const char *sysfs_root;         /* NULL: /sys */
	const char *kubelet_root;       /* NULL or "": any absolute path; else staging/target/volume
					   paths outside it are INVALID_ARGUMENT */
	int volume_attach_limit;        /* --volume-attach-limit, -1 when unset */
	int reserved_volume_attachments;/* --reserved-volume-attachments, -1 when unset */
	bool legacy_xfs;                /* --legacy-xfs: mkfs.xfs without features old kernels lack */
	bool trust_device_path;         /* accept devices with neither NVMe serial nor by-id link (Xen) */
};

struct node_service;

/*
 * Returns a new service (never NULL). cfg is copied (strings included); m is
 * borrowed and must outlive the service. The attach-limit flags are taken as
 * given: validate them first with limits_check_flags (node/limits.h).
 */
struct node_service *node_service_new(const struct node_config *cfg, struct mounter *m);

/* Frees svc (not its mounter). NULL is a no-op. No handler may be running. */
void node_service_free(struct node_service *svc);

/* Replaces the instance data NodeGetInfo reports (e.g. a refreshed ENI
 * count); thread-safe against running handlers. */
void node_service_set_instance(struct node_service *svc, const struct instance_info *info);

/*
 * The handlers. svc is a struct node_service *; req the matching
 * Csi__V1__<Rpc>Request; *resp receives a heap Csi__V1__<Rpc>Response.
 * Codes besides INVALID_ARGUMENT (a missing or bad field, named) and ABORTED
 * (another call for the volume is running):
 *   NodeStageVolume:     NOT_FOUND (no device), FAILED_PRECONDITION (device is
 *                        not provably the volume, or holds something other
 *                        than the requested fs: nothing written), ALREADY_EXISTS
 *                        (staging path holds another device or an incompatible
 *                        mount), DEADLINE_EXCEEDED, INTERNAL.
 *   NodeUnstageVolume:   FAILED_PRECONDITION (the mount is another device),
 *                        UNAVAILABLE (busy), INTERNAL. Not staged: OK.
 *   NodePublishVolume:   FAILED_PRECONDITION (not staged, or no
 *                        staging_target_path for a mount volume), NOT_FOUND,
 *                        ALREADY_EXISTS (target holds an incompatible mount),
 *                        INTERNAL.
 *   NodeUnpublishVolume: FAILED_PRECONDITION (the mount is another device, or
 *                        the target is not empty after unmount), UNAVAILABLE,
 *                        INTERNAL. Not published: OK.
 *   NodeExpandVolume:    NOT_FOUND (volume_path not mounted / missing),
 *                        FAILED_PRECONDITION, OUT_OF_RANGE (device smaller than
 *                        required_bytes), INTERNAL.
 *   NodeGetVolumeStats:  NOT_FOUND (nothing of the volume at volume_path),
 *                        INTERNAL. Takes no in-flight key (read-only).
 *   NodeGetCapabilities: never fails.
 *   NodeGetInfo:         FAILED_PRECONDITION when the instance id is unknown.
 */
int node_stage_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		      struct status *st);
int node_unstage_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			ProtobufCMessage **resp, struct status *st);
int node_publish_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			ProtobufCMessage **resp, struct status *st);
int node_unpublish_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			  ProtobufCMessage **resp, struct status *st);
int node_expand_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		       struct status *st);
int node_get_volume_stats(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			  ProtobufCMessage **resp, struct status *st);
int node_get_capabilities(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			  ProtobufCMessage **resp, struct status *st);
int node_get_info(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		  struct status *st);

#endif
