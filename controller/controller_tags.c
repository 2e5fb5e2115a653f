/*
 * controller_tags: the tags the controller writes on volumes and snapshots
 * (upstream §2.2), the reserved-key rule (§2.4), --extra-tags parsing, and
 * the small template language of tagSpecification values (§2.3).
 *
 * The template evaluator implements the part of Go's text/template that tag
 * values use — {{ .Field }}, literals, pipelines, parentheses and upstream's
 * function set — and refuses everything else (if/range/with, variables,
 * other builtins) with a message saying so, rather than guessing. Pure: no
 * cloud calls; errors are INVALID_ARGUMENT naming the tagSpecification.
 * EC2's own tag rules (key 1..128 characters, value up to 256, no "aws:"
 * prefix) are checked here too, so a bad tag fails before any EC2 call.
 */
#include "controller/controller_internal.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool controller_tag_key_reserved(const char *key)
{
	return strcmp(key, CLOUD_TAG_VOLUME_NAME) == 0 || strcmp(key, CLOUD_TAG_SNAPSHOT_NAME) == 0 ||
	       strcmp(key, CONTROLLER_TAG_CLUSTER_NAME) == 0 || strncmp(key, "kubernetes.io", 13) == 0 ||
	       strncmp(key, "ebs.csi.aws.com/", 16) == 0;
}

/* EC2's tag limits; what the user gets told names `what`. */
static int check_ec2_tag(const char *what, const char *key, const char *value, struct status *st)
{
	size_t kl = strlen(key);
	if (kl == 0 || kl > 128)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s: a tag key must have 1 to 128 characters", what);
	if (strncmp(key, "aws:", 4) == 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s: tag keys starting with \"aws:\" are AWS's", what);
	if (strlen(value) > 256)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s: a tag value may have at most 256 characters", what);
	return 0;
}

static char *trim_dup(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

int controller_parse_extra_tags(const char *s, struct cloud_tags *out, struct status *st)
{
	cloud_tags_init(out);
	struct strv pairs;
	strv_init(&pairs);
	strv_split(&pairs, s ? s : "", ',', STRV_SPLIT_SKIP_EMPTY | STRV_SPLIT_TRIM);
	int rc = 0;
	for (size_t i = 0; i < pairs.n && rc == 0; i++) {
		const char *eq = strchr(pairs.v[i], '=');
		if (eq == NULL) {
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "--extra-tags: \"%s\" is not key=value", pairs.v[i]);
			break;
		}
		char *key = trim_dup(pairs.v[i], (size_t)(eq - pairs.v[i]));
		char *value = trim_dup(eq + 1, strlen(eq + 1));
		if (key[0] == '\0')
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "--extra-tags: \"%s\" has an empty key", pairs.v[i]);
		else if (controller_tag_key_reserved(key))
			rc = status_set(st, STATUS_INVALID_ARGUMENT, "--extra-tags: tag key %s is reserved for the driver",
					key);
		else if (check_ec2_tag("--extra-tags", key, value, st) < 0)
			rc = -1;
		else
			cloud_tags_set(out, key, value);
		free(key);
		free(value);
	}
	strv_dispose(&pairs);
	return rc;
}

/* ---- templates --------------------------------------------------------------------- */

enum tval_kind { TV_STR, TV_INT, TV_BOOL };

struct tval {
	enum tval_kind kind;
	char *s;      /* TV_STR: heap */
	long long i;  /* TV_INT, TV_BOOL */
};

static void tval_dispose(struct tval *v)
{
	if (v->kind == TV_STR)
		free(v->s);
	v->s = NULL;
}

struct tparse {
	const char *p;    /* cursor inside the action */
	const char *end;  /* end of the action text (before "}}") */
	const struct controller_tvar *vars;
	size_t n_vars;
	struct status *st;
};

static const char *kind_name(enum tval_kind k)
{
	return k == TV_STR ? "string" : k == TV_INT ? "int" : "bool";
}

static void skip_space(struct tparse *tp)
{
	while (tp->p < tp->end && isspace((unsigned char)*tp->p))
		tp->p++;
}

static int pipeline(struct tparse *tp, struct tval *out);

/* Calls function name with args (already evaluated). */
static int call(struct tparse *tp, const char *name, struct tval *args, size_t n, struct tval *out)
{
	static const char *const disabled[] = { "html", "js", "call", "urlquery" };
	for (size_t i = 0; i < sizeof disabled / sizeof disabled[0]; i++)
		if (strcmp(name, disabled[i]) == 0)
			return status_set(tp->st, STATUS_INVALID_ARGUMENT, "cannot call '%s' function", name);
	static const struct {
		const char *name;
		size_t argc;
		enum tval_kind types[3];
	} sigs[] = {
		{ "toUpper", 1, { TV_STR } },
		{ "toLower", 1, { TV_STR } },
		{ "contains", 2, { TV_STR, TV_STR } },
		{ "index", 2, { TV_STR, TV_STR } },
		{ "lastIndex", 2, { TV_STR, TV_STR } },
		{ "substring", 3, { TV_INT, TV_INT, TV_STR } },
		{ "field", 3, { TV_STR, TV_INT, TV_STR } },
	};
	size_t f = 0;
	while (f < sizeof sigs / sizeof sigs[0] && strcmp(sigs[f].name, name) != 0)
		f++;
	if (f == sizeof sigs / sizeof sigs[0])
		return status_set(tp->st, STATUS_INVALID_ARGUMENT, "function \"%s\" not defined", name);
	if (n != sigs[f].argc)
		return status_set(tp->st, STATUS_INVALID_ARGUMENT, "wrong number of args for %s: want %zu got %zu", name,
				  sigs[f].argc, n);
	for (size_t i = 0; i < n; i++)
		if (args[i].kind != sigs[f].types[i])
			return status_set(tp->st, STATUS_INVALID_ARGUMENT, "wrong type for argument %zu of %s: want %s got %s",
					  i + 1, name, kind_name(sigs[f].types[i]), kind_name(args[i].kind));
	memset(out, 0, sizeof *out);
	if (strcmp(name, "toUpper") == 0 || strcmp(name, "toLower") == 0) {
		out->kind = TV_STR;
		out->s = xstrdup(args[0].s);
		for (char *c = out->s; *c; c++)
			*c = (char)(name[2] == 'U' ? toupper((unsigned char)*c) : tolower((unsigned char)*c));
	} else if (strcmp(name, "contains") == 0) {
		out->kind = TV_BOOL;
		out->i = strstr(args[1].s, args[0].s) != NULL;
	} else if (strcmp(name, "index") == 0 || strcmp(name, "lastIndex") == 0) {
		out->kind = TV_INT;
		out->i = -1;
		const char *hay = args[1].s, *needle = args[0].s;
		for (const char *h = hay; (h = strstr(h, needle)) != NULL; h++) {
			out->i = h - hay;
			if (name[0] == 'i' || *h == '\0')
				break;
		}
	} else if (strcmp(name, "substring") == 0) {
		/* Upstream: a negative start means from 0, a negative or too large
		 * end means to the end; Go panics on anything else out of range,
		 * which the template turns into an error. */
		long long len = (long long)strlen(args[2].s), start = args[0].i, end = args[1].i;
		if (start < 0)
			start = 0;
		if (end < 0 || end > len)
			end = len;
		if (start > end)
			return status_set(tp->st, STATUS_INVALID_ARGUMENT, "substring: start %lld is after end %lld",
					  args[0].i, end);
		out->kind = TV_STR;
		out->s = xstrndup(args[2].s + start, (size_t)(end - start));
	} else { /* field */
		const char *delim = args[0].s, *s = args[2].s;
		long long idx = args[1].i;
		size_t dl = strlen(delim);
		const char *start = s;
		for (long long k = 0; idx >= 0 && k < idx && start != NULL; k++) {
			const char *next = dl ? strstr(start, delim) : (*start ? start + 1 : NULL);
			start = next ? next + (dl ? dl : 0) : NULL;
		}
		if (idx < 0 || start == NULL)
			return status_set(tp->st, STATUS_INVALID_ARGUMENT, "field: cannot index into split string; index = %lld",
					  idx);
		const char *stop = dl ? strstr(start, delim) : (*start ? start + 1 : start);
		out->kind = TV_STR;
		out->s = stop ? xstrndup(start, (size_t)(stop - start)) : xstrdup(start);
	}
	return 0;
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* One operand: .Field, "string", `raw`, a number, ( pipeline ). Returns 1
 * when an operand was read, 0 when the next token is not one (an
 * identifier, '|', or the end), -1 on error. */
static int operand(struct tparse *tp, struct tval *out)
{
	skip_space(tp);
	memset(out, 0, sizeof *out);
	if (tp->p >= tp->end)
		return 0;
	char c = *tp->p;
	if (c == '.') {
		const char *s = ++tp->p;
		while (tp->p < tp->end && ident_char(*tp->p))
			tp->p++;
		size_t len = (size_t)(tp->p - s);
		if (len == 0)
			return status_set(tp->st, STATUS_INVALID_ARGUMENT, "\".\" alone has no value here; use .PVCName etc.");
		for (size_t i = 0; i < tp->n_vars; i++) {
			if (strlen(tp->vars[i].name) == len && strncmp(tp->vars[i].name, s, len) == 0) {
				out->kind = TV_STR;
				out->s = xstrdup(tp->vars[i].value ? tp->vars[i].value : "");
				return 1;
			}
		}
		return status_set(tp->st, STATUS_INVALID_ARGUMENT, "can't evaluate field %.*s", (int)len, s);
	}
	if (c == '"' || c == '`') {
		struct buf b;
		buf_init(&b);
		tp->p++;
		while (tp->p < tp->end && *tp->p != c) {
			char ch = *tp->p++;
			if (c == '"' && ch == '\\' && tp->p < tp->end) {
				char e = *tp->p++;
				ch = e == 'n' ? '\n' : e == 't' ? '\t' : e;
			}
			buf_putc(&b, ch);
		}
		if (tp->p >= tp->end) {
			buf_dispose(&b);
			return status_set(tp->st, STATUS_INVALID_ARGUMENT, "unterminated quoted string");
		}
		tp->p++;
		out->kind = TV_STR;
		out->s = buf_take(&b);
		buf_dispose(&b);
		return 1;
	}
	if (isdigit((unsigned char)c) || (c == '-' && tp->p + 1 < tp->end && isdigit((unsigned char)tp->p[1]))) {
		char num[32];
		size_t n = 0;
		while (tp->p < tp->end && n < sizeof num - 1 && (isdigit((unsigned char)*tp->p) || (n == 0 && *tp->p == '-')))
			num[n++] = *tp->p++;
		num[n] = '\0';
		errno = 0;
		out->kind = TV_INT;
		out->i = strtoll(num, NULL, 10);
		if (errno != 0 || (tp->p < tp->end && ident_char(*tp->p)))
			return status_set(tp->st, STATUS_INVALID_ARGUMENT, "bad number %s", num);
		return 1;
	}
	if (c == '(') {
		tp->p++;
		if (pipeline(tp, out) < 0)
			return -1;
		skip_space(tp);
		if (tp->p >= tp->end || *tp->p != ')') {
			tval_dispose(out);
			return status_set(tp->st, STATUS_INVALID_ARGUMENT, "unclosed left paren");
		}
		tp->p++;
		return 1;
	}
	return 0;
}

/* command := function operand* | operand; piped (may be NULL) is appended
 * as the last argument. */
static int command(struct tparse *tp, struct tval *piped, struct tval *out)
{
	skip_space(tp);
	struct tval args[4];
	size_t n = 0;
	int rc = -1;
	char name[32] = "";
	if (tp->p < tp->end && isalpha((unsigned char)*tp->p)) {
		size_t len = 0;
		while (tp->p < tp->end && ident_char(*tp->p)) {
			if (len < sizeof name - 1)
				name[len++] = *tp->p;
			tp->p++;
		}
		name[len] = '\0';
		if (strcmp(name, "if") == 0 || strcmp(name, "range") == 0 || strcmp(name, "with") == 0 ||
		    strcmp(name, "define") == 0 || strcmp(name, "template") == 0 || strcmp(name, "block") == 0 ||
		    strcmp(name, "end") == 0 || strcmp(name, "else") == 0)
			return status_set(tp->st, STATUS_INVALID_ARGUMENT, "\"%s\" is not supported in tag templates", name);
	}
	for (;;) {
		struct tval v;
		int r = operand(tp, &v);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (n == 3) {
			tval_dispose(&v);
			status_set(tp->st, STATUS_INVALID_ARGUMENT, "too many arguments");
			goto out;
		}
		args[n++] = v;
	}
	skip_space(tp);
	if (tp->p < tp->end && *tp->p != '|' && *tp->p != ')') {
		status_set(tp->st, STATUS_INVALID_ARGUMENT, "unexpected \"%c\" in action", *tp->p);
		goto out;
	}
	if (piped != NULL) {
		args[n++] = *piped;
		piped->s = NULL;
		piped->kind = TV_INT;
	}
	if (name[0] != '\0') {
		rc = call(tp, name, args, n, out);
	} else if (n == 1) {
		*out = args[0];
		n = 0;
		rc = 0;
	} else {
		status_set(tp->st, STATUS_INVALID_ARGUMENT, n == 0 ? "missing value for command"
								 : "can't give argument to non-function");
	}
out:
	for (size_t i = 0; i < n; i++)
		tval_dispose(&args[i]);
	return rc;
}

static int pipeline(struct tparse *tp, struct tval *out)
{
	struct tval cur;
	if (command(tp, NULL, &cur) < 0)
		return -1;
	for (;;) {
		skip_space(tp);
		if (tp->p >= tp->end || *tp->p != '|')
			break;
		tp->p++;
		struct tval next;
		int rc = command(tp, &cur, &next);
		tval_dispose(&cur);
		if (rc < 0)
			return -1;
		cur = next;
	}
	*out = cur;
	return 0;
}

char *controller_template_eval(const char *tmpl, const struct controller_tvar *vars, size_t n_vars,
			       struct status *st)
{
	struct buf b;
	buf_init(&b);
	const char *p = tmpl;
	for (;;) {
		const char *open = strstr(p, "{{");
		if (open == NULL) {
			buf_puts(&b, p);
			break;
		}
		buf_append(&b, p, (size_t)(open - p));
		const char *a = open + 2;
		if (a[0] == '-' && isspace((unsigned char)a[1])) {
			while (b.len > 0 && isspace((unsigned char)b.data[b.len - 1]))
				b.data[--b.len] = '\0';
			a += 2;
		}
		/* Find the closing braces outside quoted strings. */
		const char *q = a;
		char quote = 0;
		while (*q && (quote || q[0] != '}' || q[1] != '}')) {
			if (quote && *q == '\\' && quote == '"' && q[1])
				q++;
			else if (*q == quote)
				quote = 0;
			else if (!quote && (*q == '"' || *q == '`'))
				quote = *q;
			q++;
		}
		if (*q == '\0') {
			status_set(st, STATUS_INVALID_ARGUMENT, "unclosed action");
			goto fail;
		}
		const char *end = q;
		bool trim_right = end - a >= 2 && end[-1] == '-' && isspace((unsigned char)end[-2]);
		if (trim_right)
			end--;
		while (a < end && isspace((unsigned char)*a))
			a++;
		if (end - a >= 4 && strncmp(a, "/*", 2) == 0) {
			/* A comment action ({{/ * ... * /}} without the spaces): nothing to print. */
		} else {
			struct tparse tp = { a, end, vars, n_vars, st };
			struct tval v;
			if (pipeline(&tp, &v) < 0)
				goto fail;
			skip_space(&tp);
			if (tp.p < tp.end) {
				tval_dispose(&v);
				status_set(st, STATUS_INVALID_ARGUMENT, "unexpected \"%c\" in action", *tp.p);
				goto fail;
			}
			if (v.kind == TV_STR)
				buf_puts(&b, v.s);
			else if (v.kind == TV_INT)
				buf_printf(&b, "%lld", v.i);
			else
				buf_puts(&b, v.i ? "true" : "false");
			tval_dispose(&v);
		}
		p = q + 2;
		if (trim_right)
			while (isspace((unsigned char)*p))
				p++;
	}
	char *s = buf_take(&b);
	buf_dispose(&b);
	return s;
fail:
	buf_dispose(&b);
	return NULL;
}

/* ---- building tag sets ---------------------------------------------------------------- */

int controller_add_tag_specs(const struct controller_service *svc, const struct strv *specs,
			     const struct controller_tvar *vars, size_t n_vars, struct cloud_tags *tags,
			     struct status *st)
{
	for (size_t i = 0; i < specs->n; i++) {
		const char *spec = specs->v[i];
		const char *eq = strchr(spec, '=');
		struct status local = STATUS_INIT;
		char *key = eq ? xstrndup(spec, (size_t)(eq - spec)) : NULL;
		char *value = NULL;
		if (key == NULL)
			status_set(&local, STATUS_INVALID_ARGUMENT, "tagSpecification \"%s\": the key-value pair has no \"=\"",
				   spec);
		else if (controller_tag_key_reserved(key))
			status_set(&local, STATUS_INVALID_ARGUMENT, "tagSpecification \"%s\": tag key %s is reserved", spec,
				   key);
		else if ((value = controller_template_eval(eq + 1, vars, n_vars, &local)) == NULL)
			status_prefix(&local, "tagSpecification \"%s\": error interpolating tag value: ", spec);
		else if (check_ec2_tag("tagSpecification", key, value, &local) == 0)
			cloud_tags_set(tags, key, value);
		free(key);
		free(value);
		if (local.code == STATUS_OK)
			continue;
		if (!svc->warn_on_invalid_tag)
			return status_copy(st, &local);
		log_warn("skipping an invalid tag (--warn-on-invalid-tag): %s", local.msg);
	}
	return 0;
}

/* kubernetes.io/cluster/<id>=owned, Name=<id>-dynamic-<name>, cluster-name. */
static void cluster_tags(const struct controller_service *svc, const char *name, struct cloud_tags *tags)
{
	char *k = xasprintf("kubernetes.io/cluster/%s", svc->cluster_id);
	char *n = xasprintf("%s-dynamic-%s", svc->cluster_id, name);
	cloud_tags_set(tags, k, "owned");
	cloud_tags_set(tags, "Name", n);
	cloud_tags_set(tags, CONTROLLER_TAG_CLUSTER_NAME, svc->cluster_id);
	free(k);
	free(n);
}

static void add_extra(const struct controller_service *svc, struct cloud_tags *tags)
{
	for (size_t i = 0; i < svc->extra_tags.n; i++)
		cloud_tags_set(tags, svc->extra_tags.v[i].key, svc->extra_tags.v[i].value);
}

int controller_volume_tags(const struct controller_service *svc, const char *name,
			   const struct controller_volume_params *p, struct cloud_tags *tags, struct status *st)
{
	cloud_tags_init(tags);
	cloud_tags_set(tags, CLOUD_TAG_VOLUME_NAME, name);
	cloud_tags_set(tags, CONTROLLER_TAG_CLUSTER, "true");
	if (p->pvc_name)
		cloud_tags_set(tags, CONTROLLER_TAG_PVC_NAME, p->pvc_name);
	if (p->pvc_namespace)
		cloud_tags_set(tags, CONTROLLER_TAG_PVC_NAMESPACE, p->pvc_namespace);
	if (p->pv_name)
		cloud_tags_set(tags, CONTROLLER_TAG_PV_NAME, p->pv_name);
	if (p->iops_per_gb) {
		char v[16];
		snprintf(v, sizeof v, "%d", (int)p->iops_per_gb);
		cloud_tags_set(tags, CONTROLLER_TAG_IOPS_PER_GB, v);
	}
	if (p->allow_iops_increase_on_modify >= 0)
		cloud_tags_set(tags, CONTROLLER_TAG_ALLOW_IOPS_INCREASE, p->allow_iops_increase_on_modify ? "true" : "false");
	if (svc->cluster_id != NULL) {
		cluster_tags(svc, name, tags);
		cloud_tags_set(tags, "KubernetesCluster", svc->cluster_id);
	}
	add_extra(svc, tags);
	const struct controller_tvar vars[] = {
		{ "PVCName", p->pvc_name },
		{ "PVCNamespace", p->pvc_namespace },
		{ "PVName", p->pv_name },
	};
	return controller_add_tag_specs(svc, &p->tag_specs, vars, 3, tags, st);
}

int controller_snapshot_tags(const struct controller_service *svc, const char *name,
			     const struct controller_snapshot_params *p, struct cloud_tags *tags, struct status *st)
{
	cloud_tags_init(tags);
	cloud_tags_set(tags, CLOUD_TAG_SNAPSHOT_NAME, name);
	cloud_tags_set(tags, CONTROLLER_TAG_CLUSTER, "true");
	if (svc->cluster_id != NULL)
		cluster_tags(svc, name, tags);
	add_extra(svc, tags);
	const struct controller_tvar vars[] = {
		{ "VolumeSnapshotName", p->vs_name },
		{ "VolumeSnapshotNamespace", p->vs_namespace },
		{ "VolumeSnapshotContentName", p->vsc_name },
	};
	return controller_add_tag_specs(svc, &p->tag_specs, vars, 3, tags, st);
}
