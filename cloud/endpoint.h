/*
 * endpoint: AWS region, partition and endpoint resolution for EC2 and STS, and
 * endpoint-URL parsing (the signer needs the Host header).
 *
 * Pure: the environment arrives through struct endpoint_env (a lookup callback),
 * so tests need no real environment; nothing here touches the network or IMDS.
 * Order (AWS SDK conventions, aws-facts.md §1.1 and §7.1):
 *   region:   AWS_REGION, then AWS_DEFAULT_REGION; else "" and the caller asks IMDS.
 *   EC2 URL:  AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL, AWS_EC2_ENDPOINT (upstream
 *             driver's variable), else https://ec2[-fips].<region>.<dnsSuffix>.
 *   STS URL:  AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else the regional
 *             https://sts[-fips].<region>.<dnsSuffix>.
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true disables the AWS_ENDPOINT_URL* pair.
 * Not here: dual-stack endpoints, the legacy global STS endpoint, the config
 * file's `services` sections. Invariants: every URL handed out has been parsed
 * and validated (http/https, a host, no userinfo, no query); messages name the
 * variable at fault but never echo its value (a URL may carry credentials).
 */
#ifndef EBS_CLOUD_ENDPOINT_H
#define EBS_CLOUD_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"

/* The environment as a lookup: returns the value of name or NULL when unset.
 * The returned string must stay valid for the duration of the call that asked. */
struct endpoint_env {
	const char *(*getenv_fn)(void *ctx, const char *name);
	void *ctx;
};

/* A getenv_fn backed by the process environment (ctx unused), for cmd/. It is
 * the only function here that reads global state; the resolvers never call it
 * themselves. */
const char *endpoint_getenv_process(void *ctx, const char *name);

#define ENDPOINT_REGION_MAX 63

struct endpoint_partition {
	const char *name;        /* "aws", "aws-cn", "aws-us-gov", "aws-iso", ... */
	const char *dns_suffix;  /* "amazonaws.com", "amazonaws.com.cn", ... */
};

/* True for a plausible region name: lower-case letters, digits and '-', starting
 * with a letter, not ending in '-', at most ENDPOINT_REGION_MAX characters. */
bool endpoint_region_valid(const char *region);

/* The partition of region by its prefix (cn-, us-gov-, us-iso-, us-isob-,
 * eu-isoe-, us-isof-, eusc-); "aws" for anything else. Never NULL; static. */
const struct endpoint_partition *endpoint_partition_for_region(const char *region);

/* Writes the region from AWS_REGION or AWS_DEFAULT_REGION (the first that is set
 * and non-empty) into out, or "" when neither is. Returns 0, or -1 with
 * STATUS_INVALID_ARGUMENT naming the variable when its value is not a valid
 * region or does not fit in cap. */
int endpoint_region_from_env(const struct endpoint_env *env, char *out, size_t cap, struct status *st);

/* A parsed endpoint URL; caller-owned, endpoint_url_init/_dispose. */
struct endpoint_url {
	char *scheme;       /* "http" or "https", lower-case */
	char *host;         /* without brackets for IPv6 literals; lower-case */
	unsigned port;      /* explicit or the scheme's default (80/443) */
	bool explicit_port;
	char *path;         /* "/" when the URL had none */
	char *host_header;  /* the Host header value: host[:port], IPv6 in brackets */
};

/* Empties u (no allocation). */
void endpoint_url_init(struct endpoint_url *u);
/* Frees what u owns and leaves it initialised. */
void endpoint_url_dispose(struct endpoint_url *u);

/* Parses scheme://host[:port][/path]. what names the source for messages (e.g.
 * "AWS_ENDPOINT_URL_EC2"). Rejects other schemes, a missing or malformed host,
 * a port outside 1..65535, userinfo ("user:pass@"), a query or fragment, and
 * control characters or spaces. Returns 0, or -1 with STATUS_INVALID_ARGUMENT;
 * out is left initialised on failure. */
int endpoint_url_parse(const char *url, const char *what, struct endpoint_url *out, struct status *st);

/* A resolved endpoint; caller-owned, endpoint_init/_dispose. */
struct endpoint {
	char *url;                  /* e.g. "https://ec2.us-west-2.amazonaws.com" */
	struct endpoint_url parsed;
	char *signing_region;       /* SigV4 credential-scope region */
	const char *signing_service;  /* static: "ec2" or "sts" */
	const char *source;         /* static: the variable used, or "default" */
	const struct endpoint_partition *partition;
	bool fips;
};

/* Empties e (no allocation); call before the first resolve into it. */
void endpoint_init(struct endpoint *e);
/* Frees what e owns and leaves it initialised (reusable). */
void endpoint_dispose(struct endpoint *e);

/* Resolves the EC2 endpoint for region (required, also with an override, as the
 * signing region). AWS_USE_FIPS_ENDPOINT must be "true"/"false" (any case) when
 * set. FIPS: ec2-fips.<region>.amazonaws.com where AWS publishes one (us-east-1,
 * us-east-2, us-west-1, us-west-2, ca-central-1, ca-west-1), the regular
 * endpoint in aws-us-gov (already FIPS), ec2-fips.<region>.<suffix> in the other
 * partitions. Returns 0, or -1 with STATUS_INVALID_ARGUMENT (bad region, bad
 * override URL or boolean, naming the variable) or STATUS_FAILED_PRECONDITION
 * (FIPS asked in an aws-partition region without a FIPS endpoint). out must be
 * initialised; what it held is freed; on failure it is left empty. */
int endpoint_resolve_ec2(const char *region, const struct endpoint_env *env, struct endpoint *out,
			 struct status *st);

/* Resolves the regional STS endpoint; FIPS: sts-fips.<region>.amazonaws.com in
 * us-east-1/2 and us-west-1/2, the regular endpoint in aws-us-gov. Same return
 * values and codes as endpoint_resolve_ec2. */
int endpoint_resolve_sts(const char *region, const struct endpoint_env *env, struct endpoint *out,
			 struct status *st);

#endif
