/*
 * spool_sync: group commit.  Sessions finish writing their message files
 * on the loop thread (page cache only) and hand them here with their log
 * records; one sync thread makes whole batches durable at once:
 *
 *	syncfs()			every body file of the batch, data,
 *					inode and directory entry
 *	write + fdatasync(log/SEG)	the batch's records, one write and
 *					one sync per segment (normally one)
 *
 * then posts the batch back to the loop (ev_async), where each session
 * gets its callback and only then answers 250.  Two syncs per batch
 * whatever its size: under load the batch grows while the previous one
 * syncs, so durable throughput is not capped at one fsync per message.
 *
 * The thread touches only its own lists (under the mutex) and the file
 * system; all mail state stays on the loop thread.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "spool/spool_private.h"

struct spool_commit {
	struct spool_commit	*next;
	unsigned		 seg;
	char			*record;
	size_t			 len;
	char			*path;		/* body file, under msg/ */
	spool_commit_cb		*cb;
	void			*arg;
	int			 error;		/* errno, 0 when durable */
};

struct spool_sync {
	struct spool		*spool;
	struct ev_loop		*loop;
	ev_async		 async;
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct spool_commit	*pending, **pending_tail;
	struct spool_commit	*done, **done_tail;
	bool			 stop;
	unsigned long		 batches, commits;	/* statistics */
	struct {				/* the thread's open segments */
		unsigned	 no;
		int		 fd;
	}			 fds[4];
};

/* The thread's descriptor slot for segment no (evicting the oldest). */
static int *
spool_sync_fd(struct spool_sync *ss, unsigned no)
{
	size_t n = sizeof(ss->fds) / sizeof(ss->fds[0]), old = 0;

	for (size_t i = 0; i < n; i++) {
		if (ss->fds[i].fd != -1 && ss->fds[i].no == no)
			return &ss->fds[i].fd;
		if (ss->fds[i].fd == -1 || (ss->fds[old].fd != -1 &&
		    ss->fds[i].no < ss->fds[old].no))
			old = i;
	}
	if (ss->fds[old].fd != -1)
		close(ss->fds[old].fd);
	ss->fds[old].no = no;
	ss->fds[old].fd = -1;
	return &ss->fds[old].fd;
}

/* Append the records of the batch's commits for segment no. */
static void
spool_sync_segment(struct spool_sync *ss, struct spool_commit *batch,
    unsigned no)
{
	struct buf b;
	int err = 0;

	buf_init(&b, (size_t)1 << 40);
	for (struct spool_commit *c = batch; c != NULL; c = c->next)
		if (c->error == 0 && c->seg == no)
			(void)buf_append(&b, c->record, c->len);
	if (b.err || spool_log_append(ss->spool->log_dirfd, no,
	    spool_sync_fd(ss, no), b.data, b.len) == -1)
		err = b.err ? ENOMEM : errno;
	buf_free(&b);
	for (struct spool_commit *c = batch; c != NULL; c = c->next)
		if (c->seg == no && c->error == 0)
			c->error = err != 0 ? err : -1;	/* -1: done */
}

/* Make one batch durable; fills each commit's error. */
static void
spool_sync_batch(struct spool_sync *ss, struct spool_commit *batch)
{
	int err = 0;

	if (syncfs(ss->spool->msg_dirfd) == -1)
		err = errno;
	for (struct spool_commit *c = batch; c != NULL; c = c->next)
		c->error = err;
	for (struct spool_commit *c = batch; c != NULL; c = c->next)
		if (c->error == 0)
			spool_sync_segment(ss, batch, c->seg);
	for (struct spool_commit *c = batch; c != NULL; c = c->next) {
		if (c->error == -1)
			c->error = 0;
		else if (c->error != 0)	/* never acknowledged */
			(void)unlinkat(ss->spool->msg_dirfd, c->path, 0);
	}
}

static void *
spool_sync_main(void *arg)
{
	struct spool_sync *ss = arg;
	struct spool_commit *batch;

	pthread_mutex_lock(&ss->mu);
	for (;;) {
		while (ss->pending == NULL && !ss->stop)
			pthread_cond_wait(&ss->cv, &ss->mu);
		if (ss->pending == NULL)
			break;
		batch = ss->pending;
		ss->pending = NULL;
		ss->pending_tail = &ss->pending;
		pthread_mutex_unlock(&ss->mu);
		spool_sync_batch(ss, batch);
		pthread_mutex_lock(&ss->mu);
		*ss->done_tail = batch;
		while (*ss->done_tail != NULL) {
			ss->commits++;
			ss->done_tail = &(*ss->done_tail)->next;
		}
		ss->batches++;
		ev_async_send(ss->loop, &ss->async);
	}
	pthread_mutex_unlock(&ss->mu);
	return NULL;
}

static void
spool_commit_free(struct spool_commit *c)
{
	free(c->record);
	free(c->path);
	free(c);
}

/* On the loop: deliver the results of finished batches. */
static void
spool_sync_on_done(struct ev_loop *loop, ev_async *w, int revents)
{
	struct spool_sync *ss = w->data;
	struct spool_commit *c, *next;

	pthread_mutex_lock(&ss->mu);
	c = ss->done;
	ss->done = NULL;
	ss->done_tail = &ss->done;
	pthread_mutex_unlock(&ss->mu);
	for (; c != NULL; c = next) {
		next = c->next;
		if (c->error != 0) {
			log_warnx("spool: cannot commit msg/%s: %s", c->path,
			    strerror(c->error));
			spool_seg_aborted(ss->spool, c->seg);
		} else
			spool_seg_committed(ss->spool, c->seg);
		c->cb(c->arg, c->error);
		spool_commit_free(c);
	}
}

int
spool_sync_start(struct spool *s, struct ev_loop *loop, const char **error_r)
{
	struct spool_sync *ss = xcalloc(1, sizeof(*ss));

	ss->spool = s;
	ss->loop = loop;
	ss->pending_tail = &ss->pending;
	ss->done_tail = &ss->done;
	for (size_t i = 0; i < sizeof(ss->fds) / sizeof(ss->fds[0]); i++)
		ss->fds[i].fd = -1;
	pthread_mutex_init(&ss->mu, NULL);
	pthread_cond_init(&ss->cv, NULL);
	ev_async_init(&ss->async, spool_sync_on_done);
	ss->async.data = ss;
	ev_async_start(loop, &ss->async);
	if (pthread_create(&ss->thread, NULL, spool_sync_main, ss) != 0) {
		*error_r = "cannot start the spool sync thread";
		ev_async_stop(loop, &ss->async);
		free(ss);
		return -1;
	}
	s->sync = ss;
	return 0;
}

void
spool_sync_stop(struct spool *s)
{
	struct spool_sync *ss = s->sync;

	if (ss == NULL)
		return;
	pthread_mutex_lock(&ss->mu);
	ss->stop = true;
	pthread_cond_signal(&ss->cv);
	pthread_mutex_unlock(&ss->mu);
	pthread_join(ss->thread, NULL);
	spool_sync_on_done(ss->loop, &ss->async, 0);	/* the last results */
	ev_async_stop(ss->loop, &ss->async);
	log_info("spool: %lu message(s) committed in %lu batch(es)",
	    ss->commits, ss->batches);
	for (size_t i = 0; i < sizeof(ss->fds) / sizeof(ss->fds[0]); i++)
		if (ss->fds[i].fd != -1)
			close(ss->fds[i].fd);
	pthread_mutex_destroy(&ss->mu);
	pthread_cond_destroy(&ss->cv);
	free(ss);
	s->sync = NULL;
}

void
spool_sync_submit(struct spool *s, unsigned seg, char *record, size_t len,
    char *path, spool_commit_cb *cb, void *arg)
{
	struct spool_sync *ss = s->sync;
	struct spool_commit *c = xcalloc(1, sizeof(*c));

	c->seg = seg;
	c->record = record;
	c->len = len;
	c->path = path;
	c->cb = cb;
	c->arg = arg;
	pthread_mutex_lock(&ss->mu);
	*ss->pending_tail = c;
	ss->pending_tail = &c->next;
	pthread_cond_signal(&ss->cv);
	pthread_mutex_unlock(&ss->mu);
}
