# node/: CSI node semantics on top of struct mounter (node/mounter.h).
# mounter, device discovery, the node service (handlers):
NODE_SRCS += node/mounter_linux.c node/format_claim.c node/mounter_fake.c node/devpath.c node/node_service.c node/node_validate.c node/node_stage.c node/node_publish.c node/node_expand_stats.c node/node_info.c
# attach limits per instance type:
NODE_SRCS += node/limits.c node/limits_table.c
# The handlers take and build the generated CSI messages: node's tests link the
# generated code through libnode (the same objects as libcsi-proto's).
NODE_SRCS += $(GEN)/csi.pb-c.c $(GEN)/google/protobuf/wrappers.pb-c.c $(GEN)/google/protobuf/timestamp.pb-c.c
MODULE_PKGS_node := blkid mount libprotobuf-c
# EBS NVMe performance statistics (log page 0xD0) of the CSI volumes mounted here.
NODE_SRCS += node/nvme_metrics.c
