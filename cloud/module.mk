# cloud/: everything AWS, nothing of CSI or gRPC.
CLOUD_SRCS += cloud/sigv4.c cloud/endpoint.c cloud/aws_error.c
# openssl: SigV4 (libcrypto). expat: error and response XML. jansson: JSON
# (the SigV4 JSON test-suite contexts now; credential documents later).
MODULE_PKGS_cloud := openssl expat jansson
