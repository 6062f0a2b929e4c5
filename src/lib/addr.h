/*
 * addr: socket addresses and CIDR ranges as PowerMTA writes them:
 * "1.2.3.4:25", "0/0:25", "[::1]:2525", "10/8", "173.194/16",
 * "2001:db8::/32".  Pure parsing and matching; no name resolution.
 */
#ifndef TERN_LIB_ADDR_H
#define TERN_LIB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct addr_cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 bytes[16];	/* network order, masked */
	int		 prefix;	/* 0..32 or 0..128 */
};

/* Parse "IP", "IP/len" and the short IPv4 forms "10/8" and "0/0". */
int	addr_cidr_parse(const char *s, struct addr_cidr *c, const char **error_r);
/* Does the socket address fall in the range? (IPv4-mapped IPv6 counts as IPv4.) */
bool	addr_cidr_match(const struct addr_cidr *c, const struct sockaddr *sa);

/*
 * Parse "IP:PORT", "[IP]:PORT", "[IPv6:addr]:PORT", or a bare "IP" /
 * "[IP]" when default_port > 0.  A CIDR with a mask ("0/0:25") is
 * accepted when allow_cidr, and then means "any address" of that
 * family for listening.  Fills in ss and len.
 */
int	addr_parse_hostport(const char *s, int default_port, bool allow_cidr,
	    struct sockaddr_storage *ss, socklen_t *len, const char **error_r);

/* "1.2.3.4" (no port); "0.0.0.0" for a null address. */
const char *addr_ntop(const struct sockaddr *sa, char *dst, size_t size);
/* "1.2.3.4:25" or "[::1]:25". */
const char *addr_ntop_port(const struct sockaddr *sa, char *dst, size_t size);
int	addr_port(const struct sockaddr *sa);

#endif
