/*
 * smtpd: listeners and the session list (see smtpd.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "smtpd/smtpd_private.h"

OBJ_DEFINE_CAST(smtpd_listener)

struct smtpd *
smtpd_new(struct ev_loop *loop, struct model *const *model,
    struct spool *spool, struct queue_mgr *qm)
{
	struct smtpd *d = xcalloc(1, sizeof(*d));

	d->loop = loop;
	d->model = model;
	d->spool = spool;
	d->qm = qm;
	LIST_INIT(&d->sessions);
	return d;
}

void
smtpd_set_cold(struct smtpd *d, struct cold *cold)
{
	d->cold = cold;
}

/* total-max-smtp-in (pmta-reference §3.1). */
static bool
smtpd_full(const struct smtpd *d)
{
	const struct model *m = *d->model;
	long long max = conf_value_num(model_settings_get(&m->global,
	    CONF_ID_TOTAL_MAX_SMTP_IN),
	    &conf_directives[CONF_ID_TOTAL_MAX_SMTP_IN]);

	return max > 0 && d->stats.active >= max;
}

/* Over the limit, without await-slot: the 421 goes out at once (a new
 * socket's buffer takes it) and the connection closes. */
static void
smtpd_refuse(struct smtpd *d, int fd, const char *peer)
{
	char line[300];
	int n = snprintf(line, sizeof(line),
	    "421 4.3.2 %s too many connections, try again later\r\n",
	    (*d->model)->host_name);

	log_info("(in) %s: refused, total-max-smtp-in reached", peer);
	if (n > 0 && write(fd, line, (size_t)n) == -1) {
		/* the client is gone already */
	}
	close(fd);
}

static void
smtpd_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct smtpd_listener *l = OBJ_CAST(smtpd_listener, w->data,
	    SMTPD_LISTENER_MAGIC);
	struct smtpd *d = l->smtpd;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char ip[64];
	int fd;

	if (smtpd_full(d) && l->await_slot) {
		/* smtp-await-slot: leave it in the kernel's backlog until a
		 * session ends */
		ev_io_stop(loop, &l->io);
		l->paused = true;
		return;
	}
	fd = accept4(l->fd, (struct sockaddr *)&peer, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("smtp-listener %s: accept", l->text);
		return;
	}
	d->stats.connections++;
	if (smtpd_full(d)) {
		smtpd_refuse(d, fd, addr_ntop((struct sockaddr *)&peer, ip,
		    sizeof(ip)));
		return;
	}
	smtpd_session_new(d, fd, &peer, l);
}

void
smtpd_listeners_resume(struct smtpd *d)
{
	for (size_t i = 0; i < d->nlisteners && !smtpd_full(d); i++) {
		struct smtpd_listener *l = &d->listeners[i];

		if (l->paused && l->fd != -1) {
			l->paused = false;
			ev_io_start(d->loop, &l->io);
		}
	}
}

static int
smtpd_bind(struct smtpd_listener *l, const struct model_listener *ml)
{
	int one = 1;

	l->fd = socket(ml->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (l->fd == -1)
		return -1;
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		return -1;
	if (ml->ss.ss_family == AF_INET6 &&
	    setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
		return -1;
	if (bind(l->fd, (const struct sockaddr *)&ml->ss, ml->sslen) == -1 ||
	    listen(l->fd, 1024) == -1)
		return -1;
	return 0;
}

int
smtpd_listen(struct smtpd *d, const char **error_r)
{
	const struct model *m = *d->model;

	d->listeners = xcalloc(m->nlisteners, sizeof(*d->listeners));
	for (size_t i = 0; i < m->nlisteners; i++) {
		struct smtpd_listener *l = &d->listeners[d->nlisteners++];

		OBJ_INIT(l, SMTPD_LISTENER_MAGIC);
		l->smtpd = d;
		l->text = xstrdup(m->listeners[i].text);
		l->source = m->listeners[i].source != NULL ?
		    xstrdup(m->listeners[i].source) : NULL;
		l->await_slot = m->listeners[i].await_slot ||
		    conf_value_bool(model_settings_get(&m->global,
		    CONF_ID_SMTP_AWAIT_SLOT),
		    &conf_directives[CONF_ID_SMTP_AWAIT_SLOT]);
		l->immediate_tls = m->listeners[i].immediate_tls;
		if (smtpd_bind(l, &m->listeners[i]) == -1) {
			log_warn("smtp-listener %s", l->text);
			*error_r = "cannot listen on an smtp-listener address";
			return -1;
		}
		ev_io_init(&l->io, smtpd_on_accept, l->fd, EV_READ);
		l->io.data = l;
		ev_io_start(d->loop, &l->io);
		log_info("listening for SMTP%s on %s", l->immediate_tls ?
		    " (immediate TLS)" : "", l->text);
	}
	return 0;
}

static void
smtpd_close_listeners(struct smtpd *d)
{
	for (size_t i = 0; i < d->nlisteners; i++) {
		struct smtpd_listener *l = &d->listeners[i];
		ev_io_stop(d->loop, &l->io);
		if (l->fd != -1)
			close(l->fd);
		l->fd = -1;
		free(l->text);
		free(l->source);
		OBJ_WIPE(l);
	}
	free(d->listeners);
	d->listeners = NULL;
	d->nlisteners = 0;
}

void
smtpd_stop(struct smtpd *d)
{
	struct smtpd_session *s, *next;

	d->stopping = true;
	smtpd_close_listeners(d);
	for (s = LIST_FIRST(&d->sessions); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		smtpd_session_stop(s);
	}
}

void
smtpd_free(struct smtpd *d)
{
	struct smtpd_session *s;

	smtpd_close_listeners(d);
	while ((s = LIST_FIRST(&d->sessions)) != NULL)
		smtpd_session_free(s);
	smtpd_auth_fails_free(d);
	free(d);
}

const struct smtpd_stats *
smtpd_stats(const struct smtpd *d)
{
	return &d->stats;
}
