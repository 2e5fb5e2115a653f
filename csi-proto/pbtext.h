/*
 * pbtext: a one-line, human-readable rendering of any protobuf-c message, for
 * logs. Fields named "secrets" (every csi_secret field of CSI v1.10 has that
 * name) are printed as "***" with their key count only, never their values.
 * Output is bounded; a longer rendering ends in "...".
 */
#ifndef EBS_CSIPROTO_PBTEXT_H
#define EBS_CSIPROTO_PBTEXT_H

#include "common/buf.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Appends the rendering of msg (NULL prints "<nil>") to out, adding at most
 * max_len bytes. */
void pbtext_format(const ProtobufCMessage *msg, struct buf *out, size_t max_len);

#endif
