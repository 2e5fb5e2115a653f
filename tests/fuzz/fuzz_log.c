/*
 * fuzz_log: log line escaping (common/log.h) of arbitrary strings — volume
 * names, paths and AWS messages reach the log without prior validation.
 *
 * Input: one byte (bit 0: JSON or text format, bits 1-2: how many key/value
 * pairs), then NUL-separated fields: the message, then the values (keys are
 * literals in the driver and fixed here).
 * The output goes to a memfd and is read back. Oracles: exactly one line
 * (one '\n', at the end) without '\r' or other control characters but tab;
 * in JSON format the line parses with jansson, and for ASCII input "msg"
 * and every value come back unchanged; log_printf("%s") of the message
 * gives the same line shape.
 */
#include "tests/fuzz/fuzz_util.h"

#include "common/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int out_fd = -1;
static char *line;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	out_fd = memfd_create("fuzz-log", MFD_CLOEXEC);
	if (out_fd < 0)
		abort();
	log_set_fd(out_fd);
	return 0;
}

/* The line written since the last reset, NUL-terminated (static buffer). */
static size_t take_line(void)
{
	off_t len = lseek(out_fd, 0, SEEK_CUR);
	free(line);
	line = malloc((size_t)len + 1);
	if (line == NULL || pread(out_fd, line, (size_t)len, 0) != len)
		abort();
	line[len] = '\0';
	if (ftruncate(out_fd, 0) != 0 || lseek(out_fd, 0, SEEK_SET) != 0)
		abort();
	return (size_t)len;
}

static void check_shape(size_t len)
{
	if (len == 0 || line[len - 1] != '\n')
		abort();
	for (size_t i = 0; i + 1 < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\n' || c == '\r' || (c < 0x20 && c != '\t') || c == 0x7f) {
			fprintf(stderr, "raw control character 0x%02x at %zu in: %s\n", c, i, line);
			abort();
		}
	}
}

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static void check_json(size_t len, const char *msg, const char *const *vals, size_t nv)
{
	static const char *const keys[] = { "volume", "path", "err" };
	json_error_t jerr;
	json_t *doc = json_loadb(line, len, 0, &jerr);
	if (doc == NULL) {
		fprintf(stderr, "JSON log line does not parse (%s): %s\n", jerr.text, line);
		abort();
	}
	if (ascii(msg) && strcmp(json_string_value(json_object_get(doc, "msg")), msg) != 0)
		abort();
	for (size_t i = 0; i < nv; i++) {
		const char *got = json_string_value(json_object_get(doc, keys[i]));
		if (got == NULL || (ascii(vals[i]) && strcmp(got, vals[i]) != 0))
			abort();
	}
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t sel = fz_byte(&f);
	bool json = sel & 1;
	size_t nv = (sel >> 1) & 3;
	if (nv > 3)
		nv = 3;
	log_configure(json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT, 0);
	char *msg = fz_str(&f, NULL);
	char *v[3] = { NULL, NULL, NULL };
	for (size_t i = 0; i < nv; i++)
		v[i] = fz_str(&f, NULL);
	switch (nv) {
	case 0:
		log_kv(LOG_SEV_INFO, 0, __FILE__, __LINE__, msg, (const char *)NULL);
		break;
	case 1:
		log_kv(LOG_SEV_WARNING, 0, __FILE__, __LINE__, msg, "volume", v[0], (const char *)NULL);
		break;
	case 2:
		log_kv(LOG_SEV_ERROR, 0, __FILE__, __LINE__, msg, "volume", v[0], "path", v[1], (const char *)NULL);
		break;
	default:
		log_kv(LOG_SEV_ERROR, 0, __FILE__, __LINE__, msg, "volume", v[0], "path", v[1], "err", v[2],
		       (const char *)NULL);
		break;
	}
	size_t len = take_line();
	check_shape(len);
	if (json)
		check_json(len, msg, (const char *const *)v, nv);
	log_printf(LOG_SEV_INFO, 0, __FILE__, __LINE__, "%s", msg);
	len = take_line();
	check_shape(len);
	if (json)
		check_json(len, msg, NULL, 0);
	for (size_t i = 0; i < nv; i++)
		free(v[i]);
	free(msg);
	return 0;
}
