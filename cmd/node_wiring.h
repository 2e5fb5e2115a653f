/*
 * node_wiring: builds the node service for node and all modes — the HTTP
 * client, IMDS (the instance's identity: node_id, zone, type, ENIs), the Linux
 * mounter — and tears it down. The instance data are fetched once at start:
 * a node that cannot tell which instance it is must not serve (kubelet would
 * register a node id it cannot honour), so failure stops the driver.
 */
#ifndef EBS_CMD_NODE_WIRING_H
#define EBS_CMD_NODE_WIRING_H

#include "cmd/options.h"
#include "common/instance_info.h"
#include "common/status.h"

#include <stdint.h>

struct node_runtime;
struct node_service;

/* Returns the runtime (its service in *svc), or NULL with st set: UNAVAILABLE
 * when IMDS cannot be reached within deadline_ms (monotonic), INVALID_ARGUMENT
 * for a bad flag combination or environment variable. */
struct node_runtime *node_wiring_start(const struct driver_options *o, const char *version, int64_t deadline_ms,
				       struct node_service **svc, struct status *st);
/* The instance identity the node service serves. Borrowed from rt. */
const struct instance_info *node_wiring_instance(const struct node_runtime *rt);

/* Frees everything node_wiring_start made. NULL is a no-op. */
void node_wiring_stop(struct node_runtime *rt);

#endif
