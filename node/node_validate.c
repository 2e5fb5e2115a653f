/*
 * node_validate: request checks shared by the node handlers, and parsing of
 * the volume_context keys the node acts on (partition, formatting options).
 *
 * Everything here is pure: it reads the request and the service's immutable
 * configuration and sets INVALID_ARGUMENT naming the offending field, which
 * the CSI spec requires for a missing or invalid field (§Error Scheme). It
 * does not decide whether a volume exists or is staged: that is the mount
 * table's answer, asked by the handlers.
 * Paths are checked lexically (absolute, no "..", inside the kubelet root):
 * the handlers create and remove paths, so a request must not be able to
 * steer them outside the directories kubelet manages.
 */
#include "node/node_internal.h"

#include "common/strv.h"
#include "common/xalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int node_check_volume_id(const char *volume_id, struct status *st)
{
	if (volume_id == NULL || volume_id[0] == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "volume_id is required");
	return 0;
}

/* Whether path has a ".." component. */
static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
		bool starts = p == path || p[-1] == '/';
		bool ends = p[2] == '\0' || p[2] == '/';
		if (starts && ends)
			return true;
	}
	return false;
}

int node_check_path(const struct node_service *svc, const char *field, const char *path, struct status *st)
{
	if (path == NULL || path[0] == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is required", field);
	if (path[0] != '/')
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s \"%s\" is not an absolute path", field, path);
	if (strlen(path) >= PATH_MAX)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is longer than %d bytes", field, PATH_MAX - 1);
	if (has_dotdot(path))
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s \"%s\" contains \"..\"", field, path);
	const char *root = svc->kubelet_root;
	size_t len = root != NULL ? strlen(root) : 0;
	while (len > 1 && root[len - 1] == '/')
		len--;
	if (len > 1) { /* "/" (or none) puts no bound on an absolute path */
		bool inside = strncmp(path, root, len) == 0 && path[len] == '/' && path[len + 1] != '\0';
		if (!inside)
			return status_set(st, STATUS_INVALID_ARGUMENT, "%s \"%s\" is outside the kubelet root %.*s", field,
					  path, (int)len, root);
	}
	return 0;
}

void node_cap_dispose(struct node_cap *cap)
{
	if (cap == NULL)
		return;
	free(cap->mount_options);
	cap->mount_options = NULL;
}

/* Mount flags that would turn the mount we make into another operation. */
static bool flag_forbidden(const char *flag)
{
	static const char *const bad[] = { "bind", "rbind", "remount", "move", "make-shared", "make-private" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (mounter_options_have(flag, bad[i]))
			return true;
	return false;
}

int node_check_capability(const Csi__V1__VolumeCapability *cap, const char *field, struct node_cap *out,
			  struct status *st)
{
	memset(out, 0, sizeof *out);
	if (cap == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is required", field);
	if (cap->access_mode == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s.access_mode is required", field);
	if (cap->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK && cap->block != NULL)
		out->block = true;
	else if (cap->access_type_case != CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT || cap->mount == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s.access_type (block or mount) is required", field);
	out->mode = cap->access_mode->mode;
	switch (cap->access_mode->mode) {
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_SINGLE_WRITER:
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER:
		break;
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY:
		out->reader_only = true;
		break;
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER:
		/* io2 multi-attach: several nodes may write the raw device (their
		 * application coordinates); a filesystem mounted on two nodes
		 * would be corrupted, so only block (upstream §1.5). */
		if (!out->block)
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "%s.access_mode MULTI_NODE_MULTI_WRITER is only supported for block volumes", field);
		break;
	default:
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s.access_mode %d is not supported by EBS", field,
				  (int)cap->access_mode->mode);
	}
	if (out->block) {
		out->mount_options = xstrdup("");
		return 0;
	}
	out->fstype = mounter_fstype_canonical(cap->mount->fs_type);
	if (out->fstype == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "%s.mount.fs_type \"%s\" is not supported (ext2, ext3, ext4, xfs)", field,
				  cap->mount->fs_type);
	struct strv flags;
	strv_init(&flags);
	size_t total = 0;
	int rc = 0;
	for (size_t i = 0; i < cap->mount->n_mount_flags && rc == 0; i++) {
		const char *f = cap->mount->mount_flags[i];
		total += f ? strlen(f) : 0;
		if (f == NULL || f[0] == '\0')
			continue;
		/* The values may be sensitive (spec): name the index, not the flag. */
		if (flag_forbidden(f))
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "%s.mount.mount_flags[%zu] is not allowed", field, i);
		else
			strv_split(&flags, f, ',', STRV_SPLIT_SKIP_EMPTY | STRV_SPLIT_TRIM);
	}
	if (rc == 0 && total > 4096)
		rc = status_set(st, STATUS_INVALID_ARGUMENT, "%s.mount.mount_flags exceed 4 KiB", field);
	if (rc == 0 && out->reader_only && !strv_contains(&flags, "ro"))
		strv_push(&flags, "ro");
	strv_uniq(&flags);
	out->mount_options = strv_join(&flags, ",");
	strv_dispose(&flags);
	return rc;
}


/* A decimal number in [min, max]; "" counts as absent. Returns 1 when set,
 * 0 when absent, -1 with INVALID_ARGUMENT naming key. */
static int parse_num(const struct kvmap *vc, const char *key, unsigned long long min, unsigned long long max,
		     unsigned long long *out, struct status *st)
{
	const char *v = kvmap_get(vc, key);
	*out = 0;
	if (v == NULL || v[0] == '\0')
		return 0;
	if (v[0] < '0' || v[0] > '9')
		return status_set(st, STATUS_INVALID_ARGUMENT, "volume_context %s \"%s\" is not a number", key, v);
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end != '\0' || errno != 0 || n < min || n > max)
		return status_set(st, STATUS_INVALID_ARGUMENT, "volume_context %s \"%s\" is not a number in [%llu, %llu]",
				  key, v, min, max);
	*out = n;
	return 1;
}

/* "true"/"false" (any case) or absent. Returns 0; -1 with INVALID_ARGUMENT. */
static int parse_bool(const struct kvmap *vc, const char *key, bool *out, struct status *st)
{
	const char *v = kvmap_get(vc, key);
	*out = false;
	if (v == NULL || v[0] == '\0' || strcasecmp(v, "false") == 0)
		return 0;
	if (strcasecmp(v, "true") == 0) {
		*out = true;
		return 0;
	}
	return status_set(st, STATUS_INVALID_ARGUMENT, "volume_context %s \"%s\" is not true or false", key, v);
}

int node_parse_partition(const struct kvmap *vc, int *partition, struct status *st)
{
	unsigned long long n;
	*partition = 0;
	if (parse_num(vc, "partition", 0, 4096, &n, st) < 0)
		return -1;
	*partition = (int)n;
	return 0;
}

int node_parse_format(const struct kvmap *vc, const char *fstype, bool legacy_xfs,
		      struct mounter_format_opts *fmt, struct status *st)
{
	memset(fmt, 0, sizeof *fmt);
	fmt->fstype = fstype;
	unsigned long long v;
	if (parse_num(vc, "blockSize", 512, 65536, &v, st) < 0)
		return -1;
	fmt->block_size = (uint32_t)v;
	if (parse_num(vc, "inodeSize", 128, 65536, &v, st) < 0)
		return -1;
	fmt->inode_size = (uint32_t)v;
	if (parse_num(vc, "bytesPerInode", 1024, UINT32_MAX, &v, st) < 0)
		return -1;
	fmt->bytes_per_inode = (uint32_t)v;
	if (parse_num(vc, "numberOfInodes", 1, UINT64_MAX, &v, st) < 0)
		return -1;
	fmt->number_of_inodes = v;
	if (parse_bool(vc, "ext4BigAlloc", &fmt->ext4_bigalloc, st) < 0)
		return -1;
	if (parse_num(vc, "ext4ClusterSize", 1024, UINT32_MAX, &v, st) < 0)
		return -1;
	fmt->ext4_cluster_size = (uint32_t)v;
	bool encrypt;
	if (parse_bool(vc, "ext4EncryptionSupport", &encrypt, st) < 0)
		return -1;
	if (encrypt)
		return status_set(st, STATUS_INVALID_ARGUMENT, "volume_context ext4EncryptionSupport is not supported");
	bool is_xfs = strcmp(fstype, "xfs") == 0;
	/* Say which key does not fit, before mkfs argument building would
	 * reject the combination less precisely. */
	if (is_xfs && fmt->bytes_per_inode)
		return status_set(st, STATUS_INVALID_ARGUMENT, "volume_context bytesPerInode does not apply to xfs");
	if (is_xfs && fmt->number_of_inodes)
		return status_set(st, STATUS_INVALID_ARGUMENT, "volume_context numberOfInodes does not apply to xfs");
	if (strcmp(fstype, "ext4") != 0 && fmt->ext4_bigalloc)
		return status_set(st, STATUS_INVALID_ARGUMENT, "volume_context ext4BigAlloc needs fs_type ext4, not %s", fstype);
	if (strcmp(fstype, "ext4") != 0 && fmt->ext4_cluster_size)
		return status_set(st, STATUS_INVALID_ARGUMENT, "volume_context ext4ClusterSize needs fs_type ext4, not %s",
				  fstype);
	if (fmt->ext4_cluster_size && !fmt->ext4_bigalloc)
		return status_set(st, STATUS_INVALID_ARGUMENT, "volume_context ext4ClusterSize needs ext4BigAlloc true");
	fmt->xfs_legacy = is_xfs && legacy_xfs;
	return 0;
}
