/*
 * yaml: the bounded YAML-subset reader behind --kubeconfig (see kubeconfig.h
 * for the subset), producing a jansson tree.
 *
 * A recursive descent over lines: a node at indentation n is a sequence when
 * its first line starts with "- ", a mapping when it has a "key:" (colon then
 * space or end of line, outside quotes), else a scalar. "- rest" is handled by
 * re-reading the same line as a node whose indentation is the column of rest,
 * which is how YAML defines compact nested mappings. Lines are mutable only in
 * their (indent, content) view; block scalars read the raw lines again.
 * Errors name the 1-based line and never quote the text (a line may hold a
 * token or a private key).
 */
#include "k8s/kubeconfig.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct yline {
	const char *raw;     /* the line in the text, without its end of line */
	size_t raw_len;
	size_t indent;       /* column of content */
	const char *content; /* raw + indent, adjusted for "- " items */
	size_t len;          /* bytes of content */
	bool blank;          /* empty or a comment */
	bool tab_indent;     /* a tab in the leading whitespace */
};

struct yparser {
	struct yline *lines;
	size_t n;
	size_t i;
	int depth;
	struct status *st;
};

static json_t *parse_block(struct yparser *p, size_t indent);

static int yerr(struct yparser *p, size_t line, const char *what)
{
	return status_set(p->st, STATUS_INVALID_ARGUMENT, "line %zu: %s", line + 1, what);
}

static void classify(struct yline *l)
{
	size_t k = 0;
	l->tab_indent = false;
	while (k < l->raw_len && (l->raw[k] == ' ' || l->raw[k] == '\t')) {
		if (l->raw[k] == '\t')
			l->tab_indent = true;
		k++;
	}
	l->indent = k;
	l->content = l->raw + k;
	l->len = l->raw_len - k;
	while (l->len > 0 && (l->content[l->len - 1] == ' ' || l->content[l->len - 1] == '\t'))
		l->len--;
	l->blank = l->len == 0 || l->content[0] == '#';
}

static void skip_blank(struct yparser *p)
{
	while (p->i < p->n && p->lines[p->i].blank)
		p->i++;
}

/* "---" or "..." at column 0: a document boundary ends every node. */
static bool is_doc_marker(const struct yline *l)
{
	return l->indent == 0 && l->len >= 3 && (memcmp(l->content, "---", 3) == 0 || memcmp(l->content, "...", 3) == 0) &&
	       (l->len == 3 || l->content[3] == ' ');
}

static bool is_seq_item(const struct yline *l)
{
	return l->len >= 1 && l->content[0] == '-' && (l->len == 1 || l->content[1] == ' ');
}

/* Offset of the colon that ends a mapping key in s, or -1. The colon must be
 * followed by a space or the end; quoted keys are skipped whole; a " #" before
 * it starts a comment. */
static long key_colon(const char *s, size_t len)
{
	size_t k = 0;
	if (len > 0 && (s[0] == '"' || s[0] == '\'')) {
		char q = s[0];
		for (k = 1; k < len; k++) {
			if (q == '"' && s[k] == '\\') {
				k++;
				continue;
			}
			if (s[k] == q) {
				if (q == '\'' && k + 1 < len && s[k + 1] == '\'') {
					k++;
					continue;
				}
				break;
			}
		}
		if (k >= len)
			return -1;
		k++;
		while (k < len && s[k] == ' ')
			k++;
		return k < len && s[k] == ':' && (k + 1 == len || s[k + 1] == ' ') ? (long)k : -1;
	}
	for (k = 0; k < len; k++) {
		if (s[k] == '#' && k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
			return -1;
		if (s[k] == ':' && (k + 1 == len || s[k + 1] == ' ' || s[k + 1] == '\t'))
			return (long)k;
	}
	return -1;
}

static void put_utf8(struct buf *b, unsigned long cp)
{
	if (cp < 0x80) {
		buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		buf_putc(b, (char)(0xc0 | (cp >> 6)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_putc(b, (char)(0xe0 | (cp >> 12)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_putc(b, (char)(0xf0 | (cp >> 18)));
		buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

static int hex_digits(const char *s, size_t n, unsigned long *out)
{
	unsigned long v = 0;
	for (size_t k = 0; k < n; k++) {
		char ch = s[k];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + (unsigned long)d;
	}
	*out = v;
	return 0;
}

/* Parses a quoted scalar at s (s[0] is the quote) into b; *used is set to the
 * bytes consumed including both quotes. Returns -1 if unterminated or a bad
 * escape. Only single-line quoted scalars are supported. */
static int parse_quoted(const char *s, size_t len, struct buf *b, size_t *used)
{
	char q = s[0];
	size_t k = 1;
	while (k < len) {
		char ch = s[k];
		if (ch == q) {
			if (q == '\'' && k + 1 < len && s[k + 1] == '\'') {
				buf_putc(b, '\'');
				k += 2;
				continue;
			}
			*used = k + 1;
			return 0;
		}
		if (q == '"' && ch == '\\') {
			if (k + 1 >= len)
				return -1;
			char e = s[k + 1];
			unsigned long cp;
			size_t hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
			if (hex) {
				if (k + 2 + hex > len || hex_digits(s + k + 2, hex, &cp) != 0 || cp > 0x10ffff)
					return -1;
				put_utf8(b, cp);
				k += 2 + hex;
				continue;
			}
			const char *from = "0abtnvfre \"/\\N_LP";
			const char *to = "\0\a\b\t\n\v\f\r\x1b \"/\\";
			const char *hit = e ? strchr(from, e) : NULL;
			if (hit == NULL || hit - from > 12)
				return -1; /* \N \_ \L \P (Unicode line breaks) are not needed here */
			buf_putc(b, to[hit - from]);
			k += 2;
			continue;
		}
		buf_putc(b, ch);
		k++;
	}
	return -1;
}

static json_t *string_or_fail(struct yparser *p, size_t line, const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);
	if (v == NULL)
		yerr(p, line, "invalid UTF-8 in a scalar");
	return v;
}

/* A scalar on one line (the value after "key:" or "- ", or a whole line). For
 * plain scalars, more-indented lines that follow continue it (folded with a
 * space) — parent_indent is the indentation they must exceed. Consumes the
 * line(s). */
static json_t *parse_scalar(struct yparser *p, const char *s, size_t len, size_t parent_indent)
{
	size_t line = p->i;
	p->i++;
	if (len > 0 && (s[0] == '"' || s[0] == '\'')) {
		struct buf b;
		buf_init(&b);
		size_t used = 0;
		if (parse_quoted(s, len, &b, &used) != 0) {
			buf_dispose(&b);
			yerr(p, line, "unterminated quoted scalar or bad escape (multi-line quoted scalars are not supported)");
			return NULL;
		}
		size_t k = used;
		while (k < len && (s[k] == ' ' || s[k] == '\t'))
			k++;
		if (k < len && s[k] != '#') {
			buf_dispose(&b);
			yerr(p, line, "unexpected text after a quoted scalar");
			return NULL;
		}
		json_t *v = string_or_fail(p, line, b.data, b.len);
		buf_dispose(&b);
		return v;
	}
	/* Plain: ends at a comment. */
	size_t n = 0;
	while (n < len && !(s[n] == '#' && n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')))
		n++;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 2 && (memcmp(s, "{}", 2) == 0))
		return json_object();
	if (n == 2 && (memcmp(s, "[]", 2) == 0))
		return json_array();
	if ((n == 1 && s[0] == '~') || (n == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 ||
						   memcmp(s, "NULL", 4) == 0)))
		return json_null();
	struct buf b;
	buf_init(&b);
	buf_append(&b, s, n);
	/* Continuation lines of a plain scalar. */
	for (;;) {
		size_t save = p->i;
		skip_blank(p);
		if (p->i >= p->n || p->lines[p->i].indent <= parent_indent || s[0] == '{' || s[0] == '[') {
			p->i = save;
			break;
		}
		const struct yline *l = &p->lines[p->i];
		if (key_colon(l->content, l->len) >= 0 || is_seq_item(l)) {
			p->i = save;
			break;
		}
		size_t m = 0;
		while (m < l->len && !(l->content[m] == '#' && m > 0 && l->content[m - 1] == ' '))
			m++;
		while (m > 0 && l->content[m - 1] == ' ')
			m--;
		buf_putc(&b, ' ');
		buf_append(&b, l->content, m);
		p->i++;
	}
	json_t *v = string_or_fail(p, line, b.data, b.len);
	buf_dispose(&b);
	return v;
}

/* "|", "|-", ">", ">+"... after a key: the following raw lines that are blank
 * or more indented than parent_indent. */
static json_t *parse_block_scalar(struct yparser *p, const char *ind, size_t ind_len, size_t parent_indent)
{
	size_t line = p->i;
	bool folded = ind[0] == '>';
	char chomp = 'c';
	for (size_t k = 1; k < ind_len; k++) {
		if (ind[k] == '-' || ind[k] == '+')
			chomp = ind[k];
		else if (ind[k] == ' ' || ind[k] == '#')
			break;
		else if (!(ind[k] >= '1' && ind[k] <= '9')) {
			yerr(p, line, "bad block scalar indicator");
			return NULL;
		}
	}
	p->i++;
	size_t block_indent = 0;
	struct buf b;
	buf_init(&b);
	size_t pending_newlines = 0;
	bool first = true;
	while (p->i < p->n) {
		const struct yline *l = &p->lines[p->i];
		bool empty = l->len == 0;
		if (!empty && l->indent <= parent_indent)
			break;
		if (empty) {
			pending_newlines++;
			p->i++;
			continue;
		}
		if (block_indent == 0)
			block_indent = l->indent;
		if (l->indent < block_indent)
			break;
		if (!first) {
			if (folded && pending_newlines == 0)
				buf_putc(&b, ' ');
			else
				buf_putc(&b, '\n');
		}
		for (size_t k = 0; k < pending_newlines; k++)
			buf_putc(&b, '\n');
		pending_newlines = 0;
		buf_append(&b, l->raw + block_indent, l->raw_len - block_indent);
		first = false;
		p->i++;
	}
	if (!first && chomp != '-')
		buf_putc(&b, '\n');
	json_t *v = string_or_fail(p, line, b.data, b.len);
	buf_dispose(&b);
	return v;
}

static json_t *parse_seq(struct yparser *p, size_t indent)
{
	json_t *arr = json_array();
	for (;;) {
		skip_blank(p);
		if (p->i >= p->n)
			break;
		struct yline *l = &p->lines[p->i];
		if (l->indent < indent || (l->indent == indent && !is_seq_item(l)) || is_doc_marker(l))
			break;
		if (l->indent > indent) {
			yerr(p, p->i, "unexpected indentation in a sequence");
			goto fail;
		}
		size_t off = 1;
		while (off < l->len && l->content[off] == ' ')
			off++;
		json_t *item;
		if (off >= l->len || l->content[off] == '#') {
			p->i++;
			skip_blank(p);
			if (p->i < p->n && p->lines[p->i].indent > indent)
				item = parse_block(p, p->lines[p->i].indent);
			else
				item = json_null();
		} else {
			/* Re-read the rest of the line as a node at its own column. */
			l->indent += off;
			l->content += off;
			l->len -= off;
			item = parse_block(p, l->indent);
		}
		if (item == NULL)
			goto fail;
		json_array_append_new(arr, item);
	}
	return arr;
fail:
	json_decref(arr);
	return NULL;
}

static json_t *parse_map(struct yparser *p, size_t indent)
{
	json_t *obj = json_object();
	for (;;) {
		skip_blank(p);
		if (p->i >= p->n)
			break;
		struct yline *l = &p->lines[p->i];
		if (l->indent < indent || is_seq_item(l) || is_doc_marker(l))
			break;
		if (l->indent > indent) {
			yerr(p, p->i, "unexpected indentation in a mapping");
			goto fail;
		}
		long colon = key_colon(l->content, l->len);
		if (colon < 0) {
			yerr(p, p->i, "expected \"key: value\"");
			goto fail;
		}
		size_t line = p->i;
		struct buf key;
		buf_init(&key);
		size_t kl = (size_t)colon;
		while (kl > 0 && l->content[kl - 1] == ' ')
			kl--;
		if (kl > 0 && (l->content[0] == '"' || l->content[0] == '\'')) {
			size_t used = 0;
			if (parse_quoted(l->content, kl, &key, &used) != 0 || used != kl) {
				buf_dispose(&key);
				yerr(p, line, "bad quoted key");
				goto fail;
			}
		} else {
			buf_append(&key, l->content, kl);
		}
		const char *v = l->content + colon + 1;
		size_t vlen = l->len - (size_t)colon - 1;
		while (vlen > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		json_t *val;
		if (vlen == 0 || v[0] == '#') {
			p->i++;
			skip_blank(p);
			if (p->i < p->n && p->lines[p->i].indent > indent)
				val = parse_block(p, p->lines[p->i].indent);
			else if (p->i < p->n && p->lines[p->i].indent == indent && is_seq_item(&p->lines[p->i]))
				val = parse_seq(p, indent); /* "key:\n- a" — a sequence at the key's column */
			else
				val = json_null();
		} else if (v[0] == '|' || v[0] == '>') {
			val = parse_block_scalar(p, v, vlen, indent);
		} else if (v[0] == '&' || v[0] == '*' || v[0] == '!') {
			/* Anchors, aliases, tags: kept raw; kubeconfig fields we read never use them. */
			val = parse_scalar(p, v, vlen, indent);
		} else {
			val = parse_scalar(p, v, vlen, indent);
		}
		if (val == NULL) {
			buf_dispose(&key);
			goto fail;
		}
		json_object_setn_new(obj, key.data, key.len, val);
		buf_dispose(&key);
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

/* The node whose first line is p->i (non-blank, indentation indent). */
static json_t *parse_block(struct yparser *p, size_t indent)
{
	if (++p->depth > K8S_YAML_MAX_DEPTH) {
		yerr(p, p->i, "nesting too deep");
		p->depth--;
		return NULL;
	}
	const struct yline *l = &p->lines[p->i];
	json_t *v;
	if (l->tab_indent) {
		yerr(p, p->i, "tab in indentation");
		v = NULL;
	} else if (is_seq_item(l)) {
		v = parse_seq(p, indent);
	} else if (l->content[0] != '{' && l->content[0] != '[' && key_colon(l->content, l->len) >= 0) {
		v = parse_map(p, indent);
	} else {
		v = parse_scalar(p, l->content, l->len, indent);
	}
	p->depth--;
	return v;
}

int k8s_yaml_parse(const char *text, size_t len, json_t **out, struct status *st)
{
	if (len > K8S_KUBECONFIG_MAX_BYTES)
		return status_set(st, STATUS_INVALID_ARGUMENT, "larger than %zu bytes", K8S_KUBECONFIG_MAX_BYTES);
	size_t k = 0;
	while (k < len && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r' || text[k] == '\n'))
		k++;
	if (k < len && text[k] == '{') {
		json_error_t err;
		json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
		if (v == NULL)
			return status_set(st, STATUS_INVALID_ARGUMENT, "JSON line %d: %s", err.line, err.text);
		*out = v;
		return 0;
	}
	if (memchr(text, '\0', len) != NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "NUL byte in the text");

	struct yparser p = { .st = st };
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	p.lines = xcalloc(cap, sizeof *p.lines);
	const char *s = text, *end = text + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;
		struct yline *l = &p.lines[p.n++];
		l->raw = s;
		l->raw_len = (size_t)(e - s);
		if (l->raw_len > 0 && l->raw[l->raw_len - 1] == '\r')
			l->raw_len--;
		classify(l);
		s = nl ? nl + 1 : end;
	}
	skip_blank(&p);
	if (p.i < p.n && is_doc_marker(&p.lines[p.i]) && p.lines[p.i].content[0] == '-') {
		p.i++;
		skip_blank(&p);
	}
	json_t *v;
	if (p.i >= p.n) {
		v = json_null();
	} else {
		v = parse_block(&p, p.lines[p.i].indent);
		if (v != NULL) {
			skip_blank(&p);
			if (p.i < p.n && !(is_doc_marker(&p.lines[p.i]) && p.lines[p.i].content[0] == '.')) {
				yerr(&p, p.i, is_doc_marker(&p.lines[p.i]) ? "more than one document"
									   : "unexpected content (bad indentation?)");
				json_decref(v);
				v = NULL;
			}
		}
	}
	free(p.lines);
	if (v == NULL)
		return -1;
	*out = v;
	return 0;
}

