/*
 * pickup_parse: the two formats of a pickup file (pmta-interfaces §4.4),
 * read incrementally.  Pure: no I/O, no clock, no configuration.
 *
 * Format A (envelope headers): the file starts with envelope lines
 *
 *	x-sender: addr			(once; empty or <> = null sender)
 *	x-receiver: addr		(one per recipient, at least one)
 *	x-envid: text			(optional: the DSN envelope ID)
 *	x-job: id			(optional: the job)
 *	x-sender-override: addr		(optional: replaces x-sender)
 *
 * in any order, names in any case, addresses bare or in <>; the message
 * starts at the first line that is none of these.  The envelope lines are
 * removed; an x-virtual-mta: line among them (and its continuation lines)
 * is part of the message's header section, left for the X-header
 * processing of <source {pickup}>.
 *
 * Format B (BSMTP): SMTP commands, one per line: HELO/EHLO, XACK ON|OFF,
 * NOOP, RSET (before MAIL), MAIL FROM (RET, ENVID, SIZE, BODY), RCPT TO
 * (NOTIFY, ORCPT), DATA, then the message up to a line holding only
 * ".", then nothing but QUIT or empty lines.  One message per file; any
 * failing command makes the file bad, except that after XACK OFF a
 * refused RCPT is only dropped (counted in rcpts_dropped).  Mailmerge
 * (XMRG, XDFN, XPRT) is not supported yet.  The format is B when the
 * first line's verb is HELO, EHLO, MAIL, XACK or XMRG (I-Q7), A when the
 * first line is one of the envelope lines above.
 *
 * The message is appended to `out` with CRLF line ends (a bare LF becomes
 * CRLF; a bare CR is kept).  With remove_dot (pickup-remove-dot), a line
 * starting with ".." loses one dot, and a line holding only "." ends the
 * message in both formats; without it, BSMTP's "." line still ends the
 * message but no dot is removed, and format A has no end marker.  After
 * the end marker only empty lines and QUIT may follow.  A message whose
 * last line has no line end gets CRLF.
 */
#ifndef TERN_PICKUP_PARSE_H
#define TERN_PICKUP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "spool/spool.h"

#define PICKUP_LINE_MAX		4096	/* envelope and command lines */
#define PICKUP_RCPT_MAX		10000	/* recipients per file */

enum pickup_format {
	PICKUP_FORMAT_NONE = 0,	/* not known yet */
	PICKUP_FORMAT_HEADERS,	/* A: x-sender / x-receiver */
	PICKUP_FORMAT_BSMTP,	/* B: SMTP commands */
};

struct pickup_parse {
	/* results */
	enum pickup_format format;
	bool		 in_message;	/* the envelope is complete; what is
					   appended to out is the message */
	bool		 done;		/* the end marker was seen */
	char		*helo;		/* BSMTP HELO/EHLO name, or NULL */
	size_t		 rcpts_dropped;	/* refused RCPTs after XACK OFF */
	unsigned long long bytes;	/* message bytes appended to out */
	char		 error[192];	/* why the file is bad ("" if not) */
	/* private */
	bool		 remove_dot;
	bool		 dots;		/* a leading dot is special */
	bool		 xack_off;
	bool		 have_sender;	/* x-sender, or MAIL */
	bool		 kept;		/* format A: the last line went to out */
	int		 state;
	int		 bstate;
	size_t		 lineno;
	char		*sender_override;
	struct buf	 line;
};

void	pickup_parse_init(struct pickup_parse *p, bool remove_dot);
void	pickup_parse_free(struct pickup_parse *p);
/*
 * Consume in[0..len): the envelope goes into env (orig, recipients with
 * NOTIFY and ORCPT, envid, jobid, ret), the message is appended to out.
 * 0, or -1 when the file is bad (p->error says why, with its line).  An
 * append to out that fails (its cap) is an error too: callers keep out
 * at least twice as large as what they feed at once, plus what they
 * hold.
 */
int	pickup_parse_feed(struct pickup_parse *p, const char *in, size_t len,
	    struct spool_envelope *env, struct buf *out);
/* The end of the file: the checks that need it.  0 or -1 (p->error). */
int	pickup_parse_finish(struct pickup_parse *p, struct spool_envelope *env,
	    struct buf *out);

#endif
