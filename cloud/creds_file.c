/*
 * creds_file: credentials from the AWS shared files.
 *
 * Profile: AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default". Files:
 * AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials, sections "[name]")
 * and AWS_CONFIG_FILE (default ~/.aws/config, sections "[profile name]", and
 * "[default]" for the default profile), "~/" expanded with HOME. Static keys
 * (aws_access_key_id, aws_secret_access_key, aws_session_token or the legacy
 * aws_security_token) from the credentials file win over the config file's; a
 * config profile with role_arn + web_identity_token_file [+ role_session_name]
 * is a web identity. A missing file is no error; a malformed one is.
 * Deliberately unsupported, reported as FAILED_PRECONDITION rather than
 * skipped (skipping would silently pick another identity): credential_process,
 * role_arn with source_profile or credential_source, SSO. A profile named
 * explicitly that exists in neither file is an error too (botocore's
 * ProfileNotFound); a profile without credentials (say, only a region) or a
 * missing "default" profile moves the chain on.
 * Invariants: key values are never logged or put in messages; the parsed
 * files are wiped when freed (ini_free).
 */
#include "cloud/creds_internal.h"

#include "cloud/ini.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Expands a leading "~/" with HOME; NULL when HOME is needed but unset. */
static char *expand_home(const struct creds_ctx *ctx, const char *path)
{
	if (path[0] != '~')
		return xstrdup(path);
	if (path[1] != '/' && path[1] != '\0')
		return xstrdup(path); /* "~user" is not expanded: keep the literal */
	const char *home = creds_env(ctx, "HOME");
	return home ? xasprintf("%s%s", home, path + 1) : NULL;
}

/* Loads a file if it exists: 0 with *out NULL when it does not. */
static int load(const struct creds_ctx *ctx, const char *var, const char *deflt, struct ini **out, char **path_out,
		struct status *st)
{
	*out = NULL;
	const char *p = creds_env(ctx, var);
	char *path = expand_home(ctx, p ? p : deflt);
	*path_out = path;
	if (path == NULL)
		return 0;
	struct status local = STATUS_INIT;
	if (ini_load_file(path, out, &local) != 0) {
		if (local.code == STATUS_NOT_FOUND)
			return 0;
		status_copy(st, &local);
		if (st != NULL)
			st->code = STATUS_FAILED_PRECONDITION;
		return -1;
	}
	return 0;
}

static int static_keys(const struct ini *ini, const char *section, const char *file_label, const char *profile,
		       struct creds *out, bool *found, struct status *st)
{
	const char *ak = ini_get(ini, section, "aws_access_key_id");
	const char *sk = ini_get(ini, section, "aws_secret_access_key");
	*found = false;
	if (ak == NULL && sk == NULL)
		return 0;
	if (ak == NULL || sk == NULL || !ak[0] || !sk[0])
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "profile %s in %s: aws_access_key_id and aws_secret_access_key must both be set",
				  profile, file_label);
	const char *tok = ini_get(ini, section, "aws_session_token");
	if (tok == NULL || !tok[0])
		tok = ini_get(ini, section, "aws_security_token");
	if (creds_set_field(out->access_key_id, sizeof out->access_key_id, ak, "aws_access_key_id", st) != 0 ||
	    creds_set_field(out->secret_access_key, sizeof out->secret_access_key, sk, "aws_secret_access_key",
			    st) != 0 ||
	    (tok && tok[0] &&
	     creds_set_field(out->session_token, sizeof out->session_token, tok, "aws_session_token", st) != 0)) {
		if (st != NULL)
			st->code = STATUS_FAILED_PRECONDITION;
		return status_prefix(st, "profile %s in %s: ", profile, file_label);
	}
	snprintf(out->source, sizeof out->source, "profile %s (%s)", profile, file_label);
	*found = true;
	return 0;
}

int creds_from_profile(const struct creds_ctx *ctx, struct creds *out, bool *found, struct status *st)
{
	*found = false;
	const char *profile = creds_env(ctx, "AWS_PROFILE");
	if (profile == NULL)
		profile = creds_env(ctx, "AWS_DEFAULT_PROFILE");
	bool explicit = profile != NULL;
	if (profile == NULL)
		profile = "default";

	struct ini *cred = NULL, *conf = NULL;
	char *cred_path = NULL, *conf_path = NULL;
	int ret = -1;
	if (load(ctx, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", &cred, &cred_path, st) != 0 ||
	    load(ctx, "AWS_CONFIG_FILE", "~/.aws/config", &conf, &conf_path, st) != 0)
		goto out;
	char *conf_section = strcmp(profile, "default") == 0 ? xstrdup("default") : xasprintf("profile %s", profile);
	if (conf != NULL && strcmp(profile, "default") == 0 && !ini_has_section(conf, "default") &&
	    ini_has_section(conf, "profile default")) {
		free(conf_section);
		conf_section = xstrdup("profile default");
	}
	bool in_cred = cred != NULL && ini_has_section(cred, profile);
	bool in_conf = conf != NULL && ini_has_section(conf, conf_section);

	if (in_cred && static_keys(cred, profile, cred_path, profile, out, found, st) != 0)
		goto out_section;
	if (!*found && in_conf && static_keys(conf, conf_section, conf_path, profile, out, found, st) != 0)
		goto out_section;
	if (*found) {
		ret = 0;
		goto out_section;
	}
	if (in_conf) {
		if (ini_get(conf, conf_section, "credential_process") != NULL) {
			status_set(st, STATUS_FAILED_PRECONDITION,
				   "profile %s: credential_process is not supported by this driver", profile);
			goto out_section;
		}
		const char *role = ini_get(conf, conf_section, "role_arn");
		const char *wif = ini_get(conf, conf_section, "web_identity_token_file");
		if (role != NULL && wif != NULL) {
			char *wif_path = expand_home(ctx, wif);
			*found = true;
			ret = creds_web_identity(ctx, role, wif_path ? wif_path : wif,
						 ini_get(conf, conf_section, "role_session_name"), out, st);
			free(wif_path);
			if (ret == 0)
				snprintf(out->source + strlen(out->source), sizeof out->source - strlen(out->source),
					 " (profile %s)", profile);
			goto out_section;
		}
		if (role != NULL) {
			status_set(st, STATUS_FAILED_PRECONDITION,
				   "profile %s: role_arn with source_profile or credential_source is not supported "
				   "by this driver",
				   profile);
			goto out_section;
		}
		if (ini_get(conf, conf_section, "sso_start_url") != NULL ||
		    ini_get(conf, conf_section, "sso_session") != NULL) {
			status_set(st, STATUS_FAILED_PRECONDITION, "profile %s: SSO is not supported by this driver",
				   profile);
			goto out_section;
		}
	}
	if (explicit && !in_cred && !in_conf) {
		status_set(st, STATUS_FAILED_PRECONDITION, "profile %s (AWS_PROFILE) is in neither %s nor %s", profile,
			   cred_path ? cred_path : "the credentials file (HOME unset)",
			   conf_path ? conf_path : "the config file (HOME unset)");
		goto out_section;
	}
	ret = 0; /* nothing here: the chain moves on */
out_section:
	free(conf_section);
out:
	ini_free(cred);
	ini_free(conf);
	free(cred_path);
	free(conf_path);
	return ret;
}
