# cmd/: main programs. CMD_LIB_SRCS are testable pieces (tests/cmd/), linked into the programs.
CMD_LIB_SRCS += cmd/options.c cmd/node_wiring.c
CMD_DRIVER_SRCS += cmd/ebs-csi-driver.c
# /metrics and /healthz on --http-endpoint (libmicrohttpd). Its test links the
# library through TEST_PKGS_cmd until the driver's own packages include it.
CMD_LIB_SRCS += cmd/metrics_http.c
TEST_PKGS_cmd := libmicrohttpd
