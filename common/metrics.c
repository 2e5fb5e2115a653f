/*
 * metrics: see metrics.h.
 *
 * Locking: the registry's mutex guards only its lists; each family's mutex
 * guards its series, so recorders on different families never contend and a
 * scrape holds one family lock at a time while it copies that family. Families
 * live until metrics_free, so their pointers need no lock.
 * A scrape builds a snapshot (struct metrics_writer: families by name, series
 * with labels already rendered and escaped) from the families, then from the
 * collectors with no lock held (one may spend milliseconds on ioctls), sorts it
 * and prints it. Sorting rendered label strings orders series by label values
 * in label-name order: deterministic, which is what tests and diffs need.
 * Series are found by a linear scan comparing a 64-bit hash of their values:
 * families hold tens of series, in one contiguous array.
 */
#include "common/metrics.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_default_buckets[METRICS_DEFAULT_BUCKETS_N] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
								    0.5,   1,    2.5,   5,    10 };

struct series {
	char **values;     /* one owned copy per label name */
	uint64_t hash;
	double value;      /* counter, gauge */
	uint64_t *counts;  /* histogram: nbounds + 1 per-bucket (not cumulative) counts; the last is > every bound */
	double sum;
	uint64_t count;
};

struct metrics_family {
	char *name, *help;
	enum metrics_type type;
	char **labels;     /* nlabels owned label names */
	size_t nlabels;
	double *bounds;    /* histogram upper bounds, nbounds */
	size_t nbounds;
	pthread_mutex_t mu;  /* guards everything below */
	struct series **series;
	size_t nseries, cap;
	bool overflow_logged;
};

struct collector {
	metrics_collect_fn fn;
	void *ctx;
};

/* What metrics_gauge_func registers: a collector whose context we own. */
struct gauge_func {
	char *name, *help;
	double (*fn)(void *ctx);
	void *ctx;
};

struct metrics {
	pthread_mutex_t mu;  /* guards the two lists */
	struct metrics_family **fams;
	size_t nfams, fcap;
	struct collector *cols;
	size_t ncols, ccap;
	struct gauge_func **funcs;  /* owned contexts of gauge_func collectors */
	size_t nfuncs, gcap;
};

/* ---- names and escaping ------------------------------------------------------- */

static bool name_char(char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':'))
		return true;
	return !first && c >= '0' && c <= '9';
}

bool metrics_name_valid(const char *name)
{
	if (name == NULL || *name == '\0')
		return false;
	for (const char *p = name; *p; p++)
		if (!name_char(*p, p == name, true))
			return false;
	return true;
}

bool metrics_label_name_valid(const char *name)
{
	if (name == NULL || *name == '\0' || strncmp(name, "__", 2) == 0)
		return false;
	for (const char *p = name; *p; p++)
		if (!name_char(*p, p == name, false))
			return false;
	return true;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there
 * are not one (stray continuation, overlong form, surrogate, > U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	uint32_t cp;
	if ((c & 0xE0) == 0xC0) {
		n = 2;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3;
		cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;  /* also stops at the terminating NUL */
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* Prometheus rejects label values and help text that are not UTF-8; a byte
 * that does not start a valid sequence becomes U+FFFD rather than failing the
 * whole scrape. quote: also escape '"' (label values, not help). */
static void escape(struct buf *out, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		if (*p == '\\') {
			buf_puts(out, "\\\\");
			p++;
		} else if (*p == '\n') {
			buf_puts(out, "\\n");
			p++;
		} else if (*p == '"' && quote) {
			buf_puts(out, "\\\"");
			p++;
		} else {
			size_t n = utf8_seq_len(p);
			if (n == 0) {
				buf_puts(out, "\xEF\xBF\xBD");
				p++;
			} else {
				buf_append(out, p, n);
				p += n;
			}
		}
	}
}

void metrics_escape_label_value(struct buf *out, const char *s)
{
	escape(out, s, true);
}

const char *metrics_format_value(double v, char *out, size_t n)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
	} else if (isinf(v)) {
		snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
	} else {
		/* 15 significant digits always read back as the same decimal
		 * (DBL_DIG), so when that round-trips it is also the shortest
		 * form (%g drops trailing zeros); otherwise 16, then 17 (always exact). */
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(out, n, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				break;
		}
	}
	return out;
}

/* ---- registration ---------------------------------------------------------------- */

static _Noreturn void misuse(const char *what, const char *name)
{
	log_error("metrics: %s: \"%s\"", what, name ? name : "(null)");
	abort();
}

static size_t count_labels(const char *const *labels)
{
	size_t n = 0;
	while (labels != NULL && labels[n] != NULL)
		n++;
	return n;
}

static uint64_t hash_values(const char *const *values, size_t n)
{
	uint64_t h = 14695981039346656037ULL;  /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)(values[i] ? values[i] : ""); *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xFF) * 1099511628211ULL;  /* separator: ("a","b") ≠ ("ab","") */
	}
	return h;
}

static struct series *series_new(const struct metrics_family *f, const char *const *values, uint64_t hash)
{
	struct series *s = xcalloc(1, sizeof *s);
	s->values = xcalloc(f->nlabels ? f->nlabels : 1, sizeof *s->values);
	for (size_t i = 0; i < f->nlabels; i++)
		s->values[i] = xstrdup(values[i] ? values[i] : "");
	s->hash = hash;
	if (f->type == METRICS_HISTOGRAM)
		s->counts = xcalloc(f->nbounds + 1, sizeof *s->counts);
	return s;
}

static void series_free(struct series *s, size_t nlabels)
{
	for (size_t i = 0; i < nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->counts);
	free(s);
}

/* The series of values, created when absent; NULL when the family is full.
 * Caller holds f->mu. */
static struct series *series_get(struct metrics_family *f, const char *const *values)
{
	uint64_t h = hash_values(values, f->nlabels);
	for (size_t i = 0; i < f->nseries; i++) {
		struct series *s = f->series[i];
		if (s->hash != h)
			continue;
		size_t k = 0;
		while (k < f->nlabels && strcmp(s->values[k], values[k] ? values[k] : "") == 0)
			k++;
		if (k == f->nlabels)
			return s;
	}
	if (f->nseries >= METRICS_MAX_SERIES) {
		if (!f->overflow_logged) {
			f->overflow_logged = true;
			log_warn("metrics: %s has %d series; dropping new label values", f->name, METRICS_MAX_SERIES);
		}
		return NULL;
	}
	if (f->nseries == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->series = xrealloc(f->series, f->cap * sizeof *f->series);
	}
	struct series *s = series_new(f, values, h);
	f->series[f->nseries++] = s;
	return s;
}

static bool same_shape(const struct metrics_family *f, enum metrics_type type, const char *const *labels,
		       size_t nlabels, const double *bounds, size_t nbounds)
{
	if (f->type != type || f->nlabels != nlabels)
		return false;
	for (size_t i = 0; i < nlabels; i++)
		if (strcmp(f->labels[i], labels[i]) != 0)
			return false;
	if (type != METRICS_HISTOGRAM)
		return true;
	if (f->nbounds != nbounds)
		return false;
	for (size_t i = 0; i < nbounds; i++)
		if (f->bounds[i] != bounds[i])
			return false;
	return true;
}

static struct metrics_family *family_register(struct metrics *m, const char *name, const char *help,
					      enum metrics_type type, const char *const *labels,
					      const double *bounds, size_t nbounds)
{
	if (!metrics_name_valid(name))
		misuse("invalid metric name", name);
	size_t nlabels = count_labels(labels);
	for (size_t i = 0; i < nlabels; i++) {
		if (!metrics_label_name_valid(labels[i]) || (type == METRICS_HISTOGRAM && strcmp(labels[i], "le") == 0))
			misuse("invalid label name", labels[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(labels[i], labels[j]) == 0)
				misuse("duplicate label name", labels[i]);
	}
	if (type == METRICS_HISTOGRAM) {
		if (nbounds == 0)
			misuse("histogram without buckets", name);
		for (size_t i = 0; i < nbounds; i++)
			if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
				misuse("histogram bounds must be finite and increasing", name);
	} else {
		nbounds = 0;
	}

	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nfams; i++) {
		struct metrics_family *f = m->fams[i];
		if (strcmp(f->name, name) != 0)
			continue;
		pthread_mutex_unlock(&m->mu);
		if (!same_shape(f, type, labels, nlabels, bounds, nbounds))
			misuse("registered twice with a different type, labels or buckets", name);
		return f;
	}
	struct metrics_family *f = xcalloc(1, sizeof *f);
	f->name = xstrdup(name);
	f->help = xstrdup(help ? help : "");
	f->type = type;
	f->nlabels = nlabels;
	f->labels = xcalloc(nlabels ? nlabels : 1, sizeof *f->labels);
	for (size_t i = 0; i < nlabels; i++)
		f->labels[i] = xstrdup(labels[i]);
	f->nbounds = nbounds;
	if (nbounds > 0) {
		f->bounds = xmalloc(nbounds * sizeof *f->bounds);
		memcpy(f->bounds, bounds, nbounds * sizeof *f->bounds);
	}
	pthread_mutex_init(&f->mu, NULL);
	/* A metric without labels exists from the start, as in client_golang. */
	if (nlabels == 0)
		series_get(f, NULL);
	if (m->nfams == m->fcap) {
		m->fcap = m->fcap ? m->fcap * 2 : 16;
		m->fams = xrealloc(m->fams, m->fcap * sizeof *m->fams);
	}
	m->fams[m->nfams++] = f;
	pthread_mutex_unlock(&m->mu);
	return f;
}

struct metrics_family *metrics_counter(struct metrics *m, const char *name, const char *help,
				       const char *const *labels)
{
	return family_register(m, name, help, METRICS_COUNTER, labels, NULL, 0);
}

struct metrics_family *metrics_gauge(struct metrics *m, const char *name, const char *help,
				     const char *const *labels)
{
	return family_register(m, name, help, METRICS_GAUGE, labels, NULL, 0);
}

struct metrics_family *metrics_histogram(struct metrics *m, const char *name, const char *help,
					 const char *const *labels, const double *bounds, size_t nbounds)
{
	return family_register(m, name, help, METRICS_HISTOGRAM, labels, bounds, nbounds);
}

struct metrics_family *metrics_find(struct metrics *m, const char *name)
{
	struct metrics_family *found = NULL;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nfams && found == NULL; i++)
		if (strcmp(m->fams[i]->name, name) == 0)
			found = m->fams[i];
	pthread_mutex_unlock(&m->mu);
	return found;
}

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof *m);
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nfams; i++) {
		struct metrics_family *f = m->fams[i];
		for (size_t k = 0; k < f->nseries; k++)
			series_free(f->series[k], f->nlabels);
		for (size_t k = 0; k < f->nlabels; k++)
			free(f->labels[k]);
		free(f->series);
		free(f->labels);
		free(f->bounds);
		free(f->name);
		free(f->help);
		pthread_mutex_destroy(&f->mu);
		free(f);
	}
	for (size_t i = 0; i < m->nfuncs; i++) {
		free(m->funcs[i]->name);
		free(m->funcs[i]->help);
		free(m->funcs[i]);
	}
	free(m->funcs);
	free(m->fams);
	free(m->cols);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* ---- recording ------------------------------------------------------------------ */

enum op { OP_ADD, OP_SET, OP_OBSERVE, OP_TOUCH };

static void update(struct metrics_family *f, const char *const *values, enum metrics_type want, enum op op, double v)
{
	if (f == NULL || (op != OP_TOUCH && f->type != want))
		return;
	pthread_mutex_lock(&f->mu);
	struct series *s = series_get(f, values);
	if (s != NULL) {
		switch (op) {
		case OP_ADD:
			s->value += v;
			break;
		case OP_SET:
			s->value = v;
			break;
		case OP_OBSERVE: {
			/* Buckets are "less than or equal": v lands in the first
			 * bucket whose bound is >= v (le in the exposition). */
			size_t b = 0;
			while (b < f->nbounds && v > f->bounds[b])
				b++;
			s->counts[b]++;
			s->count++;
			s->sum += v;
			break;
		}
		case OP_TOUCH:
			break;
		}
	}
	pthread_mutex_unlock(&f->mu);
}

void metrics_counter_add(struct metrics_family *f, const char *const *values, double v)
{
	if (!isfinite(v) || v < 0)
		return;
	update(f, values, METRICS_COUNTER, OP_ADD, v);
}

void metrics_counter_inc(struct metrics_family *f, const char *const *values)
{
	update(f, values, METRICS_COUNTER, OP_ADD, 1);
}

void metrics_gauge_set(struct metrics_family *f, const char *const *values, double v)
{
	update(f, values, METRICS_GAUGE, OP_SET, v);
}

void metrics_gauge_add(struct metrics_family *f, const char *const *values, double v)
{
	update(f, values, METRICS_GAUGE, OP_ADD, v);
}

void metrics_histogram_observe(struct metrics_family *f, const char *const *values, double v)
{
	if (isnan(v))
		return;
	update(f, values, METRICS_HISTOGRAM, OP_OBSERVE, v);
}

void metrics_touch(struct metrics_family *f, const char *const *values)
{
	update(f, values, METRICS_COUNTER, OP_TOUCH, 0);
}

double metrics_value(struct metrics_family *f, const char *const *values)
{
	if (f == NULL)
		return 0;
	double v = 0;
	uint64_t h = hash_values(values, f->nlabels);
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nseries; i++) {
		struct series *s = f->series[i];
		size_t k = 0;
		while (s->hash == h && k < f->nlabels && strcmp(s->values[k], values[k] ? values[k] : "") == 0)
			k++;
		if (s->hash == h && k == f->nlabels) {
			v = f->type == METRICS_HISTOGRAM ? (double)s->count : s->value;
			break;
		}
	}
	pthread_mutex_unlock(&f->mu);
	return v;
}

size_t metrics_series_count(struct metrics_family *f)
{
	if (f == NULL)
		return 0;
	pthread_mutex_lock(&f->mu);
	size_t n = f->nseries;
	pthread_mutex_unlock(&f->mu);
	return n;
}

void metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *ctx)
{
	pthread_mutex_lock(&m->mu);
	if (m->ncols == m->ccap) {
		m->ccap = m->ccap ? m->ccap * 2 : 8;
		m->cols = xrealloc(m->cols, m->ccap * sizeof *m->cols);
	}
	m->cols[m->ncols++] = (struct collector){ fn, ctx };
	pthread_mutex_unlock(&m->mu);
}

static void collect_gauge_func(void *ctx, struct metrics_writer *w)
{
	const struct gauge_func *g = ctx;
	metrics_emit(w, g->name, g->help, METRICS_GAUGE, NULL, 0, g->fn(g->ctx));
}

void metrics_gauge_func(struct metrics *m, const char *name, const char *help, double (*fn)(void *ctx), void *ctx)
{
	if (!metrics_name_valid(name))
		misuse("invalid metric name", name);
	struct gauge_func *g = xcalloc(1, sizeof *g);
	g->name = xstrdup(name);
	g->help = xstrdup(help ? help : "");
	g->fn = fn;
	g->ctx = ctx;
	pthread_mutex_lock(&m->mu);
	if (m->nfuncs == m->gcap) {
		m->gcap = m->gcap ? m->gcap * 2 : 4;
		m->funcs = xrealloc(m->funcs, m->gcap * sizeof *m->funcs);
	}
	m->funcs[m->nfuncs++] = g;
	pthread_mutex_unlock(&m->mu);
	metrics_add_collector(m, collect_gauge_func, g);
}

/* ---- the scrape snapshot ---------------------------------------------------------- */

struct snap_series {
	char *labels;      /* rendered: a="x",b="y" ("" without labels) */
	double value;
	double *bounds;    /* histogram */
	uint64_t *cum;     /* cumulative counts per bound */
	size_t nbounds;
	double sum;
	uint64_t count;
	size_t seq;        /* emission order: of two equal series the first wins */
};

struct snap_family {
	char *name, *help;
	enum metrics_type type;
	struct snap_series *s;
	size_t n, cap;
};

struct metrics_writer {
	struct snap_family *f;
	size_t n, cap;
};

static struct snap_family *snap_family(struct metrics_writer *w, const char *name, const char *help,
				       enum metrics_type type)
{
	for (size_t i = 0; i < w->n; i++) {
		if (strcmp(w->f[i].name, name) != 0)
			continue;
		if (w->f[i].type != type) {
			log_v(2, "metrics: %s emitted with two types; sample dropped", name);
			return NULL;
		}
		return &w->f[i];
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 32;
		w->f = xrealloc(w->f, w->cap * sizeof *w->f);
	}
	struct snap_family *f = &w->f[w->n++];
	memset(f, 0, sizeof *f);
	f->name = xstrdup(name);
	f->help = xstrdup(help ? help : "");
	f->type = type;
	return f;
}

static struct snap_series *snap_add(struct snap_family *f, char *labels)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->s = xrealloc(f->s, f->cap * sizeof *f->s);
	}
	struct snap_series *s = &f->s[f->n];
	memset(s, 0, sizeof *s);
	s->labels = labels;
	s->seq = f->n++;
	return s;
}

static void render_label(struct buf *b, const char *name, const char *value)
{
	if (b->len > 0)
		buf_putc(b, ',');
	buf_puts(b, name);
	buf_puts(b, "=\"");
	escape(b, value, true);
	buf_putc(b, '"');
}

/* Copies family f's series into w. */
static void snapshot_family(struct metrics_writer *w, struct metrics_family *f)
{
	pthread_mutex_lock(&f->mu);
	if (f->nseries > 0) {
		struct snap_family *sf = snap_family(w, f->name, f->help, f->type);
		for (size_t i = 0; sf != NULL && i < f->nseries; i++) {
			const struct series *s = f->series[i];
			struct buf lb;
			buf_init(&lb);
			for (size_t k = 0; k < f->nlabels; k++)
				render_label(&lb, f->labels[k], s->values[k]);
			struct snap_series *ss = snap_add(sf, buf_take(&lb));
			buf_dispose(&lb);
			ss->value = s->value;
			if (f->type == METRICS_HISTOGRAM) {
				ss->nbounds = f->nbounds;
				ss->bounds = xmalloc(f->nbounds * sizeof *ss->bounds);
				memcpy(ss->bounds, f->bounds, f->nbounds * sizeof *ss->bounds);
				ss->cum = xmalloc(f->nbounds * sizeof *ss->cum);
				uint64_t acc = 0;
				for (size_t b = 0; b < f->nbounds; b++)
					ss->cum[b] = acc += s->counts[b];
				ss->sum = s->sum;
				ss->count = s->count;
			}
		}
	}
	pthread_mutex_unlock(&f->mu);
}

/* Renders a collector's labels, or returns NULL (logged) when a name is bad. */
static char *emit_labels(const char *metric, const struct metrics_label *labels, size_t n, bool histogram)
{
	struct buf lb;
	buf_init(&lb);
	for (size_t i = 0; i < n; i++) {
		if (!metrics_label_name_valid(labels[i].name) || (histogram && strcmp(labels[i].name, "le") == 0)) {
			log_v(2, "metrics: %s: invalid label name \"%s\"; sample dropped", metric,
			      labels[i].name ? labels[i].name : "(null)");
			buf_dispose(&lb);
			return NULL;
		}
		render_label(&lb, labels[i].name, labels[i].value);
	}
	char *s = buf_take(&lb);
	buf_dispose(&lb);
	return s;
}

void metrics_emit(struct metrics_writer *w, const char *name, const char *help, enum metrics_type type,
		  const struct metrics_label *labels, size_t nlabels, double value)
{
	if (!metrics_name_valid(name) || type == METRICS_HISTOGRAM) {
		log_v(2, "metrics: invalid metric name or type for \"%s\"; sample dropped", name ? name : "(null)");
		return;
	}
	struct snap_family *f = snap_family(w, name, help, type);
	if (f == NULL)
		return;
	char *ls = emit_labels(name, labels, nlabels, false);
	if (ls != NULL)
		snap_add(f, ls)->value = value;
}

void metrics_emit_histogram(struct metrics_writer *w, const char *name, const char *help,
			    const struct metrics_label *labels, size_t nlabels, const double *bounds,
			    const uint64_t *cumulative, size_t nbounds, double sum, uint64_t count)
{
	if (!metrics_name_valid(name)) {
		log_v(2, "metrics: invalid metric name \"%s\"; sample dropped", name ? name : "(null)");
		return;
	}
	for (size_t i = 0; i < nbounds; i++) {
		if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
			log_v(2, "metrics: %s: histogram bounds not increasing; sample dropped", name);
			return;
		}
	}
	struct snap_family *f = snap_family(w, name, help, METRICS_HISTOGRAM);
	if (f == NULL)
		return;
	char *ls = emit_labels(name, labels, nlabels, true);
	if (ls == NULL)
		return;
	struct snap_series *s = snap_add(f, ls);
	s->nbounds = nbounds;
	s->bounds = xmalloc((nbounds ? nbounds : 1) * sizeof *s->bounds);
	s->cum = xmalloc((nbounds ? nbounds : 1) * sizeof *s->cum);
	if (nbounds > 0) {
		memcpy(s->bounds, bounds, nbounds * sizeof *bounds);
		memcpy(s->cum, cumulative, nbounds * sizeof *cumulative);
	}
	s->sum = sum;
	s->count = count;
}

static int cmp_family(const void *a, const void *b)
{
	return strcmp(((const struct snap_family *)a)->name, ((const struct snap_family *)b)->name);
}

static int cmp_series(const void *a, const void *b)
{
	const struct snap_series *x = a, *y = b;
	int c = strcmp(x->labels, y->labels);
	return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void snap_series_dispose(struct snap_series *s)
{
	free(s->labels);
	free(s->bounds);
	free(s->cum);
}

/* Prints name{labels[,extra]} (braces only when there is a label). */
static void put_name(struct buf *out, const char *name, const char *suffix, const char *labels, const char *extra)
{
	buf_puts(out, name);
	buf_puts(out, suffix);
	if (*labels == '\0' && extra == NULL)
		return;
	buf_putc(out, '{');
	buf_puts(out, labels);
	if (extra != NULL) {
		if (*labels)
			buf_putc(out, ',');
		buf_puts(out, extra);
	}
	buf_putc(out, '}');
}

static void render_family(struct buf *out, struct snap_family *f)
{
	static const char *const type_name[] = { "counter", "gauge", "histogram" };
	qsort(f->s, f->n, sizeof *f->s, cmp_series);
	/* A series emitted twice (two mounts of one device) would make the
	 * scrape invalid: keep the first. */
	size_t k = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (k > 0 && strcmp(f->s[k - 1].labels, f->s[i].labels) == 0) {
			snap_series_dispose(&f->s[i]);
			continue;
		}
		f->s[k++] = f->s[i];
	}
	f->n = k;

	buf_printf(out, "# HELP %s ", f->name);
	escape(out, f->help, false);
	buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name[f->type]);
	char num[64];
	for (size_t i = 0; i < f->n; i++) {
		const struct snap_series *s = &f->s[i];
		if (f->type != METRICS_HISTOGRAM) {
			put_name(out, f->name, "", s->labels, NULL);
			buf_printf(out, " %s\n", metrics_format_value(s->value, num, sizeof num));
			continue;
		}
		for (size_t b = 0; b < s->nbounds; b++) {
			char le[80];
			snprintf(le, sizeof le, "le=\"%s\"", metrics_format_value(s->bounds[b], num, sizeof num));
			put_name(out, f->name, "_bucket", s->labels, le);
			buf_printf(out, " %" PRIu64 "\n", s->cum[b]);
		}
		put_name(out, f->name, "_bucket", s->labels, "le=\"+Inf\"");
		buf_printf(out, " %" PRIu64 "\n", s->count);
		put_name(out, f->name, "_sum", s->labels, NULL);
		buf_printf(out, " %s\n", metrics_format_value(s->sum, num, sizeof num));
		put_name(out, f->name, "_count", s->labels, NULL);
		buf_printf(out, " %" PRIu64 "\n", s->count);
	}
}

void metrics_render(struct metrics *m, struct buf *out)
{
	struct metrics_writer w = { 0 };

	/* Copy the lists, then work without the registry lock: families are
	 * never freed before m, and collectors must not wait on recorders. */
	pthread_mutex_lock(&m->mu);
	size_t nf = m->nfams, nc = m->ncols;
	struct metrics_family **fams = xmalloc((nf ? nf : 1) * sizeof *fams);
	struct collector *cols = xmalloc((nc ? nc : 1) * sizeof *cols);
	if (nf)
		memcpy(fams, m->fams, nf * sizeof *fams);
	if (nc)
		memcpy(cols, m->cols, nc * sizeof *cols);
	pthread_mutex_unlock(&m->mu);

	for (size_t i = 0; i < nf; i++)
		snapshot_family(&w, fams[i]);
	for (size_t i = 0; i < nc; i++)
		cols[i].fn(cols[i].ctx, &w);
	free(fams);
	free(cols);

	if (w.n > 0)
		qsort(w.f, w.n, sizeof *w.f, cmp_family);
	for (size_t i = 0; i < w.n; i++) {
		struct snap_family *f = &w.f[i];
		if (f->n > 0)
			render_family(out, f);
		for (size_t k = 0; k < f->n; k++)
			snap_series_dispose(&f->s[k]);
		free(f->s);
		free(f->name);
		free(f->help);
	}
	free(w.f);
}
