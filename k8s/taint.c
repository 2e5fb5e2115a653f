/*
 * taint: removal of the start-up taint ebs.csi.aws.com/agent-not-ready (upstream
 * §6.8). Users put it on new nodes so that no pod with an EBS volume lands there
 * before the driver can serve it; we lift it once kubelet has registered the
 * driver in the node's CSINode with an allocatable count (NodeGetInfo done).
 *
 * Instead of an informer: GET the Node (no taint: done), LIST the CSINode by
 * field selector (ready: patch), else WATCH it from the list's resourceVersion
 * until it becomes ready, and loop. The patch carries a test op on the taints
 * so a concurrent change is refused (422, or 409) rather than overwritten; we
 * then re-read and rebuild. 401/403 mean the operator withheld the RBAC
 * (upstream's disableMutation): give up quietly. Runs in its own thread for
 * at most 10 minutes; stopping it cancels any request in flight.
 */
#include "k8s/features.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFLICT_RETRIES 5
#define ERROR_BACKOFF_MS 500
#define ERROR_BACKOFF_MAX_MS 10000
#define WATCH_SLICE_S 60

bool k8s_node_has_taint(const json_t *node, const char *key)
{
	json_t *taints = json_object_get(json_object_get(node, "spec"), "taints");
	size_t i;
	json_t *t;
	json_array_foreach(taints, i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		if (k != NULL && strcmp(k, key) == 0)
			return true;
	}
	return false;
}

bool k8s_csinode_driver_ready(const json_t *csinode, const char *driver)
{
	json_t *drivers = json_object_get(json_object_get(csinode, "spec"), "drivers");
	size_t i;
	json_t *d;
	json_array_foreach(drivers, i, d) {
		const char *name = json_string_value(json_object_get(d, "name"));
		if (name != NULL && strcmp(name, driver) == 0)
			return json_is_integer(json_object_get(json_object_get(d, "allocatable"), "count"));
	}
	return false;
}

int k8s_taint_removal_patch(const json_t *node, const char *key, json_t **patch)
{
	json_t *taints = json_object_get(json_object_get(node, "spec"), "taints");
	if (!json_is_array(taints) || !k8s_node_has_taint(node, key))
		return 0;
	json_t *keep = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(taints, i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		if (k == NULL || strcmp(k, key) != 0)
			json_array_append(keep, t);
	}
	/* The test value is the array exactly as read (timeAdded and all): the
	 * server compares it with what it has now. */
	*patch = json_pack("[{s:s, s:s, s:O}, {s:s, s:s, s:o}]",
			   "op", "test", "path", "/spec/taints", "value", taints,
			   "op", "replace", "path", "/spec/taints", "value", keep);
	return 1;
}

static bool give_up_code(int code)
{
	return code == STATUS_UNAUTHENTICATED || code == STATUS_PERMISSION_DENIED || code == STATUS_CANCELLED ||
	       code == STATUS_DEADLINE_EXCEEDED || code == STATUS_INVALID_ARGUMENT ||
	       code == STATUS_FAILED_PRECONDITION;
}

static int on_csinode_event(void *ctx, const char *type, json_t *object)
{
	(void)ctx;
	if (strcmp(type, "DELETED") != 0 && k8s_csinode_driver_ready(object, K8S_DRIVER_NAME))
		return K8S_WATCH_STOP;
	return K8S_WATCH_CONTINUE;
}

/* One attempt at the patch with the Node as just read. Returns 0 when removed
 * (or nothing to remove), 1 when the Node changed under us (re-read), -1 on
 * another failure. */
static int try_patch(struct k8s_client *c, const char *node_name, const char *node_path, json_t *node,
		     const struct rpc_ctx *rc, struct status *st)
{
	json_t *patch = NULL;
	if (k8s_taint_removal_patch(node, K8S_AGENT_NOT_READY_TAINT, &patch) == 0)
		return 0;
	int r = k8s_patch_json(c, node_path, patch, rc, NULL, st);
	json_decref(patch);
	if (r == 0) {
		log_info("k8s: removed the taint %s from node %s", K8S_AGENT_NOT_READY_TAINT, node_name);
		return 0;
	}
	/* 409: a concurrent update; 422 (INVALID_ARGUMENT): our test op saw other
	 * taints; 404: the Node went away between GET and PATCH. */
	if (st != NULL && (st->code == STATUS_ABORTED || st->code == STATUS_INVALID_ARGUMENT ||
			   st->code == STATUS_NOT_FOUND))
		return 1;
	return -1;
}

int k8s_remove_not_ready_taint(struct k8s_client *c, const char *node_name, const struct rpc_ctx *rc,
			       struct status *st)
{
	if (!k8s_valid_name(node_name))
		return status_set(st, STATUS_INVALID_ARGUMENT, "taint removal: invalid node name");
	char node_path[300], csinode_path[400];
	snprintf(node_path, sizeof node_path, "/api/v1/nodes/%s", node_name);
	snprintf(csinode_path, sizeof csinode_path,
		 "/apis/storage.k8s.io/v1/csinodes?fieldSelector=metadata.name%%3D%s", node_name);
	struct status local = STATUS_INIT;
	if (st == NULL)
		st = &local;
	int64_t backoff = ERROR_BACKOFF_MS;
	int conflicts = 0;
	char *rv = NULL;
	int ret = -1;
	for (;;) {
		json_t *node = NULL;
		if (k8s_get(c, node_path, rc, &node, st) != 0) {
			if (give_up_code(st->code))
				break;
			goto retry_later; /* NOT_FOUND too: the Node may not be registered yet */
		}
		if (!k8s_node_has_taint(node, K8S_AGENT_NOT_READY_TAINT)) {
			json_decref(node);
			log_v(2, "k8s: node %s has no %s taint", node_name, K8S_AGENT_NOT_READY_TAINT);
			status_clear(st);
			ret = 0;
			break;
		}
		json_t *items = NULL;
		free(rv);
		rv = NULL;
		if (k8s_list(c, csinode_path, rc, &items, &rv, st) != 0) {
			json_decref(node);
			if (give_up_code(st->code))
				break;
			goto retry_later;
		}
		bool ready = json_array_size(items) > 0 &&
			     k8s_csinode_driver_ready(json_array_get(items, 0), K8S_DRIVER_NAME);
		json_decref(items);
		if (ready) {
			int p = try_patch(c, node_name, node_path, node, rc, st);
			json_decref(node);
			if (p == 0) {
				status_clear(st);
				ret = 0;
				break;
			}
			if (p == 1) {
				if (++conflicts <= CONFLICT_RETRIES) {
					log_v(2, "k8s: node %s changed while removing the taint (%s); re-reading", node_name,
					      st->msg);
					continue;
				}
				conflicts = 0; /* a busy Node: back off, then start over */
				goto retry_later;
			}
			if (give_up_code(st->code))
				break;
			goto retry_later;
		}
		json_decref(node);
		/* Not registered yet: wait for the CSINode to change. */
		int64_t left = rpc_remaining_ms(rc) / 1000;
		int slice = left < WATCH_SLICE_S ? (int)(left > 0 ? left : 1) : WATCH_SLICE_S;
		int64_t t0 = rpc_now_ms();
		int w = k8s_watch(c, csinode_path, rv, slice, on_csinode_event, NULL, rc, NULL, st);
		if (w == 1 || (w == 0 && rpc_now_ms() - t0 >= 1000)) {
			backoff = ERROR_BACKOFF_MS;
			continue; /* ready, or the slice ended: look again */
		}
		if (w == 0)
			status_set(st, STATUS_UNAVAILABLE, "the watch ended at once"); /* do not spin on a server that does this */
		if (give_up_code(st->code))
			break;
		if (st->code == STATUS_OUT_OF_RANGE)
			continue; /* 410: re-list */
retry_later:
		log_v(2, "k8s: taint removal on node %s: %s; retrying in %lld ms", node_name, st->msg, (long long)backoff);
		if (!k8s_sleep(backoff, rc))
			continue; /* the next request reports the deadline or the cancel */
		backoff = backoff * 2 > ERROR_BACKOFF_MAX_MS ? ERROR_BACKOFF_MAX_MS : backoff * 2;
	}
	free(rv);
	return ret;
}

/* ---- the background thread -------------------------------------------------------- */

struct k8s_taint_watcher {
	pthread_t thread;
	struct k8s_client *c;
	char node[254];
	atomic_bool stop;
	atomic_bool done;
	struct rpc_ctx rc;
	struct status result;
};

static void *watcher_main(void *arg)
{
	struct k8s_taint_watcher *w = arg;
	int r = k8s_remove_not_ready_taint(w->c, w->node, &w->rc, &w->result);
	if (r != 0) {
		switch (w->result.code) {
		case STATUS_CANCELLED:
			log_v(2, "k8s: taint watcher for node %s stopped", w->node);
			break;
		case STATUS_UNAUTHENTICATED:
		case STATUS_PERMISSION_DENIED:
			log_info("k8s: not removing the %s taint: %s", K8S_AGENT_NOT_READY_TAINT, w->result.msg);
			break;
		case STATUS_DEADLINE_EXCEEDED:
			log_warn("k8s: gave up removing the %s taint from node %s: the driver was not registered in "
				 "CSINode in time (%s)", K8S_AGENT_NOT_READY_TAINT, w->node, w->result.msg);
			break;
		default:
			log_warn("k8s: gave up removing the %s taint from node %s: %s", K8S_AGENT_NOT_READY_TAINT, w->node,
				 w->result.msg);
		}
	}
	atomic_store(&w->done, true);
	return NULL;
}

struct k8s_taint_watcher *k8s_taint_watcher_start(struct k8s_client *c, const char *node_name, int64_t timeout_ms,
						  struct status *st)
{
	if (!k8s_valid_name(node_name)) {
		status_set(st, STATUS_INVALID_ARGUMENT, "taint watcher: invalid node name");
		return NULL;
	}
	struct k8s_taint_watcher *w = xcalloc(1, sizeof *w);
	w->c = c;
	snprintf(w->node, sizeof w->node, "%s", node_name);
	atomic_init(&w->stop, false);
	atomic_init(&w->done, false);
	w->rc.method = "k8s-taint-watcher";
	w->rc.deadline_ms = rpc_now_ms() + (timeout_ms > 0 ? timeout_ms : K8S_TAINT_WATCH_MS);
	w->rc.cancelled = &w->stop;
	status_clear(&w->result);
	int e = pthread_create(&w->thread, NULL, watcher_main, w);
	if (e != 0) {
		free(w);
		status_set(st, STATUS_INTERNAL, "taint watcher: cannot create a thread: %s", strerror(e));
		return NULL;
	}
	return w;
}

bool k8s_taint_watcher_done(struct k8s_taint_watcher *w) { return atomic_load(&w->done); }

void k8s_taint_watcher_stop(struct k8s_taint_watcher *w, struct status *result)
{
	if (w == NULL)
		return;
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
	if (result != NULL)
		status_copy(result, &w->result);
	free(w);
}
