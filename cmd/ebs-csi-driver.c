/*
 * ebs-csi-driver: the one binary of ebs-csi-c. It parses flags, wires the
 * services of its mode into the gRPC server, and waits for SIGTERM/SIGINT, on
 * which it stops accepting calls, lets those in flight finish for the grace
 * period, removes its socket and exits 0. This is the only file that chooses
 * implementations; everything it wires is a module with its own contract.
 */
#include "cloud/http.h"
#include "cmd/controller_wiring.h"
#include "cmd/metrics_http.h"
#include "cmd/node_wiring.h"
#include "cmd/options.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_ec2.h"
#include "common/procstat.h"
#include "csi-proto/metrics_csi.h"
#include "node/nvme_metrics.h"
#include "k8s/features.h"
#include "csi-proto/identity.h"
#include "csi-proto/server.h"
#include "csi-proto/services.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EBS_VERSION
#define EBS_VERSION "0.0.0-dev"
#define EBS_GIT_COMMIT "unknown"
#define EBS_BUILD_DATE "unknown"
#endif

#if defined(__x86_64__)
#define PLATFORM "linux/amd64"
#elif defined(__aarch64__)
#define PLATFORM "linux/arm64"
#else
#define PLATFORM "linux/unknown"
#endif

static void print_version(void)
{
	printf("{\n  \"driverVersion\": \"%s\",\n  \"gitCommit\": \"%s\",\n  \"buildDate\": \"%s\",\n"
	       "  \"compiler\": \"%s %s\",\n  \"platform\": \"%s\"\n}\n",
	       EBS_VERSION, EBS_GIT_COMMIT, EBS_BUILD_DATE,
#if defined(__clang__)
	       "clang",
#else
	       "gcc",
#endif
	       __VERSION__, PLATFORM);
}

/* Everything one driver process runs; torn down in reverse order. */
struct runtime {
	struct metrics *metrics;
	struct nvme_metrics *nvme;
	struct metrics_csi *mcsi;
	struct controller_runtime *ctrl;
	struct node_runtime *node;
	struct csi_server *srv;
	struct metrics_http *mhttp;
};

static void runtime_stop(struct runtime *rt)
{
	metrics_http_stop(rt->mhttp);
	csi_server_stop(rt->srv, 0);
	node_wiring_stop(rt->node);
	controller_wiring_stop(rt->ctrl);
	metrics_csi_free(rt->mcsi);
	metrics_free(rt->metrics);
	nvme_metrics_free(rt->nvme);
}

/* Builds the services of the mode, the gRPC server and the metrics endpoint.
 * Returns 0, or -1 with st set (the process then exits 1, as upstream). */
static int serve(const struct driver_options *o, struct identity *id, struct runtime *rt, struct status *st)
{
	if (o->http_endpoint != NULL) {
		rt->metrics = metrics_new();
		procstat_register(rt->metrics);
		if (o->mode & CSI_MODE_CONTROLLER)
			metrics_ec2_register(rt->metrics);
	}
	struct csi_services svcs = { .mode = o->mode, .identity = id };
	if (o->mode & CSI_MODE_CONTROLLER) {
		rt->ctrl = controller_wiring_start(o, EBS_VERSION, rt->metrics, &svcs.controller, st);
		if (rt->ctrl == NULL)
			return status_prefix(st, "controller service: ");
		/* Probe answers whether EC2 does (cached), as upstream's health check. */
		id->health = controller_wiring_health;
		id->health_ctx = rt->ctrl;
	}
	if (o->mode & CSI_MODE_NODE) {
		rt->node = node_wiring_start(o, EBS_VERSION, rpc_now_ms() + 60 * 1000, &svcs.node, st);
		if (rt->node == NULL)
			return status_prefix(st, "node service: ");
		if (rt->metrics != NULL) {
			struct nvme_metrics_opts nopts = {
				.mount_prefix = o->csi_mount_point_prefix,
				.instance_id = node_wiring_instance(rt->node)->instance_id,
			};
			rt->nvme = nvme_metrics_new(&nopts);
			nvme_metrics_register(rt->nvme, rt->metrics);
		}
	}
	struct csi_method table[CSI_SERVICES_MAX];
	size_t n = csi_services_table(&svcs, table);
	if (rt->metrics != NULL)
		rt->mcsi = metrics_csi_new(rt->metrics, IDENTITY_DRIVER_NAME, table, n);

	log_info("ebs-csi-driver %s starting in %s mode", EBS_VERSION, csi_mode_name(o->mode));
	struct csi_server_opts sopts = {
		.endpoint = o->endpoint,
		.slow_workers = o->slow_workers,
		.fast_workers = o->fast_workers,
		.max_queued = o->max_queued,
		.observer = rt->mcsi != NULL ? metrics_csi_observe : NULL,
		.observer_ctx = rt->mcsi,
	};
	rt->srv = csi_server_start(table, n, &sopts, st);
	if (rt->srv == NULL)
		return -1;
	if (o->http_endpoint != NULL) {
		rt->mhttp = metrics_http_start(o->http_endpoint, rt->metrics, st);
		if (rt->mhttp == NULL)
			return status_prefix(st, "metrics endpoint: ");
		log_info("serving metrics on http://%s/metrics", o->http_endpoint);
	}
	return 0;
}

/* `ebs-csi-driver pre-stop-hook`: returns the process exit status. */
static int pre_stop_hook(const struct driver_options *o)
{
	struct status st = STATUS_INIT;
	const char *node_name = k8s_node_name_env(&st);
	if (node_name == NULL) {
		log_error("pre-stop-hook: %s", st.msg);
		return 1;
	}
	struct k8s_config cfg;
	k8s_config_init(&cfg);
	if (k8s_config_load(o->kubeconfig, &cfg, &st) != 0) {
		log_error("pre-stop-hook: %s", st.msg);
		k8s_config_dispose(&cfg);
		return 1;
	}
	struct k8s_client_options ko = { .user_agent_version = EBS_VERSION };
	struct k8s_client *c = k8s_client_new(&cfg, &ko);
	k8s_config_dispose(&cfg);
	/* Bounded by the pod's grace period, which kubelet enforces anyway. */
	struct rpc_ctx rc = { .method = "pre-stop-hook", .deadline_ms = rpc_now_ms() + (int64_t)o->grace_seconds * 1000 };
	int rcode = k8s_prestop_wait(c, node_name, &rc, &st);
	k8s_client_free(c);
	if (rcode != 0) {
		log_error("pre-stop-hook: %s", st.msg);
		return 1;
	}
	log_info("pre-stop-hook: no volume attachment left on node %s", node_name);
	return 0;
}

int main(int argc, char **argv)
{
	struct driver_options o;
	struct status st = STATUS_INIT;
	const char *env_ep = getenv("CSI_ENDPOINT");
	if (driver_options_parse(argc, argv, env_ep && *env_ep ? env_ep : "unix:///tmp/csi.sock", &o, &st) != 0) {
		fprintf(stderr, "ebs-csi-driver: %s\nRun 'ebs-csi-driver -h' for usage.\n", st.msg);
		driver_options_dispose(&o);
		return 2;
	}
	if (o.show_help) {
		driver_options_usage(stdout);
		driver_options_dispose(&o);
		return 0;
	}
	if (o.show_version) {
		print_version();
		driver_options_dispose(&o);
		return 0;
	}
	log_configure(o.log_format, o.verbosity);
	if (o.pre_stop_hook) {
		http_global_init();
		int rc = pre_stop_hook(&o);
		http_global_cleanup();
		driver_options_dispose(&o);
		return rc;
	}

	/* Every thread created from here on inherits this mask, so the signals
	 * reach only sigwait() below. A closed peer must not kill the process. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* glibc gives each thread its own malloc arena by default; a bounded number
	 * keeps a 16-worker driver's memory close to a single-threaded one. */
	mallopt(M_ARENA_MAX, 2);

	struct identity id = {
		.name = IDENTITY_DRIVER_NAME,
		.version = EBS_VERSION,
		.controller = (o.mode & CSI_MODE_CONTROLLER) != 0,
	};
	http_global_init();
	struct runtime rt = { 0 };
	int rc = serve(&o, &id, &rt, &st);
	if (rc == 0) {
		int sig = 0;
		sigwait(&sigs, &sig);
		log_info("received %s: stopping (grace period %ds)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
			 o.grace_seconds);
		int cancelled = csi_server_stop(rt.srv, o.grace_seconds * 1000);
		rt.srv = NULL;
		if (cancelled > 0)
			log_warn("%d call(s) were cancelled at shutdown", cancelled);
	} else {
		log_error("cannot serve: %s", st.msg);
	}
	runtime_stop(&rt);
	http_global_cleanup();
	if (rc == 0)
		log_info("stopped");
	driver_options_dispose(&o);
	return rc == 0 ? 0 : 1;
}
