/*
 * log: klog-compatible logging to stderr, as text or JSON lines.
 *
 * Text:  I1125 22:00:00.123456    1234 server.c:42] message key="value"
 * JSON:  {"ts":1764108000.123,"caller":"server.c:42","v":0,"msg":"message","key":"value"}
 *        (error lines add "err" via the key/value pairs; severity as "level").
 *
 * Each line is formatted into one buffer and written with one write(2), so lines
 * from concurrent threads never interleave. Verbosity follows klog: V(0) always,
 * higher levels only with -v N. The logger never sees secrets: callers pass only
 * fields that are safe to print (CSI secrets and credentials are stripped before
 * anything reaches here). Configuration is process-wide and set once at start-up.
 */
#ifndef EBS_COMMON_LOG_H
#define EBS_COMMON_LOG_H

#include <stdbool.h>

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };
enum log_severity { LOG_SEV_INFO = 0, LOG_SEV_WARNING = 1, LOG_SEV_ERROR = 2, LOG_SEV_FATAL = 3 };

/* Sets format and verbosity. Call before threads start. */
void log_configure(enum log_format format, int verbosity);
/* Redirects output to fd (default 2). For tests. */
void log_set_fd(int fd);
/* Parses "text"/"json"; returns -1 for anything else. */
int log_format_parse(const char *s);

/* True when messages at verbosity v are printed. */
bool log_enabled(int v);

/* Writes one line: msg followed by key/value pairs, given as a NULL-terminated
 * list of const char * (key1, value1, key2, value2, ..., NULL). A NULL value
 * prints as an empty string. */
void log_kv(int severity, int v, const char *file, int line, const char *msg, ...)
	__attribute__((sentinel));

/* Writes one line whose message is printf-formatted. */
void log_printf(int severity, int v, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define log_info(...)  log_printf(LOG_SEV_INFO, 0, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_printf(LOG_SEV_WARNING, 0, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_printf(LOG_SEV_ERROR, 0, __FILE__, __LINE__, __VA_ARGS__)
#define log_v(n, ...)                                                              \
	do {                                                                       \
		if (log_enabled(n))                                                \
			log_printf(LOG_SEV_INFO, (n), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)
#define LOG_KV(sev, v, ...)                                                        \
	do {                                                                       \
		if (log_enabled(v))                                                \
			log_kv((sev), (v), __FILE__, __LINE__, __VA_ARGS__, (const char *)NULL); \
	} while (0)

#endif
