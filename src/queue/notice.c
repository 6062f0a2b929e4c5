/*
 * notice: administrator notices about a queue (see notice.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "queue/notice.h"

/* Printable ASCII without CR and LF: header-safe. */
static int
notice_header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int
notice_seed_valid(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

/* RFC 5322 date-time in UTC ("Tue, 14 Nov 2023 22:13:20 +0000"). */
static void
notice_date(struct buf *out, time_t t)
{
	struct tm tm;
	char date[64];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    &tm) == 0)
		snprintf(date, sizeof(date), "Thu, 01 Jan 1970 00:00:00 +0000");
	(void)buf_printf(out, "Date: %s\r\n", date);
}

/* The body: each line cleaned, cut, and ended with CRLF. */
static void
notice_body(struct buf *out, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n"), i;

		for (i = 0; i < len && i < NOTICE_LINE_MAX; i++) {
			unsigned char c = (unsigned char)p[i];
			char o = c == '\t' || (c >= 0x20 && c < 0x7f) ?
			    (char)c : '?';

			(void)buf_append(out, &o, 1);
		}
		(void)buf_puts(out, "\r\n");
		p += len;
		if (*p == '\n')
			p++;
	}
}

int
notice_compose(const struct notice *n, struct buf *out)
{
	if (n->nto == 0 || !notice_header_safe(n->host) ||
	    !notice_header_safe(n->subject) || !notice_seed_valid(n->seed))
		return -1;
	for (size_t i = 0; i < n->nto; i++)
		if (!notice_header_safe(n->to[i]) || n->to[i][0] == '\0')
			return -1;
	(void)buf_printf(out, "From: Mail Delivery System "
	    "<MAILER-DAEMON@%s>\r\nTo: ", n->host);
	for (size_t i = 0; i < n->nto; i++)
		(void)buf_printf(out, "%s<%s>", i > 0 ? ",\r\n\t" : "",
		    n->to[i]);
	(void)buf_printf(out, "\r\nSubject: %s\r\n", n->subject);
	notice_date(out, n->now);
	(void)buf_printf(out, "Message-ID: <%s@%s>\r\n", n->seed, n->host);
	(void)buf_puts(out, "Auto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n");
	notice_body(out, n->text);
	return out->err ? -1 : 0;
}
