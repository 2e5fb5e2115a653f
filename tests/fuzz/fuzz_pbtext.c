/*
 * fuzz_pbtext: decoding of every CSI message (protobuf-c, the generated
 * build/gen/csi.pb-c.c) and its one-line log rendering (csi-proto/pbtext.h).
 *
 * Input: one byte choosing the message type (all 131 descriptors of
 * csi.proto, listed at build time into csi_descriptors.inc), one byte for
 * the output bound (16..4096), then the wire bytes.
 * Oracles: the rendering appends at most max_len bytes after what the
 * buffer held, keeps the buffer NUL-terminated, and never shows the value
 * of a "secrets" entry (checked for values of at least 16 alphanumeric
 * characters that appear in no other string of the message, so a match
 * can only be the secret itself).
 */
#include "tests/fuzz/fuzz_util.h"

#include "common/buf.h"
#include "csi-proto/pbtext.h"

#include "csi.pb-c.h"

#include <ctype.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ProtobufCMessageDescriptor *const descs[] = {
#include "csi_descriptors.inc"
};
#define NDESCS (sizeof descs / sizeof descs[0])

struct strs {
	const char *v[512];
	size_t n;
};

static void add(struct strs *s, const char *p)
{
	if (p != NULL && s->n < sizeof s->v / sizeof s->v[0])
		s->v[s->n++] = p;
}

/* Collects the string fields of m (recursively) into plain, and the values
 * of "secrets" map entries into secret. */
static void walk(const ProtobufCMessage *m, struct strs *plain, struct strs *secret, int depth)
{
	if (m == NULL || depth > 32)
		return;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const char *base = (const char *)m;
		if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(const void *)(base + fd->quantifier_offset) != fd->id)
			continue;
		bool is_secret = strcmp(fd->name, "secrets") == 0;
		size_t count = 1;
		const void *p = base + fd->offset;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			count = *(const size_t *)(const void *)(base + fd->quantifier_offset);
			p = *(void *const *)p;
		}
		for (size_t k = 0; k < count; k++) {
			if (fd->type == PROTOBUF_C_TYPE_STRING) {
				const char *s = ((const char *const *)p)[k];
				add(plain, s);
			} else if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
				const ProtobufCMessage *sub = ((const ProtobufCMessage *const *)p)[k];
				if (is_secret && sub != NULL) {
					/* A map entry: key (field 1) and value (field 2). */
					const ProtobufCMessageDescriptor *sd = sub->descriptor;
					for (unsigned j = 0; j < sd->n_fields; j++) {
						if (sd->fields[j].type != PROTOBUF_C_TYPE_STRING)
							continue;
						const char *s = *(const char *const *)(const void *)((const char *)sub +
												     sd->fields[j].offset);
						if (strcmp(sd->fields[j].name, "value") == 0)
							add(secret, s);
						else
							add(plain, s);
					}
				} else {
					walk(sub, plain, secret, depth + 1);
				}
			}
		}
	}
}

static bool alnum16(const char *s)
{
	size_t n = 0;
	for (; *s; s++, n++)
		if (!isalnum((unsigned char)*s))
			return false;
	return n >= 16;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	const ProtobufCMessageDescriptor *d = descs[fz_byte(&f) % NDESCS];
	size_t max_len = 16u << (fz_byte(&f) % 9);
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, f.n, f.p);
	if (m == NULL)
		return 0;
	struct buf b;
	buf_init(&b);
	buf_puts(&b, "prefix ");
	size_t before = b.len;
	pbtext_format(m, &b, max_len);
	if (b.len - before > max_len || b.data[b.len] != '\0' || memcmp(b.data, "prefix ", 7) != 0) {
		fprintf(stderr, "rendering of %zu bytes exceeds max_len %zu\n", b.len - before, max_len);
		abort();
	}
	struct strs plain = { .n = 0 }, secret = { .n = 0 };
	walk(m, &plain, &secret, 0);
	for (size_t i = 0; i < secret.n; i++) {
		if (!alnum16(secret.v[i]))
			continue;
		bool elsewhere = false;
		for (size_t j = 0; j < plain.n && !elsewhere; j++)
			elsewhere = strstr(plain.v[j], secret.v[i]) != NULL;
		for (size_t j = 0; j < secret.n && !elsewhere; j++)
			elsewhere = j != i && strstr(secret.v[j], secret.v[i]) != NULL;
		if (!elsewhere && strstr(b.data, secret.v[i]) != NULL) {
			fprintf(stderr, "secret value shown: %s\n", b.data);
			abort();
		}
	}
	buf_dispose(&b);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
