/*
 * smtpd_merge: the mailmerge extension of the SMTP server
 * (pmta-interfaces.md §4.1, §4.2): XMRG, XDFN, RCPT inside a merge, XPRT
 * and XACK.  The job itself (its scratch file, the messages made from
 * it, their commit) is a struct smtpd_mjob (smtpd_mjob.h), shared with
 * the pickup directory's BSMTP files; this file turns the commands into
 * calls on it and the job's outcome into replies.
 *
 * After `XPRT n LAST` the job makes every recipient's message with the
 * session's origin (its <source>, HELO and AUTH user); only when every
 * one is durable does the client get its one reply, 250; then the
 * messages are queued and accounted.  If one message cannot be made or
 * committed, or the client leaves first, the messages already committed
 * are removed and the client gets the error.
 *
 * XACK OFF (for the rest of the connection) silences the replies to RCPT
 * and XDFN; smtpd_session.c holds back the first error such a command
 * would have had, and DATA or XPRT answers it and cancels the transaction.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "smtpd/smtpd_mjob.h"
#include "smtpd/smtpd_private.h"

OBJ_DEFINE_CAST(smtpd_session)

bool
smtpd_merge_allowed(const struct smtpd_session *s)
{
	return smtpd_source_bool(s, CONF_ID_ALLOW_MAILMERGE) ||
	    smtpd_source_bool(s, CONF_ID_ALWAYS_ALLOW_API_SUBMISSION);
}

void
smtpd_merge_cmd_xack(struct smtpd_session *s, struct smtp_cmd *c)
{
	s->xack_off = c->arg_len == 3;	/* "OFF" (the parser took ON|OFF) */
	smtpd_reply(s, "250 2.0.0 ok");
}

void
smtpd_merge_free(struct smtpd_session *s)
{
	struct smtpd_mjob *j = s->merge;

	s->merge = NULL;
	smtpd_mjob_free(j);	/* not accepted: what was committed goes */
}

void
smtpd_merge_cmd_xmrg(struct smtpd_session *s, struct smtp_cmd *c)
{
	const struct conf_value *v;

	smtpd_transaction_reset(s);
	if (!smtpd_merge_allowed(s)) {
		smtpd_reply(s, "550 5.7.1 mailmerge not allowed");
		return;
	}
	if (!smtpd_auth_mail_allowed(s))
		return;
	if (smtpd_mail_params(s, c) == -1 || smtpd_mail_check(s, c) == -1) {
		smtpd_transaction_reset(s);
		return;
	}
	/* VERP (or verp-default) is applied by the job, per recipient, on
	 * the return path each message is spooled with */
	v = smtpd_source_value(s, CONF_ID_MAX_MESSAGE_SIZE);
	if ((s->merge = smtpd_mjob_new(s->smtpd, conf_value_num(v,
	    &conf_directives[CONF_ID_MAX_MESSAGE_SIZE]), s->env.verp)) == NULL) {
		smtpd_reply(s, "451 4.3.0 cannot write to the spool");
		smtpd_transaction_reset(s);
		return;
	}
	s->env.verp = false;
	s->env.orig = xstrdup(c->path.addr);
	s->state = SMTPD_MERGE;
	smtpd_reply(s, "250 2.1.0 XMRG ok");
}

void
smtpd_merge_cmd_xdfn(struct smtpd_session *s, struct smtp_cmd *c)
{
	char reply[SMTPD_MJOB_REPLY_MAX];
	struct smtpd_origin o;

	smtpd_session_origin(s, &o);
	if (smtpd_mjob_xdfn(s->merge, &o, c->arg, c->arg_len, reply) == -1) {
		smtpd_reply(s, "%s", reply);
		return;
	}
	smtpd_reply(s, "250 2.0.0 XDFN ok");
}

/* RCPT closes the recipient's variable set, accepted or not. */
void
smtpd_merge_cmd_rcpt(struct smtpd_session *s, struct smtp_cmd *c)
{
	size_t n = s->env.nrcpts;

	if (smtpd_mjob_rcpt_begin(s->merge) == -1) {
		smtpd_reply(s, "451 4.3.0 cannot write to the spool");
		return;
	}
	smtpd_cmd_rcpt(s, c);
	smtpd_mjob_rcpt_end(s->merge, s->env.nrcpts > n, n);
}

/* --- receiving the parts --- */

void
smtpd_merge_cmd_xprt(struct smtpd_session *s, struct smtp_cmd *c)
{
	char reply[SMTPD_MJOB_REPLY_MAX];

	if (smtpd_xack_failed(s))
		return;
	if (s->env.nrcpts == 0) {
		smtpd_reply(s, "554 5.5.1 no valid recipients");
		return;
	}
	if (smtpd_mjob_part_begin(s->merge, c->arg, c->arg_len,
	    &s->merge_last, reply) == -1) {
		smtpd_reply(s, "%s", reply);
		return;
	}
	if (s->env.srcmta == NULL) {
		s->env.srcmta = xasprintf("%s (%s)", s->helo, s->peer_ip);
		smtpd_dsn_defaults(s);
	}
	smtp_data_rx_init(&s->rx);
	buf_reset(&s->body);
	s->state = SMTPD_DATA;
	smtpd_timeout(s, true);
	smtpd_reply(s, "354 send part");
}

static void smtpd_merge_done(void *arg, const char *error);

/* The part's final "." was read. */
static void
smtpd_merge_part_done(struct smtpd_session *s)
{
	char reply[SMTPD_MJOB_REPLY_MAX];
	struct smtpd_origin o;

	smtpd_timeout(s, false);
	if (smtpd_mjob_part_end(s->merge, reply) == -1) {
		s->state = SMTPD_IDLE;
		smtpd_reply(s, "%s", reply);
		smtpd_transaction_reset(s);
		return;
	}
	if (!s->merge_last) {
		s->state = SMTPD_MERGE;
		smtpd_reply(s, "250 2.6.0 part ok");
		return;
	}
	/* the transaction's envelope becomes the job's */
	s->state = SMTPD_COMMITTING;
	smtpd_session_origin(s, &o);
	smtpd_mjob_run(s->merge, &s->env, &o, smtpd_merge_done, s);
}

bool
smtpd_merge_part_input(struct smtpd_session *s)
{
	size_t used = smtp_data_rx_feed(&s->rx, s->conn.in.data, s->conn.in.len,
	    &s->body);

	if (used == (size_t)-1) {	/* cannot happen: flushed below the cap */
		used = s->conn.in.len;
		s->rx.done = true;
		smtpd_mjob_part_fail(s->merge);
	}
	conn_consume(&s->conn, used);
	if (s->body.len >= SMTPD_FLUSH || s->rx.done) {
		smtpd_mjob_part_write(s->merge, s->body.data, s->body.len);
		buf_reset(&s->body);
	}
	if (!s->rx.done)
		return false;
	smtpd_merge_part_done(s);
	return true;
}

/* --- the job's outcome --- */

/* Every message durable (error NULL) or none: one reply, the
 * transaction ends, input goes on. */
static void
smtpd_merge_done(void *arg, const char *error)
{
	struct smtpd_session *s = OBJ_CAST(smtpd_session, arg,
	    SMTPD_SESSION_MAGIC);
	size_t n = smtpd_mjob_count(s->merge);

	s->state = SMTPD_IDLE;
	if (error == NULL) {
		struct smtpd_rcv rcv = { "smtp", s->peer_ip, s->conn.fd, 0 };

		smtpd_reply(s, "250 2.6.0 message received");
		log_debug("(in) %s: mailmerge job of %zu message(s) accepted",
		    s->peer_ip, n);
		smtpd_mjob_accept(s->merge, s->model, &rcv);
	} else {
		log_info("(in) %s: mailmerge job of %zu recipient(s) not accepted: %s",
		    s->peer_ip, n, error);
		smtpd_reply(s, "%s", error);
	}
	smtpd_transaction_reset(s);	/* frees the job */
	if (s->gone) {
		smtpd_session_free(s);
		return;
	}
	if (s->smtpd->stopping)
		smtpd_session_stop(s);
	smtpd_session_input(s);		/* commands pipelined behind XPRT */
}

void
smtpd_merge_client_gone(struct smtpd_session *s)
{
	if (s->merge != NULL)
		smtpd_mjob_abort(s->merge, "421 4.4.2 client gone");
}
