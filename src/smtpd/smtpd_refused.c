/*
 * smtpd_refused: recipients refused when nobody could be told at once.
 *
 * An SMTP client hears a refused RCPT; a pickup file's writer does not.
 * So when a pickup file is accepted without some of its recipients (a
 * refused RCPT after XACK OFF, docs/compat.md), each of them gets what a
 * recipient that bounces at delivery gets: a `b` accounting record
 * (dsnAction failed, the status and diagnostic of the refusal, the
 * bounce category they match) and, as its NOTIFY wants and unless the
 * source's suppress-local-dsn or the queue's deliver-local-dsn says no,
 * a failure report (src/queue/dsn.c) to the sender, spooled from <> and
 * queued once durable.  One report covers all the file's refused
 * recipients; it returns the accepted message's header section (or the
 * whole message with RET=FULL), read back from the spool.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acct/acct.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "queue/bounce.h"
#include "queue/dsn_send.h"
#include "queue/queue.h"
#include "smtpd/smtpd_private.h"

/* The b record of one refused recipient. */
static void
smtpd_refused_acct(struct smtpd *d, const struct model *m,
    const struct spool_envelope *env, const char *sender,
    const struct smtpd_refusal *r)
{
	const char *at = strrchr(r->rcpt, '@');
	const char *vmta = env->vmta != NULL ? env->vmta : QUEUE_DEFAULT_VMTA;
	char status[128], *queue;
	struct acct_record rec;

	if (!acct_wants(d->acct, ACCT_B))
		return;
	bounce_dsn_status(r->status, status, sizeof(status));
	queue = xasprintf("%s/%s", at != NULL ? at + 1 : "", vmta);
	memset(&rec, 0, sizeof(rec));
	rec.type = ACCT_B;
	rec.logged = time(NULL);
	rec.queued = env->queued;
	rec.orig = sender;
	rec.rcpt = r->rcpt;
	rec.orcpt = r->orcpt;
	rec.dsn_action = "failed";
	rec.dsn_status = status;
	rec.dsn_diag = r->diag;
	rec.bounce_cat = bounce_category(m, status, r->diag);
	rec.src_type = "smtp";
	rec.src_mta = env->srcmta;
	rec.rcv_smtp_user = env->auth_user;
	rec.dlv_type = "smtp";
	rec.dlv_source_ip = rec.dlv_destination_ip = "0.0.0.0";
	rec.dlv_size = -1;
	rec.vmta = vmta;
	rec.job_id = env->jobid;
	rec.env_id = env->envid;
	rec.queue = queue;
	acct_write(d->acct, &rec);
	free(queue);
}

void
smtpd_msg_refused(struct smtpd *d, const struct model *m,
    const struct spool_envelope *env, const char *sender,
    const struct smtpd_refusal *r, size_t n)
{
	struct dsn_rcpt *dr = xcalloc(n, sizeof(*dr));
	const char *domain;
	size_t nr = 0;

	for (size_t i = 0; i < n; i++) {
		const struct conf_value *v;

		smtpd_refused_acct(d, m, env, sender, &r[i]);
		log_info("refused recipient <%s> (%s %s) bounced to <%s>",
		    r[i].rcpt, r[i].status, r[i].diag, sender);
		domain = strrchr(r[i].rcpt, '@') ? strrchr(r[i].rcpt, '@') + 1 : "";
		v = model_queue_value(m, domain, env->vmta,
		    CONF_ID_DELIVER_LOCAL_DSN);
		if (env->no_dsn || !conf_value_bool(v,
		    &conf_directives[CONF_ID_DELIVER_LOCAL_DSN]) ||
		    !dsn_wanted(sender, r[i].notify, DSN_FAILED))
			continue;
		dr[nr].final_rcpt = r[i].rcpt;
		dr[nr].orcpt = r[i].orcpt;
		dr[nr].action = DSN_FAILED;
		dr[nr].status = r[i].status;
		dr[nr].diagnostic = r[i].diag;
		nr++;
	}
	if (nr == 0) {
		free(dr);
		return;
	}
	domain = strrchr(dr[0].final_rcpt, '@') ?
	    strrchr(dr[0].final_rcpt, '@') + 1 : "";
	(void)dsn_send(d->spool, d->qm, m, env, sender, domain, env->vmta, dr,
	    nr);
	free(dr);
}
