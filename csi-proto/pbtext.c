/*
 * pbtext: renders protobuf-c messages as `{name:"x" capacity_range:{required_bytes:1}}`
 * by walking their descriptors. It knows nothing of CSI except that fields named
 * "secrets" must never be shown (the spec marks them csi_secret; our proto keeps
 * that mark as a comment, so the name is the contract). Zero-valued proto3
 * scalars are omitted, as proto3 cannot tell them from absent. Strings are
 * quoted and escaped so a log line stays one line.
 */
#include "csi-proto/pbtext.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

static void put_str(struct buf *b, const char *s, size_t len)
{
	buf_putc(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(b, "\\x%02x", c);
		} else {
			buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

static void put_msg(struct buf *b, const ProtobufCMessage *m, int depth);

/* Prints the value at p (one element) of field f. */
static void put_value(struct buf *b, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		buf_printf(b, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		buf_printf(b, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		buf_printf(b, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		buf_printf(b, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		buf_printf(b, "%g", (double)*(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		buf_printf(b, "%g", *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		buf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
		if (ev != NULL)
			buf_puts(b, ev->name);
		else
			buf_printf(b, "%d", *(const int *)p);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		put_str(b, s ? s : "", s ? strlen(s) : 0);
		break;
	}
	case PROTOBUF_C_TYPE_BYTES:
		buf_printf(b, "<%zu bytes>", ((const ProtobufCBinaryData *)p)->len);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		put_msg(b, *(ProtobufCMessage *const *)p, depth + 1);
		break;
	}
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;
	}
}

static int is_zero(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return s == NULL || *s == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p == NULL;
	default: {
		static const unsigned char zeros[8];
		return memcmp(p, zeros, elem_size(f)) == 0;
	}
	}
}

static void put_msg(struct buf *b, const ProtobufCMessage *m, int depth)
{
	if (m == NULL) {
		buf_puts(b, "<nil>");
		return;
	}
	if (depth > 32) {
		buf_puts(b, "{...}");
		return;
	}
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	bool first = true;
	buf_putc(b, '{');
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *p = base + f->offset;
		size_t count = 1;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			count = *(const size_t *)(base + f->quantifier_offset);
			if (count == 0)
				continue;
		} else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
			   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
			if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
				continue;
		} else if (is_zero(f, p)) {
			continue;
		}
		if (!first)
			buf_putc(b, ' ');
		first = false;
		buf_printf(b, "%s:", f->name);
		if (strcmp(f->name, "secrets") == 0) {
			buf_printf(b, "***(%zu)", count);
			continue;
		}
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			put_value(b, f, p, depth);
			continue;
		}
		const char *arr = *(const char *const *)p;
		buf_putc(b, '[');
		for (size_t k = 0; k < count; k++) {
			if (k)
				buf_putc(b, ' ');
			put_value(b, f, arr + k * elem_size(f), depth);
		}
		buf_putc(b, ']');
	}
	buf_putc(b, '}');
}

void pbtext_format(const ProtobufCMessage *msg, struct buf *out, size_t max_len)
{
	struct buf tmp;
	buf_init(&tmp);
	put_msg(&tmp, msg, 0);
	if (tmp.len > max_len && max_len >= 3) {
		buf_append(out, tmp.data, max_len - 3);
		buf_puts(out, "...");
	} else {
		buf_append(out, tmp.data, tmp.len);
	}
	buf_dispose(&tmp);
}
