/*
 * mta: the delivery coordinator (see mta.h).  Owns the list of client
 * sessions so that shutdown can wait for them.
 */
#include "config.h"

#include <stdlib.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "mta/mta_private.h"

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
	return m;
}

void
mta_free(struct mta *m)
{
	struct mta_session *s;

	while ((s = LIST_FIRST(&m->sessions)) != NULL)
		mta_session_free(s);
	free(m);
}

void
mta_start(struct queue *q, void *arg)
{
	struct mta *m = arg;
	long long total = conf_value_num(model_settings_get(&(*m->model)->global,
	    CONF_ID_TOTAL_MAX_SMTP_OUT),
	    &conf_directives[CONF_ID_TOTAL_MAX_SMTP_OUT]);

	if (m->stopping)
		return;
	if (total > 0 && m->stats.active >= total) {
		m->full = true;		/* the queue waits for a free slot */
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
	m->stopping = true;
}

const struct mta_stats *
mta_stats(const struct mta *m)
{
	return &m->stats;
}
