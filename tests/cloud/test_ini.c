/*
 * test_ini: the AWS shared-file parser — comments (';' and '#', full-line and
 * inline), whitespace, "[profile x]" versus "[x]", duplicate keys and
 * sections, nested sub-keys, continuation lines, malformed input (errors name
 * the line, never its content), missing and unreadable files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/ini.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ini *parse(const char *text)
{
	struct ini *ini = NULL;
	struct status st = STATUS_INIT;
	assert_int_equal(ini_parse(text, strlen(text), "test", &ini, &st), 0);
	return ini;
}

static void test_basic(void **state)
{
	(void)state;
	struct ini *ini = parse("# a comment\n"
				"; another\n"
				"[default]\n"
				"aws_access_key_id = AKIDEXAMPLE\n"
				"  aws_secret_access_key=wJalr/XUtnFEMI+K7MDENG   \n"
				"\tAWS_Session_Token :  tok=en==  ; inline comment\n"
				"region = us-west-2 # trailing\n"
				"weird = a;b#c\n"
				"\r\n"
				"[  profile   dev  ]\r\n"
				"region=eu-west-1\r\n"
				"[dev]\n"
				"empty =\n");
	assert_string_equal(ini_get(ini, "default", "aws_access_key_id"), "AKIDEXAMPLE");
	assert_string_equal(ini_get(ini, "default", "aws_secret_access_key"), "wJalr/XUtnFEMI+K7MDENG");
	/* Keys are lower-cased; ':' is a delimiter too. */
	assert_string_equal(ini_get(ini, "default", "aws_session_token"), "tok=en==");
	assert_string_equal(ini_get(ini, "default", "region"), "us-west-2");
	assert_string_equal(ini_get(ini, "default", "weird"), "a;b#c");
	assert_true(ini_has_section(ini, "profile dev"));
	assert_string_equal(ini_get(ini, "profile dev", "region"), "eu-west-1");
	assert_true(ini_has_section(ini, "dev"));
	assert_null(ini_get(ini, "dev", "region"));
	assert_string_equal(ini_get(ini, "dev", "empty"), "");
	assert_null(ini_get(ini, "nope", "region"));
	assert_false(ini_has_section(ini, "profile"));
	ini_free(ini);
}

static void test_duplicates_and_nesting(void **state)
{
	(void)state;
	struct ini *ini = parse("[a]\n"
				"k = first\n"
				"other = 1\n"
				"[b]\n"
				"k = b\n"
				"[a]\n"
				"k = second\n"
				"[services local]\n"
				"ec2 =\n"
				"  endpoint_url = http://127.0.0.1:5000\n"
				"  region = us-east-1\n"
				"[c]\n"
				"multi = line1\n"
				"    line2\n");
	assert_string_equal(ini_get(ini, "a", "k"), "second"); /* last one wins */
	assert_string_equal(ini_get(ini, "a", "other"), "1");  /* sections merge */
	assert_string_equal(ini_get(ini, "b", "k"), "b");
	assert_string_equal(ini_get(ini, "services local", "ec2.endpoint_url"), "http://127.0.0.1:5000");
	assert_string_equal(ini_get(ini, "services local", "ec2.region"), "us-east-1");
	assert_string_equal(ini_get(ini, "c", "multi"), "line1\nline2");
	ini_free(ini);
}

static void test_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
		"key = outside\n",
		"[default\nk = v\n",
		"[default]\nno delimiter here SECRETVALUE\n",
		"[]\n",
		"[default] junk\n",
		"[default]\n= value\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ini *ini = (struct ini *)1;
		struct status st = STATUS_INIT;
		assert_int_equal(ini_parse(bad[i], strlen(bad[i]), "f.ini", &ini, &st), -1);
		assert_null(ini);
		assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, "f.ini line "));
		assert_null(strstr(st.msg, "SECRETVALUE"));
	}
	struct ini *ini = NULL;
	struct status st = STATUS_INIT;
	assert_int_equal(ini_parse("[a]\nk=v\0x", 9, "nul", &ini, &st), -1);
	/* Empty input is an empty document. */
	assert_int_equal(ini_parse("", 0, "empty", &ini, &st), 0);
	assert_false(ini_has_section(ini, "default"));
	ini_free(ini);
}

static void test_files(void **state)
{
	(void)state;
	struct ini *ini = NULL;
	struct status st = STATUS_INIT;
	assert_int_equal(ini_load_file("/nonexistent/dir/credentials", &ini, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_null(ini);

	char path[] = "/tmp/test_ini_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	/* Bigger than one read buffer, to exercise growth. */
	FILE *f = fdopen(fd, "w");
	fprintf(f, "[default]\n");
	for (int i = 0; i < 500; i++)
		fprintf(f, "key%d = value-%d-with-some-padding-to-grow-the-buffer\n", i, i);
	fprintf(f, "aws_access_key_id = AKID\n");
	fclose(f);
	assert_int_equal(ini_load_file(path, &ini, &st), 0);
	assert_string_equal(ini_get(ini, "default", "aws_access_key_id"), "AKID");
	assert_string_equal(ini_get(ini, "default", "key499"), "value-499-with-some-padding-to-grow-the-buffer");
	ini_free(ini);
	ini_free(NULL);

	if (geteuid() != 0) { /* root reads anything */
		chmod(path, 0);
		assert_int_equal(ini_load_file(path, &ini, &st), -1);
		assert_int_equal(st.code, STATUS_PERMISSION_DENIED);
	}
	/* A directory is not a file. */
	assert_int_equal(ini_load_file("/tmp", &ini, &st), -1);
	assert_int_not_equal(st.code, STATUS_OK);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_duplicates_and_nesting),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
