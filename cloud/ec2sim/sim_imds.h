/*
 * sim_imds: the instance metadata service (IMDSv2, aws-facts.md §6) for the
 * --imds-instance: PUT /latest/api/token, /latest/meta-data/… (instance-id,
 * instance-type, placement/…, mac, network/interfaces/macs/…,
 * block-device-mapping/…, services/…, iam/… with --imds-role; outpost-arn is
 * 404 as on a non-Outpost instance) and /latest/dynamic/instance-identity/document.
 *
 * Tokens are stateless: "<expiry>.<HMAC-SHA256(state key, instance|expiry)>",
 * with the key kept in the state file, so a token outlives a restart of the
 * simulator exactly as long as its TTL says. GETs without a token are 401
 * unless --imds-v1; a PUT with X-Forwarded-For is 403; a bad TTL 400.
 */
#ifndef EBS_EC2SIM_SIM_IMDS_H
#define EBS_EC2SIM_SIM_IMDS_H

#include <stdint.h>

#include "cloud/ec2sim/sim.h"
#include "cloud/ec2sim/sim_auth.h"
#include "common/buf.h"

struct sim_imds_reply {
	int status;
	const char *content_type;   /* static */
	char ttl_header[16];        /* non-empty: X-aws-ec2-metadata-token-ttl-seconds to send */
	struct buf body;
};

/* Answers one IMDS request (path starts with "/latest/"); now in ms. reply
 * must be initialised with sim_imds_reply_init and disposed by the caller. */
void sim_imds_handle(struct sim *s, const struct sim_http_req *r, int64_t now, struct sim_imds_reply *reply);
void sim_imds_reply_init(struct sim_imds_reply *r);
void sim_imds_reply_dispose(struct sim_imds_reply *r);

/* Token helpers (pure, for tests): make a token valid until expiry_s for
 * instance_id with key (hex); check one at now_s. */
void sim_imds_token_make(const char *key, const char *instance_id, int64_t expiry_s, char *out, size_t cap);
bool sim_imds_token_valid(const char *key, const char *instance_id, const char *token, int64_t now_s);

#endif
