/*
 * ec2_xml: the expat driver shared by every EC2 response parser, the error-body
 * path, and the sub-parsers for objects that occur in several actions (Volume,
 * VolumeAttachment, Snapshot, VolumeModification, tag sets). See ec2_xml.h and
 * ec2_xml_internal.h.
 *
 * Expat runs in namespace mode (local names after '\x01'); DOCTYPE and entity
 * declarations stop the parse. A root of <Response> or <ErrorResponse> means an
 * error document even under HTTP 200: the parse stops and aws_error reads the
 * whole body. Text is collected into one bounded buffer per parse, reset at
 * every element boundary, so ignored elements cost nothing that grows.
 */
#include "cloud/ec2_xml_internal.h"

#include "cloud/aws_error.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small pieces ---------------------------------------------------------- */

bool ec2_xp_is(const struct ec2_xp *x, int d, const char *name)
{
	return d >= 1 && d <= x->depth && strcmp(x->names[d], name) == 0;
}

const char *ec2_xp_name(const struct ec2_xp *x)
{
	return x->names[x->depth];
}

bool ec2_xp_item_of(const struct ec2_xp *x, const char *set)
{
	return x->depth == 3 && ec2_xp_is(x, 2, set);
}

bool ec2_xp_inside_item_of(const struct ec2_xp *x, const char *set)
{
	return x->depth > 3 && ec2_xp_is(x, 2, set);
}

void ec2_xp_fail(struct ec2_xp *x, const char *fmt, ...)
{
	if (x->failed)
		return;
	char msg[STATUS_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	status_set(&x->err, STATUS_INTERNAL, "%s: %s", x->action, msg);
	x->failed = true;
	XML_StopParser(x->g.parser, XML_FALSE);
}

const char *ec2_xp_text(struct ec2_xp *x)
{
	char *s = x->text;
	size_t n = x->text_len;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	s[n] = '\0';
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

int ec2_xml_parse_time(const char *s, int64_t *ms)
{
	/* YYYY-MM-DDTHH:MM:SS[.f+]Z — what EC2 sends (ISO 8601, UTC). */
	int Y, M, D, h, m, sec, n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 19)
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || Y < 1970 || h < 0 || m < 0 ||
	    sec < 0)
		return -1;
	const char *p = s + n;
	int64_t frac_ms = 0;
	if (*p == '.') {
		int digits = 0;
		p++;
		while (isdigit((unsigned char)*p)) {
			if (digits < 3)
				frac_ms = frac_ms * 10 + (*p - '0');
			digits++;
			p++;
		}
		if (digits == 0)
			return -1;
		for (; digits < 3; digits++)
			frac_ms *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m,
			 .tm_sec = sec };
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + frac_ms;
	return 0;
}

static bool parse_i64(const char *s, int64_t *v)
{
	if (*s == '\0')
		return false;
	errno = 0;
	char *end;
	long long r = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*v = r;
	return true;
}

bool ec2_xp_fields(struct ec2_xp *x, const struct ec2_xf_field *tab, size_t n, void *obj)
{
	const char *name = ec2_xp_name(x);
	size_t i;
	for (i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			break;
	if (i == n)
		return false;
	if (x->text_over) {
		ec2_xp_fail(x, "<%s> is longer than %d bytes", name, EC2_XML_TEXT_MAX);
		return true;
	}
	const char *t = ec2_xp_text(x);
	void *p = (char *)obj + tab[i].off;
	int64_t v = 0;
	/* An empty element (<iops/>) means "not set" for everything but strings. */
	if (*t == '\0' && tab[i].type != EC2_XF_STR)
		return true;
	switch (tab[i].type) {
	case EC2_XF_STR:
		free(*(char **)p);
		*(char **)p = xstrdup(t);
		break;
	case EC2_XF_I64:
		if (!parse_i64(t, &v))
			goto bad_int;
		*(int64_t *)p = v;
		break;
	case EC2_XF_I32:
		if (!parse_i64(t, &v) || v < INT32_MIN || v > INT32_MAX)
			goto bad_int;
		*(int32_t *)p = (int32_t)v;
		break;
	case EC2_XF_INT:
		if (!parse_i64(t, &v) || v < INT_MIN || v > INT_MAX)
			goto bad_int;
		*(int *)p = (int)v;
		break;
	case EC2_XF_BOOL:
		if (strcmp(t, "true") == 0)
			*(bool *)p = true;
		else if (strcmp(t, "false") == 0)
			*(bool *)p = false;
		else
			ec2_xp_fail(x, "<%s> is not a boolean", name);
		break;
	case EC2_XF_TIME:
		if (ec2_xml_parse_time(t, &v) < 0)
			ec2_xp_fail(x, "<%s> is not an ISO 8601 UTC timestamp", name);
		else
			*(int64_t *)p = v;
		break;
	case EC2_XF_DISK_STATE:
		*(enum cloud_disk_state *)p = cloud_disk_state_parse(t);
		break;
	case EC2_XF_ATTACH_STATE:
		*(enum cloud_attach_state *)p = cloud_attach_state_parse(t);
		break;
	case EC2_XF_SNAP_STATE:
		*(enum cloud_snapshot_state *)p = cloud_snapshot_state_parse(t);
		break;
	case EC2_XF_MOD_STATE:
		*(enum cloud_mod_state *)p = cloud_mod_state_parse(t);
		break;
	case EC2_XF_PERCENT: {
		/* "80%" (the % is optional: mock servers omit it). */
		char num[24];
		size_t len = strlen(t);
		if (len > 0 && t[len - 1] == '%')
			len--;
		if (len == 0 || len >= sizeof num)
			goto bad_int;
		memcpy(num, t, len);
		num[len] = '\0';
		if (!parse_i64(num, &v) || v < 0 || v > 100)
			goto bad_int;
		*(int *)p = (int)v;
		break;
	}
	}
	return true;
bad_int:
	ec2_xp_fail(x, "<%s> is not a valid integer", name);
	return true;
}

/* ---- expat callbacks ----------------------------------------------------------- */

static const char *local_name(const XML_Char *name)
{
	const char *sep = strrchr(name, '\x01');
	return sep ? sep + 1 : name;
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	(void)attrs;
	struct ec2_xp *x = data;
	if (x->failed)
		return;
	if (x->depth >= EC2_XML_MAX_DEPTH) {
		ec2_xp_fail(x, "response XML nests deeper than %d elements", EC2_XML_MAX_DEPTH);
		return;
	}
	x->depth++;
	const char *n = local_name(name);
	/* A name that does not fit matches nothing we read: store it as "". */
	if (strlen(n) < EC2_XP_NAME_MAX)
		strcpy(x->names[x->depth], n);
	else
		x->names[x->depth][0] = '\0';
	x->text_len = 0;
	x->text_over = false;
	if (x->depth == 1) {
		char want[EC2_XP_NAME_MAX];
		snprintf(want, sizeof want, "%sResponse", x->action);
		if (strcmp(n, "Response") == 0 || strcmp(n, "ErrorResponse") == 0) {
			x->error_doc = true;
			XML_StopParser(x->g.parser, XML_FALSE);
		} else if (strcmp(n, want) != 0) {
			/* Cut the name: it is the server's text, and may be junk. */
			ec2_xp_fail(x, "unexpected root element <%.40s>", n);
		}
		return;
	}
	if (x->on_start)
		x->on_start(x);
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
	(void)name;
	struct ec2_xp *x = data;
	if (x->failed || x->depth == 0)
		return;
	if (x->depth >= 2 && x->on_end)
		x->on_end(x);
	x->depth--;
	x->text_len = 0;
	x->text_over = false;
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
	struct ec2_xp *x = data;
	if (len <= 0 || x->failed)
		return;
	size_t room = EC2_XML_TEXT_MAX - x->text_len;
	size_t n = (size_t)len;
	if (n > room) {
		n = room;
		x->text_over = true;
	}
	memcpy(x->text + x->text_len, s, n);
	x->text_len += n;
}

void ec2_xp_drop_empty(char **token)
{
	if (*token != NULL && **token == '\0') {
		free(*token);
		*token = NULL;
	}
}

int ec2_xp_run(struct ec2_xp *x, const char *body, size_t len, struct status *st)
{
	int rc = -1;
	x->depth = 0;
	x->failed = x->error_doc = false;
	status_clear(&x->err);
	if (body == NULL || len == 0) {
		status_set(st, STATUS_INTERNAL, "%s: empty response body", x->action);
		goto out;
	}
	if (len > INT_MAX) {
		status_set(st, STATUS_INTERNAL, "%s: response body too large", x->action);
		goto out;
	}
	x->text = xmalloc(EC2_XML_TEXT_MAX + 1);
	x->g.parser = XML_ParserCreateNS(NULL, '\x01');
	if (x->g.parser == NULL) {
		status_set(st, STATUS_INTERNAL, "%s: cannot create an XML parser", x->action);
		goto out;
	}
	XML_SetUserData(x->g.parser, x);
	XML_SetElementHandler(x->g.parser, on_start, on_end);
	XML_SetCharacterDataHandler(x->g.parser, on_text);
	xml_guard_install(&x->g);
	enum XML_Status xs = XML_Parse(x->g.parser, body, (int)len, 1);
	if (x->error_doc) {
		rc = ec2_xml_error(x->action, 200, body, len, st);
	} else if (x->g.refused) {
		status_set(st, STATUS_INTERNAL, "%s: response XML declares a DTD or entity; refused", x->action);
	} else if (x->failed) {
		status_copy(st, &x->err);
	} else if (xs != XML_STATUS_OK) {
		status_set(st, STATUS_INTERNAL, "%s: malformed response XML (line %lu: %s)", x->action,
			   (unsigned long)XML_GetCurrentLineNumber(x->g.parser),
			   XML_ErrorString(XML_GetErrorCode(x->g.parser)));
	} else {
		rc = 0;
	}
out:
	if (x->g.parser != NULL)
		XML_ParserFree(x->g.parser);
	x->g.parser = NULL;
	free(x->text);
	x->text = NULL;
	free(x->tag_key);
	free(x->tag_value);
	free(x->s1);
	free(x->s2);
	free(x->s3);
	x->tag_key = x->tag_value = x->s1 = x->s2 = x->s3 = NULL;
	return rc;
}

int ec2_xml_error(const char *action, int http_status, const char *body, size_t len, struct status *st)
{
	struct aws_error e;
	struct status pst = STATUS_INIT;
	if (body != NULL && len > 0 && aws_error_parse(body, len, http_status, &e, &pst) == 0)
		return aws_error_to_status(&e, action, st);
	struct aws_error_class c = aws_error_classify_http(http_status);
	return status_set(st, c.status == STATUS_OK ? STATUS_UNKNOWN : c.status,
			  "%s: HTTP %d without an EC2 error body", action, http_status);
}

/* ---- tags ------------------------------------------------------------------------- */

void ec2_xp_tag_start(struct ec2_xp *x, int item_depth)
{
	if (x->depth == item_depth) {
		free(x->tag_key);
		free(x->tag_value);
		x->tag_key = x->tag_value = NULL;
	}
}

void ec2_xp_tag_end(struct ec2_xp *x, int item_depth, struct cloud_tags *tags)
{
	static const struct ec2_xf_field f[] = {
		{ "key", EC2_XF_STR, offsetof(struct ec2_xp, tag_key) },
		{ "value", EC2_XF_STR, offsetof(struct ec2_xp, tag_value) },
	};
	if (x->depth == item_depth + 1) {
		EC2_XP_FIELDS(x, f, x);
	} else if (x->depth == item_depth && x->tag_key != NULL) {
		cloud_tags_set(tags, x->tag_key, x->tag_value);
		free(x->tag_key);
		free(x->tag_value);
		x->tag_key = x->tag_value = NULL;
	}
}

/* ---- Volume, VolumeAttachment ---------------------------------------------------------- */

#define F(name, type, st, member) { name, EC2_XF_##type, offsetof(struct st, member) }

static const struct ec2_xf_field attachment_fields[] = {
	F("volumeId", STR, cloud_attachment, volume_id),
	F("instanceId", STR, cloud_attachment, instance_id),
	F("device", STR, cloud_attachment, device),
	F("status", ATTACH_STATE, cloud_attachment, state),
	F("attachTime", TIME, cloud_attachment, attach_time_ms),
	F("deleteOnTermination", BOOL, cloud_attachment, delete_on_termination),
};

void ec2_xp_attachment_end(struct ec2_xp *x, int b, struct cloud_attachment *a)
{
	if (x->depth == b + 1)
		EC2_XP_FIELDS(x, attachment_fields, a);
}

static const struct ec2_xf_field volume_fields[] = {
	F("volumeId", STR, cloud_disk, volume_id),
	F("size", I64, cloud_disk, size_gib),
	F("snapshotId", STR, cloud_disk, snapshot_id),
	F("sourceVolumeId", STR, cloud_disk, source_volume_id),
	F("availabilityZone", STR, cloud_disk, zone),
	F("availabilityZoneId", STR, cloud_disk, zone_id),
	F("status", DISK_STATE, cloud_disk, state),
	F("createTime", TIME, cloud_disk, create_time_ms),
	F("volumeType", STR, cloud_disk, volume_type),
	F("iops", I32, cloud_disk, iops),
	F("throughput", I32, cloud_disk, throughput),
	F("encrypted", BOOL, cloud_disk, encrypted),
	F("kmsKeyId", STR, cloud_disk, kms_key_id),
	F("multiAttachEnabled", BOOL, cloud_disk, multi_attach),
	F("fastRestored", BOOL, cloud_disk, fast_restored),
	F("outpostArn", STR, cloud_disk, outpost_arn),
};

void ec2_xp_volume_start(struct ec2_xp *x, int b, struct cloud_disk *d)
{
	if (x->depth == b + 2 && ec2_xp_is(x, b + 1, "attachmentSet"))
		cloud_disk_add_attachment(d);
	else if (ec2_xp_is(x, b + 1, "tagSet"))
		ec2_xp_tag_start(x, b + 2);
}

void ec2_xp_volume_end(struct ec2_xp *x, int b, struct cloud_disk *d)
{
	if (x->depth == b + 1)
		EC2_XP_FIELDS(x, volume_fields, d);
	else if (x->depth > b + 2 && ec2_xp_is(x, b + 1, "attachmentSet") && d->n_attachments > 0)
		ec2_xp_attachment_end(x, b + 2, &d->attachments[d->n_attachments - 1]);
	else if (x->depth > b + 1 && ec2_xp_is(x, b + 1, "tagSet"))
		ec2_xp_tag_end(x, b + 2, &d->tags);
}

/* ---- Snapshot ------------------------------------------------------------------------ */

static const struct ec2_xf_field snapshot_fields[] = {
	F("snapshotId", STR, cloud_snapshot, snapshot_id),
	F("volumeId", STR, cloud_snapshot, volume_id),
	F("status", SNAP_STATE, cloud_snapshot, state),
	F("statusMessage", STR, cloud_snapshot, status_message),
	F("startTime", TIME, cloud_snapshot, start_time_ms),
	F("progress", PERCENT, cloud_snapshot, progress_percent),
	F("ownerId", STR, cloud_snapshot, owner_id),
	F("description", STR, cloud_snapshot, description),
	F("volumeSize", I64, cloud_snapshot, volume_size_gib),
	F("encrypted", BOOL, cloud_snapshot, encrypted),
	F("kmsKeyId", STR, cloud_snapshot, kms_key_id),
	F("outpostArn", STR, cloud_snapshot, outpost_arn),
	F("storageTier", STR, cloud_snapshot, storage_tier),
};

void ec2_xp_snapshot_start(struct ec2_xp *x, int b, struct cloud_snapshot *s)
{
	(void)s;
	if (ec2_xp_is(x, b + 1, "tagSet"))
		ec2_xp_tag_start(x, b + 2);
}

void ec2_xp_snapshot_end(struct ec2_xp *x, int b, struct cloud_snapshot *s)
{
	if (x->depth == b + 1)
		EC2_XP_FIELDS(x, snapshot_fields, s);
	else if (x->depth > b + 1 && ec2_xp_is(x, b + 1, "tagSet"))
		ec2_xp_tag_end(x, b + 2, &s->tags);
}

/* ---- VolumeModification ----------------------------------------------------------------- */

static const struct ec2_xf_field modification_fields[] = {
	F("volumeId", STR, cloud_modification, volume_id),
	F("modificationState", MOD_STATE, cloud_modification, state),
	F("statusMessage", STR, cloud_modification, status_message),
	F("targetSize", I64, cloud_modification, target_size_gib),
	F("targetIops", I32, cloud_modification, target_iops),
	F("targetVolumeType", STR, cloud_modification, target_type),
	F("targetThroughput", I32, cloud_modification, target_throughput),
	F("targetMultiAttachEnabled", BOOL, cloud_modification, target_multi_attach),
	F("originalSize", I64, cloud_modification, original_size_gib),
	F("originalIops", I32, cloud_modification, original_iops),
	F("originalVolumeType", STR, cloud_modification, original_type),
	F("originalThroughput", I32, cloud_modification, original_throughput),
	F("progress", I64, cloud_modification, progress),
	F("startTime", TIME, cloud_modification, start_time_ms),
	F("endTime", TIME, cloud_modification, end_time_ms),
};

void ec2_xp_modification_end(struct ec2_xp *x, int b, struct cloud_modification *m)
{
	if (x->depth == b + 1)
		EC2_XP_FIELDS(x, modification_fields, m);
}

/* ---- the <return> actions ------------------------------------------------------------------ */

static void return_end(struct ec2_xp *x)
{
	if (x->depth == 2 && strcmp(ec2_xp_name(x), "return") == 0) {
		const char *t = ec2_xp_text(x);
		if (strcmp(t, "false") == 0)
			ec2_xp_fail(x, "EC2 answered <return>false</return>");
		else if (strcmp(t, "true") != 0)
			ec2_xp_fail(x, "<return> is not a boolean");
	}
}

int ec2_xml_return(const char *action, const char *body, size_t len, struct status *st)
{
	struct ec2_xp x = { .action = action, .on_end = return_end };
	return ec2_xp_run(&x, body, len, st);
}
