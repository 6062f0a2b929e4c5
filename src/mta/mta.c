/*
 * mta: the delivery coordinator (see mta.h).  Owns the list of client
 * sessions so that shutdown can wait for them, enforces
 * total-max-smtp-out and interrupts sessions of lower-priority queues
 * when a queue finds no free slot (pmta-reference §3.5); an idle
 * connection of the queue (connection-idle-timeout) takes new mail
 * before a new one opens, and idle ones give their slot up first.
 */
#include "config.h"

#include <stdlib.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "mta/mta_private.h"

/* Close an interrupted session now if it may be (mta_session_cut). */
static void
mta_on_cut(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mta *m = w->data;
	struct mta_session *s;

	/* one at a time: cutting frees the session and starts others */
	LIST_FOREACH(s, &m->sessions, entry)
		if (mta_session_cut(s))
			break;
}

struct mta *
mta_new(struct ev_loop *loop, struct model *const *model, struct spool *spool,
    struct acct *acct)
{
	struct mta *m = xcalloc(1, sizeof(*m));

	m->spool = spool;
	m->loop = loop;
	m->model = model;
	m->acct = acct;
	LIST_INIT(&m->sessions);
	mta_limits_init(m);
	ev_init(&m->cut, mta_on_cut);
	m->cut.data = m;
	return m;
}

void
mta_free(struct mta *m)
{
	struct mta_session *s;

	while ((s = LIST_FIRST(&m->sessions)) != NULL)
		mta_session_free(s);
	if (m->loop != NULL)
		ev_timer_stop(m->loop, &m->cut);
	mta_limits_free(m);
	free(m);
}

/*
 * q needs a connection and every global slot is taken: ask the session
 * of the lowest-priority queue that q may interrupt to close.  One at a
 * time: the slot it frees goes to the best queue waiting
 * (queue_mgr_kick_all), and a queue still short asks again then.
 */
static void
mta_interrupt(struct mta *m, struct queue *q)
{
	struct mta_session *s, *victim = NULL;

	if (m->interrupting > 0)
		return;
	LIST_FOREACH(s, &m->sessions, entry)
		if (!s->interrupted && s->state != MTA_QUIT &&
		    queue_may_interrupt(s->q, q) &&
		    (victim == NULL || s->q->priority < victim->q->priority))
			victim = s;
	if (victim == NULL)
		return;
	log_info("%s: closing a connection for %s (queue-priority %d < %d)",
	    victim->q->name, q->name, victim->q->priority, q->priority);
	mta_session_interrupt(victim);
	if (m->loop != NULL) {	/* never from inside this call */
		ev_timer_set(&m->cut, 0., 0.);
		ev_timer_start(m->loop, &m->cut);
	}
}

void
mta_start(struct queue *q, void *arg)
{
	struct mta *m = arg;
	long long total = conf_value_num(model_settings_get(&(*m->model)->global,
	    CONF_ID_TOTAL_MAX_SMTP_OUT),
	    &conf_directives[CONF_ID_TOTAL_MAX_SMTP_OUT]);

	struct mta_session *idle;

	if (m->stopping)
		return;
	if ((idle = mta_session_idle_of(m, q)) != NULL) {
		/* connection-idle-timeout: the open connection takes it */
		(void)mta_session_wake(idle);
		return;
	}
	if (total > 0 && m->stats.active >= total) {
		m->full = true;		/* the queue waits for a free slot */
		/* an idle connection (of another queue) gives its slot up
		 * first; its end kicks the queues */
		if ((idle = mta_session_idle_of(m, NULL)) != NULL)
			mta_session_quit(idle);
		else
			mta_interrupt(m, q);
		return;
	}
	if (mta_patterns_no_source(*m->model, q)) {
		/* disable-source-ip took them all: wait for the retry */
		queue_failure(q, "451 4.4.0 all SMTP sources of the queue are "
		    "disabled");
		return;
	}
	(void)mta_session_new(m, q);
}

void
mta_set_dns(struct mta *m, struct dns *d)
{
	m->dns = d;
}

void
mta_stop(struct mta *m)
{
	struct mta_session *s;

	m->stopping = true;
	/* those waiting for a connection limit have nothing in flight */
	while ((s = TAILQ_FIRST(&m->waiting)) != NULL)
		mta_session_free(s);
	/* and idle ones say goodbye now */
	while ((s = mta_session_idle_of(m, NULL)) != NULL)
		mta_session_quit(s);
}

const struct mta_stats *
mta_stats(const struct mta *m)
{
	return &m->stats;
}
