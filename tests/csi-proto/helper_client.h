/*
 * A minimal synchronous gRPC client on the C core, for server tests: one unary
 * call per tclient_call(), raw bytes in and out, status code returned.
 */
#ifndef EBS_TESTS_HELPER_CLIENT_H
#define EBS_TESTS_HELPER_CLIENT_H

#include <stddef.h>

struct tclient;

/* target: a gRPC address such as "unix:/tmp/x.sock". */
struct tclient *tclient_new(const char *target);
void tclient_free(struct tclient *c);

/* Calls method with req (NULL: send no message at all). Returns the gRPC status
 * code; *resp / *details (if non-NULL) receive malloc'ed copies (free them). */
int tclient_call(struct tclient *c, const char *method, const void *req, size_t req_len, int timeout_ms,
		 void **resp, size_t *resp_len, char **details);

#endif
