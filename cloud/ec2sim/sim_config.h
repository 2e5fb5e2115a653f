/*
 * sim_config: the simulator's command line — listener, state directory,
 * credentials, region and zones, the instances it pretends to run (and which
 * one IMDS answers for), transition delays, the data path and the faults.
 *
 * Parsing is pure apart from printing usage on request: it never opens a
 * file or a socket. Flags take "--flag value" or "--flag=value". Invariants
 * after a successful parse: at least one zone and one instance exist, every
 * instance's zone is one of the zones, imds_index names an instance, and
 * delays are >= 0. Defaults are documented in sim_config_usage() and README.md.
 */
#ifndef EBS_EC2SIM_SIM_CONFIG_H
#define EBS_EC2SIM_SIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cloud/ec2sim/sim_faults.h"
#include "common/status.h"

#define SIM_DEFAULT_ACCESS_KEY "AKIAEBSSIMULATOR0000"
#define SIM_DEFAULT_SECRET_KEY "ebs-ec2-sim-local-secret-key-not-a-secret"
#define SIM_DEFAULT_LISTEN "127.0.0.1:8971"

struct sim_instance {
	char *id;
	char *az;
	char *type;
	char *root_device;  /* "/dev/xvda" */
	int n_enis;         /* network interfaces attached (>= 1) */
	int n_ebs;          /* launch-time EBS volumes besides root (IMDS block-device-mapping ebsN) */
	char mac[18];
	char ip[16];
	int64_t launch_ms;
	size_t index;       /* position in --instances */
};

struct sim_zone {
	char *name;  /* us-east-1a */
	char *id;    /* use1-az1 */
};

enum sim_attach_mode { SIM_ATTACH_NONE = 0, SIM_ATTACH_LOOP };

struct sim_config {
	char *listen_host;
	unsigned port;
	char *port_file;            /* NULL: none */
	char *state_dir;
	char *region;
	char *account_id;
	char *access_key;
	char *secret_key;
	char *session_token;        /* NULL: any X-Amz-Security-Token is accepted */
	struct sim_instance *instances;
	size_t n_instances;
	size_t imds_index;
	struct sim_zone *zones;
	size_t n_zones;
	bool imds_v1;               /* GETs without a token are answered */
	char *imds_role;            /* NULL: iam/security-credentials/ is 404 */
	int attach_mode;            /* enum sim_attach_mode */
	char *dev_dir;
	long create_delay_ms, attach_delay_ms, detach_delay_ms, snapshot_delay_ms, modify_delay_ms,
		optimize_delay_ms;
	struct sim_fault_config faults;
	uint64_t seed;
	long max_skew_s;
	int verbosity;
	int log_format;             /* enum log_format */
};

/* Parses argv into c (which it initialises with the defaults first).
 * Returns 0 to run, 1 when -h/--help printed the usage to out, or -1 with
 * STATUS_INVALID_ARGUMENT naming the flag (unknown flag, missing or bad value).
 * c must be disposed in every case. */
int sim_config_parse(int argc, char **argv, struct sim_config *c, FILE *out, struct status *st);
void sim_config_dispose(struct sim_config *c);
void sim_config_usage(FILE *f);

/* Parses "--instances" ("i-…:us-east-1a:m5.large[:enis=N][:ebs=N][:root=/dev/xvda],…"),
 * replacing c's instances. Returns 0 or -1 (STATUS_INVALID_ARGUMENT). */
int sim_config_parse_instances(struct sim_config *c, const char *spec, struct status *st);

/* The zone ID of a zone name: "us-east-1a" → "use1-az1" (by the letter). Heap. */
char *sim_config_zone_id(const char *zone);

/* The MAC of the instance's network interface n (0 = primary, in->mac). */
void sim_config_eni_mac(const struct sim_instance *in, int n, char out[18]);

const struct sim_instance *sim_config_instance(const struct sim_config *c, const char *id);
const struct sim_zone *sim_config_zone(const struct sim_config *c, const char *name);

#endif
