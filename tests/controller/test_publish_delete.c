/*
 * Tests for DeleteVolume, ControllerPublishVolume and
 * ControllerUnpublishVolume on the fake cloud: publish_context devicePath,
 * re-publish to the same node (same device, no new attach), ReadWriteOnce
 * (another node → FAILED_PRECONDITION naming it), multi-attach io2,
 * unknown or malformed volume and node → NOT_FOUND, attachment limit →
 * RESOURCE_EXHAUSTED, blockAttachUntilInitialized, unpublish and delete
 * answering OK again and again on things already gone, unpublish from all
 * nodes, VolumeInUse on delete, every validation error, injected errors,
 * and ABORTED for concurrent calls with the same key.
 */
#include "tests/controller/helper_controller.h"

#include "common/xalloc.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static int setup(void **state)
{
	*state = ctl_fx_new();
	return 0;
}

static int teardown(void **state)
{
	ctl_fx_free(*state);
	return 0;
}

/* Publishes and returns devicePath (heap) or NULL with st set. */
static char *publish(struct ctl_fx *fx, const char *vol, const char *node, Csi__V1__VolumeCapability *cap,
		     struct status *st)
{
	Csi__V1__ControllerPublishVolumeResponse *r = (Csi__V1__ControllerPublishVolumeResponse *)ctl_call(
		controller_publish_volume, fx->svc, &ct_publish_req(vol, node, cap ? cap : ct_cap_mount("ext4", CT_SNW))->base,
		&csi__v1__controller_publish_volume_response__descriptor, st);
	if (r == NULL)
		return NULL;
	assert_int_equal(r->n_publish_context, 1);
	char *dev = xstrdup(CT_MAP_GET(r->n_publish_context, r->publish_context, "devicePath"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return dev;
}

static int unpublish(struct ctl_fx *fx, const char *vol, const char *node, struct status *st)
{
	return ctl_code(controller_unpublish_volume, fx->svc, &ct_unpublish_req(vol, node)->base,
			&csi__v1__controller_unpublish_volume_response__descriptor, st);
}

static int delete_volume(struct ctl_fx *fx, const char *vol, struct status *st)
{
	return ctl_code(controller_delete_volume, fx->svc, &ct_delete_req(vol)->base,
			&csi__v1__delete_volume_response__descriptor, st);
}

static void test_publish_unpublish(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "p1");
	char *dev = publish(fx, vol, CT_NODE1, NULL, &st);
	assert_non_null(dev);
	assert_string_equal(dev, "/dev/xvdaa");
	/* Retried: same device, no second AttachVolume (the cloud sees the
	 * attachment and only waits). */
	char *again = publish(fx, vol, CT_NODE1, NULL, &st);
	assert_string_equal(again, dev);
	struct cloud_disk d;
	assert_int_equal(cloud_fake_get_disk(fx->fake, vol, &d), 0);
	assert_int_equal(d.n_attachments, 1);
	assert_string_equal(d.attachments[0].instance_id, CT_NODE1);
	cloud_disk_dispose(&d);
	/* ReadWriteOnce: the other node is refused, naming who holds it. */
	assert_null(publish(fx, vol, CT_NODE2, NULL, &st));
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, CT_NODE1));
	/* Still attached: delete is FAILED_PRECONDITION (CSI: in use). */
	assert_int_equal(delete_volume(fx, vol, &st), STATUS_FAILED_PRECONDITION);

	assert_int_equal(unpublish(fx, vol, CT_NODE1, &st), STATUS_OK);
	assert_int_equal(cloud_fake_get_disk(fx->fake, vol, &d), 0);
	assert_int_equal(d.n_attachments, 0);
	cloud_disk_dispose(&d);
	/* Again and again: OK. Other node never attached: OK. */
	assert_int_equal(unpublish(fx, vol, CT_NODE1, &st), STATUS_OK);
	assert_int_equal(unpublish(fx, vol, CT_NODE2, &st), STATUS_OK);
	assert_int_equal(delete_volume(fx, vol, &st), STATUS_OK);
	assert_int_equal(cloud_fake_disk_count(fx->fake), 0);
	/* Gone: delete and unpublish keep answering OK. */
	assert_int_equal(delete_volume(fx, vol, &st), STATUS_OK);
	assert_int_equal(unpublish(fx, vol, CT_NODE1, &st), STATUS_OK);
	assert_int_equal(delete_volume(fx, "vol-00000000000000abc", &st), STATUS_OK);
	cloud_fake_reset_calls(fx->fake);
	/* Ids that cannot exist: OK without asking EC2. */
	assert_int_equal(delete_volume(fx, "some-volume-id", &st), STATUS_OK);
	assert_int_equal(unpublish(fx, "some-volume-id", CT_NODE1, &st), STATUS_OK);
	assert_int_equal(unpublish(fx, vol, "some-node", &st), STATUS_OK);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_ANY), 0);
	free(vol);
	free(dev);
	free(again);
}

static void test_publish_not_found(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "p2");
	assert_null(publish(fx, "vol-00000000000000fff", CT_NODE1, NULL, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_null(publish(fx, vol, "i-00000000000000fff", NULL, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_fake_reset_calls(fx->fake);
	assert_null(publish(fx, "bogus", CT_NODE1, NULL, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_null(publish(fx, vol, "node-1", NULL, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_ANY), 0);
	/* Zone mismatch (node 3 is in us-east-1b): the cloud's
	 * FAILED_PRECONDITION passes through. */
	Csi__V1__CreateVolumeRequest *q = ct_create_req("p2b", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_topology(q, true, "topology.kubernetes.io/zone", "us-east-1a");
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	assert_non_null(r);
	assert_null(publish(fx, r->volume->volume_id, CT_NODE3, NULL, &st));
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	free(vol);
}

static void test_publish_validation(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	assert_null(publish(fx, "", CT_NODE1, NULL, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_id"));
	assert_null(publish(fx, "vol-0123", "", NULL, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "node_id"));
	Csi__V1__ControllerPublishVolumeRequest *q = ct_publish_req("vol-0123", CT_NODE1, NULL);
	assert_int_equal(ctl_code(controller_publish_volume, fx->svc, &q->base,
				  &csi__v1__controller_publish_volume_response__descriptor, &st),
			 STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_capability"));
	assert_null(publish(fx, "vol-0123", CT_NODE1, ct_cap_mount("ext4", CT_MNMW), &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_capability.access_mode"));
	assert_int_equal(unpublish(fx, "", CT_NODE1, &st), STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_id"));
	assert_int_equal(delete_volume(fx, "", &st), STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_id"));
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_ANY), 0);
}

static void test_multi_attach_and_unpublish_all(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	Csi__V1__CreateVolumeRequest *q = ct_create_req("shared", 10 * CT_GIB, 0, ct_cap_block(CT_MNMW));
	ct_create_param(q, "type", "io2");
	ct_create_topology(q, true, "topology.kubernetes.io/zone", "us-east-1a");
	Csi__V1__CreateVolumeResponse *r = ct_create(fx, q, &st);
	assert_non_null(r);
	char *vol = xstrdup(r->volume->volume_id);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	char *d1 = publish(fx, vol, CT_NODE1, ct_cap_block(CT_MNMW), &st);
	char *d2 = publish(fx, vol, CT_NODE2, ct_cap_block(CT_MNMW), &st);
	assert_non_null(d1);
	assert_non_null(d2);
	/* Empty node_id: detach from every node (CSI MUST). */
	assert_int_equal(unpublish(fx, vol, "", &st), STATUS_OK);
	struct cloud_disk d;
	assert_int_equal(cloud_fake_get_disk(fx->fake, vol, &d), 0);
	assert_int_equal(d.n_attachments, 0);
	cloud_disk_dispose(&d);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_DETACH_DISK), 2);
	free(vol);
	free(d1);
	free(d2);
}

static void test_attach_limit_and_errors(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "p3");
	cloud_fake_set_attach_limit(fx->fake, 1);  /* the root volume fills it */
	assert_null(publish(fx, vol, CT_NODE1, NULL, &st));
	assert_int_equal(st.code, STATUS_RESOURCE_EXHAUSTED);
	cloud_fake_set_attach_limit(fx->fake, 28);
	static const struct {
		int injected, expected;
	} cases[] = {
		{ STATUS_UNAVAILABLE, STATUS_UNAVAILABLE },
		{ STATUS_DEADLINE_EXCEEDED, STATUS_DEADLINE_EXCEEDED },
		{ STATUS_RESOURCE_EXHAUSTED, STATUS_RESOURCE_EXHAUSTED },
		{ STATUS_UNKNOWN, STATUS_INTERNAL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cloud_fake_fail_next(fx->fake, CLOUD_OP_ATTACH_DISK, cases[i].injected, "injected");
		assert_null(publish(fx, vol, CT_NODE1, NULL, &st));
		assert_int_equal(st.code, cases[i].expected);
		assert_non_null(strstr(st.msg, vol));
		cloud_fake_fail_next(fx->fake, CLOUD_OP_DETACH_DISK, cases[i].injected, "injected");
		assert_int_equal(unpublish(fx, vol, CT_NODE1, &st), cases[i].expected);
		cloud_fake_fail_next(fx->fake, CLOUD_OP_DELETE_DISK, cases[i].injected, "injected");
		assert_int_equal(delete_volume(fx, vol, &st), cases[i].expected);
	}
	free(vol);
}

struct hydrate {
	struct ctl_fx *fx;
	const char *vol;
};

static void *finish_hydration(void *arg)
{
	struct hydrate *h = arg;
	struct timespec ts = { 0, 50 * 1000000L };
	nanosleep(&ts, NULL);
	cloud_fake_set_initializing(h->fx->fake, h->vol, false);
	return NULL;
}

static void test_block_attach_until_initialized(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "p4");
	cloud_fake_set_initializing(fx->fake, vol, true);
	Csi__V1__ControllerPublishVolumeRequest *q = ct_publish_req(vol, CT_NODE1, ct_cap_mount("ext4", CT_SNW));
	Csi__V1__ControllerPublishVolumeRequest__VolumeContextEntry *e = xmalloc(sizeof *e);
	csi__v1__controller_publish_volume_request__volume_context_entry__init(e);
	e->key = xstrdup("blockattachuntilinitialized");
	e->value = xstrdup("true");
	q->volume_context = xmalloc(sizeof *q->volume_context);
	q->volume_context[0] = e;
	q->n_volume_context = 1;
	/* Hydration ends while the publish waits. */
	struct hydrate h = { fx, vol };
	pthread_t t;
	pthread_create(&t, NULL, finish_hydration, &h);
	assert_int_equal(ctl_code(controller_publish_volume, fx->svc, &q->base,
				  &csi__v1__controller_publish_volume_response__descriptor, &st),
			 STATUS_OK);
	pthread_join(t, NULL);
	assert_true(cloud_fake_calls(fx->fake, CLOUD_OP_GET_VOLUME_STATUS) >= 2);
	free(vol);
}

struct racer {
	struct ctl_fx *fx;
	const char *vol, *node;
	bool publish;
	int code;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct status st;
	if (r->publish) {
		char *dev = publish(r->fx, r->vol, r->node, NULL, &st);
		free(dev);
		r->code = st.code;
	} else {
		r->code = delete_volume(r->fx, r->vol, &st);
	}
	return NULL;
}

static void test_concurrency(void **state)
{
	struct ctl_fx *fx = *state;
	char *vol = ct_make_volume(fx, "p5");
	/* Same volume and node at once: the second is ABORTED. */
	cloud_fake_set_delay(fx->fake, CLOUD_OP_ATTACH_DISK, 150);
	struct racer a = { fx, vol, CT_NODE1, true, -1 }, b = { fx, vol, CT_NODE1, true, -1 };
	pthread_t t;
	pthread_create(&t, NULL, race, &a);
	struct timespec ts = { 0, 40 * 1000000L };
	nanosleep(&ts, NULL);
	race(&b);
	pthread_join(t, NULL);
	assert_int_equal(a.code, STATUS_OK);
	assert_int_equal(b.code, STATUS_ABORTED);
	struct status st;
	assert_int_equal(unpublish(fx, vol, CT_NODE1, &st), STATUS_OK);
	/* Two nodes at once: both reach EC2, exactly one wins. */
	cloud_fake_set_delay(fx->fake, CLOUD_OP_ATTACH_DISK, 30);
	struct racer c = { fx, vol, CT_NODE1, true, -1 }, d = { fx, vol, CT_NODE2, true, -1 };
	pthread_t t2;
	pthread_create(&t, NULL, race, &c);
	pthread_create(&t2, NULL, race, &d);
	pthread_join(t, NULL);
	pthread_join(t2, NULL);
	assert_true((c.code == STATUS_OK && d.code == STATUS_FAILED_PRECONDITION) ||
		    (d.code == STATUS_OK && c.code == STATUS_FAILED_PRECONDITION));
	assert_int_equal(unpublish(fx, vol, "", &st), STATUS_OK);
	cloud_fake_set_delay(fx->fake, CLOUD_OP_ATTACH_DISK, 0);
	/* Delete of one volume twice at once. */
	cloud_fake_set_delay(fx->fake, CLOUD_OP_DELETE_DISK, 150);
	struct racer e = { fx, vol, NULL, false, -1 }, f = { fx, vol, NULL, false, -1 };
	pthread_create(&t, NULL, race, &e);
	nanosleep(&ts, NULL);
	race(&f);
	pthread_join(t, NULL);
	assert_int_equal(e.code, STATUS_OK);
	assert_int_equal(f.code, STATUS_ABORTED);
	free(vol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_unpublish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_attach_and_unpublish_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_limit_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_attach_until_initialized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
