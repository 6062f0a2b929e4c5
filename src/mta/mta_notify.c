/*
 * mta_notify: notices to administrators about a queue, composed by
 * src/queue/notice.c and spooled from <> like the DSNs:
 *   - backoff-notify: when the queue enters or leaves backoff mode (any
 *     way: an smtp-pattern-list rule, pmta set queue, the end of
 *     backoff-to-normal-after, a delivery ...), with the reason;
 *   - disabled-source-ip-notify: when disable-source-ip takes one of the
 *     queue's local addresses.
 * One message per event, to all the addresses of the setting.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "mta/mta_private.h"
#include "queue/dsn_send.h"
#include "queue/notice.h"

#define MTA_NOTICE_MAX		(64 * 1024)
#define MTA_NOTICE_RCPTS_MAX	32

/* The setting id's addresses for q, into to[]; how many. */
static size_t
mta_notify_rcpts(const struct model *model, const struct queue *q, int id,
    const char **to)
{
	const struct conf_value *v = model_queue_value(model, q->domain,
	    q->vmta, id);
	size_t n = 0;

	for (size_t i = 0; v != NULL && i < v->u.list.n &&
	    n < MTA_NOTICE_RCPTS_MAX; i++)
		if (v->u.list.v[i][0] != '\0')
			to[n++] = v->u.list.v[i];
	return n;
}

static void
mta_notify(struct mta *m, struct queue *q, int id, const char *subject,
    const char *text)
{
	const struct model *model = *m->model;
	const char *to[MTA_NOTICE_RCPTS_MAX];
	char seed[64];
	struct notice nt;
	struct buf out;

	nt.nto = mta_notify_rcpts(model, q, id, to);
	if (nt.nto == 0)
		return;
	snprintf(seed, sizeof(seed), "%llx.%lx.n%lu", (long long)time(NULL),
	    (unsigned long)getpid(), ++m->dsn_seq);
	nt.host = model->host_name;
	nt.to = to;
	nt.subject = subject;
	nt.seed = seed;
	nt.now = time(NULL);
	nt.text = text;
	buf_init(&out, MTA_NOTICE_MAX);
	if (notice_compose(&nt, &out) == -1)
		log_warnx("%s: cannot compose a notice (%s)", q->name,
		    conf_directives[id].name);
	else if (dsn_spool(m->spool, q->mgr, model->host_name, to, nt.nto,
	    &out) == 0)
		log_info("%s: %s notice to %zu address(es)", q->name,
		    conf_directives[id].name, nt.nto);
	buf_free(&out);
}

/* "2026-11-25 16:39:43 +0000", local time. */
static void
mta_notify_time(time_t t, char *dst, size_t size)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(dst, size, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		snprintf(dst, size, "%lld", (long long)t);
}

void
mta_notify_mode(struct queue *q, void *arg)
{
	struct mta *m = arg;
	char subject[300], text[1024], since[64];
	bool backoff = q->mode == QUEUE_BACKOFF;

	mta_notify_time(q->mode_since, since, sizeof(since));
	snprintf(subject, sizeof(subject), backoff ?
	    "Queue %.200s is in backoff mode" :
	    "Queue %.200s is back in normal mode", q->name);
	snprintf(text, sizeof(text), "Queue: %s\nMode: %s\nSince: %s\n"
	    "Reason: %s\n", q->name, queue_mode_name(q->mode), since,
	    q->mode_reason);
	mta_notify(m, q, CONF_ID_BACKOFF_NOTIFY, subject, text);
}

void
mta_notify_source(struct mta *m, struct queue *q, const char *ip)
{
	char subject[300], text[1024], now[64];

	mta_notify_time(time(NULL), now, sizeof(now));
	snprintf(subject, sizeof(subject), "Source %s disabled for queue "
	    "%.200s", ip, q->name);
	snprintf(text, sizeof(text), "Queue: %s\nSource: %s\nDisabled: %s\n"
	    "Reason: disable-source-ip (smtp-pattern-list)\n", q->name, ip,
	    now);
	mta_notify(m, q, CONF_ID_DISABLED_SOURCE_IP_NOTIFY, subject, text);
}
