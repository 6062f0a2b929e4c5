/*
 * Unit tests for dns_cache: entries live for their TTL, case-insensitive
 * names, temporary failures never cached, clear one or all; and the TTL
 * parsers on hand-built DNS messages (answer TTLs, SOA negative TTL,
 * compression pointers, truncated messages).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dns/dns_cache.h"
#include "tap.h"

static struct dns_result
one_host(const char *name, const char *ip)
{
	struct dns_result r;
	struct sockaddr_in *sin;

	memset(&r, 0, sizeof(r));
	r.status = DNS_OK;
	r.nhosts = 1;
	snprintf(r.hosts[0].name, sizeof(r.hosts[0].name), "%s", name);
	r.hosts[0].pref = 10;
	sin = (struct sockaddr_in *)&r.hosts[0].addr[0];
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	r.hosts[0].addrlen[0] = sizeof(*sin);
	r.hosts[0].naddr = 1;
	return r;
}

/* Append a name in wire form. */
static size_t
put_name(unsigned char *p, const char *name)
{
	size_t n = 0;

	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);
		p[n++] = (unsigned char)len;
		memcpy(p + n, name, len);
		n += len;
		name += len + (dot != NULL);
	}
	p[n++] = 0;
	return n;
}

static size_t
put_rr_head(unsigned char *p, unsigned type, unsigned ttl, unsigned rdlen)
{
	/* a compression pointer to the question's name at offset 12 */
	p[0] = 0xc0; p[1] = 12;
	p[2] = 0; p[3] = (unsigned char)type;
	p[4] = 0; p[5] = 1;
	p[6] = (unsigned char)(ttl >> 24); p[7] = (unsigned char)(ttl >> 16);
	p[8] = (unsigned char)(ttl >> 8); p[9] = (unsigned char)ttl;
	p[10] = (unsigned char)(rdlen >> 8); p[11] = (unsigned char)rdlen;
	return 12;
}

int
main(void)
{
	struct dns_cache *c = dns_cache_new();
	struct dns_result r = one_host("mx.example.test", "127.0.0.5"), got;
	struct dns_result nx;
	unsigned char msg[512];
	unsigned ttl = 0;
	size_t n, qend;

	dns_cache_put(c, "Example.TEST", &r, 60, 1000.);
	ok(dns_cache_get(c, "example.test", &got, 1030.), "a cached answer, any case");
	is_str(got.hosts[0].name, "mx.example.test", "with its host");
	ok(got.hosts[0].naddr == 1 && ((struct sockaddr_in *)
	    &got.hosts[0].addr[0])->sin_addr.s_addr == htonl(0x7f000005),
	    "and its address");
	ok(!dns_cache_get(c, "example.test", &got, 1060.), "gone after its TTL");
	is_int((long long)dns_cache_count(c), 0, "the expired entry is dropped");

	memset(&nx, 0, sizeof(nx));
	nx.status = DNS_TEMPFAIL;
	dns_cache_put(c, "tmp.test", &nx, 300, 1000.);
	ok(!dns_cache_get(c, "tmp.test", &got, 1001.), "a temporary failure is not cached");
	nx.status = DNS_NXDOMAIN;
	nx.error = "the domain does not exist";
	dns_cache_put(c, "nx.test", &nx, 300, 1000.);
	ok(dns_cache_get(c, "nx.test", &got, 1001.) && got.status == DNS_NXDOMAIN,
	    "NXDOMAIN is cached");
	dns_cache_put(c, "long.test", &r, 10 * DNS_CACHE_MAX_TTL, 0.);
	ok(!dns_cache_get(c, "long.test", &got, DNS_CACHE_MAX_TTL + 1.),
	    "TTLs are capped");
	dns_cache_put(c, "a.test", &r, 60, 1000.);
	dns_cache_put(c, "b.test", &r, 60, 1000.);
	is_int((long long)dns_cache_clear(c, "A.test"), 1, "clear one name");
	ok(!dns_cache_get(c, "a.test", &got, 1001.) &&
	    dns_cache_get(c, "b.test", &got, 1001.), "only that one");
	dns_cache_clear(c, "*");
	is_int((long long)dns_cache_count(c), 0, "clear all");

	/* a response: one question, two MX answers (TTL 300 and 120) */
	memset(msg, 0, sizeof(msg));
	msg[5] = 1;		/* qdcount */
	msg[7] = 2;		/* ancount */
	n = 12 + put_name(msg + 12, "example.test");
	msg[n + 1] = 15; msg[n + 3] = 1;	/* MX IN */
	n += 4;
	qend = n;
	n += put_rr_head(msg + n, 15, 300, 4);
	n += 4;
	n += put_rr_head(msg + n, 15, 120, 4);
	n += 4;
	{
		bool parsed = dns_answer_ttl(msg, n, &ttl);
		ok(parsed && ttl == 120, "the smallest answer TTL (%u)", ttl);
	}
	ok(!dns_answer_ttl(msg, n - 3, &ttl), "a truncated answer is refused");

	/* a negative response: SOA TTL 900, MINIMUM 60 in the authority */
	msg[7] = 0;
	msg[9] = 1;		/* nscount */
	n = qend;
	{
		unsigned char rd[64];
		size_t k = put_name(rd, "ns.test");
		k += put_name(rd + k, "admin.test");
		memset(rd + k, 0, 20);
		rd[k + 19] = 60;	/* minimum */
		k += 20;
		n += put_rr_head(msg + n, 6, 900, (unsigned)k);
		memcpy(msg + n, rd, k);
		n += k;
	}
	{
		bool parsed = dns_negative_ttl(msg, n, &ttl);
		ok(parsed && ttl == 60, "negative TTL: min(SOA TTL, MINIMUM) (%u)", ttl);
	}
	ok(!dns_negative_ttl(msg, n - 1, &ttl), "a truncated SOA is refused");
	ok(!dns_answer_ttl(msg, 5, &ttl), "a short message is refused");

	dns_cache_free(c);
	return done_testing();
}
