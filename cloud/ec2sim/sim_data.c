/*
 * sim_data: sparse files, loop devices and by-id links. See sim_data.h.
 *
 * Copies use `cp --sparse=always --reflink=auto`, so a 1 TiB volume holding
 * 1 MiB of data costs 1 MiB and copies in milliseconds. Loop devices are
 * listed with `losetup --list --raw --output NAME,BACK-FILE`; a device
 * detached while still mounted is released by the kernel when the last user
 * closes it (autoclear), which is what losetup -d arranges.
 */
#include "cloud/ec2sim/sim_data.h"

#include "common/buf.h"
#include "common/exec.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define LINK_PREFIX "nvme-Amazon_Elastic_Block_Store_"
#define EXEC_TIMEOUT_MS 60000

static int mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST) {
				free(p);
				return -1;
			}
			*s = '/';
		}
	}
	int rc = mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

int sim_data_init(struct sim_data *d, bool enabled, const char *state_dir, const char *dev_dir, struct status *st)
{
	memset(d, 0, sizeof *d);
	d->enabled = enabled;
	if (!enabled)
		return 0;
	if (geteuid() != 0)
		return status_set(st, STATUS_FAILED_PRECONDITION, "--attach=loop needs root (loop devices)");
	char abs[PATH_MAX];
	if (realpath(state_dir, abs) == NULL)
		return status_set(st, STATUS_INTERNAL, "state dir %s: %s", state_dir, strerror(errno));
	d->vol_dir = xasprintf("%s/volumes", abs);
	d->snap_dir = xasprintf("%s/snapshots", abs);
	d->dev_dir = xstrdup(dev_dir);
	if (mkdir_p(d->vol_dir) != 0 || mkdir_p(d->snap_dir) != 0)
		return status_set(st, STATUS_INTERNAL, "mkdir under %s: %s", abs, strerror(errno));
	if (mkdir_p(dev_dir) != 0)
		return status_set(st, STATUS_INTERNAL, "mkdir %s: %s", dev_dir, strerror(errno));
	return 0;
}

void sim_data_dispose(struct sim_data *d)
{
	free(d->vol_dir);
	free(d->snap_dir);
	free(d->dev_dir);
	memset(d, 0, sizeof *d);
}

char *sim_data_link_name(const char *volume_id)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, LINK_PREFIX);
	for (const char *p = volume_id; *p; p++)
		if (*p != '-')
			buf_putc(&b, *p);
	char *out = buf_take(&b);
	buf_dispose(&b);
	return out;
}

static char *vol_path(const struct sim_data *d, const char *id)
{
	return xasprintf("%s/%s.img", d->vol_dir, id);
}

static char *snap_path(const struct sim_data *d, const char *id)
{
	return xasprintf("%s/%s.img", d->snap_dir, id);
}

static char *link_path(const struct sim_data *d, const char *id)
{
	char *name = sim_data_link_name(id);
	char *p = xasprintf("%s/%s", d->dev_dir, name);
	free(name);
	return p;
}

/* Runs argv; 0 when it exited 0, else -1 with STATUS_INTERNAL and its message. */
static int run(const char *const argv[], char **out, struct status *st)
{
	struct exec_opts o = { .timeout_ms = EXEC_TIMEOUT_MS };
	struct exec_result r;
	int rc = exec_run(argv, &o, &r, st);
	if (rc == 0 && r.exit_code != 0) {
		char why[200];
		rc = status_set(st, STATUS_INTERNAL, "%s: %s", argv[0], exec_result_describe(&r, why, sizeof why));
	}
	if (rc == 0 && out != NULL) {
		*out = r.out;
		r.out = NULL;
	}
	exec_result_dispose(&r);
	return rc;
}

/* Grows (never shrinks) path to size bytes, creating it when missing. */
static int grow_file(const char *path, long long size, struct status *st)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return status_set(st, STATUS_INTERNAL, "open %s: %s", path, strerror(errno));
	struct stat sb;
	int rc = 0;
	if (fstat(fd, &sb) != 0)
		rc = status_set(st, STATUS_INTERNAL, "stat %s: %s", path, strerror(errno));
	else if (sb.st_size < size && ftruncate(fd, (off_t)size) != 0)
		rc = status_set(st, STATUS_INTERNAL, "truncate %s: %s", path, strerror(errno));
	if (rc == 0 && fsync(fd) != 0)
		rc = status_set(st, STATUS_INTERNAL, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

static int copy_sparse(const char *src, const char *dst, struct status *st)
{
	const char *argv[] = { "cp", "--sparse=always", "--reflink=auto", "--", src, dst, NULL };
	return run(argv, NULL, st);
}

static long long gib(int size_gib)
{
	return (long long)size_gib << 30;
}

int sim_data_create_volume(struct sim_data *d, const char *id, int size_gib, const char *snapshot_id,
			   const char *source_volume_id, struct status *st)
{
	if (!d->enabled)
		return 0;
	char *dst = vol_path(d, id);
	int rc = 0;
	char *src = snapshot_id ? snap_path(d, snapshot_id) : source_volume_id ? vol_path(d, source_volume_id) : NULL;
	if (src != NULL && access(src, F_OK) == 0)
		rc = copy_sparse(src, dst, st);
	if (rc == 0)
		rc = grow_file(dst, gib(size_gib), st);
	if (rc != 0)
		unlink(dst);
	free(src);
	free(dst);
	return rc;
}

int sim_data_snapshot(struct sim_data *d, const char *volume_id, const char *snapshot_id, struct status *st)
{
	if (!d->enabled)
		return 0;
	char *src = vol_path(d, volume_id), *dst = snap_path(d, snapshot_id);
	int rc = 0;
	if (access(src, F_OK) == 0)
		rc = copy_sparse(src, dst, st);
	free(src);
	free(dst);
	return rc;
}

void sim_data_delete_volume(struct sim_data *d, const char *id)
{
	if (!d->enabled)
		return;
	char *p = vol_path(d, id);
	if (unlink(p) != 0 && errno != ENOENT)
		log_warn("remove %s: %s", p, strerror(errno));
	free(p);
}

void sim_data_delete_snapshot(struct sim_data *d, const char *id)
{
	if (!d->enabled)
		return;
	char *p = snap_path(d, id);
	if (unlink(p) != 0 && errno != ENOENT)
		log_warn("remove %s: %s", p, strerror(errno));
	free(p);
}

int sim_data_grow(struct sim_data *d, const char *id, int size_gib, const char *loop_dev, struct status *st)
{
	if (!d->enabled)
		return 0;
	char *p = vol_path(d, id);
	int rc = grow_file(p, gib(size_gib), st);
	free(p);
	if (rc == 0 && loop_dev != NULL) {
		const char *argv[] = { "losetup", "--set-capacity", loop_dev, NULL };
		rc = run(argv, NULL, st);
	}
	return rc;
}

static int make_link(const struct sim_data *d, const char *id, const char *loop_dev, struct status *st)
{
	char *lp = link_path(d, id);
	char *tmp = xasprintf("%s.tmp", lp);
	unlink(tmp);
	int rc = 0;
	if (symlink(loop_dev, tmp) != 0 || rename(tmp, lp) != 0) {
		rc = status_set(st, STATUS_INTERNAL, "link %s: %s", lp, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	free(lp);
	return rc;
}

static void remove_link(const struct sim_data *d, const char *id)
{
	char *lp = link_path(d, id);
	char target[PATH_MAX];
	ssize_t n = readlink(lp, target, sizeof target - 1);
	if (n > 0) {
		target[n] = '\0';
		if (strncmp(target, "/dev/loop", 9) == 0 && unlink(lp) != 0)
			log_warn("remove %s: %s", lp, strerror(errno));
	}
	free(lp);
}

static void loop_detach(const char *loop_dev)
{
	const char *argv[] = { "losetup", "--detach", loop_dev, NULL };
	struct status st = STATUS_INIT;
	if (run(argv, NULL, &st) != 0)
		log_warn("detach %s: %s", loop_dev, st.msg);
}

int sim_data_attach(struct sim_data *d, const char *id, int size_gib, char **loop_dev, struct status *st)
{
	*loop_dev = NULL;
	if (!d->enabled)
		return 0;
	char *p = vol_path(d, id);
	if (grow_file(p, gib(size_gib), st) != 0) {
		free(p);
		return -1;
	}
	const char *argv[] = { "losetup", "--find", "--show", "--", p, NULL };
	char *out = NULL;
	int rc = run(argv, &out, st);
	free(p);
	if (rc != 0)
		return -1;
	out[strcspn(out, "\r\n")] = '\0';
	if (strncmp(out, "/dev/loop", 9) != 0) {
		rc = status_set(st, STATUS_INTERNAL, "losetup printed no device");
		free(out);
		return rc;
	}
	if (make_link(d, id, out, st) != 0) {
		loop_detach(out);
		free(out);
		return -1;
	}
	*loop_dev = out;
	return 0;
}

void sim_data_detach(struct sim_data *d, const char *id, const char *loop_dev)
{
	if (!d->enabled)
		return;
	remove_link(d, id);
	if (loop_dev != NULL)
		loop_detach(loop_dev);
}

bool sim_data_busy(const char *loop_dev)
{
	if (loop_dev == NULL)
		return false;
	struct stat sb;
	if (stat(loop_dev, &sb) != 0 || !S_ISBLK(sb.st_mode))
		return false;
	char want[32];
	snprintf(want, sizeof want, "%u:%u", major(sb.st_rdev), minor(sb.st_rdev));
	bool busy = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (f != NULL) {
		char line[4096];
		while (!busy && fgets(line, sizeof line, f) != NULL) {
			/* "36 35 98:0 /mnt1 /mnt2 …": the third field is major:minor. */
			char *sp1 = strchr(line, ' ');
			char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
			if (sp2 == NULL)
				continue;
			char *sp3 = strchr(sp2 + 1, ' ');
			if (sp3 != NULL && (size_t)(sp3 - sp2 - 1) == strlen(want) &&
			    strncmp(sp2 + 1, want, strlen(want)) == 0)
				busy = true;
		}
		fclose(f);
	}
	const char *base = strrchr(loop_dev, '/');
	char *holders = xasprintf("/sys/block/%s/holders", base ? base + 1 : loop_dev);
	DIR *dir = opendir(holders);
	if (dir != NULL) {
		struct dirent *de;
		while (!busy && (de = readdir(dir)) != NULL)
			busy = de->d_name[0] != '.';
		closedir(dir);
	}
	free(holders);
	return busy;
}

/* Decodes losetup --raw escapes (\xHH) in place. */
static void unescape_raw(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		unsigned v;
		if (p[0] == '\\' && p[1] == 'x' && sscanf(p + 2, "%2x", &v) == 1) {
			*o++ = (char)v;
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

struct loop_entry {
	char *dev;
	char *id;   /* volume ID of our backing file, NULL when not ours */
};

/* Lists loop devices whose backing file is one of our volume files. */
static size_t list_ours(const struct sim_data *d, struct loop_entry **out)
{
	*out = NULL;
	const char *argv[] = { "losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE", NULL };
	char *text = NULL;
	struct status st = STATUS_INIT;
	if (run(argv, &text, &st) != 0) {
		log_warn("list loop devices: %s", st.msg);
		return 0;
	}
	size_t n = 0;
	size_t dl = strlen(d->vol_dir);
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (sp == NULL)
			continue;
		*sp = '\0';
		char *file = sp + 1;
		unescape_raw(file);
		char *del = strstr(file, " (deleted)");
		if (del != NULL)
			*del = '\0';
		if (strncmp(file, d->vol_dir, dl) != 0 || file[dl] != '/')
			continue;
		const char *name = file + dl + 1;
		size_t nl = strlen(name);
		if (nl < 5 || strcmp(name + nl - 4, ".img") != 0 || strchr(name, '/') != NULL)
			continue;
		*out = xrealloc(*out, (n + 1) * sizeof **out);
		(*out)[n].dev = xstrdup(line);
		(*out)[n].id = xstrndup(name, nl - 4);
		n++;
	}
	free(text);
	return n;
}

static void free_entries(struct loop_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].dev);
		free(e[i].id);
	}
	free(e);
}

static struct sim_attachment *attached_of(struct sim_state *s, const char *vol_id, struct sim_volume **vout)
{
	struct sim_volume *v = sim_state_volume(s, vol_id);
	*vout = v;
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < v->n_att; i++)
		if (v->att[i].status != SIM_ATT_ATTACHING)
			return &v->att[i];
	return NULL;
}

/* Removes links in dev_dir that point at loop devices no attachment owns. */
static void remove_stale_links(struct sim_data *d, struct sim_state *s)
{
	DIR *dir = opendir(d->dev_dir);
	if (dir == NULL)
		return;
	struct dirent *de;
	size_t pl = strlen(LINK_PREFIX);
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, LINK_PREFIX, pl) != 0)
			continue;
		char *lp = xasprintf("%s/%s", d->dev_dir, de->d_name);
		char target[PATH_MAX];
		ssize_t n = readlink(lp, target, sizeof target - 1);
		if (n > 0) {
			target[n] = '\0';
			bool keep = false;
			for (size_t i = 0; i < s->n_vols && !keep; i++) {
				struct sim_volume *v = s->vols[i];
				for (size_t k = 0; k < v->n_att && !keep; k++) {
					if (v->att[k].loop_dev != NULL && strcmp(v->att[k].loop_dev, target) == 0) {
						char *want = sim_data_link_name(v->id);
						keep = strcmp(want, de->d_name) == 0;
						free(want);
					}
				}
			}
			if (!keep && strncmp(target, "/dev/loop", 9) == 0) {
				log_info("removing stale link %s -> %s", lp, target);
				unlink(lp);
			}
		}
		free(lp);
	}
	closedir(dir);
}

void sim_data_reconcile(struct sim_data *d, struct sim_state *s)
{
	if (!d->enabled)
		return;
	struct loop_entry *ents;
	size_t n = list_ours(d, &ents);
	for (size_t i = 0; i < n; i++) {
		struct sim_volume *v;
		struct sim_attachment *a = attached_of(s, ents[i].id, &v);
		if (a != NULL && a->loop_dev == NULL) {
			log_info("adopting %s for %s", ents[i].dev, ents[i].id);
			a->loop_dev = xstrdup(ents[i].dev);
			struct status st = STATUS_INIT;
			if (make_link(d, v->id, a->loop_dev, &st) != 0)
				log_warn("%s", st.msg);
		} else {
			log_info("detaching unknown loop device %s (%s)", ents[i].dev, ents[i].id);
			loop_detach(ents[i].dev);
		}
	}
	free_entries(ents, n);
	for (size_t i = 0; i < s->n_vols; i++) {
		struct sim_volume *v = s->vols[i];
		struct sim_attachment *a = attached_of(s, v->id, &v);
		if (a == NULL || a->loop_dev != NULL)
			continue;
		struct status st = STATUS_INIT;
		if (sim_data_attach(d, v->id, v->spec.size, &a->loop_dev, &st) != 0)
			log_error("re-attach %s: %s", v->id, st.msg);
	}
	remove_stale_links(d, s);
}

void sim_data_release_all(struct sim_data *d, struct sim_state *s)
{
	if (!d->enabled)
		return;
	for (size_t i = 0; i < s->n_vols; i++) {
		struct sim_volume *v = s->vols[i];
		for (size_t k = 0; k < v->n_att; k++) {
			struct sim_attachment *a = &v->att[k];
			if (a->loop_dev == NULL)
				continue;
			if (sim_data_busy(a->loop_dev))
				log_warn("%s (%s) is still in use; the kernel frees it when it is unmounted", a->loop_dev,
					 v->id);
			sim_data_detach(d, v->id, a->loop_dev);
			free(a->loop_dev);
			a->loop_dev = NULL;
		}
	}
	/* Anything left on our files (a crash of an earlier run, a race) goes too. */
	struct loop_entry *ents;
	size_t n = list_ours(d, &ents);
	for (size_t i = 0; i < n; i++)
		loop_detach(ents[i].dev);
	free_entries(ents, n);
	remove_stale_links(d, s);
}
