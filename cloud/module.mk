# cloud/: everything AWS, nothing of CSI or gRPC.
CLOUD_SRCS +=
MODULE_PKGS_cloud := openssl
