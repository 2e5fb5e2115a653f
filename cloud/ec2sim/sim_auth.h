/*
 * sim_auth: SigV4 verification of an incoming EC2 request against the
 * configured credentials, answering with EC2's codes: no Authorization →
 * 401 MissingAuthenticationToken, malformed → 400 IncompleteSignature, an
 * access key we do not know or a wrong session token → 401 AuthFailure, a
 * credential scope for another region or service or a bad signature → 403
 * SignatureDoesNotMatch, a clock skew beyond --max-skew-s → 400 RequestExpired.
 *
 * Pure apart from the time passed in: the cryptography is cloud/sigv4's
 * verifier. Messages never contain the secret or the expected signature.
 */
#ifndef EBS_EC2SIM_SIM_AUTH_H
#define EBS_EC2SIM_SIM_AUTH_H

#include <stddef.h>
#include <time.h>

#include "cloud/ec2sim/sim_config.h"
#include "cloud/ec2sim/sim_xml.h"
#include "cloud/sigv4.h"

/* An HTTP request as received (everything borrowed). */
struct sim_http_req {
	const char *method;
	const char *path;
	const char *query;  /* "" when none */
	const struct sigv4_header *headers;
	size_t n_headers;
	const char *body;
	size_t body_len;
};

/* The value of header name (case-insensitive), or NULL. */
const char *sim_http_header(const struct sim_http_req *r, const char *name);

/* Returns 0 when r is signed by cfg's credentials for cfg's region and
 * service "ec2"; otherwise -1 with e set as described above. */
int sim_auth_check(const struct sim_config *cfg, const struct sim_http_req *r, time_t now, struct sim_err *e);

#endif
