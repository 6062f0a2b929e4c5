/*
 * smtp_addr: RFC 5321 path parsing ("<local@domain>", "<>", source
 * routes), pure and allocation-free.
 */
#ifndef TERN_SMTP_ADDR_H
#define TERN_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Longest address kept.  RFC 5321 allows 256 octets in a path; VERP and
 * tracking addresses in the wild are longer, so we accept more and refuse
 * beyond this with a syntax error.
 */
#define SMTP_ADDR_MAX	512

struct smtp_addr {
	char	addr[SMTP_ADDR_MAX + 1];	/* "local@domain"; "" = null path */
	size_t	len;
	size_t	at;		/* index of the '@' separating the domain */
};

enum smtp_addr_flags {
	SMTP_ADDR_ALLOW_NULL	= 1 << 0,	/* "<>" is valid (MAIL FROM) */
	SMTP_ADDR_ALLOW_UTF8	= 1 << 1,	/* SMTPUTF8: octets >= 0x80 */
	SMTP_ADDR_ALLOW_BARE	= 1 << 2,	/* tolerate a path without <> */
	SMTP_ADDR_ALLOW_NODOMAIN = 1 << 3,	/* "<postmaster>" */
};

/*
 * Parse the path at the start of s[0..len).  Leading spaces are skipped.
 * On success fills *a, sets *consumed to the bytes used (up to and
 * including '>', or the end of the bare address) and returns 0.  On error
 * returns -1 with *error_r a short reason ("missing '<'", ...).
 * A source route "<@a,@b:x@y>" is accepted and dropped.  Quoted local
 * parts are kept as written.  The domain is kept as written (callers
 * compare it case-insensitively).
 */
int	smtp_addr_parse(const char *s, size_t len, unsigned flags,
	    struct smtp_addr *a, size_t *consumed, const char **error_r);

/* The domain part ("" for the null path or a local-only address). */
const char *smtp_addr_domain(const struct smtp_addr *a);

/* Is the text a syntactically valid domain (or [address literal])? */
bool	smtp_addr_domain_valid(const char *d, size_t len, bool allow_utf8);

#endif
