/*
 * cloud: the controller's only view of AWS (DESIGN.md §3) — a table of
 * operations on disks (EBS volumes), attachments, snapshots, modifications and
 * zones, with one static inline wrapper each, plus the plain data those
 * operations exchange.
 *
 * Implementations: the AWS one (EC2 Query API over HTTP, with retries, client-
 * side throttling, batching of Describe calls, waiters and device-name
 * allocation inside it) and cloud_fake.h for unit tests. Nothing here knows CSI
 * or gRPC: the controller turns these statuses into its RPC answers.
 * Invariants: every operation takes the call's rpc_ctx (deadline, cancel) and
 * never blocks past its deadline; the wrappers initialise every out-struct
 * before dispatching, so the caller always disposes it, success or not; strings
 * in the data structs are heap-owned and NULL when EC2 did not send them.
 */
#ifndef EBS_CLOUD_CLOUD_H
#define EBS_CLOUD_CLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "common/status.h"

/* ---- plain data ------------------------------------------------------------ */

/* Tags: an owned vector of key/value pairs (value "" allowed, never NULL). */
struct cloud_tag {
	char *key;
	char *value;
};

struct cloud_tags {
	struct cloud_tag *v;
	size_t n;
	size_t cap;
};

void cloud_tags_init(struct cloud_tags *t);
void cloud_tags_dispose(struct cloud_tags *t);
/* Appends copies of key and value (value NULL is stored as ""), or replaces the
 * value when key is already present: a tag set never holds a key twice (EC2
 * rejects a request that repeats one). */
void cloud_tags_set(struct cloud_tags *t, const char *key, const char *value);
/* The value of key, or NULL when absent. Borrowed from t. */
const char *cloud_tags_get(const struct cloud_tags *t, const char *key);
/* Removes key when present; returns true when it was. */
bool cloud_tags_remove(struct cloud_tags *t, const char *key);
/* Makes dst (initialised) a deep copy of src. */
void cloud_tags_copy(struct cloud_tags *dst, const struct cloud_tags *src);

/* EC2 VolumeState. UNKNOWN stands for a value this build does not know. */
enum cloud_disk_state {
	CLOUD_DISK_UNKNOWN = 0,
	CLOUD_DISK_CREATING,
	CLOUD_DISK_AVAILABLE,
	CLOUD_DISK_IN_USE,
	CLOUD_DISK_DELETING,
	CLOUD_DISK_DELETED,
	CLOUD_DISK_ERROR,
};

/* EC2 VolumeAttachmentState (and AttachmentStatus of block-device mappings). */
enum cloud_attach_state {
	CLOUD_ATTACH_UNKNOWN = 0,
	CLOUD_ATTACH_ATTACHING,
	CLOUD_ATTACH_ATTACHED,
	CLOUD_ATTACH_DETACHING,
	CLOUD_ATTACH_DETACHED,
	CLOUD_ATTACH_BUSY,
};

/* EC2 SnapshotState. */
enum cloud_snapshot_state {
	CLOUD_SNAPSHOT_UNKNOWN = 0,
	CLOUD_SNAPSHOT_PENDING,
	CLOUD_SNAPSHOT_COMPLETED,
	CLOUD_SNAPSHOT_ERROR,
	CLOUD_SNAPSHOT_RECOVERABLE,
	CLOUD_SNAPSHOT_RECOVERING,
};

/* EC2 VolumeModificationState. */
enum cloud_mod_state {
	CLOUD_MOD_UNKNOWN = 0,
	CLOUD_MOD_MODIFYING,
	CLOUD_MOD_OPTIMIZING,
	CLOUD_MOD_COMPLETED,
	CLOUD_MOD_FAILED,
};

/* EC2 wire names <-> enums. The parsers return UNKNOWN for anything else (and
 * for NULL); the name functions return static strings ("unknown" for UNKNOWN). */
enum cloud_disk_state cloud_disk_state_parse(const char *s);
const char *cloud_disk_state_name(enum cloud_disk_state s);
enum cloud_attach_state cloud_attach_state_parse(const char *s);
const char *cloud_attach_state_name(enum cloud_attach_state s);
enum cloud_snapshot_state cloud_snapshot_state_parse(const char *s);
const char *cloud_snapshot_state_name(enum cloud_snapshot_state s);
enum cloud_mod_state cloud_mod_state_parse(const char *s);
const char *cloud_mod_state_name(enum cloud_mod_state s);

/* One attachment of a volume (EC2 VolumeAttachment). Times are Unix epoch
 * milliseconds, 0 when absent. */
struct cloud_attachment {
	char *volume_id;
	char *instance_id;
	char *device;                 /* "/dev/xvdaa" */
	enum cloud_attach_state state;
	int64_t attach_time_ms;
	bool delete_on_termination;
};

void cloud_attachment_init(struct cloud_attachment *a);
void cloud_attachment_dispose(struct cloud_attachment *a);
void cloud_attachment_copy(struct cloud_attachment *dst, const struct cloud_attachment *src);

/* A volume (EC2 Volume). Integers are 0 when EC2 did not report them. */
struct cloud_disk {
	char *volume_id;
	int64_t size_gib;
	char *snapshot_id;            /* source snapshot; NULL or "" when none */
	char *source_volume_id;       /* CopyVolumes source (new field) */
	char *zone;                   /* availabilityZone */
	char *zone_id;                /* availabilityZoneId (new field) */
	enum cloud_disk_state state;
	int64_t create_time_ms;
	char *volume_type;            /* "gp3" ... */
	int32_t iops;
	int32_t throughput;           /* MiB/s */
	bool encrypted;
	char *kms_key_id;
	bool multi_attach;
	bool fast_restored;
	char *outpost_arn;
	struct cloud_tags tags;
	struct cloud_attachment *attachments;
	size_t n_attachments;
};

void cloud_disk_init(struct cloud_disk *d);
void cloud_disk_dispose(struct cloud_disk *d);
void cloud_disk_copy(struct cloud_disk *dst, const struct cloud_disk *src);
/* Appends an initialised attachment to d and returns it (owned by d). */
struct cloud_attachment *cloud_disk_add_attachment(struct cloud_disk *d);
/* The attachment of d to instance_id, or NULL. Borrowed. */
const struct cloud_attachment *cloud_disk_attachment_for(const struct cloud_disk *d, const char *instance_id);

struct cloud_disk_list {
	struct cloud_disk *v;
	size_t n;
	size_t cap;
	char *next_token;             /* NULL on the last page */
};

void cloud_disk_list_init(struct cloud_disk_list *l);
void cloud_disk_list_dispose(struct cloud_disk_list *l);
/* Appends an initialised disk and returns it (owned by l; the pointer stays
 * valid only until the next push). */
struct cloud_disk *cloud_disk_list_push(struct cloud_disk_list *l);

/* A snapshot (EC2 Snapshot). */
struct cloud_snapshot {
	char *snapshot_id;
	char *volume_id;
	enum cloud_snapshot_state state;
	char *status_message;
	int64_t start_time_ms;
	int progress_percent;         /* "80%" -> 80; -1 when absent */
	char *owner_id;
	char *description;
	int64_t volume_size_gib;
	bool encrypted;
	char *kms_key_id;
	char *outpost_arn;
	char *storage_tier;
	struct cloud_tags tags;
};

void cloud_snapshot_init(struct cloud_snapshot *s);
void cloud_snapshot_dispose(struct cloud_snapshot *s);
void cloud_snapshot_copy(struct cloud_snapshot *dst, const struct cloud_snapshot *src);

struct cloud_snapshot_list {
	struct cloud_snapshot *v;
	size_t n;
	size_t cap;
	char *next_token;             /* NULL on the last page */
};

void cloud_snapshot_list_init(struct cloud_snapshot_list *l);
void cloud_snapshot_list_dispose(struct cloud_snapshot_list *l);
struct cloud_snapshot *cloud_snapshot_list_push(struct cloud_snapshot_list *l);

/* A block-device mapping of an instance (DescribeInstances). */
struct cloud_block_device {
	char *device_name;            /* "/dev/xvda", "/dev/xvdaa" */
	char *volume_id;              /* NULL for a non-EBS mapping */
	enum cloud_attach_state state;
};

/* What the controller needs of an instance: zone for the attach check, device
 * names in use for allocation, ENI count and type for attach limits. */
struct cloud_instance {
	char *instance_id;
	char *instance_type;
	char *zone;
	char *zone_id;                /* placement/availabilityZoneId when sent */
	char *state;                  /* instanceState/name: "running", ... */
	char *outpost_arn;
	char *root_device_name;
	char *hypervisor;             /* "xen", "ovm" (DescribeInstances values) */
	struct cloud_block_device *devices;
	size_t n_devices;
	size_t n_network_interfaces;
	struct cloud_tags tags;
};

void cloud_instance_init(struct cloud_instance *i);
void cloud_instance_dispose(struct cloud_instance *i);
void cloud_instance_copy(struct cloud_instance *dst, const struct cloud_instance *src);
struct cloud_block_device *cloud_instance_add_device(struct cloud_instance *i);

struct cloud_instance_list {
	struct cloud_instance *v;
	size_t n;
	size_t cap;
	char *next_token;
};

void cloud_instance_list_init(struct cloud_instance_list *l);
void cloud_instance_list_dispose(struct cloud_instance_list *l);
struct cloud_instance *cloud_instance_list_push(struct cloud_instance_list *l);

/* EBS facts of an instance type (DescribeInstanceTypes ebsInfo, networkInfo).
 * Integers are 0 when not reported (maximumEbsAttachments is a 2025 field). */
struct cloud_instance_type {
	char *instance_type;
	char *hypervisor;             /* "nitro" or "xen" */
	bool bare_metal;
	char *nvme_support;           /* "unsupported" | "supported" | "required" */
	int max_ebs_attachments;
	char *attachment_limit_type;  /* "shared" | "dedicated" */
	int max_ebs_cards;
	int max_network_interfaces;
};

void cloud_instance_type_init(struct cloud_instance_type *t);
void cloud_instance_type_dispose(struct cloud_instance_type *t);

struct cloud_instance_type_list {
	struct cloud_instance_type *v;
	size_t n;
	size_t cap;
	char *next_token;
};

void cloud_instance_type_list_init(struct cloud_instance_type_list *l);
void cloud_instance_type_list_dispose(struct cloud_instance_type_list *l);
struct cloud_instance_type *cloud_instance_type_list_push(struct cloud_instance_type_list *l);

/* An availability zone (DescribeAvailabilityZones). */
struct cloud_zone {
	char *name;                   /* "us-east-1a" */
	char *zone_id;                /* "use1-az1" */
	char *state;                  /* zoneState: "available", ... */
	char *region;
	char *zone_type;              /* "availability-zone", "local-zone", ... */
};

void cloud_zone_init(struct cloud_zone *z);
void cloud_zone_dispose(struct cloud_zone *z);

struct cloud_zone_list {
	struct cloud_zone *v;
	size_t n;
	size_t cap;
};

void cloud_zone_list_init(struct cloud_zone_list *l);
void cloud_zone_list_dispose(struct cloud_zone_list *l);
struct cloud_zone *cloud_zone_list_push(struct cloud_zone_list *l);
/* The zone named name (or with zone id name), or NULL. Borrowed. */
const struct cloud_zone *cloud_zone_list_find(const struct cloud_zone_list *l, const char *name);

/* A volume modification (ModifyVolume, DescribeVolumesModifications). */
struct cloud_modification {
	char *volume_id;
	enum cloud_mod_state state;
	char *status_message;
	int64_t target_size_gib;
	int32_t target_iops;
	int32_t target_throughput;
	char *target_type;
	bool target_multi_attach;
	int64_t original_size_gib;
	int32_t original_iops;
	int32_t original_throughput;
	char *original_type;
	int64_t progress;             /* percent */
	int64_t start_time_ms;
	int64_t end_time_ms;
};

void cloud_modification_init(struct cloud_modification *m);
void cloud_modification_dispose(struct cloud_modification *m);
void cloud_modification_copy(struct cloud_modification *dst, const struct cloud_modification *src);

struct cloud_modification_list {
	struct cloud_modification *v;
	size_t n;
	size_t cap;
	char *next_token;
};

void cloud_modification_list_init(struct cloud_modification_list *l);
void cloud_modification_list_dispose(struct cloud_modification_list *l);
struct cloud_modification *cloud_modification_list_push(struct cloud_modification_list *l);

/* One (snapshot, zone) outcome of EnableFastSnapshotRestores. */
struct cloud_fsr_item {
	char *snapshot_id;
	char *zone;
	char *zone_id;
	char *state;                  /* successful: "enabling", "optimizing", "enabled", ... */
	char *error_code;             /* unsuccessful only */
	char *error_message;          /* unsuccessful only */
};

void cloud_fsr_item_dispose(struct cloud_fsr_item *it);

/* EnableFastSnapshotRestores: a 200 answer can still carry failures. */
struct cloud_fsr_result {
	struct cloud_fsr_item *ok;
	size_t n_ok;
	size_t cap_ok;
	struct cloud_fsr_item *failed;  /* one per (snapshot, zone) that failed */
	size_t n_failed;
	size_t cap_failed;
};

void cloud_fsr_result_init(struct cloud_fsr_result *r);
void cloud_fsr_result_dispose(struct cloud_fsr_result *r);
struct cloud_fsr_item *cloud_fsr_result_push(struct cloud_fsr_result *r, bool failed);

/* A volume's status (DescribeVolumeStatus), for blockAttachUntilInitialized. */
struct cloud_volume_status {
	char *volume_id;
	char *zone;
	char *status;                 /* volumeStatus/status: "ok", "impaired", ... */
	/* True while a detail "initialization-state" reads "initializing" (a
	 * volume restored from a snapshot still hydrating). */
	bool initializing;
	char *initialization_type;    /* "default", "provisioned-rate", ... */
	int64_t initialization_progress;  /* percent, -1 when absent */
	int64_t initialization_eta_s;     /* estimatedTimeToCompleteInSeconds, -1 when absent */
};

void cloud_volume_status_init(struct cloud_volume_status *s);
void cloud_volume_status_dispose(struct cloud_volume_status *s);

struct cloud_volume_status_list {
	struct cloud_volume_status *v;
	size_t n;
	size_t cap;
	char *next_token;
};

void cloud_volume_status_list_init(struct cloud_volume_status_list *l);
void cloud_volume_status_list_dispose(struct cloud_volume_status_list *l);
struct cloud_volume_status *cloud_volume_status_list_push(struct cloud_volume_status_list *l);

/* ---- operation inputs ------------------------------------------------------ */

/* CreateVolume (create_disk) and CopyVolumes (copy_disk). Everything borrowed.
 * 0 / NULL / false means "not sent" (EC2's default applies). */
struct cloud_disk_options {
	/* Required. The caller derives it: hex(sha256(CSI name)), or a suffixed
	 * name after IdempotentParameterMismatch (aws-facts.md §2.3); at most 64
	 * ASCII characters. */
	const char *client_token;
	int64_t size_gib;             /* 0: the snapshot's / source volume's size */
	const char *volume_type;
	int32_t iops;
	int32_t throughput;
	bool encrypted;
	const char *kms_key_id;
	const char *snapshot_id;      /* create_disk: restore from this snapshot */
	const char *source_volume_id; /* copy_disk: required (the clone source) */
	const char *zone;             /* create_disk: zone or zone_id required */
	const char *zone_id;
	const char *outpost_arn;
	bool multi_attach;            /* io2 only */
	int32_t initialization_rate;  /* VolumeInitializationRate, MiB/s */
	const struct cloud_tags *tags;  /* TagSpecification ResourceType=volume; may be NULL */
};

/* ModifyVolume: 0 / NULL means "leave as it is". */
struct cloud_modify_options {
	int64_t size_gib;
	const char *volume_type;
	int32_t iops;
	int32_t throughput;
};

/* CreateSnapshot. EC2 has no ClientToken here: the caller looks the name up
 * first (find_snapshot_by_name). */
struct cloud_snapshot_options {
	const char *volume_id;        /* required */
	const char *description;
	const char *outpost_arn;
	const struct cloud_tags *tags;  /* ResourceType=snapshot; may be NULL */
};

/* ---- the seam -------------------------------------------------------------- */

struct cloud;

/* Every operation: returns 0 on success, or -1 with st set. Codes common to
 * all: DEADLINE_EXCEEDED (the deadline came first, including while waiting for
 * a client-side throttling token), CANCELLED, UNAVAILABLE (throttled or a
 * server/transport failure that outlived the retries; retryable by the CO),
 * UNAUTHENTICATED / PERMISSION_DENIED (credentials, IAM), INVALID_ARGUMENT (EC2
 * rejected a parameter), INTERNAL (an answer we could not parse). Per-op codes
 * are listed below. Messages carry the EC2 code and request id, never secrets. */
struct cloud_ops {
	/* CreateVolume with opts->client_token, then wait until the volume is
	 * `available` (or `in-use`). out: the volume. ALREADY_EXISTS:
	 * IdempotentParameterMismatch — the token was used with other parameters,
	 * or its volume has been deleted since; the caller moves to a suffixed
	 * token. NOT_FOUND: the source snapshot does not exist. ABORTED: the volume
	 * disappeared while we waited for it (an asynchronous failure such as an
	 * unusable KMS key; the token is burned too). RESOURCE_EXHAUSTED: quota or
	 * capacity (VolumeLimitExceeded, MaxIOPSLimitExceeded,
	 * InsufficientVolumeCapacity). */
	int (*create_disk)(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *opts,
			   struct cloud_disk *out, struct status *st);
	/* CopyVolumes from opts->source_volume_id (zone, encryption and KMS key are
	 * the source's), then wait until available. NOT_FOUND: no source volume;
	 * otherwise as create_disk. */
	int (*copy_disk)(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *opts,
			 struct cloud_disk *out, struct status *st);
	/* DeleteVolume. NOT_FOUND when it does not exist (the caller decides that
	 * this is success); FAILED_PRECONDITION while attached (VolumeInUse). */
	int (*delete_disk)(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, struct status *st);
	/* Attaches volume_id to instance_id and waits for `attached`. The
	 * implementation chooses the device name (upstream's ordered list minus the
	 * names in use on the instance and in flight). When the volume is already
	 * attached (or attaching) to this instance, no AttachVolume is sent: it waits
	 * and sets *already_attached (may be NULL). out: the attachment (device is
	 * the devicePath for the node). NOT_FOUND: volume or instance unknown.
	 * FAILED_PRECONDITION: attached to another instance and not multi-attach
	 * (VolumeInUse), or zone mismatch. RESOURCE_EXHAUSTED: AttachmentLimitExceeded
	 * or no free device name. UNAVAILABLE: stuck `attaching` (detached again so
	 * that a retry starts clean). */
	int (*attach_disk)(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, const char *instance_id,
			   struct cloud_attachment *out, bool *already_attached, struct status *st);
	/* DetachVolume (no Force) and wait for `detached`. NOT_FOUND when the volume
	 * or the attachment does not exist (already detached: the caller's success). */
	int (*detach_disk)(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, const char *instance_id,
			   struct status *st);
	/* Polls until the attachment of volume_id to instance_id reaches want
	 * (ATTACHED or DETACHED) and, when device is not NULL, uses that device.
	 * A missing volume or attachment counts as DETACHED. out: the attachment
	 * last seen (state DETACHED and no device when there is none). NOT_FOUND:
	 * waiting for ATTACHED and the volume is gone. DEADLINE_EXCEEDED: never
	 * reached before the deadline. */
	int (*wait_attachment)(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			       const char *instance_id, enum cloud_attach_state want, const char *device,
			       struct cloud_attachment *out, struct status *st);
	/* DescribeVolumes by id. NOT_FOUND when it does not exist. */
	int (*get_disk)(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, struct cloud_disk *out,
			struct status *st);
	/* DescribeVolumes filtered by tag CSIVolumeName=name. NOT_FOUND when none;
	 * FAILED_PRECONDITION when several volumes carry the name. */
	int (*find_disk_by_name)(struct cloud *c, const struct rpc_ctx *rc, const char *name, struct cloud_disk *out,
				 struct status *st);
	/* DescribeInstances by id. NOT_FOUND when it does not exist. */
	int (*describe_instance)(struct cloud *c, const struct rpc_ctx *rc, const char *instance_id,
				 struct cloud_instance *out, struct status *st);
	/* CreateSnapshot (does not wait for completion). NOT_FOUND: no such volume.
	 * RESOURCE_EXHAUSTED: snapshot quotas and rates. */
	int (*create_snapshot)(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_snapshot_options *opts,
			       struct cloud_snapshot *out, struct status *st);
	/* DeleteSnapshot. NOT_FOUND when it does not exist (the caller's success);
	 * FAILED_PRECONDITION when an AMI uses it. */
	int (*delete_snapshot)(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id, struct status *st);
	/* DescribeSnapshots by id. NOT_FOUND when it does not exist. */
	int (*get_snapshot)(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
			    struct cloud_snapshot *out, struct status *st);
	/* DescribeSnapshots filtered by tag CSIVolumeSnapshotName=name. NOT_FOUND
	 * when none; FAILED_PRECONDITION when several. */
	int (*find_snapshot_by_name)(struct cloud *c, const struct rpc_ctx *rc, const char *name,
				     struct cloud_snapshot *out, struct status *st);
	/* One page of DescribeSnapshots, optionally filtered by source volume_id
	 * (NULL: all the account's own snapshots). max_results 0 means EC2's default
	 * (everything); otherwise 5..1000 (EC2's bounds). next_token NULL or "" for
	 * the first page. out->next_token is NULL on the last page. ABORTED: the
	 * token is not valid (InvalidNextToken). */
	int (*list_snapshots)(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, int max_results,
			      const char *next_token, struct cloud_snapshot_list *out, struct status *st);
	/* ModifyVolume (size, type, iops, throughput) and wait until the modification
	 * is `optimizing` or `completed` (the new size is usable). When nothing
	 * differs from the volume, sends no ModifyVolume (EC2 counts each one against
	 * a few per day) and waits for any modification in flight. out: the
	 * modification (targets). INVALID_ARGUMENT: smaller size or bad values.
	 * NOT_FOUND: no such volume. ABORTED: a modification is already in flight
	 * that differs (IncorrectModificationState). RESOURCE_EXHAUSTED: rate or
	 * quota. */
	int (*modify_disk)(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			   const struct cloud_modify_options *opts, struct cloud_modification *out, struct status *st);
	/* The latest DescribeVolumesModifications record of volume_id. NOT_FOUND
	 * when the volume was never modified (or does not exist). */
	int (*get_modification)(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				struct cloud_modification *out, struct status *st);
	/* DescribeAvailabilityZones of the region (the implementation may cache). */
	int (*availability_zones)(struct cloud *c, const struct rpc_ctx *rc, struct cloud_zone_list *out,
				  struct status *st);
	/* EnableFastSnapshotRestores for snapshot_id in zones. Returns 0 when EC2
	 * answered, even if out->failed is not empty (the caller decides). */
	int (*enable_fsr)(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
			  const char *const *zones, size_t n_zones, struct cloud_fsr_result *out, struct status *st);
	/* CreateTags on one resource (volume or snapshot). NOT_FOUND: no resource. */
	int (*create_tags)(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
			   const struct cloud_tags *tags, struct status *st);
	/* DeleteTags of keys (whatever their value) on one resource. */
	int (*delete_tags)(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
			   const char *const *keys, size_t n_keys, struct status *st);
	/* DescribeVolumeStatus of volume_id (initialisation of snapshot restores).
	 * NOT_FOUND when it does not exist. */
	int (*get_volume_status)(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				 struct cloud_volume_status *out, struct status *st);
	/* DescribeAvailabilityZones with DryRun=true: 0 when EC2 answers
	 * DryRunOperation (reachable, credentials and IAM good). No retries. */
	int (*health_check)(struct cloud *c, const struct rpc_ctx *rc, struct status *st);
	/* Frees the implementation (c itself included). */
	void (*destroy)(struct cloud *c);
};

/* Implementations embed this as their first member. */
struct cloud {
	const struct cloud_ops *ops;
};

/* The operations, for call counting, failure injection and metric labels. */
enum cloud_op {
	CLOUD_OP_CREATE_DISK = 0,
	CLOUD_OP_COPY_DISK,
	CLOUD_OP_DELETE_DISK,
	CLOUD_OP_ATTACH_DISK,
	CLOUD_OP_DETACH_DISK,
	CLOUD_OP_WAIT_ATTACHMENT,
	CLOUD_OP_GET_DISK,
	CLOUD_OP_FIND_DISK_BY_NAME,
	CLOUD_OP_DESCRIBE_INSTANCE,
	CLOUD_OP_CREATE_SNAPSHOT,
	CLOUD_OP_DELETE_SNAPSHOT,
	CLOUD_OP_GET_SNAPSHOT,
	CLOUD_OP_FIND_SNAPSHOT_BY_NAME,
	CLOUD_OP_LIST_SNAPSHOTS,
	CLOUD_OP_MODIFY_DISK,
	CLOUD_OP_GET_MODIFICATION,
	CLOUD_OP_AVAILABILITY_ZONES,
	CLOUD_OP_ENABLE_FSR,
	CLOUD_OP_CREATE_TAGS,
	CLOUD_OP_DELETE_TAGS,
	CLOUD_OP_GET_VOLUME_STATUS,
	CLOUD_OP_HEALTH_CHECK,
	CLOUD_OP_COUNT,
	CLOUD_OP_ANY = CLOUD_OP_COUNT,  /* cloud_fake: "whichever op comes next" */
};

/* "create_disk", ... (static); "any" for CLOUD_OP_ANY, "unknown" beyond. */
const char *cloud_op_name(enum cloud_op op);

/* Tag keys the controller and the cloud agree on (upstream's names). */
#define CLOUD_TAG_VOLUME_NAME "CSIVolumeName"
#define CLOUD_TAG_SNAPSHOT_NAME "CSIVolumeSnapshotName"

/* ---- wrappers: initialise the out-struct, then dispatch -------------------- */

static inline int cloud_create_disk(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *opts,
				    struct cloud_disk *out, struct status *st)
{
	cloud_disk_init(out);
	return c->ops->create_disk(c, rc, opts, out, st);
}

static inline int cloud_copy_disk(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *opts,
				  struct cloud_disk *out, struct status *st)
{
	cloud_disk_init(out);
	return c->ops->copy_disk(c, rc, opts, out, st);
}

static inline int cloud_delete_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				    struct status *st)
{
	return c->ops->delete_disk(c, rc, volume_id, st);
}

static inline int cloud_attach_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				    const char *instance_id, struct cloud_attachment *out, bool *already_attached,
				    struct status *st)
{
	cloud_attachment_init(out);
	if (already_attached != NULL)
		*already_attached = false;
	return c->ops->attach_disk(c, rc, volume_id, instance_id, out, already_attached, st);
}

static inline int cloud_detach_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				    const char *instance_id, struct status *st)
{
	return c->ops->detach_disk(c, rc, volume_id, instance_id, st);
}

static inline int cloud_wait_attachment(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
					const char *instance_id, enum cloud_attach_state want, const char *device,
					struct cloud_attachment *out, struct status *st)
{
	cloud_attachment_init(out);
	return c->ops->wait_attachment(c, rc, volume_id, instance_id, want, device, out, st);
}

static inline int cloud_get_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				 struct cloud_disk *out, struct status *st)
{
	cloud_disk_init(out);
	return c->ops->get_disk(c, rc, volume_id, out, st);
}

static inline int cloud_find_disk_by_name(struct cloud *c, const struct rpc_ctx *rc, const char *name,
					  struct cloud_disk *out, struct status *st)
{
	cloud_disk_init(out);
	return c->ops->find_disk_by_name(c, rc, name, out, st);
}

static inline int cloud_describe_instance(struct cloud *c, const struct rpc_ctx *rc, const char *instance_id,
					  struct cloud_instance *out, struct status *st)
{
	cloud_instance_init(out);
	return c->ops->describe_instance(c, rc, instance_id, out, st);
}

static inline int cloud_create_snapshot(struct cloud *c, const struct rpc_ctx *rc,
					const struct cloud_snapshot_options *opts, struct cloud_snapshot *out,
					struct status *st)
{
	cloud_snapshot_init(out);
	return c->ops->create_snapshot(c, rc, opts, out, st);
}

static inline int cloud_delete_snapshot(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
					struct status *st)
{
	return c->ops->delete_snapshot(c, rc, snapshot_id, st);
}

static inline int cloud_get_snapshot(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
				     struct cloud_snapshot *out, struct status *st)
{
	cloud_snapshot_init(out);
	return c->ops->get_snapshot(c, rc, snapshot_id, out, st);
}

static inline int cloud_find_snapshot_by_name(struct cloud *c, const struct rpc_ctx *rc, const char *name,
					      struct cloud_snapshot *out, struct status *st)
{
	cloud_snapshot_init(out);
	return c->ops->find_snapshot_by_name(c, rc, name, out, st);
}

static inline int cloud_list_snapshots(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				       int max_results, const char *next_token, struct cloud_snapshot_list *out,
				       struct status *st)
{
	cloud_snapshot_list_init(out);
	return c->ops->list_snapshots(c, rc, volume_id, max_results, next_token, out, st);
}

static inline int cloud_modify_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				    const struct cloud_modify_options *opts, struct cloud_modification *out,
				    struct status *st)
{
	cloud_modification_init(out);
	return c->ops->modify_disk(c, rc, volume_id, opts, out, st);
}

static inline int cloud_get_modification(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
					 struct cloud_modification *out, struct status *st)
{
	cloud_modification_init(out);
	return c->ops->get_modification(c, rc, volume_id, out, st);
}

static inline int cloud_availability_zones(struct cloud *c, const struct rpc_ctx *rc, struct cloud_zone_list *out,
					   struct status *st)
{
	cloud_zone_list_init(out);
	return c->ops->availability_zones(c, rc, out, st);
}

static inline int cloud_enable_fsr(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
				   const char *const *zones, size_t n_zones, struct cloud_fsr_result *out,
				   struct status *st)
{
	cloud_fsr_result_init(out);
	return c->ops->enable_fsr(c, rc, snapshot_id, zones, n_zones, out, st);
}

static inline int cloud_create_tags(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
				    const struct cloud_tags *tags, struct status *st)
{
	return c->ops->create_tags(c, rc, resource_id, tags, st);
}

static inline int cloud_delete_tags(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
				    const char *const *keys, size_t n_keys, struct status *st)
{
	return c->ops->delete_tags(c, rc, resource_id, keys, n_keys, st);
}

static inline int cloud_get_volume_status(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
					  struct cloud_volume_status *out, struct status *st)
{
	cloud_volume_status_init(out);
	return c->ops->get_volume_status(c, rc, volume_id, out, st);
}

static inline int cloud_health_check(struct cloud *c, const struct rpc_ctx *rc, struct status *st)
{
	return c->ops->health_check(c, rc, st);
}

/* Frees c through its implementation; c may be NULL. */
static inline void cloud_free(struct cloud *c)
{
	if (c != NULL)
		c->ops->destroy(c);
}

#endif
