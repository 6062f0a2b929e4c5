/*
 * fuzz_smtp_cmd: fuzz target for the line-oriented SMTP parsers:
 * smtp_cmd (server side), smtp_addr, smtp_reply and smtp_ext (client
 * side).  The first byte picks the smtp_addr flags (its low 4 bits, so
 * "0".."9" in a seed file); the rest is split into lines at LF (a CR
 * before the LF is dropped, as the session's line reader does) and every
 * line goes through every parser.
 *
 * Invariants (abort() on violation): results are among the documented
 * values; a failure has a reason; everything handed back points into the
 * line; stored addresses are NUL-terminated, within SMTP_ADDR_MAX and
 * parse again to themselves; RCPT never yields the null path; reply text
 * stays within its cap, NUL-terminated, free of control characters.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_addr.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_reply.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)

static bool
within(const char *p, size_t n, const char *line, size_t len)
{
	return p >= line && p <= line + len && n <= (size_t)(line + len - p);
}

/* A parsed address, reparsed in brackets, must give itself back. */
static void
check_addr(const struct smtp_addr *a, unsigned flags)
{
	char again[SMTP_ADDR_MAX + 3];
	struct smtp_addr b;
	const char *err = NULL;
	size_t used;

	CHECK(a->len <= SMTP_ADDR_MAX && a->addr[a->len] == '\0');
	CHECK(strlen(a->addr) == a->len);
	if (a->len == 0) {
		CHECK(a->at == 0);
		return;
	}
	CHECK(a->at == a->len || a->addr[a->at] == '@');
	if (a->at < a->len)
		CHECK(smtp_addr_domain_valid(smtp_addr_domain(a),
		    a->len - a->at - 1, (flags & SMTP_ADDR_ALLOW_UTF8) != 0));
	else
		CHECK(*smtp_addr_domain(a) == '\0');
	again[0] = '<';
	memcpy(again + 1, a->addr, a->len);
	again[a->len + 1] = '>';
	CHECK(smtp_addr_parse(again, a->len + 2, flags, &b, &used, &err) == 0);
	CHECK(used == a->len + 2 && b.len == a->len && b.at == a->at);
	CHECK(memcmp(a->addr, b.addr, a->len) == 0);
}

static void
check_cmd(const char *line, size_t len, unsigned flags)
{
	struct smtp_cmd c;
	const char *err = NULL;
	enum smtp_cmd_result r;
	size_t i;

	r = smtp_cmd_parse(line, len, flags, &c, &err);
	CHECK(r == SMTP_CMD_OK || r == SMTP_CMD_UNKNOWN ||
	    r == SMTP_CMD_SYNTAX);
	CHECK(r == SMTP_CMD_OK || err != NULL);
	CHECK((r == SMTP_CMD_UNKNOWN) == (c.verb == SMTP_VERB_UNKNOWN));
	CHECK(smtp_verb_name(c.verb) != NULL);
	if (r != SMTP_CMD_OK)
		return;
	CHECK(within(c.arg, c.arg_len, line, len));
	CHECK(memchr(line, '\0', len) == NULL);
	CHECK(c.nparams <= SMTP_PARAMS_MAX);
	for (i = 0; i < c.nparams; i++) {
		CHECK(c.params[i].key_len > 0);
		CHECK(within(c.params[i].key, c.params[i].key_len, c.arg,
		    c.arg_len));
		CHECK(c.params[i].value == NULL || (c.params[i].value_len > 0 &&
		    within(c.params[i].value, c.params[i].value_len, c.arg,
		    c.arg_len)));
	}
	if (c.verb == SMTP_VERB_RCPT)
		CHECK(c.path.len > 0);
	if (c.verb == SMTP_VERB_MAIL || c.verb == SMTP_VERB_RCPT ||
	    c.verb == SMTP_VERB_XMRG)
		check_addr(&c.path, (flags | SMTP_ADDR_ALLOW_NULL) &
		    ~(unsigned)SMTP_ADDR_ALLOW_BARE);
	else
		CHECK(c.path.len == 0 && c.nparams == 0);
}

static void
check_path(const char *line, size_t len, unsigned flags)
{
	struct smtp_addr a;
	const char *err = NULL;
	size_t used = 0;

	if (smtp_addr_parse(line, len, flags, &a, &used, &err) == -1) {
		CHECK(err != NULL && a.len == 0 && a.addr[0] == '\0');
		return;
	}
	CHECK(used > 0 && used <= len);
	CHECK(a.len > 0 || (flags & SMTP_ADDR_ALLOW_NULL));
	check_addr(&a, flags & ~(unsigned)SMTP_ADDR_ALLOW_BARE);
}

static void
check_reply(struct smtp_reply *r, const char *line, size_t len)
{
	const char *err = NULL;
	unsigned long size = 0;
	int rc, nlines = r->nlines;
	size_t i;

	rc = smtp_reply_feed(r, line, len, &err);
	CHECK(rc == -1 || rc == 0 || rc == 1);
	CHECK(rc != -1 || (err != NULL && r->nlines == nlines));
	CHECK(r->text_len <= SMTP_REPLY_TEXT_MAX);
	CHECK(r->text[r->text_len] == '\0');
	CHECK(strlen(r->text) == r->text_len);
	for (i = 0; i < r->text_len; i++)
		CHECK((unsigned char)r->text[i] >= 0x20 && r->text[i] != 0x7f);
	CHECK(strlen(r->enhanced) < sizeof(r->enhanced));
	if (r->nlines > 0)
		CHECK(r->code >= 200 && r->code <= 599);
	if (rc != 0)
		smtp_reply_init(r);
	(void)smtp_ext_parse(line, len, &size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *nl;
	struct smtp_reply r;
	unsigned flags;
	size_t len;

	if (size == 0)
		return 0;
	flags = data[0] & 0x0f;
	p++;
	size--;
	smtp_reply_init(&r);
	while (size > 0) {
		nl = memchr(p, '\n', size);
		len = nl != NULL ? (size_t)(nl - p) : size;
		/* The session hands over the line without its CRLF. */
		if (len > 0 && nl != NULL && p[len - 1] == '\r')
			len--;
		check_cmd(p, len, flags);
		check_path(p, len, flags);
		check_reply(&r, p, len);
		len = nl != NULL ? (size_t)(nl - p) + 1 : size;
		p += len;
		size -= len;
	}
	return 0;
}
