/*
 * identity: CSI Identity service. See identity.h.
 * Responses are built entirely on the heap (strings duplicated) because the
 * server frees them with protobuf_c_message_free_unpacked().
 */
#include "csi-proto/identity.h"

#include "common/xalloc.h"
#include "csi.pb-c.h"

int identity_get_plugin_info(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			     ProtobufCMessage **resp, struct status *st)
{
	(void)rc;
	(void)req;
	(void)st;
	const struct identity *id = svc;
	Csi__V1__GetPluginInfoResponse *r = xmalloc(sizeof *r);
	csi__v1__get_plugin_info_response__init(r);
	r->name = xstrdup(id->name);
	r->vendor_version = xstrdup(id->version);
	*resp = &r->base;
	return 0;
}

static Csi__V1__PluginCapability *service_cap(Csi__V1__PluginCapability__Service__Type type)
{
	Csi__V1__PluginCapability *c = xmalloc(sizeof *c);
	csi__v1__plugin_capability__init(c);
	c->type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_SERVICE;
	c->service = xmalloc(sizeof *c->service);
	csi__v1__plugin_capability__service__init(c->service);
	c->service->type = type;
	return c;
}

int identity_get_plugin_capabilities(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
				     ProtobufCMessage **resp, struct status *st)
{
	(void)rc;
	(void)req;
	(void)st;
	const struct identity *id = svc;
	Csi__V1__GetPluginCapabilitiesResponse *r = xmalloc(sizeof *r);
	csi__v1__get_plugin_capabilities_response__init(r);
	r->capabilities = xcalloc(3, sizeof *r->capabilities);
	/* The spec lets a node-only plugin omit CONTROLLER_SERVICE; the CO then
	 * never sends controller RPCs to it. */
	if (id->controller)
		r->capabilities[r->n_capabilities++] =
			service_cap(CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__CONTROLLER_SERVICE);
	/* Volumes are zonal: both services report topology (spec §Topology). */
	r->capabilities[r->n_capabilities++] =
		service_cap(CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__VOLUME_ACCESSIBILITY_CONSTRAINTS);
	/* EBS volumes grow while attached and mounted: ONLINE expansion. */
	Csi__V1__PluginCapability *ve = xmalloc(sizeof *ve);
	csi__v1__plugin_capability__init(ve);
	ve->type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_VOLUME_EXPANSION;
	ve->volume_expansion = xmalloc(sizeof *ve->volume_expansion);
	csi__v1__plugin_capability__volume_expansion__init(ve->volume_expansion);
	ve->volume_expansion->type = CSI__V1__PLUGIN_CAPABILITY__VOLUME_EXPANSION__TYPE__ONLINE;
	r->capabilities[r->n_capabilities++] = ve;
	*resp = &r->base;
	return 0;
}

int identity_probe(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		   struct status *st)
{
	(void)rc;
	(void)req;
	const struct identity *id = svc;
	if (id->health != NULL && id->health(id->health_ctx, st) != 0)
		return -1;
	Csi__V1__ProbeResponse *r = xmalloc(sizeof *r);
	csi__v1__probe_response__init(r);
	r->ready = xmalloc(sizeof *r->ready);
	google__protobuf__bool_value__init(r->ready);
	r->ready->value = 1;
	*resp = &r->base;
	return 0;
}
