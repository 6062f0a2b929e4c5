/*
 * fuzz_smtp_auth: fuzz target for the AUTH parsers of smtp_auth: strict
 * base64 and the PLAIN, LOGIN and CRAM-MD5 payloads.  The input is split
 * into lines at LF (as AUTH responses arrive); every line is decoded as
 * base64, and both the line itself and what it decodes to go through
 * every payload parser.
 *
 * Invariants (abort() on violation): decoded data fits its buffer and
 * encodes back to base64 that decodes to the same bytes; a parsed PLAIN
 * message puts back together to exactly its input, with a user and a
 * password that are not empty and stay within SMTP_AUTH_FIELD_MAX; a
 * parsed CRAM-MD5 response has a user and 32 lower-case hex digits and
 * puts back together to its input (but for the case of the hex); LOGIN
 * fields are the input itself.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_auth.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)	do { if (!(cond)) abort(); } while (0)
#define LINE_MAX_	4096

static void
check_payload(const unsigned char *p, size_t len)
{
	struct smtp_auth_cred c;
	char user[SMTP_AUTH_FIELD_MAX + 1], digest[SMTP_AUTH_DIGEST_SIZE];
	unsigned char again[3 * SMTP_AUTH_FIELD_MAX + 8];
	size_t n, ul;

	if (smtp_auth_plain_parse(p, len, &c) == 0) {
		size_t al = strlen(c.authzid), pl;

		ul = strlen(c.user);
		pl = strlen(c.pass);
		CHECK(ul > 0 && pl > 0 && al <= SMTP_AUTH_FIELD_MAX &&
		    ul <= SMTP_AUTH_FIELD_MAX && pl <= SMTP_AUTH_FIELD_MAX);
		n = al + ul + pl + 2;
		CHECK(n == len);
		memcpy(again, c.authzid, al + 1);
		memcpy(again + al + 1, c.user, ul + 1);
		memcpy(again + al + ul + 2, c.pass, pl);
		CHECK(memcmp(again, p, len) == 0);
	}
	if (smtp_auth_login_field(p, len, user, sizeof(user)) == 0)
		CHECK(len > 0 && strlen(user) == len && memcmp(user, p, len) == 0);
	if (smtp_auth_cram_parse(p, len, user, sizeof(user), digest) == 0) {
		ul = strlen(user);
		CHECK(ul > 0 && strlen(digest) == SMTP_AUTH_DIGEST_SIZE - 1);
		CHECK(strspn(digest, "0123456789abcdef") ==
		    SMTP_AUTH_DIGEST_SIZE - 1);
		CHECK(len == ul + SMTP_AUTH_DIGEST_SIZE && p[ul] == ' ');
		CHECK(memcmp(user, p, ul) == 0);
		CHECK(strncasecmp(digest, (const char *)p + ul + 1,
		    SMTP_AUTH_DIGEST_SIZE - 1) == 0);
	}
}

static void
check_line(const char *line, size_t len)
{
	static unsigned char dec[LINE_MAX_], dec2[LINE_MAX_];
	static char enc[LINE_MAX_ * 2];
	size_t n = 0, n2 = 0;

	check_payload((const unsigned char *)line, len);
	if (smtp_auth_b64_decode(line, len, dec, sizeof(dec), &n) == -1) {
		CHECK(n == 0);
		return;
	}
	CHECK(n <= sizeof(dec) && n <= len / 4 * 3 && len % 4 == 0);
	CHECK(smtp_auth_b64_encode(dec, n, enc, sizeof(enc)) == 0);
	CHECK(strlen(enc) == len);
	CHECK(smtp_auth_b64_decode(enc, len, dec2, sizeof(dec2), &n2) == 0);
	CHECK(n2 == n && memcmp(dec, dec2, n) == 0);
	check_payload(dec, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *nl;
	size_t len;

	while (size > 0) {
		nl = memchr(p, '\n', size);
		len = nl != NULL ? (size_t)(nl - p) : size;
		if (len > 0 && nl != NULL && p[len - 1] == '\r')
			len--;
		if (len <= LINE_MAX_)
			check_line(p, len);
		len = nl != NULL ? (size_t)(nl - p) + 1 : size;
		p += len;
		size -= len;
	}
	return 0;
}
