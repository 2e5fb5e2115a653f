/*
 * k8s: a small Kubernetes API client (libcurl + jansson) for the three things
 * the driver asks of the API server: read its Node (metadata fallback), remove
 * its start-up taint, and wait for VolumeAttachments in the pre-stop hook.
 *
 * Config: in-cluster (service-account token re-read on every request, so
 * rotated projected tokens just work; ca.crt; KUBERNETES_SERVICE_HOST/PORT) or a
 * kubeconfig (current context only; server, CA file or data, bearer token or
 * token file, client certificate and key as files or data).
 * Verbs: GET, LIST (paginated), PATCH (JSON patch), WATCH (streamed events).
 * Not here: informers, caches, exec/auth-provider plugins, basic auth (refused).
 * Invariants: TLS verification is always on for https; the bearer token and
 * private keys never reach a log line or a status message (server messages that
 * echo the token are redacted); messages name the verb and the resource
 * ("patch nodes/ip-10-0-0-1"), never headers or bodies.
 */
#ifndef EBS_K8S_K8S_H
#define EBS_K8S_K8S_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "common/status.h"

#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_MAX_BODY ((size_t)32 << 20)       /* one GET/LIST page */
#define K8S_MAX_WATCH_EVENT ((size_t)4 << 20) /* one line of a watch stream */

/* Where the API server is and how to authenticate. Caller-owned:
 * k8s_config_init / k8s_config_dispose (which wipes the secrets). Every pointer
 * is a heap string or NULL; *_data fields hold PEM bytes (NUL-terminated too). */
struct k8s_config {
	char *server;            /* "https://10.0.0.1:443", no trailing '/' */
	char *ca_file;           /* PEM bundle; NULL with ca_data NULL: the system's */
	char *ca_data;
	size_t ca_data_len;
	char *token;             /* bearer token (secret) */
	char *token_file;        /* re-read on every request; wins over token */
	char *client_cert_file;
	char *client_key_file;
	char *client_cert_data;
	size_t client_cert_data_len;
	char *client_key_data;   /* secret */
	size_t client_key_data_len;
	char *namespace;         /* the context's or the pod's namespace; may be NULL */
};

void k8s_config_init(struct k8s_config *cfg);
void k8s_config_dispose(struct k8s_config *cfg);

/* In-cluster config: KUBERNETES_SERVICE_HOST and _PORT from the environment,
 * sa_dir/token (kept as token_file, so it is re-read per request), sa_dir/ca.crt,
 * sa_dir/namespace (optional). sa_dir NULL means K8S_SA_DIR. cfg must be
 * initialised; on failure it is left disposed-and-initialised.
 * Returns 0, or -1 with FAILED_PRECONDITION (not in a cluster: variables unset,
 * token or CA unreadable), naming the variable or file. */
int k8s_config_in_cluster(const char *sa_dir, struct k8s_config *cfg, struct status *st);

/* Reads and parses the kubeconfig file at path (see k8s/kubeconfig.h); relative
 * file names in it are relative to the file's directory.
 * Returns 0, or -1 with INVALID_ARGUMENT (unreadable, malformed, unsupported
 * auth, missing current context/cluster/user/server) naming path and field. */
int k8s_config_from_kubeconfig(const char *path, struct k8s_config *cfg, struct status *st);

/* --kubeconfig when kubeconfig is non-empty, else in-cluster from K8S_SA_DIR. */
int k8s_config_load(const char *kubeconfig, struct k8s_config *cfg, struct status *st);

struct k8s_client_options {
	const char *user_agent_version; /* "1.2.3" -> "ebs-csi-c/1.2.3" */
	int max_attempts;               /* per GET/LIST/PATCH; 0 -> 5 */
	long backoff_initial_ms;        /* 0 -> 200; doubles per retry, jittered */
	long backoff_max_ms;            /* 0 -> 5000 */
	long request_timeout_ms;        /* one non-watch attempt; 0 -> 30000 */
	long connect_timeout_ms;        /* 0 -> 5000 */
};

struct k8s_client;

/* Returns a client that owns cfg's contents (cfg is left initialised and empty,
 * still to be disposed). Never fails; nothing is contacted yet. Thread-safe:
 * each request uses its own libcurl handle (requests are rare and few, so no
 * connection pool). o may be NULL. Free with k8s_client_free (NULL is a no-op). */
struct k8s_client *k8s_client_new(struct k8s_config *cfg, const struct k8s_client_options *o);
void k8s_client_free(struct k8s_client *c);

/* The client's namespace (from the config) or NULL. Borrowed. */
const char *k8s_client_namespace(const struct k8s_client *c);

/*
 * Requests. path is absolute from the server root and may carry a query
 * ("/api/v1/nodes/n1", "/apis/storage.k8s.io/v1/csinodes?fieldSelector=…").
 * rc bounds the whole call, retries included (deadline and cancel flag; NULL:
 * no deadline, each attempt still bounded by request_timeout_ms).
 * Status codes, each message starting "k8s: <verb> <resource>: ":
 *   UNAUTHENTICATED    401 (not retried)
 *   PERMISSION_DENIED  403 (not retried; names verb and resource for RBAC)
 *   NOT_FOUND          404
 *   ABORTED            409 conflict (retried by GET/LIST; PATCH returns it)
 *   INVALID_ARGUMENT   400, 422 (a failed JSON-patch test op is a 422)
 *   OUT_OF_RANGE       410 Gone (resourceVersion or continue token too old)
 *   UNAVAILABLE        429 and 5xx after the retries, network failures
 *   FAILED_PRECONDITION TLS verification/handshake, unreadable token file
 *   DEADLINE_EXCEEDED, CANCELLED from rc; INTERNAL for an over-large or non-JSON body
 */

/* GET path. On success *out is a new reference (json_decref it). */
int k8s_get(struct k8s_client *c, const char *path, const struct rpc_ctx *rc, json_t **out, struct status *st);

/* LIST path, following `continue` tokens (pages of 500). On success *items is a
 * new array reference holding every item and, when resource_version is not
 * NULL, *resource_version a heap string (free it) to start a watch from. */
int k8s_list(struct k8s_client *c, const char *path, const struct rpc_ctx *rc, json_t **items,
	     char **resource_version, struct status *st);

/* PATCH path with an RFC 6902 JSON patch (application/json-patch+json). 429 and
 * 5xx are retried; 409 and 422 are returned at once (the caller re-reads and
 * rebuilds the patch). out may be NULL; else *out is the patched object (a new
 * reference). */
int k8s_patch_json(struct k8s_client *c, const char *path, const json_t *patch, const struct rpc_ctx *rc,
		   json_t **out, struct status *st);

enum k8s_watch_verdict {
	K8S_WATCH_CONTINUE = 0,
	K8S_WATCH_STOP = 1,
};

/* WATCH path from resource_version (NULL or "": from now) for at most
 * timeout_s seconds (server side; 0 -> 300), calling on_event(ctx, type,
 * object) for each ADDED, MODIFIED and DELETED event in order (object is
 * borrowed for the call). BOOKMARK events only advance the resourceVersion.
 * on_event runs inside the transfer (from libcurl's write callback): it must
 * not block or call back into the client. One attempt, no retries: the caller
 * re-lists or re-watches.
 * Returns 1 when on_event answered K8S_WATCH_STOP, 0 when the server ended the
 * stream cleanly, -1 on failure: OUT_OF_RANGE for 410 Gone (HTTP status or an
 * ERROR event) — re-list; UNAVAILABLE when the stream broke — re-watch or
 * re-list; the request codes above otherwise. When last_rv is not NULL, *last_rv
 * is replaced (old value freed) by the last resourceVersion seen, if any. */
int k8s_watch(struct k8s_client *c, const char *path, const char *resource_version, int timeout_s,
	      int (*on_event)(void *ctx, const char *type, json_t *object), void *ctx, const struct rpc_ctx *rc,
	      char **last_rv, struct status *st);

/* The resource a path names, for messages: "/api/v1/nodes/n1" -> "nodes/n1",
 * "/apis/storage.k8s.io/v1/csinodes?x=y" -> "csinodes". Writes at most cap bytes. */
void k8s_resource_of_path(const char *path, char *out, size_t cap);

/* Appends to out (NUL-terminated, cap bytes) the percent-encoding of s for a
 * query value (RFC 3986 unreserved characters kept). Returns -1 if it does not fit. */
int k8s_query_escape(const char *s, char *out, size_t cap);

/* True when name is a valid node (DNS subdomain) name: 1..253 of [a-z0-9.-],
 * starting and ending alphanumeric. Names reach URL paths, so callers check. */
bool k8s_valid_name(const char *name);

/* Sleeps ms milliseconds, waking early (returns false) when rc is cancelled or
 * its deadline passes first; true when the whole sleep elapsed. */
bool k8s_sleep(int64_t ms, const struct rpc_ctx *rc);

#endif
