/*
 * mta_ext: what the SMTP client makes of the receiver's ESMTP extensions
 * (pmta-reference §3.4): the ignore-* directives, the parameters of MAIL
 * and RCPT, and the checks that keep a message off a receiver that
 * could not take it.
 *
 * After EHLO the extensions the queue ignores (ignore-pipelining,
 * ignore-8bitmime, ignore-dsn, ignore-chunking) are taken out of s->ext,
 * so the rest of the client sees them as not offered; dlvEsmtpAvailable
 * still lists what the receiver said.  Then per transaction:
 *   SIZE      SIZE=<octets> on MAIL; a message larger than the limit the
 *             receiver advertised is not sent: its recipients bounce
 *             with 552 5.3.4 (RFC 1870 6.1).
 *   8BITMIME  BODY=8BITMIME when the message has 8-bit octets (the
 *             spooled body is scanned); a 7-bit one goes without BODY=.
 *             An 8-bit message to a receiver without 8BITMIME goes as it
 *             is (no down-conversion: docs/compat.md).
 *   SMTPUTF8  when the sender or a recipient of the transaction has
 *             non-ASCII octets: SMTPUTF8 on MAIL, or, when the receiver
 *             does not offer it, a bounce with 553 5.6.7 (RFC 6531 3.2).
 *   DSN       RET= and ENVID= on MAIL, NOTIFY= and ORCPT= on RCPT, as the
 *             message was received (RFC 3461 6.2.1.a: the receiver takes
 *             over the reports).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "mta/mta_private.h"
#include "smtp/smtp_addr.h"
#include "smtp/smtp_merge.h"

static bool
mta_ext_ignored(const struct mta_session *s, int id)
{
	return conf_value_bool(model_queue_value(s->model, s->q->domain,
	    s->q->vmta, id), &conf_directives[id]);
}

void
mta_ext_filter(struct mta_session *s)
{
	static const struct {
		int		id;
		unsigned	ext;
	} ign[] = {
		{ CONF_ID_IGNORE_PIPELINING, SMTP_EXT_PIPELINING },
		{ CONF_ID_IGNORE_8BITMIME, SMTP_EXT_8BITMIME },
		{ CONF_ID_IGNORE_DSN, SMTP_EXT_DSN },
		{ CONF_ID_IGNORE_CHUNKING, SMTP_EXT_CHUNKING },
	};

	for (size_t i = 0; i < sizeof(ign) / sizeof(ign[0]); i++)
		if ((s->ext & ign[i].ext) && mta_ext_ignored(s, ign[i].id))
			s->ext &= ~ign[i].ext;
}

static bool
mta_ext_8bit_text(const char *p)
{
	for (; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	return false;
}

/* Does the batch's envelope need SMTPUTF8 (RFC 6531: non-ASCII addresses)? */
static bool
mta_ext_needs_utf8(const struct mta_session *s)
{
	const struct spool_envelope *env = s->batch.msg->env;

	if (mta_ext_8bit_text(env->orig))
		return true;
	for (size_t i = 0; i < s->batch.n; i++)
		if (s->batch.rcpts[i] != NULL &&
		    mta_ext_8bit_text(env->rcpts[s->batch.rcpts[i]->idx]))
			return true;
	return false;
}

/* Does the spooled body have an octet above 127?  (false if unreadable:
 * the transfer itself will fail then.) */
static bool
mta_ext_8bit_body(struct mta_session *s)
{
	const struct spool_envelope *env = s->batch.msg->env;
	off_t off = env->body_offset, end = off + env->body_size;
	bool found = false;
	ssize_t n;
	int fd;

	if ((fd = spool_open_message(s->mta->spool, env)) == -1)
		return false;
	if (s->chunk == NULL)
		s->chunk = xmalloc(MTA_BODY_CHUNK);
	/* never past the body (a data file holds others after it) */
	while (!found && off < end && (n = pread(fd, s->chunk,
	    end - off < MTA_BODY_CHUNK ? (size_t)(end - off) : MTA_BODY_CHUNK,
	    off)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if ((unsigned char)s->chunk[i] >= 0x80) {
				found = true;
				break;
			}
		off += n;
	}
	close(fd);
	return found;
}

int
mta_ext_check(struct mta_session *s, char *why, size_t size)
{
	const struct spool_envelope *env = s->batch.msg->env;
	long long octets = (long long)env->body_size;

	s->mail_utf8 = false;
	s->mail_8bit = false;
	if ((s->ext & SMTP_EXT_SIZE) && s->size_limit > 0 &&
	    (unsigned long long)octets > s->size_limit) {
		snprintf(why, size, "552 5.3.4 message size (%lld octets) "
		    "exceeds the fixed maximum message size of %s (%s): %lu",
		    octets, s->dest_name, s->dest_ip, s->size_limit);
		return -1;
	}
	if (mta_ext_needs_utf8(s)) {
		if (!(s->ext & SMTP_EXT_SMTPUTF8)) {
			snprintf(why, size, "553 5.6.7 non-ASCII address, and "
			    "%s (%s) does not offer SMTPUTF8", s->dest_name,
			    s->dest_ip);
			return -1;
		}
		s->mail_utf8 = true;
	} else if (env->smtputf8 && (s->ext & SMTP_EXT_SMTPUTF8))
		s->mail_utf8 = true;	/* received with SMTPUTF8 */
	if (s->ext & SMTP_EXT_8BITMIME)
		s->mail_8bit = mta_ext_8bit_body(s);
	return 0;
}

/* RFC 3461 4: xtext, "+XX" for '+', '=', and octets outside 33..126. */
static void
mta_ext_xtext(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; *src != '\0' && n + 4 <= size; src++) {
		unsigned char ch = (unsigned char)*src;

		if (ch < 33 || ch > 126 || ch == '+' || ch == '=')
			n += (size_t)snprintf(dst + n, size - n, "+%02X", ch);
		else
			dst[n++] = (char)ch;
	}
	dst[n] = '\0';
}

int
mta_ext_mail(struct mta_session *s)
{
	const struct spool_envelope *env = s->batch.msg->env;
	char params[1024] = "", envid[400], verp[SMTP_ADDR_MAX + 1];
	const char *orig = env->orig;
	size_t n = 0;

	/* VERP: a batch holds one recipient (queue_take), whose address
	 * goes into the return path */
	if (env->verp && s->batch.n == 1 && smtp_merge_verp(env->orig,
	    env->rcpts[s->batch.rcpts[0]->idx], verp, sizeof(verp)) == 0)
		orig = verp;

	if (s->ext & SMTP_EXT_SIZE)
		n += (size_t)snprintf(params + n, sizeof(params) - n,
		    " SIZE=%lld", (long long)env->body_size);
	if (s->mail_8bit)
		n += (size_t)snprintf(params + n, sizeof(params) - n,
		    " BODY=8BITMIME");
	if (s->mail_utf8)
		n += (size_t)snprintf(params + n, sizeof(params) - n,
		    " SMTPUTF8");
	if (s->ext & SMTP_EXT_DSN) {
		if (env->ret != 0)
			n += (size_t)snprintf(params + n, sizeof(params) - n,
			    " RET=%s", env->ret == 2 ? "FULL" : "HDRS");
		if (env->envid != NULL && env->envid[0] != '\0') {
			/* RFC 3461 4.4: at most 100 characters */
			mta_ext_xtext(envid, sizeof(envid), env->envid);
			if (strlen(envid) <= 100)
				(void)snprintf(params + n, sizeof(params) - n,
				    " ENVID=%s", envid);
		}
	}
	return conn_printf(&s->conn, "MAIL FROM:<%s>%s\r\n", orig, params);
}

int
mta_ext_rcpt(struct mta_session *s, size_t i)
{
	const struct spool_envelope *env = s->batch.msg->env;
	size_t idx = s->batch.rcpts[i]->idx;
	char params[1200] = "", orcpt[1000];
	unsigned notify;
	const char *o, *semi;
	size_t n = 0;

	if (s->ext & SMTP_EXT_DSN) {
		notify = spool_envelope_notify(env, idx);
		if (notify & DSN_NOTIFY_NEVER)
			n += (size_t)snprintf(params, sizeof(params),
			    " NOTIFY=NEVER");
		else if (notify != 0)
			n += (size_t)snprintf(params, sizeof(params),
			    " NOTIFY=%s%s%s%s%s",
			    (notify & DSN_NOTIFY_SUCCESS) ? "SUCCESS" : "",
			    (notify & DSN_NOTIFY_SUCCESS) &&
			    (notify & (DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY)) ?
			    "," : "",
			    (notify & DSN_NOTIFY_FAILURE) ? "FAILURE" : "",
			    (notify & DSN_NOTIFY_FAILURE) &&
			    (notify & DSN_NOTIFY_DELAY) ? "," : "",
			    (notify & DSN_NOTIFY_DELAY) ? "DELAY" : "");
		if ((o = spool_envelope_orcpt(env, idx)) != NULL && *o != '\0') {
			/* kept decoded as "type;address" */
			semi = strchr(o, ';');
			mta_ext_xtext(orcpt, sizeof(orcpt), semi ? semi + 1 : o);
			(void)snprintf(params + n, sizeof(params) - n,
			    " ORCPT=%.*s;%s", semi ? (int)(semi - o) : 6,
			    semi ? o : "rfc822", orcpt);
		}
	}
	return conn_printf(&s->conn, "RCPT TO:<%s>%s\r\n", env->rcpts[idx],
	    params);
}
