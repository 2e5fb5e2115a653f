/*
 * limits: max_volumes_per_node from the generated per-type table. See limits.h
 * for the formula and where it comes from.
 *
 * Where this follows upstream (aws-ebs-csi-driver v1.64) exactly: the override
 * short-circuit, the table-or-(27, shared) lookup with Xen types at 39
 * dedicated, reserved = block-device mappings + 1 unless the flag is set, ENIs
 * beyond the first taken from shared limits only, and the floor of 1.
 * Where it guards more: an ENI count below 1 (an IMDS answer gone wrong) counts
 * as 1 instead of adding slots, a negative mapping count as 0, and a negative
 * reserved flag as unset. Upstream's Snowball (SBE) and HyperPod special cases
 * are out of scope: this driver runs on EC2 only.
 */
#include "node/limits.h"

#include <stdlib.h>
#include <string.h>

static int entry_cmp(const void *key, const void *elem)
{
	const struct limits_entry *e = elem;
	return strcmp(key, e->instance_type);
}

const struct limits_entry *limits_find(const char *instance_type)
{
	if (instance_type == NULL)
		return NULL;
	return bsearch(instance_type, limits_table, limits_table_len, sizeof limits_table[0], entry_cmp);
}

void limits_for_type(const char *instance_type, struct limits_type *out)
{
	const struct limits_entry *e = limits_find(instance_type);
	if (e == NULL) {
		/* Upstream: "anything else -> (27, shared)". Types launched after the
		 * table was generated are almost all Nitro; 27 is the documented
		 * 28-slot Nitro limit less the primary ENI. */
		*out = (struct limits_type){
			.max_attachments = LIMITS_DEFAULT_ATTACHMENTS,
			.dedicated = false,
			.xen = false,
			.ebs_cards = 1,
			.known = false,
		};
		return;
	}
	*out = (struct limits_type){
		.max_attachments = e->max_attachments,
		.dedicated = (e->flags & LIMITS_DEDICATED) != 0,
		.xen = (e->flags & LIMITS_XEN) != 0,
		.ebs_cards = e->ebs_cards,
		.known = true,
	};
}

int limits_max_volumes_per_node(const struct limits_node *node)
{
	if (node->volume_attach_limit >= 0)
		return node->volume_attach_limit;

	struct limits_type t;
	limits_for_type(node->instance_type, &t);

	/* long throughout: a huge flag or IMDS count must not overflow before the floor. */
	long reserved;
	if (node->reserved_attachments >= 0) {
		reserved = node->reserved_attachments;
	} else {
		int bdm = node->block_device_mappings > 0 ? node->block_device_mappings : 0;
		reserved = (long)bdm + 1; /* + the root volume, which IMDS lists as "ami"/"root", not "ebsN" */
	}

	long avail = (long)t.max_attachments - reserved;
	if (!t.dedicated) {
		int enis = node->attached_enis > 1 ? node->attached_enis : 1;
		avail -= (long)enis - 1;
	}
	/* CSI: max_volumes_per_node 0 means "no limit" to the CO, so a node with
	 * no free slot still reports 1 (upstream does the same). */
	if (avail < 1)
		avail = 1;
	return (int)avail;
}

int limits_check_flags(int volume_attach_limit, int reserved_attachments, struct status *st)
{
	if (volume_attach_limit < -1)
		return status_set(st, STATUS_INVALID_ARGUMENT, "--volume-attach-limit must be -1 (unset) or >= 0, not %d",
				  volume_attach_limit);
	if (reserved_attachments < -1)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "--reserved-volume-attachments must be -1 (unset) or >= 0, not %d", reserved_attachments);
	if (volume_attach_limit != -1 && reserved_attachments != -1)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "--volume-attach-limit and --reserved-volume-attachments are mutually exclusive");
	return 0;
}
