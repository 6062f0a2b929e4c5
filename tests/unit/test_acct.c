/*
 * Unit tests for acct: RFC 4180 quoting, the record layout under the
 * default header, the time format.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "acct/acct.h"
#include "queue/bounce.h"
#include "tap.h"

static const char *
field(const char *s)
{
	static struct buf b;

	buf_free(&b);
	buf_init(&b, 1024);
	(void)acct_csv_field(&b, s);
	return buf_str(&b);
}

int
main(void)
{
	struct acct_record r;
	struct buf line;
	char t[40], st[128];

	is_str(field("plain"), "plain", "a plain field is not quoted");
	is_str(field(""), "", "empty stays empty");
	is_str(field(NULL), "", "NULL is empty");
	is_str(field("a,b"), "\"a,b\"", "a comma is quoted");
	is_str(field("say \"hi\""), "\"say \"\"hi\"\"\"", "quotes are doubled");
	is_str(field("two\r\nlines"), "\"two\r\nlines\"", "line breaks are quoted");

	setenv("TZ", "UTC", 1);
	acct_time(1714644907, t, sizeof(t));
	is_str(t, "2024-05-02 10:15:07+0000", "iso-times form");

	memset(&r, 0, sizeof(r));
	r.type = 'd';
	r.logged = r.queued = 1714644907;
	r.orig = "a@example.net";
	r.rcpt = "b@example.org";
	r.dsn_action = "relayed";
	r.dsn_status = "2.0.0 (success)";
	r.dsn_diag = "smtp;250 2.0.0 OK";
	r.dlv_esmtp_available = "PIPELINING,8BITMIME";
	r.dlv_size = 5120;
	r.vmta = "vmta1";
	r.queue = "example.org/vmta1";
	buf_init(&line, 4096);
	ok(acct_format(&line, &r) == 0, "a record formats");
	is_str(buf_str(&line),
	    "d,2024-05-02 10:15:07+0000,2024-05-02 10:15:07+0000,a@example.net,"
	    "b@example.org,,relayed,2.0.0 (success),smtp;250 2.0.0 OK,,,,,,,,"
	    "\"PIPELINING,8BITMIME\",5120,vmta1,,,example.org/vmta1,\r\n",
	    "the record has the 23 default columns in PMTA's order");
	{
		int commas = 0;
		for (const char *p = ACCT_DEFAULT_FIELDS; *p; p++)
			commas += *p == ',';
		is_int(commas + 1, 23, "the default header has 23 columns");
	}
	buf_free(&line);

	bounce_dsn_status("5.1.1", st, sizeof(st));
	is_str(st, "5.1.1 (bad destination mailbox address)", "RFC 3463 text, 5.1.1");
	bounce_dsn_status("4.7.0", st, sizeof(st));
	is_str(st, "4.7.0 (other or undefined security status)", "RFC 3463 text, 4.7.0");
	bounce_dsn_status("2.0.0", st, sizeof(st));
	is_str(st, "2.0.0 (success)", "success");
	bounce_dsn_status("5.9.9", st, sizeof(st));
	is_str(st, "5.9.9 (undefined status)", "an unknown code");
	is_str(bounce_category("5.1.1 (bad destination mailbox address)",
	    "smtp;550 5.1.1 <x@y>: Recipient address rejected: User unknown"),
	    "bad-mailbox", "user unknown is bad-mailbox");
	is_str(bounce_category("5.7.1 (delivery not authorized, message refused)",
	    "smtp;554 5.7.1 Message rejected as spam"), "spam-related",
	    "first match wins: spam before rejected");
	is_str(bounce_category("5.2.2 (mailbox full)", "smtp;552 Mailbox is full"),
	    "quota-issues", "mailbox full is quota-issues");
	is_str(bounce_category("4.4.7 (delivery time expired)", "smtp;x"),
	    "message-expired", "4.4.7 by its status code");
	is_str(bounce_category("5.0.0 (undefined status)", "smtp;500 whatever"),
	    "other", "nothing matches: other");
	bounce_cleanup();
	return done_testing();
}
