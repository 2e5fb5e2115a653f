/*
 * sim_query: filters and paging. See sim_query.h.
 */
#include "cloud/ec2sim/sim_query.h"

#include "common/xalloc.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_PREFIX "ebs-sim-page:"

bool sim_query_match(const struct strv *values, const char *s)
{
	if (s == NULL)
		return false;
	for (size_t i = 0; i < values->n; i++)
		if (fnmatch(values->v[i], s, 0) == 0)
			return true;
	return false;
}

bool sim_query_match_tags(const struct sim_filter *f, const struct sim_tags *tags, bool *handled)
{
	*handled = true;
	if (strncmp(f->name, "tag:", 4) == 0)
		return sim_query_match(&f->values, sim_tags_get(tags, f->name + 4));
	if (strcmp(f->name, "tag-key") == 0) {
		for (size_t i = 0; i < tags->n; i++)
			if (sim_query_match(&f->values, tags->v[i].key))
				return true;
		return false;
	}
	*handled = false;
	return false;
}

int sim_query_page(const char *const *ids, size_t n, const struct sim_form *f, long long min_results,
		   long long max_results, size_t *start, size_t *end, char **next_token, struct sim_err *e)
{
	*next_token = NULL;
	*start = 0;
	*end = n;
	long long maxr = 0;
	bool has_max;
	if (sim_form_int(f, "MaxResults", -2147483648LL, 2147483647LL, &maxr, &has_max, e) != 0)
		return -1;
	if (has_max && maxr < min_results)
		return sim_err_value(e, "Value ( %lld ) for parameter maxResults is invalid. Expecting a value greater "
				     "than %lld.", maxr, min_results - 1);
	if (has_max && maxr > max_results)
		maxr = max_results;
	const char *tok = sim_form_get(f, "NextToken");
	if (tok != NULL && *tok != '\0') {
		size_t pl = strlen(TOKEN_PREFIX);
		if (strncmp(tok, TOKEN_PREFIX, pl) != 0 || tok[pl] == '\0')
			return sim_err_value(e, "Invalid value '%s' for nextToken", tok);
		size_t i = 0;
		while (i < n && strcmp(ids[i], tok + pl) <= 0)
			i++;
		*start = i;
	}
	if (has_max && (size_t)maxr < n - *start) {
		*end = *start + (size_t)maxr;
		*next_token = xasprintf("%s%s", TOKEN_PREFIX, ids[*end - 1]);
	}
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	const char *x = **(char *const *const *)a;
	const char *y = **(char *const *const *)b;
	return strcmp(x, y);
}

static void sort_by_id(void **ptrs, size_t n)
{
	if (n > 1)
		qsort(ptrs, n, sizeof *ptrs, cmp_id);
}

int sim_query_page_by_id(void **objs, size_t n, const struct sim_form *f, long long min_results,
			 long long max_results, size_t *start, size_t *end, char **next_token, struct sim_err *e)
{
	sort_by_id(objs, n);
	const char **ids = xcalloc(n + 1, sizeof *ids);
	for (size_t i = 0; i < n; i++)
		ids[i] = *(char *const *)objs[i];
	int rc = sim_query_page(ids, n, f, min_results, max_results, start, end, next_token, e);
	free(ids);
	return rc;
}
