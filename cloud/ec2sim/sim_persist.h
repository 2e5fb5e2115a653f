/*
 * sim_persist: the state file — struct sim_state to and from JSON (jansson),
 * and its durable, atomic replacement on disk.
 *
 * sim_persist_save writes <path>.tmp, fsyncs it, renames it over <path> and
 * fsyncs the directory, so after it returns the new state survives a crash and
 * a reader never sees a half-written file. The JSON carries a "version" (1);
 * runtime-only fields (loop devices) are not stored. Loading is strict about
 * types (a corrupt file is an error, never a silently emptied world) and
 * tolerant of missing optional members.
 */
#ifndef EBS_EC2SIM_SIM_PERSIST_H
#define EBS_EC2SIM_SIM_PERSIST_H

#include "cloud/ec2sim/sim_state.h"
#include "common/status.h"

/* Serialises s as a heap JSON string (free()). */
char *sim_persist_dump(const struct sim_state *s);

/* Parses text into s (which must be initialised and empty). Returns 0, or -1
 * with STATUS_DATA_LOSS naming the bad member; s is left empty on failure. */
int sim_persist_parse(const char *text, struct sim_state *s, struct status *st);

/* Writes s to path atomically and durably. Returns 0, or -1 with
 * STATUS_INTERNAL (errno text). */
int sim_persist_save(const char *path, const struct sim_state *s, struct status *st);

/* Loads path into s (initialised, empty). A missing file leaves s as it is and
 * returns 0 with *found = false. Returns -1 with STATUS_INTERNAL (read error)
 * or STATUS_DATA_LOSS (corrupt). */
int sim_persist_load(const char *path, struct sim_state *s, bool *found, struct status *st);

#endif
