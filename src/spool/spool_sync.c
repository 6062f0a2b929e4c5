/*
 * spool_sync: group commit.  Sessions finish writing their message files
 * on the loop thread (page cache only) and hand them here; one sync
 * thread makes whole batches durable at once:
 *
 *	syncfs()			every file of the batch, data and inode
 *	rename(tmp/ID, msg/ID)		for each file of the batch
 *	fsync(msg/)			the new names
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

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "spool/spool_private.h"

struct spool_commit {
	struct spool_commit	*next;
	char			*tmp_path;
	char			*final_path;
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
};

/* Make one batch durable; fills each commit's error. */
static void
spool_sync_batch(struct spool_sync *ss, struct spool_commit *batch)
{
	int err = 0;

	if (syncfs(ss->spool->tmp_dirfd) == -1)
		err = errno;
	for (struct spool_commit *c = batch; c != NULL; c = c->next) {
		c->error = err;
		if (err == 0 && rename(c->tmp_path, c->final_path) == -1)
			c->error = errno;
	}
	if (fsync(ss->spool->msg_dirfd) == -1) {
		err = errno;
		for (struct spool_commit *c = batch; c != NULL; c = c->next)
			if (c->error == 0) {
				c->error = err;
				(void)unlink(c->final_path);	/* never acknowledged */
			}
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
	free(c->tmp_path);
	free(c->final_path);
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
		if (c->error != 0)
			log_warnx("spool: cannot commit %s: %s", c->final_path,
			    strerror(c->error));
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
	pthread_mutex_destroy(&ss->mu);
	pthread_cond_destroy(&ss->cv);
	free(ss);
	s->sync = NULL;
}

void
spool_sync_submit(struct spool *s, char *tmp_path, char *final_path,
    spool_commit_cb *cb, void *arg)
{
	struct spool_sync *ss = s->sync;
	struct spool_commit *c = xcalloc(1, sizeof(*c));

	c->tmp_path = tmp_path;
	c->final_path = final_path;
	c->cb = cb;
	c->arg = arg;
	pthread_mutex_lock(&ss->mu);
	*ss->pending_tail = c;
	ss->pending_tail = &c->next;
	pthread_cond_signal(&ss->cv);
	pthread_mutex_unlock(&ss->mu);
}
