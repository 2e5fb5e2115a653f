/*
 * sim_query: what every Describe call shares — filter values with EC2's
 * wildcards (* and ?), the tag:<key> and tag-key filters, and paging with
 * MaxResults / NextToken over results sorted by ID.
 *
 * Pure. A NextToken is "<last ID returned>" behind a fixed prefix, so pages stay
 * correct when objects are created or deleted between calls (no offset drift),
 * and a token from another listing or a forged one is refused.
 */
#ifndef EBS_EC2SIM_SIM_QUERY_H
#define EBS_EC2SIM_SIM_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "cloud/ec2sim/sim_form.h"
#include "cloud/ec2sim/sim_state.h"

/* True when s matches any of values (fnmatch, EC2 wildcards). NULL s matches nothing. */
bool sim_query_match(const struct strv *values, const char *s);

/* For a filter named tag:<key> or tag-key: sets *handled and returns whether
 * tags match. For other names: *handled = false, returns false. */
bool sim_query_match_tags(const struct sim_filter *f, const struct sim_tags *tags, bool *handled);

/* A page of n results sorted by ids (ascending, strcmp). MaxResults (if sent)
 * must lie in min_results.. (anything above max_results is clamped); without
 * it every remaining result is returned. On success [*start, *end) is the page
 * and *next_token a heap token, or NULL on the last page. Errors: 400
 * InvalidParameterValue (MaxResults out of range, bad NextToken). */
int sim_query_page(const char *const *ids, size_t n, const struct sim_form *f, long long min_results,
		   long long max_results, size_t *start, size_t *end, char **next_token, struct sim_err *e);

/* sim_query_page over n objects whose first member is `char *id` (a sort key),
 * sorted here by it first: [*start, *end) then indexes objs. */
int sim_query_page_by_id(void **objs, size_t n, const struct sim_form *f, long long min_results,
			 long long max_results, size_t *start, size_t *end, char **next_token, struct sim_err *e);

#endif
