/*
 * ebs-ec2-sim: an EC2 Query API + IMDSv2 simulator on one loopback HTTP
 * listener, for running and testing ebs-csi-driver without AWS.
 *
 * main() parses the flags (exit 2 on a bad one, naming it), opens the state
 * (state.json in --state-dir; loop devices reconciled), starts the listener
 * and the transition ticker, prints "listening on http://HOST:PORT" and
 * writes --port-file, then waits for SIGTERM/SIGINT: it stops serving,
 * persists the state, releases every loop device it made and exits 0.
 * Signals are blocked in every thread and taken synchronously with sigwait,
 * so no handler runs in async-signal context.
 */
#include "cloud/ec2sim/sim.h"
#include "cloud/ec2sim/sim_config.h"
#include "cloud/ec2sim/sim_http.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_port_file(const char *path, unsigned port)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	int rc = -1;
	if (f != NULL) {
		fprintf(f, "%u\n", port);
		if (fclose(f) == 0 && rename(tmp, path) == 0)
			rc = 0;
	}
	if (rc != 0)
		log_error("write --port-file %s: %s", path, strerror(errno));
	free(tmp);
	return rc;
}

int main(int argc, char **argv)
{
	struct sim_config cfg;
	struct status st = STATUS_INIT;
	int prc = sim_config_parse(argc, argv, &cfg, stdout, &st);
	if (prc != 0) {
		if (prc < 0)
			fprintf(stderr, "ebs-ec2-sim: %s\n(see ebs-ec2-sim -h)\n", st.msg);
		sim_config_dispose(&cfg);
		return prc < 0 ? 2 : 0;
	}
	log_configure((enum log_format)cfg.log_format, cfg.verbosity);

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	int64_t now = sim_now_ms();
	for (size_t i = 0; i < cfg.n_instances; i++)
		cfg.instances[i].launch_ms = now;

	int rc = 1;
	struct sim s;
	struct sim_http *http = NULL;
	if (sim_open(&s, &cfg, &st) != 0 || sim_start_ticker(&s, &st) != 0) {
		log_error("ebs-ec2-sim: %s", st.msg);
		goto out;
	}
	http = sim_http_start(&s, &st);
	if (http == NULL) {
		log_error("ebs-ec2-sim: %s", st.msg);
		goto out;
	}
	unsigned port = sim_http_port(http);
	if (strncmp(cfg.listen_host, "127.", 4) != 0 && strcmp(cfg.listen_host, "::1") != 0 &&
	    strcmp(cfg.listen_host, "[::1]") != 0 && strcmp(cfg.listen_host, "localhost") != 0)
		log_warn("listening on %s: the control endpoints (/__sim/…) are unauthenticated", cfg.listen_host);
	if (cfg.port_file != NULL && write_port_file(cfg.port_file, port) != 0)
		goto out;
	printf("ebs-ec2-sim listening on http://%s:%u (region %s, IMDS instance %s, attach=%s)\n", cfg.listen_host,
	       port, cfg.region, cfg.instances[cfg.imds_index].id, cfg.attach_mode == SIM_ATTACH_LOOP ? "loop" : "none");
	fflush(stdout);

	int sig = 0;
	while (sigwait(&sigs, &sig) != 0 || sig == SIGHUP)
		;
	log_info("signal %d: shutting down", sig);
	rc = 0;
out:
	sim_http_stop(http);
	struct status cst = STATUS_INIT;
	if (sim_close(&s, &cst) != 0) {
		log_error("final save: %s", cst.msg);
		rc = 1;
	}
	sim_config_dispose(&cfg);
	return rc;
}
