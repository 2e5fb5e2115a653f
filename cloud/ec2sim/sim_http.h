/*
 * sim_http: the simulator's HTTP listener on libmicrohttpd (one thread per
 * connection) and its routes: "/" the EC2 Query API (POST form, or GET query),
 * "/latest/…" IMDS, "/__sim/stats" and "/__sim/faults" (and "/__sim/state",
 * read-only) for tests and benchmarks.
 *
 * Every EC2 call is authenticated first (sim_auth), then subject to injected
 * latency and dropped connections; the control endpoints are unauthenticated,
 * which is why the listener is loopback by default. Bodies are capped at
 * 1 MiB (EC2's own limit is lower).
 */
#ifndef EBS_EC2SIM_SIM_HTTP_H
#define EBS_EC2SIM_SIM_HTTP_H

#include "cloud/ec2sim/sim.h"
#include "common/status.h"

struct sim_http;

/* Starts serving s on cfg->listen_host:cfg->port. Returns the server (its
 * port through sim_http_port), or NULL with STATUS_INTERNAL /
 * STATUS_INVALID_ARGUMENT (bad address). */
struct sim_http *sim_http_start(struct sim *s, struct status *st);
unsigned sim_http_port(const struct sim_http *h);
/* Stops accepting, waits for running requests, frees h. NULL is a no-op. */
void sim_http_stop(struct sim_http *h);

#endif
