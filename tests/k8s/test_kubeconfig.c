/*
 * test_kubeconfig: the YAML subset (mappings, sequences at and under their
 * key's column, "- key:" items, quoting and escapes, comments, block scalars,
 * flow leftovers, bounds and errors with line numbers), base64, kubeconfig
 * extraction (current context, CA/cert/key as files and data, relative
 * paths, refused auth kinds and insecure-skip-tls-verify), the file reader,
 * and in-cluster config from a temporary service-account directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "k8s/k8s_internal.h"
#include "k8s/kubeconfig.h"
#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *yaml(const char *text)
{
	json_t *v = NULL;
	struct status st = STATUS_INIT;
	if (k8s_yaml_parse(text, strlen(text), &v, &st) != 0) {
		print_error("yaml error: %s\n", st.msg);
		return NULL;
	}
	return v;
}

static void assert_yaml_equals_json(const char *text, const char *json)
{
	json_t *got = yaml(text);
	assert_non_null(got);
	json_t *want = json_loads(json, JSON_DECODE_ANY, NULL);
	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
		print_error("got  %s\nwant %s\n", g, json);
		free(g);
		fail();
	}
	json_decref(got);
	json_decref(want);
}

static void test_yaml_mappings_and_sequences(void **state)
{
	(void)state;
	assert_yaml_equals_json("a: 1\nb: two\nc:\n  d: x\n  e: y\n", "{\"a\":\"1\",\"b\":\"two\",\"c\":{\"d\":\"x\",\"e\":\"y\"}}");
	/* Sequence at its key's column, and indented under it. */
	assert_yaml_equals_json("l:\n- a\n- b\nm:\n  - c\n", "{\"l\":[\"a\",\"b\"],\"m\":[\"c\"]}");
	/* Compact mappings in items, nested two deep. */
	assert_yaml_equals_json("clusters:\n- cluster:\n    server: https://h:6443\n    x: y\n  name: c1\n- name: c2\n",
				"{\"clusters\":[{\"cluster\":{\"server\":\"https://h:6443\",\"x\":\"y\"},\"name\":\"c1\"},"
				"{\"name\":\"c2\"}]}");
	assert_yaml_equals_json("- - a\n  - b\n- c\n", "[[\"a\",\"b\"],\"c\"]");
	assert_yaml_equals_json("k:\n-\n  a: b\n", "{\"k\":[{\"a\":\"b\"}]}");
	assert_yaml_equals_json("empty:\nnext: v\n", "{\"empty\":null,\"next\":\"v\"}");
	assert_yaml_equals_json("", "null");
	assert_yaml_equals_json("---\na: b\n...\n", "{\"a\":\"b\"}");
}

static void test_yaml_scalars(void **state)
{
	(void)state;
	assert_yaml_equals_json("a: 'it''s # not a comment'\nb: \"q\\\"\\n\\u00e9\\t\" # c\nc: plain # comment\n",
				"{\"a\":\"it's # not a comment\",\"b\":\"q\\\"\\n\\u00e9\\t\",\"c\":\"plain\"}");
	assert_yaml_equals_json("url: https://x:1/p#frag\nk: a:b\n", "{\"url\":\"https://x:1/p#frag\",\"k\":\"a:b\"}");
	assert_yaml_equals_json("p: {}\nq: []\nr: ~\ns: null\nt: {a: b}\n",
				"{\"p\":{},\"q\":[],\"r\":null,\"s\":null,\"t\":\"{a: b}\"}");
	assert_yaml_equals_json("\"quoted key\": v\n'k2': w\n", "{\"quoted key\":\"v\",\"k2\":\"w\"}");
	/* Literal and folded block scalars, chomping. */
	assert_yaml_equals_json("lit: |\n  line1\n   line2\n\n  # not a comment\nnext: x\n",
				"{\"lit\":\"line1\\n line2\\n\\n# not a comment\\n\",\"next\":\"x\"}");
	assert_yaml_equals_json("f: >-\n  a\n  b\n", "{\"f\":\"a b\"}");
	/* Plain multi-line scalar: folded with spaces (long base64 wrapped). */
	assert_yaml_equals_json("d: QUJD\n  REVG\nn: 1\n", "{\"d\":\"QUJD REVG\",\"n\":\"1\"}");
	/* Windows line ends and comments everywhere. */
	assert_yaml_equals_json("# top\r\na: b\r\n  # indented comment\r\nc: d\r\n", "{\"a\":\"b\",\"c\":\"d\"}");
	/* Anchors and tags are kept raw. */
	assert_yaml_equals_json("a: &x v\nb: !!str w\n", "{\"a\":\"&x v\",\"b\":\"!!str w\"}");
}

static void expect_yaml_error(const char *text, const char *needle)
{
	json_t *v = NULL;
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_yaml_parse(text, strlen(text), &v, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	if (strstr(st.msg, needle) == NULL) {
		print_error("message \"%s\" lacks \"%s\"\n", st.msg, needle);
		fail();
	}
	assert_null(v);
}

static void test_yaml_errors(void **state)
{
	(void)state;
	expect_yaml_error("a: b\n  c: d\n", "line 2");
	expect_yaml_error("a: b\nnot a mapping line\n", "line 2");
	expect_yaml_error("a:\n\tb: c\n", "tab");
	expect_yaml_error("a: \"unterminated\n", "line 1");
	expect_yaml_error("a: 'x' y\n", "after a quoted scalar");
	expect_yaml_error("a: b\n---\nc: d\n", "more than one document");
	expect_yaml_error("a: \"bad \\q escape\"\n", "line 1");
	/* Nesting bound. */
	struct buf deep;
	buf_init(&deep);
	for (int i = 0; i < K8S_YAML_MAX_DEPTH + 5; i++)
		buf_printf(&deep, "%*sk:\n", i, "");
	buf_printf(&deep, "%*sv\n", K8S_YAML_MAX_DEPTH + 5, "");
	expect_yaml_error(deep.data, "too deep");
	buf_dispose(&deep);
	/* Size bound. */
	size_t big = K8S_KUBECONFIG_MAX_BYTES + 1;
	char *huge = malloc(big + 1);
	memset(huge, 'a', big);
	huge[big] = '\0';
	json_t *v = NULL;
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_yaml_parse(huge, big, &v, &st), -1);
	free(huge);
	/* Embedded NUL. */
	assert_int_equal(k8s_yaml_parse("a: b\0c", 6, &v, &st), -1);
}

static void test_yaml_json_input(void **state)
{
	(void)state;
	assert_yaml_equals_json("  {\"a\": [1, \"x\"]}", "{\"a\":[1,\"x\"]}");
	json_t *v = NULL;
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_yaml_parse("{\"a\":", 5, &v, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
}

static void test_base64(void **state)
{
	(void)state;
	char *out;
	size_t n;
	assert_int_equal(k8s_base64_decode("aGVsbG8gd29ybGQ=", 16, &out, &n), 0);
	assert_int_equal(n, 11);
	assert_string_equal(out, "hello world");
	free(out);
	assert_int_equal(k8s_base64_decode("aGVs\nbG8", 8, &out, &n), 0); /* no padding, a newline */
	assert_string_equal(out, "hello");
	free(out);
	assert_int_equal(k8s_base64_decode("", 0, &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	assert_int_equal(k8s_base64_decode("a", 1, &out, &n), -1);
	assert_int_equal(k8s_base64_decode("ab!c", 4, &out, &n), -1);
	assert_int_equal(k8s_base64_decode("ab=c", 4, &out, &n), -1);
}

static const char *KUBECONFIG =
	"apiVersion: v1\n"
	"kind: Config\n"
	"preferences: {}\n"
	"current-context: dev   # the one we use\n"
	"clusters:\n"
	"- cluster:\n"
	"    certificate-authority: certs/ca.pem\n"
	"    server: https://127.0.0.1:6443/\n"
	"  name: devc\n"
	"- cluster:\n"
	"    server: https://other:443\n"
	"  name: other\n"
	"contexts:\n"
	"- context:\n"
	"    cluster: other\n"
	"    user: nobody\n"
	"  name: prod\n"
	"- context:\n"
	"    cluster: devc\n"
	"    user: devu\n"
	"    namespace: kube-system\n"
	"  name: dev\n"
	"users:\n"
	"- name: devu\n"
	"  user:\n"
	"    token: \"s3cr3t-t0ken\"\n"
	"    client-certificate-data: Q0VSVA==\n"
	"    client-key-data: S0VZ\n";

static void test_kubeconfig_current_context(void **state)
{
	(void)state;
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_kubeconfig_parse(KUBECONFIG, strlen(KUBECONFIG), "/etc/kube", &cfg, &st), 0);
	assert_string_equal(cfg.server, "https://127.0.0.1:6443");
	assert_string_equal(cfg.ca_file, "/etc/kube/certs/ca.pem");
	assert_null(cfg.ca_data);
	assert_string_equal(cfg.token, "s3cr3t-t0ken");
	assert_int_equal(cfg.client_cert_data_len, 4);
	assert_string_equal(cfg.client_cert_data, "CERT");
	assert_string_equal(cfg.client_key_data, "KEY");
	assert_string_equal(cfg.namespace, "kube-system");
	k8s_config_dispose(&cfg);
}

static void test_kubeconfig_data_and_files(void **state)
{
	(void)state;
	const char *text =
		"current-context: c\n"
		"contexts:\n- name: c\n  context: {cluster: x}\n" /* flow: unsupported, so no cluster */
		;
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_kubeconfig_parse(text, strlen(text), NULL, &cfg, &st), -1);
	assert_non_null(strstr(st.msg, "context \"c\" not found"));
	assert_null(cfg.server);

	text = "current-context: c\n"
	       "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
	       "clusters:\n- name: k\n  cluster:\n    server: http://127.0.0.1:8080\n"
	       "    certificate-authority-data: UEVN\n"
	       "users:\n- name: u\n  user:\n    tokenFile: /var/tok\n    client-certificate: c.pem\n"
	       "    client-key: /abs/k.pem\n";
	assert_int_equal(k8s_kubeconfig_parse(text, strlen(text), "/d", &cfg, &st), 0);
	assert_string_equal(cfg.server, "http://127.0.0.1:8080");
	assert_string_equal(cfg.ca_data, "PEM");
	assert_string_equal(cfg.token_file, "/var/tok");
	assert_string_equal(cfg.client_cert_file, "/d/c.pem");
	assert_string_equal(cfg.client_key_file, "/abs/k.pem");
	assert_null(cfg.token);
	k8s_config_dispose(&cfg);
}

static void expect_kubeconfig_error(const char *user_or_cluster_yaml, const char *needle)
{
	char text[2048];
	snprintf(text, sizeof text,
		 "current-context: c\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n%s",
		 user_or_cluster_yaml);
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_kubeconfig_parse(text, strlen(text), NULL, &cfg, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	if (strstr(st.msg, needle) == NULL) {
		print_error("message \"%s\" lacks \"%s\"\n", st.msg, needle);
		fail();
	}
	/* Never the token in a message. */
	assert_null(strstr(st.msg, "tok-value"));
	assert_null(cfg.server);
	assert_null(cfg.token);
}

#define CLUSTER_OK "clusters:\n- name: k\n  cluster:\n    server: https://h\n"

static void test_kubeconfig_refusals(void **state)
{
	(void)state;
	expect_kubeconfig_error(CLUSTER_OK "users:\n- name: u\n  user:\n    token: tok-value\n    exec:\n      command: aws\n",
				"exec credential plugins are not supported");
	expect_kubeconfig_error(CLUSTER_OK "users:\n- name: u\n  user:\n    auth-provider:\n      name: gcp\n",
				"auth-provider");
	expect_kubeconfig_error(CLUSTER_OK "users:\n- name: u\n  user:\n    username: a\n    password: tok-value\n",
				"basic authentication");
	expect_kubeconfig_error(CLUSTER_OK "users:\n- name: u\n  user:\n    client-certificate: c.pem\n",
				"must be given together");
	expect_kubeconfig_error(CLUSTER_OK "users:\n- name: u\n  user:\n    token: tok-value\n    client-key-data: '%%%'\n",
				"client-key-data is not valid base64");
	expect_kubeconfig_error(CLUSTER_OK "users:\n- name: other\n", "user \"u\" not found");
	expect_kubeconfig_error("clusters:\n- name: k\n  cluster:\n    server: https://h\n    insecure-skip-tls-verify: true\n"
				"users:\n- name: u\n  user:\n    token: tok-value\n",
				"insecure-skip-tls-verify is not supported");
	expect_kubeconfig_error("clusters:\n- name: k\n  cluster:\n    server: ftp://h\n", "http:// or https://");
	expect_kubeconfig_error("clusters:\n- name: k\n  cluster:\n    certificate-authority: x\n", "server is not set");
	expect_kubeconfig_error("clusters:\n- name: other\n  cluster:\n    server: https://h\n", "cluster \"k\" not found");

	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_kubeconfig_parse("kind: Config\n", 13, NULL, &cfg, &st), -1);
	assert_non_null(strstr(st.msg, "current-context is not set"));
	assert_int_equal(k8s_kubeconfig_parse("- a\n", 4, NULL, &cfg, &st), -1);
	assert_non_null(strstr(st.msg, "not a kubeconfig"));
}

static void test_kubeconfig_json(void **state)
{
	(void)state;
	const char *text = "{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\",\"context\":{\"cluster\":\"k\"}}],"
			   "\"clusters\":[{\"name\":\"k\",\"cluster\":{\"server\":\"https://j:1\"}}]}";
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_kubeconfig_parse(text, strlen(text), NULL, &cfg, &st), 0);
	assert_string_equal(cfg.server, "https://j:1");
	assert_null(cfg.token);
	k8s_config_dispose(&cfg);
}

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/k8s-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
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

static void rm_tree(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_kubeconfig_file(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	write_file(dir, "config", KUBECONFIG);
	char path[512];
	snprintf(path, sizeof path, "%s/config", dir);
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;
	assert_int_equal(k8s_config_load(path, &cfg, &st), 0);
	char want[600];
	snprintf(want, sizeof want, "%s/certs/ca.pem", dir);
	assert_string_equal(cfg.ca_file, want);
	k8s_config_dispose(&cfg);

	write_file(dir, "bad", "current-context: c\n");
	snprintf(path, sizeof path, "%s/bad", dir);
	assert_int_equal(k8s_config_from_kubeconfig(path, &cfg, &st), -1);
	assert_non_null(strstr(st.msg, "kubeconfig "));
	assert_non_null(strstr(st.msg, "/bad: context \"c\" not found"));

	snprintf(path, sizeof path, "%s/missing", dir);
	assert_int_equal(k8s_config_from_kubeconfig(path, &cfg, &st), -1);
	assert_non_null(strstr(st.msg, "No such file"));
	rm_tree(dir);
	free(dir);
}

static void test_in_cluster(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;

	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(k8s_config_in_cluster(dir, &cfg, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "KUBERNETES_SERVICE_HOST"));

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(k8s_config_in_cluster(dir, &cfg, &st), -1);
	assert_non_null(strstr(st.msg, "/token"));

	write_file(dir, "token", "tok-one\n");
	write_file(dir, "ca.crt", "PEM");
	write_file(dir, "namespace", "kube-system\n");
	assert_int_equal(k8s_config_in_cluster(dir, &cfg, &st), 0);
	assert_string_equal(cfg.server, "https://10.96.0.1:443");
	assert_string_equal(cfg.namespace, "kube-system");
	assert_null(cfg.token);

	/* The token is re-read on every request: rotation needs no restart. */
	char *tok = NULL;
	assert_int_equal(k8s_config_token(&cfg, &tok, &st), 0);
	assert_string_equal(tok, "tok-one");
	free(tok);
	write_file(dir, "token", "tok-two");
	assert_int_equal(k8s_config_token(&cfg, &tok, &st), 0);
	assert_string_equal(tok, "tok-two");
	free(tok);
	write_file(dir, "token", "bad\001tok-value");
	assert_int_equal(k8s_config_token(&cfg, &tok, &st), -1);
	assert_null(strstr(st.msg, "tok-value"));
	write_file(dir, "token", "\n");
	assert_int_equal(k8s_config_token(&cfg, &tok, &st), -1);
	assert_non_null(strstr(st.msg, "empty"));
	k8s_config_dispose(&cfg);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(k8s_config_in_cluster(dir, &cfg, &st), 0);
	assert_string_equal(cfg.server, "https://[fd00::1]:443");
	k8s_config_dispose(&cfg);
	setenv("KUBERNETES_SERVICE_PORT", "44x", 1);
	assert_int_equal(k8s_config_in_cluster(dir, &cfg, &st), -1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	rm_tree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_mappings_and_sequences),
		cmocka_unit_test(test_yaml_scalars),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_yaml_json_input),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_kubeconfig_current_context),
		cmocka_unit_test(test_kubeconfig_data_and_files),
		cmocka_unit_test(test_kubeconfig_refusals),
		cmocka_unit_test(test_kubeconfig_json),
		cmocka_unit_test(test_kubeconfig_file),
		cmocka_unit_test(test_in_cluster),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
