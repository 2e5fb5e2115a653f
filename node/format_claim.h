/*
 * format_claim: how the node service recognises its own interrupted mkfs.
 *
 * The problem: mkfs writes bitmaps, inode tables and journal before the
 * superblock that names the filesystem. A driver killed in between (OOM, a
 * pod restart, kill -9) leaves a device with bytes but no signature, which
 * the data-safety rule must treat as somebody's raw data and refuse forever.
 *
 * The answer: just before running mkfs on a blank device the mounter writes a
 * claim file naming that disk; it removes the claim once mkfs has finished and
 * before anything mounts the device. A claim that is still there therefore
 * says "the format this driver started on this disk did not complete, and
 * nothing has used the disk since" — so its content is mkfs's half-work, and
 * formatting it again loses nothing.
 *
 * A claim names one attachment of one disk in one boot: the kernel's boot id
 * and the disk sequence number (BLKGETDISKSEQ, Linux 5.15+), which the kernel
 * never reuses within a boot and renews whenever a disk (an NVMe namespace, a
 * loop device's backing file) appears. A volume detached and attached again,
 * or a node rebooted, no longer matches its claim, so a device that could
 * have been written somewhere else in between is refused as before. Without
 * diskseq (older kernels) no claim is written and an interrupted format is
 * refused as before, needing a manual wipe.
 *
 * Files live in <state_dir>/format-claims/<boot_id>-<diskseq>-<major>-<minor>; they are a few
 * hundred bytes, and need no fsync: they only count within the boot that
 * wrote them. Losing the state directory only loses the recovery, never
 * safety.
 */
#ifndef EBS_NODE_FORMAT_CLAIM_H
#define EBS_NODE_FORMAT_CLAIM_H

#include "common/status.h"

#include <stdbool.h>
#include <stdint.h>

/* One attachment of one disk in one boot. */
struct fclaim_disk {
	char boot_id[40];     /* /proc/sys/kernel/random/boot_id, without the newline */
	uint64_t diskseq;     /* never 0 for a real disk */
	unsigned dev_major, dev_minor;
};

/* Fills out for the block device open as fd (boot_id is the current boot's,
 * from fclaim_boot_id). Returns 0; -1 with UNIMPLEMENTED when the kernel has
 * no disk sequence numbers, INVALID_ARGUMENT when fd is not a block device,
 * INTERNAL otherwise. */
int fclaim_disk_of(int fd, const char *boot_id, struct fclaim_disk *out, struct status *st);

/* Reads the current boot id into out (at least 40 bytes). Returns 0; -1 with
 * INTERNAL when /proc cannot tell. */
int fclaim_boot_id(char *out, size_t n, struct status *st);

/* Writes (replacing any) the claim for d, naming device and fstype for the
 * human who finds it; once this returns 0, the claim is visible to any later
 * call in this boot. -1 with INTERNAL (or PERMISSION_DENIED) when it cannot. */
int fclaim_record(const char *state_dir, const struct fclaim_disk *d, const char *device, const char *fstype,
		  struct status *st);

/* *held = whether a claim for exactly d exists. A file under d's name whose
 * contents do not match d (damaged, or written by something else) is not a
 * claim: *held is false and a warning is logged. Returns -1 with INTERNAL only
 * when the file exists but cannot be read. */
int fclaim_held(const char *state_dir, const struct fclaim_disk *d, bool *held, struct status *st);

/* Removes the claim for d (none: 0). */
int fclaim_drop(const char *state_dir, const struct fclaim_disk *d, struct status *st);

/* Removes claims of other boots, which can never match again. Returns how many
 * were removed, -1 with INTERNAL when the directory cannot be read (missing:
 * 0). */
int fclaim_sweep(const char *state_dir, const char *boot_id, struct status *st);

#endif
