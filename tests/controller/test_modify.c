/*
 * Tests for ControllerExpandVolume and ControllerModifyVolume on the fake
 * cloud: sizes, node_expansion_required for mount and block, no ModifyVolume
 * when nothing changes, OUT_OF_RANGE and validation errors before any
 * call, VolumeAttributesClass parameters (type, iops, throughput, templated
 * tag additions, tag deletions, iopsPerGB re-tagging), IOPS following a
 * resize when the volume was made with iopsPerGB and allowed to, mapped
 * cloud errors — and the coalescer: a resize and a modify arriving together
 * become one ModifyVolume; conflicting ones are refused with ABORTED.
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

static Csi__V1__ControllerExpandVolumeResponse *expand(struct ctl_fx *fx, const char *vol, int64_t req, int64_t lim,
						       Csi__V1__VolumeCapability *cap, struct status *st)
{
	return (Csi__V1__ControllerExpandVolumeResponse *)ctl_call(
		controller_expand_volume, fx->svc, &ct_expand_req(vol, req, lim, cap)->base,
		&csi__v1__controller_expand_volume_response__descriptor, st);
}

static int modify(struct ctl_fx *fx, Csi__V1__ControllerModifyVolumeRequest *q, struct status *st)
{
	return ctl_code(controller_modify_volume, fx->svc, &q->base, &csi__v1__controller_modify_volume_response__descriptor,
			st);
}

static void disk(struct ctl_fx *fx, const char *vol, struct cloud_disk *d)
{
	assert_int_equal(cloud_fake_get_disk(fx->fake, vol, d), 0);
}

static void test_expand(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "e1");
	Csi__V1__ControllerExpandVolumeResponse *r = expand(fx, vol, 20 * CT_GIB - 5, 0, ct_cap_mount("ext4", CT_SNW), &st);
	assert_non_null(r);
	assert_int_equal(r->capacity_bytes, 20 * CT_GIB);
	assert_true(r->node_expansion_required);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	struct cloud_disk d;
	disk(fx, vol, &d);
	assert_int_equal(d.size_gib, 20);
	cloud_disk_dispose(&d);
	assert_int_equal(cloud_fake_modify_volume_calls(fx->fake), 1);
	/* Block: no node expansion. Already that big: OK, no modification. */
	r = expand(fx, vol, 15 * CT_GIB, 0, ct_cap_block(CT_SNW), &st);
	assert_non_null(r);
	assert_int_equal(r->capacity_bytes, 20 * CT_GIB);
	assert_false(r->node_expansion_required);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* No capability: assume a filesystem. */
	r = expand(fx, vol, 20 * CT_GIB, 0, NULL, &st);
	assert_non_null(r);
	assert_true(r->node_expansion_required);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(cloud_fake_modify_volume_calls(fx->fake), 1);
	/* Larger than the limit already: OUT_OF_RANGE. */
	assert_null(expand(fx, vol, 10 * CT_GIB, 12 * CT_GIB, NULL, &st));
	assert_int_equal(st.code, STATUS_OUT_OF_RANGE);
	free(vol);
}

static void test_expand_errors(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	assert_null(expand(fx, "", CT_GIB, 0, NULL, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_id"));
	assert_null(expand(fx, "vol-01", 0, 0, NULL, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "capacity_range"));
	assert_null(expand(fx, "vol-01", 5 * CT_GIB, CT_GIB, NULL, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_null(expand(fx, "vol-01", CT_GIB + 1, CT_GIB + 2, NULL, &st));
	assert_int_equal(st.code, STATUS_OUT_OF_RANGE);
	assert_null(expand(fx, "vol-01", 70000 * CT_GIB, 0, NULL, &st));
	assert_int_equal(st.code, STATUS_OUT_OF_RANGE);
	assert_null(expand(fx, "vol-01", CT_GIB, 0, ct_cap_mount("ext4", 3), &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_capability"));
	assert_null(expand(fx, "nope", CT_GIB, 0, NULL, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_ANY), 0);
	assert_null(expand(fx, "vol-00000000000000fff", CT_GIB, 0, NULL, &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	/* Past the type's maximum (gp2: 16 TiB). */
	Csi__V1__CreateVolumeRequest *q = ct_create_req("gp2", CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_param(q, "type", "gp2");
	Csi__V1__CreateVolumeResponse *c = ct_create(fx, q, &st);
	assert_non_null(c);
	assert_null(expand(fx, c->volume->volume_id, 20000 * CT_GIB, 0, NULL, &st));
	assert_int_equal(st.code, STATUS_OUT_OF_RANGE);
	static const struct {
		int injected, expected;
	} cases[] = {
		{ STATUS_RESOURCE_EXHAUSTED, STATUS_RESOURCE_EXHAUSTED },
		{ STATUS_ABORTED, STATUS_ABORTED },
		{ STATUS_INVALID_ARGUMENT, STATUS_INVALID_ARGUMENT },
		{ STATUS_UNAVAILABLE, STATUS_UNAVAILABLE },
		{ STATUS_UNKNOWN, STATUS_INTERNAL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cloud_fake_fail_next(fx->fake, CLOUD_OP_MODIFY_DISK, cases[i].injected, "injected");
		assert_null(expand(fx, c->volume->volume_id, 2 * CT_GIB, 0, NULL, &st));
		assert_int_equal(st.code, cases[i].expected);
		assert_non_null(strstr(st.msg, "injected"));
	}
	protobuf_c_message_free_unpacked(&c->base, NULL);
}

static void test_modify(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "m1");
	Csi__V1__ControllerModifyVolumeRequest *q = ct_modify_req(vol);
	ct_modify_param(q, "type", "io2");
	ct_modify_param(q, "iops", "5000");
	ct_modify_param(q, "tagSpecification_1", "app={{ .PVCName | toLower }}");
	ct_modify_param(q, "tagSpecification_2", "tier=gold");
	ct_modify_param(q, "csi.storage.k8s.io/pvc/name", "DATA");
	assert_int_equal(modify(fx, q, &st), STATUS_OK);
	struct cloud_disk d;
	disk(fx, vol, &d);
	assert_string_equal(d.volume_type, "io2");
	assert_int_equal(d.iops, 5000);
	assert_int_equal(d.size_gib, 10);
	assert_string_equal(cloud_tags_get(&d.tags, "app"), "data");
	assert_string_equal(cloud_tags_get(&d.tags, "tier"), "gold");
	cloud_disk_dispose(&d);
	assert_int_equal(cloud_fake_modify_volume_calls(fx->fake), 1);
	/* Tags only: no ModifyVolume. */
	q = ct_modify_req(vol);
	ct_modify_param(q, "tagDeletion_1", "tier");
	ct_modify_param(q, "iopsPerGB", "50");
	assert_int_equal(modify(fx, q, &st), STATUS_OK);
	disk(fx, vol, &d);
	assert_null(cloud_tags_get(&d.tags, "tier"));
	assert_string_equal(cloud_tags_get(&d.tags, "ebs.csi.aws.com/IOPSPerGb"), "50");
	assert_int_equal(d.iops, 500);
	cloud_disk_dispose(&d);
	/* The same again: idempotent, nothing differs. */
	q = ct_modify_req(vol);
	ct_modify_param(q, "type", "io2");
	assert_int_equal(modify(fx, q, &st), STATUS_OK);
	assert_int_equal(cloud_fake_modify_volume_calls(fx->fake), 2);
	free(vol);
}

static void test_modify_validation(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	static const struct {
		const char *key, *value, *expect;
	} cases[] = {
		{ "color", "blue", "color" },
		{ "iops", "x", "iops" },
		{ "type", "gp9", "gp9" },
		{ "tagDeletion_1", "CSIVolumeName", "reserved" },
		{ "tagSpecification_1", "ebs.csi.aws.com/cluster=false", "reserved" },
		{ "tagSpecification_1", "a={{ html .PVName }}", "html" },
		{ "allowAutoIOPSIncreaseOnModify", "maybe", "allowAutoIOPSIncreaseOnModify" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		Csi__V1__ControllerModifyVolumeRequest *q = ct_modify_req("vol-01");
		if (cases[i].key)
			ct_modify_param(q, cases[i].key, cases[i].value);
		assert_int_equal(modify(fx, q, &st), STATUS_INVALID_ARGUMENT);
		if (strstr(st.msg, cases[i].expect) == NULL)
			fail_msg("case %zu: \"%s\" does not mention %s", i, st.msg, cases[i].expect);
	}
	Csi__V1__ControllerModifyVolumeRequest *q = ct_modify_req("vol-01");
	ct_modify_param(q, "iops", "3000");
	ct_modify_param(q, "iopsPerGB", "3");
	assert_int_equal(modify(fx, q, &st), STATUS_INVALID_ARGUMENT);
	q = ct_modify_req("");
	ct_modify_param(q, "iops", "3000");
	assert_int_equal(modify(fx, q, &st), STATUS_INVALID_ARGUMENT);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_ANY), 0);
	q = ct_modify_req("vol-00000000000000fff");
	ct_modify_param(q, "iops", "3000");
	assert_int_equal(modify(fx, q, &st), STATUS_NOT_FOUND);
}

/* No mutable parameters: nothing to change. Unknown volume → NOT_FOUND; a known
 * one → OK without any ModifyVolume or tag call (what csi-sanity expects). */
static void test_modify_nothing(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	Csi__V1__ControllerModifyVolumeRequest *q = ct_modify_req("vol-00000000000000fff");
	assert_int_equal(modify(fx, q, &st), STATUS_NOT_FOUND);
	q = ct_modify_req("non-existing-volume-id");
	assert_int_equal(modify(fx, q, &st), STATUS_NOT_FOUND);
	char *vol = ct_make_volume(fx, "m0");
	q = ct_modify_req(vol);
	assert_int_equal(modify(fx, q, &st), STATUS_OK);
	assert_int_equal(cloud_fake_modify_volume_calls(fx->fake), 0);
	free(vol);
}

static void test_resize_keeps_iops_ratio(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	Csi__V1__CreateVolumeRequest *q = ct_create_req("ratio", 10 * CT_GIB, 0, ct_cap_mount(NULL, CT_SNW));
	ct_create_param(q, "type", "io1");
	ct_create_param(q, "iopsPerGB", "10");
	ct_create_param(q, "allowAutoIOPSIncreaseOnModify", "true");
	Csi__V1__CreateVolumeResponse *c = ct_create(fx, q, &st);
	assert_non_null(c);
	struct cloud_disk d;
	disk(fx, c->volume->volume_id, &d);
	assert_int_equal(d.iops, 100);
	cloud_disk_dispose(&d);
	Csi__V1__ControllerExpandVolumeResponse *r = expand(fx, c->volume->volume_id, 30 * CT_GIB, 0, NULL, &st);
	assert_non_null(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	disk(fx, c->volume->volume_id, &d);
	assert_int_equal(d.size_gib, 30);
	assert_int_equal(d.iops, 300);
	cloud_disk_dispose(&d);
	protobuf_c_message_free_unpacked(&c->base, NULL);
}

struct job {
	struct ctl_fx *fx;
	const char *vol;
	int64_t size;      /* expand when > 0 */
	const char *iops;  /* modify when set */
	int code;
	int64_t capacity;
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	struct status st;
	if (j->size > 0) {
		Csi__V1__ControllerExpandVolumeResponse *r = expand(j->fx, j->vol, j->size, 0, NULL, &st);
		if (r != NULL) {
			j->capacity = r->capacity_bytes;
			protobuf_c_message_free_unpacked(&r->base, NULL);
		}
	} else {
		Csi__V1__ControllerModifyVolumeRequest *q = ct_modify_req(j->vol);
		ct_modify_param(q, "iops", j->iops);
		modify(j->fx, q, &st);
	}
	j->code = st.code;
	return NULL;
}

static void run_together(struct job *a, struct job *b)
{
	pthread_t t1, t2;
	pthread_create(&t1, NULL, run_job, a);
	struct timespec ts = { 0, 20 * 1000000L };
	nanosleep(&ts, NULL);
	pthread_create(&t2, NULL, run_job, b);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
}

static void test_coalescer_merges(void **state)
{
	struct ctl_fx *fx = *state;
	fx->cfg.modify_window_ms = 120;
	ctl_fx_restart(fx);
	char *vol = ct_make_volume(fx, "c1");
	cloud_fake_reset_calls(fx->fake);
	struct job a = { fx, vol, 20 * CT_GIB, NULL, -1, 0 };
	struct job b = { fx, vol, 0, "4000", -1, 0 };
	run_together(&a, &b);
	assert_int_equal(a.code, STATUS_OK);
	assert_int_equal(b.code, STATUS_OK);
	assert_int_equal(a.capacity, 20 * CT_GIB);
	/* One DescribeVolumes and one ModifyVolume for both requests. */
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_MODIFY_DISK), 1);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_GET_DISK), 1);
	assert_int_equal(cloud_fake_modify_volume_calls(fx->fake), 1);
	struct cloud_disk d;
	disk(fx, vol, &d);
	assert_int_equal(d.size_gib, 20);
	assert_int_equal(d.iops, 4000);
	cloud_disk_dispose(&d);

	/* Conflicting sizes: the second caller alone is refused. */
	struct job c = { fx, vol, 30 * CT_GIB, NULL, -1, 0 };
	struct job e = { fx, vol, 40 * CT_GIB, NULL, -1, 0 };
	run_together(&c, &e);
	assert_int_equal(c.code, STATUS_OK);
	assert_int_equal(e.code, STATUS_ABORTED);
	disk(fx, vol, &d);
	assert_int_equal(d.size_gib, 30);
	cloud_disk_dispose(&d);
	/* Requests in separate windows are separate modifications. */
	struct job f = { fx, vol, 0, "5000", -1, 0 };
	run_job(&f);
	assert_int_equal(f.code, STATUS_OK);
	assert_int_equal(cloud_fake_modify_volume_calls(fx->fake), 3);
	free(vol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modify_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modify_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize_keeps_iops_ratio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coalescer_merges, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
