/*
 * util: the small pure helpers of k8s/ — resource names for messages, query
 * escaping, node-name validation, secret redaction, and a cancellable sleep.
 * They touch no network and no global state, so tests call them directly.
 * Redaction exists because API servers and proxies may echo what they got
 * (including the Authorization header) in an error body, and error bodies are
 * quoted in status messages.
 */
#include "k8s/k8s.h"
#include "k8s/k8s_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void k8s_resource_of_path(const char *path, char *out, size_t cap)
{
	const char *p = path;
	size_t n = strcspn(p, "?");
	/* Skip "/api/v1/" or "/apis/<group>/<version>/", then "namespaces/<ns>/". */
	int skip = strncmp(p, "/api/", 5) == 0 ? 2 : strncmp(p, "/apis/", 6) == 0 ? 3 : 0;
	const char *q = p, *end = p + n;
	for (int i = 0; i < skip && q < end; i++) {
		const char *s = memchr(q + 1, '/', (size_t)(end - q - 1));
		if (s == NULL) {
			q = end;
			break;
		}
		q = s;
	}
	if (q < end && *q == '/')
		q++;
	if (strncmp(q, "namespaces/", 11) == 0 && (size_t)(end - q) > 11) {
		const char *s = memchr(q + 11, '/', (size_t)(end - q - 11));
		if (s != NULL)
			q = s + 1;
	}
	if (q >= end)
		q = p;
	snprintf(out, cap, "%.*s", (int)(end - q), q);
}

int k8s_query_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			    ch == '-' || ch == '.' || ch == '_' || ch == '~';
		if (n + (keep ? 1 : 3) >= cap)
			return -1;
		if (keep) {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
	return 0;
}

bool k8s_valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && ch != '-' && ch != '.')
			return false;
		if ((i == 0 || i == n - 1) && !alnum)
			return false;
	}
	return true;
}

void k8s_redact(char *s, size_t cap, const char *secret)
{
	static const char mark[] = "[redacted]";
	size_t sl = secret ? strlen(secret) : 0;
	if (s == NULL || sl < 4)
		return;
	char *hit;
	size_t from = 0;
	while ((hit = strstr(s + from, secret)) != NULL) {
		size_t at = (size_t)(hit - s), len = strlen(s);
		size_t tail = len - at - sl;
		size_t ml = sizeof mark - 1;
		if (at + ml >= cap) {
			/* No room for the mark: cut the text where the secret began. */
			s[at] = '\0';
			return;
		}
		if (at + ml + tail >= cap)
			tail = cap - 1 - at - ml;
		memmove(s + at + ml, hit + sl, tail);
		memcpy(s + at, mark, ml);
		s[at + ml + tail] = '\0';
		from = at + ml;
	}
}

bool k8s_sleep(int64_t ms, const struct rpc_ctx *rc)
{
	int64_t end = rpc_now_ms() + ms;
	for (;;) {
		if (rpc_done(rc))
			return false;
		int64_t left = end - rpc_now_ms();
		if (left <= 0)
			return true;
		if (left > 100)
			left = 100; /* wake up to notice a cancel */
		struct timespec ts = { (time_t)(left / 1000), (long)(left % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
}
