/*
 * Tests for the pure parts of the controller and its two simplest handlers:
 * ControllerGetCapabilities (field by field, no cloud call),
 * ValidateVolumeCapabilities (confirmed with copies, unsupported as an OK
 * answer with a message, NOT_FOUND), StorageClass / VolumeAttributesClass /
 * VolumeSnapshotClass parsing (table-driven), the tag template language,
 * --extra-tags, reserved keys, sizes, IOPS capping and id shapes.
 */
#include "controller/controller_internal.h"
#include "tests/controller/helper_controller.h"

#include "common/xalloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void test_capabilities(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	Csi__V1__ControllerGetCapabilitiesRequest *req = xmalloc(sizeof *req);
	csi__v1__controller_get_capabilities_request__init(req);
	Csi__V1__ControllerGetCapabilitiesResponse *r = (Csi__V1__ControllerGetCapabilitiesResponse *)ctl_call(
		controller_get_capabilities, fx->svc, &req->base, &csi__v1__controller_get_capabilities_response__descriptor,
		&st);
	assert_non_null(r);
	static const int want[] = {
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__PUBLISH_UNPUBLISH_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_SNAPSHOT,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__LIST_SNAPSHOTS,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CLONE_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
		CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__MODIFY_VOLUME,
	};
	assert_int_equal(r->n_capabilities, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(r->capabilities[i]->type_case, CSI__V1__CONTROLLER_SERVICE_CAPABILITY__TYPE_RPC);
		assert_int_equal(r->capabilities[i]->rpc->type, want[i]);
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(cloud_fake_calls(fx->fake, CLOUD_OP_ANY), 0);
}

static Csi__V1__ValidateVolumeCapabilitiesRequest *vvc_req(const char *vol, Csi__V1__VolumeCapability *cap)
{
	Csi__V1__ValidateVolumeCapabilitiesRequest *q = xmalloc(sizeof *q);
	csi__v1__validate_volume_capabilities_request__init(q);
	q->volume_id = xstrdup(vol);
	if (cap != NULL) {
		q->volume_capabilities = xmalloc(sizeof *q->volume_capabilities);
		q->volume_capabilities[0] = cap;
		q->n_volume_capabilities = 1;
	}
	return q;
}

static void vvc_param(Csi__V1__ValidateVolumeCapabilitiesRequest *q, const char *k, const char *v)
{
	Csi__V1__ValidateVolumeCapabilitiesRequest__ParametersEntry *e = xmalloc(sizeof *e);
	csi__v1__validate_volume_capabilities_request__parameters_entry__init(e);
	e->key = xstrdup(k);
	e->value = xstrdup(v);
	q->parameters = xrealloc(q->parameters, (q->n_parameters + 1) * sizeof *q->parameters);
	q->parameters[q->n_parameters++] = e;
}

static Csi__V1__ValidateVolumeCapabilitiesResponse *vvc(struct ctl_fx *fx, Csi__V1__ValidateVolumeCapabilitiesRequest *q,
							struct status *st)
{
	return (Csi__V1__ValidateVolumeCapabilitiesResponse *)ctl_call(
		controller_validate_volume_capabilities, fx->svc, &q->base,
		&csi__v1__validate_volume_capabilities_response__descriptor, st);
}

static void test_validate_volume_capabilities(void **state)
{
	struct ctl_fx *fx = *state;
	struct status st;
	char *vol = ct_make_volume(fx, "v");
	Csi__V1__ValidateVolumeCapabilitiesRequest *q = vvc_req(vol, ct_cap_mount("xfs", CT_SNW));
	vvc_param(q, "type", "gp3");
	Csi__V1__ValidateVolumeCapabilitiesResponse *r = vvc(fx, q, &st);
	assert_non_null(r);
	assert_non_null(r->confirmed);
	assert_int_equal(r->confirmed->n_volume_capabilities, 1);
	assert_string_equal(r->confirmed->volume_capabilities[0]->mount->fs_type, "xfs");
	assert_int_equal(r->confirmed->n_parameters, 1);
	assert_string_equal(r->confirmed->parameters[0]->value, "gp3");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Unsupported: OK without confirmed, with a reason. */
	r = vvc(fx, vvc_req(vol, ct_cap_mount("ext4", CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY)),
		&st);
	assert_non_null(r);
	assert_null(r->confirmed);
	assert_non_null(strstr(r->message, "access_mode"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = vvc(fx, vvc_req(vol, ct_cap_block(CT_MNMW)), &st);
	assert_non_null(r);
	assert_null(r->confirmed);
	assert_non_null(strstr(r->message, "multi-attach"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	q = vvc_req(vol, ct_cap_block(CT_SNW));
	vvc_param(q, "blockSize", "4096");
	r = vvc(fx, q, &st);
	assert_non_null(r);
	assert_null(r->confirmed);
	assert_non_null(strstr(r->message, "blockSize"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* Errors. */
	assert_null(vvc(fx, vvc_req("vol-00000000000000fff", ct_cap_block(CT_SNW)), &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_null(vvc(fx, vvc_req("bogus", ct_cap_block(CT_SNW)), &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_null(vvc(fx, vvc_req(vol, NULL), &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_capabilities"));
	assert_null(vvc(fx, vvc_req("", ct_cap_block(CT_SNW)), &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "volume_id"));
	free(vol);
}

/* ---- parameters ------------------------------------------------------------------ */

static int parse(const char *const *kv, struct controller_volume_params *p, struct status *st)
{
	struct kvmap_entry v[16];
	size_t n = 0;
	for (; kv[2 * n] != NULL; n++)
		v[n] = (struct kvmap_entry){ kv[2 * n], kv[2 * n + 1] };
	struct kvmap m = { n, v };
	return controller_parse_volume_params(&m, NULL, p, st);
}

static void test_volume_params_table(void **state)
{
	(void)state;
	static const struct {
		const char *kv[8];
		int ok;
		const char *expect;  /* substring of the error */
	} cases[] = {
		{ { NULL }, 1, NULL },
		{ { "TYPE", "St1", NULL }, 1, NULL },
		{ { "type", "", NULL }, 0, "type" },
		{ { "iops", "3000", "iopsPerGB", "10", NULL }, 0, "exclude" },
		{ { "type", "gp2", "iops", "300", NULL }, 0, "gp2" },
		{ { "type", "io1", "throughput", "300", NULL }, 0, "throughput" },
		{ { "encrypted", "TRUE", NULL }, 1, NULL },
		{ { "encrypted", "1", NULL }, 0, "encrypted" },
		{ { "iops", "2147483648", NULL }, 0, "iops" },
		{ { "iops", "12a", NULL }, 0, "iops" },
		{ { "volumeInitializationRate", "100", NULL }, 1, NULL },
		{ { "inodeSize", "100", NULL }, 0, "inodeSize" },
		{ { "numberOfInodes", "1000", NULL }, 1, NULL },
		{ { "ext4BigAlloc", "false", "ext4ClusterSize", "4096", NULL }, 0, "ext4BigAlloc" },
		{ { "fstype", "xfs", "blockExpress", "true", NULL }, 1, NULL },
		{ { "csi.storage.k8s.io/fstype", "xfs", NULL }, 0, "csi.storage.k8s.io/fstype" },
		{ { "TagSpecification_a", "x=y", NULL }, 1, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct controller_volume_params p;
		struct status st = STATUS_INIT;
		int r = parse(cases[i].kv, &p, &st);
		if ((r == 0) != cases[i].ok)
			fail_msg("case %zu: got %d (%s)", i, r, st.msg);
		if (!cases[i].ok) {
			assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
			if (strstr(st.msg, cases[i].expect) == NULL)
				fail_msg("case %zu: \"%s\" does not mention %s", i, st.msg, cases[i].expect);
		}
		controller_volume_params_dispose(&p);
	}
	/* Values land where they should; tag specs sorted by key. */
	static const char *const kv[] = { "type", "io2", "iops", "4000", "tagSpecification_b", "b=2",
					  "tagSpecification_a", "a=1", "encrypted", "false", "blockSize", "1024", NULL };
	struct controller_volume_params p;
	struct status st;
	assert_int_equal(parse(kv, &p, &st), 0);
	assert_string_equal(p.type->name, "io2");
	assert_int_equal(p.iops, 4000);
	assert_int_equal(p.encrypted, 0);
	assert_string_equal(p.fmt[CONTROLLER_FMT_BLOCK_SIZE], "1024");
	assert_int_equal(p.tag_specs.n, 2);
	assert_string_equal(p.tag_specs.v[0], "a=1");
	assert_string_equal(p.tag_specs.v[1], "b=2");
	/* Formatting options against filesystems. */
	assert_int_equal(controller_check_fmt_for_fs(&p, false, "xfs", "c", &st), 0);
	assert_int_equal(controller_check_fmt_for_fs(&p, true, "", "c", &st), -1);
	controller_volume_params_dispose(&p);
}

static void test_snapshot_and_modify_params(void **state)
{
	(void)state;
	struct kvmap_entry v[] = {
		{ "FastSnapshotRestoreAvailabilityZones", " us-east-1a ,us-east-1b," },
		{ "outpostarn", "arn:aws:outposts:us-east-1:123456789012:outpost/op-1" },
		{ "tagSpecification_1", "k=v" },
	};
	struct kvmap m = { 3, v };
	struct controller_snapshot_params sp;
	struct status st;
	assert_int_equal(controller_parse_snapshot_params(&m, &sp, &st), 0);
	assert_int_equal(sp.fsr_zones.n, 2);
	assert_string_equal(sp.fsr_zones.v[0], "us-east-1a");
	assert_string_equal(sp.fsr_zones.v[1], "us-east-1b");
	assert_string_equal(sp.outpost_arn, "arn:aws:outposts:us-east-1:123456789012:outpost/op-1");
	assert_int_equal(sp.tag_specs.n, 1);
	controller_snapshot_params_dispose(&sp);

	struct kvmap_entry mv[] = {
		{ "volumeType", "gp2" },
		{ "type", "gp3" },
		{ "throughput", "500" },
		{ "tagDeletion_x", "old" },
	};
	struct kvmap mm = { 4, mv };
	struct controller_modify_params mp;
	assert_int_equal(controller_parse_modify_params(&mm, &mp, &st), 0);
	assert_string_equal(mp.type->name, "gp3");  /* type wins over volumeType */
	assert_int_equal(mp.throughput, 500);
	assert_int_equal(mp.tag_deletions.n, 1);
	controller_modify_params_dispose(&mp);
	struct kvmap_entry bad[] = { { "type", "io1" }, { "throughput", "500" } };
	struct kvmap mb = { 2, bad };
	assert_int_equal(controller_parse_modify_params(&mb, &mp, &st), -1);
	assert_non_null(strstr(st.msg, "throughput"));
	controller_modify_params_dispose(&mp);
}

/* ---- templates and tags ------------------------------------------------------------- */

static void test_templates(void **state)
{
	(void)state;
	const struct controller_tvar vars[] = { { "PVCName", "data-web-0" }, { "PVCNamespace", "Shop" }, { "PVName", NULL } };
	static const struct {
		const char *tmpl, *want;  /* want NULL: an error */
	} cases[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "{{ .PVCName }}", "data-web-0" },
		{ "{{.PVCNamespace}}/{{.PVCName}}", "Shop/data-web-0" },
		{ "[{{ .PVName }}]", "[]" },
		{ "{{ .PVCNamespace | toLower }}", "shop" },
		{ "{{ toUpper .PVCName }}", "DATA-WEB-0" },
		{ "{{ field \"-\" 1 .PVCName }}", "web" },
		{ "{{ .PVCName | field \"-\" 2 }}", "0" },
		{ "{{ substring 0 4 .PVCName }}", "data" },
		{ "{{ substring 5 -1 .PVCName }}", "web-0" },
		{ "{{ contains \"web\" .PVCName }}", "true" },
		{ "{{ index \"-\" .PVCName }}", "4" },
		{ "{{ lastIndex \"-\" .PVCName }}", "8" },
		{ "{{ .PVCName | substring 0 4 | toUpper }}", "DATA" },
		{ "{{ toUpper (field \"-\" 0 .PVCName) }}", "DATA" },
		{ "a {{- \" b \" -}} c", "a b c" },
		{ "x{{/* note */}}y", "xy" },
		{ "{{ `raw` }}", "raw" },
		{ "{{ .Missing }}", NULL },
		{ "{{ html .PVCName }}", NULL },
		{ "{{ js .PVCName }}", NULL },
		{ "{{ printf \"%s\" .PVCName }}", NULL },
		{ "{{ if .PVCName }}x{{ end }}", NULL },
		{ "{{ field \"-\" 7 .PVCName }}", NULL },
		{ "{{ toUpper 3 }}", NULL },
		{ "{{ toUpper }}", NULL },
		{ "{{ .PVCName", NULL },
		{ "{{ \"open }}", NULL },
		{ "{{ . }}", NULL },
		{ "{{ (toUpper .PVCName }}", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct status st = STATUS_INIT;
		char *got = controller_template_eval(cases[i].tmpl, vars, 3, &st);
		if (cases[i].want == NULL) {
			if (got != NULL)
				fail_msg("case %zu (%s): want an error, got \"%s\"", i, cases[i].tmpl, got);
			assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
		} else {
			if (got == NULL)
				fail_msg("case %zu (%s): %s", i, cases[i].tmpl, st.msg);
			assert_string_equal(got, cases[i].want);
		}
		free(got);
	}
}

static void test_extra_tags_and_reserved(void **state)
{
	struct ctl_fx *fx = *state;
	struct cloud_tags t;
	struct status st;
	assert_int_equal(controller_parse_extra_tags(" a = 1 ,b=2,, c= ", &t, &st), 0);
	assert_int_equal(t.n, 3);
	assert_string_equal(cloud_tags_get(&t, "a"), "1");
	assert_string_equal(cloud_tags_get(&t, "b"), "2");
	assert_string_equal(cloud_tags_get(&t, "c"), "");
	cloud_tags_dispose(&t);
	assert_int_equal(controller_parse_extra_tags("", &t, &st), 0);
	assert_int_equal(t.n, 0);
	cloud_tags_dispose(&t);
	static const char *const bad[] = { "novalue", "=v", "CSIVolumeName=x", "kubernetes.io/cluster/x=owned",
					   "ebs.csi.aws.com/cluster=false", "aws:x=y" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(controller_parse_extra_tags(bad[i], &t, &st), -1);
		assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
		cloud_tags_dispose(&t);
	}
	assert_true(controller_tag_key_reserved("CSIVolumeSnapshotName"));
	assert_true(controller_tag_key_reserved("ebs.csi.aws.com/cluster-name"));
	assert_true(controller_tag_key_reserved("kubernetes.io"));
	assert_false(controller_tag_key_reserved("Name"));
	assert_false(controller_tag_key_reserved("KubernetesCluster"));
	/* --warn-on-invalid-tag: bad specs are skipped, good ones kept. */
	fx->cfg.warn_on_invalid_tag = true;
	ctl_fx_restart(fx);
	struct strv specs;
	strv_init(&specs);
	strv_push(&specs, "good={{ .PVCName }}");
	strv_push(&specs, "bad={{ .Nope }}");
	strv_push(&specs, "CSIVolumeName=x");
	strv_push(&specs, "nokey");
	const struct controller_tvar vars[] = { { "PVCName", "p" } };
	cloud_tags_init(&t);
	assert_int_equal(controller_add_tag_specs(fx->svc, &specs, vars, 1, &t, &st), 0);
	assert_int_equal(t.n, 1);
	assert_string_equal(cloud_tags_get(&t, "good"), "p");
	cloud_tags_dispose(&t);
	strv_dispose(&specs);
}

static void test_sizes_iops_ids(void **state)
{
	(void)state;
	struct status st;
	int64_t g;
	assert_int_equal(controller_size_gib(NULL, NULL, 100, &g, &st), 0);
	assert_int_equal(g, 100);
	Csi__V1__CapacityRange cr = CSI__V1__CAPACITY_RANGE__INIT;
	cr.limit_bytes = 50 * CT_GIB + 5;
	assert_int_equal(controller_size_gib(&cr, NULL, 100, &g, &st), 0);
	assert_int_equal(g, 50);
	cr.limit_bytes = CT_GIB / 2;
	assert_int_equal(controller_size_gib(&cr, NULL, 100, &g, &st), -1);
	assert_int_equal(st.code, STATUS_OUT_OF_RANGE);
	cr.required_bytes = 100 * CT_GIB;
	cr.limit_bytes = 0;
	assert_int_equal(controller_size_gib(&cr, controller_volume_type_find("st1"), 100, &g, &st), 0);
	assert_int_equal(g, 125);

	const struct controller_volume_type *gp3 = controller_volume_type_find("GP3");
	assert_non_null(gp3);
	assert_null(controller_volume_type_find("gp4"));
	assert_int_equal(controller_cap_iops(gp3, 100, 0, true), 0);
	assert_int_equal(controller_cap_iops(gp3, 100, 1000, false), 1000);
	assert_int_equal(controller_cap_iops(gp3, 100, 1000, true), 3000);
	assert_int_equal(controller_cap_iops(gp3, 10, 100000, false), 5000);   /* 500/GiB */
	assert_int_equal(controller_cap_iops(gp3, 1000, 100000, false), 80000); /* type max */
	assert_int_equal(controller_cap_iops(gp3, 4, 10000, false), 10000);     /* ratio below min: not applied */
	assert_int_equal(controller_cap_iops(controller_volume_type_find("io2"), 100, 500000, false), 100000);

	assert_true(controller_id_valid("vol-0123456789abcdef0", "vol-"));
	assert_true(controller_id_valid("vol-01234567", "vol-"));
	assert_false(controller_id_valid("vol-", "vol-"));
	assert_false(controller_id_valid("vol-../x", "vol-"));
	assert_false(controller_id_valid("snap-1", "vol-"));
	assert_false(controller_id_valid(NULL, "i-"));
	char *tok = controller_client_token("pvc-1");
	assert_int_equal(strlen(tok), 64);
	char *tok2 = controller_client_token("pvc-1");
	assert_string_equal(tok, tok2);
	free(tok);
	free(tok2);
	tok = controller_client_token("");
	assert_string_equal(tok, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validate_volume_capabilities, setup, teardown),
		cmocka_unit_test(test_volume_params_table),
		cmocka_unit_test(test_snapshot_and_modify_params),
		cmocka_unit_test(test_templates),
		cmocka_unit_test_setup_teardown(test_extra_tags_and_reserved, setup, teardown),
		cmocka_unit_test(test_sizes_iops_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
