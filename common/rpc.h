/*
 * rpc: what a CSI handler knows about the call it serves, without gRPC.
 *
 * The server (csi-proto/server.c) fills one per call; handlers in controller/
 * and node/ read it to bound long waits by the caller's deadline and to stop
 * early when the caller has gone. All times are CLOCK_MONOTONIC milliseconds.
 * The struct is owned by the server and valid for the duration of the handler.
 */
#ifndef EBS_COMMON_RPC_H
#define EBS_COMMON_RPC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define RPC_NO_DEADLINE INT64_MAX

struct rpc_ctx {
	const char *method;        /* full gRPC path, "/csi.v1.Node/NodeGetInfo" */
	int64_t deadline_ms;       /* monotonic ms, RPC_NO_DEADLINE when the caller set none */
	const atomic_bool *cancelled; /* set by the server when the caller cancels or disconnects; may be NULL */
};

/* Monotonic clock in milliseconds. */
static inline int64_t rpc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* True when the caller cancelled or the deadline passed: stop working, the
 * answer will not be read. rc may be NULL (never cancelled). */
static inline bool rpc_done(const struct rpc_ctx *rc)
{
	if (rc == NULL)
		return false;
	if (rc->cancelled != NULL && atomic_load(rc->cancelled))
		return true;
	return rc->deadline_ms != RPC_NO_DEADLINE && rpc_now_ms() >= rc->deadline_ms;
}

/* Milliseconds left before the deadline (0 when passed), INT64_MAX with none. */
static inline int64_t rpc_remaining_ms(const struct rpc_ctx *rc)
{
	if (rc == NULL || rc->deadline_ms == RPC_NO_DEADLINE)
		return INT64_MAX;
	int64_t left = rc->deadline_ms - rpc_now_ms();
	return left > 0 ? left : 0;
}

#endif
