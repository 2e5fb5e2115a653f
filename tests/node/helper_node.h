/*
 * helper_node: fixtures for the node service tests — a service on a mounter
 * (the fake, or the Linux one), a temporary by-id directory whose links make
 * devices provably a volume, CSI request builders, and a call wrapper that
 * goes through the wire format both ways.
 *
 * node_call() packs the request and hands the handler a freshly unpacked
 * copy, as the server does; it frees that copy before packing the response,
 * then frees the response with protobuf_c_message_free_unpacked() and returns
 * a re-unpacked copy for the test to inspect. So under ASan a response field
 * pointing into the request, at a literal, or left half-built fails the test.
 * Nothing here is used by production code.
 */
#ifndef EBS_TESTS_NODE_HELPER_NODE_H
#define EBS_TESTS_NODE_HELPER_NODE_H

#include "common/status.h"
#include "node/mounter.h"
#include "node/node.h"

#include "csi.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

/* Volume ids the tests use (valid EBS ids). */
#define NT_VOL1 "vol-0123456789abcdef0"
#define NT_VOL2 "vol-0fedcba9876543210"
#define NT_VOL3 "vol-01234567"

struct node_fx {
	char root[128];      /* temp dir holding everything below */
	char by_id[192];     /* <root>/by-id */
	char sys[192];       /* <root>/sys (empty: no NVMe serials) */
	char kubelet[192];   /* <root>/kubelet: paths the requests use live here */
	struct mounter *m;   /* the fake unless a test made another */
	struct node_service *svc;
	struct node_config cfg;
};

/* Makes the temp tree, a fake mounter and a service with cfg defaults
 * (instance i-0abc… in us-east-1a, m5.large, kubelet root set). Returns NULL
 * on failure. */
struct node_fx *node_fx_new(void);
/* Rebuilds the service from fx->cfg (after a test changed it). */
void node_fx_restart(struct node_fx *fx);
void node_fx_free(struct node_fx *fx);

/* <kubelet>/<rel> into a static rotating buffer (8 slots). */
const char *node_fx_path(const struct node_fx *fx, const char *rel);

/* Links <by_id>/nvme-Amazon_Elastic_Block_Store_<serial of vol><suffix> to
 * device. Returns 0 or -1. */
int node_fx_link(const struct node_fx *fx, const char *volume_id, const char *device);

/* Whether /dev/loop0…/dev/loop3 exist as block nodes (link targets for fake
 * devices); prints a SKIP line and returns false if not. */
bool node_fx_have_block_nodes(void);

/* ---- request builders (heap messages; free with protobuf_c_message_free_unpacked) ---- */

Csi__V1__VolumeCapability *nt_cap_mount(const char *fstype, int mode, const char *const *flags);
Csi__V1__VolumeCapability *nt_cap_block(int mode);

Csi__V1__NodeStageVolumeRequest *nt_stage_req(const char *volume_id, const char *staging,
					      Csi__V1__VolumeCapability *cap);
/* Adds key=value to the request's volume_context / publish_context. */
void nt_stage_ctx(Csi__V1__NodeStageVolumeRequest *r, const char *key, const char *value);
void nt_stage_pctx(Csi__V1__NodeStageVolumeRequest *r, const char *key, const char *value);
Csi__V1__NodeUnstageVolumeRequest *nt_unstage_req(const char *volume_id, const char *staging);
Csi__V1__NodePublishVolumeRequest *nt_publish_req(const char *volume_id, const char *staging, const char *target,
						  Csi__V1__VolumeCapability *cap, bool readonly);
void nt_publish_ctx(Csi__V1__NodePublishVolumeRequest *r, const char *key, const char *value);
void nt_publish_pctx(Csi__V1__NodePublishVolumeRequest *r, const char *key, const char *value);
Csi__V1__NodeUnpublishVolumeRequest *nt_unpublish_req(const char *volume_id, const char *target);
Csi__V1__NodeExpandVolumeRequest *nt_expand_req(const char *volume_id, const char *path, const char *staging,
						Csi__V1__VolumeCapability *cap, long long required);
Csi__V1__NodeGetVolumeStatsRequest *nt_stats_req(const char *volume_id, const char *path);

/*
 * Calls handler on svc with a wire round trip of req (which is freed).
 * Returns the re-unpacked response (of resp_desc; free with
 * protobuf_c_message_free_unpacked) and st OK, or NULL with st set by the
 * handler. Fails the test on a malformed response or when a failed handler
 * left *resp set.
 */
ProtobufCMessage *node_call(int (*handler)(void *, const struct rpc_ctx *, const ProtobufCMessage *,
					   ProtobufCMessage **, struct status *),
			    void *svc, ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
			    struct status *st);

/* node_call for handlers whose response is empty: returns the status code. */
int node_call_code(int (*handler)(void *, const struct rpc_ctx *, const ProtobufCMessage *, ProtobufCMessage **,
				  struct status *),
		   void *svc, ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc, struct status *st);

#endif
