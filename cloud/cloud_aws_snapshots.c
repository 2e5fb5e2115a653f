/*
 * cloud_aws_snapshots: CreateSnapshot, DeleteSnapshot, DescribeSnapshots by id
 * and by the CSIVolumeSnapshotName tag (batched), and ListSnapshots paging.
 *
 * EC2 has no ClientToken for CreateSnapshot: idempotency is the controller's
 * lookup by name first. Listing asks for the account's own snapshots
 * (Owner=self): without it DescribeSnapshots also walks every public snapshot
 * of the region. Not here: waiting for `completed` (CSI reports ready_to_use
 * and the CO polls).
 */
#include "cloud/cloud_aws_internal.h"

#include "cloud/ec2_xml.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DESCRIBE_PAGE 1000   /* DescribeSnapshots MaxResults: 5..1000 */

/* One DescribeSnapshots call; page gets its answer. */
static int describe_page(struct cloud_aws *a, const struct rpc_ctx *rc, const char *const *ids, size_t n_ids,
			 const char *filter, const char *const *values, size_t n_values, bool own, int max_results,
			 const char *token, struct cloud_snapshot_list *page, struct status *st)
{
	cloud_snapshot_list_init(page);
	struct ec2_form f;
	ec2_form_init(&f, "DescribeSnapshots");
	ec2_form_add_list(&f, "SnapshotId", ids, n_ids);
	if (own)
		ec2_form_add(&f, "Owner.1", "self");
	if (filter != NULL)
		ec2_form_filter(&f, filter, values, n_values);
	ec2_form_opt_int(&f, "MaxResults", max_results);
	ec2_form_opt(&f, "NextToken", token);
	unsigned flags = n_ids == 0 && filter == NULL && max_results == 0 ? CLOUD_AWS_UNFILTERED : 0;
	struct http_response resp;
	http_response_init(&resp);
	int ret = cloud_aws_request(a, rc, "DescribeSnapshots", &f, flags, &resp, st);
	if (ret == 0)
		ret = ec2_xml_describe_snapshots(resp.body.data, resp.body.len, page, st);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	return ret;
}

/* Every page of a lookup into acc. */
static int describe_all(struct cloud_aws *a, const struct rpc_ctx *rc, const char *const *ids, size_t n_ids,
			const char *filter, const char *const *values, size_t n_values, struct cloud_snapshot_list *acc,
			struct status *st)
{
	char *token = NULL;
	int ret;
	do {
		struct cloud_snapshot_list page;
		/* MaxResults cannot go with SnapshotId.N; a filter pages. */
		ret = describe_page(a, rc, ids, n_ids, filter, values, n_values, filter != NULL,
				    filter != NULL ? DESCRIBE_PAGE : 0, token, &page, st);
		free(token);
		token = NULL;
		if (ret == 0) {
			for (size_t i = 0; i < page.n; i++) {
				*cloud_snapshot_list_push(acc) = page.v[i];
				cloud_snapshot_init(&page.v[i]);
			}
			if (page.next_token != NULL && *page.next_token != '\0')
				token = xstrdup(page.next_token);
		}
		cloud_snapshot_list_dispose(&page);
	} while (ret == 0 && token != NULL);
	free(token);
	return ret;
}

/* ---- batcher ops ------------------------------------------------------------------ */

static int send_common(void *ctx, const char *tag, const char *const *keys, size_t n, int64_t deadline_ms,
		       const char *filter, void **result, struct status *st)
{
	struct rpc_ctx rc = cloud_aws_batch_ctx(tag, deadline_ms);
	struct cloud_snapshot_list *acc = xmalloc(sizeof *acc);
	cloud_snapshot_list_init(acc);
	int ret = filter == NULL ? describe_all(ctx, &rc, keys, n, NULL, NULL, 0, acc, st)
				 : describe_all(ctx, &rc, NULL, 0, filter, keys, n, acc, st);
	if (ret < 0) {
		cloud_snapshot_list_dispose(acc);
		free(acc);
		return -1;
	}
	*result = acc;
	return 0;
}

static int send_ids(void *ctx, const char *tag, const char *const *keys, size_t n, int64_t deadline_ms,
		    void **result, struct status *st)
{
	return send_common(ctx, tag, keys, n, deadline_ms, NULL, result, st);
}

static int send_names(void *ctx, const char *tag, const char *const *keys, size_t n, int64_t deadline_ms,
		      void **result, struct status *st)
{
	return send_common(ctx, tag, keys, n, deadline_ms, "tag:" CLOUD_TAG_SNAPSHOT_NAME, result, st);
}

static int deliver_id(void *ctx, const void *result, const char *key, void *out, struct status *st)
{
	(void)ctx;
	const struct cloud_snapshot_list *l = result;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].snapshot_id != NULL && strcmp(l->v[i].snapshot_id, key) == 0) {
			cloud_snapshot_copy(out, &l->v[i]);
			return 0;
		}
	}
	return status_set(st, STATUS_NOT_FOUND,
			  "DescribeSnapshots: InvalidSnapshot.NotFound: snapshot %s does not exist", key);
}

static int deliver_name(void *ctx, const void *result, const char *key, void *out, struct status *st)
{
	(void)ctx;
	const struct cloud_snapshot_list *l = result;
	size_t found = 0;
	for (size_t i = 0; i < l->n; i++) {
		const char *v = cloud_tags_get(&l->v[i].tags, CLOUD_TAG_SNAPSHOT_NAME);
		if (v == NULL || strcmp(v, key) != 0)
			continue;
		if (found++ == 0)
			cloud_snapshot_copy(out, &l->v[i]);
	}
	if (found == 0)
		return status_set(st, STATUS_NOT_FOUND, "no snapshot has tag %s=%s", CLOUD_TAG_SNAPSHOT_NAME, key);
	if (found > 1) {
		cloud_snapshot_dispose(out);
		return status_set(st, STATUS_FAILED_PRECONDITION, "%zu snapshots have tag %s=%s", found,
				  CLOUD_TAG_SNAPSHOT_NAME, key);
	}
	return 0;
}

static void free_list(void *ctx, void *result)
{
	(void)ctx;
	cloud_snapshot_list_dispose(result);
	free(result);
}

const struct batcher_ops cloud_aws_snapshot_id_ops = { send_ids, deliver_id, free_list };
const struct batcher_ops cloud_aws_snapshot_name_ops = { send_names, deliver_name, free_list };

/* ---- ops ---------------------------------------------------------------------------- */

int cloud_aws_create_snapshot(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_snapshot_options *o,
			      struct cloud_snapshot *out, struct status *st)
{
	if (o->volume_id == NULL || *o->volume_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "CreateSnapshot: a volume id is required");
	struct ec2_form f;
	ec2_form_init(&f, "CreateSnapshot");
	ec2_form_add(&f, "VolumeId", o->volume_id);
	ec2_form_opt(&f, "Description", o->description);
	ec2_form_opt(&f, "OutpostArn", o->outpost_arn);
	ec2_form_tag_spec(&f, "snapshot", o->tags);
	struct http_response resp;
	http_response_init(&resp);
	int ret = cloud_aws_request(cloud_aws_of(c), rc, "CreateSnapshot", &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_create_snapshot(resp.body.data, resp.body.len, out, st);
	if (ret == 0 && out->snapshot_id == NULL)
		ret = status_set(st, STATUS_INTERNAL, "CreateSnapshot: the answer carries no snapshot id");
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	return ret;
}

int cloud_aws_delete_snapshot(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id, struct status *st)
{
	if (snapshot_id == NULL || *snapshot_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DeleteSnapshot: a snapshot id is required");
	struct ec2_form f;
	ec2_form_init(&f, "DeleteSnapshot");
	ec2_form_add(&f, "SnapshotId", snapshot_id);
	struct http_response resp;
	http_response_init(&resp);
	int ret = cloud_aws_request(cloud_aws_of(c), rc, "DeleteSnapshot", &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_return("DeleteSnapshot", resp.body.data, resp.body.len, st);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	return ret;
}

int cloud_aws_get_snapshot(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
			   struct cloud_snapshot *out, struct status *st)
{
	if (snapshot_id == NULL || *snapshot_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DescribeSnapshots: a snapshot id is required");
	return batcher_get(cloud_aws_of(c)->b_snapshots, snapshot_id, rc ? rc->method : NULL,
			   rc ? rc->deadline_ms : RPC_NO_DEADLINE, rc ? rc->cancelled : NULL, out, st);
}

int cloud_aws_find_snapshot_by_name(struct cloud *c, const struct rpc_ctx *rc, const char *name,
				    struct cloud_snapshot *out, struct status *st)
{
	if (name == NULL || *name == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DescribeSnapshots: a snapshot name is required");
	return batcher_get(cloud_aws_of(c)->b_snapshot_names, name, rc ? rc->method : NULL,
			   rc ? rc->deadline_ms : RPC_NO_DEADLINE, rc ? rc->cancelled : NULL, out, st);
}

int cloud_aws_list_snapshots(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, int max_results,
			     const char *next_token, struct cloud_snapshot_list *out, struct status *st)
{
	if (max_results < 0 || (max_results > 0 && (max_results < 5 || max_results > 1000)))
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "DescribeSnapshots: MaxResults %d is not in 5..1000 (or 0 for all)", max_results);
	bool by_volume = volume_id != NULL && *volume_id != '\0';
	const char *token = next_token != NULL && *next_token != '\0' ? next_token : NULL;
	struct cloud_snapshot_list page;
	int ret = describe_page(cloud_aws_of(c), rc, NULL, 0, by_volume ? "volume-id" : NULL, &volume_id,
				by_volume ? 1 : 0, true, max_results, token, &page, st);
	if (ret == 0) {
		/* One page as EC2 gave it (an empty token already dropped by the
		 * parser): the CO pages with next_token. */
		cloud_snapshot_list_dispose(out);
		*out = page;
	} else {
		cloud_snapshot_list_dispose(&page);
	}
	return ret;
}
