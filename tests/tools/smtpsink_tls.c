/*
 * smtpsink_tls: STARTTLS on the sink (--tls-cert FILE).
 *
 * With a certificate the sink offers STARTTLS in its EHLO reply.  After
 * "220 ready to start TLS" is flushed, whatever the client sent behind
 * the command is dropped, and the handshake runs with SSL on the socket
 * (the sink ignores SIGPIPE).  Then the session starts over: the client
 * must say EHLO again.  The "tls" record and each later "message" record
 * say that TLS was used, with the protocol, the cipher and the name the
 * client sent as SNI (smtpsink_record.c).
 *
 * The I/O functions behave like read(2) and send(2): -1 with errno
 * EAGAIN when OpenSSL waits, and then c->tls_want_read or
 * c->tls_want_write tells conn_settle() which watcher to run.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "lib/log.h"
#include "lib/tls.h"
#include "lib/xmalloc.h"
#include "smtpsink.h"

void
sink_tls_init(struct sink *sink, const char *cert)
{
	struct tls_settings ts;
	char err[512];

	memset(&ts, 0, sizeof(ts));
	ts.cert_file = cert;
	if ((sink->tls_ctx = tls_ctx_new(true, &ts, err, sizeof(err))) == NULL)
		fatalx("smtpsink: --tls-cert: %s", err);
}

/* The handshake completed: a fresh session, as RFC 3207 4.2 wants. */
static void
sink_tls_ready(struct sink_conn *c)
{
	const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);

	c->tls = SINK_TLS_ON;
	snprintf(c->tls_protocol, sizeof(c->tls_protocol), "%s",
	    SSL_get_version(c->ssl));
	snprintf(c->tls_cipher, sizeof(c->tls_cipher), "%s",
	    SSL_get_cipher_name(c->ssl));
	free(c->sni);
	c->sni = sni != NULL ? xstrdup(sni) : NULL;
	smtp_txn_reset(c);
	free(c->helo);
	c->helo = NULL;
	c->greeted = c->esmtp = false;
	record_tls(c);
	if (!c->sink->quiet)
		log_info("smtpsink: %s: %s, SNI %s", c->peer,
		    SSL_get_version(c->ssl), c->sni ? c->sni : "none");
}

void
sink_tls_handshake(struct sink_conn *c)
{
	int r, e;
	char why[256];

	c->tls_want_read = c->tls_want_write = false;
	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		sink_tls_ready(c);
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->tls_want_read = e == SSL_ERROR_WANT_READ;
		c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
		return;
	}
	tls_failure(c->ssl, e, why, sizeof(why));
	log_warnx("smtpsink: %s: TLS handshake failed: %s", c->peer, why);
	c->tls = SINK_TLS_DEAD;
	c->phase = CONN_DEAD;
}

void
sink_tls_begin(struct sink_conn *c)
{
	if (c->in.len > 0 && !c->sink->quiet)
		log_info("smtpsink: %s: %zu byte(s) behind STARTTLS dropped",
		    c->peer, c->in.len);
	buf_reset(&c->in);
	c->in_off = 0;
	if ((c->ssl = SSL_new(c->sink->tls_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		log_warnx("smtpsink: %s: cannot start TLS", c->peer);
		c->phase = CONN_DEAD;
		return;
	}
	SSL_set_accept_state(c->ssl);
	c->tls = SINK_TLS_HANDSHAKE;
	sink_tls_handshake(c);
}

/* After SSL_read/SSL_write returned r <= 0: errno and the wait flags. */
static ssize_t
sink_tls_error(struct sink_conn *c, int r, bool reading)
{
	int e = SSL_get_error(c->ssl, r);

	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		if (reading)
			c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
		else
			c->tls_want_read = e == SSL_ERROR_WANT_READ;
		errno = EAGAIN;
		return -1;
	}
	c->tls = SINK_TLS_DEAD;
	ERR_clear_error();
	errno = EPROTO;
	return -1;
}

ssize_t
sink_tls_read(struct sink_conn *c, void *p, size_t n)
{
	int r;

	c->tls_want_write = false;
	ERR_clear_error();
	r = SSL_read(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	return r > 0 ? r : sink_tls_error(c, r, true);
}

ssize_t
sink_tls_write(struct sink_conn *c, const void *p, size_t n)
{
	int r;

	c->tls_want_read = false;
	ERR_clear_error();
	r = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	return r > 0 ? r : sink_tls_error(c, r, false);
}

void
sink_tls_close(struct sink_conn *c)
{
	if (c->tls == SINK_TLS_ON) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);	/* close_notify, no waiting */
		ERR_clear_error();
		c->tls = SINK_TLS_DEAD;
	}
}

void
sink_tls_free(struct sink_conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
	free(c->sni);
	c->sni = NULL;
	ERR_clear_error();
}
