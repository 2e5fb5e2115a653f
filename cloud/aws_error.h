/*
 * aws_error: what an AWS error means to the driver — one table from EC2/STS
 * error codes (and, without a code, HTTP statuses) to a gRPC status code and a
 * retry class — and a parser for EC2's and STS's XML error bodies.
 *
 * Pure and table-driven: no I/O, no clock, no logging. The table follows
 * aws-facts.md §2.2 (EC2 error reference, upstream driver behaviour), §4.2
 * (SDK standard-mode retry and throttle codes) and §7.3 (STS codes).
 * Not here: the retry loop and backoff (they consume the class), deciding that
 * e.g. NotFound on DeleteVolume is success (the caller's semantics).
 * Invariants: parsed strings are bounded, NUL-terminated and free of control
 * characters, so they are safe to put in a log line or a status message; a
 * DOCTYPE or entity declaration makes the parse fail (no entity expansion).
 */
#ifndef EBS_CLOUD_AWS_ERROR_H
#define EBS_CLOUD_AWS_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"

enum aws_error_retry {
	AWS_ERROR_RETRY_NONE = 0,       /* a client error: retrying cannot help */
	AWS_ERROR_RETRY_TRANSIENT = 1,  /* 5xx, timeouts: retry with backoff */
	AWS_ERROR_RETRY_THROTTLE = 2,   /* throttled: retry with backoff and slow down */
};

struct aws_error_class {
	int status;                  /* enum status_code to report */
	enum aws_error_retry retry;
	/* The credentials may be stale (expired token, RequestExpired): refresh
	 * them once and retry, then give up. */
	bool refresh_credentials;
};

/* Classifies an AWS error code (as in <Code>, e.g. "InvalidVolume.NotFound")
 * received with http_status (0 when unknown). Codes the table does not name
 * fall back to families (".NotFound", ".Malformed", "InvalidParameter*",
 * "*LimitExceeded", ...) and then to aws_error_classify_http. A "Client." or
 * "Server." prefix is ignored. "DryRunOperation" classifies as STATUS_OK: it
 * is EC2's answer to a successful DryRun. code may be NULL or "". */
struct aws_error_class aws_error_classify(const char *code, int http_status);

/* Classifies a response that carries no error code: 5xx → UNAVAILABLE
 * (transient; 503 as throttle), 429 → UNAVAILABLE (throttle), 400 →
 * INVALID_ARGUMENT, 401 → UNAUTHENTICATED, 403 → PERMISSION_DENIED, 404 →
 * NOT_FOUND, 409 → ABORTED, 412 → FAILED_PRECONDITION, other 4xx →
 * FAILED_PRECONDITION, anything else → UNKNOWN; none but 5xx/429 retryable. */
struct aws_error_class aws_error_classify_http(int http_status);

/* "none", "transient" or "throttle" (static), for logs and metric labels. */
const char *aws_error_retry_name(enum aws_error_retry r);

#define AWS_ERROR_CODE_MAX 128
#define AWS_ERROR_MESSAGE_MAX 512
#define AWS_ERROR_REQUEST_ID_MAX 128

/* One parsed error body. Plain data, no heap. */
struct aws_error {
	int http_status;
	char code[AWS_ERROR_CODE_MAX];          /* "" when none */
	char message[AWS_ERROR_MESSAGE_MAX];    /* sanitised, truncated with "..." */
	char request_id[AWS_ERROR_REQUEST_ID_MAX];
	char type[16];                          /* STS <Type>: "Sender"/"Receiver"; "" for EC2 */
};

/* Parses an error body: EC2 <Response><Errors><Error><Code/><Message/></Error>
 * </Errors><RequestID/></Response> (the first Error counts), Query/STS
 * <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>
 * </ErrorResponse>, or a bare <Error> root. Namespaces are ignored. Returns 0
 * when body is such a document with a non-empty Code; -1 with STATUS_INTERNAL
 * when it is malformed, truncated, declares a DTD, or is not an error document.
 * out is always initialised (http_status set, strings empty on failure). */
int aws_error_parse(const char *body, size_t len, int http_status, struct aws_error *out, struct status *st);

/* Turns a parsed error into st: the classified code and the message
 * "<what>: <Code>: <Message> (request id <id>)"; what may be NULL. Returns -1
 * (as status_set does), or 0 when the error classifies as STATUS_OK
 * (DryRunOperation), leaving st cleared. */
int aws_error_to_status(const struct aws_error *e, const char *what, struct status *st);

#endif
