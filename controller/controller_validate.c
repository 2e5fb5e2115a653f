/*
 * controller_validate: request checks shared by the controller handlers —
 * required fields, CSI names, the shape of EC2 ids, volume capabilities and
 * capacity ranges.
 *
 * Pure: it reads the request and sets INVALID_ARGUMENT naming the field (the
 * CSI spec's code for a missing or invalid field, §Error Scheme), or
 * OUT_OF_RANGE for a capacity that cannot be met. Whether a volume exists is
 * EC2's answer, asked by the handlers afterwards; but an id that cannot be an
 * EC2 id is known not to exist without asking (controller_id_valid).
 */
#include "controller/controller_internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int controller_check_required(const char *s, const char *field, struct status *st)
{
	if (s == NULL || s[0] == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is required", field);
	return 0;
}

int controller_check_name(const char *name, const char *field, struct status *st)
{
	if (controller_check_required(name, field, st) < 0)
		return -1;
	if (strlen(name) > 128)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is longer than 128 bytes", field);
	/* CSI §Field Requirements: U+0000–U+0008, U+000B, U+000C, U+000E–U+001F
	 * and U+007F–U+009F are not allowed (the last range is C2 80..C2 9F in
	 * UTF-8). */
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		bool bad = (*c < 0x20 && *c != '\t' && *c != '\n' && *c != '\r') || *c == 0x7f ||
			   (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f);
		if (bad)
			return status_set(st, STATUS_INVALID_ARGUMENT, "%s contains a control character", field);
	}
	return 0;
}

bool controller_id_valid(const char *id, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (id == NULL || strncmp(id, prefix, pl) != 0)
		return false;
	size_t n = strlen(id + pl);
	if (n == 0 || n > 32)
		return false;
	for (const char *c = id + pl; *c; c++)
		if (!isalnum((unsigned char)*c))
			return false;
	return true;
}

int controller_check_capability(const Csi__V1__VolumeCapability *cap, const char *field,
				struct controller_cap *out, struct status *st)
{
	struct controller_cap c = { 0 };
	if (cap == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is required", field);
	if (cap->access_mode == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s.access_mode is required", field);
	if (cap->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK && cap->block != NULL)
		c.block = true;
	else if (cap->access_type_case != CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT || cap->mount == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s.access_type (block or mount) is required", field);
	switch (cap->access_mode->mode) {
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_WRITER:
		break;
	case CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER:
		/* io2 multi-attach: several nodes may write the raw device; a
		 * filesystem mounted on two nodes would be corrupted (§1.5). */
		if (!c.block)
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "%s.access_mode MULTI_NODE_MULTI_WRITER is only supported for block volumes",
					  field);
		c.multi_node = true;
		break;
	default:
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "%s.access_mode %d is not supported (SINGLE_NODE_WRITER, or MULTI_NODE_MULTI_WRITER "
				  "with block)",
				  field, (int)cap->access_mode->mode);
	}
	if (!c.block) {
		const char *fs = cap->mount->fs_type ? cap->mount->fs_type : "";
		static const char *const known[] = { "", "ext2", "ext3", "ext4", "xfs" };
		bool ok = false;
		for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
			ok = ok || strcasecmp(fs, known[i]) == 0;
		if (!ok)
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "%s.mount.fs_type \"%s\" is not supported (ext2, ext3, ext4, xfs)", field, fs);
		c.fs_type = fs;
	}
	if (out != NULL)
		*out = c;
	return 0;
}

int controller_size_gib(const Csi__V1__CapacityRange *cr, const struct controller_volume_type *t,
			int64_t default_gib, int64_t *gib, struct status *st)
{
	int64_t req = cr ? cr->required_bytes : 0, lim = cr ? cr->limit_bytes : 0;
	if (req < 0 || lim < 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "capacity_range: negative values are not allowed");
	if (lim > 0 && req > lim)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "capacity_range: required_bytes %lld is larger than limit_bytes %lld", (long long)req,
				  (long long)lim);
	int64_t lim_gib = lim > 0 ? lim / CONTROLLER_GIB : INT64_MAX;
	int64_t size;
	if (req > 0) {
		size = req / CONTROLLER_GIB + (req % CONTROLLER_GIB != 0);
	} else {
		/* No lower bound: the default, or what the limit leaves room for. */
		size = default_gib < lim_gib ? default_gib : lim_gib;
	}
	/* Raising to the type's minimum still honours required_bytes (a
	 * lower bound); EC2 would refuse anything smaller anyway. */
	if (t != NULL && size < t->min_gib)
		size = t->min_gib;
	if (size < 1 || size > lim_gib)
		return status_set(st, STATUS_OUT_OF_RANGE,
				  "capacity_range: no whole number of GiB%s%s fits between required_bytes %lld and "
				  "limit_bytes %lld",
				  t ? " allowed for " : "", t ? t->name : "", (long long)req, (long long)lim);
	if (t != NULL && size > t->max_gib)
		return status_set(st, STATUS_OUT_OF_RANGE, "capacity_range: %lld GiB is more than %s volumes allow (%lld GiB)",
				  (long long)size, t->name, (long long)t->max_gib);
	*gib = size;
	return 0;
}
