/*
 * test_aws_error: the AWS error table row by row (every code the driver can
 * meet, families, HTTP fallbacks) and the EC2/STS error-body parser on real
 * shapes, truncated and garbage XML, DTD/entity attacks, oversized and
 * control-character messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cloud/aws_error.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE AWS_ERROR_RETRY_NONE
#define TRANSIENT AWS_ERROR_RETRY_TRANSIENT
#define THROTTLE AWS_ERROR_RETRY_THROTTLE

static const struct {
	const char *code;
	int http;
	int status;
	enum aws_error_retry retry;
	bool refresh;
} rows[] = {
	{ "DryRunOperation", 412, STATUS_OK, NONE, false },
	{ "InvalidVolume.NotFound", 400, STATUS_NOT_FOUND, NONE, false },
	{ "InvalidSnapshot.NotFound", 400, STATUS_NOT_FOUND, NONE, false },
	{ "InvalidInstanceID.NotFound", 400, STATUS_NOT_FOUND, NONE, false },
	{ "InvalidAttachment.NotFound", 400, STATUS_NOT_FOUND, NONE, false },
	{ "InvalidVolumeModification.NotFound", 400, STATUS_NOT_FOUND, NONE, false },
	{ "InvalidZone.NotFound", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidAvailabilityZone", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidVolumeID.Malformed", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidInstanceID.Malformed", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidSnapshotID.Malformed", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidParameter", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidParameterValue", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidParameterCombination", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidParameterDependency", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "UnknownParameter", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "UnknownVolumeType", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "UnsupportedOperation", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "ValidationError", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "MissingParameter", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "EncryptedVolumesNotSupported", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidMaxResults", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "FilterLimitExceeded", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "MalformedPolicyDocument", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "PackedPolicyTooLarge", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidAction", 400, STATUS_UNIMPLEMENTED, NONE, false },
	{ "IdempotentParameterMismatch", 400, STATUS_ALREADY_EXISTS, NONE, false },
	{ "VolumeInUse", 400, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "IncorrectState", 400, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "IncorrectInstanceState", 400, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "InvalidSnapshot.InUse", 400, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "InvalidVolume.ZoneMismatch", 400, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "InvalidVolumeID.ZoneMismatch", 400, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "CustomerKeyHasBeenRevoked", 400, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "RegionDisabledException", 403, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "PendingVerification", 400, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "IncorrectModificationState", 400, STATUS_ABORTED, NONE, false },
	{ "InvalidNextToken", 400, STATUS_ABORTED, NONE, false },
	{ "InvalidPaginationToken", 400, STATUS_ABORTED, NONE, false },
	{ "ConcurrentTagAccess", 400, STATUS_ABORTED, TRANSIENT, false },
	{ "VolumeLimitExceeded", 400, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	{ "AttachmentLimitExceeded", 400, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	{ "SnapshotLimitExceeded", 400, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	{ "PendingSnapshotLimitExceeded", 400, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	{ "ConcurrentSnapshotLimitExceeded", 400, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	{ "MaxIOPSLimitExceeded", 400, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	{ "VolumeModificationSizeLimitExceeded", 400, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	{ "InsufficientVolumeCapacity", 503, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	{ "VolumeTypeNotAvailableInZone", 400, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	{ "SnapshotCreationPerVolumeRateExceeded", 400, STATUS_RESOURCE_EXHAUSTED, THROTTLE, false },
	{ "RequestLimitExceeded", 503, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "EC2ThrottledException", 503, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "Throttling", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "ThrottlingException", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "ThrottledException", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "RequestThrottledException", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "RequestThrottled", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "TooManyRequestsException", 429, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "ProvisionedThroughputExceededException", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "TransactionInProgressException", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "BandwidthLimitExceeded", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "LimitExceededException", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "SlowDown", 503, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "PriorRequestNotComplete", 400, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "InternalError", 500, STATUS_UNAVAILABLE, TRANSIENT, false },
	{ "InternalFailure", 500, STATUS_UNAVAILABLE, TRANSIENT, false },
	{ "ServerInternal", 500, STATUS_UNAVAILABLE, TRANSIENT, false },
	{ "ServiceUnavailable", 503, STATUS_UNAVAILABLE, TRANSIENT, false },
	{ "Unavailable", 503, STATUS_UNAVAILABLE, TRANSIENT, false },
	{ "RequestTimeout", 400, STATUS_UNAVAILABLE, TRANSIENT, false },
	{ "RequestTimeoutException", 400, STATUS_UNAVAILABLE, TRANSIENT, false },
	{ "IDPCommunicationError", 400, STATUS_UNAVAILABLE, TRANSIENT, false },
	{ "AuthFailure", 401, STATUS_UNAUTHENTICATED, NONE, true },
	{ "RequestExpired", 400, STATUS_UNAUTHENTICATED, NONE, true },
	{ "ExpiredToken", 400, STATUS_UNAUTHENTICATED, NONE, true },
	{ "ExpiredTokenException", 400, STATUS_UNAUTHENTICATED, NONE, true },
	{ "InvalidClientTokenId", 403, STATUS_UNAUTHENTICATED, NONE, true },
	{ "SignatureDoesNotMatch", 403, STATUS_UNAUTHENTICATED, NONE, false },
	{ "IncompleteSignature", 400, STATUS_UNAUTHENTICATED, NONE, false },
	{ "MissingAuthenticationToken", 403, STATUS_UNAUTHENTICATED, NONE, false },
	{ "InvalidSecurity.RequestHasExpired", 400, STATUS_UNAUTHENTICATED, NONE, false },
	{ "InvalidIdentityToken", 400, STATUS_UNAUTHENTICATED, NONE, false },
	{ "UnauthorizedOperation", 403, STATUS_PERMISSION_DENIED, NONE, false },
	{ "AccessDenied", 403, STATUS_PERMISSION_DENIED, NONE, false },
	{ "AccessDeniedException", 403, STATUS_PERMISSION_DENIED, NONE, false },
	{ "OptInRequired", 403, STATUS_PERMISSION_DENIED, NONE, false },
	{ "Blocked", 403, STATUS_PERMISSION_DENIED, NONE, false },
	{ "IDPRejectedClaim", 403, STATUS_PERMISSION_DENIED, NONE, false },
	/* Families. */
	{ "InvalidKeyPair.NotFound", 400, STATUS_NOT_FOUND, NONE, false },
	{ "InvalidGroupId.Malformed", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidParameterNew", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "InvalidGroup.Duplicate", 400, STATUS_ALREADY_EXISTS, NONE, false },
	{ "InvalidNetworkInterface.InUse", 400, STATUS_FAILED_PRECONDITION, NONE, false },
	{ "FastSnapshotRestoreLimitExceeded", 400, STATUS_RESOURCE_EXHAUSTED, NONE, false },
	/* Prefix tolerated. */
	{ "Client.InvalidSnapshot.NotFound", 400, STATUS_NOT_FOUND, NONE, false },
	{ "Server.InternalError", 500, STATUS_UNAVAILABLE, TRANSIENT, false },
	/* Unknown codes fall back to the HTTP status. */
	{ "SomethingNew", 500, STATUS_UNAVAILABLE, TRANSIENT, false },
	{ "SomethingNew", 503, STATUS_UNAVAILABLE, THROTTLE, false },
	{ "SomethingNew", 400, STATUS_INVALID_ARGUMENT, NONE, false },
	{ "SomethingNew", 0, STATUS_UNKNOWN, NONE, false },
	/* Codes are case-sensitive, like AWS's. */
	{ "invalidvolume.notfound", 400, STATUS_INVALID_ARGUMENT, NONE, false },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct aws_error_class c = aws_error_classify(rows[i].code, rows[i].http);
		if (c.status != rows[i].status || c.retry != rows[i].retry || c.refresh_credentials != rows[i].refresh)
			fail_msg("%s@%d: got %s/%s/%d want %s/%s/%d", rows[i].code, rows[i].http,
				 status_code_name(c.status), aws_error_retry_name(c.retry), c.refresh_credentials,
				 status_code_name(rows[i].status), aws_error_retry_name(rows[i].retry), rows[i].refresh);
	}
	printf("[ aws_error] %zu table rows checked\n", sizeof rows / sizeof rows[0]);
}

static void test_http_only(void **state)
{
	(void)state;
	static const struct {
		int http, status;
		enum aws_error_retry retry;
	} h[] = {
		{ 500, STATUS_UNAVAILABLE, TRANSIENT }, { 502, STATUS_UNAVAILABLE, TRANSIENT },
		{ 504, STATUS_UNAVAILABLE, TRANSIENT }, { 599, STATUS_UNAVAILABLE, TRANSIENT },
		{ 503, STATUS_UNAVAILABLE, THROTTLE },  { 429, STATUS_UNAVAILABLE, THROTTLE },
		{ 400, STATUS_INVALID_ARGUMENT, NONE }, { 401, STATUS_UNAUTHENTICATED, NONE },
		{ 403, STATUS_PERMISSION_DENIED, NONE }, { 404, STATUS_NOT_FOUND, NONE },
		{ 409, STATUS_ABORTED, NONE },          { 412, STATUS_FAILED_PRECONDITION, NONE },
		{ 418, STATUS_FAILED_PRECONDITION, NONE }, { 0, STATUS_UNKNOWN, NONE },
		{ 200, STATUS_UNKNOWN, NONE },          { 302, STATUS_UNKNOWN, NONE },
	};
	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
		struct aws_error_class c = aws_error_classify_http(h[i].http);
		if (c.status != h[i].status || c.retry != h[i].retry)
			fail_msg("HTTP %d: got %s/%s", h[i].http, status_code_name(c.status), aws_error_retry_name(c.retry));
		/* No code at all classifies the same way. */
		struct aws_error_class d = aws_error_classify(NULL, h[i].http);
		assert_int_equal(d.status, c.status);
		d = aws_error_classify("", h[i].http);
		assert_int_equal(d.retry, c.retry);
	}
	assert_string_equal(aws_error_retry_name(AWS_ERROR_RETRY_NONE), "none");
	assert_string_equal(aws_error_retry_name(AWS_ERROR_RETRY_TRANSIENT), "transient");
	assert_string_equal(aws_error_retry_name(AWS_ERROR_RETRY_THROTTLE), "throttle");
}

static const char EC2_BODY[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			       "<Response>\n"
			       "    <Errors>\n"
			       "         <Error>\n"
			       "           <Code>InvalidInstanceID.NotFound</Code>\n"
			       "           <Message>The instance ID 'i-1a2b3c4d' does not exist</Message>\n"
			       "         </Error>\n"
			       "    </Errors>\n"
			       "    <RequestID>ea966190-f9aa-478e-9ede-example</RequestID>\n"
			       "</Response>";

static const char STS_BODY[] =
	"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
	"  <Error>\n"
	"    <Type>Sender</Type>\n"
	"    <Code>InvalidIdentityToken</Code>\n"
	"    <Message>No OpenIDConnect provider found in your account for https://oidc.eks.example</Message>\n"
	"  </Error>\n"
	"  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
	"</ErrorResponse>\n";

static void test_parse_ec2(void **state)
{
	(void)state;
	struct aws_error e;
	struct status st = STATUS_INIT;
	assert_int_equal(aws_error_parse(EC2_BODY, strlen(EC2_BODY), 400, &e, &st), 0);
	assert_int_equal(e.http_status, 400);
	assert_string_equal(e.code, "InvalidInstanceID.NotFound");
	assert_string_equal(e.message, "The instance ID 'i-1a2b3c4d' does not exist");
	assert_string_equal(e.request_id, "ea966190-f9aa-478e-9ede-example");
	assert_string_equal(e.type, "");

	assert_int_equal(aws_error_to_status(&e, "describe instance i-1a2b3c4d", &st), -1);
	assert_int_equal(st.code, STATUS_NOT_FOUND);
	assert_string_equal(st.msg, "describe instance i-1a2b3c4d: InvalidInstanceID.NotFound "
				    "(request id ea966190-f9aa-478e-9ede-example): "
				    "The instance ID 'i-1a2b3c4d' does not exist");
}

static void test_parse_ec2_throttle_and_multiple(void **state)
{
	(void)state;
	const char *body = "<Response><Errors>"
			   "<Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error>"
			   "<Error><Code>InternalError</Code><Message>second</Message></Error>"
			   "</Errors><RequestID>r-1</RequestID></Response>";
	struct aws_error e;
	struct status st = STATUS_INIT;
	assert_int_equal(aws_error_parse(body, strlen(body), 503, &e, &st), 0);
	assert_string_equal(e.code, "RequestLimitExceeded");  /* the first Error counts */
	assert_string_equal(e.message, "Request limit exceeded.");
	struct aws_error_class c = aws_error_classify(e.code, e.http_status);
	assert_int_equal(c.status, STATUS_UNAVAILABLE);
	assert_int_equal(c.retry, AWS_ERROR_RETRY_THROTTLE);
	assert_int_equal(aws_error_to_status(&e, NULL, &st), -1);
	assert_string_equal(st.msg, "RequestLimitExceeded (request id r-1): Request limit exceeded.");
}

static void test_parse_sts(void **state)
{
	(void)state;
	struct aws_error e;
	struct status st = STATUS_INIT;
	assert_int_equal(aws_error_parse(STS_BODY, strlen(STS_BODY), 400, &e, &st), 0);
	assert_string_equal(e.type, "Sender");
	assert_string_equal(e.code, "InvalidIdentityToken");
	assert_string_equal(e.request_id, "c6104cbe-af31-11e0-8154-cbc7ccf896c7");
	assert_int_equal(aws_error_to_status(&e, "AssumeRoleWithWebIdentity", &st), -1);
	assert_int_equal(st.code, STATUS_UNAUTHENTICATED);

	/* Throttling on STS, with the request id under ResponseMetadata and a
	 * namespace prefix. */
	const char *b2 = "<q:ErrorResponse xmlns:q=\"https://sts.amazonaws.com/doc/2011-06-15/\"><q:Error>"
			 "<q:Type>Sender</q:Type><q:Code>Throttling</q:Code><q:Message>Rate exceeded</q:Message>"
			 "</q:Error><q:ResponseMetadata><q:RequestId>rid-2</q:RequestId></q:ResponseMetadata>"
			 "</q:ErrorResponse>";
	assert_int_equal(aws_error_parse(b2, strlen(b2), 400, &e, &st), 0);
	assert_string_equal(e.code, "Throttling");
	assert_string_equal(e.request_id, "rid-2");
	assert_int_equal(aws_error_classify(e.code, 400).retry, AWS_ERROR_RETRY_THROTTLE);
}

static void test_parse_bare_error_and_dryrun(void **state)
{
	(void)state;
	const char *b = "<Error><Code>SlowDown</Code><Message>m</Message><RequestId>x</RequestId></Error>";
	struct aws_error e;
	struct status st = STATUS_INIT;
	assert_int_equal(aws_error_parse(b, strlen(b), 503, &e, &st), 0);
	assert_string_equal(e.code, "SlowDown");
	assert_string_equal(e.request_id, "x");

	const char *dry = "<Response><Errors><Error><Code>DryRunOperation</Code><Message>Request would have "
			  "succeeded, but DryRun flag is set.</Message></Error></Errors><RequestID>d</RequestID></Response>";
	assert_int_equal(aws_error_parse(dry, strlen(dry), 412, &e, &st), 0);
	status_set(&st, STATUS_INTERNAL, "stale");
	assert_int_equal(aws_error_to_status(&e, "health", &st), 0);
	assert_int_equal(st.code, STATUS_OK);
	assert_string_equal(st.msg, "");
}

static void expect_parse_fail(const char *body, size_t len, const char *what)
{
	struct aws_error e;
	struct status st = STATUS_INIT;
	if (aws_error_parse(body, len, 500, &e, &st) != -1)
		fail_msg("accepted %s", what);
	assert_int_equal(st.code, STATUS_INTERNAL);
	assert_int_equal(e.http_status, 500);
	assert_string_equal(e.code, "");
	assert_string_equal(e.message, "");
	assert_string_equal(e.request_id, "");
	/* Without a parsed code, the HTTP status decides. */
	assert_int_equal(aws_error_to_status(&e, "op", &st), -1);
	assert_int_equal(st.code, STATUS_UNAVAILABLE);
	assert_string_equal(st.msg, "op: HTTP 500");
}

static void test_parse_bad_bodies(void **state)
{
	(void)state;
	expect_parse_fail(NULL, 0, "NULL");
	expect_parse_fail("", 0, "empty");
	expect_parse_fail("<html><body>502 Bad Gateway</body></html>", 41, "html");
	expect_parse_fail("Service Unavailable", 19, "plain text");
	expect_parse_fail("\x00\x01\x02garbage", 10, "binary");
	/* Truncated at every byte: never a crash, never a half-read code. */
	size_t n = strlen(EC2_BODY);
	for (size_t i = 0; i < n; i++) {
		struct aws_error e;
		if (aws_error_parse(EC2_BODY, i, 503, &e, NULL) == 0)
			fail_msg("truncated body of %zu bytes accepted", i);
		assert_string_equal(e.code, "");
	}
	/* Well-formed but not an error document (a success body). */
	const char *ok = "<DescribeVolumesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
			 "<requestId>x</requestId><volumeSet/></DescribeVolumesResponse>";
	expect_parse_fail(ok, strlen(ok), "success body");
	/* An error document without a Code. */
	const char *nocode = "<Response><Errors><Error><Message>m</Message></Error></Errors></Response>";
	expect_parse_fail(nocode, strlen(nocode), "no code");
	/* Code outside the Error element does not count. */
	const char *misplaced = "<Response><Code>InternalError</Code></Response>";
	expect_parse_fail(misplaced, strlen(misplaced), "misplaced code");
	/* Mismatched tags. */
	const char *bad = "<Response><Errors><Error><Code>X</Message></Error></Errors></Response>";
	expect_parse_fail(bad, strlen(bad), "mismatched");
	/* Trailing garbage after the root. */
	char *trail = xasprintf("%s<junk/>", EC2_BODY);
	expect_parse_fail(trail, strlen(trail), "trailing");
	free(trail);
}

static void test_parse_refuses_dtd(void **state)
{
	(void)state;
	const char *laughs = "<?xml version=\"1.0\"?>\n"
			     "<!DOCTYPE Response [\n"
			     "<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n"
			     "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
			     "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
			     "]>\n"
			     "<Response><Errors><Error><Code>X</Code><Message>&c;</Message></Error></Errors></Response>";
	expect_parse_fail(laughs, strlen(laughs), "billion laughs");
	const char *ext = "<!DOCTYPE Response SYSTEM \"file:///etc/passwd\">"
			  "<Response><Errors><Error><Code>X</Code></Error></Errors></Response>";
	expect_parse_fail(ext, strlen(ext), "external DTD");
}

static void test_parse_sanitises_and_bounds(void **state)
{
	(void)state;
	/* Control characters (character references to CR and TAB, raw newlines,
	 * DEL, C1 controls in UTF-8 such as CSI and NEL; XML 1.0 forbids the other
	 * C0 controls outright) become single spaces; ends are trimmed; other UTF-8
	 * text survives. */
	const char *b = "<Response><Errors><Error><Code>\n  VolumeInUse \n</Code>"
			"<Message>\tvol-1 is\xc2\x9b[31m in use&#13;\r\n by  i-2 \xc2\x85 caf\xc3\xa9\x7f</Message>"
			"</Error></Errors><RequestID>r&#9;1</RequestID></Response>";
	struct aws_error e;
	struct status st = STATUS_INIT;
	assert_int_equal(aws_error_parse(b, strlen(b), 400, &e, &st), 0);
	assert_string_equal(e.code, "VolumeInUse");
	assert_string_equal(e.message, "vol-1 is [31m in use by i-2 caf\xc3\xa9");
	assert_string_equal(e.request_id, "r 1");
	for (const char *p = e.message; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);

	/* A huge message is cut to the bound and marked, at a UTF-8 boundary. */
	size_t big = 100000;
	char *msg = xmalloc(big * 2 + 1);
	for (size_t i = 0; i < big; i++) {
		msg[2 * i] = '\xc3';
		msg[2 * i + 1] = '\xa9';
	}
	msg[big * 2] = '\0';
	char *body = xasprintf("<Response><Errors><Error><Code>InternalError</Code><Message>%s</Message></Error>"
			       "</Errors><RequestID>r</RequestID></Response>",
			       msg);
	assert_int_equal(aws_error_parse(body, strlen(body), 500, &e, &st), 0);
	size_t len = strlen(e.message);
	assert_true(len < AWS_ERROR_MESSAGE_MAX);
	assert_true(len > AWS_ERROR_MESSAGE_MAX - 10);
	assert_string_equal(e.message + len - 3, "...");
	/* Every é before the ellipsis is whole. */
	for (size_t i = 0; i + 3 < len; i += 2) {
		assert_int_equal((unsigned char)e.message[i], 0xc3);
		assert_int_equal((unsigned char)e.message[i + 1], 0xa9);
	}
	assert_string_equal(e.request_id, "r");
	free(body);
	free(msg);

	/* An over-long code is bounded too (and then unknown to the table). */
	char longcode[400];
	memset(longcode, 'A', sizeof longcode - 1);
	longcode[sizeof longcode - 1] = '\0';
	body = xasprintf("<Response><Errors><Error><Code>%s</Code></Error></Errors></Response>", longcode);
	assert_int_equal(aws_error_parse(body, strlen(body), 400, &e, &st), 0);
	assert_true(strlen(e.code) < AWS_ERROR_CODE_MAX);
	assert_int_equal(aws_error_classify(e.code, 400).status, STATUS_INVALID_ARGUMENT);
	free(body);

	/* An error without a message still reads well. */
	const char *nomsg = "<Response><Errors><Error><Code>AuthFailure</Code></Error></Errors></Response>";
	assert_int_equal(aws_error_parse(nomsg, strlen(nomsg), 401, &e, &st), 0);
	assert_int_equal(aws_error_to_status(&e, "ec2", &st), -1);
	assert_int_equal(st.code, STATUS_UNAUTHENTICATED);
	assert_string_equal(st.msg, "ec2: AuthFailure: (no message)");
}

/* Random bytes and randomly mutated valid bodies: never a crash or a leak, and
 * any accepted parse yields bounded, control-free strings. */
static void test_parse_random(void **state)
{
	(void)state;
	unsigned seed = 4242;
	char buf[600];
	size_t base = strlen(EC2_BODY);
	for (int iter = 0; iter < 3000; iter++) {
		size_t n;
		if (iter % 2) {
			memcpy(buf, EC2_BODY, base);
			n = base;
			for (int k = 0; k < 3; k++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % n] = (char)(seed >> 20);
			}
		} else {
			seed = seed * 1103515245u + 12345u;
			n = (seed >> 16) % sizeof buf;
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				buf[i] = "<>/ErrorCodeMsg&;#x\"'\x01\xc3"[(seed >> 16) % 20];
			}
		}
		struct aws_error e;
		if (aws_error_parse(buf, n, 400, &e, NULL) == 0) {
			assert_true(e.code[0] != '\0');
			const char *fields[] = { e.code, e.message, e.request_id, e.type };
			for (size_t f = 0; f < 4; f++)
				for (const char *p = fields[f]; *p; p++)
					assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_http_only),
		cmocka_unit_test(test_parse_ec2),
		cmocka_unit_test(test_parse_ec2_throttle_and_multiple),
		cmocka_unit_test(test_parse_sts),
		cmocka_unit_test(test_parse_bare_error_and_dryrun),
		cmocka_unit_test(test_parse_bad_bodies),
		cmocka_unit_test(test_parse_refuses_dtd),
		cmocka_unit_test(test_parse_sanitises_and_bounds),
		cmocka_unit_test(test_parse_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
