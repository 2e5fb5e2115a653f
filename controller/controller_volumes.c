/*
 * controller_volumes: CreateVolume and DeleteVolume.
 *
 * CreateVolume validates everything it can without EC2 (capabilities,
 * parameters, size, tags, topology), takes the name's in-flight key, then
 * creates (CreateVolume, from a snapshot or not) or clones (CopyVolumes) with
 * the ClientToken hex(sha256(name)), so a retried call — even after a driver
 * restart — gets the same volume from EC2 itself, with no local state.
 * When EC2 answers IdempotentParameterMismatch, the volume carrying the name
 * (tag CSIVolumeName) decides: compatible → it is the answer; incompatible →
 * ALREADY_EXISTS (CSI §CreateVolume); none → the token's volume is gone
 * (deleted, or rolled back by EC2 for a bad KMS key), so we move on to the
 * suffixed tokens hex(sha256(name-2)), -3, … as upstream does — but within
 * the same call, and recomputed after a restart instead of cached.
 * DeleteVolume: a volume that is not there (or cannot be an EBS id) is
 * deleted already (CSI: MUST answer OK).
 */
#include "controller/controller_internal.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Suffixed ClientTokens tried after a burned one; each costs one quick
 * IdempotentParameterMismatch answer. */
#define MAX_TOKEN_SUFFIX 32

/* What the request asks of a volume: used to create it, and to decide
 * whether a volume found by name is compatible. */
struct want {
	const char *name;
	const Csi__V1__CapacityRange *cr;  /* may be NULL */
	int64_t size_gib;                  /* 0: the source's */
	const struct controller_volume_type *type;
	int32_t iops, throughput;
	bool encrypted;
	const char *kms_key_id;
	const char *snapshot_id, *source_volume_id;
	bool multi_attach;
	char *zone, *zone_id, *outpost_arn;  /* heap or NULL */
	const Csi__V1__TopologyRequirement *topo;
};

static void want_dispose(struct want *w)
{
	free(w->zone);
	free(w->zone_id);
	free(w->outpost_arn);
}

/* ---- topology --------------------------------------------------------------------------- */

static const char *segment(const Csi__V1__Topology *t, const char *key)
{
	for (size_t i = 0; t != NULL && i < t->n_segments; i++)
		if (t->segments[i]->key != NULL && strcasecmp(t->segments[i]->key, key) == 0)
			return t->segments[i]->value;
	return NULL;
}

/* The zone (or zone id) of the first topology that names one, preferred
 * before requisite (CSI: "try the entries in order"; upstream §6.9), and the
 * Outpost ARN when all four Outpost keys are there. */
static void pick_topology(const Csi__V1__TopologyRequirement *tr, struct want *w)
{
	for (int pass = 0; tr != NULL && pass < 2; pass++) {
		size_t n = pass == 0 ? tr->n_preferred : tr->n_requisite;
		Csi__V1__Topology **v = pass == 0 ? tr->preferred : tr->requisite;
		for (size_t i = 0; i < n; i++) {
			const char *zone = segment(v[i], CONTROLLER_TOPO_ZONE);
			if (zone == NULL || zone[0] == '\0')
				zone = segment(v[i], CONTROLLER_TOPO_ZONE_EBS);
			const char *zone_id = segment(v[i], CONTROLLER_TOPO_ZONE_ID);
			if ((zone == NULL || zone[0] == '\0') && (zone_id == NULL || zone_id[0] == '\0'))
				continue;
			if (zone != NULL && zone[0] != '\0')
				w->zone = xstrdup(zone);
			else
				w->zone_id = xstrdup(zone_id);
			const char *region = segment(v[i], CONTROLLER_TOPO_REGION);
			const char *part = segment(v[i], CONTROLLER_TOPO_PARTITION);
			const char *account = segment(v[i], CONTROLLER_TOPO_ACCOUNT);
			const char *outpost = segment(v[i], CONTROLLER_TOPO_OUTPOST);
			if (region && part && account && outpost)
				w->outpost_arn = xasprintf("arn:%s:outposts:%s:%s:outpost/%s", part, region, account, outpost);
			return;
		}
	}
}

/* Whether zone/zone_id satisfy the request's topology (any of its entries
 * naming it, or no zone constraint at all). */
static bool topology_allows(const Csi__V1__TopologyRequirement *tr, const char *zone, const char *zone_id)
{
	bool constrained = false;
	for (int pass = 0; tr != NULL && pass < 2; pass++) {
		size_t n = pass == 0 ? tr->n_requisite : tr->n_preferred;
		Csi__V1__Topology **v = pass == 0 ? tr->requisite : tr->preferred;
		for (size_t i = 0; i < n; i++) {
			const char *z = segment(v[i], CONTROLLER_TOPO_ZONE);
			const char *ze = segment(v[i], CONTROLLER_TOPO_ZONE_EBS);
			const char *zi = segment(v[i], CONTROLLER_TOPO_ZONE_ID);
			if (!z && !ze && !zi)
				continue;
			constrained = true;
			if ((zone && ((z && strcmp(z, zone) == 0) || (ze && strcmp(ze, zone) == 0))) ||
			    (zone_id && zi && strcmp(zi, zone_id) == 0))
				return true;
		}
	}
	return !constrained;
}

/* A zone of the region for a request without topology: the configured default
 * (the controller's own zone), else spread by the name's hash (deterministic,
 * so a retry picks the same zone) over the available availability zones (not
 * Local or Wavelength zones). */
static int default_zone(struct controller_service *svc, const struct rpc_ctx *rc, struct want *w, struct status *st)
{
	if (svc->default_zone != NULL) {
		w->zone = xstrdup(svc->default_zone);
		return 0;
	}
	struct cloud_zone_list zl;
	if (cloud_availability_zones(svc->cloud, rc, &zl, st) < 0) {
		cloud_zone_list_dispose(&zl);
		return controller_fail(st, "list the availability zones");
	}
	size_t n = 0;
	for (size_t i = 0; i < zl.n; i++)
		n += zl.v[i].name && (!zl.v[i].state || strcmp(zl.v[i].state, "available") == 0) &&
		     (!zl.v[i].zone_type || strcmp(zl.v[i].zone_type, "availability-zone") == 0);
	int ret = 0;
	if (n == 0) {
		ret = status_set(st, STATUS_RESOURCE_EXHAUSTED, "no availability zone of the region is available");
	} else {
		unsigned h = 5381;
		for (const char *c = w->name; *c; c++)
			h = h * 33u + (unsigned char)*c;
		size_t pick = h % n;
		for (size_t i = 0; i < zl.n; i++) {
			bool ok = zl.v[i].name && (!zl.v[i].state || strcmp(zl.v[i].state, "available") == 0) &&
				  (!zl.v[i].zone_type || strcmp(zl.v[i].zone_type, "availability-zone") == 0);
			if (ok && pick-- == 0) {
				w->zone = xstrdup(zl.v[i].name);
				break;
			}
		}
	}
	cloud_zone_list_dispose(&zl);
	return ret;
}

/* ---- compatibility of an existing volume -------------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Writes the reason into why and returns false, so a failed check is one
 * assignment. */
static bool why_not(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool why_not(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return false;
}

/* Whether d satisfies w (CSI: "compatible with capacity_range,
 * volume_capabilities, parameters, accessibility_requirements and
 * volume_content_source"). Says why not into why. */
static bool compatible(const struct cloud_disk *d, const struct want *w, char *why, size_t n)
{
	int64_t bytes = d->size_gib * CONTROLLER_GIB;
	bool ok = true;
	if (w->cr != NULL && (w->cr->required_bytes > 0 || w->cr->limit_bytes > 0)) {
		if (bytes < w->cr->required_bytes || (w->cr->limit_bytes > 0 && bytes > w->cr->limit_bytes))
			ok = why_not(why, n, "its size %lld GiB is outside capacity_range", (long long)d->size_gib);
	} else if (w->size_gib > 0 && d->size_gib != w->size_gib) {
		ok = why_not(why, n, "its size is %lld GiB, not %lld GiB", (long long)d->size_gib,
			      (long long)w->size_gib);
	}
	if (ok && (d->volume_type == NULL || strcasecmp(d->volume_type, w->type->name) != 0))
		ok = why_not(why, n, "its type is %s, not %s", d->volume_type ? d->volume_type : "?", w->type->name);
	if (ok && w->iops && d->iops != w->iops)
		ok = why_not(why, n, "it has %d IOPS, not %d", (int)d->iops, (int)w->iops);
	if (ok && w->throughput && d->throughput != w->throughput)
		ok = why_not(why, n, "its throughput is %d MiB/s, not %d", (int)d->throughput, (int)w->throughput);
	if (ok && w->encrypted && !d->encrypted)
		ok = why_not(why, n, "it is not encrypted");
	if (ok && w->kms_key_id && (d->kms_key_id == NULL || strstr(d->kms_key_id, w->kms_key_id) == NULL))
		ok = why_not(why, n, "its KMS key is %s", d->kms_key_id ? d->kms_key_id : "none");
	if (ok && !w->source_volume_id && !same_str(d->snapshot_id, w->snapshot_id))
		ok = why_not(why, n, "it was restored from snapshot \"%s\"", d->snapshot_id ? d->snapshot_id : "");
	if (ok && w->source_volume_id && !same_str(d->source_volume_id, w->source_volume_id))
		ok = why_not(why, n, "it is not a clone of %s", w->source_volume_id);
	if (ok && d->multi_attach != w->multi_attach)
		ok = why_not(why, n, "its multi-attach is %s", d->multi_attach ? "on" : "off");
	if (ok && !topology_allows(w->topo, d->zone, d->zone_id))
		ok = why_not(why, n, "its zone %s is outside accessibility_requirements", d->zone ? d->zone : "?");
	return ok;
}

/* ---- create ----------------------------------------------------------------------------------- */

static int create_once(struct controller_service *svc, const struct rpc_ctx *rc, struct cloud_disk_options *o,
		       const char *token_base, struct cloud_disk *out, struct status *st)
{
	char *token = controller_client_token(token_base);
	o->client_token = token;
	cloud_disk_dispose(out);
	int r = o->source_volume_id ? cloud_copy_disk(svc->cloud, rc, o, out, st)
				    : cloud_create_disk(svc->cloud, rc, o, out, st);
	o->client_token = NULL;
	free(token);
	return r;
}

/* The volume named w->name when it exists and fits w: 1 (out filled), 0 when
 * there is none, -1 with st set (ALREADY_EXISTS when incompatible). */
static int existing_by_name(struct controller_service *svc, const struct rpc_ctx *rc, const struct want *w,
			    struct cloud_disk *out, struct status *st)
{
	struct status local = STATUS_INIT;
	cloud_disk_dispose(out);
	if (cloud_find_disk_by_name(svc->cloud, rc, w->name, out, &local) < 0) {
		if (local.code == STATUS_NOT_FOUND)
			return 0;
		if (local.code == STATUS_FAILED_PRECONDITION)
			local.code = STATUS_INTERNAL; /* several volumes carry the name: needs a human */
		status_copy(st, &local);
		return controller_fail(st, "look up the volume named %s", w->name);
	}
	char why[160] = "";
	if (!compatible(out, w, why, sizeof why))
		return status_set(st, STATUS_ALREADY_EXISTS, "volume %s named %s exists but is incompatible: %s",
				  out->volume_id ? out->volume_id : "?", w->name, why);
	return 1;
}

static int create_disk(struct controller_service *svc, const struct rpc_ctx *rc, struct want *w,
		       struct cloud_disk_options *o, struct cloud_disk *out, struct status *st)
{
	if (create_once(svc, rc, o, w->name, out, st) == 0)
		return 0;
	if (st->code == STATUS_RESOURCE_EXHAUSTED) {
		/* EC2 does not keep ClientToken idempotency for a request that
		 * would exceed a quota (upstream §6.1): the volume of an earlier
		 * attempt may exist all the same. */
		struct status saved;
		status_copy(&saved, st);
		int r = existing_by_name(svc, rc, w, out, st);
		if (r == 1) {
			status_clear(st);
			return 0;
		}
		if (r == 0)
			status_copy(st, &saved);
		return controller_fail(st, "create volume %s", w->name);
	}
	if (st->code == STATUS_ABORTED) {
		/* EC2 accepted the volume and then removed it (an unusable KMS
		 * key is the usual cause). The token is burned; the CO's retry
		 * moves on to a suffixed one. */
		return status_set(st, STATUS_INTERNAL,
				  "create volume %s: the volume disappeared while it was being created (EC2 rolls "
				  "back volumes it cannot encrypt: check kmsKeyId and the key policy): %s",
				  w->name, st->msg);
	}
	if (st->code != STATUS_ALREADY_EXISTS)
		return controller_fail(st, "create volume %s", w->name);
	int r = existing_by_name(svc, rc, w, out, st);
	if (r > 0)
		status_clear(st);
	if (r != 0)
		return r > 0 ? 0 : -1;
	for (int n = 2; n <= MAX_TOKEN_SUFFIX; n++) {
		char *base = xasprintf("%s-%d", w->name, n);
		log_v(2, "create volume %s: client token of \"%s\" is burned, trying \"%s\"", w->name,
		      n == 2 ? w->name : "previous suffix", base);
		int cr = create_once(svc, rc, o, base, out, st);
		free(base);
		if (cr == 0) {
			status_clear(st);
			return 0;
		}
		if (st->code != STATUS_ALREADY_EXISTS)
			return controller_fail(st, "create volume %s", w->name);
	}
	return status_set(st, STATUS_INTERNAL, "create volume %s: %d client tokens are burned; try again later",
			  w->name, MAX_TOKEN_SUFFIX);
}

/* The source of a clone or restore: checks it and fills the sizes it
 * implies. */
static int check_source(struct controller_service *svc, const struct rpc_ctx *rc, const struct controller_volume_params *p,
			struct want *w, struct status *st)
{
	if (w->snapshot_id != NULL) {
		if (!controller_id_valid(w->snapshot_id, "snap-"))
			return status_set(st, STATUS_NOT_FOUND, "source snapshot %s does not exist", w->snapshot_id);
		struct cloud_snapshot s;
		int r = cloud_get_snapshot(svc->cloud, rc, w->snapshot_id, &s, st);
		if (r == 0 && w->size_gib == 0)
			w->size_gib = s.volume_size_gib > w->type->min_gib ? s.volume_size_gib : w->type->min_gib;
		else if (r == 0 && s.volume_size_gib > w->size_gib)
			r = status_set(st, STATUS_OUT_OF_RANGE, "snapshot %s holds %lld GiB, more than the %lld GiB asked",
				       w->snapshot_id, (long long)s.volume_size_gib, (long long)w->size_gib);
		cloud_snapshot_dispose(&s);
		return r < 0 ? controller_fail(st, "source snapshot %s", w->snapshot_id) : 0;
	}
	if (!controller_id_valid(w->source_volume_id, "vol-"))
		return status_set(st, STATUS_NOT_FOUND, "source volume %s does not exist", w->source_volume_id);
	struct cloud_disk src;
	int r = cloud_get_disk(svc->cloud, rc, w->source_volume_id, &src, st);
	if (r == 0) {
		/* CopyVolumes keeps the source's zone, encryption and key
		 * (upstream §3.2): asking for anything else cannot be met. */
		if (p->encrypted >= 0 && (bool)p->encrypted != src.encrypted)
			r = status_set(st, STATUS_INVALID_ARGUMENT, "parameter encrypted: a clone of %s is %s", src.volume_id,
				       src.encrypted ? "encrypted" : "not encrypted");
		else if (p->kms_key_id && (src.kms_key_id == NULL || strstr(src.kms_key_id, p->kms_key_id) == NULL))
			r = status_set(st, STATUS_INVALID_ARGUMENT, "parameter kmsKeyId: a clone of %s uses its key %s",
				       src.volume_id, src.kms_key_id ? src.kms_key_id : "(none)");
		else if (!topology_allows(w->topo, src.zone, src.zone_id))
			r = status_set(st, STATUS_RESOURCE_EXHAUSTED,
				       "cannot clone %s (zone %s) within accessibility_requirements", src.volume_id,
				       src.zone ? src.zone : "?");
		else if (w->size_gib != 0 && w->size_gib < src.size_gib)
			r = status_set(st, STATUS_OUT_OF_RANGE, "source volume %s has %lld GiB, more than the %lld GiB asked",
				       src.volume_id, (long long)src.size_gib, (long long)w->size_gib);
		if (r == 0 && w->size_gib == 0)
			w->size_gib = src.size_gib;
		if (r == 0) {
			free(w->zone);
			w->zone = src.zone ? xstrdup(src.zone) : NULL;
			w->encrypted = src.encrypted;
		}
	}
	cloud_disk_dispose(&src);
	return r < 0 ? controller_fail(st, "source volume %s", w->source_volume_id) : 0;
}

static Csi__V1__CreateVolumeResponse *build_response(const Csi__V1__CreateVolumeRequest *req,
						     const struct controller_volume_params *p,
						     const struct cloud_disk *d, const struct want *w)
{
	Csi__V1__CreateVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__create_volume_response__init(r);
	Csi__V1__Volume *v = xmalloc(sizeof *v);
	csi__v1__volume__init(v);
	r->volume = v;
	v->volume_id = controller_strdup(d->volume_id);
	v->capacity_bytes = d->size_gib * CONTROLLER_GIB;
	/* volume_context: the formatting options for NodeStage (upstream's
	 * lower-case keys) and blockAttachUntilInitialized for publish. */
	v->volume_context = xcalloc(CONTROLLER_FMT_COUNT + 1, sizeof *v->volume_context);
	for (int f = 0; f <= CONTROLLER_FMT_COUNT; f++) {
		const char *key = f < CONTROLLER_FMT_COUNT ? controller_fmt_context_key(f) : "blockattachuntilinitialized";
		const char *val = f < CONTROLLER_FMT_COUNT ? p->fmt[f] : p->block_attach_until_initialized ? "true" : NULL;
		if (val == NULL)
			continue;
		Csi__V1__Volume__VolumeContextEntry *e = xmalloc(sizeof *e);
		csi__v1__volume__volume_context_entry__init(e);
		e->key = controller_strdup(key);
		e->value = controller_strdup(val);
		v->volume_context[v->n_volume_context++] = e;
	}
	if (req->volume_content_source != NULL)
		v->content_source = (Csi__V1__VolumeContentSource *)controller_msg_copy(&req->volume_content_source->base);
	/* The zone EC2 put it in (upstream returns the requested string, empty
	 * for a zone-id-only request), so Kubernetes pins the PV to it. */
	const char *zone = d->zone ? d->zone : w->zone;
	if (zone != NULL) {
		const char *keys[5] = { CONTROLLER_TOPO_ZONE };
		const char *vals[5] = { zone };
		size_t n = 1;
		char *arn = d->outpost_arn ? xstrdup(d->outpost_arn) : NULL;
		/* arn:<partition>:outposts:<region>:<account>:outpost/<id> */
		char *f[6] = { 0 };
		size_t nf = 0;
		for (char *s = arn; s != NULL && nf < 6;) {
			f[nf++] = s;
			if ((s = strchr(s, ':')) != NULL)
				*s++ = '\0';
		}
		if (nf == 6 && strncmp(f[5], "outpost/", 8) == 0) {
			keys[n] = CONTROLLER_TOPO_PARTITION, vals[n++] = f[1];
			keys[n] = CONTROLLER_TOPO_REGION, vals[n++] = f[3];
			keys[n] = CONTROLLER_TOPO_ACCOUNT, vals[n++] = f[4];
			keys[n] = CONTROLLER_TOPO_OUTPOST, vals[n++] = f[5] + 8;
		}
		v->accessible_topology = xmalloc(sizeof *v->accessible_topology);
		v->accessible_topology[0] = controller_topology(keys, vals, n);
		v->n_accessible_topology = 1;
		free(arn);
	}
	return r;
}

int controller_create_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			     ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__CreateVolumeRequest *req = (const Csi__V1__CreateVolumeRequest *)reqp;
	struct kvmap params = { 0 }, mparams = { 0 };
	struct controller_volume_params p = { 0 };
	struct cloud_tags tags = { 0 };
	struct cloud_disk disk = { 0 };
	struct want w = { 0 };
	bool held = false;
	int ret = -1;

	/* ---- validate: everything that needs no EC2 call ---- */
	if (controller_check_name(req->name, "name", st) < 0)
		goto out;
	if (req->n_volume_capabilities == 0) {
		status_set(st, STATUS_INVALID_ARGUMENT, "volume_capabilities is required");
		goto out;
	}
	KVMAP_VIEW(&params, req->n_parameters, req->parameters);
	KVMAP_VIEW(&mparams, req->n_mutable_parameters, req->mutable_parameters);
	if (controller_parse_volume_params(&params, &mparams, &p, st) < 0)
		goto out;
	for (size_t i = 0; i < req->n_volume_capabilities; i++) {
		char field[48];
		snprintf(field, sizeof field, "volume_capabilities[%zu]", i);
		struct controller_cap cap;
		if (controller_check_capability(req->volume_capabilities[i], field, &cap, st) < 0)
			goto out;
		const char *fs = cap.fs_type && cap.fs_type[0] ? cap.fs_type : svc->default_fs_type;
		if (controller_check_fmt_for_fs(&p, cap.block, fs, field, st) < 0)
			goto out;
		w.multi_attach = w.multi_attach || cap.multi_node;
	}
	if (w.multi_attach && strcmp(p.type->name, "io2") != 0) {
		/* Upstream answers ABORTED; the CSI spec's code for an
		 * unsupported capability is INVALID_ARGUMENT. */
		status_set(st, STATUS_INVALID_ARGUMENT,
			   "MULTI_NODE_MULTI_WRITER needs an io2 volume (multi-attach), not %s", p.type->name);
		goto out;
	}
	const Csi__V1__VolumeContentSource *src = req->volume_content_source;
	if (src != NULL) {
		if (src->type_case == CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_SNAPSHOT && src->snapshot != NULL)
			w.snapshot_id = src->snapshot->snapshot_id;
		else if (src->type_case == CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_VOLUME && src->volume != NULL)
			w.source_volume_id = src->volume->volume_id;
		if (controller_check_required(w.snapshot_id ? w.snapshot_id : w.source_volume_id,
					      w.snapshot_id	       ? "volume_content_source.snapshot.snapshot_id"
					      : w.source_volume_id ? "volume_content_source.volume.volume_id"
								   : "volume_content_source (snapshot or volume)",
					      st) < 0)
			goto out;
	}
	const Csi__V1__CapacityRange *cr = req->capacity_range;
	bool sized = cr != NULL && (cr->required_bytes != 0 || cr->limit_bytes != 0);
	/* Without a capacity_range a restore or clone takes its source's size
	 * (check_source); otherwise upstream's default of 100 GiB. */
	if ((sized || src == NULL) && controller_size_gib(cr, p.type, CONTROLLER_DEFAULT_SIZE_GIB, &w.size_gib, st) < 0)
		goto out;
	if (controller_volume_tags(svc, req->name, &p, &tags, st) < 0)
		goto out;
	w.name = req->name;
	w.cr = cr;
	w.type = p.type;
	w.encrypted = p.encrypted == 1 || p.kms_key_id != NULL;
	w.kms_key_id = p.kms_key_id;
	w.throughput = p.throughput;
	w.topo = req->accessibility_requirements;
	pick_topology(req->accessibility_requirements, &w);

	/* ---- in flight ---- */
	if (controller_acquire(svc, "name", req->name, st) < 0)
		goto out;
	held = true;

	/* ---- cloud ---- */
	if ((w.snapshot_id || w.source_volume_id) && check_source(svc, rc, &p, &w, st) < 0)
		goto out;
	int64_t iops = p.iops ? p.iops : (int64_t)p.iops_per_gb * w.size_gib;
	w.iops = controller_cap_iops(p.type, w.size_gib, iops, p.allow_iops_increase);
	if (!w.source_volume_id && !w.zone && !w.zone_id && default_zone(svc, rc, &w, st) < 0)
		goto out;
	struct cloud_disk_options o = {
		.size_gib = w.size_gib,
		.volume_type = p.type->name,
		.iops = w.iops,
		.throughput = w.throughput,
		.encrypted = w.source_volume_id ? false : w.encrypted,
		.kms_key_id = w.source_volume_id ? NULL : p.kms_key_id,
		.snapshot_id = w.snapshot_id,
		.source_volume_id = w.source_volume_id,
		.zone = w.source_volume_id ? NULL : w.zone,
		.zone_id = w.source_volume_id || w.zone ? NULL : w.zone_id,
		.outpost_arn = w.outpost_arn,
		.multi_attach = w.multi_attach,
		.initialization_rate = p.init_rate,
		.tags = &tags,
	};
	if (create_disk(svc, rc, &w, &o, &disk, st) < 0)
		goto out;
	log_info("volume %s created for %s (%lld GiB %s in %s)", disk.volume_id, req->name, (long long)disk.size_gib,
		 disk.volume_type ? disk.volume_type : "?", disk.zone ? disk.zone : "?");

	/* ---- response ---- */
	*resp = &build_response(req, &p, &disk, &w)->base;
	ret = 0;
out:
	if (held)
		controller_release(svc, "name", req->name);
	kvmap_dispose(&params);
	kvmap_dispose(&mparams);
	controller_volume_params_dispose(&p);
	cloud_tags_dispose(&tags);
	cloud_disk_dispose(&disk);
	want_dispose(&w);
	return ret;
}

int controller_delete_volume(void *svcp, const struct rpc_ctx *rc, const ProtobufCMessage *reqp,
			     ProtobufCMessage **resp, struct status *st)
{
	struct controller_service *svc = svcp;
	const Csi__V1__DeleteVolumeRequest *req = (const Csi__V1__DeleteVolumeRequest *)reqp;
	bool held = false;
	int ret = -1;

	if (controller_check_required(req->volume_id, "volume_id", st) < 0)
		goto out;
	if (controller_id_valid(req->volume_id, "vol-")) {
		if (controller_acquire(svc, "volume", req->volume_id, st) < 0)
			goto out;
		held = true;
		struct status local = STATUS_INIT;
		if (cloud_delete_disk(svc->cloud, rc, req->volume_id, &local) == 0) {
			log_info("volume %s deleted", req->volume_id);
		} else if (local.code == STATUS_NOT_FOUND) {
			/* CSI §DeleteVolume: a volume that does not exist MUST be OK. */
			log_v(2, "volume %s does not exist: nothing to delete", req->volume_id);
		} else {
			status_copy(st, &local);
			controller_fail(st, "delete volume %s", req->volume_id);
			goto out;
		}
	} else {
		log_v(2, "volume id %s cannot be an EBS volume: nothing to delete", req->volume_id);
	}
	Csi__V1__DeleteVolumeResponse *r = xmalloc(sizeof *r);
	csi__v1__delete_volume_response__init(r);
	*resp = &r->base;
	ret = 0;
out:
	if (held)
		controller_release(svc, "volume", req->volume_id);
	return ret;
}
