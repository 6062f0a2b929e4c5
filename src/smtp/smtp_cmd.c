/*
 * smtp_cmd: the server side's command-line parser (see smtp_cmd.h).
 *
 * Owns the syntax of one command line: which verb it is, what argument
 * the verb takes, and for MAIL/RCPT/XMRG the path and the ESMTP
 * parameters.  It does not know the session state (that is smtpd's
 * table of checks); it only says OK, UNKNOWN (500) or SYNTAX (501).
 *
 * Strategy: a table of verbs, each with the shape of its argument.  The
 * argument is everything after the verb with spaces and tabs trimmed at
 * both ends, so trailing spaces are tolerated for every verb, not only
 * RSET/NOOP/QUIT ("XACK ON ", "XPRT 1 LAST " are real habits).
 * "FROM:"/"TO:" may have spaces around the colon ("MAIL FROM: <a>").
 * Parameters are separated by runs of spaces; their keys are matched
 * case-insensitively and the values of the parameters we know (SIZE,
 * BODY, RET, ENVID, NOTIFY, ORCPT, SMTPUTF8, VERP) are checked here so
 * that one place owns their grammar.  Unknown parameters are passed on:
 * refusing them (555) is the session's decision.  A NUL byte anywhere in
 * the line is a syntax error.
 *
 * Everything in struct smtp_cmd points into the caller's line.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "smtp/smtp_addr.h"
#include "smtp/smtp_cmd.h"

enum smtp_cmd_argtype {
	SMTP_ARG_NONE,		/* nothing (trailing spaces are fine) */
	SMTP_ARG_ANY,		/* optional free text */
	SMTP_ARG_TEXT,		/* required free text */
	SMTP_ARG_FROM,		/* "FROM:" path params */
	SMTP_ARG_TO,		/* "TO:" path params */
	SMTP_ARG_ONOFF,		/* "ON" | "OFF" */
	SMTP_ARG_COUNT,		/* 1*DIGIT ["LAST"] */
};

struct smtp_cmd_def {
	const char		*name;
	enum smtp_verb		 verb;
	enum smtp_cmd_argtype	 arg;
};

static const struct smtp_cmd_def smtp_cmd_defs[] = {
	{ "HELO",	SMTP_VERB_HELO,		SMTP_ARG_TEXT },
	{ "EHLO",	SMTP_VERB_EHLO,		SMTP_ARG_TEXT },
	{ "MAIL",	SMTP_VERB_MAIL,		SMTP_ARG_FROM },
	{ "RCPT",	SMTP_VERB_RCPT,		SMTP_ARG_TO },
	{ "DATA",	SMTP_VERB_DATA,		SMTP_ARG_NONE },
	{ "BDAT",	SMTP_VERB_BDAT,		SMTP_ARG_COUNT },
	{ "RSET",	SMTP_VERB_RSET,		SMTP_ARG_NONE },
	{ "NOOP",	SMTP_VERB_NOOP,		SMTP_ARG_ANY },
	{ "QUIT",	SMTP_VERB_QUIT,		SMTP_ARG_NONE },
	{ "VRFY",	SMTP_VERB_VRFY,		SMTP_ARG_TEXT },
	{ "EXPN",	SMTP_VERB_EXPN,		SMTP_ARG_TEXT },
	{ "HELP",	SMTP_VERB_HELP,		SMTP_ARG_ANY },
	{ "STARTTLS",	SMTP_VERB_STARTTLS,	SMTP_ARG_NONE },
	{ "AUTH",	SMTP_VERB_AUTH,		SMTP_ARG_TEXT },
	{ "XACK",	SMTP_VERB_XACK,		SMTP_ARG_ONOFF },
	{ "XMRG",	SMTP_VERB_XMRG,		SMTP_ARG_FROM },
	{ "XDFN",	SMTP_VERB_XDFN,		SMTP_ARG_TEXT },
	{ "XPRT",	SMTP_VERB_XPRT,		SMTP_ARG_COUNT },
};

#define SMTP_CMD_NDEFS	(sizeof(smtp_cmd_defs) / sizeof(smtp_cmd_defs[0]))
#define SMTP_SIZE_DIGITS_MAX	20

static void
smtp_cmd_error(const char **error_r, const char *msg)
{
	if (error_r != NULL)
		*error_r = msg;
}

static bool
smtp_cmd_is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool
smtp_cmd_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
smtp_cmd_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Does p[0..n) equal the upper-case word w, ignoring ASCII case? */
static bool
smtp_cmd_word_eq(const char *p, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (w[i] == '\0' || smtp_cmd_upper(p[i]) != w[i])
			return false;
	return w[n] == '\0';
}

/* Does p[0..n) start with the upper-case word w, ignoring ASCII case? */
static bool
smtp_cmd_word_prefix(const char *p, size_t n, const char *w)
{
	size_t wl = strlen(w);

	return n >= wl && smtp_cmd_word_eq(p, wl, w);
}

/* Do two parameters have the same key, ignoring ASCII case? */
static bool
smtp_cmd_key_eq(const struct smtp_param *a, const struct smtp_param *b)
{
	size_t i;

	if (a->key_len != b->key_len)
		return false;
	for (i = 0; i < a->key_len; i++)
		if (smtp_cmd_upper(a->key[i]) != smtp_cmd_upper(b->key[i]))
			return false;
	return true;
}

static size_t
smtp_cmd_skip_space(const char *p, size_t i, size_t len)
{
	while (i < len && smtp_cmd_is_space(p[i]))
		i++;
	return i;
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
	size_t i;

	for (i = 0; i < SMTP_CMD_NDEFS; i++)
		if (smtp_cmd_defs[i].verb == verb)
			return smtp_cmd_defs[i].name;
	return "?";
}

const struct smtp_param *
smtp_cmd_param(const struct smtp_cmd *cmd, const char *key)
{
	const struct smtp_param *p;
	size_t i, k, n = strlen(key);

	for (i = 0; i < cmd->nparams; i++) {
		p = &cmd->params[i];
		if (p->key_len != n)
			continue;
		for (k = 0; k < n; k++)
			if (smtp_cmd_upper(p->key[k]) != smtp_cmd_upper(key[k]))
				break;
		if (k == n)
			return p;
	}
	return NULL;
}

/* NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY. */
static bool
smtp_cmd_notify_valid(const char *v, size_t n)
{
	size_t i = 0, j;

	if (smtp_cmd_word_eq(v, n, "NEVER"))
		return true;
	while (i <= n) {
		for (j = i; j < n && v[j] != ','; j++)
			;
		if (!smtp_cmd_word_eq(v + i, j - i, "SUCCESS") &&
		    !smtp_cmd_word_eq(v + i, j - i, "FAILURE") &&
		    !smtp_cmd_word_eq(v + i, j - i, "DELAY"))
			return false;
		i = j + 1;
	}
	return true;
}

/* Values of the parameters whose grammar we own; others pass. */
static bool
smtp_cmd_param_valid(const struct smtp_param *p)
{
	const char *v = p->value, *k = p->key;
	size_t n = p->value_len, kl = p->key_len, i;

	if (smtp_cmd_word_eq(k, kl, "SMTPUTF8") ||
	    smtp_cmd_word_eq(k, kl, "VERP"))
		return v == NULL;
	if (smtp_cmd_word_eq(k, kl, "SIZE")) {
		if (v == NULL || n > SMTP_SIZE_DIGITS_MAX)
			return false;
		for (i = 0; i < n; i++)
			if (!smtp_cmd_is_digit(v[i]))
				return false;
		return true;
	}
	if (smtp_cmd_word_eq(k, kl, "BODY"))
		return v != NULL && (smtp_cmd_word_eq(v, n, "7BIT") ||
		    smtp_cmd_word_eq(v, n, "8BITMIME") ||
		    smtp_cmd_word_eq(v, n, "BINARYMIME"));
	if (smtp_cmd_word_eq(k, kl, "RET"))
		return v != NULL && (smtp_cmd_word_eq(v, n, "FULL") ||
		    smtp_cmd_word_eq(v, n, "HDRS"));
	if (smtp_cmd_word_eq(k, kl, "NOTIFY"))
		return v != NULL && smtp_cmd_notify_valid(v, n);
	if (smtp_cmd_word_eq(k, kl, "ORCPT"))
		return v != NULL && n > 2 && v[0] != ';' &&
		    memchr(v, ';', n - 1) != NULL;
	if (smtp_cmd_word_eq(k, kl, "ENVID"))
		return v != NULL;
	return true;
}

/* One "KEY[=VALUE]" token s[0..n); fills *p. */
static int
smtp_cmd_param_token(const char *s, size_t n, unsigned addr_flags,
    struct smtp_param *p, const char **error_r)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < n && s[i] != '='; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    smtp_cmd_is_digit(s[i]) || (c == '-' && i > 0))) {
			smtp_cmd_error(error_r, "bad parameter keyword");
			return -1;
		}
	}
	p->key = s;
	p->key_len = i;
	p->value = NULL;
	p->value_len = 0;
	if (i == 0) {
		smtp_cmd_error(error_r, "bad parameter keyword");
		return -1;
	}
	if (i == n)
		return 0;
	p->value = s + i + 1;
	p->value_len = n - i - 1;
	for (i++; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x80 && (addr_flags & SMTP_ADDR_ALLOW_UTF8))
			continue;
		if (c < 33 || c > 126 || c == '=')
			break;
	}
	if (p->value_len == 0 || i < n) {
		smtp_cmd_error(error_r, "bad parameter value");
		return -1;
	}
	return 0;
}

/* The parameters after the path: s[i..len). */
static int
smtp_cmd_params(struct smtp_cmd *cmd, const char *s, size_t i, size_t len,
    unsigned addr_flags, const char **error_r)
{
	struct smtp_param *p;
	size_t start, k;

	while (i < len) {
		if (!smtp_cmd_is_space(s[i])) {
			smtp_cmd_error(error_r, "garbage after the address");
			return -1;
		}
		start = i = smtp_cmd_skip_space(s, i, len);
		while (i < len && !smtp_cmd_is_space(s[i]))
			i++;
		if (cmd->nparams == SMTP_PARAMS_MAX) {
			smtp_cmd_error(error_r, "too many parameters");
			return -1;
		}
		p = &cmd->params[cmd->nparams];
		if (smtp_cmd_param_token(s + start, i - start, addr_flags, p,
		    error_r) == -1)
			return -1;
		if (!smtp_cmd_param_valid(p)) {
			smtp_cmd_error(error_r, "bad parameter value");
			return -1;
		}
		for (k = 0; k < cmd->nparams; k++)
			if (smtp_cmd_key_eq(&cmd->params[k], p)) {
				smtp_cmd_error(error_r, "duplicate parameter");
				return -1;
			}
		cmd->nparams++;
	}
	return 0;
}

/* "FROM:" or "TO:" (spaces around the colon), the path, the parameters. */
static enum smtp_cmd_result
smtp_cmd_path(struct smtp_cmd *cmd, const char *kw, unsigned addr_flags,
    const char **error_r)
{
	const char *s = cmd->arg;
	size_t len = cmd->arg_len, i, used;

	if (!smtp_cmd_word_prefix(s, len, kw))
		goto missing;
	i = smtp_cmd_skip_space(s, strlen(kw), len);
	if (i == len || s[i] != ':')
		goto missing;
	i = smtp_cmd_skip_space(s, i + 1, len);
	if (smtp_addr_parse(s + i, len - i, addr_flags, &cmd->path, &used,
	    error_r) == -1)
		return SMTP_CMD_SYNTAX;
	if (smtp_cmd_params(cmd, s, i + used, len, addr_flags, error_r) == -1)
		return SMTP_CMD_SYNTAX;
	return SMTP_CMD_OK;
missing:
	smtp_cmd_error(error_r, kw[0] == 'F' ? "expected FROM:<address>" :
	    "expected TO:<address>");
	return SMTP_CMD_SYNTAX;
}

/* 1*DIGIT [SP "LAST"] (BDAT, XPRT). */
static bool
smtp_cmd_count_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && smtp_cmd_is_digit(s[i]))
		i++;
	if (i == 0 || i > SMTP_SIZE_DIGITS_MAX)
		return false;
	if (i == n)
		return true;
	if (!smtp_cmd_is_space(s[i]))
		return false;
	i = smtp_cmd_skip_space(s, i, n);
	return smtp_cmd_word_eq(s + i, n - i, "LAST");
}

static enum smtp_cmd_result
smtp_cmd_arg(struct smtp_cmd *cmd, enum smtp_cmd_argtype type,
    unsigned addr_flags, const char **error_r)
{
	switch (type) {
	case SMTP_ARG_NONE:
		if (cmd->arg_len == 0)
			return SMTP_CMD_OK;
		smtp_cmd_error(error_r, "no argument allowed");
		return SMTP_CMD_SYNTAX;
	case SMTP_ARG_ANY:
		return SMTP_CMD_OK;
	case SMTP_ARG_TEXT:
		if (cmd->arg_len > 0)
			return SMTP_CMD_OK;
		smtp_cmd_error(error_r, "argument required");
		return SMTP_CMD_SYNTAX;
	case SMTP_ARG_FROM:
		return smtp_cmd_path(cmd, "FROM",
		    addr_flags | SMTP_ADDR_ALLOW_NULL, error_r);
	case SMTP_ARG_TO:
		return smtp_cmd_path(cmd, "TO",
		    addr_flags & ~(unsigned)SMTP_ADDR_ALLOW_NULL, error_r);
	case SMTP_ARG_ONOFF:
		if (smtp_cmd_word_eq(cmd->arg, cmd->arg_len, "ON") ||
		    smtp_cmd_word_eq(cmd->arg, cmd->arg_len, "OFF"))
			return SMTP_CMD_OK;
		smtp_cmd_error(error_r, "expected ON or OFF");
		return SMTP_CMD_SYNTAX;
	case SMTP_ARG_COUNT:
		if (smtp_cmd_count_valid(cmd->arg, cmd->arg_len))
			return SMTP_CMD_OK;
		smtp_cmd_error(error_r, "expected a size and optional LAST");
		return SMTP_CMD_SYNTAX;
	}
	smtp_cmd_error(error_r, "internal error");
	return SMTP_CMD_SYNTAX;
}

enum smtp_cmd_result
smtp_cmd_parse(const char *line, size_t len, unsigned addr_flags,
    struct smtp_cmd *cmd, const char **error_r)
{
	const struct smtp_cmd_def *def = NULL;
	size_t i, vstart, vend, end;

	if (line == NULL)
		line = "";
	cmd->verb = SMTP_VERB_UNKNOWN;
	cmd->arg = line;
	cmd->arg_len = 0;
	cmd->path.addr[0] = '\0';
	cmd->path.len = cmd->path.at = 0;
	cmd->nparams = 0;
	vstart = smtp_cmd_skip_space(line, 0, len);
	vend = vstart;
	while (vend < len && !smtp_cmd_is_space(line[vend]))
		vend++;
	for (i = 0; i < SMTP_CMD_NDEFS && def == NULL; i++)
		if (smtp_cmd_word_eq(line + vstart, vend - vstart,
		    smtp_cmd_defs[i].name))
			def = &smtp_cmd_defs[i];
	if (def == NULL) {
		smtp_cmd_error(error_r, "unrecognized command");
		return SMTP_CMD_UNKNOWN;
	}
	cmd->verb = def->verb;
	i = smtp_cmd_skip_space(line, vend, len);
	for (end = len; end > i && smtp_cmd_is_space(line[end - 1]); end--)
		;
	cmd->arg = line + i;
	cmd->arg_len = end - i;
	if (memchr(line, '\0', len) != NULL) {
		smtp_cmd_error(error_r, "NUL character in command");
		return SMTP_CMD_SYNTAX;
	}
	return smtp_cmd_arg(cmd, def->arg, addr_flags, error_r);
}

static int
smtp_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
smtp_xtext_decode(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = smtp_hex((unsigned char)s[i + 1]);
			lo = smtp_hex((unsigned char)s[i + 2]);
			if (hi == -1 || lo == -1)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || n + 1 >= size)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}
