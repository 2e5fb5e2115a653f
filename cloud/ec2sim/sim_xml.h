/*
 * sim_xml: the XML the simulator answers with — an element writer over
 * struct buf, EC2's success envelope (<XResponse xmlns=…><requestId>) and its
 * error body (<Response><Errors><Error><Code/><Message/></Error></Errors>
 * <RequestID/></Response>, aws-facts.md §2.1) — and struct sim_err, the EC2
 * error a handler fails with.
 *
 * Pure: no clock, no I/O. Text is escaped (&, <, >, ", ') and control
 * characters other than tab/newline are dropped, so any string a client sent
 * can be echoed safely. Timestamps are written as EC2 writes them,
 * "2008-05-07T11:51:50.000Z". Elements whose value is NULL are left out.
 */
#ifndef EBS_EC2SIM_SIM_XML_H
#define EBS_EC2SIM_SIM_XML_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

#define SIM_EC2_XMLNS "http://ec2.amazonaws.com/doc/2016-11-15/"

/* An EC2 error to answer with: HTTP status, <Code> and <Message>. */
struct sim_err {
	int http;
	char code[64];
	char msg[512];
};

/* Fills e; always returns -1 so a handler fails in one line. */
int sim_err_set(struct sim_err *e, int http, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* 400 InvalidParameterValue, the most common client error. */
int sim_err_value(struct sim_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 412 DryRunOperation: what EC2 answers a valid DryRun request with. */
int sim_err_dry_run(struct sim_err *e);

void sim_xml_escape(struct buf *b, const char *s);
void sim_xml_open(struct buf *b, const char *name);
void sim_xml_close(struct buf *b, const char *name);
/* <name>escaped value</name>; nothing when value is NULL. */
void sim_xml_str(struct buf *b, const char *name, const char *value);
void sim_xml_int(struct buf *b, const char *name, long long value);
void sim_xml_bool(struct buf *b, const char *name, bool value);
/* <name>YYYY-MM-DDTHH:MM:SS.mmmZ</name> for ms since the epoch. */
void sim_xml_time(struct buf *b, const char *name, int64_t ms);
/* Formats ms as EC2's timestamp into out (cap >= 25). */
void sim_xml_format_time(int64_t ms, char *out, size_t cap);

/* Starts "<?xml…?><ActionResponse xmlns=…><requestId>id</requestId>". */
void sim_xml_begin(struct buf *b, const char *action, const char *request_id);
void sim_xml_end(struct buf *b, const char *action);
/* Writes a whole error document into b (which it resets first). */
void sim_xml_error(struct buf *b, const char *code, const char *message, const char *request_id);

#endif
