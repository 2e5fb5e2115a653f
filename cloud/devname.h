/*
 * devname: choosing the device name for AttachVolume (upstream-ebs-csi.md
 * §6.5, aws-facts.md §8.4).
 *
 * Candidates are upstream's ordered list: /dev/xvdaa-az, /dev/xvdba-bz,
 * /dev/xvdda-dx, /dev/xvdb-z, /dev/sdb-z, /dev/sda2. A name is free on an
 * instance when neither mapped there (the caller passes the mappings) nor
 * reserved by one of our attachments in flight. Among free names we prefer
 * fresh ones, then names a detach released recently (reusing one at once can
 * leave a volume stuck `attaching`), and only then names EC2 rejected as
 * "already in use" (devices the AMI made that DescribeInstances does not show).
 * Pure: no I/O, time passed in; thread-safe. Not here: EC2 calls, EBS cards.
 */
#ifndef EBS_CLOUD_DEVNAME_H
#define EBS_CLOUD_DEVNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

#define DEVNAME_MAX 16                          /* "/dev/xvdaa" + NUL fits */
#define DEVNAME_COUNT 127
#define DEVNAME_DEFAULT_BAD_TTL_MS (60 * 60 * 1000)     /* upstream: 1 h per node */
#define DEVNAME_DEFAULT_RECENT_TTL_MS (5 * 60 * 1000)

/* The i-th candidate (static string), or NULL when i >= DEVNAME_COUNT. */
const char *devname_at(size_t i);
/* True when name is one of the candidates. */
bool devname_is_candidate(const char *name);

struct devname_options {
	int64_t bad_ttl_ms;      /* how long a rejected name is avoided; 0 -> default */
	int64_t recent_ttl_ms;   /* how long a released name is avoided; 0 -> default */
};

struct devname;

/* A new allocator with no reservations (devname_free). o may be NULL. */
struct devname *devname_new(const struct devname_options *o);
/* Frees everything; NULL is a no-op. */
void devname_free(struct devname *d);

/* Reserves a name for volume_id on instance_id and copies it into out. When
 * the volume already holds a reservation there, that name is returned again
 * (a retried attach keeps its name). in_use: the instance's mapped device names
 * (borrowed; may hold names outside the list). now_ms: any monotonic clock, the
 * same for every call. Returns 0, or -1 with STATUS_RESOURCE_EXHAUSTED when
 * every candidate is in use or reserved. */
int devname_reserve(struct devname *d, const char *instance_id, const char *volume_id, const char *const *in_use,
		    size_t n_in_use, int64_t now_ms, char out[DEVNAME_MAX], struct status *st);

/* Drops the reservation of volume_id on instance_id, if any (the attach ended:
 * the name is now in the instance's mappings, or the attach failed cleanly). */
void devname_release(struct devname *d, const char *instance_id, const char *volume_id);

/* The name reserved for volume_id on instance_id into out; false when none. */
bool devname_reserved_name(struct devname *d, const char *instance_id, const char *volume_id,
			   char out[DEVNAME_MAX]);

/* EC2 rejected name on instance_id as "already in use": avoid it for the bad
 * TTL. */
void devname_mark_rejected(struct devname *d, const char *instance_id, const char *name, int64_t now_ms);

/* An attach with name succeeded on instance_id: it is no longer suspect. */
void devname_mark_good(struct devname *d, const char *instance_id, const char *name);

/* name was freed on instance_id by a detach: prefer other names for a while. */
void devname_note_released(struct devname *d, const char *instance_id, const char *name, int64_t now_ms);

/* Reservations held on instance_id (tests, metrics). */
size_t devname_reservations(struct devname *d, const char *instance_id);

#endif
