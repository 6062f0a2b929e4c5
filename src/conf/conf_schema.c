/*
 * conf_schema: the directive table compiled from conf_directives.def,
 * and lookups into it (see conf_schema.h).
 */
#include "config.h"

#include <string.h>

#include "conf/conf_schema.h"

const struct conf_directive conf_directives[CONF_ID_COUNT] = {
#define CONF_DIRECTIVE(id, name, scopes, type, flags, min, max, def, choices, doc) \
	{ CONF_ID_##id, name, scopes, type, flags, min, max, def, choices, doc },
#include "conf/conf_directives.def"
#undef CONF_DIRECTIVE
};

const struct conf_directive *
conf_directive_lookup(const char *name, unsigned scope, bool block)
{
	for (size_t i = 0; i < CONF_ID_COUNT; i++) {
		const struct conf_directive *d = &conf_directives[i];
		if ((d->scopes & scope) != 0 &&
		    (d->type == CONF_T_BLOCK) == block &&
		    strcmp(d->name, name) == 0)
			return d;
	}
	return NULL;
}

const struct conf_directive *
conf_directive_any(const char *name, bool block)
{
	for (size_t i = 0; i < CONF_ID_COUNT; i++) {
		const struct conf_directive *d = &conf_directives[i];
		if ((d->type == CONF_T_BLOCK) == block &&
		    strcmp(d->name, name) == 0)
			return d;
	}
	return NULL;
}

const char *
conf_scope_name(unsigned scope)
{
	static const char *const names[] = {
		"at the global level", "in <source>", "in <smtp-listener>",
		"in <smtp-user>", "in <source-group>", "in <virtual-mta>",
		"in <virtual-mta-pool>", "in <domain>", "in <smtp-pattern-list>",
		"in <pattern-list>", "in <bounce-category-patterns>",
		"in <acct-file>", "in <spool>", "in <bounce-processor>",
		"in <feedback-loop-processor>", "in <address-list>",
		"in <email-patterns>", "in <mx-rollup-list>", "in <dns>",
		"in <rewrite-list>", "in <domain-key-list>", "in <aliases>",
		"in <proxy>", "in <transmissions-api>", "in <signals>",
		"in <http-mgmt>", "in this block",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (scope == 1u << i)
			return names[i];
	return "in this block";
}
