/*
 * controller_service: the controller service object and the steps its
 * handlers share — in-flight keys, the final status mapping, the EC2
 * ClientToken, map views, heap copies for responses, deadline-bounded sleeps.
 *
 * The service owns copies of its configuration and the in-flight set; the
 * cloud is borrowed. Nothing about volumes is remembered between calls: EC2
 * is asked afresh, so a restarted driver answers retried calls the same way.
 */
#include "controller/controller_internal.h"

#include "common/xalloc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct controller_service *controller_service_new(const struct controller_config *cfg, struct cloud *cloud)
{
	struct controller_service *svc = xcalloc(1, sizeof *svc);
	svc->cloud = cloud;
	svc->inflight = inflight_new();
	if (cfg != NULL && cfg->extra_tags != NULL)
		cloud_tags_copy(&svc->extra_tags, cfg->extra_tags);
	else
		cloud_tags_init(&svc->extra_tags);
	if (cfg != NULL && cfg->k8s_tag_cluster_id != NULL && cfg->k8s_tag_cluster_id[0] != '\0')
		svc->cluster_id = xstrdup(cfg->k8s_tag_cluster_id);
	if (cfg != NULL && cfg->default_zone != NULL && cfg->default_zone[0] != '\0')
		svc->default_zone = xstrdup(cfg->default_zone);
	svc->default_fs_type = xstrdup(cfg != NULL && cfg->default_fs_type != NULL && cfg->default_fs_type[0] != '\0'
					       ? cfg->default_fs_type
					       : "ext4");
	svc->warn_on_invalid_tag = cfg != NULL && cfg->warn_on_invalid_tag;
	svc->modify_window_ms =
		cfg != NULL && cfg->modify_window_ms > 0 ? cfg->modify_window_ms : CONTROLLER_DEFAULT_WINDOW_MS;
	pthread_mutex_init(&svc->co_lock, NULL);
	return svc;
}

void controller_service_free(struct controller_service *svc)
{
	if (svc == NULL)
		return;
	controller_coalescer_dispose(svc);
	pthread_mutex_destroy(&svc->co_lock);
	inflight_free(svc->inflight);
	cloud_tags_dispose(&svc->extra_tags);
	free(svc->cluster_id);
	free(svc->default_zone);
	free(svc->default_fs_type);
	free(svc);
}

int controller_acquire(struct controller_service *svc, const char *kind, const char *id, struct status *st)
{
	/* CSI §Concurrency: the CO keeps one call per volume in flight but may
	 * send more after losing state; ABORTED makes it back off and retry
	 * instead of racing the first call against EC2. */
	char *key = xasprintf("%s/%s", kind, id);
	bool ok = inflight_try_acquire(svc->inflight, key);
	free(key);
	if (!ok)
		return status_set(st, STATUS_ABORTED, "an operation for %s %s is already in progress", kind, id);
	return 0;
}

void controller_release(struct controller_service *svc, const char *kind, const char *id)
{
	char *key = xasprintf("%s/%s", kind, id);
	inflight_release(svc->inflight, key);
	free(key);
}

int controller_fail(struct status *st, const char *fmt, ...)
{
	/* Codes a Controller RPC may answer with; anything else is INTERNAL. */
	static const unsigned keep =
		STATUS_BIT(STATUS_INVALID_ARGUMENT) | STATUS_BIT(STATUS_NOT_FOUND) | STATUS_BIT(STATUS_ALREADY_EXISTS) |
		STATUS_BIT(STATUS_FAILED_PRECONDITION) | STATUS_BIT(STATUS_ABORTED) | STATUS_BIT(STATUS_OUT_OF_RANGE) |
		STATUS_BIT(STATUS_RESOURCE_EXHAUSTED) | STATUS_BIT(STATUS_DEADLINE_EXCEEDED) |
		STATUS_BIT(STATUS_UNAVAILABLE) | STATUS_BIT(STATUS_CANCELLED) | STATUS_BIT(STATUS_PERMISSION_DENIED) |
		STATUS_BIT(STATUS_UNAUTHENTICATED);
	va_list ap;
	va_start(ap, fmt);
	int r = status_vnarrow(st, keep, fmt, ap);
	va_end(ap);
	return r;
}

char *controller_client_token(const char *base)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_Digest(base, strlen(base), md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		abort(); /* SHA-256 of a string cannot fail short of a broken libcrypto */
	char *hex = xmalloc(2 * len + 1);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

char *controller_strdup(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

ProtobufCMessage *controller_msg_copy(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(m, buf);
	ProtobufCMessage *copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	if (copy == NULL)
		abort(); /* what we packed ourselves always unpacks, short of OOM */
	return copy;
}

bool controller_sleep(const struct rpc_ctx *rc, int64_t ms)
{
	int64_t left = rpc_remaining_ms(rc);
	if (ms > left)
		ms = left;
	if (ms > 0) {
		struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return !rpc_done(rc);
}

Csi__V1__Topology *controller_topology(const char *const *keys, const char *const *values, size_t n)
{
	Csi__V1__Topology *t = xmalloc(sizeof *t);
	csi__v1__topology__init(t);
	t->segments = xcalloc(n ? n : 1, sizeof *t->segments);
	for (size_t i = 0; i < n; i++) {
		Csi__V1__Topology__SegmentsEntry *e = xmalloc(sizeof *e);
		csi__v1__topology__segments_entry__init(e);
		e->key = controller_strdup(keys[i]);
		e->value = controller_strdup(values[i]);
		t->segments[t->n_segments++] = e;
	}
	return t;
}

