/*
 * ctl_server: the daemon's local control socket (a UNIX-domain stream
 * socket, mode 0600, in the spool directory), so that `pmta` works
 * without the HTTP port.
 *
 * Wire format: the client sends one line, the command's words separated
 * by TAB, ended by LF.  The daemon answers with one line holding the
 * ctl_status number, then the command's output, and closes.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "compat.h"
#include "ctl/ctl.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"

#define CTL_SERVER_MAGIC	0x63746c73u
#define CTL_CLIENT_MAGIC	0x63746c63u
#define CTL_ARGS_MAX		32

struct ctl_server {
	unsigned		 magic;
	struct ev_loop		*loop;
	const struct ctl_ctx	*ctx;
	int			 fd;
	ev_io			 io;
	char			*path;
};

struct ctl_client {
	unsigned		 magic;
	struct ctl_server	*srv;
	struct conn		 conn;
	bool			 answered;	/* the command was run */
	bool			 replied;	/* its answer is queued */
	struct ctl_wait		*wait;		/* a command answering later */
};

OBJ_DEFINE_CAST(ctl_server)
OBJ_DEFINE_CAST(ctl_client)

static void
ctl_client_free(struct ctl_client *cl)
{
	ctl_wait_cancel(cl->wait);
	conn_free(&cl->conn);
	OBJ_WIPE(cl);
	free(cl);
}

/* Write the status line and the output; the connection closes once
 * drained. */
static void
ctl_client_answer(void *arg, enum ctl_status st, const struct buf *out)
{
	struct ctl_client *cl = arg;

	cl->wait = NULL;
	if (out->err) {
		st = CTL_ERROR;
		(void)conn_printf(&cl->conn, "%d\noutput too large\n", (int)st);
	} else {
		(void)conn_printf(&cl->conn, "%d\n", (int)st);
		if (conn_write(&cl->conn, buf_str(out), out->len) == -1)
			log_warnx("ctl: reply too large for the output buffer");
	}
	cl->replied = true;
	conn_flush(&cl->conn);
}

static void
ctl_client_run(struct ctl_client *cl, char *line)
{
	char *argv[CTL_ARGS_MAX], *save = NULL;
	struct buf out;
	int argc = 0;
	enum ctl_status st;

	for (char *w = strtok_r(line, "\t", &save); w != NULL && argc < CTL_ARGS_MAX;
	    w = strtok_r(NULL, "\t", &save))
		argv[argc++] = w;
	buf_init(&out, CTL_REPLY_MAX);
	cl->answered = true;	/* one command per connection */
	conn_read_enable(&cl->conn, false);
	st = ctl_exec_async(cl->srv->ctx, argc, argv, &out, ctl_client_answer,
	    cl, &cl->wait);
	if (st != CTL_PENDING)
		ctl_client_answer(cl, st, &out);
	buf_free(&out);
}

static void
ctl_client_event(struct conn *c, enum conn_event ev, void *arg)
{
	struct ctl_client *cl = OBJ_CAST(ctl_client, arg, CTL_CLIENT_MAGIC);
	const char *line;
	size_t len, used;
	char *copy;

	if (ev == CONN_READABLE && !cl->answered) {
		int r = conn_getline(c, CTL_REQUEST_MAX, &line, &len, &used);
		if (r == 0)
			return;
		if (r == 1) {
			copy = xstrndup(line, len);
			ctl_client_run(cl, copy);
			free(copy);
			return;
		}
	}
	if ((ev == CONN_DRAINED || ev == CONN_READABLE) && !cl->replied)
		return;		/* the answer is still to come */
	ctl_client_free(cl);
}

static void
ctl_server_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_server *srv = OBJ_CAST(ctl_server, w->data, CTL_SERVER_MAGIC);
	struct ctl_client *cl;
	int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd == -1)
		return;
	cl = xcalloc(1, sizeof(*cl));
	OBJ_INIT(cl, CTL_CLIENT_MAGIC);
	cl->srv = srv;
	conn_init(&cl->conn, loop, fd, false, CTL_REQUEST_MAX + 2,
	    CTL_REPLY_MAX + 64, ctl_client_event, cl);
	conn_set_timeout(&cl->conn, 30.);
}

struct ctl_server *
ctl_server_new(struct ev_loop *loop, const struct ctl_ctx *ctx,
    const char *path, const char **error_r)
{
	struct ctl_server *srv;
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		*error_r = "control socket path too long";
		return NULL;
	}
	srv = xcalloc(1, sizeof(*srv));
	OBJ_INIT(srv, CTL_SERVER_MAGIC);
	srv->loop = loop;
	srv->ctx = ctx;
	srv->path = xstrdup(path);
	(void)unlink(path);
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd == -1 || bind(srv->fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1 || chmod(path, 0600) == -1 ||
	    listen(srv->fd, 16) == -1) {
		*error_r = strerror(errno);
		ctl_server_free(srv);
		return NULL;
	}
	ev_io_init(&srv->io, ctl_server_accept, srv->fd, EV_READ);
	srv->io.data = srv;
	ev_io_start(loop, &srv->io);
	return srv;
}

void
ctl_server_free(struct ctl_server *srv)
{
	if (srv == NULL)
		return;
	ev_io_stop(srv->loop, &srv->io);
	if (srv->fd != -1) {
		close(srv->fd);
		(void)unlink(srv->path);
	}
	free(srv->path);
	OBJ_WIPE(srv);
	free(srv);
}
