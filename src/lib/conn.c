/*
 * conn: buffered non-blocking stream on libev (see conn.h).
 *
 * Invariants: the write watcher runs only while output is queued or a
 * connect is pending; the read watcher runs while `reading` and not
 * connecting.  Every callback invocation is the last thing a handler
 * does, because the owner may free the connection inside it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/conn_private.h"
#include "lib/magic.h"

OBJ_DEFINE_CAST(conn)

/*
 * Restart the inactivity timer.  ev_timer_again, not ev_timer_set: the
 * timer is usually running, and libev ignores ev_timer_start on an
 * active watcher (and must not have its fields set), so a touch used to
 * leave the first deadline in place, and a new timeout never applied.
 */
void
conn_touch(struct conn *c)
{
	if (c->timeout > 0) {
		c->timer.repeat = c->timeout;
		ev_timer_again(c->loop, &c->timer);
	}
}

static void
conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = OBJ_CAST(conn, w->data, CONN_MAGIC);

	ev_timer_stop(loop, w);		/* once; a touch starts it again */
	c->cb(c, CONN_TIMEOUT, c->arg);
}

static void
conn_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = OBJ_CAST(conn, w->data, CONN_MAGIC);
	char tmp[16384];
	size_t room = c->in.max - c->in.len;
	ssize_t n;

	if (c->tls != CONN_TLS_OFF) {
		conn_tls_on_read(c);
		return;
	}
	if (room == 0) {
		/* the owner has not consumed: stop until it does */
		ev_io_stop(loop, &c->rio);
		return;
	}
	n = read(c->fd, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		c->error = errno;
		c->cb(c, CONN_ERROR, c->arg);
		return;
	}
	if (n == 0) {
		ev_io_stop(loop, &c->rio);
		c->cb(c, CONN_EOF, c->arg);
		return;
	}
	if (buf_append(&c->in, tmp, (size_t)n) == -1)
		return;		/* cannot happen: room was checked */
	conn_touch(c);
	c->cb(c, CONN_READABLE, c->arg);
}

/* The pending connect() finished. */
static void
conn_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	c->connecting = false;
	conn_update(c);
	if (err != 0) {
		c->error = err;
		c->cb(c, CONN_ERROR, c->arg);
		return;
	}
	conn_touch(c);
	c->cb(c, CONN_CONNECTED, c->arg);
}

int
conn_send_plain(struct conn *c)
{
	ssize_t n;

	if (c->out.len == 0)
		return 0;
	n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		c->error = errno;
		return -1;
	}
	buf_consume(&c->out, (size_t)n);
	conn_touch(c);
	return 0;
}

static void
conn_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = OBJ_CAST(conn, w->data, CONN_MAGIC);

	if (c->connecting) {
		conn_connected(c);
		return;
	}
	if (c->tls != CONN_TLS_OFF) {
		conn_tls_on_write(c);
		return;
	}
	if (c->out.len == 0) {
		ev_io_stop(loop, &c->wio);
		return;
	}
	if (conn_send_plain(c) == -1) {
		ev_io_stop(loop, &c->wio);
		c->cb(c, CONN_ERROR, c->arg);
		return;
	}
	if (c->out.len == 0) {
		ev_io_stop(loop, &c->wio);
		c->cb(c, CONN_DRAINED, c->arg);
	}
}

void
conn_update(struct conn *c)
{
	bool rd, wr;

	if (c->tls != CONN_TLS_OFF)
		conn_tls_wants(c, &rd, &wr);
	else {
		rd = c->reading && !c->connecting && c->in.len < c->in.max;
		wr = c->connecting || c->out.len > 0;
	}
	if (rd)
		ev_io_start(c->loop, &c->rio);
	else
		ev_io_stop(c->loop, &c->rio);
	if (rd && conn_tls_buffered(c))
		ev_feed_event(c->loop, &c->rio, EV_READ);
	if (wr)
		ev_io_start(c->loop, &c->wio);
	else
		ev_io_stop(c->loop, &c->wio);
}

void
conn_init(struct conn *c, struct ev_loop *loop, int fd, bool connecting,
    size_t in_max, size_t out_max, conn_cb *cb, void *arg)
{
	memset(c, 0, sizeof(*c));
	OBJ_INIT(c, CONN_MAGIC);
	c->loop = loop;
	c->fd = fd;
	c->cb = cb;
	c->arg = arg;
	c->connecting = connecting;
	c->reading = true;
	buf_init(&c->in, in_max);
	buf_init(&c->out, out_max);
	ev_io_init(&c->rio, conn_on_read, fd, EV_READ);
	ev_io_init(&c->wio, conn_on_write, fd, EV_WRITE);
	ev_init(&c->timer, conn_on_timer);
	c->rio.data = c->wio.data = c->timer.data = c;
	conn_update(c);
}

void
conn_free(struct conn *c)
{
	OBJ_CHECK(c, CONN_MAGIC);
	conn_tls_free(c);	/* first: its close_notify may touch the timer */
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->timer);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
	OBJ_WIPE(c);
}

void
conn_set_timeout(struct conn *c, double seconds)
{
	c->timeout = seconds;
	if (seconds > 0)
		conn_touch(c);
	else
		ev_timer_stop(c->loop, &c->timer);
}

void
conn_read_enable(struct conn *c, bool on)
{
	c->reading = on;
	conn_update(c);
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
	if (buf_append(&c->out, p, n) == -1)
		return -1;
	conn_update(c);
	return 0;
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	return conn_write(c, tmp, (size_t)n);
}

void
conn_flush(struct conn *c)
{
	conn_update(c);
}

size_t
conn_pending(const struct conn *c)
{
	return c->out.len;
}

int
conn_getline(struct conn *c, size_t max, const char **line, size_t *len,
    size_t *consumed)
{
	const char *nl;

	if (c->in.len == 0)
		return 0;
	nl = memchr(c->in.data, '\n', c->in.len);
	if (nl == NULL)
		return c->in.len > max ? -1 : 0;
	*line = c->in.data;
	*len = (size_t)(nl - c->in.data);
	*consumed = *len + 1;
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	return *len > max ? -1 : 1;
}

void
conn_consume(struct conn *c, size_t n)
{
	buf_consume(&c->in, n);
	conn_update(c);
}

int
conn_connect_socket(const struct sockaddr *sa, socklen_t salen,
    const struct sockaddr *src, socklen_t srclen)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	if (src != NULL && bind(fd, src, srclen) == -1)
		goto fail;
	if (connect(fd, sa, salen) == -1 && errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	{
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}
