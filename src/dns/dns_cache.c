/*
 * dns_cache: see dns_cache.h.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_cache.h"
#include "lib/xmalloc.h"

#define DNS_CACHE_BUCKETS	4096	/* a power of two */

struct dns_cache_host {
	char			*name;
	int			 pref;
	size_t			 naddr;
	struct sockaddr_storage	*addr;
	socklen_t		*addrlen;
};

struct dns_cache_entry {
	struct dns_cache_entry	*next;
	char			*domain;	/* lower case */
	double			 expires;
	enum dns_status		 status;
	const char		*error;		/* a static string */
	bool			 implicit;
	size_t			 nhosts;
	struct dns_cache_host	*hosts;
};

struct dns_cache {
	struct dns_cache_entry	*buckets[DNS_CACHE_BUCKETS];
	size_t			 count;
};

static size_t
dns_cache_hash(const char *s)
{
	size_t h = 5381;

	for (; *s != '\0'; s++)
		h = h * 33 + (unsigned char)tolower((unsigned char)*s);
	return h & (DNS_CACHE_BUCKETS - 1);
}

struct dns_cache *
dns_cache_new(void)
{
	return xcalloc(1, sizeof(struct dns_cache));
}

static void
dns_cache_entry_free(struct dns_cache_entry *e)
{
	for (size_t i = 0; i < e->nhosts; i++) {
		free(e->hosts[i].name);
		free(e->hosts[i].addr);
		free(e->hosts[i].addrlen);
	}
	free(e->hosts);
	free(e->domain);
	free(e);
}

/* Drop the entries `match` accepts; the number dropped. */
static size_t
dns_cache_drop(struct dns_cache *c, const char *domain, double now)
{
	size_t n = 0;

	for (size_t b = 0; b < DNS_CACHE_BUCKETS; b++) {
		struct dns_cache_entry **pp = &c->buckets[b], *e;

		while ((e = *pp) != NULL) {
			if ((domain != NULL && strcasecmp(e->domain, domain) != 0) ||
			    (domain == NULL && e->expires > now)) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			dns_cache_entry_free(e);
			c->count--;
			n++;
		}
	}
	return n;
}

void
dns_cache_free(struct dns_cache *c)
{
	if (c == NULL)
		return;
	(void)dns_cache_clear(c, "*");
	free(c);
}

size_t
dns_cache_clear(struct dns_cache *c, const char *domain)
{
	if (strcmp(domain, "*") == 0)
		return dns_cache_drop(c, NULL, INFINITY);
	return dns_cache_drop(c, domain, 0);
}

size_t
dns_cache_count(const struct dns_cache *c)
{
	return c->count;
}

void
dns_cache_put(struct dns_cache *c, const char *domain,
    const struct dns_result *r, unsigned ttl, double now)
{
	struct dns_cache_entry *e;
	size_t b;

	if (r->status == DNS_TEMPFAIL || ttl == 0)
		return;
	(void)dns_cache_drop(c, domain, 0);
	if (c->count >= DNS_CACHE_MAX && dns_cache_drop(c, NULL, now) == 0)
		(void)dns_cache_clear(c, "*");	/* full of live entries */
	e = xcalloc(1, sizeof(*e));
	e->domain = xstrdup(domain);
	for (char *p = e->domain; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	e->expires = now + (ttl > DNS_CACHE_MAX_TTL ? DNS_CACHE_MAX_TTL : ttl);
	e->status = r->status;
	e->error = r->error;
	e->implicit = r->implicit;
	e->nhosts = r->nhosts;
	e->hosts = xcalloc(r->nhosts ? r->nhosts : 1, sizeof(*e->hosts));
	for (size_t i = 0; i < r->nhosts; i++) {
		const struct dns_host *h = &r->hosts[i];
		struct dns_cache_host *ch = &e->hosts[i];

		ch->name = xstrdup(h->name);
		ch->pref = h->pref;
		ch->naddr = h->naddr;
		ch->addr = xcalloc(h->naddr ? h->naddr : 1, sizeof(*ch->addr));
		ch->addrlen = xcalloc(h->naddr ? h->naddr : 1,
		    sizeof(*ch->addrlen));
		memcpy(ch->addr, h->addr, h->naddr * sizeof(*ch->addr));
		memcpy(ch->addrlen, h->addrlen, h->naddr * sizeof(*ch->addrlen));
	}
	b = dns_cache_hash(domain);
	e->next = c->buckets[b];
	c->buckets[b] = e;
	c->count++;
}

bool
dns_cache_get(struct dns_cache *c, const char *domain, struct dns_result *r,
    double now)
{
	struct dns_cache_entry **pp = &c->buckets[dns_cache_hash(domain)], *e;

	for (; (e = *pp) != NULL; pp = &e->next)
		if (strcasecmp(e->domain, domain) == 0)
			break;
	if (e == NULL)
		return false;
	if (e->expires <= now) {
		*pp = e->next;
		dns_cache_entry_free(e);
		c->count--;
		return false;
	}
	memset(r, 0, sizeof(*r));
	r->status = e->status;
	r->error = e->error;
	r->implicit = e->implicit;
	r->nhosts = e->nhosts;
	for (size_t i = 0; i < e->nhosts; i++) {
		struct dns_host *h = &r->hosts[i];

		snprintf(h->name, sizeof(h->name), "%s", e->hosts[i].name);
		h->pref = e->hosts[i].pref;
		h->naddr = e->hosts[i].naddr;
		memcpy(h->addr, e->hosts[i].addr, h->naddr * sizeof(h->addr[0]));
		memcpy(h->addrlen, e->hosts[i].addrlen,
		    h->naddr * sizeof(h->addrlen[0]));
	}
	return true;
}

/* ---- DNS messages (RFC 1035 §4.1), only as far as TTLs need ---- */

static uint32_t
dns_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Skip a (possibly compressed) name at *off; false past the end. */
static bool
dns_skip_name(const unsigned char *msg, size_t len, size_t *off)
{
	for (int labels = 0; labels < 128; labels++) {
		unsigned char c;

		if (*off >= len)
			return false;
		c = msg[*off];
		if (c == 0) {
			*off += 1;
			return true;
		}
		if ((c & 0xc0) == 0xc0) {	/* a pointer ends the name */
			*off += 2;
			return *off <= len;
		}
		if ((c & 0xc0) != 0)
			return false;
		*off += 1 + (size_t)c;
	}
	return false;
}

/* Walk to the first record of section `want` (0 answer, 1 authority);
 * *count gets its record count. */
static bool
dns_section(const unsigned char *msg, size_t len, int want, size_t *off,
    unsigned *count)
{
	unsigned qd, an;

	if (len < 12)
		return false;
	qd = (unsigned)msg[4] << 8 | msg[5];
	an = (unsigned)msg[6] << 8 | msg[7];
	*count = want == 0 ? an : ((unsigned)msg[8] << 8 | msg[9]);
	*off = 12;
	for (unsigned i = 0; i < qd; i++) {
		if (!dns_skip_name(msg, len, off) || *off + 4 > len)
			return false;
		*off += 4;
	}
	for (unsigned i = 0; want == 1 && i < an; i++) {
		if (!dns_skip_name(msg, len, off) || *off + 10 > len)
			return false;
		*off += 10 + ((size_t)msg[*off + 8] << 8 | msg[*off + 9]);
	}
	return *off <= len;
}

bool
dns_answer_ttl(const unsigned char *msg, size_t len, unsigned *ttl)
{
	unsigned count;
	size_t off;
	bool found = false;

	if (msg == NULL || !dns_section(msg, len, 0, &off, &count))
		return false;
	for (unsigned i = 0; i < count; i++) {
		uint32_t t;

		if (!dns_skip_name(msg, len, &off) || off + 10 > len)
			return false;
		t = dns_get32(msg + off + 4);
		if (t > 0x7fffffffu)	/* RFC 2181 §8: treat as zero */
			t = 0;
		if (!found || t < *ttl)
			*ttl = t;
		found = true;
		off += 10 + ((size_t)msg[off + 8] << 8 | msg[off + 9]);
		if (off > len)
			return false;
	}
	return found;
}

bool
dns_negative_ttl(const unsigned char *msg, size_t len, unsigned *ttl)
{
	unsigned count;
	size_t off;

	if (msg == NULL || !dns_section(msg, len, 1, &off, &count))
		return false;
	for (unsigned i = 0; i < count; i++) {
		size_t rdlen, rd;
		unsigned type;
		uint32_t t, minimum;

		if (!dns_skip_name(msg, len, &off) || off + 10 > len)
			return false;
		type = (unsigned)msg[off] << 8 | msg[off + 1];
		t = dns_get32(msg + off + 4);
		rdlen = (size_t)msg[off + 8] << 8 | msg[off + 9];
		rd = off + 10;
		off = rd + rdlen;
		if (off > len)
			return false;
		if (type != 6)		/* SOA */
			continue;
		if (!dns_skip_name(msg, off, &rd) || !dns_skip_name(msg, off, &rd) ||
		    rd + 20 > off)
			return false;
		minimum = dns_get32(msg + rd + 16);
		*ttl = t < minimum ? t : minimum;
		if (*ttl > 0x7fffffffu)
			*ttl = 0;
		return true;
	}
	return false;
}
