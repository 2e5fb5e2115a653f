/*
 * controller_wiring: builds the controller service for controller and all
 * modes — the AWS implementation of the cloud seam (HTTP, the credential chain,
 * region from the environment or IMDS) — and the Probe health check. Nothing is
 * sent to EC2 at start-up: Probe reports whether EC2 answers, so a driver
 * started before its credentials are ready recovers without a restart.
 */
#ifndef EBS_CMD_CONTROLLER_WIRING_H
#define EBS_CMD_CONTROLLER_WIRING_H

#include "cmd/options.h"
#include "common/status.h"

struct controller_runtime;
struct controller_service;
struct metrics;

/* Returns the runtime (its service in *svc), or NULL with st set:
 * INVALID_ARGUMENT for a bad flag (--extra-tags) or environment variable,
 * UNAVAILABLE when no region can be determined. metrics may be NULL. */
struct controller_runtime *controller_wiring_start(const struct driver_options *o, const char *version,
						   struct metrics *metrics, struct controller_service **svc,
						   struct status *st);

/* The identity health callback: EC2 reachable with these credentials (a cached
 * DescribeAvailabilityZones DryRun). ctx is the runtime. FAILED_PRECONDITION
 * with what to check otherwise. */
int controller_wiring_health(void *ctx, struct status *st);

/* Frees everything controller_wiring_start made. NULL is a no-op. */
void controller_wiring_stop(struct controller_runtime *rt);

#endif
