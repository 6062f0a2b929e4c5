/*
 * tls: OpenSSL contexts for the SMTP server and client, and the small
 * pure helpers around them (protocol version ranges, SNI names, the
 * PowerMTA-style "TLSv1.3 connected with 256-bit ..." description).
 *
 * A context is built once from a struct tls_settings (at configuration
 * load: certificate and CA files are read then, never on the loop) and
 * shared by every connection of that kind; per-connection choices
 * (versions, ciphers, SNI) go into a struct tls_conn_opts, applied to
 * the connection's SSL object by conn_starttls() (lib/conn.h).
 *
 * Every context: partial writes and a moving write buffer (conn writes
 * straight from its capped output buffer), no renegotiation, no
 * compression, no session cache, and an EOF without close_notify read as
 * the end of the stream (SMTP frames its own data: QUIT, ".").
 *
 * Errors: functions that can fail return -1 or NULL and write a
 * one-line reason into err (errlen bytes).  Key passwords never reach a
 * message.
 */
#ifndef TERN_LIB_TLS_H
#define TERN_LIB_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* Protocol versions, as the *-allow-* directives name them. */
enum tls_version {
	TLS_V_SSL3	= 1u << 0,
	TLS_V_1_0	= 1u << 1,
	TLS_V_1_1	= 1u << 2,
	TLS_V_1_2	= 1u << 3,
	TLS_V_1_3	= 1u << 4,
};
#define TLS_V_ALL	0x1fu

/* What a context is built from.  NULL / 0 members: the library default. */
struct tls_settings {
	const char	*cert_file;	/* PEM: certificate chain and private key */
	const char	*key_password;	/* for an encrypted key, or NULL */
	const char	*ca_file;	/* verify the peer against these CAs
					   (client: and its name); NULL: the
					   peer is not verified */
	bool		 ask_client_cert;	/* server: send a certificate
					   request; whatever the client
					   presents (or not) never fails the
					   handshake: SSL_get_verify_result()
					   tells whether ca_file verified it */
	const char	*ciphers;	/* OpenSSL list for TLS <= 1.2 */
	const char	*ciphersuites;	/* TLS 1.3 suites */
	unsigned	 versions;	/* TLS_V_* allowed; 0: library default */
};

/* Per-connection choices on top of the context's.  NULL / 0: keep. */
struct tls_conn_opts {
	const char	*sni;		/* client: the server name to send; also
					   the name verified when the context
					   verifies.  IP literals are not sent. */
	const char	*ciphers;
	const char	*ciphersuites;
	unsigned	 versions;
};

/* A context for the server (needs cert_file) or the client role. */
SSL_CTX	*tls_ctx_new(bool server, const struct tls_settings *ts, char *err,
	    size_t errlen);
void	 tls_ctx_free(SSL_CTX *ctx);
/* The first certificate of a PEM file (a key in it is skipped), or
 * NULL with a reason in err. */
X509	*tls_cert_load(const char *file, char *err, size_t errlen);
void	 tls_cert_free(X509 *cert);
/* Is the cipher list (TLS <= 1.2) or suite list (TLS 1.3) usable? */
bool	 tls_ciphers_valid(const char *ciphers, bool tls13);
/* Apply o to a connection's SSL object before its handshake.  0 or -1. */
int	 tls_ssl_apply(SSL *ssl, const struct tls_conn_opts *o, char *err,
	    size_t errlen);

/*
 * Pure: the OpenSSL version range of an allowed set (lowest and highest
 * allowed version; *holes gets the TLS_V_* bits inside the range that
 * are not allowed, to be switched off one by one).  -1 when the set
 * allows nothing.
 */
int	 tls_versions_range(unsigned allowed, int *min, int *max,
	    unsigned *holes);
/* Pure: may name be sent as SNI (a host name, not an IP literal)? */
bool	 tls_sni_valid(const char *name);

/* "TLSv1.3 connected with 256-bit TLS_AES_256_GCM_SHA384". */
void	 tls_describe(const SSL *ssl, char *out, size_t size);
/*
 * Why the last OpenSSL call on ssl (may be NULL) failed, sslerr being
 * its SSL_get_error() value: the certificate verification result, the
 * error queue's first reason, or errno.  Empties the error queue.
 */
void	 tls_failure(const SSL *ssl, int ret, char *out, size_t size);

#endif
