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
 */
#ifndef TERN_LIB_CONN_H
#define TERN_LIB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

#include "lib/buf.h"

enum conn_event {
	CONN_CONNECTED,		/* an outbound connect() completed */
	CONN_READABLE,		/* new bytes are in c->in */
	CONN_DRAINED,		/* the output queue became empty */
	CONN_EOF,		/* the peer closed its side */
	CONN_ERROR,		/* connect or I/O error (c->error holds errno) */
	CONN_TIMEOUT,		/* no progress within the timeout */
};

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

/* Create a non-blocking socket connecting to sa (from src if given). */
int	conn_connect_socket(const struct sockaddr *sa, socklen_t salen,
	    const struct sockaddr *src, socklen_t srclen);

#endif
