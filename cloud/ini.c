/*
 * ini: line-oriented parse of AWS config/credentials files into a flat list of
 * (section, key, value) entries. See ini.h for the accepted syntax.
 *
 * The files are small (a few profiles), so lookups are linear scans; the list
 * keeps one entry per (section, key), replaced in place by a later duplicate.
 * Not here: which section names a profile (cloud/creds_file.c decides
 * "[profile x]" versus "[x]"). Invariants: values are wiped before they are
 * freed; messages carry the file name and line number, never line content.
 */
#include "cloud/ini.h"

#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ini_entry {
	char *section;
	char *key;
	char *value;
};

struct ini {
	struct ini_entry *e;
	size_t n;
	char **sections;
	size_t n_sections;
};

static void wipe_free(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void ini_free(struct ini *ini)
{
	if (ini == NULL)
		return;
	for (size_t i = 0; i < ini->n; i++) {
		free(ini->e[i].section);
		free(ini->e[i].key);
		wipe_free(ini->e[i].value);
	}
	for (size_t i = 0; i < ini->n_sections; i++)
		free(ini->sections[i]);
	free(ini->sections);
	free(ini->e);
	free(ini);
}

bool ini_has_section(const struct ini *ini, const char *section)
{
	for (size_t i = 0; i < ini->n_sections; i++)
		if (strcmp(ini->sections[i], section) == 0)
			return true;
	return false;
}

static struct ini_entry *find(const struct ini *ini, const char *section, const char *key)
{
	for (size_t i = 0; i < ini->n; i++)
		if (strcmp(ini->e[i].section, section) == 0 && strcmp(ini->e[i].key, key) == 0)
			return &ini->e[i];
	return NULL;
}

const char *ini_get(const struct ini *ini, const char *section, const char *key)
{
	const struct ini_entry *e = find(ini, section, key);
	return e ? e->value : NULL;
}

/* Sets (section, key) to value, taking ownership of value. */
static struct ini_entry *set(struct ini *ini, const char *section, const char *key, char *value)
{
	struct ini_entry *e = find(ini, section, key);
	if (e != NULL) {
		wipe_free(e->value);
		e->value = value;
		return e;
	}
	ini->e = xrealloc(ini->e, (ini->n + 1) * sizeof *ini->e);
	e = &ini->e[ini->n++];
	e->section = xstrdup(section);
	e->key = xstrdup(key);
	e->value = value;
	return e;
}

static void add_section(struct ini *ini, const char *name)
{
	if (ini_has_section(ini, name))
		return;
	ini->sections = xrealloc(ini->sections, (ini->n_sections + 1) * sizeof *ini->sections);
	ini->sections[ini->n_sections++] = xstrdup(name);
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/* Cuts an inline comment: ';' or '#' preceded by whitespace. */
static const char *comment_start(const char *s, const char *e)
{
	for (const char *p = s + 1; p < e; p++)
		if ((*p == ';' || *p == '#') && isspace((unsigned char)p[-1]))
			return p;
	return e;
}

static char *lower_dup(const char *s, const char *e)
{
	char *k = xstrndup(s, (size_t)(e - s));
	for (char *p = k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

/* Splits "key = value" (also ':') into owned key and value. */
static bool split_kv(const char *s, const char *e, char **key, char **value)
{
	const char *d = s;
	while (d < e && *d != '=' && *d != ':')
		d++;
	if (d == e)
		return false;
	const char *ks = s, *ke = d, *vs = d + 1, *ve = e;
	trim(&ks, &ke);
	if (ks == ke)
		return false;
	trim(&vs, &ve);
	ve = comment_start(vs, ve);
	trim(&vs, &ve);
	*key = lower_dup(ks, ke);
	*value = xstrndup(vs, (size_t)(ve - vs));
	return true;
}

int ini_parse(const char *text, size_t len, const char *name, struct ini **out, struct status *st)
{
	*out = NULL;
	if (memchr(text, '\0', len) != NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s: contains a NUL byte", name);
	struct ini *ini = xcalloc(1, sizeof *ini);
	char *section = NULL;
	char *last_key = NULL;   /* the key continuation lines attach to */
	bool nested = false;     /* last_key had an empty value: indented lines are sub-keys */
	const char *p = text, *end = text + len;
	int lineno = 0;
	int ret = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *ls = p, *le = nl ? nl : end;
		p = nl ? nl + 1 : end;
		lineno++;
		bool indented = ls < le && (*ls == ' ' || *ls == '\t');
		const char *s = ls, *e = le;
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		char *k = NULL, *v = NULL;
		if (indented && last_key != NULL && nested && split_kv(s, e, &k, &v)) {
			char *full = xasprintf("%s.%s", last_key, k);
			set(ini, section, full, v);
			free(full);
			free(k);
			continue;
		}
		/* An indented line without a delimiter continues the value; an
		 * indented "k = v" under a non-empty value is a key of its own
		 * (the Go SDK reads it so; configparser would glue it on). */
		if (indented && last_key != NULL && memchr(s, '=', (size_t)(e - s)) == NULL &&
		    memchr(s, ':', (size_t)(e - s)) == NULL) {
			struct ini_entry *cur = find(ini, section, last_key);
			const char *ce = comment_start(s, e);
			trim(&s, &ce);
			char *joined = cur->value[0] ? xasprintf("%s\n%.*s", cur->value, (int)(ce - s), s)
						     : xstrndup(s, (size_t)(ce - s));
			set(ini, section, last_key, joined);
			nested = false;
			continue;
		}
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(e - s));
			if (close == NULL) {
				ret = status_set(st, STATUS_INVALID_ARGUMENT, "%s line %d: unterminated section header",
						 name, lineno);
				break;
			}
			const char *rest = close + 1;
			trim(&rest, &e);
			if (rest != e && *rest != '#' && *rest != ';') {
				ret = status_set(st, STATUS_INVALID_ARGUMENT,
						 "%s line %d: text after a section header", name, lineno);
				break;
			}
			const char *ns = s + 1, *ne = close;
			trim(&ns, &ne);
			if (ns == ne) {
				ret = status_set(st, STATUS_INVALID_ARGUMENT, "%s line %d: empty section name", name,
						 lineno);
				break;
			}
			free(section);
			section = xstrndup(ns, (size_t)(ne - ns));
			/* Collapse inner runs of blanks: "[profile   x]" is "profile x". */
			char *w = section;
			for (char *r = section; *r; r++)
				if (!(isspace((unsigned char)*r) && w > section && w[-1] == ' '))
					*w++ = isspace((unsigned char)*r) ? ' ' : *r;
			*w = '\0';
			add_section(ini, section);
			free(last_key);
			last_key = NULL;
			continue;
		}
		if (!split_kv(s, e, &k, &v)) {
			ret = status_set(st, STATUS_INVALID_ARGUMENT, "%s line %d: expected key = value", name, lineno);
			break;
		}
		if (section == NULL) {
			free(k);
			wipe_free(v);
			ret = status_set(st, STATUS_INVALID_ARGUMENT, "%s line %d: key outside any section", name,
					 lineno);
			break;
		}
		nested = v[0] == '\0';
		set(ini, section, k, v);
		free(last_key);
		last_key = k;
	}
	free(section);
	free(last_key);
	if (ret != 0) {
		ini_free(ini);
		return ret;
	}
	*out = ini;
	return 0;
}

int ini_load_file(const char *path, struct ini **out, struct status *st)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		int err = errno;
		if (err == ENOENT || err == ENOTDIR)
			return status_set(st, STATUS_NOT_FOUND, "%s: no such file", path);
		return status_set(st, err == EACCES ? STATUS_PERMISSION_DENIED : STATUS_INVALID_ARGUMENT,
				  "%s: cannot open: %s", path, strerror(err));
	}
	size_t cap = 4096, n = 0;
	char *data = xmalloc(cap);
	int ret = 0;
	for (;;) {
		if (n == cap) {
			/* Grow by hand so that the old copy is wiped (it may hold keys). */
			char *bigger = xmalloc(cap * 2);
			memcpy(bigger, data, n);
			OPENSSL_cleanse(data, cap);
			free(data);
			data = bigger;
			cap *= 2;
		}
		size_t got = fread(data + n, 1, cap - n, f);
		n += got;
		if (n > INI_MAX_FILE_BYTES) {
			ret = status_set(st, STATUS_INVALID_ARGUMENT, "%s: larger than %d bytes", path,
					 INI_MAX_FILE_BYTES);
			break;
		}
		if (got == 0) {
			if (ferror(f))
				ret = status_set(st, STATUS_INVALID_ARGUMENT, "%s: read error", path);
			break;
		}
	}
	fclose(f);
	if (ret == 0)
		ret = ini_parse(data, n, path, out, st);
	OPENSSL_cleanse(data, cap);
	free(data);
	return ret;
}
