/* Tests of the driver's command-line parsing (cmd/options.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd/options.h"
#include "common/log.h"
#include "csi-proto/services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEF "unix:///tmp/csi.sock"

static int parse(struct driver_options *o, struct status *st, int argc, ...)
{
	char *argv[32];
	va_list ap;
	va_start(ap, argc);
	argv[0] = "ebs-csi-driver";
	for (int i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	status_clear(st);
	return driver_options_parse(argc, argv, DEF, o, st);
}

static void test_defaults(void **state)
{
	(void)state;
	struct driver_options o;
	struct status st;
	assert_int_equal(parse(&o, &st, 1), 0);
	assert_int_equal(o.mode, CSI_MODE_ALL);
	assert_string_equal(o.endpoint, DEF);
	assert_int_equal(o.log_format, LOG_FORMAT_TEXT);
	assert_int_equal(o.verbosity, 0);
	assert_int_equal(o.slow_workers, 16);
	assert_int_equal(o.fast_workers, 2);
	assert_int_equal(o.grace_seconds, 30);
	assert_false(o.show_help);
	assert_false(o.show_version);
	driver_options_dispose(&o);
}

static void test_modes(void **state)
{
	(void)state;
	struct driver_options o;
	struct status st;
	assert_int_equal(parse(&o, &st, 2, "node"), 0);
	assert_int_equal(o.mode, CSI_MODE_NODE);
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 2, "--mode=controller"), 0);
	assert_int_equal(o.mode, CSI_MODE_CONTROLLER);
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 3, "--mode", "all"), 0);
	assert_int_equal(o.mode, CSI_MODE_ALL);
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 2, "both"), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "both"));
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 3, "node", "controller"), -1);
	assert_non_null(strstr(st.msg, "controller"));
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 2, "--mode=nodes"), -1);
	assert_non_null(strstr(st.msg, "--mode"));
	driver_options_dispose(&o);
}

static void test_value_forms(void **state)
{
	(void)state;
	struct driver_options o;
	struct status st;
	assert_int_equal(parse(&o, &st, 6, "--endpoint=unix:///a.sock", "-v=4", "--logging-format", "json", "-h"), 0);
	assert_string_equal(o.endpoint, "unix:///a.sock");
	assert_int_equal(o.verbosity, 4);
	assert_int_equal(o.log_format, LOG_FORMAT_JSON);
	assert_true(o.show_help);
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 5, "--endpoint", "tcp://h:1", "--v", "7"), 0);
	assert_string_equal(o.endpoint, "tcp://h:1");
	assert_int_equal(o.verbosity, 7);
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 3, "-v", "2"), 0);
	assert_int_equal(o.verbosity, 2);
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 5, "--workers=64", "--fast-workers=4", "--grace-period=5", "--max-queued-calls=10"), 0);
	assert_int_equal(o.slow_workers, 64);
	assert_int_equal(o.fast_workers, 4);
	assert_int_equal(o.grace_seconds, 5);
	assert_int_equal(o.max_queued, 10);
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 2, "--version=true"), 0);
	assert_true(o.show_version);
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 2, "--version=false"), 0);
	assert_false(o.show_version);
	driver_options_dispose(&o);
}

static void test_service_flags(void **state)
{
	(void)state;
	struct driver_options o;
	struct status st;
	/* defaults */
	assert_int_equal(parse(&o, &st, 1), 0);
	assert_true(o.batching);
	assert_true(o.metadata_imds && o.metadata_kubernetes);
	assert_int_equal(o.volume_attach_limit, -1);
	assert_int_equal(o.reserved_volume_attachments, -1);
	assert_null(o.http_endpoint);
	assert_false(o.pre_stop_hook);
	driver_options_dispose(&o);

	assert_int_equal(parse(&o, &st, 9, "--http-endpoint=0.0.0.0:3301", "--extra-tags=a=b,c=d", "--k8s-tag-cluster-id",
			       "c1", "--batching=false", "--warn-on-invalid-tag", "--metadata-sources= Kubernetes ",
			       "--csi-mount-point-prefix=/var/lib/kubelet/plugins/"),
			 0);
	assert_string_equal(o.http_endpoint, "0.0.0.0:3301");
	assert_string_equal(o.extra_tags, "a=b,c=d");
	assert_string_equal(o.k8s_tag_cluster_id, "c1");
	assert_false(o.batching);
	assert_true(o.warn_on_invalid_tag);
	assert_false(o.metadata_imds);
	assert_true(o.metadata_kubernetes);
	assert_string_equal(o.csi_mount_point_prefix, "/var/lib/kubelet/plugins/");
	driver_options_dispose(&o);

	assert_int_equal(parse(&o, &st, 6, "node", "--volume-attach-limit=20", "--kubelet-root=/var/lib/kubelet",
			       "--by-id-dir=/dev/disk/by-id", "--legacy-xfs"),
			 0);
	assert_int_equal(o.mode, CSI_MODE_NODE);
	assert_int_equal(o.volume_attach_limit, 20);
	assert_string_equal(o.kubelet_root, "/var/lib/kubelet");
	assert_true(o.legacy_xfs);
	assert_string_equal(o.state_dir, "/var/lib/ebs-csi-c"); /* the default */
	driver_options_dispose(&o);

	/* Format claims: a host directory, or "" to go without. */
	assert_int_equal(parse(&o, &st, 2, "--state-dir=/csi/state"), 0);
	assert_string_equal(o.state_dir, "/csi/state");
	driver_options_dispose(&o);
	assert_int_equal(parse(&o, &st, 3, "--state-dir", ""), 0);
	assert_string_equal(o.state_dir, "");
	driver_options_dispose(&o);

	assert_int_equal(parse(&o, &st, 3, "pre-stop-hook", "--kubeconfig=/k"), 0);
	assert_true(o.pre_stop_hook);
	assert_string_equal(o.kubeconfig, "/k");
	driver_options_dispose(&o);
}

static void test_errors_name_the_flag(void **state)
{
	(void)state;
	struct { const char *args[3]; int argc; const char *needle; } cases[] = {
		{ { "--nope" }, 2, "--nope" },
		{ { "--nope=3" }, 2, "--nope" },
		{ { "--endpoint" }, 2, "--endpoint" },
		{ { "--endpoint=" }, 2, "--endpoint" },
		{ { "-v=x" }, 2, "--v" },
		{ { "-v=11" }, 2, "--v" },
		{ { "--v=-1" }, 2, "--v" },
		{ { "--logging-format=xml" }, 2, "--logging-format" },
		{ { "--workers=0" }, 2, "--workers" },
		{ { "--workers=1x" }, 2, "--workers" },
		{ { "--fast-workers=65" }, 2, "--fast-workers" },
		{ { "--grace-period=99999" }, 2, "--grace-period" },
		{ { "--version=maybe" }, 2, "--version" },
		{ { "--workers", "99999999999999999999" }, 3, "--workers" },
		{ { "--http-endpoint=3301" }, 2, "--http-endpoint" },
		{ { "--http-endpoint=:99999" }, 2, "--http-endpoint" },
		{ { "--metadata-sources=imds,ec2" }, 2, "--metadata-sources" },
		{ { "--metadata-sources=" }, 2, "--metadata-sources" },
		{ { "--kubelet-root=var/lib" }, 2, "--kubelet-root" },
		{ { "--state-dir=state" }, 2, "--state-dir" },
		{ { "--csi-mount-point-prefix=rel" }, 2, "--csi-mount-point-prefix" },
		{ { "--volume-attach-limit=5", "--reserved-volume-attachments=1" }, 3, "mutually exclusive" },
		{ { "--batching=maybe" }, 2, "--batching" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct driver_options o;
		struct status st;
		int rc = cases[i].argc == 2 ? parse(&o, &st, 2, cases[i].args[0])
					    : parse(&o, &st, 3, cases[i].args[0], cases[i].args[1]);
		if (rc != -1 || st.code != STATUS_INVALID_ARGUMENT || strstr(st.msg, cases[i].needle) == NULL)
			fail_msg("case %zu (%s): rc=%d msg=%s", i, cases[i].args[0], rc, st.msg);
		driver_options_dispose(&o);
	}
}

static void test_usage_lists_flags(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	driver_options_usage(f);
	fclose(f);
	const char *flags[] = { "--endpoint", "--mode", "--logging-format", "--v", "--version", "--workers", "-h" };
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		assert_non_null(strstr(text, flags[i]));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_value_forms),
		cmocka_unit_test(test_service_flags),
		cmocka_unit_test(test_errors_name_the_flag),
		cmocka_unit_test(test_usage_lists_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
