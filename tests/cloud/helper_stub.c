/*
 * helper_stub: libmicrohttpd stub server for the cloud tests. See helper_stub.h.
 *
 * One thread per connection, so a delayed or dripping reply blocks only its
 * own connection, and sleeping inside MHD callbacks is allowed. Every sleep is
 * a wait on the stub's condition variable, so stub_stop (which sets `stopping`
 * and broadcasts before MHD_stop_daemon joins the connection threads) never
 * waits for a scripted delay, a drip or an endless body to finish.
 */
#include "tests/cloud/helper_stub.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* An owned copy of a struct stub_reply. */
struct reply_copy {
	int status;
	char *body;
	size_t body_len;
	char *headers[STUB_MAX_HEADERS];
	int delay_ms;
	int drip_ms;
	uint64_t generate_len;
	bool chunked;
	bool close;
};

struct rule {
	char *method;  /* NULL: any */
	char *path;
	int times;     /* -1: forever */
	struct reply_copy r;
};

struct stub {
	struct MHD_Daemon *daemon;
	unsigned port;
	char url[64];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_bool stopping;
	struct rule *rules;
	size_t n_rules;
	stub_handler_fn fn;
	void *fn_ctx;
	struct stub_request **reqs;
	size_t n_reqs;
	unsigned connections;
};

/* Per-request accumulation of the upload. */
struct pending {
	struct buf body;
};

/* A body produced by MHD's content-reader callback (drip, generated). */
struct body_src {
	struct stub *s;
	char *body;
	size_t body_len;
	uint64_t generate_len;
	int drip_ms;
};

static void die(const char *what)
{
	fprintf(stderr, "helper_stub: %s\n", what);
	abort();
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		die(path);
	struct buf b;
	buf_init(&b);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	char *out = buf_take(&b);
	buf_dispose(&b);
	return out;
}

static void reply_copy_from(struct reply_copy *dst, const struct stub_reply *src)
{
	memset(dst, 0, sizeof *dst);
	dst->status = src->status ? src->status : 200;
	if (src->body != NULL) {
		dst->body_len = src->body_len ? src->body_len : strlen(src->body);
		dst->body = xmalloc(dst->body_len + 1);
		memcpy(dst->body, src->body, dst->body_len);
		dst->body[dst->body_len] = '\0';
	}
	for (int i = 0; i < STUB_MAX_HEADERS && src->headers[i] != NULL; i++)
		dst->headers[i] = xstrdup(src->headers[i]);
	dst->delay_ms = src->delay_ms;
	dst->drip_ms = src->drip_ms;
	dst->generate_len = src->generate_len;
	dst->chunked = src->chunked;
	dst->close = src->close;
}

static void reply_copy_dup(struct reply_copy *dst, const struct reply_copy *src)
{
	*dst = *src;
	if (src->body != NULL) {
		dst->body = xmalloc(src->body_len + 1);
		memcpy(dst->body, src->body, src->body_len + 1);
	}
	for (int i = 0; i < STUB_MAX_HEADERS; i++)
		dst->headers[i] = src->headers[i] ? xstrdup(src->headers[i]) : NULL;
}

static void reply_copy_dispose(struct reply_copy *r)
{
	free(r->body);
	for (int i = 0; i < STUB_MAX_HEADERS; i++)
		free(r->headers[i]);
	memset(r, 0, sizeof *r);
}

static void request_free(struct stub_request *r)
{
	if (r == NULL)
		return;
	free(r->method);
	free(r->path);
	strv_dispose(&r->headers);
	free(r->body);
	free(r);
}

/* Waits ms or until the stub stops. Returns false when it is stopping. */
static bool stub_sleep(struct stub *s, int ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stopping)) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return !atomic_load(&s->stopping);
}

static ssize_t body_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct body_src *b = cls;
	if (atomic_load(&b->s->stopping))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	uint64_t total = b->generate_len ? b->generate_len : b->body_len;
	if (total != STUB_ENDLESS && pos >= total)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = max;
	if (total != STUB_ENDLESS && total - pos < n)
		n = (size_t)(total - pos);
	if (b->drip_ms > 0) {
		if (!stub_sleep(b->s, b->drip_ms))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		n = 1;
	}
	if (b->generate_len)
		memset(out, 'x', n);
	else
		memcpy(out, b->body + pos, n);
	return (ssize_t)n;
}

static void body_free(void *cls)
{
	struct body_src *b = cls;
	free(b->body);
	free(b);
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct stub_request *r = cls;
	strv_push(&r->headers, key);
	strv_push(&r->headers, value ? value : "");
	return MHD_YES;
}

/* Picks the reply for r: the first live rule, then the handler, then 404. */
static void choose_reply(struct stub *s, const struct stub_request *r, struct reply_copy *out)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_rules; i++) {
		struct rule *ru = &s->rules[i];
		if (ru->times == 0 || strcmp(ru->path, r->path) != 0)
			continue;
		if (ru->method != NULL && strcmp(ru->method, r->method) != 0)
			continue;
		if (ru->times > 0)
			ru->times--;
		reply_copy_dup(out, &ru->r);
		pthread_mutex_unlock(&s->mu);
		return;
	}
	stub_handler_fn fn = s->fn;
	void *ctx = s->fn_ctx;
	pthread_mutex_unlock(&s->mu);
	struct stub_reply rep;
	memset(&rep, 0, sizeof rep);
	if (fn != NULL && fn(ctx, r, &rep)) {
		reply_copy_from(out, &rep);
		return;
	}
	memset(&rep, 0, sizeof rep);
	rep.status = 404;
	rep.body = "not found";
	reply_copy_from(out, &rep);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	(void)version;
	struct stub *s = cls;
	struct pending *p = *req_cls;
	if (p == NULL) {
		p = xcalloc(1, sizeof *p);
		buf_init(&p->body);
		*req_cls = p;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		buf_append(&p->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}

	struct stub_request *r = xcalloc(1, sizeof *r);
	r->method = xstrdup(method);
	r->path = xstrdup(url);
	strv_init(&r->headers);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, copy_header, r);
	r->body_len = p->body.len;
	r->body = buf_take(&p->body);
	pthread_mutex_lock(&s->mu);
	s->reqs = xrealloc(s->reqs, (s->n_reqs + 1) * sizeof *s->reqs);
	s->reqs[s->n_reqs++] = r;
	pthread_mutex_unlock(&s->mu);

	struct reply_copy rep;
	choose_reply(s, r, &rep);
	if (rep.delay_ms > 0 && !stub_sleep(s, rep.delay_ms)) {
		reply_copy_dispose(&rep);
		return MHD_NO; /* stopping: drop the connection */
	}

	struct MHD_Response *resp;
	if (rep.drip_ms > 0 || rep.generate_len > 0) {
		struct body_src *b = xcalloc(1, sizeof *b);
		b->s = s;
		b->body = rep.body;
		b->body_len = rep.body_len;
		b->generate_len = rep.generate_len;
		b->drip_ms = rep.drip_ms;
		rep.body = NULL;
		uint64_t total = b->generate_len ? b->generate_len : b->body_len;
		if (rep.chunked || total == STUB_ENDLESS)
			total = MHD_SIZE_UNKNOWN;
		resp = MHD_create_response_from_callback(total, 64 * 1024, body_reader, b, body_free);
	} else {
		resp = MHD_create_response_from_buffer(rep.body_len, rep.body ? rep.body : (char *)"",
						       MHD_RESPMEM_MUST_COPY);
	}
	if (resp == NULL)
		die("cannot create a response");
	for (int i = 0; i < STUB_MAX_HEADERS && rep.headers[i] != NULL; i++) {
		char *line = rep.headers[i];
		char *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		MHD_add_response_header(resp, line, v);
	}
	if (rep.close)
		MHD_add_response_header(resp, "Connection", "close");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rep.status, resp);
	MHD_destroy_response(resp);
	reply_copy_dispose(&rep);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct pending *p = *req_cls;
	if (p != NULL) {
		buf_dispose(&p->body);
		free(p);
		*req_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)conn;
	(void)socket_context;
	struct stub *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&s->mu);
		s->connections++;
		pthread_mutex_unlock(&s->mu);
	}
}

static struct stub *start(const char *cert_file, const char *key_file)
{
	struct stub *s = xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&s->stopping, false);

	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	char *cert = NULL, *key = NULL;
	if (cert_file != NULL) {
		cert = read_all(cert_file);
		key = read_all(key_file);
		flags |= MHD_USE_TLS;
	}
	/* Without TLS the key/cert options are simply absent: MHD_OPTION_END
	 * comes first. */
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				     cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
				     MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
	free(cert);
	free(key);
	if (s->daemon == NULL)
		die("MHD_start_daemon failed");
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0)
		die("cannot learn the bound port");
	s->port = info->port;
	snprintf(s->url, sizeof s->url, "%s://127.0.0.1:%u", cert_file ? "https" : "http", s->port);
	return s;
}

struct stub *stub_start(void) { return start(NULL, NULL); }

struct stub *stub_start_tls(const char *cert_file, const char *key_file) { return start(cert_file, key_file); }

static void rules_clear(struct stub *s)
{
	for (size_t i = 0; i < s->n_rules; i++) {
		free(s->rules[i].method);
		free(s->rules[i].path);
		reply_copy_dispose(&s->rules[i].r);
	}
	free(s->rules);
	s->rules = NULL;
	s->n_rules = 0;
}

static void reqs_clear(struct stub *s)
{
	for (size_t i = 0; i < s->n_reqs; i++)
		request_free(s->reqs[i]);
	free(s->reqs);
	s->reqs = NULL;
	s->n_reqs = 0;
}

void stub_stop(struct stub *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stopping, true);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	MHD_stop_daemon(s->daemon);
	rules_clear(s);
	reqs_clear(s);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

unsigned stub_port(const struct stub *s) { return s->port; }

const char *stub_url(const struct stub *s) { return s->url; }

void stub_on(struct stub *s, const char *method, const char *path, int times, const struct stub_reply *r)
{
	pthread_mutex_lock(&s->mu);
	s->rules = xrealloc(s->rules, (s->n_rules + 1) * sizeof *s->rules);
	struct rule *ru = &s->rules[s->n_rules++];
	ru->method = method ? xstrdup(method) : NULL;
	ru->path = xstrdup(path);
	ru->times = times;
	reply_copy_from(&ru->r, r);
	pthread_mutex_unlock(&s->mu);
}

void stub_set_handler(struct stub *s, stub_handler_fn fn, void *ctx)
{
	pthread_mutex_lock(&s->mu);
	s->fn = fn;
	s->fn_ctx = ctx;
	pthread_mutex_unlock(&s->mu);
}

void stub_reset(struct stub *s)
{
	pthread_mutex_lock(&s->mu);
	rules_clear(s);
	reqs_clear(s);
	s->fn = NULL;
	s->fn_ctx = NULL;
	s->connections = 0;
	pthread_mutex_unlock(&s->mu);
}

size_t stub_request_count(struct stub *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->n_reqs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

const struct stub_request *stub_request_at(struct stub *s, size_t i)
{
	pthread_mutex_lock(&s->mu);
	const struct stub_request *r = i < s->n_reqs ? s->reqs[i] : NULL;
	pthread_mutex_unlock(&s->mu);
	return r;
}

const char *stub_request_header(const struct stub_request *req, const char *name)
{
	for (size_t i = 0; i + 1 < req->headers.n; i += 2)
		if (strcasecmp(req->headers.v[i], name) == 0)
			return req->headers.v[i + 1];
	return NULL;
}

unsigned stub_connection_count(struct stub *s)
{
	pthread_mutex_lock(&s->mu);
	unsigned n = s->connections;
	pthread_mutex_unlock(&s->mu);
	return n;
}

unsigned stub_unused_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		die("bind");
	close(fd);
	return ntohs(sa.sin_port);
}

int stub_thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}
