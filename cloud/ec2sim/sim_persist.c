/*
 * sim_persist: JSON state file. See sim_persist.h.
 *
 * Layout: {"version":1,"rng":"<hex>","imds_key":"…","volumes":[…],
 * "snapshots":[…],"tokens":[…]}. 64-bit values that JSON numbers cannot carry
 * exactly (the RNG state) are hex strings; times are integer milliseconds.
 */
#include "cloud/ec2sim/sim_persist.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put_str(json_t *o, const char *k, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, k, json_string(v));
}

static json_t *tags_json(const struct sim_tags *t)
{
	json_t *a = json_array();
	for (size_t i = 0; i < t->n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s}", "key", t->v[i].key, "value", t->v[i].value));
	return a;
}

static json_t *spec_json(const struct sim_volume_spec *sp)
{
	return json_pack("{s:s?,s:i,s:i,s:i,s:b}", "type", sp->type, "size", sp->size, "iops", sp->iops,
			 "throughput", sp->throughput, "multi_attach", sp->multi_attach);
}

static json_t *volume_json(const struct sim_volume *v)
{
	json_t *o = json_object();
	put_str(o, "id", v->id);
	put_str(o, "az", v->az);
	json_object_set_new(o, "spec", spec_json(&v->spec));
	json_object_set_new(o, "encrypted", json_boolean(v->encrypted));
	put_str(o, "kms_key_id", v->kms_key_id);
	put_str(o, "snapshot_id", v->snapshot_id);
	put_str(o, "source_volume_id", v->source_volume_id);
	json_object_set_new(o, "status", json_integer(v->status));
	json_object_set_new(o, "create_ms", json_integer(v->create_ms));
	json_object_set_new(o, "ready_ms", json_integer(v->ready_ms));
	json_object_set_new(o, "deleted_ms", json_integer(v->deleted_ms));
	json_object_set_new(o, "tags", tags_json(&v->tags));
	json_t *atts = json_array();
	for (size_t i = 0; i < v->n_att; i++) {
		const struct sim_attachment *a = &v->att[i];
		json_array_append_new(atts, json_pack("{s:s,s:s,s:i,s:I,s:I,s:b,s:b}", "instance_id", a->instance_id,
						       "device", a->device, "status", a->status, "attach_ms",
						       (json_int_t)a->attach_ms, "due_ms", (json_int_t)a->due_ms,
						       "stuck", a->stuck, "force", a->force));
	}
	json_object_set_new(o, "attachments", atts);
	if (v->mod.state != SIM_MOD_NONE) {
		json_t *m = json_pack("{s:i,s:o,s:o,s:I,s:I,s:I}", "state", v->mod.state, "orig",
				      spec_json(&v->mod.orig), "target", spec_json(&v->mod.target), "start_ms",
				      (json_int_t)v->mod.start_ms, "optimizing_ms", (json_int_t)v->mod.optimizing_ms,
				      "end_ms", (json_int_t)v->mod.end_ms);
		json_object_set_new(o, "modification", m);
	}
	return o;
}

static json_t *snapshot_json(const struct sim_snapshot *sn)
{
	json_t *o = json_object();
	put_str(o, "id", sn->id);
	put_str(o, "volume_id", sn->volume_id);
	json_object_set_new(o, "volume_size", json_integer(sn->volume_size));
	put_str(o, "description", sn->description);
	json_object_set_new(o, "status", json_integer(sn->status));
	json_object_set_new(o, "start_ms", json_integer(sn->start_ms));
	json_object_set_new(o, "ready_ms", json_integer(sn->ready_ms));
	json_object_set_new(o, "encrypted", json_boolean(sn->encrypted));
	put_str(o, "kms_key_id", sn->kms_key_id);
	json_object_set_new(o, "tags", tags_json(&sn->tags));
	json_t *fsr = json_array();
	for (size_t i = 0; i < sn->fsr_azs.n; i++)
		json_array_append_new(fsr, json_string(sn->fsr_azs.v[i]));
	json_object_set_new(o, "fsr_azs", fsr);
	json_object_set_new(o, "fsr_ms", json_integer(sn->fsr_ms));
	return o;
}

char *sim_persist_dump(const struct sim_state *s)
{
	json_t *root = json_object();
	char rng[32];
	snprintf(rng, sizeof rng, "%016llx", (unsigned long long)s->rng);
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "rng", json_string(rng));
	json_object_set_new(root, "imds_key", json_string(s->imds_key));
	json_t *vols = json_array(), *snaps = json_array(), *toks = json_array();
	for (size_t i = 0; i < s->n_vols; i++)
		json_array_append_new(vols, volume_json(s->vols[i]));
	for (size_t i = 0; i < s->n_snaps; i++)
		json_array_append_new(snaps, snapshot_json(s->snaps[i]));
	for (size_t i = 0; i < s->n_tokens; i++)
		json_array_append_new(toks, json_pack("{s:s,s:s,s:s,s:s}", "action", s->tokens[i].action, "token",
						      s->tokens[i].token, "fingerprint", s->tokens[i].fingerprint,
						      "resource_id", s->tokens[i].resource_id));
	json_object_set_new(root, "volumes", vols);
	json_object_set_new(root, "snapshots", snaps);
	json_object_set_new(root, "tokens", toks);
	char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	char *out = xstrdup(text);
	free(text);
	return out;
}

/* --- parsing ----------------------------------------------------------------------- */

struct parse_ctx {
	struct status *st;
	int failed;
};

static int bad(struct parse_ctx *p, const char *what)
{
	if (!p->failed)
		status_set(p->st, STATUS_DATA_LOSS, "state file: bad or missing %s", what);
	p->failed = 1;
	return -1;
}

static char *get_str(struct parse_ctx *p, json_t *o, const char *k, bool required)
{
	json_t *v = json_object_get(o, k);
	if (v == NULL || json_is_null(v)) {
		if (required)
			bad(p, k);
		return NULL;
	}
	if (!json_is_string(v)) {
		bad(p, k);
		return NULL;
	}
	return xstrdup(json_string_value(v));
}

static long long get_int(struct parse_ctx *p, json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (v == NULL)
		return 0;
	if (!json_is_integer(v)) {
		bad(p, k);
		return 0;
	}
	return json_integer_value(v);
}

static bool get_bool(struct parse_ctx *p, json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (v == NULL)
		return false;
	if (!json_is_boolean(v)) {
		bad(p, k);
		return false;
	}
	return json_is_true(v);
}

static void parse_tags(struct parse_ctx *p, json_t *a, struct sim_tags *t)
{
	if (a == NULL)
		return;
	if (!json_is_array(a)) {
		bad(p, "tags");
		return;
	}
	size_t i;
	json_t *it;
	json_array_foreach(a, i, it) {
		json_t *k = json_object_get(it, "key"), *v = json_object_get(it, "value");
		if (!json_is_string(k) || !json_is_string(v)) {
			bad(p, "tag");
			return;
		}
		sim_tags_set(t, json_string_value(k), json_string_value(v));
	}
}

static void parse_spec(struct parse_ctx *p, json_t *o, struct sim_volume_spec *sp)
{
	if (!json_is_object(o)) {
		bad(p, "spec");
		return;
	}
	sp->type = get_str(p, o, "type", true);
	sp->size = (int)get_int(p, o, "size");
	sp->iops = (int)get_int(p, o, "iops");
	sp->throughput = (int)get_int(p, o, "throughput");
	sp->multi_attach = get_bool(p, o, "multi_attach");
}

static struct sim_volume *parse_volume(struct parse_ctx *p, json_t *o)
{
	struct sim_volume *v = sim_volume_new();
	if (!json_is_object(o)) {
		bad(p, "volume");
		return v;
	}
	v->id = get_str(p, o, "id", true);
	v->az = get_str(p, o, "az", true);
	parse_spec(p, json_object_get(o, "spec"), &v->spec);
	v->encrypted = get_bool(p, o, "encrypted");
	v->kms_key_id = get_str(p, o, "kms_key_id", false);
	v->snapshot_id = get_str(p, o, "snapshot_id", false);
	v->source_volume_id = get_str(p, o, "source_volume_id", false);
	v->status = (int)get_int(p, o, "status");
	if (v->status < SIM_VOL_CREATING || v->status > SIM_VOL_DELETED)
		bad(p, "volume status");
	v->create_ms = get_int(p, o, "create_ms");
	v->ready_ms = get_int(p, o, "ready_ms");
	v->deleted_ms = get_int(p, o, "deleted_ms");
	parse_tags(p, json_object_get(o, "tags"), &v->tags);
	json_t *atts = json_object_get(o, "attachments");
	if (atts != NULL && !json_is_array(atts))
		bad(p, "attachments");
	size_t i;
	json_t *a;
	json_array_foreach(atts, i, a) {
		char *inst = get_str(p, a, "instance_id", true), *dev = get_str(p, a, "device", true);
		if (inst != NULL && dev != NULL) {
			struct sim_attachment *at = sim_volume_add_attachment(v, inst, dev);
			at->status = (int)get_int(p, a, "status");
			if (at->status < SIM_ATT_ATTACHING || at->status > SIM_ATT_BUSY)
				bad(p, "attachment status");
			at->attach_ms = get_int(p, a, "attach_ms");
			at->due_ms = get_int(p, a, "due_ms");
			at->stuck = get_bool(p, a, "stuck");
			at->force = get_bool(p, a, "force");
		}
		free(inst);
		free(dev);
	}
	json_t *m = json_object_get(o, "modification");
	if (m != NULL) {
		v->mod.state = (int)get_int(p, m, "state");
		if (v->mod.state < SIM_MOD_NONE || v->mod.state > SIM_MOD_FAILED)
			bad(p, "modification state");
		parse_spec(p, json_object_get(m, "orig"), &v->mod.orig);
		parse_spec(p, json_object_get(m, "target"), &v->mod.target);
		v->mod.start_ms = get_int(p, m, "start_ms");
		v->mod.optimizing_ms = get_int(p, m, "optimizing_ms");
		v->mod.end_ms = get_int(p, m, "end_ms");
	}
	return v;
}

static struct sim_snapshot *parse_snapshot(struct parse_ctx *p, json_t *o)
{
	struct sim_snapshot *sn = sim_snapshot_new();
	if (!json_is_object(o)) {
		bad(p, "snapshot");
		return sn;
	}
	sn->id = get_str(p, o, "id", true);
	sn->volume_id = get_str(p, o, "volume_id", true);
	sn->volume_size = (int)get_int(p, o, "volume_size");
	sn->description = get_str(p, o, "description", false);
	if (sn->description == NULL)
		sn->description = xstrdup("");
	sn->status = (int)get_int(p, o, "status");
	if (sn->status < SIM_SNAP_PENDING || sn->status > SIM_SNAP_ERROR)
		bad(p, "snapshot status");
	sn->start_ms = get_int(p, o, "start_ms");
	sn->ready_ms = get_int(p, o, "ready_ms");
	sn->encrypted = get_bool(p, o, "encrypted");
	sn->kms_key_id = get_str(p, o, "kms_key_id", false);
	parse_tags(p, json_object_get(o, "tags"), &sn->tags);
	json_t *fsr = json_object_get(o, "fsr_azs");
	size_t i;
	json_t *z;
	json_array_foreach(fsr, i, z) {
		if (json_is_string(z))
			strv_push(&sn->fsr_azs, json_string_value(z));
		else
			bad(p, "fsr_azs");
	}
	sn->fsr_ms = get_int(p, o, "fsr_ms");
	return sn;
}

int sim_persist_parse(const char *text, struct sim_state *s, struct status *st)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return status_set(st, STATUS_DATA_LOSS, "state file: line %d: %s", jerr.line, jerr.text);
	struct parse_ctx p = { st, 0 };
	if (!json_is_object(root) || get_int(&p, root, "version") != 1)
		bad(&p, "version");
	char *rng = get_str(&p, root, "rng", true);
	if (rng != NULL) {
		char *end;
		unsigned long long r = strtoull(rng, &end, 16);
		if (*rng == '\0' || *end != '\0')
			bad(&p, "rng");
		s->rng = r;
		free(rng);
	}
	char *key = get_str(&p, root, "imds_key", true);
	if (key != NULL) {
		if (strlen(key) != 64)
			bad(&p, "imds_key");
		else
			memcpy(s->imds_key, key, 65);
		free(key);
	}
	size_t i;
	json_t *it;
	json_t *vols = json_object_get(root, "volumes");
	if (vols != NULL && !json_is_array(vols))
		bad(&p, "volumes");
	json_array_foreach(vols, i, it) {
		struct sim_volume *v = parse_volume(&p, it);
		if (v->id == NULL || v->az == NULL || v->spec.type == NULL || sim_state_volume_any(s, v->id) != NULL) {
			bad(&p, "volume id");
			sim_volume_free(v);
			continue;
		}
		sim_state_add_volume(s, v);
	}
	json_t *snaps = json_object_get(root, "snapshots");
	if (snaps != NULL && !json_is_array(snaps))
		bad(&p, "snapshots");
	json_array_foreach(snaps, i, it) {
		struct sim_snapshot *sn = parse_snapshot(&p, it);
		if (sn->id == NULL || sn->volume_id == NULL || sim_state_snapshot(s, sn->id) != NULL) {
			bad(&p, "snapshot id");
			sim_snapshot_free(sn);
			continue;
		}
		sim_state_add_snapshot(s, sn);
	}
	json_t *toks = json_object_get(root, "tokens");
	json_array_foreach(toks, i, it) {
		char *a = get_str(&p, it, "action", true), *t = get_str(&p, it, "token", true);
		char *fp = get_str(&p, it, "fingerprint", true), *r = get_str(&p, it, "resource_id", true);
		if (a && t && fp && r)
			sim_state_add_token(s, a, t, fp, r);
		free(a);
		free(t);
		free(fp);
		free(r);
	}
	json_decref(root);
	if (p.failed) {
		uint64_t rng_keep = s->rng;
		char key_keep[65];
		memcpy(key_keep, s->imds_key, sizeof key_keep);
		sim_state_dispose(s);
		s->rng = rng_keep;
		memcpy(s->imds_key, key_keep, sizeof key_keep);
		return -1;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int sim_persist_save(const char *path, const struct sim_state *s, struct status *st)
{
	char *text = sim_persist_dump(s);
	char *tmp = xasprintf("%s.tmp", path);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		status_set(st, STATUS_INTERNAL, "open %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
		status_set(st, STATUS_INTERNAL, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) != 0) {
		status_set(st, STATUS_INTERNAL, "close %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		status_set(st, STATUS_INTERNAL, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	char *dcopy = xstrdup(path);
	int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dcopy);
	if (dfd < 0 || fsync(dfd) != 0) {
		status_set(st, STATUS_INTERNAL, "fsync directory of %s: %s", path, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		goto out;
	}
	close(dfd);
	rc = 0;
out:
	free(tmp);
	free(text);
	return rc;
}

int sim_persist_load(const char *path, struct sim_state *s, bool *found, struct status *st)
{
	*found = false;
	FILE *f = fopen(path, "rbe");
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		return status_set(st, STATUS_INTERNAL, "open %s: %s", path, strerror(errno));
	}
	struct buf b;
	buf_init(&b);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	bool err = ferror(f);
	fclose(f);
	if (err) {
		buf_dispose(&b);
		return status_set(st, STATUS_INTERNAL, "read %s: failed", path);
	}
	*found = true;
	int rc = sim_persist_parse(b.data, s, st);
	buf_dispose(&b);
	return rc;
}
