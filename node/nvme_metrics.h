/*
 * nvme_metrics: EBS's detailed performance statistics of the CSI volumes
 * mounted on this node, with upstream's names and labels (reference §5.2):
 * aws_ebs_csi_{read,write}_{ops,bytes,seconds}_total, exceeded IOPS and
 * throughput time, queue length, read/write latency histograms, and the
 * collector's own counters — labelled instance_id, per volume volume_id too.
 *
 * EBS serves them as NVMe admin Get Log Page 0xD0 (little-endian, 3600 bytes,
 * magic 0x3C23B510). The parser is pure (tests feed it byte fixtures). At
 * each scrape the collector finds the NVMe devices mounted under the CSI
 * mount-point prefix (filesystem mounts and block-mode binds), names them by
 * their sysfs serial ("vol0abc" → vol-0abc) and reads the page by ioctl
 * (CAP_SYS_ADMIN). Paths and the reader are injectable for tests. A device
 * that fails is skipped and counted in aws_ebs_csi_nvme_collector_errors_total;
 * it never fails the scrape.
 */
#ifndef EBS_NODE_NVME_METRICS_H
#define EBS_NODE_NVME_METRICS_H

#include "common/metrics.h"
#include "common/status.h"

#include <stddef.h>
#include <stdint.h>

#define NVME_EBS_LOG_PAGE_ID 0xD0
#define NVME_EBS_MAGIC 0x3C23B510ULL
#define NVME_EBS_STATS_SIZE 3600   /* bytes the layout occupies */
#define NVME_EBS_READ_SIZE 4096    /* bytes requested from the device, as upstream */
#define NVME_EBS_HIST_BINS 64

struct nvme_ebs_hist_bin {
	uint64_t lower_us, upper_us, count;
};

struct nvme_ebs_histogram {
	uint64_t bin_count;  /* as the device reports it; bins past min(bin_count, 64) are unused */
	struct nvme_ebs_hist_bin bins[NVME_EBS_HIST_BINS];
};

/* Counters since the volume was attached; times in microseconds. */
struct nvme_ebs_stats {
	uint64_t read_ops, write_ops, read_bytes, write_bytes;
	uint64_t total_read_time_us, total_write_time_us;
	uint64_t ebs_iops_exceeded_us, ebs_tp_exceeded_us;  /* demand above the volume's provisioned performance */
	uint64_t ec2_iops_exceeded_us, ec2_tp_exceeded_us;  /* demand above the instance's EBS limits */
	uint64_t queue_length;
	struct nvme_ebs_histogram read_latency, write_latency;
};

/* Pure: parses the log page in buf (len bytes, at least NVME_EBS_STATS_SIZE).
 * Returns 0, or -1 with INVALID_ARGUMENT for a short buffer or a wrong magic
 * (the device is not an EBS volume, or the page is not EBS's). */
int nvme_ebs_parse(const void *buf, size_t len, struct nvme_ebs_stats *out, struct status *st);

/* Pure: the cumulative histogram Prometheus wants from a device histogram, as
 * upstream builds it: bins in order, bounds = upper_us / 1e6, counts
 * accumulated; a bin whose bound does not exceed the previous one merges into
 * it. Writes at most NVME_EBS_HIST_BINS entries; returns how many; *total gets
 * the count of all operations. */
size_t nvme_ebs_histogram_buckets(const struct nvme_ebs_histogram *h, double *bounds, uint64_t *cumulative,
				  uint64_t *total);

/* Reads log page 0xD0 of device (a /dev/nvmeXnY node) into buf (len bytes,
 * NVME_EBS_READ_SIZE is right) with NVME_IOCTL_ADMIN_CMD. Returns 0, or -1
 * with NOT_FOUND (no such device), PERMISSION_DENIED (needs CAP_SYS_ADMIN),
 * FAILED_PRECONDITION (not an NVMe device, or the controller refused the
 * command: not an EBS volume), INTERNAL. */
int nvme_ebs_read_log(const char *device, void *buf, size_t len, struct status *st);

/* Pure: the NVMe namespaces ("/dev/nvme1n1", heap strings, sorted, no
 * duplicates; a partition counts as its namespace) mounted under prefix in
 * mountinfo text (the format of /proc/self/mountinfo). A mount point is under
 * prefix when it lies strictly inside the directory prefix names. Returns the
 * count; *out (free each entry and the array) is NULL when it is 0. An empty
 * prefix matches nothing. */
size_t nvme_metrics_mounted_devices(const char *mountinfo, const char *prefix, char ***out);

/* Reads the volume id of namespace device ("/dev/nvme1n1") from
 * <sysfs_root>/block/nvme1n1/device/serial. Heap "vol-…", or NULL with
 * NOT_FOUND (no serial) or FAILED_PRECONDITION (the serial is not an EBS
 * volume's). */
char *nvme_metrics_volume_id(const char *sysfs_root, const char *device, struct status *st);

/* Reads the log page of device into buf (len bytes); the ioctl reader's shape. */
typedef int (*nvme_read_log_fn)(void *ctx, const char *device, void *buf, size_t len, struct status *st);

struct nvme_metrics_opts {
	const char *mount_prefix;    /* --csi-mount-point-prefix; NULL or "": no volume is exported */
	const char *instance_id;     /* label on every metric; NULL: "" */
	const char *mountinfo_path;  /* NULL: /proc/self/mountinfo */
	const char *sysfs_root;      /* NULL: /sys */
	nvme_read_log_fn read_log;   /* NULL: nvme_ebs_read_log */
	void *read_ctx;
};

struct nvme_metrics;

/* Copies opts. Never NULL. */
struct nvme_metrics *nvme_metrics_new(const struct nvme_metrics_opts *opts);
/* Adds nm's collector to m. nm must outlive m (free it after metrics_free). */
void nvme_metrics_register(struct nvme_metrics *nm, struct metrics *m);
/* NULL is a no-op. */
void nvme_metrics_free(struct nvme_metrics *nm);

#endif
