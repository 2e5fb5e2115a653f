/*
 * server: a CSI server on the gRPC C core completion-queue API.
 *
 * Threading model (why Probe stays fast while CreateVolume waits on EC2):
 *  - One dispatcher thread owns the completion queue. It never runs handlers: it
 *    accepts calls (a few armed requests per registered method plus some for
 *    unknown methods), answers UNIMPLEMENTED itself, and hands every other call
 *    to one of two worker pools by the method's lane.
 *  - The slow lane (every RPC that may touch EC2 or the OS) has at most
 *    `slow_workers` threads; calls beyond that wait in a FIFO bounded by
 *    `max_queued` (then RESOURCE_EXHAUSTED, which the sidecars retry). A queued
 *    call whose deadline passed is answered DEADLINE_EXCEEDED without running.
 *  - The fast lane (Identity, NodeGetInfo, *GetCapabilities: memory only) has its
 *    own `fast_workers` threads, so no number of slow calls can delay it.
 *  - Threads start on demand and stay, so an idle driver holds only the
 *    dispatcher and gRPC's own threads.
 *  - Each call carries a RECV_CLOSE_ON_SERVER batch from the start, so a client
 *    that cancels or disconnects flips rpc_ctx.cancelled while its handler runs.
 * A call is reference-counted (close batch + send batch); whoever drops the last
 * reference frees it. Nothing from the network is trusted: an undecodable
 * request is INVALID_ARGUMENT and the process goes on.
 */
#include "csi-proto/server.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "csi-proto/pbtext.h"

#include <errno.h>
#include <malloc.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Requests kept armed per registered method: calls arriving while all are taken
 * wait inside gRPC until the dispatcher re-arms, which it does before anything else. */
#define ARMED_PER_METHOD 4
#define ARMED_UNKNOWN 2

enum tag_kind { TAG_REQUEST, TAG_CLOSE, TAG_SEND, TAG_SHUTDOWN };

struct call;

struct tag {
	enum tag_kind kind;
	struct call *call;
};

struct method_slot {
	struct csi_method m;
	void *registered; /* gRPC's handle; NULL for the unknown-method slot */
};

struct call {
	struct csi_server *srv;
	struct method_slot *slot; /* the unknown-method slot for unregistered paths */
	struct tag t_request, t_close, t_send;
	grpc_call *gcall;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_call_details details; /* unregistered calls only */
	grpc_byte_buffer *payload;
	grpc_byte_buffer *resp_bb;
	grpc_slice status_details;
	bool has_details;
	int close_cancelled;
	atomic_bool cancelled;
	atomic_int refs;
	int64_t start_us; /* monotonic, when accepted */
	int code; /* answered status, for the log */
	struct call *next;
};

struct pool {
	const char *name;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct call *head, *tail;
	int queued;
	int max_queued; /* 0 = unbounded */
	int threads, idle, max_threads;
	pthread_t *tids;
	bool stopping;
	struct csi_server *srv;
};

struct csi_server {
	grpc_server *server;
	grpc_completion_queue *cq;
	pthread_t dispatcher;
	struct method_slot *slots;
	size_t nslots;
	struct method_slot unknown;
	struct pool pools[2];
	struct tag t_shutdown;
	char *unix_path;
	csi_call_observer_fn observer;
	void *observer_ctx;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool shutting_down;
	bool shutdown_done;
	int inflight; /* calls accepted and not yet freed */
	atomic_ulong calls_total;
	int64_t last_trim_ms;  /* under mu */
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- endpoint ------------------------------------------------------------------ */

int csi_endpoint_parse(const char *endpoint, char **grpc_addr, char **unix_path, struct status *st)
{
	*grpc_addr = NULL;
	*unix_path = NULL;
	if (endpoint == NULL || *endpoint == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "endpoint: empty");
	if (strncmp(endpoint, "unix:", 5) == 0) {
		/* unix:///abs/path is the URL form; unix:/abs/path (upstream's node
		 * manifests) and unix://rel/path (upstream's default) are accepted too. */
		const char *path = strncmp(endpoint, "unix://", 7) == 0 ? endpoint + 7 : endpoint + 5;
		/* unix://tmp/x.sock (two slashes, as upstream's default) means a path relative to "/". */
		if (*path == '\0')
			return status_set(st, STATUS_INVALID_ARGUMENT, "endpoint %s: no socket path", endpoint);
		char *abs = *path == '/' ? xstrdup(path) : xasprintf("/%s", path);
		if (strlen(abs) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			free(abs);
			return status_set(st, STATUS_INVALID_ARGUMENT,
					  "endpoint %s: socket path longer than %zu bytes", endpoint,
					  sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		}
		*unix_path = abs;
		*grpc_addr = xasprintf("unix:%s", abs);
		return 0;
	}
	if (strncmp(endpoint, "tcp://", 6) == 0) {
		const char *hp = endpoint + 6;
		const char *colon = strrchr(hp, ':');
		if (colon == NULL || colon == hp || colon[1] == '\0')
			return status_set(st, STATUS_INVALID_ARGUMENT, "endpoint %s: want tcp://host:port", endpoint);
		for (const char *p = colon + 1; *p; p++)
			if (*p < '0' || *p > '9')
				return status_set(st, STATUS_INVALID_ARGUMENT, "endpoint %s: port is not a number", endpoint);
		*grpc_addr = xstrdup(hp);
		return 0;
	}
	return status_set(st, STATUS_INVALID_ARGUMENT, "endpoint %s: scheme must be unix:// or tcp://", endpoint);
}

static int mkdir_parents(const char *path, struct status *st)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
				int e = errno;
				status_set(st, STATUS_FAILED_PRECONDITION, "create socket directory %s: %s", dir, strerror(e));
				free(dir);
				return -1;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	free(dir);
	return 0;
}

/* Removes a socket left by a dead process; refuses to touch a live socket or a
 * file that is not a socket (it is not ours to delete). */
static int clear_stale_socket(const char *path, struct status *st)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : status_set(st, STATUS_FAILED_PRECONDITION, "stat %s: %s", path, strerror(errno));
	if (!S_ISSOCK(sb.st_mode))
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s exists and is not a socket; not removing it", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return status_set(st, STATUS_INTERNAL, "socket: %s", strerror(errno));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	int e = errno;
	close(fd);
	if (rc == 0)
		return status_set(st, STATUS_FAILED_PRECONDITION, "%s is served by another process", path);
	if (e != ECONNREFUSED && e != ENOENT)
		return status_set(st, STATUS_FAILED_PRECONDITION, "probe %s: %s", path, strerror(e));
	if (unlink(path) != 0 && errno != ENOENT)
		return status_set(st, STATUS_FAILED_PRECONDITION, "remove stale socket %s: %s", path, strerror(errno));
	log_v(2, "removed stale socket %s", path);
	return 0;
}

/* ---- call lifetime --------------------------------------------------------------- */

static struct call *call_new(struct csi_server *srv, struct method_slot *slot)
{
	struct call *c = xcalloc(1, sizeof *c);
	c->srv = srv;
	c->slot = slot;
	c->t_request = (struct tag){ TAG_REQUEST, c };
	c->t_close = (struct tag){ TAG_CLOSE, c };
	c->t_send = (struct tag){ TAG_SEND, c };
	grpc_metadata_array_init(&c->md);
	grpc_call_details_init(&c->details);
	atomic_init(&c->cancelled, false);
	atomic_init(&c->refs, 0);
	return c;
}

static void call_free(struct call *c)
{
	if (c->gcall != NULL)
		grpc_call_unref(c->gcall);
	if (c->payload != NULL)
		grpc_byte_buffer_destroy(c->payload);
	if (c->resp_bb != NULL)
		grpc_byte_buffer_destroy(c->resp_bb);
	if (c->has_details)
		grpc_slice_unref(c->status_details);
	grpc_metadata_array_destroy(&c->md);
	grpc_call_details_destroy(&c->details);
	free(c);
}

static void call_unref(struct call *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	struct csi_server *srv = c->srv;
	bool had_gcall = c->gcall != NULL;
	call_free(c);
	if (had_gcall) {
		pthread_mutex_lock(&srv->mu);
		srv->inflight--;
		bool trim = false;
		int64_t now = rpc_now_ms();
		if (srv->inflight == 0 && now - srv->last_trim_ms >= 2000) {
			srv->last_trim_ms = now;
			trim = true;
		}
		pthread_cond_broadcast(&srv->cv);
		pthread_mutex_unlock(&srv->mu);
		/* A burst of calls leaves freed memory scattered through malloc's
		 * arenas; when the server falls idle, hand it back to the kernel so
		 * the driver returns to its baseline (at most every 2 s). */
		if (trim)
			malloc_trim(0);
	}
}

static const char *call_method(const struct call *c, char *buf, size_t n)
{
	if (c->slot->registered != NULL)
		return c->slot->m.path;
	size_t len = GRPC_SLICE_LENGTH(c->details.method);
	if (len >= n)
		len = n - 1;
	memcpy(buf, GRPC_SLICE_START_PTR(c->details.method), len);
	buf[len] = '\0';
	/* The path came from the network: keep the log line printable. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
			buf[i] = '?';
	return buf;
}

/* Sends the answer. resp (if any) is packed here; the caller still owns it. */
static void call_respond(struct call *c, const struct status *st, const ProtobufCMessage *resp)
{
	grpc_op ops[3];
	size_t n = 0;
	memset(ops, 0, sizeof ops);
	ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[n].data.send_initial_metadata.count = 0;
	n++;
	if (st->code == STATUS_OK && resp != NULL) {
		size_t len = protobuf_c_message_get_packed_size(resp);
		grpc_slice s = grpc_slice_malloc(len);
		protobuf_c_message_pack(resp, GRPC_SLICE_START_PTR(s));
		c->resp_bb = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = c->resp_bb;
		n++;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)st->code;
	ops[n].data.send_status_from_server.trailing_metadata_count = 0;
	if (st->code != STATUS_OK && st->msg[0] != '\0') {
		c->status_details = grpc_slice_from_copied_string(st->msg);
		c->has_details = true;
		ops[n].data.send_status_from_server.status_details = &c->status_details;
	}
	n++;
	c->code = st->code;
	atomic_fetch_add(&c->srv->calls_total, 1);
	if (c->srv->observer != NULL) {
		char name[256];
		c->srv->observer(c->srv->observer_ctx, call_method(c, name, sizeof name), st->code,
				 now_us() - c->start_us);
	}
	atomic_fetch_add(&c->refs, 1);
	grpc_call_error err = grpc_call_start_batch(c->gcall, ops, n, &c->t_send, NULL);
	if (err != GRPC_CALL_OK) {
		log_warn("send answer: grpc_call_start_batch: %d", (int)err);
		call_unref(c);
	}
}

/* ---- handler execution -------------------------------------------------------------- */

static int64_t deadline_to_monotonic_ms(gpr_timespec deadline)
{
	if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0)
		return RPC_NO_DEADLINE;
	gpr_timespec now = gpr_now(deadline.clock_type);
	gpr_timespec left = gpr_time_sub(deadline, now);
	int64_t left_ms = (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
	if (left_ms < 0)
		left_ms = 0;
	if (left_ms > INT64_MAX / 4)
		return RPC_NO_DEADLINE;
	return rpc_now_ms() + left_ms;
}

static void call_run(struct call *c)
{
	const struct csi_method *m = &c->slot->m;
	struct status st = STATUS_INIT;
	ProtobufCMessage *req = NULL;
	ProtobufCMessage *resp = NULL;
	struct rpc_ctx rc = {
		.method = m->path,
		.deadline_ms = deadline_to_monotonic_ms(c->deadline),
		.cancelled = &c->cancelled,
	};

	if (atomic_load(&c->cancelled)) {
		status_set(&st, STATUS_CANCELLED, "%s: cancelled by the caller before it started", m->path);
		goto answer;
	}
	if (rc.deadline_ms != RPC_NO_DEADLINE && rpc_now_ms() >= rc.deadline_ms) {
		status_set(&st, STATUS_DEADLINE_EXCEEDED, "%s: deadline passed while queued", m->path);
		goto answer;
	}
	if (c->payload == NULL) {
		status_set(&st, STATUS_INVALID_ARGUMENT, "%s: no request message", m->path);
		goto answer;
	}
	grpc_byte_buffer_reader reader;
	if (!grpc_byte_buffer_reader_init(&reader, c->payload)) {
		status_set(&st, STATUS_INVALID_ARGUMENT, "%s: unreadable request payload", m->path);
		goto answer;
	}
	grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	req = protobuf_c_message_unpack(m->request, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	if (req == NULL) {
		status_set(&st, STATUS_INVALID_ARGUMENT, "%s: request is not a valid %s message", m->path,
			   m->request->name);
		goto answer;
	}
	if (log_enabled(4)) {
		struct buf text;
		buf_init(&text);
		pbtext_format(req, &text, 8192);
		LOG_KV(LOG_SEV_INFO, 4, "GRPC call", "method", m->path, "request", text.data);
		buf_dispose(&text);
	}
	if (m->handler(m->svc, &rc, req, &resp, &st) != 0) {
		if (st.code == STATUS_OK)
			status_set(&st, STATUS_INTERNAL, "%s failed without a reason", m->path);
		if (resp != NULL) {
			protobuf_c_message_free_unpacked(resp, NULL);
			resp = NULL;
		}
	} else if (resp == NULL) {
		status_set(&st, STATUS_INTERNAL, "%s returned no response", m->path);
	} else {
		/* The return value decides: a status left behind by a step that
		 * failed and then succeeded (an EC2 attempt retried after a
		 * throttle) must not turn the answer into that old error. */
		status_clear(&st);
	}

answer:
	if (st.code != STATUS_OK) {
		LOG_KV(LOG_SEV_ERROR, 0, "GRPC error", "method", m->path, "code", status_code_name(st.code), "error", st.msg);
	} else if (log_enabled(5)) {
		struct buf text;
		buf_init(&text);
		pbtext_format(resp, &text, 8192);
		LOG_KV(LOG_SEV_INFO, 5, "GRPC response", "method", m->path, "response", text.data);
		buf_dispose(&text);
	}
	call_respond(c, &st, resp);
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (req != NULL)
		protobuf_c_message_free_unpacked(req, NULL);
	call_unref(c); /* the reference the pool held */
}

/* ---- worker pools ------------------------------------------------------------------ */

static void *pool_main(void *arg)
{
	struct pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->head == NULL && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
		}
		if (p->head == NULL)
			break;
		struct call *c = p->head;
		p->head = c->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		call_run(c);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void pool_init(struct pool *p, struct csi_server *srv, const char *name, int max_threads, int max_queued)
{
	memset(p, 0, sizeof *p);
	p->name = name;
	p->srv = srv;
	p->max_threads = max_threads;
	p->max_queued = max_queued;
	p->tids = xcalloc((size_t)max_threads, sizeof *p->tids);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
}

/* Queues c; returns false when the queue is full (the caller answers). */
static bool pool_push(struct pool *p, struct call *c)
{
	pthread_mutex_lock(&p->mu);
	if (p->max_queued > 0 && p->idle == 0 && p->threads >= p->max_threads && p->queued >= p->max_queued) {
		pthread_mutex_unlock(&p->mu);
		return false;
	}
	c->next = NULL;
	if (p->tail)
		p->tail->next = c;
	else
		p->head = c;
	p->tail = c;
	p->queued++;
	if (p->idle == 0 && p->threads < p->max_threads) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		/* Handlers keep their big buffers on the heap; 256 KiB is ample and
		 * keeps the address space of a 64-thread pool small. */
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&p->tids[p->threads], &attr, pool_main, p) == 0)
			p->threads++;
		else if (p->threads == 0)
			log_error("%s pool: cannot start a thread", p->name);
		pthread_attr_destroy(&attr);
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return true;
}

/* Stops the pool once its queue is empty; gives busy threads until deadline_ms
 * (monotonic) and leaves any still running behind, detached. */
static void pool_stop(struct pool *p, int64_t deadline_ms)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	int n = p->threads;
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < n; i++) {
		int64_t left = deadline_ms - rpc_now_ms();
		if (left < 0)
			left = 0;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (left % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_timedjoin_np(p->tids[i], NULL, &ts) != 0) {
			log_warn("%s pool: a handler is still running at exit; leaving it", p->name);
			pthread_detach(p->tids[i]);
		}
	}
}

static void pool_dispose(struct pool *p)
{
	free(p->tids);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}

/* ---- dispatcher ------------------------------------------------------------------ */

static void arm(struct csi_server *srv, struct method_slot *slot)
{
	struct call *c = call_new(srv, slot);
	grpc_call_error err;
	if (slot->registered != NULL)
		err = grpc_server_request_registered_call(srv->server, slot->registered, &c->gcall, &c->deadline,
							  &c->md, &c->payload, srv->cq, srv->cq, &c->t_request);
	else
		err = grpc_server_request_call(srv->server, &c->gcall, &c->details, &c->md, srv->cq, srv->cq,
					       &c->t_request);
	if (err != GRPC_CALL_OK) {
		log_error("arm %s: grpc error %d", slot->registered ? slot->m.path : "unknown methods", (int)err);
		call_free(c);
	}
}

static void accept_call(struct csi_server *srv, struct call *c)
{
	pthread_mutex_lock(&srv->mu);
	srv->inflight++;
	bool closing = srv->shutting_down;
	pthread_mutex_unlock(&srv->mu);
	if (!closing)
		arm(srv, c->slot);
	if (c->slot->registered == NULL)
		c->deadline = c->details.deadline;
	c->start_us = now_us();

	/* One reference for the close batch, one for whoever runs the call. */
	atomic_store(&c->refs, 1);
	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	atomic_fetch_add(&c->refs, 1);
	if (grpc_call_start_batch(c->gcall, &op, 1, &c->t_close, NULL) != GRPC_CALL_OK)
		call_unref(c);

	const struct csi_method *m = &c->slot->m;
	struct status st = STATUS_INIT;
	if (c->slot->registered == NULL || m->handler == NULL) {
		char name[256];
		status_set(&st, STATUS_UNIMPLEMENTED, "%s is not implemented by this driver in this mode",
			   call_method(c, name, sizeof name));
		log_v(2, "%s", st.msg);
		call_respond(c, &st, NULL);
		call_unref(c);
		return;
	}
	struct pool *p = &srv->pools[m->lane == CSI_LANE_FAST ? 1 : 0];
	if (!pool_push(p, c)) {
		status_set(&st, STATUS_RESOURCE_EXHAUSTED, "%s: %d calls already waiting; retry later", m->path,
			   p->max_queued);
		LOG_KV(LOG_SEV_ERROR, 0, "GRPC error", "method", m->path, "code", "RESOURCE_EXHAUSTED", "error", st.msg);
		call_respond(c, &st, NULL);
		call_unref(c);
	}
}

static void *dispatcher_main(void *arg)
{
	struct csi_server *srv = arg;
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		struct tag *t = ev.tag;
		switch (t->kind) {
		case TAG_REQUEST:
			if (!ev.success) {
				/* The server is shutting down: the armed request is released. */
				call_free(t->call);
				break;
			}
			accept_call(srv, t->call);
			break;
		case TAG_CLOSE:
			if (t->call->close_cancelled)
				atomic_store(&t->call->cancelled, true);
			call_unref(t->call);
			break;
		case TAG_SEND:
			if (!ev.success)
				log_v(2, "answer not delivered (caller gone), status %s", status_code_name(t->call->code));
			call_unref(t->call);
			break;
		case TAG_SHUTDOWN:
			pthread_mutex_lock(&srv->mu);
			srv->shutdown_done = true;
			pthread_cond_broadcast(&srv->cv);
			pthread_mutex_unlock(&srv->mu);
			break;
		}
	}
	return NULL;
}

/* ---- start / stop ------------------------------------------------------------------ */

/* Frees what csi_server_start allocated, once gRPC's objects are gone. */
static void server_free(struct csi_server *srv)
{
	pool_dispose(&srv->pools[0]);
	pool_dispose(&srv->pools[1]);
	free(srv->slots);
	free(srv->unix_path);
	pthread_mutex_destroy(&srv->mu);
	pthread_cond_destroy(&srv->cv);
	free(srv);
	grpc_shutdown();
}

struct csi_server *csi_server_start(const struct csi_method *table, size_t n, const struct csi_server_opts *opts,
				    struct status *st)
{
	char *addr = NULL, *upath = NULL;
	if (csi_endpoint_parse(opts->endpoint, &addr, &upath, st) != 0)
		return NULL;
	if (opts->slow_workers < 1 || opts->fast_workers < 1) {
		free(addr);
		free(upath);
		status_set(st, STATUS_INVALID_ARGUMENT, "worker counts must be at least 1");
		return NULL;
	}
	if (upath != NULL && (mkdir_parents(upath, st) != 0 || clear_stale_socket(upath, st) != 0)) {
		free(addr);
		free(upath);
		return NULL;
	}

	grpc_init();
	struct csi_server *srv = xcalloc(1, sizeof *srv);
	srv->unix_path = upath;
	srv->observer = opts->observer;
	srv->observer_ctx = opts->observer_ctx;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	atomic_init(&srv->calls_total, 0);
	srv->t_shutdown = (struct tag){ TAG_SHUTDOWN, NULL };
	pool_init(&srv->pools[0], srv, "slow", opts->slow_workers, opts->max_queued);
	pool_init(&srv->pools[1], srv, "fast", opts->fast_workers, 0);

	srv->server = grpc_server_create(NULL, NULL);
	srv->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
	srv->slots = xcalloc(n ? n : 1, sizeof *srv->slots);
	for (size_t i = 0; i < n; i++) {
		srv->slots[i].m = table[i];
		srv->slots[i].registered = grpc_server_register_method(
			srv->server, table[i].path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
		if (srv->slots[i].registered == NULL) {
			status_set(st, STATUS_INTERNAL, "register %s failed (duplicate path?)", table[i].path);
			goto fail;
		}
	}
	srv->nslots = n;
	srv->unknown.m.path = "(unknown)";

	grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
	/* The socket must never be reachable with wider permissions than 0660, not
	 * even for an instant: create it under a umask that yields that mode. No
	 * other thread of ours creates files yet, so the process-wide umask is safe. */
	mode_t old_mask = umask(0117);
	int port = grpc_server_add_http2_port(srv->server, addr, creds);
	grpc_server_credentials_release(creds);
	if (port == 0) {
		umask(old_mask);
		status_set(st, STATUS_UNAVAILABLE, "cannot listen on %s", opts->endpoint);
		goto fail;
	}
	grpc_server_start(srv->server);
	umask(old_mask);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < ARMED_PER_METHOD; k++)
			arm(srv, &srv->slots[i]);
	for (int k = 0; k < ARMED_UNKNOWN; k++)
		arm(srv, &srv->unknown);
	if (pthread_create(&srv->dispatcher, NULL, dispatcher_main, srv) != 0) {
		status_set(st, STATUS_INTERNAL, "cannot start the dispatcher thread");
		/* Nothing can drain the queue without it. */
		abort();
	}
	/* Sidecars run as root or in the socket's group; nobody else may talk CSI to us. */
	if (upath != NULL && chmod(upath, 0660) != 0) {
		status_set(st, STATUS_INTERNAL, "chmod %s: %s", upath, strerror(errno));
		csi_server_stop(srv, 0);
		free(addr);
		return NULL;
	}
	log_info("listening on %s (%zu methods, %d slow + %d fast workers)", opts->endpoint, n, opts->slow_workers,
		 opts->fast_workers);
	free(addr);
	return srv;

fail:
	free(addr);
	grpc_server_destroy(srv->server);
	grpc_completion_queue_shutdown(srv->cq);
	while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(srv->cq);
	server_free(srv);
	return NULL;
}

/* Waits until pred holds or deadline_ms (monotonic) passes; srv->mu held. */
static bool wait_until(struct csi_server *srv, bool (*pred)(struct csi_server *), int64_t deadline_ms)
{
	while (!pred(srv)) {
		int64_t left = deadline_ms - rpc_now_ms();
		if (left <= 0)
			return false;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t step = left < 50 ? left : 50;
		ts.tv_nsec += step * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&srv->cv, &srv->mu, &ts);
	}
	return true;
}

static bool is_shutdown_done(struct csi_server *srv) { return srv->shutdown_done; }
static bool is_drained(struct csi_server *srv) { return srv->inflight == 0; }

int csi_server_stop(struct csi_server *srv, int grace_ms)
{
	if (srv == NULL)
		return 0;
	int cancelled = 0;
	pthread_mutex_lock(&srv->mu);
	srv->shutting_down = true;
	pthread_mutex_unlock(&srv->mu);

	grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->t_shutdown);
	pthread_mutex_lock(&srv->mu);
	bool clean = wait_until(srv, is_shutdown_done, rpc_now_ms() + (grace_ms > 0 ? grace_ms : 0)) &&
		     wait_until(srv, is_drained, rpc_now_ms() + (grace_ms > 0 ? grace_ms : 0));
	if (!clean) {
		cancelled = srv->inflight;
		pthread_mutex_unlock(&srv->mu);
		log_warn("grace period over: cancelling %d call(s) still in flight", cancelled);
		grpc_server_cancel_all_calls(srv->server);
		pthread_mutex_lock(&srv->mu);
		wait_until(srv, is_shutdown_done, rpc_now_ms() + 5000);
	}
	pthread_mutex_unlock(&srv->mu);

	/* Handlers see `cancelled` and should return promptly; one that does not is
	 * left behind rather than holding up the exit of a stateless driver. */
	pool_stop(&srv->pools[1], rpc_now_ms() + 2000);
	pool_stop(&srv->pools[0], rpc_now_ms() + 5000);
	pthread_mutex_lock(&srv->mu);
	wait_until(srv, is_drained, rpc_now_ms() + 2000);
	pthread_mutex_unlock(&srv->mu);

	grpc_server_destroy(srv->server);
	grpc_completion_queue_shutdown(srv->cq);
	pthread_join(srv->dispatcher, NULL);
	grpc_completion_queue_destroy(srv->cq);

	if (srv->unix_path != NULL && unlink(srv->unix_path) != 0 && errno != ENOENT)
		log_warn("remove socket %s: %s", srv->unix_path, strerror(errno));
	server_free(srv);
	return cancelled;
}

unsigned long csi_server_calls_total(const struct csi_server *srv)
{
	return atomic_load(&((struct csi_server *)srv)->calls_total);
}

int csi_server_inflight(struct csi_server *srv)
{
	pthread_mutex_lock(&srv->mu);
	int n = srv->inflight;
	pthread_mutex_unlock(&srv->mu);
	return n;
}
