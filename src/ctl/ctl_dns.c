/*
 * ctl_dns: `resolve [options] domain`, the routing pmtad would use for a
 * domain (MX hosts by preference, their addresses), answered once the DNS
 * lookup is done.  The answer comes from the same resolver and cache as
 * deliveries (`clear dnscache` first for a fresh lookup).  PMTA's options
 * that print packets or connect are accepted and not acted on.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_private.h"
#include "lib/xmalloc.h"

struct ctl_wait {
	struct dns_query	*query;
	ctl_done_cb		*done;
	void			*arg;
	char			*domain;
};

static const char *
ctl_dns_status(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return "StatusOk";
	case DNS_NXDOMAIN:
		return "StatusNxDomain";
	case DNS_NULL_MX:
		return "StatusNullMx";
	case DNS_NO_ADDRESS:
		return "StatusNoAddress";
	default:
		return "StatusTempFail";
	}
}

/* The answer's text: status, then one line per MX host. */
static void
ctl_dns_format(const struct dns_result *r, struct buf *out)
{
	char ip[INET6_ADDRSTRLEN];

	(void)buf_printf(out, "status = %s\n", ctl_dns_status(r->status));
	if (r->status != DNS_OK) {
		(void)buf_printf(out, "error = %s\n", r->error ? r->error : "");
		return;
	}
	(void)buf_printf(out, "%5s  %-40s  %s\n", "pref", "host name",
	    "IP addresses");
	for (size_t i = 0; i < r->nhosts; i++) {
		const struct dns_host *h = &r->hosts[i];

		(void)buf_printf(out, "%5d  %-40s ", h->pref, h->name);
		for (size_t k = 0; k < h->naddr; k++) {
			const struct sockaddr *sa =
			    (const struct sockaddr *)&h->addr[k];
			const void *a = sa->sa_family == AF_INET6 ?
			    (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
			    (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

			if (inet_ntop(sa->sa_family, a, ip, sizeof(ip)) != NULL)
				(void)buf_printf(out, " %s", ip);
		}
		(void)buf_puts(out, h->naddr == 0 ? " (none)\n" : "\n");
	}
}

static void
ctl_dns_answered(void *arg, const struct dns_result *r)
{
	struct ctl_wait *w = arg;
	struct buf out;

	buf_init(&out, CTL_REPLY_MAX);
	ctl_dns_format(r, &out);
	w->done(w->arg, r->status == DNS_OK ? CTL_OK : CTL_ERROR, &out);
	buf_free(&out);
	free(w->domain);
	free(w);
}

enum ctl_status
ctl_resolve(const struct ctl_ctx *ctx, int argc, char **argv, struct buf *out,
    ctl_done_cb *done, void *arg, struct ctl_wait **wait)
{
	const char *domain = NULL;
	struct ctl_wait *w;

	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0 && domain == NULL)
			domain = argv[i];
		else if (strncmp(argv[i], "--", 2) != 0) {
			domain = NULL;
			break;
		}
	}
	if (domain == NULL) {
		(void)buf_puts(out, "usage: resolve [options] domain\n");
		return CTL_USAGE;
	}
	if (ctx->dns == NULL) {
		(void)buf_puts(out, "no DNS resolver is running\n");
		return CTL_ERROR;
	}
	w = xcalloc(1, sizeof(*w));
	w->done = done;
	w->arg = arg;
	w->domain = xstrdup(domain);
	*wait = w;
	/* the answer never comes inside this call (dns.h) */
	w->query = dns_resolve_mx(ctx->dns, w->domain, ctl_dns_answered, w);
	return CTL_PENDING;
}

void
ctl_wait_cancel(struct ctl_wait *w)
{
	if (w == NULL)
		return;
	dns_cancel(w->query);
	free(w->domain);
	free(w);
}
