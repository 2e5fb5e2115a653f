/*
 * node_wiring: see node_wiring.h. The order matters only for teardown: the
 * service borrows the mounter, IMDS borrows the HTTP client.
 */
#include "cmd/node_wiring.h"

#include "cloud/endpoint.h"
#include "cloud/http.h"
#include "cloud/imds.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "node/limits.h"
#include "node/mounter.h"
#include "node/node.h"

#include <stdlib.h>

struct node_runtime {
	struct http_client *http;
	struct mounter *mounter;
	struct node_service *svc;
};

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

	struct imds_options iopts = { .http = rt->http, .env = &env };
	struct imds_client *imds = imds_new(&iopts, st);
	if (imds == NULL) {
		node_wiring_stop(rt);
		return NULL;
	}
	struct node_config cfg = {
		.by_id_dir = o->by_id_dir,
		.kubelet_root = o->kubelet_root,
		.volume_attach_limit = o->volume_attach_limit,
		.reserved_volume_attachments = o->reserved_volume_attachments,
		.legacy_xfs = o->legacy_xfs,
	};
	int rc = imds_get_instance_info(imds, deadline_ms, &cfg.instance, st);
	imds_free(imds);
	if (rc != 0) {
		status_prefix(st, "instance metadata (IMDS): ");
		node_wiring_stop(rt);
		return NULL;
	}
	log_info("node: instance %s (%s) in %s, %d network interface(s), %d EBS device(s) at launch",
		 cfg.instance.instance_id, cfg.instance.instance_type, cfg.instance.availability_zone,
		 cfg.instance.network_interfaces, cfg.instance.ebs_block_devices);
	rt->mounter = mounter_linux_new(NULL);
	rt->svc = node_service_new(&cfg, rt->mounter);
	*svc = rt->svc;
	return rt;
}

void node_wiring_stop(struct node_runtime *rt)
{
	if (rt == NULL)
		return;
	node_service_free(rt->svc);
	if (rt->mounter != NULL)
		mounter_free(rt->mounter);
	http_client_free(rt->http);
	free(rt);
}
