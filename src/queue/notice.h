/*
 * notice: the short plain-text messages Tern sends an administrator
 * about a queue (backoff-notify on entering and leaving backoff,
 * disabled-source-ip-notify).  Pure: no I/O, no clock (the caller passes
 * the time), no globals; the message is appended to a capped struct buf.
 *
 * Sending is the caller's job: from the null sender <> (no bounce can
 * loop back), one envelope recipient per address.
 */
#ifndef TERN_QUEUE_NOTICE_H
#define TERN_QUEUE_NOTICE_H

#include <stddef.h>
#include <time.h>

#include "lib/buf.h"

#define NOTICE_LINE_MAX	900	/* longest body line written */

struct notice {
	const char		*host;		/* our host-name (From:, Message-ID) */
	const char *const	*to;		/* addresses, at least one */
	size_t			 nto;
	const char		*subject;	/* printable ASCII */
	const char		*seed;		/* Message-ID local part: letters,
						   digits, '.', '-' */
	time_t			 now;		/* Date: */
	/* The body, lines separated by '\n'.  It may hold text from the
	 * network: control and 8-bit octets are written as '?', and a line
	 * is cut at NOTICE_LINE_MAX. */
	const char		*text;
};

/* Append the message (RFC 5322, CRLF).  0, or -1 when the input is
 * invalid or out overflowed (out->err set). */
int	notice_compose(const struct notice *n, struct buf *out);

#endif
