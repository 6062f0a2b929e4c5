/*
 * conf_scalar: the scalar value types of conf_value: yes/no, numbers,
 * times, sizes, rates, and the checks of names, addresses and patterns
 * (spellings in conf_value.c's comment).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf/conf_value.h"
#include "conf/conf_value_private.h"
#include "lib/addr.h"
#include "lib/xmalloc.h"

/* ---- booleans, numbers, times, sizes, rates ---- */

int
conf_parse_bool(const char *s, bool *b)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0)
		*b = true;
	else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0)
		*b = false;
	else
		return -1;
	return 0;
}

static long long
conf_time_unit(char c)
{
	switch (tolower((unsigned char)c)) {
	case 'w':	return 7 * 86400;
	case 'd':	return 86400;
	case 'h':	return 3600;
	case 'm':	return 60;
	case 's':	return 1;
	default:	return 0;
	}
}

int
conf_parse_time(const char *s, long long *secs)
{
	long long total = 0, n, unit;

	if (conf_digits(&s, &n) == -1)
		return -1;
	if (*s == '\0') {
		*secs = n;		/* a bare number: seconds */
		return 0;
	}
	for (;;) {
		if ((unit = conf_time_unit(*s)) == 0)
			return -1;
		s++;
		if (conf_mul_add(&total, n, unit) == -1)
			return -1;
		if (*s == '\0')
			break;
		if (conf_digits(&s, &n) == -1)
			return -1;
	}
	*secs = total;
	return 0;
}

/* A number with an optional b/k/m/g/t suffix at *sp; advances *sp. */
static int
conf_size_prefix(const char **sp, long long *bytes)
{
	static const char units[] = "bkmgt";
	const char *u;
	long long n, mult = 1, total = 0;

	if (conf_digits(sp, &n) == -1)
		return -1;
	if (**sp != '\0' && (u = strchr(units,
	    tolower((unsigned char)**sp))) != NULL) {
		for (ptrdiff_t i = 0; i < u - units; i++)
			mult *= 1024;
		(*sp)++;
	}
	if (conf_mul_add(&total, n, mult) == -1)
		return -1;
	*bytes = total;
	return 0;
}

int
conf_parse_size(const char *s, long long *bytes)
{
	long long b;

	if (conf_size_prefix(&s, &b) == -1 || *s != '\0')
		return -1;
	*bytes = b;
	return 0;
}

/* The denominator of a rate: [M]{d|day|h|hr|hour|m|min|s|sec}. */
static int
conf_parse_per(const char *s, long long *per)
{
	static const struct {
		const char	*name;
		long long	 secs;
	} units[] = {
		{ "d", 86400 }, { "day", 86400 }, { "h", 3600 },
		{ "hr", 3600 }, { "hour", 3600 }, { "m", 60 }, { "min", 60 },
		{ "s", 1 }, { "sec", 1 },
	};
	long long mult = 1, total = 0;

	if (isdigit((unsigned char)*s) &&
	    (conf_digits(&s, &mult) == -1 || mult == 0))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcasecmp(s, units[i].name) == 0) {
			if (conf_mul_add(&total, mult, units[i].secs) == -1)
				return -1;
			*per = total;
			return 0;
		}
	return -1;
}

int
conf_parse_rate(const char *s, struct conf_rate *r)
{
	long long count, per;

	if (conf_digits(&s, &count) == -1 || count == 0 || *s != '/' ||
	    conf_parse_per(s + 1, &per) == -1)
		return -1;
	r->count = count;
	r->per = per;
	return 0;
}

int
conf_parse_data_rate(const char *s, struct conf_rate *r)
{
	long long bytes, per;

	if (conf_size_prefix(&s, &bytes) == -1 || bytes == 0 || *s != '/' ||
	    conf_parse_per(s + 1, &per) == -1)
		return -1;
	r->count = bytes;
	r->per = per;
	return 0;
}

/* "N/d" or "N/day", N >= 0: one day of a warm-up schedule. */
int
conf_parse_daily(const char *s, long long *n)
{
	if (conf_digits(&s, n) == -1 || *s != '/' ||
	    (strcasecmp(s + 1, "d") != 0 && strcasecmp(s + 1, "day") != 0))
		return -1;
	return 0;
}

/* ---- names, addresses, patterns ---- */

/* One label of a DNS name, or with allow_macro a "$name" macro reference. */
static bool
conf_label_valid(const char *l, size_t n, bool allow_macro)
{
	size_t i;

	if (n == 0 || n > 63)
		return false;
	if (allow_macro && l[0] == '$') {
		for (i = 1; i < n; i++)
			if (!isalnum((unsigned char)l[i]) && l[i] != '_')
				return false;
		return n > 1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if (!isalnum(c) && c != '-' && c != '_' && c < 0x80)
			return false;
	}
	return true;
}

/* A DNS name ("mx.example.com", "localhost"; UTF-8 labels allowed). */
bool
conf_name_valid(const char *s, bool allow_macro)
{
	size_t len = strlen(s);

	if (len == 0 || len > CONF_NAME_MAX)
		return false;
	for (;;) {
		const char *dot = strchr(s, '.');
		size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);

		if (!conf_label_valid(s, n, allow_macro))
			return false;
		if (dot == NULL)
			return true;
		s = dot + 1;
	}
}

/* "[ip]", "[ip/len]", "[IPv6:addr]": the brackets' content is a CIDR. */
static bool
conf_literal_valid(const char *s)
{
	char inner[INET6_ADDRSTRLEN + 16];
	struct addr_cidr c;
	const char *err, *close;
	size_t n;

	if (s[0] != '[' || (close = strchr(s, ']')) == NULL || close[1] != '\0')
		return false;
	s++;
	if (strncasecmp(s, "IPv6:", 5) == 0)
		s += 5;
	n = (size_t)(close - s);
	if (n == 0 || n >= sizeof(inner))
		return false;
	memcpy(inner, s, n);
	inner[n] = '\0';
	return addr_cidr_parse(inner, &c, &err) == 0;
}

/* "{sparkpost}", "{bounce}", ...: a reserved name in braces. */
static bool
conf_brace_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 3 || s[0] != '{' || s[len - 1] != '}')
		return false;
	for (size_t i = 1; i < len - 1; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

bool
conf_domain_pattern_valid(const char *s)
{
	if (strcmp(s, "*") == 0)
		return true;
	if (s[0] == '{')
		return conf_brace_valid(s);
	if (strncmp(s, "[*.]", 4) == 0)
		return conf_name_valid(s + 4, true);
	if (s[0] == '[')
		return conf_literal_valid(s);
	if (strncmp(s, "*.", 2) == 0)
		return conf_name_valid(s + 2, true);
	return conf_name_valid(s, true);
}

/* Must contain '@' with something after it; no blanks or controls. */
bool
conf_email_valid(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL || at[1] == '\0' || strlen(s) > 1024)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* A port number 1..65535 and nothing after it. */
int
conf_port(const char *s, int *port)
{
	long long n;

	if (conf_digits(&s, &n) == -1 || *s != '\0' || n < 1 || n > 65535)
		return -1;
	*port = (int)n;
	return 0;
}

/* "/regex/" with optional i, m, s, x flags; compiled to check it. */
int
conf_regex_check(const char *s, const char **error_r)
{
	const char *end = strrchr(s, '/');
	uint32_t opts = 0;
	pcre2_code *re;
	PCRE2_SIZE off;
	int code;

	if (s[0] != '/' || end == s) {
		*error_r = conf_value_err("expected /regex/, not", s);
		return -1;
	}
	for (const char *f = end + 1; *f != '\0'; f++) {
		switch (*f) {
		case 'i':	opts |= PCRE2_CASELESS; break;
		case 'm':	opts |= PCRE2_MULTILINE; break;
		case 's':	opts |= PCRE2_DOTALL; break;
		case 'x':	opts |= PCRE2_EXTENDED; break;
		default:
			*error_r = conf_value_err("unknown regex flag in", s);
			return -1;
		}
	}
	re = pcre2_compile((PCRE2_SPTR)(s + 1), (PCRE2_SIZE)(end - s - 1),
	    opts, &code, &off, NULL);
	if (re == NULL) {
		char msg[128];

		if (pcre2_get_error_message(code, (PCRE2_UCHAR *)msg,
		    sizeof(msg)) < 0)
			(void)snprintf(msg, sizeof(msg), "error %d", code);
		(void)snprintf(conf_value_errbuf, sizeof(conf_value_errbuf),
		    "invalid regular expression: %s at offset %zu", msg,
		    (size_t)off);
		*error_r = conf_value_errbuf;
		return -1;
	}
	pcre2_code_free(re);
	return 0;
}

/* "1.2.3.4" or "2001:db8::1" (a host list's literal, brackets removed). */
bool
conf_ip_valid(const char *s)
{
	unsigned char a[16];

	return inet_pton(strchr(s, ':') != NULL ? AF_INET6 : AF_INET, s, a) == 1;
}
