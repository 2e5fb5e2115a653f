/*
 * cloud_aws: construction, the ops table and destruction of the AWS cloud.
 * See cloud_aws.h; the operations live in cloud_aws_*.c by concern.
 *
 * Construction resolves the region (option, environment, then IMDS) and the
 * EC2 endpoint, borrows or makes the HTTP client and the credential chain, and
 * starts the batchers (one thread each when batching is on). It sends nothing
 * to EC2: a controller must start even when AWS is unreachable (upstream
 * issue #2619); the first Probe tells whether it works.
 */
#include "cloud/cloud_aws_internal.h"

#include "cloud/creds.h"
#include "cloud/imds.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGION_IMDS_TIMEOUT_MS 5000

static void aws_destroy(struct cloud *c);

static const struct cloud_ops aws_ops = {
	.create_disk = cloud_aws_create_disk,
	.copy_disk = cloud_aws_copy_disk,
	.delete_disk = cloud_aws_delete_disk,
	.attach_disk = cloud_aws_attach_disk,
	.detach_disk = cloud_aws_detach_disk,
	.wait_attachment = cloud_aws_wait_attachment,
	.get_disk = cloud_aws_get_disk,
	.find_disk_by_name = cloud_aws_find_disk_by_name,
	.describe_instance = cloud_aws_describe_instance,
	.create_snapshot = cloud_aws_create_snapshot,
	.delete_snapshot = cloud_aws_delete_snapshot,
	.get_snapshot = cloud_aws_get_snapshot,
	.find_snapshot_by_name = cloud_aws_find_snapshot_by_name,
	.list_snapshots = cloud_aws_list_snapshots,
	.modify_disk = cloud_aws_modify_disk,
	.get_modification = cloud_aws_get_modification,
	.availability_zones = cloud_aws_availability_zones,
	.enable_fsr = cloud_aws_enable_fsr,
	.create_tags = cloud_aws_create_tags,
	.delete_tags = cloud_aws_delete_tags,
	.get_volume_status = cloud_aws_get_volume_status,
	.health_check = cloud_aws_health_check,
	.destroy = aws_destroy,
};

/* The region: the option, AWS_REGION / AWS_DEFAULT_REGION, then IMDS. */
static int resolve_region(const struct cloud_aws_options *o, char *out, size_t cap, struct status *st)
{
	if (o->region != NULL && *o->region != '\0') {
		if (!endpoint_region_valid(o->region) || strlen(o->region) >= cap)
			return status_set(st, STATUS_INVALID_ARGUMENT, "AWS region \"%.64s\" is not a valid region name",
					  o->region);
		snprintf(out, cap, "%s", o->region);
		return 0;
	}
	if (endpoint_region_from_env(o->env, out, cap, st) < 0)
		return -1;
	if (*out != '\0')
		return 0;
	if (o->imds == NULL || imds_disabled(o->imds))
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "no AWS region: set AWS_REGION (instance metadata is not available to ask)");
	struct buf b;
	buf_init(&b);
	int ret = imds_get(o->imds, "meta-data/placement/region", rpc_now_ms() + REGION_IMDS_TIMEOUT_MS, &b, st);
	if (ret == 0) {
		while (b.len > 0 && isspace((unsigned char)b.data[b.len - 1]))
			b.data[--b.len] = '\0';
		if (!endpoint_region_valid(b.data) || b.len >= cap)
			ret = status_set(st, STATUS_INTERNAL, "instance metadata returned an invalid region");
		else
			snprintf(out, cap, "%s", b.data);
	} else {
		status_prefix(st, "no AWS_REGION, and asking instance metadata for the region failed: ");
	}
	buf_dispose(&b);
	return ret;
}

static struct batcher *make_batcher(struct cloud_aws *a, const struct cloud_aws_options *o, const char *name,
				    const struct batcher_ops *ops, size_t max_keys, size_t dflt)
{
	struct batcher_options bo = {
		.name = name,
		.enabled = !o->batching.disabled,
		.window_ms = o->batching.window_ms,
		.max_keys = max_keys ? max_keys : dflt,
		.clock = a->clock,
	};
	return batcher_new(ops, a, &bo);
}

static int64_t or_default(int64_t v, int64_t dflt)
{
	return v > 0 ? v : dflt;
}

struct cloud *cloud_aws_new(const struct cloud_aws_options *o, struct status *st)
{
	if (o == NULL || o->env == NULL) {
		status_set(st, STATUS_INVALID_ARGUMENT, "cloud_aws: an environment is required");
		return NULL;
	}
	struct cloud_aws *a = xcalloc(1, sizeof *a);
	a->base.ops = &aws_ops;
	endpoint_init(&a->ep);
	pthread_mutex_init(&a->cache_mu, NULL);
	cloud_zone_list_init(&a->zones);
	retry_quota_init(&a->quota, RETRY_QUOTA_CAPACITY);
	a->clock = o->clock;
	a->wall_ms = o->wall_ms;
	a->wall_ctx = o->wall_ctx;
	a->on_request = o->on_request;
	a->on_request_ctx = o->on_request_ctx;

	if (resolve_region(o, a->region, sizeof a->region, st) < 0 ||
	    endpoint_resolve_ec2(a->region, o->env, &a->ep, st) < 0) {
		aws_destroy(&a->base);
		return NULL;
	}

	if (o->http != NULL) {
		a->http = o->http;
	} else {
		struct http_options ho = { .user_agent_version = o->user_agent_version };
		if (http_options_from_env(o->env, &ho, st) < 0) {
			aws_destroy(&a->base);
			return NULL;
		}
		a->http = http_client_new(&ho);
		a->own_http = true;
	}
	if (o->creds != NULL) {
		a->creds = o->creds;
	} else {
		struct creds_options co = { .env = o->env, .http = a->http, .imds = o->imds, .region = a->region };
		a->creds = creds_provider_new(&co);
		a->own_creds = true;
	}

	static const struct retry_policy dflt_policy = RETRY_POLICY_MUTATING;
	a->policy = o->retry.max_attempts > 0 ? o->retry : dflt_policy;
	if (!o->no_client_throttling)
		a->limiter = retry_limiter_new(a->clock, o->throttle_scale > 0 ? o->throttle_scale : 1.0);
	a->attempt_timeout_ms = o->attempt_timeout_ms > 0 ? o->attempt_timeout_ms : 30000;

	a->poll_initial_ms = or_default(o->poll_initial_ms, 1000);
	a->poll_factor = o->poll_factor > 1.0 ? o->poll_factor : 1.8;
	a->poll_cap_ms = or_default(o->poll_cap_ms, 10000);
	a->create_delay_ms = or_default(o->create_delay_ms, 1250);
	a->create_grace_ms = or_default(o->create_grace_ms, 10000);
	a->stuck_attach_ms = or_default(o->stuck_attach_ms, 90000);
	a->max_wait_ms = or_default(o->max_wait_ms, 600000);
	a->health_ok_ttl_ms = or_default(o->health_ok_ttl_ms, 300000);
	a->health_fail_ttl_ms = or_default(o->health_fail_ttl_ms, 5000);
	a->zones_ttl_ms = or_default(o->zones_ttl_ms, 3600000);
	a->health_until_ms = INT64_MIN;
	a->zones_until_ms = INT64_MIN;

	a->dev = devname_new(NULL);
	const struct cloud_aws_batching *b = &o->batching;
	a->b_volumes = make_batcher(a, o, "DescribeVolumes", &cloud_aws_volume_id_ops, b->max_volumes, 500);
	a->b_volume_names = make_batcher(a, o, "DescribeVolumes(tag:" CLOUD_TAG_VOLUME_NAME ")",
					 &cloud_aws_volume_name_ops, b->max_volume_names, 200);
	a->b_instances = make_batcher(a, o, "DescribeInstances", &cloud_aws_instance_id_ops, b->max_instances, 50);
	a->b_snapshots = make_batcher(a, o, "DescribeSnapshots", &cloud_aws_snapshot_id_ops, b->max_snapshots, 1000);
	a->b_snapshot_names = make_batcher(a, o, "DescribeSnapshots(tag:" CLOUD_TAG_SNAPSHOT_NAME ")",
					   &cloud_aws_snapshot_name_ops, b->max_snapshot_names, 200);
	a->b_mods = make_batcher(a, o, "DescribeVolumesModifications", &cloud_aws_modification_id_ops,
				 b->max_modifications, 500);
	log_info("EC2 client: region %s, endpoint %s (%s), batching %s", a->region, a->ep.url, a->ep.source,
		 b->disabled ? "off" : "on");
	return &a->base;
}

static void aws_destroy(struct cloud *c)
{
	struct cloud_aws *a = cloud_aws_of(c);
	/* Batchers first: their threads send through everything below. */
	batcher_free(a->b_volumes);
	batcher_free(a->b_volume_names);
	batcher_free(a->b_instances);
	batcher_free(a->b_snapshots);
	batcher_free(a->b_snapshot_names);
	batcher_free(a->b_mods);
	devname_free(a->dev);
	retry_limiter_free(a->limiter);
	if (a->own_creds)
		creds_provider_free(a->creds);
	if (a->own_http)
		http_client_free(a->http);
	retry_quota_dispose(&a->quota);
	cloud_zone_list_dispose(&a->zones);
	pthread_mutex_destroy(&a->cache_mu);
	endpoint_dispose(&a->ep);
	free(a);
}

const char *cloud_aws_region(struct cloud *c)
{
	return cloud_aws_of(c)->region;
}

const char *cloud_aws_endpoint(struct cloud *c)
{
	return cloud_aws_of(c)->ep.url;
}
