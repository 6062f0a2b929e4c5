/*
 * Unit tests for smtp/smtp_header: the end of the header section, and
 * finding, reading and removing fields (folded, any case, repeated).
 */
#include "config.h"

#include <string.h>

#include "smtp/smtp_header.h"
#include "tap.h"

int
main(void)
{
	const char *msg = "From: a@b\r\nX-Virtual-MTA:  vmta1 \r\n"
	    "Subject: a\r\n folded\r\nx-virtual-mta: second\r\n\r\nbody\r\n";
	struct buf b;
	size_t hdr;
	char v[64];

	is_int((long long)smtp_header_end("\r\nbody", 6), 2, "an empty header section");
	is_int((long long)smtp_header_end("A: b\r\nC: d\r\n", 12), 0,
	    "no empty line yet: more data needed");
	is_int((long long)smtp_header_end(msg, strlen(msg)),
	    (long long)(strstr(msg, "\r\n\r\n") + 4 - msg), "the section ends after the empty line");

	buf_init(&b, 4096);
	(void)buf_puts(&b, msg);
	hdr = smtp_header_end(b.data, b.len);
	ok(smtp_header_take(&b, &hdr, "subject", false, v, sizeof(v)),
	    "a field is found whatever its case");
	is_str(v, "a folded", "a folded value is unfolded");
	ok(smtp_header_take(&b, &hdr, "X-Virtual-MTA", true, v, sizeof(v)),
	    "X-Virtual-MTA found");
	is_str(v, "vmta1", "the first one's value, trimmed");
	is_str(buf_str(&b), "From: a@b\r\nSubject: a\r\n folded\r\n\r\nbody\r\n",
	    "every X-Virtual-MTA field is removed, the rest untouched");
	is_int((long long)hdr, (long long)(strstr(b.data, "\r\n\r\n") + 4 - b.data),
	    "the section length follows");
	ok(!smtp_header_take(&b, &hdr, "X-Virtual-MTA", true, v, sizeof(v)),
	    "gone after removal");
	ok(!smtp_header_take(&b, &hdr, "From-X", false, v, sizeof(v)),
	    "a longer name does not match a prefix");
	ok(!smtp_header_take(&b, &hdr, "body", false, v, sizeof(v)),
	    "the body is not searched");
	buf_free(&b);

	/* raw content, every occurrence in turn */
	{
		const char *val;
		size_t off = 0, vlen, hl = smtp_header_end(msg, strlen(msg));

		ok(smtp_header_next(msg, hl, "x-virtual-mta", &off, &val, &vlen),
		    "next: the first field");
		is_mem(val, vlen, "  vmta1 ", 8, "next: the raw content, blanks kept");
		ok(smtp_header_next(msg, hl, "X-VIRTUAL-MTA", &off, &val, &vlen),
		    "next: the second field");
		is_mem(val, vlen, " second", 7, "next: its raw content");
		ok(!smtp_header_next(msg, hl, "X-Virtual-MTA", &off, &val, &vlen),
		    "next: none left");
		off = 0;
		ok(smtp_header_next(msg, hl, "Subject", &off, &val, &vlen),
		    "next: a folded field");
		is_mem(val, vlen, " a\r\n folded", 11,
		    "next: folded lines are kept as written");
		off = 0;
		ok(!smtp_header_next(msg, hl, "body", &off, &val, &vlen),
		    "next: the body is not searched");
	}
	return done_testing();
}
