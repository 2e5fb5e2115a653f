/*
 * sim_state: the simulator's world as plain data. See sim_state.h.
 *
 * Lookups are linear: the simulator holds tens to a few thousand objects and
 * every request already takes the global lock, so a hash table would buy
 * nothing measurable. IDs come from a persisted splitmix64 stream, checked
 * against every live object and tombstone, so they never repeat across
 * restarts even with a fixed --seed.
 */
#include "cloud/ec2sim/sim_state.h"

#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t sim_rng_next(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sim_state_init(struct sim_state *s, uint64_t seed)
{
	memset(s, 0, sizeof *s);
	s->rng = seed;
	uint64_t k = seed ^ 0x5a5a5a5a5a5a5a5aULL;
	for (int i = 0; i < 4; i++)
		snprintf(s->imds_key + i * 16, 17, "%016llx", (unsigned long long)sim_rng_next(&k));
}

void sim_spec_dispose(struct sim_volume_spec *sp)
{
	free(sp->type);
	sp->type = NULL;
}

void sim_spec_copy(struct sim_volume_spec *dst, const struct sim_volume_spec *src)
{
	*dst = *src;
	dst->type = xstrdup(src->type);
}

struct sim_volume *sim_volume_new(void)
{
	return xcalloc(1, sizeof(struct sim_volume));
}

void sim_volume_free(struct sim_volume *v)
{
	if (v == NULL)
		return;
	free(v->id);
	free(v->az);
	sim_spec_dispose(&v->spec);
	free(v->kms_key_id);
	free(v->snapshot_id);
	free(v->source_volume_id);
	sim_tags_dispose(&v->tags);
	for (size_t i = 0; i < v->n_att; i++) {
		free(v->att[i].instance_id);
		free(v->att[i].device);
		free(v->att[i].loop_dev);
	}
	free(v->att);
	sim_spec_dispose(&v->mod.orig);
	sim_spec_dispose(&v->mod.target);
	free(v);
}

struct sim_snapshot *sim_snapshot_new(void)
{
	struct sim_snapshot *sn = xcalloc(1, sizeof *sn);
	strv_init(&sn->fsr_azs);
	return sn;
}

void sim_snapshot_free(struct sim_snapshot *sn)
{
	if (sn == NULL)
		return;
	free(sn->id);
	free(sn->volume_id);
	free(sn->description);
	free(sn->kms_key_id);
	sim_tags_dispose(&sn->tags);
	strv_dispose(&sn->fsr_azs);
	free(sn);
}

void sim_state_dispose(struct sim_state *s)
{
	for (size_t i = 0; i < s->n_vols; i++)
		sim_volume_free(s->vols[i]);
	for (size_t i = 0; i < s->n_snaps; i++)
		sim_snapshot_free(s->snaps[i]);
	for (size_t i = 0; i < s->n_tokens; i++) {
		free(s->tokens[i].action);
		free(s->tokens[i].token);
		free(s->tokens[i].fingerprint);
		free(s->tokens[i].resource_id);
	}
	free(s->vols);
	free(s->snaps);
	free(s->tokens);
	memset(s, 0, sizeof *s);
}

static bool id_taken(const struct sim_state *s, const char *id)
{
	return sim_state_volume_any(s, id) != NULL || sim_state_snapshot(s, id) != NULL;
}

void sim_state_new_id(struct sim_state *s, const char *prefix, char *out, size_t cap)
{
	do {
		uint64_t r = sim_rng_next(&s->rng);
		/* 17 hex digits = 68 bits: 64 random bits plus 4 more. */
		unsigned extra = (unsigned)(sim_rng_next(&s->rng) & 0xf);
		snprintf(out, cap, "%s-%x%016llx", prefix, extra, (unsigned long long)r);
	} while (id_taken(s, out));
}

struct sim_volume *sim_state_volume_any(const struct sim_state *s, const char *id)
{
	if (id == NULL)
		return NULL;
	for (size_t i = 0; i < s->n_vols; i++)
		if (strcmp(s->vols[i]->id, id) == 0)
			return s->vols[i];
	return NULL;
}

struct sim_volume *sim_state_volume(const struct sim_state *s, const char *id)
{
	struct sim_volume *v = sim_state_volume_any(s, id);
	return v != NULL && v->status != SIM_VOL_DELETED ? v : NULL;
}

struct sim_snapshot *sim_state_snapshot(const struct sim_state *s, const char *id)
{
	if (id == NULL)
		return NULL;
	for (size_t i = 0; i < s->n_snaps; i++)
		if (strcmp(s->snaps[i]->id, id) == 0)
			return s->snaps[i];
	return NULL;
}

void sim_state_add_volume(struct sim_state *s, struct sim_volume *v)
{
	s->vols = xrealloc(s->vols, (s->n_vols + 1) * sizeof *s->vols);
	s->vols[s->n_vols++] = v;
}

void sim_state_add_snapshot(struct sim_state *s, struct sim_snapshot *sn)
{
	s->snaps = xrealloc(s->snaps, (s->n_snaps + 1) * sizeof *s->snaps);
	s->snaps[s->n_snaps++] = sn;
}

void sim_state_remove_volume(struct sim_state *s, struct sim_volume *v)
{
	for (size_t i = 0; i < s->n_vols; i++) {
		if (s->vols[i] == v) {
			memmove(&s->vols[i], &s->vols[i + 1], (s->n_vols - i - 1) * sizeof *s->vols);
			s->n_vols--;
			sim_volume_free(v);
			return;
		}
	}
}

void sim_state_remove_snapshot(struct sim_state *s, struct sim_snapshot *sn)
{
	for (size_t i = 0; i < s->n_snaps; i++) {
		if (s->snaps[i] == sn) {
			memmove(&s->snaps[i], &s->snaps[i + 1], (s->n_snaps - i - 1) * sizeof *s->snaps);
			s->n_snaps--;
			sim_snapshot_free(sn);
			return;
		}
	}
}

struct sim_attachment *sim_volume_add_attachment(struct sim_volume *v, const char *instance_id,
						 const char *device)
{
	v->att = xrealloc(v->att, (v->n_att + 1) * sizeof *v->att);
	struct sim_attachment *a = &v->att[v->n_att++];
	memset(a, 0, sizeof *a);
	a->instance_id = xstrdup(instance_id);
	a->device = xstrdup(device);
	return a;
}

void sim_volume_remove_attachment(struct sim_volume *v, size_t i)
{
	if (i >= v->n_att)
		return;
	free(v->att[i].instance_id);
	free(v->att[i].device);
	free(v->att[i].loop_dev);
	memmove(&v->att[i], &v->att[i + 1], (v->n_att - i - 1) * sizeof *v->att);
	v->n_att--;
}

struct sim_attachment *sim_volume_attachment(const struct sim_volume *v, const char *instance_id)
{
	for (size_t i = 0; i < v->n_att; i++)
		if (strcmp(v->att[i].instance_id, instance_id) == 0)
			return &v->att[i];
	return NULL;
}

const char *sim_volume_status_name(const struct sim_volume *v)
{
	switch (v->status) {
	case SIM_VOL_CREATING:
		return "creating";
	case SIM_VOL_DELETED:
		return "deleted";
	default:
		return v->n_att > 0 ? "in-use" : "available";
	}
}

const char *sim_att_status_name(int status)
{
	static const char *const names[] = { "attaching", "attached", "detaching", "busy" };
	return status >= 0 && status <= SIM_ATT_BUSY ? names[status] : "detached";
}

const char *sim_snap_status_name(int status)
{
	static const char *const names[] = { "pending", "completed", "error" };
	return status >= 0 && status <= SIM_SNAP_ERROR ? names[status] : "error";
}

const char *sim_mod_state_name(int state)
{
	static const char *const names[] = { "none", "modifying", "optimizing", "completed", "failed" };
	return state >= 0 && state <= SIM_MOD_FAILED ? names[state] : "failed";
}

void sim_tags_set(struct sim_tags *t, const char *key, const char *value)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].key, key) == 0) {
			free(t->v[i].value);
			t->v[i].value = xstrdup(value ? value : "");
			return;
		}
	}
	t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
	t->v[t->n].key = xstrdup(key);
	t->v[t->n].value = xstrdup(value ? value : "");
	t->n++;
}

void sim_tags_remove(struct sim_tags *t, const char *key, const char *value)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].key, key) != 0)
			continue;
		if (value != NULL && strcmp(t->v[i].value, value) != 0)
			return;
		free(t->v[i].key);
		free(t->v[i].value);
		memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof *t->v);
		t->n--;
		return;
	}
}

const char *sim_tags_get(const struct sim_tags *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].key, key) == 0)
			return t->v[i].value;
	return NULL;
}

void sim_tags_dispose(struct sim_tags *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].key);
		free(t->v[i].value);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

const struct sim_token *sim_state_token(const struct sim_state *s, const char *action, const char *token)
{
	for (size_t i = 0; i < s->n_tokens; i++)
		if (strcmp(s->tokens[i].action, action) == 0 && strcmp(s->tokens[i].token, token) == 0)
			return &s->tokens[i];
	return NULL;
}

void sim_state_add_token(struct sim_state *s, const char *action, const char *token, const char *fingerprint,
			 const char *resource_id)
{
	s->tokens = xrealloc(s->tokens, (s->n_tokens + 1) * sizeof *s->tokens);
	struct sim_token *t = &s->tokens[s->n_tokens++];
	t->action = xstrdup(action);
	t->token = xstrdup(token);
	t->fingerprint = xstrdup(fingerprint);
	t->resource_id = xstrdup(resource_id);
}

void sim_state_prune(struct sim_state *s, int64_t cutoff_ms)
{
	for (size_t i = 0; i < s->n_vols;) {
		struct sim_volume *v = s->vols[i];
		if (v->status != SIM_VOL_DELETED || v->deleted_ms >= cutoff_ms) {
			i++;
			continue;
		}
		for (size_t k = 0; k < s->n_tokens;) {
			if (strcmp(s->tokens[k].resource_id, v->id) == 0) {
				free(s->tokens[k].action);
				free(s->tokens[k].token);
				free(s->tokens[k].fingerprint);
				free(s->tokens[k].resource_id);
				memmove(&s->tokens[k], &s->tokens[k + 1], (s->n_tokens - k - 1) * sizeof *s->tokens);
				s->n_tokens--;
			} else {
				k++;
			}
		}
		sim_state_remove_volume(s, v);
	}
}
