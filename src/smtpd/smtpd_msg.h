/*
 * smtpd_msg: what every way into Tern does with a message once its
 * envelope is known, shared by the SMTP sessions (smtpd_session.c) and
 * the pickup directory (src/pickup):
 *
 *   - the <source> whose settings apply (an origin: the client's
 *     IP-matched source, or a named one such as {pickup});
 *   - MAIL and RCPT parameters (RET, ENVID, NOTIFY, ORCPT);
 *   - once the header section is in: the VirtualMTA, the job and the
 *     cold VirtualMTAs, the X-header edits, and the spool file's start;
 *   - the group commit, and once the message is durable: the r records,
 *     the inbound counters and the queues.
 *
 * The caller streams the body into the spool writer between the start
 * and the commit, and answers (250, or removes the pickup file) only in
 * the commit callback.
 */
#ifndef TERN_SMTPD_MSG_H
#define TERN_SMTPD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "model/model.h"
#include "smtp/smtp_cmd.h"
#include "spool/spool.h"

struct smtpd;

/* Where a message comes from: whose <source> settings apply. */
struct smtpd_origin {
	const struct model	*model;
	const struct sockaddr	*peer;		/* the client: its IP-matched
						   <source>; NULL for none */
	const char		*source;	/* a named <source> ({pickup})
						   read first, or NULL */
	const char		*helo;		/* an SMTP client's HELO/EHLO
						   name (our Received: header
						   names it), or NULL */
	const char		*client_ip;	/* with helo */
	const char		*user;		/* the user authenticated (SMTP
						   AUTH), or NULL */
	const char		*user_source;	/* its named <source>, read
						   before all others, or NULL */
};

/* The origin's setting for id (NULL: unset), or its yes/no with the
 * table default. */
const struct conf_value *smtpd_origin_value(const struct smtpd_origin *o,
	    int id);
bool	smtpd_origin_bool(const struct smtpd_origin *o, int id);

/*
 * MAIL parameters into env: BODY is accepted and ignored, SIZE,
 * SMTPUTF8 and VERP are left to the caller, RET and ENVID (xtext) kept.  0, or -1 with *bad
 * the parameter refused.
 */
int	smtpd_msg_mail_params(const struct smtp_cmd *c,
	    struct spool_envelope *env, bool merge,
	    const struct smtp_param **bad);
/*
 * RCPT parameters: NOTIFY into *notify (dsn_notify bits, 0 when absent)
 * and ORCPT (decoded) into orcpt[0..size) ("" when absent).  0, or -1
 * with *bad the parameter refused.
 */
int	smtpd_msg_rcpt_params(const struct smtp_cmd *c, unsigned *notify,
	    char *orcpt, size_t size, const struct smtp_param **bad);
/* Add recipient addr with its NOTIFY bits and ORCPT ("" for none). */
void	smtpd_msg_add_rcpt(struct spool_envelope *env, const char *addr,
	    unsigned notify, const char *orcpt);

/* The source's report settings: suppress-local-dsn, and
 * dsn-return-default when no RET was given. */
void	smtpd_msg_dsn_defaults(const struct smtpd_origin *o,
	    struct spool_envelope *env);

enum smtpd_msg_start {
	SMTPD_MSG_STARTED,	/* the spool file is open: write the body */
	SMTPD_MSG_BAD_VMTA,	/* selects a VirtualMTA that does not exist:
				   refuse the message (5.3.5) */
	SMTPD_MSG_SPOOL_ERROR,	/* the spool file could not be created */
};

/*
 * What a mailmerge recipient imposes on its message's selection
 * (smtpd_merge.c; NULL for DATA and pickup): *vmta beats every other
 * VirtualMTA choice, *jobid beats X-Job, *priority the pattern list's
 * recipient-priority (-1: none); xvmta is the job's X-Virtual-MTA, set
 * by the first message that has one and then used for every message.
 */
struct smtpd_override {
	const char	*vmta;		/* *vmta */
	const char	*jobid;		/* *jobid */
	int		 priority;	/* *priority */
	char		 xvmta[256];
};

/*
 * The header section body->data[0..*hdr) is in (or the message ended, or
 * it is too long): choose the VirtualMTA (X-Virtual-MTA, pattern-list,
 * default-virtual-mta) and the job (X-Job, jobid-header; a job already in
 * env->jobid, given with the envelope, is kept unless a header gives
 * one), edit the X-headers (*hdr follows), apply the cold VirtualMTAs
 * (*cold_taken: their places were counted; give them back with
 * smtpd_msg_cold_undo() if the message is not accepted), then start the
 * spool file w, and add the header fields of reception (R§3.1 step 6):
 * X-Envid (process-x-envid), Received: (add-received-header, for SMTP
 * clients), Message-Id (add-message-id-header), Date (add-date-header).
 * ov: a mailmerge recipient's overrides, or NULL.
 */
enum smtpd_msg_start smtpd_msg_start(struct smtpd *d,
	    const struct smtpd_origin *o, struct buf *body, size_t *hdr,
	    struct spool_envelope *env, struct spool_writer *w,
	    bool *cold_taken, struct smtpd_override *ov);

/* A message whose cold places were taken is not accepted after all. */
void	smtpd_msg_cold_undo(struct smtpd *d, const struct spool_envelope *env);

/* The body is written: hand the message to the spool's group commit;
 * cb(arg, 0) once it is durable (see spool_writer_commit_async). */
void	smtpd_msg_commit(struct smtpd *d, struct spool_envelope *env,
	    struct spool_writer *w, spool_commit_cb *cb, void *arg);

/* How a committed message arrived, for the r records. */
struct smtpd_rcv {
	const char	*src_type;	/* srcType: "smtp" */
	const char	*src_ip;	/* rcvSourceIp, or "" */
	int		 fd;		/* the connection (rcvDestinationIp),
					   or -1 */
	unsigned long long bytes;	/* size received, for the counters */
};

/* The message is durable: count it, write its r records, queue it. */
void	smtpd_msg_accepted(struct smtpd *d, const struct model *m,
	    const struct spool_envelope *env, const struct smtpd_rcv *rcv);

/* A recipient refused where no client could be told at once (a pickup
 * file's RCPT after XACK OFF). */
struct smtpd_refusal {
	const char	*rcpt;		/* as written (it may not parse) */
	unsigned	 notify;	/* its NOTIFY bits, 0 when none */
	const char	*orcpt;		/* its ORCPT, or NULL */
	const char	*status;	/* "5.1.3" */
	const char	*diag;		/* "x-pmta;pickup: ..." */
};

/*
 * The durable, accepted message env was injected without the recipients
 * r[0..n) (smtpd_refused.c): a b record for each, and a failure report
 * to sender (the file's sender; for a mailmerge job env is one of its
 * messages) as their NOTIFY wants, returning env's header section.
 */
void	smtpd_msg_refused(struct smtpd *d, const struct model *m,
	    const struct spool_envelope *env, const char *sender,
	    const struct smtpd_refusal *r, size_t n);

#endif
