/*
 * sim_form: an EC2 Query request's parameters — parsing the
 * application/x-www-form-urlencoded body (or GET query), typed lookups that fail
 * with EC2's own errors, the flattened lists of the EC2 protocol (Name.1,
 * Name.2 …, nested Filter.N.Value.M, TagSpecification.N.Tag.M.Key), and the
 * allow-list check that answers UnknownParameter.
 *
 * Pure: no I/O, no clock. Keys and values are percent-decoded ('+' is a space).
 * Invariants: keys are unique (a repeated key is rejected at parse time, so a
 * lookup never has to choose); list indices are positive decimal integers
 * without leading zeros; lists come back ordered by index, gaps allowed.
 */
#ifndef EBS_EC2SIM_SIM_FORM_H
#define EBS_EC2SIM_SIM_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "cloud/ec2sim/sim_state.h"
#include "cloud/ec2sim/sim_xml.h"
#include "common/strv.h"

struct sim_param {
	char *key;
	char *value;
};

struct sim_form {
	struct sim_param *v;
	size_t n;
};

void sim_form_init(struct sim_form *f);
void sim_form_dispose(struct sim_form *f);
/* Adds one decoded pair (copied). Returns -1 when the key is already present. */
int sim_form_add(struct sim_form *f, const char *key, const char *value);

/* Parses a urlencoded string of len bytes (need not be NUL-terminated) into f,
 * which must be initialised. Returns 0, or -1 with e = 400
 * InvalidParameterValue / MalformedQueryString (bad %-escape, repeated key). */
int sim_form_parse(struct sim_form *f, const char *s, size_t len, struct sim_err *e);

/* The value of key, or NULL. */
const char *sim_form_get(const struct sim_form *f, const char *key);

/* Checks every key against patterns (NULL-terminated), where a pattern is
 * dot-separated and the token "N" matches a list index: "Filter.N.Value.N".
 * "Action" and "Version" are always allowed. Returns 0, or -1 with e = 400
 * UnknownParameter naming the first key that matches none. */
int sim_form_check_allowed(const struct sim_form *f, const char *const *patterns, struct sim_err *e);

/* True when key matches pattern (as above). */
bool sim_form_key_matches(const char *key, const char *pattern);

/* Typed lookups. *present tells whether the key was sent (may be NULL when the
 * caller does not care); the output is untouched when absent. Errors: 400
 * InvalidParameterValue naming the parameter. */
int sim_form_int(const struct sim_form *f, const char *key, long long min, long long max, long long *out,
		 bool *present, struct sim_err *e);
int sim_form_bool(const struct sim_form *f, const char *key, bool *out, bool *present, struct sim_err *e);
/* The value of a required key, or NULL with 400 MissingParameter. */
const char *sim_form_required(const struct sim_form *f, const char *key, struct sim_err *e);

/* Appends the values of prefix.1, prefix.2 … (ordered by index) to out.
 * Returns the number appended. */
size_t sim_form_list(const struct sim_form *f, const char *prefix, struct strv *out);

/* The sorted, distinct indices N of keys "prefix.N[.…]"; *n gets the count.
 * Returns a heap array (free()); NULL when there is none. */
unsigned *sim_form_indices(const struct sim_form *f, const char *prefix, size_t *n);

struct sim_filter {
	char *name;
	struct strv values;
};

struct sim_filters {
	struct sim_filter *v;
	size_t n;
};

/* Parses Filter.N.Name / Filter.N.Value.M. Returns 0, or -1 with 400
 * InvalidParameterValue (a filter without a name, or without values). */
int sim_form_filters(const struct sim_form *f, struct sim_filters *out, struct sim_err *e);
void sim_filters_dispose(struct sim_filters *fs);

/* Collects the tags of every TagSpecification.N whose ResourceType is
 * resource_type into tags. Another resource type → 400 InvalidParameterValue,
 * a tag without a key → 400 InvalidParameterValue, a key starting with "aws:"
 * → 400 InvalidParameterValue (reserved). */
int sim_form_tag_specs(const struct sim_form *f, const char *resource_type, struct sim_tags *tags,
		       struct sim_err *e);

/* A canonical string of every parameter except those named in skip
 * (NULL-terminated): "k=v\n" lines sorted by key. Heap string. */
char *sim_form_fingerprint(const struct sim_form *f, const char *const *skip);

#endif
