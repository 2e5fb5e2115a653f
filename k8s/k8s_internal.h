/*
 * k8s_internal: what the files of k8s/ share and nothing outside uses — the
 * per-request token lookup (config.c, used by client.c) and redaction of a
 * secret from text bound for a message (client.c, used by the features).
 * Not installed for other modules; tests/k8s/ may include it.
 */
#ifndef EBS_K8S_K8S_INTERNAL_H
#define EBS_K8S_K8S_INTERNAL_H

#include <stddef.h>

#include "common/status.h"
#include "k8s/k8s.h"

/* The bearer token for the next request: the token file read now (rotation),
 * else the static token. On success *token is a heap string (the caller wipes
 * and frees it) or NULL when the config has no token. Returns -1 with
 * FAILED_PRECONDITION when the file is unreadable, empty or holds a control
 * character; the message names the file, never its content. */
int k8s_config_token(const struct k8s_config *cfg, char **token, struct status *st);

/* Replaces every occurrence of secret (when at least 4 bytes long) in the
 * NUL-terminated string s, whose buffer holds cap bytes, with "[redacted]",
 * truncating if needed. NULL or short secrets leave s as it is. */
void k8s_redact(char *s, size_t cap, const char *secret);

#endif
