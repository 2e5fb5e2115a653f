/*
 * sim_stats: request counters. See sim_stats.h.
 *
 * The counters live in a jansson tree, which is also their JSON form, so there
 * is no second representation to keep in step.
 */
#include "cloud/ec2sim/sim_stats.h"

#include "common/xalloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *fresh(void)
{
	return json_pack("{s:{},s:i,s:i,s:i,s:i}", "actions", "total", 0, "throttled", 0, "dropped", 0, "imds", 0);
}

void sim_stats_init(struct sim_stats *s)
{
	pthread_mutex_init(&s->lock, NULL);
	s->root = fresh();
}

void sim_stats_dispose(struct sim_stats *s)
{
	json_decref(s->root);
	s->root = NULL;
	pthread_mutex_destroy(&s->lock);
}

static void bump(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	json_object_set_new(o, key, json_integer((v ? json_integer_value(v) : 0) + 1));
}

void sim_stats_count(struct sim_stats *s, const char *action, const char *outcome)
{
	pthread_mutex_lock(&s->lock);
	json_t *root = s->root;
	json_t *actions = json_object_get(root, "actions");
	const char *a = action && *action ? action : "-";
	json_t *per = json_object_get(actions, a);
	if (per == NULL) {
		per = json_object();
		json_object_set_new(actions, a, per);
	}
	bump(per, outcome);
	bump(root, "total");
	if (strcmp(outcome, "RequestLimitExceeded") == 0)
		bump(root, "throttled");
	pthread_mutex_unlock(&s->lock);
}

void sim_stats_bump(struct sim_stats *s, const char *counter)
{
	pthread_mutex_lock(&s->lock);
	bump(s->root, counter);
	pthread_mutex_unlock(&s->lock);
}

void sim_stats_reset(struct sim_stats *s)
{
	pthread_mutex_lock(&s->lock);
	json_decref(s->root);
	s->root = fresh();
	pthread_mutex_unlock(&s->lock);
}

char *sim_stats_json(struct sim_stats *s)
{
	pthread_mutex_lock(&s->lock);
	char *text = json_dumps(s->root, JSON_SORT_KEYS);
	pthread_mutex_unlock(&s->lock);
	char *out = xstrdup(text);
	free(text);
	return out;
}
