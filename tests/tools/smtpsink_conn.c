/*
 * smtpsink_conn: one client connection, non-blocking.
 *
 * Input is framed here and handed to smtpsink_smtp.c strictly in order:
 * every complete command line in the input buffer is processed before
 * the next read (PIPELINING), and replies are queued in order in the
 * output buffer, which is written once per batch.  Processing stops,
 * and the unprocessed input stays buffered, while
 *   - a scripted wait holds back a reply (conn_defer_reply): later
 *     commands must not be answered before it;
 *   - more than SINK_OUT_HIGH bytes of replies are unsent (the client
 *     does not read: back-pressure instead of unbounded growth).
 * Reading stops while the input buffer is full.
 *
 * Closing is graceful: queued replies are flushed, the write side is
 * shut down (after a TLS close_notify), and input is drained until EOF
 * or SINK_LINGER seconds, so that the last reply is not lost to a reset.
 * A connection is freed only by conn_settle(), the last step of every
 * callback.  STARTTLS: smtpsink_tls.c.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "smtpsink.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0
#endif

#define CONN_READ_CHUNK	16384
#define CONN_DATA_CHUNK	16384

OBJ_DEFINE_CAST(sink_conn)

/* sink_unstuff_feed() states; 0 is the start of the content. */
enum {
	US_LINE_START = 0,	/* after CRLF */
	US_MID,			/* inside a line */
	US_CR,			/* after a CR */
	US_DOT,			/* after a '.' at the start of a line */
	US_DOT_CR,		/* after ".\r" at the start of a line */
};

/*
 * Remove dot-stuffing from in[0..len) into out and stop after the end
 * marker, which is only <CRLF>.<CRLF> (the CRLF ending the DATA command
 * counts as the first one).  Everything else, bare LFs included, is
 * content kept byte for byte.  out must hold len + 1 bytes (a ".\r"
 * held over from the previous call may be released as "\r").  Returns
 * the input bytes consumed: fewer than len only when *done.
 */
size_t
sink_unstuff_feed(int *state, const char *in, size_t len, char *out,
    size_t *out_len, bool *done)
{
	size_t i, o = 0;
	int st = *state, prev;
	char ch;

	*done = false;
	for (i = 0; i < len; i++) {
		ch = in[i];
		if (st == US_LINE_START && ch == '.') {
			st = US_DOT;
			continue;
		}
		if (st == US_DOT) {
			if (ch == '\r') {
				st = US_DOT_CR;
				continue;
			}
			st = US_MID;	/* the dot was stuffing */
		} else if (st == US_DOT_CR) {
			if (ch == '\n') {
				*done = true;
				i++;
				break;
			}
			out[o++] = '\r';
			st = US_CR;
		}
		out[o++] = ch;
		prev = st;
		st = ch == '\r' ? US_CR :
		    (ch == '\n' && prev == US_CR) ? US_LINE_START : US_MID;
	}
	*state = *done ? US_LINE_START : st;
	*out_len = o;
	return i;
}

void
conn_reply(struct sink_conn *c, const char *fmt, ...)
{
	va_list ap;
	int n;
	char line[1024];

	if (c->phase >= CONN_LINGER)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		log_warnx("smtpsink: %s: reply too long", c->peer);
		n = n < 0 ? 0 : (int)sizeof(line) - 3;
	}
	memcpy(line + n, "\r\n", 2);
	if (buf_append(&c->out, line, (size_t)n + 2) == -1) {
		/* Cannot happen with back-pressure; be safe anyway. */
		log_warnx("smtpsink: %s: output buffer full", c->peer);
		c->phase = CONN_DEAD;
	}
}

void
conn_close_after_flush(struct sink_conn *c)
{
	if (c->phase >= CONN_CLOSING)
		return;
	c->phase = CONN_CLOSING;
	c->defer = DEFER_NONE;
	ev_timer_stop(c->sink->loop, &c->wait);
}

void
conn_defer_reply(struct sink_conn *c, enum conn_defer what, long ms,
    int code, const char *addr, bool close_after)
{
	c->defer = what;
	c->defer_code = code;
	c->defer_close = close_after;
	snprintf(c->defer_addr, sizeof(c->defer_addr), "%s", addr);
	ev_timer_set(&c->wait, (double)ms / 1000.0, 0.);
	ev_timer_start(c->sink->loop, &c->wait);
}

/* One command line from the input, if complete.  false: need more. */
static bool
conn_process_line(struct sink_conn *c)
{
	const char *p = c->in.data + c->in_off;
	size_t len, avail = c->in.len - c->in_off;
	const char *nl = memchr(p, '\n', avail);

	if (c->discarding) {
		if (nl == NULL) {
			c->in_off = c->in.len;
			return false;
		}
		c->in_off += (size_t)(nl - p) + 1;
		c->discarding = false;
		smtp_line_too_long(c);
		return true;
	}
	if (nl == NULL) {
		if (avail > SINK_LINE_MAX + 1) {
			/* Over-long: skip to its end, then answer 500. */
			c->discarding = true;
			c->in_off = c->in.len;
		}
		return false;
	}
	len = (size_t)(nl - p);
	c->in_off += len + 1;
	c->more_input = c->in_off < c->in.len;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len > SINK_LINE_MAX)
		smtp_line_too_long(c);
	else
		smtp_line(c, p, len);
	return true;
}

static void
conn_process_data(struct sink_conn *c)
{
	char out[CONN_DATA_CHUNK + 1];
	size_t used, olen, avail = c->in.len - c->in_off;
	bool done;

	if (avail > CONN_DATA_CHUNK)
		avail = CONN_DATA_CHUNK;
	used = sink_unstuff_feed(&c->txn.unstuff, c->in.data + c->in_off,
	    avail, out, &olen, &done);
	c->in_off += used;
	if (olen > 0)
		smtp_data_content(c, out, olen);
	if (done)
		smtp_data_end(c);
}

static bool
conn_can_process(const struct sink_conn *c)
{
	return (c->phase == CONN_CMD || c->phase == CONN_DATA) &&
	    c->defer == DEFER_NONE && c->out.len < SINK_OUT_HIGH &&
	    c->tls != SINK_TLS_START && c->tls != SINK_TLS_HANDSHAKE;
}

/* Handle all buffered input that may be handled now, in order. */
static void
conn_process(struct sink_conn *c)
{
	while (conn_can_process(c) && c->in_off < c->in.len) {
		if (c->phase == CONN_DATA)
			conn_process_data(c);
		else if (!conn_process_line(c))
			break;
	}
	buf_consume(&c->in, c->in_off);
	c->in_off = 0;
	/* The peer stopped sending and nothing more can be answered. */
	if (c->eof && conn_can_process(c))
		conn_close_after_flush(c);
}

static void
conn_flush(struct sink_conn *c)
{
	ssize_t n;

	while (c->out.len > 0 && c->phase != CONN_DEAD &&
	    c->tls != SINK_TLS_HANDSHAKE) {
		if (c->tls == SINK_TLS_ON)
			n = sink_tls_write(c, c->out.data, c->out.len);
		else
			n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		c->phase = CONN_DEAD;	/* reset by the peer */
	}
}

static void
conn_watch(struct ev_loop *loop, ev_io *w, bool on)
{
	if (on && !ev_is_active(w))
		ev_io_start(loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(loop, w);
}

static void
conn_free(struct sink_conn *c)
{
	struct sink *sink = c->sink;

	record_close(c);
	if (!sink->quiet)
		log_info("smtpsink: %s: closed", c->peer);
	ev_io_stop(sink->loop, &c->rio);
	ev_io_stop(sink->loop, &c->wio);
	ev_timer_stop(sink->loop, &c->wait);
	ev_timer_stop(sink->loop, &c->linger);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		sink->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	smtp_txn_reset(c);
	sink_tls_free(c);
	free(c->helo);
	buf_free(&c->in);
	buf_free(&c->out);
	OBJ_WIPE(c);
	free(c);
}

/* End of every callback: write, advance closing, free or re-arm. */
static void
conn_settle(struct sink_conn *c)
{
	struct ev_loop *loop = c->sink->loop;

	conn_flush(c);
	if (c->tls == SINK_TLS_START && c->out.len == 0 &&
	    c->phase < CONN_CLOSING)
		sink_tls_begin(c);
	if (c->phase == CONN_CLOSING && c->out.len == 0) {
		sink_tls_close(c);
		shutdown(c->fd, SHUT_WR);
		c->phase = CONN_LINGER;
		ev_timer_set(&c->linger, SINK_LINGER, 0.);
		ev_timer_start(loop, &c->linger);
	}
	if (c->phase == CONN_DEAD) {
		conn_free(c);
		return;
	}
	if (c->tls == SINK_TLS_HANDSHAKE) {
		conn_watch(loop, &c->wio, c->tls_want_write);
		conn_watch(loop, &c->rio, !c->tls_want_write);
		return;
	}
	conn_watch(loop, &c->wio, c->out.len > 0 || c->tls_want_write);
	conn_watch(loop, &c->rio, c->phase == CONN_LINGER || c->tls_want_read ||
	    (c->phase != CONN_CLOSING && !c->eof && c->in.len < c->in.max &&
	    c->tls != SINK_TLS_START));
	/* bytes OpenSSL already holds will not make the socket readable */
	if (c->tls == SINK_TLS_ON && ev_is_active(&c->rio) &&
	    SSL_pending(c->ssl) > 0)
		ev_feed_event(loop, &c->rio, EV_READ);
}

static void
conn_drain(struct sink_conn *c)
{
	char tmp[CONN_READ_CHUNK];
	ssize_t n;

	while ((n = read(c->fd, tmp, sizeof(tmp))) > 0)
		continue;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		c->phase = CONN_DEAD;
}

/* One read (in clear or through TLS) into the input buffer. */
static void
conn_input(struct sink_conn *c)
{
	char tmp[CONN_READ_CHUNK];
	size_t room = c->in.max - c->in.len;
	ssize_t n;

	if (room == 0 || c->eof)
		return;		/* rio is stopped while the buffer is full */
	if (c->tls == SINK_TLS_ON)
		n = sink_tls_read(c, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
	else
		n = read(c->fd, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
	if (n > 0) {
		if (buf_append(&c->in, tmp, (size_t)n) == -1)
			c->phase = CONN_DEAD;	/* cannot happen: room */
	} else if (n == 0)
		c->eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		c->phase = CONN_DEAD;
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sink_conn *c = OBJ_CAST(sink_conn, w->data, SINK_CONN_MAGIC);

	if (c->phase == CONN_LINGER)
		conn_drain(c);
	else if (c->tls == SINK_TLS_HANDSHAKE)
		sink_tls_handshake(c);
	else if (c->tls != SINK_TLS_ON || !c->tls_want_read)
		conn_input(c);
	/* else SSL_write waited for this: conn_settle() flushes */
	conn_process(c);
	conn_settle(c);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sink_conn *c = OBJ_CAST(sink_conn, w->data, SINK_CONN_MAGIC);

	if (c->tls == SINK_TLS_HANDSHAKE)
		sink_tls_handshake(c);
	else if (c->tls == SINK_TLS_ON && c->tls_want_write)
		conn_input(c);		/* SSL_read waited for this */
	else
		conn_flush(c);
	conn_process(c);
	conn_settle(c);
}

static void
conn_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sink_conn *c = OBJ_CAST(sink_conn, w->data, SINK_CONN_MAGIC);
	enum conn_defer what = c->defer;

	c->defer = DEFER_NONE;
	if (what == DEFER_RCPT)
		smtp_rcpt_reply(c, c->defer_addr, c->txn.nrcpts > 0 ?
		    c->txn.rcpts[c->txn.nrcpts - 1].params : "",
		    c->defer_code, c->defer_close);
	else if (what == DEFER_DATA)
		smtp_data_reply(c);
	else if (what == DEFER_GREETING)
		smtp_greet(c);
	else if (what == DEFER_EHLO)
		smtp_ehlo_rest(c);
	/* DEFER_BODY: reading the content simply resumes */
	conn_process(c);
	conn_settle(c);
}

static void
conn_linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sink_conn *c = OBJ_CAST(sink_conn, w->data, SINK_CONN_MAGIC);

	c->phase = CONN_DEAD;
	conn_settle(c);
}

static void
conn_names(struct sink_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == -1)
		ss.ss_family = AF_UNSPEC;
	sink_addr_format(&ss, c->peer, sizeof(c->peer));
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == -1)
		ss.ss_family = AF_UNSPEC;
	sink_addr_format(&ss, c->local, sizeof(c->local));
}

/* Take over an accepted socket: greet, and let the loop drive it. */
void
conn_accept(struct sink *sink, int fd)
{
	struct sink_conn *c;
	int on = 1;

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
		log_warn("smtpsink: fcntl");
		close(fd);
		return;
	}
	/* Replies go out at once: timings measured by tests stay exact. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	c = xcalloc(1, sizeof(*c));
	OBJ_INIT(c, SINK_CONN_MAGIC);
	c->sink = sink;
	c->fd = fd;
	buf_init(&c->in, SINK_IN_MAX);
	buf_init(&c->out, SINK_OUT_MAX);
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	ev_init(&c->wait, conn_wait_cb);
	ev_init(&c->linger, conn_linger_cb);
	c->rio.data = c->wio.data = c->wait.data = c->linger.data = c;
	conn_names(c);
	c->next = sink->conns;
	if (c->next != NULL)
		c->next->prev = c;
	sink->conns = c;
	record_connect(c);
	if (!sink->quiet)
		log_info("smtpsink: %s: connected to %s", c->peer, c->local);
	if (sink->greeting_delay > 0)
		conn_defer_reply(c, DEFER_GREETING, sink->greeting_delay, 0,
		    "", false);
	else
		smtp_greet(c);
	conn_settle(c);
}

/* At exit: close every connection (each gets its "close" record). */
void
conn_close_all(struct sink *sink)
{
	while (sink->conns != NULL)
		conn_free(sink->conns);
}
