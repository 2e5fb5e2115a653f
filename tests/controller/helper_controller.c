/*
 * helper_controller: controller service fixtures and CSI request builders.
 * See helper_controller.h. Every builder allocates with malloc so that a
 * request can be freed with protobuf_c_message_free_unpacked like an
 * unpacked one.
 */
#include "tests/controller/helper_controller.h"

#include "common/xalloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct ctl_fx *ctl_fx_new(void)
{
	struct ctl_fx *fx = xcalloc(1, sizeof *fx);
	fx->fake = cloud_fake_new();
	cloud_fake_add_instance(fx->fake, CT_NODE1, "us-east-1a", NULL);
	cloud_fake_add_instance(fx->fake, CT_NODE2, "us-east-1a", NULL);
	cloud_fake_add_instance(fx->fake, CT_NODE3, "us-east-1b", NULL);
	cloud_tags_init(&fx->extra);
	fx->cfg.extra_tags = &fx->extra;
	fx->cfg.modify_window_ms = 30;
	fx->svc = controller_service_new(&fx->cfg, cloud_fake_cloud(fx->fake));
	return fx;
}

void ctl_fx_restart(struct ctl_fx *fx)
{
	controller_service_free(fx->svc);
	fx->svc = controller_service_new(&fx->cfg, cloud_fake_cloud(fx->fake));
}

void ctl_fx_free(struct ctl_fx *fx)
{
	if (fx == NULL)
		return;
	controller_service_free(fx->svc);
	cloud_fake_free(fx->fake);
	cloud_tags_dispose(&fx->extra);
	free(fx);
}

/* ---- builders -------------------------------------------------------------------- */

static Csi__V1__VolumeCapability *cap_new(int mode)
{
	Csi__V1__VolumeCapability *c = xmalloc(sizeof *c);
	csi__v1__volume_capability__init(c);
	c->access_mode = xmalloc(sizeof *c->access_mode);
	csi__v1__volume_capability__access_mode__init(c->access_mode);
	c->access_mode->mode = (Csi__V1__VolumeCapability__AccessMode__Mode)mode;
	return c;
}

Csi__V1__VolumeCapability *ct_cap_mount(const char *fstype, int mode)
{
	Csi__V1__VolumeCapability *c = cap_new(mode);
	c->access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT;
	c->mount = xmalloc(sizeof *c->mount);
	csi__v1__volume_capability__mount_volume__init(c->mount);
	if (fstype != NULL)
		c->mount->fs_type = xstrdup(fstype);
	return c;
}

Csi__V1__VolumeCapability *ct_cap_block(int mode)
{
	Csi__V1__VolumeCapability *c = cap_new(mode);
	c->access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
	c->block = xmalloc(sizeof *c->block);
	csi__v1__volume_capability__block_volume__init(c->block);
	return c;
}

/* Appends an entry to a map field; init initialises the entry type. */
#define ADD_ENTRY(n, arr, type, init, k, v)                                   \
	do {                                                                  \
		type *e_ = xmalloc(sizeof *e_);                               \
		init(e_);                                                     \
		e_->key = xstrdup(k);                                         \
		e_->value = xstrdup(v);                                       \
		(arr) = xrealloc((arr), ((n) + 1) * sizeof *(arr));           \
		(arr)[(n)++] = e_;                                            \
	} while (0)

Csi__V1__CreateVolumeRequest *ct_create_req(const char *name, int64_t required, int64_t limit,
					    Csi__V1__VolumeCapability *cap)
{
	Csi__V1__CreateVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__create_volume_request__init(r);
	if (name != NULL)
		r->name = xstrdup(name);
	if (required || limit) {
		r->capacity_range = xmalloc(sizeof *r->capacity_range);
		csi__v1__capacity_range__init(r->capacity_range);
		r->capacity_range->required_bytes = required;
		r->capacity_range->limit_bytes = limit;
	}
	if (cap != NULL)
		ct_create_cap(r, cap);
	return r;
}

void ct_create_cap(Csi__V1__CreateVolumeRequest *r, Csi__V1__VolumeCapability *cap)
{
	r->volume_capabilities = xrealloc(r->volume_capabilities, (r->n_volume_capabilities + 1) * sizeof(void *));
	r->volume_capabilities[r->n_volume_capabilities++] = cap;
}

void ct_create_param(Csi__V1__CreateVolumeRequest *r, const char *key, const char *value)
{
	ADD_ENTRY(r->n_parameters, r->parameters, Csi__V1__CreateVolumeRequest__ParametersEntry,
		  csi__v1__create_volume_request__parameters_entry__init, key, value);
}

void ct_create_mparam(Csi__V1__CreateVolumeRequest *r, const char *key, const char *value)
{
	ADD_ENTRY(r->n_mutable_parameters, r->mutable_parameters, Csi__V1__CreateVolumeRequest__MutableParametersEntry,
		  csi__v1__create_volume_request__mutable_parameters_entry__init, key, value);
}

void ct_create_topology(Csi__V1__CreateVolumeRequest *r, bool preferred, const char *key, const char *value)
{
	if (r->accessibility_requirements == NULL) {
		r->accessibility_requirements = xmalloc(sizeof *r->accessibility_requirements);
		csi__v1__topology_requirement__init(r->accessibility_requirements);
	}
	Csi__V1__TopologyRequirement *tr = r->accessibility_requirements;
	Csi__V1__Topology *t = xmalloc(sizeof *t);
	csi__v1__topology__init(t);
	ADD_ENTRY(t->n_segments, t->segments, Csi__V1__Topology__SegmentsEntry, csi__v1__topology__segments_entry__init,
		  key, value);
	if (preferred) {
		tr->preferred = xrealloc(tr->preferred, (tr->n_preferred + 1) * sizeof(void *));
		tr->preferred[tr->n_preferred++] = t;
	} else {
		tr->requisite = xrealloc(tr->requisite, (tr->n_requisite + 1) * sizeof(void *));
		tr->requisite[tr->n_requisite++] = t;
	}
}

void ct_create_source_snapshot(Csi__V1__CreateVolumeRequest *r, const char *snapshot_id)
{
	r->volume_content_source = xmalloc(sizeof *r->volume_content_source);
	csi__v1__volume_content_source__init(r->volume_content_source);
	r->volume_content_source->type_case = CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_SNAPSHOT;
	r->volume_content_source->snapshot = xmalloc(sizeof *r->volume_content_source->snapshot);
	csi__v1__volume_content_source__snapshot_source__init(r->volume_content_source->snapshot);
	r->volume_content_source->snapshot->snapshot_id = xstrdup(snapshot_id);
}

void ct_create_source_volume(Csi__V1__CreateVolumeRequest *r, const char *volume_id)
{
	r->volume_content_source = xmalloc(sizeof *r->volume_content_source);
	csi__v1__volume_content_source__init(r->volume_content_source);
	r->volume_content_source->type_case = CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_VOLUME;
	r->volume_content_source->volume = xmalloc(sizeof *r->volume_content_source->volume);
	csi__v1__volume_content_source__volume_source__init(r->volume_content_source->volume);
	r->volume_content_source->volume->volume_id = xstrdup(volume_id);
}

Csi__V1__DeleteVolumeRequest *ct_delete_req(const char *volume_id)
{
	Csi__V1__DeleteVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__delete_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	return r;
}

Csi__V1__ControllerPublishVolumeRequest *ct_publish_req(const char *volume_id, const char *node_id,
							 Csi__V1__VolumeCapability *cap)
{
	Csi__V1__ControllerPublishVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__controller_publish_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	if (node_id)
		r->node_id = xstrdup(node_id);
	r->volume_capability = cap;
	return r;
}

Csi__V1__ControllerUnpublishVolumeRequest *ct_unpublish_req(const char *volume_id, const char *node_id)
{
	Csi__V1__ControllerUnpublishVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__controller_unpublish_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	if (node_id)
		r->node_id = xstrdup(node_id);
	return r;
}

Csi__V1__CreateSnapshotRequest *ct_snapshot_req(const char *name, const char *volume_id)
{
	Csi__V1__CreateSnapshotRequest *r = xmalloc(sizeof *r);
	csi__v1__create_snapshot_request__init(r);
	if (name)
		r->name = xstrdup(name);
	if (volume_id)
		r->source_volume_id = xstrdup(volume_id);
	return r;
}

void ct_snapshot_param(Csi__V1__CreateSnapshotRequest *r, const char *key, const char *value)
{
	ADD_ENTRY(r->n_parameters, r->parameters, Csi__V1__CreateSnapshotRequest__ParametersEntry,
		  csi__v1__create_snapshot_request__parameters_entry__init, key, value);
}

Csi__V1__DeleteSnapshotRequest *ct_delete_snapshot_req(const char *snapshot_id)
{
	Csi__V1__DeleteSnapshotRequest *r = xmalloc(sizeof *r);
	csi__v1__delete_snapshot_request__init(r);
	if (snapshot_id)
		r->snapshot_id = xstrdup(snapshot_id);
	return r;
}

Csi__V1__ListSnapshotsRequest *ct_list_req(int max_entries, const char *token, const char *volume_id,
					   const char *snapshot_id)
{
	Csi__V1__ListSnapshotsRequest *r = xmalloc(sizeof *r);
	csi__v1__list_snapshots_request__init(r);
	r->max_entries = max_entries;
	if (token)
		r->starting_token = xstrdup(token);
	if (volume_id)
		r->source_volume_id = xstrdup(volume_id);
	if (snapshot_id)
		r->snapshot_id = xstrdup(snapshot_id);
	return r;
}

Csi__V1__ControllerExpandVolumeRequest *ct_expand_req(const char *volume_id, int64_t required, int64_t limit,
						      Csi__V1__VolumeCapability *cap)
{
	Csi__V1__ControllerExpandVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__controller_expand_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	if (required || limit) {
		r->capacity_range = xmalloc(sizeof *r->capacity_range);
		csi__v1__capacity_range__init(r->capacity_range);
		r->capacity_range->required_bytes = required;
		r->capacity_range->limit_bytes = limit;
	}
	r->volume_capability = cap;
	return r;
}

Csi__V1__ControllerModifyVolumeRequest *ct_modify_req(const char *volume_id)
{
	Csi__V1__ControllerModifyVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__controller_modify_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	return r;
}

void ct_modify_param(Csi__V1__ControllerModifyVolumeRequest *r, const char *key, const char *value)
{
	ADD_ENTRY(r->n_mutable_parameters, r->mutable_parameters,
		  Csi__V1__ControllerModifyVolumeRequest__MutableParametersEntry,
		  csi__v1__controller_modify_volume_request__mutable_parameters_entry__init, key, value);
}

/* ---- calls ----------------------------------------------------------------------- */

static ProtobufCMessage *roundtrip(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = xmalloc(len ? len : 1);
	assert_int_equal(protobuf_c_message_pack(msg, buf), len);
	ProtobufCMessage *copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
	free(buf);
	assert_non_null(copy);
	return copy;
}

ProtobufCMessage *ctl_call(ct_handler handler, void *svc, ProtobufCMessage *req,
			   const ProtobufCMessageDescriptor *resp_desc, struct status *st)
{
	ProtobufCMessage *wire_req = roundtrip(req);
	protobuf_c_message_free_unpacked(req, NULL);
	struct rpc_ctx rc = { .method = "test", .deadline_ms = rpc_now_ms() + 10000, .cancelled = NULL };
	ProtobufCMessage *resp = NULL;
	status_clear(st);
	int r = handler(svc, &rc, wire_req, &resp, st);
	/* Freed before the response is read: a response pointing into the
	 * request is a use-after-free ASan reports. */
	protobuf_c_message_free_unpacked(wire_req, NULL);
	if (r != 0) {
		assert_int_equal(r, -1);
		assert_null(resp);
		assert_int_not_equal(st->code, STATUS_OK);
		assert_true(st->msg[0] != '\0');
		return NULL;
	}
	assert_int_equal(st->code, STATUS_OK);
	assert_non_null(resp);
	assert_ptr_equal(resp->descriptor, resp_desc);
	assert_true(protobuf_c_message_check(resp));
	ProtobufCMessage *copy = roundtrip(resp);
	protobuf_c_message_free_unpacked(resp, NULL);
	return copy;
}

int ctl_code(ct_handler handler, void *svc, ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
	     struct status *st)
{
	ProtobufCMessage *resp = ctl_call(handler, svc, req, resp_desc, st);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	return st->code;
}

Csi__V1__CreateVolumeResponse *ct_create(struct ctl_fx *fx, Csi__V1__CreateVolumeRequest *req, struct status *st)
{
	return (Csi__V1__CreateVolumeResponse *)ctl_call(controller_create_volume, fx->svc, &req->base,
							 &csi__v1__create_volume_response__descriptor, st);
}

char *ct_make_volume(struct ctl_fx *fx, const char *name)
{
	struct status st;
	Csi__V1__CreateVolumeRequest *q = ct_create_req(name, 10 * CT_GIB, 0, ct_cap_mount("ext4", CT_SNW));
	ct_create_topology(q, true, "topology.kubernetes.io/zone", "us-east-1a");
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	if (r == NULL)
		fail_msg("create %s: %s", name, st.msg);
	char *id = xstrdup(r->volume->volume_id);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return id;
}
