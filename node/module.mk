# node/: CSI node semantics on top of struct mounter (node/mounter.h).
# mounter, device discovery:
NODE_SRCS +=
# attach limits per instance type:
NODE_SRCS +=
MODULE_PKGS_node := blkid mount
