/*
 * conn: a non-blocking, buffered stream connection on the libev loop,
 * shared by the SMTP server and client sessions.
 *
 * The owner gets one callback per event.  Input accumulates in `in`
 * (capped) and is taken a line at a time with conn_getline(); output is
 * queued with conn_write()/conn_printf() and flushed as the socket
 * allows.  A single inactivity timer covers both directions.
 *
 * Ownership: the callback may call conn_free() (and free its owner);
 * conn never touches the object after invoking the callback.
 *
 * TLS (conn_tls.c): conn_starttls() upgrades an established connection
 * in place, as client or server.  `in` and `out` then hold clear text
 * and keep their caps; OpenSSL works on memory BIOs and conn moves the
 * ciphertext between them and the socket, through one more capped
 * buffer (tls_out), so OpenSSL never sees a blocked socket.
 */
#ifndef TERN_LIB_CONN_H
#define TERN_LIB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <ev.h>

#include "lib/buf.h"

enum conn_event {
	CONN_CONNECTED,		/* an outbound connect() completed */
	CONN_READABLE,		/* new bytes are in c->in */
	CONN_DRAINED,		/* the output queue became empty */
	CONN_EOF,		/* the peer closed its side */
	CONN_ERROR,		/* connect or I/O error (c->error holds errno) */
	CONN_TIMEOUT,		/* no progress within the timeout */
	CONN_TLS_READY,		/* the TLS handshake completed */
	CONN_TLS_FAILED,	/* it failed (conn_tls_error() says why) */
};

/* Where a connection is with TLS. */
enum conn_tls {
	CONN_TLS_OFF,		/* clear text */
	CONN_TLS_PENDING,	/* flushing the clear-text output first */
	CONN_TLS_HANDSHAKE,
	CONN_TLS_ON,
	CONN_TLS_DEAD,		/* failed: no more I/O, no close_notify */
};

struct bio_st;
struct ssl_st;
struct ssl_ctx_st;
struct tls_conn_opts;
struct x509_st;

struct conn;
typedef void conn_cb(struct conn *c, enum conn_event ev, void *arg);

struct conn {
	unsigned	 magic;
	struct ev_loop	*loop;
	int		 fd;
	ev_io		 rio, wio;
	ev_timer	 timer;
	double		 timeout;
	struct buf	 in, out;
	conn_cb		*cb;
	void		*arg;
	int		 error;
	bool		 connecting;
	bool		 reading;	/* read watcher wanted */
	/* TLS */
	struct ssl_st	*ssl;		/* from conn_starttls() on */
	struct bio_st	*tls_rbio;	/* ciphertext received, for OpenSSL */
	struct bio_st	*tls_wbio;	/* ciphertext OpenSSL produced */
	struct buf	 tls_out;	/* ciphertext to send (capped) */
	enum conn_tls	 tls;
	bool		 tls_eof;	/* the socket reached its end */
	bool		 tls_more;	/* SSL_read stopped early (full `in`,
					   or an end after data): again */
	bool		 tls_drain;	/* clear text went out since the last
					   CONN_DRAINED (due once tls_out is
					   empty too) */
	char		 tls_error[160];
};

#define CONN_MAGIC	0x636f6e6eu

/*
 * Take over fd (already non-blocking).  If `connecting`, wait for the
 * connect to finish and report CONN_CONNECTED.  in_max/out_max cap the
 * buffers.
 */
void	conn_init(struct conn *c, struct ev_loop *loop, int fd,
	    bool connecting, size_t in_max, size_t out_max, conn_cb *cb,
	    void *arg);
/* Stop the watchers, close the fd, free the buffers. */
void	conn_free(struct conn *c);
void	conn_set_timeout(struct conn *c, double seconds);
/* Pause/resume reading (back-pressure). */
void	conn_read_enable(struct conn *c, bool on);
/* Queue output; -1 if the output cap would be exceeded. */
int	conn_write(struct conn *c, const void *p, size_t n);
int	conn_printf(struct conn *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
size_t	conn_pending(const struct conn *c);
/* The owner appended to c->out itself (e.g. encoding in place): send it. */
void	conn_flush(struct conn *c);
/*
 * Take the next line from c->in, without its line end (CRLF or LF).
 * Returns 1 and sets line and len (valid until the next conn call),
 * 0 if no complete line is buffered, -1 if the buffered partial line is
 * longer than max (the caller replies and closes, or discards).
 * The line is consumed by conn_consume(c, consumed) with the value in
 * *consumed, so that a caller may peek first.
 */
int	conn_getline(struct conn *c, size_t max, const char **line,
	    size_t *len, size_t *consumed);
void	conn_consume(struct conn *c, size_t n);

/*
 * Start TLS on an established connection: server (accept) or client
 * (connect) role, with ctx and the per-connection options o (may be
 * NULL).  Clear-text input already buffered is discarded (RFC 3207: no
 * command or reply may be carried over; *discarded_r gets its size) and
 * no more clear text is read; clear-text output already queued (the
 * server's "220 ready") is sent first, then the handshake runs and ends
 * with CONN_TLS_READY or CONN_TLS_FAILED.  0, or -1 with a reason in err
 * (the connection is unchanged).
 */
int	conn_starttls(struct conn *c, struct ssl_ctx_st *ctx, bool server,
	    const struct tls_conn_opts *o, size_t *discarded_r, char *err,
	    size_t errlen);
/* After CONN_TLS_READY: is the stream encrypted? */
bool	conn_tls_active(const struct conn *c);
/* The negotiated protocol ("TLSv1.3"), cipher, its bits; NULL/0 if none. */
const char *conn_tls_protocol(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);
int	conn_tls_bits(const struct conn *c);
/* Server side: the name the client sent as SNI, or NULL. */
const char *conn_tls_servername(const struct conn *c);
/* "TLSv1.3 connected with 256-bit TLS_AES_256_GCM_SHA384" ("" if none). */
void	conn_tls_describe(const struct conn *c, char *out, size_t size);
/* Server side, asking for client certificates: is the client's
 * certificate the same as cert (X509_cmp)?  *verified: did it also pass
 * the context's CA file. */
bool	conn_tls_peer_is(const struct conn *c, const struct x509_st *cert,
	    bool *verified);
/* Did the client present a certificate at all? */
bool	conn_tls_has_peer_cert(const struct conn *c);
/* Why the handshake or a TLS read/write failed ("" if it did not). */
const char *conn_tls_error(const struct conn *c);

/* Create a non-blocking socket connecting to sa (from src if given). */
int	conn_connect_socket(const struct sockaddr *sa, socklen_t salen,
	    const struct sockaddr *src, socklen_t srclen);

#endif
