/*
 * metrics: a thread-safe registry of Prometheus metrics and their text
 * exposition (format 0.0.4, what /metrics serves). It holds families updated
 * as things happen (counters, gauges, histograms with fixed label names, one
 * series per list of label values, made on first use) and collectors run at
 * scrape time (process figures, NVMe statistics). metrics_render() merges
 * both, groups samples by family and orders families by name and series by
 * labels, so the output is stable byte for byte.
 *
 * No global registry: the program makes one and hands it to whoever records.
 * Registration mistakes (a bad name, a name re-registered with another shape)
 * are programming errors and abort. A family holds at most METRICS_MAX_SERIES
 * series (more are dropped, logged once), so labels fed from outside data
 * cannot grow memory without bound. Label values never carry secrets.
 */
#ifndef EBS_COMMON_METRICS_H
#define EBS_COMMON_METRICS_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metrics_type {
	METRICS_COUNTER = 0,
	METRICS_GAUGE = 1,
	METRICS_HISTOGRAM = 2,
};

/* Series per family beyond which new label combinations are dropped. */
#define METRICS_MAX_SERIES 2000

/* Prometheus' default histogram buckets (.005 … 10 seconds), as client_golang's
 * DefBuckets, which upstream's aws_ebs_csi_api_request_duration_seconds uses. */
extern const double metrics_default_buckets[];
#define METRICS_DEFAULT_BUCKETS_N 11

struct metrics;
struct metrics_family;
struct metrics_writer;

/* One label of a sample a collector emits. */
struct metrics_label {
	const char *name;
	const char *value;
};

/* A collector: called once per scrape, from the scraping thread, possibly from
 * several threads at once (make it thread-safe), with no registry lock held.
 * It emits samples into w with metrics_emit*; what it records into the
 * registry's own families would only show from the next scrape. */
typedef void (*metrics_collect_fn)(void *ctx, struct metrics_writer *w);

/* Returns a new empty registry (never NULL). */
struct metrics *metrics_new(void);
/* Frees the registry and its families. Collector contexts are not the
 * registry's: their owners free them after this. NULL is a no-op. Nobody may
 * be recording or scraping. */
void metrics_free(struct metrics *m);

/*
 * Registers a family, or returns the one already registered under name when
 * its type, label names (and buckets) are the same — so independent modules
 * may each "register" what they use. labels is a NULL-terminated list of label
 * names (NULL for none); name, help and labels are copied. A family without
 * labels has its one series from the start (it shows 0 before any update).
 * Histogram bounds must be finite and strictly increasing; +Inf is implicit.
 * Returns the family (owned by m, valid until metrics_free). Aborts on an
 * invalid name, label name ("le" is reserved in histograms) or a conflicting
 * re-registration.
 */
struct metrics_family *metrics_counter(struct metrics *m, const char *name, const char *help,
				       const char *const *labels);
struct metrics_family *metrics_gauge(struct metrics *m, const char *name, const char *help,
				     const char *const *labels);
struct metrics_family *metrics_histogram(struct metrics *m, const char *name, const char *help,
					 const char *const *labels, const double *bounds, size_t nbounds);

/* The family registered under name, or NULL. */
struct metrics_family *metrics_find(struct metrics *m, const char *name);

/*
 * Updates the series named by values: an array of exactly as many label values
 * as the family has label names, in the same order (NULL when it has none;
 * a NULL value counts as ""). Values are copied on first use.
 * counter_add ignores negative, NaN and infinite amounts (a counter never goes
 * down); histogram_observe ignores NaN. An update on the wrong type of family
 * is ignored. Thread-safe; f may be NULL (no-op), so optional metrics cost
 * callers no branch.
 */
void metrics_counter_add(struct metrics_family *f, const char *const *values, double v);
void metrics_counter_inc(struct metrics_family *f, const char *const *values);
void metrics_gauge_set(struct metrics_family *f, const char *const *values, double v);
void metrics_gauge_add(struct metrics_family *f, const char *const *values, double v);
void metrics_histogram_observe(struct metrics_family *f, const char *const *values, double v);
/* Creates the series at zero without changing it, so dashboards see it before
 * the first event (upstream pre-initialises its EC2 request series). */
void metrics_touch(struct metrics_family *f, const char *const *values);

/* Reads one series: a counter's or gauge's value, a histogram's count. 0 when
 * the series does not exist. For tests and for callers that derive values. */
double metrics_value(struct metrics_family *f, const char *const *values);
/* Series the family holds now. */
size_t metrics_series_count(struct metrics_family *f);

/* Adds a collector (fn, ctx); ctx must outlive the registry or be released
 * only after metrics_free. */
void metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *ctx);
/* A label-less gauge whose value fn computes at each scrape. */
void metrics_gauge_func(struct metrics *m, const char *name, const char *help, double (*fn)(void *ctx), void *ctx);

/*
 * For collectors: emit one counter or gauge sample (type METRICS_COUNTER or
 * METRICS_GAUGE) with nlabels labels into family name (help is used when the
 * family first appears in this scrape). Samples of one name from any number
 * of calls and collectors end up in one family; a sample whose type differs
 * from the family's, or that repeats a series already emitted, is dropped.
 */
void metrics_emit(struct metrics_writer *w, const char *name, const char *help, enum metrics_type type,
		  const struct metrics_label *labels, size_t nlabels, double value);
/* Emits a histogram sample computed elsewhere: nbounds finite increasing upper
 * bounds with their CUMULATIVE counts (the +Inf bucket is count), sum and count. */
void metrics_emit_histogram(struct metrics_writer *w, const char *name, const char *help,
			    const struct metrics_label *labels, size_t nlabels, const double *bounds,
			    const uint64_t *cumulative, size_t nbounds, double sum, uint64_t count);

/* Appends the text exposition of everything in m (families with at least one
 * series, then what the collectors emit) to out. Thread-safe; collectors run
 * without any registry lock held. */
void metrics_render(struct metrics *m, struct buf *out);

/* The Content-Type of metrics_render's output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Pure helpers, exposed for tests. */
/* Formats v as the exposition does: the shortest decimal that reads back as v,
 * "+Inf", "-Inf", "NaN". Writes at most n bytes (n >= 32 always suffices); returns out. */
const char *metrics_format_value(double v, char *out, size_t n);
/* Appends s to out escaped as a label value (\\ \" \n; invalid UTF-8 → U+FFFD). */
void metrics_escape_label_value(struct buf *out, const char *s);
/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool metrics_name_valid(const char *name);
/* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__". */
bool metrics_label_name_valid(const char *name);

#endif
