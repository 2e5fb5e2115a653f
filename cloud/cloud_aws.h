/*
 * cloud_aws: the struct cloud of cloud.h for real AWS — the EC2 Query API over
 * HTTPS with SigV4, retries, client-side throttling, batched Describe calls,
 * waiters and device-name allocation inside.
 *
 * Every EC2 call takes one path (cloud_aws_request.c): form → token bucket →
 * fresh credentials → SigV4 → HTTP bounded by the deadline → parse or classify
 * (a 200 with an error body too) → retry throttling, 5xx and transport errors
 * with jittered backoff, never past the deadline; credentials refreshed once
 * on an auth-expired code; each attempt reported to the observer hook.
 * Operations keep cloud.h's (and cloud_fake's) semantics. Not here: CSI, gRPC,
 * choosing ClientTokens, formatting metrics. Invariants: no secret reaches a
 * message, log line or observer argument; error messages carry the action and
 * EC2's request id when it sent one.
 */
#ifndef EBS_CLOUD_CLOUD_AWS_H
#define EBS_CLOUD_CLOUD_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/cloud.h"
#include "cloud/creds.h"
#include "cloud/endpoint.h"
#include "cloud/http.h"
#include "cloud/imds.h"
#include "cloud/retry.h"
#include "common/status.h"

/* The observer hook, struct cloud_aws_options.on_request, is called once per
 * HTTP attempt (retries included), from the calling thread or a batcher's
 * thread, possibly concurrently: it must be thread-safe and quick.
 * csi_method: rc->method of the call (of the first caller for a batched
 * Describe), or NULL (no rc, and always for the health check). action: "CreateVolume"... error_code: NULL on success
 * (DryRunOperation of the health check counts as success); otherwise the EC2
 * <Code>, or for failures without one "HTTP<status>" (e.g. "HTTP503") or a
 * transport kind: "ConnectError", "Timeout", "ConnectionReset", "TLSError",
 * "ResponseTooLarge", "Cancelled", "TransportError". http_status: 0 when no
 * response arrived. seconds: the attempt's duration. throttled: EC2 (or the
 * HTTP status) said we were throttled. All strings are borrowed for the call. */

/* Batching of Describe calls (upstream-ebs-csi.md §6.2). Zeros take the
 * defaults in brackets. */
struct cloud_aws_batching {
	bool disabled;                 /* true: every lookup is its own call */
	int64_t window_ms;             /* [500] */
	size_t max_volumes;            /* DescribeVolumes by id [500] */
	size_t max_volume_names;       /* DescribeVolumes by tag:CSIVolumeName [200: EC2's filter-value limit] */
	size_t max_instances;          /* DescribeInstances by id [50] */
	size_t max_snapshots;          /* DescribeSnapshots by id [1000] */
	size_t max_snapshot_names;     /* DescribeSnapshots by tag:CSIVolumeSnapshotName [200] */
	size_t max_modifications;      /* DescribeVolumesModifications by id [500] */
};

struct cloud_aws_options {
	/* Region; NULL or "" -> AWS_REGION / AWS_DEFAULT_REGION from env, else
	 * IMDS placement/region (needs imds). */
	const char *region;
	const struct endpoint_env *env;       /* required; borrowed, must outlive the cloud */
	/* Borrowed when given. NULL -> the cloud makes its own (http: with
	 * user_agent_version and AWS_CA_BUNDLE; creds: the default chain on env,
	 * http and imds). */
	struct http_client *http;
	struct creds_provider *creds;
	struct imds_client *imds;             /* optional, borrowed: region and the IMDS credential step */
	const char *user_agent_version;       /* for an http client made here */

	struct cloud_aws_batching batching;

	/* Retries of every call ([RETRY_POLICY_MUTATING]: 50 attempts, 1 s base,
	 * 20 s cap, as upstream; in practice bounded by the deadline). */
	struct retry_policy retry;
	bool no_client_throttling;            /* true: no client-side token buckets */
	double throttle_scale;                /* share of EC2's buckets we may use, (0,1] [1] */
	long attempt_timeout_ms;              /* one HTTP attempt [30000] */

	/* Waits ([defaults]): polls start at poll_initial_ms [1000] and grow by
	 * poll_factor [1.8] up to poll_cap_ms [10000]; after CreateVolume /
	 * CopyVolumes the first look comes after create_delay_ms [1250] (upstream);
	 * a volume not yet visible then is tolerated for create_grace_ms [10000]
	 * (EC2's eventual consistency) before it counts as vanished; an attachment
	 * `attaching` for longer than stuck_attach_ms [90000] is detached and the
	 * attach fails; a call without a deadline waits at most max_wait_ms
	 * [600000]. */
	int64_t poll_initial_ms;
	double poll_factor;
	int64_t poll_cap_ms;
	int64_t create_delay_ms;
	int64_t create_grace_ms;
	int64_t stuck_attach_ms;
	int64_t max_wait_ms;

	/* health_check answers from a cache: a success for health_ok_ttl_ms
	 * [300000], a failure for health_fail_ttl_ms [5000]. zones_ttl_ms [3600000]
	 * for availability_zones. */
	int64_t health_ok_ttl_ms;
	int64_t health_fail_ttl_ms;
	int64_t zones_ttl_ms;

	/* Tests: the monotonic clock, sleep and randomness of retries, throttling,
	 * waits and caches (NULL -> real ones). Deadlines in rpc_ctx must be in
	 * this clock's domain. wall_ms: UTC milliseconds for SigV4 and for
	 * attachment ages (NULL -> the real time). Both borrowed. */
	const struct retry_clock *clock;
	int64_t (*wall_ms)(void *ctx);
	void *wall_ctx;

	/* Metrics hook (may be NULL); see the comment above the batching struct. */
	void (*on_request)(void *ctx, const char *csi_method, const char *action, const char *error_code,
			   int http_status, double seconds, bool throttled);
	void *on_request_ctx;
};

/* Returns a new AWS cloud (free with cloud_free), or NULL with st:
 * INVALID_ARGUMENT (a bad region, endpoint variable or option),
 * FAILED_PRECONDITION (no region anywhere, FIPS not available), or what IMDS
 * said when asked for the region (UNAVAILABLE, DEADLINE_EXCEEDED). Nothing
 * else is sent to AWS here: the first EC2 call is the first operation. */
struct cloud *cloud_aws_new(const struct cloud_aws_options *o, struct status *st);

/* The region and EC2 endpoint URL in use (borrowed from c; c must be an AWS
 * cloud). */
const char *cloud_aws_region(struct cloud *c);
const char *cloud_aws_endpoint(struct cloud *c);

#endif
