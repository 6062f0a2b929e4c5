/*
 * ctl_queue: the runtime controls on queues and jobs (pmta-interfaces.md
 * §2.3, pmta-reference §3.8): show queues, pause/resume queue, set queue
 * --mode, schedule, delete, set priority, show jobs, pause/resume job.
 * Queue patterns are "domain[/vmta]" with '*' wildcards.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compat.h"
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

/* The st column: P paused, B backoff (pmta-interfaces I-Q4). */
static void
ctl_queue_line(const struct queue *q, struct buf *out)
{
	char retry[16] = "", st[3];
	time_t at = queue_retry_at(q);

	if (at != 0) {
		struct tm tm;

		localtime_r(&at, &tm);
		strftime(retry, sizeof(retry), "%H:%M:%S", &tm);
	}
	snprintf(st, sizeof(st), "%s%s", q->paused ? "P" : "",
	    q->mode == QUEUE_BACKOFF ? "B" : "");
	(void)buf_printf(out, "%-15s %5zu %6.1f %4d %-2s %8s %s\n", q->name,
	    queue_rcpts(q), (double)q->bytes / 1024., q->active, st, retry,
	    q->last_error);
}

static void
ctl_time(time_t t, char *dst, size_t size)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(dst, size, "%Y-%m-%d %H:%M:%S", &tm);
}

/*
 * The queue's last mode change: since when, and why (for a backoff that
 * an smtp-pattern-list rule started: the reply, its host and the rule).
 * Under every queue in backoff, and under all with --mode-events.
 */
static void
ctl_queue_mode_event(const struct queue *q, struct buf *out)
{
	char since[32];

	ctl_time(q->mode_since, since, sizeof(since));
	(void)buf_printf(out, "    %s %s mode%s%s\n", since,
	    queue_mode_name(q->mode), q->mode_reason[0] != '\0' ? ": " : "",
	    q->mode_reason);
}

/* --errors: the queue's recorded error events, oldest first. */
static void
ctl_queue_errors(const struct queue *q, struct buf *out)
{
	const struct queue_event *ev[QUEUE_EVENTS_MAX];
	size_t n = queue_error_events(q, ev);
	char at[32];

	for (size_t i = 0; i < n; i++) {
		ctl_time(ev[i]->at, at, sizeof(at));
		(void)buf_printf(out, "    %s %s\n", at, ev[i]->text);
	}
}

/*
 * --limits (Tern): the use of the queue's connection limits now: the
 * connect rate of the last period, the open connections by local address
 * (source-ip-max-smtp-out), the sessions waiting for a limit.
 */
static void
ctl_queue_limits(const struct ctl_ctx *ctx, const struct queue *q,
    struct buf *out)
{
	double next;
	size_t used = queue_connect_used(q, &next);

	if (q->connect.interval > 0) {
		struct conf_rate r = { q->connect.count, (long long)q->connect.per };

		(void)buf_puts(out, "    max-connect-rate ");
		conf_format_rate(&r, out);
		(void)buf_printf(out, ": %zu opened in the last ", used);
		conf_format_time((long long)q->connect.per, out);
		(void)buf_printf(out, ", next in %.2f s\n", next);
	} else
		(void)buf_puts(out, "    max-connect-rate unlimited\n");
	mta_limits_show_queue(ctx->mta, q, out);
}

/* The options of show queues. */
struct ctl_queues_opts {
	const char	*pattern;
	int		 mode;		/* enum queue_mode, or -1: any */
	int		 paused;	/* 0, 1, or -1: any */
	bool		 mode_events;
	bool		 errors;
	bool		 limits;
};

static int
ctl_yes_no(const char *s)
{
	return strcasecmp(s, "yes") == 0 ? 1 : strcasecmp(s, "no") == 0 ? 0 : -1;
}

/* "normal" or "backoff" to an enum queue_mode, or -1. */
static int
ctl_mode(const char *s)
{
	return strcasecmp(s, "normal") == 0 ? QUEUE_NORMAL :
	    strcasecmp(s, "backoff") == 0 ? QUEUE_BACKOFF : -1;
}

static int
ctl_queues_options(int argc, char **argv, struct ctl_queues_opts *o)
{
	*o = (struct ctl_queues_opts){ "*/*", -1, -1, false, false, false };
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--mode=", 7) == 0) {
			if ((o->mode = ctl_mode(argv[i] + 7)) == -1)
				return -1;
		} else if (strncmp(argv[i], "--paused=", 9) == 0) {
			if ((o->paused = ctl_yes_no(argv[i] + 9)) == -1)
				return -1;
		} else if (strcmp(argv[i], "--mode-events") == 0)
			o->mode_events = true;
		else if (strcmp(argv[i], "--errors") == 0)
			o->errors = true;
		else if (strcmp(argv[i], "--limits") == 0)
			o->limits = true;
		else if (strncmp(argv[i], "--", 2) == 0 || i < argc - 1)
			return -1;
		else
			o->pattern = argv[i];
	}
	return 0;
}

enum ctl_status
ctl_show_queues(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	struct ctl_queues_opts o;
	size_t n, total, shown = 0;
	struct queue **v;

	if (ctl_queues_options(argc, argv, &o) == -1) {
		(void)buf_puts(out, "usage: show queues [--mode={normal|backoff}] "
		    "[--paused={yes|no}] [--mode-events] [--errors] [--limits] "
		    "[domain[/vmta]]\n");
		return CTL_USAGE;
	}
	v = ctl_queues(ctx, o.pattern, &n, &total);
	(void)buf_puts(out, "queue           #rcpt kbytes conn st    retry last error\n"
	    "--------------- ----- ------ ---- -- -------- ----------\n");
	(void)buf_printf(out, "%s\n", o.pattern);
	for (size_t i = 0; i < n; i++) {
		if ((o.mode != -1 && (int)v[i]->mode != o.mode) ||
		    (o.paused != -1 && v[i]->paused != (o.paused == 1)))
			continue;
		ctl_queue_line(v[i], out);
		if (o.mode_events || v[i]->mode == QUEUE_BACKOFF)
			ctl_queue_mode_event(v[i], out);
		if (o.errors)
			ctl_queue_errors(v[i], out);
		if (o.limits)
			ctl_queue_limits(ctx, v[i], out);
		shown++;
	}
	(void)buf_printf(out, "%zu of %zu matching queues.\n", shown, total);
	free(v);
	return CTL_OK;
}

/* set queue --mode={normal|backoff} domain[/vmta] (either order). */
enum ctl_status
ctl_set_queue(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	const char *pattern = NULL;
	int mode = -1;
	size_t n, total;
	struct queue **v;

	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], "--mode=", 7) == 0)
			mode = ctl_mode(argv[i] + 7);
		else if (strncmp(argv[i], "--", 2) != 0)
			pattern = argv[i];
	if (mode == -1 || pattern == NULL) {
		(void)buf_puts(out, "usage: set queue --mode={normal|backoff} "
		    "domain[/vmta]\n");
		return CTL_USAGE;
	}
	v = ctl_queues(ctx, pattern, &n, &total);
	for (size_t i = 0; i < n; i++)
		queue_set_mode(v[i], (enum queue_mode)mode, "pmta set queue");
	free(v);
	(void)buf_printf(out, "%zu queue(s) set to %s mode\n", n,
	    queue_mode_name((enum queue_mode)mode));
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

/*
 * The recipient filters of delete and set priority: --queue (a pattern),
 * --orig and --rcpt (without case), --jobId, --envId, --older-than.
 */
struct ctl_filter {
	const char	*queue, *orig, *rcpt, *job, *envid;
	long long	 older_than;
};

/* arg is "NAME=value": point *dst at the value. */
static bool
ctl_option(const char *arg, const char *name, const char **dst)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return false;
	*dst = arg + n;
	return true;
}

/* 1: arg is a filter option (kept in f), 0: it is not one, -1: its value
 * is bad. */
static int
ctl_filter_option(struct ctl_filter *f, const char *arg)
{
	const char *age;

	if (ctl_option(arg, "--queue=", &f->queue) ||
	    ctl_option(arg, "--orig=", &f->orig) ||
	    ctl_option(arg, "--rcpt=", &f->rcpt) ||
	    ctl_option(arg, "--jobId=", &f->job) ||
	    ctl_option(arg, "--envId=", &f->envid))
		return 1;
	if (!ctl_option(arg, "--older-than=", &age))
		return 0;
	return conf_parse_time(age, &f->older_than) == 0 ? 1 : -1;
}

/* A filter that names recipients (--older-than alone does not). */
static bool
ctl_filter_given(const struct ctl_filter *f)
{
	return f->queue != NULL || f->orig != NULL || f->rcpt != NULL ||
	    f->job != NULL || f->envid != NULL;
}

/* A queue_filter_cb: does the recipient pass every filter given? */
static bool
ctl_filter_match(const struct queue_rcpt *r, void *arg)
{
	const struct ctl_filter *f = arg;
	const struct queue_msg *m = r->msg;

	return (f->job == NULL || (m->job != NULL &&
	    strcmp(m->job->name, f->job) == 0)) &&
	    (f->envid == NULL || (m->envid != NULL &&
	    strcmp(m->envid, f->envid) == 0)) &&
	    (f->orig == NULL || strcasecmp(m->orig, f->orig) == 0) &&
	    (f->rcpt == NULL || strcasecmp(queue_rcpt_addr(r), f->rcpt) == 0) &&
	    (f->older_than == 0 || time(NULL) - m->queued >= f->older_than);
}

/* The queues a filter covers (its --queue, else all). */
static struct queue **
ctl_filter_queues(const struct ctl_ctx *ctx, const struct ctl_filter *f,
    size_t *n)
{
	size_t total;

	return ctl_queues(ctx, f->queue != NULL ? f->queue : "*/*", n, &total);
}

enum ctl_status
ctl_delete(const struct ctl_ctx *ctx, int argc, char **argv, struct buf *out)
{
	struct ctl_filter f = { 0 };
	struct mta_delete del = { ctx->mta, false, true, 0 };
	size_t n;
	struct queue **v;
	int r;

	for (int i = 0; i < argc; i++) {
		if ((r = ctl_filter_option(&f, argv[i])) == 1)
			continue;
		if (r == 0 && strcmp(argv[i], "--dsn") == 0)
			del.dsn = true;
		else if (r == 0 && strcmp(argv[i], "--no-accounting") == 0)
			del.accounting = false;
		else {
			(void)buf_printf(out, "delete: unknown option %s\n", argv[i]);
			return CTL_USAGE;
		}
	}
	if (!ctl_filter_given(&f)) {
		(void)buf_puts(out, "delete: give --queue, --orig, --rcpt, --jobId "
		    "or --envId\n");
		return CTL_USAGE;
	}
	v = ctl_filter_queues(ctx, &f, &n);
	for (size_t i = 0; i < n; i++)
		(void)queue_remove(v[i], ctl_filter_match, &f, mta_delete, &del);
	free(v);
	(void)buf_printf(out, "%zu recipient(s) deleted\n", del.count);
	return CTL_OK;
}

/*
 * set priority [filters] N: the matching queued recipients get recipient
 * priority N (1..100) and take their place in their queue's order.
 * Without a filter, every queued recipient.  In memory only (compat.md).
 */
enum ctl_status
ctl_set_priority(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	struct ctl_filter f = { 0 };
	const char *num = NULL, *errstr = "missing";
	long long prio = 0;
	size_t n, count = 0;
	struct queue **v;
	int r;

	for (int i = 0; i < argc; i++) {
		if ((r = ctl_filter_option(&f, argv[i])) == 1)
			continue;
		if (r == -1 || strncmp(argv[i], "--", 2) == 0 || num != NULL)
			num = "";	/* bad: say how to use it */
		else
			num = argv[i];
	}
	if (num != NULL)
		prio = strtonum(num, 1, 100, &errstr);
	if (errstr != NULL) {
		(void)buf_puts(out, "usage: set priority [--queue=domain[/vmta]] "
		    "[--orig=addr] [--rcpt=addr] [--jobId=id] [--envId=id] "
		    "[--older-than=time] N (1-100)\n");
		return CTL_USAGE;
	}
	v = ctl_filter_queues(ctx, &f, &n);
	for (size_t i = 0; i < n; i++)
		count += queue_set_priority(v[i], ctl_filter_match, &f, (int)prio);
	free(v);
	(void)buf_printf(out, "%zu recipient(s) set to priority %lld\n", count,
	    prio);
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
