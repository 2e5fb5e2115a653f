/*
 * ec2_form: builds the body of an EC2 Query API request — an
 * application/x-www-form-urlencoded string that starts with
 * Action=<Op>&Version=2016-11-15 — with the EC2 protocol's list flattening
 * (aws-facts.md §1.2): `Name.N`, `Filter.N.Name` / `Filter.N.Value.M`,
 * `TagSpecification.N.ResourceType` / `TagSpecification.N.Tag.M.Key|Value`,
 * `Tag.N.Key|Value`; 1-based, no `.member.` segment, an empty list sends nothing.
 *
 * Encoding is RFC 3986: A-Z a-z 0-9 - _ . ~ stay, every other byte is %XX
 * (upper-case hex, space as %20). EC2 decodes it as any form body, and SigV4
 * covers the body only through its hash, so this is as good as botocore's '+'.
 * Not here: sending, signing, choosing members per action (the AWS glue does).
 * Invariants: the body is always a valid form string; keys and values are
 * encoded exactly once; nothing here can fail (allocation aborts).
 */
#ifndef EBS_CLOUD_EC2_FORM_H
#define EBS_CLOUD_EC2_FORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/cloud.h"
#include "common/buf.h"

#define EC2_API_VERSION "2016-11-15"

/* A form being built; caller-owned, ec2_form_init / ec2_form_dispose. */
struct ec2_form {
	struct buf body;
	unsigned n_filters;          /* Filter.N counter for ec2_form_filter */
	unsigned n_tag_specs;        /* TagSpecification.N counter */
};

/* Starts a body with Action=action&Version=2016-11-15. */
void ec2_form_init(struct ec2_form *f, const char *action);
void ec2_form_dispose(struct ec2_form *f);

/* The body so far (NUL-terminated, borrowed) and its length. */
const char *ec2_form_body(const struct ec2_form *f);
size_t ec2_form_len(const struct ec2_form *f);
/* Moves the body to the caller (free() it); f is left disposed. */
char *ec2_form_take(struct ec2_form *f);

/* Appends &key=value, both encoded. value NULL appends nothing; "" appends
 * "key=" (CreateTags' "tag with no value"). */
void ec2_form_add(struct ec2_form *f, const char *key, const char *value);
/* &key=<decimal>. */
void ec2_form_add_int(struct ec2_form *f, const char *key, int64_t v);
/* &key=true|false. */
void ec2_form_add_bool(struct ec2_form *f, const char *key, bool v);
/* Helpers that send only when the value is set: int when != 0, bool when
 * true, string when not NULL and not "". */
void ec2_form_opt(struct ec2_form *f, const char *key, const char *value);
void ec2_form_opt_int(struct ec2_form *f, const char *key, int64_t v);
void ec2_form_opt_true(struct ec2_form *f, const char *key, bool v);

/* prefix.1=values[0]&prefix.2=... (VolumeId.N, InstanceId.N, ZoneName.N,
 * SourceSnapshotId.N, ResourceId.N ...). n == 0 sends nothing. */
void ec2_form_add_list(struct ec2_form *f, const char *prefix, const char *const *values, size_t n);

/* The next Filter.N: Filter.N.Name=name&Filter.N.Value.1=..., numbered in call
 * order from 1. A filter with no values is not sent (EC2 would reject it). */
void ec2_form_filter(struct ec2_form *f, const char *name, const char *const *values, size_t n_values);
/* Shorthand for a one-value filter. */
void ec2_form_filter1(struct ec2_form *f, const char *name, const char *value);

/* The next TagSpecification.N with ResourceType=resource_type ("volume",
 * "snapshot") and its Tag.M.Key/Value. NULL or empty tags send nothing. */
void ec2_form_tag_spec(struct ec2_form *f, const char *resource_type, const struct cloud_tags *tags);

/* Tag.N.Key / Tag.N.Value for CreateTags (value always sent, "" included). */
void ec2_form_tags(struct ec2_form *f, const struct cloud_tags *tags);
/* Tag.N.Key only, for DeleteTags: deletes each key whatever its value. */
void ec2_form_tag_keys(struct ec2_form *f, const char *const *keys, size_t n);

/* Appends s RFC 3986-encoded to b (exposed for the tests and the signer's
 * callers). */
void ec2_form_encode(struct buf *b, const char *s);

#endif
