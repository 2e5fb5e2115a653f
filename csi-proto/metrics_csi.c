/*
 * metrics_csi: see metrics_csi.h. The observer runs on the thread that
 * answered the call, after the answer was sent, so its cost (two family
 * locks, a short scan) never delays a reply. Buckets are csi-lib-utils' own:
 * series from different drivers can then be aggregated by le without mixing
 * bucket layouts, which would make histogram_quantile meaningless.
 */
#include "csi-proto/metrics_csi.h"

#include "common/xalloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double csi_buckets[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600 };

struct metrics_csi {
	struct metrics_family *seconds, *total;
	char *driver_name;
	char **known;  /* method paths recorded as themselves; NULL: all */
	size_t nknown;
};

const char *metrics_csi_code_name(int code, char *buf, size_t n)
{
	/* google.golang.org/grpc/codes Code.String() */
	static const char *const names[] = { "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
					     "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
					     "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
					     "Internal", "Unavailable", "DataLoss", "Unauthenticated" };
	if (code >= 0 && (size_t)code < sizeof names / sizeof names[0])
		snprintf(buf, n, "%s", names[code]);
	else
		snprintf(buf, n, "Code(%d)", code);
	return buf;
}

struct metrics_csi *metrics_csi_new(struct metrics *m, const char *driver_name, const struct csi_method *table,
				    size_t n)
{
	static const char *const labels[] = { "driver_name", "method_name", "grpc_status_code", NULL };
	struct metrics_csi *mc = xcalloc(1, sizeof *mc);
	mc->driver_name = xstrdup(driver_name ? driver_name : "");
	if (table != NULL) {
		mc->known = xcalloc(n ? n : 1, sizeof *mc->known);
		for (size_t i = 0; i < n; i++)
			mc->known[mc->nknown++] = xstrdup(table[i].path);
	}
	mc->seconds = metrics_histogram(m, METRICS_CSI_SECONDS,
					"Container Storage Interface operation duration with gRPC error code status total",
					labels, csi_buckets, sizeof csi_buckets / sizeof csi_buckets[0]);
	mc->total = metrics_counter(m, METRICS_CSI_TOTAL,
				    "Container Storage Interface operations answered, by method and gRPC status code",
				    labels);
	return mc;
}

void metrics_csi_free(struct metrics_csi *mc)
{
	if (mc == NULL)
		return;
	for (size_t i = 0; i < mc->nknown; i++)
		free(mc->known[i]);
	free(mc->known);
	free(mc->driver_name);
	free(mc);
}

void metrics_csi_observe(void *ctx, const char *method, int code, int64_t duration_us)
{
	struct metrics_csi *mc = ctx;
	if (mc == NULL)
		return;
	bool known = method != NULL && mc->known == NULL;
	for (size_t i = 0; method != NULL && !known && i < mc->nknown; i++)
		known = strcmp(mc->known[i], method) == 0;
	char cname[24];
	const char *values[] = { mc->driver_name, known ? method : "(unknown)",
				 metrics_csi_code_name(code, cname, sizeof cname) };
	metrics_histogram_observe(mc->seconds, values, (double)(duration_us < 0 ? 0 : duration_us) / 1e6);
	metrics_counter_inc(mc->total, values);
}
