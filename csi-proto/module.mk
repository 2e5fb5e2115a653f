# csi-proto/: the only module that includes gRPC headers.
CSIPROTO_SRCS += csi-proto/server.c csi-proto/pbtext.c csi-proto/identity.c csi-proto/services.c
