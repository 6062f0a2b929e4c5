/*
 * smtp_auth: the pure parts of SMTP AUTH (see smtp_auth.h).
 *
 * Base64 is checked here before OpenSSL decodes it: EVP_DecodeBlock
 * skips white space, does not report the padding and accepts '=' in the
 * middle, and a response that is not strict base64 must get a 501 (RFC
 * 4954 §4) rather than a credential check on whatever it decoded to.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "smtp/smtp_auth.h"

static const char *const smtp_auth_names[] = {
	[SMTP_AUTH_PLAIN] = "PLAIN",
	[SMTP_AUTH_LOGIN] = "LOGIN",
	[SMTP_AUTH_CRAM_MD5] = "CRAM-MD5",
};

int
smtp_auth_mech_parse(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(smtp_auth_names) /
	    sizeof(smtp_auth_names[0]); i++)
		if (strlen(smtp_auth_names[i]) == len &&
		    strncasecmp(smtp_auth_names[i], s, len) == 0)
			return (int)i;
	return -1;
}

const char *
smtp_auth_mech_name(enum smtp_auth_mech m)
{
	return (size_t)m < sizeof(smtp_auth_names) / sizeof(smtp_auth_names[0]) ?
	    smtp_auth_names[m] : "?";
}

static bool
smtp_auth_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int
smtp_auth_b64_decode(const char *s, size_t len, unsigned char *out,
    size_t size, size_t *outlen)
{
	size_t pad = 0;
	int n;

	*outlen = 0;
	if (len == 0)
		return 0;
	if (len % 4 != 0 || len / 4 * 3 > size || len > (size_t)1 << 30)
		return -1;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++)
		if (!smtp_auth_b64_char(s[i]))
			return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad)
		return -1;
	*outlen = (size_t)n - pad;
	return 0;
}

int
smtp_auth_b64_encode(const void *p, size_t len, char *out, size_t size)
{
	if (len > (size_t)1 << 28 || (len + 2) / 3 * 4 + 1 > size)
		return -1;
	(void)EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return 0;
}

/* p[0..len) as a string in out[0..size): no NUL inside, not empty. */
static int
smtp_auth_field(const unsigned char *p, size_t len, char *out, size_t size,
    bool may_be_empty)
{
	if ((len == 0 && !may_be_empty) || len > SMTP_AUTH_FIELD_MAX ||
	    len >= size || memchr(p, '\0', len) != NULL)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

int
smtp_auth_plain_parse(const unsigned char *p, size_t len,
    struct smtp_auth_cred *c)
{
	const unsigned char *end = p + len, *nul1, *nul2;

	memset(c, 0, sizeof(*c));
	if ((nul1 = memchr(p, '\0', len)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1))) == NULL)
		return -1;
	if (smtp_auth_field(p, (size_t)(nul1 - p), c->authzid,
	    sizeof(c->authzid), true) == -1 ||
	    smtp_auth_field(nul1 + 1, (size_t)(nul2 - nul1 - 1), c->user,
	    sizeof(c->user), false) == -1 ||
	    smtp_auth_field(nul2 + 1, (size_t)(end - nul2 - 1), c->pass,
	    sizeof(c->pass), false) == -1) {
		OPENSSL_cleanse(c, sizeof(*c));
		return -1;
	}
	return 0;
}

int
smtp_auth_login_field(const unsigned char *p, size_t len, char *out,
    size_t size)
{
	return smtp_auth_field(p, len, out, size, false);
}

int
smtp_auth_cram_parse(const unsigned char *p, size_t len, char *user,
    size_t size, char digest[SMTP_AUTH_DIGEST_SIZE])
{
	size_t sp = len;

	while (sp > 0 && p[sp - 1] != ' ')
		sp--;
	if (sp == 0 || len - sp != SMTP_AUTH_DIGEST_SIZE - 1)
		return -1;
	for (size_t i = 0; i < SMTP_AUTH_DIGEST_SIZE - 1; i++) {
		unsigned char h = p[sp + i];

		if (h >= 'A' && h <= 'F')
			h = (unsigned char)(h - 'A' + 'a');
		else if (!(h >= '0' && h <= '9') && !(h >= 'a' && h <= 'f'))
			return -1;
		digest[i] = (char)h;
	}
	digest[SMTP_AUTH_DIGEST_SIZE - 1] = '\0';
	return smtp_auth_field(p, sp - 1, user, size, false);
}

int
smtp_auth_cram_digest(const char *secret, size_t secret_len,
    const char *challenge, size_t challenge_len,
    char digest[SMTP_AUTH_DIGEST_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (secret_len > (size_t)1 << 20 || challenge_len > (size_t)1 << 20 ||
	    HMAC(EVP_md5(), secret, (int)secret_len,
	    (const unsigned char *)challenge, challenge_len, md, &mdlen) == NULL ||
	    mdlen != (SMTP_AUTH_DIGEST_SIZE - 1) / 2)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++) {
		digest[2 * i] = hex[md[i] >> 4];
		digest[2 * i + 1] = hex[md[i] & 0xf];
	}
	digest[2 * mdlen] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

bool
smtp_auth_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char ha[EVP_MAX_MD_SIZE], hb[EVP_MAX_MD_SIZE];
	unsigned int la = 0, lb = 0;
	bool eq;

	if (EVP_Digest(a, alen, ha, &la, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(b, blen, hb, &lb, EVP_sha256(), NULL) != 1 || la != lb)
		return false;
	eq = CRYPTO_memcmp(ha, hb, la) == 0;
	OPENSSL_cleanse(ha, sizeof(ha));
	OPENSSL_cleanse(hb, sizeof(hb));
	return eq;
}
