/*
 * controller_publish: ControllerPublishVolume and ControllerUnpublishVolume —
 * attaching an EBS volume to the instance that is the node, and detaching it.
 *
 * node_id is the EC2 instance id (NodeGetInfo). The cloud's attach_disk does
 * the EC2 work: device name choice, no AttachVolume when the volume is
 * already attached (or attaching) here — so a retry gets the same devicePath
 * — and the wait for `attached`. ReadWriteOnce is EC2's own rule (VolumeInUse
 * unless io2 multi-attach), answered FAILED_PRECONDITION as the CSI spec
 * asks (upstream answers INTERNAL). The in-flight key is volume+node, as
 * upstream's: two publishes of one volume to two nodes run side by side and
 * EC2 lets exactly one win, instead of one of them getting ABORTED.
 * Unpublish: not attached, unknown volume or unknown node all mean "already
 * unpublished" (CSI: MUST answer OK); an empty node_id detaches from every
 * instance (CSI: "MUST unpublish the volume from all nodes").
 */
#include "controller/controller_internal.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* blockAttachUntilInitialized (upstream §6.19): hold the publish until a
 * volume restored from a snapshot has hydrated, polling with backoff within
 * the call's deadline. */
static int wait_initialized(struct controller_service *svc, const struct rpc_ctx *rc, const char *volume_id,
			    struct status *st)
{
	int64_t delay = 250;
	for (;;) {
		struct cloud_volume_status vs;
		int r = cloud_get_volume_status(svc->cloud, rc, volume_id, &vs, st);
		bool initializing = vs.initializing;
		cloud_volume_status_dispose(&vs);
		if (r < 0)
			return controller_fail(st, "status of volume %s", volume_id);
		if (!initializing)
			return 0;
		if (!controller_sleep(rc, delay))
			return status_set(st, STATUS_DEADLINE_EXCEEDED, "volume %s is still initializing", volume_id);
		delay = delay * 2 > 10000 ? 10000 : delay * 2;
	}
}

int controller_publish_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			      ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__ControllerPublishVolumeRequest *req = (const Csi__V1__ControllerPublishVolumeRequest *)reqp;
	struct kvmap vc = { 0 };
	struct cloud_attachment att = { 0 };
	char *key = NULL;
	int ret = -1;

	if (controller_check_required(req->volume_id, "volume_id", st) < 0 ||
	    controller_check_required(req->node_id, "node_id", st) < 0 ||
	    controller_check_capability(req->volume_capability, "volume_capability", NULL, st) < 0)
		goto out;
	KVMAP_VIEW(&vc, req->n_volume_context, req->volume_context);
	const char *bau = kvmap_get(&vc, "blockAttachUntilInitialized");
	bool wait_init = bau != NULL && strcasecmp(bau, "true") == 0;
	/* Ids EC2 would call malformed cannot exist: CSI wants NOT_FOUND. */
	if (!controller_id_valid(req->volume_id, "vol-")) {
		status_set(st, STATUS_NOT_FOUND, "volume %s does not exist", req->volume_id);
		goto out;
	}
	if (!controller_id_valid(req->node_id, "i-")) {
		status_set(st, STATUS_NOT_FOUND, "node %s does not exist (node ids are EC2 instance ids)", req->node_id);
		goto out;
	}
	key = xasprintf("%s/%s", req->volume_id, req->node_id);
	if (controller_acquire(svc, "publish", key, st) < 0) {
		free(key);
		key = NULL;
		goto out;
	}

	bool already = false;
	if (cloud_attach_disk(svc->cloud, rc, req->volume_id, req->node_id, &att, &already, st) < 0) {
		controller_fail(st, "attach volume %s to node %s", req->volume_id, req->node_id);
		goto out;
	}
	if (att.device == NULL || att.device[0] == '\0') {
		status_set(st, STATUS_INTERNAL, "attach volume %s to node %s: EC2 reported no device name", req->volume_id,
			   req->node_id);
		goto out;
	}
	if (already)
		log_v(2, "volume %s is already attached to %s at %s", req->volume_id, req->node_id, att.device);
	else
		log_info("volume %s attached to %s at %s", req->volume_id, req->node_id, att.device);
	if (wait_init && wait_initialized(svc, rc, req->volume_id, st) < 0)
		goto out;

	Csi__V1__ControllerPublishVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__controller_publish_volume_response__init(r);
	Csi__V1__ControllerPublishVolumeResponse__PublishContextEntry *e = xmalloc(sizeof *e);
	csi__v1__controller_publish_volume_response__publish_context_entry__init(e);
	e->key = controller_strdup("devicePath");
	e->value = controller_strdup(att.device);
	r->publish_context = xmalloc(sizeof *r->publish_context);
	r->publish_context[0] = e;
	r->n_publish_context = 1;
	*resp = &r->base;
	ret = 0;
out:
	if (key != NULL)
		controller_release(svc, "publish", key);
	free(key);
	kvmap_dispose(&vc);
	cloud_attachment_dispose(&att);
	return ret;
}

/* Detaches volume_id from instance_id; not attached / unknown is success. */
static int detach(struct controller_service *svc, const struct rpc_ctx *rc, const char *volume_id,
		  const char *instance_id, struct status *st)
{
	struct status local = STATUS_INIT;
	if (cloud_detach_disk(svc->cloud, rc, volume_id, instance_id, &local) == 0) {
		log_info("volume %s detached from %s", volume_id, instance_id);
		return 0;
	}
	if (local.code == STATUS_NOT_FOUND) {
		log_v(2, "volume %s is not attached to %s (%s)", volume_id, instance_id, local.msg);
		return 0;
	}
	status_copy(st, &local);
	return controller_fail(st, "detach volume %s from node %s", volume_id, instance_id);
}

/* Every instance the volume is attached to (heap strings), or -1. A volume
 * that does not exist has none. */
static int attached_instances(struct controller_service *svc, const struct rpc_ctx *rc, const char *volume_id,
			      struct strv *out, struct status *st)
{
	struct cloud_disk d;
	struct status local = STATUS_INIT;
	int r = cloud_get_disk(svc->cloud, rc, volume_id, &d, &local);
	if (r == 0) {
		for (size_t i = 0; i < d.n_attachments; i++)
			if (d.attachments[i].instance_id != NULL && d.attachments[i].state != CLOUD_ATTACH_DETACHED)
				strv_push(out, d.attachments[i].instance_id);
	} else if (local.code != STATUS_NOT_FOUND) {
		status_copy(st, &local);
		r = controller_fail(st, "look up volume %s", volume_id);
	} else {
		r = 0;
	}
	cloud_disk_dispose(&d);
	return r;
}

int controller_unpublish_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
				ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__ControllerUnpublishVolumeRequest *req = (const Csi__V1__ControllerUnpublishVolumeRequest *)reqp;
	struct strv nodes;
	strv_init(&nodes);
	char *key = NULL;
	int ret = -1;

	if (controller_check_required(req->volume_id, "volume_id", st) < 0)
		goto out;
	bool all = req->node_id == NULL || req->node_id[0] == '\0';
	/* Ids that cannot exist are "safely regarded as ControllerUnpublished". */
	if (controller_id_valid(req->volume_id, "vol-") && (all || controller_id_valid(req->node_id, "i-"))) {
		key = xasprintf("%s/%s", req->volume_id, all ? "*" : req->node_id);
		if (controller_acquire(svc, "publish", key, st) < 0) {
			free(key);
			key = NULL;
			goto out;
		}
		if (all) {
			if (attached_instances(svc, rc, req->volume_id, &nodes, st) < 0)
				goto out;
		} else {
			strv_push(&nodes, req->node_id);
		}
		for (size_t i = 0; i < nodes.n; i++)
			if (detach(svc, rc, req->volume_id, nodes.v[i], st) < 0)
				goto out;
	}
	Csi__V1__ControllerUnpublishVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__controller_unpublish_volume_response__init(r);
	*resp = &r->base;
	ret = 0;
out:
	if (key != NULL)
		controller_release(svc, "publish", key);
	free(key);
	strv_dispose(&nodes);
	return ret;
}
