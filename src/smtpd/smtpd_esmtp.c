/*
 * smtpd_esmtp: what an injecting client may ask for beyond plain SMTP,
 * and the checks MAIL and RCPT go through.
 *
 *   - BDAT (CHUNKING, RFC 3030).  A chunk's octets are read exactly,
 *     without dot-stuffing or an end marker; a bare LF is stored as
 *     CRLF, as DATA stores it, so the spool holds one format.  The
 *     octets go into the same body buffer as DATA's and through
 *     smtpd_body_progress(): the same header processing, the same size
 *     limit, the same spool writer and group commit, so the 250 of BDAT
 *     LAST is sent only once the message is durable.  A refused BDAT
 *     with a readable size still has its chunk read and dropped: were it
 *     not, the chunk's octets would be taken for commands (smuggling).
 *     Only a BDAT whose size cannot be read ends the session.
 *   - SIZE (RFC 1870): max-message-size of the client's source; MAIL
 *     SIZE= above it is refused at once, a message that turns out larger
 *     is read to its end, dropped, and refused (552 5.3.4).
 *   - SMTPUTF8 (RFC 6531): with allow-smtputf8, a MAIL that says
 *     SMTPUTF8 may use non-ASCII (UTF-8) addresses; without the
 *     parameter such an address is refused with 553 5.6.7.
 *   - VERP: MAIL ... VERP, or the source's verp-default, asks for a
 *     return path per recipient; the envelope records it and delivery
 *     sends each recipient in its own transaction from
 *     sender-rcptlocal=rcptdomain@senderdomain.
 *   - Relaying (pmta-reference §3.1): a source with always-allow-relaying
 *     may send anywhere; anyone may send to a relay-domain, to one of
 *     our host-names, or to an address matching a relay-address.  Otherwise 550 5.7.1, or 450 4.7.1 with
 *     relay-debug.  Mail to postmaster (or abuse) at one of our
 *     host-names, and to a bare <postmaster>, goes to the postmaster
 *     address.
 *   - max-rcpt-per-message: recipients beyond it get 452 4.5.3 (the
 *     client sends them in another transaction), or with
 *     too-many-rcpts-fails-message are taken and the message is refused
 *     at DATA/BDAT (552 5.5.3).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "smtpd/smtpd_private.h"

/* The source's settings a session keeps. */
void
smtpd_session_settings(struct smtpd_session *s)
{
	struct smtpd_origin o;
	const struct conf_value *v;
	long long n;

	smtpd_session_origin(s, &o);
	v = smtpd_origin_value(&o, CONF_ID_SMTP_COMMAND_TIMEOUT);
	n = conf_value_num(v, &conf_directives[CONF_ID_SMTP_COMMAND_TIMEOUT]);
	s->cmd_timeout = n > 0 ? (double)n : SMTPD_TIMEOUT;
	v = smtpd_origin_value(&o, CONF_ID_SMTP_DATA_TIMEOUT);
	n = conf_value_num(v, &conf_directives[CONF_ID_SMTP_DATA_TIMEOUT]);
	s->data_timeout = n > 0 ? (double)n : SMTPD_TIMEOUT;
	v = smtpd_origin_value(&o, CONF_ID_MAX_MESSAGE_SIZE);
	n = conf_value_num(v, &conf_directives[CONF_ID_MAX_MESSAGE_SIZE]);
	s->max_size = n > 0 ? n : 0;
	s->log_commands = smtpd_origin_bool(&o, CONF_ID_LOG_COMMANDS);
}

/* --- MAIL and RCPT --- */


/* Any octet >= 0x80? */
static bool
smtpd_is_8bit(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	return false;
}

/* A non-ASCII address needs MAIL ... SMTPUTF8 (the parser checked that
 * it is UTF-8). */
static int
smtpd_utf8_check(struct smtpd_session *s, const char *addr)
{
	if (!smtpd_is_8bit(addr) || s->env.smtputf8)
		return 0;
	smtpd_reply(s, "553 5.6.7 non-ASCII address needs SMTPUTF8: <%s>", addr);
	return -1;
}

/* Digits (the parser checked them; at most 20). */
static unsigned long long
smtpd_number(const char *p, size_t n)
{
	unsigned long long v = 0;

	for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		if (v > (ULLONG_MAX - 9) / 10)
			return ULLONG_MAX;	/* more than anyone allows */
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v;
}

int
smtpd_mail_check(struct smtpd_session *s, struct smtp_cmd *c)
{
	const struct smtp_param *p;

	if ((p = smtp_cmd_param(c, "SIZE")) != NULL && s->max_size > 0 &&
	    smtpd_number(p->value, p->value_len) >
	    (unsigned long long)s->max_size) {
		smtpd_reply(s, "552 5.3.4 message size exceeds the limit of "
		    "%lld bytes", s->max_size);
		return -1;
	}
	if (smtp_cmd_param(c, "SMTPUTF8") != NULL) {
		if (!smtpd_source_bool(s, CONF_ID_ALLOW_SMTPUTF8)) {
			smtpd_reply(s, "555 5.5.4 unsupported parameter SMTPUTF8");
			return -1;
		}
		s->env.smtputf8 = true;
	}
	if (smtp_cmd_param(c, "VERP") != NULL ||
	    smtpd_source_bool(s, CONF_ID_VERP_DEFAULT))
		s->env.verp = true;
	if (c->path.len > 0 && c->path.at >= c->path.len) {
		smtpd_reply(s, "501 5.5.4 syntax error: missing domain");
		return -1;
	}
	return smtpd_utf8_check(s, c->path.addr);
}

bool
smtpd_relay_allowed(const struct smtpd_session *s, const struct smtp_addr *a)
{
	return s->relaying || model_local_domain(s->model,
	    a->addr + a->at + 1) || model_relay_address(s->model, a->addr);
}

/* postmaster@ or abuse@ one of our names, or a bare postmaster: the
 * postmaster address (pmta-reference §2.2), in addr. */
static bool
smtpd_postmaster(const struct smtpd_session *s, const struct smtp_addr *a,
    char *addr, size_t size)
{
	size_t local = a->at < a->len ? a->at : a->len;
	bool pm = local == 10 && strncasecmp(a->addr, "postmaster", 10) == 0;
	bool abuse = local == 5 && strncasecmp(a->addr, "abuse", 5) == 0;

	if (!pm && !abuse)
		return false;
	if (a->at < a->len && (strcasecmp(a->addr + a->at + 1,
	    s->model->host_name) != 0 || s->model->postmaster == NULL))
		return false;	/* postmaster of a relay-domain: theirs */
	if (s->model->postmaster != NULL)
		snprintf(addr, size, "%s", s->model->postmaster);
	else
		snprintf(addr, size, "postmaster@%s", s->model->host_name);
	return true;
}

int
smtpd_rcpt_check(struct smtpd_session *s, struct smtp_cmd *c, char *addr,
    size_t size)
{
	const struct conf_value *v;
	long long max;

	snprintf(addr, size, "%s", c->path.addr);
	if (!smtpd_postmaster(s, &c->path, addr, size)) {
		if (c->path.at >= c->path.len) {
			/* what the parser says without the postmaster case */
			smtpd_reply(s, "501 5.5.4 syntax error: missing domain");
			return -1;
		}
		if (smtpd_utf8_check(s, c->path.addr) == -1)
			return -1;
		if (!smtpd_relay_allowed(s, &c->path)) {
			if (conf_value_bool(model_settings_get(&s->model->global,
			    CONF_ID_RELAY_DEBUG),
			    &conf_directives[CONF_ID_RELAY_DEBUG]))
				smtpd_reply(s, "450 4.7.1 relaying denied: <%s>",
				    c->path.addr);
			else
				smtpd_reply(s, "550 5.7.1 relaying denied: <%s>",
				    c->path.addr);
			return -1;
		}
	}
	v = smtpd_source_value(s, CONF_ID_MAX_RCPT_PER_MESSAGE);
	max = conf_value_num(v, &conf_directives[CONF_ID_MAX_RCPT_PER_MESSAGE]);
	if (max <= 0 || max > SMTPD_RCPT_MAX)
		max = SMTPD_RCPT_MAX;
	if (s->env.nrcpts >= (size_t)max) {
		if (max < SMTPD_RCPT_MAX &&
		    smtpd_source_bool(s, CONF_ID_TOO_MANY_RCPTS_FAILS_MESSAGE)) {
			s->rcpts_over = true;	/* refused at DATA */
			return 1;
		}
		smtpd_reply(s, "452 4.5.3 too many recipients");
		return -1;
	}
	return 0;
}

/* --- BDAT --- */

/* A refused BDAT: answered now, its chunk read and dropped. */
static void
smtpd_chunk_refuse(struct smtpd_session *s)
{
	s->chunk_discard = true;
	s->chunk_after = s->state == SMTPD_BDAT ? SMTPD_IDLE : s->state;
	if (s->state == SMTPD_BDAT)
		smtpd_transaction_reset(s);
	s->state = SMTPD_CHUNK;
}

/* The first BDAT of a message: what DATA checks and sets up. */
static int
smtpd_bdat_begin(struct smtpd_session *s)
{
	struct smtpd_origin o;

	if (s->rcpts_over) {
		smtpd_reply(s, "552 5.5.3 too many recipients");
		return -1;
	}
	if (s->env.nrcpts == 0) {
		smtpd_reply(s, "554 5.5.1 no valid recipients");
		return -1;
	}
	s->env.srcmta = xasprintf("%s (%s)", s->helo, s->peer_ip);
	smtpd_session_origin(s, &o);
	smtpd_msg_dsn_defaults(&o, &s->env);
	s->headers_done = s->vmta_bad = s->too_big = false;
	smtp_data_rx_init(&s->rx);
	buf_reset(&s->body);
	return 0;
}

void
smtpd_cmd_bdat(struct smtpd_session *s, struct smtp_cmd *c)
{
	/* the parser checked 1*DIGIT [SP LAST]; arg is not a string */
	s->chunk_left = smtpd_number(c->arg, c->arg_len);
	s->chunk_last = c->arg_len > 0 &&
	    (c->arg[c->arg_len - 1] == 'T' || c->arg[c->arg_len - 1] == 't');
	s->chunk_discard = false;
	if (!smtpd_source_bool(s, CONF_ID_ALLOW_CHUNKING)) {
		smtpd_reply(s, "502 5.5.1 BDAT not available");
		smtpd_chunk_refuse(s);
		return;
	}
	if (s->state != SMTPD_MAIL && s->state != SMTPD_BDAT) {
		smtpd_reply(s, "503 5.5.1 bad sequence of commands: "
		    "need MAIL and RCPT before BDAT");
		smtpd_chunk_refuse(s);
		return;
	}
	if (s->state == SMTPD_MAIL) {
		if (smtpd_xack_failed(s) || smtpd_bdat_begin(s) == -1) {
			s->state = SMTPD_IDLE;
			smtpd_transaction_reset(s);
			smtpd_chunk_refuse(s);
			return;
		}
	}
	/* the input loop reads the chunk once this line is consumed */
	s->state = SMTPD_CHUNK;
	smtpd_timeout(s, true);
}

/* The chunk's octets are in. */
static void
smtpd_chunk_end(struct smtpd_session *s)
{
	if (s->chunk_discard) {
		s->state = s->chunk_after;
		smtpd_timeout(s, false);
		return;
	}
	if (s->chunk_last) {
		s->rx.done = true;
		(void)smtpd_body_progress(s, true);
		return;
	}
	(void)smtpd_body_progress(s, false);
	smtpd_timeout(s, false);
	/* RFC 3030: the chunk is refused and the transaction with it; what
	 * follows is refused as out of sequence */
	if (smtpd_refuse_too_big(s))
		return;
	s->state = SMTPD_BDAT;
	smtpd_reply(s, "250 2.0.0 %zu octets received", s->rx.bytes);
}

bool
smtpd_chunk_input(struct smtpd_session *s)
{
	size_t n = s->conn.in.len;

	if (n > s->chunk_left)
		n = (size_t)s->chunk_left;
	if (n > 0 && !s->chunk_discard) {
		if (smtp_data_rx_raw(&s->rx, s->conn.in.data, n,
		    &s->body) == -1) {
			/* cannot happen while we flush below the cap */
			s->too_big = true;
		}
		/* more than a flush's worth is never buffered */
		(void)smtpd_body_progress(s, false);
	}
	conn_consume(&s->conn, n);
	s->chunk_left -= n;
	if (s->chunk_left > 0)
		return false;
	smtpd_chunk_end(s);
	return true;
}
