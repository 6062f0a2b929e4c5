/*
 * dsn: delivery status notifications to the envelope sender (see dsn.h).
 *
 * Owns the wording and layout of the reports Tern generates.  The report
 * is one multipart/report; report-type=delivery-status (RFC 6522) with
 * three parts:
 *
 *   1. text/plain, us-ascii: what happened, one block per recipient,
 *      grouped by action (failed, delayed, delivered, relayed, expanded);
 *   2. message/delivery-status (text/plain with dsn-format plain-text):
 *      the RFC 3464 per-message group, then one group per recipient;
 *   3. the original: text/rfc822-headers, message/rfc822 (RET=FULL), or
 *      text/plain headers (plain-text); absent when there is no original.
 *
 * Wording (PowerMTA does not document its own; these are ours):
 *   Subject: "Delivery Status Notification (Failure)" when any recipient
 *   failed, else "(Delay)" when any is delayed, else "(Success)";
 *   From: "Mail Delivery System <MAILER-DAEMON@host>" unless
 *   custom-dsn-from-header is set.  Status carries the RFC 3463 text as
 *   a comment, as PMTA's dsnStatus does: "5.1.1 (bad destination
 *   mailbox address)".
 *
 * Invariants: every line ends in CRLF and is at most 998 octets; every
 * value that may come from the network goes through dsn_fold_text(),
 * which maps controls (CR and LF included) to spaces and runs of 8-bit
 * octets to one '?', and folds at spaces (78 columns if it can, a hard
 * break at 998 if it must), so no value can start a line of its own.
 * The MIME boundary is "=_tern_<seed>", with "_N" added should the
 * returned original contain it.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "queue/bounce.h"
#include "queue/dsn.h"

#define DSN_LINE_SOFT		78	/* fold before this column if a space allows */
#define DSN_LINE_HARD		998	/* RFC 5322 §2.1.1: never longer */
#define DSN_BOUNDARY_MAX	70	/* RFC 2046 §5.1.1 */
#define DSN_BOUNDARY_TRIES	100
#define DSN_RCPT_INDENT		"      "	/* continuation in part 1 */

static const struct {
	const char	*field;		/* the Action: value */
	const char	*heading;	/* part 1, above the recipients */
} dsn_actions[] = {
	[DSN_FAILED] = { "failed",
	    "Delivery to the following recipients failed permanently:" },
	[DSN_DELAYED] = { "delayed",
	    "Delivery to the following recipients has been delayed.  The mail\r\n"
	    "system will keep trying; you do not need to send the message again:" },
	[DSN_DELIVERED] = { "delivered",
	    "The message was delivered to the following recipients:" },
	[DSN_RELAYED] = { "relayed",
	    "The message was relayed to the following recipients.  Their\r\n"
	    "destination does not send delivery notifications, so this is the\r\n"
	    "last report you will receive for them:" },
	[DSN_EXPANDED] = { "expanded",
	    "The following recipients are aliases or mailing lists; the message\r\n"
	    "was passed on to their members:" },
};

/* Why RET=FULL still returned only the headers. */
enum dsn_cut {
	DSN_CUT_NONE,
	DSN_CUT_SIZE,		/* longer than max_original */
	DSN_CUT_LINES,		/* a body line over 998 octets, or a NUL */
};

/* What the third part carries. */
struct dsn_orig {
	const char	*data;
	size_t		 len;
	bool		 full;		/* the whole message */
	bool		 eightbit;	/* data has octets over 127 */
	enum dsn_cut	 cut;
};

/* Writes folded text; col counts the octets on the current line. */
struct dsn_fold {
	struct buf	*out;
	const char	*indent;	/* starts each continuation line */
	size_t		 col;
};

/* ---- input checks ---------------------------------------------------- */

static bool
dsn_is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

/* Space, controls and DEL separate words; everything else is text. */
static bool
dsn_is_sep(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

static bool
dsn_has_text(const char *s)
{
	if (s == NULL)
		return false;
	for (; *s != '\0'; s++)
		if (!dsn_is_sep((unsigned char)*s))
			return true;
	return false;
}

static bool
dsn_host_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > DSN_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!dsn_is_alnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.')
			return false;
	return true;
}

/* A dot-atom (for the Message-ID) made of boundary-safe characters. */
static bool
dsn_seed_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > DSN_SEED_MAX ||
	    s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' && s[i + 1] == '.')
			return false;
		if (!dsn_is_alnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

/* RFC 3463: class "." subject "." detail; class 2, 4 or 5. */
static bool
dsn_status_ok(const char *s)
{
	size_t n;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return false;
	s++;
	for (int part = 0; part < 2; part++) {
		if (*s++ != '.')
			return false;
		for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
			;
		if (n == 0 || n > 3)
			return false;
		s += n;
	}
	return *s == '\0';
}

static bool
dsn_rcpt_ok(const struct dsn_rcpt *r)
{
	if (!dsn_has_text(r->final_rcpt))
		return false;
	if ((unsigned)r->action > DSN_EXPANDED)
		return false;
	return r->status == NULL || dsn_status_ok(r->status);
}

static bool
dsn_message_ok(const struct dsn_message *m)
{
	if (m == NULL || !dsn_host_ok(m->reporting_mta) ||
	    !dsn_seed_ok(m->boundary_seed) || !dsn_has_text(m->to) ||
	    strcmp(m->to, "<>") == 0)
		return false;
	if (m->rcpts == NULL || m->nrcpts == 0)
		return false;
	if (m->original == NULL && m->original_len != 0)
		return false;
	if (m->ret != DSN_RET_HEADERS && m->ret != DSN_RET_FULL)
		return false;
	for (size_t i = 0; i < m->nrcpts; i++)
		if (!dsn_rcpt_ok(&m->rcpts[i]))
			return false;
	return true;
}

/* ---- folded, sanitised text ------------------------------------------ */

static void
dsn_fold_break(struct dsn_fold *f)
{
	buf_puts(f->out, "\r\n");
	buf_puts(f->out, f->indent);
	f->col = strlen(f->indent);
}

static void
dsn_fold_char(struct dsn_fold *f, char c)
{
	if (f->col >= DSN_LINE_HARD)
		dsn_fold_break(f);
	buf_append(f->out, &c, 1);
	f->col++;
}

/* Trusted text (no line breaks), subject to the hard limit only. */
static void
dsn_fold_lit(struct dsn_fold *f, const char *s)
{
	for (; *s != '\0'; s++)
		dsn_fold_char(f, *s);
}

/* The output length of the word at s; *raw_r gets its input length. */
static size_t
dsn_word_len(const unsigned char *s, size_t *raw_r)
{
	size_t i, n = 0;

	for (i = 0; s[i] != '\0' && !dsn_is_sep(s[i]); i++)
		if (s[i] < 0x80 || i == 0 || s[i - 1] < 0x80)
			n++;
	*raw_r = i;
	return n;
}

static void
dsn_fold_word(struct dsn_fold *f, const unsigned char *s, size_t raw)
{
	for (size_t i = 0; i < raw; i++) {
		if (s[i] < 0x80)
			dsn_fold_char(f, (char)s[i]);
		else if (i == 0 || s[i - 1] < 0x80)
			dsn_fold_char(f, '?');
	}
}

/*
 * Untrusted text: words separated by single spaces, where a line break
 * (CRLF + indent) may stand for the space.
 */
static void
dsn_fold_text(struct dsn_fold *f, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t raw, n, base = strlen(f->indent);
	bool first = true;

	for (;;) {
		while (*s != '\0' && dsn_is_sep(*s))
			s++;
		if (*s == '\0')
			break;
		n = dsn_word_len(s, &raw);
		if (!first && f->col > base && f->col + 1 + n > DSN_LINE_SOFT)
			dsn_fold_break(f);
		else if (!first)
			dsn_fold_char(f, ' ');
		dsn_fold_word(f, s, raw);
		first = false;
		s += raw;
	}
}

/* "name: " pre + text post CRLF, the text folded as a header field. */
static void
dsn_field(struct buf *out, const char *name, const char *pre,
    const char *text, const char *post)
{
	struct dsn_fold f = { out, " ", 0 };

	dsn_fold_lit(&f, name);
	dsn_fold_lit(&f, ": ");
	dsn_fold_lit(&f, pre);
	dsn_fold_text(&f, text);
	dsn_fold_lit(&f, post);
	buf_puts(out, "\r\n");
}

/* Whether s starts with "type;" (an address or diagnostic type). */
static bool
dsn_has_type(const char *s)
{
	size_t i;

	while (*s != '\0' && dsn_is_sep((unsigned char)*s))
		s++;
	for (i = 0; dsn_is_alnum((unsigned char)s[i]) || s[i] == '-'; i++)
		;
	return i > 0 && s[i] == ';';
}

/* ---- dates and codes ------------------------------------------------- */

/* RFC 5322 date-time in UTC: "Tue, 14 Nov 2023 22:13:20 +0000". */
static void
dsn_put_date(struct buf *out, time_t t)
{
	static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed",
	    "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	long long days = (long long)t / 86400, sod = (long long)t % 86400;
	long long z, era, doe, yoe, doy, mp, y, m, d;

	if (sod < 0) {
		sod += 86400;
		days--;
	}
	/* Days since 1970-01-01 to the civil date (H. Hinnant). */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	buf_printf(out, "%s, %lld %s %04lld %02lld:%02lld:%02lld +0000",
	    wday[((days % 7) + 11) % 7], d, mon[m - 1], y, sod / 3600,
	    sod / 60 % 60, sod % 60);
}

static void
dsn_date_field(struct buf *out, const char *name, time_t t)
{
	buf_puts(out, name);
	buf_puts(out, ": ");
	dsn_put_date(out, t);
	buf_puts(out, "\r\n");
}

static const char *
dsn_status_code(const struct dsn_rcpt *r)
{
	if (r->status != NULL)
		return r->status;
	if (r->action == DSN_FAILED)
		return "5.0.0";
	return r->action == DSN_DELAYED ? "4.0.0" : "2.0.0";
}

/* The most serious action in the report: it picks the wording. */
static enum dsn_action
dsn_summary(const struct dsn_message *m)
{
	enum dsn_action a = DSN_EXPANDED;

	for (size_t i = 0; i < m->nrcpts; i++)
		if (m->rcpts[i].action < a)
			a = m->rcpts[i].action;
	return a;
}

/* ---- the returned original ------------------------------------------- */

/* The length of the header section, without the empty line ending it. */
static size_t
dsn_header_len(const char *p, size_t len)
{
	size_t i = 0, e;

	while (i < len) {
		for (e = i; e < len && p[e] != '\r' && p[e] != '\n'; e++)
			;
		if (e == i)
			return i;
		if (e + 1 < len && p[e] == '\r' && p[e + 1] == '\n')
			e++;
		i = e + 1;
	}
	return len;
}

/* Whole lines of p[0..len) within max octets (max 0 = no cap). */
static size_t
dsn_cap_lines(const char *p, size_t len, size_t max)
{
	if (max == 0 || len <= max)
		return len;
	while (max > 0 && p[max - 1] != '\n')
		max--;
	return max;
}

/* Whether p can go out as it is: no line over 998 octets, no NUL. */
static bool
dsn_lines_fit(const char *p, size_t len)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\0')
			return false;
		if (p[i] == '\r' || p[i] == '\n')
			col = 0;
		else if (++col > DSN_LINE_HARD)
			return false;
	}
	return true;
}

static bool
dsn_has_8bit(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] > 0x7f)
			return true;
	return false;
}

static void
dsn_choose_original(const struct dsn_message *m, struct dsn_orig *o)
{
	bool want_full = m->ret == DSN_RET_FULL && !m->plain_text &&
	    dsn_summary(m) == DSN_FAILED;

	memset(o, 0, sizeof(*o));
	o->data = m->original;
	if (m->original == NULL)
		return;
	if (want_full && m->max_original != 0 &&
	    m->original_len > m->max_original)
		o->cut = DSN_CUT_SIZE;
	else if (want_full && !dsn_lines_fit(m->original, m->original_len))
		o->cut = DSN_CUT_LINES;
	o->full = want_full && o->cut == DSN_CUT_NONE;
	o->len = m->original_len;
	if (!o->full) {
		o->len = dsn_header_len(m->original, m->original_len);
		o->len = dsn_cap_lines(m->original, o->len, m->max_original);
	}
	o->eightbit = dsn_has_8bit(o->data, o->len);
}

static bool
dsn_contains(const char *hay, size_t hlen, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; n <= hlen && i <= hlen - n; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

/* A boundary that the returned original does not contain. */
static int
dsn_boundary(const char *seed, const struct dsn_orig *o, char *dst,
    size_t size)
{
	char delim[DSN_BOUNDARY_MAX + 3];

	for (int i = 0; i < DSN_BOUNDARY_TRIES; i++) {
		if (i == 0)
			snprintf(dst, size, "=_tern_%s", seed);
		else
			snprintf(dst, size, "=_tern_%s_%d", seed, i);
		snprintf(delim, sizeof(delim), "--%s", dst);
		if (o->data == NULL || !dsn_contains(o->data, o->len, delim))
			return 0;
	}
	return -1;
}

/*
 * One line of the original.  A header line over 998 octets is folded
 * (CRLF and a space inserted) and a NUL in a header becomes a space; the
 * whole message is only returned when it needs neither.
 */
static void
dsn_put_line(struct buf *out, const char *p, size_t n, bool full)
{
	size_t col = 0;

	if (full) {
		buf_append(out, p, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = p[i] == '\0' ? ' ' : p[i];
		if (col == DSN_LINE_HARD) {
			buf_puts(out, "\r\n ");
			col = 1;
		}
		buf_append(out, &c, 1);
		col++;
	}
}

/* The original with every line end (CRLF, LF or CR) written as CRLF. */
static void
dsn_put_original(struct buf *out, const struct dsn_orig *o)
{
	const char *p = o->data;
	size_t i = 0, e;

	while (i < o->len) {
		for (e = i; e < o->len && p[e] != '\r' && p[e] != '\n'; e++)
			;
		dsn_put_line(out, p + i, e - i, o->full);
		buf_puts(out, "\r\n");
		if (e + 1 < o->len && p[e] == '\r' && p[e + 1] == '\n')
			e++;
		i = e + 1;
	}
}

/* ---- the parts ------------------------------------------------------- */

static void
dsn_put_from(struct buf *out, const struct dsn_message *m)
{
	if (dsn_has_text(m->from_header)) {
		dsn_field(out, "From", "", m->from_header, "");
		return;
	}
	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    m->reporting_mta);
}

static void
dsn_put_headers(struct buf *out, const struct dsn_message *m,
    const char *bnd, bool eightbit)
{
	static const char *const subject[] = {
		[DSN_FAILED] = "Failure", [DSN_DELAYED] = "Delay",
		[DSN_DELIVERED] = "Success", [DSN_RELAYED] = "Success",
		[DSN_EXPANDED] = "Success",
	};

	dsn_put_from(out, m);
	if (m->to[0] == '<' && m->to[strlen(m->to) - 1] == '>')
		dsn_field(out, "To", "", m->to, "");
	else
		dsn_field(out, "To", "<", m->to, ">");
	buf_printf(out, "Subject: Delivery Status Notification (%s)\r\n",
	    subject[dsn_summary(m)]);
	dsn_date_field(out, "Date", m->now);
	buf_printf(out, "Message-ID: <%s@%s>\r\n", m->boundary_seed,
	    m->reporting_mta);
	buf_puts(out, "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n");
	buf_printf(out, "\tboundary=\"%s\"\r\n", bnd);
	if (eightbit)
		buf_puts(out, "Content-Transfer-Encoding: 8bit\r\n");
	buf_puts(out, "\r\nThis is a MIME-encapsulated message.\r\n");
}

/* "    Label: text" in part 1, folded under the label. */
static void
dsn_note(struct buf *out, const char *label, const char *pre,
    const char *text)
{
	struct dsn_fold f = { out, DSN_RCPT_INDENT, 0 };

	dsn_fold_lit(&f, "    ");
	dsn_fold_lit(&f, label);
	dsn_fold_lit(&f, ": ");
	dsn_fold_lit(&f, pre);
	dsn_fold_text(&f, text);
	buf_puts(out, "\r\n");
}

static void
dsn_note_date(struct buf *out, const char *label, time_t t)
{
	buf_printf(out, "    %s: ", label);
	dsn_put_date(out, t);
	buf_puts(out, "\r\n");
}

static void
dsn_put_rcpt_text(struct buf *out, const struct dsn_rcpt *r)
{
	struct dsn_fold f = { out, DSN_RCPT_INDENT, 0 };
	char status[128];

	dsn_fold_lit(&f, "  <");
	dsn_fold_text(&f, r->final_rcpt);
	dsn_fold_lit(&f, ">");
	buf_puts(out, "\r\n");
	if (dsn_has_text(r->orcpt))
		dsn_note(out, "Original recipient", "", r->orcpt);
	if (dsn_has_text(r->remote_mta))
		dsn_note(out, "Remote host", "", r->remote_mta);
	bounce_dsn_status(dsn_status_code(r), status, sizeof(status));
	buf_printf(out, "    Status: %s\r\n", status);
	if (dsn_has_text(r->diagnostic))
		dsn_note(out, "Diagnostic", "", r->diagnostic);
	if (r->last_attempt != 0)
		dsn_note_date(out, "Last attempt", r->last_attempt);
	if (r->action == DSN_DELAYED && r->will_retry_until != 0)
		dsn_note_date(out, "Will retry until", r->will_retry_until);
}

static void
dsn_put_intro(struct buf *out, const struct dsn_message *m)
{
	static const char *const intro[] = {
		[DSN_FAILED] = "Your message could not be delivered to one or "
		    "more recipients.\r\n",
		[DSN_DELAYED] = "Your message has not yet been delivered to one "
		    "or more recipients.\r\n",
		[DSN_DELIVERED] = "This is the delivery report you asked for.\r\n",
		[DSN_RELAYED] = "This is the delivery report you asked for.\r\n",
		[DSN_EXPANDED] = "This is the delivery report you asked for.\r\n",
	};

	buf_printf(out, "This is the mail system at host %s.\r\n\r\n",
	    m->reporting_mta);
	buf_puts(out, intro[dsn_summary(m)]);
	if (m->arrival != 0) {
		buf_puts(out, "The message was received on ");
		dsn_put_date(out, m->arrival);
		buf_puts(out, ".\r\n");
	}
	if (dsn_has_text(m->envid))
		dsn_field(out, "Envelope id", "", m->envid, "");
	buf_puts(out, "\r\n");
}

static void
dsn_put_outro(struct buf *out, const struct dsn_orig *o)
{
	if (o->data == NULL)
		return;
	if (o->full)
		buf_puts(out, "The original message is attached.\r\n");
	else if (o->cut == DSN_CUT_SIZE)
		buf_puts(out, "The original message is too large to return in "
		    "full; its headers are attached.\r\n");
	else if (o->cut == DSN_CUT_LINES)
		buf_puts(out, "The original message cannot be returned in "
		    "full; its headers are attached.\r\n");
	else
		buf_puts(out, "The headers of the original message are "
		    "attached.\r\n");
}

static void
dsn_put_notification(struct buf *out, const struct dsn_message *m,
    const struct dsn_orig *o, const char *bnd)
{
	buf_printf(out, "\r\n--%s\r\n", bnd);
	buf_puts(out, "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Description: Notification\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n");
	dsn_put_intro(out, m);
	for (unsigned a = DSN_FAILED; a <= DSN_EXPANDED; a++) {
		bool any = false;
		for (size_t i = 0; i < m->nrcpts; i++) {
			if (m->rcpts[i].action != a)
				continue;
			if (!any)
				buf_printf(out, "%s\r\n\r\n", dsn_actions[a].heading);
			any = true;
			dsn_put_rcpt_text(out, &m->rcpts[i]);
			buf_puts(out, "\r\n");
		}
	}
	dsn_put_outro(out, o);
}

static void
dsn_put_rcpt_fields(struct buf *out, const struct dsn_rcpt *r)
{
	char status[128];

	if (dsn_has_text(r->orcpt))
		dsn_field(out, "Original-Recipient",
		    dsn_has_type(r->orcpt) ? "" : "rfc822;", r->orcpt, "");
	dsn_field(out, "Final-Recipient", "rfc822;", r->final_rcpt, "");
	buf_printf(out, "Action: %s\r\n", dsn_actions[r->action].field);
	bounce_dsn_status(dsn_status_code(r), status, sizeof(status));
	buf_printf(out, "Status: %s\r\n", status);
	if (dsn_has_text(r->remote_mta))
		dsn_field(out, "Remote-MTA",
		    dsn_has_type(r->remote_mta) ? "" : "dns; ",
		    r->remote_mta, "");
	if (dsn_has_text(r->diagnostic))
		dsn_field(out, "Diagnostic-Code",
		    dsn_has_type(r->diagnostic) ? "" : "smtp;",
		    r->diagnostic, "");
	if (r->last_attempt != 0)
		dsn_date_field(out, "Last-Attempt-Date", r->last_attempt);
	if (r->action == DSN_DELAYED && r->will_retry_until != 0)
		dsn_date_field(out, "Will-Retry-Until", r->will_retry_until);
}

static void
dsn_put_report(struct buf *out, const struct dsn_message *m,
    const char *bnd)
{
	buf_printf(out, "\r\n--%s\r\n", bnd);
	buf_puts(out, m->plain_text ?
	    "Content-Type: text/plain; charset=us-ascii\r\n" :
	    "Content-Type: message/delivery-status\r\n");
	buf_puts(out, "Content-Description: Delivery report\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n");
	buf_printf(out, "Reporting-MTA: dns; %s\r\n", m->reporting_mta);
	if (dsn_has_text(m->envid))
		dsn_field(out, "Original-Envelope-Id", "", m->envid, "");
	if (m->arrival != 0)
		dsn_date_field(out, "Arrival-Date", m->arrival);
	for (size_t i = 0; i < m->nrcpts; i++) {
		buf_puts(out, "\r\n");
		dsn_put_rcpt_fields(out, &m->rcpts[i]);
	}
}

static void
dsn_put_returned(struct buf *out, const struct dsn_message *m,
    const struct dsn_orig *o, const char *bnd)
{
	buf_printf(out, "\r\n--%s\r\n", bnd);
	if (m->plain_text)
		buf_printf(out, "Content-Type: text/plain; charset=%s\r\n",
		    o->eightbit ? "utf-8" : "us-ascii");
	else
		buf_puts(out, o->full ? "Content-Type: message/rfc822\r\n" :
		    "Content-Type: text/rfc822-headers\r\n");
	buf_puts(out, o->full ? "Content-Description: Original message\r\n" :
	    "Content-Description: Original message headers\r\n");
	buf_puts(out, o->eightbit ? "Content-Transfer-Encoding: 8bit\r\n\r\n" :
	    "Content-Transfer-Encoding: 7bit\r\n\r\n");
	dsn_put_original(out, o);
}

/* ---- entry points ---------------------------------------------------- */

int
dsn_compose(const struct dsn_message *m, struct buf *out)
{
	struct dsn_orig o;
	char bnd[DSN_BOUNDARY_MAX + 1];

	if (out == NULL || !dsn_message_ok(m))
		return -1;
	dsn_choose_original(m, &o);
	if (dsn_boundary(m->boundary_seed, &o, bnd, sizeof(bnd)) == -1)
		return -1;
	dsn_put_headers(out, m, bnd, o.eightbit);
	dsn_put_notification(out, m, &o, bnd);
	dsn_put_report(out, m, bnd);
	if (o.data != NULL)
		dsn_put_returned(out, m, &o, bnd);
	buf_printf(out, "\r\n--%s--\r\n", bnd);
	return out->err ? -1 : 0;
}

bool
dsn_wanted(const char *envelope_sender, unsigned notify_flags,
    enum dsn_action action)
{
	if (envelope_sender == NULL || envelope_sender[0] == '\0' ||
	    strcmp(envelope_sender, "<>") == 0)
		return false;
	if (notify_flags & DSN_NOTIFY_NEVER)
		return false;
	if (notify_flags == DSN_NOTIFY_DEFAULT)
		return action == DSN_FAILED;
	switch (action) {
	case DSN_FAILED:
		return (notify_flags & DSN_NOTIFY_FAILURE) != 0;
	case DSN_DELAYED:
		return (notify_flags & DSN_NOTIFY_DELAY) != 0;
	case DSN_DELIVERED:
	case DSN_RELAYED:
	case DSN_EXPANDED:
		return (notify_flags & DSN_NOTIFY_SUCCESS) != 0;
	}
	return false;
}
