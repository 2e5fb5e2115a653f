/*
 * test_procstat: common/procstat — the /proc parsers on fixture text (a
 * command name with spaces and parentheses, btime, "Max open files" with a
 * number and with "unlimited", malformed input), procstat_read on a fake /proc
 * tree and on the real one (cross-checked against getrlimit, an extra thread
 * and freshly opened descriptors), and the collector's seven process_* series.
 */
#include "common/procstat.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define STAT_LINE "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 5000 104857600 2560 " \
		  "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
#define LIMITS "Limit                     Soft Limit           Hard Limit           Units     \n" \
	       "Max cpu time              unlimited            unlimited            seconds   \n" \
	       "Max open files            1024                 1048576              files     \n"

static void test_parse_stat(void **state)
{
	(void)state;
	struct procstat ps;
	memset(&ps, 0, sizeof ps);
	struct status st = STATUS_INIT;
	assert_int_equal(procstat_parse_stat(STAT_LINE, 100, 4096, 1700000000, &ps, &st), 0);
	assert_true(ps.cpu_seconds == 3.0);
	assert_true(ps.threads == 7);
	assert_true(ps.start_time_seconds == 1700000050.0);
	assert_true(ps.virtual_bytes == 104857600.0);
	assert_true(ps.resident_bytes == 2560.0 * 4096);

	assert_int_equal(procstat_parse_stat("garbage", 100, 4096, 0, &ps, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(procstat_parse_stat("1 (x) S 1 2 3\n", 100, 4096, 0, &ps, &st), -1);
	assert_int_equal(procstat_parse_stat("1 (x) S 1 2 3 4 5 6 7 8 9 10 abc 12 13 14 15 16 17 18 19 20 21\n", 100, 4096,
					     0, &ps, &st),
			 -1);
	assert_int_equal(procstat_parse_stat(NULL, 100, 4096, 0, &ps, &st), -1);
}

static void test_parse_boot_and_limits(void **state)
{
	(void)state;
	double v = 0;
	struct status st = STATUS_INIT;
	assert_int_equal(procstat_parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n", &v, &st), 0);
	assert_true(v == 1700000000.0);
	assert_int_equal(procstat_parse_boot_time("cpu 1\n", &v, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);

	assert_int_equal(procstat_parse_max_fds(LIMITS, &v, &st), 0);
	assert_true(v == 1024);
	assert_int_equal(procstat_parse_max_fds("Max open files            unlimited            unlimited            files\n",
						&v, &st),
			 0);
	assert_true(isinf(v));
	assert_int_equal(procstat_parse_max_fds("Max cpu time unlimited\n", &v, &st), -1);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_read_fake_tree(void **state)
{
	(void)state;
	char root[] = "/tmp/procstat-XXXXXX";
	assert_non_null(mkdtemp(root));
	char p[512];
	write_file(root, "stat", "cpu 1 2 3\nbtime 1700000000\n");
	snprintf(p, sizeof p, "%s/1234", root);
	mkdir(p, 0755);
	write_file(p, "stat", STAT_LINE);
	write_file(p, "limits", LIMITS);
	snprintf(p, sizeof p, "%s/1234/fd", root);
	mkdir(p, 0755);
	for (int i = 0; i < 5; i++) {
		char n[16];
		snprintf(n, sizeof n, "%d", i);
		write_file(p, n, "");
	}

	struct procstat ps;
	struct status st = STATUS_INIT;
	assert_int_equal(procstat_read(root, "1234", &ps, &st), 0);
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	assert_true(ps.cpu_seconds == 300.0 / (double)ticks);
	assert_true(ps.resident_bytes == 2560.0 * (double)page);
	assert_true(ps.open_fds == 5);
	assert_true(ps.max_fds == 1024);
	assert_true(ps.threads == 7);
	assert_true(ps.start_time_seconds == 1700000000.0 + 5000.0 / (double)ticks);

	/* a missing pid: NOT_FOUND; a broken file: INVALID_ARGUMENT */
	assert_int_equal(procstat_read(root, "999", &ps, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	snprintf(p, sizeof p, "%s/1234", root);
	write_file(p, "limits", "nothing useful\n");
	assert_int_equal(procstat_read(root, "1234", &ps, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);

	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;

static void *sleeper(void *p)
{
	(void)p;
	pthread_mutex_lock(&mu);
	while (!go)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void test_read_self(void **state)
{
	(void)state;
	struct procstat a, b;
	struct status st = STATUS_INIT;
	assert_int_equal(procstat_read(NULL, NULL, &a, &st), 0);
	assert_true(a.threads >= 1);
	assert_true(a.resident_bytes > 0);
	assert_true(a.virtual_bytes >= a.resident_bytes);
	assert_true(a.cpu_seconds >= 0);
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur == RLIM_INFINITY)
		assert_true(isinf(a.max_fds));
	else
		assert_true(a.max_fds == (double)rl.rlim_cur);
	double now = (double)time(NULL);
	assert_true(a.start_time_seconds <= now + 1);
	assert_true(a.start_time_seconds >= now - 3600);

	/* three more descriptors and one more thread show */
	int fds[3];
	for (int i = 0; i < 3; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pthread_t th;
	go = 0;
	pthread_create(&th, NULL, sleeper, NULL);
	assert_int_equal(procstat_read(NULL, NULL, &b, &st), 0);
	assert_true(b.open_fds == a.open_fds + 3);
	assert_true(b.threads == a.threads + 1);
	pthread_mutex_lock(&mu);
	go = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(th, NULL);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

static void test_collector(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	procstat_register(m);
	struct buf b;
	buf_init(&b);
	metrics_render(m, &b);
	static const char *const want[] = {
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ",
		"# TYPE process_max_fds gauge\nprocess_max_fds ",
		"# TYPE process_open_fds gauge\nprocess_open_fds ",
		"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
		"# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ",
		"# TYPE process_threads gauge\nprocess_threads ",
		"# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes ",
	};
	const char *prev = b.data;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const char *at = strstr(b.data, want[i]);
		if (at == NULL)
			fail_msg("missing %s in:\n%s", want[i], b.data);
		assert_true(at >= prev);  /* sorted by name */
		prev = at;
	}
	buf_dispose(&b);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_boot_and_limits),
		cmocka_unit_test(test_read_fake_tree),
		cmocka_unit_test(test_read_self),
		cmocka_unit_test(test_collector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
