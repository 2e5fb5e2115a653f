/*
 * server: the CSI gRPC server on the gRPC C core, serving a method table.
 *
 * This header is the whole contract and includes no gRPC header: the rest of the
 * program sees methods as (path, request descriptor, handler). A handler gets an
 * unpacked protobuf-c request and builds its response on the heap — every string,
 * repeated array and sub-message malloc'ed, never pointing into the request or at
 * a literal — because the server frees it with protobuf_c_message_free_unpacked()
 * after packing. Handlers may block for minutes; see server.c for the threading
 * model that keeps Probe and NodeGetInfo answered while they do.
 */
#ifndef EBS_CSIPROTO_SERVER_H
#define EBS_CSIPROTO_SERVER_H

#include "common/rpc.h"
#include "common/status.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns 0 with *resp set to a heap message, or -1 with st set (the server
 * then sends st's code and message; *resp is ignored and must be left NULL). */
typedef int (*csi_handler_fn)(void *svc, const struct rpc_ctx *rc, const ProtobufCMessage *req,
			      ProtobufCMessage **resp, struct status *st);

enum csi_lane {
	CSI_LANE_SLOW = 0,  /* may block on the cloud or the OS: bounded pool */
	CSI_LANE_FAST = 1,  /* answers from memory: own pool, never queued behind slow calls */
};

struct csi_method {
	const char *path;                            /* "/csi.v1.Identity/Probe" */
	const ProtobufCMessageDescriptor *request;   /* request type */
	csi_handler_fn handler;                      /* NULL → UNIMPLEMENTED */
	void *svc;                                   /* passed to handler */
	enum csi_lane lane;
};

/* Called once per answered call, from the thread that answered it (keep it
 * cheap and thread-safe): the method path ("(unknown)" for unregistered ones),
 * the gRPC code sent, and the time from accepting the call to answering it. */
typedef void (*csi_call_observer_fn)(void *ctx, const char *method, int code, int64_t duration_us);

struct csi_server_opts {
	const char *endpoint;     /* "unix:///path/csi.sock" or "tcp://host:port" */
	csi_call_observer_fn observer; /* NULL: none (metrics hook) */
	void *observer_ctx;
	int slow_workers;         /* max threads for CSI_LANE_SLOW (≥1) */
	int fast_workers;         /* max threads for CSI_LANE_FAST (≥1) */
	int max_queued;           /* slow calls waiting for a thread beyond which new ones get RESOURCE_EXHAUSTED */
};

struct csi_server;

/* Parses an endpoint URL. On success fills the gRPC address (heap, caller frees)
 * and, for unix endpoints, the socket path (heap or NULL). Sets INVALID_ARGUMENT
 * naming the endpoint when the scheme is not unix:// or tcp://, or a part is missing. */
int csi_endpoint_parse(const char *endpoint, char **grpc_addr, char **unix_path, struct status *st);

/* Creates and starts a server on opts->endpoint serving the n methods of table
 * (copied; svc pointers must outlive the server). For a unix endpoint the parent
 * directory is created, a stale socket removed (a live one → FAILED_PRECONDITION:
 * another process is serving it), and the socket made mode 0660.
 * Returns NULL with st set (INVALID_ARGUMENT, UNAVAILABLE, FAILED_PRECONDITION). */
struct csi_server *csi_server_start(const struct csi_method *table, size_t n,
				    const struct csi_server_opts *opts, struct status *st);

/* Stops accepting calls, lets calls in flight finish for up to grace_ms, then
 * cancels the rest, stops the threads and removes the unix socket. Frees srv.
 * Returns the number of calls that had to be cancelled. srv may be NULL. */
int csi_server_stop(struct csi_server *srv, int grace_ms);

/* Calls answered so far (any status). For tests and metrics. */
unsigned long csi_server_calls_total(const struct csi_server *srv);

/* Calls accepted and not yet finished (running or waiting for a thread). */
int csi_server_inflight(struct csi_server *srv);

#endif
