/*
 * pmtad: the Tern daemon.  The only file that wires the modules
 * together: it loads the configuration, opens the spool and the
 * accounting files, recovers the queues, binds the listeners, starts
 * watching the pickup directory, opens the control socket, and runs the
 * libev loop.
 *
 * Signals: SIGTERM/SIGINT stop accepting (SMTP and pickup), let the
 * messages in flight (inbound and outbound) finish, and exit 0; a second
 * one exits at once.
 * SIGHUP (and `pmta reload`) reload the configuration.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ev.h>

#include "acct/acct.h"
#include "ctl/ctl.h"
#include "dns/dns.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "model/model.h"
#include "mta/mta.h"
#include "pickup/pickup.h"
#include "queue/bounce.h"
#include "queue/cold.h"
#include "queue/queue.h"
#include "smtpd/smtpd.h"
#include "spool/spool.h"

#define PMTAD_DRAIN_MAX	60.	/* seconds to finish work at shutdown */

struct pmtad {
	struct ev_loop		*loop;
	struct model		*model;
	struct spool		*spool;
	struct acct		*acct;
	struct queue_mgr	*qm;
	struct cold		*cold;
	struct mta		*mta;
	struct dns		*dns;
	struct smtpd		*smtpd;
	struct pickup		*pickup;	/* or NULL: no pickup directory */
	struct ctl_server	*ctl;
	struct ctl_ctx		 ctx;
	ev_signal		 sigterm, sigint, sighup;
	ev_timer		 drain;
	ev_tstamp		 stop_at;
	bool			 stopping;
};

static void
pmtad_usage(void)
{
	fprintf(stderr,
	    "usage: pmtad [--config=PATH] [--debug] [--check-config] [--version]\n");
	exit(2);
}

/* Shutdown: wait until no session is active, then leave the loop. */
static void
pmtad_on_drain(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pmtad *d = w->data;

	if ((smtpd_stats(d->smtpd)->active == 0 &&
	    mta_stats(d->mta)->active == 0) || ev_now(loop) >= d->stop_at) {
		if (ev_now(loop) >= d->stop_at)
			log_warnx("shutdown: sessions still active after %.0fs; "
			    "their recipients will be retried at the next start",
			    PMTAD_DRAIN_MAX);
		ev_break(loop, EVBREAK_ALL);
	}
}

static void
pmtad_on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct pmtad *d = w->data;

	if (d->stopping) {
		log_warnx("second stop signal: exiting now");
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	log_info("stop signal: finishing work in progress");
	d->stopping = true;
	d->stop_at = ev_now(loop) + PMTAD_DRAIN_MAX;
	smtpd_stop(d->smtpd);
	pickup_stop(d->pickup);
	mta_stop(d->mta);
	queue_mgr_stop(d->qm);
	ev_timer_init(&d->drain, pmtad_on_drain, 0., 0.05);
	d->drain.data = d;
	ev_timer_start(loop, &d->drain);
}

/* One log line naming the directives the configuration uses that Tern
 * accepts but does not act on yet. */
static void
pmtad_log_unacted(const struct model *m)
{
	struct buf names;

	buf_init(&names, 64 * 1024);
	model_unacted(m, &names);
	if (names.len > 0)
		log_warnx("accepted, not yet acted on (see docs/compat.md): %s",
		    buf_str(&names));
	buf_free(&names);
}

/*
 * After a reload: the recipients queued for a VirtualMTA the new
 * configuration no longer has bounce (pmta-reference §3.2).
 */
static void
pmtad_vmtas_gone(struct pmtad *d)
{
	for (struct queue *q = queue_mgr_first(d->qm); q != NULL; q = q->next)
		if (strcmp(q->vmta, QUEUE_DEFAULT_VMTA) != 0 &&
		    model_vmta_find(d->model, q->vmta) == NULL &&
		    queue_rcpts(q) > 0)
			mta_bounce_queue(d->mta, q,
			    "5.3.5 (specified VirtualMTA does not exist)",
			    "550 5.3.5 specified VirtualMTA does not exist");
}

static bool
pmtad_same_path(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Reload: parse the file into a new snapshot; only if it is valid swap
 * it in.  Sessions keep the snapshot they started with; queues re-read
 * their settings; accounting files are reopened.  The spool and the
 * listeners stay as they are until a restart.
 */
static int
pmtad_reload(void *arg, struct buf *out)
{
	struct pmtad *d = arg;
	struct conf_errors e;
	struct model *m;
	const char *error;

	conf_errors_init(&e);
	m = model_load(d->model->config_path, &e);
	if (m != NULL && model_tls_load(m, &e, true) == -1) {
		model_unref(m);
		m = NULL;
	}
	if (e.text.len > 0)
		(void)buf_puts(out, buf_str(&e.text));
	if (m == NULL) {
		log_warnx("reload of %s failed (%d error(s)); the running "
		    "configuration stays:\n%s", d->model->config_path, e.count,
		    buf_str(&e.text));
		conf_errors_free(&e);
		return -1;
	}
	conf_errors_free(&e);
	if (acct_reconfigure(d->acct, m, &error) == -1) {
		(void)buf_printf(out, "accounting: %s\n", error);
		log_warnx("reload: accounting: %s; the running configuration "
		    "stays", error);
		model_unref(m);
		return -1;
	}
	if (strcmp(m->spool_dir, d->model->spool_dir) != 0)
		log_warnx("reload: the spool directory changes at the next restart");
	if (!pmtad_same_path(m->pickup_dir, d->model->pickup_dir) ||
	    !pmtad_same_path(m->pickup_bad_dir, d->model->pickup_bad_dir))
		log_warnx("reload: the pickup directories change at the next "
		    "restart");
	model_unref(d->model);
	d->model = m;
	queue_mgr_reconfigure(d->qm);
	pmtad_vmtas_gone(d);
	log_info("configuration %s reloaded", m->config_path);
	pmtad_log_unacted(m);
	return 0;
}

static void
pmtad_on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct buf out;

	buf_init(&out, 1024 * 1024);
	(void)pmtad_reload(w->data, &out);
	buf_free(&out);
}

static void
pmtad_recover_one(const struct spool_envelope *env, const bool *done, void *arg)
{
	struct pmtad *d = arg;

	queue_add(d->qm, env, done);
	pickup_recovered(d->pickup, env);
}

static int
pmtad_open(struct pmtad *d)
{
	const char *error;
	struct timespec t0, t1;
	char *path;
	int n;

	if ((d->spool = spool_open(d->model->spool_dir, &error)) == NULL) {
		log_warnx("spool %s: %s", d->model->spool_dir, error);
		return -1;
	}
	if (spool_sync_start(d->spool, d->loop, &error) == -1) {
		log_warnx("spool %s: %s", d->model->spool_dir, error);
		return -1;
	}
	if ((d->acct = acct_open(d->loop, d->model, &error)) == NULL) {
		log_warnx("accounting: %s", error);
		return -1;
	}
	d->mta = mta_new(d->loop, &d->model, d->spool, d->acct);
	if ((d->dns = dns_new(d->loop, d->model, &error)) == NULL)
		log_warnx("dns: %s; only smtp-hosts routes work", error);
	mta_set_dns(d->mta, d->dns);
	d->qm = queue_mgr_new(d->loop, d->spool, &d->model, NULL, mta_start,
	    d->mta);
	queue_mgr_set_expire(d->qm, mta_expire, d->mta);
	queue_mgr_set_mode_cb(d->qm, mta_notify_mode, d->mta);
	d->smtpd = smtpd_new(d->loop, &d->model, d->spool, d->qm);
	path = xasprintf("%s/%s", d->model->spool_dir, COLD_FILE);
	d->cold = cold_open(path, NULL);
	free(path);
	cold_attach(d->cold, d->loop);
	smtpd_set_cold(d->smtpd, d->cold);
	d->pickup = pickup_new(d->loop, &d->model, d->smtpd, &error);
	if (d->pickup == NULL && error != NULL) {
		log_warnx("pickup: %s", error);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((n = spool_scan(d->spool, pmtad_recover_one, d)) == -1) {
		log_warn("spool %s: recovery", d->model->spool_dir);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("spool %s: %d message(s), %zu recipient(s) recovered in "
	    "%.2f s", d->model->spool_dir, n, queue_mgr_rcpts(d->qm),
	    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (smtpd_listen(d->smtpd, &error) == -1)
		return -1;
	smtpd_set_acct(d->smtpd, d->acct);
	pickup_start(d->pickup);
	d->ctx = (struct ctl_ctx){ .model = &d->model, .smtpd = d->smtpd,
	    .mta = d->mta, .qm = d->qm, .acct = d->acct, .started = time(NULL),
	    .reload = pmtad_reload, .reload_arg = d, .dns = d->dns };
	path = ctl_socket_path(d->model->spool_dir);
	d->ctl = ctl_server_new(d->loop, &d->ctx, path, &error);
	if (d->ctl == NULL)
		log_warnx("control socket %s: %s", path, error);
	free(path);
	return d->ctl == NULL ? -1 : 0;
}

static void
pmtad_close(struct pmtad *d)
{
	/* the last commits' callbacks reach sessions and queues: first */
	if (d->spool != NULL)
		spool_sync_stop(d->spool);
	pickup_free(d->pickup);
	ctl_server_free(d->ctl);
	if (d->smtpd != NULL)
		smtpd_free(d->smtpd);
	if (d->mta != NULL)
		mta_free(d->mta);
	dns_free(d->dns);
	if (d->qm != NULL)
		queue_mgr_free(d->qm);
	if (d->cold != NULL)
		(void)cold_save(d->cold);
	cold_free(d->cold);
	acct_close(d->acct);
	spool_close(d->spool);
	model_unref(d->model);
	bounce_cleanup();
}

static void
pmtad_signals(struct pmtad *d)
{
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&d->sigterm, pmtad_on_stop, SIGTERM);
	ev_signal_init(&d->sigint, pmtad_on_stop, SIGINT);
	ev_signal_init(&d->sighup, pmtad_on_hup, SIGHUP);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	ev_signal_start(d->loop, &d->sigterm);
	ev_signal_start(d->loop, &d->sigint);
	ev_signal_start(d->loop, &d->sighup);
}

/*
 * Load the config; print every error.  NULL when it does not load.  The
 * files it names (certificates) must load too, except for
 * --check-config (`check`), where a missing one is a warning.
 */
static struct model *
pmtad_load(const char *path, bool check)
{
	struct conf_errors e;
	struct model *m;

	conf_errors_init(&e);
	m = model_load(path, &e);
	if (m != NULL && model_tls_load(m, &e, !check) == -1) {
		model_unref(m);
		m = NULL;
	}
	if (e.text.len > 0)
		fputs(buf_str(&e.text), stderr);
	if (m != NULL && e.warnings > 0)
		fprintf(stderr, "%s: %d warning(s)\n", path, e.warnings);
	if (m == NULL)
		fprintf(stderr, "%s: %d error(s); not started\n", path, e.count);
	conf_errors_free(&e);
	return m;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = TERN_DEFAULT_CONFIG;
	bool debug = false, check = false;
	struct pmtad d;
	int ch, status = 0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'd': debug = true; break;
		case 'k': check = true; break;
		case 'V':
			printf("pmtad (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default: pmtad_usage();
		}
	}
	if (optind != argc)
		pmtad_usage();
	memset(&d, 0, sizeof(d));
	log_init(debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if ((d.model = pmtad_load(config, check)) == NULL)
		return 1;
	if (check) {
		const char *error;
		int bad = acct_check(d.model, &error) == -1;

		if (bad)
			fprintf(stderr, "%s\n%s: 1 error(s)\n", error, config);
		else
			printf("%s: configuration ok\n", config);
		model_unref(d.model);
		return bad;
	}
	if (!debug) {
		if (d.model->log_file == NULL) {
			fprintf(stderr, "Startup error: No logging file specified\n");
			model_unref(d.model);
			return 1;
		}
		if (log_open(d.model->log_file, false) == -1) {
			fprintf(stderr, "Startup error: cannot open log-file %s: %s\n",
			    d.model->log_file, strerror(errno));
			model_unref(d.model);
			return 1;
		}
		if (daemon(0, 0) == -1)
			fatal("daemon");
	} else if (d.model->log_file != NULL &&
	    log_open(d.model->log_file, true) == -1)
		log_warn("cannot open log-file %s", d.model->log_file);
	d.loop = ev_default_loop(EVFLAG_AUTO);
	pmtad_signals(&d);
	if (pmtad_open(&d) == -1) {
		log_warnx("Startup error: see the messages above");
		status = 1;
	} else {
		log_info("%s %s started (config %s)", PACKAGE_NAME,
		    PACKAGE_VERSION, config);
		pmtad_log_unacted(d.model);
		ev_run(d.loop, 0);
		log_info("%s stopped", PACKAGE_NAME);
	}
	pmtad_close(&d);
	ev_loop_destroy(d.loop);
	log_close();
	return status;
}
