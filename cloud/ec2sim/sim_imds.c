/*
 * sim_imds: instance metadata. See sim_imds.h.
 *
 * Answers are text/plain; a directory listing (path ending in "/") is the
 * names separated by "\n", subdirectories with a trailing "/". Unknown paths
 * are 404 with a small body, as IMDS answers.
 */
#include "cloud/ec2sim/sim_imds.h"

#include "cloud/ec2sim/sim_xml.h"
#include "common/xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_imds_reply_init(struct sim_imds_reply *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->body);
	r->content_type = "text/plain";
}

void sim_imds_reply_dispose(struct sim_imds_reply *r)
{
	buf_dispose(&r->body);
}

static void mac_hex(const char *key, const char *instance_id, int64_t expiry_s, char out[65])
{
	char data[160];
	int n = snprintf(data, sizeof data, "%s|%" PRId64, instance_id, expiry_s);
	unsigned char md[64];
	size_t mdlen = 0;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, strlen(key), (const unsigned char *)data, (size_t)n, md,
		      sizeof md, &mdlen) == NULL)
		mdlen = 0;
	for (size_t i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[mdlen ? 64 : 0] = '\0';
}

void sim_imds_token_make(const char *key, const char *instance_id, int64_t expiry_s, char *out, size_t cap)
{
	char mac[65];
	mac_hex(key, instance_id, expiry_s, mac);
	snprintf(out, cap, "%" PRId64 ".%s", expiry_s, mac);
}

bool sim_imds_token_valid(const char *key, const char *instance_id, const char *token, int64_t now_s)
{
	char *end;
	errno = 0;
	long long expiry = strtoll(token, &end, 10);
	if (end == token || *end != '.' || errno != 0 || expiry < now_s)
		return false;
	char mac[65];
	mac_hex(key, instance_id, expiry, mac);
	return mac[0] != '\0' && sigv4_ct_equal(end + 1, strlen(end + 1), mac, strlen(mac));
}

static void reply(struct sim_imds_reply *r, int status, const char *body)
{
	r->status = status;
	buf_reset(&r->body);
	buf_puts(&r->body, body);
}

static void not_found(struct sim_imds_reply *r)
{
	reply(r, 404, "404 - Not Found\n");
}

static void token_put(struct sim *s, const struct sim_http_req *req, int64_t now, struct sim_imds_reply *r)
{
	if (sim_http_header(req, "X-Forwarded-For") != NULL) {
		reply(r, 403, "403 - Forbidden\n");
		return;
	}
	const char *ttl = sim_http_header(req, "X-aws-ec2-metadata-token-ttl-seconds");
	char *end = NULL;
	long v = ttl ? strtol(ttl, &end, 10) : 0;
	if (ttl == NULL || *ttl == '\0' || *end != '\0' || v < 1 || v > 21600) {
		reply(r, 400, "400 - Missing or Invalid Parameters\n");
		return;
	}
	const struct sim_instance *in = &s->cfg->instances[s->cfg->imds_index];
	char tok[128];
	sim_imds_token_make(s->st.imds_key, in->id, now / 1000 + v, tok, sizeof tok);
	reply(r, 200, tok);
	snprintf(r->ttl_header, sizeof r->ttl_header, "%ld", v);
}

static void iso_time(int64_t ms, char *out, size_t cap)
{
	char t[40];
	sim_xml_format_time(ms, t, sizeof t);
	/* IMDS credentials use whole seconds: "2017-05-17T15:09:54Z". */
	snprintf(out, cap, "%.19sZ", t);
}

static void identity_document(struct sim *s, const struct sim_instance *in, struct buf *b)
{
	const struct sim_config *cfg = s->cfg;
	char pending[40];
	iso_time(in->launch_ms, pending, sizeof pending);
	buf_printf(b,
		   "{\n  \"accountId\" : \"%s\",\n  \"architecture\" : \"x86_64\",\n  \"availabilityZone\" : \"%s\",\n"
		   "  \"billingProducts\" : null,\n  \"devpayProductCodes\" : null,\n  \"marketplaceProductCodes\" : null,\n"
		   "  \"imageId\" : \"ami-0e5e0000000000001\",\n  \"instanceId\" : \"%s\",\n  \"instanceType\" : \"%s\",\n"
		   "  \"kernelId\" : null,\n  \"pendingTime\" : \"%s\",\n  \"privateIp\" : \"%s\",\n"
		   "  \"ramdiskId\" : null,\n  \"region\" : \"%s\",\n  \"version\" : \"2017-09-30\"\n}",
		   cfg->account_id, in->az, in->id, in->type, pending, in->ip, cfg->region);
}

static bool eni_of(const struct sim_instance *in, const char *mac, int *n)
{
	for (int i = 0; i < in->n_enis; i++) {
		char m[18];
		sim_config_eni_mac(in, i, m);
		if (strcmp(m, mac) == 0) {
			*n = i;
			return true;
		}
	}
	return false;
}

static void network(const struct sim_instance *in, const char *p, struct sim_imds_reply *r)
{
	/* p is below "network/". */
	if (strcmp(p, "") == 0)
		{
		reply(r, 200, "interfaces/");
		return;
	}
	if (strcmp(p, "interfaces/") == 0)
		{
		reply(r, 200, "macs/");
		return;
	}
	if (strcmp(p, "interfaces/macs/") == 0) {
		r->status = 200;
		for (int i = 0; i < in->n_enis; i++) {
			char m[18];
			sim_config_eni_mac(in, i, m);
			buf_printf(&r->body, "%s%s/", i ? "\n" : "", m);
		}
		return;
	}
	if (strncmp(p, "interfaces/macs/", 16) != 0)
		{
		not_found(r);
		return;
	}
	const char *rest = p + 16;
	const char *slash = strchr(rest, '/');
	char mac[18];
	if (slash == NULL || (size_t)(slash - rest) != 17)
		{
		not_found(r);
		return;
	}
	memcpy(mac, rest, 17);
	mac[17] = '\0';
	int n;
	if (!eni_of(in, mac, &n))
		{
		not_found(r);
		return;
	}
	const char *leaf = slash + 1;
	char v[64];
	if (strcmp(leaf, "") == 0)
		{
		reply(r, 200, "device-number\ninterface-id\nlocal-ipv4s\nmac\nnetwork-card-index");
		return;
	}
	if (strcmp(leaf, "device-number") == 0)
		snprintf(v, sizeof v, "%d", n);
	else if (strcmp(leaf, "interface-id") == 0)
		snprintf(v, sizeof v, "eni-0e5e%04x%09x", (unsigned)in->index, (unsigned)n);
	else if (strcmp(leaf, "local-ipv4s") == 0)
		snprintf(v, sizeof v, "%s", n == 0 ? in->ip : "");
	else if (strcmp(leaf, "mac") == 0)
		snprintf(v, sizeof v, "%s", mac);
	else if (strcmp(leaf, "network-card-index") == 0)
		snprintf(v, sizeof v, "0");
	else
		{
		not_found(r);
		return;
	}
	reply(r, 200, v);
}

static void block_devices(const struct sim_instance *in, const char *p, struct sim_imds_reply *r)
{
	if (strcmp(p, "") == 0) {
		r->status = 200;
		buf_puts(&r->body, "ami");
		for (int i = 1; i <= in->n_ebs; i++)
			buf_printf(&r->body, "\nebs%d", i);
		buf_puts(&r->body, "\nroot");
		return;
	}
	if (strcmp(p, "ami") == 0 || strcmp(p, "root") == 0)
		{
		reply(r, 200, in->root_device);
		return;
	}
	if (strncmp(p, "ebs", 3) == 0) {
		char *end;
		long n = strtol(p + 3, &end, 10);
		if (p[3] != '\0' && *end == '\0' && n >= 1 && n <= in->n_ebs) {
			char v[16];
			snprintf(v, sizeof v, "sd%c", (char)('f' + n - 1));
			{
		reply(r, 200, v);
		return;
	}
		}
	}
	not_found(r);
}

static void iam(struct sim *s, const char *p, int64_t now, struct sim_imds_reply *r)
{
	const struct sim_config *cfg = s->cfg;
	if (cfg->imds_role == NULL)
		{
		not_found(r);
		return;
	}
	if (strcmp(p, "") == 0)
		{
		reply(r, 200, "info\nsecurity-credentials/");
		return;
	}
	if (strcmp(p, "info") == 0) {
		r->content_type = "application/json";
		r->status = 200;
		buf_printf(&r->body,
			   "{\"Code\":\"Success\",\"LastUpdated\":\"2026-01-01T00:00:00Z\",\"InstanceProfileArn\":"
			   "\"arn:aws:iam::%s:instance-profile/%s\",\"InstanceProfileId\":\"AIPAEBSSIMULATOR0000\"}",
			   cfg->account_id, cfg->imds_role);
		return;
	}
	if (strcmp(p, "security-credentials/") == 0)
		{
		reply(r, 200, cfg->imds_role);
		return;
	}
	if (strncmp(p, "security-credentials/", 21) == 0 && strcmp(p + 21, cfg->imds_role) == 0) {
		char updated[40], expires[40];
		iso_time(now, updated, sizeof updated);
		iso_time(now + 6LL * 3600 * 1000, expires, sizeof expires);
		r->content_type = "application/json";
		r->status = 200;
		buf_printf(&r->body, "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"%s\",\n  \"Type\" : \"AWS-HMAC\",\n"
				     "  \"AccessKeyId\" : \"",
			   updated);
		sim_xml_escape(&r->body, cfg->access_key);  /* keys are plain ASCII; escape quotes anyway */
		buf_puts(&r->body, "\",\n  \"SecretAccessKey\" : \"");
		sim_xml_escape(&r->body, cfg->secret_key);
		buf_puts(&r->body, "\",\n  \"Token\" : \"");
		sim_xml_escape(&r->body, cfg->session_token ? cfg->session_token : "ebs-ec2-sim-session-token");
		buf_printf(&r->body, "\",\n  \"Expiration\" : \"%s\"\n}", expires);
		return;
	}
	not_found(r);
}

static void meta_data(struct sim *s, const struct sim_instance *in, const char *p, int64_t now,
		      struct sim_imds_reply *r)
{
	const struct sim_config *cfg = s->cfg;
	const struct sim_zone *z = sim_config_zone(cfg, in->az);
	char host[64], ipd[16];
	snprintf(ipd, sizeof ipd, "%s", in->ip);
	for (char *q = ipd; *q; q++)
		if (*q == '.')
			*q = '-';
	snprintf(host, sizeof host, "ip-%s.ec2.internal", ipd);
	if (strcmp(p, "") == 0)
		{
		reply(r, 200, "ami-id\nblock-device-mapping/\nhostname\niam/\ninstance-id\ninstance-type\n"
				     "local-hostname\nlocal-ipv4\nmac\nnetwork/\nplacement/\nservices/");
		return;
	}
	if (strcmp(p, "instance-id") == 0)
		{
		reply(r, 200, in->id);
		return;
	}
	if (strcmp(p, "instance-type") == 0)
		{
		reply(r, 200, in->type);
		return;
	}
	if (strcmp(p, "ami-id") == 0)
		{
		reply(r, 200, "ami-0e5e0000000000001");
		return;
	}
	if (strcmp(p, "hostname") == 0 || strcmp(p, "local-hostname") == 0)
		{
		reply(r, 200, host);
		return;
	}
	if (strcmp(p, "local-ipv4") == 0)
		{
		reply(r, 200, in->ip);
		return;
	}
	if (strcmp(p, "mac") == 0)
		{
		reply(r, 200, in->mac);
		return;
	}
	if (strcmp(p, "placement/") == 0)
		{
		reply(r, 200, "availability-zone\navailability-zone-id\nregion");
		return;
	}
	if (strcmp(p, "placement/availability-zone") == 0)
		{
		reply(r, 200, in->az);
		return;
	}
	if (strcmp(p, "placement/availability-zone-id") == 0)
		{
		reply(r, 200, z ? z->id : "");
		return;
	}
	if (strcmp(p, "placement/region") == 0)
		{
		reply(r, 200, cfg->region);
		return;
	}
	if (strcmp(p, "services/") == 0)
		{
		reply(r, 200, "domain\npartition");
		return;
	}
	if (strcmp(p, "services/domain") == 0)
		{
		reply(r, 200, "amazonaws.com");
		return;
	}
	if (strcmp(p, "services/partition") == 0)
		{
		reply(r, 200, "aws");
		return;
	}
	if (strncmp(p, "network/", 8) == 0)
		{
		network(in, p + 8, r);
		return;
	}
	if (strncmp(p, "block-device-mapping/", 21) == 0)
		{
		block_devices(in, p + 21, r);
		return;
	}
	if (strncmp(p, "iam/", 4) == 0)
		{
		iam(s, p + 4, now, r);
		return;
	}
	not_found(r);  /* outpost-arn included: not an Outpost */
}

void sim_imds_handle(struct sim *s, const struct sim_http_req *req, int64_t now, struct sim_imds_reply *r)
{
	const struct sim_instance *in = &s->cfg->instances[s->cfg->imds_index];
	const char *path = req->path + strlen("/latest/");
	if (strcmp(req->method, "PUT") == 0) {
		if (strcmp(path, "api/token") == 0)
			token_put(s, req, now, r);
		else
			reply(r, 403, "403 - Forbidden\n");
		return;
	}
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		reply(r, 405, "405 - Method Not Allowed\n");
		return;
	}
	if (strcmp(path, "api/token") == 0) {
		reply(r, 405, "405 - Method Not Allowed\n");
		return;
	}
	const char *tok = sim_http_header(req, "X-aws-ec2-metadata-token");
	bool ok;
	pthread_mutex_lock(&s->lock);
	ok = tok != NULL ? sim_imds_token_valid(s->st.imds_key, in->id, tok, now / 1000) : s->cfg->imds_v1;
	pthread_mutex_unlock(&s->lock);
	if (!ok) {
		reply(r, 401, "401 - Unauthorized\n");
		return;
	}
	if (strcmp(path, "") == 0)
		{
		reply(r, 200, "dynamic\nmeta-data");
		return;
	}
	if (strncmp(path, "meta-data/", 10) == 0)
		{
		meta_data(s, in, path + 10, now, r);
		return;
	}
	if (strcmp(path, "meta-data") == 0)
		{
		meta_data(s, in, "", now, r);
		return;
	}
	if (strcmp(path, "dynamic/") == 0)
		{
		reply(r, 200, "instance-identity/");
		return;
	}
	if (strcmp(path, "dynamic/instance-identity/") == 0)
		{
		reply(r, 200, "document");
		return;
	}
	if (strcmp(path, "dynamic/instance-identity/document") == 0) {
		r->status = 200;
		r->content_type = "application/json";
		identity_document(s, in, &r->body);
		return;
	}
	not_found(r);
}
