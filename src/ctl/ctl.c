/*
 * ctl: command dispatch (see ctl.h).  Output layouts follow
 * pmta-interfaces.md §2.3.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl/ctl_private.h"
#include "lib/xmalloc.h"

char *
ctl_socket_path(const char *spool_dir)
{
	return xasprintf("%s/pmtad.sock", spool_dir);
}

static void
ctl_time(time_t t, char *dst, size_t size)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(dst, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static enum ctl_status
ctl_show_version(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	(void)buf_printf(out, "%s version %s (PowerMTA-compatible)\n",
	    PACKAGE_NAME, PACKAGE_VERSION);
	return CTL_OK;
}

static int
ctl_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Distinct recipient domains with queued mail (a domain may have a
 * queue per VirtualMTA). */
static size_t
ctl_count_domains(const struct queue_mgr *qm)
{
	const char **v = NULL;
	size_t n = 0, distinct = 0;

	for (const struct queue *q = queue_mgr_first(qm); q != NULL; q = q->next)
		if (queue_rcpts(q) > 0 || q->active > 0) {
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n++] = q->domain;
		}
	if (n > 1)
		qsort(v, n, sizeof(*v), ctl_strcmp);
	for (size_t i = 0; i < n; i++)
		distinct += i == 0 || strcmp(v[i], v[i - 1]) != 0;
	free(v);
	return distinct;
}

/* One traffic row of show status: inbound then outbound. */
static void
ctl_traffic_row(struct buf *out, const char *label, struct meter_count in,
    struct meter_count o)
{
	(void)buf_printf(out, "%11s%11llu%10llu%12.1f%11llu%10llu%12.1f\n", label,
	    in.rcpts, in.msgs, (double)in.bytes / 1024., o.rcpts, o.msgs,
	    (double)o.bytes / 1024.);
}

static enum ctl_status
ctl_show_status(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	const struct meter *in = &smtpd_stats(ctx->smtpd)->traffic;
	const struct mta_stats *o = mta_stats(ctx->mta);
	time_t now = time(NULL);
	long up = (long)(now - ctx->started);
	unsigned long long kb = 0;
	char nowstr[32], started[32];

	for (const struct queue *q = queue_mgr_first(ctx->qm); q != NULL;
	    q = q->next)
		kb += q->bytes;
	ctl_time(now, nowstr, sizeof(nowstr));
	ctl_time(ctx->started, started, sizeof(started));
	(void)buf_printf(out, "Tern v%s status on %s on %s\n\n"
	    "  Traffic    ------------inbound------------  ------------outbound-----------\n"
	    "                 rcpts      msgs      kbytes      rcpts      msgs      kbytes\n",
	    PACKAGE_VERSION, (*ctx->model)->host_name, nowstr);
	ctl_traffic_row(out, "Total", in->total, o->traffic.total);
	ctl_traffic_row(out, "Last Hour", meter_last_hour(in, now),
	    meter_last_hour(&o->traffic, now));
	ctl_traffic_row(out, "Top/Hour", meter_top_hour(in, now),
	    meter_top_hour(&o->traffic, now));
	ctl_traffic_row(out, "Last Min.", meter_last_minute(in, now),
	    meter_last_minute(&o->traffic, now));
	ctl_traffic_row(out, "Top/Min.", meter_top_minute(in, now),
	    meter_top_minute(&o->traffic, now));
	(void)buf_printf(out, "\n Connections    active       top     maximum\n"
	    "    Inbound %10d\n   Outbound %10d\n\n"
	    "     Queues      rcpts   domains      kbytes\n"
	    "       SMTP %10zu%10zu%12.1f\n\n"
	    "     Status    running    Started  %s    Uptime %3ld %2ld:%02ld:%02ld\n",
	    smtpd_stats(ctx->smtpd)->active, o->active, queue_mgr_rcpts(ctx->qm),
	    ctl_count_domains(ctx->qm), (double)kb / 1024., started,
	    up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);
	return CTL_OK;
}

/* show settings DOMAIN[/VMTA] */
static enum ctl_status
ctl_show_settings(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	if (argc != 1) {
		(void)buf_puts(out, "usage: show settings domain[/vmta]\n");
		return CTL_USAGE;
	}
	return model_show_settings(*ctx->model, argv[0], out) == 0 ?
	    CTL_OK : CTL_ERROR;
}

/* show limits (Tern): the global connection limits and their use. */
static enum ctl_status
ctl_show_limits(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	mta_limits_show(ctx->mta, *ctx->model, out);
	return CTL_OK;
}

static enum ctl_status
ctl_reload(const struct ctl_ctx *ctx, int argc, char **argv, struct buf *out)
{
	if (ctx->reload(ctx->reload_arg, out) == -1)
		return CTL_ERROR;
	(void)buf_puts(out, "OK\n");
	return CTL_OK;
}

/* clear dnscache DOMAIN|* */
static enum ctl_status
ctl_clear_dnscache(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	if (ctx->dns == NULL) {
		(void)buf_puts(out, "no DNS resolver is running\n");
		return CTL_ERROR;
	}
	(void)dns_clear_cache(ctx->dns, argv[0]);
	if (strcmp(argv[0], "*") == 0)
		(void)buf_puts(out, "DNS cache cleared.\n");
	else
		(void)buf_printf(out, "Cleared %s from DNS cache.\n", argv[0]);
	return CTL_OK;
}

/* rotate acct [file]: PMTA's confirmation, or which file is unknown. */
static enum ctl_status
ctl_rotate_acct(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out)
{
	const char *error = "no accounting";

	if (ctx->acct == NULL ||
	    acct_rotate(ctx->acct, argc ? argv[0] : NULL, &error) == -1) {
		(void)buf_printf(out, "%s\n", error);
		return CTL_ERROR;
	}
	(void)buf_puts(out, "Accounting file rotated.\n");
	return CTL_OK;
}

static const struct ctl_command {
	const char	*words[3];
	int		 min_args, max_args;
	enum ctl_status	(*run)(const struct ctl_ctx *, int, char **,
			    struct buf *);
	enum ctl_status	(*run_async)(const struct ctl_ctx *, int, char **,
			    struct buf *, ctl_done_cb *, void *,
			    struct ctl_wait **);
} ctl_commands[] = {
	{ { "show", "version", NULL }, 0, 0, ctl_show_version, NULL },
	{ { "show", "status", NULL }, 0, 0, ctl_show_status, NULL },
	{ { "show", "settings", NULL }, 0, 1, ctl_show_settings, NULL },
	{ { "show", "limits", NULL }, 0, 0, ctl_show_limits, NULL },
	{ { "reload", NULL, NULL }, 0, 0, ctl_reload, NULL },
	{ { "show", "queues", NULL }, 0, 4, ctl_show_queues, NULL },
	{ { "show", "queue", NULL }, 0, 4, ctl_show_queues, NULL },
	{ { "pause", "queue", NULL }, 1, 1, ctl_pause_queue, NULL },
	{ { "resume", "queue", NULL }, 1, 1, ctl_resume_queue, NULL },
	{ { "set", "queue", NULL }, 0, 2, ctl_set_queue, NULL },
	{ { "schedule", NULL, NULL }, 1, 1, ctl_schedule, NULL },
	{ { "delete", NULL, NULL }, 1, 9, ctl_delete, NULL },
	{ { "set", "priority", NULL }, 0, 7, ctl_set_priority, NULL },
	{ { "show", "jobs", NULL }, 0, 1, ctl_show_jobs, NULL },
	{ { "pause", "job", NULL }, 1, 1, ctl_pause_job, NULL },
	{ { "resume", "job", NULL }, 1, 1, ctl_resume_job, NULL },
	{ { "clear", "dnscache", NULL }, 1, 1, ctl_clear_dnscache, NULL },
	{ { "rotate", "acct", NULL }, 0, 1, ctl_rotate_acct, NULL },
	{ { "resolve", NULL, NULL }, 1, 8, NULL, ctl_resolve },
};

enum ctl_status
ctl_exec(const struct ctl_ctx *ctx, int argc, char **argv, struct buf *out)
{
	return ctl_exec_async(ctx, argc, argv, out, NULL, NULL, NULL);
}

enum ctl_status
ctl_exec_async(const struct ctl_ctx *ctx, int argc, char **argv,
    struct buf *out, ctl_done_cb *done, void *arg, struct ctl_wait **wait)
{
	for (size_t i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]); i++) {
		const struct ctl_command *c = &ctl_commands[i];
		int n = 0;

		while (n < 3 && c->words[n] != NULL && n < argc &&
		    strcasecmp(c->words[n], argv[n]) == 0)
			n++;
		if ((n < 3 && c->words[n] != NULL) || argc - n < c->min_args ||
		    argc - n > c->max_args)
			continue;
		if (c->run != NULL)
			return c->run(ctx, argc - n, argv + n, out);
		if (done == NULL) {
			(void)buf_puts(out, "this command needs the control "
			    "socket\n");
			return CTL_ERROR;
		}
		return c->run_async(ctx, argc - n, argv + n, out, done, arg,
		    wait);
	}
	(void)buf_puts(out, "unknown command; commands: show status, "
	    "show version, show settings domain[/vmta], show limits, "
	    "show queues [--mode={normal|backoff}] [--paused={yes|no}] "
	    "[--mode-events] [--errors] [--limits] [pattern], pause queue pattern, resume queue pattern, "
	    "set queue --mode={normal|backoff} pattern, schedule pattern, "
	    "delete [--dsn] [--no-accounting] [--queue=pattern] [--orig=addr] "
	    "[--rcpt=addr] [--jobId=id] [--envId=id] [--older-than=time], "
	    "set priority [--queue=pattern] [--orig=addr] [--rcpt=addr] "
	    "[--jobId=id] [--envId=id] N, show jobs, pause job id, "
	    "resume job id, clear dnscache name|*, resolve domain, "
	    "rotate acct [file], reload\n");
	return CTL_USAGE;
}
