/*
 * ec2_xml_internal: the path-tracking expat driver shared by the ec2_xml_*.c
 * parsers. Not a public interface: only cloud/ec2_xml*.c include it.
 *
 * The driver keeps the stack of element local names (names[1] is the root) and
 * the text of the current element; an action supplies start/end callbacks that
 * look at x->depth and the names to decide where they are. Objects that occur
 * in several places (a Volume at the root of CreateVolume and inside volumeSet
 * of DescribeVolumes) are parsed by sub-parsers given the depth of the object
 * element. Fields are mapped by tables of {name, type, offset}.
 */
#ifndef EBS_CLOUD_EC2_XML_INTERNAL_H
#define EBS_CLOUD_EC2_XML_INTERNAL_H

#include <expat.h>
#include <stdbool.h>
#include <stddef.h>

#include "cloud/ec2_xml.h"
#include "cloud/xml_guard.h"

#define EC2_XP_NAME_MAX 48

struct ec2_xp {
	struct xml_guard g;              /* first: see xml_guard.h */
	const char *action;              /* "CreateVolume" */
	void (*on_start)(struct ec2_xp *x);  /* below the root only */
	void (*on_end)(struct ec2_xp *x);
	void *out;
	int depth;                       /* of the current element, root = 1 */
	char names[EC2_XML_MAX_DEPTH + 1][EC2_XP_NAME_MAX];
	char *text;                      /* EC2_XML_TEXT_MAX + 1 bytes */
	size_t text_len;
	bool text_over;                  /* the current element's text was cut */
	bool failed;
	bool error_doc;                  /* root <Response>/<ErrorResponse> */
	struct status err;
	/* Scratch shared by the sub-parsers (one object is open at a time per kind). */
	char *tag_key;
	char *tag_value;
	char *s1;                        /* action-specific strings (FSR snapshot id, ...) */
	char *s2;
	char *s3;
	size_t mark;                     /* action-specific index */
};

/* Field types of a mapping table. */
enum ec2_xf {
	EC2_XF_STR,          /* char * (replaced) */
	EC2_XF_I64,          /* int64_t */
	EC2_XF_I32,          /* int32_t */
	EC2_XF_INT,          /* int */
	EC2_XF_BOOL,         /* bool */
	EC2_XF_TIME,         /* int64_t epoch ms */
	EC2_XF_DISK_STATE,   /* enum cloud_disk_state */
	EC2_XF_ATTACH_STATE, /* enum cloud_attach_state */
	EC2_XF_SNAP_STATE,   /* enum cloud_snapshot_state */
	EC2_XF_MOD_STATE,    /* enum cloud_mod_state */
	EC2_XF_PERCENT,      /* int from "80%" */
};

struct ec2_xf_field {
	const char *name;
	enum ec2_xf type;
	size_t off;
};

/* Runs the parser over body; x->action, on_start, on_end and out must be set.
 * Returns 0 or -1 as described in ec2_xml.h. Frees the scratch. */
int ec2_xp_run(struct ec2_xp *x, const char *body, size_t len, struct status *st);

/* An empty <nextToken/> means the last page, as an absent one does: frees an
 * empty *token and sets it to NULL. */
void ec2_xp_drop_empty(char **token);

/* True when the element at depth d (1 = root) is named name. */
bool ec2_xp_is(const struct ec2_xp *x, int d, const char *name);
/* The current element's local name. */
const char *ec2_xp_name(const struct ec2_xp *x);
/* The current element's text, trimmed (valid until the next event). */
const char *ec2_xp_text(struct ec2_xp *x);
/* Records the first failure (STATUS_INTERNAL "<action>: ...") and stops. */
void ec2_xp_fail(struct ec2_xp *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* If the current element is named in tab, stores its text into obj. Returns
 * true when it matched. */
bool ec2_xp_fields(struct ec2_xp *x, const struct ec2_xf_field *tab, size_t n, void *obj);
#define EC2_XP_FIELDS(x, tab, obj) ec2_xp_fields((x), (tab), sizeof(tab) / sizeof((tab)[0]), (obj))

/* Tag sets: item_depth is the depth of each tag <item>. Call on every start /
 * end below the tagSet element. */
void ec2_xp_tag_start(struct ec2_xp *x, int item_depth);
void ec2_xp_tag_end(struct ec2_xp *x, int item_depth, struct cloud_tags *tags);

/* Sub-parsers: b is the depth of the object's own element. */
void ec2_xp_volume_start(struct ec2_xp *x, int b, struct cloud_disk *d);
void ec2_xp_volume_end(struct ec2_xp *x, int b, struct cloud_disk *d);
void ec2_xp_attachment_end(struct ec2_xp *x, int b, struct cloud_attachment *a);
void ec2_xp_snapshot_start(struct ec2_xp *x, int b, struct cloud_snapshot *s);
void ec2_xp_snapshot_end(struct ec2_xp *x, int b, struct cloud_snapshot *s);
void ec2_xp_modification_end(struct ec2_xp *x, int b, struct cloud_modification *m);

/* The list element under the root being opened/closed: true when the current
 * element is a child (item) of root/<set>, i.e. depth 3 and names[2] == set. */
bool ec2_xp_item_of(const struct ec2_xp *x, const char *set);
/* True while inside root/<set>/<item>/... at depth > 3. */
bool ec2_xp_inside_item_of(const struct ec2_xp *x, const char *set);

#endif
