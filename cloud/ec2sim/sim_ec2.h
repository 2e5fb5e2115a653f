/*
 * sim_ec2: the EC2 Query API of the simulator — the action table (name,
 * handler, allowed parameters) and the dispatcher that runs one authenticated
 * call: Version check, UnknownParameter, throttling, injected 5xx, then the
 * handler under the state lock, the state file written before the answer.
 *
 * The handlers (sim_volumes.c, sim_attach.c, sim_snapshots.c, sim_modify.c,
 * sim_instances.c, sim_tags.c) share struct sim_call: they validate, check
 * DryRun last (EC2 validates a DryRun request fully), mutate c->sim->st, set
 * c->mutated, and write the members of the response (inside the root element)
 * to c->out. They fail with struct sim_err and change nothing on failure.
 */
#ifndef EBS_EC2SIM_SIM_EC2_H
#define EBS_EC2SIM_SIM_EC2_H

#include <stdbool.h>
#include <stdint.h>

#include "cloud/ec2sim/sim.h"
#include "cloud/ec2sim/sim_form.h"
#include "cloud/ec2sim/sim_xml.h"
#include "common/buf.h"

struct sim_call {
	struct sim *sim;
	const struct sim_form *form;
	const char *action;
	int64_t now;
	bool dry_run;
	bool mutated;     /* set by a handler that changed the state */
	struct buf *out;  /* response members */
};

/* Runs one EC2 call whose signature has been verified. Writes the complete
 * XML document (success or error) into resp and the outcome ("ok" or the error
 * code) into outcome; *action gets the action name (static or from f, valid
 * while f lives; NULL when absent). Returns the HTTP status. */
int sim_ec2_handle(struct sim *s, const struct sim_form *f, const char *request_id, struct buf *resp,
		   const char **action, char *outcome, size_t outcome_cap);

/* Writes the members of an EC2 Volume (volumeId … tagSet) for v. */
void sim_ec2_write_volume(struct buf *b, const struct sim_call *c, const struct sim_volume *v);
/* Writes a VolumeAttachment's members. */
void sim_ec2_write_attachment(struct buf *b, const char *volume_id, const struct sim_attachment *a);
void sim_ec2_write_tags(struct buf *b, const struct sim_tags *t);

/* Handlers. */
int sim_act_create_volume(struct sim_call *c, struct sim_err *e);
int sim_act_copy_volumes(struct sim_call *c, struct sim_err *e);
int sim_act_delete_volume(struct sim_call *c, struct sim_err *e);
int sim_act_describe_volumes(struct sim_call *c, struct sim_err *e);
int sim_act_describe_volume_status(struct sim_call *c, struct sim_err *e);
int sim_act_attach_volume(struct sim_call *c, struct sim_err *e);
int sim_act_detach_volume(struct sim_call *c, struct sim_err *e);
int sim_act_create_snapshot(struct sim_call *c, struct sim_err *e);
int sim_act_delete_snapshot(struct sim_call *c, struct sim_err *e);
int sim_act_describe_snapshots(struct sim_call *c, struct sim_err *e);
int sim_act_enable_fsr(struct sim_call *c, struct sim_err *e);
int sim_act_disable_fsr(struct sim_call *c, struct sim_err *e);
int sim_act_describe_fsr(struct sim_call *c, struct sim_err *e);
int sim_act_modify_volume(struct sim_call *c, struct sim_err *e);
int sim_act_describe_volumes_modifications(struct sim_call *c, struct sim_err *e);
int sim_act_describe_instances(struct sim_call *c, struct sim_err *e);
int sim_act_describe_instance_types(struct sim_call *c, struct sim_err *e);
int sim_act_describe_availability_zones(struct sim_call *c, struct sim_err *e);
int sim_act_create_tags(struct sim_call *c, struct sim_err *e);
int sim_act_delete_tags(struct sim_call *c, struct sim_err *e);
int sim_act_describe_tags(struct sim_call *c, struct sim_err *e);

#endif
