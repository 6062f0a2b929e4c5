/*
 * spool_sync: group commit.  Sessions finish writing their messages on
 * the loop thread (small bodies in memory, big ones to their own file in
 * the page cache) and hand them here; one sync thread makes whole
 * batches durable at once:
 *
 *	write + fdatasync(log/SEG.data)	the batch's small bodies, as images,
 *					one write and one sync per segment
 *					(normally one)
 *	syncfs()			only when the batch has a body file:
 *					its data, inode and directory entry
 *	write + fdatasync(log/SEG)	the batch's records, which name each
 *					body's place, one write and one sync
 *					per segment
 *
 * then posts the batch back to the loop (ev_async), where each session
 * gets its callback and only then answers 250.  Two syncs per batch
 * whatever its size, and no file created or removed per message: under
 * load the batch grows while the previous one syncs, so durable
 * throughput is not capped at one fsync per message.
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
	char			*record;	/* made by the thread for */
	size_t			 len;		/* a body in the data file */
	char			*path;		/* body file, under msg/, or */
	char			*text;		/* envelope text and body for */
	size_t			 text_len;	/* the data file */
	char			*body;
	size_t			 body_len;
	off_t			 body_off;	/* the body's place in it */
	bool			 staged;	/* image written */
	struct spool_envelope	*env;		/* told the body's place */
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
	struct spool_fd {			/* the thread's open segments */
		unsigned	 no;
		int		 fd;
	}			 fds[4], dfds[4];	/* logs, data files */
};

#define SPOOL_SYNC_FDS	4

/* The thread's descriptor slot for segment no in fds[SPOOL_SYNC_FDS]
 * (evicting the oldest). */
static int *
spool_sync_fd(struct spool_fd *fds, unsigned no)
{
	size_t old = 0;

	for (size_t i = 0; i < SPOOL_SYNC_FDS; i++) {
		if (fds[i].fd != -1 && fds[i].no == no)
			return &fds[i].fd;
		if (fds[i].fd == -1 || (fds[old].fd != -1 &&
		    fds[i].no < fds[old].no))
			old = i;
	}
	if (fds[old].fd != -1)
		close(fds[old].fd);
	fds[old].no = no;
	fds[old].fd = -1;
	return &fds[old].fd;
}

/* Append the images of the batch's small bodies for segment no to its
 * data file (synced unless a syncfs follows); each learns its place. */
static void
spool_sync_data(struct spool_sync *ss, struct spool_commit *batch,
    unsigned no, bool syncfs_follows)
{
	struct buf b;
	off_t base = 0;
	int err = 0;

	buf_init(&b, (size_t)1 << 40);
	for (struct spool_commit *c = batch; c != NULL; c = c->next)
		if (c->text != NULL && c->seg == no && c->error == 0) {
			c->body_off = (off_t)(b.len + c->text_len +
			    SPOOL_IMAGE_LINE);
			spool_image_append(&b, c->text, c->text_len, c->body,
			    c->body_len);
		}
	/* segments only move on: an old data file is done with (closed, so
	 * a deleted one gives its space back at once) */
	for (size_t i = 0; i < SPOOL_SYNC_FDS; i++)
		if (ss->dfds[i].fd != -1 && ss->dfds[i].no + 1 < no) {
			close(ss->dfds[i].fd);
			ss->dfds[i].fd = -1;
		}
	if (b.err || spool_data_append(ss->spool->log_dirfd, no,
	    spool_sync_fd(ss->dfds, no), b.data, b.len, !syncfs_follows,
	    &base) == -1)
		err = b.err ? ENOMEM : errno;
	buf_free(&b);
	for (struct spool_commit *c = batch; c != NULL; c = c->next)
		if (c->text != NULL && c->seg == no && c->error == 0) {
			c->error = err;
			c->staged = true;
			c->body_off += base;
		}
}

/* Append the records of the batch's commits for segment no. */
static void
spool_sync_segment(struct spool_sync *ss, struct spool_commit *batch,
    unsigned no)
{
	struct buf b;
	int err = 0;

	buf_init(&b, (size_t)1 << 40);
	for (struct spool_commit *c = batch; c != NULL; c = c->next) {
		if (c->error != 0 || c->seg != no)
			continue;
		if (c->record == NULL)	/* its body's place is known now */
			c->record = spool_log_record_text(c->text, c->text_len,
			    "data", c->body_off, (off_t)c->body_len, &c->len);
		(void)buf_append(&b, c->record, c->len);
	}
	if (b.err || spool_log_append(ss->spool->log_dirfd, no,
	    spool_sync_fd(ss->fds, no), b.data, b.len) == -1)
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
	bool files = false;

	for (struct spool_commit *c = batch; c != NULL; c = c->next) {
		c->error = 0;
		files |= c->path != NULL;
	}
	/* bodies first: a record on disk always has its body behind it */
	for (struct spool_commit *c = batch; c != NULL; c = c->next)
		if (c->text != NULL && !c->staged && c->error == 0)
			spool_sync_data(ss, batch, c->seg, files);
	if (files && syncfs(ss->spool->msg_dirfd) == -1) {
		int err = errno;
		for (struct spool_commit *c = batch; c != NULL; c = c->next)
			c->error = err;	/* images: an orphan tail */
	}
	for (struct spool_commit *c = batch; c != NULL; c = c->next)
		if (c->error == 0)
			spool_sync_segment(ss, batch, c->seg);
	for (struct spool_commit *c = batch; c != NULL; c = c->next) {
		if (c->error == -1)
			c->error = 0;
		else if (c->error != 0 && c->path != NULL)
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
	free(c->text);
	free(c->body);
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
			log_warnx("spool: cannot commit a message of segment "
			    "%08x: %s", c->seg, strerror(c->error));
			spool_seg_aborted(ss->spool, c->seg);
		} else {
			if (c->text != NULL && c->env != NULL) {
				c->env->body_in_data = true;
				c->env->body_offset = c->body_off;
				c->env->body_size = (off_t)c->body_len;
			}
			spool_seg_committed(ss->spool, c->seg);
		}
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
	for (size_t i = 0; i < SPOOL_SYNC_FDS; i++)
		ss->fds[i].fd = ss->dfds[i].fd = -1;
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
	for (size_t i = 0; i < SPOOL_SYNC_FDS; i++) {
		if (ss->fds[i].fd != -1)
			close(ss->fds[i].fd);
		if (ss->dfds[i].fd != -1)
			close(ss->dfds[i].fd);
	}
	pthread_mutex_destroy(&ss->mu);
	pthread_cond_destroy(&ss->cv);
	free(ss);
	s->sync = NULL;
}

void
spool_sync_submit(struct spool *s, struct spool_writer *w,
    struct spool_envelope *env, spool_commit_cb *cb, void *arg)
{
	struct spool_sync *ss = s->sync;
	struct spool_commit *c = xcalloc(1, sizeof(*c));

	c->seg = w->seg;
	c->env = env;
	if (w->path != NULL) {		/* a body file */
		c->record = spool_log_record_text(w->text, w->text_len, "body",
		    (off_t)w->text_len, w->size - (off_t)w->text_len, &c->len);
		c->path = w->path;
		w->path = NULL;
	} else {			/* a body for the data file */
		c->text = w->text;
		c->text_len = w->text_len;
		c->body = w->mem;
		c->body_len = w->mem_len;
		w->text = w->mem = NULL;
	}
	c->cb = cb;
	c->arg = arg;
	pthread_mutex_lock(&ss->mu);
	*ss->pending_tail = c;
	ss->pending_tail = &c->next;
	pthread_cond_signal(&ss->cv);
	pthread_mutex_unlock(&ss->mu);
}
