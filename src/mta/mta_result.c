/*
 * mta_result: from an SMTP reply to an accounting record and a queue
 * outcome.  2xx: 'd'; 5xx: 'b' with its bounce category; 4xx: 't' and
 * the recipient waits for the queue's retry interval.  A failure that
 * ends the attempt (connection lost, time-out) gives each recipient still
 * in the transaction a 't'; one before any recipient was tried (no host
 * connectable, DNS, greeting refused) gives the queue a 'tq'.  A 4xx that
 * the queue's smtp-pattern-list bounces (bounce-rcpt, bounce-queue:
 * s->pat_bounce, mta_patterns.c) is a 'b'; bounceCat comes from the
 * user's <bounce-category-patterns>, then the built-in list.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "mta/mta_private.h"
#include "queue/bounce.h"

/* The enhanced code of a reply, or the class default ("5.0.0"). */
void
mta_result_enhanced(int code, const char *text, char *dst, size_t size)
{
	/* text is "550 5.1.1 ..." : look right after the basic code */
	const char *p = strlen(text) > 4 ? text + 4 : "";
	size_t n = strspn(p, "0123456789.");

	if (n >= 5 && n < size && p[0] == text[0] && p[1] == '.' &&
	    (p[n] == ' ' || p[n] == '\0')) {
		memcpy(dst, p, n);
		dst[n] = '\0';
		return;
	}
	snprintf(dst, size, "%d.0.0", code / 100);
}

/*
 * The enhanced code of a reply to s: smtp-553-means-invalid-mailbox
 * (yes by default) makes a 553 that gives none 5.1.1 (bad destination
 * mailbox), so that it bounces as bad-mailbox.
 */
static void
mta_result_status(const struct mta_session *s, int code, const char *text,
    char *dst, size_t size)
{
	const char *p = strlen(text) > 4 ? text + 4 : "";

	mta_result_enhanced(code, text, dst, size);
	if (code == 553 && !(isdigit((unsigned char)p[0]) && p[1] == '.') &&
	    conf_value_bool(model_queue_value(s->model, s->q->domain,
	    s->q->vmta, CONF_ID_SMTP_553_MEANS_INVALID_MAILBOX),
	    &conf_directives[CONF_ID_SMTP_553_MEANS_INVALID_MAILBOX]))
		snprintf(dst, size, "5.1.1");
}

/* The basic code at the start of a reply text ("451 ..."), else 451. */
int
mta_result_code_of(const char *text)
{
	if (isdigit((unsigned char)text[0]) && isdigit((unsigned char)text[1]) &&
	    isdigit((unsigned char)text[2]))
		return (text[0] - '0') * 100 + (text[1] - '0') * 10 +
		    (text[2] - '0');
	return 451;
}

/* header_X columns: the message's header section, from the spool. */
struct mta_acct_msg {
	struct spool			*spool;
	const struct spool_envelope	*env;
};

static int
mta_acct_headers(void *arg, struct buf *out)
{
	struct mta_acct_msg *m = arg;
	int fd = spool_open_message(m->spool, m->env);
	size_t max = out->max;
	int r;

	if (fd == -1)
		return -1;
	/* never past the body (a data file holds others after it) */
	if ((off_t)out->max > m->env->body_size)
		out->max = (size_t)m->env->body_size;
	r = acct_read_headers(fd, m->env->body_offset, out);
	out->max = max;
	close(fd);
	return r;
}

/* The fields every record of recipient r shares: message, recipient,
 * queue and the header reader. */
static void
mta_acct_base(struct acct_record *rec, struct mta_acct_msg *msg,
    struct queue_rcpt *r, enum acct_type type)
{
	const struct spool_envelope *env = msg->env;

	memset(rec, 0, sizeof(*rec));
	rec->type = type;
	rec->logged = time(NULL);
	rec->queued = env->queued;
	rec->first_attempt = r->msg->first_attempt;
	rec->orig = env->orig;
	rec->rcpt = env->rcpts[r->idx];
	rec->orcpt = spool_envelope_orcpt(env, r->idx);
	rec->env_id = env->envid;
	rec->job_id = env->jobid;
	rec->src_type = "smtp";
	rec->src_mta = env->srcmta;
	rec->rcv_smtp_user = env->auth_user;
	rec->dlv_type = "smtp";
	rec->vmta = r->q->vmta;
	rec->queue = r->q->name;
	rec->headers = mta_acct_headers;
	rec->headers_arg = msg;
}

/* dlvTlsProtocol, dlvTlsCipher: empty unless the connection is TLS. */
static void
mta_acct_tls(struct acct_record *rec, const struct mta_session *s)
{
	const char *p = mta_session_tls_protocol(s);
	const char *c = mta_session_tls_cipher(s);

	rec->dlv_tls_protocol = p[0] != '\0' ? p : NULL;
	rec->dlv_tls_cipher = c[0] != '\0' ? c : NULL;
}

/* A d, b or t record for a reply (code, text) to recipient r. */
static void
mta_account(struct mta_session *s, struct queue_rcpt *r, enum acct_type type,
    int code, const char *text)
{
	const struct spool_envelope *env = queue_rcpt_env(r);
	struct mta_acct_msg msg = { s->mta->spool, env };
	char enhanced[16], status[128], diag[SMTP_REPLY_TEXT_MAX + 8];
	char dsn_mta[400];
	struct acct_record rec;
	const char *sel;

	mta_result_status(s, code, text, enhanced, sizeof(enhanced));
	bounce_dsn_status(enhanced, status, sizeof(status));
	snprintf(diag, sizeof(diag), "smtp;%s", text);
	snprintf(dsn_mta, sizeof(dsn_mta), "%s (%s)", s->dest_name, s->dest_ip);
	mta_acct_base(&rec, &msg, r, type);
	rec.dsn_action = type == ACCT_B ? "failed" : type == ACCT_T ? "delayed" :
	    (s->ext & SMTP_EXT_DSN) ? "delivered" : "relayed";
	rec.dsn_status = status;
	rec.dsn_diag = diag;
	rec.dsn_mta = s->dest_ip[0] ? dsn_mta : NULL;
	rec.bounce_cat = type != ACCT_D ? bounce_category(s->model, status,
	    diag) : NULL;
	rec.dlv_source_ip = s->src_ip[0] ? s->src_ip : "0.0.0.0";
	rec.dlv_destination_ip = s->dest_ip[0] ? s->dest_ip : "0.0.0.0";
	rec.dlv_esmtp_available = s->esmtp;
	rec.dlv_size = type == ACCT_D ? (long long)s->body_size : -1;
	mta_acct_tls(&rec, s);
	sel = spool_envelope_rvmta(env, r->idx) != NULL ?
	    spool_envelope_rvmta(env, r->idx) : env->vmta;
	if (sel != NULL && model_pool_find(s->model, sel) != NULL)
		rec.vmta_pool = sel;
	acct_write(s->mta->acct, &rec);
}

/* The final outcome's record and report to the sender. */
static void
mta_account_final(struct mta_session *s, struct queue_rcpt *r,
    enum acct_type type, int code, const char *text)
{
	char enhanced[16], diag[SMTP_REPLY_TEXT_MAX + 8], dsn_mta[400];

	mta_account(s, r, type, code, text);
	mta_result_status(s, code, text, enhanced, sizeof(enhanced));
	snprintf(diag, sizeof(diag), "smtp;%s", text);
	snprintf(dsn_mta, sizeof(dsn_mta), "%s (%s)", s->dest_name, s->dest_ip);
	if (type == ACCT_B)
		mta_dsn_report(s->mta, r, DSN_FAILED, enhanced, dsn_mta, diag);
	else if (!(s->ext & SMTP_EXT_DSN))
		mta_dsn_report(s->mta, r, DSN_RELAYED, enhanced, dsn_mta, diag);
	/* else the receiver got NOTIFY and ORCPT (mta_ext.c) and reports
	 * success itself: RFC 3461 5.2.1, no report from here */
}

/* A queue-level failure (why: "451 4.4.1 ..."): the tq record. */
static void
mta_account_queue(struct mta_session *s, const char *why)
{
	char enhanced[16], status[128], diag[SMTP_REPLY_TEXT_MAX + 8];
	char dsn_mta[400];
	struct acct_record rec;

	mta_result_enhanced(mta_result_code_of(why), why, enhanced,
	    sizeof(enhanced));
	bounce_dsn_status(enhanced, status, sizeof(status));
	snprintf(diag, sizeof(diag), "smtp;%s", why);
	snprintf(dsn_mta, sizeof(dsn_mta), "%s (%s)", s->dest_name, s->dest_ip);
	memset(&rec, 0, sizeof(rec));
	rec.type = ACCT_TQ;
	rec.logged = time(NULL);
	rec.dsn_status = status;
	rec.dsn_diag = diag;
	rec.dsn_mta = s->dest_ip[0] ? dsn_mta : NULL;
	rec.bounce_cat = bounce_category(s->model, status, diag);
	rec.dlv_type = "smtp";
	rec.dlv_source_ip = s->src_ip[0] ? s->src_ip : "0.0.0.0";
	rec.dlv_destination_ip = s->dest_ip[0] ? s->dest_ip : "0.0.0.0";
	rec.dlv_size = -1;
	mta_acct_tls(&rec, s);
	rec.vmta = s->q->vmta;
	rec.queue = s->q->name;
	acct_write(s->mta->acct, &rec);
}

/*
 * NOTIFY=DELAY (RFC 3461): once a message has waited notify-of-delay-every
 * (4h), a deferred recipient that asked for it gets a delay report, at
 * most one per message and interval.
 */
static void
mta_delay_report(struct mta_session *s, struct queue_rcpt *r, int code,
    const char *text)
{
	const struct conf_value *v = model_queue_value(s->model, r->q->domain,
	    r->q->vmta, CONF_ID_NOTIFY_OF_DELAY_EVERY);
	long long every = conf_value_num(v,
	    &conf_directives[CONF_ID_NOTIFY_OF_DELAY_EVERY]);
	time_t now = time(NULL);
	char enhanced[16], diag[SMTP_REPLY_TEXT_MAX + 8], dsn_mta[400];

	if ((spool_envelope_notify(queue_rcpt_env(r), r->idx) & DSN_NOTIFY_DELAY) == 0)
		return;
	if (every == 0)			/* never */
		return;
	if (now - r->msg->queued < every || (r->msg->delay_sent != 0 &&
	    now - r->msg->delay_sent < every))
		return;
	r->msg->delay_sent = now;
	mta_result_enhanced(code, text, enhanced, sizeof(enhanced));
	snprintf(diag, sizeof(diag), "smtp;%s", text);
	snprintf(dsn_mta, sizeof(dsn_mta), "%s (%s)", s->dest_name, s->dest_ip);
	mta_dsn_report(s->mta, r, DSN_DELAYED, enhanced,
	    s->dest_ip[0] ? dsn_mta : NULL, diag);
}

void
mta_result_rcpt(struct mta_session *s, size_t i, int code, const char *text)
{
	struct queue_rcpt *r = s->batch.rcpts[i];

	if (r == NULL)
		return;		/* already has an outcome */
	s->batch.rcpts[i] = NULL;
	if (code >= 200 && code < 300) {
		mta_account_final(s, r, ACCT_D, code, text);
		s->mta->stats.delivered++;
		queue_delivered(r->q);
		queue_rcpt_finished(r);
	} else if ((code >= 500 && code < 600) || s->pat_bounce) {
		/* 5xx, or a 4xx that a bounce-rcpt or bounce-queue rule of
		 * the queue's smtp-pattern-list turns into a bounce */
		mta_account_final(s, r, ACCT_B, code, text);
		s->mta->stats.bounced++;
		queue_rcpt_finished(r);
	} else {
		log_info("%s: %s deferred: %s", r->q->name,
		    queue_rcpt_addr(r), text);
		mta_account(s, r, ACCT_T, code, text);
		s->mta->stats.deferred++;
		queue_note_error(r->q, text);
		mta_delay_report(s, r, code, text);
		queue_rcpt_retry(r);
	}
}

void
mta_result_batch(struct mta_session *s, int code, const char *text)
{
	for (size_t i = 0; i < s->batch.n; i++)
		mta_result_rcpt(s, i, code, text);
}

void
mta_result_queue_failure(struct mta_session *s, const char *why)
{
	size_t tried = 0;

	log_info("%s: delivery attempt failed: %s", s->q->name, why);
	for (size_t i = 0; i < s->batch.n; i++)
		if (s->batch.rcpts[i] != NULL) {
			/* a 't' for each, then back to the queue, which
			 * retries them all together */
			mta_account(s, s->batch.rcpts[i], ACCT_T, mta_result_code_of(why), why);
			queue_rcpt_return(s->batch.rcpts[i]);
			s->batch.rcpts[i] = NULL;
			tried++;
		}
	if (tried == 0 && s->batch.n == 0)	/* nobody tried: the queue's */
		mta_account_queue(s, why);
	mta_patterns_local(s, why);
	if (s->dns_error)
		queue_failure_after(s->q, why, (double)conf_value_num(
		    model_queue_value(s->model, s->q->domain, s->q->vmta,
		    CONF_ID_RETRY_AFTER_DNS_ERROR),
		    &conf_directives[CONF_ID_RETRY_AFTER_DNS_ERROR]));
	else
		queue_failure(s->q, why);
}

/*
 * A bounce decided here rather than by a remote reply (expiry, deletion):
 * the 'b' record has no delivery attempt behind it.
 */
static void
mta_account_local(struct mta *m, struct queue_rcpt *r, const char *code,
    const char *diag, const char *category)
{
	const struct spool_envelope *env = queue_rcpt_env(r);
	struct mta_acct_msg msg = { m->spool, env };
	struct acct_record rec;
	char status[128];

	/* "5.3.5 (text)": a status with its own text; else the RFC 3463 one */
	if (strchr(code, ' ') != NULL)
		snprintf(status, sizeof(status), "%s", code);
	else
		bounce_dsn_status(code, status, sizeof(status));
	mta_acct_base(&rec, &msg, r, ACCT_B);
	rec.dsn_action = "failed";
	rec.dsn_status = status;
	rec.dsn_diag = diag;
	rec.bounce_cat = category;
	rec.dlv_source_ip = rec.dlv_destination_ip = "0.0.0.0";
	rec.dlv_size = -1;
	acct_write(m->acct, &rec);
}

/* Deleted by the administrator: a 'b' record and, with --dsn, a report. */
void
mta_delete(struct queue_rcpt *r, void *arg)
{
	struct mta_delete *del = arg;
	const char *diag = "x-pmta;deleted by administrator";

	if (del->accounting)
		mta_account_local(del->mta, r, "5.0.0", diag, "other");
	if (del->dsn)
		mta_dsn_report(del->mta, r, DSN_FAILED, "5.0.0", NULL, diag);
	del->count++;
	queue_rcpt_finished(r);
}

/*
 * A recipient older than bounce-after: a 'b' record with status 4.4.7
 * and the category message-expired (whatever the last error's text
 * would match: pmta-reference Q17), the last error as diagnostic.
 */
void
mta_expire(struct queue_rcpt *r, void *arg)
{
	struct mta *m = arg;
	char diag[sizeof(r->q->last_error) + 16];

	if (r->q->last_error[0] != '\0')
		snprintf(diag, sizeof(diag), "smtp;%s", r->q->last_error);
	else
		snprintf(diag, sizeof(diag), "x-pmta;message expired");
	mta_account_local(m, r, "4.4.7", diag, "message-expired");
	mta_dsn_report(m, r, DSN_FAILED, "4.4.7", NULL, diag);
	m->stats.bounced++;
	log_info("%s: %s expired (bounce-after)", r->q->name,
	    queue_rcpt_addr(r));
	queue_rcpt_finished(r);
}

/* mta_bounce_queue: every queued recipient of a queue bounces. */
struct mta_bounce {
	struct mta	*mta;
	const char	*code;
	const char	*diag;
};

static bool
mta_bounce_any(const struct queue_rcpt *r, void *arg)
{
	return true;
}

static void
mta_bounce_one(struct queue_rcpt *r, void *arg)
{
	struct mta_bounce *b = arg;
	char status[128], code[16], diag[600];

	snprintf(code, sizeof(code), "%.*s", (int)strcspn(b->code, " "), b->code);
	if (strchr(b->code, ' ') != NULL)
		snprintf(status, sizeof(status), "%s", b->code);
	else
		bounce_dsn_status(code, status, sizeof(status));
	snprintf(diag, sizeof(diag), "smtp;%s", b->diag);
	mta_account_local(b->mta, r, b->code, diag,
	    bounce_category(*b->mta->model, status, diag));
	mta_dsn_report(b->mta, r, DSN_FAILED, code, NULL, diag);
	b->mta->stats.bounced++;
	queue_rcpt_finished(r);
}

void
mta_bounce_queue(struct mta *m, struct queue *q, const char *code,
    const char *diag)
{
	struct mta_bounce b = { m, code, diag };
	size_t n = queue_remove(q, mta_bounce_any, NULL, mta_bounce_one, &b);

	log_info("%s: %zu recipient(s) bounced: %s", q->name, n, diag);
}

/* Queued before the time in arg (a time_t). */
static bool
mta_bounce_older(const struct queue_rcpt *r, void *arg)
{
	return r->msg->queued <= *(const time_t *)arg;
}

size_t
mta_bounce_queue_older(struct mta *m, struct queue *q, const char *code,
    const char *diag, long long seconds)
{
	struct mta_bounce b = { m, code, diag };
	time_t before = time(NULL) - (time_t)seconds;
	size_t n = queue_remove(q, mta_bounce_older, &before, mta_bounce_one, &b);

	log_info("%s: %zu recipient(s) older than %llds bounced: %s", q->name,
	    n, seconds, diag);
	return n;
}
