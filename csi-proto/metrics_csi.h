/*
 * metrics_csi: the CSI call observer (server.h's csi_call_observer_fn) that
 * turns every answered call into two metrics:
 *   csi_plugin_operations_seconds{driver_name,method_name,grpc_status_code}  histogram
 *   csi_plugin_operations_total{driver_name,method_name,grpc_status_code}    counter
 * These are the names, labels, label values and buckets that kubernetes-csi's
 * csi-lib-utils gives a CSI driver ("csi_plugin" subsystem), mirroring the
 * sidecars' csi_sidecar_operations_seconds: method_name is the full gRPC path
 * ("/csi.v1.Node/NodeStageVolume") and grpc_status_code Go's code name ("OK",
 * "InvalidArgument"), so dashboards built for CSI drivers and sidecars work,
 * and the driver's own time can be set beside what the sidecar measured.
 * Not here: anything about the request (volume ids are unbounded label values).
 */
#ifndef EBS_CSIPROTO_METRICS_CSI_H
#define EBS_CSIPROTO_METRICS_CSI_H

#include "common/metrics.h"
#include "csi-proto/server.h"

#include <stddef.h>
#include <stdint.h>

#define METRICS_CSI_SECONDS "csi_plugin_operations_seconds"
#define METRICS_CSI_TOTAL "csi_plugin_operations_total"

struct metrics_csi;

/* Registers the two families in m and returns the observer's context (free
 * with metrics_csi_free after the server has stopped). driver_name is copied.
 * table (n entries, the server's method table; copied) names the methods
 * recorded under their own path: any other path — the server reports what an
 * unregistered call asked for, which a client chooses freely — is recorded as
 * "(unknown)", so a client cannot create series at will. table NULL: every
 * path is recorded as given. */
struct metrics_csi *metrics_csi_new(struct metrics *m, const char *driver_name, const struct csi_method *table,
				    size_t n);
void metrics_csi_free(struct metrics_csi *mc);

/* The observer: pass it with its context as csi_server_opts.observer and
 * .observer_ctx. Records one call of method (a gRPC path) answered with code
 * after duration_us. Thread-safe. ctx NULL: no-op. */
void metrics_csi_observe(void *ctx, const char *method, int code, int64_t duration_us);

/* Go's name of a gRPC code ("OK", "Canceled", "InvalidArgument", …), the
 * values of grpc_status_code; "Code(<n>)" beyond 16, written into buf (n >= 16). */
const char *metrics_csi_code_name(int code, char *buf, size_t n);

#endif
