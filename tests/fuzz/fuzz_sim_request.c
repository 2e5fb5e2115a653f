/*
 * fuzz_sim_request: the EC2 simulator's request parsing — the urlencoded
 * form and its typed/list/filter/tag lookups (cloud/ec2sim/sim_form.h), the
 * SigV4 check of an incoming request (cloud/ec2sim/sim_auth.h), and its
 * command line (sim_config_parse, --instances).
 *
 * Input: one selector byte, then
 *   0: a form body (not NUL-terminated), then every lookup a handler does;
 *   1: NUL-separated method, path, query, body, then header name/value
 *      pairs: sim_auth_check as received (must fail cleanly: the fuzzer
 *      cannot forge a signature, so success aborts);
 *   2: the same fields, signed by the client side (cloud/sigv4) with the
 *      simulator's credentials first: sim_auth_check must accept it;
 *   3: NUL-separated argv for sim_config_parse (the last field an
 *      --instances spec for sim_config_parse_instances).
 * Oracles besides the sanitizers: keys of a parsed form are unique (the
 * documented invariant); errors carry an HTTP status and an EC2 code.
 */
#include "tests/fuzz/fuzz_util.h"

#include "cloud/ec2sim/sim_auth.h"
#include "cloud/ec2sim/sim_config.h"
#include "cloud/ec2sim/sim_form.h"
#include "cloud/ec2sim/sim_state.h"
#include "cloud/sigv4.h"
#include "common/status.h"
#include "common/strv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NOW ((time_t)1700000000)
#define MAX_HEADERS 16
#define MAX_ARGS 24

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	devnull = fopen("/dev/null", "w");
	return 0;
}

static void check_err(const struct sim_err *e)
{
	if (e->http < 400 || e->http > 599 || e->code[0] == '\0' || !memchr(e->code, 0, sizeof e->code) ||
	    !memchr(e->msg, 0, sizeof e->msg))
		abort();
}

static const char *const allowed[] = {
	"Size", "AvailabilityZone", "VolumeType", "Iops", "Throughput", "Encrypted", "KmsKeyId", "SnapshotId",
	"ClientToken", "DryRun", "MaxResults", "NextToken", "VolumeId.N", "Filter.N.Name", "Filter.N.Value.N",
	"TagSpecification.N.ResourceType", "TagSpecification.N.Tag.N.Key", "TagSpecification.N.Tag.N.Value", NULL
};

static void form_mode(struct fz *f)
{
	size_t len;
	char *body = fz_rest(f, &len);
	struct sim_form form;
	sim_form_init(&form);
	struct sim_err e;
	memset(&e, 0, sizeof e);
	if (sim_form_parse(&form, body, len, &e) != 0) {
		check_err(&e);
		goto out;
	}
	if (form.n <= 64)
		for (size_t i = 0; i < form.n; i++)
			for (size_t j = i + 1; j < form.n; j++)
				if (strcmp(form.v[i].key, form.v[j].key) == 0)
					abort();
	memset(&e, 0, sizeof e);
	if (sim_form_check_allowed(&form, allowed, &e) != 0)
		check_err(&e);
	long long n;
	bool b, present;
	memset(&e, 0, sizeof e);
	if (sim_form_int(&form, "MaxResults", 5, 1000, &n, &present, &e) != 0)
		check_err(&e);
	memset(&e, 0, sizeof e);
	if (sim_form_int(&form, "Size", -1000000, 1000000, &n, NULL, &e) != 0)
		check_err(&e);
	memset(&e, 0, sizeof e);
	if (sim_form_bool(&form, "DryRun", &b, &present, &e) != 0)
		check_err(&e);
	memset(&e, 0, sizeof e);
	if (sim_form_required(&form, "Action", &e) == NULL)
		check_err(&e);
	struct strv ids;
	strv_init(&ids);
	(void)sim_form_list(&form, "VolumeId", &ids);
	strv_dispose(&ids);
	size_t ni = 0;
	unsigned *idx = sim_form_indices(&form, "Filter", &ni);
	for (size_t i = 1; i < ni; i++)
		if (idx[i] <= idx[i - 1])
			abort(); /* sorted and distinct */
	free(idx);
	struct sim_filters fs = { 0 };
	memset(&e, 0, sizeof e);
	if (sim_form_filters(&form, &fs, &e) != 0)
		check_err(&e);
	sim_filters_dispose(&fs);
	struct sim_tags tags;
	memset(&tags, 0, sizeof tags);
	memset(&e, 0, sizeof e);
	if (sim_form_tag_specs(&form, "volume", &tags, &e) != 0)
		check_err(&e);
	sim_tags_dispose(&tags);
	static const char *const skip[] = { "ClientToken", "DryRun", NULL };
	free(sim_form_fingerprint(&form, skip));
out:
	sim_form_dispose(&form);
	free(body);
}

static bool replaced_by_signer(const char *name)
{
	return strcasecmp(name, "authorization") == 0 || strcasecmp(name, "x-amz-date") == 0 ||
	       strcasecmp(name, "x-amz-security-token") == 0 || strcasecmp(name, "x-amz-content-sha256") == 0;
}

static void auth_mode(struct fz *f, bool sign)
{
	char *method = fz_str(f, NULL);
	char *path = fz_str(f, NULL);
	char *query = fz_str(f, NULL);
	size_t body_len;
	char *body = fz_str(f, &body_len);
	char *owned[2 * MAX_HEADERS];
	size_t n_owned = 0, nh = 0;
	struct sigv4_header h[MAX_HEADERS + SIGV4_MAX_OUT_HEADERS];
	while (f->n > 0 && n_owned < 2 * MAX_HEADERS) {
		char *name = fz_str(f, NULL);
		char *value = fz_str(f, NULL);
		owned[n_owned++] = name;
		owned[n_owned++] = value;
		if (!sign || !replaced_by_signer(name))
			h[nh++] = (struct sigv4_header){ name, value };
	}
	struct sim_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.region = "us-east-1";
	cfg.access_key = SIM_DEFAULT_ACCESS_KEY;
	cfg.secret_key = SIM_DEFAULT_SECRET_KEY;
	cfg.max_skew_s = 300;
	struct sim_http_req r = { .method = method, .path = path, .query = query, .headers = h,
				  .n_headers = nh, .body = body, .body_len = body_len };
	struct sim_err e;
	memset(&e, 0, sizeof e);
	if (!sign) {
		if (sim_auth_check(&cfg, &r, NOW, &e) == 0)
			abort(); /* a forged signature */
		check_err(&e);
	} else {
		struct sigv4_request req = { .method = method, .path = path, .query = query, .headers = h,
					     .n_headers = nh, .payload = body, .payload_len = body_len };
		struct sigv4_credentials cred = { SIM_DEFAULT_ACCESS_KEY, SIM_DEFAULT_SECRET_KEY, NULL };
		struct sigv4_params p = { .region = "us-east-1", .service = "ec2", .time = NOW,
					  .normalize_path = true };
		struct sigv4_result res;
		sigv4_result_init(&res);
		struct status st = STATUS_INIT;
		if (sigv4_sign(&req, &cred, &p, &res, &st) == 0 &&
		    strlen(res.signed_headers) < sizeof((struct sigv4_auth *)0)->signed_headers) {
			for (size_t i = 0; i < res.n_add; i++)
				h[nh + i] = (struct sigv4_header){ res.add[i].name, res.add[i].value };
			r.n_headers = nh + res.n_add;
			if (sim_auth_check(&cfg, &r, NOW, &e) != 0) {
				fprintf(stderr, "signed request refused: %d %s: %s\n", e.http, e.code, e.msg);
				abort();
			}
		}
		sigv4_result_dispose(&res);
	}
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	free(method);
	free(path);
	free(query);
	free(body);
}

static void config_mode(struct fz *f)
{
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	argv[argc++] = strdup("ebs-ec2-sim");
	while (f->n > 0 && argc < MAX_ARGS)
		argv[argc++] = fz_str(f, NULL);
	argv[argc] = NULL;
	char *copy[MAX_ARGS + 1];
	memcpy(copy, argv, sizeof copy); /* the parser may permute argv (getopt) */
	struct sim_config c;
	struct status st = STATUS_INIT;
	int rc = sim_config_parse(argc, copy, &c, devnull, &st);
	if (rc < 0 && st.code == STATUS_OK)
		abort();
	if (rc == 0) {
		st = (struct status)STATUS_INIT;
		(void)sim_config_parse_instances(&c, argv[argc - 1], &st);
		for (size_t i = 0; i < c.n_instances; i++) {
			char mac[18];
			sim_config_eni_mac(&c.instances[i], 1, mac);
			free(sim_config_zone_id(c.instances[i].az));
		}
	}
	sim_config_dispose(&c);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t sel = fz_byte(&f);
	switch (sel % 4) {
	case 0:
		form_mode(&f);
		break;
	case 1:
		auth_mode(&f, false);
		break;
	case 2:
		auth_mode(&f, true);
		break;
	case 3:
		config_mode(&f);
		break;
	}
	return 0;
}
