/*
 * exec: posix_spawn + poll loop. See exec.h for the contract.
 *
 * Why posix_spawn: glibc implements it with clone(CLONE_VM|CLONE_VFORK) and
 * reports exec failures (ENOENT) synchronously, and nothing runs between fork
 * and exec that could take a lock another thread holds. Every descriptor made
 * here is O_CLOEXEC; the file actions dup2 the child's ends onto 0/1/2 (which
 * clears the flag on the copies only) and close everything from 3 up.
 *
 * stdin bytes go through a socketpair rather than a pipe so that send() with
 * MSG_NOSIGNAL can report a child that stopped reading as EPIPE instead of
 * raising SIGPIPE in whichever thread called us.
 *
 * The child's end is noticed through a pidfd when the kernel has them, so a
 * grandchild that keeps our pipes open cannot make us wait for it; without
 * pidfds we fall back to EOF on both pipes followed by a polled waitpid.
 */
#include "common/exec.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define EXEC_READ_CHUNK 16384

struct exec_stream {
	int fd;          /* parent's read end, -1 once closed */
	struct buf data;
	size_t cap;
	bool *truncated;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Reads what is available now; closes the stream at EOF or on error. */
static void stream_drain(struct exec_stream *s)
{
	char chunk[EXEC_READ_CHUNK];
	while (s->fd >= 0) {
		ssize_t n = read(s->fd, chunk, sizeof chunk);
		if (n > 0) {
			size_t keep = 0;
			if (s->data.len < s->cap)
				keep = s->cap - s->data.len < (size_t)n ? s->cap - s->data.len : (size_t)n;
			buf_append(&s->data, chunk, keep);
			if (keep < (size_t)n)
				*s->truncated = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		close_fd(&s->fd);
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The parent's environment with LC_ALL replaced by C. The array points into
 * environ's strings, which stay valid because nothing calls setenv once
 * threads run (the process-wide rule that makes getenv thread-safe at all). */
static char **child_environ(void)
{
	size_t n = 0;
	for (char **e = environ; e != NULL && *e != NULL; e++)
		n++;
	char **env = xcalloc(n + 2, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LC_ALL=", 7) != 0)
			env[k++] = environ[i];
	env[k++] = (char *)"LC_ALL=C";
	env[k] = NULL;
	return env;
}

static int wait_child(pid_t pid, int *wstatus)
{
	for (;;) {
		pid_t r = waitpid(pid, wstatus, 0);
		if (r == pid)
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

static void fill_status(struct exec_result *res, int ws)
{
	if (WIFEXITED(ws)) {
		res->exit_code = WEXITSTATUS(ws);
		res->term_signal = 0;
	} else if (WIFSIGNALED(ws)) {
		res->exit_code = -1;
		res->term_signal = WTERMSIG(ws);
	}
}

static int spawn_child(const char *const argv[], int in_fd, int out_fd, int err_fd, pid_t *pid,
		       struct status *st)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	/* Descriptors other libraries opened without O_CLOEXEC stay out of the tools. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	char **env = child_environ();
	int rc = posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)argv, env);
	free(env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc == 0)
		return 0;
	if (rc == ENOENT || rc == ENOTDIR)
		return status_set(st, STATUS_NOT_FOUND, "%s: program not found", argv[0]);
	if (rc == EACCES || rc == EPERM)
		return status_set(st, STATUS_PERMISSION_DENIED, "%s: not executable: %s", argv[0],
				  strerror(rc));
	return status_set(st, STATUS_INTERNAL, "%s: cannot start: %s", argv[0], strerror(rc));
}

int exec_run(const char *const argv[], const struct exec_opts *opts, struct exec_result *res,
	     struct status *st)
{
	static const struct exec_opts no_opts = { 0, NULL, 0, 0 };
	if (opts == NULL)
		opts = &no_opts;
	memset(res, 0, sizeof *res);
	res->exit_code = -1;

	struct exec_stream out = { -1, { 0 }, 0, &res->truncated };
	struct exec_stream err = { -1, { 0 }, 0, &res->truncated };
	buf_init(&out.data);
	buf_init(&err.data);
	out.cap = err.cap = opts->max_output ? opts->max_output : EXEC_DEFAULT_MAX_OUTPUT;
	int out_child = -1, err_child = -1, in_child = -1, in_fd = -1, pidfd = -1;
	pid_t pid = -1;
	int rc = -1;

	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
		status_set(st, STATUS_INVALID_ARGUMENT, "exec: empty argv");
		goto done;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		status_set(st, STATUS_INTERNAL, "exec %s: pipe: %s", argv[0], strerror(errno));
		goto done;
	}
	out.fd = p[0];
	out_child = p[1];
	if (pipe2(p, O_CLOEXEC) < 0) {
		status_set(st, STATUS_INTERNAL, "exec %s: pipe: %s", argv[0], strerror(errno));
		goto done;
	}
	err.fd = p[0];
	err_child = p[1];
	if (opts->stdin_data != NULL) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) {
			status_set(st, STATUS_INTERNAL, "exec %s: socketpair: %s", argv[0], strerror(errno));
			goto done;
		}
		in_child = p[0];
		in_fd = p[1];
		shutdown(in_child, SHUT_WR);
	} else {
		in_child = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in_child < 0) {
			status_set(st, STATUS_INTERNAL, "exec %s: /dev/null: %s", argv[0], strerror(errno));
			goto done;
		}
	}
	if (set_nonblock(out.fd) < 0 || set_nonblock(err.fd) < 0 || (in_fd >= 0 && set_nonblock(in_fd) < 0)) {
		status_set(st, STATUS_INTERNAL, "exec %s: fcntl: %s", argv[0], strerror(errno));
		goto done;
	}

	int64_t start = now_ms();
	if (spawn_child(argv, in_child, out_child, err_child, &pid, st) < 0) {
		pid = -1;
		goto done;
	}
	log_v(6, "exec: started %s (pid %d)", argv[0], (int)pid);
	/* Our copies of the child's ends must go, or EOF never arrives. */
	close_fd(&out_child);
	close_fd(&err_child);
	close_fd(&in_child);
#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif

	const char *in_pos = opts->stdin_data;
	size_t in_left = opts->stdin_len;
	if (in_fd >= 0 && in_left == 0)
		close_fd(&in_fd);
	bool exited = false, timed_out = false;
	int ws = 0;
	int64_t deadline = opts->timeout_ms > 0 ? start + opts->timeout_ms : 0;

	while (!exited) {
		struct pollfd pfd[4];
		int n = 0, i_out = -1, i_err = -1, i_in = -1, i_pid = -1;
		if (out.fd >= 0) {
			i_out = n;
			pfd[n++] = (struct pollfd){ .fd = out.fd, .events = POLLIN };
		}
		if (err.fd >= 0) {
			i_err = n;
			pfd[n++] = (struct pollfd){ .fd = err.fd, .events = POLLIN };
		}
		if (in_fd >= 0) {
			i_in = n;
			pfd[n++] = (struct pollfd){ .fd = in_fd, .events = POLLOUT };
		}
		if (pidfd >= 0) {
			i_pid = n;
			pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		}
		int wait = -1;
		if (deadline) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				timed_out = true;
				break;
			}
			wait = left > 1000000 ? 1000000 : (int)left;
		}
		if (n == 0) {
			/* No pidfd and both pipes at EOF: the child is about to exit
			 * or has closed its output; poll for its end in small steps
			 * so the deadline still holds. */
			pid_t r = waitpid(pid, &ws, WNOHANG);
			if (r == pid) {
				exited = true;
				break;
			}
			if (r < 0 && errno != EINTR) {
				status_set(st, STATUS_INTERNAL, "exec %s: waitpid: %s", argv[0], strerror(errno));
				goto done;
			}
			if (!deadline) {
				if (wait_child(pid, &ws) < 0) {
					status_set(st, STATUS_INTERNAL, "exec %s: waitpid: %s", argv[0],
						   strerror(errno));
					goto done;
				}
				exited = true;
				break;
			}
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
			continue;
		}
		int pr = poll(pfd, (nfds_t)n, wait);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			status_set(st, STATUS_INTERNAL, "exec %s: poll: %s", argv[0], strerror(errno));
			goto kill_and_done;
		}
		if (pr == 0)
			continue;
		if (i_out >= 0 && pfd[i_out].revents)
			stream_drain(&out);
		if (i_err >= 0 && pfd[i_err].revents)
			stream_drain(&err);
		if (i_in >= 0 && pfd[i_in].revents) {
			ssize_t w = send(in_fd, in_pos, in_left, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0) {
				in_pos += w;
				in_left -= (size_t)w;
			}
			if ((w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) || in_left == 0) {
				/* Done, or the child stopped reading: either way it sees EOF. */
				shutdown(in_fd, SHUT_WR);
				close_fd(&in_fd);
			}
		}
		if (i_pid >= 0 && pfd[i_pid].revents) {
			/* Everything the child wrote is in the pipes by now; take it
			 * and stop, even if a grandchild still holds the write ends. */
			if (wait_child(pid, &ws) < 0) {
				status_set(st, STATUS_INTERNAL, "exec %s: waitpid: %s", argv[0], strerror(errno));
				goto done;
			}
			exited = true;
			stream_drain(&out);
			stream_drain(&err);
		}
	}

	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		if (wait_child(pid, &ws) == 0)
			fill_status(res, ws);
		pid = -1;
		stream_drain(&out);
		stream_drain(&err);
		status_set(st, STATUS_DEADLINE_EXCEEDED, "%s: killed after %d ms timeout", argv[0],
			   opts->timeout_ms);
		goto done;
	}
	fill_status(res, ws);
	pid = -1;
	rc = 0;
	goto done;

kill_and_done:
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	wait_child(pid, &ws);
	pid = -1;
done:
	close_fd(&out.fd);
	close_fd(&err.fd);
	close_fd(&out_child);
	close_fd(&err_child);
	close_fd(&in_child);
	close_fd(&in_fd);
	close_fd(&pidfd);
	res->out_len = out.data.len;
	res->out = buf_take(&out.data);
	res->err_len = err.data.len;
	res->err = buf_take(&err.data);
	buf_dispose(&out.data);
	buf_dispose(&err.data);
	return rc;
}

void exec_result_dispose(struct exec_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof *res);
}

/* Copies the last non-empty line of s[0..len) into dst; returns false if none. */
static bool last_line(const char *s, size_t len, char *dst, size_t n)
{
	if (s == NULL)
		return false;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0)
		return false;
	size_t begin = len;
	while (begin > 0 && s[begin - 1] != '\n')
		begin--;
	snprintf(dst, n, "%.*s", (int)(len - begin), s + begin);
	return true;
}

const char *exec_result_describe(const struct exec_result *res, char *dst, size_t n)
{
	if (n == 0)
		return dst;
	char line[STATUS_MSG_MAX];
	bool have = last_line(res->err, res->err_len, line, sizeof line) ||
		    last_line(res->out, res->out_len, line, sizeof line);
	if (res->term_signal != 0)
		snprintf(dst, n, "killed by signal %d%s%s", res->term_signal, have ? ": " : "", have ? line : "");
	else
		snprintf(dst, n, "exit status %d%s%s", res->exit_code, have ? ": " : "", have ? line : "");
	return dst;
}
