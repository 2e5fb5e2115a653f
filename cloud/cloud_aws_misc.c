/*
 * cloud_aws_misc: DescribeAvailabilityZones (cached), EnableFastSnapshotRestores,
 * CreateTags / DeleteTags, DescribeVolumeStatus and the health check.
 *
 * The health check is upstream's Probe: DescribeAvailabilityZones with
 * DryRun=true, one attempt, healthy when EC2 answers DryRunOperation (which
 * proves the network path, the credentials, the clock and the IAM
 * permission). Its answer is cached (a success for minutes, a failure for
 * seconds) so that a livenessprobe every few seconds does not become EC2
 * traffic. Zones change rarely and are cached for an hour.
 */
#include "cloud/cloud_aws_internal.h"

#include "cloud/ec2_xml.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void zone_copy(struct cloud_zone *dst, const struct cloud_zone *src)
{
	dst->name = src->name ? xstrdup(src->name) : NULL;
	dst->zone_id = src->zone_id ? xstrdup(src->zone_id) : NULL;
	dst->state = src->state ? xstrdup(src->state) : NULL;
	dst->region = src->region ? xstrdup(src->region) : NULL;
	dst->zone_type = src->zone_type ? xstrdup(src->zone_type) : NULL;
}

static void zones_copy(struct cloud_zone_list *dst, const struct cloud_zone_list *src)
{
	for (size_t i = 0; i < src->n; i++)
		zone_copy(cloud_zone_list_push(dst), &src->v[i]);
}

int cloud_aws_availability_zones(struct cloud *c, const struct rpc_ctx *rc, struct cloud_zone_list *out,
				 struct status *st)
{
	struct cloud_aws *a = cloud_aws_of(c);
	pthread_mutex_lock(&a->cache_mu);
	if (cloud_aws_now(a) < a->zones_until_ms) {
		zones_copy(out, &a->zones);
		pthread_mutex_unlock(&a->cache_mu);
		return 0;
	}
	pthread_mutex_unlock(&a->cache_mu);
	struct ec2_form f;
	ec2_form_init(&f, "DescribeAvailabilityZones");
	struct http_response resp;
	http_response_init(&resp);
	struct cloud_zone_list l;
	cloud_zone_list_init(&l);
	int ret = cloud_aws_request(a, rc, "DescribeAvailabilityZones", &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_describe_availability_zones(resp.body.data, resp.body.len, &l, st);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	if (ret == 0) {
		zones_copy(out, &l);
		pthread_mutex_lock(&a->cache_mu);
		cloud_zone_list_dispose(&a->zones);
		a->zones = l;
		cloud_zone_list_init(&l);
		a->zones_until_ms = cloud_aws_now(a) + a->zones_ttl_ms;
		pthread_mutex_unlock(&a->cache_mu);
	}
	cloud_zone_list_dispose(&l);
	return ret;
}

int cloud_aws_enable_fsr(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
			 const char *const *zones, size_t n_zones, struct cloud_fsr_result *out, struct status *st)
{
	if (snapshot_id == NULL || *snapshot_id == '\0' || n_zones == 0)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "EnableFastSnapshotRestores: a snapshot id and at least one zone are required");
	struct ec2_form f;
	ec2_form_init(&f, "EnableFastSnapshotRestores");
	ec2_form_add_list(&f, "AvailabilityZone", zones, n_zones);
	ec2_form_add_list(&f, "SourceSnapshotId", &snapshot_id, 1);
	struct http_response resp;
	http_response_init(&resp);
	int ret = cloud_aws_request(cloud_aws_of(c), rc, "EnableFastSnapshotRestores", &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_enable_fsr(resp.body.data, resp.body.len, out, st);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	return ret;
}

static int tags_call(struct cloud_aws *a, const struct rpc_ctx *rc, const char *action, const char *resource_id,
		     const struct cloud_tags *tags, const char *const *keys, size_t n_keys, struct status *st)
{
	if (resource_id == NULL || *resource_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s: a resource id is required", action);
	struct ec2_form f;
	ec2_form_init(&f, action);
	ec2_form_add_list(&f, "ResourceId", &resource_id, 1);
	if (tags != NULL)
		ec2_form_tags(&f, tags);
	else
		ec2_form_tag_keys(&f, keys, n_keys);
	struct http_response resp;
	http_response_init(&resp);
	int ret = cloud_aws_request(a, rc, action, &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_return(action, resp.body.data, resp.body.len, st);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	return ret;
}

int cloud_aws_create_tags(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
			  const struct cloud_tags *tags, struct status *st)
{
	if (tags == NULL || tags->n == 0)
		return 0;  /* nothing to do: EC2 would reject an empty Tag list */
	return tags_call(cloud_aws_of(c), rc, "CreateTags", resource_id, tags, NULL, 0, st);
}

int cloud_aws_delete_tags(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
			  const char *const *keys, size_t n_keys, struct status *st)
{
	if (n_keys == 0)
		return 0;  /* without Tag.N DeleteTags would delete every tag */
	return tags_call(cloud_aws_of(c), rc, "DeleteTags", resource_id, NULL, keys, n_keys, st);
}

int cloud_aws_get_volume_status(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				struct cloud_volume_status *out, struct status *st)
{
	if (volume_id == NULL || *volume_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DescribeVolumeStatus: a volume id is required");
	struct ec2_form f;
	ec2_form_init(&f, "DescribeVolumeStatus");
	ec2_form_add_list(&f, "VolumeId", &volume_id, 1);
	struct http_response resp;
	http_response_init(&resp);
	struct cloud_volume_status_list l;
	cloud_volume_status_list_init(&l);
	int ret = cloud_aws_request(cloud_aws_of(c), rc, "DescribeVolumeStatus", &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_describe_volume_status(resp.body.data, resp.body.len, &l, st);
	if (ret == 0) {
		size_t i = 0;
		while (i < l.n && (l.v[i].volume_id == NULL || strcmp(l.v[i].volume_id, volume_id) != 0))
			i++;
		if (i == l.n) {
			ret = status_set(st, STATUS_NOT_FOUND,
					 "DescribeVolumeStatus: InvalidVolume.NotFound: volume %s does not exist",
					 volume_id);
		} else {
			cloud_volume_status_dispose(out);
			*out = l.v[i];
			cloud_volume_status_init(&l.v[i]);
		}
	}
	cloud_volume_status_list_dispose(&l);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	return ret;
}

int cloud_aws_health_check(struct cloud *c, const struct rpc_ctx *rc, struct status *st)
{
	struct cloud_aws *a = cloud_aws_of(c);
	pthread_mutex_lock(&a->cache_mu);
	if (cloud_aws_now(a) < a->health_until_ms) {
		int ret = status_copy(st, &a->health_st);
		pthread_mutex_unlock(&a->cache_mu);
		return ret;
	}
	pthread_mutex_unlock(&a->cache_mu);

	struct ec2_form f;
	ec2_form_init(&f, "DescribeAvailabilityZones");
	ec2_form_add_bool(&f, "DryRun", true);
	struct http_response resp;
	http_response_init(&resp);
	struct status hst = STATUS_INIT;
	/* Reported with no CSI method, as metrics_ec2 expects of health checks. */
	struct rpc_ctx hrc = { NULL, rc ? rc->deadline_ms : RPC_NO_DEADLINE, rc ? rc->cancelled : NULL };
	int ret = cloud_aws_request(a, &hrc, "DescribeAvailabilityZones", &f, CLOUD_AWS_NO_RETRY, &resp, &hst);
	if (ret == 0 && resp.status >= 200 && resp.status < 300)
		/* A DryRun must not succeed for real: something answers that is
		 * not EC2 (a proxy, a captive portal). */
		ret = status_set(&hst, STATUS_INTERNAL, "DescribeAvailabilityZones: DryRun answered HTTP %ld",
				 resp.status);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	if (ret < 0 && hst.code == STATUS_CANCELLED)
		return status_copy(st, &hst);  /* says nothing about EC2: not cached */
	if (ret < 0) {
		char cause[STATUS_MSG_MAX];
		snprintf(cause, sizeof cause, "%s", hst.msg);
		status_set(&hst, STATUS_FAILED_PRECONDITION,
			   "EC2 health check failed (verify the network path to %s, the credentials, the clock and "
			   "the IAM permission ec2:DescribeAvailabilityZones): %s",
			   a->ep.url, cause);
	}
	pthread_mutex_lock(&a->cache_mu);
	status_copy(&a->health_st, &hst);
	a->health_until_ms = cloud_aws_now(a) + (ret == 0 ? a->health_ok_ttl_ms : a->health_fail_ttl_ms);
	pthread_mutex_unlock(&a->cache_mu);
	return status_copy(st, &hst);
}
