/*
 * exec: run an external program by argv (never through a shell) and collect
 * what it printed, with a deadline.
 *
 * The child gets stdin from /dev/null or from bytes the caller gives, the
 * parent's environment plus LC_ALL=C (so tool messages are stable enough to
 * match), its own process group (so a timeout kills helpers it spawned too),
 * default signal dispositions and an empty signal mask. stdout and stderr are
 * captured separately into heap buffers capped per stream; the excess is read
 * and dropped so the child never blocks on a full pipe.
 *
 * Safe to call from many threads at once: the child is started with
 * posix_spawn and every descriptor exec creates is close-on-exec, so a
 * concurrent spawn in another thread cannot inherit our pipes (which would
 * otherwise hold them open and hang the reader). Invariant the process must
 * keep: nobody reaps arbitrary children (waitpid(-1)) and SIGCHLD is not
 * SIG_IGN, or exec loses its child's exit status.
 */
#ifndef EBS_COMMON_EXEC_H
#define EBS_COMMON_EXEC_H

#include "common/status.h"

#include <stdbool.h>
#include <stddef.h>

/* Default per-stream capture cap, used when exec_opts.max_output is 0. */
#define EXEC_DEFAULT_MAX_OUTPUT (1024 * 1024)

struct exec_opts {
	int timeout_ms;          /* > 0: kill the process group after this long; 0: wait forever */
	const char *stdin_data;  /* NULL: stdin is /dev/null */
	size_t stdin_len;
	size_t max_output;       /* bytes kept per stream; 0: EXEC_DEFAULT_MAX_OUTPUT */
};

struct exec_result {
	int exit_code;    /* 0..255 when the program exited, -1 when a signal ended it */
	int term_signal;  /* the signal that ended it, 0 when it exited */
	char *out;        /* captured stdout, NUL-terminated, never NULL after exec_run */
	size_t out_len;
	char *err;        /* captured stderr, NUL-terminated, never NULL after exec_run */
	size_t err_len;
	bool truncated;   /* some output was dropped because of max_output */
};

/*
 * Runs argv[0] (looked up in PATH when it has no '/') with arguments argv.
 * opts may be NULL (no timeout, /dev/null stdin, default cap).
 *
 * Returns 0 when the program ran to its end, whatever its exit code or signal
 * (inspect res). Returns -1 with:
 *   STATUS_NOT_FOUND          the program does not exist (or is not executable: PERMISSION_DENIED)
 *   STATUS_DEADLINE_EXCEEDED  the timeout passed; the whole process group was SIGKILLed and reaped
 *   STATUS_INVALID_ARGUMENT   argv is NULL or empty
 *   STATUS_INTERNAL           pipes, spawn or wait failed
 * res is always initialised (also on failure, holding whatever output arrived
 * before a timeout) and must be released with exec_result_dispose().
 */
int exec_run(const char *const argv[], const struct exec_opts *opts, struct exec_result *res,
	     struct status *st);

/* Frees the buffers of res and resets it. Safe on a zeroed or disposed result. */
void exec_result_dispose(struct exec_result *res);

/*
 * Writes a one-line summary of a finished run into dst (size n, always
 * NUL-terminated): "exit status 1: <last non-empty line of stderr, else of
 * stdout>" or "killed by signal 9". Meant for status messages. Returns dst.
 */
const char *exec_result_describe(const struct exec_result *res, char *dst, size_t n);

#endif
