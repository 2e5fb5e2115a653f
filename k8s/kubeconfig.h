/*
 * kubeconfig: the pure parts of --kubeconfig — a bounded YAML-subset reader
 * that yields a jansson tree, the extraction of the current context's cluster
 * and user into a struct k8s_config, and base64 for the *-data fields.
 *
 * The YAML subset is what kubeconfig files use: block mappings and sequences
 * (including "- key: v" items and sequences at their key's indentation), plain,
 * single- and double-quoted scalars, comments, "{}"/"[]", literal and folded
 * block scalars, a leading "---". Every scalar is a string. Other flow
 * collections, anchors and tags are kept as raw strings: they only occur in
 * fields we never read. JSON input (a kubeconfig may be JSON) goes to jansson.
 * Bounds: 1 MiB of text, 64 levels of nesting; beyond them, INVALID_ARGUMENT.
 * Not here: file I/O (k8s_config_from_kubeconfig in config.c).
 */
#ifndef EBS_K8S_KUBECONFIG_H
#define EBS_K8S_KUBECONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "common/status.h"
#include "k8s/k8s.h"

#define K8S_KUBECONFIG_MAX_BYTES ((size_t)1 << 20)
#define K8S_YAML_MAX_DEPTH 64

/* Parses text (len bytes, need not be NUL-terminated) as the YAML subset (or
 * JSON when it starts with '{'). On success *out is a new reference. Returns 0,
 * or -1 with INVALID_ARGUMENT naming the line. An empty document is JSON null. */
int k8s_yaml_parse(const char *text, size_t len, json_t **out, struct status *st);

/* Fills cfg (initialised, assumed empty) from a kubeconfig's text: the
 * current-context's context, its cluster (server, certificate-authority(-data))
 * and its user (token, tokenFile, client-certificate(-data), client-key(-data)).
 * Relative file names are joined to base_dir (NULL: kept as they are).
 * Returns 0, or -1 with INVALID_ARGUMENT naming the field; cfg is then left
 * disposed-and-initialised. */
int k8s_kubeconfig_parse(const char *text, size_t len, const char *base_dir, struct k8s_config *cfg,
			 struct status *st);

/* Decodes standard base64 (padding optional, whitespace ignored). On success
 * *out is a heap buffer (NUL-terminated, free it) of *out_len bytes. Returns 0,
 * or -1 on an invalid character or length. */
int k8s_base64_decode(const char *in, size_t len, char **out, size_t *out_len);

#endif
