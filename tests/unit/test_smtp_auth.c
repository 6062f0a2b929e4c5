/*
 * Unit tests for smtp/smtp_auth: strict base64 both ways, the PLAIN
 * message (RFC 4616's examples and the malformed ones), LOGIN fields,
 * the CRAM-MD5 response and digest (RFC 2195's example), and the
 * comparison of secrets.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_auth.h"
#include "tap.h"

static int
dec(const char *s, unsigned char *out, size_t size, size_t *n)
{
	return smtp_auth_b64_decode(s, strlen(s), out, size, n);
}

static void
test_base64(void)
{
	unsigned char out[64];
	char enc[64];
	size_t n;

	ok(dec("", out, sizeof(out), &n) == 0 && n == 0, "empty decodes to nothing");
	ok(dec("Zm9vYmFy", out, sizeof(out), &n) == 0 &&
	    is_mem(out, n, "foobar", 6, "no padding") == 1, "foobar");
	ok(dec("Zm9vYg==", out, sizeof(out), &n) == 0 &&
	    is_mem(out, n, "foob", 4, "two pads") == 1, "foob");
	ok(dec("Zm9vYmE=", out, sizeof(out), &n) == 0 &&
	    is_mem(out, n, "fooba", 5, "one pad") == 1, "fooba");
	ok(dec("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", out, sizeof(out), &n) == 0 &&
	    n == 21 && out[0] == '\0' && out[4] == '\0', "NULs decode");
	is_int(dec("Zm9vYg", out, sizeof(out), &n), -1, "padding is required");
	is_int(dec("Zm9v\r\nYg==", out, sizeof(out), &n), -1, "no line breaks");
	is_int(dec(" Zm9vYmFy", out, sizeof(out), &n), -1, "no leading space");
	is_int(dec("Zm9vYmFy ", out, sizeof(out), &n), -1, "no trailing space");
	is_int(dec("Zm=vYmFy", out, sizeof(out), &n), -1, "no '=' inside");
	is_int(dec("Zm9v====", out, sizeof(out), &n), -1, "at most two pads");
	is_int(dec("A===", out, sizeof(out), &n), -1, "three pads");
	is_int(dec("Zm9v*mFy", out, sizeof(out), &n), -1, "a character outside the alphabet");
	is_int(dec("Zm9v-_Fy", out, sizeof(out), &n), -1, "not the URL alphabet");
	is_int(dec("=", out, sizeof(out), &n), -1, "'=' alone is not base64 (the caller handles it)");
	is_int(dec("Zm9vYmFy", out, 5, &n), -1, "output that does not fit");
	ok(smtp_auth_b64_encode("foobar", 6, enc, sizeof(enc)) == 0,
	    "encode foobar");
	is_str(enc, "Zm9vYmFy", "encoded");
	ok(smtp_auth_b64_encode("Password:", 9, enc, sizeof(enc)) == 0 &&
	    strcmp(enc, "UGFzc3dvcmQ6") == 0, "Password: is LOGIN's challenge");
	is_int(smtp_auth_b64_encode("foobar", 6, enc, 8), -1,
	    "encode: no room for the NUL");
	is_int(smtp_auth_b64_encode("foobar", 6, enc, 9), 0, "encode: just fits");
}

static int
plain(const char *p, size_t len, struct smtp_auth_cred *c)
{
	return smtp_auth_plain_parse((const unsigned char *)p, len, c);
}

static void
test_plain(void)
{
	struct smtp_auth_cred c;
	char big[2 * SMTP_AUTH_FIELD_MAX];

	/* RFC 4616 §4 */
	ok(plain("\0tim\0tanstaaftanstaaf", 21, &c) == 0, "RFC 4616: no authzid");
	is_str(c.authzid, "", "authzid empty");
	is_str(c.user, "tim", "user");
	is_str(c.pass, "tanstaaftanstaaf", "password");
	ok(plain("Ursel\0Kurt\0xipj3plmq", 20, &c) == 0, "RFC 4616: with authzid");
	is_str(c.authzid, "Ursel", "authzid");
	is_str(c.user, "Kurt", "user");
	is_str(c.pass, "xipj3plmq", "password");
	ok(plain("\0us er\0p\xc3\xa4ss word", 17, &c) == 0 &&
	    strcmp(c.pass, "p\xc3\xa4ss word") == 0, "spaces and UTF-8 kept");
	is_int(plain("\0tim", 4, &c), -1, "one NUL: refused");
	is_int(plain("tim", 3, &c), -1, "no NUL: refused");
	is_int(plain("\0tim\0pass\0", 10, &c), -1, "three NULs: refused");
	is_int(plain("\0\0pass", 6, &c), -1, "empty user: refused");
	is_int(plain("\0tim\0", 5, &c), -1, "empty password: refused");
	is_int(plain("", 0, &c), -1, "empty message: refused");
	memset(big, 'x', sizeof(big));
	big[0] = '\0';
	big[4] = '\0';
	is_int(plain(big, 5 + SMTP_AUTH_FIELD_MAX, &c), 0,
	    "a password of SMTP_AUTH_FIELD_MAX bytes");
	is_int(plain(big, 6 + SMTP_AUTH_FIELD_MAX, &c), -1,
	    "one byte more: refused");
}

static void
test_login(void)
{
	char out[SMTP_AUTH_FIELD_MAX + 1];

	ok(smtp_auth_login_field((const unsigned char *)"alice", 5, out,
	    sizeof(out)) == 0 && strcmp(out, "alice") == 0, "LOGIN field");
	is_int(smtp_auth_login_field((const unsigned char *)"", 0, out,
	    sizeof(out)), -1, "empty: refused");
	is_int(smtp_auth_login_field((const unsigned char *)"a\0b", 3, out,
	    sizeof(out)), -1, "a NUL inside: refused");
	is_int(smtp_auth_login_field((const unsigned char *)"alice", 5, out, 5),
	    -1, "does not fit: refused");
}

static int
cram(const char *p, char *user, char *digest)
{
	return smtp_auth_cram_parse((const unsigned char *)p, strlen(p), user,
	    SMTP_AUTH_FIELD_MAX + 1, digest);
}

static void
test_cram(void)
{
	/* RFC 2195 §2 */
	static const char challenge[] =
	    "<1896.697170952@postoffice.reston.mci.net>";
	char user[SMTP_AUTH_FIELD_MAX + 1], digest[SMTP_AUTH_DIGEST_SIZE];
	char want[SMTP_AUTH_DIGEST_SIZE], b64[128];
	unsigned char resp[128];
	size_t n;

	ok(smtp_auth_b64_encode(challenge, strlen(challenge), b64,
	    sizeof(b64)) == 0 && strcmp(b64,
	    "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+") == 0,
	    "RFC 2195: the challenge as sent");
	ok(smtp_auth_cram_digest("tanstaaftanstaaf", 16, challenge,
	    strlen(challenge), want) == 0, "digest computed");
	is_str(want, "b913a602c7eda7a495b4e6e7334d3890", "RFC 2195: the digest");
	ok(dec("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", resp,
	    sizeof(resp), &n) == 0, "RFC 2195: the response decodes");
	ok(smtp_auth_cram_parse(resp, n, user, sizeof(user), digest) == 0,
	    "and parses");
	is_str(user, "tim", "user");
	is_str(digest, want, "digest");
	ok(cram("first last B913A602C7EDA7A495B4E6E7334D3890", user, digest) == 0,
	    "a user with a space; upper-case hex");
	is_str(user, "first last", "the user is everything before the last space");
	is_str(digest, "b913a602c7eda7a495b4e6e7334d3890", "hex stored in lower case");
	is_int(cram("tim b913a602c7eda7a495b4e6e7334d389", user, digest), -1,
	    "31 hex digits: refused");
	is_int(cram("tim b913a602c7eda7a495b4e6e7334d38900", user, digest), -1,
	    "33 hex digits: refused");
	is_int(cram("tim b913a602c7eda7a495b4e6e7334d389g", user, digest), -1,
	    "not hex: refused");
	is_int(cram("b913a602c7eda7a495b4e6e7334d3890", user, digest), -1,
	    "no user: refused");
	is_int(cram(" b913a602c7eda7a495b4e6e7334d3890", user, digest), -1,
	    "empty user: refused");
	is_int(cram("", user, digest), -1, "empty: refused");
	ok(smtp_auth_cram_digest("", 0, challenge, strlen(challenge), want) == 0 &&
	    strlen(want) == 32, "an empty secret still gives a digest");
}

static void
test_mech_equal(void)
{
	is_int(smtp_auth_mech_parse("plain", 5), SMTP_AUTH_PLAIN, "plain");
	is_int(smtp_auth_mech_parse("LOGIN", 5), SMTP_AUTH_LOGIN, "LOGIN");
	is_int(smtp_auth_mech_parse("Cram-Md5", 8), SMTP_AUTH_CRAM_MD5, "Cram-Md5");
	is_int(smtp_auth_mech_parse("CRAM-MD5X", 9), -1, "CRAM-MD5X unknown");
	is_int(smtp_auth_mech_parse("DIGEST-MD5", 10), -1, "DIGEST-MD5 unknown");
	is_int(smtp_auth_mech_parse("", 0), -1, "empty unknown");
	is_str(smtp_auth_mech_name(SMTP_AUTH_CRAM_MD5), "CRAM-MD5", "name");
	ok(smtp_auth_equal("secret", 6, "secret", 6), "equal");
	ok(!smtp_auth_equal("secret", 6, "secreT", 6), "one byte differs");
	ok(!smtp_auth_equal("secret", 6, "secret2", 7), "a longer one differs");
	ok(!smtp_auth_equal("secret", 6, "secret", 5), "a prefix differs");
	ok(smtp_auth_equal("", 0, "", 0), "two empty ones are equal");
}

int
main(void)
{
	test_base64();
	test_plain();
	test_login();
	test_cram();
	test_mech_equal();
	return done_testing();
}
