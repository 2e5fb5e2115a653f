/*
 * instance_info: what the node service needs to know about the EC2 instance it
 * runs on, as plain data. cmd/ fills it from IMDS (cloud/imds) or, when IMDS is
 * unreachable, from the Kubernetes Node object; node/ only reads it. Keeping it
 * in common/ lets node/ stay ignorant of how it was learned.
 * Strings are NUL-terminated and empty when unknown.
 */
#ifndef EBS_COMMON_INSTANCE_INFO_H
#define EBS_COMMON_INSTANCE_INFO_H

struct instance_info {
	char instance_id[64];         /* "i-0123456789abcdef0" (CSI node_id) */
	char instance_type[64];       /* "m5.large" */
	char region[32];              /* "us-east-1" */
	char availability_zone[32];   /* "us-east-1a" */
	char availability_zone_id[32];/* "use1-az1" */
	char outpost_arn[256];        /* "" unless the instance runs on an Outpost */
	int network_interfaces;       /* attached ENIs, >= 1 when known, 0 unknown */
	int ebs_block_devices;        /* EBS block-device mappings at launch (root included), -1 unknown */
};

#endif
