/*
 * conf_host: host lists (smtp-hosts, route: levels, ports, lookup-mx:)
 * and smtp-listener addresses.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf_value.h"
#include "conf/conf_value_private.h"
#include "lib/addr.h"
#include "lib/xmalloc.h"

/* ---- host lists ---- */

/* The name part of one host (lookup-mx: prefix already removed) and
 * its optional port; *name and *port point into item, which is cut. */
static int
conf_host_split(char *item, bool lookup_mx, char **name, char **port,
    bool *literal)
{
	char *close;

	*name = item;
	*port = NULL;
	*literal = false;
	if (item[0] == '[' && !lookup_mx) {
		if ((close = strchr(item, ']')) == NULL ||
		    (close[1] != '\0' && close[1] != ':'))
			return -1;
		if (close[1] == ':')
			*port = close + 2;
		*close = '\0';
		*name = item + 1;
		if (strncasecmp(*name, "IPv6:", 5) == 0)
			*name += 5;
		*literal = true;
		return 0;
	}
	if ((*port = strchr(item, ':')) != NULL) {
		*(*port)++ = '\0';
		if (strchr(*port, ':') != NULL)
			return -1;	/* IPv6 must be written [IPv6:...] */
	}
	return 0;
}

/* One host: "name[:port]", "[ip][:port]", "[IPv6:addr][:port]" or
 * "lookup-mx:domain[:port]", s[0..len). */
static int
conf_host_parse(const char *s, size_t len, struct conf_host *h,
    const char **error_r)
{
	char orig[CONF_NAME_MAX + 32], item[CONF_NAME_MAX + 32];
	char *name, *port;
	bool literal;

	memset(h, 0, sizeof(*h));
	if (len >= sizeof(item)) {
		*error_r = "host name too long";
		return -1;
	}
	memcpy(orig, s, len);
	orig[len] = '\0';
	memcpy(item, orig, len + 1);
	h->lookup_mx = strncasecmp(item, "lookup-mx:", 10) == 0;
	if (conf_host_split(item + (h->lookup_mx ? 10 : 0), h->lookup_mx,
	    &name, &port, &literal) == -1 ||
	    (literal ? !conf_ip_valid(name) : !conf_name_valid(name, false))) {
		*error_r = conf_value_err("invalid host", orig);
		return -1;
	}
	if (port != NULL && conf_port(port, &h->port) == -1) {
		*error_r = conf_value_err("invalid port in", orig);
		return -1;
	}
	h->name = xstrdup(name);
	return 0;
}

void
conf_hosts_free(struct conf_host *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Hosts separated by ',' (same level) and ';' (next level). */
static int
conf_hosts_scan(const char *p, struct conf_host **hosts, size_t *n,
    const char **error_r)
{
	bool need = true;
	int level = 0;
	size_t len;

	for (;;) {
		while (conf_blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p == ',' || *p == ';') {
			if (need) {
				*error_r = "empty entry in host list";
				return -1;
			}
			level += *p++ == ';';
			need = true;
			continue;
		}
		if (!need) {
			*error_r = "expected ',' or ';' between hosts";
			return -1;
		}
		if (*n == CONF_HOSTS_MAX) {
			*error_r = "too many hosts";
			return -1;
		}
		len = strcspn(p, " \t,;");
		*hosts = xreallocarray(*hosts, *n + 1, sizeof(**hosts));
		if (conf_host_parse(p, len, &(*hosts)[*n], error_r) == -1)
			return -1;
		(*hosts)[(*n)++].level = level;
		need = false;
		p += len;
	}
	if (need) {
		*error_r = *n == 0 ? "empty host list" : "empty entry in host list";
		return -1;
	}
	return 0;
}

int
conf_parse_host_list(char *const *args, size_t nargs,
    struct conf_host **hosts, size_t *n, const char **error_r)
{
	char *s;
	int rc;

	*hosts = NULL;
	*n = 0;
	if (nargs == 0) {
		*error_r = "argument missing";
		return -1;
	}
	if (nargs == 1 && args[0][0] == '\0')
		return 0;		/* "" clears an inherited list */
	if ((s = conf_join(args, nargs, " ", error_r)) == NULL)
		return -1;
	rc = conf_hosts_scan(s, hosts, n, error_r);
	free(s);
	if (rc == -1) {
		conf_hosts_free(*hosts, *n);
		*hosts = NULL;
		*n = 0;
	}
	return rc;
}

/* ---- listeners and word lists ---- */

/* "CIDR:PORT" or "[IPv6 CIDR]:PORT" ("[IPv6:...]" too): any CIDR. */
static int
conf_listener_addr(const char *s, const char **error_r)
{
	char ip[INET6_ADDRSTRLEN + 16];
	const char *start = s, *end, *port, *err;
	struct addr_cidr c;
	int portnum;

	if (*s == '[') {
		start = s + 1;
		if (strncasecmp(start, "IPv6:", 5) == 0)
			start += 5;
		if ((end = strchr(start, ']')) == NULL || end[1] != ':')
			goto bad;
		port = end + 2;
	} else {
		if ((end = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(end - s)) != NULL)
			goto bad;
		port = end + 1;
	}
	if (end == start || (size_t)(end - start) >= sizeof(ip))
		goto bad;
	memcpy(ip, start, (size_t)(end - start));
	ip[end - start] = '\0';
	if (addr_cidr_parse(ip, &c, &err) == -1) {
		*error_r = conf_value_err("invalid address in", s);
		return -1;
	}
	if (conf_port(port, &portnum) == -1) {
		*error_r = conf_value_err("invalid port in", s);
		return -1;
	}
	return 0;
bad:
	*error_r = conf_value_err("expected CIDR:PORT, not", s);
	return -1;
}

int
conf_value_listener(char *const *args, size_t nargs, struct conf_value *v,
    const char **error_r)
{
	const char *eq;

	if (conf_listener_addr(args[0], error_r) == -1)
		return -1;
	for (size_t i = 1; i < nargs; i++)
		if ((eq = strchr(args[i], '=')) == NULL || eq == args[i] ||
		    eq[1] == '\0') {
			*error_r = conf_value_err("expected key=value, not",
			    args[i]);
			return -1;
		}
	for (size_t i = 0; i < nargs; i++)
		conf_list_push(&v->u.list.v, &v->u.list.n, xstrdup(args[i]));
	return 0;
}
