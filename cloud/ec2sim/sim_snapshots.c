/*
 * sim_snapshots: CreateSnapshot, DeleteSnapshot, DescribeSnapshots and the
 * fast snapshot restore calls.
 *
 * A snapshot copies the volume's file at the moment of the call (sparse), so
 * it is crash-consistent like an EBS snapshot: what the loop device had
 * written through, not what a filesystem still held in memory. It stays
 * pending for --snapshot-delay-ms. CreateSnapshot has no ClientToken in EC2,
 * and none here.
 */
#include "cloud/ec2sim/sim_ec2.h"

#include "cloud/ec2sim/sim_query.h"
#include "cloud/ec2sim/sim_rules.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_snapshot(struct buf *b, const struct sim_call *c, const struct sim_snapshot *sn)
{
	const struct sim_config *cfg = c->sim->cfg;
	sim_xml_str(b, "snapshotId", sn->id);
	sim_xml_str(b, "volumeId", sn->volume_id);
	sim_xml_str(b, "status", sim_snap_status_name(sn->status));
	sim_xml_time(b, "startTime", sn->start_ms);
	int pct = 100;
	if (sn->status == SIM_SNAP_PENDING && sn->ready_ms > sn->start_ms) {
		long long done = (c->now - sn->start_ms) * 100 / (sn->ready_ms - sn->start_ms);
		pct = done < 0 ? 0 : done > 99 ? 99 : (int)done;
	}
	char p[8];
	snprintf(p, sizeof p, "%d%%", pct);
	sim_xml_str(b, "progress", p);
	sim_xml_str(b, "ownerId", cfg->account_id);
	sim_xml_int(b, "volumeSize", sn->volume_size);
	sim_xml_str(b, "description", sn->description);
	sim_xml_bool(b, "encrypted", sn->encrypted);
	sim_xml_str(b, "kmsKeyId", sn->kms_key_id);
	sim_ec2_write_tags(b, &sn->tags);
	sim_xml_str(b, "storageTier", "standard");
}

static struct sim_snapshot *get_snapshot(struct sim_call *c, const char *id, struct sim_err *e)
{
	if (!sim_rules_id_valid("snap", id)) {
		sim_err_set(e, 400, "InvalidSnapshotID.Malformed", "Invalid id: \"%s\" (expecting \"snap-...\")", id);
		return NULL;
	}
	struct sim_snapshot *sn = sim_state_snapshot(&c->sim->st, id);
	if (sn == NULL)
		sim_err_set(e, 400, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id);
	return sn;
}

int sim_act_create_snapshot(struct sim_call *c, struct sim_err *e)
{
	const struct sim_form *f = c->form;
	const char *vol_id = sim_form_required(f, "VolumeId", e);
	if (vol_id == NULL)
		return -1;
	if (!sim_rules_id_valid("vol", vol_id))
		return sim_err_set(e, 400, "InvalidVolumeID.Malformed", "Invalid id: \"%s\" (expecting \"vol-...\")",
				   vol_id);
	struct sim_volume *v = sim_state_volume(&c->sim->st, vol_id);
	if (v == NULL)
		return sim_err_set(e, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", vol_id);
	if (v->status == SIM_VOL_CREATING)
		return sim_err_set(e, 400, "IncorrectState", "The volume '%s' is still being created.", v->id);
	if (sim_form_get(f, "OutpostArn") != NULL)
		return sim_err_set(e, 400, "UnsupportedOperation", "Outposts are not simulated");
	const char *loc = sim_form_get(f, "Location");
	if (loc != NULL && strcmp(loc, "regional") != 0 && strcmp(loc, "local") != 0)
		return sim_err_value(e, "Value (%s) for parameter location is invalid.", loc);
	const char *desc = sim_form_get(f, "Description");
	if (desc != NULL && strlen(desc) > 255)
		return sim_err_value(e, "Value for parameter description is too long (max 255 characters).");
	struct sim_tags tags = { 0 };
	if (sim_form_tag_specs(f, "snapshot", &tags, e) != 0) {
		sim_tags_dispose(&tags);
		return -1;
	}
	if (c->dry_run) {
		sim_tags_dispose(&tags);
		return sim_err_dry_run(e);
	}
	struct sim_snapshot *sn = sim_snapshot_new();
	char id[40];
	sim_state_new_id(&c->sim->st, "snap", id, sizeof id);
	sn->id = xstrdup(id);
	sn->volume_id = xstrdup(v->id);
	sn->volume_size = v->spec.size;
	sn->description = xstrdup(desc ? desc : "");
	sn->status = SIM_SNAP_PENDING;
	sn->start_ms = c->now;
	sn->ready_ms = c->now + c->sim->cfg->snapshot_delay_ms;
	sn->encrypted = v->encrypted;
	sn->kms_key_id = v->kms_key_id ? xstrdup(v->kms_key_id) : NULL;
	sn->tags = tags;
	struct status st = STATUS_INIT;
	if (sim_data_snapshot(&c->sim->data, v->id, sn->id, &st) != 0) {
		log_error("snapshot %s: %s", v->id, st.msg);
		sim_snapshot_free(sn);
		return sim_err_set(e, 500, "InternalError", "An internal error has occurred");
	}
	sim_state_add_snapshot(&c->sim->st, sn);
	c->mutated = true;
	write_snapshot(c->out, c, sn);
	return 0;
}

int sim_act_delete_snapshot(struct sim_call *c, struct sim_err *e)
{
	const char *id = sim_form_required(c->form, "SnapshotId", e);
	if (id == NULL)
		return -1;
	struct sim_snapshot *sn = get_snapshot(c, id, e);
	if (sn == NULL)
		return -1;
	if (c->dry_run)
		return sim_err_dry_run(e);
	sim_data_delete_snapshot(&c->sim->data, sn->id);
	sim_state_remove_snapshot(&c->sim->st, sn);
	c->mutated = true;
	sim_xml_bool(c->out, "return", true);
	return 0;
}

static const char *const SNAPSHOT_FILTERS[] = { "description", "encrypted", "owner-alias", "owner-id", "progress",
	"snapshot-id", "start-time", "status", "storage-tier", "volume-id", "volume-size", NULL };

static bool snapshot_matches(const struct sim_call *c, const struct sim_snapshot *sn, const struct sim_filters *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		const struct sim_filter *fl = &fs->v[i];
		bool handled;
		bool ok = sim_query_match_tags(fl, &sn->tags, &handled);
		if (!handled) {
			char tmp[40];
			const char *n = fl->name, *val = NULL;
			if (strcmp(n, "description") == 0)
				val = sn->description;
			else if (strcmp(n, "encrypted") == 0)
				val = sn->encrypted ? "true" : "false";
			else if (strcmp(n, "owner-id") == 0)
				val = c->sim->cfg->account_id;
			else if (strcmp(n, "progress") == 0)
				val = sn->status == SIM_SNAP_COMPLETED ? "100%" : "0%";
			else if (strcmp(n, "snapshot-id") == 0)
				val = sn->id;
			else if (strcmp(n, "start-time") == 0) {
				sim_xml_format_time(sn->start_ms, tmp, sizeof tmp);
				val = tmp;
			} else if (strcmp(n, "status") == 0)
				val = sim_snap_status_name(sn->status);
			else if (strcmp(n, "storage-tier") == 0)
				val = "standard";
			else if (strcmp(n, "volume-id") == 0)
				val = sn->volume_id;
			else if (strcmp(n, "volume-size") == 0) {
				snprintf(tmp, sizeof tmp, "%d", sn->volume_size);
				val = tmp;
			}
			ok = sim_query_match(&fl->values, val);  /* owner-alias: none, so no match */
		}
		if (!ok)
			return false;
	}
	return true;
}

static bool owner_matches(const struct sim_call *c, const struct strv *owners)
{
	if (owners->n == 0)
		return true;
	for (size_t i = 0; i < owners->n; i++)
		if (strcmp(owners->v[i], "self") == 0 || strcmp(owners->v[i], c->sim->cfg->account_id) == 0)
			return true;
	return false;
}

static int check_names(const struct sim_filters *fs, const char *const *names, struct sim_err *e)
{
	for (size_t i = 0; i < fs->n; i++) {
		const char *n = fs->v[i].name;
		bool ok = (strncmp(n, "tag:", 4) == 0 && n[4] != '\0') || strcmp(n, "tag-key") == 0;
		for (size_t k = 0; names[k] != NULL && !ok; k++)
			ok = strcmp(names[k], n) == 0;
		if (!ok)
			return sim_err_value(e, "The filter '%s' is invalid", n);
	}
	return 0;
}

int sim_act_describe_snapshots(struct sim_call *c, struct sim_err *e)
{
	struct strv ids, owners;
	strv_init(&ids);
	strv_init(&owners);
	sim_form_list(c->form, "SnapshotId", &ids);
	sim_form_list(c->form, "Owner", &owners);
	struct sim_filters fs = { 0 };
	struct sim_snapshot **sel = NULL;
	char *next = NULL;
	size_t k = 0, start = 0, end = 0;
	int rc = sim_form_filters(c->form, &fs, e);
	if (rc == 0)
		rc = check_names(&fs, SNAPSHOT_FILTERS, e);
	if (rc == 0 && ids.n > 0 && sim_form_get(c->form, "MaxResults") != NULL)
		rc = sim_err_set(e, 400, "InvalidParameterCombination",
				 "The parameter snapshotSet cannot be used with the parameter maxResults");
	for (size_t i = 0; rc == 0 && i < ids.n; i++)
		if (get_snapshot(c, ids.v[i], e) == NULL)
			rc = -1;
	if (rc == 0) {
		sel = xcalloc(c->sim->st.n_snaps + 1, sizeof *sel);
		for (size_t i = 0; i < c->sim->st.n_snaps; i++) {
			struct sim_snapshot *sn = c->sim->st.snaps[i];
			if ((ids.n > 0 && !strv_contains(&ids, sn->id)) || !owner_matches(c, &owners) ||
			    !snapshot_matches(c, sn, &fs))
				continue;
			sel[k++] = sn;
		}
		rc = sim_query_page_by_id((void **)sel, k, c->form, 5, 1000, &start, &end, &next, e);
	}
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 0) {
		sim_xml_open(c->out, "snapshotSet");
		for (size_t i = start; i < end; i++) {
			sim_xml_open(c->out, "item");
			write_snapshot(c->out, c, sel[i]);
			sim_xml_close(c->out, "item");
		}
		sim_xml_close(c->out, "snapshotSet");
		sim_xml_str(c->out, "nextToken", next);
	}
	free(next);
	free(sel);
	sim_filters_dispose(&fs);
	strv_dispose(&ids);
	strv_dispose(&owners);
	return rc;
}

/* The zones named by AvailabilityZone.N and AvailabilityZoneId.N (as names). */
static int fsr_zones(struct sim_call *c, struct strv *zones, struct sim_err *e)
{
	const struct sim_config *cfg = c->sim->cfg;
	struct strv names, zids;
	strv_init(&names);
	strv_init(&zids);
	sim_form_list(c->form, "AvailabilityZone", &names);
	sim_form_list(c->form, "AvailabilityZoneId", &zids);
	int rc = 0;
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		if (sim_config_zone(cfg, names.v[i]) == NULL)
			rc = sim_err_value(e, "Invalid availability zone: [%s]", names.v[i]);
		else
			strv_push(zones, names.v[i]);
	}
	for (size_t i = 0; i < zids.n && rc == 0; i++) {
		const char *found = NULL;
		for (size_t z = 0; z < cfg->n_zones && !found; z++)
			if (strcmp(cfg->zones[z].id, zids.v[i]) == 0)
				found = cfg->zones[z].name;
		if (found == NULL)
			rc = sim_err_value(e, "Invalid availability zone ID: [%s]", zids.v[i]);
		else
			strv_push(zones, found);
	}
	if (rc == 0 && zones->n == 0)
		rc = sim_err_set(e, 400, "MissingParameter", "The request must contain the parameter AvailabilityZone");
	strv_uniq(zones);
	strv_dispose(&names);
	strv_dispose(&zids);
	return rc;
}

static int fsr_change(struct sim_call *c, bool enable, struct sim_err *e)
{
	struct strv zones, snaps;
	strv_init(&zones);
	strv_init(&snaps);
	sim_form_list(c->form, "SourceSnapshotId", &snaps);
	int rc = fsr_zones(c, &zones, e);
	if (rc == 0 && snaps.n == 0)
		rc = sim_err_set(e, 400, "MissingParameter", "The request must contain the parameter SourceSnapshotId");
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc != 0)
		goto out;
	struct buf bad;
	buf_init(&bad);
	sim_xml_open(c->out, "successful");
	for (size_t i = 0; i < snaps.n; i++) {
		struct sim_snapshot *sn = sim_state_snapshot(&c->sim->st, snaps.v[i]);
		if (sn == NULL) {
			buf_puts(&bad, "<item>");
			sim_xml_str(&bad, "snapshotId", snaps.v[i]);
			buf_puts(&bad, "<fastSnapshotRestoreStateErrorSet>");
			for (size_t z = 0; z < zones.n; z++) {
				buf_puts(&bad, "<item>");
				sim_xml_str(&bad, "availabilityZone", zones.v[z]);
				buf_puts(&bad, "<error><code>InvalidSnapshot.NotFound</code><message>The snapshot does not "
					       "exist.</message></error></item>");
			}
			buf_puts(&bad, "</fastSnapshotRestoreStateErrorSet></item>");
			continue;
		}
		for (size_t z = 0; z < zones.n; z++) {
			bool has = strv_contains(&sn->fsr_azs, zones.v[z]);
			if (enable && !has) {
				strv_push(&sn->fsr_azs, zones.v[z]);
				sn->fsr_ms = c->now;
				c->mutated = true;
			} else if (!enable && has) {
				struct strv keep;
				strv_init(&keep);
				for (size_t k = 0; k < sn->fsr_azs.n; k++)
					if (strcmp(sn->fsr_azs.v[k], zones.v[z]) != 0)
						strv_push(&keep, sn->fsr_azs.v[k]);
				strv_dispose(&sn->fsr_azs);
				sn->fsr_azs = keep;
				c->mutated = true;
			}
			sim_xml_open(c->out, "item");
			sim_xml_str(c->out, "snapshotId", sn->id);
			sim_xml_str(c->out, "availabilityZone", zones.v[z]);
			sim_xml_str(c->out, "state", enable ? "enabling" : "disabling");
			sim_xml_str(c->out, "ownerId", c->sim->cfg->account_id);
			sim_xml_time(c->out, enable ? "enablingTime" : "disablingTime", c->now);
			sim_xml_close(c->out, "item");
		}
	}
	sim_xml_close(c->out, "successful");
	sim_xml_open(c->out, "unsuccessful");
	buf_append(c->out, bad.data, bad.len);
	sim_xml_close(c->out, "unsuccessful");
	buf_dispose(&bad);
out:
	strv_dispose(&zones);
	strv_dispose(&snaps);
	return rc;
}

int sim_act_enable_fsr(struct sim_call *c, struct sim_err *e)
{
	return fsr_change(c, true, e);
}

int sim_act_disable_fsr(struct sim_call *c, struct sim_err *e)
{
	return fsr_change(c, false, e);
}

int sim_act_describe_fsr(struct sim_call *c, struct sim_err *e)
{
	static const char *const names[] = { "availability-zone", "owner-id", "snapshot-id", "state", NULL };
	struct sim_filters fs = { 0 };
	if (sim_form_filters(c->form, &fs, e) != 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < fs.n && rc == 0; i++) {
		bool ok = false;
		for (size_t k = 0; names[k] && !ok; k++)
			ok = strcmp(names[k], fs.v[i].name) == 0;
		if (!ok)
			rc = sim_err_value(e, "The filter '%s' is invalid", fs.v[i].name);
	}
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 0) {
		sim_xml_open(c->out, "fastSnapshotRestoreSet");
		for (size_t i = 0; i < c->sim->st.n_snaps; i++) {
			const struct sim_snapshot *sn = c->sim->st.snaps[i];
			for (size_t z = 0; z < sn->fsr_azs.n; z++) {
				bool ok = true;
				for (size_t k = 0; k < fs.n && ok; k++) {
					const char *n = fs.v[k].name;
					const char *val = strcmp(n, "availability-zone") == 0 ? sn->fsr_azs.v[z]
							  : strcmp(n, "owner-id") == 0        ? c->sim->cfg->account_id
							  : strcmp(n, "snapshot-id") == 0     ? sn->id
											      : "enabled";
					ok = sim_query_match(&fs.v[k].values, val);
				}
				if (!ok)
					continue;
				sim_xml_open(c->out, "item");
				sim_xml_str(c->out, "snapshotId", sn->id);
				sim_xml_str(c->out, "availabilityZone", sn->fsr_azs.v[z]);
				sim_xml_str(c->out, "state", "enabled");
				sim_xml_str(c->out, "ownerId", c->sim->cfg->account_id);
				sim_xml_time(c->out, "enablingTime", sn->fsr_ms);
				sim_xml_time(c->out, "enabledTime", sn->fsr_ms);
				sim_xml_close(c->out, "item");
			}
		}
		sim_xml_close(c->out, "fastSnapshotRestoreSet");
	}
	sim_filters_dispose(&fs);
	return rc;
}
