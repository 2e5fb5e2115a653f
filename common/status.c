/*
 * status: gRPC-numbered error codes with a bounded message. See status.h.
 * No allocation: a status lives in the caller's stack frame.
 */
#include "common/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
};

void status_clear(struct status *st)
{
	if (st == NULL)
		return;
	st->code = STATUS_OK;
	st->msg[0] = '\0';
}

int status_set(struct status *st, int code, const char *fmt, ...)
{
	if (st == NULL)
		return -1;
	/* Format into a copy first: callers re-wrap a cause with
	 * status_set(st, code, "...: %s", st->msg), and vsnprintf into the buffer
	 * it is reading from is undefined behaviour. */
	char msg[STATUS_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	memcpy(st->msg, msg, strlen(msg) + 1);
	/* An error must never look like success to the caller's caller. */
	st->code = code == STATUS_OK ? STATUS_UNKNOWN : code;
	return -1;
}

int status_prefix(struct status *st, const char *fmt, ...)
{
	if (st == NULL)
		return -1;
	char prefix[STATUS_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	/* Shift the old message right, keeping the tail that fits: the prefix is
	 * the context, the old message the cause; both matter but the buffer is fixed. */
	size_t plen = strlen(prefix);
	size_t olen = strnlen(st->msg, sizeof st->msg - 1);
	if (plen > sizeof st->msg - 1)
		plen = sizeof st->msg - 1;
	if (plen + olen > sizeof st->msg - 1)
		olen = sizeof st->msg - 1 - plen;
	memmove(st->msg + plen, st->msg, olen);
	memcpy(st->msg, prefix, plen);
	st->msg[plen + olen] = '\0';
	if (st->code == STATUS_OK)
		st->code = STATUS_UNKNOWN;
	return -1;
}

int status_vnarrow(struct status *st, unsigned keep, const char *fmt, va_list ap)
{
	if (st == NULL)
		return -1;
	if (st->code < 0 || st->code > STATUS_UNAUTHENTICATED || !(keep & STATUS_BIT(st->code)))
		st->code = STATUS_INTERNAL;
	char ctx[STATUS_MSG_MAX];
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	return status_prefix(st, "%s: ", ctx);
}

int status_copy(struct status *dst, const struct status *src)
{
	if (dst != NULL && dst != src)
		memmove(dst, src, sizeof *dst);
	return src->code == STATUS_OK ? 0 : -1;
}

const char *status_code_name(int code)
{
	if (code < 0 || code >= (int)(sizeof code_names / sizeof code_names[0]))
		return "UNKNOWN";
	return code_names[code];
}

int status_code_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof code_names / sizeof code_names[0]; i++)
		if (strcmp(name, code_names[i]) == 0)
			return (int)i;
	return -1;
}
