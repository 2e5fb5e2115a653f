# csi-proto/: the only module that includes gRPC headers.
CSIPROTO_SRCS +=
