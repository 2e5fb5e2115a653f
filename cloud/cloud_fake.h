/*
 * cloud_fake: an in-memory struct cloud for the controller's unit tests, with
 * EC2's rules and knobs to make it misbehave.
 *
 * Rules it keeps (aws-facts.md §2, upstream-ebs-csi.md §6): volumes live in
 * zones of one region; a ClientToken is remembered with its parameters (same →
 * same volume; different, or its volume deleted → ALREADY_EXISTS as EC2's
 * IdempotentParameterMismatch); one instance per volume unless multi-attach
 * io2; device names from upstream's list minus those in use; the attachment
 * limit; no delete while attached; volume and instance share a zone; unknown
 * ids are NOT_FOUND.
 * State changes are immediate (creating → available at once), unless a test
 * sets a state by hand, which waiters then poll for until their deadline.
 * Knobs: injected failures per op or any op, delays, call counts, states.
 * Not here: throttling, batching (the AWS implementation's business).
 * Thread-safe: one mutex, never held while sleeping.
 */
#ifndef EBS_CLOUD_CLOUD_FAKE_H
#define EBS_CLOUD_CLOUD_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/cloud.h"

struct cloud_fake;

/* A fake in region us-east-1 with zones us-east-1a/b/c (use1-az1/2/3), no
 * instances, no volumes. Free it with cloud_fake_free or, through the seam,
 * cloud_free(cloud_fake_cloud(f)). */
struct cloud_fake *cloud_fake_new(void);
void cloud_fake_free(struct cloud_fake *f);
/* The seam view of f (borrowed; same lifetime as f). */
struct cloud *cloud_fake_cloud(struct cloud_fake *f);

/* ---- world set-up ------------------------------------------------------------ */

/* Replaces the zones: names[i] with ids[i] (ids may be NULL: "<name>-id"). */
void cloud_fake_set_zones(struct cloud_fake *f, const char *const *names, const char *const *ids, size_t n);
/* Adds a running instance with a root volume mapping at /dev/xvda (no volume
 * behind it). type may be NULL ("m5.large"). */
void cloud_fake_add_instance(struct cloud_fake *f, const char *instance_id, const char *zone, const char *type);
/* Adds a block-device mapping the driver did not make (e.g. from the AMI):
 * device_name is then in use on the instance. */
void cloud_fake_add_instance_device(struct cloud_fake *f, const char *instance_id, const char *device_name,
				   const char *volume_id);
/* Block devices an instance may have, root included (default 28). */
void cloud_fake_set_attach_limit(struct cloud_fake *f, size_t limit);
/* Adds a snapshot directly (state COMPLETED), as if made outside the driver. */
void cloud_fake_add_snapshot(struct cloud_fake *f, const char *snapshot_id, const char *volume_id,
			     int64_t size_gib);

/* ---- state knobs --------------------------------------------------------------- */

/* Sets a volume's state (e.g. CREATING to make create_disk wait). Returns -1
 * when the volume does not exist. */
int cloud_fake_set_disk_state(struct cloud_fake *f, const char *volume_id, enum cloud_disk_state s);
/* Removes a volume behind the driver's back (a bad KMS key's async failure). */
int cloud_fake_remove_disk(struct cloud_fake *f, const char *volume_id);
/* Sets the state of the attachment of volume_id to instance_id (e.g.
 * ATTACHING to simulate a stuck attachment). Returns -1 when there is none. */
int cloud_fake_set_attachment_state(struct cloud_fake *f, const char *volume_id, const char *instance_id,
				    enum cloud_attach_state s);
/* The state new snapshots are created in (default COMPLETED). */
void cloud_fake_set_new_snapshot_state(struct cloud_fake *f, enum cloud_snapshot_state s);
int cloud_fake_set_snapshot_state(struct cloud_fake *f, const char *snapshot_id, enum cloud_snapshot_state s);
/* The state modify_disk leaves a modification in (default COMPLETED);
 * MODIFYING makes modify_disk wait until a test changes it. */
void cloud_fake_set_new_modification_state(struct cloud_fake *f, enum cloud_mod_state s);
int cloud_fake_set_modification_state(struct cloud_fake *f, const char *volume_id, enum cloud_mod_state s);
/* Marks a volume as still initialising (DescribeVolumeStatus). */
int cloud_fake_set_initializing(struct cloud_fake *f, const char *volume_id, bool initializing);
/* Forgets every client token, as EC2 does after some hours. */
void cloud_fake_forget_tokens(struct cloud_fake *f);

/* ---- inspection ------------------------------------------------------------------ */

/* Copies the volume into out (initialised by the call). Returns -1 when absent. */
int cloud_fake_get_disk(struct cloud_fake *f, const char *volume_id, struct cloud_disk *out);
size_t cloud_fake_disk_count(struct cloud_fake *f);
size_t cloud_fake_snapshot_count(struct cloud_fake *f);
/* How many ModifyVolume calls actually changed a volume (modify_disk skips
 * the call when nothing differs). */
unsigned cloud_fake_modify_volume_calls(struct cloud_fake *f);

/* ---- fault injection and counting --------------------------------------------------- */

/* The next call of op (CLOUD_OP_ANY: of whichever op comes first) fails with
 * code and the message; the op does nothing else. Injections for one op
 * queue up: each call consumes one. */
void cloud_fake_fail_next(struct cloud_fake *f, enum cloud_op op, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The next `times` calls of op fail that way. */
void cloud_fake_fail_times(struct cloud_fake *f, enum cloud_op op, unsigned times, int code, const char *msg);
/* Drops every pending injected failure. */
void cloud_fake_clear_failures(struct cloud_fake *f);
/* Every call of op (CLOUD_OP_ANY: every call) first sleeps delay_ms, or until
 * the call's deadline when that comes first, then fails with DEADLINE_EXCEEDED. */
void cloud_fake_set_delay(struct cloud_fake *f, enum cloud_op op, int64_t delay_ms);
/* Calls of op so far, failed ones included (CLOUD_OP_ANY: all ops). */
unsigned cloud_fake_calls(struct cloud_fake *f, enum cloud_op op);
void cloud_fake_reset_calls(struct cloud_fake *f);

#endif
