/*
 * smtpsink_smtp: the sink's side of the SMTP dialogue.
 *
 * Commands go through one table (verb, precondition, handler).  The
 * sink is strict where a sloppy client should be caught (MAIL before
 * HELO/EHLO, RCPT before MAIL, DATA without an accepted recipient: 503)
 * and answers every line, so that pipelined replies stay in order.
 *
 * Per-recipient scripting: the RCPT local part is split on '+' and the
 * tokens after the first are actions (sink_actions_parse):
 *   rNNN  reply NNN to this RCPT (421: then close)
 *   dNNN  reply NNN at the end of DATA; the first accepted recipient
 *         with a d-token decides (421: then close)
 *   wMS   wait MS ms before answering this RCPT; later commands wait too
 *   wdMS  wait MS ms before the end-of-DATA reply (first accepted wins)
 *   wbMS  after the 354, read no content for MS ms (first accepted
 *         wins): the client's output stalls once the buffers are full
 *   xr    drop the connection, without reply, when this RCPT arrives
 *   xd    drop the connection after the content, before the reply
 *         (any accepted recipient with xd)
 *   ne    this RCPT's scripted reply has no enhanced status code
 *         ("553 scripted rejection")
 *   m=TEXT the text of this RCPT's scripted reply, '_' written as a
 *         space ("bob+r421+m=too_many_errors": "421 4.4.2 too many
 *         errors"); the enhanced code stays the scripted one
 * Tokens are case-insensitive; anything else is ignored ("alice+tag").
 *
 * Parameters are checked against what EHLO offered (RFC 5321 3.3: a
 * parameter of an extension not offered, or after HELO, is 555):
 * MAIL SIZE= (over the advertised SIZE: 552 5.3.4), BODY=7BIT|8BITMIME,
 * SMTPUTF8, RET=, ENVID=; RCPT NOTIFY=, ORCPT=.  An address with 8-bit
 * octets in a transaction without SMTPUTF8 is refused 553 5.6.7
 * (RFC 6531 3.4).  The parameters as sent are recorded.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "smtpsink.h"

/* Enhanced code and text per reply class, for one command. */
struct smtp_texts {
	const char	*ok;
	const char	*defer;
	const char	*reject;
};

static const struct smtp_texts smtp_mail_texts = {
	"2.1.0 ok", "4.3.0 scripted deferral", "5.7.1 scripted rejection",
};
static const struct smtp_texts smtp_rcpt_texts = {
	"2.1.5 ok", "4.2.0 scripted deferral", "5.1.1 scripted rejection",
};
static const struct smtp_texts smtp_data_texts = {
	"2.0.0 ok", "4.3.0 scripted deferral", "5.7.1 scripted rejection",
};

long
sink_number(const char *p, size_t n, long min, long max)
{
	char tmp[24], *end;
	long v;
	size_t i;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)p[i]))
			return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	v = strtol(tmp, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return -1;
	return v;
}

int
sink_code_parse(const char *p, size_t n)
{
	long code = n == 3 ? sink_number(p, n, 200, 599) : -1;

	if (code == -1 || code / 100 == 3)
		return -1;
	return (int)code;
}

static void
sink_action_token(const char *t, size_t n, struct sink_actions *a)
{
	long v;

	if (n > 2 && (t[0] == 'm' || t[0] == 'M') && t[1] == '=') {
		size_t len = n - 2 < SINK_TEXT_MAX ? n - 2 : SINK_TEXT_MAX - 1;

		for (size_t i = 0; i < len; i++)
			a->text[i] = t[2 + i] == '_' ? ' ' : t[2 + i];
		a->text[len] = '\0';
	} else if (n == 2 && strncasecmp(t, "xr", 2) == 0)
		a->drop_rcpt = true;
	else if (n == 2 && strncasecmp(t, "xd", 2) == 0)
		a->drop_data = true;
	else if (n == 2 && strncasecmp(t, "ne", 2) == 0)
		a->no_enhanced = true;
	else if (n > 2 && strncasecmp(t, "wd", 2) == 0) {
		if ((v = sink_number(t + 2, n - 2, 0, SINK_WAIT_MAX)) != -1)
			a->data_wait_ms = v;
	} else if (n > 2 && strncasecmp(t, "wb", 2) == 0) {
		if ((v = sink_number(t + 2, n - 2, 0, SINK_WAIT_MAX)) != -1)
			a->body_wait_ms = v;
	} else if (n > 1 && (t[0] == 'w' || t[0] == 'W')) {
		if ((v = sink_number(t + 1, n - 1, 0, SINK_WAIT_MAX)) != -1)
			a->wait_ms = v;
	} else if (n == 4 && (t[0] == 'r' || t[0] == 'R')) {
		if ((v = sink_code_parse(t + 1, 3)) != -1)
			a->rcode = (int)v;
	} else if (n == 4 && (t[0] == 'd' || t[0] == 'D')) {
		if ((v = sink_code_parse(t + 1, 3)) != -1)
			a->dcode = (int)v;
	}
}

/* The actions in addr's local part (before the last '@'). */
void
sink_actions_parse(const char *addr, struct sink_actions *a)
{
	const char *at = strrchr(addr, '@');
	const char *end = at != NULL ? at : addr + strlen(addr);
	const char *tok, *next;

	memset(a, 0, sizeof(*a));
	next = memchr(addr, '+', (size_t)(end - addr));
	while (next != NULL) {
		tok = next + 1;
		next = memchr(tok, '+', (size_t)(end - tok));
		sink_action_token(tok, (size_t)((next ? next : end) - tok), a);
	}
}

/*
 * "FROM:<a@b> params" (kw "FROM:") to "a@b" in out.  A source route is
 * dropped; a bare address is tolerated; *params_r points to the
 * parameters ("" if none).
 */
static int
smtp_path(const char *arg, const char *kw, char *out, size_t outlen,
    bool allow_null, const char **params_r)
{
	size_t i, n, kl = strlen(kw);
	const char *p, *end, *colon;

	if (strncasecmp(arg, kw, kl) != 0)
		return -1;
	for (p = arg + kl; *p == ' '; p++)
		continue;
	if (*p == '<') {
		if ((end = strchr(++p, '>')) == NULL)
			return -1;
	} else
		end = p + strcspn(p, " ");
	if (*p == '@') {
		if ((colon = memchr(p, ':', (size_t)(end - p))) == NULL)
			return -1;
		p = colon + 1;
	}
	n = (size_t)(end - p);
	if (n >= outlen || (n == 0 && !allow_null))
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
			return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	p = *end == '>' ? end + 1 : end;
	while (*p == ' ')
		p++;
	*params_r = p;
	return 0;
}

static bool
smtp_offered(const struct sink_conn *c, unsigned ext)
{
	return c->esmtp && (c->sink->no_ext & ext) == 0;
}

static bool
smtp_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/*
 * Check the parameters of MAIL (mail) or RCPT against what EHLO offered.
 * NULL when they are acceptable, else the reply to give.  *utf8_r is set
 * when MAIL has SMTPUTF8.
 */
static const char *
smtp_params_check(const struct sink_conn *c, const char *params, bool mail,
    bool *utf8_r)
{
	char word[SINK_LINE_MAX + 1];
	const char *p = params;

	while (*p != '\0') {
		size_t n = strcspn(p, " "), kl;
		const char *v;

		memcpy(word, p, n);
		word[n] = '\0';
		p += n;
		while (*p == ' ')
			p++;
		v = strchr(word, '=');
		kl = v != NULL ? (size_t)(v - word) : n;
		v = v != NULL ? v + 1 : NULL;
#define KW(k)	(kl == strlen(k) && strncasecmp(word, k, kl) == 0)
		if (mail && KW("SIZE") && v != NULL &&
		    smtp_offered(c, SINK_EXT_SIZE)) {
			long long sz = sink_number(v, strlen(v), 0, LONG_MAX);

			if (sz < 0)
				return "501 5.5.4 bad SIZE= value";
			if (c->sink->size > 0 &&
			    (unsigned long long)sz > c->sink->size)
				return "552 5.3.4 message size exceeds the "
				    "fixed maximum message size";
		} else if (mail && KW("BODY") && v != NULL &&
		    (strcasecmp(v, "7BIT") == 0 || (strcasecmp(v, "8BITMIME") == 0 &&
		    smtp_offered(c, SINK_EXT_8BITMIME))))
			continue;
		else if (mail && KW("SMTPUTF8") && v == NULL &&
		    smtp_offered(c, SINK_EXT_SMTPUTF8))
			*utf8_r = true;
		else if (mail && (KW("RET") || KW("ENVID")) && v != NULL &&
		    smtp_offered(c, SINK_EXT_DSN))
			continue;
		else if (!mail && (KW("NOTIFY") || KW("ORCPT")) && v != NULL &&
		    smtp_offered(c, SINK_EXT_DSN))
			continue;
		else
			return "555 5.5.4 parameter not recognized or not "
			    "offered";
#undef KW
	}
	return NULL;
}

/*
 * Queue the scripted reply `code`, with `text` after the enhanced code
 * if not NULL or empty; true when it is 421 (then close).
 */
static bool
smtp_scripted(struct sink_conn *c, int code, const struct smtp_texts *t,
    const char *text)
{
	const char *std = code == 421 ? "4.4.2 scripted closing" :
	    code / 100 == 2 ? t->ok : code / 100 == 4 ? t->defer : t->reject;

	if (text != NULL && text[0] != '\0')
		conn_reply(c, "%d %.*s %s", code, (int)strcspn(std, " "), std,
		    text);
	else
		conn_reply(c, "%d %s", code, std);
	return code == 421;
}

void
smtp_txn_reset(struct sink_conn *c)
{
	struct sink_txn *t = &c->txn;
	size_t i;

	free(t->mail_from);
	free(t->mail_params);
	for (i = 0; i < t->nrcpts; i++) {
		free(t->rcpts[i].addr);
		free(t->rcpts[i].params);
	}
	free(t->rcpts);
	EVP_MD_CTX_free(t->md);
	maildir_finish(c, false);
	memset(t, 0, sizeof(*t));
}

void
smtp_greet(struct sink_conn *c)
{
	int code = c->sink->greeting;

	if (code / 100 == 2) {
		conn_reply(c, "%d %s ESMTP smtpsink ready", code,
		    c->sink->hostname);
		return;
	}
	conn_reply(c, "%d %s %s", code, c->sink->hostname,
	    code == 421 ? "scripted closing" : code / 100 == 4 ?
	    "scripted deferral" : "scripted rejection");
	conn_close_after_flush(c);
}

/* Common to HELO and EHLO; false after a syntax error reply. */
static bool
smtp_hello(struct sink_conn *c, const char *arg, bool esmtp)
{
	if (*arg == '\0') {
		conn_reply(c, "501 5.5.4 %s needs a domain",
		    esmtp ? "EHLO" : "HELO");
		return false;
	}
	smtp_txn_reset(c);
	free(c->helo);
	c->helo = xstrdup(arg);
	c->greeted = true;
	c->esmtp = esmtp;
	return true;
}

static void
smtp_cmd_helo(struct sink_conn *c, const char *arg)
{
	if (smtp_hello(c, arg, false))
		conn_reply(c, "250 %s", c->sink->hostname);
}

/* The EHLO reply after its first line (its keywords; the last "250 "). */
void
smtp_ehlo_rest(struct sink_conn *c)
{
	struct sink *sink = c->sink;
	const char *kw[8];
	char size[32];
	size_t n = 0;

	if (!sink->no_pipelining && !(sink->no_ext & SINK_EXT_PIPELINING))
		kw[n++] = "PIPELINING";
	if (!(sink->no_ext & SINK_EXT_8BITMIME))
		kw[n++] = "8BITMIME";
	snprintf(size, sizeof(size), "SIZE %llu", sink->size);
	if (!(sink->no_ext & SINK_EXT_SIZE))
		kw[n++] = size;
	if (!(sink->no_ext & SINK_EXT_ENHANCED))
		kw[n++] = "ENHANCEDSTATUSCODES";
	if (!(sink->no_ext & SINK_EXT_SMTPUTF8))
		kw[n++] = "SMTPUTF8";
	if (sink->tls_ctx != NULL && c->tls == SINK_TLS_OFF)
		kw[n++] = "STARTTLS";
	if (!(sink->no_ext & SINK_EXT_DSN))
		kw[n++] = "DSN";
	if (n == 0)
		kw[n++] = "HELP";
	for (size_t i = 0; i < n; i++)
		conn_reply(c, "250%c%s", i + 1 < n ? '-' : ' ', kw[i]);
}

static void
smtp_cmd_ehlo(struct sink_conn *c, const char *arg)
{
	struct sink *sink = c->sink;

	if (sink->ehlo_reply != 0) {
		if (sink->ehlo_reply == 421) {
			conn_reply(c, "421 4.3.2 %s scripted closing",
			    sink->hostname);
			conn_close_after_flush(c);
		} else
			conn_reply(c, "%d %s EHLO not implemented",
			    sink->ehlo_reply, sink->ehlo_reply / 100 == 5 ?
			    "5.5.1" : "4.5.1");
		return;
	}
	if (!smtp_hello(c, arg, true))
		return;
	conn_reply(c, "250-%s", sink->hostname);
	if (sink->ehlo_stall > 0)
		conn_defer_reply(c, DEFER_EHLO, sink->ehlo_stall, 0, "",
		    false);
	else
		smtp_ehlo_rest(c);
}

/* The handshake starts once the reply is flushed (conn_settle()). */
static void
smtp_cmd_starttls(struct sink_conn *c, const char *arg)
{
	if (*arg != '\0')
		conn_reply(c, "501 5.5.4 syntax: STARTTLS");
	else if (c->sink->tls_ctx == NULL)
		conn_reply(c, "502 5.5.1 STARTTLS not offered");
	else if (c->tls != SINK_TLS_OFF)
		conn_reply(c, "503 5.5.1 TLS already active");
	else {
		conn_reply(c, "220 2.0.0 ready to start TLS");
		c->tls = SINK_TLS_START;
	}
}

static void
smtp_cmd_mail(struct sink_conn *c, const char *arg)
{
	char addr[SINK_ADDR_MAX + 1];
	int code = c->sink->mail_reply;
	const char *params, *bad;
	bool utf8 = false;

	if (c->txn.active) {
		conn_reply(c, "503 5.5.1 nested MAIL command");
		return;
	}
	if (smtp_path(arg, "FROM:", addr, sizeof(addr), true, &params) == -1) {
		conn_reply(c, "501 5.5.4 syntax: MAIL FROM:<address>");
		return;
	}
	if ((bad = smtp_params_check(c, params, true, &utf8)) != NULL) {
		conn_reply(c, "%s", bad);
		return;
	}
	if (!utf8 && smtp_8bit(addr)) {
		conn_reply(c, "553 5.6.7 8-bit address without SMTPUTF8");
		return;
	}
	if (code / 100 == 2) {
		c->txn.active = true;
		c->txn.utf8 = utf8;
		c->txn.pipelined = c->more_input;
		c->txn.mail_from = xstrdup(addr);
		c->txn.mail_params = xstrdup(params);
	}
	if (smtp_scripted(c, code, &smtp_mail_texts, NULL))
		conn_close_after_flush(c);
}

/* Remember the recipient and, if accepted, its DATA actions. */
static void
smtp_txn_add_rcpt(struct sink_conn *c, const char *addr, const char *params,
    int code, const struct sink_actions *a)
{
	struct sink_txn *t = &c->txn;

	if (t->nrcpts == t->rcpts_cap) {
		t->rcpts_cap = t->rcpts_cap ? t->rcpts_cap * 2 : 8;
		t->rcpts = xreallocarray(t->rcpts, t->rcpts_cap,
		    sizeof(*t->rcpts));
	}
	t->rcpts[t->nrcpts].addr = xstrdup(addr);
	t->rcpts[t->nrcpts].params = xstrdup(params);
	t->rcpts[t->nrcpts++].code = code;
	if (code / 100 != 2)
		return;
	t->naccepted++;
	if (t->dcode == 0)
		t->dcode = a->dcode;
	if (t->data_wait_ms == 0)
		t->data_wait_ms = a->data_wait_ms;
	if (t->body_wait_ms == 0)
		t->body_wait_ms = a->body_wait_ms;
	t->drop_data |= a->drop_data;
}

void
smtp_rcpt_reply(struct sink_conn *c, const char *addr, const char *params,
    int code, bool close_after)
{
	struct sink_actions a;

	sink_actions_parse(addr, &a);
	if (a.no_enhanced)
		conn_reply(c, "%d %s", code, a.text[0] != '\0' ? a.text :
		    code / 100 == 2 ? "ok" : code / 100 == 4 ?
		    "scripted deferral" : "scripted rejection");
	else
		smtp_scripted(c, code, &smtp_rcpt_texts, a.text);
	record_rcpt(c, addr, params, code);
	if (close_after)
		conn_close_after_flush(c);
}

static void
smtp_cmd_rcpt(struct sink_conn *c, const char *arg)
{
	char addr[SINK_ADDR_MAX + 1];
	struct sink_actions a;
	const char *params, *bad;
	bool utf8 = false;
	int code;

	if (smtp_path(arg, "TO:", addr, sizeof(addr), false, &params) == -1) {
		conn_reply(c, "501 5.5.4 syntax: RCPT TO:<address>");
		return;
	}
	if ((bad = smtp_params_check(c, params, false, &utf8)) != NULL) {
		conn_reply(c, "%s", bad);
		return;
	}
	if (!c->txn.utf8 && smtp_8bit(addr)) {
		conn_reply(c, "553 5.6.7 8-bit address without SMTPUTF8");
		return;
	}
	sink_actions_parse(addr, &a);
	if (a.drop_rcpt) {
		conn_close_after_flush(c);
		return;
	}
	if (c->txn.nrcpts >= SINK_RCPTS_MAX) {
		conn_reply(c, "452 4.5.3 too many recipients");
		record_rcpt(c, addr, params, 452);
		return;
	}
	code = a.rcode != 0 ? a.rcode : 250;
	smtp_txn_add_rcpt(c, addr, params, code, &a);
	if (a.wait_ms > 0)
		conn_defer_reply(c, DEFER_RCPT, a.wait_ms, code, addr,
		    code == 421);
	else
		smtp_rcpt_reply(c, addr, params, code, code == 421);
}

static void
smtp_cmd_data(struct sink_conn *c, const char *arg)
{
	struct sink_txn *t = &c->txn;

	if (*arg != '\0') {
		conn_reply(c, "501 5.5.4 syntax: DATA");
		return;
	}
	if (t->naccepted == 0) {
		conn_reply(c, "503 5.5.1 no valid recipients");
		return;
	}
	t->id = c->sink->next_id++;
	t->unstuff = 0;
	t->size = 0;
	if ((t->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(t->md, EVP_sha256(), NULL) != 1)
		fatalx("smtpsink: cannot initialise SHA-256");
	if (c->sink->maildir != NULL && maildir_open(c) == -1)
		t->merr = true;
	c->phase = CONN_DATA;
	conn_reply(c, "354 go ahead");
	if (t->body_wait_ms > 0)
		conn_defer_reply(c, DEFER_BODY, t->body_wait_ms, 0, "", false);
}

void
smtp_data_content(struct sink_conn *c, const char *p, size_t n)
{
	struct sink_txn *t = &c->txn;

	t->size += n;
	if (EVP_DigestUpdate(t->md, p, n) != 1)
		fatalx("smtpsink: SHA-256 update failed");
	if (t->size > SINK_MSG_MAX || (c->sink->size > 0 &&
	    t->size > c->sink->size))
		t->too_big = true;
	else
		maildir_write(c, p, n);
}

void
smtp_data_end(struct sink_conn *c)
{
	struct sink_txn *t = &c->txn;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int i, mdlen = 0;

	c->phase = CONN_CMD;
	if (EVP_DigestFinal_ex(t->md, md, &mdlen) != 1 || mdlen != 32)
		fatalx("smtpsink: SHA-256 final failed");
	for (i = 0; i < mdlen; i++)
		snprintf(t->sha256 + 2 * i, 3, "%02x", md[i]);
	if (t->drop_data) {
		record_message(c, 0, t->sha256);
		smtp_txn_reset(c);
		conn_close_after_flush(c);
	} else if (t->data_wait_ms > 0)
		conn_defer_reply(c, DEFER_DATA, t->data_wait_ms, 0, "", false);
	else
		smtp_data_reply(c);
}

/* The end-of-DATA reply; ends the transaction. */
void
smtp_data_reply(struct sink_conn *c)
{
	struct sink_txn *t = &c->txn;
	int code = t->too_big ? 552 : t->dcode != 0 ? t->dcode : 250;
	bool close_after = false;

	if (code / 100 == 2 && (t->merr || maildir_finish(c, true) == -1))
		code = 451;
	if (code == 552)
		conn_reply(c, "552 5.3.4 message exceeds the size limit");
	else if (code == 451 && t->merr)
		conn_reply(c, "451 4.3.0 sink storage error");
	else if (code / 100 == 2)
		conn_reply(c, "%d 2.0.0 ok %lu", code, t->id);
	else
		close_after = smtp_scripted(c, code, &smtp_data_texts, NULL);
	record_message(c, code, t->sha256);
	if (!c->sink->quiet)
		log_info("smtpsink: %s: message %lu from <%s>, %zu "
		    "recipient(s), %llu bytes: %d", c->peer, t->id,
		    t->mail_from, t->naccepted, t->size, code);
	smtp_txn_reset(c);
	if (close_after)
		conn_close_after_flush(c);
}

static void
smtp_cmd_rset(struct sink_conn *c, const char *arg)
{
	smtp_txn_reset(c);
	conn_reply(c, "250 2.0.0 ok");
}

static void
smtp_cmd_noop(struct sink_conn *c, const char *arg)
{
	conn_reply(c, "250 2.0.0 ok");
}

static void
smtp_cmd_vrfy(struct sink_conn *c, const char *arg)
{
	conn_reply(c, "252 2.5.2 cannot VRFY user, but will accept message");
}

static void
smtp_cmd_quit(struct sink_conn *c, const char *arg)
{
	record_quit(c);
	conn_reply(c, "221 2.0.0 bye");
	conn_close_after_flush(c);
}

enum smtp_need {
	NEED_NOTHING,
	NEED_HELO,		/* HELO or EHLO accepted */
	NEED_MAIL,		/* a transaction is open */
};

static const struct smtp_command {
	const char	*verb;
	enum smtp_need	 need;
	void		(*fn)(struct sink_conn *, const char *);
} smtp_commands[] = {
	{ "HELO",	NEED_NOTHING,	smtp_cmd_helo },
	{ "EHLO",	NEED_NOTHING,	smtp_cmd_ehlo },
	{ "MAIL",	NEED_HELO,	smtp_cmd_mail },
	{ "RCPT",	NEED_MAIL,	smtp_cmd_rcpt },
	{ "DATA",	NEED_MAIL,	smtp_cmd_data },
	{ "RSET",	NEED_NOTHING,	smtp_cmd_rset },
	{ "NOOP",	NEED_NOTHING,	smtp_cmd_noop },
	{ "VRFY",	NEED_NOTHING,	smtp_cmd_vrfy },
	{ "QUIT",	NEED_NOTHING,	smtp_cmd_quit },
	{ "STARTTLS",	NEED_NOTHING,	smtp_cmd_starttls },
};

/* One command line, line[0..len) without its CRLF (len <= LINE_MAX). */
void
smtp_line(struct sink_conn *c, const char *line, size_t len)
{
	char text[SINK_LINE_MAX + 1], *arg, *end;
	const struct smtp_command *cmd = NULL;
	size_t i, vlen;

	if (memchr(line, '\0', len) != NULL) {
		conn_reply(c, "500 5.5.2 NUL in command line");
		return;
	}
	memcpy(text, line, len);
	text[len] = '\0';
	vlen = strcspn(text, " ");
	for (arg = text + vlen; *arg == ' '; arg++)
		continue;
	for (end = arg + strlen(arg); end > arg && end[-1] == ' '; end--)
		end[-1] = '\0';
	for (i = 0; i < sizeof(smtp_commands) / sizeof(*smtp_commands); i++)
		if (vlen == strlen(smtp_commands[i].verb) &&
		    strncasecmp(text, smtp_commands[i].verb, vlen) == 0)
			cmd = &smtp_commands[i];
	if (cmd == NULL)
		conn_reply(c, "500 5.5.2 command not recognized");
	else if (cmd->need >= NEED_HELO && !c->greeted)
		conn_reply(c, "503 5.5.1 send HELO/EHLO first");
	else if (cmd->need == NEED_MAIL && !c->txn.active)
		conn_reply(c, "503 5.5.1 send MAIL first");
	else
		cmd->fn(c, arg);
}

void
smtp_line_too_long(struct sink_conn *c)
{
	conn_reply(c, "500 5.5.6 line too long");
}
