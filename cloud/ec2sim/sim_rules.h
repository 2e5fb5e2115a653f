/*
 * sim_rules: EC2's rules as pure functions — volume sizes, IOPS and throughput
 * per volume type (aws-facts.md §8.1, the current API limits), the defaults EC2
 * fills in, Multi-Attach eligibility (§8.2), device names EC2 accepts for
 * AttachVolume on Linux (§8.4), resource-ID syntax, and the attachment limit of
 * an instance type (reference/ebs-attach-limits.tsv, a few rows built in).
 *
 * No state, no I/O. Error codes and message texts follow EC2's (the driver
 * matches "is too high; maximum is" to learn the real IOPS maximum).
 */
#ifndef EBS_EC2SIM_SIM_RULES_H
#define EBS_EC2SIM_SIM_RULES_H

#include <stdbool.h>

#include "cloud/ec2sim/sim_state.h"
#include "cloud/ec2sim/sim_xml.h"

/* True for gp2, gp3, io1, io2, st1, sc1, standard. */
bool sim_rules_volume_type_valid(const char *type);

/* Validates a requested volume and fills in EC2's defaults: gp3 3000 IOPS /
 * 125 MiB/s, gp2 3 IOPS per GiB (100..16000), no IOPS for the HDD types.
 * spec->type must be set; has_iops / has_tp say whether the caller sent them
 * (spec->iops / spec->throughput hold the values). Returns 0, or -1 with e:
 * 400 InvalidParameterValue (size, IOPS or throughput out of range, ratio too
 * high), MissingParameter (io1/io2 without Iops), InvalidParameterCombination
 * (Iops or Throughput on a type without them, Multi-Attach outside io1/io2). */
int sim_rules_volume(struct sim_volume_spec *spec, bool has_iops, bool has_tp, struct sim_err *e);

/* True for the names EC2 takes on Linux HVM: /dev/sd[a-z], /dev/sd[a-z][a-z],
 * /dev/xvd[a-z], /dev/xvd[a-z][a-z], /dev/sda1, /dev/sda2, /dev/hd[a-z]. */
bool sim_rules_device_valid(const char *dev);

/* True for "<prefix>-" + 8 or 17 lower-case hex digits ("vol-0123abcd"). */
bool sim_rules_id_valid(const char *prefix, const char *id);

struct sim_instance_type_info {
	const char *hypervisor;     /* "nitro" or "xen" */
	int max_attachments;        /* EBS volumes, root included */
	bool dedicated;             /* false: ENIs beyond the first share the limit */
	int max_enis;
	int vcpus;
	int memory_mib;
	const char *arch;           /* "x86_64" or "arm64" */
};

/* What the simulator knows of an instance type; unknown types get the
 * upstream driver's defaults (Nitro, 27, shared). Never fails. */
void sim_rules_instance_type(const char *type, struct sim_instance_type_info *out);

#endif
