/*
 * addr: address and CIDR parsing as PowerMTA writes them (see addr.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "lib/addr.h"

/* IPv4 with possibly missing trailing octets ("10", "173.194"). */
static int
addr_parse_short_v4(const char *s, unsigned char out[4])
{
	int n = 0;

	memset(out, 0, 4);
	while (*s != '\0') {
		char *end;
		long v;

		if (n == 4 || *s < '0' || *s > '9')
			return -1;
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno != 0 || v > 255 || end - s > 3)
			return -1;
		out[n++] = (unsigned char)v;
		s = end;
		if (*s == '.') {
			s++;
			if (*s == '\0')
				return -1;
		} else if (*s != '\0')
			return -1;
	}
	return n > 0 ? 0 : -1;
}

int
addr_cidr_parse(const char *s, struct addr_cidr *c, const char **error_r)
{
	char ip[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t iplen = slash ? (size_t)(slash - s) : strlen(s);
	const char *errstr;

	memset(c, 0, sizeof(*c));
	if (iplen == 0 || iplen >= sizeof(ip)) {
		*error_r = "invalid IP address";
		return -1;
	}
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	if (strchr(ip, ':') != NULL) {
		c->family = AF_INET6;
		c->prefix = 128;
		if (inet_pton(AF_INET6, ip, c->bytes) != 1) {
			*error_r = "invalid IPv6 address";
			return -1;
		}
	} else {
		c->family = AF_INET;
		c->prefix = 32;
		if ((slash ? addr_parse_short_v4(ip, c->bytes) :
		    inet_pton(AF_INET, ip, c->bytes) == 1 ? 0 : -1) == -1) {
			*error_r = "invalid IPv4 address";
			return -1;
		}
	}
	if (slash != NULL) {
		c->prefix = (int)strtonum(slash + 1, 0,
		    c->family == AF_INET ? 32 : 128, &errstr);
		if (errstr != NULL) {
			*error_r = "invalid prefix length";
			return -1;
		}
	}
	for (int i = 0; i < 16; i++) {
		int bits = c->prefix - i * 8;
		if (bits <= 0)
			c->bytes[i] = 0;
		else if (bits < 8)
			c->bytes[i] &= (unsigned char)(0xff << (8 - bits));
	}
	return 0;
}

bool
addr_cidr_match(const struct addr_cidr *c, const struct sockaddr *sa)
{
	const unsigned char *p;
	int full, rest;

	if (sa->sa_family == AF_INET && c->family == AF_INET)
		p = (const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		p = a6->s6_addr;
		if (c->family == AF_INET) {
			if (!IN6_IS_ADDR_V4MAPPED(a6))
				return false;
			p += 12;
		}
	} else
		return false;
	full = c->prefix / 8;
	rest = c->prefix % 8;
	if (memcmp(p, c->bytes, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return (p[full] & (0xff << (8 - rest))) == c->bytes[full];
}

static int
addr_fill(const char *ip, int port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		*len = sizeof(*s4);
	}
	return 0;
}

/* Split "[x]:p", "x:p" (IPv4 only) or "x" into host and port strings. */
static int
addr_split(const char *s, char *host, size_t hsize, const char **port_r)
{
	const char *h = s, *hend, *colon;

	*port_r = NULL;
	if (*s == '[') {
		h = s + 1;
		if (strncasecmp(h, "IPv6:", 5) == 0)
			h += 5;
		if ((hend = strchr(h, ']')) == NULL)
			return -1;
		if (hend[1] == ':')
			*port_r = hend + 2;
		else if (hend[1] != '\0')
			return -1;
	} else if ((colon = strrchr(s, ':')) != NULL &&
	    strchr(s, ':') == colon) {
		hend = colon;
		*port_r = colon + 1;
	} else
		hend = s + strlen(s);
	if ((size_t)(hend - h) >= hsize)
		return -1;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	return 0;
}

int
addr_parse_hostport(const char *s, int default_port, bool allow_cidr,
    struct sockaddr_storage *ss, socklen_t *len, const char **error_r)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *portstr, *errstr;
	int port = default_port;

	if (addr_split(s, host, sizeof(host), &portstr) == -1) {
		*error_r = "invalid address";
		return -1;
	}
	if (portstr != NULL) {
		port = (int)strtonum(portstr, 1, 65535, &errstr);
		if (errstr != NULL) {
			*error_r = "invalid port";
			return -1;
		}
	} else if (default_port <= 0) {
		*error_r = "port missing";
		return -1;
	}
	if (allow_cidr && strchr(host, '/') != NULL) {
		struct addr_cidr c;
		if (addr_cidr_parse(host, &c, error_r) == -1)
			return -1;
		if (c.prefix != 0) {
			*error_r = "only a whole range (0/0) or one address can be listened on";
			return -1;
		}
		return addr_fill(c.family == AF_INET ? "0.0.0.0" : "::", port,
		    ss, len);
	}
	if (addr_fill(host, port, ss, len) == -1) {
		*error_r = "invalid IP address";
		return -1;
	}
	return 0;
}

const char *
addr_ntop(const struct sockaddr *sa, char *dst, size_t size)
{
	const void *src;

	if (sa->sa_family == AF_INET)
		src = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			return inet_ntop(AF_INET, a6->s6_addr + 12, dst,
			    (socklen_t)size);
		src = a6;
	} else {
		snprintf(dst, size, "0.0.0.0");
		return dst;
	}
	if (inet_ntop(sa->sa_family, src, dst, (socklen_t)size) == NULL)
		snprintf(dst, size, "0.0.0.0");
	return dst;
}

int
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

const char *
addr_ntop_port(const struct sockaddr *sa, char *dst, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	addr_ntop(sa, ip, sizeof(ip));
	if (strchr(ip, ':') != NULL)
		snprintf(dst, size, "[%s]:%d", ip, addr_port(sa));
	else
		snprintf(dst, size, "%s:%d", ip, addr_port(sa));
	return dst;
}
