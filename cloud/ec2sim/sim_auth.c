/*
 * sim_auth: SigV4 verification for the EC2 endpoint. See sim_auth.h.
 */
#include "cloud/ec2sim/sim_auth.h"

#include <string.h>
#include <strings.h>

const char *sim_http_header(const struct sim_http_req *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (r->headers[i].name != NULL && strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value ? r->headers[i].value : "";
	return NULL;
}

int sim_auth_check(const struct sim_config *cfg, const struct sim_http_req *r, time_t now, struct sim_err *e)
{
	const char *authz = sim_http_header(r, "Authorization");
	if (authz == NULL || *authz == '\0')
		return sim_err_set(e, 401, "MissingAuthenticationToken", "Request is missing Authentication Token");
	struct sigv4_auth auth;
	struct status st = STATUS_INIT;
	if (sigv4_auth_parse(authz, &auth, &st) != 0)
		return sim_err_set(e, 400, "IncompleteSignature", "%s", st.msg);
	if (strcmp(auth.access_key_id, cfg->access_key) != 0)
		return sim_err_set(e, 401, "AuthFailure", "AWS was not able to validate the provided access credentials");
	if (strcmp(auth.service, "ec2") != 0)
		return sim_err_set(e, 403, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'ec2'.");
	if (strcmp(auth.region, cfg->region) != 0)
		return sim_err_set(e, 403, "SignatureDoesNotMatch",
				   "Credential should be scoped to a valid region, not '%s'.", auth.region);
	if (cfg->session_token != NULL) {
		const char *tok = sim_http_header(r, "X-Amz-Security-Token");
		if (tok == NULL || !sigv4_ct_equal(tok, strlen(tok), cfg->session_token, strlen(cfg->session_token)))
			return sim_err_set(e, 401, "AuthFailure",
					   "AWS was not able to validate the provided access credentials");
	}
	struct sigv4_request req = {
		.method = r->method,
		.path = r->path,
		.query = r->query,
		.headers = r->headers,
		.n_headers = r->n_headers,
		.payload = r->body,
		.payload_len = r->body_len,
	};
	const char *code = NULL;
	if (sigv4_verify(&req, &auth, cfg->secret_key, now, cfg->max_skew_s, &code, &st) != 0) {
		if (code != NULL && strcmp(code, "SignatureDoesNotMatch") == 0)
			return sim_err_set(e, 403, code,
					   "The request signature we calculated does not match the signature you "
					   "provided. Check your AWS Secret Access Key and signing method.");
		return sim_err_set(e, 400, code ? code : "IncompleteSignature", "%s", st.msg);
	}
	return 0;
}
