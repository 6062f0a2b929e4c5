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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xmalloc.h"
#include "mta/mta_private.h"
#include "queue/dsn.h"

#define MTA_DSN_HEADERS_MAX	(256 * 1024)	/* of the original we read */
#define MTA_DSN_FULL_MAX	(10 * 1024 * 1024)	/* RET=FULL up to this */
#define MTA_DSN_MAX		(1024 * 1024)

/* Waits for the spool's commit, then queues the report. */
struct mta_dsn_job {
	struct queue_mgr	*mgr;
	struct spool_envelope	 env;
};

static void
mta_dsn_committed(void *arg, int error)
{
	struct mta_dsn_job *job = arg;

	if (error == 0)
		queue_add(job->mgr, &job->env, NULL);
	free(job->env.srcmta);
	for (size_t i = 0; i < job->env.nrcpts; i++)
		free(job->env.rcpts[i]);
	free(job->env.rcpts);
	free(job);
}

/* The start of the original message (its header section at least). */
static size_t
mta_dsn_original(struct mta *m, const struct spool_envelope *env, char *dst,
    size_t size)
{
	int fd = spool_open_message(m->spool, env->seg, env->id);
	ssize_t n;

	if (fd == -1)
		return 0;
	n = pread(fd, dst, size, env->body_offset);
	close(fd);
	return n > 0 ? (size_t)n : 0;
}

int
mta_dsn_spool(struct mta *m, struct queue_mgr *mgr, const char *const *to,
    size_t nto, const struct buf *report)
{
	struct mta_dsn_job *job = xcalloc(1, sizeof(*job));
	struct spool_writer w;
	const char *error;

	job->mgr = mgr;
	job->env.orig = "";
	job->env.srcmta = xasprintf("%s (127.0.0.1)", (*m->model)->host_name);
	job->env.rcpts = xcalloc(nto, sizeof(char *));
	for (size_t i = 0; i < nto; i++)
		job->env.rcpts[i] = xstrdup(to[i]);
	job->env.nrcpts = nto;
	job->env.body_size = (off_t)report->len;
	if (spool_writer_begin(m->spool, &job->env, &w, &error) == -1 ||
	    spool_writer_write(&w, report->data, report->len) == -1) {
		log_warnx("dsn: cannot spool a report to %s: %s", to[0],
		    w.failed ? "write failed" : error);
		spool_writer_abort(&w);
		mta_dsn_committed(job, EIO);
		return -1;
	}
	spool_writer_commit_async(m->spool, &w, mta_dsn_committed, job);
	return 0;
}

/* A string setting for r's reports (global or its queue's), or NULL. */
static const char *
mta_dsn_setting(const struct model *model, const struct queue_rcpt *r, int id)
{
	const struct conf_value *v = id == CONF_ID_CUSTOM_DSN_FROM_HEADER ?
	    model_settings_get(&model->global, id) :
	    model_queue_value(model, r->q->domain, r->q->vmta, id);

	return v != NULL && v->set && v->u.s != NULL && v->u.s[0] != '\0' ?
	    v->u.s : NULL;
}

void
mta_dsn_report(struct mta *m, struct queue_rcpt *r, enum dsn_action action,
    const char *status, const char *remote_mta, const char *diagnostic)
{
	const struct spool_envelope *env = queue_rcpt_env(r);
	size_t cap = env->ret == 2 ? MTA_DSN_FULL_MAX : MTA_DSN_HEADERS_MAX;
	char *original, seed[DSN_SEED_MAX + 1];
	const char *fmt;
	struct dsn_rcpt dr;
	struct dsn_message dm;
	struct buf report;

	if (env->no_dsn || !conf_value_bool(model_queue_value(*m->model,
	    r->q->domain, r->q->vmta, CONF_ID_DELIVER_LOCAL_DSN),
	    &conf_directives[CONF_ID_DELIVER_LOCAL_DSN]) ||
	    !dsn_wanted(env->orig, spool_envelope_notify(env, r->idx), action))
		return;
	original = xmalloc(cap);
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
	memset(&dm, 0, sizeof(dm));
	snprintf(seed, sizeof(seed), "%llx.%lx.%lx", (long long)time(NULL),
	    (unsigned long)getpid(), ++m->dsn_seq);
	dm.reporting_mta = (*m->model)->host_name;
	dm.from_header = mta_dsn_setting(*m->model, r, CONF_ID_CUSTOM_DSN_FROM_HEADER);
	dm.plain_text = (fmt = mta_dsn_setting(*m->model, r, CONF_ID_DSN_FORMAT)) !=
	    NULL && strcmp(fmt, "plain-text") == 0;
	dm.to = env->orig;
	dm.envid = env->envid;
	dm.arrival = env->queued;
	dm.now = time(NULL);
	dm.boundary_seed = seed;
	dm.ret = env->ret == 2 ? DSN_RET_FULL : DSN_RET_HEADERS;
	dm.rcpts = &dr;
	dm.nrcpts = 1;
	dm.original = original;
	dm.original_len = mta_dsn_original(m, env, original, cap);
	dm.max_original = cap;
	buf_init(&report, cap + MTA_DSN_MAX);
	if (dsn_compose(&dm, &report) == -1)
		log_warnx("dsn: cannot compose a report to %s", env->orig);
	else {
		const char *to = env->orig;

		(void)mta_dsn_spool(m, r->q->mgr, &to, 1, &report);
	}
	buf_free(&report);
	free(original);
}
