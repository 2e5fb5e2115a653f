/*
 * config: where the API server is and how to authenticate — in-cluster (the
 * pod's service account) or a kubeconfig file. See k8s.h.
 *
 * In-cluster, the token is kept as a file name, never read here: kubelet
 * rotates projected tokens (about hourly), and the client re-reads the file on
 * every request, so a long-running driver never sends an expired token.
 * Secrets (token, private key, the kubeconfig text) are wiped before their
 * memory is freed. Messages name files and variables, never their contents.
 */
#include "k8s/k8s.h"
#include "k8s/k8s_internal.h"
#include "k8s/kubeconfig.h"

#include "common/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void k8s_config_init(struct k8s_config *cfg) { memset(cfg, 0, sizeof *cfg); }

static void free_secret(char *s, size_t len)
{
	if (s == NULL)
		return;
	memset(s, 0, len ? len : strlen(s));
	free(s);
}

void k8s_config_dispose(struct k8s_config *cfg)
{
	free(cfg->server);
	free(cfg->ca_file);
	free(cfg->ca_data);
	free_secret(cfg->token, 0);
	free(cfg->token_file);
	free(cfg->client_cert_file);
	free(cfg->client_key_file);
	free(cfg->client_cert_data);
	free_secret(cfg->client_key_data, cfg->client_key_data_len);
	free(cfg->namespace);
	memset(cfg, 0, sizeof *cfg);
}

/* Reads a whole small file (at most max bytes) into a heap string. Returns 0,
 * or -1 with errno set (EFBIG when larger than max). */
static int read_small_file(const char *path, size_t max, char **out, size_t *out_len)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	size_t cap = 4096, n = 0;
	char *data = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				memset(data, 0, n);
				free(data);
				fclose(f);
				errno = EFBIG;
				return -1;
			}
			/* Grow by copying so that no partial secret is left behind by realloc. */
			size_t ncap = cap * 2 > max ? max : cap * 2;
			char *bigger = xmalloc(ncap + 1);
			memcpy(bigger, data, n);
			memset(data, 0, n);
			free(data);
			data = bigger;
			cap = ncap;
		}
		size_t got = fread(data + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int err = ferror(f) ? EIO : 0;
	fclose(f);
	if (err) {
		memset(data, 0, n);
		free(data);
		errno = err;
		return -1;
	}
	data[n] = '\0';
	*out = data;
	*out_len = n;
	return 0;
}

int k8s_config_in_cluster(const char *sa_dir, struct k8s_config *cfg, struct status *st)
{
	if (sa_dir == NULL)
		sa_dir = K8S_SA_DIR;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0')
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
				  "(or give --kubeconfig)");
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return status_set(st, STATUS_FAILED_PRECONDITION, "KUBERNETES_SERVICE_PORT is not a number");
	char *token_file = xasprintf("%s/token", sa_dir);
	char *ca_file = xasprintf("%s/ca.crt", sa_dir);
	if (access(token_file, R_OK) != 0 || access(ca_file, R_OK) != 0) {
		const char *bad = access(token_file, R_OK) != 0 ? token_file : ca_file;
		status_set(st, STATUS_FAILED_PRECONDITION, "in-cluster config: cannot read %s: %s", bad, strerror(errno));
		free(token_file);
		free(ca_file);
		return -1;
	}
	/* An IPv6 service address needs brackets in a URL (net.JoinHostPort). */
	cfg->server = strchr(host, ':') ? xasprintf("https://[%s]:%s", host, port) : xasprintf("https://%s:%s", host, port);
	cfg->token_file = token_file;
	cfg->ca_file = ca_file;
	char *ns_file = xasprintf("%s/namespace", sa_dir);
	char *ns = NULL;
	size_t ns_len = 0;
	if (read_small_file(ns_file, 256, &ns, &ns_len) == 0) {
		while (ns_len > 0 && (ns[ns_len - 1] == '\n' || ns[ns_len - 1] == ' '))
			ns[--ns_len] = '\0';
		if (ns_len > 0)
			cfg->namespace = ns;
		else
			free(ns);
	}
	free(ns_file);
	return 0;
}

int k8s_config_from_kubeconfig(const char *path, struct k8s_config *cfg, struct status *st)
{
	char *text = NULL;
	size_t len = 0;
	if (read_small_file(path, K8S_KUBECONFIG_MAX_BYTES, &text, &len) != 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "kubeconfig %s: %s", path,
				  errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		dir[0] = '\0';
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	int rc = k8s_kubeconfig_parse(text, len, dir, cfg, st);
	memset(text, 0, len);
	free(text);
	free(dir);
	if (rc != 0)
		return status_prefix(st, "kubeconfig %s: ", path);
	return 0;
}

int k8s_config_load(const char *kubeconfig, struct k8s_config *cfg, struct status *st)
{
	if (kubeconfig != NULL && kubeconfig[0] != '\0')
		return k8s_config_from_kubeconfig(kubeconfig, cfg, st);
	return k8s_config_in_cluster(NULL, cfg, st);
}

int k8s_config_token(const struct k8s_config *cfg, char **token, struct status *st)
{
	*token = NULL;
	char *data = NULL;
	size_t len = 0;
	const char *from = cfg->token_file != NULL ? cfg->token_file : "the kubeconfig";
	if (cfg->token_file != NULL) {
		if (read_small_file(cfg->token_file, 64 * 1024, &data, &len) != 0)
			return status_set(st, STATUS_FAILED_PRECONDITION, "cannot read the token file %s: %s",
					  cfg->token_file, strerror(errno));
	} else if (cfg->token != NULL) {
		data = xstrdup(cfg->token);
		len = strlen(data);
	} else {
		return 0;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
		data[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		/* A control character would split the Authorization header. */
		if ((unsigned char)data[i] < 0x20 || data[i] == 0x7f) {
			free_secret(data, len);
			return status_set(st, STATUS_FAILED_PRECONDITION, "the token in %s holds a control character", from);
		}
	}
	if (len == 0) {
		free(data);
		return status_set(st, STATUS_FAILED_PRECONDITION, "the token in %s is empty", from);
	}
	*token = data;
	return 0;
}
