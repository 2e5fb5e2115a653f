# common/: libc/POSIX-only helpers used by every other module.
COMMON_SRCS += common/status.c common/xalloc.c common/buf.c common/log.c common/strv.c common/inflight.c common/exec.c
COMMON_SRCS += common/kvmap.c
# Prometheus registry and text exposition, EC2 request metrics, process_* from /proc.
COMMON_SRCS += common/metrics.c common/metrics_ec2.c common/procstat.c
