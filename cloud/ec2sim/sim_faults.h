/*
 * sim_faults: injected trouble — EC2's request throttling as token buckets
 * (aws-facts.md §3: one bucket per action, sized by its category), random
 * 500 InternalError / 503 Unavailable answers, added latency, dropped
 * connections and attachments stuck in "attaching".
 *
 * struct sim_bucket and sim_throttle_category are pure (time passed in) and
 * unit-tested. struct sim_faults is the live set: it has its own mutex, so the
 * HTTP threads consult it without the state lock, and its random draws come
 * from one seeded stream (--seed), so a run is reproducible given the same
 * request order. Everything is off by default.
 */
#ifndef EBS_EC2SIM_SIM_FAULTS_H
#define EBS_EC2SIM_SIM_FAULTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cloud/ec2sim/sim_form.h"

struct sim_bucket {
	double capacity;
	double refill;     /* tokens per second */
	double tokens;
	int64_t last_ms;
};

/* A full bucket. */
void sim_bucket_init(struct sim_bucket *b, double capacity, double refill, int64_t now_ms);
/* Refills for the time since the last call, then takes one token. Returns
 * false (and takes nothing) when the bucket is empty. */
bool sim_bucket_take(struct sim_bucket *b, int64_t now_ms);

/* EC2's bucket for one call: writes its capacity and refill rate, and the
 * bucket's name (the action, with ":unfiltered" for the smaller bucket of an
 * unfiltered and unpaginated Describe call) into name. */
void sim_throttle_category(const char *action, const struct sim_form *f, double *capacity, double *refill,
			   char *name, size_t cap);

enum sim_throttle_mode { SIM_THROTTLE_OFF = 0, SIM_THROTTLE_AWS, SIM_THROTTLE_CUSTOM };

/* The tunable knobs (flags, and /__sim/faults at run time). */
struct sim_fault_config {
	int throttle;               /* enum sim_throttle_mode */
	double custom_capacity;     /* SIM_THROTTLE_CUSTOM: every action gets this bucket */
	double custom_refill;
	double fail_rate;           /* 0..1: answer 500 InternalError or 503 Unavailable */
	double drop_rate;           /* 0..1: close the connection without an answer */
	double stuck_attach_rate;   /* 0..1: an attachment stays "attaching" */
	long latency_ms;            /* added to every EC2 call */
};

/* Parses a --throttle value: "off", "aws" or "CAPACITY/REFILL" (e.g. "10/1").
 * Returns 0, or -1 when malformed. */
int sim_fault_parse_throttle(const char *s, struct sim_fault_config *c);
/* Formats the throttle setting back ("off", "aws", "10/1"). */
void sim_fault_format_throttle(const struct sim_fault_config *c, char *out, size_t cap);

struct sim_named_bucket {
	char name[96];
	struct sim_bucket b;
};

struct sim_faults {
	pthread_mutex_t lock;
	struct sim_fault_config cfg;
	uint64_t rng;
	struct sim_named_bucket *buckets;
	size_t n_buckets;
};

void sim_faults_init(struct sim_faults *fs, const struct sim_fault_config *cfg, uint64_t seed);
void sim_faults_dispose(struct sim_faults *fs);
/* Replaces the configuration; buckets restart full. */
void sim_faults_set(struct sim_faults *fs, const struct sim_fault_config *cfg);
void sim_faults_get(struct sim_faults *fs, struct sim_fault_config *out);

/* True when this call is throttled (RequestLimitExceeded). */
bool sim_faults_throttled(struct sim_faults *fs, const char *action, const struct sim_form *f, int64_t now_ms);
/* True with probability p, from the seeded stream. */
bool sim_faults_draw(struct sim_faults *fs, double p);
/* A uniform 64-bit random value from the seeded stream. */
uint64_t sim_faults_random(struct sim_faults *fs);

#endif
