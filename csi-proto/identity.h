/*
 * identity: the CSI Identity service (GetPluginInfo, GetPluginCapabilities,
 * Probe). It answers from memory — the fast lane — except Probe, which asks the
 * optional health callback (the cloud client's check once it exists) and
 * otherwise reports ready. The struct is configured once at start-up and only
 * read afterwards, so handlers need no lock.
 */
#ifndef EBS_CSIPROTO_IDENTITY_H
#define EBS_CSIPROTO_IDENTITY_H

#include "common/rpc.h"
#include "common/status.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#define IDENTITY_DRIVER_NAME "ebs.csi.aws.com"

struct identity {
	const char *name;           /* IDENTITY_DRIVER_NAME */
	const char *version;        /* vendor_version */
	bool controller;            /* advertise CONTROLLER_SERVICE */
	/* Returns 0 when ready, -1 with st set (the code becomes Probe's status:
	 * UNAVAILABLE while a dependency is unreachable). NULL: always ready. */
	int (*health)(void *ctx, struct status *st);
	void *health_ctx;
};

/* csi_handler_fn implementations; svc is a struct identity *. Each returns 0
 * with a heap response, or -1 with st set (only Probe can fail). */
int identity_get_plugin_info(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			     ProtobufCMessage **resp, struct status *st);
int identity_get_plugin_capabilities(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
				     ProtobufCMessage **resp, struct status *st);
int identity_probe(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		   struct status *st);

#endif
