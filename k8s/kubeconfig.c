/*
 * kubeconfig: base64 and the extraction of the current context's cluster and
 * user from a parsed kubeconfig (see kubeconfig.h; the YAML reader is yaml.c).
 *
 * Only what the driver can honour is accepted: a bearer token (inline or a
 * file), a client certificate and key (files or data), a CA (file or data).
 * exec plugins, auth providers, basic auth and insecure-skip-tls-verify are
 * refused by name rather than silently ignored, so a misconfiguration shows
 * at start-up. Errors never quote values (tokens, keys).
 */
#include "k8s/kubeconfig.h"

#include "common/xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- base64 ---------------------------------------------------------------- */

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int k8s_base64_decode(const char *in, size_t len, char **out, size_t *out_len)
{
	char *dst = xmalloc(len / 4 * 3 + 4);
	size_t n = 0, pad = 0;
	unsigned acc = 0;
	int bits = 0, quad = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		int v = b64_value(ch);
		if (v < 0 || pad > 0)
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		quad = (quad + 1) % 4;
		if (bits >= 8) {
			bits -= 8;
			dst[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* A lone sextet in the last quantum cannot encode a byte. */
	if (quad == 1 || pad > 2)
		goto bad;
	dst[n] = '\0';
	*out = dst;
	*out_len = n;
	return 0;
bad:
	free(dst);
	return -1;
}

/* ---- kubeconfig ------------------------------------------------------------- */

/* The object under `field` of the element of the named list whose "name" is
 * name: clusters[name=...].cluster. NULL when absent. */
static json_t *named_entry(json_t *root, const char *list, const char *field, const char *name)
{
	json_t *arr = json_object_get(root, list);
	size_t i;
	json_t *el;
	json_array_foreach(arr, i, el) {
		const char *n = json_string_value(json_object_get(el, "name"));
		if (n != NULL && strcmp(n, name) == 0) {
			json_t *o = json_object_get(el, field);
			return json_is_object(o) ? o : NULL;
		}
	}
	return NULL;
}

static const char *str_field(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s != NULL && s[0] != '\0' ? s : NULL;
}

static char *resolve_path(const char *base_dir, const char *file)
{
	if (file[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
		return xstrdup(file);
	return xasprintf("%s/%s", base_dir, file);
}

static int decode_field(json_t *obj, const char *key, char **out, size_t *out_len, struct status *st)
{
	const char *s = str_field(obj, key);
	if (s == NULL)
		return 0;
	if (k8s_base64_decode(s, strlen(s), out, out_len) != 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is not valid base64", key);
	return 0;
}

static int extract(json_t *root, const char *base_dir, struct k8s_config *cfg, struct status *st)
{
	if (!json_is_object(root))
		return status_set(st, STATUS_INVALID_ARGUMENT, "not a kubeconfig (no top-level mapping)");
	const char *current = str_field(root, "current-context");
	if (current == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "current-context is not set");
	json_t *ctx = named_entry(root, "contexts", "context", current);
	if (ctx == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "context \"%s\" not found in contexts", current);
	const char *cluster_name = str_field(ctx, "cluster");
	if (cluster_name == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "context \"%s\" names no cluster", current);
	json_t *cluster = named_entry(root, "clusters", "cluster", cluster_name);
	if (cluster == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "cluster \"%s\" not found in clusters", cluster_name);
	const char *ns = str_field(ctx, "namespace");
	if (ns != NULL)
		cfg->namespace = xstrdup(ns);

	const char *server = str_field(cluster, "server");
	if (server == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "cluster \"%s\": server is not set", cluster_name);
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "cluster \"%s\": server must be an http:// or https:// URL",
				  cluster_name);
	cfg->server = xstrdup(server);
	size_t sl = strlen(cfg->server);
	while (sl > 0 && cfg->server[sl - 1] == '/')
		cfg->server[--sl] = '\0';
	const char *skip = str_field(cluster, "insecure-skip-tls-verify");
	if (skip != NULL && strcmp(skip, "true") == 0)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "cluster \"%s\": insecure-skip-tls-verify is not supported (give certificate-authority)",
				  cluster_name);
	const char *ca = str_field(cluster, "certificate-authority");
	if (ca != NULL)
		cfg->ca_file = resolve_path(base_dir, ca);
	if (decode_field(cluster, "certificate-authority-data", &cfg->ca_data, &cfg->ca_data_len, st) != 0)
		return status_prefix(st, "cluster \"%s\": ", cluster_name);

	const char *user_name = str_field(ctx, "user");
	if (user_name == NULL)
		return 0; /* no credentials: anonymous requests, the server decides */
	json_t *user = named_entry(root, "users", "user", user_name);
	if (user == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "user \"%s\" not found in users", user_name);
	if (json_object_get(user, "exec") != NULL && !json_is_null(json_object_get(user, "exec")))
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "user \"%s\": exec credential plugins are not supported (use a token or a client certificate)",
				  user_name);
	if (json_object_get(user, "auth-provider") != NULL && !json_is_null(json_object_get(user, "auth-provider")))
		return status_set(st, STATUS_INVALID_ARGUMENT, "user \"%s\": auth-provider is not supported", user_name);
	if (str_field(user, "username") != NULL || str_field(user, "password") != NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "user \"%s\": basic authentication is not supported",
				  user_name);
	const char *token = str_field(user, "token");
	if (token != NULL)
		cfg->token = xstrdup(token);
	const char *token_file = str_field(user, "tokenFile");
	if (token_file != NULL)
		cfg->token_file = resolve_path(base_dir, token_file);
	const char *cert = str_field(user, "client-certificate");
	const char *key = str_field(user, "client-key");
	if (cert != NULL)
		cfg->client_cert_file = resolve_path(base_dir, cert);
	if (key != NULL)
		cfg->client_key_file = resolve_path(base_dir, key);
	if (decode_field(user, "client-certificate-data", &cfg->client_cert_data, &cfg->client_cert_data_len, st) != 0 ||
	    decode_field(user, "client-key-data", &cfg->client_key_data, &cfg->client_key_data_len, st) != 0)
		return status_prefix(st, "user \"%s\": ", user_name);
	bool has_cert = cfg->client_cert_file != NULL || cfg->client_cert_data != NULL;
	bool has_key = cfg->client_key_file != NULL || cfg->client_key_data != NULL;
	if (has_cert != has_key)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "user \"%s\": client-certificate and client-key must be given together", user_name);
	return 0;
}

/* The tree holds the token and the private key: wipe its strings before they
 * go back to the allocator. */
static void wipe_tree(json_t *v)
{
	if (json_is_string(v)) {
		memset((char *)json_string_value(v), 0, json_string_length(v));
	} else if (json_is_object(v)) {
		const char *k;
		json_t *child;
		json_object_foreach(v, k, child)
			wipe_tree(child);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *child;
		json_array_foreach(v, i, child)
			wipe_tree(child);
	}
}

int k8s_kubeconfig_parse(const char *text, size_t len, const char *base_dir, struct k8s_config *cfg,
			 struct status *st)
{
	json_t *root = NULL;
	if (k8s_yaml_parse(text, len, &root, st) != 0)
		return -1;
	int rc = extract(root, base_dir, cfg, st);
	wipe_tree(root);
	json_decref(root);
	if (rc != 0) {
		k8s_config_dispose(cfg);
		k8s_config_init(cfg);
	}
	return rc;
}
