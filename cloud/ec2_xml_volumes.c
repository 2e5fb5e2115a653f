/*
 * ec2_xml_volumes: responses about volumes — CreateVolume, CopyVolumes,
 * DescribeVolumes, AttachVolume/DetachVolume, ModifyVolume,
 * DescribeVolumesModifications, DescribeVolumeStatus. See ec2_xml.h.
 *
 * Each action is a pair of callbacks that find their place by depth: list
 * items of root/<set> open a new element of the out-list (depth 3), and what is
 * below goes to the sub-parser of that object with base depth 3. Anything else
 * is ignored, which is what keeps new EC2 fields harmless.
 */
#include "cloud/ec2_xml_internal.h"

#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* ---- CreateVolume: the Volume is the root ----------------------------------- */

static void create_volume_start(struct ec2_xp *x)
{
	ec2_xp_volume_start(x, 1, x->out);
}

static void create_volume_end(struct ec2_xp *x)
{
	ec2_xp_volume_end(x, 1, x->out);
}

int ec2_xml_create_volume(const char *body, size_t len, struct cloud_disk *out, struct status *st)
{
	cloud_disk_init(out);
	struct ec2_xp x = { .action = "CreateVolume", .on_start = create_volume_start, .on_end = create_volume_end,
			    .out = out };
	return ec2_xp_run(&x, body, len, st);
}

/* ---- DescribeVolumes, CopyVolumes: volumeSet ----------------------------------- */

static void volume_set_start(struct ec2_xp *x)
{
	struct cloud_disk_list *l = x->out;
	if (ec2_xp_item_of(x, "volumeSet"))
		cloud_disk_list_push(l);
	else if (ec2_xp_inside_item_of(x, "volumeSet") && l->n > 0)
		ec2_xp_volume_start(x, 3, &l->v[l->n - 1]);
}

static void volume_set_end(struct ec2_xp *x)
{
	struct cloud_disk_list *l = x->out;
	static const struct ec2_xf_field token[] = {
		{ "nextToken", EC2_XF_STR, offsetof(struct cloud_disk_list, next_token) },
	};
	if (x->depth == 2)
		EC2_XP_FIELDS(x, token, l);
	else if (ec2_xp_inside_item_of(x, "volumeSet") && l->n > 0)
		ec2_xp_volume_end(x, 3, &l->v[l->n - 1]);
}

static int volume_set(const char *action, const char *body, size_t len, struct cloud_disk_list *out,
		      struct status *st)
{
	cloud_disk_list_init(out);
	struct ec2_xp x = { .action = action, .on_start = volume_set_start, .on_end = volume_set_end, .out = out };
	int rc = ec2_xp_run(&x, body, len, st);
	ec2_xp_drop_empty(&out->next_token);
	return rc;
}

int ec2_xml_describe_volumes(const char *body, size_t len, struct cloud_disk_list *out, struct status *st)
{
	return volume_set("DescribeVolumes", body, len, out, st);
}

int ec2_xml_copy_volumes(const char *body, size_t len, struct cloud_disk_list *out, struct status *st)
{
	return volume_set("CopyVolumes", body, len, out, st);
}

/* ---- AttachVolume / DetachVolume: the VolumeAttachment is the root ------------------ */

static void attachment_end(struct ec2_xp *x)
{
	ec2_xp_attachment_end(x, 1, x->out);
}

int ec2_xml_attachment(const char *action, const char *body, size_t len, struct cloud_attachment *out,
		       struct status *st)
{
	cloud_attachment_init(out);
	struct ec2_xp x = { .action = action, .on_end = attachment_end, .out = out };
	return ec2_xp_run(&x, body, len, st);
}

/* ---- ModifyVolume: root/volumeModification ---------------------------------------- */

static void modify_end(struct ec2_xp *x)
{
	if (x->depth > 2 && ec2_xp_is(x, 2, "volumeModification"))
		ec2_xp_modification_end(x, 2, x->out);
}

int ec2_xml_modify_volume(const char *body, size_t len, struct cloud_modification *out, struct status *st)
{
	cloud_modification_init(out);
	struct ec2_xp x = { .action = "ModifyVolume", .on_end = modify_end, .out = out };
	return ec2_xp_run(&x, body, len, st);
}

/* ---- DescribeVolumesModifications: volumeModificationSet ------------------------------ */

static void mods_start(struct ec2_xp *x)
{
	if (ec2_xp_item_of(x, "volumeModificationSet"))
		cloud_modification_list_push(x->out);
}

static void mods_end(struct ec2_xp *x)
{
	struct cloud_modification_list *l = x->out;
	static const struct ec2_xf_field token[] = {
		{ "nextToken", EC2_XF_STR, offsetof(struct cloud_modification_list, next_token) },
	};
	if (x->depth == 2)
		EC2_XP_FIELDS(x, token, l);
	else if (ec2_xp_inside_item_of(x, "volumeModificationSet") && l->n > 0)
		ec2_xp_modification_end(x, 3, &l->v[l->n - 1]);
}

int ec2_xml_describe_volumes_modifications(const char *body, size_t len, struct cloud_modification_list *out,
					   struct status *st)
{
	cloud_modification_list_init(out);
	struct ec2_xp x = { .action = "DescribeVolumesModifications", .on_start = mods_start, .on_end = mods_end,
			    .out = out };
	int rc = ec2_xp_run(&x, body, len, st);
	ec2_xp_drop_empty(&out->next_token);
	return rc;
}

/* ---- DescribeVolumeStatus: volumeStatusSet ---------------------------------------------- */

/* item (3) / volumeStatus (4) / details (5) / item (6) / name|status (7):
 * the detail's name and status are kept in s1/s2 until the detail item ends. */
static void status_start(struct ec2_xp *x)
{
	if (ec2_xp_item_of(x, "volumeStatusSet")) {
		cloud_volume_status_list_push(x->out);
	} else if (x->depth == 6 && ec2_xp_is(x, 4, "volumeStatus") && ec2_xp_is(x, 5, "details")) {
		free(x->s1);
		free(x->s2);
		x->s1 = x->s2 = NULL;
	}
}

static void status_end(struct ec2_xp *x)
{
	struct cloud_volume_status_list *l = x->out;
	static const struct ec2_xf_field token[] = {
		{ "nextToken", EC2_XF_STR, offsetof(struct cloud_volume_status_list, next_token) },
	};
	static const struct ec2_xf_field item[] = {
		{ "volumeId", EC2_XF_STR, offsetof(struct cloud_volume_status, volume_id) },
		{ "availabilityZone", EC2_XF_STR, offsetof(struct cloud_volume_status, zone) },
	};
	static const struct ec2_xf_field vstatus[] = {
		{ "status", EC2_XF_STR, offsetof(struct cloud_volume_status, status) },
	};
	static const struct ec2_xf_field init[] = {
		{ "initializationType", EC2_XF_STR, offsetof(struct cloud_volume_status, initialization_type) },
		{ "progress", EC2_XF_I64, offsetof(struct cloud_volume_status, initialization_progress) },
		{ "estimatedTimeToCompleteInSeconds", EC2_XF_I64,
		  offsetof(struct cloud_volume_status, initialization_eta_s) },
	};
	static const struct ec2_xf_field detail[] = {
		{ "name", EC2_XF_STR, offsetof(struct ec2_xp, s1) },
		{ "status", EC2_XF_STR, offsetof(struct ec2_xp, s2) },
	};
	if (x->depth == 2) {
		EC2_XP_FIELDS(x, token, l);
		return;
	}
	if (!ec2_xp_inside_item_of(x, "volumeStatusSet") || l->n == 0)
		return;
	struct cloud_volume_status *s = &l->v[l->n - 1];
	if (x->depth == 4) {
		EC2_XP_FIELDS(x, item, s);
	} else if (x->depth == 5 && ec2_xp_is(x, 4, "volumeStatus")) {
		EC2_XP_FIELDS(x, vstatus, s);
	} else if (x->depth == 5 && ec2_xp_is(x, 4, "initializationStatusDetails")) {
		EC2_XP_FIELDS(x, init, s);
	} else if (x->depth == 7 && ec2_xp_is(x, 4, "volumeStatus") && ec2_xp_is(x, 5, "details")) {
		EC2_XP_FIELDS(x, detail, x);
	} else if (x->depth == 6 && ec2_xp_is(x, 4, "volumeStatus") && ec2_xp_is(x, 5, "details")) {
		if (x->s1 && x->s2 && strcmp(x->s1, "initialization-state") == 0)
			s->initializing = strcmp(x->s2, "initializing") == 0;
	}
}

int ec2_xml_describe_volume_status(const char *body, size_t len, struct cloud_volume_status_list *out,
				   struct status *st)
{
	cloud_volume_status_list_init(out);
	struct ec2_xp x = { .action = "DescribeVolumeStatus", .on_start = status_start, .on_end = status_end,
			    .out = out };
	int rc = ec2_xp_run(&x, body, len, st);
	ec2_xp_drop_empty(&out->next_token);
	return rc;
}
