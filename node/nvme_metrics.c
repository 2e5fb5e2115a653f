/*
 * nvme_metrics: see nvme_metrics.h.
 *
 * Layout of log page 0xD0 (all little-endian u64; offsets in bytes):
 *     0 magic  8 read_ops  16 write_ops  24 read_bytes  32 write_bytes
 *    40 total_read_time_us  48 total_write_time_us  56 ebs_iops_exceeded_us
 *    64 ebs_tp_exceeded_us  72 ec2_iops_exceeded_us  80 ec2_tp_exceeded_us
 *    88 queue_length  96..511 reserved
 *   512 read histogram: bin_count, then 64 × {lower_us, upper_us, count}
 *  2056 write histogram, same shape; ends at 3600.
 * Decoded field by field with explicit byte order, never by casting the
 * buffer to a struct. Device discovery follows upstream (pkg/metrics/nvme.go)
 * but skips mountinfo's optional fields properly (upstream takes a fixed index
 * for the mount source) and reads serials from sysfs instead of running lsblk.
 */
#include "node/nvme_metrics.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "node/devpath.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define HIST_OFFSET 512
#define HIST_SIZE (8 + NVME_EBS_HIST_BINS * 24)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void parse_hist(const uint8_t *p, struct nvme_ebs_histogram *h)
{
	h->bin_count = le64(p);
	for (size_t i = 0; i < NVME_EBS_HIST_BINS; i++) {
		const uint8_t *b = p + 8 + i * 24;
		h->bins[i].lower_us = le64(b);
		h->bins[i].upper_us = le64(b + 8);
		h->bins[i].count = le64(b + 16);
	}
}

int nvme_ebs_parse(const void *buf, size_t len, struct nvme_ebs_stats *out, struct status *st)
{
	memset(out, 0, sizeof *out);
	if (buf == NULL || len < NVME_EBS_STATS_SIZE)
		return status_set(st, STATUS_INVALID_ARGUMENT, "EBS log page: %zu bytes, want at least %d", len,
				  NVME_EBS_STATS_SIZE);
	const uint8_t *p = buf;
	uint64_t magic = le64(p);
	if (magic != NVME_EBS_MAGIC)
		return status_set(st, STATUS_INVALID_ARGUMENT, "EBS log page: magic 0x%llx, want 0x%llx",
				  (unsigned long long)magic, (unsigned long long)NVME_EBS_MAGIC);
	uint64_t *dst[] = { &out->read_ops, &out->write_ops, &out->read_bytes, &out->write_bytes,
			    &out->total_read_time_us, &out->total_write_time_us, &out->ebs_iops_exceeded_us,
			    &out->ebs_tp_exceeded_us, &out->ec2_iops_exceeded_us, &out->ec2_tp_exceeded_us,
			    &out->queue_length };
	for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++)
		*dst[i] = le64(p + 8 * (i + 1));
	parse_hist(p + HIST_OFFSET, &out->read_latency);
	parse_hist(p + HIST_OFFSET + HIST_SIZE, &out->write_latency);
	return 0;
}

size_t nvme_ebs_histogram_buckets(const struct nvme_ebs_histogram *h, double *bounds, uint64_t *cumulative,
				  uint64_t *total)
{
	size_t n = 0;
	uint64_t acc = 0;
	size_t bins = h->bin_count < NVME_EBS_HIST_BINS ? (size_t)h->bin_count : NVME_EBS_HIST_BINS;
	for (size_t i = 0; i < bins; i++) {
		/* Saturate: counts come from the device, and a wrapped sum would
		 * make the cumulative histogram decrease. */
		acc = h->bins[i].count > UINT64_MAX - acc ? UINT64_MAX : acc + h->bins[i].count;
		double b = (double)h->bins[i].upper_us / 1e6;
		/* Upstream keys a map by bound, so a repeated bound keeps the
		 * later (larger) cumulative count: merge into the previous. */
		if (n > 0 && b <= bounds[n - 1]) {
			cumulative[n - 1] = acc;
			continue;
		}
		bounds[n] = b;
		cumulative[n] = acc;
		n++;
	}
	*total = acc;
	return n;
}

/* "nvme<c>n<ns>[p<part>]": the namespace's length within name and its number,
 * or 0 when name is not an NVMe namespace or partition. */
static size_t nvme_ns_len(const char *name, unsigned *nsid)
{
	const char *p = name;
	if (strncmp(p, "nvme", 4) != 0)
		return 0;
	p += 4;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != 'n' || !isdigit((unsigned char)*p))
		return 0;
	unsigned long ns = strtoul(p, NULL, 10);
	while (isdigit((unsigned char)*p))
		p++;
	size_t len = (size_t)(p - name);
	if (*p == 'p') {
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p != '\0')
		return 0;
	if (nsid != NULL)
		*nsid = (unsigned)ns;
	return len;
}

int nvme_ebs_read_log(const char *device, void *buf, size_t len, struct status *st)
{
	const char *base = strrchr(device, '/');
	unsigned nsid = 1;
	if (nvme_ns_len(base ? base + 1 : device, &nsid) == 0)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s is not an NVMe namespace", device);
	if (len > UINT32_MAX || len < 4 || len % 4 != 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "log page buffer of %zu bytes", len);
	/* Read-only suffices: admin passthrough is granted by CAP_SYS_ADMIN,
	 * not by the open mode. */
	int fd = open(device, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return status_set(st, errno == ENOENT ? STATUS_NOT_FOUND
				  : errno == EACCES || errno == EPERM ? STATUS_PERMISSION_DENIED
								      : STATUS_INTERNAL,
				  "open %s: %s", device, strerror(errno));
	memset(buf, 0, len);
	struct nvme_passthru_cmd cmd;
	memset(&cmd, 0, sizeof cmd);
	cmd.opcode = 0x02;  /* Get Log Page */
	cmd.nsid = nsid;
	cmd.addr = (uint64_t)(uintptr_t)buf;
	cmd.data_len = (uint32_t)len;
	/* CDW10: log page id in bits 7:0, number of dwords minus one in 31:16. */
	cmd.cdw10 = NVME_EBS_LOG_PAGE_ID | (((uint32_t)(len / 4) - 1) << 16);
	int rc = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd);
	int e = errno;
	close(fd);
	if (rc < 0)
		return status_set(st, e == EPERM || e == EACCES ? STATUS_PERMISSION_DENIED
				  : e == ENOTTY || e == EINVAL ? STATUS_FAILED_PRECONDITION
							       : STATUS_INTERNAL,
				  "get log page 0x%x of %s: %s", NVME_EBS_LOG_PAGE_ID, device, strerror(e));
	if (rc > 0)
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "get log page 0x%x of %s: NVMe status 0x%x (not an EBS volume?)", NVME_EBS_LOG_PAGE_ID,
				  device, (unsigned)rc);
	return 0;
}

/* ---- the mount table --------------------------------------------------------- */

/* A mountinfo field with its \NNN octal escapes (space, tab, newline,
 * backslash) decoded. Heap. */
static char *unescape(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			out[k++] = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
			i += 3;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = '\0';
	return out;
}

/* "/dev/nvme1n1p2" → "/dev/nvme1n1" (heap); NULL when not an NVMe device node. */
static char *namespace_of(const char *dev)
{
	if (strncmp(dev, "/dev/", 5) != 0)
		return NULL;
	size_t len = nvme_ns_len(dev + 5, NULL);
	return len ? xstrndup(dev, 5 + len) : NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t nvme_metrics_mounted_devices(const char *mountinfo, const char *prefix, char ***out)
{
	*out = NULL;
	if (mountinfo == NULL || prefix == NULL || *prefix == '\0')
		return 0;
	/* As upstream (filepath.Clean(prefix) + "/"): only mounts strictly
	 * inside the directory count, and "/a/bc" is not inside "/a/b". */
	size_t plen = strlen(prefix);
	while (plen > 1 && prefix[plen - 1] == '/')
		plen--;
	char *dir = xasprintf("%.*s%s", (int)plen, prefix, (plen == 1 && prefix[0] == '/') ? "" : "/");
	size_t dlen = strlen(dir);

	char **devs = NULL;
	size_t n = 0, cap = 0;
	const char *line = mountinfo;
	while (*line) {
		const char *eol = strchr(line, '\n');
		size_t llen = eol ? (size_t)(eol - line) : strlen(line);
		/* fields: id parent maj:min root mountpoint options [optional…] - fstype source superopts */
		const char *f[64];
		size_t fl[64], nf = 0;
		for (size_t i = 0; i < llen && nf < 64;) {
			while (i < llen && line[i] == ' ')
				i++;
			if (i >= llen)
				break;
			size_t start = i;
			while (i < llen && line[i] != ' ')
				i++;
			f[nf] = line + start;
			fl[nf++] = i - start;
		}
		size_t sep = 6;
		while (sep < nf && !(fl[sep] == 1 && f[sep][0] == '-'))
			sep++;
		if (nf >= 6 && sep + 2 < nf) {
			char *mp = unescape(f[4], fl[4]);
			if (strncmp(mp, dir, dlen) == 0) {
				char *root = unescape(f[3], fl[3]);
				char *source = unescape(f[sep + 2], fl[sep + 2]);
				char *cand[2] = { NULL, NULL };
				/* A block-mode volume: the device node bind-mounted
				 * from devtmpfs, whose root names it. */
				if (strncmp(root, "/nvme", 5) == 0) {
					char *d = xasprintf("/dev%s", root);
					cand[0] = namespace_of(d);
					free(d);
				}
				/* A filesystem volume: the device is the mount source. */
				if (strncmp(source, "/dev/nvme", 9) == 0)
					cand[1] = namespace_of(source);
				for (int c = 0; c < 2; c++) {
					if (cand[c] == NULL)
						continue;
					if (n == cap) {
						cap = cap ? cap * 2 : 8;
						devs = xrealloc(devs, cap * sizeof *devs);
					}
					devs[n++] = cand[c];
				}
				free(root);
				free(source);
			}
			free(mp);
		}
		line += llen + (eol ? 1 : 0);
	}
	free(dir);
	if (n == 0) {
		free(devs);
		return 0;
	}
	qsort(devs, n, sizeof *devs, cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(devs[k - 1], devs[i]) == 0)
			free(devs[i]);
		else
			devs[k++] = devs[i];
	}
	*out = devs;
	return k;
}

char *nvme_metrics_volume_id(const char *sysfs_root, const char *device, struct status *st)
{
	const char *name = strrchr(device, '/') ? strrchr(device, '/') + 1 : device;
	char *path = xasprintf("%s/block/%s/device/serial", sysfs_root ? sysfs_root : "/sys", name);
	struct buf b;
	buf_init(&b);
	char *id = NULL;
	if (buf_read_file(&b, path, st) == 0) {
		const char *s = b.data;
		while (isspace((unsigned char)*s))
			s++;
		size_t len = strlen(s);
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			len--;
		/* EBS reports the id without its dash: "vol0abc…" */
		if (len > 3 && strncmp(s, "vol", 3) == 0 && s[3] != '-')
			id = xasprintf("vol-%.*s", (int)(len - 3), s + 3);
		if (id == NULL || !devpath_volume_id_valid(id)) {
			status_set(st, STATUS_FAILED_PRECONDITION, "%s: serial \"%.*s\" is not an EBS volume's", device,
				   (int)(len > 64 ? 64 : len), s);
			free(id);
			id = NULL;
		}
	}
	buf_dispose(&b);
	free(path);
	return id;
}

/* ---- the collector -------------------------------------------------------------- */

static const double duration_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					   0.25,  0.5,    1,     2.5,  5,     10 };
#define NDUR (sizeof duration_buckets / sizeof duration_buckets[0])

struct nvme_metrics {
	char *prefix, *instance_id, *mountinfo_path, *sysfs_root;
	nvme_read_log_fn read_log;
	void *read_ctx;
	pthread_mutex_t mu;  /* guards the collector's own figures below */
	uint64_t scrapes, errors;
	uint64_t dur_counts[NDUR + 1];
	double dur_sum;
	uint64_t dur_count;
};

static int default_read_log(void *ctx, const char *device, void *buf, size_t len, struct status *st)
{
	(void)ctx;
	return nvme_ebs_read_log(device, buf, len, st);
}

struct nvme_metrics *nvme_metrics_new(const struct nvme_metrics_opts *o)
{
	struct nvme_metrics *nm = xcalloc(1, sizeof *nm);
	nm->prefix = xstrdup(o->mount_prefix ? o->mount_prefix : "");
	nm->instance_id = xstrdup(o->instance_id ? o->instance_id : "");
	nm->mountinfo_path = xstrdup(o->mountinfo_path ? o->mountinfo_path : "/proc/self/mountinfo");
	nm->sysfs_root = xstrdup(o->sysfs_root ? o->sysfs_root : "/sys");
	nm->read_log = o->read_log ? o->read_log : default_read_log;
	nm->read_ctx = o->read_ctx;
	pthread_mutex_init(&nm->mu, NULL);
	return nm;
}

void nvme_metrics_free(struct nvme_metrics *nm)
{
	if (nm == NULL)
		return;
	free(nm->prefix);
	free(nm->instance_id);
	free(nm->mountinfo_path);
	free(nm->sysfs_root);
	pthread_mutex_destroy(&nm->mu);
	free(nm);
}

#define NS "aws_ebs_csi_"

static void emit_volume(const struct nvme_metrics *nm, struct metrics_writer *w, const char *volume_id,
			const struct nvme_ebs_stats *s)
{
	const struct metrics_label l[] = { { "instance_id", nm->instance_id }, { "volume_id", volume_id } };
	static const struct {
		const char *name, *help;
		size_t off;
		bool micros;
	} counters[] = {
		{ NS "read_ops_total", "The total number of completed read operations.",
		  offsetof(struct nvme_ebs_stats, read_ops), false },
		{ NS "write_ops_total", "The total number of completed write operations.",
		  offsetof(struct nvme_ebs_stats, write_ops), false },
		{ NS "read_bytes_total", "The total number of read bytes transferred.",
		  offsetof(struct nvme_ebs_stats, read_bytes), false },
		{ NS "write_bytes_total", "The total number of write bytes transferred.",
		  offsetof(struct nvme_ebs_stats, write_bytes), false },
		{ NS "read_seconds_total", "The total time spent, in seconds, by all completed read operations.",
		  offsetof(struct nvme_ebs_stats, total_read_time_us), true },
		{ NS "write_seconds_total", "The total time spent, in seconds, by all completed write operations.",
		  offsetof(struct nvme_ebs_stats, total_write_time_us), true },
		{ NS "exceeded_iops_seconds_total",
		  "The total time, in seconds, that IOPS demand exceeded the volume's provisioned IOPS performance.",
		  offsetof(struct nvme_ebs_stats, ebs_iops_exceeded_us), true },
		{ NS "exceeded_tp_seconds_total",
		  "The total time, in seconds, that throughput demand exceeded the volume's provisioned throughput "
		  "performance.",
		  offsetof(struct nvme_ebs_stats, ebs_tp_exceeded_us), true },
		{ NS "ec2_exceeded_iops_seconds_total",
		  "The total time, in seconds, that the EBS volume exceeded the attached Amazon EC2 instance's maximum "
		  "IOPS performance.",
		  offsetof(struct nvme_ebs_stats, ec2_iops_exceeded_us), true },
		{ NS "ec2_exceeded_tp_seconds_total",
		  "The total time, in seconds, that the EBS volume exceeded the attached Amazon EC2 instance's maximum "
		  "throughput performance.",
		  offsetof(struct nvme_ebs_stats, ec2_tp_exceeded_us), true },
	};
	for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
		uint64_t v;
		memcpy(&v, (const char *)s + counters[i].off, sizeof v);
		metrics_emit(w, counters[i].name, counters[i].help, METRICS_COUNTER, l, 2,
			     counters[i].micros ? (double)v / 1e6 : (double)v);
	}
	metrics_emit(w, NS "volume_queue_length", "The number of read and write operations waiting to be completed.",
		     METRICS_GAUGE, l, 2, (double)s->queue_length);
	double bounds[NVME_EBS_HIST_BINS];
	uint64_t cum[NVME_EBS_HIST_BINS], total;
	size_t nb = nvme_ebs_histogram_buckets(&s->read_latency, bounds, cum, &total);
	metrics_emit_histogram(w, NS "read_io_latency_seconds",
			       "The number of read operations completed within each latency bin, in seconds.", l, 2,
			       bounds, cum, nb, 0, total);
	nb = nvme_ebs_histogram_buckets(&s->write_latency, bounds, cum, &total);
	metrics_emit_histogram(w, NS "write_io_latency_seconds",
			       "The number of write operations completed within each latency bin, in seconds.", l, 2,
			       bounds, cum, nb, 0, total);
}

/* Collects every volume; returns the number of failures. */
static unsigned collect_volumes(struct nvme_metrics *nm, struct metrics_writer *w)
{
	if (nm->prefix[0] == '\0')
		return 0;
	struct status st = STATUS_INIT;
	struct buf mi;
	buf_init(&mi);
	if (buf_read_file(&mi, nm->mountinfo_path, &st) < 0) {
		log_v(2, "NVMe metrics: %s", st.msg);
		buf_dispose(&mi);
		return 1;
	}
	char **devs;
	size_t n = nvme_metrics_mounted_devices(mi.data, nm->prefix, &devs);
	buf_dispose(&mi);
	unsigned errors = 0;
	uint8_t *page = xmalloc(NVME_EBS_READ_SIZE);
	for (size_t i = 0; i < n; i++) {
		struct nvme_ebs_stats s;
		char *vol = nvme_metrics_volume_id(nm->sysfs_root, devs[i], &st);
		if (vol == NULL || nm->read_log(nm->read_ctx, devs[i], page, NVME_EBS_READ_SIZE, &st) < 0 ||
		    nvme_ebs_parse(page, NVME_EBS_READ_SIZE, &s, &st) < 0) {
			log_v(2, "NVMe metrics of %s: %s", devs[i], st.msg);
			errors++;
		} else {
			emit_volume(nm, w, vol, &s);
		}
		free(vol);
		free(devs[i]);
	}
	free(page);
	free(devs);
	return errors;
}

static double mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void collect(void *ctx, struct metrics_writer *w)
{
	struct nvme_metrics *nm = ctx;
	double t0 = mono_seconds();
	unsigned errors = collect_volumes(nm, w);
	double dt = mono_seconds() - t0;

	pthread_mutex_lock(&nm->mu);
	nm->scrapes++;
	nm->errors += errors;
	size_t b = 0;
	while (b < NDUR && dt > duration_buckets[b])
		b++;
	nm->dur_counts[b]++;
	nm->dur_count++;
	nm->dur_sum += dt;
	uint64_t scrapes = nm->scrapes, errs = nm->errors, count = nm->dur_count;
	uint64_t cum[NDUR];
	uint64_t acc = 0;
	for (size_t i = 0; i < NDUR; i++)
		cum[i] = acc += nm->dur_counts[i];
	double sum = nm->dur_sum;
	pthread_mutex_unlock(&nm->mu);

	const struct metrics_label l[] = { { "instance_id", nm->instance_id } };
	metrics_emit(w, NS "nvme_collector_scrapes_total", "Total number of NVMe collector scrapes.", METRICS_COUNTER,
		     l, 1, (double)scrapes);
	metrics_emit(w, NS "nvme_collector_errors_total", "Total number of NVMe collector scrape errors.",
		     METRICS_COUNTER, l, 1, (double)errs);
	metrics_emit_histogram(w, NS "nvme_collector_duration_seconds",
			       "Histogram of NVMe collector scrape duration in seconds.", l, 1, duration_buckets, cum,
			       NDUR, sum, count);
}

void nvme_metrics_register(struct nvme_metrics *nm, struct metrics *m)
{
	metrics_add_collector(m, collect, nm);
}
