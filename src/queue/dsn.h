/*
 * dsn: compose the delivery status notifications (RFC 3464 inside an
 * RFC 6522 multipart/report) that PowerMTA sends to the envelope sender
 * (pmta-reference.md §3.9), and decide when one is wanted (RFC 3461
 * NOTIFY).  Pure: no I/O, no clock (the caller passes every time), no
 * globals; the message is appended to a capped struct buf.
 *
 * Sending is the caller's job: MAIL FROM:<> (RFC 3461 §6.1), RCPT TO the
 * original envelope sender, no RET, NOTIFY=NEVER if anything.
 */
#ifndef TERN_QUEUE_DSN_H
#define TERN_QUEUE_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"

#define DSN_SEED_MAX	40	/* octets in boundary_seed */
#define DSN_HOST_MAX	253	/* octets in reporting_mta */

/* The RFC 3464 Action values, in the order the report lists them. */
enum dsn_action {
	DSN_FAILED,
	DSN_DELAYED,
	DSN_DELIVERED,
	DSN_RELAYED,
	DSN_EXPANDED,
};

/* RCPT ... NOTIFY= keywords as bits; 0 means "no NOTIFY parameter". */
enum dsn_notify {
	DSN_NOTIFY_DEFAULT	= 0,
	DSN_NOTIFY_NEVER	= 1 << 0,
	DSN_NOTIFY_SUCCESS	= 1 << 1,
	DSN_NOTIFY_FAILURE	= 1 << 2,
	DSN_NOTIFY_DELAY	= 1 << 3,
};

/* What to return of the original (MAIL ... RET=, or dsn-return-default). */
enum dsn_ret {
	DSN_RET_HEADERS,
	DSN_RET_FULL,
};

/*
 * One recipient's outcome.  Strings may come from the network: they are
 * written with control characters turned into spaces, runs of 8-bit
 * octets turned into one '?', and folded, so they can never start a
 * header line of their own.
 */
struct dsn_rcpt {
	const char	*orcpt;		/* decoded ORCPT "rfc822;a@b", or NULL;
					 * "rfc822;" is added when no type is given */
	const char	*final_rcpt;	/* the envelope recipient, bare address */
	enum dsn_action	 action;
	const char	*status;	/* "5.1.1"; NULL = 5.0.0 / 4.0.0 / 2.0.0
					 * by action */
	const char	*remote_mta;	/* "mx.example.com (192.0.2.1)" or NULL */
	const char	*diagnostic;	/* "smtp;550 5.1.1 ..." or NULL; "smtp;"
					 * is added when no type is given */
	time_t		 last_attempt;	/* 0 = no attempt made */
	time_t		 will_retry_until; /* DSN_DELAYED only; 0 = not given */
};

struct dsn_message {
	const char	*reporting_mta;	/* our host-name: letters, digits, '-', '.' */
	const char	*from_header;	/* custom-dsn-from-header, or NULL for
					 * "Mail Delivery System <MAILER-DAEMON@host>" */
	const char	*to;		/* the envelope sender; never empty */
	const char	*envid;		/* decoded ENVID, or NULL */
	time_t		 arrival;	/* 0 = unknown: no Arrival-Date */
	time_t		 now;		/* the Date: of the report */
	/* Unique per report: letters, digits, '-', '_', '.' (not first,
	 * last or doubled), at most DSN_SEED_MAX.  Message-ID is
	 * <seed@reporting_mta>; the MIME boundary is "=_tern_<seed>". */
	const char	*boundary_seed;
	enum dsn_ret	 ret;
	bool		 plain_text;	/* dsn-format plain-text */
	const struct dsn_rcpt *rcpts;
	size_t		 nrcpts;	/* at least 1 */
	const char	*original;	/* headers + body, CRLF; NULL = no third part */
	size_t		 original_len;
	size_t		 max_original;	/* cap on the returned original; 0 = none */
};

/*
 * Append the complete report (RFC 5322, CRLF line ends, no line over 998
 * octets) to out.  Returns 0, or -1 when the input is invalid (nothing is
 * appended) or out overflowed (out->err is set and out holds a partial
 * report: reset it).
 *
 * The third part is the original's header section (text/rfc822-headers)
 * unless RET=FULL, the report has a failed recipient (RFC 3461 §6.2), the
 * message fits in max_original and none of its body lines is longer than
 * 998 octets: then it is the whole message (message/rfc822).  The header
 * section itself is cut at the last whole line within max_original.
 * With plain_text both the status part and the returned headers are
 * text/plain and RET is ignored.  The report contains 8-bit octets only
 * when the returned original does; that part is then labelled
 * Content-Transfer-Encoding: 8bit and must be sent with BODY=8BITMIME.
 */
int	dsn_compose(const struct dsn_message *m, struct buf *out);

/*
 * Whether a report for this outcome goes to this sender (RFC 3461 §5.2):
 * never to the null sender (NULL, "" or "<>") or with NOTIFY=NEVER;
 * without NOTIFY only failures; otherwise FAILURE / DELAY / SUCCESS
 * (delivered, relayed, expanded) when that keyword was given.
 */
bool	dsn_wanted(const char *envelope_sender, unsigned notify_flags,
	    enum dsn_action action);

#endif
