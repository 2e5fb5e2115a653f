/*
 * sim_form: EC2 Query parameters. See sim_form.h.
 *
 * The message texts of EC2's errors are matched where they are known
 * ("Value (x) for parameter y is invalid.", "The request must contain the
 * parameter y", "The parameter x is not recognized"), because clients such as
 * the upstream driver match on substrings of them.
 */
#include "cloud/ec2sim/sim_form.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sim_form_init(struct sim_form *f)
{
	f->v = NULL;
	f->n = 0;
}

void sim_form_dispose(struct sim_form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].key);
		free(f->v[i].value);
	}
	free(f->v);
	sim_form_init(f);
}

const char *sim_form_get(const struct sim_form *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].key, key) == 0)
			return f->v[i].value;
	return NULL;
}

int sim_form_add(struct sim_form *f, const char *key, const char *value)
{
	if (sim_form_get(f, key) != NULL)
		return -1;
	f->v = xrealloc(f->v, (f->n + 1) * sizeof *f->v);
	f->v[f->n].key = xstrdup(key);
	f->v[f->n].value = xstrdup(value);
	f->n++;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) into a heap string; NULL on a bad escape or an embedded NUL. */
static char *decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			out[o++] = ' ';
		} else if (s[i] == '%') {
			if (i + 2 >= len) {
				free(out);
				return NULL;
			}
			int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
			if (a < 0 || b < 0 || (a == 0 && b == 0)) {
				free(out);
				return NULL;
			}
			out[o++] = (char)(a * 16 + b);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

int sim_form_parse(struct sim_form *f, const char *s, size_t len, struct sim_err *e)
{
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && s[j] != '&')
			j++;
		if (j > i) {
			const char *eq = memchr(s + i, '=', j - i);
			size_t klen = eq ? (size_t)(eq - (s + i)) : j - i;
			char *key = decode(s + i, klen);
			char *val = eq ? decode(eq + 1, (size_t)(s + j - eq - 1)) : xstrdup("");
			if (key == NULL || val == NULL || *key == '\0') {
				free(key);
				free(val);
				return sim_err_set(e, 400, "MalformedQueryString", "The request body is not a valid form");
			}
			int rc = sim_form_add(f, key, val);
			if (rc != 0)
				sim_err_value(e, "The parameter %s is specified more than once", key);
			free(key);
			free(val);
			if (rc != 0)
				return -1;
		}
		i = j + 1;
	}
	return 0;
}

/* Length of a list index at s ("1", "27"; no leading zero), 0 if none. */
static size_t index_len(const char *s)
{
	if (*s < '1' || *s > '9')
		return 0;
	size_t n = 1;
	while (isdigit((unsigned char)s[n]))
		n++;
	return n > 9 ? 0 : n;
}

bool sim_form_key_matches(const char *key, const char *pattern)
{
	const char *k = key, *p = pattern;
	for (;;) {
		const char *pe = strchr(p, '.');
		size_t plen = pe ? (size_t)(pe - p) : strlen(p);
		const char *ke = strchr(k, '.');
		size_t klen = ke ? (size_t)(ke - k) : strlen(k);
		if (plen == 1 && p[0] == 'N') {
			if (index_len(k) != klen)
				return false;
		} else if (plen != klen || strncmp(p, k, plen) != 0) {
			return false;
		}
		if (pe == NULL || ke == NULL)
			return pe == NULL && ke == NULL;
		p = pe + 1;
		k = ke + 1;
	}
}

int sim_form_check_allowed(const struct sim_form *f, const char *const *patterns, struct sim_err *e)
{
	for (size_t i = 0; i < f->n; i++) {
		const char *key = f->v[i].key;
		if (strcmp(key, "Action") == 0 || strcmp(key, "Version") == 0)
			continue;
		bool ok = false;
		for (size_t k = 0; patterns[k] != NULL && !ok; k++)
			ok = sim_form_key_matches(key, patterns[k]);
		if (!ok)
			return sim_err_set(e, 400, "UnknownParameter", "The parameter %s is not recognized", key);
	}
	return 0;
}

int sim_form_int(const struct sim_form *f, const char *key, long long min, long long max, long long *out,
		 bool *present, struct sim_err *e)
{
	const char *v = sim_form_get(f, key);
	if (present != NULL)
		*present = v != NULL;
	if (v == NULL)
		return 0;
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || isspace((unsigned char)*v))
		return sim_err_value(e, "Value (%s) for parameter %s is invalid. Expected an integer.", v, key);
	if (x < min || x > max)
		return sim_err_value(e, "Value (%s) for parameter %s is invalid. Expected a value between %lld and %lld.",
				     v, key, min, max);
	*out = x;
	return 0;
}

int sim_form_bool(const struct sim_form *f, const char *key, bool *out, bool *present, struct sim_err *e)
{
	const char *v = sim_form_get(f, key);
	if (present != NULL)
		*present = v != NULL;
	if (v == NULL)
		return 0;
	if (strcasecmp(v, "true") == 0)
		*out = true;
	else if (strcasecmp(v, "false") == 0)
		*out = false;
	else
		return sim_err_value(e, "Value (%s) for parameter %s is invalid. Expected: 'true' or 'false'.", v, key);
	return 0;
}

const char *sim_form_required(const struct sim_form *f, const char *key, struct sim_err *e)
{
	const char *v = sim_form_get(f, key);
	if (v == NULL || *v == '\0') {
		sim_err_set(e, 400, "MissingParameter", "The request must contain the parameter %s", key);
		return NULL;
	}
	return v;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

unsigned *sim_form_indices(const struct sim_form *f, const char *prefix, size_t *n)
{
	size_t plen = strlen(prefix), cnt = 0;
	unsigned *idx = NULL;
	for (size_t i = 0; i < f->n; i++) {
		const char *k = f->v[i].key;
		if (strncmp(k, prefix, plen) != 0 || k[plen] != '.')
			continue;
		size_t il = index_len(k + plen + 1);
		if (il == 0 || (k[plen + 1 + il] != '\0' && k[plen + 1 + il] != '.'))
			continue;
		unsigned v = (unsigned)strtoul(k + plen + 1, NULL, 10);
		bool seen = false;
		for (size_t j = 0; j < cnt && !seen; j++)
			seen = idx[j] == v;
		if (seen)
			continue;
		idx = xrealloc(idx, (cnt + 1) * sizeof *idx);
		idx[cnt++] = v;
	}
	if (cnt > 1)
		qsort(idx, cnt, sizeof *idx, cmp_unsigned);
	*n = cnt;
	return idx;
}

size_t sim_form_list(const struct sim_form *f, const char *prefix, struct strv *out)
{
	size_t n, added = 0;
	unsigned *idx = sim_form_indices(f, prefix, &n);
	for (size_t i = 0; i < n; i++) {
		char key[256];
		snprintf(key, sizeof key, "%s.%u", prefix, idx[i]);
		const char *v = sim_form_get(f, key);
		if (v != NULL) {
			strv_push(out, v);
			added++;
		}
	}
	free(idx);
	return added;
}

void sim_filters_dispose(struct sim_filters *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].name);
		strv_dispose(&fs->v[i].values);
	}
	free(fs->v);
	fs->v = NULL;
	fs->n = 0;
}

int sim_form_filters(const struct sim_form *f, struct sim_filters *out, struct sim_err *e)
{
	out->v = NULL;
	out->n = 0;
	size_t n;
	unsigned *idx = sim_form_indices(f, "Filter", &n);
	for (size_t i = 0; i < n; i++) {
		char key[64];
		snprintf(key, sizeof key, "Filter.%u.Name", idx[i]);
		const char *name = sim_form_get(f, key);
		if (name == NULL || *name == '\0') {
			unsigned bad = idx[i];
			free(idx);
			sim_filters_dispose(out);
			return sim_err_value(e, "The filter Filter.%u has no Name", bad);
		}
		out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		struct sim_filter *fl = &out->v[out->n++];
		fl->name = xstrdup(name);
		strv_init(&fl->values);
		snprintf(key, sizeof key, "Filter.%u.Value", idx[i]);
		if (sim_form_list(f, key, &fl->values) == 0) {
			char nm[128];
			snprintf(nm, sizeof nm, "%s", name);
			free(idx);
			sim_filters_dispose(out);
			return sim_err_value(e, "The filter '%s' has no values", nm);
		}
	}
	free(idx);
	return 0;
}

int sim_form_tag_specs(const struct sim_form *f, const char *resource_type, struct sim_tags *tags,
		       struct sim_err *e)
{
	size_t n;
	unsigned *idx = sim_form_indices(f, "TagSpecification", &n);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char key[128];
		snprintf(key, sizeof key, "TagSpecification.%u.ResourceType", idx[i]);
		const char *rt = sim_form_get(f, key);
		if (rt == NULL || strcmp(rt, resource_type) != 0) {
			rc = sim_err_value(e, "'%s' is not a valid taggable resource type for this operation.",
					   rt ? rt : "");
			break;
		}
		snprintf(key, sizeof key, "TagSpecification.%u.Tag", idx[i]);
		size_t nt;
		unsigned *tidx = sim_form_indices(f, key, &nt);
		for (size_t t = 0; t < nt && rc == 0; t++) {
			char kk[160], kv[160];
			snprintf(kk, sizeof kk, "TagSpecification.%u.Tag.%u.Key", idx[i], tidx[t]);
			snprintf(kv, sizeof kv, "TagSpecification.%u.Tag.%u.Value", idx[i], tidx[t]);
			const char *tk = sim_form_get(f, kk);
			if (tk == NULL || *tk == '\0')
				rc = sim_err_value(e, "Tag keys must be non-empty (%s)", kk);
			else if (strncmp(tk, "aws:", 4) == 0)
				rc = sim_err_value(e, "Tag keys starting with 'aws:' are reserved for internal use");
			else
				sim_tags_set(tags, tk, sim_form_get(f, kv));
		}
		free(tidx);
	}
	free(idx);
	return rc;
}

static int cmp_param(const void *a, const void *b)
{
	return strcmp(((const struct sim_param *)a)->key, ((const struct sim_param *)b)->key);
}

char *sim_form_fingerprint(const struct sim_form *f, const char *const *skip)
{
	struct sim_param *copy = xmalloc((f->n + 1) * sizeof *copy);
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++) {
		bool skipped = false;
		for (size_t k = 0; skip != NULL && skip[k] != NULL && !skipped; k++)
			skipped = strcmp(f->v[i].key, skip[k]) == 0;
		if (!skipped)
			copy[n++] = f->v[i];
	}
	qsort(copy, n, sizeof *copy, cmp_param);
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s=%s\n", copy[i].key, copy[i].value);
	free(copy);
	char *out = buf_take(&b);
	buf_dispose(&b);
	return out;
}
