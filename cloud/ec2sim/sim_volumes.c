/*
 * sim_volumes: CreateVolume, CopyVolumes, DeleteVolume, DescribeVolumes and
 * DescribeVolumeStatus.
 *
 * ClientToken (aws-facts.md §2.3): a token seen before with the same
 * parameters returns the volume it made, without acting again; with other
 * parameters — the Availability Zone excepted, as the EC2 idempotency page
 * says — it is IdempotentParameterMismatch. A deleted volume with a token
 * stays as a tombstone for an hour so that a late retry still finds it.
 * Deleting a volume removes its file; an attached volume cannot be deleted
 * (VolumeInUse).
 */
#include "cloud/ec2sim/sim_ec2.h"

#include "cloud/ec2sim/sim_query.h"
#include "cloud/ec2sim/sim_rules.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const FINGERPRINT_SKIP[] = { "Action", "Version", "ClientToken", "DryRun", "AvailabilityZone",
	"AvailabilityZoneId", NULL };

static int check_volume_id(const char *id, struct sim_err *e)
{
	if (!sim_rules_id_valid("vol", id))
		return sim_err_set(e, 400, "InvalidVolumeID.Malformed", "Invalid id: \"%s\" (expecting \"vol-...\")", id);
	return 0;
}

/* The live volume id, or NULL with InvalidVolumeID.Malformed / InvalidVolume.NotFound. */
static struct sim_volume *get_volume(struct sim_call *c, const char *id, struct sim_err *e)
{
	if (check_volume_id(id, e) != 0)
		return NULL;
	struct sim_volume *v = sim_state_volume(&c->sim->st, id);
	if (v == NULL)
		sim_err_set(e, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id);
	return v;
}

static char *default_kms_key(const struct sim_call *c)
{
	return xasprintf("arn:aws:kms:%s:%s:key/00000000-0000-4000-8000-0000000e5e00", c->sim->cfg->region,
			 c->sim->cfg->account_id);
}

/* Looks the ClientToken up. Returns 1 and writes the earlier volume when it
 * was used with the same parameters, 0 when it is new, -1 on mismatch. */
static int replay_token(struct sim_call *c, const char *token, char **fingerprint, const struct sim_volume **prev,
			struct sim_err *e)
{
	*fingerprint = sim_form_fingerprint(c->form, FINGERPRINT_SKIP);
	*prev = NULL;
	if (token == NULL)
		return 0;
	if (*token == '\0' || strlen(token) > 64)
		return sim_err_value(e, "Value (%s) for parameter clientToken is invalid. It must be 1-64 ASCII "
				     "characters.", token);
	const struct sim_token *t = sim_state_token(&c->sim->st, c->action, token);
	if (t == NULL)
		return 0;
	if (strcmp(t->fingerprint, *fingerprint) != 0)
		return sim_err_set(e, 400, "IdempotentParameterMismatch",
				   "The client token '%s' is already in use with different parameters.", token);
	*prev = sim_state_volume_any(&c->sim->st, t->resource_id);
	if (*prev == NULL)
		return sim_err_set(e, 400, "IdempotentParameterMismatch",
				   "The client token '%s' belongs to a resource that no longer exists.", token);
	return 1;
}

static int volume_spec_from_form(struct sim_call *c, struct sim_volume_spec *sp, const char *default_type,
				 int default_size, int min_size, struct sim_err *e)
{
	const struct sim_form *f = c->form;
	const char *type = sim_form_get(f, "VolumeType");
	sp->type = xstrdup(type ? type : default_type);
	if (!sim_rules_volume_type_valid(sp->type))
		return sim_err_value(e, "Value (%s) for parameter volumeType is invalid. Valid values: standard, io1, "
				     "io2, gp2, sc1, st1, gp3", sp->type);
	long long size = 0, iops = 0, tp = 0;
	bool has_size, has_iops, has_tp;
	if (sim_form_int(f, "Size", 1, 1 << 30, &size, &has_size, e) != 0 ||
	    sim_form_int(f, "Iops", 0, 1 << 30, &iops, &has_iops, e) != 0 ||
	    sim_form_int(f, "Throughput", 0, 1 << 30, &tp, &has_tp, e) != 0 ||
	    sim_form_bool(f, "MultiAttachEnabled", &sp->multi_attach, NULL, e) != 0)
		return -1;
	if (!has_size) {
		if (default_size <= 0)
			return sim_err_set(e, 400, "MissingParameter",
					   "The request must contain the parameter size or snapshotId");
		size = default_size;
	}
	if (size < min_size)
		return sim_err_value(e, "Volume of %lldGiB is smaller than its source, expect size >= %dGiB", size,
				     min_size);
	sp->size = (int)size;
	sp->iops = (int)iops;
	sp->throughput = (int)tp;
	return sim_rules_volume(sp, has_iops, has_tp, e);
}

static struct sim_volume *new_volume(struct sim_call *c, const char *az)
{
	struct sim_volume *v = sim_volume_new();
	char id[40];
	sim_state_new_id(&c->sim->st, "vol", id, sizeof id);
	v->id = xstrdup(id);
	v->az = xstrdup(az);
	v->status = SIM_VOL_CREATING;
	v->create_ms = c->now;
	v->ready_ms = c->now + c->sim->cfg->create_delay_ms;
	return v;
}

int sim_act_create_volume(struct sim_call *c, struct sim_err *e)
{
	const struct sim_form *f = c->form;
	const struct sim_config *cfg = c->sim->cfg;
	const char *az = sim_form_get(f, "AvailabilityZone"), *azid = sim_form_get(f, "AvailabilityZoneId");
	if (az != NULL && azid != NULL)
		return sim_err_set(e, 400, "InvalidParameterCombination",
				   "Only one of AvailabilityZone or AvailabilityZoneId may be given");
	if (az == NULL && azid == NULL)
		return sim_err_set(e, 400, "MissingParameter", "The request must contain the parameter AvailabilityZone");
	if (azid != NULL) {
		for (size_t i = 0; i < cfg->n_zones && az == NULL; i++)
			if (strcmp(cfg->zones[i].id, azid) == 0)
				az = cfg->zones[i].name;
		if (az == NULL)
			return sim_err_value(e, "Invalid availability zone ID: [%s]", azid);
	} else if (sim_config_zone(cfg, az) == NULL) {
		return sim_err_value(e, "Invalid availability zone: [%s]", az);
	}
	if (sim_form_get(f, "OutpostArn") != NULL)
		return sim_err_set(e, 400, "UnsupportedOperation", "Outposts are not simulated");

	const struct sim_snapshot *snap = NULL;
	const char *snap_id = sim_form_get(f, "SnapshotId");
	if (snap_id != NULL && *snap_id != '\0') {
		if (!sim_rules_id_valid("snap", snap_id))
			return sim_err_set(e, 400, "InvalidSnapshotID.Malformed", "Invalid id: \"%s\"", snap_id);
		snap = sim_state_snapshot(&c->sim->st, snap_id);
		if (snap == NULL)
			return sim_err_set(e, 400, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", snap_id);
		if (snap->status != SIM_SNAP_COMPLETED)
			return sim_err_set(e, 400, "IncorrectState", "Snapshot is in invalid state - %s",
					   sim_snap_status_name(snap->status));
	}
	bool encrypted = false;
	if (sim_form_bool(f, "Encrypted", &encrypted, NULL, e) != 0)
		return -1;
	const char *kms = sim_form_get(f, "KmsKeyId");
	if (kms != NULL && !encrypted)
		return sim_err_set(e, 400, "InvalidParameterDependency",
				   "The parameter KmsKeyId requires the parameter Encrypted to be set.");
	struct sim_volume_spec spec = { 0 };
	struct sim_tags tags = { 0 };
	char *fp = NULL;
	const struct sim_volume *prev;
	const char *token = sim_form_get(f, "ClientToken");
	int rc = volume_spec_from_form(c, &spec, "gp2", snap ? snap->volume_size : 0, snap ? snap->volume_size : 1, e);
	if (rc == 0)
		rc = sim_form_tag_specs(f, "volume", &tags, e);
	if (rc == 0)
		rc = replay_token(c, token, &fp, &prev, e);
	if (rc == 1) {
		if (c->dry_run) {
			rc = sim_err_dry_run(e);
		} else {
			sim_ec2_write_volume(c->out, c, prev);
			rc = 0;
		}
		goto out;
	}
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc != 0)
		goto out;
	struct sim_volume *v = new_volume(c, az);
	v->spec = spec;
	spec.type = NULL;
	v->encrypted = encrypted || (snap != NULL && snap->encrypted);
	if (v->encrypted)
		v->kms_key_id = kms ? xstrdup(kms) : snap && snap->kms_key_id ? xstrdup(snap->kms_key_id) : default_kms_key(c);
	v->snapshot_id = snap ? xstrdup(snap->id) : NULL;
	v->tags = tags;
	tags.v = NULL;
	tags.n = 0;
	struct status st = STATUS_INIT;
	if (sim_data_create_volume(&c->sim->data, v->id, v->spec.size, v->snapshot_id, NULL, &st) != 0) {
		log_error("create %s: %s", v->id, st.msg);
		sim_volume_free(v);
		rc = sim_err_set(e, 500, "InternalError", "An internal error has occurred");
		goto out;
	}
	sim_state_add_volume(&c->sim->st, v);
	if (token != NULL)
		sim_state_add_token(&c->sim->st, c->action, token, fp, v->id);
	c->mutated = true;
	sim_ec2_write_volume(c->out, c, v);
out:
	sim_spec_dispose(&spec);
	sim_tags_dispose(&tags);
	free(fp);
	return rc;
}

int sim_act_copy_volumes(struct sim_call *c, struct sim_err *e)
{
	const struct sim_form *f = c->form;
	const char *src_id = sim_form_required(f, "SourceVolumeId", e);
	if (src_id == NULL)
		return -1;
	struct sim_volume *src = get_volume(c, src_id, e);
	if (src == NULL)
		return -1;
	if (src->status == SIM_VOL_CREATING)
		return sim_err_set(e, 400, "IncorrectState", "The volume '%s' is not in a copyable state (creating).",
				   src->id);
	struct sim_volume_spec spec = { 0 };
	struct sim_tags tags = { 0 };
	char *fp = NULL;
	const struct sim_volume *prev;
	const char *token = sim_form_get(f, "ClientToken");
	int rc = volume_spec_from_form(c, &spec, src->spec.type, src->spec.size, src->spec.size, e);
	if (rc == 0)
		rc = sim_form_tag_specs(f, "volume", &tags, e);
	if (rc == 0)
		rc = replay_token(c, token, &fp, &prev, e);
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 1 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc < 0)
		goto out;
	sim_xml_open(c->out, "volumeSet");
	sim_xml_open(c->out, "item");
	if (rc == 1) {
		sim_ec2_write_volume(c->out, c, prev);
		rc = 0;
	} else {
		struct sim_volume *v = new_volume(c, src->az);
		v->spec = spec;
		spec.type = NULL;
		v->encrypted = src->encrypted;
		v->kms_key_id = src->kms_key_id ? xstrdup(src->kms_key_id) : NULL;
		v->source_volume_id = xstrdup(src->id);
		v->tags = tags;
		tags.v = NULL;
		tags.n = 0;
		struct status st = STATUS_INIT;
		if (sim_data_create_volume(&c->sim->data, v->id, v->spec.size, NULL, src->id, &st) != 0) {
			log_error("copy %s: %s", src->id, st.msg);
			sim_volume_free(v);
			buf_reset(c->out);
			rc = sim_err_set(e, 500, "InternalError", "An internal error has occurred");
			goto out;
		}
		sim_state_add_volume(&c->sim->st, v);
		if (token != NULL)
			sim_state_add_token(&c->sim->st, c->action, token, fp, v->id);
		c->mutated = true;
		sim_ec2_write_volume(c->out, c, v);
	}
	sim_xml_close(c->out, "item");
	sim_xml_close(c->out, "volumeSet");
out:
	sim_spec_dispose(&spec);
	sim_tags_dispose(&tags);
	free(fp);
	return rc;
}

int sim_act_delete_volume(struct sim_call *c, struct sim_err *e)
{
	const char *id = sim_form_required(c->form, "VolumeId", e);
	if (id == NULL)
		return -1;
	struct sim_volume *v = get_volume(c, id, e);
	if (v == NULL)
		return -1;
	if (v->n_att > 0)
		return sim_err_set(e, 400, "VolumeInUse", "Volume %s is currently attached to %s", v->id,
				   v->att[0].instance_id);
	if (c->dry_run)
		return sim_err_dry_run(e);
	sim_data_delete_volume(&c->sim->data, v->id);
	bool has_token = false;
	for (size_t i = 0; i < c->sim->st.n_tokens && !has_token; i++)
		has_token = strcmp(c->sim->st.tokens[i].resource_id, v->id) == 0;
	if (has_token) {
		v->status = SIM_VOL_DELETED;
		v->deleted_ms = c->now;
	} else {
		sim_state_remove_volume(&c->sim->st, v);
	}
	c->mutated = true;
	sim_xml_bool(c->out, "return", true);
	return 0;
}

static const char *const VOLUME_FILTERS[] = { "volume-id", "status", "availability-zone", "availability-zone-id",
	"volume-type", "size", "snapshot-id", "encrypted", "multi-attach-enabled", "fast-restored", "create-time",
	"attachment.instance-id", "attachment.status", "attachment.device", "attachment.attach-time",
	"attachment.delete-on-termination", NULL };

static int check_filter_names(const struct sim_filters *fs, const char *const *names, bool tags, struct sim_err *e)
{
	for (size_t i = 0; i < fs->n; i++) {
		const char *n = fs->v[i].name;
		bool ok = tags && ((strncmp(n, "tag:", 4) == 0 && n[4] != '\0') || strcmp(n, "tag-key") == 0);
		for (size_t k = 0; names[k] != NULL && !ok; k++)
			ok = strcmp(names[k], n) == 0;
		if (!ok)
			return sim_err_value(e, "The filter '%s' is invalid", n);
	}
	return 0;
}

static bool match_attachment_filter(const struct sim_filter *fl, const struct sim_volume *v)
{
	for (size_t i = 0; i < v->n_att; i++) {
		const struct sim_attachment *a = &v->att[i];
		char ts[40];
		sim_xml_format_time(a->attach_ms, ts, sizeof ts);
		const char *val = strcmp(fl->name, "attachment.instance-id") == 0 ? a->instance_id
				  : strcmp(fl->name, "attachment.status") == 0    ? sim_att_status_name(a->status)
				  : strcmp(fl->name, "attachment.device") == 0    ? a->device
				  : strcmp(fl->name, "attachment.attach-time") == 0 ? ts
										    : "false";
		if (sim_query_match(&fl->values, val))
			return true;
	}
	return false;
}

static bool volume_matches(const struct sim_call *c, const struct sim_volume *v, const struct sim_filters *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		const struct sim_filter *fl = &fs->v[i];
		bool handled;
		bool ok = sim_query_match_tags(fl, &v->tags, &handled);
		if (!handled) {
			char num[32], ts[40];
			const struct sim_zone *z = sim_config_zone(c->sim->cfg, v->az);
			const char *n = fl->name;
			if (strncmp(n, "attachment.", 11) == 0) {
				ok = match_attachment_filter(fl, v);
			} else {
				const char *val = NULL;
				if (strcmp(n, "volume-id") == 0)
					val = v->id;
				else if (strcmp(n, "status") == 0)
					val = sim_volume_status_name(v);
				else if (strcmp(n, "availability-zone") == 0)
					val = v->az;
				else if (strcmp(n, "availability-zone-id") == 0)
					val = z ? z->id : NULL;
				else if (strcmp(n, "volume-type") == 0)
					val = v->spec.type;
				else if (strcmp(n, "size") == 0) {
					snprintf(num, sizeof num, "%d", v->spec.size);
					val = num;
				}
				else if (strcmp(n, "snapshot-id") == 0)
					val = v->snapshot_id ? v->snapshot_id : "";
				else if (strcmp(n, "encrypted") == 0)
					val = v->encrypted ? "true" : "false";
				else if (strcmp(n, "multi-attach-enabled") == 0)
					val = v->spec.multi_attach ? "true" : "false";
				else if (strcmp(n, "fast-restored") == 0)
					val = "false";
				else if (strcmp(n, "create-time") == 0) {
					sim_xml_format_time(v->create_ms, ts, sizeof ts);
					val = ts;
				} else
					continue;  /* validated elsewhere (DescribeVolumeStatus) */
				ok = sim_query_match(&fl->values, val);
			}
		}
		if (!ok)
			return false;
	}
	return true;
}

/* Collects the volumes a Describe call names (VolumeId.N, all NotFound
 * reported) or, without IDs, every live volume; then applies the filters.
 * Returns a heap array (sim_query_page_by_id sorts it), or -1. */
static int select_volumes(struct sim_call *c, const char *const *filter_names, struct sim_volume ***out, size_t *n,
			  struct sim_err *e)
{
	*out = NULL;
	*n = 0;
	struct strv ids;
	strv_init(&ids);
	sim_form_list(c->form, "VolumeId", &ids);
	struct sim_filters fs = { 0 };
	int rc = sim_form_filters(c->form, &fs, e);
	if (rc == 0)
		rc = check_filter_names(&fs, filter_names, true, e);
	if (rc == 0 && ids.n > 0 && sim_form_get(c->form, "MaxResults") != NULL)
		rc = sim_err_set(e, 400, "InvalidParameterCombination",
				 "The parameter volumeSet cannot be used with the parameter maxResults");
	struct buf missing;
	buf_init(&missing);
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		rc = check_volume_id(ids.v[i], e);
		if (rc == 0 && sim_state_volume(&c->sim->st, ids.v[i]) == NULL)
			buf_printf(&missing, "%s%s", missing.len ? ", " : "", ids.v[i]);
	}
	if (rc == 0 && missing.len > 0)
		rc = sim_err_set(e, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", missing.data);
	buf_dispose(&missing);
	if (rc == 0) {
		struct sim_volume **sel = xcalloc(c->sim->st.n_vols + 1, sizeof *sel);
		size_t k = 0;
		for (size_t i = 0; i < c->sim->st.n_vols; i++) {
			struct sim_volume *v = c->sim->st.vols[i];
			if (v->status == SIM_VOL_DELETED || (ids.n > 0 && !strv_contains(&ids, v->id)))
				continue;
			if (volume_matches(c, v, &fs))
				sel[k++] = v;
		}
		*out = sel;
		*n = k;
	}
	sim_filters_dispose(&fs);
	strv_dispose(&ids);
	return rc;
}

int sim_act_describe_volumes(struct sim_call *c, struct sim_err *e)
{
	struct sim_volume **sel;
	size_t n, start, end;
	char *next = NULL;
	if (select_volumes(c, VOLUME_FILTERS, &sel, &n, e) != 0)
		return -1;
	int rc = sim_query_page_by_id((void **)sel, n, c->form, 5, 500, &start, &end, &next, e);
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 0) {
		sim_xml_open(c->out, "volumeSet");
		for (size_t i = start; i < end; i++) {
			sim_xml_open(c->out, "item");
			sim_ec2_write_volume(c->out, c, sel[i]);
			sim_xml_close(c->out, "item");
		}
		sim_xml_close(c->out, "volumeSet");
		sim_xml_str(c->out, "nextToken", next);
	}
	free(next);
	free(sel);
	return rc;
}

static const char *const STATUS_FILTERS[] = { "volume-id", "availability-zone", "volume-status.status",
	"volume-status.details-name", "volume-status.details-status", "action.code", "event.event-type", NULL };

int sim_act_describe_volume_status(struct sim_call *c, struct sim_err *e)
{
	/* Every simulated volume is healthy and has no events or actions, so the
	 * status filters either keep every volume or none. */
	struct sim_filters fs = { 0 };
	if (sim_form_filters(c->form, &fs, e) != 0)
		return -1;
	bool none = false;
	for (size_t i = 0; i < fs.n; i++) {
		const char *n = fs.v[i].name;
		const char *healthy = strcmp(n, "volume-status.status") == 0         ? "ok"
				      : strcmp(n, "volume-status.details-name") == 0   ? "io-enabled"
				      : strcmp(n, "volume-status.details-status") == 0 ? "passed"
											 : NULL;
		if (healthy != NULL && !sim_query_match(&fs.v[i].values, healthy))
			none = true;
		if (strcmp(n, "action.code") == 0 || strcmp(n, "event.event-type") == 0)
			none = true;
	}
	sim_filters_dispose(&fs);
	struct sim_volume **sel;
	size_t n, start, end;
	char *next = NULL;
	if (select_volumes(c, STATUS_FILTERS, &sel, &n, e) != 0)
		return -1;
	int rc = sim_query_page_by_id((void **)sel, none ? 0 : n, c->form, 5, 1000, &start, &end, &next, e);
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 0) {
		sim_xml_open(c->out, "volumeStatusSet");
		for (size_t i = start; i < end; i++) {
			sim_xml_open(c->out, "item");
			sim_xml_str(c->out, "volumeId", sel[i]->id);
			sim_xml_str(c->out, "availabilityZone", sel[i]->az);
			buf_puts(c->out, "<volumeStatus><status>ok</status><details>"
					 "<item><name>io-enabled</name><status>passed</status></item>"
					 "<item><name>io-performance</name><status>not-applicable</status></item>"
					 "</details></volumeStatus><eventsSet/><actionsSet/>");
			sim_xml_close(c->out, "item");
		}
		sim_xml_close(c->out, "volumeStatusSet");
		sim_xml_str(c->out, "nextToken", next);
	}
	free(next);
	free(sel);
	return rc;
}
