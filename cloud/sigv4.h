/*
 * sigv4: AWS Signature Version 4 (AWS4-HMAC-SHA256), header mode and
 * presigned-query mode, plus verification of a received request.
 *
 * Pure functions: the time, credentials, region and service are passed in; no
 * clock, no environment, no network, no logging. The canonicalisation follows
 * the IAM "Create a signed AWS API request" page and reproduces both AWS test
 * suites (tests/fixtures/sigv4): path segments URI-encoded once more (the
 * non-S3 rule), optional path normalisation (dot segments removed, duplicate
 * slashes collapsed), query pairs percent-decoded then RFC 3986-encoded and
 * sorted, header names lower-cased and sorted, values trimmed with runs of
 * whitespace (including obs-fold line breaks) collapsed, duplicates joined
 * with ',' in order.
 *
 * Deliberately not here: choosing which transport headers to sign (the caller
 * passes exactly the headers to sign), S3 rules (unsigned payload, chunked
 * uploads), SigV4a. Invariants: the secret and every derived key live only in
 * local buffers that are wiped with OPENSSL_cleanse before return; neither ever
 * appears in a status message, an output string or a log line.
 */
#ifndef EBS_CLOUD_SIGV4_H
#define EBS_CLOUD_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/status.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_KEY_LEN 32       /* bytes of a signing key (HMAC-SHA256) */
#define SIGV4_HEX_LEN 64       /* hex digits of a SHA-256 / signature */
#define SIGV4_AMZ_DATE_LEN 16  /* "YYYYMMDDTHHMMSSZ" */
#define SIGV4_MAX_OUT_HEADERS 4

/* A header as a name/value pair of borrowed strings. */
struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;  /* NULL or "" without temporary credentials */
};

/* The request to sign (or to verify). Everything is borrowed. */
struct sigv4_request {
	const char *method;     /* "GET", "POST", ... (used as given) */
	const char *path;       /* as on the wire, before any '?'; NULL or "" means "/" */
	const char *query;      /* raw query string without '?'; NULL or "" for none */
	const struct sigv4_header *headers;
	size_t n_headers;
	const void *payload;    /* body bytes; may be NULL when payload_len is 0 */
	size_t payload_len;
	/* Optional: the lowercase hex SHA-256 of the payload, used instead of
	 * hashing payload (for bodies streamed elsewhere). NULL to hash payload. */
	const char *payload_hash;
};

struct sigv4_params {
	const char *region;           /* credential-scope region, e.g. "us-west-2" */
	const char *service;          /* credential-scope service, e.g. "ec2" */
	time_t time;                  /* signing time (UTC seconds since the epoch) */
	bool normalize_path;          /* true for every service except S3 */
	bool sign_content_sha256;     /* add and sign X-Amz-Content-Sha256 (S3 style) */
	/* Add X-Amz-Security-Token after signing, unsigned. EC2 and STS accept (and
	 * botocore sends) the signed form, so leave this false for them. */
	bool omit_session_token;
	/* > 0 selects presigned-URL (query) mode with this X-Amz-Expires (at most
	 * 604800, seven days). The request's own query must not already carry
	 * X-Amz-* signing parameters. */
	long presign_expires;
};

/* A header the caller must add to the request: name is a static literal. */
struct sigv4_out_header {
	const char *name;
	char *value;  /* owned by the result */
};

/* Everything sigv4_sign produces; caller-owned, init/dispose. */
struct sigv4_result {
	char *canonical_request;     /* for debugging / tests; contains no secret */
	char *string_to_sign;
	char *signed_headers;        /* "host;x-amz-date" */
	char signature[SIGV4_HEX_LEN + 1];
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	/* Header mode: the Authorization value; NULL in query mode. */
	char *authorization;
	/* Header mode: headers to add to the request, in this order: X-Amz-Date,
	 * X-Amz-Security-Token (when a token is given), X-Amz-Content-Sha256 (when
	 * asked), Authorization. Query mode: none. */
	struct sigv4_out_header add[SIGV4_MAX_OUT_HEADERS];
	size_t n_add;
	/* Query mode: the complete query string to send (the request's own
	 * parameters, the X-Amz-* parameters and X-Amz-Signature); NULL in header mode. */
	char *presigned_query;
};

/* Empties r (no allocation); call before the first sigv4_sign into it. */
void sigv4_result_init(struct sigv4_result *r);
/* Frees everything r owns and leaves it initialised (reusable). */
void sigv4_result_dispose(struct sigv4_result *r);

/* Signs req. The request must carry a Host header. Input headers named
 * Authorization, X-Amz-Date, X-Amz-Security-Token and X-Amz-Content-Sha256 are
 * ignored (the signer makes its own), so a request can be re-signed on retry.
 * out must be initialised; what it held before is freed. Returns 0 and fills
 * out (the caller disposes it), or -1 with out emptied and
 * STATUS_INVALID_ARGUMENT (missing field, no Host, bad header name, time not
 * representable) or STATUS_INTERNAL (libcrypto failure). */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
	       const struct sigv4_params *params, struct sigv4_result *out, struct status *st);

/* Derives kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date8), region), service),
 * "aws4_request") into key. date8 is "YYYYMMDD". The caller must wipe key
 * (OPENSSL_cleanse) when done. Returns 0, or -1 with STATUS_INVALID_ARGUMENT /
 * STATUS_INTERNAL. */
int sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
		      uint8_t key[SIGV4_KEY_LEN], struct status *st);

/* Lowercase hex SHA-256 of data into hex (65 bytes with the NUL). */
void sigv4_sha256_hex(const void *data, size_t len, char hex[SIGV4_HEX_LEN + 1]);

/* Formats t as "YYYYMMDDTHHMMSSZ". Returns 0, or -1 (STATUS_INVALID_ARGUMENT)
 * when t cannot be represented. */
int sigv4_format_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1], struct status *st);

/* Parses "YYYYMMDDTHHMMSSZ" into *t. Returns 0, or -1 (STATUS_INVALID_ARGUMENT). */
int sigv4_parse_amz_date(const char *s, time_t *t, struct status *st);

/* Constant-time comparison: true when the two byte strings are equal. Lengths
 * are not secret and are compared first. */
bool sigv4_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* --- verification (for the EC2 simulator) ------------------------------- */

#define SIGV4_AKID_MAX 128
#define SIGV4_SCOPE_PART_MAX 64

/* The parts of an "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…" header. */
struct sigv4_auth {
	char access_key_id[SIGV4_AKID_MAX + 1];
	char date[9];                           /* YYYYMMDD of the scope */
	char region[SIGV4_SCOPE_PART_MAX + 1];
	char service[SIGV4_SCOPE_PART_MAX + 1];
	char signed_headers[1024];              /* as received */
	char signature[SIGV4_HEX_LEN + 1];
};

/* Parses an Authorization header value. Returns 0, or -1 with
 * STATUS_UNAUTHENTICATED when it is not a well-formed SigV4 header (AWS answers
 * that with IncompleteSignature). */
int sigv4_auth_parse(const char *value, struct sigv4_auth *out, struct status *st);

/* Verifies a received request: req holds every header as received (including
 * Authorization and X-Amz-Date) and the body. auth is the parsed Authorization
 * header, secret the secret of auth->access_key_id. The canonical request is
 * rebuilt from the headers named in SignedHeaders (which must include host and
 * x-amz-date; an unsigned X-Amz-Security-Token is tolerated, as AWS does), the body
 * is hashed (a signed X-Amz-Content-Sha256 must match it), and the signature
 * compared in constant time. When max_skew > 0, X-Amz-Date must lie within
 * max_skew seconds of now. Returns 0 when valid; otherwise -1 with
 * STATUS_UNAUTHENTICATED, and *aws_code (if not NULL) set to the static AWS
 * error code to answer with: "IncompleteSignature", "SignatureDoesNotMatch" or
 * "RequestExpired". Messages never contain the secret or the expected signature. */
int sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *auth, const char *secret,
		 time_t now, long max_skew, const char **aws_code, struct status *st);

#endif
