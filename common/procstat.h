/*
 * procstat: the standard process_* metrics of this process, read from /proc
 * at each scrape — the names client_golang's process collector exports, so
 * the usual dashboards (memory, CPU, file descriptors, restarts via start
 * time) work unchanged, plus process_threads (our worker pools' size).
 *
 * The parsers are pure and take the text of the /proc files, so tests feed
 * them fixtures; procstat_read reads a /proc tree (the real one, or a test's
 * copy under another root). Nothing is cached: each read is a handful of small
 * files, cheaper than keeping them consistent.
 */
#ifndef EBS_COMMON_PROCSTAT_H
#define EBS_COMMON_PROCSTAT_H

#include "common/metrics.h"
#include "common/status.h"

struct procstat {
	double cpu_seconds;        /* user + system CPU time */
	double resident_bytes;     /* RSS */
	double virtual_bytes;      /* address space size */
	double start_time_seconds; /* start time, seconds since the Unix epoch */
	double open_fds;           /* entries of /proc/<pid>/fd (the directory handle reading it included) */
	double max_fds;            /* soft RLIMIT_NOFILE; +Inf when unlimited */
	double threads;
};

/* Parses /proc/<pid>/stat text (the command name may hold spaces and
 * parentheses). ticks: sysconf(_SC_CLK_TCK); page: the page size; boot_time:
 * /proc/stat's btime. Fills cpu_seconds, resident_bytes, virtual_bytes,
 * start_time_seconds and threads. Returns 0, or -1 with INVALID_ARGUMENT when
 * the text is not a stat line. */
int procstat_parse_stat(const char *text, long ticks, long page, double boot_time, struct procstat *out,
			struct status *st);

/* Parses the "btime N" line of /proc/stat into *out. -1 with INVALID_ARGUMENT when absent. */
int procstat_parse_boot_time(const char *text, double *out, struct status *st);

/* Parses the soft limit of "Max open files" in /proc/<pid>/limits into *out
 * ("unlimited" → +Inf). -1 with INVALID_ARGUMENT when absent. */
int procstat_parse_max_fds(const char *text, double *out, struct status *st);

/* Reads everything from proc_root (NULL: "/proc") for pid (NULL: "self").
 * Returns 0, or -1 with NOT_FOUND (a file is missing) or INVALID_ARGUMENT
 * (a file does not parse); out is zeroed first. */
int procstat_read(const char *proc_root, const char *pid, struct procstat *out, struct status *st);

/* Adds a collector to m that exports this process' figures at each scrape:
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds, process_open_fds,
 * process_max_fds, process_threads. A scrape that cannot read /proc exports
 * none of them (and logs at -v 2). */
void procstat_register(struct metrics *m);

#endif
