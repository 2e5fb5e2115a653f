/*
 * controller_snapshots: CreateSnapshot, DeleteSnapshot, ListSnapshots.
 *
 * EC2's CreateSnapshot has no ClientToken, so idempotency comes from the
 * CSIVolumeSnapshotName tag (upstream §3.2): the name is looked up first; a
 * snapshot of the same volume is the answer (the CO polls ready_to_use by
 * repeating the call), one of another volume is ALREADY_EXISTS. A snapshot
 * is "cut" as soon as EC2 accepts it (EBS snapshots are point-in-time), so
 * the call returns at once with ready_to_use = (state == completed).
 * Fast snapshot restore is enabled after creation; if it fails the snapshot
 * is deleted again so that the retry starts clean (as upstream).
 * ListSnapshots pages through EC2 with a token of our own, "<skip>/<EC2
 * token>", so that any max_entries works — upstream refuses 1..4 because
 * EC2's MaxResults starts at 5.
 */
#include "controller/controller_internal.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static Csi__V1__Snapshot *snapshot_msg(const struct cloud_snapshot *s)
{
	Csi__V1__Snapshot *m = xmalloc(sizeof *m);
	csi__v1__snapshot__init(m);
	m->size_bytes = s->volume_size_gib * CONTROLLER_GIB;
	m->snapshot_id = controller_strdup(s->snapshot_id);
	m->source_volume_id = controller_strdup(s->volume_id);
	m->creation_time = xmalloc(sizeof *m->creation_time);
	google__protobuf__timestamp__init(m->creation_time);
	m->creation_time->seconds = s->start_time_ms / 1000;
	m->creation_time->nanos = (int32_t)(s->start_time_ms % 1000) * 1000000;
	m->ready_to_use = s->state == CLOUD_SNAPSHOT_COMPLETED;
	return m;
}

/* Enables fast snapshot restore in zones; any failure is an error. */
static int enable_fsr(struct controller_service *svc, const struct rpc_ctx *rc, const char *snapshot_id,
		      const struct strv *zones, struct status *st)
{
	struct cloud_fsr_result res;
	int r = cloud_enable_fsr(svc->cloud, rc, snapshot_id, (const char *const *)zones->v, zones->n, &res, st);
	if (r == 0 && res.n_failed > 0)
		r = status_set(st, STATUS_INTERNAL, "fast snapshot restore failed in %s: %s: %s",
			       res.failed[0].zone ? res.failed[0].zone : "?",
			       res.failed[0].error_code ? res.failed[0].error_code : "?",
			       res.failed[0].error_message ? res.failed[0].error_message : "");
	cloud_fsr_result_dispose(&res);
	return r;
}

/* The FSR zones must be zones of the region (upstream checks them with
 * DescribeAvailabilityZones and skips the check when that call fails). */
static int check_fsr_zones(struct controller_service *svc, const struct rpc_ctx *rc, const struct strv *zones,
			   struct status *st)
{
	struct cloud_zone_list zl;
	struct status local = STATUS_INIT;
	int r = 0;
	if (cloud_availability_zones(svc->cloud, rc, &zl, &local) < 0) {
		log_warn("cannot check fastSnapshotRestoreAvailabilityZones: %s", local.msg);
	} else {
		for (size_t i = 0; i < zones->n && r == 0; i++)
			if (cloud_zone_list_find(&zl, zones->v[i]) == NULL)
				r = status_set(st, STATUS_INVALID_ARGUMENT,
					       "parameter fastSnapshotRestoreAvailabilityZones: %s is not a zone of the region",
					       zones->v[i]);
	}
	cloud_zone_list_dispose(&zl);
	return r;
}

int controller_create_snapshot(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			       ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__CreateSnapshotRequest *req = (const Csi__V1__CreateSnapshotRequest *)reqp;
	struct kvmap params = { 0 };
	struct controller_snapshot_params p = { 0 };
	struct cloud_tags tags = { 0 };
	struct cloud_snapshot snap = { 0 };
	bool held = false;
	int ret = -1;

	if (controller_check_name(req->name, "name", st) < 0 ||
	    controller_check_required(req->source_volume_id, "source_volume_id", st) < 0)
		goto out;
	KVMAP_VIEW(&params, req->n_parameters, req->parameters);
	if (controller_parse_snapshot_params(&params, &p, st) < 0 ||
	    controller_snapshot_tags(svc, req->name, &p, &tags, st) < 0)
		goto out;
	if (!controller_id_valid(req->source_volume_id, "vol-")) {
		status_set(st, STATUS_NOT_FOUND, "source volume %s does not exist", req->source_volume_id);
		goto out;
	}
	if (controller_acquire(svc, "snapshot-name", req->name, st) < 0)
		goto out;
	held = true;

	struct status local = STATUS_INIT;
	if (cloud_find_snapshot_by_name(svc->cloud, rc, req->name, &snap, &local) == 0) {
		if (snap.volume_id == NULL || strcmp(snap.volume_id, req->source_volume_id) != 0) {
			status_set(st, STATUS_ALREADY_EXISTS, "snapshot %s named %s is of volume %s, not %s", snap.snapshot_id,
				   req->name, snap.volume_id ? snap.volume_id : "?", req->source_volume_id);
			goto out;
		}
		if (snap.state == CLOUD_SNAPSHOT_ERROR) {
			status_set(st, STATUS_INTERNAL, "snapshot %s named %s failed: %s", snap.snapshot_id, req->name,
				   snap.status_message ? snap.status_message : "(no reason given)");
			goto out;
		}
		log_v(2, "snapshot %s named %s exists (%s)", snap.snapshot_id, req->name,
		      cloud_snapshot_state_name(snap.state));
	} else if (local.code == STATUS_NOT_FOUND) {
		if (p.fsr_zones.n > 0 && check_fsr_zones(svc, rc, &p.fsr_zones, st) < 0)
			goto out;
		char *desc = xasprintf("Created by AWS EBS CSI driver for volume %s", req->source_volume_id);
		struct cloud_snapshot_options o = {
			.volume_id = req->source_volume_id,
			.description = desc,
			.outpost_arn = p.outpost_arn,
			.tags = &tags,
		};
		cloud_snapshot_dispose(&snap);
		int r = cloud_create_snapshot(svc->cloud, rc, &o, &snap, st);
		free(desc);
		if (r < 0) {
			controller_fail(st, "create snapshot %s of volume %s", req->name, req->source_volume_id);
			goto out;
		}
		log_info("snapshot %s (%s) of volume %s created", snap.snapshot_id, req->name, req->source_volume_id);
		if (p.fsr_zones.n > 0 && enable_fsr(svc, rc, snap.snapshot_id, &p.fsr_zones, st) < 0) {
			struct status del = STATUS_INIT;
			if (cloud_delete_snapshot(svc->cloud, rc, snap.snapshot_id, &del) < 0)
				log_error("snapshot %s: could not delete it after fast snapshot restore failed: %s",
					  snap.snapshot_id, del.msg);
			st->code = STATUS_INTERNAL;
			status_prefix(st, "snapshot %s (deleted again): ", snap.snapshot_id);
			goto out;
		}
	} else {
		if (local.code == STATUS_FAILED_PRECONDITION)
			local.code = STATUS_INTERNAL; /* several snapshots carry the name */
		status_copy(st, &local);
		controller_fail(st, "look up the snapshot named %s", req->name);
		goto out;
	}

	Csi__V1__CreateSnapshotResponse *r = xmalloc(sizeof *r);
	csi__v1__create_snapshot_response__init(r);
	r->snapshot = snapshot_msg(&snap);
	*resp = &r->base;
	ret = 0;
out:
	if (held)
		controller_release(svc, "snapshot-name", req->name);
	kvmap_dispose(&params);
	controller_snapshot_params_dispose(&p);
	cloud_tags_dispose(&tags);
	cloud_snapshot_dispose(&snap);
	return ret;
}

int controller_delete_snapshot(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			       ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__DeleteSnapshotRequest *req = (const Csi__V1__DeleteSnapshotRequest *)reqp;
	bool held = false;
	int ret = -1;

	if (controller_check_required(req->snapshot_id, "snapshot_id", st) < 0)
		goto out;
	if (controller_id_valid(req->snapshot_id, "snap-")) {
		if (controller_acquire(svc, "snapshot", req->snapshot_id, st) < 0)
			goto out;
		held = true;
		struct status local = STATUS_INIT;
		if (cloud_delete_snapshot(svc->cloud, rc, req->snapshot_id, &local) == 0) {
			log_info("snapshot %s deleted", req->snapshot_id);
		} else if (local.code != STATUS_NOT_FOUND) {
			status_copy(st, &local);
			controller_fail(st, "delete snapshot %s", req->snapshot_id);
			goto out;
		}
	}
	Csi__V1__DeleteSnapshotResponse *r = xmalloc(sizeof *r);
	csi__v1__delete_snapshot_response__init(r);
	*resp = &r->base;
	ret = 0;
out:
	if (held)
		controller_release(svc, "snapshot", req->snapshot_id);
	return ret;
}

static void add_entry(Csi__V1__ListSnapshotsResponse *r, const struct cloud_snapshot *s)
{
	Csi__V1__ListSnapshotsResponse__Entry *e = xmalloc(sizeof *e);
	csi__v1__list_snapshots_response__entry__init(e);
	e->snapshot = snapshot_msg(s);
	r->entries = xrealloc(r->entries, (r->n_entries + 1) * sizeof *r->entries);
	r->entries[r->n_entries++] = e;
}

/* Parses "<skip>/<EC2 token>". Returns 0; -1 with ABORTED (CSI: an invalid
 * starting_token is ABORTED, and the CO starts over). */
static int parse_token(const char *tok, size_t *skip, const char **ec2, struct status *st)
{
	*skip = 0;
	*ec2 = NULL;
	if (tok == NULL || tok[0] == '\0')
		return 0;
	char *end;
	errno = 0;
	unsigned long n = strtoul(tok, &end, 10);
	if (tok[0] < '0' || tok[0] > '9' || *end != '/' || errno != 0 || n > 100000)
		return status_set(st, STATUS_ABORTED, "starting_token \"%s\" is not valid", tok);
	*skip = n;
	*ec2 = end[1] ? end + 1 : NULL;
	return 0;
}

int controller_list_snapshots(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			      ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__ListSnapshotsRequest *req = (const Csi__V1__ListSnapshotsRequest *)reqp;
	struct cloud_snapshot snap = { 0 };
	struct cloud_snapshot_list list = { 0 };
	Csi__V1__ListSnapshotsResponse *r = NULL;
	const char *vol = req->source_volume_id && req->source_volume_id[0] ? req->source_volume_id : NULL;
	const char *sid = req->snapshot_id && req->snapshot_id[0] ? req->snapshot_id : NULL;
	size_t skip;
	const char *ec2_token;
	int ret = -1;

	if (req->max_entries < 0) {
		status_set(st, STATUS_INVALID_ARGUMENT, "max_entries must not be negative");
		goto out;
	}
	if (parse_token(req->starting_token, &skip, &ec2_token, st) < 0)
		goto out;
	r = xmalloc(sizeof *r);
	csi__v1__list_snapshots_response__init(r);
	r->next_token = controller_strdup("");
	/* Filters that match nothing answer an empty list (csi-sanity wants OK). */
	if (sid != NULL) {
		struct status local = STATUS_INIT;
		if (!controller_id_valid(sid, "snap-")) {
			/* cannot exist */
		} else if (cloud_get_snapshot(svc->cloud, rc, sid, &snap, &local) == 0) {
			if (vol == NULL || (snap.volume_id && strcmp(snap.volume_id, vol) == 0))
				add_entry(r, &snap);
		} else if (local.code != STATUS_NOT_FOUND) {
			status_copy(st, &local);
			controller_fail(st, "look up snapshot %s", sid);
			goto out;
		}
	} else if (vol == NULL || controller_id_valid(vol, "vol-")) {
		size_t max = (size_t)req->max_entries;
		/* The same page size on every call, so that skip counts into
		 * the same page when the CO comes back with our token. */
		int page = max == 0 ? 0 : max < 5 ? 5 : max > 1000 ? 1000 : (int)max;
		if (cloud_list_snapshots(svc->cloud, rc, vol, page, ec2_token, &list, st) < 0) {
			controller_fail(st, "list snapshots");
			goto out;
		}
		size_t start = skip < list.n ? skip : list.n;
		size_t end = max == 0 || list.n - start <= max ? list.n : start + max;
		for (size_t i = start; i < end; i++)
			add_entry(r, &list.v[i]);
		free(r->next_token);
		if (end < list.n)
			r->next_token = xasprintf("%zu/%s", end, ec2_token ? ec2_token : "");
		else if (list.next_token != NULL && list.next_token[0] != '\0')
			r->next_token = xasprintf("0/%s", list.next_token);
		else
			r->next_token = controller_strdup("");
	}
	*resp = &r->base;
	r = NULL;
	ret = 0;
out:
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	cloud_snapshot_dispose(&snap);
	cloud_snapshot_list_dispose(&list);
	return ret;
}
