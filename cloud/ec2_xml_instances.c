/*
 * ec2_xml_instances: responses about instances and the region —
 * DescribeInstances, DescribeInstanceTypes, DescribeAvailabilityZones. See
 * ec2_xml.h.
 *
 * DescribeInstances nests instances two lists deep (reservationSet/item/
 * instancesSet/item); of each instance only what device-name allocation and
 * attach limits need is kept: id, type, zone, state, block-device mappings and
 * the number of network interfaces. The dozens of other members are skipped.
 */
#include "cloud/ec2_xml_internal.h"

#include <stdlib.h>
#include <string.h>

/* Depths in DescribeInstances. */
#define INST 5           /* reservationSet/item/instancesSet/item */

static bool in_instance(const struct ec2_xp *x)
{
	return x->depth >= INST && ec2_xp_is(x, 2, "reservationSet") && ec2_xp_is(x, 4, "instancesSet");
}

static void instances_start(struct ec2_xp *x)
{
	struct cloud_instance_list *l = x->out;
	if (!in_instance(x))
		return;
	if (x->depth == INST) {
		cloud_instance_list_push(l);
		return;
	}
	if (l->n == 0)
		return;
	struct cloud_instance *in = &l->v[l->n - 1];
	if (x->depth == INST + 2 && ec2_xp_is(x, INST + 1, "blockDeviceMapping"))
		cloud_instance_add_device(in);
	else if (x->depth == INST + 2 && ec2_xp_is(x, INST + 1, "networkInterfaceSet"))
		in->n_network_interfaces++;
	else if (ec2_xp_is(x, INST + 1, "tagSet"))
		ec2_xp_tag_start(x, INST + 2);
}

static void instances_end(struct ec2_xp *x)
{
	struct cloud_instance_list *l = x->out;
	static const struct ec2_xf_field token[] = {
		{ "nextToken", EC2_XF_STR, offsetof(struct cloud_instance_list, next_token) },
	};
	static const struct ec2_xf_field inst[] = {
		{ "instanceId", EC2_XF_STR, offsetof(struct cloud_instance, instance_id) },
		{ "instanceType", EC2_XF_STR, offsetof(struct cloud_instance, instance_type) },
		{ "outpostArn", EC2_XF_STR, offsetof(struct cloud_instance, outpost_arn) },
		{ "rootDeviceName", EC2_XF_STR, offsetof(struct cloud_instance, root_device_name) },
		{ "hypervisor", EC2_XF_STR, offsetof(struct cloud_instance, hypervisor) },
	};
	static const struct ec2_xf_field placement[] = {
		{ "availabilityZone", EC2_XF_STR, offsetof(struct cloud_instance, zone) },
		{ "availabilityZoneId", EC2_XF_STR, offsetof(struct cloud_instance, zone_id) },
	};
	static const struct ec2_xf_field state[] = {
		{ "name", EC2_XF_STR, offsetof(struct cloud_instance, state) },
	};
	static const struct ec2_xf_field bdm[] = {
		{ "deviceName", EC2_XF_STR, offsetof(struct cloud_block_device, device_name) },
	};
	static const struct ec2_xf_field ebs[] = {
		{ "volumeId", EC2_XF_STR, offsetof(struct cloud_block_device, volume_id) },
		{ "status", EC2_XF_ATTACH_STATE, offsetof(struct cloud_block_device, state) },
	};
	if (x->depth == 2) {
		EC2_XP_FIELDS(x, token, l);
		return;
	}
	if (!in_instance(x) || x->depth == INST || l->n == 0)
		return;
	struct cloud_instance *in = &l->v[l->n - 1];
	if (x->depth == INST + 1) {
		EC2_XP_FIELDS(x, inst, in);
	} else if (x->depth == INST + 2 && ec2_xp_is(x, INST + 1, "placement")) {
		EC2_XP_FIELDS(x, placement, in);
	} else if (x->depth == INST + 2 && ec2_xp_is(x, INST + 1, "instanceState")) {
		EC2_XP_FIELDS(x, state, in);
	} else if (ec2_xp_is(x, INST + 1, "blockDeviceMapping") && in->n_devices > 0) {
		struct cloud_block_device *d = &in->devices[in->n_devices - 1];
		if (x->depth == INST + 3)
			EC2_XP_FIELDS(x, bdm, d);
		else if (x->depth == INST + 4 && ec2_xp_is(x, INST + 3, "ebs"))
			EC2_XP_FIELDS(x, ebs, d);
	} else if (x->depth > INST + 1 && ec2_xp_is(x, INST + 1, "tagSet")) {
		ec2_xp_tag_end(x, INST + 2, &in->tags);
	}
}

int ec2_xml_describe_instances(const char *body, size_t len, struct cloud_instance_list *out, struct status *st)
{
	cloud_instance_list_init(out);
	struct ec2_xp x = { .action = "DescribeInstances", .on_start = instances_start, .on_end = instances_end,
			    .out = out };
	int rc = ec2_xp_run(&x, body, len, st);
	ec2_xp_drop_empty(&out->next_token);
	return rc;
}

/* ---- DescribeInstanceTypes: instanceTypeSet/item/{..., ebsInfo/..., networkInfo/...} ---- */

static void types_start(struct ec2_xp *x)
{
	if (ec2_xp_item_of(x, "instanceTypeSet"))
		cloud_instance_type_list_push(x->out);
}

static void types_end(struct ec2_xp *x)
{
	struct cloud_instance_type_list *l = x->out;
	static const struct ec2_xf_field token[] = {
		{ "nextToken", EC2_XF_STR, offsetof(struct cloud_instance_type_list, next_token) },
	};
	static const struct ec2_xf_field top[] = {
		{ "instanceType", EC2_XF_STR, offsetof(struct cloud_instance_type, instance_type) },
		{ "hypervisor", EC2_XF_STR, offsetof(struct cloud_instance_type, hypervisor) },
		{ "bareMetal", EC2_XF_BOOL, offsetof(struct cloud_instance_type, bare_metal) },
	};
	static const struct ec2_xf_field ebs[] = {
		{ "nvmeSupport", EC2_XF_STR, offsetof(struct cloud_instance_type, nvme_support) },
		{ "maximumEbsAttachments", EC2_XF_INT, offsetof(struct cloud_instance_type, max_ebs_attachments) },
		{ "attachmentLimitType", EC2_XF_STR, offsetof(struct cloud_instance_type, attachment_limit_type) },
		{ "maximumEbsCards", EC2_XF_INT, offsetof(struct cloud_instance_type, max_ebs_cards) },
	};
	static const struct ec2_xf_field net[] = {
		{ "maximumNetworkInterfaces", EC2_XF_INT,
		  offsetof(struct cloud_instance_type, max_network_interfaces) },
	};
	if (x->depth == 2) {
		EC2_XP_FIELDS(x, token, l);
		return;
	}
	if (!ec2_xp_inside_item_of(x, "instanceTypeSet") || l->n == 0)
		return;
	struct cloud_instance_type *t = &l->v[l->n - 1];
	if (x->depth == 4)
		EC2_XP_FIELDS(x, top, t);
	else if (x->depth == 5 && ec2_xp_is(x, 4, "ebsInfo"))
		EC2_XP_FIELDS(x, ebs, t);
	else if (x->depth == 5 && ec2_xp_is(x, 4, "networkInfo"))
		EC2_XP_FIELDS(x, net, t);
}

int ec2_xml_describe_instance_types(const char *body, size_t len, struct cloud_instance_type_list *out,
				    struct status *st)
{
	cloud_instance_type_list_init(out);
	struct ec2_xp x = { .action = "DescribeInstanceTypes", .on_start = types_start, .on_end = types_end,
			    .out = out };
	int rc = ec2_xp_run(&x, body, len, st);
	ec2_xp_drop_empty(&out->next_token);
	return rc;
}

/* ---- DescribeAvailabilityZones: availabilityZoneInfo/item ---------------------------- */

static void zones_start(struct ec2_xp *x)
{
	if (ec2_xp_item_of(x, "availabilityZoneInfo"))
		cloud_zone_list_push(x->out);
}

static void zones_end(struct ec2_xp *x)
{
	struct cloud_zone_list *l = x->out;
	static const struct ec2_xf_field f[] = {
		{ "zoneName", EC2_XF_STR, offsetof(struct cloud_zone, name) },
		{ "zoneId", EC2_XF_STR, offsetof(struct cloud_zone, zone_id) },
		{ "zoneState", EC2_XF_STR, offsetof(struct cloud_zone, state) },
		{ "regionName", EC2_XF_STR, offsetof(struct cloud_zone, region) },
		{ "zoneType", EC2_XF_STR, offsetof(struct cloud_zone, zone_type) },
	};
	if (x->depth == 4 && ec2_xp_is(x, 2, "availabilityZoneInfo") && l->n > 0)
		EC2_XP_FIELDS(x, f, &l->v[l->n - 1]);
}

int ec2_xml_describe_availability_zones(const char *body, size_t len, struct cloud_zone_list *out,
				       struct status *st)
{
	cloud_zone_list_init(out);
	struct ec2_xp x = { .action = "DescribeAvailabilityZones", .on_start = zones_start, .on_end = zones_end,
			    .out = out };
	return ec2_xp_run(&x, body, len, st);
}
