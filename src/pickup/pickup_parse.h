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
 * refused RCPT is kept aside in `refused` (with the status and reason
 * its bounce will carry) and the others go on.  The format is B when the
 * first line's verb is HELO, EHLO, MAIL, XACK or XMRG (I-Q7), A when the
 * first line is one of the envelope lines above.
 *
 * A BSMTP file may instead hold one mailmerge job (pmta-interfaces §4.2):
 * XMRG FROM (the MAIL parameters), then XDFN and RCPT in any number (each
 * RCPT closes the variable set the XDFNs before it built), then parts:
 * XPRT n [LAST] followed by the part's text up to a "." line, the last
 * one with LAST.  The parser checks the sequence and the addresses; what
 * the job does with them (the variable sets, the parts) is the caller's,
 * through pickup_merge_ops: the parser stays pure.  After XACK OFF a
 * refused XDFN refuses the RCPT that closes its set (kept aside like any
 * refused RCPT); with XACK ON it makes the file bad.
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
#define PICKUP_REPLY_MAX	256	/* a reply from pickup_merge_ops */

enum pickup_format {
	PICKUP_FORMAT_NONE = 0,	/* not known yet */
	PICKUP_FORMAT_HEADERS,	/* A: x-sender / x-receiver */
	PICKUP_FORMAT_BSMTP,	/* B: SMTP commands */
};

/* A RCPT refused after XACK OFF: bounced once the file is accepted. */
struct pickup_refused {
	char		*rcpt;		/* the address, or the text as written */
	char		*orcpt;		/* ORCPT, or NULL */
	unsigned	 notify;	/* NOTIFY bits, or 0 */
	char		 status[8];	/* "5.1.3" */
	char		 why[PICKUP_REPLY_MAX];
};

/*
 * A mailmerge file's job (pickup_file.c: a struct smtpd_mjob).  The
 * functions that can fail answer 0, or -1 with an SMTP reply in
 * reply[0..size): a 4xx one is a temporary failure (the file is left for
 * later: p->temporary), a 5xx one a refusal.
 */
struct pickup_merge_ops {
	/* XDFN's argument, for the next recipient's set */
	int	(*xdfn)(void *arg, const char *a, size_t len, char *reply,
		    size_t size);
	/* RCPT: store the set it closes (before its checks) */
	int	(*rcpt_begin)(void *arg, char *reply, size_t size);
	/* ... and after them: the set is recipient idx's, or dropped */
	void	(*rcpt_end)(void *arg, bool accepted, size_t idx);
	/* XPRT's argument "n [LAST]" (*last set) */
	int	(*part)(void *arg, const char *a, size_t len, bool *last,
		    char *reply, size_t size);
	/* The part's text so far is in out (take it and reset out); end
	 * when the part's "." line was read. */
	int	(*part_data)(void *arg, struct buf *out, bool end, char *reply,
		    size_t size);
};

struct pickup_parse {
	/* results */
	enum pickup_format format;
	bool		 in_message;	/* the envelope is complete; what is
					   appended to out is the message */
	bool		 done;		/* the end marker was seen */
	char		*helo;		/* BSMTP HELO/EHLO name, or NULL */
	size_t		 rcpts_dropped;	/* refused RCPTs after XACK OFF: */
	struct pickup_refused *refused;	/* [rcpts_dropped] */
	bool		 merge;		/* an XMRG job (done: its LAST part
					   was read; out holds nothing) */
	bool		 temporary;	/* error is a temporary failure */
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
	const struct pickup_merge_ops *ops;	/* NULL: XMRG refused */
	void		*ops_arg;
	bool		 in_part;	/* reading an XPRT part */
	bool		 part_ended;	/* its "." line was just read */
	bool		 part_last;
	char		 xdfn_error[PICKUP_REPLY_MAX];	/* after XACK OFF:
					   the refusal of the current set */
};

void	pickup_parse_init(struct pickup_parse *p, bool remove_dot);
/* Accept mailmerge files, their job driven through ops (arg passed). */
void	pickup_parse_merge(struct pickup_parse *p,
	    const struct pickup_merge_ops *ops, void *arg);
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
