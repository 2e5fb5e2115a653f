/*
 * options: the driver's command line, parsed without side effects so that it
 * can be tested. Flags follow the upstream driver (pflag style: `--flag=value`
 * or `--flag value`, `-v N`/`--v=N`), and the mode may be given positionally
 * (`ebs-csi-driver node`) or as `--mode=node`. Unknown flags and bad values are
 * errors naming the flag; main() exits 2 on them.
 */
#ifndef EBS_CMD_OPTIONS_H
#define EBS_CMD_OPTIONS_H

#include "common/status.h"

#include <stdbool.h>
#include <stdio.h>

struct driver_options {
	int mode;               /* enum csi_mode */
	char *endpoint;         /* heap */
	int log_format;         /* enum log_format */
	int verbosity;
	int slow_workers;
	int fast_workers;
	int max_queued;
	int grace_seconds;
	bool show_version;
	bool show_help;
	bool pre_stop_hook;             /* `ebs-csi-driver pre-stop-hook` */
	char *kubeconfig;               /* heap or NULL: in-cluster */
	bool metadata_imds;             /* --metadata-sources */
	bool metadata_kubernetes;
	/* controller service */
	char *extra_tags;               /* heap or NULL */
	char *k8s_tag_cluster_id;       /* heap or NULL */
	bool warn_on_invalid_tag;
	bool batching;                  /* --batching (default true) */
	/* metrics */
	char *http_endpoint;            /* heap or NULL: off */
	char *csi_mount_point_prefix;   /* heap or NULL */
	/* node service */
	int volume_attach_limit;        /* -1 unset */
	int reserved_volume_attachments;/* -1 unset */
	char *kubelet_root;             /* heap or NULL */
	char *by_id_dir;                /* heap or NULL: /dev/disk/by-id */
	char *state_dir;                /* heap; "" = no format claims (node/format_claim.h) */
	bool legacy_xfs;
};

/* Parses argv[1..argc-1]. default_endpoint is used when --endpoint is absent
 * (main passes $CSI_ENDPOINT or unix:///tmp/csi.sock). Returns 0, or -1 with
 * INVALID_ARGUMENT naming the flag. o is always initialised and must be disposed. */
int driver_options_parse(int argc, char *const argv[], const char *default_endpoint, struct driver_options *o,
			 struct status *st);
void driver_options_dispose(struct driver_options *o);
void driver_options_usage(FILE *out);

#endif
