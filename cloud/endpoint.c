/*
 * endpoint: region, partition and EC2/STS endpoint resolution. See endpoint.h.
 *
 * Partition and FIPS data come from botocore's endpoints.json (Debian
 * python3-botocore 1.29.27 and botocore 1.43.11, aws-facts.md §1.1, §7.3);
 * they are small tables here rather than the whole rules engine, because the
 * driver only ever talks to two services. A value from the environment is
 * validated before it is used, and an error names the variable (not the value:
 * an endpoint URL may carry credentials in its userinfo).
 */
#include "cloud/endpoint.h"

#include "common/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *endpoint_getenv_process(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static const char *env_get(const struct endpoint_env *env, const char *name)
{
	if (env == NULL || env->getenv_fn == NULL)
		return NULL;
	const char *v = env->getenv_fn(env->ctx, name);
	return v != NULL && *v != '\0' ? v : NULL;
}

/* Parses an AWS boolean setting: unset/empty → false; "true"/"false" in any case. */
static int env_bool(const struct endpoint_env *env, const char *name, bool *out, struct status *st)
{
	const char *v = env_get(env, name);
	*out = false;
	if (v == NULL || strcasecmp(v, "false") == 0)
		return 0;
	if (strcasecmp(v, "true") == 0) {
		*out = true;
		return 0;
	}
	return status_set(st, STATUS_INVALID_ARGUMENT, "%s must be true or false", name);
}

/* ---- partitions ---------------------------------------------------------- */

/* Longer prefixes first where one is a prefix of another's region names. */
static const struct {
	const char *prefix;
	struct endpoint_partition p;
} partitions[] = {
	{ "cn-", { "aws-cn", "amazonaws.com.cn" } },
	{ "us-gov-", { "aws-us-gov", "amazonaws.com" } },
	{ "us-isob-", { "aws-iso-b", "sc2s.sgov.gov" } },
	{ "us-isof-", { "aws-iso-f", "csp.hci.ic.gov" } },
	{ "us-iso-", { "aws-iso", "c2s.ic.gov" } },
	{ "eu-isoe-", { "aws-iso-e", "cloud.adc-e.uk" } },
	{ "eusc-", { "aws-eusc", "amazonaws.eu" } },
};
static const struct endpoint_partition partition_aws = { "aws", "amazonaws.com" };

const struct endpoint_partition *endpoint_partition_for_region(const char *region)
{
	if (region != NULL)
		for (size_t i = 0; i < sizeof partitions / sizeof partitions[0]; i++)
			if (strncmp(region, partitions[i].prefix, strlen(partitions[i].prefix)) == 0)
				return &partitions[i].p;
	/* botocore, too, falls back to the aws partition for unknown regions. */
	return &partition_aws;
}

bool endpoint_region_valid(const char *region)
{
	if (region == NULL || *region == '\0' || strlen(region) > ENDPOINT_REGION_MAX)
		return false;
	if (!islower((unsigned char)region[0]) || region[strlen(region) - 1] == '-')
		return false;
	for (const char *p = region; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
			return false;
	return true;
}

int endpoint_region_from_env(const struct endpoint_env *env, char *out, size_t cap, struct status *st)
{
	static const char *const vars[] = { "AWS_REGION", "AWS_DEFAULT_REGION" };
	if (cap > 0)
		out[0] = '\0';
	for (size_t i = 0; i < 2; i++) {
		const char *v = env_get(env, vars[i]);
		if (v == NULL)
			continue;
		if (!endpoint_region_valid(v))
			return status_set(st, STATUS_INVALID_ARGUMENT, "%s is not a valid AWS region name", vars[i]);
		if (strlen(v) >= cap)
			return status_set(st, STATUS_INVALID_ARGUMENT, "%s is too long", vars[i]);
		memcpy(out, v, strlen(v) + 1);
		return 0;
	}
	return 0;
}

/* ---- URLs ---------------------------------------------------------------- */

void endpoint_url_init(struct endpoint_url *u)
{
	memset(u, 0, sizeof *u);
}

void endpoint_url_dispose(struct endpoint_url *u)
{
	free(u->scheme);
	free(u->host);
	free(u->path);
	free(u->host_header);
	endpoint_url_init(u);
}

static bool host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

int endpoint_url_parse(const char *url, const char *what, struct endpoint_url *out, struct status *st)
{
	endpoint_url_init(out);
	if (what == NULL)
		what = "endpoint URL";
	if (url == NULL || *url == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s is empty", what);
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return status_set(st, STATUS_INVALID_ARGUMENT, "%s contains spaces or control characters", what);

	const char *sep = strstr(url, "://");
	if (sep == NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s must start with http:// or https://", what);
	size_t slen = (size_t)(sep - url);
	unsigned default_port;
	if (slen == 5 && strncasecmp(url, "https", 5) == 0)
		default_port = 443;
	else if (slen == 4 && strncasecmp(url, "http", 4) == 0)
		default_port = 80;
	else
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s: scheme must be http or https", what);

	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	const char *rest = auth + alen;
	if (memchr(auth, '@', alen) != NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s must not contain user information", what);
	if (*rest == '?' || *rest == '#' || strpbrk(rest, "?#") != NULL)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s must not contain a query or fragment", what);

	const char *host = auth, *hend;
	const char *port_s = NULL;
	bool v6 = false;
	if (alen > 0 && auth[0] == '[') {
		const char *close = memchr(auth, ']', alen);
		if (close == NULL)
			return status_set(st, STATUS_INVALID_ARGUMENT, "%s: unterminated IPv6 address", what);
		for (const char *p = auth + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return status_set(st, STATUS_INVALID_ARGUMENT, "%s: malformed IPv6 address", what);
		host = auth + 1;
		hend = close;
		v6 = true;
		if (close + 1 < auth + alen) {
			if (close[1] != ':')
				return status_set(st, STATUS_INVALID_ARGUMENT, "%s: malformed host", what);
			port_s = close + 2;
		}
	} else {
		const char *colon = memchr(auth, ':', alen);
		hend = colon ? colon : auth + alen;
		if (colon)
			port_s = colon + 1;
		for (const char *p = host; p < hend; p++)
			if (!host_char((unsigned char)*p))
				return status_set(st, STATUS_INVALID_ARGUMENT, "%s: malformed host", what);
	}
	if (hend == host)
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s has no host", what);

	unsigned port = default_port;
	if (port_s != NULL) {
		size_t plen = (size_t)(auth + alen - port_s);
		if (plen == 0 || plen > 5)
			return status_set(st, STATUS_INVALID_ARGUMENT, "%s: malformed port", what);
		port = 0;
		for (size_t i = 0; i < plen; i++) {
			if (!isdigit((unsigned char)port_s[i]))
				return status_set(st, STATUS_INVALID_ARGUMENT, "%s: malformed port", what);
			port = port * 10 + (unsigned)(port_s[i] - '0');
		}
		if (port == 0 || port > 65535)
			return status_set(st, STATUS_INVALID_ARGUMENT, "%s: port must be 1..65535", what);
	}

	out->scheme = xstrdup(default_port == 443 ? "https" : "http");
	out->host = xstrndup(host, (size_t)(hend - host));
	for (char *p = out->host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	out->port = port;
	out->explicit_port = port_s != NULL;
	out->path = xstrdup(*rest ? rest : "/");
	/* Host carries the port only when it is not the scheme's default, the way
	 * curl and botocore send it; the signature covers exactly this value. */
	if (port != default_port)
		out->host_header = xasprintf(v6 ? "[%s]:%u" : "%s:%u", out->host, port);
	else
		out->host_header = xasprintf(v6 ? "[%s]" : "%s", out->host);
	return 0;
}

/* ---- resolution ---------------------------------------------------------- */

void endpoint_init(struct endpoint *e)
{
	memset(e, 0, sizeof *e);
	endpoint_url_init(&e->parsed);
}

void endpoint_dispose(struct endpoint *e)
{
	free(e->url);
	free(e->signing_region);
	endpoint_url_dispose(&e->parsed);
	endpoint_init(e);
}

static bool in_set(const char *region, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(region, *set) == 0)
			return true;
	return false;
}

struct service_desc {
	const char *name;                    /* "ec2", "sts" */
	const char *const *override_vars;    /* NULL-terminated, in priority order */
	const char *const *fips_regions_aws; /* aws-partition regions with <svc>-fips */
};

static const char *const ec2_overrides[] = { "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL", "AWS_EC2_ENDPOINT", NULL };
static const char *const sts_overrides[] = { "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", NULL };
/* botocore 1.43.11 endpoints.json, "fips" variants (ca-west-1 is newer than
 * the Debian 1.29 copy). */
static const char *const ec2_fips[] = { "us-east-1", "us-east-2", "us-west-1", "us-west-2",
					"ca-central-1", "ca-west-1", NULL };
static const char *const sts_fips[] = { "us-east-1", "us-east-2", "us-west-1", "us-west-2", NULL };

static const struct service_desc svc_ec2 = { "ec2", ec2_overrides, ec2_fips };
static const struct service_desc svc_sts = { "sts", sts_overrides, sts_fips };

static int resolve(const struct service_desc *svc, const char *region, const struct endpoint_env *env,
		   struct endpoint *out, struct status *st)
{
	endpoint_dispose(out);
	if (region == NULL || *region == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT,
				  "%s endpoint: no AWS region (set AWS_REGION, or run where IMDS answers)", svc->name);
	if (!endpoint_region_valid(region))
		return status_set(st, STATUS_INVALID_ARGUMENT, "%s endpoint: invalid AWS region name", svc->name);
	bool fips, ignore_urls;
	if (env_bool(env, "AWS_USE_FIPS_ENDPOINT", &fips, st) != 0 ||
	    env_bool(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", &ignore_urls, st) != 0)
		return -1;

	out->partition = endpoint_partition_for_region(region);
	out->signing_service = svc->name;
	out->fips = fips;

	for (const char *const *var = svc->override_vars; *var; var++) {
		/* The ignore switch covers the SDK's AWS_ENDPOINT_URL* settings, not the
		 * upstream driver's own AWS_EC2_ENDPOINT. */
		if (ignore_urls && strncmp(*var, "AWS_ENDPOINT_URL", 16) == 0)
			continue;
		const char *v = env_get(env, *var);
		if (v == NULL)
			continue;
		if (endpoint_url_parse(v, *var, &out->parsed, st) != 0)
			return -1;
		/* Rebuilt from the parsed parts: normalised case, no trailing "/". */
		out->url = xasprintf("%s://%s%s", out->parsed.scheme, out->parsed.host_header,
				     strcmp(out->parsed.path, "/") == 0 ? "" : out->parsed.path);
		out->signing_region = xstrdup(region);
		out->source = *var;
		return 0;
	}

	const char *suffix = out->partition->dns_suffix;
	if (!fips) {
		out->url = xasprintf("https://%s.%s.%s", svc->name, region, suffix);
	} else if (strcmp(out->partition->name, "aws-us-gov") == 0) {
		/* GovCloud's regular endpoints are the FIPS ones (endpoints.json). */
		out->url = xasprintf("https://%s.%s.%s", svc->name, region, suffix);
	} else if (strcmp(out->partition->name, "aws") == 0 && !in_set(region, svc->fips_regions_aws)) {
		endpoint_dispose(out);
		return status_set(st, STATUS_FAILED_PRECONDITION,
				  "AWS_USE_FIPS_ENDPOINT=true but %s has no FIPS endpoint in %s; "
				  "set AWS_ENDPOINT_URL_%s to choose one",
				  svc->name, region, strcmp(svc->name, "ec2") == 0 ? "EC2" : "STS");
	} else {
		out->url = xasprintf("https://%s-fips.%s.%s", svc->name, region, suffix);
	}
	if (endpoint_url_parse(out->url, "endpoint", &out->parsed, st) != 0) {
		endpoint_dispose(out);
		return -1;
	}
	out->signing_region = xstrdup(region);
	out->source = "default";
	return 0;
}

int endpoint_resolve_ec2(const char *region, const struct endpoint_env *env, struct endpoint *out,
			 struct status *st)
{
	int rc = resolve(&svc_ec2, region, env, out, st);
	if (rc != 0)
		endpoint_dispose(out);
	return rc;
}

int endpoint_resolve_sts(const char *region, const struct endpoint_env *env, struct endpoint *out,
			 struct status *st)
{
	int rc = resolve(&svc_sts, region, env, out, st);
	if (rc != 0)
		endpoint_dispose(out);
	return rc;
}
