/*
 * controller_caps: ControllerGetCapabilities and ValidateVolumeCapabilities.
 *
 * GetCapabilities answers from memory (it is served in the fast lane): the
 * capabilities upstream advertises (§1.2). ValidateVolumeCapabilities asks
 * EC2 only whether the volume exists (CSI: NOT_FOUND otherwise), then checks
 * the capabilities — and the parameters, when given — against what EBS and
 * this volume can do; "not supported" is an OK answer without `confirmed`
 * and with a message saying why (CSI §ValidateVolumeCapabilities), while a
 * capability missing its access mode or type is a malformed request.
 */
#include "controller/controller_internal.h"

#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int controller_get_capabilities(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
				ProtobufCMessage **resp, struct status *st)
{
	(void)svcp;
	(void)rc;
	(void)reqp;
	(void)st;
	static const Csi__V1__ControllerServiceCapability__RPC__Type caps[] = {
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__PUBLISH_UNPUBLISH_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_SNAPSHOT,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__LIST_SNAPSHOTS,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CLONE_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__MODIFY_VOLUME,
	};
	size_t n = sizeof caps / sizeof caps[0];
	Csi__V1__ControllerGetCapabilitiesResponse *r = xmalloc(sizeof *r);
	csi__v1__controller_get_capabilities_response__init(r);
	r->capabilities = xcalloc(n, sizeof *r->capabilities);
	for (size_t i = 0; i < n; i++) {
		Csi__V1__ControllerServiceCapability *c = xmalloc(sizeof *c);
		csi__v1__controller_service_capability__init(c);
		c->type_case = CSI__V1__CONTROLLER_SERVICE_CAPABILITY__TYPE_RPC;
		c->rpc = xmalloc(sizeof *c->rpc);
		csi__v1__controller_service_capability__rpc__init(c->rpc);
		c->rpc->type = caps[i];
		r->capabilities[r->n_capabilities++] = c;
	}
	*resp = &r->base;
	return 0;
}

/* Copies a request map into a Confirmed map of the same entry shape. */
#define COPY_MAP(dst_n, dst, src_n, src, type, init)                                 \
	do {                                                                          \
		(dst) = xcalloc((src_n) ? (src_n) : 1, sizeof *(dst));                \
		for (size_t i_ = 0; i_ < (src_n); i_++) {                             \
			type *e_ = xmalloc(sizeof *e_);                               \
			init(e_);                                                     \
			e_->key = controller_strdup((src)[i_]->key);                  \
			e_->value = controller_strdup((src)[i_]->value);              \
			(dst)[(dst_n)++] = e_;                                        \
		}                                                                     \
	} while (0)

static Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed *
confirmed_msg(const Csi__V1__ValidateVolumeCapabilitiesRequest *req)
{
	Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed *c = xmalloc(sizeof *c);
	csi__v1__validate_volume_capabilities_response__confirmed__init(c);
	c->volume_capabilities = xcalloc(req->n_volume_capabilities, sizeof *c->volume_capabilities);
	for (size_t i = 0; i < req->n_volume_capabilities; i++)
		c->volume_capabilities[c->n_volume_capabilities++] =
			(Csi__V1__VolumeCapability *)controller_msg_copy(&req->volume_capabilities[i]->base);
	COPY_MAP(c->n_volume_context, c->volume_context, req->n_volume_context, req->volume_context,
		 Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__VolumeContextEntry,
		 csi__v1__validate_volume_capabilities_response__confirmed__volume_context_entry__init);
	COPY_MAP(c->n_parameters, c->parameters, req->n_parameters, req->parameters,
		 Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__ParametersEntry,
		 csi__v1__validate_volume_capabilities_response__confirmed__parameters_entry__init);
	COPY_MAP(c->n_mutable_parameters, c->mutable_parameters, req->n_mutable_parameters, req->mutable_parameters,
		 Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__MutableParametersEntry,
		 csi__v1__validate_volume_capabilities_response__confirmed__mutable_parameters_entry__init);
	return c;
}

/* Whether the request can be confirmed for d; *why says why not. */
static bool supported(struct controller_service *svc, const Csi__V1__ValidateVolumeCapabilitiesRequest *req,
		      const struct cloud_disk *d, struct status *why)
{
	struct kvmap params = { 0 }, mparams = { 0 };
	struct controller_volume_params p = { 0 };
	bool ok = true;
	KVMAP_VIEW(&params, req->n_parameters, req->parameters);
	KVMAP_VIEW(&mparams, req->n_mutable_parameters, req->mutable_parameters);
	if (controller_parse_volume_params(&params, &mparams, &p, why) < 0)
		ok = false;
	for (size_t i = 0; ok && i < req->n_volume_capabilities; i++) {
		char field[48];
		snprintf(field, sizeof field, "volume_capabilities[%zu]", i);
		struct controller_cap cap;
		if (controller_check_capability(req->volume_capabilities[i], field, &cap, why) < 0) {
			ok = false;
		} else if (cap.multi_node && !d->multi_attach) {
			ok = status_set(why, STATUS_INVALID_ARGUMENT,
					"%s: MULTI_NODE_MULTI_WRITER needs a multi-attach volume; %s is not one", field,
					d->volume_id) == 0;
		} else {
			const char *fs = cap.fs_type && cap.fs_type[0] ? cap.fs_type : svc->default_fs_type;
			ok = controller_check_fmt_for_fs(&p, cap.block, fs, field, why) == 0;
		}
	}
	kvmap_dispose(&params);
	kvmap_dispose(&mparams);
	controller_volume_params_dispose(&p);
	return ok;
}

int controller_validate_volume_capabilities(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
					    ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__ValidateVolumeCapabilitiesRequest *req = (const Csi__V1__ValidateVolumeCapabilitiesRequest *)reqp;
	struct cloud_disk d = { 0 };
	int ret = -1;

	if (controller_check_required(req->volume_id, "volume_id", st) < 0)
		goto out;
	if (req->n_volume_capabilities == 0) {
		status_set(st, STATUS_INVALID_ARGUMENT, "volume_capabilities is required");
		goto out;
	}
	for (size_t i = 0; i < req->n_volume_capabilities; i++) {
		const Csi__V1__VolumeCapability *c = req->volume_capabilities[i];
		if (c == NULL || c->access_mode == NULL ||
		    c->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE__NOT_SET) {
			status_set(st, STATUS_INVALID_ARGUMENT, "volume_capabilities[%zu]: access_mode and access_type are required",
				   i);
			goto out;
		}
	}
	if (!controller_id_valid(req->volume_id, "vol-")) {
		status_set(st, STATUS_NOT_FOUND, "volume %s does not exist", req->volume_id);
		goto out;
	}
	if (cloud_get_disk(svc->cloud, rc, req->volume_id, &d, st) < 0) {
		controller_fail(st, "look up volume %s", req->volume_id);
		goto out;
	}
	struct status why = STATUS_INIT;
	Csi__V1__ValidateVolumeCapabilitiesResponse *r = xmalloc(sizeof *r);
	csi__v1__validate_volume_capabilities_response__init(r);
	if (supported(svc, req, &d, &why))
		r->confirmed = confirmed_msg(req);
	else
		r->message = controller_strdup(why.msg);
	*resp = &r->base;
	ret = 0;
out:
	cloud_disk_dispose(&d);
	return ret;
}
