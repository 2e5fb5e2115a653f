/*
 * fuzz_ec2_xml: the EC2 Query API response parsers (cloud/ec2_xml.h), one per
 * action, the error-body parser (cloud/aws_error.h) and ec2_xml_error.
 *
 * Input: one selector byte (which parser), then the body as it came over
 * HTTP (not NUL-terminated: the parsers take a length). Oracles besides the
 * sanitizers: every out-struct is disposable whatever the result; a failure
 * sets a status code; aws_error_parse leaves bounded, NUL-terminated strings
 * without control characters (its documented invariant: they go into logs).
 */
#include "tests/fuzz/fuzz_util.h"

#include "cloud/aws_error.h"
#include "cloud/cloud.h"
#include "cloud/ec2_xml.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_status(int rc, const struct status *st)
{
	if (rc != 0 && st->code == STATUS_OK)
		abort(); /* a failure must say why */
	if (memchr(st->msg, 0, sizeof st->msg) == NULL)
		abort();
}

static void check_clean(const char *s, size_t cap)
{
	const char *end = memchr(s, 0, cap);
	if (end == NULL)
		abort();
	for (const char *p = s; p < end; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t sel = fz_byte(&f);
	size_t len;
	char *body = fz_rest(&f, &len);
	struct status st = STATUS_INIT;
	int rc = 0;

	switch (sel % 18) {
	case 0: {
		struct cloud_disk d;
		rc = ec2_xml_create_volume(body, len, &d, &st);
		cloud_disk_dispose(&d);
		break;
	}
	case 1: {
		struct cloud_disk_list l;
		rc = ec2_xml_copy_volumes(body, len, &l, &st);
		cloud_disk_list_dispose(&l);
		break;
	}
	case 2: {
		struct cloud_disk_list l;
		rc = ec2_xml_describe_volumes(body, len, &l, &st);
		cloud_disk_list_dispose(&l);
		break;
	}
	case 3:
	case 4: {
		struct cloud_attachment a;
		rc = ec2_xml_attachment(sel % 18 == 3 ? "AttachVolume" : "DetachVolume", body, len, &a, &st);
		cloud_attachment_dispose(&a);
		break;
	}
	case 5:
		rc = ec2_xml_return("DeleteVolume", body, len, &st);
		break;
	case 6: {
		struct cloud_instance_list l;
		rc = ec2_xml_describe_instances(body, len, &l, &st);
		cloud_instance_list_dispose(&l);
		break;
	}
	case 7: {
		struct cloud_instance_type_list l;
		rc = ec2_xml_describe_instance_types(body, len, &l, &st);
		cloud_instance_type_list_dispose(&l);
		break;
	}
	case 8: {
		struct cloud_zone_list l;
		rc = ec2_xml_describe_availability_zones(body, len, &l, &st);
		cloud_zone_list_dispose(&l);
		break;
	}
	case 9: {
		struct cloud_snapshot s;
		rc = ec2_xml_create_snapshot(body, len, &s, &st);
		cloud_snapshot_dispose(&s);
		break;
	}
	case 10: {
		struct cloud_snapshot_list l;
		rc = ec2_xml_describe_snapshots(body, len, &l, &st);
		cloud_snapshot_list_dispose(&l);
		break;
	}
	case 11: {
		struct cloud_modification m;
		rc = ec2_xml_modify_volume(body, len, &m, &st);
		cloud_modification_dispose(&m);
		break;
	}
	case 12: {
		struct cloud_modification_list l;
		rc = ec2_xml_describe_volumes_modifications(body, len, &l, &st);
		cloud_modification_list_dispose(&l);
		break;
	}
	case 13: {
		struct cloud_volume_status_list l;
		rc = ec2_xml_describe_volume_status(body, len, &l, &st);
		cloud_volume_status_list_dispose(&l);
		break;
	}
	case 14: {
		struct cloud_fsr_result r;
		rc = ec2_xml_enable_fsr(body, len, &r, &st);
		cloud_fsr_result_dispose(&r);
		break;
	}
	case 15: {
		struct aws_error e;
		rc = aws_error_parse(body, len, 400, &e, &st);
		check_clean(e.code, sizeof e.code);
		check_clean(e.message, sizeof e.message);
		check_clean(e.request_id, sizeof e.request_id);
		check_clean(e.type, sizeof e.type);
		if (rc == 0) {
			if (e.code[0] == '\0')
				abort(); /* documented: 0 only with a non-empty Code */
			struct status st2 = STATUS_INIT;
			aws_error_to_status(&e, "Fuzz", &st2);
			check_status(0, &st2);
			(void)aws_error_classify(e.code, e.http_status);
		}
		break;
	}
	case 16: {
		int http = 400 + (len ? (unsigned char)body[0] % 200 : 0);
		rc = ec2_xml_error("CreateVolume", http, body, len, &st);
		if (rc == 0 && st.code != STATUS_OK)
			abort();
		rc = 0;
		break;
	}
	case 17: {
		/* Timestamps, NUL-terminated. */
		char *s = malloc(len + 1);
		if (s == NULL)
			abort();
		memcpy(s, body, len);
		s[len] = '\0';
		int64_t ms;
		(void)ec2_xml_parse_time(s, &ms);
		free(s);
		break;
	}
	}
	check_status(rc, &st);
	free(body);
	return 0;
}
