/*
 * devpath: which block device on this node is EBS volume vol-…, and proof
 * that it really is that volume before anything reads or writes it.
 *
 * Discovery (upstream's FindDevicePath, reference §6.6): the udev link
 * <by-id>/nvme-Amazon_Elastic_Block_Store_vol<hex> (or its "_1" variant, which
 * udev creates for the second namespace path), else the controller's
 * publish_context devicePath; links are resolved to the canonical /dev node.
 *
 * Proof (DESIGN.md §6): an NVMe device's controller serial in sysfs must equal
 * the volume id without its dash (EBS reports "vol0123…"); a mismatch is
 * refused naming both. A device the volume's by-id link resolves to counts as
 * proven (that is how the simulator's loop devices appear). Anything else is
 * refused unless the caller explicitly trusts device paths (Xen instances,
 * which have neither serials nor links).
 *
 * Not here: attaching, partition tables, mounting. Directories are
 * configurable so tests run on a temporary tree; nothing is cached, every call
 * looks at the filesystem afresh.
 */
#ifndef EBS_NODE_DEVPATH_H
#define EBS_NODE_DEVPATH_H

#include "common/status.h"

#include <stdbool.h>
#include <stddef.h>

#define DEVPATH_DEFAULT_BY_ID_DIR "/dev/disk/by-id"
#define DEVPATH_DEFAULT_SYSFS_ROOT "/sys"
#define DEVPATH_BY_ID_PREFIX "nvme-Amazon_Elastic_Block_Store_"

struct devpath_opts {
	const char *by_id_dir;   /* NULL: DEVPATH_DEFAULT_BY_ID_DIR */
	const char *sysfs_root;  /* NULL: DEVPATH_DEFAULT_SYSFS_ROOT */
	bool trust_device_path;  /* accept a non-NVMe device without a by-id link (Xen); default false */
};

/* Pure: "vol-" followed by 8 or 17 lower-case hex digits. */
bool devpath_volume_id_valid(const char *volume_id);

/* Pure: the NVMe serial EBS reports for volume_id ("vol-0abc" → "vol0abc")
 * into out (size n). Returns 0; -1 with INVALID_ARGUMENT for a malformed id. */
int devpath_serial_of_volume(const char *volume_id, char *out, size_t n, struct status *st);

/* Pure: whether serial (as read from sysfs: surrounding blanks ignored) names
 * volume_id. False for a malformed volume id. */
bool devpath_serial_matches(const char *serial, const char *volume_id);

/*
 * Finds the device of volume_id: by-id links first, then device_path_hint
 * (publish_context devicePath; NULL or "" when absent). Returns the canonical
 * device node (heap, caller frees) and sets *via_link (may be NULL) when it
 * was found through the volume's own by-id link. Returns NULL with
 * INVALID_ARGUMENT (malformed id) or NOT_FOUND (nothing found, or what was
 * found is not a block device). Does not prove identity: see devpath_verify.
 */
char *devpath_find(const struct devpath_opts *opts, const char *volume_id, const char *device_path_hint,
		   bool *via_link, struct status *st);

/*
 * Proves that device (a canonical /dev node, as devpath_find returns) is
 * volume_id. Returns 0 when proven; -1 with FAILED_PRECONDITION (serial names
 * another volume, or no proof available and trust_device_path is off),
 * INVALID_ARGUMENT (malformed id).
 */
int devpath_verify(const struct devpath_opts *opts, const char *volume_id, const char *device, struct status *st);

/* devpath_find + devpath_verify: the device of volume_id, proven. Heap string
 * or NULL with any code the two set. */
char *devpath_resolve(const struct devpath_opts *opts, const char *volume_id, const char *device_path_hint,
		      struct status *st);

/* Pure: the node of partition number part (> 0) of device: "/dev/nvme1n1" →
 * "/dev/nvme1n1p2", "/dev/xvdf" → "/dev/xvdf2" (a name ending in a digit takes
 * "p"). Heap string; NULL with INVALID_ARGUMENT when part <= 0. */
char *devpath_partition(const char *device, int part, struct status *st);

#endif
