/*
 * node_meta: instance metadata from the Kubernetes Node object, the fallback
 * of --metadata-sources=imds,kubernetes when IMDS cannot be reached (hop
 * limit 1, IMDS disabled). See upstream §6.10: the instance id comes from
 * spec.providerID with upstream's regex, type/region/zone from the well-known
 * labels, and what the Node cannot tell (ENIs, block-device mappings) gets
 * upstream's conservative defaults.
 * Also the CSI_NODE_NAME lookup shared by the three features.
 */
#include "k8s/features.h"

#include "common/log.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* upstream pkg/cloud/metadata: providerID to instance id. POSIX ERE is
 * leftmost-longest where Go is leftmost-first, but here both alternatives
 * start with different letters and the optional group only lengthens a match,
 * so both find the same text. */
#define PROVIDER_ID_RE "s\\.i-[a-z0-9]+|(hyperpod-[a-z0-9]+-)?i-[a-z0-9]+$"

const char *k8s_node_name_env(struct status *st)
{
	const char *n = getenv("CSI_NODE_NAME");
	if (n == NULL || n[0] == '\0') {
		status_set(st, STATUS_FAILED_PRECONDITION, "CSI_NODE_NAME is not set (the node's name, from the "
			   "downward API spec.nodeName)");
		return NULL;
	}
	if (!k8s_valid_name(n)) {
		status_set(st, STATUS_INVALID_ARGUMENT, "CSI_NODE_NAME is not a valid node name");
		return NULL;
	}
	return n;
}

int k8s_instance_id_from_provider_id(const char *provider_id, char *out, size_t cap)
{
	regex_t re;
	if (provider_id == NULL || regcomp(&re, PROVIDER_ID_RE, REG_EXTENDED) != 0)
		return -1;
	regmatch_t m[2];
	int rc = regexec(&re, provider_id, 2, m, 0);
	regfree(&re);
	if (rc != 0)
		return -1;
	size_t n = (size_t)(m[0].rm_eo - m[0].rm_so);
	if (n + 1 > cap)
		return -1;
	memcpy(out, provider_id + m[0].rm_so, n);
	out[n] = '\0';
	return 0;
}

static const char *label(const json_t *node, const char *key)
{
	json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
	const char *v = json_string_value(json_object_get(labels, key));
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static int copy_field(char *dst, size_t cap, const char *v, const char *what, struct status *st)
{
	if (strlen(v) + 1 > cap)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s is too long", what);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int k8s_instance_info_from_node(const json_t *node, struct instance_info *out, struct status *st)
{
	memset(out, 0, sizeof *out);
	const char *pid = json_string_value(json_object_get(json_object_get(node, "spec"), "providerID"));
	if (pid == NULL || pid[0] == '\0')
		return status_set(st, STATUS_FAILED_PRECONDITION, "spec.providerID is not set");
	if (k8s_instance_id_from_provider_id(pid, out->instance_id, sizeof out->instance_id) != 0)
		return status_set(st, STATUS_FAILED_PRECONDITION, "spec.providerID \"%.96s\" holds no EC2 instance id",
				  pid);
	const char *type = label(node, K8S_LABEL_INSTANCE_TYPE);
	const char *region = label(node, K8S_LABEL_REGION);
	const char *zone = label(node, K8S_LABEL_ZONE);
	const char *missing = type == NULL ? K8S_LABEL_INSTANCE_TYPE : region == NULL ? K8S_LABEL_REGION
			      : zone == NULL ? K8S_LABEL_ZONE : NULL;
	if (missing != NULL)
		return status_set(st, STATUS_FAILED_PRECONDITION, "label %s is not set", missing);
	/* SageMaker HyperPod nodes carry "ml.<type>"; EC2 limits know "<type>". */
	if (strncmp(type, "ml.", 3) == 0)
		type += 3;
	if (copy_field(out->instance_type, sizeof out->instance_type, type, K8S_LABEL_INSTANCE_TYPE, st) != 0 ||
	    copy_field(out->region, sizeof out->region, region, K8S_LABEL_REGION, st) != 0 ||
	    copy_field(out->availability_zone, sizeof out->availability_zone, zone, K8S_LABEL_ZONE, st) != 0)
		return -1;
	const char *zone_id = label(node, K8S_LABEL_ZONE_ID);
	if (zone_id != NULL && strlen(zone_id) < sizeof out->availability_zone_id)
		strcpy(out->availability_zone_id, zone_id);
	/* The Node does not say how many ENIs are attached: upstream assumes one
	 * (each extra ENI lowers the shared attach limit, so this may overstate
	 * it); SageMaker labels the real count. */
	out->network_interfaces = 1;
	const char *enis = label(node, K8S_LABEL_SAGEMAKER_ENIS);
	if (enis != NULL) {
		char *end;
		long v = strtol(enis, &end, 10);
		if (*end == '\0' && v >= 1 && v <= 64)
			out->network_interfaces = (int)v;
	}
	out->ebs_block_devices = -1;
	return 0;
}

int k8s_get_instance_info(struct k8s_client *c, const char *node_name, const struct rpc_ctx *rc,
			  struct instance_info *out, struct status *st)
{
	if (!k8s_valid_name(node_name))
		return status_set(st, STATUS_INVALID_ARGUMENT, "instance metadata from the node: invalid node name");
	char path[300];
	snprintf(path, sizeof path, "/api/v1/nodes/%s", node_name);
	json_t *node = NULL;
	if (k8s_get(c, path, rc, &node, st) != 0)
		return status_prefix(st, "instance metadata from node %s: ", node_name);
	int r = k8s_instance_info_from_node(node, out, st);
	json_decref(node);
	if (r != 0)
		return status_prefix(st, "instance metadata from node %s: ", node_name);
	log_v(2, "k8s: node %s is instance %s (%s) in %s", node_name, out->instance_id, out->instance_type,
	      out->availability_zone);
	return 0;
}
