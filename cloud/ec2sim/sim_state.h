/*
 * sim_state: the simulator's world as plain data — volumes with their
 * attachments and latest modification, snapshots, ClientToken records — and
 * the small operations on it (lookup, tags, ID generation, freeing).
 *
 * Pure: no clock (times are passed in as milliseconds since the epoch), no
 * locking (the caller holds the simulator lock), no I/O. Transitions that take
 * time are stored as due times, so a restarted simulator resumes them from the
 * state file. Invariants: every string is a heap string owned by its struct;
 * volume and snapshot arrays hold pointers, so a pointer stays valid until the
 * object is removed; a volume's "in-use" status is derived from its
 * attachments, never stored; deleted volumes linger only as tombstones for
 * their ClientToken and are invisible to every lookup except sim_state_volume_any.
 */
#ifndef EBS_EC2SIM_SIM_STATE_H
#define EBS_EC2SIM_SIM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strv.h"

struct sim_tag {
	char *key;
	char *value;  /* "" when the tag has no value; never NULL */
};

struct sim_tags {
	struct sim_tag *v;
	size_t n;
};

/* Attachment states; "detached" means the attachment is gone from the list. */
enum sim_att_status { SIM_ATT_ATTACHING = 0, SIM_ATT_ATTACHED, SIM_ATT_DETACHING, SIM_ATT_BUSY };

struct sim_attachment {
	char *instance_id;
	char *device;
	int status;           /* enum sim_att_status */
	int64_t attach_ms;
	int64_t due_ms;       /* when attaching/detaching completes */
	bool stuck;           /* fault: stays attaching until a forced detach */
	bool force;           /* detach ignores a busy device */
	char *loop_dev;       /* runtime only (not persisted): /dev/loopN in --attach=loop */
};

enum sim_vol_status { SIM_VOL_CREATING = 0, SIM_VOL_AVAILABLE, SIM_VOL_DELETED };
enum sim_mod_state { SIM_MOD_NONE = 0, SIM_MOD_MODIFYING, SIM_MOD_OPTIMIZING, SIM_MOD_COMPLETED, SIM_MOD_FAILED };

struct sim_volume_spec {
	char *type;       /* gp2, gp3, io1, io2, st1, sc1, standard */
	int size;         /* GiB */
	int iops;         /* 0 when the type has none */
	int throughput;   /* MiB/s, gp3 only; 0 otherwise */
	bool multi_attach;
};

struct sim_modification {
	int state;                       /* enum sim_mod_state; NONE: never modified */
	struct sim_volume_spec orig, target;
	int64_t start_ms;
	int64_t optimizing_ms;           /* due: modifying → optimizing (the new size applies) */
	int64_t end_ms;                  /* due: optimizing → completed */
};

struct sim_volume {
	char *id;
	char *az;
	struct sim_volume_spec spec;
	bool encrypted;
	char *kms_key_id;          /* NULL when not encrypted */
	char *snapshot_id;         /* NULL when not from a snapshot */
	char *source_volume_id;    /* NULL unless made by CopyVolumes */
	int status;                /* enum sim_vol_status */
	int64_t create_ms;
	int64_t ready_ms;          /* due: creating → available */
	int64_t deleted_ms;        /* tombstones only */
	struct sim_tags tags;
	struct sim_attachment *att;
	size_t n_att;
	struct sim_modification mod;
};

enum sim_snap_status { SIM_SNAP_PENDING = 0, SIM_SNAP_COMPLETED, SIM_SNAP_ERROR };

struct sim_snapshot {
	char *id;
	char *volume_id;
	int volume_size;
	char *description;          /* "" when none */
	int status;                 /* enum sim_snap_status */
	int64_t start_ms;
	int64_t ready_ms;           /* due: pending → completed */
	bool encrypted;
	char *kms_key_id;
	struct sim_tags tags;
	struct strv fsr_azs;        /* zones with fast snapshot restore enabled */
	int64_t fsr_ms;             /* when the last one was enabled */
};

/* A ClientToken seen on CreateVolume / CopyVolumes. */
struct sim_token {
	char *action;
	char *token;
	char *fingerprint;  /* the request's parameters, canonical, minus token/AZ/DryRun */
	char *resource_id;
};

struct sim_state {
	struct sim_volume **vols;
	size_t n_vols;
	struct sim_snapshot **snaps;
	size_t n_snaps;
	struct sim_token *tokens;
	size_t n_tokens;
	uint64_t rng;            /* ID generator state (persisted: IDs never repeat) */
	char imds_key[65];       /* hex HMAC key for IMDS tokens (persisted) */
};

void sim_state_init(struct sim_state *s, uint64_t seed);
void sim_state_dispose(struct sim_state *s);

/* Next value of the splitmix64 generator at *x. */
uint64_t sim_rng_next(uint64_t *x);

/* Writes a fresh ID "<prefix>-<17 hex>" (e.g. "vol-0a1b…") into out (cap >= 32)
 * that no live object or tombstone uses. */
void sim_state_new_id(struct sim_state *s, const char *prefix, char *out, size_t cap);

/* Live (not deleted) volume by ID, or NULL. */
struct sim_volume *sim_state_volume(const struct sim_state *s, const char *id);
/* Any volume including tombstones, or NULL. */
struct sim_volume *sim_state_volume_any(const struct sim_state *s, const char *id);
struct sim_snapshot *sim_state_snapshot(const struct sim_state *s, const char *id);

/* Appends (takes ownership). */
void sim_state_add_volume(struct sim_state *s, struct sim_volume *v);
void sim_state_add_snapshot(struct sim_state *s, struct sim_snapshot *sn);
/* Removes and frees. */
void sim_state_remove_volume(struct sim_state *s, struct sim_volume *v);
void sim_state_remove_snapshot(struct sim_state *s, struct sim_snapshot *sn);

struct sim_volume *sim_volume_new(void);
void sim_volume_free(struct sim_volume *v);
struct sim_snapshot *sim_snapshot_new(void);
void sim_snapshot_free(struct sim_snapshot *sn);
void sim_spec_dispose(struct sim_volume_spec *sp);
void sim_spec_copy(struct sim_volume_spec *dst, const struct sim_volume_spec *src);

/* Appends an attachment (strings copied) and returns it. */
struct sim_attachment *sim_volume_add_attachment(struct sim_volume *v, const char *instance_id,
						 const char *device);
void sim_volume_remove_attachment(struct sim_volume *v, size_t i);
/* The attachment to instance_id, or NULL. */
struct sim_attachment *sim_volume_attachment(const struct sim_volume *v, const char *instance_id);

/* "creating", "available", "in-use" (any attachment), "deleted". Static. */
const char *sim_volume_status_name(const struct sim_volume *v);
const char *sim_att_status_name(int status);
const char *sim_snap_status_name(int status);
const char *sim_mod_state_name(int state);

/* Tags: set replaces the value of an existing key; remove with value NULL
 * removes the key whatever its value, else only when the value matches. */
void sim_tags_set(struct sim_tags *t, const char *key, const char *value);
void sim_tags_remove(struct sim_tags *t, const char *key, const char *value);
const char *sim_tags_get(const struct sim_tags *t, const char *key);
void sim_tags_dispose(struct sim_tags *t);

/* ClientToken records. */
const struct sim_token *sim_state_token(const struct sim_state *s, const char *action, const char *token);
void sim_state_add_token(struct sim_state *s, const char *action, const char *token, const char *fingerprint,
			 const char *resource_id);

/* Drops tombstones deleted before cutoff_ms, with their ClientToken records. */
void sim_state_prune(struct sim_state *s, int64_t cutoff_ms);

#endif
