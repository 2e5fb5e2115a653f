# cmd/: main programs. CMD_LIB_SRCS are testable pieces (tests/cmd/), linked into the programs.
CMD_LIB_SRCS += cmd/options.c cmd/node_wiring.c cmd/controller_wiring.c
CMD_DRIVER_SRCS += cmd/ebs-csi-driver.c
# /metrics and /healthz on --http-endpoint (libmicrohttpd, in PKGS_cmd).
CMD_LIB_SRCS += cmd/metrics_http.c
