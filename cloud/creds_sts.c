/*
 * creds_sts: web identity (IRSA) credentials from STS AssumeRoleWithWebIdentity.
 *
 * The call is an unsigned Query-protocol POST (botocore sends it with
 * signature_version=UNSIGNED: the web identity token is the authentication),
 * form body Action, Version=2011-06-15, RoleArn, RoleSessionName,
 * WebIdentityToken, to the endpoint cloud/endpoint resolves for STS. The token
 * file is re-read before every attempt, because the kubelet rotates it and
 * STS's ExpiredTokenException means "read it again" (aws-facts.md §7.3).
 * Retried: connection failures, 5xx, throttling and IDPCommunicationError
 * (aws_error's retry classes), within the deadline. The response is parsed
 * with expat; a DOCTYPE or entity declaration aborts the parse (cloud/xml_guard).
 * Not here: DurationSeconds, Policy, session tags. Invariants: the token, the
 * form body and the response are wiped after use; messages carry the role ARN,
 * STS's error code and message and request id, never the token.
 */
#include "cloud/creds_internal.h"

#include "cloud/aws_error.h"
#include "cloud/xml_guard.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <expat.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STS_ATTEMPTS 3
#define STS_TIMEOUT_MS 10000L
#define WEB_IDENTITY_TOKEN_MAX 20000 /* the STS model's limit */

/* ---- response parsing ------------------------------------------------- */

enum sts_field { F_NONE, F_AK, F_SK, F_TOKEN, F_EXP };

struct sts_parse {
	struct xml_guard guard; /* first: expat hands the guard's handlers this object */
	int depth;
	int creds_depth;        /* depth of <Credentials>, 0 when outside */
	bool root_ok;
	bool in_result;
	bool overflow;
	enum sts_field field;
	struct creds *out;
	char expiration[64];
	size_t len[5];
};

static const char *local_name(const char *name)
{
	const char *c = strrchr(name, ':');
	return c ? c + 1 : name;
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	(void)attrs;
	struct sts_parse *p = ud;
	const char *n = local_name(name);
	p->depth++;
	if (p->depth == 1)
		p->root_ok = strcmp(n, "AssumeRoleWithWebIdentityResponse") == 0;
	else if (p->depth == 2 && strcmp(n, "AssumeRoleWithWebIdentityResult") == 0)
		p->in_result = true;
	else if (p->depth == 3 && p->in_result && strcmp(n, "Credentials") == 0)
		p->creds_depth = 3;
	else if (p->creds_depth && p->depth == p->creds_depth + 1) {
		p->field = strcmp(n, "AccessKeyId") == 0       ? F_AK
			 : strcmp(n, "SecretAccessKey") == 0 ? F_SK
			 : strcmp(n, "SessionToken") == 0    ? F_TOKEN
			 : strcmp(n, "Expiration") == 0      ? F_EXP
							     : F_NONE;
	}
}

static void on_end(void *ud, const XML_Char *name)
{
	(void)name;
	struct sts_parse *p = ud;
	if (p->creds_depth && p->depth == p->creds_depth)
		p->creds_depth = 0;
	if (p->depth == 2)
		p->in_result = false;
	p->field = F_NONE;
	p->depth--;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct sts_parse *p = ud;
	char *dst;
	size_t cap;
	switch (p->field) {
	case F_AK: dst = p->out->access_key_id; cap = sizeof p->out->access_key_id; break;
	case F_SK: dst = p->out->secret_access_key; cap = sizeof p->out->secret_access_key; break;
	case F_TOKEN: dst = p->out->session_token; cap = sizeof p->out->session_token; break;
	case F_EXP: dst = p->expiration; cap = sizeof p->expiration; break;
	default: return;
	}
	size_t *used = &p->len[p->field];
	if ((size_t)len >= cap - *used) {
		p->overflow = true;
		XML_StopParser(p->guard.parser, XML_FALSE);
		return;
	}
	memcpy(dst + *used, s, (size_t)len);
	*used += (size_t)len;
	dst[*used] = '\0';
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

int creds_parse_sts_response(const char *body, size_t len, struct creds *out, struct status *st)
{
	struct sts_parse p;
	memset(&p, 0, sizeof p);
	p.out = out;
	p.guard.parser = XML_ParserCreate("UTF-8");
	if (p.guard.parser == NULL)
		return status_set(st, STATUS_INTERNAL, "STS AssumeRoleWithWebIdentity: cannot create an XML parser");
	XML_SetUserData(p.guard.parser, &p);
	XML_SetElementHandler(p.guard.parser, on_start, on_end);
	XML_SetCharacterDataHandler(p.guard.parser, on_text);
	xml_guard_install(&p.guard);
	enum XML_Status xs = XML_Parse(p.guard.parser, body, (int)len, XML_TRUE);
	XML_ParserFree(p.guard.parser);
	int ret = 0;
	if (xs != XML_STATUS_OK || p.guard.refused || p.overflow || !p.root_ok)
		ret = status_set(st, STATUS_INTERNAL, "STS AssumeRoleWithWebIdentity: %s",
				 p.overflow ? "a credential field is too long"
				 : p.guard.refused ? "the response declares a DTD"
				 : xs != XML_STATUS_OK ? "malformed XML response"
						       : "not an AssumeRoleWithWebIdentityResponse");
	else if (!out->access_key_id[0] || !out->secret_access_key[0] || !out->session_token[0] || !p.expiration[0])
		ret = status_set(st, STATUS_INTERNAL, "STS AssumeRoleWithWebIdentity: the response lacks Credentials");
	else if (!printable(out->access_key_id) || !printable(out->secret_access_key) ||
		 !printable(out->session_token))
		ret = status_set(st, STATUS_INTERNAL, "STS AssumeRoleWithWebIdentity: invalid characters in Credentials");
	else if (creds_parse_time(p.expiration, &out->expiration) != 0)
		ret = status_set(st, STATUS_INTERNAL, "STS AssumeRoleWithWebIdentity: malformed Expiration");
	if (ret != 0)
		creds_dispose(out);
	return ret;
}

/* ---- the request ------------------------------------------------------ */

/* Appends s percent-encoded as RFC 3986 unreserved (what AWS expects in forms). */
static void form_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			buf_putc(b, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			buf_append(b, e, 3);
		}
	}
}

static bool session_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr("_+=,.@-", *s) == NULL)
			return false;
	return true;
}

static void backoff(int attempt, int64_t deadline_ms)
{
	/* Full jitter over 0..(200 ms << attempt), as the SDKs' standard mode. */
	int64_t cap = 200LL << attempt;
	int64_t ms = (int64_t)((double)cap * ((double)rand() / ((double)RAND_MAX + 1.0)));
	if (deadline_ms != RPC_NO_DEADLINE) {
		int64_t left = deadline_ms - rpc_now_ms();
		if (ms > left)
			ms = left > 0 ? left : 0;
	}
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int creds_web_identity(const struct creds_ctx *ctx, const char *role_arn, const char *token_file,
		       const char *session_name, struct creds *out, struct status *st)
{
	char session[80];
	if (session_name != NULL) {
		if (!session_name_valid(session_name))
			return status_set(st, STATUS_FAILED_PRECONDITION,
					  "web identity: the role session name must be 2-64 characters of [A-Za-z0-9_+=,.@-]");
		snprintf(session, sizeof session, "%s", session_name);
	} else {
		snprintf(session, sizeof session, "ebs-csi-c-%lld", (long long)ctx->now);
	}
	if (strncmp(role_arn, "arn:", 4) != 0 || !printable(role_arn) || strlen(role_arn) > 2048)
		return status_set(st, STATUS_FAILED_PRECONDITION, "web identity: the role ARN is not an ARN");

	/* The region only picks the regional endpoint (the call is unsigned). */
	char region[ENDPOINT_REGION_MAX + 1];
	snprintf(region, sizeof region, "%s", ctx->region ? ctx->region : "");
	if (region[0] == '\0' && endpoint_region_from_env(ctx->env, region, sizeof region, st) != 0)
		return -1;
	if (region[0] == '\0')
		snprintf(region, sizeof region, "us-east-1");
	struct endpoint ep;
	endpoint_init(&ep);
	if (endpoint_resolve_sts(region, ctx->env, &ep, st) != 0) {
		endpoint_dispose(&ep);
		return status_prefix(st, "web identity: ");
	}

	struct buf token, form;
	buf_init(&token);
	buf_init(&form);
	struct http_response resp;
	http_response_init(&resp);
	struct http_header h[] = { { "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" } };
	int ret = -1;
	for (int attempt = 0; attempt < STS_ATTEMPTS; attempt++) {
		if (attempt > 0)
			backoff(attempt, ctx->deadline_ms);
		if (creds_read_token_file(token_file, WEB_IDENTITY_TOKEN_MAX, "web identity token file", &token, st) != 0)
			break;
		OPENSSL_cleanse(form.data, form.cap);
		buf_reset(&form);
		/* Reserve once: the token must not leave stale copies on growth. */
		buf_reserve(&form, 3 * token.len + 3 * strlen(role_arn) + 256);
		buf_puts(&form, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=");
		form_encode(&form, role_arn);
		buf_puts(&form, "&RoleSessionName=");
		form_encode(&form, session);
		buf_puts(&form, "&WebIdentityToken=");
		form_encode(&form, token.data);
		OPENSSL_cleanse(token.data, token.cap);
		struct http_request req = {
			.method = "POST", .url = ep.url, .headers = h, .n_headers = 1, .body = form.data,
			.body_len = form.len, .deadline_ms = ctx->deadline_ms, .timeout_ms = STS_TIMEOUT_MS,
			.max_body = 256 * 1024, .sensitive = true,
		};
		if (http_do(ctx->http, &req, &resp, st) != 0) {
			if (st != NULL && st->code == STATUS_UNAVAILABLE && attempt + 1 < STS_ATTEMPTS)
				continue;
			break;
		}
		if (resp.status == 200) {
			ret = creds_parse_sts_response(resp.body.data, resp.body.len, out, st);
			break;
		}
		struct aws_error e;
		struct status pst = STATUS_INIT;
		struct aws_error_class cls;
		if (aws_error_parse(resp.body.data, resp.body.len, (int)resp.status, &e, &pst) == 0) {
			aws_error_to_status(&e, "STS AssumeRoleWithWebIdentity", st);
			cls = aws_error_classify(e.code, (int)resp.status);
			/* An expired token is worth one more try with the file re-read. */
			if (strcmp(e.code, "ExpiredTokenException") == 0)
				cls.retry = AWS_ERROR_RETRY_TRANSIENT;
		} else {
			cls = aws_error_classify_http((int)resp.status);
			status_set(st, cls.status, "STS AssumeRoleWithWebIdentity: HTTP %ld", resp.status);
		}
		if (cls.retry == AWS_ERROR_RETRY_NONE)
			break;
	}
	if (ret == 0)
		snprintf(out->source, sizeof out->source, "web identity %s", role_arn);
	else
		status_prefix(st, "web identity %s: ", role_arn);
	creds_buf_wipe(&token);
	creds_buf_wipe(&form);
	http_response_dispose(&resp);
	endpoint_dispose(&ep);
	return ret;
}
