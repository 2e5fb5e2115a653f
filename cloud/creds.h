/*
 * creds: AWS credentials — the default provider chain, cached and refreshed.
 *
 * Chain, in the AWS SDK order (aws-facts.md §7.6), the first source that is
 * configured wins and its failure is the answer (no silent fall-through to a
 * weaker identity):
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN,
 *      AWS_CREDENTIAL_EXPIRATION];
 *   2. web identity (IRSA): AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE
 *      [+ AWS_ROLE_SESSION_NAME] -> STS AssumeRoleWithWebIdentity (unsigned POST
 *      to endpoint_resolve_sts; the token file is re-read on every attempt);
 *   3. shared files (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE):
 *      static keys, or role_arn + web_identity_token_file in the config profile;
 *   4. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS, 169.254.170.2) or
 *      _FULL_URI (EKS Pod Identity) with the Authorization header from
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read each time) or _TOKEN;
 *   5. the EC2 instance role through IMDS (skipped when IMDS is disabled).
 * Not supported (a profile using them is an error, not skipped):
 * credential_process, source_profile/credential_source role chaining, SSO.
 * Invariants: secrets (secret keys, session tokens, web identity and container
 * tokens) never appear in a log line, status message or metric; every buffer
 * that held one is wiped with OPENSSL_cleanse. The source that was used is
 * logged (e.g. "web identity arn:aws:iam::...:role/x").
 */
#ifndef EBS_CLOUD_CREDS_H
#define EBS_CLOUD_CREDS_H

#include <stdint.h>
#include <time.h>

#include "cloud/endpoint.h"
#include "cloud/http.h"
#include "cloud/imds.h"
#include "common/status.h"

#define CREDS_ACCESS_KEY_ID_MAX 128
#define CREDS_SECRET_MAX 128
#define CREDS_SESSION_TOKEN_MAX 8192
#define CREDS_SOURCE_MAX 256
#define CREDS_DEFAULT_REFRESH_WINDOW_S 600  /* refresh 10 minutes before expiry */

/* One set of credentials; caller-owned plain data. Dispose with creds_dispose
 * (it wipes). */
struct creds {
	char access_key_id[CREDS_ACCESS_KEY_ID_MAX];
	char secret_access_key[CREDS_SECRET_MAX];
	char session_token[CREDS_SESSION_TOKEN_MAX]; /* "" for long-term keys */
	time_t expiration;                           /* UTC; 0 = does not expire */
	char source[CREDS_SOURCE_MAX];               /* safe to log: "environment", "profile x", ... */
};

/* Wipes c (all of it). */
void creds_dispose(struct creds *c);

struct creds_options {
	const struct endpoint_env *env; /* required; borrowed, must outlive the provider */
	struct http_client *http;       /* required; borrowed */
	struct imds_client *imds;       /* NULL: no instance-role step */
	/* Region for the STS endpoint; NULL or "" -> AWS_REGION/AWS_DEFAULT_REGION,
	 * else us-east-1. */
	const char *region;
	/* Wall clock (UTC seconds), for expiry; NULL -> time(). For tests. */
	time_t (*now)(void *ctx);
	void *clock_ctx;
	int refresh_window_s;           /* 0 -> CREDS_DEFAULT_REFRESH_WINDOW_S */
};

struct creds_provider;

/* Returns a new provider (creds_provider_free). The options are copied (the
 * region string too); nothing is fetched until the first creds_get. */
struct creds_provider *creds_provider_new(const struct creds_options *o);
/* Wipes the cache and frees p. NULL is a no-op. */
void creds_provider_free(struct creds_provider *p);

/* Copies the current credentials into out (caller-owned; creds_dispose it).
 * Cached credentials are returned while they are more than the refresh window
 * away from expiry; inside the window one caller refreshes (synchronously,
 * walking the chain again) while the others keep using the still-valid ones;
 * when a refresh fails but the old credentials have not expired they are kept
 * and the refresh is retried 30 s later. Thread-safe.
 * Returns 0, or -1 with: STATUS_FAILED_PRECONDITION (nothing configured, a
 * partial or unsupported configuration, an unreadable token file),
 * STATUS_UNAUTHENTICATED (the source returned credentials already expired),
 * STATUS_UNAVAILABLE / STATUS_DEADLINE_EXCEEDED (a source unreachable),
 * STATUS_INTERNAL (a malformed response), or the status STS's error code maps
 * to (aws_error_classify: e.g. InvalidIdentityToken -> INVALID_ARGUMENT,
 * IDPRejectedClaim -> PERMISSION_DENIED). */
int creds_get(struct creds_provider *p, int64_t deadline_ms, struct creds *out, struct status *st);

/* Drops the cached credentials so that the next creds_get fetches new ones
 * (after AWS answered ExpiredToken and the like). */
void creds_invalidate(struct creds_provider *p);

/* Parses an ISO 8601 UTC timestamp as AWS writes them ("2026-11-25T23:02:32Z",
 * optional fraction, "Z" or "+00:00"/"-hh:mm" offset). Returns 0, or -1. */
int creds_parse_time(const char *s, time_t *out);

#endif
