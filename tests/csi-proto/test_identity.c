/* Tests of the Identity handlers and of the method table per mode
 * (csi-proto/identity.c, csi-proto/services.c), called directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "csi-proto/identity.h"
#include "csi-proto/services.h"
#include "csi.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* Packs and unpacks a handler's response: proves it is a complete heap message
 * that the server can serialise and free. */
static ProtobufCMessage *roundtrip(ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	protobuf_c_message_pack(m, buf);
	ProtobufCMessage *back = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	protobuf_c_message_free_unpacked(m, NULL);
	assert_non_null(back);
	return back;
}

static void test_plugin_info(void **state)
{
	(void)state;
	struct identity id = { .name = IDENTITY_DRIVER_NAME, .version = "1.2.3" };
	ProtobufCMessage *resp = NULL;
	struct status st = STATUS_INIT;
	assert_int_equal(identity_get_plugin_info(&id, NULL, NULL, &resp, &st), 0);
	Csi__V1__GetPluginInfoResponse *r = (void *)roundtrip(resp);
	assert_string_equal(r->name, "ebs.csi.aws.com");
	assert_string_equal(r->vendor_version, "1.2.3");
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static int count_caps(bool controller, bool *has_ctrl, bool *has_topo, bool *online)
{
	struct identity id = { .name = IDENTITY_DRIVER_NAME, .version = "v", .controller = controller };
	ProtobufCMessage *resp = NULL;
	struct status st = STATUS_INIT;
	assert_int_equal(identity_get_plugin_capabilities(&id, NULL, NULL, &resp, &st), 0);
	Csi__V1__GetPluginCapabilitiesResponse *r = (void *)roundtrip(resp);
	*has_ctrl = *has_topo = *online = false;
	for (size_t i = 0; i < r->n_capabilities; i++) {
		Csi__V1__PluginCapability *c = r->capabilities[i];
		if (c->type_case == CSI__V1__PLUGIN_CAPABILITY__TYPE_SERVICE) {
			if (c->service->type == CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__CONTROLLER_SERVICE)
				*has_ctrl = true;
			if (c->service->type == CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__VOLUME_ACCESSIBILITY_CONSTRAINTS)
				*has_topo = true;
		} else if (c->type_case == CSI__V1__PLUGIN_CAPABILITY__TYPE_VOLUME_EXPANSION) {
			*online = c->volume_expansion->type == CSI__V1__PLUGIN_CAPABILITY__VOLUME_EXPANSION__TYPE__ONLINE;
		}
	}
	int n = (int)r->n_capabilities;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return n;
}

static void test_capabilities(void **state)
{
	(void)state;
	bool ctrl, topo, online;
	assert_int_equal(count_caps(true, &ctrl, &topo, &online), 3);
	assert_true(ctrl && topo && online);
	assert_int_equal(count_caps(false, &ctrl, &topo, &online), 2);
	assert_false(ctrl);
	assert_true(topo && online);
}

static int unhealthy(void *ctx, struct status *st)
{
	(void)ctx;
	return status_set(st, STATUS_FAILED_PRECONDITION, "EC2 unreachable: check the endpoint");
}

static void test_probe(void **state)
{
	(void)state;
	struct identity id = { .name = IDENTITY_DRIVER_NAME, .version = "v" };
	ProtobufCMessage *resp = NULL;
	struct status st = STATUS_INIT;
	assert_int_equal(identity_probe(&id, NULL, NULL, &resp, &st), 0);
	Csi__V1__ProbeResponse *r = (void *)roundtrip(resp);
	assert_non_null(r->ready);
	assert_true(r->ready->value);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	id.health = unhealthy;
	resp = NULL;
	assert_int_equal(identity_probe(&id, NULL, NULL, &resp, &st), -1);
	assert_null(resp);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
}

static const struct csi_method *find(const struct csi_method *t, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].path, path) == 0)
			return &t[i];
	return NULL;
}

static void test_table_per_mode(void **state)
{
	(void)state;
	struct identity id = { .name = IDENTITY_DRIVER_NAME, .version = "v" };
	struct csi_method t[CSI_SERVICES_MAX];
	for (int mode = CSI_MODE_CONTROLLER; mode <= CSI_MODE_ALL; mode++) {
		struct csi_services s = { .mode = mode, .identity = &id };
		size_t n = csi_services_table(&s, t);
		/* 3 Identity + 14 Controller + 8 Node unary methods of CSI v1.10 */
		assert_int_equal(n, 25);
		for (size_t i = 0; i < n; i++) {
			assert_non_null(t[i].request);
			for (size_t k = i + 1; k < n; k++)
				assert_string_not_equal(t[i].path, t[k].path);
		}
		const struct csi_method *probe = find(t, n, "/csi.v1.Identity/Probe");
		assert_non_null(probe);
		assert_non_null(probe->handler);
		assert_ptr_equal(probe->svc, &id);
		assert_int_equal(probe->lane, CSI_LANE_FAST);
		assert_ptr_equal(probe->request, &csi__v1__probe_request__descriptor);
		const struct csi_method *info = find(t, n, "/csi.v1.Node/NodeGetInfo");
		assert_non_null(info);
		assert_int_equal(info->lane, CSI_LANE_FAST);
		const struct csi_method *cv = find(t, n, "/csi.v1.Controller/CreateVolume");
		assert_non_null(cv);
		assert_int_equal(cv->lane, CSI_LANE_SLOW);
		assert_ptr_equal(cv->request, &csi__v1__create_volume_request__descriptor);
	}
	assert_int_equal(csi_mode_parse("controller"), CSI_MODE_CONTROLLER);
	assert_int_equal(csi_mode_parse("node"), CSI_MODE_NODE);
	assert_int_equal(csi_mode_parse("all"), CSI_MODE_ALL);
	assert_int_equal(csi_mode_parse("All"), -1);
	assert_string_equal(csi_mode_name(CSI_MODE_NODE), "node");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plugin_info),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_table_per_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
