/*
 * sim_stats: request counters for /__sim/stats — per EC2 action and outcome
 * ("ok" or the error code), throttled and dropped calls, IMDS requests — so
 * tests and benchmarks can count the EC2 calls a driver makes.
 *
 * Thread-safe (own mutex). Counters only grow until sim_stats_reset; they are
 * not persisted (a restart starts from zero).
 */
#ifndef EBS_EC2SIM_SIM_STATS_H
#define EBS_EC2SIM_SIM_STATS_H

#include <pthread.h>

struct sim_stats {
	pthread_mutex_t lock;
	void *root;  /* json_t *: {"actions":{A:{outcome:n}},"total":n,"throttled":n,"dropped":n,"imds":n} */
};

void sim_stats_init(struct sim_stats *s);
void sim_stats_dispose(struct sim_stats *s);
/* Counts one EC2 call of action (NULL or "" counts as "-") with outcome. */
void sim_stats_count(struct sim_stats *s, const char *action, const char *outcome);
/* Bumps a top-level counter ("dropped", "imds"). */
void sim_stats_bump(struct sim_stats *s, const char *counter);
void sim_stats_reset(struct sim_stats *s);
/* The counters as a heap JSON string (free()). */
char *sim_stats_json(struct sim_stats *s);

#endif
