/*
 * test_metrics_ec2: common/metrics_ec2 — which families an EC2 request feeds:
 * success → duration histogram; an AWS error → errors_total by code; a
 * throttle → throttles_total only; a dry run's 412 without a code is a
 * success; every request → ebs_csi_ec2_requests_total
 * by CSI method ("none" outside a call). Upstream's 16 pre-initialised
 * duration series, over-long codes cut, NULL registry a no-op, and many
 * threads recording at once.
 */
#include "common/metrics_ec2.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define V(...) ((const char *const[]){ __VA_ARGS__ })
#define CREATE "/csi.v1.Controller/CreateVolume"

static char *render(struct metrics *m)
{
	struct buf b;
	buf_init(&b);
	metrics_render(m, &b);
	char *s = buf_take(&b);
	buf_dispose(&b);
	return s;
}

static double val(struct metrics *m, const char *name, const char *const *values)
{
	return metrics_value(metrics_find(m, name), values);
}

static void test_outcomes(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	metrics_ec2_observe(m, CREATE, "CreateVolume", NULL, 200, 0.3, false);
	metrics_ec2_observe(m, CREATE, "CreateVolume", "", 200, 0.2, false);
	metrics_ec2_observe(m, CREATE, "DescribeVolumes", "RequestLimitExceeded", 503, 0.01, true);
	metrics_ec2_observe(m, CREATE, "DescribeVolumes", "RequestLimitExceeded", 503, 0.01, true);
	metrics_ec2_observe(m, CREATE, "CreateVolume", "InvalidParameterValue", 400, 0.05, false);
	metrics_ec2_observe(m, "/csi.v1.Controller/DeleteVolume", "DeleteVolume", "Timeout", 0, 30, false);
	metrics_ec2_observe(m, NULL, "DescribeInstances", "HTTP500", 500, 0.5, false);
	metrics_ec2_on_request(m, "", "DescribeInstances", NULL, 200, 0.5, false);
	metrics_ec2_on_request(m, NULL, "DescribeAvailabilityZones", NULL, 412, 0.05, false);  /* DryRunOperation */

	/* duration: successes only */
	assert_true(val(m, METRICS_EC2_DURATION, V("CreateVolume")) == 2);
	assert_true(val(m, METRICS_EC2_DURATION, V("DescribeVolumes")) == 0);
	assert_true(val(m, METRICS_EC2_DURATION, V("DescribeInstances")) == 1);
	/* errors: not throttles */
	assert_true(val(m, METRICS_EC2_ERRORS, V("CreateVolume", "InvalidParameterValue")) == 1);
	assert_true(val(m, METRICS_EC2_ERRORS, V("DescribeVolumes", "RequestLimitExceeded")) == 0);
	assert_true(val(m, METRICS_EC2_ERRORS, V("DeleteVolume", "Timeout")) == 1);
	assert_true(val(m, METRICS_EC2_DURATION, V("DescribeAvailabilityZones")) == 1);
	assert_int_equal(metrics_series_count(metrics_find(m, METRICS_EC2_ERRORS)), 3);
	assert_true(val(m, METRICS_EC2_ERRORS, V("DescribeInstances", "HTTP500")) == 1);
	/* throttles */
	assert_true(val(m, METRICS_EC2_THROTTLES, V("DescribeVolumes")) == 2);
	assert_true(val(m, METRICS_EC2_THROTTLES, V("CreateVolume")) == 0);
	/* every request, by CSI method */
	assert_true(val(m, METRICS_EC2_PER_CSI, V(CREATE, "CreateVolume")) == 3);
	assert_true(val(m, METRICS_EC2_PER_CSI, V(CREATE, "DescribeVolumes")) == 2);
	assert_true(val(m, METRICS_EC2_PER_CSI, V("/csi.v1.Controller/DeleteVolume", "DeleteVolume")) == 1);
	assert_true(val(m, METRICS_EC2_PER_CSI, V("none", "DescribeInstances")) == 2);

	char *out = render(m);
	assert_non_null(strstr(out, "# TYPE aws_ebs_csi_api_request_duration_seconds histogram\n"));
	assert_non_null(strstr(out, "aws_ebs_csi_api_request_duration_seconds_bucket{request=\"CreateVolume\",le=\"0.25\"} 1\n"));
	assert_non_null(strstr(out, "aws_ebs_csi_api_request_duration_seconds_sum{request=\"CreateVolume\"} 0.5\n"));
	assert_non_null(strstr(out, "aws_ebs_csi_api_request_errors_total{request=\"CreateVolume\",code=\"InvalidParameterValue\"} 1\n"));
	assert_non_null(strstr(out, "aws_ebs_csi_api_request_throttles_total{operation_name=\"DescribeVolumes\"} 2\n"));
	assert_non_null(strstr(out, "ebs_csi_ec2_requests_total{method_name=\"" CREATE "\",request=\"DescribeVolumes\"} 2\n"));
	free(out);
	metrics_free(m);
}

static void test_register_preinitialises(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	metrics_ec2_register(m);
	metrics_ec2_register(m);  /* idempotent */
	assert_int_equal(metrics_series_count(metrics_find(m, METRICS_EC2_DURATION)), 16);
	assert_int_equal(metrics_series_count(metrics_find(m, METRICS_EC2_ERRORS)), 0);
	char *out = render(m);
	assert_non_null(strstr(out, "aws_ebs_csi_api_request_duration_seconds_count{request=\"EnableFastSnapshotRestores\"} 0\n"));
	assert_non_null(strstr(out, "aws_ebs_csi_api_request_duration_seconds_count{request=\"DescribeVolumesModifications\"} 0\n"));
	free(out);
	metrics_free(m);
	metrics_ec2_register(NULL);
	metrics_ec2_observe(NULL, CREATE, "CreateVolume", NULL, 200, 1, false);
	metrics_ec2_on_request(NULL, CREATE, "CreateVolume", NULL, 200, 1, false);
}

static void test_long_code_is_cut(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	char code[300];
	memset(code, 'X', sizeof code - 1);
	code[sizeof code - 1] = '\0';
	metrics_ec2_observe(m, CREATE, "CreateVolume", code, 400, 0.1, false);
	struct metrics_family *f = metrics_find(m, METRICS_EC2_ERRORS);
	assert_int_equal(metrics_series_count(f), 1);
	code[95] = '\0';
	assert_true(metrics_value(f, V("CreateVolume", code)) == 1);
	metrics_free(m);
}

enum { THREADS = 8, ITERS = 5000 };

static void *worker(void *p)
{
	struct metrics *m = p;
	for (int i = 0; i < ITERS; i++) {
		metrics_ec2_observe(m, CREATE, "CreateVolume", NULL, 200, 0.01, false);
		metrics_ec2_observe(m, CREATE, "DescribeVolumes", "RequestLimitExceeded", 503, 0.01, true);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, m);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_true(val(m, METRICS_EC2_DURATION, V("CreateVolume")) == THREADS * ITERS);
	assert_true(val(m, METRICS_EC2_THROTTLES, V("DescribeVolumes")) == THREADS * ITERS);
	assert_true(val(m, METRICS_EC2_PER_CSI, V(CREATE, "DescribeVolumes")) == THREADS * ITERS);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_register_preinitialises),
		cmocka_unit_test(test_long_code_is_cut),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
