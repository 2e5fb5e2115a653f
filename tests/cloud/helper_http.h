/*
 * helper_http: test-only helpers for the cloud tests — read a fixture file and
 * parse a raw HTTP/1.1 request (the SigV4 suites' .req / request.txt format)
 * into a struct sigv4_request. Not for production input: it trusts the file.
 */
#ifndef EBS_TESTS_CLOUD_HELPER_HTTP_H
#define EBS_TESTS_CLOUD_HELPER_HTTP_H

#include <stddef.h>

#include "cloud/sigv4.h"

/* Reads a whole file; returns a NUL-terminated heap copy (free()) and its
 * length in *len, or NULL when it cannot be read. */
char *helper_read_file(const char *path, size_t *len);

/* How indented continuation lines (obs-fold) of a header are represented. */
enum helper_fold {
	/* Each continuation line becomes another value of the same header, so the
	 * signer joins them with ',': what the classic suite's .creq files expect. */
	HELPER_FOLD_AS_VALUES,
	/* The continuation stays in the value as "\n" + line, and the signer folds
	 * it to one space: what the aws-c-auth suite (and RFC 7230 §3.2.4) expects. */
	HELPER_FOLD_KEEP,
};

struct helper_http_req {
	char *method;
	char *path;
	char *query;                   /* NULL when the target has no '?' */
	struct sigv4_header *headers;  /* names/values point into owned storage */
	size_t n_headers;
	char *body;
	size_t body_len;
	char **owned;
	size_t n_owned;
};

/* Parses text. Returns 0, or -1 when the request line is malformed. Dispose
 * out in either case. */
int helper_http_req_parse(const char *text, size_t len, enum helper_fold fold, struct helper_http_req *out);
void helper_http_req_dispose(struct helper_http_req *r);

/* First header named name (case-insensitive), or NULL. */
const char *helper_http_req_header(const struct helper_http_req *r, const char *name);

/* Fills a sigv4_request view of r (borrowing r's storage). */
void helper_http_req_view(const struct helper_http_req *r, struct sigv4_request *out);

#endif
