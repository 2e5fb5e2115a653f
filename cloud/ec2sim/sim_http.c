/*
 * sim_http: libmicrohttpd server and routing. See sim_http.h.
 *
 * A request's body is gathered across the access-handler calls in a
 * per-connection context; the answer is built once the body is complete.
 * For GET the query is rebuilt from MHD's decoded arguments, RFC 3986
 * encoded: SigV4 canonicalisation decodes and re-encodes every pair anyway,
 * so the signature checks out whatever encoding the client used.
 */
#include "cloud/ec2sim/sim_http.h"

#include "cloud/ec2sim/sim_auth.h"
#include "cloud/ec2sim/sim_ec2.h"
#include "cloud/ec2sim/sim_imds.h"
#include "cloud/ec2sim/sim_persist.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_BODY (1024 * 1024)

struct sim_http {
	struct sim *sim;
	struct MHD_Daemon *d;
	unsigned port;
};

struct req_ctx {
	struct buf body;
	bool too_big;
};

struct header_list {
	struct sigv4_header *v;
	size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct header_list *l = cls;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n].name = key;
	l->v[l->n].value = value ? value : "";
	l->n++;
	return MHD_YES;
}

static void encode_rfc3986(struct buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || *p == '.' || *p == '~')
			buf_putc(b, (char)*p);
		else
			buf_printf(b, "%%%02X", *p);
	}
}

struct query_build {
	struct buf *q;
	struct sim_form *form;
	bool dup;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct query_build *qb = cls;
	if (qb->q->len > 0)
		buf_putc(qb->q, '&');
	encode_rfc3986(qb->q, key);
	buf_putc(qb->q, '=');
	encode_rfc3986(qb->q, value ? value : "");
	if (sim_form_add(qb->form, key, value ? value : "") != 0)
		qb->dup = true;
	return MHD_YES;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, int status, const char *content_type, struct buf *body,
				  const char *request_id, const char *ttl_header)
{
	size_t len = body->len;
	char *data = buf_take(body);
	buf_dispose(body);
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (request_id != NULL)
		MHD_add_response_header(resp, "x-amzn-RequestId", request_id);
	if (ttl_header != NULL && *ttl_header)
		MHD_add_response_header(resp, "X-aws-ec2-metadata-token-ttl-seconds", ttl_header);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, "ebs-ec2-sim");
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, int status, const char *content_type, const char *text)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, text);
	return send_reply(conn, status, content_type, &b, NULL, NULL);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Answers one EC2 call. get_form holds the query arguments of a GET (NULL for
 * POST); it is consumed. */
static enum MHD_Result handle_ec2(struct sim_http *h, struct MHD_Connection *conn, const struct sim_http_req *req,
				  const struct req_ctx *ctx, struct sim_form *get_form, bool get_dup)
{
	struct sim *s = h->sim;
	char request_id[48];
	sim_request_id(s, request_id, sizeof request_id);
	struct sim_fault_config fc;
	sim_faults_get(&s->faults, &fc);
	if (fc.latency_ms > 0)
		sleep_ms(fc.latency_ms);
	if (sim_faults_draw(&s->faults, fc.drop_rate)) {
		sim_stats_bump(&s->stats, "dropped");
		return MHD_NO;  /* MHD closes the connection without an answer */
	}
	struct buf resp;
	buf_init(&resp);
	struct sim_err e = { 0 };
	struct sim_form form;
	sim_form_init(&form);
	int rc = 0;
	if (ctx->too_big)
		rc = sim_err_set(&e, 413, "RequestEntityTooLarge", "The request body is larger than %d bytes", MAX_BODY);
	else
		rc = sim_auth_check(s->cfg, req, time(NULL), &e);
	if (rc == 0 && get_form == NULL)
		rc = sim_form_parse(&form, req->body, req->body_len, &e);
	if (rc == 0 && get_form != NULL) {
		if (get_dup)
			rc = sim_err_value(&e, "A query parameter is specified more than once");
		form = *get_form;
		sim_form_init(get_form);
	}
	const char *action = NULL;
	char outcome[64];
	int status;
	if (rc != 0) {
		action = sim_form_get(&form, "Action");
		sim_xml_error(&resp, e.code, e.msg, request_id);
		snprintf(outcome, sizeof outcome, "%s", e.code);
		status = e.http;
		log_v(1, "EC2 %s: %d %s: %s", action ? action : "-", status, e.code, e.msg);
	} else {
		status = sim_ec2_handle(s, &form, request_id, &resp, &action, outcome, sizeof outcome);
	}
	sim_stats_count(&s->stats, action, outcome);
	enum MHD_Result res = send_reply(conn, status, "text/xml;charset=UTF-8", &resp, request_id, NULL);
	sim_form_dispose(&form);
	buf_dispose(&resp);
	return res;
}

static enum MHD_Result handle_imds(struct sim_http *h, struct MHD_Connection *conn, const struct sim_http_req *req)
{
	sim_stats_bump(&h->sim->stats, "imds");
	struct sim_imds_reply r;
	sim_imds_reply_init(&r);
	sim_imds_handle(h->sim, req, sim_now_ms(), &r);
	enum MHD_Result res = send_reply(conn, r.status, r.content_type, &r.body, NULL, r.ttl_header);
	sim_imds_reply_dispose(&r);
	return res;
}

/* Applies a JSON object of fault settings over cur. Returns 0 or -1 with msg. */
static int apply_faults(const char *body, size_t len, struct sim_fault_config *cur, char *msg, size_t cap)
{
	json_error_t jerr;
	json_t *o = json_loadb(body, len, 0, &jerr);
	if (!json_is_object(o)) {
		snprintf(msg, cap, "body must be a JSON object: %.80s", jerr.text);
		json_decref(o);
		return -1;
	}
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(o, key, v) {
		double *rate = strcmp(key, "fail_rate") == 0           ? &cur->fail_rate
			       : strcmp(key, "drop_rate") == 0         ? &cur->drop_rate
			       : strcmp(key, "stuck_attach_rate") == 0 ? &cur->stuck_attach_rate
								       : NULL;
		if (rate != NULL) {
			if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
				snprintf(msg, cap, "%s must be a number in 0..1", key);
				rc = -1;
				break;
			}
			*rate = json_number_value(v);
		} else if (strcmp(key, "latency_ms") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 600000) {
				snprintf(msg, cap, "latency_ms must be an integer in 0..600000");
				rc = -1;
				break;
			}
			cur->latency_ms = (long)json_integer_value(v);
		} else if (strcmp(key, "throttle") == 0) {
			if (!json_is_string(v) || sim_fault_parse_throttle(json_string_value(v), cur) != 0) {
				snprintf(msg, cap, "throttle must be \"off\", \"aws\" or \"CAP/REFILL\"");
				rc = -1;
				break;
			}
		} else {
			snprintf(msg, cap, "unknown fault '%s'", key);
			rc = -1;
			break;
		}
	}
	json_decref(o);
	return rc;
}

static char *faults_json(const struct sim_fault_config *c)
{
	char thr[64];
	sim_fault_format_throttle(c, thr, sizeof thr);
	json_t *o = json_pack("{s:s,s:f,s:f,s:f,s:I}", "throttle", thr, "fail_rate", c->fail_rate, "drop_rate",
			      c->drop_rate, "stuck_attach_rate", c->stuck_attach_rate, "latency_ms",
			      (json_int_t)c->latency_ms);
	char *text = json_dumps(o, JSON_SORT_KEYS);
	json_decref(o);
	char *out = xstrdup(text);
	free(text);
	return out;
}

static enum MHD_Result handle_control(struct sim_http *h, struct MHD_Connection *conn, const struct sim_http_req *req,
				      const struct req_ctx *ctx)
{
	struct sim *s = h->sim;
	const char *what = req->path + strlen("/__sim/");
	bool get = strcmp(req->method, "GET") == 0;
	struct buf b;
	buf_init(&b);
	int status = 200;
	if (strcmp(what, "stats") == 0 &&
	    (get || strcmp(req->method, "DELETE") == 0 || strcmp(req->method, "POST") == 0)) {
		if (!get)
			sim_stats_reset(&s->stats);
		char *text = sim_stats_json(&s->stats);
		buf_puts(&b, text);
		free(text);
	} else if (strcmp(what, "faults") == 0 && (get || strcmp(req->method, "POST") == 0 ||
						   strcmp(req->method, "PUT") == 0)) {
		struct sim_fault_config cur;
		sim_faults_get(&s->faults, &cur);
		char msg[160];
		if (!get && (ctx->too_big || apply_faults(req->body, req->body_len, &cur, msg, sizeof msg) != 0)) {
			status = 400;
			buf_printf(&b, "{\"error\":\"%s\"}", ctx->too_big ? "body too large" : msg);
		} else {
			if (!get) {
				sim_faults_set(&s->faults, &cur);
				log_info("faults changed through /__sim/faults");
			}
			char *text = faults_json(&cur);
			buf_puts(&b, text);
			free(text);
		}
	} else if (strcmp(what, "state") == 0 && get) {
		pthread_mutex_lock(&s->lock);
		char *text = sim_persist_dump(&s->st);
		pthread_mutex_unlock(&s->lock);
		buf_puts(&b, text);
		free(text);
	} else {
		status = 404;
		buf_puts(&b, "{\"error\":\"unknown control endpoint or method\"}");
	}
	return send_reply(conn, status, "application/json", &b, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct sim_http *h = cls;
	struct req_ctx *ctx = *con_cls;
	if (ctx == NULL) {
		ctx = xcalloc(1, sizeof *ctx);
		buf_init(&ctx->body);
		*con_cls = ctx;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (ctx->body.len + *upload_data_size > MAX_BODY)
			ctx->too_big = true;
		else
			buf_append(&ctx->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	struct header_list hl = { NULL, 0 };
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &hl);
	struct buf query;
	buf_init(&query);
	struct sim_form get_form;
	sim_form_init(&get_form);
	struct query_build qb = { &query, &get_form, false };
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &qb);
	struct sim_http_req req = {
		.method = method,
		.path = url,
		.query = query.data,
		.headers = hl.v,
		.n_headers = hl.n,
		.body = ctx->body.data,
		.body_len = ctx->body.len,
	};
	enum MHD_Result res;
	if (strncmp(url, "/latest/", 8) == 0 || strcmp(url, "/latest") == 0) {
		if (strcmp(url, "/latest") == 0)
			req.path = "/latest/";
		res = handle_imds(h, conn, &req);
	} else if (strncmp(url, "/__sim/", 7) == 0) {
		res = handle_control(h, conn, &req, ctx);
	} else if (strcmp(url, "/") == 0 && strcmp(method, "POST") == 0) {
		res = handle_ec2(h, conn, &req, ctx, NULL, false);
	} else if (strcmp(url, "/") == 0 && strcmp(method, "GET") == 0 && get_form.n > 0) {
		res = handle_ec2(h, conn, &req, ctx, &get_form, qb.dup);
	} else if (strcmp(url, "/") == 0 && strcmp(method, "GET") == 0) {
		res = send_text(conn, 200, "text/plain", "ebs-ec2-sim: EC2 Query API (POST /), IMDS (/latest/), "
							 "/__sim/stats, /__sim/faults\n");
	} else {
		res = send_text(conn, 404, "text/plain", "404 - Not Found\n");
	}
	sim_form_dispose(&get_form);
	buf_dispose(&query);
	free(hl.v);
	return res;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct req_ctx *ctx = *con_cls;
	if (ctx != NULL) {
		buf_dispose(&ctx->body);
		free(ctx);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_v(2, "microhttpd: %s", msg);
}

struct sim_http *sim_http_start(struct sim *s, struct status *st)
{
	const struct sim_config *cfg = s->cfg;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG;
	const char *host = cfg->listen_host;
	char h6[64];
	if (host[0] == '[') {
		snprintf(h6, sizeof h6, "%.*s", (int)strcspn(host + 1, "]"), host + 1);
		host = h6;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)cfg->port);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		status_set(st, STATUS_INVALID_ARGUMENT, "--listen: '%s' is not an IP address", cfg->listen_host);
		return NULL;
	}
	struct sim_http *h = xcalloc(1, sizeof *h);
	h->sim = s;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)120, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_LISTENING_ADDRESS_REUSE,
				(unsigned)1, MHD_OPTION_END);
	if (h->d == NULL) {
		status_set(st, STATUS_INTERNAL, "cannot listen on %s:%u (address in use or not permitted)",
			   cfg->listen_host, cfg->port);
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : cfg->port;
	return h;
}

unsigned sim_http_port(const struct sim_http *h)
{
	return h->port;
}

void sim_http_stop(struct sim_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
