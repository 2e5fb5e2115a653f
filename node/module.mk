# node/: CSI node semantics on top of struct mounter (node/mounter.h).
# mounter, device discovery:
NODE_SRCS += node/mounter_linux.c node/mounter_fake.c node/devpath.c
# attach limits per instance type:
NODE_SRCS += node/limits.c node/limits_table.c
MODULE_PKGS_node := blkid mount
