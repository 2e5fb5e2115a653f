/*
 * cloud_aws_modify: ModifyVolume and DescribeVolumesModifications (batched).
 *
 * modify_disk looks at the volume first and sends no ModifyVolume when nothing
 * would change: EC2 counts every modification against a few per volume per
 * day (aws-facts.md §1.5), and a retried CSI call must not burn another. It
 * then waits until the modification is `optimizing` or `completed` (the new
 * size is usable then), polling the latest record through the batcher and
 * ignoring an older record that EC2 may still show right after the call
 * (its targets differ from ours). A modification in flight that differs is
 * EC2's IncorrectModificationState → ABORTED.
 */
#include "cloud/cloud_aws_internal.h"

#include "cloud/ec2_xml.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- batcher ops ---------------------------------------------------------------- */

static int send_mods(void *ctx, const char *tag, const char *const *keys, size_t n, int64_t deadline_ms,
		     void **result, struct status *st)
{
	struct cloud_aws *a = ctx;
	struct rpc_ctx rc = cloud_aws_batch_ctx(tag, deadline_ms);
	struct cloud_modification_list *acc = xmalloc(sizeof *acc);
	cloud_modification_list_init(acc);
	char *token = NULL;
	int ret;
	do {
		struct ec2_form f;
		ec2_form_init(&f, "DescribeVolumesModifications");
		ec2_form_add_list(&f, "VolumeId", keys, n);
		ec2_form_opt(&f, "NextToken", token);
		struct http_response resp;
		http_response_init(&resp);
		struct cloud_modification_list page;
		cloud_modification_list_init(&page);
		ret = cloud_aws_request(a, &rc, "DescribeVolumesModifications", &f, 0, &resp, st);
		if (ret == 0)
			ret = ec2_xml_describe_volumes_modifications(resp.body.data, resp.body.len, &page, st);
		free(token);
		token = NULL;
		if (ret == 0) {
			for (size_t i = 0; i < page.n; i++) {
				*cloud_modification_list_push(acc) = page.v[i];
				cloud_modification_init(&page.v[i]);
			}
			if (page.next_token != NULL && *page.next_token != '\0')
				token = xstrdup(page.next_token);
		}
		cloud_modification_list_dispose(&page);
		http_response_dispose(&resp);
		ec2_form_dispose(&f);
	} while (ret == 0 && token != NULL);
	free(token);
	if (ret < 0) {
		cloud_modification_list_dispose(acc);
		free(acc);
		return -1;
	}
	*result = acc;
	return 0;
}

static int deliver_mod(void *ctx, const void *result, const char *key, void *out, struct status *st)
{
	(void)ctx;
	const struct cloud_modification_list *l = result;
	const struct cloud_modification *latest = NULL;
	for (size_t i = 0; i < l->n; i++) {
		const struct cloud_modification *m = &l->v[i];
		if (m->volume_id == NULL || strcmp(m->volume_id, key) != 0)
			continue;
		if (latest == NULL || m->start_time_ms > latest->start_time_ms)
			latest = m;
	}
	if (latest == NULL)
		return status_set(st, STATUS_NOT_FOUND,
				  "DescribeVolumesModifications: InvalidVolumeModification.NotFound: volume %s has no "
				  "modification",
				  key);
	cloud_modification_copy(out, latest);
	return 0;
}

static void free_mods(void *ctx, void *result)
{
	(void)ctx;
	cloud_modification_list_dispose(result);
	free(result);
}

const struct batcher_ops cloud_aws_modification_id_ops = { send_mods, deliver_mod, free_mods };

int cloud_aws_lookup_modification(struct cloud_aws *a, const struct rpc_ctx *rc, const char *volume_id,
				  struct cloud_modification *out, struct status *st)
{
	cloud_modification_init(out);
	if (volume_id == NULL || *volume_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DescribeVolumesModifications: a volume id is required");
	return batcher_get(a->b_mods, volume_id, rc ? rc->method : NULL, rc ? rc->deadline_ms : RPC_NO_DEADLINE,
			   rc ? rc->cancelled : NULL, out, st);
}

int cloud_aws_get_modification(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			       struct cloud_modification *out, struct status *st)
{
	return cloud_aws_lookup_modification(cloud_aws_of(c), rc, volume_id, out, st);
}

/* ---- modify ------------------------------------------------------------------------ */

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool usable(enum cloud_mod_state s)
{
	return s == CLOUD_MOD_OPTIMIZING || s == CLOUD_MOD_COMPLETED;
}

/* Is m the modification we asked for (and not an older record)? */
static bool is_ours(const struct cloud_modification *m, const struct cloud_modification *asked)
{
	return m->target_size_gib == asked->target_size_gib && same(m->target_type, asked->target_type) &&
	       m->target_iops == asked->target_iops && m->target_throughput == asked->target_throughput &&
	       m->start_time_ms >= asked->start_time_ms;
}

/* Polls the latest modification of volume_id until it is usable. ours: the
 * ModifyVolume answer to match, or NULL to take whatever record is latest. */
static int wait_modified(struct cloud_aws *a, const struct rpc_ctx *rc, const char *volume_id,
			 const struct cloud_modification *ours, struct cloud_modification *out, struct status *st)
{
	char what[96];
	snprintf(what, sizeof what, "ModifyVolume: volume %s", volume_id);
	struct cloud_aws_poll p;
	cloud_aws_poll_init(a, rc, &p, a->poll_initial_ms);
	bool look = ours == NULL;
	for (;;) {
		if (!look && cloud_aws_poll_sleep(a, rc, &p, what, cloud_mod_state_name(out->state), st) < 0)
			return -1;
		look = false;
		struct cloud_modification m;
		struct status lst = STATUS_INIT;
		if (cloud_aws_lookup_modification(a, rc, volume_id, &m, &lst) < 0) {
			cloud_modification_dispose(&m);
			if (lst.code == STATUS_NOT_FOUND && ours != NULL)
				continue;  /* not visible yet */
			if (lst.code == STATUS_UNAVAILABLE)
				continue;
			return status_copy(st, &lst);
		}
		if (ours != NULL && !is_ours(&m, ours)) {
			cloud_modification_dispose(&m);
			continue;
		}
		cloud_modification_dispose(out);
		*out = m;
		if (out->state == CLOUD_MOD_FAILED)
			return status_set(st, STATUS_INTERNAL, "ModifyVolume: the modification of %s failed: %s",
					  volume_id, out->status_message ? out->status_message : "no reason given");
		if (usable(out->state))
			return 0;
	}
}

int cloud_aws_modify_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			  const struct cloud_modify_options *o, struct cloud_modification *out, struct status *st)
{
	struct cloud_aws *a = cloud_aws_of(c);
	struct cloud_disk d;
	if (cloud_aws_lookup_disk(a, rc, volume_id, &d, st) < 0) {
		cloud_disk_dispose(&d);
		return status_prefix(st, "modify %s: ", volume_id ? volume_id : "(none)");
	}
	int64_t size = o->size_gib ? o->size_gib : d.size_gib;
	const char *type = o->volume_type && *o->volume_type ? o->volume_type : d.volume_type;
	int32_t iops = o->iops ? o->iops : d.iops;
	int32_t tput = o->throughput ? o->throughput : d.throughput;
	int ret = 0;
	if (size < d.size_gib) {
		ret = status_set(st, STATUS_INVALID_ARGUMENT,
				 "ModifyVolume: volume %s cannot shrink from %lld GiB to %lld GiB", volume_id,
				 (long long)d.size_gib, (long long)size);
		goto out;
	}
	bool differs = size != d.size_gib || !same(type, d.volume_type) || iops != d.iops || tput != d.throughput;
	if (!differs) {
		/* Nothing to send; a modification still running is waited for. */
		struct cloud_modification m;
		struct status lst = STATUS_INIT;
		int r = cloud_aws_lookup_modification(a, rc, volume_id, &m, &lst);
		if (r == 0 && m.state == CLOUD_MOD_MODIFYING) {
			cloud_modification_dispose(&m);
			ret = wait_modified(a, rc, volume_id, NULL, out, st);
			goto out;
		}
		if (r < 0 && lst.code != STATUS_NOT_FOUND) {
			cloud_modification_dispose(&m);
			ret = status_copy(st, &lst);
			goto out;
		}
		if (r == 0 && usable(m.state)) {
			cloud_modification_dispose(out);
			*out = m;
			goto out;
		}
		cloud_modification_dispose(&m);
		/* Never modified (or an old failure): the volume as it is. */
		cloud_modification_dispose(out);
		out->volume_id = xstrdup(volume_id);
		out->state = CLOUD_MOD_COMPLETED;
		out->target_size_gib = d.size_gib;
		out->target_iops = d.iops;
		out->target_throughput = d.throughput;
		out->target_type = d.volume_type ? xstrdup(d.volume_type) : NULL;
		out->target_multi_attach = d.multi_attach;
		out->progress = 100;
		goto out;
	}
	struct ec2_form f;
	ec2_form_init(&f, "ModifyVolume");
	ec2_form_add(&f, "VolumeId", volume_id);
	if (size != d.size_gib)
		ec2_form_add_int(&f, "Size", size);
	if (!same(type, d.volume_type))
		ec2_form_add(&f, "VolumeType", type);
	ec2_form_opt_int(&f, "Iops", o->iops);
	ec2_form_opt_int(&f, "Throughput", o->throughput);
	struct http_response resp;
	http_response_init(&resp);
	struct cloud_modification asked;
	cloud_modification_init(&asked);
	ret = cloud_aws_request(a, rc, "ModifyVolume", &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_modify_volume(resp.body.data, resp.body.len, &asked, st);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	if (ret == 0) {
		if (asked.state == CLOUD_MOD_FAILED)
			ret = status_set(st, STATUS_INTERNAL, "ModifyVolume: the modification of %s failed: %s",
					 volume_id, asked.status_message ? asked.status_message : "no reason given");
		else if (usable(asked.state))
			cloud_modification_copy(out, &asked);
		else
			ret = wait_modified(a, rc, volume_id, &asked, out, st);
	}
	cloud_modification_dispose(&asked);
out:
	cloud_disk_dispose(&d);
	return ret;
}
