/*
 * test_nvme_metrics: node/nvme_metrics — the log page parser on the byte
 * fixtures of tests/fixtures/nvme (valid, bad magic, short, a full and an
 * over-long histogram), the conversion of device histograms to cumulative
 * Prometheus buckets, finding CSI-mounted NVMe namespaces in a mountinfo
 * text (optional fields, escapes, partitions, block-mode binds, duplicates,
 * sibling directories), volume ids from a fake sysfs, the ioctl reader's
 * refusals, and the whole collector over fake files and a fake reader:
 * exact series with upstream's names and labels, error counting, and
 * promtool accepting the result.
 */
#include "common/exec.h"
#include "node/nvme_metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define FIXTURES "tests/fixtures/nvme/"
#define PREFIX "/var/lib/kubelet/plugins/kubernetes.io/csi/ebs.csi.aws.com/"

static uint8_t *load(const char *name, size_t *len)
{
	FILE *f = fopen(name, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)", name);
	uint8_t *data = malloc(8192);
	*len = fread(data, 1, 8192, f);
	fclose(f);
	return data;
}

static void test_parse_valid(void **state)
{
	(void)state;
	size_t len;
	uint8_t *page = load(FIXTURES "valid.bin", &len);
	assert_int_equal(len, NVME_EBS_READ_SIZE);
	struct nvme_ebs_stats s;
	struct status st = STATUS_INIT;
	assert_int_equal(nvme_ebs_parse(page, len, &s, &st), 0);
	assert_int_equal(s.read_ops, 1000);
	assert_int_equal(s.write_ops, 2000);
	assert_int_equal(s.read_bytes, 4096000);
	assert_int_equal(s.write_bytes, 8192000);
	assert_int_equal(s.total_read_time_us, 1500000);
	assert_int_equal(s.total_write_time_us, 2500000);
	assert_int_equal(s.ebs_iops_exceeded_us, 250000);
	assert_int_equal(s.ebs_tp_exceeded_us, 125000);
	assert_int_equal(s.ec2_iops_exceeded_us, 0);
	assert_int_equal(s.ec2_tp_exceeded_us, 3000000);
	assert_int_equal(s.queue_length, 7);
	assert_int_equal(s.read_latency.bin_count, 4);
	assert_int_equal(s.read_latency.bins[1].lower_us, 100);
	assert_int_equal(s.read_latency.bins[1].upper_us, 500);
	assert_int_equal(s.read_latency.bins[1].count, 5);
	assert_int_equal(s.read_latency.bins[4].count, 99);  /* unused bin, parsed as is */
	assert_int_equal(s.write_latency.bin_count, 3);
	assert_int_equal(s.write_latency.bins[2].upper_us, 10000);
	/* exactly the layout's size is enough */
	assert_int_equal(nvme_ebs_parse(page, NVME_EBS_STATS_SIZE, &s, &st), 0);
	free(page);
}

static void test_parse_bad_magic(void **state)
{
	(void)state;
	size_t len;
	uint8_t *page = load(FIXTURES "bad_magic.bin", &len);
	struct nvme_ebs_stats s;
	struct status st = STATUS_INIT;
	assert_int_equal(nvme_ebs_parse(page, len, &s, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "magic 0xdeadbeef"));
	assert_int_equal(s.read_ops, 0);  /* nothing half-filled */
	free(page);
}

static void test_parse_short(void **state)
{
	(void)state;
	size_t len;
	uint8_t *page = load(FIXTURES "short.bin", &len);
	assert_int_equal(len, NVME_EBS_STATS_SIZE - 1);
	struct nvme_ebs_stats s;
	struct status st = STATUS_INIT;
	assert_int_equal(nvme_ebs_parse(page, len, &s, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "3599 bytes"));
	assert_int_equal(nvme_ebs_parse(NULL, 4096, &s, &st), -1);
	free(page);
}

static void test_histogram_buckets(void **state)
{
	(void)state;
	size_t len;
	uint8_t *page = load(FIXTURES "valid.bin", &len);
	struct nvme_ebs_stats s;
	assert_int_equal(nvme_ebs_parse(page, len, &s, NULL), 0);
	double bounds[NVME_EBS_HIST_BINS];
	uint64_t cum[NVME_EBS_HIST_BINS], total;
	size_t n = nvme_ebs_histogram_buckets(&s.read_latency, bounds, cum, &total);
	assert_int_equal(n, 4);
	assert_true(bounds[0] == 0.0001 && bounds[1] == 0.0005 && bounds[2] == 0.001 && bounds[3] == 0.005);
	assert_int_equal(cum[0], 10);
	assert_int_equal(cum[1], 15);
	assert_int_equal(cum[2], 17);
	assert_int_equal(cum[3], 18);
	assert_int_equal(total, 18);  /* the 99s of unused bins are not counted */
	free(page);

	page = load(FIXTURES "full_histogram.bin", &len);
	assert_int_equal(nvme_ebs_parse(page, len, &s, NULL), 0);
	assert_int_equal(s.read_latency.bin_count, 1000);
	n = nvme_ebs_histogram_buckets(&s.read_latency, bounds, cum, &total);
	assert_int_equal(n, 64);
	assert_int_equal(total, 64);
	assert_int_equal(cum[63], 64);
	assert_true(bounds[63] == 0.00064);
	/* a repeated bound merges into one bucket with the later cumulative count */
	n = nvme_ebs_histogram_buckets(&s.write_latency, bounds, cum, &total);
	assert_int_equal(n, 2);
	assert_true(bounds[0] == 0.00005 && bounds[1] == 0.00008);
	assert_int_equal(cum[0], 10);
	assert_int_equal(cum[1], 11);
	assert_int_equal(total, 11);
	free(page);
}

/* Fields: id parent maj:min root mountpoint options [optional…] - fstype source superopts */
static const char mountinfo[] =
	"22 1 259:0 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n"
	"36 22 259:1 / " PREFIX "aaa/globalmount rw,relatime shared:5 master:3 - ext4 /dev/nvme1n1 rw\n"
	"37 22 259:1 / " PREFIX "aaa-again/globalmount rw,relatime - ext4 /dev/nvme1n1 rw\n"
	"38 22 0:5 /nvme2n1 " PREFIX "block/dev rw,nosuid - devtmpfs udev rw,size=100k\n"
	"39 22 259:7 / " PREFIX "part/globalmount rw - xfs /dev/nvme3n1p1 rw\n"
	"40 22 259:9 / /mnt/data rw - ext4 /dev/nvme4n1 rw\n"
	"41 22 259:9 / /var/lib/kubelet/plugins/kubernetes.io/csi/ebs.csi.aws.com-other/x rw - ext4 /dev/nvme6n1 rw\n"
	"42 22 259:11 / " PREFIX "with\\040space/globalmount rw - ext4 /dev/nvme5n1 rw\n"
	"43 22 202:80 / " PREFIX "xen/globalmount rw - ext4 /dev/xvdf rw\n"
	"44 22 259:12 / /var/lib/kubelet/plugins/kubernetes.io/csi/ebs.csi.aws.com rw - ext4 /dev/nvme7n1 rw\n"
	"45 22 259:13 / " PREFIX "trunc\n"
	"46 22 259:14 / " PREFIX "weird/globalmount rw - ext4 /dev/nvme8 rw\n"
	"47 22 259:15 / " PREFIX "last/globalmount rw - ext4 /dev/nvme10n2 rw";

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static void test_mounted_devices(void **state)
{
	(void)state;
	char **devs;
	size_t n = nvme_metrics_mounted_devices(mountinfo, PREFIX, &devs);
	const char *want[] = { "/dev/nvme10n2", "/dev/nvme1n1", "/dev/nvme2n1", "/dev/nvme3n1", "/dev/nvme5n1" };
	assert_int_equal(n, sizeof want / sizeof want[0]);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(devs[i], want[i]);
	free_list(devs, n);

	/* the prefix without its slash, or with several, means the same directory */
	n = nvme_metrics_mounted_devices(mountinfo, "/var/lib/kubelet/plugins/kubernetes.io/csi/ebs.csi.aws.com", &devs);
	assert_int_equal(n, 5);
	free_list(devs, n);
	n = nvme_metrics_mounted_devices(mountinfo, PREFIX "//", &devs);
	assert_int_equal(n, 5);
	free_list(devs, n);
	/* "/" holds every NVMe mount, the root partition included */
	n = nvme_metrics_mounted_devices(mountinfo, "/", &devs);
	assert_int_equal(n, 9);
	assert_string_equal(devs[0], "/dev/nvme0n1");
	free_list(devs, n);
	/* no prefix, no devices */
	assert_int_equal(nvme_metrics_mounted_devices(mountinfo, "", &devs), 0);
	assert_null(devs);
	assert_int_equal(nvme_metrics_mounted_devices(mountinfo, NULL, &devs), 0);
	assert_int_equal(nvme_metrics_mounted_devices("", PREFIX, &devs), 0);
	assert_int_equal(nvme_metrics_mounted_devices(mountinfo, "/nowhere", &devs), 0);
}

/* A fake sysfs under a temporary directory. */
struct tree {
	char root[64];
};

static void put(const char *root, const char *rel, const char *text)
{
	char path[512], cmd[600];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void tree_make(struct tree *t)
{
	snprintf(t->root, sizeof t->root, "/tmp/nvme-metrics-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	put(t->root, "sys/block/nvme1n1/device/serial", "vol0123456789abcdef0        \n");
	put(t->root, "sys/block/nvme2n1/device/serial", "vol0fedcba9876543210\n");
	put(t->root, "sys/block/nvme3n1/device/serial", "vol00000000000000003\n");
	put(t->root, "sys/block/nvme5n1/device/serial", "AWS1B2C3D4E5F6\n");  /* instance store */
	put(t->root, "mountinfo", mountinfo);
}

static void tree_remove(struct tree *t)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->root);
	assert_int_equal(system(cmd), 0);
}

static void test_volume_id(void **state)
{
	(void)state;
	struct tree t;
	tree_make(&t);
	char sys[128];
	snprintf(sys, sizeof sys, "%s/sys", t.root);
	struct status st = STATUS_INIT;
	char *id = nvme_metrics_volume_id(sys, "/dev/nvme1n1", &st);
	assert_non_null(id);
	assert_string_equal(id, "vol-0123456789abcdef0");
	free(id);
	assert_null(nvme_metrics_volume_id(sys, "/dev/nvme5n1", &st));
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_null(nvme_metrics_volume_id(sys, "/dev/nvme9n1", &st));
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	tree_remove(&t);
}

static void test_read_log_refusals(void **state)
{
	(void)state;
	uint8_t buf[NVME_EBS_READ_SIZE];
	struct status st = STATUS_INIT;
	assert_int_equal(nvme_ebs_read_log("/dev/null", buf, sizeof buf, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(nvme_ebs_read_log("/dev/nvme99n1p2", buf, 3, &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	if (access("/dev/nvme99n1", F_OK) != 0) {
		assert_int_equal(nvme_ebs_read_log("/dev/nvme99n1", buf, sizeof buf, &st), -1);
		assert_int_equal(st.code, STATUS_NOT_FOUND);
	}
}

/* The fake reader: nvme1n1 answers valid.bin, nvme2n1 bad_magic.bin, others fail. */
static int fake_read(void *ctx, const char *device, void *buf, size_t len, struct status *st)
{
	int *calls = ctx;
	(*calls)++;
	const char *file = strcmp(device, "/dev/nvme1n1") == 0   ? FIXTURES "valid.bin"
			   : strcmp(device, "/dev/nvme2n1") == 0 ? FIXTURES "bad_magic.bin"
								 : NULL;
	if (file == NULL)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s: NVMe status 0x2", device);
	size_t n;
	uint8_t *data = load(file, &n);
	memcpy(buf, data, n < len ? n : len);
	free(data);
	return 0;
}

static char *render(struct metrics *m)
{
	struct buf b;
	buf_init(&b);
	metrics_render(m, &b);
	char *s = buf_take(&b);
	buf_dispose(&b);
	return s;
}

#define LBL "{instance_id=\"i-0abc\",volume_id=\"vol-0123456789abcdef0\"}"
#define LBLH "{instance_id=\"i-0abc\",volume_id=\"vol-0123456789abcdef0\","

static void promtool_ok(const char *text)
{
	if (access("/usr/bin/promtool", X_OK) != 0)
		return;
	const char *argv[] = { "/usr/bin/promtool", "check", "metrics", NULL };
	struct exec_opts eo = { .timeout_ms = 30000, .stdin_data = text, .stdin_len = strlen(text) };
	struct exec_result res;
	assert_int_equal(exec_run(argv, &eo, &res, NULL), 0);
	if (res.exit_code != 0)
		fail_msg("promtool: %s%s\ninput:\n%s", res.out, res.err, text);
	exec_result_dispose(&res);
}

static void test_collector(void **state)
{
	(void)state;
	struct tree t;
	tree_make(&t);
	char sys[128], mi[128];
	snprintf(sys, sizeof sys, "%s/sys", t.root);
	snprintf(mi, sizeof mi, "%s/mountinfo", t.root);
	int calls = 0;
	struct nvme_metrics_opts o = { .mount_prefix = PREFIX, .instance_id = "i-0abc", .mountinfo_path = mi,
				       .sysfs_root = sys, .read_log = fake_read, .read_ctx = &calls };
	struct nvme_metrics *nm = nvme_metrics_new(&o);
	struct metrics *m = metrics_new();
	nvme_metrics_register(nm, m);
	char *out = render(m);
	/* nvme1n1 read; nvme2n1 read but bad magic; nvme3n1 read and refused;
	 * nvme5n1 (instance store serial) and nvme10n2 (no serial) never read */
	assert_int_equal(calls, 3);
	static const char *const want[] = {
		("# HELP aws_ebs_csi_read_ops_total The total number of completed read operations.\n"
		"# TYPE aws_ebs_csi_read_ops_total counter\n"
		"aws_ebs_csi_read_ops_total" LBL " 1000\n"),
		"aws_ebs_csi_write_ops_total" LBL " 2000\n",
		"aws_ebs_csi_read_bytes_total" LBL " 4096000\n",
		"aws_ebs_csi_write_bytes_total" LBL " 8192000\n",
		"aws_ebs_csi_read_seconds_total" LBL " 1.5\n",
		"aws_ebs_csi_write_seconds_total" LBL " 2.5\n",
		"aws_ebs_csi_exceeded_iops_seconds_total" LBL " 0.25\n",
		"aws_ebs_csi_exceeded_tp_seconds_total" LBL " 0.125\n",
		"aws_ebs_csi_ec2_exceeded_iops_seconds_total" LBL " 0\n",
		"aws_ebs_csi_ec2_exceeded_tp_seconds_total" LBL " 3\n",
		"# TYPE aws_ebs_csi_volume_queue_length gauge\naws_ebs_csi_volume_queue_length" LBL " 7\n",
		("# TYPE aws_ebs_csi_read_io_latency_seconds histogram\n"
		"aws_ebs_csi_read_io_latency_seconds_bucket" LBLH "le=\"0.0001\"} 10\n"
		"aws_ebs_csi_read_io_latency_seconds_bucket" LBLH "le=\"0.0005\"} 15\n"
		"aws_ebs_csi_read_io_latency_seconds_bucket" LBLH "le=\"0.001\"} 17\n"
		"aws_ebs_csi_read_io_latency_seconds_bucket" LBLH "le=\"0.005\"} 18\n"
		"aws_ebs_csi_read_io_latency_seconds_bucket" LBLH "le=\"+Inf\"} 18\n"
		"aws_ebs_csi_read_io_latency_seconds_sum" LBL " 0\n"
		"aws_ebs_csi_read_io_latency_seconds_count" LBL " 18\n"),
		("aws_ebs_csi_write_io_latency_seconds_bucket" LBLH "le=\"0.01\"} 23\n"
		"aws_ebs_csi_write_io_latency_seconds_bucket" LBLH "le=\"+Inf\"} 23\n"),
		("# TYPE aws_ebs_csi_nvme_collector_scrapes_total counter\n"
		"aws_ebs_csi_nvme_collector_scrapes_total{instance_id=\"i-0abc\"} 1\n"),
		"aws_ebs_csi_nvme_collector_errors_total{instance_id=\"i-0abc\"} 4\n",
		"# TYPE aws_ebs_csi_nvme_collector_duration_seconds histogram\n",
		"aws_ebs_csi_nvme_collector_duration_seconds_bucket{instance_id=\"i-0abc\",le=\"+Inf\"} 1\n",
		"aws_ebs_csi_nvme_collector_duration_seconds_count{instance_id=\"i-0abc\"} 1\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (strstr(out, want[i]) == NULL)
			fail_msg("missing:\n%s\nin:\n%s", want[i], out);
	/* only the one good volume is exported */
	assert_null(strstr(out, "vol-0fedcba9876543210"));
	assert_null(strstr(out, "vol-00000000000000003"));
	promtool_ok(out);
	free(out);

	/* the collector's own counters accumulate across scrapes */
	out = render(m);
	assert_non_null(strstr(out, "aws_ebs_csi_nvme_collector_scrapes_total{instance_id=\"i-0abc\"} 2\n"));
	/* per scrape: bad magic, refused read, instance-store serial, missing serial */
	assert_non_null(strstr(out, "aws_ebs_csi_nvme_collector_errors_total{instance_id=\"i-0abc\"} 8\n"));
	free(out);
	metrics_free(m);
	nvme_metrics_free(nm);
	tree_remove(&t);
}

static void test_collector_without_prefix(void **state)
{
	(void)state;
	int calls = 0;
	struct nvme_metrics_opts o = { .instance_id = "i-1", .mountinfo_path = "/nonexistent", .read_log = fake_read,
				       .read_ctx = &calls };
	struct nvme_metrics *nm = nvme_metrics_new(&o);
	struct metrics *m = metrics_new();
	nvme_metrics_register(nm, m);
	char *out = render(m);
	assert_int_equal(calls, 0);
	assert_non_null(strstr(out, "aws_ebs_csi_nvme_collector_scrapes_total{instance_id=\"i-1\"} 1\n"));
	assert_non_null(strstr(out, "aws_ebs_csi_nvme_collector_errors_total{instance_id=\"i-1\"} 0\n"));
	assert_null(strstr(out, "aws_ebs_csi_read_ops_total"));
	promtool_ok(out);
	free(out);
	metrics_free(m);
	nvme_metrics_free(nm);

	/* a prefix but no readable mount table: one error per scrape */
	o.mount_prefix = PREFIX;
	nm = nvme_metrics_new(&o);
	m = metrics_new();
	nvme_metrics_register(nm, m);
	out = render(m);
	assert_non_null(strstr(out, "aws_ebs_csi_nvme_collector_errors_total{instance_id=\"i-1\"} 1\n"));
	free(out);
	metrics_free(m);
	nvme_metrics_free(nm);
	nvme_metrics_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_bad_magic),
		cmocka_unit_test(test_parse_short),
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_mounted_devices),
		cmocka_unit_test(test_volume_id),
		cmocka_unit_test(test_read_log_refusals),
		cmocka_unit_test(test_collector),
		cmocka_unit_test(test_collector_without_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
