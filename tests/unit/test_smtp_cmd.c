/*
 * Unit tests for smtp/smtp_cmd: every verb, the injector habits it must
 * tolerate, argument shapes, paths, ESMTP parameters and garbage.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_cmd.h"
#include "tap.h"

#define OK	SMTP_CMD_OK
#define SYNTAX	SMTP_CMD_SYNTAX
#define UNKNOWN	SMTP_CMD_UNKNOWN

/* Parse a NUL-terminated line; a failure must come with a reason. */
static enum smtp_cmd_result
parse(struct smtp_cmd *c, const char *line, unsigned flags)
{
	const char *err = NULL;
	enum smtp_cmd_result r;

	r = smtp_cmd_parse(line, strlen(line), flags, c, &err);
	if (r != OK && err == NULL)
		ok(0, "'%s' fails without a reason", line);
	return r;
}

/* The reason given for refusing line. */
static const char *
reason(const char *line, unsigned flags)
{
	struct smtp_cmd c;
	const char *err = NULL;

	if (smtp_cmd_parse(line, strlen(line), flags, &c, &err) == OK)
		return "(accepted)";
	return err;
}

static int
is_arg(const struct smtp_cmd *c, const char *want, const char *line)
{
	return is_mem(c->arg, c->arg_len, want, strlen(want), "arg of '%s'",
	    line);
}

static void
test_verbs(void)
{
	static const struct {
		const char	*line;
		enum smtp_verb	 verb;
		const char	*name;
	} t[] = {
		{ "HELO client.example", SMTP_VERB_HELO, "HELO" },
		{ "EHLO client.example", SMTP_VERB_EHLO, "EHLO" },
		{ "MAIL FROM:<a@b.c>", SMTP_VERB_MAIL, "MAIL" },
		{ "RCPT TO:<a@b.c>", SMTP_VERB_RCPT, "RCPT" },
		{ "DATA", SMTP_VERB_DATA, "DATA" },
		{ "BDAT 100 LAST", SMTP_VERB_BDAT, "BDAT" },
		{ "RSET", SMTP_VERB_RSET, "RSET" },
		{ "NOOP", SMTP_VERB_NOOP, "NOOP" },
		{ "QUIT", SMTP_VERB_QUIT, "QUIT" },
		{ "VRFY user", SMTP_VERB_VRFY, "VRFY" },
		{ "EXPN list", SMTP_VERB_EXPN, "EXPN" },
		{ "HELP", SMTP_VERB_HELP, "HELP" },
		{ "STARTTLS", SMTP_VERB_STARTTLS, "STARTTLS" },
		{ "AUTH PLAIN AGFAAGI=", SMTP_VERB_AUTH, "AUTH" },
		{ "XACK ON", SMTP_VERB_XACK, "XACK" },
		{ "XMRG FROM:<a@b.c>", SMTP_VERB_XMRG, "XMRG" },
		{ "XDFN a=b", SMTP_VERB_XDFN, "XDFN" },
		{ "XPRT 1", SMTP_VERB_XPRT, "XPRT" },
	};
	struct smtp_cmd c;
	char lower[64];
	size_t i, k;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		is_int(parse(&c, t[i].line, 0), OK, "parse '%s'", t[i].line);
		is_int(c.verb, t[i].verb, "  verb of '%s'", t[i].line);
		is_str(smtp_verb_name(c.verb), t[i].name, "  name of '%s'",
		    t[i].line);
		for (k = 0; t[i].line[k] != '\0'; k++)
			lower[k] = (char)(t[i].line[k] >= 'A' &&
			    t[i].line[k] <= 'Z' ? t[i].line[k] - 'A' + 'a' :
			    t[i].line[k]);
		lower[k] = '\0';
		ok(parse(&c, lower, 0) == OK && c.verb == t[i].verb,
		    "lower case '%s'", lower);
	}
	is_str(smtp_verb_name(SMTP_VERB_UNKNOWN), "?", "name of UNKNOWN");
	ok(parse(&c, "MaIl FrOm:<a@b.c>", 0) == OK && c.verb == SMTP_VERB_MAIL,
	    "mixed case verb and keyword");
	ok(parse(&c, "StartTLS", 0) == OK, "mixed case STARTTLS");
}

static void
test_unknown(void)
{
	static const char *t[] = {
		"", "   ", "FOO", "MAILFROM:<a@b.c>", "HELOx", "EHL", "DATA:",
		"\xc3\x89HLO x", "XACKON", "RCPTTO:<a@b.c>",
	};
	struct smtp_cmd c;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		is_int(parse(&c, t[i], 0), UNKNOWN, "unknown '%s'", t[i]);
		is_int(c.verb, SMTP_VERB_UNKNOWN, "  verb of '%s'", t[i]);
	}
	is_str(reason("FOO bar", 0), "unrecognized command", "reason for FOO");
	ok(smtp_cmd_parse(NULL, 0, 0, &c, NULL) == UNKNOWN,
	    "NULL line and NULL error_r");
}

static void
test_tolerance(void)
{
	struct smtp_cmd c;
	const char *l;

	l = "MAIL FROM: <a@b.c>";
	ok(parse(&c, l, 0) == OK && strcmp(c.path.addr, "a@b.c") == 0,
	    "space after the colon");
	l = "MAIL  FROM:<a@b.c>";
	ok(parse(&c, l, 0) == OK && strcmp(c.path.addr, "a@b.c") == 0,
	    "double space after the verb");
	l = "MAIL FROM : <a@b.c>";
	ok(parse(&c, l, 0) == OK && strcmp(c.path.addr, "a@b.c") == 0,
	    "space before the colon");
	l = "MAIL\tFROM:<a@b.c>\t";
	ok(parse(&c, l, 0) == OK && strcmp(c.path.addr, "a@b.c") == 0,
	    "tabs");
	l = "  MAIL FROM:<a@b.c>";
	ok(parse(&c, l, 0) == OK, "leading spaces");
	l = "MAIL FROM:<a@b.c>   ";
	ok(parse(&c, l, 0) == OK && c.nparams == 0, "trailing spaces");
	is_arg(&c, "FROM:<a@b.c>", l);
	l = "MAIL FROM:<a@b.c>   SIZE=10    BODY=8BITMIME  ";
	ok(parse(&c, l, 0) == OK && c.nparams == 2, "runs of spaces in params");
	l = "XMRG FROM: <bounce@example.port25.com> verp";
	ok(parse(&c, l, 0) == OK && c.verb == SMTP_VERB_XMRG &&
	    strcmp(c.path.addr, "bounce@example.port25.com") == 0 &&
	    smtp_cmd_param(&c, "VERP") != NULL, "XMRG FROM: <a> verp");
	l = "XACK ON ";
	ok(parse(&c, l, 0) == OK, "'XACK ON '");
	is_arg(&c, "ON", l);
	l = "XACK off";
	ok(parse(&c, l, 0) == OK, "'XACK off'");
	l = "XPRT 1 LAST ";
	ok(parse(&c, l, 0) == OK, "'XPRT 1 LAST '");
	is_arg(&c, "1 LAST", l);
	l = "XPRT 3  last";
	ok(parse(&c, l, 0) == OK, "'XPRT 3  last'");
	l = "XDFN  *vmta=mta1";
	ok(parse(&c, l, 0) == OK, "double space after XDFN");
	is_arg(&c, "*vmta=mta1", l);
	l = "XDFN *parts=\"1-3\" name=\"John Doe\" ";
	ok(parse(&c, l, 0) == OK, "XDFN with quoted values");
	is_arg(&c, "*parts=\"1-3\" name=\"John Doe\"", l);
	l = "EHLO   test.port25.com  ";
	ok(parse(&c, l, 0) == OK, "EHLO with extra spaces");
	is_arg(&c, "test.port25.com", l);
	ok(parse(&c, "RSET   ", 0) == OK, "RSET with trailing spaces");
	ok(parse(&c, "QUIT ", 0) == OK, "QUIT with a trailing space");
	ok(parse(&c, "NOOP ", 0) == OK, "NOOP with a trailing space");
	ok(parse(&c, "DATA ", 0) == OK, "DATA with a trailing space");
}

static void
test_arguments(void)
{
	struct smtp_cmd c;

	is_int(parse(&c, "DATA x", 0), SYNTAX, "DATA with an argument");
	is_str(reason("DATA x", 0), "no argument allowed", "  reason");
	ok(c.verb == SMTP_VERB_DATA, "  the verb is known on a syntax error");
	is_int(parse(&c, "RSET now", 0), SYNTAX, "RSET with an argument");
	is_int(parse(&c, "QUIT now", 0), SYNTAX, "QUIT with an argument");
	is_int(parse(&c, "STARTTLS x", 0), SYNTAX, "STARTTLS with an argument");
	is_int(parse(&c, "NOOP anything at all", 0), OK, "NOOP with text");
	is_arg(&c, "anything at all", "NOOP anything at all");
	is_int(parse(&c, "HELP MAIL", 0), OK, "HELP with a topic");
	is_int(parse(&c, "HELO", 0), SYNTAX, "HELO without a name");
	is_str(reason("EHLO   ", 0), "argument required",
	    "EHLO with spaces only");
	is_int(parse(&c, "VRFY", 0), SYNTAX, "VRFY without argument");
	is_int(parse(&c, "EXPN", 0), SYNTAX, "EXPN without argument");
	is_int(parse(&c, "AUTH", 0), SYNTAX, "AUTH without mechanism");
	is_int(parse(&c, "XDFN", 0), SYNTAX, "XDFN without text");
	is_int(parse(&c, "XACK", 0), SYNTAX, "XACK without argument");
	is_str(reason("XACK maybe", 0), "expected ON or OFF", "XACK maybe");
	is_int(parse(&c, "XACK ONN", 0), SYNTAX, "XACK ONN");
	is_int(parse(&c, "XPRT", 0), SYNTAX, "XPRT without a number");
	is_int(parse(&c, "XPRT x", 0), SYNTAX, "XPRT x");
	is_int(parse(&c, "XPRT 1 FIRST", 0), SYNTAX, "XPRT 1 FIRST");
	is_int(parse(&c, "XPRT 1LAST", 0), SYNTAX, "XPRT 1LAST");
	is_int(parse(&c, "XPRT 1 LAST x", 0), SYNTAX, "XPRT 1 LAST x");
	is_int(parse(&c, "XPRT -1", 0), SYNTAX, "XPRT -1");
	is_int(parse(&c, "BDAT 0", 0), OK, "BDAT 0");
	is_int(parse(&c, "BDAT 12345678901234567890", 0), OK, "BDAT 20 digits");
	is_int(parse(&c, "BDAT 123456789012345678901", 0), SYNTAX,
	    "BDAT 21 digits");
	is_int(parse(&c, "BDAT LAST", 0), SYNTAX, "BDAT LAST");
	ok(smtp_cmd_parse("DATA \0", 6, 0, &c, NULL) == SYNTAX &&
	    c.verb == SMTP_VERB_DATA, "NUL after the verb");
	ok(smtp_cmd_parse("DATA\0", 5, 0, &c, NULL) == UNKNOWN,
	    "NUL glued to the verb");
	is_str(reason("NOOP a\0b", 0), "(accepted)",
	    "strlen stops at the NUL in this helper");
	ok(smtp_cmd_parse("NOOP a\0b", 8, 0, &c, NULL) == SYNTAX,
	    "NUL inside the argument");
	ok(smtp_cmd_parse("RSET", 3, 0, &c, NULL) == UNKNOWN,
	    "only len bytes are looked at");
}

static void
test_paths(void)
{
	struct smtp_cmd c;
	char line[700];

	ok(parse(&c, "MAIL FROM:<>", 0) == OK && c.path.len == 0,
	    "MAIL FROM:<>");
	ok(parse(&c, "XMRG FROM:<>", 0) == OK && c.path.len == 0,
	    "XMRG FROM:<>");
	is_int(parse(&c, "RCPT TO:<>", 0), SYNTAX, "RCPT TO:<>");
	is_int(parse(&c, "RCPT TO:<>", SMTP_ADDR_ALLOW_NULL), SYNTAX,
	    "RCPT TO:<> even with ALLOW_NULL");
	ok(parse(&c, "RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>",
	    0) == OK && strcmp(c.path.addr, "userc@d.bar.org") == 0,
	    "source route dropped");
	is_int(parse(&c, "RCPT TO:<postmaster>", 0), SYNTAX, "<postmaster>");
	ok(parse(&c, "RCPT TO:<postmaster>", SMTP_ADDR_ALLOW_NODOMAIN) == OK &&
	    strcmp(c.path.addr, "postmaster") == 0, "<postmaster> allowed");
	is_int(parse(&c, "MAIL FROM:a@b.c", 0), SYNTAX, "bare path refused");
	ok(parse(&c, "MAIL FROM:a@b.c SIZE=5", SMTP_ADDR_ALLOW_BARE) == OK &&
	    strcmp(c.path.addr, "a@b.c") == 0 && c.nparams == 1,
	    "bare path tolerated with its flag");
	is_str(reason("MAIL TO:<a@b.c>", 0), "expected FROM:<address>",
	    "MAIL TO:");
	is_str(reason("RCPT FROM:<a@b.c>", 0), "expected TO:<address>",
	    "RCPT FROM:");
	is_int(parse(&c, "MAIL", 0), SYNTAX, "MAIL alone");
	is_int(parse(&c, "MAIL FROM", 0), SYNTAX, "MAIL FROM");
	is_int(parse(&c, "MAIL FROM:", 0), SYNTAX, "MAIL FROM:");
	is_int(parse(&c, "MAIL FROMX:<a@b.c>", 0), SYNTAX, "MAIL FROMX:");
	is_int(parse(&c, "MAIL FROM<a@b.c>", 0), SYNTAX, "MAIL FROM<a>");
	is_str(reason("MAIL FROM:<a@b.c>SIZE=1", 0),
	    "garbage after the address", "no space before a parameter");
	is_int(parse(&c, "MAIL FROM:<a@b.c>>", 0), SYNTAX, "double '>'");
	is_int(parse(&c, "MAIL FROM:<a@b.c", 0), SYNTAX, "missing '>'");
	is_int(parse(&c, "MAIL FROM:<a b@c.d>", 0), SYNTAX, "space in path");
	is_int(parse(&c, "RCPT TO:<\xc3\xa9@x.org>", 0), SYNTAX,
	    "8-bit path without SMTPUTF8");
	is_int(parse(&c, "RCPT TO:<\xc3\xa9@x.org>", SMTP_ADDR_ALLOW_UTF8), OK,
	    "8-bit path with SMTPUTF8");
	memcpy(line, "RCPT TO:<", 9);
	memset(line + 9, 'a', 600);
	memcpy(line + 609, "@x.org>", 8);
	is_str(reason(line, 0), "address too long", "overlong address");
	ok(parse(&c, "MAIL FROM:<a@b.c> SIZE=1", 0) == OK, "MAIL with SIZE");
	is_arg(&c, "FROM:<a@b.c> SIZE=1", "MAIL with SIZE");
}

/* Is p[0..n) the string want? */
static int
same(const char *p, size_t n, const char *want)
{
	return p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;
}

static void
test_params(void)
{
	struct smtp_cmd c;
	const struct smtp_param *p;
	const char *l;

	l = "MAIL FROM:<a@b.c> SIZE=1000 BODY=8BITMIME RET=HDRS "
	    "ENVID=QQ314159 SMTPUTF8 VERP AUTH=<>";
	is_int(parse(&c, l, SMTP_ADDR_ALLOW_UTF8), OK, "all MAIL parameters");
	is_int((long long)c.nparams, 7, "  seven of them");
	p = smtp_cmd_param(&c, "size");
	ok(p != NULL && same(p->value, p->value_len, "1000"),
	    "  SIZE found case-insensitively");
	ok(p != NULL && p->key >= l && p->key < l + strlen(l) &&
	    p->value > p->key, "  pointers into the line");
	p = smtp_cmd_param(&c, "BODY");
	ok(p != NULL && same(p->value, p->value_len, "8BITMIME"), "  BODY");
	p = smtp_cmd_param(&c, "Ret");
	ok(p != NULL && same(p->value, p->value_len, "HDRS"), "  RET");
	p = smtp_cmd_param(&c, "ENVID");
	ok(p != NULL && same(p->value, p->value_len, "QQ314159"), "  ENVID");
	p = smtp_cmd_param(&c, "SMTPUTF8");
	ok(p != NULL && p->value == NULL && p->value_len == 0, "  SMTPUTF8");
	p = smtp_cmd_param(&c, "verp");
	ok(p != NULL && p->value == NULL && same(p->key, p->key_len, "VERP"),
	    "  VERP");
	p = smtp_cmd_param(&c, "AUTH");
	ok(p != NULL && same(p->value, p->value_len, "<>"),
	    "  unknown keyword passed on");
	ok(smtp_cmd_param(&c, "NOTIFY") == NULL, "  absent NOTIFY");
	ok(smtp_cmd_param(&c, "SIZ") == NULL, "  no prefix match");
	ok(smtp_cmd_param(&c, "SIZE=") == NULL, "  no match with '='");

	l = "RCPT TO:<a@b.c> NOTIFY=SUCCESS,FAILURE,DELAY "
	    "ORCPT=rfc822;a+2Bb@b.c";
	is_int(parse(&c, l, 0), OK, "RCPT with NOTIFY and ORCPT");
	p = smtp_cmd_param(&c, "NOTIFY");
	ok(p != NULL && same(p->value, p->value_len, "SUCCESS,FAILURE,DELAY"),
	    "  NOTIFY");
	p = smtp_cmd_param(&c, "ORCPT");
	ok(p != NULL && same(p->value, p->value_len, "rfc822;a+2Bb@b.c"),
	    "  ORCPT");
	is_int(parse(&c, "RCPT TO:<a@b.c> NOTIFY=never", 0), OK,
	    "NOTIFY=never");
	is_int(parse(&c, "MAIL FROM:<a@b.c> BODY=7bit", 0), OK, "BODY=7bit");
	is_int(parse(&c, "MAIL FROM:<a@b.c> BODY=BINARYMIME", 0), OK,
	    "BODY=BINARYMIME");
	is_int(parse(&c, "MAIL FROM:<a@b.c> RET=full", 0), OK, "RET=full");
	is_int(parse(&c, "MAIL FROM:<> X-CUSTOM", 0), OK, "unknown keyword");
	is_int(parse(&c, "RCPT TO:<a@b.c> ORCPT=utf-8;\xc3\xa9@x",
	    SMTP_ADDR_ALLOW_UTF8), OK, "8-bit value with SMTPUTF8");
}

static void
test_bad_params(void)
{
	static const char *t[] = {
		"SIZE", "SIZE=", "SIZE=abc", "SIZE=-1",
		"SIZE=123456789012345678901",
		"BODY", "BODY=9BIT", "RET=NONE", "RET", "ENVID", "ENVID=",
		"NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,", "NOTIFY=,SUCCESS",
		"NOTIFY=FOO", "NOTIFY", "ORCPT=rfc822", "ORCPT=;a@b.c",
		"ORCPT=rfc822;", "SMTPUTF8=yes", "VERP=1", "=x", "A=b=c",
		"-A=b", "A_B=c", "SIZE=1 size=2", "K=\x01", "ORCPT=x;\xc3\xa9",
	};
	struct smtp_cmd c;
	char line[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memcpy(line, "MAIL FROM:<a@b.c> ", 18);
		memcpy(line + 18, t[i], strlen(t[i]) + 1);
		is_int(parse(&c, line, 0), SYNTAX, "refuse '%s'", t[i]);
	}
	is_str(reason("MAIL FROM:<a@b.c> SIZE=1 size=2", 0),
	    "duplicate parameter", "reason for a duplicate");
	is_str(reason("MAIL FROM:<a@b.c> BODY=9BIT", 0), "bad parameter value",
	    "reason for a bad value");
	is_str(reason("MAIL FROM:<a@b.c> =x", 0), "bad parameter keyword",
	    "reason for a bad keyword");
}

static void
test_param_limit(void)
{
	struct smtp_cmd c;
	char line[512];
	size_t n, i;

	n = (size_t)snprintf(line, sizeof(line), "MAIL FROM:<a@b.c>");
	for (i = 0; i < SMTP_PARAMS_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " P%zu=%zu",
		    i, i);
	ok(parse(&c, line, 0) == OK && c.nparams == SMTP_PARAMS_MAX,
	    "SMTP_PARAMS_MAX parameters");
	ok(smtp_cmd_param(&c, "P15") == &c.params[15], "the last one is found");
	snprintf(line + n, sizeof(line) - n, " ONE=more");
	is_str(reason(line, 0), "too many parameters", "one more is refused");
}

int
main(void)
{
	test_verbs();
	test_unknown();
	test_tolerance();
	test_arguments();
	test_paths();
	test_params();
	test_bad_params();
	test_param_limit();
	{
		char out[32];

		ok(smtp_xtext_decode("a+2Bb+3Dc", 9, out, sizeof(out)) == 0 &&
		    strcmp(out, "a+b=c") == 0, "xtext: +2B and +3D decode");
		ok(smtp_xtext_decode("x+2", 3, out, sizeof(out)) == -1,
		    "xtext: a cut escape is refused");
		ok(smtp_xtext_decode("x+0A", 4, out, sizeof(out)) == -1,
		    "xtext: a control character is refused");
		ok(smtp_xtext_decode("abcdef", 6, out, 4) == -1,
		    "xtext: output that does not fit is refused");
	}
	return done_testing();
}
