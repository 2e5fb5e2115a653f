/*
 * aws_error: the AWS error table and the EC2/STS error-body parser. See
 * aws_error.h.
 *
 * The table is the single place where an AWS failure becomes a gRPC code: the
 * layers above pass the status on. Exact codes come first, then families by
 * prefix/suffix, then the HTTP status. The parser is expat in namespace mode
 * (elements matched by local name and depth) with DTDs refused; it copies text
 * only from the few elements it wants, bounded, and sanitises it on the way out.
 */
#include "cloud/aws_error.h"
#include "cloud/xml_guard.h"

#include <expat.h>

#include <stdio.h>
#include <string.h>

#define C(code, st, retry) { code, { STATUS_##st, AWS_ERROR_RETRY_##retry, false } }
#define A(code, st) { code, { STATUS_##st, AWS_ERROR_RETRY_NONE, true } }

static const struct {
	const char *code;
	struct aws_error_class cls;
} table[] = {
	/* DryRun=true success is reported as this error (HTTP 412). */
	C("DryRunOperation", OK, NONE),

	/* Not found. InvalidZone.NotFound is a bad request parameter, not a
	 * missing source, so it sits with the invalid arguments below. */
	C("InvalidVolume.NotFound", NOT_FOUND, NONE),
	C("InvalidSnapshot.NotFound", NOT_FOUND, NONE),
	C("InvalidInstanceID.NotFound", NOT_FOUND, NONE),
	C("InvalidAttachment.NotFound", NOT_FOUND, NONE),
	C("InvalidVolumeModification.NotFound", NOT_FOUND, NONE),

	/* Invalid arguments: the request must change (upstream's
	 * invalidParameterErrorCodes plus the malformed-ID codes). */
	C("InvalidParameter", INVALID_ARGUMENT, NONE),
	C("InvalidParameterValue", INVALID_ARGUMENT, NONE),
	C("InvalidParameterCombination", INVALID_ARGUMENT, NONE),
	C("InvalidParameterDependency", INVALID_ARGUMENT, NONE),
	C("UnknownParameter", INVALID_ARGUMENT, NONE),
	C("UnknownVolumeType", INVALID_ARGUMENT, NONE),
	C("UnsupportedOperation", INVALID_ARGUMENT, NONE),
	C("ValidationError", INVALID_ARGUMENT, NONE),
	C("MissingParameter", INVALID_ARGUMENT, NONE),
	C("InvalidVolumeID.Malformed", INVALID_ARGUMENT, NONE),
	C("InvalidInstanceID.Malformed", INVALID_ARGUMENT, NONE),
	C("InvalidSnapshotID.Malformed", INVALID_ARGUMENT, NONE),
	C("InvalidZone.NotFound", INVALID_ARGUMENT, NONE),
	C("InvalidAvailabilityZone", INVALID_ARGUMENT, NONE),
	C("EncryptedVolumesNotSupported", INVALID_ARGUMENT, NONE),
	C("InvalidMaxResults", INVALID_ARGUMENT, NONE),
	C("FilterLimitExceeded", INVALID_ARGUMENT, NONE),
	C("MalformedPolicyDocument", INVALID_ARGUMENT, NONE),
	C("PackedPolicyTooLarge", INVALID_ARGUMENT, NONE),
	C("InvalidAction", UNIMPLEMENTED, NONE),

	/* Same client token, different parameters (CreateVolume ClientToken). */
	C("IdempotentParameterMismatch", ALREADY_EXISTS, NONE),

	/* The resource is in the wrong state for the request. */
	C("VolumeInUse", FAILED_PRECONDITION, NONE),
	C("IncorrectState", FAILED_PRECONDITION, NONE),
	C("IncorrectInstanceState", FAILED_PRECONDITION, NONE),
	C("InvalidSnapshot.InUse", FAILED_PRECONDITION, NONE),
	C("InvalidVolume.ZoneMismatch", FAILED_PRECONDITION, NONE),
	C("InvalidVolumeID.ZoneMismatch", FAILED_PRECONDITION, NONE),
	C("CustomerKeyHasBeenRevoked", FAILED_PRECONDITION, NONE),
	C("RegionDisabledException", FAILED_PRECONDITION, NONE),
	C("PendingVerification", FAILED_PRECONDITION, NONE),
	/* Another operation holds the resource: CSI's ABORTED. */
	C("IncorrectModificationState", ABORTED, NONE),
	C("InvalidNextToken", ABORTED, NONE),
	C("InvalidPaginationToken", ABORTED, NONE),
	C("ConcurrentTagAccess", ABORTED, TRANSIENT),

	/* Quotas and capacity. InsufficientVolumeCapacity is a 5xx the SDK would
	 * retry, but it is better surfaced to the CO (another zone or type). */
	C("VolumeLimitExceeded", RESOURCE_EXHAUSTED, NONE),
	C("AttachmentLimitExceeded", RESOURCE_EXHAUSTED, NONE),
	C("SnapshotLimitExceeded", RESOURCE_EXHAUSTED, NONE),
	C("PendingSnapshotLimitExceeded", RESOURCE_EXHAUSTED, NONE),
	C("ConcurrentSnapshotLimitExceeded", RESOURCE_EXHAUSTED, NONE),
	C("MaxIOPSLimitExceeded", RESOURCE_EXHAUSTED, NONE),
	C("VolumeModificationSizeLimitExceeded", RESOURCE_EXHAUSTED, NONE),
	C("InsufficientVolumeCapacity", RESOURCE_EXHAUSTED, NONE),
	C("VolumeTypeNotAvailableInZone", RESOURCE_EXHAUSTED, NONE),
	/* "Wait at least 15 seconds between concurrent volume snapshots." */
	C("SnapshotCreationPerVolumeRateExceeded", RESOURCE_EXHAUSTED, THROTTLE),

	/* Throttling: the SDK standard-mode list (botocore / Go DefaultThrottleErrorCodes). */
	C("RequestLimitExceeded", UNAVAILABLE, THROTTLE),
	C("EC2ThrottledException", UNAVAILABLE, THROTTLE),
	C("Throttling", UNAVAILABLE, THROTTLE),
	C("ThrottlingException", UNAVAILABLE, THROTTLE),
	C("ThrottledException", UNAVAILABLE, THROTTLE),
	C("RequestThrottledException", UNAVAILABLE, THROTTLE),
	C("RequestThrottled", UNAVAILABLE, THROTTLE),
	C("TooManyRequestsException", UNAVAILABLE, THROTTLE),
	C("ProvisionedThroughputExceededException", UNAVAILABLE, THROTTLE),
	C("TransactionInProgressException", UNAVAILABLE, THROTTLE),
	C("BandwidthLimitExceeded", UNAVAILABLE, THROTTLE),
	C("LimitExceededException", UNAVAILABLE, THROTTLE),
	C("SlowDown", UNAVAILABLE, THROTTLE),
	C("PriorRequestNotComplete", UNAVAILABLE, THROTTLE),

	/* Transient server-side failures. */
	C("InternalError", UNAVAILABLE, TRANSIENT),
	C("InternalFailure", UNAVAILABLE, TRANSIENT),
	C("ServerInternal", UNAVAILABLE, TRANSIENT),
	C("ServiceUnavailable", UNAVAILABLE, TRANSIENT),
	C("Unavailable", UNAVAILABLE, TRANSIENT),
	C("RequestTimeout", UNAVAILABLE, TRANSIENT),
	C("RequestTimeoutException", UNAVAILABLE, TRANSIENT),
	C("IDPCommunicationError", UNAVAILABLE, TRANSIENT),

	/* Authentication: refresh the credentials once, then fail. */
	A("AuthFailure", UNAUTHENTICATED),
	A("RequestExpired", UNAUTHENTICATED),
	A("ExpiredToken", UNAUTHENTICATED),
	A("ExpiredTokenException", UNAUTHENTICATED),
	A("InvalidClientTokenId", UNAUTHENTICATED),
	C("SignatureDoesNotMatch", UNAUTHENTICATED, NONE),
	C("IncompleteSignature", UNAUTHENTICATED, NONE),
	C("MissingAuthenticationToken", UNAUTHENTICATED, NONE),
	C("InvalidSecurity.RequestHasExpired", UNAUTHENTICATED, NONE),
	C("InvalidIdentityToken", UNAUTHENTICATED, NONE),

	/* Authorisation. */
	C("UnauthorizedOperation", PERMISSION_DENIED, NONE),
	C("AccessDenied", PERMISSION_DENIED, NONE),
	C("AccessDeniedException", PERMISSION_DENIED, NONE),
	C("OptInRequired", PERMISSION_DENIED, NONE),
	C("Blocked", PERMISSION_DENIED, NONE),
	C("IDPRejectedClaim", PERMISSION_DENIED, NONE),
};

#undef C
#undef A

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct aws_error_class aws_error_classify_http(int http_status)
{
	struct aws_error_class c = { STATUS_UNKNOWN, AWS_ERROR_RETRY_NONE, false };
	if (http_status == 429 || http_status == 503) {
		c.status = STATUS_UNAVAILABLE;
		c.retry = AWS_ERROR_RETRY_THROTTLE;
	} else if (http_status >= 500 && http_status <= 599) {
		c.status = STATUS_UNAVAILABLE;
		c.retry = AWS_ERROR_RETRY_TRANSIENT;
	} else if (http_status == 400) {
		c.status = STATUS_INVALID_ARGUMENT;
	} else if (http_status == 401) {
		c.status = STATUS_UNAUTHENTICATED;
	} else if (http_status == 403) {
		c.status = STATUS_PERMISSION_DENIED;
	} else if (http_status == 404) {
		c.status = STATUS_NOT_FOUND;
	} else if (http_status == 409) {
		c.status = STATUS_ABORTED;
	} else if (http_status >= 400 && http_status <= 499) {
		c.status = STATUS_FAILED_PRECONDITION;
	}
	return c;
}

struct aws_error_class aws_error_classify(const char *code, int http_status)
{
	if (code == NULL || *code == '\0')
		return aws_error_classify_http(http_status);
	/* State-reason strings carry these prefixes; tolerate them in <Code> too. */
	if (has_prefix(code, "Client.") || has_prefix(code, "Server."))
		code += 7;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(code, table[i].code) == 0)
			return table[i].cls;

	struct aws_error_class c = { STATUS_UNKNOWN, AWS_ERROR_RETRY_NONE, false };
	if (has_suffix(code, ".NotFound")) {
		c.status = STATUS_NOT_FOUND;
	} else if (has_suffix(code, ".Malformed") || has_prefix(code, "InvalidParameter")) {
		c.status = STATUS_INVALID_ARGUMENT;
	} else if (has_suffix(code, ".Duplicate")) {
		c.status = STATUS_ALREADY_EXISTS;
	} else if (has_suffix(code, ".InUse")) {
		c.status = STATUS_FAILED_PRECONDITION;
	} else if (has_suffix(code, "LimitExceeded")) {
		c.status = STATUS_RESOURCE_EXHAUSTED;
	} else {
		/* An unknown code: the HTTP status still says client or server fault. */
		c = aws_error_classify_http(http_status);
	}
	return c;
}

const char *aws_error_retry_name(enum aws_error_retry r)
{
	switch (r) {
	case AWS_ERROR_RETRY_TRANSIENT:
		return "transient";
	case AWS_ERROR_RETRY_THROTTLE:
		return "throttle";
	case AWS_ERROR_RETRY_NONE:
	default:
		return "none";
	}
}

/* ---- XML body ------------------------------------------------------------ */

enum field { F_NONE, F_CODE, F_MESSAGE, F_REQUEST_ID, F_TYPE };

struct parse_ctx {
	struct xml_guard g;          /* first: see xml_guard.h */
	int depth;                   /* current element depth (root = 1) */
	int root;                    /* 1 Response (EC2), 2 ErrorResponse, 3 Error */
	bool in_errors;              /* inside Response/Errors */
	int error_depth;             /* depth of the first <Error>, 0 when not inside */
	bool first_error_done;
	enum field field;            /* element whose text is being collected */
	char text[AWS_ERROR_MESSAGE_MAX + 8];
	size_t text_len;
	bool text_truncated;
	struct aws_error *out;
};

static const char *local_name(const XML_Char *name)
{
	/* Namespace mode joins "uri" and local name with '\x01'. */
	const char *sep = strrchr(name, '\x01');
	return sep ? sep + 1 : name;
}

/* Copies collected text into dst (cap bytes): control characters (C0, DEL,
 * C1 in UTF-8) become spaces, whitespace runs collapse, ends are trimmed; if it
 * does not fit it is cut at a UTF-8 boundary and ends in "...". */
static void store_sanitised(char *dst, size_t cap, const char *src, size_t n, bool truncated)
{
	size_t o = 0;
	bool space = false;
	const size_t limit = cap - 4;  /* room for "..." and NUL */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		bool ctl = c < 0x20 || c == 0x7f;
		if (c == 0xc2 && i + 1 < n && (unsigned char)src[i + 1] >= 0x80 && (unsigned char)src[i + 1] <= 0x9f) {
			ctl = true;
			i++;
		}
		if (ctl || c == ' ') {
			space = o > 0;
			continue;
		}
		if (space) {
			if (o + 1 > limit) {
				truncated = true;
				break;
			}
			dst[o++] = ' ';
			space = false;
		}
		if (o + 1 > limit) {
			truncated = true;
			break;
		}
		dst[o++] = (char)c;
	}
	if (truncated) {
		/* Do not leave half a multi-byte character before the ellipsis. */
		size_t cut = o;
		while (cut > 0 && ((unsigned char)dst[cut - 1] & 0xc0) == 0x80)
			cut--;
		if (cut > 0 && (unsigned char)dst[cut - 1] >= 0xc0)
			cut--;
		else
			cut = o;
		o = cut;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	(void)attrs;
	struct parse_ctx *c = data;
	const char *n = local_name(name);
	c->depth++;
	c->field = F_NONE;
	if (c->depth == 1) {
		c->root = strcmp(n, "Response") == 0 ? 1 : strcmp(n, "ErrorResponse") == 0 ? 2 : strcmp(n, "Error") == 0 ? 3 : 0;
		if (c->root == 3)
			c->error_depth = 1;
		return;
	}
	if (c->root == 1 && c->depth == 2 && strcmp(n, "Errors") == 0) {
		c->in_errors = true;
	} else if (!c->first_error_done && c->error_depth == 0 && strcmp(n, "Error") == 0 &&
		   ((c->root == 1 && c->in_errors && c->depth == 3) || (c->root == 2 && c->depth == 2))) {
		c->error_depth = c->depth;
	} else if (c->error_depth > 0 && !c->first_error_done && c->depth == c->error_depth + 1) {
		if (strcmp(n, "Code") == 0)
			c->field = F_CODE;
		else if (strcmp(n, "Message") == 0)
			c->field = F_MESSAGE;
		else if (strcmp(n, "Type") == 0)
			c->field = F_TYPE;
		else if (strcmp(n, "RequestId") == 0 || strcmp(n, "RequestID") == 0)
			c->field = F_REQUEST_ID;  /* S3-style bare <Error> keeps it inside */
	} else if (c->depth == 2 && c->root != 0 && (strcmp(n, "RequestID") == 0 || strcmp(n, "RequestId") == 0)) {
		c->field = F_REQUEST_ID;
	} else if (c->root == 2 && c->depth == 3 && strcmp(n, "RequestId") == 0) {
		c->field = F_REQUEST_ID;  /* <ResponseMetadata><RequestId> */
	}
	c->text_len = 0;
	c->text_truncated = false;
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
	(void)name;
	struct parse_ctx *c = data;
	struct aws_error *o = c->out;
	switch (c->field) {
	case F_CODE:
		store_sanitised(o->code, sizeof o->code, c->text, c->text_len, c->text_truncated);
		break;
	case F_MESSAGE:
		store_sanitised(o->message, sizeof o->message, c->text, c->text_len, c->text_truncated);
		break;
	case F_TYPE:
		store_sanitised(o->type, sizeof o->type, c->text, c->text_len, c->text_truncated);
		break;
	case F_REQUEST_ID:
		store_sanitised(o->request_id, sizeof o->request_id, c->text, c->text_len, c->text_truncated);
		break;
	case F_NONE:
		break;
	}
	c->field = F_NONE;
	if (c->error_depth > 0 && c->depth == c->error_depth) {
		c->error_depth = 0;
		c->first_error_done = true;
	}
	if (c->root == 1 && c->depth == 2)
		c->in_errors = false;
	c->depth--;
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
	struct parse_ctx *c = data;
	if (c->field == F_NONE || len <= 0)
		return;
	size_t room = sizeof c->text - c->text_len;
	size_t n = (size_t)len;
	if (n > room) {
		n = room;
		c->text_truncated = true;
	}
	memcpy(c->text + c->text_len, s, n);
	c->text_len += n;
}

static void clear_fields(struct aws_error *e)
{
	e->code[0] = e->message[0] = e->request_id[0] = e->type[0] = '\0';
}

int aws_error_parse(const char *body, size_t len, int http_status, struct aws_error *out, struct status *st)
{
	memset(out, 0, sizeof *out);
	out->http_status = http_status;
	if (body == NULL || len == 0)
		return status_set(st, STATUS_INTERNAL, "empty error body (HTTP %d)", http_status);
	if (len > (size_t)0x7fffffff)
		return status_set(st, STATUS_INTERNAL, "error body too large (HTTP %d)", http_status);

	struct parse_ctx c;
	memset(&c, 0, sizeof c);
	c.out = out;
	c.g.parser = XML_ParserCreateNS(NULL, '\x01');
	if (c.g.parser == NULL)
		return status_set(st, STATUS_INTERNAL, "cannot create XML parser");
	XML_SetUserData(c.g.parser, &c);
	XML_SetElementHandler(c.g.parser, on_start, on_end);
	XML_SetCharacterDataHandler(c.g.parser, on_text);
	xml_guard_install(&c.g);

	enum XML_Status xs = XML_Parse(c.g.parser, body, (int)len, XML_TRUE);
	int rc = 0;
	if (c.g.refused) {
		rc = status_set(st, STATUS_INTERNAL, "error body declares a DTD (HTTP %d); refused", http_status);
	} else if (xs != XML_STATUS_OK) {
		rc = status_set(st, STATUS_INTERNAL, "malformed error body (HTTP %d): %s at line %lu", http_status,
				XML_ErrorString(XML_GetErrorCode(c.g.parser)),
				(unsigned long)XML_GetCurrentLineNumber(c.g.parser));
	} else if (c.root == 0) {
		rc = status_set(st, STATUS_INTERNAL, "body is not an AWS error document (HTTP %d)", http_status);
	} else if (out->code[0] == '\0') {
		rc = status_set(st, STATUS_INTERNAL, "error body has no Code (HTTP %d)", http_status);
	}
	XML_ParserFree(c.g.parser);
	if (rc != 0)
		clear_fields(out);
	return rc;
}

int aws_error_to_status(const struct aws_error *e, const char *what, struct status *st)
{
	struct aws_error_class cls = aws_error_classify(e->code, e->http_status);
	if (cls.status == STATUS_OK) {
		status_clear(st);
		return 0;
	}
	char rid[AWS_ERROR_REQUEST_ID_MAX + 20] = "";
	if (e->request_id[0])
		snprintf(rid, sizeof rid, " (request id %s)", e->request_id);
	const char *sep = what != NULL ? ": " : "";
	if (what == NULL)
		what = "";
	if (e->code[0] == '\0')
		return status_set(st, cls.status, "%s%sHTTP %d%s", what, sep, e->http_status, rid);
	/* The request id goes before the message so truncation cannot drop it. */
	return status_set(st, cls.status, "%s%s%s%s: %s", what, sep, e->code, rid,
			  e->message[0] ? e->message : "(no message)");
}
