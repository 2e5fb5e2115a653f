/*
 * sim_tags: CreateTags, DeleteTags and DescribeTags on volumes and snapshots.
 *
 * EC2's rules: every resource must exist (the whole call fails otherwise and
 * changes nothing), keys are 1-128 characters and must not start with "aws:",
 * values at most 256, at most 50 tags per resource (TagLimitExceeded). DeleteTags
 * without a value deletes the key whatever its value; with a value (even
 * empty) only on a match; without any Tag.N it deletes every tag.
 */
#include "cloud/ec2sim/sim_ec2.h"

#include "cloud/ec2sim/sim_query.h"
#include "cloud/ec2sim/sim_rules.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TAGS 50

/* The tag set of a resource ID, or NULL with the right NotFound / InvalidID error. */
static struct sim_tags *resource_tags(struct sim_call *c, const char *id, struct sim_err *e)
{
	if (sim_rules_id_valid("vol", id)) {
		struct sim_volume *v = sim_state_volume(&c->sim->st, id);
		if (v != NULL)
			return &v->tags;
		sim_err_set(e, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id);
	} else if (sim_rules_id_valid("snap", id)) {
		struct sim_snapshot *sn = sim_state_snapshot(&c->sim->st, id);
		if (sn != NULL)
			return &sn->tags;
		sim_err_set(e, 400, "InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id);
	} else {
		sim_err_set(e, 400, "InvalidID", "The ID '%s' is not valid", id);
	}
	return NULL;
}

struct tag_req {
	char *key;
	char *value;  /* NULL: not sent */
};

static void free_req(struct tag_req *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].value);
	}
	free(t);
}

static int parse_tags(struct sim_call *c, struct tag_req **out, size_t *n, struct sim_err *e)
{
	size_t cnt;
	unsigned *idx = sim_form_indices(c->form, "Tag", &cnt);
	struct tag_req *t = xcalloc(cnt + 1, sizeof *t);
	int rc = 0;
	size_t k = 0;
	for (size_t i = 0; i < cnt && rc == 0; i++) {
		char kk[64], kv[64];
		snprintf(kk, sizeof kk, "Tag.%u.Key", idx[i]);
		snprintf(kv, sizeof kv, "Tag.%u.Value", idx[i]);
		const char *key = sim_form_get(c->form, kk), *val = sim_form_get(c->form, kv);
		if (key == NULL || *key == '\0' || strlen(key) > 128)
			rc = sim_err_value(e, "Tag key %s must be 1-128 characters", kk);
		else if (strncmp(key, "aws:", 4) == 0)
			rc = sim_err_value(e, "Tag keys starting with 'aws:' are reserved for internal use");
		else if (val != NULL && strlen(val) > 256)
			rc = sim_err_value(e, "Tag value %s is longer than 256 characters", kv);
		else {
			t[k].key = xstrdup(key);
			t[k].value = val ? xstrdup(val) : NULL;
			k++;
		}
	}
	free(idx);
	if (rc != 0) {
		free_req(t, k);
		return -1;
	}
	*out = t;
	*n = k;
	return 0;
}

static int change_tags(struct sim_call *c, bool create, struct sim_err *e)
{
	struct strv ids;
	strv_init(&ids);
	sim_form_list(c->form, "ResourceId", &ids);
	struct tag_req *tags = NULL;
	size_t n = 0;
	int rc = 0;
	if (ids.n == 0)
		rc = sim_err_set(e, 400, "MissingParameter", "The request must contain the parameter resourceIdSet");
	if (rc == 0)
		rc = parse_tags(c, &tags, &n, e);
	if (rc == 0 && create && n == 0)
		rc = sim_err_set(e, 400, "MissingParameter", "The request must contain the parameter tagSet");
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		struct sim_tags *t = resource_tags(c, ids.v[i], e);
		if (t == NULL) {
			rc = -1;
			break;
		}
		if (create) {
			size_t add = 0;
			for (size_t k = 0; k < n; k++)
				if (sim_tags_get(t, tags[k].key) == NULL)
					add++;
			if (t->n + add > MAX_TAGS)
				rc = sim_err_set(e, 400, "TagLimitExceeded", "The maximum number of tags for %s is %d",
						 ids.v[i], MAX_TAGS);
		}
	}
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		struct sim_tags *t = resource_tags(c, ids.v[i], e);
		if (create) {
			for (size_t k = 0; k < n; k++)
				sim_tags_set(t, tags[k].key, tags[k].value ? tags[k].value : "");
		} else if (n == 0) {
			sim_tags_dispose(t);
		} else {
			for (size_t k = 0; k < n; k++)
				sim_tags_remove(t, tags[k].key, tags[k].value);
		}
		c->mutated = true;
	}
	if (rc == 0)
		sim_xml_bool(c->out, "return", true);
	free_req(tags, n);
	strv_dispose(&ids);
	return rc;
}

int sim_act_create_tags(struct sim_call *c, struct sim_err *e)
{
	return change_tags(c, true, e);
}

int sim_act_delete_tags(struct sim_call *c, struct sim_err *e)
{
	return change_tags(c, false, e);
}

struct tag_row {
	char *sort_key;   /* "<resource id>\t<key>": must stay first (sim_query_page_by_id) */
	const char *resource_id;
	const char *resource_type;
	const struct sim_tag *tag;
};

static bool row_matches(const struct tag_row *r, const struct sim_filters *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		const char *n = fs->v[i].name;
		const char *val = strcmp(n, "key") == 0           ? r->tag->key
				  : strcmp(n, "value") == 0       ? r->tag->value
				  : strcmp(n, "resource-id") == 0 ? r->resource_id
								  : r->resource_type;
		if (!sim_query_match(&fs->v[i].values, val))
			return false;
	}
	return true;
}

static void add_rows(struct tag_row **rows, size_t *n, const char *id, const char *type, const struct sim_tags *t,
		     const struct sim_filters *fs)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tag_row r = { NULL, id, type, &t->v[i] };
		if (!row_matches(&r, fs))
			continue;
		r.sort_key = xasprintf("%s\t%s", id, t->v[i].key);
		*rows = xrealloc(*rows, (*n + 1) * sizeof **rows);
		(*rows)[(*n)++] = r;
	}
}

int sim_act_describe_tags(struct sim_call *c, struct sim_err *e)
{
	struct sim_filters fs = { 0 };
	if (sim_form_filters(c->form, &fs, e) != 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < fs.n && rc == 0; i++) {
		const char *n = fs.v[i].name;
		if (strcmp(n, "key") != 0 && strcmp(n, "value") != 0 && strcmp(n, "resource-id") != 0 &&
		    strcmp(n, "resource-type") != 0)
			rc = sim_err_value(e, "The filter '%s' is invalid", n);
	}
	struct tag_row *rows = NULL;
	size_t n = 0;
	if (rc == 0) {
		for (size_t i = 0; i < c->sim->st.n_vols; i++)
			if (c->sim->st.vols[i]->status != SIM_VOL_DELETED)
				add_rows(&rows, &n, c->sim->st.vols[i]->id, "volume", &c->sim->st.vols[i]->tags, &fs);
		for (size_t i = 0; i < c->sim->st.n_snaps; i++)
			add_rows(&rows, &n, c->sim->st.snaps[i]->id, "snapshot", &c->sim->st.snaps[i]->tags, &fs);
	}
	struct tag_row **ptrs = xcalloc(n + 1, sizeof *ptrs);
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &rows[i];
	size_t start = 0, end = 0;
	char *next = NULL;
	if (rc == 0)
		rc = sim_query_page_by_id((void **)ptrs, n, c->form, 5, 1000, &start, &end, &next, e);
	if (rc == 0 && c->dry_run)
		rc = sim_err_dry_run(e);
	if (rc == 0) {
		sim_xml_open(c->out, "tagSet");
		for (size_t i = start; i < end; i++) {
			sim_xml_open(c->out, "item");
			sim_xml_str(c->out, "resourceId", ptrs[i]->resource_id);
			sim_xml_str(c->out, "resourceType", ptrs[i]->resource_type);
			sim_xml_str(c->out, "key", ptrs[i]->tag->key);
			sim_xml_str(c->out, "value", ptrs[i]->tag->value);
			sim_xml_close(c->out, "item");
		}
		sim_xml_close(c->out, "tagSet");
		sim_xml_str(c->out, "nextToken", next);
	}
	free(next);
	for (size_t i = 0; i < n; i++)
		free(rows[i].sort_key);
	free(rows);
	free(ptrs);
	sim_filters_dispose(&fs);
	return rc;
}
