/*
 * queue_ctl: jobs and the runtime controls of queues (pause, schedule,
 * remove, reprioritize; see queue.h).
 */
#include "config.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "queue/queue.h"
#include "queue/queue_private.h"

/*
 * The recipients of heap h that `match` accepts, in an array the caller
 * frees (*n of them): collected first, since removing or re-keying one
 * reorders the heap.
 */
static struct queue_rcpt **
queue_collect(const struct heap *h, queue_filter_cb *match, void *arg,
    size_t *n)
{
	struct queue_rcpt **found = xcalloc(h->n > 0 ? h->n : 1, sizeof(*found));

	*n = 0;
	for (size_t i = 0; i < h->n; i++)
		if (match(h->v[i], arg))
			found[(*n)++] = h->v[i];
	return found;
}

static bool
queue_of_job(const struct queue_rcpt *r, void *job)
{
	return r->msg->job == job;
}

/* Move the recipients of a job from one heap of q to another. */
static void
queue_move_job(struct heap *from, size_t *nfrom, struct heap *to,
    size_t *nto, struct queue_job *job)
{
	size_t n;
	struct queue_rcpt **v = queue_collect(from, queue_of_job, job, &n);

	for (size_t i = 0; i < n; i++) {
		heap_remove(from, v[i]->hidx);
		heap_push(to, v[i]);
	}
	*nfrom -= n;
	*nto += n;
	free(v);
}

struct queue_job *
queue_job_get(struct queue_mgr *mgr, const char *name)
{
	struct queue_job *job;

	if (name == NULL)
		return NULL;
	if ((job = queue_job_find(mgr, name)) != NULL)
		return job;
	job = xcalloc(1, sizeof(*job));
	job->name = xstrdup(name);
	job->next = mgr->jobs;
	mgr->jobs = job;
	return job;
}

struct queue_job *
queue_job_find(const struct queue_mgr *mgr, const char *name)
{
	for (struct queue_job *job = mgr->jobs; job != NULL; job = job->next)
		if (strcmp(job->name, name) == 0)
			return job;
	return NULL;
}

struct queue_job *
queue_mgr_jobs(const struct queue_mgr *mgr)
{
	return mgr->jobs;
}

void
queue_job_release(struct queue_mgr *mgr, struct queue_job *job)
{
	struct queue_job **pp;

	if (job == NULL || job->nrcpts > 0 || job->paused)
		return;
	for (pp = &mgr->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == job) {
			*pp = job->next;
			free(job->name);
			free(job);
			return;
		}
}

void
queue_job_pause(struct queue_mgr *mgr, struct queue_job *job, bool paused)
{
	job->paused = paused;
	for (struct queue *q = mgr->queues; q != NULL; q = q->next)
		if (paused)
			queue_move_job(&q->ready, &q->nready, &q->parked,
			    &q->nparked, job);
		else
			queue_move_job(&q->parked, &q->nparked, &q->ready,
			    &q->nready, job);
	if (paused)
		return;
	for (struct queue *q = mgr->queues; q != NULL; q = q->next)
		queue_kick(q);
	queue_job_release(mgr, job);
}

bool
queue_match(const struct queue *q, const char *pattern)
{
	const char *slash = strchr(pattern, '/');
	char *dom = xstrndup(pattern, slash ? (size_t)(slash - pattern) :
	    strlen(pattern));
	bool r;

	r = fnmatch(dom, q->domain, FNM_CASEFOLD) == 0 && (slash == NULL ||
	    fnmatch(slash + 1, q->vmta, FNM_CASEFOLD) == 0);
	free(dom);
	return r;
}

time_t
queue_retry_at(const struct queue *q)
{
	const struct queue_rcpt *r = heap_top(&q->waiting);

	if (r == NULL)
		return 0;
	return queue_wall(q->mgr) + (time_t)(r->not_before - queue_now(q->mgr));
}

void
queue_pause(struct queue *q, bool paused)
{
	q->paused = paused;
	if (!paused)
		queue_kick(q);
}

void
queue_schedule(struct queue *q)
{
	struct queue_rcpt *r;

	while ((r = heap_pop(&q->waiting)) != NULL) {
		q->nwaiting--;
		queue_make_ready(r);
	}
	q->retry_index = 0;
	q->retry_until = 0;
	queue_kick(q);
	queue_wake_update(q);
}

/* queue_remove() for one heap of q, whose count is *count. */
static size_t
queue_remove_heap(struct heap *h, size_t *count, queue_filter_cb *match,
    void *match_arg, queue_take_cb *take, void *take_arg)
{
	size_t n;
	struct queue_rcpt **v = queue_collect(h, match, match_arg, &n);

	for (size_t i = 0; i < n; i++) {
		heap_remove(h, v[i]->hidx);
		(*count)--;
		take(v[i], take_arg);
	}
	free(v);
	return n;
}

size_t
queue_remove(struct queue *q, queue_filter_cb *match, void *match_arg,
    queue_take_cb *take, void *take_arg)
{
	size_t n = queue_remove_heap(&q->ready, &q->nready, match, match_arg,
	    take, take_arg);

	n += queue_remove_heap(&q->waiting, &q->nwaiting, match, match_arg,
	    take, take_arg);
	n += queue_remove_heap(&q->parked, &q->nparked, match, match_arg,
	    take, take_arg);
	queue_wake_update(q);
	return n;
}

/* queue_set_priority() for one heap (the waiting one is not keyed by
 * priority; re-keying it is harmless). */
static size_t
queue_reprioritize(struct heap *h, queue_filter_cb *match, void *match_arg,
    uint8_t prio)
{
	size_t n;
	struct queue_rcpt **v = queue_collect(h, match, match_arg, &n);

	for (size_t i = 0; i < n; i++) {
		struct queue_msg *m = v[i]->msg;

		v[i]->prio = prio;
		heap_update(h, v[i]->hidx);
		if (spool_set_priority(v[i]->q->mgr->spool, m->seg, m->id,
		    v[i]->idx, prio) == -1)
			log_warn("spool: cannot record the priority of %s", m->id);
	}
	free(v);
	return n;
}

size_t
queue_set_priority(struct queue *q, queue_filter_cb *match, void *match_arg,
    int priority)
{
	uint8_t prio = (uint8_t)(priority < 0 ? 0 : priority > 100 ? 100 :
	    priority);

	return queue_reprioritize(&q->ready, match, match_arg, prio) +
	    queue_reprioritize(&q->waiting, match, match_arg, prio) +
	    queue_reprioritize(&q->parked, match, match_arg, prio);
}

size_t
queue_rcpts(const struct queue *q)
{
	return q->nready + q->nwaiting + q->nparked;
}
