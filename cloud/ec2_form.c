/*
 * ec2_form: the EC2 Query form body builder. See ec2_form.h.
 *
 * Keys are built into a small stack buffer before encoding ("Filter.12.Value.3"
 * never nears its size: keys come from our own code, not from users), values are
 * encoded straight into the body. Counters for Filter.N and TagSpecification.N
 * live in the form so callers cannot number them wrong.
 */
#include "cloud/ec2_form.h"

#include <inttypes.h>
#include <stdio.h>

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '~';
}

void ec2_form_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p)) {
			buf_putc(b, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			buf_append(b, e, 3);
		}
	}
}

void ec2_form_init(struct ec2_form *f, const char *action)
{
	buf_init(&f->body);
	f->n_filters = 0;
	f->n_tag_specs = 0;
	buf_puts(&f->body, "Action=");
	ec2_form_encode(&f->body, action);
	buf_puts(&f->body, "&Version=" EC2_API_VERSION);
}

void ec2_form_dispose(struct ec2_form *f)
{
	buf_dispose(&f->body);
}

const char *ec2_form_body(const struct ec2_form *f)
{
	return f->body.data;
}

size_t ec2_form_len(const struct ec2_form *f)
{
	return f->body.len;
}

char *ec2_form_take(struct ec2_form *f)
{
	char *s = buf_take(&f->body);
	buf_dispose(&f->body);
	return s;
}

void ec2_form_add(struct ec2_form *f, const char *key, const char *value)
{
	if (value == NULL)
		return;
	buf_putc(&f->body, '&');
	ec2_form_encode(&f->body, key);
	buf_putc(&f->body, '=');
	ec2_form_encode(&f->body, value);
}

void ec2_form_add_int(struct ec2_form *f, const char *key, int64_t v)
{
	char num[24];
	snprintf(num, sizeof num, "%" PRId64, v);
	ec2_form_add(f, key, num);
}

void ec2_form_add_bool(struct ec2_form *f, const char *key, bool v)
{
	ec2_form_add(f, key, v ? "true" : "false");
}

void ec2_form_opt(struct ec2_form *f, const char *key, const char *value)
{
	if (value != NULL && *value != '\0')
		ec2_form_add(f, key, value);
}

void ec2_form_opt_int(struct ec2_form *f, const char *key, int64_t v)
{
	if (v != 0)
		ec2_form_add_int(f, key, v);
}

void ec2_form_opt_true(struct ec2_form *f, const char *key, bool v)
{
	if (v)
		ec2_form_add_bool(f, key, true);
}

/* Keys are ours and short; a prefix that would not fit is a bug, so it is
 * truncated visibly rather than overflowing. */
#define KEY_MAX 160

void ec2_form_add_list(struct ec2_form *f, const char *prefix, const char *const *values, size_t n)
{
	char key[KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof key, "%s.%zu", prefix, i + 1);
		ec2_form_add(f, key, values[i]);
	}
}

void ec2_form_filter(struct ec2_form *f, const char *name, const char *const *values, size_t n_values)
{
	if (n_values == 0)
		return;
	char key[KEY_MAX];
	unsigned n = ++f->n_filters;
	snprintf(key, sizeof key, "Filter.%u.Name", n);
	ec2_form_add(f, key, name);
	snprintf(key, sizeof key, "Filter.%u.Value", n);
	ec2_form_add_list(f, key, values, n_values);
}

void ec2_form_filter1(struct ec2_form *f, const char *name, const char *value)
{
	ec2_form_filter(f, name, &value, 1);
}

/* prefix.M.Key / prefix.M.Value for every tag; values only when with_values. */
static void add_tags(struct ec2_form *f, const char *prefix, const struct cloud_tags *tags, bool with_values)
{
	char key[KEY_MAX];
	for (size_t i = 0; i < tags->n; i++) {
		snprintf(key, sizeof key, "%s.%zu.Key", prefix, i + 1);
		ec2_form_add(f, key, tags->v[i].key);
		if (with_values) {
			snprintf(key, sizeof key, "%s.%zu.Value", prefix, i + 1);
			ec2_form_add(f, key, tags->v[i].value ? tags->v[i].value : "");
		}
	}
}

void ec2_form_tag_spec(struct ec2_form *f, const char *resource_type, const struct cloud_tags *tags)
{
	if (tags == NULL || tags->n == 0)
		return;
	char key[KEY_MAX];
	unsigned n = ++f->n_tag_specs;
	snprintf(key, sizeof key, "TagSpecification.%u.ResourceType", n);
	ec2_form_add(f, key, resource_type);
	snprintf(key, sizeof key, "TagSpecification.%u.Tag", n);
	add_tags(f, key, tags, true);
}

void ec2_form_tags(struct ec2_form *f, const struct cloud_tags *tags)
{
	if (tags != NULL)
		add_tags(f, "Tag", tags, true);
}

void ec2_form_tag_keys(struct ec2_form *f, const char *const *keys, size_t n)
{
	char key[KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof key, "Tag.%zu.Key", i + 1);
		ec2_form_add(f, key, keys[i]);
	}
}
