/*
 * cloud_aws_volumes: CreateVolume, CopyVolumes, DeleteVolume and the
 * DescribeVolumes lookups (by id, by the CSIVolumeName tag) through batchers.
 *
 * Create and copy send the caller's ClientToken (EC2 then makes one volume per
 * token, so a retried CSI call converges) and wait until the volume is
 * `available` or `in-use`, polling through the volume batcher. A volume that
 * is seen and then vanishes, or is never seen within the grace period, has
 * failed asynchronously — EC2 rolls back a volume whose KMS key it cannot use
 * (upstream-ebs-csi.md §6.18) — and is reported ABORTED saying so; the grace
 * period covers EC2's eventual consistency right after CreateVolume.
 * Not here: choosing the token or reacting to IdempotentParameterMismatch (the
 * controller moves to a suffixed token).
 */
#include "cloud/cloud_aws_internal.h"

#include "cloud/ec2_xml.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DESCRIBE_PAGE 500   /* DescribeVolumes MaxResults: 5..500 */

/* Moves every volume of page to the end of acc (page keeps empty shells). */
static void move_disks(struct cloud_disk_list *acc, struct cloud_disk_list *page)
{
	for (size_t i = 0; i < page->n; i++) {
		*cloud_disk_list_push(acc) = page->v[i];
		cloud_disk_init(&page->v[i]);
	}
}

/* DescribeVolumes by ids, or by one filter, every page into acc. */
static int describe_volumes(struct cloud_aws *a, const struct rpc_ctx *rc, const char *const *ids, size_t n_ids,
			    const char *filter, const char *const *values, size_t n_values,
			    struct cloud_disk_list *acc, struct status *st)
{
	char *token = NULL;
	int ret = 0;
	do {
		struct ec2_form f;
		ec2_form_init(&f, "DescribeVolumes");
		ec2_form_add_list(&f, "VolumeId", ids, n_ids);
		if (filter != NULL) {
			ec2_form_filter(&f, filter, values, n_values);
			/* Paginated, so it counts against the larger bucket;
			 * MaxResults cannot be combined with VolumeId.N. */
			ec2_form_add_int(&f, "MaxResults", DESCRIBE_PAGE);
		}
		ec2_form_opt(&f, "NextToken", token);
		struct http_response resp;
		http_response_init(&resp);
		struct cloud_disk_list page;
		cloud_disk_list_init(&page);
		ret = cloud_aws_request(a, rc, "DescribeVolumes", &f, 0, &resp, st);
		if (ret == 0)
			ret = ec2_xml_describe_volumes(resp.body.data, resp.body.len, &page, st);
		free(token);
		token = NULL;
		if (ret == 0) {
			move_disks(acc, &page);
			if (page.next_token != NULL && *page.next_token != '\0')
				token = xstrdup(page.next_token);
		}
		cloud_disk_list_dispose(&page);
		http_response_dispose(&resp);
		ec2_form_dispose(&f);
	} while (ret == 0 && token != NULL);
	free(token);
	return ret;
}

/* ---- batcher ops -------------------------------------------------------------- */

static int send_ids(void *ctx, const char *tag, const char *const *keys, size_t n, int64_t deadline_ms,
		    void **result, struct status *st)
{
	struct rpc_ctx rc = cloud_aws_batch_ctx(tag, deadline_ms);
	struct cloud_disk_list *acc = xmalloc(sizeof *acc);
	cloud_disk_list_init(acc);
	if (describe_volumes(ctx, &rc, keys, n, NULL, NULL, 0, acc, st) < 0) {
		cloud_disk_list_dispose(acc);
		free(acc);
		return -1;
	}
	*result = acc;
	return 0;
}

static int send_names(void *ctx, const char *tag, const char *const *keys, size_t n, int64_t deadline_ms,
		      void **result, struct status *st)
{
	struct rpc_ctx rc = cloud_aws_batch_ctx(tag, deadline_ms);
	struct cloud_disk_list *acc = xmalloc(sizeof *acc);
	cloud_disk_list_init(acc);
	if (describe_volumes(ctx, &rc, NULL, 0, "tag:" CLOUD_TAG_VOLUME_NAME, keys, n, acc, st) < 0) {
		cloud_disk_list_dispose(acc);
		free(acc);
		return -1;
	}
	*result = acc;
	return 0;
}

static int deliver_id(void *ctx, const void *result, const char *key, void *out, struct status *st)
{
	(void)ctx;
	const struct cloud_disk_list *l = result;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].volume_id != NULL && strcmp(l->v[i].volume_id, key) == 0) {
			cloud_disk_copy(out, &l->v[i]);
			return 0;
		}
	}
	return status_set(st, STATUS_NOT_FOUND, "DescribeVolumes: InvalidVolume.NotFound: volume %s does not exist",
			  key);
}

static int deliver_name(void *ctx, const void *result, const char *key, void *out, struct status *st)
{
	(void)ctx;
	const struct cloud_disk_list *l = result;
	size_t found = 0;
	for (size_t i = 0; i < l->n; i++) {
		const char *v = cloud_tags_get(&l->v[i].tags, CLOUD_TAG_VOLUME_NAME);
		if (v == NULL || strcmp(v, key) != 0)
			continue;
		if (found++ == 0)
			cloud_disk_copy(out, &l->v[i]);
	}
	if (found == 0)
		return status_set(st, STATUS_NOT_FOUND, "no volume has tag %s=%s", CLOUD_TAG_VOLUME_NAME, key);
	if (found > 1) {
		cloud_disk_dispose(out);
		return status_set(st, STATUS_FAILED_PRECONDITION, "%zu volumes have tag %s=%s", found,
				  CLOUD_TAG_VOLUME_NAME, key);
	}
	return 0;
}

static void free_list(void *ctx, void *result)
{
	(void)ctx;
	cloud_disk_list_dispose(result);
	free(result);
}

const struct batcher_ops cloud_aws_volume_id_ops = { send_ids, deliver_id, free_list };
const struct batcher_ops cloud_aws_volume_name_ops = { send_names, deliver_name, free_list };

int cloud_aws_lookup_disk(struct cloud_aws *a, const struct rpc_ctx *rc, const char *volume_id,
			  struct cloud_disk *out, struct status *st)
{
	cloud_disk_init(out);
	if (volume_id == NULL || *volume_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DescribeVolumes: a volume id is required");
	return batcher_get(a->b_volumes, volume_id, rc ? rc->method : NULL, rc ? rc->deadline_ms : RPC_NO_DEADLINE,
			   rc ? rc->cancelled : NULL, out, st);
}

int cloud_aws_get_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, struct cloud_disk *out,
		       struct status *st)
{
	return cloud_aws_lookup_disk(cloud_aws_of(c), rc, volume_id, out, st);
}

int cloud_aws_find_disk_by_name(struct cloud *c, const struct rpc_ctx *rc, const char *name, struct cloud_disk *out,
				struct status *st)
{
	struct cloud_aws *a = cloud_aws_of(c);
	if (name == NULL || *name == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DescribeVolumes: a volume name is required");
	return batcher_get(a->b_volume_names, name, rc ? rc->method : NULL, rc ? rc->deadline_ms : RPC_NO_DEADLINE,
			   rc ? rc->cancelled : NULL, out, st);
}

/* ---- create / copy ------------------------------------------------------------------ */

static bool settled(enum cloud_disk_state s)
{
	return s == CLOUD_DISK_AVAILABLE || s == CLOUD_DISK_IN_USE;
}

static bool failed(enum cloud_disk_state s)
{
	return s == CLOUD_DISK_DELETING || s == CLOUD_DISK_DELETED || s == CLOUD_DISK_ERROR;
}

static int vanished(const char *action, const char *id, struct status *st)
{
	return status_set(st, STATUS_ABORTED,
			  "%s: volume %s disappeared while it was being created (is the KMS key usable by this "
			  "account and role?); its client token is burned",
			  action, id);
}

/* EC2 answers a CreateVolume whose ClientToken was used before with the volume
 * of that earlier request, even when that volume has since been deleted (a CSI
 * name reused after DeleteVolume, which csi-sanity and StatefulSets do). The
 * token is burned like after IdempotentParameterMismatch, so it is reported
 * the same way: ALREADY_EXISTS, on which the controller moves to a suffixed
 * token. */
static int burned(const char *action, const char *id, struct status *st)
{
	return status_set(st, STATUS_ALREADY_EXISTS,
			  "%s: the client token already names volume %s, which no longer exists", action, id);
}

/* An answer describing a volume created before this request: an idempotent
 * replay (5 s of slack for clock differences between us and EC2). */
static bool replayed(const struct cloud_aws *a, const struct cloud_disk *d, int64_t request_wall_ms)
{
	(void)a;
	return d->create_time_ms > 0 && d->create_time_ms < request_wall_ms - 5000;
}

/* Waits until out (the answer of CreateVolume / CopyVolumes) is available,
 * replacing it with the volume as last described. */
static int wait_created(struct cloud_aws *a, const struct rpc_ctx *rc, const char *action, struct cloud_disk *out,
			int64_t request_wall_ms, struct status *st)
{
	if (settled(out->state))
		return 0;
	bool replay = replayed(a, out, request_wall_ms);
	if (failed(out->state))
		return burned(action, out->volume_id, st);
	char *id = xstrdup(out->volume_id);
	char what[128];
	snprintf(what, sizeof what, "%s: volume %s", action, id);
	struct cloud_aws_poll p;
	cloud_aws_poll_init(a, rc, &p, a->create_delay_ms);
	bool seen = false;
	int ret;
	for (;;) {
		if ((ret = cloud_aws_poll_sleep(a, rc, &p, what, "creating", st)) < 0)
			break;
		struct cloud_disk d;
		struct status lst = STATUS_INIT;
		if (cloud_aws_lookup_disk(a, rc, id, &d, &lst) == 0) {
			seen = true;
			if (settled(d.state)) {
				cloud_disk_dispose(out);
				*out = d;
				ret = 0;
				break;
			}
			enum cloud_disk_state s = d.state;
			cloud_disk_dispose(&d);
			if (failed(s)) {
				ret = replay ? burned(action, id, st) : vanished(action, id, st);
				break;
			}
			continue;
		}
		cloud_disk_dispose(&d);
		if (lst.code == STATUS_NOT_FOUND) {
			if (replay) {
				ret = burned(action, id, st);
				break;
			}
			if (seen || cloud_aws_now(a) - p.start_ms >= a->create_grace_ms) {
				ret = vanished(action, id, st);
				break;
			}
			continue;
		}
		if (lst.code == STATUS_UNAVAILABLE)
			continue;  /* throttled or 5xx beyond the retries: poll again */
		ret = status_copy(st, &lst);
		break;
	}
	free(id);
	return ret;
}

static int check_token(const char *action, const struct cloud_disk_options *o, struct status *st)
{
	if (o->client_token == NULL || *o->client_token == '\0' || strlen(o->client_token) > 64)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s: ClientToken must be 1 to 64 characters", action);
	return 0;
}

int cloud_aws_create_disk(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *o,
			  struct cloud_disk *out, struct status *st)
{
	struct cloud_aws *a = cloud_aws_of(c);
	if (check_token("CreateVolume", o, st) < 0)
		return -1;
	bool has_zone = o->zone != NULL && *o->zone != '\0';
	if (!has_zone && (o->zone_id == NULL || *o->zone_id == '\0'))
		return status_set(st, STATUS_INVALID_ARGUMENT, "CreateVolume: a zone or zone id is required");
	struct ec2_form f;
	ec2_form_init(&f, "CreateVolume");
	/* Exactly one of the two (aws-facts.md §1.5). */
	if (has_zone)
		ec2_form_add(&f, "AvailabilityZone", o->zone);
	else
		ec2_form_add(&f, "AvailabilityZoneId", o->zone_id);
	ec2_form_opt_int(&f, "Size", o->size_gib);
	ec2_form_opt(&f, "VolumeType", o->volume_type);
	ec2_form_opt_int(&f, "Iops", o->iops);
	ec2_form_opt_int(&f, "Throughput", o->throughput);
	/* A KMS key implies encryption (upstream sets both). */
	ec2_form_opt_true(&f, "Encrypted", o->encrypted || (o->kms_key_id != NULL && *o->kms_key_id));
	ec2_form_opt(&f, "KmsKeyId", o->kms_key_id);
	ec2_form_opt(&f, "SnapshotId", o->snapshot_id);
	ec2_form_opt(&f, "OutpostArn", o->outpost_arn);
	ec2_form_opt_true(&f, "MultiAttachEnabled", o->multi_attach);
	ec2_form_opt_int(&f, "VolumeInitializationRate", o->initialization_rate);
	ec2_form_add(&f, "ClientToken", o->client_token);
	ec2_form_tag_spec(&f, "volume", o->tags);
	struct http_response resp;
	http_response_init(&resp);
	int64_t started = cloud_aws_wall_ms(a);
	int ret = cloud_aws_request(a, rc, "CreateVolume", &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_create_volume(resp.body.data, resp.body.len, out, st);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	if (ret == 0 && (out->volume_id == NULL || *out->volume_id == '\0'))
		ret = status_set(st, STATUS_INTERNAL, "CreateVolume: the answer carries no volume id");
	if (ret == 0)
		ret = wait_created(a, rc, "CreateVolume", out, started, st);
	return ret;
}

int cloud_aws_copy_disk(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *o,
			struct cloud_disk *out, struct status *st)
{
	struct cloud_aws *a = cloud_aws_of(c);
	if (check_token("CopyVolumes", o, st) < 0)
		return -1;
	if (o->source_volume_id == NULL || *o->source_volume_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "CopyVolumes: a source volume id is required");
	struct ec2_form f;
	ec2_form_init(&f, "CopyVolumes");
	ec2_form_add(&f, "SourceVolumeId", o->source_volume_id);
	ec2_form_opt_int(&f, "Size", o->size_gib);
	ec2_form_opt(&f, "VolumeType", o->volume_type);
	ec2_form_opt_int(&f, "Iops", o->iops);
	ec2_form_opt_int(&f, "Throughput", o->throughput);
	ec2_form_opt_true(&f, "MultiAttachEnabled", o->multi_attach);
	ec2_form_add(&f, "ClientToken", o->client_token);
	ec2_form_tag_spec(&f, "volume", o->tags);
	struct http_response resp;
	http_response_init(&resp);
	struct cloud_disk_list l;
	cloud_disk_list_init(&l);
	int64_t started = cloud_aws_wall_ms(a);
	int ret = cloud_aws_request(a, rc, "CopyVolumes", &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_copy_volumes(resp.body.data, resp.body.len, &l, st);
	if (ret == 0 && (l.n == 0 || l.v[0].volume_id == NULL))
		ret = status_set(st, STATUS_INTERNAL, "CopyVolumes: the answer carries no volume");
	if (ret == 0) {
		cloud_disk_dispose(out);
		*out = l.v[0];
		cloud_disk_init(&l.v[0]);
	}
	cloud_disk_list_dispose(&l);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	if (ret == 0)
		ret = wait_created(a, rc, "CopyVolumes", out, started, st);
	return ret;
}

int cloud_aws_delete_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, struct status *st)
{
	struct cloud_aws *a = cloud_aws_of(c);
	if (volume_id == NULL || *volume_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DeleteVolume: a volume id is required");
	struct ec2_form f;
	ec2_form_init(&f, "DeleteVolume");
	ec2_form_add(&f, "VolumeId", volume_id);
	struct http_response resp;
	http_response_init(&resp);
	int ret = cloud_aws_request(a, rc, "DeleteVolume", &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_return("DeleteVolume", resp.body.data, resp.body.len, st);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	return ret;
}
