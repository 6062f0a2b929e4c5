/*
 * smtpd_session: one inbound SMTP connection.
 *
 * Commands are dispatched through one table (verb -> allowed states ->
 * handler).  Pipelined commands are handled in order from the input
 * buffer; while a message is being received the input goes to the DATA
 * decoder instead.  The 250 for a message is queued only after the spool
 * commit (fsync of the file and its directory) has succeeded; then the
 * recipients are handed to the queues.
 *
 * TLS (STARTTLS and immediate-tls listeners): smtpd_tls.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "smtp/smtp_header.h"
#include "smtpd/smtpd_msg.h"
#include "smtpd/smtpd_private.h"
#include "smtpd/smtpd_select.h"

OBJ_DEFINE_CAST(smtpd_session)

static void smtpd_session_event(struct conn *c, enum conn_event ev, void *arg);

void
smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	if (s->quiet) {		/* XACK OFF: the first error waits for DATA */
		if (s->xack_error == NULL && line[0] >= '4')
			s->xack_error = xstrndup(line, (size_t)n);
		return;
	}
	if (s->log_commands)	/* what the client is sent */
		log_info("(in %lu)<<< %.*s", s->id, n, line);
	if (conn_write(&s->conn, line, (size_t)n + 2) == -1) {
		/* the client does not read its replies: give up on it */
		s->state = SMTPD_CLOSING;
		conn_read_enable(&s->conn, false);
	}
}

/*
 * Close once the queued replies are written (CONN_DRAINED frees the
 * session).  Always called right after a reply was queued, so there is
 * output pending and the session is never freed from here.
 */
static void
smtpd_close_after_reply(struct smtpd_session *s)
{
	s->state = SMTPD_CLOSING;
	conn_read_enable(&s->conn, false);
}

void
smtpd_transaction_reset(struct smtpd_session *s)
{
	if (s->writing)
		spool_writer_abort(&s->writer);
	s->writing = false;
	if (s->cold_taken)	/* not accepted: its cold places go back */
		smtpd_select_cold_undo(s->smtpd->cold, &s->env);
	s->cold_taken = false;
	spool_envelope_free(&s->env);
	buf_reset(&s->body);
	s->too_big = s->rcpts_over = false;
	free(s->xack_error);
	s->xack_error = NULL;
	smtpd_merge_free(s);
}

void
smtpd_session_new(struct smtpd *d, int fd, const struct sockaddr_storage *peer,
    const struct smtpd_listener *l)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));

	OBJ_INIT(s, SMTPD_SESSION_MAGIC);
	s->smtpd = d;
	s->id = ++d->next_id;
	s->model = model_ref(*d->model);
	s->peer = *peer;
	addr_ntop((const struct sockaddr *)peer, s->peer_ip, sizeof(s->peer_ip));
	addr_ntop_port((const struct sockaddr *)peer, s->peer_text,
	    sizeof(s->peer_text));
	s->lsource = l != NULL && l->source != NULL ? xstrdup(l->source) : NULL;
	s->tls_ctx = model_listener_tls(s->model, l != NULL ? l->text : "",
	    &s->tls_ca);
	smtpd_session_settings(s);
	s->relaying = smtpd_source_bool(s, CONF_ID_ALWAYS_ALLOW_RELAYING);
	buf_init(&s->body, 2 * SMTPD_FLUSH);
	conn_init(&s->conn, d->loop, fd, false, 64 * 1024, 256 * 1024,
	    smtpd_session_event, s);
	smtpd_timeout(s, false);
	LIST_INSERT_HEAD(&d->sessions, s, entry);
	d->stats.active++;
	s->state = SMTPD_GREETED;
	if (smtpd_source_bool(s, CONF_ID_LOG_CONNECTIONS))
		log_info("(in %lu)accepted connection from %s", s->id,
		    s->peer_text);
	else
		log_debug("(in %lu)accepted connection from %s", s->id,
		    s->peer_text);
	if (l != NULL && l->immediate_tls)
		smtpd_tls_implicit(s);	/* the greeting after the handshake */
	else
		smtpd_session_greet(s);
}

/* The 220 (or, for a source without smtp-service, the 521 and close). */
void
smtpd_session_greet(struct smtpd_session *s)
{
	if (!smtpd_source_bool(s, CONF_ID_SMTP_SERVICE)) {
		/* pmta-reference §3.1: the greeting refuses the client */
		smtpd_reply(s, "521 %s does not accept mail from you",
		    s->model->host_name);
		smtpd_close_after_reply(s);
		return;
	}
	smtpd_reply(s, "220 %s ESMTP service ready", s->model->host_name);
}

void
smtpd_timeout(struct smtpd_session *s, bool data)
{
	conn_set_timeout(&s->conn, data ? s->data_timeout : s->cmd_timeout);
}

void
smtpd_session_free(struct smtpd_session *s)
{
	OBJ_CHECK(s, SMTPD_SESSION_MAGIC);
	if (smtpd_source_bool(s, CONF_ID_LOG_CONNECTIONS))
		log_info("(in %lu)closed connection from %s", s->id,
		    s->peer_text);
	LIST_REMOVE(s, entry);
	s->smtpd->stats.active--;
	smtpd_listeners_resume(s->smtpd);
	smtpd_transaction_reset(s);
	smtpd_auth_reset(s);
	buf_free(&s->body);
	conn_free(&s->conn);
	free(s->helo);
	free(s->lsource);
	model_unref(s->model);
	OBJ_WIPE(s);
	free(s);
}

void
smtpd_session_stop(struct smtpd_session *s)
{
	if (s->state == SMTPD_TLS) {
		/* nothing can be said in the middle of a handshake */
		smtpd_session_free(s);
		return;
	}
	if (s->state == SMTPD_DATA || s->state == SMTPD_COMMITTING ||
	    s->state == SMTPD_CLOSING || s->state == SMTPD_CHUNK ||
	    s->state == SMTPD_BDAT)
		return;		/* finishes its message first */
	smtpd_reply(s, "421 4.3.2 %s shutting down", s->model->host_name);
	smtpd_close_after_reply(s);
}

/* --- commands --- */

/* The EHLO reply, in PMTA's order (pmta-interfaces §4.1); SIZE gives
 * max-message-size (0: no limit). */
static void
smtpd_ehlo_reply(struct smtpd_session *s)
{
	const char *ext[16];
	char size[40], auth[64];
	size_t n = 0;

	ext[n++] = "ENHANCEDSTATUSCODES";
	ext[n++] = "PIPELINING";
	if (smtpd_source_bool(s, CONF_ID_ALLOW_CHUNKING))
		ext[n++] = "CHUNKING";
	ext[n++] = "8BITMIME";
	ext[n++] = "XACK";
	if (smtpd_merge_allowed(s))
		ext[n++] = "XMRG";
	snprintf(size, sizeof(size), "SIZE %lld", s->max_size);
	ext[n++] = size;
	ext[n++] = "VERP";
	if (smtpd_source_bool(s, CONF_ID_ALLOW_SMTPUTF8))
		ext[n++] = "SMTPUTF8";
	if (smtpd_tls_offered(s))
		ext[n++] = "STARTTLS";
	if (smtpd_auth_ehlo(s, auth, sizeof(auth)))
		ext[n++] = auth;
	ext[n++] = "DSN";
	smtpd_reply(s, "250-%s says hello", s->model->host_name);
	for (size_t i = 0; i < n; i++)
		smtpd_reply(s, "250%c%s", i + 1 < n ? '-' : ' ', ext[i]);
}

static void
smtpd_cmd_helo(struct smtpd_session *s, struct smtp_cmd *c)
{
	if (c->arg_len == 0) {
		smtpd_reply(s, "501 5.5.4 %s needs a host name",
		    smtp_verb_name(c->verb));
		return;
	}
	smtpd_transaction_reset(s);
	free(s->helo);
	s->helo = xstrndup(c->arg, c->arg_len);
	for (char *p = s->helo; *p != '\0'; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			*p = '?';	/* it goes into logs and accounting */
	s->esmtp = c->verb == SMTP_VERB_EHLO;
	s->state = SMTPD_IDLE;
	if (!s->esmtp) {
		smtpd_reply(s, "250 %s says hello", s->model->host_name);
		return;
	}
	smtpd_ehlo_reply(s);
}

/* The settings of the client's <source>. */
void
smtpd_session_origin(const struct smtpd_session *s, struct smtpd_origin *o)
{
	o->model = s->model;
	o->peer = (const struct sockaddr *)&s->peer;
	o->source = s->lsource;	/* smtp-listener ... source=NAME */
	o->helo = s->helo;
	o->client_ip = s->peer_ip;
	o->user = s->auth_user;		/* after AUTH: the user's <source> */
	o->user_source = s->auth_source;
}

const struct conf_value *
smtpd_source_value(const struct smtpd_session *s, int id)
{
	struct smtpd_origin o;

	smtpd_session_origin(s, &o);
	return smtpd_origin_value(&o, id);
}

/* A yes/no setting of the client's <source>. */
bool
smtpd_source_bool(const struct smtpd_session *s, int id)
{
	struct smtpd_origin o;

	smtpd_session_origin(s, &o);
	return smtpd_origin_bool(&o, id);
}

/* MAIL's (and XMRG's) ESMTP parameters (smtpd_msg_mail_params). */
int
smtpd_mail_params(struct smtpd_session *s, struct smtp_cmd *c)
{
	const struct smtp_param *p;

	if (smtpd_msg_mail_params(c, &s->env, s->merge != NULL, &p) == 0)
		return 0;
	smtpd_reply(s, "555 5.5.4 unsupported parameter %.*s",
	    (int)p->key_len, p->key);
	return -1;
}

static void
smtpd_cmd_mail(struct smtpd_session *s, struct smtp_cmd *c)
{
	smtpd_transaction_reset(s);
	if (!smtpd_auth_mail_allowed(s))
		return;
	if (smtpd_mail_params(s, c) == -1) {
		smtpd_transaction_reset(s);
		return;
	}
	if (smtpd_mail_check(s, c) == -1) {
		smtpd_transaction_reset(s);
		return;
	}
	s->env.orig = xstrdup(c->path.addr);
	s->state = SMTPD_MAIL;
	smtpd_reply(s, "250 2.1.0 MAIL ok");
}

/* RCPT's NOTIFY and ORCPT (RFC 3461). */
static int
smtpd_rcpt_params(struct smtpd_session *s, struct smtp_cmd *c, unsigned *notify,
    char *orcpt, size_t size)
{
	const struct smtp_param *p;

	if (smtpd_msg_rcpt_params(c, notify, orcpt, size, &p) == 0)
		return 0;
	smtpd_reply(s, "555 5.5.4 unsupported parameter %.*s",
	    (int)p->key_len, p->key);
	return -1;
}

void
smtpd_cmd_rcpt(struct smtpd_session *s, struct smtp_cmd *c)
{
	char orcpt[SMTP_ADDR_MAX + 16], addr[SMTP_ADDR_MAX + 1];
	unsigned notify;
	int r;

	if (smtpd_rcpt_params(s, c, &notify, orcpt, sizeof(orcpt)) == -1)
		return;
	if ((r = smtpd_rcpt_check(s, c, addr, sizeof(addr))) == -1)
		return;
	if (r == 0)
		smtpd_msg_add_rcpt(&s->env, addr, notify, orcpt);
	smtpd_reply(s, "250 2.1.5 RCPT ok");
}

/* The source's report settings into s->env. */
void
smtpd_dsn_defaults(struct smtpd_session *s)
{
	struct smtpd_origin o;

	smtpd_session_origin(s, &o);
	smtpd_msg_dsn_defaults(&o, &s->env);
}

/* XACK OFF held back an error (a refused RCPT ...): DATA or XPRT reports
 * it and the whole transaction is cancelled (pmta-interfaces §4.1). */
bool
smtpd_xack_failed(struct smtpd_session *s)
{
	if (s->xack_error == NULL)
		return false;
	s->state = SMTPD_IDLE;
	s->quiet = false;
	smtpd_reply(s, "%s", s->xack_error);
	smtpd_transaction_reset(s);
	return true;
}

static void
smtpd_cmd_data(struct smtpd_session *s, struct smtp_cmd *c)
{
	struct smtpd_origin o;

	if (s->state == SMTPD_BDAT) {
		smtpd_reply(s, "503 5.5.1 bad sequence of commands: "
		    "DATA after BDAT");
		return;
	}
	if (smtpd_xack_failed(s))
		return;
	if (s->rcpts_over) {
		s->state = SMTPD_IDLE;
		smtpd_reply(s, "552 5.5.3 too many recipients");
		smtpd_transaction_reset(s);
		return;
	}
	if (s->env.nrcpts == 0) {
		smtpd_reply(s, "554 5.5.1 no valid recipients");
		return;
	}
	smtpd_session_origin(s, &o);
	s->env.srcmta = xasprintf("%s (%s)", s->helo, s->peer_ip);
	smtpd_msg_dsn_defaults(&o, &s->env);
	/* the spool file starts once the header section is read (the
	 * envelope carries what the X-headers select) */
	s->headers_done = s->vmta_bad = s->too_big = false;
	smtp_data_rx_init(&s->rx);
	buf_reset(&s->body);
	s->state = SMTPD_DATA;
	smtpd_timeout(s, true);
	smtpd_reply(s, "354 send message");
}

static void
smtpd_cmd_rset(struct smtpd_session *s, struct smtp_cmd *c)
{
	smtpd_transaction_reset(s);
	s->state = SMTPD_IDLE;
	smtpd_reply(s, "250 2.0.0 reset");
}

static void
smtpd_cmd_quit(struct smtpd_session *s, struct smtp_cmd *c)
{
	smtpd_reply(s, "221 2.0.0 %s says goodbye", s->model->host_name);
	smtpd_close_after_reply(s);
}

static void
smtpd_cmd_unimplemented(struct smtpd_session *s, struct smtp_cmd *c)
{
	smtpd_reply(s, "502 5.5.1 %s not implemented", smtp_verb_name(c->verb));
}

#define ST(x)		(1u << SMTPD_##x)
#define ST_ANY		(ST(GREETED) | ST(IDLE) | ST(MAIL) | ST(MERGE) | ST(BDAT))
#define ST_HELLO	(ST(IDLE) | ST(MAIL))

static const struct smtpd_command {
	enum smtp_verb	 verb;
	unsigned	 states;	/* where the verb is in sequence */
	const char	*text;		/* 503 text out of sequence; without
					   `run`, the verb's fixed reply */
	void		(*run)(struct smtpd_session *, struct smtp_cmd *);
} smtpd_commands[] = {
	{ SMTP_VERB_HELO, ST_ANY, NULL, smtpd_cmd_helo },
	{ SMTP_VERB_EHLO, ST_ANY, NULL, smtpd_cmd_helo },
	{ SMTP_VERB_MAIL, ST(IDLE), "send HELO/EHLO first, one MAIL per transaction",
	    smtpd_cmd_mail },
	{ SMTP_VERB_RCPT, ST(MAIL), "need MAIL before RCPT", smtpd_cmd_rcpt },
	{ SMTP_VERB_RCPT, ST(MERGE), NULL, smtpd_merge_cmd_rcpt },
	{ SMTP_VERB_DATA, ST(MAIL) | ST(BDAT), "need MAIL and RCPT before DATA",
	    smtpd_cmd_data },
	{ SMTP_VERB_RSET, ST_ANY, NULL, smtpd_cmd_rset },
	{ SMTP_VERB_NOOP, ST_ANY, "250 2.0.0 ok", NULL },
	{ SMTP_VERB_VRFY, ST_ANY,
	    "252 2.5.0 cannot verify, will attempt delivery", NULL },
	{ SMTP_VERB_HELP, ST_ANY, "214 2.0.0 see RFC 5321", NULL },
	{ SMTP_VERB_QUIT, ST_ANY, NULL, smtpd_cmd_quit },
	{ SMTP_VERB_EXPN, ST_ANY, NULL, smtpd_cmd_unimplemented },
	{ SMTP_VERB_STARTTLS, ST_ANY, NULL, smtpd_cmd_starttls },
	{ SMTP_VERB_AUTH, ST(IDLE), "send EHLO first, no AUTH in a transaction",
	    smtpd_auth_cmd },
	{ SMTP_VERB_BDAT, ST_ANY, NULL, smtpd_cmd_bdat },
	{ SMTP_VERB_XACK, ST_ANY, NULL, smtpd_merge_cmd_xack },
	{ SMTP_VERB_XMRG, ST(IDLE), "send HELO/EHLO first, one XMRG per transaction",
	    smtpd_merge_cmd_xmrg },
	{ SMTP_VERB_XDFN, ST(MERGE), "need XMRG before XDFN", smtpd_merge_cmd_xdfn },
	{ SMTP_VERB_XPRT, ST(MERGE), "need XMRG and RCPT before XPRT",
	    smtpd_merge_cmd_xprt },
};

/* Run a parsed command: the verb's entry for the current state (a verb
 * may have one per state), else the 503 text of its first entry. */
static void
smtpd_run(struct smtpd_session *s, struct smtp_cmd *cmd)
{
	const struct smtpd_command *first = NULL;

	for (size_t i = 0; i < sizeof(smtpd_commands) / sizeof(smtpd_commands[0]); i++) {
		const struct smtpd_command *t = &smtpd_commands[i];
		if (t->verb != cmd->verb)
			continue;
		if (first == NULL)
			first = t;
		if (t->run == NULL) {
			smtpd_reply(s, "%s", t->text);
			return;
		}
		if ((t->states & (1u << s->state)) != 0) {
			t->run(s, cmd);
			return;
		}
	}
	if (first != NULL)
		smtpd_reply(s, "503 5.5.1 bad sequence of commands: %s",
		    first->text ? first->text : "not now");
	else
		smtpd_reply(s, "500 5.5.1 command unrecognized");
}

static void
smtpd_dispatch(struct smtpd_session *s, const char *line, size_t len)
{
	struct smtp_cmd cmd;
	const char *error = NULL;
	/* non-ASCII addresses parse; whether they may be used is the
	 * SMTPUTF8 check's call (smtpd_mail_check, smtpd_rcpt_check) */
	enum smtp_cmd_result r = smtp_cmd_parse(line, len,
	    SMTP_ADDR_ALLOW_UTF8 | SMTP_ADDR_ALLOW_NODOMAIN, &cmd, &error);

	if (s->log_commands)	/* never a password */
		log_info("(in %lu)>>> %.*s", s->id, cmd.verb == SMTP_VERB_AUTH &&
		    len > 10 ? 10 : (int)len, line);

	/* XACK OFF: RCPT and XDFN get no reply (pmta-interfaces §4.2) */
	s->quiet = s->xack_off && (cmd.verb == SMTP_VERB_RCPT ||
	    cmd.verb == SMTP_VERB_XDFN);
	switch (r) {
	case SMTP_CMD_UNKNOWN:
		smtpd_reply(s, "500 5.5.1 command unrecognized");
		break;
	case SMTP_CMD_SYNTAX:
		smtpd_reply(s, "501 5.5.4 syntax error: %s",
		    error ? error : "bad arguments");
		if (cmd.verb == SMTP_VERB_BDAT)
			/* its chunk's end is unknown: its octets would be
			 * read as commands */
			smtpd_close_after_reply(s);
		break;
	case SMTP_CMD_OK:
		smtpd_run(s, &cmd);
		break;
	}
	s->quiet = false;
}

/* --- the message --- */

static int
smtpd_flush_body(struct smtpd_session *s)
{
	int r = spool_writer_write(&s->writer, s->body.data, s->body.len);

	buf_reset(&s->body);
	return r;
}

/* The spool's answer: durable (error 0) or not.  Now the client hears it. */
static void
smtpd_message_committed(void *arg, int error)
{
	struct smtpd_session *s = OBJ_CAST(smtpd_session, arg,
	    SMTPD_SESSION_MAGIC);
	struct smtpd *d = s->smtpd;

	s->state = SMTPD_IDLE;
	if (error != 0)
		smtpd_reply(s, "451 4.3.0 cannot write to the spool");
	else {
		struct smtpd_rcv rcv = { "smtp", s->peer_ip, s->conn.fd,
		    s->rx.bytes };

		log_debug("(in) %s: message %s accepted for %zu recipient(s)",
		    s->peer_ip, s->env.id, s->env.nrcpts);
		smtpd_reply(s, "250 2.6.0 message received");
		s->cold_taken = false;
		smtpd_msg_accepted(d, s->model, &s->env, &rcv);
	}
	smtpd_transaction_reset(s);
	if (s->gone) {
		smtpd_session_free(s);
		return;
	}
	if (d->stopping)
		smtpd_session_stop(s);
	if (!s->commit_inline)
		smtpd_session_input(s);	/* commands pipelined behind DATA */
}

bool
smtpd_refuse_too_big(struct smtpd_session *s)
{
	if (!s->too_big)
		return false;
	s->state = SMTPD_IDLE;
	smtpd_reply(s, "552 5.3.4 message too big");
	smtpd_transaction_reset(s);
	return true;
}

/* The end of DATA: hand the message to the spool's group commit; the
 * reply waits for smtpd_message_committed(). */
void
smtpd_message_done(struct smtpd_session *s, bool failed)
{
	smtpd_timeout(s, false);
	if (smtpd_refuse_too_big(s))
		return;
	if (s->vmta_bad) {
		s->state = SMTPD_IDLE;
		smtpd_reply(s, "550 5.3.5 specified VirtualMTA does not exist");
		smtpd_transaction_reset(s);
		return;
	}
	if (failed || smtpd_flush_body(s) == -1) {
		s->state = SMTPD_IDLE;
		smtpd_reply(s, "451 4.3.0 cannot write to the spool");
		smtpd_transaction_reset(s);
		return;
	}
	s->writing = false;
	s->state = SMTPD_COMMITTING;
	s->commit_inline = true;
	smtpd_msg_commit(s->smtpd, &s->env, &s->writer,
	    smtpd_message_committed, s);
	s->commit_inline = false;
}

/* The header section is in (or the message ended, or it is too long):
 * process the X-headers, then start the spool file. */
int
smtpd_message_start(struct smtpd_session *s, struct smtpd_override *ov)
{
	size_t hdr = smtp_header_end(s->body.data, s->body.len);
	struct smtpd_origin o;

	s->headers_done = true;
	if (hdr == 0)
		hdr = s->body.len;	/* no end seen: all of it is header */
	smtpd_session_origin(s, &o);
	switch (smtpd_msg_start(s->smtpd, &o, &s->body, &hdr, &s->env,
	    &s->writer, &s->cold_taken, ov)) {
	case SMTPD_MSG_STARTED:
		s->writing = true;
		return 0;
	case SMTPD_MSG_BAD_VMTA:
		s->vmta_bad = true;
		return -1;
	case SMTPD_MSG_SPOOL_ERROR:
		break;
	}
	return -1;
}

bool
smtpd_body_progress(struct smtpd_session *s, bool end)
{
	if (s->max_size > 0 && s->rx.bytes > (unsigned long long)s->max_size &&
	    !s->too_big) {
		/* never stored: the rest is read and dropped, 552 at the end */
		s->too_big = true;
		s->headers_done = true;
		if (s->writing)
			spool_writer_abort(&s->writer);
		s->writing = false;
	}
	if (!s->headers_done && (end || s->body.len >= SMTPD_FLUSH ||
	    smtp_header_end(s->body.data, s->body.len) > 0))
		(void)smtpd_message_start(s, NULL);
	if (!s->headers_done)
		return false;
	if (!s->writing)		/* refused: swallow the rest */
		buf_reset(&s->body);
	if (!end) {
		if (s->body.len >= SMTPD_FLUSH && smtpd_flush_body(s) == -1)
			log_warn("(in) %s: spool write", s->peer_ip);
		return false;
	}
	smtpd_message_done(s, !s->writing || s->writer.failed);
	return true;
}

/* Feed buffered input to the DATA decoder; true when the message ended. */
static bool
smtpd_data_input(struct smtpd_session *s)
{
	size_t used = smtp_data_rx_feed(&s->rx, s->conn.in.data, s->conn.in.len,
	    &s->body);

	if (used == (size_t)-1) {
		/* cannot happen while we flush below the cap; treat as failure */
		conn_consume(&s->conn, s->conn.in.len);
		smtpd_message_done(s, true);
		return true;
	}
	conn_consume(&s->conn, used);
	return smtpd_body_progress(s, s->rx.done);
}

/* Drop an overlong command line up to its LF; true once it ended (and
 * was answered). */
static bool
smtpd_skip_line(struct smtpd_session *s)
{
	const char *nl = memchr(s->conn.in.data, '\n', s->conn.in.len);

	if (nl == NULL) {
		conn_consume(&s->conn, s->conn.in.len);
		return false;
	}
	conn_consume(&s->conn, (size_t)(nl - s->conn.in.data) + 1);
	s->skip_line = false;
	if (s->log_commands)
		log_info("(in %lu)>>> (a line over %d octets)", s->id,
		    SMTPD_LINE_MAX);
	smtpd_reply(s, "500 5.5.2 line too long");
	return true;
}

void
smtpd_session_input(struct smtpd_session *s)
{
	const char *line;
	size_t len, used;
	int r;

	while (s->state != SMTPD_CLOSING && s->state != SMTPD_COMMITTING &&
	    s->state != SMTPD_TLS && (s->conn.in.len > 0 ||
	    (s->state == SMTPD_CHUNK && s->chunk_left == 0))) {
		if (s->state == SMTPD_DATA) {
			if (!(s->merge != NULL ? smtpd_merge_part_input(s) :
			    smtpd_data_input(s)))
				return;
			continue;
		}
		if (s->state == SMTPD_CHUNK) {
			if (!smtpd_chunk_input(s))
				return;
			continue;
		}
		if (s->skip_line) {
			if (!smtpd_skip_line(s))
				return;
			continue;
		}
		r = conn_getline(&s->conn, SMTPD_LINE_MAX, &line, &len, &used);
		if (r == 0)
			return;
		if (r == -1) {
			/* dropped up to its end, then refused: the session
			 * goes on (a client may send one overlong XDFN) */
			s->skip_line = true;
			continue;
		}
		if (s->state == SMTPD_AUTH)
			smtpd_auth_input(s, line, len);
		else
			smtpd_dispatch(s, line, len);
		conn_consume(&s->conn, used);
		if (s->state == SMTPD_TLS) {
			smtpd_tls_begin(s);
			return;
		}
	}
}

static void
smtpd_session_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct smtpd_session *s = OBJ_CAST(smtpd_session, arg,
	    SMTPD_SESSION_MAGIC);

	switch (ev) {
	case CONN_READABLE:
		smtpd_session_input(s);
		return;
	case CONN_DRAINED:
		if (s->state == SMTPD_CLOSING)
			smtpd_session_free(s);
		return;
	case CONN_TLS_READY:
		smtpd_tls_done(s);
		return;
	case CONN_TLS_FAILED:
		log_info("(in) %s: TLS handshake failed: %s", s->peer_ip,
		    conn_tls_error(&s->conn));
		smtpd_session_free(s);
		return;
	case CONN_TIMEOUT:
		if (s->state == SMTPD_COMMITTING)
			return;
		if (s->state == SMTPD_CLOSING || s->state == SMTPD_TLS) {
			smtpd_session_free(s);
			return;
		}
		log_info("(in %lu) %s: timeout", s->id, s->peer_ip);
		smtpd_reply(s, "421 4.4.2 %s timeout, closing", s->model->host_name);
		smtpd_close_after_reply(s);
		return;
	default:
		log_debug("(in) %s: connection closed", s->peer_ip);
		if (s->state == SMTPD_COMMITTING) {
			/* the commit callback frees the session */
			s->gone = true;
			smtpd_merge_client_gone(s);
			conn_read_enable(&s->conn, false);
			return;
		}
		smtpd_session_free(s);
		return;
	}
}
