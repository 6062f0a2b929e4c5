/*
 * mta_connect: where a delivery session connects (see mta_session.c for
 * the dialogue that follows).
 *
 * The targets are the queue's smtp-hosts (or route) entries, laid out
 * by mta_route.c, else the domain's MX hosts in preference order
 * (bounce-upon-no-mx when there are none); each connect takes the next
 * target within the connection limits and the local address
 * (mta_limits.c), and a session over a limit waits for a close
 * (mta_session_resume).  At most mx-connection-attempts connects fail
 * in one attempt.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"
#include "mta/mta_private.h"

OBJ_DEFINE_CAST(mta_session)

/* The port for hosts that give none: default-smtp-port (25). */
int
mta_session_port(const struct mta_session *s)
{
	return (int)conf_value_num(model_queue_value(s->model, s->q->domain,
	    s->q->vmta, CONF_ID_DEFAULT_SMTP_PORT),
	    &conf_directives[CONF_ID_DEFAULT_SMTP_PORT]);
}

static void
mta_session_add_target(struct mta_session *s, const char *name,
    const struct sockaddr *sa, socklen_t len, int level)
{
	struct mta_target *t;

	s->targets = xreallocarray(s->targets, s->ntargets + 1, sizeof(*t));
	t = &s->targets[s->ntargets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	memcpy(&t->ss, sa, len);
	t->len = len;
	t->level = level;
}

/*
 * The queue's smtp-hosts (or the legacy route): mta_route_start() lays
 * out the targets or starts their lookups.  Returns the domain whose MX
 * to look up instead (the queue's own, when no smtp-hosts is set), or
 * NULL.
 */
const char *
mta_session_route(struct mta_session *s)
{
	const struct conf_value *v = model_queue_value(s->model, s->q->domain,
	    s->q->vmta, CONF_ID_SMTP_HOSTS);

	if (v == NULL || v->u.hosts.n == 0)
		v = model_queue_value(s->model, s->q->domain, s->q->vmta,
		    CONF_ID_ROUTE);
	if (v == NULL || v->u.hosts.n == 0)
		return s->q->domain;
	(void)mta_route_start(s, v);
	return NULL;
}

/*
 * Connect to the next target within the connection limits; -1 when none
 * is left.  0 also when the session waits for a limit (mta_limits.c).
 */
int
mta_session_connect(struct mta_session *s)
{
	long long attempts = conf_value_num(model_queue_value(s->model,
	    s->q->domain, s->q->vmta, CONF_ID_MX_CONNECTION_ATTEMPTS),
	    &conf_directives[CONF_ID_MX_CONNECTION_ATTEMPTS]);

	for (;;) {
		const struct mta_target *t;
		struct sockaddr_storage src;
		socklen_t srclen = 0;
		bool bound = false;
		int fd, r;

		/* mx-connection-attempts (pmta-reference Q12): so many failed
		 * connects end the attempt, however many hosts are left */
		if (attempts > 0 && s->connect_failures >= attempts &&
		    s->target < s->ntargets) {
			log_info("%s: %u connection attempts failed, %zu "
			    "address(es) left untried (mx-connection-attempts "
			    "%lld)", s->q->name, s->connect_failures,
			    s->ntargets - s->target, attempts);
			s->attempts_out = true;
			return -1;
		}
		if ((r = mta_limits_pick(s, &src, &srclen, &bound)) == -1)
			return -1;
		if (r == 0) {
			mta_limits_wait(s);
			return 0;
		}
		t = &s->targets[s->target++];

		/* after a failed handshake the same host once more, in clear */
		s->no_tls = s->clear_retry;
		s->clear_retry = false;
		s->tls = false;
		s->tls_protocol[0] = s->tls_cipher[0] = '\0';
		s->ext = 0;
		s->esmtp[0] = s->fail[0] = '\0';

		strlcpy(s->dest_name, t->name, sizeof(s->dest_name));
		addr_ntop((const struct sockaddr *)&t->ss, s->dest_ip,
		    sizeof(s->dest_ip));
		if ((fd = conn_connect_socket((const struct sockaddr *)&t->ss,
		    t->len, bound ? (struct sockaddr *)&src : NULL,
		    srclen)) == -1) {
			log_warn("%s: connect to %s", s->q->name, s->dest_ip);
			s->connect_failures++;
			continue;
		}
		if (s->conn_open) {
			conn_free(&s->conn);
			mta_limits_released(s->mta);
		}
		conn_init(&s->conn, s->mta->loop, fd, true, 64 * 1024,
		    4 * MTA_BODY_CHUNK, mta_session_event, s);
		s->conn_open = true;
		conn_set_timeout(&s->conn, mta_session_timeout(s,
		    CONF_ID_CONNECT_TIMEOUT));
		s->state = MTA_CONNECTING;
		s->mta->stats.connections++;
		return 0;
	}
}

/*
 * bounce-upon-no-mx: the domain has no MX (the answer is its own
 * addresses).  true when the session ends: everything bounced; with an
 * interval only the older recipients bounce, and the rest go to the
 * domain's addresses.
 */
static bool
mta_session_no_mx(struct mta_session *s)
{
	const struct conf_value *v = model_queue_value(s->model, s->q->domain,
	    s->q->vmta, CONF_ID_BOUNCE_UPON_NO_MX);
	char why[512];

	if (v == NULL || (v->is_bool && !v->u.b) || (!v->is_bool && v->u.i <= 0))
		return false;
	snprintf(why, sizeof(why), "550 5.1.2 %s: the domain has no MX record "
	    "(bounce-upon-no-mx)", s->q->domain);
	if (v->is_bool) {
		mta_bounce_queue(s->mta, s->q, "5.1.2", why);
		mta_session_free(s);
		return true;
	}
	(void)mta_bounce_queue_older(s->mta, s->q, "5.1.2", why, v->u.i);
	if (s->q->nready > 0)
		return false;
	mta_session_free(s);
	return true;
}

/* The MX answer: targets in preference order, or the queue's fate. */
void
mta_session_resolved(void *arg, const struct dns_result *r)
{
	struct mta_session *s = OBJ_CAST(mta_session, arg, MTA_SESSION_MAGIC);
	char why[512];
	int port = mta_session_port(s);

	s->dnsq = NULL;
	if (r->status == DNS_NXDOMAIN || r->status == DNS_NULL_MX ||
	    r->status == DNS_NO_ADDRESS) {
		snprintf(why, sizeof(why), "%s %s: %s", r->status == DNS_NULL_MX ?
		    "556 5.1.10" : "550 5.1.2", s->q->domain, r->error);
		mta_bounce_queue(s->mta, s->q, r->status == DNS_NULL_MX ?
		    "5.1.10" : "5.1.2", why);
		mta_session_free(s);
		return;
	}
	if (r->status != DNS_OK) {
		snprintf(why, sizeof(why), "451 4.4.3 %s: DNS: %s", s->q->domain,
		    r->error ? r->error : "lookup failed");
		s->dns_error = true;	/* retry-after-dns-error */
		mta_session_fail(s, why);
		return;
	}
	if (r->implicit && mta_session_no_mx(s))
		return;
	for (size_t i = 0; i < r->nhosts; i++)
		for (size_t j = 0; j < r->hosts[i].naddr; j++) {
			struct sockaddr_storage ss = r->hosts[i].addr[j];
			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
			else
				((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
			mta_session_add_target(s, r->hosts[i].name,
			    (struct sockaddr *)&ss, r->hosts[i].addrlen[j],
			    r->hosts[i].pref);
		}
	if (mta_session_connect(s) == -1)
		mta_session_fail(s, "451 4.4.1 no MX host could be connected");
}

void
mta_session_routed(struct mta_session *s, const char *why, bool dns_error)
{
	mta_route_free(s->route);
	s->route = NULL;
	if (why != NULL) {
		s->dns_error = dns_error;
		mta_session_fail(s, why);
		return;
	}
	if (mta_session_connect(s) == -1)
		mta_session_fail(s, "451 4.4.1 no host could be connected");
}

void
mta_session_resume(struct mta_session *s)
{
	/* other sessions took what it waited for: no empty connection */
	if (s->mta->stopping || s->q->nready == 0) {
		mta_session_free(s);
		return;
	}
	if (mta_session_connect(s) == -1)
		mta_session_fail(s, "451 4.4.1 no host could be connected");
}
