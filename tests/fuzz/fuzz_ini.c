/*
 * fuzz_ini: the AWS shared config/credentials file parser (cloud/ini.h) and
 * the profile step of the credential chain on top of it (creds_from_profile,
 * cloud/creds_internal.h), which reads both files and picks keys, web
 * identity settings or an unsupported-feature error out of them.
 *
 * Input: one selector byte. Even: the rest is one file for ini_parse, then
 * looked up with the keys the chain uses. Odd: NUL-separated fields — the
 * credentials file, the config file, and an optional AWS_PROFILE value —
 * written to two memfds that creds_from_profile reads through /proc/self/fd.
 * The network is the only thing stubbed out: a profile that would call STS
 * (role_arn + web_identity_token_file) is not handed to the chain (the
 * target has no HTTP client), the rest runs as in the driver.
 * Oracles: a failure carries a status; a success fills both keys.
 */
#include "tests/fuzz/fuzz_util.h"

#include "cloud/creds.h"
#include "cloud/creds_internal.h"
#include "cloud/endpoint.h"
#include "cloud/ini.h"
#include "common/status.h"
#include "common/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int cred_fd = -1, conf_fd = -1;
static char cred_path[64], conf_path[64];

struct env {
	const char *profile;
};

static const char *getenv_fn(void *ctx, const char *name)
{
	struct env *e = ctx;
	if (strcmp(name, "AWS_SHARED_CREDENTIALS_FILE") == 0)
		return cred_path;
	if (strcmp(name, "AWS_CONFIG_FILE") == 0)
		return conf_path;
	if (strcmp(name, "AWS_PROFILE") == 0)
		return e->profile;
	if (strcmp(name, "HOME") == 0)
		return "/nonexistent-home";
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	cred_fd = memfd_create("fuzz-credentials", MFD_CLOEXEC);
	conf_fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (cred_fd < 0 || conf_fd < 0)
		abort();
	snprintf(cred_path, sizeof cred_path, "/proc/self/fd/%d", cred_fd);
	snprintf(conf_path, sizeof conf_path, "/proc/self/fd/%d", conf_fd);
	return 0;
}

static void put(int fd, const char *s, size_t len)
{
	if (ftruncate(fd, 0) != 0 || (len && pwrite(fd, s, len, 0) != (ssize_t)len))
		abort();
}

static const char *const keys[] = { "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
				     "region", "role_arn", "web_identity_token_file", "s3", "s3.endpoint_url",
				     "credential_process", "sso_session", "" };

static void lookups(const struct ini *ini)
{
	static const char *const sections[] = { "default", "profile default", "profile a", "a", "services x", "" };
	for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
		(void)ini_has_section(ini, sections[s]);
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			const char *v = ini_get(ini, sections[s], keys[k]);
			if (v != NULL)
				(void)strlen(v);
		}
	}
}

/* Whether the profile step would go to STS for this config (the network). */
static bool wants_sts(const char *conf, size_t len, const char *profile)
{
	struct ini *ini = NULL;
	if (ini_parse(conf, len, "config", &ini, NULL) != 0)
		return false;
	char sect[512];
	snprintf(sect, sizeof sect, "profile %s", profile ? profile : "default");
	const char *const sections[] = { "default", "profile default", sect };
	bool sts = false;
	for (size_t i = 0; i < 3; i++)
		if (ini_get(ini, sections[i], "role_arn") && ini_get(ini, sections[i], "web_identity_token_file"))
			sts = true;
	ini_free(ini);
	return sts;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t sel = fz_byte(&f);
	struct status st = STATUS_INIT;

	if ((sel & 1) == 0) {
		size_t len;
		char *text = fz_rest(&f, &len);
		struct ini *ini = NULL;
		if (ini_parse(text, len, "fuzz", &ini, &st) == 0) {
			if (ini == NULL)
				abort();
			lookups(ini);
		} else if (st.code != STATUS_INVALID_ARGUMENT || ini != NULL) {
			abort();
		}
		ini_free(ini);
		free(text);
		return 0;
	}

	size_t cred_len, conf_len, prof_len;
	char *cred = fz_str(&f, &cred_len);
	char *conf = fz_str(&f, &conf_len);
	char *prof = fz_str(&f, &prof_len);
	struct env e = { prof_len ? prof : NULL };
	if (!wants_sts(conf, conf_len, e.profile)) {
		put(cred_fd, cred, cred_len);
		put(conf_fd, conf, conf_len);
		struct endpoint_env env = { getenv_fn, &e };
		struct creds_ctx ctx = { .env = &env, .region = "us-east-1", .now = 1700000000,
					 .deadline_ms = RPC_NO_DEADLINE };
		struct creds out;
		memset(&out, 0, sizeof out);
		bool found = false;
		if (creds_from_profile(&ctx, &out, &found, &st) == 0) {
			if (found && (out.access_key_id[0] == '\0' || out.secret_access_key[0] == '\0'))
				abort();
		} else if (st.code == STATUS_OK) {
			abort();
		}
		creds_dispose(&out);
	}
	free(cred);
	free(conf);
	free(prof);
	return 0;
}
