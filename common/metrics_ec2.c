/*
 * metrics_ec2: see metrics_ec2.h.
 *
 * The families are looked up in the registry at each call (a mutex and a scan
 * of a few dozen names) rather than cached in a global: an EC2 request takes
 * milliseconds, the lookup well under a microsecond, and the registry stays
 * the only place metrics live. Label values from outside (the AWS error code)
 * are cut to a bounded length; the registry bounds their number.
 */
#include "common/metrics_ec2.h"

#include <stdio.h>
#include <string.h>

/* Upstream pre-initialises these duration series (pkg/cloud/handlers.go). */
static const char *const preinit_actions[] = {
	"CreateVolume", "DeleteVolume", "AttachVolume", "DetachVolume", "ModifyVolume", "DescribeVolumes",
	"DescribeVolumesModifications", "CreateSnapshot", "DeleteSnapshot", "DescribeSnapshots",
	"DescribeInstances", "DescribeAvailabilityZones", "DescribeTags", "CreateTags", "DeleteTags",
	"EnableFastSnapshotRestores",
};

/* Longest label value we keep from outside data. */
#define LABEL_MAX 96

struct ec2_families {
	struct metrics_family *duration, *errors, *throttles, *per_csi;
};

static struct ec2_families families(struct metrics *m)
{
	static const char *const l_request[] = { "request", NULL };
	static const char *const l_errors[] = { "request", "code", NULL };
	static const char *const l_throttles[] = { "operation_name", NULL };
	static const char *const l_per_csi[] = { "method_name", "request", NULL };
	struct ec2_families f;
	f.duration = metrics_histogram(m, METRICS_EC2_DURATION, "Latency of successful EC2 API requests, in seconds.",
				       l_request, metrics_default_buckets, METRICS_DEFAULT_BUCKETS_N);
	f.errors = metrics_counter(m, METRICS_EC2_ERRORS, "EC2 API requests that failed, other than throttles, by AWS error code.",
				   l_errors);
	f.throttles = metrics_counter(m, METRICS_EC2_THROTTLES, "EC2 API requests that EC2 throttled.", l_throttles);
	f.per_csi = metrics_counter(m, METRICS_EC2_PER_CSI,
				    "EC2 API requests sent (every attempt, failed and throttled ones too), by the CSI method "
				    "they served (\"none\" outside CSI calls) and EC2 action.",
				    l_per_csi);
	return f;
}

void metrics_ec2_register(struct metrics *m)
{
	if (m == NULL)
		return;
	struct ec2_families f = families(m);
	for (size_t i = 0; i < sizeof preinit_actions / sizeof preinit_actions[0]; i++)
		metrics_touch(f.duration, (const char *const[]){ preinit_actions[i] });
}

static const char *bounded(const char *s, char *tmp, const char *dflt)
{
	if (s == NULL || *s == '\0')
		return dflt;
	if (strlen(s) < LABEL_MAX)
		return s;
	memcpy(tmp, s, LABEL_MAX - 1);
	tmp[LABEL_MAX - 1] = '\0';
	return tmp;
}

void metrics_ec2_observe(struct metrics *m, const char *csi_method, const char *action, const char *error_code,
			 int http_status, double seconds, bool throttled)
{
	if (m == NULL)
		return;
	struct ec2_families f = families(m);
	char t_method[LABEL_MAX], t_action[LABEL_MAX], t_code[LABEL_MAX];
	const char *method = bounded(csi_method, t_method, "none");
	const char *act = bounded(action, t_action, "unknown");
	metrics_counter_inc(f.per_csi, (const char *const[]){ method, act });

	(void)http_status;
	if (throttled) {
		metrics_counter_inc(f.throttles, (const char *const[]){ act });
		return;
	}
	if (error_code == NULL || *error_code == '\0') {
		metrics_histogram_observe(f.duration, (const char *const[]){ act }, seconds);
		return;
	}
	metrics_counter_inc(f.errors, (const char *const[]){ act, bounded(error_code, t_code, "") });
}

void metrics_ec2_on_request(void *metrics, const char *csi_method, const char *action, const char *error_code,
			    int http_status, double seconds, bool throttled)
{
	metrics_ec2_observe(metrics, csi_method, action, error_code, http_status, seconds, throttled);
}
