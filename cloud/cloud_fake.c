/*
 * cloud_fake: the in-memory struct cloud. See cloud_fake.h.
 *
 * Every op goes through begin(): count the call, honour an injected delay (lock
 * released), an injected failure, the caller's deadline and cancellation; then
 * the op runs under the fake's mutex on plain arrays (tests hold tens of
 * objects, so linear search is the simplest correct thing). Waits (create_disk
 * until available, wait_attachment, modify_disk until optimizing) poll every
 * few milliseconds with the lock released, until the state is reached or the
 * deadline passes; without a deadline they look once, so a test can never hang.
 */
#include "cloud/cloud_fake.h"

#include "common/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 2
#define MAX_INJECT 16

struct fake_token {
	char *token;
	char *volume_id;
	char *params;        /* the parameters the token came with, as text */
};

struct fake_volume {
	struct cloud_disk d;
	bool initializing;
	bool has_mod;
	struct cloud_modification mod;  /* the latest modification */
};

struct inject {
	unsigned times;
	int code;
	char msg[STATUS_MSG_MAX];
};

struct cloud_fake {
	struct cloud base;      /* first: the seam casts back */
	pthread_mutex_t mu;
	struct cloud_zone_list zones;
	struct cloud_instance_list instances;
	struct fake_volume *vols;
	size_t n_vols, cap_vols;
	struct cloud_snapshot_list snaps;
	struct fake_token *tokens;
	size_t n_tokens, cap_tokens;
	size_t attach_limit;
	enum cloud_snapshot_state new_snap_state;
	enum cloud_mod_state new_mod_state;
	unsigned next_id;
	unsigned modify_calls;
	unsigned calls[CLOUD_OP_COUNT];
	int64_t delay_ms[CLOUD_OP_COUNT + 1];
	struct inject inject[CLOUD_OP_COUNT + 1][MAX_INJECT];
	size_t n_inject[CLOUD_OP_COUNT + 1];
};

static struct cloud_fake *F(struct cloud *c)
{
	return (struct cloud_fake *)c;
}

static void lock(struct cloud_fake *f)
{
	pthread_mutex_lock(&f->mu);
}

static void unlock(struct cloud_fake *f)
{
	pthread_mutex_unlock(&f->mu);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static bool eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Treats NULL and "" alike (an absent EC2 member). */
static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* ---- lookups (lock held) ----------------------------------------------------- */

static struct fake_volume *find_vol(struct cloud_fake *f, const char *id)
{
	for (size_t i = 0; id && i < f->n_vols; i++)
		if (eq(f->vols[i].d.volume_id, id))
			return &f->vols[i];
	return NULL;
}

static struct cloud_instance *find_inst(struct cloud_fake *f, const char *id)
{
	for (size_t i = 0; id && i < f->instances.n; i++)
		if (eq(f->instances.v[i].instance_id, id))
			return &f->instances.v[i];
	return NULL;
}

static struct cloud_snapshot *find_snap(struct cloud_fake *f, const char *id)
{
	for (size_t i = 0; id && i < f->snaps.n; i++)
		if (eq(f->snaps.v[i].snapshot_id, id))
			return &f->snaps.v[i];
	return NULL;
}

static const struct cloud_zone *find_zone(struct cloud_fake *f, const char *name, const char *id)
{
	for (size_t i = 0; i < f->zones.n; i++)
		if ((name && eq(f->zones.v[i].name, name)) || (!name && id && eq(f->zones.v[i].zone_id, id)))
			return &f->zones.v[i];
	return NULL;
}

static struct cloud_attachment *find_att(struct fake_volume *v, const char *instance_id)
{
	return (struct cloud_attachment *)cloud_disk_attachment_for(&v->d, instance_id);
}

static char *new_id(struct cloud_fake *f, const char *prefix)
{
	return xasprintf("%s-%017x", prefix, ++f->next_id);
}

/* ---- begin: counting, delays, injected failures, deadline ------------------------ */

static bool pop_inject(struct cloud_fake *f, int slot, struct status *st)
{
	if (f->n_inject[slot] == 0)
		return false;
	struct inject *in = &f->inject[slot][0];
	status_set(st, in->code, "%s", in->msg);
	if (--in->times == 0) {
		memmove(&f->inject[slot][0], &f->inject[slot][1], (f->n_inject[slot] - 1) * sizeof(struct inject));
		f->n_inject[slot]--;
	}
	return true;
}

static int check_rc(const struct rpc_ctx *rc, enum cloud_op op, struct status *st)
{
	if (rc != NULL && rc->cancelled != NULL && atomic_load(rc->cancelled))
		return status_set(st, STATUS_CANCELLED, "%s: cancelled", cloud_op_name(op));
	if (rc != NULL && rc->deadline_ms != RPC_NO_DEADLINE && rpc_now_ms() >= rc->deadline_ms)
		return status_set(st, STATUS_DEADLINE_EXCEEDED, "%s: deadline exceeded", cloud_op_name(op));
	return 0;
}

/* Returns 0 when the op should run; -1 with st set otherwise. */
static int begin(struct cloud_fake *f, const struct rpc_ctx *rc, enum cloud_op op, struct status *st)
{
	lock(f);
	f->calls[op]++;
	int64_t delay = f->delay_ms[op] > f->delay_ms[CLOUD_OP_ANY] ? f->delay_ms[op] : f->delay_ms[CLOUD_OP_ANY];
	unlock(f);
	if (delay > 0) {
		int64_t left = rpc_remaining_ms(rc);
		if (left < delay) {
			sleep_ms(left);
			return status_set(st, STATUS_DEADLINE_EXCEEDED, "%s: deadline exceeded (injected delay)",
					  cloud_op_name(op));
		}
		sleep_ms(delay);
	}
	if (check_rc(rc, op, st) < 0)
		return -1;
	lock(f);
	bool failed = pop_inject(f, op, st) || pop_inject(f, CLOUD_OP_ANY, st);
	unlock(f);
	return failed ? -1 : 0;
}

/* Polls cond (called with the lock held) until it returns true, or false when
 * the deadline passes; looks once when there is no deadline. The lock is held
 * on return. */
static bool poll_until(struct cloud_fake *f, const struct rpc_ctx *rc, bool (*cond)(struct cloud_fake *, void *),
		       void *arg)
{
	for (;;) {
		if (cond(f, arg))
			return true;
		if (rc == NULL || rc->deadline_ms == RPC_NO_DEADLINE || rpc_done(rc))
			return false;
		unlock(f);
		sleep_ms(POLL_MS);
		lock(f);
	}
}

/* ---- create / copy / delete ---------------------------------------------------------- */

static char *params_text(const struct cloud_disk_options *o, bool copy)
{
	/* "other than the Region or Availability Zone" (aws-facts.md §2.3). */
	return xasprintf("%d|%lld|%s|%d|%d|%d|%s|%s|%s|%d|%s", copy, (long long)o->size_gib,
			 o->volume_type ? o->volume_type : "", o->iops, o->throughput, o->encrypted,
			 o->kms_key_id ? o->kms_key_id : "", o->snapshot_id ? o->snapshot_id : "",
			 o->source_volume_id ? o->source_volume_id : "", o->multi_attach,
			 o->outpost_arn ? o->outpost_arn : "");
}

struct state_wait {
	const char *id;
	bool gone;
};

static bool disk_ready(struct cloud_fake *f, void *arg)
{
	struct state_wait *w = arg;
	struct fake_volume *v = find_vol(f, w->id);
	w->gone = v == NULL || v->d.state == CLOUD_DISK_DELETED || v->d.state == CLOUD_DISK_ERROR;
	return w->gone || v->d.state == CLOUD_DISK_AVAILABLE || v->d.state == CLOUD_DISK_IN_USE;
}

/* Waits for the volume, copies it to out. Lock held on entry and exit. */
static int wait_created(struct cloud_fake *f, const struct rpc_ctx *rc, const char *action, const char *id,
			struct cloud_disk *out, struct status *st)
{
	char *vid = xstrdup(id);
	struct state_wait w = { vid, false };
	int ret = 0;
	if (!poll_until(f, rc, disk_ready, &w)) {
		ret = status_set(st, STATUS_DEADLINE_EXCEEDED, "%s: volume %s is still creating", action, vid);
	} else if (w.gone) {
		ret = status_set(st, STATUS_ABORTED,
				 "%s: volume %s disappeared while it was being created (an unusable KMS key?); "
				 "its client token is burned",
				 action, vid);
	} else {
		cloud_disk_copy(out, &find_vol(f, vid)->d);
	}
	free(vid);
	return ret;
}

/* The token check shared by create and copy: 1 = known (out filled or error),
 * 0 = new token. */
static int check_token(struct cloud_fake *f, const struct rpc_ctx *rc, const char *action,
		       const struct cloud_disk_options *o, const char *params, struct cloud_disk *out, int *ret,
		       struct status *st)
{
	for (size_t i = 0; i < f->n_tokens; i++) {
		if (strcmp(f->tokens[i].token, o->client_token) != 0)
			continue;
		struct fake_volume *v = find_vol(f, f->tokens[i].volume_id);
		if (strcmp(f->tokens[i].params, params) != 0)
			*ret = status_set(st, STATUS_ALREADY_EXISTS,
					  "%s: IdempotentParameterMismatch: client token %s was used with other "
					  "parameters (volume %s)",
					  action, o->client_token, f->tokens[i].volume_id);
		else if (v == NULL || v->d.state == CLOUD_DISK_DELETED)
			/* What EC2 answers for a token whose volume is gone. */
			*ret = status_set(st, STATUS_ALREADY_EXISTS,
					  "%s: IdempotentParameterMismatch: The client token you have provided is "
					  "associated with a resource that is already deleted (volume %s)",
					  action, f->tokens[i].volume_id);
		else
			*ret = wait_created(f, rc, action, f->tokens[i].volume_id, out, st);
		return 1;
	}
	return 0;
}

/* Frees v and fills its slot with the last volume (order does not matter). */
static void drop_volume(struct cloud_fake *f, struct fake_volume *v)
{
	cloud_disk_dispose(&v->d);
	cloud_modification_dispose(&v->mod);
	*v = f->vols[--f->n_vols];
}

static struct fake_volume *add_volume(struct cloud_fake *f)
{
	if (f->n_vols == f->cap_vols) {
		f->cap_vols = f->cap_vols ? 2 * f->cap_vols : 8;
		f->vols = xrealloc(f->vols, f->cap_vols * sizeof *f->vols);
	}
	struct fake_volume *v = &f->vols[f->n_vols++];
	memset(v, 0, sizeof *v);
	cloud_disk_init(&v->d);
	cloud_modification_init(&v->mod);
	return v;
}

static void remember_token(struct cloud_fake *f, const char *token, const char *volume_id, char *params)
{
	if (f->n_tokens == f->cap_tokens) {
		f->cap_tokens = f->cap_tokens ? 2 * f->cap_tokens : 8;
		f->tokens = xrealloc(f->tokens, f->cap_tokens * sizeof *f->tokens);
	}
	struct fake_token *t = &f->tokens[f->n_tokens++];
	t->token = xstrdup(token);
	t->volume_id = xstrdup(volume_id);
	t->params = params;
}

static int check_common(const char *action, const struct cloud_disk_options *o, const char *type,
			struct status *st)
{
	if (o->client_token == NULL || *o->client_token == '\0' || strlen(o->client_token) > 64)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s: ClientToken must be 1 to 64 characters", action);
	if (o->multi_attach && strcmp(type, "io2") != 0)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "%s: InvalidParameterCombination: multi-attach is supported only for io2 volumes",
				  action);
	if (o->throughput != 0 && strcmp(type, "gp3") != 0)
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "%s: InvalidParameterCombination: throughput is supported only for gp3", action);
	return 0;
}

static void fill_new_volume(struct cloud_fake *f, struct fake_volume *v, const struct cloud_disk_options *o,
			    const char *type)
{
	v->d.volume_id = new_id(f, "vol");
	v->d.state = CLOUD_DISK_AVAILABLE;
	v->d.create_time_ms = wall_ms();
	v->d.volume_type = xstrdup(type);
	v->d.iops = o->iops ? o->iops : (strcmp(type, "gp3") == 0 ? 3000 : 0);
	v->d.throughput = o->throughput ? o->throughput : (strcmp(type, "gp3") == 0 ? 125 : 0);
	v->d.multi_attach = o->multi_attach;
	v->d.outpost_arn = dup0(o->outpost_arn);
	if (o->tags != NULL)
		cloud_tags_copy(&v->d.tags, o->tags);
}

static int fake_create_disk(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *o,
			    struct cloud_disk *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_CREATE_DISK, st) < 0)
		return -1;
	const char *type = o->volume_type ? o->volume_type : "gp2";  /* EC2's default */
	if (check_common("CreateVolume", o, type, st) < 0)
		return -1;
	int ret = 0;
	char *params = params_text(o, false);
	lock(f);
	if (check_token(f, rc, "CreateVolume", o, params, out, &ret, st)) {
		free(params);
		goto out;
	}
	const struct cloud_zone *z = find_zone(f, o->zone, o->zone_id);
	if (z == NULL) {
		ret = status_set(st, STATUS_INVALID_ARGUMENT, "CreateVolume: InvalidZone.NotFound: zone %s is not in %s",
				 o->zone ? o->zone : o->zone_id ? o->zone_id : "(none)", "us-east-1");
		free(params);
		goto out;
	}
	const struct cloud_snapshot *snap = NULL;
	if (o->snapshot_id != NULL && *o->snapshot_id != '\0') {
		snap = find_snap(f, o->snapshot_id);
		if (snap == NULL || snap->state == CLOUD_SNAPSHOT_ERROR) {
			ret = status_set(st, STATUS_NOT_FOUND,
					 "CreateVolume: InvalidSnapshot.NotFound: snapshot %s does not exist",
					 o->snapshot_id);
			free(params);
			goto out;
		}
	}
	int64_t size = o->size_gib ? o->size_gib : snap ? snap->volume_size_gib : 0;
	if (size <= 0 || (snap && size < snap->volume_size_gib) || size > 65536) {
		ret = status_set(st, STATUS_INVALID_ARGUMENT, "CreateVolume: InvalidParameterValue: size %lld GiB",
				 (long long)size);
		free(params);
		goto out;
	}
	struct fake_volume *v = add_volume(f);
	fill_new_volume(f, v, o, type);
	v->d.size_gib = size;
	v->d.zone = xstrdup(z->name);
	v->d.zone_id = dup0(z->zone_id);
	v->d.snapshot_id = xstrdup(snap ? snap->snapshot_id : "");
	v->d.encrypted = o->encrypted || (o->kms_key_id != NULL && *o->kms_key_id) || (snap && snap->encrypted);
	v->d.kms_key_id = dup0(o->kms_key_id && *o->kms_key_id ? o->kms_key_id : snap ? snap->kms_key_id : NULL);
	remember_token(f, o->client_token, v->d.volume_id, params);
	ret = wait_created(f, rc, "CreateVolume", v->d.volume_id, out, st);
out:
	unlock(f);
	return ret;
}

static int fake_copy_disk(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_disk_options *o,
			  struct cloud_disk *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_COPY_DISK, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct fake_volume *src = find_vol(f, o->source_volume_id);
	if (src == NULL) {
		unlock(f);
		return status_set(st, STATUS_NOT_FOUND, "CopyVolumes: InvalidVolume.NotFound: volume %s does not exist",
				  o->source_volume_id ? o->source_volume_id : "(none)");
	}
	const char *type = o->volume_type ? o->volume_type : src->d.volume_type;
	if (check_common("CopyVolumes", o, type, st) < 0) {
		unlock(f);
		return -1;
	}
	char *params = params_text(o, true);
	if (check_token(f, rc, "CopyVolumes", o, params, out, &ret, st)) {
		free(params);
		goto out;
	}
	int64_t size = o->size_gib ? o->size_gib : src->d.size_gib;
	if (size < src->d.size_gib) {
		ret = status_set(st, STATUS_INVALID_ARGUMENT,
				 "CopyVolumes: InvalidParameterValue: size %lld GiB is smaller than the source",
				 (long long)size);
		free(params);
		goto out;
	}
	char *src_id = xstrdup(src->d.volume_id);
	struct fake_volume *v = add_volume(f);  /* may move src */
	src = find_vol(f, src_id);
	fill_new_volume(f, v, o, type);
	v->d.size_gib = size;
	v->d.source_volume_id = src_id;
	v->d.snapshot_id = xstrdup("");
	v->d.zone = xstrdup(src->d.zone);
	v->d.zone_id = dup0(src->d.zone_id);
	v->d.encrypted = src->d.encrypted;
	v->d.kms_key_id = dup0(src->d.kms_key_id);
	remember_token(f, o->client_token, v->d.volume_id, params);
	ret = wait_created(f, rc, "CopyVolumes", v->d.volume_id, out, st);
out:
	unlock(f);
	return ret;
}

static int fake_delete_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_DELETE_DISK, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v == NULL)
		ret = status_set(st, STATUS_NOT_FOUND, "DeleteVolume: InvalidVolume.NotFound: volume %s does not exist",
				 volume_id);
	else if (v->d.n_attachments > 0)
		ret = status_set(st, STATUS_FAILED_PRECONDITION,
				 "DeleteVolume: VolumeInUse: volume %s is attached to %s", volume_id,
				 v->d.attachments[0].instance_id);
	else
		drop_volume(f, v);
	unlock(f);
	return ret;
}

/* ---- attach / detach / wait ----------------------------------------------------------- */

/* Upstream's device-name order (upstream-ebs-csi.md §6.5). */
static void device_name(size_t i, char out[16])
{
	static const char second[] = { 'a', 'b', 'd' };
	if (i < 26 + 26 + 24) {
		size_t g = i < 26 ? 0 : i < 52 ? 1 : 2;
		size_t k = g == 0 ? i : g == 1 ? i - 26 : i - 52;
		snprintf(out, 16, "/dev/xvd%c%c", second[g], (char)('a' + k));
	} else if (i < 76 + 25) {
		snprintf(out, 16, "/dev/xvd%c", (char)('b' + (i - 76)));
	} else if (i < 101 + 25) {
		snprintf(out, 16, "/dev/sd%c", (char)('b' + (i - 101)));
	} else {
		out[0] = '\0';
	}
}

static bool device_used(const struct cloud_instance *in, const char *name)
{
	for (size_t i = 0; i < in->n_devices; i++)
		if (eq(in->devices[i].device_name, name))
			return true;
	return false;
}

struct att_wait {
	const char *vol;
	const char *inst;
	enum cloud_attach_state want;
	const char *device;
	bool vol_gone;
};

static bool att_reached(struct cloud_fake *f, void *arg)
{
	struct att_wait *w = arg;
	struct fake_volume *v = find_vol(f, w->vol);
	w->vol_gone = v == NULL;
	struct cloud_attachment *a = v ? find_att(v, w->inst) : NULL;
	if (w->want == CLOUD_ATTACH_DETACHED)
		return a == NULL || a->state == CLOUD_ATTACH_DETACHED;
	if (v == NULL)
		return true;  /* NOT_FOUND: stop waiting */
	return a != NULL && a->state == w->want && (w->device == NULL || eq(a->device, w->device));
}

/* Lock held on entry and exit. */
static int wait_att_locked(struct cloud_fake *f, const struct rpc_ctx *rc, const char *volume_id,
			   const char *instance_id, enum cloud_attach_state want, const char *device,
			   struct cloud_attachment *out, struct status *st)
{
	struct att_wait w = { volume_id, instance_id, want, device, false };
	bool ok = poll_until(f, rc, att_reached, &w);
	struct fake_volume *v = find_vol(f, volume_id);
	struct cloud_attachment *a = v ? find_att(v, instance_id) : NULL;
	cloud_attachment_dispose(out);
	if (a != NULL) {
		cloud_attachment_copy(out, a);
	} else {
		out->volume_id = xstrdup(volume_id);
		out->instance_id = xstrdup(instance_id);
		out->state = CLOUD_ATTACH_DETACHED;
	}
	if (want == CLOUD_ATTACH_ATTACHED && w.vol_gone)
		return status_set(st, STATUS_NOT_FOUND, "volume %s does not exist", volume_id);
	if (!ok)
		return status_set(st, STATUS_DEADLINE_EXCEEDED, "volume %s on %s is %s, not %s%s%s", volume_id,
				  instance_id, cloud_attach_state_name(out->state), cloud_attach_state_name(want),
				  device ? " at " : "", device ? device : "");
	return 0;
}

static int fake_attach_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			    const char *instance_id, struct cloud_attachment *out, bool *already, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_ATTACH_DISK, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	struct cloud_instance *in = find_inst(f, instance_id);
	if (v == NULL) {
		ret = status_set(st, STATUS_NOT_FOUND, "AttachVolume: InvalidVolume.NotFound: volume %s does not exist",
				 volume_id);
		goto out;
	}
	if (in == NULL) {
		ret = status_set(st, STATUS_NOT_FOUND,
				 "AttachVolume: InvalidInstanceID.NotFound: instance %s does not exist", instance_id);
		goto out;
	}
	struct cloud_attachment *a = find_att(v, instance_id);
	if (a != NULL && a->state != CLOUD_ATTACH_DETACHING) {
		if (already != NULL)
			*already = true;
		ret = wait_att_locked(f, rc, volume_id, instance_id, CLOUD_ATTACH_ATTACHED, NULL, out, st);
		goto out;
	}
	if (v->d.n_attachments > 0 && !v->d.multi_attach) {
		ret = status_set(st, STATUS_FAILED_PRECONDITION,
				 "AttachVolume: VolumeInUse: volume %s is already attached to %s", volume_id,
				 v->d.attachments[0].instance_id);
		goto out;
	}
	if (v->d.state != CLOUD_DISK_AVAILABLE && v->d.state != CLOUD_DISK_IN_USE) {
		ret = status_set(st, STATUS_FAILED_PRECONDITION, "AttachVolume: IncorrectState: volume %s is %s",
				 volume_id, cloud_disk_state_name(v->d.state));
		goto out;
	}
	if (!same(v->d.zone, in->zone)) {
		ret = status_set(st, STATUS_FAILED_PRECONDITION,
				 "AttachVolume: InvalidVolume.ZoneMismatch: volume %s is in %s, instance %s in %s",
				 volume_id, v->d.zone ? v->d.zone : "", instance_id, in->zone ? in->zone : "");
		goto out;
	}
	if (in->n_devices >= f->attach_limit) {
		ret = status_set(st, STATUS_RESOURCE_EXHAUSTED,
				 "AttachVolume: AttachmentLimitExceeded: instance %s has %zu block devices", instance_id,
				 in->n_devices);
		goto out;
	}
	char dev[16] = "";
	for (size_t i = 0;; i++) {
		device_name(i, dev);
		if (dev[0] == '\0' || !device_used(in, dev))
			break;
	}
	if (dev[0] == '\0') {
		ret = status_set(st, STATUS_RESOURCE_EXHAUSTED, "attach %s to %s: no free device name", volume_id,
				 instance_id);
		goto out;
	}
	a = cloud_disk_add_attachment(&v->d);
	a->volume_id = xstrdup(volume_id);
	a->instance_id = xstrdup(instance_id);
	a->device = xstrdup(dev);
	a->state = CLOUD_ATTACH_ATTACHED;
	a->attach_time_ms = wall_ms();
	v->d.state = CLOUD_DISK_IN_USE;
	struct cloud_block_device *bd = cloud_instance_add_device(in);
	bd->device_name = xstrdup(dev);
	bd->volume_id = xstrdup(volume_id);
	bd->state = CLOUD_ATTACH_ATTACHED;
	ret = wait_att_locked(f, rc, volume_id, instance_id, CLOUD_ATTACH_ATTACHED, dev, out, st);
out:
	unlock(f);
	return ret;
}

static void drop_attachment(struct cloud_fake *f, struct fake_volume *v, const char *instance_id)
{
	for (size_t i = 0; i < v->d.n_attachments; i++) {
		if (!eq(v->d.attachments[i].instance_id, instance_id))
			continue;
		cloud_attachment_dispose(&v->d.attachments[i]);
		memmove(&v->d.attachments[i], &v->d.attachments[i + 1],
			(v->d.n_attachments - i - 1) * sizeof *v->d.attachments);
		v->d.n_attachments--;
		break;
	}
	if (v->d.n_attachments == 0 && v->d.state == CLOUD_DISK_IN_USE)
		v->d.state = CLOUD_DISK_AVAILABLE;
	struct cloud_instance *in = find_inst(f, instance_id);
	for (size_t i = 0; in && i < in->n_devices; i++) {
		if (!eq(in->devices[i].volume_id, v->d.volume_id))
			continue;
		free(in->devices[i].device_name);
		free(in->devices[i].volume_id);
		memmove(&in->devices[i], &in->devices[i + 1], (in->n_devices - i - 1) * sizeof *in->devices);
		in->n_devices--;
		break;
	}
}

static int fake_detach_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			    const char *instance_id, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_DETACH_DISK, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v == NULL)
		ret = status_set(st, STATUS_NOT_FOUND, "DetachVolume: InvalidVolume.NotFound: volume %s does not exist",
				 volume_id);
	else if (find_att(v, instance_id) == NULL)
		ret = status_set(st, STATUS_NOT_FOUND,
				 "DetachVolume: InvalidAttachment.NotFound: volume %s is not attached to %s", volume_id,
				 instance_id);
	else
		drop_attachment(f, v, instance_id);
	unlock(f);
	return ret;
}

static int fake_wait_attachment(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				const char *instance_id, enum cloud_attach_state want, const char *device,
				struct cloud_attachment *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_WAIT_ATTACHMENT, st) < 0)
		return -1;
	lock(f);
	int ret = wait_att_locked(f, rc, volume_id, instance_id, want, device, out, st);
	unlock(f);
	return ret;
}

/* ---- describe ------------------------------------------------------------------------ */

static int fake_get_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, struct cloud_disk *out,
			 struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_GET_DISK, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v == NULL)
		ret = status_set(st, STATUS_NOT_FOUND,
				 "DescribeVolumes: InvalidVolume.NotFound: volume %s does not exist", volume_id);
	else
		cloud_disk_copy(out, &v->d);
	unlock(f);
	return ret;
}

static int fake_find_disk_by_name(struct cloud *c, const struct rpc_ctx *rc, const char *name,
				  struct cloud_disk *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_FIND_DISK_BY_NAME, st) < 0)
		return -1;
	lock(f);
	size_t found = 0;
	for (size_t i = 0; i < f->n_vols; i++) {
		if (!eq(cloud_tags_get(&f->vols[i].d.tags, CLOUD_TAG_VOLUME_NAME), name))
			continue;
		if (found++ == 0)
			cloud_disk_copy(out, &f->vols[i].d);
	}
	unlock(f);
	if (found == 0)
		return status_set(st, STATUS_NOT_FOUND, "no volume has tag %s=%s", CLOUD_TAG_VOLUME_NAME, name);
	if (found > 1) {
		cloud_disk_dispose(out);
		return status_set(st, STATUS_FAILED_PRECONDITION, "%zu volumes have tag %s=%s", found,
				  CLOUD_TAG_VOLUME_NAME, name);
	}
	return 0;
}

static int fake_describe_instance(struct cloud *c, const struct rpc_ctx *rc, const char *instance_id,
				  struct cloud_instance *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_DESCRIBE_INSTANCE, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct cloud_instance *in = find_inst(f, instance_id);
	if (in == NULL)
		ret = status_set(st, STATUS_NOT_FOUND,
				 "DescribeInstances: InvalidInstanceID.NotFound: instance %s does not exist",
				 instance_id);
	else
		cloud_instance_copy(out, in);
	unlock(f);
	return ret;
}

/* ---- snapshots ---------------------------------------------------------------------------- */

static struct cloud_snapshot *push_snapshot(struct cloud_fake *f, const char *id, const char *volume_id,
					    int64_t size)
{
	struct cloud_snapshot *s = cloud_snapshot_list_push(&f->snaps);
	s->snapshot_id = id ? xstrdup(id) : new_id(f, "snap");
	s->volume_id = dup0(volume_id);
	s->volume_size_gib = size;
	s->start_time_ms = wall_ms();
	s->owner_id = xstrdup("123456789012");
	return s;
}

static int fake_create_snapshot(struct cloud *c, const struct rpc_ctx *rc, const struct cloud_snapshot_options *o,
				struct cloud_snapshot *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_CREATE_SNAPSHOT, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct fake_volume *v = find_vol(f, o->volume_id);
	if (v == NULL) {
		ret = status_set(st, STATUS_NOT_FOUND,
				 "CreateSnapshot: InvalidVolume.NotFound: volume %s does not exist",
				 o->volume_id ? o->volume_id : "(none)");
	} else {
		struct cloud_snapshot *s = push_snapshot(f, NULL, v->d.volume_id, v->d.size_gib);
		s->state = f->new_snap_state;
		s->progress_percent = s->state == CLOUD_SNAPSHOT_COMPLETED ? 100 : 0;
		s->description = dup0(o->description);
		s->outpost_arn = dup0(o->outpost_arn);
		s->encrypted = v->d.encrypted;
		s->kms_key_id = dup0(v->d.kms_key_id);
		if (o->tags != NULL)
			cloud_tags_copy(&s->tags, o->tags);
		cloud_snapshot_copy(out, s);
	}
	unlock(f);
	return ret;
}

static int fake_delete_snapshot(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
				struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_DELETE_SNAPSHOT, st) < 0)
		return -1;
	int ret = status_set(st, STATUS_NOT_FOUND,
			     "DeleteSnapshot: InvalidSnapshot.NotFound: snapshot %s does not exist", snapshot_id);
	lock(f);
	for (size_t i = 0; i < f->snaps.n; i++) {
		if (!eq(f->snaps.v[i].snapshot_id, snapshot_id))
			continue;
		cloud_snapshot_dispose(&f->snaps.v[i]);
		memmove(&f->snaps.v[i], &f->snaps.v[i + 1], (f->snaps.n - i - 1) * sizeof *f->snaps.v);
		f->snaps.n--;
		status_clear(st);
		ret = 0;
		break;
	}
	unlock(f);
	return ret;
}

static int fake_get_snapshot(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
			     struct cloud_snapshot *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_GET_SNAPSHOT, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct cloud_snapshot *s = find_snap(f, snapshot_id);
	if (s == NULL)
		ret = status_set(st, STATUS_NOT_FOUND,
				 "DescribeSnapshots: InvalidSnapshot.NotFound: snapshot %s does not exist",
				 snapshot_id);
	else
		cloud_snapshot_copy(out, s);
	unlock(f);
	return ret;
}

static int fake_find_snapshot_by_name(struct cloud *c, const struct rpc_ctx *rc, const char *name,
				      struct cloud_snapshot *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_FIND_SNAPSHOT_BY_NAME, st) < 0)
		return -1;
	lock(f);
	size_t found = 0;
	for (size_t i = 0; i < f->snaps.n; i++) {
		if (!eq(cloud_tags_get(&f->snaps.v[i].tags, CLOUD_TAG_SNAPSHOT_NAME), name))
			continue;
		if (found++ == 0)
			cloud_snapshot_copy(out, &f->snaps.v[i]);
	}
	unlock(f);
	if (found == 0)
		return status_set(st, STATUS_NOT_FOUND, "no snapshot has tag %s=%s", CLOUD_TAG_SNAPSHOT_NAME, name);
	if (found > 1) {
		cloud_snapshot_dispose(out);
		return status_set(st, STATUS_FAILED_PRECONDITION, "%zu snapshots have tag %s=%s", found,
				  CLOUD_TAG_SNAPSHOT_NAME, name);
	}
	return 0;
}

static int fake_list_snapshots(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, int max_results,
			       const char *next_token, struct cloud_snapshot_list *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_LIST_SNAPSHOTS, st) < 0)
		return -1;
	size_t start = 0;
	if (next_token != NULL && *next_token != '\0') {
		char *end;
		unsigned long long n = strncmp(next_token, "fake-", 5) == 0 ? strtoull(next_token + 5, &end, 10) : 0;
		if (strncmp(next_token, "fake-", 5) != 0 || *end != '\0' || n == 0)
			return status_set(st, STATUS_ABORTED,
					  "DescribeSnapshots: InvalidNextToken: the token is not valid");
		start = (size_t)n;
	}
	if (max_results < 0 || (max_results > 0 && (max_results < 5 || max_results > 1000)))
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "DescribeSnapshots: InvalidParameterValue: MaxResults %d is not in 5..1000",
				  max_results);
	lock(f);
	size_t seen = 0;
	for (size_t i = 0; i < f->snaps.n; i++) {
		const struct cloud_snapshot *s = &f->snaps.v[i];
		if (volume_id != NULL && *volume_id != '\0' && !eq(s->volume_id, volume_id))
			continue;
		if (seen++ < start)
			continue;
		if (max_results > 0 && out->n == (size_t)max_results) {
			out->next_token = xasprintf("fake-%zu", seen - 1);
			break;
		}
		cloud_snapshot_copy(cloud_snapshot_list_push(out), s);
	}
	unlock(f);
	return 0;
}

/* ---- modify ---------------------------------------------------------------------------------- */

static bool mod_settled(struct cloud_fake *f, void *arg)
{
	struct state_wait *w = arg;
	struct fake_volume *v = find_vol(f, w->id);
	w->gone = v == NULL;
	return v == NULL || !v->has_mod || v->mod.state != CLOUD_MOD_MODIFYING;
}

static int fake_modify_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			    const struct cloud_modify_options *o, struct cloud_modification *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_MODIFY_DISK, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v == NULL) {
		ret = status_set(st, STATUS_NOT_FOUND, "ModifyVolume: InvalidVolume.NotFound: volume %s does not exist",
				 volume_id);
		goto out;
	}
	struct cloud_disk *d = &v->d;
	int64_t size = o->size_gib ? o->size_gib : d->size_gib;
	const char *type = o->volume_type ? o->volume_type : d->volume_type;
	int32_t iops = o->iops ? o->iops : d->iops;
	int32_t tput = o->throughput ? o->throughput : d->throughput;
	if (size < d->size_gib) {
		ret = status_set(st, STATUS_INVALID_ARGUMENT,
				 "ModifyVolume: InvalidParameterValue: size %lld GiB is smaller than %lld GiB",
				 (long long)size, (long long)d->size_gib);
		goto out;
	}
	if (d->multi_attach && !same(type, "io2")) {
		ret = status_set(st, STATUS_INVALID_ARGUMENT,
				 "ModifyVolume: InvalidParameterCombination: a multi-attach volume must stay io2");
		goto out;
	}
	bool differs = size != d->size_gib || !same(type, d->volume_type) || iops != d->iops || tput != d->throughput;
	if (differs) {
		if (v->has_mod && v->mod.state == CLOUD_MOD_MODIFYING) {
			ret = status_set(st, STATUS_ABORTED,
					 "ModifyVolume: IncorrectModificationState: volume %s is being modified",
					 volume_id);
			goto out;
		}
		f->modify_calls++;
		struct cloud_modification *m = &v->mod;
		cloud_modification_dispose(m);
		v->has_mod = true;
		m->volume_id = xstrdup(volume_id);
		m->state = f->new_mod_state;
		m->original_size_gib = d->size_gib;
		m->original_iops = d->iops;
		m->original_throughput = d->throughput;
		m->original_type = dup0(d->volume_type);
		m->target_size_gib = size;
		m->target_iops = iops;
		m->target_throughput = tput;
		m->target_type = xstrdup(type);
		m->target_multi_attach = d->multi_attach;
		m->progress = m->state == CLOUD_MOD_COMPLETED ? 100 : 0;
		m->start_time_ms = wall_ms();
		if (m->state == CLOUD_MOD_COMPLETED)
			m->end_time_ms = m->start_time_ms;
		/* EC2 applies the size at once; the rest settles while optimizing. */
		d->size_gib = size;
		char *t = xstrdup(type);
		free(d->volume_type);
		d->volume_type = t;
		d->iops = iops;
		d->throughput = tput;
	}
	struct state_wait w = { volume_id, false };
	if (!poll_until(f, rc, mod_settled, &w)) {
		ret = status_set(st, STATUS_DEADLINE_EXCEEDED, "ModifyVolume: volume %s is still modifying", volume_id);
		goto out;
	}
	v = find_vol(f, volume_id);
	if (v == NULL) {
		ret = status_set(st, STATUS_NOT_FOUND, "ModifyVolume: volume %s vanished while modifying", volume_id);
	} else if (v->has_mod) {
		cloud_modification_copy(out, &v->mod);
		if (v->mod.state == CLOUD_MOD_FAILED)
			ret = status_set(st, STATUS_INTERNAL, "ModifyVolume: the modification of %s failed", volume_id);
	} else {
		/* Never modified and nothing asked: report the volume as it is. */
		out->volume_id = xstrdup(volume_id);
		out->state = CLOUD_MOD_COMPLETED;
		out->target_size_gib = v->d.size_gib;
		out->target_iops = v->d.iops;
		out->target_throughput = v->d.throughput;
		out->target_type = dup0(v->d.volume_type);
		out->progress = 100;
	}
out:
	unlock(f);
	return ret;
}

static int fake_get_modification(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				 struct cloud_modification *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_GET_MODIFICATION, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v == NULL || !v->has_mod)
		ret = status_set(st, STATUS_NOT_FOUND,
				 "DescribeVolumesModifications: InvalidVolumeModification.NotFound: volume %s has no "
				 "modification",
				 volume_id);
	else
		cloud_modification_copy(out, &v->mod);
	unlock(f);
	return ret;
}

/* ---- zones, FSR, tags, status, health ------------------------------------------------------------ */

static int fake_availability_zones(struct cloud *c, const struct rpc_ctx *rc, struct cloud_zone_list *out,
				   struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_AVAILABILITY_ZONES, st) < 0)
		return -1;
	lock(f);
	for (size_t i = 0; i < f->zones.n; i++) {
		struct cloud_zone *z = cloud_zone_list_push(out);
		z->name = dup0(f->zones.v[i].name);
		z->zone_id = dup0(f->zones.v[i].zone_id);
		z->state = dup0(f->zones.v[i].state);
		z->region = dup0(f->zones.v[i].region);
		z->zone_type = dup0(f->zones.v[i].zone_type);
	}
	unlock(f);
	return 0;
}

static int fake_enable_fsr(struct cloud *c, const struct rpc_ctx *rc, const char *snapshot_id,
			   const char *const *zones, size_t n_zones, struct cloud_fsr_result *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_ENABLE_FSR, st) < 0)
		return -1;
	lock(f);
	bool have = find_snap(f, snapshot_id) != NULL;
	for (size_t i = 0; i < n_zones; i++) {
		const struct cloud_zone *z = find_zone(f, zones[i], NULL);
		struct cloud_fsr_item *it = cloud_fsr_result_push(out, !have || z == NULL);
		it->snapshot_id = xstrdup(snapshot_id);
		it->zone = xstrdup(zones[i]);
		if (!have) {
			it->error_code = xstrdup("InvalidSnapshot.NotFound");
			it->error_message = xasprintf("The snapshot '%s' does not exist.", snapshot_id);
		} else if (z == NULL) {
			it->error_code = xstrdup("InvalidAvailabilityZone");
			it->error_message = xasprintf("The availability zone '%s' is not valid.", zones[i]);
		} else {
			it->zone_id = dup0(z->zone_id);
			it->state = xstrdup("enabling");
		}
	}
	unlock(f);
	return 0;
}

static struct cloud_tags *resource_tags(struct cloud_fake *f, const char *id)
{
	struct fake_volume *v = find_vol(f, id);
	if (v != NULL)
		return &v->d.tags;
	struct cloud_snapshot *s = find_snap(f, id);
	return s ? &s->tags : NULL;
}

static int fake_create_tags(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
			    const struct cloud_tags *tags, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_CREATE_TAGS, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct cloud_tags *t = resource_tags(f, resource_id);
	if (t == NULL)
		ret = status_set(st, STATUS_NOT_FOUND, "CreateTags: resource %s does not exist", resource_id);
	else
		for (size_t i = 0; tags && i < tags->n; i++)
			cloud_tags_set(t, tags->v[i].key, tags->v[i].value);
	unlock(f);
	return ret;
}

static int fake_delete_tags(struct cloud *c, const struct rpc_ctx *rc, const char *resource_id,
			    const char *const *keys, size_t n_keys, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_DELETE_TAGS, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct cloud_tags *t = resource_tags(f, resource_id);
	if (t == NULL)
		ret = status_set(st, STATUS_NOT_FOUND, "DeleteTags: resource %s does not exist", resource_id);
	else
		for (size_t i = 0; i < n_keys; i++)
			cloud_tags_remove(t, keys[i]);
	unlock(f);
	return ret;
}

static int fake_get_volume_status(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
				  struct cloud_volume_status *out, struct status *st)
{
	struct cloud_fake *f = F(c);
	if (begin(f, rc, CLOUD_OP_GET_VOLUME_STATUS, st) < 0)
		return -1;
	int ret = 0;
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v == NULL) {
		ret = status_set(st, STATUS_NOT_FOUND,
				 "DescribeVolumeStatus: InvalidVolume.NotFound: volume %s does not exist", volume_id);
	} else {
		out->volume_id = xstrdup(volume_id);
		out->zone = dup0(v->d.zone);
		out->status = xstrdup("ok");
		out->initializing = v->initializing;
		out->initialization_progress = v->initializing ? 0 : 100;
	}
	unlock(f);
	return ret;
}

static int fake_health_check(struct cloud *c, const struct rpc_ctx *rc, struct status *st)
{
	return begin(F(c), rc, CLOUD_OP_HEALTH_CHECK, st);
}

static void fake_destroy(struct cloud *c)
{
	cloud_fake_free(F(c));
}

static const struct cloud_ops fake_ops = {
	.create_disk = fake_create_disk,
	.copy_disk = fake_copy_disk,
	.delete_disk = fake_delete_disk,
	.attach_disk = fake_attach_disk,
	.detach_disk = fake_detach_disk,
	.wait_attachment = fake_wait_attachment,
	.get_disk = fake_get_disk,
	.find_disk_by_name = fake_find_disk_by_name,
	.describe_instance = fake_describe_instance,
	.create_snapshot = fake_create_snapshot,
	.delete_snapshot = fake_delete_snapshot,
	.get_snapshot = fake_get_snapshot,
	.find_snapshot_by_name = fake_find_snapshot_by_name,
	.list_snapshots = fake_list_snapshots,
	.modify_disk = fake_modify_disk,
	.get_modification = fake_get_modification,
	.availability_zones = fake_availability_zones,
	.enable_fsr = fake_enable_fsr,
	.create_tags = fake_create_tags,
	.delete_tags = fake_delete_tags,
	.get_volume_status = fake_get_volume_status,
	.health_check = fake_health_check,
	.destroy = fake_destroy,
};

/* ---- life cycle and knobs --------------------------------------------------------------------- */

struct cloud_fake *cloud_fake_new(void)
{
	struct cloud_fake *f = xcalloc(1, sizeof *f);
	f->base.ops = &fake_ops;
	pthread_mutex_init(&f->mu, NULL);
	cloud_zone_list_init(&f->zones);
	cloud_instance_list_init(&f->instances);
	cloud_snapshot_list_init(&f->snaps);
	f->attach_limit = 28;
	f->new_snap_state = CLOUD_SNAPSHOT_COMPLETED;
	f->new_mod_state = CLOUD_MOD_COMPLETED;
	static const char *const names[] = { "us-east-1a", "us-east-1b", "us-east-1c" };
	static const char *const ids[] = { "use1-az1", "use1-az2", "use1-az3" };
	cloud_fake_set_zones(f, names, ids, 3);
	return f;
}

void cloud_fake_free(struct cloud_fake *f)
{
	if (f == NULL)
		return;
	cloud_zone_list_dispose(&f->zones);
	cloud_instance_list_dispose(&f->instances);
	cloud_snapshot_list_dispose(&f->snaps);
	for (size_t i = 0; i < f->n_vols; i++) {
		cloud_disk_dispose(&f->vols[i].d);
		cloud_modification_dispose(&f->vols[i].mod);
	}
	free(f->vols);
	cloud_fake_forget_tokens(f);
	free(f->tokens);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

struct cloud *cloud_fake_cloud(struct cloud_fake *f)
{
	return &f->base;
}

void cloud_fake_set_zones(struct cloud_fake *f, const char *const *names, const char *const *ids, size_t n)
{
	lock(f);
	cloud_zone_list_dispose(&f->zones);
	for (size_t i = 0; i < n; i++) {
		struct cloud_zone *z = cloud_zone_list_push(&f->zones);
		z->name = xstrdup(names[i]);
		z->zone_id = ids ? xstrdup(ids[i]) : xasprintf("%s-id", names[i]);
		z->state = xstrdup("available");
		z->region = xstrdup("us-east-1");
		z->zone_type = xstrdup("availability-zone");
	}
	unlock(f);
}

void cloud_fake_add_instance(struct cloud_fake *f, const char *instance_id, const char *zone, const char *type)
{
	lock(f);
	struct cloud_instance *in = cloud_instance_list_push(&f->instances);
	in->instance_id = xstrdup(instance_id);
	in->instance_type = xstrdup(type ? type : "m5.large");
	in->zone = dup0(zone);
	const struct cloud_zone *z = zone ? find_zone(f, zone, NULL) : NULL;
	in->zone_id = z ? dup0(z->zone_id) : NULL;
	in->state = xstrdup("running");
	in->root_device_name = xstrdup("/dev/xvda");
	in->n_network_interfaces = 1;
	struct cloud_block_device *root = cloud_instance_add_device(in);
	root->device_name = xstrdup("/dev/xvda");
	root->state = CLOUD_ATTACH_ATTACHED;
	unlock(f);
}

void cloud_fake_add_instance_device(struct cloud_fake *f, const char *instance_id, const char *device_name,
				   const char *volume_id)
{
	lock(f);
	struct cloud_instance *in = find_inst(f, instance_id);
	if (in != NULL) {
		struct cloud_block_device *d = cloud_instance_add_device(in);
		d->device_name = xstrdup(device_name);
		d->volume_id = dup0(volume_id);
		d->state = CLOUD_ATTACH_ATTACHED;
	}
	unlock(f);
}

void cloud_fake_set_attach_limit(struct cloud_fake *f, size_t limit)
{
	lock(f);
	f->attach_limit = limit;
	unlock(f);
}

void cloud_fake_add_snapshot(struct cloud_fake *f, const char *snapshot_id, const char *volume_id,
			     int64_t size_gib)
{
	lock(f);
	struct cloud_snapshot *s = push_snapshot(f, snapshot_id, volume_id, size_gib);
	s->state = CLOUD_SNAPSHOT_COMPLETED;
	s->progress_percent = 100;
	unlock(f);
}

int cloud_fake_set_disk_state(struct cloud_fake *f, const char *volume_id, enum cloud_disk_state s)
{
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v != NULL)
		v->d.state = s;
	unlock(f);
	return v ? 0 : -1;
}

int cloud_fake_remove_disk(struct cloud_fake *f, const char *volume_id)
{
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v != NULL) {
		while (v->d.n_attachments > 0) {
			char *inst = xstrdup(v->d.attachments[0].instance_id);
			drop_attachment(f, v, inst);
			free(inst);
		}
		drop_volume(f, v);
	}
	unlock(f);
	return v ? 0 : -1;
}

int cloud_fake_set_attachment_state(struct cloud_fake *f, const char *volume_id, const char *instance_id,
				    enum cloud_attach_state s)
{
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	struct cloud_attachment *a = v ? find_att(v, instance_id) : NULL;
	if (a != NULL)
		a->state = s;
	unlock(f);
	return a ? 0 : -1;
}

void cloud_fake_set_new_snapshot_state(struct cloud_fake *f, enum cloud_snapshot_state s)
{
	lock(f);
	f->new_snap_state = s;
	unlock(f);
}

int cloud_fake_set_snapshot_state(struct cloud_fake *f, const char *snapshot_id, enum cloud_snapshot_state s)
{
	lock(f);
	struct cloud_snapshot *sn = find_snap(f, snapshot_id);
	if (sn != NULL) {
		sn->state = s;
		sn->progress_percent = s == CLOUD_SNAPSHOT_COMPLETED ? 100 : sn->progress_percent;
	}
	unlock(f);
	return sn ? 0 : -1;
}

void cloud_fake_set_new_modification_state(struct cloud_fake *f, enum cloud_mod_state s)
{
	lock(f);
	f->new_mod_state = s;
	unlock(f);
}

int cloud_fake_set_modification_state(struct cloud_fake *f, const char *volume_id, enum cloud_mod_state s)
{
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	bool ok = v != NULL && v->has_mod;
	if (ok)
		v->mod.state = s;
	unlock(f);
	return ok ? 0 : -1;
}

int cloud_fake_set_initializing(struct cloud_fake *f, const char *volume_id, bool initializing)
{
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v != NULL)
		v->initializing = initializing;
	unlock(f);
	return v ? 0 : -1;
}

void cloud_fake_forget_tokens(struct cloud_fake *f)
{
	lock(f);
	for (size_t i = 0; i < f->n_tokens; i++) {
		free(f->tokens[i].token);
		free(f->tokens[i].volume_id);
		free(f->tokens[i].params);
	}
	f->n_tokens = 0;
	unlock(f);
}

int cloud_fake_get_disk(struct cloud_fake *f, const char *volume_id, struct cloud_disk *out)
{
	cloud_disk_init(out);
	lock(f);
	struct fake_volume *v = find_vol(f, volume_id);
	if (v != NULL)
		cloud_disk_copy(out, &v->d);
	unlock(f);
	return v ? 0 : -1;
}

size_t cloud_fake_disk_count(struct cloud_fake *f)
{
	lock(f);
	size_t n = f->n_vols;
	unlock(f);
	return n;
}

size_t cloud_fake_snapshot_count(struct cloud_fake *f)
{
	lock(f);
	size_t n = f->snaps.n;
	unlock(f);
	return n;
}

unsigned cloud_fake_modify_volume_calls(struct cloud_fake *f)
{
	lock(f);
	unsigned n = f->modify_calls;
	unlock(f);
	return n;
}

void cloud_fake_fail_times(struct cloud_fake *f, enum cloud_op op, unsigned times, int code, const char *msg)
{
	if ((unsigned)op > CLOUD_OP_ANY || times == 0)
		return;
	lock(f);
	if (f->n_inject[op] < MAX_INJECT) {
		struct inject *in = &f->inject[op][f->n_inject[op]++];
		in->times = times;
		in->code = code;
		snprintf(in->msg, sizeof in->msg, "%s", msg ? msg : "injected failure");
	}
	unlock(f);
}

void cloud_fake_fail_next(struct cloud_fake *f, enum cloud_op op, int code, const char *fmt, ...)
{
	char msg[STATUS_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cloud_fake_fail_times(f, op, 1, code, msg);
}

void cloud_fake_clear_failures(struct cloud_fake *f)
{
	lock(f);
	memset(f->n_inject, 0, sizeof f->n_inject);
	unlock(f);
}

void cloud_fake_set_delay(struct cloud_fake *f, enum cloud_op op, int64_t delay_ms)
{
	if ((unsigned)op > CLOUD_OP_ANY)
		return;
	lock(f);
	f->delay_ms[op] = delay_ms;
	unlock(f);
}

unsigned cloud_fake_calls(struct cloud_fake *f, enum cloud_op op)
{
	unsigned n = 0;
	lock(f);
	if (op == CLOUD_OP_ANY)
		for (int i = 0; i < CLOUD_OP_COUNT; i++)
			n += f->calls[i];
	else if ((unsigned)op < CLOUD_OP_COUNT)
		n = f->calls[op];
	unlock(f);
	return n;
}

void cloud_fake_reset_calls(struct cloud_fake *f)
{
	lock(f);
	memset(f->calls, 0, sizeof f->calls);
	unlock(f);
}
