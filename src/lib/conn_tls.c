/*
 * conn_tls: TLS on a conn (see conn.h).
 *
 * OpenSSL reads from and writes to two memory BIOs; conn moves the
 * ciphertext between them and the socket:
 *
 *   socket --read()--> tls_rbio --SSL_read()--> in      (clear text)
 *   out --SSL_write()--> tls_wbio --> tls_out --send()--> socket
 *
 * so OpenSSL never meets a blocked socket: SSL_read() may produce
 * ciphertext (a KeyUpdate answer, an alert) at any time and it simply
 * waits in tls_out, and no OpenSSL call ever needs the other direction
 * to make progress first.  Caps: `in` and `out` as before; the socket is
 * read only while tls_rbio holds less than CONN_TLS_RBIO_MAX; SSL_write
 * is called only while tls_out holds less than CONN_TLS_OUT_HIGH.
 *
 * States: PENDING (conn_starttls() was called: buffered input is gone,
 * no more clear text is read, queued clear-text output is flushed),
 * HANDSHAKE, ON, DEAD (a fatal error: no more I/O, no close_notify).
 * The read watcher runs the input side (read(), SSL_read() or the
 * handshake), the write watcher the output side (send(), SSL_write() or
 * the handshake).  As in conn.c, invoking the owner's callback is the
 * last thing a handler does.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "lib/conn_private.h"
#include "lib/tls.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#define SSL_get1_peer_certificate	SSL_get_peer_certificate
#endif

#define CONN_TLS_CHUNK		16384		/* one record's payload */
#define CONN_TLS_RBIO_MAX	(2 * CONN_TLS_CHUNK + 1024)
#define CONN_TLS_OUT_HIGH	(64 * 1024)	/* then no more SSL_write() */
#define CONN_TLS_OUT_MAX	(256 * 1024)	/* hard cap of tls_out */

static int
conn_tls_bios(struct conn *c, SSL *ssl)
{
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());

	if (r == NULL || w == NULL) {
		BIO_free(r);
		BIO_free(w);
		return -1;
	}
	BIO_set_mem_eof_return(r, -1);	/* empty: "retry", not EOF */
	SSL_set_bio(ssl, r, w);		/* ssl owns them now */
	c->tls_rbio = r;
	c->tls_wbio = w;
	return 0;
}

int
conn_starttls(struct conn *c, SSL_CTX *ctx, bool server,
    const struct tls_conn_opts *o, size_t *discarded_r, char *err,
    size_t errlen)
{
	SSL *ssl;

	if (c->tls != CONN_TLS_OFF || c->connecting) {
		snprintf(err, errlen, "TLS already started");
		return -1;
	}
	if ((ssl = SSL_new(ctx)) == NULL) {
		tls_failure(NULL, SSL_ERROR_SSL, err, errlen);
		return -1;
	}
	if (o != NULL && tls_ssl_apply(ssl, o, err, errlen) == -1) {
		SSL_free(ssl);
		return -1;
	}
	if (conn_tls_bios(c, ssl) == -1) {
		snprintf(err, errlen, "out of memory for TLS buffers");
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	if (discarded_r != NULL)
		*discarded_r = c->in.len;
	buf_reset(&c->in);
	buf_init(&c->tls_out, CONN_TLS_OUT_MAX);
	c->ssl = ssl;
	c->tls = CONN_TLS_PENDING;
	c->tls_error[0] = '\0';
	conn_update(c);
	return 0;
}

void
conn_tls_wants(struct conn *c, bool *rd, bool *wr)
{
	bool room = BIO_ctrl_pending(c->tls_rbio) < CONN_TLS_RBIO_MAX &&
	    !c->tls_eof;

	switch (c->tls) {
	case CONN_TLS_PENDING:
		*rd = false;
		*wr = true;	/* flush, then the first handshake step */
		return;
	case CONN_TLS_HANDSHAKE:
		*rd = room;
		*wr = c->tls_out.len > 0;
		return;
	case CONN_TLS_ON:
		*rd = room && c->reading && c->in.len < c->in.max;
		*wr = c->tls_out.len > 0 || c->out.len > 0;
		return;
	default:
		*rd = *wr = false;
		return;
	}
}

bool
conn_tls_buffered(const struct conn *c)
{
	return c->tls == CONN_TLS_ON && c->in.len < c->in.max &&
	    (c->tls_more || SSL_pending(c->ssl) > 0);
}

/* A fatal error: remember why, stop all I/O. */
static int conn_tls_send(struct conn *c);

static void
conn_tls_dead(struct conn *c, int sslerr, int error)
{
	if (c->tls_error[0] == '\0')
		tls_failure(c->ssl, sslerr, c->tls_error, sizeof(c->tls_error));
	(void)conn_tls_send(c);		/* an alert, if there is one */
	c->error = error != 0 ? error : EPROTO;
	c->tls = CONN_TLS_DEAD;
	conn_update(c);
}

/* Ciphertext from the socket into tls_rbio (one read).  -1 on error. */
static int
conn_tls_recv(struct conn *c)
{
	char tmp[CONN_TLS_CHUNK];
	ssize_t n;

	if (c->tls_eof || BIO_ctrl_pending(c->tls_rbio) >= CONN_TLS_RBIO_MAX)
		return 0;
	n = read(c->fd, tmp, sizeof(tmp));
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		c->tls_eof = true;
		BIO_set_mem_eof_return(c->tls_rbio, 0);	/* OpenSSL sees EOF */
		return 0;
	}
	if (BIO_write(c->tls_rbio, tmp, (int)n) != (int)n) {
		errno = ENOMEM;
		return -1;
	}
	conn_touch(c);
	return 0;
}

/* Ciphertext OpenSSL produced into tls_out, then to the socket as far as
 * it takes it.  -1 on error (errno set). */
static int
conn_tls_send(struct conn *c)
{
	char tmp[CONN_TLS_CHUNK];
	ssize_t n;
	int k;

	while ((k = BIO_read(c->tls_wbio, tmp, sizeof(tmp))) > 0)
		if (buf_append(&c->tls_out, tmp, (size_t)k) == -1) {
			errno = ENOBUFS;	/* cannot happen: SSL_write waits */
			return -1;
		}
	while (c->tls_out.len > 0) {
		n = send(c->fd, c->tls_out.data, c->tls_out.len, MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		buf_consume(&c->tls_out, (size_t)n);
		conn_touch(c);
	}
	return 0;
}

static void
conn_tls_handshake(struct conn *c)
{
	int r, e, error;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_WRITE)
		e = SSL_ERROR_WANT_READ;	/* (not with memory BIOs) */
	if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ) {
		conn_tls_dead(c, e, 0);
		c->cb(c, CONN_TLS_FAILED, c->arg);
		return;
	}
	if (conn_tls_send(c) == -1) {
		error = errno;
		snprintf(c->tls_error, sizeof(c->tls_error), "%s",
		    strerror(error));
		conn_tls_dead(c, SSL_ERROR_SYSCALL, error);
		c->cb(c, CONN_TLS_FAILED, c->arg);
		return;
	}
	if (e == SSL_ERROR_WANT_READ) {
		conn_update(c);
		return;
	}
	c->tls = CONN_TLS_ON;
	/* what came with the last handshake message (a pipelined EHLO)
	 * will not make the socket readable again */
	c->tls_more = BIO_ctrl_pending(c->tls_rbio) > 0;
	conn_update(c);
	c->cb(c, CONN_TLS_READY, c->arg);
}

/* SSL_read() into `in` while it has room; the last SSL error, or 0. */
static int
conn_tls_fill(struct conn *c, size_t *got)
{
	char tmp[CONN_TLS_CHUNK];
	size_t room;
	int n;

	*got = 0;
	while ((room = c->in.max - c->in.len) > 0) {
		ERR_clear_error();
		errno = 0;
		n = SSL_read(c->ssl, tmp, (int)(room < sizeof(tmp) ? room :
		    sizeof(tmp)));
		if (n <= 0)
			return SSL_get_error(c->ssl, n);
		if (buf_append(&c->in, tmp, (size_t)n) == -1)
			return SSL_ERROR_SSL;	/* cannot happen: room */
		*got += (size_t)n;
	}
	return 0;
}

/* The read watcher, TLS on: socket -> rbio -> in. */
static void
conn_tls_input(struct conn *c)
{
	size_t got;
	int e, error;

	c->tls_more = false;
	if (conn_tls_recv(c) == -1) {
		error = errno;
		snprintf(c->tls_error, sizeof(c->tls_error), "%s",
		    strerror(error));
		conn_tls_dead(c, SSL_ERROR_SYSCALL, error);
		c->cb(c, CONN_ERROR, c->arg);
		return;
	}
	e = conn_tls_fill(c, &got);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		e = 0;		/* more ciphertext needed (or flushed below) */
	/* full `in`, or an end after data: come back (conn_tls_buffered) */
	c->tls_more = (e == 0 && c->in.len == c->in.max) ||
	    (e != 0 && got > 0);
	if (e != 0 && e != SSL_ERROR_ZERO_RETURN && got == 0) {
		conn_tls_dead(c, e, 0);
		c->cb(c, CONN_ERROR, c->arg);
		return;
	}
	conn_update(c);		/* SSL_read may have queued ciphertext */
	if (got > 0) {
		c->cb(c, CONN_READABLE, c->arg);
		return;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		/* close_notify (or a bare EOF): conn_free() answers it */
		ev_io_stop(c->loop, &c->rio);
		c->cb(c, CONN_EOF, c->arg);
	}
}

/* The write watcher, TLS on: out -> wbio -> tls_out -> socket. */
static void
conn_tls_output(struct conn *c)
{
	size_t sent = 0;
	int n, e = 0;

	if (conn_tls_send(c) == -1)
		goto fail;
	while (c->out.len > 0 && c->tls_out.len < CONN_TLS_OUT_HIGH) {
		ERR_clear_error();
		n = SSL_write(c->ssl, c->out.data, (int)(c->out.len <
		    CONN_TLS_CHUNK ? c->out.len : CONN_TLS_CHUNK));
		if (n <= 0) {
			e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				break;	/* not with memory BIOs; retried */
			conn_tls_dead(c, e, 0);
			c->cb(c, CONN_ERROR, c->arg);
			return;
		}
		buf_consume(&c->out, (size_t)n);
		sent += (size_t)n;
		if (conn_tls_send(c) == -1)
			goto fail;
	}
	if (sent > 0)
		c->tls_drain = true;
	conn_update(c);
	/* as in clear text: everything is in the kernel's hands */
	if (c->tls_drain && c->out.len == 0 && c->tls_out.len == 0) {
		c->tls_drain = false;
		c->cb(c, CONN_DRAINED, c->arg);
	}
	return;
fail:
	e = errno;
	snprintf(c->tls_error, sizeof(c->tls_error), "%s", strerror(e));
	conn_tls_dead(c, SSL_ERROR_SYSCALL, e);
	c->cb(c, CONN_ERROR, c->arg);
}

void
conn_tls_on_read(struct conn *c)
{
	switch (c->tls) {
	case CONN_TLS_HANDSHAKE:
		if (conn_tls_recv(c) == -1) {
			snprintf(c->tls_error, sizeof(c->tls_error), "%s",
			    strerror(errno));
			conn_tls_dead(c, SSL_ERROR_SYSCALL, errno);
			c->cb(c, CONN_TLS_FAILED, c->arg);
			return;
		}
		conn_tls_handshake(c);
		return;
	case CONN_TLS_ON:
		conn_tls_input(c);
		return;
	default:
		conn_update(c);
		return;
	}
}

void
conn_tls_on_write(struct conn *c)
{
	switch (c->tls) {
	case CONN_TLS_PENDING:
		if (conn_send_plain(c) == -1) {
			c->tls = CONN_TLS_DEAD;
			conn_update(c);
			c->cb(c, CONN_ERROR, c->arg);
			return;
		}
		if (c->out.len > 0)
			return;
		c->tls = CONN_TLS_HANDSHAKE;
		conn_tls_handshake(c);
		return;
	case CONN_TLS_HANDSHAKE:
		conn_tls_handshake(c);
		return;
	case CONN_TLS_ON:
		conn_tls_output(c);
		return;
	default:
		conn_update(c);
		return;
	}
}

void
conn_tls_free(struct conn *c)
{
	if (c->ssl == NULL)
		return;
	if (c->tls == CONN_TLS_ON) {
		/* one close_notify, if the socket takes it; no waiting */
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
		(void)conn_tls_send(c);
	}
	SSL_free(c->ssl);		/* and its BIOs */
	ERR_clear_error();
	buf_free(&c->tls_out);
	c->ssl = NULL;
	c->tls_rbio = c->tls_wbio = NULL;
	c->tls = CONN_TLS_OFF;
}

bool
conn_tls_active(const struct conn *c)
{
	return c->tls == CONN_TLS_ON;
}

const char *
conn_tls_protocol(const struct conn *c)
{
	return c->tls == CONN_TLS_ON ? SSL_get_version(c->ssl) : NULL;
}

const char *
conn_tls_cipher(const struct conn *c)
{
	return c->tls == CONN_TLS_ON ? SSL_get_cipher_name(c->ssl) : NULL;
}

int
conn_tls_bits(const struct conn *c)
{
	return c->tls == CONN_TLS_ON ? SSL_get_cipher_bits(c->ssl, NULL) : 0;
}

const char *
conn_tls_servername(const struct conn *c)
{
	return c->ssl != NULL ? SSL_get_servername(c->ssl,
	    TLSEXT_NAMETYPE_host_name) : NULL;
}

void
conn_tls_describe(const struct conn *c, char *out, size_t size)
{
	if (c->tls == CONN_TLS_ON)
		tls_describe(c->ssl, out, size);
	else if (size > 0)
		out[0] = '\0';
}

const char *
conn_tls_error(const struct conn *c)
{
	return c->tls_error;
}

bool
conn_tls_peer_is(const struct conn *c, const struct x509_st *cert,
    bool *verified)
{
	X509 *peer;
	bool same;

	*verified = false;
	if (c->tls != CONN_TLS_ON || cert == NULL ||
	    (peer = SSL_get1_peer_certificate(c->ssl)) == NULL)
		return false;
	same = X509_cmp(peer, cert) == 0;
	X509_free(peer);
	*verified = SSL_get_verify_result(c->ssl) == X509_V_OK;
	return same;
}

bool
conn_tls_has_peer_cert(const struct conn *c)
{
	X509 *peer;

	if (c->tls != CONN_TLS_ON ||
	    (peer = SSL_get1_peer_certificate(c->ssl)) == NULL)
		return false;
	X509_free(peer);
	return true;
}
