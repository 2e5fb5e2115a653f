/*
 * cloud_aws_attach: AttachVolume, DetachVolume, the attachment waiters and the
 * batched DescribeInstances lookup, as upstream does them (upstream-ebs-csi.md
 * §6.4, §6.5).
 *
 * Attach: the instance's block-device mappings say whether the volume is there
 * already (then no AttachVolume, just the wait) and which names are taken;
 * devname adds our attachments in flight and names EC2 rejected as "already in
 * use" (we retry at once with another). EC2 refuses a volume attached elsewhere
 * (VolumeInUse) unless multi-attach; after a lost answer VolumeInUse may be our
 * own success, so the volume is looked at first. `attaching` longer than
 * stuck_attach_ms → detach and fail UNAVAILABLE so the CO's retry starts clean.
 * Detach: no Force; a missing volume or attachment is NOT_FOUND (the caller's
 * success); then wait for `detached`.
 */
#include "cloud/cloud_aws_internal.h"

#include "cloud/ec2_xml.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_ATTEMPTS 3

/* ---- DescribeInstances batcher ------------------------------------------------ */

static int send_instances(void *ctx, const char *tag, const char *const *keys, size_t n, int64_t deadline_ms,
			  void **result, struct status *st)
{
	struct cloud_aws *a = ctx;
	struct rpc_ctx rc = cloud_aws_batch_ctx(tag, deadline_ms);
	struct cloud_instance_list *acc = xmalloc(sizeof *acc);
	cloud_instance_list_init(acc);
	char *token = NULL;
	int ret;
	do {
		struct ec2_form f;
		ec2_form_init(&f, "DescribeInstances");
		ec2_form_add_list(&f, "InstanceId", keys, n);
		ec2_form_opt(&f, "NextToken", token);
		struct http_response resp;
		http_response_init(&resp);
		struct cloud_instance_list page;
		cloud_instance_list_init(&page);
		ret = cloud_aws_request(a, &rc, "DescribeInstances", &f, 0, &resp, st);
		if (ret == 0)
			ret = ec2_xml_describe_instances(resp.body.data, resp.body.len, &page, st);
		free(token);
		token = NULL;
		if (ret == 0) {
			for (size_t i = 0; i < page.n; i++) {
				*cloud_instance_list_push(acc) = page.v[i];
				cloud_instance_init(&page.v[i]);
			}
			if (page.next_token != NULL && *page.next_token != '\0')
				token = xstrdup(page.next_token);
		}
		cloud_instance_list_dispose(&page);
		http_response_dispose(&resp);
		ec2_form_dispose(&f);
	} while (ret == 0 && token != NULL);
	free(token);
	if (ret < 0) {
		cloud_instance_list_dispose(acc);
		free(acc);
		return -1;
	}
	*result = acc;
	return 0;
}

static int deliver_instance(void *ctx, const void *result, const char *key, void *out, struct status *st)
{
	(void)ctx;
	const struct cloud_instance_list *l = result;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].instance_id != NULL && strcmp(l->v[i].instance_id, key) == 0) {
			cloud_instance_copy(out, &l->v[i]);
			return 0;
		}
	}
	return status_set(st, STATUS_NOT_FOUND,
			  "DescribeInstances: InvalidInstanceID.NotFound: instance %s does not exist", key);
}

static void free_instances(void *ctx, void *result)
{
	(void)ctx;
	cloud_instance_list_dispose(result);
	free(result);
}

const struct batcher_ops cloud_aws_instance_id_ops = { send_instances, deliver_instance, free_instances };

int cloud_aws_lookup_instance(struct cloud_aws *a, const struct rpc_ctx *rc, const char *instance_id,
			      struct cloud_instance *out, struct status *st)
{
	cloud_instance_init(out);
	if (instance_id == NULL || *instance_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DescribeInstances: an instance id is required");
	return batcher_get(a->b_instances, instance_id, rc ? rc->method : NULL,
			   rc ? rc->deadline_ms : RPC_NO_DEADLINE, rc ? rc->cancelled : NULL, out, st);
}

int cloud_aws_describe_instance(struct cloud *c, const struct rpc_ctx *rc, const char *instance_id,
				struct cloud_instance *out, struct status *st)
{
	return cloud_aws_lookup_instance(cloud_aws_of(c), rc, instance_id, out, st);
}

/* ---- the calls --------------------------------------------------------------------- */

/* AttachVolume / DetachVolume; out gets the VolumeAttachment answer. */
static int attachment_call(struct cloud_aws *a, const struct rpc_ctx *rc, const char *action, const char *volume_id,
			   const char *instance_id, const char *device, struct cloud_attachment *out,
			   struct status *st)
{
	struct ec2_form f;
	ec2_form_init(&f, action);
	ec2_form_opt(&f, "Device", device);
	ec2_form_add(&f, "InstanceId", instance_id);
	ec2_form_add(&f, "VolumeId", volume_id);
	struct http_response resp;
	http_response_init(&resp);
	int ret = cloud_aws_request(a, rc, action, &f, 0, &resp, st);
	if (ret == 0)
		ret = ec2_xml_attachment(action, resp.body.data, resp.body.len, out, st);
	http_response_dispose(&resp);
	ec2_form_dispose(&f);
	return ret;
}

/* ---- waiting ------------------------------------------------------------------------ */

struct wait_spec {
	const char *volume_id;
	const char *instance_id;
	enum cloud_attach_state want;
	const char *device;      /* NULL: any */
	bool look_now;           /* first look without sleeping */
	bool detect_stuck;       /* attach_disk: detach an attachment stuck `attaching` */
};

static void set_detached(struct cloud_attachment *out, const char *volume_id, const char *instance_id)
{
	cloud_attachment_dispose(out);
	out->volume_id = xstrdup(volume_id);
	out->instance_id = xstrdup(instance_id);
	out->state = CLOUD_ATTACH_DETACHED;
}

static int stuck(struct cloud_aws *a, const struct rpc_ctx *rc, const struct wait_spec *w,
		 const struct cloud_attachment *att, int64_t age_ms, struct status *st)
{
	struct cloud_attachment det;
	cloud_attachment_init(&det);
	struct status dst = STATUS_INIT;
	int d = attachment_call(a, rc, "DetachVolume", w->volume_id, w->instance_id, NULL, &det, &dst);
	cloud_attachment_dispose(&det);
	if (d < 0)
		log_warn("detaching stuck volume %s from %s failed: %s", w->volume_id, w->instance_id, dst.msg);
	/* The name may be what makes it stick: avoid it next time. */
	if (att->device != NULL)
		devname_mark_rejected(a->dev, w->instance_id, att->device, cloud_aws_now(a));
	devname_release(a->dev, w->instance_id, w->volume_id);
	return status_set(st, STATUS_UNAVAILABLE,
			  "volume %s has been attaching to %s at %s for %lld s; %s so that a retry starts clean",
			  w->volume_id, w->instance_id, att->device ? att->device : "?", (long long)(age_ms / 1000),
			  d == 0 ? "detached it" : "detaching it failed");
}

/* Polls DescribeVolumes (batched) until the attachment reaches w->want. */
static int wait_state(struct cloud_aws *a, const struct rpc_ctx *rc, const struct wait_spec *w,
		      struct cloud_attachment *out, struct status *st)
{
	char what[160];
	snprintf(what, sizeof what, "volume %s on %s", w->volume_id, w->instance_id);
	struct cloud_aws_poll p;
	cloud_aws_poll_init(a, rc, &p, a->poll_initial_ms);
	set_detached(out, w->volume_id, w->instance_id);
	bool look = w->look_now;
	for (;;) {
		if (!look) {
			char state[96];
			snprintf(state, sizeof state, "%s, not %s%s%s", cloud_attach_state_name(out->state),
				 cloud_attach_state_name(w->want), w->device ? " at " : "", w->device ? w->device : "");
			if (cloud_aws_poll_sleep(a, rc, &p, what, state, st) < 0)
				return -1;
		}
		look = false;
		struct cloud_disk d;
		struct status lst = STATUS_INIT;
		if (cloud_aws_lookup_disk(a, rc, w->volume_id, &d, &lst) < 0) {
			cloud_disk_dispose(&d);
			if (lst.code == STATUS_NOT_FOUND) {
				set_detached(out, w->volume_id, w->instance_id);
				if (w->want == CLOUD_ATTACH_DETACHED)
					return 0;
				return status_copy(st, &lst);
			}
			if (lst.code == STATUS_UNAVAILABLE)
				continue;  /* throttled or 5xx beyond the retries: poll again */
			return status_copy(st, &lst);
		}
		const struct cloud_attachment *att = cloud_disk_attachment_for(&d, w->instance_id);
		if (att != NULL)
			cloud_attachment_copy(out, att);
		else
			set_detached(out, w->volume_id, w->instance_id);
		enum cloud_attach_state s = out->state;
		bool device_ok = w->device == NULL || (out->device != NULL && strcmp(out->device, w->device) == 0);
		if (s == w->want && (w->want != CLOUD_ATTACH_ATTACHED || device_ok)) {
			cloud_disk_dispose(&d);
			return 0;
		}
		if (w->detect_stuck && w->want == CLOUD_ATTACH_ATTACHED && s == CLOUD_ATTACH_ATTACHING) {
			/* EC2's attach time when it sent one, else since we started. */
			int64_t age = att != NULL && att->attach_time_ms > 0 ? cloud_aws_wall_ms(a) - att->attach_time_ms
									       : cloud_aws_now(a) - p.start_ms;
			if (age > a->stuck_attach_ms) {
				int r = stuck(a, rc, w, out, age, st);
				cloud_disk_dispose(&d);
				return r;
			}
		}
		cloud_disk_dispose(&d);
	}
}

int cloud_aws_wait_attachment(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id,
			      const char *instance_id, enum cloud_attach_state want, const char *device,
			      struct cloud_attachment *out, struct status *st)
{
	if (volume_id == NULL || instance_id == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "wait for attachment: volume and instance ids are required");
	if (want != CLOUD_ATTACH_ATTACHED && want != CLOUD_ATTACH_DETACHED)
		return status_set(st, STATUS_INVALID_ARGUMENT, "wait for attachment: only attached or detached");
	struct wait_spec w = { volume_id, instance_id, want, device, true, false };
	return wait_state(cloud_aws_of(c), rc, &w, out, st);
}

/* ---- attach ------------------------------------------------------------------------- */

static const struct cloud_block_device *mapping_of(const struct cloud_instance *in, const char *volume_id)
{
	for (size_t i = 0; i < in->n_devices; i++)
		if (in->devices[i].volume_id != NULL && strcmp(in->devices[i].volume_id, volume_id) == 0)
			return &in->devices[i];
	return NULL;
}

/* After VolumeInUse / IncorrectState: is the volume attaching or attached to
 * this very instance (an earlier attempt of ours whose answer was lost)? The
 * device goes to dev. */
static bool ours_already(struct cloud_aws *a, const struct rpc_ctx *rc, const char *volume_id,
			 const char *instance_id, char dev[DEVNAME_MAX + 16])
{
	struct cloud_disk d;
	struct status lst = STATUS_INIT;
	bool yes = false;
	if (cloud_aws_lookup_disk(a, rc, volume_id, &d, &lst) == 0) {
		const struct cloud_attachment *att = cloud_disk_attachment_for(&d, instance_id);
		if (att != NULL && att->device != NULL &&
		    (att->state == CLOUD_ATTACH_ATTACHING || att->state == CLOUD_ATTACH_ATTACHED)) {
			snprintf(dev, DEVNAME_MAX + 16, "%s", att->device);
			yes = true;
		}
	}
	cloud_disk_dispose(&d);
	return yes;
}

static int wait_attached(struct cloud_aws *a, const struct rpc_ctx *rc, const char *volume_id,
			 const char *instance_id, const char *device, bool look_now, struct cloud_attachment *out,
			 struct status *st)
{
	struct wait_spec w = { volume_id, instance_id, CLOUD_ATTACH_ATTACHED, device, look_now, true };
	int ret = wait_state(a, rc, &w, out, st);
	if (ret == 0) {
		devname_release(a->dev, instance_id, volume_id);
		devname_mark_good(a->dev, instance_id, device);
	}
	/* Otherwise the name stays reserved (upstream's "tainted" name) until a
	 * detach of this volume, unless stuck() already gave it up. */
	return ret;
}

int cloud_aws_attach_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, const char *instance_id,
			  struct cloud_attachment *out, bool *already_attached, struct status *st)
{
	struct cloud_aws *a = cloud_aws_of(c);
	if (volume_id == NULL || *volume_id == '\0' || instance_id == NULL || *instance_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "AttachVolume: volume and instance ids are required");
	struct cloud_instance in;
	if (cloud_aws_lookup_instance(a, rc, instance_id, &in, st) < 0) {
		cloud_instance_dispose(&in);
		return status_prefix(st, "attach %s to %s: ", volume_id, instance_id);
	}
	char dev[DEVNAME_MAX + 16];
	const struct cloud_block_device *bd = mapping_of(&in, volume_id);
	if (bd != NULL && bd->device_name != NULL && bd->state != CLOUD_ATTACH_DETACHING &&
	    bd->state != CLOUD_ATTACH_DETACHED) {
		/* Already assigned: no AttachVolume (it would fail or double up). */
		snprintf(dev, sizeof dev, "%s", bd->device_name);
		cloud_instance_dispose(&in);
		if (already_attached != NULL)
			*already_attached = true;
		return wait_attached(a, rc, volume_id, instance_id, dev, true, out, st);
	}
	const char **in_use = xcalloc(in.n_devices + 1, sizeof *in_use);
	for (size_t i = 0; i < in.n_devices; i++)
		in_use[i] = in.devices[i].device_name;
	int ret = -1;
	for (int tries = 0; tries < NAME_ATTEMPTS; tries++) {
		char name[DEVNAME_MAX];
		if (devname_reserve(a->dev, instance_id, volume_id, in_use, in.n_devices, cloud_aws_now(a), name, st) <
		    0)
			break;
		struct cloud_attachment ans;
		cloud_attachment_init(&ans);
		ret = attachment_call(a, rc, "AttachVolume", volume_id, instance_id, name, &ans, st);
		cloud_attachment_dispose(&ans);
		if (ret == 0) {
			snprintf(dev, sizeof dev, "%s", name);
			break;
		}
		devname_release(a->dev, instance_id, volume_id);
		if (st->code == STATUS_INVALID_ARGUMENT && strstr(st->msg, "already in use") != NULL) {
			/* A device the mappings do not show (e.g. from the AMI). */
			log_warn("device %s on %s is in use although not mapped; trying another name", name,
				 instance_id);
			devname_mark_rejected(a->dev, instance_id, name, cloud_aws_now(a));
			ret = -1;
			continue;
		}
		if (st->code == STATUS_FAILED_PRECONDITION && ours_already(a, rc, volume_id, instance_id, dev)) {
			if (already_attached != NULL)
				*already_attached = true;
			free(in_use);
			cloud_instance_dispose(&in);
			return wait_attached(a, rc, volume_id, instance_id, dev, true, out, st);
		}
		break;
	}
	free(in_use);
	cloud_instance_dispose(&in);
	if (ret < 0)
		return -1;
	return wait_attached(a, rc, volume_id, instance_id, dev, false, out, st);
}

/* ---- detach ------------------------------------------------------------------------- */

int cloud_aws_detach_disk(struct cloud *c, const struct rpc_ctx *rc, const char *volume_id, const char *instance_id,
			  struct status *st)
{
	struct cloud_aws *a = cloud_aws_of(c);
	if (volume_id == NULL || *volume_id == '\0' || instance_id == NULL || *instance_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "DetachVolume: volume and instance ids are required");
	struct cloud_attachment ans;
	cloud_attachment_init(&ans);
	int ret = attachment_call(a, rc, "DetachVolume", volume_id, instance_id, NULL, &ans, st);
	if (ret < 0) {
		cloud_attachment_dispose(&ans);
		if (st->code == STATUS_NOT_FOUND) {
			devname_release(a->dev, instance_id, volume_id);
			return -1;
		}
		if (st->code != STATUS_FAILED_PRECONDITION || strstr(st->msg, "IncorrectState") == NULL)
			return -1;
		/* IncorrectState: not attached (upstream: already detached), or
		 * detaching already (our earlier attempt whose answer was lost). */
		struct cloud_disk d;
		struct status lst = STATUS_INIT;
		int r = cloud_aws_lookup_disk(a, rc, volume_id, &d, &lst);
		const struct cloud_attachment *att = r == 0 ? cloud_disk_attachment_for(&d, instance_id) : NULL;
		bool detaching = att != NULL && att->state == CLOUD_ATTACH_DETACHING;
		cloud_disk_dispose(&d);
		if ((r == 0 && att == NULL) || (r < 0 && lst.code == STATUS_NOT_FOUND)) {
			devname_release(a->dev, instance_id, volume_id);
			return status_set(st, STATUS_NOT_FOUND, "DetachVolume: volume %s is not attached to %s",
					  volume_id, instance_id);
		}
		if (!detaching)
			return -1;
		status_clear(st);
	}
	struct wait_spec w = { volume_id, instance_id, CLOUD_ATTACH_DETACHED, NULL, false, false };
	struct cloud_attachment last;
	cloud_attachment_init(&last);
	ret = wait_state(a, rc, &w, &last, st);
	cloud_attachment_dispose(&last);
	if (ret == 0) {
		devname_release(a->dev, instance_id, volume_id);
		if (ans.device != NULL)
			devname_note_released(a->dev, instance_id, ans.device, cloud_aws_now(a));
	}
	cloud_attachment_dispose(&ans);
	return ret;
}
