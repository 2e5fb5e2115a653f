/*
 * cloud_aws_request: the one path every EC2 call takes, and the waiters' poll
 * schedule. See cloud_aws_internal.h.
 *
 * Per attempt: cancel/deadline check → client-side token (retry_limiter) →
 * credentials (creds_get; cached by the provider) → SigV4 over Content-Type and
 * Host (X-Amz-Date and X-Amz-Security-Token added and signed by the signer) →
 * http_do bounded by the deadline and attempt_timeout_ms → classify: a 2xx
 * whose body is not an error document is the answer; anything else goes
 * through aws_error's table. Then the observer hook, the limiter's feedback,
 * and retry.h decides whether to sleep and go again. An auth-expired code
 * (aws_error's refresh_credentials) invalidates the cached credentials and is
 * retried once at once, since the next credentials may well be good.
 * Deliberately not here: parsing the answer (the op's parser does it).
 */
#include "cloud/cloud_aws_internal.h"

#include "cloud/aws_error.h"
#include "cloud/creds.h"
#include "cloud/sigv4.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define SLEEP_SLICE_MS 500

int64_t cloud_aws_now(const struct cloud_aws *a)
{
	return retry_now_ms(a->clock);
}

int64_t cloud_aws_wall_ms(const struct cloud_aws *a)
{
	if (a->wall_ms != NULL)
		return a->wall_ms(a->wall_ctx);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The real monotonic deadline for the HTTP layer and the credential provider
 * (they use rpc_now_ms) of a deadline in the injected clock's domain. */
static int64_t real_deadline(const struct cloud_aws *a, int64_t deadline_ms)
{
	if (deadline_ms == RPC_NO_DEADLINE)
		return RPC_NO_DEADLINE;
	int64_t left = deadline_ms - cloud_aws_now(a);
	return rpc_now_ms() + (left > 0 ? left : 0);
}

static bool is_cancelled(const struct rpc_ctx *rc)
{
	return rc != NULL && rc->cancelled != NULL && atomic_load(rc->cancelled);
}

/* True when body is an EC2 / Query error document (<Response>, <ErrorResponse>
 * or <Error> at the root): EC2 can send one with HTTP 200. Only the root is
 * looked at, so a success body costs nothing more than this. */
static bool looks_like_error(const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (end - p >= 2 && p[0] == '<' && (p[1] == '?' || p[1] == '!')) {
			const char *gt = memchr(p, '>', (size_t)(end - p));
			if (gt == NULL)
				return false;
			p = gt + 1;
			continue;
		}
		break;
	}
	static const char *const roots[] = { "<Response", "<ErrorResponse", "<Error" };
	for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
		size_t n = strlen(roots[i]);
		if ((size_t)(end - p) > n && memcmp(p, roots[i], n) == 0 &&
		    (p[n] == '>' || p[n] == ' ' || p[n] == '\t' || p[n] == '\r' || p[n] == '\n' || p[n] == '/'))
			return true;
	}
	return false;
}

static const char *transport_code(enum http_error e)
{
	switch (e) {
	case HTTP_ERR_CONNECT:
		return "ConnectError";
	case HTTP_ERR_TIMEOUT:
		return "Timeout";
	case HTTP_ERR_IO:
		return "ConnectionReset";
	case HTTP_ERR_TLS:
		return "TLSError";
	case HTTP_ERR_TOO_LARGE:
		return "ResponseTooLarge";
	case HTTP_ERR_CANCELLED:
		return "Cancelled";
	default:
		return "TransportError";
	}
}

/* What one attempt came to. */
struct outcome {
	bool ok;
	char code[AWS_ERROR_CODE_MAX];   /* "" on success */
	int http_status;
	struct aws_error_class cls;
	bool throttled;
	bool timeout;
};

/* Classifies an HTTP answer. Returns 0 for the answer the caller wants (2xx
 * without an error body; DryRunOperation), -1 with st and o filled otherwise. */
static int classify(const char *action, const struct http_response *resp, struct outcome *o, struct status *st)
{
	o->http_status = (int)resp->status;
	bool success_status = resp->status >= 200 && resp->status < 300;
	if (success_status && !looks_like_error(resp->body.data, resp->body.len)) {
		o->ok = true;
		return 0;
	}
	struct aws_error e;
	struct status pst = STATUS_INIT;
	if (aws_error_parse(resp->body.data, resp->body.len, (int)resp->status, &e, &pst) == 0) {
		snprintf(o->code, sizeof o->code, "%s", e.code);
		o->cls = aws_error_classify(e.code, (int)resp->status);
		if (o->cls.status == STATUS_OK) {  /* DryRunOperation */
			o->ok = true;
			o->code[0] = '\0';
			return 0;
		}
		o->throttled = o->cls.retry == AWS_ERROR_RETRY_THROTTLE;
		return aws_error_to_status(&e, action, st);
	}
	if (success_status) {
		/* Looked like an error document but is not a well-formed one. */
		snprintf(o->code, sizeof o->code, "MalformedError");
		o->cls = (struct aws_error_class){ STATUS_INTERNAL, AWS_ERROR_RETRY_NONE, false };
		return status_set(st, STATUS_INTERNAL, "%s: HTTP %ld with a malformed error body", action,
				  resp->status);
	}
	snprintf(o->code, sizeof o->code, "HTTP%ld", resp->status);
	o->cls = aws_error_classify_http((int)resp->status);
	o->throttled = o->cls.retry == AWS_ERROR_RETRY_THROTTLE;
	const char *rid = http_response_header(resp, "x-amzn-RequestId");
	if (rid == NULL)
		rid = http_response_header(resp, "x-amz-request-id");
	return status_set(st, o->cls.status == STATUS_OK ? STATUS_UNKNOWN : o->cls.status,
			  "%s: HTTP %ld without an EC2 error body%s%.64s%s", action, resp->status,
			  rid ? " (request id " : "", rid ? rid : "", rid ? ")" : "");
}

/* One signed HTTP attempt. */
static int attempt(struct cloud_aws *a, const struct rpc_ctx *rc, const char *action, const struct ec2_form *form,
		   const struct creds *cr, int64_t deadline_ms, struct http_response *resp, struct outcome *o,
		   struct status *st)
{
	memset(o, 0, sizeof *o);
	const char *host = a->ep.parsed.host_header;
	struct sigv4_header sh[2] = { { "Content-Type", CONTENT_TYPE }, { "Host", host } };
	struct sigv4_request sreq = {
		.method = "POST",
		.path = a->ep.parsed.path,
		.headers = sh,
		.n_headers = 2,
		.payload = ec2_form_body(form),
		.payload_len = ec2_form_len(form),
	};
	struct sigv4_credentials sc = { cr->access_key_id, cr->secret_access_key, cr->session_token };
	struct sigv4_params sp = {
		.region = a->ep.signing_region,
		.service = a->ep.signing_service,
		.time = (time_t)(cloud_aws_wall_ms(a) / 1000),
		.normalize_path = true,
	};
	struct sigv4_result sres;
	sigv4_result_init(&sres);
	if (sigv4_sign(&sreq, &sc, &sp, &sres, st) < 0) {
		sigv4_result_dispose(&sres);
		snprintf(o->code, sizeof o->code, "SigningError");
		o->cls.status = st->code;
		return status_prefix(st, "%s: signing: ", action);
	}
	struct http_header hh[2 + SIGV4_MAX_OUT_HEADERS];
	size_t nh = 0;
	hh[nh++] = (struct http_header){ "Content-Type", CONTENT_TYPE };
	hh[nh++] = (struct http_header){ "Host", host };
	for (size_t i = 0; i < sres.n_add; i++)
		hh[nh++] = (struct http_header){ sres.add[i].name, sres.add[i].value };
	struct http_request req = {
		.method = "POST",
		.url = a->ep.url,
		.headers = hh,
		.n_headers = nh,
		.body = ec2_form_body(form),
		.body_len = ec2_form_len(form),
		.deadline_ms = real_deadline(a, deadline_ms),
		.timeout_ms = a->attempt_timeout_ms,
		.cancelled = rc ? rc->cancelled : NULL,
	};
	int ret = http_do(a->http, &req, resp, st);
	sigv4_result_dispose(&sres);
	if (ret < 0) {
		snprintf(o->code, sizeof o->code, "%s", transport_code(resp->error));
		o->cls.status = st->code;
		o->cls.retry = retry_class_of_transport(st->code);
		o->timeout = resp->error == HTTP_ERR_TIMEOUT;
		if (resp->error == HTTP_ERR_CANCELLED || resp->error == HTTP_ERR_TOO_LARGE)
			o->cls.retry = AWS_ERROR_RETRY_NONE;
		return status_prefix(st, "%s: ", action);
	}
	return classify(action, resp, o, st);
}

int cloud_aws_request(struct cloud_aws *a, const struct rpc_ctx *rc, const char *action, const struct ec2_form *form,
		      unsigned flags, struct http_response *resp, struct status *st)
{
	int64_t deadline = rc ? rc->deadline_ms : RPC_NO_DEADLINE;
	const char *method = rc ? rc->method : NULL;
	bool unfiltered = (flags & CLOUD_AWS_UNFILTERED) != 0;
	static const struct retry_policy once = { 1, 0, 0 };
	struct retry r;
	retry_init(&r, (flags & CLOUD_AWS_NO_RETRY) ? &once : &a->policy, a->clock, &a->quota, deadline);
	bool refreshed = false;
	/* EC2 takes a token only from requests it serves ("each request that you
	 * make removes one token"; a throttled one found none): a call throttled
	 * by EC2 still holds the token our bucket gave it and resends with it
	 * after its backoff, instead of queueing again behind every call that
	 * arrived meanwhile (seconds per queued call under a storm). */
	bool holds_token = false;
	struct status last = STATUS_INIT;
	for (;;) {
		if (is_cancelled(rc))
			return status_set(st, STATUS_CANCELLED, "%s: cancelled", action);
		if (deadline != RPC_NO_DEADLINE && cloud_aws_now(a) >= deadline) {
			if (last.code != STATUS_OK)
				return status_set(st, STATUS_DEADLINE_EXCEEDED, "%s: deadline exceeded; last error: %s",
						  action, last.msg);
			return status_set(st, STATUS_DEADLINE_EXCEEDED, "%s: deadline exceeded", action);
		}
		if (a->limiter != NULL && !holds_token &&
		    retry_limiter_acquire(a->limiter, action, unfiltered, deadline, st) < 0)
			return -1;
		holds_token = false;
		struct creds cr;
		memset(&cr, 0, sizeof cr);
		if (creds_get(a->creds, real_deadline(a, deadline), &cr, st) < 0) {
			creds_dispose(&cr);
			return status_prefix(st, "%s: credentials: ", action);
		}
		struct timespec w0;
		clock_gettime(CLOCK_MONOTONIC, &w0);
		struct outcome o;
		int ret = attempt(a, rc, action, form, &cr, deadline, resp, &o, st);
		creds_dispose(&cr);
		struct timespec w1;
		clock_gettime(CLOCK_MONOTONIC, &w1);
		double secs = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
		if (a->on_request != NULL)
			a->on_request(a->on_request_ctx, method, action, ret == 0 ? NULL : o.code, o.http_status, secs,
				      o.throttled);
		if (a->limiter != NULL && o.http_status != 0) {
			retry_limiter_feedback(a->limiter, action, unfiltered, o.throttled);
			holds_token = o.throttled;
		}
		if (ret == 0) {
			retry_success(&r);
			/* A failed attempt before this one left its reason in st; a
			 * success must not carry it up (callers branch on st too). */
			status_clear(st);
			return 0;
		}
		LOG_KV(LOG_SEV_INFO, o.throttled ? 4 : 3, "EC2 call failed", "action", action, "code", o.code, "err",
		       st->msg);
		if (o.cls.refresh_credentials && !refreshed) {
			/* Expired or revoked credentials: the provider may have
			 * newer ones; one immediate retry, never a loop. */
			refreshed = true;
			creds_invalidate(a->creds);
			status_copy(&last, st);
			continue;
		}
		if (retry_after_failure(&r, o.cls.retry, o.timeout, st) < 0)
			return -1;
		status_copy(&last, st);
	}
}

/* ---- waiters' schedule ---------------------------------------------------------- */

void cloud_aws_poll_init(struct cloud_aws *a, const struct rpc_ctx *rc, struct cloud_aws_poll *p,
			 int64_t first_delay_ms)
{
	int64_t now = cloud_aws_now(a);
	p->start_ms = now;
	p->end_ms = now + a->max_wait_ms;
	if (rc != NULL && rc->deadline_ms != RPC_NO_DEADLINE && rc->deadline_ms < p->end_ms)
		p->end_ms = rc->deadline_ms;
	p->delay_ms = first_delay_ms;
	p->next_ms = a->poll_initial_ms;
	if (first_delay_ms == a->poll_initial_ms) {
		double n = (double)a->poll_initial_ms * a->poll_factor;
		p->next_ms = n > (double)a->poll_cap_ms ? a->poll_cap_ms : (int64_t)n;
	}
	p->polls = 0;
}

int cloud_aws_poll_sleep(struct cloud_aws *a, const struct rpc_ctx *rc, struct cloud_aws_poll *p, const char *what,
			 const char *state, struct status *st)
{
	int64_t now = cloud_aws_now(a);
	if (is_cancelled(rc))
		return status_set(st, STATUS_CANCELLED, "%s: cancelled while waiting", what);
	if (now + p->delay_ms >= p->end_ms)
		return status_set(st, STATUS_DEADLINE_EXCEEDED, "%s: still %s after %lld ms and %d polls", what,
				  state ? state : "not done", (long long)(now - p->start_ms), p->polls);
	/* In slices, so that a cancelled caller is let go soon. */
	for (int64_t left = p->delay_ms; left > 0;) {
		int64_t s = left < SLEEP_SLICE_MS ? left : SLEEP_SLICE_MS;
		retry_sleep_ms(a->clock, s);
		left -= s;
		if (is_cancelled(rc))
			return status_set(st, STATUS_CANCELLED, "%s: cancelled while waiting", what);
	}
	p->polls++;
	p->delay_ms = p->next_ms;
	double n = (double)p->next_ms * a->poll_factor;
	p->next_ms = n > (double)a->poll_cap_ms ? a->poll_cap_ms : (int64_t)n;
	return 0;
}
