/*
 * mta_dsn: delivery status reports (RFC 3464, src/queue/dsn.c) to the
 * envelope sender: a failure report when a recipient bounces, a success
 * report when it was delivered and NOTIFY=SUCCESS asked for one, as the
 * recipient's NOTIFY allows (RFC 3461); with the original's header
 * section, or the whole message with RET=FULL; ENVID and ORCPT carried.
 * Spooled as a new message from <> and queued like any other once the
 * spool has made it durable.  Never for the null sender (no loops).
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "mta/mta_private.h"
#include "queue/dsn_send.h"

void
mta_dsn_report(struct mta *m, struct queue_rcpt *r, enum dsn_action action,
    const char *status, const char *remote_mta, const char *diagnostic)
{
	const struct spool_envelope *env = queue_rcpt_env(r);
	struct dsn_rcpt dr;

	if (env->no_dsn || !conf_value_bool(model_queue_value(*m->model,
	    r->q->domain, r->q->vmta, CONF_ID_DELIVER_LOCAL_DSN),
	    &conf_directives[CONF_ID_DELIVER_LOCAL_DSN]) ||
	    !dsn_wanted(env->orig, spool_envelope_notify(env, r->idx), action))
		return;
	memset(&dr, 0, sizeof(dr));
	dr.final_rcpt = env->rcpts[r->idx];
	dr.orcpt = spool_envelope_orcpt(env, r->idx);
	dr.action = action;
	dr.status = status;
	dr.remote_mta = remote_mta;
	dr.diagnostic = diagnostic;
	dr.last_attempt = time(NULL);
	if (action == DSN_DELAYED && r->q->bounce_after > 0)
		dr.will_retry_until = env->queued + (time_t)r->q->bounce_after;
	(void)dsn_send(m->spool, r->q->mgr, *m->model, env, env->orig,
	    r->q->domain, r->q->vmta, &dr, 1);
}
