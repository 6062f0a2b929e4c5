/*
 * smtpd: the SMTP server that takes injected mail: listeners, sessions,
 * relaying policy from <source>, and the spool commit that must succeed
 * before a 250 is sent.
 */
#ifndef TERN_SMTPD_H
#define TERN_SMTPD_H

#include <ev.h>

#include "lib/meter.h"
#include "model/model.h"
#include "queue/cold.h"
#include "queue/queue.h"
#include "spool/spool.h"

struct smtpd;
struct acct;

struct smtpd_stats {
	unsigned long	connections;	/* accepted */
	int		active;		/* sessions now */
	struct meter	traffic;	/* accepted (250 after DATA): recipients,
					   messages, bytes; .total for all time */
};

struct smtpd *smtpd_new(struct ev_loop *loop, struct model *const *model,
	    struct spool *spool, struct queue_mgr *qm);
/* The cold-virtual-mta counters used at reception (NULL: none). */
void	smtpd_set_cold(struct smtpd *d, struct cold *cold);
/* Bind and listen on every smtp-listener of the model.  0 or -1. */
int	smtpd_listen(struct smtpd *d, const char **error_r);
/* Close the listeners; idle sessions get 421, sessions receiving a
 * message finish it first. */
void	smtpd_stop(struct smtpd *d);
void	smtpd_free(struct smtpd *d);
const struct smtpd_stats *smtpd_stats(const struct smtpd *d);
/* Write an r record per recipient of each accepted message (if the
 * accounting takes them; smtpd_acct.c). */
void	smtpd_set_acct(struct smtpd *d, struct acct *a);

#endif
