/*
 * ini: a parser for the AWS shared config and credentials files
 * (~/.aws/config, ~/.aws/credentials), as botocore and the Go SDK read them.
 *
 * Syntax accepted: "[section]" headers (name trimmed; "[profile x]" is just the
 * section "profile x" here — the caller decides which form a file uses);
 * "key = value" or "key: value" (split at the first '=' or ':', key trimmed and
 * lower-cased, value trimmed); full-line comments starting with '#' or ';'
 * (after optional indentation); inline comments only when ';' or '#' follows
 * whitespace inside the value (so "a;b" stays a value); indented lines after a
 * key: "sub = v" lines under a key with an empty value become "key.sub" (the
 * `[services x]` nesting), an indented line without '=' or ':' continues the
 * value with "\n", and an indented "k = v" elsewhere is an ordinary key.
 * Duplicate sections merge; a duplicate key replaces the earlier value (last
 * one wins). Not here: interpolation, profile inheritance, writing.
 * Invariants: values may be secrets — they are wiped on free and never appear
 * in a status message (errors name the file and line number only).
 */
#ifndef EBS_CLOUD_INI_H
#define EBS_CLOUD_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"

#define INI_MAX_FILE_BYTES (1 << 20)

struct ini;

/* Parses text (len bytes; NULs are an error). name labels messages (a path).
 * Returns 0 and a new document in *out (ini_free), or -1 with
 * STATUS_INVALID_ARGUMENT "<name> line N: <problem>". */
int ini_parse(const char *text, size_t len, const char *name, struct ini **out, struct status *st);

/* Reads and parses path (at most INI_MAX_FILE_BYTES). Returns 0, or -1 with
 * STATUS_NOT_FOUND when the file does not exist, STATUS_PERMISSION_DENIED when
 * it cannot be read, STATUS_INVALID_ARGUMENT when it is malformed or too big. */
int ini_load_file(const char *path, struct ini **out, struct status *st);

/* Wipes every value and frees the document. NULL is a no-op. */
void ini_free(struct ini *ini);

/* The value of key (lower-case) in section, or NULL. Borrowed from ini. */
const char *ini_get(const struct ini *ini, const char *section, const char *key);

/* True when the document has a section of that name (even an empty one). */
bool ini_has_section(const struct ini *ini, const char *section);

#endif
