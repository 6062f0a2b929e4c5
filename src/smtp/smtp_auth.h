/*
 * smtp_auth: the pure parts of SMTP AUTH (RFC 4954) for the mechanisms
 * PLAIN (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195): strict base64, the
 * payloads the client sends, the CRAM-MD5 digest, and a comparison of
 * secrets that takes the same time whatever they hold.  No I/O; the
 * session side is src/smtpd/smtpd_auth.c.
 */
#ifndef TERN_SMTP_AUTH_H
#define TERN_SMTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* A user name or password: at most this many bytes. */
#define SMTP_AUTH_FIELD_MAX	512
/* A CRAM-MD5 digest in hex, with its NUL. */
#define SMTP_AUTH_DIGEST_SIZE	33

enum smtp_auth_mech {
	SMTP_AUTH_PLAIN,
	SMTP_AUTH_LOGIN,
	SMTP_AUTH_CRAM_MD5,
};

/* The mechanism named s[0..len) (any case), or -1 if unknown. */
int	smtp_auth_mech_parse(const char *s, size_t len);
const char *smtp_auth_mech_name(enum smtp_auth_mech m);

/*
 * Decode strict base64 (RFC 4648 §4: the standard alphabet, padding
 * required, no white space) s[0..len) into out[0..size); *outlen is the
 * decoded length.  An empty input decodes to nothing.  0, or -1 when the
 * input is not base64 or does not fit.
 */
int	smtp_auth_b64_decode(const char *s, size_t len, unsigned char *out,
	    size_t size, size_t *outlen);
/* Encode p[0..len) as base64 into out (NUL-terminated).  0, or -1 if it
 * does not fit. */
int	smtp_auth_b64_encode(const void *p, size_t len, char *out, size_t size);

/* What a client presented: the identity to act as (PLAIN's authzid,
 * "" when none), the user and the password. */
struct smtp_auth_cred {
	char	authzid[SMTP_AUTH_FIELD_MAX + 1];
	char	user[SMTP_AUTH_FIELD_MAX + 1];
	char	pass[SMTP_AUTH_FIELD_MAX + 1];
};

/*
 * A decoded PLAIN message: [authzid] NUL authcid NUL passwd (RFC 4616
 * §2), the user and the password not empty.  0, or -1 when malformed
 * (another number of NULs, an empty user or password, a field too long).
 */
int	smtp_auth_plain_parse(const unsigned char *p, size_t len,
	    struct smtp_auth_cred *c);
/* One decoded LOGIN field (user or password) as a string: not empty, no
 * NUL, at most SMTP_AUTH_FIELD_MAX bytes.  0 or -1. */
int	smtp_auth_login_field(const unsigned char *p, size_t len, char *out,
	    size_t size);
/*
 * A decoded CRAM-MD5 response: user SP digest (RFC 2195 §2; the user
 * may contain spaces, the digest is the part after the last one: 32 hex
 * digits, either case, stored in lower case).  0 or -1.
 */
int	smtp_auth_cram_parse(const unsigned char *p, size_t len, char *user,
	    size_t size, char digest[SMTP_AUTH_DIGEST_SIZE]);
/* The CRAM-MD5 digest of challenge under secret: HMAC-MD5 (RFC 2104) in
 * lower-case hex.  0, or -1 if the crypto library refuses (FIPS). */
int	smtp_auth_cram_digest(const char *secret, size_t secret_len,
	    const char *challenge, size_t challenge_len,
	    char digest[SMTP_AUTH_DIGEST_SIZE]);
/* Are a[0..alen) and b[0..blen) equal?  The time taken depends on
 * neither their contents nor their lengths (both are hashed first). */
bool	smtp_auth_equal(const void *a, size_t alen, const void *b,
	    size_t blen);

#endif
