/*
 * imds: an EC2 instance metadata (IMDSv2) client that returns plain data.
 *
 * Session token: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds,
 * cached and refreshed a minute (or a tenth of the TTL) before it expires, sent
 * as X-aws-ec2-metadata-token; a 401 drops it and fetches a new one once.
 * IMDSv1 (no token) is used only when the token call answers 403, 404 or 405 or
 * times out, as the AWS SDKs do (aws-facts.md §6.1): 403/404/405 come from
 * metadata services and proxies that do not implement or allow the PUT, and a
 * timeout is what a container sees when the PUT response's hop limit (1) drops
 * it while plain GETs still arrive. Anything else (400, 5xx, refused, a
 * malformed token) is an error: falling back would hide a broken IMDS or
 * downgrade a deliberate IMDSv2-only setup. AWS_EC2_METADATA_V1_DISABLED=true
 * forbids the fallback; a v1 decision is remembered for five minutes.
 * Environment (read once, at imds_new): AWS_EC2_METADATA_DISABLED=true (no
 * request is ever made), AWS_EC2_METADATA_SERVICE_ENDPOINT (default
 * http://169.254.169.254), AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6.
 * Each attempt has a short timeout (1 s), a few attempts are made, and nothing
 * waits past the caller's deadline. Not here: the Kubernetes Node fallback
 * (cmd/), credentials parsing (cloud/creds). Thread-safe; tokens never appear
 * in messages or logs.
 */
#ifndef EBS_CLOUD_IMDS_H
#define EBS_CLOUD_IMDS_H

#include <stdbool.h>
#include <stdint.h>

#include "cloud/endpoint.h"
#include "cloud/http.h"
#include "common/buf.h"
#include "common/instance_info.h"
#include "common/status.h"

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_DEFAULT_ENDPOINT_IPV6 "http://[fd00:ec2::254]"
#define IMDS_DEFAULT_TIMEOUT_MS 1000L
#define IMDS_DEFAULT_ATTEMPTS 3
#define IMDS_DEFAULT_TOKEN_TTL_S 21600
#define IMDS_MAX_BODY (64 * 1024)

struct imds_options {
	struct http_client *http;         /* required; borrowed, must outlive the client */
	const struct endpoint_env *env;   /* required; consulted only inside imds_new */
	long timeout_ms;                  /* per attempt; 0 -> IMDS_DEFAULT_TIMEOUT_MS */
	int attempts;                     /* per call; 0 -> IMDS_DEFAULT_ATTEMPTS */
	int token_ttl_s;                  /* 0 -> IMDS_DEFAULT_TOKEN_TTL_S */
	/* Monotonic clock in ms for token expiry (tests); NULL -> rpc_now_ms. */
	int64_t (*now_ms)(void *ctx);
	void *clock_ctx;
};

struct imds_client;

/* Returns a new client (imds_free), or NULL with STATUS_INVALID_ARGUMENT when
 * an IMDS variable is malformed (named, value not echoed). A disabled IMDS
 * still gives a client: its calls fail with STATUS_UNAVAILABLE. */
struct imds_client *imds_new(const struct imds_options *o, struct status *st);
void imds_free(struct imds_client *c);

/* True when AWS_EC2_METADATA_DISABLED=true. */
bool imds_disabled(const struct imds_client *c);

/* GETs /latest/<path> ("meta-data/instance-id", "dynamic/instance-identity/
 * document", "meta-data/iam/security-credentials/") into out (initialised by
 * the caller, replaced; bodies are received with wiping growth, so a caller
 * fetching credentials only has to wipe out when done). Returns 0 on HTTP 200, else -1 with:
 *   STATUS_UNAVAILABLE       disabled, unreachable, 5xx/429 after the attempts
 *   STATUS_DEADLINE_EXCEEDED the deadline ran out
 *   STATUS_NOT_FOUND         404 (the item does not exist on this instance)
 *   STATUS_PERMISSION_DENIED 403; STATUS_UNAUTHENTICATED 401 after a fresh token
 *   STATUS_FAILED_PRECONDITION the token call was rejected (400), or v1 needed
 *                            but disabled
 *   STATUS_INVALID_ARGUMENT  path is not a plain relative path
 * deadline_ms is CLOCK_MONOTONIC ms (RPC_NO_DEADLINE for none). */
int imds_get(struct imds_client *c, const char *path, int64_t deadline_ms, struct buf *out, struct status *st);

/* Fills out with the instance's identity: instance-id, instance-type,
 * placement/region and placement/availability-zone (from the identity document
 * when a path is missing or malformed), placement/availability-zone-id ("" on
 * 404), outpost-arn ("" on 404: not an Outpost), the number of entries under
 * network/interfaces/macs/ (0 on 404), and the EBS block-device mappings (the
 * root, counted once for "ami"/"root", plus every "ebsN"; ephemeralN and swap
 * excluded; -1 on 404). Returns 0, or -1 with imds_get's codes, or
 * STATUS_INTERNAL naming the item when IMDS returned malformed data. out is
 * always initialised. */
int imds_get_instance_info(struct imds_client *c, int64_t deadline_ms, struct instance_info *out,
			   struct status *st);

/* Parsers behind imds_get_instance_info, exposed for tests. Each returns the
 * count, or -1 when a line is malformed. */
int imds_count_macs(const char *listing);
int imds_count_ebs_mappings(const char *listing);

#endif
