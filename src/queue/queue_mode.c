/*
 * queue_mode: a queue's settings (those of its mode), normal and backoff
 * mode with backoff reroutes, error events and disabled source addresses
 * (see queue.h).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "queue/queue.h"
#include "queue/queue_private.h"

/* A setting of the queue as configured, or NULL when not set. */
static const struct conf_value *
queue_value(struct queue *q, int id)
{
	return model_queue_value(*q->mgr->model, q->domain, q->vmta, id);
}

/* A number setting of the queue (time in seconds), or the table's default. */
static long long
queue_num(struct queue *q, int id)
{
	return conf_value_num(queue_value(q, id), &conf_directives[id]);
}

static bool
queue_bool(struct queue *q, int id)
{
	return conf_value_bool(queue_value(q, id), &conf_directives[id]);
}

/* retry-after or backoff-retry-after (id): its list, or its default. */
static void
queue_retry_settings(struct queue *q, int id)
{
	const struct conf_value *v = queue_value(q, id);
	long long def;

	free(q->retry_list);
	q->nretry = v != NULL && v->u.nums.n > 0 ? v->u.nums.n : 1;
	q->retry_list = xcalloc(q->nretry, sizeof(long long));
	if (v != NULL && v->u.nums.n > 0)
		memcpy(q->retry_list, v->u.nums.v, q->nretry * sizeof(long long));
	else if (conf_parse_time(conf_directives[id].def, &def) == 0)
		q->retry_list[0] = def;
	else
		q->retry_list[0] = (long long)QUEUE_RETRY_DEFAULT;
	q->retry_rcpt = queue_num(q, CONF_ID_RETRY_RECIPIENTS_AFTER);
	q->bounce_after = queue_num(q, CONF_ID_BOUNCE_AFTER);
	q->retry_new_mail = conf_value_bool(queue_value(q,
	    CONF_ID_RETRY_UPON_NEW_MAIL),
	    &conf_directives[CONF_ID_RETRY_UPON_NEW_MAIL]);
}

/* Seconds between two attempts for a rate value, or for N per hour. */
static double
queue_interval_of(const struct conf_value *rate, const struct conf_value *hourly)
{
	if (rate != NULL)
		return !rate->unlimited && rate->u.rate.count > 0 ?
		    (double)rate->u.rate.per / (double)rate->u.rate.count : 0;
	return hourly != NULL && hourly->u.i > 0 ? 3600. / (double)hourly->u.i : 0;
}

/*
 * max-msg-rate (or the legacy max-msg-per-hour); in backoff
 * backoff-max-msg-rate (or backoff-max-msg-per-hour), which defaults to
 * the normal rate.
 */
static double
queue_rate_interval(struct queue *q)
{
	const struct conf_value *rate = NULL, *hourly = NULL;

	if (q->mode == QUEUE_BACKOFF) {
		rate = queue_value(q, CONF_ID_BACKOFF_MAX_MSG_RATE);
		hourly = queue_value(q, CONF_ID_BACKOFF_MAX_MSG_PER_HOUR);
		if (rate != NULL || hourly != NULL)
			return queue_interval_of(rate, hourly);
	}
	return queue_interval_of(queue_value(q, CONF_ID_MAX_MSG_RATE),
	    queue_value(q, CONF_ID_MAX_MSG_PER_HOUR));
}

/*
 * max-connect-rate; in backoff backoff-max-connect-rate, which defaults
 * to the normal rate.
 */
static void
queue_connect_settings(struct queue *q)
{
	const struct conf_value *v = NULL;

	if (q->mode == QUEUE_BACKOFF)
		v = queue_value(q, CONF_ID_BACKOFF_MAX_CONNECT_RATE);
	if (v == NULL)
		v = queue_value(q, CONF_ID_MAX_CONNECT_RATE);
	pace_set(&q->connect, v != NULL && !v->unlimited ? v->u.rate.count : 0,
	    v != NULL && !v->unlimited ? (double)v->u.rate.per : 0,
	    queue_now(q->mgr));
}

/* backoff-reroute-to-virtual-mta (a copy: a reload frees the model). */
static void
queue_reroute_settings(struct queue *q)
{
	const struct conf_value *v = queue_value(q,
	    CONF_ID_BACKOFF_REROUTE_TO_VIRTUAL_MTA);

	free(q->reroute);
	q->reroute = v != NULL && v->u.s != NULL && v->u.s[0] != '\0' ?
	    xstrdup(v->u.s) : NULL;
}

/* Read the queue's settings, those of its mode (normal or backoff). */
void
queue_settings(struct queue *q)
{
	bool backoff = q->mode == QUEUE_BACKOFF;
	long long n;

	queue_retry_settings(q, backoff ? CONF_ID_BACKOFF_RETRY_AFTER :
	    CONF_ID_RETRY_AFTER);
	q->max_out = (int)queue_num(q, backoff ? CONF_ID_BACKOFF_MAX_SMTP_OUT :
	    CONF_ID_MAX_SMTP_OUT);
	q->interval = queue_rate_interval(q);
	queue_connect_settings(q);
	q->priority = (int)queue_num(q, CONF_ID_QUEUE_PRIORITY);
	q->interruptible = queue_bool(q, CONF_ID_ALLOW_PRIORITY_INTERRUPTION);
	q->interrupt_transfer = queue_bool(q,
	    CONF_ID_ALLOW_PRIORITY_INTERRUPTION_DURING_TRANSFER);
	q->to_normal_after = queue_num(q, CONF_ID_BACKOFF_TO_NORMAL_AFTER);
	q->to_normal_on_delivery = queue_bool(q,
	    CONF_ID_BACKOFF_TO_NORMAL_AFTER_DELIVERY);
	queue_reroute_settings(q);
	n = queue_num(q, CONF_ID_MAX_RCPT_PER_TRANSACTION);
	q->batch_max = n > 0 && n < QUEUE_BATCH_MAX ? (size_t)n : QUEUE_BATCH_MAX;
}

#define QUEUE_REROUTE_MAX	16	/* queues in a chain of backoff reroutes */

static bool
queue_in(struct queue *const *v, size_t n, const struct queue *q)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == q)
			return true;
	return false;
}

/*
 * Where q's recipients go now: q itself, or the end of its chain of
 * backoff reroutes.  A chain that comes back (or is too long) is a loop:
 * logged once per backoff of q, and q keeps its recipients.
 */
struct queue *
queue_reroute_target(struct queue *q)
{
	struct queue *chain[QUEUE_REROUTE_MAX], *cur = q, *next;
	size_t n = 0;

	while (cur->mode == QUEUE_BACKOFF && cur->reroute != NULL) {
		const char *vmta = queue_vmta_of(q->mgr, cur->reroute);

		if (strcasecmp(vmta, cur->vmta) == 0)
			break;			/* to itself: ignored */
		chain[n++] = cur;
		next = queue_get(q->mgr, cur->domain, vmta);
		if (n == QUEUE_REROUTE_MAX || queue_in(chain, n, next)) {
			if (!q->reroute_loop)
				log_warnx("%s: backoff-reroute-to-virtual-mta "
				    "loops (back to %s): not rerouted",
				    q->name, next->name);
			q->reroute_loop = true;
			return q;
		}
		cur = next;
	}
	return cur;
}

/* A queued recipient changes queue (reroute). */
static void
queue_rcpt_move(struct queue_rcpt *r, struct queue *to)
{
	r->q->bytes -= (unsigned long long)r->msg->body_size;
	to->bytes += (unsigned long long)r->msg->body_size;
	r->q = to;
}

/* Every recipient of heap h of q goes to `to`, ready there. */
static size_t
queue_move_heap(struct heap *h, size_t *count, struct queue *to)
{
	struct queue_rcpt *r;
	size_t n = 0;

	while ((r = heap_pop(h)) != NULL) {
		(*count)--;
		queue_rcpt_move(r, to);
		queue_make_ready(r);
		n++;
	}
	return n;
}

/* q entered backoff: with a reroute, its queued recipients move. */
void
queue_reroute_all(struct queue *q)
{
	struct queue *to = queue_reroute_target(q);
	size_t n;

	if (to == q)
		return;
	n = queue_move_heap(&q->ready, &q->nready, to);
	n += queue_move_heap(&q->waiting, &q->nwaiting, to);
	n += queue_move_heap(&q->parked, &q->nparked, to);
	if (n == 0)
		return;
	log_info("%s: %zu recipient(s) rerouted to %s "
	    "(backoff-reroute-to-virtual-mta)", q->name, n, to->name);
	queue_kick(to);
	queue_wake_update(to);
}

/* A recipient back from a session: to its queue's reroute target.
 * True when it moved (the caller kicks the new queue once it is in). */
bool
queue_rcpt_reroute(struct queue_rcpt *r)
{
	struct queue *to = queue_reroute_target(r->q);

	if (to == r->q)
		return false;
	queue_rcpt_move(r, to);
	return true;
}

const char *
queue_mode_name(enum queue_mode mode)
{
	return mode == QUEUE_BACKOFF ? "backoff" : "normal";
}

/*
 * Switch mode and the settings that go with it.  The rate changes from
 * the last attempt on: the next one is due one new interval after it.
 * Backoff ends after to_normal_after seconds (0: never; -1: the queue's
 * backoff-to-normal-after).  The caller kicks the queue and updates its
 * wake time.
 */
void
queue_mode_change(struct queue *q, enum queue_mode mode, const char *reason,
    long long to_normal_after)
{
	double old = q->interval;

	if (mode == q->mode)
		return;
	q->mode = mode;
	q->mode_since = queue_wall(q->mgr);
	snprintf(q->mode_reason, sizeof(q->mode_reason), "%s",
	    reason != NULL ? reason : "");
	queue_settings(q);
	if (old > 0)
		q->next_ok += q->interval - old;
	if (to_normal_after < 0)
		to_normal_after = q->to_normal_after;
	q->mode_until = INFINITY;
	if (mode == QUEUE_BACKOFF && to_normal_after > 0)
		q->mode_until = queue_now(q->mgr) + (double)to_normal_after;
	q->reroute_loop = false;
	log_info("%s: %s mode (%s)", q->name, queue_mode_name(mode),
	    q->mode_reason);
	if (q->mgr->mode_cb != NULL)
		q->mgr->mode_cb(q, q->mgr->mode_arg);
	if (mode == QUEUE_BACKOFF && q->reroute != NULL)
		queue_reroute_all(q);
}

void
queue_set_mode(struct queue *q, enum queue_mode mode, const char *reason)
{
	queue_set_mode_for(q, mode, reason, -1);
}

void
queue_set_mode_for(struct queue *q, enum queue_mode mode, const char *reason,
    long long to_normal_after)
{
	queue_mode_change(q, mode, reason, to_normal_after);
	queue_kick(q);
	queue_wake_update(q);
}

void
queue_note_error(struct queue *q, const char *text)
{
	struct queue_event *ev;

	snprintf(q->last_error, sizeof(q->last_error), "%s", text);
	if (q->errors == NULL)
		q->errors = xcalloc(QUEUE_EVENTS_MAX, sizeof(*q->errors));
	ev = &q->errors[q->nerrors++ % QUEUE_EVENTS_MAX];
	ev->at = queue_wall(q->mgr);
	snprintf(ev->text, sizeof(ev->text), "%s", text);
}

size_t
queue_error_events(const struct queue *q, const struct queue_event **v)
{
	size_t n = q->nerrors < QUEUE_EVENTS_MAX ? q->nerrors :
	    QUEUE_EVENTS_MAX;
	unsigned first = q->nerrors - (unsigned)n;

	for (size_t i = 0; i < n; i++)
		v[i] = &q->errors[(first + i) % QUEUE_EVENTS_MAX];
	return n;
}

/* Drop the entries of q->sources_off whose time is over. */
static void
queue_sources_expire(struct queue *q)
{
	double now = queue_now(q->mgr);

	for (struct queue_source_off **pp = &q->sources_off; *pp != NULL;) {
		struct queue_source_off *o = *pp;

		if (o->until > now) {
			pp = &o->next;
			continue;
		}
		log_info("%s: source %s enabled again", q->name, o->ip);
		*pp = o->next;
		free(o);
		q->nsources_off--;
	}
}

bool
queue_source_disable(struct queue *q, const char *ip, long long seconds)
{
	struct queue_source_off *o;

	if (queue_source_disabled(q, ip) ||
	    q->nsources_off >= QUEUE_SOURCES_OFF_MAX)
		return false;
	o = xcalloc(1, sizeof(*o));
	snprintf(o->ip, sizeof(o->ip), "%s", ip);
	o->until = seconds > 0 ? queue_now(q->mgr) + (double)seconds : INFINITY;
	o->next = q->sources_off;
	q->sources_off = o;
	q->nsources_off++;
	return true;
}

bool
queue_source_disabled(struct queue *q, const char *ip)
{
	queue_sources_expire(q);
	for (const struct queue_source_off *o = q->sources_off; o != NULL;
	    o = o->next)
		if (strcmp(o->ip, ip) == 0)
			return true;
	return false;
}

size_t
queue_sources_disabled(struct queue *q)
{
	queue_sources_expire(q);
	return q->nsources_off;
}

bool
queue_may_interrupt(const struct queue *victim, const struct queue *by)
{
	return victim != by && victim->interruptible &&
	    victim->priority < by->priority;
}
