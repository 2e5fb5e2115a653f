/*
 * sim_modify: ModifyVolume and DescribeVolumesModifications (Elastic Volumes).
 *
 * A modification runs modifying → optimizing → completed on the configured
 * delays; the volume takes its new size and performance when optimizing
 * begins (that is when the driver may grow the filesystem), and the loop
 * device learns the new size then. A second modification before the first is
 * completed is IncorrectModificationState. Sizes never shrink. Unchanged IOPS
 * or throughput carry over when the type stays; a type change gets the new
 * type's defaults unless given.
 */
#include "cloud/ec2sim/sim_ec2.h"

#include "cloud/ec2sim/sim_query.h"
#include "cloud/ec2sim/sim_rules.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_spec(struct buf *b, const char *prefix, const struct sim_volume_spec *sp)
{
	char n[64];
	snprintf(n, sizeof n, "%sSize", prefix);
	sim_xml_int(b, n, sp->size);
	if (sp->iops > 0) {
		snprintf(n, sizeof n, "%sIops", prefix);
		sim_xml_int(b, n, sp->iops);
	}
	snprintf(n, sizeof n, "%sVolumeType", prefix);
	sim_xml_str(b, n, sp->type);
	if (sp->throughput > 0) {
		snprintf(n, sizeof n, "%sThroughput", prefix);
		sim_xml_int(b, n, sp->throughput);
	}
	snprintf(n, sizeof n, "%sMultiAttachEnabled", prefix);
	sim_xml_bool(b, n, sp->multi_attach);
}

static void write_modification(struct buf *b, const struct sim_volume *v)
{
	const struct sim_modification *m = &v->mod;
	sim_xml_str(b, "volumeId", v->id);
	sim_xml_str(b, "modificationState", sim_mod_state_name(m->state));
	write_spec(b, "target", &m->target);
	write_spec(b, "original", &m->orig);
	sim_xml_int(b, "progress", m->state == SIM_MOD_COMPLETED ? 100 : m->state == SIM_MOD_OPTIMIZING ? 50 : 0);
	sim_xml_time(b, "startTime", m->start_ms);
	if (m->state == SIM_MOD_COMPLETED)
		sim_xml_time(b, "endTime", m->end_ms);
}

int sim_act_modify_volume(struct sim_call *c, struct sim_err *e)
{
	const struct sim_form *f = c->form;
	const char *id = sim_form_required(f, "VolumeId", e);
	if (id == NULL)
		return -1;
	if (!sim_rules_id_valid("vol", id))
		return sim_err_set(e, 400, "InvalidVolumeID.Malformed", "Invalid id: \"%s\" (expecting \"vol-...\")", id);
	struct sim_volume *v = sim_state_volume(&c->sim->st, id);
	if (v == NULL)
		return sim_err_set(e, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id);
	if (v->status == SIM_VOL_CREATING)
		return sim_err_set(e, 400, "IncorrectState", "The volume '%s' is not in the available or in-use state.",
				   v->id);
	if (v->mod.state == SIM_MOD_MODIFYING || v->mod.state == SIM_MOD_OPTIMIZING)
		return sim_err_set(e, 400, "IncorrectModificationState",
				   "Volume %s is currently being modified (%s); wait until it is completed.", v->id,
				   sim_mod_state_name(v->mod.state));
	long long size = 0, iops = 0, tp = 0;
	bool has_size, has_iops, has_tp, has_multi, multi = false;
	if (sim_form_int(f, "Size", 1, 1 << 30, &size, &has_size, e) != 0 ||
	    sim_form_int(f, "Iops", 0, 1 << 30, &iops, &has_iops, e) != 0 ||
	    sim_form_int(f, "Throughput", 0, 1 << 30, &tp, &has_tp, e) != 0 ||
	    sim_form_bool(f, "MultiAttachEnabled", &multi, &has_multi, e) != 0)
		return -1;
	const char *type = sim_form_get(f, "VolumeType");
	if (!has_size && !has_iops && !has_tp && !has_multi && type == NULL)
		return sim_err_set(e, 400, "MissingParameter",
				   "The request must contain at least one of Size, VolumeType, Iops, Throughput or "
				   "MultiAttachEnabled");
	if (has_size && size < v->spec.size)
		return sim_err_value(e, "New size %lld GiB cannot be smaller than the existing size %d GiB.", size,
				     v->spec.size);
	struct sim_volume_spec t = { 0 };
	t.type = xstrdup(type ? type : v->spec.type);
	bool same_type = strcmp(t.type, v->spec.type) == 0;
	t.size = has_size ? (int)size : v->spec.size;
	t.iops = has_iops ? (int)iops : v->spec.iops;
	t.throughput = has_tp ? (int)tp : v->spec.throughput;
	t.multi_attach = has_multi ? multi : v->spec.multi_attach;
	/* Carry IOPS over within a type that has settable IOPS (not gp2, whose IOPS follow the size). */
	bool keep_iops = same_type && (strcmp(t.type, "gp3") == 0 || strcmp(t.type, "io1") == 0 ||
				       strcmp(t.type, "io2") == 0);
	bool keep_tp = same_type && strcmp(t.type, "gp3") == 0;
	int rc = sim_rules_volume(&t, has_iops || keep_iops, has_tp || keep_tp, e);
	if (rc == 0 && has_multi && multi != v->spec.multi_attach) {
		if (strcmp(t.type, "io2") != 0)
			rc = sim_err_set(e, 400, "InvalidParameterCombination",
					 "Multi-Attach can be changed only on io2 volumes");
		else if (multi && v->n_att > 0)
			rc = sim_err_set(e, 400, "InvalidParameterCombination",
					 "Multi-Attach can be enabled only while the volume is not attached");
		else if (!multi && v->n_att > 1)
			rc = sim_err_set(e, 400, "InvalidParameterCombination",
					 "Multi-Attach can be disabled only while attached to at most one instance");
	}
	if (rc == 0 && t.size == v->spec.size && same_type && t.iops == v->spec.iops &&
	    t.throughput == v->spec.throughput && t.multi_attach == v->spec.multi_attach)
		rc = sim_err_set(e, 400, "InvalidParameterCombination",
				 "The volume %s already has the requested size, type, IOPS and throughput", v->id);
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc != 0) {
		sim_spec_dispose(&t);
		return rc;
	}
	struct sim_modification *m = &v->mod;
	sim_spec_dispose(&m->orig);
	sim_spec_dispose(&m->target);
	sim_spec_copy(&m->orig, &v->spec);
	m->target = t;
	m->state = SIM_MOD_MODIFYING;
	m->start_ms = c->now;
	m->optimizing_ms = c->now + c->sim->cfg->modify_delay_ms;
	m->end_ms = m->optimizing_ms + c->sim->cfg->optimize_delay_ms;
	c->mutated = true;
	sim_xml_open(c->out, "volumeModification");
	write_modification(c->out, v);
	sim_xml_close(c->out, "volumeModification");
	return 0;
}

static const char *mod_field(const struct sim_volume *v, const char *name, char *tmp, size_t cap)
{
	const struct sim_modification *m = &v->mod;
	if (strcmp(name, "modification-state") == 0)
		return sim_mod_state_name(m->state);
	if (strcmp(name, "volume-id") == 0)
		return v->id;
	const struct sim_volume_spec *sp = strncmp(name, "target-", 7) == 0 ? &m->target : &m->orig;
	const char *field = strchr(name, '-') + 1;
	if (strcmp(field, "size") == 0)
		snprintf(tmp, cap, "%d", sp->size);
	else if (strcmp(field, "iops") == 0)
		snprintf(tmp, cap, "%d", sp->iops);
	else if (strcmp(field, "volume-type") == 0)
		return sp->type;
	else if (strcmp(field, "throughput") == 0)
		snprintf(tmp, cap, "%d", sp->throughput);
	else if (strcmp(field, "multi-attach-enabled") == 0)
		return sp->multi_attach ? "true" : "false";
	else
		sim_xml_format_time(m->start_ms, tmp, cap);  /* start-time */
	return tmp;
}

int sim_act_describe_volumes_modifications(struct sim_call *c, struct sim_err *e)
{
	static const char *const names[] = { "modification-state", "volume-id", "target-size", "target-iops",
		"target-volume-type", "target-throughput", "target-multi-attach-enabled", "original-size",
		"original-iops", "original-volume-type", "original-throughput", "original-multi-attach-enabled",
		"start-time", NULL };
	struct strv ids;
	strv_init(&ids);
	sim_form_list(c->form, "VolumeId", &ids);
	struct sim_filters fs = { 0 };
	int rc = sim_form_filters(c->form, &fs, e);
	for (size_t i = 0; rc == 0 && i < fs.n; i++) {
		bool ok = false;
		for (size_t k = 0; names[k] && !ok; k++)
			ok = strcmp(names[k], fs.v[i].name) == 0;
		if (!ok)
			rc = sim_err_value(e, "The filter '%s' is invalid", fs.v[i].name);
	}
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		const struct sim_volume *v = sim_state_volume(&c->sim->st, ids.v[i]);
		if (!sim_rules_id_valid("vol", ids.v[i]))
			rc = sim_err_set(e, 400, "InvalidVolumeID.Malformed", "Invalid id: \"%s\"", ids.v[i]);
		else if (v == NULL)
			rc = sim_err_set(e, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", ids.v[i]);
		else if (v->mod.state == SIM_MOD_NONE)
			rc = sim_err_set(e, 400, "InvalidVolumeModification.NotFound",
					 "Modification for volume '%s' does not exist.", ids.v[i]);
	}
	struct sim_volume **sel = NULL;
	size_t k = 0, start = 0, end = 0;
	char *next = NULL;
	if (rc == 0) {
		sel = xcalloc(c->sim->st.n_vols + 1, sizeof *sel);
		for (size_t i = 0; i < c->sim->st.n_vols; i++) {
			struct sim_volume *v = c->sim->st.vols[i];
			if (v->status == SIM_VOL_DELETED || v->mod.state == SIM_MOD_NONE ||
			    (ids.n > 0 && !strv_contains(&ids, v->id)))
				continue;
			bool ok = true;
			for (size_t j = 0; j < fs.n && ok; j++) {
				char tmp[40];
				ok = sim_query_match(&fs.v[j].values, mod_field(v, fs.v[j].name, tmp, sizeof tmp));
			}
			if (ok)
				sel[k++] = v;
		}
		rc = sim_query_page_by_id((void **)sel, k, c->form, 1, 500, &start, &end, &next, e);
	}
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 0) {
		sim_xml_open(c->out, "volumeModificationSet");
		for (size_t i = start; i < end; i++) {
			sim_xml_open(c->out, "item");
			write_modification(c->out, sel[i]);
			sim_xml_close(c->out, "item");
		}
		sim_xml_close(c->out, "volumeModificationSet");
		sim_xml_str(c->out, "nextToken", next);
	}
	free(next);
	free(sel);
	sim_filters_dispose(&fs);
	strv_dispose(&ids);
	return rc;
}
