/*
 * metrics_ec2: the metrics of EC2 API requests, recorded by the AWS cloud
 * implementation once per HTTP request it sends (every attempt, so retries
 * and throttled attempts count: each one spends EC2 request quota).
 *
 * Upstream's names and labels, so existing dashboards and alerts keep working:
 *   aws_ebs_csi_api_request_duration_seconds{request}      histogram, successful requests only
 *   aws_ebs_csi_api_request_errors_total{request,code}     failed requests that were not throttled
 *   aws_ebs_csi_api_request_throttles_total{operation_name} throttled requests
 * and one of ours, which no other driver exports — what each CSI call costs in EC2:
 *   ebs_csi_ec2_requests_total{method_name,request}        every request, by the CSI method it served
 * method_name holds the same values as csi_plugin_operations_seconds'
 * ("/csi.v1.Controller/CreateVolume"), so PromQL can divide one by the other;
 * "none" marks requests made outside any CSI call (start-up, health checks).
 * Nothing here looks at request parameters: no volume id, no credential.
 */
#ifndef EBS_COMMON_METRICS_EC2_H
#define EBS_COMMON_METRICS_EC2_H

#include "common/metrics.h"

#include <stdbool.h>

#define METRICS_EC2_DURATION "aws_ebs_csi_api_request_duration_seconds"
#define METRICS_EC2_ERRORS "aws_ebs_csi_api_request_errors_total"
#define METRICS_EC2_THROTTLES "aws_ebs_csi_api_request_throttles_total"
#define METRICS_EC2_PER_CSI "ebs_csi_ec2_requests_total"

/* Registers the four families in m and creates upstream's pre-initialised
 * duration series (CreateVolume … EnableFastSnapshotRestores, 16 actions) at
 * zero. Optional: metrics_ec2_observe registers on first use. m may be NULL. */
void metrics_ec2_register(struct metrics *m);

/*
 * Records one EC2 request. csi_method: the rpc_ctx's method path (NULL or ""
 * outside a CSI call); action: the EC2 action ("AttachVolume"); error_code:
 * NULL or "" when the request succeeded (a DryRunOperation answer to a dry
 * run is a success), else the AWS error code, or the caller's name for a
 * failure without one ("HTTP503", "Timeout", "ConnectError"…); http_status:
 * the response's status, 0 when none arrived (informational: the outcome is
 * error_code's); seconds: the attempt's duration; throttled: EC2 throttled it
 * (RequestLimitExceeded…; counted as a throttle, not an error). m may be
 * NULL (no-op). Thread-safe.
 */
void metrics_ec2_observe(struct metrics *m, const char *csi_method, const char *action, const char *error_code,
			 int http_status, double seconds, bool throttled);

/* The same with the shape of cloud_aws_options.on_request: pass it with the
 * registry as on_request_ctx. */
void metrics_ec2_on_request(void *metrics, const char *csi_method, const char *action, const char *error_code,
			    int http_status, double seconds, bool throttled);

#endif
