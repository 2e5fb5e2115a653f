/*
 * sim_attach: AttachVolume and DetachVolume.
 *
 * EC2's rules (aws-facts.md §2.2, §8.2, §8.4): the volume must exist, be
 * available (not creating) and sit in the instance's zone
 * (InvalidVolume.ZoneMismatch); one attachment unless Multi-Attach (io1/io2,
 * at most 16 instances, never twice to one); the device name must be valid and
 * free on the instance, the root device included ("…is already in use", the
 * text the upstream driver matches); the instance's attachment limit holds.
 * Detach: a Multi-Attach volume with several attachments needs InstanceId;
 * detaching a volume that is not attached is IncorrectState; a second detach
 * returns the detaching attachment. Force skips the busy check of the data
 * path and also ends a stuck attach.
 */
#include "cloud/ec2sim/sim_ec2.h"

#include "cloud/ec2sim/sim_rules.h"

#include <string.h>

static int instance_attachments(const struct sim_state *st, const char *instance_id)
{
	int n = 0;
	for (size_t i = 0; i < st->n_vols; i++)
		if (sim_volume_attachment(st->vols[i], instance_id) != NULL)
			n++;
	return n;
}

static bool device_in_use(const struct sim_state *st, const struct sim_instance *in, const char *device)
{
	if (strcmp(in->root_device, device) == 0)
		return true;
	for (size_t i = 0; i < st->n_vols; i++) {
		const struct sim_attachment *a = sim_volume_attachment(st->vols[i], in->id);
		if (a != NULL && strcmp(a->device, device) == 0)
			return true;
	}
	return false;
}

static const struct sim_instance *get_instance(struct sim_call *c, const char *id, struct sim_err *e)
{
	if (strncmp(id, "i-", 2) != 0 || id[2] == '\0') {
		sim_err_set(e, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id);
		return NULL;
	}
	const struct sim_instance *in = sim_config_instance(c->sim->cfg, id);
	if (in == NULL)
		sim_err_set(e, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id);
	return in;
}

static struct sim_volume *get_volume(struct sim_call *c, const char *id, struct sim_err *e)
{
	if (!sim_rules_id_valid("vol", id)) {
		sim_err_set(e, 400, "InvalidVolumeID.Malformed", "Invalid id: \"%s\" (expecting \"vol-...\")", id);
		return NULL;
	}
	struct sim_volume *v = sim_state_volume(&c->sim->st, id);
	if (v == NULL)
		sim_err_set(e, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id);
	return v;
}

int sim_act_attach_volume(struct sim_call *c, struct sim_err *e)
{
	const struct sim_form *f = c->form;
	const char *vol_id = sim_form_required(f, "VolumeId", e);
	const char *inst_id = vol_id ? sim_form_required(f, "InstanceId", e) : NULL;
	const char *device = inst_id ? sim_form_required(f, "Device", e) : NULL;
	if (device == NULL)
		return -1;
	long long card = 0;
	if (sim_form_int(f, "EbsCardIndex", 0, 0, &card, NULL, e) != 0)
		return -1;
	struct sim_volume *v = get_volume(c, vol_id, e);
	if (v == NULL)
		return -1;
	const struct sim_instance *in = get_instance(c, inst_id, e);
	if (in == NULL)
		return -1;
	if (!sim_rules_device_valid(device))
		return sim_err_value(e, "Value (%s) for parameter device is invalid. %s is not a valid EBS device name.",
				     device, device);
	if (v->status == SIM_VOL_CREATING)
		return sim_err_set(e, 400, "IncorrectState", "vol '%s' is not 'available'.", v->id);
	if (strcmp(v->az, in->az) != 0)
		return sim_err_set(e, 400, "InvalidVolume.ZoneMismatch",
				   "The volume '%s' is not in the same availability zone as instance '%s'", v->id, in->id);
	if (sim_volume_attachment(v, in->id) != NULL)
		return sim_err_set(e, 400, "VolumeInUse", "%s is already attached to an instance", v->id);
	if (v->n_att > 0 && !v->spec.multi_attach)
		return sim_err_set(e, 400, "VolumeInUse", "%s is already attached to an instance", v->id);
	if (v->n_att >= 16)
		return sim_err_set(e, 400, "AttachmentLimitExceeded",
				   "A Multi-Attach volume can be attached to at most 16 instances");
	if (device_in_use(&c->sim->st, in, device))
		return sim_err_value(e, "Invalid value '%s' for unixDevice. Attachment point %s is already in use",
				     device, device);
	struct sim_instance_type_info ti;
	sim_rules_instance_type(in->type, &ti);
	/* Root and launch-time volumes count; on shared types ENIs beyond the first too. */
	int used = 1 + in->n_ebs + instance_attachments(&c->sim->st, in->id) + (ti.dedicated ? 0 : in->n_enis - 1);
	if (used >= ti.max_attachments)
		return sim_err_set(e, 400, "AttachmentLimitExceeded",
				   "You've reached the limit on the number of volumes that can be attached to %s (%d)",
				   in->id, ti.max_attachments);
	if (c->dry_run)
		return sim_err_dry_run(e);
	struct sim_attachment *a = sim_volume_add_attachment(v, in->id, device);
	a->status = SIM_ATT_ATTACHING;
	a->attach_ms = c->now;
	a->due_ms = c->now + c->sim->cfg->attach_delay_ms;
	struct sim_fault_config fc;
	sim_faults_get(&c->sim->faults, &fc);
	a->stuck = sim_faults_draw(&c->sim->faults, fc.stuck_attach_rate);
	c->mutated = true;
	sim_ec2_write_attachment(c->out, v->id, a);
	return 0;
}

int sim_act_detach_volume(struct sim_call *c, struct sim_err *e)
{
	const struct sim_form *f = c->form;
	const char *vol_id = sim_form_required(f, "VolumeId", e);
	if (vol_id == NULL)
		return -1;
	bool force = false;
	if (sim_form_bool(f, "Force", &force, NULL, e) != 0)
		return -1;
	const char *inst_id = sim_form_get(f, "InstanceId"), *device = sim_form_get(f, "Device");
	struct sim_volume *v = get_volume(c, vol_id, e);
	if (v == NULL)
		return -1;
	if (inst_id != NULL && get_instance(c, inst_id, e) == NULL)
		return -1;
	if (v->n_att == 0)
		return sim_err_set(e, 400, "IncorrectState", "Volume '%s' is in the '%s' state.", v->id,
				   sim_volume_status_name(v));
	struct sim_attachment *a = NULL;
	if (inst_id != NULL) {
		a = sim_volume_attachment(v, inst_id);
		if (a == NULL)
			return sim_err_set(e, 400, "InvalidAttachment.NotFound",
					   "The volume '%s' is not attached to instance '%s'", v->id, inst_id);
	} else if (v->n_att > 1) {
		return sim_err_set(e, 400, "InvalidParameterCombination",
				   "The volume %s is attached to several instances; InstanceId is required", v->id);
	} else {
		a = &v->att[0];
	}
	if (device != NULL && strcmp(device, a->device) != 0)
		return sim_err_set(e, 400, "InvalidAttachment.NotFound",
				   "The volume '%s' is not attached to '%s' as '%s'", v->id, a->instance_id, device);
	if (c->dry_run)
		return sim_err_dry_run(e);
	if (a->status == SIM_ATT_ATTACHING || a->status == SIM_ATT_ATTACHED) {
		a->status = SIM_ATT_DETACHING;
		a->due_ms = c->now + c->sim->cfg->detach_delay_ms;
		c->mutated = true;
	}
	if (force && !a->force) {
		a->force = true;
		a->stuck = false;
		a->due_ms = c->now;
		c->mutated = true;
	}
	/* A detach of an attachment that never reached attached has no device to release. */
	sim_ec2_write_attachment(c->out, v->id, a);
	return 0;
}
