/*
 * fuzz_csi_handlers: gRPC request decoding and every CSI handler behind it —
 * what the server does with a request's bytes: protobuf_c_message_unpack
 * with the method's descriptor, the request rendered for the log (pbtext),
 * then the handler — the controller's on the in-memory cloud
 * (cloud/cloud_fake.h), the node's on the in-memory mounter (mounter_fake in
 * node/mounter.h). Nothing reaches AWS or the OS's mount table; the node
 * reads (never writes) a temporary by-id directory and /dev nodes.
 *
 * Input: byte 0 picks the RPC (19 handlers), byte 1 holds configuration
 * flags, the rest is the request on the wire.
 * World, fresh for every input (so a crash reproduces from its input alone):
 *   cloud: zones us-east-1a/b/c; nodes CT_NODE1/2 (1a), CT_NODE3 (1b);
 *          vol-00000000000000001 (10 GiB gp3, 1a), vol-00000000000000002
 *          (attached to CT_NODE1), snap-0123456789abcdef0 (of volume 1).
 *   node:  kubelet root /var/lib/kubelet (dirs stage, stage2, pods/p,
 *          pods/p/mount; file pods/p/block); NT_VOL1 vol-0123456789abcdef0
 *          → /dev/loop0 (blank) and NT_VOL2 vol-0fedcba9876543210 →
 *          /dev/loop1 (ext4) by by-id links when those nodes exist;
 *          /dev/loop1 already staged at /var/lib/kubelet/stage.
 * Oracles (the server's contract, controller.h / node.h): 0 with a response
 * of the method's type that protobuf_c_message_check accepts and that packs
 * and unpacks again; or -1 with a status code and *resp left NULL. The
 * response is freed with protobuf_c_message_free_unpacked after the request
 * was freed, so a response pointing into the request is a use-after-free.
 */
#include "tests/fuzz/fuzz_util.h"

#include "cloud/cloud.h"
#include "cloud/cloud_fake.h"
#include "common/buf.h"
#include "common/rpc.h"
#include "common/status.h"
#include "controller/controller.h"
#include "csi-proto/pbtext.h"
#include "node/devpath.h"
#include "node/mounter.h"
#include "node/node.h"

#include "csi.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CT_NODE1 "i-0123456789abcdef0"
#define CT_NODE2 "i-0fedcba9876543210"
#define CT_NODE3 "i-0aaaaaaaaaaaaaaa1"
#define NT_VOL1 "vol-0123456789abcdef0"
#define NT_VOL2 "vol-0fedcba9876543210"
#define KUBELET "/var/lib/kubelet"
#define GIB (UINT64_C(1) << 30)

typedef int (*handler_fn)(void *, const struct rpc_ctx *, const ProtobufCMessage *, ProtobufCMessage **,
			  struct status *);

struct rpc {
	const char *method;
	const ProtobufCMessageDescriptor *req, *resp;
	handler_fn fn;
	bool node;
};

#define C(m, r, fn) { "/csi.v1.Controller/" #m, &csi__v1__##r##_request__descriptor, \
		      &csi__v1__##r##_response__descriptor, fn, false }
#define N(m, r, fn) { "/csi.v1.Node/" #m, &csi__v1__##r##_request__descriptor, \
		      &csi__v1__##r##_response__descriptor, fn, true }

static const struct rpc rpcs[] = {
	C(CreateVolume, create_volume, controller_create_volume),
	C(DeleteVolume, delete_volume, controller_delete_volume),
	C(ControllerPublishVolume, controller_publish_volume, controller_publish_volume),
	C(ControllerUnpublishVolume, controller_unpublish_volume, controller_unpublish_volume),
	C(ValidateVolumeCapabilities, validate_volume_capabilities, controller_validate_volume_capabilities),
	C(ControllerGetCapabilities, controller_get_capabilities, controller_get_capabilities),
	C(CreateSnapshot, create_snapshot, controller_create_snapshot),
	C(DeleteSnapshot, delete_snapshot, controller_delete_snapshot),
	C(ListSnapshots, list_snapshots, controller_list_snapshots),
	C(ControllerExpandVolume, controller_expand_volume, controller_expand_volume),
	C(ControllerModifyVolume, controller_modify_volume, controller_modify_volume),
	N(NodeStageVolume, node_stage_volume, node_stage_volume),
	N(NodeUnstageVolume, node_unstage_volume, node_unstage_volume),
	N(NodePublishVolume, node_publish_volume, node_publish_volume),
	N(NodeUnpublishVolume, node_unpublish_volume, node_unpublish_volume),
	N(NodeExpandVolume, node_expand_volume, node_expand_volume),
	N(NodeGetVolumeStats, node_get_volume_stats, node_get_volume_stats),
	N(NodeGetCapabilities, node_get_capabilities, node_get_capabilities),
	N(NodeGetInfo, node_get_info, node_get_info),
};
#define NRPCS (sizeof rpcs / sizeof rpcs[0])

static char root[64], by_id[96], sysfs[96];

static void cleanup(void)
{
	char cmd[160];
	if (strncmp(root, "/tmp/ebs-fuzz-node.", 19) == 0) {
		snprintf(cmd, sizeof cmd, "rm -rf --one-file-system -- '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", root);
	}
}

static bool is_block(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISBLK(sb.st_mode);
}

static void link_volume(const char *volume_id, const char *device)
{
	char serial[32], path[256];
	if (!is_block(device) || devpath_serial_of_volume(volume_id, serial, sizeof serial, NULL) != 0)
		return;
	snprintf(path, sizeof path, "%s/%s%s", by_id, DEVPATH_BY_ID_PREFIX, serial);
	if (symlink(device, path) != 0)
		fprintf(stderr, "symlink %s: failed\n", path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	snprintf(root, sizeof root, "/tmp/ebs-fuzz-node.XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
	atexit(cleanup);
	snprintf(by_id, sizeof by_id, "%s/by-id", root);
	snprintf(sysfs, sizeof sysfs, "%s/sys", root);
	if (mkdir(by_id, 0755) != 0 || mkdir(sysfs, 0755) != 0)
		abort();
	link_volume(NT_VOL1, "/dev/loop0");
	link_volume(NT_VOL2, "/dev/loop1");
	return 0;
}

static struct cloud_fake *cloud_world(void)
{
	struct cloud_fake *f = cloud_fake_new();
	cloud_fake_add_instance(f, CT_NODE1, "us-east-1a", NULL);
	cloud_fake_add_instance(f, CT_NODE2, "us-east-1a", NULL);
	cloud_fake_add_instance(f, CT_NODE3, "us-east-1b", "m5.large");
	struct cloud *c = cloud_fake_cloud(f);
	struct status st = STATUS_INIT;
	for (int i = 0; i < 2; i++) {
		struct cloud_disk_options o = { .client_token = i ? "fuzz-seed-2" : "fuzz-seed-1", .size_gib = 10,
						.volume_type = "gp3", .zone = "us-east-1a" };
		struct cloud_disk d;
		if (cloud_create_disk(c, NULL, &o, &d, &st) != 0)
			abort();
		if (i == 1) {
			struct cloud_attachment a;
			bool already;
			if (cloud_attach_disk(c, NULL, d.volume_id, CT_NODE1, &a, &already, &st) != 0)
				abort();
			cloud_attachment_dispose(&a);
		}
		cloud_disk_dispose(&d);
	}
	cloud_fake_add_snapshot(f, "snap-0123456789abcdef0", "vol-00000000000000001", 10);
	return f;
}

static struct mounter *node_world(void)
{
	struct mounter *m = mounter_fake_new();
	mounter_fake_add_device(m, "/dev/loop0", 10 * GIB, MOUNTER_CONTENT_BLANK, NULL);
	mounter_fake_add_device(m, "/dev/loop1", 10 * GIB, MOUNTER_CONTENT_FILESYSTEM, "ext4");
	static const char *const dirs[] = { "/var", "/var/lib", KUBELET, KUBELET "/stage", KUBELET "/stage2",
					     KUBELET "/pods", KUBELET "/pods/p", KUBELET "/pods/p/mount" };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		mounter_fake_add_path(m, dirs[i], MOUNTER_PATH_DIR);
	mounter_fake_add_path(m, KUBELET "/pods/p/block", MOUNTER_PATH_FILE);
	struct mounter_format_opts fmt = { .fstype = "ext4" };
	struct status st = STATUS_INIT;
	if (mounter_format_and_mount(m, "/dev/loop1", KUBELET "/stage", &fmt, NULL, NULL, &st) != 0)
		abort();
	return m;
}

static void check_response(const struct rpc *r, ProtobufCMessage *resp)
{
	if (resp == NULL || resp->descriptor != r->resp)
		abort();
	if (!protobuf_c_message_check(resp)) {
		fprintf(stderr, "%s: response fails protobuf_c_message_check\n", r->method);
		abort();
	}
	size_t n = protobuf_c_message_get_packed_size(resp);
	uint8_t *wire = malloc(n ? n : 1);
	if (wire == NULL || protobuf_c_message_pack(resp, wire) != n)
		abort();
	ProtobufCMessage *again = protobuf_c_message_unpack(r->resp, NULL, n, wire);
	if (again == NULL)
		abort();
	protobuf_c_message_free_unpacked(again, NULL);
	free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	const struct rpc *r = &rpcs[fz_byte(&f) % NRPCS];
	uint8_t flags = fz_byte(&f);
	ProtobufCMessage *req = protobuf_c_message_unpack(r->req, NULL, f.n, f.p);
	if (req == NULL)
		return 0; /* the server answers INVALID_ARGUMENT without a handler */

	struct buf logline;
	buf_init(&logline);
	pbtext_format(req, &logline, 1024);
	buf_dispose(&logline);

	struct rpc_ctx rc = { .method = r->method, .deadline_ms = rpc_now_ms() + 1500, .cancelled = NULL };
	ProtobufCMessage *resp = NULL;
	struct status st = STATUS_INIT;
	int ret;
	if (!r->node) {
		struct cloud_fake *fake = cloud_world();
		struct cloud_tags extra;
		cloud_tags_init(&extra);
		struct controller_config cfg = { .extra_tags = &extra, .modify_window_ms = 1,
						 .warn_on_invalid_tag = flags & 1,
						 .k8s_tag_cluster_id = (flags & 2) ? "fuzz-cluster" : NULL,
						 .default_zone = (flags & 4) ? "us-east-1b" : NULL,
						 .default_fs_type = (flags & 8) ? "xfs" : NULL };
		struct controller_service *svc = controller_service_new(&cfg, cloud_fake_cloud(fake));
		ret = r->fn(svc, &rc, req, &resp, &st);
		protobuf_c_message_free_unpacked(req, NULL);
		controller_service_free(svc);
		cloud_fake_free(fake);
		cloud_tags_dispose(&extra);
	} else {
		struct mounter *m = node_world();
		struct node_config cfg;
		memset(&cfg, 0, sizeof cfg);
		struct instance_info *ii = &cfg.instance;
		snprintf(ii->instance_id, sizeof ii->instance_id, CT_NODE1);
		snprintf(ii->instance_type, sizeof ii->instance_type, (flags & 1) ? "t2.micro" : "m5.large");
		snprintf(ii->region, sizeof ii->region, "us-east-1");
		snprintf(ii->availability_zone, sizeof ii->availability_zone, "us-east-1a");
		snprintf(ii->availability_zone_id, sizeof ii->availability_zone_id, "use1-az1");
		ii->network_interfaces = 1 + (flags >> 4);
		ii->ebs_block_devices = 1;
		cfg.by_id_dir = by_id;
		cfg.sysfs_root = sysfs;
		cfg.kubelet_root = (flags & 2) ? NULL : KUBELET;
		cfg.volume_attach_limit = (flags & 4) ? 5 : -1;
		cfg.reserved_volume_attachments = -1;
		cfg.legacy_xfs = flags & 8;
		struct node_service *svc = node_service_new(&cfg, m);
		ret = r->fn(svc, &rc, req, &resp, &st);
		protobuf_c_message_free_unpacked(req, NULL);
		node_service_free(svc);
		mounter_free(m);
	}

	if (ret == 0) {
		if (st.code != STATUS_OK)
			abort();
		check_response(r, resp);
	} else if (ret != -1 || resp != NULL || st.code == STATUS_OK || st.msg[0] == '\0') {
		fprintf(stderr, "%s: ret %d, resp %p, code %d \"%s\"\n", r->method, ret, (void *)resp, st.code,
			st.msg);
		abort();
	}
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}
