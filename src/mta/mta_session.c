/*
 * mta_session: the SMTP client state machine (see mta_private.h).
 *
 * One session delivers batches of one queue over one connection: greeting,
 * EHLO (HELO after a 5xx; a 4xx fails the attempt), then per batch MAIL,
 * RCPT..., DATA (pipelined in one write when the server offers
 * PIPELINING, one at a time otherwise; their parameters, and the messages
 * a receiver cannot take, are mta_ext.c's), the dot-stuffed body streamed
 * from the spool file, and the final reply.  Each wait has its timeout
 * from the queue's settings (mta_session_timeout).  When the queue has
 * nothing more ready it sends QUIT, or with connection-idle-timeout
 * waits that long for new mail of the queue, which the queue hands to
 * it rather than to a new connection (queue_session_idle); when a
 * higher-priority queue needs the connection slot it sends QUIT.
 * Hosts are tried in preference order until one accepts a connection,
 * at most mx-connection-attempts of them failing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "mta/mta_private.h"
#include "smtp/smtp_addr.h"

OBJ_DEFINE_CAST(mta_session)

static void mta_session_next(struct mta_session *s);

void
mta_session_fail(struct mta_session *s, const char *why)
{
	/* recipients still without an outcome are retried with the queue */
	if (s->batch.msg != NULL) {
		mta_result_queue_failure(s, why);
		queue_batch_release(&s->batch);
	} else if (s->state <= MTA_HELO)
		mta_result_queue_failure(s, why);
	mta_session_free(s);
}

/*
 * The connection's timeouts (pmta-reference §3.4) are inactivity
 * timeouts: connect-timeout for the TCP connect, smtp-greeting-timeout
 * for the greeting, data-send-timeout while the message is written (no
 * byte accepted by the kernel for that long), smtp-data-termination-
 * timeout for the reply to the final ".", and for the reply to any other
 * command smtp-multiple-line-response-timeout (PMTA has no separate
 * client command timeout; each line of a reply restarts it).  0 means
 * the generic 10 minutes.
 */
double
mta_session_timeout(const struct mta_session *s, int id)
{
	long long v = conf_value_num(model_queue_value(s->model, s->q->domain,
	    s->q->vmta, id), &conf_directives[id]);

	return v > 0 ? (double)v : 600.;
}

/* The timeout directive of a state. */
static int
mta_session_timeout_id(enum mta_state state)
{
	switch (state) {
	case MTA_CONNECTING:
		return CONF_ID_CONNECT_TIMEOUT;
	case MTA_GREETING:
		return CONF_ID_SMTP_GREETING_TIMEOUT;
	case MTA_BODY:
		return CONF_ID_DATA_SEND_TIMEOUT;
	case MTA_DOT:
		return CONF_ID_SMTP_DATA_TERMINATION_TIMEOUT;
	default:
		return CONF_ID_SMTP_MULTIPLE_LINE_RESPONSE_TIMEOUT;
	}
}

/* Arm the connection's timeout for the state it is now in. */
static void
mta_session_arm(struct mta_session *s)
{
	conn_set_timeout(&s->conn, mta_session_timeout(s,
	    mta_session_timeout_id(s->state)));
}

/* The diagnostic of a timeout: what was awaited, and which directive. */
static void
mta_session_timed_out(struct mta_session *s, char *why, size_t size)
{
	int id = mta_session_timeout_id(s->state);
	const char *what;

	switch (s->state) {
	case MTA_CONNECTING:	what = "connecting"; break;
	case MTA_GREETING:	what = "waiting for the greeting"; break;
	case MTA_EHLO:		what = "waiting for the reply to EHLO"; break;
	case MTA_HELO:		what = "waiting for the reply to HELO"; break;
	case MTA_STARTTLS:	what = "waiting for the reply to STARTTLS"; break;
	case MTA_TLS:		what = "in the TLS handshake"; break;
	case MTA_ENVELOPE:
		what = s->replies == 0 ? "waiting for the reply to MAIL" :
		    s->replies <= s->batch.n ? "waiting for the reply to RCPT" :
		    "waiting for the reply to DATA";
		break;
	case MTA_BODY:		what = "sending the message"; break;
	case MTA_DOT:		what = "waiting for the reply to the final '.'"; break;
	case MTA_READY:		what = "waiting for the reply to RSET"; break;
	default:		what = "waiting for a reply"; break;
	}
	snprintf(why, size, "451 %s %s (%s) timed out %s (%s %.0fs)",
	    s->state == MTA_CONNECTING ? "4.4.1" : "4.4.2", s->dest_name,
	    s->dest_ip, what, conf_directives[id].name,
	    mta_session_timeout(s, id));
}

/* max-msg-per-connection of the queue (0: no limit). */
static unsigned
mta_session_msg_limit(const struct mta_session *s)
{
	return (unsigned)conf_value_num(model_queue_value(s->model,
	    s->q->domain, s->q->vmta, CONF_ID_MAX_MSG_PER_CONNECTION),
	    &conf_directives[CONF_ID_MAX_MSG_PER_CONNECTION]);
}

struct mta_session *
mta_session_new(struct mta *m, struct queue *q)
{
	struct mta_session *s = xcalloc(1, sizeof(*s));
	const char *mx;

	OBJ_INIT(s, MTA_SESSION_MAGIC);
	s->mta = m;
	s->q = q;
	s->model = model_ref(*m->model);
	s->body_fd = -1;
	s->max_transactions = mta_session_msg_limit(s);
	s->max_errors = (unsigned)conf_value_num(model_queue_value(s->model,
	    q->domain, q->vmta, CONF_ID_MAX_ERRORS_PER_CONNECTION),
	    &conf_directives[CONF_ID_MAX_ERRORS_PER_CONNECTION]);
	LIST_INSERT_HEAD(&m->sessions, s, entry);
	m->stats.active++;
	queue_session_begin(q);
	if ((mx = mta_session_route(s)) != NULL) {
		if (m->dns == NULL) {
			queue_failure(q, "451 4.4.3 no DNS resolver");
			mta_session_free(s);
			return NULL;
		}
		s->state = MTA_RESOLVING;
		s->dnsq = dns_resolve_mx(m->dns, mx, mta_session_resolved, s);
		return s;	/* (the callback may already have run) */
	}
	if (s->route != NULL) {		/* smtp-hosts lookups running */
		s->state = MTA_RESOLVING;
		return s;
	}
	if (mta_session_connect(s) == -1) {
		mta_session_fail(s, "451 4.4.1 no host could be connected");
		return NULL;
	}
	return s;
}

void
mta_session_free(struct mta_session *s)
{
	struct queue *q = s->q;
	struct mta *m = s->mta;

	OBJ_CHECK(s, MTA_SESSION_MAGIC);
	LIST_REMOVE(s, entry);
	s->mta->stats.active--;
	if (s->interrupted)
		m->interrupting--;
	if (s->conn_open) {
		conn_free(&s->conn);
		mta_limits_released(m);
	}
	if (s->body_fd != -1)
		close(s->body_fd);
	if (s->dnsq != NULL)
		dns_cancel(s->dnsq);
	mta_route_free(s->route);
	mta_limits_unwait(s);
	if (s->idle)
		queue_session_idle(q, false);
	free(s->targets);
	free(s->chunk);
	for (size_t i = 0; i < QUEUE_BATCH_MAX; i++)
		free(s->rcpt_text[i]);
	queue_batch_release(&s->batch);
	model_unref(s->model);
	OBJ_WIPE(s);
	free(s);
	if (m->full) {
		/* a global slot is free again: the best queue waiting gets it
		 * before this one may take it back */
		m->full = false;
		queue_mgr_kick_all(q->mgr);
	}
	queue_session_end(q);
}

void
mta_session_interrupt(struct mta_session *s)
{
	s->interrupted = true;
	s->mta->interrupting++;
}

/* The batch's recipients without an outcome go back to the queue untried. */
static void
mta_session_return_untried(struct mta_session *s)
{
	for (size_t i = 0; i < s->batch.n; i++)
		if (s->batch.rcpts[i] != NULL) {
			queue_rcpt_return(s->batch.rcpts[i]);
			s->batch.rcpts[i] = NULL;
		}
}

bool
mta_session_cut(struct mta_session *s)
{
	bool transfer = s->state == MTA_ENVELOPE || s->state == MTA_BODY;

	if (!s->interrupted || (s->state >= MTA_READY && s->state != MTA_IDLE &&
	    !(transfer && s->q->interrupt_transfer)))
		return false;
	log_info("%s: connection to %s closed for a higher-priority queue%s",
	    s->q->name, s->dest_ip, transfer ? " during a transfer" : "");
	mta_session_return_untried(s);
	mta_session_free(s);
	return true;
}

/*
 * skip-mx, smtp-421-means-mx-unavailable (mta_patterns.c): leave this
 * host for the next one, the recipients without an outcome going along
 * untried.  false, with why set to the reply, when no host is left (the
 * caller fails the session: the queue retries).
 */
static bool
mta_session_failover(struct mta_session *s, char *why, size_t size)
{
	s->failover = false;
	snprintf(why, size, "%.900s", s->reply.text);
	if (s->target >= s->ntargets)
		return false;
	log_info("%s: leaving %s (%s) for the next host: %s", s->q->name,
	    s->dest_name, s->dest_ip, s->reply.text);
	mta_session_return_untried(s);
	queue_batch_release(&s->batch);
	if (s->body_fd != -1) {
		close(s->body_fd);
		s->body_fd = -1;
	}
	s->ext = 0;
	s->esmtp[0] = s->src_ip[0] = '\0';
	s->transactions = 0;
	s->state = MTA_CONNECTING;	/* a failure now fails the queue */
	return mta_session_connect(s) == 0;
}

static void
mta_session_send_envelope(struct mta_session *s, size_t from)
{
	bool pipe = (s->ext & SMTP_EXT_PIPELINING) != 0;
	size_t last = pipe ? s->batch.n + 1 : from;

	/* command k: 0 = MAIL, 1..n = RCPT, n+1 = DATA */
	for (size_t k = from; k <= last; k++) {
		if (k == 0)
			(void)mta_ext_mail(s);
		else if (k <= s->batch.n)
			(void)mta_ext_rcpt(s, k - 1);
		else
			(void)conn_printf(&s->conn, "DATA\r\n");
	}
}

static void
mta_session_transaction(struct mta_session *s)
{
	s->transactions++;
	s->replies = 0;
	s->rcpt_ok = 0;
	s->mail_ok = false;
	s->state = MTA_ENVELOPE;
	mta_session_send_envelope(s, 0);
}

/*
 * Nothing to send: with connection-idle-timeout (at most 10 minutes) the
 * connection waits that long for new mail of the queue (true).
 */
static bool
mta_session_go_idle(struct mta_session *s)
{
	long long secs = conf_value_num(model_queue_value(s->model,
	    s->q->domain, s->q->vmta, CONF_ID_CONNECTION_IDLE_TIMEOUT),
	    &conf_directives[CONF_ID_CONNECTION_IDLE_TIMEOUT]);

	if (secs <= 0)
		return false;
	s->state = MTA_IDLE;
	if (!s->idle) {
		s->idle = true;
		queue_session_idle(s->q, true);
	}
	conn_set_timeout(&s->conn, (double)(secs < 600 ? secs : 600));
	return true;
}

struct mta_session *
mta_session_idle_of(struct mta *m, const struct queue *q)
{
	struct mta_session *s;

	LIST_FOREACH(s, &m->sessions, entry)
		if (s->idle && (q == NULL || s->q == q))
			return s;
	return NULL;
}

bool
mta_session_wake(struct mta_session *s)
{
	s->idle = false;
	queue_session_idle(s->q, false);
	mta_session_next(s);
	return s->state != MTA_IDLE;
}

void
mta_session_quit(struct mta_session *s)
{
	if (s->idle) {
		s->idle = false;
		queue_session_idle(s->q, false);
	}
	s->state = MTA_QUIT;
	mta_session_arm(s);
	(void)conn_printf(&s->conn, "QUIT\r\n");
}

/*
 * Take the next batch, or say goodbye.  A message this receiver cannot
 * take (SIZE, SMTPUTF8: mta_ext_check) bounces without a transaction,
 * and the next one is taken.
 */
static void
mta_session_next(struct mta_session *s)
{
	char why[512];

	s->state = MTA_READY;
	mta_session_arm(s);
	for (;;) {
		queue_batch_release(&s->batch);
		if (s->max_errors > 0 && s->errors >= s->max_errors)
			log_info("%s: closing the connection to %s after %u "
			    "recipient errors (max-errors-per-connection)",
			    s->q->name, s->dest_ip, s->errors);
		if (s->mta->stopping || s->interrupted ||
		    (s->max_transactions > 0 &&
		    s->transactions >= s->max_transactions) ||
		    (s->max_errors > 0 && s->errors >= s->max_errors) ||
		    (!queue_take(s->q, &s->batch) && !mta_session_go_idle(s))) {
			mta_session_quit(s);
			return;
		}
		if (s->state == MTA_IDLE)
			return;
		if (mta_ext_check(s, why, sizeof(why)) == 0)
			break;
		log_info("%s: message %s not sent to %s: %s", s->q->name,
		    s->batch.msg->id, s->dest_ip, why);
		mta_result_batch(s, mta_result_code_of(why), why);
	}
	mta_session_transaction(s);
}

/* Open the spooled message and position at its body. */
static int
mta_session_open_body(struct mta_session *s)
{
	const struct spool_envelope *env = s->batch.msg->env;
	off_t end;

	s->body_fd = spool_open_message(s->mta->spool, env);
	if (s->body_fd == -1)
		return -1;
	/* the body is body_size bytes (a data file holds others after it);
	 * a file cut short fails here rather than mid-transfer */
	if ((end = lseek(s->body_fd, 0, SEEK_END)) == -1 ||
	    end - env->body_offset < env->body_size ||
	    lseek(s->body_fd, env->body_offset, SEEK_SET) == -1)
		return -1;
	s->body_size = s->body_left = env->body_size;
	smtp_data_tx_init(&s->tx);
	return 0;
}

/* Queue body bytes while the output buffer has room. */
static int
mta_session_pump(struct mta_session *s)
{
	ssize_t n;
	int r = 0;

	if (s->chunk == NULL)
		s->chunk = xmalloc(MTA_BODY_CHUNK);
	/* dot-stuffed straight into the connection's output buffer (its cap,
	 * 4 chunks, holds what is pending plus a stuffed chunk) */
	while (r == 0 && conn_pending(&s->conn) < MTA_BODY_CHUNK &&
	    s->body_left > 0) {
		n = read(s->body_fd, s->chunk, (size_t)s->body_left <
		    MTA_BODY_CHUNK ? (size_t)s->body_left : MTA_BODY_CHUNK);
		if (n <= 0)
			return -1;
		s->body_left -= n;
		r = smtp_data_tx_feed(&s->tx, s->chunk, (size_t)n, &s->conn.out);
	}
	if (r == 0 && s->body_left == 0) {
		r = smtp_data_tx_finish(&s->tx, &s->conn.out);
		close(s->body_fd);
		s->body_fd = -1;
		s->state = MTA_DOT;
		mta_session_arm(s);
	}
	conn_flush(&s->conn);
	return r;
}

/* The reply to MAIL (k = 0), RCPT (1..n) or DATA (n + 1). */
static int
mta_session_envelope_reply(struct mta_session *s, int code, const char *text)
{
	size_t k = s->replies++, n = s->batch.n;
	bool pipe = (s->ext & SMTP_EXT_PIPELINING) != 0;

	if (k == 0) {
		s->mail_ok = code / 100 == 2;
		if (!s->mail_ok)
			mta_result_batch(s, code, text);
	} else if (k <= n) {
		s->rcpt_code[k - 1] = code;
		if (s->mail_ok && code / 100 == 2)
			s->rcpt_ok++;
		else if (s->mail_ok) {
			s->errors++;	/* max-errors-per-connection */
			mta_result_rcpt(s, k - 1, code, text);
		}
	} else if (code == 354) {
		if (s->rcpt_ok == 0) {		/* nothing to send: end it */
			s->state = MTA_DOT;
			mta_session_arm(s);
			return conn_printf(&s->conn, ".\r\n");
		}
		s->state = MTA_BODY;
		mta_session_arm(s);
		return mta_session_open_body(s) == -1 ? -1 : mta_session_pump(s);
	} else {
		mta_result_batch(s, code, text);
		s->state = MTA_READY;
		return conn_printf(&s->conn, "RSET\r\n");
	}
	if (!pipe) {
		/* one command at a time: skip what cannot succeed */
		if (!s->mail_ok || (k == n && s->rcpt_ok == 0)) {
			s->state = MTA_READY;
			return conn_printf(&s->conn, "RSET\r\n");
		}
		mta_session_send_envelope(s, k + 1);
	}
	return 0;
}

static void
mta_session_ehlo_line(struct mta_session *s, const char *line, size_t len)
{
	unsigned long size;
	unsigned bit;
	size_t kw, have = strlen(s->esmtp);

	if (s->reply.nlines < 2 || len < 4)
		return;		/* the first line is the greeting name */
	line += 4;
	len -= 4;
	if ((bit = smtp_ext_parse(line, len, &size)) == SMTP_EXT_SIZE)
		s->size_limit = size;
	s->ext |= bit;
	kw = strcspn(line, " ");
	if (kw > len)
		kw = len;
	if (have + kw + 2 < sizeof(s->esmtp))
		snprintf(s->esmtp + have, sizeof(s->esmtp) - have, "%s%.*s",
		    have ? "," : "", (int)kw, line);
}

int
mta_session_ehlo(struct mta_session *s)
{
	s->ext = 0;
	s->size_limit = 0;
	s->esmtp[0] = '\0';
	s->state = MTA_EHLO;
	return conn_printf(&s->conn, "EHLO %s\r\n", s->ehlo);
}

/*
 * A 5xx greeting: with bounce-upon-5xx-greeting (the default) the
 * queue's recipients bounce with it; without, it is a failure of the
 * attempt like a 4xx.  0 (bounced, QUIT sent) or -1.
 */
static int
mta_session_greeting_refused(struct mta_session *s, int code, const char *text)
{
	char enhanced[16];

	if (code / 100 != 5 || !conf_value_bool(model_queue_value(s->model,
	    s->q->domain, s->q->vmta, CONF_ID_BOUNCE_UPON_5XX_GREETING),
	    &conf_directives[CONF_ID_BOUNCE_UPON_5XX_GREETING])) {
		snprintf(s->fail, sizeof(s->fail), "451 4.4.2 %s (%s) refused "
		    "the connection: %.500s", s->dest_name, s->dest_ip, text);
		return -1;
	}
	mta_result_enhanced(code, text, enhanced, sizeof(enhanced));
	log_info("%s: %s (%s) greeted with %d: the queue's recipients bounce "
	    "(bounce-upon-5xx-greeting)", s->q->name, s->dest_name,
	    s->dest_ip, code);
	mta_bounce_queue(s->mta, s->q, enhanced, text);
	s->state = MTA_QUIT;
	return conn_printf(&s->conn, "QUIT\r\n");
}

/* Greeted (EHLO or HELO): STARTTLS first, or the first transaction. */
static int
mta_session_hello(struct mta_session *s)
{
	int r = mta_tls_offer(s);

	if (r != 0)
		return r == 1 ? 0 : -1;
	mta_session_next(s);
	return 0;
}

/* A complete reply in the current state. */
static int
mta_session_reply(struct mta_session *s)
{
	int code = s->reply.code, r;
	const char *text = s->reply.text;

	if (mta_patterns_reply(s, code, text) == -1)
		return -1;		/* s->failover */
	switch (s->state) {
	case MTA_GREETING:
		if (code / 100 != 2)
			return mta_session_greeting_refused(s, code, text);
		s->state = MTA_EHLO;
		mta_session_arm(s);
		return mta_session_ehlo(s);
	case MTA_EHLO:
		if (code / 100 == 5) {
			/* no ESMTP (500, 502 ...): HELO, and no extensions */
			s->ext = 0;
			s->size_limit = 0;
			s->esmtp[0] = '\0';
			s->state = MTA_HELO;
			return conn_printf(&s->conn, "HELO %s\r\n", s->ehlo);
		}
		if (code / 100 != 2) {
			/* 421 and other 4xx: this attempt fails */
			snprintf(s->fail, sizeof(s->fail), "%.1000s", text);
			return -1;
		}
		mta_ext_filter(s);
		return mta_session_hello(s);
	case MTA_HELO:
		if (code / 100 != 2)
			return -1;
		return mta_session_hello(s);
	case MTA_STARTTLS:
		if ((r = mta_tls_reply(s, code, text)) != 1)
			return r;
		mta_session_next(s);	/* refused: on in clear text */
		return 0;
	case MTA_ENVELOPE:
		return mta_session_envelope_reply(s, code, text);
	case MTA_DOT:
		if (code / 100 == 2 && s->rcpt_ok > 0) {
			meter_add(&s->mta->stats.traffic, time(NULL), s->rcpt_ok, 1,
			    (unsigned long long)s->body_size);
		}
		for (size_t i = 0; i < s->batch.n; i++)
			if (s->rcpt_code[i] / 100 == 2)
				mta_result_rcpt(s, i, code, text);
		mta_session_next(s);
		return 0;
	case MTA_READY:		/* reply to RSET */
		mta_session_next(s);
		return 0;
	default:
		return -1;
	}
}

static bool
mta_session_bool(const struct mta_session *s, int id)
{
	return conf_value_bool(model_queue_value(s->model, s->q->domain,
	    s->q->vmta, id), &conf_directives[id]);
}

/*
 * No reply to the final "." in time: with assume-delivery-upon-data-
 * termination-timeout the recipients the receiver accepted count as
 * delivered (no duplicate later), and the connection, in an unknown
 * state, is closed.  true when done so (s is freed).
 */
static bool
mta_session_assume_delivery(struct mta_session *s)
{
	char text[512];

	if (!mta_session_bool(s,
	    CONF_ID_ASSUME_DELIVERY_UPON_DATA_TERMINATION_TIMEOUT))
		return false;
	snprintf(text, sizeof(text), "250 2.0.0 assumed delivered: no reply "
	    "from %s (%s) to the final '.' within %.0fs "
	    "(assume-delivery-upon-data-termination-timeout)", s->dest_name,
	    s->dest_ip, mta_session_timeout(s,
	    CONF_ID_SMTP_DATA_TERMINATION_TIMEOUT));
	log_info("%s: %s", s->q->name, text);
	for (size_t i = 0; i < s->batch.n; i++)
		if (s->rcpt_code[i] / 100 == 2)
			mta_result_rcpt(s, i, 250, text);
	mta_session_return_untried(s);
	mta_session_free(s);
	return true;
}

/*
 * The connection failed during the message (why: "451 4.4.2 ..."): with
 * bounce-upon-transfer-failure the accepted recipients bounce rather
 * than risk a duplicate; otherwise they are retried (the caller).
 */
static void
mta_session_transfer_failed(struct mta_session *s, const char *why)
{
	char text[1600];

	if (!mta_session_bool(s, CONF_ID_BOUNCE_UPON_TRANSFER_FAILURE))
		return;
	snprintf(text, sizeof(text), "554 5.4.0 transfer to %s (%s) failed, "
	    "not retried (bounce-upon-transfer-failure): %.900s", s->dest_name,
	    s->dest_ip, why);
	for (size_t i = 0; i < s->batch.n; i++)
		if (s->rcpt_code[i] / 100 == 2)
			mta_result_rcpt(s, i, 554, text);
}

/* Process every complete reply line in the input.  -1: give up. */
static int
mta_session_read(struct mta_session *s)
{
	const char *line, *error;
	size_t len, used;
	int r;

	while ((r = conn_getline(&s->conn, 4096, &line, &len, &used)) == 1) {
		int done = smtp_reply_feed(&s->reply, line, len, &error);

		if (done == -1) {
			log_warnx("%s: bad reply from %s: %s", s->q->name,
			    s->dest_ip, error);
			return -1;
		}
		if (s->state == MTA_EHLO)
			mta_session_ehlo_line(s, line, len);
		conn_consume(&s->conn, used);
		if (done == 1) {
			if (s->state == MTA_QUIT)
				return 1;
			if (s->state == MTA_IDLE) {
				/* e.g. 421 on the receiver's own idle timeout */
				log_info("%s: idle connection to %s closed: %.200s",
				    s->q->name, s->dest_ip, s->reply.text);
				return 1;
			}
			if (mta_session_reply(s) == -1)
				return -1;
			smtp_reply_init(&s->reply);
		}
	}
	return r == -1 ? -1 : 0;
}

/* The handshake ended: 0 when the session goes on, -1 (why) to fail. */
static int
mta_session_tls_event(struct mta_session *s, enum conn_event ev, char *why,
    size_t size)
{
	if (ev == CONN_TLS_READY) {
		if (mta_tls_ready(s) == 0)
			return 0;
		snprintf(why, size, "451 4.4.2 %s (%s): output buffer full",
		    s->dest_name, s->dest_ip);
		return -1;
	}
	if (!mta_tls_failed(s)) {
		snprintf(why, size, "%s", s->fail);
		return -1;
	}
	s->target--;			/* the same host, in clear text */
	if (mta_session_connect(s) == 0)
		return 0;
	snprintf(why, size, "451 4.4.1 %s (%s): cannot connect again after "
	    "the failed TLS handshake", s->dest_name, s->dest_ip);
	return -1;
}

void
mta_session_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct mta_session *s = OBJ_CAST(mta_session, arg, MTA_SESSION_MAGIC);
	char why[1024];
	int r;

	switch (ev) {
	case CONN_CONNECTED:
		s->state = MTA_GREETING;
		mta_session_arm(s);
		smtp_reply_init(&s->reply);
		{
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
				addr_ntop((struct sockaddr *)&ss, s->src_ip,
				    sizeof(s->src_ip));
		}
		return;
	case CONN_READABLE:
		if ((r = mta_session_read(s)) == 0)
			return;
		if (r == 1) {
			mta_session_free(s);
			return;
		}
		if (s->fail[0] != '\0')
			snprintf(why, sizeof(why), "%s", s->fail);
		else
			snprintf(why, sizeof(why), "451 4.4.2 %s (%s) protocol "
			    "failure: %.100s", s->dest_name, s->dest_ip,
			    s->reply.text);
		break;
	case CONN_TLS_READY:
	case CONN_TLS_FAILED:
		if (mta_session_tls_event(s, ev, why, sizeof(why)) == 0)
			return;
		break;
	case CONN_DRAINED:
		if (s->state == MTA_BODY && mta_session_pump(s) == -1)
			break;
		return;
	case CONN_ERROR:
		if (s->state == MTA_CONNECTING) {
			log_info("%s: cannot connect to %s: %s", s->q->name,
			    s->dest_ip, strerror(c->error));
			s->connect_failures++;
			if (mta_session_connect(s) == 0)
				return;
		}
		snprintf(why, sizeof(why), "451 4.4.1 %s (%s): %s%s", s->dest_name,
		    s->dest_ip, strerror(c->error), s->attempts_out ?
		    " (mx-connection-attempts reached)" : "");
		break;
	case CONN_EOF:
		if (s->state == MTA_QUIT || s->state == MTA_IDLE) {
			mta_session_free(s);
			return;
		}
		snprintf(why, sizeof(why), "451 4.4.2 %s (%s) closed the connection",
		    s->dest_name, s->dest_ip);
		break;
	case CONN_TIMEOUT:
		if (s->state == MTA_IDLE) {	/* connection-idle-timeout */
			mta_session_quit(s);
			return;
		}
		if (s->state == MTA_CONNECTING) {
			log_info("%s: cannot connect to %s: timed out",
			    s->q->name, s->dest_ip);
			s->connect_failures++;
			if (mta_session_connect(s) == 0)
				return;
		}
		if (s->state == MTA_DOT && mta_session_assume_delivery(s))
			return;
		mta_session_timed_out(s, why, sizeof(why));
		break;
	}
	if (s->state == MTA_QUIT || s->state == MTA_IDLE) {
		mta_session_free(s);
		return;
	}
	if (s->failover && mta_session_failover(s, why, sizeof(why)))
		return;
	if (s->state == MTA_BODY || s->state == MTA_DOT)
		mta_session_transfer_failed(s, why);
	mta_session_fail(s, why);
}
