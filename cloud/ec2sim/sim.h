/*
 * sim: the running simulator — configuration, the state under one mutex, the
 * data path, faults and stats — and its life cycle: open (load the state
 * file, reconcile loop devices, start the ticker), advance (apply the
 * transitions that are due), save, close (persist, release devices).
 *
 * Locking: s->lock guards st and the data path; every EC2 call and the ticker
 * take it for their whole state work, so calls are serialised (EC2 semantics
 * need no finer grain at simulator rates). faults and stats have their own
 * locks and are used without s->lock. A mutation is acknowledged only after
 * sim_save succeeded under the same lock hold.
 */
#ifndef EBS_EC2SIM_SIM_H
#define EBS_EC2SIM_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cloud/ec2sim/sim_config.h"
#include "cloud/ec2sim/sim_data.h"
#include "cloud/ec2sim/sim_faults.h"
#include "cloud/ec2sim/sim_state.h"
#include "cloud/ec2sim/sim_stats.h"
#include "common/status.h"

struct sim {
	const struct sim_config *cfg;
	pthread_mutex_t lock;
	struct sim_state st;
	struct sim_data data;
	struct sim_faults faults;
	struct sim_stats stats;
	char *state_path;
	atomic_uint_fast64_t request_seq;
	/* ticker */
	pthread_t ticker;
	bool ticker_started;
	pthread_mutex_t tick_lock;
	pthread_cond_t tick_cond;
	bool stopping;
};

/* Current wall-clock time in milliseconds since the epoch. */
int64_t sim_now_ms(void);

/* Creates the state dir, loads state.json (or starts empty), prepares and
 * reconciles the data path. Does not start the ticker. Returns 0 or -1
 * (STATUS_INTERNAL, STATUS_DATA_LOSS for a corrupt state file,
 * STATUS_FAILED_PRECONDITION for --attach=loop without root). On failure
 * sim_close must still be called. */
int sim_open(struct sim *s, const struct sim_config *cfg, struct status *st);
/* Starts the thread that applies due transitions every 50 ms. */
int sim_start_ticker(struct sim *s, struct status *st);
/* Stops the ticker, applies due transitions, saves, releases loop devices,
 * frees everything. Returns 0, or -1 when the final save failed. */
int sim_close(struct sim *s, struct status *st);

/* With s->lock held: applies every transition due at now (creating →
 * available, attaching → attached with the loop device, detaching → gone,
 * modifications, snapshots), prunes old tombstones. Returns true when
 * anything changed (the caller saves). */
bool sim_advance(struct sim *s, int64_t now);
/* With s->lock held: writes the state file. */
int sim_save(struct sim *s, struct status *st);

/* A fresh request ID (UUID-shaped) into out (cap >= 37). */
void sim_request_id(struct sim *s, char *out, size_t cap);

#endif
