/*
 * fuzz_k8s_features: the pure functions of k8s/features.h over API objects
 * as the API server returns them (JSON, parsed by jansson as the client
 * does): a Node's instance metadata and providerID, its taints and the
 * removal patch, draining, the CSINode driver entry, a VolumeAttachment's
 * node.
 *
 * Input: one selector byte (bit 0: the taint key is ours or one of the
 * draining ones; bit 1: the node name), then a JSON document. Documents
 * that do not parse also go to k8s_instance_id_from_provider_id as a
 * providerID string.
 * Oracles: k8s_taint_removal_patch answers 1 exactly when
 * k8s_node_has_taint does, and its "replace" value keeps no taint with the
 * key; an instance id found in a providerID contains "i-".
 */
#include "tests/fuzz/fuzz_util.h"

#include "common/instance_info.h"
#include "common/status.h"
#include "k8s/features.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	return 0;
}

static void provider_id(const char *s)
{
	char id[64];
	if (k8s_instance_id_from_provider_id(s, id, sizeof id) == 0) {
		if (strstr(id, "i-") == NULL || memchr(id, 0, sizeof id) == NULL)
			abort();
	}
	char tiny[4];
	(void)k8s_instance_id_from_provider_id(s, tiny, sizeof tiny);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t sel = fz_byte(&f);
	size_t len;
	char *text = fz_rest(&f, &len);
	const char *key = (sel & 1) ? "node.kubernetes.io/unschedulable" : K8S_AGENT_NOT_READY_TAINT;
	const char *node_name = (sel & 2) ? "ip-10-0-0-1.ec2.internal" : "";

	json_error_t jerr;
	json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (doc == NULL) {
		char *s = malloc(len + 1);
		if (s == NULL)
			abort();
		memcpy(s, text, len);
		s[len] = '\0';
		provider_id(s);
		free(s);
		free(text);
		return 0;
	}

	struct instance_info ii;
	memset(&ii, 0, sizeof ii);
	struct status st = STATUS_INIT;
	if (k8s_instance_info_from_node(doc, &ii, &st) != 0 && st.code == STATUS_OK)
		abort();
	const char *pid = json_string_value(json_object_get(json_object_get(doc, "spec"), "providerID"));
	if (pid != NULL)
		provider_id(pid);

	bool has = k8s_node_has_taint(doc, key);
	json_t *patch = NULL;
	int r = k8s_taint_removal_patch(doc, key, &patch);
	if (r != (has ? 1 : 0))
		abort();
	if (r == 1) {
		json_t *rest = json_object_get(json_array_get(patch, 1), "value");
		if (!json_is_array(rest))
			abort();
		size_t i;
		json_t *t;
		json_array_foreach(rest, i, t) {
			const char *k = json_string_value(json_object_get(t, "key"));
			if (k != NULL && strcmp(k, key) == 0)
				abort();
		}
		json_decref(patch);
	}
	(void)k8s_node_is_draining(doc);
	(void)k8s_csinode_driver_ready(doc, K8S_DRIVER_NAME);
	(void)k8s_volume_attachment_on_node(doc, node_name);
	json_decref(doc);
	free(text);
	return 0;
}
