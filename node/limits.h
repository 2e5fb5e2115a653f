/*
 * limits: how many EBS volumes the driver may attach to this node — the
 * max_volumes_per_node NodeGetInfo reports, so the scheduler stops placing pods
 * with EBS volumes on a full node.
 * The computation follows the upstream Go driver (aws-ebs-csi-driver v1.64,
 * pkg/driver/node.go getVolumesLimit; shared/reference/upstream-ebs-csi.md §6.7)
 * so a node reports the same number under either driver. Per-type limits come
 * from a generated, sorted table (node/limits_table.c, tools/gen-limits.py)
 * searched by bisection. Everything is pure: no IMDS, no EC2, no global state.
 * It deliberately does not ask EC2 DescribeInstanceTypes at run time (types
 * newer than the table fall back to upstream's 27 shared) and does not count
 * instance-store NVMe devices: for shared types the table's figure already
 * leaves them out (m5d.large 26 against m5.large 27), as upstream relies on.
 */
#ifndef EBS_NODE_LIMITS_H
#define EBS_NODE_LIMITS_H

#include "common/status.h"

#include <stdbool.h>
#include <stddef.h>

/* Upstream's figures for types missing from the table. */
enum {
	LIMITS_DEFAULT_ATTACHMENTS = 27,  /* unknown type: assumed Nitro, shared */
	LIMITS_XEN_ATTACHMENTS = 39,      /* every Xen type: dedicated */
};

/* ---- the generated table ------------------------------------------------ */

/* Longest instance type name + NUL that the table holds (the generator checks). */
#define LIMITS_TYPE_MAX 24

enum limits_flags {
	LIMITS_SHARED = 0,     /* ENIs (and instance-store NVMe) share the slots */
	LIMITS_DEDICATED = 1,  /* the limit counts EBS volumes only */
	LIMITS_XEN = 2,        /* Xen hypervisor (not Nitro) */
};

struct limits_entry {
	char instance_type[LIMITS_TYPE_MAX];  /* "m7i.large" */
	unsigned short max_attachments;       /* EbsInfo.MaximumEbsAttachments, root volume included */
	unsigned char ebs_cards;              /* EbsInfo.MaximumEbsCards (1 or more) */
	unsigned char flags;                  /* enum limits_flags, or-ed */
};

/* Sorted by strcmp() of instance_type, no duplicates (node/limits_table.c). */
extern const struct limits_entry limits_table[];
extern const size_t limits_table_len;

/* ---- lookups ---------------------------------------------------------------- */

/* Returns the table entry for instance_type (exact, case-sensitive match, as
 * IMDS spells it), or NULL when the type is not in the table or is NULL. The
 * entry is static. O(log n). */
const struct limits_entry *limits_find(const char *instance_type);

/* What upstream's GetVolumeLimits answers for one type. */
struct limits_type {
	int max_attachments;  /* slots, root volume included */
	bool dedicated;       /* false: shared with ENIs */
	bool xen;
	int ebs_cards;
	bool known;           /* false when the fallback (27, shared) was used */
};

/* Fills *out for instance_type: the table entry, else (27, shared, Nitro, one
 * EBS card). NULL or "" take the fallback. Cannot fail. */
void limits_for_type(const char *instance_type, struct limits_type *out);

/* ---- max_volumes_per_node ----------------------------------------------- */

/* Inputs, named after their sources. */
struct limits_node {
	const char *instance_type;   /* IMDS instance-type, or the node label */
	int attached_enis;           /* IMDS network/interfaces/macs count (1 when unknown);
	                                values below 1 count as 1 */
	int block_device_mappings;   /* IMDS block-device-mapping entries "ebs*": EBS volumes
	                                mapped at launch besides the root; below 0 counts as 0 */
	int volume_attach_limit;     /* --volume-attach-limit, -1 when unset */
	int reserved_attachments;    /* --reserved-volume-attachments, -1 when unset */
};

/*
 * Returns max_volumes_per_node, as upstream computes it:
 *   volume_attach_limit >= 0        -> that value, as given (even 0, which
 *                                      Kubernetes reads as "no limit");
 *   limit, kind = limits_for_type(instance_type)
 *   reserved = reserved_attachments >= 0 ? reserved_attachments
 *                                        : block_device_mappings + 1 (root)
 *   avail = limit - reserved
 *   shared kind: avail -= attached_enis - 1 (the first ENI is already out of
 *                the table's figure)
 *   avail < 1 -> 1 (0 would mean "unlimited" to Kubernetes)
 * Pure: same inputs, same answer.
 */
int limits_max_volumes_per_node(const struct limits_node *node);

/* Validates the two flags at start-up. Returns 0, or -1 with
 * STATUS_INVALID_ARGUMENT when both are set (upstream refuses to start too) or
 * when either is below -1 (stricter than upstream, which takes a negative
 * attach limit as unset and a reserved count below -1 as extra slots). */
int limits_check_flags(int volume_attach_limit, int reserved_attachments, struct status *st);

#endif
