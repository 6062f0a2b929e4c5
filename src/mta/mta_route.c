/*
 * mta_route: where a session of a queue with smtp-hosts (or the legacy
 * route) connects (pmta-reference §3.4).  The entries are IP literals,
 * host names (their A and AAAA addresses through the DNS module and its
 * cache) and lookup-mx:DOMAIN (that domain's MX hosts, by preference).
 * Every lookup of an entry runs at once; when all have answered the
 * targets are laid out level by level (';' starts the next one), the
 * entries of one level in random order (',' means "the same preference",
 * like MX hosts of equal preference).  An entry that does not resolve is
 * skipped; with no address left the attempt fails transiently (a
 * routing mistake of the operator must not bounce mail), after
 * retry-after-dns-error when only DNS failures were behind it.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "mta/mta_private.h"

/* One smtp-hosts entry and what it resolved to. */
struct mta_route_slot {
	struct mta_route	*rt;
	const struct conf_host	*h;		/* in the session's model */
	struct dns_query	*q;		/* while resolving */
	struct mta_target	*t;
	size_t			 nt;
	int			 level;
	bool			 tempfail;	/* DNS: try again later */
	const char		*error;		/* why it gave no address */
};

struct mta_route {
	struct mta_session	*s;
	struct mta_route_slot	*slots;
	size_t			 n, pending;
};

static void
mta_route_add(struct mta_route_slot *sl, const char *name,
    const struct sockaddr_storage *ss, socklen_t len, int port, int level)
{
	struct mta_target *t;

	sl->t = xreallocarray(sl->t, sl->nt + 1, sizeof(*t));
	t = &sl->t[sl->nt++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	memcpy(&t->ss, ss, len);
	t->len = len;
	t->level = level;
	if (t->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&t->ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&t->ss)->sin6_port = htons((uint16_t)port);
}

/* The session's targets: level by level, the slots of a level shuffled. */
static void
mta_route_layout(struct mta_route *rt)
{
	struct mta_session *s = rt->s;
	struct mta_route_slot **order = xcalloc(rt->n, sizeof(*order));

	for (size_t i = 0; i < rt->n; i++)
		order[i] = &rt->slots[i];
	for (size_t i = 0; i < rt->n; ) {
		size_t j = i;

		while (j + 1 < rt->n && order[j + 1]->h->level == order[i]->h->level)
			j++;
		for (size_t k = j; k > i; k--) {
			size_t pick = i + (size_t)arc4random_uniform((uint32_t)(k - i + 1));
			struct mta_route_slot *tmp = order[k];
			order[k] = order[pick];
			order[pick] = tmp;
		}
		i = j + 1;
	}
	for (size_t i = 0; i < rt->n; i++)
		for (size_t k = 0; k < order[i]->nt; k++) {
			s->targets = xreallocarray(s->targets, s->ntargets + 1,
			    sizeof(*s->targets));
			s->targets[s->ntargets++] = order[i]->t[k];
		}
	free(order);
}

/* Every entry has answered: the targets, or why there are none. */
static void
mta_route_done(struct mta_route *rt)
{
	struct mta_session *s = rt->s;
	char why[512];
	size_t len = 0;
	bool temp = false;

	mta_route_layout(rt);
	if (s->ntargets > 0) {
		mta_session_routed(s, NULL, false);
		return;
	}
	len = (size_t)snprintf(why, sizeof(why), "451 4.4.4 %s: no smtp-hosts "
	    "entry has an address:", s->q->domain);
	for (size_t i = 0; i < rt->n && len < sizeof(why); i++) {
		const struct mta_route_slot *sl = &rt->slots[i];

		temp |= sl->tempfail;
		len += (size_t)snprintf(why + len, sizeof(why) - len, " %s%s (%s)",
		    sl->h->lookup_mx ? "lookup-mx:" : "", sl->h->name,
		    sl->error ? sl->error : "no address");
	}
	mta_session_routed(s, why, temp);
}

static void
mta_route_answer(void *arg, const struct dns_result *r)
{
	struct mta_route_slot *sl = arg;
	struct mta_route *rt = sl->rt;
	int port = sl->h->port ? sl->h->port : mta_session_port(rt->s);

	sl->q = NULL;
	if (r->status == DNS_OK) {
		for (size_t i = 0; i < r->nhosts; i++)
			for (size_t j = 0; j < r->hosts[i].naddr; j++)
				mta_route_add(sl, r->hosts[i].name,
				    &r->hosts[i].addr[j], r->hosts[i].addrlen[j],
				    port, sl->level * 65536 + (sl->h->lookup_mx ?
				    r->hosts[i].pref : 0));
	} else {
		sl->tempfail = r->status == DNS_TEMPFAIL;
		sl->error = r->error;
		log_info("%s: smtp-hosts entry %s%s skipped: %s", rt->s->q->name,
		    sl->h->lookup_mx ? "lookup-mx:" : "", sl->h->name,
		    r->error ? r->error : "no address");
	}
	if (--rt->pending == 0)
		mta_route_done(rt);
}

int
mta_route_start(struct mta_session *s, const struct conf_value *v)
{
	struct mta_route *rt = xcalloc(1, sizeof(*rt));
	int port = mta_session_port(s);

	rt->s = s;
	rt->n = v->u.hosts.n;
	rt->slots = xcalloc(rt->n, sizeof(*rt->slots));
	s->route = rt;
	for (size_t i = 0; i < rt->n; i++) {
		struct mta_route_slot *sl = &rt->slots[i];
		const struct conf_host *h = &v->u.hosts.v[i];
		struct sockaddr_storage ss;
		socklen_t len;
		const char *error;

		sl->rt = rt;
		sl->h = h;
		sl->level = h->level;
		if (!h->lookup_mx && addr_parse_hostport(h->name, h->port ?
		    h->port : port, false, &ss, &len, &error) == 0) {
			mta_route_add(sl, h->name, &ss, len, h->port ? h->port :
			    port, h->level * 65536);
			continue;
		}
		if (s->mta->dns == NULL) {
			sl->error = "no DNS resolver";
			sl->tempfail = true;
			continue;
		}
		rt->pending++;
	}
	/* only now: an answer from the cache comes later, on the loop */
	for (size_t i = 0; i < rt->n; i++) {
		struct mta_route_slot *sl = &rt->slots[i];

		if (sl->nt > 0 || sl->error != NULL)
			continue;
		sl->q = sl->h->lookup_mx ?
		    dns_resolve_mx(s->mta->dns, sl->h->name, mta_route_answer, sl) :
		    dns_resolve_host(s->mta->dns, sl->h->name, mta_route_answer, sl);
	}
	if (rt->pending > 0)
		return 1;
	mta_route_layout(rt);
	mta_route_free(rt);
	s->route = NULL;
	return 0;
}

void
mta_route_free(struct mta_route *rt)
{
	if (rt == NULL)
		return;
	for (size_t i = 0; i < rt->n; i++) {
		if (rt->slots[i].q != NULL)
			dns_cancel(rt->slots[i].q);
		free(rt->slots[i].t);
	}
	free(rt->slots);
	free(rt);
}
