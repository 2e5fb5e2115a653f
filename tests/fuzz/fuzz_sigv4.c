/*
 * fuzz_sigv4: SigV4 canonicalisation (cloud/sigv4.h) of arbitrary methods,
 * paths, queries, headers and payloads, with a sign → verify round trip.
 *
 * Input: one flags byte, then NUL-separated fields: method, path, query,
 * payload, then header name/value pairs to the end.
 *   flags bit 0 normalize_path, bit 1 sign_content_sha256, bit 2 a session
 *   token, bit 3 presigned-query mode, bit 4 omit_session_token; flags with
 *   the top three bits set (>= 0xE0) select the parser mode instead: the rest
 *   is an Authorization value for sigv4_auth_parse, and an X-Amz-Date for
 *   sigv4_parse_amz_date, and a parsed header is verified against a fixed
 *   request (must fail cleanly, never crash).
 * Oracle: a request the signer accepts (header mode, normalised path as for
 * every service but S3) must verify with the headers it added, as a server would receive it — the simulator relies on
 * exactly that. Input headers the signer replaces (Authorization,
 * X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-Sha256) are dropped first,
 * as a client re-signing a request does.
 */
#include "tests/fuzz/fuzz_util.h"

#include "cloud/sigv4.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
#define T0 ((time_t)1440938160) /* 20150830T123600Z */
#define MAX_HEADERS 24

static int parser_mode(struct fz *f)
{
	char *value = fz_str(f, NULL);
	char *date = fz_str(f, NULL);
	struct sigv4_auth auth;
	struct status st = STATUS_INIT;
	time_t t;
	(void)sigv4_parse_amz_date(date, &t, &st);
	if (sigv4_auth_parse(value, &auth, &st) == 0) {
		/* Bounded, NUL-terminated parts. */
		if (!memchr(auth.access_key_id, 0, sizeof auth.access_key_id) ||
		    !memchr(auth.signed_headers, 0, sizeof auth.signed_headers) ||
		    !memchr(auth.signature, 0, sizeof auth.signature))
			abort();
		struct sigv4_header h[] = { { "Host", "example.amazonaws.com" },
					    { "X-Amz-Date", date },
					    { "Authorization", value } };
		struct sigv4_request req = { .method = "POST", .path = "/", .query = "", .headers = h,
					     .n_headers = 3, .payload = "Action=DescribeVolumes",
					     .payload_len = 22 };
		const char *code = NULL;
		st = (struct status)STATUS_INIT;
		if (sigv4_verify(&req, &auth, SECRET, T0, 300, &code, &st) == 0) {
			/* Only a correct signature over this request verifies: the
			 * fuzzer cannot forge HMAC-SHA256, so success is a bug. */
			fprintf(stderr, "forged signature verified: %s\n", value);
			abort();
		}
		if (st.code != STATUS_UNAUTHENTICATED || code == NULL)
			abort();
	} else if (st.code != STATUS_UNAUTHENTICATED) {
		abort();
	}
	free(value);
	free(date);
	return 0;
}

static bool replaced_by_signer(const char *name)
{
	return strcasecmp(name, "authorization") == 0 || strcasecmp(name, "x-amz-date") == 0 ||
	       strcasecmp(name, "x-amz-security-token") == 0 || strcasecmp(name, "x-amz-content-sha256") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t flags = fz_byte(&f);
	if (flags >= 0xE0)
		return parser_mode(&f);

	char *method = fz_str(&f, NULL);
	char *path = fz_str(&f, NULL);
	char *query = fz_str(&f, NULL);
	size_t payload_len;
	char *payload = fz_str(&f, &payload_len);
	char *owned[2 * MAX_HEADERS];
	size_t n_owned = 0;
	struct sigv4_header h[MAX_HEADERS + 1 + SIGV4_MAX_OUT_HEADERS];
	size_t nh = 0;
	while (f.n > 0 && n_owned < 2 * MAX_HEADERS) {
		char *name = fz_str(&f, NULL);
		char *value = fz_str(&f, NULL);
		owned[n_owned++] = name;
		owned[n_owned++] = value;
		if (!replaced_by_signer(name))
			h[nh++] = (struct sigv4_header){ name, value };
	}

	struct sigv4_request req = { .method = method, .path = path, .query = query, .headers = h,
				     .n_headers = nh, .payload = payload, .payload_len = payload_len };
	struct sigv4_credentials cred = { AKID, SECRET, (flags & 4) ? TOKEN : NULL };
	struct sigv4_params p = { .region = "us-east-1", .service = "ec2", .time = T0,
				  .normalize_path = flags & 1, .sign_content_sha256 = flags & 2,
				  .omit_session_token = flags & 16, .presign_expires = (flags & 8) ? 300 : 0 };
	struct sigv4_result r;
	sigv4_result_init(&r);
	struct status st = STATUS_INIT;
	if (sigv4_sign(&req, &cred, &p, &r, &st) != 0) {
		if (st.code != STATUS_INVALID_ARGUMENT && st.code != STATUS_INTERNAL)
			abort();
	} else if (r.authorization != NULL && p.normalize_path) {
		/* Header mode: what a server receives is the request plus the
		 * headers the signer asked for. sigv4_verify always normalises the
		 * path (it serves EC2, which does): an unnormalised signature
		 * (S3's rule) is not expected to verify. */
		struct sigv4_request rx = req;
		for (size_t i = 0; i < r.n_add; i++)
			h[nh + i] = (struct sigv4_header){ r.add[i].name, r.add[i].value };
		rx.n_headers = nh + r.n_add;
		struct sigv4_auth auth;
		struct status st2 = STATUS_INIT;
		if (strlen(r.signed_headers) < sizeof auth.signed_headers) {
			if (sigv4_auth_parse(r.authorization, &auth, &st2) != 0) {
				fprintf(stderr, "own Authorization does not parse: %s: %s\n", r.authorization, st2.msg);
				abort();
			}
			const char *code = NULL;
			if (sigv4_verify(&rx, &auth, SECRET, T0, 300, &code, &st2) != 0) {
				fprintf(stderr, "signed request does not verify (%s): %s\ncanonical request:\n%s\n",
					code ? code : "?", st2.msg, r.canonical_request);
				abort();
			}
		}
	} else if (r.authorization == NULL && r.presigned_query == NULL) {
		abort(); /* neither mode produced anything */
	}
	sigv4_result_dispose(&r);
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	free(method);
	free(path);
	free(query);
	free(payload);
	return 0;
}
