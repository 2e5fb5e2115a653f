/*
 * options: command-line parsing for ebs-csi-driver. See options.h.
 * A small table-driven parser rather than getopt_long: pflag accepts `-v=4` and
 * `--v 4` alike, which getopt does not, and existing manifests use both.
 */
#include "cmd/options.h"

#include "common/log.h"
#include "common/xalloc.h"
#include "csi-proto/services.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_id { OPT_ENDPOINT, OPT_MODE, OPT_LOGFMT, OPT_V, OPT_VERSION, OPT_HELP, OPT_WORKERS, OPT_FAST_WORKERS,
	      OPT_MAX_QUEUED, OPT_GRACE, OPT_ATTACH_LIMIT, OPT_RESERVED, OPT_KUBELET_ROOT, OPT_BY_ID_DIR,
	      OPT_LEGACY_XFS, OPT_KUBECONFIG, OPT_METADATA_SOURCES, OPT_EXTRA_TAGS, OPT_CLUSTER_ID, OPT_WARN_TAG,
	      OPT_BATCHING, OPT_HTTP_ENDPOINT, OPT_MOUNT_PREFIX, OPT_STATE_DIR };

struct opt {
	const char *name;     /* without dashes */
	enum opt_id id;
	bool takes_value;
	const char *arg;      /* for usage */
	const char *help;
};

static const struct opt opts[] = {
	{ "endpoint", OPT_ENDPOINT, true, "URL", "CSI endpoint: unix:///path/csi.sock or tcp://host:port (default $CSI_ENDPOINT, else unix:///tmp/csi.sock)" },
	{ "mode", OPT_MODE, true, "MODE", "controller, node or all (default all); may also be given as the first argument" },
	{ "logging-format", OPT_LOGFMT, true, "FORMAT", "text (klog) or json" },
	{ "v", OPT_V, true, "N", "log verbosity: 2 operations, 4 every request, 5 responses" },
	{ "version", OPT_VERSION, false, NULL, "print version information as JSON and exit" },
	{ "help", OPT_HELP, false, NULL, "print this help and exit" },
	{ "workers", OPT_WORKERS, true, "N", "threads for RPCs that may block on AWS or the OS (default 16, 1..1024)" },
	{ "fast-workers", OPT_FAST_WORKERS, true, "N", "threads for Identity, NodeGetInfo and capability RPCs (default 2, 1..64)" },
	{ "max-queued-calls", OPT_MAX_QUEUED, true, "N", "blocking RPCs allowed to wait for a thread before RESOURCE_EXHAUSTED (default 4096)" },
	{ "grace-period", OPT_GRACE, true, "SECONDS", "on SIGTERM, how long calls in flight may finish (default 30)" },
	{ "volume-attach-limit", OPT_ATTACH_LIMIT, true, "N", "node: report this many attachable volumes instead of the instance type's limit" },
	{ "reserved-volume-attachments", OPT_RESERVED, true, "N", "node: attachments to keep free for non-CSI volumes (default: the root and other EBS devices at launch)" },
	{ "kubelet-root", OPT_KUBELET_ROOT, true, "DIR", "node: refuse staging and target paths outside DIR (e.g. /var/lib/kubelet)" },
	{ "by-id-dir", OPT_BY_ID_DIR, true, "DIR", "node: where the NVMe by-id links of EBS volumes appear (default /dev/disk/by-id)" },
	{ "state-dir", OPT_STATE_DIR, true, "DIR", "node: where to note formats in progress, so one interrupted by a crash is finished on retry (default /var/lib/ebs-csi-c; \"\" turns it off)" },
	{ "legacy-xfs", OPT_LEGACY_XFS, false, NULL, "node: format XFS without features kernels older than 5.10 cannot mount" },
	{ "metadata-sources", OPT_METADATA_SOURCES, true, "LIST", "node: where to learn the instance identity, in order: imds, kubernetes (default imds,kubernetes)" },
	{ "kubeconfig", OPT_KUBECONFIG, true, "FILE", "Kubernetes API access (default: in-cluster service account)" },
	{ "extra-tags", OPT_EXTRA_TAGS, true, "K=V,...", "controller: tags added to every volume and snapshot" },
	{ "k8s-tag-cluster-id", OPT_CLUSTER_ID, true, "ID", "controller: tag volumes kubernetes.io/cluster/ID=owned and KubernetesCluster=ID" },
	{ "warn-on-invalid-tag", OPT_WARN_TAG, false, NULL, "controller: skip (and log) a tagSpecification that is invalid instead of failing the call" },
	{ "batching", OPT_BATCHING, false, NULL, "controller: merge concurrent Describe calls (default true; --batching=false to turn off)" },
	{ "http-endpoint", OPT_HTTP_ENDPOINT, true, "ADDR:PORT", "serve Prometheus metrics at http://ADDR:PORT/metrics (e.g. 0.0.0.0:3301; default off)" },
	{ "csi-mount-point-prefix", OPT_MOUNT_PREFIX, true, "DIR", "node: export EBS NVMe statistics of volumes mounted under DIR" },
};

static int parse_int(const char *flag, const char *v, long lo, long hi, int *out, struct status *st)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return status_set(st, STATUS_INVALID_ARGUMENT, "invalid value \"%s\" for flag --%s: want an integer in %ld..%ld",
				  v, flag, lo, hi);
	*out = (int)n;
	return 0;
}

static int apply(const struct opt *o, const char *v, struct driver_options *d, struct status *st)
{
	switch (o->id) {
	case OPT_ENDPOINT:
		if (*v == '\0')
			return status_set(st, STATUS_INVALID_ARGUMENT, "flag --endpoint: empty value");
		free(d->endpoint);
		d->endpoint = xstrdup(v);
		return 0;
	case OPT_MODE: {
		int m = csi_mode_parse(v);
		if (m < 0)
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "invalid value \"%s\" for flag --mode: want controller, node or all", v);
		d->mode = m;
		return 0;
	}
	case OPT_LOGFMT: {
		int f = log_format_parse(v);
		if (f < 0)
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "invalid value \"%s\" for flag --logging-format: want text or json", v);
		d->log_format = f;
		return 0;
	}
	case OPT_V: return parse_int("v", v, 0, 10, &d->verbosity, st);
	case OPT_WORKERS: return parse_int("workers", v, 1, 1024, &d->slow_workers, st);
	case OPT_FAST_WORKERS: return parse_int("fast-workers", v, 1, 64, &d->fast_workers, st);
	case OPT_MAX_QUEUED: return parse_int("max-queued-calls", v, 1, 1000000, &d->max_queued, st);
	case OPT_GRACE: return parse_int("grace-period", v, 0, 3600, &d->grace_seconds, st);
	case OPT_ATTACH_LIMIT: return parse_int("volume-attach-limit", v, 0, 1000, &d->volume_attach_limit, st);
	case OPT_RESERVED: return parse_int("reserved-volume-attachments", v, 0, 1000, &d->reserved_volume_attachments, st);
	case OPT_KUBELET_ROOT:
	case OPT_BY_ID_DIR: {
		if (v[0] != '/')
			return status_set(st, STATUS_INVALID_ARGUMENT, "flag --%s: want an absolute directory, got \"%s\"",
					  o->name, v);
		char **slot = o->id == OPT_KUBELET_ROOT ? &d->kubelet_root : &d->by_id_dir;
		free(*slot);
		*slot = xstrdup(v);
		return 0;
	}
	case OPT_STATE_DIR:
		if (v[0] != '\0' && v[0] != '/')
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "flag --state-dir: want an absolute directory or \"\", got \"%s\"", v);
		free(d->state_dir);
		d->state_dir = xstrdup(v);
		return 0;
	case OPT_LEGACY_XFS: d->legacy_xfs = true; return 0;
	case OPT_WARN_TAG: d->warn_on_invalid_tag = true; return 0;
	case OPT_BATCHING: d->batching = true; return 0;
	case OPT_EXTRA_TAGS:
	case OPT_CLUSTER_ID:
	case OPT_MOUNT_PREFIX: {
		if (o->id == OPT_MOUNT_PREFIX && v[0] != '/')
			return status_set(st, STATUS_INVALID_ARGUMENT, "flag --%s: want an absolute directory, got \"%s\"",
					  o->name, v);
		char **slot = o->id == OPT_EXTRA_TAGS ? &d->extra_tags
			      : o->id == OPT_CLUSTER_ID ? &d->k8s_tag_cluster_id : &d->csi_mount_point_prefix;
		free(*slot);
		*slot = *v ? xstrdup(v) : NULL;
		return 0;
	}
	case OPT_HTTP_ENDPOINT: {
		const char *colon = strrchr(v, ':');
		char *end = NULL;
		long port = colon ? strtol(colon + 1, &end, 10) : -1;
		if (colon == NULL || colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "invalid value \"%s\" for flag --http-endpoint: want ADDR:PORT", v);
		free(d->http_endpoint);
		d->http_endpoint = xstrdup(v);
		return 0;
	}
	case OPT_KUBECONFIG:
		free(d->kubeconfig);
		d->kubeconfig = *v ? xstrdup(v) : NULL;
		return 0;
	case OPT_METADATA_SOURCES: {
		d->metadata_imds = d->metadata_kubernetes = false;
		char *copy = xstrdup(v), *save = NULL;
		int n = 0;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			while (*tok == ' ')
				tok++;
			size_t len = strlen(tok);
			while (len > 0 && tok[len - 1] == ' ')
				tok[--len] = '\0';
			if (strcasecmp(tok, "imds") == 0) {
				d->metadata_imds = true;
			} else if (strcasecmp(tok, "kubernetes") == 0) {
				d->metadata_kubernetes = true;
			} else {
				status_set(st, STATUS_INVALID_ARGUMENT,
					   "invalid value \"%s\" for flag --metadata-sources: want imds and/or kubernetes", tok);
				free(copy);
				return -1;
			}
			n++;
		}
		free(copy);
		if (n == 0)
			return status_set(st, STATUS_INVALID_ARGUMENT, "flag --metadata-sources: empty list");
		return 0;
	}
	case OPT_VERSION: d->show_version = true; return 0;
	case OPT_HELP: d->show_help = true; return 0;
	}
	return 0;
}

int driver_options_parse(int argc, char *const argv[], const char *default_endpoint, struct driver_options *d,
			 struct status *st)
{
	memset(d, 0, sizeof *d);
	d->mode = CSI_MODE_ALL;
	d->endpoint = xstrdup(default_endpoint);
	d->log_format = LOG_FORMAT_TEXT;
	d->slow_workers = 16;
	d->fast_workers = 2;
	d->max_queued = 4096;
	d->grace_seconds = 30;
	d->volume_attach_limit = -1;
	d->reserved_volume_attachments = -1;
	d->metadata_imds = d->metadata_kubernetes = true;
	d->batching = true;
	d->state_dir = xstrdup("/var/lib/ebs-csi-c");
	bool mode_positional = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "pre-stop-hook") == 0 && !mode_positional) {
			/* upstream's node-pod preStop hook: a one-shot command, not a mode */
			d->pre_stop_hook = true;
			mode_positional = true;
			continue;
		}
		if (a[0] != '-' || a[1] == '\0') {
			int m = csi_mode_parse(a);
			if (m < 0 || mode_positional)
				return status_set(st, STATUS_INVALID_ARGUMENT,
						  "unexpected argument \"%s\": the only argument is the mode (controller, node, all) or pre-stop-hook", a);
			d->mode = m;
			mode_positional = true;
			continue;
		}
		if (strcmp(a, "-h") == 0) {
			d->show_help = true;
			continue;
		}
		const char *name = a + 1 + (a[1] == '-');
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct opt *o = NULL;
		for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
			if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0)
				o = &opts[k];
		if (o == NULL)
			return status_set(st, STATUS_INVALID_ARGUMENT, "unknown flag: %.*s", (int)(nlen + (size_t)(name - a)), a);
		const char *val = NULL;
		if (o->takes_value) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return status_set(st, STATUS_INVALID_ARGUMENT, "flag needs an argument: --%s", o->name);
		} else if (eq) {
			/* pflag booleans accept =true/=false. */
			if (strcmp(eq + 1, "true") != 0 && strcmp(eq + 1, "false") != 0)
				return status_set(st, STATUS_INVALID_ARGUMENT, "invalid value \"%s\" for flag --%s: want true or false",
						  eq + 1, o->name);
			if (strcmp(eq + 1, "false") == 0) {
				if (o->id == OPT_BATCHING)
					d->batching = false;
				continue;
			}
		}
		if (apply(o, val ? val : "", d, st) != 0)
			return -1;
	}
	/* As upstream: the two limits contradict each other. */
	if (d->volume_attach_limit >= 0 && d->reserved_volume_attachments >= 0)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "flags --volume-attach-limit and --reserved-volume-attachments are mutually exclusive");
	return 0;
}

void driver_options_dispose(struct driver_options *o)
{
	free(o->endpoint);
	free(o->kubelet_root);
	free(o->by_id_dir);
	free(o->kubeconfig);
	free(o->extra_tags);
	free(o->k8s_tag_cluster_id);
	free(o->http_endpoint);
	free(o->csi_mount_point_prefix);
	free(o->state_dir);
	o->state_dir = NULL;
	o->endpoint = o->kubelet_root = o->by_id_dir = o->kubeconfig = NULL;
	o->extra_tags = o->k8s_tag_cluster_id = o->http_endpoint = o->csi_mount_point_prefix = NULL;
}

void driver_options_usage(FILE *out)
{
	fprintf(out, "Usage: ebs-csi-driver [controller|node|all] [flags]\n"
		     "       ebs-csi-driver pre-stop-hook [flags]\n\n"
		     "Kubernetes CSI driver for Amazon EBS (%s).\n\n"
		     "pre-stop-hook: for the node pod's preStop hook; when the node ($CSI_NODE_NAME) is draining, waits\n"
		     "until no VolumeAttachment for it remains, for at most --grace-period seconds.\n\nFlags:\n",
		IDENTITY_DRIVER_NAME);
	for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", opts[k].name, opts[k].arg ? " " : "", opts[k].arg ? opts[k].arg : "");
		fprintf(out, "  %-28s %s\n", left, opts[k].help);
	}
	fprintf(out, "  %-28s %s\n", "-h", "same as --help");
}
