/*
 * tls: OpenSSL contexts and helpers (see tls.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/tls.h"

/* The OpenSSL number of each TLS_V_* bit, lowest first. */
static const struct {
	unsigned	 bit;
	int		 version;
	unsigned long	 no_option;	/* switches it off inside a range */
} tls_versions[] = {
	{ TLS_V_SSL3, SSL3_VERSION, SSL_OP_NO_SSLv3 },
	{ TLS_V_1_0, TLS1_VERSION, SSL_OP_NO_TLSv1 },
	{ TLS_V_1_1, TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 },
	{ TLS_V_1_2, TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
	{ TLS_V_1_3, TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 },
};
#define TLS_NVERSIONS	(sizeof(tls_versions) / sizeof(tls_versions[0]))

int
tls_versions_range(unsigned allowed, int *min, int *max, unsigned *holes)
{
	size_t lo = TLS_NVERSIONS, hi = 0;

	for (size_t i = 0; i < TLS_NVERSIONS; i++)
		if (allowed & tls_versions[i].bit) {
			if (lo == TLS_NVERSIONS)
				lo = i;
			hi = i;
		}
	if (lo == TLS_NVERSIONS)
		return -1;
	*min = tls_versions[lo].version;
	*max = tls_versions[hi].version;
	*holes = 0;
	for (size_t i = lo; i <= hi; i++)
		if ((allowed & tls_versions[i].bit) == 0)
			*holes |= tls_versions[i].bit;
	return 0;
}

bool
tls_sni_valid(const char *name)
{
	struct in6_addr a6;
	struct in_addr a4;
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > 253 || name[0] == '[' || name[0] == '.' ||
	    name[0] == '-')
		return false;
	if (inet_pton(AF_INET, name, &a4) == 1 ||
	    inet_pton(AF_INET6, name, &a6) == 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_'))
			return false;
	}
	return true;
}

/* The version settings on a context or a connection (one of them NULL). */
static int
tls_apply_versions(SSL_CTX *ctx, SSL *ssl, unsigned allowed)
{
	unsigned long off = 0;
	unsigned holes;
	int min, max, ok;

	if (tls_versions_range(allowed, &min, &max, &holes) == -1)
		return -1;
	for (size_t i = 0; i < TLS_NVERSIONS; i++)
		if (holes & tls_versions[i].bit)
			off |= tls_versions[i].no_option;
	if (ctx != NULL) {
		ok = SSL_CTX_set_min_proto_version(ctx, min) &&
		    SSL_CTX_set_max_proto_version(ctx, max);
		SSL_CTX_set_options(ctx, off);
	} else {
		ok = SSL_set_min_proto_version(ssl, min) &&
		    SSL_set_max_proto_version(ssl, max);
		SSL_set_options(ssl, off);
	}
	return ok ? 0 : -1;
}

void
tls_failure(const SSL *ssl, int sslerr, char *out, size_t size)
{
	unsigned long e = ERR_peek_error();
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	int saved = errno;

	if (v != X509_V_OK && ERR_GET_REASON(e) ==
	    SSL_R_CERTIFICATE_VERIFY_FAILED)
		snprintf(out, size, "certificate verification failed: %s",
		    X509_verify_cert_error_string(v));
	else if (e != 0) {
		const char *r = ERR_reason_error_string(e);

		if (r != NULL)
			snprintf(out, size, "%s", r);
		else
			ERR_error_string_n(e, out, size);
	} else if (sslerr == SSL_ERROR_SYSCALL && saved != 0)
		snprintf(out, size, "%s", strerror(saved));
	else if (sslerr == SSL_ERROR_SYSCALL || sslerr == SSL_ERROR_ZERO_RETURN)
		snprintf(out, size, "connection closed by the peer");
	else
		snprintf(out, size, "TLS error %d", sslerr);
	ERR_clear_error();
}

/* The password of an encrypted key (never a terminal prompt). */
static int
tls_password_cb(char *buf, int size, int rwflag, void *userdata)
{
	const char *pw = userdata;
	size_t n;

	if (pw == NULL || size <= 0 || (n = strlen(pw)) >= (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

/* Certificate chain and key from one PEM file (key may be encrypted). */
static int
tls_load_cert(SSL_CTX *ctx, const struct tls_settings *ts, char *err,
    size_t errlen)
{
	int ok;

	SSL_CTX_set_default_passwd_cb(ctx, tls_password_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)ts->key_password);
	ok = SSL_CTX_use_certificate_chain_file(ctx, ts->cert_file) == 1 &&
	    SSL_CTX_use_PrivateKey_file(ctx, ts->cert_file,
	    SSL_FILETYPE_PEM) == 1 && SSL_CTX_check_private_key(ctx) == 1;
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	if (!ok) {
		char why[160];

		tls_failure(NULL, SSL_ERROR_SSL, why, sizeof(why));
		snprintf(err, errlen, "cannot load certificate and key from "
		    "%s: %s", ts->cert_file, why);
		return -1;
	}
	return 0;
}

/* A server asking for client certificates: any certificate, or none,
 * lets the handshake go on; the verification result stays on the SSL
 * object for whoever decides what the certificate is worth. */
static int
tls_verify_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

/* Everything of ts but the certificate. */
static int
tls_ctx_setup(SSL_CTX *ctx, bool server, const struct tls_settings *ts,
    char *err, size_t errlen)
{
	char why[160];

	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	    | SSL_OP_IGNORE_UNEXPECTED_EOF
#endif
	    );
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (ts->versions != 0 && tls_apply_versions(ctx, NULL,
	    ts->versions) == -1) {
		snprintf(err, errlen, "no usable TLS protocol version allowed");
		return -1;
	}
	if (ts->ciphers != NULL && SSL_CTX_set_cipher_list(ctx,
	    ts->ciphers) != 1) {
		snprintf(err, errlen, "no usable cipher in \"%s\"", ts->ciphers);
		return -1;
	}
	if (ts->ciphersuites != NULL && SSL_CTX_set_ciphersuites(ctx,
	    ts->ciphersuites) != 1) {
		snprintf(err, errlen, "no usable TLS 1.3 cipher suite in \"%s\"",
		    ts->ciphersuites);
		return -1;
	}
	if (ts->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ts->ca_file, NULL) != 1) {
			tls_failure(NULL, SSL_ERROR_SSL, why, sizeof(why));
			snprintf(err, errlen, "cannot load CA file %s: %s",
			    ts->ca_file, why);
			return -1;
		}
		if (!server)
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	if (server && ts->ask_client_cert) {
		/* the certificate request names the CAs the client may pick
		 * from; the check against a user's certificate comes after
		 * the handshake (tls_verify_any) */
		if (ts->ca_file != NULL) {
			STACK_OF(X509_NAME) *names =
			    SSL_load_client_CA_file(ts->ca_file);

			if (names != NULL)
				SSL_CTX_set_client_CA_list(ctx, names);
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_CLIENT_ONCE, tls_verify_any);
	} else if (server || ts->ca_file == NULL)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	ERR_clear_error();
	return server || ts->cert_file != NULL ?
	    tls_load_cert(ctx, ts, err, errlen) : 0;
}

SSL_CTX *
tls_ctx_new(bool server, const struct tls_settings *ts, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;

	if (server && ts->cert_file == NULL) {
		snprintf(err, errlen, "a server needs a certificate");
		return NULL;
	}
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL) {
		tls_failure(NULL, SSL_ERROR_SSL, err, errlen);
		return NULL;
	}
	if (tls_ctx_setup(ctx, server, ts, err, errlen) == -1) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}

void
tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

X509 *
tls_cert_load(const char *file, char *err, size_t errlen)
{
	FILE *f = fopen(file, "r");
	X509 *cert;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", file,
		    strerror(errno));
		return NULL;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (cert == NULL) {
		char why[160];

		tls_failure(NULL, SSL_ERROR_SSL, why, sizeof(why));
		snprintf(err, errlen, "no certificate in %s: %s", file, why);
	}
	ERR_clear_error();
	return cert;
}

void
tls_cert_free(X509 *cert)
{
	X509_free(cert);
}

bool
tls_ciphers_valid(const char *ciphers, bool tls13)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	bool ok;

	if (ctx == NULL)
		return false;
	ok = (tls13 ? SSL_CTX_set_ciphersuites(ctx, ciphers) :
	    SSL_CTX_set_cipher_list(ctx, ciphers)) == 1;
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

int
tls_ssl_apply(SSL *ssl, const struct tls_conn_opts *o, char *err,
    size_t errlen)
{
	if (o->versions != 0 && tls_apply_versions(NULL, ssl,
	    o->versions) == -1) {
		snprintf(err, errlen, "no usable TLS protocol version allowed");
		return -1;
	}
	if (o->ciphers != NULL && SSL_set_cipher_list(ssl, o->ciphers) != 1) {
		snprintf(err, errlen, "no usable cipher in \"%s\"", o->ciphers);
		return -1;
	}
	if (o->ciphersuites != NULL && SSL_set_ciphersuites(ssl,
	    o->ciphersuites) != 1) {
		snprintf(err, errlen, "no usable TLS 1.3 cipher suite in \"%s\"",
		    o->ciphersuites);
		return -1;
	}
	if (o->sni != NULL && tls_sni_valid(o->sni) &&
	    (SSL_set_tlsext_host_name(ssl, o->sni) != 1 ||
	    SSL_set1_host(ssl, o->sni) != 1)) {
		snprintf(err, errlen, "cannot set the server name %s", o->sni);
		return -1;
	}
	ERR_clear_error();
	return 0;
}

void
tls_describe(const SSL *ssl, char *out, size_t size)
{
	snprintf(out, size, "%s connected with %d-bit %s", SSL_get_version(ssl),
	    SSL_get_cipher_bits(ssl, NULL), SSL_get_cipher_name(ssl));
}
