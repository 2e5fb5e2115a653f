/*
 * sigv4: AWS Signature Version 4 signing and verification. See sigv4.h.
 *
 * The canonical request is built in one place (build_canonical) for signing,
 * presigning and verification, so the three cannot drift apart. Spec: IAM User
 * Guide "Create a signed AWS API request" (reference_sigv-create-signed-request)
 * and the two AWS test suites in tests/fixtures/sigv4, which this reproduces.
 *
 * Not here: deciding which headers to sign (the caller's list is signed as is),
 * S3's unnormalised/single-encoded paths beyond the normalize_path switch, and
 * any I/O. Invariants: key material ("AWS4"+secret, kDate … kSigning) exists
 * only in stack buffers wiped with OPENSSL_cleanse on every path; status
 * messages name fields, never their secret values; all output strings are heap
 * copies owned by struct sigv4_result.
 */
#include "cloud/sigv4.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char hexdigits[] = "0123456789abcdef";

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char hex[SIGV4_HEX_LEN + 1])
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	/* EVP_Digest on SHA-256 fails only on allocation failure inside libcrypto,
	 * which we treat like xmalloc does: fatal. */
	if (EVP_Digest(data != NULL ? data : "", len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		abort();
	hex_encode(md, 32, hex);
}

static int hmac(const uint8_t *key, size_t keylen, const void *msg, size_t msglen, uint8_t out[32],
		struct status *st)
{
	unsigned int outlen = 0;
	if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &outlen) == NULL || outlen != 32)
		return status_set(st, STATUS_INTERNAL, "sigv4: HMAC-SHA256 failed in libcrypto");
	return 0;
}

bool sigv4_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return false;
	if (alen == 0)
		return true;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

int sigv4_signing_key(const char *secret, const char *date8, const char *region, const char *service,
		      uint8_t key[SIGV4_KEY_LEN], struct status *st)
{
	if (secret == NULL || *secret == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: secret access key is empty");
	if (date8 == NULL || strlen(date8) != 8)
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: scope date must be YYYYMMDD");
	if (region == NULL || *region == '\0' || service == NULL || *service == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: region and service are required");

	size_t slen = strlen(secret);
	uint8_t *k0 = xmalloc(slen + 4);
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	uint8_t kdate[32], kregion[32], kservice[32];
	int rc = -1;
	if (hmac(k0, slen + 4, date8, 8, kdate, st) == 0 &&
	    hmac(kdate, 32, region, strlen(region), kregion, st) == 0 &&
	    hmac(kregion, 32, service, strlen(service), kservice, st) == 0 &&
	    hmac(kservice, 32, "aws4_request", 12, key, st) == 0)
		rc = 0;
	OPENSSL_cleanse(k0, slen + 4);
	free(k0);
	OPENSSL_cleanse(kdate, sizeof kdate);
	OPENSSL_cleanse(kregion, sizeof kregion);
	OPENSSL_cleanse(kservice, sizeof kservice);
	if (rc != 0)
		OPENSSL_cleanse(key, SIGV4_KEY_LEN);
	return rc;
}

int sigv4_format_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1], struct status *st)
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999)
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: signing time is out of range");
	if (strftime(out, SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != SIGV4_AMZ_DATE_LEN)
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: signing time is out of range");
	return 0;
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int sigv4_parse_amz_date(const char *s, time_t *t, struct status *st)
{
	if (s == NULL || strlen(s) != SIGV4_AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: X-Amz-Date must be YYYYMMDDTHHMMSSZ");
	int y = digits(s, 4), mo = digits(s + 4, 2), d = digits(s + 6, 2);
	int h = digits(s + 9, 2), mi = digits(s + 11, 2), se = digits(s + 13, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
	    se > 60)
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: X-Amz-Date is not a valid time");
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi,
			 .tm_sec = se };
	*t = timegm(&tm);
	/* timegm normalises 31 February into March; a round trip catches it. */
	char back[SIGV4_AMZ_DATE_LEN + 1];
	if (sigv4_format_amz_date(*t, back, NULL) != 0 || (se != 60 && strcmp(back, s) != 0))
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: X-Amz-Date is not a valid time");
	return 0;
}

/* ---- encoding ------------------------------------------------------------ */

static bool is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* RFC 3986 percent-encoding of everything but the unreserved set (and '/'
 * when keep_slash), with upper-case hex as SigV4 requires. */
static void uri_encode(struct buf *b, const char *s, size_t n, bool keep_slash)
{
	static const char upper[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			buf_putc(b, (char)c);
		} else {
			char esc[3] = { '%', upper[c >> 4], upper[c & 15] };
			buf_append(b, esc, 3);
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX escapes; a malformed escape stays literal. '+' stays '+': this is
 * a URI query, not a form body. */
static void percent_decode(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
			buf_putc(b, (char)(hi * 16 + lo));
			i += 2;
		} else {
			buf_putc(b, s[i]);
		}
	}
}

/* ---- canonical URI ------------------------------------------------------- */

/* Canonical URI: the path's segments URI-encoded (so an already-encoded path
 * is encoded a second time, the rule for every service but S3). With normalise,
 * empty and "." segments are dropped and ".." removes the previous segment (the
 * suite's normalize-path cases); a trailing '/' survives when the path had one
 * and something is left. */
static void canonical_uri(struct buf *out, const char *path, bool normalize)
{
	if (path == NULL || *path == '\0') {
		buf_putc(out, '/');
		return;
	}
	if (!normalize) {
		uri_encode(out, path, strlen(path), true);
		return;
	}
	size_t plen = strlen(path);
	/* Stack of kept segments as (offset, length) into path. */
	size_t cap = plen / 2 + 2, n = 0;
	size_t(*seg)[2] = xmalloc(cap * sizeof *seg);
	size_t i = 0;
	while (i <= plen) {
		size_t j = i;
		while (j < plen && path[j] != '/')
			j++;
		size_t len = j - i;
		if (len == 0 || (len == 1 && path[i] == '.')) {
			/* dropped */
		} else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (n > 0)
				n--;
		} else {
			seg[n][0] = i;
			seg[n][1] = len;
			n++;
		}
		i = j + 1;
	}
	buf_putc(out, '/');
	for (size_t k = 0; k < n; k++) {
		if (k > 0)
			buf_putc(out, '/');
		uri_encode(out, path + seg[k][0], seg[k][1], false);
	}
	if (n > 0 && path[plen - 1] == '/')
		buf_putc(out, '/');
	free(seg);
}

/* ---- canonical query ----------------------------------------------------- */

struct qpair {
	char *key;    /* encoded */
	char *value;  /* encoded */
};

struct qlist {
	struct qpair *v;
	size_t n, cap;
};

static void qlist_add_encoded(struct qlist *q, const char *k, size_t klen, const char *v, size_t vlen)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 8;
		q->v = xrealloc(q->v, q->cap * sizeof *q->v);
	}
	struct buf b;
	buf_init(&b);
	uri_encode(&b, k, klen, false);
	q->v[q->n].key = buf_take(&b);
	uri_encode(&b, v, vlen, false);
	q->v[q->n].value = buf_take(&b);
	buf_dispose(&b);
	q->n++;
}

/* Adds the pairs of a raw query string: decoded first, so that "%E1%88%B4"
 * and the raw UTF-8 bytes canonicalise alike; a key without '=' gets "". */
static void qlist_add_raw(struct qlist *q, const char *query)
{
	if (query == NULL)
		return;
	const char *p = query;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > 0) {
			const char *eq = memchr(p, '=', len);
			size_t klen = eq ? (size_t)(eq - p) : len;
			struct buf k, v;
			buf_init(&k);
			buf_init(&v);
			percent_decode(&k, p, klen);
			if (eq)
				percent_decode(&v, eq + 1, len - klen - 1);
			qlist_add_encoded(q, k.data, k.len, v.data, v.len);
			buf_dispose(&k);
			buf_dispose(&v);
		}
		p += len;
		if (*p == '&')
			p++;
	}
}

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c != 0 ? c : strcmp(x->value, y->value);
}

static void qlist_emit(struct qlist *q, struct buf *out)
{
	if (q->n > 1)  /* qsort(NULL, 0, …) is undefined behaviour */
		qsort(q->v, q->n, sizeof *q->v, qpair_cmp);
	for (size_t i = 0; i < q->n; i++) {
		if (i > 0)
			buf_putc(out, '&');
		buf_puts(out, q->v[i].key);
		buf_putc(out, '=');
		buf_puts(out, q->v[i].value);
	}
}

static void qlist_dispose(struct qlist *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->v[i].key);
		free(q->v[i].value);
	}
	free(q->v);
	q->v = NULL;
	q->n = q->cap = 0;
}

/* ---- canonical headers --------------------------------------------------- */

struct hdr {
	char *name;    /* lower-case */
	char *value;   /* trimmed, whitespace runs collapsed */
	size_t order;  /* input position: duplicates join in order */
};

struct hlist {
	struct hdr *v;
	size_t n, cap;
};

static bool is_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hlist_add(struct hlist *h, const char *name, const char *value, struct status *st)
{
	if (name == NULL || *name == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: empty header name");
	for (const char *p = name; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: invalid character in header name");
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 8;
		h->v = xrealloc(h->v, h->cap * sizeof *h->v);
	}
	char *lname = xstrdup(name);
	for (char *p = lname; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* Trim and collapse: an obs-fold (CRLF + indentation) counts as whitespace,
	 * so a multi-line value folds into one line with single spaces. */
	struct buf v;
	buf_init(&v);
	bool pending_space = false;
	for (const char *p = value ? value : ""; *p; p++) {
		if (is_ws(*p)) {
			pending_space = v.len > 0;
			continue;
		}
		if (pending_space)
			buf_putc(&v, ' ');
		pending_space = false;
		buf_putc(&v, *p);
	}
	h->v[h->n].name = lname;
	h->v[h->n].value = buf_take(&v);
	h->v[h->n].order = h->n;
	buf_dispose(&v);
	h->n++;
	return 0;
}

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts by name (stable) and writes "name:v1,v2\n" lines and "a;b;c". */
static void hlist_emit(struct hlist *h, struct buf *canon, struct buf *signed_list)
{
	if (h->n > 1)
		qsort(h->v, h->n, sizeof *h->v, hdr_cmp);
	for (size_t i = 0; i < h->n; i++) {
		bool same = i > 0 && strcmp(h->v[i].name, h->v[i - 1].name) == 0;
		if (same) {
			buf_putc(canon, ',');
		} else {
			if (i > 0) {
				buf_putc(canon, '\n');
				buf_putc(signed_list, ';');
			}
			buf_puts(canon, h->v[i].name);
			buf_putc(canon, ':');
			buf_puts(signed_list, h->v[i].name);
		}
		buf_puts(canon, h->v[i].value);
	}
	if (h->n > 0)
		buf_putc(canon, '\n');
}

static void hlist_dispose(struct hlist *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

static const struct hdr *hlist_find(const struct hlist *h, const char *lname)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].name, lname) == 0)
			return &h->v[i];
	return NULL;
}

/* ---- canonical request, string to sign, signature ------------------------ */

static void build_canonical(const char *method, const char *path, bool normalize, struct qlist *q,
			    struct hlist *h, const char *payload_hash, struct buf *creq, struct buf *signed_list)
{
	buf_puts(creq, method);
	buf_putc(creq, '\n');
	canonical_uri(creq, path, normalize);
	buf_putc(creq, '\n');
	qlist_emit(q, creq);
	buf_putc(creq, '\n');
	hlist_emit(h, creq, signed_list);
	buf_putc(creq, '\n');
	buf_puts(creq, signed_list->data);
	buf_putc(creq, '\n');
	buf_puts(creq, payload_hash);
}

static void build_string_to_sign(const char *amz_date, const char *scope, const char *creq, size_t creq_len,
				 struct buf *sts)
{
	char hash[SIGV4_HEX_LEN + 1];
	sigv4_sha256_hex(creq, creq_len, hash);
	buf_puts(sts, SIGV4_ALGORITHM "\n");
	buf_puts(sts, amz_date);
	buf_putc(sts, '\n');
	buf_puts(sts, scope);
	buf_putc(sts, '\n');
	buf_puts(sts, hash);
}

static int compute_signature(const char *secret, const char *date8, const char *region, const char *service,
			     const char *sts, size_t sts_len, char sig[SIGV4_HEX_LEN + 1], struct status *st)
{
	uint8_t key[SIGV4_KEY_LEN], mac[32];
	if (sigv4_signing_key(secret, date8, region, service, key, st) != 0)
		return -1;
	int rc = hmac(key, sizeof key, sts, sts_len, mac, st);
	OPENSSL_cleanse(key, sizeof key);
	if (rc == 0)
		hex_encode(mac, 32, sig);
	OPENSSL_cleanse(mac, sizeof mac);
	return rc;
}

static bool valid_hex64(const char *s)
{
	if (s == NULL || strlen(s) != SIGV4_HEX_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (hexval(*p) < 0 || (*p >= 'A' && *p <= 'F'))
			return false;
	return true;
}

/* Scope parts go between '/' in the credential: keep them to a safe alphabet. */
static bool valid_scope_part(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > SIGV4_SCOPE_PART_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return true;
}

/* Credentials end up in header values the transport sends verbatim: a space,
 * CR or LF in them would let a hostile credential source inject headers. */
static bool token_chars_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool is_reserved_header(const char *name)
{
	return strcasecmp(name, "authorization") == 0 || strcasecmp(name, "x-amz-date") == 0 ||
	       strcasecmp(name, "x-amz-security-token") == 0 || strcasecmp(name, "x-amz-content-sha256") == 0;
}

void sigv4_result_init(struct sigv4_result *r)
{
	memset(r, 0, sizeof *r);
}

void sigv4_result_dispose(struct sigv4_result *r)
{
	free(r->canonical_request);
	free(r->string_to_sign);
	free(r->signed_headers);
	free(r->authorization);
	free(r->presigned_query);
	for (size_t i = 0; i < r->n_add; i++)
		free(r->add[i].value);
	sigv4_result_init(r);
}

static void add_out_header(struct sigv4_result *r, const char *name, const char *value)
{
	r->add[r->n_add].name = name;
	r->add[r->n_add].value = xstrdup(value);
	r->n_add++;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *cred,
	       const struct sigv4_params *params, struct sigv4_result *out, struct status *st)
{
	sigv4_result_dispose(out);
	if (req == NULL || req->method == NULL || *req->method == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: method is required");
	if (cred == NULL || cred->access_key_id == NULL || *cred->access_key_id == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: access key id is required");
	if (strlen(cred->access_key_id) > SIGV4_AKID_MAX || strchr(cred->access_key_id, '/') != NULL ||
	    !token_chars_ok(cred->access_key_id))
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: malformed access key id");
	if (cred->session_token != NULL && !token_chars_ok(cred->session_token))
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: session token contains spaces or control characters");
	if (cred->secret_access_key == NULL || *cred->secret_access_key == '\0')
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: secret access key is required");
	if (params == NULL || !valid_scope_part(params->region))
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: invalid or missing region");
	if (!valid_scope_part(params->service))
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: invalid or missing service");
	if (req->payload_hash != NULL && !valid_hex64(req->payload_hash))
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: payload hash must be 64 lowercase hex digits");
	if (req->payload == NULL && req->payload_len > 0)
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: payload is NULL but has a length");
	/* AWS rejects presigned URLs valid for more than seven days. */
	if (params->presign_expires > 604800)
		return status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: presign expiry exceeds 604800 seconds");

	if (sigv4_format_amz_date(params->time, out->amz_date, st) != 0)
		return -1;
	char date8[9];
	memcpy(date8, out->amz_date, 8);
	date8[8] = '\0';

	const char *token = cred->session_token != NULL && *cred->session_token ? cred->session_token : NULL;
	bool presign = params->presign_expires > 0;
	char payload_hash[SIGV4_HEX_LEN + 1];
	if (req->payload_hash != NULL)
		memcpy(payload_hash, req->payload_hash, sizeof payload_hash);
	else
		sigv4_sha256_hex(req->payload, req->payload_len, payload_hash);

	struct hlist h = { 0 };
	struct qlist q = { 0 };
	struct buf creq, signed_list, sts, scope, tmp;
	buf_init(&creq);
	buf_init(&signed_list);
	buf_init(&sts);
	buf_init(&scope);
	buf_init(&tmp);
	int rc = -1;

	bool have_host = false;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *hd = &req->headers[i];
		if (hd->name != NULL && is_reserved_header(hd->name))
			continue;
		if (hlist_add(&h, hd->name, hd->value, st) != 0)
			goto done;
		if (strcmp(h.v[h.n - 1].name, "host") == 0)
			have_host = true;
	}
	if (!have_host) {
		status_set(st, STATUS_INVALID_ARGUMENT, "sigv4: the request has no Host header");
		goto done;
	}
	buf_printf(&scope, "%s/%s/%s/aws4_request", date8, params->region, params->service);
	qlist_add_raw(&q, req->query);

	if (presign) {
		/* Query mode: the auth parameters are part of the canonical query and
		 * X-Amz-Date is not a header. The signed-header list is known only after
		 * sorting, so emit the headers once into scratch buffers first. */
		struct buf scratch;
		buf_init(&scratch);
		hlist_emit(&h, &scratch, &tmp);
		buf_dispose(&scratch);
		char expires[32];
		snprintf(expires, sizeof expires, "%ld", params->presign_expires);
		struct buf cred_s;
		buf_init(&cred_s);
		buf_printf(&cred_s, "%s/%s", cred->access_key_id, scope.data);
		qlist_add_encoded(&q, "X-Amz-Algorithm", 15, SIGV4_ALGORITHM, strlen(SIGV4_ALGORITHM));
		qlist_add_encoded(&q, "X-Amz-Credential", 16, cred_s.data, cred_s.len);
		qlist_add_encoded(&q, "X-Amz-Date", 10, out->amz_date, SIGV4_AMZ_DATE_LEN);
		qlist_add_encoded(&q, "X-Amz-Expires", 13, expires, strlen(expires));
		if (token != NULL && !params->omit_session_token)
			qlist_add_encoded(&q, "X-Amz-Security-Token", 20, token, strlen(token));
		qlist_add_encoded(&q, "X-Amz-SignedHeaders", 19, tmp.data, tmp.len);
		buf_dispose(&cred_s);
		buf_reset(&tmp);
	} else {
		hlist_add(&h, "X-Amz-Date", out->amz_date, NULL);
		if (token != NULL && !params->omit_session_token)
			hlist_add(&h, "X-Amz-Security-Token", token, NULL);
		if (params->sign_content_sha256)
			hlist_add(&h, "X-Amz-Content-Sha256", payload_hash, NULL);
	}

	build_canonical(req->method, req->path, params->normalize_path, &q, &h, payload_hash, &creq, &signed_list);
	build_string_to_sign(out->amz_date, scope.data, creq.data, creq.len, &sts);
	if (compute_signature(cred->secret_access_key, date8, params->region, params->service, sts.data, sts.len,
			      out->signature, st) != 0)
		goto done;

	out->canonical_request = buf_take(&creq);
	out->string_to_sign = buf_take(&sts);
	out->signed_headers = xstrdup(signed_list.data);
	if (presign) {
		buf_reset(&tmp);
		qlist_emit(&q, &tmp);  /* already sorted: the canonical query */
		buf_printf(&tmp, "&X-Amz-Signature=%s", out->signature);
		if (token != NULL && params->omit_session_token) {
			buf_puts(&tmp, "&X-Amz-Security-Token=");
			uri_encode(&tmp, token, strlen(token), false);
		}
		out->presigned_query = buf_take(&tmp);
	} else {
		buf_reset(&tmp);
		buf_printf(&tmp, SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
			   cred->access_key_id, scope.data, signed_list.data, out->signature);
		out->authorization = buf_take(&tmp);
		add_out_header(out, "X-Amz-Date", out->amz_date);
		if (token != NULL)
			add_out_header(out, "X-Amz-Security-Token", token);
		if (params->sign_content_sha256)
			add_out_header(out, "X-Amz-Content-Sha256", payload_hash);
		add_out_header(out, "Authorization", out->authorization);
	}
	rc = 0;
done:
	hlist_dispose(&h);
	qlist_dispose(&q);
	buf_dispose(&creq);
	buf_dispose(&signed_list);
	buf_dispose(&sts);
	buf_dispose(&scope);
	buf_dispose(&tmp);
	if (rc != 0)
		sigv4_result_dispose(out);
	return rc;
}

/* ---- verification -------------------------------------------------------- */

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int sigv4_auth_parse(const char *value, struct sigv4_auth *out, struct status *st)
{
	memset(out, 0, sizeof *out);
	static const char prefix[] = SIGV4_ALGORITHM " ";
	if (value == NULL || strncmp(value, prefix, sizeof prefix - 1) != 0)
		return status_set(st, STATUS_UNAUTHENTICATED, "authorization header is not " SIGV4_ALGORITHM);
	const char *p = value + sizeof prefix - 1;
	bool got_cred = false, got_sh = false, got_sig = false;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len > 11 && strncmp(p, "Credential=", 11) == 0) {
			const char *c = p + 11, *ce = p + len;
			const char *parts[5];
			size_t plens[5];
			int np = 0;
			while (np < 5) {
				const char *slash = memchr(c, '/', (size_t)(ce - c));
				const char *pe = slash ? slash : ce;
				parts[np] = c;
				plens[np] = (size_t)(pe - c);
				np++;
				if (!slash)
					break;
				c = slash + 1;
			}
			if (np != 5 || parts[4] + plens[4] != ce || plens[4] != 12 ||
			    strncmp(parts[4], "aws4_request", 12) != 0 ||
			    copy_part(out->access_key_id, sizeof out->access_key_id, parts[0], plens[0]) != 0 ||
			    plens[1] != 8 || digits(parts[1], 8) < 0 ||
			    copy_part(out->date, sizeof out->date, parts[1], plens[1]) != 0 ||
			    copy_part(out->region, sizeof out->region, parts[2], plens[2]) != 0 ||
			    copy_part(out->service, sizeof out->service, parts[3], plens[3]) != 0)
				return status_set(st, STATUS_UNAUTHENTICATED, "malformed Credential in authorization header");
			got_cred = true;
		} else if (len > 14 && strncmp(p, "SignedHeaders=", 14) == 0) {
			if (copy_part(out->signed_headers, sizeof out->signed_headers, p + 14, len - 14) != 0)
				return status_set(st, STATUS_UNAUTHENTICATED, "malformed SignedHeaders in authorization header");
			got_sh = true;
		} else if (len > 10 && strncmp(p, "Signature=", 10) == 0) {
			if (copy_part(out->signature, sizeof out->signature, p + 10, len - 10) != 0 ||
			    !valid_hex64(out->signature))
				return status_set(st, STATUS_UNAUTHENTICATED, "malformed Signature in authorization header");
			got_sig = true;
		} else {
			return status_set(st, STATUS_UNAUTHENTICATED, "unexpected component in authorization header");
		}
		p += end ? (size_t)(end - p) : strlen(p);
	}
	if (!got_cred || !got_sh || !got_sig)
		return status_set(st, STATUS_UNAUTHENTICATED,
				  "authorization header needs Credential, SignedHeaders and Signature");
	return 0;
}

/* True when lname is one of the ';'-separated names in list. */
static bool in_list(const char *list, const char *lname)
{
	size_t n = strlen(lname);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && strncmp(p, lname, n) == 0)
			return true;
		p += len;
		if (*p == ';')
			p++;
	}
	return false;
}

static int verify_fail(const char **aws_code, const char *code, struct status *st, const char *msg)
{
	if (aws_code != NULL)
		*aws_code = code;
	return status_set(st, STATUS_UNAUTHENTICATED, "%s", msg);
}

int sigv4_verify(const struct sigv4_request *req, const struct sigv4_auth *auth, const char *secret,
		 time_t now, long max_skew, const char **aws_code, struct status *st)
{
	if (aws_code != NULL)
		*aws_code = NULL;
	if (req == NULL || req->method == NULL || auth == NULL)
		return verify_fail(aws_code, "IncompleteSignature", st, "incomplete request");
	if (secret == NULL || *secret == '\0')
		return verify_fail(aws_code, "SignatureDoesNotMatch", st, "no secret for the access key");
	if (!in_list(auth->signed_headers, "host"))
		return verify_fail(aws_code, "IncompleteSignature", st, "SignedHeaders must include host");
	if (!in_list(auth->signed_headers, "x-amz-date"))
		return verify_fail(aws_code, "IncompleteSignature", st, "SignedHeaders must include x-amz-date");

	struct hlist h = { 0 };
	struct qlist q = { 0 };
	struct buf creq, signed_list, sts, scope;
	buf_init(&creq);
	buf_init(&signed_list);
	buf_init(&sts);
	buf_init(&scope);
	int rc = -1;

	for (size_t i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *hd = &req->headers[i];
		if (hd->name == NULL)
			continue;
		/* Any length: the signer accepts any valid name, and a signed
		 * header skipped here would fail a correct signature. */
		size_t nlen = strlen(hd->name);
		if (nlen == 0)
			continue;
		char *lname = xstrdup(hd->name);
		for (size_t k = 0; k < nlen; k++)
			lname[k] = (char)tolower((unsigned char)lname[k]);
		bool listed = in_list(auth->signed_headers, lname);
		free(lname);
		if (!listed)
			continue;
		if (hlist_add(&h, hd->name, hd->value, NULL) != 0) {
			verify_fail(aws_code, "SignatureDoesNotMatch", st, "invalid signed header name");
			goto done;
		}
	}

	const struct hdr *date = hlist_find(&h, "x-amz-date");
	time_t t;
	if (date == NULL || sigv4_parse_amz_date(date->value, &t, NULL) != 0) {
		verify_fail(aws_code, "IncompleteSignature", st, "missing or malformed X-Amz-Date");
		goto done;
	}
	if (strncmp(date->value, auth->date, 8) != 0) {
		verify_fail(aws_code, "SignatureDoesNotMatch", st, "credential scope date does not match X-Amz-Date");
		goto done;
	}
	/* build_canonical sorts h in place, so keep a copy rather than the pointer. */
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	memcpy(amz_date, date->value, sizeof amz_date);
	if (max_skew > 0 && (t > now + max_skew || t < now - max_skew)) {
		verify_fail(aws_code, "RequestExpired", st, "request time is too far from the server time");
		goto done;
	}

	char payload_hash[SIGV4_HEX_LEN + 1];
	if (req->payload_hash != NULL && valid_hex64(req->payload_hash))
		memcpy(payload_hash, req->payload_hash, sizeof payload_hash);
	else
		sigv4_sha256_hex(req->payload, req->payload_len, payload_hash);
	const struct hdr *csha = hlist_find(&h, "x-amz-content-sha256");
	if (csha != NULL && strcmp(csha->value, payload_hash) != 0) {
		verify_fail(aws_code, "SignatureDoesNotMatch", st, "X-Amz-Content-Sha256 does not match the body");
		goto done;
	}

	qlist_add_raw(&q, req->query);
	build_canonical(req->method, req->path, true, &q, &h, payload_hash, &creq, &signed_list);
	/* Every name in SignedHeaders must have been present, in canonical order. */
	if (strcmp(signed_list.data, auth->signed_headers) != 0) {
		verify_fail(aws_code, "SignatureDoesNotMatch", st,
			    "SignedHeaders names headers that are missing or not sorted");
		goto done;
	}
	buf_printf(&scope, "%s/%s/%s/aws4_request", auth->date, auth->region, auth->service);
	build_string_to_sign(amz_date, scope.data, creq.data, creq.len, &sts);
	char sig[SIGV4_HEX_LEN + 1];
	struct status kst = STATUS_INIT;
	if (compute_signature(secret, auth->date, auth->region, auth->service, sts.data, sts.len, sig, &kst) != 0) {
		verify_fail(aws_code, "SignatureDoesNotMatch", st, "cannot compute the signature");
		goto done;
	}
	bool ok = sigv4_ct_equal(sig, SIGV4_HEX_LEN, auth->signature, strlen(auth->signature));
	OPENSSL_cleanse(sig, sizeof sig);
	if (!ok) {
		verify_fail(aws_code, "SignatureDoesNotMatch", st,
			    "the request signature we calculated does not match the signature you provided");
		goto done;
	}
	rc = 0;
done:
	hlist_dispose(&h);
	qlist_dispose(&q);
	buf_dispose(&creq);
	buf_dispose(&signed_list);
	buf_dispose(&sts);
	buf_dispose(&scope);
	return rc;
}
