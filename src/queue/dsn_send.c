/*
 * dsn_send: spool the reports dsn.c composes (see dsn_send.h).
 *
 * A report carries at most the original's header section (RET=HDRS) or
 * the first 10 MB of it (RET=FULL); the report's own text is capped at
 * 1 MB beyond that.  The spooled report is queued only once the spool's
 * group commit made it durable, like any accepted message.
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
#include "queue/dsn_send.h"

#define DSN_SEND_HEADERS_MAX	(256 * 1024)	/* of the original read */
#define DSN_SEND_FULL_MAX	(10 * 1024 * 1024)	/* RET=FULL up to this */
#define DSN_SEND_REPORT_MAX	(1024 * 1024)	/* the rest of a report */

/* A report waiting for the spool's commit. */
struct dsn_send_job {
	struct queue_mgr	*qm;
	struct spool_envelope	 env;
};

static void
dsn_send_committed(void *arg, int error)
{
	struct dsn_send_job *job = arg;

	if (error == 0)
		queue_add(job->qm, &job->env, NULL);
	free(job->env.srcmta);
	for (size_t i = 0; i < job->env.nrcpts; i++)
		free(job->env.rcpts[i]);
	free(job->env.rcpts);
	free(job);
}

int
dsn_spool(struct spool *sp, struct queue_mgr *qm, const char *host_name,
    const char *const *to, size_t nto, const struct buf *report)
{
	struct dsn_send_job *job = xcalloc(1, sizeof(*job));
	struct spool_writer w;
	const char *error = "write failed";

	job->qm = qm;
	job->env.orig = "";
	job->env.srcmta = xasprintf("%s (127.0.0.1)", host_name);
	job->env.rcpts = xcalloc(nto, sizeof(char *));
	for (size_t i = 0; i < nto; i++)
		job->env.rcpts[i] = xstrdup(to[i]);
	job->env.nrcpts = nto;
	job->env.body_size = (off_t)report->len;
	if (spool_writer_begin(sp, &job->env, &w, &error) == -1 ||
	    spool_writer_write(&w, report->data, report->len) == -1) {
		log_warnx("dsn: cannot spool a report to %s: %s", to[0],
		    w.failed ? "write failed" : error);
		spool_writer_abort(&w);
		dsn_send_committed(job, EIO);
		return -1;
	}
	spool_writer_commit_async(sp, &w, &job->env, dsn_send_committed, job);
	return 0;
}

/* The start of the original message (its header section at least). */
static size_t
dsn_send_original(struct spool *sp, const struct spool_envelope *env,
    char *dst, size_t size)
{
	int fd = spool_open_message(sp, env);
	ssize_t n;

	if (fd == -1)
		return 0;
	if ((off_t)size > env->body_size)	/* never past the body */
		size = (size_t)env->body_size;
	n = pread(fd, dst, size, env->body_offset);
	close(fd);
	return n > 0 ? (size_t)n : 0;
}

/* A string setting for the reports of domain/vmta, or NULL. */
static const char *
dsn_send_setting(const struct model *m, const char *domain, const char *vmta,
    int id)
{
	const struct conf_value *v = id == CONF_ID_CUSTOM_DSN_FROM_HEADER ?
	    model_settings_get(&m->global, id) :
	    model_queue_value(m, domain, vmta, id);

	return v != NULL && v->set && v->u.s != NULL && v->u.s[0] != '\0' ?
	    v->u.s : NULL;
}

int
dsn_send(struct spool *sp, struct queue_mgr *qm, const struct model *m,
    const struct spool_envelope *env, const char *to, const char *domain,
    const char *vmta, const struct dsn_rcpt *rcpts, size_t n)
{
	size_t cap = env->ret == 2 ? DSN_SEND_FULL_MAX : DSN_SEND_HEADERS_MAX;
	char *original = xmalloc(cap), seed[DSN_SEED_MAX + 1];
	static unsigned long seq;
	struct dsn_message dm;
	struct buf report;
	const char *fmt;
	int r = -1;

	memset(&dm, 0, sizeof(dm));
	snprintf(seed, sizeof(seed), "%llx.%lx.%lx", (long long)time(NULL),
	    (unsigned long)getpid(), ++seq);
	dm.reporting_mta = m->host_name;
	dm.from_header = dsn_send_setting(m, domain, vmta,
	    CONF_ID_CUSTOM_DSN_FROM_HEADER);
	dm.plain_text = (fmt = dsn_send_setting(m, domain, vmta,
	    CONF_ID_DSN_FORMAT)) != NULL && strcmp(fmt, "plain-text") == 0;
	dm.to = to;
	dm.envid = env->envid;
	dm.arrival = env->queued;
	dm.now = time(NULL);
	dm.boundary_seed = seed;
	dm.ret = env->ret == 2 ? DSN_RET_FULL : DSN_RET_HEADERS;
	dm.rcpts = rcpts;
	dm.nrcpts = n;
	dm.original = original;
	dm.original_len = dsn_send_original(sp, env, original, cap);
	dm.max_original = cap;
	buf_init(&report, cap + DSN_SEND_REPORT_MAX);
	if (dsn_compose(&dm, &report) == -1)
		log_warnx("dsn: cannot compose a report to %s", to);
	else
		r = dsn_spool(sp, qm, m->host_name, &to, 1, &report);
	buf_free(&report);
	free(original);
	return r;
}
