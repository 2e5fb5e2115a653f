/*
 * sim_xml: XML writer, EC2 envelopes and struct sim_err. See sim_xml.h.
 *
 * Output is compact (no indentation): botocore and the driver parse it as a
 * tree, and compact bodies keep the stats and benchmarks honest about size.
 * Invalid UTF-8 is not repaired; the simulator only echoes strings it parsed
 * from a form body, which botocore always sends as UTF-8.
 */
#include "cloud/ec2sim/sim_xml.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int sim_err_set(struct sim_err *e, int http, const char *code, const char *fmt, ...)
{
	if (e == NULL)
		return -1;
	e->http = http;
	snprintf(e->code, sizeof e->code, "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int sim_err_value(struct sim_err *e, const char *fmt, ...)
{
	if (e == NULL)
		return -1;
	e->http = 400;
	snprintf(e->code, sizeof e->code, "InvalidParameterValue");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int sim_err_dry_run(struct sim_err *e)
{
	return sim_err_set(e, 412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
}

void sim_xml_escape(struct buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&apos;");
			break;
		default:
			if (*p < 0x20 && *p != '\t' && *p != '\n')
				break;  /* not representable in XML 1.0 */
			buf_putc(b, (char)*p);
		}
	}
}

void sim_xml_open(struct buf *b, const char *name)
{
	buf_printf(b, "<%s>", name);
}

void sim_xml_close(struct buf *b, const char *name)
{
	buf_printf(b, "</%s>", name);
}

void sim_xml_str(struct buf *b, const char *name, const char *value)
{
	if (value == NULL)
		return;
	sim_xml_open(b, name);
	sim_xml_escape(b, value);
	sim_xml_close(b, name);
}

void sim_xml_int(struct buf *b, const char *name, long long value)
{
	buf_printf(b, "<%s>%lld</%s>", name, value, name);
}

void sim_xml_bool(struct buf *b, const char *name, bool value)
{
	buf_printf(b, "<%s>%s</%s>", name, value ? "true" : "false", name);
}

void sim_xml_format_time(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void sim_xml_time(struct buf *b, const char *name, int64_t ms)
{
	char ts[40];
	sim_xml_format_time(ms, ts, sizeof ts);
	sim_xml_str(b, name, ts);
}

void sim_xml_begin(struct buf *b, const char *action, const char *request_id)
{
	buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse xmlns=\"%s\">", action, SIM_EC2_XMLNS);
	sim_xml_str(b, "requestId", request_id);
}

void sim_xml_end(struct buf *b, const char *action)
{
	buf_printf(b, "</%sResponse>", action);
}

void sim_xml_error(struct buf *b, const char *code, const char *message, const char *request_id)
{
	buf_reset(b);
	buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>");
	sim_xml_str(b, "Code", code);
	sim_xml_str(b, "Message", message);
	buf_puts(b, "</Error></Errors>");
	sim_xml_str(b, "RequestID", request_id);
	buf_puts(b, "</Response>");
}
