/*
 * test_metrics: common/metrics — number formatting, name rules, label and
 * help escaping (including invalid UTF-8), histogram bucket arithmetic (le is
 * inclusive, +Inf catches the rest, NaN is ignored), counter rules, idempotent
 * registration, the series cap, a byte-exact exposition of a small registry
 * mixing recorded families, a callback gauge and a collector (merging into an
 * existing family, duplicates dropped), many threads recording while another
 * renders (exact totals afterwards; ASan/UBSan catch races on the arrays),
 * and `promtool check metrics` accepting the output.
 */
#include "common/exec.h"
#include "common/metrics.h"
#include "common/metrics_ec2.h"
#include "common/procstat.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define V(...) ((const char *const[]){ __VA_ARGS__ })
#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static char *render(struct metrics *m)
{
	struct buf b;
	buf_init(&b);
	metrics_render(m, &b);
	char *s = buf_take(&b);
	buf_dispose(&b);
	return s;
}

static void test_format_value(void **state)
{
	(void)state;
	char out[64];
	assert_string_equal(metrics_format_value(0, out, sizeof out), "0");
	assert_string_equal(metrics_format_value(1, out, sizeof out), "1");
	assert_string_equal(metrics_format_value(-2.5, out, sizeof out), "-2.5");
	assert_string_equal(metrics_format_value(0.1, out, sizeof out), "0.1");
	assert_string_equal(metrics_format_value(0.005, out, sizeof out), "0.005");
	assert_string_equal(metrics_format_value(123456789, out, sizeof out), "123456789");
	assert_string_equal(metrics_format_value(1e-7, out, sizeof out), "1e-07");
	assert_string_equal(metrics_format_value(1.0 / 3.0, out, sizeof out), "0.3333333333333333");
	assert_string_equal(metrics_format_value(0.1 + 0.2, out, sizeof out), "0.30000000000000004");
	assert_string_equal(metrics_format_value(9007199254740993.0, out, sizeof out), "9007199254740992");
	assert_string_equal(metrics_format_value(INFINITY, out, sizeof out), "+Inf");
	assert_string_equal(metrics_format_value(-INFINITY, out, sizeof out), "-Inf");
	assert_string_equal(metrics_format_value(NAN, out, sizeof out), "NaN");
	/* every finite value reads back exactly */
	double vals[] = { 1e300, 5e-324, 0.000123456789012345678, 2.2250738585072014e-308, 12345.678 };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
		assert_true(strtod(metrics_format_value(vals[i], out, sizeof out), NULL) == vals[i]);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(metrics_name_valid("a"));
	assert_true(metrics_name_valid("aws_ebs_csi_read_ops_total"));
	assert_true(metrics_name_valid("job:rate5m:sum"));
	assert_true(metrics_name_valid("_x9"));
	assert_false(metrics_name_valid(""));
	assert_false(metrics_name_valid(NULL));
	assert_false(metrics_name_valid("9lives"));
	assert_false(metrics_name_valid("with-dash"));
	assert_false(metrics_name_valid("sp ace"));
	assert_true(metrics_label_name_valid("volume_id"));
	assert_true(metrics_label_name_valid("_x"));
	assert_false(metrics_label_name_valid("__name__"));
	assert_false(metrics_label_name_valid("a:b"));
	assert_false(metrics_label_name_valid("1a"));
	assert_false(metrics_label_name_valid(""));
}

static void test_escaping(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	metrics_escape_label_value(&b, "plain");
	assert_string_equal(b.data, "plain");
	buf_reset(&b);
	metrics_escape_label_value(&b, "a\\b\"c\nd");
	assert_string_equal(b.data, "a\\\\b\\\"c\\nd");
	buf_reset(&b);
	/* valid multi-byte UTF-8 passes through; broken sequences become U+FFFD */
	metrics_escape_label_value(&b, "z\xC3\xA9\xE2\x82\xAC\xF0\x9F\x92\xBE");
	assert_string_equal(b.data, "z\xC3\xA9\xE2\x82\xAC\xF0\x9F\x92\xBE");
	buf_reset(&b);
	metrics_escape_label_value(&b, "\xFF" "a\xC3" "b\xC0\xAF" "c\xED\xA0\x80" "d\xE2\x82");
	assert_string_equal(b.data, "\xEF\xBF\xBD" "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD"
				    "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "d\xEF\xBF\xBD\xEF\xBF\xBD");
	buf_reset(&b);
	metrics_escape_label_value(&b, NULL);
	assert_string_equal(b.data, "");
	buf_dispose(&b);
}

static void test_histogram_buckets(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	const double bounds[] = { 1, 2, 5 };
	struct metrics_family *h = metrics_histogram(m, "h_seconds", "h", NULL, bounds, 3);
	double obs[] = { 0.5, 1, 1.5, 5, 7, -3, NAN, INFINITY };
	for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
		metrics_histogram_observe(h, NULL, obs[i]);
	char *out = render(m);
	/* 0.5, 1 and -3 are <= 1; 1.5 <= 2; 5 <= 5 (inclusive); 7 and +Inf only in +Inf; NaN ignored */
	assert_string_equal(out, "# HELP h_seconds h\n"
				 "# TYPE h_seconds histogram\n"
				 "h_seconds_bucket{le=\"1\"} 3\n"
				 "h_seconds_bucket{le=\"2\"} 4\n"
				 "h_seconds_bucket{le=\"5\"} 5\n"
				 "h_seconds_bucket{le=\"+Inf\"} 7\n"
				 "h_seconds_sum +Inf\n"
				 "h_seconds_count 7\n");
	free(out);
	assert_true(metrics_value(h, NULL) == 7);

	/* default buckets: one observation of 0.3 lands in le=0.5 and above */
	struct metrics_family *d = metrics_histogram(m, "d_seconds", "d", L("x"), metrics_default_buckets,
						     METRICS_DEFAULT_BUCKETS_N);
	metrics_histogram_observe(d, V("y"), 0.3);
	out = render(m);
	assert_non_null(strstr(out, "d_seconds_bucket{x=\"y\",le=\"0.25\"} 0\nd_seconds_bucket{x=\"y\",le=\"0.5\"} 1\n"));
	assert_non_null(strstr(out, "d_seconds_bucket{x=\"y\",le=\"10\"} 1\nd_seconds_bucket{x=\"y\",le=\"+Inf\"} 1\n"
				    "d_seconds_sum{x=\"y\"} 0.3\nd_seconds_count{x=\"y\"} 1\n"));
	free(out);
	metrics_free(m);
}

static void test_counter_and_gauge_rules(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *c = metrics_counter(m, "c_total", "c", L("k"));
	struct metrics_family *g = metrics_gauge(m, "g", "g", L("k"));
	metrics_counter_add(c, V("a"), 2);
	metrics_counter_add(c, V("a"), -1);        /* never decreases */
	metrics_counter_add(c, V("a"), NAN);
	metrics_counter_add(c, V("a"), INFINITY);
	metrics_counter_inc(c, V("a"));
	assert_true(metrics_value(c, V("a")) == 3);
	metrics_gauge_set(c, V("a"), 100);         /* wrong type: ignored */
	metrics_histogram_observe(c, V("a"), 1);
	assert_true(metrics_value(c, V("a")) == 3);
	metrics_gauge_set(g, V("a"), 5);
	metrics_gauge_add(g, V("a"), -7.5);
	assert_true(metrics_value(g, V("a")) == -2.5);
	/* NULL values mean "" and are the same series as "" */
	metrics_counter_inc(c, V(NULL));
	metrics_counter_inc(c, V(""));
	assert_true(metrics_value(c, V("")) == 2);
	assert_true(metrics_value(c, V("absent")) == 0);
	/* touch makes a zero series without changing an existing one */
	metrics_touch(c, V("z"));
	metrics_touch(c, V("a"));
	assert_int_equal(metrics_series_count(c), 3);
	assert_true(metrics_value(c, V("a")) == 3);
	/* NULL family: no-ops */
	metrics_counter_inc(NULL, V("a"));
	metrics_histogram_observe(NULL, V("a"), 1);
	assert_true(metrics_value(NULL, V("a")) == 0);
	assert_int_equal(metrics_series_count(NULL), 0);
	metrics_free(m);
	metrics_free(NULL);
}

static void test_register_idempotent(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *a = metrics_counter(m, "x_total", "x", L("a", "b"));
	struct metrics_family *b = metrics_counter(m, "x_total", "other help is fine", L("a", "b"));
	assert_ptr_equal(a, b);
	assert_ptr_equal(metrics_find(m, "x_total"), a);
	assert_null(metrics_find(m, "y_total"));
	const double bounds[] = { 1, 2 };
	struct metrics_family *h1 = metrics_histogram(m, "h", "h", NULL, bounds, 2);
	assert_ptr_equal(metrics_histogram(m, "h", "h", NULL, bounds, 2), h1);
	/* a family without labels shows before any update, one with labels does not */
	struct metrics_family *u = metrics_gauge(m, "unlabelled", "u", NULL);
	assert_int_equal(metrics_series_count(u), 1);
	assert_int_equal(metrics_series_count(a), 0);
	char *out = render(m);
	assert_non_null(strstr(out, "unlabelled 0\n"));
	assert_null(strstr(out, "x_total"));
	free(out);
	metrics_free(m);
}

static void test_series_cap(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *c = metrics_counter(m, "many_total", "many", L("id"));
	char id[32];
	for (int i = 0; i < METRICS_MAX_SERIES + 50; i++) {
		snprintf(id, sizeof id, "%d", i);
		metrics_counter_inc(c, V(id));
	}
	assert_int_equal(metrics_series_count(c), METRICS_MAX_SERIES);
	/* existing series still count */
	metrics_counter_inc(c, V("0"));
	assert_true(metrics_value(c, V("0")) == 2);
	snprintf(id, sizeof id, "%d", METRICS_MAX_SERIES + 10);
	assert_true(metrics_value(c, V(id)) == 0);
	metrics_free(m);
}

static double answer(void *ctx)
{
	return *(const double *)ctx;
}

static void collector(void *ctx, struct metrics_writer *w)
{
	(void)ctx;
	/* into a family the registry also has, with the same label order */
	const struct metrics_label c201[] = { { "method", "c" }, { "code", "201" } };
	metrics_emit(w, "test_requests_total", "ignored: the family already has help", METRICS_COUNTER, c201, 2, 7);
	const struct metrics_label dup[] = { { "method", "a" }, { "code", "200" } };
	metrics_emit(w, "test_requests_total", NULL, METRICS_COUNTER, dup, 2, 99);  /* duplicate: dropped */
	metrics_emit(w, "test_requests_total", NULL, METRICS_GAUGE, c201, 2, 1);      /* wrong type: dropped */
	const struct metrics_label v2[] = { { "v", "x\xFFy" } };
	const struct metrics_label v1[] = { { "v", "a\"b\\c\nd" } };
	metrics_emit(w, "test_emitted", "Emitted by a collector.", METRICS_GAUGE, v2, 1, 2);
	metrics_emit(w, "test_emitted", "Emitted by a collector.", METRICS_GAUGE, v1, 1, 1);
	const struct metrics_label bad[] = { { "bad-name", "x" } };
	metrics_emit(w, "test_emitted", NULL, METRICS_GAUGE, bad, 1, 3);             /* bad label: dropped */
	metrics_emit(w, "bad name", "x", METRICS_GAUGE, NULL, 0, 3);                  /* bad name: dropped */
	const double bounds[] = { 0.5, 2 };
	const uint64_t cum[] = { 1, 3 };
	metrics_emit_histogram(w, "test_emitted_hist", "A histogram computed elsewhere.", NULL, 0, bounds, cum, 2, 0, 4);
	metrics_emit(w, "test_never_shown", "no sample", METRICS_GAUGE, bad, 1, 1);
}

static void test_exposition_exact(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *req = metrics_counter(m, "test_requests_total", "Requests served.", L("method", "code"));
	metrics_counter_add(req, V("b", "200"), 2);
	metrics_counter_inc(req, V("a", "500"));
	metrics_counter_add(req, V("a", "200"), 0.5);
	struct metrics_family *up = metrics_gauge(m, "test_up", "Whether it is up.\nSecond line with \\ backslash.", NULL);
	metrics_gauge_set(up, NULL, 1);
	const double b[] = { 0.5, 1 };
	struct metrics_family *lat = metrics_histogram(m, "test_latency_seconds", "Latency.", L("op"), b, 2);
	metrics_histogram_observe(lat, V("x"), 0.25);
	metrics_histogram_observe(lat, V("x"), 0.5);
	metrics_histogram_observe(lat, V("x"), 3);
	metrics_counter(m, "test_unused_total", "Never recorded: not shown.", L("k"));
	double the_answer = 42;
	metrics_gauge_func(m, "test_answer", "The answer.", answer, &the_answer);
	metrics_add_collector(m, collector, NULL);

	const char *want = "# HELP test_answer The answer.\n"
			   "# TYPE test_answer gauge\n"
			   "test_answer 42\n"
			   "# HELP test_emitted Emitted by a collector.\n"
			   "# TYPE test_emitted gauge\n"
			   "test_emitted{v=\"a\\\"b\\\\c\\nd\"} 1\n"
			   "test_emitted{v=\"x\xEF\xBF\xBDy\"} 2\n"
			   "# HELP test_emitted_hist A histogram computed elsewhere.\n"
			   "# TYPE test_emitted_hist histogram\n"
			   "test_emitted_hist_bucket{le=\"0.5\"} 1\n"
			   "test_emitted_hist_bucket{le=\"2\"} 3\n"
			   "test_emitted_hist_bucket{le=\"+Inf\"} 4\n"
			   "test_emitted_hist_sum 0\n"
			   "test_emitted_hist_count 4\n"
			   "# HELP test_latency_seconds Latency.\n"
			   "# TYPE test_latency_seconds histogram\n"
			   "test_latency_seconds_bucket{op=\"x\",le=\"0.5\"} 2\n"
			   "test_latency_seconds_bucket{op=\"x\",le=\"1\"} 2\n"
			   "test_latency_seconds_bucket{op=\"x\",le=\"+Inf\"} 3\n"
			   "test_latency_seconds_sum{op=\"x\"} 3.75\n"
			   "test_latency_seconds_count{op=\"x\"} 3\n"
			   "# HELP test_requests_total Requests served.\n"
			   "# TYPE test_requests_total counter\n"
			   "test_requests_total{method=\"a\",code=\"200\"} 0.5\n"
			   "test_requests_total{method=\"a\",code=\"500\"} 1\n"
			   "test_requests_total{method=\"b\",code=\"200\"} 2\n"
			   "test_requests_total{method=\"c\",code=\"201\"} 7\n"
			   "# HELP test_up Whether it is up.\\nSecond line with \\\\ backslash.\n"
			   "# TYPE test_up gauge\n"
			   "test_up 1\n";
	char *out = render(m);
	assert_string_equal(out, want);
	free(out);
	/* rendering twice gives the same bytes (the gauge_func is read again) */
	the_answer = 43;
	out = render(m);
	assert_non_null(strstr(out, "test_answer 43\n"));
	assert_int_equal(strlen(out), strlen(want));
	free(out);
	metrics_free(m);
}

enum { THREADS = 16, ITERS = 20000 };

struct thread_arg {
	struct metrics *m;
	int id;
};

static atomic_bool stop_render;

static void *recorder(void *p)
{
	struct thread_arg *a = p;
	struct metrics_family *c = metrics_counter(a->m, "t_ops_total", "ops", L("who"));
	struct metrics_family *h = metrics_histogram(a->m, "t_seconds", "s", L("who"), metrics_default_buckets,
						     METRICS_DEFAULT_BUCKETS_N);
	struct metrics_family *g = metrics_gauge(a->m, "t_level", "level", NULL);
	char me[16];
	snprintf(me, sizeof me, "t%02d", a->id);
	for (int i = 0; i < ITERS; i++) {
		metrics_counter_inc(c, V("shared"));
		metrics_counter_inc(c, V(me));
		metrics_histogram_observe(h, V("shared"), (double)(i % 3) * 0.5);
		metrics_gauge_add(g, NULL, 1);
		if (i % 1000 == 0) {
			/* new series appear while others scrape */
			char fresh[32];
			snprintf(fresh, sizeof fresh, "%s-%d", me, i);
			metrics_counter_inc(c, V(fresh));
		}
	}
	return NULL;
}

static void *renderer(void *p)
{
	struct metrics *m = p;
	int n = 0;
	while (!atomic_load(&stop_render) || n == 0) {
		char *s = render(m);
		free(s);
		n++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	pthread_t th[THREADS], r;
	struct thread_arg args[THREADS];
	atomic_store(&stop_render, false);
	pthread_create(&r, NULL, renderer, m);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct thread_arg){ m, i };
		pthread_create(&th[i], NULL, recorder, &args[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop_render, true);
	pthread_join(r, NULL);

	struct metrics_family *c = metrics_find(m, "t_ops_total");
	assert_true(metrics_value(c, V("shared")) == (double)THREADS * ITERS);
	for (int i = 0; i < THREADS; i++) {
		char me[16];
		snprintf(me, sizeof me, "t%02d", i);
		assert_true(metrics_value(c, V(me)) == ITERS);
	}
	assert_int_equal(metrics_series_count(c), 1 + THREADS + THREADS * (ITERS / 1000));
	assert_true(metrics_value(metrics_find(m, "t_seconds"), V("shared")) == (double)THREADS * ITERS);
	assert_true(metrics_value(metrics_find(m, "t_level"), NULL) == (double)THREADS * ITERS);
	char *out = render(m);
	/* sum of (i % 3) * 0.5 over ITERS iterations, per thread, exactly representable */
	double per = 0;
	for (int i = 0; i < ITERS; i++)
		per += (double)(i % 3) * 0.5;
	char want[128], num[64];
	snprintf(want, sizeof want, "t_seconds_sum{who=\"shared\"} %s\n",
		 metrics_format_value(per * THREADS, num, sizeof num));
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof want, "t_seconds_bucket{who=\"shared\",le=\"0.5\"} %d\n",
		 THREADS * (ITERS - ITERS / 3));  /* i%3 in {0,1}: 13334 of every 20000 */
	assert_non_null(strstr(out, want));
	free(out);
	metrics_free(m);
}

/* promtool must accept a realistic exposition: every type, labels needing
 * escapes, process metrics, the EC2 families. */
static void test_promtool(void **state)
{
	(void)state;
	if (access("/usr/bin/promtool", X_OK) != 0) {
		skip();
		return;
	}
	struct metrics *m = metrics_new();
	procstat_register(m);
	metrics_ec2_register(m);
	metrics_ec2_observe(m, "/csi.v1.Controller/CreateVolume", "CreateVolume", NULL, 200, 0.2, false);
	metrics_ec2_observe(m, "/csi.v1.Controller/CreateVolume", "CreateVolume", "RequestLimitExceeded", 503, 0.1, true);
	metrics_ec2_observe(m, NULL, "DescribeInstances", "UnauthorizedOperation", 403, 0.1, false);
	struct metrics_family *c = metrics_counter(m, "escapes_total", "Help with \\ and\nnewline.", L("v"));
	metrics_counter_inc(c, V("q\"uote\\back\nnl\xFF"));
	metrics_add_collector(m, collector, NULL);
	char *out = render(m);
	const char *argv[] = { "/usr/bin/promtool", "check", "metrics", NULL };
	struct exec_opts eo = { .timeout_ms = 30000, .stdin_data = out, .stdin_len = strlen(out) };
	struct exec_result res;
	struct status st = STATUS_INIT;
	int rc = exec_run(argv, &eo, &res, &st);
	if (rc != 0 || res.exit_code != 0)
		print_error("promtool: rc=%d exit=%d\nstdout: %s\nstderr: %s\ninput:\n%s\n", rc, res.exit_code, res.out,
			    res.err, out);
	assert_int_equal(rc, 0);
	assert_int_equal(res.exit_code, 0);
	exec_result_dispose(&res);
	free(out);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_value),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_counter_and_gauge_rules),
		cmocka_unit_test(test_register_idempotent),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_exposition_exact),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_promtool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
