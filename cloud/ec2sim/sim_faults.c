/*
 * sim_faults: throttling buckets and random faults. See sim_faults.h.
 *
 * Bucket table (THRDOC via aws-facts.md §3): CreateVolume, DeleteVolume,
 * CreateSnapshot, DeleteSnapshot own 100/5; CreateTags, DeleteTags 100/10;
 * other mutating calls 50/5; Describe* 100/20, except DescribeVolumes,
 * DescribeInstances and DescribeSnapshots sent with neither a filter, IDs nor
 * MaxResults, which take 50/10. Limits apply per action, not per category.
 */
#include "cloud/ec2sim/sim_faults.h"

#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_bucket_init(struct sim_bucket *b, double capacity, double refill, int64_t now_ms)
{
	b->capacity = capacity;
	b->refill = refill;
	b->tokens = capacity;
	b->last_ms = now_ms;
}

bool sim_bucket_take(struct sim_bucket *b, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) / 1000.0 * b->refill;
		if (b->tokens > b->capacity)
			b->tokens = b->capacity;
		b->last_ms = now_ms;
	}
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

static bool has_prefix_key(const struct sim_form *f, const char *prefix)
{
	size_t n;
	unsigned *idx = sim_form_indices(f, prefix, &n);
	free(idx);
	return n > 0;
}

void sim_throttle_category(const char *action, const struct sim_form *f, double *capacity, double *refill,
			   char *name, size_t cap)
{
	static const char *const own5[] = { "CreateVolume", "DeleteVolume", "CreateSnapshot", "DeleteSnapshot", NULL };
	static const char *const own10[] = { "CreateTags", "DeleteTags", NULL };
	snprintf(name, cap, "%s", action);
	for (size_t i = 0; own5[i]; i++)
		if (strcmp(action, own5[i]) == 0) {
			*capacity = 100;
			*refill = 5;
			return;
		}
	for (size_t i = 0; own10[i]; i++)
		if (strcmp(action, own10[i]) == 0) {
			*capacity = 100;
			*refill = 10;
			return;
		}
	if (strncmp(action, "Describe", 8) != 0) {
		*capacity = 50;
		*refill = 5;
		return;
	}
	*capacity = 100;
	*refill = 20;
	const char *ids = strcmp(action, "DescribeVolumes") == 0     ? "VolumeId"
			  : strcmp(action, "DescribeInstances") == 0 ? "InstanceId"
			  : strcmp(action, "DescribeSnapshots") == 0 ? "SnapshotId"
								     : NULL;
	if (ids == NULL || f == NULL)
		return;
	if (!has_prefix_key(f, "Filter") && !has_prefix_key(f, ids) && sim_form_get(f, "MaxResults") == NULL) {
		*capacity = 50;
		*refill = 10;
		snprintf(name, cap, "%s:unfiltered", action);
	}
}

int sim_fault_parse_throttle(const char *s, struct sim_fault_config *c)
{
	if (strcmp(s, "off") == 0 || strcmp(s, "none") == 0) {
		c->throttle = SIM_THROTTLE_OFF;
		return 0;
	}
	if (strcmp(s, "aws") == 0) {
		c->throttle = SIM_THROTTLE_AWS;
		return 0;
	}
	char *end;
	double capa = strtod(s, &end);
	if (end == s || *end != '/' || capa < 1)
		return -1;
	const char *r = end + 1;
	double refill = strtod(r, &end);
	if (end == r || *end != '\0' || refill < 0)
		return -1;
	c->throttle = SIM_THROTTLE_CUSTOM;
	c->custom_capacity = capa;
	c->custom_refill = refill;
	return 0;
}

void sim_fault_format_throttle(const struct sim_fault_config *c, char *out, size_t cap)
{
	if (c->throttle == SIM_THROTTLE_AWS)
		snprintf(out, cap, "aws");
	else if (c->throttle == SIM_THROTTLE_CUSTOM)
		snprintf(out, cap, "%g/%g", c->custom_capacity, c->custom_refill);
	else
		snprintf(out, cap, "off");
}

void sim_faults_init(struct sim_faults *fs, const struct sim_fault_config *cfg, uint64_t seed)
{
	memset(fs, 0, sizeof *fs);
	pthread_mutex_init(&fs->lock, NULL);
	fs->cfg = *cfg;
	fs->rng = seed ^ 0xfa017fa017ULL;
}

void sim_faults_dispose(struct sim_faults *fs)
{
	free(fs->buckets);
	pthread_mutex_destroy(&fs->lock);
}

void sim_faults_set(struct sim_faults *fs, const struct sim_fault_config *cfg)
{
	pthread_mutex_lock(&fs->lock);
	fs->cfg = *cfg;
	free(fs->buckets);
	fs->buckets = NULL;
	fs->n_buckets = 0;
	pthread_mutex_unlock(&fs->lock);
}

void sim_faults_get(struct sim_faults *fs, struct sim_fault_config *out)
{
	pthread_mutex_lock(&fs->lock);
	*out = fs->cfg;
	pthread_mutex_unlock(&fs->lock);
}

bool sim_faults_throttled(struct sim_faults *fs, const char *action, const struct sim_form *f, int64_t now_ms)
{
	pthread_mutex_lock(&fs->lock);
	if (fs->cfg.throttle == SIM_THROTTLE_OFF) {
		pthread_mutex_unlock(&fs->lock);
		return false;
	}
	double capa, refill;
	char name[96];
	sim_throttle_category(action, f, &capa, &refill, name, sizeof name);
	if (fs->cfg.throttle == SIM_THROTTLE_CUSTOM) {
		capa = fs->cfg.custom_capacity;
		refill = fs->cfg.custom_refill;
	}
	struct sim_bucket *b = NULL;
	for (size_t i = 0; i < fs->n_buckets && b == NULL; i++)
		if (strcmp(fs->buckets[i].name, name) == 0)
			b = &fs->buckets[i].b;
	if (b == NULL) {
		fs->buckets = xrealloc(fs->buckets, (fs->n_buckets + 1) * sizeof *fs->buckets);
		struct sim_named_bucket *nb = &fs->buckets[fs->n_buckets++];
		snprintf(nb->name, sizeof nb->name, "%s", name);
		sim_bucket_init(&nb->b, capa, refill, now_ms);
		b = &nb->b;
	}
	bool ok = sim_bucket_take(b, now_ms);
	pthread_mutex_unlock(&fs->lock);
	return !ok;
}

uint64_t sim_faults_random(struct sim_faults *fs)
{
	pthread_mutex_lock(&fs->lock);
	uint64_t r = sim_rng_next(&fs->rng);
	pthread_mutex_unlock(&fs->lock);
	return r;
}

bool sim_faults_draw(struct sim_faults *fs, double p)
{
	if (p <= 0)
		return false;
	uint64_t r = sim_faults_random(fs);
	return (double)(r >> 11) / (double)(1ULL << 53) < p;
}
