/*
 * Tests for NodeGetCapabilities and NodeGetInfo: the advertised capabilities
 * field by field, node_id, the topology segments (zone keys, OS, Outpost
 * keys parsed from the ARN, a malformed ARN ignored), max_volumes_per_node
 * from the instance data and the two flags (launch-time EBS mappings counted
 * without the root, as node/limits.h wants them), refreshed instance data,
 * and FAILED_PRECONDITION without an instance id. Every response goes
 * through the wire and is freed with free_unpacked under ASan.
 */
#include "node/node.h"
#include "tests/node/helper_node.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int setup(void **state)
{
	struct node_fx *fx = node_fx_new();
	if (fx == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	node_fx_free(*state);
	return 0;
}

static Csi__V1__NodeGetInfoResponse *get_info(struct node_fx *fx, struct status *st)
{
	Csi__V1__NodeGetInfoRequest *req = malloc(sizeof *req);
	csi__v1__node_get_info_request__init(req);
	return (Csi__V1__NodeGetInfoResponse *)node_call(node_get_info, fx->svc, &req->base,
							 &csi__v1__node_get_info_response__descriptor, st);
}

static const char *segment(const Csi__V1__NodeGetInfoResponse *r, const char *key)
{
	for (size_t i = 0; i < r->accessible_topology->n_segments; i++)
		if (strcmp(r->accessible_topology->segments[i]->key, key) == 0)
			return r->accessible_topology->segments[i]->value;
	return NULL;
}

static void test_capabilities(void **state)
{
	struct node_fx *fx = *state;
	struct status st;
	Csi__V1__NodeGetCapabilitiesRequest *req = malloc(sizeof *req);
	csi__v1__node_get_capabilities_request__init(req);
	Csi__V1__NodeGetCapabilitiesResponse *r = (Csi__V1__NodeGetCapabilitiesResponse *)node_call(
		node_get_capabilities, fx->svc, &req->base, &csi__v1__node_get_capabilities_response__descriptor, &st);
	assert_non_null(r);
	static const int want[] = {
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__STAGE_UNSTAGE_VOLUME,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__GET_VOLUME_STATS,
		CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__VOLUME_CONDITION,
	};
	assert_int_equal(r->n_capabilities, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(r->capabilities[i]->type_case, CSI__V1__NODE_SERVICE_CAPABILITY__TYPE_RPC);
		assert_int_equal(r->capabilities[i]->rpc->type, want[i]);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(mounter_fake_calls(fx->m, MOUNTER_OP_ANY), 0);
}

static void test_info_defaults(void **state)
{
	struct node_fx *fx = *state;
	struct status st;
	Csi__V1__NodeGetInfoResponse *r = get_info(fx, &st);
	assert_non_null(r);
	assert_string_equal(r->node_id, "i-0123456789abcdef0");
	/* m5.large: 27 shared slots - root, one ENI (upstream's figure). */
	assert_int_equal(r->max_volumes_per_node, 26);
	assert_non_null(r->accessible_topology);
	assert_int_equal(r->accessible_topology->n_segments, 3);
	assert_string_equal(segment(r, "topology.ebs.csi.aws.com/zone"), "us-east-1a");
	assert_string_equal(segment(r, "topology.kubernetes.io/zone"), "us-east-1a");
	assert_string_equal(segment(r, "kubernetes.io/os"), "linux");
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_info_limits(void **state)
{
	struct node_fx *fx = *state;
	struct status st;
	static const struct {
		int enis, ebs, limit, reserved;
		long long want;
	} cases[] = {
		{ 3, 3, -1, -1, 22 },  /* 28 - 3 ENIs - root - 2 data volumes at launch */
		{ 1, -1, -1, -1, 26 }, /* mappings unknown: the root only */
		{ 0, 0, -1, -1, 26 },  /* ENIs unknown count as one */
		{ 1, 1, 10, -1, 10 },  /* --volume-attach-limit wins */
		{ 1, 1, -1, 3, 24 },   /* --reserved-volume-attachments replaces root + mappings */
		{ 60, 1, -1, -1, 1 },  /* never below 1 */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fx->cfg.instance.network_interfaces = cases[i].enis;
		fx->cfg.instance.ebs_block_devices = cases[i].ebs;
		fx->cfg.volume_attach_limit = cases[i].limit;
		fx->cfg.reserved_volume_attachments = cases[i].reserved;
		node_fx_restart(fx);
		Csi__V1__NodeGetInfoResponse *r = get_info(fx, &st);
		assert_non_null(r);
		assert_int_equal(r->max_volumes_per_node, cases[i].want);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	/* Xen type: 39 dedicated, ENIs do not count. */
	snprintf(fx->cfg.instance.instance_type, sizeof fx->cfg.instance.instance_type, "t2.micro");
	fx->cfg.instance.network_interfaces = 2;
	fx->cfg.instance.ebs_block_devices = 1;
	fx->cfg.volume_attach_limit = -1;
	fx->cfg.reserved_volume_attachments = -1;
	node_fx_restart(fx);
	Csi__V1__NodeGetInfoResponse *r = get_info(fx, &st);
	assert_int_equal(r->max_volumes_per_node, 38);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Refreshed instance data (say, an ENI attached since start-up). */
	struct instance_info ii = fx->cfg.instance;
	snprintf(ii.instance_type, sizeof ii.instance_type, "m5.large");
	ii.network_interfaces = 2;
	node_service_set_instance(fx->svc, &ii);
	r = get_info(fx, &st);
	assert_int_equal(r->max_volumes_per_node, 25);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_info_outpost(void **state)
{
	struct node_fx *fx = *state;
	struct status st;
	snprintf(fx->cfg.instance.outpost_arn, sizeof fx->cfg.instance.outpost_arn,
		 "arn:aws:outposts:us-west-2:111122223333:outpost/op-0123456789abcdef0");
	node_fx_restart(fx);
	Csi__V1__NodeGetInfoResponse *r = get_info(fx, &st);
	assert_non_null(r);
	assert_int_equal(r->accessible_topology->n_segments, 7);
	assert_string_equal(segment(r, "topology.ebs.csi.aws.com/region"), "us-west-2");
	assert_string_equal(segment(r, "topology.ebs.csi.aws.com/partition"), "aws");
	assert_string_equal(segment(r, "topology.ebs.csi.aws.com/account-id"), "111122223333");
	assert_string_equal(segment(r, "topology.ebs.csi.aws.com/outpost-id"), "op-0123456789abcdef0");
	assert_string_equal(segment(r, "topology.kubernetes.io/zone"), "us-east-1a");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	static const char *const bad[] = { "not-an-arn", "arn:aws:outposts:us-west-2:1111:instance/x",
					   "arn:aws:outposts::1111:outpost/op-1", "arn:aws:outposts:r:1:outpost/" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(fx->cfg.instance.outpost_arn, sizeof fx->cfg.instance.outpost_arn, "%s", bad[i]);
		node_fx_restart(fx);
		r = get_info(fx, &st);
		assert_non_null(r);
		assert_int_equal(r->accessible_topology->n_segments, 3);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
}

static void test_info_unknown_instance(void **state)
{
	struct node_fx *fx = *state;
	struct status st;
	fx->cfg.instance.availability_zone[0] = '\0';
	node_fx_restart(fx);
	Csi__V1__NodeGetInfoResponse *r = get_info(fx, &st);
	assert_non_null(r);
	assert_int_equal(r->accessible_topology->n_segments, 1);
	assert_string_equal(segment(r, "kubernetes.io/os"), "linux");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	fx->cfg.instance.instance_id[0] = '\0';
	node_fx_restart(fx);
	assert_null(get_info(fx, &st));
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_outpost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_unknown_instance, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
