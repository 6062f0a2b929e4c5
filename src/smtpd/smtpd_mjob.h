/*
 * smtpd_mjob: a mailmerge job (pmta-interfaces.md §4.2), whatever brought
 * it: an SMTP session's XMRG/XDFN/RCPT/XPRT (smtpd_merge.c) or a BSMTP
 * pickup file (src/pickup).  The owner feeds the job what the commands
 * carry and answers (a reply, or the file's fate); the job keeps the
 * data, makes the messages and commits them.
 *
 * Collecting.  The job owns a scratch file, created unlinked in the spool
 * directory: each recipient's variable set is appended to it when its
 * RCPT closes the set, and each part as it is received, so memory holds
 * only offsets (and the recipients' addresses in the owner's envelope),
 * whatever the size of the job.  The parts together are capped by
 * max_size (1 GB when unlimited), and so is each message made.
 *
 * Making.  smtpd_mjob_run() takes the job's envelope (the XMRG sender, its
 * DSN settings, the recipients) and from the next loop turn on makes
 * every recipient's message, one after the other from the scratch file,
 * a slice of messages per loop turn so that other work goes on: the
 * recipient's variables are read back, its parts (its *parts order, else
 * every part sent, in number order) are expanded into the job's message
 * buffer, whose first SMTPD_FLUSH bytes hold the header section while
 * smtpd_msg_start() processes the X-headers for the owner's origin and
 * starts the spool file (*vmta, *jobid and *priority go in as overrides,
 * and the job's first X-Virtual-MTA stands for all its messages), and the
 * rest is streamed to the spool file.  Each message is handed to the
 * spool's group commit at once.  When every message is durable, or the
 * job failed (one message could not be made or committed, or the owner
 * aborted it) and every commit has answered, the done callback runs
 * once: with NULL, the owner accepts the job (smtpd_mjob_accept() queues
 * and accounts the messages); with a reply text, the messages already
 * committed were removed again: nothing of a job is delivered unless
 * all of it was accepted.
 */
#ifndef TERN_SMTPD_MJOB_H
#define TERN_SMTPD_MJOB_H

#include <stdbool.h>
#include <stddef.h>

#include "smtpd/smtpd_msg.h"
#include "spool/spool.h"

#define SMTPD_MJOB_REPLY_MAX	256	/* a refusal: "550 5.3.5 ..." */

struct smtpd_mjob;

/* The job is over: error NULL (every message durable, not queued yet:
 * call smtpd_mjob_accept()), or the failure's reply text (every message
 * removed).  The owner frees the job, here or later. */
typedef void smtpd_mjob_done_cb(void *arg, const char *error);

/* A new job; max_size is the source's max-message-size (<= 0: none),
 * verp whether each message gets its VERP return path.  NULL when the
 * scratch file cannot be created (logged). */
struct smtpd_mjob *smtpd_mjob_new(struct smtpd *d, long long max_size,
	    bool verp);
/* Not accepted: what was committed goes again.  A job whose commits are
 * in flight finishes them first (the callback is then not called). */
void	smtpd_mjob_free(struct smtpd_mjob *j);

/* XDFN: add the definitions to the next recipient's set.  0, or -1 with
 * the refusal in reply (the set unchanged): a bad argument, or a *vmta
 * that is neither a VirtualMTA nor a pool nor may fall back (o's
 * reject-invalid-virtual-mta). */
int	smtpd_mjob_xdfn(struct smtpd_mjob *j, const struct smtpd_origin *o,
	    const char *arg, size_t len, char reply[SMTPD_MJOB_REPLY_MAX]);
/* RCPT, before its checks: store the set it closes.  0, or -1 when the
 * scratch file cannot be written (the set is dropped). */
int	smtpd_mjob_rcpt_begin(struct smtpd_mjob *j);
/* RCPT, after its checks: accepted, the set belongs to the recipient
 * added last to the envelope (recipient number `idx`); the next set
 * starts empty either way. */
void	smtpd_mjob_rcpt_end(struct smtpd_mjob *j, bool accepted, size_t idx);

/* XPRT's argument "n [LAST]" (the command parser checked its shape).
 * 0 (*last set), or -1 with the refusal in reply: n out of 1..100, or
 * part n sent already.  Then the part's bytes go to part_write(). */
int	smtpd_mjob_part_begin(struct smtpd_mjob *j, const char *arg,
	    size_t len, bool *last, char reply[SMTPD_MJOB_REPLY_MAX]);
/* Bytes of the part being received (CRLF, unstuffed).  Too large a part
 * or a write failure is remembered and the rest dropped. */
void	smtpd_mjob_part_write(struct smtpd_mjob *j, const char *data,
	    size_t len);
/* The part cannot be received whole: it ends with 451. */
void	smtpd_mjob_part_fail(struct smtpd_mjob *j);
/* The part ended.  0, or -1 with the refusal in reply (too big: 552;
 * the scratch file: 451); the job may go on with other parts. */
int	smtpd_mjob_part_end(struct smtpd_mjob *j,
	    char reply[SMTPD_MJOB_REPLY_MAX]);

/*
 * Make the messages: env (the XMRG envelope, with srcmta and the DSN
 * settings; moved into the job, *env is left empty) has one recipient
 * per stored set.  o (copied; what it points to must outlive the run)
 * says whose <source> settings apply.  A pickup file's messages are made
 * with the source's settings but no Received: (o->helo NULL), like its
 * other messages.  cb(arg, ...) runs once, from the loop.
 */
void	smtpd_mjob_run(struct smtpd_mjob *j, struct spool_envelope *env,
	    const struct smtpd_origin *o, smtpd_mjob_done_cb *cb, void *arg);
/* Stop making messages (the client left): the job fails with reply. */
void	smtpd_mjob_abort(struct smtpd_mjob *j, const char *reply);
/* After done(NULL): queue the messages and write their r records (rcv
 * gives how they came; its byte count is each message's size). */
void	smtpd_mjob_accept(struct smtpd_mjob *j, const struct model *m,
	    const struct smtpd_rcv *rcv);
/* Recipients (messages) of the running job; the first message made, for
 * a report about the job (NULL before one is durable). */
size_t	smtpd_mjob_count(const struct smtpd_mjob *j);
const struct spool_envelope *smtpd_mjob_first(const struct smtpd_mjob *j);

#endif
