# cmd/: main programs.
CMD_DRIVER_SRCS += cmd/ebs-csi-driver.c
