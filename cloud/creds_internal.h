/*
 * creds_internal: what the credential sources (creds_sts.c, creds_http.c,
 * creds_file.c) share with the chain in creds.c. Not a public interface: only
 * cloud/creds*.c include it.
 *
 * Each source fills a struct creds completely (keys, token, expiration and a
 * loggable `source`) or fails with a status; sources never log secrets and
 * wipe every buffer they used.
 */
#ifndef EBS_CLOUD_CREDS_INTERNAL_H
#define EBS_CLOUD_CREDS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cloud/creds.h"
#include "common/buf.h"

/* Everything a source may need for one resolution. */
struct creds_ctx {
	const struct endpoint_env *env;
	struct http_client *http;
	struct imds_client *imds;
	const char *region;     /* for STS; may be "" */
	time_t now;             /* UTC, from the provider's clock */
	int64_t deadline_ms;
};

/* The env value of name, or NULL when unset or empty. */
const char *creds_env(const struct creds_ctx *ctx, const char *name);

/* Copies a credential field into dst after checking it: 1..cap-1 bytes of
 * printable ASCII without spaces. what names the field in messages. */
int creds_set_field(char *dst, size_t cap, const char *value, const char *what, struct status *st);

/* Wipes and disposes a buf that may have held secrets. */
void creds_buf_wipe(struct buf *b);

/* Reads a token file (web identity or container authorization) into out,
 * trimmed of surrounding whitespace; at most max bytes. what names the setting
 * for messages. Returns 0, or -1 with STATUS_FAILED_PRECONDITION. */
int creds_read_token_file(const char *path, size_t max, const char *what, struct buf *out, struct status *st);

/* STS AssumeRoleWithWebIdentity with the token read from token_file (re-read
 * on every attempt). session_name may be NULL (a default is made). */
int creds_web_identity(const struct creds_ctx *ctx, const char *role_arn, const char *token_file,
		       const char *session_name, struct creds *out, struct status *st);

/* Parses an STS AssumeRoleWithWebIdentity response body into out. */
int creds_parse_sts_response(const char *body, size_t len, struct creds *out, struct status *st);

/* The shared-files step. *found is false when no profile supplies
 * credentials (and none was asked for explicitly). */
int creds_from_profile(const struct creds_ctx *ctx, struct creds *out, bool *found, struct status *st);

/* The container step; *found false when neither container variable is set. */
int creds_from_container(const struct creds_ctx *ctx, struct creds *out, bool *found, struct status *st);

/* The instance-role step through IMDS. */
int creds_from_imds(const struct creds_ctx *ctx, struct creds *out, struct status *st);

/* Parses a container / IMDS credentials JSON document (AccessKeyId,
 * SecretAccessKey, Token, Expiration). what names the source in messages. */
int creds_parse_json(const char *body, size_t len, const char *what, struct creds *out, struct status *st);

#endif
