/*
 * controller_internal: what the controller_*.c files share and nothing
 * outside controller/ uses — the service struct, request validation, the
 * pure parameter parsers (StorageClass, VolumeAttributesClass,
 * VolumeSnapshotClass), tag building and templates, volume-type limits, and
 * the shared steps (in-flight keys, status mapping, ClientToken).
 *
 * Invariants: validation and parsing only read the request and set
 * INVALID_ARGUMENT (OUT_OF_RANGE for sizes) naming the field or parameter;
 * they never call the cloud. Strings handed back point into the request
 * (valid for the call) unless a comment says "heap". The configuration is
 * immutable after controller_service_new; only the coalescer list changes,
 * under co_lock.
 */
#ifndef EBS_CONTROLLER_CONTROLLER_INTERNAL_H
#define EBS_CONTROLLER_CONTROLLER_INTERNAL_H

#include "cloud/cloud.h"
#include "common/inflight.h"
#include "common/kvmap.h"
#include "common/status.h"
#include "common/strv.h"
#include "controller/controller.h"

#include "csi.pb-c.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROLLER_GIB (INT64_C(1) << 30)
#define CONTROLLER_DEFAULT_SIZE_GIB 100
#define CONTROLLER_DEFAULT_TYPE "gp3"
#define CONTROLLER_DEFAULT_WINDOW_MS 2000

/* Tag keys and topology keys (upstream's names, §2.2 and §6.9). */
#define CONTROLLER_TAG_CLUSTER "ebs.csi.aws.com/cluster"
#define CONTROLLER_TAG_CLUSTER_NAME "ebs.csi.aws.com/cluster-name"
#define CONTROLLER_TAG_IOPS_PER_GB "ebs.csi.aws.com/IOPSPerGb"
#define CONTROLLER_TAG_ALLOW_IOPS_INCREASE "ebs.csi.aws.com/AllowAutoIOPSIncreaseOnModify"
#define CONTROLLER_TAG_PVC_NAME "kubernetes.io/created-for/pvc/name"
#define CONTROLLER_TAG_PVC_NAMESPACE "kubernetes.io/created-for/pvc/namespace"
#define CONTROLLER_TAG_PV_NAME "kubernetes.io/created-for/pv/name"
#define CONTROLLER_TOPO_ZONE "topology.kubernetes.io/zone"
#define CONTROLLER_TOPO_ZONE_EBS "topology.ebs.csi.aws.com/zone"
#define CONTROLLER_TOPO_ZONE_ID "topology.k8s.aws/zone-id"
#define CONTROLLER_TOPO_REGION "topology.ebs.csi.aws.com/region"
#define CONTROLLER_TOPO_PARTITION "topology.ebs.csi.aws.com/partition"
#define CONTROLLER_TOPO_ACCOUNT "topology.ebs.csi.aws.com/account-id"
#define CONTROLLER_TOPO_OUTPOST "topology.ebs.csi.aws.com/outpost-id"

struct controller_coalesce;

struct controller_service {
	struct cloud *cloud;           /* borrowed */
	struct inflight *inflight;     /* keys of running calls (see controller_acquire) */
	struct cloud_tags extra_tags;  /* --extra-tags */
	char *cluster_id;              /* heap or NULL */
	char *default_zone;            /* heap or NULL */
	char *default_fs_type;         /* heap */
	bool warn_on_invalid_tag;
	int64_t modify_window_ms;
	pthread_mutex_t co_lock;       /* guards co_head and every entry's state */
	struct controller_coalesce *co_head;
};

/* ---- volume types (controller_params.c) --------------------------------------- */

/* EBS limits per type (aws-facts.md §8.1, current API limits). */
struct controller_volume_type {
	const char *name;
	int64_t min_gib, max_gib;
	int32_t min_iops, max_iops;    /* 0: IOPS cannot be set */
	int32_t max_iops_per_gib;      /* 0: no ratio */
	bool throughput;               /* Throughput can be set (gp3) */
};

/* The type named name (ASCII case-insensitive), or NULL. Static. */
const struct controller_volume_type *controller_volume_type_find(const char *name);

/* Upstream's capIOPS (§2.5): raise to the type's minimum when allow_increase,
 * then cap at the maximum and at max_iops_per_gib × size (when that is still
 * at least the minimum). iops 0 stays 0. */
int32_t controller_cap_iops(const struct controller_volume_type *t, int64_t size_gib, int64_t iops,
			    bool allow_increase);

/* ---- parameters (controller_params.c, pure) ---------------------------------- */

enum controller_fmt {
	CONTROLLER_FMT_BLOCK_SIZE = 0,
	CONTROLLER_FMT_INODE_SIZE,
	CONTROLLER_FMT_BYTES_PER_INODE,
	CONTROLLER_FMT_NUMBER_OF_INODES,
	CONTROLLER_FMT_EXT4_BIGALLOC,
	CONTROLLER_FMT_EXT4_CLUSTER_SIZE,
	CONTROLLER_FMT_EXT4_ENCRYPTION,
	CONTROLLER_FMT_COUNT,
};

/* The StorageClass parameter name of a formatting option ("blockSize") and
 * the volume_context key it is echoed under (upstream's lower-case one). */
const char *controller_fmt_param(enum controller_fmt f);
const char *controller_fmt_context_key(enum controller_fmt f);

/* CreateVolume parameters and mutable_parameters, parsed. */
struct controller_volume_params {
	const struct controller_volume_type *type;  /* gp3 unless asked */
	int32_t iops;                  /* 0: unset */
	int32_t iops_per_gb;           /* 0: unset */
	bool allow_iops_increase;      /* allowAutoIOPSPerGBIncrease */
	int allow_iops_increase_on_modify;  /* -1 unset, else 0/1 */
	int32_t throughput;            /* MiB/s, 0: unset */
	int encrypted;                 /* -1 unset, else 0/1 */
	char *kms_key_id;              /* heap or NULL */
	int32_t init_rate;             /* volumeInitializationRate, 0: unset */
	bool block_attach_until_initialized;
	char *fmt[CONTROLLER_FMT_COUNT];  /* heap values as given ("true" for booleans), NULL when absent */
	struct strv tag_specs;         /* "key=value" of tagSpecification*, in parameter-key order */
	char *pvc_name, *pvc_namespace, *pv_name;  /* heap or NULL */
};

void controller_volume_params_init(struct controller_volume_params *p);
void controller_volume_params_dispose(struct controller_volume_params *p);

/*
 * Parses CreateVolume's parameters then mutable_parameters (which take
 * precedence: type, iops, throughput, tagSpecification*) into out
 * (initialised by the call; dispose it always). Keys are ASCII
 * case-insensitive; booleans are "true"/"false" in any case; numbers are
 * decimal 1..2^31-1. Returns 0; -1 with INVALID_ARGUMENT naming the key for
 * an unknown key, a bad value, iops together with iopsPerGB, iops or
 * throughput on a type that has none, ext4ClusterSize without ext4BigAlloc.
 */
int controller_parse_volume_params(const struct kvmap *params, const struct kvmap *mutable_params,
				   struct controller_volume_params *out, struct status *st);

/*
 * Checks the formatting options of p against one capability: none with
 * block access, and each only with the filesystems it exists for (fs_type
 * "" means the service's default). field names the capability. Returns 0;
 * -1 with INVALID_ARGUMENT.
 */
int controller_check_fmt_for_fs(const struct controller_volume_params *p, bool block, const char *fs_type,
				const char *field, struct status *st);

/* ControllerModifyVolume's mutable_parameters (VolumeAttributesClass). */
struct controller_modify_params {
	const struct controller_volume_type *type;  /* NULL: unchanged */
	int32_t iops, throughput, iops_per_gb;      /* 0: unchanged */
	int allow_iops_increase_on_modify;          /* -1 unset */
	struct strv tag_specs;                      /* "key=value" to add */
	struct strv tag_deletions;                  /* keys to remove */
	char *pvc_name, *pvc_namespace, *pv_name;   /* heap or NULL (template vars) */
};

void controller_modify_params_init(struct controller_modify_params *p);
void controller_modify_params_dispose(struct controller_modify_params *p);

/*
 * Parses a VolumeAttributesClass: type (or the deprecated volumeType, ignored
 * when type is there), iops, throughput, iopsPerGB, allowAutoIOPSIncreaseOnModify,
 * tagSpecification*, tagDeletion* (reserved keys refused), and the
 * csi.storage.k8s.io/… metadata. Returns 0; -1 with INVALID_ARGUMENT naming
 * the key (unknown key, bad value, iops with iopsPerGB, a type that has no
 * iops or throughput).
 */
int controller_parse_modify_params(const struct kvmap *params, struct controller_modify_params *out,
				   struct status *st);

/* VolumeSnapshotClass parameters. */
struct controller_snapshot_params {
	struct strv fsr_zones;          /* fastSnapshotRestoreAvailabilityZones */
	char *outpost_arn;              /* heap or NULL */
	struct strv tag_specs;
	char *vs_name, *vs_namespace, *vsc_name;  /* heap or NULL */
};

void controller_snapshot_params_init(struct controller_snapshot_params *p);
void controller_snapshot_params_dispose(struct controller_snapshot_params *p);

/*
 * Parses CreateSnapshot's parameters (keys case-insensitive). lockMode and
 * the other lock* keys are refused: this driver cannot lock snapshots, and
 * silently not locking a compliance snapshot would be worse. Returns 0; -1
 * with INVALID_ARGUMENT naming the key.
 */
int controller_parse_snapshot_params(const struct kvmap *params, struct controller_snapshot_params *out,
				     struct status *st);

/* ---- tags and templates (controller_tags.c) ----------------------------------- */

/* A template variable: {{ .Name }}. */
struct controller_tvar {
	const char *name;
	const char *value;  /* NULL reads as "" */
};

/*
 * Evaluates tmpl as the subset of Go text/template that tag values use:
 * text with {{ pipeline }} actions ({{- and -}} trim), a pipeline being
 * commands joined by '|', a command a .Field, a "string" / `raw` / integer
 * literal, or a function with arguments — toUpper, toLower, contains,
 * substring, field, index, lastIndex (upstream's set; html, js, call and
 * urlquery are refused as upstream does). Returns a heap string, or NULL
 * with INVALID_ARGUMENT saying what failed.
 */
char *controller_template_eval(const char *tmpl, const struct controller_tvar *vars, size_t n_vars,
			       struct status *st);

/* Whether users may not set key (upstream validateExtraTags, §2.4). */
bool controller_tag_key_reserved(const char *key);

/*
 * Adds each "key=value" of specs to tags, the value evaluated as a template
 * with vars. A spec without "=", a reserved key or a template error is
 * INVALID_ARGUMENT naming the spec, or — with --warn-on-invalid-tag — logged
 * and skipped. Returns 0 or -1.
 */
int controller_add_tag_specs(const struct controller_service *svc, const struct strv *specs,
			     const struct controller_tvar *vars, size_t n_vars, struct cloud_tags *tags,
			     struct status *st);

/* The tags of a new volume named name (§2.2): CSIVolumeName, cluster tags,
 * PVC/PV names, IOPS tags, --extra-tags, then tagSpecification*. tags is
 * initialised by the call (dispose it always). Returns 0 or -1 (as
 * controller_add_tag_specs). */
int controller_volume_tags(const struct controller_service *svc, const char *name,
			   const struct controller_volume_params *p, struct cloud_tags *tags, struct status *st);

/* The tags of a new snapshot named name. As controller_volume_tags. */
int controller_snapshot_tags(const struct controller_service *svc, const char *name,
			     const struct controller_snapshot_params *p, struct cloud_tags *tags, struct status *st);

/* ---- validation (controller_validate.c) ---------------------------------------- */

/* s is required (non-empty). Returns 0; -1 with INVALID_ARGUMENT naming field. */
int controller_check_required(const char *s, const char *field, struct status *st);

/* A CSI name (CreateVolume/CreateSnapshot): required, at most 128 bytes, no
 * control characters the spec excludes. Returns 0; -1 INVALID_ARGUMENT. */
int controller_check_name(const char *name, const char *field, struct status *st);

/* Whether id has the shape of an EC2 id with prefix ("vol-", "i-",
 * "snap-"): anything else cannot exist, so callers answer NOT_FOUND (or OK
 * for deletes) without asking EC2, which would call it malformed. */
bool controller_id_valid(const char *id, const char *prefix);

/* What a validated VolumeCapability asks for. */
struct controller_cap {
	bool block;
	bool multi_node;      /* MULTI_NODE_MULTI_WRITER */
	const char *fs_type;  /* mount: as requested ("" when unset); NULL for block */
};

/*
 * Checks that cap (the request field named field) is one EBS supports
 * (upstream §1.5): SINGLE_NODE_WRITER with mount or block,
 * MULTI_NODE_MULTI_WRITER with block only; fs_type empty, ext2/3/4 or xfs.
 * Fills out when not NULL. Returns 0; -1 with INVALID_ARGUMENT naming the
 * sub-field.
 */
int controller_check_capability(const Csi__V1__VolumeCapability *cap, const char *field,
				struct controller_cap *out, struct status *st);

/*
 * The size to create or grow to, in GiB: required_bytes rounded up to GiB,
 * default_gib when capacity_range is absent or both bounds are 0 (then
 * lowered to fit limit_bytes), raised to the type's minimum when the limit
 * allows it (t may be NULL). Negative bounds, or limit < required, are
 * INVALID_ARGUMENT; a size that cannot fit limit_bytes or the type's
 * maximum is OUT_OF_RANGE. Returns 0 with *gib set, or -1.
 */
int controller_size_gib(const Csi__V1__CapacityRange *cr, const struct controller_volume_type *t,
			int64_t default_gib, int64_t *gib, struct status *st);

/* ---- shared steps (controller_service.c) ---------------------------------------- */

/* Takes the in-flight key "<kind>/<id>" (kind: "name", "volume",
 * "publish", "snapshot-name", "snapshot"). Returns 0; -1 with ABORTED. */
int controller_acquire(struct controller_service *svc, const char *kind, const char *id, struct status *st);
void controller_release(struct controller_service *svc, const char *kind, const char *id);

/*
 * The final code of a failed cloud step: codes the CSI spec gives meaning to
 * (and the transport ones) pass, anything else becomes INTERNAL; the message
 * gets the printf-formatted context. Returns -1.
 */
int controller_fail(struct status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* hex(sha256(base)): the EC2 ClientToken for a CSI name (64 chars, heap). */
char *controller_client_token(const char *base);

/* A heap copy of s ("" for NULL), for response fields. */
char *controller_strdup(const char *s);

/* A deep heap copy of m (pack/unpack), freeable with free_unpacked. */
ProtobufCMessage *controller_msg_copy(const ProtobufCMessage *m);

/* Sleeps ms, or less when the call's deadline comes first. Returns false when
 * the call is done (deadline, cancelled). */
bool controller_sleep(const struct rpc_ctx *rc, int64_t ms);

/* A Topology message {key: value} (heap). */
Csi__V1__Topology *controller_topology(const char *const *keys, const char *const *values, size_t n);

/* ---- coalescer (controller_modify.c) -------------------------------------------- */

/* Frees what is left of the coalescer (no call may be running). */
void controller_coalescer_dispose(struct controller_service *svc);

#endif
