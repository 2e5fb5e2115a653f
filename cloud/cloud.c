/*
 * cloud: the plain data of the seam (cloud.h) — init/dispose/copy of the
 * structs, the vectors they come in, the EC2 state names, the op names.
 *
 * No I/O and no policy: this is the vocabulary shared by the EC2 parsers
 * (ec2_xml), the AWS implementation and the fake. Invariants: an initialised
 * struct holds no heap memory until something is stored in it; dispose frees
 * everything and leaves the struct initialised, so a second dispose is harmless.
 */
#include "cloud/cloud.h"

#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

/* Returns v (elements of size sz) grown to hold at least n + 1, with the slot
 * at index n zeroed; *cap tracks the allocation. Use through GROW. */
static void *grow_array(void *v, size_t *cap, size_t n, size_t sz)
{
	if (n + 1 > *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		v = xrealloc(v, c * sz);
		*cap = c;
	}
	memset((char *)v + n * sz, 0, sz);
	return v;
}

/* Appends a zeroed element to the array field arr (count n, capacity cap) and
 * evaluates to a pointer to it. */
#define GROW(arr, cap, n) ((arr) = grow_array((arr), &(cap), (n), sizeof *(arr)), &(arr)[(n)++])

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void free_str(char **s)
{
	free(*s);
	*s = NULL;
}

/* ---- names ----------------------------------------------------------------- */

static int lookup(const char *const *names, size_t n, const char *s)
{
	if (s == NULL)
		return 0;
	for (size_t i = 1; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return 0;
}

static const char *const disk_states[] = { "unknown", "creating", "available", "in-use", "deleting", "deleted",
					   "error" };
static const char *const attach_states[] = { "unknown", "attaching", "attached", "detaching", "detached", "busy" };
static const char *const snapshot_states[] = { "unknown", "pending", "completed", "error", "recoverable",
					       "recovering" };
static const char *const mod_states[] = { "unknown", "modifying", "optimizing", "completed", "failed" };

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NAME(a, i) ((size_t)(i) < N(a) ? (a)[(i)] : (a)[0])

enum cloud_disk_state cloud_disk_state_parse(const char *s)
{
	return (enum cloud_disk_state)lookup(disk_states, N(disk_states), s);
}
const char *cloud_disk_state_name(enum cloud_disk_state s)
{
	return NAME(disk_states, s);
}
enum cloud_attach_state cloud_attach_state_parse(const char *s)
{
	return (enum cloud_attach_state)lookup(attach_states, N(attach_states), s);
}
const char *cloud_attach_state_name(enum cloud_attach_state s)
{
	return NAME(attach_states, s);
}
enum cloud_snapshot_state cloud_snapshot_state_parse(const char *s)
{
	return (enum cloud_snapshot_state)lookup(snapshot_states, N(snapshot_states), s);
}
const char *cloud_snapshot_state_name(enum cloud_snapshot_state s)
{
	return NAME(snapshot_states, s);
}
enum cloud_mod_state cloud_mod_state_parse(const char *s)
{
	return (enum cloud_mod_state)lookup(mod_states, N(mod_states), s);
}
const char *cloud_mod_state_name(enum cloud_mod_state s)
{
	return NAME(mod_states, s);
}

static const char *const op_names[CLOUD_OP_COUNT + 1] = {
	[CLOUD_OP_CREATE_DISK] = "create_disk",
	[CLOUD_OP_COPY_DISK] = "copy_disk",
	[CLOUD_OP_DELETE_DISK] = "delete_disk",
	[CLOUD_OP_ATTACH_DISK] = "attach_disk",
	[CLOUD_OP_DETACH_DISK] = "detach_disk",
	[CLOUD_OP_WAIT_ATTACHMENT] = "wait_attachment",
	[CLOUD_OP_GET_DISK] = "get_disk",
	[CLOUD_OP_FIND_DISK_BY_NAME] = "find_disk_by_name",
	[CLOUD_OP_DESCRIBE_INSTANCE] = "describe_instance",
	[CLOUD_OP_CREATE_SNAPSHOT] = "create_snapshot",
	[CLOUD_OP_DELETE_SNAPSHOT] = "delete_snapshot",
	[CLOUD_OP_GET_SNAPSHOT] = "get_snapshot",
	[CLOUD_OP_FIND_SNAPSHOT_BY_NAME] = "find_snapshot_by_name",
	[CLOUD_OP_LIST_SNAPSHOTS] = "list_snapshots",
	[CLOUD_OP_MODIFY_DISK] = "modify_disk",
	[CLOUD_OP_GET_MODIFICATION] = "get_modification",
	[CLOUD_OP_AVAILABILITY_ZONES] = "availability_zones",
	[CLOUD_OP_ENABLE_FSR] = "enable_fsr",
	[CLOUD_OP_CREATE_TAGS] = "create_tags",
	[CLOUD_OP_DELETE_TAGS] = "delete_tags",
	[CLOUD_OP_GET_VOLUME_STATUS] = "get_volume_status",
	[CLOUD_OP_HEALTH_CHECK] = "health_check",
	[CLOUD_OP_ANY] = "any",
};

const char *cloud_op_name(enum cloud_op op)
{
	if ((unsigned)op > CLOUD_OP_ANY || op_names[op] == NULL)
		return "unknown";
	return op_names[op];
}

/* ---- tags ------------------------------------------------------------------ */

void cloud_tags_init(struct cloud_tags *t)
{
	t->v = NULL;
	t->n = 0;
	t->cap = 0;
}

void cloud_tags_dispose(struct cloud_tags *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].key);
		free(t->v[i].value);
	}
	free(t->v);
	cloud_tags_init(t);
}

void cloud_tags_set(struct cloud_tags *t, const char *key, const char *value)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].key, key) == 0) {
			free(t->v[i].value);
			t->v[i].value = xstrdup(value ? value : "");
			return;
		}
	}
	struct cloud_tag *tag = GROW(t->v, t->cap, t->n);
	tag->key = xstrdup(key);
	tag->value = xstrdup(value ? value : "");
}

const char *cloud_tags_get(const struct cloud_tags *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].key, key) == 0)
			return t->v[i].value;
	return NULL;
}

bool cloud_tags_remove(struct cloud_tags *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].key, key) == 0) {
			free(t->v[i].key);
			free(t->v[i].value);
			memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof *t->v);
			t->n--;
			return true;
		}
	}
	return false;
}

void cloud_tags_copy(struct cloud_tags *dst, const struct cloud_tags *src)
{
	cloud_tags_dispose(dst);
	for (size_t i = 0; i < src->n; i++)
		cloud_tags_set(dst, src->v[i].key, src->v[i].value);
}

/* ---- attachments and disks --------------------------------------------------- */

void cloud_attachment_init(struct cloud_attachment *a)
{
	memset(a, 0, sizeof *a);
}

void cloud_attachment_dispose(struct cloud_attachment *a)
{
	free(a->volume_id);
	free(a->instance_id);
	free(a->device);
	cloud_attachment_init(a);
}

void cloud_attachment_copy(struct cloud_attachment *dst, const struct cloud_attachment *src)
{
	cloud_attachment_dispose(dst);
	*dst = *src;
	dst->volume_id = dup_or_null(src->volume_id);
	dst->instance_id = dup_or_null(src->instance_id);
	dst->device = dup_or_null(src->device);
}

void cloud_disk_init(struct cloud_disk *d)
{
	memset(d, 0, sizeof *d);
	cloud_tags_init(&d->tags);
}

void cloud_disk_dispose(struct cloud_disk *d)
{
	free(d->volume_id);
	free(d->snapshot_id);
	free(d->source_volume_id);
	free(d->zone);
	free(d->zone_id);
	free(d->volume_type);
	free(d->kms_key_id);
	free(d->outpost_arn);
	cloud_tags_dispose(&d->tags);
	for (size_t i = 0; i < d->n_attachments; i++)
		cloud_attachment_dispose(&d->attachments[i]);
	free(d->attachments);
	cloud_disk_init(d);
}

struct cloud_attachment *cloud_disk_add_attachment(struct cloud_disk *d)
{
	/* Few per volume: no capacity field, one realloc per append. */
	d->attachments = xrealloc(d->attachments, (d->n_attachments + 1) * sizeof *d->attachments);
	struct cloud_attachment *a = &d->attachments[d->n_attachments++];
	cloud_attachment_init(a);
	return a;
}

void cloud_disk_copy(struct cloud_disk *dst, const struct cloud_disk *src)
{
	cloud_disk_dispose(dst);
	*dst = *src;
	dst->volume_id = dup_or_null(src->volume_id);
	dst->snapshot_id = dup_or_null(src->snapshot_id);
	dst->source_volume_id = dup_or_null(src->source_volume_id);
	dst->zone = dup_or_null(src->zone);
	dst->zone_id = dup_or_null(src->zone_id);
	dst->volume_type = dup_or_null(src->volume_type);
	dst->kms_key_id = dup_or_null(src->kms_key_id);
	dst->outpost_arn = dup_or_null(src->outpost_arn);
	cloud_tags_init(&dst->tags);
	cloud_tags_copy(&dst->tags, &src->tags);
	dst->attachments = NULL;
	dst->n_attachments = 0;
	for (size_t i = 0; i < src->n_attachments; i++) {
		struct cloud_attachment *a = cloud_disk_add_attachment(dst);
		cloud_attachment_copy(a, &src->attachments[i]);
	}
}

const struct cloud_attachment *cloud_disk_attachment_for(const struct cloud_disk *d, const char *instance_id)
{
	for (size_t i = 0; i < d->n_attachments; i++)
		if (d->attachments[i].instance_id != NULL && strcmp(d->attachments[i].instance_id, instance_id) == 0)
			return &d->attachments[i];
	return NULL;
}

/* The list types share one shape: v, n, cap (and maybe next_token). */
#define LIST_FUNCS(prefix, list_t, elem_t, elem_init, elem_dispose, has_token)              \
	void prefix##_init(struct list_t *l)                                                \
	{                                                                                   \
		memset(l, 0, sizeof *l);                                                    \
	}                                                                                   \
	void prefix##_dispose(struct list_t *l)                                             \
	{                                                                                   \
		for (size_t i = 0; i < l->n; i++)                                           \
			elem_dispose(&l->v[i]);                                             \
		free(l->v);                                                                 \
		has_token(l);                                                               \
		memset(l, 0, sizeof *l);                                                    \
	}                                                                                   \
	struct elem_t *prefix##_push(struct list_t *l)                                      \
	{                                                                                   \
		struct elem_t *e = GROW(l->v, l->cap, l->n);                                \
		elem_init(e);                                                               \
		return e;                                                                   \
	}

#define FREE_TOKEN(l) free((l)->next_token)
#define NO_TOKEN(l) (void)(l)

LIST_FUNCS(cloud_disk_list, cloud_disk_list, cloud_disk, cloud_disk_init, cloud_disk_dispose, FREE_TOKEN)

/* ---- snapshots --------------------------------------------------------------- */

void cloud_snapshot_init(struct cloud_snapshot *s)
{
	memset(s, 0, sizeof *s);
	s->progress_percent = -1;
	cloud_tags_init(&s->tags);
}

void cloud_snapshot_dispose(struct cloud_snapshot *s)
{
	free(s->snapshot_id);
	free(s->volume_id);
	free(s->status_message);
	free(s->owner_id);
	free(s->description);
	free(s->kms_key_id);
	free(s->outpost_arn);
	free(s->storage_tier);
	cloud_tags_dispose(&s->tags);
	cloud_snapshot_init(s);
}

void cloud_snapshot_copy(struct cloud_snapshot *dst, const struct cloud_snapshot *src)
{
	cloud_snapshot_dispose(dst);
	*dst = *src;
	dst->snapshot_id = dup_or_null(src->snapshot_id);
	dst->volume_id = dup_or_null(src->volume_id);
	dst->status_message = dup_or_null(src->status_message);
	dst->owner_id = dup_or_null(src->owner_id);
	dst->description = dup_or_null(src->description);
	dst->kms_key_id = dup_or_null(src->kms_key_id);
	dst->outpost_arn = dup_or_null(src->outpost_arn);
	dst->storage_tier = dup_or_null(src->storage_tier);
	cloud_tags_init(&dst->tags);
	cloud_tags_copy(&dst->tags, &src->tags);
}

LIST_FUNCS(cloud_snapshot_list, cloud_snapshot_list, cloud_snapshot, cloud_snapshot_init, cloud_snapshot_dispose,
	   FREE_TOKEN)

/* ---- instances --------------------------------------------------------------- */

void cloud_instance_init(struct cloud_instance *i)
{
	memset(i, 0, sizeof *i);
	cloud_tags_init(&i->tags);
}

void cloud_instance_dispose(struct cloud_instance *i)
{
	free(i->instance_id);
	free(i->instance_type);
	free(i->zone);
	free(i->zone_id);
	free(i->state);
	free(i->outpost_arn);
	free(i->root_device_name);
	free(i->hypervisor);
	for (size_t k = 0; k < i->n_devices; k++) {
		free(i->devices[k].device_name);
		free(i->devices[k].volume_id);
	}
	free(i->devices);
	cloud_tags_dispose(&i->tags);
	cloud_instance_init(i);
}

struct cloud_block_device *cloud_instance_add_device(struct cloud_instance *i)
{
	i->devices = xrealloc(i->devices, (i->n_devices + 1) * sizeof *i->devices);
	struct cloud_block_device *d = &i->devices[i->n_devices++];
	memset(d, 0, sizeof *d);
	return d;
}

void cloud_instance_copy(struct cloud_instance *dst, const struct cloud_instance *src)
{
	cloud_instance_dispose(dst);
	*dst = *src;
	dst->instance_id = dup_or_null(src->instance_id);
	dst->instance_type = dup_or_null(src->instance_type);
	dst->zone = dup_or_null(src->zone);
	dst->zone_id = dup_or_null(src->zone_id);
	dst->state = dup_or_null(src->state);
	dst->outpost_arn = dup_or_null(src->outpost_arn);
	dst->root_device_name = dup_or_null(src->root_device_name);
	dst->hypervisor = dup_or_null(src->hypervisor);
	dst->devices = NULL;
	dst->n_devices = 0;
	for (size_t k = 0; k < src->n_devices; k++) {
		struct cloud_block_device *d = cloud_instance_add_device(dst);
		d->device_name = dup_or_null(src->devices[k].device_name);
		d->volume_id = dup_or_null(src->devices[k].volume_id);
		d->state = src->devices[k].state;
	}
	cloud_tags_init(&dst->tags);
	cloud_tags_copy(&dst->tags, &src->tags);
}

LIST_FUNCS(cloud_instance_list, cloud_instance_list, cloud_instance, cloud_instance_init, cloud_instance_dispose,
	   FREE_TOKEN)

void cloud_instance_type_init(struct cloud_instance_type *t)
{
	memset(t, 0, sizeof *t);
}

void cloud_instance_type_dispose(struct cloud_instance_type *t)
{
	free(t->instance_type);
	free(t->hypervisor);
	free(t->nvme_support);
	free(t->attachment_limit_type);
	cloud_instance_type_init(t);
}

LIST_FUNCS(cloud_instance_type_list, cloud_instance_type_list, cloud_instance_type,
	   cloud_instance_type_init, cloud_instance_type_dispose, FREE_TOKEN)

/* ---- zones --------------------------------------------------------------------- */

void cloud_zone_init(struct cloud_zone *z)
{
	memset(z, 0, sizeof *z);
}

void cloud_zone_dispose(struct cloud_zone *z)
{
	free(z->name);
	free(z->zone_id);
	free(z->state);
	free(z->region);
	free(z->zone_type);
	cloud_zone_init(z);
}

LIST_FUNCS(cloud_zone_list, cloud_zone_list, cloud_zone, cloud_zone_init, cloud_zone_dispose, NO_TOKEN)

const struct cloud_zone *cloud_zone_list_find(const struct cloud_zone_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		if ((l->v[i].name && strcmp(l->v[i].name, name) == 0) ||
		    (l->v[i].zone_id && strcmp(l->v[i].zone_id, name) == 0))
			return &l->v[i];
	}
	return NULL;
}

/* ---- modifications --------------------------------------------------------------- */

void cloud_modification_init(struct cloud_modification *m)
{
	memset(m, 0, sizeof *m);
}

void cloud_modification_dispose(struct cloud_modification *m)
{
	free(m->volume_id);
	free(m->status_message);
	free(m->target_type);
	free(m->original_type);
	cloud_modification_init(m);
}

void cloud_modification_copy(struct cloud_modification *dst, const struct cloud_modification *src)
{
	cloud_modification_dispose(dst);
	*dst = *src;
	dst->volume_id = dup_or_null(src->volume_id);
	dst->status_message = dup_or_null(src->status_message);
	dst->target_type = dup_or_null(src->target_type);
	dst->original_type = dup_or_null(src->original_type);
}

LIST_FUNCS(cloud_modification_list, cloud_modification_list, cloud_modification, cloud_modification_init,
	   cloud_modification_dispose, FREE_TOKEN)

/* ---- fast snapshot restores ----------------------------------------------------- */

void cloud_fsr_item_dispose(struct cloud_fsr_item *it)
{
	free_str(&it->snapshot_id);
	free_str(&it->zone);
	free_str(&it->zone_id);
	free_str(&it->state);
	free_str(&it->error_code);
	free_str(&it->error_message);
}

void cloud_fsr_result_init(struct cloud_fsr_result *r)
{
	memset(r, 0, sizeof *r);
}

void cloud_fsr_result_dispose(struct cloud_fsr_result *r)
{
	for (size_t i = 0; i < r->n_ok; i++)
		cloud_fsr_item_dispose(&r->ok[i]);
	for (size_t i = 0; i < r->n_failed; i++)
		cloud_fsr_item_dispose(&r->failed[i]);
	free(r->ok);
	free(r->failed);
	cloud_fsr_result_init(r);
}

struct cloud_fsr_item *cloud_fsr_result_push(struct cloud_fsr_result *r, bool failed)
{
	if (failed)
		return GROW(r->failed, r->cap_failed, r->n_failed);
	return GROW(r->ok, r->cap_ok, r->n_ok);
}

/* ---- volume status ---------------------------------------------------------------- */

void cloud_volume_status_init(struct cloud_volume_status *s)
{
	memset(s, 0, sizeof *s);
	s->initialization_progress = -1;
	s->initialization_eta_s = -1;
}

void cloud_volume_status_dispose(struct cloud_volume_status *s)
{
	free(s->volume_id);
	free(s->zone);
	free(s->status);
	free(s->initialization_type);
	cloud_volume_status_init(s);
}

LIST_FUNCS(cloud_volume_status_list, cloud_volume_status_list, cloud_volume_status, cloud_volume_status_init,
	   cloud_volume_status_dispose, FREE_TOKEN)
