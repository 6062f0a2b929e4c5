/*
 * Unit tests for smtp/smtp_reply: single and multi-line replies, the
 * reply grammar errors, enhanced status codes, the dsnDiag-style text,
 * and EHLO keyword recognition.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "smtp/smtp_reply.h"
#include "tap.h"

/* Feed NUL-terminated lines; returns the last feed's result. */
static int
feed_lines(struct smtp_reply *r, const char *const *lines, size_t n)
{
	const char *err = NULL;
	int rc = -1;
	size_t i;

	smtp_reply_init(r);
	for (i = 0; i < n; i++) {
		rc = smtp_reply_feed(r, lines[i], strlen(lines[i]), &err);
		if (rc != (i + 1 == n ? 1 : 0)) {
			diag("line %zu '%s' gave %d (%s)", i, lines[i], rc,
			    rc == -1 ? err : "");
			return -2;
		}
	}
	return rc;
}

/* Feed one line to a fresh reply; returns the result. */
static int
feed1(struct smtp_reply *r, const char *line, const char **err)
{
	smtp_reply_init(r);
	*err = NULL;
	return smtp_reply_feed(r, line, strlen(line), err);
}

static void
test_single(void)
{
	struct smtp_reply r;
	const char *err;

	smtp_reply_init(&r);
	ok(r.code == 0 && r.nlines == 0 && !r.done && r.text[0] == '\0',
	    "init: no code, no line, empty text");
	is_int(feed1(&r, "250 OK", &err), 1, "'250 OK' completes");
	ok(r.code == 250 && r.nlines == 1 && r.done, "  code, lines, done");
	is_str(r.text, "250 OK", "  text");
	is_str(r.enhanced, "", "  no enhanced code");
	is_int((long long)r.text_len, 6, "  text_len");

	is_int(feed1(&r, "250 2.0.0 Ok: queued as 4Xyz", &err), 1,
	    "with an enhanced code");
	is_str(r.enhanced, "2.0.0", "  enhanced code");
	is_str(r.text, "250 2.0.0 Ok: queued as 4Xyz", "  text keeps it");

	is_int(feed1(&r, "221", &err), 1, "a bare code is a last line");
	is_str(r.text, "221", "  text is the code");
	is_int(feed1(&r, "421 ", &err), 1, "code and a space");
	is_str(r.text, "421", "  no trailing space");
	is_int(feed1(&r, "354 End data with <CR><LF>.<CR><LF>", &err), 1,
	    "354");
	ok(r.code == 354 && r.enhanced[0] == '\0',
	    "  354 has no enhanced code");

	is_int(smtp_reply_feed(&r, "250 again", 9, &err), -1,
	    "feeding after the last line is an error");
	is_str(err, "reply already complete", "  reason");
}

static void
test_multi(void)
{
	static const char *const ehlo[] = {
		"250-mailhost.port25.com says hello",
		"250-ENHANCEDSTATUSCODES",
		"250-PIPELINING",
		"250 SIZE 0",
	};
	static const char *const gmail[] = {
		"550-5.1.1 The email account that you tried to reach does not "
		    "exist. Please try",
		"550-5.1.1 double-checking the recipient's email address for "
		    "typos or",
		"550-5.1.1 unnecessary spaces. Learn more at",
		"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser "
		    "x1si - gsmtp",
	};
	static const char *const other_code[] = {
		"550-5.1.1 first", "550 5.7.1 second",
	};
	static const char *const late_code[] = {
		"250-hello", "250 2.0.0 ok",
	};
	static const char *const empties[] = {
		"250-", "250-", "250 ok",
	};
	static const char *const bare[] = {
		"451-4.3.0 busy", "451-4.3.0", "451 4.3.0",
	};
	struct smtp_reply r;

	is_int(feed_lines(&r, ehlo, 4), 1, "EHLO reply: 0, 0, 0, then 1");
	ok(r.code == 250 && r.nlines == 4, "  code and line count");
	is_str(r.text, "250 mailhost.port25.com says hello "
	    "ENHANCEDSTATUSCODES PIPELINING SIZE 0", "  joined text");
	is_int(feed_lines(&r, gmail, 4), 1, "Gmail's 550");
	is_str(r.enhanced, "5.1.1", "  enhanced code");
	is_str(r.text, "550 5.1.1 The email account that you tried to reach "
	    "does not exist. Please try double-checking the recipient's email "
	    "address for typos or unnecessary spaces. Learn more at "
	    "https://support.google.com/mail/?p=NoSuchUser x1si - gsmtp",
	    "  repeated enhanced codes dropped from continuations");
	is_int(feed_lines(&r, other_code, 2), 1, "a different code later");
	is_str(r.text, "550 5.1.1 first 5.7.1 second", "  is kept");
	is_int(feed_lines(&r, late_code, 2), 1, "enhanced code on line 2 only");
	is_str(r.enhanced, "", "  is not the reply's enhanced code");
	is_str(r.text, "250 hello 2.0.0 ok", "  and stays in the text");
	is_int(feed_lines(&r, empties, 3), 1, "empty continuation lines");
	is_str(r.text, "250 ok", "  add nothing");
	is_int(feed_lines(&r, bare, 3), 1, "continuations of only the code");
	is_str(r.text, "451 4.3.0 busy", "  add nothing");
}

static void
test_errors(void)
{
	static const char *const bad[] = {
		"", "2", "25", "abc", "25a ok", "2x0 ok", "650 nope",
		"150 early",
		"099 x", "250x", "2500 ok", "250_ok", "250\tok", " 250 ok",
	};
	struct smtp_reply r;
	const char *err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(feed1(&r, bad[i], &err), -1, "refuse '%s'", bad[i]);
		ok(err != NULL && r.nlines == 0 && r.code == 0,
		    "  with a reason, reply untouched");
	}
	ok(feed1(&r, "25", &err) == -1 &&
	    strcmp(err, "no 3-digit reply code") == 0, "reason: no code");
	ok(feed1(&r, "250x", &err) == -1 &&
	    strcmp(err, "bad separator after the reply code") == 0,
	    "reason: separator");
	smtp_reply_init(&r);
	is_int(smtp_reply_feed(&r, "250-first", 9, &err), 0, "first line");
	is_int(smtp_reply_feed(&r, "251 second", 10, &err), -1,
	    "mismatched code");
	is_str(err, "reply code changed between lines", "  reason");
	ok(r.nlines == 1 && !r.done && strcmp(r.text, "250 first") == 0,
	    "  the reply is unchanged");
	is_int(smtp_reply_feed(&r, "250 third", 9, &err), 1,
	    "  a right line still completes it");
	is_str(r.text, "250 first third", "  text");
	smtp_reply_init(&r);
	is_int(smtp_reply_feed(&r, "250 ok", 3, &err), 1,
	    "only len bytes are looked at");
	is_str(r.text, "250", "  text");
}

static void
test_enhanced(void)
{
	static const struct {
		const char *line, *enhanced;
	} t[] = {
		{ "550 5.1.1 user unknown", "5.1.1" },
		{ "550 5.1.1", "5.1.1" },
		{ "452 4.2.2 mailbox full", "4.2.2" },
		{ "250 2.10.100 ok", "2.10.100" },
		{ "250 2.100.999 ok", "2.100.999" },
		{ "550 4.1.1 class mismatch", "" },
		{ "450 5.1.1 class mismatch", "" },
		{ "354 3.0.0 not a class", "" },
		{ "250 2.0.0x", "" },
		{ "250 2.1000.0 x", "" },
		{ "250 2.0.1000 x", "" },
		{ "250 2..0 x", "" },
		{ "250 2.0. x", "" },
		{ "250 2.0 x", "" },
		{ "250 .2.0.0 x", "" },
		{ "250 x 2.0.0", "" },
		{ "550  5.1.1 two spaces", "" },
	};
	struct smtp_reply r;
	const char *err;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ok(feed1(&r, t[i].line, &err) == 1, "parse '%s'", t[i].line);
		is_str(r.enhanced, t[i].enhanced, "  enhanced code of '%s'",
		    t[i].line);
		is_str(r.text, t[i].line, "  text of '%s'", t[i].line);
	}
}

static void
test_text(void)
{
	struct smtp_reply r;
	const char *err;
	char line[600];
	size_t i;
	int rc = 0;

	smtp_reply_init(&r);
	ok(smtp_reply_feed(&r, "550 a\tb\x01" "c\x7f", 10, &err) == 1,
	    "control characters");
	is_str(r.text, "550 a b c ", "  become spaces");
	smtp_reply_init(&r);
	ok(smtp_reply_feed(&r, "550 a\0b", 7, &err) == 1, "a NUL in the text");
	ok(r.text_len == 7 && strlen(r.text) == 7 &&
	    strcmp(r.text, "550 a b") == 0, "  becomes a space");

	smtp_reply_init(&r);
	memset(line, 'x', sizeof(line));
	memcpy(line, "550-", 4);
	for (i = 0; i < 10 && rc == 0; i++)
		rc = smtp_reply_feed(&r, line, sizeof(line), &err);
	is_int(rc, 0, "ten long continuation lines");
	is_int((long long)r.text_len, SMTP_REPLY_TEXT_MAX, "  text is capped");
	ok(r.text[SMTP_REPLY_TEXT_MAX] == '\0' &&
	    strlen(r.text) == SMTP_REPLY_TEXT_MAX, "  and NUL-terminated");
	ok(memcmp(r.text, "550 xxx", 7) == 0, "  and starts right");
	line[3] = ' ';
	is_int(smtp_reply_feed(&r, line, sizeof(line), &err), 1,
	    "  the last line still completes the reply");
	is_int(r.nlines, 11, "  eleven lines counted");
	is_int((long long)r.text_len, SMTP_REPLY_TEXT_MAX,
	    "  text still capped");
}

static void
test_ext(void)
{
	static const struct {
		const char	*text;
		unsigned	 bit;
	} t[] = {
		{ "PIPELINING", SMTP_EXT_PIPELINING },
		{ "pipelining", SMTP_EXT_PIPELINING },
		{ "SIZE 35882577", SMTP_EXT_SIZE },
		{ "8BITMIME", SMTP_EXT_8BITMIME },
		{ "SMTPUTF8", SMTP_EXT_SMTPUTF8 },
		{ "ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES },
		{ "DSN", SMTP_EXT_DSN },
		{ "STARTTLS", SMTP_EXT_STARTTLS },
		{ "STARTTLS ", SMTP_EXT_STARTTLS },
		{ "AUTH PLAIN LOGIN", SMTP_EXT_AUTH },
		{ "AUTH=LOGIN PLAIN", SMTP_EXT_AUTH },
		{ "Chunking", SMTP_EXT_CHUNKING },
		{ "XACK", 0 },
		{ "VERP", 0 },
		{ "8BITMIMEX", 0 },
		{ "SIZEX 10", 0 },
		{ "PIPE", 0 },
		{ "", 0 },
		{ " PIPELINING", 0 },
	};
	unsigned long size;
	char big[64];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(smtp_ext_parse(t[i].text, strlen(t[i].text), NULL),
		    t[i].bit, "keyword '%s'", t[i].text);
	size = 7;
	ok(smtp_ext_parse("SIZE 35882577", 13, &size) == SMTP_EXT_SIZE &&
	    size == 35882577, "SIZE limit");
	size = 7;
	ok(smtp_ext_parse("SIZE", 4, &size) == SMTP_EXT_SIZE && size == 0,
	    "SIZE without a limit");
	size = 7;
	ok(smtp_ext_parse("size 0", 6, &size) == SMTP_EXT_SIZE && size == 0,
	    "SIZE 0");
	size = 7;
	ok(smtp_ext_parse("SIZE abc", 8, &size) == SMTP_EXT_SIZE && size == 0,
	    "SIZE with garbage");
	size = 7;
	ok(smtp_ext_parse("SIZE 1000", 7, &size) == SMTP_EXT_SIZE && size == 10,
	    "only len bytes are looked at");
	snprintf(big, sizeof(big), "SIZE %lu0", ULONG_MAX);
	ok(smtp_ext_parse(big, strlen(big), &size) == SMTP_EXT_SIZE &&
	    size == ULONG_MAX, "an overflowing SIZE is clamped");
	size = 7;
	ok(smtp_ext_parse("PIPELINING", 10, &size) == SMTP_EXT_PIPELINING &&
	    size == 7, "size_r untouched for other keywords");
}

/* The EHLO of pmta-interfaces.md section 4.1, through both functions. */
static void
test_ehlo_dialogue(void)
{
	static const char *const lines[] = {
		"250-mailhost.port25.com says hello", "250-ENHANCEDSTATUSCODES",
		"250-PIPELINING", "250-CHUNKING", "250-8BITMIME", "250-XACK",
		"250-XMRG", "250-SIZE 0", "250-VERP", "250 DSN",
	};
	struct smtp_reply r;
	const char *err;
	unsigned long size = 99;
	unsigned ext = 0;
	size_t i;
	int rc = 0;

	smtp_reply_init(&r);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		rc = smtp_reply_feed(&r, lines[i], strlen(lines[i]), &err);
		if (i > 0)
			ext |= smtp_ext_parse(lines[i] + 4,
			    strlen(lines[i]) - 4, &size);
	}
	is_int(rc, 1, "PMTA's EHLO reply completes");
	is_int(ext, SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_PIPELINING |
	    SMTP_EXT_CHUNKING | SMTP_EXT_8BITMIME | SMTP_EXT_SIZE |
	    SMTP_EXT_DSN,
	    "  extensions");
	is_int((long long)size, 0, "  SIZE 0");
}

int
main(void)
{
	test_single();
	test_multi();
	test_errors();
	test_enhanced();
	test_text();
	test_ext();
	test_ehlo_dialogue();
	return done_testing();
}
