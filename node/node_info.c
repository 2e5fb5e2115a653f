/*
 * node_info: NodeGetCapabilities and NodeGetInfo.
 *
 * Both answer from memory (the lead puts them in the fast lane): capabilities
 * are constant, and NodeGetInfo reports the instance data cmd/ learned from
 * IMDS — node_id = instance id, the zone as the topology segments upstream
 * reports (reference §6.9; plus the Outpost keys when on an Outpost), and
 * max_volumes_per_node from node/limits.h, exactly as upstream computes it.
 * VOLUME_CONDITION is advertised because NodeGetVolumeStats reports a real
 * abnormality (a filesystem gone read-only under a read-write mount).
 */
#include "node/node_internal.h"

#include "common/log.h"
#include "common/xalloc.h"
#include "node/limits.h"

#include <stdio.h>
#include <string.h>

#define NODE_TOPOLOGY_ZONE_EBS "topology.ebs.csi.aws.com/zone"
#define NODE_TOPOLOGY_ZONE_K8S "topology.kubernetes.io/zone"
#define NODE_TOPOLOGY_OS "kubernetes.io/os"
#define NODE_TOPOLOGY_REGION "topology.ebs.csi.aws.com/region"
#define NODE_TOPOLOGY_PARTITION "topology.ebs.csi.aws.com/partition"
#define NODE_TOPOLOGY_ACCOUNT "topology.ebs.csi.aws.com/account-id"
#define NODE_TOPOLOGY_OUTPOST "topology.ebs.csi.aws.com/outpost-id"

static Csi__V1__NodeServiceCapability *rpc_cap(Csi__V1__NodeServiceCapability__RPC__Type type)
{
	Csi__V1__NodeServiceCapability *c = xmalloc(sizeof *c);
	csi__v1__node_service_capability__init(c);
	c->type_case = CSI__V1__NODE_SERVICE_CAPABILITY__TYPE_RPC;
	c->rpc = xmalloc(sizeof *c->rpc);
	csi__v1__node_service_capability__rpc__init(c->rpc);
	c->rpc->type = type;
	return c;
}

int node_get_capabilities(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
			  struct status *st)
{
	(void)svc;
	(void)rc;
	(void)req;
	(void)st;
	static const Csi__V1__NodeServiceCapability__RPC__Type types[] = {
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__STAGE_UNSTAGE_VOLUME,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__GET_VOLUME_STATS,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__VOLUME_CONDITION,
	};
	size_t n = sizeof types / sizeof types[0];
	Csi__V1__NodeGetCapabilitiesResponse *r = xmalloc(sizeof *r);
	csi__v1__node_get_capabilities_response__init(r);
	r->capabilities = xcalloc(n, sizeof *r->capabilities);
	for (size_t i = 0; i < n; i++)
		r->capabilities[r->n_capabilities++] = rpc_cap(types[i]);
	*resp = &r->base;
	return 0;
}

static void add_segment(Csi__V1__Topology *t, const char *key, const char *value)
{
	Csi__V1__Topology__SegmentsEntry *e = xmalloc(sizeof *e);
	csi__v1__topology__segments_entry__init(e);
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	t->segments = xrealloc(t->segments, (t->n_segments + 1) * sizeof *t->segments);
	t->segments[t->n_segments++] = e;
}

/* "arn:<partition>:outposts:<region>:<account>:outpost/<id>" → its parts
 * (each at most 63 bytes, as topology values must be). false when
 * malformed. */
static bool parse_outpost_arn(const char *arn, char part[64], char region[64], char account[64], char id[64])
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", arn);
	char *f[6] = { 0 };
	char *p = buf;
	for (int i = 0; i < 5; i++) {
		f[i] = p;
		p = strchr(p, ':');
		if (p == NULL)
			return false;
		*p++ = '\0';
	}
	f[5] = p;
	if (strcmp(f[0], "arn") != 0 || strncmp(f[5], "outpost/", 8) != 0)
		return false;
	const char *outpost = f[5] + 8;
	if (f[1][0] == '\0' || f[3][0] == '\0' || f[4][0] == '\0' || outpost[0] == '\0')
		return false;
	if (strlen(f[1]) > 63 || strlen(f[3]) > 63 || strlen(f[4]) > 63 || strlen(outpost) > 63)
		return false;
	snprintf(part, 64, "%s", f[1]);
	snprintf(region, 64, "%s", f[3]);
	snprintf(account, 64, "%s", f[4]);
	snprintf(id, 64, "%s", outpost);
	return true;
}

int node_get_info(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		  struct status *st)
{
	(void)rc;
	(void)req;
	struct node_service *svc = svcp;
	struct instance_info ii;
	node_service_instance(svc, &ii);
	/* node_id is REQUIRED (CSI §NodeGetInfo) and is what the controller
	 * attaches to: without it there is nothing useful to say. */
	if (ii.instance_id[0] == '\0')
		return status_set(st, STATUS_FAILED_PRECONDITION, "the instance id of this node is unknown");

	/* instance_info counts the root among the launch-time EBS mappings;
	 * limits wants the others (it adds the root itself). */
	struct limits_node ln = {
		.instance_type = ii.instance_type,
		.attached_enis = ii.network_interfaces,
		.block_device_mappings = ii.ebs_block_devices > 0 ? ii.ebs_block_devices - 1 : 0,
		.volume_attach_limit = svc->volume_attach_limit,
		.reserved_attachments = svc->reserved_volume_attachments,
	};
	Csi__V1__NodeGetInfoResponse *r = xmalloc(sizeof *r);
	csi__v1__node_get_info_response__init(r);
	r->node_id = xstrdup(ii.instance_id);
	int max = limits_max_volumes_per_node(&ln);
	r->max_volumes_per_node = max > 0 ? max : 0;
	r->accessible_topology = xmalloc(sizeof *r->accessible_topology);
	csi__v1__topology__init(r->accessible_topology);
	Csi__V1__Topology *t = r->accessible_topology;
	if (ii.availability_zone[0] != '\0') {
		add_segment(t, NODE_TOPOLOGY_ZONE_EBS, ii.availability_zone);
		add_segment(t, NODE_TOPOLOGY_ZONE_K8S, ii.availability_zone);
	}
	add_segment(t, NODE_TOPOLOGY_OS, "linux");
	if (ii.outpost_arn[0] != '\0') {
		char part[64], region[64], account[64], id[64];
		if (parse_outpost_arn(ii.outpost_arn, part, region, account, id)) {
			add_segment(t, NODE_TOPOLOGY_REGION, region);
			add_segment(t, NODE_TOPOLOGY_PARTITION, part);
			add_segment(t, NODE_TOPOLOGY_ACCOUNT, account);
			add_segment(t, NODE_TOPOLOGY_OUTPOST, id);
		} else {
			log_warn("outpost ARN \"%s\" is malformed: not reporting Outpost topology", ii.outpost_arn);
		}
	}
	*resp = &r->base;
	return 0;
}
