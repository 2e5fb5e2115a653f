/* Tests of the request/response log rendering (csi-proto/pbtext.c): secrets
 * never printed, nested messages, maps, oneofs, enums, escaping, bounding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "csi-proto/pbtext.h"
#include "csi.pb-c.h"

#include <stdlib.h>
#include <string.h>

static char *render(const ProtobufCMessage *m, size_t max)
{
	struct buf b;
	buf_init(&b);
	pbtext_format(m, &b, max);
	char *s = buf_take(&b);
	buf_dispose(&b);
	return s;
}

static void test_secrets_never_printed(void **state)
{
	(void)state;
	Csi__V1__CreateVolumeRequest__SecretsEntry s1 = CSI__V1__CREATE_VOLUME_REQUEST__SECRETS_ENTRY__INIT;
	s1.key = "password";
	s1.value = "hunter2-very-secret";
	Csi__V1__CreateVolumeRequest__SecretsEntry *secrets[] = { &s1 };
	Csi__V1__CreateVolumeRequest__ParametersEntry p1 = CSI__V1__CREATE_VOLUME_REQUEST__PARAMETERS_ENTRY__INIT;
	p1.key = "type";
	p1.value = "gp3";
	Csi__V1__CreateVolumeRequest__ParametersEntry *params[] = { &p1 };
	Csi__V1__CapacityRange cr = CSI__V1__CAPACITY_RANGE__INIT;
	cr.required_bytes = 1073741824;
	Csi__V1__CreateVolumeRequest r = CSI__V1__CREATE_VOLUME_REQUEST__INIT;
	r.name = "pvc-1";
	r.capacity_range = &cr;
	r.n_secrets = 1;
	r.secrets = secrets;
	r.n_parameters = 1;
	r.parameters = params;
	char *s = render(&r.base, 4096);
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "password"));
	assert_non_null(strstr(s, "secrets:***(1)"));
	assert_non_null(strstr(s, "name:\"pvc-1\""));
	assert_non_null(strstr(s, "capacity_range:{required_bytes:1073741824}"));
	assert_non_null(strstr(s, "parameters:[{key:\"type\" value:\"gp3\"}]"));
	free(s);

	/* Node RPCs carry secrets too. */
	Csi__V1__NodeStageVolumeRequest__SecretsEntry ns = CSI__V1__NODE_STAGE_VOLUME_REQUEST__SECRETS_ENTRY__INIT;
	ns.key = "k";
	ns.value = "node-secret-value";
	Csi__V1__NodeStageVolumeRequest__SecretsEntry *nss[] = { &ns };
	Csi__V1__NodeStageVolumeRequest nr = CSI__V1__NODE_STAGE_VOLUME_REQUEST__INIT;
	nr.volume_id = "vol-1";
	nr.n_secrets = 1;
	nr.secrets = nss;
	s = render(&nr.base, 4096);
	assert_null(strstr(s, "node-secret-value"));
	free(s);
}

static void test_oneof_enum_and_repeated(void **state)
{
	(void)state;
	Csi__V1__VolumeCapability__MountVolume mv = CSI__V1__VOLUME_CAPABILITY__MOUNT_VOLUME__INIT;
	mv.fs_type = "xfs";
	char *flags[] = { "noatime", "ro" };
	mv.n_mount_flags = 2;
	mv.mount_flags = flags;
	Csi__V1__VolumeCapability__AccessMode am = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__INIT;
	am.mode = CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER;
	Csi__V1__VolumeCapability vc = CSI__V1__VOLUME_CAPABILITY__INIT;
	vc.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT;
	vc.mount = &mv;
	vc.access_mode = &am;
	char *s = render(&vc.base, 4096);
	assert_string_equal(s, "{mount:{fs_type:\"xfs\" mount_flags:[\"noatime\" \"ro\"]} access_mode:{mode:SINGLE_NODE_WRITER}}");
	free(s);
}

static void test_escaping_and_bounds(void **state)
{
	(void)state;
	Csi__V1__DeleteVolumeRequest r = CSI__V1__DELETE_VOLUME_REQUEST__INIT;
	r.volume_id = "a\"b\\c\nd\x01";
	char *s = render(&r.base, 4096);
	assert_string_equal(s, "{volume_id:\"a\\\"b\\\\c\\x0ad\\x01\"}");
	free(s);
	char big[600];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	r.volume_id = big;
	s = render(&r.base, 100);
	assert_int_equal(strlen(s), 100);
	assert_string_equal(s + 97, "...");
	free(s);
	s = render(NULL, 100);
	assert_string_equal(s, "<nil>");
	free(s);
	/* An empty message and zero-valued scalars print as {} */
	Csi__V1__ProbeRequest p = CSI__V1__PROBE_REQUEST__INIT;
	s = render(&p.base, 100);
	assert_string_equal(s, "{}");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets_never_printed),
		cmocka_unit_test(test_oneof_enum_and_repeated),
		cmocka_unit_test(test_escaping_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
