/*
 * sim: life cycle and transitions of the running simulator. See sim.h.
 *
 * Transitions are applied lazily (at the start of every EC2 call) and eagerly
 * (by the ticker), from due times stored in the state, so they happen at the
 * right moment even when nobody polls — the node side waits for a by-id link
 * without asking EC2 — and resume after a restart.
 */
#include "cloud/ec2sim/sim.h"

#include "cloud/ec2sim/sim_persist.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TICK_MS 50
#define TOMBSTONE_MS (60LL * 60 * 1000)

int64_t sim_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sim_open(struct sim *s, const struct sim_config *cfg, struct status *st)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->tick_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->tick_cond, &ca);
	pthread_condattr_destroy(&ca);
	sim_state_init(&s->st, cfg->seed);
	sim_faults_init(&s->faults, &cfg->faults, cfg->seed);
	sim_stats_init(&s->stats);
	atomic_init(&s->request_seq, 0);
	if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST)
		return status_set(st, STATUS_INTERNAL, "mkdir %s: %s", cfg->state_dir, strerror(errno));
	s->state_path = xasprintf("%s/state.json", cfg->state_dir);
	bool found;
	if (sim_persist_load(s->state_path, &s->st, &found, st) != 0)
		return status_prefix(st, "load %s: ", s->state_path);
	log_info("state %s: %s (%zu volumes, %zu snapshots)", s->state_path, found ? "loaded" : "new",
		 s->st.n_vols, s->st.n_snaps);
	if (sim_data_init(&s->data, cfg->attach_mode == SIM_ATTACH_LOOP, cfg->state_dir, cfg->dev_dir, st) != 0)
		return -1;
	pthread_mutex_lock(&s->lock);
	sim_data_reconcile(&s->data, &s->st);
	sim_advance(s, sim_now_ms());
	int rc = sim_save(s, st);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sim_save(struct sim *s, struct status *st)
{
	return sim_persist_save(s->state_path, &s->st, st);
}

static const char *first_loop_dev(const struct sim_volume *v)
{
	for (size_t i = 0; i < v->n_att; i++)
		if (v->att[i].loop_dev != NULL)
			return v->att[i].loop_dev;
	return NULL;
}

static bool advance_attachments(struct sim *s, struct sim_volume *v, int64_t now)
{
	bool changed = false;
	for (size_t i = 0; i < v->n_att;) {
		struct sim_attachment *a = &v->att[i];
		if (a->status == SIM_ATT_ATTACHING && !a->stuck && now >= a->due_ms) {
			struct status st = STATUS_INIT;
			if (sim_data_attach(&s->data, v->id, v->spec.size, &a->loop_dev, &st) != 0) {
				/* Retried on the next tick; a real attachment also just stays attaching. */
				log_error("attach %s to %s: %s", v->id, a->instance_id, st.msg);
				a->due_ms = now + 1000;
			} else {
				a->status = SIM_ATT_ATTACHED;
				log_v(1, "%s attached to %s as %s%s%s", v->id, a->instance_id, a->device,
				      a->loop_dev ? " on " : "", a->loop_dev ? a->loop_dev : "");
			}
			changed = true;
		} else if ((a->status == SIM_ATT_DETACHING || a->status == SIM_ATT_BUSY) && now >= a->due_ms) {
			if (!a->force && sim_data_busy(a->loop_dev)) {
				/* EC2 leaves a detach of a mounted device "busy" until it is released. */
				if (a->status != SIM_ATT_BUSY) {
					a->status = SIM_ATT_BUSY;
					changed = true;
					log_info("%s is busy on %s: detach waits until it is unmounted", v->id,
						 a->loop_dev);
				}
			} else {
				sim_data_detach(&s->data, v->id, a->loop_dev);
				log_v(1, "%s detached from %s", v->id, a->instance_id);
				sim_volume_remove_attachment(v, i);
				changed = true;
				continue;
			}
		}
		i++;
	}
	return changed;
}

static bool advance_modification(struct sim *s, struct sim_volume *v, int64_t now)
{
	struct sim_modification *m = &v->mod;
	bool changed = false;
	if (m->state == SIM_MOD_MODIFYING && now >= m->optimizing_ms) {
		int old_size = v->spec.size;
		sim_spec_dispose(&v->spec);
		sim_spec_copy(&v->spec, &m->target);
		if (v->spec.size > old_size) {
			bool ok = true;
			struct status st = STATUS_INIT;
			if (v->n_att == 0 || first_loop_dev(v) == NULL)
				ok = sim_data_grow(&s->data, v->id, v->spec.size, NULL, &st) == 0;
			for (size_t i = 0; i < v->n_att && ok; i++)
				if (v->att[i].loop_dev != NULL)
					ok = sim_data_grow(&s->data, v->id, v->spec.size, v->att[i].loop_dev, &st) == 0;
			if (!ok)
				log_error("grow %s to %d GiB: %s", v->id, v->spec.size, st.msg);
		}
		m->state = SIM_MOD_OPTIMIZING;
		changed = true;
	}
	if (m->state == SIM_MOD_OPTIMIZING && now >= m->end_ms) {
		m->state = SIM_MOD_COMPLETED;
		changed = true;
	}
	return changed;
}

bool sim_advance(struct sim *s, int64_t now)
{
	bool changed = false;
	for (size_t i = 0; i < s->st.n_vols; i++) {
		struct sim_volume *v = s->st.vols[i];
		if (v->status == SIM_VOL_DELETED)
			continue;
		if (v->status == SIM_VOL_CREATING && now >= v->ready_ms) {
			v->status = SIM_VOL_AVAILABLE;
			changed = true;
		}
		changed |= advance_attachments(s, v, now);
		changed |= advance_modification(s, v, now);
	}
	for (size_t i = 0; i < s->st.n_snaps; i++) {
		struct sim_snapshot *sn = s->st.snaps[i];
		if (sn->status == SIM_SNAP_PENDING && now >= sn->ready_ms) {
			sn->status = SIM_SNAP_COMPLETED;
			changed = true;
		}
	}
	size_t before = s->st.n_vols;
	sim_state_prune(&s->st, now - TOMBSTONE_MS);
	return changed || before != s->st.n_vols;
}

static void *ticker_main(void *arg)
{
	struct sim *s = arg;
	pthread_mutex_lock(&s->tick_lock);
	while (!s->stopping) {
		pthread_mutex_unlock(&s->tick_lock);
		pthread_mutex_lock(&s->lock);
		if (sim_advance(s, sim_now_ms())) {
			struct status st = STATUS_INIT;
			if (sim_save(s, &st) != 0)
				log_error("save state: %s", st.msg);
		}
		pthread_mutex_unlock(&s->lock);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&s->tick_lock);
		if (!s->stopping)
			pthread_cond_timedwait(&s->tick_cond, &s->tick_lock, &until);
	}
	pthread_mutex_unlock(&s->tick_lock);
	return NULL;
}

int sim_start_ticker(struct sim *s, struct status *st)
{
	int err = pthread_create(&s->ticker, NULL, ticker_main, s);
	if (err != 0)
		return status_set(st, STATUS_INTERNAL, "start ticker: %s", strerror(err));
	s->ticker_started = true;
	return 0;
}

int sim_close(struct sim *s, struct status *st)
{
	if (s->ticker_started) {
		pthread_mutex_lock(&s->tick_lock);
		s->stopping = true;
		pthread_cond_signal(&s->tick_cond);
		pthread_mutex_unlock(&s->tick_lock);
		pthread_join(s->ticker, NULL);
		s->ticker_started = false;
	}
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	if (s->state_path != NULL && s->cfg != NULL) {
		sim_advance(s, sim_now_ms());
		rc = sim_save(s, st);
		sim_data_release_all(&s->data, &s->st);
	}
	pthread_mutex_unlock(&s->lock);
	sim_data_dispose(&s->data);
	sim_state_dispose(&s->st);
	sim_faults_dispose(&s->faults);
	sim_stats_dispose(&s->stats);
	free(s->state_path);
	s->state_path = NULL;
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->tick_lock);
	pthread_cond_destroy(&s->tick_cond);
	return rc;
}

void sim_request_id(struct sim *s, char *out, size_t cap)
{
	uint64_t seq = atomic_fetch_add(&s->request_seq, 1) + 1;
	uint64_t r = sim_faults_random(&s->faults);
	snprintf(out, cap, "%08llx-%04llx-4%03llx-a%03llx-%012llx", (unsigned long long)(r >> 32),
		 (unsigned long long)((r >> 16) & 0xffff), (unsigned long long)(r & 0xfff),
		 (unsigned long long)((seq >> 48) & 0xfff), (unsigned long long)(seq & 0xffffffffffffULL));
}
