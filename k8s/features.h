/*
 * features: what the driver does with the Kubernetes API (upstream §6.8,
 * §6.10, §6.21), each as a function cmd/ calls, with its pure decisions
 * (providerID parsing, label mapping, taint patch, readiness, drain
 * detection) exposed for unit tests.
 *
 *  (a) instance metadata from the Node object when IMDS is unreachable;
 *  (b) removal of the start-up taint once kubelet has registered the driver in
 *      CSINode, in a background thread bounded to 10 minutes;
 *  (c) the pre-stop hook: on a draining node, wait until no VolumeAttachment
 *      of the node remains, bounded by the caller's deadline.
 * Not here: choosing whether to run them (CSI_NODE_NAME, DISABLE_TAINT_WATCHER,
 * --metadata-sources are cmd/'s), informers (LIST + WATCH instead).
 */
#ifndef EBS_K8S_FEATURES_H
#define EBS_K8S_FEATURES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/instance_info.h"
#include "common/rpc.h"
#include "common/status.h"
#include "k8s/k8s.h"

#define K8S_DRIVER_NAME "ebs.csi.aws.com"
#define K8S_AGENT_NOT_READY_TAINT "ebs.csi.aws.com/agent-not-ready"
#define K8S_TAINT_WATCH_MS (10 * 60 * 1000)
#define K8S_LABEL_INSTANCE_TYPE "node.kubernetes.io/instance-type"
#define K8S_LABEL_REGION "topology.kubernetes.io/region"
#define K8S_LABEL_ZONE "topology.kubernetes.io/zone"
#define K8S_LABEL_ZONE_ID "topology.k8s.aws/zone-id"
#define K8S_LABEL_SAGEMAKER_ENIS "sagemaker.amazonaws.com/num-eni-attachments"

/* CSI_NODE_NAME from the environment (borrowed), or NULL with
 * FAILED_PRECONDITION when unset/empty, INVALID_ARGUMENT when it is not a
 * valid node name. */
const char *k8s_node_name_env(struct status *st);

/* ---- (a) metadata from the Node ---- */

/* Writes into out the instance id upstream's regex
 * `s\.i-[a-z0-9]+|(hyperpod-[a-z0-9]+-)?i-[a-z0-9]+$` finds in a providerID
 * ("aws:///us-west-2a/i-0abc" -> "i-0abc"; Snow "s.i-…"; HyperPod
 * "hyperpod-<cluster>-i-…"). Returns 0, or -1 when there is none or it does
 * not fit in cap bytes. */
int k8s_instance_id_from_provider_id(const char *provider_id, char *out, size_t cap);

/* Fills out from a Node object: instance id from spec.providerID, type (a
 * leading "ml." removed), region and zone from the well-known labels (all
 * required), zone id from topology.k8s.aws/zone-id when present; one network
 * interface (or the SageMaker label's count), block devices unknown (-1), no
 * Outpost. Returns 0, or -1 with FAILED_PRECONDITION naming the missing field
 * or label. */
int k8s_instance_info_from_node(const json_t *node, struct instance_info *out, struct status *st);

/* GETs the Node node_name and maps it as above. Returns 0, or -1 with the
 * request codes of k8s.h (NOT_FOUND when the Node does not exist) or the
 * mapping's, the message prefixed "instance metadata from node <name>: ". */
int k8s_get_instance_info(struct k8s_client *c, const char *node_name, const struct rpc_ctx *rc,
			  struct instance_info *out, struct status *st);

/* ---- (b) the start-up taint ---- */

/* True when node's spec.taints has a taint with this key (any effect). */
bool k8s_node_has_taint(const json_t *node, const char *key);

/* True when the CSINode lists driver with allocatable.count set: kubelet has
 * called NodeGetInfo and registered our attach limit. */
bool k8s_csinode_driver_ready(const json_t *csinode, const char *driver);

/* Builds the JSON patch that removes every taint with this key:
 * [{"op":"test","path":"/spec/taints","value":<taints as read>},
 *  {"op":"replace","path":"/spec/taints","value":<the others>}] — the test op
 * makes a concurrent change of the taints fail (422) instead of being lost.
 * Returns 1 with *patch a new reference, 0 when no such taint (nothing to do). */
int k8s_taint_removal_patch(const json_t *node, const char *key, json_t **patch);

/* Synchronously: until the taint is gone, waits (LIST + WATCH on the node's
 * CSINode) for the driver to be registered, then PATCHes the Node; a conflict
 * (409/422/404) re-reads the Node and tries again (5 times, then with
 * backoff); other failures (5xx, network, a Node not yet registered) retry
 * with backoff until rc ends. Returns 0 when removed or absent; -1 with
 * UNAUTHENTICATED/PERMISSION_DENIED (RBAC opt-out: give up), DEADLINE_EXCEEDED
 * or CANCELLED from rc, FAILED_PRECONDITION (TLS, token file) or
 * INVALID_ARGUMENT (a bad name, a 400) — none of which waiting would fix. */
int k8s_remove_not_ready_taint(struct k8s_client *c, const char *node_name, const struct rpc_ctx *rc,
			       struct status *st);

struct k8s_taint_watcher;

/* Starts a thread running k8s_remove_not_ready_taint for at most timeout_ms
 * (0 -> K8S_TAINT_WATCH_MS), logging the outcome once. c is borrowed and must
 * outlive the watcher; node_name is copied. Returns NULL with INVALID_ARGUMENT
 * for a bad node name, INTERNAL when no thread can be created. */
struct k8s_taint_watcher *k8s_taint_watcher_start(struct k8s_client *c, const char *node_name, int64_t timeout_ms,
						  struct status *st);

/* True once the thread has finished (removed, absent, or given up). */
bool k8s_taint_watcher_done(struct k8s_taint_watcher *w);

/* Cancels the thread if still running (it notices within about a second),
 * joins it and frees w. When result is not NULL it receives the outcome (OK
 * when the taint was removed or absent; CANCELLED when stopped first). NULL w
 * is a no-op. */
void k8s_taint_watcher_stop(struct k8s_taint_watcher *w, struct status *result);

/* ---- (c) the pre-stop hook ---- */

/* True when the Node is being drained: spec.unschedulable, or a taint
 * node.kubernetes.io/unschedulable, ToBeDeletedByClusterAutoscaler,
 * karpenter.sh/disrupted or karpenter.sh/disruption. */
bool k8s_node_is_draining(const json_t *node);

/* True when the VolumeAttachment's spec.nodeName is node_name. */
bool k8s_volume_attachment_on_node(const json_t *va, const char *node_name);

/* The pre-stop hook. Returns 0 at once when the Node exists and is not
 * draining; otherwise (draining, or the Node is gone) waits until no
 * VolumeAttachment with spec.nodeName == node_name remains — LIST, then WATCH
 * from the list's resourceVersion, re-listing when the watch ends, breaks or
 * answers 410 — and returns 0. -1 with DEADLINE_EXCEEDED (naming how many
 * remain) or CANCELLED from rc, or the request codes of k8s.h (401/403 are
 * not retried). */
int k8s_prestop_wait(struct k8s_client *c, const char *node_name, const struct rpc_ctx *rc, struct status *st);

#endif
