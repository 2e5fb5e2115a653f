/*
 * devname: device-name allocation. See devname.h.
 *
 * State is kept per instance in a small record (reservations, rejected names,
 * recently released names); a record is dropped once it holds nothing live, so
 * memory follows the attachments in flight, not the cluster's history. Lookups
 * are linear: an instance has at most DEVNAME_COUNT names in any list and a
 * controller serves a few thousand nodes at most.
 */
#include "cloud/devname.h"

#include "common/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the candidate list ------------------------------------------------------ */

static char g_names[DEVNAME_COUNT][DEVNAME_MAX];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void build_names(void)
{
	size_t n = 0;
	/* /dev/xvd{a,b}{a-z}, then /dev/xvdd{a-x}: "/dev/xvddx is the last allowed
	 * device name in the /dev/xvd{a-z}{a-z} series"; /dev/xvdc? is skipped
	 * because it breaks some Windows instance types (upstream's notes). */
	for (char c = 'a'; c <= 'z'; c++)
		snprintf(g_names[n++], DEVNAME_MAX, "/dev/xvda%c", c);
	for (char c = 'a'; c <= 'z'; c++)
		snprintf(g_names[n++], DEVNAME_MAX, "/dev/xvdb%c", c);
	for (char c = 'a'; c <= 'x'; c++)
		snprintf(g_names[n++], DEVNAME_MAX, "/dev/xvdd%c", c);
	/* /dev/xvda is the usual root device and broken on Windows. */
	for (char c = 'b'; c <= 'z'; c++)
		snprintf(g_names[n++], DEVNAME_MAX, "/dev/xvd%c", c);
	for (char c = 'b'; c <= 'z'; c++)
		snprintf(g_names[n++], DEVNAME_MAX, "/dev/sd%c", c);
	snprintf(g_names[n++], DEVNAME_MAX, "/dev/sda2");
	if (n != DEVNAME_COUNT)
		abort();
}

const char *devname_at(size_t i)
{
	pthread_once(&g_once, build_names);
	return i < DEVNAME_COUNT ? g_names[i] : NULL;
}

bool devname_is_candidate(const char *name)
{
	for (size_t i = 0; name != NULL && i < DEVNAME_COUNT; i++)
		if (strcmp(devname_at(i), name) == 0)
			return true;
	return false;
}

/* ---- per-instance state ---------------------------------------------------------- */

struct reservation {
	char *volume_id;
	char name[DEVNAME_MAX];
};

struct timed_name {
	char name[DEVNAME_MAX];
	int64_t until_ms;
};

struct inst {
	char *instance_id;
	struct reservation *res;
	size_t n_res, cap_res;
	struct timed_name *bad;       /* rejected as "already in use" */
	size_t n_bad, cap_bad;
	struct timed_name *recent;    /* released by a detach */
	size_t n_recent, cap_recent;
};

struct devname {
	pthread_mutex_t mu;
	int64_t bad_ttl_ms;
	int64_t recent_ttl_ms;
	struct inst *v;
	size_t n, cap;
};

struct devname *devname_new(const struct devname_options *o)
{
	struct devname *d = xcalloc(1, sizeof *d);
	pthread_mutex_init(&d->mu, NULL);
	d->bad_ttl_ms = o && o->bad_ttl_ms > 0 ? o->bad_ttl_ms : DEVNAME_DEFAULT_BAD_TTL_MS;
	d->recent_ttl_ms = o && o->recent_ttl_ms > 0 ? o->recent_ttl_ms : DEVNAME_DEFAULT_RECENT_TTL_MS;
	return d;
}

static void inst_dispose(struct inst *in)
{
	for (size_t i = 0; i < in->n_res; i++)
		free(in->res[i].volume_id);
	free(in->res);
	free(in->bad);
	free(in->recent);
	free(in->instance_id);
}

void devname_free(struct devname *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		inst_dispose(&d->v[i]);
	free(d->v);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

static struct inst *find_inst(struct devname *d, const char *instance_id, bool create)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].instance_id, instance_id) == 0)
			return &d->v[i];
	if (!create)
		return NULL;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 8;
		d->v = xrealloc(d->v, d->cap * sizeof *d->v);
	}
	struct inst *in = &d->v[d->n++];
	memset(in, 0, sizeof *in);
	in->instance_id = xstrdup(instance_id);
	return in;
}

/* Drops expired timed names, then the record itself when nothing is left. */
static void prune(struct devname *d, struct inst *in, int64_t now_ms)
{
	size_t k = 0;
	for (size_t i = 0; i < in->n_bad; i++)
		if (in->bad[i].until_ms > now_ms)
			in->bad[k++] = in->bad[i];
	in->n_bad = k;
	k = 0;
	for (size_t i = 0; i < in->n_recent; i++)
		if (in->recent[i].until_ms > now_ms)
			in->recent[k++] = in->recent[i];
	in->n_recent = k;
	if (in->n_res == 0 && in->n_bad == 0 && in->n_recent == 0) {
		inst_dispose(in);
		*in = d->v[--d->n];
	}
}

static void *grow(void *v, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return v;
	*cap = *cap ? 2 * *cap : 4;
	return xrealloc(v, *cap * sz);
}

static bool in_list(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], name) == 0)
			return true;
	return false;
}

static struct timed_name *find_timed(struct timed_name *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static struct reservation *find_res_volume(struct inst *in, const char *volume_id)
{
	for (size_t i = 0; i < in->n_res; i++)
		if (strcmp(in->res[i].volume_id, volume_id) == 0)
			return &in->res[i];
	return NULL;
}

static bool reserved(const struct inst *in, const char *name)
{
	for (size_t i = 0; i < in->n_res; i++)
		if (strcmp(in->res[i].name, name) == 0)
			return true;
	return false;
}

/* Preference tier of a free name: 0 fresh, 1 recently released, 2 rejected. */
static int tier(struct inst *in, const char *name)
{
	if (find_timed(in->bad, in->n_bad, name) != NULL)
		return 2;
	if (find_timed(in->recent, in->n_recent, name) != NULL)
		return 1;
	return 0;
}

int devname_reserve(struct devname *d, const char *instance_id, const char *volume_id, const char *const *in_use,
		    size_t n_in_use, int64_t now_ms, char out[DEVNAME_MAX], struct status *st)
{
	pthread_mutex_lock(&d->mu);
	struct inst *in = find_inst(d, instance_id, true);
	prune(d, in, now_ms);
	in = find_inst(d, instance_id, true);  /* prune may have dropped or moved it */
	struct reservation *r = find_res_volume(in, volume_id);
	if (r != NULL) {
		memcpy(out, r->name, DEVNAME_MAX);
		pthread_mutex_unlock(&d->mu);
		return 0;
	}
	const char *best = NULL;
	int best_tier = 3;
	for (size_t i = 0; i < DEVNAME_COUNT && best_tier > 0; i++) {
		const char *name = devname_at(i);
		if (in_list(in_use, n_in_use, name) || reserved(in, name))
			continue;
		int t = tier(in, name);
		if (t < best_tier) {
			best = name;
			best_tier = t;
		}
	}
	if (best == NULL) {
		prune(d, in, now_ms);
		pthread_mutex_unlock(&d->mu);
		return status_set(st, STATUS_RESOURCE_EXHAUSTED,
				  "no free device name on instance %s: all %d names are in use or being attached",
				  instance_id, DEVNAME_COUNT);
	}
	in->res = grow(in->res, &in->cap_res, in->n_res, sizeof *in->res);
	r = &in->res[in->n_res++];
	r->volume_id = xstrdup(volume_id);
	snprintf(r->name, DEVNAME_MAX, "%s", best);
	memcpy(out, r->name, DEVNAME_MAX);
	pthread_mutex_unlock(&d->mu);
	return 0;
}

void devname_release(struct devname *d, const char *instance_id, const char *volume_id)
{
	pthread_mutex_lock(&d->mu);
	struct inst *in = find_inst(d, instance_id, false);
	if (in != NULL) {
		struct reservation *r = find_res_volume(in, volume_id);
		if (r != NULL) {
			free(r->volume_id);
			*r = in->res[--in->n_res];
		}
		/* Keep timed entries until they expire; prune drops the record
		 * only when it is empty. INT64_MIN: expire nothing here. */
		prune(d, in, INT64_MIN);
	}
	pthread_mutex_unlock(&d->mu);
}

bool devname_reserved_name(struct devname *d, const char *instance_id, const char *volume_id,
			   char out[DEVNAME_MAX])
{
	pthread_mutex_lock(&d->mu);
	struct inst *in = find_inst(d, instance_id, false);
	struct reservation *r = in ? find_res_volume(in, volume_id) : NULL;
	if (r != NULL)
		memcpy(out, r->name, DEVNAME_MAX);
	pthread_mutex_unlock(&d->mu);
	return r != NULL;
}

static void add_timed(struct timed_name **v, size_t *n, size_t *cap, const char *name, int64_t until_ms)
{
	struct timed_name *t = find_timed(*v, *n, name);
	if (t == NULL) {
		*v = grow(*v, cap, *n, sizeof **v);
		t = &(*v)[(*n)++];
		snprintf(t->name, DEVNAME_MAX, "%s", name);
	}
	t->until_ms = until_ms;
}

void devname_mark_rejected(struct devname *d, const char *instance_id, const char *name, int64_t now_ms)
{
	if (name == NULL || strlen(name) >= DEVNAME_MAX)
		return;
	pthread_mutex_lock(&d->mu);
	struct inst *in = find_inst(d, instance_id, true);
	add_timed(&in->bad, &in->n_bad, &in->cap_bad, name, now_ms + d->bad_ttl_ms);
	pthread_mutex_unlock(&d->mu);
}

void devname_mark_good(struct devname *d, const char *instance_id, const char *name)
{
	pthread_mutex_lock(&d->mu);
	struct inst *in = find_inst(d, instance_id, false);
	struct timed_name *t = in && name ? find_timed(in->bad, in->n_bad, name) : NULL;
	if (t != NULL) {
		*t = in->bad[--in->n_bad];
		prune(d, in, INT64_MIN);
	}
	pthread_mutex_unlock(&d->mu);
}

void devname_note_released(struct devname *d, const char *instance_id, const char *name, int64_t now_ms)
{
	if (name == NULL || strlen(name) >= DEVNAME_MAX)
		return;
	pthread_mutex_lock(&d->mu);
	struct inst *in = find_inst(d, instance_id, true);
	add_timed(&in->recent, &in->n_recent, &in->cap_recent, name, now_ms + d->recent_ttl_ms);
	pthread_mutex_unlock(&d->mu);
}

size_t devname_reservations(struct devname *d, const char *instance_id)
{
	pthread_mutex_lock(&d->mu);
	struct inst *in = find_inst(d, instance_id, false);
	size_t n = in ? in->n_res : 0;
	pthread_mutex_unlock(&d->mu);
	return n;
}
