/*
 * smtp_cmd: SMTP command-line parser for the server side, pure and
 * allocation-free.  It takes one line without its CRLF and tolerates the
 * habits of real injectors (pmta-interfaces.md §4.2): verbs and keywords
 * in any case, "MAIL FROM: <a>" with a space after the colon, runs of
 * spaces, trailing spaces.
 */
#ifndef TERN_SMTP_CMD_H
#define TERN_SMTP_CMD_H

#include <stddef.h>

#include "smtp/smtp_addr.h"

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_XACK,
	SMTP_VERB_XMRG,
	SMTP_VERB_XDFN,
	SMTP_VERB_XPRT,
};

#define SMTP_PARAMS_MAX	16

/* An ESMTP parameter "KEY[=VALUE]"; both point into the parsed line. */
struct smtp_param {
	const char	*key;
	size_t		 key_len;
	const char	*value;		/* NULL when there was no '=' */
	size_t		 value_len;
};

struct smtp_cmd {
	enum smtp_verb	 verb;
	/* Everything after the verb, spaces trimmed on both ends; points
	 * into the line (HELO/EHLO name, AUTH args, XDFN text, XPRT n,
	 * BDAT size, XACK ON|OFF ...). */
	const char	*arg;
	size_t		 arg_len;
	/* MAIL, RCPT, XMRG: the path and the parameters after it. */
	struct smtp_addr path;
	struct smtp_param params[SMTP_PARAMS_MAX];
	size_t		 nparams;
};

enum smtp_cmd_result {
	SMTP_CMD_OK = 0,
	SMTP_CMD_UNKNOWN,	/* reply 500 5.5.1 */
	SMTP_CMD_SYNTAX,	/* reply 501 5.5.4 (*error_r says why) */
};

/*
 * Parse line[0..len) (no CRLF).  `addr_flags` are the smtp_addr flags
 * for the path (SMTP_ADDR_ALLOW_NULL is added for MAIL/XMRG by the
 * parser itself).  For verbs that take no argument (DATA, RSET, QUIT,
 * STARTTLS) an argument is a syntax error, except that RSET/NOOP/QUIT
 * ignore trailing spaces and NOOP/HELP accept any argument.
 */
enum smtp_cmd_result smtp_cmd_parse(const char *line, size_t len,
	    unsigned addr_flags, struct smtp_cmd *cmd, const char **error_r);

/* Find a parameter by key (case-insensitive); NULL if absent. */
const struct smtp_param *smtp_cmd_param(const struct smtp_cmd *cmd,
	    const char *key);

/*
 * Decode RFC 3461 xtext ("+2B" for '+') from s[0..len) into out[0..size)
 * as a string.  0, or -1 for a malformed escape, a decoded control
 * character, or an output that does not fit.
 */
int	smtp_xtext_decode(const char *s, size_t len, char *out, size_t size);

/* The verb's name in upper case ("MAIL"), "?" for unknown. */
const char *smtp_verb_name(enum smtp_verb verb);

#endif
