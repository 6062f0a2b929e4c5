/*
 * smtpsink: private interface shared by the sink's files.
 *
 *   smtpsink.c         main: options, listeners, signals, accept
 *   smtpsink_conn.c    one connection: non-blocking I/O, input framing
 *                      (command lines, DATA), deferred replies, closing
 *   smtpsink_smtp.c    the SMTP dialogue: command table, transaction,
 *                      per-recipient scripting
 *   smtpsink_record.c  JSON event records, SHA-256, maildir files
 *   smtpsink_tls.c     STARTTLS (--tls-cert)
 *
 * Ownership: struct sink (one, on main's stack) owns the listeners and
 * the list of connections; a connection owns its buffers, its
 * transaction and its watchers, and is freed only by conn_settle() at
 * the end of a libev callback, never in the middle of processing.
 */
#ifndef TERN_TESTS_SMTPSINK_H
#define TERN_TESTS_SMTPSINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <ev.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "lib/buf.h"

#define SINK_MAGIC		0x51e75a1du
#define SINK_LISTENER_MAGIC	0x51e71157u
#define SINK_CONN_MAGIC		0x51e7c011u

#define SINK_LINE_MAX		4096		/* command line, CRLF excluded */
#define SINK_IN_MAX		(64 * 1024)	/* unprocessed input */
#define SINK_OUT_HIGH		(64 * 1024)	/* stop reading commands above */
#define SINK_OUT_MAX		(1024 * 1024)	/* queued replies, hard cap */
#define SINK_MSG_MAX		(64ULL * 1024 * 1024)	/* then 552 */
#define SINK_ADDR_MAX		512
#define SINK_RCPTS_MAX		10000		/* per transaction, then 452 */
#define SINK_WAIT_MAX		600000		/* longest scripted wait, ms */
#define SINK_LINGER		5.0		/* s to drain input after close */
#define SINK_NAME_MAX		64		/* "[v6addr]:port" */
#define SINK_TEXT_MAX		128		/* m=TEXT of a scripted reply */

struct sink_conn;

struct sink_listener {
	unsigned		 magic;
	struct sink		*sink;
	ev_io			 io;
	char			 name[SINK_NAME_MAX];	/* "IP:PORT" as bound */
	struct sink_listener	*next;
};

/* Options and process-wide state; one instance, owned by main(). */
struct sink {
	unsigned		 magic;
	struct ev_loop		*loop;
	struct sink_listener	*listeners;
	struct sink_conn	*conns;		/* open connections */
	ev_timer		 accept_retry;	/* after EMFILE */
	ev_signal		 sigterm, sigint;
	const char		*hostname;
	const char		*record_path;
	const char		*maildir;
	const char		*pidfile;
	const char		*tls_cert;
	FILE			*record;
	SSL_CTX			*tls_ctx;	/* --tls-cert: STARTTLS offered */
	int			 greeting;	/* 220 unless --greeting */
	int			 mail_reply;	/* 250 unless --mail-reply */
	bool			 no_pipelining;
	int			 ehlo_reply;	/* --ehlo-reply: refuse EHLO, 0 = no */
	long			 greeting_delay; /* ms before the greeting */
	long			 ehlo_stall;	/* ms after the first EHLO line */
	unsigned long long	 size;		/* SIZE advertised and enforced */
	unsigned		 no_ext;	/* SINK_EXT_* not advertised */
	bool			 quiet;
	unsigned long		 next_id;	/* message ids, from 1 */
};

/* EHLO keywords --no-ext can take away (PIPELINING: --no-pipelining too). */
enum sink_ext {
	SINK_EXT_PIPELINING	= 1 << 0,
	SINK_EXT_8BITMIME	= 1 << 1,
	SINK_EXT_SIZE		= 1 << 2,
	SINK_EXT_ENHANCED	= 1 << 3,	/* ENHANCEDSTATUSCODES */
	SINK_EXT_SMTPUTF8	= 1 << 4,
	SINK_EXT_DSN		= 1 << 5,
};

/* Scripted actions from a recipient's local part ("alice+r550+w200"). */
struct sink_actions {
	int	rcode;		/* rNNN, 0 = none */
	int	dcode;		/* dNNN, 0 = none */
	long	wait_ms;	/* wMS, 0 = none */
	long	data_wait_ms;	/* wdMS, 0 = none */
	long	body_wait_ms;	/* wbMS, 0 = none */
	bool	drop_rcpt;	/* xr */
	bool	drop_data;	/* xd */
	bool	no_enhanced;	/* ne */
	char	text[SINK_TEXT_MAX];	/* m=TEXT ('_' as spaces), or "" */
};

struct sink_rcpt {
	char	*addr;
	char	*params;	/* the RCPT parameters as sent, "" if none */
	int	 code;		/* the reply given */
};

/* The mail transaction, from MAIL to the end-of-DATA reply or RSET. */
struct sink_txn {
	bool		 active;	/* MAIL was accepted */
	bool		 utf8;		/* MAIL had SMTPUTF8 */
	bool		 pipelined;	/* more commands came with MAIL */
	char		*mail_from;
	char		*mail_params;	/* the MAIL parameters as sent */
	struct sink_rcpt *rcpts;	/* in order, accepted and rejected */
	size_t		 nrcpts, rcpts_cap, naccepted;
	int		 dcode;		/* from the first accepted dNNN */
	long		 data_wait_ms;	/* from the first accepted wdMS */
	long		 body_wait_ms;	/* from the first accepted wbMS */
	bool		 drop_data;	/* an accepted recipient had xd */
	/* DATA phase */
	unsigned long	 id;
	int		 unstuff;	/* sink_unstuff_feed() state */
	unsigned long long size;	/* unstuffed bytes received */
	char		 sha256[65];	/* hex, at the end of the content */
	bool		 too_big;
	EVP_MD_CTX	*md;
	FILE		*mfile;		/* maildir temporary file */
	char		*mtmp;		/* its path */
	bool		 merr;		/* writing it failed */
};

enum conn_phase {
	CONN_CMD,		/* reading command lines */
	CONN_DATA,		/* reading message content */
	CONN_CLOSING,		/* flushing replies, then shutdown */
	CONN_LINGER,		/* shut down; draining input until EOF */
	CONN_DEAD,		/* to be freed by conn_settle() */
};

/* STARTTLS on a connection (smtpsink_tls.c). */
enum sink_tls {
	SINK_TLS_OFF,
	SINK_TLS_START,		/* "220 ready" queued: flush, then handshake */
	SINK_TLS_HANDSHAKE,
	SINK_TLS_ON,
	SINK_TLS_DEAD,		/* failed or shut down */
};

/* What a deferred reply does once its wait is over. */
enum conn_defer {
	DEFER_NONE,
	DEFER_RCPT,		/* a RCPT reply (w) */
	DEFER_DATA,		/* an end-of-DATA reply (wd) */
	DEFER_GREETING,		/* the greeting (--greeting-delay) */
	DEFER_EHLO,		/* the rest of the EHLO reply (--ehlo-stall) */
	DEFER_BODY,		/* reading the content after 354 (wb) */
};

struct sink_conn {
	unsigned		 magic;
	struct sink		*sink;
	int			 fd;
	ev_io			 rio, wio;
	ev_timer		 wait;		/* scripted w / wd delays */
	ev_timer		 linger;
	struct buf		 in, out;
	size_t			 in_off;	/* processed part of in */
	enum conn_phase		 phase;
	bool			 eof;		/* peer finished sending */
	bool			 discarding;	/* inside an over-long line */
	bool			 greeted;	/* HELO/EHLO accepted */
	bool			 esmtp;
	bool			 more_input;	/* input followed the current line */
	char			*helo;
	char			 peer[SINK_NAME_MAX], local[SINK_NAME_MAX];
	struct sink_txn		 txn;
	/* The reply held back by a scripted wait. */
	enum conn_defer		 defer;
	char			 defer_addr[SINK_ADDR_MAX + 1];
	int			 defer_code;
	bool			 defer_close;
	/* TLS */
	enum sink_tls		 tls;
	SSL			*ssl;
	bool			 tls_want_read;		/* OpenSSL waits for */
	bool			 tls_want_write;	/* the other side */
	char			 tls_protocol[32];	/* "" until TLS is on */
	char			 tls_cipher[64];
	char			*sni;		/* the name the client sent */
	struct sink_conn	*prev, *next;
};

/* smtpsink.c */
struct sockaddr_storage;
void	sink_addr_format(const struct sockaddr_storage *ss, char *out,
	    size_t outlen);

/* smtpsink_conn.c */
void	conn_accept(struct sink *sink, int fd);
void	conn_close_all(struct sink *sink);
void	conn_reply(struct sink_conn *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	conn_close_after_flush(struct sink_conn *c);
void	conn_defer_reply(struct sink_conn *c, enum conn_defer what,
	    long ms, int code, const char *addr, bool close_after);
size_t	sink_unstuff_feed(int *state, const char *in, size_t len,
	    char *out, size_t *out_len, bool *done);

/* smtpsink_smtp.c */
void	smtp_greet(struct sink_conn *c);
void	smtp_ehlo_rest(struct sink_conn *c);
void	smtp_line(struct sink_conn *c, const char *line, size_t len);
void	smtp_line_too_long(struct sink_conn *c);
void	smtp_data_content(struct sink_conn *c, const char *p, size_t n);
void	smtp_data_end(struct sink_conn *c);
void	smtp_rcpt_reply(struct sink_conn *c, const char *addr,
	    const char *params, int code, bool close_after);
void	smtp_data_reply(struct sink_conn *c);
void	smtp_txn_reset(struct sink_conn *c);
void	sink_actions_parse(const char *addr, struct sink_actions *a);
/* The decimal number p[0..n) within [min, max], or -1. */
long	sink_number(const char *p, size_t n, long min, long max);
/* A reply code 2xx, 4xx or 5xx in p[0..n), or -1. */
int	sink_code_parse(const char *p, size_t n);

/* smtpsink_record.c */
void	record_connect(struct sink_conn *c);
void	record_quit(struct sink_conn *c);
void	record_close(struct sink_conn *c);
void	record_rcpt(struct sink_conn *c, const char *addr, const char *params,
	    int code);
void	record_message(struct sink_conn *c, int reply, const char *sha256);
void	record_tls(struct sink_conn *c);
int	maildir_open(struct sink_conn *c);
void	maildir_write(struct sink_conn *c, const char *p, size_t n);
/* Keep (rename to DIR/<id>.eml) or remove the file; -1 if keeping failed. */
int	maildir_finish(struct sink_conn *c, bool keep);
int	json_string(struct buf *b, const char *s);

/* smtpsink_tls.c */
void	sink_tls_init(struct sink *sink, const char *cert);
/* Drop buffered input, start the handshake (c->phase DEAD on failure). */
void	sink_tls_begin(struct sink_conn *c);
void	sink_tls_handshake(struct sink_conn *c);
/* read(2)/send(2)-like; -1 with errno EAGAIN while OpenSSL waits. */
ssize_t	sink_tls_read(struct sink_conn *c, void *p, size_t n);
ssize_t	sink_tls_write(struct sink_conn *c, const void *p, size_t n);
/* Send close_notify (once, without waiting). */
void	sink_tls_close(struct sink_conn *c);
void	sink_tls_free(struct sink_conn *c);

#endif
