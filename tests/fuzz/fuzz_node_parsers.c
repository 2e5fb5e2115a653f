/*
 * fuzz_node_parsers: the node's pure parsers of what the kernel and devices
 * report — the EBS NVMe log page (nvme_ebs_parse and the histogram it feeds
 * to Prometheus), mountinfo text (nvme_metrics_mounted_devices), filesystem
 * superblocks (mounter_fs_size_from_superblock), mount option lists, volume
 * ids and NVMe serials (node/devpath.h), instance types (node/limits.h) and
 * the mkfs argument builder (mounter_format_args).
 * The mount table of mounter_linux.c is read by libmount (not ours) and is
 * left to libmount's own fuzzing.
 *
 * Input: one selector byte, then
 *   0: a log page (raw bytes);  1: prefix \0 mountinfo text;
 *   2: a superblock (raw);      3: options \0 name;
 *   4: volume id \0 serial \0 device, one byte partition number first;
 *   5: an instance type, then four little-endian int16 for the limit inputs;
 *   6: fstype, then the numbers of struct mounter_format_opts (raw bytes).
 * Oracles: documented output shapes (sorted distinct /dev/nvme names,
 * monotonic cumulative histogram, at most 64 buckets, a partition name that
 * starts with its device, limits >= 0, argv NULL-terminated within cap).
 */
#include "tests/fuzz/fuzz_util.h"

#include "common/status.h"
#include "node/devpath.h"
#include "node/limits.h"
#include "node/mounter.h"
#include "node/nvme_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_hist(const struct nvme_ebs_histogram *h)
{
	double bounds[NVME_EBS_HIST_BINS];
	uint64_t cum[NVME_EBS_HIST_BINS], total = 0;
	size_t n = nvme_ebs_histogram_buckets(h, bounds, cum, &total);
	if (n > NVME_EBS_HIST_BINS)
		abort();
	for (size_t i = 1; i < n; i++)
		if (!(bounds[i] > bounds[i - 1]) || cum[i] < cum[i - 1]) {
			fprintf(stderr, "bucket %zu: bound %g after %g, cumulative %llu after %llu\n", i, bounds[i],
				bounds[i - 1], (unsigned long long)cum[i], (unsigned long long)cum[i - 1]);
			abort();
		}
}

static uint64_t take_u64(struct fz *f)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)fz_byte(f) << (8 * i);
	return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t sel = fz_byte(&f);
	struct status st = STATUS_INIT;

	switch (sel % 7) {
	case 0: {
		size_t len;
		char *page = fz_rest(&f, &len);
		struct nvme_ebs_stats s;
		if (nvme_ebs_parse(page, len, &s, &st) == 0) {
			check_hist(&s.read_latency);
			check_hist(&s.write_latency);
		} else if (st.code != STATUS_INVALID_ARGUMENT) {
			abort();
		}
		free(page);
		break;
	}
	case 1: {
		char *prefix = fz_str(&f, NULL);
		char *text = fz_str(&f, NULL);
		char **devs = NULL;
		size_t n = nvme_metrics_mounted_devices(text, prefix, &devs);
		if ((n == 0) != (devs == NULL))
			abort();
		for (size_t i = 0; i < n; i++) {
			if (strncmp(devs[i], "/dev/nvme", 9) != 0)
				abort();
			if (i > 0 && strcmp(devs[i - 1], devs[i]) >= 0)
				abort(); /* sorted, no duplicates */
		}
		for (size_t i = 0; i < n; i++)
			free(devs[i]);
		free(devs);
		free(prefix);
		free(text);
		break;
	}
	case 2: {
		size_t len;
		char *sb = fz_rest(&f, &len);
		(void)mounter_fs_size_from_superblock((const unsigned char *)sb, len);
		free(sb);
		break;
	}
	case 3: {
		char *opts = fz_str(&f, NULL);
		char *name = fz_str(&f, NULL);
		(void)mounter_options_have(opts, name);
		free(opts);
		free(name);
		break;
	}
	case 4: {
		int part = (int8_t)fz_byte(&f);
		char *vol = fz_str(&f, NULL);
		char *serial = fz_str(&f, NULL);
		char *dev = fz_str(&f, NULL);
		bool valid = devpath_volume_id_valid(vol);
		char out[64];
		int rc = devpath_serial_of_volume(vol, out, sizeof out, &st);
		if ((rc == 0) != valid)
			abort();
		if (rc == 0 && !devpath_serial_matches(out, vol))
			abort(); /* the serial of a volume names that volume */
		(void)devpath_serial_matches(serial, vol);
		st = (struct status)STATUS_INIT;
		char *p = devpath_partition(dev, part, &st);
		if ((p == NULL) != (part <= 0))
			abort();
		if (p != NULL && strncmp(p, dev, strlen(dev)) != 0)
			abort();
		free(p);
		free(vol);
		free(serial);
		free(dev);
		break;
	}
	case 5: {
		char *type = fz_str(&f, NULL);
		struct limits_type lt;
		limits_for_type(type, &lt);
		(void)limits_find(type);
		struct limits_node ln = { .instance_type = type };
		ln.attached_enis = (int16_t)(fz_byte(&f) | fz_byte(&f) << 8);
		ln.block_device_mappings = (int16_t)(fz_byte(&f) | fz_byte(&f) << 8);
		ln.volume_attach_limit = (int16_t)(fz_byte(&f) | fz_byte(&f) << 8);
		ln.reserved_attachments = (int16_t)(fz_byte(&f) | fz_byte(&f) << 8);
		if (limits_check_flags(ln.volume_attach_limit, ln.reserved_attachments, &st) == 0) {
			int max = limits_max_volumes_per_node(&ln);
			if (max < 0 || (ln.volume_attach_limit < 0 && max < 1))
				abort();
		}
		free(type);
		break;
	}
	case 6: {
		char *fstype = fz_str(&f, NULL);
		struct mounter_format_opts o = { .fstype = fstype };
		o.block_size = (uint32_t)take_u64(&f);
		o.inode_size = (uint32_t)take_u64(&f);
		o.bytes_per_inode = (uint32_t)take_u64(&f);
		o.number_of_inodes = take_u64(&f);
		uint8_t b = fz_byte(&f);
		o.ext4_bigalloc = b & 1;
		o.xfs_legacy = b & 2;
		o.ext4_cluster_size = (uint32_t)take_u64(&f);
		const char *argv[32];
		char scratch[256];
		int argc = mounter_format_args(&o, "/dev/nvme1n1", argv, 32, scratch, sizeof scratch, &st);
		if (argc >= 0) {
			if (argc >= 32 || argv[argc] != NULL)
				abort();
			for (int i = 0; i < argc; i++)
				(void)strlen(argv[i]);
		} else if (st.code != STATUS_INVALID_ARGUMENT) {
			abort();
		}
		(void)mounter_fstype_canonical(fstype);
		free(fstype);
		break;
	}
	}
	return 0;
}
