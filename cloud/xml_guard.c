/* xml_guard: see xml_guard.h. */
#include "cloud/xml_guard.h"

static void refuse(void *data)
{
	struct xml_guard *g = data; /* the first member of the parser's user data */
	g->refused = true;
	XML_StopParser(g->parser, XML_FALSE);
}

static void XMLCALL on_doctype(void *data, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
			       int has_internal_subset)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
	refuse(data);
}

static void XMLCALL on_entity_decl(void *data, const XML_Char *name, int is_param, const XML_Char *value,
				   int value_len, const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
				   const XML_Char *notation)
{
	(void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid, (void)pubid, (void)notation;
	refuse(data);
}

void xml_guard_install(struct xml_guard *g)
{
	g->refused = false;
	XML_SetStartDoctypeDeclHandler(g->parser, on_doctype);
	XML_SetEntityDeclHandler(g->parser, on_entity_decl);
}
