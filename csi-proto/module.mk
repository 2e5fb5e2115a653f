# csi-proto/: the only module that includes gRPC headers.
CSIPROTO_SRCS += csi-proto/server.c csi-proto/pbtext.c csi-proto/identity.c csi-proto/services.c
# The CSI call observer: csi_plugin_operations_* per method and gRPC code.
CSIPROTO_SRCS += csi-proto/metrics_csi.c
