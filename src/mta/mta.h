/*
 * mta: the delivery side.  Starts SMTP client sessions for queues that
 * have ready recipients, routes them (smtp-hosts of the queue's
 * <domain>), and turns each reply into an accounting record and a queue
 * outcome: 2xx delivered ('d'), 5xx bounced ('b'), 4xx and connection
 * failures retried.
 */
#ifndef TERN_MTA_H
#define TERN_MTA_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

#include "acct/acct.h"
#include "dns/dns.h"
#include "lib/meter.h"
#include "model/model.h"
#include "queue/queue.h"

struct mta;

struct mta_stats {
	unsigned long	delivered;	/* recipients */
	unsigned long	bounced;
	unsigned long	deferred;
	unsigned long	connections;	/* opened */
	int		active;		/* sessions now */
	struct meter	traffic;	/* delivered: recipients, messages (with a
					   delivery), bytes; .total for all time */
};

/* *model is read at each session start (the daemon swaps it on reload). */
struct mta *mta_new(struct ev_loop *loop, struct model *const *model,
	    struct spool *spool, struct acct *acct);
void	mta_free(struct mta *m);
/* Deliver domains without smtp-hosts to their MX hosts through d. */
void	mta_set_dns(struct mta *m, struct dns *d);
/* The queue_start_cb for queue_mgr_new(). */
void	mta_start(struct queue *q, void *arg);
/* Every queued recipient of q bounces with status code and reply diag
 * (the domain cannot get mail, the VirtualMTA is gone ...). */
void	mta_bounce_queue(struct mta *m, struct queue *q, const char *code,
	    const char *diag);
/* The queue_expire_cb: a recipient past bounce-after bounces. */
void	mta_expire(struct queue_rcpt *r, void *arg);
/* The queue_mode_cb: backoff-notify gets a notice when a queue enters
 * or leaves backoff mode (arg is the struct mta). */
void	mta_notify_mode(struct queue *q, void *arg);
/* Finish the transactions in flight, then close every session. */
void	mta_stop(struct mta *m);
const struct mta_stats *mta_stats(const struct mta *m);
/* show limits: the global connection limits (total-max-smtp-out,
 * mx-connection-limit, ip-connection-limit) and their use now. */
void	mta_limits_show(const struct mta *m, const struct model *model,
	    struct buf *out);
/* show queues --limits: q's open connections by local address, with
 * source-ip-max-smtp-out, and the sessions waiting for a limit. */
void	mta_limits_show_queue(const struct mta *m, const struct queue *q,
	    struct buf *out);

/* pmta delete: what to do with each recipient taken off a queue. */
struct mta_delete {
	struct mta	*mta;
	bool		 dsn;		/* --dsn: a failure report to the sender */
	bool		 accounting;	/* a 'b' record (unless --no-accounting) */
	size_t		 count;
};
/* A queue_take_cb: arg is a struct mta_delete. */
void	mta_delete(struct queue_rcpt *r, void *arg);

#endif
