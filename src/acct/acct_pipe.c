/*
 * acct_pipe: an "<acct-file |command>" destination (see acct_private.h).
 *
 * The command runs once, as "/bin/sh -c command", with the records on its
 * standard input: the header line first, then one line per record.  The
 * pipe is non-blocking and the loop never waits for it: what the program
 * has not read yet waits in a buffer (ACCT_PIPE_PENDING_MAX), drained
 * when the pipe is writable; when the buffer is full, records are
 * dropped, counted, and the count logged once the program catches up.
 *
 * If the program exits, the pipe breaks, or the buffer makes no progress
 * for write-timeout, it is stopped and started again after
 * retry-interval; records meanwhile go to the buffer (the header goes
 * first at every start).  A reload starts a new program and closes the
 * old one's input.  Error lines follow PMTA's "Error TYPE \"CMD\": ...".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acct/acct_private.h"
#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"

#define ACCT_PIPE_CLOSE_WAIT	2000	/* ms to flush at close */

extern char **environ;

struct acct_pipe {
	unsigned	 magic;
	struct ev_loop	*loop;
	char		*command;
	const char	*header;	/* the layout's */
	int		 fd;		/* -1 while the program is down */
	pid_t		 pid;		/* 0: none running that we know of */
	struct buf	 pending;
	ev_io		 io;		/* writable, while pending */
	ev_timer	 timer;		/* restart (down) or write-timeout */
	ev_child	 child;
	double		 retry, timeout;
	unsigned long	 dropped;
};

OBJ_DEFINE_CAST(acct_pipe)

static void acct_pipe_flush(struct acct_pipe *p);

/* Spawn the program with the read end of a new pipe as its stdin. */
static int
acct_pipe_spawn(struct acct_pipe *p, int *fd_r)
{
	char sh[] = "sh", dash_c[] = "-c";
	char *argv[] = { sh, dash_c, p->command, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int fds[2], r;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return errno;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);	/* pmtad ignores it; the program should not */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	r = posix_spawn(&p->pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fds[0]);
	if (r != 0) {
		close(fds[1]);
		p->pid = 0;
		return r;
	}
	*fd_r = fds[1];
	return 0;
}

/* The program is gone or given up on: stop, retry after retry-interval. */
static void
acct_pipe_down(struct acct_pipe *p, const char *type, const char *why,
    bool kill_it)
{
	log_warnx("acct: Error %s \"%s\": %s; retrying in %.0fs", type,
	    p->command, why, p->retry);
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
	ev_io_stop(p->loop, &p->io);
	if (p->pid > 0 && kill_it)
		(void)kill(p->pid, SIGTERM);
	if (p->pid > 0 && !ev_is_active(&p->child))
		(void)waitpid(p->pid, NULL, WNOHANG);
	ev_child_stop(p->loop, &p->child);
	p->pid = 0;
	ev_timer_stop(p->loop, &p->timer);
	ev_timer_set(&p->timer, p->retry, 0.);
	ev_timer_start(p->loop, &p->timer);
}

/* Start the program; the header goes ahead of what is buffered. */
static void
acct_pipe_start(struct acct_pipe *p)
{
	struct buf fresh;
	int fd, r;

	if ((r = acct_pipe_spawn(p, &fd)) != 0) {
		acct_pipe_down(p, "starting", strerror(r), false);
		return;
	}
	p->fd = fd;
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ev_io_set(&p->io, fd, EV_WRITE);
	if (ev_is_default_loop(p->loop)) {
		ev_child_set(&p->child, p->pid, 0);
		ev_child_start(p->loop, &p->child);
	}
	log_info("acct: started \"%s\" (pid %ld)", p->command, (long)p->pid);
	buf_init(&fresh, p->pending.max);
	(void)buf_puts(&fresh, p->header);
	(void)buf_append(&fresh, p->pending.data, p->pending.len);
	buf_free(&p->pending);
	p->pending = fresh;
	acct_pipe_flush(p);
}

/* Write what is pending until the pipe is full. */
static void
acct_pipe_flush(struct acct_pipe *p)
{
	while (p->fd != -1 && p->pending.len > 0) {
		ssize_t n = write(p->fd, p->pending.data, p->pending.len);

		if (n > 0) {
			buf_consume(&p->pending, (size_t)n);
			ev_timer_stop(p->loop, &p->timer);	/* progress */
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			ev_io_start(p->loop, &p->io);
			if (!ev_is_active(&p->timer)) {
				ev_timer_set(&p->timer, p->timeout, 0.);
				ev_timer_start(p->loop, &p->timer);
			}
			return;
		}
		acct_pipe_down(p, "writing to", strerror(errno), true);
		return;
	}
	if (p->fd == -1)
		return;
	ev_io_stop(p->loop, &p->io);
	ev_timer_stop(p->loop, &p->timer);
	if (p->dropped > 0) {
		log_warnx("acct: \"%s\" is reading again; %lu record(s) were "
		    "dropped", p->command, p->dropped);
		p->dropped = 0;
	}
}

static void
acct_pipe_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	acct_pipe_flush(OBJ_CAST(acct_pipe, w->data, ACCT_PIPE_MAGIC));
}

/* Down: time to restart.  Up: no progress for write-timeout. */
static void
acct_pipe_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct acct_pipe *p = OBJ_CAST(acct_pipe, w->data, ACCT_PIPE_MAGIC);

	if (p->fd == -1)
		acct_pipe_start(p);
	else
		acct_pipe_down(p, "writing to", "write-timeout expired", true);
}

static void
acct_pipe_on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct acct_pipe *p = OBJ_CAST(acct_pipe, w->data, ACCT_PIPE_MAGIC);
	char why[64];

	ev_child_stop(loop, w);
	p->pid = 0;
	if (WIFEXITED(w->rstatus))
		snprintf(why, sizeof(why), "exited with status %d",
		    WEXITSTATUS(w->rstatus));
	else
		snprintf(why, sizeof(why), "killed by signal %d",
		    WTERMSIG(w->rstatus));
	if (p->fd != -1)
		acct_pipe_down(p, "executing", why, false);
}

struct acct_pipe *
acct_pipe_new(struct ev_loop *loop, const char *command, const char *header,
    double retry_interval, double write_timeout)
{
	struct acct_pipe *p = xcalloc(1, sizeof(*p));

	OBJ_INIT(p, ACCT_PIPE_MAGIC);
	p->loop = loop;
	p->command = xstrdup(command);
	p->header = header;
	p->fd = -1;
	p->retry = retry_interval > 0 ? retry_interval : 1.;
	p->timeout = write_timeout > 0 ? write_timeout : 1.;
	buf_init(&p->pending, ACCT_PIPE_PENDING_MAX + strlen(header));
	ev_io_init(&p->io, acct_pipe_on_io, 0, EV_WRITE);
	ev_timer_init(&p->timer, acct_pipe_on_timer, 0., 0.);
	ev_child_init(&p->child, acct_pipe_on_child, 0, 0);
	p->io.data = p->timer.data = p->child.data = p;
	acct_pipe_start(p);
	return p;
}

void
acct_pipe_write(struct acct_pipe *p, const char *line, size_t len)
{
	bool idle = p->fd != -1 && p->pending.len == 0;

	if (p->pending.len + len > ACCT_PIPE_PENDING_MAX ||
	    buf_append(&p->pending, line, len) == -1) {
		if (p->dropped++ == 0)
			log_warnx("acct: \"%s\" is not reading; records are "
			    "dropped until it catches up", p->command);
		return;
	}
	if (idle)
		acct_pipe_flush(p);
}

/* At close: give the program a moment to take what is pending. */
static void
acct_pipe_drain(struct acct_pipe *p)
{
	struct timespec t0, t1;
	long waited = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (p->fd != -1 && p->pending.len > 0 &&
	    waited < ACCT_PIPE_CLOSE_WAIT) {
		struct pollfd pfd = { p->fd, POLLOUT, 0 };
		ssize_t n;

		if (poll(&pfd, 1, (int)(ACCT_PIPE_CLOSE_WAIT - waited)) <= 0)
			break;
		n = write(p->fd, p->pending.data, p->pending.len);
		if (n <= 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (n > 0)
			buf_consume(&p->pending, (size_t)n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		waited = (t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	}
	if (p->pending.len > 0)
		log_warnx("acct: \"%s\": %zu byte(s) of records not written at "
		    "close", p->command, p->pending.len);
}

void
acct_pipe_free(struct acct_pipe *p)
{
	if (p == NULL)
		return;
	OBJ_CHECK(p, ACCT_PIPE_MAGIC);
	acct_pipe_drain(p);
	if (p->fd != -1)
		close(p->fd);		/* the program sees the end of its input */
	ev_io_stop(p->loop, &p->io);
	ev_timer_stop(p->loop, &p->timer);
	ev_child_stop(p->loop, &p->child);
	if (p->pid > 0 && !ev_is_default_loop(p->loop))
		(void)waitpid(p->pid, NULL, WNOHANG);
	buf_free(&p->pending);
	free(p->command);
	OBJ_WIPE(p);
	free(p);
}
