/*
 * smtpd_merge: the mailmerge extension of the SMTP server
 * (pmta-interfaces.md §4.1, §4.2): XMRG, XDFN, RCPT inside a merge, XPRT
 * and XACK.
 *
 * A merge transaction owns a scratch file, created unlinked in the spool
 * directory: each recipient's variable set is appended to it when its
 * RCPT closes the set, and each part as it is received, so memory holds
 * only offsets (and the recipients' addresses in the transaction's
 * envelope), whatever the size of the job.  The parts together are
 * capped by the source's max-message-size (1 GB when unlimited).
 *
 * After `XPRT n LAST` every recipient becomes its own message, made one
 * after the other from the scratch file on a zero-delay timer, a slice
 * of messages at a time so that other sessions keep being served: the
 * recipient's variables are read back, its parts (its *parts order, else
 * every part sent, in number order) are expanded through the session's
 * message buffer, whose first SMTPD_FLUSH bytes hold the header section
 * while the X-headers are processed and the spool file is started the way
 * DATA does it (smtpd_message_start(): *vmta, *jobid and *priority go in
 * as overrides, and the job's first X-Virtual-MTA stands for all its
 * messages), and the rest is streamed to the spool file.  Each message
 * is handed to the spool's group commit at once.  Only when every one is
 * durable does the client get its one reply, 250; then the messages are
 * queued and accounted.  If one message cannot be made or committed, or
 * the client leaves first, the messages already committed are removed
 * and the client gets the error: nothing of a job is delivered unless
 * all of it was acknowledged.
 *
 * XACK OFF (for the rest of the connection) silences the replies to RCPT
 * and XDFN; smtpd_session.c holds back the first error such a command
 * would have had, and DATA or XPRT answers it and cancels the transaction.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "smtp/smtp_header.h"
#include "smtp/smtp_merge.h"
#include "smtpd/smtpd_private.h"
#include "smtpd/smtpd_select.h"

#define SMTPD_MERGE_MAGIC	0x6d726765u
#define SMTPD_MERGE_CHUNK	(64 * 1024)	/* read from the scratch file */
#define SMTPD_MERGE_SIZE_MAX	(1024LL * 1024 * 1024)	/* when unlimited */
#define SMTPD_MERGE_SLICE_MSGS	64	/* messages made per loop turn */
#define SMTPD_MERGE_SLICE_BYTES	(1024 * 1024)

#if SMTPD_MERGE_CHUNK < SMTP_MERGE_SET_MAX
#error "a variable set must fit the read buffer"
#endif

enum smtpd_merge_msg {
	SMTPD_MERGE_MSG_NONE,		/* not made (yet) */
	SMTPD_MERGE_MSG_SUBMITTED,	/* in the group commit */
	SMTPD_MERGE_MSG_DURABLE,
	SMTPD_MERGE_MSG_FAILED,
};

struct smtpd_merge_rcpt {
	off_t		 vars_off;	/* its variable set in the scratch file */
	uint32_t	 vars_len;
	uint8_t		 msg;		/* enum smtpd_merge_msg */
};

struct smtpd_merge_part {
	off_t		 off, len;	/* in the scratch file */
	bool		 present;
};

struct smtpd_merge;

/* A spool commit's callback argument: the job and the message. */
struct smtpd_merge_commit {
	struct smtpd_merge	*m;
	size_t			 idx;
};

struct smtpd_merge {
	unsigned		 magic;
	struct smtpd		*d;
	struct smtpd_session	*s;		/* NULL once the session is gone */
	int			 fd;		/* the scratch file */
	off_t			 fsize;
	long long		 max_size;	/* the parts; each message */
	bool			 verp;
	/* collecting */
	struct smtp_merge_vars	 cur;		/* XDFN for the next RCPT */
	struct smtpd_merge_rcpt	*rcpts;		/* as the envelope's rcpts */
	size_t			 nalloc;
	struct smtpd_merge_part	 parts[SMTP_MERGE_PART_MAX + 1];
	off_t			 parts_bytes;
	int			 part;		/* being received */
	off_t			 part_off;
	bool			 last, too_big, write_failed;
	/* making the messages */
	struct spool_envelope	 job;		/* the XMRG envelope */
	struct spool_envelope	*msgs;		/* one per recipient */
	struct smtpd_merge_commit *commits;
	size_t			 next, outstanding;
	bool			 generated, in_slice, settled, keep_undefined;
	char			 error[256];	/* the job's failure reply */
	struct smtpd_override	 ov;
	struct smtp_merge_vars	 vars, automatic;
	char			*rbuf;
	char			 date[64];
	unsigned long long	 bytes;
	ev_timer		 timer;
};

OBJ_DEFINE_CAST(smtpd_merge)

static void smtpd_merge_fail(struct smtpd_merge *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The job's failure reply: the first one stands. */
static void
smtpd_merge_fail(struct smtpd_merge *m, const char *fmt, ...)
{
	va_list ap;

	if (m->error[0] != '\0')
		return;
	va_start(ap, fmt);
	(void)vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
}

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

/* --- the scratch file --- */

/* An unlinked read-write file in dir. */
static int
smtpd_merge_tmpfile(const char *dir)
{
	char path[PATH_MAX];
	int fd, n;

#ifdef O_TMPFILE
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		return fd;
#endif
	n = snprintf(path, sizeof(path), "%s/merge.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (fd = mkostemp(path, O_CLOEXEC)) == -1)
		return -1;
	(void)unlink(path);
	return fd;
}

/* Append p[0..n) to the scratch file.  0 or -1. */
static int
smtpd_merge_store(struct smtpd_merge *m, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = pwrite(m->fd, c, n, m->fsize);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
		m->fsize += w;
	}
	return 0;
}

/* --- the transaction --- */

static struct smtpd_merge *
smtpd_merge_new(struct smtpd_session *s)
{
	struct smtpd_merge *m = xcalloc(1, sizeof(*m));
	const struct conf_value *v = model_source_value(s->model,
	    (const struct sockaddr *)&s->peer, CONF_ID_MAX_MESSAGE_SIZE);
	long long max = conf_value_num(v,
	    &conf_directives[CONF_ID_MAX_MESSAGE_SIZE]);

	OBJ_INIT(m, SMTPD_MERGE_MAGIC);
	m->d = s->smtpd;
	m->s = s;
	m->max_size = max > 0 && max < SMTPD_MERGE_SIZE_MAX ? max :
	    SMTPD_MERGE_SIZE_MAX;
	smtp_merge_vars_init(&m->cur);
	smtp_merge_vars_init(&m->vars);
	smtp_merge_vars_init(&m->automatic);
	if ((m->fd = smtpd_merge_tmpfile(spool_dir(s->smtpd->spool))) == -1) {
		log_warn("(in) %s: mailmerge scratch file in %s", s->peer_ip,
		    spool_dir(s->smtpd->spool));
		smtp_merge_vars_free(&m->cur);
		smtp_merge_vars_free(&m->vars);
		smtp_merge_vars_free(&m->automatic);
		OBJ_WIPE(m);
		free(m);
		return NULL;
	}
	return m;
}

static void
smtpd_merge_destroy(struct smtpd_merge *m)
{
	for (size_t i = 0; m->msgs != NULL && i < m->job.nrcpts; i++)
		spool_envelope_free(&m->msgs[i]);
	spool_envelope_free(&m->job);
	free(m->msgs);
	free(m->commits);
	free(m->rcpts);
	free(m->rbuf);
	smtp_merge_vars_free(&m->cur);
	smtp_merge_vars_free(&m->vars);
	smtp_merge_vars_free(&m->automatic);
	close(m->fd);
	OBJ_WIPE(m);
	free(m);
}

/* Not acknowledged: the messages already durable go again. */
static void
smtpd_merge_cancel(struct smtpd_merge *m)
{
	size_t removed = 0;

	m->settled = true;
	for (size_t i = 0; m->msgs != NULL && i < m->job.nrcpts; i++) {
		if (m->rcpts[i].msg == SMTPD_MERGE_MSG_NONE)
			continue;
		if (m->rcpts[i].msg == SMTPD_MERGE_MSG_DURABLE) {
			(void)spool_remove(m->d->spool, m->msgs[i].seg,
			    m->msgs[i].id);
			removed++;
		}
		smtpd_select_cold_undo(m->d->cold, &m->msgs[i]);
	}
	if (removed > 0)
		log_info("mailmerge: job not accepted, %zu message(s) removed "
		    "from the spool", removed);
}

void
smtpd_merge_free(struct smtpd_session *s)
{
	struct smtpd_merge *m = s->merge;

	if (m == NULL)
		return;
	s->merge = NULL;
	ev_timer_stop(m->d->loop, &m->timer);
	if (m->outstanding > 0) {
		/* commits in flight: their callbacks finish the job */
		m->s = NULL;
		m->generated = true;
		return;
	}
	if (!m->settled)
		smtpd_merge_cancel(m);
	smtpd_merge_destroy(m);
}

void
smtpd_merge_cmd_xmrg(struct smtpd_session *s, struct smtp_cmd *c)
{
	smtpd_transaction_reset(s);
	if (!smtpd_merge_allowed(s)) {
		smtpd_reply(s, "550 5.7.1 mailmerge not allowed");
		return;
	}
	if (!smtpd_auth_mail_allowed(s))
		return;
	if ((s->merge = smtpd_merge_new(s)) == NULL) {
		smtpd_reply(s, "451 4.3.0 cannot write to the spool");
		return;
	}
	if (smtpd_mail_params(s, c) == -1 || smtpd_mail_check(s, c) == -1) {
		smtpd_transaction_reset(s);
		return;
	}
	/* VERP (or verp-default) is applied here, per recipient, on the
	 * return path each message is spooled with */
	s->merge->verp = s->env.verp;
	s->env.verp = false;
	s->env.orig = xstrdup(c->path.addr);
	s->state = SMTPD_MERGE;
	smtpd_reply(s, "250 2.1.0 XMRG ok");
}

/* May a message select VirtualMTA `name` (else it is refused)? */
static bool
smtpd_merge_vmta_ok(const struct smtpd_session *s, const char *name)
{
	const struct conf_value *v;

	if (model_vmta_find(s->model, name) != NULL ||
	    model_pool_find(s->model, name) != NULL)
		return true;
	v = model_settings_get(&s->model->global, CONF_ID_INVALID_VMTA_FALLBACK);
	return !smtpd_source_bool(s, CONF_ID_REJECT_INVALID_VMTA) &&
	    v != NULL && v->u.s != NULL;
}

void
smtpd_merge_cmd_xdfn(struct smtpd_session *s, struct smtp_cmd *c)
{
	struct smtpd_merge *m = s->merge;
	size_t n = m->cur.n;
	const char *error = "bad XDFN", *vmta;

	if (smtp_merge_xdfn(c->arg, c->arg_len, &m->cur, &error) == -1) {
		smtpd_reply(s, "501 5.5.4 %s", error);
		return;
	}
	vmta = smtp_merge_vars_get(&m->cur, "*vmta", 5, NULL);
	if (vmta != NULL && vmta[0] != '\0' && !smtpd_merge_vmta_ok(s, vmta)) {
		smtp_merge_vars_truncate(&m->cur, n);
		smtpd_reply(s, "550 5.3.5 specified VirtualMTA does not exist");
		return;
	}
	smtpd_reply(s, "250 2.0.0 XDFN ok");
}

/* RCPT closes the recipient's variable set, accepted or not. */
void
smtpd_merge_cmd_rcpt(struct smtpd_session *s, struct smtp_cmd *c)
{
	struct smtpd_merge *m = s->merge;
	size_t n = s->env.nrcpts;
	off_t off = m->fsize;

	if (smtpd_merge_store(m, m->cur.data.data, m->cur.data.len) == -1) {
		log_warn("(in) %s: mailmerge scratch file", s->peer_ip);
		smtp_merge_vars_reset(&m->cur);
		smtpd_reply(s, "451 4.3.0 cannot write to the spool");
		return;
	}
	smtpd_cmd_rcpt(s, c);
	if (s->env.nrcpts > n) {
		if (m->nalloc < s->env.nrcpts) {
			m->nalloc = m->nalloc ? 2 * m->nalloc : 16;
			m->rcpts = xreallocarray(m->rcpts, m->nalloc,
			    sizeof(*m->rcpts));
		}
		m->rcpts[n].vars_off = off;
		m->rcpts[n].vars_len = (uint32_t)m->cur.data.len;
		m->rcpts[n].msg = SMTPD_MERGE_MSG_NONE;
	}
	smtp_merge_vars_reset(&m->cur);
}

/* --- receiving the parts --- */

/* "n [LAST]" (the parser checked the shape): n, or 0 if out of range. */
static int
smtpd_merge_part_arg(const struct smtp_cmd *c, bool *last)
{
	size_t i;
	int n = 0;

	for (i = 0; i < c->arg_len && c->arg[i] >= '0' && c->arg[i] <= '9'; i++)
		if (n <= SMTP_MERGE_PART_MAX)
			n = n * 10 + (c->arg[i] - '0');
	*last = i < c->arg_len;
	return n >= 1 && n <= SMTP_MERGE_PART_MAX ? n : 0;
}

void
smtpd_merge_cmd_xprt(struct smtpd_session *s, struct smtp_cmd *c)
{
	struct smtpd_merge *m = s->merge;
	bool last;
	int n;

	if (smtpd_xack_failed(s))
		return;
	if (s->env.nrcpts == 0) {
		smtpd_reply(s, "554 5.5.1 no valid recipients");
		return;
	}
	if ((n = smtpd_merge_part_arg(c, &last)) == 0) {
		smtpd_reply(s, "501 5.5.4 part numbers go from 1 to %d",
		    SMTP_MERGE_PART_MAX);
		return;
	}
	if (m->parts[n].present) {
		smtpd_reply(s, "503 5.5.1 part %d was sent already", n);
		return;
	}
	if (s->env.srcmta == NULL) {
		s->env.srcmta = xasprintf("%s (%s)", s->helo, s->peer_ip);
		smtpd_dsn_defaults(s);
	}
	m->part = n;
	m->last = last;
	m->part_off = m->fsize;
	m->too_big = m->write_failed = false;
	smtp_data_rx_init(&s->rx);
	buf_reset(&s->body);
	s->state = SMTPD_DATA;
	smtpd_timeout(s, true);
	smtpd_reply(s, "354 send part");
}

static void smtpd_merge_begin(struct smtpd_merge *m);

/* The part's final "." was read. */
static void
smtpd_merge_part_done(struct smtpd_session *s)
{
	struct smtpd_merge *m = s->merge;
	struct smtpd_merge_part *p = &m->parts[m->part];

	smtpd_timeout(s, false);
	if (m->too_big || m->write_failed) {
		s->state = SMTPD_IDLE;
		smtpd_reply(s, m->too_big ? "552 5.3.4 message too big" :
		    "451 4.3.0 cannot write to the spool");
		smtpd_transaction_reset(s);
		return;
	}
	p->off = m->part_off;
	p->len = m->fsize - m->part_off;
	p->present = true;
	m->parts_bytes += p->len;
	if (!m->last) {
		s->state = SMTPD_MERGE;
		smtpd_reply(s, "250 2.6.0 part ok");
		return;
	}
	smtpd_merge_begin(m);
}

bool
smtpd_merge_part_input(struct smtpd_session *s)
{
	struct smtpd_merge *m = s->merge;
	size_t used = smtp_data_rx_feed(&s->rx, s->conn.in.data, s->conn.in.len,
	    &s->body);

	if (used == (size_t)-1) {	/* cannot happen: flushed below the cap */
		used = s->conn.in.len;
		m->write_failed = s->rx.done = true;
	}
	conn_consume(&s->conn, used);
	if (m->parts_bytes + (off_t)s->rx.bytes > m->max_size)
		m->too_big = true;
	if (m->too_big || m->write_failed)
		buf_reset(&s->body);	/* refused: swallow the rest */
	else if (s->body.len >= SMTPD_FLUSH || s->rx.done) {
		if (smtpd_merge_store(m, s->body.data, s->body.len) == -1) {
			log_warn("(in) %s: mailmerge scratch file", s->peer_ip);
			m->write_failed = true;
		}
		buf_reset(&s->body);
	}
	if (!s->rx.done)
		return false;
	smtpd_merge_part_done(s);
	return true;
}

/* --- making the messages --- */

static void smtpd_merge_on_timer(struct ev_loop *loop, ev_timer *w,
	    int revents);

/* After XPRT n LAST: the transaction's envelope becomes the job's, and
 * the messages are made from the next loop turn on. */
static void
smtpd_merge_begin(struct smtpd_merge *m)
{
	struct smtpd_session *s = m->s;
	const struct conf_value *v = model_settings_get(&s->model->global,
	    CONF_ID_MAILMERGE_EXPANDS_UNDEFINED);
	time_t now = time(NULL);
	struct tm tm;

	m->job = s->env;
	memset(&s->env, 0, sizeof(s->env));
	m->msgs = xcalloc(m->job.nrcpts, sizeof(*m->msgs));
	m->commits = xcalloc(m->job.nrcpts, sizeof(*m->commits));
	m->rbuf = xmalloc(SMTPD_MERGE_CHUNK);
	m->keep_undefined = !conf_value_bool(v,
	    &conf_directives[CONF_ID_MAILMERGE_EXPANDS_UNDEFINED]);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(m->date, sizeof(m->date), "%a, %d %b %Y %H:%M:%S %z",
	    &tm) == 0)
		m->date[0] = '\0';
	s->state = SMTPD_COMMITTING;
	ev_timer_init(&m->timer, smtpd_merge_on_timer, 0., 0.);
	m->timer.data = m;
	ev_timer_start(m->d->loop, &m->timer);
}

/* Recipient i's variables into m->vars, *to and *date into m->automatic. */
static int
smtpd_merge_load_vars(struct smtpd_merge *m, size_t i)
{
	const struct smtpd_merge_rcpt *r = &m->rcpts[i];
	const char *to = m->job.rcpts[i];
	ssize_t n = 0;

	if (r->vars_len > 0)
		n = pread(m->fd, m->rbuf, r->vars_len, r->vars_off);
	if (n != (ssize_t)r->vars_len ||
	    smtp_merge_vars_load(&m->vars, m->rbuf, r->vars_len) == -1) {
		log_warn("mailmerge: reading back the variables of <%s>", to);
		smtpd_merge_fail(m, "451 4.3.0 cannot read the mailmerge data");
		return -1;
	}
	smtp_merge_vars_reset(&m->automatic);
	(void)smtp_merge_vars_set(&m->automatic, "*to", 3, to, strlen(to));
	(void)smtp_merge_vars_set(&m->automatic, "*date", 5, m->date,
	    strlen(m->date));
	return 0;
}

/* A variable's value, or NULL when undefined or empty. */
static const char *
smtpd_merge_var(const struct smtpd_merge *m, const char *name)
{
	const char *v = smtp_merge_vars_get(&m->vars, name, strlen(name), NULL);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The parts recipient i's message is made of, in order. */
static int
smtpd_merge_list(struct smtpd_merge *m, size_t i, unsigned char *list,
    size_t max, size_t *n)
{
	const char *parts = smtpd_merge_var(m, "*parts");

	*n = 0;
	if (parts == NULL) {	/* every part sent, in number order */
		for (int p = 1; p <= SMTP_MERGE_PART_MAX && *n < max; p++)
			if (m->parts[p].present)
				list[(*n)++] = (unsigned char)p;
		return 0;
	}
	if (smtp_merge_parts(parts, strlen(parts), list, max, n) == -1) {
		smtpd_merge_fail(m, "554 5.5.4 bad *parts for <%s>",
		    m->job.rcpts[i]);
		return -1;
	}
	for (size_t k = 0; k < *n; k++)
		if (!m->parts[list[k]].present) {
			smtpd_merge_fail(m, "554 5.5.1 part %d for <%s> was not "
			    "sent", list[k], m->job.rcpts[i]);
			return -1;
		}
	return 0;
}

/* Recipient i's envelope into s->env: *from (with VERP), *envid, the
 * transaction's DSN settings, and the recipient. */
static void
smtpd_merge_envelope(struct smtpd_merge *m, size_t i)
{
	struct spool_envelope *e = &m->s->env, *j = &m->job;
	const char *from = smtpd_merge_var(m, "*from");
	const char *envid = smtpd_merge_var(m, "*envid");
	char verp[SMTP_ADDR_MAX + 1];

	if (from == NULL)
		from = smtp_merge_vars_get(&m->vars, "*from", 5, NULL) ?
		    "" : j->orig;	/* "*from=<>": the null sender */
	if (m->verp && smtp_merge_verp(from, j->rcpts[i], verp,
	    sizeof(verp)) == 0)
		from = verp;
	e->orig = xstrdup(from);
	e->srcmta = xstrdup(j->srcmta);
	e->envid = envid != NULL ? xstrdup(envid) :
	    j->envid != NULL ? xstrdup(j->envid) : NULL;
	e->ret = j->ret;
	e->no_dsn = j->no_dsn;
	e->smtputf8 = j->smtputf8;
	e->rcpts = xcalloc(1, sizeof(char *));
	e->rcpts[0] = xstrdup(j->rcpts[i]);
	e->nrcpts = 1;
	if (spool_envelope_notify(j, i) != 0)
		spool_envelope_set_notify(e, 0, spool_envelope_notify(j, i));
	if (spool_envelope_orcpt(j, i) != NULL)
		spool_envelope_set_orcpt(e, 0, spool_envelope_orcpt(j, i));
}

/* The header section is in: select, edit the X-headers, start the file. */
static int
smtpd_merge_start(struct smtpd_merge *m)
{
	struct smtpd_session *s = m->s;

	if (smtpd_message_start(s, &m->ov) == 0)
		return 0;
	if (s->vmta_bad)
		smtpd_merge_fail(m, "550 5.3.5 specified VirtualMTA does not exist");
	else
		smtpd_merge_fail(m, "451 4.3.0 cannot write to the spool");
	return -1;
}

/* Write what the message buffer holds to the spool file (size capped). */
static int
smtpd_merge_flush(struct smtpd_merge *m)
{
	struct smtpd_session *s = m->s;
	off_t size = s->writer.size - s->env.body_offset + (off_t)s->body.len;

	if (size > m->max_size) {
		smtpd_merge_fail(m, "552 5.3.4 message for <%s> too big",
		    s->env.rcpts[0]);
		return -1;
	}
	if (spool_writer_write(&s->writer, s->body.data, s->body.len) == -1) {
		log_warn("(in) %s: spool write", s->peer_ip);
		smtpd_merge_fail(m, "451 4.3.0 cannot write to the spool");
		return -1;
	}
	m->bytes += s->body.len;
	buf_reset(&s->body);
	return 0;
}

/* After output was added: start the file once the header section is in,
 * write out whenever the buffer is full. */
static int
smtpd_merge_emit(struct smtpd_merge *m, bool end)
{
	struct smtpd_session *s = m->s;

	if (!s->headers_done && (end || s->body.len >= SMTPD_FLUSH ||
	    smtp_header_end(s->body.data, s->body.len) > 0) &&
	    smtpd_merge_start(m) == -1)
		return -1;
	if (s->headers_done && (end || s->body.len >= SMTPD_FLUSH))
		return smtpd_merge_flush(m);
	return 0;
}

/* Expand part p of the scratch file into the message. */
static int
smtpd_merge_expand(struct smtpd_merge *m, int p)
{
	struct smtpd_session *s = m->s;
	struct smtp_merge_expand x;
	off_t off = m->parts[p].off, end = off + m->parts[p].len;
	size_t done, used;
	ssize_t n;

	smtp_merge_expand_init(&x, &m->automatic, &m->vars, m->keep_undefined);
	while (off < end) {
		n = pread(m->fd, m->rbuf, (size_t)(end - off < SMTPD_MERGE_CHUNK ?
		    end - off : SMTPD_MERGE_CHUNK), off);
		if (n <= 0) {
			log_warn("mailmerge: reading back part %d", p);
			smtpd_merge_fail(m, "451 4.3.0 cannot read the mailmerge data");
			return -1;
		}
		for (done = 0; done < (size_t)n; done += used) {
			used = smtp_merge_expand_feed(&x, m->rbuf + done,
			    (size_t)n - done, &s->body, SMTPD_FLUSH);
			if (used == (size_t)-1) {
				smtpd_merge_fail(m, "451 4.3.0 mailmerge buffer full");
				return -1;
			}
			if (smtpd_merge_emit(m, false) == -1)
				return -1;
		}
		off += n;
	}
	if (smtp_merge_expand_end(&x, &s->body) == -1) {
		smtpd_merge_fail(m, "451 4.3.0 mailmerge buffer full");
		return -1;
	}
	return smtpd_merge_emit(m, false);
}

static void smtpd_merge_committed(void *arg, int error);

/* The message is written: into the group commit, its envelope kept. */
static void
smtpd_merge_submit(struct smtpd_merge *m, size_t i)
{
	struct smtpd_session *s = m->s;

	s->writing = false;
	s->env.body_size = s->writer.size - s->env.body_offset;
	m->msgs[i] = s->env;
	memset(&s->env, 0, sizeof(s->env));
	s->cold_taken = false;		/* undone by the job if it fails */
	m->rcpts[i].msg = SMTPD_MERGE_MSG_SUBMITTED;
	m->outstanding++;
	m->commits[i].m = m;
	m->commits[i].idx = i;
	spool_writer_commit_async(m->d->spool, &s->writer,
	    smtpd_merge_committed, &m->commits[i]);
}

/* Make recipient i's message.  0, or -1 with m->error set. */
static int
smtpd_merge_make(struct smtpd_merge *m, size_t i)
{
	struct smtpd_session *s = m->s;
	unsigned char list[SMTP_MERGE_LIST_MAX];
	const char *prio;
	size_t n;

	if (smtpd_merge_load_vars(m, i) == -1 ||
	    smtpd_merge_list(m, i, list, sizeof(list), &n) == -1)
		return -1;
	smtpd_merge_envelope(m, i);
	m->ov.vmta = smtpd_merge_var(m, "*vmta");
	m->ov.jobid = smtpd_merge_var(m, "*jobid");
	prio = smtpd_merge_var(m, "*priority");
	m->ov.priority = prio != NULL ? (int)strtol(prio, NULL, 10) : -1;
	s->headers_done = s->vmta_bad = false;
	buf_reset(&s->body);
	for (size_t k = 0; k < n; k++)
		if (smtpd_merge_expand(m, list[k]) == -1)
			return -1;
	if (smtpd_merge_emit(m, true) == -1)
		return -1;
	if (s->writer.failed) {
		smtpd_merge_fail(m, "451 4.3.0 cannot write to the spool");
		return -1;
	}
	smtpd_merge_submit(m, i);
	return 0;
}

/* Every message durable: answer, then queue and account them. */
static void
smtpd_merge_accept(struct smtpd_merge *m)
{
	struct smtpd_session *s = m->s;
	size_t n = m->job.nrcpts;

	m->settled = true;
	smtpd_reply(s, "250 2.6.0 message received");
	log_debug("(in) %s: mailmerge job of %zu message(s) accepted",
	    s->peer_ip, n);
	for (size_t i = 0; i < n; i++) {
		struct smtpd_rcv rcv = { "smtp", s->peer_ip, s->conn.fd,
		    (unsigned long long)m->msgs[i].body_size };

		smtpd_msg_accepted(m->d, s->model, &m->msgs[i], &rcv);
	}
}

/* The job is over: one reply, the transaction ends, input goes on. */
static void
smtpd_merge_finish(struct smtpd_merge *m)
{
	struct smtpd_session *s = m->s;

	s->state = SMTPD_IDLE;
	if (s->gone)
		smtpd_merge_fail(m, "421 4.4.2 client gone");
	if (m->error[0] == '\0')
		smtpd_merge_accept(m);
	else {
		smtpd_merge_cancel(m);
		log_info("(in) %s: mailmerge job of %zu recipient(s) not accepted: %s",
		    s->peer_ip, m->job.nrcpts, m->error);
		smtpd_reply(s, "%s", m->error);
	}
	smtpd_transaction_reset(s);	/* frees m */
	if (s->gone) {
		smtpd_session_free(s);
		return;
	}
	if (s->smtpd->stopping)
		smtpd_session_stop(s);
	smtpd_session_input(s);		/* commands pipelined behind XPRT */
}

/* Finished when every message is made (or the job failed) and every
 * commit has answered. */
static void
smtpd_merge_check_done(struct smtpd_merge *m)
{
	if (m->outstanding > 0 || !m->generated)
		return;
	if (m->s == NULL) {		/* the session went first */
		smtpd_merge_cancel(m);
		smtpd_merge_destroy(m);
		return;
	}
	smtpd_merge_finish(m);
}

static void
smtpd_merge_committed(void *arg, int error)
{
	struct smtpd_merge_commit *c = arg;
	struct smtpd_merge *m = OBJ_CAST(smtpd_merge, c->m, SMTPD_MERGE_MAGIC);

	m->rcpts[c->idx].msg = error == 0 ? SMTPD_MERGE_MSG_DURABLE :
	    SMTPD_MERGE_MSG_FAILED;
	m->outstanding--;
	if (error != 0)
		smtpd_merge_fail(m, "451 4.3.0 cannot write to the spool");
	if (!m->in_slice)
		smtpd_merge_check_done(m);
}

/* One slice of messages per loop turn. */
static void
smtpd_merge_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct smtpd_merge *m = OBJ_CAST(smtpd_merge, w->data,
	    SMTPD_MERGE_MAGIC);
	unsigned long long start = m->bytes;
	size_t made = 0;

	m->in_slice = true;
	while (m->next < m->job.nrcpts && m->error[0] == '\0' && !m->s->gone &&
	    made++ < SMTPD_MERGE_SLICE_MSGS &&
	    m->bytes - start < SMTPD_MERGE_SLICE_BYTES)
		(void)smtpd_merge_make(m, m->next++);
	m->in_slice = false;
	if (m->next == m->job.nrcpts || m->error[0] != '\0' || m->s->gone)
		m->generated = true;
	else {
		ev_timer_set(&m->timer, 0., 0.);
		ev_timer_start(loop, &m->timer);
	}
	smtpd_merge_check_done(m);
}
