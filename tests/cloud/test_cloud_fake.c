/*
 * test_cloud_fake: the fake cloud keeps EC2's rules (zones, client-token
 * idempotency, attachment uniqueness and multi-attach, device names, attach
 * limits, VolumeInUse, NotFound everywhere), its waiters honour deadlines, and
 * its knobs (injected failures, delays, call counts, states) do what the
 * controller's tests will rely on. Everything goes through the cloud.h wrappers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/cloud_fake.h"
#include "common/rpc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_A "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

static struct rpc_ctx ctx_in(int64_t ms)
{
	struct rpc_ctx rc = { "/test", rpc_now_ms() + ms, NULL };
	return rc;
}

struct env {
	struct cloud_fake *f;
	struct cloud *c;
	struct cloud_tags tags;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof *e);
	e->f = cloud_fake_new();
	e->c = cloud_fake_cloud(e->f);
	cloud_fake_add_instance(e->f, "i-1", "us-east-1a", NULL);
	cloud_fake_add_instance(e->f, "i-2", "us-east-1a", "m5.large");
	cloud_fake_add_instance(e->f, "i-far", "us-east-1b", NULL);
	cloud_tags_init(&e->tags);
	cloud_tags_set(&e->tags, CLOUD_TAG_VOLUME_NAME, "pvc-1");
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	cloud_tags_dispose(&e->tags);
	cloud_free(e->c);  /* through the seam */
	free(e);
	return 0;
}

static struct cloud_disk_options gp3(const char *token, const struct cloud_tags *tags)
{
	struct cloud_disk_options o = { 0 };
	o.client_token = token;
	o.size_gib = 10;
	o.volume_type = "gp3";
	o.zone = "us-east-1a";
	o.tags = tags;
	return o;
}

/* Creates a gp3 volume and returns its id (heap). */
static char *make_volume(struct env *e, const char *token, const char *zone)
{
	struct cloud_disk_options o = gp3(token, NULL);
	o.zone = zone;
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), 0);
	char *id = strdup(d.volume_id);
	cloud_disk_dispose(&d);
	return id;
}

/* ---- create / idempotency ----------------------------------------------------- */

static void test_create_and_idempotency(void **state)
{
	struct env *e = *state;
	struct cloud_disk_options o = gp3(TOKEN_A, &e->tags);
	struct cloud_disk d, d2;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), 0);
	assert_non_null(d.volume_id);
	assert_true(strncmp(d.volume_id, "vol-", 4) == 0);
	assert_int_equal(d.size_gib, 10);
	assert_string_equal(d.zone, "us-east-1a");
	assert_string_equal(d.zone_id, "use1-az1");
	assert_int_equal(d.state, CLOUD_DISK_AVAILABLE);
	assert_string_equal(d.volume_type, "gp3");
	assert_int_equal(d.iops, 3000);
	assert_int_equal(d.throughput, 125);
	assert_string_equal(cloud_tags_get(&d.tags, CLOUD_TAG_VOLUME_NAME), "pvc-1");
	assert_true(d.create_time_ms > 0);

	/* Same token, same parameters: the same volume, nothing new. Even in
	 * another zone (EC2 ignores the zone in the comparison). */
	o.zone = "us-east-1b";
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d2, &st), 0);
	assert_string_equal(d2.volume_id, d.volume_id);
	assert_int_equal(cloud_fake_disk_count(e->f), 1);
	cloud_disk_dispose(&d2);

	/* Same token, other parameters. */
	o.size_gib = 20;
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d2, &st), -1);
	assert_int_equal(st.code, STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, "IdempotentParameterMismatch"));
	assert_null(d2.volume_id);
	cloud_disk_dispose(&d2);

	/* The volume goes away: EC2 refuses the token from then on. */
	o.size_gib = 10;
	assert_int_equal(cloud_delete_disk(e->c, NULL, d.volume_id, &st), 0);
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d2, &st), -1);
	assert_int_equal(st.code, STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, "already deleted"));
	cloud_disk_dispose(&d2);
	/* ... until EC2 forgets it. */
	cloud_fake_forget_tokens(e->f);
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d2, &st), 0);
	assert_string_not_equal(d2.volume_id, d.volume_id);
	cloud_disk_dispose(&d2);
	cloud_disk_dispose(&d);
}

static void test_create_validation(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	struct cloud_disk d;
	struct cloud_disk_options o = gp3("t-zone", NULL);
	o.zone = "us-east-1z";
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "InvalidZone.NotFound"));
	cloud_disk_dispose(&d);

	o = gp3("t-zoneid", NULL);
	o.zone = NULL;
	o.zone_id = "use1-az3";
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), 0);
	assert_string_equal(d.zone, "us-east-1c");
	cloud_disk_dispose(&d);

	o = gp3(NULL, NULL);
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	cloud_disk_dispose(&d);

	o = gp3("t-multi", NULL);
	o.multi_attach = true;
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	cloud_disk_dispose(&d);

	o = gp3("t-snap", NULL);
	o.snapshot_id = "snap-missing";
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_disk_dispose(&d);

	/* From a snapshot: size defaults to the snapshot's; smaller is refused. */
	cloud_fake_add_snapshot(e->f, "snap-src", "vol-gone", 30);
	o = gp3("t-snap2", NULL);
	o.snapshot_id = "snap-src";
	o.size_gib = 0;
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), 0);
	assert_int_equal(d.size_gib, 30);
	assert_string_equal(d.snapshot_id, "snap-src");
	cloud_disk_dispose(&d);
	o.client_token = "t-snap3";
	o.size_gib = 20;
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	cloud_disk_dispose(&d);

	/* io2 multi-attach is fine; KMS key implies encryption. */
	o = gp3("t-io2", NULL);
	o.volume_type = "io2";
	o.iops = 1000;
	o.multi_attach = true;
	o.kms_key_id = "arn:aws:kms:us-east-1:1:key/k";
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), 0);
	assert_true(d.multi_attach);
	assert_true(d.encrypted);
	assert_string_equal(d.kms_key_id, "arn:aws:kms:us-east-1:1:key/k");
	assert_int_equal(d.iops, 1000);
	cloud_disk_dispose(&d);
}

struct later {
	struct cloud_fake *f;
	char *vol;
	int64_t after_ms;
	int what;  /* 0: disk available, 1: attached, 2: modification completed, 3: disk removed */
};

static void *later_main(void *arg)
{
	struct later *l = arg;
	struct timespec ts = { 0, (long)l->after_ms * 1000000L };
	nanosleep(&ts, NULL);
	if (l->what == 0)
		cloud_fake_set_disk_state(l->f, l->vol, CLOUD_DISK_AVAILABLE);
	else if (l->what == 1)
		cloud_fake_set_attachment_state(l->f, l->vol, "i-1", CLOUD_ATTACH_ATTACHED);
	else if (l->what == 2)
		cloud_fake_set_modification_state(l->f, l->vol, CLOUD_MOD_COMPLETED);
	else
		cloud_fake_remove_disk(l->f, l->vol);
	return NULL;
}

static void test_create_waits_and_vanishes(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	char *vol = make_volume(e, "t-wait", "us-east-1a");
	/* A retry of the create finds the volume still creating: it waits for
	 * `available` until the deadline... */
	cloud_fake_set_disk_state(e->f, vol, CLOUD_DISK_CREATING);
	struct cloud_disk_options o = gp3("t-wait", NULL);
	struct cloud_disk d;
	struct rpc_ctx rc = ctx_in(30);
	assert_int_equal(cloud_create_disk(e->c, &rc, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	cloud_disk_dispose(&d);
	/* ... and succeeds when it becomes available in time. */
	struct later l = { e->f, vol, 20, 0 };
	pthread_t th;
	pthread_create(&th, NULL, later_main, &l);
	rc = ctx_in(5000);
	assert_int_equal(cloud_create_disk(e->c, &rc, &o, &d, &st), 0);
	assert_int_equal(d.state, CLOUD_DISK_AVAILABLE);
	pthread_join(th, NULL);
	cloud_disk_dispose(&d);
	free(vol);
	/* Async failure (bad KMS key): the volume disappears while we wait. */
	vol = make_volume(e, "t-kms", "us-east-1a");
	cloud_fake_set_disk_state(e->f, vol, CLOUD_DISK_CREATING);
	o.client_token = "t-kms";
	struct later gone = { e->f, vol, 20, 3 };
	pthread_create(&th, NULL, later_main, &gone);
	rc = ctx_in(5000);
	assert_int_equal(cloud_create_disk(e->c, &rc, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_ABORTED);
	assert_non_null(strstr(st.msg, "disappeared"));
	pthread_join(th, NULL);
	cloud_disk_dispose(&d);
	/* Retried with the same token: EC2's answer for a deleted volume. */
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_ALREADY_EXISTS);
	cloud_disk_dispose(&d);
	free(vol);
}

/* ---- copy / delete ---------------------------------------------------------------- */

static void test_copy_disk(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	struct cloud_disk_options src = gp3("t-src", NULL);
	src.zone = "us-east-1b";
	src.encrypted = true;
	src.kms_key_id = "arn:k";
	struct cloud_disk s, d;
	assert_int_equal(cloud_create_disk(e->c, NULL, &src, &s, &st), 0);

	struct cloud_disk_options o = { 0 };
	o.client_token = "t-clone";
	o.source_volume_id = s.volume_id;
	o.tags = &e->tags;
	assert_int_equal(cloud_copy_disk(e->c, NULL, &o, &d, &st), 0);
	assert_string_not_equal(d.volume_id, s.volume_id);
	assert_string_equal(d.source_volume_id, s.volume_id);
	assert_string_equal(d.zone, "us-east-1b");
	assert_true(d.encrypted);
	assert_string_equal(d.kms_key_id, "arn:k");
	assert_int_equal(d.size_gib, 10);
	assert_string_equal(d.volume_type, "gp3");
	assert_string_equal(cloud_tags_get(&d.tags, CLOUD_TAG_VOLUME_NAME), "pvc-1");
	cloud_disk_dispose(&d);
	/* Idempotent by token. */
	assert_int_equal(cloud_copy_disk(e->c, NULL, &o, &d, &st), 0);
	assert_int_equal(cloud_fake_disk_count(e->f), 2);
	cloud_disk_dispose(&d);

	o.client_token = "t-clone2";
	o.size_gib = 5;
	assert_int_equal(cloud_copy_disk(e->c, NULL, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	cloud_disk_dispose(&d);
	o.source_volume_id = "vol-nope";
	assert_int_equal(cloud_copy_disk(e->c, NULL, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_disk_dispose(&d);
	cloud_disk_dispose(&s);
}

static void test_delete(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	char *vol = make_volume(e, "t-del", "us-east-1a");
	struct cloud_attachment a;
	assert_int_equal(cloud_attach_disk(e->c, NULL, vol, "i-1", &a, NULL, &st), 0);
	cloud_attachment_dispose(&a);
	assert_int_equal(cloud_delete_disk(e->c, NULL, vol, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "VolumeInUse"));
	assert_int_equal(cloud_detach_disk(e->c, NULL, vol, "i-1", &st), 0);
	assert_int_equal(cloud_delete_disk(e->c, NULL, vol, &st), 0);
	/* Again and again: NOT_FOUND, which the controller turns into success. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cloud_delete_disk(e->c, NULL, vol, &st), -1);
		assert_int_equal(st.code, STATUS_NOT_FOUND);
	}
	struct cloud_disk d;
	assert_int_equal(cloud_get_disk(e->c, NULL, vol, &d, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_disk_dispose(&d);
	free(vol);
}

/* ---- attach / detach / wait ------------------------------------------------------------ */

static void test_attach_rules(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	char *v1 = make_volume(e, "t-a1", "us-east-1a");
	char *v2 = make_volume(e, "t-a2", "us-east-1a");
	char *far = make_volume(e, "t-far", "us-east-1b");
	struct cloud_attachment a;
	bool already = true;

	/* A device from the AMI is in use: the first free name is taken. */
	cloud_fake_add_instance_device(e->f, "i-1", "/dev/xvdaa", NULL);
	assert_int_equal(cloud_attach_disk(e->c, NULL, v1, "i-1", &a, &already, &st), 0);
	assert_false(already);
	assert_string_equal(a.device, "/dev/xvdab");
	assert_int_equal(a.state, CLOUD_ATTACH_ATTACHED);
	assert_string_equal(a.volume_id, v1);
	assert_string_equal(a.instance_id, "i-1");
	cloud_attachment_dispose(&a);
	assert_int_equal(cloud_attach_disk(e->c, NULL, v2, "i-1", &a, &already, &st), 0);
	assert_string_equal(a.device, "/dev/xvdac");
	cloud_attachment_dispose(&a);

	/* Already attached here: same device, no new attachment. */
	assert_int_equal(cloud_attach_disk(e->c, NULL, v1, "i-1", &a, &already, &st), 0);
	assert_true(already);
	assert_string_equal(a.device, "/dev/xvdab");
	cloud_attachment_dispose(&a);

	/* Attached elsewhere, not multi-attach. */
	assert_int_equal(cloud_attach_disk(e->c, NULL, v1, "i-2", &a, &already, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "VolumeInUse"));
	cloud_attachment_dispose(&a);

	/* Zone mismatch, unknown volume, unknown instance. */
	assert_int_equal(cloud_attach_disk(e->c, NULL, far, "i-1", &a, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "ZoneMismatch"));
	cloud_attachment_dispose(&a);
	assert_int_equal(cloud_attach_disk(e->c, NULL, "vol-nope", "i-1", &a, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_attachment_dispose(&a);
	assert_int_equal(cloud_attach_disk(e->c, NULL, v2, "i-nope", &a, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_attachment_dispose(&a);

	/* The instance shows the mappings (root, AMI device, ours). */
	struct cloud_instance in;
	assert_int_equal(cloud_describe_instance(e->c, NULL, "i-1", &in, &st), 0);
	assert_string_equal(in.zone, "us-east-1a");
	assert_string_equal(in.instance_type, "m5.large");
	assert_int_equal(in.n_devices, 4);
	assert_string_equal(in.devices[2].device_name, "/dev/xvdab");
	assert_string_equal(in.devices[2].volume_id, v1);
	cloud_instance_dispose(&in);
	assert_int_equal(cloud_describe_instance(e->c, NULL, "i-nope", &in, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_instance_dispose(&in);

	/* The volume shows in-use with its attachment. */
	struct cloud_disk d;
	assert_int_equal(cloud_get_disk(e->c, NULL, v1, &d, &st), 0);
	assert_int_equal(d.state, CLOUD_DISK_IN_USE);
	assert_non_null(cloud_disk_attachment_for(&d, "i-1"));
	cloud_disk_dispose(&d);

	/* Detach: once OK, then NOT_FOUND; the name is free again. */
	assert_int_equal(cloud_detach_disk(e->c, NULL, v1, "i-1", &st), 0);
	assert_int_equal(cloud_detach_disk(e->c, NULL, v1, "i-1", &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(cloud_detach_disk(e->c, NULL, "vol-nope", "i-1", &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(cloud_get_disk(e->c, NULL, v1, &d, &st), 0);
	assert_int_equal(d.state, CLOUD_DISK_AVAILABLE);
	assert_int_equal(d.n_attachments, 0);
	cloud_disk_dispose(&d);
	assert_int_equal(cloud_attach_disk(e->c, NULL, v1, "i-2", &a, NULL, &st), 0);
	assert_string_equal(a.device, "/dev/xvdaa");
	cloud_attachment_dispose(&a);
	free(v1);
	free(v2);
	free(far);
}

static void test_multi_attach_and_limits(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	struct cloud_disk_options o = gp3("t-io2", NULL);
	o.volume_type = "io2";
	o.multi_attach = true;
	struct cloud_disk d;
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &d, &st), 0);
	struct cloud_attachment a;
	assert_int_equal(cloud_attach_disk(e->c, NULL, d.volume_id, "i-1", &a, NULL, &st), 0);
	cloud_attachment_dispose(&a);
	assert_int_equal(cloud_attach_disk(e->c, NULL, d.volume_id, "i-2", &a, NULL, &st), 0);
	cloud_attachment_dispose(&a);
	struct cloud_disk g;
	assert_int_equal(cloud_get_disk(e->c, NULL, d.volume_id, &g, &st), 0);
	assert_int_equal(g.n_attachments, 2);
	cloud_disk_dispose(&g);
	cloud_disk_dispose(&d);

	/* Limit 3 block devices: root + 2. */
	cloud_fake_set_attach_limit(e->f, 3);
	char *v1 = make_volume(e, "t-l1", "us-east-1a");
	char *v2 = make_volume(e, "t-l2", "us-east-1a");
	assert_int_equal(cloud_attach_disk(e->c, NULL, v1, "i-1", &a, NULL, &st), 0);
	cloud_attachment_dispose(&a);
	assert_int_equal(cloud_attach_disk(e->c, NULL, v2, "i-1", &a, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(st.msg, "AttachmentLimitExceeded"));
	cloud_attachment_dispose(&a);
	free(v1);
	free(v2);
}

static void test_device_names_run_out(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	cloud_fake_set_attach_limit(e->f, 1000);
	struct cloud_attachment a;
	char last[32] = "";
	int ok = 0;
	for (int i = 0; i < 140; i++) {
		char token[32];
		snprintf(token, sizeof token, "t-many-%d", i);
		char *v = make_volume(e, token, "us-east-1a");
		int rc = cloud_attach_disk(e->c, NULL, v, "i-2", &a, NULL, &st);
		if (rc == 0) {
			ok++;
			snprintf(last, sizeof last, "%s", a.device);
		} else {
			assert_int_equal(st.code, STATUS_RESOURCE_EXHAUSTED);
		}
		cloud_attachment_dispose(&a);
		free(v);
	}
	/* Upstream's list: 26 + 26 + 24 two-letter xvd, 25 xvd, 25 sd (our list
	 * omits upstream's final /dev/sda2). */
	assert_int_equal(ok, 126);
	assert_string_equal(last, "/dev/sdz");
}

static void test_wait_attachment(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	char *v = make_volume(e, "t-w", "us-east-1a");
	struct cloud_attachment a;
	struct rpc_ctx rc = ctx_in(20);

	/* Not attached: DETACHED is reached at once. */
	assert_int_equal(cloud_wait_attachment(e->c, &rc, v, "i-1", CLOUD_ATTACH_DETACHED, NULL, &a, &st), 0);
	assert_int_equal(a.state, CLOUD_ATTACH_DETACHED);
	assert_null(a.device);
	cloud_attachment_dispose(&a);
	/* ATTACHED is never reached: deadline. */
	assert_int_equal(cloud_wait_attachment(e->c, &rc, v, "i-1", CLOUD_ATTACH_ATTACHED, NULL, &a, &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	cloud_attachment_dispose(&a);
	/* Without a deadline the fake looks once and does not hang. */
	assert_int_equal(cloud_wait_attachment(e->c, NULL, v, "i-1", CLOUD_ATTACH_ATTACHED, NULL, &a, &st), -1);
	cloud_attachment_dispose(&a);
	/* Missing volume: DETACHED is success, ATTACHED NOT_FOUND. */
	rc = ctx_in(1000);
	assert_int_equal(cloud_wait_attachment(e->c, &rc, "vol-x", "i-1", CLOUD_ATTACH_DETACHED, NULL, &a, &st), 0);
	cloud_attachment_dispose(&a);
	assert_int_equal(cloud_wait_attachment(e->c, &rc, "vol-x", "i-1", CLOUD_ATTACH_ATTACHED, NULL, &a, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_attachment_dispose(&a);

	/* Stuck attaching, then attached by "EC2" while we wait. */
	assert_int_equal(cloud_attach_disk(e->c, NULL, v, "i-1", &a, NULL, &st), 0);
	char *dev = strdup(a.device);
	cloud_attachment_dispose(&a);
	assert_int_equal(cloud_fake_set_attachment_state(e->f, v, "i-1", CLOUD_ATTACH_ATTACHING), 0);
	rc = ctx_in(20);
	assert_int_equal(cloud_wait_attachment(e->c, &rc, v, "i-1", CLOUD_ATTACH_ATTACHED, dev, &a, &st), -1);
	assert_int_equal(a.state, CLOUD_ATTACH_ATTACHING);
	cloud_attachment_dispose(&a);
	/* attach_disk on an attaching volume waits as well (already_attached). */
	struct later l = { e->f, v, 20, 1 };
	pthread_t th;
	pthread_create(&th, NULL, later_main, &l);
	rc = ctx_in(5000);
	bool already = false;
	assert_int_equal(cloud_attach_disk(e->c, &rc, v, "i-1", &a, &already, &st), 0);
	assert_true(already);
	assert_string_equal(a.device, dev);
	assert_int_equal(a.state, CLOUD_ATTACH_ATTACHED);
	pthread_join(th, NULL);
	cloud_attachment_dispose(&a);
	/* The wrong device never matches. */
	rc = ctx_in(10);
	assert_int_equal(cloud_wait_attachment(e->c, &rc, v, "i-1", CLOUD_ATTACH_ATTACHED, "/dev/xvdzz", &a, &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	cloud_attachment_dispose(&a);
	rc = ctx_in(1000);
	assert_int_equal(cloud_wait_attachment(e->c, &rc, v, "i-1", CLOUD_ATTACH_ATTACHED, dev, &a, &st), 0);
	cloud_attachment_dispose(&a);
	free(dev);
	free(v);
}

/* ---- lookups ----------------------------------------------------------------------- */

static void test_find_by_name(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	struct cloud_disk d;
	assert_int_equal(cloud_find_disk_by_name(e->c, NULL, "pvc-1", &d, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_disk_dispose(&d);
	struct cloud_disk_options o = gp3("t-n1", &e->tags);
	struct cloud_disk c1;
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &c1, &st), 0);
	assert_int_equal(cloud_find_disk_by_name(e->c, NULL, "pvc-1", &d, &st), 0);
	assert_string_equal(d.volume_id, c1.volume_id);
	cloud_disk_dispose(&d);
	o.client_token = "t-n2";
	struct cloud_disk c2;
	assert_int_equal(cloud_create_disk(e->c, NULL, &o, &c2, &st), 0);
	assert_int_equal(cloud_find_disk_by_name(e->c, NULL, "pvc-1", &d, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_null(d.volume_id);
	cloud_disk_dispose(&d);
	cloud_disk_dispose(&c1);
	cloud_disk_dispose(&c2);
}

/* ---- snapshots ----------------------------------------------------------------------- */

static void test_snapshots(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	char *v1 = make_volume(e, "t-s1", "us-east-1a");
	char *v2 = make_volume(e, "t-s2", "us-east-1a");
	struct cloud_tags tags;
	cloud_tags_init(&tags);
	cloud_tags_set(&tags, CLOUD_TAG_SNAPSHOT_NAME, "snapshot-1");
	struct cloud_snapshot_options so = { v1, "Created by test", NULL, &tags };
	struct cloud_snapshot s;

	cloud_fake_set_new_snapshot_state(e->f, CLOUD_SNAPSHOT_PENDING);
	assert_int_equal(cloud_create_snapshot(e->c, NULL, &so, &s, &st), 0);
	assert_true(strncmp(s.snapshot_id, "snap-", 5) == 0);
	assert_string_equal(s.volume_id, v1);
	assert_int_equal(s.state, CLOUD_SNAPSHOT_PENDING);
	assert_int_equal(s.volume_size_gib, 10);
	assert_string_equal(s.description, "Created by test");
	assert_true(s.start_time_ms > 0);
	char *sid = strdup(s.snapshot_id);
	cloud_snapshot_dispose(&s);

	assert_int_equal(cloud_find_snapshot_by_name(e->c, NULL, "snapshot-1", &s, &st), 0);
	assert_string_equal(s.snapshot_id, sid);
	cloud_snapshot_dispose(&s);
	assert_int_equal(cloud_find_snapshot_by_name(e->c, NULL, "snapshot-x", &s, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_snapshot_dispose(&s);

	assert_int_equal(cloud_fake_set_snapshot_state(e->f, sid, CLOUD_SNAPSHOT_COMPLETED), 0);
	assert_int_equal(cloud_get_snapshot(e->c, NULL, sid, &s, &st), 0);
	assert_int_equal(s.state, CLOUD_SNAPSHOT_COMPLETED);
	assert_int_equal(s.progress_percent, 100);
	cloud_snapshot_dispose(&s);

	so.volume_id = "vol-nope";
	assert_int_equal(cloud_create_snapshot(e->c, NULL, &so, &s, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_snapshot_dispose(&s);

	/* Paging: 1 + 6 snapshots, 6 of them of v2, pages of 5. */
	so.volume_id = v2;
	so.tags = NULL;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(cloud_create_snapshot(e->c, NULL, &so, &s, &st), 0);
		cloud_snapshot_dispose(&s);
	}
	struct cloud_snapshot_list l;
	assert_int_equal(cloud_list_snapshots(e->c, NULL, NULL, 0, NULL, &l, &st), 0);
	assert_int_equal(l.n, 7);
	assert_null(l.next_token);
	cloud_snapshot_list_dispose(&l);
	assert_int_equal(cloud_list_snapshots(e->c, NULL, v2, 5, "", &l, &st), 0);
	assert_int_equal(l.n, 5);
	assert_non_null(l.next_token);
	char *tok = strdup(l.next_token);
	for (size_t i = 0; i < l.n; i++)
		assert_string_equal(l.v[i].volume_id, v2);
	cloud_snapshot_list_dispose(&l);
	assert_int_equal(cloud_list_snapshots(e->c, NULL, v2, 5, tok, &l, &st), 0);
	assert_int_equal(l.n, 1);
	assert_null(l.next_token);
	cloud_snapshot_list_dispose(&l);
	free(tok);
	assert_int_equal(cloud_list_snapshots(e->c, NULL, NULL, 5, "garbage", &l, &st), -1);
	assert_int_equal(st.code, STATUS_ABORTED);
	cloud_snapshot_list_dispose(&l);
	assert_int_equal(cloud_list_snapshots(e->c, NULL, NULL, 3, NULL, &l, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	cloud_snapshot_list_dispose(&l);
	assert_int_equal(cloud_list_snapshots(e->c, NULL, "vol-none", 0, NULL, &l, &st), 0);
	assert_int_equal(l.n, 0);
	cloud_snapshot_list_dispose(&l);

	assert_int_equal(cloud_delete_snapshot(e->c, NULL, sid, &st), 0);
	assert_int_equal(cloud_delete_snapshot(e->c, NULL, sid, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(cloud_get_snapshot(e->c, NULL, sid, &s, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_snapshot_dispose(&s);
	assert_int_equal(cloud_fake_snapshot_count(e->f), 6);
	cloud_tags_dispose(&tags);
	free(sid);
	free(v1);
	free(v2);
}

/* ---- modify ------------------------------------------------------------------------------ */

static void test_modify(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	char *v = make_volume(e, "t-m", "us-east-1a");
	struct cloud_modification m;

	assert_int_equal(cloud_get_modification(e->c, NULL, v, &m, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_modification_dispose(&m);

	struct cloud_modify_options mo = { 20, NULL, 4000, 0 };
	assert_int_equal(cloud_modify_disk(e->c, NULL, v, &mo, &m, &st), 0);
	assert_int_equal(m.state, CLOUD_MOD_COMPLETED);
	assert_int_equal(m.target_size_gib, 20);
	assert_int_equal(m.target_iops, 4000);
	assert_int_equal(m.target_throughput, 125);
	assert_string_equal(m.target_type, "gp3");
	assert_int_equal(m.original_size_gib, 10);
	assert_int_equal(m.original_iops, 3000);
	cloud_modification_dispose(&m);
	assert_int_equal(cloud_fake_modify_volume_calls(e->f), 1);

	/* Nothing differs: no ModifyVolume spent. */
	assert_int_equal(cloud_modify_disk(e->c, NULL, v, &mo, &m, &st), 0);
	assert_int_equal(cloud_fake_modify_volume_calls(e->f), 1);
	assert_int_equal(m.target_size_gib, 20);
	cloud_modification_dispose(&m);

	struct cloud_disk d;
	assert_int_equal(cloud_get_disk(e->c, NULL, v, &d, &st), 0);
	assert_int_equal(d.size_gib, 20);
	assert_int_equal(d.iops, 4000);
	cloud_disk_dispose(&d);

	/* Shrinking is refused. */
	mo.size_gib = 5;
	assert_int_equal(cloud_modify_disk(e->c, NULL, v, &mo, &m, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	cloud_modification_dispose(&m);

	/* A modification that stays `modifying`: waits, then ABORTED for another. */
	cloud_fake_set_new_modification_state(e->f, CLOUD_MOD_MODIFYING);
	mo = (struct cloud_modify_options){ 30, "io2", 5000, 0 };
	struct rpc_ctx rc = ctx_in(20);
	assert_int_equal(cloud_modify_disk(e->c, &rc, v, &mo, &m, &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	cloud_modification_dispose(&m);
	assert_int_equal(cloud_get_modification(e->c, NULL, v, &m, &st), 0);
	assert_int_equal(m.state, CLOUD_MOD_MODIFYING);
	assert_string_equal(m.target_type, "io2");
	cloud_modification_dispose(&m);
	mo.size_gib = 40;
	assert_int_equal(cloud_modify_disk(e->c, NULL, v, &mo, &m, &st), -1);
	assert_int_equal(st.code, STATUS_ABORTED);
	cloud_modification_dispose(&m);
	/* The same request again waits for the one in flight. */
	mo.size_gib = 30;
	struct later l = { e->f, v, 20, 2 };
	pthread_t th;
	pthread_create(&th, NULL, later_main, &l);
	rc = ctx_in(5000);
	assert_int_equal(cloud_modify_disk(e->c, &rc, v, &mo, &m, &st), 0);
	assert_int_equal(m.state, CLOUD_MOD_COMPLETED);
	assert_int_equal(m.target_size_gib, 30);
	pthread_join(th, NULL);
	cloud_modification_dispose(&m);
	assert_int_equal(cloud_fake_modify_volume_calls(e->f), 2);

	assert_int_equal(cloud_modify_disk(e->c, NULL, "vol-nope", &mo, &m, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_modification_dispose(&m);
	free(v);
}

/* ---- zones, FSR, tags, status, health -------------------------------------------------------- */

static void test_misc_ops(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	struct cloud_zone_list z;
	assert_int_equal(cloud_availability_zones(e->c, NULL, &z, &st), 0);
	assert_int_equal(z.n, 3);
	assert_string_equal(z.v[0].name, "us-east-1a");
	assert_string_equal(z.v[2].zone_id, "use1-az3");
	assert_string_equal(z.v[1].region, "us-east-1");
	cloud_zone_list_dispose(&z);
	static const char *const names[] = { "eu-west-1a" };
	cloud_fake_set_zones(e->f, names, NULL, 1);
	assert_int_equal(cloud_availability_zones(e->c, NULL, &z, &st), 0);
	assert_int_equal(z.n, 1);
	assert_string_equal(z.v[0].zone_id, "eu-west-1a-id");
	cloud_zone_list_dispose(&z);

	cloud_fake_add_snapshot(e->f, "snap-f", "vol-1", 8);
	static const char *const fz[] = { "eu-west-1a", "eu-west-1q" };
	struct cloud_fsr_result r;
	assert_int_equal(cloud_enable_fsr(e->c, NULL, "snap-f", fz, 2, &r, &st), 0);
	assert_int_equal(r.n_ok, 1);
	assert_string_equal(r.ok[0].zone, "eu-west-1a");
	assert_string_equal(r.ok[0].state, "enabling");
	assert_int_equal(r.n_failed, 1);
	assert_string_equal(r.failed[0].zone, "eu-west-1q");
	assert_string_equal(r.failed[0].error_code, "InvalidAvailabilityZone");
	cloud_fsr_result_dispose(&r);
	assert_int_equal(cloud_enable_fsr(e->c, NULL, "snap-nope", fz, 1, &r, &st), 0);
	assert_int_equal(r.n_failed, 1);
	assert_string_equal(r.failed[0].error_code, "InvalidSnapshot.NotFound");
	cloud_fsr_result_dispose(&r);

	char *v = make_volume(e, "t-tags", "eu-west-1a");
	struct cloud_tags t;
	cloud_tags_init(&t);
	cloud_tags_set(&t, "a", "1");
	cloud_tags_set(&t, "b", "2");
	assert_int_equal(cloud_create_tags(e->c, NULL, v, &t, &st), 0);
	assert_int_equal(cloud_create_tags(e->c, NULL, "snap-f", &t, &st), 0);
	static const char *const del[] = { "a", "missing" };
	assert_int_equal(cloud_delete_tags(e->c, NULL, v, del, 2, &st), 0);
	struct cloud_disk d;
	assert_int_equal(cloud_get_disk(e->c, NULL, v, &d, &st), 0);
	assert_null(cloud_tags_get(&d.tags, "a"));
	assert_string_equal(cloud_tags_get(&d.tags, "b"), "2");
	cloud_disk_dispose(&d);
	assert_int_equal(cloud_create_tags(e->c, NULL, "vol-nope", &t, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(cloud_delete_tags(e->c, NULL, "vol-nope", del, 1, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_tags_dispose(&t);

	struct cloud_volume_status vs;
	assert_int_equal(cloud_get_volume_status(e->c, NULL, v, &vs, &st), 0);
	assert_false(vs.initializing);
	assert_string_equal(vs.status, "ok");
	cloud_volume_status_dispose(&vs);
	cloud_fake_set_initializing(e->f, v, true);
	assert_int_equal(cloud_get_volume_status(e->c, NULL, v, &vs, &st), 0);
	assert_true(vs.initializing);
	cloud_volume_status_dispose(&vs);
	assert_int_equal(cloud_get_volume_status(e->c, NULL, "vol-nope", &vs, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_volume_status_dispose(&vs);

	assert_int_equal(cloud_health_check(e->c, NULL, &st), 0);
	free(v);
}

/* ---- knobs ---------------------------------------------------------------------------------- */

static void test_fail_next_and_counts(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	struct cloud_disk d;
	char *v = make_volume(e, "t-f", "us-east-1a");
	assert_int_equal(cloud_fake_calls(e->f, CLOUD_OP_CREATE_DISK), 1);
	cloud_fake_reset_calls(e->f);

	cloud_fake_fail_next(e->f, CLOUD_OP_GET_DISK, STATUS_UNAVAILABLE, "RequestLimitExceeded: %s", "slow down");
	assert_int_equal(cloud_get_disk(e->c, NULL, v, &d, &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_string_equal(st.msg, "RequestLimitExceeded: slow down");
	cloud_disk_dispose(&d);
	assert_int_equal(cloud_get_disk(e->c, NULL, v, &d, &st), 0);  /* only the next one */
	cloud_disk_dispose(&d);

	/* Other ops are not affected by a per-op injection. */
	cloud_fake_fail_next(e->f, CLOUD_OP_DELETE_DISK, STATUS_INTERNAL, "boom");
	assert_int_equal(cloud_health_check(e->c, NULL, &st), 0);
	assert_int_equal(cloud_delete_disk(e->c, NULL, v, &st), -1);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_int_equal(cloud_fake_disk_count(e->f), 1);  /* the failed op did nothing */

	/* ANY: whichever op comes next. */
	cloud_fake_fail_next(e->f, CLOUD_OP_ANY, STATUS_PERMISSION_DENIED, "UnauthorizedOperation");
	assert_int_equal(cloud_health_check(e->c, NULL, &st), -1);
	assert_int_equal(st.code, STATUS_PERMISSION_DENIED);
	assert_int_equal(cloud_health_check(e->c, NULL, &st), 0);

	/* Several times, queued with another. */
	cloud_fake_fail_times(e->f, CLOUD_OP_HEALTH_CHECK, 2, STATUS_UNAVAILABLE, "a");
	cloud_fake_fail_next(e->f, CLOUD_OP_HEALTH_CHECK, STATUS_INTERNAL, "b");
	assert_int_equal(cloud_health_check(e->c, NULL, &st), -1);
	assert_string_equal(st.msg, "a");
	assert_int_equal(cloud_health_check(e->c, NULL, &st), -1);
	assert_string_equal(st.msg, "a");
	assert_int_equal(cloud_health_check(e->c, NULL, &st), -1);
	assert_string_equal(st.msg, "b");
	assert_int_equal(cloud_health_check(e->c, NULL, &st), 0);
	cloud_fake_fail_times(e->f, CLOUD_OP_HEALTH_CHECK, 5, STATUS_UNAVAILABLE, NULL);
	cloud_fake_clear_failures(e->f);
	assert_int_equal(cloud_health_check(e->c, NULL, &st), 0);

	/* Counts include failed calls. */
	assert_int_equal(cloud_fake_calls(e->f, CLOUD_OP_GET_DISK), 2);
	assert_int_equal(cloud_fake_calls(e->f, CLOUD_OP_DELETE_DISK), 1);
	assert_int_equal(cloud_fake_calls(e->f, CLOUD_OP_HEALTH_CHECK), 8);
	assert_int_equal(cloud_fake_calls(e->f, CLOUD_OP_ANY), 11);
	assert_int_equal(cloud_fake_calls(e->f, CLOUD_OP_CREATE_DISK), 0);
	assert_string_equal(cloud_op_name(CLOUD_OP_FIND_SNAPSHOT_BY_NAME), "find_snapshot_by_name");
	assert_string_equal(cloud_op_name(CLOUD_OP_ANY), "any");
	assert_string_equal(cloud_op_name((enum cloud_op)99), "unknown");
	free(v);
}

static void test_delays_deadline_cancel(void **state)
{
	struct env *e = *state;
	struct status st = STATUS_INIT;
	cloud_fake_set_delay(e->f, CLOUD_OP_HEALTH_CHECK, 30);
	int64_t t0 = rpc_now_ms();
	assert_int_equal(cloud_health_check(e->c, NULL, &st), 0);
	assert_true(rpc_now_ms() - t0 >= 30);
	/* The delay outlives the deadline: DEADLINE_EXCEEDED at the deadline,
	 * not after the whole delay. */
	cloud_fake_set_delay(e->f, CLOUD_OP_HEALTH_CHECK, 1000);
	struct rpc_ctx rc = ctx_in(10);
	t0 = rpc_now_ms();
	assert_int_equal(cloud_health_check(e->c, &rc, &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_true(rpc_now_ms() - t0 < 800);
	cloud_fake_set_delay(e->f, CLOUD_OP_HEALTH_CHECK, 0);
	/* ANY delays every op. */
	cloud_fake_set_delay(e->f, CLOUD_OP_ANY, 15);
	struct cloud_zone_list z;
	t0 = rpc_now_ms();
	assert_int_equal(cloud_availability_zones(e->c, NULL, &z, &st), 0);
	assert_true(rpc_now_ms() - t0 >= 15);
	cloud_zone_list_dispose(&z);
	cloud_fake_set_delay(e->f, CLOUD_OP_ANY, 0);

	/* A passed deadline and a cancelled call stop before doing anything. */
	rc.deadline_ms = rpc_now_ms() - 1;
	assert_int_equal(cloud_health_check(e->c, &rc, &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	atomic_bool cancelled = true;
	struct rpc_ctx cc = { "/test", RPC_NO_DEADLINE, &cancelled };
	struct cloud_disk_options o = gp3("t-cancel", NULL);
	struct cloud_disk d;
	assert_int_equal(cloud_create_disk(e->c, &cc, &o, &d, &st), -1);
	assert_int_equal(st.code, STATUS_CANCELLED);
	assert_int_equal(cloud_fake_disk_count(e->f), 0);
	cloud_disk_dispose(&d);
}

struct racer {
	struct cloud *c;
	const char *vol;
	const char *inst;
	int rc;
	int code;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct status st = STATUS_INIT;
	struct cloud_attachment a;
	r->rc = cloud_attach_disk(r->c, NULL, r->vol, r->inst, &a, NULL, &st);
	r->code = st.code;
	cloud_attachment_dispose(&a);
	return NULL;
}

static void test_concurrent_attach(void **state)
{
	struct env *e = *state;
	/* Two publishes of one volume to two nodes at once: exactly one wins. */
	for (int round = 0; round < 20; round++) {
		char token[32];
		snprintf(token, sizeof token, "t-race-%d", round);
		char *v = make_volume(e, token, "us-east-1a");
		struct racer r1 = { e->c, v, "i-1", 0, 0 }, r2 = { e->c, v, "i-2", 0, 0 };
		pthread_t t1, t2;
		pthread_create(&t1, NULL, racer_main, &r1);
		pthread_create(&t2, NULL, racer_main, &r2);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		assert_int_equal((r1.rc == 0) + (r2.rc == 0), 1);
		assert_int_equal(r1.rc == 0 ? r2.code : r1.code, STATUS_FAILED_PRECONDITION);
		struct status st = STATUS_INIT;
		assert_int_equal(cloud_detach_disk(e->c, NULL, v, r1.rc == 0 ? "i-1" : "i-2", &st), 0);
		free(v);
	}
}

static void test_data_helpers(void **state)
{
	(void)state;
	struct cloud_tags t;
	cloud_tags_init(&t);
	cloud_tags_set(&t, "a", "1");
	cloud_tags_set(&t, "b", NULL);
	cloud_tags_set(&t, "a", "2");
	assert_int_equal(t.n, 2);
	assert_string_equal(cloud_tags_get(&t, "a"), "2");
	assert_string_equal(cloud_tags_get(&t, "b"), "");
	assert_true(cloud_tags_remove(&t, "a"));
	assert_false(cloud_tags_remove(&t, "a"));
	assert_int_equal(t.n, 1);
	struct cloud_tags u;
	cloud_tags_init(&u);
	cloud_tags_copy(&u, &t);
	assert_string_equal(cloud_tags_get(&u, "b"), "");
	cloud_tags_dispose(&t);
	cloud_tags_dispose(&u);
	cloud_tags_dispose(&u);  /* harmless twice */

	assert_int_equal(cloud_disk_state_parse("in-use"), CLOUD_DISK_IN_USE);
	assert_int_equal(cloud_disk_state_parse("bogus"), CLOUD_DISK_UNKNOWN);
	assert_int_equal(cloud_disk_state_parse(NULL), CLOUD_DISK_UNKNOWN);
	assert_string_equal(cloud_disk_state_name(CLOUD_DISK_ERROR), "error");
	assert_string_equal(cloud_disk_state_name((enum cloud_disk_state)42), "unknown");
	assert_int_equal(cloud_attach_state_parse("busy"), CLOUD_ATTACH_BUSY);
	assert_string_equal(cloud_attach_state_name(CLOUD_ATTACH_DETACHING), "detaching");
	assert_int_equal(cloud_snapshot_state_parse("recoverable"), CLOUD_SNAPSHOT_RECOVERABLE);
	assert_string_equal(cloud_snapshot_state_name(CLOUD_SNAPSHOT_PENDING), "pending");
	assert_int_equal(cloud_mod_state_parse("optimizing"), CLOUD_MOD_OPTIMIZING);
	assert_string_equal(cloud_mod_state_name(CLOUD_MOD_FAILED), "failed");

	/* Deep copies own their memory (ASan would see a double free otherwise). */
	struct cloud_disk a, b;
	cloud_disk_init(&a);
	cloud_disk_init(&b);
	a.volume_id = strdup("vol-1");
	cloud_tags_set(&a.tags, "k", "v");
	struct cloud_attachment *at = cloud_disk_add_attachment(&a);
	at->instance_id = strdup("i-1");
	at->device = strdup("/dev/xvdaa");
	cloud_disk_copy(&b, &a);
	cloud_disk_dispose(&a);
	assert_string_equal(b.volume_id, "vol-1");
	assert_string_equal(b.attachments[0].device, "/dev/xvdaa");
	assert_string_equal(cloud_tags_get(&b.tags, "k"), "v");
	cloud_disk_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_idempotency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_waits_and_vanishes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_attach_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_names_run_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_attachment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misc_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_next_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delays_deadline_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_attach, setup, teardown),
		cmocka_unit_test(test_data_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
