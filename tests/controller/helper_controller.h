/*
 * helper_controller: fixtures for the controller service tests — a service on
 * the fake cloud (us-east-1a/b/c, two instances), CSI request builders, and a
 * call wrapper that goes through the wire format both ways.
 *
 * ctl_call() packs the request and hands the handler a freshly unpacked copy,
 * as the server does; it frees that copy before packing the response, then
 * frees the response with protobuf_c_message_free_unpacked() and returns a
 * re-unpacked copy for the test to inspect. So under ASan a response field
 * pointing into the request, at a literal, or left half-built fails the test.
 * Nothing here is used by production code.
 */
#ifndef EBS_TESTS_CONTROLLER_HELPER_CONTROLLER_H
#define EBS_TESTS_CONTROLLER_HELPER_CONTROLLER_H

#include "cloud/cloud_fake.h"
#include "common/status.h"
#include "controller/controller.h"

#include "csi.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_NODE1 "i-0123456789abcdef0"  /* us-east-1a */
#define CT_NODE2 "i-0fedcba9876543210"  /* us-east-1a */
#define CT_NODE3 "i-0aaaaaaaaaaaaaaa1"  /* us-east-1b */
#define CT_GIB (INT64_C(1) << 30)

struct ctl_fx {
	struct cloud_fake *fake;
	struct controller_service *svc;
	struct controller_config cfg;
	struct cloud_tags extra;  /* cfg.extra_tags points here */
};

/* A fake cloud with three zones and the three nodes, and a service with
 * default configuration (modify window 30 ms). */
struct ctl_fx *ctl_fx_new(void);
/* Rebuilds the service from fx->cfg on the same cloud: a driver restart. */
void ctl_fx_restart(struct ctl_fx *fx);
void ctl_fx_free(struct ctl_fx *fx);

/* ---- request builders (heap messages; free with protobuf_c_message_free_unpacked) ---- */

Csi__V1__VolumeCapability *ct_cap_mount(const char *fstype, int mode);
Csi__V1__VolumeCapability *ct_cap_block(int mode);
#define CT_SNW CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER
#define CT_MNMW CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER

/* name, capacity (both 0: no capacity_range), one capability (cap NULL:
 * none). */
Csi__V1__CreateVolumeRequest *ct_create_req(const char *name, int64_t required, int64_t limit,
					    Csi__V1__VolumeCapability *cap);
void ct_create_param(Csi__V1__CreateVolumeRequest *r, const char *key, const char *value);
void ct_create_mparam(Csi__V1__CreateVolumeRequest *r, const char *key, const char *value);
void ct_create_cap(Csi__V1__CreateVolumeRequest *r, Csi__V1__VolumeCapability *cap);
/* Adds a topology {key: value} to preferred (or requisite). */
void ct_create_topology(Csi__V1__CreateVolumeRequest *r, bool preferred, const char *key, const char *value);
void ct_create_source_snapshot(Csi__V1__CreateVolumeRequest *r, const char *snapshot_id);
void ct_create_source_volume(Csi__V1__CreateVolumeRequest *r, const char *volume_id);

Csi__V1__DeleteVolumeRequest *ct_delete_req(const char *volume_id);
Csi__V1__ControllerPublishVolumeRequest *ct_publish_req(const char *volume_id, const char *node_id,
							 Csi__V1__VolumeCapability *cap);
Csi__V1__ControllerUnpublishVolumeRequest *ct_unpublish_req(const char *volume_id, const char *node_id);
Csi__V1__CreateSnapshotRequest *ct_snapshot_req(const char *name, const char *volume_id);
void ct_snapshot_param(Csi__V1__CreateSnapshotRequest *r, const char *key, const char *value);
Csi__V1__DeleteSnapshotRequest *ct_delete_snapshot_req(const char *snapshot_id);
Csi__V1__ListSnapshotsRequest *ct_list_req(int max_entries, const char *token, const char *volume_id,
					   const char *snapshot_id);
Csi__V1__ControllerExpandVolumeRequest *ct_expand_req(const char *volume_id, int64_t required, int64_t limit,
						      Csi__V1__VolumeCapability *cap);
Csi__V1__ControllerModifyVolumeRequest *ct_modify_req(const char *volume_id);
void ct_modify_param(Csi__V1__ControllerModifyVolumeRequest *r, const char *key, const char *value);

typedef int (*ct_handler)(void *, const struct rpc_ctx *, const ProtobufCMessage *, ProtobufCMessage **,
			  struct status *);

/*
 * Calls handler on svc with a wire round trip of req (which is freed) and a
 * 10 s deadline. Returns the re-unpacked response (of resp_desc; free with
 * protobuf_c_message_free_unpacked) and st OK, or NULL with st set by the
 * handler. Fails the test on a malformed response or when a failed handler
 * left *resp set or its message empty.
 */
ProtobufCMessage *ctl_call(ct_handler handler, void *svc, ProtobufCMessage *req,
			   const ProtobufCMessageDescriptor *resp_desc, struct status *st);
/* ctl_call that frees the response and returns the status code. */
int ctl_code(ct_handler handler, void *svc, ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
	     struct status *st);

/* Typed shortcuts. */
Csi__V1__CreateVolumeResponse *ct_create(struct ctl_fx *fx, Csi__V1__CreateVolumeRequest *req, struct status *st);
/* Creates a 10 GiB gp3 volume named name in us-east-1a (where CT_NODE1 and
 * CT_NODE2 are) and returns its id (heap). */
char *ct_make_volume(struct ctl_fx *fx, const char *name);

/* The value of key in a map field (repeated entries with key/value), or NULL. */
#define CT_MAP_GET(n, entries, k)                                                   \
	({                                                                          \
		const char *v_ = NULL;                                              \
		for (size_t i_ = 0; i_ < (n); i_++)                                 \
			if (strcmp((entries)[i_]->key, (k)) == 0)                   \
				v_ = (entries)[i_]->value;                          \
		v_;                                                                 \
	})

#endif
