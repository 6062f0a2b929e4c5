/*
 * smtp_reply: the client side's reply parser (multi-line replies,
 * enhanced status codes) and EHLO keyword recognition.  Pure: fed one
 * line at a time (without CRLF), no I/O.
 */
#ifndef TERN_SMTP_REPLY_H
#define TERN_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_REPLY_TEXT_MAX	2048	/* kept text; longer is truncated */

struct smtp_reply {
	int	code;			/* 3 digits, 0 until the first line */
	char	enhanced[16];		/* "5.1.1", or "" when the reply has none */
	/* The reply as PMTA shows it in dsnDiag after "smtp;": the first
	 * line "550 5.1.1 text", continuation lines' text appended after a
	 * space.  NUL-terminated; truncated at SMTP_REPLY_TEXT_MAX. */
	char	text[SMTP_REPLY_TEXT_MAX + 1];
	size_t	text_len;
	int	nlines;
	bool	done;			/* the last line (space after code) was fed */
};

void	smtp_reply_init(struct smtp_reply *r);
/*
 * Feed one line.  Returns 1 when the reply is complete, 0 when more
 * lines are expected, -1 when the line is malformed (no 3-digit code,
 * a code that differs from the first line's, a bad separator): the
 * caller treats that as a protocol error.
 */
int	smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
	    const char **error_r);

/* ESMTP extensions the client cares about. */
enum smtp_ext {
	SMTP_EXT_PIPELINING		= 1 << 0,
	SMTP_EXT_SIZE			= 1 << 1,
	SMTP_EXT_8BITMIME		= 1 << 2,
	SMTP_EXT_SMTPUTF8		= 1 << 3,
	SMTP_EXT_ENHANCEDSTATUSCODES	= 1 << 4,
	SMTP_EXT_DSN			= 1 << 5,
	SMTP_EXT_STARTTLS		= 1 << 6,
	SMTP_EXT_AUTH			= 1 << 7,
	SMTP_EXT_CHUNKING		= 1 << 8,
};

/*
 * Recognise one EHLO reply line's text (after "250-"/"250 ", i.e. the
 * keyword and its parameters).  Returns the smtp_ext bit, or 0 for a
 * keyword we do not use.  For SIZE, *size_r gets the limit (0 = none).
 */
unsigned smtp_ext_parse(const char *text, size_t len, unsigned long *size_r);

#endif
