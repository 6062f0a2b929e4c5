/*
 * Unit tests for smtp/smtp_addr: paths, the null path, source routes,
 * quoted local parts, bare and domain-less forms, 8-bit addresses,
 * domains and address literals, the length limit and garbage.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "smtp/smtp_addr.h"
#include "tap.h"

/* Parse s; on success compare the address, the domain and *consumed. */
static void
good(const char *s, unsigned flags, const char *want, const char *domain,
    size_t want_used)
{
	struct smtp_addr a;
	const char *err = NULL;
	size_t used = 0;
	int rc;

	rc = smtp_addr_parse(s, strlen(s), flags, &a, &used, &err);
	if (!is_int(rc, 0, "parse '%s'", s)) {
		diag("error: %s", err ? err : "(none)");
		return;
	}
	is_str(a.addr, want, "  address of '%s'", s);
	is_int((long long)a.len, (long long)strlen(want), "  length of '%s'",
	    s);
	is_str(smtp_addr_domain(&a), domain, "  domain of '%s'", s);
	is_int((long long)used, (long long)want_used, "  consumed of '%s'", s);
}

/* Parse s[0..len); expect failure with the given reason (NULL: any). */
static void
bad_len(const char *s, size_t len, unsigned flags, const char *why)
{
	struct smtp_addr a;
	const char *err = NULL;
	size_t used = 0;
	int rc;

	memset(&a, 'x', sizeof(a));
	rc = smtp_addr_parse(s, len, flags, &a, &used, &err);
	ok(rc == -1 && err != NULL, "refuse '%s'", s);
	if (why != NULL)
		is_str(err, why, "  reason for '%s'", s);
	ok(a.len == 0 && a.addr[0] == '\0', "  '%s' leaves an empty address",
	    s);
}

static void
bad(const char *s, unsigned flags, const char *why)
{
	bad_len(s, strlen(s), flags, why);
}

static void
test_basic(void)
{
	good("<user@example.com>", 0, "user@example.com", "example.com", 18);
	good("<User.Name+tag@Sub.Example.COM> SIZE=10", 0,
	    "User.Name+tag@Sub.Example.COM", "Sub.Example.COM", 31);
	good("   <a@b>", 0, "a@b", "b", 8);
	good("\t<a@b>", 0, "a@b", "b", 6);
	good("<!#$%&'*+-/=?^_`{|}~@x.org>", 0,
	    "!#$%&'*+-/=?^_`{|}~@x.org", "x.org", 27);
	good("<a..b.@docomo.ne.jp>", 0, "a..b.@docomo.ne.jp", "docomo.ne.jp",
	    20);
	good("<jsmith-jdoe=yahoo.com@example.com>", 0,
	    "jsmith-jdoe=yahoo.com@example.com", "example.com", 35);
	good("<a@localhost>", 0, "a@localhost", "localhost", 13);
	good("<a@x-y.example>", 0, "a@x-y.example", "x-y.example", 15);
}

static void
test_null_path(void)
{
	struct smtp_addr a;
	const char *err;
	size_t used;

	good("<>", SMTP_ADDR_ALLOW_NULL, "", "", 2);
	good("<> SIZE=100", SMTP_ADDR_ALLOW_NULL, "", "", 2);
	bad("<>", 0, "null path not allowed");
	bad("<>", SMTP_ADDR_ALLOW_BARE, "null path not allowed");
	ok(smtp_addr_parse("<>", 2, SMTP_ADDR_ALLOW_NULL, &a, &used,
	    &err) == 0 && a.len == 0 && a.at == 0,
	    "the null path has len 0 and at 0");
	bad("", SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_ALLOW_BARE, "missing '<'");
	bad("   ", SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_ALLOW_BARE, "missing '<'");
}

static void
test_source_route(void)
{
	good("<@a.example,@b.example:user@c.example>", 0,
	    "user@c.example", "c.example", 38);
	good("<@relay.example:u@d.example>", 0, "u@d.example", "d.example", 28);
	good("<@[192.0.2.1]:u@d.example>", 0, "u@d.example", "d.example", 26);
	good("<@[IPv6:2001:db8::1],@x.example:u@d.example>", 0,
	    "u@d.example", "d.example", 44);
	bad("<@a.example,b.example:u@d.example>", 0, "bad source route");
	bad("<@a.example u@d.example>", 0, "bad source route");
	bad("<@:u@d.example>", 0, "bad source route");
	bad("<@a..example:u@d.example>", 0, "bad source route");
	bad("<@a.example,@b.example>", 0, "bad source route");
	bad("<@example.com>", 0, "bad source route");
}

static void
test_quoted(void)
{
	good("<\"john doe\"@example.com>", 0, "\"john doe\"@example.com",
	    "example.com", 24);
	good("<\"a@b>c\"@example.com>", 0, "\"a@b>c\"@example.com",
	    "example.com", 21);
	good("<\"a\\\"b\"@x.org>", 0, "\"a\\\"b\"@x.org", "x.org", 14);
	good("<\"\"@x.org>", 0, "\"\"@x.org", "x.org", 10);
	bad("<\"abc@x.org>", 0, "unterminated quoted string");
	bad("<\"a\"b@x.org>", 0, "bad character in local part");
	bad("<\"a\tb\"@x.org>", 0, "bad character in local part");
	bad("<\"a\\", 0, "unterminated quoted string");
}

static void
test_bare_and_nodomain(void)
{
	good("user@example.com", SMTP_ADDR_ALLOW_BARE, "user@example.com",
	    "example.com", 16);
	good("  user@example.com SIZE=1", SMTP_ADDR_ALLOW_BARE,
	    "user@example.com", "example.com", 18);
	good("<user@example.com>", SMTP_ADDR_ALLOW_BARE, "user@example.com",
	    "example.com", 18);
	bad("user@example.com", 0, "missing '<'");
	bad("user@example.com>", SMTP_ADDR_ALLOW_BARE, "bad domain");
	bad("us<er@example.com", SMTP_ADDR_ALLOW_BARE,
	    "bad character in local part");

	good("<postmaster>", SMTP_ADDR_ALLOW_NODOMAIN, "postmaster", "", 12);
	good("<Postmaster>", SMTP_ADDR_ALLOW_NODOMAIN, "Postmaster", "", 12);
	bad("<postmaster>", 0, "missing domain");
	bad("<user@>", SMTP_ADDR_ALLOW_NODOMAIN, "missing domain");
	bad("<user@>", 0, "missing domain");
	good("postmaster", SMTP_ADDR_ALLOW_BARE | SMTP_ADDR_ALLOW_NODOMAIN,
	    "postmaster", "", 10);
}

static void
test_utf8(void)
{
	const char *u = "<\xc3\xa9l\xc3\xa8ve@\xc3\xa9" "cole.example>";

	good(u, SMTP_ADDR_ALLOW_UTF8,
	    "\xc3\xa9l\xc3\xa8ve@\xc3\xa9" "cole.example",
	    "\xc3\xa9" "cole.example", strlen(u));
	bad(u, 0, "8-bit address without SMTPUTF8");
	bad("<a@\xc3\xa9" "cole.example>", 0, "bad domain");
	good("<a@\xc3\xa9" "cole.example>", SMTP_ADDR_ALLOW_UTF8,
	    "a@\xc3\xa9" "cole.example", "\xc3\xa9" "cole.example", 18);
	bad("<\xc3@x.org>", SMTP_ADDR_ALLOW_UTF8, "invalid UTF-8 in address");
	bad("<\xc0\xaf@x.org>", SMTP_ADDR_ALLOW_UTF8,
	    "invalid UTF-8 in address");
	bad("<\xed\xa0\x80@x.org>", SMTP_ADDR_ALLOW_UTF8,
	    "invalid UTF-8 in address");
	bad("<a@\xff.org>", SMTP_ADDR_ALLOW_UTF8, "bad domain");
	good("<\"\xc3\xa9\"@x.org>", SMTP_ADDR_ALLOW_UTF8, "\"\xc3\xa9\"@x.org",
	    "x.org", 12);
	bad("<\"\xc3\xa9\"@x.org>", 0, "bad character in local part");
}

static void
test_literals(void)
{
	good("<a@[192.0.2.1]>", 0, "a@[192.0.2.1]", "[192.0.2.1]", 15);
	good("<a@[IPv6:2001:db8::1]>", 0, "a@[IPv6:2001:db8::1]",
	    "[IPv6:2001:db8::1]", 22);
	good("<a@[ipv6:::1]>", 0, "a@[ipv6:::1]", "[ipv6:::1]", 14);
	good("<a@[x-tag:a>b]>", 0, "a@[x-tag:a>b]", "[x-tag:a>b]", 15);
	bad("<a@[192.0.2.256]>", 0, "bad domain");
	bad("<a@[192.0.2]>", 0, "bad domain");
	bad("<a@[IPv6:2001:db8::g]>", 0, "bad domain");
	bad("<a@[192.0.2.1>", 0, "bad domain");
	bad("<a@[]>", 0, "bad domain");
	bad("<a@[tag-:x]>", 0, "bad domain");
	bad("<a@[tag:]>", 0, "bad domain");
}

static void
test_domain_valid(void)
{
	char long_label[80], long_name[300];
	size_t i;

	ok(smtp_addr_domain_valid("example.com", 11, false), "example.com");
	ok(smtp_addr_domain_valid("a", 1, false), "single label");
	ok(smtp_addr_domain_valid("1.2.3.4", 7, false), "numeric labels");
	ok(smtp_addr_domain_valid("xn--bcher-kva.example", 21, false),
	    "A-label");
	ok(!smtp_addr_domain_valid("", 0, false), "empty domain");
	ok(!smtp_addr_domain_valid("example.com.", 12, false), "trailing dot");
	ok(!smtp_addr_domain_valid(".example.com", 12, false), "leading dot");
	ok(!smtp_addr_domain_valid("a..b", 4, false), "empty label");
	ok(!smtp_addr_domain_valid("-a.b", 4, false), "leading hyphen");
	ok(!smtp_addr_domain_valid("a-.b", 4, false), "trailing hyphen");
	ok(!smtp_addr_domain_valid("a_b.c", 5, false), "underscore");
	ok(!smtp_addr_domain_valid("a b.c", 5, false), "space");
	ok(smtp_addr_domain_valid("example..", 7, false),
	    "only len bytes are looked at");
	memset(long_label, 'a', 63);
	memcpy(long_label + 63, ".com", 5);
	ok(smtp_addr_domain_valid(long_label, 67, false), "63-octet label");
	memset(long_label, 'a', 64);
	memcpy(long_label + 64, ".com", 5);
	ok(!smtp_addr_domain_valid(long_label, 68, false), "64-octet label");
	memset(long_name, 'a', sizeof(long_name));
	for (i = 50; i < sizeof(long_name); i += 50)
		long_name[i] = '.';
	ok(smtp_addr_domain_valid(long_name, 255, false), "255-octet name");
	ok(!smtp_addr_domain_valid(long_name, 256, false), "256-octet name");
	ok(smtp_addr_domain_valid("b\xc3\xbc" "cher.de", 9, true),
	    "U-label with utf8");
	ok(!smtp_addr_domain_valid("b\xc3\xbc" "cher.de", 9, false),
	    "U-label without utf8");
	ok(!smtp_addr_domain_valid("b\xc3" "cher.de", 8, true),
	    "broken UTF-8 label");
	ok(smtp_addr_domain_valid("[10.0.0.1]", 10, false), "literal");
}

static void
test_garbage(void)
{
	bad("<user@example.com", 0, "missing '>'");
	bad("<user@exa mple.com>", 0, "bad domain");
	bad("<user name@example.com>", 0, "bad character in local part");
	bad("<user@example.com >", 0, "bad domain");
	bad("< user@example.com>", 0, "bad character in local part");
	bad("<user(comment)@example.com>", 0, "bad character in local part");
	bad("<a,b@example.com>", 0, "bad character in local part");
	bad("<a@b@example.com>", 0, "bad domain");
	bad("<@>", 0, "bad source route");
	bad("<", 0, "empty local part");
	bad("<<a@b>>", 0, "bad character in local part");
	bad("\"a\"@b.c", 0, "missing '<'");
	bad_len("<a\0b@x.org>", 11, 0, "bad character in local part");
	bad_len("<a@x.org\0>", 10, 0, "bad domain");
	bad_len("<a@x.org>", 8, 0, "missing '>'");
}

static void
test_lengths(void)
{
	char s[SMTP_ADDR_MAX + 16];
	size_t n;
	struct smtp_addr a;
	const char *err;
	size_t used;

	/* "<" + local + "@x.org" + ">", with the address exactly at the cap. */
	n = SMTP_ADDR_MAX - 6;
	s[0] = '<';
	memset(s + 1, 'a', n);
	memcpy(s + 1 + n, "@x.org>", 8);
	ok(smtp_addr_parse(s, strlen(s), 0, &a, &used, &err) == 0 &&
	    a.len == SMTP_ADDR_MAX && a.addr[SMTP_ADDR_MAX] == '\0' &&
	    used == SMTP_ADDR_MAX + 2, "an address of SMTP_ADDR_MAX octets");
	ok(a.at == n && a.addr[a.at] == '@', "at indexes the '@'");
	memset(s + 1, 'a', n + 1);
	memcpy(s + 2 + n, "@x.org>", 8);
	bad(s, 0, "address too long");
	/* A length that stops short of the '>' must not read beyond it. */
	ok(smtp_addr_parse("<a@b.c>", 6, 0, &a, &used, &err) == -1,
	    "len stops before '>'");
	ok(smtp_addr_parse("<a@b.c>", 0, SMTP_ADDR_ALLOW_BARE, &a, &used,
	    &err) == -1, "len 0");
}

int
main(void)
{
	test_basic();
	test_null_path();
	test_source_route();
	test_quoted();
	test_bare_and_nodomain();
	test_utf8();
	test_literals();
	test_domain_valid();
	test_garbage();
	test_lengths();
	return done_testing();
}
