/*
 * test_k8s_live: the k8s/ client and features against a real HTTPS server —
 * the fake API server of tests/integration/test_k8s_api.py, which sets up one
 * scenario, runs one of these tests by name (K8S_TEST_FILTER) and then checks
 * what the server saw. Without K8S_TEST_KUBECONFIG every test skips, so the
 * plain unit run stays green.
 *
 * Environment: K8S_TEST_KUBECONFIG (kubeconfig for the fake server),
 * K8S_TEST_TOKEN (the bearer token, asserted absent from every message; the
 * pytest checks the logs, printed at -v 10, the same way), K8S_TEST_NODE,
 * K8S_TEST_SA_DIR (a service-account directory for the in-cluster test).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/log.h"
#include "k8s/features.h"
#include "k8s/k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static struct k8s_client *live_client(void)
{
	const char *kc = env("K8S_TEST_KUBECONFIG");
	if (kc == NULL)
		return NULL;
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;
	if (k8s_config_load(kc, &cfg, &st) != 0) {
		print_error("config: %s\n", st.msg);
		fail();
	}
	struct k8s_client_options o = { .user_agent_version = "test", .backoff_initial_ms = 50, .backoff_max_ms = 400 };
	struct k8s_client *c = k8s_client_new(&cfg, &o);
	k8s_config_dispose(&cfg);
	return c;
}

#define LIVE_CLIENT(c)                      \
	struct k8s_client *c = live_client(); \
	if (c == NULL) {                     \
		skip();                       \
		return;                       \
	}

static const char *node_name(void) { return env("K8S_TEST_NODE") ? env("K8S_TEST_NODE") : "node-a"; }

/* Never the token in a message. */
static void assert_no_token(const struct status *st)
{
	const char *tok = env("K8S_TEST_TOKEN");
	/* Its head is enough to find a leak, whole or cut. */
	char head[17];
	snprintf(head, sizeof head, "%s", tok ? tok : "");
	if (tok != NULL && strlen(tok) >= 16 && strstr(st->msg, head) != NULL) {
		print_error("the token leaked into: %s\n", st->msg);
		fail();
	}
	if (strstr(st->msg, "Bearer") != NULL) {
		print_error("an Authorization header leaked into: %s\n", st->msg);
		fail();
	}
}

static void assert_msg_has(const struct status *st, const char *needle)
{
	if (strstr(st->msg, needle) == NULL) {
		print_error("message \"%s\" lacks \"%s\"\n", st->msg, needle);
		fail();
	}
}

static struct rpc_ctx deadline_in(int64_t ms)
{
	struct rpc_ctx rc = { .method = "test", .deadline_ms = rpc_now_ms() + ms, .cancelled = NULL };
	return rc;
}

static void live_instance_info(void **state)
{
	(void)state;
	LIVE_CLIENT(c);
	struct instance_info ii;
	struct status st = STATUS_INIT;
	struct rpc_ctx rc = deadline_in(10000);
	assert_int_equal(k8s_get_instance_info(c, node_name(), &rc, &ii, &st), 0);
	assert_string_equal(ii.instance_id, "i-0123456789abcdef0");
	assert_string_equal(ii.instance_type, "m5.large");
	assert_string_equal(ii.region, "us-west-2");
	assert_string_equal(ii.availability_zone, "us-west-2b");
	/* A Node that does not exist. */
	assert_int_equal(k8s_get_instance_info(c, "node-missing", &rc, &ii, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_msg_has(&st, "instance metadata from node node-missing: k8s: get nodes/node-missing: not found");
	k8s_client_free(c);
}

static void live_unauthorized(void **state)
{
	(void)state;
	LIVE_CLIENT(c);
	struct status st = STATUS_INIT;
	struct rpc_ctx rc = deadline_in(10000);
	json_t *out = NULL;
	char path[300];
	snprintf(path, sizeof path, "/api/v1/nodes/%s", node_name());
	assert_int_equal(k8s_get(c, path, &rc, &out, &st), -1);
	assert_int_equal(st.code, STATUS_UNAUTHENTICATED);
	assert_msg_has(&st, "k8s: get nodes/");
	assert_msg_has(&st, "(HTTP 401)");
	assert_msg_has(&st, "[redacted]"); /* the server echoed the token */
	assert_no_token(&st);
	/* The pre-stop hook reports it too, without retrying. */
	assert_int_equal(k8s_prestop_wait(c, node_name(), &rc, &st), -1);
	assert_int_equal(st.code, STATUS_UNAUTHENTICATED);
	assert_no_token(&st);
	k8s_client_free(c);
}

static void live_forbidden(void **state)
{
	(void)state;
	LIVE_CLIENT(c);
	struct status st = STATUS_INIT;
	/* RBAC without patch on nodes: the watcher gives up at once, cleanly. */
	struct k8s_taint_watcher *w = k8s_taint_watcher_start(c, node_name(), 10000, &st);
	assert_non_null(w);
	int64_t t0 = rpc_now_ms();
	while (!k8s_taint_watcher_done(w) && rpc_now_ms() - t0 < 10000) {
		struct rpc_ctx none = deadline_in(50);
		k8s_sleep(50, &none);
	}
	assert_true(k8s_taint_watcher_done(w));
	k8s_taint_watcher_stop(w, &st);
	assert_int_equal(st.code, STATUS_PERMISSION_DENIED);
	assert_msg_has(&st, "k8s: patch nodes/");
	assert_msg_has(&st, "(HTTP 403)");
	assert_msg_has(&st, "cannot patch resource");
	assert_no_token(&st);
	k8s_client_free(c);
}

static void live_taint_removal(void **state)
{
	(void)state;
	LIVE_CLIENT(c);
	struct status st = STATUS_INIT;
	struct k8s_taint_watcher *w = k8s_taint_watcher_start(c, node_name(), 30000, &st);
	assert_non_null(w);
	int64_t t0 = rpc_now_ms();
	while (!k8s_taint_watcher_done(w) && rpc_now_ms() - t0 < 30000) {
		struct rpc_ctx none = deadline_in(50);
		k8s_sleep(50, &none);
	}
	k8s_taint_watcher_stop(w, &st);
	if (st.code != STATUS_OK)
		print_error("taint watcher: %s\n", st.msg);
	assert_int_equal(st.code, STATUS_OK);
	k8s_client_free(c);
}

static void live_taint_cancel(void **state)
{
	(void)state;
	LIVE_CLIENT(c);
	struct status st = STATUS_INIT;
	/* The driver never registers: stopping must not wait for the watch. */
	struct k8s_taint_watcher *w = k8s_taint_watcher_start(c, node_name(), 0, &st);
	assert_non_null(w);
	struct rpc_ctx none = deadline_in(1500);
	k8s_sleep(1500, &none);
	assert_false(k8s_taint_watcher_done(w));
	int64_t t0 = rpc_now_ms();
	k8s_taint_watcher_stop(w, &st);
	assert_true(rpc_now_ms() - t0 < 3000);
	assert_int_equal(st.code, STATUS_CANCELLED);
	k8s_client_free(c);
}

static void live_prestop_wait(void **state)
{
	(void)state;
	LIVE_CLIENT(c);
	struct status st = STATUS_INIT;
	struct rpc_ctx rc = deadline_in(30000);
	int r = k8s_prestop_wait(c, node_name(), &rc, &st);
	if (r != 0)
		print_error("pre-stop: %s\n", st.msg);
	assert_int_equal(r, 0);
	k8s_client_free(c);
}

static void live_prestop_timeout(void **state)
{
	(void)state;
	LIVE_CLIENT(c);
	struct status st = STATUS_INIT;
	struct rpc_ctx rc = deadline_in(2000);
	int64_t t0 = rpc_now_ms();
	assert_int_equal(k8s_prestop_wait(c, node_name(), &rc, &st), -1);
	int64_t took = rpc_now_ms() - t0;
	assert_true(took >= 1900 && took < 5000);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_msg_has(&st, "1 VolumeAttachment(s) of node");
	assert_msg_has(&st, "va-stuck");
	k8s_client_free(c);
}

static void live_retries(void **state)
{
	(void)state;
	LIVE_CLIENT(c);
	struct status st = STATUS_INIT;
	struct rpc_ctx rc = deadline_in(20000);
	json_t *out = NULL;
	char path[300];
	snprintf(path, sizeof path, "/api/v1/nodes/%s", node_name());
	int64_t t0 = rpc_now_ms();
	/* 503, 500, then 429 with Retry-After: 1, then the Node. */
	assert_int_equal(k8s_get(c, path, &rc, &out, &st), 0);
	assert_true(rpc_now_ms() - t0 >= 1000);
	json_decref(out);
	/* Paginated LIST: three attachments over pages of two. */
	json_t *items = NULL;
	char *rv = NULL;
	assert_int_equal(k8s_list(c, "/apis/storage.k8s.io/v1/volumeattachments", &rc, &items, &rv, &st), 0);
	assert_int_equal(json_array_size(items), 3);
	assert_true(rv[0] != '\0');
	json_decref(items);
	free(rv);
	/* 409 on GET is retried too; a deadline shorter than the backoff ends it. */
	struct rpc_ctx short_rc = deadline_in(300);
	assert_int_equal(k8s_get(c, "/api/v1/nodes/always-busy", &short_rc, &out, &st), -1);
	assert_true(st.code == STATUS_ABORTED || st.code == STATUS_DEADLINE_EXCEEDED);
	k8s_client_free(c);
}

static void live_in_cluster(void **state)
{
	(void)state;
	const char *dir = env("K8S_TEST_SA_DIR");
	if (dir == NULL) {
		skip();
		return;
	}
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_config_in_cluster(dir, &cfg, &st), 0);
	struct k8s_client *c = k8s_client_new(&cfg, NULL);
	k8s_config_dispose(&cfg);
	struct rpc_ctx rc = deadline_in(10000);
	struct instance_info ii;
	assert_int_equal(k8s_get_instance_info(c, node_name(), &rc, &ii, &st), 0);
	/* kubelet rotates the projected token: the next request must send the new one. */
	char path[512];
	snprintf(path, sizeof path, "%s/token", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(env("K8S_TEST_TOKEN2") ? env("K8S_TEST_TOKEN2") : "rotated", f);
	fputs("\n", f);
	fclose(f);
	assert_int_equal(k8s_get_instance_info(c, node_name(), &rc, &ii, &st), 0);
	k8s_client_free(c);
}

static void live_tls_failure(void **state)
{
	(void)state;
	LIVE_CLIENT(c);
	struct status st = STATUS_INIT;
	struct rpc_ctx rc = deadline_in(10000);
	json_t *out = NULL;
	/* The kubeconfig's CA is not the server's: verification stays on and fails. */
	assert_int_equal(k8s_get(c, "/api/v1/nodes/x", &rc, &out, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_msg_has(&st, "TLS");
	k8s_client_free(c);
}

int main(void)
{
	log_configure(LOG_FORMAT_TEXT, 10);
	const char *filter = getenv("K8S_TEST_FILTER");
	if (filter != NULL && filter[0] != '\0')
		cmocka_set_test_filter(filter);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(live_instance_info),
		cmocka_unit_test(live_unauthorized),
		cmocka_unit_test(live_forbidden),
		cmocka_unit_test(live_taint_removal),
		cmocka_unit_test(live_taint_cancel),
		cmocka_unit_test(live_prestop_wait),
		cmocka_unit_test(live_prestop_timeout),
		cmocka_unit_test(live_retries),
		cmocka_unit_test(live_in_cluster),
		cmocka_unit_test(live_tls_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
