/*
 * pickup_parse: the pickup file formats (see pickup_parse.h).
 *
 * Two kinds of state.  Before the message and after its end marker the
 * input is read line by line into a capped line buffer (envelope lines,
 * BSMTP commands, the tail).  Inside the message a byte-driven machine
 * (like smtp_data's receiver, which it cannot reuse: pickup files may end
 * lines with a bare LF and carry no dot-stuffing) normalises line ends,
 * removes stuffed dots and finds the "." line, so a line of any length
 * streams through without being held.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"
#include "pickup/pickup_parse.h"
#include "queue/dsn.h"
#include "smtp/smtp_addr.h"
#include "smtp/smtp_cmd.h"
#include "smtpd/smtpd_msg.h"

enum pickup_state {
	PS_START,	/* the first line tells the format */
	PS_ENVELOPE,	/* format A: envelope lines */
	PS_BSMTP,	/* format B: commands up to DATA */
	PS_BODY,	/* the message */
	PS_TAIL,	/* after the end marker */
};

enum pickup_bstate {
	PB_BOL,		/* at the start of a line */
	PB_TEXT,	/* inside a line */
	PB_CR,		/* just after a CR (already written) */
	PB_DOT,		/* a line that starts with "." */
	PB_DOT_CR,	/* a line that starts with ".\r" */
};

static int
pickup_fail(struct pickup_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The file is bad: say why, with the line when there is one.  -1. */
static int
pickup_fail(struct pickup_parse *p, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	if (p->error[0] != '\0')
		return -1;		/* the first reason stays */
	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p->lineno > 0 && !p->in_message)
		(void)snprintf(p->error, sizeof(p->error), "line %zu: %s",
		    p->lineno, why);
	else
		(void)snprintf(p->error, sizeof(p->error), "%s", why);
	return -1;
}

void
pickup_parse_init(struct pickup_parse *p, bool remove_dot)
{
	memset(p, 0, sizeof(*p));
	p->remove_dot = remove_dot;
	p->state = PS_START;
	p->bstate = PB_BOL;
	buf_init(&p->line, PICKUP_LINE_MAX + 1);
}

void
pickup_parse_merge(struct pickup_parse *p, const struct pickup_merge_ops *ops,
    void *arg)
{
	p->ops = ops;
	p->ops_arg = arg;
}

void
pickup_parse_free(struct pickup_parse *p)
{
	for (size_t i = 0; i < p->rcpts_dropped; i++) {
		free(p->refused[i].rcpt);
		free(p->refused[i].orcpt);
	}
	free(p->refused);
	p->refused = NULL;
	p->rcpts_dropped = 0;
	buf_free(&p->line);
	free(p->helo);
	free(p->sender_override);
	p->helo = p->sender_override = NULL;
}

/* --- the message --- */

static int
pickup_put(struct pickup_parse *p, struct buf *out, const char *s, size_t n)
{
	if (buf_append(out, s, n) == -1)
		return pickup_fail(p, "message buffer full");
	p->bytes += n;
	return 0;
}

/* A byte inside a line: line ends become CRLF. */
static int
pickup_body_text(struct pickup_parse *p, struct buf *out, char c)
{
	if (c == '\r') {
		p->bstate = PB_CR;
		return pickup_put(p, out, "\r", 1);
	}
	if (c == '\n') {
		p->bstate = PB_BOL;
		return pickup_put(p, out, "\r\n", 2);
	}
	p->bstate = PB_TEXT;
	return pickup_put(p, out, &c, 1);
}

static int
pickup_body_end(struct pickup_parse *p)
{
	p->bstate = PB_BOL;
	if (p->in_part) {	/* a mailmerge part: LAST ends the job */
		p->in_part = false;
		p->part_ended = true;
		p->done = p->part_last;
		p->state = p->part_last ? PS_TAIL : PS_BSMTP;
		return 1;
	}
	p->done = true;
	p->state = PS_TAIL;
	return 1;
}

/* One byte of the message: 0, 1 when it ended the message, or -1. */
static int
pickup_body_byte(struct pickup_parse *p, struct buf *out, char c)
{
	switch (p->bstate) {
	case PB_BOL:
		if (c == '.' && p->dots) {
			p->bstate = PB_DOT;
			return 0;
		}
		return pickup_body_text(p, out, c);
	case PB_DOT:
		if (c == '\r') {
			p->bstate = PB_DOT_CR;
			return 0;
		}
		if (c == '\n')
			return pickup_body_end(p);
		/* ".." loses its first dot; any other dot stays */
		if (!(c == '.' && p->remove_dot) && pickup_put(p, out, ".", 1) == -1)
			return -1;
		return pickup_body_text(p, out, c);
	case PB_DOT_CR:
		if (c == '\n')
			return pickup_body_end(p);
		if (pickup_put(p, out, ".\r", 2) == -1)	/* a bare CR */
			return -1;
		return pickup_body_text(p, out, c);
	case PB_CR:
		if (c == '\n') {
			p->bstate = PB_BOL;
			return pickup_put(p, out, "\n", 1);
		}
		return pickup_body_text(p, out, c);	/* the CR was bare */
	default:
		return pickup_body_text(p, out, c);
	}
}

/* Message bytes; returns how many were used (fewer than len only when
 * the end marker was found), or (size_t)-1. */
static size_t
pickup_body(struct pickup_parse *p, const char *in, size_t len,
    struct buf *out)
{
	size_t i = 0, n;
	int r;

	while (i < len) {
		if (p->bstate == PB_TEXT) {
			for (n = i; n < len && in[n] != '\r' && in[n] != '\n'; n++)
				;
			if (n > i) {
				if (pickup_put(p, out, in + i, n - i) == -1)
					return (size_t)-1;
				i = n;
				continue;
			}
		}
		if ((r = pickup_body_byte(p, out, in[i++])) == -1)
			return (size_t)-1;
		if (r == 1)
			break;
	}
	return i;
}

/* The envelope is complete: check it, then the message starts. */
static int
pickup_envelope_end(struct pickup_parse *p, struct spool_envelope *env)
{
	if (!p->have_sender)
		return pickup_fail(p, p->format == PICKUP_FORMAT_BSMTP ?
		    "DATA before MAIL" : "no x-sender line");
	if (env->nrcpts == 0)
		return pickup_fail(p, p->rcpts_dropped > 0 ?
		    "no valid recipients" : "no recipients");
	if (p->sender_override != NULL) {
		free(env->orig);
		env->orig = p->sender_override;
		p->sender_override = NULL;
	}
	p->in_message = true;
	p->dots = p->remove_dot || p->format == PICKUP_FORMAT_BSMTP;
	p->state = PS_BODY;
	p->bstate = PB_BOL;
	return 0;
}

/* --- format A --- */

enum pickup_field {
	PF_NONE, PF_SENDER, PF_RECEIVER, PF_ENVID, PF_JOB, PF_OVERRIDE, PF_VMTA,
};

/* The envelope field a line starts ("name:"), its value trimmed. */
static enum pickup_field
pickup_field(const char *line, size_t len, const char **value, size_t *vlen)
{
	static const struct { const char *name; enum pickup_field f; } names[] = {
		{ "x-sender", PF_SENDER }, { "x-receiver", PF_RECEIVER },
		{ "x-envid", PF_ENVID }, { "x-job", PF_JOB },
		{ "x-sender-override", PF_OVERRIDE },
		{ "x-virtual-mta", PF_VMTA },
	};
	const char *colon = memchr(line, ':', len);
	size_t nlen, i;

	if (colon == NULL)
		return PF_NONE;
	nlen = (size_t)(colon - line);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == nlen &&
		    strncasecmp(line, names[i].name, nlen) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0]))
		return PF_NONE;
	*value = colon + 1;
	*vlen = len - nlen - 1;
	while (*vlen > 0 && (**value == ' ' || **value == '\t'))
		(*value)++, (*vlen)--;
	while (*vlen > 0 && ((*value)[*vlen - 1] == ' ' ||
	    (*value)[*vlen - 1] == '\t'))
		(*vlen)--;
	return names[i].f;
}

/* A bare or <>-enclosed address that is the whole value; "" (or "<>")
 * is the null path when null is allowed.  NULL with p->error if bad. */
static const char *
pickup_address(struct pickup_parse *p, const char *v, size_t len, bool null,
    struct smtp_addr *a)
{
	const char *error = NULL;
	size_t used = 0;
	int shown = (int)(len > 80 ? 80 : len);

	if (len == 0 && null) {
		a->addr[0] = '\0';
		a->len = a->at = 0;
		return a->addr;
	}
	if (smtp_addr_parse(v, len, SMTP_ADDR_ALLOW_BARE |
	    (null ? SMTP_ADDR_ALLOW_NULL : 0), a, &used, &error) == -1) {
		pickup_fail(p, "%s: \"%.*s\"", error ? error : "bad address",
		    shown, v);
		return NULL;
	}
	if (used != len) {
		pickup_fail(p, "text after the address: \"%.*s\"", shown, v);
		return NULL;
	}
	if (!null && a->at >= a->len) {
		pickup_fail(p, "a recipient needs a domain: \"%s\"", a->addr);
		return NULL;
	}
	return a->addr;
}

/* Printable text without controls, for x-envid and x-job. */
static char *
pickup_text(struct pickup_parse *p, const char *v, size_t len,
    const char *what)
{
	if (len == 0 || len > SMTP_ADDR_MAX) {
		pickup_fail(p, "%s: %s value", what, len ? "too long a" : "empty");
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			pickup_fail(p, "%s: control character", what);
			return NULL;
		}
	return xstrndup(v, len);
}

static int
pickup_env_field(struct pickup_parse *p, enum pickup_field f, const char *v,
    size_t vlen, struct spool_envelope *env)
{
	struct smtp_addr a;
	char **slot = f == PF_ENVID ? &env->envid : &env->jobid;

	switch (f) {
	case PF_SENDER:
		if (p->have_sender)
			return pickup_fail(p, "a second x-sender line");
		if (pickup_address(p, v, vlen, true, &a) == NULL)
			return -1;
		env->orig = xstrdup(a.addr);
		p->have_sender = true;
		return 0;
	case PF_OVERRIDE:
		if (pickup_address(p, v, vlen, true, &a) == NULL)
			return -1;
		free(p->sender_override);
		p->sender_override = xstrdup(a.addr);
		return 0;
	case PF_RECEIVER:
		if (env->nrcpts >= PICKUP_RCPT_MAX)
			return pickup_fail(p, "more than %d recipients",
			    PICKUP_RCPT_MAX);
		if (pickup_address(p, v, vlen, false, &a) == NULL)
			return -1;
		smtpd_msg_add_rcpt(env, a.addr, 0, NULL);
		return 0;
	default:
		free(*slot);
		*slot = pickup_text(p, v, vlen, f == PF_ENVID ? "x-envid" : "x-job");
		return *slot == NULL ? -1 : 0;
	}
}

/* Put a line (without its line end) into the message. */
static int
pickup_emit_line(struct pickup_parse *p, const char *line, size_t len,
    struct buf *out)
{
	if (pickup_body(p, line, len, out) == (size_t)-1 ||
	    pickup_body(p, "\n", 1, out) == (size_t)-1)
		return -1;
	return 0;
}

static int
pickup_envelope_line(struct pickup_parse *p, const char *line, size_t len,
    struct spool_envelope *env, struct buf *out)
{
	enum pickup_field f;
	const char *v;
	size_t vlen;

	if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		if (!p->kept)
			return pickup_fail(p, "a folded envelope line");
		return pickup_emit_line(p, line, len, out);
	}
	f = pickup_field(line, len, &v, &vlen);
	p->kept = f == PF_VMTA;
	if (f == PF_VMTA)		/* message header, for {pickup} */
		return pickup_emit_line(p, line, len, out);
	if (f != PF_NONE)
		return pickup_env_field(p, f, v, vlen, env);
	if (pickup_envelope_end(p, env) == -1)
		return -1;
	return pickup_emit_line(p, line, len, out);
}

/* --- format B --- */

/* A refusal from pickup_merge_ops: temporary (4xx) or not; -1. */
static int
pickup_op_failed(struct pickup_parse *p, const char *what, const char *reply)
{
	p->temporary = reply[0] == '4';
	return pickup_fail(p, "%s: %s", what, reply);
}

/* The address of a RCPT line that did not parse, for its bounce: the
 * first word after "TO:", without <>, controls made '?'. */
static char *
pickup_rcpt_text(const char *line, size_t len)
{
	const char *c = memchr(line, ':', len), *e;
	char *t;

	if (c == NULL)
		c = line;
	else
		c++;
	e = line + len;
	while (c < e && (*c == ' ' || *c == '\t' || *c == '<'))
		c++;
	len = (size_t)(e - c);
	for (size_t i = 0; i < len; i++)
		if (c[i] == ' ' || c[i] == '\t' || c[i] == '>') {
			len = i;
			break;
		}
	t = xstrndup(c, len > 256 ? 256 : len);
	for (char *s = t; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	return t;
}

/* The NOTIFY= of a RCPT line that did not parse (its bounce follows
 * it): the dsn_notify bits of the first such word, 0 when none. */
static unsigned
pickup_rcpt_notify(const char *line, size_t len)
{
	static const struct { const char *w; unsigned bit; } words[] = {
		{ "NEVER", DSN_NOTIFY_NEVER }, { "SUCCESS", DSN_NOTIFY_SUCCESS },
		{ "DELAY", DSN_NOTIFY_DELAY }, { "FAILURE", DSN_NOTIFY_FAILURE },
	};
	unsigned bits = 0;
	size_t i, j, n;

	for (i = 0; i + 7 <= len; i++)
		if ((i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t') &&
		    strncasecmp(line + i, "NOTIFY=", 7) == 0)
			break;
	if (i + 7 > len)
		return 0;
	for (i += 7; i < len && line[i] != ' ' && line[i] != '\t'; i += n) {
		for (n = 0; i + n < len && line[i + n] != ',' &&
		    line[i + n] != ' ' && line[i + n] != '\t'; n++)
			;
		for (j = 0; j < sizeof(words) / sizeof(words[0]); j++)
			if (strlen(words[j].w) == n &&
			    strncasecmp(line + i, words[j].w, n) == 0)
				bits |= words[j].bit;
		if (i + n < len && line[i + n] == ',')
			n++;
		if (n == 0)
			break;
	}
	return bits;
}

/* After XACK OFF: the RCPT is refused, to be bounced; the others go on. */
static void
pickup_refuse(struct pickup_parse *p, char *rcpt, unsigned notify,
    const char *orcpt, const char *status, const char *why)
{
	struct pickup_refused *r;

	p->refused = xreallocarray(p->refused, p->rcpts_dropped + 1,
	    sizeof(*p->refused));
	r = &p->refused[p->rcpts_dropped++];
	r->rcpt = rcpt;
	r->orcpt = orcpt != NULL && orcpt[0] != '\0' ? xstrdup(orcpt) : NULL;
	r->notify = notify;
	(void)snprintf(r->status, sizeof(r->status), "%s", status);
	(void)snprintf(r->why, sizeof(r->why), "%s", why);
}

/* A reply's enhanced status code ("550 5.3.5 text" -> "5.3.5"), or
 * dflt; *text set to what follows it. */
static void
pickup_reply_status(const char *reply, const char *dflt, char *status,
    size_t size, const char **text)
{
	const char *s = strchr(reply, ' ');
	size_t n;

	*text = reply;
	(void)snprintf(status, size, "%s", dflt);
	if (s == NULL)
		return;
	s++;
	n = strcspn(s, " ");
	if (n >= 5 && n < size && (s[0] == '4' || s[0] == '5') && s[1] == '.') {
		(void)snprintf(status, size, "%.*s", (int)n, s);
		*text = s[n] == ' ' ? s + n + 1 : s + n;
	} else
		*text = s;
}

static int
pickup_bsmtp_rcpt(struct pickup_parse *p, const struct smtp_cmd *c,
    const char *syntax, const char *line, size_t len,
    struct spool_envelope *env)
{
	char orcpt[SMTP_ADDR_MAX + 16], reply[PICKUP_REPLY_MAX];
	char status[8] = "5.1.3";
	const struct smtp_param *bad;
	const char *why = syntax;
	unsigned notify = 0;
	size_t n = env->nrcpts;
	bool ok;

	orcpt[0] = '\0';
	if (!p->have_sender)
		return pickup_fail(p, "RCPT before MAIL");
	if (env->nrcpts >= PICKUP_RCPT_MAX)
		return pickup_fail(p, "more than %d recipients", PICKUP_RCPT_MAX);
	if (p->merge && p->ops->rcpt_begin(p->ops_arg, reply,
	    sizeof(reply)) == -1)
		return pickup_op_failed(p, "RCPT", reply);
	if (why == NULL && smtpd_msg_rcpt_params(c, &notify, orcpt,
	    sizeof(orcpt), &bad) == -1) {
		why = "unsupported RCPT parameter";
		(void)snprintf(status, sizeof(status), "5.5.4");
	}
	if (why == NULL && c->path.at >= c->path.len)
		why = "a recipient needs a domain";
	if (why == NULL && p->xdfn_error[0] != '\0')
		pickup_reply_status(p->xdfn_error, "5.5.4", status,
		    sizeof(status), &why);
	if ((ok = why == NULL))
		smtpd_msg_add_rcpt(env, c->path.addr, notify, orcpt);
	if (p->merge)
		p->ops->rcpt_end(p->ops_arg, ok, n);
	if (ok) {
		p->xdfn_error[0] = '\0';
		return 0;
	}
	if (!p->xack_off)
		return pickup_fail(p, "RCPT: %s", why);
	if (syntax != NULL)
		notify = pickup_rcpt_notify(line, len);
	pickup_refuse(p, syntax == NULL ? xstrdup(c->path.addr) :
	    pickup_rcpt_text(line, len), notify, orcpt, status, why);
	p->xdfn_error[0] = '\0';
	return 0;
}

static int
pickup_bsmtp_mail(struct pickup_parse *p, const struct smtp_cmd *c,
    struct spool_envelope *env)
{
	const struct smtp_param *bad;

	if (c->verb == SMTP_VERB_XMRG && p->ops == NULL)
		return pickup_fail(p, "mailmerge (XMRG) is not enabled for "
		    "pickup files");
	p->merge = c->verb == SMTP_VERB_XMRG;
	if (p->have_sender)
		return pickup_fail(p, "a second MAIL: one message per file");
	if (smtpd_msg_mail_params(c, env, false, &bad) == -1)
		return pickup_fail(p, "MAIL: unsupported parameter %.*s",
		    (int)bad->key_len, bad->key);
	env->orig = xstrdup(c->path.addr);
	env->verp = smtp_cmd_param(c, "VERP") != NULL;
	env->smtputf8 = smtp_cmd_param(c, "SMTPUTF8") != NULL;
	p->have_sender = true;
	return 0;
}

static int
pickup_bsmtp_xdfn(struct pickup_parse *p, const struct smtp_cmd *c)
{
	char reply[PICKUP_REPLY_MAX];

	if (!p->merge)
		return pickup_fail(p, "XDFN before XMRG");
	if (p->ops->xdfn(p->ops_arg, c->arg, c->arg_len, reply,
	    sizeof(reply)) == 0)
		return 0;
	if (!p->xack_off || reply[0] == '4')
		return pickup_op_failed(p, "XDFN", reply);
	if (p->xdfn_error[0] == '\0')	/* its RCPT is refused */
		(void)snprintf(p->xdfn_error, sizeof(p->xdfn_error), "%s",
		    reply);
	return 0;
}

/* XPRT n [LAST]: the part's text follows, up to a "." line. */
static int
pickup_bsmtp_xprt(struct pickup_parse *p, const struct smtp_cmd *c,
    const struct spool_envelope *env)
{
	char reply[PICKUP_REPLY_MAX];

	if (!p->merge)
		return pickup_fail(p, "XPRT before XMRG");
	if (env->nrcpts == 0)
		return pickup_fail(p, p->rcpts_dropped > 0 ?
		    "no valid recipients" : "no recipients");
	if (p->ops->part(p->ops_arg, c->arg, c->arg_len, &p->part_last, reply,
	    sizeof(reply)) == -1)
		return pickup_op_failed(p, "XPRT", reply);
	p->in_part = true;
	p->dots = true;
	p->state = PS_BODY;
	p->bstate = PB_BOL;
	return 0;
}

static void
pickup_bsmtp_helo(struct pickup_parse *p, const struct smtp_cmd *c)
{
	free(p->helo);
	p->helo = xstrndup(c->arg, c->arg_len > 255 ? 255 : c->arg_len);
	for (char *s = p->helo; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || *s == 0x7f)
			*s = '?';	/* it goes into logs and accounting */
}

static int
pickup_bsmtp_line(struct pickup_parse *p, const char *line, size_t len,
    struct spool_envelope *env)
{
	struct smtp_cmd c;
	const char *error = NULL;
	enum smtp_cmd_result r = smtp_cmd_parse(line, len, 0, &c, &error);

	if (r == SMTP_CMD_SYNTAX && c.verb == SMTP_VERB_RCPT)
		return pickup_bsmtp_rcpt(p, &c, error ? error : "syntax error",
		    line, len, env);
	if (r != SMTP_CMD_OK)
		return pickup_fail(p, "%s", error ? error : "bad command");
	switch (c.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		pickup_bsmtp_helo(p, &c);
		return 0;
	case SMTP_VERB_XACK:
		p->xack_off = c.arg_len == 3 && strncasecmp(c.arg, "OFF", 3) == 0;
		return 0;
	case SMTP_VERB_NOOP:
		return 0;
	case SMTP_VERB_RSET:
		return p->have_sender ? pickup_fail(p, "RSET after MAIL") : 0;
	case SMTP_VERB_MAIL:
	case SMTP_VERB_XMRG:
		return pickup_bsmtp_mail(p, &c, env);
	case SMTP_VERB_RCPT:
		return pickup_bsmtp_rcpt(p, &c, NULL, line, len, env);
	case SMTP_VERB_DATA:
		if (p->merge)
			return pickup_fail(p, "DATA in a mailmerge file");
		return pickup_envelope_end(p, env);
	case SMTP_VERB_XDFN:
		return pickup_bsmtp_xdfn(p, &c);
	case SMTP_VERB_XPRT:
		return pickup_bsmtp_xprt(p, &c, env);
	default:
		return pickup_fail(p, p->merge ? "%s is not allowed before "
		    "the XPRT ... LAST part" : "%s is not allowed before DATA",
		    smtp_verb_name(c.verb));
	}
}

/* --- lines --- */

/* The first line: format A if it is an envelope line, B if its verb
 * starts an SMTP session. */
static enum pickup_format
pickup_format_of(const char *line, size_t len)
{
	static const char *const verbs[] = { "HELO", "EHLO", "MAIL", "XACK",
	    "XMRG" };
	const char *v;
	size_t vlen, w;

	if (pickup_field(line, len, &v, &vlen) != PF_NONE)
		return PICKUP_FORMAT_HEADERS;
	for (w = 0; w < len && line[w] != ' ' && line[w] != '\t'; w++)
		;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (w == 4 && strncasecmp(line, verbs[i], 4) == 0)
			return PICKUP_FORMAT_BSMTP;
	return PICKUP_FORMAT_NONE;
}

/* After the end marker: empty lines and QUIT only. */
static int
pickup_tail_line(struct pickup_parse *p, const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0 || (len == 4 && strncasecmp(line, "QUIT", 4) == 0))
		return 0;
	return pickup_fail(p, "text after the end of the message");
}

static int
pickup_line(struct pickup_parse *p, struct spool_envelope *env,
    struct buf *out)
{
	const char *line = p->line.data ? p->line.data : "";
	size_t len = p->line.len;

	p->lineno++;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (memchr(line, '\0', len) != NULL)
		return pickup_fail(p, "NUL character");
	if (p->state == PS_START) {
		p->format = pickup_format_of(line, len);
		if (p->format == PICKUP_FORMAT_NONE)
			return pickup_fail(p, "neither x-sender/x-receiver "
			    "envelope lines nor BSMTP commands");
		p->state = p->format == PICKUP_FORMAT_BSMTP ? PS_BSMTP :
		    PS_ENVELOPE;
	}
	switch (p->state) {
	case PS_ENVELOPE:
		return pickup_envelope_line(p, line, len, env, out);
	case PS_BSMTP:
		return pickup_bsmtp_line(p, line, len, env);
	default:
		return pickup_tail_line(p, line, len);
	}
}

/* A mailmerge part's text (all of it at its end) to the job. */
static int
pickup_part_data(struct pickup_parse *p, struct buf *out)
{
	char reply[PICKUP_REPLY_MAX];
	bool end = p->part_ended;

	if (!end && (!p->in_part || out->len == 0))
		return 0;
	p->part_ended = false;
	if (p->ops->part_data(p->ops_arg, out, end, reply, sizeof(reply)) == -1)
		return pickup_op_failed(p, "XPRT", reply);
	return 0;
}

int
pickup_parse_feed(struct pickup_parse *p, const char *in, size_t len,
    struct spool_envelope *env, struct buf *out)
{
	size_t i = 0, n;
	const char *nl;

	while (i < len && p->error[0] == '\0') {
		if (p->state == PS_BODY) {
			if ((n = pickup_body(p, in + i, len - i, out)) == (size_t)-1)
				break;
			i += n;
			if (p->part_ended)
				(void)pickup_part_data(p, out);
			continue;
		}
		nl = memchr(in + i, '\n', len - i);
		n = nl != NULL ? (size_t)(nl - (in + i)) : len - i;
		if (buf_append(&p->line, in + i, n) == -1) {
			p->lineno++;
			return pickup_fail(p, "line longer than %d bytes",
			    PICKUP_LINE_MAX);
		}
		i += n;
		if (nl == NULL)
			break;
		i++;
		(void)pickup_line(p, env, out);
		buf_reset(&p->line);
	}
	if (p->error[0] == '\0' && p->merge)
		(void)pickup_part_data(p, out);
	return p->error[0] != '\0' ? -1 : 0;
}

/* The message's last line had no line end: end it (a "." there is the
 * end marker). */
static int
pickup_body_finish(struct pickup_parse *p, struct buf *out)
{
	switch (p->bstate) {
	case PB_DOT:
	case PB_DOT_CR:
		pickup_body_end(p);
		return 0;
	case PB_CR:
		return pickup_put(p, out, "\n", 1);
	case PB_TEXT:
		return pickup_put(p, out, "\r\n", 2);
	default:
		return 0;
	}
}

int
pickup_parse_finish(struct pickup_parse *p, struct spool_envelope *env,
    struct buf *out)
{
	if (p->error[0] != '\0')
		return -1;
	if (p->line.len > 0) {		/* a last line without line end */
		if (pickup_line(p, env, out) == -1)
			return -1;
		buf_reset(&p->line);
	}
	switch (p->state) {
	case PS_START:
		return pickup_fail(p, "empty file");
	case PS_ENVELOPE:		/* an empty message */
		return pickup_envelope_end(p, env);
	case PS_BSMTP:
		return pickup_fail(p, p->merge ? "the file ends before the "
		    "XPRT ... LAST part" : "the file ends before DATA");
	case PS_BODY:
		if (pickup_body_finish(p, out) == -1 ||
		    (p->merge && pickup_part_data(p, out) == -1))
			return -1;
		if (p->merge && !p->done)
			return pickup_fail(p, p->state == PS_BODY ?
			    "the part does not end with a \".\" line" :
			    "the file ends before the XPRT ... LAST part");
		if (p->format == PICKUP_FORMAT_BSMTP && !p->done)
			return pickup_fail(p, "the message does not end with "
			    "a \".\" line");
		return 0;
	default:
		return 0;
	}
}
