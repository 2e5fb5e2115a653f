/*
 * controller_params: StorageClass (CreateVolume parameters and
 * mutable_parameters), VolumeAttributesClass (ControllerModifyVolume) and
 * VolumeSnapshotClass (CreateSnapshot) parameters, parsed into structs, and
 * the EBS volume-type limits they are checked against.
 *
 * Pure: nothing here calls the cloud, so every bad parameter is refused with
 * INVALID_ARGUMENT naming it before EC2 is asked anything. Keys are matched
 * ASCII case-insensitively everywhere — upstream lower-cases StorageClass keys
 * but matches some others exactly (its §10.6); one rule is easier to use and
 * accepts everything upstream accepts. Where upstream silently reads a bad
 * value as "false" or leaves it to EC2, we refuse it: a StorageClass saying
 * `encrypted: "yes"` must not make an unencrypted volume.
 */
#include "controller/controller_internal.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- volume types --------------------------------------------------------------- */

static const struct controller_volume_type volume_types[] = {
	{ "gp3", 1, 65536, 3000, 80000, 500, true },
	{ "gp2", 1, 16384, 0, 0, 0, false },
	{ "io1", 4, 16384, 100, 64000, 50, false },
	{ "io2", 4, 65536, 100, 256000, 1000, false },
	{ "st1", 125, 16384, 0, 0, 0, false },
	{ "sc1", 125, 16384, 0, 0, 0, false },
	{ "standard", 1, 1024, 0, 0, 0, false },
};

const struct controller_volume_type *controller_volume_type_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof volume_types / sizeof volume_types[0]; i++)
		if (strcasecmp(volume_types[i].name, name) == 0)
			return &volume_types[i];
	return NULL;
}

int32_t controller_cap_iops(const struct controller_volume_type *t, int64_t size_gib, int64_t iops,
			    bool allow_increase)
{
	if (iops <= 0 || t == NULL || t->max_iops == 0)
		return iops > INT32_MAX ? INT32_MAX : (int32_t)(iops < 0 ? 0 : iops);
	if (allow_increase && iops < t->min_iops)
		iops = t->min_iops;
	if (iops > t->max_iops)
		iops = t->max_iops;
	int64_t per_gib = (int64_t)t->max_iops_per_gib * size_gib;
	if (per_gib > 0 && iops > per_gib && per_gib >= t->min_iops)
		iops = per_gib;
	return (int32_t)iops;
}

/* ---- formatting options ------------------------------------------------------------ */

enum { FS_EXT23 = 1, FS_EXT4 = 2, FS_XFS = 4, FS_EXT = FS_EXT23 | FS_EXT4, FS_ALL = FS_EXT | FS_XFS };

static const struct fmt_def {
	const char *param;
	const char *ctx;
	bool boolean;
	unsigned long long min, max;  /* the node's accepted range (node_parse_format) */
	unsigned fs;
} fmt_defs[CONTROLLER_FMT_COUNT] = {
	[CONTROLLER_FMT_BLOCK_SIZE] = { "blockSize", "blocksize", false, 512, 65536, FS_ALL },
	[CONTROLLER_FMT_INODE_SIZE] = { "inodeSize", "inodesize", false, 128, 65536, FS_ALL },
	[CONTROLLER_FMT_BYTES_PER_INODE] = { "bytesPerInode", "bytesperinode", false, 1024, UINT32_MAX, FS_EXT },
	[CONTROLLER_FMT_NUMBER_OF_INODES] = { "numberOfInodes", "numberofinodes", false, 1, UINT64_MAX, FS_EXT },
	[CONTROLLER_FMT_EXT4_BIGALLOC] = { "ext4BigAlloc", "ext4bigalloc", true, 0, 0, FS_EXT4 },
	[CONTROLLER_FMT_EXT4_CLUSTER_SIZE] = { "ext4ClusterSize", "ext4clustersize", false, 1024, UINT32_MAX,
					       FS_EXT4 },
	[CONTROLLER_FMT_EXT4_ENCRYPTION] = { "ext4EncryptionSupport", "ext4encryptionsupport", true, 0, 0, FS_EXT4 },
};

const char *controller_fmt_param(enum controller_fmt f)
{
	return fmt_defs[f].param;
}

const char *controller_fmt_context_key(enum controller_fmt f)
{
	return fmt_defs[f].ctx;
}

static unsigned fs_bits(const char *fs)
{
	if (strcasecmp(fs, "ext4") == 0)
		return FS_EXT4;
	if (strcasecmp(fs, "ext3") == 0 || strcasecmp(fs, "ext2") == 0)
		return FS_EXT23;
	if (strcasecmp(fs, "xfs") == 0)
		return FS_XFS;
	return 0;
}

int controller_check_fmt_for_fs(const struct controller_volume_params *p, bool block, const char *fs_type,
				const char *field, struct status *st)
{
	for (int f = 0; f < CONTROLLER_FMT_COUNT; f++) {
		if (p->fmt[f] == NULL)
			continue;
		if (block)
			return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s cannot be used with a block volume (%s)",
					  fmt_defs[f].param, field);
		if ((fs_bits(fs_type) & fmt_defs[f].fs) == 0)
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "parameter %s cannot be used with fs_type %s (%s.mount.fs_type)", fmt_defs[f].param,
					  fs_type, field);
	}
	return 0;
}

/* ---- value parsers ------------------------------------------------------------------- */

static bool prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* A decimal number in [min, max]. */
static int parse_num(const char *key, const char *v, unsigned long long min, unsigned long long max,
		     unsigned long long *out, struct status *st)
{
	if (v == NULL || v[0] < '0' || v[0] > '9')
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s: \"%s\" is not a number", key, v ? v : "");
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end != '\0' || errno != 0 || n < min || n > max)
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s: \"%s\" is not a number in [%llu, %llu]", key,
				  v, min, max);
	*out = n;
	return 0;
}

static int parse_i32(const char *key, const char *v, int32_t *out, struct status *st)
{
	unsigned long long n;
	if (parse_num(key, v, 1, INT32_MAX, &n, st) < 0)
		return -1;
	*out = (int32_t)n;
	return 0;
}

/* "true" or "false", any case. */
static int parse_bool(const char *key, const char *v, bool *out, struct status *st)
{
	if (v != NULL && strcasecmp(v, "true") == 0)
		*out = true;
	else if (v != NULL && strcasecmp(v, "false") == 0)
		*out = false;
	else
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s: \"%s\" is not true or false", key,
				  v ? v : "");
	return 0;
}

static int parse_type(const char *key, const char *v, const struct controller_volume_type **out, struct status *st)
{
	const struct controller_volume_type *t = controller_volume_type_find(v);
	if (t == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "parameter %s: \"%s\" is not an EBS volume type (gp3, gp2, io1, io2, st1, sc1, standard)",
				  key, v ? v : "");
	*out = t;
	return 0;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v ? v : "");
}

/* tagSpecification* entries are applied in key order, so that the same
 * StorageClass always yields the same tags whatever order the map came in. */
static int cmp_kv(const void *a, const void *b)
{
	const struct kvmap_entry *x = *(const struct kvmap_entry *const *)a;
	const struct kvmap_entry *y = *(const struct kvmap_entry *const *)b;
	return strcmp(x->key, y->key);
}

/* The parser of one key of a parameter map: returns 1 when key is a
 * tagSpecification (parse_map collects it), 0 when handled, -1 on error.
 * have_type: the map also sets "type". out: the RPC's parameter struct. */
typedef int (*param_fn)(const char *key, const char *v, bool have_type, void *out, struct status *st);

/* Runs fn over every entry of params (NULL: none) until the first error; the
 * tag specifications it reports are appended to tags in key order
 * (tagSpecification_1, _2, ...). Returns 0 or -1. */
static int parse_map(const struct kvmap *params, param_fn fn, void *out, struct strv *tags, struct status *st)
{
	if (params == NULL)
		return 0;
	bool have_type = kvmap_get(params, "type") != NULL;
	const struct kvmap_entry **specs = xcalloc(params->n ? params->n : 1, sizeof *specs);
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < params->n && rc == 0; i++) {
		int r = fn(params->kv[i].key, params->kv[i].value, have_type, out, st);
		if (r < 0)
			rc = -1;
		else if (r == 1)
			specs[n++] = &params->kv[i];
	}
	if (rc == 0) {
		qsort(specs, n, sizeof *specs, cmp_kv);
		for (size_t i = 0; i < n; i++)
			strv_push(tags, specs[i]->value ? specs[i]->value : "");
	}
	free(specs);
	return rc;
}

/* ---- CreateVolume ------------------------------------------------------------------------ */

void controller_volume_params_init(struct controller_volume_params *p)
{
	memset(p, 0, sizeof *p);
	p->type = controller_volume_type_find(CONTROLLER_DEFAULT_TYPE);
	p->allow_iops_increase_on_modify = -1;
	p->encrypted = -1;
	strv_init(&p->tag_specs);
}

void controller_volume_params_dispose(struct controller_volume_params *p)
{
	if (p == NULL)
		return;
	free(p->kms_key_id);
	for (int f = 0; f < CONTROLLER_FMT_COUNT; f++)
		free(p->fmt[f]);
	strv_dispose(&p->tag_specs);
	free(p->pvc_name);
	free(p->pvc_namespace);
	free(p->pv_name);
	memset(p, 0, sizeof *p);
}

/* One StorageClass parameter (a param_fn). */
static int volume_param(const char *key, const char *v, bool have_type, void *out, struct status *st)
{
	(void)have_type;
	struct controller_volume_params *p = out;
	bool b;
	if (prefix_ci(key, "tagSpecification"))
		return 1;
	if (strcasecmp(key, "type") == 0)
		return parse_type(key, v, &p->type, st);
	if (strcasecmp(key, "iops") == 0)
		return parse_i32(key, v, &p->iops, st);
	if (strcasecmp(key, "iopsPerGB") == 0)
		return parse_i32(key, v, &p->iops_per_gb, st);
	if (strcasecmp(key, "allowAutoIOPSPerGBIncrease") == 0)
		return parse_bool(key, v, &p->allow_iops_increase, st);
	if (strcasecmp(key, "allowAutoIOPSIncreaseOnModify") == 0) {
		if (parse_bool(key, v, &b, st) < 0)
			return -1;
		p->allow_iops_increase_on_modify = b;
		return 0;
	}
	if (strcasecmp(key, "throughput") == 0)
		return parse_i32(key, v, &p->throughput, st);
	if (strcasecmp(key, "encrypted") == 0) {
		if (parse_bool(key, v, &b, st) < 0)
			return -1;
		p->encrypted = b;
		return 0;
	}
	if (strcasecmp(key, "kmsKeyId") == 0) {
		if (v == NULL || v[0] == '\0')
			return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s is empty", key);
		set_str(&p->kms_key_id, v);
		return 0;
	}
	if (strcasecmp(key, "volumeInitializationRate") == 0)
		return parse_i32(key, v, &p->init_rate, st);
	if (strcasecmp(key, "blockAttachUntilInitialized") == 0)
		return parse_bool(key, v, &p->block_attach_until_initialized, st);
	if (strcasecmp(key, "csi.storage.k8s.io/pvc/name") == 0) {
		set_str(&p->pvc_name, v);
		return 0;
	}
	if (strcasecmp(key, "csi.storage.k8s.io/pvc/namespace") == 0) {
		set_str(&p->pvc_namespace, v);
		return 0;
	}
	if (strcasecmp(key, "csi.storage.k8s.io/pv/name") == 0) {
		set_str(&p->pv_name, v);
		return 0;
	}
	if (strcasecmp(key, "blockExpress") == 0 || strcasecmp(key, "fstype") == 0) {
		/* Deprecated and ignored, as upstream: every io2 is Block Express
		 * now, and the provisioner passes the fs type in the capability. */
		log_v(2, "CreateVolume: ignoring deprecated parameter %s", key);
		return 0;
	}
	for (int f = 0; f < CONTROLLER_FMT_COUNT; f++) {
		const struct fmt_def *d = &fmt_defs[f];
		if (strcasecmp(key, d->param) != 0)
			continue;
		if (d->boolean) {
			if (parse_bool(key, v, &b, st) < 0)
				return -1;
			free(p->fmt[f]);
			p->fmt[f] = b ? xstrdup("true") : NULL;
			return 0;
		}
		unsigned long long n;
		if (parse_num(key, v, d->min, d->max, &n, st) < 0)
			return -1;
		set_str(&p->fmt[f], v);
		return 0;
	}
	return status_set(st, STATUS_INVALID_ARGUMENT, "invalid parameter key %s for CreateVolume", key);
}

/* One mutable parameter (VolumeAttributesClass at creation). */
static int volume_mutable_param(const char *key, const char *v, bool have_type, void *out, struct status *st)
{
	struct controller_volume_params *p = out;
	if (prefix_ci(key, "tagSpecification"))
		return 1;
	if (strcasecmp(key, "type") == 0)
		return parse_type(key, v, &p->type, st);
	if (strcasecmp(key, "volumeType") == 0)
		return have_type ? 0 : parse_type(key, v, &p->type, st);
	if (strcasecmp(key, "iops") == 0) {
		/* Takes precedence over the StorageClass's iops or iopsPerGB. */
		p->iops_per_gb = 0;
		return parse_i32(key, v, &p->iops, st);
	}
	if (strcasecmp(key, "throughput") == 0)
		return parse_i32(key, v, &p->throughput, st);
	return status_set(st, STATUS_INVALID_ARGUMENT, "invalid mutable parameter key %s for CreateVolume", key);
}

int controller_parse_volume_params(const struct kvmap *params, const struct kvmap *mutable_params,
				   struct controller_volume_params *out, struct status *st)
{
	controller_volume_params_init(out);
	if (parse_map(params, volume_param, out, &out->tag_specs, st) < 0 ||
	    parse_map(mutable_params, volume_mutable_param, out, &out->tag_specs, st) < 0)
		return -1;

	const struct controller_volume_type *t = out->type;
	if (out->iops && out->iops_per_gb)
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameters iops and iopsPerGB exclude each other");
	if ((out->iops || out->iops_per_gb) && t->max_iops == 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s cannot be set for volume type %s",
				  out->iops ? "iops" : "iopsPerGB", t->name);
	if (out->throughput && !t->throughput)
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter throughput cannot be set for volume type %s",
				  t->name);
	if (out->fmt[CONTROLLER_FMT_EXT4_CLUSTER_SIZE] && !out->fmt[CONTROLLER_FMT_EXT4_BIGALLOC])
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter ext4ClusterSize needs ext4BigAlloc \"true\"");
	if (out->fmt[CONTROLLER_FMT_EXT4_ENCRYPTION])
		/* The node service cannot format with it: refuse now rather than
		 * make a volume no node will ever stage. */
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter ext4EncryptionSupport is not supported");
	return 0;
}

/* ---- ControllerModifyVolume --------------------------------------------------------------- */

void controller_modify_params_init(struct controller_modify_params *p)
{
	memset(p, 0, sizeof *p);
	p->allow_iops_increase_on_modify = -1;
	strv_init(&p->tag_specs);
	strv_init(&p->tag_deletions);
}

void controller_modify_params_dispose(struct controller_modify_params *p)
{
	if (p == NULL)
		return;
	strv_dispose(&p->tag_specs);
	strv_dispose(&p->tag_deletions);
	free(p->pvc_name);
	free(p->pvc_namespace);
	free(p->pv_name);
	memset(p, 0, sizeof *p);
}

static int modify_param(const char *key, const char *v, bool have_type, void *out, struct status *st)
{
	struct controller_modify_params *p = out;
	bool b;
	if (prefix_ci(key, "tagSpecification"))
		return 1;
	if (prefix_ci(key, "tagDeletion")) {
		if (v == NULL || v[0] == '\0')
			return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s: empty tag key", key);
		if (controller_tag_key_reserved(v))
			return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s: cannot delete reserved tag %s", key, v);
		strv_push(&p->tag_deletions, v);
		return 0;
	}
	if (strcasecmp(key, "type") == 0)
		return parse_type(key, v, &p->type, st);
	if (strcasecmp(key, "volumeType") == 0)
		return have_type ? 0 : parse_type(key, v, &p->type, st);
	if (strcasecmp(key, "iops") == 0)
		return parse_i32(key, v, &p->iops, st);
	if (strcasecmp(key, "throughput") == 0)
		return parse_i32(key, v, &p->throughput, st);
	if (strcasecmp(key, "iopsPerGB") == 0)
		return parse_i32(key, v, &p->iops_per_gb, st);
	if (strcasecmp(key, "allowAutoIOPSIncreaseOnModify") == 0) {
		if (parse_bool(key, v, &b, st) < 0)
			return -1;
		p->allow_iops_increase_on_modify = b;
		return 0;
	}
	if (strcasecmp(key, "csi.storage.k8s.io/pvc/name") == 0) {
		set_str(&p->pvc_name, v);
		return 0;
	}
	if (strcasecmp(key, "csi.storage.k8s.io/pvc/namespace") == 0) {
		set_str(&p->pvc_namespace, v);
		return 0;
	}
	if (strcasecmp(key, "csi.storage.k8s.io/pv/name") == 0) {
		set_str(&p->pv_name, v);
		return 0;
	}
	return status_set(st, STATUS_INVALID_ARGUMENT, "invalid mutable parameter key %s", key);
}

int controller_parse_modify_params(const struct kvmap *params, struct controller_modify_params *out,
				   struct status *st)
{
	controller_modify_params_init(out);
	if (parse_map(params, modify_param, out, &out->tag_specs, st) < 0)
		return -1;
	if (out->iops && out->iops_per_gb)
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameters iops and iopsPerGB exclude each other");
	if (out->type != NULL && (out->iops || out->iops_per_gb) && out->type->max_iops == 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s cannot be set for volume type %s",
				  out->iops ? "iops" : "iopsPerGB", out->type->name);
	if (out->type != NULL && out->throughput && !out->type->throughput)
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter throughput cannot be set for volume type %s",
				  out->type->name);
	return 0;
}

/* ---- CreateSnapshot ----------------------------------------------------------------------------- */

void controller_snapshot_params_init(struct controller_snapshot_params *p)
{
	memset(p, 0, sizeof *p);
	strv_init(&p->fsr_zones);
	strv_init(&p->tag_specs);
}

void controller_snapshot_params_dispose(struct controller_snapshot_params *p)
{
	if (p == NULL)
		return;
	strv_dispose(&p->fsr_zones);
	strv_dispose(&p->tag_specs);
	free(p->outpost_arn);
	free(p->vs_name);
	free(p->vs_namespace);
	free(p->vsc_name);
	memset(p, 0, sizeof *p);
}

/* arn:partition:service:region:account:resource — six parts, none empty but region. */
static bool arn_valid(const char *s)
{
	if (strncmp(s, "arn:", 4) != 0)
		return false;
	int colons = 0;
	for (const char *c = s; *c; c++)
		colons += *c == ':';
	const char *last = strrchr(s, ':');
	return colons >= 5 && last[1] != '\0' && s[4] != ':';
}

static int snapshot_param(const char *key, const char *v, bool have_type, void *out, struct status *st)
{
	(void)have_type;
	struct controller_snapshot_params *p = out;
	if (prefix_ci(key, "tagSpecification"))
		return 1;
	if (strcasecmp(key, "fastSnapshotRestoreAvailabilityZones") == 0) {
		strv_reset(&p->fsr_zones);
		strv_split(&p->fsr_zones, v ? v : "", ',', STRV_SPLIT_SKIP_EMPTY | STRV_SPLIT_TRIM);
		if (p->fsr_zones.n == 0)
			return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s names no zone", key);
		return 0;
	}
	if (strcasecmp(key, "outpostArn") == 0) {
		if (v == NULL || !arn_valid(v))
			return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s: \"%s\" is not an ARN", key,
					  v ? v : "");
		set_str(&p->outpost_arn, v);
		return 0;
	}
	if (prefix_ci(key, "lock"))
		return status_set(st, STATUS_INVALID_ARGUMENT, "parameter %s is not supported (snapshot locking)", key);
	if (strcasecmp(key, "csi.storage.k8s.io/volumesnapshot/name") == 0) {
		set_str(&p->vs_name, v);
		return 0;
	}
	if (strcasecmp(key, "csi.storage.k8s.io/volumesnapshot/namespace") == 0) {
		set_str(&p->vs_namespace, v);
		return 0;
	}
	if (strcasecmp(key, "csi.storage.k8s.io/volumesnapshotcontent/name") == 0) {
		set_str(&p->vsc_name, v);
		return 0;
	}
	return status_set(st, STATUS_INVALID_ARGUMENT, "invalid parameter key %s for CreateSnapshot", key);
}

int controller_parse_snapshot_params(const struct kvmap *params, struct controller_snapshot_params *out,
				     struct status *st)
{
	controller_snapshot_params_init(out);
	return parse_map(params, snapshot_param, out, &out->tag_specs, st);
}
