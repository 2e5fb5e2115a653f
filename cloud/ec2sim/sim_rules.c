/*
 * sim_rules: EC2's validation rules. See sim_rules.h.
 *
 * The limits are the 2026 API limits (gp3 up to 64 TiB, 80,000 IOPS and
 * 2,000 MiB/s; io2 up to 256,000 IOPS at 1,000 IOPS per GiB). Clusters in
 * regions with the older limits behave more strictly; the simulator models one
 * region and picks the newest numbers, which a driver must cope with anyway.
 */
#include "cloud/ec2sim/sim_rules.h"

#include <ctype.h>
#include <string.h>

struct type_limits {
	const char *type;
	int min_size, max_size;
	int min_iops, max_iops;   /* 0/0: IOPS not settable */
	int iops_per_gib;         /* max ratio; 0 when not settable */
	bool multi_attach;
};

static const struct type_limits LIMITS[] = {
	{ "gp3", 1, 65536, 3000, 80000, 500, false },
	{ "gp2", 1, 16384, 0, 0, 0, false },
	{ "io1", 4, 16384, 100, 64000, 50, true },
	{ "io2", 4, 65536, 100, 256000, 1000, true },
	{ "st1", 125, 16384, 0, 0, 0, false },
	{ "sc1", 125, 16384, 0, 0, 0, false },
	{ "standard", 1, 1024, 0, 0, 0, false },
};

static const struct type_limits *limits_of(const char *type)
{
	for (size_t i = 0; type != NULL && i < sizeof LIMITS / sizeof LIMITS[0]; i++)
		if (strcmp(LIMITS[i].type, type) == 0)
			return &LIMITS[i];
	return NULL;
}

bool sim_rules_volume_type_valid(const char *type)
{
	return limits_of(type) != NULL;
}

int sim_rules_volume(struct sim_volume_spec *spec, bool has_iops, bool has_tp, struct sim_err *e)
{
	const struct type_limits *l = limits_of(spec->type);
	if (l == NULL)
		return sim_err_value(e, "Value (%s) for parameter volumeType is invalid. Valid values: standard, io1, "
				     "io2, gp2, sc1, st1, gp3", spec->type ? spec->type : "");
	if (spec->size < l->min_size || spec->size > l->max_size)
		return sim_err_value(e, "Volume of %dGiB is out of range for volume type %s; valid sizes are %d-%d GiB",
				     spec->size, l->type, l->min_size, l->max_size);
	if (spec->multi_attach && !l->multi_attach)
		return sim_err_set(e, 400, "InvalidParameterCombination",
				   "Multi-Attach is supported only for io1 and io2 volumes");
	if (has_tp && strcmp(l->type, "gp3") != 0)
		return sim_err_set(e, 400, "InvalidParameterCombination",
				   "The parameter throughput is not supported for %s volumes.", l->type);
	if (l->max_iops == 0) {
		if (has_iops)
			return sim_err_set(e, 400, "InvalidParameterCombination",
					   "The parameter iops is not supported for %s volumes.", l->type);
		if (strcmp(l->type, "gp2") == 0) {
			int iops = spec->size * 3;
			spec->iops = iops < 100 ? 100 : iops > 16000 ? 16000 : iops;
		} else {
			spec->iops = 0;
		}
		spec->throughput = 0;
		return 0;
	}
	if (!has_iops) {
		if (strcmp(l->type, "gp3") != 0)
			return sim_err_set(e, 400, "MissingParameter",
					   "The parameter iops must be specified for %s volumes.", l->type);
		spec->iops = 3000;
	}
	if (strcmp(l->type, "io2") == 0 &&
	    (spec->iops > l->max_iops || (long long)spec->iops > (long long)spec->size * l->iops_per_gib))
		return sim_err_value(e, "io2 volumes configured with greater than 64 TiB or 256K IOPS or 1000:1 "
				     "IOPS:GB ratio are not supported");
	if (spec->iops > l->max_iops)
		return sim_err_value(e, "Volume iops of %d is too high; maximum is %d", spec->iops, l->max_iops);
	if (spec->iops < l->min_iops)
		return sim_err_value(e, "Volume iops of %d is too low; minimum is %d", spec->iops, l->min_iops);
	/* gp3's baseline 3000 is always allowed, whatever the size. */
	bool baseline = strcmp(l->type, "gp3") == 0 && spec->iops <= 3000;
	if (!baseline && (long long)spec->iops > (long long)spec->size * l->iops_per_gib)
		return sim_err_value(e, "Iops to volume size ratio of %f is too high; maximum is %f",
				     (double)spec->iops / spec->size, (double)l->iops_per_gib);
	if (strcmp(l->type, "gp3") == 0) {
		if (!has_tp)
			spec->throughput = 125;
		if (spec->throughput < 125 || spec->throughput > 2000)
			return sim_err_value(e, "Throughput of %d MiB/s is out of range; valid values are 125-2000",
					     spec->throughput);
		/* 0.25 MiB/s per provisioned IOPS above the 125 MiB/s baseline. */
		if (spec->throughput > 125 && spec->throughput * 4 > spec->iops)
			return sim_err_value(e, "Throughput (MiBps) to iops ratio of %f is too high; maximum is "
					     "0.250000 MiBps per iops.", (double)spec->throughput / spec->iops);
	} else {
		spec->throughput = 0;
	}
	return 0;
}

bool sim_rules_device_valid(const char *dev)
{
	if (dev == NULL)
		return false;
	if (strcmp(dev, "/dev/sda1") == 0 || strcmp(dev, "/dev/sda2") == 0)
		return true;
	const char *p;
	if (strncmp(dev, "/dev/xvd", 8) == 0)
		p = dev + 8;
	else if (strncmp(dev, "/dev/sd", 7) == 0 || strncmp(dev, "/dev/hd", 7) == 0)
		p = dev + 7;
	else
		return false;
	size_t n = strlen(p);
	if (n < 1 || n > 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 'a' || p[i] > 'z')
			return false;
	return true;
}

bool sim_rules_id_valid(const char *prefix, const char *id)
{
	if (id == NULL)
		return false;
	size_t pl = strlen(prefix);
	if (strncmp(id, prefix, pl) != 0 || id[pl] != '-')
		return false;
	const char *h = id + pl + 1;
	size_t n = strlen(h);
	if (n != 8 && n != 17)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)h[i]) && (h[i] < 'a' || h[i] > 'f'))
			return false;
	return true;
}

struct type_row {
	const char *type;
	struct sim_instance_type_info info;
};

static const struct type_row TYPES[] = {
	{ "m5.large", { "nitro", 27, false, 3, 2, 8192, "x86_64" } },
	{ "m5.xlarge", { "nitro", 27, false, 4, 4, 16384, "x86_64" } },
	{ "m5.2xlarge", { "nitro", 27, false, 4, 8, 32768, "x86_64" } },
	{ "c5.large", { "nitro", 27, false, 3, 2, 4096, "x86_64" } },
	{ "r5.large", { "nitro", 27, false, 3, 2, 16384, "x86_64" } },
	{ "t3.medium", { "nitro", 27, false, 3, 2, 4096, "x86_64" } },
	{ "m6i.large", { "nitro", 27, false, 3, 2, 8192, "x86_64" } },
	{ "c7i.large", { "nitro", 32, true, 3, 2, 4096, "x86_64" } },
	{ "m7i.large", { "nitro", 32, true, 3, 2, 8192, "x86_64" } },
	{ "m8g.large", { "nitro", 32, true, 3, 2, 8192, "arm64" } },
	{ "t2.micro", { "xen", 39, true, 2, 1, 1024, "x86_64" } },
};

void sim_rules_instance_type(const char *type, struct sim_instance_type_info *out)
{
	for (size_t i = 0; type != NULL && i < sizeof TYPES / sizeof TYPES[0]; i++) {
		if (strcmp(TYPES[i].type, type) == 0) {
			*out = TYPES[i].info;
			return;
		}
	}
	static const struct sim_instance_type_info def = { "nitro", 27, false, 4, 2, 8192, "x86_64" };
	*out = def;
}
