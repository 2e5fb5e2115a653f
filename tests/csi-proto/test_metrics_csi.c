/*
 * test_metrics_csi: csi-proto/metrics_csi — Go's gRPC code names, the
 * observer's two families (labels, buckets, seconds from microseconds,
 * "(unknown)" for a NULL method), and the observer wired into the real gRPC
 * server: calls answered OK, NOT_FOUND, UNIMPLEMENTED show up with their
 * codes, paths a client invents are all "(unknown)", and the exposition
 * passes promtool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/exec.h"
#include "common/xalloc.h"
#include "csi-proto/identity.h"
#include "csi-proto/metrics_csi.h"
#include "csi-proto/server.h"
#include "csi.pb-c.h"
#include "helper_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define V(...) ((const char *const[]){ __VA_ARGS__ })
#define PROBE "/csi.v1.Identity/Probe"
#define PUBLISH "/csi.v1.Controller/ControllerPublishVolume"
#define NODEINFO "/csi.v1.Node/NodeGetInfo"

static char *render(struct metrics *m)
{
	struct buf b;
	buf_init(&b);
	metrics_render(m, &b);
	char *s = buf_take(&b);
	buf_dispose(&b);
	return s;
}

static void test_code_names(void **state)
{
	(void)state;
	char b[24];
	assert_string_equal(metrics_csi_code_name(0, b, sizeof b), "OK");
	assert_string_equal(metrics_csi_code_name(1, b, sizeof b), "Canceled");
	assert_string_equal(metrics_csi_code_name(3, b, sizeof b), "InvalidArgument");
	assert_string_equal(metrics_csi_code_name(4, b, sizeof b), "DeadlineExceeded");
	assert_string_equal(metrics_csi_code_name(9, b, sizeof b), "FailedPrecondition");
	assert_string_equal(metrics_csi_code_name(14, b, sizeof b), "Unavailable");
	assert_string_equal(metrics_csi_code_name(16, b, sizeof b), "Unauthenticated");
	assert_string_equal(metrics_csi_code_name(17, b, sizeof b), "Code(17)");
	assert_string_equal(metrics_csi_code_name(-1, b, sizeof b), "Code(-1)");
}

static void test_observe(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_csi *mc = metrics_csi_new(m, "ebs.csi.aws.com", NULL, 0);
	metrics_csi_observe(mc, "/csi.v1.Node/NodeStageVolume", 0, 1500000);
	metrics_csi_observe(mc, "/csi.v1.Node/NodeStageVolume", 0, 20000);
	metrics_csi_observe(mc, "/csi.v1.Node/NodeStageVolume", 9, 700000000);
	metrics_csi_observe(mc, NULL, 12, -5);
	metrics_csi_observe(NULL, PROBE, 0, 1);  /* no context: ignored */
	struct metrics_family *total = metrics_find(m, METRICS_CSI_TOTAL);
	struct metrics_family *secs = metrics_find(m, METRICS_CSI_SECONDS);
	assert_true(metrics_value(total, V("ebs.csi.aws.com", "/csi.v1.Node/NodeStageVolume", "OK")) == 2);
	assert_true(metrics_value(total, V("ebs.csi.aws.com", "/csi.v1.Node/NodeStageVolume", "FailedPrecondition")) == 1);
	assert_true(metrics_value(total, V("ebs.csi.aws.com", "(unknown)", "Unimplemented")) == 1);
	assert_true(metrics_value(secs, V("ebs.csi.aws.com", "/csi.v1.Node/NodeStageVolume", "OK")) == 2);
	char *out = render(m);
#define S "{driver_name=\"ebs.csi.aws.com\",method_name=\"/csi.v1.Node/NodeStageVolume\",grpc_status_code=\"OK\""
	/* csi-lib-utils' buckets: 0.02 s lands in 0.1, 1.5 s in 2.5 */
	assert_non_null(strstr(out, "csi_plugin_operations_seconds_bucket" S ",le=\"0.1\"} 1\n"
					"csi_plugin_operations_seconds_bucket" S ",le=\"0.25\"} 1\n"
					"csi_plugin_operations_seconds_bucket" S ",le=\"0.5\"} 1\n"
					"csi_plugin_operations_seconds_bucket" S ",le=\"1\"} 1\n"
					"csi_plugin_operations_seconds_bucket" S ",le=\"2.5\"} 2\n"));
	assert_non_null(strstr(out, "csi_plugin_operations_seconds_bucket" S ",le=\"600\"} 2\n"
					"csi_plugin_operations_seconds_bucket" S ",le=\"+Inf\"} 2\n"
					"csi_plugin_operations_seconds_sum" S "} 1.52\n"
					"csi_plugin_operations_seconds_count" S "} 2\n"));
	/* 700 s is beyond the last bucket */
	assert_non_null(strstr(out, "grpc_status_code=\"FailedPrecondition\",le=\"600\"} 0\n"));
	assert_non_null(strstr(out, "csi_plugin_operations_total" S "} 2\n"));
	assert_non_null(strstr(out, "# TYPE csi_plugin_operations_total counter\n"));
	free(out);
	metrics_csi_free(mc);
	metrics_csi_free(NULL);
	metrics_free(m);
}

static struct identity test_identity = { .name = IDENTITY_DRIVER_NAME, .version = "test", .controller = true };

static int h_not_found(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		       struct status *st)
{
	(void)svc, (void)rc, (void)req, (void)resp;
	return status_set(st, STATUS_NOT_FOUND, "no such volume");
}

static const struct csi_method table[] = {
	{ PROBE, &csi__v1__probe_request__descriptor, identity_probe, &test_identity, CSI_LANE_FAST },
	{ PUBLISH, &csi__v1__controller_publish_volume_request__descriptor, h_not_found, NULL, CSI_LANE_SLOW },
	{ NODEINFO, &csi__v1__node_get_info_request__descriptor, NULL, NULL, CSI_LANE_FAST },
};

static void test_with_server(void **state)
{
	(void)state;
	char dir[] = "/tmp/metrics-csi-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char endpoint[128], target[128], sock[96];
	snprintf(sock, sizeof sock, "%s/csi.sock", dir);
	snprintf(endpoint, sizeof endpoint, "unix://%s", sock);
	snprintf(target, sizeof target, "unix:%s", sock);

	struct metrics *m = metrics_new();
	struct metrics_csi *mc = metrics_csi_new(m, IDENTITY_DRIVER_NAME, table, sizeof table / sizeof table[0]);
	struct csi_server_opts o = { .endpoint = endpoint, .slow_workers = 2, .fast_workers = 1, .max_queued = 16,
				     .observer = metrics_csi_observe, .observer_ctx = mc };
	struct status st = STATUS_INIT;
	struct csi_server *srv = csi_server_start(table, sizeof table / sizeof table[0], &o, &st);
	if (srv == NULL)
		fail_msg("server start: %s", st.msg);
	struct tclient *cl = tclient_new(target);
	for (int i = 0; i < 3; i++) {
		void *resp = NULL;
		size_t len = 0;
		assert_int_equal(tclient_call(cl, PROBE, "", 0, 10000, &resp, &len, NULL), STATUS_OK);
		free(resp);
	}
	assert_int_equal(tclient_call(cl, PUBLISH, "", 0, 10000, NULL, NULL, NULL), STATUS_NOT_FOUND);
	assert_int_equal(tclient_call(cl, NODEINFO, "", 0, 10000, NULL, NULL, NULL), STATUS_UNIMPLEMENTED);
	/* paths a client makes up are all "(unknown)", never series of their own */
	assert_int_equal(tclient_call(cl, "/csi.v1.Nope/Nothing", "", 0, 10000, NULL, NULL, NULL), STATUS_UNIMPLEMENTED);
	assert_int_equal(tclient_call(cl, "/csi.v1.Node/Made\"Up", "", 0, 10000, NULL, NULL, NULL), STATUS_UNIMPLEMENTED);
	tclient_free(cl);
	csi_server_stop(srv, 1000);  /* every observation is in once the server has stopped */

	struct metrics_family *total = metrics_find(m, METRICS_CSI_TOTAL);
	assert_true(metrics_value(total, V(IDENTITY_DRIVER_NAME, PROBE, "OK")) == 3);
	assert_true(metrics_value(total, V(IDENTITY_DRIVER_NAME, PUBLISH, "NotFound")) == 1);
	assert_true(metrics_value(total, V(IDENTITY_DRIVER_NAME, NODEINFO, "Unimplemented")) == 1);
	assert_true(metrics_value(total, V(IDENTITY_DRIVER_NAME, "(unknown)", "Unimplemented")) == 2);
	assert_int_equal(metrics_series_count(total), 4);

	char *out = render(m);
	if (access("/usr/bin/promtool", X_OK) == 0) {
		const char *argv[] = { "/usr/bin/promtool", "check", "metrics", NULL };
		struct exec_opts eo = { .timeout_ms = 30000, .stdin_data = out, .stdin_len = strlen(out) };
		struct exec_result res;
		assert_int_equal(exec_run(argv, &eo, &res, NULL), 0);
		if (res.exit_code != 0)
			fail_msg("promtool: %s%s\ninput:\n%s", res.out, res.err, out);
		exec_result_dispose(&res);
	}
	free(out);
	metrics_csi_free(mc);
	metrics_free(m);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_observe),
		cmocka_unit_test(test_with_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
