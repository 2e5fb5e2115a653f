# controller/: CSI controller semantics on top of struct cloud (cloud/cloud.h).
# The service, request validation, pure parameter/tag parsing, and the handlers
# split by concern (volumes, publish, snapshots, expand+modify, capabilities):
CONTROLLER_SRCS += controller/controller_service.c controller/controller_validate.c controller/controller_params.c \
	controller/controller_tags.c controller/controller_volumes.c controller/controller_publish.c \
	controller/controller_snapshots.c controller/controller_modify.c controller/controller_caps.c
# The handlers take and build the generated CSI messages: controller's tests
# link the generated code through libcontroller (the same objects as
# libcsi-proto's, as node/ does).
CONTROLLER_SRCS += $(GEN)/csi.pb-c.c $(GEN)/google/protobuf/wrappers.pb-c.c $(GEN)/google/protobuf/timestamp.pb-c.c
# The Makefile's PKGS_controller adds libprotobuf-c (generated code) to the cloud
# packages (openssl gives the ClientToken's SHA-256).
