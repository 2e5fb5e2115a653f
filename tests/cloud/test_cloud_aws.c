/*
 * test_cloud_aws: the AWS cloud against helper_stub playing EC2 (replies
 * scripted per Action from fixtures and generated XML, requests captured):
 * each op's form (members, flattening, ClientToken, TagSpecification, filters,
 * paging); SigV4 verified with sigv4_verify; retries of throttling, 503,
 * 200-with-error-body and broken connections on an injected clock, bounded by
 * the deadline; no retry of client errors; AuthFailure → one retry with new
 * credentials; waits (creating → available, vanishing volumes, attaching →
 * attached at our device, stuck → DetachVolume); device names; NotFound on
 * delete/detach; the health-check cache; the observer hook; Describe batching
 * (200 creates sharing a couple of DescribeVolumes calls); region from IMDS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/cloud_aws.h"
#include "cloud/imds.h"
#include "cloud/sigv4.h"
#include "common/rpc.h"
#include "common/xalloc.h"
#include "tests/cloud/helper_http.h"
#include "tests/cloud/helper_stub.h"

#include <arpa/inet.h>
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

#define AK "AKIDSTUBEXAMPLE"
#define SK "stubSECRETkey/0000+xyz"
#define TOK "stubSESSIONtoken0000"
#define FIX "tests/fixtures/ec2/"
#define NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""
/* Full jitter picks exactly the ceiling for the first four retries with this
 * value (it is lcm(1001, 2001, 4001, 8001) - 1): 1, 2, 4, 8 s. */
#define RND_MAX4 3053336667380ULL
#define TOKEN64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- environment -------------------------------------------------------------- */

struct fake_env {
	char *kv[16][2];
};

static const char *fake_getenv(void *ctx, const char *name)
{
	struct fake_env *e = ctx;
	for (size_t i = 0; i < 16 && e->kv[i][0]; i++)
		if (strcmp(e->kv[i][0], name) == 0)
			return e->kv[i][1];
	return NULL;
}

static void env_set(struct fake_env *e, const char *name, const char *value)
{
	for (size_t i = 0; i < 16; i++) {
		if (e->kv[i][0] == NULL) {
			e->kv[i][0] = xstrdup(name);
			e->kv[i][1] = xstrdup(value);
			return;
		}
	}
	fail();
}

static void env_clear(struct fake_env *e)
{
	for (size_t i = 0; i < 16 && e->kv[i][0]; i++) {
		free(e->kv[i][0]);
		free(e->kv[i][1]);
		e->kv[i][0] = e->kv[i][1] = NULL;
	}
}

/* ---- clock: sleeping moves time forward at once ----------------------------------- */

struct fake_clock {
	_Atomic int64_t offset;
	_Atomic int64_t slept;
	atomic_int sleeps;
	_Atomic uint64_t rnd;
};

static int64_t fc_now(void *ctx)
{
	return rpc_now_ms() + atomic_load(&((struct fake_clock *)ctx)->offset);
}

static void fc_sleep(void *ctx, int64_t ms)
{
	struct fake_clock *c = ctx;
	atomic_fetch_add(&c->sleeps, 1);
	atomic_fetch_add(&c->slept, ms);
	atomic_fetch_add(&c->offset, ms);
}

static uint64_t fc_random(void *ctx)
{
	return atomic_load(&((struct fake_clock *)ctx)->rnd);
}

static int64_t real_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t fc_wall(void *ctx)
{
	return real_wall_ms() + atomic_load(&((struct fake_clock *)ctx)->offset);
}

/* ---- the EC2 script ------------------------------------------------------------------- */

struct entry {
	char action[48];
	int status;
	char *body;
	int times;      /* -1: forever */
};

struct observed {
	char method[64];
	char action[48];
	char code[64];
	int status;
	bool throttled;
};

struct world {
	pthread_mutex_t mu;
	struct entry q[64];
	size_t n;
	/* Answers DescribeVolumes by id from this list when nothing is scripted:
	 * every id is an available gp3 volume, except the missing ones. */
	bool dyn_volumes;
	const char *missing[4];
	/* Rewrites the credentials file after the first request (auth test). */
	const char *rotate_file;
	struct observed obs[128];
	size_t n_obs;
};

static struct world W;

struct t {
	struct stub *stub;
	struct fake_env env;
	struct fake_clock clk;
	struct retry_clock rc;
	struct endpoint_env ee;
	struct cloud *c;
};

/* Decodes form value src (%XX) into dst. */
static void form_decode(const char *src, size_t n, char *dst, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		if (src[i] == '%' && i + 2 < n) {
			char hex[3] = { src[i + 1], src[i + 2], 0 };
			dst[k++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			dst[k++] = src[i] == '+' ? ' ' : src[i];
		}
	}
	dst[k] = '\0';
}

/* The decoded value of key in a form body, into out; false when absent. */
static bool form_get(const char *body, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	for (const char *p = body; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			form_decode(p + klen + 1, len - klen - 1, out, cap);
			return true;
		}
		p = amp ? amp + 1 : NULL;
	}
	return false;
}

static char *file_text(const char *path)
{
	size_t len;
	char *s = helper_read_file(path, &len);
	assert_non_null(s);
	return s;
}

static void script_raw(const char *action, int status, char *body_owned, int times)
{
	pthread_mutex_lock(&W.mu);
	assert_true(W.n < 64);
	struct entry *e = &W.q[W.n++];
	snprintf(e->action, sizeof e->action, "%s", action);
	e->status = status;
	e->body = body_owned;
	e->times = times;
	pthread_mutex_unlock(&W.mu);
}

static void script(const char *action, int status, int times, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void script(const char *action, int status, int times, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *body = NULL;
	if (vasprintf(&body, fmt, ap) < 0)
		abort();
	va_end(ap);
	script_raw(action, status, body, times);
}

static void script_file(const char *action, int status, int times, const char *path)
{
	script_raw(action, status, file_text(path), times);
}

static void iso_ms(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%03dZ", base, (int)(ms % 1000));
}

/* One <item> of a volumeSet. att_inst NULL: no attachment. */
static char *vol_item(const char *id, const char *state, const char *att_inst, const char *att_dev,
		      const char *att_state, int64_t att_time_ms, const char *name_tag)
{
	char att[512] = "";
	if (att_inst != NULL) {
		char when[40];
		iso_ms(att_time_ms, when, sizeof when);
		snprintf(att, sizeof att,
			 "<attachmentSet><item><volumeId>%s</volumeId><instanceId>%s</instanceId><device>%s</device>"
			 "<status>%s</status><attachTime>%s</attachTime><deleteOnTermination>false</deleteOnTermination>"
			 "</item></attachmentSet>",
			 id, att_inst, att_dev, att_state, when);
	}
	char tags[256] = "";
	if (name_tag != NULL)
		snprintf(tags, sizeof tags, "<tagSet><item><key>CSIVolumeName</key><value>%s</value></item></tagSet>",
			 name_tag);
	char *s = NULL;
	if (asprintf(&s,
		     "<item><volumeId>%s</volumeId><size>10</size><snapshotId/><availabilityZone>us-east-1a"
		     "</availabilityZone><status>%s</status><createTime>2024-01-02T03:04:05.006Z</createTime>%s%s"
		     "<volumeType>gp3</volumeType><iops>3000</iops><throughput>125</throughput><encrypted>false"
		     "</encrypted><multiAttachEnabled>false</multiAttachEnabled></item>",
		     id, state, att, tags) < 0)
		abort();
	return s;
}

static void script_volumes(int times, char *item1, char *item2)
{
	script("DescribeVolumes", 200, times,
	       "<DescribeVolumesResponse " NS "><requestId>r-dv</requestId><volumeSet>%s%s</volumeSet>"
	       "</DescribeVolumesResponse>",
	       item1 ? item1 : "", item2 ? item2 : "");
	free(item1);
	free(item2);
}

static void script_error(const char *action, int status, int times, const char *code, const char *msg)
{
	script(action, status, times,
	       "<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>"
	       "<RequestID>req-%s</RequestID></Response>",
	       code, msg, code);
}

static void dyn_volumes(const char *body, struct stub_reply *out, char *buf, size_t cap)
{
	static _Thread_local char ids[512][32];
	size_t n = 0;
	for (int i = 1; i <= 512; i++) {
		char key[32];
		snprintf(key, sizeof key, "VolumeId.%d", i);
		if (!form_get(body, key, ids[n], sizeof ids[n]))
			break;
		n++;
	}
	char missing[256] = "";
	for (size_t i = 0; i < n; i++)
		for (size_t m = 0; m < 4 && W.missing[m]; m++)
			if (strcmp(ids[i], W.missing[m]) == 0) {
				size_t l = strlen(missing);
				snprintf(missing + l, sizeof missing - l, "%s%s", l ? ", " : "", ids[i]);
			}
	if (missing[0] != '\0') {
		out->status = 400;
		snprintf(buf, cap,
			 "<Response><Errors><Error><Code>InvalidVolume.NotFound</Code><Message>The volume '%s' does "
			 "not exist.</Message></Error></Errors><RequestID>req-nf</RequestID></Response>",
			 missing);
		out->body = buf;
		return;
	}
	size_t k = (size_t)snprintf(buf, cap, "<DescribeVolumesResponse " NS "><requestId>r</requestId><volumeSet>");
	for (size_t i = 0; i < n; i++) {
		char *it = vol_item(ids[i], "available", NULL, NULL, NULL, 0, NULL);
		k += (size_t)snprintf(buf + k, cap - k, "%s", it);
		free(it);
	}
	snprintf(buf + k, cap - k, "</volumeSet></DescribeVolumesResponse>");
	out->body = buf;
}

static bool handler(void *ctx, const struct stub_request *req, struct stub_reply *out)
{
	(void)ctx;
	static _Thread_local char body[512 * 1024];
	char action[64] = "";
	form_get(req->body ? req->body : "", "Action", action, sizeof action);
	pthread_mutex_lock(&W.mu);
	if (W.rotate_file != NULL) {
		FILE *f = fopen(W.rotate_file, "w");
		fprintf(f, "[default]\naws_access_key_id = AKIDNEW\naws_secret_access_key = " SK "\n");
		fclose(f);
		W.rotate_file = NULL;
	}
	for (size_t i = 0; i < W.n; i++) {
		struct entry *e = &W.q[i];
		if (e->times == 0 || strcmp(e->action, action) != 0)
			continue;
		if (e->times > 0)
			e->times--;
		out->status = e->status;
		snprintf(body, sizeof body, "%s", e->body);
		out->body = body;
		pthread_mutex_unlock(&W.mu);
		return true;
	}
	if (strcmp(action, "CreateVolume") == 0 && W.dyn_volumes) {
		/* One volume per client token, as EC2 does. */
		char tok[80] = "";
		form_get(req->body, "ClientToken", tok, sizeof tok);
		tok[17] = '\0';
		snprintf(body, sizeof body,
			 "<CreateVolumeResponse " NS "><requestId>r</requestId><volumeId>vol-%s</volumeId><size>1"
			 "</size><availabilityZone>us-east-1a</availabilityZone><status>creating</status>"
			 "</CreateVolumeResponse>",
			 tok);
		out->body = body;
		pthread_mutex_unlock(&W.mu);
		return true;
	}
	if (strcmp(action, "DescribeVolumes") == 0 && W.dyn_volumes) {
		dyn_volumes(req->body, out, body, sizeof body);
		pthread_mutex_unlock(&W.mu);
		return true;
	}
	pthread_mutex_unlock(&W.mu);
	out->status = 400;
	snprintf(body, sizeof body,
		 "<Response><Errors><Error><Code>InvalidAction</Code><Message>unscripted %s</Message></Error>"
		 "</Errors><RequestID>none</RequestID></Response>",
		 action);
	out->body = body;
	return true;
}

static void observe(void *ctx, const char *method, const char *action, const char *code, int status, double secs,
		    bool throttled)
{
	(void)ctx;
	assert_true(secs >= 0);
	pthread_mutex_lock(&W.mu);
	if (W.n_obs < 128) {
		struct observed *o = &W.obs[W.n_obs++];
		snprintf(o->method, sizeof o->method, "%s", method ? method : "");
		snprintf(o->action, sizeof o->action, "%s", action);
		snprintf(o->code, sizeof o->code, "%s", code ? code : "");
		o->status = status;
		o->throttled = throttled;
	}
	pthread_mutex_unlock(&W.mu);
}

/* ---- fixture set-up ----------------------------------------------------------------------- */

static struct cloud *make_cloud(struct t *t, const struct cloud_aws_options *extra)
{
	struct cloud_aws_options o;
	if (extra != NULL)
		o = *extra;
	else
		memset(&o, 0, sizeof o);
	t->ee = (struct endpoint_env){ fake_getenv, &t->env };
	o.env = &t->ee;  /* borrowed by the cloud: t outlives it */
	o.user_agent_version = "test";
	o.clock = &t->rc;
	o.wall_ms = fc_wall;
	o.wall_ctx = &t->clk;
	o.on_request = observe;
	if (o.batching.window_ms == 0)
		o.batching.window_ms = 5;
	struct status st = STATUS_INIT;
	struct cloud *c = cloud_aws_new(&o, &st);
	if (c == NULL)
		fprintf(stderr, "cloud_aws_new: %s\n", st.msg);
	assert_non_null(c);
	return c;
}

static int setup(void **state)
{
	struct t *t = xcalloc(1, sizeof *t);
	for (size_t i = 0; i < W.n; i++)
		free(W.q[i].body);
	memset(&W, 0, sizeof W);
	pthread_mutex_init(&W.mu, NULL);
	t->stub = stub_start();
	stub_set_handler(t->stub, handler, NULL);
	env_set(&t->env, "AWS_ACCESS_KEY_ID", AK);
	env_set(&t->env, "AWS_SECRET_ACCESS_KEY", SK);
	env_set(&t->env, "AWS_SESSION_TOKEN", TOK);
	env_set(&t->env, "AWS_REGION", "us-east-1");
	env_set(&t->env, "AWS_ENDPOINT_URL_EC2", stub_url(t->stub));
	env_set(&t->env, "AWS_EC2_METADATA_DISABLED", "true");
	t->rc = (struct retry_clock){ fc_now, fc_sleep, fc_random, &t->clk };
	atomic_store(&t->clk.rnd, 0);
	t->c = make_cloud(t, NULL);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	cloud_free(t->c);
	stub_stop(t->stub);
	env_clear(&t->env);
	for (size_t i = 0; i < W.n; i++)
		free(W.q[i].body);
	W.n = 0;
	pthread_mutex_destroy(&W.mu);
	free(t);
	return 0;
}

static struct rpc_ctx ctx_for(struct t *t, const char *method, int64_t ms)
{
	struct rpc_ctx rc = { method, fc_now(&t->clk) + ms, NULL };
	return rc;
}

/* The k-th captured request for action (0-based), or NULL. */
static const struct stub_request *req_of(struct t *t, const char *action, size_t k)
{
	char a[64];
	for (size_t i = 0; i < stub_request_count(t->stub); i++) {
		const struct stub_request *r = stub_request_at(t->stub, i);
		if (form_get(r->body, "Action", a, sizeof a) && strcmp(a, action) == 0 && k-- == 0)
			return r;
	}
	return NULL;
}

static size_t count_of(struct t *t, const char *action)
{
	size_t n = 0;
	while (req_of(t, action, n) != NULL)
		n++;
	return n;
}

static void assert_form(const struct stub_request *r, const char *key, const char *want)
{
	char v[512];
	if (!form_get(r->body, key, v, sizeof v)) {
		fprintf(stderr, "missing %s in %s\n", key, r->body);
		fail();
	}
	assert_string_equal(v, want);
}

static void assert_no_form(const struct stub_request *r, const char *key)
{
	char v[512];
	if (form_get(r->body, key, v, sizeof v)) {
		fprintf(stderr, "unexpected %s=%s in %s\n", key, v, r->body);
		fail();
	}
}

/* Checks the SigV4 signature of r with the stub's secret. */
static void assert_signed(struct t *t, const struct stub_request *r, const char *secret, const char *akid)
{
	size_t n = r->headers.n / 2;
	struct sigv4_header *h = xcalloc(n + 1, sizeof *h);
	const char *authz = NULL;
	for (size_t i = 0; i < n; i++) {
		h[i].name = r->headers.v[2 * i];
		h[i].value = r->headers.v[2 * i + 1];
		if (strcasecmp(h[i].name, "Authorization") == 0)
			authz = h[i].value;
	}
	assert_non_null(authz);
	assert_string_equal(stub_request_header(r, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
	assert_non_null(stub_request_header(r, "X-Amz-Date"));
	struct sigv4_auth au;
	struct status st = STATUS_INIT;
	assert_int_equal(sigv4_auth_parse(authz, &au, &st), 0);
	assert_string_equal(au.access_key_id, akid);
	assert_string_equal(au.region, "us-east-1");
	assert_string_equal(au.service, "ec2");
	assert_non_null(strstr(au.signed_headers, "content-type"));
	assert_non_null(strstr(au.signed_headers, "host"));
	struct sigv4_request sr = { "POST", r->path, NULL, h, n, r->body, r->body_len, NULL };
	const char *code = NULL;
	time_t now = (time_t)(fc_wall(&t->clk) / 1000);
	int ok = sigv4_verify(&sr, &au, secret, now, 300, &code, &st);
	if (ok != 0)
		fprintf(stderr, "verify: %s (%s)\n", st.msg, code ? code : "");
	assert_int_equal(ok, 0);
	free(h);
}

/* ---- volumes -------------------------------------------------------------------------------- */

/* A CreateVolume answer created at `created` (ISO 8601; NULL: now, as a fresh
 * create is). */
static const char *create_answer_at(const char *state, const char *created)
{
	static char b[1024];
	char now[32];
	if (created == NULL) {
		time_t t = (time_t)(real_wall_ms() / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
		created = now;
	}
	snprintf(b, sizeof b,
		 "<CreateVolumeResponse " NS "><requestId>r-cv</requestId><volumeId>vol-0new</volumeId>"
		 "<size>10</size><snapshotId/><availabilityZone>us-east-1a</availabilityZone><status>%s</status>"
		 "<createTime>%s</createTime><volumeType>gp3</volumeType><iops>4000</iops>"
		 "<throughput>250</throughput><encrypted>true</encrypted></CreateVolumeResponse>",
		 state, created);
	return b;
}

static const char *create_answer(const char *state)
{
	return create_answer_at(state, NULL);
}

static void test_create_volume_waits_until_available(void **state)
{
	struct t *t = *state;
	script("CreateVolume", 200, 1, "%s", create_answer("creating"));
	script_volumes(2, vol_item("vol-0new", "creating", NULL, NULL, NULL, 0, NULL), NULL);
	script_volumes(1, vol_item("vol-0new", "available", NULL, NULL, NULL, 0, "pvc-1"), NULL);
	struct cloud_tags tags;
	cloud_tags_init(&tags);
	cloud_tags_set(&tags, "CSIVolumeName", "pvc-1");
	cloud_tags_set(&tags, "kubernetes.io/cluster/demo", "owned");
	struct cloud_disk_options o = {
		.client_token = TOKEN64, .size_gib = 10, .volume_type = "gp3", .iops = 4000, .throughput = 250,
		.kms_key_id = "arn:aws:kms:us-east-1:1:key/k", .zone = "us-east-1a", .tags = &tags,
	};
	struct rpc_ctx rc = ctx_for(t, "/csi.v1.Controller/CreateVolume", 60000);
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), 0);
	assert_string_equal(d.volume_id, "vol-0new");
	assert_int_equal(d.state, CLOUD_DISK_AVAILABLE);
	assert_string_equal(cloud_tags_get(&d.tags, "CSIVolumeName"), "pvc-1");
	cloud_disk_dispose(&d);
	cloud_tags_dispose(&tags);

	const struct stub_request *r = req_of(t, "CreateVolume", 0);
	assert_non_null(r);
	assert_string_equal(r->method, "POST");
	assert_true(strncmp(r->body, "Action=CreateVolume&Version=2016-11-15&", 39) == 0);
	assert_form(r, "AvailabilityZone", "us-east-1a");
	assert_no_form(r, "AvailabilityZoneId");
	assert_form(r, "Size", "10");
	assert_form(r, "VolumeType", "gp3");
	assert_form(r, "Iops", "4000");
	assert_form(r, "Throughput", "250");
	assert_form(r, "Encrypted", "true");  /* implied by the KMS key */
	assert_form(r, "KmsKeyId", "arn:aws:kms:us-east-1:1:key/k");
	assert_form(r, "ClientToken", TOKEN64);
	assert_form(r, "TagSpecification.1.ResourceType", "volume");
	assert_form(r, "TagSpecification.1.Tag.1.Key", "CSIVolumeName");
	assert_form(r, "TagSpecification.1.Tag.1.Value", "pvc-1");
	assert_form(r, "TagSpecification.1.Tag.2.Key", "kubernetes.io/cluster/demo");
	assert_no_form(r, "MultiAttachEnabled");
	assert_no_form(r, "SnapshotId");
	assert_non_null(strstr(r->body, "kubernetes.io%2Fcluster%2Fdemo"));
	assert_signed(t, r, SK, AK);
	assert_string_equal(stub_request_header(r, "X-Amz-Security-Token"), TOK);
	const char *ua = stub_request_header(r, "User-Agent");
	assert_non_null(ua);
	assert_non_null(strstr(ua, "ebs-csi-c/test"));

	/* Polled by id until available: creating twice, then available. */
	assert_int_equal(count_of(t, "DescribeVolumes"), 3);
	const struct stub_request *dv = req_of(t, "DescribeVolumes", 0);
	assert_form(dv, "VolumeId.1", "vol-0new");
	assert_no_form(dv, "MaxResults");
	assert_signed(t, dv, SK, AK);
	/* The first look came after upstream's 1.25 s, on the injected clock. */
	assert_true(atomic_load(&t->clk.slept) >= 1250);

	/* The observer saw every attempt with the CSI method of the call. */
	assert_int_equal(W.n_obs, 4);
	assert_string_equal(W.obs[0].action, "CreateVolume");
	assert_string_equal(W.obs[0].method, "/csi.v1.Controller/CreateVolume");
	assert_string_equal(W.obs[0].code, "");
	assert_int_equal(W.obs[0].status, 200);
	assert_false(W.obs[0].throttled);
	assert_string_equal(W.obs[1].action, "DescribeVolumes");
	assert_string_equal(W.obs[1].method, "/csi.v1.Controller/CreateVolume");
}

static void test_create_volume_idempotent_and_mismatch(void **state)
{
	struct t *t = *state;
	/* A retried CreateVolume with the same token: EC2 answers the existing
	 * volume, already available: no wait, no DescribeVolumes. */
	script("CreateVolume", 200, 1, "%s", create_answer("available"));
	script_file("CreateVolume", 400, 1, FIX "error-IdempotentParameterMismatch.xml");
	struct cloud_disk_options o = { .client_token = TOKEN64, .size_gib = 10, .zone_id = "use1-az1" };
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), 0);
	assert_string_equal(d.volume_id, "vol-0new");
	cloud_disk_dispose(&d);
	assert_int_equal(count_of(t, "DescribeVolumes"), 0);
	assert_form(req_of(t, "CreateVolume", 0), "AvailabilityZoneId", "use1-az1");
	assert_no_form(req_of(t, "CreateVolume", 0), "AvailabilityZone");

	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, "IdempotentParameterMismatch"));
	assert_non_null(strstr(st.msg, "ipm-example"));  /* the request id */
	assert_int_equal(count_of(t, "CreateVolume"), 2);  /* not retried */

	/* Bad tokens never reach EC2. */
	o.client_token = "";
	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(count_of(t, "CreateVolume"), 2);
}

static void test_create_volume_vanishes(void **state)
{
	struct t *t = *state;
	/* Seen creating, then gone: EC2 rolled it back (a bad KMS key). */
	script("CreateVolume", 200, 1, "%s", create_answer("creating"));
	script_volumes(1, vol_item("vol-0new", "creating", NULL, NULL, NULL, 0, NULL), NULL);
	script_file("DescribeVolumes", 400, 1, FIX "error-InvalidVolume.NotFound.xml");
	struct cloud_disk_options o = { .client_token = TOKEN64, .zone = "us-east-1a" };
	struct rpc_ctx rc = ctx_for(t, "/m", 600000);
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_ABORTED);
	assert_non_null(strstr(st.msg, "vol-0new"));
	assert_non_null(strstr(st.msg, "KMS key"));

	/* Never seen: tolerated for the grace period (eventual consistency),
	 * then reported the same way. */
	script("CreateVolume", 200, 1, "%s", create_answer("creating"));
	script_file("DescribeVolumes", 400, -1, FIX "error-InvalidVolume.NotFound.xml");
	int64_t t0 = fc_now(&t->clk);
	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_ABORTED);
	assert_true(fc_now(&t->clk) - t0 >= 10000);
	assert_true(count_of(t, "DescribeVolumes") >= 4);
}

/* A name reused after its volume was deleted: EC2 answers the old token with
 * the old volume, which is gone. That is a burned token (ALREADY_EXISTS, as
 * IdempotentParameterMismatch), not a KMS rollback. */
static void test_create_volume_replayed_token_of_deleted_volume(void **state)
{
	struct t *t = *state;
	struct cloud_disk_options o = { .client_token = TOKEN64, .zone = "us-east-1a" };
	struct rpc_ctx rc = ctx_for(t, "/m", 600000);
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	script("CreateVolume", 200, 1, "%s", create_answer_at("deleted", "2024-01-02T03:04:05Z"));
	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_ALREADY_EXISTS);
	assert_non_null(strstr(st.msg, "no longer exists"));

	script("CreateVolume", 200, 1, "%s", create_answer_at("available", "2024-01-02T03:04:05Z"));
	script_file("DescribeVolumes", 400, -1, FIX "error-InvalidVolume.NotFound.xml");
	int64_t t0 = fc_now(&t->clk);
	status_clear(&st);
	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), 0);
	cloud_disk_dispose(&d);  /* "available" in the answer: taken as is */

	script("CreateVolume", 200, 1, "%s", create_answer_at("creating", "2024-01-02T03:04:05Z"));
	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_ALREADY_EXISTS);
	assert_true(fc_now(&t->clk) - t0 < 10000); /* no grace period for a replay */
}

static void test_create_volume_wait_bounded_by_deadline(void **state)
{
	struct t *t = *state;
	script("CreateVolume", 200, 1, "%s", create_answer("creating"));
	script_volumes(-1, vol_item("vol-0new", "creating", NULL, NULL, NULL, 0, NULL), NULL);
	struct cloud_disk_options o = { .client_token = TOKEN64, .zone = "us-east-1a" };
	struct rpc_ctx rc = ctx_for(t, "/m", 20000);
	int64_t deadline = rc.deadline_ms;
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_create_disk(t->c, &rc, &o, &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_non_null(strstr(st.msg, "creating"));
	/* It gave up without sleeping past the deadline. */
	assert_true(fc_now(&t->clk) <= deadline);
}

static void test_copy_and_delete(void **state)
{
	struct t *t = *state;
	char *item = vol_item("vol-copy", "available", NULL, NULL, NULL, 0, NULL);
	script("CopyVolumes", 200, 1,
	       "<CopyVolumesResponse " NS "><requestId>r</requestId><volumeSet>%s</volumeSet></CopyVolumesResponse>",
	       item);
	free(item);
	struct cloud_disk_options o = { .client_token = TOKEN64, .source_volume_id = "vol-src", .size_gib = 20,
					.volume_type = "io2", .iops = 5000, .multi_attach = true };
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_copy_disk(t->c, &rc, &o, &d, &st), 0);
	assert_string_equal(d.volume_id, "vol-copy");
	cloud_disk_dispose(&d);
	const struct stub_request *r = req_of(t, "CopyVolumes", 0);
	assert_form(r, "SourceVolumeId", "vol-src");
	assert_form(r, "Size", "20");
	assert_form(r, "VolumeType", "io2");
	assert_form(r, "Iops", "5000");
	assert_form(r, "MultiAttachEnabled", "true");
	assert_form(r, "ClientToken", TOKEN64);

	script("DeleteVolume", 200, 1, "<DeleteVolumeResponse " NS "><requestId>r</requestId><return>true</return>"
	       "</DeleteVolumeResponse>");
	script_file("DeleteVolume", 400, 1, FIX "error-InvalidVolume.NotFound.xml");
	script_file("DeleteVolume", 400, 1, FIX "error-VolumeInUse.xml");
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-1", &st), 0);
	assert_form(req_of(t, "DeleteVolume", 0), "VolumeId", "vol-1");
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-1", &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_non_null(strstr(st.msg, "ea966190-f9aa-478e-9ede-example"));
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-1", &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(count_of(t, "DeleteVolume"), 3);
}

static void test_find_by_name(void **state)
{
	struct t *t = *state;
	script_volumes(1, vol_item("vol-a", "available", NULL, NULL, NULL, 0, "pvc-x"), NULL);
	script_volumes(1, vol_item("vol-a", "available", NULL, NULL, NULL, 0, "pvc-x"),
		       vol_item("vol-b", "available", NULL, NULL, NULL, 0, "pvc-x"));
	script_volumes(1, NULL, NULL);
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct cloud_disk d;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_find_disk_by_name(t->c, &rc, "pvc-x", &d, &st), 0);
	assert_string_equal(d.volume_id, "vol-a");
	cloud_disk_dispose(&d);
	const struct stub_request *r = req_of(t, "DescribeVolumes", 0);
	assert_form(r, "Filter.1.Name", "tag:CSIVolumeName");
	assert_form(r, "Filter.1.Value.1", "pvc-x");
	assert_form(r, "MaxResults", "500");
	assert_no_form(r, "VolumeId.1");
	assert_int_equal(cloud_find_disk_by_name(t->c, &rc, "pvc-x", &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_int_equal(cloud_find_disk_by_name(t->c, &rc, "pvc-x", &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
}

/* ---- retries ----------------------------------------------------------------------------------- */

static void test_retries_throttling_with_backoff(void **state)
{
	struct t *t = *state;
	atomic_store(&t->clk.rnd, RND_MAX4);  /* the longest jitter each time */
	script_file("DeleteVolume", 503, 2, FIX "error-RequestLimitExceeded.xml");
	script_raw("DeleteVolume", 503, file_text(FIX "error-html-503.html"), 1);
	script("DeleteVolume", 200, 1, "<DeleteVolumeResponse " NS "><requestId>r</requestId></DeleteVolumeResponse>");
	struct rpc_ctx rc = ctx_for(t, "/csi.v1.Controller/DeleteVolume", 60000);
	struct status st = STATUS_INIT;
	int64_t t0 = fc_now(&t->clk);
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-1", &st), 0);
	assert_int_equal(count_of(t, "DeleteVolume"), 4);
	assert_int_equal(W.n_obs, 4);
	assert_string_equal(W.obs[0].code, "RequestLimitExceeded");
	assert_int_equal(W.obs[0].status, 503);
	assert_true(W.obs[0].throttled);
	assert_true(W.obs[1].throttled);
	assert_string_equal(W.obs[2].code, "HTTP503");  /* no EC2 body */
	assert_true(W.obs[2].throttled);
	assert_string_equal(W.obs[3].code, "");
	assert_string_equal(W.obs[3].method, "/csi.v1.Controller/DeleteVolume");
	/* Backoff grew: ≤1 s, ≤2 s, ≤4 s with full jitter, here at the top. */
	assert_true(fc_now(&t->clk) - t0 >= 1000 + 2000 + 4000);
	/* Every attempt was signed afresh. */
	for (size_t i = 0; i < 4; i++)
		assert_signed(t, req_of(t, "DeleteVolume", i), SK, AK);
}

/* A request EC2 throttled took no token from EC2's bucket, so the call resends
 * with the token ours gave it — after its backoff, not after the queue of
 * every later caller — and the bucket is not overdrawn for the next caller. */
static void test_throttled_call_keeps_its_token(void **state)
{
	struct t *t = *state;
	cloud_free(t->c);
	struct cloud_aws_options o;
	memset(&o, 0, sizeof o);
	o.throttle_scale = 0.01; /* DeleteVolume: 1 token, 0.05 per second */
	t->c = make_cloud(t, &o);
	atomic_store(&t->clk.rnd, RND_MAX4);
	script_file("DeleteVolume", 503, 1, FIX "error-RequestLimitExceeded.xml");
	script("DeleteVolume", 200, 2, "<DeleteVolumeResponse " NS "><requestId>r</requestId></DeleteVolumeResponse>");
	struct rpc_ctx rc = ctx_for(t, "/csi.v1.Controller/DeleteVolume", 120000);
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-1", &st), 0);
	assert_int_equal(count_of(t, "DeleteVolume"), 2);
	/* The first token was there; the resend waited only the 1 s backoff
	 * (the next token was 1 / (0.05 × 0.7) = 28.6 s away). */
	assert_int_equal(atomic_load(&t->clk.slept), 1000);
	/* The next call has no token left and waits for one (about 19 s at the
	 * rate the success restored). */
	rc = ctx_for(t, "/csi.v1.Controller/DeleteVolume", 120000);
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-2", &st), 0);
	assert_true(atomic_load(&t->clk.slept) >= 1000 + 15000);
}

static void test_retry_bounded_by_deadline(void **state)
{
	struct t *t = *state;
	atomic_store(&t->clk.rnd, RND_MAX4);
	script_file("DeleteVolume", 503, -1, FIX "error-RequestLimitExceeded.xml");
	struct rpc_ctx rc = ctx_for(t, "/m", 28000);
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-1", &st), -1);
	assert_true(st.code == STATUS_UNAVAILABLE || st.code == STATUS_DEADLINE_EXCEEDED);
	assert_non_null(strstr(st.msg, "RequestLimitExceeded"));
	assert_true(fc_now(&t->clk) <= rc.deadline_ms);
	/* Backoffs of 1, 2, 4, 8 and 5.765 s fit in 28 s (21.8 s); the next,
	 * 8.18 s, would end after the deadline: six attempts, no useless sleep. */
	assert_int_equal(count_of(t, "DeleteVolume"), 6);
	assert_int_equal(atomic_load(&t->clk.slept), 1000 + 2000 + 4000 + 8000 + 5765);
}

static void test_no_retry_on_client_error(void **state)
{
	struct t *t = *state;
	script_error("DeleteVolume", 400, -1, "InvalidParameterValue", "Value (vol-@) for parameter volumeId is invalid");
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-@", &st), -1);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "DeleteVolume: InvalidParameterValue"));
	assert_non_null(strstr(st.msg, "req-InvalidParameterValue"));
	assert_int_equal(count_of(t, "DeleteVolume"), 1);
	assert_int_equal(atomic_load(&t->clk.sleeps), 0);
	assert_string_equal(W.obs[0].code, "InvalidParameterValue");
	assert_false(W.obs[0].throttled);
}

static void test_cancelled_sends_nothing(void **state)
{
	struct t *t = *state;
	atomic_bool flag = true;
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	rc.cancelled = &flag;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-1", &st), -1);
	assert_int_equal(st.code, STATUS_CANCELLED);
	struct cloud_disk d;
	assert_int_equal(cloud_get_disk(t->c, &rc, "vol-1", &d, &st), -1);
	cloud_disk_dispose(&d);
	assert_int_equal(st.code, STATUS_CANCELLED);
	/* A deadline already gone: DEADLINE_EXCEEDED, nothing sent either. */
	rc = ctx_for(t, "/m", -1);
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-1", &st), -1);
	assert_int_equal(st.code, STATUS_DEADLINE_EXCEEDED);
	assert_int_equal(stub_request_count(t->stub), 0);
	assert_int_equal(W.n_obs, 0);
}

static void test_error_body_with_200(void **state)
{
	struct t *t = *state;
	/* A 200 whose body is an error document: classified like the code. */
	script_file("DeleteVolume", 200, 1, FIX "error-RequestLimitExceeded.xml");
	script("DeleteVolume", 200, 1, "<DeleteVolumeResponse " NS "><requestId>r</requestId></DeleteVolumeResponse>");
	script_file("DeleteSnapshot", 200, 1, FIX "error-InvalidVolume.NotFound.xml");
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_delete_disk(t->c, &rc, "vol-1", &st), 0);
	assert_int_equal(count_of(t, "DeleteVolume"), 2);
	assert_string_equal(W.obs[0].code, "RequestLimitExceeded");
	assert_true(W.obs[0].throttled);
	assert_int_equal(cloud_delete_snapshot(t->c, &rc, "snap-1", &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_int_equal(count_of(t, "DeleteSnapshot"), 1);
}

/* A TCP server that accepts and resets every connection. */
struct resetter {
	int fd;
	unsigned port;
	atomic_int accepted;
	atomic_bool stop;
	pthread_t th;
};

static void *resetter_main(void *arg)
{
	struct resetter *r = arg;
	while (!atomic_load(&r->stop)) {
		int c = accept(r->fd, NULL, NULL);
		if (c < 0)
			continue;
		atomic_fetch_add(&r->accepted, 1);
		char buf[4096];
		(void)!read(c, buf, sizeof buf);
		struct linger lg = { 1, 0 };  /* close with RST */
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(c);
	}
	return NULL;
}

static void resetter_start(struct resetter *r)
{
	memset(r, 0, sizeof *r);
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	getsockname(r->fd, (struct sockaddr *)&a, &len);
	r->port = ntohs(a.sin_port);
	listen(r->fd, 16);
	struct timeval tv = { 0, 100000 };
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	pthread_create(&r->th, NULL, resetter_main, r);
}

static void resetter_stop(struct resetter *r)
{
	atomic_store(&r->stop, true);
	pthread_join(r->th, NULL);
	close(r->fd);
}

static void test_transport_failures_retried(void **state)
{
	struct t *t = *state;
	struct resetter rs;
	resetter_start(&rs);
	struct fake_env env2;
	memset(&env2, 0, sizeof env2);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%u", rs.port);
	env_set(&env2, "AWS_ACCESS_KEY_ID", AK);
	env_set(&env2, "AWS_SECRET_ACCESS_KEY", SK);
	env_set(&env2, "AWS_REGION", "us-east-1");
	env_set(&env2, "AWS_ENDPOINT_URL_EC2", url);
	struct endpoint_env ee = { fake_getenv, &env2 };
	struct cloud_aws_options o = {
		.env = &ee, .user_agent_version = "t", .clock = &t->rc, .on_request = observe,
		.retry = { 3, 100, 1000 },
	};
	struct status st = STATUS_INIT;
	struct cloud *c = cloud_aws_new(&o, &st);
	assert_non_null(c);
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	assert_int_equal(cloud_delete_disk(c, &rc, "vol-1", &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_non_null(strstr(st.msg, "gave up after 3 attempts"));
	assert_int_equal(atomic_load(&rs.accepted), 3);
	assert_int_equal(W.n_obs, 3);
	assert_int_equal(W.obs[0].status, 0);
	assert_true(strcmp(W.obs[0].code, "ConnectionReset") == 0 || strcmp(W.obs[0].code, "TransportError") == 0);
	cloud_free(c);
	resetter_stop(&rs);

	/* Nothing listening: connection refused, retried the same way. */
	W.n_obs = 0;
	env_clear(&env2);
	snprintf(url, sizeof url, "http://127.0.0.1:%u", stub_unused_port());
	env_set(&env2, "AWS_ACCESS_KEY_ID", AK);
	env_set(&env2, "AWS_SECRET_ACCESS_KEY", SK);
	env_set(&env2, "AWS_REGION", "us-east-1");
	env_set(&env2, "AWS_ENDPOINT_URL_EC2", url);
	c = cloud_aws_new(&o, &st);
	assert_non_null(c);
	assert_int_equal(cloud_delete_disk(c, &rc, "vol-1", &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_int_equal(W.n_obs, 3);
	assert_string_equal(W.obs[2].code, "ConnectError");
	cloud_free(c);
	env_clear(&env2);
}

static void test_auth_failure_refreshes_credentials_once(void **state)
{
	struct t *t = *state;
	char dir[] = "/tmp/cloud-aws-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/credentials", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "[default]\naws_access_key_id = AKIDOLD\naws_secret_access_key = " SK "\n");
	fclose(f);
	struct fake_env env2;
	memset(&env2, 0, sizeof env2);
	env_set(&env2, "AWS_SHARED_CREDENTIALS_FILE", path);
	env_set(&env2, "AWS_CONFIG_FILE", "/nonexistent/config");
	env_set(&env2, "AWS_REGION", "us-east-1");
	env_set(&env2, "AWS_ENDPOINT_URL_EC2", stub_url(t->stub));
	env_set(&env2, "AWS_EC2_METADATA_DISABLED", "true");
	struct endpoint_env ee = { fake_getenv, &env2 };
	struct cloud_aws_options o = { .env = &ee, .user_agent_version = "t", .clock = &t->rc, .on_request = observe };
	struct status st = STATUS_INIT;
	struct cloud *c = cloud_aws_new(&o, &st);
	assert_non_null(c);
	script_file("DeleteVolume", 401, 1, FIX "error-AuthFailure.xml");
	script("DeleteVolume", 200, 1, "<DeleteVolumeResponse " NS "><requestId>r</requestId></DeleteVolumeResponse>");
	W.rotate_file = path;  /* the handler writes AKIDNEW into the file */
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	assert_int_equal(cloud_delete_disk(c, &rc, "vol-1", &st), 0);
	assert_int_equal(count_of(t, "DeleteVolume"), 2);
	assert_signed(t, req_of(t, "DeleteVolume", 0), SK, "AKIDOLD");
	assert_signed(t, req_of(t, "DeleteVolume", 1), SK, "AKIDNEW");
	assert_null(stub_request_header(req_of(t, "DeleteVolume", 0), "X-Amz-Security-Token"));
	/* Still refused after the refresh: one refresh only, then the error. */
	script_file("DeleteVolume", 401, -1, FIX "error-AuthFailure.xml");
	assert_int_equal(cloud_delete_disk(c, &rc, "vol-1", &st), -1);
	assert_int_equal(st.code, STATUS_UNAUTHENTICATED);
	assert_non_null(strstr(st.msg, "AuthFailure"));
	assert_int_equal(count_of(t, "DeleteVolume"), 4);
	/* No secret in any message. */
	assert_null(strstr(st.msg, SK));
	cloud_free(c);
	env_clear(&env2);
	unlink(path);
	rmdir(dir);
}

/* ---- attachments ---------------------------------------------------------------------------------- */

static void script_instance(const char *id, const char *extra_mappings)
{
	script("DescribeInstances", 200, 1,
	       "<DescribeInstancesResponse " NS "><requestId>r-di</requestId><reservationSet><item><instancesSet><item>"
	       "<instanceId>%s</instanceId><instanceType>m5.large</instanceType><instanceState><code>16</code>"
	       "<name>running</name></instanceState><placement><availabilityZone>us-east-1a</availabilityZone>"
	       "</placement><rootDeviceName>/dev/xvda</rootDeviceName><blockDeviceMapping><item><deviceName>/dev/xvda"
	       "</deviceName><ebs><volumeId>vol-root</volumeId><status>attached</status></ebs></item>%s"
	       "</blockDeviceMapping></item></instancesSet></item></reservationSet></DescribeInstancesResponse>",
	       id, extra_mappings);
}

static void script_attach_answer(const char *action, const char *dev, const char *state)
{
	script(action, 200, 1,
	       "<%sResponse " NS "><requestId>r</requestId><volumeId>vol-1</volumeId><instanceId>i-1</instanceId>"
	       "<device>%s</device><status>%s</status><attachTime>2024-01-02T03:04:05Z</attachTime>"
	       "<deleteOnTermination>false</deleteOnTermination></%sResponse>",
	       action, dev, state, action);
}

static void test_attach_chooses_device_and_waits(void **state)
{
	struct t *t = *state;
	int64_t now = fc_wall(&t->clk);
	script_instance("i-1", "<item><deviceName>/dev/xvdaa</deviceName><ebs><volumeId>vol-other</volumeId>"
			       "<status>attached</status></ebs></item>");
	script_attach_answer("AttachVolume", "/dev/xvdab", "attaching");
	script_volumes(1, vol_item("vol-1", "in-use", "i-1", "/dev/xvdab", "attaching", now, NULL), NULL);
	/* Attached, but not (yet) at our device: keep waiting (upstream). */
	script_volumes(1, vol_item("vol-1", "in-use", "i-1", "/dev/xvdzz", "attached", now, NULL), NULL);
	script_volumes(1, vol_item("vol-1", "in-use", "i-1", "/dev/xvdab", "attached", now, NULL), NULL);
	struct rpc_ctx rc = ctx_for(t, "/csi.v1.Controller/ControllerPublishVolume", 60000);
	struct cloud_attachment a;
	bool already = true;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_attach_disk(t->c, &rc, "vol-1", "i-1", &a, &already, &st), 0);
	assert_false(already);
	assert_string_equal(a.device, "/dev/xvdab");
	assert_int_equal(a.state, CLOUD_ATTACH_ATTACHED);
	cloud_attachment_dispose(&a);
	assert_form(req_of(t, "DescribeInstances", 0), "InstanceId.1", "i-1");
	const struct stub_request *r = req_of(t, "AttachVolume", 0);
	assert_form(r, "Device", "/dev/xvdab");
	assert_form(r, "InstanceId", "i-1");
	assert_form(r, "VolumeId", "vol-1");
	assert_signed(t, r, SK, AK);
	assert_int_equal(count_of(t, "DescribeVolumes"), 3);
}

static void test_attach_already_attached_sends_no_attach(void **state)
{
	struct t *t = *state;
	int64_t now = fc_wall(&t->clk);
	script_instance("i-1", "<item><deviceName>/dev/xvdba</deviceName><ebs><volumeId>vol-1</volumeId>"
			       "<status>attached</status></ebs></item>");
	script_volumes(1, vol_item("vol-1", "in-use", "i-1", "/dev/xvdba", "attached", now, NULL), NULL);
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct cloud_attachment a;
	bool already = false;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_attach_disk(t->c, &rc, "vol-1", "i-1", &a, &already, &st), 0);
	assert_true(already);
	assert_string_equal(a.device, "/dev/xvdba");
	cloud_attachment_dispose(&a);
	assert_int_equal(count_of(t, "AttachVolume"), 0);
	assert_int_equal(atomic_load(&t->clk.sleeps), 0);  /* looked at once, at once */
}

static void test_attach_device_in_use_takes_another(void **state)
{
	struct t *t = *state;
	int64_t now = fc_wall(&t->clk);
	script_instance("i-1", "");
	script_file("AttachVolume", 400, 1, FIX "error-InvalidParameterValue-device.xml");
	script_file("AttachVolume", 400, 1, FIX "error-InvalidParameterValue-device.xml");
	script_attach_answer("AttachVolume", "/dev/xvdac", "attaching");
	script_volumes(1, vol_item("vol-1", "in-use", "i-1", "/dev/xvdac", "attached", now, NULL), NULL);
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct cloud_attachment a;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_attach_disk(t->c, &rc, "vol-1", "i-1", &a, NULL, &st), 0);
	assert_string_equal(a.device, "/dev/xvdac");
	cloud_attachment_dispose(&a);
	assert_form(req_of(t, "AttachVolume", 0), "Device", "/dev/xvdaa");
	assert_form(req_of(t, "AttachVolume", 1), "Device", "/dev/xvdab");
	assert_form(req_of(t, "AttachVolume", 2), "Device", "/dev/xvdac");

	/* The rejected names are avoided on the next attach to that instance. */
	script_instance("i-1", "<item><deviceName>/dev/xvdac</deviceName><ebs><volumeId>vol-1</volumeId>"
			       "<status>attached</status></ebs></item>");
	script_attach_answer("AttachVolume", "/dev/xvdad", "attaching");
	script_volumes(1, vol_item("vol-2", "in-use", "i-1", "/dev/xvdad", "attached", now, NULL), NULL);
	assert_int_equal(cloud_attach_disk(t->c, &rc, "vol-2", "i-1", &a, NULL, &st), 0);
	cloud_attachment_dispose(&a);
	assert_form(req_of(t, "AttachVolume", 3), "Device", "/dev/xvdad");
}

static void test_attach_elsewhere_and_unknown(void **state)
{
	struct t *t = *state;
	int64_t now = fc_wall(&t->clk);
	script_instance("i-1", "");
	script_file("AttachVolume", 400, 1, FIX "error-VolumeInUse.xml");
	script_volumes(1, vol_item("vol-1", "in-use", "i-other", "/dev/xvdaa", "attached", now, NULL), NULL);
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct cloud_attachment a;
	bool already = false;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_attach_disk(t->c, &rc, "vol-1", "i-1", &a, &already, &st), -1);
	cloud_attachment_dispose(&a);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "VolumeInUse"));
	assert_false(already);

	/* VolumeInUse that is our own earlier attach (answer lost): success. */
	script_instance("i-1", "");
	script_file("AttachVolume", 400, 1, FIX "error-VolumeInUse.xml");
	script_volumes(2, vol_item("vol-1", "in-use", "i-1", "/dev/xvdbb", "attached", now, NULL), NULL);
	assert_int_equal(cloud_attach_disk(t->c, &rc, "vol-1", "i-1", &a, &already, &st), 0);
	assert_true(already);
	assert_string_equal(a.device, "/dev/xvdbb");
	cloud_attachment_dispose(&a);

	/* Unknown instance. */
	script_error("DescribeInstances", 400, 1, "InvalidInstanceID.NotFound", "The instance ID 'i-9' does not exist");
	assert_int_equal(cloud_attach_disk(t->c, &rc, "vol-1", "i-9", &a, NULL, &st), -1);
	cloud_attachment_dispose(&a);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_non_null(strstr(st.msg, "attach vol-1 to i-9"));
}

static void test_attach_stuck_is_detached(void **state)
{
	struct t *t = *state;
	/* Attaching since 100 s ago: stuck at the first look. */
	int64_t long_ago = fc_wall(&t->clk) - 100000;
	script_instance("i-1", "<item><deviceName>/dev/xvdaa</deviceName><ebs><volumeId>vol-1</volumeId>"
			       "<status>attaching</status></ebs></item>");
	script_volumes(1, vol_item("vol-1", "in-use", "i-1", "/dev/xvdaa", "attaching", long_ago, NULL), NULL);
	script_attach_answer("DetachVolume", "/dev/xvdaa", "detaching");
	struct rpc_ctx rc = ctx_for(t, "/m", 600000);
	struct cloud_attachment a;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_attach_disk(t->c, &rc, "vol-1", "i-1", &a, NULL, &st), -1);
	cloud_attachment_dispose(&a);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_non_null(strstr(st.msg, "attaching"));
	assert_non_null(strstr(st.msg, "detached it"));
	const struct stub_request *r = req_of(t, "DetachVolume", 0);
	assert_non_null(r);
	assert_form(r, "VolumeId", "vol-1");
	assert_form(r, "InstanceId", "i-1");
	assert_no_form(r, "Force");

	/* Stuck while we wait: a fresh AttachVolume that never completes. */
	int64_t now = fc_wall(&t->clk);
	script_instance("i-1", "");
	script_attach_answer("AttachVolume", "/dev/xvdab", "attaching");
	script_volumes(-1, vol_item("vol-2", "in-use", "i-1", "/dev/xvdab", "attaching", now, NULL), NULL);
	script_attach_answer("DetachVolume", "/dev/xvdab", "detaching");
	int64_t t0 = fc_now(&t->clk);
	assert_int_equal(cloud_attach_disk(t->c, &rc, "vol-2", "i-1", &a, NULL, &st), -1);
	cloud_attachment_dispose(&a);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	int64_t waited = fc_now(&t->clk) - t0;
	assert_true(waited >= 90000 && waited < 120000);
	assert_int_equal(count_of(t, "DetachVolume"), 2);
	/* The stuck name is not offered again. */
	assert_form(req_of(t, "AttachVolume", 0), "Device", "/dev/xvdab");
}

static void test_detach(void **state)
{
	struct t *t = *state;
	script_attach_answer("DetachVolume", "/dev/xvdab", "detaching");
	script_volumes(1, vol_item("vol-1", "in-use", "i-1", "/dev/xvdab", "detaching", fc_wall(&t->clk), NULL), NULL);
	script_volumes(1, vol_item("vol-1", "available", NULL, NULL, NULL, 0, NULL), NULL);
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_detach_disk(t->c, &rc, "vol-1", "i-1", &st), 0);
	assert_int_equal(count_of(t, "DescribeVolumes"), 2);
	const struct stub_request *r = req_of(t, "DetachVolume", 0);
	assert_form(r, "VolumeId", "vol-1");
	assert_form(r, "InstanceId", "i-1");
	assert_no_form(r, "Device");

	script_error("DetachVolume", 400, 1, "InvalidAttachment.NotFound", "vol-1 is not attached to i-1");
	assert_int_equal(cloud_detach_disk(t->c, &rc, "vol-1", "i-1", &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	script_file("DetachVolume", 400, 1, FIX "error-InvalidVolume.NotFound.xml");
	assert_int_equal(cloud_detach_disk(t->c, &rc, "vol-1", "i-1", &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	/* IncorrectState: the volume is not attached there any more. */
	script_file("DetachVolume", 400, 1, FIX "error-IncorrectState.xml");
	script_volumes(1, vol_item("vol-1", "available", NULL, NULL, NULL, 0, NULL), NULL);
	assert_int_equal(cloud_detach_disk(t->c, &rc, "vol-1", "i-1", &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);

	/* wait_attachment: a gone volume counts as detached. */
	script_file("DescribeVolumes", 400, 1, FIX "error-InvalidVolume.NotFound.xml");
	struct cloud_attachment a;
	assert_int_equal(cloud_wait_attachment(t->c, &rc, "vol-1", "i-1", CLOUD_ATTACH_DETACHED, NULL, &a, &st), 0);
	assert_int_equal(a.state, CLOUD_ATTACH_DETACHED);
	cloud_attachment_dispose(&a);
	script_file("DescribeVolumes", 400, 1, FIX "error-InvalidVolume.NotFound.xml");
	assert_int_equal(cloud_wait_attachment(t->c, &rc, "vol-1", "i-1", CLOUD_ATTACH_ATTACHED, NULL, &a, &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	cloud_attachment_dispose(&a);
}

/* ---- snapshots, modify, misc ------------------------------------------------------------------------ */

static const char *snap_item(const char *id, const char *vol, const char *name)
{
	static _Thread_local char b[2][1024];
	static _Thread_local int k;
	char *s = b[k++ % 2];
	snprintf(s, 1024,
		 "<item><snapshotId>%s</snapshotId><volumeId>%s</volumeId><status>completed</status><startTime>"
		 "2024-01-02T03:04:05Z</startTime><progress>100%%</progress><ownerId>1</ownerId><volumeSize>10"
		 "</volumeSize><encrypted>false</encrypted><tagSet><item><key>CSIVolumeSnapshotName</key><value>%s"
		 "</value></item></tagSet></item>",
		 id, vol, name);
	return s;
}

static void test_snapshots(void **state)
{
	struct t *t = *state;
	script("CreateSnapshot", 200, 1,
	       "<CreateSnapshotResponse " NS "><requestId>r</requestId><snapshotId>snap-1</snapshotId><volumeId>vol-1"
	       "</volumeId><status>pending</status><startTime>2024-01-02T03:04:05Z</startTime><progress/>"
	       "<volumeSize>10</volumeSize></CreateSnapshotResponse>");
	struct cloud_tags tags;
	cloud_tags_init(&tags);
	cloud_tags_set(&tags, "CSIVolumeSnapshotName", "snapshot-1");
	struct cloud_snapshot_options so = { .volume_id = "vol-1", .description = "Created by AWS EBS CSI driver",
					     .tags = &tags };
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct cloud_snapshot s;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_create_snapshot(t->c, &rc, &so, &s, &st), 0);
	assert_string_equal(s.snapshot_id, "snap-1");
	assert_int_equal(s.state, CLOUD_SNAPSHOT_PENDING);
	cloud_snapshot_dispose(&s);
	cloud_tags_dispose(&tags);
	const struct stub_request *r = req_of(t, "CreateSnapshot", 0);
	assert_form(r, "VolumeId", "vol-1");
	assert_form(r, "Description", "Created by AWS EBS CSI driver");
	assert_form(r, "TagSpecification.1.ResourceType", "snapshot");
	assert_form(r, "TagSpecification.1.Tag.1.Key", "CSIVolumeSnapshotName");
	assert_form(r, "TagSpecification.1.Tag.1.Value", "snapshot-1");

	script("DescribeSnapshots", 200, 1,
	       "<DescribeSnapshotsResponse " NS "><requestId>r</requestId><snapshotSet>%s</snapshotSet>"
	       "</DescribeSnapshotsResponse>",
	       snap_item("snap-1", "vol-1", "snapshot-1"));
	assert_int_equal(cloud_find_snapshot_by_name(t->c, &rc, "snapshot-1", &s, &st), 0);
	assert_string_equal(s.snapshot_id, "snap-1");
	cloud_snapshot_dispose(&s);
	r = req_of(t, "DescribeSnapshots", 0);
	assert_form(r, "Filter.1.Name", "tag:CSIVolumeSnapshotName");
	assert_form(r, "Filter.1.Value.1", "snapshot-1");
	assert_form(r, "Owner.1", "self");

	script("DescribeSnapshots", 200, 1,
	       "<DescribeSnapshotsResponse " NS "><requestId>r</requestId><snapshotSet>%s</snapshotSet>"
	       "</DescribeSnapshotsResponse>",
	       snap_item("snap-1", "vol-1", "snapshot-1"));
	assert_int_equal(cloud_get_snapshot(t->c, &rc, "snap-1", &s, &st), 0);
	cloud_snapshot_dispose(&s);
	r = req_of(t, "DescribeSnapshots", 1);
	assert_form(r, "SnapshotId.1", "snap-1");
	assert_no_form(r, "MaxResults");

	/* One page of a listing, with EC2's token handed back. */
	script("DescribeSnapshots", 200, 1,
	       "<DescribeSnapshotsResponse " NS "><requestId>r</requestId><snapshotSet>%s%s</snapshotSet>"
	       "<nextToken>page-2</nextToken></DescribeSnapshotsResponse>",
	       snap_item("snap-1", "vol-1", "a"), snap_item("snap-2", "vol-1", "b"));
	script("DescribeSnapshots", 200, 1,
	       "<DescribeSnapshotsResponse " NS "><requestId>r</requestId><snapshotSet>%s</snapshotSet>"
	       "<nextToken/></DescribeSnapshotsResponse>",
	       snap_item("snap-3", "vol-1", "c"));
	struct cloud_snapshot_list l;
	assert_int_equal(cloud_list_snapshots(t->c, &rc, "vol-1", 5, NULL, &l, &st), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.next_token, "page-2");
	cloud_snapshot_list_dispose(&l);
	assert_int_equal(cloud_list_snapshots(t->c, &rc, "vol-1", 5, "page-2", &l, &st), 0);
	assert_int_equal(l.n, 1);
	assert_null(l.next_token);
	cloud_snapshot_list_dispose(&l);
	r = req_of(t, "DescribeSnapshots", 3);
	assert_form(r, "MaxResults", "5");
	assert_form(r, "NextToken", "page-2");
	assert_form(r, "Filter.1.Name", "volume-id");
	assert_form(r, "Filter.1.Value.1", "vol-1");
	assert_form(r, "Owner.1", "self");
	assert_int_equal(cloud_list_snapshots(t->c, &rc, NULL, 3, NULL, &l, &st), -1);
	cloud_snapshot_list_dispose(&l);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);

	script_error("DeleteSnapshot", 400, 1, "InvalidSnapshot.NotFound", "The snapshot 'snap-9' does not exist.");
	assert_int_equal(cloud_delete_snapshot(t->c, &rc, "snap-9", &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_form(req_of(t, "DeleteSnapshot", 0), "SnapshotId", "snap-9");
}

static void script_mod(const char *state, int size, const char *start)
{
	script("DescribeVolumesModifications", 200, 1,
	       "<DescribeVolumesModificationsResponse " NS "><requestId>r</requestId><volumeModificationSet><item>"
	       "<volumeId>vol-1</volumeId><modificationState>%s</modificationState><targetSize>%d</targetSize>"
	       "<targetIops>3000</targetIops><targetVolumeType>gp3</targetVolumeType><targetThroughput>125"
	       "</targetThroughput><originalSize>10</originalSize><progress>0</progress><startTime>%s</startTime>"
	       "</item></volumeModificationSet></DescribeVolumesModificationsResponse>",
	       state, size, start);
}

static void test_modify(void **state)
{
	struct t *t = *state;
	script_volumes(1, vol_item("vol-1", "in-use", NULL, NULL, NULL, 0, NULL), NULL);
	script("ModifyVolume", 200, 1,
	       "<ModifyVolumeResponse " NS "><requestId>r</requestId><volumeModification><volumeId>vol-1</volumeId>"
	       "<modificationState>modifying</modificationState><targetSize>20</targetSize><targetIops>3000"
	       "</targetIops><targetVolumeType>gp3</targetVolumeType><targetThroughput>125</targetThroughput>"
	       "<originalSize>10</originalSize><progress>0</progress><startTime>2024-05-01T00:00:00.000Z</startTime>"
	       "</volumeModification></ModifyVolumeResponse>");
	/* An older record first (eventual consistency), then ours. */
	script_mod("completed", 15, "2024-01-01T00:00:00.000Z");
	script_mod("modifying", 20, "2024-05-01T00:00:00.000Z");
	script_mod("optimizing", 20, "2024-05-01T00:00:00.000Z");
	struct cloud_modify_options mo = { .size_gib = 20 };
	struct rpc_ctx rc = ctx_for(t, "/csi.v1.Controller/ControllerExpandVolume", 60000);
	struct cloud_modification m;
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_modify_disk(t->c, &rc, "vol-1", &mo, &m, &st), 0);
	assert_int_equal(m.state, CLOUD_MOD_OPTIMIZING);
	assert_int_equal(m.target_size_gib, 20);
	cloud_modification_dispose(&m);
	const struct stub_request *r = req_of(t, "ModifyVolume", 0);
	assert_form(r, "VolumeId", "vol-1");
	assert_form(r, "Size", "20");
	assert_no_form(r, "VolumeType");
	assert_no_form(r, "Iops");
	assert_form(req_of(t, "DescribeVolumesModifications", 0), "VolumeId.1", "vol-1");
	assert_int_equal(count_of(t, "DescribeVolumesModifications"), 3);

	/* Nothing differs: no ModifyVolume, the volume as it is. */
	script_volumes(1, vol_item("vol-1", "in-use", NULL, NULL, NULL, 0, NULL), NULL);
	script_error("DescribeVolumesModifications", 400, 1, "InvalidVolumeModification.NotFound",
		     "Modification for volume 'vol-1' does not exist.");
	mo = (struct cloud_modify_options){ .size_gib = 10, .volume_type = "gp3", .iops = 3000 };
	assert_int_equal(cloud_modify_disk(t->c, &rc, "vol-1", &mo, &m, &st), 0);
	assert_int_equal(m.state, CLOUD_MOD_COMPLETED);
	assert_int_equal(m.target_size_gib, 10);
	cloud_modification_dispose(&m);
	assert_int_equal(count_of(t, "ModifyVolume"), 1);

	/* Shrinking is refused before EC2 is asked. */
	script_volumes(1, vol_item("vol-1", "in-use", NULL, NULL, NULL, 0, NULL), NULL);
	mo = (struct cloud_modify_options){ .size_gib = 5 };
	assert_int_equal(cloud_modify_disk(t->c, &rc, "vol-1", &mo, &m, &st), -1);
	cloud_modification_dispose(&m);
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	assert_int_equal(count_of(t, "ModifyVolume"), 1);
}

static void test_misc_ops(void **state)
{
	struct t *t = *state;
	struct rpc_ctx rc = ctx_for(t, "/m", 60000);
	struct status st = STATUS_INIT;
	script_file("DescribeAvailabilityZones", 200, 1, FIX "DescribeAvailabilityZones.xml");
	struct cloud_zone_list z;
	assert_int_equal(cloud_availability_zones(t->c, &rc, &z, &st), 0);
	assert_int_equal(z.n, 2);
	assert_string_equal(z.v[0].name, "us-east-1a");
	cloud_zone_list_dispose(&z);
	assert_int_equal(cloud_availability_zones(t->c, &rc, &z, &st), 0);  /* cached */
	assert_int_equal(z.n, 2);
	cloud_zone_list_dispose(&z);
	assert_int_equal(count_of(t, "DescribeAvailabilityZones"), 1);

	script("CreateTags", 200, 1, "<CreateTagsResponse " NS "><requestId>r</requestId><return>true</return>"
	       "</CreateTagsResponse>");
	struct cloud_tags tags;
	cloud_tags_init(&tags);
	cloud_tags_set(&tags, "a", "1");
	cloud_tags_set(&tags, "empty", "");
	assert_int_equal(cloud_create_tags(t->c, &rc, "vol-1", &tags, &st), 0);
	cloud_tags_dispose(&tags);
	const struct stub_request *r = req_of(t, "CreateTags", 0);
	assert_form(r, "ResourceId.1", "vol-1");
	assert_form(r, "Tag.1.Key", "a");
	assert_form(r, "Tag.1.Value", "1");
	assert_form(r, "Tag.2.Key", "empty");
	assert_form(r, "Tag.2.Value", "");

	script("DeleteTags", 200, 1, "<DeleteTagsResponse " NS "><requestId>r</requestId></DeleteTagsResponse>");
	const char *keys[] = { "a", "b" };
	assert_int_equal(cloud_delete_tags(t->c, &rc, "snap-1", keys, 2, &st), 0);
	r = req_of(t, "DeleteTags", 0);
	assert_form(r, "ResourceId.1", "snap-1");
	assert_form(r, "Tag.1.Key", "a");
	assert_form(r, "Tag.2.Key", "b");
	assert_no_form(r, "Tag.1.Value");
	/* No keys: no call (DeleteTags without keys deletes every tag). */
	assert_int_equal(cloud_delete_tags(t->c, &rc, "snap-1", keys, 0, &st), 0);
	assert_int_equal(count_of(t, "DeleteTags"), 1);

	script_file("EnableFastSnapshotRestores", 200, 1, FIX "EnableFastSnapshotRestores.xml");
	const char *zones[] = { "us-east-1a", "us-east-1b" };
	struct cloud_fsr_result fr;
	assert_int_equal(cloud_enable_fsr(t->c, &rc, "snap-1", zones, 2, &fr, &st), 0);
	cloud_fsr_result_dispose(&fr);
	r = req_of(t, "EnableFastSnapshotRestores", 0);
	assert_form(r, "SourceSnapshotId.1", "snap-1");
	assert_form(r, "AvailabilityZone.1", "us-east-1a");
	assert_form(r, "AvailabilityZone.2", "us-east-1b");

	script_file("DescribeVolumeStatus", 200, 1, FIX "DescribeVolumeStatus.xml");
	struct cloud_volume_status vs;
	char vid[64] = "";
	{
		/* The fixture's first volume id. */
		char *txt = file_text(FIX "DescribeVolumeStatus.xml");
		char *p = strstr(txt, "<volumeId>");
		assert_non_null(p);
		sscanf(p + 10, "%63[^<]", vid);
		free(txt);
	}
	assert_int_equal(cloud_get_volume_status(t->c, &rc, vid, &vs, &st), 0);
	assert_string_equal(vs.volume_id, vid);
	cloud_volume_status_dispose(&vs);
	assert_form(req_of(t, "DescribeVolumeStatus", 0), "VolumeId.1", vid);
}

static void test_health_check_cached(void **state)
{
	struct t *t = *state;
	script_file("DescribeAvailabilityZones", 412, 1, FIX "error-DryRunOperation.xml");
	struct rpc_ctx rc = ctx_for(t, "/csi.v1.Identity/Probe", 5000);
	struct status st = STATUS_INIT;
	assert_int_equal(cloud_health_check(t->c, &rc, &st), 0);
	const struct stub_request *r = req_of(t, "DescribeAvailabilityZones", 0);
	assert_form(r, "DryRun", "true");
	assert_signed(t, r, SK, AK);
	assert_string_equal(W.obs[0].code, "");  /* DryRunOperation is the good answer */
	assert_string_equal(W.obs[0].method, "");  /* a health check, not a CSI call's cost */
	assert_int_equal(W.obs[0].status, 412);
	/* Cached: Probe after Probe does not become EC2 traffic. */
	assert_int_equal(cloud_health_check(t->c, &rc, &st), 0);
	assert_int_equal(cloud_health_check(t->c, &rc, &st), 0);
	assert_int_equal(count_of(t, "DescribeAvailabilityZones"), 1);
	/* After the TTL it asks again; a refusal is FAILED_PRECONDITION, not
	 * retried, and cached briefly too. */
	atomic_fetch_add(&t->clk.offset, 301000);
	script_file("DescribeAvailabilityZones", 403, -1, FIX "error-UnauthorizedOperation.xml");
	rc = ctx_for(t, "/csi.v1.Identity/Probe", 5000);
	assert_int_equal(cloud_health_check(t->c, &rc, &st), -1);
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "UnauthorizedOperation"));
	assert_non_null(strstr(st.msg, "credentials"));
	assert_int_equal(count_of(t, "DescribeAvailabilityZones"), 2);
	assert_int_equal(cloud_health_check(t->c, &rc, &st), -1);
	assert_int_equal(count_of(t, "DescribeAvailabilityZones"), 2);
	atomic_fetch_add(&t->clk.offset, 6000);
	rc = ctx_for(t, "/csi.v1.Identity/Probe", 5000);
	assert_int_equal(cloud_health_check(t->c, &rc, &st), -1);
	assert_int_equal(count_of(t, "DescribeAvailabilityZones"), 3);
}

/* ---- batching ------------------------------------------------------------------------------------------ */

struct getter {
	struct cloud *c;
	struct rpc_ctx rc;
	char id[32];
	int ret;
	struct status st;
	char got[32];
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;
	struct cloud_disk d;
	status_clear(&g->st);
	g->ret = cloud_get_disk(g->c, &g->rc, g->id, &d, &g->st);
	snprintf(g->got, sizeof g->got, "%s", d.volume_id ? d.volume_id : "");
	cloud_disk_dispose(&d);
	return NULL;
}

static void test_batching_merges_describes(void **state)
{
	struct t *t = *state;
	cloud_free(t->c);
	struct cloud_aws_options o;
	memset(&o, 0, sizeof o);
	o.batching.window_ms = 200;
	t->c = make_cloud(t, &o);
	W.dyn_volumes = true;
	W.missing[0] = "vol-7";
	struct getter g[24];
	pthread_t th[24];
	for (int i = 0; i < 24; i++) {
		g[i].c = t->c;
		g[i].rc = ctx_for(t, "/csi.v1.Controller/ControllerPublishVolume", 60000);
		snprintf(g[i].id, sizeof g[i].id, "vol-%d", i);
		pthread_create(&th[i], NULL, getter_main, &g[i]);
	}
	for (int i = 0; i < 24; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 24; i++) {
		if (i == 7) {
			assert_int_equal(g[i].ret, -1);
			assert_int_equal(g[i].st.code, STATUS_NOT_FOUND);
		} else {
			assert_int_equal(g[i].ret, 0);
			assert_string_equal(g[i].got, g[i].id);
		}
	}
	/* One call for all 24, one more without the missing id. */
	assert_int_equal(count_of(t, "DescribeVolumes"), 2);
	char v[32];
	assert_true(form_get(req_of(t, "DescribeVolumes", 0)->body, "VolumeId.24", v, sizeof v));
	assert_false(form_get(req_of(t, "DescribeVolumes", 1)->body, "VolumeId.24", v, sizeof v));
	assert_true(form_get(req_of(t, "DescribeVolumes", 1)->body, "VolumeId.23", v, sizeof v));
	assert_string_equal(W.obs[0].method, "/csi.v1.Controller/ControllerPublishVolume");

	/* Batching off: one call per lookup. */
	cloud_free(t->c);
	o.batching.disabled = true;
	t->c = make_cloud(t, &o);
	stub_reset(t->stub);
	stub_set_handler(t->stub, handler, NULL);
	W.missing[0] = NULL;
	for (int i = 0; i < 4; i++) {
		g[i].c = t->c;
		pthread_create(&th[i], NULL, getter_main, &g[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(g[i].ret, 0);
	}
	assert_int_equal(count_of(t, "DescribeVolumes"), 4);
}

struct creator {
	struct cloud *c;
	struct rpc_ctx rc;
	char token[65];
	int ret;
	struct status st;
};

static void *creator_main(void *arg)
{
	struct creator *k = arg;
	struct cloud_disk_options o = { .client_token = k->token, .size_gib = 1, .zone = "us-east-1a" };
	struct cloud_disk d;
	k->ret = cloud_create_disk(k->c, &k->rc, &o, &d, &k->st);
	cloud_disk_dispose(&d);
	return NULL;
}

/* The issue's goal: with 200 volumes in flight, Describe calls scale with
 * time, not with volumes. */
static void test_200_creates_share_describes(void **state)
{
	struct t *t = *state;
	cloud_free(t->c);
	struct cloud_aws_options o;
	memset(&o, 0, sizeof o);
	o.batching.window_ms = 100;
	/* Every waiter's sleep advances the shared fake clock; with 200 of them,
	 * long polls would push it past the batches' own deadlines on a loaded
	 * machine. Short polls keep fake time close to real time. */
	o.create_delay_ms = 1;
	o.poll_initial_ms = 1;
	o.poll_cap_ms = 5;
	t->c = make_cloud(t, &o);
	W.dyn_volumes = true;
	enum { N = 200 };
	struct creator *k = xcalloc(N, sizeof *k);
	pthread_t *th = xcalloc(N, sizeof *th);
	for (int i = 0; i < N; i++) {
		k[i].c = t->c;
		k[i].rc = ctx_for(t, "/csi.v1.Controller/CreateVolume", 600000);
		snprintf(k[i].token, sizeof k[i].token, "%017d%047d", i, 0);
		pthread_create(&th[i], NULL, creator_main, &k[i]);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++) {
		if (k[i].ret != 0)
			fprintf(stderr, "create %d: %s\n", i, k[i].st.msg);
		assert_int_equal(k[i].ret, 0);
	}
	assert_int_equal(count_of(t, "CreateVolume"), N);
	size_t describes = count_of(t, "DescribeVolumes");
	fprintf(stderr, "200 creates: %zu DescribeVolumes calls\n", describes);
	assert_true(describes >= 1);
	assert_true(describes <= 10);
	free(k);
	free(th);
}

static void test_construction_errors(void **state)
{
	struct t *t = *state;
	struct fake_env env2;
	memset(&env2, 0, sizeof env2);
	env_set(&env2, "AWS_EC2_METADATA_DISABLED", "true");
	struct endpoint_env ee = { fake_getenv, &env2 };
	struct cloud_aws_options o = { .env = &ee };
	struct status st = STATUS_INIT;
	/* No region anywhere. */
	assert_null(cloud_aws_new(&o, &st));
	assert_int_equal(st.code, STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(st.msg, "AWS_REGION"));
	o.region = "Not A Region";
	assert_null(cloud_aws_new(&o, &st));
	assert_int_equal(st.code, STATUS_INVALID_ARGUMENT);
	o.region = "eu-west-3";
	struct cloud *c = cloud_aws_new(&o, &st);
	assert_non_null(c);
	assert_string_equal(cloud_aws_region(c), "eu-west-3");
	assert_string_equal(cloud_aws_endpoint(c), "https://ec2.eu-west-3.amazonaws.com");
	cloud_free(c);

	/* No AWS_REGION: the region comes from instance metadata. */
	stub_on(t->stub, "PUT", "/latest/api/token", -1, &(struct stub_reply){ .body = "imds-token" });
	stub_on(t->stub, "GET", "/latest/meta-data/placement/region", -1, &(struct stub_reply){ .body = "ap-south-1\n" });
	env_clear(&env2);
	env_set(&env2, "AWS_EC2_METADATA_SERVICE_ENDPOINT", stub_url(t->stub));
	struct http_client *http = http_client_new(&(struct http_options){ .user_agent_version = "t" });
	struct imds_client *imds = imds_new(&(struct imds_options){ .http = http, .env = &ee }, &st);
	assert_non_null(imds);
	o = (struct cloud_aws_options){ .env = &ee, .http = http, .imds = imds };
	c = cloud_aws_new(&o, &st);
	assert_non_null(c);
	assert_string_equal(cloud_aws_region(c), "ap-south-1");
	assert_string_equal(cloud_aws_endpoint(c), "https://ec2.ap-south-1.amazonaws.com");
	cloud_free(c);
	/* Metadata answering nonsense is an error, not a region. */
	stub_reset(t->stub);
	stub_on(t->stub, "PUT", "/latest/api/token", -1, &(struct stub_reply){ .body = "imds-token" });
	stub_on(t->stub, "GET", "/latest/meta-data/placement/region", -1, &(struct stub_reply){ .body = "<html>" });
	assert_null(cloud_aws_new(&o, &st));
	assert_int_equal(st.code, STATUS_INTERNAL);
	imds_free(imds);
	http_client_free(http);
	env_clear(&env2);
	stub_reset(t->stub);
	assert_string_equal(cloud_aws_region(t->c), "us-east-1");
	assert_int_equal(stub_request_count(t->stub), 0);  /* nothing sent at start */
}

int main(void)
{
	http_global_init();
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_volume_waits_until_available),
		T(test_create_volume_idempotent_and_mismatch),
		T(test_create_volume_replayed_token_of_deleted_volume),
		T(test_create_volume_vanishes),
		T(test_create_volume_wait_bounded_by_deadline),
		T(test_copy_and_delete),
		T(test_find_by_name),
		T(test_retries_throttling_with_backoff),
		T(test_throttled_call_keeps_its_token),
		T(test_retry_bounded_by_deadline),
		T(test_no_retry_on_client_error),
		T(test_cancelled_sends_nothing),
		T(test_error_body_with_200),
		T(test_transport_failures_retried),
		T(test_auth_failure_refreshes_credentials_once),
		T(test_attach_chooses_device_and_waits),
		T(test_attach_already_attached_sends_no_attach),
		T(test_attach_device_in_use_takes_another),
		T(test_attach_elsewhere_and_unknown),
		T(test_attach_stuck_is_detached),
		T(test_detach),
		T(test_snapshots),
		T(test_modify),
		T(test_misc_ops),
		T(test_health_check_cached),
		T(test_batching_merges_describes),
		T(test_200_creates_share_describes),
		T(test_construction_errors),
	};
#undef T
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	http_global_cleanup();
	return rc;
}
