/*
 * sim_data: the real data path of --attach=loop — each volume is a sparse
 * file <state-dir>/volumes/<vol-id>.img of its size, each snapshot a sparse
 * copy <state-dir>/snapshots/<snap-id>.img, and an attached volume is a loop
 * device with the link <dev-dir>/nvme-Amazon_Elastic_Block_Store_vol<hex> →
 * /dev/loopN, what udev makes for an EBS volume on a Nitro instance.
 *
 * Loop devices are driven through losetup (common/exec, never a shell).
 * Invariants: only loop devices whose backing file lies in our volume
 * directory are ever detached, and only links of that name pattern that point
 * at /dev/loop* are ever removed; a volume file is never shrunk. With the data
 * path disabled (--attach=none) every function is a successful no-op.
 * Callers hold the simulator lock, so nothing here locks.
 */
#ifndef EBS_EC2SIM_SIM_DATA_H
#define EBS_EC2SIM_SIM_DATA_H

#include <stdbool.h>

#include "cloud/ec2sim/sim_state.h"
#include "common/status.h"

struct sim_data {
	bool enabled;
	char *vol_dir;   /* absolute */
	char *snap_dir;  /* absolute */
	char *dev_dir;
};

/* Prepares the directories under state_dir (absolute or relative) when
 * enabled. Returns 0, or -1 with STATUS_INTERNAL / STATUS_FAILED_PRECONDITION
 * (no losetup, not root). */
int sim_data_init(struct sim_data *d, bool enabled, const char *state_dir, const char *dev_dir, struct status *st);
void sim_data_dispose(struct sim_data *d);

/* The link name for a volume: "nvme-Amazon_Elastic_Block_Store_vol0123…". Heap. */
char *sim_data_link_name(const char *volume_id);

/* Creates the file of a new volume: a copy of snapshot_id's file (NULL: empty)
 * or of source_volume_id's (CopyVolumes; NULL: none), grown to size_gib.
 * Returns 0 or -1 (STATUS_INTERNAL). */
int sim_data_create_volume(struct sim_data *d, const char *id, int size_gib, const char *snapshot_id,
			   const char *source_volume_id, struct status *st);
int sim_data_snapshot(struct sim_data *d, const char *volume_id, const char *snapshot_id, struct status *st);
void sim_data_delete_volume(struct sim_data *d, const char *id);
void sim_data_delete_snapshot(struct sim_data *d, const char *id);
/* Grows the volume file to size_gib and, when loop_dev is set, tells the loop
 * device (losetup -c) so the kernel sees the new size. */
int sim_data_grow(struct sim_data *d, const char *id, int size_gib, const char *loop_dev, struct status *st);

/* Attaches the volume file (created sparse at size_gib if missing) to a free
 * loop device and makes the by-id link. *loop_dev gets "/dev/loopN" (heap).
 * Returns 0 or -1 (STATUS_INTERNAL with losetup's message). */
int sim_data_attach(struct sim_data *d, const char *id, int size_gib, char **loop_dev, struct status *st);
/* Removes the link and detaches the loop device (if loop_dev is not NULL). */
void sim_data_detach(struct sim_data *d, const char *id, const char *loop_dev);
/* True when loop_dev is mounted or held by another device (dm, md). */
bool sim_data_busy(const char *loop_dev);

/* Start-up and shutdown reconciliation. On start every attached attachment in
 * s gets its loop device back (an existing one backed by the same file is
 * adopted) and its link; loop devices on our files that s does not know are
 * detached, and stale links removed. release_all detaches everything we made. */
void sim_data_reconcile(struct sim_data *d, struct sim_state *s);
void sim_data_release_all(struct sim_data *d, struct sim_state *s);

#endif
