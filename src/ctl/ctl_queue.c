/*
 * ctl_queue: the runtime controls on queues and jobs (pmta-interfaces.md
 * §2.3, pmta-reference §3.8): show queues, pause/resume queue, schedule,
 * delete, show jobs, pause/resume job.  Queue patterns are
 * "domain[/vmta]" with '*' wildcards.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl/ctl_private.h"
#include "lib/xmalloc.h"

static int
ctl_queue_cmp(const void *a, const void *b)
{
	const struct queue *x = *(const struct queue *const *)a;
	const struct queue *y = *(const struct queue *const *)b;

	return strcmp(x->name, y->name);
}

/* The queues matching a pattern, sorted by name; *total gets them all. */
static struct queue **
ctl_queues(const struct ctl_ctx *ctx, const char *pattern, size_t *n,
    size_t *total)
{
	struct queue **v = NULL;

	*n = *total = 0;
	for (struct queue *q = queue_mgr_first(ctx->qm); q != NULL; q = q->next) {
		(*total)++;
		if (!queue_match(q, pattern))
			continue;
		v = xreallocarray(v, *n + 1, sizeof(*v));
		v[(*n)++] = q;
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), ctl_queue_cmp);
	return v;
}

static void
ctl_queue_line(const struct queue *q, struct buf *out)
{
	char retry[16] = "";
	time_t at = queue_retry_at(q);

	if (at != 0) {
		struct tm tm;

		localtime_r(&at, &tm);
		strftime(retry, sizeof(retry), "%H:%M:%S", &tm);
	}
	(void)buf_printf(out, "%-15s %5zu %6.1f %4d %-2s %8s %s\n", q->name,
	    q->nready + q->nwaiting, (double)q->bytes / 1024.,
	    q->active, q->paused ? "P" : "", retry, q->last_error);
}

enum ctl_status
ctl_show_queues(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	const char *pattern = argc > 0 ? argv[0] : "*/*";
	size_t n, total;
	struct queue **v = ctl_queues(ctx, pattern, &n, &total);

	(void)buf_puts(out, "queue           #rcpt kbytes conn st    retry last error\n"
	    "--------------- ----- ------ ---- -- -------- ----------\n");
	(void)buf_printf(out, "%s\n", pattern);
	for (size_t i = 0; i < n; i++)
		ctl_queue_line(v[i], out);
	(void)buf_printf(out, "%zu of %zu matching queues.\n", n, total);
	free(v);
	return CTL_OK;
}

static enum ctl_status
ctl_each_queue(const struct ctl_ctx *ctx, const char *pattern,
    void (*fn)(struct queue *, bool), bool arg, const char *verb,
    struct buf *out)
{
	size_t n, total;
	struct queue **v = ctl_queues(ctx, pattern, &n, &total);

	for (size_t i = 0; i < n; i++)
		fn(v[i], arg);
	free(v);
	(void)buf_printf(out, "%s %zu queue(s)\n", verb, n);
	return CTL_OK;
}

static void
ctl_pause(struct queue *q, bool paused)
{
	queue_pause(q, paused);
}

static void
ctl_schedule_one(struct queue *q, bool unused)
{
	queue_schedule(q);
}

enum ctl_status
ctl_pause_queue(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	return ctl_each_queue(ctx, argv[0], ctl_pause, true, "paused", out);
}

enum ctl_status
ctl_resume_queue(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	return ctl_each_queue(ctx, argv[0], ctl_pause, false, "resumed", out);
}

enum ctl_status
ctl_schedule(const struct ctl_ctx *ctx, int argc, char **argv, struct buf *out)
{
	return ctl_each_queue(ctx, argv[0], ctl_schedule_one, false,
	    "scheduled", out);
}

/* delete's filters: --orig, --rcpt (case-insensitive), --jobId,
 * --older-than. */
struct ctl_delete_filter {
	const char	*orig, *rcpt, *job;
	long long	 older_than;
};

static bool
ctl_delete_match(const struct queue_rcpt *r, void *arg)
{
	const struct ctl_delete_filter *f = arg;
	const struct spool_envelope *env = &r->msg->env;

	return (f->job == NULL || (r->msg->job != NULL &&
	    strcmp(r->msg->job->name, f->job) == 0)) &&
	    (f->orig == NULL || strcasecmp(env->orig, f->orig) == 0) &&
	    (f->rcpt == NULL || strcasecmp(env->rcpts[r->idx], f->rcpt) == 0) &&
	    (f->older_than == 0 || time(NULL) - env->queued >= f->older_than);
}

enum ctl_status
ctl_delete(const struct ctl_ctx *ctx, int argc, char **argv, struct buf *out)
{
	struct ctl_delete_filter f = { NULL, NULL, NULL, 0 };
	struct mta_delete del = { ctx->mta, false, true, 0 };
	const char *pattern = NULL;
	size_t n, total;
	struct queue **v;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dsn") == 0)
			del.dsn = true;
		else if (strcmp(argv[i], "--no-accounting") == 0)
			del.accounting = false;
		else if (strncmp(argv[i], "--queue=", 8) == 0)
			pattern = argv[i] + 8;
		else if (strncmp(argv[i], "--orig=", 7) == 0)
			f.orig = argv[i] + 7;
		else if (strncmp(argv[i], "--rcpt=", 7) == 0)
			f.rcpt = argv[i] + 7;
		else if (strncmp(argv[i], "--jobId=", 8) == 0)
			f.job = argv[i] + 8;
		else if (strncmp(argv[i], "--older-than=", 13) != 0 ||
		    conf_parse_time(argv[i] + 13, &f.older_than) == -1) {
			(void)buf_printf(out, "delete: unknown option %s\n", argv[i]);
			return CTL_USAGE;
		}
	}
	if (pattern == NULL && f.orig == NULL && f.rcpt == NULL && f.job == NULL) {
		(void)buf_puts(out, "delete: give --queue, --orig, --rcpt or --jobId\n");
		return CTL_USAGE;
	}
	v = ctl_queues(ctx, pattern ? pattern : "*/*", &n, &total);
	for (size_t i = 0; i < n; i++)
		(void)queue_remove(v[i], ctl_delete_match, &f, mta_delete, &del);
	free(v);
	(void)buf_printf(out, "%zu recipient(s) deleted\n", del.count);
	return CTL_OK;
}

/* show jobs: the layout of pmta-interfaces.md §2.3. */
enum ctl_status
ctl_show_jobs(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	size_t n = 0;

	(void)buf_puts(out, "-----------------------------job-id ----#rcpt ---kbytes\n");
	for (const struct queue_job *job = queue_mgr_jobs(ctx->qm); job != NULL;
	    job = job->next, n++)
		(void)buf_printf(out, "%35s %9zu %9.1f%s\n", job->name,
		    job->nrcpts, (double)job->bytes / 1024.,
		    job->paused ? " paused" : "");
	(void)buf_printf(out, "\nTotal of %zu job(s).\n", n);
	return CTL_OK;
}

static enum ctl_status
ctl_job_pause(const struct ctl_ctx *ctx, const char *name, bool paused,
    struct buf *out)
{
	struct queue_job *job = queue_job_find(ctx->qm, name);

	if (job == NULL) {
		(void)buf_printf(out, "no job \"%s\" in the queues\n", name);
		return CTL_ERROR;
	}
	queue_job_pause(ctx->qm, job, paused);
	(void)buf_printf(out, "job %s %s\n", name, paused ? "paused" : "resumed");
	return CTL_OK;
}

enum ctl_status
ctl_pause_job(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	return ctl_job_pause(ctx, argv[0], true, out);
}

enum ctl_status
ctl_resume_job(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	return ctl_job_pause(ctx, argv[0], false, out);
}
