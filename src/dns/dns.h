/*
 * dns: mail routing lookups with c-ares on the libev loop: a domain's MX
 * hosts by preference (random order among equals), each with its IPv4 and
 * IPv6 addresses; the implicit MX (the domain's own addresses) when it has
 * no MX; a null MX (RFC 7505) and a domain that does not exist are
 * reported as such; answers are cached for their TTL.  The servers are the config's name-server lines
 * ("IP" or "IP:PORT"), else the system's.
 */
#ifndef TERN_DNS_H
#define TERN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <ev.h>

#include "model/model.h"

#define DNS_HOST_ADDRS	8
#define DNS_MAX_HOSTS	16

enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN,		/* the domain does not exist: permanent */
	DNS_NULL_MX,		/* RFC 7505: the domain accepts no mail */
	DNS_NO_ADDRESS,		/* no MX host has an address: permanent */
	DNS_TEMPFAIL,		/* time-out, SERVFAIL ...: try again later */
};

struct dns_host {
	char			 name[256];
	int			 pref;
	struct sockaddr_storage	 addr[DNS_HOST_ADDRS];
	socklen_t		 addrlen[DNS_HOST_ADDRS];
	size_t			 naddr;
};

struct dns_result {
	enum dns_status		 status;
	const char		*error;		/* for logs and diagnostics */
	struct dns_host		 hosts[DNS_MAX_HOSTS];	/* by preference */
	size_t			 nhosts;
	bool			 implicit;	/* the domain has no MX: its own
						   addresses (RFC 5321 §5.1) */
};

struct dns;
struct dns_query;
typedef void dns_cb(void *arg, const struct dns_result *r);

struct dns *dns_new(struct ev_loop *loop, const struct model *m,
	    const char **error_r);
void	dns_free(struct dns *d);
/* Resolve domain's mail hosts; cb runs on the loop when the answers are
 * in (or at once, inside this call, on an immediate failure).  Until cb
 * has run, the handle can cancel it. */
struct dns_query *dns_resolve_mx(struct dns *d, const char *domain,
	    dns_cb *cb, void *arg);
/*
 * Resolve one host name's addresses (A and AAAA, as for an MX host): the
 * result has one host named name; DNS_NO_ADDRESS when it has none (or
 * does not exist), DNS_TEMPFAIL on a temporary failure.  Cached like MX
 * answers (`clear dnscache NAME` drops both).
 */
struct dns_query *dns_resolve_host(struct dns *d, const char *name,
	    dns_cb *cb, void *arg);
/* The callback will not run; the query finishes quietly. */
void	dns_cancel(struct dns_query *q);
/* Answers are cached for their TTL (dns_cache.h).  Forget one domain's
 * ("*": all); the number of names dropped.  Names cached now. */
size_t	dns_clear_cache(struct dns *d, const char *domain);
size_t	dns_cached(const struct dns *d);

#endif
