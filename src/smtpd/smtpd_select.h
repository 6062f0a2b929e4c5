/*
 * smtpd_select: what a message selects at reception, once its header
 * section is in.
 *
 * smtpd_select_patterns() evaluates a <pattern-list> (pmta-reference
 * §2.11): entries are tried in order and the first that matches decides;
 * its results apply (virtual-mta=, recipient-priority=), then the list
 * its call-to: names and then its nested anonymous list are evaluated the
 * same way, what they set replacing what the entry set.  A matching
 * entry ends the search of its list even when its call-to or nested list
 * matches nothing.  Regexes are case-insensitive; mail-from is matched
 * against the sender address without angle brackets ("" for the null
 * sender), rcpt-to against each recipient in turn (the first match
 * applies to the whole message), header NAME against the raw content of
 * each such field (after the colon, white space and folding kept).
 * Pure: no I/O.
 *
 * smtpd_select_cold() applies cold-virtual-mta warm-up (§3.2) to each
 * recipient of an envelope whose VirtualMTA or pool is chosen.
 */
#ifndef TERN_SMTPD_SELECT_H
#define TERN_SMTPD_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"
#include "queue/cold.h"
#include "spool/spool.h"

#define SMTPD_SELECT_DEPTH	8	/* call-to and nested lists, deep */
#define SMTPD_COLD_MAX		16	/* cold VirtualMTAs used per VMTA */

struct smtpd_select_msg {
	const char	*mail_from;	/* "" for the null sender */
	char *const	*rcpts;
	size_t		 nrcpts;
	const char	*hdr;		/* the header section as received */
	size_t		 hdr_len;
};

struct smtpd_select {
	const char	*vmta;		/* virtual-mta= (into the model), or NULL */
	int		 priority;	/* recipient-priority=, or -1 */
};

/*
 * Evaluate <pattern-list list> of m for msg.  true when an entry matched
 * (out says what it selected); false when none did or there is no such
 * list (out selects nothing).
 */
bool	smtpd_select_patterns(const struct model *m, const char *list,
	    const struct smtpd_select_msg *msg, struct smtpd_select *out);

/*
 * Cold-virtual-mta: env->vmta (a VirtualMTA, or a pool with its own
 * cold-virtual-mta list) names cold VirtualMTAs; each recipient whose
 * domain's max-cold-virtual-mta-msg (looked up for the domain in
 * env->vmta's <domain> settings) has room today goes to one of them in
 * turn: its per-recipient VirtualMTA (spool_envelope_set_rvmta).  Cold
 * names that are neither a VirtualMTA nor a pool are skipped.  Returns
 * the number of recipients moved.
 */
size_t	smtpd_select_cold(const struct model *m, struct cold *cold,
	    struct spool_envelope *env);
/* Give back the counts of a message that was not accepted after all. */
void	smtpd_select_cold_undo(struct cold *cold,
	    const struct spool_envelope *env);

#endif
