/*
 * ec2_xml_snapshots: responses about snapshots — CreateSnapshot,
 * DescribeSnapshots, EnableFastSnapshotRestores. See ec2_xml.h.
 *
 * EnableFastSnapshotRestores is the one answer that is a success with failures
 * inside: unsuccessful/item[] carries a snapshot id and a set of per-zone
 * errors, flattened here to one failed item per (snapshot, zone).
 */
#include "cloud/ec2_xml_internal.h"

#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

static void create_snapshot_start(struct ec2_xp *x)
{
	ec2_xp_snapshot_start(x, 1, x->out);
}

static void create_snapshot_end(struct ec2_xp *x)
{
	ec2_xp_snapshot_end(x, 1, x->out);
}

int ec2_xml_create_snapshot(const char *body, size_t len, struct cloud_snapshot *out, struct status *st)
{
	cloud_snapshot_init(out);
	struct ec2_xp x = { .action = "CreateSnapshot", .on_start = create_snapshot_start,
			    .on_end = create_snapshot_end, .out = out };
	return ec2_xp_run(&x, body, len, st);
}

static void snapshot_set_start(struct ec2_xp *x)
{
	struct cloud_snapshot_list *l = x->out;
	if (ec2_xp_item_of(x, "snapshotSet"))
		cloud_snapshot_list_push(l);
	else if (ec2_xp_inside_item_of(x, "snapshotSet") && l->n > 0)
		ec2_xp_snapshot_start(x, 3, &l->v[l->n - 1]);
}

static void snapshot_set_end(struct ec2_xp *x)
{
	struct cloud_snapshot_list *l = x->out;
	static const struct ec2_xf_field token[] = {
		{ "nextToken", EC2_XF_STR, offsetof(struct cloud_snapshot_list, next_token) },
	};
	if (x->depth == 2)
		EC2_XP_FIELDS(x, token, l);
	else if (ec2_xp_inside_item_of(x, "snapshotSet") && l->n > 0)
		ec2_xp_snapshot_end(x, 3, &l->v[l->n - 1]);
}

int ec2_xml_describe_snapshots(const char *body, size_t len, struct cloud_snapshot_list *out, struct status *st)
{
	cloud_snapshot_list_init(out);
	struct ec2_xp x = { .action = "DescribeSnapshots", .on_start = snapshot_set_start,
			    .on_end = snapshot_set_end, .out = out };
	int rc = ec2_xp_run(&x, body, len, st);
	ec2_xp_drop_empty(&out->next_token);
	return rc;
}

/* successful/item (3)/field (4);
 * unsuccessful/item (3)/snapshotId (4);
 * unsuccessful/item (3)/fastSnapshotRestoreStateErrorSet (4)/item (5)/
 *     availabilityZone|availabilityZoneId (6), error (6)/code|message (7).
 * s1 keeps the unsuccessful item's snapshot id, which may come before or after
 * its error set: items are completed when the unsuccessful item closes. */
static void fsr_start(struct ec2_xp *x)
{
	struct cloud_fsr_result *r = x->out;
	if (ec2_xp_item_of(x, "successful")) {
		cloud_fsr_result_push(r, false);
	} else if (ec2_xp_item_of(x, "unsuccessful")) {
		free(x->s1);
		x->s1 = NULL;
		x->mark = r->n_failed;  /* first failed item of this snapshot */
	} else if (x->depth == 5 && ec2_xp_is(x, 2, "unsuccessful") &&
		   ec2_xp_is(x, 4, "fastSnapshotRestoreStateErrorSet")) {
		cloud_fsr_result_push(r, true);
	}
}

static void fsr_end(struct ec2_xp *x)
{
	struct cloud_fsr_result *r = x->out;
	static const struct ec2_xf_field ok[] = {
		{ "snapshotId", EC2_XF_STR, offsetof(struct cloud_fsr_item, snapshot_id) },
		{ "availabilityZone", EC2_XF_STR, offsetof(struct cloud_fsr_item, zone) },
		{ "availabilityZoneId", EC2_XF_STR, offsetof(struct cloud_fsr_item, zone_id) },
		{ "state", EC2_XF_STR, offsetof(struct cloud_fsr_item, state) },
	};
	static const struct ec2_xf_field snap[] = {
		{ "snapshotId", EC2_XF_STR, offsetof(struct ec2_xp, s1) },
	};
	static const struct ec2_xf_field zone[] = {
		{ "availabilityZone", EC2_XF_STR, offsetof(struct cloud_fsr_item, zone) },
		{ "availabilityZoneId", EC2_XF_STR, offsetof(struct cloud_fsr_item, zone_id) },
	};
	static const struct ec2_xf_field err[] = {
		{ "code", EC2_XF_STR, offsetof(struct cloud_fsr_item, error_code) },
		{ "message", EC2_XF_STR, offsetof(struct cloud_fsr_item, error_message) },
	};
	if (x->depth == 4 && ec2_xp_is(x, 2, "successful") && r->n_ok > 0) {
		EC2_XP_FIELDS(x, ok, &r->ok[r->n_ok - 1]);
	} else if (x->depth == 4 && ec2_xp_is(x, 2, "unsuccessful")) {
		EC2_XP_FIELDS(x, snap, x);
	} else if (x->depth == 6 && ec2_xp_is(x, 2, "unsuccessful") &&
		   ec2_xp_is(x, 4, "fastSnapshotRestoreStateErrorSet") && r->n_failed > 0) {
		EC2_XP_FIELDS(x, zone, &r->failed[r->n_failed - 1]);
	} else if (x->depth == 7 && ec2_xp_is(x, 2, "unsuccessful") && ec2_xp_is(x, 6, "error") &&
		   r->n_failed > 0) {
		EC2_XP_FIELDS(x, err, &r->failed[r->n_failed - 1]);
	} else if (ec2_xp_item_of(x, "unsuccessful")) {
		size_t first = x->mark;
		/* A snapshot with no per-zone errors still failed: one item, no zone. */
		if (first == r->n_failed)
			cloud_fsr_result_push(r, true);
		for (size_t i = first; i < r->n_failed; i++) {
			free(r->failed[i].snapshot_id);
			r->failed[i].snapshot_id = x->s1 ? xstrdup(x->s1) : NULL;
		}
	}
}

int ec2_xml_enable_fsr(const char *body, size_t len, struct cloud_fsr_result *out, struct status *st)
{
	cloud_fsr_result_init(out);
	struct ec2_xp x = { .action = "EnableFastSnapshotRestores", .on_start = fsr_start, .on_end = fsr_end,
			    .out = out };
	return ec2_xp_run(&x, body, len, st);
}
