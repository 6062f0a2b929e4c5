/*
 * dns_cache: finished mail-routing answers by domain, kept for their DNS
 * time to live (positive answers: the smallest TTL of the MX and address
 * records; NXDOMAIN, null MX and "no address": the negative TTL of the
 * zone's SOA, RFC 2308), capped at DNS_CACHE_MAX_TTL.  Temporary
 * failures are never cached.  Pure: the caller passes the time, so
 * tests need no clock; entries are stored compactly (only the hosts and
 * addresses an answer has).
 */
#ifndef TERN_DNS_CACHE_H
#define TERN_DNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns.h"

#define DNS_CACHE_MAX_TTL	86400	/* seconds */
#define DNS_CACHE_NEG_TTL	300	/* when the answer had no SOA */
#define DNS_CACHE_MAX		100000	/* entries */

struct dns_cache;

struct dns_cache *dns_cache_new(void);
void	dns_cache_free(struct dns_cache *c);
/* Remember r for domain (case-insensitive) until now + ttl. */
void	dns_cache_put(struct dns_cache *c, const char *domain,
	    const struct dns_result *r, unsigned ttl, double now);
/* Fill *r from a live entry; false when there is none (an expired one
 * is dropped). */
bool	dns_cache_get(struct dns_cache *c, const char *domain,
	    struct dns_result *r, double now);
/* Forget one domain ("*": every one); the number of entries dropped. */
size_t	dns_cache_clear(struct dns_cache *c, const char *domain);
size_t	dns_cache_count(const struct dns_cache *c);

/*
 * TTLs from a raw DNS response (pure, bounds-checked): the smallest TTL
 * of the answer section's records, or for a negative answer min(SOA
 * TTL, SOA MINIMUM) from the authority section.  false when the message
 * is malformed or has no such record.
 */
bool	dns_answer_ttl(const unsigned char *msg, size_t len, unsigned *ttl);
bool	dns_negative_ttl(const unsigned char *msg, size_t len, unsigned *ttl);

#endif
