/*
 * log: see log.h. The only mutable state is the configuration below, written
 * once by log_configure() before worker threads exist and read-only afterwards.
 */
#include "common/log.h"

#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_format g_format = LOG_FORMAT_TEXT;
static int g_verbosity = 0;
static int g_fd = 2;

void log_configure(enum log_format format, int verbosity)
{
	g_format = format;
	g_verbosity = verbosity;
}

void log_set_fd(int fd) { g_fd = fd; }

int log_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(s, "json") == 0)
		return LOG_FORMAT_JSON;
	return -1;
}

bool log_enabled(int v) { return v <= g_verbosity; }

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* klog quotes a value when it holds anything beyond a plain token. */
static bool needs_quote(const char *s)
{
	if (*s == '\0')
		return true;
	for (; *s; s++)
		if (*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' || (unsigned char)*s >= 0x7f)
			return true;
	return false;
}

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 when the bytes
 * there are not one (stray continuation, overlong form, surrogate, beyond
 * U+10FFFF, truncated). Only called for a lead byte >= 0x80. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* beyond U+10FFFF */
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0; /* also stops at the NUL of a truncated sequence */
	return n;
}

/* Writes s as a JSON string literal (also klog's quoted value): control
 * characters escaped, and bytes that are not UTF-8 replaced by U+FFFD, because
 * a JSON line that is not UTF-8 is rejected whole by log pipelines, and request
 * strings (volume names, paths) reach the log without prior validation. */
static void put_quoted(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)s);
			if (n == 0) {
				buf_puts(b, "\\ufffd");
			} else {
				buf_append(b, s, n);
				s += n - 1;
			}
			continue;
		}
		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(b, "\\u%04x", c);
			else
				buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

static void emit(int severity, int v, const char *file, int line, const char *msg, va_list *kv)
{
	struct buf b;
	buf_init(&b);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	if (g_format == LOG_FORMAT_JSON) {
		buf_printf(&b, "{\"ts\":%lld.%03ld,\"caller\":", (long long)tv.tv_sec, (long)(tv.tv_usec / 1000));
		char caller[256];
		snprintf(caller, sizeof caller, "%s:%d", base_name(file), line);
		put_quoted(&b, caller);
		static const char *const level[] = { "info", "warning", "error", "fatal" };
		buf_printf(&b, ",\"level\":\"%s\",\"v\":%d,\"msg\":", level[severity & 3], v);
		put_quoted(&b, msg);
		if (kv != NULL) {
			const char *k;
			while ((k = va_arg(*kv, const char *)) != NULL) {
				const char *val = va_arg(*kv, const char *);
				buf_putc(&b, ',');
				put_quoted(&b, k);
				buf_putc(&b, ':');
				put_quoted(&b, val ? val : "");
			}
		}
		buf_puts(&b, "}\n");
	} else {
		struct tm tm;
		localtime_r(&tv.tv_sec, &tm);
		buf_printf(&b, "%c%02d%02d %02d:%02d:%02d.%06ld %7d %s:%d] ", "IWEF"[severity & 3],
			   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec,
			   (int)getpid(), base_name(file), line);
		/* A message never spans lines: a log reader splits on '\n', and a
		 * '\r' or an escape sequence would rewrite what a terminal shows. */
		for (const char *p = msg; *p; p++) {
			unsigned char c = (unsigned char)*p;
			if (c == '\n' || c == '\r')
				buf_putc(&b, ' ');
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				buf_printf(&b, "\\x%02x", c);
			else
				buf_putc(&b, (char)c);
		}
		if (kv != NULL) {
			const char *k;
			while ((k = va_arg(*kv, const char *)) != NULL) {
				const char *val = va_arg(*kv, const char *);
				buf_printf(&b, " %s=", k);
				if (val == NULL)
					val = "";
				if (needs_quote(val))
					put_quoted(&b, val);
				else
					buf_puts(&b, val);
			}
		}
		buf_putc(&b, '\n');
	}
	ssize_t off = 0, len = (ssize_t)b.len;
	while (off < len) {
		ssize_t n = write(g_fd, b.data + off, (size_t)(len - off));
		if (n < 0 && errno == EINTR)
			continue; /* a signal (e.g. SIGTERM at shutdown) must not cut a line */
		if (n <= 0)
			break;
		off += n;
	}
	buf_dispose(&b);
}

void log_kv(int severity, int v, const char *file, int line, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	emit(severity, v, file, line, msg, &ap);
	va_end(ap);
}

void log_printf(int severity, int v, const char *file, int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	emit(severity, v, file, line, msg, NULL);
}
