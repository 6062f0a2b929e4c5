/*
 * queue: per-domain/vmta queues and their recipients (see queue.h).
 *
 * Strategy: a queue with ready recipients asks the delivery side for a
 * session (queue_start_cb) as long as fewer than its max-smtp-out are
 * active; a session takes batches until none is ready.  Ready recipients
 * sit in a heap by (recipient priority, message age, arrival), deferred
 * ones in a heap by retry time, those of paused jobs in a third; each
 * queue's next due work (its earliest retry, the end of a rate-limit wait
 * or of backoff mode) sits in the manager's heap of queues, and one timer
 * wakes the manager for the earliest of all.  Every step is O(log n) in
 * queue depth and queue count.
 * Time comes from a clock the tests replace.  A message's spool files are
 * removed when its last recipient is finished.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "queue/queue.h"
#include "queue/queue_private.h"

static void queue_defer_all(struct queue *q, double seconds);

static double
queue_real_mono(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static time_t
queue_real_wall(void *arg)
{
	return time(NULL);
}

double
queue_now(const struct queue_mgr *mgr)
{
	return mgr->clock.mono(mgr->clock.arg);
}

time_t
queue_wall(const struct queue_mgr *mgr)
{
	return mgr->clock.wall(mgr->clock.arg);
}

/* The waiting order: by retry time. */
static bool
queue_rcpt_before(const void *a, const void *b)
{
	return ((const struct queue_rcpt *)a)->not_before <
	    ((const struct queue_rcpt *)b)->not_before;
}

/*
 * The ready order: higher recipient priority first, then the older
 * message, then the message that came first, then the message's own
 * recipient order.  So a message's recipients of one priority are
 * consecutive, and queue_take() batches them.
 */
static bool
queue_rcpt_first(const void *a, const void *b)
{
	const struct queue_rcpt *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio > y->prio;
	if (x->msg == y->msg)
		return x->idx < y->idx;
	if (x->msg->queued != y->msg->queued)
		return x->msg->queued < y->msg->queued;
	return x->msg->seq < y->msg->seq;
}

static void
queue_rcpt_setidx(void *item, size_t idx)
{
	((struct queue_rcpt *)item)->hidx = idx;
}

static bool
queue_wake_before(const void *a, const void *b)
{
	return ((const struct queue *)a)->wake < ((const struct queue *)b)->wake;
}

static void
queue_wake_setidx(void *item, size_t idx)
{
	((struct queue *)item)->hidx = idx;
}

static void
queue_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	queue_mgr_run(w->data);
}

struct queue_mgr *
queue_mgr_new(struct ev_loop *loop, struct spool *spool,
    struct model *const *model, const struct queue_clock *clock,
    queue_start_cb *start, void *arg)
{
	struct queue_mgr *mgr = xcalloc(1, sizeof(*mgr));
	static const struct queue_clock real = { queue_real_mono,
	    queue_real_wall, NULL };

	mgr->clock = clock != NULL ? *clock : real;
	heap_init(&mgr->wake, queue_wake_before, queue_wake_setidx);
	ev_init(&mgr->timer, queue_on_timer);
	mgr->timer.data = mgr;
	mgr->loop = loop;
	mgr->spool = spool;
	mgr->model = model;
	mgr->start = start;
	mgr->arg = arg;
	return mgr;
}

/* Drop the loaded envelope once nothing uses it. */
void
queue_msg_env_drop(struct queue_msg *m)
{
	if (m->env == NULL || m->env_users > 0)
		return;
	spool_envelope_free(m->env);
	free(m->env);
	m->env = NULL;
}

void
queue_msg_unref(struct queue_msg *m)
{
	OBJ_CHECK(m, QUEUE_MSG_MAGIC);
	if (--m->refs > 0)
		return;
	m->env_users = 0;
	queue_msg_env_drop(m);
	OBJ_WIPE(m);
	free(m);	/* with its recipients and strings */
}

static void
queue_free_heap(struct heap *h)
{
	struct queue_rcpt *r;

	while ((r = heap_pop(h)) != NULL)
		queue_msg_unref(r->msg);
	heap_free(h);
}

void
queue_mgr_free(struct queue_mgr *mgr)
{
	struct queue *q;
	struct queue_pool_rr *rr;
	struct queue_job *job;

	while ((job = mgr->jobs) != NULL) {
		mgr->jobs = job->next;
		free(job->name);
		free(job);
	}
	while ((rr = mgr->pools) != NULL) {
		mgr->pools = rr->next;
		free(rr->pool);
		free(rr);
	}
	free(mgr->qtab);
	while ((q = mgr->queues) != NULL) {
		mgr->queues = q->next;
		queue_free_heap(&q->ready);
		queue_free_heap(&q->waiting);
		queue_free_heap(&q->parked);
		while (q->sources_off != NULL) {
			struct queue_source_off *o = q->sources_off;
			q->sources_off = o->next;
			free(o);
		}
		free(q->name);
		free(q->domain);
		free(q->vmta);
		free(q->retry_list);
		free(q->reroute);
		free(q->errors);
		pace_free(&q->connect);
		free(q);
	}
	if (mgr->loop != NULL)
		ev_timer_stop(mgr->loop, &mgr->timer);
	heap_free(&mgr->wake);
	free(mgr);
}

void
queue_mgr_stop(struct queue_mgr *mgr)
{
	mgr->stopped = true;
}

size_t
queue_mgr_rcpts(const struct queue_mgr *mgr)
{
	return mgr->nrcpts;
}

size_t
queue_mgr_msgs(const struct queue_mgr *mgr)
{
	return mgr->nmsgs;
}

struct queue *
queue_mgr_first(const struct queue_mgr *mgr)
{
	return mgr->queues;
}

/* Arm the manager's timer for the earliest due work of all queues. */
static void
queue_mgr_arm(struct queue_mgr *mgr)
{
	struct queue *top = heap_top(&mgr->wake);
	double after;

	if (mgr->loop == NULL)
		return;
	ev_timer_stop(mgr->loop, &mgr->timer);
	if (top == NULL)
		return;
	after = top->wake - queue_now(mgr);
	ev_timer_set(&mgr->timer, after > 0 ? after : 0., 0.);
	ev_timer_start(mgr->loop, &mgr->timer);
}

/* Recompute when q next has work to do, and file it in the wake heap. */
void
queue_wake_update(struct queue *q)
{
	struct queue_mgr *mgr = q->mgr;
	struct queue_rcpt *r = heap_top(&q->waiting);
	double wake = r != NULL ? r->not_before : INFINITY;

	if (q->nready > 0 && q->interval > 0 && q->next_ok < wake &&
	    q->next_ok > queue_now(mgr))
		wake = q->next_ok;
	if (q->mode == QUEUE_BACKOFF && q->mode_until < wake)
		wake = q->mode_until;
	if (q->connect_held && q->nready > 0 && q->connect.next_ok < wake)
		wake = q->connect.next_ok;
	q->wake = wake;
	if (q->hidx != HEAP_NONE && isinf(wake))
		heap_remove(&mgr->wake, q->hidx);
	else if (q->hidx != HEAP_NONE)
		heap_update(&mgr->wake, q->hidx);
	else if (!isinf(wake))
		heap_push(&mgr->wake, q);
	queue_mgr_arm(mgr);
}

/* Rate-limited and not yet due: remember to come back, say so. */
static bool
queue_rate_wait(struct queue *q)
{
	if (q->interval <= 0 || queue_now(q->mgr) >= q->next_ok)
		return false;
	queue_wake_update(q);
	return true;
}

void
queue_mgr_set_expire(struct queue_mgr *mgr, queue_expire_cb *cb, void *arg)
{
	mgr->expire = cb;
	mgr->expire_arg = arg;
}

void
queue_mgr_set_mode_cb(struct queue_mgr *mgr, queue_mode_cb *cb, void *arg)
{
	mgr->mode_cb = cb;
	mgr->mode_arg = arg;
}

static int
queue_priority_cmp(const void *a, const void *b)
{
	const struct queue *x = *(const struct queue *const *)a;
	const struct queue *y = *(const struct queue *const *)b;

	return y->priority - x->priority;
}

void
queue_mgr_kick_all(struct queue_mgr *mgr)
{
	struct queue **v = NULL;
	size_t n = 0;

	for (struct queue *q = mgr->queues; q != NULL; q = q->next)
		if (q->nready > 0) {
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n++] = q;
		}
	if (n > 1)
		qsort(v, n, sizeof(*v), queue_priority_cmp);
	for (size_t i = 0; i < n; i++)
		queue_kick(v[i]);
	free(v);
}

void
queue_mgr_reconfigure(struct queue_mgr *mgr)
{
	for (struct queue *q = mgr->queues; q != NULL; q = q->next) {
		double old = q->interval;

		queue_settings(q);
		if (q->interval < old)	/* a faster rate applies at once */
			q->next_ok = queue_now(mgr);
		queue_kick(q);
		queue_wake_update(q);
	}
}

/* Start sessions while recipients are ready and slots are free. */
void
queue_kick(struct queue *q)
{
	size_t per = q->interval > 0 ? 1 : q->add_msgs == 0 ? q->batch_max :
	    (q->add_rcpts + q->add_msgs - 1) / q->add_msgs;
	int want;

	if (per > q->batch_max)
		per = q->batch_max;
	if (per == 0)
		per = 1;

	if (q->mgr->stopped || q->paused || queue_rate_wait(q))
		return;
	/* idle connections first (connection-idle-timeout): each one the
	 * delivery side wakes takes a batch now */
	while (q->idle > 0 && q->nready > 0) {
		int before = q->idle;

		q->mgr->start(q, q->mgr->arg);
		if (q->idle == before || queue_rate_wait(q))
			break;
	}
	if (q->nready == 0)
		return;
	/* one session per batch the ready recipients make (a batch is one
	 * message's recipients, up to batch_max; one with a rate limit),
	 * capped: a backlog of many messages opens max-smtp-out connections,
	 * one large message one */
	want = (int)((q->nready + per - 1) / per);
	/* but after a failure one session tries first (a delivery resets
	 * retry_index, and the next kick opens the rest), and a rated queue
	 * grows by one session per rate slot, only while every session has
	 * a transaction out: a session still connecting would take the slot */
	if (q->retry_index > 0 && want > 1)
		want = 1;
	if (q->interval > 0 && want > q->busy + 1)
		want = q->busy + 1;
	while (q->active < want && q->active < q->max_out) {
		int before = q->active;
		double now = queue_now(q->mgr);

		if (!pace_ready(&q->connect, now)) {
			/* max-connect-rate: back at the next slot */
			static const char held[] = "connect rate limit "
			    "reached (based on queue's max-connect-rate in "
			    "configuration)";

			if (!q->connect_held && strcmp(q->last_error, held) != 0)
				queue_note_error(q, held);
			q->connect_held = true;
			queue_wake_update(q);
			break;
		}
		q->connect_held = false;
		q->mgr->start(q, q->mgr->arg);
		if (q->active == before)
			break;		/* the delivery side declined */
		pace_take(&q->connect, now);
	}
}

bool
queue_rcpt_expired(const struct queue_rcpt *r)
{
	return r->q->bounce_after > 0 && queue_wall(r->q->mgr) -
	    r->msg->queued >= r->q->bounce_after;
}

static bool
queue_parked(const struct queue_rcpt *r)
{
	return r->msg->job != NULL && r->msg->job->paused;
}

/* A recipient becomes ready, or parked while its job is paused. */
void
queue_make_ready(struct queue_rcpt *r)
{
	struct queue *q = r->q;

	if (queue_parked(r)) {
		heap_push(&q->parked, r);
		q->nparked++;
		return;
	}
	heap_push(&q->ready, r);
	q->nready++;
}

/* Due waiting recipients become ready (or expire). */
static void
queue_due(struct queue *q, double now)
{
	struct queue_rcpt *r;

	while ((r = heap_top(&q->waiting)) != NULL && r->not_before <= now) {
		heap_pop(&q->waiting);
		q->nwaiting--;
		if (queue_rcpt_expired(r) && q->mgr->expire != NULL) {
			q->mgr->expire(r, q->mgr->expire_arg);
			continue;
		}
		queue_make_ready(r);
	}
}

void
queue_mgr_run(struct queue_mgr *mgr)
{
	double now = queue_now(mgr);
	struct queue *q;

	while ((q = heap_top(&mgr->wake)) != NULL && q->wake <= now) {
		heap_pop(&mgr->wake);
		queue_due(q, now);
		if (q->mode == QUEUE_BACKOFF && q->mode_until <= now)
			queue_mode_change(q, QUEUE_NORMAL,
			    "backoff-to-normal-after elapsed", -1);
		queue_kick(q);
		queue_wake_update(q);
	}
	queue_mgr_arm(mgr);
}

double
queue_mgr_next_wakeup(const struct queue_mgr *mgr)
{
	const struct queue *q = heap_top(&mgr->wake);

	return q != NULL ? q->wake : INFINITY;
}

/* FNV-1a over "domain/vmta". */
static size_t
queue_hash(const char *domain, const char *vmta)
{
	size_t h = 14695981039346656037ULL;

	for (const char *p = domain; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ '/') * 1099511628211ULL;
	for (const char *p = vmta; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

/* Grow the queue table to twice the queues and put every queue back. */
static void
queue_rehash(struct queue_mgr *mgr)
{
	size_t size = mgr->qtab_size ? mgr->qtab_size * 2 : 64;

	while (size < mgr->nqueues)
		size *= 2;
	free(mgr->qtab);
	mgr->qtab = xcalloc(size, sizeof(*mgr->qtab));
	mgr->qtab_size = size;
	for (struct queue *q = mgr->queues; q != NULL; q = q->next) {
		size_t b = queue_hash(q->domain, q->vmta) & (size - 1);
		q->hnext = mgr->qtab[b];
		mgr->qtab[b] = q;
	}
}

struct queue *
queue_get(struct queue_mgr *mgr, const char *domain, const char *vmta)
{
	size_t h = queue_hash(domain, vmta);
	struct queue *q;

	for (q = mgr->qtab_size ? mgr->qtab[h & (mgr->qtab_size - 1)] : NULL;
	    q != NULL; q = q->hnext)
		if (strcmp(q->domain, domain) == 0 && strcmp(q->vmta, vmta) == 0)
			return q;
	q = xcalloc(1, sizeof(*q));
	q->mgr = mgr;
	q->domain = xstrdup(domain);
	q->vmta = xstrdup(vmta);
	q->name = xasprintf("%s/%s", domain, vmta);
	heap_init(&q->ready, queue_rcpt_first, queue_rcpt_setidx);
	heap_init(&q->waiting, queue_rcpt_before, queue_rcpt_setidx);
	heap_init(&q->parked, queue_rcpt_first, queue_rcpt_setidx);
	q->hidx = HEAP_NONE;
	q->wake = INFINITY;
	q->mode_until = INFINITY;
	q->mode_since = queue_wall(mgr);
	queue_settings(q);
	q->next = mgr->queues;
	mgr->queues = q;
	if (++mgr->nqueues > mgr->qtab_size)
		queue_rehash(mgr);
	else {
		q->hnext = mgr->qtab[h & (mgr->qtab_size - 1)];
		mgr->qtab[h & (mgr->qtab_size - 1)] = q;
	}
	return q;
}

static char *
queue_domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	char *d = xstrdup(at ? at + 1 : "");

	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/*
 * The in-memory message: one allocation holding the structure, the
 * records of its unfinished recipients, the address array and the
 * strings (sender, ENVID, addresses).
 */
static struct queue_msg *
queue_msg_new(const struct spool_envelope *env, const bool *done,
    struct queue_rcpt **rcpts)
{
	size_t n = 0, strs = strlen(env->orig) + 1, size;
	struct queue_msg *m;
	char *p;

	for (size_t i = 0; i < env->nrcpts; i++) {
		n += done == NULL || !done[i];
		strs += strlen(env->rcpts[i]) + 1;
	}
	if (env->envid != NULL)
		strs += strlen(env->envid) + 1;
	size = sizeof(*m) + n * sizeof(struct queue_rcpt) +
	    env->nrcpts * sizeof(char *) + strs;
	m = xcalloc(1, size);
	OBJ_INIT(m, QUEUE_MSG_MAGIC);
	*rcpts = (struct queue_rcpt *)(m + 1);
	m->rcpts = (char **)(*rcpts + n);
	p = (char *)(m->rcpts + env->nrcpts);
	for (size_t i = 0; i < env->nrcpts; i++) {
		m->rcpts[i] = p;
		p = stpcpy(p, env->rcpts[i]) + 1;
	}
	m->orig = p;
	p = stpcpy(p, env->orig) + 1;
	if (env->envid != NULL) {
		m->envid = p;
		p = stpcpy(p, env->envid) + 1;
	}
	memcpy(m->id, env->id, sizeof(m->id));
	m->nrcpts = (uint32_t)env->nrcpts;
	m->seg = env->seg;
	m->queued = env->queued;
	m->first_attempt = env->first_attempt;
	m->body_offset = (uint32_t)env->body_offset;
	m->body_in_data = env->body_in_data;
	m->body_size = env->body_size;
	return m;
}

const char *
queue_rcpt_addr(const struct queue_rcpt *r)
{
	return r->msg->rcpts[r->idx];
}

/* What memory holds, when the spool cannot give the envelope back. */
static struct spool_envelope *
queue_msg_env_fallback(const struct queue_msg *m)
{
	struct spool_envelope *env = xcalloc(1, sizeof(*env));

	memcpy(env->id, m->id, sizeof(env->id));
	env->seg = m->seg;
	env->queued = m->queued;
	env->orig = xstrdup(m->orig);
	env->srcmta = xstrdup("");
	env->envid = m->envid != NULL ? xstrdup(m->envid) : NULL;
	env->jobid = m->job != NULL ? xstrdup(m->job->name) : NULL;
	env->rcpts = xcalloc(m->nrcpts, sizeof(char *));
	for (size_t i = 0; i < m->nrcpts; i++)
		env->rcpts[i] = xstrdup(m->rcpts[i]);
	env->nrcpts = m->nrcpts;
	env->body_offset = m->body_offset;
	env->body_in_data = m->body_in_data;
	env->body_size = m->body_size;
	return env;
}

static const struct spool_envelope *
queue_msg_env(struct queue_mgr *mgr, struct queue_msg *m)
{
	if (m->env != NULL)
		return m->env;
	m->env = xcalloc(1, sizeof(*m->env));
	if (spool_read_envelope(mgr->spool, m->seg, m->id, m->body_offset,
	    m->env) == -1) {
		log_warn("spool: cannot read the envelope of %s back", m->id);
		free(m->env);
		m->env = queue_msg_env_fallback(m);
	}
	return m->env;
}

const struct spool_envelope *
queue_rcpt_env(struct queue_rcpt *r)
{
	return queue_msg_env(r->q->mgr, r->msg);
}

/*
 * The VMTA of a recipient's queue: the name selected for it (its own
 * VirtualMTA, e.g. a cold-virtual-mta, else the message's), a pool
 * member in turn when that names a pool, "{default}" when none.
 */
const char *
queue_vmta_of(struct queue_mgr *mgr, const char *selected)
{
	const struct model_pool *p;
	struct queue_pool_rr *rr;

	if (selected == NULL || selected[0] == '\0')
		return QUEUE_DEFAULT_VMTA;
	if ((p = model_pool_find(*mgr->model, selected)) == NULL ||
	    p->nmembers == 0)
		return selected;
	for (rr = mgr->pools; rr != NULL; rr = rr->next)
		if (strcasecmp(rr->pool, selected) == 0)
			break;
	if (rr == NULL) {
		rr = xcalloc(1, sizeof(*rr));
		rr->pool = xstrdup(selected);
		rr->next = mgr->pools;
		mgr->pools = rr;
	}
	return p->members[rr->pos++ % p->nmembers];
}

/*
 * A recipient just queued: ready, unless its queue is in retry mode
 * (pmta-reference §3.6: new mail waits for the retry, unless
 * retry-upon-new-mail).
 */
static void
queue_new_rcpt(struct queue_rcpt *r)
{
	struct queue *q = r->q;
	double now = queue_now(q->mgr);

	if (!q->retry_new_mail && q->retry_until > now)
		queue_rcpt_defer(r, q->retry_until - now);
	else
		queue_make_ready(r);
}

void
queue_add(struct queue_mgr *mgr, const struct spool_envelope *env,
    const bool *done)
{
	struct queue_rcpt *rv;
	struct queue_msg *m = queue_msg_new(env, done, &rv);
	struct queue *qbuf[8], **qs = qbuf;
	size_t nq = 0, qcap = 8;

	m->seq = (uint32_t)++mgr->msg_seq;
	m->job = queue_job_get(mgr, env->jobid);
	m->refs = 1;	/* held while adding */
	for (size_t i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *r;
		char *domain;

		if (done != NULL && done[i])
			continue;
		domain = queue_domain_of(env->rcpts[i]);
		r = rv++;
		r->msg = m;
		r->idx = (uint32_t)i;
		r->prio = (uint8_t)spool_envelope_rpriority(env, i);
		r->hidx = HEAP_NONE;
		r->q = queue_reroute_target(queue_get(mgr, domain,
		    queue_vmta_of(mgr, spool_envelope_rvmta(env, i) != NULL ?
		    spool_envelope_rvmta(env, i) : env->vmta)));
		free(domain);
		if (nq == 0 || qs[nq - 1] != r->q) {
			size_t k;
			for (k = 0; k < nq && qs[k] != r->q; k++)
				;
			if (k == nq) {
				if (nq == qcap) {
					struct queue **v = xreallocarray(NULL,
					    qcap * 2, sizeof(*v));
					memcpy(v, qs, nq * sizeof(*v));
					if (qs != qbuf)
						free(qs);
					qs = v;
					qcap *= 2;
				}
				qs[nq++] = r->q;
			}
		}
		m->refs++;
		m->pending++;
		mgr->nrcpts++;
		r->q->add_rcpts++;
		r->q->bytes += (unsigned long long)env->body_size;
		if (m->job != NULL) {
			m->job->nrcpts++;
			m->job->bytes += (unsigned long long)env->body_size;
		}
		queue_new_rcpt(r);
	}
	if (m->pending == 0)	/* everything was already finished */
		(void)spool_remove(mgr->spool, m->seg, m->id, m->body_in_data);
	else
		mgr->nmsgs++;
	/* offer the queues this message went to a session: a message's
	 * recipients are few queues, usually one; kick each once */
	for (size_t i = 0; i < nq; i++) {
		if (++qs[i]->add_msgs == 1024) {	/* recent ones count */
			qs[i]->add_msgs /= 2;
			qs[i]->add_rcpts /= 2;
		}
	}
	for (size_t i = 0; i < nq; i++)
		if (qs[i]->nready > 0)
			queue_kick(qs[i]);
	if (qs != qbuf)
		free(qs);
	queue_msg_unref(m);
}

bool
queue_take(struct queue *q, struct queue_batch *b)
{
	struct queue_rcpt *r;
	size_t max = q->interval > 0 ? 1 : q->batch_max;

	memset(b, 0, sizeof(*b));
	if (q->mgr->stopped || q->paused ||
	    (r = heap_top(&q->ready)) == NULL || queue_rate_wait(q))
		return false;
	if (q->interval > 0) {
		double now = queue_now(q->mgr);
		q->next_ok = (q->next_ok > now ? q->next_ok : now) + q->interval;
	}
	b->q = q;
	q->busy++;
	b->msg = r->msg;
	if (b->msg->first_attempt == 0) {	/* timeFirstAttempt */
		b->msg->first_attempt = queue_wall(q->mgr);
		if (spool_set_first_attempt(q->mgr->spool, b->msg->seg,
		    b->msg->id, b->msg->first_attempt) == -1)
			log_warn("spool: cannot record the first attempt of %s",
			    b->msg->id);
	}
	b->msg->refs++;
	b->msg->env_users++;
	if (queue_msg_env(q->mgr, b->msg)->verp)
		max = 1;	/* a return path of its own per recipient */
	/* the ready order keeps a message's recipients of one priority
	 * together: take that run */
	while (b->n < max && (r = heap_top(&q->ready)) != NULL &&
	    r->msg == b->msg) {
		heap_pop(&q->ready);
		q->nready--;
		b->rcpts[b->n++] = r;
	}
	/* a rated queue with more ready: at the next slot, queue_kick()
	 * may open another session if this one is still busy then */
	if (q->interval > 0 && q->nready > 0 && q->active < q->max_out)
		queue_wake_update(q);
	return true;
}

void
queue_session_begin(struct queue *q)
{
	q->active++;
}

void
queue_session_idle(struct queue *q, bool idle)
{
	q->idle += idle ? 1 : -1;
}

void
queue_session_end(struct queue *q)
{
	q->active--;
	queue_kick(q);
}

void
queue_rcpt_finished(struct queue_rcpt *r)
{
	struct queue_msg *m = r->msg;
	struct queue_mgr *mgr = r->q->mgr;

	r->q->bytes -= (unsigned long long)m->body_size;
	if (m->job != NULL) {
		m->job->nrcpts--;
		m->job->bytes -= (unsigned long long)m->body_size;
		queue_job_release(mgr, m->job);
		if (m->pending == 1)
			m->job = NULL;	/* may be gone now */
	}
	mgr->nrcpts--;
	if (--m->pending == 0) {
		/* the last one: the message goes, no need to note it */
		if (spool_remove(mgr->spool, m->seg, m->id, m->body_in_data) == -1)
			log_warn("spool: cannot remove %s", m->id);
		mgr->nmsgs--;
	} else if (spool_mark_done(mgr->spool, m->seg, m->id, r->idx) == -1)
		log_warn("spool: cannot record recipient %u of %s as done",
		    r->idx, m->id);
	queue_msg_env_drop(m);
	queue_msg_unref(m);
}

void
queue_rcpt_defer(struct queue_rcpt *r, double seconds)
{
	struct queue *q = r->q;
	double left;

	/* never wait past the moment the recipient expires */
	if (q->bounce_after > 0) {
		left = (double)(r->msg->queued + q->bounce_after -
		    queue_wall(q->mgr));
		if (left < seconds)
			seconds = left > 0 ? left : 0;
	}
	r->not_before = queue_now(q->mgr) + seconds;
	heap_push(&q->waiting, r);
	q->nwaiting++;
	queue_wake_update(q);
}

void
queue_rcpt_return(struct queue_rcpt *r)
{
	bool moved = queue_rcpt_reroute(r);

	queue_make_ready(r);	/* its priority and age put it in front again */
	if (moved)
		queue_kick(r->q);
}

void
queue_rcpt_retry(struct queue_rcpt *r)
{
	(void)queue_rcpt_reroute(r);	/* it waits there: its wake time */
	queue_rcpt_defer(r, (double)r->q->retry_rcpt);
}

void
queue_failure(struct queue *q, const char *error)
{
	size_t i = q->retry_index < q->nretry ? q->retry_index : q->nretry - 1;

	queue_note_error(q, error);
	q->retry_index++;
	q->retry_until = queue_now(q->mgr) + (double)q->retry_list[i];
	queue_defer_all(q, (double)q->retry_list[i]);
}

size_t
queue_connect_used(const struct queue *q, double *next_in)
{
	double now = queue_now(q->mgr);

	*next_in = q->connect.next_ok > now ? q->connect.next_ok - now : 0;
	return pace_used(&q->connect, now);
}

void
queue_failure_after(struct queue *q, const char *error, double seconds)
{
	queue_note_error(q, error);
	q->retry_index++;
	q->retry_until = queue_now(q->mgr) + seconds;
	queue_defer_all(q, seconds);
}

void
queue_delivered(struct queue *q)
{
	q->retry_index = 0;	/* the next kick opens the other sessions */
	q->retry_until = 0;
	if (q->mode == QUEUE_BACKOFF && q->to_normal_on_delivery) {
		queue_mode_change(q, QUEUE_NORMAL,
		    "backoff-to-normal-after-delivery", -1);
		queue_wake_update(q);
	}
}

static void
queue_defer_all(struct queue *q, double seconds)
{
	struct queue_rcpt *r;

	while ((r = heap_pop(&q->ready)) != NULL) {
		q->nready--;
		queue_rcpt_defer(r, seconds);
	}
}

void
queue_batch_release(struct queue_batch *b)
{
	if (b->q != NULL)
		b->q->busy--;
	b->q = NULL;
	if (b->msg != NULL) {
		b->msg->env_users--;
		queue_msg_env_drop(b->msg);
		queue_msg_unref(b->msg);
	}
	b->msg = NULL;
	b->n = 0;
}
