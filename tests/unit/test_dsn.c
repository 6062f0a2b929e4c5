/*
 * Unit tests for queue/dsn: every action, RET headers / full / over the
 * cap, plain-text reports, ENVID and ORCPT, header injection, folding of
 * long and 8-bit diagnostics, invalid input, overflow of the output
 * buffer, boundary collisions, dates, and the dsn_wanted() matrix.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "queue/dsn.h"
#include "tap.h"

#define T_NOW		1700000000	/* Tue, 14 Nov 2023 22:13:20 +0000 */
#define T_MAX		(1024 * 1024)

static const char t_original[] =
    "From: Sender <sender@origin.test>\r\n"
    "To: bob@dest.test\r\n"
    "Subject: Hello there\r\n"
    "\r\n"
    "BODY-MARKER\r\n";

static const struct dsn_rcpt t_failed = {
	.final_rcpt = "bob@dest.test", .action = DSN_FAILED,
	.status = "5.1.1", .remote_mta = "mx.dest.test",
	.diagnostic = "smtp;550 5.1.1 user unknown",
	.last_attempt = T_NOW - 60,
};

static void
t_base(struct dsn_message *m, const struct dsn_rcpt *r, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->reporting_mta = "mta.tern.test";
	m->to = "sender@origin.test";
	m->now = T_NOW;
	m->boundary_seed = "seed1";
	m->rcpts = r;
	m->nrcpts = n;
	m->original = t_original;
	m->original_len = sizeof(t_original) - 1;
	m->max_original = 10 * 1024 * 1024;
}

static int
t_compose(const struct dsn_message *m, struct buf *b)
{
	buf_reset(b);
	return dsn_compose(m, b);
}

static bool
has(const struct buf *b, const char *s)
{
	return strstr(buf_str(b), s) != NULL;
}

/* Whether some line starts with prefix. */
static bool
has_line(const struct buf *b, const char *prefix)
{
	const char *s = buf_str(b);
	size_t n = strlen(prefix);

	for (;;) {
		if (strncmp(s, prefix, n) == 0)
			return true;
		if ((s = strstr(s, "\r\n")) == NULL)
			return false;
		s += 2;
	}
}

/* CRLF only, lines <= 998 octets, 7-bit, ends with CRLF. */
static bool
well_formed(const struct buf *b)
{
	size_t col = 0;

	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n')
				return false;
			col = 0;
			i++;
		} else if (c == '\n' || c > 0x7f || c == '\0') {
			return false;
		} else if (++col > 998) {
			return false;
		}
	}
	return b->len >= 2 && b->data[b->len - 1] == '\n';
}

/* The value of the first "name: " field, unfolded, into dst. */
static const char *
field(const struct buf *b, const char *name, char *dst, size_t size)
{
	const char *s = buf_str(b), *p;
	size_t n = 0, len = strlen(name);

	dst[0] = '\0';
	for (p = s; (p = strstr(p, name)) != NULL; p++)
		if ((p == s || p[-1] == '\n') && p[len] == ':' && p[len + 1] == ' ')
			break;
	if (p == NULL)
		return dst;
	for (p += len + 2; *p != '\0' && n + 1 < size; p++) {
		if (p[0] == '\r' && p[1] == '\n') {
			if (p[2] != ' ' && p[2] != '\t')
				break;
			p++;
			continue;
		}
		dst[n++] = *p;
	}
	dst[n] = '\0';
	return dst;
}

static size_t
count(const struct buf *b, const char *s)
{
	size_t n = 0;

	for (const char *p = buf_str(b); (p = strstr(p, s)) != NULL; p++)
		n++;
	return n;
}

static void
test_failure(struct buf *b)
{
	struct dsn_message m;
	char v[256];

	t_base(&m, &t_failed, 1);
	is_int(t_compose(&m, b), 0, "failure report composes");
	ok(well_formed(b), "CRLF lines of at most 998 octets, 7-bit");
	ok(has_line(b, "From: Mail Delivery System <MAILER-DAEMON@mta.tern.test>\r\n"),
	    "default From names MAILER-DAEMON at the reporting MTA");
	ok(has_line(b, "To: <sender@origin.test>\r\n"), "To is the envelope sender");
	ok(has_line(b, "Subject: Delivery Status Notification (Failure)\r\n"),
	    "failure subject");
	ok(has_line(b, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"),
	    "Date from m->now in RFC 5322 form");
	ok(has_line(b, "Message-ID: <seed1@mta.tern.test>\r\n"),
	    "Message-ID from the seed");
	ok(has_line(b, "Auto-Submitted: auto-replied\r\n"), "Auto-Submitted");
	ok(has_line(b, "MIME-Version: 1.0\r\n"), "MIME-Version");
	ok(has(b, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"=_tern_seed1\"\r\n"), "multipart/report with boundary");
	is_int((long long)count(b, "\r\n--=_tern_seed1\r\n"), 3, "three parts");
	ok(b->len > 20 && strcmp(b->data + b->len - 20, "\r\n--=_tern_seed1--\r\n") == 0,
	    "closing delimiter ends the report");
	ok(has(b, "Content-Type: message/delivery-status\r\n"), "status part type");
	ok(has_line(b, "Reporting-MTA: dns; mta.tern.test\r\n"), "Reporting-MTA");
	ok(has_line(b, "Final-Recipient: rfc822;bob@dest.test\r\n"), "Final-Recipient");
	ok(has_line(b, "Action: failed\r\n"), "Action: failed");
	is_str(field(b, "Status", v, sizeof(v)),
	    "5.1.1 (bad destination mailbox address)", "Status with RFC 3463 text");
	ok(has_line(b, "Remote-MTA: dns; mx.dest.test\r\n"), "Remote-MTA");
	is_str(field(b, "Diagnostic-Code", v, sizeof(v)),
	    "smtp;550 5.1.1 user unknown", "Diagnostic-Code");
	ok(has_line(b, "Last-Attempt-Date: Tue, 14 Nov 2023 22:12:20 +0000\r\n"),
	    "Last-Attempt-Date");
	ok(!has_line(b, "Will-Retry-Until:"), "no Will-Retry-Until for failures");
	ok(!has_line(b, "Arrival-Date:"), "no Arrival-Date when arrival is 0");
	ok(!has_line(b, "Original-Envelope-Id:"), "no Original-Envelope-Id without ENVID");
	ok(!has_line(b, "Original-Recipient:"), "no Original-Recipient without ORCPT");
	ok(has(b, "Delivery to the following recipients failed permanently:\r\n\r\n"
	    "  <bob@dest.test>\r\n"), "human part lists the recipient");
	ok(has(b, "    Diagnostic: smtp;550 5.1.1 user unknown\r\n"),
	    "human part gives the diagnostic");
	ok(has(b, "Content-Type: text/rfc822-headers\r\n"), "RET=HDRS: text/rfc822-headers");
	ok(has(b, "Subject: Hello there\r\n") && !has(b, "BODY-MARKER"),
	    "RET=HDRS: headers returned, body not");
}

static void
test_envid_orcpt(struct buf *b)
{
	struct dsn_rcpt r[2] = { t_failed, t_failed };
	struct dsn_message m;

	r[0].orcpt = "rfc822;Bob@Dest.test";
	r[1].orcpt = "carol@dest.test";		/* no type: rfc822 assumed */
	r[1].final_rcpt = "carol@dest.test";
	t_base(&m, r, 2);
	m.envid = "ENV-42";
	m.arrival = T_NOW - 3600;
	is_int(t_compose(&m, b), 0, "ENVID/ORCPT report composes");
	ok(has_line(b, "Original-Envelope-Id: ENV-42\r\n"), "Original-Envelope-Id carried");
	ok(has_line(b, "Arrival-Date: Tue, 14 Nov 2023 21:13:20 +0000\r\n"), "Arrival-Date");
	ok(has(b, "Original-Recipient: rfc822;Bob@Dest.test\r\n"
	    "Final-Recipient: rfc822;bob@dest.test\r\n"), "ORCPT kept verbatim, case too");
	ok(has_line(b, "Original-Recipient: rfc822;carol@dest.test\r\n"),
	    "ORCPT without a type gets rfc822;");
	ok(has(b, "Arrival-Date: Tue, 14 Nov 2023 21:13:20 +0000\r\n\r\n"
	    "Original-Recipient:"), "per-message group, empty line, recipient group");
	ok(has(b, "Last-Attempt-Date: Tue, 14 Nov 2023 22:12:20 +0000\r\n\r\n"
	    "Original-Recipient: rfc822;carol"), "recipient groups separated by an empty line");
	ok(has(b, "Envelope id: ENV-42\r\n"), "human part shows the envelope id");
	ok(has(b, "    Original recipient: rfc822;Bob@Dest.test\r\n"),
	    "human part shows the original recipient");
}

static void
test_ret(struct buf *b)
{
	struct dsn_message m;

	t_base(&m, &t_failed, 1);
	m.ret = DSN_RET_FULL;
	is_int(t_compose(&m, b), 0, "RET=FULL composes");
	ok(has(b, "Content-Type: message/rfc822\r\n") && has(b, "BODY-MARKER\r\n"),
	    "RET=FULL within the cap: the whole message");
	ok(has(b, "\r\n\r\nBODY-MARKER\r\n\r\n--=_tern_seed1--\r\n"),
	    "the original ends right before the closing delimiter");
	ok(has(b, "The original message is attached.\r\n"), "human part says so");
	m.max_original = 60;
	is_int(t_compose(&m, b), 0, "RET=FULL over the cap composes");
	ok(has(b, "Content-Type: text/rfc822-headers\r\n") && !has(b, "BODY-MARKER"),
	    "over the cap: headers only");
	ok(has(b, "too large to return in full"), "human part says it is too large");
	ok(has(b, "To: bob@dest.test\r\n") && !has(b, "Subject: Hello there"),
	    "the headers themselves are cut at a line within the cap");
	m.max_original = 0;
	is_int(t_compose(&m, b), 0, "max_original 0 composes");
	ok(has(b, "BODY-MARKER"), "max_original 0 means no cap");
	m.ret = DSN_RET_HEADERS;
	is_int(t_compose(&m, b), 0, "RET=HDRS composes");
	ok(!has(b, "BODY-MARKER") && has(b, "The headers of the original message are attached."),
	    "RET=HDRS: headers only");
}

static void
test_ret_odd_originals(struct buf *b)
{
	static char longbody[2200];
	static const char lf[] = "From: a@b.test\nSubject: lf\n\nbody\nmore";
	struct dsn_message m;

	snprintf(longbody, sizeof(longbody), "Subject: long\r\n\r\n");
	memset(longbody + strlen(longbody), 'y', 1500);
	t_base(&m, &t_failed, 1);
	m.ret = DSN_RET_FULL;
	m.original = longbody;
	m.original_len = strlen(longbody);
	is_int(t_compose(&m, b), 0, "a body line over 998 octets composes");
	ok(well_formed(b) && has(b, "text/rfc822-headers") && !has(b, "yyyy"),
	    "it returns the headers only");
	ok(has(b, "cannot be returned in full"), "and says why");
	m.original = lf;
	m.original_len = strlen(lf);
	is_int(t_compose(&m, b), 0, "bare-LF original composes");
	ok(well_formed(b) && has(b, "Subject: lf\r\n\r\nbody\r\nmore\r\n\r\n--"),
	    "bare LF line ends become CRLF, a last line gets one");
	memset(longbody, 'h', 1500);
	memcpy(longbody, "X-Long: ", 8);
	memcpy(longbody + 1500, "\r\n\r\nbody\r\n", 11);
	m.original = longbody;
	m.original_len = strlen(longbody);
	m.ret = DSN_RET_HEADERS;
	is_int(t_compose(&m, b), 0, "a header line over 998 octets composes");
	ok(well_formed(b) && has(b, "X-Long: hhh") && has(b, "hhh\r\n hhh"),
	    "the long header line is folded");
}

static void
test_plain_text(struct buf *b)
{
	struct dsn_message m;

	t_base(&m, &t_failed, 1);
	m.plain_text = true;
	m.ret = DSN_RET_FULL;
	is_int(t_compose(&m, b), 0, "plain-text report composes");
	ok(well_formed(b), "plain-text report is well formed");
	ok(!has(b, "message/delivery-status"), "no message/delivery-status part");
	ok(has(b, "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Description: Delivery report\r\n"), "status part is text/plain");
	ok(has_line(b, "Action: failed\r\n") && has_line(b, "Final-Recipient: rfc822;bob@dest.test\r\n"),
	    "the status fields are still there");
	ok(!has(b, "message/rfc822") && !has(b, "text/rfc822-headers") && !has(b, "BODY-MARKER"),
	    "plain-text overrides RET=FULL: no attachment, no body");
	ok(has(b, "Content-Description: Original message headers\r\n") &&
	    has(b, "Subject: Hello there\r\n"), "headers returned as text/plain");
	is_int((long long)count(b, "Content-Type: text/plain"), 3, "all three parts are text/plain");
}

static void
test_actions(struct buf *b)
{
	static const struct {
		enum dsn_action a;
		const char *action, *status, *subject, *heading;
	} c[] = {
		{ DSN_DELAYED, "delayed", "4.0.0 (undefined status)", "Delay",
		    "Delivery to the following recipients has been delayed." },
		{ DSN_DELIVERED, "delivered", "2.0.0 (success)", "Success",
		    "The message was delivered to the following recipients:" },
		{ DSN_RELAYED, "relayed", "2.0.0 (success)", "Success",
		    "The message was relayed to the following recipients." },
		{ DSN_EXPANDED, "expanded", "2.0.0 (success)", "Success",
		    "The following recipients are aliases or mailing lists;" },
	};
	struct dsn_rcpt r = t_failed;
	struct dsn_message m;
	char want[128], v[128];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		r.action = c[i].a;
		r.status = NULL;
		r.will_retry_until = T_NOW + 86400;
		t_base(&m, &r, 1);
		m.ret = DSN_RET_FULL;
		is_int(t_compose(&m, b), 0, "%s report composes", c[i].action);
		snprintf(want, sizeof(want), "Action: %s\r\n", c[i].action);
		ok(has_line(b, want), "Action: %s", c[i].action);
		is_str(field(b, "Status", v, sizeof(v)), c[i].status,
		    "%s: default status", c[i].action);
		snprintf(want, sizeof(want),
		    "Subject: Delivery Status Notification (%s)\r\n", c[i].subject);
		ok(has_line(b, want), "%s: subject (%s)", c[i].action, c[i].subject);
		ok(has(b, c[i].heading), "%s: human heading", c[i].action);
		ok(has_line(b, "Will-Retry-Until: Wed, 15 Nov 2023 22:13:20 +0000\r\n") ==
		    (c[i].a == DSN_DELAYED), "%s: Will-Retry-Until only when delayed",
		    c[i].action);
		ok(!has(b, "BODY-MARKER"), "%s: no failure, so RET=FULL returns headers",
		    c[i].action);
	}
	r.action = DSN_DELAYED;
	r.will_retry_until = 0;
	t_base(&m, &r, 1);
	is_int(t_compose(&m, b), 0, "delayed without a retry limit composes");
	ok(!has_line(b, "Will-Retry-Until:"), "no Will-Retry-Until when 0");
}

static void
test_mixed(struct buf *b)
{
	struct dsn_rcpt r[3] = { t_failed, t_failed, t_failed };
	struct dsn_message m;
	const char *s, *fail, *delay;

	r[0].action = DSN_DELAYED;
	r[0].final_rcpt = "late@dest.test";
	r[0].status = "4.4.7";
	r[1].final_rcpt = "gone@dest.test";
	r[2].action = DSN_DELIVERED;
	r[2].final_rcpt = "fine@dest.test";
	r[2].status = "2.0.0";
	t_base(&m, r, 3);
	is_int(t_compose(&m, b), 0, "mixed report composes");
	ok(has_line(b, "Subject: Delivery Status Notification (Failure)\r\n"),
	    "any failure makes it a failure report");
	s = buf_str(b);
	fail = strstr(s, "failed permanently:");
	delay = strstr(s, "has been delayed.");
	ok(fail != NULL && delay != NULL && fail < delay &&
	    strstr(fail, "<gone@dest.test>") < delay,
	    "human part: failures first, then delays");
	ok(strstr(s, "Final-Recipient: rfc822;late@dest.test") <
	    strstr(s, "Final-Recipient: rfc822;gone@dest.test"),
	    "status part keeps the input order");
	ok(has(b, "Status: 4.4.7 (delivery time expired)\r\n"), "4.4.7 text");
	is_int((long long)count(b, "\r\nAction: "), 3, "one group per recipient");
}

static void
test_injection(struct buf *b)
{
	struct dsn_rcpt r = t_failed;
	struct dsn_message m;
	char v[256];

	r.final_rcpt = "bob@dest.test\r\nX-Inj-Rcpt: 1";
	r.orcpt = "rfc822;bob@dest.test\nX-Inj-Orcpt: 1";
	r.remote_mta = "mx.dest.test\rX-Inj-Mta: 1";
	r.diagnostic = "smtp;550 no\r\nBcc: evil@x.test\r\n\r\nbody";
	t_base(&m, &r, 1);
	m.to = "sender@origin.test\r\nBcc: victim@x.test";
	m.from_header = "Postmaster <pm@tern.test>\r\nX-Inj-From: 1";
	m.envid = "E1\r\nX-Inj-Envid: 1";
	is_int(t_compose(&m, b), 0, "hostile input composes");
	ok(well_formed(b), "hostile report is well formed");
	ok(!has_line(b, "Bcc:"), "no Bcc line from the diagnostic or To");
	ok(!has_line(b, "X-Inj-"), "no injected header line anywhere");
	ok(!has(b, "\r\n\r\nbody"), "no empty line injected by the diagnostic");
	is_str(field(b, "Diagnostic-Code", v, sizeof(v)),
	    "smtp;550 no Bcc: evil@x.test body", "CR/LF in the diagnostic become spaces");
	is_str(field(b, "To", v, sizeof(v)), "<sender@origin.test Bcc: victim@x.test>",
	    "CR/LF in the sender become spaces");
	is_str(field(b, "From", v, sizeof(v)), "Postmaster <pm@tern.test> X-Inj-From: 1",
	    "custom From sanitised");
	is_str(field(b, "Final-Recipient", v, sizeof(v)),
	    "rfc822;bob@dest.test X-Inj-Rcpt: 1", "recipient sanitised");
	is_str(field(b, "Original-Envelope-Id", v, sizeof(v)), "E1 X-Inj-Envid: 1",
	    "ENVID sanitised");
	is_str(field(b, "Remote-MTA", v, sizeof(v)), "dns; mx.dest.test X-Inj-Mta: 1",
	    "bare CR in the remote MTA becomes a space");
}

static void
test_folding(struct buf *b)
{
	static char diag[8000], want[8000], got[8000];
	struct dsn_rcpt r = t_failed;
	struct dsn_message m;
	size_t n = 0;

	n += (size_t)snprintf(diag, sizeof(diag), "smtp;550");
	for (int i = 0; i < 600; i++)
		n += (size_t)snprintf(diag + n, sizeof(diag) - n, " w%d", i);
	snprintf(want, sizeof(want), "%s", diag);
	r.diagnostic = diag;
	t_base(&m, &r, 1);
	is_int(t_compose(&m, b), 0, "long diagnostic composes");
	ok(well_formed(b), "long diagnostic: lines within 998 octets");
	is_str(field(b, "Diagnostic-Code", got, sizeof(got)), want,
	    "long diagnostic unfolds to the original text");
	ok(has(b, "\r\n w"), "folded with a space continuation");
	memset(diag, 'z', 3000);
	diag[3000] = '\0';
	is_int(t_compose(&m, b), 0, "3000-octet word composes");
	ok(well_formed(b), "a word longer than a line is broken at 998 octets");
	snprintf(diag, sizeof(diag), "smtp;550 caf\xc3\xa9 \xff\xfe x\tq\x01\x7f" "end");
	is_int(t_compose(&m, b), 0, "8-bit diagnostic composes");
	ok(well_formed(b), "8-bit diagnostic: report stays 7-bit");
	is_str(field(b, "Diagnostic-Code", got, sizeof(got)), "smtp;550 caf? ? x q end",
	    "8-bit runs become '?', controls become spaces");
	r.diagnostic = "550 no type given";
	is_int(t_compose(&m, b), 0, "untyped diagnostic composes");
	is_str(field(b, "Diagnostic-Code", got, sizeof(got)), "smtp;550 no type given",
	    "untyped diagnostic gets smtp;");
	r.diagnostic = "x-pmta;bounce-queue";
	is_int(t_compose(&m, b), 0, "x-pmta diagnostic composes");
	is_str(field(b, "Diagnostic-Code", got, sizeof(got)), "x-pmta;bounce-queue",
	    "typed diagnostic kept");
}

static void
test_eightbit_original(struct buf *b)
{
	static const char o8[] = "Subject: caf\xc3\xa9\r\n\r\nbody \xc3\xa9\r\n";
	struct dsn_message m;

	t_base(&m, &t_failed, 1);
	m.original = o8;
	m.original_len = sizeof(o8) - 1;
	m.ret = DSN_RET_FULL;
	is_int(t_compose(&m, b), 0, "8-bit original composes");
	ok(has(b, "Content-Type: message/rfc822\r\nContent-Description: Original message\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"), "8-bit original part is labelled 8bit");
	ok(has(b, "\tboundary=\"=_tern_seed1\"\r\nContent-Transfer-Encoding: 8bit\r\n"),
	    "and so is the whole report");
	ok(has(b, "body \xc3\xa9\r\n"), "the original is returned unchanged");
	t_base(&m, &t_failed, 1);
	is_int(t_compose(&m, b), 0, "7-bit original composes");
	ok(!has(b, "8bit"), "7-bit report carries no 8bit label");
}

static void
test_invalid(struct buf *b)
{
	struct dsn_rcpt r = t_failed;
	struct dsn_message m;

	t_base(&m, &r, 1);
	buf_reset(b);
	ok(dsn_compose(NULL, b) == -1, "NULL message is invalid");
	ok(dsn_compose(&m, NULL) == -1, "NULL output is invalid");
#define BAD(stmt, what) do {						\
		t_base(&m, &r, 1);					\
		stmt;							\
		buf_reset(b);						\
		ok(dsn_compose(&m, b) == -1 && b->len == 0,		\
		    "invalid: %s (nothing written)", what);		\
	} while (0)
	BAD(m.to = NULL, "no envelope sender");
	BAD(m.to = "", "null sender");
	BAD(m.to = "<>", "null sender as <>");
	BAD(m.to = "\r\n", "sender of only CRLF");
	BAD(m.nrcpts = 0, "no recipients");
	BAD(m.rcpts = NULL, "NULL recipients");
	BAD(m.reporting_mta = "bad host", "reporting MTA with a space");
	BAD(m.reporting_mta = "mta.test\r\nX: y", "reporting MTA with CRLF");
	BAD(m.reporting_mta = "", "empty reporting MTA");
	BAD(m.boundary_seed = "", "empty seed");
	BAD(m.boundary_seed = "a>b", "seed with '>'");
	BAD(m.boundary_seed = "a\"b", "seed with a quote");
	BAD(m.boundary_seed = ".ab", "seed with a leading dot");
	BAD(m.boundary_seed = "a..b", "seed with two dots");
	BAD(m.boundary_seed = "0123456789012345678901234567890123456789x",
	    "seed over 40 octets");
	BAD(m.original = NULL, "original_len without original");
	BAD(m.ret = (enum dsn_ret)7, "unknown RET");
	r.status = "5.1";
	BAD((void)0, "status 5.1");
	r.status = "6.0.0";
	BAD((void)0, "status class 6");
	r.status = "5.1.1234";
	BAD((void)0, "status detail of 4 digits");
	r.status = "5.1.1 x";
	BAD((void)0, "status with trailing text");
	r.status = "5.1.1";
	r.final_rcpt = " \t";
	BAD((void)0, "blank final recipient");
	r.final_rcpt = "bob@dest.test";
	r.action = (enum dsn_action)9;
	BAD((void)0, "unknown action");
#undef BAD
}

static void
test_overflow_and_boundary(void)
{
	static const char evil[] = "Subject: x\r\n--=_tern_seed1\r\n"
	    "--=_tern_seed1_1\r\n\r\nbody\r\n";
	struct dsn_message m;
	struct buf small, b;

	t_base(&m, &t_failed, 1);
	buf_init(&small, 200);
	ok(dsn_compose(&m, &small) == -1 && small.err, "output over its cap: -1, err set");
	buf_free(&small);
	buf_init(&b, T_MAX);
	m.original = evil;
	m.original_len = sizeof(evil) - 1;
	is_int(dsn_compose(&m, &b), 0, "original holding the boundary composes");
	ok(has(&b, "boundary=\"=_tern_seed1_2\""), "a boundary not in the original is chosen");
	ok(has(&b, "\r\n--=_tern_seed1_2--\r\n"), "and used to close the report");
	buf_reset(&b);
	m.original = NULL;
	m.original_len = 0;
	is_int(dsn_compose(&m, &b), 0, "report without an original composes");
	is_int((long long)count(&b, "\r\n--=_tern_seed1\r\n"), 2, "it has two parts");
	ok(!has(&b, "rfc822-headers") && !has(&b, "attached"), "and attaches nothing");
	buf_free(&b);
}

static void
test_from_and_dates(struct buf *b)
{
	struct dsn_message m;

	t_base(&m, &t_failed, 1);
	m.from_header = "Postmaster <foobar@there.com>";
	m.to = "<sender@origin.test>";
	m.now = 951782400;		/* 2000-02-29, a Tuesday */
	m.arrival = 4107542399LL;	/* 2100-02-28 23:59:59, a Sunday */
	is_int(t_compose(&m, b), 0, "custom From composes");
	ok(has_line(b, "From: Postmaster <foobar@there.com>\r\n"), "custom-dsn-from-header used");
	ok(has_line(b, "To: <sender@origin.test>\r\n"), "bracketed sender not doubled");
	ok(has_line(b, "Date: Tue, 29 Feb 2000 00:00:00 +0000\r\n"), "leap day date");
	ok(has_line(b, "Arrival-Date: Sun, 28 Feb 2100 23:59:59 +0000\r\n"),
	    "2100 is no leap year");
	m.now = 0;
	is_int(t_compose(&m, b), 0, "epoch date composes");
	ok(has_line(b, "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"), "the epoch");
}

static void
test_wanted(void)
{
	const unsigned S = DSN_NOTIFY_SUCCESS, F = DSN_NOTIFY_FAILURE,
	    D = DSN_NOTIFY_DELAY, N = DSN_NOTIFY_NEVER;
	const char *a = "a@b.test";

	ok(!dsn_wanted(NULL, F, DSN_FAILED), "NULL sender: never");
	ok(!dsn_wanted("", F | S | D, DSN_FAILED), "null sender: never a failure DSN");
	ok(!dsn_wanted("<>", 0, DSN_FAILED), "<> sender: never");
	ok(!dsn_wanted("", S, DSN_DELIVERED), "null sender: never a success DSN");
	ok(dsn_wanted(a, 0, DSN_FAILED), "no NOTIFY: failure");
	ok(!dsn_wanted(a, 0, DSN_DELAYED), "no NOTIFY: no delay");
	ok(!dsn_wanted(a, 0, DSN_DELIVERED), "no NOTIFY: no success");
	ok(!dsn_wanted(a, 0, DSN_RELAYED), "no NOTIFY: no relayed");
	ok(!dsn_wanted(a, N, DSN_FAILED), "NEVER: no failure");
	ok(!dsn_wanted(a, N, DSN_DELAYED), "NEVER: no delay");
	ok(!dsn_wanted(a, N | F | S | D, DSN_FAILED), "NEVER wins over others");
	ok(dsn_wanted(a, S, DSN_DELIVERED), "SUCCESS: delivered");
	ok(dsn_wanted(a, S, DSN_RELAYED), "SUCCESS: relayed");
	ok(dsn_wanted(a, S, DSN_EXPANDED), "SUCCESS: expanded");
	ok(!dsn_wanted(a, S, DSN_FAILED), "SUCCESS only: no failure");
	ok(!dsn_wanted(a, S, DSN_DELAYED), "SUCCESS only: no delay");
	ok(dsn_wanted(a, F, DSN_FAILED), "FAILURE: failure");
	ok(!dsn_wanted(a, F, DSN_DELAYED), "FAILURE only: no delay");
	ok(!dsn_wanted(a, F, DSN_DELIVERED), "FAILURE only: no success");
	ok(dsn_wanted(a, D, DSN_DELAYED), "DELAY: delay");
	ok(!dsn_wanted(a, D, DSN_FAILED), "DELAY only: no failure");
	ok(!dsn_wanted(a, D, DSN_DELIVERED), "DELAY only: no success");
	ok(dsn_wanted(a, F | D, DSN_FAILED) && dsn_wanted(a, F | D, DSN_DELAYED) &&
	    !dsn_wanted(a, F | D, DSN_DELIVERED), "FAILURE,DELAY");
	ok(dsn_wanted(a, S | F | D, DSN_FAILED) && dsn_wanted(a, S | F | D, DSN_DELAYED) &&
	    dsn_wanted(a, S | F | D, DSN_DELIVERED), "SUCCESS,FAILURE,DELAY: all");
}

int
main(void)
{
	struct buf b;

	buf_init(&b, T_MAX);
	test_failure(&b);
	test_envid_orcpt(&b);
	test_ret(&b);
	test_ret_odd_originals(&b);
	test_plain_text(&b);
	test_actions(&b);
	test_mixed(&b);
	test_injection(&b);
	test_folding(&b);
	test_eightbit_original(&b);
	test_invalid(&b);
	test_overflow_and_boundary();
	test_from_and_dates(&b);
	test_wanted();
	buf_free(&b);
	return done_testing();
}
