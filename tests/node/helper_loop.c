/*
 * helper_loop: loop devices and mount cleanup for node tests. See helper_loop.h.
 *
 * The registry is a fixed array of static storage so the signal-path cleanup
 * needs no allocation and no locks; tests are single-threaded where they
 * register.
 */
#include "tests/node/helper_loop.h"

#include "common/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MOUNTS 64
#define MAX_LOOPS 16

static char g_mounts[MAX_MOUNTS][512];
static volatile sig_atomic_t g_nmounts;
static volatile int g_loop_fds[MAX_LOOPS] = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 };
/* Backing files, unlinked by the cleanup so an interrupted run leaves no
 * big sparse files behind (only empty directories). */
static char g_backing[MAX_LOOPS][4096];

int loop_fixture_begin(const char **why, char *dir, size_t n)
{
	if (!loop_supported(why))
		return 0;
	loop_install_cleanup();
	return loop_tmpdir(dir, n) == 0 ? 1 : -1;
}

bool loop_find_tool(const char *name, const char *path_list, char *out, size_t n)
{
	const char *env = path_list ? path_list : getenv("PATH");
	char *copy = strdup(env && *env ? env : "/usr/sbin:/usr/bin:/sbin:/bin");
	bool found = false;
	for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char p[1024];
		snprintf(p, sizeof p, "%s/%s", d, name);
		if (access(p, X_OK) == 0) {
			found = true;
			if (out != NULL)
				snprintf(out, n, "%s", p);
		}
	}
	free(copy);
	return found;
}

bool loop_supported(const char **why)
{
	if (geteuid() != 0) {
		*why = "needs root (loop devices and mount)";
		return false;
	}
	int fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*why = "no /dev/loop-control (loop module not available)";
		return false;
	}
	close(fd);
	return true;
}

static void track_fd(int fd, const char *backing)
{
	for (int i = 0; i < MAX_LOOPS; i++)
		if (g_loop_fds[i] < 0) {
			snprintf(g_backing[i], sizeof g_backing[i], "%s", backing);
			g_loop_fds[i] = fd;
			return;
		}
}

static void untrack_fd(int fd)
{
	for (int i = 0; i < MAX_LOOPS; i++)
		if (g_loop_fds[i] == fd)
			g_loop_fds[i] = -1;
}

int loop_create(struct loopdev *ld, const char *backing, uint64_t size)
{
	memset(ld, 0, sizeof *ld);
	ld->fd = -1;
	snprintf(ld->backing, sizeof ld->backing, "%s", backing);
	int bfd = open(backing, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (bfd < 0 || ftruncate(bfd, (off_t)size) != 0) {
		fprintf(stderr, "loop: backing %s: %s\n", backing, strerror(errno));
		if (bfd >= 0)
			close(bfd);
		return -1;
	}
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		close(bfd);
		return -1;
	}
	int rc = -1;
	/* Another process may take the free device between GET_FREE and
	 * CONFIGURE (EBUSY): ask again. */
	for (int attempt = 0; attempt < 50 && rc < 0; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			break;
		char path[64];
		snprintf(path, sizeof path, "/dev/loop%d", n);
		int lfd = open(path, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			usleep(10000);
			continue;
		}
		struct loop_config cfg;
		memset(&cfg, 0, sizeof cfg);
		cfg.fd = (unsigned)bfd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", backing);
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
			ld->fd = lfd;
			snprintf(ld->path, sizeof ld->path, "%s", path);
			track_fd(lfd, backing);
			rc = 0;
			break;
		}
		close(lfd);
		if (errno != EBUSY) {
			fprintf(stderr, "loop: LOOP_CONFIGURE %s: %s\n", path, strerror(errno));
			break;
		}
	}
	close(ctl);
	close(bfd);
	return rc;
}

int loop_grow(struct loopdev *ld, uint64_t size)
{
	if (truncate(ld->backing, (off_t)size) != 0)
		return -1;
	return ioctl(ld->fd, LOOP_SET_CAPACITY, 0) == 0 ? 0 : -1;
}

void loop_destroy(struct loopdev *ld)
{
	if (ld->fd < 0)
		return;
	/* Explicit clear when nothing else holds the device; otherwise the
	 * autoclear flag detaches it at the last close. */
	ioctl(ld->fd, LOOP_CLR_FD, 0);
	untrack_fd(ld->fd);
	close(ld->fd);
	ld->fd = -1;
}

void loop_register_mount(const char *target)
{
	for (int i = 0; i < g_nmounts; i++)
		if (strcmp(g_mounts[i], target) == 0)
			return;
	if (g_nmounts < MAX_MOUNTS) {
		snprintf(g_mounts[g_nmounts], sizeof g_mounts[0], "%s", target);
		g_nmounts = g_nmounts + 1;
	}
}

void loop_cleanup_all(void)
{
	/* Stacked mounts need several passes; the umount2 calls fail harmlessly
	 * (EINVAL) on what is not mounted. */
	for (int pass = 0; pass < 4; pass++)
		for (int i = g_nmounts - 1; i >= 0; i--)
			if (umount2(g_mounts[i], 0) != 0 && errno == EBUSY)
				umount2(g_mounts[i], MNT_DETACH);
	for (int i = 0; i < MAX_LOOPS; i++) {
		int fd = g_loop_fds[i];
		if (fd >= 0) {
			ioctl(fd, LOOP_CLR_FD, 0);
			close(fd);
			g_loop_fds[i] = -1;
			if (g_backing[i][0] != '\0')
				unlink(g_backing[i]);
		}
	}
}

static void on_signal(int sig)
{
	loop_cleanup_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

void loop_install_cleanup(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	atexit(loop_cleanup_all);
	int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], on_signal);
}

int loop_tmpdir(char *path, size_t n)
{
	snprintf(path, n, "/tmp/ebs-node-test.XXXXXX");
	return mkdtemp(path) ? 0 : -1;
}

bool loop_anything_mounted_under(const char *prefix)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return true;
	char line[4096];
	size_t len = strlen(prefix);
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) {
		/* field 5 is the mount point */
		char *p = line;
		for (int i = 0; i < 4 && p; i++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p && strncmp(p, prefix, len) == 0 && (p[len] == ' ' || p[len] == '/'))
			found = true;
	}
	fclose(f);
	return found;
}

int loop_run(const char *const argv[])
{
	struct exec_result r;
	struct exec_opts o = { .timeout_ms = 120000 };
	int rc = exec_run(argv, &o, &r, NULL) == 0 ? r.exit_code : -1;
	if (rc != 0)
		fprintf(stderr, "%s failed (%d): %s%s\n", argv[0], rc, r.out ? r.out : "", r.err ? r.err : "");
	exec_result_dispose(&r);
	return rc;
}

void loop_rmtree(const char *dir)
{
	if (dir[0] == '\0' || strncmp(dir, "/tmp/ebs-node-test.", 19) != 0)
		return;
	if (loop_anything_mounted_under(dir)) {
		fprintf(stderr, "not removing %s: something is still mounted below it\n", dir);
		return;
	}
	const char *argv[] = { "rm", "-rf", "--one-file-system", "--", dir, NULL };
	loop_run(argv);
}

uint64_t loop_hash_device(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	uint64_t h = 1469598103934665603ull;
	static unsigned char buf[1 << 16];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++) {
			h ^= buf[i];
			h *= 1099511628211ull;
		}
	close(fd);
	return n < 0 ? 0 : h;
}
