/*
 * dsn_send: the I/O side of reports and notices (dsn.c and notice.c
 * compose them): read the start of the original message from the spool,
 * spool a message from <> and queue it once it is durable.  Used by the
 * delivery side (bounces, delays, successes, backoff notices) and by the
 * injection side (recipients refused in an accepted pickup file).
 */
#ifndef TERN_QUEUE_DSN_SEND_H
#define TERN_QUEUE_DSN_SEND_H

#include <stddef.h>

#include "lib/buf.h"
#include "model/model.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "spool/spool.h"

/*
 * Spool the message in report from <> to to[0..nto) (a copy is made of
 * everything), and queue it once durable.  0, or -1 (logged) when it
 * could not be written.
 */
int	dsn_spool(struct spool *sp, struct queue_mgr *qm, const char *host_name,
	    const char *const *to, size_t nto, const struct buf *report);

/*
 * Compose the report about rcpts[0..n) of the message env to `to` (its
 * sender; the settings custom-dsn-from-header and dsn-format of the queue
 * domain/vmta) and spool it.  The caller has checked that a report is
 * wanted (NOTIFY, deliver-local-dsn).  0 or -1 (logged).
 */
int	dsn_send(struct spool *sp, struct queue_mgr *qm, const struct model *m,
	    const struct spool_envelope *env, const char *to,
	    const char *domain, const char *vmta, const struct dsn_rcpt *rcpts,
	    size_t n);

#endif
