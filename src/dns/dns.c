/*
 * dns: MX resolution with c-ares driven by the libev loop (see dns.h).
 *
 * c-ares tells us which sockets to watch (sock_state_cb); each gets an
 * ev_io, and one ev_timer follows ares_timeout().  A query is an MX
 * lookup, then one address lookup (ares_getaddrinfo) per MX host; the
 * caller's callback runs once they have all answered.
 */
#include "config.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "dns/dns_cache.h"
#include "lib/log.h"
#include "lib/magic.h"
#include "lib/xmalloc.h"

#define DNS_MAGIC	0x646e7321u
#define DNS_SOCKETS	16
#define DNS_NAME_KEY	300	/* a name and its key suffix */

struct dns_sock {
	ev_io		 io;
	int		 fd;		/* -1: free slot */
	struct dns	*dns;
};

struct dns {
	unsigned	 magic;
	struct ev_loop	*loop;
	ares_channel	 channel;
	ev_timer	 timer;
	struct dns_sock	 socks[DNS_SOCKETS];
	struct dns_cache *cache;
};

struct dns_query {
	struct dns		*dns;
	ev_timer		 later;		/* to answer outside dns_resolve_mx */
	bool			 inline_call;	/* inside dns_resolve_mx */
	dns_cb			*cb;		/* NULL once cancelled */
	void			*arg;
	char			*domain;
	int			 pending;	/* address lookups outstanding */
	bool			 cached;	/* answered from the cache */
	unsigned		 ttl;		/* smallest TTL seen */
	bool			 have_ttl;
	struct dns_result	 res;
};

static void
dns_query_ttl(struct dns_query *q, unsigned ttl)
{
	if (!q->have_ttl || ttl < q->ttl)
		q->ttl = ttl;
	q->have_ttl = true;
}

static void dns_arm(struct dns *d);

static void
dns_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dns_sock *s = w->data;

	ares_process_fd(s->dns->channel,
	    (revents & EV_READ) ? s->fd : ARES_SOCKET_BAD,
	    (revents & EV_WRITE) ? s->fd : ARES_SOCKET_BAD);
	dns_arm(s->dns);
}

static void
dns_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns *d = w->data;

	ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_arm(d);
}

/* Follow c-ares's next time-out. */
static void
dns_arm(struct dns *d)
{
	struct timeval tv, *tvp;

	ev_timer_stop(d->loop, &d->timer);
	if ((tvp = ares_timeout(d->channel, NULL, &tv)) == NULL)
		return;
	ev_timer_set(&d->timer, (double)tvp->tv_sec + tvp->tv_usec / 1e6, 0.);
	ev_timer_start(d->loop, &d->timer);
}

static void
dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_sock *slot = NULL;

	for (size_t i = 0; i < DNS_SOCKETS; i++)
		if (d->socks[i].fd == fd || (slot == NULL && d->socks[i].fd == -1))
			slot = &d->socks[i];
	if (slot == NULL) {
		log_warnx("dns: too many DNS sockets");
		return;
	}
	if (slot->fd == fd)
		ev_io_stop(d->loop, &slot->io);
	if (!readable && !writable) {
		slot->fd = -1;
		return;
	}
	slot->fd = fd;
	ev_io_set(&slot->io, fd, (readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0));
	ev_io_start(d->loop, &slot->io);
}

struct dns *
dns_new(struct ev_loop *loop, const struct model *m, const char **error_r)
{
	const struct conf_value *ns = model_settings_get(&m->global,
	    CONF_ID_NAME_SERVER);
	struct ares_options opts;
	struct dns *d = xcalloc(1, sizeof(*d));
	struct buf csv;

	OBJ_INIT(d, DNS_MAGIC);
	d->loop = loop;
	d->cache = dns_cache_new();
	for (size_t i = 0; i < DNS_SOCKETS; i++) {
		d->socks[i].fd = -1;
		d->socks[i].dns = d;
		ev_init(&d->socks[i].io, dns_on_io);
		d->socks[i].io.data = &d->socks[i];
	}
	ev_init(&d->timer, dns_on_timer);
	d->timer.data = d;
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = dns_sock_state;
	opts.sock_state_cb_data = d;
	if (ares_init_options(&d->channel, &opts, ARES_OPT_SOCK_STATE_CB) !=
	    ARES_SUCCESS) {
		*error_r = "cannot start the DNS resolver";
		dns_cache_free(d->cache);
		free(d);
		return NULL;
	}
	buf_init(&csv, 64 * 1024);
	for (size_t i = 0; ns != NULL && i < ns->u.list.n; i++)
		(void)buf_printf(&csv, "%s%s", i ? "," : "", ns->u.list.v[i]);
	if (csv.len > 0 && ares_set_servers_ports_csv(d->channel,
	    buf_str(&csv)) != ARES_SUCCESS) {
		*error_r = "invalid name-server";
		buf_free(&csv);
		dns_free(d);
		return NULL;
	}
	buf_free(&csv);
	return d;
}

void
dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	ares_destroy(d->channel);	/* pending queries end with ARES_EDESTRUCTION */
	for (size_t i = 0; i < DNS_SOCKETS; i++)
		ev_io_stop(d->loop, &d->socks[i].io);
	ev_timer_stop(d->loop, &d->timer);
	dns_cache_free(d->cache);
	OBJ_WIPE(d);
	free(d);
}

static void
dns_query_deliver(struct dns_query *q)
{
	if (!q->cached && q->res.status != DNS_TEMPFAIL)
		dns_cache_put(q->dns->cache, q->domain, &q->res,
		    q->have_ttl ? q->ttl : DNS_CACHE_NEG_TTL, ev_now(q->dns->loop));
	if (q->cb != NULL)
		q->cb(q->arg, &q->res);
	free(q->domain);
	free(q);
}

static void
dns_on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
	dns_query_deliver(w->data);
}

/* c-ares answered; the caller hears it on the loop, never inside
 * dns_resolve_mx itself (c-ares may answer at once, e.g. from /etc/hosts). */
static void
dns_query_done(struct dns_query *q)
{
	if (q->inline_call) {
		ev_timer_init(&q->later, dns_on_later, 0., 0.);
		q->later.data = q;
		ev_timer_start(q->dns->loop, &q->later);
		return;
	}
	dns_query_deliver(q);
}

/* Order by preference; equal preferences in random order. */
static int
dns_pref_cmp(const void *a, const void *b)
{
	const struct dns_host *x = a, *y = b;

	return x->pref - y->pref;
}

static void
dns_shuffle_equal(struct dns_result *r)
{
	qsort(r->hosts, r->nhosts, sizeof(r->hosts[0]), dns_pref_cmp);
	for (size_t i = 0; i < r->nhosts; i++) {
		size_t j = i;
		while (j + 1 < r->nhosts && r->hosts[j + 1].pref == r->hosts[i].pref)
			j++;
		for (size_t k = j; k > i; k--) {
			size_t pick = i + (size_t)arc4random_uniform((uint32_t)(k - i + 1));
			struct dns_host tmp = r->hosts[k];
			r->hosts[k] = r->hosts[pick];
			r->hosts[pick] = tmp;
		}
		i = j;
	}
}

static void
dns_finish_addresses(struct dns_query *q)
{
	size_t with = 0;

	for (size_t i = 0; i < q->res.nhosts; i++)
		with += q->res.hosts[i].naddr > 0;
	if (with == 0 && q->res.status == DNS_OK) {
		q->res.status = DNS_NO_ADDRESS;
		q->res.error = "no address for the mail hosts";
	}
	dns_query_done(q);
}

struct dns_addr_ctx {
	struct dns_query	*q;
	size_t			 host;
};

static void
dns_on_addr(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_addr_ctx *ctx = arg;
	struct dns_query *q = ctx->q;
	struct dns_host *h = &q->res.hosts[ctx->host];

	if (status == ARES_SUCCESS && ai != NULL) {
		for (struct ares_addrinfo_node *n = ai->nodes; n != NULL &&
		    h->naddr < DNS_HOST_ADDRS; n = n->ai_next) {
			memcpy(&h->addr[h->naddr], n->ai_addr, n->ai_addrlen);
			h->addrlen[h->naddr++] = n->ai_addrlen;
			dns_query_ttl(q, n->ai_ttl > 0 ? (unsigned)n->ai_ttl : 0);
		}
	} else if (status != ARES_ENOTFOUND && status != ARES_ENODATA &&
	    q->res.status == DNS_OK) {
		/* remembered: if no host has an address it is temporary */
		q->res.error = ares_strerror(status);
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	free(ctx);
	if (--q->pending == 0) {
		if (q->res.error != NULL && q->res.status == DNS_OK) {
			size_t with = 0;
			for (size_t i = 0; i < q->res.nhosts; i++)
				with += q->res.hosts[i].naddr > 0;
			if (with == 0)
				q->res.status = DNS_TEMPFAIL;
		}
		dns_finish_addresses(q);
	}
}

static void
dns_lookup_addresses(struct dns_query *q)
{
	struct ares_addrinfo_hints hints;
	size_t n = q->res.nhosts;
	ares_channel channel = q->dns->channel;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = ARES_AI_NOSORT;
	q->pending = (int)n;
	/* the last lookup may answer at once and free q: use copies */
	for (size_t i = 0; i < n; i++) {
		struct dns_addr_ctx *ctx = xcalloc(1, sizeof(*ctx));
		ctx->q = q;
		ctx->host = i;
		ares_getaddrinfo(channel, q->res.hosts[i].name, NULL, &hints,
		    dns_on_addr, ctx);
	}
}

static void
dns_on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct ares_mx_reply *mx = NULL;
	unsigned ttl;

	if (status == ARES_SUCCESS && abuf != NULL &&
	    dns_answer_ttl(abuf, (size_t)alen, &ttl))
		dns_query_ttl(q, ttl);
	else if ((status == ARES_ENODATA || status == ARES_ENOTFOUND) &&
	    abuf != NULL && dns_negative_ttl(abuf, (size_t)alen, &ttl))
		dns_query_ttl(q, ttl);
	if (status == ARES_ENODATA) {		/* implicit MX: the domain itself */
		snprintf(q->res.hosts[0].name, sizeof(q->res.hosts[0].name),
		    "%s", q->domain);
		q->res.nhosts = 1;
		q->res.implicit = true;
	} else if (status == ARES_ENOTFOUND) {
		q->res.status = DNS_NXDOMAIN;
		q->res.error = "the domain does not exist";
	} else if (status != ARES_SUCCESS ||
	    ares_parse_mx_reply(abuf, alen, &mx) != ARES_SUCCESS) {
		q->res.status = DNS_TEMPFAIL;
		q->res.error = status != ARES_SUCCESS ? ares_strerror(status) :
		    "malformed MX answer";
	} else {
		for (struct ares_mx_reply *r = mx; r != NULL &&
		    q->res.nhosts < DNS_MAX_HOSTS; r = r->next) {
			struct dns_host *h = &q->res.hosts[q->res.nhosts++];
			snprintf(h->name, sizeof(h->name), "%s", r->host);
			h->pref = r->priority;
		}
		ares_free_data(mx);
		if (q->res.nhosts == 1 && (q->res.hosts[0].name[0] == '\0' ||
		    strcmp(q->res.hosts[0].name, ".") == 0)) {
			q->res.status = DNS_NULL_MX;
			q->res.error = "the domain accepts no mail (null MX)";
		}
	}
	if (q->res.status != DNS_OK || q->res.nhosts == 0) {
		if (q->res.status == DNS_OK)
			q->res.status = DNS_NO_ADDRESS;
		dns_query_done(q);
		return;
	}
	dns_shuffle_equal(&q->res);
	dns_lookup_addresses(q);
}

struct dns_query *
dns_resolve_mx(struct dns *d, const char *domain, dns_cb *cb, void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->dns = d;
	q->cb = cb;
	q->arg = arg;
	q->domain = xstrdup(domain);
	q->inline_call = true;
	if (dns_cache_get(d->cache, domain, &q->res, ev_now(d->loop))) {
		q->cached = true;
		if (q->res.nhosts > 1)
			dns_shuffle_equal(&q->res);
		dns_query_done(q);
		q->inline_call = false;
		return q;
	}
	ares_query(d->channel, domain, ns_c_in, ns_t_mx, dns_on_mx, q);
	q->inline_call = false;
	dns_arm(d);
	return q;
}

/* The cache key of a host's address answer (apart from MX answers). */
static void
dns_host_key(const char *name, char *key, size_t size)
{
	snprintf(key, size, "%s A", name);
}

struct dns_query *
dns_resolve_host(struct dns *d, const char *name, dns_cb *cb, void *arg)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));
	char key[DNS_NAME_KEY];

	dns_host_key(name, key, sizeof(key));
	q->dns = d;
	q->cb = cb;
	q->arg = arg;
	q->domain = xstrdup(key);
	q->inline_call = true;
	if (dns_cache_get(d->cache, key, &q->res, ev_now(d->loop))) {
		q->cached = true;
		dns_query_done(q);
		q->inline_call = false;
		return q;
	}
	snprintf(q->res.hosts[0].name, sizeof(q->res.hosts[0].name), "%s",
	    name);
	q->res.nhosts = 1;
	dns_lookup_addresses(q);	/* may answer at once: q stays (later) */
	q->inline_call = false;
	dns_arm(d);
	return q;
}

void
dns_cancel(struct dns_query *q)
{
	q->cb = NULL;
}

size_t
dns_clear_cache(struct dns *d, const char *domain)
{
	char key[DNS_NAME_KEY];
	size_t n = dns_cache_clear(d->cache, domain);

	if (strcmp(domain, "*") != 0) {
		dns_host_key(domain, key, sizeof(key));
		n += dns_cache_clear(d->cache, key);
	}
	return n;
}

size_t
dns_cached(const struct dns *d)
{
	return dns_cache_count(d->cache);
}
