/*
 * Tests for common/exec: exit codes and signals, capture of stdout and stderr,
 * stdin bytes, the output cap, the timeout (which must kill the whole process
 * group, quickly), a missing program, LC_ALL=C in the child's environment, and
 * many concurrent runs from several threads (which catches descriptors leaking
 * into another thread's child: a leaked pipe end would stall the reader).
 * Uses only /bin/sh and coreutils, present on every build machine.
 */
#include "common/exec.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_true_false(void **state)
{
	(void)state;
	struct exec_result r;
	struct status st = STATUS_INIT;
	const char *t[] = { "true", NULL };
	assert_int_equal(exec_run(t, NULL, &r, &st), 0);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.term_signal, 0);
	assert_non_null(r.out);
	assert_int_equal(r.out_len, 0);
	exec_result_dispose(&r);

	const char *f[] = { "false", NULL };
	assert_int_equal(exec_run(f, NULL, &r, &st), 0);
	assert_int_equal(r.exit_code, 1);
	exec_result_dispose(&r);

	const char *e[] = { "/bin/sh", "-c", "exit 42", NULL };
	assert_int_equal(exec_run(e, NULL, &r, &st), 0);
	assert_int_equal(r.exit_code, 42);
	exec_result_dispose(&r);
}

static void test_signal(void **state)
{
	(void)state;
	struct exec_result r;
	struct status st = STATUS_INIT;
	const char *a[] = { "/bin/sh", "-c", "kill -TERM $$", NULL };
	assert_int_equal(exec_run(a, NULL, &r, &st), 0);
	assert_int_equal(r.exit_code, -1);
	assert_int_equal(r.term_signal, SIGTERM);
	char d[128];
	assert_string_equal(exec_result_describe(&r, d, sizeof d), "killed by signal 15");
	exec_result_dispose(&r);
}

static void test_capture(void **state)
{
	(void)state;
	struct exec_result r;
	struct status st = STATUS_INIT;
	const char *a[] = { "/bin/sh", "-c", "echo out; echo err1 >&2; echo err2 >&2; exit 3", NULL };
	assert_int_equal(exec_run(a, NULL, &r, &st), 0);
	assert_int_equal(r.exit_code, 3);
	assert_string_equal(r.out, "out\n");
	assert_int_equal(r.out_len, 4);
	assert_string_equal(r.err, "err1\nerr2\n");
	assert_false(r.truncated);
	char d[128];
	assert_string_equal(exec_result_describe(&r, d, sizeof d), "exit status 3: err2");
	exec_result_dispose(&r);

	/* Arguments travel verbatim: no shell parses them. */
	const char *b[] = { "printf", "%s|", "a b", "$HOME", "'q'", NULL };
	assert_int_equal(exec_run(b, NULL, &r, &st), 0);
	assert_string_equal(r.out, "a b|$HOME|'q'|");
	exec_result_dispose(&r);
}

static void test_environment(void **state)
{
	(void)state;
	setenv("LC_ALL", "de_DE.UTF-8", 1);
	setenv("EXEC_TEST_MARK", "kept", 1);
	struct exec_result r;
	struct status st = STATUS_INIT;
	const char *a[] = { "/bin/sh", "-c", "echo \"$LC_ALL $EXEC_TEST_MARK\"", NULL };
	assert_int_equal(exec_run(a, NULL, &r, &st), 0);
	assert_string_equal(r.out, "C kept\n");
	exec_result_dispose(&r);
	unsetenv("LC_ALL");
}

static void test_stdin(void **state)
{
	(void)state;
	struct exec_result r;
	struct status st = STATUS_INIT;
	const char *cat[] = { "cat", NULL };
	struct exec_opts o = { .stdin_data = "hello\nworld\n", .stdin_len = 12 };
	assert_int_equal(exec_run(cat, &o, &r, &st), 0);
	assert_string_equal(r.out, "hello\nworld\n");
	exec_result_dispose(&r);

	/* Default stdin is /dev/null: cat ends at once. */
	assert_int_equal(exec_run(cat, NULL, &r, &st), 0);
	assert_int_equal(r.out_len, 0);
	exec_result_dispose(&r);

	/* Large input passes through in full (more than any socket buffer). */
	size_t big = 4u << 20;
	char *in = malloc(big);
	for (size_t i = 0; i < big; i++)
		in[i] = (char)('a' + i % 26);
	o = (struct exec_opts){ .stdin_data = in, .stdin_len = big, .max_output = big };
	assert_int_equal(exec_run(cat, &o, &r, &st), 0);
	assert_int_equal(r.out_len, big);
	assert_memory_equal(r.out, in, big);
	assert_false(r.truncated);
	exec_result_dispose(&r);

	/* A child that ignores its stdin must not get us killed by SIGPIPE. */
	const char *t[] = { "true", NULL };
	assert_int_equal(exec_run(t, &o, &r, &st), 0);
	assert_int_equal(r.exit_code, 0);
	exec_result_dispose(&r);
	free(in);
}

static void test_output_cap(void **state)
{
	(void)state;
	struct exec_result r;
	struct status st = STATUS_INIT;
	const char *a[] = { "/bin/sh", "-c", "head -c 1000000 /dev/zero; echo done >&2", NULL };
	struct exec_opts o = { .max_output = 1000 };
	assert_int_equal(exec_run(a, &o, &r, &st), 0);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.out_len, 1000);
	assert_true(r.truncated);
	assert_string_equal(r.err, "done\n");
	exec_result_dispose(&r);
}

static void test_timeout(void **state)
{
	(void)state;
	struct exec_result r;
	struct status st = STATUS_INIT;
	const char *a[] = { "sleep", "30", NULL };
	struct exec_opts o = { .timeout_ms = 200 };
	long long t0 = mono_ms();
	assert_int_equal(exec_run(a, &o, &r, &st), -1);
	long long took = mono_ms() - t0;
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_true(took >= 190 && took < 3000);
	assert_int_equal(r.term_signal, SIGKILL);
	exec_result_dispose(&r);

	/* The whole group dies: a grandchild holding our stdout would otherwise
	 * keep us (and itself) around. The output before the kill is kept. */
	const char *b[] = { "/bin/sh", "-c", "echo started; sleep 30 & sleep 30; echo never", NULL };
	t0 = mono_ms();
	assert_int_equal(exec_run(b, &o, &r, &st), -1);
	took = mono_ms() - t0;
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_true(took < 3000);
	assert_string_equal(r.out, "started\n");
	exec_result_dispose(&r);

	/* Without pidfd-style exit notice, a background grandchild holding the
	 * pipes would make us wait; the child's own exit must end the run. */
	const char *c[] = { "/bin/sh", "-c", "sleep 5 & echo parent-done", NULL };
	o.timeout_ms = 4000;
	t0 = mono_ms();
	int rc = exec_run(c, &o, &r, &st);
	took = mono_ms() - t0;
	assert_int_equal(rc, 0);
	assert_true(took < 3000);
	assert_string_equal(r.out, "parent-done\n");
	exec_result_dispose(&r);
}

static void test_missing_program(void **state)
{
	(void)state;
	struct exec_result r;
	struct status st = STATUS_INIT;
	const char *a[] = { "no-such-program-ebs-csi", NULL };
	assert_int_equal(exec_run(a, NULL, &r, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_non_null(strstr(st.msg, "no-such-program-ebs-csi"));
	exec_result_dispose(&r);

	const char *b[] = { "/nonexistent/dir/tool", NULL };
	assert_int_equal(exec_run(b, NULL, &r, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	exec_result_dispose(&r);

	const char *empty[] = { NULL };
	assert_int_equal(exec_run(empty, NULL, &r, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	exec_result_dispose(&r);
	exec_result_dispose(&r); /* twice is harmless */
}

#define THREADS 6
#define RUNS_PER_THREAD 25

static void *worker(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < RUNS_PER_THREAD; i++) {
		char want[64];
		snprintf(want, sizeof want, "t%ld-%d", id, i);
		const char *a[] = { "/bin/sh", "-c", "cat; echo \"$0\" >&2", want, NULL };
		struct exec_opts o = { .timeout_ms = 20000, .stdin_data = want, .stdin_len = strlen(want) };
		struct exec_result r;
		struct status st = STATUS_INIT;
		int rc = exec_run(a, &o, &r, &st);
		bool ok = rc == 0 && r.exit_code == 0 && strcmp(r.out, want) == 0 &&
			  strncmp(r.err, want, strlen(want)) == 0;
		exec_result_dispose(&r);
		if (!ok)
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t th[THREADS];
	long long t0 = mono_ms();
	for (long i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	/* 150 tiny runs; a leaked descriptor would stall each for seconds. */
	assert_true(mono_ms() - t0 < 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_true_false),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_capture),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
