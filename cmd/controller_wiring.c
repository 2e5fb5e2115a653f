/*
 * controller_wiring: see controller_wiring.h. The service borrows the cloud,
 * the cloud borrows the HTTP client and IMDS client, so teardown runs in the
 * reverse order of construction.
 */
#include "cmd/controller_wiring.h"

#include "cloud/cloud.h"
#include "cloud/cloud_aws.h"
#include "cloud/endpoint.h"
#include "cloud/http.h"
#include "cloud/imds.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/metrics_ec2.h"
#include "common/rpc.h"
#include "common/xalloc.h"
#include "controller/controller.h"

#include <stdlib.h>

struct controller_runtime {
	struct endpoint_env env; /* borrowed by the cloud and its credential chain for their lifetime */
	struct http_client *http;
	struct imds_client *imds;
	struct cloud *cloud;
	struct controller_service *svc;
};

struct controller_runtime *controller_wiring_start(const struct driver_options *o, const char *version,
						   struct metrics *metrics, struct controller_service **svc,
						   struct status *st)
{
	struct cloud_tags extra;
	if (controller_parse_extra_tags(o->extra_tags ? o->extra_tags : "", &extra, st) != 0) {
		cloud_tags_dispose(&extra);
		return (void)status_prefix(st, "flag --extra-tags: "), NULL;
	}
	struct controller_runtime *rt = xcalloc(1, sizeof *rt);
	rt->env = (struct endpoint_env){ endpoint_getenv_process, NULL };
	struct http_options hopts = { .user_agent_version = version };
	if (http_options_from_env(&rt->env, &hopts, st) != 0) {
		cloud_tags_dispose(&extra);
		free(rt);
		return NULL;
	}
	rt->http = http_client_new(&hopts);
	/* IMDS is only consulted when AWS_REGION/AWS_DEFAULT_REGION are unset. */
	struct imds_options iopts = { .http = rt->http, .env = &rt->env };
	struct status ist = STATUS_INIT;
	rt->imds = imds_new(&iopts, &ist);
	if (rt->imds == NULL)
		log_warn("IMDS unusable (%s); the region must come from AWS_REGION", ist.msg);

	struct cloud_aws_options co = {
		.env = &rt->env,
		.http = rt->http,
		.imds = rt->imds,
		.user_agent_version = version,
		.batching = { .disabled = !o->batching },
		.on_request = metrics != NULL ? metrics_ec2_on_request : NULL,
		.on_request_ctx = metrics,
	};
	rt->cloud = cloud_aws_new(&co, st);
	if (rt->cloud == NULL) {
		cloud_tags_dispose(&extra);
		controller_wiring_stop(rt);
		return NULL;
	}
	log_info("controller: EC2 %s in %s (batching %s)", cloud_aws_endpoint(rt->cloud), cloud_aws_region(rt->cloud),
		 o->batching ? "on" : "off");
	/* A volume requested without topology goes to this instance's zone when
	 * there is one to ask: in `all` mode the node can then attach it. */
	struct buf zone;
	buf_init(&zone);
	struct status zst = STATUS_INIT;
	if (rt->imds != NULL && !imds_disabled(rt->imds) &&
	    imds_get(rt->imds, "meta-data/placement/availability-zone", rpc_now_ms() + 2000, &zone, &zst) == 0)
		log_info("controller: volumes without topology go to %s, this instance's zone", zone.data);
	else
		buf_reset(&zone);
	struct controller_config cfg = {
		.extra_tags = &extra,
		.k8s_tag_cluster_id = o->k8s_tag_cluster_id,
		.warn_on_invalid_tag = o->warn_on_invalid_tag,
		.default_zone = zone.len > 0 ? zone.data : NULL,
	};
	rt->svc = controller_service_new(&cfg, rt->cloud);
	cloud_tags_dispose(&extra);
	buf_dispose(&zone);
	*svc = rt->svc;
	return rt;
}

int controller_wiring_health(void *ctx, struct status *st)
{
	struct controller_runtime *rt = ctx;
	/* Probe is answered in the fast lane: bound the (cached) check tightly. */
	struct rpc_ctx rc = { .method = "/csi.v1.Identity/Probe", .deadline_ms = rpc_now_ms() + 5000 };
	if (cloud_health_check(rt->cloud, &rc, st) == 0)
		return 0;
	/* cloud_health_check's message already starts with the hint (endpoint,
	 * credentials, clock, IAM permission); a second hint in front would push
	 * the cause — the AWS error code — out of the 256-byte status message. */
	st->code = STATUS_FAILED_PRECONDITION;
	return -1;
}

void controller_wiring_stop(struct controller_runtime *rt)
{
	if (rt == NULL)
		return;
	controller_service_free(rt->svc);
	if (rt->cloud != NULL)
		cloud_free(rt->cloud);
	imds_free(rt->imds);
	http_client_free(rt->http);
	free(rt);
}
