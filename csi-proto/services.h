/*
 * services: the driver's method table — every unary CSI v1.10 method path, its
 * request type, its lane, and the handler that serves it in the running mode.
 * Identity is always served. Controller methods are served only in controller
 * and all modes, Node methods only in node and all modes; everything else, and
 * every RPC whose handler is not built, answers UNIMPLEMENTED (and the matching
 * capability is not advertised by its service).
 */
#ifndef EBS_CSIPROTO_SERVICES_H
#define EBS_CSIPROTO_SERVICES_H

#include "csi-proto/identity.h"
#include "csi-proto/server.h"

#include <stddef.h>

enum csi_mode { CSI_MODE_CONTROLLER = 1, CSI_MODE_NODE = 2, CSI_MODE_ALL = 3 };

/* Parses "controller", "node" or "all"; returns -1 for anything else. */
int csi_mode_parse(const char *s);
/* "controller", "node" or "all". */
const char *csi_mode_name(enum csi_mode mode);

#define CSI_SERVICES_MAX 32

struct node_service;
struct controller_service;

struct csi_services {
	enum csi_mode mode;
	struct identity *identity;              /* required */
	struct controller_service *controller;  /* required in controller and all modes, else ignored */
	struct node_service *node;              /* required in node and all modes, else ignored */
};

/* Writes the method table for s into out (room for CSI_SERVICES_MAX entries)
 * and returns the number of entries. Every unary method of Identity, Controller
 * and Node is listed, so its request is decoded and typed; handlers are NULL
 * where this mode or this build does not serve the method. */
size_t csi_services_table(const struct csi_services *s, struct csi_method *out);

#endif
