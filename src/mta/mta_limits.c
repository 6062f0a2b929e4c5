/*
 * mta_limits: which target and local address a session connects with
 * next, within the connection limits that depend on both
 * (pmta-reference §3.5): source-ip-max-smtp-out (per queue and local
 * address), mx-connection-limit (per MX host name and local address,
 * global) and ip-connection-limit (per destination address, global).
 *
 * source-ip-max-connect-rate (new connections per local address in a
 * queue, smooth as max-connect-rate: lib/pace.h) is one more such
 * limit; a session held by it waits until its next slot.
 *
 * Local addresses: the VirtualMTA's smtp-source-host entries (else the
 * global ones; an entry that is a range, "127.0.0.8/30", stands for each
 * of its addresses), used in turn per VirtualMTA, skipping those disabled for
 * the queue and those of the other address family than the target (an
 * IPv4 source cannot reach an IPv6 host); none means the system's
 * choice.
 *
 * Targets of one preference level are equivalent: when the next one is
 * at a limit, another of its level within every limit is taken instead;
 * when none is, the session waits (holding its queue's connection slot)
 * until a connection somewhere closes, then tries again; the queue notes
 * why (show queues --errors).  A lower level is never used because a
 * better one is busy: that is what its preference means.
 *
 * Counts come from the sessions themselves: a connection counts from its
 * connect() until it is closed, so pmtad's count is never below what a
 * server sees.
 */
#include "config.h"

#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "lib/log.h"
#include "lib/pace.h"
#include "lib/xmalloc.h"
#include "mta/mta_private.h"

/* smtp-source-host rotation of one VirtualMTA. */
struct mta_source_rr {
	struct mta_source_rr	*next;
	char			*vmta;
	unsigned long		 pos;
};

/* source-ip-max-connect-rate: the pace of one local address in a queue. */
struct mta_source_pace {
	struct mta_source_pace	*next;
	const struct queue	*q;		/* queues live as long as pmtad */
	char			 ip[64];
	struct pace		 pace;
};

static struct mta_source_rr *
mta_limits_rr(struct mta *m, const char *vmta)
{
	struct mta_source_rr *rr;

	for (rr = m->source_rrs; rr != NULL; rr = rr->next)
		if (strcasecmp(rr->vmta, vmta) == 0)
			return rr;
	rr = xcalloc(1, sizeof(*rr));
	rr->vmta = xstrdup(vmta);
	rr->next = m->source_rrs;
	m->source_rrs = rr;
	return rr;
}

/*
 * How many local addresses an smtp-source-host entry ("IP [NAME]" or
 * "CIDR [NAME]") stands for: 1, each address of the range (at most
 * MTA_SOURCE_RANGE_MAX, from its first), or 0 for a range that does not
 * parse.  A single address is checked when used.
 */
static size_t
mta_limits_entry_count(const char *entry)
{
	char ip[128] = "";
	struct addr_cidr c;
	const char *error;
	int bits;

	if (sscanf(entry, "%127s", ip) != 1)
		return 0;
	if (strchr(ip, '/') == NULL)
		return 1;
	if (addr_cidr_parse(ip, &c, &error) == -1)
		return 0;
	bits = (c.family == AF_INET ? 32 : 128) - c.prefix;
	return bits >= 12 ? MTA_SOURCE_RANGE_MAX : (size_t)1 << bits;
}

size_t
mta_limits_sources(const struct conf_value *v)
{
	size_t n = 0;

	for (size_t i = 0; v != NULL && i < v->u.list.n; i++)
		n += mta_limits_entry_count(v->u.list.v[i]);
	return n;
}

/* Address `off` of a range entry, into src->ss. */
static bool
mta_limits_range_at(const char *ip, size_t off, struct mta_source *src)
{
	struct addr_cidr c;
	const char *error;
	unsigned char *b;
	size_t nb;

	if (addr_cidr_parse(ip, &c, &error) == -1)
		return false;
	if (c.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&src->ss;

		sin->sin_family = AF_INET;
		b = (unsigned char *)&sin->sin_addr;
		nb = 4;
		src->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&src->ss;

		sin6->sin6_family = AF_INET6;
		b = (unsigned char *)&sin6->sin6_addr;
		nb = 16;
		src->len = sizeof(*sin6);
	}
	memcpy(b, c.bytes, nb);
	/* the network address plus off, big-endian (off is below the
	 * range's size, so no carry leaves the host part) */
	for (size_t i = nb; i > 0 && off > 0; i--) {
		unsigned sum = b[i - 1] + (unsigned)(off & 0xff);

		b[i - 1] = (unsigned char)sum;
		off = (off >> 8) + (sum >> 8);
	}
	return true;
}

bool
mta_limits_source_at(const struct conf_value *v, size_t k,
    struct mta_source *src)
{
	char ip[128] = "";
	const char *error;
	size_t i, n = 0;

	memset(src, 0, sizeof(*src));
	for (i = 0; v != NULL && i < v->u.list.n; i++) {
		n = mta_limits_entry_count(v->u.list.v[i]);
		if (k < n)
			break;
		k -= n;
	}
	if (v == NULL || i == v->u.list.n ||
	    sscanf(v->u.list.v[i], "%127s %255s", ip, src->name) < 1)
		return false;
	if (strchr(ip, '/') != NULL) {
		if (!mta_limits_range_at(ip, k, src))
			return false;
	} else if (addr_parse_hostport(ip, 1, false, &src->ss, &src->len,
	    &error) == -1)
		return false;
	if (src->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&src->ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&src->ss)->sin6_port = 0;
	addr_ntop((const struct sockaddr *)&src->ss, src->ip, sizeof(src->ip));
	return true;
}

/* The pace of local address ip in s's queue (source-ip-max-connect-rate
 * rule rate, re-read each time: a reload applies). */
static struct pace *
mta_limits_pace(struct mta_session *s, const char *ip,
    const struct conf_rate *rate, double now)
{
	struct mta_source_pace *sp;

	for (sp = s->mta->source_paces; sp != NULL; sp = sp->next)
		if (sp->q == s->q && strcmp(sp->ip, ip) == 0)
			break;
	if (sp == NULL) {
		sp = xcalloc(1, sizeof(*sp));
		sp->q = s->q;
		snprintf(sp->ip, sizeof(sp->ip), "%s", ip);
		sp->next = s->mta->source_paces;
		s->mta->source_paces = sp;
	}
	pace_set(&sp->pace, rate->count, (double)rate->per, now);
	return &sp->pace;
}

/*
 * source-ip-max-connect-rate: the rate of the first "CIDR RATE" line
 * whose range holds src, into *rate, and the rule's text; false: none.
 */
static bool
mta_limits_rate_rule(const struct conf_value *v, const struct sockaddr *src,
    struct conf_rate *rate, char *rule, size_t size)
{
	char key[300], val[64];

	for (size_t i = 0; v != NULL && i < v->u.list.n; i++) {
		struct addr_cidr c;
		const char *error;

		if (sscanf(v->u.list.v[i], "%299s %63s", key, val) != 2 ||
		    addr_cidr_parse(key, &c, &error) == -1 ||
		    !addr_cidr_match(&c, src))
			continue;
		if (strcasecmp(val, "unlimited") == 0 ||
		    conf_parse_rate(val, rate) == -1 || rate->count <= 0)
			return false;
		snprintf(rule, size, "%s", v->u.list.v[i]);
		return true;
	}
	return false;
}

/* The limit of the first "KEY N" line whose KEY matches; 0: none. */
static long
mta_limits_lookup(const struct conf_value *v, const char *name,
    const struct sockaddr *sa)
{
	char key[300];
	long n;

	for (size_t i = 0; v != NULL && i < v->u.list.n; i++) {
		if (sscanf(v->u.list.v[i], "%299s %ld", key, &n) != 2)
			continue;
		if (sa != NULL) {
			struct addr_cidr c;
			const char *error;

			if (addr_cidr_parse(key, &c, &error) == 0 &&
			    addr_cidr_match(&c, sa))
				return n;
		} else if (fnmatch(key, name, FNM_CASEFOLD) == 0)
			return n;
	}
	return 0;
}

/* Connections open now, other than s's, that match. */
enum mta_count_by { MTA_BY_QUEUE_SOURCE, MTA_BY_MX_SOURCE, MTA_BY_IP };

static long
mta_limits_count(const struct mta_session *s, enum mta_count_by by,
    const char *name, const char *ip, const char *src)
{
	const struct mta_session *o;
	long n = 0;

	LIST_FOREACH(o, &s->mta->sessions, entry) {
		if (o == s || !o->conn_open)
			continue;
		switch (by) {
		case MTA_BY_QUEUE_SOURCE:
			n += o->q == s->q && strcmp(o->bind_ip, src) == 0;
			break;
		case MTA_BY_MX_SOURCE:
			n += strcasecmp(o->dest_name, name) == 0 &&
			    strcmp(o->bind_ip, src) == 0;
			break;
		case MTA_BY_IP:
			n += strcmp(o->dest_ip, ip) == 0;
			break;
		}
	}
	return n;
}

/*
 * May s connect to t from src now?  true, or false with why set to the
 * limit in the way.
 */
static bool
mta_limits_allow(struct mta_session *s, const struct mta_target *t,
    const struct mta_source *src, char *why, size_t size)
{
	const struct model *m = s->model;
	struct conf_rate rate;
	char ip[64], rule[320];
	long lim;

	if (src->ip[0] != '\0' && (lim = mta_limits_lookup(model_queue_value(m,
	    s->q->domain, s->q->vmta, CONF_ID_SOURCE_IP_MAX_SMTP_OUT), NULL,
	    (const struct sockaddr *)&src->ss)) > 0 &&
	    mta_limits_count(s, MTA_BY_QUEUE_SOURCE, NULL, NULL, src->ip) >= lim) {
		snprintf(why, size, "source-ip-max-smtp-out reached (%s: %ld)",
		    src->ip, lim);
		return false;
	}
	if (src->ip[0] != '\0' && mta_limits_rate_rule(model_queue_value(m,
	    s->q->domain, s->q->vmta, CONF_ID_SOURCE_IP_MAX_CONNECT_RATE),
	    (const struct sockaddr *)&src->ss, &rate, rule, sizeof(rule))) {
		double now = ev_now(s->mta->loop);
		struct pace *p = mta_limits_pace(s, src->ip, &rate, now);

		if (!pace_ready(p, now)) {
			snprintf(why, size, "source-ip-max-connect-rate reached "
			    "(%s: %.100s)", src->ip, rule);
			if (s->rate_wait == 0 || p->next_ok < s->rate_wait)
				s->rate_wait = p->next_ok;
			return false;
		}
	}
	if ((lim = mta_limits_lookup(model_settings_get(&m->global,
	    CONF_ID_MX_CONNECTION_LIMIT), t->name, NULL)) > 0 &&
	    mta_limits_count(s, MTA_BY_MX_SOURCE, t->name, NULL, src->ip) >= lim) {
		snprintf(why, size, "mx-connection-limit reached (%.100s from %s: "
		    "%ld)", t->name, src->ip[0] ? src->ip : "the default address",
		    lim);
		return false;
	}
	addr_ntop((const struct sockaddr *)&t->ss, ip, sizeof(ip));
	if ((lim = mta_limits_lookup(model_settings_get(&m->global,
	    CONF_ID_IP_CONNECTION_LIMIT), NULL,
	    (const struct sockaddr *)&t->ss)) > 0 &&
	    mta_limits_count(s, MTA_BY_IP, NULL, ip, NULL) >= lim) {
		snprintf(why, size, "ip-connection-limit reached (%s: %ld)", ip,
		    lim);
		return false;
	}
	return true;
}

/*
 * Target t with the sources in turn: 1 with *use filled (and the
 * rotation moved on), 0 when every usable source is at a limit, -1 when
 * no source can reach t at all.
 */
static int
mta_limits_try(struct mta_session *s, const struct mta_target *t,
    struct mta_source *use, char *why, size_t size)
{
	const struct conf_value *v = model_vmta_value(s->model, s->q->vmta,
	    CONF_ID_SMTP_SOURCE_HOST);
	struct mta_source_rr *rr;
	size_t n = mta_limits_sources(v);
	int r = -1;

	if (v == NULL || v->u.list.n == 0) {
		memset(use, 0, sizeof(*use));
		return mta_limits_allow(s, t, use, why, size) ? 1 : 0;
	}
	rr = mta_limits_rr(s->mta, s->q->vmta);
	for (size_t i = 0; i < n; i++) {
		size_t k = (rr->pos + i) % n;

		if (!mta_limits_source_at(v, k, use)) {
			log_warnx("%s: smtp-source-host: entry for address %zu "
			    "is not an address", s->q->name, k);
			continue;
		}
		if (use->ss.ss_family != t->ss.ss_family ||
		    queue_source_disabled(s->q, use->ip))
			continue;
		if (!mta_limits_allow(s, t, use, why, size)) {
			r = 0;
			continue;
		}
		rr->pos = k + 1;
		return 1;
	}
	return r;
}

/* A connection from use opens now: source-ip-max-connect-rate counts it. */
static void
mta_limits_connected(struct mta_session *s, const struct mta_source *use)
{
	struct conf_rate rate;
	char rule[320];
	double now;

	if (use->ip[0] == '\0' || !mta_limits_rate_rule(model_queue_value(
	    s->model, s->q->domain, s->q->vmta,
	    CONF_ID_SOURCE_IP_MAX_CONNECT_RATE),
	    (const struct sockaddr *)&use->ss, &rate, rule, sizeof(rule)))
		return;
	now = ev_now(s->mta->loop);
	pace_take(mta_limits_pace(s, use->ip, &rate, now), now);
}

int
mta_limits_pick(struct mta_session *s, struct sockaddr_storage *src,
    socklen_t *srclen, bool *bound)
{
	const struct model_vmta *vm = model_vmta_find(s->model, s->q->vmta);
	const struct conf_value *hn = vm ? model_settings_get(&vm->settings,
	    CONF_ID_HOST_NAME) : NULL;
	struct mta_source use;
	char why[256] = "";

	s->rate_wait = 0;
	while (s->target < s->ntargets) {
		size_t end = s->target;
		bool busy = false;

		while (end < s->ntargets &&
		    s->targets[end].level == s->targets[s->target].level)
			end++;
		for (size_t i = s->target; i < end; i++) {
			int r = mta_limits_try(s, &s->targets[i], &use, why,
			    sizeof(why));

			if (r == 0)
				busy = true;
			if (r != 1)
				continue;
			if (i != s->target) {
				struct mta_target tmp = s->targets[i];
				s->targets[i] = s->targets[s->target];
				s->targets[s->target] = tmp;
			}
			/* EHLO: the VMTA's host-name, else the entry's name,
			 * else the global host-name (pmta-reference Q10) */
			snprintf(s->ehlo, sizeof(s->ehlo), "%s", hn != NULL &&
			    hn->u.list.n > 0 ? hn->u.list.v[0] : use.name[0] ?
			    use.name : s->model->host_name);
			snprintf(s->bind_ip, sizeof(s->bind_ip), "%s", use.ip);
			mta_limits_connected(s, &use);
			*bound = use.ip[0] != '\0';
			if (*bound) {
				*src = use.ss;
				*srclen = use.len;
			}
			return 1;
		}
		if (busy) {
			snprintf(s->fail, sizeof(s->fail), "%s", why);
			return 0;
		}
		log_info("%s: no local address of the VirtualMTA can reach %s "
		    "(%s address family)", s->q->name, s->targets[s->target].name,
		    s->targets[s->target].ss.ss_family == AF_INET6 ? "IPv6" :
		    "IPv4");
		s->target = end;
	}
	return -1;
}

/* The waiting sessions try again at time `at` (ev_now's clock) at the
 * latest. */
static void
mta_limits_retry_at(struct mta *m, double at)
{
	double after;

	if (m->loop == NULL)
		return;
	after = at - ev_now(m->loop);
	if (after < 0.001)
		after = 0.001;
	if (ev_is_active(&m->release) &&
	    ev_timer_remaining(m->loop, &m->release) <= after)
		return;
	ev_timer_stop(m->loop, &m->release);
	ev_timer_set(&m->release, after, 0.);
	ev_timer_start(m->loop, &m->release);
}

void
mta_limits_wait(struct mta_session *s)
{
	struct queue *q = s->q;

	if (s->conn_open) {		/* the failed one counts no more */
		conn_free(&s->conn);
		s->conn_open = false;
	}
	s->state = MTA_WAITING;
	if (!s->waiting) {
		TAILQ_INSERT_TAIL(&s->mta->waiting, s, wait_entry);
		s->waiting = true;
	}
	/* a rate limit frees no connection: come back at its next slot */
	if (s->rate_wait > 0)
		mta_limits_retry_at(s->mta, s->rate_wait);
	/* one event per episode, not one per waiting session */
	if (strcmp(q->last_error, s->fail) != 0) {
		log_info("%s: waiting: %s", q->name, s->fail);
		queue_note_error(q, s->fail);
	}
	s->fail[0] = '\0';
}

void
mta_limits_unwait(struct mta_session *s)
{
	if (!s->waiting)
		return;
	TAILQ_REMOVE(&s->mta->waiting, s, wait_entry);
	s->waiting = false;
}

/* Waiting sessions try again, oldest first. */
static void
mta_limits_on_released(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mta *m = w->data;
	struct mta_session *s, **v;
	unsigned long gen = ++m->resume_gen;
	size_t n = 0, i = 0;

	TAILQ_FOREACH(s, &m->waiting, wait_entry)
		n++;
	if (n == 0)
		return;
	/* resuming one can end others (a failure kicks the queues): each
	 * must still be waiting, and from this round (not a new session at
	 * a freed one's address) */
	v = xcalloc(n, sizeof(*v));
	TAILQ_FOREACH(s, &m->waiting, wait_entry) {
		s->resume_gen = gen;
		v[i++] = s;
	}
	for (i = 0; i < n; i++) {
		bool live = false;

		TAILQ_FOREACH(s, &m->waiting, wait_entry)
			if (s == v[i] && s->resume_gen == gen)
				live = true;
		if (!live)
			continue;
		mta_limits_unwait(v[i]);
		mta_session_resume(v[i]);
	}
	free(v);
}

void
mta_limits_released(struct mta *m)
{
	if (TAILQ_EMPTY(&m->waiting) || m->loop == NULL)
		return;
	if (ev_is_active(&m->release) &&
	    ev_timer_remaining(m->loop, &m->release) <= 0.)
		return;
	ev_timer_stop(m->loop, &m->release);
	ev_timer_set(&m->release, 0., 0.);
	ev_timer_start(m->loop, &m->release);
}

void
mta_limits_init(struct mta *m)
{
	TAILQ_INIT(&m->waiting);
	ev_init(&m->release, mta_limits_on_released);
	m->release.data = m;
}

void
mta_limits_free(struct mta *m)
{
	struct mta_source_rr *rr;
	struct mta_source_pace *sp;

	if (m->loop != NULL)
		ev_timer_stop(m->loop, &m->release);
	while ((sp = m->source_paces) != NULL) {
		m->source_paces = sp->next;
		pace_free(&sp->pace);
		free(sp);
	}
	while ((rr = m->source_rrs) != NULL) {
		m->source_rrs = rr->next;
		free(rr->vmta);
		free(rr);
	}
}

/* ---- show limits, show queues --limits ---- */

struct mta_limits_row {
	char	 rule[320];
	char	 key[384];
	long	 open, max;
};

static void
mta_limits_row_add(struct mta_limits_row **v, size_t *n, const char *rule,
    const char *key, long max)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].rule, rule) == 0 &&
		    strcasecmp((*v)[i].key, key) == 0) {
			(*v)[i].open++;
			return;
		}
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	snprintf((*v)[*n].rule, sizeof((*v)[*n].rule), "%s", rule);
	snprintf((*v)[*n].key, sizeof((*v)[*n].key), "%s", key);
	(*v)[*n].open = 1;
	(*v)[(*n)++].max = max;
}

/* The line of v that sets the limit for name or sa, as "directive ARGS". */
static long
mta_limits_rule(const char *directive, const struct conf_value *v,
    const char *name, const struct sockaddr *sa, char *rule, size_t size)
{
	char key[300];
	long n;

	for (size_t i = 0; v != NULL && i < v->u.list.n; i++) {
		struct addr_cidr c;
		const char *error;
		bool match;

		if (sscanf(v->u.list.v[i], "%299s %ld", key, &n) != 2)
			continue;
		match = sa != NULL ? addr_cidr_parse(key, &c, &error) == 0 &&
		    addr_cidr_match(&c, sa) : fnmatch(key, name, FNM_CASEFOLD) == 0;
		if (match) {
			snprintf(rule, size, "%s %s", directive, v->u.list.v[i]);
			return n;
		}
	}
	return 0;
}

void
mta_limits_show(const struct mta *m, const struct model *model,
    struct buf *out)
{
	const struct conf_value *mx = model_settings_get(&model->global,
	    CONF_ID_MX_CONNECTION_LIMIT);
	const struct conf_value *ipl = model_settings_get(&model->global,
	    CONF_ID_IP_CONNECTION_LIMIT);
	struct mta_limits_row *v = NULL;
	const struct mta_session *s;
	size_t n = 0, waiting = 0, open = 0;
	char rule[320], key[384];
	long lim;

	LIST_FOREACH(s, &m->sessions, entry) {
		struct sockaddr_storage ss;
		socklen_t len;
		const char *error;

		waiting += s->waiting;
		if (!s->conn_open)
			continue;
		open++;
		if ((lim = mta_limits_rule("mx-connection-limit", mx,
		    s->dest_name, NULL, rule, sizeof(rule))) > 0) {
			snprintf(key, sizeof(key), "%s from %s", s->dest_name,
			    s->bind_ip[0] ? s->bind_ip : "default");
			mta_limits_row_add(&v, &n, rule, key, lim);
		}
		if (addr_parse_hostport(s->dest_ip, 1, false, &ss, &len,
		    &error) == 0 && (lim = mta_limits_rule("ip-connection-limit",
		    ipl, NULL, (const struct sockaddr *)&ss, rule,
		    sizeof(rule))) > 0)
			mta_limits_row_add(&v, &n, rule, s->dest_ip, lim);
	}
	(void)buf_printf(out, "%-36s %-36s %5s %5s\n", "limit", "connections to",
	    "open", "max");
	(void)buf_printf(out, "%-36s %-36s %5s %5s\n",
	    "------------------------------------",
	    "------------------------------------", "-----", "-----");
	lim = (long)conf_value_num(model_settings_get(&model->global,
	    CONF_ID_TOTAL_MAX_SMTP_OUT),
	    &conf_directives[CONF_ID_TOTAL_MAX_SMTP_OUT]);
	(void)buf_printf(out, "%-36s %-36s %5zu %5ld\n", "total-max-smtp-out",
	    "all", open, lim);
	for (size_t i = 0; i < n; i++)
		(void)buf_printf(out, "%-36s %-36s %5ld %5ld\n", v[i].rule,
		    v[i].key, v[i].open, v[i].max);
	(void)buf_printf(out, "%zu session(s) waiting for a connection limit.\n",
	    waiting);
	free(v);
}

void
mta_limits_show_queue(const struct mta *m, const struct queue *q,
    struct buf *out)
{
	const struct model *model = *m->model;
	const struct conf_value *sl = model_queue_value(model, q->domain,
	    q->vmta, CONF_ID_SOURCE_IP_MAX_SMTP_OUT);
	const struct mta_session *s;
	struct mta_limits_row *v = NULL;
	size_t n = 0, waiting = 0, open = 0;

	LIST_FOREACH(s, &m->sessions, entry) {
		struct sockaddr_storage ss;
		socklen_t len;
		const char *error;
		char rule[320] = "";
		long lim = 0;

		if (s->q != q)
			continue;
		waiting += s->waiting;
		if (!s->conn_open)
			continue;
		open++;
		if (s->bind_ip[0] != '\0' && addr_parse_hostport(s->bind_ip, 1,
		    false, &ss, &len, &error) == 0)
			lim = mta_limits_rule("source-ip-max-smtp-out", sl, NULL,
			    (const struct sockaddr *)&ss, rule, sizeof(rule));
		mta_limits_row_add(&v, &n, rule, s->bind_ip[0] ? s->bind_ip :
		    "default", lim);
	}
	(void)buf_printf(out, "    connections: %zu open, %zu waiting for a "
	    "connection limit, %d session(s) of max-smtp-out %d\n", open,
	    waiting, q->active, q->max_out);
	for (size_t i = 0; i < n; i++) {
		(void)buf_printf(out, "    from %s: %ld open", v[i].key, v[i].open);
		if (v[i].max > 0)
			(void)buf_printf(out, " of %ld (%s)", v[i].max, v[i].rule);
		(void)buf_puts(out, "\n");
	}
	free(v);
	/* source-ip-max-connect-rate: each local address paced so far */
	for (const struct mta_source_pace *sp = m->source_paces; sp != NULL;
	    sp = sp->next) {
		struct conf_rate r = { sp->pace.count, (long long)sp->pace.per };

		if (sp->q != q || sp->pace.interval <= 0)
			continue;
		(void)buf_printf(out, "    source-ip-max-connect-rate from %s ",
		    sp->ip);
		conf_format_rate(&r, out);
		(void)buf_printf(out, ": %zu opened in the last ",
		    pace_used(&sp->pace, ev_now(m->loop)));
		conf_format_time((long long)sp->pace.per, out);
		(void)buf_puts(out, "\n");
	}
}
