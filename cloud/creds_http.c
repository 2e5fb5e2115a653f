/*
 * creds_http: credentials served as JSON over HTTP — container credentials
 * (ECS relative URI on 169.254.170.2, EKS Pod Identity full URI) and the EC2
 * instance role through IMDS.
 *
 * Container: RELATIVE_URI wins over FULL_URI (as in botocore); a plain-http
 * FULL_URI must point at 169.254.170.2, 169.254.170.23, fd00:ec2::23 or a
 * loopback host, any https URL is allowed (the botocore / JS SDK allow-list);
 * the Authorization header comes from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
 * re-read on every fetch because it rotates, else AWS_CONTAINER_AUTHORIZATION_TOKEN;
 * 2 s per attempt, 3 attempts, 1 s apart (botocore's numbers), within the
 * deadline. IMDS: iam/security-credentials/ gives the role name, then
 * iam/security-credentials/<role> the document.
 * Not here: the ECS task-role ARN or account id in the document (ignored).
 * Invariants: response bodies and the authorization token are wiped; messages
 * name the origin, the role and the HTTP status, never a token or a body.
 */
#include "cloud/creds_internal.h"

#include "cloud/aws_error.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONTAINER_ATTEMPTS 3
#define CONTAINER_TIMEOUT_MS 2000L
#define CONTAINER_RETRY_SLEEP_MS 1000
#define CONTAINER_TOKEN_MAX 16384
#define ECS_ORIGIN "http://169.254.170.2"

int creds_parse_json(const char *body, size_t len, const char *what, struct creds *out, struct status *st)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, 0, &jerr);
	int ret = 0;
	if (doc == NULL || !json_is_object(doc)) {
		ret = status_set(st, STATUS_INTERNAL, "%s: malformed JSON", what);
		goto out;
	}
	const char *code = json_string_value(json_object_get(doc, "Code"));
	if (code != NULL && strcmp(code, "Success") != 0) {
		/* IMDS reports a role it cannot serve this way; the code is a word
		 * such as "AssumeRoleUnauthorizedAccess", safe to show if it is one. */
		char safe[64];
		size_t n = 0;
		for (const char *p = code; *p && n + 1 < sizeof safe; p++)
			if (isalnum((unsigned char)*p) || *p == '.' || *p == '_')
				safe[n++] = *p;
		safe[n] = '\0';
		ret = status_set(st, STATUS_UNAVAILABLE, "%s: the service answered Code %s", what, safe);
		goto out;
	}
	const char *ak = json_string_value(json_object_get(doc, "AccessKeyId"));
	const char *sk = json_string_value(json_object_get(doc, "SecretAccessKey"));
	const char *tok = json_string_value(json_object_get(doc, "Token"));
	const char *exp = json_string_value(json_object_get(doc, "Expiration"));
	if (ak == NULL || sk == NULL || tok == NULL || exp == NULL) {
		ret = status_set(st, STATUS_INTERNAL, "%s: the document lacks %s", what,
				 !ak ? "AccessKeyId" : !sk ? "SecretAccessKey" : !tok ? "Token" : "Expiration");
		goto out;
	}
	if (creds_set_field(out->access_key_id, sizeof out->access_key_id, ak, "AccessKeyId", st) != 0 ||
	    creds_set_field(out->secret_access_key, sizeof out->secret_access_key, sk, "SecretAccessKey", st) != 0 ||
	    creds_set_field(out->session_token, sizeof out->session_token, tok, "Token", st) != 0) {
		ret = status_prefix(st, "%s: ", what);
		goto out;
	}
	if (creds_parse_time(exp, &out->expiration) != 0)
		ret = status_set(st, STATUS_INTERNAL, "%s: malformed Expiration", what);
out:
	/* jansson keeps its own copies of the strings; they are freed here (it
	 * offers no wiping hook), ours are wiped on failure. */
	json_decref(doc);
	if (ret != 0)
		creds_dispose(out);
	return ret;
}

static bool loopback_or_allowed(const char *host)
{
	static const char *const allowed[] = { "169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost",
					       "::1" };
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (strcmp(host, allowed[i]) == 0)
			return true;
	return strncmp(host, "127.", 4) == 0;
}

static void sleep_ms(int64_t ms, int64_t deadline_ms)
{
	if (deadline_ms != RPC_NO_DEADLINE) {
		int64_t left = deadline_ms - rpc_now_ms();
		if (ms > left)
			ms = left > 0 ? left : 0;
	}
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The Authorization value, or "" when none is configured. */
static int container_auth(const struct creds_ctx *ctx, struct buf *auth, struct status *st)
{
	const char *file = creds_env(ctx, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *lit = creds_env(ctx, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
	if (file != NULL) {
		if (creds_read_token_file(file, CONTAINER_TOKEN_MAX, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", auth,
					  st) != 0)
			return -1;
	} else if (lit != NULL) {
		buf_reserve(auth, strlen(lit) + 1);
		buf_puts(auth, lit);
	}
	if (strchr(auth->data, '\r') != NULL || strchr(auth->data, '\n') != NULL)
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "container credentials: the authorization token contains a line break");
	return 0;
}

int creds_from_container(const struct creds_ctx *ctx, struct creds *out, bool *found, struct status *st)
{
	const char *rel = creds_env(ctx, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = creds_env(ctx, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	*found = rel != NULL || full != NULL;
	if (!*found)
		return 0;
	char *url;
	if (rel != NULL) {
		if (rel[0] != '/' || strpbrk(rel, " \t\r\n#") != NULL)
			return status_set(st, STATUS_FAILED_PRECONDITION,
					  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: must be a path starting with /");
		url = xasprintf("%s%s", ECS_ORIGIN, rel);
	} else {
		struct endpoint_url u;
		endpoint_url_init(&u);
		if (endpoint_url_parse(full, "AWS_CONTAINER_CREDENTIALS_FULL_URI", &u, st) != 0) {
			endpoint_url_dispose(&u);
			if (st != NULL)
				st->code = STATUS_FAILED_PRECONDITION; /* configuration, not a request */
			return -1;
		}
		bool ok = strcmp(u.scheme, "https") == 0 || loopback_or_allowed(u.host);
		endpoint_url_dispose(&u);
		if (!ok)
			return status_set(st, STATUS_FAILED_PRECONDITION,
					  "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is only allowed to the "
					  "container credential hosts or loopback");
		url = xstrdup(full);
	}
	char origin[200];
	http_url_origin(url, origin, sizeof origin);
	char what[240];
	snprintf(what, sizeof what, "container credentials from %s", origin);

	struct buf auth;
	buf_init(&auth);
	struct http_response resp;
	http_response_init(&resp);
	int ret = -1;
	for (int attempt = 0; attempt < CONTAINER_ATTEMPTS; attempt++) {
		if (attempt > 0)
			sleep_ms(CONTAINER_RETRY_SLEEP_MS, ctx->deadline_ms);
		OPENSSL_cleanse(auth.data, auth.cap);
		buf_reset(&auth);
		if (container_auth(ctx, &auth, st) != 0)
			break;
		struct http_header h[2] = { { "Accept", "application/json" }, { "Authorization", auth.data } };
		struct http_request req = {
			.method = "GET", .url = url, .headers = h, .n_headers = auth.len ? 2 : 1,
			.deadline_ms = ctx->deadline_ms, .timeout_ms = CONTAINER_TIMEOUT_MS, .max_body = 64 * 1024,
			.sensitive = true,
		};
		if (http_do(ctx->http, &req, &resp, st) != 0) {
			if (st != NULL && st->code == STATUS_UNAVAILABLE)
				continue;
			break;
		}
		if (resp.status == 200) {
			ret = creds_parse_json(resp.body.data, resp.body.len, what, out, st);
			break;
		}
		struct aws_error_class cls = aws_error_classify_http((int)resp.status);
		status_set(st, cls.status, "%s: HTTP %ld", what, resp.status);
		if (cls.retry == AWS_ERROR_RETRY_NONE)
			break;
	}
	if (ret == 0)
		snprintf(out->source, sizeof out->source, "container credentials %s%s", origin,
			 creds_env(ctx, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") ? " (pod identity token file)" : "");
	creds_buf_wipe(&auth);
	http_response_dispose(&resp);
	free(url);
	return ret;
}

static bool role_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr("_+=,.@-", *s) == NULL)
			return false;
	return true;
}

int creds_from_imds(const struct creds_ctx *ctx, struct creds *out, struct status *st)
{
	struct buf b;
	buf_init(&b);
	int ret = -1;
	if (imds_get(ctx->imds, "meta-data/iam/security-credentials/", ctx->deadline_ms, &b, st) != 0) {
		if (st != NULL && st->code == STATUS_NOT_FOUND)
			status_set(st, STATUS_FAILED_PRECONDITION,
				   "instance role: no IAM role is attached to this instance (and no other "
				   "credentials are configured)");
		else
			status_prefix(st, "instance role: ");
		goto out;
	}
	char *nl = strchr(b.data, '\n');
	if (nl != NULL)
		*nl = '\0';
	while (b.data[0] && isspace((unsigned char)b.data[strlen(b.data) - 1]))
		b.data[strlen(b.data) - 1] = '\0';
	if (!role_name_valid(b.data)) {
		status_set(st, b.data[0] ? STATUS_INTERNAL : STATUS_FAILED_PRECONDITION,
			   b.data[0] ? "instance role: IMDS returned a malformed role name"
				     : "instance role: no IAM role is attached to this instance");
		goto out;
	}
	char role[160];
	snprintf(role, sizeof role, "%s", b.data);
	char path[256];
	snprintf(path, sizeof path, "meta-data/iam/security-credentials/%s", role);
	if (imds_get(ctx->imds, path, ctx->deadline_ms, &b, st) != 0) {
		status_prefix(st, "instance role %s: ", role);
		goto out;
	}
	char what[200];
	snprintf(what, sizeof what, "instance role %s", role);
	if (creds_parse_json(b.data, b.len, what, out, st) != 0)
		goto out;
	snprintf(out->source, sizeof out->source, "instance role %s (IMDS)", role);
	ret = 0;
out:
	creds_buf_wipe(&b);
	return ret;
}
