# common/: libc/POSIX-only helpers used by every other module.
COMMON_SRCS += common/status.c common/xalloc.c common/buf.c common/log.c common/strv.c common/inflight.c common/exec.c
