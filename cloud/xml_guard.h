/*
 * xml_guard: the DTD refusal shared by every expat parser in cloud/. AWS
 * answers never carry a DOCTYPE or entity declarations; refusing them outright
 * closes the entity-expansion ("billion laughs") and external-entity doors
 * before expat could open them. A parser's user data must be an object whose
 * FIRST member is a struct xml_guard, because expat hands every handler the
 * same user-data pointer.
 */
#ifndef EBS_CLOUD_XML_GUARD_H
#define EBS_CLOUD_XML_GUARD_H

#include <expat.h>
#include <stdbool.h>

struct xml_guard {
	XML_Parser parser;
	bool refused; /* a DOCTYPE or entity declaration was seen; parsing stopped */
};

/* Installs the refusing handlers on g->parser (created by the caller, with
 * the enclosing object as user data). */
void xml_guard_install(struct xml_guard *g);

#endif
