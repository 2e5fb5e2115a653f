/*
 * test_log: common/log — output captured through log_set_fd into an unlinked
 * temporary file. Checks the klog text layout (severity letter, date, time
 * with microseconds, padded pid, base name:line, message, key=value with klog
 * quoting), JSON lines (each one parsed by /usr/bin/python3's json module with
 * strict UTF-8, and spot-checked fields), verbosity gating of log_v/LOG_KV,
 * that a newline or carriage return never splits a line, that control
 * characters and invalid UTF-8 are escaped, that long messages stay one line,
 * and that lines from concurrent threads never interleave.
 */
#include "common/log.h"

#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static int cap_fd = -1;

static int setup(void **state)
{
	(void)state;
	char path[] = "/tmp/test_log.XXXXXX";
	cap_fd = mkstemp(path);
	if (cap_fd < 0)
		return -1;
	unlink(path);
	log_set_fd(cap_fd);
	log_configure(LOG_FORMAT_TEXT, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_fd(2);
	log_configure(LOG_FORMAT_TEXT, 0);
	close(cap_fd);
	cap_fd = -1;
	return 0;
}

/* Returns everything logged since setup (free() it). */
static char *captured(void)
{
	off_t size = lseek(cap_fd, 0, SEEK_END);
	assert_true(size >= 0);
	char *s = malloc((size_t)size + 1);
	assert_int_equal(pread(cap_fd, s, (size_t)size, 0), size);
	s[size] = '\0';
	return s;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_matches(const char *s, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	int rc = regexec(&re, s, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		fail_msg("%s\n  does not match\n%s", s, pattern);
}

/* Escapes regex metacharacters of a literal. */
static void re_quote(char *out, size_t size, const char *lit)
{
	size_t o = 0;
	for (; *lit && o + 3 < size; lit++) {
		if (strchr(".[]{}()\\*+?^$|", *lit))
			out[o++] = '\\';
		out[o++] = *lit;
	}
	out[o] = '\0';
}

/* Checks that out is exactly one klog text line with severity sev, source
 * file.c:line and the given rest (message and key/values, a literal). */
static void assert_text_line(const char *out, char sev, const char *file, int line, const char *rest)
{
	char quoted[1024], pattern[2048];
	re_quote(quoted, sizeof quoted, rest);
	snprintf(pattern, sizeof pattern,
		 "^%c[01][0-9][0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{6} +%d %s:%d\\] %s\n$", sev,
		 (int)getpid(), file, line, quoted);
	assert_matches(out, pattern);
	assert_int_equal(count_lines(out), 1);
}

static void reset_capture(void)
{
	assert_int_equal(ftruncate(cap_fd, 0), 0);
	lseek(cap_fd, 0, SEEK_SET);
}

static void test_format_parse(void **state)
{
	(void)state;
	assert_int_equal(log_format_parse("text"), LOG_FORMAT_TEXT);
	assert_int_equal(log_format_parse("json"), LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("JSON"), -1);
	assert_int_equal(log_format_parse(""), -1);
	assert_int_equal(log_format_parse("yaml"), -1);
}

static void test_text_layout(void **state)
{
	(void)state;
	time_t before = time(NULL);
	log_kv(LOG_SEV_INFO, 0, "some/dir/file.c", 42, "msg", "key", "v w", (const char *)NULL);
	time_t after = time(NULL);
	char *out = captured();
	assert_text_line(out, 'I', "file.c", 42, "msg key=\"v w\"");
	/* the date is today's, in local time as klog writes it */
	struct tm tb, ta;
	localtime_r(&before, &tb);
	localtime_r(&after, &ta);
	char d1[8], d2[8];
	snprintf(d1, sizeof d1, "%02d%02d", tb.tm_mon + 1, tb.tm_mday);
	snprintf(d2, sizeof d2, "%02d%02d", ta.tm_mon + 1, ta.tm_mday);
	assert_true(strncmp(out + 1, d1, 4) == 0 || strncmp(out + 1, d2, 4) == 0);
	free(out);
}

static void test_text_severities_and_macros(void **state)
{
	(void)state;
	static const struct {
		int sev;
		char letter;
	} sevs[] = { { LOG_SEV_INFO, 'I' }, { LOG_SEV_WARNING, 'W' }, { LOG_SEV_ERROR, 'E' }, { LOG_SEV_FATAL, 'F' } };
	for (size_t i = 0; i < sizeof sevs / sizeof sevs[0]; i++) {
		reset_capture();
		log_kv(sevs[i].sev, 0, "x.c", 7, "hello", (const char *)NULL);
		char *out = captured();
		assert_text_line(out, sevs[i].letter, "x.c", 7, "hello");
		free(out);
	}
	reset_capture();
	int line = __LINE__ + 1;
	log_warn("disk %s is %d%% full", "vol-1", 99);
	char *out = captured();
	assert_text_line(out, 'W', "test_log.c", line, "disk vol-1 is 99% full");
	free(out);

	reset_capture();
	line = __LINE__ + 1;
	LOG_KV(LOG_SEV_ERROR, 0, "attach failed", "volume", "vol-1", "err", "AttachmentLimitExceeded");
	out = captured();
	assert_text_line(out, 'E', "test_log.c", line, "attach failed volume=vol-1 err=AttachmentLimitExceeded");
	free(out);
}

static void test_text_quoting(void **state)
{
	(void)state;
	log_kv(LOG_SEV_INFO, 0, "q.c", 1, "m", "plain", "vol-0123", "empty", "", "null", (const char *)NULL,
	       "eq", "a=b", "quote", "say \"hi\"", "bs", "C:\\x", "nl", "two\nlines", "tab", "a\tb",
	       (const char *)NULL);
	char *out = captured();
	assert_text_line(out, 'I', "q.c", 1,
			 "m plain=vol-0123 empty=\"\" null=\"\" eq=\"a=b\" quote=\"say \\\"hi\\\"\" bs=\"C:\\\\x\" "
			 "nl=\"two\\nlines\" tab=\"a\\tb\"");
	free(out);
}

static void test_newline_never_splits(void **state)
{
	(void)state;
	log_info("first\nsecond\r\nthird\n");
	log_kv(LOG_SEV_INFO, 0, "n.c", 3, "multi\nline", "k", "v\nw\r", (const char *)NULL);
	char *out = captured();
	assert_int_equal(count_lines(out), 2);
	assert_non_null(strstr(out, "] first second  third \n"));
	assert_non_null(strstr(out, "] multi line k=\"v\\nw\\r\"\n"));
	assert_null(strchr(out, '\r'));
	free(out);

	reset_capture();
	log_configure(LOG_FORMAT_JSON, 0);
	log_info("first\nsecond\r\n");
	out = captured();
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "\"msg\":\"first\\nsecond\\r\\n\""));
	free(out);
}

static void test_control_characters_escaped(void **state)
{
	(void)state;
	log_kv(LOG_SEV_INFO, 0, "c.c", 5, "red \x1b[31mALERT\x7f bell\a", "v", "\x1b[0m\x01\x7f", (const char *)NULL);
	char *out = captured();
	assert_text_line(out, 'I', "c.c", 5, "red \\x1b[31mALERT\\x7f bell\\x07 v=\"\\u001b[0m\\u0001\\u007f\"");
	free(out);

	reset_capture();
	log_configure(LOG_FORMAT_JSON, 0);
	log_kv(LOG_SEV_INFO, 0, "c.c", 5, "red \x1b[31m", "v", "\x01", (const char *)NULL);
	out = captured();
	assert_non_null(strstr(out, "\"msg\":\"red \\u001b[31m\""));
	assert_non_null(strstr(out, "\"v\":\"\\u0001\""));
	for (const char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			fail_msg("raw control byte 0x%02x in JSON output", (unsigned char)*p);
	free(out);
}

static void test_verbosity(void **state)
{
	(void)state;
	log_configure(LOG_FORMAT_TEXT, 2);
	assert_true(log_enabled(0));
	assert_true(log_enabled(2));
	assert_false(log_enabled(3));
	log_v(0, "v0");
	log_v(2, "v2");
	log_v(3, "v3 hidden");
	log_v(5, "v5 hidden");
	LOG_KV(LOG_SEV_INFO, 2, "kv2", "k", "v");
	LOG_KV(LOG_SEV_INFO, 4, "kv4 hidden", "k", "v");
	char *out = captured();
	assert_int_equal(count_lines(out), 3);
	assert_non_null(strstr(out, "] v0\n"));
	assert_non_null(strstr(out, "] v2\n"));
	assert_non_null(strstr(out, "] kv2 k=v\n"));
	assert_null(strstr(out, "hidden"));
	free(out);

	/* default: only V(0) */
	reset_capture();
	log_configure(LOG_FORMAT_TEXT, 0);
	log_v(1, "v1 hidden");
	log_error("errors always print");
	out = captured();
	assert_int_equal(count_lines(out), 1);
	assert_null(strstr(out, "hidden"));
	free(out);
}

/* Runs python3's json module over text; returns its exit status. Every line
 * must decode as strict UTF-8 and parse to an object with the fixed fields. */
static int python_json_check(const char *text, bool quiet)
{
	static const char script[] =
		"import json,sys\n"
		"data = sys.stdin.buffer.read().decode('utf-8')\n"
		"assert data.endswith('\\n'), 'missing final newline'\n"
		"for l in data.splitlines():\n"
		"    o = json.loads(l)\n"
		"    assert isinstance(o, dict), l\n"
		"    for k in ('ts', 'caller', 'level', 'v', 'msg'):\n"
		"        assert k in o, (k, l)\n"
		"    assert isinstance(o['ts'], float) and o['ts'] > 1.6e9, l\n";
	/* The script goes through a file, not -c: no shell quoting to get wrong. */
	char path[] = "/tmp/test_log_check.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, script, sizeof script - 1), (ssize_t)(sizeof script - 1));
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s%s", path, quiet ? " 2>/dev/null" : "");
	FILE *p = popen(cmd, "w");
	assert_non_null(p);
	fwrite(text, 1, strlen(text), p);
	int rc = pclose(p);
	unlink(path);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_json_lines(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0)
		skip();
	log_configure(LOG_FORMAT_JSON, 3);
	log_kv(LOG_SEV_INFO, 0, "dir/srv.c", 42, "NodeStageVolume", "volume", "vol-1", "path",
	       "/var/lib/kubelet/x y", (const char *)NULL);
	log_kv(LOG_SEV_ERROR, 2, "srv.c", 43, "quote \" backslash \\ tab \t nl \n", "err",
	       "ctl \x01\x1f\x7f", "null", (const char *)NULL, (const char *)NULL);
	log_kv(LOG_SEV_WARNING, 3, "srv.c", 44, "utf8 é 日本 \xf0\x9f\x92\xbe", "bad",
	       "\xff\xfe \xc3 \xe0\x80\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xc3\xa9", (const char *)NULL);
	log_v(4, "hidden at v4");
	log_v(3, "printf %d%%", 100);
	char big[5000];
	memset(big, 'b', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_info("%s", big);
	char *out = captured();
	assert_int_equal(count_lines(out), 5);
	assert_null(strstr(out, "hidden"));
	assert_int_equal(python_json_check(out, false), 0);

	/* fields, spot-checked in C */
	assert_non_null(strstr(out, "\"caller\":\"srv.c:42\""));
	assert_non_null(strstr(out, "\"level\":\"info\",\"v\":0,\"msg\":\"NodeStageVolume\",\"volume\":\"vol-1\""));
	assert_non_null(strstr(out, "\"level\":\"error\",\"v\":2,"));
	assert_non_null(strstr(out, "\"msg\":\"quote \\\" backslash \\\\ tab \\t nl \\n\""));
	assert_non_null(strstr(out, "\"err\":\"ctl \\u0001\\u001f\\u007f\",\"null\":\"\"}"));
	assert_non_null(strstr(out, "\"level\":\"warning\",\"v\":3,"));
	/* valid UTF-8 passes through; each invalid sequence becomes U+FFFD */
	assert_non_null(strstr(out, "utf8 é 日本 \xf0\x9f\x92\xbe"));
	assert_non_null(strstr(out, "\"bad\":\"\\ufffd\\ufffd \\ufffd \\ufffd\\ufffd\\ufffd "
				    "\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\\ufffd \xc3\xa9\""));
	assert_non_null(strstr(out, "\"msg\":\"printf 100%\""));
	free(out);

	/* the checker itself rejects what it should */
	assert_int_not_equal(python_json_check("{\"ts\":1.0}\n", true), 0);
	assert_int_not_equal(python_json_check("{\"ts\":1764108000.5,\"caller\":\"a\",\"level\":\"info\",\"v\":0,"
					       "\"msg\":\"\xff\"}\n",
					       true),
			     0);
}

static void test_long_message_one_line(void **state)
{
	(void)state;
	char big[10000];
	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[3000] = '\n';
	log_info("%s", big);
	char *out = captured();
	assert_int_equal(count_lines(out), 1);
	assert_true(strlen(out) > 2000);
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(out);
}

enum { THREADS = 8, LINES = 400 };

static void *log_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	char pad[300];
	memset(pad, 'a' + id, sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	for (int i = 0; i < LINES; i++)
		log_kv(LOG_SEV_INFO, 0, "t.c", 1, "line", "thread", pad, (const char *)NULL);
	return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
	(void)state;
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_thread, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	char *out = captured();
	assert_int_equal(count_lines(out), THREADS * LINES);
	int per_thread[THREADS] = { 0 };
	for (char *line = out, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		char *v = strstr(line, "] line thread=");
		assert_non_null(v);
		v += strlen("] line thread=");
		int id = v[0] - 'a';
		assert_true(id >= 0 && id < THREADS);
		assert_int_equal(strlen(v), 299);
		assert_int_equal(strspn(v, (char[]){ (char)('a' + id), 0 }), 299);
		per_thread[id]++;
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(per_thread[i], LINES);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test_setup_teardown(test_text_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_severities_and_macros, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newline_never_splits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_characters_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verbosity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message_one_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_do_not_interleave, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
