/*
 * status: the one error type of ebs-csi-c.
 *
 * A fallible function returns 0 on success or -1 on failure and takes a
 * `struct status *st` as its last argument; on failure it fills st with a gRPC
 * status code (gRPC's numbering, so the server passes it through unchanged) and
 * a human-readable message. status_set() returns -1 so that a failure is one
 * line: `return status_set(st, STATUS_INVALID_ARGUMENT, "name is required");`.
 *
 * The lowest layer that understands a failure picks the code; middle layers pass
 * it on and may prefix context once with status_prefix(). Messages are truncated
 * to fit, never overflow, and must never contain secrets.
 * st may be NULL wherever a caller does not care about the reason.
 */
#ifndef EBS_COMMON_STATUS_H
#define EBS_COMMON_STATUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum status_code {
	STATUS_OK = 0,
	STATUS_CANCELLED = 1,
	STATUS_UNKNOWN = 2,
	STATUS_INVALID_ARGUMENT = 3,
	STATUS_DEADLINE_EXCEEDED = 4,
	STATUS_NOT_FOUND = 5,
	STATUS_ALREADY_EXISTS = 6,
	STATUS_PERMISSION_DENIED = 7,
	STATUS_RESOURCE_EXHAUSTED = 8,
	STATUS_FAILED_PRECONDITION = 9,
	STATUS_ABORTED = 10,
	STATUS_OUT_OF_RANGE = 11,
	STATUS_UNIMPLEMENTED = 12,
	STATUS_INTERNAL = 13,
	STATUS_UNAVAILABLE = 14,
	STATUS_DATA_LOSS = 15,
	STATUS_UNAUTHENTICATED = 16,
};

#define STATUS_MSG_MAX 256

struct status {
	int code;                  /* enum status_code */
	char msg[STATUS_MSG_MAX];  /* NUL-terminated, "" when code == STATUS_OK */
};

#define STATUS_INIT { STATUS_OK, "" }

/* Resets st to OK with an empty message. st may be NULL. */
void status_clear(struct status *st);

/* Sets code and a printf-formatted message (truncated to fit). Always returns -1.
 * st may be NULL, in which case only -1 is returned. */
int status_set(struct status *st, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends printf-formatted context to st's message, keeping the code ("attach
 * vol-1 to i-2: " + old message). Returns -1 so it can end an error path. */
int status_prefix(struct status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A set of codes for status_vnarrow. */
#define STATUS_BIT(code) (1u << (code))

/* The final word at a service boundary: keeps st's code when keep has its
 * STATUS_BIT, turns it into INTERNAL otherwise (a code the caller must not see
 * from this service), then prefixes the vprintf-formatted context and ": ".
 * Returns -1; st may be NULL. */
int status_vnarrow(struct status *st, unsigned keep, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Copies src into dst (both may alias). Returns -1 when src is an error, else 0. */
int status_copy(struct status *dst, const struct status *src);

static inline bool status_ok(const struct status *st) { return st == NULL || st->code == STATUS_OK; }

/* The canonical upper-case name of a code ("INVALID_ARGUMENT"); "UNKNOWN" for
 * values outside 0..16. The string is static. */
const char *status_code_name(int code);

/* Parses a canonical name back to its code; returns -1 if it is not one. */
int status_code_from_name(const char *name);

#endif
