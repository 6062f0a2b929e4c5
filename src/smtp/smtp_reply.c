/*
 * smtp_reply: the client side's reply parser and EHLO keyword
 * recognition (see smtp_reply.h).
 *
 * Owns the reply grammar: every line is three digits (the first 2-5),
 * then '-' (more lines follow), ' ' or nothing (last line), and every
 * line of a reply carries the same code.  Anything else is a protocol
 * error and leaves the reply as it was.
 *
 * The kept text is what PMTA writes in dsnDiag after "smtp;": the code,
 * a space and the first line's text, then each further line's text after
 * a space.  A continuation line that repeats the first line's enhanced
 * code has that code dropped ("550-5.1.1 a" + "550 5.1.1 b" gives
 * "550 5.1.1 a b"), and empty continuation texts add nothing.  Control
 * characters are stored as spaces so that the text is safe to log and
 * to put in a CSV field.  The enhanced code is taken from the first line
 * only, and only when its class matches the reply code's first digit
 * (RFC 3463: 2, 4 or 5).
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "smtp/smtp_reply.h"

#define SMTP_ENHANCED_PART_MAX	3	/* digits in subject and in detail */

static void
smtp_reply_error(const char **error_r, const char *msg)
{
	if (error_r != NULL)
		*error_r = msg;
}

static bool
smtp_reply_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* Append to the kept text, control characters as spaces, truncating. */
static void
smtp_reply_append(struct smtp_reply *r, const char *p, size_t n)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < n && r->text_len < SMTP_REPLY_TEXT_MAX; i++) {
		c = (unsigned char)p[i];
		r->text[r->text_len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	r->text[r->text_len] = '\0';
}

/*
 * Length of an enhanced status code "c.sss.ddd" at the start of t[0..n)
 * whose class is cls and which is followed by a space or the end; 0 if
 * there is none.
 */
static size_t
smtp_reply_enhanced_len(const char *t, size_t n, char cls)
{
	size_t i, k, part;

	if (cls != '2' && cls != '4' && cls != '5')
		return 0;
	if (n < 5 || t[0] != cls)
		return 0;
	i = 1;
	for (part = 0; part < 2; part++) {
		if (i >= n || t[i] != '.')
			return 0;
		i++;
		for (k = 0; k < SMTP_ENHANCED_PART_MAX && i < n &&
		    smtp_reply_is_digit(t[i]); k++)
			i++;
		if (k == 0)
			return 0;
	}
	if (i < n && t[i] != ' ')
		return 0;
	return i;
}

/* Skip the first line's enhanced code when a continuation repeats it. */
static size_t
smtp_reply_skip_repeat(const struct smtp_reply *r, const char *t, size_t n)
{
	size_t el = strlen(r->enhanced);

	if (el == 0 || smtp_reply_enhanced_len(t, n, r->enhanced[0]) != el ||
	    memcmp(t, r->enhanced, el) != 0)
		return 0;
	while (el < n && t[el] == ' ')
		el++;
	return el;
}

static int
smtp_reply_check(const struct smtp_reply *r, const char *line, size_t len,
    const char **error_r)
{
	int code;

	if (r->done) {
		smtp_reply_error(error_r, "reply already complete");
		return -1;
	}
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    !smtp_reply_is_digit(line[1]) || !smtp_reply_is_digit(line[2])) {
		smtp_reply_error(error_r, "no 3-digit reply code");
		return -1;
	}
	if (len > 3 && line[3] != '-' && line[3] != ' ') {
		smtp_reply_error(error_r, "bad separator after the reply code");
		return -1;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code) {
		smtp_reply_error(error_r, "reply code changed between lines");
		return -1;
	}
	return code;
}

int
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
    const char **error_r)
{
	const char *t;
	size_t n, el, skip;
	int code;

	if ((code = smtp_reply_check(r, line, len, error_r)) == -1)
		return -1;
	t = len > 3 ? line + 4 : line + len;
	n = len > 3 ? len - 4 : 0;
	if (r->nlines == 0) {
		r->code = code;
		el = smtp_reply_enhanced_len(t, n, line[0]);
		memcpy(r->enhanced, t, el);
		r->enhanced[el] = '\0';
		smtp_reply_append(r, line, 3);
		if (n > 0)
			smtp_reply_append(r, " ", 1);
		smtp_reply_append(r, t, n);
	} else {
		skip = smtp_reply_skip_repeat(r, t, n);
		if (n > skip) {
			smtp_reply_append(r, " ", 1);
			smtp_reply_append(r, t + skip, n - skip);
		}
	}
	r->nlines++;
	r->done = len == 3 || line[3] == ' ';
	return r->done ? 1 : 0;
}

static const struct smtp_ext_def {
	const char	*keyword;
	unsigned	 bit;
} smtp_ext_defs[] = {
	{ "PIPELINING",			SMTP_EXT_PIPELINING },
	{ "SIZE",			SMTP_EXT_SIZE },
	{ "8BITMIME",			SMTP_EXT_8BITMIME },
	{ "SMTPUTF8",			SMTP_EXT_SMTPUTF8 },
	{ "ENHANCEDSTATUSCODES",	SMTP_EXT_ENHANCEDSTATUSCODES },
	{ "DSN",			SMTP_EXT_DSN },
	{ "STARTTLS",			SMTP_EXT_STARTTLS },
	{ "AUTH",			SMTP_EXT_AUTH },
	{ "CHUNKING",			SMTP_EXT_CHUNKING },
};

/* Does p[0..n) equal the upper-case word w, ignoring ASCII case? */
static bool
smtp_ext_word_eq(const char *p, size_t n, const char *w)
{
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = p[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (w[i] == '\0' || c != w[i])
			return false;
	}
	return w[n] == '\0';
}

/* "SIZE [n]": n, clamped to ULONG_MAX; 0 when absent or not a number. */
static unsigned long
smtp_ext_size(const char *t, size_t i, size_t len)
{
	unsigned long v = 0, d;

	while (i < len && (t[i] == ' ' || t[i] == '\t'))
		i++;
	for (; i < len && smtp_reply_is_digit(t[i]); i++) {
		d = (unsigned long)(t[i] - '0');
		if (v > (ULONG_MAX - d) / 10)
			return ULONG_MAX;
		v = v * 10 + d;
	}
	return v;
}

unsigned
smtp_ext_parse(const char *text, size_t len, unsigned long *size_r)
{
	size_t kl, i;

	for (kl = 0; kl < len && text[kl] != ' ' && text[kl] != '\t' &&
	    text[kl] != '='; kl++)
		;
	for (i = 0; i < sizeof(smtp_ext_defs) / sizeof(smtp_ext_defs[0]); i++) {
		if (!smtp_ext_word_eq(text, kl, smtp_ext_defs[i].keyword))
			continue;
		if (smtp_ext_defs[i].bit == SMTP_EXT_SIZE && size_r != NULL)
			*size_r = smtp_ext_size(text, kl, len);
		return smtp_ext_defs[i].bit;
	}
	return 0;
}
