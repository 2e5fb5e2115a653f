/*
 * prestop: `ebs-csi-driver pre-stop-hook` (upstream §6.21). When the node pod
 * stops because its Node is being drained, kubelet is about to lose the one
 * process that unstages volumes; waiting here until every VolumeAttachment of
 * the Node is gone lets the attacher detach cleanly instead of EC2's 6-minute
 * force-detach after termination. On a Node that is not draining (a driver
 * upgrade, a restart) we return at once.
 *
 * The wait is LIST (VolumeAttachments have no nodeName field selector, so the
 * filter is ours) then WATCH from the list's resourceVersion, tracking the set
 * of attachment names on this Node; any end of the watch — clean end, broken
 * stream, 410 Gone — re-lists, which is always correct. Bounded by the
 * caller's deadline (the pod's grace period).
 */
#include "k8s/features.h"

#include "common/buf.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

#define VA_PATH "/apis/storage.k8s.io/v1/volumeattachments"
#define ERROR_BACKOFF_MS 250
#define ERROR_BACKOFF_MAX_MS 4000

/* Taints that mean "this node is going away" (upstream cmd/hooks/prestop.go). */
static const char *const drain_taints[] = {
	"node.kubernetes.io/unschedulable",
	"ToBeDeletedByClusterAutoscaler",
	"karpenter.sh/disrupted",
	"karpenter.sh/disruption",
};

bool k8s_node_is_draining(const json_t *node)
{
	/* `kubectl drain` cordons first; the node controller adds the
	 * unschedulable taint a moment later, so the flag is the earlier sign. */
	if (json_is_true(json_object_get(json_object_get(node, "spec"), "unschedulable")))
		return true;
	for (size_t i = 0; i < sizeof drain_taints / sizeof drain_taints[0]; i++)
		if (k8s_node_has_taint(node, drain_taints[i]))
			return true;
	return false;
}

bool k8s_volume_attachment_on_node(const json_t *va, const char *node_name)
{
	const char *n = json_string_value(json_object_get(json_object_get(va, "spec"), "nodeName"));
	return n != NULL && strcmp(n, node_name) == 0;
}

static const char *name_of(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

struct wait_state {
	const char *node;
	json_t *names; /* an object used as a set: attachment name -> true */
};

static int on_va_event(void *ctx, const char *type, json_t *object)
{
	struct wait_state *ws = ctx;
	const char *name = name_of(object);
	if (name == NULL)
		return K8S_WATCH_CONTINUE;
	if (strcmp(type, "DELETED") != 0 && k8s_volume_attachment_on_node(object, ws->node))
		json_object_set_new(ws->names, name, json_true());
	else
		json_object_del(ws->names, name);
	return json_object_size(ws->names) == 0 ? K8S_WATCH_STOP : K8S_WATCH_CONTINUE;
}

/* "a, b, c" (at most a few names) for messages. */
static void list_names(json_t *names, char *out, size_t cap)
{
	struct buf b;
	buf_init(&b);
	const char *k;
	json_t *v;
	int n = 0;
	json_object_foreach(names, k, v) {
		if (n == 5) {
			buf_puts(&b, ", ...");
			break;
		}
		buf_printf(&b, "%s%s", n++ ? ", " : "", k);
	}
	snprintf(out, cap, "%s", b.data);
	buf_dispose(&b);
}

int k8s_prestop_wait(struct k8s_client *c, const char *node_name, const struct rpc_ctx *rc, struct status *st)
{
	if (!k8s_valid_name(node_name))
		return status_set(st, STATUS_INVALID_ARGUMENT, "pre-stop: invalid node name");
	struct status local = STATUS_INIT;
	if (st == NULL)
		st = &local;
	char node_path[300];
	snprintf(node_path, sizeof node_path, "/api/v1/nodes/%s", node_name);
	json_t *node = NULL;
	if (k8s_get(c, node_path, rc, &node, st) != 0) {
		if (st->code != STATUS_NOT_FOUND)
			return status_prefix(st, "pre-stop: ");
		/* A Node already deleted is the end of a drain: wait as upstream does. */
		log_info("pre-stop: node %s not found; waiting for its VolumeAttachments", node_name);
	} else {
		bool draining = k8s_node_is_draining(node);
		json_decref(node);
		if (!draining) {
			log_info("pre-stop: node %s is not being drained; not waiting", node_name);
			status_clear(st);
			return 0;
		}
	}

	struct wait_state ws = { .node = node_name, .names = json_object() };
	int64_t backoff = ERROR_BACKOFF_MS;
	int ret = -1;
	bool announced = false;
	for (;;) {
		json_t *items = NULL;
		char *rv = NULL;
		if (k8s_list(c, VA_PATH, rc, &items, &rv, st) != 0) {
			if (st->code == STATUS_UNAUTHENTICATED || st->code == STATUS_PERMISSION_DENIED ||
			    st->code == STATUS_CANCELLED || st->code == STATUS_DEADLINE_EXCEEDED ||
			    st->code == STATUS_FAILED_PRECONDITION)
				break;
			goto retry_later;
		}
		json_object_clear(ws.names);
		size_t i;
		json_t *va;
		json_array_foreach(items, i, va) {
			const char *name = name_of(va);
			if (name != NULL && k8s_volume_attachment_on_node(va, node_name))
				json_object_set_new(ws.names, name, json_true());
		}
		json_decref(items);
		if (json_object_size(ws.names) == 0) {
			free(rv);
			log_info("pre-stop: no VolumeAttachment left on node %s", node_name);
			status_clear(st);
			ret = 0;
			break;
		}
		if (!announced || log_enabled(2)) {
			char names[200];
			list_names(ws.names, names, sizeof names);
			log_info("pre-stop: waiting for %zu VolumeAttachment(s) of node %s to go: %s",
				 json_object_size(ws.names), node_name, names);
			announced = true;
		}
		int64_t left = rpc_remaining_ms(rc) / 1000;
		int slice = left < 300 ? (int)(left > 0 ? left : 1) : 300;
		int64_t t0 = rpc_now_ms();
		int w = k8s_watch(c, VA_PATH, rv, slice, on_va_event, &ws, rc, NULL, st);
		free(rv);
		if (w == 1) {
			log_info("pre-stop: no VolumeAttachment left on node %s", node_name);
			status_clear(st);
			ret = 0;
			break;
		}
		if ((w == 0 || st->code == STATUS_OUT_OF_RANGE) && rpc_now_ms() - t0 >= 1000) {
			backoff = ERROR_BACKOFF_MS;
			continue; /* the stream ended, or 410: re-list */
		}
		if (w == 0)
			status_set(st, STATUS_UNAVAILABLE, "the watch ended at once"); /* do not spin on a server that does this */
		if (st->code == STATUS_UNAUTHENTICATED || st->code == STATUS_PERMISSION_DENIED ||
		    st->code == STATUS_CANCELLED || st->code == STATUS_DEADLINE_EXCEEDED)
			break;
retry_later:
		log_v(2, "pre-stop: %s; re-listing in %lld ms", st->msg, (long long)backoff);
		if (!k8s_sleep(backoff, rc))
			continue; /* the next request reports the deadline or the cancel */
		backoff = backoff * 2 > ERROR_BACKOFF_MAX_MS ? ERROR_BACKOFF_MAX_MS : backoff * 2;
	}
	if (ret != 0 && st->code == STATUS_DEADLINE_EXCEEDED && json_object_size(ws.names) > 0) {
		char names[200];
		list_names(ws.names, names, sizeof names);
		status_set(st, STATUS_DEADLINE_EXCEEDED, "pre-stop: %zu VolumeAttachment(s) of node %s still present at the "
			   "deadline: %s", json_object_size(ws.names), node_name, names);
	} else if (ret != 0) {
		status_prefix(st, "pre-stop: ");
	}
	json_decref(ws.names);
	return ret;
}
