/*
 * services: the method table. See services.h.
 * The lane of each method is decided here, once: only handlers that answer from
 * memory go in the fast lane, so a slow lane full of EC2 waits cannot delay the
 * liveness probe or kubelet's NodeGetInfo.
 */
#include "csi-proto/services.h"

#include "controller/controller.h"
#include "csi.pb-c.h"
#include "node/node.h"

#include <string.h>

enum svc { SVC_IDENTITY, SVC_CONTROLLER, SVC_NODE };

struct entry {
	const char *path;
	const ProtobufCMessageDescriptor *request;
	enum svc svc;
	enum csi_lane lane;
	csi_handler_fn handler; /* NULL: not built yet, UNIMPLEMENTED */
};

#define ID(m, d, h) { "/csi.v1.Identity/" m, &d, SVC_IDENTITY, CSI_LANE_FAST, h }
#define CTRL(m, d, lane, h) { "/csi.v1.Controller/" m, &d, SVC_CONTROLLER, lane, h }
#define NODE(m, d, lane, h) { "/csi.v1.Node/" m, &d, SVC_NODE, lane, h }

static const struct entry entries[] = {
	ID("GetPluginInfo", csi__v1__get_plugin_info_request__descriptor, identity_get_plugin_info),
	ID("GetPluginCapabilities", csi__v1__get_plugin_capabilities_request__descriptor,
	   identity_get_plugin_capabilities),
	ID("Probe", csi__v1__probe_request__descriptor, identity_probe),

	CTRL("CreateVolume", csi__v1__create_volume_request__descriptor, CSI_LANE_SLOW, controller_create_volume),
	CTRL("DeleteVolume", csi__v1__delete_volume_request__descriptor, CSI_LANE_SLOW, controller_delete_volume),
	CTRL("ControllerPublishVolume", csi__v1__controller_publish_volume_request__descriptor, CSI_LANE_SLOW, controller_publish_volume),
	CTRL("ControllerUnpublishVolume", csi__v1__controller_unpublish_volume_request__descriptor, CSI_LANE_SLOW, controller_unpublish_volume),
	CTRL("ValidateVolumeCapabilities", csi__v1__validate_volume_capabilities_request__descriptor, CSI_LANE_SLOW, controller_validate_volume_capabilities),
	CTRL("ListVolumes", csi__v1__list_volumes_request__descriptor, CSI_LANE_SLOW, NULL),
	CTRL("GetCapacity", csi__v1__get_capacity_request__descriptor, CSI_LANE_SLOW, NULL),
	CTRL("ControllerGetCapabilities", csi__v1__controller_get_capabilities_request__descriptor, CSI_LANE_FAST, controller_get_capabilities),
	CTRL("CreateSnapshot", csi__v1__create_snapshot_request__descriptor, CSI_LANE_SLOW, controller_create_snapshot),
	CTRL("DeleteSnapshot", csi__v1__delete_snapshot_request__descriptor, CSI_LANE_SLOW, controller_delete_snapshot),
	CTRL("ListSnapshots", csi__v1__list_snapshots_request__descriptor, CSI_LANE_SLOW, controller_list_snapshots),
	CTRL("ControllerExpandVolume", csi__v1__controller_expand_volume_request__descriptor, CSI_LANE_SLOW, controller_expand_volume),
	CTRL("ControllerGetVolume", csi__v1__controller_get_volume_request__descriptor, CSI_LANE_SLOW, NULL),
	CTRL("ControllerModifyVolume", csi__v1__controller_modify_volume_request__descriptor, CSI_LANE_SLOW, controller_modify_volume),

	NODE("NodeStageVolume", csi__v1__node_stage_volume_request__descriptor, CSI_LANE_SLOW, node_stage_volume),
	NODE("NodeUnstageVolume", csi__v1__node_unstage_volume_request__descriptor, CSI_LANE_SLOW,
	     node_unstage_volume),
	NODE("NodePublishVolume", csi__v1__node_publish_volume_request__descriptor, CSI_LANE_SLOW,
	     node_publish_volume),
	NODE("NodeUnpublishVolume", csi__v1__node_unpublish_volume_request__descriptor, CSI_LANE_SLOW,
	     node_unpublish_volume),
	NODE("NodeGetVolumeStats", csi__v1__node_get_volume_stats_request__descriptor, CSI_LANE_SLOW,
	     node_get_volume_stats),
	NODE("NodeExpandVolume", csi__v1__node_expand_volume_request__descriptor, CSI_LANE_SLOW, node_expand_volume),
	NODE("NodeGetCapabilities", csi__v1__node_get_capabilities_request__descriptor, CSI_LANE_FAST,
	     node_get_capabilities),
	NODE("NodeGetInfo", csi__v1__node_get_info_request__descriptor, CSI_LANE_FAST, node_get_info),
};

int csi_mode_parse(const char *s)
{
	if (strcmp(s, "controller") == 0)
		return CSI_MODE_CONTROLLER;
	if (strcmp(s, "node") == 0)
		return CSI_MODE_NODE;
	if (strcmp(s, "all") == 0)
		return CSI_MODE_ALL;
	return -1;
}

const char *csi_mode_name(enum csi_mode mode)
{
	switch (mode) {
	case CSI_MODE_CONTROLLER: return "controller";
	case CSI_MODE_NODE: return "node";
	default: return "all";
	}
}

size_t csi_services_table(const struct csi_services *s, struct csi_method *out)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof entries / sizeof entries[0] && n < CSI_SERVICES_MAX; i++) {
		const struct entry *e = &entries[i];
		struct csi_method *m = &out[n++];
		m->path = e->path;
		m->request = e->request;
		m->lane = e->lane;
		m->handler = NULL;
		m->svc = NULL;
		switch (e->svc) {
		case SVC_IDENTITY:
			m->handler = e->handler;
			m->svc = s->identity;
			break;
		case SVC_CONTROLLER:
			/* ListVolumes, GetCapacity and ControllerGetVolume have no
			 * handler: EBS has no capacity to report and listing every
			 * volume of an account is not the driver's business. */
			if ((s->mode & CSI_MODE_CONTROLLER) && s->controller != NULL) {
				m->handler = e->handler;
				m->svc = s->controller;
			}
			break;
		case SVC_NODE:
			if ((s->mode & CSI_MODE_NODE) && s->node != NULL) {
				m->handler = e->handler;
				m->svc = s->node;
			}
			break;
		}
	}
	return n;
}
