/*
 * test_features: the pure decisions of the Kubernetes features — providerID
 * to instance id (upstream's regex cases: EC2, Snow, HyperPod, none), Node
 * labels to instance_info (ml. prefix, zone id, SageMaker ENIs, missing
 * labels), the taint-removal JSON patch (test op with the taints as read,
 * other taints kept), CSINode readiness, drain detection, VolumeAttachment
 * filtering — and the client's helpers: resource names for messages, query
 * escaping, node-name validation, token redaction, CSI_NODE_NAME.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "k8s/features.h"
#include "k8s/k8s_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *js(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
	if (v == NULL)
		print_error("bad test JSON: %s\n", err.text);
	assert_non_null(v);
	return v;
}

static void expect_id(const char *pid, const char *want)
{
	char out[64];
	int rc = k8s_instance_id_from_provider_id(pid, out, sizeof out);
	if (want == NULL) {
		assert_int_equal(rc, -1);
		return;
	}
	assert_int_equal(rc, 0);
	assert_string_equal(out, want);
}

static void test_provider_id(void **state)
{
	(void)state;
	expect_id("aws:///us-west-2a/i-0123456789abcdef0", "i-0123456789abcdef0");
	expect_id("aws:///eu-central-1b/i-abc", "i-abc");
	expect_id("i-0abc", "i-0abc");
	/* Snow: the s.i- form, found wherever it is (upstream's first branch is unanchored). */
	expect_id("aws:///snow/s.i-0123abc", "s.i-0123abc");
	expect_id("aws:///snow/s.i-0123abc/extra", "s.i-0123abc");
	/* SageMaker HyperPod nodes keep their cluster prefix. */
	expect_id("aws:///usw2-az2/sagemaker/cluster/hyperpod-abc123-i-0def456", "hyperpod-abc123-i-0def456");
	expect_id("aws:///us-west-2a/fargate-ip-192-168-1-1.us-west-2.compute.internal", NULL);
	expect_id("aws:///us-west-2a/i-UPPER", NULL);
	expect_id("aws:///us-west-2a/i-0abc/", NULL);
	expect_id("", NULL);
	expect_id(NULL, NULL);
	char small[5];
	assert_int_equal(k8s_instance_id_from_provider_id("aws:///z/i-0123456789", small, sizeof small), -1);
}

static const char *NODE_JSON =
	"{\"metadata\":{\"name\":\"n1\",\"labels\":{"
	"\"node.kubernetes.io/instance-type\":\"m5.large\","
	"\"topology.kubernetes.io/region\":\"us-west-2\","
	"\"topology.kubernetes.io/zone\":\"us-west-2b\","
	"\"topology.k8s.aws/zone-id\":\"usw2-az2\"}},"
	"\"spec\":{\"providerID\":\"aws:///us-west-2b/i-0123456789abcdef0\"}}";

static void test_instance_info_from_node(void **state)
{
	(void)state;
	json_t *node = js(NODE_JSON);
	struct instance_info ii;
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_instance_info_from_node(node, &ii, &st), 0);
	assert_string_equal(ii.instance_id, "i-0123456789abcdef0");
	assert_string_equal(ii.instance_type, "m5.large");
	assert_string_equal(ii.region, "us-west-2");
	assert_string_equal(ii.availability_zone, "us-west-2b");
	assert_string_equal(ii.availability_zone_id, "usw2-az2");
	assert_string_equal(ii.outpost_arn, "");
	assert_int_equal(ii.network_interfaces, 1);
	assert_int_equal(ii.ebs_block_devices, -1);

	/* HyperPod: ml. prefix stripped, ENIs from the SageMaker label. */
	json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
	json_object_set_new(labels, "node.kubernetes.io/instance-type", json_string("ml.p5.48xlarge"));
	json_object_set_new(labels, "sagemaker.amazonaws.com/num-eni-attachments", json_string("3"));
	assert_int_equal(k8s_instance_info_from_node(node, &ii, &st), 0);
	assert_string_equal(ii.instance_type, "p5.48xlarge");
	assert_int_equal(ii.network_interfaces, 3);
	json_object_set_new(labels, "sagemaker.amazonaws.com/num-eni-attachments", json_string("x"));
	assert_int_equal(k8s_instance_info_from_node(node, &ii, &st), 0);
	assert_int_equal(ii.network_interfaces, 1);

	/* Every required label, named when missing. */
	const char *required[] = { "node.kubernetes.io/instance-type", "topology.kubernetes.io/region",
				   "topology.kubernetes.io/zone" };
	for (size_t i = 0; i < 3; i++) {
		json_t *copy = json_deep_copy(node);
		json_object_del(json_object_get(json_object_get(copy, "metadata"), "labels"), required[i]);
		assert_int_equal(k8s_instance_info_from_node(copy, &ii, &st), -1);
		assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
		assert_non_null(strstr(st.msg, required[i]));
		json_decref(copy);
	}
	json_object_set_new(json_object_get(node, "spec"), "providerID", json_string("kind://docker/kind/n1"));
	assert_int_equal(k8s_instance_info_from_node(node, &ii, &st), -1);
	assert_non_null(strstr(st.msg, "holds no EC2 instance id"));
	json_object_del(json_object_get(node, "spec"), "providerID");
	assert_int_equal(k8s_instance_info_from_node(node, &ii, &st), -1);
	assert_non_null(strstr(st.msg, "spec.providerID is not set"));
	json_decref(node);
}

static void test_taint_patch(void **state)
{
	(void)state;
	json_t *node = js("{\"spec\":{\"taints\":["
			  "{\"key\":\"a\",\"effect\":\"NoSchedule\"},"
			  "{\"key\":\"ebs.csi.aws.com/agent-not-ready\",\"effect\":\"NoExecute\",\"timeAdded\":\"2024-01-01T00:00:00Z\"},"
			  "{\"key\":\"ebs.csi.aws.com/agent-not-ready\",\"effect\":\"NoSchedule\"},"
			  "{\"key\":\"b\",\"value\":\"v\",\"effect\":\"PreferNoSchedule\"}]}}");
	assert_true(k8s_node_has_taint(node, K8S_AGENT_NOT_READY_TAINT));
	json_t *patch = NULL;
	assert_int_equal(k8s_taint_removal_patch(node, K8S_AGENT_NOT_READY_TAINT, &patch), 1);
	json_t *want = json_pack("[{s:s,s:s,s:O},{s:s,s:s,s:[{s:s,s:s},{s:s,s:s,s:s}]}]",
				 "op", "test", "path", "/spec/taints", "value",
				 json_object_get(json_object_get(node, "spec"), "taints"),
				 "op", "replace", "path", "/spec/taints", "value",
				 "key", "a", "effect", "NoSchedule",
				 "key", "b", "value", "v", "effect", "PreferNoSchedule");
	assert_true(json_equal(patch, want));
	/* The test op comes first: RFC 6902 applies ops in order and fails whole. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(patch, 0), "op")), "test");
	json_decref(want);
	json_decref(patch);

	/* Only our taint: replaced by an empty list. */
	json_t *only = js("{\"spec\":{\"taints\":[{\"key\":\"ebs.csi.aws.com/agent-not-ready\",\"effect\":\"NoExecute\"}]}}");
	assert_int_equal(k8s_taint_removal_patch(only, K8S_AGENT_NOT_READY_TAINT, &patch), 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(patch, 1), "value")), 0);
	json_decref(patch);
	json_decref(only);

	/* Nothing to do. */
	json_t *none = js("{\"spec\":{\"taints\":[{\"key\":\"a\",\"effect\":\"NoSchedule\"}]}}");
	patch = NULL;
	assert_int_equal(k8s_taint_removal_patch(none, K8S_AGENT_NOT_READY_TAINT, &patch), 0);
	assert_null(patch);
	assert_false(k8s_node_has_taint(none, K8S_AGENT_NOT_READY_TAINT));
	json_decref(none);
	json_t *bare = js("{\"spec\":{}}");
	assert_int_equal(k8s_taint_removal_patch(bare, K8S_AGENT_NOT_READY_TAINT, &patch), 0);
	json_decref(bare);
	json_decref(node);
}

static void test_csinode_ready(void **state)
{
	(void)state;
	json_t *c = js("{\"spec\":{\"drivers\":[{\"name\":\"other\",\"allocatable\":{\"count\":5}},"
		       "{\"name\":\"ebs.csi.aws.com\",\"nodeID\":\"i-1\"}]}}");
	assert_false(k8s_csinode_driver_ready(c, K8S_DRIVER_NAME)); /* registered, no count yet */
	json_object_set_new(json_array_get(json_object_get(json_object_get(c, "spec"), "drivers"), 1), "allocatable",
			    json_pack("{s:i}", "count", 25));
	assert_true(k8s_csinode_driver_ready(c, K8S_DRIVER_NAME));
	json_decref(c);
	c = js("{\"spec\":{\"drivers\":null}}");
	assert_false(k8s_csinode_driver_ready(c, K8S_DRIVER_NAME));
	json_decref(c);
	c = js("{\"spec\":{\"drivers\":[{\"name\":\"ebs.csi.aws.com\",\"allocatable\":{}}]}}");
	assert_false(k8s_csinode_driver_ready(c, K8S_DRIVER_NAME));
	json_decref(c);
}

static void test_draining(void **state)
{
	(void)state;
	json_t *n = js("{\"spec\":{}}");
	assert_false(k8s_node_is_draining(n));
	json_decref(n);
	n = js("{\"spec\":{\"unschedulable\":true}}");
	assert_true(k8s_node_is_draining(n));
	json_decref(n);
	n = js("{\"spec\":{\"unschedulable\":false,\"taints\":[{\"key\":\"ebs.csi.aws.com/agent-not-ready\"}]}}");
	assert_false(k8s_node_is_draining(n));
	json_decref(n);
	const char *keys[] = { "node.kubernetes.io/unschedulable", "ToBeDeletedByClusterAutoscaler",
			       "karpenter.sh/disrupted", "karpenter.sh/disruption" };
	for (size_t i = 0; i < 4; i++) {
		n = json_pack("{s:{s:[{s:s},{s:s,s:s}]}}", "spec", "taints", "key", "x", "key", keys[i], "effect",
			      "NoSchedule");
		assert_true(k8s_node_is_draining(n));
		json_decref(n);
	}
	/* A look-alike key is not a drain. */
	n = js("{\"spec\":{\"taints\":[{\"key\":\"karpenter.sh/disrupted-not\"}]}}");
	assert_false(k8s_node_is_draining(n));
	json_decref(n);
}

static void test_volume_attachment_on_node(void **state)
{
	(void)state;
	json_t *va = js("{\"metadata\":{\"name\":\"csi-1\"},\"spec\":{\"attacher\":\"ebs.csi.aws.com\",\"nodeName\":\"n1\"}}");
	assert_true(k8s_volume_attachment_on_node(va, "n1"));
	assert_false(k8s_volume_attachment_on_node(va, "n10"));
	json_decref(va);
	va = js("{\"spec\":{}}");
	assert_false(k8s_volume_attachment_on_node(va, "n1"));
	json_decref(va);
}

static void test_helpers(void **state)
{
	(void)state;
	char r[64];
	k8s_resource_of_path("/api/v1/nodes/n1", r, sizeof r);
	assert_string_equal(r, "nodes/n1");
	k8s_resource_of_path("/apis/storage.k8s.io/v1/csinodes?fieldSelector=metadata.name%3Dn1", r, sizeof r);
	assert_string_equal(r, "csinodes");
	k8s_resource_of_path("/apis/storage.k8s.io/v1/volumeattachments", r, sizeof r);
	assert_string_equal(r, "volumeattachments");
	k8s_resource_of_path("/api/v1/namespaces/kube-system/pods/p?x", r, sizeof r);
	assert_string_equal(r, "pods/p");
	k8s_resource_of_path("/version", r, sizeof r);
	assert_string_equal(r, "version");

	char q[32] = "a=";
	assert_int_equal(k8s_query_escape("metadata.name=n 1/&", q, sizeof q), 0);
	assert_string_equal(q, "a=metadata.name%3Dn%201%2F%26");
	char tiny[6] = "";
	assert_int_equal(k8s_query_escape("abc=d", tiny, sizeof tiny), -1);

	assert_true(k8s_valid_name("ip-10-0-0-1.us-west-2.compute.internal"));
	assert_true(k8s_valid_name("n"));
	assert_false(k8s_valid_name(""));
	assert_false(k8s_valid_name(NULL));
	assert_false(k8s_valid_name("-n"));
	assert_false(k8s_valid_name("n."));
	assert_false(k8s_valid_name("N1"));
	assert_false(k8s_valid_name("n1/../secrets"));
	assert_false(k8s_valid_name("n1?watch=1"));
	char longname[300];
	memset(longname, 'a', 254);
	longname[254] = '\0';
	assert_false(k8s_valid_name(longname));
}

static void test_redact(void **state)
{
	(void)state;
	char s[64] = "token abcdef rejected; abcdef again";
	k8s_redact(s, sizeof s, "abcdef");
	assert_string_equal(s, "token [redacted] rejected; [redacted] again");
	char t[16] = "xx abcd";
	k8s_redact(t, sizeof t, "abcd");
	assert_string_equal(t, "xx [redacted]");
	/* No room for the mark: cut where the secret began. */
	char u[12] = "0123456abcd";
	k8s_redact(u, sizeof u, "abcd");
	assert_string_equal(u, "0123456");
	/* Short or absent secrets change nothing. */
	char v[16] = "abc abc";
	k8s_redact(v, sizeof v, "abc");
	assert_string_equal(v, "abc abc");
	k8s_redact(v, sizeof v, NULL);
	assert_string_equal(v, "abc abc");
	/* A long message whose tail would overflow once the mark is longer. */
	char w[20] = "aaaa tok1 bbbbbbbb";
	k8s_redact(w, sizeof w, "tok1");
	assert_string_equal(w, "aaaa [redacted] bbb");
}

static void test_node_name_env(void **state)
{
	(void)state;
	struct status st = STATUS_INIT;
	unsetenv("CSI_NODE_NAME");
	assert_null(k8s_node_name_env(&st));
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	setenv("CSI_NODE_NAME", "Bad_Name", 1);
	assert_null(k8s_node_name_env(&st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	setenv("CSI_NODE_NAME", "ip-10-0-0-1.ec2.internal", 1);
	assert_string_equal(k8s_node_name_env(&st), "ip-10-0-0-1.ec2.internal");
	unsetenv("CSI_NODE_NAME");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provider_id),
		cmocka_unit_test(test_instance_info_from_node),
		cmocka_unit_test(test_taint_patch),
		cmocka_unit_test(test_csinode_ready),
		cmocka_unit_test(test_draining),
		cmocka_unit_test(test_volume_attachment_on_node),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_node_name_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
