/*
 * Tests of the gRPC server (csi-proto/server.c) through a real C-core client on
 * a unix socket: method table dispatch, status mapping, the fast lane staying
 * available while the slow lane is saturated, queue bounds, deadlines,
 * cancellation, graceful and forced shutdown, and socket handling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/xalloc.h"
#include "csi-proto/identity.h"
#include "csi-proto/server.h"
#include "csi.pb-c.h"
#include "helper_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SLOW "/csi.v1.Controller/CreateVolume"
#define WAITDONE "/csi.v1.Controller/DeleteVolume"
#define FAILING "/csi.v1.Controller/ControllerPublishVolume"
#define NORESP "/csi.v1.Controller/ControllerUnpublishVolume"
#define NOCODE "/csi.v1.Controller/ValidateVolumeCapabilities"
#define SLEEPY "/csi.v1.Controller/ListVolumes"
#define PROBE "/csi.v1.Identity/Probe"
#define NODEINFO "/csi.v1.Node/NodeGetInfo"
#define STALE "/csi.v1.Controller/CreateSnapshot"

/* Shared with the handlers; reset per test. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int entered, released, saw_done;

static struct identity test_identity = { .name = IDENTITY_DRIVER_NAME, .version = "test", .controller = true };

static void reset(void)
{
	pthread_mutex_lock(&mu);
	entered = released = saw_done = 0;
	pthread_mutex_unlock(&mu);
}

static ProtobufCMessage *empty_create_response(void)
{
	Csi__V1__CreateVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__create_volume_response__init(r);
	return &r->base;
}

/* Blocks until the test releases it. */
static int h_slow(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		  struct status *st)
{
	(void)svc, (void)rc, (void)req, (void)st;
	pthread_mutex_lock(&mu);
	entered++;
	pthread_cond_broadcast(&cv);
	while (!released)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	*resp = empty_create_response();
	return 0;
}

/* Blocks until the call is cancelled or its deadline passes. */
static int h_waitdone(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		      struct status *st)
{
	(void)svc, (void)req, (void)resp;
	pthread_mutex_lock(&mu);
	entered++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	while (!rpc_done(rc))
		usleep(5000);
	pthread_mutex_lock(&mu);
	saw_done++;
	pthread_mutex_unlock(&mu);
	return status_set(st, STATUS_ABORTED, "gave up");
}

static int h_failing(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		     struct status *st)
{
	(void)svc, (void)rc, (void)resp;
	const Csi__V1__ControllerPublishVolumeRequest *r = (const void *)req;
	return status_set(st, STATUS_NOT_FOUND, "volume %s not found", r->volume_id);
}

/* Succeeds after a step that failed and was retried left its reason in st. */
static int h_stale_status(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
			  struct status *st)
{
	(void)svc, (void)rc, (void)req;
	status_set(st, STATUS_UNAVAILABLE, "RequestLimitExceeded (retried)");
	*resp = empty_create_response();
	return 0;
}

static int h_noresp(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		    struct status *st)
{
	(void)svc, (void)rc, (void)req, (void)resp, (void)st;
	return 0;
}

static int h_nocode(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		    struct status *st)
{
	(void)svc, (void)rc, (void)req, (void)resp, (void)st;
	return -1;
}

static int h_sleepy(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req, ProtobufCMessage **resp,
		    struct status *st)
{
	(void)svc, (void)rc, (void)req, (void)st;
	usleep(300 * 1000);
	Csi__V1__ListVolumesResponse *r = xmalloc(sizeof *r);
	csi__v1__list_volumes_response__init(r);
	r->next_token = xstrdup("done");
	*resp = &r->base;
	return 0;
}

static const struct csi_method table[] = {
	{ PROBE, &csi__v1__probe_request__descriptor, identity_probe, &test_identity, CSI_LANE_FAST },
	{ SLOW, &csi__v1__create_volume_request__descriptor, h_slow, NULL, CSI_LANE_SLOW },
	{ WAITDONE, &csi__v1__delete_volume_request__descriptor, h_waitdone, NULL, CSI_LANE_SLOW },
	{ FAILING, &csi__v1__controller_publish_volume_request__descriptor, h_failing, NULL, CSI_LANE_SLOW },
	{ NORESP, &csi__v1__controller_unpublish_volume_request__descriptor, h_noresp, NULL, CSI_LANE_SLOW },
	{ NOCODE, &csi__v1__validate_volume_capabilities_request__descriptor, h_nocode, NULL, CSI_LANE_SLOW },
	{ SLEEPY, &csi__v1__list_volumes_request__descriptor, h_sleepy, NULL, CSI_LANE_SLOW },
	{ NODEINFO, &csi__v1__node_get_info_request__descriptor, NULL, NULL, CSI_LANE_FAST },
	{ STALE, &csi__v1__create_snapshot_request__descriptor, h_stale_status, NULL, CSI_LANE_SLOW },
};

/* Observer: counts answered calls by code. */
static atomic_int observed[17];
static atomic_long observed_us;

static void observe(void *ctx, const char *method, int code, int64_t duration_us)
{
	(void)ctx;
	assert_non_null(method);
	if (code >= 0 && code < 17)
		atomic_fetch_add(&observed[code], 1);
	atomic_fetch_add(&observed_us, (long)duration_us);
}

struct fixture {
	char dir[64];
	char sock[128];
	char endpoint[160];
	char target[160];
	struct csi_server *srv;
	struct tclient *cl;
};

static struct fixture *fixture_start(int slow, int fast, int max_queued)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/ebs-srv-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof f->sock, "%s/sub/csi.sock", f->dir);
	snprintf(f->endpoint, sizeof f->endpoint, "unix://%s", f->sock);
	snprintf(f->target, sizeof f->target, "unix:%s", f->sock);
	struct csi_server_opts o = { .endpoint = f->endpoint, .slow_workers = slow, .fast_workers = fast,
				     .max_queued = max_queued, .observer = observe };
	struct status st = STATUS_INIT;
	f->srv = csi_server_start(table, sizeof table / sizeof table[0], &o, &st);
	if (f->srv == NULL)
		fail_msg("server start: %s", st.msg);
	f->cl = tclient_new(f->target);
	reset();
	return f;
}

/* Frees the client and the directories; the server must already be stopped. */
static void fixture_free(struct fixture *f)
{
	tclient_free(f->cl);
	char sub[96];
	snprintf(sub, sizeof sub, "%s/sub", f->dir);
	rmdir(sub);
	rmdir(f->dir);
	free(f);
}

static void fixture_stop(struct fixture *f)
{
	csi_server_stop(f->srv, 1000);
	fixture_free(f);
}

static int call_probe(struct fixture *f)
{
	void *resp = NULL;
	size_t len = 0;
	int code = tclient_call(f->cl, PROBE, "", 0, 10000, &resp, &len, NULL);
	if (code == 0) {
		Csi__V1__ProbeResponse *r = csi__v1__probe_response__unpack(NULL, len, resp);
		assert_non_null(r);
		assert_non_null(r->ready);
		assert_true(r->ready->value);
		csi__v1__probe_response__free_unpacked(r, NULL);
	}
	free(resp);
	return code;
}

struct slow_arg {
	struct fixture *f;
	const char *method;
	int timeout_ms;
	int code;
	char *details;
};

static void *slow_caller(void *p)
{
	struct slow_arg *a = p;
	a->code = tclient_call(a->f->cl, a->method, "", 0, a->timeout_ms, NULL, NULL, &a->details);
	return NULL;
}

static void wait_entered(int n)
{
	pthread_mutex_lock(&mu);
	while (entered < n)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

/* Waits until the server holds n calls (running + queued); bounded so a broken
 * server fails the test instead of hanging it. */
static void wait_inflight(struct fixture *f, int n)
{
	for (int i = 0; i < 3000 && csi_server_inflight(f->srv) < n; i++)
		usleep(10 * 1000);
	assert_int_equal(csi_server_inflight(f->srv), n);
}

static void release_all(void)
{
	pthread_mutex_lock(&mu);
	released = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_endpoint_parse(void **state)
{
	(void)state;
	char *addr, *path;
	struct status st = STATUS_INIT;
	assert_int_equal(csi_endpoint_parse("unix:///var/lib/csi.sock", &addr, &path, &st), 0);
	assert_string_equal(addr, "unix:/var/lib/csi.sock");
	assert_string_equal(path, "/var/lib/csi.sock");
	free(addr), free(path);
	/* upstream's default spelling, unix://tmp/csi.sock, is /tmp/csi.sock */
	assert_int_equal(csi_endpoint_parse("unix://tmp/csi.sock", &addr, &path, &st), 0);
	assert_string_equal(path, "/tmp/csi.sock");
	free(addr), free(path);
	/* upstream's node manifests say unix:/csi/csi.sock */
	assert_int_equal(csi_endpoint_parse("unix:/csi/csi.sock", &addr, &path, &st), 0);
	assert_string_equal(path, "/csi/csi.sock");
	assert_string_equal(addr, "unix:/csi/csi.sock");
	free(addr), free(path);
	assert_int_equal(csi_endpoint_parse("tcp://127.0.0.1:10000", &addr, &path, &st), 0);
	assert_string_equal(addr, "127.0.0.1:10000");
	assert_null(path);
	free(addr);
	const char *bad[] = { "", "http://x:1", "tcp://host", "tcp://host:", "tcp://:1x", "tcp://h:12a", "unix://",
			      "unix:", "/tmp/csi.sock" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		status_clear(&st);
		assert_int_equal(csi_endpoint_parse(bad[i], &addr, &path, &st), -1);
		assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
		assert_null(addr);
		assert_null(path);
	}
	char longp[200];
	memset(longp, 'a', sizeof longp);
	memcpy(longp, "unix:///", 8);
	longp[sizeof longp - 1] = '\0';
	assert_int_equal(csi_endpoint_parse(longp, &addr, &path, &st), -1);
	assert_non_null(strstr(st.msg, "longer than"));
}

static void test_dispatch_and_status_mapping(void **state)
{
	(void)state;
	struct fixture *f = fixture_start(4, 2, 100);
	assert_int_equal(call_probe(f), 0);

	char *details = NULL;
	/* NULL handler → UNIMPLEMENTED */
	assert_int_equal(tclient_call(f->cl, NODEINFO, "", 0, 5000, NULL, NULL, &details), STATUS_UNIMPLEMENTED);
	assert_non_null(strstr(details, NODEINFO));
	free(details);
	/* unknown path → UNIMPLEMENTED */
	assert_int_equal(tclient_call(f->cl, "/x.Y/Z", "", 0, 5000, NULL, NULL, &details), STATUS_UNIMPLEMENTED);
	assert_non_null(strstr(details, "/x.Y/Z"));
	free(details);

	/* handler status and message pass through */
	Csi__V1__ControllerPublishVolumeRequest pr = CSI__V1__CONTROLLER_PUBLISH_VOLUME_REQUEST__INIT;
	pr.volume_id = "vol-123";
	uint8_t buf[64];
	size_t len = csi__v1__controller_publish_volume_request__pack(&pr, buf);
	assert_int_equal(tclient_call(f->cl, FAILING, buf, len, 5000, NULL, NULL, &details), STATUS_NOT_FOUND);
	assert_string_equal(details, "volume vol-123 not found");
	free(details);

	/* the return value decides: a handler that succeeded is OK whatever
	 * an earlier, retried step left in its status */
	assert_int_equal(tclient_call(f->cl, STALE, "", 0, 5000, NULL, NULL, &details), STATUS_OK);
	free(details);

	/* success without a response, and failure without a code, are INTERNAL */
	assert_int_equal(tclient_call(f->cl, NORESP, "", 0, 5000, NULL, NULL, &details), STATUS_INTERNAL);
	free(details);
	assert_int_equal(tclient_call(f->cl, NOCODE, "", 0, 5000, NULL, NULL, &details), STATUS_INTERNAL);
	free(details);

	/* undecodable request and missing request → INVALID_ARGUMENT, server still serving */
	assert_int_equal(tclient_call(f->cl, PROBE, "\xff\xff\xff", 3, 5000, NULL, NULL, &details),
			 STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(details, "csi.v1.ProbeRequest"));
	free(details);
	assert_int_equal(tclient_call(f->cl, PROBE, NULL, 0, 5000, NULL, NULL, &details), STATUS_INVALID_ARGUMENT);
	free(details);
	assert_int_equal(call_probe(f), 0);

	/* a heap response with strings round-trips */
	void *resp = NULL;
	assert_int_equal(tclient_call(f->cl, SLEEPY, "", 0, 5000, &resp, &len, NULL), 0);
	Csi__V1__ListVolumesResponse *lr = csi__v1__list_volumes_response__unpack(NULL, len, resp);
	assert_string_equal(lr->next_token, "done");
	csi__v1__list_volumes_response__free_unpacked(lr, NULL);
	free(resp);
	assert_true(csi_server_calls_total(f->srv) >= 10);
	fixture_stop(f);
	/* The observer saw each answer with its code. */
	assert_true(atomic_load(&observed[STATUS_OK]) >= 3);
	assert_true(atomic_load(&observed[STATUS_UNIMPLEMENTED]) >= 2);
	assert_true(atomic_load(&observed[STATUS_NOT_FOUND]) >= 1);
	assert_true(atomic_load(&observed[STATUS_INVALID_ARGUMENT]) >= 2);
	assert_true(atomic_load(&observed_us) > 0);
}

/* With every slow worker blocked and more slow calls queued, the fast lane answers. */
static void test_fast_lane_unaffected_by_64_slow_calls(void **state)
{
	(void)state;
	enum { NSLOW = 64, WORKERS = 8 };
	struct fixture *f = fixture_start(WORKERS, 2, 1000);
	static pthread_t th[NSLOW];
	static struct slow_arg args[NSLOW];
	for (int i = 0; i < NSLOW; i++) {
		args[i] = (struct slow_arg){ f, SLOW, 60000, -1, NULL };
		pthread_create(&th[i], NULL, slow_caller, &args[i]);
	}
	wait_entered(WORKERS);
	wait_inflight(f, NSLOW);
	pthread_mutex_lock(&mu);
	assert_int_equal(entered, WORKERS); /* the pool bound holds */
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 50; i++)
		assert_int_equal(call_probe(f), 0);
	release_all();
	for (int i = 0; i < NSLOW; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].code, 0);
		free(args[i].details);
	}
	assert_int_equal(entered, NSLOW);
	fixture_stop(f);
}

static void test_queue_bound_gives_resource_exhausted(void **state)
{
	(void)state;
	struct fixture *f = fixture_start(1, 1, 3);
	enum { N = 4 };
	static pthread_t th[N];
	static struct slow_arg args[N];
	/* The first call must be running before the others queue behind it. */
	for (int i = 0; i < N; i++) {
		args[i] = (struct slow_arg){ f, SLOW, 60000, -1, NULL };
		pthread_create(&th[i], NULL, slow_caller, &args[i]);
		if (i == 0)
			wait_entered(1);
	}
	wait_inflight(f, N); /* one running, three queued */
	char *details = NULL;
	assert_int_equal(tclient_call(f->cl, SLOW, "", 0, 5000, NULL, NULL, &details), STATUS_RESOURCE_EXHAUSTED);
	free(details);
	release_all();
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].code, 0);
		free(args[i].details);
	}
	fixture_stop(f);
}

/* A call whose deadline passes while it waits for a worker never runs. */
static void test_expired_queued_call_is_not_run(void **state)
{
	(void)state;
	struct fixture *f = fixture_start(1, 1, 100);
	static pthread_t t1;
	static struct slow_arg a1;
	a1 = (struct slow_arg){ f, SLOW, 60000, -1, NULL };
	pthread_create(&t1, NULL, slow_caller, &a1);
	wait_entered(1);
	char *details = NULL;
	assert_int_equal(tclient_call(f->cl, SLOW, "", 0, 200, NULL, NULL, &details), STATUS_DEADLINE_EXCEEDED);
	free(details);
	release_all();
	pthread_join(t1, NULL);
	assert_int_equal(a1.code, 0);
	/* Give the worker time to pick up the expired call; it must not enter. */
	assert_int_equal(call_probe(f), 0);
	usleep(100 * 1000);
	pthread_mutex_lock(&mu);
	assert_int_equal(entered, 1);
	pthread_mutex_unlock(&mu);
	free(a1.details);
	fixture_stop(f);
}

/* A handler sees the deadline through rpc_done() and can stop waiting. */
static void test_handler_sees_deadline(void **state)
{
	(void)state;
	struct fixture *f = fixture_start(2, 1, 100);
	char *details = NULL;
	assert_int_equal(tclient_call(f->cl, WAITDONE, "", 0, 300, NULL, NULL, &details), STATUS_DEADLINE_EXCEEDED);
	free(details);
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&mu);
		int done = saw_done;
		pthread_mutex_unlock(&mu);
		if (done)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(saw_done, 1);
	fixture_stop(f);
}

/* Graceful stop: a call in flight finishes inside the grace period. */
static void test_stop_lets_inflight_finish(void **state)
{
	(void)state;
	struct fixture *f = fixture_start(2, 1, 100);
	static pthread_t t;
	static struct slow_arg a;
	a = (struct slow_arg){ f, SLEEPY, 10000, -1, NULL };
	pthread_create(&t, NULL, slow_caller, &a);
	usleep(100 * 1000);
	struct csi_server *srv = f->srv;
	assert_int_equal(csi_server_stop(srv, 5000), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.code, 0);
	free(a.details);
	struct stat sb;
	assert_int_equal(stat(f->sock, &sb), -1); /* socket removed */
	fixture_free(f);
}

/* Forced stop: a call still running after the grace period is cancelled, and
 * the handler learns it through rpc_done(). */
static void test_stop_cancels_after_grace(void **state)
{
	(void)state;
	struct fixture *f = fixture_start(2, 1, 100);
	static pthread_t t;
	static struct slow_arg a;
	a = (struct slow_arg){ f, WAITDONE, 60000, -1, NULL };
	pthread_create(&t, NULL, slow_caller, &a);
	wait_entered(1);
	assert_int_equal(csi_server_stop(f->srv, 200), 1);
	pthread_join(t, NULL);
	assert_int_not_equal(a.code, 0);
	assert_int_equal(saw_done, 1);
	free(a.details);
	fixture_free(f);
}

static void test_socket_handling(void **state)
{
	(void)state;
	struct fixture *f = fixture_start(1, 1, 10);
	struct stat sb;
	assert_int_equal(stat(f->sock, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0660);

	/* A live socket is not taken over. */
	struct csi_server_opts o = { .endpoint = f->endpoint, .slow_workers = 1, .fast_workers = 1, .max_queued = 1 };
	struct status st = STATUS_INIT;
	assert_null(csi_server_start(table, 1, &o, &st));
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "another process"));
	assert_int_equal(call_probe(f), 0);
	fixture_stop(f);

	/* A stale socket (bound, nobody listening) is replaced. */
	char dir[] = "/tmp/ebs-srv-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[96], ep[128];
	snprintf(path, sizeof path, "%s/csi.sock", dir);
	snprintf(ep, sizeof ep, "unix://%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	o.endpoint = ep;
	struct csi_server *srv = csi_server_start(table, 1, &o, &st);
	assert_non_null(srv);
	csi_server_stop(srv, 100);

	/* A regular file is never removed. */
	FILE *fp = fopen(path, "w");
	fputs("data", fp);
	fclose(fp);
	status_clear(&st);
	assert_null(csi_server_start(table, 1, &o, &st));
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "not a socket"));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 4);
	unlink(path);
	rmdir(dir);
}

static void test_bad_options_rejected(void **state)
{
	(void)state;
	struct csi_server_opts o = { .endpoint = "unix:///tmp/ebs-never.sock", .slow_workers = 0, .fast_workers = 1 };
	struct status st = STATUS_INIT;
	assert_null(csi_server_start(table, 1, &o, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	o.slow_workers = 1;
	o.endpoint = "ftp://x";
	assert_null(csi_server_start(table, 1, &o, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_parse),
		cmocka_unit_test(test_dispatch_and_status_mapping),
		cmocka_unit_test(test_fast_lane_unaffected_by_64_slow_calls),
		cmocka_unit_test(test_queue_bound_gives_resource_exhausted),
		cmocka_unit_test(test_expired_queued_call_is_not_run),
		cmocka_unit_test(test_handler_sees_deadline),
		cmocka_unit_test(test_stop_lets_inflight_finish),
		cmocka_unit_test(test_stop_cancels_after_grace),
		cmocka_unit_test(test_socket_handling),
		cmocka_unit_test(test_bad_options_rejected),
	};
	/* CMOCKA_FILTER=glob runs a subset, for debugging. */
	if (getenv("CMOCKA_FILTER") != NULL)
		cmocka_set_test_filter(getenv("CMOCKA_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
