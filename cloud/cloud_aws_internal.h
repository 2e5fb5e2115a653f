/*
 * cloud_aws_internal: what the cloud_aws*.c files share — the implementation
 * struct, the one request path, the poll helper for waiters, and the batched
 * lookups. Not a public interface: only cloud_aws*.c and their tests include it.
 *
 * Files by concern: cloud_aws.c (construction, ops table, destroy),
 * cloud_aws_request.c (the request path, polls), cloud_aws_volumes.c (create,
 * copy, delete, describe volumes), cloud_aws_attach.c (attach, detach, waits,
 * instances), cloud_aws_snapshots.c, cloud_aws_modify.c, cloud_aws_misc.c
 * (zones, fast snapshot restore, tags, volume status, health check).
 * Invariant: every EC2 call goes through cloud_aws_request, so throttling,
 * signing, retries, deadlines and the observer hook apply to all of them.
 */
#ifndef EBS_CLOUD_CLOUD_AWS_INTERNAL_H
#define EBS_CLOUD_CLOUD_AWS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cloud/batcher.h"
#include "cloud/cloud.h"
#include "cloud/cloud_aws.h"
#include "cloud/devname.h"
#include "cloud/ec2_form.h"
#include "cloud/endpoint.h"
#include "cloud/http.h"
#include "cloud/retry.h"
#include "common/rpc.h"
#include "common/status.h"

struct cloud_aws {
	struct cloud base;            /* first: the seam casts back */
	char region[ENDPOINT_REGION_MAX + 1];
	struct endpoint ep;
	struct http_client *http;
	bool own_http;
	struct creds_provider *creds;
	bool own_creds;

	struct retry_policy policy;
	struct retry_quota quota;
	struct retry_limiter *limiter;  /* NULL: no client-side throttling */
	const struct retry_clock *clock;
	int64_t (*wall_ms)(void *ctx);
	void *wall_ctx;
	long attempt_timeout_ms;
	void (*on_request)(void *ctx, const char *csi_method, const char *action, const char *error_code,
			   int http_status, double seconds, bool throttled);
	void *on_request_ctx;

	int64_t poll_initial_ms;
	double poll_factor;
	int64_t poll_cap_ms;
	int64_t create_delay_ms;
	int64_t create_grace_ms;
	int64_t stuck_attach_ms;
	int64_t max_wait_ms;

	struct devname *dev;
	struct batcher *b_volumes;        /* DescribeVolumes by id -> struct cloud_disk */
	struct batcher *b_volume_names;   /* DescribeVolumes by tag:CSIVolumeName -> struct cloud_disk */
	struct batcher *b_instances;      /* DescribeInstances by id -> struct cloud_instance */
	struct batcher *b_snapshots;      /* DescribeSnapshots by id -> struct cloud_snapshot */
	struct batcher *b_snapshot_names; /* DescribeSnapshots by tag:CSIVolumeSnapshotName */
	struct batcher *b_mods;           /* DescribeVolumesModifications by id -> struct cloud_modification */

	pthread_mutex_t cache_mu;         /* the caches below */
	int64_t health_until_ms;          /* health_st is valid until then */
	struct status health_st;
	int64_t health_ok_ttl_ms;
	int64_t health_fail_ttl_ms;
	struct cloud_zone_list zones;
	int64_t zones_until_ms;
	int64_t zones_ttl_ms;
};

static inline struct cloud_aws *cloud_aws_of(struct cloud *c)
{
	return (struct cloud_aws *)c;
}

/* ---- the request path (cloud_aws_request.c) ---------------------------------- */

#define CLOUD_AWS_UNFILTERED 1u  /* Describe* without ids, filters or paging: the smaller bucket */
#define CLOUD_AWS_NO_RETRY 2u    /* one attempt only (the health check) */

/* Sends one EC2 action whose body is form (Action and Version included) and
 * retries it as retry.h says. Returns 0 with resp holding the 2xx answer (or
 * the DryRunOperation answer of a DryRun) for the caller's parser; -1 with st
 * (code from aws_error; message "<Action>: <Code>: <Message> (request id …)").
 * resp must be initialised; the caller disposes it in every case. rc may be
 * NULL (no deadline, no cancel, no CSI method). */
int cloud_aws_request(struct cloud_aws *a, const struct rpc_ctx *rc, const char *action, const struct ec2_form *form,
		      unsigned flags, struct http_response *resp, struct status *st);

int64_t cloud_aws_now(const struct cloud_aws *a);
int64_t cloud_aws_wall_ms(const struct cloud_aws *a);

/* A waiter's schedule: the first sleep, then poll_initial_ms growing by
 * poll_factor to poll_cap_ms; ends at the call's deadline or max_wait_ms. */
struct cloud_aws_poll {
	int64_t delay_ms;
	int64_t next_ms;
	int64_t start_ms;
	int64_t end_ms;
	int polls;
};

void cloud_aws_poll_init(struct cloud_aws *a, const struct rpc_ctx *rc, struct cloud_aws_poll *p,
			 int64_t first_delay_ms);
/* Sleeps until the next poll. Returns 0, or -1 with DEADLINE_EXCEEDED ("<what>:
 * still <state> after N ms") when the next poll would come after the end, or
 * CANCELLED. state may be NULL. */
int cloud_aws_poll_sleep(struct cloud_aws *a, const struct rpc_ctx *rc, struct cloud_aws_poll *p, const char *what,
			 const char *state, struct status *st);

/* ---- lookups through the batchers ------------------------------------------------ */

/* Each initialises out, then fills it. NOT_FOUND when EC2 does not know the
 * key; FAILED_PRECONDITION when a name matches several objects. */
int cloud_aws_lookup_disk(struct cloud_aws *a, const struct rpc_ctx *rc, const char *volume_id,
			  struct cloud_disk *out, struct status *st);
int cloud_aws_lookup_instance(struct cloud_aws *a, const struct rpc_ctx *rc, const char *instance_id,
			      struct cloud_instance *out, struct status *st);
int cloud_aws_lookup_modification(struct cloud_aws *a, const struct rpc_ctx *rc, const char *volume_id,
				  struct cloud_modification *out, struct status *st);

/* The batcher ops (ctx: struct cloud_aws). */
extern const struct batcher_ops cloud_aws_volume_id_ops;
extern const struct batcher_ops cloud_aws_volume_name_ops;
extern const struct batcher_ops cloud_aws_instance_id_ops;
extern const struct batcher_ops cloud_aws_snapshot_id_ops;
extern const struct batcher_ops cloud_aws_snapshot_name_ops;
extern const struct batcher_ops cloud_aws_modification_id_ops;

/* The rpc_ctx a batch is sent with: the first caller's method, the batch's
 * deadline, no cancel flag (other callers still want the answer). */
static inline struct rpc_ctx cloud_aws_batch_ctx(const char *tag, int64_t deadline_ms)
{
	struct rpc_ctx rc = { tag, deadline_ms, NULL };
	return rc;
}

/* ---- the operations (one file per concern) --------------------------------------- */

int cloud_aws_create_disk(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *opts,
			  struct cloud_disk *out, struct status *st);
int cloud_aws_copy_disk(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *opts,
			struct cloud_disk *out, struct status *st);
int cloud_aws_delete_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, struct status *st);
int cloud_aws_get_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, struct cloud_disk *out,
		       struct status *st);
int cloud_aws_find_disk_by_name(struct cloud *c, const struct rpc_ctx *rc, const char *name, struct cloud_disk *out,
				struct status *st);

int cloud_aws_attach_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, const char *instance_id,
			  struct cloud_attachment *out, bool *already_attached, struct status *st);
int cloud_aws_detach_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, const char *instance_id,
			  struct status *st);
int cloud_aws_wait_attachment(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			      const char *instance_id, enum cloud_attach_state want, const char *device,
			      struct cloud_attachment *out, struct status *st);
int cloud_aws_describe_instance(struct cloud *c, const struct rpc_ctx *rc, const char *instance_id,
				struct cloud_instance *out, struct status *st);

int cloud_aws_create_snapshot(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_snapshot_options *opts,
			      struct cloud_snapshot *out, struct status *st);
int cloud_aws_delete_snapshot(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id, struct status *st);
int cloud_aws_get_snapshot(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
			   struct cloud_snapshot *out, struct status *st);
int cloud_aws_find_snapshot_by_name(struct cloud *c, const struct rpc_ctx *rc, const char *name,
				    struct cloud_snapshot *out, struct status *st);
int cloud_aws_list_snapshots(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, int max_results,
			     const char *next_token, struct cloud_snapshot_list *out, struct status *st);

int cloud_aws_modify_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			  const struct cloud_modify_options *opts, struct cloud_modification *out, struct status *st);
int cloud_aws_get_modification(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			       struct cloud_modification *out, struct status *st);

int cloud_aws_availability_zones(struct cloud *c, const struct rpc_ctx *rc, struct cloud_zone_list *out,
				 struct status *st);
int cloud_aws_enable_fsr(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
			 const char *const *zones, size_t n_zones, struct cloud_fsr_result *out, struct status *st);
int cloud_aws_create_tags(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
			  const struct cloud_tags *tags, struct status *st);
int cloud_aws_delete_tags(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
			  const char *const *keys, size_t n_keys, struct status *st);
int cloud_aws_get_volume_status(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				struct cloud_volume_status *out, struct status *st);
int cloud_aws_health_check(struct cloud *c, const struct rpc_ctx *rc, struct status *st);

#endif
