/*
 * conf_schema: the directive table and the typed values it describes.
 *
 * conf_directives.def declares every directive once:
 *
 *   CONF_DIRECTIVE(ID, "name", SCOPES, TYPE, FLAGS, MIN, MAX,
 *                  "default", "choices", "one-line doc")
 *
 *   ID       C identifier; the enum constant is CONF_ID_<ID>.  A name that
 *            means different things in different scopes (max-smtp-out in
 *            <domain> and in <virtual-mta>) has one row per meaning, with
 *            distinct IDs (MAX_SMTP_OUT, VMTA_MAX_SMTP_OUT).
 *   SCOPES   CONF_SC_* bits: where the directive (or, for a block, the
 *            block's opening tag) may appear.
 *   TYPE     CONF_T_*: how the value is parsed (conf_value.c).
 *   FLAGS    CONF_F_* bits.
 *   MIN, MAX bounds for CONF_T_INT (numbers), CONF_T_TIME (seconds),
 *            CONF_T_SIZE (bytes); 0, 0 = no bound.
 *   default  the PMTA default as `show settings` prints it ("" = none).
 *   choices  for CONF_T_ENUM: the accepted words, '|'-separated.
 *   doc      one line, for the man page and compat.md.
 *
 * The parser's checks, `pmta show settings`, docs/pmta-config.5 and the
 * directive rows of docs/compat.md all come from this table.
 */
#ifndef TERN_CONF_SCHEMA_H
#define TERN_CONF_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

/* Where a directive may appear: the global level or inside a block. */
enum conf_scope {
	CONF_SC_GLOBAL		= 1u << 0,	/* outside any block */
	CONF_SC_SOURCE		= 1u << 1,	/* <source> */
	CONF_SC_LISTENER	= 1u << 2,	/* <smtp-listener> */
	CONF_SC_USER		= 1u << 3,	/* <smtp-user> */
	CONF_SC_SOURCE_GROUP	= 1u << 4,	/* <source-group> */
	CONF_SC_VMTA		= 1u << 5,	/* <virtual-mta> */
	CONF_SC_POOL		= 1u << 6,	/* <virtual-mta-pool> */
	CONF_SC_DOMAIN		= 1u << 7,	/* <domain> (global, in V, in P) */
	CONF_SC_SMTP_PATTERNS	= 1u << 8,	/* <smtp-pattern-list> */
	CONF_SC_PATTERNS	= 1u << 9,	/* <pattern-list> */
	CONF_SC_BOUNCE_CATS	= 1u << 10,	/* <bounce-category-patterns> */
	CONF_SC_ACCT		= 1u << 11,	/* <acct-file> */
	CONF_SC_SPOOL		= 1u << 12,	/* <spool> */
	CONF_SC_BOUNCE_PROC	= 1u << 13,	/* <bounce-processor> */
	CONF_SC_FBL_PROC	= 1u << 14,	/* <feedback-loop-processor> */
	CONF_SC_ADDRESS_LIST	= 1u << 15,	/* <address-list> */
	CONF_SC_EMAIL_PATTERNS	= 1u << 16,	/* <email-patterns> */
	CONF_SC_ROLLUP		= 1u << 17,	/* <mx-rollup-list> */
	CONF_SC_DNS		= 1u << 18,	/* <dns> */
	CONF_SC_REWRITE		= 1u << 19,	/* <rewrite-list> */
	CONF_SC_KEY_LIST	= 1u << 20,	/* <domain-key-list> */
	CONF_SC_ALIASES		= 1u << 21,	/* <aliases> */
	CONF_SC_PROXY		= 1u << 22,	/* <proxy> */
	CONF_SC_TX_API		= 1u << 23,	/* <transmissions-api>, -listener */
	CONF_SC_SIGNALS		= 1u << 24,	/* <signals>, <signals-filter> */
	CONF_SC_HTTP_MGMT	= 1u << 25,	/* <http-mgmt...> style blocks, if any */
	CONF_SC_OTHER		= 1u << 26,	/* other documented blocks */
};

/* How a value is parsed (see conf_value.h for the representation). */
enum conf_type {
	CONF_T_BLOCK,		/* a block's opening tag; the argument is its name */
	CONF_T_FLAG,		/* no value at all */
	CONF_T_BOOL,		/* yes|no|true|false */
	CONF_T_INT,		/* integer in [MIN, MAX]; "unlimited" with CONF_F_UNLIMITED */
	CONF_T_TIME,		/* 1w2d12h30m10s, bare number = s; "never" with CONF_F_NEVER */
	CONF_T_TIME_LIST,	/* 10m,10m,20m,1h (last repeats) */
	CONF_T_SIZE,		/* 10M, 40k, bare number = bytes; "unlimited" */
	CONF_T_RATE,		/* 500/h, 83/10m, 6/sec; "unlimited" */
	CONF_T_DATA_RATE,	/* 12M/m, 2g/10h; "unlimited" */
	CONF_T_DAILY,		/* 1/day,2/day,... (daily limits) */
	CONF_T_STRING,		/* one value, kept as written ("" allowed) */
	CONF_T_WORDS,		/* every value on the line, kept as a list */
	CONF_T_ENUM,		/* one of "choices" */
	CONF_T_BOOL_OR_ENUM,	/* yes|no|true|false or one of "choices" */
	CONF_T_BOOL_OR_TIME,	/* yes|no|true|false or a time interval */
	CONF_T_EMAIL,		/* an address */
	CONF_T_EMAIL_LIST,	/* a,b,c (commas, spaces allowed after them) */
	CONF_T_CIDR,		/* 10/8, 1.2.3.4, 2001:db8::/32 */
	CONF_T_LISTENER,	/* CIDR:PORT [key=value...] */
	CONF_T_HOST_LIST,	/* h1, h2; [1.2.3.4]:25; lookup-mx:x (',' level, ';' next) */
	CONF_T_DOMAIN,		/* a domain pattern (* / [*.]x / *.x / x) */
	CONF_T_DOMAIN_LIST,	/* domain patterns, ',' or space separated */
	CONF_T_REGEX,		/* /.../ (PCRE2; checked when parsed) */
	CONF_T_PATH,		/* a file or directory name */
	CONF_T_RAW,		/* values kept as words, checked by the module that uses it */
};

enum conf_flags {
	CONF_F_REPEAT		= 1u << 0,	/* repeatable: values accumulate in file order */
	CONF_F_UNLIMITED	= 1u << 1,	/* accepts "unlimited" (and 0 where PMTA does) */
	CONF_F_NEVER		= 1u << 2,	/* a time that accepts "never" */
	CONF_F_LEGACY		= 1u << 3,	/* deprecated or undocumented: accepted with a warning */
	CONF_F_RESTART		= 1u << 4,	/* a change needs a restart, not a reload */
	CONF_F_ACTED		= 1u << 5,	/* Tern acts on it (else: accepted, not yet acted on) */
	CONF_F_PARTIAL		= 1u << 6,	/* with CONF_F_ACTED: partly (see compat.md) */
	CONF_F_RAW_BODY		= 1u << 7,	/* a block whose lines are entries, not directives
						   (bounce-category patterns, rollup lists, ...) */
	CONF_F_OPTIONAL_ARG	= 1u << 8,	/* a block whose argument may be omitted */
	CONF_F_NO_ARG		= 1u << 9,	/* a block that takes no argument */
};

struct conf_directive {
	int		 id;		/* CONF_ID_* */
	const char	*name;
	unsigned	 scopes;	/* CONF_SC_* */
	enum conf_type	 type;
	unsigned	 flags;		/* CONF_F_* */
	long long	 min, max;
	const char	*def;
	const char	*choices;
	const char	*doc;
};

enum conf_id {
#define CONF_DIRECTIVE(id, name, scopes, type, flags, min, max, def, choices, doc) \
	CONF_ID_##id,
#include "conf/conf_directives.def"
#undef CONF_DIRECTIVE
	CONF_ID_COUNT
};

/* The table, indexed by CONF_ID_*. */
extern const struct conf_directive conf_directives[CONF_ID_COUNT];

/*
 * The row for `name` (lower case) allowed in `scope` (one CONF_SC_ bit),
 * for a block (`block` true) or a directive.  NULL if none: then
 * conf_directive_any() tells whether the name exists in another scope
 * (for the "not allowed here" error) or not at all ("unknown").
 */
const struct conf_directive *conf_directive_lookup(const char *name,
	    unsigned scope, bool block);
const struct conf_directive *conf_directive_any(const char *name, bool block);
/* "at the global level", "in <source>", ... for error messages. */
const char *conf_scope_name(unsigned scope);

#endif
