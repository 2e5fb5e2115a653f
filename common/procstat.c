/*
 * procstat: see procstat.h. Field positions follow proc(5): in
 * /proc/<pid>/stat, after the command name in parentheses (found by the LAST
 * ')' since the name itself may contain one), field 3 is the state, 14/15
 * utime/stime in clock ticks, 20 num_threads, 22 starttime in ticks since
 * boot, 23 vsize in bytes and 24 rss in pages.
 */
#include "common/procstat.h"

#include "common/buf.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procstat_parse_stat(const char *text, long ticks, long page, double boot_time, struct procstat *out,
			struct status *st)
{
	const char *p = text ? strrchr(text, ')') : NULL;
	if (p == NULL || ticks <= 0 || page <= 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "not a /proc/<pid>/stat line");
	p++;
	/* fields[k] is proc(5)'s field k + 3 */
	unsigned long long fields[22];
	size_t n = 0;
	while (n < sizeof fields / sizeof fields[0]) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		if (n == 0) {
			/* the state letter */
			fields[n++] = 0;
			p++;
			continue;
		}
		char *end;
		errno = 0;
		/* strtoull accepts "-1" (cutime may be negative); only fields
		 * that cannot be negative are used below */
		fields[n++] = strtoull(p, &end, 10);
		if (end == p || errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
			return status_set(st, STATUS_INVALID_ARGUMENT, "/proc/<pid>/stat: field %zu is not a number", n + 2);
		p = end;
	}
	if (n < 22)
		return status_set(st, STATUS_INVALID_ARGUMENT, "/proc/<pid>/stat: %zu fields after the name, want 22", n);
	out->cpu_seconds = (double)(fields[14 - 3] + fields[15 - 3]) / (double)ticks;
	out->threads = (double)fields[20 - 3];
	out->start_time_seconds = boot_time + (double)fields[22 - 3] / (double)ticks;
	out->virtual_bytes = (double)fields[23 - 3];
	out->resident_bytes = (double)fields[24 - 3] * (double)page;
	return 0;
}

int procstat_parse_boot_time(const char *text, double *out, struct status *st)
{
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		unsigned long long bt;
		if (strncmp(line, "btime ", 6) == 0 && sscanf(line + 6, "%llu", &bt) == 1) {
			*out = (double)bt;
			return 0;
		}
	}
	return status_set(st, STATUS_INVALID_ARGUMENT, "/proc/stat has no btime line");
}

int procstat_parse_max_fds(const char *text, double *out, struct status *st)
{
	static const char key[] = "Max open files";
	const char *p = text ? strstr(text, key) : NULL;
	if (p == NULL || (p != text && p[-1] != '\n'))
		return status_set(st, STATUS_INVALID_ARGUMENT, "/proc/<pid>/limits has no \"%s\" line", key);
	p += sizeof key - 1;
	while (*p == ' ')
		p++;
	if (strncmp(p, "unlimited", 9) == 0) {
		*out = INFINITY;
		return 0;
	}
	char *end;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p)
		return status_set(st, STATUS_INVALID_ARGUMENT, "/proc/<pid>/limits: bad \"%s\" value", key);
	*out = (double)v;
	return 0;
}

static int count_fds(const char *dir, double *out, struct status *st)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return status_set(st, errno == ENOENT ? STATUS_NOT_FOUND : STATUS_INTERNAL, "opendir %s: %s", dir,
				  strerror(errno));
	double n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	*out = n;
	return 0;
}

int procstat_read(const char *proc_root, const char *pid, struct procstat *out, struct status *st)
{
	memset(out, 0, sizeof *out);
	if (proc_root == NULL)
		proc_root = "/proc";
	if (pid == NULL)
		pid = "self";
	struct buf b;
	buf_init(&b);
	char path[4096];
	double boot = 0;
	int rc = -1;

	snprintf(path, sizeof path, "%s/stat", proc_root);
	if (buf_read_file(&b, path, st) < 0 || procstat_parse_boot_time(b.data, &boot, st) < 0)
		goto out;
	buf_reset(&b);
	snprintf(path, sizeof path, "%s/%s/stat", proc_root, pid);
	if (buf_read_file(&b, path, st) < 0 ||
	    procstat_parse_stat(b.data, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), boot, out, st) < 0)
		goto out;
	buf_reset(&b);
	snprintf(path, sizeof path, "%s/%s/limits", proc_root, pid);
	if (buf_read_file(&b, path, st) < 0 || procstat_parse_max_fds(b.data, &out->max_fds, st) < 0)
		goto out;
	snprintf(path, sizeof path, "%s/%s/fd", proc_root, pid);
	if (count_fds(path, &out->open_fds, st) < 0)
		goto out;
	rc = 0;
out:
	buf_dispose(&b);
	return rc;
}

static void collect(void *ctx, struct metrics_writer *w)
{
	(void)ctx;
	struct procstat ps;
	struct status st = STATUS_INIT;
	if (procstat_read(NULL, NULL, &ps, &st) < 0) {
		log_v(2, "process metrics: %s", st.msg);
		return;
	}
	metrics_emit(w, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
		     METRICS_COUNTER, NULL, 0, ps.cpu_seconds);
	metrics_emit(w, "process_resident_memory_bytes", "Resident memory size in bytes.", METRICS_GAUGE, NULL, 0,
		     ps.resident_bytes);
	metrics_emit(w, "process_virtual_memory_bytes", "Virtual memory size in bytes.", METRICS_GAUGE, NULL, 0,
		     ps.virtual_bytes);
	metrics_emit(w, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
		     METRICS_GAUGE, NULL, 0, ps.start_time_seconds);
	metrics_emit(w, "process_open_fds", "Number of open file descriptors.", METRICS_GAUGE, NULL, 0, ps.open_fds);
	metrics_emit(w, "process_max_fds", "Maximum number of open file descriptors.", METRICS_GAUGE, NULL, 0,
		     ps.max_fds);
	metrics_emit(w, "process_threads", "Number of OS threads in the process.", METRICS_GAUGE, NULL, 0,
		     ps.threads);
}

void procstat_register(struct metrics *m)
{
	metrics_add_collector(m, collect, NULL);
}
