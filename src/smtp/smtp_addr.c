/*
 * smtp_addr: RFC 5321 path parsing (see smtp_addr.h).
 *
 * Owns the grammar of a path: "<" [source-route ":"] mailbox ">", the
 * null path "<>", and, when the caller tolerates it, a bare mailbox.
 * Pure and allocation-free: the result is copied into the fixed array of
 * struct smtp_addr, and anything longer than SMTP_ADDR_MAX is refused.
 *
 * Strategy: one left-to-right scan.  A source route is parsed (each hop
 * must be a valid domain) and dropped.  The local part is either a
 * quoted string, kept with its quotes and backslashes as written, or a
 * dot-string.  The placement of dots in a dot-string is not checked
 * ("a..b", "a.@x"): such addresses exist (old mobile carriers) and are
 * deliverable; only the characters are.  Octets >= 0x80 are allowed only
 * with SMTP_ADDR_ALLOW_UTF8 and must then be well-formed UTF-8.
 *
 * Invariants on success: a->addr is NUL-terminated at a->len; for the
 * null path len == at == 0; for an address without a domain (only with
 * SMTP_ADDR_ALLOW_NODOMAIN) at == len; otherwise a->addr[at] == '@'.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_addr.h"

#define SMTP_DOMAIN_MAX	255
#define SMTP_LABEL_MAX	63

/* Where the scan of a mailbox stands. */
struct smtp_addr_scan {
	const char	*s;
	size_t		 len;
	size_t		 i;
	unsigned	 flags;
	bool		 bracketed;
};

static void
smtp_addr_error(const char **error_r, const char *msg)
{
	if (error_r != NULL)
		*error_r = msg;
}

static bool
smtp_addr_is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool
smtp_addr_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* RFC 5322 atext, without the 8-bit extension. */
static bool
smtp_addr_is_atext(unsigned char c)
{
	return smtp_addr_is_alnum(c) || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Is s[0..len) well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF)? */
static bool
smtp_addr_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned long cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return false;
		if (len - i - 1 < n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

/* "[...]": IPv4, "IPv6:..." or a general "tag:content" literal. */
static bool
smtp_addr_literal_valid(const char *d, size_t len)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char tmp[64];
	const char *in;
	size_t n, k, colon;

	if (len < 3 || d[len - 1] != ']')
		return false;
	in = d + 1;
	n = len - 2;
	if (n >= 5 && strncasecmp(in, "IPv6:", 5) == 0) {
		if (n - 5 >= sizeof(tmp))
			return false;
		memcpy(tmp, in + 5, n - 5);
		tmp[n - 5] = '\0';
		return inet_pton(AF_INET6, tmp, bin) == 1;
	}
	for (colon = 0; colon < n && in[colon] != ':'; colon++)
		;
	if (colon == n) {
		if (n >= sizeof(tmp))
			return false;
		memcpy(tmp, in, n);
		tmp[n] = '\0';
		return inet_pton(AF_INET, tmp, bin) == 1;
	}
	/* General-address-literal: Ldh-str ":" 1*dcontent. */
	if (colon == 0 || colon + 1 == n || in[colon - 1] == '-')
		return false;
	for (k = 0; k < colon; k++)
		if (!smtp_addr_is_alnum((unsigned char)in[k]) && in[k] != '-')
			return false;
	for (k = colon + 1; k < n; k++) {
		unsigned char c = (unsigned char)in[k];

		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return false;
	}
	return true;
}

bool
smtp_addr_domain_valid(const char *d, size_t len, bool allow_utf8)
{
	size_t i, label = 0;
	bool ascii = true, eight_bit = false;
	unsigned char c;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	if (d[0] == '[')
		return smtp_addr_literal_valid(d, len);
	for (i = 0; i <= len; i++) {
		c = i < len ? (unsigned char)d[i] : '.';
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-' ||
			    (ascii && label > SMTP_LABEL_MAX))
				return false;
			label = 0;
			ascii = true;
			continue;
		}
		if (c >= 0x80 && allow_utf8) {
			ascii = false;
			eight_bit = true;
		} else if (c == '-') {
			if (label == 0)
				return false;
		} else if (!smtp_addr_is_alnum(c))
			return false;
		label++;
	}
	return !eight_bit ||
	    smtp_addr_utf8_valid((const unsigned char *)d, len);
}

const char *
smtp_addr_domain(const struct smtp_addr *a)
{
	if (a->len == 0 || a->at >= a->len)
		return "";
	return a->addr + a->at + 1;
}

/* The end of a domain or of a bare mailbox: '>' in brackets, else space. */
static bool
smtp_addr_at_end(const struct smtp_addr_scan *sc)
{
	if (sc->i >= sc->len)
		return true;
	if (sc->bracketed)
		return sc->s[sc->i] == '>';
	return smtp_addr_is_space(sc->s[sc->i]);
}

/* "@dom,@dom:" (a source route): validated, then dropped. */
static int
smtp_addr_route(struct smtp_addr_scan *sc, const char **error_r)
{
	size_t start;

	for (;;) {
		if (sc->i >= sc->len || sc->s[sc->i] != '@')
			goto bad;
		start = ++sc->i;
		if (sc->i < sc->len && sc->s[sc->i] == '[') {
			while (sc->i < sc->len && sc->s[sc->i] != ']')
				sc->i++;
			if (sc->i < sc->len)
				sc->i++;
		} else
			while (sc->i < sc->len && sc->s[sc->i] != ',' &&
			    sc->s[sc->i] != ':' && sc->s[sc->i] != '>')
				sc->i++;
		if (!smtp_addr_domain_valid(sc->s + start, sc->i - start,
		    (sc->flags & SMTP_ADDR_ALLOW_UTF8) != 0) ||
		    sc->i >= sc->len)
			goto bad;
		if (sc->s[sc->i++] == ':')
			return 0;
		if (sc->s[sc->i - 1] != ',')
			goto bad;
	}
bad:
	smtp_addr_error(error_r, "bad source route");
	return -1;
}

static int
smtp_addr_quoted(struct smtp_addr_scan *sc, const char **error_r)
{
	unsigned char c;

	for (sc->i++; sc->i < sc->len; sc->i++) {
		c = (unsigned char)sc->s[sc->i];
		if (c == '"') {
			sc->i++;
			return 0;
		}
		if (c == '\\') {
			if (++sc->i == sc->len)
				break;
			c = (unsigned char)sc->s[sc->i];
		}
		if (c >= 0x80 && (sc->flags & SMTP_ADDR_ALLOW_UTF8))
			continue;
		if (c < 32 || c > 126) {
			smtp_addr_error(error_r, "bad character in local part");
			return -1;
		}
	}
	smtp_addr_error(error_r, "unterminated quoted string");
	return -1;
}

static int
smtp_addr_local(struct smtp_addr_scan *sc, const char **error_r)
{
	size_t start = sc->i;
	unsigned char c;

	if (sc->i < sc->len && sc->s[sc->i] == '"')
		return smtp_addr_quoted(sc, error_r);
	for (; sc->i < sc->len && sc->s[sc->i] != '@'; sc->i++) {
		if (smtp_addr_at_end(sc))
			break;
		c = (unsigned char)sc->s[sc->i];
		if (c >= 0x80 && (sc->flags & SMTP_ADDR_ALLOW_UTF8))
			continue;
		if (c != '.' && !smtp_addr_is_atext(c)) {
			smtp_addr_error(error_r, c >= 0x80 ?
			    "8-bit address without SMTPUTF8" :
			    "bad character in local part");
			return -1;
		}
	}
	if (sc->i == start) {
		smtp_addr_error(error_r, "empty local part");
		return -1;
	}
	return 0;
}

/* Copy p[0..n) into a, with the '@' (or n, no domain) at index at. */
static int
smtp_addr_store(struct smtp_addr *a, const char *p, size_t n, size_t at,
    unsigned flags, const char **error_r)
{
	if (n > SMTP_ADDR_MAX) {
		smtp_addr_error(error_r, "address too long");
		return -1;
	}
	if ((flags & SMTP_ADDR_ALLOW_UTF8) &&
	    !smtp_addr_utf8_valid((const unsigned char *)p, at)) {
		smtp_addr_error(error_r, "invalid UTF-8 in address");
		return -1;
	}
	memcpy(a->addr, p, n);
	a->addr[n] = '\0';
	a->len = n;
	a->at = at;
	return 0;
}

/* local-part ["@" domain], ending where smtp_addr_at_end() says. */
static int
smtp_addr_mailbox(struct smtp_addr_scan *sc, struct smtp_addr *a,
    const char **error_r)
{
	size_t start = sc->i, at, dom;

	if (smtp_addr_local(sc, error_r) == -1)
		return -1;
	at = sc->i;
	if (sc->i >= sc->len || sc->s[sc->i] != '@') {
		if (!smtp_addr_at_end(sc)) {
			smtp_addr_error(error_r, "bad character in local part");
			return -1;
		}
		if (!(sc->flags & SMTP_ADDR_ALLOW_NODOMAIN)) {
			smtp_addr_error(error_r, "missing domain");
			return -1;
		}
		return smtp_addr_store(a, sc->s + start, at - start,
		    at - start, sc->flags, error_r);
	}
	dom = ++sc->i;
	if (sc->i < sc->len && sc->s[sc->i] == '[')	/* may hold '>' */
		while (sc->i < sc->len && sc->s[sc->i++] != ']')
			;
	while (!smtp_addr_at_end(sc))
		sc->i++;
	if (sc->i == dom) {
		smtp_addr_error(error_r, "missing domain");
		return -1;
	}
	if (!smtp_addr_domain_valid(sc->s + dom, sc->i - dom,
	    (sc->flags & SMTP_ADDR_ALLOW_UTF8) != 0)) {
		smtp_addr_error(error_r, "bad domain");
		return -1;
	}
	return smtp_addr_store(a, sc->s + start, sc->i - start, at - start,
	    sc->flags, error_r);
}

static int
smtp_addr_path(const char *s, size_t len, unsigned flags,
    struct smtp_addr *a, size_t *consumed, const char **error_r)
{
	struct smtp_addr_scan sc = { s, len, 0, flags, false };

	while (sc.i < len && smtp_addr_is_space(s[sc.i]))
		sc.i++;
	if (sc.i < len && s[sc.i] == '<') {
		sc.bracketed = true;
		sc.i++;
	} else if (!(flags & SMTP_ADDR_ALLOW_BARE) || sc.i == len) {
		smtp_addr_error(error_r, "missing '<'");
		return -1;
	}
	if (sc.bracketed && sc.i < len && s[sc.i] == '>') {
		if (!(flags & SMTP_ADDR_ALLOW_NULL)) {
			smtp_addr_error(error_r, "null path not allowed");
			return -1;
		}
		*consumed = sc.i + 1;
		return 0;
	}
	if (sc.bracketed && sc.i < len && s[sc.i] == '@' &&
	    smtp_addr_route(&sc, error_r) == -1)
		return -1;
	if (smtp_addr_mailbox(&sc, a, error_r) == -1)
		return -1;
	if (sc.bracketed) {
		if (sc.i >= len || s[sc.i] != '>') {
			smtp_addr_error(error_r, "missing '>'");
			return -1;
		}
		sc.i++;
	}
	*consumed = sc.i;
	return 0;
}

int
smtp_addr_parse(const char *s, size_t len, unsigned flags,
    struct smtp_addr *a, size_t *consumed, const char **error_r)
{
	a->addr[0] = '\0';
	a->len = a->at = 0;
	if (smtp_addr_path(s, len, flags, a, consumed, error_r) == 0)
		return 0;
	a->addr[0] = '\0';
	a->len = a->at = 0;
	return -1;
}
