/*
 * helper_node: node service fixtures and CSI request builders. See
 * helper_node.h. Every builder allocates with malloc so a request can be
 * freed with protobuf_c_message_free_unpacked like an unpacked one.
 */
#include "tests/node/helper_node.h"

#include "common/xalloc.h"
#include "node/devpath.h"

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

static void default_cfg(struct node_fx *fx)
{
	memset(&fx->cfg, 0, sizeof fx->cfg);
	struct instance_info *ii = &fx->cfg.instance;
	snprintf(ii->instance_id, sizeof ii->instance_id, "i-0123456789abcdef0");
	snprintf(ii->instance_type, sizeof ii->instance_type, "m5.large");
	snprintf(ii->region, sizeof ii->region, "us-east-1");
	snprintf(ii->availability_zone, sizeof ii->availability_zone, "us-east-1a");
	snprintf(ii->availability_zone_id, sizeof ii->availability_zone_id, "use1-az1");
	ii->network_interfaces = 1;
	ii->ebs_block_devices = 1;
	fx->cfg.by_id_dir = fx->by_id;
	fx->cfg.sysfs_root = fx->sys;
	fx->cfg.kubelet_root = fx->kubelet;
	fx->cfg.volume_attach_limit = -1;
	fx->cfg.reserved_volume_attachments = -1;
}

struct node_fx *node_fx_new(void)
{
	struct node_fx *fx = xcalloc(1, sizeof *fx);
	snprintf(fx->root, sizeof fx->root, "/tmp/ebs-node-test.XXXXXX");
	if (mkdtemp(fx->root) == NULL) {
		free(fx);
		return NULL;
	}
	snprintf(fx->by_id, sizeof fx->by_id, "%s/by-id", fx->root);
	snprintf(fx->sys, sizeof fx->sys, "%s/sys", fx->root);
	snprintf(fx->kubelet, sizeof fx->kubelet, "%s/kubelet", fx->root);
	mkdir(fx->by_id, 0755);
	mkdir(fx->sys, 0755);
	mkdir(fx->kubelet, 0755);
	fx->m = mounter_fake_new();
	default_cfg(fx);
	fx->svc = node_service_new(&fx->cfg, fx->m);
	return fx;
}

void node_fx_restart(struct node_fx *fx)
{
	node_service_free(fx->svc);
	fx->svc = node_service_new(&fx->cfg, fx->m);
}

void node_fx_free(struct node_fx *fx)
{
	if (fx == NULL)
		return;
	node_service_free(fx->svc);
	mounter_free(fx->m);
	if (strncmp(fx->root, "/tmp/ebs-node-test.", 19) == 0) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf --one-file-system -- '%s'", fx->root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", fx->root);
	}
	free(fx);
}

const char *node_fx_path(const struct node_fx *fx, const char *rel)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", fx->kubelet, rel);
	return b;
}

int node_fx_link(const struct node_fx *fx, const char *volume_id, const char *device)
{
	char serial[32];
	if (devpath_serial_of_volume(volume_id, serial, sizeof serial, NULL) < 0)
		return -1;
	char path[512];
	snprintf(path, sizeof path, "%s/%s%s", fx->by_id, DEVPATH_BY_ID_PREFIX, serial);
	unlink(path);
	return symlink(device, path);
}

bool node_fx_have_block_nodes(void)
{
	static const char *const nodes[] = { "/dev/loop0", "/dev/loop1", "/dev/loop2", "/dev/loop3" };
	for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
		struct stat sb;
		if (stat(nodes[i], &sb) != 0 || !S_ISBLK(sb.st_mode)) {
			fprintf(stderr, "SKIP: %s is needed as a block node for by-id links\n", nodes[i]);
			return false;
		}
	}
	return true;
}

/* ---- builders -------------------------------------------------------------------- */

Csi__V1__VolumeCapability *nt_cap_mount(const char *fstype, int mode, const char *const *flags)
{
	Csi__V1__VolumeCapability *c = xmalloc(sizeof *c);
	csi__v1__volume_capability__init(c);
	c->access_mode = xmalloc(sizeof *c->access_mode);
	csi__v1__volume_capability__access_mode__init(c->access_mode);
	c->access_mode->mode = (Csi__V1__VolumeCapability__AccessMode__Mode)mode;
	c->access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT;
	c->mount = xmalloc(sizeof *c->mount);
	csi__v1__volume_capability__mount_volume__init(c->mount);
	if (fstype != NULL)
		c->mount->fs_type = xstrdup(fstype);
	size_t n = 0;
	while (flags != NULL && flags[n] != NULL)
		n++;
	if (n > 0) {
		c->mount->mount_flags = xcalloc(n, sizeof *c->mount->mount_flags);
		for (size_t i = 0; i < n; i++)
			c->mount->mount_flags[i] = xstrdup(flags[i]);
		c->mount->n_mount_flags = n;
	}
	return c;
}

Csi__V1__VolumeCapability *nt_cap_block(int mode)
{
	Csi__V1__VolumeCapability *c = xmalloc(sizeof *c);
	csi__v1__volume_capability__init(c);
	c->access_mode = xmalloc(sizeof *c->access_mode);
	csi__v1__volume_capability__access_mode__init(c->access_mode);
	c->access_mode->mode = (Csi__V1__VolumeCapability__AccessMode__Mode)mode;
	c->access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
	c->block = xmalloc(sizeof *c->block);
	csi__v1__volume_capability__block_volume__init(c->block);
	return c;
}

/* Appends an entry to a map field; entry_init initialises the entry type. */
#define ADD_ENTRY(n, arr, type, init, k, v)                                   \
	do {                                                                  \
		type *e_ = xmalloc(sizeof *e_);                               \
		init(e_);                                                     \
		e_->key = xstrdup(k);                                         \
		e_->value = xstrdup(v);                                       \
		(arr) = xrealloc((arr), ((n) + 1) * sizeof *(arr));           \
		(arr)[(n)++] = e_;                                            \
	} while (0)

Csi__V1__NodeStageVolumeRequest *nt_stage_req(const char *volume_id, const char *staging,
					      Csi__V1__VolumeCapability *cap)
{
	Csi__V1__NodeStageVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__node_stage_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	if (staging)
		r->staging_target_path = xstrdup(staging);
	r->volume_capability = cap;
	return r;
}

void nt_stage_ctx(Csi__V1__NodeStageVolumeRequest *r, const char *key, const char *value)
{
	ADD_ENTRY(r->n_volume_context, r->volume_context, Csi__V1__NodeStageVolumeRequest__VolumeContextEntry,
		  csi__v1__node_stage_volume_request__volume_context_entry__init, key, value);
}

void nt_stage_pctx(Csi__V1__NodeStageVolumeRequest *r, const char *key, const char *value)
{
	ADD_ENTRY(r->n_publish_context, r->publish_context, Csi__V1__NodeStageVolumeRequest__PublishContextEntry,
		  csi__v1__node_stage_volume_request__publish_context_entry__init, key, value);
}

Csi__V1__NodeUnstageVolumeRequest *nt_unstage_req(const char *volume_id, const char *staging)
{
	Csi__V1__NodeUnstageVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__node_unstage_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	if (staging)
		r->staging_target_path = xstrdup(staging);
	return r;
}

Csi__V1__NodePublishVolumeRequest *nt_publish_req(const char *volume_id, const char *staging, const char *target,
						  Csi__V1__VolumeCapability *cap, bool readonly)
{
	Csi__V1__NodePublishVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__node_publish_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	if (staging)
		r->staging_target_path = xstrdup(staging);
	if (target)
		r->target_path = xstrdup(target);
	r->volume_capability = cap;
	r->readonly = readonly;
	return r;
}

void nt_publish_ctx(Csi__V1__NodePublishVolumeRequest *r, const char *key, const char *value)
{
	ADD_ENTRY(r->n_volume_context, r->volume_context, Csi__V1__NodePublishVolumeRequest__VolumeContextEntry,
		  csi__v1__node_publish_volume_request__volume_context_entry__init, key, value);
}

void nt_publish_pctx(Csi__V1__NodePublishVolumeRequest *r, const char *key, const char *value)
{
	ADD_ENTRY(r->n_publish_context, r->publish_context, Csi__V1__NodePublishVolumeRequest__PublishContextEntry,
		  csi__v1__node_publish_volume_request__publish_context_entry__init, key, value);
}

Csi__V1__NodeUnpublishVolumeRequest *nt_unpublish_req(const char *volume_id, const char *target)
{
	Csi__V1__NodeUnpublishVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__node_unpublish_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	if (target)
		r->target_path = xstrdup(target);
	return r;
}

Csi__V1__NodeExpandVolumeRequest *nt_expand_req(const char *volume_id, const char *path, const char *staging,
						Csi__V1__VolumeCapability *cap, long long required)
{
	Csi__V1__NodeExpandVolumeRequest *r = xmalloc(sizeof *r);
	csi__v1__node_expand_volume_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	if (path)
		r->volume_path = xstrdup(path);
	if (staging)
		r->staging_target_path = xstrdup(staging);
	r->volume_capability = cap;
	if (required != 0) {
		r->capacity_range = xmalloc(sizeof *r->capacity_range);
		csi__v1__capacity_range__init(r->capacity_range);
		r->capacity_range->required_bytes = required;
	}
	return r;
}

Csi__V1__NodeGetVolumeStatsRequest *nt_stats_req(const char *volume_id, const char *path)
{
	Csi__V1__NodeGetVolumeStatsRequest *r = xmalloc(sizeof *r);
	csi__v1__node_get_volume_stats_request__init(r);
	if (volume_id)
		r->volume_id = xstrdup(volume_id);
	if (path)
		r->volume_path = xstrdup(path);
	return r;
}

/* ---- calls ----------------------------------------------------------------------- */

static ProtobufCMessage *roundtrip(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = xmalloc(len ? len : 1);
	assert_int_equal(protobuf_c_message_pack(msg, buf), len);
	ProtobufCMessage *copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
	free(buf);
	assert_non_null(copy);
	return copy;
}

ProtobufCMessage *node_call(int (*handler)(void *, const struct rpc_ctx *, const ProtobufCMessage *,
					   ProtobufCMessage **, struct status *),
			    void *svc, ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
			    struct status *st)
{
	ProtobufCMessage *wire_req = roundtrip(req);
	protobuf_c_message_free_unpacked(req, NULL);
	struct rpc_ctx rc = { .method = "test", .deadline_ms = RPC_NO_DEADLINE, .cancelled = NULL };
	ProtobufCMessage *resp = NULL;
	status_clear(st);
	int r = handler(svc, &rc, wire_req, &resp, st);
	/* Freed before the response is read: a response pointing into the
	 * request is a use-after-free ASan reports. */
	protobuf_c_message_free_unpacked(wire_req, NULL);
	if (r != 0) {
		assert_int_equal(r, -1);
		assert_null(resp);
		assert_int_not_equal(st->code, STATUS_OK);
		assert_true(st->msg[0] != '\0');
		return NULL;
	}
	assert_int_equal(st->code, STATUS_OK);
	assert_non_null(resp);
	assert_ptr_equal(resp->descriptor, resp_desc);
	assert_true(protobuf_c_message_check(resp));
	ProtobufCMessage *copy = roundtrip(resp);
	protobuf_c_message_free_unpacked(resp, NULL);
	return copy;
}

int node_call_code(int (*handler)(void *, const struct rpc_ctx *, const ProtobufCMessage *, ProtobufCMessage **,
				  struct status *),
		   void *svc, ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc, struct status *st)
{
	ProtobufCMessage *resp = node_call(handler, svc, req, resp_desc, st);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	return st->code;
}
