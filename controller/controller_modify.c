/*
 * controller_modify: ControllerExpandVolume and ControllerModifyVolume, both
 * through one coalescer per volume (upstream §3.4).
 *
 * EC2 allows few modifications per volume in a day and none while one is
 * being applied, and Kubernetes sends a resize (external-resizer) and a
 * VolumeAttributesClass change (ModifyVolume) for the same PVC as separate
 * calls. So the first request for a volume opens a window
 * (--modify-volume-request-handler-timeout); requests for that volume
 * arriving within it are merged into one — each of size, type, iops,
 * throughput may be asked by several only if they agree, tags must not
 * contradict — and executed once; every merged caller gets the one result.
 * A conflicting request alone is refused with ABORTED (upstream: UNKNOWN),
 * so the CO retries it after the merged one is done.
 * Execution: DescribeVolumes, then one ModifyVolume with only what differs
 * (the cloud sends none when nothing does and waits for `optimizing`), then
 * DeleteTags/CreateTags. ModifyVolume goes first so that a refused change
 * has modified nothing (CSI v1.12: "MUST NOT have applied any modification").
 */
#include "controller/controller_internal.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* One request, or several merged. */
struct modify_req {
	int64_t size_gib;  /* 0: unchanged */
	const struct controller_volume_type *type;
	int32_t iops, throughput, iops_per_gb;
	int allow_increase;  /* -1: unset */
	struct cloud_tags add_tags;
	struct strv del_tags;
};

enum co_state { CO_COLLECTING, CO_RUNNING, CO_DONE };

struct controller_coalesce {
	struct controller_coalesce *next;
	char *volume_id;
	enum co_state state;
	struct modify_req req;
	int64_t deadline_ms;   /* the latest of the participants' deadlines */
	int participants;      /* callers that still have to read the result */
	pthread_cond_t cv;     /* signalled when state becomes CO_DONE */
	struct status result;
	int64_t size_gib;      /* the volume's size after the change (0: not known) */
};

static void modify_req_init(struct modify_req *r)
{
	memset(r, 0, sizeof *r);
	r->allow_increase = -1;
	cloud_tags_init(&r->add_tags);
	strv_init(&r->del_tags);
}

static void modify_req_dispose(struct modify_req *r)
{
	cloud_tags_dispose(&r->add_tags);
	strv_dispose(&r->del_tags);
}

static void entry_free(struct controller_coalesce *e)
{
	modify_req_dispose(&e->req);
	pthread_cond_destroy(&e->cv);
	free(e->volume_id);
	free(e);
}

void controller_coalescer_dispose(struct controller_service *svc)
{
	while (svc->co_head != NULL) {
		struct controller_coalesce *e = svc->co_head;
		svc->co_head = e->next;
		entry_free(e);
	}
}

/* ---- merging ------------------------------------------------------------------------ */

static int merge_i64(const char *what, int64_t *into, int64_t v, struct status *st)
{
	if (v != 0 && *into != 0 && *into != v)
		return status_set(st, STATUS_ABORTED,
				  "a different %s (%lld) was requested by a concurrent request for this volume (%lld)", what,
				  (long long)v, (long long)*into);
	if (v != 0)
		*into = v;
	return 0;
}

/* Merges add into into (all or nothing). Returns 0; -1 with ABORTED naming
 * the conflict. */
static int merge(struct modify_req *into, const struct modify_req *add, struct status *st)
{
	struct modify_req m = *into;  /* shallow: tags/strv are only appended to after every check passed */
	int64_t iops = m.iops, tput = m.throughput, ipg = m.iops_per_gb;
	if (merge_i64("size in GiB", &m.size_gib, add->size_gib, st) < 0 || merge_i64("iops", &iops, add->iops, st) < 0 ||
	    merge_i64("throughput", &tput, add->throughput, st) < 0 ||
	    merge_i64("iopsPerGB", &ipg, add->iops_per_gb, st) < 0)
		return -1;
	if (add->type != NULL && m.type != NULL && add->type != m.type)
		return status_set(st, STATUS_ABORTED, "a different volume type (%s) was requested by a concurrent request (%s)",
				  add->type->name, m.type->name);
	if (add->allow_increase >= 0 && m.allow_increase >= 0 && add->allow_increase != m.allow_increase)
		return status_set(st, STATUS_ABORTED,
				  "a different allowAutoIOPSIncreaseOnModify was requested by a concurrent request");
	for (size_t i = 0; i < add->add_tags.n; i++) {
		const char *k = add->add_tags.v[i].key;
		const char *have = cloud_tags_get(&m.add_tags, k);
		if ((have != NULL && strcmp(have, add->add_tags.v[i].value) != 0) || strv_contains(&m.del_tags, k))
			return status_set(st, STATUS_ABORTED, "tag %s is changed differently by a concurrent request", k);
	}
	for (size_t i = 0; i < add->del_tags.n; i++)
		if (cloud_tags_get(&m.add_tags, add->del_tags.v[i]) != NULL)
			return status_set(st, STATUS_ABORTED, "tag %s is set by a concurrent request", add->del_tags.v[i]);
	into->size_gib = m.size_gib;
	into->iops = (int32_t)iops;
	into->throughput = (int32_t)tput;
	into->iops_per_gb = (int32_t)ipg;
	if (add->type != NULL)
		into->type = add->type;
	if (add->allow_increase >= 0)
		into->allow_increase = add->allow_increase;
	for (size_t i = 0; i < add->add_tags.n; i++)
		cloud_tags_set(&into->add_tags, add->add_tags.v[i].key, add->add_tags.v[i].value);
	for (size_t i = 0; i < add->del_tags.n; i++)
		if (!strv_contains(&into->del_tags, add->del_tags.v[i]))
			strv_push(&into->del_tags, add->del_tags.v[i]);
	return 0;
}

/* ---- execution ------------------------------------------------------------------------- */

static int change_disk(struct controller_service *svc, const struct rpc_ctx *rc, const char *volume_id,
		       const struct modify_req *req, int64_t *size_gib, struct status *st)
{
	struct cloud_disk d;
	struct cloud_modification mod;
	cloud_modification_init(&mod);
	int ret = -1;
	if (cloud_get_disk(svc->cloud, rc, volume_id, &d, st) < 0) {
		controller_fail(st, "look up volume %s", volume_id);
		goto out;
	}
	const struct controller_volume_type *t = req->type ? req->type : controller_volume_type_find(d.volume_type);
	int64_t target = req->size_gib > d.size_gib ? req->size_gib : d.size_gib;
	if (t != NULL && target > t->max_gib) {
		status_set(st, STATUS_OUT_OF_RANGE, "volume %s: %lld GiB is more than %s volumes allow (%lld GiB)", volume_id,
			   (long long)target, t->name, (long long)t->max_gib);
		goto out;
	}
	if (t != NULL && target < t->min_gib) {
		status_set(st, STATUS_INVALID_ARGUMENT, "volume %s: %lld GiB is less than %s volumes need (%lld GiB)",
			   volume_id, (long long)target, t->name, (long long)t->min_gib);
		goto out;
	}
	int64_t iops = 0;
	if (req->iops) {
		iops = req->iops;
	} else if (req->iops_per_gb) {
		iops = (int64_t)req->iops_per_gb * target;
	} else if (target > d.size_gib) {
		/* A plain resize of a volume made with iopsPerGB keeps the ratio
		 * when it was allowed to (upstream: the IOPSPerGb and
		 * AllowAutoIOPSIncreaseOnModify tags). */
		const char *ipg = cloud_tags_get(&d.tags, CONTROLLER_TAG_IOPS_PER_GB);
		const char *allow = cloud_tags_get(&d.tags, CONTROLLER_TAG_ALLOW_IOPS_INCREASE);
		bool allowed = req->allow_increase >= 0 ? req->allow_increase == 1 : allow && strcmp(allow, "true") == 0;
		if (ipg != NULL && allowed)
			iops = strtoll(ipg, NULL, 10) * target;
	}
	struct cloud_modify_options o = {
		.size_gib = target > d.size_gib ? target : 0,
		.volume_type = req->type ? req->type->name : NULL,
		.iops = controller_cap_iops(t, target, iops, true),
		.throughput = req->throughput,
	};
	*size_gib = target;
	if (o.size_gib == 0 && o.volume_type == NULL && o.iops == 0 && o.throughput == 0) {
		ret = 0;
		goto out;
	}
	if (cloud_modify_disk(svc->cloud, rc, volume_id, &o, &mod, st) < 0) {
		controller_fail(st, "modify volume %s", volume_id);
		goto out;
	}
	if (mod.target_size_gib > 0)
		*size_gib = mod.target_size_gib;
	log_info("volume %s modified: %lld GiB%s%s, %d IOPS, %d MiB/s (%s)", volume_id, (long long)*size_gib,
		 o.volume_type ? ", type " : "", o.volume_type ? o.volume_type : "", (int)mod.target_iops,
		 (int)mod.target_throughput, cloud_mod_state_name(mod.state));
	ret = 0;
out:
	cloud_disk_dispose(&d);
	cloud_modification_dispose(&mod);
	return ret;
}

static int execute(struct controller_service *svc, const struct rpc_ctx *rc, const char *volume_id,
		   const struct modify_req *req, int64_t *size_gib, struct status *st)
{
	*size_gib = 0;
	if ((req->size_gib || req->type || req->iops || req->throughput || req->iops_per_gb) &&
	    change_disk(svc, rc, volume_id, req, size_gib, st) < 0)
		return -1;
	if (req->del_tags.n > 0 &&
	    cloud_delete_tags(svc->cloud, rc, volume_id, (const char *const *)req->del_tags.v, req->del_tags.n, st) < 0)
		return controller_fail(st, "delete tags of volume %s", volume_id);
	struct cloud_tags add;
	cloud_tags_init(&add);
	cloud_tags_copy(&add, &req->add_tags);
	if (req->iops_per_gb) {
		char v[16];
		snprintf(v, sizeof v, "%d", (int)req->iops_per_gb);
		cloud_tags_set(&add, CONTROLLER_TAG_IOPS_PER_GB, v);
	}
	if (req->allow_increase >= 0)
		cloud_tags_set(&add, CONTROLLER_TAG_ALLOW_IOPS_INCREASE, req->allow_increase ? "true" : "false");
	int r = add.n > 0 ? cloud_create_tags(svc->cloud, rc, volume_id, &add, st) : 0;
	cloud_tags_dispose(&add);
	if (r < 0)
		return controller_fail(st, "tag volume %s", volume_id);
	return 0;
}

/* ---- the coalescer --------------------------------------------------------------------------- */

static struct timespec mono_ts(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	return ts;
}

static int64_t deadline_of(const struct rpc_ctx *rc)
{
	return rc != NULL ? rc->deadline_ms : RPC_NO_DEADLINE;
}

/* Runs req for volume_id, merged with whatever else arrives for it within
 * the window. Returns 0 with *size_gib (0 when not known); -1 with st. */
static int coalesce(struct controller_service *svc, const struct rpc_ctx *rc, const char *volume_id,
		    const struct modify_req *req, int64_t *size_gib, struct status *st)
{
	pthread_mutex_lock(&svc->co_lock);
	struct controller_coalesce *e = svc->co_head;
	while (e != NULL && !(e->state == CO_COLLECTING && strcmp(e->volume_id, volume_id) == 0))
		e = e->next;
	bool leader = e == NULL;
	if (leader) {
		e = xcalloc(1, sizeof *e);
		e->volume_id = xstrdup(volume_id);
		e->state = CO_COLLECTING;
		modify_req_init(&e->req);
		merge(&e->req, req, NULL);  /* into an empty request: cannot conflict */
		e->deadline_ms = deadline_of(rc);
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&e->cv, &ca);
		pthread_condattr_destroy(&ca);
		e->next = svc->co_head;
		svc->co_head = e;
	} else if (merge(&e->req, req, st) < 0) {
		pthread_mutex_unlock(&svc->co_lock);
		return status_prefix(st, "volume %s: ", volume_id);
	} else {
		int64_t d = deadline_of(rc);
		if (d > e->deadline_ms)
			e->deadline_ms = d;
		log_v(2, "volume %s: request merged with one in its window", volume_id);
	}
	e->participants++;

	if (leader) {
		pthread_mutex_unlock(&svc->co_lock);
		/* The window runs whatever our own deadline: merged callers wait
		 * for the execution. */
		controller_sleep(NULL, svc->modify_window_ms);
		pthread_mutex_lock(&svc->co_lock);
		e->state = CO_RUNNING;
		struct rpc_ctx erc = { .method = rc ? rc->method : "modify", .deadline_ms = e->deadline_ms };
		pthread_mutex_unlock(&svc->co_lock);
		/* e->req is ours alone now: nobody merges into a running entry. */
		int64_t sz = 0;
		struct status res = STATUS_INIT;
		execute(svc, &erc, volume_id, &e->req, &sz, &res);
		pthread_mutex_lock(&svc->co_lock);
		e->result = res;
		e->size_gib = sz;
		e->state = CO_DONE;
		pthread_cond_broadcast(&e->cv);
	}
	int ret = 0;
	while (e->state != CO_DONE) {
		int64_t d = deadline_of(rc);
		int w;
		if (d == RPC_NO_DEADLINE) {
			w = pthread_cond_wait(&e->cv, &svc->co_lock);
		} else {
			struct timespec ts = mono_ts(d);
			w = pthread_cond_timedwait(&e->cv, &svc->co_lock, &ts);
		}
		if (w == ETIMEDOUT && e->state != CO_DONE) {
			ret = status_set(st, STATUS_DEADLINE_EXCEEDED,
					 "volume %s: the merged modification did not finish before the deadline", volume_id);
			break;
		}
	}
	if (ret == 0) {
		status_copy(st, &e->result);
		ret = e->result.code == STATUS_OK ? 0 : -1;
		*size_gib = e->size_gib;
	}
	if (--e->participants == 0 && e->state == CO_DONE) {
		struct controller_coalesce **pp = &svc->co_head;
		while (*pp != e)
			pp = &(*pp)->next;
		*pp = e->next;
		entry_free(e);
	}
	pthread_mutex_unlock(&svc->co_lock);
	return ret;
}

/* ---- handlers ----------------------------------------------------------------------------------- */

int controller_expand_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			     ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__ControllerExpandVolumeRequest *req = (const Csi__V1__ControllerExpandVolumeRequest *)reqp;
	struct modify_req mr;
	modify_req_init(&mr);
	int ret = -1;

	if (controller_check_required(req->volume_id, "volume_id", st) < 0)
		goto out;
	if (req->capacity_range == NULL || req->capacity_range->required_bytes <= 0) {
		status_set(st, STATUS_INVALID_ARGUMENT, "capacity_range.required_bytes is required");
		goto out;
	}
	struct controller_cap cap = { 0 };
	if (req->volume_capability != NULL &&
	    controller_check_capability(req->volume_capability, "volume_capability", &cap, st) < 0)
		goto out;
	if (controller_size_gib(req->capacity_range, NULL, 0, &mr.size_gib, st) < 0)
		goto out;
	if (mr.size_gib > 65536) {
		status_set(st, STATUS_OUT_OF_RANGE, "capacity_range: %lld GiB is more than any EBS volume (65536 GiB)",
			   (long long)mr.size_gib);
		goto out;
	}
	if (!controller_id_valid(req->volume_id, "vol-")) {
		status_set(st, STATUS_NOT_FOUND, "volume %s does not exist", req->volume_id);
		goto out;
	}
	int64_t size = 0;
	if (coalesce(svc, rc, req->volume_id, &mr, &size, st) < 0) {
		controller_fail(st, "expand volume %s", req->volume_id);
		goto out;
	}
	const Csi__V1__CapacityRange *cr = req->capacity_range;
	if (cr->limit_bytes > 0 && size * CONTROLLER_GIB > cr->limit_bytes) {
		/* Already larger than the limit: shrinking is impossible. */
		status_set(st, STATUS_OUT_OF_RANGE, "volume %s is %lld GiB, more than limit_bytes %lld", req->volume_id,
			   (long long)size, (long long)cr->limit_bytes);
		goto out;
	}
	Csi__V1__ControllerExpandVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__controller_expand_volume_response__init(r);
	r->capacity_bytes = size * CONTROLLER_GIB;
	/* A filesystem must grow on the node; a raw block device need not
	 * (CSI: "MAY answer node_expansion_required=false" for block). */
	r->node_expansion_required = !cap.block;
	*resp = &r->base;
	ret = 0;
out:
	modify_req_dispose(&mr);
	return ret;
}

int controller_modify_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			     ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__ControllerModifyVolumeRequest *req = (const Csi__V1__ControllerModifyVolumeRequest *)reqp;
	struct kvmap params = { 0 };
	struct controller_modify_params p = { 0 };
	struct modify_req mr;
	modify_req_init(&mr);
	int ret = -1;

	if (controller_check_required(req->volume_id, "volume_id", st) < 0)
		goto out;
	if (req->n_mutable_parameters == 0) {
		/* The spec marks the map REQUIRED, but also says nothing may change
		 * for an absent key: an empty map is a request to change nothing.
		 * Answering it (NOT_FOUND for an unknown volume, else OK without a
		 * ModifyVolume) is what csi-sanity expects of a driver it runs
		 * without --csi.testvolumemutableparameters. */
		if (!controller_id_valid(req->volume_id, "vol-")) {
			status_set(st, STATUS_NOT_FOUND, "volume %s does not exist", req->volume_id);
			goto out;
		}
		struct cloud_disk d;
		if (cloud_get_disk(svc->cloud, rc, req->volume_id, &d, st) < 0) {
			cloud_disk_dispose(&d);
			controller_fail(st, "modify volume %s", req->volume_id);
			goto out;
		}
		cloud_disk_dispose(&d);
		Csi__V1__ControllerModifyVolumeResponse *r = xmalloc(sizeof *r);
		csi__v1__controller_modify_volume_response__init(r);
		*resp = &r->base;
		ret = 0;
		goto out;
	}
	KVMAP_VIEW(&params, req->n_mutable_parameters, req->mutable_parameters);
	if (controller_parse_modify_params(&params, &p, st) < 0)
		goto out;
	const struct controller_tvar vars[] = {
		{ "PVCName", p.pvc_name },
		{ "PVCNamespace", p.pvc_namespace },
		{ "PVName", p.pv_name },
	};
	if (controller_add_tag_specs(svc, &p.tag_specs, vars, 3, &mr.add_tags, st) < 0)
		goto out;
	strv_extend(&mr.del_tags, &p.tag_deletions);
	mr.type = p.type;
	mr.iops = p.iops;
	mr.throughput = p.throughput;
	mr.iops_per_gb = p.iops_per_gb;
	mr.allow_increase = p.allow_iops_increase_on_modify;
	if (!controller_id_valid(req->volume_id, "vol-")) {
		status_set(st, STATUS_NOT_FOUND, "volume %s does not exist", req->volume_id);
		goto out;
	}
	int64_t size;
	if (coalesce(svc, rc, req->volume_id, &mr, &size, st) < 0) {
		controller_fail(st, "modify volume %s", req->volume_id);
		goto out;
	}
	Csi__V1__ControllerModifyVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__controller_modify_volume_response__init(r);
	*resp = &r->base;
	ret = 0;
out:
	kvmap_dispose(&params);
	controller_modify_params_dispose(&p);
	modify_req_dispose(&mr);
	return ret;
}
