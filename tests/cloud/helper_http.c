/*
 * helper_http: fixture reading and raw-request parsing for the cloud tests.
 * See helper_http.h. Lines end in "\n" (a "\r" before it is dropped); the
 * request line's target is everything between the first space and the last
 * " HTTP/", so a path with a space (get-space) survives; the body is whatever
 * follows the first empty line, byte for byte.
 */
#include "tests/cloud/helper_http.h"

#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *helper_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *data = xmalloc(cap);
	size_t got;
	while ((got = fread(data + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			cap *= 2;
			data = xrealloc(data, cap);
		}
	}
	fclose(f);
	data[n] = '\0';
	if (len != NULL)
		*len = n;
	return data;
}

static char *own(struct helper_http_req *r, char *s)
{
	r->owned = xrealloc(r->owned, (r->n_owned + 1) * sizeof *r->owned);
	r->owned[r->n_owned++] = s;
	return s;
}

static void add_header(struct helper_http_req *r, const char *name, const char *value)
{
	r->headers = xrealloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
	r->headers[r->n_headers].name = name;
	r->headers[r->n_headers].value = value;
	r->n_headers++;
}

int helper_http_req_parse(const char *text, size_t len, enum helper_fold fold, struct helper_http_req *out)
{
	memset(out, 0, sizeof *out);
	const char *end = text + len;
	const char *p = text;
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	const char *line_end = eol ? eol : end;
	size_t llen = (size_t)(line_end - p);
	if (llen > 0 && p[llen - 1] == '\r')
		llen--;
	char *line = xstrndup(p, llen);
	char *sp = strchr(line, ' ');
	char *ver = NULL;
	for (char *q = line; (q = strstr(q, " HTTP/")) != NULL; q++)
		ver = q;
	if (sp == NULL || ver == NULL || ver <= sp) {
		free(line);
		return -1;
	}
	out->method = own(out, xstrndup(line, (size_t)(sp - line)));
	char *target = xstrndup(sp + 1, (size_t)(ver - sp - 1));
	free(line);
	char *qm = strchr(target, '?');
	if (qm != NULL) {
		out->query = own(out, xstrdup(qm + 1));
		*qm = '\0';
	}
	out->path = own(out, target);
	p = eol ? eol + 1 : end;

	char *last_name = NULL, *last_value = NULL;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		line_end = eol ? eol : end;
		llen = (size_t)(line_end - p);
		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		const char *next = eol ? eol + 1 : end;
		if (llen == 0) {  /* end of headers: the rest is the body */
			p = next;
			out->body_len = (size_t)(end - p);
			out->body = own(out, xstrndup(p, out->body_len));
			return 0;
		}
		if ((p[0] == ' ' || p[0] == '\t') && last_name != NULL) {
			if (fold == HELPER_FOLD_AS_VALUES) {
				const char *v = p;
				while (v < p + llen && (*v == ' ' || *v == '\t'))
					v++;
				add_header(out, last_name, own(out, xstrndup(v, (size_t)(p + llen - v))));
			} else {
				/* Extend the previous value in place: it is the last header. */
				char *joined = xasprintf("%s\n%.*s", last_value, (int)llen, p);
				last_value = own(out, joined);
				out->headers[out->n_headers - 1].value = last_value;
			}
		} else {
			const char *colon = memchr(p, ':', llen);
			if (colon == NULL)
				return -1;
			last_name = own(out, xstrndup(p, (size_t)(colon - p)));
			last_value = own(out, xstrndup(colon + 1, (size_t)(p + llen - colon - 1)));
			add_header(out, last_name, last_value);
		}
		p = next;
	}
	out->body = own(out, xstrdup(""));
	return 0;
}

void helper_http_req_dispose(struct helper_http_req *r)
{
	for (size_t i = 0; i < r->n_owned; i++)
		free(r->owned[i]);
	free(r->owned);
	free(r->headers);
	memset(r, 0, sizeof *r);
}

const char *helper_http_req_header(const struct helper_http_req *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

void helper_http_req_view(const struct helper_http_req *r, struct sigv4_request *out)
{
	memset(out, 0, sizeof *out);
	out->method = r->method;
	out->path = r->path;
	out->query = r->query;
	out->headers = r->headers;
	out->n_headers = r->n_headers;
	out->payload = r->body;
	out->payload_len = r->body_len;
}
