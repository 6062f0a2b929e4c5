/*
 * mta_patterns: what a queue's <smtp-pattern-list> (pmta-reference §2.10)
 * and smtp-421-means-mx-unavailable (§3.4) make of a remote SMTP reply.
 *
 * Every reply of a delivery session (greeting, EHLO/HELO, MAIL, RCPT,
 * DATA, end of data), and the text of a local failure (connection
 * refused, time-out, lost connection, DNS: open question Q20), is matched
 * against the list's entries in order, case-insensitively, the text
 * including its code ("421 4.7.0 try later"); the first entry that
 * matches decides.  mta_patterns_decide() is the pure part: which entry,
 * and which of its actions apply to this reply.
 */
#ifndef TERN_MTA_PATTERNS_H
#define TERN_MTA_PATTERNS_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"

/* What the reply answers. */
enum mta_pat_stage {
	MTA_PAT_LOCAL,		/* no reply: a local failure's text */
	MTA_PAT_GREETING,
	MTA_PAT_HELLO,		/* EHLO or HELO */
	MTA_PAT_MAIL,
	MTA_PAT_RCPT,
	MTA_PAT_DATA,		/* the DATA command */
	MTA_PAT_DOT,		/* the end of the message */
	MTA_PAT_OTHER,		/* RSET, ... */
};

/*
 * The queue actions (MODEL_ACT_BACKOFF, _NORMAL, _DISABLE_SOURCE,
 * _DEFER_QUEUE, _BOUNCE_QUEUE) are applied to the queue; bounce: the
 * recipients this reply gives a failure to bounce now; failover: leave
 * this host for the next MX, recipients without an outcome going along.
 *
 * Which actions apply:
 *   - a 2xx or 3xx reply only changes the mode (mode=, and
 *     backoff-to-normal-after=): it never changes an outcome;
 *   - bounce-rcpt only for a 4xx to RCPT; bounce-queue for any failure;
 *   - skip-mx for a failure reply (a local failure moves to the next host
 *     anyway); smtp-421-means-mx-unavailable for a 421 that no rule
 *     bounces, defers or skips;
 *   - precedence: bounce-queue, bounce-rcpt, defer-queue (the queue
 *     waits: no other MX), skip-mx, 421.
 */
struct mta_pat_decision {
	const struct model_pattern *rule;	/* the first match, or NULL */
	unsigned	 queue_acts;		/* MODEL_ACT_* bits */
	long long	 to_normal_after;	/* -1: the queue's setting */
	long long	 reenable_after;	/* -1: reenable-source-ip-after */
	bool		 bounce;
	bool		 failover;
};

/* Match limit for the entries' regexes (the text comes from the network). */
#define MTA_PAT_MATCH_LIMIT	100000

/*
 * Decide for a reply (code and its text, "550 5.1.1 ..."; for
 * MTA_PAT_LOCAL the text of the failure and its class code) against the
 * entries v[0..n) (v may be NULL); mx421 is the queue's
 * smtp-421-means-mx-unavailable.
 */
void	mta_patterns_decide(const struct model_pattern *v, size_t n,
	    enum mta_pat_stage stage, int code, const char *text, bool mx421,
	    struct mta_pat_decision *d);

#endif
