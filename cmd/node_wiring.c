/*
 * node_wiring: see node_wiring.h. The order matters only for teardown: the
 * service borrows the mounter, the taint watcher borrows the Kubernetes client.
 * Instance identity comes from the sources of --metadata-sources in order
 * (upstream's default: IMDS, then the Kubernetes Node object).
 */
#include "cmd/node_wiring.h"

#include "cloud/endpoint.h"
#include "cloud/http.h"
#include "cloud/imds.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "k8s/features.h"
#include "node/limits.h"
#include "node/mounter.h"
#include "node/node.h"

#include <stdlib.h>

struct node_runtime {
	struct http_client *http;
	struct mounter *mounter;
	struct node_service *svc;
	struct k8s_client *k8s;          /* NULL outside a cluster */
	struct k8s_taint_watcher *taint; /* NULL when not started */
	struct instance_info instance;
};

/* The Kubernetes client, or NULL (with a log line saying why) when there is no
 * cluster to talk to: outside Kubernetes the driver still serves. */
static struct k8s_client *k8s_open(const struct driver_options *o, const char *version)
{
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	struct status st = STATUS_INIT;
	if (k8s_config_load(o->kubeconfig, &cfg, &st) != 0) {
		log_v(2, "no Kubernetes API access (%s)", st.msg);
		k8s_config_dispose(&cfg);
		return NULL;
	}
	struct k8s_client_options ko = { .user_agent_version = version };
	struct k8s_client *c = k8s_client_new(&cfg, &ko);
	k8s_config_dispose(&cfg);
	return c;
}

static int identity_from_imds(struct node_runtime *rt, int64_t deadline_ms, struct instance_info *out,
			      struct status *st)
{
	struct endpoint_env env = { endpoint_getenv_process, NULL };
	struct imds_options iopts = { .http = rt->http, .env = &env };
	struct imds_client *imds = imds_new(&iopts, st);
	if (imds == NULL)
		return status_prefix(st, "instance metadata (IMDS): ");
	int rc = imds_get_instance_info(imds, deadline_ms, out, st);
	imds_free(imds);
	return rc == 0 ? 0 : status_prefix(st, "instance metadata (IMDS): ");
}

static int identity_from_k8s(struct node_runtime *rt, const struct driver_options *o, const char *version,
			     int64_t deadline_ms, struct instance_info *out, struct status *st)
{
	if (rt->k8s == NULL)
		rt->k8s = k8s_open(o, version);
	if (rt->k8s == NULL)
		return status_set(st, STATUS_UNAVAILABLE,
				  "Kubernetes Node: no API access (in-cluster service account or --kubeconfig)");
	const char *node_name = k8s_node_name_env(st);
	if (node_name == NULL)
		return status_prefix(st, "Kubernetes Node: ");
	struct rpc_ctx rc = { .method = "startup", .deadline_ms = deadline_ms };
	if (k8s_get_instance_info(rt->k8s, node_name, &rc, out, st) != 0)
		return status_prefix(st, "Kubernetes Node %s: ", node_name);
	return 0;
}

static int instance_identity(struct node_runtime *rt, const struct driver_options *o, const char *version,
			     int64_t deadline_ms, struct instance_info *out, struct status *st)
{
	struct status imds_st = STATUS_INIT;
	if (o->metadata_imds) {
		if (identity_from_imds(rt, deadline_ms, out, &imds_st) == 0)
			return 0;
		if (!o->metadata_kubernetes)
			return status_copy(st, &imds_st);
		log_warn("%s; trying the Kubernetes Node object", imds_st.msg);
	}
	if (identity_from_k8s(rt, o, version, deadline_ms, out, st) == 0)
		return 0;
	if (imds_st.code != STATUS_OK)
		status_prefix(st, "%s; ", imds_st.msg);
	return -1;
}

struct node_runtime *node_wiring_start(const struct driver_options *o, const char *version, int64_t deadline_ms,
				       struct node_service **svc, struct status *st)
{
	if (limits_check_flags(o->volume_attach_limit, o->reserved_volume_attachments, st) != 0)
		return NULL;
	struct endpoint_env env = { endpoint_getenv_process, NULL };
	struct http_options hopts = { .user_agent_version = version };
	if (http_options_from_env(&env, &hopts, st) != 0)
		return NULL;
	struct node_runtime *rt = xcalloc(1, sizeof *rt);
	rt->http = http_client_new(&hopts);

	struct node_config cfg = {
		.by_id_dir = o->by_id_dir,
		.kubelet_root = o->kubelet_root,
		.volume_attach_limit = o->volume_attach_limit,
		.reserved_volume_attachments = o->reserved_volume_attachments,
		.legacy_xfs = o->legacy_xfs,
	};
	if (instance_identity(rt, o, version, deadline_ms, &cfg.instance, st) != 0) {
		node_wiring_stop(rt);
		return NULL;
	}
	log_info("node: instance %s (%s) in %s, %d network interface(s), %d EBS device(s) at launch",
		 cfg.instance.instance_id, cfg.instance.instance_type, cfg.instance.availability_zone,
		 cfg.instance.network_interfaces, cfg.instance.ebs_block_devices);
	rt->instance = cfg.instance;
	struct mounter_linux_opts mopts = { .state_dir = o->state_dir };
	rt->mounter = mounter_linux_new(&mopts);
	rt->svc = node_service_new(&cfg, rt->mounter);
	*svc = rt->svc;

	/* The start-up taint goes once kubelet has registered us (upstream §6.10). */
	const char *disable = getenv("DISABLE_TAINT_WATCHER");
	const char *node_name = getenv("CSI_NODE_NAME");
	if ((disable == NULL || *disable == '\0') && node_name != NULL && *node_name != '\0') {
		struct status tst = STATUS_INIT;
		if (rt->k8s == NULL)
			rt->k8s = k8s_open(o, version);
		if (rt->k8s != NULL && k8s_node_name_env(&tst) != NULL) {
			rt->taint = k8s_taint_watcher_start(rt->k8s, node_name, 0, &tst);
			if (rt->taint == NULL)
				log_warn("start-up taint watcher not started: %s", tst.msg);
		}
	}
	return rt;
}

const struct instance_info *node_wiring_instance(const struct node_runtime *rt)
{
	return &rt->instance;
}

void node_wiring_stop(struct node_runtime *rt)
{
	if (rt == NULL)
		return;
	if (rt->taint != NULL) {
		struct status result = STATUS_INIT;
		k8s_taint_watcher_stop(rt->taint, &result);
	}
	k8s_client_free(rt->k8s);
	node_service_free(rt->svc);
	if (rt->mounter != NULL)
		mounter_free(rt->mounter);
	http_client_free(rt->http);
	free(rt);
}
