/*
 * Unit tests for lib/addr: PMTA's CIDR short forms, host:port forms,
 * matching (including IPv4-mapped IPv6).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "lib/addr.h"
#include "tap.h"

static struct sockaddr_storage
v4(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &s->sin_addr);
	return ss;
}

static int
match(const char *cidr, const char *ip)
{
	struct addr_cidr c;
	struct sockaddr_storage ss;
	const char *err;

	if (addr_cidr_parse(cidr, &c, &err) == -1)
		return -1;
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		memset(&ss, 0, sizeof(ss));
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else
		ss = v4(ip);
	return addr_cidr_match(&c, (struct sockaddr *)&ss);
}

int
main(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *err;
	char buf[64];

	is_int(match("0/0", "203.0.113.9"), 1, "0/0 matches everything");
	is_int(match("10/8", "10.200.1.1"), 1, "10/8 short form");
	is_int(match("10/8", "11.0.0.1"), 0, "10/8 excludes 11.x");
	is_int(match("173.194/16", "173.194.7.7"), 1, "173.194/16 short form");
	is_int(match("173.194/16", "173.195.7.7"), 0, "173.194/16 excludes 173.195");
	is_int(match("127.0.0.1", "127.0.0.1"), 1, "a bare address is /32");
	is_int(match("127.0.0.1", "127.0.0.2"), 0, "/32 is exact");
	is_int(match("192.168.1.0/25", "192.168.1.127"), 1, "/25 upper bound");
	is_int(match("192.168.1.0/25", "192.168.1.128"), 0, "/25 excludes .128");
	is_int(match("10.1.2.3/8", "10.9.9.9"), 1, "host bits are masked off");
	is_int(match("127.0.0.0/8", "::ffff:127.0.0.5"), 1, "IPv4-mapped IPv6 counts as IPv4");
	is_int(match("2001:db8::/32", "2001:db8:1::1"), 1, "IPv6 range");
	is_int(match("2001:db8::/32", "2001:db9::1"), 0, "IPv6 range excludes");
	is_int(match("10/33", "10.0.0.1"), -1, "prefix too long is an error");
	is_int(match("300.1.1.1", "10.0.0.1"), -1, "octet too large is an error");
	is_int(match("1.2.3", "1.2.3.0"), -1, "a short form needs a prefix");
	is_int(match("", "1.2.3.4"), -1, "empty is an error");

	ok(addr_parse_hostport("127.0.0.1:2525", 0, false, &ss, &len, &err) == 0 &&
	    addr_port((struct sockaddr *)&ss) == 2525, "IP:PORT");
	ok(addr_parse_hostport("[::1]:25", 0, false, &ss, &len, &err) == 0 &&
	    ss.ss_family == AF_INET6, "[IPv6]:PORT");
	ok(addr_parse_hostport("[IPv6:::1]:26", 0, false, &ss, &len, &err) == 0 &&
	    addr_port((struct sockaddr *)&ss) == 26, "[IPv6:addr]:PORT");
	ok(addr_parse_hostport("[10.1.1.1]", 25, false, &ss, &len, &err) == 0 &&
	    addr_port((struct sockaddr *)&ss) == 25, "[IP] takes the default port");
	ok(addr_parse_hostport("0/0:25", 0, true, &ss, &len, &err) == 0,
	    "0/0:25 listens on every address");
	is_str(addr_ntop_port((struct sockaddr *)&ss, buf, sizeof(buf)),
	    "0.0.0.0:25", "and means 0.0.0.0:25");
	ok(addr_parse_hostport("10/8:25", 0, true, &ss, &len, &err) == -1,
	    "a partial range cannot be listened on");
	ok(addr_parse_hostport("127.0.0.1:0", 0, false, &ss, &len, &err) == -1,
	    "port 0 is refused");
	ok(addr_parse_hostport("127.0.0.1:65536", 0, false, &ss, &len, &err) == -1,
	    "port 65536 is refused");
	ok(addr_parse_hostport("127.0.0.1", 0, false, &ss, &len, &err) == -1,
	    "a missing port is refused without a default");
	ok(addr_parse_hostport("mx.example.com:25", 0, false, &ss, &len, &err) == -1,
	    "names are not resolved here");
	return done_testing();
}
