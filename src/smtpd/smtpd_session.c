/*
 * smtpd_session: one inbound SMTP connection.
 *
 * Commands are dispatched through one table (verb -> allowed states ->
 * handler).  Pipelined commands are handled in order from the input
 * buffer; while a message is being received the input goes to the DATA
 * decoder instead.  The 250 for a message is queued only after the spool
 * commit (fsync of the file and its directory) has succeeded; then the
 * recipients are handed to the queues.
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
#include "queue/dsn.h"
#include "smtp/smtp_header.h"
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
	free(s->xack_error);
	s->xack_error = NULL;
	smtpd_merge_free(s);
}

void
smtpd_session_new(struct smtpd *d, int fd, const struct sockaddr_storage *peer)
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));

	OBJ_INIT(s, SMTPD_SESSION_MAGIC);
	s->smtpd = d;
	s->model = model_ref(*d->model);
	s->peer = *peer;
	addr_ntop((const struct sockaddr *)peer, s->peer_ip, sizeof(s->peer_ip));
	s->relaying = model_source_relaying(s->model,
	    (const struct sockaddr *)peer);
	buf_init(&s->body, 2 * SMTPD_FLUSH);
	conn_init(&s->conn, d->loop, fd, false, 64 * 1024, 256 * 1024,
	    smtpd_session_event, s);
	conn_set_timeout(&s->conn, SMTPD_TIMEOUT);
	LIST_INSERT_HEAD(&d->sessions, s, entry);
	d->stats.active++;
	s->state = SMTPD_GREETED;
	log_debug("(in) accepted connection from %s", s->peer_ip);
	smtpd_reply(s, "220 %s ESMTP service ready", s->model->host_name);
}

void
smtpd_session_free(struct smtpd_session *s)
{
	OBJ_CHECK(s, SMTPD_SESSION_MAGIC);
	LIST_REMOVE(s, entry);
	s->smtpd->stats.active--;
	smtpd_transaction_reset(s);
	buf_free(&s->body);
	conn_free(&s->conn);
	free(s->helo);
	model_unref(s->model);
	OBJ_WIPE(s);
	free(s);
}

void
smtpd_session_stop(struct smtpd_session *s)
{
	if (s->state == SMTPD_DATA || s->state == SMTPD_COMMITTING ||
	    s->state == SMTPD_CLOSING)
		return;		/* finishes its message first */
	smtpd_reply(s, "421 4.3.2 %s shutting down", s->model->host_name);
	smtpd_close_after_reply(s);
}

/* --- commands --- */

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
	smtpd_reply(s, "250-%s says hello", s->model->host_name);
	smtpd_reply(s, "250-ENHANCEDSTATUSCODES");
	smtpd_reply(s, "250-PIPELINING");
	smtpd_reply(s, "250-8BITMIME");
	smtpd_reply(s, "250-XACK");
	if (smtpd_merge_allowed(s))
		smtpd_reply(s, "250-XMRG");
	smtpd_reply(s, "250-DSN");
	smtpd_reply(s, "250 SIZE 0");
}

static bool
smtpd_param_is(const struct smtp_param *p, const char *key)
{
	return p->key_len == strlen(key) && strncasecmp(p->key, key, p->key_len) == 0;
}

/* MAIL's ESMTP parameters: SIZE and BODY are noted by the parser;
 * RET and ENVID (RFC 3461) are kept for the reports. */
int
smtpd_mail_params(struct smtpd_session *s, struct smtp_cmd *c)
{
	char envid[SMTP_ADDR_MAX + 1];

	for (size_t i = 0; i < c->nparams; i++) {
		const struct smtp_param *p = &c->params[i];

		if (smtpd_param_is(p, "BODY") || smtpd_param_is(p, "SIZE") ||
		    (smtpd_param_is(p, "VERP") && s->merge != NULL))
			continue;
		if (smtpd_param_is(p, "RET") && p->value != NULL) {
			s->env.ret = strncasecmp(p->value, "FULL", 4) == 0 ? 2 : 1;
			continue;
		}
		if (smtpd_param_is(p, "ENVID") && p->value != NULL &&
		    smtp_xtext_decode(p->value, p->value_len, envid,
		    sizeof(envid)) == 0) {
			s->env.envid = xstrdup(envid);
			continue;
		}
		smtpd_reply(s, "555 5.5.4 unsupported parameter %.*s",
		    (int)p->key_len, p->key);
		return -1;
	}
	return 0;
}

static void
smtpd_cmd_mail(struct smtpd_session *s, struct smtp_cmd *c)
{
	smtpd_transaction_reset(s);
	if (smtpd_mail_params(s, c) == -1) {
		smtpd_transaction_reset(s);
		return;
	}
	s->env.orig = xstrdup(c->path.addr);
	s->state = SMTPD_MAIL;
	smtpd_reply(s, "250 2.1.0 MAIL ok");
}

/* RCPT's NOTIFY and ORCPT (RFC 3461), for recipient i of the envelope. */
static int
smtpd_rcpt_params(struct smtpd_session *s, struct smtp_cmd *c, unsigned *notify,
    char *orcpt, size_t size)
{
	*notify = 0;
	orcpt[0] = '\0';
	for (size_t i = 0; i < c->nparams; i++) {
		const struct smtp_param *p = &c->params[i];

		if (smtpd_param_is(p, "NOTIFY") && p->value != NULL) {
			char *v = xstrndup(p->value, p->value_len), *save = NULL;
			for (char *w = strtok_r(v, ",", &save); w != NULL;
			    w = strtok_r(NULL, ",", &save))
				*notify |= strcasecmp(w, "NEVER") == 0 ? DSN_NOTIFY_NEVER :
				    strcasecmp(w, "SUCCESS") == 0 ? DSN_NOTIFY_SUCCESS :
				    strcasecmp(w, "DELAY") == 0 ? DSN_NOTIFY_DELAY :
				    DSN_NOTIFY_FAILURE;
			free(v);
		} else if (!smtpd_param_is(p, "ORCPT") || p->value == NULL ||
		    smtp_xtext_decode(p->value, p->value_len, orcpt, size) == -1) {
			smtpd_reply(s, "555 5.5.4 unsupported parameter %.*s",
			    (int)p->key_len, p->key);
			return -1;
		}
	}
	return 0;
}

void
smtpd_cmd_rcpt(struct smtpd_session *s, struct smtp_cmd *c)
{
	char orcpt[SMTP_ADDR_MAX + 16];
	unsigned notify;

	if (smtpd_rcpt_params(s, c, &notify, orcpt, sizeof(orcpt)) == -1)
		return;
	if (c->path.at >= c->path.len) {
		smtpd_reply(s, "550 5.1.3 a recipient needs a domain");
		return;
	}
	if (!s->relaying) {
		smtpd_reply(s, "550 5.7.1 relaying denied: <%s>", c->path.addr);
		return;
	}
	if (s->env.nrcpts >= SMTPD_RCPT_MAX) {
		smtpd_reply(s, "452 4.5.3 too many recipients");
		return;
	}
	s->env.rcpts = xreallocarray(s->env.rcpts, s->env.nrcpts + 1,
	    sizeof(char *));
	s->env.rcpts[s->env.nrcpts++] = xstrdup(c->path.addr);
	if (notify != 0)
		spool_envelope_set_notify(&s->env, s->env.nrcpts - 1, notify);
	if (orcpt[0] != '\0')
		spool_envelope_set_orcpt(&s->env, s->env.nrcpts - 1, orcpt);
	smtpd_reply(s, "250 2.1.5 RCPT ok");
}

/* The source's report settings: suppress-local-dsn, dsn-return-default
 * (when the client gave no RET; "system" keeps the headers-only default). */
void
smtpd_dsn_defaults(struct smtpd_session *s)
{
	const struct conf_value *v = model_source_value(s->model,
	    (const struct sockaddr *)&s->peer, CONF_ID_DSN_RETURN_DEFAULT);

	s->env.no_dsn = smtpd_source_bool(s, CONF_ID_SUPPRESS_LOCAL_DSN);
	if (s->env.ret == 0 && v != NULL && v->set && v->u.s != NULL)
		s->env.ret = strcmp(v->u.s, "full") == 0 ? 2 :
		    strcmp(v->u.s, "headers") == 0 ? 1 : 0;
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
	if (smtpd_xack_failed(s))
		return;
	if (s->env.nrcpts == 0) {
		smtpd_reply(s, "554 5.5.1 no valid recipients");
		return;
	}
	s->env.srcmta = xasprintf("%s (%s)", s->helo, s->peer_ip);
	smtpd_dsn_defaults(s);
	/* the spool file starts once the header section is read (the
	 * envelope carries what the X-headers select) */
	s->headers_done = s->vmta_bad = false;
	smtp_data_rx_init(&s->rx);
	buf_reset(&s->body);
	s->state = SMTPD_DATA;
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
#define ST_ANY		(ST(GREETED) | ST(IDLE) | ST(MAIL) | ST(MERGE))
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
	{ SMTP_VERB_DATA, ST(MAIL), "need MAIL and RCPT before DATA",
	    smtpd_cmd_data },
	{ SMTP_VERB_RSET, ST_ANY, NULL, smtpd_cmd_rset },
	{ SMTP_VERB_NOOP, ST_ANY, "250 2.0.0 ok", NULL },
	{ SMTP_VERB_VRFY, ST_ANY,
	    "252 2.5.0 cannot verify, will attempt delivery", NULL },
	{ SMTP_VERB_HELP, ST_ANY, "214 2.0.0 see RFC 5321", NULL },
	{ SMTP_VERB_QUIT, ST_ANY, NULL, smtpd_cmd_quit },
	{ SMTP_VERB_EXPN, ST_ANY, NULL, smtpd_cmd_unimplemented },
	{ SMTP_VERB_STARTTLS, ST_ANY, NULL, smtpd_cmd_unimplemented },
	{ SMTP_VERB_AUTH, ST_ANY, NULL, smtpd_cmd_unimplemented },
	{ SMTP_VERB_BDAT, ST_ANY, NULL, smtpd_cmd_unimplemented },
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
	enum smtp_cmd_result r = smtp_cmd_parse(line, len, 0, &cmd, &error);

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
		meter_add(&d->stats.traffic, time(NULL), s->env.nrcpts, 1,
		    s->rx.bytes);
		log_debug("(in) %s: message %s accepted for %zu recipient(s)",
		    s->peer_ip, s->env.id, s->env.nrcpts);
		smtpd_reply(s, "250 2.6.0 message received");
		s->cold_taken = false;
		smtpd_acct_received(s);
		queue_add(d->qm, &s->env, NULL);
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

/* The end of DATA: hand the message to the spool's group commit; the
 * reply waits for smtpd_message_committed(). */
static void
smtpd_message_done(struct smtpd_session *s, bool failed)
{
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
	s->env.body_size = s->writer.size - s->env.body_offset;
	s->state = SMTPD_COMMITTING;
	s->commit_inline = true;
	spool_writer_commit_async(s->smtpd->spool, &s->writer,
	    smtpd_message_committed, s);
	s->commit_inline = false;
}

/* A <source> yes/no setting for the client, or its table default. */
bool
smtpd_source_bool(const struct smtpd_session *s, int id)
{
	const struct conf_value *v = model_source_value(s->model,
	    (const struct sockaddr *)&s->peer, id);

	return conf_value_bool(v, &conf_directives[id]);
}

/* What the client's source's <pattern-list> selects, on the header
 * section as received (before any X-header is removed). */
static void
smtpd_select_by_patterns(struct smtpd_session *s, size_t hdr,
    struct smtpd_select *sel)
{
	const struct conf_value *v = model_source_value(s->model,
	    (const struct sockaddr *)&s->peer, CONF_ID_SOURCE_PATTERN_LIST);
	struct smtpd_select_msg msg = { s->env.orig, s->env.rcpts,
	    s->env.nrcpts, s->body.data, hdr };

	sel->vmta = NULL;
	sel->priority = -1;
	if (v != NULL && v->u.s != NULL)
		(void)smtpd_select_patterns(s->model, v->u.s, &msg, sel);
}

/*
 * The VirtualMTA a message selects (pmta-reference §3.2), highest first:
 * X-Virtual-MTA when the source processes it (removed unless retained),
 * the source's <pattern-list>, the source's default-virtual-mta.  A name
 * that is neither a VMTA nor a pool refuses the message
 * (reject-invalid-virtual-mta, the default) or falls back to
 * invalid-virtual-mta-fallback.  The pattern list's recipient-priority
 * applies whichever VirtualMTA wins.  A mailmerge recipient's `ov` comes
 * first: *vmta beats everything, *priority the pattern list's, and the
 * job's first X-Virtual-MTA stands for every recipient of the job.
 */
static void
smtpd_select_vmta(struct smtpd_session *s, size_t *hdr,
    struct smtpd_override *ov)
{
	const struct conf_value *v;
	struct smtpd_select sel;
	char name[256] = "";

	smtpd_select_by_patterns(s, *hdr, &sel);
	if (sel.priority >= 0)
		spool_envelope_set_priority(&s->env, sel.priority);
	if (ov != NULL && ov->priority >= 0)
		spool_envelope_set_priority(&s->env, ov->priority);
	if (smtpd_source_bool(s, CONF_ID_PROCESS_X_VIRTUAL_MTA))
		(void)smtp_header_take(&s->body, hdr, "X-Virtual-MTA",
		    !smtpd_source_bool(s, CONF_ID_RETAIN_X_VIRTUAL_MTA), name,
		    sizeof(name));
	if (ov != NULL && ov->xvmta[0] != '\0')
		snprintf(name, sizeof(name), "%s", ov->xvmta);
	else if (ov != NULL)
		snprintf(ov->xvmta, sizeof(ov->xvmta), "%s", name);
	if (ov != NULL && ov->vmta != NULL)
		snprintf(name, sizeof(name), "%s", ov->vmta);
	if (name[0] == '\0' && sel.vmta != NULL)
		snprintf(name, sizeof(name), "%s", sel.vmta);
	if (name[0] == '\0' && (v = model_source_value(s->model,
	    (const struct sockaddr *)&s->peer, CONF_ID_DEFAULT_VIRTUAL_MTA)) &&
	    v->u.s != NULL && strcmp(v->u.s, "by-smtp-source-ip") != 0)
		snprintf(name, sizeof(name), "%s", v->u.s);
	if (name[0] != '\0' && model_vmta_find(s->model, name) == NULL &&
	    model_pool_find(s->model, name) == NULL) {
		v = model_settings_get(&s->model->global,
		    CONF_ID_INVALID_VMTA_FALLBACK);
		if (smtpd_source_bool(s, CONF_ID_REJECT_INVALID_VMTA) ||
		    v == NULL || v->u.s == NULL) {
			s->vmta_bad = true;
			return;
		}
		snprintf(name, sizeof(name), "%s", v->u.s);
	}
	free(s->env.vmta);
	s->env.vmta = name[0] != '\0' ? xstrdup(name) : NULL;
}

/*
 * The job of a message (pmta-interfaces §4.3): X-Job when the source
 * processes it (removed unless retained), else the source's jobid-header;
 * a mailmerge recipient's *jobid beats both; with the source's
 * jobid-prefix in front.  Job IDs are printable and without white space:
 * anything else becomes '_'.
 */
static void
smtpd_select_job(struct smtpd_session *s, size_t *hdr,
    const struct smtpd_override *ov)
{
	const struct sockaddr *peer = (const struct sockaddr *)&s->peer;
	const struct conf_value *alt, *prefix;
	char job[256] = "";

	if (smtpd_source_bool(s, CONF_ID_PROCESS_X_JOB))
		(void)smtp_header_take(&s->body, hdr, "X-Job",
		    !smtpd_source_bool(s, CONF_ID_RETAIN_X_JOB), job, sizeof(job));
	if (job[0] == '\0' && (alt = model_source_value(s->model, peer,
	    CONF_ID_JOBID_HEADER)) != NULL && alt->u.s != NULL)
		(void)smtp_header_take(&s->body, hdr, alt->u.s, false, job,
		    sizeof(job));
	if (ov != NULL && ov->jobid != NULL)
		snprintf(job, sizeof(job), "%s", ov->jobid);
	if (job[0] == '\0')
		return;
	for (char *p = job; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			*p = '_';
	prefix = model_source_value(s->model, peer, CONF_ID_JOBID_PREFIX);
	free(s->env.jobid);
	s->env.jobid = prefix != NULL && prefix->u.s != NULL ?
	    xasprintf("%s%s", prefix->u.s, job) : xstrdup(job);
}

/* The header section is in (or the message ended, or it is too long):
 * process the X-headers, then start the spool file. */
int
smtpd_message_start(struct smtpd_session *s, struct smtpd_override *ov)
{
	size_t hdr = smtp_header_end(s->body.data, s->body.len);
	const char *error;

	s->headers_done = true;
	if (hdr == 0)
		hdr = s->body.len;	/* no end seen: all of it is header */
	smtpd_select_vmta(s, &hdr, ov);
	smtpd_select_job(s, &hdr, ov);
	if (s->vmta_bad)
		return -1;
	s->cold_taken = smtpd_select_cold(s->model, s->smtpd->cold,
	    &s->env) > 0;
	if (spool_writer_begin(s->smtpd->spool, &s->env, &s->writer,
	    &error) == -1) {
		log_warnx("(in) %s: cannot spool: %s", s->peer_ip, error);
		return -1;
	}
	s->writing = true;
	return 0;
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
	if (!s->headers_done && (s->rx.done || s->body.len >= SMTPD_FLUSH ||
	    smtp_header_end(s->body.data, s->body.len) > 0))
		(void)smtpd_message_start(s, NULL);
	if (!s->headers_done)
		return false;
	if (!s->writing)		/* refused: swallow the rest */
		buf_reset(&s->body);
	if (!s->rx.done) {
		if (s->body.len >= SMTPD_FLUSH && smtpd_flush_body(s) == -1)
			log_warn("(in) %s: spool write", s->peer_ip);
		return false;
	}
	smtpd_message_done(s, !s->writing || s->writer.failed);
	return true;
}

void
smtpd_session_input(struct smtpd_session *s)
{
	const char *line;
	size_t len, used;
	int r;

	while (s->state != SMTPD_CLOSING && s->state != SMTPD_COMMITTING &&
	    s->conn.in.len > 0) {
		if (s->state == SMTPD_DATA) {
			if (!(s->merge != NULL ? smtpd_merge_part_input(s) :
			    smtpd_data_input(s)))
				return;
			continue;
		}
		r = conn_getline(&s->conn, SMTPD_LINE_MAX, &line, &len, &used);
		if (r == 0)
			return;
		if (r == -1) {
			smtpd_reply(s, "500 5.5.2 line too long");
			smtpd_close_after_reply(s);
			return;
		}
		smtpd_dispatch(s, line, len);
		conn_consume(&s->conn, used);
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
	case CONN_TIMEOUT:
		if (s->state == SMTPD_COMMITTING)
			return;
		if (s->state == SMTPD_CLOSING) {
			smtpd_session_free(s);
			return;
		}
		log_info("(in) %s: timeout", s->peer_ip);
		smtpd_reply(s, "421 4.4.2 %s timeout, closing", s->model->host_name);
		smtpd_close_after_reply(s);
		return;
	default:
		log_debug("(in) %s: connection closed", s->peer_ip);
		if (s->state == SMTPD_COMMITTING) {
			/* the commit callback frees the session */
			s->gone = true;
			conn_read_enable(&s->conn, false);
			return;
		}
		smtpd_session_free(s);
		return;
	}
}
