/*
 * controller: the CSI Controller service — CreateVolume … ControllerModifyVolume
 * — on top of struct cloud (cloud/cloud.h), the only view of AWS it has.
 *
 * Every handler has the csi_handler_fn shape of csi-proto/server.h without
 * depending on csi-proto: it gets the unpacked request, builds its whole
 * response on the heap (freed by the server with
 * protobuf_c_message_free_unpacked) and returns 0, or returns -1 with st set
 * and *resp left NULL. Shape: validate (INVALID_ARGUMENT naming the field,
 * before any cloud call) → in-flight key (ABORTED while another call for the
 * same volume, name or snapshot runs) → cloud → map the status → response.
 *
 * The service keeps no state that matters: EC2 is the truth. CreateVolume is
 * idempotent through the EC2 ClientToken hex(sha256(name)), CreateSnapshot
 * through the CSIVolumeSnapshotName tag, so a restarted driver answers a
 * retried call with the same volume or snapshot. What it does keep in memory
 * is the in-flight set and the per-volume coalescer that merges concurrent
 * ControllerExpandVolume / ControllerModifyVolume calls into one ModifyVolume.
 */
#ifndef EBS_CONTROLLER_CONTROLLER_H
#define EBS_CONTROLLER_CONTROLLER_H

#include "cloud/cloud.h"
#include "common/rpc.h"
#include "common/status.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

struct controller_config {
	/* --extra-tags, parsed with controller_parse_extra_tags; copied. NULL: none. */
	const struct cloud_tags *extra_tags;
	/* --k8s-tag-cluster-id; NULL or "": no cluster tags. Copied. */
	const char *k8s_tag_cluster_id;
	/* --warn-on-invalid-tag: a tagSpecification that fails to interpolate
	 * or names a reserved key is logged and skipped instead of failing the
	 * call with INVALID_ARGUMENT. */
	bool warn_on_invalid_tag;
	/* The filesystem the node formats when a mount capability names none
	 * (formatting parameters are checked against it). NULL: "ext4". */
	const char *default_fs_type;
	/* --modify-volume-request-handler-timeout: how long the first
	 * expand/modify request for a volume waits for others to merge with.
	 * <= 0: upstream's 2000 ms. */
	int64_t modify_window_ms;
	/* The zone for a CreateVolume without accessibility_requirements: the
	 * controller's own zone when it runs on EC2 (so `all` mode on one instance
	 * attaches what it creates). NULL or "": spread over the region's zones by
	 * the name's hash. Copied. */
	const char *default_zone;
};

struct controller_service;

/*
 * Returns a new service (never NULL). cfg is copied (strings and tags
 * included); cloud is borrowed and must outlive the service.
 */
struct controller_service *controller_service_new(const struct controller_config *cfg, struct cloud *cloud);

/* Frees svc (not its cloud). NULL is a no-op. No handler may be running. */
void controller_service_free(struct controller_service *svc);

/*
 * Parses --extra-tags ("k1=v1,k2=v2", spaces around keys and values trimmed,
 * "" for none) into out (initialised by the call; dispose it even on
 * failure). Returns 0; -1 with INVALID_ARGUMENT naming the pair: no "=",
 * empty key, or a reserved key (CSIVolumeName, CSIVolumeSnapshotName,
 * ebs.csi.aws.com/cluster-name, kubernetes.io…, ebs.csi.aws.com/…), which
 * upstream refuses at start-up.
 */
int controller_parse_extra_tags(const char *s, struct cloud_tags *out, struct status *st);

/*
 * The handlers. svc is a struct controller_service *; req the matching
 * Csi__V1__<Rpc>Request; *resp receives a heap Csi__V1__<Rpc>Response.
 * Every handler may also answer INVALID_ARGUMENT (a missing or bad field,
 * named), UNAVAILABLE / DEADLINE_EXCEEDED / CANCELLED (EC2 throttling or
 * outages that outlived the call, the caller gone), PERMISSION_DENIED /
 * UNAUTHENTICATED (IAM, credentials) and INTERNAL.
 *   ControllerGetCapabilities: never fails; answers from memory (fast lane).
 *   CreateVolume:   ABORTED (same name in flight), NOT_FOUND (snapshot or
 *                   source volume), ALREADY_EXISTS (the name's volume is
 *                   incompatible), OUT_OF_RANGE (capacity_range cannot be
 *                   met), RESOURCE_EXHAUSTED (quota, capacity, clone source
 *                   outside the requisite topology).
 *   DeleteVolume:   ABORTED, FAILED_PRECONDITION (attached). Gone: OK.
 *   ControllerPublishVolume: ABORTED, NOT_FOUND (volume or node),
 *                   FAILED_PRECONDITION (attached to another node, zone
 *                   mismatch), RESOURCE_EXHAUSTED (attachment limit).
 *   ControllerUnpublishVolume: ABORTED. Not attached / gone: OK.
 *   ValidateVolumeCapabilities: NOT_FOUND; unsupported capabilities are an
 *                   OK answer without `confirmed`.
 *   CreateSnapshot: ABORTED, ALREADY_EXISTS (name used for another volume),
 *                   NOT_FOUND (source volume), RESOURCE_EXHAUSTED.
 *   DeleteSnapshot: ABORTED, FAILED_PRECONDITION (in use by an AMI). Gone: OK.
 *   ListSnapshots:  ABORTED (starting_token not valid). Unknown ids: empty OK.
 *   ControllerExpandVolume / ControllerModifyVolume: NOT_FOUND, OUT_OF_RANGE
 *                   (expand), ABORTED (a conflicting request is being merged,
 *                   or EC2 is still applying another modification),
 *                   RESOURCE_EXHAUSTED (modification quotas).
 */
int controller_get_capabilities(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
				ProtobufCMessage **resp, struct status *st);
int controller_create_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			     ProtobufCMessage **resp, struct status *st);
int controller_delete_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			     ProtobufCMessage **resp, struct status *st);
int controller_publish_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			      ProtobufCMessage **resp, struct status *st);
int controller_unpublish_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
				ProtobufCMessage **resp, struct status *st);
int controller_validate_volume_capabilities(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
					    ProtobufCMessage **resp, struct status *st);
int controller_create_snapshot(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			       ProtobufCMessage **resp, struct status *st);
int controller_delete_snapshot(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			       ProtobufCMessage **resp, struct status *st);
int controller_list_snapshots(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			      ProtobufCMessage **resp, struct status *st);
int controller_expand_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			     ProtobufCMessage **resp, struct status *st);
int controller_modify_volume(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			     ProtobufCMessage **resp, struct status *st);

#endif
