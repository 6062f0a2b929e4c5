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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acct/acct.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "queue/bounce.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "smtpd/smtpd_private.h"

#define SMTPD_REFUSED_HEADERS_MAX	(256 * 1024)	/* of the original */
#define SMTPD_REFUSED_FULL_MAX		(10 * 1024 * 1024)	/* RET=FULL */
#define SMTPD_REFUSED_REPORT_MAX	(1024 * 1024)	/* the rest of a report */

/* A report waiting for the spool's commit. */
struct smtpd_refused_dsn {
	struct queue_mgr	*qm;
	struct spool_envelope	 env;
};

static void
smtpd_refused_committed(void *arg, int error)
{
	struct smtpd_refused_dsn *r = arg;

	if (error == 0)
		queue_add(r->qm, &r->env, NULL);
	else
		log_warnx("dsn: the report to %s could not be spooled",
		    r->env.rcpts[0]);
	spool_envelope_free(&r->env);
	free(r);
}

/* Spool the report to `to` from <>, queued once durable. */
static void
smtpd_refused_spool(struct smtpd *d, const struct model *m, const char *to,
    const struct buf *report)
{
	struct smtpd_refused_dsn *r = xcalloc(1, sizeof(*r));
	struct spool_writer w;
	const char *error = "write failed";

	r->qm = d->qm;
	r->env.orig = xstrdup("");
	r->env.srcmta = xasprintf("%s (127.0.0.1)", m->host_name);
	smtpd_msg_add_rcpt(&r->env, to, 0, NULL);
	r->env.body_size = (off_t)report->len;
	if (spool_writer_begin(d->spool, &r->env, &w, &error) == -1 ||
	    spool_writer_write(&w, report->data, report->len) == -1) {
		log_warnx("dsn: cannot spool a report to %s: %s", to, error);
		spool_writer_abort(&w);
		smtpd_refused_committed(r, EIO);
		return;
	}
	spool_writer_commit_async(d->spool, &w, smtpd_refused_committed, r);
}

/* The start of the accepted message (its header section at least). */
static size_t
smtpd_refused_original(struct smtpd *d, const struct spool_envelope *env,
    char *dst, size_t size)
{
	int fd = spool_open_message(d->spool, env->seg, env->id);
	ssize_t n;

	if (fd == -1)
		return 0;
	n = pread(fd, dst, size, env->body_offset);
	close(fd);
	return n > 0 ? (size_t)n : 0;
}

/* A string setting for reports about rcpt, or NULL. */
static const char *
smtpd_refused_setting(const struct model *m, const char *domain,
    const char *vmta, int id)
{
	const struct conf_value *v = id == CONF_ID_CUSTOM_DSN_FROM_HEADER ?
	    model_settings_get(&m->global, id) :
	    model_queue_value(m, domain, vmta, id);

	return v != NULL && v->set && v->u.s != NULL && v->u.s[0] != '\0' ?
	    v->u.s : NULL;
}

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
	size_t cap = env->ret == 2 ? SMTPD_REFUSED_FULL_MAX :
	    SMTPD_REFUSED_HEADERS_MAX;
	char seed[DSN_SEED_MAX + 1], *original;
	struct dsn_rcpt *dr = xcalloc(n, sizeof(*dr));
	const char *fmt, *domain;
	struct dsn_message dm;
	struct buf report;
	size_t nr = 0;
	static unsigned long seq;

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
	original = xmalloc(cap);
	memset(&dm, 0, sizeof(dm));
	snprintf(seed, sizeof(seed), "%llx.%lx.r%lx", (long long)time(NULL),
	    (unsigned long)getpid(), ++seq);
	domain = strrchr(dr[0].final_rcpt, '@') ?
	    strrchr(dr[0].final_rcpt, '@') + 1 : "";
	dm.reporting_mta = m->host_name;
	dm.from_header = smtpd_refused_setting(m, domain, env->vmta,
	    CONF_ID_CUSTOM_DSN_FROM_HEADER);
	dm.plain_text = (fmt = smtpd_refused_setting(m, domain, env->vmta,
	    CONF_ID_DSN_FORMAT)) != NULL && strcmp(fmt, "plain-text") == 0;
	dm.to = sender;
	dm.envid = env->envid;
	dm.arrival = env->queued;
	dm.now = time(NULL);
	dm.boundary_seed = seed;
	dm.ret = env->ret == 2 ? DSN_RET_FULL : DSN_RET_HEADERS;
	dm.rcpts = dr;
	dm.nrcpts = nr;
	dm.original = original;
	dm.original_len = smtpd_refused_original(d, env, original, cap);
	dm.max_original = cap;
	buf_init(&report, cap + SMTPD_REFUSED_REPORT_MAX);
	if (dsn_compose(&dm, &report) == -1)
		log_warnx("dsn: cannot compose a report to %s", sender);
	else
		smtpd_refused_spool(d, m, sender, &report);
	buf_free(&report);
	free(original);
	free(dr);
}
